//! The credseal transparency log (DESIGN §7), pure: signed receipts, the subject map, the
//! log key history, the subject's saved state, and the receipt bundle a subject verifies
//! with nothing but the log's public key. No storage, no filesystem. The generic parts — the
//! RFC 6962 Merkle tree and its proofs, C2SP signed notes and checkpoints — are
//! `credseal_c2sp`'s; this crate adds what is credseal's own (receipts, the `credseal-map`
//! checkpoint line, bundles, handovers).
//!
//! On the log side start with [`LogSigner`]: [`LogSigner::sign_receipt`] makes the leaf
//! data, `credseal_c2sp::stored_hashes` the hashes to store (or `credseal_c2sp::MemoryLog`),
//! `credseal_c2sp::tree_hash` the root, [`map_update`] (or [`MemoryMap`]) the subject map
//! whose root the checkpoint commits to ([`MapCheckpoint::with_map_root`]),
//! [`LogSigner::sign_checkpoint`] the checkpoint, [`build_bundle`] a subject's bundle,
//! [`Handover::sign`] a log key rotation (the bundle carries it: [`Bundle::with_handovers`]).
//! On the subject side start with [`LogVerifier::from_vkey`] (the pinned original key) and
//! [`verify_bundle`], which walks the [`KeyHistory`].
//!
//! ```
//! use credseal_auth::SigningKey;
//! use credseal_c2sp::MemoryLog;
//! use credseal_core::BlindId;
//! use credseal_log::*;
//!
//! let signer = LogSigner::new("credseal.example/log", &SigningKey::generate())?;
//! let subject = BlindId([7; 32]);
//! let mut log = MemoryLog::new();
//! let mut map = MemoryMap::new(); // every subject's receipt count and newest receipt
//! let mut chain = Vec::new(); // the subject's receipts, counter order
//! let mut prev = None;
//! for (counter, purpose) in (1..).zip(["loan-approval", "post-loan-management"]) {
//!     let receipt = signer.sign_receipt(&ReceiptBody {
//!         index: log.size(),
//!         time: 1_750_000_000 + counter,
//!         actor: Actor::Department { id: "bank-a".into(), credential_serial: 1 },
//!         action: Action::Query,
//!         detail: String::new(),
//!         subject: Some(subject),
//!         classes: ["identity".to_string()].into(),
//!         purpose: purpose.into(),
//!         token_hash: Some([1; 32]),
//!         outcome: Outcome::Granted,
//!         release_digest: Some([2; 32]),
//!         salt: random_salt(),
//!         chain: Some(Chain { counter, prev }),
//!         disclose_after: None,
//!         flags: 0,
//!     })?;
//!     log.append(receipt.as_bytes());
//!     map.set(&subject, MapValue { count: counter, head: receipt.leaf_hash(), index: receipt.body().index });
//!     prev = Some(receipt.leaf_hash());
//!     chain.push(receipt.into_bytes());
//! }
//! let checkpoint = signer.sign_checkpoint(
//!     &Checkpoint::new(signer.origin(), log.size(), log.root())?.with_map_root(&map.root())?,
//! );
//! let bundle = build_bundle(&log, &map, &subject, &chain, &checkpoint, None, 1_750_000_100)?;
//!
//! // The subject, knowing only the verifier key text:
//! let verifier = LogVerifier::from_vkey(&signer.vkey())?;
//! let verified = verify_bundle(&Bundle::from_text(&bundle.to_text())?, &verifier, &subject, None, 1_750_000_100)?;
//! assert_eq!(verified.receipts().len(), 2);
//! let saved = verified.new_state().to_bytes(); // keep for the next bundle
//! # let _ = saved;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Formats
//!
//! The key words MUST, MUST NOT, SHOULD are to be read as in RFC 2119. `‖` is concatenation;
//! `base64` is RFC 4648 §4 standard base64 with padding, `base64url` is §5 without padding;
//! integers inside postcard are varints; all times are Unix seconds.
//!
//! ## Receipts
//!
//! ```text
//! receipt  = body ‖ signature (64 bytes, Ed25519 by the log key)
//! body     = 0x01 (version) ‖ postcard(ReceiptBody)
//! signed   = "credseal:v1:receipt" ‖ 0x00 ‖ body
//! leaf     = receipt                      (the log's record data)
//! leaf hash = SHA-256(0x00 ‖ receipt)
//! ```
//! `ReceiptBody` fields, in encoding order (postcard: enums are a varint variant index then
//! the fields, options a `0x00`/`0x01` tag, strings and sequences a varint length):
//!
//! | field | type | content |
//! |---|---|---|
//! | `index` | u64 | the receipt's own leaf index |
//! | `time` | u64 | Unix seconds |
//! | `actor` | enum | 0 `Department{id string, credential_serial u64}`, 1 `Subject`, 2 `Officer{id}`, 3 `Responder{id}`, 4 `Platform` |
//! | `action` | enum | 0 `Query`, 1 `SelfQuery`, 2 `Ingest`, 3 `Correction`, 4 `KeyEvent`, 5 `Shred`, 6 `Trace`, 7 `Admin` |
//! | `detail` | string | free text about the action, never credit data |
//! | `subject` | option of 32 bytes | the subject's BlindId |
//! | `classes` | sequence of strings | field classes, sorted, no repeats |
//! | `purpose` | string | purpose code (empty if none) |
//! | `token_hash` | option of 32 bytes | SHA-256 of the query token's wire bytes |
//! | `outcome` | enum | 0 `Granted`, 1 `Denied{code string}`, 2 `Done` |
//! | `release_digest` | option of 32 bytes | HMAC-SHA-256 (trace key) of what was released |
//! | `salt` | 16 bytes | fresh random bytes |
//! | `chain` | option of {`counter` u64, `prev` option of 32 bytes} | the subject's chain position |
//! | `disclose_after` | option of u64 | sealed in bundles until this time |
//! | `flags` | u32 | bit 0: canary subject touched; other bits reserved, zero |
//!
//! Rules: a receipt about a subject MUST carry `subject` and `chain`; `chain.counter` is 1
//! for the subject's first receipt and increases by one with each further receipt about
//! it; `chain.prev` MUST be absent for counter 1 and MUST be the leaf hash of the subject's
//! previous receipt otherwise. A log MUST append a subject's receipts in counter order and
//! MUST NOT date a receipt before the subject's previous one (it takes
//! `max(clock, previous time)`). Receipts name subjects by BlindId only, never by raw id,
//! and carry no credit data; the salt MUST be fresh random bytes, so that a leaf hash
//! cannot be confirmed by guessing the receipt. Verifiers MUST check the signature
//! (Ed25519 `verify_strict`) over the bytes as received before decoding the body, and MUST
//! reject a body that is not in its canonical encoding (re-encoding differs), has trailing
//! bytes, another version, or breaks the chain rules above. Receipts are at most 64 KiB.
//!
//! The signature's domain (`"credseal:v1:" ‖ label ‖ 0x00`) is that of the authority
//! objects (docs/formats.md §8) with the label `receipt`, which no other object uses. The
//! same log key signs checkpoints without a prefix (C2SP requires it): no receipt message
//! is a note text, because note texts cannot contain the byte 0x00.
//!
//! ## Merkle tree
//!
//! (Implemented by `credseal_c2sp`.) RFC 6962 §2.1 / RFC 9162 §2.1: leaf hash `SHA-256(0x00 ‖ leaf)`, node hash
//! `SHA-256(0x01 ‖ left ‖ right)`, the root of `n` leaves splits at the largest power of two
//! below `n`; the empty tree's root is `SHA-256("")`. Inclusion proofs (audit paths) and
//! consistency proofs are those of RFC 6962 §2.1.1–2.1.2, listed from the leaf (or the old
//! subtree) upwards; they verify with Go's `tlog.CheckRecord` / `tlog.CheckTree`. The log
//! stores hashes at the positions of Go's `tlog.StoredHashIndex` (Crosby–Wallach §3.3).
//!
//! ## Checkpoints
//!
//! (The note and checkpoint syntax is implemented by `credseal_c2sp`; the `credseal-map` line
//! and the key name rule are credseal's.) C2SP `tlog-checkpoint` in a C2SP `signed-note` with an Ed25519 key (type 0x01), as Go's
//! `golang.org/x/mod/sumdb/note` writes them:
//! ```text
//! body      = origin "\n" tree-size "\n" base64(root) "\n" *(extension-line "\n")
//! note      = body "\n" 1*("— " key-name " " base64(key-id ‖ signature) "\n")
//! key-id    = SHA-256(key-name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4], big-endian
//! signature = Ed25519(log key, body)
//! vkey      = key-name "+" hex8(key-id) "+" base64(0x01 ‖ public key)
//! skey      = "PRIVATE+KEY+" key-name "+" hex8(key-id) "+" base64(0x01 ‖ seed)
//! ```
//! The dash is U+2014. credseal's key name is the log's origin, which MUST therefore be a
//! valid key name (non-empty, no Unicode whitespace, no `+`, no control characters). The
//! tree size is decimal without leading zeros (`0` for the empty tree) and at most 2⁶²;
//! the root is exactly 44 characters. Extension lines are non-empty; credseal checkpoints
//! carry exactly one, `credseal-map <base64(subject-map root)>` ([`MAP_EXTENSION`]), which
//! [`verify_bundle`] requires.
//! Verifiers MUST reject notes over 128 KiB, with ASCII control characters other than
//! newline, with more than 100 signatures, with non-canonical base64, and bodies with empty
//! lines, fewer than three lines or a malformed size or root. A note MUST carry a signature
//! line with the log's key name and key id; every such line MUST verify (Ed25519
//! `verify_strict` over the body bytes); lines of other keys are ignored (witness
//! cosignatures, key rotation).
//!
//! ## Log key rotation
//!
//! A handover ([`Handover`]) is a signed note `"credseal log key handover\n" origin "\n"
//! from-size "\n" old-vkey "\n" new-vkey "\n"` signed by both keys. The [`KeyHistory`] walks
//! the handovers from the original key: key *j* signs the receipts with index in
//! `[Nⱼ, Nⱼ₊₁)` and the checkpoints of sizes in `(Nⱼ, Nⱼ₊₁]` (a checkpoint is signed by the
//! key of its last leaf). Anything signed by another key of the history is refused
//! ([`VerifyError::RetiredKey`], [`VerifyError::KeyNotYetValid`]). docs/formats.md §10 "Log
//! key history" is normative.
//!
//! ## Bundles
//!
//! ```text
//! bundle = 0x03 (version) ‖ postcard{ origin string,
//!                                     entries seq<entry>,
//!                                     checkpoint string (the signed note),
//!                                     consistency option<{ from_size u64, proof seq<32 bytes> }>,
//!                                     map MapProof (the subject's entry in the checkpoint's map),
//!                                     handovers seq<string> (the log key history, oldest first) }
//! entry  = 0 Full   { receipt bytes, inclusion seq<32 bytes> }
//!        | 1 Sealed { index u64, leaf_hash 32 bytes, counter u64, sealed_until u64,
//!                     inclusion seq<32 bytes> }
//! text   = "cs1.bundle." ‖ base64url(bundle)
//! ```
//! A bundle MUST hold **all** of the subject's receipts whose index is below the
//! checkpoint's size, from counter 1, in counter order, each with its inclusion proof in
//! the checkpoint's tree. (Sending the whole chain each time lets the verifier re-check it
//! from the start and needs nothing from the subject but the tree size it saw last, which
//! `BundleRequest` carries; a later version may add incremental bundles.) A receipt whose
//! `disclose_after` lies in the future is sent as `Sealed` (leaf hash, index, counter and
//! date only); at or after that date it MUST be sent in full. Verifiers accept a sealed
//! entry until 300 seconds after its date (clock skew, transfer) and MUST reject it later.
//! When the subject saw a tree of size `m > 0` before, `consistency` MUST prove that the
//! checkpoint's tree extends it (`from_size = m`; the proof is empty, and the field MAY be
//! omitted, when the sizes are equal). Without a saved state the field is ignored. Bundles
//! are at most 64 MiB; version 2 (without `handovers`) is still read.
//!
//! A verifier MUST reject the bundle, and MUST NOT advance its saved state, when any check
//! of [`verify_bundle`] fails: the key history does not walk from the pinned key, or hides
//! or rewrites a rotation the saved state saw; the checkpoint is not signed by the key
//! valid for its size or names another origin; it is older than the saved one; it is inconsistent with the saved one (a fork);
//! a receipt's signature, subject or inclusion fails; a sealed entry is past its date;
//! counters are not exactly 1, 2, 3, … (gap, duplicate, reordering); a receipt's `prev` is
//! not the previous entry's leaf hash; log indexes do not increase; times decrease; fewer
//! receipts than the saved counter; another receipt at the saved counter; a receipt beyond
//! the saved counter whose index is below the saved tree size (withheld from the earlier
//! bundle).
//!
//! The subject map ([`MapProof`], module `map`; docs/formats.md §10 "Subject map") makes a
//! bundle complete: its chain must end at the count, head and index the checkpoint commits
//! to, or the map must prove the subject absent. What a subject cannot see on its own: a
//! receipt the log never chained to it, and a map that under-counts it (signed by a
//! dishonest log key holder); auditors replaying the log close both. Split views need
//! witnesses. A sealed entry's date is the log's claim until the entry is disclosed.
//!
//! ## Saved state
//!
//! ```text
//! state    = 0x02 ‖ postcard{ origin, vkey, tree_size u64, root 32 bytes, counter u64,
//!                             head option<32 bytes>, key string, handovers u64 } ‖ checksum (32)
//! checksum = SHA-256("credseal:v1:log-state" ‖ 0x00 ‖ 0x02 ‖ postcard{…})
//! text     = "cs1.log-state." ‖ base64url(state)
//! ```
//! `vkey` is the pinned key, `key` the latest log key accepted after `handovers` handovers;
//! version 1 (without them) is still read. Readers MUST reject a checksum mismatch, another
//! version, a non-canonical encoding, trailing bytes, a vkey or key that does not parse or
//! names another origin, `key = vkey` exactly when `handovers > 0` (or the reverse), an
//! empty tree whose root is not `SHA-256("")`, a head absent when the counter is above 0 or
//! present when it is 0, and a counter above the tree size. The checksum detects
//! corruption, not tampering.

