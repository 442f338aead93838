//! credseal's verifiable random function: **ECVRF-EDWARDS25519-SHA512-TAI** of RFC 9381
//! (suite string `0x03`), the VRF of CONIKS-style key transparency directories.
//!
//! A VRF is a keyed hash whose every output comes with a proof. The platform holds a
//! [`VrfSecretKey`]; for a subject's identity number `alpha` it computes a proof with
//! [`VrfSecretKey::prove`], and the output beta ([`VrfProof::proof_to_hash`]) can serve as
//! the subject's storage and log id. Anyone holding the platform's [`VrfPublicKey`] — the
//! subject first of all — checks with [`VrfPublicKey::verify`] that beta really is the VRF
//! of its own identity number, without learning the secret key, and nobody without the
//! secret key can compute beta for a guessed identity number.
//!
//! Start with [`VrfSecretKey::from_seed`] (prover) or [`VrfPublicKey::from_bytes`] and
//! [`VrfProof::from_bytes`] (verifier):
//!
//! ```
//! use credseal_vrf::{VrfProof, VrfPublicKey, VrfSecretKey};
//!
//! # fn main() -> Result<(), credseal_vrf::VrfError> {
//! // The platform (the seed comes from a CSPRNG and lives in the keystore).
//! let sk = VrfSecretKey::from_seed([7u8; 32]);
//! let proof = sk.prove(b"11010519491231002X")?;
//! let blind = proof.proof_to_hash();
//!
//! // The subject, with public material only.
//! let pk = VrfPublicKey::from_bytes(sk.public_key().as_bytes())?;
//! let proof = VrfProof::from_bytes(proof.as_bytes())?;
//! let beta = pk.verify(b"11010519491231002X", &proof)?;
//! assert_eq!(beta, blind);
//! assert!(pk.verify(b"110105194912310037", &proof).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # What is implemented, exactly
//! RFC 9381 §5 with the §5.5 suite: key generation from a 32-byte seed as RFC 8032 §5.1.5;
//! `ECVRF_prove` (§5.1), `ECVRF_proof_to_hash` (§5.2), `ECVRF_verify` (§5.3) with
//! `validate_key` always on (small-order public keys are rejected when parsed);
//! `encode_to_curve` by try-and-increment with the public key as salt (§5.4.1.1);
//! RFC 8032 nonces (§5.4.2.2); 16-byte challenges over Y, H, Gamma, U, V (§5.4.3). Points
//! are decoded strictly (RFC 8032 §5.1.3: y ≥ p and a negative zero x are rejected), and a
//! proof with s ≥ L is rejected, so a valid proof cannot be re-encoded into a second valid
//! byte string, and each (key, input) pair has exactly one output. The RFC's Appendix B.3 vectors
//! are in `tests/vectors/rfc9381-b3.json` and run through this API.
//!
//! # Why written here, on curve25519-dalek
//! Crates that offer this suite were weighed first:
//! - `akd_core::ecvrf` (the akd authors'; the crates.io crate named `ecvrf` is an
//!   unrelated curve25519+SHA3 construction) follows RFC 9381 but reduces s mod L instead
//!   of rejecting s ≥ L (§5.4.4), so proofs are malleable; it decodes points without the
//!   canonical-encoding check; it derives `Debug` and `Clone` on the secret key; it is built
//!   on curve25519-dalek 4 / ed25519-dalek 2 (a second copy of the curve stack beside
//!   ed25519-dalek 3), and comes inside the whole akd core.
//! - `vrf-rfc9381` 0.0.x is a young single-author crate that describes itself as
//!   unaudited and relying on pre-release primitives.
//!
//! Neither fits a key that names every subject, so the protocol (hashing, encodings,
//! checks) is written here — about 200 lines — on curve25519-dalek 5 (the group arithmetic,
//! the version ed25519-dalek 3 already uses) and sha2 (SHA-512). No field or curve
//! arithmetic is written here.
//!
//! # Security notes
//! - **Timing of try-and-increment.** `encode_to_curve` hashes until it finds a point; the
//!   number of tries (1 with probability 1/2, 2 with 1/4, …) depends on the input. Someone
//!   who can time `prove` or `verify` precisely learns a little about `alpha` (RFC 9381
//!   §7.4). For identity numbers, which are low-entropy, that leak matters if an attacker
//!   can time the platform's VRF calls on secret inputs; the constant-time alternative is
//!   the ELL2 suite (`0x04`), not implemented here. Everything that involves the secret key
//!   (x·H, k·B, k·H, s) is constant time.
//! - **Uniqueness needs a good key.** `validate_key` is always applied to parsed public
//!   keys; keys made by [`VrfSecretKey::from_seed`] always pass it.
//! - **beta without verify.** [`VrfProof::proof_to_hash`] does not check the proof; a party
//!   that received the proof must use the output of [`VrfPublicKey::verify`].
//! - Secrets: the seed, the secret scalar, the nonce key, SHA-512 states that absorbed them
//!   and the nonce k are wiped after use; errors carry no key or input bytes.

mod error;
mod keys;
mod proof;
mod suite;

#[cfg(test)]
mod intermediate_tests;

pub use error::VrfError;
pub use keys::{TEXT_PREFIX, VrfPublicKey, VrfSecretKey};
pub use proof::{VrfOutput, VrfProof};
pub use suite::{BLIND_ID_LEN, OUTPUT_LEN, PROOF_LEN, PUBLIC_KEY_LEN, SEED_LEN, SUITE_STRING};
