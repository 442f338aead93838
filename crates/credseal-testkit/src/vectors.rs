//! The generator of the committed test vectors in `docs/vectors/` (`docs/vectors/README.md`):
//! every signed object kind of docs/formats.md §8–§9c, receipts, checkpoints with a witness
//! cosignature, a log key handover, a subject's bundles (two that verify and one per named
//! failure of the verifier), and a sealed answer with the recipient's test private key.
//!
//! Everything comes from fixed seeds and fixed times, so [`generate`] gives the same bytes on
//! every run — except `answer.json`: HPKE draws its ephemeral key from the CSPRNG, so that file
//! differs on every run ([`VectorFile::deterministic`] is `false`) and is checked by opening
//! it, not by comparing it.
//!
//! ```text
//! cargo run -p credseal-testkit --example gen_vectors -- docs/vectors
//! ```
//!
//! Byte strings are lowercase hex, Merkle hashes in the proofs standard base64 (what Go's
//! `tlog.Hash` reads), and each object also appears in its text form where it has one.
//! Decoded fields are the library's own types through `serde_json`, with every array of 16
//! or more bytes written as hex.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_auth::{
    BundleRequest, Consent, ConsentWithdrawal, Credential, IngestBatch, Objection, ObjectionAnswer, ProviderCredential,
    RevocationList, SelfQuery, ShredOrder, SignedBody, SigningKey, StaffOrder, StaffRequest, Token, sign, signed_bytes,
};
use credseal_c2sp::{CosignerKey, MemoryLog, SignedNote};
use credseal_core::{BlindId, Date, FieldValue, Record, SubjectId, hex};
use credseal_crypto::{SealingKey, answer_info};
use credseal_log::{
    Action, Actor, Bundle, BundleEntry, BundleError, BundleSubject, Chain, Checkpoint, Handover, LogSigner,
    MapCheckpoint as _, MapValue, MemoryMap, Outcome, ReceiptBody, SavedState, SignedReceipt, TrustCheckpoint as _,
    answer_digest, build_bundle, verify_bundle_bytes,
};
use credseal_vrf::{VrfProof, VrfPublicKey, VrfSecretKey};
use serde::Serialize;
use serde_json::{Value, json};

/// The result type of the generator.
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The log origin (and audience) of every vector.
pub const ORIGIN: &str = "credseal.example/vectors";
/// The time the objects are issued at; the log's receipts follow it.
pub const T0: u64 = 1_750_000_000;
/// The subject the vectors are about (a resident identity number).
pub const SUBJECT_ID: &str = "11010519491231002X";
/// Another subject (a unified social credit code), for the log's other traffic.
pub const OTHER_ID: &str = "91350100M000100Y43";

/// The fixed seeds. Each is 32 bytes of ASCII, so the vectors name them readably.
pub const AUTHORITY_SEED: [u8; 32] = *b"credseal vectors authority key 1";
/// The department's Ed25519 seed (signs tokens).
pub const DEPARTMENT_SEED: [u8; 32] = *b"credseal vectors department key2";
/// The bytes the department's X25519 sealing key is made from (`SealingKey::from_bytes`
/// clamps them; the vectors list the clamped key).
pub const DEPARTMENT_SEALING_KEY: [u8; 32] = *b"credseal vectors sealing key 010";
/// The subject's Ed25519 seed (signs consents, self-queries, bundle requests, withdrawals, objections).
pub const SUBJECT_SEED: [u8; 32] = *b"credseal vectors subject key 003";
/// An officer's Ed25519 seed (signs staff requests).
pub const OFFICER_SEED: [u8; 32] = *b"credseal vectors officer key 004";
/// A data provider's Ed25519 seed (signs batches and objection answers).
pub const PROVIDER_SEED: [u8; 32] = *b"credseal vectors provider key 05";
/// The original log key's seed (key 0).
pub const LOG_SEED: [u8; 32] = *b"credseal vectors log key 0000006";
/// The log key after the rotation (key 1).
pub const LOG_SEED_2: [u8; 32] = *b"credseal vectors log key 0000007";
/// A key that is not the log's, for the bad cases.
pub const STRANGER_SEED: [u8; 32] = *b"credseal vectors stranger key 08";
/// The witness's cosigner seed.
pub const WITNESS_SEED: [u8; 32] = *b"credseal vectors witness key 009";
/// The platform's VRF secret key (RFC 9381 SK).
pub const VRF_SEED: [u8; 32] = *b"credseal vectors vrf key 0000010";
/// The witness's name.
pub const WITNESS_NAME: &str = "witness.credseal.example/vectors";
/// When the witness cosigns.
pub const WITNESS_TIME: u64 = T0 + 5_000;
/// The trust-state digest the checkpoints commit to (any 32 bytes: the vectors hold no store).
pub const TRUST_DIGEST: [u8; 32] = *b"credseal vectors trust digest 32";
/// The query id of the token (and of the sealed answer).
pub const QUERY_ID: [u8; 16] = *b"vectors query 01";
/// The answer plaintext's nonce (fixed here; the platform draws it at random).
pub const ANSWER_NONCE: [u8; 32] = *b"credseal vectors answer nonce 32";
/// When the first bundle is verified.
pub const NOW_1: u64 = T0 + 1_000;
/// When the second bundle is verified (its sealed receipt is still sealed).
pub const NOW_2: u64 = T0 + 2_000;
/// The disclosure date of the sealed receipt.
pub const DISCLOSE_AFTER: u64 = T0 + 86_400;

/// One file of `docs/vectors/`.
#[derive(Debug)]
pub struct VectorFile {
    /// The file name, e.g. `token.json`.
    pub name: String,
    /// Whether every run writes the same bytes (all but `answer.json`).
    pub deterministic: bool,
    /// The file's contents (pretty JSON and a final newline).
    pub text: String,
}

/// The JSON text of a vector file: pretty-printed, two-space indent, final newline.
pub fn render(value: &Value) -> Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

/// Every array of 16 or more integers 0–255 becomes a hex string (byte strings, keys,
/// hashes); everything else stays as `serde_json` writes it.
pub fn hexify(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            match bytes {
                Some(b) if b.len() >= 16 => Value::String(hex(&b)),
                _ => Value::Array(items.into_iter().map(hexify).collect()),
            }
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, hexify(x))).collect()),
        other => other,
    }
}

/// The decoded fields of a value, as the vectors list them.
pub fn fields<T: Serialize>(value: &T) -> Result<Value> {
    Ok(hexify(serde_json::to_value(value)?))
}

fn b64(h: &[u8]) -> String {
    STANDARD.encode(h)
}

