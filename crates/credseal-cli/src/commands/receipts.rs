//! The subject's receipts: `receipts request` (the subject signs a request), `export` (the
//! platform answers it with a bundle) and `verify` (the subject checks the bundle offline).

use std::path::Path;

use credseal_auth::{BundleRequest, sign};
use credseal_core::BlindId;
use credseal_engine::{ErrorClass, fsutil};
use credseal_log::{Bundle, LogVerifier, SavedState, verify_bundle};

use crate::witness_policy::WitnessPolicy;

use crate::cli::{FetchArgs, ReceiptsCommand};
use crate::client::{BundleResponse, Client};
use crate::context::Context;
use crate::files::read_text;
use crate::render::print_json;
use crate::render::receipt::{ReceiptRow, VerifyJson, receipt_table};
use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// The state file: the subject's BlindId (pinned from the first receipt shown in full; `-`
/// until then) and the log verifier's saved state.
pub(crate) fn read_state(path: &Path) -> CliResult<Option<(Option<BlindId>, SavedState)>> {
    if !path.exists() {
        return Ok(None);
    }
    let bytes = crate::files::read_bounded(path, credseal_log::MAX_STATE_LEN as u64 + 1024, "a saved state")?;
    let text = String::from_utf8(bytes).map_err(|_| {
        fail(
            ErrorClass::Verification,
            format!("{}: the saved state is corrupt", path.display()),
        )
    })?;
    let corrupt = || {
        fail(
            ErrorClass::Verification,
            format!("{}: the saved state is corrupt", path.display()),
        )
    };
    let mut lines = text.lines();
    let blind = match lines
        .next()
        .and_then(|l| l.strip_prefix("subject "))
        .ok_or_else(corrupt)?
    {
        "-" => None,
        hex => Some(
            credseal_core::unhex(hex)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(BlindId)
                .ok_or_else(corrupt)?,
        ),
    };
    let state = SavedState::from_text(lines.next().ok_or_else(corrupt)?).map_err(|_| corrupt())?;
    if lines.next().is_some() {
        return Err(corrupt());
    }
    Ok(Some((blind, state)))
}

/// A signed bundle request (`receipts request`): for `subject` on the platform `audience`,
/// asking for a consistency proof from the tree size saved in `state`, valid five minutes.
fn bundle_request(key: &Path, subject: &str, audience: String, state: Option<&Path>) -> CliResult<String> {
    // A role key: decrypted with the key passphrase when encrypted (the default).
    let sk = crate::files::signing_key(key)?;
    let id =
        credseal_core::SubjectId::parse(subject).map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
    let last = match state {
        Some(s) => read_state(s)?.map_or(0, |(_, st)| st.tree_size()),
        None => 0,
    };
    let now = crate::now()?;
    let r = BundleRequest {
        request_id: credseal_crypto::random_array(),
        subject: id.to_string(),
        issued_at: now,
        expires_at: now + 300,
        audience,
        last_tree_size: last,
    };
    Ok(sign(&r, &sk).to_text())
}

/// `credseal receipts fetch`: request, `POST /v1/bundles`, save, verify, print.
fn fetch(a: &FetchArgs) -> CliResult {
    let client = Client::new(&a.server, a.ca.as_deref())?;
    // The pinned keys are read before anything is sent.
    let verifier = read_vkey(&a.vkey)?;
    let vrf = read_vrf_key(&a.vrf_key)?;
    let policy = WitnessPolicy::from_args(&a.witnesses)?;
    let request = bundle_request(&a.key, &a.subject, a.audience.clone(), Some(&a.state))?;
    let r: BundleResponse = client.post("/v1/bundles", &serde_json::json!({ "request": request }))?;
    if let Some(out) = &a.out {
        crate::files::write_new(out, format!("{}\n", r.bundle.trim()).as_bytes(), 0o644)?;
        eprintln!("bundle written to {}", crate::files::name(out, true));
    }
    let name = format!("the bundle from {}", client.base());
    let pins = Pins {
        log: &verifier,
        vrf,
        witnesses: policy.as_ref(),
    };
    verify_text(&pins, &a.subject, &a.state, &r.bundle, &name, a.json)
}

