//! A data subject's commands: keys, registration, consents, self-queries.

use credseal_auth::{Consent, SelfQuery, sign};

use credseal_engine::ErrorClass;

use super::query::{Opening, log_verifier, open_text};
use super::{keypair_dir, now, random16, set, subject};
use crate::cli::{SelfQueryArgs, SubjectCommand};
use crate::client::{Client, ClientError, QueryResponse};
use crate::context::Context;
use crate::files::{public_key, sealing_key, sealing_public, signing_key, write_public};
use crate::{CliResult, Failure};

/// `credseal subject …`.
pub(crate) fn run(ctx: &Context, cmd: SubjectCommand) -> CliResult {
    match cmd {
        SubjectCommand::Keygen { out_dir, protect, json } => keypair_dir("subject", &out_dir, protect, json),
        SubjectCommand::Register {
            data,
            subject: s,
            key,
            replace,
            json,
        } => {
            let id = subject(&s)?;
            let pk = public_key(&key)?;
            let p = ctx.open_platform(&data.data)?;
            p.register_subject_key(&ctx.session(&p)?, &id, pk.as_bytes(), replace)?;
            crate::render::done(
                json,
                "subject-key",
                &serde_json::json!({ "origin": p.origin(), "subject_key": pk.to_hex(), "replaced": replace }),
                &format!("registered the subject's key {}", pk.to_hex()),
            );
            Ok(())
        }
        SubjectCommand::Consent {
            key,
            subject: s,
            department,
            classes,
            purpose,
            valid_for,
            days,
            max_uses,
            audience,
            issued_at,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
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
                expires_at: issued_at.saturating_add(super::lifetime(valid_for, days)),
                max_uses,
                audience,
            };
            write_public(&out, &sign(&c, &sk).to_text())?;
            if json {
                crate::render::print_json(
                    "consent",
                    &serde_json::json!({
                        "file": crate::render::path(&out),
                        "consent_id": credseal_core::hex(&c.consent_id),
                        "department": c.department_id,
                        "classes": c.classes,
                        "purpose": c.purpose,
                        "issued_at": c.issued_at,
                        "expires_at": c.expires_at,
                        "max_uses": c.max_uses,
                    }),
                );
            } else {
                crate::files::wrote(
                    &out,
                    format_args!("consent written to {}", crate::files::name(&out, true)),
                );
            }
            Ok(())
        }
        SubjectCommand::Query(a) => self_query(&a),
        SubjectCommand::Object {
            key,
            subject: s,
            class,
            record,
            reason,
            repair,
            audience,
            out,
            data,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            let o = credseal_auth::Objection {
                objection_id: random16(),
                subject: subject(&s)?.to_string(),
                class,
                record_id: record,
                kind: if repair { "repair" } else { "objection" }.into(),
                reason,
                issued_at: now()?,
                audience,
            };
            let signed = sign(&o, &sk).to_text();
            write_public(&out, &signed)?;
            let mut filed = None;
            if let Some(d) = data {
                // An objection that could not be filed is not left behind as if it were.
                let st = ctx
                    .open_platform(&d)
                    .and_then(|p| Ok(p.file_objection(&signed, now()?)?))
                    .inspect_err(|_| crate::files::remove_written(&out))?;
                if !json {
                    println!(
                        "filed: the record is disputed; {} answers by {}",
                        st.provider,
                        credseal_core::Date::from_unix(st.due).map_or_else(|| st.due.to_string(), |d| d.to_string())
                    );
                }
                filed = Some(serde_json::json!({ "provider": st.provider, "due": st.due }));
            }
            if !json {
                crate::files::wrote(
                    &out,
                    format_args!(
                        "objection {} written to {}",
                        credseal_core::hex(&o.objection_id),
                        crate::files::name(&out, true)
                    ),
                );
            }
            if json {
                crate::render::print_json(
                    "objection",
                    &serde_json::json!({
                        "file": crate::render::path(&out),
                        "objection_id": credseal_core::hex(&o.objection_id),
                        "kind": o.kind,
                        "class": o.class,
                        "record": o.record_id,
                        "issued_at": o.issued_at,
                        "filed": filed,
                    }),
                );
            }
            Ok(())
        }
        SubjectCommand::Withdraw {
            key,
            consent,
            out,
            data,
            server,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            // A bad --server or --ca is said before anything is signed or written.
            let client = server
                .server
                .as_deref()
                .map(|url| Client::new(url, server.ca.as_deref()))
                .transpose()?;
            let sk = signing_key(&key)?;
            let text = crate::files::read_signed(&consent)?;
            let c = credseal_auth::Unverified::<Consent>::parse_text(text.trim())
                .and_then(|u| u.peek_unverified())
                .map_err(|e| Failure::new(ErrorClass::Verification, format!("{}: {e}", consent.display())))?;
            if c.subject_key != sk.public() {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!("{}: signed by another key than --key", consent.display()),
                ));
            }
            let w = credseal_auth::ConsentWithdrawal {
                consent_id: c.consent_id,
                subject: c.subject,
                issued_at: now()?,
                audience: c.audience,
            };
            let signed = sign(&w, &sk).to_text();
            write_public(&out, &signed)?;
            let mut installed_on = None;
            if let Some(d) = data {
                // A withdrawal that could not be installed is not left behind as if it were.
                let (p, cid) = ctx
                    .open_platform(&d)
                    .and_then(|p| {
                        let cid = p.withdraw_consent(&signed, now()?)?;
                        Ok((p, cid))
                    })
                    .inspect_err(|_| crate::files::remove_written(&out))?;
                if !json {
                    println!(
                        "consent {} withdrawn on {}: later queries presenting it are denied",
                        credseal_core::hex(&cid[..4]),
                        p.origin()
                    );
                }
                installed_on = Some(p.origin().to_string());
            }
            if let Some(client) = &client {
                // A withdrawal the server did not install is not left behind as if it were.
                let origin =
                    send_withdrawal(client, &signed, &w).inspect_err(|_| crate::files::remove_written(&out))?;
                if !json {
                    println!(
                        "consent {} withdrawn on {origin}: later queries presenting it are denied",
                        credseal_core::hex(&w.consent_id[..4]),
                    );
                }
                installed_on = Some(origin);
            }
            if !json {
                crate::files::wrote(
                    &out,
                    format_args!("withdrawal written to {}", crate::files::name(&out, true)),
                );
            }
            if json {
                crate::render::print_json(
                    "consent-withdrawal",
                    &serde_json::json!({
                        "file": crate::render::path(&out),
                        "consent_id": credseal_core::hex(&w.consent_id),
                        "issued_at": w.issued_at,
                        "installed_on": installed_on,
                    }),
                );
            }
            Ok(())
        }
    }
}

