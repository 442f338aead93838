//! The crate's one error type.

use crate::suite::{PROOF_LEN, PUBLIC_KEY_LEN};

/// Why a VRF key or proof was rejected, or why proving failed.
///
/// The variants carry lengths and byte ranges, never key or input bytes: an error may be
/// logged or shown to the party that sent the proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VrfError {
    /// A public key must be exactly [`PUBLIC_KEY_LEN`] bytes; `len` were given.
    #[error("VRF public key is {len} bytes, expected {PUBLIC_KEY_LEN}")]
    PublicKeyLength {
        /// The length that was given.
        len: usize,
    },
    /// The public key bytes are not the canonical RFC 8032 encoding of an edwards25519
    /// point (not on the curve, y ≥ p, or a negative zero x): RFC 9381 §5.3 step 2.
    #[error("VRF public key (bytes 0..32) is not a canonical edwards25519 point encoding")]
    PublicKeyEncoding,
    /// The public key is a point of small order (8·Y is the identity), which RFC 9381
    /// `ECVRF_validate_key` (§5.4.5) rejects: with such a key the output would not be unique.
    #[error("VRF public key is a small-order point (rejected by RFC 9381 validate_key)")]
    PublicKeySmallOrder,
    /// A proof must be exactly [`PROOF_LEN`] bytes (Gamma ‖ c ‖ s); `len` were given.
    #[error("VRF proof is {len} bytes, expected {PROOF_LEN}")]
    ProofLength {
        /// The length that was given.
        len: usize,
    },
    /// The proof's Gamma (bytes 0..32) is not the canonical encoding of an edwards25519
    /// point: RFC 9381 `ECVRF_decode_proof` (§5.4.4) outputs INVALID.
    #[error("VRF proof: Gamma (bytes 0..32) is not a canonical edwards25519 point encoding")]
    ProofGammaEncoding,
    /// The proof's s (bytes 48..80) is not below the group order L: RFC 9381
    /// `ECVRF_decode_proof` (§5.4.4) outputs INVALID (accepting it would make proofs malleable).
    #[error("VRF proof: s (bytes 48..80) is not a canonical scalar (s >= L)")]
    ProofScalarNotCanonical,
    /// The proof is well formed but its challenge does not match: it was not made with the
    /// secret key of this public key for this input (RFC 9381 §5.3 step 11).
    #[error("VRF proof does not verify for this public key and input")]
    ProofMismatch,
    /// Try-and-increment found no curve point for the input in 256 tries (RFC 9381
    /// §5.4.1.1). Each try succeeds with probability about 1/2, so this happens with
    /// probability about 2^-256; it is reported rather than assumed away.
    #[error("no edwards25519 point found for the VRF input in 256 tries")]
    EncodeToCurveExhausted,
}
