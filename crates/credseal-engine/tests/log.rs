//! Receipts for what is not a query: records added or corrected about a
//! subject, and administrative acts.

mod common;

use common::*;
use credseal_auth::{RevocationList, SigningKey, sign};
use credseal_core::SubjectId;
use credseal_engine::NoProgress;
use credseal_log::{Action, Actor, MapCheckpoint as _, Outcome, ReceiptBody, UnverifiedReceipt};

fn bodies(p: &TestPlatform, subject: &str) -> Vec<ReceiptBody> {
    let blind = p.blind(&SubjectId::parse(subject).unwrap()).unwrap();
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
    let p = platform();
    let officer = p.staff_session("officer-7").unwrap();
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
    // An unsigned file is an operator import, and its receipts say so.
    assert!(
        loans
            .detail
            .ends_with("added; unsigned, an operator import by officer operator"),
        "{loans:?}"
    );
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
    assert_eq!(
        last.detail,
        "1 record corrected; unsigned, an operator import by officer operator"
    );
    assert_eq!(p.log_size().unwrap(), size + 1);

    // Administrative acts: actor is the officer.
    let authority = SigningKey::generate();
    p.set_authority_key(&officer, authority.public().as_bytes(), false)
        .unwrap();
    p.register_subject_key(&officer, &SubjectId::parse(&subject).unwrap(), &[7; 32], false)
        .unwrap();
    let list = sign(
        &RevocationList {
            version: 1,
            issued_at: common::now(),
            audience: p.origin().into(),
            revoked: [(3, 0)].into_iter().collect(),
        },
        &authority,
    )
    .to_text();
    p.install_revocations(&officer, &list).unwrap();
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

// ------------------------------------------------------------------ the subject map

/// An administrative receipt, about `subject` or about none.
fn event(subject: Option<credseal_core::BlindId>) -> credseal_engine::NewReceipt {
    credseal_engine::NewReceipt {
        actor: Actor::Platform,
        action: Action::Admin,
        detail: "test event".into(),
        subject,
        classes: Default::default(),
        purpose: String::new(),
        token_hash: None,
        outcome: Outcome::Done,
        release_digest: None,
        disclose_after: None,
        marks: Vec::new(),
        flags: 0,
        fingerprints: None,
    }
}

/// A platform event (about no subject): a commit that changes nothing in the subject map.
fn platform_event(p: &TestPlatform) {
    p.append_receipts(vec![event(None)], common::now()).unwrap();
}

/// Every `(key, value)` leaf of the stored subject map (written by `persist_map`).
fn stored_map_leaves(p: &TestPlatform) -> Vec<(credseal_log::Hash, credseal_log::MapValue)> {
    use credseal_log::MapNode;
    use credseal_store::Tree;
    p.persist_map().unwrap();
    p.store()
        .scan_prefix(Tree::SubjectMap, &[])
        .filter_map(|kv| match MapNode::from_bytes(&kv.unwrap().1).unwrap() {
            MapNode::Leaf { key, value } => Some((key, value)),
            MapNode::Internal { .. } => None,
        })
        .collect()
}

/// Replaces the stored subject map with the map of `leaves` (an edit on disk).
fn replace_stored_map(store: &dyn credseal_store::Store, leaves: Vec<(credseal_log::Hash, credseal_log::MapValue)>) {
    use credseal_store::{Batch, Tree};
    let mut b = Batch::new();
    for kv in store.scan_prefix(Tree::SubjectMap, &[]) {
        b.delete(Tree::SubjectMap, kv.unwrap().0);
    }
    let u = credseal_log::map_update(&credseal_log::MemoryMap::new(), leaves).unwrap();
    for (pos, node) in u.writes {
        b.put(Tree::SubjectMap, pos.to_bytes(), node.to_bytes());
    }
    store.apply(b).unwrap();
}

/// A platform with the log key in hand: it signs, in place of the newest checkpoint, one
/// whose subject-map root is the map of `leaves` (a map that hides receipts).
fn sign_lying_checkpoint(p: &TestPlatform, seed: &[u8; 32], leaves: Vec<(credseal_log::Hash, credseal_log::MapValue)>) {
    use credseal_store::{Batch, Tree};
    let signer = credseal_log::LogSigner::from_seed(p.origin(), seed).unwrap();
    let honest = signer
        .verifier()
        .verify_checkpoint(&p.latest_checkpoint().unwrap().unwrap())
        .unwrap();
    let lie = credseal_log::MemoryMap::new().update(leaves);
    let cp = credseal_log::Checkpoint::new(p.origin(), honest.size(), *honest.root())
        .and_then(|c| c.with_map_root(&lie))
        .unwrap();
    let mut b = Batch::new();
    b.put(
        Tree::Checkpoints,
        honest.size().to_be_bytes().to_vec(),
        signer.sign_checkpoint(&cp).into_bytes(),
    );
    p.store().apply(b).unwrap();
}

/// The test platform, and its log key's seed (which a lying operator holds).
fn platform_and_log_seed() -> (TestPlatform, [u8; 32]) {
    let ks = keystore();
    let seed = *ks.log_seed().unwrap().expose_secret();
    (common::in_memory(ks), seed)
}

#[test]
fn every_checkpoint_commits_to_the_subject_map() {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let (subject, _) = line_of("loans");
    let blind = p.blind(&SubjectId::parse(&subject).unwrap()).unwrap();
    let receipts = p.subject_receipts(&blind).unwrap();
    let last = UnverifiedReceipt::parse(receipts.last().unwrap()).unwrap();
    // The stored map has the subject's count, newest leaf hash and index.
    let leaves = stored_map_leaves(&p);
    let entry = leaves
        .iter()
        .find(|(k, _)| *k == credseal_log::map_key(&blind))
        .unwrap()
        .1;
    assert_eq!(entry.count, receipts.len() as u64);
    assert_eq!(entry.head, last.leaf_hash());
    assert_eq!(entry.index, last.peek_unverified().unwrap().index);
    // The latest checkpoint commits to the stored map's root; the bundle proves the entry.
    let v = credseal_log::LogVerifier::from_vkey(&p.log_vkey().unwrap()).unwrap();
    let cp = v.verify_checkpoint(&p.latest_checkpoint().unwrap().unwrap()).unwrap();
    let mut m = credseal_log::MemoryMap::new();
    m.update(leaves.clone());
    assert_eq!(cp.map_root().unwrap(), Some(m.root()));
    let now = common::now();
    let id = SubjectId::parse(&subject).unwrap();
    let b = p.export_bundle(&id, None, now).unwrap();
    let ok = credseal_log::verify_bundle(&b, &v, &common::who(&p, &id), None, now).unwrap();
    assert_eq!(ok.receipts().len(), receipts.len());
    // A subject the platform never saw: a proof of absence that verifies.
    let nobody = SubjectId::parse("110105194912310038").unwrap();
    let b = p.export_bundle(&nobody, None, now).unwrap();
    assert!(b.entries.is_empty());
    credseal_log::verify_bundle(&b, &v, &common::who(&p, &nobody), None, now).unwrap();
    let report = p.verify_log().unwrap();
    assert_eq!(report.subjects, leaves.len() as u64);
}

#[test]
fn log_verify_map_root_disagrees() {
    let d = tempfile::tempdir().unwrap();
    let (p, seed) = platform_and_log_seed();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    platform_event(&p);
    p.verify_log().unwrap();
    // The platform lowers one subject's count in its map (hiding its newest receipt from
    // bundles) and signs a checkpoint over that map.
    let mut leaves = stored_map_leaves(&p);
    let top = leaves.iter_mut().max_by_key(|(_, v)| v.count).unwrap();
    assert!(top.1.count >= 2);
    top.1.count -= 1;
    sign_lying_checkpoint(&p, &seed, leaves);
    let size = p.log_size().unwrap();
    let e = p.verify_log().unwrap_err().to_string();
    assert!(
        e.contains(&format!("checkpoint {size}")) && e.contains("subject-map root disagrees"),
        "{e}"
    );
}

#[test]
fn a_stored_map_edited_on_disk_is_refused_at_the_next_open() {
    let d = tempfile::tempdir().unwrap();
    let ks = keystore();
    let p = common::in_memory(ks.clone());
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    platform_event(&p);
    let mut leaves = stored_map_leaves(&p);
    let store = p.store().clone();
    drop(p);
    leaves[0].1.count += 1;
    replace_stored_map(&*store, leaves);
    let p = common::on_store(ks, store).unwrap();
    // Neither a commit nor an audit goes ahead on a map the latest checkpoint contradicts.
    let e = p.verify_log().unwrap_err().to_string();
    assert!(
        e.contains("subject map") && e.contains("disagrees with the checkpoint"),
        "{e}"
    );
    let before = p.log_size().unwrap();
    let e = p.append_receipts(vec![event(None)], common::now()).unwrap_err();
    assert!(e.to_string().contains("disagrees with the checkpoint"), "{e}");
    assert_eq!(p.log_size().unwrap(), before, "nothing was appended");
}

/// A commit reads a subject's head from the map. A node below the root edited on disk
/// (its parents left as they were, so the root still matches the checkpoint) is caught by
/// the hash check when the commit reads it: nothing is appended.
#[test]
fn a_map_node_edited_below_the_root_is_caught_when_a_commit_reads_it() {
    use credseal_log::MapNode;
    use credseal_store::{Batch, Tree};
    let d = tempfile::tempdir().unwrap();
    let ks = keystore();
    let p = common::in_memory(ks.clone());
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let (subject, _) = line_of("loans");
    let blind = p.blind(&SubjectId::parse(&subject).unwrap()).unwrap();
    let key = credseal_log::map_key(&blind);
    p.persist_map().unwrap();
    let store = p.store().clone();
    drop(p);
    let (pos, mut node) = store
        .scan_prefix(Tree::SubjectMap, &[])
        .map(|kv| kv.unwrap())
        .find_map(|(k, v)| match MapNode::from_bytes(&v).unwrap() {
            n @ MapNode::Leaf { key: k2, .. } if k2 == key => Some((k, n)),
            _ => None,
        })
        .unwrap();
    if let MapNode::Leaf { value, .. } = &mut node {
        value.count += 5;
    }
    let mut b = Batch::new();
    b.put(Tree::SubjectMap, pos, node.to_bytes());
    store.apply(b).unwrap();
    let p = common::on_store(ks, store).unwrap();
    let before = p.log_size().unwrap();
    let e = p.append_receipts(vec![event(Some(blind))], common::now()).unwrap_err();
    assert!(matches!(e, credseal_engine::EngineError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("subject map"), "{e}");
    assert_eq!(p.log_size().unwrap(), before, "nothing was appended");
}

#[test]
fn the_map_is_replayed_from_the_receipts_after_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let ks = keystore();
    let p = common::in_memory(ks.clone());
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let (subject, _) = line_of("loans");
    let blind = p.blind(&SubjectId::parse(&subject).unwrap()).unwrap();
    let store = p.store().clone();
    // Receipts after the ingest change the map in memory only (the ingest wrote it).
    for _ in 0..3 {
        p.append_receipts(vec![event(Some(blind))], common::now()).unwrap();
    }
    let id = SubjectId::parse(&subject).unwrap();
    let before = p.export_bundle(&id, None, common::now()).unwrap();
    // A crash: the platform is gone without writing its map.
    std::mem::forget(p);
    let p = common::on_store(ks, store).unwrap();
    let after = p.export_bundle(&id, None, common::now()).unwrap();
    assert_eq!(after.entries.len(), before.entries.len());
    let v = credseal_log::LogVerifier::from_vkey(&p.log_vkey().unwrap()).unwrap();
    let out = credseal_log::verify_bundle(&after, &v, &common::who(&p, &id), None, common::now()).unwrap();
    assert_eq!(out.receipts().len(), before.entries.len());
    p.verify_log().unwrap();
    p.append_receipts(vec![event(Some(blind))], common::now()).unwrap();
    p.verify_log().unwrap();
}

/// A subject's head comes from the subject map and receipt times from the log's newest
/// receipt: both carry on across a reopen, and a clock that goes back never makes a
/// receipt older than the one before it.
#[test]
fn chains_and_times_carry_on_across_a_reopen_and_a_clock_that_goes_back() {
    let ks = keystore();
    let p = common::in_memory(ks.clone());
    let a = p
        .blind(&SubjectId::resident_from_body("11010519491231002").unwrap())
        .unwrap();
    let b = p
        .blind(&SubjectId::resident_from_body("11010519491231003").unwrap())
        .unwrap();
    let late = 2_000_000_000;
    p.append_receipts(vec![event(Some(a))], late).unwrap();
    p.append_receipts(vec![event(Some(b)), event(Some(a))], 1_000).unwrap();
    let store = p.store().clone();
    std::mem::forget(p);
    let p = common::on_store(ks, store).unwrap();
    p.append_receipts(vec![event(None), event(Some(a))], 1_000).unwrap();
    let body = |r: &Vec<u8>| UnverifiedReceipt::parse(r).unwrap().peek_unverified().unwrap();
    let of_a: Vec<_> = p.subject_receipts(&a).unwrap().iter().map(body).collect();
    let of_b: Vec<_> = p.subject_receipts(&b).unwrap().iter().map(body).collect();
    assert_eq!(of_a.len(), 3);
    assert_eq!(of_b.len(), 1);
    for (i, r) in of_a.iter().enumerate() {
        let chain = r.chain.unwrap();
        assert_eq!(chain.counter, i as u64 + 1);
        let prev = i.checked_sub(1).map(|j| {
            UnverifiedReceipt::parse(&p.subject_receipts(&a).unwrap()[j])
                .unwrap()
                .leaf_hash()
        });
        assert_eq!(chain.prev, prev, "receipt {i} of a links to the one before");
        assert_eq!(r.time, late, "receipt {i} of a is not older than the log's newest");
    }
    assert_eq!(of_b[0].chain.unwrap().counter, 1);
    assert_eq!(of_b[0].time, late);
    p.verify_log().unwrap();
}

/// Each receipt's stored Merkle hashes are one store entry: one edited is caught by
/// `log verify`, one cut short by the next commit that reads it, both naming the receipt.
#[test]
fn a_receipts_stored_hashes_edited_or_cut_short_are_reported() {
    use credseal_store::{Batch, Tree};
    let p = common::in_memory(keystore());
    let a = p
        .blind(&SubjectId::resident_from_body("11010519491231002").unwrap())
        .unwrap();
    for _ in 0..6 {
        p.append_receipts(vec![event(Some(a))], common::now()).unwrap();
    }
    p.verify_log().unwrap();
    let store = p.store().clone();
    let put = |v: Vec<u8>| {
        let mut b = Batch::new();
        b.put(Tree::LogHashes, 5u64.to_be_bytes().to_vec(), v);
        store.apply(b).unwrap();
    };
    // Receipt 5 completed the subtree of receipts 4 and 5: its leaf hash and that subtree's.
    let good = store.get(Tree::LogHashes, &5u64.to_be_bytes()).unwrap().unwrap();
    assert_eq!(good.len(), 64);
    let mut edited = good.clone();
    edited[40] ^= 1;
    put(edited);
    let e = p.verify_log().unwrap_err();
    assert!(matches!(e, credseal_engine::EngineError::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("log hashes of receipt 5"), "{e}");
    put(good[..32].to_vec());
    // The next commit's root needs the subtree hash receipt 5 stored.
    let e = p.append_receipts(vec![event(None)], common::now()).unwrap_err();
    assert!(matches!(e, credseal_engine::EngineError::Corrupt { .. }), "{e}");
    assert!(
        e.to_string().contains("log hashes of receipt 5") && e.to_string().contains("32 bytes, not 64"),
        "{e}"
    );
    assert_eq!(p.log_size().unwrap(), 6, "nothing was appended");
    put(good);
    p.verify_log().unwrap();
}

#[test]
fn log_verify_from_continues_a_saved_position() {
    let d = tempfile::tempdir().unwrap();
    let (p, seed) = platform_and_log_seed();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    let (full, snap) = p.verify_log_from(None).unwrap();
    assert_eq!((full.from, full.receipts), (0, full.size));
    let bytes = snap.to_bytes();
    let snap = credseal_engine::AuditSnapshot::from_bytes(&bytes).unwrap();
    platform_event(&p);
    platform_event(&p);
    let (next, snap2) = p.verify_log_from(Some(&snap)).unwrap();
    assert_eq!((next.from, next.receipts, next.checkpoints), (snap.size, 2, 3));
    assert_eq!(snap2.size, snap.size + 2);
    assert_eq!(snap2.map_root, snap.map_root, "platform events touch no subject");
    // Nothing new: still verifies, from the end.
    let (last, _) = p.verify_log_from(Some(&snap2)).unwrap();
    assert_eq!(last.receipts, 0);
    // A saved position the log no longer matches: the tree at that size was rewritten.
    let mut forked = snap.clone();
    forked.root[0] ^= 1;
    let e = p.verify_log_from(Some(&forked)).unwrap_err().to_string();
    assert!(e.contains("a fork or rewrite"), "{e}");
    // A saved map that does not hash to its root; a file with one byte flipped.
    let mut bad = snap.clone();
    bad.map[0].1.count += 1;
    let e = p.verify_log_from(Some(&bad)).unwrap_err().to_string();
    assert!(e.contains("does not hash to its map root"), "{e}");
    let mut flipped = bytes.clone();
    flipped[12] ^= 1;
    assert!(credseal_engine::AuditSnapshot::from_bytes(&flipped).is_err());
    // A lie in the map after the saved position is still caught when continuing.
    let mut leaves = stored_map_leaves(&p);
    leaves[0].1.count += 1;
    sign_lying_checkpoint(&p, &seed, leaves);
    let e = p.verify_log_from(Some(&snap2)).unwrap_err().to_string();
    assert!(e.contains("subject-map root disagrees"), "{e}");
}
