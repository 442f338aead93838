//! The committed test vectors of `docs/vectors/` (docs/vectors/README.md):
//!
//! - the generator, run again into a temporary directory, writes every deterministic file
//!   byte for byte as committed (and no vector file is committed that it does not write);
//! - every vector is parsed and verified with the library's real verifiers: signed objects
//!   (and the authority's checks of a query, a batch, a provider credential, a revocation list,
//!   a shred order, a self-query), receipts, checkpoints and a witness cosignature, the
//!   handover, the good bundles (with the states they give), and the sealed answer through the
//!   engine's `SealedAnswer::open_verified`; each bad case fails with the error it names;
//! - a vector file changed in any of these respects fails its check
//!   (`a_changed_vector_fails_its_check`).
//!
//! Each check is a function from the file's JSON to `Result<(), String>`, so the last test can
//! run it on mutated copies.

use std::collections::BTreeSet;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use credseal_auth::{
    BatchContext, BundleRequest, Consent, ConsentWithdrawal, Credential, IngestBatch, Objection, ObjectionAnswer,
    Policy, ProviderCredential, PublicKey, RevocationList, SelfQuery, ShredOrder, SignedBody, StaffOrder, StaffRequest,
    Token, Unverified, VerifyContext, check_batch, check_provider_credential, signed_bytes, verify_query,
    verify_revocation_list, verify_self_query, verify_shred_order,
};
use credseal_c2sp::{CosignatureVerifier, SignedNote};
use credseal_core::{Catalog, SubjectId, hex};
use credseal_log::{
    AnswerRequest, Bundle, BundleEntry, BundleSubject, Handover, LogVerifier, MapCheckpoint as _, SavedState,
    TrustCheckpoint as _, verify_bundle_bytes,
};
use credseal_testkit::vectors::{self, fields};
use credseal_vrf::VrfPublicKey;
use serde::Serialize;
use serde_json::Value;

type Check = Result<(), String>;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("docs/vectors/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("docs/vectors/{name}: {e}"))
}

fn s<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{key}` is missing or not a string"))
}

fn n(v: &Value, key: &str) -> Result<u64, String> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{key}` is missing or not a number"))
}

fn unhex(v: &Value, key: &str) -> Result<Vec<u8>, String> {
    credseal_core::unhex(s(v, key)?).ok_or_else(|| format!("`{key}` is not hex"))
}

fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: the library gives {got:?}, the vector says {want:?}"))
    }
}

fn err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

// --- the generator ---------------------------------------------------------------------------

#[test]
fn regenerated_vectors_are_the_committed_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let files = vectors::generate().unwrap();
    for f in &files {
        std::fs::write(tmp.path().join(&f.name), &f.text).unwrap();
    }
    let mut generated = BTreeSet::new();
    for f in &files {
        generated.insert(f.name.clone());
        let committed = std::fs::read(dir().join(&f.name))
            .unwrap_or_else(|e| panic!("docs/vectors/{} is not committed ({e}): run the generator", f.name));
        if f.deterministic {
            assert!(
                std::fs::read(tmp.path().join(&f.name)).unwrap() == committed,
                "docs/vectors/{} differs from the generator's output: regenerate it (docs/vectors/README.md) if the change is deliberate",
                f.name
            );
        }
    }
    let committed: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(
        committed, generated,
        "docs/vectors/*.json is not exactly the generator's set of files"
    );
}

// --- signed objects (§8, §8b, §8c, §9c) ---------------------------------------------------------

