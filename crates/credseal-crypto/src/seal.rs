//! Answer sealing (docs/design.md §6): single-shot HPKE (RFC 9180) in base mode with
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, to a department's (or a subject's)
//! X25519 sealing key.
//!
//! The recipient creates a [`SealingKey`] and publishes its [`SealingPublicKey`]; the platform
//! calls [`seal`] with an `info` built by [`answer_info`]; the recipient calls [`open`] with the
//! same `info` and `aad`:
//!
//! ```
//! use credseal_crypto::{SealedBox, SealingKey, answer_info, open, seal};
//!
//! let department = SealingKey::generate();
//! let info = answer_info("example/log", &[7; 16], None);
//! let sealed = seal(&department.public(), &info, b"", b"the answer").unwrap();
//! let wire = sealed.to_bytes();
//! let plain = open(&department, &info, b"", &SealedBox::from_bytes(&wire).unwrap()).unwrap();
//! assert_eq!(&plain[..], b"the answer");
//! ```
//!
//! Every seal draws a fresh ephemeral key from the operating system's CSPRNG (through `ring`,
//! like every other random value in credseal). Non-contributory key exchanges (an all-zero
//! X25519 shared secret, from a low-order public key or `enc`) are refused twice: the `hpke`
//! crate checks every Diffie-Hellman output (RFC 9180 §7.1.4), and [`SealingPublicKey`] refuses
//! low-order and non-canonical keys when it is built, so such a key never reaches [`seal`].

use std::cmp::Ordering;
use std::convert::Infallible;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hpke::{Deserializable as _, HpkeError, OpModeR, OpModeS, Serializable as _};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm256;
type HpkePrivateKey = <Kem as hpke::Kem>::PrivateKey;
type HpkePublicKey = <Kem as hpke::Kem>::PublicKey;
type HpkeEncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// Domain-separation label at the start of every answer's HPKE `info` (see [`answer_info`]).
pub const ANSWER_INFO_LABEL: &[u8] = b"credseal:v1:answer";

/// Label of the text form of a [`SealingKey`]: `cs1.sealing-key.<b64url(key)>`.
pub const SEALING_KEY_LABEL: &str = "sealing-key";

/// Label of the text form of a [`SealingPublicKey`]: `cs1.sealing-public-key.<b64url(key)>`.
pub const SEALING_PUBLIC_KEY_LABEL: &str = "sealing-public-key";

/// Length of the encapsulated key `enc` (an X25519 public key).
const ENC_LEN: usize = 32;

/// Bytes a [`SealedBox`] adds to the plaintext: `enc` and the AES-256-GCM tag.
pub const SEALED_BOX_OVERHEAD: usize = ENC_LEN + TAG_LEN;

const TAG_LEN: usize = 16;

/// Version prefix of credseal's text forms (shared with `credseal-auth`).
const TEXT_PREFIX: &str = "cs1";

/// Length of the base64url (unpadded) text of a 32-byte key.
const KEY_B64_LEN: usize = 43;

/// The field prime p = 2^255 - 19, little-endian, as X25519 encodes u-coordinates.
const FIELD_PRIME: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// The canonical encodings (u < p) of every X25519 public key of small order, i.e. every
/// u-coordinate whose product with any clamped scalar is zero. Curve25519 is Z/8 × Z/q and its
/// twist Z/4 × Z/q', so their points of order dividing 8 have exactly these u-coordinates:
/// 0 (order 2), 1 and p - 1 (order 4, one on the curve, one on the twist) and two of order 8.
/// The same list as libsodium's blocklist, less its two non-canonical entries p and p + 1
/// (refused earlier as non-canonical). The unit tests check each entry against the `hpke`
/// crate's all-zero check.
const LOW_ORDER_POINTS: [[u8; 32]; 5] = [
    [0; 32],
    {
        let mut one = [0; 32];
        one[0] = 1;
        one
    },
    {
        let mut p_minus_one = FIELD_PRIME;
        p_minus_one[0] = 0xec;
        p_minus_one
    },
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09,
        0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44,
        0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57,
    ],
];

