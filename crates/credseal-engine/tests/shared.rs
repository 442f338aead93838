//! One platform shared between threads: `Platform` is `Send + Sync` and every public
//! operation takes `&self`, administrative ones (key rotation, rewrap) included.

mod common;

use std::sync::Arc;

use common::*;
use credseal_core::SubjectId;
use credseal_engine::{NoProgress, Platform};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn platform_is_send_and_sync_and_serves_two_threads_through_an_arc() {
    assert_send_sync::<Platform>();
    let d = tempfile::tempdir().unwrap();
    let p = Arc::new(platform().p);
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let line = RECORDS.lines().find(|l| l.contains("\"class\":\"loans\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let id = SubjectId::parse(v["subject"].as_str().unwrap()).unwrap();
    let before = records(&p, &id, "loans").unwrap();
    assert!(!before.is_empty());

    // One thread rotates and rewraps the class's key while the other reads the subject's
    // records through the gate, again and again.
    let admin = {
        let p = Arc::clone(&p);
        std::thread::spawn(move || {
            let officer = p.staff_session("officer-a").unwrap();
            let pass = credseal_crypto::Passphrase::new("unused: in memory".into());
            let mut versions = Vec::new();
            for _ in 0..3 {
                versions.push(p.rotate_class(&officer, "loans", &pass).unwrap());
                p.rewrap(&officer, &NoProgress).unwrap();
            }
            versions
        })
    };
    let reader = {
        let p = Arc::clone(&p);
        let id = id.clone();
        std::thread::spawn(move || (0..10).map(|_| records(&p, &id, "loans").unwrap()).collect::<Vec<_>>())
    };
    assert_eq!(admin.join().unwrap(), vec![2, 3, 4]);
    for read in reader.join().unwrap() {
        assert_eq!(read, before, "every read during the rotations sees the same records");
    }
    assert_eq!(records(&p, &id, "loans").unwrap(), before);
    p.verify_store().unwrap();
}