/// Parses and verifies one signed-object vector; returns the verified body.
fn check_signed<T: SignedBody + Serialize>(v: &Value) -> Result<T, String> {
    let kind = T::KIND;
    eq("kind", s(v, "kind")?, kind.label())?;
    eq("tag", n(v, "tag")?, u64::from(kind.tag()))?;
    eq("wire version", n(v, "wire_version")?, u64::from(kind.wire_version()))?;
    let signer = v.get("signer").ok_or("no signer")?;
    let key = PublicKey::from_text(s(signer, "public_key_text")?).map_err(err("signer key"))?;
    eq("signer key hex", key.to_hex().as_str(), s(signer, "public_key_hex")?)?;
    let seed: [u8; 32] = unhex(signer, "seed_hex")?.try_into().map_err(|_| "seed length")?;
    eq(
        "signer seed's public key",
        credseal_auth::SigningKey::from_seed(&seed).public(),
        key,
    )?;

    let u = Unverified::<T>::parse_text(s(v, "text")?).map_err(err("text"))?;
    let wire = unhex(v, "wire_hex")?;
    eq("wire bytes of the text", u.as_bytes(), &wire[..])?;
    let body = unhex(v, "body_hex")?;
    let sig = unhex(v, "signature_hex")?;
    // The envelope layout of §8, assembled here: version ‖ tag ‖ varint(len(body)) ‖ body ‖ signature.
    let mut layout = vec![kind.wire_version(), kind.tag()];
    let mut len = body.len();
    while len >= 0x80 {
        layout.push((len as u8 & 0x7f) | 0x80);
        len >>= 7;
    }
    layout.push(len as u8);
    layout.extend_from_slice(&body);
    layout.extend_from_slice(&sig);
    eq("wire = version ‖ tag ‖ varint(len) ‖ body ‖ signature", &wire, &layout)?;
    eq(
        "signed message",
        unhex(v, "signed_message_hex")?,
        signed_bytes(kind, &body),
    )?;
    let verified = u.verify(&key).map_err(err("signature"))?;
    let decoded = verified.into_body();
    eq(
        "body re-encoded",
        postcard::to_allocvec(&decoded).map_err(err("postcard"))?,
        body,
    )?;
    eq(
        "decoded fields",
        fields(&decoded).map_err(err("fields"))?,
        v["fields"].clone(),
    )?;
    Ok(decoded)
}

const CATALOG: &str = r#"format = 1
[[purpose]]
id = "loan-approval"
title = "Loan approval"
[[purpose]]
id = "subject-self-query"
title = "The subject's query for its own data"
[[class]]
id = "identity"
title = "Identity"
sensitivity = "medium"
consent_required = false
retention = "permanent"
purposes = ["loan-approval", "subject-self-query"]
[[class.field]]
name = "name"
type = "text"
[[class]]
id = "loans"
title = "Loans"
sensitivity = "high"
consent_required = true
retention = "5y"
purposes = ["loan-approval"]
[[class.field]]
name = "lender"
type = "text"
"#;

fn signed(name: &str) -> Value {
    load(&format!("{name}.json"))
}

