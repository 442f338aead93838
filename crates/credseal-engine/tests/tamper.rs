//! Tampering with stored values: every flipped byte is detected and the error names the
//! value; ciphertexts moved to another subject, class or record fail to open.

mod common;

use common::*;
use credseal_engine::{EngineError, NoProgress, Platform, layout};
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

fn entries(p: &Platform, tree: Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    p.store().scan_prefix(tree, &[]).map(|kv| kv.unwrap()).collect()
}

fn corrupt_what(e: EngineError) -> (String, String) {
    match e {
        EngineError::Corrupt { what, detail } => (what, detail),
        other => panic!("expected a verification failure, got {other}"),
    }
}

#[test]
fn flipped_byte_in_every_record_position_names_the_record() {
    let p = loaded();
    let (k, v) = entries(&p, Tree::Records).into_iter().nth(5).unwrap();
    let (blind, class, rkey, version) = layout::parse_record_key(&k).unwrap();
    for i in 0..v.len() {
        let mut t = v.clone();
        t[i] ^= 0x04;
        put(&p, Tree::Records, &k, t);
        let (what, _) = corrupt_what(p.verify_store().unwrap_err());
        assert!(what.contains(&credseal_core::hex(&rkey[..8])), "flip at {i}: {what}");
        assert!(
            what.contains(&layout::short(&blind)) && what.contains(&class) && what.contains(&format!("v{version}"))
        );
        assert_eq!(
            p.verify_store().unwrap_err().class(),
            credseal_engine::ErrorClass::Verification
        );
    }
    put(&p, Tree::Records, &k, v[..20].to_vec());
    assert!(corrupt_what(p.verify_store().unwrap_err()).1.contains("truncated"));
    put(&p, Tree::Records, &k, v);
    p.verify_store().unwrap();
}

#[test]
fn flipped_byte_in_every_wrapped_dek_position_names_the_data_key() {
    let p = loaded();
    let (k, v) = entries(&p, Tree::Deks).into_iter().nth(3).unwrap();
    let (blind, class) = layout::parse_dek_key(&k).unwrap();
    for i in 0..v.len() {
        let mut t = v.clone();
        t[i] ^= 0x80;
        put(&p, Tree::Deks, &k, t);
        let (what, _) = corrupt_what(p.verify_store().unwrap_err());
        assert_eq!(
            what,
            format!("data key of subject {} class {class}", layout::short(&blind)),
            "flip at {i}"
        );
    }
}

#[test]
fn flipped_platform_binding_is_detected() {
    let p = loaded();
    let mut v = p.store().get(Tree::Meta, layout::META_PLATFORM).unwrap().unwrap();
    v[0] ^= 1;
    put(&p, Tree::Meta, layout::META_PLATFORM, v);
    let store = p.store().clone();
    let e = Platform::with_store(catalog(), p.keystore().clone(), store).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

#[test]
fn database_opened_with_another_keystore_is_refused() {
    let p = loaded();
    let e = Platform::with_store(catalog(), keystore(), p.store().clone()).unwrap_err();
    assert!(matches!(e, EngineError::KeystoreMismatch { .. }), "{e}");
}

#[test]
fn ciphertext_moved_to_another_subject_class_or_record_fails() {
    let p = loaded();
    let recs = entries(&p, Tree::Records);
    let parsed: Vec<_> = recs.iter().map(|(k, _)| layout::parse_record_key(k).unwrap()).collect();
    let (src_k, src_v) = &recs[0];
    let (b0, c0, r0, v0) = &parsed[0];
    // Another subject with the same class; the same subject in another class; another record.
    let other_subject = parsed.iter().position(|(b, c, _, _)| b != b0 && c == c0).unwrap();
    let other_class = parsed.iter().position(|(b, c, _, _)| b == b0 && c != c0).unwrap();
    let (ob, oc, or, ov) = &parsed[other_subject];
    let (cb, cc, cr, cv) = &parsed[other_class];
    let targets = [
        layout::record_key(ob, oc, or, *ov),
        layout::record_key(cb, cc, cr, *cv),
        layout::record_key(b0, c0, &[0x55; 16], *v0),
        layout::record_key(b0, c0, r0, v0 + 1),
    ];
    for t in targets {
        let saved = p.store().get(Tree::Records, &t).unwrap();
        put(&p, Tree::Records, &t, src_v.clone());
        let (what, detail) = corrupt_what(p.verify_store().unwrap_err());
        assert!(detail.contains("another subject, class or record"), "{what}: {detail}");
        let mut b = Batch::new();
        match saved {
            Some(v) => b.put(Tree::Records, t, v),
            None => b.delete(Tree::Records, t),
        }
        p.store().apply(b).unwrap();
    }
    // A wrapped DEK moved to another subject fails too.
    let deks = entries(&p, Tree::Deks);
    put(&p, Tree::Deks, &deks[1].0, deks[0].1.clone());
    let (_, detail) = corrupt_what(p.verify_store().unwrap_err());
    assert!(detail.contains("another subject, class or record"), "{detail}");
    let _ = src_k;
}
