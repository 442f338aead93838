//! Role keys encrypted at rest: the text of a secret key file (an authority's, officer's,
//! department's or subject's `cs1.signing-key.…` / `cs1.sealing-key.…` line) sealed under a
//! passphrase with Argon2id and AES-256-GCM, as one text line of its own.
//!
//! ```text
//! text    = "cs1.encrypted-key." ‖ base64url(bytes)                 (unpadded)
//! bytes   = version:u8 (1) ‖ m_kib:u32be ‖ t:u32be ‖ p:u8 ‖ salt:16 ‖ nonce:12 ‖ ct
//! k       = Argon2id(passphrase, salt, m, t, p) → 64 bytes
//! ct      = AES-256-GCM(k[0..32], nonce, inner key text, aad = LABEL ‖ bytes[0..38])
//! ```
//! A wrong passphrase and an altered file both fail the tag: the error says either.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::keystore::{KdfParams, derive};
use crate::random_array;
use crate::secret::Passphrase;

/// The text prefix of an encrypted key file.
pub const ENCRYPTED_KEY_PREFIX: &str = "cs1.encrypted-key.";
/// Domain-separation label in the AEAD's associated data.
const LABEL: &[u8] = b"credseal:v1:encrypted-key";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 4 + 4 + 1 + 16 + NONCE_LEN;
/// The longest inner key text this build seals (a key line is under 100 characters).
const MAX_INNER: usize = 1024;

/// Why an encrypted key file could not be sealed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Not the `cs1.encrypted-key.` text form.
    #[error("not an encrypted key (it does not start with {ENCRYPTED_KEY_PREFIX})")]
    NotEncrypted,
    /// The base64url payload does not decode (offset in the text).
    #[error("encrypted key: bad base64url at character {0}")]
    Base64(usize),
    /// Shorter than a header and a tag, or longer than any key.
    #[error("encrypted key: {0} bytes is not the length of an encrypted key")]
    Length(usize),
    /// A version this build does not read.
    #[error("encrypted key: version {0} is not supported by this build (it reads version 1)")]
    UnsupportedVersion(u8),
    /// KDF parameters out of range (a planted header asking for too much memory).
    #[error("encrypted key: key-derivation parameters are out of range")]
    BadKdfParams,
    /// The tag does not verify.
    #[error("wrong passphrase for this key file, or the file was altered")]
    WrongPassphraseOrAltered,
    /// An empty passphrase.
    #[error("the key passphrase is empty")]
    EmptyPassphrase,
    /// The decrypted text is not UTF-8 (a foreign writer).
    #[error("encrypted key: the decrypted key is not text")]
    NotText,
}

/// Whether `text` (a key file's contents) is an encrypted key.
pub fn is_encrypted_key(text: &str) -> bool {
    text.trim_start().starts_with(ENCRYPTED_KEY_PREFIX)
}

/// Seals the key text `inner` under `pass` (fresh salt and nonce).
pub fn encrypt_key_text(inner: &str, pass: &Passphrase, kdf: KdfParams) -> Result<String, KeyFileError> {
    if pass.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    if inner.len() > MAX_INNER {
        return Err(KeyFileError::Length(inner.len()));
    }
    kdf.check().map_err(|_| KeyFileError::BadKdfParams)?;
    let salt: [u8; 16] = random_array();
    let nonce: [u8; NONCE_LEN] = random_array();
    let k = derive(pass, &salt, &kdf).map_err(|_| KeyFileError::BadKdfParams)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + inner.len() + TAG_LEN);
    bytes.push(VERSION);
    bytes.extend_from_slice(&kdf.m_kib.to_be_bytes());
    bytes.extend_from_slice(&kdf.t.to_be_bytes());
    bytes.push(kdf.p);
    bytes.extend_from_slice(&salt);
    bytes.extend_from_slice(&nonce);
    let mut buf = Zeroizing::new(inner.trim().as_bytes().to_vec());
    // Cannot fail: the KDF output buffer is 64 bytes.
    let enc: &[u8; 32] = k[..32].try_into().expect("64-byte KDF output");
    aead::seal_in_place(enc, &nonce, &aad(&bytes), &mut buf);
    bytes.extend_from_slice(&buf);
    Ok(format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes)))
}

