//! Wycheproof Ed25519 vectors through `verify_raw_strict`, the primitive under every
//! signature check of this crate (`verify_signature` → `Unverified::verify` → the verifier).

use credseal_auth::verify_raw_strict;
use wycheproof::TestResult;
use wycheproof::eddsa::{TestName, TestSet};

#[test]
fn wycheproof_ed25519_through_our_verification() {
    let set = TestSet::load(TestName::Ed25519).expect("vectors load");
    let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
    for group in set.test_groups {
        let pk = &group.key.pk;
        for t in group.tests {
            let ok = verify_raw_strict(pk, &t.msg, &t.sig);
            match t.result {
                TestResult::Valid => {
                    assert!(ok, "tc {} ({}) must verify", t.tc_id, t.comment);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(!ok, "tc {} ({}) must be rejected", t.tc_id, t.comment);
                    invalid += 1;
                }
                // Wycheproof marks no Ed25519 case "acceptable" today; if one appears, strict
                // verification must reject it (we accept only what is unambiguously valid).
                TestResult::Acceptable => {
                    assert!(!ok, "tc {} ({}) acceptable: strict rejects", t.tc_id, t.comment);
                    acceptable += 1;
                }
            }
        }
    }
    eprintln!("wycheproof ed25519: {valid} valid, {invalid} invalid, {acceptable} acceptable");
    assert!(valid > 0 && invalid > 0, "{valid} valid, {invalid} invalid");
}

#[test]
fn wycheproof_valid_signatures_do_not_verify_with_domain_separation() {
    // A signature over a raw message is not a credseal signature of any kind.
    let set = TestSet::load(TestName::Ed25519).expect("vectors load");
    let mut n = 0;
    for group in set.test_groups {
        let Ok(pk) = credseal_auth::PublicKey::from_slice(&group.key.pk) else {
            continue;
        };
        for t in group.tests.iter().filter(|t| t.result == TestResult::Valid) {
            let Ok(sig) = <[u8; 64]>::try_from(&t.sig[..]) else {
                continue;
            };
            for kind in credseal_auth::Kind::ALL {
                assert!(credseal_auth::verify_signature(kind, &t.msg, &sig, &pk).is_err());
                n += 1;
            }
        }
    }
    assert!(n > 0);
}
