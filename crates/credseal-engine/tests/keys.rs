//! The key lifecycle through the library: rotate, rewrap (and resuming it after a
//! failure part-way), retire, re-key, and refusing a keystore rolled back to an older copy.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use credseal_core::{Record, SubjectId};
use credseal_crypto::Passphrase;
use credseal_engine::{Approved, EngineError, InitOptions, KeySource, NoProgress, OpenOptions, Operation, Platform};
use credseal_store::{Batch, KvIter, KvPair, MemoryStore, Store, StoreError, Tree};

const PASS: &str = "keys test passphrase";

/// The two officers of `p` (named as its first officers on the first call).
fn officers(p: &Platform) -> [credseal_auth::SigningKey; 2] {
    let ks = [
        credseal_auth::SigningKey::from_seed(&[0xa0; 32]),
        credseal_auth::SigningKey::from_seed(&[0xa1; 32]),
    ];
    let named: Vec<(String, [u8; 32])> = ks
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("officer-{i}"), *k.public().as_bytes()))
        .collect();
    // Named once, as `init --officer` does.
    if p.staff_id(credseal_engine::StaffRole::Officer, &named[0].1)
        .unwrap()
        .is_none()
    {
        p.found_officers(&common::op(p), &named).unwrap();
    }
    ks
}

/// `key`'s signed approval of `op` on `p`.
fn approval(p: &Platform, key: &credseal_auth::SigningKey, op: &Operation) -> String {
    let now = common::now();
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

/// Two officers' approvals of `op`, checked.
fn approved(p: &Platform, op: &Operation) -> Approved {
    let [a, b] = officers(p);
    p.approve(op, &[approval(p, &a, op), approval(p, &b, op)], common::now())
        .unwrap()
}

/// Every record of the example data, read back through the platform.
fn everything(p: &Platform) -> BTreeMap<(String, String), Vec<Record>> {
    let mut out = BTreeMap::new();
    for line in RECORDS.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let (s, c) = (v["subject"].as_str().unwrap(), v["class"].as_str().unwrap());
        let id = SubjectId::parse(s).unwrap();
        out.insert((s.to_string(), c.to_string()), common::records(p, &id, c).unwrap());
    }
    out
}

fn counts(p: &Platform, class: &str) -> BTreeMap<u32, u64> {
    let st = p.key_status().unwrap();
    let c = st.iter().find(|c| c.class == class).unwrap();
    c.versions.iter().map(|v| (v.version, v.data_keys)).collect()
}

fn on_disk(dir: &std::path::Path) -> Platform {
    Platform::init(&InitOptions {
        dir,
        catalog_text: CATALOG,
        catalog_name: "catalog.toml",
        origin: "test.credseal.invalid/log",
        passphrase: &Passphrase::new(PASS.into()),
        keys: KeySource::Generate(FAST),
        now: 1,
    })
    .unwrap();
    open(dir).unwrap()
}

fn open(dir: &std::path::Path) -> Result<Platform, EngineError> {
    Platform::open(dir, &Passphrase::new(PASS.into()), OpenOptions::default())
}

/// The keystore of the platform in `dir`, read from its file with the passphrase (the
/// platform has no accessor for it).
fn keystore_on_disk(dir: &std::path::Path) -> credseal_crypto::Keystore {
    let bytes = std::fs::read(dir.join(credseal_engine::KEYSTORE_FILE)).unwrap();
    credseal_crypto::Keystore::open(&bytes, &Passphrase::new(PASS.into())).unwrap()
}

/// Runs `f` on the store of the platform in `dir`, opened directly (the platform must be
/// closed: the database is locked while it is open).
fn with_store_on_disk<T>(dir: &std::path::Path, f: impl FnOnce(&dyn Store) -> T) -> T {
    let store = credseal_store::SledStore::open(&dir.join(credseal_engine::DB_DIR), false).unwrap();
    f(&store)
}