/// Every signed kind verifies and decodes to its fields, and the objects pass the platform's
/// own checks of their kind, with the vectors' keys.
fn check_all_signed(get: &dyn Fn(&str) -> Value) -> Check {
    let key = |name: &str| -> Result<PublicKey, String> {
        PublicKey::from_text(s(&get(name)["signer"], "public_key_text")?).map_err(err("key"))
    };
    let credential: Credential = check_signed(&get("credential"))?;
    let token: Token = check_signed(&get("token"))?;
    let consent: Consent = check_signed(&get("consent"))?;
    eq(
        "the token carries the consent",
        token.consent.as_deref(),
        Some(&unhex(&get("consent"), "wire_hex")?[..]),
    )?;
    let list: RevocationList = check_signed(&get("revocations"))?;
    let _: SelfQuery = check_signed(&get("self-query"))?;
    let _: BundleRequest = check_signed(&get("bundle-request"))?;
    let _: StaffRequest = check_signed(&get("staff-request"))?;
    let _: ShredOrder = check_signed(&get("shred-order"))?;
    let _: StaffOrder = check_signed(&get("staff-order"))?;
    let _: IngestBatch = check_signed(&get("batch"))?;
    let _: ProviderCredential = check_signed(&get("provider-credential"))?;
    let _: ConsentWithdrawal = check_signed(&get("consent-withdrawal"))?;
    let _: Objection = check_signed(&get("objection"))?;
    let _: ObjectionAnswer = check_signed(&get("objection-answer"))?;

    let origin = vectors::ORIGIN;
    let now = vectors::T0 + 10;
    let authority = key("credential")?;
    let catalog = Catalog::parse(CATALOG, None).map_err(err("catalogue"))?;
    let policy = Policy::default();
    let ctx = VerifyContext {
        now,
        authority: &authority,
        audience: origin,
        policy: &policy,
        catalog: &catalog,
        revocations: Some(&list),
        subject_key: Some(consent.subject_key),
    };
    let checked = verify_query(
        &Unverified::parse_text(s(&get("credential"), "text")?).map_err(err("credential"))?,
        &Unverified::parse_text(s(&get("token"), "text")?).map_err(err("token"))?,
        &ctx,
    )
    .map_err(err("verify_query"))?;
    let grant = checked
        .finish(|_, _| true, |_, _| true)
        .map_err(err("the query's grant"))?;
    eq("granted classes", grant.classes(), &token.classes)?;
    eq(
        "granted department",
        grant.department_id(),
        credential.department_id.as_str(),
    )?;
    verify_self_query(
        &Unverified::parse_text(s(&get("self-query"), "text")?).map_err(err("self-query"))?,
        &ctx,
    )
    .map_err(err("verify_self_query"))?
    .finish(|_, _| true, |_, _| true)
    .map_err(err("the self-query's grant"))?;
    verify_revocation_list(
        &Unverified::parse_text(s(&get("revocations"), "text")?).map_err(err("revocations"))?,
        &authority,
        origin,
        Some(1),
    )
    .map_err(err("verify_revocation_list"))?;
    verify_shred_order(
        &Unverified::parse_text(s(&get("shred-order"), "text")?).map_err(err("shred order"))?,
        &authority,
        origin,
    )
    .map_err(err("verify_shred_order"))?;
    let provider = check_provider_credential(
        &Unverified::parse_text(s(&get("provider-credential"), "text")?).map_err(err("provider credential"))?,
        &authority,
        now,
        origin,
        policy.max_skew_secs,
    )
    .map_err(err("check_provider_credential"))?;
    check_batch(
        &Unverified::parse_text(s(&get("batch"), "text")?).map_err(err("batch"))?,
        &provider.body().provider_key,
        &BatchContext {
            now,
            audience: origin,
            max_skew_secs: policy.max_skew_secs,
            enrolled_id: &provider.body().provider_id,
        },
    )
    .map_err(err("check_batch"))?;
    Ok(())
}

#[test]
fn signed_objects_verify_and_decode() {
    check_all_signed(&signed).unwrap();
}

fn check_signed_bad(v: &Value) -> Check {
    let key = PublicKey::from_text(s(&v["verify_with"], "public_key_text")?).map_err(err("key"))?;
    let cases = v["cases"].as_array().ok_or("no cases")?;
    if cases.is_empty() {
        return Err("no cases".into());
    }
    for c in cases {
        let name = s(c, "name")?;
        let got = match Unverified::<Token>::parse_text(s(c, "text")?) {
            Err(e) => format!("{e:?}"),
            Ok(u) => match u.verify(&key) {
                Err(e) => format!("{e:?}"),
                Ok(_) => return Err(format!("{name}: verifies")),
            },
        };
        let want = s(c, "error")?;
        let got = if want == "Base64" {
            got.split(' ').next().unwrap_or_default().to_string()
        } else {
            got
        };
        eq(name, got.as_str(), want)?;
    }
    Ok(())
}

#[test]
fn bad_envelopes_fail_with_the_named_error() {
    check_signed_bad(&load("signed-bad.json")).unwrap();
}

// --- receipts, checkpoints, handover (§10) -----------------------------------------------------

