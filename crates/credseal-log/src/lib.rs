//! The credseal transparency log (docs/design.md §7), pure: signed receipts, the subject map, the
//! log key history, the subject's saved state, and the receipt bundle a subject verifies
//! with nothing but the log's public key. No storage, no filesystem. The generic parts — the
//! RFC 6962 Merkle tree and its proofs, C2SP signed notes and checkpoints — are
//! `credseal_c2sp`'s; this crate adds what is credseal's own (receipts, the `credseal-map`
//! checkpoint line, bundles, handovers).
//!
//! On the log side start with [`LogSigner`]: [`LogSigner::sign_receipt`] makes the receipt
//! (its leaf data is [`SignedReceipt::leaf_data`], header and signature, whose hash is
//! [`SignedReceipt::leaf_hash`]), `credseal_c2sp::stored_hashes` the hashes to store (or `credseal_c2sp::MemoryLog`),
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
//! use credseal_core::{BlindId, SubjectId};
//! use credseal_log::*;
//! use credseal_vrf::{VrfPublicKey, VrfSecretKey};
//!
//! let signer = LogSigner::new("credseal.example/log", &SigningKey::generate())?;
//! // The subject's blind id is the VRF output of its id under the platform's VRF key.
//! let vrf = VrfSecretKey::from_seed([9; 32]);
//! let id = SubjectId::parse("11010519491231002X")?;
//! let proof = vrf.prove(id.as_str().as_bytes())?;
//! let subject = BlindId(proof.proof_to_hash().blind_id_bytes());
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
//!     log.append(&receipt.leaf_data());
//!     map.set(&subject, MapValue { count: counter, head: receipt.leaf_hash(), index: receipt.body().index });
//!     prev = Some(receipt.leaf_hash());
//!     chain.push(receipt.into_bytes());
//! }
//! let checkpoint = signer.sign_checkpoint(
//!     &Checkpoint::new(signer.origin(), log.size(), log.root())?.with_map_root(&map.root())?,
//! );
//! let bundle = build_bundle(&log, &map, &subject, &chain, &checkpoint, None, 1_750_000_100)?
//!     .with_vrf_proof(&proof);
//!
//! // The subject, knowing only its id, the verifier key text and the VRF public key:
//! let verifier = LogVerifier::from_vkey(&signer.vkey())?;
//! let who = BundleSubject::new(id, VrfPublicKey::from_bytes(vrf.public_key().as_bytes())?);
//! let verified = verify_bundle(&Bundle::from_text(&bundle.to_text())?, &verifier, &who, None, 1_750_000_100)?;
//! assert_eq!(verified.receipts().len(), 2);
//! let saved = verified.new_state().to_bytes(); // keep for the next bundle
//! # let _ = saved;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Formats
//!
//! The byte layouts of receipts, the Merkle tree, checkpoints, the log key history, the
//! subject map, bundles and the saved state are specified once, normatively, in the
//! repository's `docs/formats.md` §10 (with the store's layout of the log beside them);
//! this crate implements them and its tests pin them.

#![deny(missing_docs)]

mod answer;
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

pub use answer::{
    ANSWER_DIGEST_LABEL, AnswerError, AnswerRequest, Requester, answer_digest, check_answer_plaintext,
    verify_answer_receipt,
};
pub use bundle::{
    BUNDLE_TEXT_LABEL, BUNDLE_VERSION, BuildError, Bundle, BundleEntry, BundleError, BundleSubject, ConsistencyProof,
    MAX_BUNDLE_LEN, ReceiptView, SEAL_GRACE_SECS, VerifiedBundle, build_bundle, verify_bundle, verify_bundle_bytes,
};
pub use checkpoint::{MAP_EXTENSION, MapCheckpoint, TRUST_EXTENSION, TrustCheckpoint};
/// The checkpoint and hash types of this crate's signatures (`LogSigner::sign_checkpoint`,
/// `LogVerifier::verify_checkpoint`, receipts' leaf hashes), owned by `credseal_c2sp`: the
/// rest of the Merkle tree and the signed-note code is imported from there.
pub use credseal_c2sp::{Checkpoint, Hash};
pub use error::{FormatError, VerifyError};
pub use handover::{HANDOVER_TITLE, Handover, HandoverError, HistoryError, KeyHistory, KeyRange, MAX_HANDOVERS};
pub use keys::{ExternalLogKey, LogSigner, LogVerifier};
pub use map::{
    EMPTY_MAP_ROOT, MAP_DEPTH, MAP_KEY_LABEL, MAP_LEAF_PREFIX, MAP_NODE_PREFIX, MAP_VALUE_LEN, MapError, MapLeaf,
    MapNode, MapPos, MapProof, MapProofError, MapReader, MapUpdate, MapValue, MemoryMap, map_get, map_key,
    map_leaf_hash, map_node_hash, map_prove, map_root, map_update,
};
pub use receipt::{
    Action, Actor, Chain, FLAG_CANARY, MAX_DISCLOSE_DELAY_SECS, MAX_RECEIPT_LEN, Outcome, RECEIPT_CONTENT_LABEL,
    RECEIPT_LABEL, RECEIPT_VERSION, ReceiptBody, ReceiptHeader, SIGNATURE_LEN, SignedReceipt, UnverifiedReceipt,
    content_hash, random_salt, receipt_leaf_hash, receipt_signed_bytes,
};
pub use state::{MAX_STATE_LEN, STATE_CHECKSUM_LABEL, STATE_TEXT_LABEL, STATE_VERSION, SavedState};
