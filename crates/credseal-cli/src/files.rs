//! Reading and writing the small text files the commands trade in: key files (secret ones
//! mode 0600, with a warning when others can read them), credentials, tokens, approvals.

use std::path::{Path, PathBuf};

use credseal_auth::{PublicKey, SigningKey};
use credseal_crypto::{SealingKey, SealingPublicKey};
use credseal_engine::{ErrorClass, fsutil};

use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// The largest text file a command reads (tokens, credentials, bundles, batches, catalogues,
/// approvals): read up to this much and refused beyond, so a device or an endless stream
/// given by mistake costs bounded memory.
pub(crate) const MAX_TEXT_FILE: u64 = 64 << 20;

/// The largest key file (a key or vkey is one short line).
pub(crate) const MAX_KEY_FILE: u64 = 64 * 1024;

/// A file's bytes, read up to `max` and refused beyond it with an error naming the file and
/// the limit (`what` says what the file should have been).
pub(crate) fn read_bounded(path: &Path, max: u64, what: &str) -> CliResult<Vec<u8>> {
    use std::io::Read as _;
    let io = |e: std::io::Error| Failure::new(ErrorClass::Error, format!("{}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        let limit = if max >= 1 << 20 {
            format!("{} MiB", max >> 20)
        } else {
            format!("{} KiB", max >> 10)
        };
        return Err(Failure::new(
            ErrorClass::Error,
            format!("{}: larger than {limit}: not {what}", path.display()),
        ));
    }
    Ok(bytes)
}

/// A file's text (at most [`MAX_TEXT_FILE`]); the error names the file.
pub(crate) fn read_text(path: &Path) -> CliResult<String> {
    let bytes = read_bounded(path, MAX_TEXT_FILE, "a file credseal reads")?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", path.display())))
}

/// A key file's text (a vkey line and the like), refused past [`MAX_KEY_FILE`] — a key is one
/// short line, and a device or a huge file given by mistake is not read whole.
pub(crate) fn read_key_text(path: &Path) -> CliResult<String> {
    let bytes = read_bounded(path, MAX_KEY_FILE, "a key file")?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", path.display())))
}

/// Writes a secret (mode 0600, never over an existing file).
pub(crate) fn write_secret(path: &Path, text: &str) -> CliResult {
    fsutil::write_new(path, format!("{text}\n").as_bytes(), 0o600)?;
    Ok(())
}

/// Writes a public file (mode 0644, never over an existing file).
pub(crate) fn write_public(path: &Path, text: &str) -> CliResult {
    fsutil::write_new(path, format!("{text}\n").as_bytes(), 0o644)?;
    Ok(())
}

/// Warns on stderr when a secret key file is readable by other users.
pub(crate) fn warn_if_too_open(path: &Path) {
    if fsutil::too_open(path) {
        eprintln!(
            "credseal: warning: {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
}

/// The Argon2id cost of role key files: RFC 9106's second recommended option (64 MiB, 3
/// passes), as the keystore's default.
pub(crate) const ROLE_KEY_KDF: credseal_crypto::KdfParams = credseal_crypto::KdfParams::DEFAULT;

/// A secret key file's key text: decrypted with the key passphrase when the file is an
/// encrypted key (`cs1.encrypted-key.…`), as is otherwise (an `--unencrypted` key, or one
/// written before keys were encrypted by default).
pub(crate) fn read_secret_key_text(path: &Path) -> CliResult<zeroize::Zeroizing<String>> {
    let text = zeroize::Zeroizing::new(read_key_text(path)?);
    if !credseal_crypto::is_encrypted_key(&text) {
        return Ok(text);
    }
    let pass = crate::passphrase::key_passphrase(path, false)?;
    credseal_crypto::decrypt_key_text(&text, &pass)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// Writes a role's secret key text (mode 0600, never over an existing file): encrypted
/// under the key passphrase unless `protect.unencrypted`.
pub(crate) fn write_role_key(path: &Path, text: &str, protect: crate::cli::KeyProtection) -> CliResult {
    if protect.unencrypted {
        return write_secret(path, text);
    }
    if path.exists() {
        // Fail before asking for a passphrase (write_new refuses it again, atomically).
        return Err(credseal_engine::EngineError::AlreadyExists { path: path.into() }.into());
    }
    let pass = crate::passphrase::key_passphrase(path, true)?;
    let sealed = credseal_crypto::encrypt_key_text(text, &pass, ROLE_KEY_KDF)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))?;
    write_secret(path, &sealed)
}

/// A signing key file, decrypted if encrypted (a warning if others can read it).
pub(crate) fn signing_key(path: &Path) -> CliResult<SigningKey> {
    warn_if_too_open(path);
    SigningKey::from_text(&read_secret_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// A signing public key file.
pub(crate) fn public_key(path: &Path) -> CliResult<PublicKey> {
    PublicKey::from_text(&read_key_text(path)?).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// A sealing (private) key file, decrypted if encrypted (a warning if others can read it).
pub(crate) fn sealing_key(path: &Path) -> CliResult<SealingKey> {
    warn_if_too_open(path);
    SealingKey::from_text(&read_secret_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// A sealing public key file.
pub(crate) fn sealing_public(path: &Path) -> CliResult<SealingPublicKey> {
    SealingPublicKey::from_text(&read_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// `FILE.pub` beside `FILE`.
pub(crate) fn pub_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}
