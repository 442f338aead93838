//! Security officers' and incident responders' keys and enrolment (`officer` for officers,
//! `staff` for responders and for either role), and officers' approvals of destructive
//! operations.

use std::path::Path;

use credseal_auth::{PublicKey, SigningKey, StaffOrder, StaffRequest, sign};
use credseal_engine::{ErrorClass, Operation, Platform, StaffChange, StaffRole};

use super::staff_key;
use crate::cli::{OfficerCommand, StaffApprovalArgs, StaffCommand};
use crate::context::Context;
use crate::files::{signing_key, write_public, write_role_key};
use crate::render::quoted;
use crate::{CliResult, Failure};

/// `credseal officer …`: the officer's forms of the `staff` commands.
pub(crate) fn officer(ctx: &Context, cmd: OfficerCommand) -> CliResult {
    run(
        ctx,
        match cmd {
            OfficerCommand::Keygen { out, protect, json } => return keygen("officer", &out, protect, json),
            OfficerCommand::UnsealKeygen { out, protect, json } => return super::custody::keygen(&out, protect, json),
            OfficerCommand::SetPolicy(a) => return super::policy::set(ctx, a),
            OfficerCommand::Enroll {
                data,
                id,
                key,
                replace,
                approval,
                json,
            } => StaffCommand::Enroll {
                data,
                role: StaffRole::Officer.label().into(),
                id,
                key,
                replace,
                approval,
                json,
            },
            OfficerCommand::Remove {
                data,
                id,
                approval,
                json,
            } => StaffCommand::Remove {
                data,
                role: StaffRole::Officer.label().into(),
                id,
                approval,
                json,
            },
            OfficerCommand::Approve {
                key,
                operation,
                audience,
                valid_for,
                valid_mins,
                out,
                json,
            } => StaffCommand::Approve {
                key,
                operation,
                audience,
                valid_for,
                valid_mins,
                out,
                json,
            },
        },
    )
}

/// `credseal staff …`.
pub(crate) fn run(ctx: &Context, cmd: StaffCommand) -> CliResult {
    match cmd {
        StaffCommand::Approve {
            key,
            operation,
            audience,
            valid_for,
            valid_mins,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = staff_key(&key)?;
            let now = crate::now()?;
            let text = sign(
                &StaffRequest {
                    request_id: credseal_crypto::random_array(),
                    role: StaffRole::Officer.label().into(),
                    staff_key: sk.public(),
                    action: credseal_engine::APPROVE_ACTION.into(),
                    input_digest: credseal_crypto::sha256(operation.as_bytes()),
                    issued_at: now,
                    expires_at: now + valid_mins.map_or(valid_for, |m| m * 60),
                    audience,
                },
                &sk,
            )
            .to_text();
            write_public(&out, &text)?;
            signed_operation_written(
                json,
                "approval",
                &out,
                &operation,
                now,
                valid_mins.map_or(valid_for, |m| m * 60),
            );
            Ok(())
        }
        StaffCommand::Keygen { out, protect, json } => keygen("staff", &out, protect, json),
        StaffCommand::Enroll {
            data,
            role,
            id,
            key,
            replace,
            approval,
            json,
        } => {
            // Cannot fail: clap accepted only the values StaffRole::parse knows.
            let role = StaffRole::parse(&role).expect("clap checked the value");
            let pk = PublicKey::from_text(&crate::files::read_key_text(&key)?)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", key.display())))?;
            let change = StaffChange::Enroll {
                role,
                id: id.clone(),
                key: *pk.as_bytes(),
                replace,
            };
            let p = ctx.open_platform(&data.data)?;
            let approved = staff_approved(&p, &change.operation(), &approval)?;
            p.change_staff(&ctx.session(&p)?, &change, &approved)?;
            crate::render::done(
                json,
                "staff-change",
                &serde_json::json!({
                    "change": "enroll",
                    "role": role.label(),
                    "id": id,
                    "key": pk.to_hex(),
                    "approved_by": approved.officers(),
                }),
                &format!(
                    "enrolled {id} as {} with key {} ({})",
                    role.label(),
                    pk.to_hex(),
                    approved_by(&approved)
                ),
            );
            Ok(())
        }
        StaffCommand::Remove {
            data,
            role,
            id,
            approval,
            json,
        } => {
            // Cannot fail: clap accepted only the values StaffRole::parse knows.
            let role = StaffRole::parse(&role).expect("clap checked the value");
            let change = StaffChange::Remove { role, id: id.clone() };
            let p = ctx.open_platform(&data.data)?;
            let approved = staff_approved(&p, &change.operation(), &approval)?;
            p.change_staff(&ctx.session(&p)?, &change, &approved)?;
            crate::render::done(
                json,
                "staff-change",
                &serde_json::json!({
                    "change": "remove",
                    "role": role.label(),
                    "id": id,
                    "key": null,
                    "approved_by": approved.officers(),
                }),
                &format!("removed {} {id} ({})", role.label(), approved_by(&approved)),
            );
            Ok(())
        }
        StaffCommand::Order {
            key,
            operation,
            audience,
            valid_for,
            valid_mins,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            let now = crate::now()?;
            let text = sign(
                &StaffOrder {
                    order_id: credseal_crypto::random_array(),
                    operation: operation.clone(),
                    issued_at: now,
                    expires_at: now + valid_mins.map_or(valid_for, |m| m * 60),
                    audience,
                },
                &sk,
            )
            .to_text();
            write_public(&out, &text)?;
            signed_operation_written(
                json,
                "staff-order",
                &out,
                &operation,
                now,
                valid_mins.map_or(valid_for, |m| m * 60),
            );
            Ok(())
        }
    }
}

