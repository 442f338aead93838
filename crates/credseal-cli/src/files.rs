//! Reading and writing the small text files the commands trade in: key files (secret ones
//! mode 0600, with a warning when others can read them), credentials, tokens, approvals.
//!
//! `-` as a file argument is standard input (read) or standard output (written), so that
//! commands pipe into each other (`dept query … --out - | credseal query … --token - --out -
//! | credseal open … -`). Every read, of a file or of standard input, goes through
//! [`read_bounded`]: its limit applies while reading.

use std::path::{Path, PathBuf};

use credseal_auth::{PublicKey, SigningKey};
use credseal_crypto::{SealingKey, SealingPublicKey};
use credseal_engine::{ErrorClass, fsutil};

use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// The largest text file a command reads (bundles, batches, records, catalogues, answers,
/// revocation lists; signed objects and keys have smaller limits): read up to this much and refused beyond, so a device or an endless stream
/// given by mistake costs bounded memory.
pub(crate) const MAX_TEXT_FILE: u64 = 64 << 20;

/// The largest audit position file (`log verify --state`, `log monitor --state`): it holds the
/// log's whole subject map (a hash and a small value a subject), so 1 GiB leaves room for
/// millions of subjects.
pub(crate) const MAX_POSITION_FILE: u64 = 1 << 30;

/// The largest signed object file (a token, credential, consent, self-query, bundle request,
/// approval or order): each is a few kilobytes, so 1 MiB is generous and a wrong file or an
/// endless stream costs little.
pub(crate) const MAX_SIGNED_FILE: u64 = 1 << 20;

/// The largest key file (a key or vkey is one short line).
pub(crate) const MAX_KEY_FILE: u64 = 64 * 1024;

/// Whether a file argument is `-`: standard input or output.
pub(crate) fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How a file argument is named in messages: the path, or `standard input`/`standard output`.
pub(crate) fn name(path: &Path, writing: bool) -> String {
    match (is_std(path), writing) {
        (true, false) => "standard input".into(),
        (true, true) => "standard output".into(),
        (false, _) => path.display().to_string(),
    }
}

/// Standard input is read at most once per command: a second `-` would read nothing.
static STDIN_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A file's bytes (`-`: standard input's), read up to `max` and refused beyond it with an
/// error naming the file and the limit (`what` says what the file should have been).
pub(crate) fn read_bounded(path: &Path, max: u64, what: &str) -> CliResult<Vec<u8>> {
    use std::io::Read as _;
    let shown = name(path, false);
    let io = |e: std::io::Error| Failure::new(ErrorClass::Error, format!("{shown}: {e}"));
    let mut bytes = Vec::new();
    if is_std(path) {
        if STDIN_TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(Failure::new(
                ErrorClass::Usage,
                "only one file argument can be - (standard input)",
            ));
        }
        std::io::stdin()
            .lock()
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        let f = std::fs::File::open(path).map_err(io)?;
        f.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    }
    if bytes.len() as u64 > max {
        let limit = if max >= 1 << 20 {
            format!("{} MiB", max >> 20)
        } else {
            format!("{} KiB", max >> 10)
        };
        return Err(Failure::new(
            ErrorClass::Error,
            format!("{shown}: larger than {limit}: not {what}"),
        ));
    }
    Ok(bytes)
}

/// A file's text (at most [`MAX_TEXT_FILE`]); the error names the file.
pub(crate) fn read_text(path: &Path) -> CliResult<String> {
    let bytes = read_bounded(path, MAX_TEXT_FILE, "a file credseal reads")?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", name(path, false))))
}

/// A signed object's text (at most [`MAX_SIGNED_FILE`]); the error names the file.
pub(crate) fn read_signed(path: &Path) -> CliResult<String> {
    let bytes = read_bounded(
        path,
        MAX_SIGNED_FILE,
        "a signed object (token, credential, consent, request, approval)",
    )?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", name(path, false))))
}

/// A key file's text (a vkey line and the like), refused past [`MAX_KEY_FILE`] — a key is one
/// short line, and a device or a huge file given by mistake is not read whole.
pub(crate) fn read_key_text(path: &Path) -> CliResult<String> {
    let bytes = read_bounded(path, MAX_KEY_FILE, "a key file")?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", name(path, false))))
}

/// A path argument that cannot be standard input or output: a directory, or a state file
/// that is read and then replaced (given as `-`, it would be read from nowhere and written to
/// a file named `-`). A usage error naming the flag comes from clap.
pub(crate) fn not_dash(s: &str) -> Result<PathBuf, String> {
    if s == "-" {
        return Err("`-` (standard input or output) cannot be used here: give a file or directory name".into());
    }
    if s.is_empty() {
        return Err("an empty path".into());
    }
    Ok(PathBuf::from(s))
}

