//! RFC 9381 Appendix B.3 known answers through the public API, and a tamper test for every
//! part of a key and a proof (named after the mutation).

use credseal_vrf::{OUTPUT_LEN, PROOF_LEN, PUBLIC_KEY_LEN, VrfError, VrfProof, VrfPublicKey, VrfSecretKey};
use curve25519_dalek::edwards::CompressedEdwardsY;

/// RFC 9381 Appendix B.3, Examples 16–18 (see the file's `source` field).
const VECTORS: &str = include_str!("vectors/rfc9381-b3.json");

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Encodings of the eight points of small order on edwards25519 (orders 1, 2, 4, 4 and
/// four of order 8).
const SMALL_ORDER_POINTS: [&str; 8] = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

struct Vector {
    example: u64,
    sk: [u8; 32],
    pk: Vec<u8>,
    alpha: Vec<u8>,
    pi: Vec<u8>,
    beta: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
    assert_eq!(doc["suite_string"], "03");
    doc["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .map(|v| {
            let field = |name: &str| hex(v[name].as_str().expect(name));
            Vector {
                example: v["example"].as_u64().expect("example"),
                sk: field("sk").try_into().expect("32-byte sk"),
                pk: field("pk"),
                alpha: field("alpha"),
                pi: field("pi"),
                beta: field("beta"),
            }
        })
        .collect()
}

/// Example 16: the key, input and proof the tamper tests start from.
fn example_16() -> (VrfPublicKey, Vec<u8>, [u8; PROOF_LEN]) {
    let v = vectors().into_iter().next().expect("Example 16");
    assert_eq!(v.example, 16);
    let pk = VrfPublicKey::from_bytes(&v.pk).expect("Example 16 public key");
    (pk, v.alpha, v.pi.try_into().expect("80-byte pi"))
}

/// Verifies the (possibly mutated) proof bytes against Example 16's key and input.
fn verify_bytes(pk: &VrfPublicKey, alpha: &[u8], pi: &[u8]) -> Result<(), VrfError> {
    let proof = VrfProof::from_bytes(pi)?;
    pk.verify(alpha, &proof).map(|_| ())
}

#[test]
fn rfc9381_b3_all_examples() {
    let vectors = vectors();
    assert_eq!(vectors.iter().map(|v| v.example).collect::<Vec<_>>(), [16, 17, 18]);
    for v in vectors {
        let ex = v.example;
        let sk = VrfSecretKey::from_seed(v.sk);
        assert_eq!(sk.public_key().as_bytes()[..], v.pk[..], "PK, example {ex}");

        let proof = sk.prove(&v.alpha).expect("prove");
        assert_eq!(proof.as_bytes()[..], v.pi[..], "pi, example {ex}");
        assert_eq!(proof.proof_to_hash().as_bytes()[..], v.beta[..], "beta, example {ex}");

        // The verifier's side: only the published bytes.
        let pk = VrfPublicKey::from_bytes(&v.pk).expect("valid public key");
        let parsed = VrfProof::from_bytes(&v.pi).expect("valid proof encoding");
        assert_eq!(parsed, proof);
        assert_eq!(
            parsed.proof_to_hash().as_bytes()[..],
            v.beta[..],
            "proof_to_hash, example {ex}"
        );
        let beta = pk.verify(&v.alpha, &parsed).expect("RFC proof verifies");
        assert_eq!(beta.as_bytes().len(), OUTPUT_LEN);
        assert_eq!(beta.as_bytes()[..], v.beta[..], "verify's beta, example {ex}");
    }
}

#[test]
fn proof_bit_flips_in_gamma_rejected() {
    let (pk, alpha, pi) = example_16();
    for bit in 0..32 * 8 {
        let mut bad = pi;
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = verify_bytes(&pk, &alpha, &bad).expect_err("flipped Gamma must not verify");
        assert!(
            matches!(err, VrfError::ProofGammaEncoding | VrfError::ProofMismatch),
            "Gamma bit {bit}: {err:?}"
        );
    }
}

#[test]
fn proof_bit_flips_in_c_rejected() {
    let (pk, alpha, pi) = example_16();
    for bit in 32 * 8..48 * 8 {
        let mut bad = pi;
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            verify_bytes(&pk, &alpha, &bad),
            Err(VrfError::ProofMismatch),
            "c bit {bit}"
        );
    }
}

