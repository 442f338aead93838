//! ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5.5): the suite's constants and the internal
//! steps of §5.4 — string_to_point, encode_to_curve (try-and-increment), nonce generation,
//! challenge generation and the hash of Gamma. The public types in `keys` and `proof`
//! compose these; nothing here is public API.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::VrfError;

/// `suite_string` of ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5.5).
pub const SUITE_STRING: u8 = 0x03;
/// `encode_to_curve_domain_separator_front` (RFC 9381 §5.4.1.1).
const ENCODE_TO_CURVE_FRONT: u8 = 0x01;
/// `challenge_generation_domain_separator_front` (RFC 9381 §5.4.3).
const CHALLENGE_FRONT: u8 = 0x02;
/// `proof_to_hash_domain_separator_front` (RFC 9381 §5.2).
const PROOF_TO_HASH_FRONT: u8 = 0x03;
/// The `..._domain_separator_back` byte shared by encode_to_curve, challenge generation
/// and proof_to_hash (RFC 9381 §5.2, §5.4.1.1, §5.4.3).
const DOMAIN_SEPARATOR_BACK: u8 = 0x00;

/// Length of a public key: one compressed edwards25519 point (`ptLen`).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of the secret seed, as an RFC 8032 Ed25519 secret key.
pub const SEED_LEN: usize = 32;
/// Length of the challenge c in a proof (`cLen`, RFC 9381 §5.5).
pub const CHALLENGE_LEN: usize = 16;
/// Length of the scalar s in a proof (`qLen`).
pub const SCALAR_LEN: usize = 32;
/// Length of a proof pi = Gamma ‖ c ‖ s.
pub const PROOF_LEN: usize = PUBLIC_KEY_LEN + CHALLENGE_LEN + SCALAR_LEN;
/// Length of the VRF output beta (`hLen`, SHA-512).
pub const OUTPUT_LEN: usize = 64;
/// Length of credseal's blind id, the leading bytes of the VRF output
/// ([`VrfOutput::blind_id_bytes`](crate::VrfOutput::blind_id_bytes)).
pub const BLIND_ID_LEN: usize = 32;

/// RFC 8032 §5.1.3 decoding, strictly: the bytes must decode to a curve point *and* be
/// that point's canonical encoding. curve25519-dalek's `decompress` alone accepts y ≥ p
/// (it reduces y) and a sign bit on x = 0; re-encoding and comparing rejects both, as
/// RFC 8032 requires ("decoding fails").
pub(crate) fn string_to_point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    (point.compress().as_bytes() == bytes).then_some(point)
}

/// `ECVRF_encode_to_curve_try_and_increment` (RFC 9381 §5.4.1.1) with
/// `encode_to_curve_salt = PK_string`. Returns H (already multiplied by the cofactor, never
/// the identity) and the counter value that produced it.
///
/// Not constant time: the number of tries depends on `alpha` (RFC 9381 §7.4).
pub(crate) fn encode_to_curve(pk_string: &[u8; 32], alpha: &[u8]) -> Result<(EdwardsPoint, u8), VrfError> {
    for ctr in 0..=u8::MAX {
        let hash = Sha512::new()
            .chain_update([SUITE_STRING, ENCODE_TO_CURVE_FRONT])
            .chain_update(pk_string)
            .chain_update(alpha)
            .chain_update([ctr, DOMAIN_SEPARATOR_BACK])
            .finalize();
        // interpret_hash_value_as_a_point: string_to_point of the first 32 bytes (§5.5).
        let mut candidate = [0u8; 32];
        candidate.copy_from_slice(&hash[..32]);
        if let Some(point) = string_to_point(&candidate) {
            let h = point.mul_by_cofactor();
            if !h.is_identity() {
                return Ok((h, ctr));
            }
        }
    }
    Err(VrfError::EncodeToCurveExhausted)
}

/// The 64-byte SHA-512 string of `ECVRF_nonce_generation_RFC8032` (RFC 9381 §5.4.2.2):
/// `SHA-512(nonce_key ‖ H_string)`, where `nonce_key` is the second half of SHA-512(seed).
pub(crate) fn nonce_string(nonce_key: &[u8; 32], h_string: &[u8; 32]) -> Zeroizing<[u8; 64]> {
    let mut hasher = Sha512::new();
    hasher.update(nonce_key);
    hasher.update(h_string);
    let mut out = Zeroizing::new([0u8; 64]);
    hasher.finalize_into((&mut *out).into());
    out
}

/// `ECVRF_nonce_generation_RFC8032` (RFC 9381 §5.4.2.2): the nonce string reduced mod L.
pub(crate) fn nonce(nonce_key: &[u8; 32], h_string: &[u8; 32]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&nonce_string(nonce_key, h_string))
}

/// `ECVRF_challenge_generation(P1, …, P5)` (RFC 9381 §5.4.3) for P1..P5 = Y, H, Gamma, U, V,
/// given as their encodings: the first [`CHALLENGE_LEN`] bytes of SHA-512 over the suite
/// string, the front separator, the five points and the back separator.
pub(crate) fn challenge(points: [&[u8; 32]; 5]) -> [u8; CHALLENGE_LEN] {
    let mut hasher = Sha512::new();
    hasher.update([SUITE_STRING, CHALLENGE_FRONT]);
    for point in points {
        hasher.update(point);
    }
    hasher.update([DOMAIN_SEPARATOR_BACK]);
    let hash = hasher.finalize();
    let mut c = [0u8; CHALLENGE_LEN];
    c.copy_from_slice(&hash[..CHALLENGE_LEN]);
    c
}

/// The challenge c as a scalar: `string_to_int(c_string)`, little-endian. A 16-byte value
/// is below 2^128 < L, so it is already canonical.
pub(crate) fn challenge_scalar(c: &[u8; CHALLENGE_LEN]) -> Scalar {
    let mut wide = [0u8; 32];
    wide[..CHALLENGE_LEN].copy_from_slice(c);
    Scalar::from_bytes_mod_order(wide)
}

/// `ECVRF_proof_to_hash` after decoding (RFC 9381 §5.2):
/// `SHA-512(suite_string ‖ 0x03 ‖ point_to_string(cofactor · Gamma) ‖ 0x00)`.
pub(crate) fn gamma_to_hash(gamma: &EdwardsPoint) -> [u8; OUTPUT_LEN] {
    let hash = Sha512::new()
        .chain_update([SUITE_STRING, PROOF_TO_HASH_FRONT])
        .chain_update(gamma.mul_by_cofactor().compress().as_bytes())
        .chain_update([DOMAIN_SEPARATOR_BACK])
        .finalize();
    let mut beta = [0u8; OUTPUT_LEN];
    beta.copy_from_slice(&hash);
    beta
}

/// Writes `bytes` as lower-case hex (for `Debug` of public values).
pub(crate) fn write_hex(f: &mut std::fmt::Formatter<'_>, bytes: &[u8]) -> std::fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}
