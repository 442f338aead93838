//! Answer sealing (HPKE, RFC 9180) through credseal's own API: the official known-answer
//! vector for our exact suite, key handling, and one tamper test per way a box can be altered.
//! (The deterministic-seal half of the known-answer test is a unit test in `src/seal.rs`: the
//! ephemeral key can only be injected from inside the crate.)

use credseal_core::{hex, unhex};
use credseal_crypto::{
    ANSWER_INFO_LABEL, SEALED_BOX_OVERHEAD, SealError, SealedBox, SealingKey, SealingPublicKey, answer_info, open, seal,
};
use proptest::prelude::*;

#[path = "rfc9180/vectors.rs"]
mod vectors;

fn unhex32(s: &str) -> [u8; 32] {
    unhex(s).unwrap().try_into().unwrap()
}

/// The suite vector's first encryption as a box, with its key, info and aad.
fn suite_vector() -> (SealingKey, Vec<u8>, Vec<u8>, SealedBox) {
    let v = &vectors::SUITE_KEM;
    let key = SealingKey::from_bytes(unhex32(v.sk_rm));
    let sealed = SealedBox {
        enc: unhex32(v.enc),
        ciphertext: unhex(vectors::SUITE_CT0).unwrap(),
    };
    (
        key,
        unhex(vectors::SUITE_INFO).unwrap(),
        unhex(vectors::SUITE_AAD0).unwrap(),
        sealed,
    )
}

fn sample() -> (SealingKey, Vec<u8>, SealedBox) {
    let key = SealingKey::generate();
    let info = answer_info("example/log", &[3; 16], Some(&[4; 32]));
    let sealed = seal(&key.public(), &info, b"aad", b"fields of the answer").unwrap();
    (key, info, sealed)
}

// --- RFC 9180 known answers -------------------------------------------------------------

#[test]
fn rfc9180_suite_vector_opens_through_our_open() {
    let (key, info, aad, sealed) = suite_vector();
    let pt = open(&key, &info, &aad, &sealed).unwrap();
    assert_eq!(hex(&pt), vectors::SUITE_PT0);
    assert_eq!(&pt[..], b"Beauty is truth, truth beauty");
    // And from the canonical byte encoding enc ‖ ct.
    let wire = unhex(&format!("{}{}", vectors::SUITE_KEM.enc, vectors::SUITE_CT0)).unwrap();
    let parsed = SealedBox::from_bytes(&wire).unwrap();
    assert_eq!(parsed, sealed);
    assert_eq!(parsed.to_bytes(), wire);
    assert_eq!(hex(&open(&key, &info, &aad, &parsed).unwrap()), vectors::SUITE_PT0);
}

#[test]
fn rfc9180_suite_vector_refuses_other_aad_info_and_key() {
    let (key, info, aad, sealed) = suite_vector();
    // Encryption 1's aad ("Count-1") and an empty aad.
    assert_eq!(
        open(&key, &info, b"Count-1", &sealed).unwrap_err(),
        SealError::OpenFailed
    );
    assert_eq!(open(&key, &info, b"", &sealed).unwrap_err(), SealError::OpenFailed);
    assert_eq!(
        open(&key, b"Ode on a Grecian Urn!", &aad, &sealed).unwrap_err(),
        SealError::OpenFailed
    );
    let other = SealingKey::from_bytes(unhex32(vectors::KEM_VECTORS[0].sk_rm));
    assert_eq!(open(&other, &info, &aad, &sealed).unwrap_err(), SealError::OpenFailed);
}

#[test]
fn rfc9180_recipient_keys_match_their_public_keys() {
    for v in &vectors::KEM_VECTORS {
        let key = SealingKey::from_bytes(unhex32(v.sk_rm));
        assert_eq!(key.public().to_hex(), v.pk_rm, "{}", v.name);
        assert_eq!(SealingPublicKey::from_bytes(&unhex32(v.pk_rm)).unwrap(), key.public());
        // enc is an ordinary public key too.
        SealingPublicKey::from_bytes(&unhex32(v.enc)).unwrap();
    }
}

// --- round trips and keys ----------------------------------------------------------------

#[test]
fn round_trip_including_empty_plaintext() {
    let key = SealingKey::generate();
    for pt in [&b""[..], b"x", &[0xa5; 3072]] {
        let sealed = seal(&key.public(), b"info", b"aad", pt).unwrap();
        assert_eq!(sealed.ciphertext.len(), pt.len() + 16);
        assert_eq!(sealed.to_bytes().len(), pt.len() + SEALED_BOX_OVERHEAD);
        assert_eq!(&open(&key, b"info", b"aad", &sealed).unwrap()[..], pt);
    }
}