#[test]
fn proof_bit_flips_in_s_rejected() {
    let (pk, alpha, pi) = example_16();
    for bit in 48 * 8..80 * 8 {
        let mut bad = pi;
        bad[bit / 8] ^= 1 << (bit % 8);
        let err = verify_bytes(&pk, &alpha, &bad).expect_err("flipped s must not verify");
        if bit - 48 * 8 >= 253 {
            // s < L < 2^253: setting bit 253, 254 or 255 makes s ≥ L.
            assert_eq!(err, VrfError::ProofScalarNotCanonical, "s bit {bit}");
        } else {
            assert!(
                matches!(err, VrfError::ProofMismatch | VrfError::ProofScalarNotCanonical),
                "s bit {bit}: {err:?}"
            );
        }
    }
}

#[test]
fn proof_s_plus_l_rejected() {
    // s + L ≡ s (mod L): a verifier that reduced s would accept this second encoding.
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(bad[48 + i]) + u16::from(L[i]) + carry;
        bad[48 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "s + L fits in 256 bits");
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofScalarNotCanonical));
}

#[test]
fn proof_s_equal_l_rejected() {
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    bad[48..].copy_from_slice(&L);
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofScalarNotCanonical));
}

#[test]
fn proof_s_all_ones_rejected() {
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    bad[48..].fill(0xff);
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofScalarNotCanonical));
}

#[test]
fn proof_wrong_public_key() {
    let v = vectors();
    let other_pk = VrfPublicKey::from_bytes(&v[1].pk).expect("Example 17 public key");
    let proof = VrfProof::from_bytes(&v[0].pi).expect("Example 16 proof");
    assert_eq!(other_pk.verify(&v[0].alpha, &proof), Err(VrfError::ProofMismatch));
}

#[test]
fn proof_wrong_alpha() {
    let (pk, _alpha, pi) = example_16();
    assert_eq!(verify_bytes(&pk, b"\x72", &pi), Err(VrfError::ProofMismatch));
    assert_eq!(verify_bytes(&pk, b"\x00", &pi), Err(VrfError::ProofMismatch));
}

#[test]
fn proof_swapped_between_examples() {
    // Example 17's proof under Example 16's key and input.
    let (pk, alpha, _pi) = example_16();
    let v = vectors();
    assert_eq!(verify_bytes(&pk, &alpha, &v[1].pi), Err(VrfError::ProofMismatch));
}

#[test]
fn proof_truncated() {
    let (pk, alpha, pi) = example_16();
    assert_eq!(
        verify_bytes(&pk, &alpha, &pi[..79]),
        Err(VrfError::ProofLength { len: 79 })
    );
    assert_eq!(
        verify_bytes(&pk, &alpha, &pi[..48]),
        Err(VrfError::ProofLength { len: 48 })
    );
    assert_eq!(verify_bytes(&pk, &alpha, &[]), Err(VrfError::ProofLength { len: 0 }));
}

#[test]
fn proof_appended_garbage() {
    let (pk, alpha, pi) = example_16();
    let mut long = pi.to_vec();
    long.push(0);
    assert_eq!(verify_bytes(&pk, &alpha, &long), Err(VrfError::ProofLength { len: 81 }));
}

#[test]
fn proof_gamma_non_canonical_y_rejected() {
    // y = p + 1 ≡ 1: a second encoding of the identity, which plain decompression accepts.
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    bad[..32].copy_from_slice(&non_canonical_identity());
    assert!(CompressedEdwardsY(non_canonical_identity()).decompress().is_some());
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofGammaEncoding));
}

#[test]
fn proof_gamma_negative_zero_x_rejected() {
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    bad[..32].copy_from_slice(&negative_zero_identity());
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofGammaEncoding));
}

#[test]
fn proof_gamma_non_canonical_y_of_large_order_point_rejected() {
    // The canonical point with the same y, put in Gamma, decodes; its y + p encoding must not.
    let (y, non_canonical) = large_order_point_with_small_y();
    let (pk, alpha, pi) = example_16();
    let mut good_encoding = pi;
    good_encoding[..32].copy_from_slice(&y);
    assert_eq!(
        verify_bytes(&pk, &alpha, &good_encoding),
        Err(VrfError::ProofMismatch),
        "canonical Gamma decodes (and then fails the challenge)"
    );
    let mut bad = pi;
    bad[..32].copy_from_slice(&non_canonical);
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofGammaEncoding));
}

#[test]
fn proof_gamma_not_on_curve_rejected() {
    let (pk, alpha, pi) = example_16();
    let mut bad = pi;
    bad[..32].copy_from_slice(&not_on_curve());
    assert_eq!(verify_bytes(&pk, &alpha, &bad), Err(VrfError::ProofGammaEncoding));
}

