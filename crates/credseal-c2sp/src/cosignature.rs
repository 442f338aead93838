//! C2SP `tlog-cosignature` (`c2sp.org/tlog-cosignature`), Ed25519 `cosignature/v1`: a
//! witness's (cosigner's) timestamped statement that a checkpoint is the largest consistent
//! tree it has seen of that log.
//!
//! ```text
//! key id   = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ Ed25519 public key)[0..4]
//! message  = "cosignature/v1\n" ‖ "time " ‖ decimal(timestamp) ‖ "\n" ‖ checkpoint body
//! sig-line = "— " ‖ name ‖ " " ‖ base64(key id (4) ‖ timestamp (8, big-endian) ‖ Ed25519(message) (64)) ‖ "\n"
//! vkey     = name ‖ "+" ‖ hex8(key id) ‖ "+" ‖ base64(0x04 ‖ public key)
//! skey     = "PRIVATE+KEY+" ‖ name ‖ "+" ‖ hex8(key id) ‖ "+" ‖ base64(0x04 ‖ seed)
//! ```
//! The checkpoint body is the note text with its final newline and without signature lines.
//! The timestamp is POSIX seconds, `1 ..= 2^63 - 1` (0 would mean "no statement of time",
//! which `tlog-witness` forbids). The signature line is an ordinary signed-note line, so a
//! cosigned checkpoint is still a note that Go's `note.Open` reads and a log's
//! [`crate::NoteVerifier`] verifies (it ignores the cosigner's line).

use std::fmt;

use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::b64::b64std_encode;
use crate::merkle::sha256;
use crate::note::{check_key_name, check_note_text, signature_line, split_key_text_raw};
use crate::{FormatError, NoteError, SignedNote};

/// The signed-note signature type (key id algorithm byte) of Ed25519 `cosignature/v1` keys.
pub const COSIGNATURE_V1_ALG: u8 = 0x04;

/// The domain-separation header line of the signed message.
const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Length of a cosignature after the key id: timestamp (8) ‖ Ed25519 signature (64).
const COSIGNATURE_LEN: usize = 8 + 64;

/// The largest timestamp allowed (2^63 - 1).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The C2SP key id of an Ed25519 cosigner: the first four bytes, big-endian, of
/// `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)`.
pub fn cosignature_key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut m = Vec::with_capacity(name.len() + 2 + 32);
    m.extend_from_slice(name.as_bytes());
    m.push(b'\n');
    m.push(COSIGNATURE_V1_ALG);
    m.extend_from_slice(public);
    let h = sha256(&m);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// The message an Ed25519 `cosignature/v1` signs: `"cosignature/v1\ntime {timestamp}\n"`
/// followed by the checkpoint body (the note text, with its final newline, without signature
/// lines).
pub fn cosigned_message(checkpoint_body: &str, timestamp: u64) -> String {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_body}")
}

fn check_timestamp(timestamp: u64) -> Result<(), FormatError> {
    if timestamp == 0 || timestamp > MAX_TIMESTAMP {
        return Err(FormatError::Cosignature {
            reason: "the timestamp must be between 1 and 2^63-1",
        });
    }
    Ok(())
}

/// A valid Ed25519 public key: canonical encoding, not of small order (as
/// [`crate::NoteVerifier::new`] requires).
fn verifying_key(public: &[u8; 32]) -> Result<ed25519_dalek::VerifyingKey, FormatError> {
    let invalid = FormatError::KeyText {
        reason: "not a valid Ed25519 public key",
    };
    let vk = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| invalid.clone())?;
    if vk.to_edwards().compress().to_bytes() != *public || vk.is_weak() {
        return Err(invalid);
    }
    Ok(vk)
}

fn vkey_text(name: &str, key_id: u32, public: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = COSIGNATURE_V1_ALG;
    raw[1..].copy_from_slice(public);
    format!("{name}+{key_id:08x}+{}", b64std_encode(&raw))
}

