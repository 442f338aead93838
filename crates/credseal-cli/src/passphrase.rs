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

/// The environment variable naming a file that holds the PKCS#11 token's user PIN.
pub const PIN_FILE_ENV: &str = "CREDSEAL_PKCS11_PIN_FILE";
/// The environment variable that may hold the PKCS#11 token's user PIN.
pub const PIN_ENV: &str = "CREDSEAL_PKCS11_PIN";

/// The user PIN of the token that holds a platform's keys (HSM custody): from `file`
/// (`init --pin-file`), else the file named by `CREDSEAL_PKCS11_PIN_FILE`, else
/// `CREDSEAL_PKCS11_PIN`, else a prompt on the terminal. Never from the command line.
pub fn token_pin(file: Option<&Path>) -> CliResult<Passphrase> {
    let env_file = std::env::var_os(PIN_FILE_ENV).map(std::path::PathBuf::from);
    let pin = if let Some(f) = file.or(env_file.as_deref()) {
        let bytes = crate::files::read_bounded(f, crate::files::MAX_KEY_FILE, "a PIN file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::new(ErrorClass::Error, format!("PIN file {}: not valid UTF-8", f.display())))?;
        Passphrase::token_pin(text)
    } else if let Ok(v) = std::env::var(PIN_ENV) {
        Passphrase::token_pin(v)
    } else if std::io::stdin().is_terminal() || std::io::stderr().is_terminal() {
        let v = rpassword::prompt_password("credseal: PKCS#11 token user PIN: ")
            .map_err(|e| Failure::new(ErrorClass::Error, format!("reading the PIN: {e}")))?;
        Passphrase::token_pin(v)
    } else {
        return Err(Failure::new(
            ErrorClass::Error,
            "the keys are in a PKCS#11 token and no PIN was given, with no terminal to ask on",
        )
        .hint(format!("set {PIN_FILE_ENV} (a file holding the PIN) or {PIN_ENV}")));
    };
    if pin.expose_secret().is_empty() {
        return Err(Failure::new(ErrorClass::Error, "the token PIN is empty"));
    }
    Ok(pin)
}

/// What unlocks the keystore file `keystore`: the token PIN if it is a manifest of keys in a
/// PKCS#11 token, else the passphrase ([`get`]).
pub fn for_keystore(keystore: &Path, file: Option<&Path>) -> CliResult<Passphrase> {
    let head = std::fs::File::open(keystore).ok().and_then(|mut f| {
        let mut b = [0u8; 4];
        std::io::Read::read_exact(&mut f, &mut b).ok().map(|()| b)
    });
    match head {
        Some(b) if credseal_crypto::is_manifest(&b) => token_pin(None),
        _ => get(file, false),
    }
}