/// Refuses `-` where a command writes more than one file (a key pair: the key and its `.pub`).
pub(crate) fn not_std(path: &Path, flag: &str) -> CliResult {
    if is_std(path) {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("{flag} -: a key pair is two files; give a file name"),
        ));
    }
    Ok(())
}

/// A keygen's `--out FILE`: its parent directory is created if missing (mode 0700, as a
/// key's directory should be), as `--out-dir` keygens create theirs.
pub(crate) fn create_key_parent(path: &Path) -> CliResult {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    if parent.is_dir() {
        return Ok(());
    }
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", parent.display())))
}

/// Whether a new file can be made at `path` (`-`: always): it must not exist, and its
/// directory must. Checked before work that cannot be undone (a query's token is spent when
/// it runs); the write itself still refuses an existing file atomically.
pub(crate) fn can_write_new(path: &Path) -> CliResult {
    if is_std(path) {
        return Ok(());
    }
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(credseal_engine::EngineError::AlreadyExists { path: path.into() }.into());
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::new(
            ErrorClass::Error,
            format!("{}: no such directory", parent.display()),
        ));
    }
    Ok(())
}

/// `--json` and `FLAG -` both want standard output: refused (exit 2) before anything is
/// read or written.
pub(crate) fn json_out(json: bool, path: &Path, flag: &str) -> CliResult {
    if json && is_std(path) {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("{flag} - and --json both write to standard output; give {flag} a file name"),
        ));
    }
    Ok(())
}

/// Writes `bytes` to a new file (`mode`, never over an existing file), or to standard
/// output for `-`.
pub(crate) fn write_new(path: &Path, bytes: &[u8], mode: u32) -> CliResult {
    if is_std(path) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|()| out.flush())
            .map_err(|e| Failure::new(ErrorClass::Error, format!("standard output: {e}")));
    }
    fsutil::write_new(path, bytes, mode)?;
    Ok(())
}

/// Writes a secret (mode 0600, never over an existing file; `-`: standard output).
pub(crate) fn write_secret(path: &Path, text: &str) -> CliResult {
    write_new(path, format!("{text}\n").as_bytes(), 0o600)
}

/// Writes a public file (mode 0644, never over an existing file; `-`: standard output).
pub(crate) fn write_public(path: &Path, text: &str) -> CliResult {
    write_new(path, format!("{text}\n").as_bytes(), 0o644)
}

/// Says on stdout what was written where — on stderr when the data itself went to standard
/// output (`-`), which then carries the data only.
pub(crate) fn wrote(path: &Path, message: std::fmt::Arguments<'_>) {
    if is_std(path) {
        eprintln!("{message}");
    } else {
        println!("{message}");
    }
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
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", name(path, false))))
}

/// A signing public key file.
pub(crate) fn public_key(path: &Path) -> CliResult<PublicKey> {
    PublicKey::from_text(&read_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", name(path, false))))
}

/// A sealing (private) key file, decrypted if encrypted (a warning if others can read it).
pub(crate) fn sealing_key(path: &Path) -> CliResult<SealingKey> {
    warn_if_too_open(path);
    SealingKey::from_text(&read_secret_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", name(path, false))))
}

/// A sealing public key file.
pub(crate) fn sealing_public(path: &Path) -> CliResult<SealingPublicKey> {
    SealingPublicKey::from_text(&read_key_text(path)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", name(path, false))))
}

/// Removes a file this command wrote (not standard output) after a later step failed, so
/// that a signed object that was never installed is not left behind as if it were.
pub(crate) fn remove_written(out: &Path) {
    if !is_std(out) {
        let _ = std::fs::remove_file(out);
    }
}

/// A key pair's files are written all or none: every one is checked to be new before any is
/// written (so a keygen never leaves a new secret key beside an unrelated old `.pub`), and
/// if writing one fails, those already written by `write` are removed.
pub(crate) fn write_all_new(paths: &[PathBuf], write: impl FnOnce(&mut Vec<PathBuf>) -> CliResult) -> CliResult {
    for p in paths {
        if p.exists() {
            return Err(credseal_engine::EngineError::AlreadyExists { path: p.clone() }.into());
        }
    }
    let mut written = Vec::new();
    let r = write(&mut written);
    if r.is_err() {
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
    }
    r
}

/// `FILE.pub` beside `FILE`.
pub(crate) fn pub_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}
