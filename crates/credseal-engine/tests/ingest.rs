//! Ingest: validation before any write, all errors reported, idempotence, round trips.

mod common;

use common::*;
use credseal_core::{Record, SubjectId};
use credseal_engine::{EngineError, NoProgress};
use credseal_store::Tree;

fn store_snapshot(p: &TestPlatform) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut all = Vec::new();
    for t in Tree::ALL {
        for kv in p.store().scan_prefix(t, &[]) {
            let (k, v) = kv.unwrap();
            let mut key = vec![t.tag()];
            key.extend(k);
            all.push((key, v));
        }
    }
    all
}

fn example_records() -> Vec<Record> {
    let c = catalog();
    RECORDS
        .lines()
        .map(|l| Record::from_json(&serde_json::from_str(l).unwrap(), &c).unwrap())
        .collect()
}

#[test]
fn every_class_round_trips() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    let f = write(d.path(), "r.jsonl", RECORDS.as_bytes());
    let s = p.ingest_file(&f, &NoProgress).unwrap();
    let recs = example_records();
    assert_eq!(s.written as usize, recs.len());
    let mut classes = std::collections::BTreeSet::new();
    for r in &recs {
        let back = common::records(&p, &r.subject, &r.class).unwrap();
        // A query answers each record's current version only: a corrected one is not.
        let superseded = recs
            .iter()
            .any(|n| n.record_id == r.record_id && n.class == r.class && n.version > r.version);
        assert_eq!(
            back.contains(r),
            !superseded,
            "record {} v{} of class {} reads back exactly when it is current",
            r.record_id,
            r.version,
            r.class
        );
        classes.insert(r.class.clone());
    }
    let all: std::collections::BTreeSet<String> = catalog().classes.keys().cloned().collect();
    assert_eq!(classes, all, "the example data covers every class");
    assert_eq!(p.verify_store().unwrap().1 as usize, recs.len());
}

#[test]
fn reingest_identical_file_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    let f = write(d.path(), "r.jsonl", RECORDS.as_bytes());
    p.ingest_file(&f, &NoProgress).unwrap();
    let before = store_snapshot(&p);
    let s = p.ingest_file(&f, &NoProgress).unwrap();
    assert_eq!(s.written, 0);
    assert_eq!(s.unchanged, s.records);
    assert_eq!(store_snapshot(&p), before, "not one byte of the store changed");
}

fn rejected(p: &TestPlatform, content: &[u8]) -> credseal_engine::IngestReport {
    let d = tempfile::tempdir().unwrap();
    let before = store_snapshot(p);
    let f = write(d.path(), "bad.jsonl", content);
    let e = p.ingest_file(&f, &NoProgress).unwrap_err();
    assert_eq!(store_snapshot(p), before, "a rejected file writes nothing");
    match e {
        EngineError::Ingest(r) => *r,
        other => panic!("expected an ingest report, got {other}"),
    }
}

#[test]
fn mixed_bad_lines_all_reported_nothing_written() {
    let p = platform();
    let good: Vec<&str> = RECORDS.lines().take(3).collect();
    let mut content = Vec::new();
    content.extend_from_slice(format!("{}\n", good[0]).as_bytes()); // 1 ok
    content.extend_from_slice(good[1].replacen("\"class\":\"", "\"class\":\"no-such-", 1).as_bytes()); // 2 unknown class
    content.extend_from_slice(b"\n{ not json\n"); // 3
    content.extend_from_slice(b"\xff\xfe invalid utf-8\n"); // 4
    content.extend_from_slice(b"\n"); // 5 blank: fine
    content.extend_from_slice(&vec![b'x'; credseal_engine::MAX_LINE + 10]); // 6 huge
    content.extend_from_slice(b"\n[1,2,3]\n"); // 7
    let bad_id = good[2].replacen("\"subject\":\"", "\"subject\":\"X", 1);
    content.extend_from_slice(format!("{bad_id}\n").as_bytes()); // 8
    content.extend_from_slice(format!("{}\n", good[0]).as_bytes()); // 9 identical duplicate: fine
    let r = rejected(&p, &content);
    let lines: Vec<(u64, &str)> = r.errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        lines,
        [
            (2, "class"),
            (3, "line"),
            (4, "line"),
            (6, "line"),
            (7, "line"),
            (8, "subject")
        ],
        "{r}"
    );
    assert!(r.errors[2].message.contains("UTF-8"));
    assert!(r.errors[3].message.contains("longer than"));
    let text = r.to_string();
    assert!(text.contains("bad.jsonl:2: class: unknown class"), "{text}");
    assert!(text.ends_with("6 errors in 9 lines; nothing was written"), "{text}");
}