#[test]
fn rotate_rewrap_retire_keeps_every_record() {
    let d = tempfile::tempdir().unwrap();
    let p = on_disk(&d.path().join("data"));
    let pass = Passphrase::new(PASS.into());
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let before = everything(&p);
    let loans_keys = counts(&p, "loans")[&1];
    assert!(loans_keys > 0);

    assert_eq!(p.rotate_class(&common::op(&p), "loans", &pass).unwrap(), 2);
    // Old wraps still read; the new version is primary with no data keys yet.
    assert_eq!(everything(&p), before);
    assert_eq!(counts(&p, "loans"), BTreeMap::from([(1, loans_keys), (2, 0)]));
    // Retiring v1 is refused while data keys use it; retiring the primary always is.
    let ok1 = approved(&p, &Operation::retire("loans", 1));
    let e = p.retire_version(&common::op(&p), "loans", 1, &pass, &ok1).unwrap_err();
    // The engine names the cause; the command line adds the hint to run `keys rewrap`.
    assert!(
        matches!(&e, EngineError::KekInUse { class, version: 1, .. } if class == "loans"),
        "{e}"
    );
    let e = e.to_string();
    assert!(e.contains("still use KEK v1"), "{e}");
    let e = p
        .retire_version(
            &common::op(&p),
            "loans",
            2,
            &pass,
            &approved(&p, &Operation::retire("loans", 2)),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("primary"), "{e}");
    // Approvals for another operation do not count.
    let e = p
        .retire_version(&common::op(&p), "loans", 2, &pass, &ok1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the approvals are for"), "{e}");

    let s = p.rewrap(&common::op(&p), &NoProgress).unwrap();
    assert_eq!(s.rewrapped, loans_keys);
    assert_eq!(s.moves, vec![("loans".to_string(), 1, 2, loans_keys)]);
    assert_eq!(counts(&p, "loans"), BTreeMap::from([(1, 0), (2, loans_keys)]));
    assert_eq!(everything(&p), before);
    // Nothing left: a second run does nothing.
    assert_eq!(p.rewrap(&common::op(&p), &NoProgress).unwrap().rewrapped, 0);

    p.retire_version(&common::op(&p), "loans", 1, &pass, &ok1).unwrap();
    assert_eq!(counts(&p, "loans"), BTreeMap::from([(2, loans_keys)]));
    let e = p
        .retire_version(&common::op(&p), "loans", 1, &pass, &ok1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no KEK version 1"), "{e}");
    // The keystore on disk agrees after a reopen, and the store checks clean.
    drop(p);
    let p = open(&d.path().join("data")).unwrap();
    assert_eq!(counts(&p, "loans"), BTreeMap::from([(2, loans_keys)]));
    assert_eq!(everything(&p), before);
    p.verify_store().unwrap();
    // Each event left a receipt; the log verifies.
    let r = p.verify_log().unwrap();
    assert!(r.receipts >= 3);
}

#[test]
fn a_keystore_rolled_back_to_an_older_copy_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("data");
    let p = on_disk(&dir);
    let ks = dir.join(credseal_engine::KEYSTORE_FILE);
    let old = std::fs::read(&ks).unwrap();
    p.rotate_class(&common::op(&p), "identity", &Passphrase::new(PASS.into()))
        .unwrap();
    drop(p);
    std::fs::write(&ks, &old).unwrap();
    match open(&dir) {
        Err(e @ EngineError::KeystoreRollback { .. }) => {
            assert!(e.to_string().contains("generation 1"), "{e}");
            assert!(e.to_string().contains("has seen generation 2"), "{e}");
            assert_eq!(e.class(), credseal_engine::ErrorClass::Verification);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rekey_reencrypts_one_subject_class() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let before = everything(&p);
    let line = RECORDS.lines().find(|l| l.contains("\"class\":\"loans\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let subject = SubjectId::parse(v["subject"].as_str().unwrap()).unwrap();
    let n = p
        .rekey(
            &common::op(&p),
            &subject,
            "loans",
            &approved(&p, &Operation::rekey(&subject, "loans")),
        )
        .unwrap();
    assert!(n >= 1);
    assert_eq!(everything(&p), before);
    p.verify_store().unwrap();
    let e = p
        .rekey(
            &common::op(&p),
            &subject,
            "no-such-class",
            &approved(&p, &Operation::rekey(&subject, "no-such-class")),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("no records of class"), "{e}");
}

/// A store that fails every write after the first `ok` batches.
#[derive(Debug)]
struct Failing {
    inner: MemoryStore,
    ok: AtomicUsize,
}

impl Store for Failing {
    fn get(&self, t: Tree, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(t, k)
    }
    fn contains(&self, t: Tree, k: &[u8]) -> Result<bool, StoreError> {
        self.inner.contains(t, k)
    }
    fn scan_prefix(&self, t: Tree, p: &[u8]) -> KvIter<'_> {
        self.inner.scan_prefix(t, p)
    }
    fn scan_prefix_after(&self, t: Tree, p: &[u8], a: Option<&[u8]>) -> KvIter<'_> {
        self.inner.scan_prefix_after(t, p, a)
    }
    fn last_with_prefix(&self, t: Tree, p: &[u8]) -> Result<Option<KvPair>, StoreError> {
        self.inner.last_with_prefix(t, p)
    }
    fn count_prefix(&self, t: Tree, p: &[u8]) -> Result<u64, StoreError> {
        self.inner.count_prefix(t, p)
    }
    fn apply(&self, b: Batch) -> Result<(), StoreError> {
        if self.ok.load(Ordering::SeqCst) == 0 {
            return Err(StoreError::Io {
                detail: "injected failure".into(),
            });
        }
        self.ok.fetch_sub(1, Ordering::SeqCst);
        self.inner.apply(b)
    }
    fn insert_new(&self, t: Tree, k: &[u8], v: &[u8]) -> Result<bool, StoreError> {
        self.inner.insert_new(t, k, v)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[test]
fn a_rewrap_that_fails_part_way_leaves_everything_readable_and_finishes_when_run_again() {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(Failing {
        inner: MemoryStore::new(),
        ok: AtomicUsize::new(usize::MAX),
    });
    let p = common::on_store(keystore(), store.clone()).unwrap();
    // Enough subjects for several rewrap batches.
    let mut lines = Vec::new();
    credseal_testkit::synthetic::write_synthetic(&catalog(), 1500, &mut lines).unwrap();
    let f = write(d.path(), "t.jsonl", &lines);
    p.ingest_file(&f, &NoProgress).unwrap();
    let before: Vec<_> = (0..1500u64)
        .map(|i| common::records(&p, &credseal_testkit::synthetic::synthetic_subject(i), "identity").unwrap())
        .collect();
    for class in ["identity", "loans"] {
        p.rotate_class(
            &common::op(&p),
            class,
            &Passphrase::new("unused for a store in memory".into()),
        )
        .unwrap();
    }
    // With key trees a class moves in one write (its root, with its counters): the first
    // class's write gets through, then the store fails.
    store.ok.store(1, Ordering::SeqCst);
    assert!(p.rewrap(&common::op(&p), &NoProgress).is_err());
    store.ok.store(usize::MAX, Ordering::SeqCst);
    assert_eq!(counts(&p, "identity"), BTreeMap::from([(1, 0), (2, 1500)]));
    let c = counts(&p, "loans");
    assert_eq!(c, BTreeMap::from([(1, 1500), (2, 0)]), "part-way");
    let mid: Vec<_> = (0..1500u64)
        .map(|i| common::records(&p, &credseal_testkit::synthetic::synthetic_subject(i), "identity").unwrap())
        .collect();
    assert_eq!(mid, before);
    let s = p.rewrap(&common::op(&p), &NoProgress).unwrap();
    assert_eq!(s.rewrapped, c[&1]);
    assert_eq!(counts(&p, "loans"), BTreeMap::from([(1, 0), (2, 1500)]));
    p.verify_store().unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

#[test]
fn a_shredded_record_cannot_be_recovered_from_an_earlier_copy_with_the_later_keystore() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("data");
    let pass = Passphrase::new(PASS.into());
    let p = on_disk(&dir);
    let file = write(d.path(), "r.jsonl", RECORDS.as_bytes());
    p.ingest_file(&file, &NoProgress).unwrap();
    let before = everything(&p);
    drop(p);
    // The copy an attacker kept: database and keystore as they were.
    copy_dir(&dir, &d.path().join("before"));

    let line = RECORDS.lines().find(|l| l.contains("\"class\":\"loans\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let (subject, record_id) = (v["subject"].as_str().unwrap(), v["record_id"].as_str().unwrap());
    let id = SubjectId::parse(subject).unwrap();
    let p = open(&dir).unwrap();
    let authority = credseal_auth::SigningKey::generate();
    p.set_authority_key(&common::op(&p), authority.public().as_bytes(), false)
        .unwrap();
    let order = p
        .check_shred_order(&shred_order(&p, &authority, &id, "loans", record_id, "CR-2026-0001"))
        .unwrap();
    let s = p
        .shred_by_order(&common::op(&p), &order, &pass, &approved(&p, &order.operation()))
        .unwrap();
    assert_eq!((s.records, s.subjects), (1, 1));
    assert_eq!(s.classes.len(), 1);
    assert_eq!(s.classes[0].0, "loans");
    assert_eq!(s.classes[0].1, vec![1], "the old KEK version is destroyed");
    // Live: exactly that record is gone; everything else reads as before.
    for ((sub, class), recs) in &before {
        let now = common::records(&p, &SubjectId::parse(sub).unwrap(), class).unwrap();
        if sub == subject && class == "loans" {
            let kept: Vec<_> = recs.iter().filter(|r| r.record_id != record_id).cloned().collect();
            assert_eq!(now, kept);
            assert!(now.len() < recs.len());
        } else {
            assert_eq!(&now, recs, "{sub} {class}");
        }
    }
    p.verify_store().unwrap();
    // The subject's chain says what was removed and why.
    let blind = p.blind(&id).unwrap();
    let last = newest_not_read_back(&p, &blind);
    let body = credseal_log::UnverifiedReceipt::parse(&last)
        .unwrap()
        .peek_unverified()
        .unwrap();
    assert_eq!(body.action, credseal_log::Action::Shred);
    assert!(body.detail.contains("credit repair: order CR-2026-0001"), "{body:?}");
    // Twice (the same order, or another order for the record), or a record that does not
    // exist: refused when the order is checked, before any officer approves.
    for reference in ["CR-2026-0001", "CR-2026-0002"] {
        let e = p
            .check_shred_order(&shred_order(&p, &authority, &id, "loans", record_id, reference))
            .unwrap_err();
        assert!(e.to_string().contains("already shredded"), "{e}");
    }
    let e = p
        .check_shred_order(&shred_order(&p, &authority, &id, "loans", "LN-NOPE", "x"))
        .unwrap_err();
    assert!(e.to_string().contains("no record"), "{e}");
    // The same checked order, carried out again (its approvals are spent too): refused.
    let e = p
        .shred_by_order(&common::op(&p), &order, &pass, &approved(&p, &order.operation()))
        .unwrap_err();
    assert!(e.to_string().contains("already shredded"), "{e}");
    // Re-ingesting it is refused.
    match p.ingest_file(&write(d.path(), "again.jsonl", line.as_bytes()), &NoProgress) {
        Err(EngineError::Ingest(r)) => {
            assert!(r.errors[0].message.contains("was shredded"), "{:?}", r.errors);
        }
        other => panic!("{other:?}"),
    }
    drop(p);

    // The attack: the earlier database with the later keystore.
    let attack = d.path().join("before");
    std::fs::copy(
        dir.join(credseal_engine::KEYSTORE_FILE),
        attack.join(credseal_engine::KEYSTORE_FILE),
    )
    .unwrap();
    // Refused at open: the earlier database committed a lower keystore generation, and no
    // key change of its own wrote the later keystore (K1).
    let e = open(&attack).unwrap_err().to_string();
    assert!(e.contains("keystore generation"), "{e}");
    // And past that check (database and keystore put together in memory, where there is no
    // keystore file to check), the destroyed KEK still opens nothing.
    let store: std::sync::Arc<dyn Store> =
        std::sync::Arc::new(credseal_store::SledStore::open(&attack.join(credseal_engine::DB_DIR), false).unwrap());
    let a = common::on_store(keystore_on_disk(&attack), store).unwrap();
    let e = common::records(&a, &id, "loans").unwrap_err().to_string();
    assert!(e.contains("v1") || e.contains("version 1"), "{e}");
    // Not just this subject: no data key of the class in the earlier copy opens any more.
    let other = before.keys().find(|(s, c)| s != subject && c == "loans").unwrap();
    assert!(common::records(&a, &SubjectId::parse(&other.0).unwrap(), "loans").is_err());
}

#[test]
fn the_retention_sweep_shreds_only_expired_records() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let before = everything(&p);
    let pass = Passphrase::new("unused in memory".into());
    // Nothing is past its retention today.
    let today = credseal_core::Date::from_unix(common::now()).unwrap();
    let s = p
        .shred_expired(
            &common::op(&p),
            today,
            &pass,
            &approved(&p, &Operation::shred_expired(today)),
        )
        .unwrap();
    assert_eq!(s.records, 0, "{s:?}");
    assert_eq!(everything(&p), before);
    // In 2200 everything kept for a limited time has expired; identity is kept permanently.
    let later = credseal_core::Date::new(2200, 1, 1).unwrap();
    let s = p
        .shred_expired(
            &common::op(&p),
            later,
            &pass,
            &approved(&p, &Operation::shred_expired(later)),
        )
        .unwrap();
    assert!(s.records > 0);
    for ((sub, class), recs) in &before {
        let now = common::records(&p, &SubjectId::parse(sub).unwrap(), class).unwrap();
        if class == "identity" {
            assert_eq!(&now, recs);
        } else {
            assert!(now.is_empty(), "{sub} {class}: {now:?}");
        }
    }
    p.verify_store().unwrap();
    p.verify_log().unwrap();
}

#[test]
fn destructive_operations_need_two_different_officers() {
    let p = platform();
    let op = Operation::retire("loans", 1);
    let [a, b] = officers(&p);
    let now = common::now();
    // One officer alone, or the same officer twice: refused (exit 3).
    let e = p.approve(&op, &[approval(&p, &a, &op)], now).unwrap_err();
    assert!(
        e.to_string().contains("two different enrolled officers (1 given)"),
        "{e}"
    );
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    let e = p
        .approve(&op, &[approval(&p, &a, &op), approval(&p, &a, &op)], now)
        .unwrap_err();
    assert!(e.to_string().contains("same officer (officer-0)"), "{e}");
    // An approval of another operation.
    let other = Operation::retire("loans", 2);
    let e = p
        .approve(&op, &[approval(&p, &a, &op), approval(&p, &b, &other)], now)
        .unwrap_err();
    assert!(e.to_string().contains("another input"), "{e}");
    // A key that is not an enrolled officer.
    let stranger = credseal_auth::SigningKey::generate();
    let e = p
        .approve(&op, &[approval(&p, &a, &op), approval(&p, &stranger, &op)], now)
        .unwrap_err();
    assert!(
        e.to_string().contains("not enrolled as a officer") || e.to_string().contains("not enrolled"),
        "{e}"
    );
    // A replayed approval: checking spends nothing, a refused operation spends nothing
    // (loans v1 is the primary version: retiring it is refused), the operation that runs
    // spends them, and then they are refused.
    let (x, y) = (approval(&p, &a, &op), approval(&p, &b, &op));
    let ok = p.approve(&op, &[x.clone(), y.clone()], now).unwrap();
    assert_eq!(ok.officers(), ["officer-0", "officer-1"]);
    let pass = Passphrase::new(PASS.into());
    let refused = p.retire_version(&common::op(&p), "loans", 1, &pass, &ok).unwrap_err();
    assert!(refused.to_string().contains("primary"), "{refused}");
    let responder = credseal_engine::StaffChange::Enroll {
        role: credseal_engine::StaffRole::Responder,
        id: "resp-1".into(),
        key: *credseal_auth::SigningKey::generate().public().as_bytes(),
        replace: false,
    };
    let enroll = responder.operation();
    let ok = p
        .approve(&enroll, &[approval(&p, &a, &enroll), approval(&p, &b, &enroll)], now)
        .unwrap();
    let change = credseal_engine::StaffChange::Remove {
        role: credseal_engine::StaffRole::Officer,
        id: "officer-1".into(),
    };
    let remove = change.operation();
    let approved = p
        .approve(&remove, &[approval(&p, &a, &remove), approval(&p, &b, &remove)], now)
        .unwrap();
    // Removing officer-1 (approved by officer-1 too) takes effect at once: its approval of
    // the retirement no longer counts.
    p.change_staff(&common::op(&p), &change, &approved).unwrap();
    let e = p.change_staff(&common::op(&p), &responder, &ok).unwrap_err();
    assert!(e.to_string().contains("no longer enrolled"), "{e}");
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    assert_eq!(
        p.staff_id(
            credseal_engine::StaffRole::Responder,
            match &responder {
                credseal_engine::StaffChange::Enroll { key, .. } => key,
                _ => unreachable!(),
            }
        )
        .unwrap(),
        None
    );
    let e = p.approve(&op, &[x, y], now).unwrap_err();
    assert!(e.to_string().contains("not enrolled"), "{e}");
    // The removal's approvals were spent.
    let e = p.approve(&remove, &[approval(&p, &a, &remove)], now).unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
}

// ------------------------------------------------------------------ the log key (item 5)

/// The first subject of the example data and its BlindId.
fn first_subject(p: &Platform) -> (SubjectId, credseal_core::BlindId) {
    let v: serde_json::Value = serde_json::from_str(RECORDS.lines().next().unwrap()).unwrap();
    let id = SubjectId::parse(v["subject"].as_str().unwrap()).unwrap();
    let blind = p.blind(&id).unwrap();
    (id, blind)
}

/// The subject's newest receipt other than those of the test's own read-backs (each
/// [`common::records`] is a self-query and leaves one).
fn newest_not_read_back(p: &Platform, blind: &credseal_core::BlindId) -> Vec<u8> {
    p.subject_receipts(blind)
        .unwrap()
        .into_iter()
        .rev()
        .find(|r| {
            credseal_log::UnverifiedReceipt::parse(r)
                .unwrap()
                .peek_unverified()
                .unwrap()
                .action
                != credseal_log::Action::SelfQuery
        })
        .unwrap()
}

/// A platform on disk with the example data ingested, and the log key its subjects pinned.
fn rotatable(dir: &std::path::Path) -> (Platform, credseal_log::LogVerifier) {
    let p = on_disk(&dir.join("data"));
    p.ingest_file(&write(dir, "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let pinned = credseal_log::LogVerifier::from_vkey(&p.log_vkey().unwrap()).unwrap();
    // The officers are named before the tests count the log.
    officers(&p);
    (p, pinned)
}

#[test]
fn log_key_rotation_then_query_bundle_verifies_with_the_originally_pinned_key() {
    let d = tempfile::tempdir().unwrap();
    let (p, pinned) = rotatable(d.path());
    let pass = Passphrase::new(PASS.into());
    let now = common::now();
    let (id, _) = first_subject(&p);
    // The subject verifies once before the rotation and keeps its state.
    let b1 = p.export_bundle(&id, None, now).unwrap();
    let s1 = credseal_log::verify_bundle(&b1, &pinned, &common::who(&p, &id), None, now)
        .unwrap()
        .into_new_state();
    let data = d.path().join("data");
    let old_seed = *keystore_on_disk(&data).log_seed().unwrap().expose_secret();
    // Enrolling the approving officers leaves receipts: the size is taken after them.
    let ok = approved(&p, &Operation::rotate_log_key(pinned.key_id()));
    let from = p.log_size().unwrap();
    let rot = p.rotate_log_key(&common::op(&p), &pass, &ok).unwrap();
    assert_eq!(rot.from_size, from);
    assert_eq!(rot.old_vkey, pinned.vkey());
    assert_eq!(rot.officers, ["officer-0", "officer-1"]);
    // Subjects keep pinning the original key; new checkpoints are the new key's.
    assert_eq!(p.log_vkey().unwrap(), pinned.vkey());
    assert_eq!(p.log_current_vkey().unwrap(), rot.new_vkey);
    assert_ne!(keystore_on_disk(&data).log_seed().unwrap().expose_secret(), &old_seed);
    let new = credseal_log::LogVerifier::from_vkey(&rot.new_vkey).unwrap();
    new.verify_checkpoint(&p.latest_checkpoint().unwrap().unwrap())
        .expect("a plain C2SP verifier with the new key accepts the new checkpoint");
    // The rotation is a receipt, the new key's first, naming both officers.
    drop(p);
    let leaf = with_store_on_disk(&data, |s| {
        s.get(credseal_store::Tree::LogLeaves, &from.to_be_bytes())
            .unwrap()
            .unwrap()
    });
    let p = open(&data).unwrap();
    let r = new.verify_receipt(&leaf).unwrap();
    assert_eq!(r.body().action, credseal_log::Action::KeyEvent);
    assert!(
        r.body().detail.contains("log key rotated") && r.body().detail.contains("approved by officer-0, officer-1"),
        "{}",
        r.body().detail
    );
    assert!(pinned.verify_receipt(&leaf).is_err());

    // A query after the rotation: its receipt is signed by the new key; the subject's
    // bundle verifies with the originally pinned key, old receipts and new.
    let granted = query_as_bank(&p, &id);
    let b2 = p.export_bundle(&id, Some(s1.tree_size()), now).unwrap();
    assert_eq!(b2.handovers, vec![rot.handover.clone()]);
    let v = credseal_log::verify_bundle(&b2, &pinned, &common::who(&p, &id), Some(&s1), now).unwrap();
    assert_eq!(v.new_receipts().len(), 1);
    assert_eq!(v.new_receipts()[0].index(), granted);
    assert_eq!(v.receipts().len(), b1.entries.len() + 1);
    assert_eq!(v.new_state().handovers(), 1);
    assert_eq!(v.new_state().log_key(), rot.new_vkey);
    // The auditor's replay passes across the rotation.
    let report = p.verify_log().unwrap();
    assert_eq!(report.size, p.log_size().unwrap());

    // On disk: the history survives a reopen; the retired key is in no keystore any more.
    drop(p);
    let p = open(&d.path().join("data")).unwrap();
    let st = p.log_key_status().unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!((st[0].from, st[0].until, st[0].current), (0, Some(from), false));
    assert_eq!((st[1].from, st[1].until, st[1].current), (from, None, true));
    assert_eq!(st[1].vkey, rot.new_vkey);
    assert_ne!(keystore_on_disk(&data).log_seed().unwrap().expose_secret(), &old_seed);
    p.verify_log().unwrap();
}

/// The tiles of a log whose key was rotated: the export publishes the key history beside
/// them, and an auditor with the originally pinned key follows it across the rotation —
/// in one run, and in a monitor's rounds before and after. Without the history, or with a
/// history that drops the handover, the new key's receipts do not verify.
#[test]
fn tiles_of_a_rotated_log_verify_with_the_originally_pinned_key() {
    struct Dir(std::path::PathBuf);
    impl credseal_engine::TileSource for Dir {
        fn fetch(&self, path: &str) -> credseal_engine::Result<Option<Vec<u8>>> {
            match std::fs::read(self.0.join(path)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => panic!("{path}: {e}"),
            }
        }
        fn name(&self, path: &str) -> String {
            path.to_string()
        }
    }
    let d = tempfile::tempdir().unwrap();
    let (p, pinned) = rotatable(d.path());
    let pass = Passphrase::new(PASS.into());
    let (id, _) = first_subject(&p);
    let before = Dir(d.path().join("before"));
    p.export_tiles(&before.0).unwrap();
    let (monitor, r) = credseal_engine::TileAuditor::new(&pinned.vkey(), None)
        .unwrap()
        .advance(&before)
        .unwrap();
    assert_eq!(r.size, p.log_size().unwrap());
    assert_eq!(std::fs::read(before.0.join("key-history")).unwrap(), b"");

    let ok = approved(&p, &Operation::rotate_log_key(pinned.key_id()));
    let rot = p.rotate_log_key(&common::op(&p), &pass, &ok).unwrap();
    query_as_bank(&p, &id);
    let after = Dir(d.path().join("after"));
    p.export_tiles(&after.0).unwrap();
    let size = p.log_size().unwrap();
    assert!(size > rot.from_size);
    let (report, _) = credseal_engine::audit_tiles(&after, &pinned.vkey(), None).unwrap();
    assert_eq!(report.size, size);
    // The monitor that verified the log before the rotation continues across it.
    let (_, r) = monitor.advance(&after).unwrap();
    assert_eq!(
        (r.size, r.receipts),
        (size, size - rot.from_size + (rot.from_size - r.from))
    );

    // Without the history, the first receipt of the new key fails.
    std::fs::remove_file(after.0.join("key-history")).unwrap();
    let e = credseal_engine::audit_tiles(&after, &pinned.vkey(), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checkpoint") || e.contains(&format!("receipt {}", rot.from_size)),
        "{e}"
    );
    // A history that is not the log's (a handover signed by another key) fails on its own.
    std::fs::write(
        after.0.join("key-history"),
        rot.handover.replace("credseal log key handover", "x"),
    )
    .unwrap();
    let e = credseal_engine::audit_tiles(&after, &pinned.vkey(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("key-history"), "{e}");
}

/// A granted query of `id`'s identity class by a freshly credentialled bank; its receipt's index.
fn query_as_bank(p: &Platform, id: &SubjectId) -> u64 {
    let authority = credseal_auth::SigningKey::generate();
    p.set_authority_key(&common::op(p), authority.public().as_bytes(), true)
        .unwrap();
    let dept = credseal_auth::SigningKey::generate();
    let now = common::now();
    let seal = credseal_crypto::SealingKey::generate();
    let seal_pk = seal.public().to_bytes();
    let cred = credseal_auth::sign(
        &credseal_auth::Credential {
            serial: 1,
            department_id: "bank-a".into(),
            department_name: "Bank A".into(),
            signing_key: dept.public(),
            sealing_key: seal_pk,
            classes: ["identity".to_string()].into(),
            purposes: ["loan-approval".to_string()].into(),
            not_before: now - 60,
            not_after: now + 3600,
            audience: p.origin().into(),
        },
        &authority,
    );
    let token = credseal_auth::sign(
        &credseal_auth::Token {
            query_id: credseal_crypto::random_array(),
            credential_serial: 1,
            subject: id.to_string(),
            classes: ["identity".to_string()].into(),
            purpose: "loan-approval".into(),
            legal_basis: "test".into(),
            issued_at: now,
            expires_at: now + 300,
            audience: p.origin().into(),
            consent: None,
        },
        &dept,
    );
    let answer = p.query(&cred.to_text(), &token.to_text(), now).unwrap();
    credseal_log::UnverifiedReceipt::parse(&answer.receipt)
        .unwrap()
        .peek_unverified()
        .unwrap()
        .index
}

#[test]
fn log_key_rotation_a_checkpoint_signed_by_the_retired_key_beyond_its_end_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let (p, pinned) = rotatable(d.path());
    let pass = Passphrase::new(PASS.into());
    let now = common::now();
    let (id, _) = first_subject(&p);
    // Someone kept a copy of the old log key before it was destroyed.
    let data = d.path().join("data");
    let stolen =
        credseal_log::LogSigner::from_seed(p.origin(), keystore_on_disk(&data).log_seed().unwrap().expose_secret())
            .unwrap();
    // Enrolling the approving officers leaves receipts: the size is taken after them.
    let ok = approved(&p, &Operation::rotate_log_key(pinned.key_id()));
    let from = p.log_size().unwrap();
    p.rotate_log_key(&common::op(&p), &pass, &ok).unwrap();
    query_as_bank(&p, &id);
    let size = p.log_size().unwrap();
    let honest = p.latest_checkpoint().unwrap().unwrap();
    let body = credseal_c2sp::SignedNote::parse(&honest).unwrap().text().to_string();
    let forged = stolen.sign_checkpoint(&credseal_log::Checkpoint::parse(&body).unwrap());

    // The subject's verifier refuses it, naming the key and its end.
    let mut b = p.export_bundle(&id, None, now).unwrap();
    b.checkpoint = forged.clone();
    assert_eq!(
        credseal_log::verify_bundle(&b, &pinned, &common::who(&p, &id), None, now).unwrap_err(),
        credseal_log::BundleError::CheckpointSignedByRetiredKey {
            size,
            key_id: pinned.key_id(),
            end: from,
        }
    );
    // So does the platform when the forged checkpoint replaces the stored one: opening
    // verifies the latest checkpoint (it commits to the trust state) and refuses it.
    let put = |cp: String| {
        let mut batch = credseal_store::Batch::new();
        batch.put(
            credseal_store::Tree::Checkpoints,
            size.to_be_bytes().to_vec(),
            cp.into_bytes(),
        );
        batch
    };
    drop(p);
    with_store_on_disk(&data, |s| s.apply(put(forged)).unwrap());
    let e = open(&data).unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Verification);
    assert!(e.to_string().contains(&format!("checkpoint {size}")), "{e}");
    assert!(e.to_string().contains("retired at tree size"), "{e}");
    with_store_on_disk(&data, |s| s.apply(put(honest)).unwrap());
    // And a receipt the stolen key signs after its end (a forged leaf) is caught too.
    let leaf = with_store_on_disk(&data, |s| {
        s.get(credseal_store::Tree::LogLeaves, &(size - 1).to_be_bytes())
            .unwrap()
            .unwrap()
    });
    let p = open(&data).unwrap();
    let mut body = credseal_log::UnverifiedReceipt::parse(&leaf)
        .unwrap()
        .peek_unverified()
        .unwrap();
    body.detail = "forged".into();
    let history = p.log_key_history().unwrap();
    assert!(matches!(
        history.verify_receipt(stolen.sign_receipt(&body).unwrap().as_bytes()),
        Err(credseal_log::VerifyError::RetiredKey { end, at, .. }) if end == from && at == size - 1
    ));
}

#[test]
fn log_key_rotation_needs_two_officers_and_the_retired_key_cannot_come_back() {
    let d = tempfile::tempdir().unwrap();
    let (p, pinned) = rotatable(d.path());
    let pass = Passphrase::new(PASS.into());
    let op = Operation::rotate_log_key(pinned.key_id());
    assert_eq!(op.text(), format!("rotate log key {:08x}", pinned.key_id()));
    let [a, b] = officers(&p);
    let now = common::now();
    let e = p.approve(&op, &[approval(&p, &a, &op)], now).unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    // Approvals of another rotation (another key id) do not rotate this key.
    let other = Operation::rotate_log_key(pinned.key_id() ^ 1);
    let wrong = p
        .approve(&other, &[approval(&p, &a, &other), approval(&p, &b, &other)], now)
        .unwrap();
    let e = p.rotate_log_key(&common::op(&p), &pass, &wrong).unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    assert_eq!(p.log_key_status().unwrap().len(), 1);
    // Rotated; then the keystore from before is put back: refused (its generation is older).
    let ks = d.path().join("data").join(credseal_engine::KEYSTORE_FILE);
    let before = std::fs::read(&ks).unwrap();
    let ok = p
        .approve(&op, &[approval(&p, &a, &op), approval(&p, &b, &op)], now)
        .unwrap();
    p.rotate_log_key(&common::op(&p), &pass, &ok).unwrap();
    // The same approvals cannot rotate the new key (they name the old key id).
    let again = p.rotate_log_key(&common::op(&p), &pass, &ok).unwrap_err();
    assert_eq!(again.class(), credseal_engine::ErrorClass::Denied);
    drop(p);
    std::fs::write(&ks, &before).unwrap();
    assert!(matches!(
        open(&d.path().join("data")),
        Err(EngineError::KeystoreRollback { .. })
    ));
}

/// A credit-repair order for `p`, signed by `authority`.
fn shred_order(
    p: &Platform,
    authority: &credseal_auth::SigningKey,
    id: &SubjectId,
    class: &str,
    record_id: &str,
    reference: &str,
) -> String {
    credseal_auth::sign(
        &credseal_auth::ShredOrder {
            reference: reference.into(),
            subject: id.to_string(),
            class: class.into(),
            record_id: record_id.into(),
            issued_at: common::now(),
            audience: p.origin().into(),
        },
        authority,
    )
    .to_text()
}

#[test]
fn shred_order_forged_by_another_key_tampered_or_for_another_platform_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let (p, _) = rotatable(d.path());
    let pass = Passphrase::new(PASS.into());
    let authority = credseal_auth::SigningKey::generate();
    // No trusted authority yet: nothing to check an order against.
    let (id, _) = first_subject(&p);
    let record = RECORDS
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["subject"] == id.as_str())
        .unwrap();
    let (class, record_id) = (record["class"].as_str().unwrap(), record["record_id"].as_str().unwrap());
    let good = shred_order(&p, &authority, &id, class, record_id, "CR-9");
    assert!(p.check_shred_order(&good).is_err());
    p.set_authority_key(&common::op(&p), authority.public().as_bytes(), false)
        .unwrap();
    // Signed by another key (here a department's): a forgery, exit 4.
    let other = credseal_auth::SigningKey::generate();
    let e = p
        .check_shred_order(&shred_order(&p, &other, &id, class, record_id, "CR-9"))
        .unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Verification);
    assert!(e.to_string().contains("not signed by the trusted authority"), "{e}");
    // Tampered: the record id changed after signing (a bit of the base64 payload flipped
    // until it still decodes).
    let mut tampered = None;
    for i in 20..good.len() {
        let mut b = good.clone().into_bytes();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(b).unwrap();
        if let Err(e) = p.check_shred_order(&t) {
            tampered = Some(e);
            break;
        }
    }
    assert_eq!(tampered.unwrap().class(), credseal_engine::ErrorClass::Verification);
    // For another platform: denied, exit 3.
    let elsewhere = credseal_auth::sign(
        &credseal_auth::ShredOrder {
            reference: "CR-9".into(),
            subject: id.to_string(),
            class: class.into(),
            record_id: record_id.into(),
            issued_at: common::now(),
            audience: "another.platform.invalid/log".into(),
        },
        &authority,
    )
    .to_text();
    let e = p.check_shred_order(&elsewhere).unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    // A token is not an order.
    assert!(p.check_shred_order("cs1.token.AAAA").is_err());
    // Approvals of another order's operation do not carry out this one.
    let order = p.check_shred_order(&good).unwrap();
    assert_eq!(
        order.operation().text(),
        format!("shred {id} {class} {record_id} order CR-9")
    );
    let other_op = Operation::shred_record(&id, class, record_id, "CR-10");
    let e = p
        .shred_by_order(&common::op(&p), &order, &pass, &approved(&p, &other_op))
        .unwrap_err();
    assert_eq!(e.class(), credseal_engine::ErrorClass::Denied);
    let s = p
        .shred_by_order(&common::op(&p), &order, &pass, &approved(&p, &order.operation()))
        .unwrap();
    assert!(s.records >= 1);
}

#[test]
fn a_shredded_record_is_ingested_again_only_when_explicitly_allowed() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    let officer = p.staff_session("officer-x").unwrap();
    let pass = Passphrase::new(PASS.into());
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let line = RECORDS.lines().find(|l| l.contains("\"class\":\"loans\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let id = SubjectId::parse(v["subject"].as_str().unwrap()).unwrap();
    let record_id = v["record_id"].as_str().unwrap();
    let authority = credseal_auth::SigningKey::generate();
    p.set_authority_key(&officer, authority.public().as_bytes(), false)
        .unwrap();
    let order = p
        .check_shred_order(&shred_order(&p, &authority, &id, "loans", record_id, "CR-1"))
        .unwrap();
    p.shred_by_order(&officer, &order, &pass, &approved(&p, &order.operation()))
        .unwrap();
    let gone = common::records(&p, &id, "loans").unwrap();
    assert!(gone.iter().all(|r| r.record_id != record_id));
    let again = write(d.path(), "again.jsonl", line.as_bytes());
    let size = p.log_size().unwrap();

    // Not allowed (the default): refused, nothing written, the message says how to allow it.
    match p.ingest_file(&again, &NoProgress) {
        Err(EngineError::Ingest(r)) => {
            assert!(r.errors[0].message.contains("was shredded"), "{:?}", r.errors);
            assert!(r.errors[0].message.contains("--allow-shredded"), "{:?}", r.errors);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.log_size().unwrap(), size);
    assert_eq!(common::records(&p, &id, "loans").unwrap(), gone);

    // Explicitly allowed: written, and the subject's receipt says so and who allowed it.
    let s = p
        .ingest_file_with(
            &officer,
            &again,
            &NoProgress,
            credseal_engine::IngestOptions { allow_shredded: true },
        )
        .unwrap();
    assert_eq!((s.written, s.reingested_shredded), (1, 1));
    assert!(
        common::records(&p, &id, "loans")
            .unwrap()
            .iter()
            .any(|r| r.record_id == record_id)
    );
    let last = newest_not_read_back(&p, &p.blind(&id).unwrap());
    let body = credseal_log::UnverifiedReceipt::parse(&last)
        .unwrap()
        .peek_unverified()
        .unwrap();
    assert_eq!(body.action, credseal_log::Action::Ingest);
    assert!(
        body.detail.contains(
            "1 of them had been shredded and were ingested again on an explicit --allow-shredded by officer-x"
        ),
        "{}",
        body.detail
    );
    // The record is live again: its tombstone is gone, so a new order can shred it, and a
    // plain re-ingest of the same line finds it stored.
    let s = p.ingest_file(&again, &NoProgress).unwrap();
    assert_eq!((s.written, s.unchanged), (0, 1));
    assert!(
        p.check_shred_order(&shred_order(&p, &authority, &id, "loans", record_id, "CR-2"))
            .is_ok()
    );
    // Records that were never shredded are not counted as re-ingested.
    let s = p
        .ingest_file_with(
            &officer,
            &write(d.path(), "new.jsonl", line.replace(record_id, "LN-NEW-1").as_bytes()),
            &NoProgress,
            credseal_engine::IngestOptions { allow_shredded: true },
        )
        .unwrap();
    assert_eq!((s.written, s.reingested_shredded), (1, 0));
    p.verify_store().unwrap();
    p.verify_log().unwrap();
}
