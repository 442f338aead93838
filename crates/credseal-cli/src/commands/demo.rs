//! `credseal demo`: a walkthrough on a throw-away platform built from keys-example/.
//! Each later feature adds its own step here.

use std::path::Path;

use credseal_crypto::Passphrase;
use credseal_engine::{ErrorClass, InitOptions, KeySource, NoProgress, OpenOptions, Platform};
use credseal_testkit::demo as keys;

use super::{query_failure, staff_request};
use crate::render::receipt::{ReceiptRow, receipt_table};
use crate::render::table;
use crate::{CliResult, Failure};

/// keys-example/catalog.toml.
pub(crate) const CATALOG: &str = include_str!("../../../../keys-example/catalog.toml");
/// keys-example/records.jsonl.
pub(crate) const RECORDS: &str = include_str!("../../../../keys-example/records.jsonl");
/// keys-example/platform.keystore (public demo keys under the public demo passphrase).
pub(crate) const KEYSTORE: &[u8] = include_bytes!("../../../../keys-example/platform.keystore");

/// With `--json` the walkthrough's text goes to standard error, and standard output carries
/// only the closing document (docs/json.md).
static TEXT_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The steps shown so far (number, who, what), for the closing `--json` document.
static STEPS: std::sync::Mutex<Vec<(u32, String, String)>> = std::sync::Mutex::new(Vec::new());

/// A line of the walkthrough.
macro_rules! say {
    ($($t:tt)*) => {
        if TEXT_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!($($t)*)
        } else {
            println!($($t)*)
        }
    };
}

/// Text of the walkthrough without a line end.
macro_rules! say_part {
    ($($t:tt)*) => {
        if TEXT_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
            eprint!($($t)*)
        } else {
            print!($($t)*)
        }
    };
}

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorClass::Error, e.to_string())
}

/// A sensitivity level as the catalogue spells it.
fn sensitivity(s: credseal_core::Sensitivity) -> &'static str {
    match s {
        credseal_core::Sensitivity::Public => "public",
        credseal_core::Sensitivity::Low => "low",
        credseal_core::Sensitivity::Medium => "medium",
        credseal_core::Sensitivity::High => "high",
    }
}

fn step(n: u32, who: &str, what: &str) {
    say!("\n== Step {n}. {who}: {what}");
    if let Ok(mut steps) = STEPS.lock() {
        steps.push((n, who.into(), what.into()));
    }
}

/// `credseal demo`: the walkthrough, on a throw-away platform (or in `data`).
pub(crate) fn run(data: Option<&Path>, json: bool) -> CliResult {
    TEXT_TO_STDERR.store(json, std::sync::atomic::Ordering::Relaxed);
    walkthrough(data)?;
    if json {
        let steps: Vec<_> = STEPS
            .lock()
            .map(|s| {
                s.iter()
                    .map(|(n, who, what)| serde_json::json!({ "step": n, "who": who, "what": what }))
                    .collect()
            })
            .unwrap_or_default();
        crate::render::print_json(
            "demo",
            &serde_json::json!({
                "ok": true,
                "data_dir": data.map(crate::render::path),
                "steps": steps,
            }),
        );
    }
    Ok(())
}

/// The walkthrough itself.
fn walkthrough(data: Option<&Path>) -> CliResult {
    let tmp;
    let dir = match data {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::tempdir().map_err(fail)?;
            tmp.path().join("platform")
        }
    };
    let work = tempfile::tempdir().map_err(fail)?;
    say!("credseal demo: a walkthrough on a throw-away platform.");
    say!("It uses the PUBLIC demo keys of keys-example/; never put real data under them.");

    step(1, "authority", "the catalogue of credit information");
    let catalog = credseal_core::Catalog::parse(CATALOG, Some("keys-example/catalog.toml")).map_err(fail)?;
    let rows: Vec<Vec<String>> = catalog
        .classes
        .values()
        .map(|c| {
            vec![
                c.id.clone(),
                sensitivity(c.sensitivity).into(),
                if c.consent_required { "yes".into() } else { "no".into() },
                c.retention.to_string(),
                c.fields.len().to_string(),
            ]
        })
        .collect();
    say_part!(
        "{}",
        table(&["class", "sensitivity", "consent", "retention", "fields"], &rows)
    );

    step(2, "security officer", "create the platform");
    let pass = Passphrase::new(keys::DEMO_PASSPHRASE.into());
    let ks = Platform::read_keystore_bytes(KEYSTORE, &pass, OpenOptions { allow_demo_keys: true })?;
    let origin = ks.origin.clone();
    Platform::init(&InitOptions {
        dir: &dir,
        catalog_text: CATALOG,
        catalog_name: "keys-example/catalog.toml",
        origin: &origin,
        passphrase: &pass,
        keys: KeySource::Existing(Box::new(ks)),
        now: crate::now()?,
    })?;
    say!(
        "$ credseal --demo init --data {} --catalog keys-example/catalog.toml --keystore keys-example/platform.keystore",
        dir.display()
    );
    say!("platform {origin} created; keystore sealed with AES-256-GCM under an Argon2id key");
    let p = Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: true })?;
    match Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: false }) {
        Err(e) => say!("without --demo the same platform is refused: {e}"),
        Ok(_) => return Err(fail("the demo keystore was accepted without --demo")),
    }

    step(
        3,
        "security officer",
        "operator import of keys-example/records.jsonl (the historical data; unsigned, receipted as such)",
    );
    let input = work.path().join("records.jsonl");
    std::fs::write(&input, RECORDS).map_err(fail)?;
    say!(
        "$ credseal ingest --data {} --operator-import --officer {} keys-example/records.jsonl",
        dir.display(),
        credseal_engine::DEFAULT_OPERATOR
    );
    let s = p.ingest_file(&input, &NoProgress)?;
    say!(
        "{} records written for {} subjects; {} data keys created (one per subject and class)",
        s.written,
        subject_count(),
        s.new_data_keys
    );

    step(4, "anyone with the disk", "sees no credit data");
    drop(p);
    let (files, bytes, found) = scan_dir(&dir)?;
    say!(
        "scanned {files} files ({bytes} bytes) of the data directory for every subject id and field value of the input:"
    );
    if found.is_empty() {
        say!("none of them appears; storage keys use blinded ids only");
    } else {
        return Err(fail(format!("plaintext found on disk: {}", found.join(", "))));
    }
    let p = std::sync::Arc::new(Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: true })?);

    step(5, "security officer", "re-import the same file: nothing changes");
    let s = p.ingest_file(&input, &NoProgress)?;
    say!("{} written, {} already stored", s.written, s.unchanged);

    step(6, "security officer", "a file with bad lines is rejected whole");
    let bad = work.path().join("bad.jsonl");
    let first = RECORDS.lines().next().unwrap_or_default();
    let broken = first.replacen("\"class\":\"identity\"", "\"class\":\"gossip\"", 1);
    std::fs::write(&bad, format!("{first}\n{broken}\n{{not json\n")).map_err(fail)?;
    match p.ingest_file(&bad, &NoProgress) {
        Err(e) => {
            for l in e.to_string().lines() {
                say!("  {l}");
            }
        }
        Ok(_) => return Err(fail("a bad file was accepted")),
    }

    step(7, "security officer", "key status");
    say_part!("{}", crate::render::keys::class_key_table(&p.key_status()?));

    step(8, "platform", "every stored value opens and sits in its place");
    let (d, r) = p.verify_store()?;
    say!("{d} data keys and {r} records verified");

    authority_walkthrough(&p, work.path())?;
    key_walkthrough(&p, &pass)?;
    provider_walkthrough(&p, work.path())?;

    say!(
        "\nThe demo platform is in {}{}.",
        dir.display(),
        if data.is_none() { " (removed now)" } else { "" }
    );
    Ok(())
}

