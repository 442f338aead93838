//! The subject's receipts: `receipts request` (the subject signs a request), `export` (the
//! platform answers it with a bundle) and `verify` (the subject checks the bundle offline).

use std::path::Path;

use credseal_auth::{BundleRequest, SigningKey, sign};
use credseal_core::BlindId;
use credseal_engine::{ErrorClass, fsutil};
use credseal_log::{Bundle, LogVerifier, SavedState, verify_bundle};

use crate::cli::ReceiptsCommand;
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
fn read_state(path: &Path) -> CliResult<Option<(Option<BlindId>, SavedState)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(ErrorClass::Error, format!("{}: {e}", path.display()))),
    };
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

/// `credseal receipts …`.
pub(crate) fn run(ctx: &Context, cmd: ReceiptsCommand) -> CliResult {
    match cmd {
        ReceiptsCommand::Request {
            key,
            subject,
            audience,
            state,
            out,
        } => {
            let sk = SigningKey::from_text(&read_text(&key)?)
                .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", key.display())))?;
            let id = credseal_core::SubjectId::parse(&subject)
                .map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
            let last = match &state {
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
            fsutil::write_new(&out, format!("{}\n", sign(&r, &sk).to_text()).as_bytes(), 0o644)?;
            println!("bundle request written to {}", out.display());
            Ok(())
        }
        ReceiptsCommand::Export { data, request, out } => {
            let p = ctx.open_platform(&data.data)?;
            let b = p
                .export_for_request(&read_text(&request)?, crate::now()?)
                .map_err(super::query_failure)?;
            fsutil::write_new(&out, format!("{}\n", b.to_text()).as_bytes(), 0o644)?;
            println!(
                "bundle with {} receipt(s) written to {}",
                b.entries.len(),
                out.display()
            );
            Ok(())
        }
        ReceiptsCommand::Verify {
            vkey,
            state,
            bundle,
            json,
        } => verify(&vkey, &state, &bundle, json),
    }
}

fn verify(vkey: &Path, state_path: &Path, bundle: &Path, json: bool) -> CliResult {
    let verifier = LogVerifier::from_vkey(read_text(vkey)?.trim())
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", vkey.display())))?;
    let b = Bundle::from_text(read_text(bundle)?.trim()).map_err(|e| {
        fail(
            ErrorClass::Verification,
            format!("{}: not a valid bundle: {e}", bundle.display()),
        )
    })?;
    let saved = read_state(state_path)?;
    // The subject's BlindId: pinned in the state; until a receipt shows it, taken from the
    // bundle's first full receipt (every other full receipt must then name the same one).
    let pinned = saved.as_ref().and_then(|(b, _)| *b);
    let found = match pinned {
        Some(b) => Some(b),
        None => b.entries.iter().find_map(|e| match e {
            credseal_log::BundleEntry::Full { receipt, .. } => credseal_log::UnverifiedReceipt::parse(receipt)
                .ok()
                .and_then(|r| r.peek_unverified().ok())
                .and_then(|b| b.subject),
            _ => None,
        }),
    };
    // With no full receipt there is nothing a subject id is checked against.
    let blind = found.unwrap_or(BlindId([0; 32]));
    let now = crate::now()?;
    let v = verify_bundle(&b, &verifier, &blind, saved.as_ref().map(|(_, s)| s), now)
        .map_err(|e| fail(ErrorClass::Verification, format!("the bundle failed verification: {e}")))?;
    let seen_before = v.receipts().len() - v.new_receipts().len();
    let rows: Vec<ReceiptRow> = v.receipts().iter().map(ReceiptRow::new).collect();
    let subject_line = found.map_or_else(|| "-".to_string(), |b| b.to_hex());
    let text = format!("subject {subject_line}\n{}\n", v.new_state().to_text());
    fsutil::replace(state_path, text.as_bytes(), 0o600)?;
    if json {
        print_json(&VerifyJson {
            ok: true,
            tree_size: v.checkpoint().size(),
            log_key: v.new_state().log_key().to_string(),
            handovers: v.new_state().handovers(),
            receipts: rows.iter().enumerate().map(|(i, r)| r.json(i >= seen_before)).collect(),
        });
    } else {
        println!(
            "bundle verified against checkpoint {} of {}: {} receipt(s), {} new",
            v.checkpoint().size(),
            verifier.origin(),
            v.receipts().len(),
            v.new_receipts().len()
        );
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
