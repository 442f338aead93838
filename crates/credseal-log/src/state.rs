//! The subject's saved state: what it verified last, so that the next bundle can be checked
//! against it.
//!
//! ```text
//! state    = 0x03 ‖ postcard(origin, vkey, tree_size, root, counter, head, key, handovers,
//!                           sealed) ‖ checksum (32)
//! checksum = SHA-256("credseal:v1:log-state" ‖ 0x00 ‖ 0x03 ‖ postcard(…))
//! text     = "cs1.log-state." ‖ base64url-no-pad(state)
//! ```
//! `sealed` lists, in increasing order, the counters (at most `counter`) that were shown
//! sealed at the last verification: every other counter up to `counter` was seen in full, and
//! a later bundle that shows one of those sealed is refused. Versions 2 (no `sealed`) and 1
//! (no `key`, `handovers` either) are still read, as states that saw every receipt in full
//! (they come from logs of receipt version 1, which no longer verify anyway).

use serde::{Deserialize, Serialize};

use crate::FormatError;
use crate::keys::LogVerifier;
use credseal_c2sp::{EMPTY_ROOT, Hash, MAX_TREE_SIZE};

use crate::codec::sha256;
use crate::text::{from_text, to_text};

/// The saved-state format version (3: with the counters seen sealed; 2 and 1 are still read).
pub const STATE_VERSION: u8 = 3;
/// Domain of the saved-state checksum.
pub const STATE_CHECKSUM_LABEL: &[u8] = b"credseal:v1:log-state";
/// Label of the text form `cs1.log-state.<base64url>`.
pub const STATE_TEXT_LABEL: &str = "log-state";
/// Largest saved state accepted, in bytes (room for tens of thousands of sealed counters).
pub const MAX_STATE_LEN: usize = 256 * 1024;