/// Opens an encrypted key file's text with `pass`: the inner key text (wiped when dropped).
pub fn decrypt_key_text(text: &str, pass: &Passphrase) -> Result<Zeroizing<String>, KeyFileError> {
    let lead = text.len() - text.trim_start().len();
    let payload = text
        .trim()
        .strip_prefix(ENCRYPTED_KEY_PREFIX)
        .ok_or(KeyFileError::NotEncrypted)?;
    if payload.len() > (HEADER_LEN + MAX_INNER + TAG_LEN) * 4 / 3 + 4 {
        return Err(KeyFileError::Length(payload.len() * 3 / 4));
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|e| {
        use base64::DecodeError as D;
        let at = match e {
            D::InvalidByte(offset, _) | D::InvalidLastSymbol { offset, .. } => offset,
            _ => payload.len(),
        };
        KeyFileError::Base64(lead + ENCRYPTED_KEY_PREFIX.len() + at)
    })?;
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return Err(KeyFileError::Length(bytes.len()));
    }
    if bytes[0] != VERSION {
        return Err(KeyFileError::UnsupportedVersion(bytes[0]));
    }
    if pass.is_empty() {
        return Err(KeyFileError::EmptyPassphrase);
    }
    // Cannot fail: the header length was checked before these fixed offsets are read.
    let u32at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("in header"));
    let kdf = KdfParams {
        m_kib: u32at(1),
        t: u32at(5),
        p: bytes[9],
    };
    kdf.check().map_err(|_| KeyFileError::BadKdfParams)?;
    // Cannot fail: fixed ranges inside the header, whose length was checked above.
    let salt: [u8; 16] = bytes[10..26].try_into().expect("in header");
    let nonce: [u8; NONCE_LEN] = bytes[26..38].try_into().expect("in header");
    let k = derive(pass, &salt, &kdf).map_err(|_| KeyFileError::BadKdfParams)?;
    // Cannot fail: the KDF output buffer is 64 bytes.
    let enc: &[u8; 32] = k[..32].try_into().expect("64-byte KDF output");
    let mut buf = Zeroizing::new(bytes[HEADER_LEN..].to_vec());
    aead::open_in_place(enc, &nonce, &aad(&bytes[..HEADER_LEN]), &mut buf)
        .map_err(|()| KeyFileError::WrongPassphraseOrAltered)?;
    let s = std::str::from_utf8(&buf).map_err(|_| KeyFileError::NotText)?;
    Ok(Zeroizing::new(s.to_string()))
}

fn aad(header: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(LABEL.len() + header.len());
    a.extend_from_slice(LABEL);
    a.extend_from_slice(header);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    const INNER: &str = "cs1.signing-key.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.into())
    }

    #[test]
    fn round_trip_and_no_plaintext() {
        let t = encrypt_key_text(INNER, &pass("officer pass"), FAST).unwrap();
        assert!(is_encrypted_key(&t));
        assert!(!t.contains("signing-key"), "{t}");
        assert_eq!(
            &*decrypt_key_text(&format!("{t}\n"), &pass("officer pass")).unwrap(),
            INNER
        );
        // Fresh salt and nonce each time.
        assert_ne!(t, encrypt_key_text(INNER, &pass("officer pass"), FAST).unwrap());
    }

    #[test]
    fn wrong_passphrase_refused() {
        let t = encrypt_key_text(INNER, &pass("officer pass"), FAST).unwrap();
        assert_eq!(
            decrypt_key_text(&t, &pass("not it")).unwrap_err(),
            KeyFileError::WrongPassphraseOrAltered
        );
        assert_eq!(
            decrypt_key_text(&t, &pass("")).unwrap_err(),
            KeyFileError::EmptyPassphrase
        );
    }

    /// Every bit flip in the decoded bytes is refused (never a different key).
    #[test]
    fn encrypted_key_bit_flip_anywhere() {
        let t = encrypt_key_text(INNER, &pass("p"), FAST).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(&t[ENCRYPTED_KEY_PREFIX.len()..]).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let text = format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&b));
            let e = decrypt_key_text(&text, &pass("p")).unwrap_err();
            match i {
                0 => assert_eq!(e, KeyFileError::UnsupportedVersion(0), "flip at {i}"),
                _ => assert!(
                    matches!(e, KeyFileError::WrongPassphraseOrAltered | KeyFileError::BadKdfParams),
                    "flip at {i}: {e:?}"
                ),
            }
        }
        let short = format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes[..20]));
        assert_eq!(
            decrypt_key_text(&short, &pass("p")).unwrap_err(),
            KeyFileError::Length(20)
        );
        assert_eq!(
            decrypt_key_text(&format!("{ENCRYPTED_KEY_PREFIX}AA!A"), &pass("p")).unwrap_err(),
            KeyFileError::Base64(ENCRYPTED_KEY_PREFIX.len() + 2)
        );
        assert_eq!(
            decrypt_key_text(INNER, &pass("p")).unwrap_err(),
            KeyFileError::NotEncrypted
        );
        // A planted header asking for 4 TiB of memory is refused before any work.
        let mut big = bytes.clone();
        big[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        let text = format!("{ENCRYPTED_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(&big));
        assert_eq!(
            decrypt_key_text(&text, &pass("p")).unwrap_err(),
            KeyFileError::BadKdfParams
        );
    }
}