/// Why sealing, opening or parsing failed. Carries no key bytes, no plaintext and no
/// fragment of a key's text.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The public key's u-coordinate is not below 2^255 - 19 (or its unused top bit is set).
    /// X25519 would reduce it silently, but the sender binds the bytes as given while the
    /// recipient binds the canonical ones, so nothing sealed to it could ever be opened.
    #[error("not a canonical X25519 public key (u-coordinate must be below 2^255 - 19)")]
    NonCanonicalPublicKey,
    /// The public key has small order: every key exchange with it gives the all-zero shared
    /// secret, which HPKE refuses (RFC 9180 §7.1.4).
    #[error("X25519 public key of small order: its shared secrets would be all zero")]
    LowOrderPublicKey,
    /// The X25519 shared secret came out all zero (a low-order recipient key when sealing,
    /// a low-order `enc` when opening) and HPKE refused it.
    #[error("non-contributory X25519 key exchange (all-zero shared secret)")]
    NonContributory,
    /// The box did not open: another key, another `info` or `aad`, or a modified `enc` or
    /// ciphertext. Deliberately not more specific.
    #[error("sealed box did not open: wrong key, wrong info or aad, or modified bytes")]
    OpenFailed,
    /// HPKE could not seal (a plaintext beyond AES-GCM's 2^36-byte limit).
    #[error("HPKE sealing failed")]
    SealFailed,
    /// A sealed box shorter than `enc` plus the tag.
    #[error("sealed box of {len} bytes is truncated: at least {min} bytes (enc and tag) are required")]
    Truncated {
        /// Length of the input.
        len: usize,
        /// The minimum, [`SEALED_BOX_OVERHEAD`].
        min: usize,
    },
    /// The text is not of the form `cs1.<label>.<base64url>`.
    #[error("not a credseal key: expected text of the form `cs1.<label>.<base64url>`")]
    WrongPrefix,
    /// The text holds another kind of key (a public key where a sealing key is expected, or
    /// a signing key).
    #[error("expected a `cs1.{expected}.` key")]
    WrongKeyLabel {
        /// The label expected.
        expected: &'static str,
    },
    /// The base64url payload is invalid or not canonical (padding, characters outside the
    /// URL-safe alphabet, non-zero trailing bits).
    #[error("invalid or non-canonical base64url at byte {offset} of the key text")]
    Base64 {
        /// Byte offset in the text.
        offset: usize,
    },
    /// The key does not have 32 bytes.
    #[error("key of {found} bytes, expected 32")]
    KeyLength {
        /// The decoded length (estimated from the text length when the text is far too long).
        found: usize,
    },
}

/// An X25519 sealing key: the private half held by a department or a subject.
///
/// Stored clamped, as RFC 9180 §7.1.2 requires of `DeserializePrivateKey`. Wiped on drop.
/// `Debug` prints only the public key. There is deliberately no `Clone`, `PartialEq` or
/// `Serialize`: reading the secret is an explicit [`SealingKey::expose_secret`] call.
#[derive(ZeroizeOnDrop)]
pub struct SealingKey {
    secret: [u8; 32],
    #[zeroize(skip)]
    public: SealingPublicKey,
}

