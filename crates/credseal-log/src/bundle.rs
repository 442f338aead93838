//! The receipt bundle a subject receives, its builder (log side) and its verifier (subject
//! side, needing only the log's public key and the subject's saved state).

use std::fmt;

use credseal_c2sp::{
    Checkpoint, Hash, HashReader, ProofError, SignedNote, TreeError, check_record, check_tree, prove_record,
    prove_tree, tree_hash,
};
use credseal_core::{BlindId, SubjectId};
use credseal_vrf::{VrfError, VrfProof, VrfPublicKey};
use serde::{Deserialize, Serialize};

use crate::checkpoint::MapCheckpoint as _;
use crate::handover::{HistoryError, KeyHistory};
use crate::keys::LogVerifier;
use crate::map::{MapError, MapProof, MapProofError, MapReader, map_key, map_prove, map_root};
use crate::receipt::{ReceiptHeader, SignedReceipt, UnverifiedReceipt};
use crate::state::SavedState;
use crate::text::{from_text, to_text};
use crate::{FormatError, VerifyError};

/// The bundle format version: the first byte of an encoded bundle (5: sealed entries without
/// a leaf hash, which the verifier computes from the header and signature; version 4 shipped
/// that hash and receipts of version 2, versions 2 and 3 had no VRF proof of the subject's
/// blind id: all are refused with [`FormatError::UnsupportedVersion`]).
pub const BUNDLE_VERSION: u8 = 5;
/// Label of the text form `cs1.bundle.<base64url>`.
pub const BUNDLE_TEXT_LABEL: &str = "bundle";
/// Largest encoded bundle accepted, in bytes (64 MiB: well over 100,000 receipts).
pub const MAX_BUNDLE_LEN: usize = 64 << 20;
/// How long after its disclosure date a verifier still accepts an entry as sealed (5
/// minutes): room for clock skew between log and subject and for the bundle's transfer.
/// Builders seal nothing at or after the date.
pub const SEAL_GRACE_SECS: u64 = 300;

/// Everything a subject needs to check its receipts: all of them from counter 1, in counter
/// order, each with its inclusion proof in the checkpoint's tree; the checkpoint; a
/// consistency proof from the tree size the subject saw last; and the proof of the subject's
/// entry in the subject map the checkpoint commits to (version 2); the log key
/// handovers since the original key (version 3); the VRF proof that the subject's blind id
/// is the VRF output of its id (version 4); sealed entries whose leaf hash the verifier
/// computes (version 5).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// The log's origin.
    pub origin: String,
    /// The subject's receipts, counter 1 first.
    pub entries: Vec<BundleEntry>,
    /// The signed checkpoint (a C2SP signed note).
    pub checkpoint: String,
    /// The proof that the checkpoint's tree extends the one of size `from_size`.
    pub consistency: Option<ConsistencyProof>,
    /// The subject's entry (or its absence) in the map whose root the checkpoint's
    /// `credseal-map` line commits to.
    pub map: MapProof,
    /// The log key handovers ([`crate::Handover`] notes), oldest first: the whole history
    /// from the original key, so a verifier that pinned it finds the key of every receipt and
    /// of the checkpoint. Empty while the log key was never rotated.
    pub handovers: Vec<String>,
    /// The RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI proof (80 bytes, Gamma ‖ c ‖ s) under the
    /// platform's VRF key for the subject's normalised id; the subject's blind id is the
    /// first 32 bytes of its output. [`build_bundle`] leaves it empty (the log side knows
    /// only blind ids); the platform adds it with [`Bundle::with_vrf_proof`].
    pub vrf_proof: Vec<u8>,
}

/// One receipt of the subject's chain.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BundleEntry {
    /// A receipt in full.
    Full {
        /// The signed receipt (leaf data).
        receipt: Vec<u8>,
        /// Its inclusion proof in the checkpoint's tree.
        inclusion: Vec<Hash>,
    },
    /// A confidential receipt before its disclosure date: its signed header (log index, time,
    /// subject, chain position, `disclose_after`, content hash) and the header's signature,
    /// but not its content. They are the receipt's Merkle leaf data, so the verifier computes
    /// the leaf hash ([`crate::receipt_leaf_hash`]) itself: a header other than the one in
    /// the log fails its inclusion proof.
    Sealed {
        /// The signed header `0x03 ‖ postcard(ReceiptHeader)`, as in the receipt.
        header: Vec<u8>,
        /// The receipt's signature (64 bytes) over the header.
        signature: Vec<u8>,
        /// Its inclusion proof (of the leaf `header ‖ signature`) in the checkpoint's tree.
        inclusion: Vec<Hash>,
    },
}

/// A consistency proof between two sizes of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree size (the subject's saved one).
    pub from_size: u64,
    /// The RFC 6962 consistency proof from `from_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
}

impl Bundle {
    /// `0x05 ‖ postcard(bundle)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![BUNDLE_VERSION];
        out.extend(crate::codec::encode(self));
        out
    }

    /// Reads [`Bundle::to_bytes`]: at most [`MAX_BUNDLE_LEN`] bytes, version 5, canonical,
    /// nothing after it. The contents are checked by [`verify_bundle`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_BUNDLE_LEN {
            return Err(FormatError::TooLarge {
                what: "bundle",
                len: bytes.len(),
                max: MAX_BUNDLE_LEN,
            });
        }
        match bytes.first() {
            None => Err(FormatError::Truncated { what: "bundle" }),
            Some(&BUNDLE_VERSION) => crate::codec::decode_canonical(&bytes[1..], "bundle"),
            // Versions 2 and 3 carry no VRF proof: nothing in them ties the receipts to the
            // subject's id.
            Some(&found @ (2 | 3)) => Err(FormatError::UnsupportedVersion {
                what: "bundle (it predates VRF blind ids: export a new bundle)",
                found,
            }),
            // Version 4 carries receipts of version 2 and sealed entries with a leaf hash
            // that nothing bound to their header.
            Some(&found @ 4) => Err(FormatError::UnsupportedVersion {
                what: "bundle (its receipts are of format version 2, no longer read: export a new bundle)",
                found,
            }),
            Some(&found) => Err(FormatError::UnsupportedVersion { what: "bundle", found }),
        }
    }

    /// The bundle with the log's key history (the handover notes, oldest first):
    /// [`build_bundle`] leaves it empty, the log adds its own.
    pub fn with_handovers(mut self, handovers: Vec<String>) -> Self {
        self.handovers = handovers;
        self
    }

    /// The bundle with the VRF proof of the subject's blind id: [`build_bundle`] leaves it
    /// empty, the platform adds the one it keeps for the subject.
    pub fn with_vrf_proof(mut self, proof: &VrfProof) -> Self {
        self.vrf_proof = proof.as_bytes().to_vec();
        self
    }

    /// The text form `cs1.bundle.<base64url>`.
    pub fn to_text(&self) -> String {
        to_text(BUNDLE_TEXT_LABEL, &self.to_bytes())
    }

    /// Parses the text form (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, FormatError> {
        Self::from_bytes(&from_text(
            text.trim(),
            BUNDLE_TEXT_LABEL,
            "cs1.bundle.",
            "bundle",
            MAX_BUNDLE_LEN,
        )?)
    }
}

