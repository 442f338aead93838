//! `credseal query` (the platform runs a department's token or a subject's self-query and
//! writes the sealed answer) and `credseal open` (the requester opens it).

use credseal_engine::{ErrorClass, SealedAnswer};

use super::{now, query_failure};
use crate::cli::{OpenArgs, QueryArgs};
use crate::context::Context;
use crate::files::{read_text as read, sealing_key, write_public};
use crate::{CliResult, Failure, render};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// `credseal query`: the platform runs a token and writes the sealed answer.
pub(crate) fn query(ctx: &Context, a: QueryArgs) -> CliResult {
    let p = ctx.open_platform(&a.data.data)?;
    // docs/design.md §9: a query touching a canary subject raises an alert at once.
    p.set_alert_sink(std::sync::Arc::new(|al: &credseal_engine::CanaryAlert| {
        eprintln!(
            "credseal: ALERT: a query by {} (credential {}) for {} touched a canary subject: receipt {}, {}",
            al.department,
            al.credential_serial.map_or("-".into(), |s| s.to_string()),
            al.purpose,
            al.receipt,
            al.outcome
        );
    }));
    if a.now.is_some() && !cfg!(debug_assertions) {
        return Err(fail(ErrorClass::Usage, "--now is only available in test builds"));
    }
    let now = match a.now {
        Some(t) => t,
        None => now()?,
    };
    let answer = match (&a.credential, &a.token, &a.self_query) {
        (Some(c), Some(t), None) => p.query(&read(c)?, &read(t)?, now),
        (None, None, Some(q)) => p.self_query(&read(q)?, now),
        _ => {
            return Err(fail(
                ErrorClass::Usage,
                "give --credential and --token, or --self-query",
            ));
        }
    }
    .map_err(query_failure)?;
    write_public(&a.out, &answer.to_text())?;
    println!(
        "sealed answer to query {} written to {}",
        credseal_core::hex(&answer.query_id),
        a.out.display()
    );
    Ok(())
}

/// `credseal open`: the requester opens a sealed answer.
pub(crate) fn open(a: OpenArgs) -> CliResult {
    let key = sealing_key(&a.key)?;
    let log = credseal_log::LogVerifier::from_vkey(read(&a.log_key)?.trim()).map_err(|e| {
        fail(
            ErrorClass::Error,
            format!("{}: not a log key: {e}", a.log_key.display()),
        )
    })?;
    let request = credseal_log::AnswerRequest::from_text(&read(&a.token)?)
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", a.token.display())))?;
    let answer = SealedAnswer::from_text(&read(&a.answer)?)?;
    let body = answer.open_verified(&key, &log, &request)?;
    if let Some(vrf_key) = &a.vrf_key {
        let blind = super::receipts::check_answer_vrf(vrf_key, a.subject.as_deref(), &body, &answer.receipt)?;
        eprintln!("the answer's VRF proof verifies: your blind id is {}", blind.to_hex());
    }
    match &a.export {
        None => render::answer::answer(&body, a.json),
        Some(path) => {
            let index = credseal_log::UnverifiedReceipt::parse(&answer.receipt)
                .and_then(|r| r.peek_unverified())
                .map_err(|e| fail(ErrorClass::Verification, format!("the answer's receipt: {e}")))?
                .index;
            let n = crate::export::write(path, &body, index)?;
            println!("exported {n} record(s) of disclosure {index} to {}", path.display());
        }
    }
    Ok(())
}