fn b64_hashes(hs: &[[u8; 32]]) -> Vec<String> {
    hs.iter().map(|h| b64(h)).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The public description of a signing key: its role, seed (these are test keys), public
/// key bytes and text.
fn key_json(role: &str, seed: &[u8; 32]) -> Value {
    let k = SigningKey::from_seed(seed);
    json!({
        "role": role,
        "seed_hex": hex(seed),
        "public_key_hex": k.public().to_hex(),
        "public_key_text": k.public().to_text(),
    })
}

/// The VRF proof of `id` under the vectors' VRF key.
fn vrf_proof(id: &str) -> Result<VrfProof> {
    Ok(VrfSecretKey::from_seed(VRF_SEED).prove(id.as_bytes())?)
}

fn blind_id(id: &str) -> Result<BlindId> {
    Ok(BlindId(vrf_proof(id)?.proof_to_hash().blind_id_bytes()))
}

/// The vector of one signed object: keys, fields, every byte string of the envelope.
fn signed_vector<T: SignedBody>(description: &str, signer: (&str, &[u8; 32]), body: &T) -> Result<(Value, Vec<u8>)> {
    let key = SigningKey::from_seed(signer.1);
    let signed = sign(body, &key);
    let wire = signed.to_bytes();
    let body_bytes = postcard::to_allocvec(body)?;
    let kind = T::KIND;
    let v = json!({
        "description": description,
        "kind": kind.label(),
        "tag": kind.tag(),
        "wire_version": kind.wire_version(),
        "signer": key_json(signer.0, signer.1),
        "fields": fields(body)?,
        "body_hex": hex(&body_bytes),
        "signed_message_hex": hex(&signed_bytes(kind, &body_bytes)),
        "signature_hex": hex(&wire[wire.len() - 64..]),
        "wire_hex": hex(&wire),
        "text": signed.to_text(),
        "expect": "valid",
    });
    Ok((v, wire))
}

/// The bodies of every signed kind, the token's wire bytes, and the sealing key's public half.
struct Signed {
    files: Vec<VectorFile>,
    token_wire: Vec<u8>,
}

fn signed_objects() -> Result<Signed> {
    let authority = ("authority", &AUTHORITY_SEED);
    let department = ("department", &DEPARTMENT_SEED);
    let subject = ("subject", &SUBJECT_SEED);
    let officer = ("officer", &OFFICER_SEED);
    let provider = ("provider", &PROVIDER_SEED);
    let pk = |seed: &[u8; 32]| SigningKey::from_seed(seed).public();
    let sealing = SealingKey::from_bytes(DEPARTMENT_SEALING_KEY).public().to_bytes();
    let mut files = Vec::new();
    let mut add = |name: &str, v: Value| {
        files.push((name.to_string(), v));
    };

    let (v, _) = signed_vector(
        "A department credential (§8), signed by the authority.",
        authority,
        &Credential {
            serial: 17,
            department_id: "bank-a".into(),
            department_name: "Bank A".into(),
            signing_key: pk(&DEPARTMENT_SEED),
            sealing_key: sealing,
            classes: set(&["identity", "loans"]),
            purposes: set(&["loan-approval"]),
            not_before: T0 - 86_400,
            not_after: T0 + 365 * 86_400,
            audience: ORIGIN.into(),
        },
    )?;
    add("credential", v);

    let consent = Consent {
        consent_id: *b"vectors consent1",
        subject: SUBJECT_ID.into(),
        subject_key: pk(&SUBJECT_SEED),
        department_id: "bank-a".into(),
        classes: set(&["loans"]),
        purpose: "loan-approval".into(),
        issued_at: T0 - 3_600,
        expires_at: T0 + 30 * 86_400,
        max_uses: 3,
        audience: ORIGIN.into(),
    };
    let (v, consent_wire) = signed_vector(
        "A subject's consent (§8, wire version 2), signed by the subject.",
        subject,
        &consent,
    )?;
    add("consent", v);

    let (v, token_wire) = signed_vector(
        "A query token (§8), signed by the department, carrying the consent's wire bytes.",
        department,
        &Token {
            query_id: QUERY_ID,
            credential_serial: 17,
            subject: SUBJECT_ID.into(),
            classes: set(&["identity", "loans"]),
            purpose: "loan-approval".into(),
            legal_basis: "loan application 2025-17".into(),
            issued_at: T0,
            expires_at: T0 + 300,
            audience: ORIGIN.into(),
            consent: Some(consent_wire),
        },
    )?;
    add("token", v);

    let (v, _) = signed_vector(
        "A revocation list (§8), signed by the authority.",
        authority,
        &RevocationList {
            version: 2,
            issued_at: T0,
            audience: ORIGIN.into(),
            revoked: BTreeMap::from([(5, T0 - 86_400), (9, T0 - 3_600)]),
        },
    )?;
    add("revocations", v);

    let (v, _) = signed_vector(
        "A subject's query for its own data (§8), signed by the subject.",
        subject,
        &SelfQuery {
            query_id: *b"vectors selfq 01",
            subject: SUBJECT_ID.into(),
            classes: set(&["identity"]),
            issued_at: T0,
            expires_at: T0 + 300,
            audience: ORIGIN.into(),
            sealing_key: sealing,
        },
    )?;
    add("self-query", v);

    let (v, _) = signed_vector(
        "A subject's request for its receipt bundle (§8), signed by the subject.",
        subject,
        &BundleRequest {
            request_id: *b"vectors bundle 1",
            subject: SUBJECT_ID.into(),
            issued_at: T0,
            expires_at: T0 + 300,
            audience: ORIGIN.into(),
            last_tree_size: 5,
        },
    )?;
    add("bundle-request", v);

    let operation = format!("shred {SUBJECT_ID} loans LN-2021-000123 order CR-2026-0017");
    let (v, _) = signed_vector(
        "An officer's approval (§8 staff-request, action `approve`): the input digest is SHA-256 of the operation text.",
        officer,
        &StaffRequest {
            request_id: *b"vectors staff 01",
            role: "officer".into(),
            staff_key: pk(&OFFICER_SEED),
            action: "approve".into(),
            input_digest: sha256(operation.as_bytes()),
            issued_at: T0,
            expires_at: T0 + 600,
            audience: ORIGIN.into(),
        },
    )?;
    add("staff-request", v);

    let (v, _) = signed_vector(
        "A credit-repair order (§8 shred-order), signed by the authority.",
        authority,
        &ShredOrder {
            reference: "CR-2026-0017".into(),
            subject: SUBJECT_ID.into(),
            class: "loans".into(),
            record_id: "LN-2021-000123".into(),
            issued_at: T0,
            audience: ORIGIN.into(),
        },
    )?;
    add("shred-order", v);

    let (v, _) = signed_vector(
        "The authority's staff order (§8 staff-order): it stands in for two officers' approvals of one enrolment.",
        authority,
        &StaffOrder {
            order_id: *b"vectors order 01",
            operation: format!("enroll officer off-li key {}", pk(&OFFICER_SEED).to_hex()),
            issued_at: T0,
            expires_at: T0 + 3_600,
            audience: ORIGIN.into(),
        },
    )?;
    add("staff-order", v);

    let records = concat!(
        r#"{"record_id":"PRV-LN-0001","subject":"11010519491231002X","class":"loans","source":"provider-a","#,
        r#""effective":"2025-01-02","fields":{"lender":"Provider A","principal":"120000.00","status":"current"}}"#,
        "\n"
    );
    let (v, _) = signed_vector(
        "A signed ingest batch (§8b), signed by the enrolled provider.",
        provider,
        &IngestBatch::new(
            "provider-a".into(),
            pk(&PROVIDER_SEED),
            ORIGIN.into(),
            T0,
            *b"vectors batch 01",
            records.into(),
        ),
    )?;
    add("batch", v);

    let (v, _) = signed_vector(
        "A provider credential (§8c), signed by the authority.",
        authority,
        &ProviderCredential {
            serial: 18,
            provider_id: "provider-a".into(),
            provider_name: "Provider A".into(),
            provider_key: pk(&PROVIDER_SEED),
            classes: set(&["loans"]),
            record_prefix: "PRV-".into(),
            not_before: T0 - 86_400,
            not_after: T0 + 365 * 86_400,
            audience: ORIGIN.into(),
        },
    )?;
    add("provider-credential", v);

    let (v, _) = signed_vector(
        "A subject's withdrawal of its consent (§8 consent-withdrawal), signed by the subject.",
        subject,
        &ConsentWithdrawal {
            consent_id: *b"vectors consent1",
            subject: SUBJECT_ID.into(),
            issued_at: T0 + 60,
            audience: ORIGIN.into(),
        },
    )?;
    add("consent-withdrawal", v);

    let (v, _) = signed_vector(
        "A subject's objection to one of its records (§9c), signed by the subject.",
        subject,
        &Objection {
            objection_id: *b"vectors object 1",
            subject: SUBJECT_ID.into(),
            class: "loans".into(),
            record_id: "PRV-LN-0001".into(),
            kind: "objection".into(),
            reason: "The loan was repaid in full in March.".into(),
            issued_at: T0 + 120,
            audience: ORIGIN.into(),
        },
    )?;
    add("objection", v);

    let (v, _) = signed_vector(
        "The provider's answer to the objection (§9c, wire version 2), signed by the provider.",
        provider,
        &ObjectionAnswer {
            objection_id: *b"vectors object 1",
            reason: "The record matches the loan file.".into(),
            outcome: "upheld".into(),
            issued_at: T0 + 600,
            audience: ORIGIN.into(),
        },
    )?;
    add("objection-answer", v);

    let mut out = Vec::new();
    for (name, v) in files {
        out.push(VectorFile {
            name: format!("{name}.json"),
            deterministic: true,
            text: render(&v)?,
        });
    }
    out.push(VectorFile {
        name: "signed-bad.json".into(),
        deterministic: true,
        text: render(&signed_bad_cases(&token_wire)?)?,
    });
    Ok(Signed { files: out, token_wire })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Rewrites a postcard varint `n` at `at` in `v` (one byte today) as its two-byte
/// over-long form.
fn overlong_varint_at(v: &[u8], at: usize) -> Vec<u8> {
    let mut out = v[..at].to_vec();
    out.push(v[at] | 0x80);
    out.push(0x00);
    out.extend_from_slice(&v[at + 1..]);
    out
}

/// One bad envelope per rule of §8 a decoder enforces, each named by the error it gives.
/// The key to verify with is the department's (all cases are token mutations).
fn signed_bad_cases(token_wire: &[u8]) -> Result<Value> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let text = |wire: &[u8], label: &str| format!("cs1.{label}.{}", URL_SAFE_NO_PAD.encode(wire));
    // Envelope: version, tag, varint body length (2 bytes here: tokens with consents are
    // over 127 bytes), body, signature.
    let (body_len, len_bytes) = read_varint(&token_wire[2..]).ok_or("token envelope")?;
    let body = &token_wire[2 + len_bytes..2 + len_bytes + body_len as usize];

    let mut flipped = token_wire.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let mut body_flipped = token_wire.to_vec();
    body_flipped[2 + len_bytes + 3] ^= 0x01;
    let mut trailing = token_wire.to_vec();
    trailing.push(0);
    let mut version = token_wire.to_vec();
    version[0] = 2;
    let mut tag = token_wire.to_vec();
    tag[1] = 3;
    // The body's first field after the 16-byte query id is the credential serial (varint 17):
    // the same value over-long, re-signed by the department, so only the body rule fails.
    let noncanonical_body = overlong_varint_at(body, 16);
    let resigned = envelope(
        1,
        2,
        &noncanonical_body,
        &sign_raw(
            &DEPARTMENT_SEED,
            &signed_bytes(credseal_auth::Kind::Token, &noncanonical_body),
        ),
    );
    let overlong_len = {
        let mut w = vec![token_wire[0], token_wire[1]];
        let mut len = token_wire[2..2 + len_bytes].to_vec();
        let l = len.len() - 1;
        len[l] |= 0x80;
        len.push(0);
        w.extend(len);
        w.extend_from_slice(&token_wire[2 + len_bytes..]);
        w
    };
    let cases = vec![
        json!({"name": "signature_bit_flip_at_last_byte", "text": text(&flipped, "token"),
               "error": "BadSignature", "description": "the signature's last byte changed"}),
        json!({"name": "body_bit_flip_at_3", "text": text(&body_flipped, "token"),
               "error": "BadSignature", "description": "a byte of the body changed after signing"}),
        json!({"name": "trailing_byte_after_envelope", "text": text(&trailing, "token"),
               "error": "TrailingBytes { what: \"envelope\", count: 1 }", "description": "one byte appended"}),
        json!({"name": "version_2_token", "text": text(&version, "token"),
               "error": "UnsupportedVersion { found: 2, reads: 1 }", "description": "the version byte of a token set to 2"}),
        json!({"name": "tag_of_consent_in_token_text", "text": text(&tag, "token"),
               "error": "UnsupportedVersion { found: 1, reads: 2 }",
               "description": "the kind tag set to 3 (consent): the envelope is read as a consent's, whose version is 2"}),
        json!({"name": "token_text_labelled_consent", "text": text(token_wire, "consent"),
               "error": "WrongKind { expected: Token, found: Consent }", "description": "the text label of another kind"}),
        json!({"name": "body_length_overlong_varint", "text": text(&overlong_len, "token"),
               "error": "NonCanonical { what: \"envelope\" }", "description": "the body length written with a redundant zero group"}),
        json!({"name": "body_serial_overlong_varint_resigned", "text": text(&resigned, "token"),
               "error": "Body(NonCanonical { what: \"body\" })",
               "description": "the credential serial written over-long and the body signed again: the signature verifies, the body is refused"}),
        json!({"name": "padded_base64", "text": format!("{}=", text(token_wire, "token")),
               "error": "Base64", "description": "base64url with a padding character"}),
    ];
    Ok(json!({
        "description": "Token envelopes that every decoder MUST refuse (§8). Parse the text as a token; if it parses, verify with the key; `error` is the Debug form of the credseal_auth FormatError or SigError (for Base64, the variant only).",
        "verify_with": key_json("department", &DEPARTMENT_SEED),
        "cases": cases,
    }))
}

/// A postcard varint at the start of `b`: its value and length.
fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate().take(10) {
        v |= u64::from(c & 0x7f) << (7 * i);
        if c & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A plain Ed25519 signature of `msg` (RFC 8032, deterministic), for the bad cases that
/// sign bytes no credseal signer would produce.
fn sign_raw(seed: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer as _;
    ed25519_dalek::SigningKey::from_bytes(seed).sign(msg).to_bytes()
}

fn envelope(version: u8, tag: u8, body: &[u8], sig: &[u8; 64]) -> Vec<u8> {
    let mut w = vec![version, tag];
    let mut n = body.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            w.push(b);
            break;
        }
        w.push(b | 0x80);
    }
    w.extend_from_slice(body);
    w.extend_from_slice(sig);
    w
}