fn check_receipts(v: &Value) -> Check {
    for r in v["receipts"].as_array().ok_or("no receipts")? {
        let name = s(r, "name")?;
        let key = LogVerifier::from_vkey(s(r, "log_vkey")?).map_err(err(name))?;
        let bytes = unhex(r, "receipt_hex")?;
        let receipt = key.verify_receipt(&bytes).map_err(err(name))?;
        eq(name, fields(receipt.body()).map_err(err(name))?, r["fields"].clone())?;
        let (header, content, sig) = (
            unhex(r, "header_hex")?,
            unhex(r, "content_hex")?,
            unhex(r, "signature_hex")?,
        );
        eq(name, [&header[..], &content[..], &sig[..]].concat(), bytes.clone())?;
        eq(name, receipt.header_bytes(), &header[..])?;
        eq(
            name,
            credseal_log::receipt_signed_bytes(&header),
            unhex(r, "signed_message_hex")?,
        )?;
        eq(
            name,
            credseal_log::content_hash(&content).to_vec(),
            unhex(r, "content_hash_hex")?,
        )?;
        eq(name, receipt.leaf_hash().to_vec(), unhex(r, "leaf_hash_hex")?)?;
    }
    Ok(())
}

#[test]
fn receipts_verify_and_decode() {
    check_receipts(&load("receipts.json")).unwrap();
}

fn check_checkpoints(v: &Value) -> Check {
    for name in ["size_5", "size_10"] {
        let c = &v[name];
        let key = LogVerifier::from_vkey(s(c, "log_vkey")?).map_err(err(name))?;
        let cp = key.verify_checkpoint(s(c, "note")?).map_err(err(name))?;
        eq(name, cp.origin(), s(c, "origin")?)?;
        eq(name, cp.size(), n(c, "size")?)?;
        eq(name, STANDARD.encode(cp.root()), s(c, "root")?.to_string())?;
        let map = cp.map_root().map_err(err(name))?.ok_or("no map root")?;
        eq(name, STANDARD.encode(map), s(c, "map_root")?.to_string())?;
        let trust = cp.trust_digest().map_err(err(name))?.ok_or("no trust digest")?;
        eq(name, STANDARD.encode(trust), s(c, "trust_digest")?.to_string())?;
    }
    let c = &v["cosigned"];
    let note = s(c, "note")?;
    LogVerifier::from_vkey(s(c, "log_vkey")?)
        .map_err(err("cosigned"))?
        .verify_checkpoint(note)
        .map_err(err("cosigned"))?;
    let witness = CosignatureVerifier::from_vkey(s(c, "witness_vkey")?).map_err(err("witness key"))?;
    let time = witness
        .verify(&SignedNote::parse(note).map_err(err("cosigned note"))?)
        .map_err(err("cosignature"))?;
    eq("cosignature time", time, Some(n(c, "witness_time")?))?;
    for b in v["bad"].as_array().ok_or("no bad cases")? {
        let name = s(b, "name")?;
        let key = LogVerifier::from_vkey(s(b, "log_vkey")?).map_err(err(name))?;
        match key.verify_checkpoint(s(b, "note")?) {
            Ok(_) => return Err(format!("{name}: verifies")),
            Err(e) => eq(name, format!("{e:?}").as_str(), s(b, "error")?)?,
        }
    }
    Ok(())
}

#[test]
fn checkpoints_and_cosignature_verify() {
    check_checkpoints(&load("checkpoints.json")).unwrap();
}

fn check_handover(v: &Value) -> Check {
    let h = Handover::verify(s(v, "note")?).map_err(err("handover"))?;
    eq("origin", h.origin(), s(v, "origin")?)?;
    eq("from size", h.from_size(), n(v, "from_size")?)?;
    eq("old key", h.old_key().vkey(), s(v, "old_vkey")?.to_string())?;
    eq("new key", h.new_key().vkey(), s(v, "new_vkey")?.to_string())?;
    for b in v["bad"].as_array().ok_or("no bad cases")? {
        let name = s(b, "name")?;
        match Handover::verify(s(b, "note")?) {
            Ok(_) => return Err(format!("{name}: verifies")),
            Err(e) => eq(
                name,
                format!("{e:?}").split([' ', '(', '{']).next(),
                Some(s(b, "error")?),
            )?,
        }
    }
    Ok(())
}