fn subject_count() -> usize {
    let mut s: Vec<&str> = RECORDS
        .lines()
        .filter_map(|l| l.split("\"subject\":\"").nth(1).and_then(|r| r.split('"').next()))
        .collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// Every subject id and every field value of at least 6 bytes in the demo records that does
/// not also occur in the (public) catalogue text.
pub(crate) fn needles() -> Vec<String> {
    let mut out = Vec::new();
    for l in RECORDS.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        if let Some(s) = v["subject"].as_str() {
            out.push(s.to_string());
        }
        if let Some(f) = v["fields"].as_object() {
            for val in f.values() {
                let s = match val {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if s.len() >= 6 && !CATALOG.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn scan_dir(dir: &Path) -> CliResult<(u64, u64, Vec<String>)> {
    let needles = needles();
    let mut files = 0;
    let mut bytes = 0;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(fail)? {
            let e = e.map_err(fail)?;
            let path = e.path();
            if e.file_type().map_err(fail)?.is_dir() {
                stack.push(path);
                continue;
            }
            let data = std::fs::read(&path).map_err(fail)?;
            files += 1;
            bytes += data.len() as u64;
            for n in &needles {
                if data.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{} in {}", n.len(), path.display()));
                }
            }
        }
    }
    Ok((files, bytes, found))
}

fn show_answer(body: &credseal_engine::AnswerBody, max_rows: usize) {
    say!(
        "opened by the requester: {} record(s) of {} for purpose {}",
        body.records.len(),
        body.classes.join(", "),
        body.purpose
    );
    for l in crate::render::answer::record_table(body, max_rows).lines() {
        say!("  {l}");
    }
}

fn deny(n: &str, r: Result<credseal_engine::SealedAnswer, credseal_engine::QueryError>) -> CliResult {
    match r {
        Err(credseal_engine::QueryError::Denied(d)) => {
            say!("  {n}: denied ({}): {d}", d.code());
            Ok(())
        }
        Err(credseal_engine::QueryError::Failed(e)) => Err(e.into()),
        Ok(_) => Err(fail(format!("{n}: the platform granted a query it must deny"))),
    }
}

/// Steps 9-13: enrolment, a granted query, three denials, a consented query, a self-query.
fn authority_walkthrough(p: &std::sync::Arc<Platform>, work: &Path) -> CliResult {
    use credseal_auth::{Consent, Credential, SelfQuery, SigningKey, Token, sign};
    use credseal_crypto::SealingKey;
    let now = crate::now()?;
    let set = |xs: &[&str]| {
        xs.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let origin = p.origin().to_string();
    // Demo keys, derived from the public seed like every key in keys-example/.
    let authority = SigningKey::from_seed(&keys::demo_secret(b"authority"));
    let bank = SigningKey::from_seed(&keys::demo_secret(b"dept:bank-a:signing"));
    let bank_seal = SealingKey::from_bytes(keys::demo_secret(b"dept:bank-a:sealing"));
    let person = SigningKey::from_seed(&keys::demo_secret(b"subject:signing"));
    let person_seal = SealingKey::from_bytes(keys::demo_secret(b"subject:sealing"));

    step(9, "authority", "enrol a department");
    p.set_authority_key(&session(p)?, authority.public().as_bytes(), true)?;
    let credential = sign(
        &Credential {
            serial: 1001,
            department_id: "bank-a".into(),
            department_name: "Bank A, Hangzhou branch".into(),
            signing_key: bank.public(),
            sealing_key: bank_seal.public().to_bytes(),
            classes: set(&["identity", "loans", "repayment", "judgments"]),
            purposes: set(&["loan-approval"]),
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            audience: origin.clone(),
        },
        &authority,
    )
    .to_text();
    say!(
        "$ credseal authority enroll --serial 1001 --department bank-a --classes identity,loans,repayment,judgments --purposes loan-approval ..."
    );
    say!("credential 1001: bank-a may read identity, loans, repayment, judgments for loan-approval, for one year");

    // A person with a loan (a class that needs consent).
    let first_loan = RECORDS
        .lines()
        .find(|l| l.contains("\"class\":\"loans\""))
        .unwrap_or_default();
    let subject = serde_json::from_str::<serde_json::Value>(first_loan)
        .ok()
        .and_then(|v| v["subject"].as_str().map(str::to_string))
        .ok_or_else(|| fail("the demo data has no loan record"))?;
    let token = |classes: &[&str], consent: Option<Vec<u8>>, audience: &str| {
        sign(
            &Token {
                query_id: credseal_crypto::random_array(),
                credential_serial: 1001,
                subject: subject.clone(),
                classes: set(classes),
                purpose: "loan-approval".into(),
                legal_basis: "loan application 2026-0815".into(),
                issued_at: now,
                expires_at: now + 300,
                audience: audience.into(),
                consent,
            },
            &bank,
        )
        .to_text()
    };

    step(
        10,
        "department",
        "a granted query: identity and judgments of an applicant",
    );
    let t = token(&["identity", "judgments"], None, &origin);
    say!(
        "$ credseal dept query --subject {}… --classes identity,judgments --purpose loan-approval ...",
        &subject[..6]
    );
    say!("$ credseal query --data DIR --credential bank-a.cred --token t1 --out answer1");
    let a = p.query(&credential, &t, now).map_err(query_failure)?;
    say!(
        "answer sealed with HPKE to bank-a's sealing key ({} bytes)",
        a.sealed.len()
    );
    show_answer(&a.open(&bank_seal)?, 6);

    step(11, "department", "queries the platform denies (exit code 3)");
    deny("the same token again", p.query(&credential, &t, now))?;
    deny(
        "tax records (not in the credential)",
        p.query(&credential, &token(&["tax"], None, &origin), now),
    )?;
    deny(
        "loans without the subject's consent",
        p.query(&credential, &token(&["loans"], None, &origin), now),
    )?;
    deny(
        "a token meant for another platform",
        p.query(&credential, &token(&["identity"], None, "other.example/log"), now),
    )?;

    step(12, "subject", "consents; the department's next query is granted");
    p.register_subject_key(
        &session(p)?,
        &credseal_core::SubjectId::parse(&subject).map_err(fail)?,
        person.public().as_bytes(),
        true,
    )?;
    let consent = sign(
        &Consent {
            consent_id: credseal_crypto::random_array(),
            subject: subject.clone(),
            subject_key: person.public(),
            department_id: "bank-a".into(),
            classes: set(&["loans", "repayment"]),
            purpose: "loan-approval".into(),
            issued_at: now,
            expires_at: now + 30 * 86_400,
            max_uses: 1,
            audience: origin.clone(),
        },
        &person,
    );
    say!(
        "$ credseal subject consent --department bank-a --classes loans,repayment --purpose loan-approval --max-uses 1 --origin <origin> ..."
    );
    let t = token(&["loans", "repayment"], Some(consent.to_bytes()), &origin);
    let a = p.query(&credential, &t, now).map_err(query_failure)?;
    show_answer(&a.open(&bank_seal)?, 6);
    deny(
        "the same consent a second time",
        p.query(&credential, &token(&["loans"], Some(consent.to_bytes()), &origin), now),
    )?;

    step(13, "subject", "reads its own records");
    let q = sign(
        &SelfQuery {
            query_id: credseal_crypto::random_array(),
            subject: subject.clone(),
            classes: set(&["identity", "loans", "repayment"]),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.clone(),
            sealing_key: person_seal.public().to_bytes(),
        },
        &person,
    )
    .to_text();
    let a = p.self_query(&q, now).map_err(query_failure)?;
    show_answer(&a.open(&person_seal)?, 4);
    match a.open(&bank_seal) {
        Err(_) => say!("  the bank's key cannot open the subject's answer"),
        Ok(_) => return Err(fail("another key opened a sealed answer")),
    }

    step(14, "department", "an investigation (a confidential purpose)");
    let police = SigningKey::from_seed(&keys::demo_secret(b"dept:police:signing"));
    let police_seal = SealingKey::from_bytes(keys::demo_secret(b"dept:police:sealing"));
    let police_cred = sign(
        &Credential {
            serial: 2001,
            department_id: "psb-hangzhou".into(),
            department_name: "Public security bureau".into(),
            signing_key: police.public(),
            sealing_key: police_seal.public().to_bytes(),
            classes: set(&["identity"]),
            purposes: set(&["law-enforcement"]),
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            audience: origin.clone(),
        },
        &authority,
    )
    .to_text();
    let t = sign(
        &Token {
            query_id: credseal_crypto::random_array(),
            credential_serial: 2001,
            subject: subject.clone(),
            classes: set(&["identity"]),
            purpose: "law-enforcement".into(),
            legal_basis: "case 2026-117".into(),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.clone(),
            consent: None,
        },
        &police,
    )
    .to_text();
    p.query(&police_cred, &t, now).map_err(query_failure)?;
    say!("granted; its receipt is in the log now, sealed from the subject for 180 days");

    step(15, "subject", "checks who viewed its data, offline");
    let request = sign(
        &credseal_auth::BundleRequest {
            request_id: credseal_crypto::random_array(),
            subject: subject.clone(),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.clone(),
            last_tree_size: 0,
        },
        &person,
    )
    .to_text();
    let bundle = p.export_for_request(&request, now).map_err(query_failure)?;
    let vkey = p.log_vkey()?;
    say!(
        "$ credseal receipts request ... && credseal receipts export ... && credseal receipts verify --log-key log.vkey --vrf-key vrf.pub --subject ID ..."
    );
    say!("log key (pinned by the subject): {vkey}");
    let verifier = credseal_log::LogVerifier::from_vkey(&vkey).map_err(fail)?;
    let who = credseal_log::BundleSubject::new(
        credseal_core::SubjectId::parse(&subject).map_err(fail)?,
        p.vrf_public_key(),
    );
    let v = credseal_log::verify_bundle(&bundle, &verifier, &who, None, now).map_err(fail)?;
    let rows: Vec<ReceiptRow> = v.receipts().iter().map(ReceiptRow::new).collect();
    for l in receipt_table(&rows).lines() {
        say!("  {l}");
    }
    say!(
        "every receipt is signed, included in checkpoint {} and chained; none can be hidden or rewritten",
        v.checkpoint().size()
    );
    let report = p.verify_log()?;
    say!(
        "auditor: log verify: {} receipts and {} checkpoints consistent",
        report.receipts,
        report.checkpoints
    );
    let https = Https {
        work,
        credential: &credential,
        bank_seal: &bank_seal,
        person: &person,
        subject: &subject,
        state: v.new_state(),
    };
    https_walkthrough(p, &https, |classes| token(classes, None, &origin))?;
    leak_walkthrough(p, &authority, &credential, &bank, now)
}

/// What step 16 needs from the steps before it.
struct Https<'a> {
    work: &'a Path,
    credential: &'a str,
    bank_seal: &'a credseal_crypto::SealingKey,
    person: &'a credseal_auth::SigningKey,
    subject: &'a str,
    /// The state the subject saved after verifying its bundle in step 15.
    state: &'a credseal_log::SavedState,
}

/// Step 16: the same platform as a service. A department queries over HTTPS, loses the
/// response and gets the same answer again without a second receipt, is refused with the
/// CLI's reason code; the subject fetches its bundle over HTTPS and verifies it, consistent
/// with what it saw offline, its checkpoint cosigned by a witness. The clients are the CLI's
/// own (`--server URL --ca FILE`).
fn https_walkthrough(p: &std::sync::Arc<Platform>, h: &Https<'_>, token: impl Fn(&[&str]) -> String) -> CliResult {
    use crate::client::{BundleResponse, Client, QueryResponse};
    step(
        16,
        "department and subject",
        "the same platform over HTTPS (credseal serve)",
    );
    let now = crate::now()?;
    let origin = p.origin().to_string();
    // A certificate for 127.0.0.1 made now; the clients trust exactly it.
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).map_err(fail)?;
    let (cert, key) = (h.work.join("cert.pem"), h.work.join("key.pem"));
    crate::files::write_public(&cert, &ck.cert.pem())?;
    crate::files::write_secret(&key, &ck.signing_key.serialize_pem())?;
    // A witness with its own key and state (here in this process; in production its own
    // machine and operator), following this log's key; the platform sends it checkpoints.
    let wkey = credseal_c2sp::CosignerKey::from_seed("witness.demo.invalid/w1", &credseal_crypto::random_array())
        .map_err(fail)?;
    let wver = wkey.verifier();
    let logs = vec![credseal_c2sp::NoteVerifier::from_vkey(&p.log_current_vkey()?).map_err(fail)?];
    let witness = credseal_witness::Witness::open(wkey, logs, &h.work.join("witness-state")).map_err(fail)?;
    let wrun = credseal_witness::start(
        std::sync::Arc::new(witness),
        credseal_witness::ServeConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: Some(credseal_witness::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            ..credseal_witness::ServeConfig::default()
        },
    )
    .map_err(fail)?;
    let wurl = format!("https://{}", wrun.local_addr());
    p.add_witness(&wurl, &wver.vkey())?;
    say!("$ credseal witness serve --key w1.key --state wstate --log-key log-key.pub --listen 127.0.0.1:0 ...");
    say!("$ credseal log witnesses add --data DIR --url {wurl} --log-key w1.key.pub");
    let cfg = credseal_server::ServeConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: Some(credseal_server::TlsFiles {
            cert: cert.clone(),
            key,
            client_ca: None,
        }),
        log_requests: false,
        witness_ca: Some(ck.cert.pem()),
        ..credseal_server::ServeConfig::default()
    };
    let running = credseal_server::Server::start(std::sync::Arc::clone(p), cfg).map_err(fail)?;
    let url = format!("https://{}", running.local_addr());
    say!("$ credseal serve --data DIR --listen 127.0.0.1:0 --tls-cert cert.pem --tls-key key.pem");
    say!("credseal: serving {url} (TLS 1.3; a certificate made for this demo)");
    let client = Client::new(&url, Some(&cert))?;

    let log = credseal_log::LogVerifier::from_vkey(&p.log_vkey()?).map_err(fail)?;
    let t = token(&["identity"]);
    let body = serde_json::json!({ "credential": h.credential, "token": t });
    say!(
        "$ credseal dept query --server {url} --ca cert.pem --sealing-key-private bank-a/sealing.key --log-key log-key.pub --subject {}… --classes identity ...",
        &h.subject[..6]
    );
    let r: QueryResponse = client.post("/v1/queries", &body)?;
    let request = credseal_log::AnswerRequest::from_text(&t).map_err(fail)?;
    let answer = credseal_engine::SealedAnswer::from_text(&r.answer)?;
    show_answer(&answer.open_verified(h.bank_seal, &log, &request)?, 4);
    say!("  opened and verified by the department: signed receipt, its token, the committed content");
    let size = p.log_size()?;
    let again: QueryResponse = client.post("/v1/queries", &body)?;
    if again.answer != r.answer || p.log_size()? != size {
        return Err(fail("a retried token was answered twice"));
    }
    say!("the response was lost? the same token again gets the same answer, and no second receipt (log size {size})");
    match client.post::<_, QueryResponse>(
        "/v1/queries",
        &serde_json::json!({ "credential": h.credential, "token": token(&["tax"]) }),
    ) {
        Err(e) => {
            let f: Failure = e.into();
            say!(
                "tax records (not in the credential): {} (exit {})",
                f.message,
                f.class.exit_code()
            );
        }
        Ok(_) => return Err(fail("a query beyond the credential was answered over HTTPS")),
    }

    let request = credseal_auth::sign(
        &credseal_auth::BundleRequest {
            request_id: credseal_crypto::random_array(),
            subject: h.subject.to_string(),
            issued_at: now,
            expires_at: now + 300,
            audience: origin,
            last_tree_size: h.state.tree_size(),
        },
        h.person,
    )
    .to_text();
    say!(
        "$ credseal receipts fetch --server {url} --ca cert.pem --key subject.key --subject {}… --log-key log-key.pub --vrf-key vrf-key.pub --state state",
        &h.subject[..6]
    );
    let b: BundleResponse = client.post("/v1/bundles", &serde_json::json!({ "request": request }))?;
    let bundle = credseal_log::Bundle::from_text(&b.bundle).map_err(fail)?;
    let who = credseal_log::BundleSubject::new(
        credseal_core::SubjectId::parse(h.subject).map_err(fail)?,
        p.vrf_public_key(),
    );
    // With the state saved in step 15: the new checkpoint must extend the one seen then, and
    // no receipt seen then may be missing.
    let v = credseal_log::verify_bundle(&bundle, &log, &who, Some(h.state), now).map_err(fail)?;
    let new: Vec<ReceiptRow> = v.new_receipts().iter().map(ReceiptRow::new).collect();
    say!(
        "bundle verified: checkpoint {} extends checkpoint {} of step 15; {} new receipt(s), among them the HTTPS query:",
        v.checkpoint().size(),
        h.state.tree_size(),
        new.len(),
    );
    for l in receipt_table(&new).lines() {
        say!("  {l}");
    }
    // The bundle's checkpoint went to the witness before the bundle left: it carries the
    // witness's cosignature, which a subject who requires that witness checks.
    let note = credseal_c2sp::SignedNote::parse(&bundle.checkpoint).map_err(fail)?;
    match wver.verify(&note) {
        Ok(Some(_)) => say!(
            "the checkpoint carries the cosignature of witness {}: a subject who requires it (receipts verify --witness w1.key.pub --witness-threshold 1) accepts it; a forked view the witness refused would fail (exit 4)",
            wver.name()
        ),
        _ => return Err(fail("the bundle's checkpoint lacks the witness's cosignature")),
    }
    running.shutdown().map_err(fail)?;
    wrun.shutdown().map_err(fail)?;
    say!("stopped as on SIGTERM: a drain; requests in flight finish and their receipts are committed");
    Ok(())
}

/// Step 16: two departments read identity records; one's answers turn up on a forum,
/// reformatted; the responder's trace names it.
fn leak_walkthrough(
    p: &Platform,
    authority: &credseal_auth::SigningKey,
    bank_a_cred: &str,
    bank_a: &credseal_auth::SigningKey,
    now: u64,
) -> CliResult {
    use credseal_auth::{Credential, SigningKey, Token, sign};
    use credseal_crypto::SealingKey;
    step(
        17,
        "incident responder",
        "leaked answers turn up on a forum; trace names the department",
    );
    let origin = p.origin().to_string();
    let set = |xs: &[&str]| {
        xs.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<String>>()
    };
    let bank_b = SigningKey::from_seed(&keys::demo_secret(b"dept:bank-b:signing"));
    let bank_b_seal = SealingKey::from_bytes(keys::demo_secret(b"dept:bank-b:sealing"));
    let bank_b_cred = sign(
        &Credential {
            serial: 1003,
            department_id: "bank-b".into(),
            department_name: "Bank B, Wuhan branch".into(),
            signing_key: bank_b.public(),
            sealing_key: bank_b_seal.public().to_bytes(),
            classes: set(&["identity"]),
            purposes: set(&["loan-approval"]),
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            audience: origin.clone(),
        },
        authority,
    )
    .to_text();
    let people: Vec<String> = RECORDS
        .lines()
        .filter(|l| l.contains("\"class\":\"identity\"") && l.contains("\"version\":1"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["subject"].as_str().map(str::to_string))
        .take(8)
        .collect();
    let ask = |key: &SigningKey, serial: u64, subject: &str| {
        sign(
            &Token {
                query_id: credseal_crypto::random_array(),
                credential_serial: serial,
                subject: subject.into(),
                classes: set(&["identity"]),
                purpose: "loan-approval".into(),
                legal_basis: "loan application".into(),
                issued_at: now,
                expires_at: now + 300,
                audience: origin.clone(),
                consent: None,
            },
            key,
        )
        .to_text()
    };
    // Both banks read identity records; bank-a the first six people, bank-b the last four.
    for s in &people[..6] {
        p.query(bank_a_cred, &ask(bank_a, 1001, s), now)
            .map_err(query_failure)?;
    }
    let mut leaked = String::from("name,证件号码,born_or_established,registered_address\n");
    for s in &people[4..] {
        let a = p
            .query(&bank_b_cred, &ask(&bank_b, 1003, s), now)
            .map_err(query_failure)?;
        for r in a.open(&bank_b_seal)?.records {
            let f = |k: &str| r.fields.get(k).map(|v| v.to_string()).unwrap_or_default();
            // Retyped the way a spreadsheet shows it: 1996/5/10, extra spaces.
            let born = f("born_or_established").replacen('-', "/", 2).replace("/0", "/");
            leaked.push_str(&format!(
                "{} ,{},{born},\"{}\"\n",
                f("name"),
                r.subject,
                f("registered_address")
            ));
        }
    }
    say!("bank-a read 6 people's identity records, bank-b 4 (two of them the same people)");
    say!(
        "a forum post holds {} rows of bank-b's answers: names, id numbers, birth dates, addresses, reformatted",
        leaked.lines().count() - 1
    );
    let responder = SigningKey::from_seed(&keys::demo_secret(b"staff:responder"));
    let officers = demo_officers(p)?;
    let change = credseal_engine::StaffChange::Enroll {
        role: credseal_engine::StaffRole::Responder,
        id: "resp-demo".into(),
        key: *responder.public().as_bytes(),
        replace: true,
    };
    let enroll = change.operation();
    let both: Vec<String> = officers
        .iter()
        .map(|k| officer_approval(k, &enroll, &origin, now))
        .collect();
    p.change_staff(&session(p)?, &change, &p.approve(&enroll, &both, now)?)?;
    say!(
        "$ credseal staff enroll --role responder --id resp-demo --public-key responder.key.pub --approval a --approval b"
    );
    say!("$ credseal trace --key responder.key forum-post.csv");
    let request = staff_request(
        &responder,
        credseal_engine::StaffRole::Responder,
        "trace",
        credseal_crypto::sha256(leaked.as_bytes()),
        &origin,
        now,
    );
    let r = p.trace(&request, leaked.as_bytes(), now)?;
    for l in crate::render::incident::department_table(&r, "leaked items explained").lines() {
        say!("  {l}");
    }
    let top = r.departments.first().map(|d| d.department.as_str()).unwrap_or("nobody");
    say!(
        "trace names {top}: only its answers explain every leaked item; the trace itself is receipt {}",
        r.receipt
    );
    say!("the platform kept keyed fingerprints only: no field value was stored to make this possible");
    Ok(())
}

/// The demo's two security officers (demo keys), named as the platform's first officers
/// (what `credseal init --first-officer officer-a=… --first-officer officer-b=…` does) the
/// first time.
fn demo_officers(p: &Platform) -> CliResult<Vec<credseal_auth::SigningKey>> {
    let officers: Vec<(String, credseal_auth::SigningKey)> = ["officer-a", "officer-b"]
        .iter()
        .map(|id| {
            let k = credseal_auth::SigningKey::from_seed(&keys::demo_secret(format!("staff:{id}").as_bytes()));
            (id.to_string(), k)
        })
        .collect();
    let named: Vec<(String, [u8; 32])> = officers
        .iter()
        .map(|(id, k)| (id.clone(), *k.public().as_bytes()))
        .collect();
    if p.staff_id(credseal_engine::StaffRole::Officer, &named[0].1)?.is_none() {
        p.found_officers(&session(p)?, &named)?;
        say!("$ credseal init --first-officer officer-a=officer-a.pub --first-officer officer-b=officer-b.pub ...");
    }
    Ok(officers.into_iter().map(|(_, k)| k).collect())
}

/// An officer's signed approval of `op` (what `credseal officer approve` writes).
fn officer_approval(
    key: &credseal_auth::SigningKey,
    op: &credseal_engine::Operation,
    origin: &str,
    now: u64,
) -> String {
    credseal_auth::sign(
        &credseal_auth::StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: "officer".into(),
            staff_key: key.public(),
            action: credseal_engine::APPROVE_ACTION.into(),
            input_digest: op.digest(),
            issued_at: now,
            expires_at: now + 600,
            audience: origin.into(),
        },
        key,
    )
    .to_text()
}

/// Step 17: the security officers rotate a class key, rewrap, retire the old version (two
/// officers approve), carry out a credit-repair order by shredding one record, and rotate
/// the log key.
fn key_walkthrough(p: &Platform, pass: &Passphrase) -> CliResult {
    step(
        18,
        "security officers",
        "rotate, rewrap, retire a key; shred a record on a credit-repair order; rotate the log key",
    );
    let now = crate::now()?;
    let origin = p.origin().to_string();
    let officer = session(p)?;
    let v = p.rotate_class(&officer, "loans", pass)?;
    say!("$ credseal keys rotate --class loans    -> KEK v{v} is primary; new data keys use it at once");
    let s = p.rewrap(&officer, &NoProgress)?;
    for (c, f, t, n) in &s.moves {
        say!("$ credseal keys rewrap                  -> {c}: {n} data key(s) v{f} -> v{t}; records untouched");
    }
    let officers = demo_officers(p)?;
    let op = credseal_engine::Operation::retire("loans", v - 1);
    let one = [officer_approval(&officers[0], &op, &origin, now)];
    match p.approve(&op, &one, now) {
        Err(e) => say!("one officer alone: refused ({e})"),
        Ok(_) => return Err(fail("one officer's approval was accepted")),
    }
    let both: Vec<String> = officers
        .iter()
        .map(|k| officer_approval(k, &op, &origin, now))
        .collect();
    let ok = p.approve(&op, &both, now)?;
    p.retire_version(&officer, "loans", v - 1, pass, &ok)?;
    say!(
        "$ credseal keys retire --class loans --kek-version {} --approval a --approval b  -> destroyed ({})",
        v - 1,
        ok.officers().join(" and ")
    );
    // A credit-repair order: the overdue loan of the demo subject is removed for good.
    let line = RECORDS
        .lines()
        .find(|l| l.contains("\"class\":\"loans\""))
        .ok_or_else(|| fail("no loan in the example data"))?;
    let v: serde_json::Value = serde_json::from_str(line).map_err(fail)?;
    let (subject, record) = (
        v["subject"].as_str().unwrap_or_default().to_string(),
        v["record_id"].as_str().unwrap_or_default().to_string(),
    );
    let id = credseal_core::SubjectId::parse(&subject).map_err(fail)?;
    // The authority signs the order; the platform checks it, two officers approve what it names.
    let authority = credseal_auth::SigningKey::from_seed(&keys::demo_secret(b"authority"));
    let order_text = credseal_auth::sign(
        &credseal_auth::ShredOrder {
            reference: "CR-2026-0001".into(),
            subject: id.to_string(),
            class: "loans".into(),
            record_id: record.clone(),
            issued_at: now,
            audience: origin.clone(),
        },
        &authority,
    )
    .to_text();
    say!(
        "$ credseal authority order-shred --key authority.key --subject … --class loans --record {record} --ref CR-2026-0001 --out order.txt"
    );
    let order = p.check_shred_order(&order_text).map_err(query_failure)?;
    let op = order.operation();
    let both: Vec<String> = officers
        .iter()
        .map(|k| officer_approval(k, &op, &origin, now))
        .collect();
    let ok = p.approve(&op, &both, now)?;
    let r = p.shred_by_order(&officer, &order, pass, &ok)?;
    say!(
        "$ credseal shred --order order.txt --approval a --approval b  -> {} record(s) destroyed",
        r.records
    );
    for (c, retired, new) in &r.classes {
        let gone: Vec<String> = retired.iter().map(|v| format!("v{v}")).collect();
        say!(
            "  {c}: KEK {} destroyed, v{new} primary: no earlier copy of the database opens it now",
            gone.join(",")
        );
    }
    let blind = p.blind(&id)?;
    if let Some(last) = p.subject_receipts(&blind)?.pop() {
        let b = credseal_log::UnverifiedReceipt::parse(&last)
            .and_then(|u| u.peek_unverified())
            .map_err(fail)?;
        say!(
            "the subject's newest receipt: {} — {}",
            crate::render::receipt::action(b.action),
            b.detail
        );
    }
    // Read back through the subject's own query (it leaves a receipt in their chain).
    let person = credseal_auth::SigningKey::from_seed(&keys::demo_secret(b"subject:signing"));
    let person_seal = credseal_crypto::SealingKey::from_bytes(keys::demo_secret(b"subject:sealing"));
    let q = credseal_auth::sign(
        &credseal_auth::SelfQuery {
            query_id: credseal_crypto::random_array(),
            subject: id.to_string(),
            classes: ["loans".to_string()].into_iter().collect(),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.clone(),
            sealing_key: person_seal.public().to_bytes(),
        },
        &person,
    )
    .to_text();
    let left = p
        .self_query(&q, now)
        .map_err(query_failure)?
        .open(&person_seal)?
        .records
        .len();
    say!("{left} record(s) of the subject's loans remain readable");
    // The log key: rotated on the same two officers' word; subjects keep the key they pinned.
    let pinned = credseal_log::LogVerifier::from_vkey(&p.log_vkey()?).map_err(fail)?;
    let op = p.log_rotation_operation()?;
    let both: Vec<String> = officers
        .iter()
        .map(|k| officer_approval(k, &op, &origin, now))
        .collect();
    let ok = p.approve(&op, &both, now)?;
    let rot = p.rotate_log_key(&officer, pass, &ok)?;
    let id_of = |vkey: &str| vkey.split('+').nth(1).unwrap_or_default().to_string();
    say!(
        "$ credseal keys log-rotate --approval a --approval b  -> log key {} destroyed; {} signs from tree size {}",
        id_of(&rot.old_vkey),
        id_of(&rot.new_vkey),
        rot.from_size
    );
    let bundle = p.export_bundle(&id, None, now)?;
    let who = credseal_log::BundleSubject::new(id.clone(), p.vrf_public_key());
    let v = credseal_log::verify_bundle(&bundle, &pinned, &who, None, now).map_err(fail)?;
    say!(
        "the subject's bundle verifies with the key it pinned: {} receipts signed by the old key, checkpoint {} by the new one, the handover by both",
        v.receipts().len(),
        v.checkpoint().size()
    );
    let report = p.verify_log()?;
    say!(
        "auditor: log verify across the rotation: {} receipts and {} checkpoints consistent",
        report.receipts,
        report.checkpoints
    );
    Ok(())
}

/// Step 19: the authority enrols a data provider for its classes; the provider's signed
/// batch (a correction of its own loan) is accepted and receipted in its name; a batch that
/// writes another source's record is refused whole.
fn provider_walkthrough(p: &Platform, work: &Path) -> CliResult {
    step(
        19,
        "data provider",
        "enrolled by the authority's credential; its signed batch is accepted, another provider's record is refused",
    );
    let now = crate::now()?;
    let origin = p.origin().to_string();
    let authority = credseal_auth::SigningKey::from_seed(&keys::demo_secret(b"authority"));
    let provider = credseal_auth::SigningKey::from_seed(&keys::demo_secret(b"provider:boc-guangzhou"));
    let credential = credseal_auth::sign(
        &credseal_auth::ProviderCredential {
            serial: 2001,
            provider_id: "boc-guangzhou".into(),
            provider_name: "Bank of China, Guangzhou".into(),
            provider_key: provider.public(),
            classes: ["credit-cards", "loans", "repayment"]
                .into_iter()
                .map(str::to_string)
                .collect(),
            record_prefix: String::new(),
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            audience: origin.clone(),
        },
        &authority,
    )
    .to_text();
    say!(
        "$ credseal authority provider-credential --serial 2001 --provider boc-guangzhou --classes credit-cards,loans,repayment --provider-key boc.key.pub ..."
    );
    let c = p.enroll_provider(&session(p)?, &credential, now)?;
    say!(
        "$ credseal provider enroll --credential boc.cred  -> provider {} enrolled",
        c.provider_id
    );
    let own = RECORDS
        .lines()
        .find(|l| l.contains("\"source\":\"boc-guangzhou\"") && l.contains("\"class\":\"credit-cards\""))
        .ok_or_else(|| fail("the demo data has no boc-guangzhou card"))?;
    let mut v: serde_json::Value = serde_json::from_str(own).map_err(fail)?;
    v["version"] = serde_json::json!(3);
    v["supersedes"] = serde_json::json!(2);
    let batch = |records: String| {
        credseal_auth::sign(
            &credseal_auth::IngestBatch::new(
                "boc-guangzhou".into(),
                provider.public(),
                origin.clone(),
                now,
                credseal_crypto::random_array(),
                records,
            ),
            &provider,
        )
        .to_text()
    };
    let _ = work;
    let s = p.ingest_signed_batch(&batch(format!("{v}\n")), now)?;
    say!(
        "$ credseal ingest --batch boc.batch  -> {} record written; the subject's receipt: corrected, from a batch signed by provider boc-guangzhou",
        s.written
    );
    let other = RECORDS
        .lines()
        .find(|l| l.contains("\"source\":\"bocom-guangzhou\"") && l.contains("\"class\":\"loans\""))
        .ok_or_else(|| fail("the demo data has no bocom-guangzhou loan"))?;
    let mut v: serde_json::Value = serde_json::from_str(other).map_err(fail)?;
    v["version"] = serde_json::json!(2);
    v["supersedes"] = serde_json::json!(1);
    v["source"] = serde_json::json!("boc-guangzhou");
    match p.ingest_signed_batch(&batch(format!("{v}\n")), now) {
        Err(e) if e.class() == ErrorClass::Denied => {
            say!("a batch correcting bocom-guangzhou's loan: refused, nothing written (exit 3): {e}");
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err(fail("a provider wrote another provider's record")),
    }
    objection_walkthrough(p, &authority, now)
}

/// Step 20: the demo subject objects to its identity record; the provider corrects it, which
/// resolves the objection; bank-a, which received the old value, opens its correction notice.
fn objection_walkthrough(p: &Platform, authority: &credseal_auth::SigningKey, now: u64) -> CliResult {
    step(
        20,
        "subject",
        "objects to a wrong record; the provider corrects it; the bank that saw it gets a notice",
    );
    let origin = p.origin().to_string();
    let person = credseal_auth::SigningKey::from_seed(&keys::demo_secret(b"subject:signing"));
    let line = RECORDS
        .lines()
        .find(|l| l.contains("\"class\":\"identity\""))
        .ok_or_else(|| fail("the demo data has no identity record"))?;
    let mut v: serde_json::Value = serde_json::from_str(line).map_err(fail)?;
    let (subject, record, source) = (
        v["subject"].as_str().unwrap_or_default().to_string(),
        v["record_id"].as_str().unwrap_or_default().to_string(),
        v["source"].as_str().unwrap_or_default().to_string(),
    );
    let objection = credseal_auth::sign(
        &credseal_auth::Objection {
            objection_id: credseal_crypto::random_array(),
            subject: subject.clone(),
            class: "identity".into(),
            record_id: record.clone(),
            kind: "objection".into(),
            reason: "my registered address is wrong: I moved in 2024".into(),
            issued_at: now,
            audience: origin.clone(),
        },
        &person,
    )
    .to_text();
    let st = p.file_objection(&objection, now)?;
    say!(
        "$ credseal subject object --class identity --record {record} --reason \"my registered address is wrong\" ... --data DIR"
    );
    say!(
        "filed: the record is disputed (answers that hold it say so); {} answers by {}",
        st.provider,
        credseal_core::Date::from_unix(st.due).map_or_else(|| st.due.to_string(), |d| d.to_string())
    );
    // The provider (enrolled for identity) answers with a correction.
    let provider = credseal_auth::SigningKey::from_seed(&keys::demo_secret(source.as_bytes()));
    let credential = credseal_auth::sign(
        &credseal_auth::ProviderCredential {
            serial: 2002,
            provider_id: source.clone(),
            provider_name: source.clone(),
            provider_key: provider.public(),
            classes: ["identity".to_string()].into_iter().collect(),
            record_prefix: String::new(),
            not_before: now - 60,
            not_after: now + 365 * 86_400,
            audience: origin.clone(),
        },
        authority,
    )
    .to_text();
    p.enroll_provider(&session(p)?, &credential, now)?;
    v["version"] = serde_json::json!(2);
    v["supersedes"] = serde_json::json!(1);
    v["fields"]["registered_address"] = serde_json::json!("湖北省武汉市洪山区珞喻路1037号");
    let batch = credseal_auth::sign(
        &credseal_auth::IngestBatch::new(
            source.clone(),
            provider.public(),
            origin.clone(),
            now,
            credseal_crypto::random_array(),
            format!("{v}\n"),
        ),
        &provider,
    )
    .to_text();
    p.ingest_signed_batch(&batch, now)?;
    let status = p
        .review_objections(now)?
        .into_iter()
        .find(|o| o.id == st.id)
        .map(|o| match o.status {
            credseal_engine::ObjectionStatus::Corrected { version } => {
                format!("resolved, corrected by version {version}")
            }
            credseal_engine::ObjectionStatus::Upheld { .. } => "upheld".into(),
            credseal_engine::ObjectionStatus::Deleted { .. } => "answered: the record was deleted".into(),
            credseal_engine::ObjectionStatus::Open => "still open".into(),
        })
        .unwrap_or_default();
    say!("$ credseal ingest --batch {source}.batch   -> the corrected version 2; the objection is {status}");
    // bank-a received the identity record in step 10: it gets a correction notice.
    let notices = p.correction_notices("bank-a")?;
    say!(
        "$ credseal dept notices --department bank-a   -> {} notice(s), sealed to bank-a",
        notices.len()
    );
    let bank_seal = credseal_crypto::SealingKey::from_bytes(keys::demo_secret(b"dept:bank-a:sealing"));
    for n in &notices {
        let body = credseal_engine::open_notice(n, &bank_seal)?;
        say!(
            "$ credseal dept open-notice --key bank-a/sealing.key   -> {} record {} corrected: version {} supersedes {}",
            body.class,
            body.record_id,
            body.version,
            body.superseded_version
        );
    }
    Ok(())
}

/// The demo's officer: the engine's default operator name, as every administrative receipt
/// of the demo names it.
fn session(p: &Platform) -> CliResult<credseal_engine::StaffSession> {
    Ok(p.staff_session(credseal_engine::DEFAULT_OPERATOR)?)
}
