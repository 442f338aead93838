//! An authorized department's commands: its keys and query tokens.

use credseal_auth::{Consent, Credential, Token, Unverified, sign};
use credseal_engine::ErrorClass;

use super::{keypair_dir, now, random16, set, subject};
use crate::cli::DeptCommand;
use crate::files::{read_text as read, signing_key, write_public};
use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// `credseal dept …`.
pub(crate) fn run(cmd: DeptCommand) -> CliResult {
    match cmd {
        DeptCommand::Keygen { out_dir } => keypair_dir(&out_dir),
        DeptCommand::Query(a) => {
            let sk = signing_key(&a.key)?;
            let cred = Unverified::<Credential>::parse_text(read(&a.credential)?.trim())
                .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", a.credential.display())))?
                .peek_unverified()
                .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", a.credential.display())))?;
            let consent = match &a.consent {
                Some(f) => Some(
                    Unverified::<Consent>::parse_text(read(f)?.trim())
                        .map_err(|e| {
                            let old = matches!(e, credseal_auth::FormatError::UnsupportedVersion { found: 1, .. });
                            let f = fail(ErrorClass::Verification, format!("{}: {e}", f.display()));
                            if old {
                                f.hint("this consent names no platform (made before consents carried an audience); ask the subject for a new one: `credseal subject consent ... --audience <platform origin>`")
                            } else {
                                f
                            }
                        })?
                        .as_bytes()
                        .to_vec(),
                ),
                None => None,
            };
            let issued_at = match a.issued_at {
                Some(t) => t,
                None => now()?,
            };
            let token = Token {
                query_id: random16(),
                credential_serial: cred.serial,
                subject: subject(&a.subject)?.to_string(),
                classes: set(&a.classes),
                purpose: a.purpose,
                legal_basis: a.legal_basis,
                issued_at,
                expires_at: issued_at.saturating_add(a.ttl),
                audience: a.audience,
                consent,
            };
            write_public(&a.out, &sign(&token, &sk).to_text())?;
            println!("query token written to {}", a.out.display());
            Ok(())
        }
    }
}
