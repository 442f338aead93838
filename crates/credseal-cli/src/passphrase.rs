//! Where the keystore passphrase comes from: `CREDSEAL_PASSPHRASE`, `--passphrase-file`,
//! or a prompt on the terminal (never echoed).

use std::io::IsTerminal;
use std::path::Path;

use credseal_crypto::Passphrase;
use credseal_engine::ErrorClass;

use crate::{CliResult, Failure};

/// The environment variable that may hold the passphrase.
pub const ENV: &str = "CREDSEAL_PASSPHRASE";

pub fn get(file: Option<&Path>, confirm: bool) -> CliResult<Passphrase> {
    if let Some(f) = file {
        return from_file(f);
    }
    if let Ok(v) = std::env::var(ENV) {
        return nonempty(Passphrase::new(v), ENV);
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(Failure::new(
            ErrorClass::Error,
            "no keystore passphrase given and no terminal to ask on",
        )
        .hint(format!("set {ENV} or pass --passphrase-file FILE")));
    }
    prompt(
        "credseal: keystore passphrase: ",
        confirm.then_some("credseal: repeat the passphrase: "),
    )
}

/// A passphrase file's text (bounded like a key file; UTF-8, not empty).
fn from_file(f: &Path) -> CliResult<Passphrase> {
    let bytes = crate::files::read_bounded(f, crate::files::MAX_KEY_FILE, "a passphrase file")?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            ErrorClass::Error,
            format!("passphrase file {}: not valid UTF-8", f.display()),
        )
    })?;
    nonempty(Passphrase::new(text), &format!("passphrase file {}", f.display()))
}

/// A passphrase asked on the terminal (never echoed) with `ask`; asked again with `repeat`
/// if given, and refused if the two differ.
fn prompt(ask: &str, repeat: Option<&str>) -> CliResult<Passphrase> {
    let read = |q: &str| {
        rpassword::prompt_password(q)
            .map(Passphrase::new)
            .map_err(|e| Failure::new(ErrorClass::Error, format!("reading the passphrase: {e}")))
    };
    let p = read(ask)?;
    if let Some(q) = repeat
        && read(q)?.expose_secret() != p.expose_secret()
    {
        return Err(Failure::new(ErrorClass::Error, "the two passphrases differ"));
    }
    nonempty(p, "the prompt")
}

fn nonempty(p: Passphrase, from: &str) -> CliResult<Passphrase> {
    if p.is_empty() {
        return Err(Failure::new(
            ErrorClass::Error,
            format!("the passphrase from {from} is empty"),
        ));
    }
    Ok(p)
}

/// The environment variable that may hold the passphrase of encrypted role key files
/// (the authority's, officers', departments', subjects' secret keys).
pub const KEY_ENV: &str = "CREDSEAL_KEY_PASSPHRASE";

/// The environment variable that may hold the new keystore passphrase (`keys passphrase`).
pub const NEW_ENV: &str = "CREDSEAL_NEW_PASSPHRASE";

/// The passphrase of the role key file `path` (`new`: for a key being written, asked twice
/// on a terminal): `CREDSEAL_KEY_PASSPHRASE`, else a prompt naming the file.
pub fn key_passphrase(path: &Path, new: bool) -> CliResult<Passphrase> {
    if let Ok(v) = std::env::var(KEY_ENV) {
        return nonempty(Passphrase::new(v), KEY_ENV);
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        let (what, hint) = if new {
            (
                format!(
                    "no passphrase to encrypt the new key {} with, and no terminal to ask on",
                    path.display()
                ),
                format!("set {KEY_ENV}, or pass --unencrypted to write the key unencrypted"),
            )
        } else {
            (
                format!(
                    "{} is encrypted: no passphrase given and no terminal to ask on",
                    path.display()
                ),
                format!("set {KEY_ENV} to the key's passphrase"),
            )
        };
        return Err(Failure::new(ErrorClass::Error, what).hint(hint));
    }
    prompt(
        &format!("credseal: passphrase for key {}: ", path.display()),
        new.then_some("credseal: repeat the passphrase: "),
    )
}

/// The new keystore passphrase of `keys passphrase`: `--new-passphrase-file`, else
/// `CREDSEAL_NEW_PASSPHRASE`, else asked twice on the terminal.
pub fn new_passphrase(file: Option<&Path>) -> CliResult<Passphrase> {
    if let Some(f) = file {
        return from_file(f);
    }
    if let Ok(v) = std::env::var(NEW_ENV) {
        return nonempty(Passphrase::new(v), NEW_ENV);
    }
    if !std::io::stdin().is_terminal() && !std::io::stderr().is_terminal() {
        return Err(Failure::new(
            ErrorClass::Error,
            "no new keystore passphrase given and no terminal to ask on",
        )
        .hint(format!("set {NEW_ENV} or pass --new-passphrase-file FILE")));
    }
    prompt(
        "credseal: new keystore passphrase: ",
        Some("credseal: repeat the new passphrase: "),
    )
}
