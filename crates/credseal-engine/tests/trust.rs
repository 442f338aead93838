//! The trust state through the library: a value deleted or replaced in the store while a
//! platform is open fails closed at the next decision that reads it (the pins), and at the
//! next open (the checkpoint's trust line), naming the component.

mod common;

use std::collections::BTreeSet;

use common::*;
use credseal_auth::{Credential, RevocationList, SigningKey, Token, sign};
use credseal_crypto::SealingKey;
use credseal_engine::{ErrorClass, Platform, QueryError};
use credseal_store::{Batch, Store, Tree};

const NOW: u64 = 1_790_000_000;
const SUBJECT: &str = "42010619960510907X";

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

struct World {
    p: TestPlatform,
    authority: SigningKey,
    dept: SigningKey,
    credential: String,
}

fn world() -> World {
    let p = platform();
    let authority = SigningKey::generate();
    p.set_authority_key(&op(&p), authority.public().as_bytes(), false)
        .unwrap();
    let dept = SigningKey::generate();
    let credential = sign(
        &Credential {
            serial: 11,
            department_id: "court-a".into(),
            department_name: "Court A".into(),
            signing_key: dept.public(),
            sealing_key: SealingKey::generate().public().to_bytes(),
            classes: set(&["identity"]),
            purposes: set(&["judicial-enforcement"]),
            not_before: NOW - 3600,
            not_after: NOW + 86_400,
            audience: p.origin().into(),
        },
        &authority,
    )
    .to_text();
    World {
        p,
        authority,
        dept,
        credential,
    }
}

fn token(w: &World) -> String {
    sign(
        &Token {
            query_id: credseal_crypto::random_array(),
            credential_serial: 11,
            subject: SUBJECT.into(),
            classes: set(&["identity"]),
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

fn revoke(w: &World) {
    let list = sign(
        &RevocationList {
            version: 1,
            issued_at: NOW,
            audience: w.p.origin().into(),
            revoked: [(11, NOW)].into_iter().collect(),
        },
        &w.authority,
    )
    .to_text();
    w.p.install_revocations(&op(&w.p), &list).unwrap();
}

#[track_caller]
fn assert_trust_failure(e: &credseal_engine::EngineError, component: &str) {
    assert_eq!(e.class(), ErrorClass::Verification, "{e}");
    assert!(e.to_string().contains(&format!("trust state: {component}")), "{e}");
}

#[test]
fn revocation_list_deleted_under_an_open_platform_fails_the_next_query() {
    let w = world();
    revoke(&w);
    match w.p.query(&w.credential, &token(&w), NOW + 1) {
        Err(QueryError::Denied(d)) => assert_eq!(d.code(), "credential-revoked"),
        other => panic!("{other:?}"),
    }
    let mut b = Batch::new();
    b.delete(Tree::Revocations, b"current".to_vec());
    w.p.store().apply(b).unwrap();
    match w.p.query(&w.credential, &token(&w), NOW + 2) {
        Err(QueryError::Failed(e)) => assert_trust_failure(&e, "revocation list"),
        other => panic!("the revoked credential must not be granted: {other:?}"),
    }
    // And a platform opened on that store refuses to open.
    let e = Platform::with_store(catalog(), w.p.keys().clone(), w.p.store().clone()).unwrap_err();
    assert_trust_failure(&e, "revocation list");
}

#[test]
fn authority_key_replaced_under_an_open_platform_fails_the_next_query() {
    let w = world();
    assert!(w.p.query(&w.credential, &token(&w), NOW).is_ok());
    // An older MAC'd value of the same entry: here, the entry deleted.
    let mut b = Batch::new();
    b.delete(Tree::Meta, b"authority-key".to_vec());
    w.p.store().apply(b).unwrap();
    match w.p.query(&w.credential, &token(&w), NOW + 1) {
        Err(QueryError::Failed(e)) => assert_trust_failure(&e, "authority key"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_legitimate_change_moves_the_pins_and_the_checkpoint() {
    let w = world();
    assert!(w.p.query(&w.credential, &token(&w), NOW).is_ok());
    revoke(&w);
    // Installing, trusting and registering through the platform never trips its own checks,
    // and a platform opened afterwards on the same store finds everything committed.
    let subject = credseal_core::SubjectId::parse(SUBJECT).unwrap();
    w.p.register_subject_key(&op(&w.p), &subject, SigningKey::generate().public().as_bytes(), false)
        .unwrap();
    match w.p.query(&w.credential, &token(&w), NOW + 1) {
        Err(QueryError::Denied(d)) => assert_eq!(d.code(), "credential-revoked"),
        other => panic!("{other:?}"),
    }
    let again = Platform::with_store(catalog(), w.p.keys().clone(), w.p.store().clone()).unwrap();
    assert_eq!(again.revocations().unwrap().unwrap().version, 1);
    // Sweeping the granted query's replay entry is committed too.
    assert_eq!(w.p.sweep_replay(NOW + 100_000).unwrap(), 1);
    drop(again);
    Platform::with_store(catalog(), w.p.keys().clone(), w.p.store().clone()).unwrap();
}
