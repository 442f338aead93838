//! Tampered, truncated, padded and mislabelled objects: none ever verifies.

mod common;

use common::*;
use credseal_auth::{
    BundleRequest, Consent, Credential, Denial, FormatError, Kind, RevocationList, SelfQuery, SigError, SignedBody,
    SigningKey, Token, Unverified, sign, signed_bytes, verify_query, verify_signature,
};

/// The whole query path with this token: it must be refused, and as tampering.
fn assert_refused_as_forgery(w: &World, token: Result<Unverified<Token>, FormatError>, what: &str) {
    let authority = w.authority.public();
    let d = match token {
        Err(e) => Denial::from(e),
        Ok(t) => match verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)) {
            Ok(_) => panic!("{what}: tampered token verified"),
            Err(d) => d,
        },
    };
    assert!(d.is_forgery(), "{what}: {d:?}");
}

#[test]
fn token_bit_flip_every_byte() {
    let w = World::new();
    let bytes = sign(&w.consented_token(&w.consent()), &w.dept).to_bytes();
    let mut n = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert_refused_as_forgery(&w, Unverified::parse_bytes(&b), &format!("byte {i} bit {bit}"));
            n += 1;
        }
    }
    assert!(n > 8 * 300, "{n}");
}

#[test]
fn token_text_bit_flip_every_char() {
    let w = World::new();
    let text = sign(&w.token(), &w.dept).to_text();
    for i in 0..text.len() {
        for bit in 0..7 {
            let mut b = text.clone().into_bytes();
            b[i] ^= 1 << bit;
            // Keep to ASCII so the input is a `str`; every flip of a 7-bit char is ASCII.
            let t = String::from_utf8(b).unwrap();
            assert_refused_as_forgery(&w, Unverified::parse_text(&t), &format!("char {i} bit {bit}"));
        }
    }
}

#[test]
fn token_last_char_trailing_bits_rejected() {
    // Every other final base64 symbol: either it changes signature bits (refused by the
    // signature check) or it differs only in bits the decoder would drop (a non-canonical
    // alias, refused by the base64 check). Both must be refused; aliases must exist.
    let w = World::new();
    // Lengthen the legal basis until the payload ends in a partial quantum of each size
    // (2 and 3 symbols: 4 and 2 dropped bits).
    let mut residues = std::collections::BTreeSet::new();
    for extra in 0..3 {
        let t = Token {
            legal_basis: format!("application 17{}", "x".repeat(extra)),
            ..w.token()
        };
        let text = sign(&t, &w.dept).to_text();
        let payload_len = text.len() - "cs1.token.".len();
        if !payload_len.is_multiple_of(4) {
            residues.insert(payload_len % 4);
            last_char_aliases_refused(&w, &text);
        }
    }
    assert_eq!(residues, [2, 3].into());
}

fn last_char_aliases_refused(w: &World, text: &str) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *text.as_bytes().last().unwrap();
    let mut aliases = 0;
    for &c in ALPHABET.iter().filter(|&&c| c != last) {
        let mut t = text.to_string();
        t.pop();
        t.push(c as char);
        let parsed = Unverified::<Token>::parse_text(&t);
        if let Err(FormatError::Base64 { offset }) = &parsed {
            assert_eq!(*offset, text.len() - 1);
            aliases += 1;
        }
        assert_refused_as_forgery(w, parsed, &format!("last char {}", c as char));
    }
    assert!(aliases >= 3, "{aliases}");
}

#[test]
fn token_truncated_every_length() {
    let w = World::new();
    let s = sign(&w.token(), &w.dept);
    let bytes = s.to_bytes();
    for n in 0..bytes.len() {
        assert!(Unverified::<Token>::parse_bytes(&bytes[..n]).is_err(), "bytes[..{n}]");
    }
    let text = s.to_text();
    for n in 0..text.len() {
        assert!(Unverified::<Token>::parse_text(&text[..n]).is_err(), "text[..{n}]");
    }
    assert_eq!(
        Unverified::<Token>::parse_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        FormatError::Truncated { what: "envelope" }
    );
}