#![deny(missing_docs)]

mod bundle;
mod checkpoint;
mod codec;
mod error;
mod handover;
mod keys;
mod map;
mod receipt;
mod state;
mod text;

pub use bundle::{
    BUNDLE_TEXT_LABEL, BUNDLE_VERSION, BuildError, Bundle, BundleEntry, BundleError, ConsistencyProof, MAX_BUNDLE_LEN,
    ReceiptView, SEAL_GRACE_SECS, VerifiedBundle, build_bundle, verify_bundle, verify_bundle_bytes,
};
pub use checkpoint::{MAP_EXTENSION, MapCheckpoint};
/// The checkpoint and hash types of this crate's signatures (`LogSigner::sign_checkpoint`,
/// `LogVerifier::verify_checkpoint`, receipts' leaf hashes), owned by `credseal_c2sp`: the
/// rest of the Merkle tree and the signed-note code is imported from there.
pub use credseal_c2sp::{Checkpoint, Hash};
pub use error::{FormatError, VerifyError};
pub use handover::{HANDOVER_TITLE, Handover, HandoverError, HistoryError, KeyHistory, KeyRange, MAX_HANDOVERS};
pub use keys::{LogSigner, LogVerifier};
pub use map::{
    EMPTY_MAP_ROOT, MAP_DEPTH, MAP_KEY_LABEL, MAP_LEAF_PREFIX, MAP_NODE_PREFIX, MAP_VALUE_LEN, MapError, MapLeaf,
    MapNode, MapPos, MapProof, MapProofError, MapReader, MapUpdate, MapValue, MemoryMap, map_get, map_key,
    map_leaf_hash, map_node_hash, map_prove, map_root, map_update,
};
pub use receipt::{
    Action, Actor, Chain, FLAG_CANARY, MAX_RECEIPT_LEN, Outcome, RECEIPT_LABEL, RECEIPT_VERSION, ReceiptBody,
    SIGNATURE_LEN, SignedReceipt, UnverifiedReceipt, random_salt, receipt_signed_bytes,
};
pub use state::{MAX_STATE_LEN, STATE_CHECKSUM_LABEL, STATE_TEXT_LABEL, STATE_VERSION, SavedState};