/// What a subject saw when it last verified a bundle: the log (origin and the pinned verifier
/// key), the checkpoint (tree size and root), its own chain (counter and head leaf hash), and
/// the log key history (the latest key accepted and how many handovers led to it).
///
/// Only [`crate::verify_bundle`] makes one; [`SavedState::from_bytes`] reads one back and
/// rejects any that is corrupt. The checksum detects accidental corruption (a bad disk, a
/// truncated copy); it is not a MAC: whoever can write the subject's files can also write a
/// state with a valid checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedState {
    pub(crate) origin: String,
    pub(crate) vkey: String,
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
    pub(crate) counter: u64,
    pub(crate) head: Option<Hash>,
    /// The verifier key of the latest log key accepted (the pinned one until a rotation).
    pub(crate) key: String,
    /// How many handovers led from the pinned key to `key`.
    pub(crate) handovers: u64,
    /// The counters shown sealed at the last verification, increasing, each at most
    /// `counter`; every other counter up to `counter` was seen in full.
    pub(crate) sealed: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct Repr {
    origin: String,
    vkey: String,
    tree_size: u64,
    root: Hash,
    counter: u64,
    head: Option<Hash>,
    key: String,
    handovers: u64,
    sealed: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
struct ReprV2 {
    origin: String,
    vkey: String,
    tree_size: u64,
    root: Hash,
    counter: u64,
    head: Option<Hash>,
    key: String,
    handovers: u64,
}

#[derive(Serialize, Deserialize)]
struct ReprV1 {
    origin: String,
    vkey: String,
    tree_size: u64,
    root: Hash,
    counter: u64,
    head: Option<Hash>,
}

fn checksum(content: &[u8]) -> Hash {
    let mut m = Vec::with_capacity(STATE_CHECKSUM_LABEL.len() + 1 + content.len());
    m.extend_from_slice(STATE_CHECKSUM_LABEL);
    m.push(0);
    m.extend_from_slice(content);
    sha256(&m)
}

impl SavedState {
    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The pinned verifier key text (the log's original key).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The verifier key text of the latest log key accepted (the pinned key until the log
    /// rotated its key).
    pub fn log_key(&self) -> &str {
        &self.key
    }

    /// How many log key handovers were accepted.
    pub fn handovers(&self) -> u64 {
        self.handovers
    }

    /// The size of the last verified checkpoint.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The root of the last verified checkpoint.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// How many receipts of the subject's chain were verified (its last counter).
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The leaf hash of the receipt at [`SavedState::counter`] (`None` when it is 0).
    pub fn head(&self) -> Option<&Hash> {
        self.head.as_ref()
    }

    /// The counters (up to [`SavedState::counter`]) that were shown sealed at the last
    /// verification, increasing; every other one was seen in full.
    pub fn sealed(&self) -> &[u64] {
        &self.sealed
    }

    /// Whether receipt `counter` was shown sealed at the last verification (rather than in
    /// full).
    pub(crate) fn was_sealed(&self, counter: u64) -> bool {
        self.sealed.binary_search(&counter).is_ok()
    }

    /// The encoding documented in the module.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![STATE_VERSION];
        out.extend(crate::codec::encode(&Repr {
            origin: self.origin.clone(),
            vkey: self.vkey.clone(),
            tree_size: self.tree_size,
            root: self.root,
            counter: self.counter,
            head: self.head,
            key: self.key.clone(),
            handovers: self.handovers,
            sealed: self.sealed.clone(),
        }));
        let sum = checksum(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// The text form `cs1.log-state.<base64url>`.
    pub fn to_text(&self) -> String {
        to_text(STATE_TEXT_LABEL, &self.to_bytes())
    }

    /// Reads a saved state. Rejected: over [`MAX_STATE_LEN`] bytes; shorter than a version
    /// byte and a checksum; a checksum mismatch (checked first, so any flipped bit is
    /// reported as [`FormatError::Checksum`]); a version other than 1, 2 or 3; a non-canonical
    /// encoding or trailing bytes; and fields that contradict each other: a verifier key
    /// (pinned or latest) that does not parse or names another origin, a latest key other
    /// than the pinned one exactly when no handover was accepted, more handovers than
    /// [`crate::MAX_HANDOVERS`], a size over the maximum, an empty tree with a root other
    /// than [`EMPTY_ROOT`], a head present when the counter is 0 or absent when it is not, a
    /// counter above the tree size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(FormatError::TooLarge {
                what: "saved state",
                len: bytes.len(),
                max: MAX_STATE_LEN,
            });
        }
        if bytes.len() < 1 + 32 {
            return Err(FormatError::Truncated { what: "saved state" });
        }
        let (content, sum) = bytes.split_at(bytes.len() - 32);
        if checksum(content) != sum {
            return Err(FormatError::Checksum);
        }
        let r: Repr = match content[0] {
            STATE_VERSION => crate::codec::decode_canonical(&content[1..], "saved state")?,
            2 => {
                let r: ReprV2 = crate::codec::decode_canonical(&content[1..], "saved state")?;
                Repr {
                    origin: r.origin,
                    vkey: r.vkey,
                    tree_size: r.tree_size,
                    root: r.root,
                    counter: r.counter,
                    head: r.head,
                    key: r.key,
                    handovers: r.handovers,
                    sealed: Vec::new(),
                }
            }
            1 => {
                let r: ReprV1 = crate::codec::decode_canonical(&content[1..], "saved state")?;
                Repr {
                    key: r.vkey.clone(),
                    handovers: 0,
                    origin: r.origin,
                    vkey: r.vkey,
                    tree_size: r.tree_size,
                    root: r.root,
                    counter: r.counter,
                    head: r.head,
                    sealed: Vec::new(),
                }
            }
            found => {
                return Err(FormatError::UnsupportedVersion {
                    what: "saved state",
                    found,
                });
            }
        };
        let bad = |reason| FormatError::State { reason };
        let v = LogVerifier::from_vkey(&r.vkey).map_err(|_| bad("the verifier key does not parse"))?;
        if v.origin() != r.origin || v.vkey() != r.vkey {
            return Err(bad("the verifier key names another origin"));
        }
        let k = LogVerifier::from_vkey(&r.key).map_err(|_| bad("the latest log key does not parse"))?;
        if k.origin() != r.origin || k.vkey() != r.key {
            return Err(bad("the latest log key names another origin"));
        }
        if (r.handovers == 0) != (r.key == r.vkey) {
            return Err(bad(
                "the latest log key is the pinned key exactly when no handover was accepted",
            ));
        }
        if r.handovers > crate::MAX_HANDOVERS as u64 {
            return Err(bad("more handovers than a key history may hold"));
        }
        if r.tree_size > MAX_TREE_SIZE {
            return Err(bad("tree size over the maximum"));
        }
        if r.tree_size == 0 && r.root != EMPTY_ROOT {
            return Err(bad("an empty tree with a root other than the empty root"));
        }
        if (r.counter == 0) != r.head.is_none() {
            return Err(bad("a head is present exactly when the counter is above 0"));
        }
        if r.counter > r.tree_size {
            return Err(bad("more receipts than the tree has leaves"));
        }
        if r.sealed.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("the sealed counters are not strictly increasing"));
        }
        if r.sealed.first() == Some(&0) || r.sealed.last().is_some_and(|&c| c > r.counter) {
            return Err(bad("a sealed counter outside 1 to the saved counter"));
        }
        Ok(Self {
            origin: r.origin,
            vkey: r.vkey,
            tree_size: r.tree_size,
            root: r.root,
            counter: r.counter,
            head: r.head,
            key: r.key,
            handovers: r.handovers,
            sealed: r.sealed,
        })
    }

    /// Parses the text form `cs1.log-state.<base64url>` (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, FormatError> {
        Self::from_bytes(&from_text(
            text.trim(),
            STATE_TEXT_LABEL,
            "cs1.log-state.",
            "saved state",
            MAX_STATE_LEN,
        )?)
    }
}