impl fmt::Debug for Bundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bundle")
            .field("origin", &self.origin)
            .field("entries", &self.entries)
            .field("consistency", &self.consistency)
            .field("map_depth", &self.map.siblings.len())
            .field("handovers", &self.handovers.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for BundleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleEntry::Full { receipt, inclusion } => f
                .debug_struct("Full")
                .field("receipt_len", &receipt.len())
                .field("inclusion_len", &inclusion.len())
                .finish(),
            BundleEntry::Sealed { header, inclusion, .. } => f
                .debug_struct("Sealed")
                .field("header_len", &header.len())
                .field("inclusion_len", &inclusion.len())
                .finish_non_exhaustive(),
        }
    }
}

/// Why the log side could not build a bundle (a bug or inconsistency in the log, never the
/// subject's doing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError<E> {
    /// The checkpoint note or body is malformed.
    #[error("the checkpoint is malformed: {0}")]
    Checkpoint(FormatError),
    /// The checkpoint's root is not the root the hash reader gives for its size.
    #[error("the checkpoint's root is not the log's root at size {size}")]
    CheckpointMismatch {
        /// The checkpoint's size.
        size: u64,
    },
    /// A receipt (1-based position) is malformed.
    #[error("receipt {position} is malformed: {error}")]
    Receipt {
        /// Position in the list given (1-based).
        position: usize,
        /// Why.
        error: FormatError,
    },
    /// A receipt (1-based position) is not chained or not at its counter's position.
    #[error("receipt {position} does not carry chain counter {position}")]
    NotAChain {
        /// Position in the list given (1-based).
        position: usize,
    },
    /// A receipt's index is at or past the checkpoint's size.
    #[error("receipt {position} has index {index}, beyond the checkpoint's size {size}")]
    ReceiptBeyondCheckpoint {
        /// Position in the list given (1-based).
        position: usize,
        /// Its leaf index.
        index: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The consistency proof was asked from a size larger than the checkpoint's.
    #[error("consistency asked from size {from}, larger than the checkpoint's size {size}")]
    FromSizeAfterCheckpoint {
        /// The size asked.
        from: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// Reading the log's stored hashes failed.
    #[error(transparent)]
    Tree(#[from] TreeError<E>),
    /// The checkpoint commits to no subject map (no `credseal-map` line).
    #[error("the checkpoint commits to no subject map")]
    NoMapRoot,
    /// The map given is not the one the checkpoint commits to.
    #[error("the subject map is not the one the checkpoint commits to")]
    MapMismatch,
    /// The map's entry for the subject does not end at the last receipt given.
    #[error("the subject map's entry does not match the receipts given")]
    MapEntryMismatch,
    /// Reading the subject map failed.
    #[error("the subject map: {0}")]
    Map(MapError<E>),
}

/// Builds a subject's bundle on the log side.
///
/// `receipts` are the subject's signed receipts in counter order from counter 1: **all** of
/// them whose index is below the checkpoint's size (the verifier treats a receipt withheld
/// from an earlier bundle as misbehaviour). `checkpoint` is the signed checkpoint note the
/// proofs are made for; its root is checked against `reader`, its `credseal-map` root against
/// `map`, which gives the proof of `subject`'s entry — that entry must end at the last receipt
/// given (its count, index and leaf hash), or be absent when none is. `from_size` is the tree size
/// the subject saw last (`BundleRequest::last_tree_size`); 0 or `None` means none. Receipts
/// whose `disclose_after` is later than `now` are sealed.
pub fn build_bundle<R, M, B>(
    reader: &R,
    map: &M,
    subject: &BlindId,
    receipts: &[B],
    checkpoint: &str,
    from_size: Option<u64>,
    now: u64,
) -> Result<Bundle, BuildError<R::Error>>
where
    R: HashReader + ?Sized,
    M: MapReader + ?Sized,
    R::Error: From<M::Error>,
    B: AsRef<[u8]>,
{
    let map_err = |e: MapError<M::Error>| {
        BuildError::Map(match e {
            MapError::Read(e) => MapError::Read(e.into()),
            MapError::Corrupt { depth } => MapError::Corrupt { depth },
            _ => MapError::DuplicateKey,
        })
    };
    let note = SignedNote::parse(checkpoint).map_err(|e| BuildError::Checkpoint(e.into()))?;
    let cp = Checkpoint::parse(note.text()).map_err(|e| BuildError::Checkpoint(e.into()))?;
    let size = cp.size();
    if tree_hash(size, reader)? != *cp.root() {
        return Err(BuildError::CheckpointMismatch { size });
    }
    let committed = cp
        .map_root()
        .map_err(|e| BuildError::Checkpoint(e.into()))?
        .ok_or(BuildError::NoMapRoot)?;
    if map_root(map).map_err(map_err)? != committed {
        return Err(BuildError::MapMismatch);
    }
    let key = map_key(subject);
    let map_proof = map_prove(map, &key).map_err(map_err)?;
    let mut entries = Vec::with_capacity(receipts.len());
    for (i, bytes) in receipts.iter().enumerate() {
        let position = i + 1;
        let bad = |error| BuildError::Receipt { position, error };
        let r = UnverifiedReceipt::parse(bytes.as_ref()).map_err(bad)?;
        let body = r.peek_unverified().map_err(bad)?;
        if !matches!(body.chain, Some(c) if c.counter == position as u64) {
            return Err(BuildError::NotAChain { position });
        }
        if body.index >= size {
            return Err(BuildError::ReceiptBeyondCheckpoint {
                position,
                index: body.index,
                size,
            });
        }
        let inclusion = prove_record(size, body.index, reader)?;
        entries.push(match body.disclose_after {
            Some(sealed_until) if now < sealed_until => BundleEntry::Sealed {
                header: r.header_bytes().to_vec(),
                signature: r.signature().to_vec(),
                inclusion,
            },
            _ => BundleEntry::Full {
                receipt: r.as_bytes().to_vec(),
                inclusion,
            },
        });
    }
    let consistency = match from_size {
        None | Some(0) => None,
        Some(from) if from > size => return Err(BuildError::FromSizeAfterCheckpoint { from, size }),
        Some(from) => Some(ConsistencyProof {
            from_size: from,
            proof: prove_tree(size, from, reader)?,
        }),
    };
    // The map's entry must end exactly at the last receipt given (the caller gave them all).
    let entry = map_proof
        .verify(&committed, &key)
        .map_err(|_| BuildError::MapMismatch)?;
    let last = receipts.len() as u64;
    let matches = match (entry, entries.last()) {
        (None, None) => true,
        (Some(v), Some(e)) => {
            let (index, leaf) = match e {
                BundleEntry::Full { receipt, .. } => {
                    let r = UnverifiedReceipt::parse(receipt).map_err(|error| BuildError::Receipt {
                        position: receipts.len(),
                        error,
                    })?;
                    let index = r
                        .peek_unverified()
                        .map_err(|error| BuildError::Receipt {
                            position: receipts.len(),
                            error,
                        })?
                        .index;
                    (index, r.leaf_hash())
                }
                BundleEntry::Sealed { header, signature, .. } => {
                    let h = ReceiptHeader::decode(header).map_err(|error| BuildError::Receipt {
                        position: receipts.len(),
                        error,
                    })?;
                    (h.index, crate::receipt_leaf_hash(header, signature))
                }
            };
            v.count == last && v.index == index && v.head == leaf
        }
        _ => false,
    };
    if !matches {
        return Err(BuildError::MapEntryMismatch);
    }
    Ok(Bundle {
        origin: cp.origin().to_string(),
        entries,
        checkpoint: checkpoint.to_string(),
        consistency,
        map: map_proof,
        handovers: Vec::new(),
        vrf_proof: Vec::new(),
    })
}

/// One entry of a verified bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptView {
    /// A receipt shown in full, its signature and inclusion verified (boxed: a receipt is
    /// much larger than a sealed entry).
    Full(Box<SignedReceipt>),
    /// A confidential receipt, sealed until a date: its inclusion is verified, its content
    /// is not shown. The next receipt of the chain (if any) is bound to its leaf hash.
    Sealed {
        /// Its counter in the subject's chain.
        counter: u64,
        /// Its leaf index.
        index: u64,
        /// Its leaf hash.
        leaf_hash: Hash,
        /// It is shown in full from this Unix time on.
        sealed_until: u64,
    },
}

impl ReceiptView {
    /// Its counter in the subject's chain.
    pub fn counter(&self) -> u64 {
        match self {
            ReceiptView::Full(r) => r.body().chain.map_or(0, |c| c.counter),
            ReceiptView::Sealed { counter, .. } => *counter,
        }
    }

    /// Its leaf index in the log.
    pub fn index(&self) -> u64 {
        match self {
            ReceiptView::Full(r) => r.body().index,
            ReceiptView::Sealed { index, .. } => *index,
        }
    }

    /// Its leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        match self {
            ReceiptView::Full(r) => r.leaf_hash(),
            ReceiptView::Sealed { leaf_hash, .. } => *leaf_hash,
        }
    }
}

