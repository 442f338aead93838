//! The VRF key pair: [`VrfSecretKey`] proves, [`VrfPublicKey`] verifies.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{Scalar, clamp_integer};
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::VrfError;
use crate::proof::{VrfOutput, VrfProof};
use crate::suite::{self, PUBLIC_KEY_LEN, SEED_LEN};

/// The expanded halves of SHA-512(seed) (RFC 8032 §5.1.5): the clamped secret scalar's
/// bytes and the nonce key. Both are secret and wiped on drop.
pub(crate) struct ExpandedSeed {
    /// The clamped integer x, little-endian, as RFC 9381 Appendix B.3 prints it.
    pub(crate) clamped: Zeroizing<[u8; 32]>,
    /// The second half of SHA-512(seed), the prefix of every nonce hash.
    pub(crate) nonce_key: Zeroizing<[u8; 32]>,
}

/// RFC 8032 §5.1.5 steps 1–2: hash the seed, clamp the first half.
pub(crate) fn expand_seed(seed: &[u8; SEED_LEN]) -> ExpandedSeed {
    let mut digest = Zeroizing::new([0u8; 64]);
    let mut hasher = Sha512::new();
    hasher.update(seed);
    // Straight into the wiped buffer: no unwiped copy of SHA-512(seed) is left behind.
    hasher.finalize_into((&mut *digest).into());
    let mut lower = Zeroizing::new([0u8; 32]);
    lower.copy_from_slice(&digest[..32]);
    let mut nonce_key = Zeroizing::new([0u8; 32]);
    nonce_key.copy_from_slice(&digest[32..]);
    ExpandedSeed {
        clamped: Zeroizing::new(clamp_integer(*lower)),
        nonce_key,
    }
}

/// A VRF secret key: the 32-byte RFC 8032 seed and what is derived from it.
///
/// Wiped on drop; `Debug` prints `[redacted]` and the public key; there is no `PartialEq`
/// and no `Clone` (one owner per key). Make one with [`VrfSecretKey::from_seed`].
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct VrfSecretKey {
    seed: [u8; SEED_LEN],
    /// The secret scalar x = clamp(SHA-512(seed)[0..32]) mod L.
    x: Scalar,
    /// SHA-512(seed)[32..64], the nonce key.
    nonce_key: [u8; 32],
    #[zeroize(skip)]
    public: VrfPublicKey,
}

impl VrfSecretKey {
    /// The key whose RFC 8032 secret key ("seed") is `seed`. The caller wipes its copy.
    ///
    /// The seed must be uniformly random (from a CSPRNG); every 32-byte value is a valid key.
    pub fn from_seed(seed: [u8; SEED_LEN]) -> Self {
        let expanded = expand_seed(&seed);
        let x = Scalar::from_bytes_mod_order(*expanded.clamped);
        let point = EdwardsPoint::mul_base(&x);
        // x is a multiple of 8 in [2^254, 2^255), never a multiple of L, so Y = x·B has
        // order L: it always passes validate_key.
        let public = VrfPublicKey {
            bytes: point.compress().to_bytes(),
            point,
        };
        Self {
            seed,
            x,
            nonce_key: *expanded.nonce_key,
            public,
        }
    }

    /// The seed, for the keystore to store. Every read of the secret is visible here.
    pub fn expose_secret(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    /// The public key Y = x·B.
    pub fn public_key(&self) -> VrfPublicKey {
        self.public
    }

    /// `ECVRF_prove(SK, alpha_string)` (RFC 9381 §5.1): the proof pi that
    /// [`VrfProof::proof_to_hash`] is this key's VRF output for `alpha`.
    ///
    /// Deterministic: the same key and input give the same proof. The time taken depends
    /// on `alpha` through try-and-increment (see the crate documentation).
    ///
    /// # Errors
    /// [`VrfError::EncodeToCurveExhausted`] with probability about 2^-256.
    pub fn prove(&self, alpha: &[u8]) -> Result<VrfProof, VrfError> {
        let y_string = &self.public.bytes;
        let (h, _ctr) = suite::encode_to_curve(y_string, alpha)?;
        let h_string = h.compress().to_bytes();
        let gamma = h * self.x;
        let gamma_string = gamma.compress().to_bytes();
        let mut k = suite::nonce(&self.nonce_key, &h_string);
        let u = EdwardsPoint::mul_base(&k).compress().to_bytes();
        let v = (h * k).compress().to_bytes();
        let c = suite::challenge([y_string, &h_string, &gamma_string, &u, &v]);
        let s = k + suite::challenge_scalar(&c) * self.x;
        // Clear intermediates: k with s and c would reveal x.
        k.zeroize();
        Ok(VrfProof::from_parts(gamma, gamma_string, c, s))
    }
}

impl std::fmt::Debug for VrfSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VrfSecretKey")
            .field("public", &self.public)
            .field("secret", &format_args!("[redacted]"))
            .finish()
    }
}

