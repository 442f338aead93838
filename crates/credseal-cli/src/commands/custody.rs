//! Key custody: a keystore in the custody of several officers (M-of-N unseal) — `officer
//! unseal-keygen`, `init --unseal-holder`, `unseal`, `keys reshare`, `keys share-open` —
//! and how every command collects the K shares (`--unseal`) to open it.

use std::path::{Path, PathBuf};

use credseal_crypto::{Keystore, Passphrase, SealingKey, SealingPublicKey, UnsealSet, UnsealShare};
use credseal_engine::{ErrorClass, Platform};

use crate::context::Context;
use crate::files::{pub_path, read_key_text, read_secret_key_text, sealing_public, write_public, write_secret};
use crate::render::quoted;
use crate::{CliResult, Failure};

fn usage(m: String) -> Failure {
    Failure::new(ErrorClass::Usage, m)
}

/// `officer unseal-keygen`: a sealing key pair to which shares are sealed.
pub(crate) fn keygen(out: &Path, protect: crate::cli::KeyProtection, json: bool) -> CliResult {
    crate::files::not_std(out, "--out")?;
    crate::files::create_key_parent(out)?;
    let key = SealingKey::generate();
    crate::files::write_all_new(&[out.to_path_buf(), pub_path(out)], |w| {
        crate::files::write_role_key(out, &key.to_text(), protect)?;
        w.push(out.to_path_buf());
        write_public(&pub_path(out), &key.public().to_text())
    })?;
    let public_key = key.public().to_text();
    crate::render::key_file(
        json,
        "unseal-holder",
        out,
        &pub_path(out),
        !protect.unencrypted,
        &public_key,
    );
    Ok(())
}

/// `NAME=FILE` holder specs (`flag` names the option in errors).
pub(crate) fn holders(specs: &[String], flag: &str) -> CliResult<Vec<(String, SealingPublicKey)>> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let Some((name, file)) = spec.split_once('=') else {
            return Err(usage(format!("{flag} {}: expected NAME=FILE", quoted(spec))));
        };
        out.push((name.to_string(), sealing_public(Path::new(file))?));
    }
    Ok(out)
}

/// Refuses a custody that one person alone unseals (K = 1, or a single holder) unless
/// `allow` (`--allow-single-holder`): it would defeat M-of-N. Checked before any file or key
/// is touched.
fn not_single(threshold: usize, holders: usize, allow: bool, flag: &str) -> CliResult {
    if allow || (threshold >= 2 && holders >= 2) {
        return Ok(());
    }
    let what = if holders < 2 {
        format!("{holders} holder")
    } else {
        format!("{flag} {threshold}")
    };
    Err(usage(format!(
        "{what}: one officer alone would unseal the keystore, which defeats M-of-N custody"
    ))
    .hint("give at least 2 holders and a threshold of at least 2, or --allow-single-holder to accept it"))
}

/// A new master key and its share set for `init --unseal-holder`.
pub(crate) fn new_custody(
    specs: &[String],
    threshold: Option<usize>,
    allow_single: bool,
) -> CliResult<(UnsealSet, Passphrase)> {
    let holders = holders(specs, "--unseal-holder")?;
    let k = threshold.ok_or_else(|| usage("--unseal-holder needs --unseal-threshold K".into()))?;
    not_single(k, holders.len(), allow_single, "--unseal-threshold")?;
    UnsealSet::new_master(k, &holders).map_err(|e| usage(format!("--unseal-holder: {e}")))
}

/// The share set of the keystore file `path`, if it is in officers' custody.
pub(crate) fn peek(path: &Path) -> CliResult<Option<UnsealSet>> {
    let bytes = crate::files::read_bounded(path, 64 << 20, "a keystore")?;
    Keystore::peek_unseal(&bytes)
        .map_err(|e| Failure::new(ErrorClass::Verification, format!("{}: {e}", path.display())))
}

/// One `--unseal FILE`: an opened share (`cs1.unseal-share.…`), or a holder's sealing key
/// (decrypted with the key passphrase if encrypted) whose share is opened from `set`.
fn share_from(file: &Path, set: &UnsealSet) -> CliResult<UnsealShare> {
    let fail = |e: credseal_crypto::UnsealError| {
        Failure::new(ErrorClass::Verification, format!("--unseal {}: {e}", file.display()))
    };
    let text = zeroize::Zeroizing::new(read_key_text(file)?);
    if text.trim_start().starts_with(credseal_crypto::SHARE_TEXT_PREFIX) {
        crate::files::warn_if_too_open(file);
        return UnsealShare::from_text(&text).map_err(fail);
    }
    drop(text);
    crate::files::warn_if_too_open(file);
    let key = SealingKey::from_text(&read_secret_key_text(file)?)
        .map_err(|e| Failure::new(ErrorClass::Error, format!("--unseal {}: {e}", file.display())))?;
    set.open_share(&key).map_err(fail)
}