#[test]
fn token_padded() {
    let w = World::new();
    let s = sign(&w.token(), &w.dept);
    let text = s.to_text();
    for pad in ["=", "==", "===", "A", "AA", "AAAA", " ", "\n", "."] {
        let t = format!("{text}{pad}");
        let e = Unverified::<Token>::parse_text(&t).unwrap_err();
        assert!(
            matches!(e, FormatError::Base64 { .. } | FormatError::TrailingBytes { .. }),
            "{pad:?}: {e:?}"
        );
    }
    for extra in [&[0u8][..], &[0, 0], &[1], &[0xff; 64]] {
        let mut b = s.to_bytes();
        b.extend_from_slice(extra);
        assert_eq!(
            Unverified::<Token>::parse_bytes(&b).unwrap_err(),
            FormatError::TrailingBytes {
                what: "envelope",
                count: extra.len()
            }
        );
    }
    // Leading garbage.
    assert_eq!(
        Unverified::<Token>::parse_text(&format!(" {text}")).unwrap_err(),
        FormatError::WrongPrefix
    );
}

#[test]
fn token_with_standard_base64_alphabet_rejected() {
    let w = World::new();
    // Find a token whose base64url uses '-' or '_', then use the standard alphabet's '+' '/'.
    for i in 0..64u8 {
        let t = Token {
            query_id: [i; 16],
            ..w.token()
        };
        let text = sign(&t, &w.dept).to_text();
        if text.contains(['-', '_']) {
            let std = text.replace('-', "+").replace('_', "/");
            assert!(matches!(
                Unverified::<Token>::parse_text(&std),
                Err(FormatError::Base64 { .. })
            ));
            return;
        }
    }
    panic!("no token with '-' or '_' found");
}

#[test]
fn consent_presented_as_token() {
    let w = World::new();
    let consent = sign(&w.consent(), &w.subject_key);
    // As text: the label says consent.
    assert_eq!(
        Unverified::<Token>::parse_text(&consent.to_text()).unwrap_err(),
        FormatError::WrongKind {
            expected: Kind::Token,
            found: Kind::Consent
        }
    );
    // As bytes: the tag says consent.
    assert_eq!(
        Unverified::<Token>::parse_bytes(consent.as_bytes()).unwrap_err(),
        FormatError::WrongKind {
            expected: Kind::Token,
            found: Kind::Consent
        }
    );
    // Relabelled text: the label now says token, the tag still says consent.
    let relabelled = consent.to_text().replacen("cs1.consent.", "cs1.token.", 1);
    assert_eq!(
        Unverified::<Token>::parse_text(&relabelled).unwrap_err(),
        FormatError::WrongKind {
            expected: Kind::Token,
            found: Kind::Consent
        }
    );
    let d = Denial::from(Unverified::<Token>::parse_text(&consent.to_text()).unwrap_err());
    assert_eq!(d.code(), "malformed");
    assert_eq!(d.to_string(), "malformed object: expected a token, found a consent");
}

#[test]
fn consent_retagged_as_token_fails_signature() {
    // Change the envelope's kind tag too: it parses, but the signature covered "consent".
    let w = World::new();
    let mut b = sign(&w.consent(), &w.subject_key).to_bytes();
    assert_eq!(b[1], Kind::Consent.tag());
    b[1] = Kind::Token.tag();
    // And the envelope version to the token's (consents are of a newer version).
    b[0] = Kind::Token.wire_version();
    let u = Unverified::<Token>::parse_bytes(&b).unwrap();
    assert_eq!(u.verify(&w.subject_key.public()).unwrap_err(), SigError::BadSignature);
}

