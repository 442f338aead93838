//! Ed25519 keys: the secret [`SigningKey`] and the validated [`PublicKey`], with their text
//! forms `cs1.signing-key.<b64url>` and `cs1.public-key.<b64url>`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use ed25519_dalek::Signer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::FormatError;
use crate::wire::{TEXT_PREFIX, b64_decode, b64_encode};

/// Label of the text form of a [`SigningKey`]: `cs1.signing-key.<b64url(seed)>`.
pub const SIGNING_KEY_LABEL: &str = "signing-key";
/// Label of the text form of a [`PublicKey`]: `cs1.public-key.<b64url(key)>`.
pub const PUBLIC_KEY_LABEL: &str = "public-key";

/// An Ed25519 signing key (the authority's, a department's or a subject's).
///
/// The 32-byte seed is wiped when the key is dropped. `Debug` prints only the public key.
/// There is deliberately no `Clone`, `PartialEq` or `Serialize`: reading the secret is an
/// explicit [`SigningKey::expose_secret`] call.
pub struct SigningKey {
    // ed25519-dalek's key zeroizes itself on drop (its `zeroize` feature is on).
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Panics
    /// If the operating system's random number generator fails: there is no safe way to
    /// continue without randomness (the same policy as `credseal_crypto::fill_random`).
    pub fn generate() -> Self {
        use ring::rand::SecureRandom;
        let mut seed = Zeroizing::new([0u8; 32]);
        ring::rand::SystemRandom::new()
            .fill(&mut seed[..])
            // Cannot fail: the OS random number generator failing is unrecoverable; no key may be made without it.
            .expect("the operating system's random number generator failed");
        Self::from_seed(&seed)
    }

    /// The key whose RFC 8032 secret seed is `seed` (the caller wipes its copy).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            inner: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The 32-byte RFC 8032 secret seed. Every read of the secret goes through here.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.inner.as_bytes()
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        let vk = self.inner.verifying_key();
        PublicKey {
            bytes: vk.to_bytes(),
            vk,
        }
    }

    /// Signs `msg` as is. Crate-internal: every signature credseal makes goes through
    /// [`crate::sign`], which adds the domain-separation prefix.
    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.inner.sign(msg).to_bytes()
    }

    /// The text form `cs1.signing-key.<b64url(seed)>`, for a key file. The returned string
    /// is wiped when dropped.
    pub fn to_text(&self) -> Zeroizing<String> {
        let b64 = Zeroizing::new(b64_encode(self.expose_secret()));
        // Sized up front so that no reallocation leaves a copy of the secret behind.
        let mut text = Zeroizing::new(String::with_capacity(key_payload_offset(SIGNING_KEY_LABEL) + b64.len()));
        text.push_str(TEXT_PREFIX);
        text.push('.');
        text.push_str(SIGNING_KEY_LABEL);
        text.push('.');
        text.push_str(&b64);
        text
    }

    /// Parses the text form written by [`SigningKey::to_text`]. Surrounding whitespace (a
    /// trailing newline in a key file) is ignored; anything else must be exact.
    pub fn from_text(text: &str) -> Result<Self, FormatError> {
        let payload = key_payload(text.trim(), SIGNING_KEY_LABEL)?;
        let bytes = Zeroizing::new(b64_decode(payload, key_payload_offset(SIGNING_KEY_LABEL))?);
        let seed: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| FormatError::KeyLength { found: bytes.len() })?;
        Ok(Self::from_seed(seed))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

fn key_payload<'a>(text: &'a str, label: &str) -> Result<&'a str, FormatError> {
    let rest = text
        .strip_prefix(TEXT_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or(FormatError::WrongPrefix)?;
    let (found, payload) = rest.split_once('.').ok_or(FormatError::WrongPrefix)?;
    if found != label {
        return Err(FormatError::WrongKeyLabel {
            expected: if label == SIGNING_KEY_LABEL {
                SIGNING_KEY_LABEL
            } else {
                PUBLIC_KEY_LABEL
            },
        });
    }
    Ok(payload)
}

fn key_payload_offset(label: &str) -> usize {
    TEXT_PREFIX.len() + 1 + label.len() + 1
}