/// A bundle that verified: the subject's receipts, the checkpoint, and the state to save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    receipts: Vec<ReceiptView>,
    checkpoint: Checkpoint,
    history: KeyHistory,
    new_state: SavedState,
    seen_before: u64,
}

impl VerifiedBundle {
    /// Every receipt of the subject, counter 1 first.
    pub fn receipts(&self) -> &[ReceiptView] {
        &self.receipts
    }

    /// The receipts the saved state had not seen yet.
    pub fn new_receipts(&self) -> &[ReceiptView] {
        &self.receipts[self.seen_before as usize..]
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The log's key history, walked from the pinned key.
    pub fn key_history(&self) -> &KeyHistory {
        &self.history
    }

    /// The state to save for the next verification.
    pub fn new_state(&self) -> &SavedState {
        &self.new_state
    }

    /// The state to save, by value.
    pub fn into_new_state(self) -> SavedState {
        self.new_state
    }
}

/// Why a bundle failed verification. Counters are the subject's receipt counters (1-based);
/// for the checks each entry passes on its own (signature, subject, inclusion, sealing) the
/// counter is the entry's position in the bundle, which is the counter it must carry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bundle is not a well-formed bundle (truncated, trailing bytes, non-canonical,
    /// another version).
    #[error("the bundle is malformed: {0}")]
    Malformed(FormatError),
    /// The saved state is corrupt; it was not used.
    #[error("the saved state is corrupt: {0}")]
    SavedStateCorrupt(FormatError),
    /// The bundle carries no VRF proof of the subject's blind id: nothing in it can be tied
    /// to the subject's id, so nothing in it is accepted.
    #[error(
        "the bundle carries no VRF proof of the subject's blind id, so nothing in it can be checked as this subject's"
    )]
    VrfProofMissing,
    /// The bundle's VRF proof is malformed or does not verify for the subject's id under
    /// the platform's VRF key: the bundle is about another subject (or another platform's
    /// key was given).
    #[error(
        "the bundle's VRF proof does not verify for this subject's id under the given VRF key ({0}): the bundle is not this subject's"
    )]
    VrfProofInvalid(VrfError),
    /// The saved state is for another log (origin or key).
    #[error("the saved state is for another log")]
    SavedStateForOtherLog,
    /// The bundle or its checkpoint is for another log origin.
    #[error("the bundle is for log {found:?}, expected {expected:?}")]
    CheckpointOrigin {
        /// The verifier's origin.
        expected: String,
        /// The origin found.
        found: String,
    },
    /// The checkpoint is not a well-formed signed note or checkpoint body.
    #[error("the checkpoint is malformed: {0}")]
    CheckpointMalformed(FormatError),
    /// The checkpoint carries no signature by the log key (another key signed it).
    #[error("the checkpoint is not signed by the log key")]
    CheckpointNotSigned,
    /// A checkpoint signature line naming the log key does not verify (forged or altered).
    #[error("the checkpoint's signature does not verify")]
    CheckpointBadSignature,
    /// The checkpoint is signed by a log key that was retired before its tree size: at tree
    /// size `end` a handover made another key the signer.
    #[error(
        "the checkpoint of tree size {size} is signed by log key {key_id:08x}, which was retired at tree size {end}"
    )]
    CheckpointSignedByRetiredKey {
        /// The checkpoint's tree size.
        size: u64,
        /// The signing key's id.
        key_id: u32,
        /// The tree size at which it was retired.
        end: u64,
    },
    /// The checkpoint is signed only by a log key that took over after its tree size.
    #[error(
        "the checkpoint of tree size {size} is signed by log key {key_id:08x}, which took over at tree size {start} and signs only checkpoints of larger trees"
    )]
    CheckpointKeyNotYetValid {
        /// The checkpoint's tree size.
        size: u64,
        /// The signing key's id.
        key_id: u32,
        /// The tree size from which it signs.
        start: u64,
    },
    /// The log key history in the bundle does not walk from the pinned key: a handover not
    /// signed by the key in force (or by its new key), a broken or reordered chain, a
    /// malformed handover.
    #[error("the log key history is refused: {0}")]
    KeyHistory(HistoryError),
    /// A handover takes effect beyond the checkpoint's tree size.
    #[error("log key handover {position} takes effect at tree size {from}, beyond the checkpoint's size {size}")]
    HandoverAfterCheckpoint {
        /// The handover (1-based).
        position: usize,
        /// Its tree size.
        from: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The bundle's key history has fewer handovers than the one verified before: the log
    /// hides a rotation it showed earlier.
    #[error("the bundle shows {got} log key handover(s), {saved} were verified before")]
    KeyHistoryShorter {
        /// Handovers accepted before.
        saved: u64,
        /// Handovers in the bundle.
        got: u64,
    },
    /// After the handovers verified before, the bundle's history reaches another key than the
    /// one accepted then: the key history was rewritten.
    #[error("the log key after handover {handovers} is not the one verified before: the key history was rewritten")]
    KeyHistoryDiffers {
        /// Handovers accepted before.
        handovers: u64,
    },
    /// The checkpoint is older (smaller) than the one verified before.
    #[error("the checkpoint has size {got}, older than the size {saved} verified before")]
    CheckpointOlder {
        /// The saved tree size.
        saved: u64,
        /// The checkpoint's size.
        got: u64,
    },
    /// The log forked: the tree verified before is not a prefix of the checkpoint's tree
    /// (same size with another root, or a consistency proof that fails).
    #[error("the log forked: the tree of size {saved} seen before is not a prefix of the tree of size {got}")]
    Fork {
        /// The saved tree size.
        saved: u64,
        /// The checkpoint's size.
        got: u64,
    },
    /// The consistency proof is missing or starts from another size than the saved one.
    #[error(
        "{}, the saved size is {saved}",
        match found {
            Some(n) => format!("the consistency proof starts from size {n}"),
            None => "the bundle has no consistency proof".to_string(),
        }
    )]
    ConsistencyFromWrongSize {
        /// The saved tree size.
        saved: u64,
        /// The size the proof starts from (`None`: no proof).
        found: Option<u64>,
    },
    /// A proof has another number of hashes than a proof for the checkpoint's tree size has:
    /// it was made for another tree size (or truncated or padded).
    #[error(
        "{} has {found} hashes where the checkpoint's tree size needs {expected}",
        proof_name(*.counter)
    )]
    ProofWrongSize {
        /// The receipt whose inclusion proof it is (`None`: the consistency proof).
        counter: Option<u64>,
        /// Hashes needed.
        expected: usize,
        /// Hashes found.
        found: usize,
    },
    /// A receipt is not well-formed.
    #[error("receipt {counter} is malformed: {error}")]
    ReceiptMalformed {
        /// The receipt's place in the chain.
        counter: u64,
        /// Why.
        error: FormatError,
    },
    /// A receipt is signed by a log key that was retired before its log index.
    #[error(
        "receipt {counter} (log index {index}) is signed by log key {key_id:08x}, which was retired at tree size {end}"
    )]
    ReceiptSignedByRetiredKey {
        /// The receipt's place in the chain.
        counter: u64,
        /// Its log index.
        index: u64,
        /// The signing key's id.
        key_id: u32,
        /// The tree size at which it was retired.
        end: u64,
    },
    /// A receipt is signed by a log key that took over only after its log index (a newer key
    /// cannot sign earlier history).
    #[error(
        "receipt {counter} (log index {index}) is signed by log key {key_id:08x}, which took over at tree size {start} and signs only receipts from index {start} on"
    )]
    ReceiptKeyNotYetValid {
        /// The receipt's place in the chain.
        counter: u64,
        /// Its log index.
        index: u64,
        /// The signing key's id.
        key_id: u32,
        /// The tree size from which it signs.
        start: u64,
    },
    /// A receipt's signature does not verify under the log key (altered or forged).
    #[error("receipt {counter} is not signed by the log key")]
    ReceiptBadSignature {
        /// The receipt's place in the chain.
        counter: u64,
    },
    /// A receipt is about another subject.
    #[error("receipt {counter} is about another subject")]
    ReceiptForOtherSubject {
        /// The receipt's place in the chain.
        counter: u64,
    },
    /// A receipt about the subject carries no chain position.
    #[error("receipt {counter} carries no chain counter")]
    ReceiptNotChained {
        /// The receipt's place in the chain.
        counter: u64,
    },
    /// A receipt is not in the checkpoint's tree at its index.
    #[error("receipt {counter} is not included in the log at its index")]
    ReceiptNotIncluded {
        /// The receipt's place in the chain.
        counter: u64,
    },
    /// A sealed entry is past its disclosure date (plus [`SEAL_GRACE_SECS`]) and must be
    /// shown in full.
    #[error("receipt {counter} is still sealed although its disclosure date {sealed_until} has passed")]
    SealedEntryOverdue {
        /// The receipt's place in the chain.
        counter: u64,
        /// The date it should have been disclosed (Unix seconds).
        sealed_until: u64,
    },
    /// A sealed entry's signed header carries no disclosure date: the receipt is not a
    /// delayed one, so it must be shown in full.
    #[error(
        "receipt {counter} is shown sealed, but its signed header has no disclosure date: it must be shown in full"
    )]
    SealedWithoutDelay {
        /// The receipt's place in the chain.
        counter: u64,
    },
    /// A receipt the saved state saw in full is shown sealed again.
    #[error("receipt {counter} was verified in full before and is now shown sealed again")]
    ResealedAfterSeenInFull {
        /// The receipt's counter.
        counter: u64,
    },
    /// A receipt is missing: the entry where counter `expected` belongs carries `found`, and
    /// `expected` appears nowhere later.
    #[error("receipt {expected} is missing (found {found} in its place)")]
    ChainGap {
        /// The missing counter.
        expected: u64,
        /// The counter found in its place.
        found: u64,
    },
    /// Two entries carry the same counter.
    #[error("receipt {counter} appears twice")]
    ChainDuplicate {
        /// The repeated counter.
        counter: u64,
    },
    /// The receipts are out of order: the entry where counter `expected` belongs carries
    /// `found`, and `expected` comes later.
    #[error("receipts out of order: {found} where {expected} belongs")]
    ChainReordered {
        /// The counter that belongs here.
        expected: u64,
        /// The counter found here.
        found: u64,
    },
    /// Receipt `counter` does not chain to the receipt before it (its previous-receipt hash
    /// differs): one of the two was altered or replaced.
    #[error("receipt {counter} does not chain to receipt {}", counter.saturating_sub(1))]
    ChainBroken {
        /// The receipt whose link fails.
        counter: u64,
    },
    /// Receipt `counter` has a log index not above its predecessor's.
    #[error("receipt {counter} precedes receipt {} in the log", counter.saturating_sub(1))]
    OutOfLogOrder {
        /// The receipt out of log order.
        counter: u64,
    },
    /// Receipt `counter` is dated before its predecessor.
    #[error("receipt {counter} is dated before its predecessor")]
    BackDated {
        /// The back-dated receipt.
        counter: u64,
    },
    /// The bundle has fewer receipts than were verified before: the newest were withheld.
    #[error("the bundle has {got} receipts, {saved} were verified before")]
    TruncatedHistory {
        /// The saved counter.
        saved: u64,
        /// The receipts in the bundle.
        got: u64,
    },
    /// The receipt at the saved counter is not the one verified before: the history was
    /// rewritten.
    #[error("receipt {counter} is not the one verified before")]
    HeadMismatch {
        /// The saved counter.
        counter: u64,
    },
    /// The checkpoint has no `credseal-map` line: it commits to no subject map, so the bundle
    /// cannot show that it is complete.
    #[error("the checkpoint commits to no subject map, so the bundle's completeness cannot be checked")]
    MapRootMissing,
    /// The map proof ends at another subject's entry: it is not a proof about this subject.
    #[error("the subject-map proof is about another subject")]
    MapProofForOtherSubject,
    /// The map proof shows an entry for the subject but does not hash to the checkpoint's
    /// map root.
    #[error("the subject-map proof does not verify against the checkpoint's map root")]
    MapProofInvalid,
    /// The map proof claims the subject has no entry (no receipts) but does not hash to the
    /// checkpoint's map root: a forged proof of absence, as when a whole chain is withheld.
    #[error(
        "the bundle claims the subject has no receipts in the log, but its proof of absence does not verify against the checkpoint's map root"
    )]
    MapAbsenceNotProven,
    /// The checkpoint's map proves the subject has no entry, yet the bundle shows receipts:
    /// the log contradicts itself (an auditor's `log verify` finds which side is wrong).
    #[error("the checkpoint's map says the subject has no receipts, yet the bundle shows {got}")]
    MapSaysNoReceipts {
        /// The receipts in the bundle.
        got: u64,
    },
    /// The checkpoint commits to more receipts for the subject than the bundle shows: the
    /// newest `committed - got` receipts (all of them when `got` is 0) were withheld.
    #[error(
        "the checkpoint commits to {committed} receipt(s) for this subject but the bundle shows {got}: {} withheld",
        withheld_range(*got, *committed)
    )]
    ReceiptsWithheld {
        /// The receipt count the checkpoint commits to.
        committed: u64,
        /// The receipts in the bundle.
        got: u64,
    },
    /// The bundle shows more receipts than the checkpoint commits to.
    #[error("the bundle shows {got} receipts but the checkpoint commits to only {committed}")]
    MapCountBelowChain {
        /// The receipt count the checkpoint commits to.
        committed: u64,
        /// The receipts in the bundle.
        got: u64,
    },
    /// The bundle's last receipt is not the newest receipt the checkpoint commits to (another
    /// leaf hash or log index at the same count).
    #[error("receipt {counter} is not the newest receipt the checkpoint commits to")]
    MapHeadMismatch {
        /// The bundle's last counter.
        counter: u64,
    },
    /// A receipt already in the log at the last verification was not in that bundle: the
    /// earlier bundle withheld it.
    #[error(
        "receipt {counter} (log index {index}) was in the log of size {saved_size} verified before but was withheld then"
    )]
    WithheldEarlier {
        /// The withheld receipt.
        counter: u64,
        /// Its leaf index.
        index: u64,
        /// The saved tree size.
        saved_size: u64,
    },
}