/// The log of the bundle vectors: two subjects, a log key rotation, a sealed receipt.
struct VectorLog {
    keys: Vec<LogSigner>,
    handovers: Vec<String>,
    log: MemoryLog,
    map: MemoryMap,
    /// The subject's receipts, counter order.
    chain: Vec<SignedReceipt>,
    other: Vec<SignedReceipt>,
    /// Every receipt, index order.
    all: Vec<SignedReceipt>,
    time: u64,
}

impl VectorLog {
    fn signer(&self) -> &LogSigner {
        // Cannot fail: the log is created with its original key.
        self.keys.last().expect("the log has a key")
    }

    fn append(&mut self, mut body: ReceiptBody, subject: Option<(bool, BlindId)>) -> Result<SignedReceipt> {
        self.time += 60;
        body.index = self.log.size();
        body.time = self.time;
        if let Some((mine, blind)) = subject {
            let chain = if mine { &self.chain } else { &self.other };
            body.subject = Some(blind);
            body.chain = Some(Chain {
                counter: chain.len() as u64 + 1,
                prev: chain.last().map(|r| r.leaf_hash()),
            });
        }
        let r = self.signer().sign_receipt(&body)?;
        self.log.append(&r.leaf_data());
        if let (Some(c), Some(s)) = (body.chain, body.subject) {
            self.map.set(
                &s,
                MapValue {
                    count: c.counter,
                    head: r.leaf_hash(),
                    index: body.index,
                },
            );
            match subject {
                Some((true, _)) => self.chain.push(r.clone()),
                _ => self.other.push(r.clone()),
            }
        }
        self.all.push(r.clone());
        Ok(r)
    }

