//! The public demo keys of `keys-example/`. They are derived from a published seed, so
//! anyone can recompute them: a platform refuses them unless started with `--demo`
//! (`credseal_crypto::demo::holds_demo_keys` recomputes the same derivation to recognise
//! them; this crate's tests check that the two agree).

use std::collections::BTreeMap;

use credseal_crypto::{ClassKeys, IndexKey, KdfParams, Kek, KekEntry, Keystore, LogKeySeed, TraceKey, VrfKey};
use ring::hkdf;
use zeroize::Zeroizing;

/// The published seed. Everything derived from it is public.
pub const DEMO_SEED: &[u8] = b"credseal keys-example: PUBLIC demo keys, never for production";
/// The HKDF salt of every demo secret.
const DEMO_SALT: &[u8] = b"credseal:v1:demo";
/// The passphrase of `keys-example/platform.keystore` (public).
pub const DEMO_PASSPHRASE: &str = "credseal-demo-only";
/// The demo platform's log origin.
pub const DEMO_ORIGIN: &str = "demo.credseal.example/log";

/// A demo secret for `label` (e.g. `b"index"`, `b"kek:loans:1"`, `b"authority"`):
/// HKDF-SHA-256 with input key [`DEMO_SEED`], salt `"credseal:v1:demo"` and info `label`.
pub fn demo_secret(label: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, DEMO_SALT).extract(DEMO_SEED);
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(&[label], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out[..]))
        // Cannot fail: HKDF-SHA-256 can produce up to 8160 bytes; we ask for 32.
        .expect("HKDF output length within limits");
    *out
}

fn kek_label(class: &str, version: u32) -> Vec<u8> {
    format!("kek:{class}:{version}").into_bytes()
}

/// The demo keystore for these classes (version 1 of each KEK).
pub fn demo_keystore(classes: &[&str], catalog_digest: [u8; 32], now: u64) -> Keystore {
    let classes = classes
        .iter()
        .map(|c| {
            let mut versions = BTreeMap::new();
            versions.insert(
                1,
                KekEntry {
                    kek: credseal_crypto::KekKey::Software(Kek::from_bytes(demo_secret(&kek_label(c, 1)))),
                    created: now,
                },
            );
            (c.to_string(), ClassKeys { primary: 1, versions })
        })
        .collect();
    Keystore {
        origin: DEMO_ORIGIN.to_string(),
        generation: 1,
        catalog_digest,
        classes,
        log_key: credseal_crypto::LogKey::Seed(LogKeySeed::from_bytes(demo_secret(b"log"))),
        log_history: Vec::new(),
        index_key: IndexKey::from_bytes(demo_secret(b"index")),
        vrf_key: VrfKey::from_seed(demo_secret(b"vrf")),
        trace_key: TraceKey::from_bytes(demo_secret(b"trace")),
        kdf: KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        },
        unseal: None,
        token: None,
        file_key: credseal_crypto::FileKey::default(),
    }
}
