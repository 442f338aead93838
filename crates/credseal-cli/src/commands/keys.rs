//! Key management for security officers (`keys status|rotate|rewrap|retire|log-rotate|rekey|passphrase|reshare|share-open`)
//! and `shred`: the destructive ones need two officers' approvals.

use std::path::PathBuf;

use credseal_engine::ErrorClass;

use super::approved;
use crate::cli::{DataArg, KeysCommand, RetentionPolicyArgs, ShredWhat};
use crate::context::Context;

use crate::render::keys as out;
use crate::{CliResult, Failure};

/// `credseal keys …`.
pub(crate) fn run(ctx: &Context, command: KeysCommand) -> CliResult {
    match command {
        KeysCommand::Status { data, json } => {
            let p = ctx.open_platform(&data.data)?;
            out::key_status(&p.key_status()?, &p.log_key_status()?, json);
            Ok(())
        }
        KeysCommand::LogRotate { data, approvals, json } => {
            let (p, pass) = ctx.open_platform_keeping_passphrase(&data.data)?;
            let ok = approved(&p, &p.log_rotation_operation()?, &approvals)?;
            let r = p.rotate_log_key(&ctx.session(&p)?, &pass, &ok)?;
            out::log_rotation(&r, json);
            Ok(())
        }
        KeysCommand::Rotate { data, class, json } => {
            let (p, pass) = ctx.open_platform_keeping_passphrase(&data.data)?;
            let v = p.rotate_class(&ctx.session(&p)?, &class, &pass)?;
            out::rotated(&class, v, json);
            Ok(())
        }
        KeysCommand::Passphrase {
            data,
            new_passphrase_file,
            json,
        } => {
            let (p, pass) = ctx.open_platform_keeping_passphrase(&data.data)?;
            if pass.master().is_some() {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    "this keystore is in officers' custody and has no passphrase: `keys reshare` changes who holds its shares",
                ));
            }
            let next = crate::passphrase::new_passphrase(new_passphrase_file.as_deref())?;
            if next.expose_secret() == pass.expose_secret() {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    "the new passphrase is the current one: nothing to change",
                ));
            }
            p.change_passphrase(&ctx.session(&p)?, &pass, &next)?;
            if json {
                crate::render::print_json("passphrase-changed", &serde_json::json!({ "origin": p.origin() }));
            }
            eprintln!("credseal: the keystore passphrase is changed");
            Ok(())
        }
        KeysCommand::Reshare {
            data,
            holders,
            threshold,
            allow_single_holder,
            json,
        } => super::custody::reshare(ctx, &data.data, &holders, threshold, allow_single_holder, json),
        KeysCommand::ShareOpen { data, key, out, json } => super::custody::share_open(&data.data, &key, &out, json),
        KeysCommand::Rewrap { data, json } => {
            let p = ctx.open_platform(&data.data)?;
            let bar = ctx.progress();
            let s = p.rewrap(&ctx.session(&p)?, &bar)?;
            out::rewrap(s.subjects, s.rewrapped, &s.moves, json);
            Ok(())
        }
        KeysCommand::Retire {
            data,
            class,
            kek_version: version,
            approvals,
            json,
        } => {
            let (p, pass) = ctx.open_platform_keeping_passphrase(&data.data)?;
            let ok = approved(&p, &credseal_engine::Operation::retire(&class, version), &approvals)?;
            p.retire_version(&ctx.session(&p)?, &class, version, &pass, &ok)?;
            out::retired(&class, version, json);
            Ok(())
        }
        KeysCommand::RetentionPolicy(a) => retention_policy(ctx, a),
        KeysCommand::Rekey {
            data,
            subject,
            class,
            approvals,
            json,
        } => {
            let id = credseal_core::SubjectId::parse(&subject)
                .map_err(|e| Failure::new(ErrorClass::Usage, format!("--subject: {e}")))?;
            let p = ctx.open_platform(&data.data)?;
            let ok = approved(&p, &credseal_engine::Operation::rekey(&id, &class), &approvals)?;
            let n = p.rekey(&ctx.session(&p)?, &id, &class, &ok)?;
            out::rekeyed(&class, n, json);
            Ok(())
        }
    }
}

/// `credseal keys retention-policy`: install (`--every`), withdraw (`--off`) or show
/// (`--show`) the standing retention policy.
fn retention_policy(ctx: &Context, a: RetentionPolicyArgs) -> CliResult {
    let p = ctx.open_platform(&a.data.data)?;
    if a.show {
        out::retention_policy(p.retention_policy()?.as_ref(), None, a.json);
        return Ok(());
    }
    match a.every {
        Some(every) => {
            let ok = approved(&p, &credseal_engine::Operation::retention_policy(every), &a.approvals)?;
            let policy = p.install_retention_policy(&ctx.session(&p)?, every, &ok)?;
            out::retention_policy(Some(&policy), Some("installed"), a.json);
        }
        None => {
            // Nothing to withdraw is said before an officer is asked for an approval.
            if p.retention_policy()?.is_none() {
                return Err(Failure::new(
                    ErrorClass::Error,
                    "no retention policy is installed: nothing to withdraw",
                ));
            }
            let ok = approved(&p, &credseal_engine::Operation::retention_policy_off(), &a.approvals)?;
            let old = p.withdraw_retention_policy(&ctx.session(&p)?, &ok)?;
            out::retention_policy(Some(&old), Some("withdrawn"), a.json);
        }
    }
    Ok(())
}

/// `credseal shred`: a retention sweep or a credit-repair order, approved by two officers; a
/// retention sweep with no approvals runs under the standing retention policy, if one is
/// installed.
pub(crate) fn shred(
    ctx: &Context,
    data: DataArg,
    what: ShredWhat,
    approvals: Vec<PathBuf>,
    now: Option<u64>,
    json: bool,
) -> CliResult {
    if now.is_some() && !cfg!(debug_assertions) {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--now is only available in test builds",
        ));
    }
    let (p, pass) = ctx.open_platform_keeping_passphrase(&data.data)?;
    let s = match what.order {
        None => {
            let now = match now {
                Some(t) => t,
                None => crate::now()?,
            };
            let today = credseal_core::Date::from_unix(now)
                .ok_or_else(|| Failure::new(ErrorClass::Error, "the clock is out of range"))?;
            if approvals.is_empty() && p.retention_policy()?.is_some() {
                let run = p.shred_expired_under_policy(&ctx.session(&p)?, today, &pass)?;
                out::shred(&run.summary, Some(&run), json);
                return Ok(());
            }
            let op = credseal_engine::Operation::shred_expired(today);
            let ok = approved(&p, &op, &approvals).map_err(|f| {
                if approvals.is_empty() {
                    f.hint(
                        "or install a standing retention policy once (`credseal keys retention-policy --every 1d`, approved by two officers): sweeps then run without approvals",
                    )
                } else {
                    f
                }
            })?;
            p.shred_expired(&ctx.session(&p)?, today, &pass, &ok)?
        }
        Some(file) => {
            let order = p.check_shred_order(&crate::files::read_signed(&file)?).map_err(|e| {
                let f = super::query_failure(e);
                Failure::new(f.class, format!("{}: {}", file.display(), f.message))
            })?;
            let ok = approved(&p, &order.operation(), &approvals)?;
            p.shred_by_order(&ctx.session(&p)?, &order, &pass, &ok)?
        }
    };
    out::shred(&s, None, json);
    Ok(())
}
