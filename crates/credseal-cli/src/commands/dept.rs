//! An authorized department's commands: its keys and query tokens.

use credseal_auth::{Consent, Credential, Token, Unverified, sign};
use credseal_engine::ErrorClass;

use super::query::{Opening, log_verifier, open_text};
use super::{keypair_dir, now, random16, set, subject};
use crate::cli::DeptCommand;
use crate::client::{Client, ClientError, QueryResponse};
use crate::files::{read_text as read, sealing_key, signing_key, write_public};
use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// The answer to `GET /v1/notices/{department}`.
#[derive(serde::Deserialize)]
struct NoticesResponse {
    notices: Vec<String>,
}

/// `credseal dept …`.
pub(crate) fn run(ctx: &crate::context::Context, cmd: DeptCommand) -> CliResult {
    match cmd {
        DeptCommand::Keygen { out_dir, protect, json } => keypair_dir("department", &out_dir, protect, json),
        DeptCommand::Notices {
            data,
            server,
            department,
            json,
        } => {
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if department.is_empty() || department.len() > 64 || !department.chars().all(plain) {
                return Err(fail(
                    ErrorClass::Usage,
                    format!("--department {department:?}: not a department id"),
                ));
            }
            let notices = match (&server.server, &data) {
                (Some(url), _) => {
                    let client = Client::new(url, server.ca.as_deref())?;
                    client
                        .get::<NoticesResponse>(&format!("/v1/notices/{department}"))?
                        .notices
                }
                (None, Some(d)) => ctx.open_platform(d)?.correction_notices(&department)?,
                (None, None) => unreachable!("clap: --data is required without --server"),
            };
            if json {
                crate::render::print_json(
                    "sealed-notices",
                    &serde_json::json!({ "department": department, "notices": notices }),
                );
            } else {
                for n in &notices {
                    println!("{n}");
                }
            }
            eprintln!("{} correction notice(s) for {department}", notices.len());
            Ok(())
        }
        DeptCommand::OpenNotice { key, file, json } => {
            let sk = sealing_key(&key)?;
            let text = read(&file)?;
            let mut out = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let n = credseal_engine::open_notice(line, &sk)
                    .map_err(|e| fail(ErrorClass::Verification, format!("{}:{}: {e}", file.display(), i + 1)))?;
                out.push(n);
            }
            crate::render::answer::notices(&out, json);
            Ok(())
        }
        DeptCommand::Query(a) => {
            let sk = signing_key(&a.key)?;
            let cred = Unverified::<Credential>::parse_text(crate::files::read_signed(&a.credential)?.trim())
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
                                f.hint("this consent names no platform (made before consents carried an audience); ask the subject for a new one: `credseal subject consent ... --origin <platform origin>`")
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
            let signed = sign(&token, &sk).to_text();
            let Some(server) = a.server.as_deref() else {
                crate::files::json_out(a.json, &a.out, "--out")?;
                write_public(&a.out, &signed)?;
                if a.json {
                    crate::render::print_json(
                        "token",
                        &serde_json::json!({
                            "file": crate::render::path(&a.out),
                            "query_id": credseal_core::hex(&token.query_id),
                            "credential_serial": token.credential_serial,
                            "classes": token.classes,
                            "purpose": token.purpose,
                            "issued_at": token.issued_at,
                            "expires_at": token.expires_at,
                            "consent": token.consent.is_some(),
                        }),
                    );
                } else {
                    crate::files::wrote(
                        &a.out,
                        format_args!("query token written to {}", crate::files::name(&a.out, true)),
                    );
                }
                return Ok(());
            };
            // Everything the answer needs is read before the query is sent (a query spends
            // the token and leaves a receipt).
            let mut client = Client::new(server, a.ca.as_deref())?;
            if let (Some(cert), Some(key)) = (&a.client_cert, &a.client_key) {
                client = client.with_client_cert(a.ca.as_deref(), cert, key)?;
            }
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            let seal = sealing_key(
                a.sealing_key
                    .as_deref()
                    .expect("clap: --server requires --sealing-key-private"),
            )?;
            let log = log_verifier(a.log_key.as_deref().expect("clap: --server requires --log-key"))?;
            if log.origin() != token.audience {
                return Err(fail(
                    ErrorClass::Usage,
                    format!(
                        "--log-key is the key of the log `{}`, but the token is for `{}` (--origin): its answer could not be checked, so nothing was sent",
                        log.origin(),
                        token.audience
                    ),
                ));
            }
            write_public(&a.out, &signed)?;
            eprintln!("query token written to {}", crate::files::name(&a.out, true));
            let credential = crate::files::read_signed(&a.credential)?;
            let answer = send_query(&client, credential.trim(), &signed, &token.query_id)?;
            if let Some(f) = &a.answer_out {
                write_public(f, &answer)?;
                eprintln!("sealed answer written to {}", crate::files::name(f, true));
            }
            open_text(&Opening {
                key: &seal,
                log: &log,
                request: &signed,
                request_name: "the query token sent",
                answer: &answer,
                vrf_key: None,
                subject: None,
                json: a.json,
                export: None,
            })
        }
    }
}

/// `POST /v1/queries`; the sealed answer's text. If the response is lost after the request
/// went out, the answer is asked for once more by its query id (`GET /v1/queries/{id}`: the
/// server holds it while the token is valid, and a token is answered once).
fn send_query(client: &Client, credential: &str, token: &str, query_id: &[u8; 16]) -> CliResult<String> {
    let id = credseal_core::hex(query_id);
    let body = serde_json::json!({ "credential": credential, "token": token });
    let r: QueryResponse = match client.post("/v1/queries", &body) {
        Ok(r) => r,
        Err(ClientError::Lost(f)) => {
            eprintln!(
                "credseal: warning: the response to query {id} was lost ({}); asking {} for it again",
                f.message,
                client.base()
            );
            client
                .get(&format!("/v1/queries/{id}"))
                .map_err(ClientError::into_failure)?
        }
        Err(e) => return Err(e.into()),
    };
    if r.query_id != id {
        return Err(fail(
            ErrorClass::Verification,
            format!(
                "{}: the server answered query {} instead of {id}",
                client.base(),
                r.query_id
            ),
        ));
    }
    Ok(r.answer)
}
