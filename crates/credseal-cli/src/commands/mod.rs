//! The handlers, one file per command group. Each takes the shared [`Context`] and its
//! group's parsed arguments, calls the engine, and hands the result to [`crate::render`].
//!
//! [`Context`]: crate::context::Context

pub(crate) mod authority;
pub(crate) mod bench;
pub(crate) mod check;
pub(crate) mod custody;
pub(crate) mod demo;
pub(crate) mod dept;
pub(crate) mod dev;
pub(crate) mod incident;
pub(crate) mod ingest;
pub(crate) mod init;
pub(crate) mod keys;
pub(crate) mod log;
pub(crate) mod meta;
pub(crate) mod policy;
pub(crate) mod query;
pub(crate) mod receipts;
pub(crate) mod serve;
pub(crate) mod staff;
pub(crate) mod subject;
pub(crate) mod witness;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use credseal_auth::{SigningKey, StaffRequest, sign};
use credseal_core::SubjectId;
use credseal_crypto::SealingKey;
use credseal_engine::{ErrorClass, Platform, QueryError, StaffRole};

use crate::files::{write_public, write_secret};
use crate::{CliResult, Failure};

/// A staff member's signing key file (a warning if others can read it).
pub(crate) use crate::files::signing_key as staff_key;

/// Now, in Unix seconds (a clock before 1970 is an error, not 0).
pub(crate) fn now() -> CliResult<u64> {
    crate::now()
}

/// A validity in seconds: `--valid-for`, or the old `--days N` where it was given.
pub(crate) fn lifetime(valid_for: u64, days: Option<u64>) -> u64 {
    days.map_or(valid_for, |d| d.saturating_mul(86_400))
}

/// A comma-separated list as a set (blanks dropped).
pub(crate) fn set(items: &str) -> BTreeSet<String> {
    items
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `--subject`: a subject id (exit 2 if malformed).
pub(crate) fn subject(s: &str) -> CliResult<SubjectId> {
    SubjectId::parse(s).map_err(|e| Failure::new(ErrorClass::Usage, format!("--subject: {e}")))
}

/// 16 random bytes (query, consent and request ids).
pub(crate) fn random16() -> [u8; 16] {
    credseal_crypto::random_array()
}

/// `dept keygen`, `subject keygen`: a signing and a sealing key pair in `dir`.
pub(crate) fn keypair_dir(role: &'static str, dir: &Path, protect: crate::cli::KeyProtection, json: bool) -> CliResult {
    crate::files::not_std(dir, "--out-dir")?;
    std::fs::create_dir_all(dir).map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", dir.display())))?;
    let sk = SigningKey::generate();
    let seal = SealingKey::generate();
    let all: Vec<PathBuf> = ["signing.key", "sealing.key", "signing.pub", "sealing.pub"]
        .iter()
        .map(|n| dir.join(n))
        .collect();
    // All four or none: checked before a passphrase is asked or anything is written.
    crate::files::write_all_new(&all, |w| {
        if protect.unencrypted {
            for (name, text) in [("signing.key", sk.to_text()), ("sealing.key", seal.to_text())] {
                write_secret(&dir.join(name), &text)?;
                w.push(dir.join(name));
            }
        } else {
            // One passphrase for the pair, asked once.
            let pass = crate::passphrase::key_passphrase(&dir.join("signing.key"), true)?;
            for (name, text) in [("signing.key", sk.to_text()), ("sealing.key", seal.to_text())] {
                let path = dir.join(name);
                let sealed = credseal_crypto::encrypt_key_text(&text, &pass, crate::files::ROLE_KEY_KDF)
                    .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", path.display())))?;
                write_secret(&path, &sealed)?;
                w.push(path);
            }
        }
        write_public(&dir.join("signing.pub"), &sk.public().to_text())?;
        w.push(dir.join("signing.pub"));
        write_public(&dir.join("sealing.pub"), &seal.public().to_text())
    })?;
    let files = |names: [&str; 2]| names.iter().map(|n| crate::render::path(&dir.join(n))).collect();
    crate::render::key_pair(
        json,
        &crate::render::KeyPairJson {
            role,
            secret_files: files(["signing.key", "sealing.key"]),
            public_files: files(["signing.pub", "sealing.pub"]),
            encrypted: !protect.unencrypted,
            public_key: sk.public().to_text(),
            sealing_public_key: Some(seal.public().to_text()),
        },
        &format!("wrote {}/{{signing,sealing}}.{{key,pub}}", dir.display()),
    );
    Ok(())
}

/// An alert of the platform on stderr: a query that touched a canary subject, or an
/// objection found overdue (`credseal serve`'s review).
pub(crate) fn print_alert(al: &credseal_engine::CanaryAlert) {
    if al.purpose == "objection-overdue" {
        eprintln!(
            "credseal: ALERT: provider {} has an overdue objection: receipt {}, {}",
            al.department, al.receipt, al.outcome
        );
    } else {
        eprintln!(
            "credseal: ALERT: a query by {} (credential {}) for {} touched a canary subject: receipt {}, {}",
            al.department,
            al.credential_serial.map_or("-".into(), |s| s.to_string()),
            al.purpose,
            al.receipt,
            al.outcome
        );
    }
}

/// A query's failure: a denial (exit 3, with its reason code; exit 4 "verification failed"
/// for a forged or malformed token or credential) or an engine error.
pub(crate) fn query_failure(e: QueryError) -> Failure {
    let class = e.class();
    match e {
        QueryError::Denied(d) if class == ErrorClass::Verification => {
            Failure::new(class, format!("verification failed ({}): {d}", d.code())).code(d.code())
        }
        QueryError::Denied(d) => Failure::new(class, format!("access denied ({}): {d}", d.code())).code(d.code()),
        QueryError::Failed(e) => e.into(),
    }
}

/// `--now` (test builds only), else now.
pub(crate) fn now_arg(now: Option<u64>) -> CliResult<u64> {
    if now.is_some() && !cfg!(debug_assertions) {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--now is only available in test builds",
        ));
    }
    match now {
        Some(n) => Ok(n),
        None => crate::now(),
    }
}

/// A staff request for `action` on the input with SHA-256 `digest`, valid five minutes.
pub(crate) fn staff_request(
    key: &SigningKey,
    role: StaffRole,
    action: &str,
    digest: [u8; 32],
    audience: &str,
    now: u64,
) -> String {
    sign(
        &StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: role.label().into(),
            staff_key: key.public(),
            action: action.into(),
            input_digest: digest,
            issued_at: now,
            expires_at: now + 300,
            audience: audience.into(),
        },
        key,
    )
    .to_text()
}

/// Reads the officers' approval files and checks them for `op`; without two, the error says
/// how to get them.
pub(crate) fn approved(
    p: &Platform,
    op: &credseal_engine::Operation,
    files: &[PathBuf],
) -> CliResult<credseal_engine::Approved> {
    let mut texts = Vec::with_capacity(files.len());
    for f in files {
        texts.push(crate::files::read_signed(f)?);
    }
    p.approve(op, &texts, crate::now()?).map_err(|e| {
        Failure::new(e.class(), e.to_string()).hint(format!(
            "each of two enrolled officers runs `credseal officer approve --key KEY --origin {} --operation {} --out FILE`, then pass --approval FILE twice",
            p.origin(),
            crate::render::quoted(op.text())
        ))
    })
}
