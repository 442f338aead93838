//! `credseal bench trace`: a leak traced over a store of disclosure fingerprints.

use std::path::Path;
use std::time::Instant;

use credseal_core::{BlindId, FieldType};
use credseal_engine::{NewReceipt, Progress, StaffRole};
use serde::Serialize;

use crate::common::{BENCH_ORIGIN, BenchPlatform, bench_passphrase, now};
use crate::error::{BenchError, Result};

/// Trace-key label of a field fingerprint (`docs/formats.md` §12).
const FINGERPRINT_LABEL: &[u8] = b"credseal:v1:fingerprint";

/// The fingerprint of one disclosed field value (already canonical), as `docs/formats.md`
/// §12 defines it: HMAC-SHA-256(trace key, label ‖ BlindId ‖ len ‖ class ‖ len ‖ field ‖
/// value). The bench computes it with its own copy of the keystore to store disclosures
/// quickly; the trace finding the leaker (`leaker_ranked_first`) checks it against the
/// platform's.
fn fingerprint(
    mac: &credseal_crypto::TraceMac,
    blind: &BlindId,
    class: &str,
    field: &str,
    canonical: &str,
) -> [u8; 32] {
    mac.digest(
        FINGERPRINT_LABEL,
        &[
            blind.as_bytes(),
            &[class.len() as u8],
            class.as_bytes(),
            &[field.len() as u8],
            field.as_bytes(),
            canonical.as_bytes(),
        ],
    )
}

/// Results of `bench trace`.
#[derive(Clone, Debug, Serialize)]
pub struct TraceBench {
    /// Fingerprints stored (one per disclosed field).
    pub fingerprints: u64,
    /// Disclosures (receipts) they belong to.
    pub disclosures: u64,
    /// Departments that made them.
    pub departments: u64,
    /// (subject, field, value) items in the leak traced.
    pub leak_items: u64,
    /// Seconds to store the disclosures (receipts, fingerprints, flushes).
    pub setup_seconds: f64,
    /// Seconds the trace took: staff request check, leak parse, lookups, receipts, its own receipt.
    pub trace_seconds: f64,
    /// Whether the department the leak came from ranked first.
    pub leaker_ranked_first: bool,
}

