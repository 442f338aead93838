//! Errors of the pure log code: [`FormatError`] for bytes and text that are not well-formed,
//! [`VerifyError`] for receipts and checkpoints that do not verify. The Merkle tree has its own
//! `credseal_c2sp::ProofError` and `credseal_c2sp::TreeError`, the bundle verifier its [`crate::BundleError`]
//! and the bundle builder its [`crate::BuildError`]: each names what its caller can act on.

/// Why bytes or text are not a well-formed receipt, checkpoint, signed note, key, bundle or
/// saved state. Never carries the contents; offsets are byte offsets, lines are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The log key held in a token failed to sign (what failed; never key bytes).
    #[error("the log key's token failed to sign: {0}")]
    Signer(String),
    /// The input is longer than its limit.
    #[error("{what} of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// What was being read.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input ends before the structure is complete.
    #[error("truncated {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The input does not decode as the expected structure.
    #[error("invalid {what} encoding")]
    Decode {
        /// What was being read.
        what: &'static str,
    },
    /// Bytes follow a complete structure.
    #[error("{count} trailing bytes after the {what}")]
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// How many bytes.
        count: usize,
    },
    /// The structure decodes but is not in its one canonical encoding (over-long integers,
    /// unsorted or repeated set elements).
    #[error("non-canonical {what} encoding")]
    NonCanonical {
        /// What was being read.
        what: &'static str,
    },
    /// A version byte this build does not read.
    #[error("unsupported {what} version {found}")]
    UnsupportedVersion {
        /// What was being read.
        what: &'static str,
        /// The version byte found.
        found: u8,
    },
    /// The text does not start with the expected `cs1.<label>.` prefix.
    #[error("not a `{expected}` text")]
    WrongPrefix {
        /// The prefix expected.
        expected: &'static str,
    },
    /// Invalid or non-canonical base64 (padding, alphabet, non-zero trailing bits).
    #[error("invalid or non-canonical base64 in the {what} at byte {offset}")]
    Base64 {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the text.
        offset: usize,
    },
    /// A signed note, note key, key name (and so a log origin) or checkpoint body breaks a
    /// rule of its C2SP format ([`credseal_c2sp::FormatError`] says which).
    #[error(transparent)]
    C2sp(#[from] credseal_c2sp::FormatError),
    /// A receipt of an older format version: 1 (signed over its whole body, before receipts
    /// had a signed header) or 2 (its Merkle leaf was the whole receipt, so a sealed entry's
    /// header was not bound to its leaf): this build reads only version 3. A log written by
    /// an older credseal must be verified with that version; start a new platform for this one.
    #[error(
        "receipt format version {found} (from an earlier credseal: {}) is no longer read: verify that log with the credseal version that wrote it, and initialise a new platform with this one",
        if *found == 1 { "before signed receipt headers" } else { "before leaves of header and signature" }
    )]
    ObsoleteReceipt {
        /// The version byte found (1 or 2).
        found: u8,
    },
    /// A receipt body breaks a rule of its own (a chain counter of 0, a first receipt with a
    /// previous hash, a chained receipt without subject).
    #[error("invalid receipt: {reason}")]
    Receipt {
        /// Which rule.
        reason: &'static str,
    },
    /// A log key handover statement breaks its format (see [`crate::Handover`]).
    #[error("malformed log key handover, line {line}: {reason}")]
    Handover {
        /// Line number (1-based).
        line: usize,
        /// Which rule.
        reason: &'static str,
    },
    /// The saved state's checksum does not match its contents.
    #[error("saved state checksum mismatch")]
    Checksum,
    /// The saved state decodes but its fields contradict each other.
    #[error("inconsistent saved state: {reason}")]
    State {
        /// Which rule.
        reason: &'static str,
    },
}

/// Why a receipt or a checkpoint was refused by [`crate::LogVerifier`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The input is not well-formed (checked before the signature where the layout allows,
    /// after it for the receipt body).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A signature by the log key (for a note: a signature line with the log's key name and
    /// key id) does not verify under Ed25519 strict verification.
    #[error("the signature does not verify")]
    BadSignature,
    /// The note carries no signature line with the log's key name and key id (signatures by
    /// other keys are ignored, as C2SP signed-note requires).
    #[error("the note carries no signature by the log key")]
    NotSignedByLogKey,
    /// Signed by a key of the log's history that was retired before this point: at tree size
    /// `end` the next key took over, so it signs no receipt at an index of `end` or more and
    /// no checkpoint of a tree size above `end` (`at` is the receipt's index or the
    /// checkpoint's size).
    #[error(
        "signed by log key {key_id:08x}, retired at tree size {end}: it signs no receipt from index {end} on and no checkpoint of a larger tree (this is at {at})"
    )]
    RetiredKey {
        /// The signing key's C2SP key id.
        key_id: u32,
        /// The tree size at which it was retired.
        end: u64,
        /// The receipt's log index or the checkpoint's tree size.
        at: u64,
    },
    /// Signed by a key of the log's history before it took over (at tree size `start`): a
    /// newer key cannot sign the log's earlier history.
    #[error(
        "signed by log key {key_id:08x}, which took over at tree size {start}: it signs no receipt below index {start} and no checkpoint of a tree of {start} or fewer (this is at {at})"
    )]
    KeyNotYetValid {
        /// The signing key's C2SP key id.
        key_id: u32,
        /// The tree size from which it signs.
        start: u64,
        /// The receipt's log index or the checkpoint's tree size.
        at: u64,
    },
    /// The checkpoint verifies but names another log.
    #[error("the checkpoint is for origin {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The verifier's origin.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
}

impl From<credseal_c2sp::FormatError> for VerifyError {
    fn from(e: credseal_c2sp::FormatError) -> Self {
        Self::Format(FormatError::C2sp(e))
    }
}
