//! The query path through the library: grants, concurrent replay, revocation between two
//! queries, sealed answers that open only for their recipient.

mod common;

use std::collections::BTreeSet;

use common::*;
use credseal_auth::{Credential, RevocationList, SigningKey, Token, sign};
use credseal_core::Record;
use credseal_crypto::SealingKey;
use credseal_engine::{NoProgress, Platform, QueryError, SealedAnswer};

const NOW: u64 = 1_790_000_000;

struct World {
    p: Platform,
    authority: SigningKey,
    dept: SigningKey,
    sealing: SealingKey,
    credential: String,
    subject: String,
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn world() -> World {
    let d = tempfile::tempdir().unwrap();
    let p = platform().p;
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let authority = SigningKey::generate();
    p.set_authority_key(&common::op(&p), authority.public().as_bytes(), false)
        .unwrap();
    let dept = SigningKey::generate();
    let sealing = SealingKey::generate();
    let credential = sign(
        &Credential {
            serial: 11,
            department_id: "court-a".into(),
            department_name: "Court A".into(),
            signing_key: dept.public(),
            sealing_key: sealing.public().to_bytes(),
            classes: set(&["identity", "judgments"]),
            purposes: set(&["judicial-enforcement"]),
            not_before: NOW - 3600,
            not_after: NOW + 86_400,
            audience: p.origin().into(),
        },
        &authority,
    )
    .to_text();
    let subject = RECORDS
        .lines()
        .find(|l| l.contains("\"class\":\"judgments\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["subject"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    World {
        p,
        authority,
        dept,
        sealing,
        credential,
        subject,
    }
}

fn token(w: &World, classes: &[&str]) -> String {
    sign(
        &Token {
            query_id: credseal_crypto::random_array(),
            credential_serial: 11,
            subject: w.subject.clone(),
            classes: set(classes),
            purpose: "judicial-enforcement".into(),
            legal_basis: "(2025) enforcement case 17".into(),
            issued_at: NOW,
            expires_at: NOW + 300,
            audience: w.p.origin().into(),
            consent: None,
        },
        &w.dept,
    )
    .to_text()
}

fn denial(r: Result<SealedAnswer, QueryError>) -> &'static str {
    match r {
        Err(QueryError::Denied(d)) => d.code(),
        Err(QueryError::Failed(e)) => panic!("failed: {e}"),
        Ok(_) => panic!("granted"),
    }
}

#[test]
fn granted_answer_holds_exactly_the_granted_classes() {
    let w = world();
    let a = w.p.query(&w.credential, &token(&w, &["judgments"]), NOW).unwrap();
    let body = a.open(&w.sealing).unwrap();
    assert_eq!(body.classes, ["judgments"]);
    assert_eq!(body.purpose, "judicial-enforcement");
    assert_eq!(body.department_id, "court-a");
    let cat = catalog();
    let expected: Vec<Record> = RECORDS
        .lines()
        .map(|l| Record::from_json(&serde_json::from_str(l).unwrap(), &cat).unwrap())
        .filter(|r| r.subject.as_str() == w.subject && r.class == "judgments")
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(body.records.len(), expected.len());
    for r in &expected {
        assert!(body.records.contains(r));
    }
    assert!(
        body.records.iter().all(|r| r.class == "judgments"),
        "no other class is released"
    );
}

#[test]
fn answer_opens_only_with_the_recipients_key_and_detects_a_bit_flip() {
    let w = world();
    let a = w.p.query(&w.credential, &token(&w, &["identity"]), NOW).unwrap();
    assert!(a.open(&w.sealing).is_ok());
    assert!(a.open(&SealingKey::generate()).is_err(), "another key");
    let text = a.to_text();
    let back = SealedAnswer::from_text(&text).unwrap();
    assert_eq!(back, a);
    for i in 0..a.sealed.len() {
        let mut t = a.clone();
        t.sealed[i] ^= 0x01;
        assert!(t.open(&w.sealing).is_err(), "flip at {i}");
    }
    let mut t = a.clone();
    t.query_id[0] ^= 1;
    assert!(
        t.open(&w.sealing).is_err(),
        "the envelope's query id is bound by the HPKE info"
    );
    let mut t = a.clone();
    t.origin.push('x');
    assert!(
        t.open(&w.sealing).is_err(),
        "the envelope's origin is bound by the HPKE info"
    );
    assert!(SealedAnswer::from_text(&format!("{text}=")).is_err());
    assert!(SealedAnswer::from_text(&text[..text.len() - 4]).is_err());
}

#[test]
fn one_token_presented_concurrently_is_granted_exactly_once() {
    let w = world();
    for _ in 0..20 {
        let t = token(&w, &["identity"]);
        let results: Vec<Result<SealedAnswer, QueryError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2).map(|_| s.spawn(|| w.p.query(&w.credential, &t, NOW))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let granted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(granted, 1);
        let replayed = results
            .into_iter()
            .filter(|r| r.is_err())
            .map(denial)
            .collect::<Vec<_>>();
        assert_eq!(replayed, ["replayed"]);
    }
}

#[test]
fn revocation_between_two_queries_denies_the_second() {
    let w = world();
    assert!(w.p.query(&w.credential, &token(&w, &["identity"]), NOW).is_ok());
    let list = sign(
        &RevocationList {
            version: 1,
            issued_at: NOW + 10,
            audience: w.p.origin().into(),
            revoked: [(11, NOW + 10)].into_iter().collect(),
        },
        &w.authority,
    )
    .to_text();
    assert_eq!(w.p.install_revocations(&common::op(&w.p), &list).unwrap(), 1);
    assert_eq!(
        denial(w.p.query(&w.credential, &token(&w, &["identity"]), NOW + 11)),
        "credential-revoked"
    );
    // An older or equal list is refused; a list signed by someone else too.
    match w.p.install_revocations(&common::op(&w.p), &list) {
        Err(QueryError::Denied(d)) => assert_eq!(d.code(), "revocation-list-stale"),
        other => panic!("{other:?}"),
    }
    let forged = sign(
        &RevocationList {
            version: 2,
            issued_at: NOW,
            audience: w.p.origin().into(),
            revoked: Default::default(),
        },
        &SigningKey::generate(),
    )
    .to_text();
    match w.p.install_revocations(&common::op(&w.p), &forged) {
        Err(QueryError::Denied(d)) => assert_eq!(d.code(), "revocation-list-bad-signature"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        denial(w.p.query(&w.credential, &token(&w, &["identity"]), NOW + 12)),
        "credential-revoked"
    );
}

#[test]
fn scope_escalation_and_forgery_are_denied_without_decrypting() {
    let w = world();
    assert_eq!(
        denial(w.p.query(&w.credential, &token(&w, &["loans"]), NOW)),
        "class-not-granted"
    );
    assert_eq!(
        denial(w.p.query(&w.credential, &token(&w, &["gossip"]), NOW)),
        "unknown-class"
    );
    let t = token(&w, &["identity"]);
    let mut forged = t.clone().into_bytes();
    let n = forged.len();
    forged[n - 3] = if forged[n - 3] == b'A' { b'B' } else { b'A' };
    let r = w.p.query(&w.credential, std::str::from_utf8(&forged).unwrap(), NOW);
    assert!(matches!(&r, Err(QueryError::Denied(d)) if d.is_forgery()), "{r:?}");
    assert_eq!(denial(w.p.query(&w.credential, &t, NOW + 10_000)), "token-expired");
    // A token for a subject with no data: granted, with nothing in it — the same answer shape
    // as for a subject that has no records of these classes.
    let ghost = credseal_testkit::synthetic::synthetic_subject(987_654).to_string();
    let t = sign(
        &Token {
            query_id: credseal_crypto::random_array(),
            credential_serial: 11,
            subject: ghost,
            classes: set(&["identity"]),
            purpose: "judicial-enforcement".into(),
            legal_basis: String::new(),
            issued_at: NOW,
            expires_at: NOW + 60,
            audience: w.p.origin().into(),
            consent: None,
        },
        &w.dept,
    )
    .to_text();
    assert!(
        w.p.query(&w.credential, &t, NOW)
            .unwrap()
            .open(&w.sealing)
            .unwrap()
            .records
            .is_empty()
    );
}

#[test]
fn expired_replay_entries_are_swept() {
    let w = world();
    let t = token(&w, &["identity"]);
    w.p.query(&w.credential, &t, NOW).unwrap();
    assert_eq!(w.p.sweep_replay(NOW).unwrap(), 0);
    assert_eq!(w.p.sweep_replay(NOW + 10_000).unwrap(), 1);
    // After the sweep the old token is still refused, now as expired.
    assert_eq!(denial(w.p.query(&w.credential, &t, NOW + 10_000)), "token-expired");
}

#[test]
fn answer_with_an_impossible_origin_is_refused_not_a_panic() {
    let w = world();
    let mut a = w.p.query(&w.credential, &token(&w, &["identity"]), NOW).unwrap();
    a.origin = "x".repeat(70_000);
    let back = SealedAnswer::from_text(&a.to_text()).unwrap();
    assert!(back.open(&w.sealing).is_err());
}

#[test]
fn submitted_queries_share_a_commit_and_each_answer_waits_for_its_receipt() {
    let w = world();
    let before = w.p.log_size().unwrap();
    // Five queries in flight from one thread: their receipts queue for one group commit.
    let pending: Vec<_> = (0..5)
        .map(|_| {
            w.p.submit_query(&w.credential, &token(&w, &["judgments"]), NOW)
                .unwrap()
        })
        .collect();
    assert_eq!(w.p.log_size().unwrap(), before, "nothing is durable before a wait");
    // Waited out of order: each answer carries its own receipt and opens for its recipient.
    let mut indexes = BTreeSet::new();
    for a in pending.into_iter().rev() {
        let a = a.wait().unwrap();
        let r = credseal_log::UnverifiedReceipt::parse(&a.receipt).unwrap();
        let body = r.peek_unverified().unwrap();
        assert!(indexes.insert(body.index), "a receipt per answer");
        assert!(body.index < w.p.log_size().unwrap(), "durable before release");
        assert_eq!(a.open(&w.sealing).unwrap().classes, ["judgments"]);
    }
    assert_eq!(w.p.log_size().unwrap(), before + 5);
    assert_eq!(
        w.p.commit_stats().last_batch,
        5,
        "the first wait led one commit for all five"
    );
    // A pending answer dropped unwaited: its receipt is still committed (the query id is
    // spent), and the answer is never sealed.
    let tok = token(&w, &["judgments"]);
    drop(w.p.submit_query(&w.credential, &tok, NOW).unwrap());
    let next = w.p.query(&w.credential, &token(&w, &["identity"]), NOW).unwrap();
    assert_eq!(w.p.log_size().unwrap(), before + 7);
    assert!(next.open(&w.sealing).is_ok());
    assert_eq!(denial(w.p.query(&w.credential, &tok, NOW)), "replayed");
    w.p.verify_log().unwrap();
}

#[test]
fn a_grant_is_answered_only_by_the_platform_handle_that_issued_it() {
    let w = world();
    let other = platform().p;
    let before = (w.p.log_size().unwrap(), other.log_size().unwrap());
    let grant = w.p.authorize(&w.credential, &token(&w, &["judgments"]), NOW).unwrap();
    match other.submit_answer(grant) {
        Err(credseal_engine::EngineError::Denied { code, .. }) => assert_eq!(code, "grant-other-platform"),
        Err(e) => panic!("failed otherwise: {e}"),
        Ok(_) => panic!("another platform handle answered the grant"),
    }
    assert_eq!(
        (w.p.log_size().unwrap(), other.log_size().unwrap()),
        before,
        "a refused grant leaves no receipt on either platform"
    );
    // The issuing platform still answers a fresh grant.
    let grant = w.p.authorize(&w.credential, &token(&w, &["judgments"]), NOW).unwrap();
    let body =
        w.p.submit_answer(grant)
            .unwrap()
            .wait()
            .unwrap()
            .open(&w.sealing)
            .unwrap();
    assert_eq!(body.classes, ["judgments"]);
}