/// `credseal receipts …`.
pub(crate) fn run(ctx: &Context, cmd: ReceiptsCommand) -> CliResult {
    match cmd {
        ReceiptsCommand::Request {
            key,
            subject,
            audience,
            state,
            out,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let text = bundle_request(&key, &subject, audience, state.as_deref())?;
            crate::files::write_new(&out, format!("{text}\n").as_bytes(), 0o644)?;
            if json {
                crate::render::print_json(
                    "bundle-request",
                    &serde_json::json!({ "file": crate::render::path(&out), "from_state": state.is_some() }),
                );
            } else {
                crate::files::wrote(
                    &out,
                    format_args!("bundle request written to {}", crate::files::name(&out, true)),
                );
            }
            Ok(())
        }
        ReceiptsCommand::Fetch(a) => fetch(&a),
        ReceiptsCommand::Export {
            data,
            request,
            out,
            witness_ca,
            json,
        } => {
            crate::files::json_out(json, &out, "--out")?;
            let transport = super::log::witness_transport(witness_ca.as_deref())?;
            let p = ctx.open_platform(&data.data)?;
            let (b, outcomes) = p
                .export_for_request_witnessed(&crate::files::read_signed(&request)?, crate::now()?, &transport)
                .map_err(super::query_failure)?;
            for o in outcomes.iter().filter(|o| !o.cosigned()) {
                eprintln!("credseal: warning: {}", o.describe());
            }
            crate::files::write_new(&out, format!("{}\n", b.to_text()).as_bytes(), 0o644)?;
            if json {
                crate::render::print_json(
                    "bundle",
                    &serde_json::json!({
                        "file": crate::render::path(&out),
                        "receipts": b.entries.len(),
                        "witness_cosignatures": outcomes.iter().filter(|o| o.cosigned()).count(),
                    }),
                );
            } else {
                crate::files::wrote(
                    &out,
                    format_args!(
                        "bundle with {} receipt(s) written to {}",
                        b.entries.len(),
                        crate::files::name(&out, true)
                    ),
                );
            }
            Ok(())
        }
        ReceiptsCommand::Verify {
            vkey,
            vrf_key,
            subject,
            state,
            bundle,
            witnesses,
            json,
        } => {
            let policy = WitnessPolicy::from_args(&witnesses)?;
            verify(&vkey, &vrf_key, &subject, &state, &bundle, policy.as_ref(), json)
        }
    }
}

/// Prefix of the VRF public key's text form: `ecvrf-edwards25519-sha512-tai:<64 hex digits>`.
pub(crate) const VRF_KEY_PREFIX: &str = credseal_vrf::TEXT_PREFIX;

/// The VRF public key's text form, as `credseal log key --vrf` prints it.
pub(crate) fn vrf_key_text(pk: &credseal_vrf::VrfPublicKey) -> String {
    pk.to_text()
}

fn read_vrf_key(path: &Path) -> CliResult<credseal_vrf::VrfPublicKey> {
    parse_vrf_key(&crate::files::read_key_text(path)?, &path.display().to_string())
}

/// A VRF public key in its text form (`name` says where it came from in errors).
pub(crate) fn parse_vrf_key(text: &str, name: &str) -> CliResult<credseal_vrf::VrfPublicKey> {
    let bad = |why: String| {
        fail(
            ErrorClass::Error,
            format!("{name}: not a VRF public key ({VRF_KEY_PREFIX}<hex>, from `credseal log key --vrf`): {why}"),
        )
    };
    let hex = text
        .trim()
        .strip_prefix(VRF_KEY_PREFIX)
        .ok_or_else(|| bad("wrong prefix".into()))?;
    let bytes = credseal_core::unhex(hex).ok_or_else(|| bad("not hex".into()))?;
    credseal_vrf::VrfPublicKey::from_bytes(&bytes).map_err(|e| bad(e.to_string()))
}

/// A self-query's answer checked against the subject's id (`subject`, else the one the
/// answer names, which must then be the same) and the VRF public key in `vrf_key`: the
/// answer's VRF proof must verify for the id, and the BlindId it gives must be the subject
/// of the answer's receipt. Returns that BlindId.
pub(crate) fn check_answer_vrf(
    vrf_key: &Path,
    subject: Option<&str>,
    body: &credseal_engine::AnswerBody,
    receipt: &[u8],
) -> CliResult<BlindId> {
    let refused = |m: String| fail(ErrorClass::Verification, m);
    let pk = read_vrf_key(vrf_key)?;
    let id = credseal_core::SubjectId::parse(subject.unwrap_or(&body.subject))
        .map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
    if id.as_str() != body.subject {
        // Neither id is printed: error text ends up in logs, and a subject id is personal data.
        return Err(refused(
            "the answer is about another subject than --subject names".to_string(),
        ));
    }
    if body.vrf_proof.is_empty() {
        return Err(refused(
            "the answer carries no VRF proof (only a self-query's answer does): nothing to check the blind id against"
                .into(),
        ));
    }
    let blind = credseal_vrf::VrfProof::from_bytes(&body.vrf_proof)
        .and_then(|p| pk.verify(id.as_str().as_bytes(), &p))
        .map(|beta| BlindId(beta.blind_id_bytes()))
        .map_err(|e| refused(format!("the answer's VRF proof for {}: {e}", id.as_str())))?;
    let named = credseal_log::UnverifiedReceipt::parse(receipt)
        .and_then(|r| r.peek_unverified())
        .map_err(|e| refused(format!("the answer's receipt: {e}")))?
        .subject;
    if named != Some(blind) {
        return Err(refused(format!(
            "the answer's receipt names another blind id than the VRF proof gives for {}",
            id.as_str()
        )));
    }
    Ok(blind)
}