    fn checkpoint(&self) -> Result<String> {
        Ok(self.signer().sign_checkpoint(
            &Checkpoint::new(ORIGIN, self.log.size(), self.log.root())?
                .with_map_root(&self.map.root())?
                .with_trust_digest(&TRUST_DIGEST)?,
        ))
    }
}

fn base_body() -> ReceiptBody {
    ReceiptBody {
        index: 0,
        time: 0,
        actor: Actor::Platform,
        action: Action::Admin,
        detail: String::new(),
        subject: None,
        classes: BTreeSet::new(),
        purpose: String::new(),
        token_hash: None,
        outcome: Outcome::Done,
        release_digest: None,
        salt: [0; 16],
        chain: None,
        disclose_after: None,
        flags: 0,
    }
}

/// The answer plaintext (docs/formats.md §9), field for field as the platform writes it.
#[derive(Serialize)]
struct AnswerPlaintext {
    origin: String,
    query_id: [u8; 16],
    purpose: String,
    department_id: String,
    subject: String,
    classes: Vec<String>,
    answered_at: u64,
    records: Vec<Record>,
    nonce: [u8; 32],
    vrf_proof: Vec<u8>,
}

/// The sealed answer's envelope (docs/formats.md §9).
#[derive(Serialize)]
struct AnswerEnvelope<'a> {
    format: u8,
    origin: &'a str,
    query_id: [u8; 16],
    receipt: &'a [u8],
    sealed: &'a [u8],
}

fn answer_plaintext() -> Result<AnswerPlaintext> {
    let record = Record {
        record_id: "ID-0001".into(),
        subject: SubjectId::parse(SUBJECT_ID)?,
        class: "identity".into(),
        source: "bank-a".into(),
        effective: Date::parse("2024-01-02")?,
        version: 1,
        supersedes: None,
        fields: BTreeMap::from([("name".to_string(), FieldValue::Text("Test Person".into()))]),
    };
    Ok(AnswerPlaintext {
        origin: ORIGIN.into(),
        query_id: QUERY_ID,
        purpose: "loan-approval".into(),
        department_id: "bank-a".into(),
        subject: SUBJECT_ID.into(),
        classes: vec!["identity".into(), "loans".into()],
        answered_at: T0 + 60,
        records: vec![record],
        nonce: ANSWER_NONCE,
        vrf_proof: Vec::new(),
    })
}

fn receipt_json(name: &str, description: &str, r: &SignedReceipt, key: &LogSigner) -> Result<Value> {
    let header = r.header_bytes();
    let bytes = r.as_bytes();
    let content = &bytes[header.len()..bytes.len() - 64];
    Ok(json!({
        "name": name,
        "description": description,
        "log_vkey": key.vkey(),
        "fields": fields(r.body())?,
        "header_hex": hex(header),
        "content_hex": hex(content),
        "signature_hex": hex(r.signature()),
        "receipt_hex": hex(bytes),
        "signed_message_hex": hex(&credseal_log::receipt_signed_bytes(header)),
        "content_hash_hex": hex(&credseal_log::content_hash(content)),
        "leaf_hash_hex": hex(&r.leaf_hash()),
    }))
}

