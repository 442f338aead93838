//! A subject's bundle (`receipts verify`): wire and text form, then the full offline check
//! against a fixed log key, VRF key and subject.
#![no_main]

use std::sync::LazyLock;

use credseal_core::SubjectId;
use credseal_log::{Bundle, BundleSubject, LogSigner, LogVerifier, verify_bundle};
use credseal_vrf::VrfSecretKey;
use libfuzzer_sys::fuzz_target;

static LOG: LazyLock<LogVerifier> = LazyLock::new(|| {
    LogSigner::from_seed("fuzz.credseal.invalid/log", &[3; 32])
        .expect("log key")
        .verifier()
});
static SUBJECT: LazyLock<BundleSubject> = LazyLock::new(|| {
    let vrf = VrfSecretKey::from_seed([5; 32]).public_key();
    BundleSubject::new(SubjectId::parse("11010519491231002X").expect("subject id"), vrf)
});

fuzz_target!(|data: &[u8]| {
    let mut bundles = Vec::new();
    if let Ok(b) = Bundle::from_bytes(data) {
        // Canonical: what parses re-encodes to the same bytes.
        assert_eq!(b.to_bytes(), data);
        bundles.push(b);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(b) = Bundle::from_text(text)
    {
        bundles.push(b);
    }
    if bundles.is_empty() {
        return;
    }
    for b in &bundles {
        let _ = verify_bundle(b, &LOG, &SUBJECT, None, 1_800_000_000);
    }
});
