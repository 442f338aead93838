use credseal_core::BlindId;
use proptest::prelude::*;

use base64::Engine as _;
use credseal_c2sp::{ed25519_key_id, record_hash};

use super::*;
use crate::receipt::{Action, Actor, Chain, Outcome, RECEIPT_VERSION};

const ORIGIN: &str = "credseal.example/log";

// The example of Go's golang.org/x/mod/sumdb/note package documentation (x/mod v0.7.0,
// sumdb/note/note.go), also used by its tests (and by credseal-c2sp's).
const GO_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_MSG: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/// A note signature line `— <name> <base64(key id ‖ signature)>\n`, built by hand.
fn signature_line(name: &str, key_id: u32, signature: &[u8]) -> String {
    let raw = [&key_id.to_be_bytes()[..], signature].concat();
    format!(
        "\u{2014} {name} {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn signer() -> LogSigner {
    LogSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

pub(crate) fn body(counter: u64, prev: Option<[u8; 32]>) -> ReceiptBody {
    ReceiptBody {
        index: 5,
        time: 1_750_000_000,
        actor: Actor::Department {
            id: "bank-a".into(),
            credential_serial: 3,
        },
        action: Action::Query,
        detail: String::new(),
        subject: Some(BlindId([9; 32])),
        classes: ["identity".to_string(), "loans".to_string()].into(),
        purpose: "loan-approval".into(),
        token_hash: Some([1; 32]),
        outcome: Outcome::Granted,
        release_digest: Some([2; 32]),
        salt: [3; 16],
        chain: Some(Chain { counter, prev }),
        disclose_after: None,
        flags: 0,
    }
}

#[test]
fn go_note_example_known_answer() {
    // Go's `note` package documentation: our signer reproduces its signed note byte for
    // byte (Ed25519 is deterministic) and our verifier accepts it.
    let s = LogSigner::from_signer_key_text(GO_SKEY).unwrap();
    assert_eq!(s.origin(), "PeterNeumann");
    assert_eq!(s.vkey(), GO_VKEY);
    assert_eq!(s.key_id(), 0xc74f20a3);
    assert_eq!(s.local_note().sign(GO_TEXT).unwrap(), GO_MSG);
    assert_eq!(s.to_signer_key_text().unwrap().as_str(), GO_SKEY);
    let v = LogVerifier::from_vkey(GO_VKEY).unwrap();
    assert_eq!(v.verify_note(GO_MSG).unwrap().text(), GO_TEXT);
    // Not a checkpoint body.
    assert!(matches!(
        v.verify_checkpoint(GO_MSG),
        Err(VerifyError::Format(FormatError::C2sp(
            credseal_c2sp::FormatError::Checkpoint { .. }
        )))
    ));
}

#[test]
fn key_texts_are_checked() {
    let wrong_id = GO_SKEY.replace("c74f20a3", "c74f20a4");
    assert_eq!(
        LogSigner::from_signer_key_text(&wrong_id).unwrap_err(),
        FormatError::C2sp(credseal_c2sp::FormatError::KeyText {
            reason: "the key id does not match the key"
        })
    );
    assert!(LogSigner::from_signer_key_text(GO_VKEY).is_err());
    let wrong_id = GO_VKEY.replace("c74f20a3", "c74f20a4");
    assert!(LogVerifier::from_vkey(&wrong_id).is_err());
    // Another name with the same key: another key id.
    assert!(LogVerifier::from_vkey(&GO_VKEY.replace("PeterNeumann", "PeterNeumanm")).is_err());
    let v = signer().verifier();
    assert_eq!(
        LogVerifier::from_vkey(&format!("{}\n", v.vkey())).unwrap().vkey(),
        v.vkey()
    );
    assert!(LogSigner::from_seed("bad origin", &[1; 32]).is_err());
    let dbg = format!("{:?}", signer());
    assert!(dbg.contains(&signer().vkey()) && !dbg.contains("PRIVATE"), "{dbg}");
}

#[test]
fn receipt_layout_is_as_documented() {
    let s = signer();
    let b = body(1, None);
    let r = s.sign_receipt(&b).unwrap();
    let bytes = r.as_bytes();
    let header = crate::ReceiptHeader {
        index: b.index,
        time: b.time,
        subject: b.subject,
        chain: b.chain,
        disclose_after: b.disclose_after,
        content_hash: [0; 32],
    };
    let content = postcard::to_allocvec(&(
        &b.actor,
        &b.action,
        &b.detail,
        &b.classes,
        &b.purpose,
        &b.token_hash,
        &b.outcome,
        &b.release_digest,
        &b.salt,
        &b.flags,
    ))
    .unwrap();
    let hashed = [&b"credseal:v1:receipt-content\0"[..], &content].concat();
    let header = crate::ReceiptHeader {
        content_hash: crate::codec::sha256(&hashed),
        ..header
    };
    let hb = postcard::to_allocvec(&header).unwrap();
    assert_eq!(bytes[0], RECEIPT_VERSION);
    assert_eq!(RECEIPT_VERSION, 3);
    assert_eq!(&bytes[1..1 + hb.len()], &hb[..]);
    assert_eq!(&bytes[1 + hb.len()..1 + hb.len() + content.len()], &content[..]);
    assert_eq!(bytes.len(), 1 + hb.len() + content.len() + 64);
    assert_eq!(r.header_bytes(), &bytes[..1 + hb.len()]);
    let msg = [&b"credseal:v1:receipt\0\x03"[..], &hb].concat();
    assert!(credseal_auth::verify_raw_strict(
        s.public().as_bytes(),
        &msg,
        &bytes[bytes.len() - 64..]
    ));
    assert_eq!(r.signature(), &bytes[bytes.len() - 64..]);
    // The Merkle leaf is the header and signature, without the content.
    let leaf_data = [&bytes[..1 + hb.len()], &bytes[bytes.len() - 64..]].concat();
    assert_eq!(r.leaf_data(), leaf_data);
    assert_eq!(r.leaf_hash(), record_hash(&leaf_data));
    assert_eq!(r.leaf_hash(), crate::receipt_leaf_hash(r.header_bytes(), r.signature()));
    assert_ne!(r.leaf_hash(), record_hash(bytes));
    assert_eq!(UnverifiedReceipt::parse(bytes).unwrap().leaf_hash(), r.leaf_hash());
    let v = s.verifier().verify_receipt(bytes).unwrap();
    assert_eq!(v.body(), &b);
    assert_eq!(v, r);
    // The header alone verifies, and says what the receipt says about its place.
    assert_eq!(
        s.verifier().verify_header(r.header_bytes(), r.signature()).unwrap(),
        header
    );
}

#[test]
fn header_signature_and_rules_are_checked() {
    let s = signer();
    let v = s.verifier();
    let r = s.sign_receipt(&body(1, None)).unwrap();
    let mut sig = r.signature().to_vec();
    sig[3] ^= 1;
    assert_eq!(
        v.verify_header(r.header_bytes(), &sig).unwrap_err(),
        VerifyError::BadSignature
    );
    assert!(matches!(
        v.verify_header(r.header_bytes(), &sig[..63]),
        Err(VerifyError::Format(FormatError::Truncated { .. }))
    ));
    let other = LogSigner::from_seed(ORIGIN, &[43; 32]).unwrap();
    let r2 = other.sign_receipt(&body(1, None)).unwrap();
    assert_eq!(
        v.verify_header(r2.header_bytes(), r2.signature()).unwrap_err(),
        VerifyError::BadSignature
    );
    // The log refuses to sign a delay beyond the maximum, or a date before the time.
    let b = body(1, None);
    let late = ReceiptBody {
        disclose_after: Some(b.time + crate::MAX_DISCLOSE_DELAY_SECS + 1),
        ..b.clone()
    };
    assert!(matches!(s.sign_receipt(&late), Err(FormatError::Receipt { .. })));
    let early = ReceiptBody {
        disclose_after: Some(b.time - 1),
        ..b.clone()
    };
    assert!(matches!(s.sign_receipt(&early), Err(FormatError::Receipt { .. })));
    let max = ReceiptBody {
        disclose_after: Some(b.time + crate::MAX_DISCLOSE_DELAY_SECS),
        ..b
    };
    assert!(s.sign_receipt(&max).is_ok());
}

#[test]
fn receipt_signed_by_another_key_is_refused() {
    let r = signer().sign_receipt(&body(1, None)).unwrap();
    let other = LogSigner::from_seed(ORIGIN, &[43; 32]).unwrap().verifier();
    assert_eq!(
        other.verify_receipt(r.as_bytes()).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn receipt_chain_rules_are_enforced_when_signing() {
    let s = signer();
    for (b, reason) in [
        (body(0, None), "chain counter 0 (counters start at 1)"),
        (
            body(1, Some([0; 32])),
            "a previous hash is present exactly when the counter is above 1",
        ),
        (
            body(2, None),
            "a previous hash is present exactly when the counter is above 1",
        ),
        (
            ReceiptBody {
                subject: None,
                ..body(1, None)
            },
            "a chained receipt without subject",
        ),
    ] {
        assert_eq!(s.sign_receipt(&b).unwrap_err(), FormatError::Receipt { reason });
    }
    let huge = ReceiptBody {
        detail: "x".repeat(MAX_RECEIPT_LEN),
        ..body(1, None)
    };
    assert!(matches!(s.sign_receipt(&huge), Err(FormatError::TooLarge { .. })));
}

/// Signs arbitrary header and content bytes as the log would, to test what verification
/// does with well-signed garbage.
fn sign_raw(s: &LogSigner, header: &[u8], content: &[u8]) -> Vec<u8> {
    let sig = s.local_key().sign(&receipt_signed_bytes(header)).to_bytes();
    [header, content, &sig].concat()
}

/// The header of `b` with `content_hash` over `content`, encoded.
fn header_over(b: &ReceiptBody, content: &[u8]) -> Vec<u8> {
    let (bytes, len) = b.encode();
    let mut h = crate::ReceiptHeader::decode(&bytes[..len]).unwrap();
    h.content_hash = crate::content_hash(content);
    h.encode()
}

#[test]
fn well_signed_but_malformed_bodies_are_refused_after_the_signature() {
    let s = signer();
    let v = s.verifier();
    let b = body(1, None);
    let (good, len) = b.encode();
    let content = &good[len..];
    // Trailing byte after the content (the header's hash covers it).
    let c = [content, &[0]].concat();
    let r = sign_raw(&s, &header_over(&b, &c), &c);
    assert_eq!(
        v.verify_receipt(&r).unwrap_err(),
        VerifyError::Format(FormatError::TrailingBytes {
            what: "receipt content",
            count: 1
        })
    );
    // Over-long varint: the last field, flags = 0, as two bytes.
    let mut nc = content.to_vec();
    *nc.last_mut().unwrap() = 0x80;
    nc.push(0);
    let r = sign_raw(&s, &header_over(&b, &nc), &nc);
    assert_eq!(
        v.verify_receipt(&r).unwrap_err(),
        VerifyError::Format(FormatError::NonCanonical {
            what: "receipt content"
        })
    );
    // A content that is not the one the signed header's hash names.
    let mut other = b.clone();
    other.purpose = "law-enforcement".into();
    let (o, olen) = other.encode();
    let r = sign_raw(&s, &good[..len], &o[olen..]);
    assert_eq!(v.verify_receipt(&r).unwrap_err(), VerifyError::BadSignature);
    assert_eq!(
        UnverifiedReceipt::parse(&r).unwrap().peek_unverified().unwrap_err(),
        FormatError::Receipt {
            reason: "the content does not match the header's content hash"
        }
    );
    // Chain rule broken in a signed header.
    let mut h = crate::ReceiptHeader::decode(&good[..len]).unwrap();
    h.chain = Some(Chain { counter: 0, prev: None });
    let r = sign_raw(&s, &h.encode(), content);
    assert!(matches!(
        v.verify_receipt(&r),
        Err(VerifyError::Format(FormatError::Receipt { .. }))
    ));
    // A signed header with a delay beyond the maximum.
    let mut h = crate::ReceiptHeader::decode(&good[..len]).unwrap();
    h.disclose_after = Some(h.time + crate::MAX_DISCLOSE_DELAY_SECS + 1);
    let r = sign_raw(&s, &h.encode(), content);
    assert_eq!(
        v.verify_receipt(&r).unwrap_err(),
        VerifyError::Format(FormatError::Receipt {
            reason: "a disclosure delay beyond the maximum of 366 days"
        })
    );
    // Another version (checked before the signature); versions 1 and 2 have their own error.
    let mut r = s.sign_receipt(&body(1, None)).unwrap().into_bytes();
    r[0] = 4;
    assert_eq!(
        v.verify_receipt(&r).unwrap_err(),
        VerifyError::Format(FormatError::UnsupportedVersion {
            what: "receipt",
            found: 4
        })
    );
    for found in [1, 2] {
        r[0] = found;
        let e = v.verify_receipt(&r).unwrap_err();
        assert_eq!(e, VerifyError::Format(FormatError::ObsoleteReceipt { found }));
        assert!(
            e.to_string().contains(&format!("receipt format version {found} ")),
            "{e}"
        );
    }
    assert_eq!(
        v.verify_receipt(&r[..60]).unwrap_err(),
        VerifyError::Format(FormatError::Truncated { what: "receipt" })
    );
}

#[test]
fn checkpoint_sign_and_verify() {
    let s = signer();
    let v = s.verifier();
    let cp = Checkpoint::new(ORIGIN, 7, [5; 32]).unwrap();
    let note = s.sign_checkpoint(&cp);
    assert!(note.starts_with(&cp.to_text()));
    assert!(note.contains(&format!("\n\n\u{2014} {ORIGIN} ")), "{note}");
    assert_eq!(v.verify_checkpoint(&note).unwrap(), cp);
    assert_eq!(v.key_id(), ed25519_key_id(ORIGIN, s.public().as_bytes()));
}

#[test]
fn checkpoint_signed_by_another_key_is_not_signed_by_the_log() {
    let other = LogSigner::from_seed(ORIGIN, &[43; 32]).unwrap();
    let note = other.sign_checkpoint(&Checkpoint::new(ORIGIN, 7, [5; 32]).unwrap());
    assert_eq!(
        signer().verifier().verify_checkpoint(&note).unwrap_err(),
        VerifyError::NotSignedByLogKey
    );
}

#[test]
fn checkpoint_with_forged_key_id_is_a_bad_signature() {
    // Another key signs, but claims the log's key id: a signature line of the log's key
    // that does not verify.
    let s = signer();
    let other = LogSigner::from_seed(ORIGIN, &[43; 32]).unwrap();
    let cp = Checkpoint::new(ORIGIN, 7, [5; 32]).unwrap();
    let sig = other.local_key().sign(cp.to_text().as_bytes()).to_bytes();
    let note = format!("{}\n{}", cp.to_text(), signature_line(ORIGIN, s.key_id(), &sig));
    assert_eq!(
        s.verifier().verify_checkpoint(&note).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn checkpoint_body_altered_fails() {
    let s = signer();
    let note = s.sign_checkpoint(&Checkpoint::new(ORIGIN, 7, [5; 32]).unwrap());
    let altered = note.replacen("\n7\n", "\n8\n", 1);
    assert_eq!(
        s.verifier().verify_checkpoint(&altered).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn unknown_signatures_are_ignored_and_cosignatures_allowed() {
    let s = signer();
    let witness = LogSigner::from_seed("witness.example", &[44; 32]).unwrap();
    let cp = Checkpoint::new(ORIGIN, 7, [5; 32]).unwrap();
    let note = s.sign_checkpoint(&cp);
    let wline = witness.local_note().sign(&cp.to_text()).unwrap();
    let wline = wline.rsplit_once("\n\n").unwrap().1;
    for n in [
        format!("{note}{wline}"),
        format!("{}\n{wline}{}", cp.to_text(), note.rsplit_once("\n\n").unwrap().1),
    ] {
        assert_eq!(s.verifier().verify_checkpoint(&n).unwrap(), cp);
        assert_eq!(witness.verifier().verify_note(&n).unwrap().text(), cp.to_text());
    }
    // The log's own line repeated is fine; a second, broken line of the log key is not.
    let line = note.rsplit_once("\n\n").unwrap().1;
    assert!(s.verifier().verify_checkpoint(&format!("{note}{line}")).is_ok());
    let broken = signature_line(ORIGIN, s.key_id(), &[0; 64]);
    assert_eq!(
        s.verifier().verify_checkpoint(&format!("{note}{broken}")).unwrap_err(),
        VerifyError::BadSignature
    );
}

#[test]
fn checkpoint_of_another_origin_is_refused() {
    let s = signer();
    let note = s.sign_checkpoint(&Checkpoint::new("other.example/log", 7, [5; 32]).unwrap());
    assert_eq!(
        s.verifier().verify_checkpoint(&note).unwrap_err(),
        VerifyError::OriginMismatch {
            expected: ORIGIN.into(),
            found: "other.example/log".into()
        }
    );
}

fn arb_body() -> impl Strategy<Value = ReceiptBody> {
    (
        any::<u64>(),
        any::<u64>(),
        prop_oneof![
            ("[a-z-]{0,12}", any::<u64>())
                .prop_map(|(id, credential_serial)| Actor::Department { id, credential_serial }),
            Just(Actor::Subject),
            "[a-z]{0,8}".prop_map(|id| Actor::Officer { id }),
            "[a-z]{0,8}".prop_map(|id| Actor::Responder { id }),
            Just(Actor::Platform),
            "[a-z]{0,8}".prop_map(|id| Actor::Source { id }),
        ],
        prop::sample::select(vec![
            Action::Query,
            Action::SelfQuery,
            Action::Ingest,
            Action::Correction,
            Action::KeyEvent,
            Action::Shred,
            Action::Trace,
            Action::Admin,
        ]),
        ".{0,20}",
        prop::collection::btree_set("[a-z]{1,10}", 0..4),
        prop_oneof![
            Just(Outcome::Granted),
            Just(Outcome::Done),
            "[a-z-]{1,12}".prop_map(|code| Outcome::Denied { code })
        ],
        (any::<Option<[u8; 32]>>(), any::<Option<[u8; 32]>>(), any::<[u8; 16]>()),
        prop::option::of((1u64..1000, any::<[u8; 32]>(), any::<[u8; 32]>())),
        // A delay after `time`, within the maximum the receipt rules allow.
        (prop::option::of(0..=crate::MAX_DISCLOSE_DELAY_SECS), any::<u32>()),
    )
        .prop_map(
            |(
                index,
                time,
                actor,
                action,
                detail,
                classes,
                outcome,
                (token_hash, release_digest, salt),
                chain,
                (disclose_after, flags),
            )| {
                ReceiptBody {
                    index,
                    time,
                    actor,
                    action,
                    detail,
                    subject: chain.map(|(_, _, s)| BlindId(s)),
                    classes,
                    purpose: "loan-approval".into(),
                    token_hash,
                    outcome,
                    release_digest,
                    salt,
                    chain: chain.map(|(counter, prev, _)| Chain {
                        counter,
                        prev: (counter > 1).then_some(prev),
                    }),
                    disclose_after: disclose_after.and_then(|d| time.checked_add(d)),
                    flags,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn receipt_sign_verify_and_every_byte_flip_fails(b in arb_body(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let s = signer();
        let v = s.verifier();
        let r = s.sign_receipt(&b).unwrap();
        prop_assert_eq!(v.verify_receipt(r.as_bytes()).unwrap().body().clone(), b);
        let mut bad = r.as_bytes().to_vec();
        let i = at.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(v.verify_receipt(&bad).is_err());
        prop_assert!(v.verify_receipt(&r.as_bytes()[..i]).is_err());
    }

    #[test]
    fn checkpoint_note_round_trip(size in 0u64..=credseal_c2sp::MAX_TREE_SIZE, root in any::<[u8; 32]>(), ext in prop::collection::vec("[ -~]{1,30}", 0..3)) {
        let s = signer();
        let mut cp = Checkpoint::new(ORIGIN, size, root).unwrap();
        for e in &ext {
            cp = cp.with_extension(e).unwrap();
        }
        let note = s.sign_checkpoint(&cp);
        prop_assert_eq!(s.verifier().verify_checkpoint(&note).unwrap(), cp);
    }

    #[test]
    fn note_parsing_never_panics(text in "(?s).{0,300}") {
        let _ = SignedNote::parse(&text);
        let _ = Checkpoint::parse(&text);
        let _ = signer().verifier().verify_checkpoint(&text);
    }
}