#[test]
fn opens_only_with_the_right_key() {
    let (key, info, sealed) = sample();
    let other = SealingKey::generate();
    assert_eq!(open(&other, &info, b"aad", &sealed).unwrap_err(), SealError::OpenFailed);
    assert!(open(&key, &info, b"aad", &sealed).is_ok());
}

#[test]
fn sealing_key_is_clamped_and_keeps_its_public_key() {
    let raw = [0xffu8; 32];
    let key = SealingKey::from_bytes(raw);
    let s = key.expose_secret();
    assert_eq!(s[0] & 7, 0);
    assert_eq!(s[31] & 0xc0, 0x40);
    // Bytes that differ only in the clamped bits are the same key.
    let mut clamped = *s;
    clamped[0] |= 7;
    assert_eq!(SealingKey::from_bytes(clamped).public(), key.public());
}

#[test]
fn sealing_key_debug_prints_only_the_public_key() {
    let key = SealingKey::from_bytes([0x42; 32]);
    let dbg = format!("{key:?}");
    assert!(dbg.contains(&key.public().to_hex()), "{dbg}");
    assert!(!dbg.contains(&hex(key.expose_secret())), "{dbg}");
    let text = key.to_text();
    let b64 = text.rsplit('.').next().unwrap();
    assert!(!dbg.contains(b64), "{dbg}");
    assert_eq!(
        format!("{:?}", key.public()),
        format!("SealingPublicKey({})", key.public().to_hex())
    );
}

// --- tampering: one test per mutation -------------------------------------------------------

#[test]
fn wrong_info_fails() {
    let (key, info, sealed) = sample();
    let mut other = info.clone();
    *other.last_mut().unwrap() ^= 1;
    assert_eq!(open(&key, &other, b"aad", &sealed).unwrap_err(), SealError::OpenFailed);
    assert_eq!(
        open(&key, &info[..info.len() - 1], b"aad", &sealed).unwrap_err(),
        SealError::OpenFailed
    );
    assert_eq!(open(&key, b"", b"aad", &sealed).unwrap_err(), SealError::OpenFailed);
}

#[test]
fn wrong_aad_fails() {
    let (key, info, sealed) = sample();
    for aad in [&b""[..], b"aae", b"aad\0"] {
        assert_eq!(open(&key, &info, aad, &sealed).unwrap_err(), SealError::OpenFailed);
    }
}

#[test]
fn bit_flip_at_every_bit_of_enc_and_ciphertext_fails() {
    let (key, info, sealed) = sample();
    let wire = sealed.to_bytes();
    for i in 0..wire.len() {
        for bit in 0..8 {
            let mut bad = wire.clone();
            bad[i] ^= 1 << bit;
            let b = SealedBox::from_bytes(&bad).unwrap();
            assert_eq!(
                open(&key, &info, b"aad", &b).unwrap_err(),
                SealError::OpenFailed,
                "bit flip at byte {i}, bit {bit}"
            );
        }
    }
}

#[test]
fn truncated_fails() {
    let (key, info, sealed) = sample();
    let wire = sealed.to_bytes();
    for len in 0..SEALED_BOX_OVERHEAD {
        assert_eq!(
            SealedBox::from_bytes(&wire[..len]).unwrap_err(),
            SealError::Truncated {
                len,
                min: SEALED_BOX_OVERHEAD
            }
        );
    }
    for len in SEALED_BOX_OVERHEAD..wire.len() {
        let b = SealedBox::from_bytes(&wire[..len]).unwrap();
        assert_eq!(
            open(&key, &info, b"aad", &b).unwrap_err(),
            SealError::OpenFailed,
            "truncated to {len}"
        );
    }
    // A hand-built box whose ciphertext cannot even hold the tag.
    let short = SealedBox {
        enc: sealed.enc,
        ciphertext: sealed.ciphertext[..15].to_vec(),
    };
    assert_eq!(
        open(&key, &info, b"aad", &short).unwrap_err(),
        SealError::Truncated {
            len: 47,
            min: SEALED_BOX_OVERHEAD
        }
    );
}

#[test]
fn appended_garbage_fails() {
    let (key, info, sealed) = sample();
    let mut wire = sealed.to_bytes();
    wire.push(0);
    let b = SealedBox::from_bytes(&wire).unwrap();
    assert_eq!(open(&key, &info, b"aad", &b).unwrap_err(), SealError::OpenFailed);
}