impl SealingKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Panics
    /// If the operating system has no working random source (as [`crate::fill_random`]).
    pub fn generate() -> Self {
        let mut secret = Zeroizing::new([0u8; 32]);
        crate::fill_random(&mut secret[..]);
        Self::from_bytes(*secret)
    }

    /// The key with these 32 bytes, clamped (RFC 7748 §5) as RFC 9180 `DeserializePrivateKey`
    /// requires, so keys differing only in the clamped bits are the same key. The caller
    /// zeroizes its copy.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        clamp(&mut bytes);
        let sk = hpke_private_key(&bytes);
        let public = SealingPublicKey(array32(&<Kem as hpke::Kem>::sk_to_pk(&sk).to_bytes()));
        let key = Self { secret: bytes, public };
        bytes.zeroize();
        key
    }

    /// The 32 key bytes (clamped). Every read of the secret is visible at the call site.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The matching public key, which senders seal to.
    pub fn public(&self) -> SealingPublicKey {
        self.public
    }

    /// The text form `cs1.sealing-key.<b64url(key)>`, for a key file. Wiped when dropped.
    pub fn to_text(&self) -> Zeroizing<String> {
        key_text(SEALING_KEY_LABEL, &self.secret)
    }

    /// Parses the text form written by [`SealingKey::to_text`]. Surrounding whitespace (a
    /// trailing newline in a key file) is ignored; anything else must be exact. The bytes are
    /// clamped as by [`SealingKey::from_bytes`].
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        let bytes = parse_key_text(text, SEALING_KEY_LABEL)?;
        Ok(Self::from_bytes(*bytes))
    }

    fn hpke_private(&self) -> HpkePrivateKey {
        hpke_private_key(&self.secret)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealingKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A validated X25519 sealing public key.
///
/// Construction ([`SealingPublicKey::from_bytes`], parsing, deserialising) refuses
/// non-canonical encodings and keys of small order, so a value of this type is always a key
/// that [`seal`] can use. Equality, order and hashing are on the 32 bytes.
///
/// Serialised as 32 raw bytes by binary serialisers (postcard) and as lower-case hex by
/// human-readable ones (JSON).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SealingPublicKey([u8; 32]);

impl SealingPublicKey {
    /// Validates `bytes` as an X25519 public key: canonical (u < 2^255 - 19, top bit clear)
    /// and not of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SealError> {
        // Lexicographic comparison from the most significant byte: u < p.
        if bytes.iter().rev().cmp(FIELD_PRIME.iter().rev()) != Ordering::Less {
            return Err(SealError::NonCanonicalPublicKey);
        }
        if LOW_ORDER_POINTS.contains(bytes) {
            return Err(SealError::LowOrderPublicKey);
        }
        Ok(Self(*bytes))
    }

    /// Like [`SealingPublicKey::from_bytes`] for a slice, which must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        let b: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| SealError::KeyLength { found: bytes.len() })?;
        Self::from_bytes(b)
    }

    /// The 32 encoded bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 32 encoded bytes, by value.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Lower-case hex of the key.
    pub fn to_hex(&self) -> String {
        credseal_core::hex(&self.0)
    }

    /// The text form `cs1.sealing-public-key.<b64url(key)>`.
    pub fn to_text(&self) -> String {
        std::mem::take(&mut *key_text(SEALING_PUBLIC_KEY_LABEL, &self.0))
    }

    /// Parses the text form written by [`SealingPublicKey::to_text`]. Surrounding whitespace
    /// is ignored; anything else must be exact.
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        Self::from_bytes(&*parse_key_text(text, SEALING_PUBLIC_KEY_LABEL)?)
    }
}

impl fmt::Debug for SealingPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingPublicKey({})", self.to_hex())
    }
}

impl fmt::Display for SealingPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for SealingPublicKey {
    type Err = SealError;

    /// The text form `cs1.sealing-public-key.<b64url>`.
    fn from_str(s: &str) -> Result<Self, SealError> {
        Self::from_text(s)
    }
}

impl serde::Serialize for SealingPublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> serde::Deserialize<'de> for SealingPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes: [u8; 32] = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            credseal_core::unhex(&s)
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| D::Error::custom("a sealing public key is 64 hex digits"))?
        } else {
            <[u8; 32]>::deserialize(d)?
        };
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

/// An HPKE-sealed message: the encapsulated key and the AES-256-GCM ciphertext with its tag.
///
/// Its one byte encoding ([`SealedBox::to_bytes`]) is `enc (32 bytes) ‖ ciphertext ‖ tag (16
/// bytes)`, the ciphertext as long as the plaintext.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedBox {
    /// The encapsulated key: the sender's ephemeral X25519 public key.
    pub enc: [u8; ENC_LEN],
    /// The AES-256-GCM ciphertext followed by its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl SealedBox {
    /// `enc ‖ ciphertext`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENC_LEN + self.ciphertext.len());
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Splits `enc ‖ ciphertext`. Refuses input shorter than [`SEALED_BOX_OVERHEAD`]; every
    /// longer input is a well-formed box, which [`open`] then authenticates.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() < SEALED_BOX_OVERHEAD {
            return Err(SealError::Truncated {
                len: bytes.len(),
                min: SEALED_BOX_OVERHEAD,
            });
        }
        let (enc, ciphertext) = bytes.split_at(ENC_LEN);
        Ok(Self {
            enc: array32(enc),
            ciphertext: ciphertext.to_vec(),
        })
    }
}