#[test]
fn empty_and_blank_files_rejected() {
    let p = platform();
    for content in [&b""[..], b"\n\n  \n"] {
        let r = rejected(&p, content);
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].message.contains("no records"), "{r}");
    }
}

#[test]
fn duplicate_record_id_with_different_content() {
    let p = platform();
    let l = RECORDS.lines().find(|l| l.contains("\"class\":\"loans\"")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
    let cat = catalog();
    let loans = cat.class("loans").unwrap();
    let changed = {
        let f = v["fields"].as_object_mut().unwrap();
        let (_, val) = f
            .iter_mut()
            .find(|(k, _)| loans.field(k).unwrap().ty == credseal_core::FieldType::Text)
            .unwrap();
        let s = val.as_str().unwrap();
        *val = serde_json::Value::String(format!("{}X", &s[..s.len() - 1]));
        v.to_string()
    };
    // Within one file.
    let r = rejected(&p, format!("{l}\n{changed}\n").as_bytes());
    assert_eq!(r.errors.len(), 1);
    assert_eq!((r.errors[0].line, r.errors[0].field.as_str()), (2, "record_id"));
    assert!(r.errors[0].message.contains("line 1"), "{r}");
    // Against the store.
    let d = tempfile::tempdir().unwrap();
    p.ingest_file(&write(d.path(), "a.jsonl", l.as_bytes()), &NoProgress)
        .unwrap();
    let r = rejected(&p, changed.as_bytes());
    assert!(
        r.errors[0].message.contains("already stored with different content"),
        "{r}"
    );
}

#[test]
fn correction_must_supersede_an_existing_version() {
    let p = platform();
    let l = RECORDS
        .lines()
        .find(|l| l.contains("\"class\":\"tax\"") && !l.contains("supersedes"))
        .unwrap();
    let v3 = l.replacen("\"fields\":", "\"version\":3,\"supersedes\":2,\"fields\":", 1);
    let r = rejected(&p, v3.as_bytes());
    assert_eq!(r.errors[0].field, "supersedes");
    let d = tempfile::tempdir().unwrap();
    let v2 = l.replacen("\"fields\":", "\"version\":2,\"supersedes\":1,\"fields\":", 1);
    let s = p
        .ingest_file(
            &write(d.path(), "c.jsonl", format!("{l}\n{v2}\n").as_bytes()),
            &NoProgress,
        )
        .unwrap();
    assert_eq!(s.written, 2);
    let rec: Record = Record::from_json(&serde_json::from_str(l).unwrap(), &catalog()).unwrap();
    let versions: Vec<u32> = common::records(&p, &rec.subject, "tax")
        .unwrap()
        .iter()
        .filter(|r| r.record_id == rec.record_id)
        .map(|r| r.version)
        .collect();
    // Only the current version is ever released; version 1 stays sealed in the store.
    assert_eq!(versions, [2]);
    assert_eq!(p.verify_store().unwrap().1, 2);
}

#[test]
fn errors_never_echo_values() {
    let p = platform();
    let l = RECORDS.lines().next().unwrap();
    let v: serde_json::Value = serde_json::from_str(l).unwrap();
    let subject = v["subject"].as_str().unwrap().to_string();
    // Break the check digit: the error must not contain the id.
    let last = subject.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    let broken = l.replace(&subject, &format!("{}{other}", &subject[..17]));
    let r = rejected(&p, broken.as_bytes());
    assert!(!r.to_string().contains(&subject[..17]), "{r}");
}

#[test]
fn large_file_streams_in_batches() {
    // Many records across batch boundaries, in one file; read back a sample.
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    let f = d.path().join("big.jsonl");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
    let n = credseal_testkit::synthetic::write_synthetic(&catalog(), 1500, &mut w).unwrap();
    drop(w);
    let s = p.ingest_file(&f, &NoProgress).unwrap();
    assert_eq!(s.written, n);
    let subj: SubjectId = credseal_testkit::synthetic::synthetic_subject(1234);
    for class in catalog().classes.keys() {
        assert_eq!(common::records(&p, &subj, class).unwrap().len(), 1);
    }
    let status = p.key_status().unwrap();
    let total: u64 = status.iter().flat_map(|c| c.versions.iter()).map(|v| v.data_keys).sum();
    assert_eq!(
        total, n,
        "one data key per subject and class, each counted under its KEK version"
    );
}