/// Generates every vector file.
pub fn generate() -> Result<Vec<VectorFile>> {
    let Signed { mut files, token_wire } = signed_objects()?;
    let subject = blind_id(SUBJECT_ID)?;
    let other = blind_id(OTHER_ID)?;
    let proof = vrf_proof(SUBJECT_ID)?;
    let vrf_public = VrfSecretKey::from_seed(VRF_SEED).public_key();
    let key0 = LogSigner::from_seed(ORIGIN, &LOG_SEED)?;
    let key1 = LogSigner::from_seed(ORIGIN, &LOG_SEED_2)?;
    let mut l = VectorLog {
        keys: vec![LogSigner::from_seed(ORIGIN, &LOG_SEED)?],
        handovers: Vec::new(),
        log: MemoryLog::new(),
        map: MemoryMap::new(),
        chain: Vec::new(),
        other: Vec::new(),
        all: Vec::new(),
        time: T0,
    };
    let plaintext = postcard::to_allocvec(&answer_plaintext()?)?;
    let query = |salt: u8, outcome: Outcome, release: Option<[u8; 32]>| ReceiptBody {
        actor: Actor::Department {
            id: "bank-a".into(),
            credential_serial: 17,
        },
        action: Action::Query,
        detail: "legal basis: loan application 2025-17".into(),
        classes: set(&["identity", "loans"]),
        purpose: "loan-approval".into(),
        token_hash: Some(sha256(&token_wire)),
        outcome,
        release_digest: release,
        salt: [salt; 16],
        ..base_body()
    };
    // Stage 1 (key 0): the granted query the sealed answer belongs to, traffic, a denial.
    let granted = l.append(
        query(1, Outcome::Granted, Some(answer_digest(&plaintext))),
        Some((true, subject)),
    )?;
    l.append(
        ReceiptBody {
            actor: Actor::Source { id: "bank-b".into() },
            action: Action::Ingest,
            detail: "1 record ingested".into(),
            classes: set(&["loans"]),
            salt: [2; 16],
            ..base_body()
        },
        Some((false, other)),
    )?;
    let platform = l.append(
        ReceiptBody {
            detail: "trust state committed at open".into(),
            salt: [3; 16],
            ..base_body()
        },
        None,
    )?;
    let denied = l.append(
        query(
            4,
            Outcome::Denied {
                code: "consent-missing".into(),
            },
            None,
        ),
        Some((true, subject)),
    )?;
    l.append(
        ReceiptBody {
            actor: Actor::Subject,
            action: Action::SelfQuery,
            classes: set(&["identity"]),
            outcome: Outcome::Granted,
            salt: [5; 16],
            ..base_body()
        },
        Some((false, other)),
    )?;
    let cp5 = l.checkpoint()?;
    let bundle1 = build_bundle(
        &l.log,
        &l.map,
        &subject,
        &l.chain.iter().map(|r| r.as_bytes().to_vec()).collect::<Vec<_>>(),
        &cp5,
        None,
        NOW_1,
    )?
    .with_vrf_proof(&proof);
    let who = BundleSubject::new(
        SubjectId::parse(SUBJECT_ID)?,
        VrfPublicKey::from_bytes(vrf_public.as_bytes())?,
    );
    let verifier = key0.verifier();
    let state1 = verify_bundle_bytes(&bundle1.to_bytes(), &verifier, &who, None, NOW_1)?.into_new_state();

    // The log key rotation at size 5, then stage 2 (key 1).
    let handover = Handover::sign(&key0, &key1, l.log.size())?;
    l.handovers.push(handover.note().to_string());
    l.keys.push(LogSigner::from_seed(ORIGIN, &LOG_SEED_2)?);
    l.append(
        ReceiptBody {
            actor: Actor::Officer { id: "off-li".into() },
            action: Action::KeyEvent,
            detail: "log key rotated".into(),
            salt: [6; 16],
            ..base_body()
        },
        None,
    )?;
    l.append(
        ReceiptBody {
            actor: Actor::Source {
                id: "provider-a".into(),
            },
            action: Action::Ingest,
            detail: "1 record ingested; from a batch signed by provider provider-a".into(),
            classes: set(&["loans"]),
            salt: [7; 16],
            ..base_body()
        },
        Some((true, subject)),
    )?;
    let sealed = l.append(
        ReceiptBody {
            disclose_after: Some(DISCLOSE_AFTER),
            ..query(8, Outcome::Granted, Some([0xd8; 32]))
        },
        Some((true, subject)),
    )?;
    l.append(
        ReceiptBody {
            actor: Actor::Subject,
            action: Action::SelfQuery,
            classes: set(&["identity"]),
            outcome: Outcome::Granted,
            release_digest: Some([0xd9; 32]),
            salt: [9; 16],
            ..base_body()
        },
        Some((true, subject)),
    )?;
    l.append(
        ReceiptBody {
            actor: Actor::Source { id: "bank-b".into() },
            action: Action::Correction,
            classes: set(&["loans"]),
            salt: [10; 16],
            ..base_body()
        },
        Some((false, other)),
    )?;
    let cp10 = l.checkpoint()?;
    let chain_bytes: Vec<Vec<u8>> = l.chain.iter().map(|r| r.as_bytes().to_vec()).collect();
    let bundle2 = build_bundle(
        &l.log,
        &l.map,
        &subject,
        &chain_bytes,
        &cp10,
        Some(state1.tree_size()),
        NOW_2,
    )?
    .with_vrf_proof(&proof)
    .with_handovers(l.handovers.clone());
    let state2 =
        verify_bundle_bytes(&bundle2.to_bytes(), &verifier, &who, Some(&state1.to_bytes()), NOW_2)?.into_new_state();
    // At the disclosure date the same checkpoint's bundle shows receipt 4 in full.
    let bundle3 = build_bundle(
        &l.log,
        &l.map,
        &subject,
        &chain_bytes,
        &cp10,
        Some(state2.tree_size()),
        DISCLOSE_AFTER,
    )?
    .with_vrf_proof(&proof)
    .with_handovers(l.handovers.clone());
    let state3 = verify_bundle_bytes(
        &bundle3.to_bytes(),
        &verifier,
        &who,
        Some(&state2.to_bytes()),
        DISCLOSE_AFTER,
    )?
    .into_new_state();

    files.push(VectorFile {
        name: "receipts.json".into(),
        deterministic: true,
        text: render(&json!({
            "description": "Receipts (§10): header ‖ content ‖ signature; the signature covers \"credseal:v1:receipt\" ‖ 0x00 ‖ header; the leaf hash is SHA-256(0x00 ‖ header ‖ signature). Verify each with its log_vkey.",
            "receipts": [
                receipt_json("granted_query", "a department's granted query (the sealed answer's receipt, answer.json), index 0", &granted, &key0)?,
                receipt_json("platform_event", "an event about no subject: no subject, no chain", &platform, &key0)?,
                receipt_json("denied_query", "a denied query, counter 2, chained to the granted one", &denied, &key0)?,
                receipt_json("sealed_query", "a granted query under a disclosure delay (disclose_after), signed by the rotated key", &sealed, &key1)?,
            ],
        }))?,
    });

    let witness = CosignerKey::from_seed(WITNESS_NAME, &WITNESS_SEED)?;
    let body10 = SignedNote::parse(&cp10)?.text().to_string();
    let cosigned = format!("{cp10}{}", witness.cosign(&body10, WITNESS_TIME)?);
    let cp_json = |note: &str, key: &LogSigner| -> Result<Value> {
        let cp = Checkpoint::parse(SignedNote::parse(note)?.text())?;
        Ok(json!({
            "note": note,
            "log_vkey": key.vkey(),
            "origin": cp.origin(),
            "size": cp.size(),
            "root": b64(cp.root()),
            "map_root": b64(&cp.map_root()?.ok_or("no map root")?),
            "trust_digest": b64(&TRUST_DIGEST),
        }))
    };
    let stranger = LogSigner::from_seed(ORIGIN, &STRANGER_SEED)?;
    let altered = cp10.replacen("\n10\n", "\n11\n", 1);
    files.push(VectorFile {
        name: "checkpoints.json".into(),
        deterministic: true,
        text: render(&json!({
            "description": "Checkpoints (§10): C2SP signed notes with the credseal-map and credseal-trust extension lines. size_5 is signed by the original log key, size_10 by the key after the rotation (handover.json); cosigned is size_10 with a witness's C2SP cosignature/v1 line.",
            "size_5": cp_json(&cp5, &key0)?,
            "size_10": cp_json(&cp10, &key1)?,
            "cosigned": {
                "note": cosigned,
                "log_vkey": key1.vkey(),
                "witness_vkey": witness.vkey(),
                "witness_time": WITNESS_TIME,
            },
            "bad": [
                {"name": "size_altered", "note": altered, "log_vkey": key1.vkey(), "error": "BadSignature",
                 "description": "size_10 with its size line changed to 11"},
                {"name": "signed_by_another_key", "note": stranger.sign_checkpoint(&Checkpoint::parse(&body10)?),
                 "log_vkey": key1.vkey(), "error": "NotSignedByLogKey",
                 "description": "the body of size_10 signed by a key that is not the log's (same name, another key id)"},
            ],
        }))?,
    });

    files.push(VectorFile {
        name: "handover.json".into(),
        deterministic: true,
        text: render(&json!({
            "description": "A log key handover (§10 \"Log key history\"): a signed note by the old and the new key; the key history of the bundle vectors is [note].",
            "note": handover.note(),
            "origin": ORIGIN,
            "from_size": handover.from_size(),
            "old_vkey": key0.vkey(),
            "new_vkey": key1.vkey(),
            "bad": [
                {"name": "from_size_altered", "note": handover.note().replacen("\n5\n", "\n6\n", 1),
                 "error": "NotSignedByOldKey", "description": "the from-size line changed: neither signature verifies"},
            ],
        }))?,
    });

    files.push(VectorFile {
        name: "bundle.json".into(),
        deterministic: true,
        text: render(&bundle_vectors(BundleInputs {
            l: &l,
            bundle1: &bundle1,
            bundle2: &bundle2,
            bundle3: &bundle3,
            state1: &state1,
            state2: &state2,
            state3: &state3,
            proof: &proof,
            vrf_public: &vrf_public,
            subject: &subject,
            other: &other,
            cp10: &cp10,
        })?)?,
    });

    // The sealed answer: HPKE base mode to the department's sealing key (random ephemeral key).
    let info = answer_info(ORIGIN, &QUERY_ID, Some(&granted.leaf_hash()));
    let sealing = SealingKey::from_bytes(DEPARTMENT_SEALING_KEY);
    let boxed = credseal_crypto::seal(&sealing.public(), &info, &[], &plaintext)?.to_bytes();
    let envelope = postcard::to_allocvec(&AnswerEnvelope {
        format: 2,
        origin: ORIGIN,
        query_id: QUERY_ID,
        receipt: granted.as_bytes(),
        sealed: &boxed,
    })?;
    files.push(VectorFile {
        name: "answer.json".into(),
        deterministic: false,
        text: render(&json!({
            "description": "A sealed answer (§9) to token.json, with its receipt (receipts.json granted_query). HPKE's ephemeral key is random: this file changes on every regeneration and is checked by opening it. The recipient's X25519 private key is a test key.",
            "recipient_private_key_hex": hex(sealing.expose_secret()),
            "recipient_private_key_text": sealing.to_text().as_str(),
            "recipient_public_key_hex": sealing.public().to_hex(),
            "log_vkey": key0.vkey(),
            "request_text": credseal_auth::Unverified::<Token>::parse_bytes(&token_wire)?.to_text(),
            "hpke_info_hex": hex(&info),
            "plaintext_fields": fields(&answer_plaintext()?)?,
            "plaintext_hex": hex(&plaintext),
            "release_digest_hex": hex(&answer_digest(&plaintext)),
            "answer_hex": hex(&envelope),
            "text": format!("cs1.answer.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&envelope)),
        }))?,
    });
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

struct BundleInputs<'a> {
    l: &'a VectorLog,
    bundle1: &'a Bundle,
    bundle2: &'a Bundle,
    bundle3: &'a Bundle,
    state1: &'a SavedState,
    state2: &'a SavedState,
    state3: &'a SavedState,
    proof: &'a VrfProof,
    vrf_public: &'a VrfPublicKey,
    subject: &'a BlindId,
    other: &'a BlindId,
    cp10: &'a str,
}

/// One bad case: a name, what was done, the bundle, the state and time it is verified with,
/// and the error the verifier MUST give (checked here against the intended variant).
struct Bad {
    name: &'static str,
    variant: &'static str,
    description: &'static str,
    bundle: Vec<u8>,
    state: Option<Vec<u8>>,
    now: u64,
}

fn bundle_vectors(i: BundleInputs<'_>) -> Result<Value> {
    let key0 = &i.l.keys[0];
    let verifier = key0.verifier();
    let who = BundleSubject::new(
        SubjectId::parse(SUBJECT_ID)?,
        VrfPublicKey::from_bytes(i.vrf_public.as_bytes())?,
    );
    let s1 = i.state1.to_bytes();
    let s2 = i.state2.to_bytes();
    let b2 = i.bundle2.to_bytes();
    let with = |f: &dyn Fn(&mut Bundle)| -> Vec<u8> {
        let mut b = i.bundle2.clone();
        f(&mut b);
        b.to_bytes()
    };
    let key1 = &i.l.keys[1];
    let stranger = LogSigner::from_seed(ORIGIN, &STRANGER_SEED)?;
    let body10 = SignedNote::parse(i.cp10)?.text().to_string();
    let cp10 = Checkpoint::parse(&body10)?;
    let no_map =
        key1.sign_checkpoint(&Checkpoint::new(ORIGIN, cp10.size(), *cp10.root())?.with_trust_digest(&TRUST_DIGEST)?);
    let mut bad_sig_cp = i.cp10.to_string();
    {
        // Flip one bit of the signature's last base64 group (it stays canonical base64).
        let line_start = bad_sig_cp.rfind("— ").ok_or("no signature line")?;
        let sig_b64 = bad_sig_cp[line_start..]
            .split(' ')
            .nth(2)
            .ok_or("signature line")?
            .trim_end()
            .to_string();
        let mut raw = STANDARD.decode(&sig_b64).map_err(|e| e.to_string())?;
        raw[10] ^= 0x01;
        bad_sig_cp = bad_sig_cp.replacen(&sig_b64, &STANDARD.encode(&raw), 1);
    }
    let other_proof = vrf_proof(OTHER_ID)?;
    let other_map = i.l.map.prove(i.other);
    let mut truncated = b2.clone();
    truncated.truncate(b2.len() / 2);
    let mut trailing = b2.clone();
    trailing.push(0);
    let mut version4 = b2.clone();
    version4[0] = 4;
    let mut corrupt_state = s1.clone();
    let n = corrupt_state.len();
    corrupt_state[n - 1] ^= 0x01;
    let _ = i.subject;

    let bad = vec![
        Bad {
            name: "bundle_truncated",
            variant: "Malformed",
            description: "the bundle's bytes cut in half",
            bundle: truncated,
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "bundle_trailing_byte",
            variant: "Malformed",
            description: "one byte appended",
            bundle: trailing,
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "bundle_version_4",
            variant: "Malformed",
            description: "the version byte set to 4 (receipts of format 2)",
            bundle: version4,
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "saved_state_corrupt",
            variant: "SavedStateCorrupt",
            description: "the saved state's checksum's last byte changed",
            bundle: b2.clone(),
            state: Some(corrupt_state),
            now: NOW_2,
        },
        Bad {
            name: "vrf_proof_missing",
            variant: "VrfProofMissing",
            description: "the VRF proof removed",
            bundle: with(&|b| b.vrf_proof.clear()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "vrf_proof_of_other_subject",
            variant: "VrfProofInvalid",
            description: "the VRF proof of another subject's id",
            bundle: with(&|b| b.vrf_proof = other_proof.as_bytes().to_vec()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "other_origin",
            variant: "CheckpointOrigin",
            description: "the bundle names another log",
            bundle: with(&|b| b.origin = "credseal.example/other".into()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "handover_removed",
            variant: "CheckpointNotSigned",
            description: "the key history emptied: the rotated key that signs the checkpoint of size 10 is not in the history",
            bundle: with(&|b| b.handovers.clear()),
            state: None,
            now: NOW_2,
        },
        Bad {
            name: "checkpoint_signed_by_retired_key",
            variant: "CheckpointSignedByRetiredKey",
            description: "the checkpoint of size 10 signed by the original key, retired at size 5",
            bundle: with(&|b| b.checkpoint = key0.sign_checkpoint(&cp10)),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "handover_altered",
            variant: "KeyHistory",
            description: "the handover's from-size changed from 5 to 6",
            bundle: with(&|b| b.handovers[0] = b.handovers[0].replacen("\n5\n", "\n6\n", 1)),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "checkpoint_signature_altered",
            variant: "CheckpointBadSignature",
            description: "one bit of the checkpoint's signature changed",
            bundle: with(&|b| b.checkpoint = bad_sig_cp.clone()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "checkpoint_signed_by_another_key",
            variant: "CheckpointNotSigned",
            description: "the checkpoint signed by a key that is not the log's",
            bundle: with(&|b| b.checkpoint = stranger.sign_checkpoint(&cp10)),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "checkpoint_without_map_line",
            variant: "MapRootMissing",
            description: "the checkpoint re-signed by the log key without its credseal-map line",
            bundle: with(&|b| b.checkpoint = no_map.clone()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "shrunk_tree",
            variant: "CheckpointOlder",
            description: "the bundle of size 5 (with the key history) verified against the state saved at size 10",
            bundle: i.bundle1.clone().with_handovers(i.l.handovers.clone()).to_bytes(),
            state: Some(s2.clone()),
            now: NOW_2,
        },
        Bad {
            name: "key_history_hidden",
            variant: "KeyHistoryShorter",
            description: "the bundle of size 5 as first exported (no handover) verified against the state saved at size 10, which accepted one handover",
            bundle: i.bundle1.to_bytes(),
            state: Some(s2.clone()),
            now: NOW_2,
        },
        Bad {
            name: "consistency_missing",
            variant: "ConsistencyFromWrongSize",
            description: "the consistency proof from the saved size removed",
            bundle: with(&|b| b.consistency = None),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "consistency_proof_altered",
            variant: "Fork",
            description: "one bit of the consistency proof's first hash changed",
            bundle: with(&|b| {
                if let Some(c) = b.consistency.as_mut() {
                    c.proof[0][0] ^= 1
                }
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "inclusion_proof_altered_at_1",
            variant: "ReceiptNotIncluded",
            description: "one bit of receipt 1's inclusion proof changed",
            bundle: with(&|b| set_inclusion(&mut b.entries[0], |p| p[0][0] ^= 1)),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "inclusion_proof_truncated_at_2",
            variant: "ProofWrongSize",
            description: "the last hash of receipt 2's inclusion proof removed",
            bundle: with(&|b| {
                set_inclusion(&mut b.entries[1], |p| {
                    p.pop();
                })
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "receipt_signature_altered_at_3",
            variant: "ReceiptBadSignature",
            description: "one bit of receipt 3's signature changed",
            bundle: with(&|b| {
                if let BundleEntry::Full { receipt, .. } = &mut b.entries[2] {
                    let n = receipt.len();
                    receipt[n - 1] ^= 1
                }
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "receipt_removed_at_3",
            variant: "ChainGap",
            description: "receipt 3 left out",
            bundle: with(&|b| {
                b.entries.remove(2);
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "receipt_duplicated_at_2",
            variant: "ChainDuplicate",
            description: "receipt 2 shown twice",
            bundle: with(&|b| {
                let e = b.entries[1].clone();
                b.entries.insert(2, e);
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "receipts_reordered_2_3",
            variant: "ChainReordered",
            description: "receipts 2 and 3 swapped",
            bundle: with(&|b| b.entries.swap(1, 2)),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "newest_receipt_withheld",
            variant: "ReceiptsWithheld",
            description: "the newest receipt (5) left out",
            bundle: with(&|b| {
                b.entries.pop();
            }),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "map_proof_of_other_subject",
            variant: "MapProofForOtherSubject",
            description: "the subject-map proof of another subject",
            bundle: with(&|b| b.map = other_map.clone()),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "receipt_resealed_at_3",
            variant: "SealedWithoutDelay",
            description: "receipt 3 (no disclosure date) shown sealed",
            bundle: with(&|b| reseal(&mut b.entries[2])),
            state: Some(s1.clone()),
            now: NOW_2,
        },
        Bad {
            name: "resealed_after_seen_in_full_at_4",
            variant: "ResealedAfterSeenInFull",
            description: "the third bundle with receipt 4 shown sealed again, within the grace period after its date, verified with the third bundle's state, which saw it in full",
            bundle: {
                let mut b = i.bundle3.clone();
                reseal(&mut b.entries[3]);
                b.to_bytes()
            },
            state: Some(i.state3.to_bytes()),
            now: DISCLOSE_AFTER + 10,
        },
        Bad {
            name: "sealed_entry_overdue",
            variant: "SealedEntryOverdue",
            description: "the honest bundle verified after receipt 4's disclosure date and its grace period",
            bundle: b2.clone(),
            state: Some(s1.clone()),
            now: DISCLOSE_AFTER + credseal_log::SEAL_GRACE_SECS + 1,
        },
    ];
    let mut cases = Vec::new();
    for b in bad {
        let err = match verify_bundle_bytes(&b.bundle, &verifier, &who, b.state.as_deref(), b.now) {
            Ok(_) => return Err(format!("bundle case {} verified", b.name).into()),
            Err(e) => e,
        };
        let debug = format!("{err:?}");
        if variant_name(&err) != b.variant {
            return Err(format!("bundle case {}: expected {}, got {debug}", b.name, b.variant).into());
        }
        cases.push(json!({
            "name": b.name,
            "description": b.description,
            "bundle_text": Bundle::to_text_bytes(&b.bundle),
            "state_text": b.state.as_deref().map(SavedState::to_text_bytes),
            "now": b.now,
            "error": b.variant,
            "error_debug": debug,
            "error_message": err.to_string(),
        }));
    }

    // The good bundles' proofs, for checkers that do not decode bundles (the Go interop).
    let entries: Vec<Value> = i
        .bundle2
        .entries
        .iter()
        .map(|e| {
            let (leaf, inclusion, sealed) = match e {
                BundleEntry::Full { receipt, inclusion } => {
                    let r = credseal_log::UnverifiedReceipt::parse(receipt).map_err(|e| e.to_string())?;
                    let mut leaf = r.header_bytes().to_vec();
                    leaf.extend_from_slice(r.signature());
                    (leaf, inclusion, false)
                }
                BundleEntry::Sealed {
                    header,
                    signature,
                    inclusion,
                } => {
                    let mut leaf = header.clone();
                    leaf.extend_from_slice(signature);
                    (leaf, inclusion, true)
                }
            };
            let index = credseal_log::ReceiptHeader::decode(&leaf[..leaf.len() - 64])
                .map_err(|e| e.to_string())?
                .index;
            Ok(json!({ "index": index, "sealed": sealed, "leaf_hex": hex(&leaf), "inclusion": b64_hashes(inclusion) }))
        })
        .collect::<std::result::Result<_, String>>()?;
    let consistency = i
        .bundle2
        .consistency
        .as_ref()
        .ok_or("bundle 2 has no consistency proof")?;
    Ok(json!({
        "description": "Receipt bundles (§10 \"Bundles\", \"Saved state\"). Verify with the pinned original log key, the VRF public key, the subject's id, the saved state (if any) and the time given: the good bundles verify and give the states listed; each bad case fails with the BundleError variant named.",
        "origin": ORIGIN,
        "log_vkey": key0.vkey(),
        "log_vkey_after_rotation": key1.vkey(),
        "vrf_public_key_text": i.vrf_public.to_text(),
        "vrf_proof_hex": hex(i.proof.as_bytes()),
        "subject_id": SUBJECT_ID,
        "subject_blind_id_hex": hex(&i.subject.0),
        "map_key_hex": hex(&credseal_log::map_key(i.subject)),
        "good": [
            {
                "name": "first_bundle",
                "description": "size 5, no saved state: receipts 1 and 2, both in full",
                "bundle_text": i.bundle1.to_text(),
                "state_text": null,
                "now": NOW_1,
                "checkpoint_size": 5,
                "counters": [1, 2],
                "sealed": [],
                "new_state_text": i.state1.to_text(),
            },
            {
                "name": "second_bundle",
                "description": "size 10 after a log key rotation at 5, from the first bundle's state: receipts 1 to 5, receipt 4 sealed until its disclosure date",
                "bundle_text": i.bundle2.to_text(),
                "state_text": i.state1.to_text(),
                "now": NOW_2,
                "checkpoint_size": 10,
                "counters": [1, 2, 3, 4, 5],
                "sealed": [4],
                "new_state_text": i.state2.to_text(),
            },
            {
                "name": "third_bundle",
                "description": "the same checkpoint at receipt 4's disclosure date, from the second bundle's state: receipt 4 shown in full",
                "bundle_text": i.bundle3.to_text(),
                "state_text": i.state2.to_text(),
                "now": DISCLOSE_AFTER,
                "checkpoint_size": 10,
                "counters": [1, 2, 3, 4, 5],
                "sealed": [],
                "new_state_text": i.state3.to_text(),
            },
        ],
        "second_bundle_proofs": {
            "checkpoint": i.bundle2.checkpoint,
            "old_checkpoint": i.bundle1.checkpoint,
            "entries": entries,
            "consistency": { "old_size": consistency.from_size, "new_size": 10, "proof": b64_hashes(&consistency.proof) },
        },
        "bad": cases,
    }))
}

/// The Debug name of a bundle error's variant (`ReceiptBadSignature` of
/// `ReceiptBadSignature { counter: 3 }`).
pub fn variant_name(e: &BundleError) -> String {
    let d = format!("{e:?}");
    d.split([' ', '(', '{']).next().unwrap_or_default().to_string()
}

fn set_inclusion(e: &mut BundleEntry, f: impl FnOnce(&mut Vec<[u8; 32]>)) {
    match e {
        BundleEntry::Full { inclusion, .. } | BundleEntry::Sealed { inclusion, .. } => f(inclusion),
    }
}

/// Shows a full entry as sealed: its header and signature, no content.
fn reseal(e: &mut BundleEntry) {
    if let BundleEntry::Full { receipt, inclusion } = e
        && let Ok(r) = credseal_log::UnverifiedReceipt::parse(receipt)
    {
        *e = BundleEntry::Sealed {
            header: r.header_bytes().to_vec(),
            signature: r.signature().to_vec(),
            inclusion: inclusion.clone(),
        };
    }
}

/// Text forms of raw bundle and state bytes (which may not decode: the bad cases).
trait TextBytes {
    fn to_text_bytes(bytes: &[u8]) -> String;
}

impl TextBytes for Bundle {
    fn to_text_bytes(bytes: &[u8]) -> String {
        format!(
            "cs1.bundle.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }
}

impl TextBytes for SavedState {
    fn to_text_bytes(bytes: &[u8]) -> String {
        format!(
            "cs1.log-state.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }
}
