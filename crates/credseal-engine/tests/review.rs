//! Canary subjects and the access review through the library: canaries planted by an
//! officer, a query touching one alerted at once (its receipt unmarked) and listed by
//! `canary_alerts`; `audit_report` flagging a department at ten times its baseline, a
//! denial spike and bulk querying, and leaving steady departments alone.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::*;
use credseal_auth::{Credential, SigningKey, StaffRequest, Token, sign};
use credseal_core::Date;
use credseal_crypto::SealingKey;
use credseal_engine::{CanaryAlert, ErrorClass, FLAG_CANARY, NoProgress, Platform, QueryError, StaffRole};
use credseal_store::{Batch, Tree};

/// Midnight UTC, so that day boundaries are where the test puts them; in the future, since
/// a subject's receipts never go back in time and ingest dates its receipts now.
const DAY0: u64 = 1_900_000_000 / 86_400 * 86_400;

struct World {
    p: TestPlatform,
    authority: SigningKey,
    responder: SigningKey,
    officer: SigningKey,
}

struct Dept {
    serial: u64,
    key: SigningKey,
    credential: String,
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn world(extra_synthetic: u64) -> World {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    let mut data = RECORDS.as_bytes().to_vec();
    if extra_synthetic > 0 {
        credseal_testkit::synthetic::write_synthetic(&catalog(), extra_synthetic, &mut data).unwrap();
    }
    p.ingest_file(&write(d.path(), "r.jsonl", &data), &NoProgress).unwrap();
    let authority = SigningKey::generate();
    p.set_authority_key(&common::op(&p), authority.public().as_bytes(), false)
        .unwrap();
    let responder = SigningKey::generate();
    let officer = SigningKey::generate();
    common::enroll(&p, StaffRole::Responder, "resp-1", responder.public().as_bytes());
    common::enroll(&p, StaffRole::Officer, "off-1", officer.public().as_bytes());
    World {
        p,
        authority,
        responder,
        officer,
    }
}

impl World {
    fn dept(&self, serial: u64, id: &str) -> Dept {
        let key = SigningKey::generate();
        let credential = sign(
            &Credential {
                serial,
                department_id: id.into(),
                department_name: id.into(),
                signing_key: key.public(),
                sealing_key: SealingKey::generate().public().to_bytes(),
                classes: set(&["identity"]),
                purposes: set(&["loan-approval"]),
                not_before: DAY0 - 86_400,
                not_after: DAY0 + 365 * 86_400,
                audience: self.p.origin().into(),
            },
            &self.authority,
        )
        .to_text();
        Dept {
            serial,
            key,
            credential,
        }
    }

    /// A query by `d` for `subject` at `at`; `classes` may ask beyond the credential.
    fn query(&self, d: &Dept, subject: &str, classes: &[&str], at: u64) -> Result<u64, QueryError> {
        let tok = sign(
            &Token {
                query_id: credseal_crypto::random_array(),
                credential_serial: d.serial,
                subject: subject.into(),
                classes: set(classes),
                purpose: "loan-approval".into(),
                legal_basis: "test".into(),
                issued_at: at,
                expires_at: at + 300,
                audience: self.p.origin().into(),
                consent: None,
            },
            &d.key,
        )
        .to_text();
        self.p.query(&d.credential, &tok, at).map(|a| {
            credseal_log::UnverifiedReceipt::parse(&a.receipt)
                .unwrap()
                .peek_unverified()
                .unwrap()
                .index
        })
    }

    fn request(&self, key: &SigningKey, role: &str, action: &str, input: &[u8], at: u64) -> String {
        sign(
            &StaffRequest {
                request_id: credseal_crypto::random_array(),
                role: role.into(),
                staff_key: key.public(),
                action: action.into(),
                input_digest: credseal_crypto::sha256(input),
                issued_at: at,
                expires_at: at + 300,
                audience: self.p.origin().into(),
            },
            key,
        )
        .to_text()
    }