/// The log's verifier key in `path`.
fn read_vkey(path: &Path) -> CliResult<LogVerifier> {
    LogVerifier::from_vkey(crate::files::read_key_text(path)?.trim())
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

fn verify(
    vkey: &Path,
    vrf_key: &Path,
    subject: &str,
    state_path: &Path,
    bundle: &Path,
    policy: Option<&WitnessPolicy>,
    json: bool,
) -> CliResult {
    let verifier = read_vkey(vkey)?;
    let vrf = read_vrf_key(vrf_key)?;
    let text = read_text(bundle)?;
    let pins = Pins {
        log: &verifier,
        vrf,
        witnesses: policy,
    };
    verify_text(&pins, subject, state_path, &text, &bundle.display().to_string(), json)
}

/// What the subject pins: the log's key, the VRF key, the witnesses it requires.
struct Pins<'a> {
    log: &'a LogVerifier,
    vrf: credseal_vrf::VrfPublicKey,
    witnesses: Option<&'a WitnessPolicy>,
}

/// Verifies the bundle `text` (named `name` in errors) as `receipts verify` does, saves the
/// new state and prints the result.
fn verify_text(pins: &Pins<'_>, subject: &str, state_path: &Path, text: &str, name: &str, json: bool) -> CliResult {
    let (verifier, vrf, policy) = (pins.log, pins.vrf, pins.witnesses);
    let id =
        credseal_core::SubjectId::parse(subject).map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
    let who = credseal_log::BundleSubject::new(id, vrf);
    let b = Bundle::from_text(text.trim())
        .map_err(|e| fail(ErrorClass::Verification, format!("{name}: not a valid bundle: {e}")))?;
    let saved = read_state(state_path)?;
    // The subject's BlindId is derived from its id through the bundle's VRF proof (never read
    // from the bundle); a state saved for another blind id is not this subject's.
    let blind = who
        .blind_id(&b.vrf_proof)
        .map_err(|e| fail(ErrorClass::Verification, format!("the bundle failed verification: {e}")))?;
    let now = crate::now()?;
    let v = verify_bundle(&b, verifier, &who, saved.as_ref().map(|(_, s)| s), now)
        .map_err(|e| fail(ErrorClass::Verification, format!("the bundle failed verification: {e}")))?;
    // Checked after the log (a state of another log is reported as such): the state pins the
    // blind id, so a later VRF key or another subject's id does not continue it.
    if let Some(pinned) = saved.as_ref().and_then(|(b, _)| *b)
        && pinned != blind
    {
        return Err(fail(
            ErrorClass::Verification,
            format!(
                "{}: the saved state is for another subject's blind id than --subject's",
                state_path.display()
            ),
        ));
    }
    // The witnesses' cosignatures, before the state moves on: a checkpoint the witnesses
    // did not see is not remembered as this subject's view of the log.
    let witnesses = match policy {
        Some(p) => {
            let keys: Vec<[u8; 32]> = v
                .key_history()
                .ranges()
                .iter()
                .map(|r| r.key.public().to_bytes())
                .collect();
            p.check(&b.checkpoint, name, &keys)?
        }
        None => Vec::new(),
    };
    let found = Some(blind);
    let seen_before = v.receipts().len() - v.new_receipts().len();
    let rows: Vec<ReceiptRow> = v.receipts().iter().map(ReceiptRow::new).collect();
    let subject_line = found.map_or_else(|| "-".to_string(), |b| b.to_hex());
    let text = format!("subject {subject_line}\n{}\n", v.new_state().to_text());
    fsutil::replace(state_path, text.as_bytes(), 0o600)?;
    if json {
        print_json(
            "receipts-verify",
            &VerifyJson {
                ok: true,
                tree_size: v.checkpoint().size(),
                log_key: v.new_state().log_key().to_string(),
                handovers: v.new_state().handovers(),
                witnesses,
                receipts: rows.iter().enumerate().map(|(i, r)| r.json(i >= seen_before)).collect(),
            },
        );
    } else {
        println!(
            "bundle verified against checkpoint {} of {}: {} receipt(s), {} new",
            v.checkpoint().size(),
            verifier.origin(),
            v.receipts().len(),
            v.new_receipts().len()
        );
        if !witnesses.is_empty() {
            println!("the checkpoint is cosigned by witness(es): {}", witnesses.join(", "));
        }
        let h = v.key_history();
        if !h.handovers().is_empty() {
            let ranges: Vec<String> = h
                .ranges()
                .iter()
                .map(|r| match r.until {
                    Some(u) => format!("{:08x} up to {u}", r.key.key_id()),
                    None => format!("{:08x} from {}", r.key.key_id(), r.from),
                })
                .collect();
            println!(
                "the log key was rotated {} time(s), each handover signed by the old and the new key: {}",
                h.handovers().len(),
                ranges.join(", ")
            );
        }
        print!("{}", receipt_table(&rows));
    }
    Ok(())
}