/// The master key from the shares in `files` (`--unseal`), with an error that says how
/// many are needed when too few are given.
pub(crate) fn unseal(set: &UnsealSet, files: &[PathBuf]) -> CliResult<Passphrase> {
    let need = usize::from(set.threshold);
    if files.is_empty() {
        // 0 shares is fewer than K, as K − 1 are: the same class (4, verification failed).
        return Err(Failure::new(
            ErrorClass::Verification,
            format!(
                "the keystore is in the custody of {} officers ({}): {need} of their shares are needed to unseal it",
                set.holders.len(),
                set.holder_names().join(", ")
            ),
        )
        .hint("give each share with --unseal FILE (or CREDSEAL_UNSEAL=FILE:FILE:…)"));
    }
    let mut shares = Vec::with_capacity(files.len());
    for f in files {
        shares.push(share_from(f, set)?);
    }
    set.combine(&shares).map_err(|e| {
        let f = Failure::new(ErrorClass::Verification, format!("unseal: {e}"));
        if matches!(e, credseal_crypto::UnsealError::TooFewShares { .. }) {
            f.hint(format!("{need} different holders' shares are needed"))
        } else {
            f
        }
    })
}

/// `credseal unseal --data DIR`: checks the shares and opens the platform.
pub(crate) fn check(ctx: &Context, data: &Path, json: bool) -> CliResult {
    let config = Platform::read_config(data)?;
    let Some(set) = peek(&data.join(&config.keystore))? else {
        return Err(Failure::new(
            ErrorClass::Usage,
            "this keystore is sealed by a passphrase, not by officers' shares: nothing to unseal",
        ));
    };
    let p = ctx.open_platform(data)?;
    crate::render::done(
        json,
        "unsealed",
        &serde_json::json!({
            "origin": p.origin(),
            "threshold": set.threshold,
            "holders": set.holder_names(),
            "epoch": set.epoch,
        }),
        &format!(
            "unsealed: {} of {} shares of epoch {} ({})",
            set.threshold,
            set.holders.len(),
            set.epoch,
            set.holder_names().join(", ")
        ),
    );
    Ok(())
}

/// `keys reshare`.
pub(crate) fn reshare(
    ctx: &Context,
    data: &Path,
    specs: &[String],
    threshold: usize,
    allow_single: bool,
    json: bool,
) -> CliResult {
    let holders = holders(specs, "--holder")?;
    not_single(threshold, holders.len(), allow_single, "--threshold")?;
    let (p, master) = ctx.open_platform_keeping_passphrase(data)?;
    let epoch = p.reshare(&ctx.session(&p)?, &master, threshold, &holders)?;
    crate::render::done(
        json,
        "reshared",
        &serde_json::json!({
            "origin": p.origin(),
            "threshold": threshold,
            "holders": holders.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "epoch": epoch,
        }),
        &format!(
            "reshared: {threshold} of {} shares of epoch {epoch}; the earlier shares no longer count",
            holders.len()
        ),
    );
    Ok(())
}

/// `keys share-open`: the officer's own share, opened with their key, to a file.
pub(crate) fn share_open(data: &Path, key: &Path, out: &Path, json: bool) -> CliResult {
    crate::files::json_out(json, out, "--out")?;
    let config = Platform::read_config(data)?;
    let Some(set) = peek(&data.join(&config.keystore))? else {
        return Err(Failure::new(
            ErrorClass::Usage,
            "this keystore is sealed by a passphrase, not by officers' shares",
        ));
    };
    let share = share_from(key, &set)?;
    write_secret(out, &share.to_text())?;
    if json {
        crate::render::print_json(
            "unseal-share",
            &serde_json::json!({ "file": crate::render::path(out), "epoch": share.epoch() }),
        );
    }
    eprintln!(
        "credseal: your share of epoch {} written to {} (a secret: hand it over, then delete it)",
        share.epoch(),
        out.display()
    );
    Ok(())
}