impl fmt::Debug for SealedBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedBox")
            .field("enc", &credseal_core::hex(&self.enc))
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// Seals `plaintext` to `recipient`: HPKE `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1), a
/// fresh ephemeral key per call.
///
/// `info` binds the box to its context (use [`answer_info`] for answers) and `aad` is
/// authenticated as well; the recipient must present both, byte for byte, to [`open`].
/// Neither is in the box.
pub fn seal(recipient: &SealingPublicKey, info: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<SealedBox, SealError> {
    seal_with_rng(recipient.as_bytes(), info, aad, plaintext, &mut SystemRng)
}

/// Opens a box made by [`seal`] to `key`'s public key: HPKE `OpenBase(enc, skR, info, aad,
/// ct)`. The plaintext is wiped when dropped.
pub fn open(key: &SealingKey, info: &[u8], aad: &[u8], sealed: &SealedBox) -> Result<Zeroizing<Vec<u8>>, SealError> {
    if sealed.ciphertext.len() < TAG_LEN {
        return Err(SealError::Truncated {
            len: ENC_LEN + sealed.ciphertext.len(),
            min: SEALED_BOX_OVERHEAD,
        });
    }
    // Cannot fail: X25519 deserialisation only checks the length, which the type fixes.
    let enc = HpkeEncappedKey::from_bytes(&sealed.enc).expect("32-byte X25519 encapsulated key");
    let sk = key.hpke_private();
    hpke::single_shot_open::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, info, &sealed.ciphertext, aad)
        .map(Zeroizing::new)
        .map_err(|e| match e {
            // The only decapsulation failure for X25519 is the all-zero shared secret.
            HpkeError::DecapError => SealError::NonContributory,
            _ => SealError::OpenFailed,
        })
}

/// The HPKE `info` of a sealed answer. It binds the answer to the platform that released it,
/// to the query it answers and, once the pipeline provides it, to the receipt logged for the
/// disclosure (docs/design.md §6): a box opens only under the very same three values, so an answer
/// cannot be passed off as coming from another platform, as answering another query, or as
/// covered by another receipt.
///
/// Layout (the encoding is injective: fixed-length fields, a length-prefixed origin, a tagged
/// option):
///
/// | bytes | field |
/// |---|---|
/// | 18 | [`ANSWER_INFO_LABEL`] `credseal:v1:answer` |
/// | 1 | `0x00` |
/// | 2 | length of `origin` in bytes, big-endian |
/// | n | `origin`, UTF-8: the platform's log origin |
/// | 16 | `query_id` |
/// | 1 | `0x01` if a receipt leaf follows, `0x00` if not |
/// | 0 or 32 | `receipt_leaf`: the RFC 6962 leaf hash of the disclosure's receipt |
///
/// An answer sealed without a leaf never opens with one, nor the other way round.
///
/// # Panics
/// If `origin` is longer than 65535 bytes (an origin is a short configured name).
pub fn answer_info(origin: &str, query_id: &[u8; 16], receipt_leaf: Option<&[u8; 32]>) -> Vec<u8> {
    // Cannot fail: callers pass a configured origin (at most 200 bytes, checked by valid_origin; `open` checks an answer's origin first).
    let origin_len = u16::try_from(origin.len()).expect("an origin of at most 65535 bytes");
    let mut info = Vec::with_capacity(ANSWER_INFO_LABEL.len() + 3 + origin.len() + 16 + 33);
    info.extend_from_slice(ANSWER_INFO_LABEL);
    info.push(0x00);
    info.extend_from_slice(&origin_len.to_be_bytes());
    info.extend_from_slice(origin.as_bytes());
    info.extend_from_slice(query_id);
    match receipt_leaf {
        Some(leaf) => {
            info.push(0x01);
            info.extend_from_slice(leaf);
        }
        None => info.push(0x00),
    }
    info
}

/// [`seal`] with the ephemeral key's randomness from `rng` (the known-answer tests inject it).
fn seal_with_rng(
    recipient: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl hpke::rand_core::CryptoRng,
) -> Result<SealedBox, SealError> {
    // Cannot fail: X25519 deserialisation only checks the length, which the type fixes.
    let pk = HpkePublicKey::from_bytes(recipient).expect("32-byte X25519 public key");
    let (enc, ciphertext) =
        hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, info, plaintext, aad, rng).map_err(
            |e| match e {
                // The only encapsulation failure for X25519 is the all-zero shared secret.
                HpkeError::EncapError => SealError::NonContributory,
                _ => SealError::SealFailed,
            },
        )?;
    Ok(SealedBox {
        enc: array32(&enc.to_bytes()),
        ciphertext,
    })
}

/// `ring`'s CSPRNG (via [`crate::fill_random`]) behind the `rand_core` traits `hpke` takes.
pub(crate) struct SystemRng;