#[test]
fn swapped_enc_between_two_boxes_fails() {
    let (key, info, a) = sample();
    let b = seal(&key.public(), &info, b"aad", b"fields of the answer").unwrap();
    let swapped = SealedBox {
        enc: b.enc,
        ciphertext: a.ciphertext.clone(),
    };
    assert_eq!(open(&key, &info, b"aad", &swapped).unwrap_err(), SealError::OpenFailed);
}

// --- non-contributory key exchanges ---------------------------------------------------------

#[test]
fn all_zero_public_key_is_refused() {
    assert_eq!(
        SealingPublicKey::from_bytes(&[0; 32]).unwrap_err(),
        SealError::LowOrderPublicKey
    );
    let mut one = [0; 32];
    one[0] = 1;
    assert_eq!(
        SealingPublicKey::from_bytes(&one).unwrap_err(),
        SealError::LowOrderPublicKey
    );
    assert_eq!(
        SealingPublicKey::from_slice(&[0; 31]).unwrap_err(),
        SealError::KeyLength { found: 31 }
    );
}

#[test]
fn non_canonical_public_key_is_refused() {
    let (key, _, _) = sample();
    let mut high = key.public().to_bytes();
    high[31] |= 0x80;
    assert_eq!(
        SealingPublicKey::from_bytes(&high).unwrap_err(),
        SealError::NonCanonicalPublicKey
    );
    // p + 9: the base point's u-coordinate, non-canonically.
    let mut p_plus_9 = [0xff; 32];
    p_plus_9[0] = 0xed + 9;
    p_plus_9[31] = 0x7f;
    assert_eq!(
        SealingPublicKey::from_bytes(&p_plus_9).unwrap_err(),
        SealError::NonCanonicalPublicKey
    );
    // The largest canonical value, p - 1, is canonical but of small order.
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    assert_eq!(
        SealingPublicKey::from_bytes(&p_minus_1).unwrap_err(),
        SealError::LowOrderPublicKey
    );
}

#[test]
fn all_zero_enc_is_non_contributory() {
    // hpke's own check (RFC 9180 §7.1.4), surfaced by our open.
    let (key, info, sealed) = sample();
    let zero = SealedBox {
        enc: [0; 32],
        ciphertext: sealed.ciphertext,
    };
    assert_eq!(
        open(&key, &info, b"aad", &zero).unwrap_err(),
        SealError::NonContributory
    );
}

// --- text forms -----------------------------------------------------------------------------

#[test]
fn key_texts_round_trip() {
    let key = SealingKey::generate();
    let text = key.to_text();
    assert!(text.starts_with("cs1.sealing-key."), "{}", text.as_str());
    assert_eq!(text.len(), "cs1.sealing-key.".len() + 43);
    let back = SealingKey::from_text(&format!("{}\n", text.as_str())).unwrap();
    assert_eq!(back.expose_secret(), key.expose_secret());

    let pk = key.public();
    let ptext = pk.to_text();
    assert!(ptext.starts_with("cs1.sealing-public-key."), "{ptext}");
    assert_eq!(SealingPublicKey::from_text(&ptext).unwrap(), pk);
    assert_eq!(format!("  {ptext}\r\n").parse::<SealingPublicKey>().unwrap(), pk);
    assert_eq!(pk.to_string(), pk.to_hex());
}

#[test]
fn key_text_wrong_kind_or_prefix_is_refused() {
    let key = SealingKey::generate();
    assert_eq!(
        SealingKey::from_text(&key.public().to_text()).unwrap_err(),
        SealError::WrongKeyLabel {
            expected: "sealing-key"
        }
    );
    assert_eq!(
        SealingPublicKey::from_text(&key.to_text()).unwrap_err(),
        SealError::WrongKeyLabel {
            expected: "sealing-public-key"
        }
    );
    assert_eq!(
        SealingPublicKey::from_text("cs1.public-key.AAAA").unwrap_err(),
        SealError::WrongKeyLabel {
            expected: "sealing-public-key"
        }
    );
    for bad in [
        "",
        "cs2.sealing-key.AAAA",
        "cs1sealing-key.AAAA",
        "cs1.sealing-key",
        "sealing-key.AAAA",
    ] {
        assert_eq!(
            SealingKey::from_text(bad).unwrap_err(),
            SealError::WrongPrefix,
            "{bad:?}"
        );
    }
}