/// `"receipt 5"`, `"receipts 3 to 5"`, or `"all of them"` (none shown).
fn withheld_range(got: u64, committed: u64) -> String {
    match (got, committed.saturating_sub(got)) {
        (0, _) => "all of them".into(),
        (_, 1) => format!("receipt {committed}"),
        _ => format!("receipts {} to {committed}", got + 1),
    }
}

/// What pass 1 learns about each entry, for the chain checks of pass 2.
struct Link {
    counter: u64,
    leaf: Hash,
    /// The previous hash the entry's signed header names.
    prev: Option<Option<Hash>>,
    index: u64,
    /// The time the entry's signed header names.
    time: Option<u64>,
}

/// Which proof a [`BundleError::ProofWrongSize`] is about, in words.
fn proof_name(counter: Option<u64>) -> String {
    match counter {
        Some(c) => format!("the inclusion proof of receipt {c}"),
        None => "the consistency proof".into(),
    }
}

fn check_inclusion(p: &[Hash], cp: &Checkpoint, index: u64, leaf: &Hash, counter: u64) -> Result<(), BundleError> {
    match check_record(p, cp.size(), cp.root(), index, leaf) {
        Ok(()) => Ok(()),
        Err(ProofError::WrongLength { expected, found }) => Err(BundleError::ProofWrongSize {
            counter: Some(counter),
            expected,
            found,
        }),
        Err(_) => Err(BundleError::ReceiptNotIncluded { counter }),
    }
}

