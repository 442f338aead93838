//! C2SP signed notes (`c2sp.org/signed-note`), the envelope of checkpoints, with Ed25519 keys
//! (signature type `0x01`) as Go's `golang.org/x/mod/sumdb/note` writes and reads them.
//!
//! ```text
//! note      = text ‖ "\n" ‖ 1*signature-line        (text ends in "\n")
//! sig-line  = "— " ‖ key name ‖ " " ‖ base64(key id (4, big-endian) ‖ signature) ‖ "\n"
//! key id    = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ Ed25519 public key)[0..4]
//! vkey      = key name ‖ "+" ‖ hex8(key id) ‖ "+" ‖ base64(0x01 ‖ public key)
//! skey      = "PRIVATE+KEY+" ‖ key name ‖ "+" ‖ hex8(key id) ‖ "+" ‖ base64(0x01 ‖ seed)
//! ```
//! The em dash is U+2014; base64 is standard with padding; `hex8` is 8 lower-case hex digits.

use std::fmt;

use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::b64::{b64std_decode, b64std_encode};
use crate::merkle::sha256;
use crate::{FormatError, NoteError};

/// Largest note accepted, in bytes. A checkpoint with a handful of signatures is a few
/// hundred bytes; this leaves room for the 16 (post-quantum sized) signatures C2SP asks
/// verifiers to accept.
pub const MAX_NOTE_LEN: usize = 128 * 1024;

/// Largest number of signature lines accepted in one note (Go's `note.Open` limit).
pub const MAX_NOTE_SIGNATURES: usize = 100;

/// The C2SP signed-note signature type of Ed25519 keys.
pub const ED25519_SIGNATURE_TYPE: u8 = 0x01;

/// The separator between a signature line's em dash and key name.
const SIG_PREFIX: &str = "\u{2014} ";

/// Checks the name of a key this crate makes or parses from key text ([`NoteSigner`],
/// [`NoteVerifier`], and the origin of a [`crate::Checkpoint`] signed under it): a C2SP key
/// name (non-empty, no Unicode whitespace, no `+`) without control characters either.
/// Signature lines of other keys in a parsed note follow the C2SP rule only.
pub fn check_key_name(name: &str) -> Result<(), FormatError> {
    check_c2sp_name(name)?;
    if name.chars().any(char::is_control) {
        return Err(FormatError::KeyName {
            reason: "contains a control character",
        });
    }
    Ok(())
}

/// The C2SP signed-note rule for key names (Go's `isValidName`): non-empty, no Unicode
/// whitespace, no `+`. Signature lines of other keys are parsed with this rule only.
fn check_c2sp_name(name: &str) -> Result<(), FormatError> {
    if name.is_empty() {
        return Err(FormatError::KeyName { reason: "empty" });
    }
    if name.chars().any(char::is_whitespace) {
        return Err(FormatError::KeyName {
            reason: "contains whitespace",
        });
    }
    if name.contains('+') {
        return Err(FormatError::KeyName { reason: "contains '+'" });
    }
    Ok(())
}

