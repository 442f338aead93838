#![allow(dead_code)]
//! Shared helpers for the engine's tests.

use std::io::Write;
use std::path::Path;

use credseal_core::Catalog;
use credseal_crypto::{KdfParams, Keystore};
use credseal_engine::Platform;

pub const CATALOG: &str = include_str!("../../../../keys-example/catalog.toml");
pub const RECORDS: &str = include_str!("../../../../keys-example/records.jsonl");
pub const FAST: KdfParams = KdfParams {
    m_kib: 1024,
    t: 1,
    p: 1,
};

pub fn catalog() -> Catalog {
    Catalog::parse(CATALOG, None).unwrap()
}

pub fn keystore() -> Keystore {
    let c = catalog();
    let classes: Vec<&str> = c.classes.keys().map(String::as_str).collect();
    Keystore::generate(
        "test.credseal.invalid/log",
        &classes,
        credseal_crypto::sha256(CATALOG.as_bytes()),
        1,
        FAST,
    )
}

/// A platform on an in-memory store, with the store kept beside it: tests that edit or
/// inspect the raw store get it here, not from the platform (which has no accessor).
pub struct TestPlatform {
    pub p: Platform,
    store: std::sync::Arc<dyn credseal_store::Store>,
    keys: Keystore,
}

impl std::fmt::Debug for TestPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.p.fmt(f)
    }
}

impl std::ops::Deref for TestPlatform {
    type Target = Platform;
    fn deref(&self) -> &Platform {
        &self.p
    }
}

impl TestPlatform {
    /// The store the platform was made on.
    pub fn store(&self) -> &std::sync::Arc<dyn credseal_store::Store> {
        &self.store
    }

    /// The test's copy of the keystore the platform was made with (before any rotation).
    pub fn keys(&self) -> &Keystore {
        &self.keys
    }
}

/// A platform on `store` (which the caller made and keeps).
pub fn on_store(
    keys: Keystore,
    store: std::sync::Arc<dyn credseal_store::Store>,
) -> Result<TestPlatform, credseal_engine::EngineError> {
    Ok(TestPlatform {
        p: Platform::with_store(catalog(), keys.clone(), store.clone())?,
        store,
        keys,
    })
}

/// A platform on a new in-memory store.
pub fn in_memory(keys: Keystore) -> TestPlatform {
    on_store(keys, std::sync::Arc::new(credseal_store::MemoryStore::new())).unwrap()
}

pub fn platform() -> TestPlatform {
    in_memory(keystore())
}

pub fn write(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(content).unwrap();
    p
}

/// The session of the officer running the tests' administrative acts.
pub fn op(p: &Platform) -> credseal_engine::StaffSession {
    p.staff_session("operator").unwrap()
}

/// The time now, from the system clock.
pub fn now() -> u64 {
    use credseal_engine::Clock;
    credseal_engine::SystemClock.now().unwrap()
}

/// Every stored record of `subject`'s `class`, read back the only way a platform gives
/// plaintext: through its gate. The subject (a key derived from its id, registered on
/// first use) asks for its own records; the self-query leaves a receipt in its chain.
pub fn records(
    p: &Platform,
    subject: &credseal_core::SubjectId,
    class: &str,
) -> Result<Vec<credseal_core::Record>, credseal_engine::EngineError> {
    use credseal_engine::QueryError;
    let seed = credseal_crypto::sha256(format!("test subject key {subject}").as_bytes());
    let sk = credseal_auth::SigningKey::from_seed(&seed);
    let seal = credseal_crypto::SealingKey::from_bytes(credseal_crypto::sha256(&seed));
    if p.subject_key(subject)? != Some(*sk.public().as_bytes()) {
        p.register_subject_key(&op(p), subject, sk.public().as_bytes(), true)?;
    }
    let t = now();
    let q = credseal_auth::sign(
        &credseal_auth::SelfQuery {
            query_id: credseal_crypto::random_array(),
            subject: subject.to_string(),
            classes: [class.to_string()].into_iter().collect(),
            issued_at: t,
            expires_at: t + 300,
            audience: p.origin().to_string(),
            sealing_key: seal.public().to_bytes(),
        },
        &sk,
    )
    .to_text();
    match p.self_query(&q, t) {
        Ok(a) => {
            let mut recs = a.open(&seal)?.records;
            recs.sort_by(|a, b| (&a.record_id, a.version).cmp(&(&b.record_id, b.version)));
            Ok(recs)
        }
        Err(QueryError::Failed(e)) => Err(e),
        Err(QueryError::Denied(d)) => Err(credseal_engine::EngineError::NotFound(format!(
            "self-query denied: {d}"
        ))),
    }
}

/// `key`'s signed approval (an officer's staff request) of `op` on `p`.
#[allow(dead_code)]
pub fn approval_of(p: &Platform, key: &credseal_auth::SigningKey, op: &credseal_engine::Operation) -> String {
    let now = now();
    credseal_auth::sign(
        &credseal_auth::StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: "officer".into(),
            staff_key: key.public(),
            action: credseal_engine::APPROVE_ACTION.into(),
            input_digest: op.digest(),
            issued_at: now,
            expires_at: now + 300,
            audience: p.origin().into(),
        },
        key,
    )
    .to_text()
}

/// Enrols `pk` as `id` in `role` on `p` as a platform must: two officers approve (named
/// as the first officers, `founder-1` and `founder-2`, if `p` has none yet).
#[allow(dead_code)]
pub fn enroll(p: &Platform, role: credseal_engine::StaffRole, id: &str, pk: &[u8; 32]) {
    let founders = [
        credseal_auth::SigningKey::from_seed(&[0xf1; 32]),
        credseal_auth::SigningKey::from_seed(&[0xf2; 32]),
    ];
    let named: Vec<(String, [u8; 32])> = founders
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("founder-{}", i + 1), *k.public().as_bytes()))
        .collect();
    if p.staff_id(credseal_engine::StaffRole::Officer, &named[0].1)
        .unwrap()
        .is_none()
    {
        p.found_officers(&op(p), &named).unwrap();
    }
    let change = credseal_engine::StaffChange::Enroll {
        role,
        id: id.into(),
        key: *pk,
        replace: false,
    };
    let operation = change.operation();
    let approvals = [
        approval_of(p, &founders[0], &operation),
        approval_of(p, &founders[1], &operation),
    ];
    let approved = p.approve(&operation, &approvals, now()).unwrap();
    p.change_staff(&op(p), &change, &approved).unwrap();
}

/// What a subject's bundle verifier knows: its id and the platform's VRF public key.
#[allow(dead_code)]
pub fn who(p: &credseal_engine::Platform, id: &credseal_core::SubjectId) -> credseal_log::BundleSubject {
    credseal_log::BundleSubject::new(id.clone(), p.vrf_public_key())
}
