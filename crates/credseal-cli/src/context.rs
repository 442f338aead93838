//! What every command shares: the global options (`--demo`, where the passphrase comes
//! from, the officer named in receipts) and the ways to open a platform with them. One value
//! of [`Context`] is made from the parsed command line and passed to every handler.

use std::path::{Path, PathBuf};

use credseal_engine::{ErrorClass, OpenOptions, Platform};

use crate::{CliResult, Failure, passphrase, progress};

/// The options every command shares.
#[derive(Debug)]
pub(crate) struct Context {
    /// `--demo`: the public demo keys of keys-example/ are allowed.
    pub(crate) demo: bool,
    /// `--passphrase-file` (else `CREDSEAL_PASSPHRASE`, else a prompt).
    pub(crate) passphrase_file: Option<PathBuf>,
    /// The officer named in the receipts of administrative acts (checked by [`officer_name`]).
    pub(crate) officer: String,
    /// `--unseal` (or `CREDSEAL_UNSEAL`): officers' shares, for a keystore in their custody.
    pub(crate) unseal: Vec<PathBuf>,
    /// Whether the officer was named explicitly (`--officer` or `CREDSEAL_OFFICER`), not
    /// taken from the login name: an operator import requires it.
    pub(crate) officer_named: bool,
}

impl Context {
    /// The context of one run: `--officer` is checked here (exit 2 if malformed).
    pub(crate) fn new(
        demo: bool,
        passphrase_file: Option<PathBuf>,
        officer: Option<String>,
        unseal: Vec<PathBuf>,
    ) -> CliResult<Self> {
        let officer_named = officer.is_some() || std::env::var("CREDSEAL_OFFICER").is_ok_and(|v| !v.is_empty());
        Ok(Self {
            demo,
            passphrase_file,
            officer: officer_name(officer)?,
            unseal,
            officer_named,
        })
    }

    /// The passphrase file, if one was given.
    pub(crate) fn passphrase_file(&self) -> Option<&Path> {
        self.passphrase_file.as_deref()
    }

    /// A progress bar on stderr (drawn only on a terminal).
    pub(crate) fn progress(&self) -> progress::Bar {
        progress::Bar::new()
    }

    /// Opens the platform in `dir`.
    pub(crate) fn open_platform(&self, dir: &Path) -> CliResult<Platform> {
        self.open_platform_keeping_passphrase(dir).map(|(p, _)| p)
    }

    /// Like [`Context::open_platform`], keeping the passphrase — or the master key the
    /// officers' shares put together — to write the keystore again.
    pub(crate) fn open_platform_keeping_passphrase(
        &self,
        dir: &Path,
    ) -> CliResult<(Platform, credseal_crypto::Passphrase)> {
        // Fail on a missing or foreign directory before asking for a passphrase.
        let config = Platform::read_config(dir)?;
        let ks = dir.join(&config.keystore);
        if credseal_engine::fsutil::too_open(&ks) {
            eprintln!(
                "credseal: warning: {} is readable by other users; chmod 600 it",
                ks.display()
            );
        }
        // A keystore in officers' custody opens with K of their shares, not a passphrase.
        let pass = if config.pkcs11.is_some() {
            // The keys are in a PKCS#11 token: its user PIN, never a passphrase.
            passphrase::token_pin(None)?
        } else {
            match crate::commands::custody::peek(&ks)? {
                Some(set) => crate::commands::custody::unseal(&set, &self.unseal)?,
                None => passphrase::get(self.passphrase_file(), false)?,
            }
        };
        let p = Platform::open(
            dir,
            &pass,
            OpenOptions {
                allow_demo_keys: self.demo,
            },
        )?;
        Ok((p, pass))
    }

    /// The staff session of this context's officer (`--officer`) on `p`, named in the
    /// receipts of the administrative acts it is passed to.
    pub(crate) fn session(&self, p: &Platform) -> CliResult<credseal_engine::StaffSession> {
        Ok(p.staff_session(&self.officer)?)
    }
}

/// `--officer`, else `CREDSEAL_OFFICER`, else the login name, else the engine's default;
/// 1 to 64 letters, digits, '.', '_', '-' or '@'.
fn officer_name(flag: Option<String>) -> CliResult<String> {
    let name = flag
        .or_else(|| std::env::var("CREDSEAL_OFFICER").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| credseal_engine::DEFAULT_OPERATOR.to_string());
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--officer: 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    Ok(name)
}
