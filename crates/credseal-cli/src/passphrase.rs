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
        let bytes = crate::files::read_bounded(f, crate::files::MAX_KEY_FILE, "a passphrase file")?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Failure::new(
                ErrorClass::Error,
                format!("passphrase file {}: not valid UTF-8", f.display()),
            )
        })?;
        let p = Passphrase::new(text);
        return nonempty(p, &format!("passphrase file {}", f.display()));
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
    let p = Passphrase::new(
        rpassword::prompt_password("credseal: keystore passphrase: ")
            .map_err(|e| Failure::new(ErrorClass::Error, format!("reading the passphrase: {e}")))?,
    );
    if confirm {
        let again = Passphrase::new(
            rpassword::prompt_password("credseal: repeat the passphrase: ")
                .map_err(|e| Failure::new(ErrorClass::Error, format!("reading the passphrase: {e}")))?,
        );
        if again.expose_secret() != p.expose_secret() {
            return Err(Failure::new(ErrorClass::Error, "the two passphrases differ"));
        }
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