/// A validated Ed25519 public key.
///
/// Construction ([`PublicKey::from_bytes`], parsing, deserialising) rejects encodings that
/// are not points, non-canonical encodings (a y coordinate ≥ p) and keys of small order, so
/// a `PublicKey` value is always a key that strict verification can use. Equality, order
/// and hashing are on the 32 encoded bytes.
///
/// Serialised as 32 raw bytes by binary serialisers (postcard) and as lower-case hex by
/// human-readable ones (JSON).
#[derive(Clone, Copy)]
pub struct PublicKey {
    bytes: [u8; 32],
    // The decompressed point, kept so that verification does not decompress it again.
    // Invariant: `vk` is the decompression of `bytes`.
    vk: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Validates `bytes` as an Ed25519 public key.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, FormatError> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| FormatError::InvalidPublicKey)?;
        // `decompress` reduces a non-canonical y (≥ p) silently; insist on the canonical
        // encoding so that one key has exactly one byte string.
        if vk.to_edwards().compress().to_bytes() != *bytes || vk.is_weak() {
            return Err(FormatError::InvalidPublicKey);
        }
        Ok(Self { bytes: *bytes, vk })
    }

    /// Like [`PublicKey::from_bytes`] for a slice, which must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, FormatError> {
        let b: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| FormatError::KeyLength { found: bytes.len() })?;
        Self::from_bytes(b)
    }

    /// The 32 encoded bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.bytes
    }

    /// The 32 encoded bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Lower-case hex of the encoded key.
    pub fn to_hex(&self) -> String {
        credseal_core::hex(&self.bytes)
    }

    /// The text form `cs1.public-key.<b64url(key)>`.
    pub fn to_text(&self) -> String {
        format!("{TEXT_PREFIX}.{PUBLIC_KEY_LABEL}.{}", b64_encode(&self.bytes))
    }

    /// Parses the text form written by [`PublicKey::to_text`]. Surrounding whitespace is
    /// ignored; anything else must be exact.
    pub fn from_text(text: &str) -> Result<Self, FormatError> {
        let payload = key_payload(text.trim(), PUBLIC_KEY_LABEL)?;
        let bytes = b64_decode(payload, key_payload_offset(PUBLIC_KEY_LABEL))?;
        Self::from_slice(&bytes)
    }

    pub(crate) fn verifying_key(&self) -> &ed25519_dalek::VerifyingKey {
        &self.vk
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for PublicKey {}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.bytes.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes: [u8; 32] = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            credseal_core::unhex(&s)
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| D::Error::custom("a public key is 64 hex digits"))?
        } else {
            <[u8; 32]>::deserialize(d)?
        };
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1, TEST 1.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PK: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn seed() -> [u8; 32] {
        credseal_core::unhex(RFC8032_SEED).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_test1_known_answer() {
        let sk = SigningKey::from_seed(&seed());
        assert_eq!(sk.public().to_hex(), RFC8032_PK);
        assert_eq!(credseal_core::hex(&sk.sign_raw(b"")), RFC8032_SIG);
    }

    #[test]
    fn signing_key_text_round_trip_and_debug_hides_secret() {
        let sk = SigningKey::from_seed(&seed());
        let text = sk.to_text();
        assert!(text.starts_with("cs1.signing-key."));
        let back = SigningKey::from_text(&format!("{}\n", text.as_str())).unwrap();
        assert_eq!(back.expose_secret(), &seed());
        let dbg = format!("{sk:?}");
        assert!(dbg.contains(RFC8032_PK), "{dbg}");
        assert!(!dbg.contains(RFC8032_SEED), "{dbg}");
    }

    #[test]
    fn public_key_text_round_trip() {
        let pk = SigningKey::from_seed(&seed()).public();
        assert_eq!(PublicKey::from_text(&pk.to_text()).unwrap(), pk);
        assert_eq!(format!("{pk}"), RFC8032_PK);
    }

    #[test]
    fn key_text_wrong_label_is_rejected() {
        let sk = SigningKey::from_seed(&seed());
        assert_eq!(
            SigningKey::from_text(&sk.public().to_text()).unwrap_err(),
            FormatError::WrongKeyLabel {
                expected: SIGNING_KEY_LABEL
            }
        );
        assert_eq!(
            PublicKey::from_text(&sk.to_text()).unwrap_err(),
            FormatError::WrongKeyLabel {
                expected: PUBLIC_KEY_LABEL
            }
        );
        assert_eq!(
            PublicKey::from_text("cs2.public-key.AAAA").unwrap_err(),
            FormatError::WrongPrefix
        );
    }

    #[test]
    fn key_text_padding_and_wrong_length_rejected() {
        let pk = SigningKey::from_seed(&seed()).public();
        let padded = format!("{}=", pk.to_text());
        assert!(matches!(PublicKey::from_text(&padded), Err(FormatError::Base64 { .. })));
        let short = format!("cs1.public-key.{}", b64_encode(&[1u8; 31]));
        assert_eq!(
            PublicKey::from_text(&short).unwrap_err(),
            FormatError::KeyLength { found: 31 }
        );
    }

    #[test]
    fn small_order_and_non_canonical_public_keys_rejected() {
        // The identity point (small order).
        let mut id = [0u8; 32];
        id[0] = 1;
        assert_eq!(PublicKey::from_bytes(&id).unwrap_err(), FormatError::InvalidPublicKey);
        // y = p + 1 (non-canonical encoding of y = 1, the identity).
        let mut nc = [0xffu8; 32];
        nc[0] = 0xee;
        nc[31] = 0x7f;
        assert_eq!(PublicKey::from_bytes(&nc).unwrap_err(), FormatError::InvalidPublicKey);
        // y = p + 2 would be non-canonical for y = 2 (if 2 is on the curve at all).
        let mut nc2 = nc;
        nc2[0] = 0xef;
        assert!(PublicKey::from_bytes(&nc2).is_err());
    }

    #[test]
    fn public_key_serde_binary_and_json() {
        let pk = SigningKey::from_seed(&seed()).public();
        let bin = postcard::to_allocvec(&pk).unwrap();
        assert_eq!(bin, pk.to_bytes());
        assert_eq!(postcard::from_bytes::<PublicKey>(&bin).unwrap(), pk);
        let json = serde_json::to_string(&pk).unwrap();
        assert_eq!(json, format!("\"{RFC8032_PK}\""));
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), pk);
        let mut bad = pk.to_bytes();
        bad[0] = 1;
        bad[1..].fill(0);
        assert!(postcard::from_bytes::<PublicKey>(&bad).is_err());
    }
}
