//! Receipts for what is not a query (issue 4, item 3): records added or corrected about a
//! subject, and administrative acts.

mod common;

use common::*;
use credseal_auth::{RevocationList, SigningKey, sign};
use credseal_core::SubjectId;
use credseal_engine::{NoProgress, Platform};
use credseal_log::{Action, Actor, Outcome, ReceiptBody, UnverifiedReceipt};

fn bodies(p: &Platform, subject: &str) -> Vec<ReceiptBody> {
    let blind = p.blind(&SubjectId::parse(subject).unwrap());
    p.subject_receipts(&blind)
        .unwrap()
        .iter()
        .map(|r| UnverifiedReceipt::parse(r).unwrap().peek_unverified().unwrap())
        .collect()
}

/// The subject of the first record line of `class`, and that line.
fn line_of(class: &str) -> (String, String) {
    let line = RECORDS
        .lines()
        .find(|l| l.contains(&format!("\"class\":\"{class}\"")))
        .unwrap()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    (v["subject"].as_str().unwrap().to_string(), line)
}

#[test]
fn ingest_and_admin_acts_leave_receipts() {
    let d = tempfile::tempdir().unwrap();
    let p = platform().with_operator("officer-7");
    let file = write(d.path(), "r.jsonl", RECORDS.as_bytes());
    p.ingest_file(&file, &NoProgress).unwrap();
    let (subject, line) = line_of("loans");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let source = v["source"].as_str().unwrap();

    // One receipt per source department that added records about the subject.
    let rs = bodies(&p, &subject);
    let expected_sources: std::collections::BTreeSet<String> = RECORDS
        .lines()
        .filter(|l| l.contains(&format!("\"subject\":\"{subject}\"")))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["source"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(rs.len(), expected_sources.len(), "{rs:?}");
    let loans = rs
        .iter()
        .find(|r| r.actor == Actor::Source { id: source.into() })
        .expect("a receipt names the loans' source");
    assert_eq!(loans.action, Action::Ingest);
    assert_eq!(loans.outcome, Outcome::Done);
    assert!(loans.classes.contains("loans"), "{loans:?}");
    assert!(loans.detail.ends_with("added"), "{loans:?}");
    // Receipts carry no record content: the detail is a count.
    assert!(!loans.detail.contains(&subject));
    let size = p.log_size().unwrap();
    assert!(size >= 60, "every subject of the file has at least one receipt: {size}");

    // Re-ingesting the same file writes nothing and leaves no receipt.
    p.ingest_file(&file, &NoProgress).unwrap();
    assert_eq!(p.log_size().unwrap(), size);

    // A correction: a new version that supersedes the stored one.
    assert!(line.contains("\"version\":1,"), "{line}");
    let corrected = line.replacen("\"version\":1,", "\"version\":2,\"supersedes\":1,", 1);
    p.ingest_file(&write(d.path(), "c.jsonl", corrected.as_bytes()), &NoProgress)
        .unwrap();
    let rs = bodies(&p, &subject);
    let last = rs.last().unwrap();
    assert_eq!(last.action, Action::Correction, "{last:?}");
    assert_eq!(last.actor, Actor::Source { id: source.into() });
    assert_eq!(last.detail, "1 record corrected");
    assert_eq!(p.log_size().unwrap(), size + 1);

    // Administrative acts: actor is the officer.
    let authority = SigningKey::generate();
    p.set_authority_key(authority.public().as_bytes(), false).unwrap();
    p.register_subject_key(&SubjectId::parse(&subject).unwrap(), &[7; 32], false)
        .unwrap();
    let list = sign(
        &RevocationList {
            version: 1,
            issued_at: credseal_engine::now_unix(),
            audience: p.origin().into(),
            revoked: [(3, 0)].into_iter().collect(),
        },
        &authority,
    )
    .to_text();
    p.install_revocations(&list).unwrap();
    assert_eq!(p.log_size().unwrap(), size + 4);
    // The registration is in the subject's own chain.
    let reg = bodies(&p, &subject).pop().unwrap();
    assert_eq!(reg.action, Action::Admin);
    assert_eq!(reg.actor, Actor::Officer { id: "officer-7".into() });
    assert!(reg.detail.starts_with("register subject key "), "{reg:?}");
    // And the whole log still verifies.
    let report = p.verify_log().unwrap();
    assert_eq!(report.receipts, size + 4);
}