/// `credseal subject query`: signs a self-query; with `--server`, sends it, then opens,
/// verifies (with the VRF check) and prints the answer.
fn self_query(a: &SelfQueryArgs) -> CliResult {
    let sk = signing_key(&a.key)?;
    let private = a.sealing_key_private.as_deref().map(sealing_key).transpose()?;
    let public = match (&a.sealing_key, &private) {
        (Some(f), Some(k)) => {
            let p = sealing_public(f)?;
            if p.to_bytes() != k.public().to_bytes() {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!(
                        "--sealing-key {} is not the public half of --sealing-key-private",
                        f.display()
                    ),
                ));
            }
            p
        }
        (Some(f), None) => sealing_public(f)?,
        (None, Some(k)) => k.public(),
        (None, None) => unreachable!("clap: --sealing-key or --sealing-key-private is required"),
    };
    let issued_at = now()?;
    let id = subject(&a.subject)?;
    let q = SelfQuery {
        query_id: random16(),
        subject: id.to_string(),
        classes: set(&a.classes),
        issued_at,
        expires_at: issued_at.saturating_add(a.ttl),
        audience: a.audience.clone(),
        sealing_key: public.to_bytes(),
    };
    let signed = sign(&q, &sk).to_text();
    let Some(server) = a.server.as_deref() else {
        crate::files::json_out(a.json, &a.out, "--out")?;
        write_public(&a.out, &signed)?;
        if a.json {
            crate::render::print_json(
                "self-query",
                &serde_json::json!({
                    "file": crate::render::path(&a.out),
                    "query_id": credseal_core::hex(&q.query_id),
                    "classes": q.classes,
                    "issued_at": q.issued_at,
                    "expires_at": q.expires_at,
                }),
            );
        } else {
            crate::files::wrote(
                &a.out,
                format_args!("self-query written to {}", crate::files::name(&a.out, true)),
            );
        }
        return Ok(());
    };
    let client = Client::new(server, a.ca.as_deref())?;
    // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
    let log = log_verifier(a.log_key.as_deref().expect("clap: --server requires --log-key"))?;
    if log.origin() != q.audience {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!(
                "--log-key is the key of the log `{}`, but the self-query is for `{}` (--origin): its answer could not be checked, so nothing was sent",
                log.origin(),
                q.audience
            ),
        ));
    }
    // Cannot fail: clap's `requires` on --server (cli.rs) guarantees it on this branch.
    let key = private.expect("clap: --server requires --sealing-key-private");
    write_public(&a.out, &signed)?;
    eprintln!("self-query written to {}", crate::files::name(&a.out, true));
    let r: QueryResponse = client.post("/v1/self-queries", &serde_json::json!({ "query": signed }))?;
    if r.query_id != credseal_core::hex(&q.query_id) {
        return Err(Failure::new(
            ErrorClass::Verification,
            format!("{}: the server answered another query than the one sent", client.base()),
        ));
    }
    if let Some(f) = &a.answer_out {
        write_public(f, &r.answer)?;
        eprintln!("sealed answer written to {}", crate::files::name(f, true));
    }
    open_text(&Opening {
        key: &key,
        log: &log,
        request: &signed,
        request_name: "the self-query sent",
        answer: &r.answer,
        vrf_key: a.vrf_key.as_deref(),
        subject: Some(id.as_str()),
        json: a.json,
        export: None,
    })
}

/// The answer to `POST /v1/withdrawals`.
#[derive(serde::Deserialize)]
struct WithdrawalResponse {
    consent_id: String,
    origin: String,
}

/// Sends the signed withdrawal `signed` (of `w`) to the server: the origin of the platform
/// that installed it. A response for another consent or platform is a verification failure.
fn send_withdrawal(client: &Client, signed: &str, w: &credseal_auth::ConsentWithdrawal) -> CliResult<String> {
    let r: WithdrawalResponse = client
        .post("/v1/withdrawals", &serde_json::json!({ "withdrawal": signed }))
        .map_err(|e| match e {
            ClientError::Lost(f) => f.hint(
                "the server may have installed it: run the command again (a second withdrawal of the same consent changes nothing but adds a receipt)",
            ),
            other => other.into_failure(),
        })?;
    if r.consent_id != credseal_core::hex(&w.consent_id) || r.origin != w.audience {
        return Err(Failure::new(
            ErrorClass::Verification,
            format!(
                "{}: the server answered for another consent or platform than the withdrawal sent",
                client.base()
            ),
        ));
    }
    Ok(r.origin)
}
