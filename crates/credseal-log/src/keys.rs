//! The log key: [`LogSigner`] signs receipts and checkpoints, [`LogVerifier`] checks them
//! with nothing but the log's origin and public key.
//!
//! One Ed25519 key signs two kinds of message, which can never be confused: receipt
//! signatures cover `"credseal:v1:receipt" ‖ 0x00 ‖ body`, which contains a NUL byte, and
//! checkpoint signatures cover a C2SP note text, in which control characters other than
//! newline are forbidden. Authority objects (`credseal-auth`) carry other labels and are
//! signed by other keys.

use std::fmt;

use credseal_auth::{PublicKey, SigningKey};
use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::checkpoint::Checkpoint;
use crate::note::{
    ED25519_SIGNATURE_TYPE, SignedNote, check_key_name, ed25519_key_id, signature_line, split_key_text,
    verifier_key_text,
};
use crate::receipt::{MAX_RECEIPT_LEN, ReceiptBody, SignedReceipt, UnverifiedReceipt, receipt_signed_bytes};
use crate::text::b64std_encode;
use crate::{FormatError, VerifyError};

/// Signs receipts and checkpoints with the log key, under the log's origin as C2SP key name.
///
/// Holds its own copy of the key (wiped on drop): `credseal_auth::SigningKey` signs only
/// authority objects, so the log signs through ed25519-dalek directly. `Debug` prints the
/// origin and the verifier key only.
pub struct LogSigner {
    origin: String,
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
    key_id: u32,
}

impl LogSigner {
    /// The signer of the log `origin` (a valid C2SP key name) with the log key `key`.
    pub fn new(origin: &str, key: &SigningKey) -> Result<Self, FormatError> {
        Self::from_seed(origin, key.expose_secret())
    }

    /// The signer whose RFC 8032 secret seed is `seed` (the caller wipes its copy).
    pub fn from_seed(origin: &str, seed: &[u8; 32]) -> Result<Self, FormatError> {
        check_key_name(origin)?;
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        // Cannot fail: a key derived from a seed is a canonical point of the prime-order
        // subgroup, which `PublicKey::from_bytes` accepts.
        let public = PublicKey::from_bytes(key.verifying_key().as_bytes()).expect("derived public keys are valid");
        Ok(Self {
            origin: origin.to_string(),
            key_id: ed25519_key_id(origin, public.as_bytes()),
            key,
            public,
        })
    }

    /// Parses a C2SP / Go signer key `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 ‖ seed)>`; the
    /// key id must match the key. The name becomes the origin.
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
        let mut text = Zeroizing::new(String::with_capacity(12 + self.origin.len() + 10 + b64.len()));
        text.push_str("PRIVATE+KEY+");
        text.push_str(&self.origin);
        text.push_str(&format!("+{:08x}+", self.key_id));
        text.push_str(&b64);
        text
    }

    /// The log's origin, also its key name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's public key.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The verifier key text `<origin>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        verifier_key_text(&self.origin, self.key_id, self.public.as_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> LogVerifier {
        // Cannot fail: `self.origin` passed check_key_name when this signer was made.
        LogVerifier::new(&self.origin, self.public).expect("the origin was checked")
    }

    /// Signs a receipt: checks the body's own rules ([`ReceiptBody::check`]) and size, then
    /// returns `0x01 ‖ postcard(body) ‖ Ed25519(log key, "credseal:v1:receipt" ‖ 0x00 ‖
    /// 0x01 ‖ postcard(body))`.
    pub fn sign_receipt(&self, body: &ReceiptBody) -> Result<SignedReceipt, FormatError> {
        body.check()?;
        let mut bytes = body.encode();
        if bytes.len() + 64 > MAX_RECEIPT_LEN {
            return Err(FormatError::TooLarge {
                what: "receipt",
                len: bytes.len() + 64,
                max: MAX_RECEIPT_LEN,
            });
        }
        let sig = self.key.sign(&receipt_signed_bytes(&bytes)).to_bytes();
        bytes.extend_from_slice(&sig);
        Ok(SignedReceipt::new(body.clone(), bytes))
    }

    /// Signs a checkpoint: the C2SP signed note `body ‖ "\n" ‖ "— " ‖ origin ‖ " " ‖
    /// base64(key id ‖ Ed25519(log key, body)) ‖ "\n"`. The checkpoint's origin should be
    /// this signer's: verifiers refuse any other ([`VerifyError::OriginMismatch`]).
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> String {
        self.sign_note(&checkpoint.to_text())
    }

    /// Signs any note text (which must end in a newline, as checkpoint bodies do) with a
    /// single signature line. Crate-internal: the log signs checkpoints only.
    pub(crate) fn sign_note(&self, text: &str) -> String {
        let mut note = String::with_capacity(text.len() + 1 + self.origin.len() + 100);
        note.push_str(text);
        note.push('\n');
        note.push_str(&self.note_signature_line(text));
        note
    }

    /// The signature line `— <origin> <base64(key id ‖ Ed25519(log key, text))>\n` of a note
    /// text (which must end in a newline). Crate-internal: checkpoints and key handovers.
    pub(crate) fn note_signature_line(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let sig = self.key.sign(text.as_bytes()).to_bytes();
        signature_line(&self.origin, self.key_id, &sig)
    }
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("vkey", &self.vkey())
            .finish_non_exhaustive()
    }
}