/// Splits a cosigner key text `name+hex8+base64(0x04 ‖ 32 bytes)` into name, key id and the
/// 32 bytes (wiped on drop: they may be a seed). Another type byte is refused.
fn split_cosigner_key_text(text: &str) -> Result<(&str, u32, Zeroizing<[u8; 32]>), FormatError> {
    let bad = |reason| FormatError::KeyText { reason };
    let (name, key_id, raw) = split_key_text_raw(text)?;
    match raw.split_first() {
        Some((&COSIGNATURE_V1_ALG, key)) if key.len() == 32 => {
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(key);
            Ok((name, key_id, out))
        }
        Some((&COSIGNATURE_V1_ALG, _)) => Err(bad("an Ed25519 cosigner key is 32 bytes")),
        Some((&crate::ED25519_SIGNATURE_TYPE, _)) => Err(bad(
            "not a cosigner key: type 0x01 is a note signer (log) key; a cosigner key has type 0x04",
        )),
        _ => Err(bad("not an Ed25519 cosigner (type 0x04) key")),
    }
}

/// An Ed25519 cosigner (witness) key: makes `cosignature/v1` signature lines on checkpoints.
///
/// Holds the key (wiped on drop). `Debug` prints the verifier key only.
pub struct CosignerKey {
    name: String,
    key: ed25519_dalek::SigningKey,
    key_id: u32,
}