/// `bench trace`: stores `fingerprints` disclosure fingerprints (ten fields per disclosure,
/// fifty departments) in a sled platform in `work` through the receipt log, then times a
/// trace of `leak_items` items drawn from one department's disclosures.
pub fn bench_trace(fingerprints: u64, leak_items: u64, work: &Path, progress: &dyn Progress) -> Result<TraceBench> {
    use std::collections::BTreeSet;

    use credseal_log::{Action, Actor, Outcome};

    const PER: u64 = 10;
    const DEPTS: u64 = 50;
    let catalog_text = include_str!("../../../keys-example/catalog.toml");
    let origin = BENCH_ORIGIN;
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let b = BenchPlatform::init(&dir, &pass, catalog_text)?;
    let p = &b.platform;
    let mac = b.keys.trace_key.expand();
    // Ten text fields of the catalogue; a subject's value of each is fixed.
    let fields: Vec<(String, String)> = p
        .catalog()
        .classes
        .values()
        .flat_map(|c| {
            c.fields
                .iter()
                .filter(|f| f.ty == FieldType::Text)
                .map(|f| (c.id.clone(), f.name.clone()))
        })
        .take(PER as usize)
        .collect();
    if fields.len() < PER as usize {
        return Err(BenchError::Input("the catalogue has fewer than ten text fields".into()));
    }
    let disclosures = fingerprints.div_ceil(PER).max(DEPTS);
    let subjects = (disclosures / 5).max(1);
    let subject_of = |i: u64| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) % subjects;
    let value = |s: u64, f: &str| format!("{f} of subject {s}");
    let now = now()?;
    progress.stage("storing disclosures", disclosures);
    let t = Instant::now();
    // Each subject's VRF blind id, proved once (untimed).
    let blinds = (0..subjects)
        .map(|s| p.blind(&credseal_testkit::synthetic::synthetic_subject(s)))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut i = 0;
    while i < disclosures {
        let end = (i + 2000).min(disclosures);
        let items: Vec<NewReceipt> = (i..end)
            .map(|d| {
                let s = subject_of(d);
                let blind = blinds[s as usize];
                let fps: Vec<[u8; 32]> = fields
                    .iter()
                    .map(|(c, f)| {
                        let canon = credseal_core::canonical(&FieldType::Text, &value(s, f)).unwrap_or_default();
                        fingerprint(&mac, &blind, c, f, &canon)
                    })
                    .collect();
                NewReceipt {
                    actor: Actor::Department {
                        id: format!("dept-{:02}", d % DEPTS),
                        credential_serial: d % DEPTS,
                    },
                    action: Action::Query,
                    detail: String::new(),
                    subject: Some(blind),
                    classes: fields.iter().map(|(c, _)| c.clone()).collect::<BTreeSet<_>>(),
                    purpose: "loan-approval".into(),
                    token_hash: Some(credseal_crypto::random_array()),
                    outcome: Outcome::Granted,
                    release_digest: Some(credseal_crypto::random_array()),
                    disclose_after: None,
                    flags: 0,
                    fingerprints: Some(fps),
                    marks: Vec::new(),
                }
            })
            .collect();
        p.append_receipts(items, now)?;
        progress.advance(end - i);
        i = end;
    }
    progress.finish();
    let setup_seconds = t.elapsed().as_secs_f64();
    // The leak: items of dept-07's disclosures, as JSON Lines with `class.field` names.
    let mut leak = Vec::new();
    let mut n = 0u64;
    let mut d = 7u64;
    while n < leak_items && d < disclosures {
        let s = subject_of(d);
        for (c, f) in &fields {
            if n >= leak_items {
                break;
            }
            let line = serde_json::json!({
                "subject": credseal_testkit::synthetic::synthetic_subject(s).as_str(),
                format!("{c}.{f}"): value(s, f).to_uppercase(),
            });
            leak.extend_from_slice(line.to_string().as_bytes());
            leak.push(b'\n');
            n += 1;
        }
        d += DEPTS;
    }
    let responder = credseal_auth::SigningKey::generate();
    enroll_responder(p, &responder, origin, now)?;
    let request = credseal_auth::sign(
        &credseal_auth::StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: "responder".into(),
            staff_key: responder.public(),
            action: "trace".into(),
            input_digest: credseal_crypto::sha256(&leak),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.into(),
        },
        &responder,
    )
    .to_text();
    let t = Instant::now();
    let r = p.trace(&request, &leak, now)?;
    let trace_seconds = t.elapsed().as_secs_f64();
    Ok(TraceBench {
        fingerprints: disclosures * PER,
        disclosures,
        departments: DEPTS,
        leak_items: r.items,
        setup_seconds,
        trace_seconds,
        leaker_ranked_first: r.departments.first().is_some_and(|d| d.department == "dept-07"),
    })
}

/// Enrols `responder` on `p` as a platform must: two first officers are named, then both
/// approve the enrolment.
fn enroll_responder(
    p: &credseal_engine::Platform,
    responder: &credseal_auth::SigningKey,
    origin: &str,
    now: u64,
) -> Result<()> {
    let session = p.staff_session("bench")?;
    let officers = [
        credseal_auth::SigningKey::generate(),
        credseal_auth::SigningKey::generate(),
    ];
    let named: Vec<(String, [u8; 32])> = officers
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("bench-officer-{i}"), *k.public().as_bytes()))
        .collect();
    p.found_officers(&session, &named)?;
    let change = credseal_engine::StaffChange::Enroll {
        role: StaffRole::Responder,
        id: "bench".into(),
        key: *responder.public().as_bytes(),
        replace: false,
    };
    let op = change.operation();
    let approvals: Vec<String> = officers
        .iter()
        .map(|k| {
            credseal_auth::sign(
                &credseal_auth::StaffRequest {
                    request_id: credseal_crypto::random_array(),
                    role: "officer".into(),
                    staff_key: k.public(),
                    action: credseal_engine::APPROVE_ACTION.into(),
                    input_digest: op.digest(),
                    issued_at: now,
                    expires_at: now + 300,
                    audience: origin.into(),
                },
                k,
            )
            .to_text()
        })
        .collect();
    let approved = p.approve(&op, &approvals, now)?;
    p.change_staff(&session, &change, &approved)?;
    Ok(())
}
