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
use credseal_c2sp::{Checkpoint, NoteError, NoteSigner, NoteVerifier, SignedNote};
use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::receipt::{
    MAX_RECEIPT_LEN, ReceiptBody, ReceiptHeader, SIGNATURE_LEN, SignedReceipt, UnverifiedReceipt, receipt_signed_bytes,
};
use crate::{FormatError, VerifyError};

/// A log key held outside the process (a PKCS#11 token): it signs pure Ed25519 (RFC 8032)
/// itself, so the seed never enters this process. [`LogSigner::external`] signs through it.
pub trait ExternalLogKey: Send + Sync {
    /// Ed25519 over `msg`. The error says what failed, never key bytes.
    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], String>;
}

/// Where the log key's private half is. One per signer, made rarely: its size does not
/// matter, and boxing the local key would add an indirection to every signature.
#[allow(clippy::large_enum_variant)]
enum Key {
    /// In this process (wiped on drop).
    Local {
        key: ed25519_dalek::SigningKey,
        note: NoteSigner,
    },
    /// In a token.
    External(std::sync::Arc<dyn ExternalLogKey>),
}

/// Signs receipts and checkpoints with the log key, under the log's origin as C2SP key name.
///
/// Holds its own copies of the key (wiped on drop), or a handle to a key held in a token
/// ([`LogSigner::external`]): `credseal_auth::SigningKey` signs only authority objects, so
/// the log signs receipts through ed25519-dalek directly and notes through a [`NoteSigner`]
/// of the same key. `Debug` prints the origin and the verifier key only.
pub struct LogSigner {
    key: Key,
    verifier: LogVerifier,
}

impl LogSigner {
    /// The signer of the log `origin` (a valid C2SP key name) with the log key `key`.
    pub fn new(origin: &str, key: &SigningKey) -> Result<Self, FormatError> {
        Self::from_seed(origin, key.expose_secret())
    }

    /// The signer whose RFC 8032 secret seed is `seed` (the caller wipes its copy).
    pub fn from_seed(origin: &str, seed: &[u8; 32]) -> Result<Self, FormatError> {
        Self::from_note_signer(NoteSigner::from_seed(origin, seed)?)
    }

    /// The signer of the log `origin` whose key is held by `key` (a token), with public key
    /// `public`. Every receipt and checkpoint is signed by `key`; a failure is
    /// [`FormatError::Signer`].
    pub fn external(
        origin: &str,
        public: PublicKey,
        key: std::sync::Arc<dyn ExternalLogKey>,
    ) -> Result<Self, FormatError> {
        Ok(Self {
            key: Key::External(key),
            verifier: LogVerifier::new(origin, public)?,
        })
    }

    fn from_note_signer(note: NoteSigner) -> Result<Self, FormatError> {
        let key = ed25519_dalek::SigningKey::from_bytes(note.expose_secret());
        // Cannot fail: a key derived from a seed is a canonical point of the prime-order
        // subgroup, which `PublicKey::from_bytes` accepts.
        let public = PublicKey::from_bytes(key.verifying_key().as_bytes()).expect("derived public keys are valid");
        let verifier = LogVerifier::new(note.name(), public)?;
        Ok(Self {
            key: Key::Local { key, note },
            verifier,
        })
    }

    /// Parses a C2SP / Go signer key `PRIVATE+KEY+<name>+<hex8 id>+<base64(0x01 ‖ seed)>`; the
    /// key id must match the key. The name becomes the origin.
    pub fn from_signer_key_text(text: &str) -> Result<Self, FormatError> {
        Self::from_note_signer(NoteSigner::from_signer_key_text(text)?)
    }

    /// The signer key text (wiped on drop); `None` for a key held in a token, which never
    /// leaves it.
    pub fn to_signer_key_text(&self) -> Option<Zeroizing<String>> {
        match &self.key {
            Key::Local { note, .. } => Some(note.to_signer_key_text()),
            Key::External(_) => None,
        }
    }

    /// The log's origin, also its key name.
    pub fn origin(&self) -> &str {
        self.verifier.origin()
    }

    /// The log's public key.
    pub fn public(&self) -> PublicKey {
        *self.verifier.public()
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    /// The verifier key text `<origin>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        self.verifier.vkey()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> LogVerifier {
        self.verifier.clone()
    }

