//! Tampering with stored values: every flipped byte is detected and the error names the
//! value; ciphertexts moved to another subject, class or record fail to open.

mod common;

use common::*;
use credseal_engine::bundle::{Entry, Part, SubjectRecords};
use credseal_engine::{EngineError, ErrorClass, NoProgress, layout};
use credseal_store::{Batch, Tree};

fn loaded() -> TestPlatform {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    p
}

fn put(p: &TestPlatform, tree: Tree, k: &[u8], v: Vec<u8>) {
    let mut b = Batch::new();
    b.put(tree, k.to_vec(), v);
    p.store().apply(b).unwrap();
}

fn subjects(p: &TestPlatform) -> Vec<(Vec<u8>, SubjectRecords)> {
    p.store()
        .scan_prefix(Tree::Records, &[])
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k, SubjectRecords::decode(&v).unwrap())
        })
        .collect()
}

fn corrupt(e: EngineError) -> (String, String) {
    assert_eq!(e.class(), ErrorClass::Verification, "{e}");
    match e {
        EngineError::Corrupt { what, detail } => (what, detail),
        other => panic!("expected a verification failure, got {other}"),
    }
}

/// Flips every byte of a subject's stored value in turn (wrapped DEKs, record
/// ciphertexts and the framing between them): each flip is detected, and the error names
/// the data key or the record it hit, or the subject whose framing broke.
#[test]
fn flipped_byte_anywhere_in_stored_records_is_detected_and_named() {
    let p = loaded();
    let (k, recs) = subjects(&p)
        .into_iter()
        .find(|(_, r)| r.classes.len() >= 2 && r.classes.values().any(|b| b.entries.len() >= 2))
        .unwrap();
    let blind = layout::parse_subject_key(&k).unwrap();
    let subject = layout::short(&blind);
    let (v, parts) = recs.encode_with_layout();
    let (mut named_dek, mut named_record, mut framing) = (0, 0, 0);
    for i in 0..v.len() {
        let mut t = v.clone();
        t[i] ^= 0x04;
        put(&p, Tree::Records, &k, t);
        let (what, detail) = corrupt(p.verify_store().unwrap_err());
        assert!(what.contains(&subject), "flip at {i}: {what}: {detail}");
        match parts.iter().find(|(r, _)| r.contains(&i)) {
            // A wrapped DEK's format byte sets its length (65 or 77 bytes): a flip there
            // breaks the framing, named by the subject.
            Some((r, Part::WrappedDek { .. })) if r.start == i => {
                assert_eq!(what, format!("records of subject {subject}"), "flip at {i}");
                framing += 1;
            }
            Some((_, Part::WrappedDek { class })) => {
                assert_eq!(
                    what,
                    format!("data key of subject {subject} class {class}"),
                    "flip at {i}"
                );
                named_dek += 1;
            }
            Some((_, Part::Sealed { class, rkey, version })) => {
                let rec = format!(
                    "record {} v{version} of subject {subject} class {class}",
                    credseal_core::hex(&rkey[..8])
                );
                assert_eq!(what, rec, "flip at {i}");
                named_record += 1;
            }
            // Format byte, counts, class ids, record keys, versions, lengths: the value no
            // longer decodes, or a data key or record no longer matches its place.
            None => framing += 1,
        }
    }
    // Every byte of each key-tree wrapped DEK but its format byte names the data key.
    assert_eq!(
        named_dek,
        (credseal_crypto::TREE_WRAPPED_DEK_LEN - 1) * recs.classes.len()
    );
    assert!(named_record > 100 && framing > 40, "{named_record} {framing}");
    put(&p, Tree::Records, &k, v[..v.len() - 1].to_vec());
    assert!(corrupt(p.verify_store().unwrap_err()).1.contains("malformed"));
    let mut longer = v.clone();
    longer.push(0);
    put(&p, Tree::Records, &k, longer);
    assert!(corrupt(p.verify_store().unwrap_err()).1.contains("trailing"));
    put(&p, Tree::Records, &k, v);
    p.verify_store().unwrap();
}

