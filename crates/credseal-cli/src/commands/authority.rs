//! The credit authority's commands: its key, department and provider credentials,
//! revocations, and credit-repair orders.

use credseal_auth::{Credential, ProviderCredential, RevocationList, SigningKey, Unverified, sign};
use credseal_engine::ErrorClass;

use super::{now, set};
use crate::cli::AuthorityCommand;
use crate::context::Context;
use crate::files::{
    pub_path, public_key, read_text as read, sealing_public, signing_key, write_public, write_role_key,
};
use crate::{CliResult, Failure, render};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// The answer to `PUT /v1/revocations`.
#[derive(serde::Deserialize)]
struct InstallResponse {
    version: u64,
}

/// `credseal authority …`.
pub(crate) fn run(ctx: &Context, cmd: AuthorityCommand) -> CliResult {
    match cmd {
        AuthorityCommand::Keygen { out, protect, json } => {
            crate::files::not_std(&out, "--out")?;
            crate::files::create_key_parent(&out)?;
            let sk = SigningKey::generate();
            crate::files::write_all_new(&[out.clone(), pub_path(&out)], |w| {
                write_role_key(&out, &sk.to_text(), protect)?;
                w.push(out.clone());
                write_public(&pub_path(&out), &sk.public().to_text())
            })?;
            let public_key = sk.public().to_text();
            crate::render::key_file(
                json,
                "authority",
                &out,
                &pub_path(&out),
                !protect.unencrypted,
                &public_key,
            );
            Ok(())
        }
        AuthorityCommand::Trust {
            data,
            key,
            replace,
            approvals,
            json,
        } => {
            let pk = public_key(&key)?;
            let p = ctx.open_platform(&data.data)?;
            let replacing = p.authority_key()?.is_some_and(|old| &old != pk.as_bytes());
            if replace && replacing {
                let op = credseal_engine::Operation::replace_authority(pk.as_bytes());
                let approved = super::approved(&p, &op, &approvals)?;
                p.replace_authority_key(&ctx.session(&p)?, pk.as_bytes(), &approved)?;
                render::done(
                    json,
                    "authority-trust",
                    &serde_json::json!({
                        "origin": p.origin(),
                        "authority_key": pk.to_hex(),
                        "replaced": true,
                        "approved_by": approved.officers(),
                    }),
                    &format!(
                        "platform {} trusts authority key {} (the previous key replaced; approved by {})",
                        p.origin(),
                        pk.to_hex(),
                        approved.officers().join(", ")
                    ),
                );
            } else {
                p.set_authority_key(&ctx.session(&p)?, pk.as_bytes(), replace)?;
                render::done(
                    json,
                    "authority-trust",
                    &serde_json::json!({
                        "origin": p.origin(),
                        "authority_key": pk.to_hex(),
                        "replaced": false,
                        "approved_by": [],
                    }),
                    &format!("platform {} trusts authority key {}", p.origin(), pk.to_hex()),
                );
            }
            Ok(())
        }
        AuthorityCommand::Enroll {
            key,
            serial,
            department,
            name,
            signing_key: dept_signing,
            sealing_key: dept_sealing,
            classes,
            purposes,
            audience,
            not_before,
            valid_for,
            days,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            if set(&classes).is_empty() {
                return Err(fail(ErrorClass::Usage, "--classes: name at least one class"));
            }
            if set(&purposes).is_empty() {
                return Err(fail(ErrorClass::Usage, "--purposes: name at least one purpose"));
            }
            let sk = signing_key(&key)?;
            let nb = match not_before {
                Some(t) => t,
                None => now()?,
            };
            let cred = Credential {
                serial,
                department_id: department,
                department_name: name,
                signing_key: public_key(&dept_signing)?,
                sealing_key: sealing_public(&dept_sealing)?.to_bytes(),
                classes: set(&classes),
                purposes: set(&purposes),
                not_before: nb,
                not_after: nb.saturating_add(super::lifetime(valid_for, days)),
                audience,
            };
            write_public(&out, &sign(&cred, &sk).to_text())?;
            let text = format!(
                "credential {serial} for {} written to {}",
                cred.department_id,
                crate::files::name(&out, true)
            );
            if json {
                render::print_json(
                    "credential",
                    &serde_json::json!({
                        "file": render::path(&out),
                        "serial": serial,
                        "department": cred.department_id,
                        "classes": cred.classes,
                        "purposes": cred.purposes,
                        "not_before": cred.not_before,
                        "not_after": cred.not_after,
                        "audience": cred.audience,
                    }),
                );
            } else {
                crate::files::wrote(&out, format_args!("{text}"));
            }
            Ok(())
        }
        AuthorityCommand::ProviderCredential {
            key,
            serial,
            provider,
            name,
            provider_key,
            classes,
            record_prefix,
            audience,
            not_before,
            valid_for,
            days,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            if !credseal_engine::valid_staff_id(&provider) {
                return Err(fail(
                    ErrorClass::Usage,
                    format!("--provider {provider:?}: an id is 1-64 characters of a-z, 0-9, '.', '_', '-'"),
                ));
            }
            let classes = set(&classes);
            if classes.is_empty() {
                return Err(fail(ErrorClass::Usage, "--classes: name at least one class"));
            }
            let nb = match not_before {
                Some(t) => t,
                None => now()?,
            };
            let cred = ProviderCredential {
                serial,
                provider_id: provider,
                provider_name: name,
                provider_key: public_key(&provider_key)?,
                classes,
                record_prefix,
                not_before: nb,
                not_after: nb.saturating_add(super::lifetime(valid_for, days)),
                audience,
            };
            write_public(&out, &sign(&cred, &sk).to_text())?;
            let text = format!(
                "provider credential {serial} for {} written to {}",
                cred.provider_id,
                crate::files::name(&out, true)
            );
            if json {
                render::print_json(
                    "provider-credential",
                    &serde_json::json!({
                        "file": render::path(&out),
                        "serial": serial,
                        "provider": cred.provider_id,
                        "classes": cred.classes,
                        "record_prefix": (!cred.record_prefix.is_empty()).then_some(&cred.record_prefix),
                        "not_before": cred.not_before,
                        "not_after": cred.not_after,
                        "audience": cred.audience,
                    }),
                );
            } else {
                crate::files::wrote(&out, format_args!("{text}"));
            }
            Ok(())
        }
        AuthorityCommand::Revoke {
            key,
            serial,
            audience,
            previous,
            out,
            data,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            let mut list = match &previous {
                Some(f) => {
                    let u = Unverified::<RevocationList>::parse_text(read(f)?.trim())
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", f.display())))?;
                    u.verify(&sk.public())
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", f.display())))?
                        .into_body()
                }
                None => RevocationList {
                    version: 0,
                    issued_at: 0,
                    audience: audience.clone(),
                    revoked: Default::default(),
                },
            };
            list.version += 1;
            list.issued_at = now()?;
            list.audience = audience;
            list.revoked.insert(serial, list.issued_at);
            let text = sign(&list, &sk).to_text();
            write_public(&out, &text)?;
            let mut installed = None;
            if let Some(d) = data {
                // A list that could not be installed is not left behind: the next revocation
                // would otherwise name it as --previous, and the platform never had it.
                let v = ctx
                    .open_platform(&d)
                    .and_then(|p| {
                        p.install_revocations(&ctx.session(&p)?, &text)
                            .map_err(super::query_failure)
                    })
                    .inspect_err(|_| crate::files::remove_written(&out))?;
                if !json {
                    println!("installed revocation list version {v} in {}", d.display());
                }
                installed = Some(v);
            }
            if !json {
                crate::files::wrote(
                    &out,
                    format_args!(
                        "revocation list version {} written to {}",
                        list.version,
                        crate::files::name(&out, true)
                    ),
                );
            }
            if json {
                render::print_json(
                    "revocation-list",
                    &serde_json::json!({
                        "file": render::path(&out),
                        "list_version": list.version,
                        "issued_at": list.issued_at,
                        "revoked": list.revoked.keys().collect::<Vec<_>>(),
                        "installed_version": installed,
                    }),
                );
            }
            Ok(())
        }
        AuthorityCommand::OrderShred {
            key,
            subject,
            class,
            record,
            reference,
            audience,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let sk = signing_key(&key)?;
            let id = credseal_core::SubjectId::parse(&subject)
                .map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
            if !credseal_core::valid_record_id(&record) {
                return Err(fail(ErrorClass::Usage, "--record: 1 to 128 of A-Z a-z 0-9 . _ : / -"));
            }
            if !credseal_engine::valid_order_reference(&reference) {
                return Err(fail(ErrorClass::Usage, "--ref: 1 to 64 of A-Z a-z 0-9 . _ : / -"));
            }
            if class.is_empty() {
                return Err(fail(ErrorClass::Usage, "--class: empty"));
            }
            let order = credseal_auth::ShredOrder {
                reference,
                subject: id.to_string(),
                class,
                record_id: record,
                issued_at: now()?,
                audience,
            };
            write_public(&out, &sign(&order, &sk).to_text())?;
            if json {
                render::print_json(
                    "shred-order",
                    &serde_json::json!({
                        "file": render::path(&out),
                        "reference": order.reference,
                        "class": order.class,
                        "record": order.record_id,
                        "issued_at": order.issued_at,
                    }),
                );
            } else {
                crate::files::wrote(
                    &out,
                    format_args!(
                        "shred order {} ({} record {}) written to {}",
                        order.reference,
                        order.class,
                        order.record_id,
                        crate::files::name(&out, true)
                    ),
                );
            }
            Ok(())
        }
        AuthorityCommand::Install {
            data,
            server,
            file,
            json,
        } => {
            let list = read(&file)?;
            if let Some(url) = &server.server {
                let client = crate::client::Client::new(url, server.ca.as_deref())?;
                let sent = credseal_auth::Unverified::<credseal_auth::RevocationList>::parse_text(list.trim())
                    .and_then(|l| l.peek_unverified())
                    .map_err(|e| Failure::new(ErrorClass::Verification, format!("{}: {e}", file.display())))?
                    .version;
                let r: InstallResponse = client.put("/v1/revocations", &serde_json::json!({ "list": list.trim() }))?;
                if r.version != sent {
                    return Err(Failure::new(
                        ErrorClass::Verification,
                        format!(
                            "{}: says it installed version {}, but the list sent is version {sent}",
                            client.base(),
                            r.version
                        ),
                    ));
                }
                render::done(
                    json,
                    "revocations-installed",
                    &serde_json::json!({ "list_version": r.version, "server": client.base() }),
                    &format!("installed revocation list version {} on {}", r.version, client.base()),
                );
                return Ok(());
            }
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            let data = data.expect("clap: --data is required without --server");
            let p = ctx.open_platform(&data)?;
            let v = p
                .install_revocations(&ctx.session(&p)?, &list)
                .map_err(super::query_failure)?;
            render::done(
                json,
                "revocations-installed",
                &serde_json::json!({ "list_version": v, "server": null }),
                &format!("installed revocation list version {v}"),
            );
            Ok(())
        }
    }
}