/// The C2SP key id of an Ed25519 key: the first four bytes, big-endian, of
/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`.
pub fn ed25519_key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut m = Vec::with_capacity(name.len() + 2 + 32);
    m.extend_from_slice(name.as_bytes());
    m.push(b'\n');
    m.push(ED25519_SIGNATURE_TYPE);
    m.extend_from_slice(public);
    let h = sha256(&m);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// One signature line of a note. Nothing about it is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key id (64 bytes for Ed25519).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// A syntactically valid signed note whose signatures have **not** been verified.
/// [`NoteVerifier::verify`] checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses a signed note (C2SP signed-note; the rules of Go's `note.Open`, stricter in
    /// base64: only the canonical encoding is accepted).
    ///
    /// Rejected: more than [`MAX_NOTE_LEN`] bytes; ASCII control characters other than
    /// newline; no blank line; a signature block that is empty or not newline-terminated; a
    /// signature line not of the form `— <name> <base64>`; an invalid key name; base64 that
    /// is not canonical standard base64 or decodes to fewer than 5 bytes; more than
    /// [`MAX_NOTE_SIGNATURES`] signatures. The text is everything up to and including the
    /// newline before the last blank line.
    pub fn parse(msg: &str) -> Result<Self, FormatError> {
        if msg.len() > MAX_NOTE_LEN {
            return Err(FormatError::TooLarge {
                what: "signed note",
                len: msg.len(),
                max: MAX_NOTE_LEN,
            });
        }
        if let Some(offset) = msg.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(FormatError::Note {
                offset,
                reason: "control character",
            });
        }
        let split = msg.rfind("\n\n").ok_or(FormatError::Note {
            offset: msg.len(),
            reason: "no blank line before the signatures",
        })?;
        let text = &msg[..split + 1];
        let sigs = &msg[split + 2..];
        if sigs.is_empty() {
            return Err(FormatError::Note {
                offset: msg.len(),
                reason: "no signature lines",
            });
        }
        if !sigs.ends_with('\n') {
            return Err(FormatError::Note {
                offset: msg.len(),
                reason: "the last signature line does not end in a newline",
            });
        }
        let mut signatures = Vec::new();
        let mut offset = split + 2;
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() == MAX_NOTE_SIGNATURES {
                return Err(FormatError::Note {
                    offset,
                    reason: "too many signatures",
                });
            }
            signatures.push(parse_signature_line(line, offset)?);
            offset += line.len() + 1;
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// Parses a note given as bytes, which must be UTF-8.
    pub fn parse_bytes(msg: &[u8]) -> Result<Self, FormatError> {
        let s = std::str::from_utf8(msg).map_err(|e| FormatError::Note {
            offset: e.valid_up_to(),
            reason: "invalid UTF-8",
        })?;
        Self::parse(s)
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }
}

fn parse_signature_line(line: &str, offset: usize) -> Result<NoteSignature, FormatError> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(FormatError::Note {
        offset,
        reason: "a signature line does not start with an em dash and a space",
    })?;
    let (name, b64) = rest.split_once(' ').ok_or(FormatError::Note {
        offset,
        reason: "a signature line has no space between key name and signature",
    })?;
    check_c2sp_name(name).map_err(|_| FormatError::Note {
        offset: offset + SIG_PREFIX.len(),
        reason: "invalid key name in a signature line",
    })?;
    let b64_at = offset + SIG_PREFIX.len() + name.len() + 1;
    if b64.is_empty() {
        return Err(FormatError::Note {
            offset: b64_at,
            reason: "empty signature",
        });
    }
    let raw = b64std_decode(b64, "signed note", b64_at)?;
    if raw.len() < 5 {
        return Err(FormatError::Note {
            offset: b64_at,
            reason: "signature shorter than a key id and one byte",
        });
    }
    Ok(NoteSignature {
        name: name.to_string(),
        key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

/// One signature line: `— <name> <base64(key id ‖ signature)>\n`.
pub(crate) fn signature_line(name: &str, key_id: u32, signature: &[u8]) -> String {
    let mut raw = Vec::with_capacity(4 + signature.len());
    raw.extend_from_slice(&key_id.to_be_bytes());
    raw.extend_from_slice(signature);
    format!("{SIG_PREFIX}{name} {}\n", b64std_encode(&raw))
}

/// The verifier key text `name+hex8(key id)+base64(0x01 ‖ public key)`.
fn verifier_key_text(name: &str, key_id: u32, public: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = ED25519_SIGNATURE_TYPE;
    raw[1..].copy_from_slice(public);
    format!("{name}+{key_id:08x}+{}", b64std_encode(&raw))
}

/// Splits `name+hex8+base64` into the name (checked with [`check_key_name`]), the key id and
/// the decoded key bytes, type byte first (wipe them if they are a secret). Nothing about the
/// type or the key is checked here.
pub(crate) fn split_key_text_raw(text: &str) -> Result<(&str, u32, Zeroizing<Vec<u8>>), FormatError> {
    let bad = |reason| FormatError::KeyText { reason };
    let (name, rest) = text.split_once('+').ok_or(bad("expected name+keyid+key"))?;
    let (id_hex, b64) = rest.split_once('+').ok_or(bad("expected name+keyid+key"))?;
    check_key_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad("the key id is not 8 lower-case hex digits"));
    }
    let key_id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("the key id is not 8 lower-case hex digits"))?;
    let raw = Zeroizing::new(b64std_decode(b64, "key text", name.len() + id_hex.len() + 2)?);
    Ok((name, key_id, raw))
}

/// Splits `name+hex8+base64` into the name, the key id and the 32 key bytes after the type
/// byte `0x01`. The key id is **not** checked against the key here.
fn split_key_text(text: &str) -> Result<(&str, u32, Vec<u8>), FormatError> {
    let bad = |reason| FormatError::KeyText { reason };
    let (name, key_id, raw) = split_key_text_raw(text)?;
    match raw.split_first() {
        Some((&ED25519_SIGNATURE_TYPE, key)) if key.len() == 32 => Ok((name, key_id, key.to_vec())),
        Some((&ED25519_SIGNATURE_TYPE, _)) => Err(bad("an Ed25519 key is 32 bytes")),
        Some((&crate::cosignature::COSIGNATURE_V1_ALG, _)) => Err(bad(
            "a cosigner (witness) key of type 0x04, not an Ed25519 note signer key of type 0x01",
        )),
        _ => Err(bad("not an Ed25519 (type 0x01) key")),
    }
}

/// Checks a note text before signing it (Go's `note.Sign`): non-empty, newline-terminated,
/// no ASCII control characters other than newline.
pub(crate) fn check_note_text(text: &str) -> Result<(), FormatError> {
    if !text.ends_with('\n') {
        return Err(FormatError::Note {
            offset: text.len(),
            reason: "the text to sign does not end in a newline",
        });
    }
    if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
        return Err(FormatError::Note {
            offset,
            reason: "control character",
        });
    }
    Ok(())
}

/// An Ed25519 note key (C2SP signed-note signature type `0x01`): signs note texts under its
/// key name, as Go's `note.NewSigner` does.
///
/// Holds the key (wiped on drop). `Debug` prints the verifier key only.
pub struct NoteSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
    key_id: u32,
}

impl NoteSigner {
    /// The signer named `name` (checked with [`check_key_name`]) whose RFC 8032 secret seed
    /// is `seed` (the caller wipes its copy).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, FormatError> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        Ok(Self {
            name: name.to_string(),
            key_id: ed25519_key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses a C2SP / Go signer key `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 ‖ seed)>`
    /// (a final newline is ignored); the key id must match the key.
    pub fn from_signer_key_text(text: &str) -> Result<Self, FormatError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(FormatError::KeyText {
                reason: "a signer key starts with PRIVATE+KEY+",
            })?;
        let (name, key_id, seed) = split_key_text(rest)?;
        let seed = Zeroizing::new(seed);
        // Cannot fail: split_key_text returns exactly 32 seed bytes or an error.
        let seed: &[u8; 32] = seed.as_slice().try_into().expect("split_key_text checked 32 bytes");
        let signer = Self::from_seed(name, seed)?;
        if signer.key_id != key_id {
            return Err(FormatError::KeyText {
                reason: "the key id does not match the key",
            });
        }
        Ok(signer)
    }

    /// The signer key text `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 ‖ seed)>`, readable by
    /// Go's `note.NewSigner`. Wiped when dropped.
    pub fn to_signer_key_text(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 33]);
        raw[0] = ED25519_SIGNATURE_TYPE;
        raw[1..].copy_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(b64std_encode(&raw[..]));
        let mut text = Zeroizing::new(String::with_capacity(12 + self.name.len() + 10 + b64.len()));
        text.push_str("PRIVATE+KEY+");
        text.push_str(&self.name);
        text.push_str(&format!("+{:08x}+", self.key_id));
        text.push_str(&b64);
        text
    }

    /// The RFC 8032 secret seed. Read it only to hand the same key to another signer of
    /// your own (a log that also signs other messages with it under its own domain).
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The verifier key text `<name>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        verifier_key_text(&self.name, self.key_id, self.key.verifying_key().as_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            vk: self.key.verifying_key(),
        }
    }

    /// Signs a note text: `text ‖ "\n" ‖ "— " ‖ name ‖ " " ‖ base64(key id ‖ Ed25519(key,
    /// text)) ‖ "\n"`. The text must be non-empty, end in a newline and hold no ASCII
    /// control character other than newline.
    pub fn sign(&self, text: &str) -> Result<String, FormatError> {
        let line = self.signature_line(text)?;
        let mut note = String::with_capacity(text.len() + 1 + line.len());
        note.push_str(text);
        note.push('\n');
        note.push_str(&line);
        Ok(note)
    }

    /// The signature line `— <name> <base64(key id ‖ Ed25519(key, text))>\n` of a note text
    /// (the rules of [`NoteSigner::sign`]), to add beside other signers' lines (cosignatures,
    /// key handovers).
    pub fn signature_line(&self, text: &str) -> Result<String, FormatError> {
        check_note_text(text)?;
        let sig = self.key.sign(text.as_bytes()).to_bytes();
        Ok(signature_line(&self.name, self.key_id, &sig))
    }
}