/// Verifies receipts and checkpoints of one log: its origin (the C2SP key name) and public key.
#[derive(Clone)]
pub struct LogVerifier {
    origin: String,
    public: PublicKey,
    vk: ed25519_dalek::VerifyingKey,
    key_id: u32,
}

impl LogVerifier {
    /// The verifier of the log `origin` (a valid C2SP key name) with public key `public`.
    pub fn new(origin: &str, public: PublicKey) -> Result<Self, FormatError> {
        check_key_name(origin)?;
        let vk = ed25519_dalek::VerifyingKey::from_bytes(public.as_bytes())
            // Cannot fail: a credseal PublicKey is only ever built from a decompressed, valid Ed25519 point.
            .expect("a credseal PublicKey is a valid Ed25519 point");
        Ok(Self {
            origin: origin.to_string(),
            key_id: ed25519_key_id(origin, public.as_bytes()),
            public,
            vk,
        })
    }

    /// Parses a verifier key `<name>+<hex8 id>+<base64(0x01 ‖ public key)>` (Go's
    /// `note.NewVerifier` format); the key id must match and the key must be a valid
    /// credseal [`PublicKey`] (canonical, not of small order). Surrounding whitespace is
    /// ignored.
    pub fn from_vkey(text: &str) -> Result<Self, FormatError> {
        let (name, key_id, key) = split_key_text(text.trim())?;
        let public = PublicKey::from_slice(&key).map_err(|_| FormatError::KeyText {
            reason: "not a valid Ed25519 public key",
        })?;
        let v = Self::new(name, public)?;
        if v.key_id != key_id {
            return Err(FormatError::KeyText {
                reason: "the key id does not match the key",
            });
        }
        Ok(v)
    }

    /// The verifier key text `<origin>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        verifier_key_text(&self.origin, self.key_id, self.public.as_bytes())
    }

    /// The log's origin, also its key name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log's public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify_raw(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <&[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.vk
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .is_ok()
    }

    /// Verifies a receipt: the layout ([`UnverifiedReceipt::parse`]), then the signature
    /// (Ed25519 strict) over the bytes as received, and only then decodes the body
    /// (canonical, no trailing bytes, [`ReceiptBody::check`]).
    pub fn verify_receipt(&self, bytes: &[u8]) -> Result<SignedReceipt, VerifyError> {
        self.verify_unverified(&UnverifiedReceipt::parse(bytes)?)
    }

    /// Like [`LogVerifier::verify_receipt`] for a parsed receipt.
    pub fn verify_unverified(&self, r: &UnverifiedReceipt) -> Result<SignedReceipt, VerifyError> {
        if !self.verify_raw(&receipt_signed_bytes(r.body_bytes()), r.signature()) {
            return Err(VerifyError::BadSignature);
        }
        let body = r.peek_unverified()?;
        Ok(SignedReceipt::new(body, r.as_bytes().to_vec()))
    }

    /// Verifies a signed note: it must carry at least one signature line with this log's key
    /// name and key id, and every such line must verify (Ed25519 strict, over the note
    /// text). Lines of other keys are ignored (C2SP signed-note).
    pub fn verify_note(&self, msg: &str) -> Result<SignedNote, VerifyError> {
        let note = SignedNote::parse(msg)?;
        let mut ours = 0;
        for s in note.signatures() {
            if s.name() == self.origin && s.key_id() == self.key_id {
                if !self.verify_raw(note.text().as_bytes(), s.signature()) {
                    return Err(VerifyError::BadSignature);
                }
                ours += 1;
            }
        }
        if ours == 0 {
            return Err(VerifyError::NotSignedByLogKey);
        }
        Ok(note)
    }

    /// Verifies a signed checkpoint ([`LogVerifier::verify_note`]), parses its body
    /// ([`Checkpoint::parse`]) and checks that its origin is this log's.
    pub fn verify_checkpoint(&self, msg: &str) -> Result<Checkpoint, VerifyError> {
        let note = self.verify_note(msg)?;
        let cp = Checkpoint::parse(note.text())?;
        if cp.origin() != self.origin {
            return Err(VerifyError::OriginMismatch {
                expected: self.origin.clone(),
                found: cp.origin().to_string(),
            });
        }
        Ok(cp)
    }
}

impl fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogVerifier").field("vkey", &self.vkey()).finish()
    }
}

#[cfg(test)]
mod tests;
