//! A data subject's commands: keys, registration, consents, self-queries.

use credseal_auth::{Consent, SelfQuery, sign};

use super::{keypair_dir, now, random16, set, subject};
use crate::CliResult;
use crate::cli::SubjectCommand;
use crate::context::Context;
use crate::files::{public_key, sealing_public, signing_key, write_public};

/// `credseal subject …`.
pub(crate) fn run(ctx: &Context, cmd: SubjectCommand) -> CliResult {
    match cmd {
        SubjectCommand::Keygen { out_dir } => keypair_dir(&out_dir),
        SubjectCommand::Register {
            data,
            subject: s,
            key,
            replace,
        } => {
            let id = subject(&s)?;
            let pk = public_key(&key)?;
            let p = ctx.open_platform(&data.data)?;
            p.register_subject_key(&ctx.session(&p)?, &id, pk.as_bytes(), replace)?;
            println!("registered the subject's key {}", pk.to_hex());
            Ok(())
        }
        SubjectCommand::Consent {
            key,
            subject: s,
            department,
            classes,
            purpose,
            days,
            max_uses,
            audience,
            issued_at,
            out,
        } => {
            let sk = signing_key(&key)?;
            let issued_at = match issued_at {
                Some(t) => t,
                None => now()?,
            };
            let c = Consent {
                consent_id: random16(),
                subject: subject(&s)?.to_string(),
                subject_key: sk.public(),
                department_id: department,
                classes: set(&classes),
                purpose,
                issued_at,
                expires_at: issued_at.saturating_add(days.saturating_mul(86_400)),
                max_uses,
                audience,
            };
            write_public(&out, &sign(&c, &sk).to_text())?;
            println!("consent written to {}", out.display());
            Ok(())
        }
        SubjectCommand::Query {
            key,
            sealing_key,
            subject: s,
            classes,
            audience,
            ttl,
            out,
        } => {
            let sk = signing_key(&key)?;
            let issued_at = now()?;
            let q = SelfQuery {
                query_id: random16(),
                subject: subject(&s)?.to_string(),
                classes: set(&classes),
                issued_at,
                expires_at: issued_at.saturating_add(ttl),
                audience,
                sealing_key: sealing_public(&sealing_key)?.to_bytes(),
            };
            write_public(&out, &sign(&q, &sk).to_text())?;
            println!("self-query written to {}", out.display());
            Ok(())
        }
    }
}
