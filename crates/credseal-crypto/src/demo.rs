//! The public demo keys of `keys-example/`. They are derived from a published seed, so
//! anyone can recompute them: a platform refuses them unless started with `--demo`.

use crate::envelope::hkdf32;
use crate::keystore::{ClassKeys, KdfParams, KekEntry, Keystore};
use crate::secret::{IndexKey, Kek, LogKeySeed, TraceKey};

/// The published seed. Everything derived from it is public.
pub const DEMO_SEED: &[u8] = b"credseal keys-example: PUBLIC demo keys, never for production";
/// The passphrase of `keys-example/platform.keystore` (public).
pub const DEMO_PASSPHRASE: &str = "credseal-demo-only";
/// The demo platform's log origin.
pub const DEMO_ORIGIN: &str = "demo.credseal.example/log";

/// A demo secret for `label` (e.g. `b"index"`, `b"kek:loans:1"`, `b"authority"`).
pub fn demo_secret(label: &[u8]) -> [u8; 32] {
    *hkdf32(DEMO_SEED, b"credseal:v1:demo", &[label])
}

fn kek_label(class: &str, version: u32) -> Vec<u8> {
    format!("kek:{class}:{version}").into_bytes()
}

/// The demo keystore for these classes (version 1 of each KEK).
pub fn demo_keystore(classes: &[&str], catalog_digest: [u8; 32], now: u64) -> Keystore {
    let classes = classes
        .iter()
        .map(|c| {
            let mut versions = std::collections::BTreeMap::new();
            versions.insert(
                1,
                KekEntry {
                    kek: Kek::from_bytes(demo_secret(&kek_label(c, 1))),
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
        log_seed: LogKeySeed::from_bytes(demo_secret(b"log")),
        log_history: Vec::new(),
        index_key: IndexKey::from_bytes(demo_secret(b"index")),
        trace_key: TraceKey::from_bytes(demo_secret(b"trace")),
        kdf: KdfParams {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        },
    }
}

/// Whether any key in `ks` is a public demo key.
pub fn holds_demo_keys(ks: &Keystore) -> bool {
    let eq = |a: &[u8; 32], b: [u8; 32]| bool::from(subtle::ConstantTimeEq::ct_eq(&a[..], &b[..]));
    eq(ks.index_key.expose_secret(), demo_secret(b"index"))
        || eq(ks.trace_key.expose_secret(), demo_secret(b"trace"))
        || eq(ks.log_seed.expose_secret(), demo_secret(b"log"))
        || ks.classes.iter().any(|(c, keys)| {
            keys.versions
                .iter()
                .any(|(v, e)| eq(e.kek.expose_secret(), demo_secret(&kek_label(c, *v))))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_keys_are_recognised() {
        let d = demo_keystore(&["loans"], [0; 32], 0);
        assert!(holds_demo_keys(&d));
        let mut real = Keystore::generate("x", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
        assert!(!holds_demo_keys(&real));
        // One demo key mixed into a real keystore is enough to refuse it.
        real.classes.get_mut("loans").unwrap().versions.get_mut(&1).unwrap().kek =
            Kek::from_bytes(demo_secret(b"kek:loans:1"));
        assert!(holds_demo_keys(&real));
    }
}