/// Who a bundle must be about: the subject's id and the platform's VRF public key, from
/// which [`verify_bundle`] derives the subject's blind id itself (through the bundle's VRF
/// proof). Nothing the bundle says about whose it is is taken on trust.
#[derive(Clone, Debug)]
pub struct BundleSubject {
    id: SubjectId,
    vrf_key: VrfPublicKey,
}

impl BundleSubject {
    /// The subject `id` of the platform whose VRF public key is `vrf_key`.
    pub fn new(id: SubjectId, vrf_key: VrfPublicKey) -> Self {
        Self { id, vrf_key }
    }

    /// The subject's id.
    pub fn id(&self) -> &SubjectId {
        &self.id
    }

    /// The blind id `proof` (the 80 bytes of a bundle's `vrf_proof`) proves for this
    /// subject: the first 32 bytes of the VRF output, after `ECVRF_verify` with the
    /// subject's normalised id as input.
    ///
    /// # Errors
    /// [`BundleError::VrfProofMissing`] for an empty proof, [`BundleError::VrfProofInvalid`]
    /// for one that does not decode or verify.
    pub fn blind_id(&self, proof: &[u8]) -> Result<BlindId, BundleError> {
        if proof.is_empty() {
            return Err(BundleError::VrfProofMissing);
        }
        let proof = VrfProof::from_bytes(proof).map_err(BundleError::VrfProofInvalid)?;
        let beta = self
            .vrf_key
            .verify(self.id.as_str().as_bytes(), &proof)
            .map_err(BundleError::VrfProofInvalid)?;
        Ok(BlindId(beta.blind_id_bytes()))
    }
}

