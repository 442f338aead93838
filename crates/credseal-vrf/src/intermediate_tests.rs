//! RFC 9381 Appendix B.3 intermediate values (x, ctr, H, k, U, V), which the public API does
//! not expose. The same vectors' keys, pi and beta run through the public API in
//! `tests/rfc9381_vectors.rs`.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;

use crate::keys::expand_seed;
use crate::suite;

const VECTORS: &str = include_str!("../tests/vectors/rfc9381-b3.json");

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32 bytes")
}

#[test]
fn rfc9381_b3_intermediates() {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).expect("vector file is JSON");
    let vectors = doc["vectors"].as_array().expect("vectors array");
    assert_eq!(vectors.len(), 3, "Appendix B.3 has Examples 16, 17, 18");
    for v in vectors {
        let example = &v["example"];
        let field = |name: &str| v[name].as_str().expect(name).to_owned();

        let expanded = expand_seed(&hex32(&field("sk")));
        assert_eq!(*expanded.clamped, hex32(&field("x")), "x, example {example}");

        let pk = hex32(&field("pk"));
        let (h, ctr) = suite::encode_to_curve(&pk, &hex(&field("alpha"))).expect("H");
        let h_string = h.compress().to_bytes();
        assert_eq!(h_string, hex32(&field("h")), "H, example {example}");
        assert_eq!(
            u64::from(ctr),
            v["ctr"].as_u64().expect("ctr"),
            "ctr, example {example}"
        );

        let k_string = suite::nonce_string(&expanded.nonce_key, &h_string);
        assert_eq!(k_string.to_vec(), hex(&field("k_string")), "k, example {example}");

        let k = Scalar::from_bytes_mod_order_wide(&k_string);
        let u = EdwardsPoint::mul_base(&k).compress().to_bytes();
        let v_point = (h * k).compress().to_bytes();
        assert_eq!(u, hex32(&field("u")), "U = k*B, example {example}");
        assert_eq!(v_point, hex32(&field("v")), "V = k*H, example {example}");
    }
}

#[test]
fn string_to_point_rejects_non_canonical_y() {
    // y = p + 1 (≡ 1, the identity's y) encoded without reduction: p = 2^255 - 19.
    let mut y = [0xffu8; 32];
    y[0] = 0xee; // p + 1 = 2^255 - 18 → low byte 0xee
    y[31] = 0x7f;
    assert!(curve25519_dalek::edwards::CompressedEdwardsY(y).decompress().is_some());
    assert!(suite::string_to_point(&y).is_none());
}

#[test]
fn string_to_point_rejects_negative_zero_x() {
    // The identity (x = 0, y = 1) with the sign bit of x set.
    let mut y = [0u8; 32];
    y[0] = 1;
    y[31] = 0x80;
    assert!(curve25519_dalek::edwards::CompressedEdwardsY(y).decompress().is_some());
    assert!(suite::string_to_point(&y).is_none());
}
