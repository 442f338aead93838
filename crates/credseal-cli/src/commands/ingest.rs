//! `credseal ingest`: validate a JSON Lines file against the catalogue and store its records
//! sealed (an operator's unsigned import), or ingest a provider's signed batch (here or on a
//! server); `credseal provider`: the provider's key, its enrolment and its signed batches.

use std::path::Path;

use credseal_auth::{IngestBatch, sign};
use credseal_engine::{ErrorClass, IngestSummary};

use super::{now, random16};
use crate::cli::{IngestArgs, ProviderCommand};
use crate::client::Client;
use crate::context::Context;
use crate::files::{read_text, signing_key, write_public};
use crate::{CliResult, Failure, render};

/// `credseal ingest`.
pub(crate) fn run(ctx: &Context, a: IngestArgs) -> CliResult {
    if let Some(batch) = &a.batch {
        let text = read_text(batch)?;
        let s = match (&a.server.server, &a.data) {
            (Some(url), _) => {
                let client = Client::new(url, a.server.ca.as_deref())?;
                client.post::<_, IngestSummary>("/v1/ingest", &serde_json::json!({ "batch": text.trim() }))?
            }
            (None, Some(data)) => {
                let p = ctx.open_platform(data)?;
                p.ingest_signed_batch(text.trim(), now()?)?
            }
            (None, None) => unreachable!("clap: --data is required without --server"),
        };
        render::platform::ingest_summary(&s, a.json);
        return Ok(());
    }
    if a.server.server.is_some() {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--server sends a signed batch only: sign the file first (provider sign-batch), then ingest --batch",
        ));
    }
    if !ctx.officer_named {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--operator-import: name the officer who runs the import with --officer ID (or CREDSEAL_OFFICER); it is written in every subject's receipt",
        ));
    }
    // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
    let data = a.data.expect("clap: --data is required without --server");
    let file = a.file.expect("clap: FILE is required without --batch");
    let p = ctx.open_platform(&data)?;
    let bar = ctx.progress();
    let opts = credseal_engine::IngestOptions {
        allow_shredded: a.allow_shredded,
    };
    let s = if crate::files::is_std(&file) {
        // Standard input is read whole (at most the text-file limit) for the ingest's two
        // passes; a larger file is given by name and read line by line.
        let records = crate::files::read_bounded(
            &file,
            crate::files::MAX_TEXT_FILE,
            "a records file (give a larger one by name)",
        )?;
        p.ingest_records_with(
            &ctx.session(&p)?,
            std::path::Path::new("standard input"),
            &records,
            &bar,
            opts,
        )?
    } else {
        p.ingest_file_with(&ctx.session(&p)?, &file, &bar, opts)?
    };
    render::platform::ingest_summary(&s, a.json);
    Ok(())
}

/// `credseal provider …`.
pub(crate) fn provider(ctx: &Context, cmd: ProviderCommand) -> CliResult {
    match cmd {
        ProviderCommand::Keygen { out, protect, json } => super::staff::keygen("provider", &out, protect, json),
        ProviderCommand::Enroll { data, credential, json } => {
            let text = crate::files::read_signed(&credential)?;
            let p = ctx.open_platform(&data.data)?;
            let c = p.enroll_provider(&ctx.session(&p)?, text.trim(), now()?)?;
            render::done(
                json,
                "provider-enrolled",
                &serde_json::json!({
                    "provider": c.provider_id,
                    "serial": c.serial,
                    "classes": c.classes,
                    "record_prefix": (!c.record_prefix.is_empty()).then_some(&c.record_prefix),
                    "not_after": c.not_after,
                }),
                &format!(
                    "provider {} enrolled for {} (credential serial {})",
                    c.provider_id,
                    c.classes.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
                    c.serial
                ),
            );
            Ok(())
        }
        ProviderCommand::AnswerObjection {
            key,
            objection,
            reason,
            outcome,
            audience,
            out,
            data,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            let id = credseal_core::unhex(&objection)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or_else(|| Failure::new(ErrorClass::Usage, "--objection: 32 hexadecimal digits"))?;
            let a = credseal_auth::ObjectionAnswer {
                objection_id: id,
                reason,
                outcome,
                issued_at: now()?,
                audience,
            };
            let signed = sign(&a, &sk).to_text();
            write_public(&out, &signed)?;
            if !json {
                crate::files::wrote(
                    &out,
                    format_args!("answer written to {}", crate::files::name(&out, true)),
                );
            }
            let mut installed = None;
            if let Some(d) = data {
                let mut shredded = None;
                let st = if a.outcome == credseal_engine::OUTCOME_DELETED {
                    let (p, pass) = ctx.open_platform_keeping_passphrase(&d)?;
                    let (st, shred) = p.answer_objection_deleting(&ctx.session(&p)?, &signed, now()?, &pass)?;
                    let n = shred.map_or(0, |s| s.records);
                    if !json {
                        println!(
                            "objection {objection} answered: the record is deleted by {} ({n} version(s) shredded)",
                            st.provider
                        );
                    }
                    shredded = Some(n);
                    st
                } else {
                    let p = ctx.open_platform(&d)?;
                    let st = p.answer_objection(&signed, now()?)?;
                    if !json {
                        println!("objection {objection} answered: upheld by {}", st.provider);
                    }
                    st
                };
                installed = Some(serde_json::json!({ "provider": st.provider, "shredded_versions": shredded }));
            }
            if json {
                render::print_json(
                    "objection-answer",
                    &serde_json::json!({
                        "file": crate::render::path(&out),
                        "objection_id": objection.to_ascii_lowercase(),
                        "outcome": a.outcome,
                        "answered": installed,
                    }),
                );
            }
            Ok(())
        }
        ProviderCommand::List { data, json } => {
            let p = ctx.open_platform(&data.data)?;
            render::platform::providers(&p.provider_credentials()?, json);
            Ok(())
        }
        ProviderCommand::SignBatch {
            key,
            provider,
            audience,
            records,
            out,
            json,
        } => sign_batch(&key, provider, audience, &records, &out, json),
    }
}

/// Signs the records file as one batch.
fn sign_batch(key: &Path, provider: String, audience: String, records: &Path, out: &Path, json: bool) -> CliResult {
    crate::files::json_out(json, out, "--out")?;
    let sk = signing_key(key)?;
    if !credseal_engine::valid_staff_id(&provider) {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("--provider {provider:?}: an id is 1-64 characters of a-z, 0-9, '.', '_', '-'"),
        ));
    }
    let text = read_text(records)?;
    if text.trim().is_empty() {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("{}: holds no records (the file is empty)", records.display()),
        ));
    }
    let batch = IngestBatch::new(provider, sk.public(), audience, now()?, random16(), text);
    let signed = sign(&batch, &sk).to_text();
    if credseal_auth::Unverified::<IngestBatch>::parse_text(&signed).is_err() {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!(
                "{}: too large for one batch (at most {} MiB signed); split it",
                records.display(),
                credseal_auth::MAX_BATCH_WIRE_LEN >> 20
            ),
        ));
    }
    write_public(out, &signed)?;
    let lines = batch.records.lines().filter(|l| !l.trim().is_empty()).count();
    if json {
        render::print_json(
            "ingest-batch",
            &serde_json::json!({
                "file": crate::render::path(out),
                "provider": batch.provider_id,
                "records": lines,
                "signed_at": batch.signed_at,
            }),
        );
    } else {
        crate::files::wrote(
            out,
            format_args!(
                "batch of {lines} record line(s) written to {}",
                crate::files::name(out, true)
            ),
        );
    }
    Ok(())
}