/// The signature line `— <name> <base64(key id ‖ signature)>\n` of `text` for an Ed25519
/// key held elsewhere (a hardware token): checks the text by the rules of
/// [`NoteSigner::sign`], then asks `sign` for the signature over its bytes. `key_id` is
/// [`ed25519_key_id`] of the name and the key's public half.
pub fn external_signature_line<E>(
    name: &str,
    key_id: u32,
    text: &str,
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<Result<String, E>, FormatError> {
    check_key_name(name)?;
    check_note_text(text)?;
    Ok(sign(text.as_bytes()).map(|sig| signature_line(name, key_id, &sig)))
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("vkey", &self.vkey())
            .finish_non_exhaustive()
    }
}

/// Verifies the signatures of one Ed25519 note key (Go's `note.NewVerifier`): its key name,
/// key id and public key.
#[derive(Clone)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    vk: ed25519_dalek::VerifyingKey,
}

impl NoteVerifier {
    /// The verifier of the key named `name` (checked with [`check_key_name`]) with the
    /// Ed25519 public key `public`, which must be a canonical encoding of a point that is
    /// not of small order.
    pub fn new(name: &str, public: &[u8; 32]) -> Result<Self, FormatError> {
        check_key_name(name)?;
        let invalid = FormatError::KeyText {
            reason: "not a valid Ed25519 public key",
        };
        let vk = ed25519_dalek::VerifyingKey::from_bytes(public).map_err(|_| invalid.clone())?;
        // `decompress` reduces a non-canonical y (≥ p) silently: one key, one byte string.
        if vk.to_edwards().compress().to_bytes() != *public || vk.is_weak() {
            return Err(invalid);
        }
        Ok(Self {
            name: name.to_string(),
            key_id: ed25519_key_id(name, public),
            vk,
        })
    }

