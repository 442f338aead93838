//! Wycheproof AES-GCM vectors through credseal's AEAD layer (`credseal_crypto::aead`), the
//! functions every wrapped DEK, record and keystore goes through.

use credseal_crypto::aead::{open_in_place, seal_in_place};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn wycheproof_aes_256_gcm_through_our_layer() {
    let set = TestSet::load(TestName::AesGcm).expect("vectors load");
    let (mut valid, mut invalid) = (0, 0);
    for group in set.test_groups {
        // Our layer is AES-256 with 96-bit nonces and 128-bit tags only.
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in group.tests {
            let key: &[u8; 32] = t.key.as_slice().try_into().unwrap();
            let nonce: &[u8; 12] = t.nonce.as_slice().try_into().unwrap();
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let mut buf = ct_tag.clone();
            let opened = open_in_place(key, nonce, &t.aad, &mut buf);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert!(opened.is_ok(), "tc {} should open", t.tc_id);
                    assert_eq!(buf, t.pt.to_vec(), "tc {} plaintext", t.tc_id);
                    let mut s = t.pt.to_vec();
                    seal_in_place(key, nonce, &t.aad, &mut s);
                    assert_eq!(s, ct_tag, "tc {} seal", t.tc_id);
                    valid += 1;
                }
                TestResult::Invalid => {
                    assert!(opened.is_err(), "tc {} must be rejected", t.tc_id);
                    assert!(buf.is_empty(), "tc {}: no plaintext released on failure", t.tc_id);
                    invalid += 1;
                }
            }
        }
    }
    assert!(
        valid > 20 && invalid > 10,
        "ran {valid} valid and {invalid} invalid vectors"
    );
}