    fn receipt(&self, index: u64) -> credseal_log::ReceiptBody {
        let leaf = self
            .p
            .store()
            .get(Tree::LogLeaves, &index.to_be_bytes())
            .unwrap()
            .unwrap();
        credseal_log::UnverifiedReceipt::parse(&leaf)
            .unwrap()
            .peek_unverified()
            .unwrap()
    }
}

fn real_subject() -> String {
    RECORDS
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["class"] == "identity")
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Done-when: a query touching a canary is flagged in `audit alerts` and alerted at once; its
/// receipt, which the department receives, carries no canary flag.
#[test]
fn query_touching_a_canary_is_flagged_alerted_and_listed() {
    let w = world(0);
    let now = DAY0;
    let req = w.request(&w.officer, "officer", "canary-plant", b"count=3", now);
    let plant = w.p.plant_canaries(&req, 3, now).unwrap();
    assert_eq!((plant.planted, plant.total, plant.subjects.len()), (3, 3, 3));
    assert!(plant.records >= 6, "identity and at least one more class each");
    // The canaries are stored like any subject; only the keystore marks them.
    let canary = plant.subjects[0].to_string();
    assert!(w.p.is_canary_subject(&plant.subjects[0]).unwrap());
    assert!(
        !w.p.is_canary_subject(&credseal_core::SubjectId::parse(&real_subject()).unwrap())
            .unwrap()
    );
    let blind = w.p.blind(&plant.subjects[0]).unwrap();
    assert!(w.p.store().get(Tree::Records, blind.as_bytes()).unwrap().is_some());
    let marking = w.p.store().get(Tree::Meta, b"canaries").unwrap().unwrap();
    for s in &plant.subjects {
        let b = w.p.blind(s).unwrap();
        assert!(
            !marking.windows(32).any(|x| x == b.as_bytes()),
            "a BlindId in the clear"
        );
        assert!(!marking.windows(18).any(|x| x == s.as_str().as_bytes()));
    }
    assert_eq!((marking.len() - 12 - 16 - 4) % (64 * 32), 0, "padded to 64 entries");
    // Planting needs an officer.
    let bad = w.request(&w.responder, "officer", "canary-plant", b"count=1", now);
    assert_eq!(
        w.p.plant_canaries(&bad, 1, now).unwrap_err().class(),
        ErrorClass::Denied
    );
    // Alerts as they happen.
    let seen: Arc<Mutex<Vec<CanaryAlert>>> = Arc::default();
    let s2 = seen.clone();
    w.p.set_alert_sink(Arc::new(move |a: &CanaryAlert| s2.lock().unwrap().push(a.clone())));
    let bank = w.dept(1, "bank-a");
    let plain = w.query(&bank, &real_subject(), &["identity"], now + 10).unwrap();
    assert_eq!(w.receipt(plain).flags, 0);
    assert!(seen.lock().unwrap().is_empty());
    let hit = w.query(&bank, &canary, &["identity"], now + 20).unwrap();
    // The department receives this receipt: it carries no canary mark (the alert and
    // `audit alerts` below keep the hit).
    assert_eq!(w.receipt(hit).flags & FLAG_CANARY, 0);
    // A denied query that names a canary alerts too, its receipt equally unmarked.
    let e = w.query(&bank, &plant.subjects[1].to_string(), &["identity", "tax"], now + 30);
    assert!(matches!(e, Err(QueryError::Denied(_))));
    let denied_index = w.p.log_size().unwrap() - 1;
    assert_eq!(w.receipt(denied_index).flags & FLAG_CANARY, 0);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].receipt, seen[0].department.as_str()), (hit, "bank-a"));
        assert_eq!(seen[0].outcome, "granted");
        assert_eq!(seen[1].outcome, "denied (class-not-granted)");
    }
    // `audit alerts`.
    let req = w.request(&w.responder, "responder", "audit-alerts", b"", now + 40);
    let alerts = w.p.canary_alerts(&req, now + 40).unwrap();
    let got: Vec<(u64, &str, Option<u64>)> = alerts
        .iter()
        .map(|a| (a.receipt, a.department.as_str(), a.credential_serial))
        .collect();
    assert_eq!(got, vec![(hit, "bank-a", Some(1)), (denied_index, "bank-a", Some(1))]);
    let req = w.request(&w.officer, "officer", "audit-alerts", b"", now + 40);
    assert_eq!(
        w.p.canary_alerts(&req, now + 40).unwrap_err().class(),
        ErrorClass::Denied
    );
    // The marking edited on disk: queries fail closed rather than lose the flag.
    let mut edited = marking.clone();
    edited[20] ^= 1;
    let mut b = Batch::new();
    b.put(Tree::Meta, b"canaries".to_vec(), edited);
    w.p.store().apply(b).unwrap();
    match w.query(&bank, &real_subject(), &["identity"], now + 50) {
        Err(QueryError::Failed(e)) => assert_eq!(e.class(), ErrorClass::Verification, "{e}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Done-when: `audit report` flags a department whose volume is ten times its baseline;
/// also a denial spike and bulk querying; steady departments are not flagged.
#[test]
fn audit_report_flags_ten_times_baseline_denial_spike_and_bulk() {
    let w = world(150);
    let subjects: Vec<String> = (0..150)
        .map(|i| credseal_testkit::synthetic::synthetic_subject(i).to_string())
        .collect();
    let (a, b, c, d) = (
        w.dept(1, "spiky"),
        w.dept(2, "steady"),
        w.dept(3, "bulk"),
        w.dept(4, "denied"),
    );
    for day in 0..10u64 {
        for q in 0..3u64 {
            let at = DAY0 + day * 86_400 + 3600 * (q + 1);
            let s = &subjects[((day * 3 + q) % 150) as usize];
            for dept in [&a, &b, &c, &d] {
                w.query(dept, s, &["identity"], at).unwrap();
            }
        }
    }
    let spike = DAY0 + 10 * 86_400;
    // spiky: 30 queries, ten times its 3 a day, spread over the day.
    for q in 0..30u64 {
        w.query(&a, &subjects[q as usize], &["identity"], spike + 1200 * q)
            .unwrap();
    }
    // steady: 6, twice its baseline.
    for q in 0..6u64 {
        w.query(&b, &subjects[q as usize], &["identity"], spike + 3600 * q)
            .unwrap();
    }
    // bulk: 120 distinct subjects within 4 minutes (subjects nobody else queries that
    // day: a receipt is never dated before its subject's previous receipt).
    for q in 0..120u64 {
        w.query(&c, &subjects[30 + q as usize], &["identity"], spike + 2 * q)
            .unwrap();
    }
    // denied: 8 of 10 queries ask for a class not granted.
    for q in 0..10u64 {
        let classes: &[&str] = if q < 8 { &["identity", "tax"] } else { &["identity"] };
        let _ = w.query(&d, &subjects[q as usize], classes, spike + 600 * q);
    }
    let (from, to) = (Date::from_unix(DAY0).unwrap(), Date::from_unix(spike).unwrap());
    let now = spike + 86_400;
    let params = Platform::report_params(None, from, to);
    let req = w.request(&w.responder, "responder", "audit-report", params.as_bytes(), now);
    let r = w.p.audit_report(&req, None, from, to, now).unwrap();
    let get = |id: &str| r.departments.iter().find(|x| x.department == id).unwrap();
    let kinds = |id: &str| -> Vec<(String, String)> {
        get(id).flags.iter().map(|f| (f.kind.clone(), f.date.clone())).collect()
    };
    let spike_day = to.to_string();
    assert_eq!(
        kinds("spiky"),
        vec![("volume-spike".to_string(), spike_day.clone())],
        "{:?}",
        get("spiky").flags
    );
    assert!(
        get("spiky").flags[0]
            .detail
            .contains("30 queries against a baseline of 3")
    );
    assert!(kinds("steady").is_empty(), "{:?}", get("steady").flags);
    let bulk = kinds("bulk");
    assert!(bulk.contains(&("bulk".to_string(), spike_day.clone())), "{bulk:?}");
    assert!(
        kinds("denied").contains(&("denial-spike".to_string(), spike_day.clone())),
        "{:?}",
        get("denied").flags
    );
    // The figures.
    let s = get("spiky");
    assert_eq!((s.queries, s.granted, s.denied), (60, 60, 0));
    assert_eq!(s.by_purpose.get("loan-approval"), Some(&60));
    assert_eq!(s.by_class.get("identity"), Some(&60));
    assert_eq!(s.days.len(), 11);
    let dd = get("denied");
    assert_eq!(dd.denials.get("class-not-granted"), Some(&8));
    assert_eq!(get("bulk").distinct_subjects, 30 + 120, "baseline days and the burst");
    // One department, the spike day only: the baseline still comes from the days before.
    let params = Platform::report_params(Some("spiky"), to, to);
    let req = w.request(&w.responder, "responder", "audit-report", params.as_bytes(), now);
    let r = w.p.audit_report(&req, Some("spiky"), to, to, now).unwrap();
    assert_eq!(r.departments.len(), 1);
    assert_eq!(r.departments[0].queries, 30);
    assert_eq!(r.departments[0].flags.len(), 1);
    // A request signed for other parameters is refused.
    let req = w.request(&w.responder, "responder", "audit-report", params.as_bytes(), now);
    let e = w.p.audit_report(&req, Some("steady"), to, to, now).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Denied);
}