    /// Parses a verifier key `<name>+<hex8 id>+<base64(0x01 ‖ public key)>` (Go's
    /// `note.NewVerifier` format); the key must be valid ([`NoteVerifier::new`]) and the key
    /// id must match it. Surrounding whitespace is ignored.
    pub fn from_vkey(text: &str) -> Result<Self, FormatError> {
        let (name, key_id, key) = split_key_text(text.trim())?;
        // Cannot fail: split_key_text returns exactly 32 key bytes or an error.
        let key: [u8; 32] = key.try_into().expect("split_key_text checked 32 bytes");
        let v = Self::new(name, &key)?;
        if v.key_id != key_id {
            return Err(FormatError::KeyText {
                reason: "the key id does not match the key",
            });
        }
        Ok(v)
    }

    /// The verifier key text `<name>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        verifier_key_text(&self.name, self.key_id, self.vk.as_bytes())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.vk.as_bytes()
    }

    /// Verifies a signed note: it must parse ([`SignedNote::parse`]), carry at least one
    /// signature line with this key's name and key id, and every such line must verify
    /// (Ed25519 strict, over the note text). Lines of other keys are ignored (C2SP
    /// signed-note).
    pub fn verify(&self, msg: &str) -> Result<SignedNote, NoteError> {
        let note = SignedNote::parse(msg)?;
        let mut ours = 0;
        for s in note.signatures() {
            if s.name() == self.name && s.key_id() == self.key_id {
                let ok = <&[u8; 64]>::try_from(s.signature()).is_ok_and(|sig| {
                    self.vk
                        .verify_strict(note.text().as_bytes(), &ed25519_dalek::Signature::from_bytes(sig))
                        .is_ok()
                });
                if !ok {
                    return Err(NoteError::BadSignature);
                }
                ours += 1;
            }
        }
        if ours == 0 {
            return Err(NoteError::NotSigned);
        }
        Ok(note)
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteVerifier").field("vkey", &self.vkey()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of Go's golang.org/x/mod/sumdb/note package documentation (x/mod v0.7.0,
    // sumdb/note/note.go), also used by its tests.
    const GO_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_MSG: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_example_parses() {
        let n = SignedNote::parse(GO_MSG).unwrap();
        assert_eq!(n.text(), GO_TEXT);
        assert_eq!(n.signatures().len(), 1);
        assert_eq!(n.signatures()[0].name(), "PeterNeumann");
        assert_eq!(n.signatures()[0].key_id(), 0xc74f20a3);
        assert_eq!(n.signatures()[0].signature().len(), 64);
        let (name, id, key) = split_key_text(GO_VKEY).unwrap();
        assert_eq!((name, id), ("PeterNeumann", 0xc74f20a3));
        assert_eq!(ed25519_key_id(name, &key.clone().try_into().unwrap()), id);
        assert_eq!(verifier_key_text(name, id, &key.try_into().unwrap()), GO_VKEY);
    }

    fn err(msg: &str) -> FormatError {
        SignedNote::parse(msg).unwrap_err()
    }

    #[test]
    fn malformed_notes_are_rejected_with_the_rule() {
        let sig = GO_MSG.split("\n\n").nth(1).unwrap();
        assert_eq!(
            err("text\n"),
            FormatError::Note {
                offset: 5,
                reason: "no blank line before the signatures"
            }
        );
        assert_eq!(
            err("text\n\n"),
            FormatError::Note {
                offset: 6,
                reason: "no signature lines"
            }
        );
        assert!(matches!(
            err(&format!("text\n\n{}", sig.trim_end())),
            FormatError::Note {
                reason: "the last signature line does not end in a newline",
                ..
            }
        ));
        assert!(matches!(
            err(&format!("te\rxt\n\n{sig}")),
            FormatError::Note {
                offset: 2,
                reason: "control character"
            }
        ));
        assert!(matches!(
            err(&format!("text\n\n{}", sig.replacen('\u{2014}', "-", 1))),
            FormatError::Note { offset: 6, .. }
        ));
        assert!(matches!(
            err(&format!("text\n\n{}", sig.replacen("PeterNeumann", "Peter+Neumann", 1))),
            FormatError::Note {
                reason: "invalid key name in a signature line",
                ..
            }
        ));
        // Non-canonical base64: the last character changed so that trailing bits are set.
        let bad = sig.replacen("AM=", "AN=", 1);
        assert!(matches!(err(&format!("text\n\n{bad}")), FormatError::Base64 { .. }));
        assert!(matches!(
            err("text\n\n\u{2014} name AAAAAA==\n"),
            FormatError::Note {
                reason: "signature shorter than a key id and one byte",
                ..
            }
        ));
        let many = format!("text\n\n{}", sig.repeat(MAX_NOTE_SIGNATURES + 1));
        assert!(matches!(
            err(&many),
            FormatError::Note {
                reason: "too many signatures",
                ..
            }
        ));
        assert!(SignedNote::parse(&format!("text\n\n{}", sig.repeat(MAX_NOTE_SIGNATURES))).is_ok());
        assert!(matches!(
            SignedNote::parse_bytes(b"te\xffxt\n\n"),
            Err(FormatError::Note {
                offset: 2,
                reason: "invalid UTF-8"
            })
        ));
    }

    #[test]
    fn key_names() {
        assert!(check_key_name("credseal.example/log").is_ok());
        for bad in ["", "a b", "a+b", "a\u{a0}b", "a\u{2003}b", "a\u{7f}b"] {
            assert!(check_key_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn other_signers_names_follow_the_c2sp_rule_only() {
        // A cosigner name with a C1 control character is a valid C2SP name: the line parses
        // (and a verifier ignores it), though credseal never uses such an origin.
        let msg = format!("{GO_MSG}\u{2014} w\u{80}x AAAAAAA=\n");
        let n = SignedNote::parse(&msg).unwrap();
        assert_eq!(n.signatures()[1].name(), "w\u{80}x");
        assert!(check_key_name("w\u{80}x").is_err());
    }

    #[test]
    fn key_text_rules() {
        let (name, id, key) = split_key_text(GO_VKEY).unwrap();
        assert_eq!(name, "PeterNeumann");
        let upper = GO_VKEY.replace("c74f20a3", "C74F20A3");
        assert!(split_key_text(&upper).is_err());
        let short = verifier_key_text(name, id, &key.try_into().unwrap()).replace("+ARpc", "+AhpC");
        assert!(split_key_text(&short).is_err());
        assert!(split_key_text("PeterNeumann+c74f20a3").is_err());
    }

    const NAME: &str = "example.com/log";

    fn signer() -> NoteSigner {
        NoteSigner::from_seed(NAME, &[42; 32]).unwrap()
    }

    #[test]
    fn go_note_example_known_answer() {
        // Go's `note` package documentation: our signer reproduces its signed note byte for
        // byte (Ed25519 is deterministic) and our verifier accepts it.
        let s = NoteSigner::from_signer_key_text(GO_SKEY).unwrap();
        assert_eq!(s.name(), "PeterNeumann");
        assert_eq!(s.vkey(), GO_VKEY);
        assert_eq!(s.key_id(), 0xc74f20a3);
        assert_eq!(s.sign(GO_TEXT).unwrap(), GO_MSG);
        assert_eq!(s.to_signer_key_text().as_str(), GO_SKEY);
        let v = NoteVerifier::from_vkey(GO_VKEY).unwrap();
        assert_eq!(v.verify(GO_MSG).unwrap().text(), GO_TEXT);
        assert_eq!(v.public_key(), &s.public_key());
        assert_eq!(s.verifier().vkey(), GO_VKEY);
    }

    #[test]
    fn signer_and_verifier_key_texts_are_checked() {
        let wrong_id = GO_SKEY.replace("c74f20a3", "c74f20a4");
        assert_eq!(
            NoteSigner::from_signer_key_text(&wrong_id).unwrap_err(),
            FormatError::KeyText {
                reason: "the key id does not match the key"
            }
        );
        assert!(NoteSigner::from_signer_key_text(GO_VKEY).is_err());
        assert!(NoteVerifier::from_vkey(&GO_VKEY.replace("c74f20a3", "c74f20a4")).is_err());
        // Another name with the same key: another key id.
        assert!(NoteVerifier::from_vkey(&GO_VKEY.replace("PeterNeumann", "PeterNeumanm")).is_err());
        assert!(NoteSigner::from_seed("bad name", &[1; 32]).is_err());
        // A small-order point (the identity) and a non-canonical encoding are refused.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            NoteVerifier::new(NAME, &identity).unwrap_err(),
            FormatError::KeyText {
                reason: "not a valid Ed25519 public key"
            }
        );
        assert!(NoteVerifier::new(NAME, &[0xff; 32]).is_err());
        let v = signer().verifier();
        assert_eq!(
            NoteVerifier::from_vkey(&format!("{}\n", v.vkey())).unwrap().vkey(),
            v.vkey()
        );
        let dbg = format!("{:?}", signer());
        assert!(dbg.contains(&signer().vkey()) && !dbg.contains("PRIVATE"), "{dbg}");
    }

    #[test]
    fn texts_that_cannot_be_notes_are_not_signed() {
        let s = signer();
        assert!(matches!(
            s.sign("no newline"),
            Err(FormatError::Note {
                reason: "the text to sign does not end in a newline",
                ..
            })
        ));
        assert!(s.sign("").is_err());
        assert!(matches!(
            s.signature_line("a\0b\n"),
            Err(FormatError::Note {
                offset: 1,
                reason: "control character"
            })
        ));
    }

    #[test]
    fn note_signed_by_another_key_is_not_signed() {
        let other = NoteSigner::from_seed(NAME, &[43; 32]).unwrap();
        let note = other.sign("text\n").unwrap();
        assert_eq!(signer().verifier().verify(&note).unwrap_err(), NoteError::NotSigned);
    }

    #[test]
    fn forged_key_id_is_a_bad_signature() {
        // Another key signs, but claims our key id: a signature line of our key that does
        // not verify.
        let s = signer();
        let other = NoteSigner::from_seed(NAME, &[43; 32]).unwrap();
        let sig = other.key.sign(b"text\n").to_bytes();
        let note = format!("text\n\n{}", signature_line(NAME, s.key_id(), &sig));
        assert_eq!(s.verifier().verify(&note).unwrap_err(), NoteError::BadSignature);
    }

    #[test]
    fn altered_text_fails() {
        let s = signer();
        let note = s.sign("size 7\n").unwrap();
        let altered = note.replacen("7", "8", 1);
        assert_eq!(s.verifier().verify(&altered).unwrap_err(), NoteError::BadSignature);
        assert!(matches!(
            s.verifier().verify("garbage"),
            Err(NoteError::Format(FormatError::Note { .. }))
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored_and_cosignatures_allowed() {
        let s = signer();
        let witness = NoteSigner::from_seed("witness.example", &[44; 32]).unwrap();
        let text = "body\n";
        let note = s.sign(text).unwrap();
        let wline = witness.signature_line(text).unwrap();
        let line = s.signature_line(text).unwrap();
        for n in [format!("{note}{wline}"), format!("{text}\n{wline}{line}")] {
            assert_eq!(s.verifier().verify(&n).unwrap().text(), text);
            assert_eq!(witness.verifier().verify(&n).unwrap().text(), text);
        }
        // Our own line repeated is fine; a second, broken line of our key is not.
        assert!(s.verifier().verify(&format!("{note}{line}")).is_ok());
        let broken = signature_line(NAME, s.key_id(), &[0; 64]);
        assert_eq!(
            s.verifier().verify(&format!("{note}{broken}")).unwrap_err(),
            NoteError::BadSignature
        );
        // A line of our key with a signature of the wrong length is a bad signature too.
        let short = signature_line(NAME, s.key_id(), &[0; 63]);
        assert_eq!(
            s.verifier().verify(&format!("{note}{short}")).unwrap_err(),
            NoteError::BadSignature
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn sign_verify_round_trip(lines in proptest::collection::vec("[ -~]{1,30}", 1..4)) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let s = signer();
            let note = s.sign(&text).unwrap();
            let opened = s.verifier().verify(&note).unwrap();
            proptest::prop_assert_eq!(opened.text(), text.as_str());
        }

        #[test]
        fn note_parsing_never_panics(text in "(?s).{0,300}") {
            let _ = SignedNote::parse(&text);
            let _ = signer().verifier().verify(&text);
        }
    }
}