/// Prefix of a VRF public key's text form ([`VrfPublicKey::to_text`]): the suite's name.
pub const TEXT_PREFIX: &str = "ecvrf-edwards25519-sha512-tai:";

/// A VRF public key: a canonical edwards25519 point of large order (RFC 9381
/// `ECVRF_validate_key` passed). Parse one with [`VrfPublicKey::from_bytes`].
#[derive(Clone, Copy)]
pub struct VrfPublicKey {
    bytes: [u8; PUBLIC_KEY_LEN],
    point: EdwardsPoint,
}

impl VrfPublicKey {
    /// Parses a public key: exactly 32 bytes, the canonical RFC 8032 encoding of a point
    /// (RFC 9381 §5.3 steps 1–2) that is not of small order (`ECVRF_validate_key`, §5.4.5).
    ///
    /// # Errors
    /// [`VrfError::PublicKeyLength`], [`VrfError::PublicKeyEncoding`] or
    /// [`VrfError::PublicKeySmallOrder`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VrfError> {
        let bytes: [u8; PUBLIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| VrfError::PublicKeyLength { len: bytes.len() })?;
        let point = suite::string_to_point(&bytes).ok_or(VrfError::PublicKeyEncoding)?;
        if point.is_small_order() {
            return Err(VrfError::PublicKeySmallOrder);
        }
        Ok(Self { bytes, point })
    }

    /// The 32-byte encoding (PK_string).
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// The key's one-line text form, as it is published: [`TEXT_PREFIX`] followed by the
    /// 64 lowercase hex digits of PK_string.
    pub fn to_text(&self) -> String {
        struct Hex<'a>(&'a [u8]);
        impl std::fmt::Display for Hex<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                suite::write_hex(f, self.0)
            }
        }
        format!("{TEXT_PREFIX}{}", Hex(&self.bytes))
    }

    /// `ECVRF_verify(PK_string, alpha_string, pi_string)` (RFC 9381 §5.3) with key
    /// validation (done when the key was parsed): the VRF output beta if `proof` was made
    /// by this key's secret for `alpha`.
    ///
    /// # Errors
    /// [`VrfError::ProofMismatch`] if the proof does not verify; [`VrfError::EncodeToCurveExhausted`]
    /// with probability about 2^-256.
    pub fn verify(&self, alpha: &[u8], proof: &VrfProof) -> Result<VrfOutput, VrfError> {
        let (h, _ctr) = suite::encode_to_curve(&self.bytes, alpha)?;
        let c = suite::challenge_scalar(proof.challenge());
        // Public values only: variable time is fine here.
        // U = s·B − c·Y
        let u = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-c, &self.point, proof.s());
        // V = s·H − c·Gamma
        let v = h * proof.s() - proof.gamma() * c;
        let expected = suite::challenge([
            &self.bytes,
            &h.compress().to_bytes(),
            proof.gamma_string(),
            &u.compress().to_bytes(),
            &v.compress().to_bytes(),
        ]);
        if bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &proof.challenge()[..])) {
            Ok(proof.proof_to_hash())
        } else {
            Err(VrfError::ProofMismatch)
        }
    }
}

impl PartialEq for VrfPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for VrfPublicKey {}

impl std::hash::Hash for VrfPublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl std::fmt::Debug for VrfPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VrfPublicKey(")?;
        suite::write_hex(f, &self.bytes)?;
        f.write_str(")")
    }
}
