//! Security officers' and incident responders' keys and enrolment (`officer` for officers,
//! `staff` for responders and for either role), and officers' approvals of destructive
//! operations.

use std::path::Path;

use credseal_auth::{PublicKey, SigningKey, StaffRequest, sign};
use credseal_engine::{ErrorClass, StaffRole};

use super::staff_key;
use crate::cli::{OfficerCommand, StaffCommand};
use crate::context::Context;
use crate::files::{read_text, write_public, write_secret};
use crate::render::quoted;
use crate::{CliResult, Failure};

/// `credseal officer …`: the officer's forms of the `staff` commands.
pub(crate) fn officer(ctx: &Context, cmd: OfficerCommand) -> CliResult {
    run(
        ctx,
        match cmd {
            OfficerCommand::Keygen { out } => StaffCommand::Keygen { out },
            OfficerCommand::SetPolicy(a) => return super::policy::set(ctx, a),
            OfficerCommand::Enroll { data, id, key, replace } => StaffCommand::Enroll {
                data,
                role: StaffRole::Officer.label().into(),
                id,
                key,
                replace,
            },
            OfficerCommand::Approve {
                key,
                operation,
                audience,
                valid_mins,
                out,
            } => StaffCommand::Approve {
                key,
                operation,
                audience,
                valid_mins,
                out,
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
            valid_mins,
            out,
        } => {
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
                    expires_at: now + valid_mins * 60,
                    audience,
                },
                &sk,
            )
            .to_text();
            write_public(&out, &text)?;
            println!("approval of {} written to {}", quoted(&operation), out.display());
            Ok(())
        }
        StaffCommand::Keygen { out } => {
            let sk = SigningKey::generate();
            write_secret(&out, &sk.to_text())?;
            let mut pubp = out.as_os_str().to_os_string();
            pubp.push(".pub");
            write_public(Path::new(&pubp), &sk.public().to_text())?;
            println!("{}", sk.public().to_text());
            Ok(())
        }
        StaffCommand::Enroll {
            data,
            role,
            id,
            key,
            replace,
        } => {
            // Cannot fail: clap accepted only the values StaffRole::parse knows.
            let role = StaffRole::parse(&role).expect("clap checked the value");
            let pk = PublicKey::from_text(&read_text(&key)?)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", key.display())))?;
            let p = ctx.open_platform(&data.data)?;
            p.enroll_staff(role, &id, pk.as_bytes(), replace)?;
            println!("enrolled {id} as {} with key {}", role.label(), pk.to_hex());
            Ok(())
        }
    }
}
