//! `credseal witness keygen|serve`: a C2SP transparency-log witness (crates/credseal-witness),
//! a role of its own — its own key and state directory, no platform, no passphrase.

use std::sync::Arc;

use credseal_c2sp::{CosignerKey, NoteVerifier};
use credseal_engine::ErrorClass;
use credseal_witness::{ServeConfig, TlsFiles, Witness, WitnessError};
use zeroize::Zeroizing;

use crate::cli::{WitnessCommand, WitnessServeArgs};
use crate::files::{pub_path, warn_if_too_open, write_public, write_secret};
use crate::{CliResult, Failure};

fn witness_failure(e: WitnessError) -> Failure {
    let class = match e {
        WitnessError::Config(_) => ErrorClass::Usage,
        WitnessError::State { .. } => ErrorClass::Verification,
        _ => ErrorClass::Error,
    };
    let f = Failure::new(class, e.to_string());
    match e {
        WitnessError::State { .. } => f.hint(
            "the state was altered, or the witness or log keys changed; the witness never resets it: \
             investigate, then move the file away only if you mean this witness to forget that log",
        ),
        WitnessError::Locked { .. } => f.hint("another `credseal witness serve` is using this state directory"),
        _ => f,
    }
}

/// `credseal witness …`.
pub(crate) fn run(cmd: WitnessCommand) -> CliResult {
    match cmd {
        WitnessCommand::Keygen { name, out, json } => keygen(&name, &out, json),
        WitnessCommand::Serve(a) => serve(a),
    }
}

fn keygen(name: &str, out: &std::path::Path, json: bool) -> CliResult {
    let seed = Zeroizing::new(credseal_crypto::random_array::<32>());
    let key =
        CosignerKey::from_seed(name, &seed).map_err(|e| Failure::new(ErrorClass::Usage, format!("--name: {e}")))?;
    let public = pub_path(out);
    crate::files::not_std(out, "--out")?;
    for p in [out, public.as_path()] {
        if p.exists() {
            return Err(Failure::new(
                ErrorClass::Error,
                format!("{}: already exists; refusing to overwrite", p.display()),
            ));
        }
    }
    crate::files::create_key_parent(out)?;
    write_secret(out, &key.to_key_text())?;
    write_public(&public, &key.vkey())?;
    crate::render::key_file(json, "witness", out, &public, false, &key.vkey());
    Ok(())
}

fn serve(a: WitnessServeArgs) -> CliResult {
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let cfg = ServeConfig {
        listen: a.listen,
        tls,
        insecure_loopback: a.insecure_loopback,
        ..ServeConfig::default()
    };
    // Plain HTTP off loopback, unreadable TLS files: refused before anything is opened.
    credseal_witness::check_config(&cfg).map_err(witness_failure)?;
    warn_if_too_open(&a.key);
    // Decrypted with the key passphrase if someone encrypted it (keygen writes it plain).
    let text = crate::files::read_secret_key_text(&a.key)?;
    let key = CosignerKey::from_key_text(text.trim())
        .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", a.key.display())))?;
    let mut logs = Vec::with_capacity(a.log_vkeys.len());
    for f in &a.log_vkeys {
        let v = NoteVerifier::from_vkey(&crate::files::read_key_text(f)?).map_err(|e| {
            Failure::new(
                ErrorClass::Error,
                format!("{}: not a log verifier key: {e}", f.display()),
            )
        })?;
        logs.push(v);
    }
    let witness = Arc::new(Witness::open(key, logs, &a.state).map_err(witness_failure)?);
    let name = witness.name().to_string();
    let running = credseal_witness::start(witness, cfg.clone()).map_err(witness_failure)?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    eprintln!("credseal: witness {name} serving {scheme}://{}", running.local_addr());
    if a.json {
        crate::render::print_json(
            "serving",
            &serde_json::json!({
                "service": "witness",
                "name": name,
                "url": format!("{scheme}://{}", running.local_addr()),
            }),
        );
    }
    running.run_until_signal().map_err(witness_failure)?;
    eprintln!("credseal: witness {name} stopped");
    Ok(())
}
