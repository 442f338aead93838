//! The demo keys made here are the ones `credseal_crypto::demo::holds_demo_keys` refuses.

use credseal_crypto::demo::holds_demo_keys;
use credseal_crypto::{KdfParams, Kek, Keystore};
use credseal_testkit::demo::{demo_keystore, demo_secret};

#[test]
fn demo_keys_are_recognised() {
    let d = demo_keystore(&["loans"], [0; 32], 0);
    assert!(holds_demo_keys(&d));
    let mut real = Keystore::generate("x", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
    assert!(!holds_demo_keys(&real));
    // One demo key mixed into a real keystore is enough to refuse it.
    real.classes.get_mut("loans").unwrap().versions.get_mut(&1).unwrap().kek =
        credseal_crypto::KekKey::Software(Kek::from_bytes(demo_secret(b"kek:loans:1")));
    assert!(holds_demo_keys(&real));
}

#[test]
fn every_demo_key_alone_is_recognised() {
    use credseal_crypto::{IndexKey, LogKeySeed, TraceKey};
    let fresh = || Keystore::generate("x", &["loans", "identity"], [0; 32], 0, KdfParams::DEFAULT);
    let mut k = fresh();
    k.index_key = IndexKey::from_bytes(demo_secret(b"index"));
    assert!(holds_demo_keys(&k));
    let mut k = fresh();
    k.trace_key = TraceKey::from_bytes(demo_secret(b"trace"));
    assert!(holds_demo_keys(&k));
    let mut k = fresh();
    k.log_key = credseal_crypto::LogKey::Seed(LogKeySeed::from_bytes(demo_secret(b"log")));
    assert!(holds_demo_keys(&k));
    let mut k = fresh();
    k.classes.get_mut("identity").unwrap().versions.get_mut(&1).unwrap().kek =
        credseal_crypto::KekKey::Software(Kek::from_bytes(demo_secret(b"kek:identity:1")));
    assert!(holds_demo_keys(&k));
    // A demo KEK under another class's label is not that class's demo key.
    let mut k = fresh();
    k.classes.get_mut("identity").unwrap().versions.get_mut(&1).unwrap().kek =
        credseal_crypto::KekKey::Software(Kek::from_bytes(demo_secret(b"kek:loans:1")));
    assert!(!holds_demo_keys(&k));
}

#[test]
fn demo_secrets_are_fixed() {
    // The derivation is public and must never change: keys-example/platform.keystore and
    // every demo transcript depend on it.
    // HKDF-SHA-256(ikm = DEMO_SEED, salt = "credseal:v1:demo", info = "index"), computed
    // independently (Python's hmac module).
    let index: [u8; 32] = [
        0xae, 0xdf, 0x46, 0x24, 0x55, 0xc4, 0x86, 0x76, 0xff, 0x5e, 0xf9, 0x61, 0xc9, 0x5d, 0x1e, 0x42, 0xff, 0x9a,
        0x56, 0x3d, 0x73, 0xf5, 0xe1, 0x20, 0xc8, 0xde, 0x16, 0x81, 0x13, 0xbf, 0x74, 0xc4,
    ];
    assert_eq!(demo_secret(b"index"), index);
    assert_ne!(demo_secret(b"index"), demo_secret(b"trace"));
    let k = demo_keystore(&["loans"], [1; 32], 5);
    assert_eq!(k.index_key.expose_secret(), &demo_secret(b"index"));
    assert_eq!(k.kek("loans", 1).unwrap().expose_secret(), &demo_secret(b"kek:loans:1"));
    assert_eq!(k.classes["loans"].versions[&1].created, 5);
}