    /// The note signer of a key in this process (tests).
    #[cfg(test)]
    pub(crate) fn local_note(&self) -> &NoteSigner {
        match &self.key {
            Key::Local { note, .. } => note,
            Key::External(_) => panic!("not a local key"),
        }
    }

    /// The signing key of a key in this process (tests).
    #[cfg(test)]
    pub(crate) fn local_key(&self) -> &ed25519_dalek::SigningKey {
        match &self.key {
            Key::Local { key, .. } => key,
            Key::External(_) => panic!("not a local key"),
        }
    }

    /// Ed25519 over `msg` with the log key, wherever it is held.
    fn sign_raw(&self, msg: &[u8]) -> Result<[u8; 64], FormatError> {
        match &self.key {
            Key::Local { key, .. } => Ok(key.sign(msg).to_bytes()),
            Key::External(k) => k.sign(msg).map_err(FormatError::Signer),
        }
    }

    /// Signs a receipt: checks the body's own rules ([`ReceiptBody::check`]) and size, then
    /// returns `header ‖ content ‖ Ed25519(log key, "credseal:v1:receipt" ‖ 0x00 ‖ header)`
    /// (the layout is in the `receipt` module).
    pub fn sign_receipt(&self, body: &ReceiptBody) -> Result<SignedReceipt, FormatError> {
        body.check()?;
        let (mut bytes, header_len) = body.encode();
        if bytes.len() + 64 > MAX_RECEIPT_LEN {
            return Err(FormatError::TooLarge {
                what: "receipt",
                len: bytes.len() + 64,
                max: MAX_RECEIPT_LEN,
            });
        }
        let sig = self.sign_raw(&receipt_signed_bytes(&bytes[..header_len]))?;
        bytes.extend_from_slice(&sig);
        Ok(SignedReceipt::new(body.clone(), bytes, header_len))
    }

    /// Signs a checkpoint: the C2SP signed note `body ‖ "\n" ‖ "— " ‖ origin ‖ " " ‖
    /// base64(key id ‖ Ed25519(log key, body)) ‖ "\n"`. The checkpoint's origin should be
    /// this signer's: verifiers refuse any other ([`VerifyError::OriginMismatch`]).
    ///
    /// # Panics
    /// If a key held in a token fails to sign: use [`LogSigner::try_sign_checkpoint`] with
    /// such a key.
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> String {
        self.try_sign_checkpoint(checkpoint)
            // Cannot fail with a key in this process: a checkpoint body is newline-terminated,
            // non-empty text without control characters (Checkpoint keeps that invariant).
            .expect("a checkpoint body is a valid note text and a local key signs it")
    }

    /// [`LogSigner::sign_checkpoint`], with a token's failure to sign as an error.
    pub fn try_sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, FormatError> {
        let text = checkpoint.to_text();
        let line = self.note_signature_line(&text)?;
        let mut note = String::with_capacity(text.len() + 1 + line.len());
        note.push_str(&text);
        note.push('\n');
        note.push_str(&line);
        Ok(note)
    }

    /// The signature line `— <origin> <base64(key id ‖ Ed25519(log key, text))>\n` of a note
    /// text built by this crate (checkpoints and key handovers, always valid note texts).
    pub(crate) fn note_signature_line(&self, text: &str) -> Result<String, FormatError> {
        match &self.key {
            Key::Local { note, .. } => Ok(note.signature_line(text)?),
            Key::External(k) => {
                credseal_c2sp::external_signature_line(self.origin(), self.key_id(), text, |m| k.sign(m))?
                    .map_err(FormatError::Signer)
            }
        }
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
    public: PublicKey,
    vk: ed25519_dalek::VerifyingKey,
    note: NoteVerifier,
}

impl LogVerifier {
    /// The verifier of the log `origin` (a valid C2SP key name) with public key `public`.
    pub fn new(origin: &str, public: PublicKey) -> Result<Self, FormatError> {
        let vk = ed25519_dalek::VerifyingKey::from_bytes(public.as_bytes())
            // Cannot fail: a credseal PublicKey is only ever built from a decompressed, valid Ed25519 point.
            .expect("a credseal PublicKey is a valid Ed25519 point");
        Ok(Self {
            note: NoteVerifier::new(origin, public.as_bytes())?,
            public,
            vk,
        })
    }