#[test]
fn reading_a_tampered_subject_fails_with_the_record_named() {
    let p = loaded();
    let first = credseal_core::Record::from_json(
        &serde_json::from_str(RECORDS.lines().next().unwrap()).unwrap(),
        &catalog(),
    )
    .unwrap();
    let k = layout::subject_key(&p.blind(&first.subject).unwrap());
    let mut recs = SubjectRecords::decode(&p.store().get(Tree::Records, &k).unwrap().unwrap()).unwrap();
    let b = recs.classes.get_mut(&first.class).unwrap();
    let n = b.entries[0].sealed.len();
    b.entries[0].sealed[n - 1] ^= 1;
    let rkey = b.entries[0].rkey;
    put(&p, Tree::Records, &k, recs.encode());
    let (what, _) = corrupt(common::records(&p, &first.subject, &first.class).unwrap_err());
    assert!(
        what.starts_with(&format!("record {}", credseal_core::hex(&rkey[..8]))),
        "{what}"
    );
}

#[test]
fn flipped_platform_binding_is_detected() {
    let p = loaded();
    let mut v = p.store().get(Tree::Meta, layout::META_PLATFORM).unwrap().unwrap();
    v[0] ^= 1;
    put(&p, Tree::Meta, layout::META_PLATFORM, v);
    let e = common::on_store(p.keys().clone(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

/// A store of an earlier storage format (3: one `LogHashes` entry per stored hash) is
/// refused with both formats named, not misread.
#[test]
fn a_store_of_an_earlier_format_is_refused_naming_both_formats() {
    let p = loaded();
    put(&p, Tree::Meta, layout::META_FORMAT, 3u32.to_be_bytes().to_vec());
    let e = common::on_store(p.keys().clone(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::Corrupt { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("storage format 3") && text.contains(&format!("only format {}", layout::STORE_FORMAT)),
        "{text}"
    );
    put(&p, Tree::Meta, layout::META_FORMAT, vec![0xff]);
    let e = common::on_store(p.keys().clone(), p.store().clone()).unwrap_err();
    assert!(e.to_string().contains("unknown storage format"), "{e}");
}

#[test]
fn database_opened_with_another_keystore_is_refused() {
    let p = loaded();
    let e = common::on_store(keystore(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

#[test]
fn edited_data_key_counter_is_detected() {
    let p = loaded();
    let class = p.catalog().classes.keys().next().unwrap().clone();
    let n = p.dek_count(&class, 1).unwrap();
    assert!(n > 0);
    put(
        &p,
        Tree::Meta,
        &layout::dek_count_key(&class, 1),
        (n + 1).to_be_bytes().to_vec(),
    );
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert_eq!(what, format!("data key counter of class {class} version 1"));
    assert_eq!(detail, format!("says {}, the store holds {n}", n + 1));
    put(&p, Tree::Meta, &layout::dek_count_key(&class, 1), vec![1, 2, 3]);
    assert!(corrupt(p.key_status().unwrap_err()).1.contains("8-byte"));
}

fn expect_moved(p: &TestPlatform) {
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert!(
        detail.contains("another subject, class or record") || detail.contains("do not match their place"),
        "{what}: {detail}"
    );
}

#[test]
fn ciphertext_moved_to_another_subject_class_or_record_fails() {
    let p = loaded();
    let all = subjects(&p);
    let (k0, r0) = all.iter().find(|(_, r)| r.classes.len() >= 2).unwrap();
    let mut names = r0.classes.keys();
    let (c0, c1) = (names.next().unwrap().clone(), names.next().unwrap().clone());
    let src: Entry = r0.classes[&c0].entries[0].clone();
    // Into another subject's bundle of the same class.
    let (k1, r1) = all
        .iter()
        .find(|(k, r)| k != k0 && r.classes.contains_key(&c0))
        .unwrap();
    let mut moved = r1.clone();
    moved.classes.get_mut(&c0).unwrap().put(src.clone());
    put(&p, Tree::Records, k1, moved.encode());
    expect_moved(&p);
    put(&p, Tree::Records, k1, r1.encode());
    // Into the same subject's other class; under another record key; as another version.
    for (class, rkey, version) in [
        (c1.clone(), src.rkey, src.version),
        (c0.clone(), [0x55; 16], src.version),
        (c0.clone(), src.rkey, src.version + 1),
    ] {
        let mut moved = r0.clone();
        moved.classes.get_mut(&c0).unwrap().entries.remove(0);
        moved.classes.get_mut(&class).unwrap().put(Entry {
            rkey,
            version,
            sealed: src.sealed.clone(),
        });
        put(&p, Tree::Records, k0, moved.encode());
        expect_moved(&p);
    }
    put(&p, Tree::Records, k0, r0.encode());
    p.verify_store().unwrap();
    // A wrapped DEK moved to another class of the same subject, and to another subject.
    let mut swapped = r0.clone();
    swapped.classes.get_mut(&c1).unwrap().wrapped_dek = r0.classes[&c0].wrapped_dek.clone();
    put(&p, Tree::Records, k0, swapped.encode());
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert!(
        what.starts_with("data key of subject") && detail.contains("another subject, class or record"),
        "{what}: {detail}"
    );
    put(&p, Tree::Records, k0, r0.encode());
    // A subject's whole value copied under another subject's key.
    put(&p, Tree::Records, k1, r0.encode());
    let (what, _) = corrupt(p.verify_store().unwrap_err());
    assert!(what.starts_with("data key of subject"), "{what}");
}

/// On the sled backend a subject's value lives in the value log (`db/credseal.vlog`): a byte
/// flipped there on disk is refused by the store and the error names the subject.
#[test]
fn flipped_byte_in_the_value_log_on_disk_names_the_subject() {
    use std::sync::Arc;
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("db");
    let ks = keystore();
    let first = credseal_core::Record::from_json(
        &serde_json::from_str(RECORDS.lines().next().unwrap()).unwrap(),
        &catalog(),
    )
    .unwrap();
    {
        let store: Arc<dyn credseal_store::Store> = Arc::new(credseal_store::SledStore::open(&db, true).unwrap());
        let p = common::on_store(ks.clone(), store).unwrap();
        p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
            .unwrap();
        assert!(!common::records(&p, &first.subject, &first.class).unwrap().is_empty());
    }
    // The first byte of the value log belongs to one subject's value: flip it (the store is
    // closed), then read every subject — exactly one fails, named.
    let vlog = db.join("credseal.vlog");
    let mut bytes = std::fs::read(&vlog).unwrap();
    assert!(!bytes.is_empty(), "subject values live in the value log");
    let all: Vec<u8> = bytes.clone();
    bytes[0] ^= 1;
    std::fs::write(&vlog, &bytes).unwrap();
    let store: Arc<dyn credseal_store::Store> = Arc::new(credseal_store::SledStore::open(&db, false).unwrap());
    let p = common::on_store(ks, store).unwrap();
    let mut failed = Vec::new();
    for line in RECORDS.lines() {
        let r = credseal_core::Record::from_json(&serde_json::from_str(line).unwrap(), &catalog()).unwrap();
        if let Err(e) = common::records(&p, &r.subject, &r.class) {
            let (what, detail) = corrupt(e);
            assert!(what.starts_with("records of subject "), "{what}");
            assert!(detail.contains("value log") && detail.contains("damaged"), "{detail}");
            failed.push(what);
        }
    }
    failed.sort();
    failed.dedup();
    assert_eq!(failed.len(), 1, "one subject's value was hit: {failed:?}");
    // The original bytes back: every subject reads again.
    std::fs::write(&vlog, &all).unwrap();
    for line in RECORDS.lines() {
        let r = credseal_core::Record::from_json(&serde_json::from_str(line).unwrap(), &catalog()).unwrap();
        assert!(common::records(&p, &r.subject, &r.class).is_ok());
    }
}
