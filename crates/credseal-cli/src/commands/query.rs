//! `credseal query` (the platform runs a department's token or a subject's self-query and
//! writes the sealed answer) and `credseal open` (the requester opens it).

use std::path::Path;

use credseal_engine::{ErrorClass, SealedAnswer};

use super::{now, query_failure};
use crate::cli::{OpenArgs, QueryArgs};
use crate::context::Context;
use crate::files::{read_signed, read_text as read, sealing_key, write_public};
use crate::{CliResult, Failure, render};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// `credseal query`: the platform runs a token and writes the sealed answer.
pub(crate) fn query(ctx: &Context, a: QueryArgs) -> CliResult {
    crate::files::json_out(a.json, &a.out, "--out")?;
    // Before the query spends its token (and a consent use) and leaves a receipt: an answer
    // that could not be written would be lost.
    crate::files::can_write_new(&a.out)?;
    let p = ctx.open_platform(&a.data.data)?;
    // docs/design.md §9: a query touching a canary subject raises an alert at once.
    p.set_alert_sink(std::sync::Arc::new(super::print_alert));
    if a.now.is_some() && !cfg!(debug_assertions) {
        return Err(fail(ErrorClass::Usage, "--now is only available in test builds"));
    }
    let now = match a.now {
        Some(t) => t,
        None => now()?,
    };
    let answer = match (&a.credential, &a.token, &a.self_query) {
        (Some(c), Some(t), None) => p.query(&read_signed(c)?, &read_signed(t)?, now),
        (None, None, Some(q)) => p.self_query(&read_signed(q)?, now),
        _ => {
            return Err(fail(
                ErrorClass::Usage,
                "give --credential and --token, or --self-query",
            ));
        }
    }
    .map_err(query_failure)?;
    write_public(&a.out, &answer.to_text())?;
    if a.json {
        let index = credseal_log::UnverifiedReceipt::parse(&answer.receipt)
            .and_then(|r| r.peek_unverified())
            .map(|b| b.index)
            .ok();
        crate::render::print_json(
            "sealed-answer",
            &serde_json::json!({
                "file": crate::render::path(&a.out),
                "query_id": credseal_core::hex(&answer.query_id),
                "origin": answer.origin,
                "receipt_index": index,
            }),
        );
        return Ok(());
    }
    crate::files::wrote(
        &a.out,
        format_args!(
            "sealed answer to query {} written to {}",
            credseal_core::hex(&answer.query_id),
            crate::files::name(&a.out, true)
        ),
    );
    Ok(())
}

/// `credseal open`: the requester opens a sealed answer.
pub(crate) fn open(a: OpenArgs) -> CliResult {
    // The answer first: given as `-` at the end of a pipeline (`dept query --out - | tee
    // token.txt | credseal query --token - --out - | credseal open --token token.txt -`), it
    // ends only once the query has read the whole token, which `tee` has by then written to
    // the request file read next.
    let answer = read(&a.answer)?;
    let key = sealing_key(&a.key)?;
    let log = log_verifier(&a.log_key)?;
    open_text(&Opening {
        key: &key,
        log: &log,
        request: &crate::files::read_signed(&a.token)?,
        request_name: &a.token.display().to_string(),
        answer: &answer,
        vrf_key: a.vrf_key.as_deref(),
        subject: a.subject.as_deref(),
        json: a.json,
        export: a.export.as_deref(),
    })
}

/// The pinned log key in `path` (`log key --current`).
pub(crate) fn log_verifier(path: &Path) -> CliResult<credseal_log::LogVerifier> {
    credseal_log::LogVerifier::from_vkey(crate::files::read_key_text(path)?.trim())
        .map_err(|e| fail(ErrorClass::Error, format!("{}: not a log key: {e}", path.display())))
}

/// What opening an answer needs: the requester's sealing key, the pinned log key, the
/// request sent (token or self-query text), the sealed answer's text, and how to print.
pub(crate) struct Opening<'a> {
    pub(crate) key: &'a credseal_crypto::SealingKey,
    pub(crate) log: &'a credseal_log::LogVerifier,
    pub(crate) request: &'a str,
    /// Where the request came from (a file, or "the query sent"), for errors.
    pub(crate) request_name: &'a str,
    pub(crate) answer: &'a str,
    pub(crate) vrf_key: Option<&'a Path>,
    pub(crate) subject: Option<&'a str>,
    pub(crate) json: bool,
    pub(crate) export: Option<&'a Path>,
}

/// Opens and verifies a sealed answer exactly as `credseal open` does, and prints it (or
/// exports it).
pub(crate) fn open_text(o: &Opening<'_>) -> CliResult {
    let request = credseal_log::AnswerRequest::from_text(o.request)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", o.request_name)))?;
    let answer = SealedAnswer::from_text(o.answer)?;
    let body = answer.open_verified(o.key, o.log, &request)?;
    if let Some(vrf_key) = o.vrf_key {
        let blind = super::receipts::check_answer_vrf(vrf_key, o.subject, &body, &answer.receipt)?;
        eprintln!("the answer's VRF proof verifies: your blind id is {}", blind.to_hex());
    }
    // The verified receipt says which of the records are disputed (an open objection).
    let detail = credseal_log::UnverifiedReceipt::parse(&answer.receipt)
        .and_then(|r| r.peek_unverified())
        .map(|b| b.detail)
        .unwrap_or_default();
    // The platform appends the mark last (a department's legal basis cannot contain it).
    let disputed = detail
        .rfind(credseal_engine::DISPUTED_MARK)
        .map(|i| detail[i..].to_string());
    match o.export {
        None => render::answer::answer(&body, disputed.as_deref(), o.json),
        Some(path) => {
            let index = credseal_log::UnverifiedReceipt::parse(&answer.receipt)
                .and_then(|r| r.peek_unverified())
                .map_err(|e| fail(ErrorClass::Verification, format!("the answer's receipt: {e}")))?
                .index;
            let n = crate::export::write(path, &body, index)?;
            crate::render::done(
                o.json,
                "export",
                &serde_json::json!({ "file": crate::render::path(path), "records": n, "receipt_index": index }),
                &format!("exported {n} record(s) of disclosure {index} to {}", path.display()),
            );
        }
    }
    Ok(())
}