/// Verifies a subject's bundle with nothing but the log's verifier, the subject's id and
/// the platform's VRF public key ([`BundleSubject`]), its saved state (`None` the first
/// time) and the current time; returns the receipts and the state to save. On any error
/// nothing is returned: the caller keeps its old state.
///
/// The subject's blind id (the receipts' subject and its key in the subject map) is derived
/// here from the bundle's VRF proof for the subject's id; a bundle without a proof that
/// verifies is refused before anything else is looked at.
///
/// `verifier` is the pinned key: the log's original key. The bundle's handovers are walked
/// from it ([`KeyHistory`]); each receipt must be signed by the key valid for its log index
/// and the checkpoint by the key valid for its tree size.
///
/// The checks, in this order (the first failure is reported):
/// 0. the VRF proof verifies for the subject's id under the VRF key; the blind id is its
///    output's first 32 bytes;
/// 1. the saved state is for this log; the bundle's origin is this log's; the key history
///    walks from the pinned key (every handover signed by the key in force and its new key,
///    in order) and, against the saved state, holds at least the handovers accepted before
///    and reaches the same key after them;
/// 2. the checkpoint: signed by the key valid for its size, well-formed, this log's origin;
///    no handover takes effect beyond it;
/// 3. against the saved state: not smaller; same size ⇒ same root; larger ⇒ a consistency
///    proof from exactly the saved size that verifies (else [`BundleError::Fork`]);
/// 4. each entry on its own, in order: a full receipt's signature (by the key valid for its
///    index), subject, chain position
///    and inclusion at its index; a sealed entry's signed header (signature by the key valid
///    for its index, subject, chain position, a disclosure date — which the header's own
///    rules cap at [`crate::MAX_DISCLOSE_DELAY_SECS`] after its time, else
///    [`BundleError::ReceiptMalformed`] — not passed by more than [`SEAL_GRACE_SECS`]) and the inclusion of its leaf hash at the header's index;
/// 5. the chain: counters 1, 2, 3, … (a gap, a duplicate or a reordering is named), each
///    entry's previous hash is the leaf hash of the entry before it, log indexes
///    increase, times do not decrease;
/// 6. completeness against the subject map the checkpoint commits to (its `credseal-map`
///    line): the map proof verifies for the subject's key; with receipts, the entry's count
///    is the last counter and its head and index are the last entry's (a withheld newest
///    receipt or tail is [`BundleError::ReceiptsWithheld`]); without receipts, the proof
///    shows the subject absent (a withheld whole chain with a forged proof of absence is
///    [`BundleError::MapAbsenceNotProven`]);
/// 7. against the saved state: at least as many receipts, the same receipt at the saved
///    counter, no receipt sealed that the saved state saw in full, and no receipt beyond the
///    saved counter that was already in the saved tree.
pub fn verify_bundle(
    bundle: &Bundle,
    verifier: &LogVerifier,
    who: &BundleSubject,
    state: Option<&SavedState>,
    now: u64,
) -> Result<VerifiedBundle, BundleError> {
    // 0. Whose bundle: the blind id is derived, never read from the bundle.
    let subject = &who.blind_id(&bundle.vrf_proof)?;

    // 1. Which log.
    if let Some(s) = state
        && (s.origin != verifier.origin() || s.vkey != verifier.vkey())
    {
        return Err(BundleError::SavedStateForOtherLog);
    }
    if bundle.origin != verifier.origin() {
        return Err(BundleError::CheckpointOrigin {
            expected: verifier.origin().to_string(),
            found: bundle.origin.clone(),
        });
    }

    // The log key history, from the pinned key; against the one verified before.
    let history = KeyHistory::from_handovers(verifier, &bundle.handovers).map_err(BundleError::KeyHistory)?;
    let handovers = history.handovers().len() as u64;
    if let Some(s) = state {
        if handovers < s.handovers {
            return Err(BundleError::KeyHistoryShorter {
                saved: s.handovers,
                got: handovers,
            });
        }
        if history.ranges()[s.handovers as usize].key.vkey() != s.key {
            return Err(BundleError::KeyHistoryDiffers { handovers: s.handovers });
        }
    }

    // 2. The checkpoint.
    let cp = history.verify_checkpoint(&bundle.checkpoint).map_err(|e| match e {
        VerifyError::Format(f) => BundleError::CheckpointMalformed(f),
        VerifyError::NotSignedByLogKey => BundleError::CheckpointNotSigned,
        VerifyError::OriginMismatch { expected, found } => BundleError::CheckpointOrigin { expected, found },
        VerifyError::RetiredKey { key_id, end, at } => {
            BundleError::CheckpointSignedByRetiredKey { size: at, key_id, end }
        }
        VerifyError::KeyNotYetValid { key_id, start, at } => BundleError::CheckpointKeyNotYetValid {
            size: at,
            key_id,
            start,
        },
        _ => BundleError::CheckpointBadSignature,
    })?;
    let size = cp.size();
    if let Some((i, h)) = history
        .handovers()
        .iter()
        .enumerate()
        .find(|(_, h)| h.from_size() > size)
    {
        return Err(BundleError::HandoverAfterCheckpoint {
            position: i + 1,
            from: h.from_size(),
            size,
        });
    }
    let committed_map = cp
        .map_root()
        .map_err(|e| BundleError::CheckpointMalformed(e.into()))?
        .ok_or(BundleError::MapRootMissing)?;

    // 3. Consistency with what the subject saw before.
    if let Some(s) = state {
        if size < s.tree_size {
            return Err(BundleError::CheckpointOlder {
                saved: s.tree_size,
                got: size,
            });
        }
        if s.tree_size > 0 {
            let fork = BundleError::Fork {
                saved: s.tree_size,
                got: size,
            };
            match &bundle.consistency {
                None if size == s.tree_size => {
                    if *cp.root() != s.root {
                        return Err(fork);
                    }
                }
                Some(c) if c.from_size == s.tree_size => {
                    match check_tree(&c.proof, size, cp.root(), s.tree_size, &s.root) {
                        Ok(()) => {}
                        Err(ProofError::WrongLength { expected, found }) => {
                            return Err(BundleError::ProofWrongSize {
                                counter: None,
                                expected,
                                found,
                            });
                        }
                        Err(_) => return Err(fork),
                    }
                }
                other => {
                    return Err(BundleError::ConsistencyFromWrongSize {
                        saved: s.tree_size,
                        found: other.as_ref().map(|c| c.from_size),
                    });
                }
            }
        }
    }

    // 4. Each entry on its own.
    let mut links = Vec::with_capacity(bundle.entries.len());
    let mut receipts = Vec::with_capacity(bundle.entries.len());
    for (i, entry) in bundle.entries.iter().enumerate() {
        let pos = i as u64 + 1;
        match entry {
            BundleEntry::Full { receipt, inclusion } => {
                let r = history.verify_receipt(receipt).map_err(|e| match e {
                    VerifyError::Format(error) => BundleError::ReceiptMalformed { counter: pos, error },
                    VerifyError::RetiredKey { key_id, end, at } => BundleError::ReceiptSignedByRetiredKey {
                        counter: pos,
                        index: at,
                        key_id,
                        end,
                    },
                    VerifyError::KeyNotYetValid { key_id, start, at } => BundleError::ReceiptKeyNotYetValid {
                        counter: pos,
                        index: at,
                        key_id,
                        start,
                    },
                    _ => BundleError::ReceiptBadSignature { counter: pos },
                })?;
                let body = r.body();
                if body.subject.as_ref() != Some(subject) {
                    return Err(BundleError::ReceiptForOtherSubject { counter: pos });
                }
                let chain = body.chain.ok_or(BundleError::ReceiptNotChained { counter: pos })?;
                check_inclusion(inclusion, &cp, body.index, &r.leaf_hash(), pos)?;
                links.push(Link {
                    counter: chain.counter,
                    leaf: r.leaf_hash(),
                    prev: Some(chain.prev),
                    index: body.index,
                    time: Some(body.time),
                });
                receipts.push(ReceiptView::Full(Box::new(r)));
            }
            BundleEntry::Sealed {
                header,
                signature,
                inclusion,
            } => {
                let h = history.verify_header(header, signature).map_err(|e| match e {
                    VerifyError::Format(error) => BundleError::ReceiptMalformed { counter: pos, error },
                    VerifyError::RetiredKey { key_id, end, at } => BundleError::ReceiptSignedByRetiredKey {
                        counter: pos,
                        index: at,
                        key_id,
                        end,
                    },
                    VerifyError::KeyNotYetValid { key_id, start, at } => BundleError::ReceiptKeyNotYetValid {
                        counter: pos,
                        index: at,
                        key_id,
                        start,
                    },
                    _ => BundleError::ReceiptBadSignature { counter: pos },
                })?;
                if h.subject.as_ref() != Some(subject) {
                    return Err(BundleError::ReceiptForOtherSubject { counter: pos });
                }
                let chain = h.chain.ok_or(BundleError::ReceiptNotChained { counter: pos })?;
                let sealed_until = h
                    .disclose_after
                    .ok_or(BundleError::SealedWithoutDelay { counter: pos })?;
                if now >= sealed_until.saturating_add(SEAL_GRACE_SECS) {
                    return Err(BundleError::SealedEntryOverdue {
                        counter: pos,
                        sealed_until,
                    });
                }
                // The leaf hash comes from the header and signature just verified, never from
                // the bundle: a second header signed for this index is another leaf, and its
                // inclusion proof fails.
                let leaf_hash = crate::receipt_leaf_hash(header, signature);
                check_inclusion(inclusion, &cp, h.index, &leaf_hash, pos)?;
                links.push(Link {
                    counter: chain.counter,
                    leaf: leaf_hash,
                    prev: Some(chain.prev),
                    index: h.index,
                    time: Some(h.time),
                });
                receipts.push(ReceiptView::Sealed {
                    counter: chain.counter,
                    index: h.index,
                    leaf_hash,
                    sealed_until,
                });
            }
        }
    }

    // 5. The chain.
    let mut last_time = None;
    for (i, l) in links.iter().enumerate() {
        let expected = i as u64 + 1;
        if l.counter != expected {
            if l.counter < expected {
                return Err(BundleError::ChainDuplicate { counter: l.counter });
            }
            if links[i + 1..].iter().any(|x| x.counter == expected) {
                return Err(BundleError::ChainReordered {
                    expected,
                    found: l.counter,
                });
            }
            return Err(BundleError::ChainGap {
                expected,
                found: l.counter,
            });
        }
        if let Some(prev) = l.prev {
            let want = i.checked_sub(1).map(|j| links[j].leaf);
            if prev != want {
                return Err(BundleError::ChainBroken { counter: expected });
            }
        }
        if i > 0 && l.index <= links[i - 1].index {
            return Err(BundleError::OutOfLogOrder { counter: expected });
        }
        if let Some(t) = l.time {
            if last_time.is_some_and(|last| t < last) {
                return Err(BundleError::BackDated { counter: expected });
            }
            last_time = Some(t);
        }
    }

    // 6. Completeness: the chain ends where the checkpoint's subject map says it does.
    let got = links.len() as u64;
    let entry = bundle
        .map
        .verify(&committed_map, &map_key(subject))
        .map_err(|e| match e {
            MapProofError::OtherKey => BundleError::MapProofForOtherSubject,
            MapProofError::RootMismatch { claims_present: false } => BundleError::MapAbsenceNotProven,
            _ => BundleError::MapProofInvalid,
        })?;
    match (entry, links.last()) {
        (None, None) => {}
        (None, Some(_)) => return Err(BundleError::MapSaysNoReceipts { got }),
        (Some(v), _) if v.count > got => {
            return Err(BundleError::ReceiptsWithheld {
                committed: v.count,
                got,
            });
        }
        (Some(v), _) if v.count < got => {
            return Err(BundleError::MapCountBelowChain {
                committed: v.count,
                got,
            });
        }
        (Some(v), Some(last)) => {
            if v.head != last.leaf || v.index != last.index {
                return Err(BundleError::MapHeadMismatch { counter: got });
            }
        }
        // count == got == 0: a map entry never has count 0.
        (Some(_), None) => return Err(BundleError::MapProofInvalid),
    }

    // 7. Against the saved chain.
    let mut seen_before = 0;
    if let Some(s) = state {
        if got < s.counter {
            return Err(BundleError::TruncatedHistory { saved: s.counter, got });
        }
        if let Some(head) = s.head
            && links[s.counter as usize - 1].leaf != head
        {
            return Err(BundleError::HeadMismatch { counter: s.counter });
        }
        // A receipt seen in full before is never sealed again (a relay re-sealing it).
        if let Some(r) = receipts[..s.counter as usize]
            .iter()
            .find(|r| matches!(r, ReceiptView::Sealed { .. }) && !s.was_sealed(r.counter()))
        {
            return Err(BundleError::ResealedAfterSeenInFull { counter: r.counter() });
        }
        if let Some(l) = links[s.counter as usize..].iter().find(|l| l.index < s.tree_size) {
            return Err(BundleError::WithheldEarlier {
                counter: l.counter,
                index: l.index,
                saved_size: s.tree_size,
            });
        }
        seen_before = s.counter;
    }

    let new_state = SavedState {
        origin: verifier.origin().to_string(),
        vkey: verifier.vkey(),
        tree_size: size,
        root: *cp.root(),
        counter: got,
        head: links.last().map(|l| l.leaf),
        key: history.current().vkey(),
        handovers,
        sealed: receipts
            .iter()
            .filter(|r| matches!(r, ReceiptView::Sealed { .. }))
            .map(ReceiptView::counter)
            .collect(),
    };
    Ok(VerifiedBundle {
        receipts,
        checkpoint: cp,
        history,
        new_state,
        seen_before,
    })
}

/// [`verify_bundle`] from encoded inputs: the saved state is read first (a corrupt one is
/// [`BundleError::SavedStateCorrupt`]), then the bundle ([`BundleError::Malformed`]).
pub fn verify_bundle_bytes(
    bundle: &[u8],
    verifier: &LogVerifier,
    subject: &BundleSubject,
    state: Option<&[u8]>,
    now: u64,
) -> Result<VerifiedBundle, BundleError> {
    let state = state
        .map(SavedState::from_bytes)
        .transpose()
        .map_err(BundleError::SavedStateCorrupt)?;
    let bundle = Bundle::from_bytes(bundle).map_err(BundleError::Malformed)?;
    verify_bundle(&bundle, verifier, subject, state.as_ref(), now)
}
