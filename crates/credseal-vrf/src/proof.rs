//! The VRF proof pi and the VRF output beta.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;

use crate::VrfError;
use crate::suite::{self, BLIND_ID_LEN, CHALLENGE_LEN, OUTPUT_LEN, PROOF_LEN, PUBLIC_KEY_LEN, SCALAR_LEN};

/// Byte range of Gamma in a proof.
const GAMMA_RANGE: std::ops::Range<usize> = 0..PUBLIC_KEY_LEN;
/// Byte range of the challenge c in a proof.
const CHALLENGE_RANGE: std::ops::Range<usize> = PUBLIC_KEY_LEN..PUBLIC_KEY_LEN + CHALLENGE_LEN;
/// Byte range of the scalar s in a proof.
const SCALAR_RANGE: std::ops::Range<usize> = PUBLIC_KEY_LEN + CHALLENGE_LEN..PROOF_LEN;

/// An ECVRF proof pi = Gamma ‖ c ‖ s (80 bytes), decoded: Gamma is a canonically encoded
/// curve point and s < L (RFC 9381 `ECVRF_decode_proof`, §5.4.4). Decoding says nothing
/// about who made it: [`VrfPublicKey::verify`](crate::VrfPublicKey::verify) does.
#[derive(Clone)]
pub struct VrfProof {
    bytes: [u8; PROOF_LEN],
    gamma_string: [u8; PUBLIC_KEY_LEN],
    gamma: EdwardsPoint,
    c: [u8; CHALLENGE_LEN],
    s: Scalar,
}

impl VrfProof {
    /// Decodes a proof: exactly 80 bytes; Gamma the canonical RFC 8032 encoding of a
    /// curve point; s (little-endian) below the group order L.
    ///
    /// # Errors
    /// [`VrfError::ProofLength`], [`VrfError::ProofGammaEncoding`] or
    /// [`VrfError::ProofScalarNotCanonical`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        let bytes: [u8; PROOF_LEN] = bytes
            .try_into()
            .map_err(|_| VrfError::ProofLength { len: bytes.len() })?;
        let mut gamma_string = [0u8; PUBLIC_KEY_LEN];
        gamma_string.copy_from_slice(&bytes[GAMMA_RANGE]);
        let gamma = suite::string_to_point(&gamma_string).ok_or(VrfError::ProofGammaEncoding)?;
        let mut s_string = [0u8; SCALAR_LEN];
        s_string.copy_from_slice(&bytes[SCALAR_RANGE]);
        let s =
            Option::<Scalar>::from(Scalar::from_canonical_bytes(s_string)).ok_or(VrfError::ProofScalarNotCanonical)?;
        let mut c = [0u8; CHALLENGE_LEN];
        c.copy_from_slice(&bytes[CHALLENGE_RANGE]);
        Ok(Self {
            bytes,
            gamma_string,
            gamma,
            c,
            s,
        })
    }

    /// A proof from its parts, as `VrfSecretKey::prove` computes them.
    pub(crate) fn from_parts(
        gamma: EdwardsPoint,
        gamma_string: [u8; PUBLIC_KEY_LEN],
        c: [u8; CHALLENGE_LEN],
        s: Scalar,
    ) -> Self {
        let mut bytes = [0u8; PROOF_LEN];
        bytes[GAMMA_RANGE].copy_from_slice(&gamma_string);
        bytes[CHALLENGE_RANGE].copy_from_slice(&c);
        bytes[SCALAR_RANGE].copy_from_slice(s.as_bytes());
        Self {
            bytes,
            gamma_string,
            gamma,
            c,
            s,
        }
    }

    /// The 80-byte encoding (pi_string).
    pub fn as_bytes(&self) -> &[u8; PROOF_LEN] {
        &self.bytes
    }

    /// `ECVRF_proof_to_hash(pi_string)` (RFC 9381 §5.2): the VRF output beta.
    ///
    /// This does not verify the proof. Use the beta returned by
    /// [`VrfPublicKey::verify`](crate::VrfPublicKey::verify) unless the proof came from
    /// your own secret key.
    pub fn proof_to_hash(&self) -> VrfOutput {
        VrfOutput(suite::gamma_to_hash(&self.gamma))
    }

    pub(crate) fn gamma(&self) -> &EdwardsPoint {
        &self.gamma
    }

    pub(crate) fn gamma_string(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.gamma_string
    }

    pub(crate) fn challenge(&self) -> &[u8; CHALLENGE_LEN] {
        &self.c
    }

    pub(crate) fn s(&self) -> &Scalar {
        &self.s
    }
}

impl PartialEq for VrfProof {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for VrfProof {}

impl std::fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VrfProof(")?;
        suite::write_hex(f, &self.bytes)?;
        f.write_str(")")
    }
}

/// A VRF output beta (64 bytes): the pseudorandom value the proof vouches for.
/// Compared in constant time. Obtain one from [`VrfPublicKey::verify`](crate::VrfPublicKey::verify)
/// or [`VrfProof::proof_to_hash`].
#[derive(Clone)]
pub struct VrfOutput([u8; OUTPUT_LEN]);

impl VrfOutput {
    /// The 64 bytes of beta.
    pub fn as_bytes(&self) -> &[u8; OUTPUT_LEN] {
        &self.0
    }

    /// credseal's blind id of the input: the first [`BLIND_ID_LEN`] bytes of beta, taken
    /// as they are (beta is already a SHA-512 output under the suite's own domain
    /// separation, so truncation keeps it uniform; no further label is applied).
    pub fn blind_id_bytes(&self) -> [u8; BLIND_ID_LEN] {
        let mut out = [0u8; BLIND_ID_LEN];
        out.copy_from_slice(&self.0[..BLIND_ID_LEN]);
        out
    }
}

impl PartialEq for VrfOutput {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
    }
}

impl Eq for VrfOutput {}

impl std::fmt::Debug for VrfOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VrfOutput(")?;
        suite::write_hex(f, &self.0)?;
        f.write_str(")")
    }
}