#[test]
fn handover_verifies() {
    check_handover(&load("handover.json")).unwrap();
}

// --- bundles (§10) ---------------------------------------------------------------------------

fn text_bytes(text: &str, label: &str) -> Result<Vec<u8>, String> {
    let payload = text
        .strip_prefix(&format!("cs1.{label}."))
        .ok_or_else(|| format!("not a cs1.{label} text"))?;
    URL_SAFE_NO_PAD.decode(payload).map_err(err(label))
}

fn check_bundles(v: &Value) -> Check {
    let verifier = LogVerifier::from_vkey(s(v, "log_vkey")?).map_err(err("log key"))?;
    // The VRF public key's text (§1): "ecvrf-edwards25519-sha512-tai:" ‖ 64 hex digits.
    let vrf_hex = s(v, "vrf_public_key_text")?
        .strip_prefix("ecvrf-edwards25519-sha512-tai:")
        .ok_or("the VRF key text has another prefix")?;
    let vrf = VrfPublicKey::from_bytes(&credseal_core::unhex(vrf_hex).ok_or("VRF key hex")?).map_err(err("VRF key"))?;
    let who = BundleSubject::new(SubjectId::parse(s(v, "subject_id")?).map_err(err("subject"))?, vrf);
    let state_of = |c: &Value| -> Result<Option<Vec<u8>>, String> {
        match c.get("state_text") {
            Some(Value::String(t)) => Ok(Some(text_bytes(t, "log-state")?)),
            _ => Ok(None),
        }
    };
    for g in v["good"].as_array().ok_or("no good bundles")? {
        let name = s(g, "name")?;
        let bytes = text_bytes(s(g, "bundle_text")?, "bundle")?;
        let ok =
            verify_bundle_bytes(&bytes, &verifier, &who, state_of(g)?.as_deref(), n(g, "now")?).map_err(err(name))?;
        eq(name, ok.checkpoint().size(), n(g, "checkpoint_size")?)?;
        let counters: Vec<u64> = ok.receipts().iter().map(|r| r.counter()).collect();
        eq(
            name,
            serde_json::to_value(&counters).map_err(err(name))?,
            g["counters"].clone(),
        )?;
        let sealed: Vec<u64> = ok.new_state().sealed().to_vec();
        eq(
            name,
            serde_json::to_value(&sealed).map_err(err(name))?,
            g["sealed"].clone(),
        )?;
        eq(name, ok.new_state().to_text(), s(g, "new_state_text")?.to_string())?;
        SavedState::from_text(s(g, "new_state_text")?).map_err(err(name))?;
    }
    // The proofs listed for the Go checker are the second bundle's own.
    let second = Bundle::from_text(s(&v["good"][1], "bundle_text")?).map_err(err("second bundle"))?;
    let p = &v["second_bundle_proofs"];
    eq("proofs: checkpoint", second.checkpoint.as_str(), s(p, "checkpoint")?)?;
    let entries = p["entries"].as_array().ok_or("no entries")?;
    eq("proofs: entries", entries.len(), second.entries.len())?;
    for (e, listed) in second.entries.iter().zip(entries) {
        let (leaf, inclusion) = match e {
            BundleEntry::Full { receipt, inclusion } => {
                let r = credseal_log::UnverifiedReceipt::parse(receipt).map_err(err("receipt"))?;
                ([r.header_bytes(), &r.signature()[..]].concat(), inclusion)
            }
            BundleEntry::Sealed {
                header,
                signature,
                inclusion,
            } => ([&header[..], &signature[..]].concat(), inclusion),
        };
        eq("proofs: leaf", hex(&leaf).as_str(), s(listed, "leaf_hex")?)?;
        let b64: Vec<String> = inclusion.iter().map(|h| STANDARD.encode(h)).collect();
        eq(
            "proofs: inclusion",
            serde_json::to_value(&b64).map_err(err("json"))?,
            listed["inclusion"].clone(),
        )?;
    }
    let c = second.consistency.as_ref().ok_or("no consistency proof")?;
    eq("proofs: old size", c.from_size, n(&p["consistency"], "old_size")?)?;
    let b64: Vec<String> = c.proof.iter().map(|h| STANDARD.encode(h)).collect();
    eq(
        "proofs: consistency",
        serde_json::to_value(&b64).map_err(err("json"))?,
        p["consistency"]["proof"].clone(),
    )?;

    let bad = v["bad"].as_array().ok_or("no bad bundles")?;
    if bad.is_empty() {
        return Err("no bad bundles".into());
    }
    for b in bad {
        let name = s(b, "name")?;
        let bytes = text_bytes(s(b, "bundle_text")?, "bundle")?;
        match verify_bundle_bytes(&bytes, &verifier, &who, state_of(b)?.as_deref(), n(b, "now")?) {
            Ok(_) => return Err(format!("{name}: verifies")),
            Err(e) => {
                eq(name, vectors::variant_name(&e).as_str(), s(b, "error")?)?;
                eq(name, format!("{e:?}").as_str(), s(b, "error_debug")?)?;
                eq(name, e.to_string().as_str(), s(b, "error_message")?)?;
            }
        }
    }
    Ok(())
}

