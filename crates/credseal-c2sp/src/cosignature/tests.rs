use super::*;
use crate::b64::b64std_decode;
use crate::note::signature_line as raw_line;
use crate::{Checkpoint, NoteSigner};

// A known answer computed with Go (crypto/ed25519, crypto/sha256, encoding/base64 of the Go
// 1.19 standard library), independently of this crate: the seed, name, checkpoint body (the
// C2SP tlog-checkpoint example) and timestamp (the tlog-cosignature example's) below give
// this key id, these key texts and this signature line.
const GO_SEED: &[u8; 32] = b"credseal witness test vector 001";
const GO_NAME: &str = "witness.example/w1";
const GO_BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const GO_TIME: u64 = 1679315147;
const GO_KEY_ID: u32 = 0x1bb81bb5;
const GO_VKEY: &str = "witness.example/w1+1bb81bb5+BK9/MwW7V5MZz4oUcOX+bRNbuwgc4C7IRuwaVIKJmu+L";
const GO_SKEY: &str = "PRIVATE+KEY+witness.example/w1+1bb81bb5+BGNyZWRzZWFsIHdpdG5lc3MgdGVzdCB2ZWN0b3IgMDAx";
const GO_LINE: &str = "\u{2014} witness.example/w1 G7gbtQAAAABkGFDLGMP9s8rFEFKX7+3LN7XOy1HJL3MXZ914/SBTYa7qqWSQ/YIAj2Q4lEy0/M14ghilmp4fKZg6R0D4nCCA7HfBDw==\n";

const LOG: &str = "example.com/behind-the-sofa";

fn key() -> CosignerKey {
    CosignerKey::from_seed("witness.test/w", &[9; 32]).unwrap()
}

/// A checkpoint note signed by a log key, for the body `GO_BODY`.
fn log_note() -> (NoteSigner, String) {
    let log = NoteSigner::from_seed(LOG, &[1; 32]).unwrap();
    let note = log.sign(GO_BODY).unwrap();
    (log, note)
}

fn parse(s: &str) -> SignedNote {
    SignedNote::parse(s).unwrap()
}