impl hpke::rand_core::TryRng for SystemRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from_le_bytes(crate::random_array()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from_le_bytes(crate::random_array()))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        crate::fill_random(dst);
        Ok(())
    }
}

impl hpke::rand_core::TryCryptoRng for SystemRng {}

/// RFC 7748 §5 clamping.
fn clamp(k: &mut [u8; 32]) {
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
}

fn hpke_private_key(bytes: &[u8; 32]) -> HpkePrivateKey {
    // X25519 deserialisation only checks the length (and clamps), which cannot fail here.
    HpkePrivateKey::from_bytes(bytes).expect("32-byte X25519 private key")
}

/// Copies a slice that is 32 bytes long by construction.
fn array32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(bytes);
    out
}

/// `cs1.<label>.<b64url(bytes)>`, built without intermediate copies that escape wiping.
fn key_text(label: &str, bytes: &[u8; 32]) -> Zeroizing<String> {
    let mut b64 = Zeroizing::new([0u8; KEY_B64_LEN]);
    let n = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut b64[..])
        // Cannot fail: 43 bytes of unpadded base64 hold exactly 32 bytes.
        .expect("43 characters hold 32 bytes of unpadded base64");
    debug_assert_eq!(n, KEY_B64_LEN);
    let mut text = Zeroizing::new(String::with_capacity(TEXT_PREFIX.len() + label.len() + 2 + KEY_B64_LEN));
    text.push_str(TEXT_PREFIX);
    text.push('.');
    text.push_str(label);
    text.push('.');
    // Cannot fail: base64 output is ASCII.
    text.push_str(std::str::from_utf8(&b64[..]).expect("base64 is ASCII"));
    text
}