#[test]
fn unknown_label_and_prefix() {
    for (t, e) in [
        ("cs1.tokens.AAAA", FormatError::UnknownKind),
        ("cs1.Token.AAAA", FormatError::UnknownKind),
        ("cs2.token.AAAA", FormatError::WrongPrefix),
        ("cs1token.AAAA", FormatError::WrongPrefix),
        ("cs1.token", FormatError::WrongPrefix),
        ("", FormatError::WrongPrefix),
    ] {
        assert_eq!(Unverified::<Token>::parse_text(t).unwrap_err(), e, "{t}");
    }
}

fn sign_as<T: SignedBody>(body: &T, key: &SigningKey) -> (Vec<u8>, [u8; 64]) {
    // The body bytes are postcard(body); the signature is the envelope's last 64 bytes.
    let s = sign(body, key);
    let b = s.to_bytes();
    let sig: [u8; 64] = b[b.len() - 64..].try_into().unwrap();
    let body_bytes = postcard::to_allocvec(body).unwrap();
    assert!(b[..b.len() - 64].ends_with(&body_bytes));
    (body_bytes, sig)
}

#[test]
fn signatures_never_verify_as_another_kind() {
    let w = World::new();
    let key = &w.subject_key;
    let pk = key.public();
    let objects: Vec<(Kind, Vec<u8>, [u8; 64])> = vec![
        with_kind(&w.credential(), key),
        with_kind(&w.token(), key),
        with_kind(&w.consent(), key),
        with_kind(
            &RevocationList {
                version: 1,
                issued_at: NOW,
                audience: ORIGIN.into(),
                revoked: [(1, 2)].into(),
            },
            key,
        ),
        with_kind(
            &SelfQuery {
                query_id: [1; 16],
                subject: SUBJECT.into(),
                classes: set(&["identity"]),
                issued_at: NOW,
                expires_at: NOW + 1,
                audience: ORIGIN.into(),
                sealing_key: [2; 32],
            },
            key,
        ),
        with_kind(
            &BundleRequest {
                request_id: [1; 16],
                subject: SUBJECT.into(),
                issued_at: NOW,
                expires_at: NOW + 1,
                audience: ORIGIN.into(),
                last_tree_size: 0,
            },
            key,
        ),
        with_kind(
            &credseal_auth::StaffRequest {
                request_id: [1; 16],
                role: "responder".into(),
                staff_key: pk,
                action: "trace".into(),
                input_digest: [3; 32],
                issued_at: NOW,
                expires_at: NOW + 1,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::ShredOrder {
                reference: "CR-1".into(),
                subject: SUBJECT.into(),
                class: "loans".into(),
                record_id: "LN-1".into(),
                issued_at: NOW,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::StaffOrder {
                order_id: [1; 16],
                operation: "remove officer off-a".into(),
                issued_at: NOW,
                expires_at: NOW + 1,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::IngestBatch::new("prov-a".into(), pk, ORIGIN.into(), NOW, [1; 16], "{}\n".into()),
            key,
        ),
        with_kind(
            &credseal_auth::ProviderCredential {
                serial: 1,
                provider_id: "prov-a".into(),
                provider_name: "Provider A".into(),
                provider_key: pk,
                classes: ["loans".to_string()].into(),
                record_prefix: String::new(),
                not_before: NOW,
                not_after: NOW + 1,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::ConsentWithdrawal {
                consent_id: [4; 16],
                subject: SUBJECT.into(),
                issued_at: NOW,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::Objection {
                objection_id: [5; 16],
                subject: SUBJECT.into(),
                class: "loans".into(),
                record_id: "LN-1".into(),
                kind: "objection".into(),
                reason: "not my loan".into(),
                issued_at: NOW,
                audience: ORIGIN.into(),
            },
            key,
        ),
        with_kind(
            &credseal_auth::ObjectionAnswer {
                objection_id: [5; 16],
                reason: "checked against the contract".into(),
                outcome: "upheld".into(),
                issued_at: NOW,
                audience: ORIGIN.into(),
            },
            key,
        ),
    ];
    assert_eq!(objects.len(), Kind::ALL.len());
    let mut cross = 0;
    for (kind, body, sig) in &objects {
        assert_eq!(verify_signature(*kind, body, sig, &pk), Ok(()));
        // Without the domain prefix the signature is worthless too.
        assert!(!credseal_auth::verify_raw_strict(pk.as_bytes(), body, sig));
        assert!(credseal_auth::verify_raw_strict(
            pk.as_bytes(),
            &signed_bytes(*kind, body),
            sig
        ));
        for other in Kind::ALL.into_iter().filter(|k| k != kind) {
            assert_eq!(
                verify_signature(other, body, sig, &pk),
                Err(SigError::BadSignature),
                "{kind} as {other}"
            );
            cross += 1;
        }
    }
    assert_eq!(cross, 182);
}

fn with_kind<T: SignedBody>(body: &T, key: &SigningKey) -> (Kind, Vec<u8>, [u8; 64]) {
    let (b, s) = sign_as(body, key);
    (T::KIND, b, s)
}

#[test]
fn token_signed_by_wrong_key_at_object_level() {
    let w = World::new();
    let u = Unverified::<Token>::parse_bytes(sign(&w.token(), &w.dept).as_bytes()).unwrap();
    assert!(u.verify(&w.dept.public()).is_ok());
    for other in [&w.authority, &w.subject_key] {
        assert_eq!(u.verify(&other.public()).unwrap_err(), SigError::BadSignature);
    }
}

#[test]
fn peek_unverified_does_not_check_the_signature() {
    let w = World::new();
    let forged = sign(&w.token(), &SigningKey::from_seed(&[66; 32]));
    let u = Unverified::<Token>::parse_bytes(forged.as_bytes()).unwrap();
    // Peeking works (that is the point: find the credential), verifying does not.
    assert_eq!(u.peek_unverified().unwrap().credential_serial, 42);
    assert_eq!(u.digest(), forged.digest());
    assert!(u.verify(&w.dept.public()).is_err());
}

#[test]
fn text_and_bytes_round_trip_for_every_kind() {
    let w = World::new();
    let c = sign(&w.credential(), &w.authority);
    let u = Unverified::<Credential>::parse_text(&c.to_text()).unwrap();
    assert_eq!(u.as_bytes(), c.as_bytes());
    assert_eq!(u.to_text(), c.to_text());
    assert_eq!(u.verify(&w.authority.public()).unwrap().into_body(), w.credential());
    let k = sign(&w.consent(), &w.subject_key);
    assert_eq!(k.kind(), Kind::Consent);
    let u = Unverified::<Consent>::parse_bytes(k.as_bytes()).unwrap();
    assert_eq!(u.verify(&w.subject_key.public()).unwrap().body(), &w.consent());
}

#[test]
fn token_signature_malleated_s_plus_order_rejected() {
    // s' = s + ℓ verifies under lax (non-strict, or `legacy_compatibility`) rules; ours must
    // refuse it. Guards against a feature of ed25519-dalek being switched on elsewhere.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let w = World::new();
    for i in 0..32u8 {
        let t = Token {
            query_id: [i; 16],
            ..w.token()
        };
        let mut b = sign(&t, &w.dept).to_bytes();
        let n = b.len();
        let s = &mut b[n - 32..];
        let mut carry = 0u16;
        for (x, l) in s.iter_mut().zip(L) {
            let v = u16::from(*x) + u16::from(l) + carry;
            *x = v as u8;
            carry = v >> 8;
        }
        // s < ℓ < 2^253, so s + ℓ < 2^254 fits in 32 bytes without carry out.
        assert_eq!(carry, 0);
        let u = Unverified::<Token>::parse_bytes(&b).unwrap();
        assert_eq!(u.verify(&w.dept.public()).unwrap_err(), SigError::BadSignature);
    }
}