    /// Parses a verifier key `<name>+<hex8 id>+<base64(0x01 ‖ public key)>` (Go's
    /// `note.NewVerifier` format); the key id must match and the key must be a valid
    /// credseal [`PublicKey`] (canonical, not of small order). Surrounding whitespace is
    /// ignored.
    pub fn from_vkey(text: &str) -> Result<Self, FormatError> {
        let note = NoteVerifier::from_vkey(text)?;
        let public = PublicKey::from_bytes(note.public_key()).map_err(|_| credseal_c2sp::FormatError::KeyText {
            reason: "not a valid Ed25519 public key",
        })?;
        Ok(Self {
            vk: ed25519_dalek::VerifyingKey::from_bytes(public.as_bytes())
                // Cannot fail: as in `LogVerifier::new`.
                .expect("a credseal PublicKey is a valid Ed25519 point"),
            public,
            note,
        })
    }

    /// The verifier key text `<origin>+<hex8 id>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        self.note.vkey()
    }

    /// The log's origin, also its key name.
    pub fn origin(&self) -> &str {
        self.note.name()
    }

    /// The log's public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The C2SP key id.
    pub fn key_id(&self) -> u32 {
        self.note.key_id()
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
    /// (Ed25519 strict) over the header as received and the content hash the header names
    /// (a content altered is [`VerifyError::BadSignature`]: not what the log signed), and
    /// only then decodes the body (canonical, no trailing bytes, [`ReceiptBody::check`]).
    pub fn verify_receipt(&self, bytes: &[u8]) -> Result<SignedReceipt, VerifyError> {
        self.verify_unverified(&UnverifiedReceipt::parse(bytes)?)
    }

    /// Like [`LogVerifier::verify_receipt`] for a parsed receipt.
    pub fn verify_unverified(&self, r: &UnverifiedReceipt) -> Result<SignedReceipt, VerifyError> {
        if !self.verify_raw(&receipt_signed_bytes(r.header_bytes()), r.signature()) {
            return Err(VerifyError::BadSignature);
        }
        // The signature covers the content through the header's content hash: a content
        // other than the one hashed is not what the log signed.
        let header = ReceiptHeader::decode(r.header_bytes())?;
        if crate::receipt::content_hash(r.content_bytes()) != header.content_hash {
            return Err(VerifyError::BadSignature);
        }
        let body = r.peek_unverified()?;
        Ok(SignedReceipt::new(body, r.as_bytes().to_vec(), r.header_bytes().len()))
    }

    /// Verifies a receipt's signed header alone (a sealed bundle entry): the signature
    /// (Ed25519 strict, 64 bytes) over the header as received, then
    /// [`ReceiptHeader::decode`]. The content stays unseen; the header's content hash binds it.
    pub fn verify_header(&self, header: &[u8], signature: &[u8]) -> Result<ReceiptHeader, VerifyError> {
        if header.len() > MAX_RECEIPT_LEN {
            return Err(FormatError::TooLarge {
                what: "receipt header",
                len: header.len(),
                max: MAX_RECEIPT_LEN,
            }
            .into());
        }
        if signature.len() != SIGNATURE_LEN {
            return Err(FormatError::Truncated {
                what: "receipt header signature",
            }
            .into());
        }
        if !self.verify_raw(&receipt_signed_bytes(header), signature) {
            return Err(VerifyError::BadSignature);
        }
        Ok(ReceiptHeader::decode(header)?)
    }

    /// Verifies a signed note ([`NoteVerifier::verify`]): it must carry at least one
    /// signature line with this log's key name and key id, and every such line must verify
    /// (Ed25519 strict, over the note text). Lines of other keys are ignored (C2SP
    /// signed-note).
    pub fn verify_note(&self, msg: &str) -> Result<SignedNote, VerifyError> {
        self.note.verify(msg).map_err(|e| match e {
            NoteError::Format(f) => VerifyError::Format(f.into()),
            NoteError::BadSignature => VerifyError::BadSignature,
            // `NoteError` may grow; anything else it reports means our key did not sign.
            _ => VerifyError::NotSignedByLogKey,
        })
    }

    /// Verifies a signed checkpoint ([`LogVerifier::verify_note`]), parses its body
    /// ([`Checkpoint::parse`]) and checks that its origin is this log's.
    pub fn verify_checkpoint(&self, msg: &str) -> Result<Checkpoint, VerifyError> {
        let note = self.verify_note(msg)?;
        let cp = Checkpoint::parse(note.text()).map_err(FormatError::from)?;
        if cp.origin() != self.origin() {
            return Err(VerifyError::OriginMismatch {
                expected: self.origin().to_string(),
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
