//! `credseal dev …` (hidden): developer tools.

use std::path::Path;
use std::sync::Arc;

use credseal_engine::{EngineError, ErrorClass};

use crate::cli::DevCommand;
use crate::context::Context;
use crate::files::read_text;
use crate::{CliResult, Failure};

/// `credseal dev …`.
pub(crate) fn run(ctx: &Context, command: DevCommand) -> CliResult {
    match command {
        DevCommand::MakeDemoKeystore { catalog, out } => {
            if !ctx.demo {
                return Err(Failure::new(ErrorClass::Usage, "make-demo-keystore needs --demo"));
            }
            let text = read_text(&catalog)?;
            let cat = credseal_core::Catalog::parse(&text, Some(&catalog.display().to_string()))
                .map_err(EngineError::Catalog)?;
            let classes: Vec<&str> = cat.classes.keys().map(String::as_str).collect();
            let keys = credseal_testkit::demo::demo_keystore(&classes, credseal_crypto::sha256(text.as_bytes()), 0);
            let bytes = keys
                .seal(&credseal_crypto::Passphrase::new(
                    credseal_testkit::demo::DEMO_PASSPHRASE.into(),
                ))
                .map_err(|e| Failure::new(ErrorClass::Error, e.to_string()))?;
            crate::files::write_new(&out, &bytes, 0o600)?;
            eprintln!("credseal: wrote the demo keystore {}", out.display());
            Ok(())
        }
        DevCommand::ProbeCopy {
            db,
            keystore,
            class,
            subject,
            json,
        } => probe_copy(ctx, &db, &keystore, &class, subject.as_deref(), json),
    }
}

/// `credseal dev probe-copy`: opens what `keystore` opens of the database `db`, one class.
fn probe_copy(ctx: &Context, db: &Path, keystore: &Path, class: &str, subject: Option<&str>, json: bool) -> CliResult {
    use credseal_store::{Store, Tree};
    let pass = crate::passphrase::for_keystore(keystore, ctx.passphrase_file())?;
    let ks = credseal_engine::Platform::read_keystore(
        keystore,
        &pass,
        credseal_engine::OpenOptions {
            allow_demo_keys: ctx.demo,
        },
    )?;
    if !ks.classes.contains_key(class) {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("--class: the keystore has no class {class:?}"),
        ));
    }
    if !db.join("conf").exists() && !db.join("db").exists() {
        return Err(Failure::new(
            ErrorClass::Error,
            format!("{}: not a credseal database directory", db.display()),
        ));
    }
    let store: Arc<dyn Store> = Arc::new(credseal_store::SledStore::open(db, false).map_err(EngineError::from)?);
    let blinds: Vec<credseal_core::BlindId> = match subject {
        Some(s) => {
            let id = credseal_core::SubjectId::parse(s)
                .map_err(|e| Failure::new(ErrorClass::Usage, format!("--subject: {e}")))?;
            let proof = ks
                .vrf_key
                .prove_subject(&id)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("--subject: {e}")))?;
            vec![*proof.blind()]
        }
        None => {
            let mut all = Vec::new();
            for kv in store.scan_prefix(Tree::Records, &[]) {
                let (k, _) = kv.map_err(EngineError::from)?;
                if let Some(b) = credseal_engine::layout::parse_subject_key(&k) {
                    all.push(b);
                }
            }
            all
        }
    };
    let (mut opened, mut failed, mut records) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    for blind in &blinds {
        let Some(v) = store
            .get(Tree::Records, &credseal_engine::layout::subject_key(blind))
            .map_err(EngineError::from)?
        else {
            continue;
        };
        let recs = credseal_engine::bundle::SubjectRecords::decode(&v)
            .map_err(|e| Failure::new(ErrorClass::Verification, format!("records of a subject: {e}")))?;
        let Some(b) = recs.classes.get(class) else { continue };
        let r = credseal_engine::open_data_key(Arc::clone(&store), &ks, blind, class, &b.wrapped_dek).and_then(|dek| {
            for e in &b.entries {
                let rctx = credseal_crypto::RecordContext {
                    blind,
                    class,
                    record_key: &e.rkey,
                    version: e.version,
                };
                credseal_crypto::open_record(&dek, &rctx, &e.sealed).map_err(|err| EngineError::Corrupt {
                    what: format!("a record of class {class}"),
                    detail: err.to_string(),
                })?;
            }
            Ok(b.entries.len() as u64)
        });
        match r {
            Ok(n) => {
                opened += 1;
                records += n;
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    if opened + failed == 0 {
        return Err(Failure::new(
            ErrorClass::Error,
            format!(
                "no records of class {class} for {} in {}",
                if subject.is_some() {
                    "this subject"
                } else {
                    "any subject"
                },
                db.display()
            ),
        ));
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"class": class, "subjects_opened": opened, "subjects_not_opened": failed, "records_opened": records})
        );
    } else {
        println!("{class}: {opened} subject(s) opened ({records} record(s)), {failed} did not open");
    }
    match first_error {
        None => Ok(()),
        Some(e) => Err(Failure::new(
            ErrorClass::Verification,
            format!("{failed} subject(s) of class {class} do not open with this keystore; the first: {e}"),
        )),
    }
}
