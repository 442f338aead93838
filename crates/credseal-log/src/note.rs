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

use crate::FormatError;
use crate::merkle::sha256;
use crate::text::{b64std_decode, b64std_encode};

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

/// Checks a key name for a credseal log (its origin): a C2SP key name (non-empty, no Unicode
/// whitespace, no `+`) without control characters either.
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
/// [`crate::LogVerifier::verify_note`] checks them.
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
pub(crate) fn verifier_key_text(name: &str, key_id: u32, public: &[u8; 32]) -> String {
    let mut raw = [0u8; 33];
    raw[0] = ED25519_SIGNATURE_TYPE;
    raw[1..].copy_from_slice(public);
    format!("{name}+{key_id:08x}+{}", b64std_encode(&raw))
}

/// Splits `name+hex8+base64` into the name, the key id and the 32 key bytes after the type
/// byte `0x01`. The key id is **not** checked against the key here.
pub(crate) fn split_key_text(text: &str) -> Result<(&str, u32, Vec<u8>), FormatError> {
    let bad = |reason| FormatError::KeyText { reason };
    let (name, rest) = text.split_once('+').ok_or(bad("expected name+keyid+key"))?;
    let (id_hex, b64) = rest.split_once('+').ok_or(bad("expected name+keyid+key"))?;
    check_key_name(name)?;
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad("the key id is not 8 lower-case hex digits"));
    }
    let key_id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("the key id is not 8 lower-case hex digits"))?;
    let raw = b64std_decode(b64, "key text", name.len() + id_hex.len() + 2)?;
    match raw.split_first() {
        Some((&ED25519_SIGNATURE_TYPE, key)) if key.len() == 32 => Ok((name, key_id, key.to_vec())),
        Some((&ED25519_SIGNATURE_TYPE, _)) => Err(bad("an Ed25519 key is 32 bytes")),
        _ => Err(bad("not an Ed25519 (type 0x01) key")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    // The example of Go's golang.org/x/mod/sumdb/note package documentation (x/mod v0.7.0,
    // sumdb/note/note.go), also used by its tests.
    pub(crate) const GO_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    pub(crate) const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    pub(crate) const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    pub(crate) const GO_MSG: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

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
}
