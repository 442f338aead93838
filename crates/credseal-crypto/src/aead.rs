//! The one AES-256-GCM wrapper every credseal ciphertext goes through (96-bit nonce,
//! 128-bit tag). Wycheproof vectors are run against these two functions.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// Encrypts `buf` in place under `key`, binding `aad`, and appends the tag.
pub fn seal_in_place(key: &[u8; 32], nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) {
    let cipher = Aes256Gcm::new(key.into());
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.as_mut_slice().into())
        // Cannot fail: AES-GCM refuses only messages over 64 GiB, which no caller builds.
        .expect("AES-GCM message length within limits");
    buf.extend_from_slice(&tag);
}

/// Decrypts `ct ‖ tag` in place; on success `buf` holds the plaintext. On failure `buf` is
/// cleared and `Err(())` says nothing more: the key, the AAD or the bytes are wrong.
#[allow(clippy::result_unit_err)]
pub fn open_in_place(key: &[u8; 32], nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), ()> {
    let cipher = Aes256Gcm::new(key.into());
    if buf.len() < TAG_LEN {
        buf.clear();
        return Err(());
    }
    let split = buf.len() - TAG_LEN;
    let tag = Tag::try_from(&buf[split..]).map_err(|_| ())?;
    buf.truncate(split);
    match cipher.decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.as_mut_slice().into(), &tag) {
        Ok(()) => Ok(()),
        Err(_) => {
            zeroize::Zeroize::zeroize(buf);
            buf.clear();
            Err(())
        }
    }
}