#[test]
fn key_text_bad_base64_is_refused_with_its_offset() {
    let pk = SealingKey::generate().public();
    let text = pk.to_text();
    let start = "cs1.sealing-public-key.".len();
    // A character outside the URL-safe alphabet ('+' is standard base64), at payload byte 5.
    let mut bad = text.clone().into_bytes();
    bad[start + 5] = b'+';
    assert_eq!(
        SealingPublicKey::from_text(std::str::from_utf8(&bad).unwrap()).unwrap_err(),
        SealError::Base64 { offset: start + 5 }
    );
    // The offset counts from the start of the text, leading whitespace included.
    assert_eq!(
        SealingPublicKey::from_text(&format!(" {}", std::str::from_utf8(&bad).unwrap())).unwrap_err(),
        SealError::Base64 { offset: start + 6 }
    );
    // Padding.
    assert!(matches!(
        SealingPublicKey::from_text(&format!("{text}=")),
        Err(SealError::Base64 { .. })
    ));
    // Non-zero trailing bits: 43 symbols carry 258 bits for 256, so the last symbol's value
    // is a multiple of 4; the next symbol of the alphabet decodes to the same bytes plus a
    // stray bit.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *text.as_bytes().last().unwrap();
    let value = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(value % 4, 0);
    let mut nc = text.clone().into_bytes();
    *nc.last_mut().unwrap() = ALPHABET[value + 1];
    assert_eq!(
        SealingPublicKey::from_text(std::str::from_utf8(&nc).unwrap()).unwrap_err(),
        SealError::Base64 { offset: start + 42 }
    );
}

#[test]
fn key_text_wrong_length_is_refused() {
    // 31 and 33 bytes, validly encoded: "AAAA…" decodes to zeros.
    assert_eq!(
        SealingKey::from_text(&format!("cs1.sealing-key.{}", "A".repeat(42))).unwrap_err(),
        SealError::KeyLength { found: 31 }
    );
    assert_eq!(
        SealingKey::from_text(&format!("cs1.sealing-key.{}", "A".repeat(44))).unwrap_err(),
        SealError::KeyLength { found: 33 }
    );
    assert_eq!(
        SealingKey::from_text(&format!("cs1.sealing-key.{}", "A".repeat(1000))).unwrap_err(),
        SealError::KeyLength { found: 750 }
    );
    // A low-order public key in text form is refused after decoding.
    assert_eq!(
        SealingPublicKey::from_text(&format!("cs1.sealing-public-key.{}", "A".repeat(43))).unwrap_err(),
        SealError::LowOrderPublicKey
    );
}

// --- the answer's info ----------------------------------------------------------------------

#[test]
fn answer_info_layout() {
    let qid = [0x11; 16];
    let leaf = [0x22; 32];
    let mut want = b"credseal:v1:answer".to_vec();
    want.extend_from_slice(&[0x00, 0x00, 0x03]);
    want.extend_from_slice(b"org");
    want.extend_from_slice(&qid);
    want.push(0x00);
    assert_eq!(answer_info("org", &qid, None), want);
    want.pop();
    want.push(0x01);
    want.extend_from_slice(&leaf);
    assert_eq!(answer_info("org", &qid, Some(&leaf)), want);
    assert!(answer_info("org", &qid, None).starts_with(ANSWER_INFO_LABEL));
}

#[test]
fn answer_info_binds_origin_query_and_receipt() {
    let key = SealingKey::generate();
    let info = answer_info("example/log", &[1; 16], None);
    let sealed = seal(&key.public(), &info, b"", b"answer").unwrap();
    for other in [
        answer_info("example/log2", &[1; 16], None),
        answer_info("example/lo", &[1; 16], None),
        answer_info("example/log", &[2; 16], None),
        answer_info("example/log", &[1; 16], Some(&[0; 32])),
    ] {
        assert_ne!(other, info);
        assert_eq!(open(&key, &other, b"", &sealed).unwrap_err(), SealError::OpenFailed);
    }
    // The length prefix keeps origin and query id apart.
    let mut q = [0u8; 16];
    q[0] = b'g';
    assert_ne!(answer_info("lo", &q, None), answer_info("log", &[0; 16], None));
}

// --- properties -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_open_round_trip(
        pt in proptest::collection::vec(any::<u8>(), 0..4096),
        info in proptest::collection::vec(any::<u8>(), 0..256),
        aad in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let key = SealingKey::generate();
        let sealed = seal(&key.public(), &info, &aad, &pt).unwrap();
        let parsed = SealedBox::from_bytes(&sealed.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &sealed);
        prop_assert_eq!(&open(&key, &info, &aad, &parsed).unwrap()[..], &pt[..]);
    }
}
