//! Incident response (docs/design.md §9): `trace`, canary subjects and the access review. Every
//! platform-side command here is a staff request signed with the enrolled key given by
//! `--key`; the platform refuses it (exit 3) when the key is not enrolled for the role.

use credseal_engine::{ErrorClass, Platform, StaffRole};

use super::{now_arg, staff_key, staff_request};
use crate::cli::{AuditCommand, CanaryCommand, TraceArgs};
use crate::context::Context;
use crate::render::incident as out;
use crate::{CliResult, Failure};

/// `credseal trace`: which disclosures released the leaked items.
pub(crate) fn trace(ctx: &Context, a: TraceArgs) -> CliResult {
    let key = staff_key(&a.key)?;
    let leak = crate::files::read_bounded(
        &a.file,
        credseal_engine::MAX_LEAK_BYTES as u64,
        "a leak file (split it)",
    )?;
    let now = now_arg(a.now)?;
    let p: Platform = ctx.open_platform(&a.data.data)?;
    let req = staff_request(
        &key,
        StaffRole::Responder,
        "trace",
        credseal_crypto::sha256(&leak),
        p.origin(),
        now,
    );
    let r = p.trace_in(&req, &leak, a.encoding.as_deref(), now)?;
    out::trace(&r, a.json);
    Ok(())
}

/// `credseal canary plant`.
pub(crate) fn canary(ctx: &Context, cmd: CanaryCommand) -> CliResult {
    let CanaryCommand::Plant {
        data,
        key,
        count,
        ids_out,
        json,
        now,
    } = cmd;
    let key = staff_key(&key)?;
    let now = now_arg(now)?;
    if let Some(f) = &ids_out
        && f.exists()
    {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("{} exists; refusing to overwrite it", f.display()),
        ));
    }
    let p = ctx.open_platform(&data.data)?;
    let digest = credseal_crypto::sha256(format!("count={count}").as_bytes());
    let req = staff_request(&key, StaffRole::Officer, "canary-plant", digest, p.origin(), now);
    let r = p.plant_canaries(&req, count, now)?;
    if let Some(f) = &ids_out {
        let ids: Vec<&str> = r.subjects.iter().map(|s| s.as_str()).collect();
        crate::files::write_new(f, format!("{}\n", ids.join("\n")).as_bytes(), 0o600)?;
    }
    out::planted(&r, json);
    Ok(())
}

/// `credseal audit …`.
pub(crate) fn audit(ctx: &Context, cmd: AuditCommand) -> CliResult {
    match cmd {
        AuditCommand::Objections { data, json, now } => {
            if now.is_some() && !cfg!(debug_assertions) {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    "--now is only available in test builds",
                ));
            }
            let now = match now {
                Some(t) => t,
                None => crate::now()?,
            };
            let p = ctx.open_platform(&data.data)?;
            p.set_alert_sink(std::sync::Arc::new(|al: &credseal_engine::CanaryAlert| {
                eprintln!(
                    "credseal: ALERT: provider {} has an overdue objection: receipt {}, {}",
                    al.department, al.receipt, al.outcome
                );
            }));
            let list = p.review_objections(now)?;
            out::objections(&list, now, json);
            Ok(())
        }
        AuditCommand::Alerts { data, key, json } => {
            let key = staff_key(&key)?;
            let now = crate::now()?;
            let p = ctx.open_platform(&data.data)?;
            let req = staff_request(
                &key,
                StaffRole::Responder,
                "audit-alerts",
                credseal_crypto::sha256(b""),
                p.origin(),
                now,
            );
            let alerts = p.canary_alerts(&req, now)?;
            out::alerts(&alerts, json);
            Ok(())
        }
        AuditCommand::Report {
            data,
            key,
            dept,
            from,
            to,
            json,
            now,
        } => {
            let day = |s: &str, flag: &str| {
                credseal_core::Date::parse(s.trim())
                    .map_err(|_| Failure::new(ErrorClass::Usage, format!("{flag}: expected a date written YYYY-MM-DD")))
            };
            let (from, to) = (day(&from, "--since")?, day(&to, "--until")?);
            let key = staff_key(&key)?;
            let now = now_arg(now)?;
            let p = ctx.open_platform(&data.data)?;
            let params = Platform::report_params(dept.as_deref(), from, to);
            let req = staff_request(
                &key,
                StaffRole::Responder,
                "audit-report",
                credseal_crypto::sha256(params.as_bytes()),
                p.origin(),
                now,
            );
            let r = p.audit_report(&req, dept.as_deref(), from, to, now)?;
            out::report(&r, json);
            Ok(())
        }
    }
}
