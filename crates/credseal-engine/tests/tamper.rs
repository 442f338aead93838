//! Tampering with stored values: every flipped byte is detected and the error names the
//! value; ciphertexts moved to another subject, class or record fail to open.

mod common;

use common::*;
use credseal_engine::bundle::{Bundle, Entry};
use credseal_engine::{EngineError, ErrorClass, NoProgress, Platform, layout};
use credseal_store::{Batch, Tree};

fn loaded() -> Platform {
    let d = tempfile::tempdir().unwrap();
    let p = platform();
    p.ingest_file(&write(d.path(), "r.jsonl", RECORDS.as_bytes()), &NoProgress)
        .unwrap();
    p
}

fn put(p: &Platform, tree: Tree, k: &[u8], v: Vec<u8>) {
    let mut b = Batch::new();
    b.put(tree, k.to_vec(), v);
    p.store().apply(b).unwrap();
}

fn bundles(p: &Platform) -> Vec<(Vec<u8>, Bundle)> {
    p.store()
        .scan_prefix(Tree::Records, &[])
        .map(|kv| {
            let (k, v) = kv.unwrap();
            (k, Bundle::decode(&v).unwrap())
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

/// Flips every byte of a stored bundle in turn (wrapped DEK, record ciphertexts and the
/// framing between them): each flip is detected, and the error names the data key, the
/// record, or the subject's class whose framing broke.
#[test]
fn flipped_byte_anywhere_in_stored_records_is_detected_and_named() {
    let p = loaded();
    let (k, b) = bundles(&p).into_iter().find(|(_, b)| b.entries.len() >= 2).unwrap();
    let (blind, class) = layout::parse_bundle_key(&k).unwrap();
    let subject = layout::short(&blind);
    let v = b.encode();
    let dek_end = 1 + b.wrapped_dek.len();
    // Where each record's ciphertext lies in the encoding.
    let mut spans = Vec::new();
    let mut at = dek_end + 4;
    for e in &b.entries {
        at += 24;
        spans.push((at, at + e.sealed.len(), e));
        at += e.sealed.len();
    }
    let (mut named_dek, mut named_record, mut framing) = (0, 0, 0);
    for i in 0..v.len() {
        let mut t = v.clone();
        t[i] ^= 0x04;
        put(&p, Tree::Records, &k, t);
        let (what, detail) = corrupt(p.verify_store().unwrap_err());
        assert!(
            what.contains(&subject) && what.contains(&class),
            "flip at {i}: {what}: {detail}"
        );
        if (1..dek_end).contains(&i) {
            assert_eq!(
                what,
                format!("data key of subject {subject} class {class}"),
                "flip at {i}"
            );
            named_dek += 1;
        } else if let Some((_, _, e)) = spans.iter().find(|(s, end, _)| (*s..*end).contains(&i)) {
            let rec = format!(
                "record {} v{} of subject {subject} class {class}",
                credseal_core::hex(&e.rkey[..8]),
                e.version
            );
            assert_eq!(what, rec, "flip at {i}");
            named_record += 1;
        } else {
            // Format byte, count, record key, version, length: the bundle no longer decodes,
            // or a record no longer matches its place.
            framing += 1;
        }
    }
    assert_eq!(named_dek, credseal_crypto::WRAPPED_DEK_LEN);
    assert!(named_record > 100 && framing > 40, "{named_record} {framing}");
    // Truncated and extended values.
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
    let (k, mut b) = bundles(&p).into_iter().next().unwrap();
    let n = b.entries[0].sealed.len();
    b.entries[0].sealed[n - 1] ^= 1;
    put(&p, Tree::Records, &k, b.encode());
    let rec = credseal_core::Record::from_json(
        &serde_json::from_str(
            RECORDS
                .lines()
                .find(|l| {
                    let r = credseal_core::Record::from_json(&serde_json::from_str(l).unwrap(), &catalog()).unwrap();
                    layout::bundle_key(&p.blind(&r.subject), &r.class) == k
                })
                .unwrap(),
        )
        .unwrap(),
        &catalog(),
    )
    .unwrap();
    let (what, _) = corrupt(p.records(&rec.subject, &rec.class).unwrap_err());
    assert!(
        what.starts_with(&format!("record {}", credseal_core::hex(&b.entries[0].rkey[..8]))),
        "{what}"
    );
}

#[test]
fn flipped_platform_binding_is_detected() {
    let p = loaded();
    let mut v = p.store().get(Tree::Meta, layout::META_PLATFORM).unwrap().unwrap();
    v[0] ^= 1;
    put(&p, Tree::Meta, layout::META_PLATFORM, v);
    let e = Platform::with_store(catalog(), p.keystore().clone(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

#[test]
fn database_opened_with_another_keystore_is_refused() {
    let p = loaded();
    let e = Platform::with_store(catalog(), keystore(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

#[test]
fn edited_data_key_counter_is_detected() {
    let p = loaded();
    let class = p.catalog().classes.keys().next().unwrap().clone();
    let n = p.dek_count(&class, 1).unwrap();
    assert!(n > 0);
    put(&p, Tree::Meta, &layout::dek_count_key(&class, 1), (n + 1).to_be_bytes().to_vec());
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert_eq!(what, format!("data key counter of class {class} version 1"));
    assert_eq!(detail, format!("says {}, the store holds {n}", n + 1));
    put(&p, Tree::Meta, &layout::dek_count_key(&class, 1), vec![1, 2, 3]);
    assert!(corrupt(p.key_status().unwrap_err()).1.contains("8-byte"));
}

fn expect_moved(p: &Platform) {
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert!(
        detail.contains("another subject, class or record") || detail.contains("do not match their place"),
        "{what}: {detail}"
    );
}

#[test]
fn ciphertext_moved_to_another_subject_class_or_record_fails() {
    let p = loaded();
    let all = bundles(&p);
    let parsed: Vec<_> = all.iter().map(|(k, _)| layout::parse_bundle_key(k).unwrap()).collect();
    let (k0, b0) = &all[0];
    let (s0, c0) = &parsed[0];
    let src: Entry = b0.entries[0].clone();
    let other_subject = parsed.iter().position(|(b, c)| b != s0 && c == c0).unwrap();
    let other_class = parsed.iter().position(|(b, c)| b == s0 && c != c0).unwrap();
    for target in [other_subject, other_class] {
        let (k, b) = &all[target];
        let mut moved = b.clone();
        moved.put(src.clone());
        put(&p, Tree::Records, k, moved.encode());
        expect_moved(&p);
        put(&p, Tree::Records, k, b.encode());
    }
    // Within the same bundle: another record key, another version.
    for (rkey, version) in [([0x55; 16], src.version), (src.rkey, src.version + 1)] {
        let mut moved = b0.clone();
        moved.entries.remove(0);
        moved.put(Entry {
            rkey,
            version,
            sealed: src.sealed.clone(),
        });
        put(&p, Tree::Records, k0, moved.encode());
        expect_moved(&p);
    }
    put(&p, Tree::Records, k0, b0.encode());
    p.verify_store().unwrap();
    // A wrapped DEK moved to another subject's bundle fails too.
    let (k, b) = &all[other_subject];
    let mut swapped = b.clone();
    swapped.wrapped_dek = b0.wrapped_dek.clone();
    put(&p, Tree::Records, k, swapped.encode());
    let (what, detail) = corrupt(p.verify_store().unwrap_err());
    assert!(
        what.starts_with("data key of subject") && detail.contains("another subject, class or record"),
        "{what}: {detail}"
    );
    // A whole bundle copied to another subject's key.
    put(&p, Tree::Records, k, b0.encode());
    let (what, _) = corrupt(p.verify_store().unwrap_err());
    assert!(what.starts_with("data key of subject"), "{what}");
}