/// The 32 bytes of a `cs1.<label>.<b64url>` text, decoded into a buffer that is wiped even
/// when decoding fails. Offsets in errors count from the start of `text`.
fn parse_key_text(text: &str, label: &'static str) -> Result<Zeroizing<[u8; 32]>, SealError> {
    // Surrounding whitespace (a key file's trailing newline) is ignored.
    let lead = text.len() - text.trim_start().len();
    let rest = text
        .trim()
        .strip_prefix(TEXT_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or(SealError::WrongPrefix)?;
    let (found, payload) = rest.split_once('.').ok_or(SealError::WrongPrefix)?;
    if found != label {
        return Err(SealError::WrongKeyLabel { expected: label });
    }
    let base = lead + TEXT_PREFIX.len() + 1 + label.len() + 1;
    // 64 characters decode to at most 48 bytes: enough room for the decoder's estimate, and
    // anything longer is no key.
    let mut buf = Zeroizing::new([0u8; 48]);
    if payload.len() > 64 {
        return Err(SealError::KeyLength {
            found: payload.len() * 3 / 4,
        });
    }
    // The NO_PAD engine refuses padding and non-zero trailing bits: one text per key.
    let n = URL_SAFE_NO_PAD.decode_slice(payload, &mut buf[..]).map_err(|e| {
        use base64::{DecodeError as D, DecodeSliceError as S};
        let at = match e {
            S::DecodeError(D::InvalidByte(offset, _)) => offset,
            S::DecodeError(D::InvalidLastSymbol { offset, .. }) => offset,
            // Length and padding errors concern the end of the payload.
            _ => payload.len(),
        };
        SealError::Base64 { offset: base + at }
    })?;
    if n != 32 {
        return Err(SealError::KeyLength { found: n });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&buf[..32]);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod vectors {
        include!("../tests/rfc9180/vectors.rs");
    }

    fn unhex32(s: &str) -> [u8; 32] {
        array32(&credseal_core::unhex(s).unwrap())
    }

    /// Hands out exactly the given bytes, then panics: shows that `hpke` draws precisely
    /// `ikmE` (Nsk = 32 bytes) for the ephemeral key, as RFC 9180's vectors assume.
    struct FixedRng(Vec<u8>);

    impl hpke::rand_core::TryRng for FixedRng {
        type Error = Infallible;

        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            panic!("hpke asked for a u32")
        }

        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            panic!("hpke asked for a u64")
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            assert!(
                dst.len() <= self.0.len(),
                "more randomness drawn than the vector provides"
            );
            let rest = self.0.split_off(dst.len());
            dst.copy_from_slice(&self.0);
            self.0 = rest;
            Ok(())
        }
    }

    impl hpke::rand_core::TryCryptoRng for FixedRng {}

    #[test]
    fn rfc9180_suite_vector_deterministic_seal() {
        let v = &vectors::SUITE_KEM;
        let info = credseal_core::unhex(vectors::SUITE_INFO).unwrap();
        let aad = credseal_core::unhex(vectors::SUITE_AAD0).unwrap();
        let pt = credseal_core::unhex(vectors::SUITE_PT0).unwrap();
        let mut rng = FixedRng(credseal_core::unhex(v.ikm_e).unwrap());
        let sealed = seal_with_rng(&unhex32(v.pk_rm), &info, &aad, &pt, &mut rng).unwrap();
        assert!(rng.0.is_empty(), "the ephemeral key used all of ikmE");
        assert_eq!(credseal_core::hex(&sealed.enc), v.enc);
        assert_eq!(credseal_core::hex(&sealed.ciphertext), vectors::SUITE_CT0);
    }

    #[test]
    fn rfc9180_kem_vectors_deterministic_encap() {
        for v in &vectors::KEM_VECTORS {
            let mut rng = FixedRng(credseal_core::unhex(v.ikm_e).unwrap());
            let sealed = seal_with_rng(&unhex32(v.pk_rm), b"", b"", b"", &mut rng).unwrap();
            assert_eq!(credseal_core::hex(&sealed.enc), v.enc, "{}", v.name);
            // DeriveKeyPair(ikmR) gives skRm (up to clamping) and pkRm.
            let (sk, pk) = <Kem as hpke::Kem>::derive_keypair(&credseal_core::unhex(v.ikm_r).unwrap());
            let mut sk_rm = unhex32(v.sk_rm);
            clamp(&mut sk_rm);
            assert_eq!(sk.to_bytes().as_slice(), sk_rm, "{}", v.name);
            assert_eq!(credseal_core::hex(&pk.to_bytes()), v.pk_rm, "{}", v.name);
        }
    }

    #[test]
    fn every_blocklisted_point_is_refused_by_hpke_itself() {
        // Each entry of LOW_ORDER_POINTS makes the hpke crate's all-zero check fire, whatever
        // the ephemeral key: the list holds only genuinely low-order keys.
        for (i, point) in LOW_ORDER_POINTS.iter().enumerate() {
            for _ in 0..4 {
                assert_eq!(
                    seal_with_rng(point, b"info", b"", b"pt", &mut SystemRng).unwrap_err(),
                    SealError::NonContributory,
                    "low-order point {i}"
                );
            }
            assert_eq!(
                SealingPublicKey::from_bytes(point).unwrap_err(),
                SealError::LowOrderPublicKey
            );
        }
    }

    #[test]
    fn non_canonical_low_order_encodings_are_refused_as_non_canonical() {
        // p and p + 1 encode 0 and 1; with the top bit set, every low-order point again.
        for last in [0xed, 0xee] {
            let mut u = FIELD_PRIME;
            u[0] = last;
            assert_eq!(
                SealingPublicKey::from_bytes(&u).unwrap_err(),
                SealError::NonCanonicalPublicKey
            );
            assert_eq!(
                seal_with_rng(&u, b"", b"", b"", &mut SystemRng).unwrap_err(),
                SealError::NonContributory
            );
        }
        for point in LOW_ORDER_POINTS {
            let mut u = point;
            u[31] |= 0x80;
            assert_eq!(
                SealingPublicKey::from_bytes(&u).unwrap_err(),
                SealError::NonCanonicalPublicKey
            );
        }
    }

    #[test]
    fn system_rng_gives_fresh_ephemeral_keys() {
        let pk = SealingKey::generate().public();
        let a = seal(&pk, b"", b"", b"same").unwrap();
        let b = seal(&pk, b"", b"", b"same").unwrap();
        assert_ne!(a.enc, b.enc);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn public_key_serde_binary_is_raw_bytes_and_validates() {
        let pk = SealingKey::from_bytes([9; 32]).public();
        let bin = postcard::to_allocvec(&pk).unwrap();
        assert_eq!(bin, pk.to_bytes());
        assert_eq!(postcard::from_bytes::<SealingPublicKey>(&bin).unwrap(), pk);
        assert!(postcard::from_bytes::<SealingPublicKey>(&[0u8; 32]).is_err());
    }
}
