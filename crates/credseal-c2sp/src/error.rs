//! Errors: [`FormatError`] for text that is not a well-formed note, key or checkpoint,
//! [`NoteError`] for a note that does not verify. The Merkle tree has its own
//! [`crate::ProofError`] and [`crate::TreeError`].

/// Why text is not a well-formed signed note, note key or checkpoint. Never carries the
/// contents (nor any key material); offsets are byte offsets, lines are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
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
    /// Invalid or non-canonical base64 (padding, alphabet, non-zero trailing bits).
    #[error("invalid or non-canonical base64 in the {what} at byte {offset}")]
    Base64 {
        /// What was being read.
        what: &'static str,
        /// Byte offset in the text.
        offset: usize,
    },
    /// A signed note breaks the C2SP signed-note syntax.
    #[error("malformed signed note at byte {offset}: {reason}")]
    Note {
        /// Byte offset in the note.
        offset: usize,
        /// Which rule.
        reason: &'static str,
    },
    /// A checkpoint body breaks the C2SP tlog-checkpoint syntax.
    #[error("malformed checkpoint, line {line}: {reason}")]
    Checkpoint {
        /// Line number (1-based).
        line: usize,
        /// Which rule.
        reason: &'static str,
    },
    /// A key name (and so a checkpoint origin signed under it) is empty or holds
    /// whitespace, `+` or control characters.
    #[error("invalid key name: {reason}")]
    KeyName {
        /// Which rule.
        reason: &'static str,
    },
    /// A `cosignature/v1` is malformed or cannot be made: a timestamp of 0 or above 2^63 - 1,
    /// or a signature of another length than a timestamp and an Ed25519 signature.
    #[error("malformed cosignature: {reason}")]
    Cosignature {
        /// Which rule.
        reason: &'static str,
    },
    /// A verifier or signer key text is malformed, its key is not a valid Ed25519 key, or
    /// its key id does not match the key.
    #[error("malformed key text: {reason}")]
    KeyText {
        /// Which rule.
        reason: &'static str,
    },
}

/// Why a signed note was refused by [`crate::NoteVerifier::verify`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not well-formed (checked before any signature).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A signature line with the verifier's key name and key id does not verify under
    /// Ed25519 strict verification.
    #[error("the signature does not verify")]
    BadSignature,
    /// The note carries no signature line with the verifier's key name and key id
    /// (signatures by other keys are ignored, as C2SP signed-note requires).
    #[error("the note carries no signature by the verifier's key")]
    NotSigned,
}