#[test]
fn bundles_verify_or_fail_with_the_named_error() {
    check_bundles(&load("bundle.json")).unwrap();
}

// --- the sealed answer (§9) ------------------------------------------------------------------

fn check_answer(v: &Value) -> Check {
    let answer = credseal_engine::SealedAnswer::from_text(s(v, "text")?).map_err(err("answer text"))?;
    eq(
        "answer bytes",
        hex(&text_bytes(s(v, "text")?, "answer")?),
        s(v, "answer_hex")?.to_string(),
    )?;
    let key = credseal_crypto::SealingKey::from_text(s(v, "recipient_private_key_text")?).map_err(err("key"))?;
    eq(
        "private key hex",
        hex(key.expose_secret()),
        s(v, "recipient_private_key_hex")?.to_string(),
    )?;
    let log = LogVerifier::from_vkey(s(v, "log_vkey")?).map_err(err("log key"))?;
    let request = AnswerRequest::from_text(s(v, "request_text")?).map_err(err("request"))?;
    let body = answer
        .open_verified(&key, &log, &request)
        .map_err(err("open_verified"))?;
    eq(
        "plaintext fields",
        fields(&body).map_err(err("fields"))?,
        v["plaintext_fields"].clone(),
    )?;
    eq(
        "plaintext bytes",
        postcard::to_allocvec(&body).map_err(err("postcard"))?,
        unhex(v, "plaintext_hex")?,
    )?;
    eq(
        "release digest",
        credseal_log::answer_digest(&unhex(v, "plaintext_hex")?).to_vec(),
        unhex(v, "release_digest_hex")?,
    )?;
    let receipt = log.verify_receipt(&answer.receipt).map_err(err("receipt"))?;
    eq(
        "HPKE info",
        credseal_crypto::answer_info(&answer.origin, &answer.query_id, Some(&receipt.leaf_hash())),
        unhex(v, "hpke_info_hex")?,
    )?;
    Ok(())
}

#[test]
fn sealed_answer_opens_with_the_recipients_key() {
    let committed = load("answer.json");
    check_answer(&committed).unwrap();
    // Everything but the HPKE output is deterministic: compare it with a fresh run.
    let fresh = vectors::generate()
        .unwrap()
        .into_iter()
        .find(|f| f.name == "answer.json")
        .unwrap();
    let mut fresh: Value = serde_json::from_str(&fresh.text).unwrap();
    check_answer(&fresh).unwrap();
    let mut committed = committed;
    for v in [&mut fresh, &mut committed] {
        let m = v.as_object_mut().unwrap();
        m.remove("answer_hex");
        m.remove("text");
    }
    assert_eq!(
        committed, fresh,
        "answer.json's deterministic fields differ from the generator's"
    );
}

