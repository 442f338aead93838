//! Recognising the public demo keys of `keys-example/`, so that a platform can refuse them
//! unless started with `--demo`. The keys are derived from a published seed (the derivation
//! and the demo keystore itself are `credseal-testkit`'s); this module only recomputes them
//! to compare, and exports nothing but [`holds_demo_keys`].

use crate::envelope::hkdf32;
use crate::keystore::Keystore;

/// The published seed (`credseal_testkit::demo::DEMO_SEED`). Everything derived from it is public.
const DEMO_SEED: &[u8] = b"credseal keys-example: PUBLIC demo keys, never for production";

/// The demo secret for `label`, as `credseal_testkit::demo::demo_secret` derives it.
fn demo_secret(label: &[u8]) -> [u8; 32] {
    *hkdf32(DEMO_SEED, b"credseal:v1:demo", &[label])
}

fn kek_label(class: &str, version: u32) -> Vec<u8> {
    format!("kek:{class}:{version}").into_bytes()
}

/// Whether any key in `ks` is a public demo key.
pub fn holds_demo_keys(ks: &Keystore) -> bool {
    let eq = |a: &[u8; 32], b: [u8; 32]| bool::from(subtle::ConstantTimeEq::ct_eq(&a[..], &b[..]));
    eq(ks.index_key.expose_secret(), demo_secret(b"index"))
        || eq(ks.trace_key.expose_secret(), demo_secret(b"trace"))
        || ks
            .log_seed()
            .is_some_and(|s| eq(s.expose_secret(), demo_secret(b"log")))
        || eq(ks.vrf_key.expose_secret(), demo_secret(b"vrf"))
        || ks.classes.iter().any(|(c, keys)| {
            keys.versions.iter().any(|(v, e)| match &e.kek {
                crate::KekKey::Software(k) => eq(k.expose_secret(), demo_secret(&kek_label(c, *v))),
                crate::KekKey::Token(_) => false,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::KdfParams;
    use crate::secret::{IndexKey, Kek};

    // The demo keystore itself is credseal-testkit's; its tests check that every key of it
    // is recognised here.
    #[test]
    fn demo_keys_are_recognised() {
        let mut real = Keystore::generate("x", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
        assert!(!holds_demo_keys(&real));
        // One demo key mixed into a real keystore is enough to refuse it.
        real.classes.get_mut("loans").unwrap().versions.get_mut(&1).unwrap().kek =
            crate::KekKey::Software(Kek::from_bytes(demo_secret(b"kek:loans:1")));
        assert!(holds_demo_keys(&real));
        let mut real = Keystore::generate("x", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
        real.index_key = IndexKey::from_bytes(demo_secret(b"index"));
        assert!(holds_demo_keys(&real));
        let mut real = Keystore::generate("x", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
        real.vrf_key = crate::blind::VrfKey::from_seed(demo_secret(b"vrf"));
        assert!(holds_demo_keys(&real));
    }
}