#[test]
fn public_key_small_order_rejected() {
    for point in SMALL_ORDER_POINTS {
        let bytes = hex(point);
        let decoded = CompressedEdwardsY(bytes.clone().try_into().expect("32 bytes"))
            .decompress()
            .expect("small-order point decodes");
        assert!(decoded.is_small_order(), "{point} has small order");
        assert_eq!(
            VrfPublicKey::from_bytes(&bytes),
            Err(VrfError::PublicKeySmallOrder),
            "{point}"
        );
    }
}

#[test]
fn public_key_non_canonical_y_rejected() {
    assert_eq!(
        VrfPublicKey::from_bytes(&non_canonical_identity()),
        Err(VrfError::PublicKeyEncoding)
    );
    let (y, non_canonical) = large_order_point_with_small_y();
    // The canonical encoding of that y is not an encoding error.
    assert_ne!(VrfPublicKey::from_bytes(&y).err(), Some(VrfError::PublicKeyEncoding));
    assert_eq!(
        VrfPublicKey::from_bytes(&non_canonical),
        Err(VrfError::PublicKeyEncoding)
    );
}

#[test]
fn public_key_negative_zero_x_rejected() {
    assert_eq!(
        VrfPublicKey::from_bytes(&negative_zero_identity()),
        Err(VrfError::PublicKeyEncoding)
    );
}

#[test]
fn public_key_not_on_curve_rejected() {
    assert_eq!(
        VrfPublicKey::from_bytes(&not_on_curve()),
        Err(VrfError::PublicKeyEncoding)
    );
}

#[test]
fn public_key_truncated() {
    let (pk, _, _) = example_16();
    assert_eq!(
        VrfPublicKey::from_bytes(&pk.as_bytes()[..31]),
        Err(VrfError::PublicKeyLength { len: 31 })
    );
    let mut long = pk.as_bytes().to_vec();
    long.push(0);
    assert_eq!(
        VrfPublicKey::from_bytes(&long),
        Err(VrfError::PublicKeyLength {
            len: PUBLIC_KEY_LEN + 1
        })
    );
}

#[test]
fn secret_key_debug_is_redacted() {
    let seed = [0xa5u8; 32];
    let sk = VrfSecretKey::from_seed(seed);
    let shown = format!("{sk:?}");
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(
        !shown.to_lowercase().contains("a5a5a5"),
        "seed must not be printed: {shown}"
    );
}

#[test]
fn errors_name_the_part() {
    assert_eq!(
        VrfError::ProofScalarNotCanonical.to_string(),
        "VRF proof: s (bytes 48..80) is not a canonical scalar (s >= L)"
    );
    assert_eq!(
        VrfError::ProofLength { len: 79 }.to_string(),
        "VRF proof is 79 bytes, expected 80"
    );
}

/// y = p + 1 (p = 2^255 − 19), an unreduced encoding of y = 1 (the identity).
fn non_canonical_identity() -> [u8; 32] {
    let mut y = [0xffu8; 32];
    y[0] = 0xee;
    y[31] = 0x7f;
    y
}

/// The identity (x = 0, y = 1) with the sign bit of x set.
fn negative_zero_identity() -> [u8; 32] {
    let mut y = [0u8; 32];
    y[0] = 1;
    y[31] = 0x80;
    y
}

/// A canonical encoding of a point of large order whose y < 19, and the same y written as
/// y + p (which fits in 255 bits and which plain decompression accepts).
fn large_order_point_with_small_y() -> ([u8; 32], [u8; 32]) {
    for y in 2u8..19 {
        let mut enc = [0u8; 32];
        enc[0] = y;
        let Some(point) = CompressedEdwardsY(enc).decompress() else {
            continue;
        };
        if point.is_small_order() {
            continue;
        }
        // y + p = y + 2^255 − 19 = (2^255 − 1) − (18 − y): little-endian 0xff… with the
        // low byte 0xff − (18 − y) and the top bit clear.
        let mut plus_p = [0xffu8; 32];
        plus_p[0] = 0xff - (18 - y);
        plus_p[31] = 0x7f;
        assert!(CompressedEdwardsY(plus_p).decompress().is_some());
        return (enc, plus_p);
    }
    panic!("no large-order point with y < 19");
}

/// 32 bytes that are no curve point's y coordinate.
fn not_on_curve() -> [u8; 32] {
    for y in 2u8..=255 {
        let mut enc = [0u8; 32];
        enc[0] = y;
        if CompressedEdwardsY(enc).decompress().is_none() {
            return enc;
        }
    }
    panic!("every small y is on the curve");
}