/// `staff keygen`, `officer keygen`: a signing key file and its `.pub`.
pub(crate) fn keygen(role: &'static str, out: &Path, protect: crate::cli::KeyProtection, json: bool) -> CliResult {
    crate::files::not_std(out, "--out")?;
    crate::files::create_key_parent(out)?;
    let sk = SigningKey::generate();
    let public = crate::files::pub_path(out);
    crate::files::write_all_new(&[out.to_path_buf(), public.clone()], |w| {
        write_role_key(out, &sk.to_text(), protect)?;
        w.push(out.to_path_buf());
        write_public(&public, &sk.public().to_text())
    })?;
    crate::render::key_file(json, role, out, &public, !protect.unencrypted, &sk.public().to_text());
    Ok(())
}

/// What `staff approve` or `staff order` wrote (document `name`, `approval` or
/// `staff-order`): the JSON document, or the line saying where.
fn signed_operation_written(json: bool, name: &str, out: &Path, operation: &str, now: u64, valid_secs: u64) {
    if json {
        crate::render::print_json(
            name,
            &serde_json::json!({
                "file": crate::render::path(out),
                "operation": operation,
                "issued_at": now,
                "expires_at": now + valid_secs,
            }),
        );
    } else {
        let what = if name == "approval" {
            "approval of"
        } else {
            "staff order for"
        };
        crate::files::wrote(
            out,
            format_args!(
                "{what} {} written to {}",
                quoted(operation),
                crate::files::name(out, true)
            ),
        );
    }
}

/// "approved by a, b".
fn approved_by(a: &credseal_engine::Approved) -> String {
    format!("approved by {}", a.officers().join(", "))
}

/// The approvals (or the authority's order) of a staff operation, checked; without them
/// the error names the operation to approve.
fn staff_approved(p: &Platform, op: &Operation, a: &StaffApprovalArgs) -> CliResult<credseal_engine::Approved> {
    match &a.order {
        Some(f) => {
            let text = crate::files::read_signed(f)?;
            p.approve_by_authority(op, &text, crate::now()?).map_err(|e| {
                Failure::new(e.class(), format!("{}: {e}", f.display()))
            })
        }
        None => super::approved(p, op, &a.approvals).map_err(|e| {
            e.hint(format!(
                "or the authority runs `credseal staff order --key AUTHORITY_KEY --origin {} --operation {} --out FILE`, then pass --order FILE",
                p.origin(),
                quoted(op.text())
            ))
        }),
    }
}

/// `init --first-officer ID=PUBFILE`, each read and checked before anything is created: at
/// least two, each id valid and named once, each key its own.
pub(crate) fn first_officers(specs: &[String]) -> CliResult<Vec<(String, [u8; 32])>> {
    let usage = |m: String| Failure::new(ErrorClass::Usage, m);
    let mut out: Vec<(String, [u8; 32])> = Vec::new();
    for spec in specs {
        let Some((id, file)) = spec.split_once('=') else {
            return Err(usage(format!("--first-officer {}: expected ID=PUBFILE", quoted(spec))));
        };
        if !credseal_engine::valid_staff_id(id) {
            return Err(usage(format!(
                "--first-officer {}: the id must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
                quoted(id)
            )));
        }
        let pk = PublicKey::from_text(&crate::files::read_key_text(Path::new(file))?)
            .map_err(|e| Failure::new(ErrorClass::Error, format!("{file}: {e}")))?;
        if out.iter().any(|(i, k)| i == id || k == pk.as_bytes()) {
            return Err(usage(format!(
                "--first-officer {}: each officer needs its own id and its own key",
                quoted(id)
            )));
        }
        out.push((id.to_string(), *pk.as_bytes()));
    }
    if out.len() == 1 {
        return Err(usage(
            "--first-officer must be given at least twice: the two-person rule needs two officers".into(),
        ));
    }
    Ok(out)
}