impl CosignerKey {
    /// The cosigner named `name` (checked with [`check_key_name`]) whose RFC 8032 secret seed
    /// is `seed` (the caller wipes its copy).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, FormatError> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        Ok(Self {
            name: name.to_string(),
            key_id: cosignature_key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex8 key id>+base64(0x04 ‖ seed)` (the Go note private key
    /// convention with the cosignature type byte; a final newline is ignored). Refused:
    /// another type byte (a log's `0x01` signer key), a key id that does not match the key,
    /// an invalid name.
    pub fn from_key_text(text: &str) -> Result<Self, FormatError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(FormatError::KeyText {
                reason: "a cosigner key starts with PRIVATE+KEY+",
            })?;
        let (name, key_id, seed) = split_cosigner_key_text(rest)?;
        let key = Self::from_seed(name, &seed)?;
        if key.key_id != key_id {
            return Err(FormatError::KeyText {
                reason: "the key id does not match the key",
            });
        }
        Ok(key)
    }

    /// The key text `PRIVATE+KEY+<name>+<hex8 key id>+base64(0x04 ‖ seed)`
    /// ([`CosignerKey::from_key_text`] reads it). Wiped when dropped.
    pub fn to_key_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 33]);
        raw[0] = COSIGNATURE_V1_ALG;
        raw[1..].copy_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(b64std_encode(&raw[..]));
        let mut text = Zeroizing::new(String::with_capacity(12 + self.name.len() + 10 + b64.len()));
        text.push_str("PRIVATE+KEY+");
        text.push_str(&self.name);
        text.push_str(&format!("+{:08x}+", self.key_id));
        text.push_str(&b64);
        text
    }

    /// The cosigner's name (its key name in signature lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id ([`cosignature_key_id`]).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            public: self.public_key(),
            vk: self.key.verifying_key(),
        }
    }

    /// The verifier key text `<name>+<hex8 key id>+base64(0x04 ‖ public key)`.
    pub fn vkey(&self) -> String {
        vkey_text(&self.name, self.key_id, self.key.verifying_key().as_bytes())
    }

    /// One note signature line `— <name> base64(key id ‖ timestamp ‖ signature)\n`: the
    /// cosignature at `timestamp` (POSIX seconds, `1 ..= 2^63 - 1`) of `checkpoint_body`, the
    /// note text without signature lines (newline-terminated, no control characters other
    /// than newline). Append it to the signed checkpoint.
    pub fn cosign(&self, checkpoint_body: &str, timestamp: u64) -> Result<String, FormatError> {
        check_timestamp(timestamp)?;
        check_note_text(checkpoint_body)?;
        let msg = cosigned_message(checkpoint_body, timestamp);
        let sig = self.key.sign(msg.as_bytes()).to_bytes();
        let mut raw = [0u8; COSIGNATURE_LEN];
        raw[..8].copy_from_slice(&timestamp.to_be_bytes());
        raw[8..].copy_from_slice(&sig);
        Ok(signature_line(&self.name, self.key_id, &raw))
    }
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosignerKey")
            .field("vkey", &self.vkey())
            .finish_non_exhaustive()
    }
}

/// The public half of a cosigner: checks its `cosignature/v1` lines on a checkpoint note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    public: [u8; 32],
    vk: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    /// The verifier of the cosigner named `name` (checked with [`check_key_name`]) with the
    /// Ed25519 public key `public` (canonical, not of small order).
    pub fn new(name: &str, public: &[u8; 32]) -> Result<Self, FormatError> {
        check_key_name(name)?;
        let vk = verifying_key(public)?;
        Ok(Self {
            name: name.to_string(),
            key_id: cosignature_key_id(name, public),
            public: *public,
            vk,
        })
    }

    /// Parses `<name>+<hex8 key id>+base64(0x04 ‖ public key)` (surrounding whitespace is
    /// ignored). Refused: another type byte — a log's `0x01` verifier key is not a cosigner
    /// key —, a key id that does not match, an invalid name or key.
    pub fn from_vkey(text: &str) -> Result<Self, FormatError> {
        let (name, key_id, public) = split_cosigner_key_text(text.trim())?;
        let v = Self::new(name, &public)?;
        if v.key_id != key_id {
            return Err(FormatError::KeyText {
                reason: "the key id does not match the key",
            });
        }
        Ok(v)
    }

    /// The verifier key text `<name>+<hex8 key id>+base64(0x04 ‖ public key)`.
    pub fn vkey(&self) -> String {
        vkey_text(&self.name, self.key_id, &self.public)
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public
    }

    /// The timestamp of this cosigner's cosignature on `note`.
    ///
    /// `Ok(Some(t))` when the note carries a line with this name and key id and every such
    /// line verifies (Ed25519 strict, over [`cosigned_message`] of the note text; with more
    /// than one, the latest timestamp); `Ok(None)` when it carries none (lines of other keys
    /// are ignored); an error when such a line is malformed (not key id ‖ 8-byte timestamp ‖
    /// 64-byte signature, or a timestamp of 0 or above 2^63 - 1) or does not verify. The
    /// note's own signatures (the log's) are not checked here.
    pub fn verify(&self, note: &SignedNote) -> Result<Option<u64>, NoteError> {
        let mut latest = None;
        for s in note.signatures() {
            if s.name() != self.name || s.key_id() != self.key_id {
                continue;
            }
            let raw: &[u8; COSIGNATURE_LEN] = s.signature().try_into().map_err(|_| FormatError::Cosignature {
                reason: "a cosignature/v1 is a key id, an 8-byte timestamp and a 64-byte signature",
            })?;
            let (ts, sig) = raw.split_at(8);
            // Cannot fail: split_at(8) of 72 bytes.
            let timestamp = u64::from_be_bytes(ts.try_into().expect("8 bytes"));
            check_timestamp(timestamp)?;
            // Cannot fail: the 64 bytes after the timestamp of a 72-byte cosignature.
            let sig: &[u8; 64] = sig.try_into().expect("64 bytes");
            let msg = cosigned_message(note.text(), timestamp);
            self.vk
                .verify_strict(msg.as_bytes(), &ed25519_dalek::Signature::from_bytes(sig))
                .map_err(|_| NoteError::BadSignature)?;
            latest = latest.max(Some(timestamp));
        }
        Ok(latest)
    }
}

#[cfg(test)]
mod tests;