#[test]
fn go_known_answer() {
    let k = CosignerKey::from_seed(GO_NAME, GO_SEED).unwrap();
    assert_eq!(k.key_id(), GO_KEY_ID);
    assert_eq!(cosignature_key_id(GO_NAME, &k.public_key()), GO_KEY_ID);
    assert_eq!(k.vkey(), GO_VKEY);
    assert_eq!(k.to_key_text().as_str(), GO_SKEY);
    assert_eq!(k.cosign(GO_BODY, GO_TIME).unwrap(), GO_LINE);
    assert_eq!(CosignerKey::from_key_text(GO_SKEY).unwrap().vkey(), GO_VKEY);
    let v = CosignatureVerifier::from_vkey(GO_VKEY).unwrap();
    assert_eq!(v, k.verifier());
    assert_eq!((v.name(), v.key_id()), (GO_NAME, GO_KEY_ID));
    let (_, note) = log_note();
    assert_eq!(v.verify(&parse(&format!("{note}{GO_LINE}"))).unwrap(), Some(GO_TIME));
    // The cosigned message of the specification's example.
    assert_eq!(
        cosigned_message(GO_BODY, GO_TIME),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

#[test]
fn round_trip_beside_the_log_signature() {
    let (log, note) = log_note();
    let k = key();
    let cosigned = format!("{note}{}", k.cosign(GO_BODY, 1_800_000_000).unwrap());
    let n = parse(&cosigned);
    assert_eq!(k.verifier().verify(&n).unwrap(), Some(1_800_000_000));
    // The log's own verifier ignores the cosigner's line.
    assert_eq!(log.verifier().verify(&cosigned).unwrap().text(), GO_BODY);
    // A note without the cosignature has none.
    assert_eq!(k.verifier().verify(&parse(&note)).unwrap(), None);
    // Key text round trip.
    let again = CosignerKey::from_key_text(&format!("{}\n", k.to_key_text().as_str())).unwrap();
    assert_eq!(again.vkey(), k.vkey());
    assert_eq!(CosignatureVerifier::from_vkey(&k.vkey()).unwrap(), k.verifier());
    assert_eq!(
        CosignatureVerifier::new(k.name(), &k.public_key()).unwrap(),
        k.verifier()
    );
    let dbg = format!("{k:?}");
    assert!(dbg.contains(&k.vkey()) && !dbg.contains("PRIVATE"), "{dbg}");
}

/// The cosignature line's raw bytes (key id ‖ timestamp ‖ signature) with `f` applied, as a
/// line again.
fn mutate_line(line: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let (name, b64) = line.trim_end().trim_start_matches("\u{2014} ").split_once(' ').unwrap();
    let mut raw = b64std_decode(b64, "test", 0).unwrap();
    f(&mut raw);
    let id = u32::from_be_bytes(raw[..4].try_into().unwrap());
    raw_line(name, id, &raw[4..])
}

#[test]
fn cosignature_bit_flip_in_body_timestamp_or_signature_fails() {
    let (_, note) = log_note();
    let k = key();
    let line = k.cosign(GO_BODY, 1_800_000_000).unwrap();
    let v = k.verifier();
    // The body: another size.
    let altered = format!("{note}{line}").replacen("20852163", "20852164", 1);
    assert_eq!(v.verify(&parse(&altered)).unwrap_err(), NoteError::BadSignature);
    // The timestamp (its last byte) and the signature (its first and last bytes).
    for at in [4 + 7, 4 + 8, 4 + 8 + 63] {
        let bad = mutate_line(&line, |raw| raw[at] ^= 1);
        assert_eq!(
            v.verify(&parse(&format!("{note}{bad}"))).unwrap_err(),
            NoteError::BadSignature,
            "bit flip at {at}"
        );
    }
    // A second line of the same key that fails spoils the first.
    let bad = mutate_line(&line, |raw| raw[20] ^= 0x80);
    assert_eq!(
        v.verify(&parse(&format!("{note}{line}{bad}"))).unwrap_err(),
        NoteError::BadSignature
    );
}

#[test]
fn malformed_cosignatures_are_errors() {
    let (_, note) = log_note();
    let k = key();
    let v = k.verifier();
    let line = k.cosign(GO_BODY, 1_800_000_000).unwrap();
    // Truncated and padded.
    for f in [
        (|raw: &mut Vec<u8>| {
            raw.pop();
        }) as fn(&mut Vec<u8>),
        |raw| raw.push(0),
    ] {
        let bad = mutate_line(&line, f);
        assert!(matches!(
            v.verify(&parse(&format!("{note}{bad}"))).unwrap_err(),
            NoteError::Format(FormatError::Cosignature { .. })
        ));
    }
    // A timestamp of 0 or with the top bit set.
    for ts in [0u64, 1 << 63] {
        let bad = mutate_line(&line, |raw| raw[4..12].copy_from_slice(&ts.to_be_bytes()));
        assert!(matches!(
            v.verify(&parse(&format!("{note}{bad}"))).unwrap_err(),
            NoteError::Format(FormatError::Cosignature { .. })
        ));
    }
    // Such timestamps are never signed either.
    assert!(k.cosign(GO_BODY, 0).is_err());
    assert!(k.cosign(GO_BODY, 1 << 63).is_err());
    assert!(k.cosign(GO_BODY, (1 << 63) - 1).is_ok());
    // Nor texts that cannot be a note body.
    assert!(k.cosign("no newline", 1).is_err());
    assert!(k.cosign("a\0b\n", 1).is_err());
}

#[test]
fn lines_under_another_key_id_or_name_are_ignored() {
    let (_, note) = log_note();
    let k = key();
    let other = CosignerKey::from_seed(k.name(), &[10; 32]).unwrap();
    assert_ne!(other.key_id(), k.key_id());
    let line = other.cosign(GO_BODY, 5).unwrap();
    assert_eq!(k.verifier().verify(&parse(&format!("{note}{line}"))).unwrap(), None);
    // A broken line under another key id is not ours to judge.
    let bad = mutate_line(&line, |raw| raw[30] ^= 1);
    assert_eq!(k.verifier().verify(&parse(&format!("{note}{bad}"))).unwrap(), None);
    // Our key id under another name is another key too.
    let renamed = k
        .cosign(GO_BODY, 5)
        .unwrap()
        .replacen("witness.test/w", "witness.test/x", 1);
    assert_eq!(k.verifier().verify(&parse(&format!("{note}{renamed}"))).unwrap(), None);
    // The same key as a note signer (type 0x01) has another key id: not a cosignature.
    let as_note = NoteSigner::from_seed(k.name(), &[9; 32]).unwrap();
    assert_ne!(as_note.key_id(), k.key_id());
    let n = parse(&as_note.sign(GO_BODY).unwrap());
    assert_eq!(k.verifier().verify(&n).unwrap(), None);
}

#[test]
fn two_cosignatures_give_the_latest_time() {
    let (_, note) = log_note();
    let k = key();
    let a = k.cosign(GO_BODY, 100).unwrap();
    let b = k.cosign(GO_BODY, 200).unwrap();
    assert_eq!(
        k.verifier().verify(&parse(&format!("{note}{b}{a}"))).unwrap(),
        Some(200)
    );
}

#[test]
fn vkey_parsing_errors() {
    let k = key();
    // A log's (0x01) verifier key is not a cosigner key, and says so.
    let log = NoteSigner::from_seed(LOG, &[1; 32]).unwrap();
    let e = CosignatureVerifier::from_vkey(&log.vkey()).unwrap_err();
    assert!(e.to_string().contains("not a cosigner key"), "{e}");
    // And a cosigner key is not a log key.
    let e = crate::NoteVerifier::from_vkey(&k.vkey()).unwrap_err();
    assert!(e.to_string().contains("cosigner"), "{e}");
    assert!(CosignerKey::from_key_text(&log.to_signer_key_text()).is_err());
    // Key id mismatch, for the public and the private text.
    let wrong = GO_VKEY.replace("1bb81bb5", "1bb81bb6");
    assert_eq!(
        CosignatureVerifier::from_vkey(&wrong).unwrap_err(),
        FormatError::KeyText {
            reason: "the key id does not match the key"
        }
    );
    assert!(CosignerKey::from_key_text(&GO_SKEY.replace("1bb81bb5", "1bb81bb6")).is_err());
    // Another name, same key: another key id.
    assert!(CosignatureVerifier::from_vkey(&GO_VKEY.replace("w1", "w2")).is_err());
    // Bad names, shapes and keys.
    assert!(CosignerKey::from_seed("bad name", &[1; 32]).is_err());
    assert!(CosignerKey::from_seed("a+b", &[1; 32]).is_err());
    assert!(CosignatureVerifier::from_vkey("witness.example/w1+1bb81bb5").is_err());
    assert!(CosignatureVerifier::from_vkey(&GO_VKEY.to_uppercase()).is_err());
    assert!(CosignerKey::from_key_text(GO_VKEY).is_err());
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(CosignatureVerifier::new("w", &identity).is_err());
    assert!(CosignatureVerifier::new("w", &[0xff; 32]).is_err());
    // 31 key bytes.
    let short = format!("w+{:08x}+{}", 0, b64std_encode(&[COSIGNATURE_V1_ALG; 32]));
    assert_eq!(
        CosignatureVerifier::from_vkey(&short).unwrap_err(),
        FormatError::KeyText {
            reason: "an Ed25519 cosigner key is 32 bytes"
        }
    );
    // Surrounding whitespace is fine.
    assert_eq!(
        CosignatureVerifier::from_vkey(&format!(" {GO_VKEY}\n")).unwrap().vkey(),
        GO_VKEY
    );
}

#[test]
fn a_checkpoint_cosigned_round_trips_through_checkpoint_parse() {
    let cp = Checkpoint::new(LOG, 3, [7; 32]).unwrap();
    let log = NoteSigner::from_seed(LOG, &[1; 32]).unwrap();
    let note = log.sign(&cp.to_text()).unwrap();
    let k = key();
    let cosigned = format!("{note}{}", k.cosign(&cp.to_text(), 42).unwrap());
    let n = parse(&cosigned);
    assert_eq!(Checkpoint::parse(n.text()).unwrap(), cp);
    assert_eq!(k.verifier().verify(&n).unwrap(), Some(42));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn cosign_verify_round_trip(size in 0u64..1 << 40, ts in 1u64..=MAX_TIMESTAMP, root in proptest::array::uniform32(0u8..)) {
        let body = Checkpoint::new(LOG, size, root).unwrap().to_text();
        let log = NoteSigner::from_seed(LOG, &[1; 32]).unwrap();
        let k = key();
        let n = parse(&format!("{}{}", log.sign(&body).unwrap(), k.cosign(&body, ts).unwrap()));
        proptest::prop_assert_eq!(k.verifier().verify(&n).unwrap(), Some(ts));
    }
}