// --- the checks fail on changed vectors ---------------------------------------------------------

/// `v` with the string at `path` (keys and array indexes) changed by `f`.
fn mutate(v: &Value, path: &[&str], f: impl Fn(&str) -> String) -> Value {
    let mut out = v.clone();
    let mut at = &mut out;
    for p in path {
        at = match p.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*p],
        };
    }
    let old = at
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string"))
        .to_string();
    *at = Value::String(f(&old));
    out
}

/// The hex digit at `i` changed.
fn flip_hex(i: usize) -> impl Fn(&str) -> String {
    move |h: &str| {
        let mut b = h.as_bytes().to_vec();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    }
}

/// A base64url character in the middle changed.
fn flip_text(t: &str) -> String {
    let mut b = t.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

#[test]
fn a_changed_vector_fails_its_check() {
    let signed_with =
        |name: &'static str, changed: Value| move |n: &str| if n == name { changed.clone() } else { signed(n) };
    let token = signed("token");
    for changed in [
        mutate(&token, &["text"], flip_text),
        mutate(&token, &["wire_hex"], flip_hex(40)),
        mutate(&token, &["body_hex"], flip_hex(2)),
        mutate(&token, &["fields", "purpose"], |_| "marketing".into()),
        mutate(&token, &["signer", "public_key_hex"], flip_hex(0)),
    ] {
        assert!(check_all_signed(&signed_with("token", changed)).is_err());
    }
    let credential = signed("credential");
    assert!(
        check_all_signed(&signed_with(
            "credential",
            mutate(&credential, &["fields", "department_name"], |_| "Bank B".into())
        ))
        .is_err()
    );

    let bad = load("signed-bad.json");
    assert!(check_signed_bad(&mutate(&bad, &["cases", "0", "error"], |_| "TrailingBytes".into())).is_err());
    let receipts = load("receipts.json");
    assert!(check_receipts(&mutate(&receipts, &["receipts", "0", "receipt_hex"], flip_hex(30))).is_err());
    assert!(check_receipts(&mutate(&receipts, &["receipts", "2", "fields", "detail"], |_| "x".into())).is_err());
    let cps = load("checkpoints.json");
    assert!(check_checkpoints(&mutate(&cps, &["size_10", "note"], |t| t.replacen("\n10\n", "\n9\n", 1))).is_err());
    assert!(
        check_checkpoints(&mutate(&cps, &["cosigned", "witness_vkey"], |_| {
            cps["size_5"]["log_vkey"].as_str().unwrap().into()
        }))
        .is_err()
    );
    let handover = load("handover.json");
    assert!(
        check_handover(&mutate(&handover, &["new_vkey"], |_| handover["old_vkey"]
            .as_str()
            .unwrap()
            .into()))
        .is_err()
    );
    let bundle = load("bundle.json");
    assert!(check_bundles(&mutate(&bundle, &["good", "1", "bundle_text"], flip_text)).is_err());
    assert!(check_bundles(&mutate(&bundle, &["good", "0", "new_state_text"], flip_text)).is_err());
    assert!(check_bundles(&mutate(&bundle, &["bad", "5", "error"], |_| "ChainGap".into())).is_err());
    assert!(
        check_bundles(&mutate(&bundle, &["bad", "5", "bundle_text"], |_| {
            bundle["good"][1]["bundle_text"].as_str().unwrap().into()
        }))
        .is_err()
    );
    assert!(
        check_bundles(&mutate(
            &bundle,
            &["second_bundle_proofs", "entries", "0", "leaf_hex"],
            flip_hex(4)
        ))
        .is_err()
    );
    let answer = load("answer.json");
    assert!(check_answer(&mutate(&answer, &["text"], flip_text)).is_err());
    assert!(check_answer(&mutate(&answer, &["plaintext_fields", "purpose"], |_| "marketing".into())).is_err());
}
