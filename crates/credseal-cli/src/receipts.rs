//! The subject's receipts (`receipts request|export|verify`) and the auditor's log
//! commands (`log key|checkpoint|verify`).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use credseal_auth::{BundleRequest, SigningKey, sign};
use credseal_core::BlindId;
use credseal_engine::{ErrorClass, fsutil};
use credseal_log::{Actor, Bundle, LogVerifier, Outcome, ReceiptView, SavedState, verify_bundle};
use serde::Serialize;

use crate::output::table;
use crate::{CliResult, Failure};

/// `receipts` commands.
#[derive(Subcommand, Debug)]
pub enum ReceiptsCommand {
    /// The subject signs a request for its receipt bundle.
    Request {
        /// The subject's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The platform's origin.
        #[arg(long)]
        audience: String,
        /// Your saved verification state (its tree size asks for a consistency proof).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Where to write the request.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The platform answers a signed request with the subject's bundle.
    Export {
        #[command(flatten)]
        data: crate::DataArg,
        /// The subject's signed request.
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// Where to write the bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The subject verifies its bundle offline and prints who viewed its data.
    Verify {
        /// The log's verifier key (from `credseal log key`), pinned by the subject.
        #[arg(long, value_name = "FILE")]
        vkey: PathBuf,
        /// Saved state: read if it exists, replaced only after a successful verification.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// The bundle.
        bundle: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `log` commands.
#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Print the log's verifier key (`name+id+key`), for subjects and auditors to pin: the
    /// original key, from which the signed key history walks after a rotation.
    Key {
        #[command(flatten)]
        data: crate::DataArg,
        /// Print the key that signs the log now instead (for plain C2SP tools checking new
        /// checkpoints); after a rotation it is not the one to pin.
        #[arg(long)]
        current: bool,
    },
    /// Print the log key history: the signed handover notes of every rotation, oldest first
    /// (anyone can check them against the original key; every bundle carries them).
    History {
        #[command(flatten)]
        data: crate::DataArg,
        /// Print as JSON (the keys and their ranges, and the notes).
        #[arg(long)]
        json: bool,
    },
    /// Print the latest signed checkpoint (a C2SP signed note).
    Checkpoint {
        #[command(flatten)]
        data: crate::DataArg,
    },
    /// Replay the log: every receipt signature and chain, stored hash, checkpoint, and the
    /// subject map each checkpoint commits to (recomputed from the receipts).
    Verify {
        #[command(flatten)]
        data: crate::DataArg,
        /// Your audit position file: written after a successful run (the size, roots and
        /// subject map verified), so that the next run can continue with --from.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Continue from the position saved in --state, which must be at this tree size
        /// (only the receipts from N on are replayed).
        #[arg(long, value_name = "N", requires = "state")]
        from: Option<u64>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

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

pub(crate) fn date(t: u64) -> String {
    let d = credseal_core::Date::from_unix(t)
        .map(|d| d.to_string())
        .unwrap_or_else(|| t.to_string());
    let s = t % 86_400;
    format!("{d} {:02}:{:02}", s / 3600, (s % 3600) / 60)
}

#[derive(Serialize)]
struct ReceiptJson {
    counter: u64,
    index: u64,
    time: Option<u64>,
    actor: String,
    action: String,
    purpose: String,
    classes: Vec<String>,
    outcome: String,
    detail: String,
    sealed_until: Option<u64>,
    new: bool,
}

#[derive(Serialize)]
struct VerifyJson {
    ok: bool,
    tree_size: u64,
    /// The log key that signs the log now (the pinned one unless the log rotated its key).
    log_key: String,
    /// Log key handovers walked from the pinned key.
    handovers: u64,
    receipts: Vec<ReceiptJson>,
}

pub fn receipts(cmd: ReceiptsCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        ReceiptsCommand::Request {
            key,
            subject,
            audience,
            state,
            out,
        } => {
            let sk = SigningKey::from_text(&crate::read_text(&key)?)
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
            let p = crate::open_platform(demo, pf, &data.data)?;
            let b = p
                .export_for_request(&crate::read_text(&request)?, crate::now()?)
                .map_err(crate::roles::query_failure)?;
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
    let verifier = LogVerifier::from_vkey(crate::read_text(vkey)?.trim())
        .map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", vkey.display())))?;
    let b = Bundle::from_text(crate::read_text(bundle)?.trim()).map_err(|e| {
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
    let rows: Vec<ReceiptJson> = v
        .receipts()
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            ReceiptView::Full(s) => {
                let b = s.body();
                ReceiptJson {
                    counter: r.counter(),
                    index: b.index,
                    time: Some(b.time),
                    actor: match &b.actor {
                        Actor::Department { id, credential_serial } => format!("{id} (credential {credential_serial})"),
                        Actor::Subject => "you".into(),
                        Actor::Officer { id } => format!("officer {id}"),
                        Actor::Responder { id } => format!("responder {id}"),
                        Actor::Platform => "platform".into(),
                        Actor::Source { id } => format!("{id} (source)"),
                    },
                    action: format!("{:?}", b.action).to_lowercase(),
                    purpose: b.purpose.clone(),
                    classes: b.classes.iter().cloned().collect(),
                    outcome: match &b.outcome {
                        Outcome::Granted => "granted".into(),
                        Outcome::Denied { code } => format!("denied: {code}"),
                        // A non-access event: what it did.
                        Outcome::Done if !b.detail.is_empty() => b.detail.clone(),
                        Outcome::Done => "done".into(),
                    },
                    detail: b.detail.clone(),
                    sealed_until: None,
                    new: i >= seen_before,
                }
            }
            ReceiptView::Sealed {
                counter,
                index,
                sealed_until,
                ..
            } => ReceiptJson {
                counter: *counter,
                index: *index,
                time: None,
                actor: "(sealed)".into(),
                action: "(sealed)".into(),
                purpose: String::new(),
                classes: Vec::new(),
                outcome: format!("sealed until {}", date(*sealed_until)),
                detail: String::new(),
                sealed_until: Some(*sealed_until),
                new: i >= seen_before,
            },
        })
        .collect();
    let subject_line = found.map_or_else(|| "-".to_string(), |b| b.to_hex());
    let text = format!("subject {subject_line}\n{}\n", v.new_state().to_text());
    fsutil::replace(state_path, text.as_bytes(), 0o600)?;
    if json {
        crate::output::print_json(&VerifyJson {
            ok: true,
            tree_size: v.checkpoint().size(),
            log_key: v.new_state().log_key().to_string(),
            handovers: v.new_state().handovers(),
            receipts: rows,
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
        let t: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.counter.to_string(),
                    r.time.map(date).unwrap_or_default(),
                    r.actor.clone(),
                    r.action.clone(),
                    r.purpose.clone(),
                    r.classes.join(","),
                    r.outcome.clone(),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &["#", "date (UTC)", "who", "action", "purpose", "classes", "outcome"],
                &t
            )
        );
    }
    Ok(())
}

pub fn log(cmd: LogCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        LogCommand::Key { data, current } => {
            let p = crate::open_platform(demo, pf, &data.data)?;
            if current {
                println!("{}", p.log_current_vkey()?);
            } else {
                println!("{}", p.log_vkey()?);
            }
            Ok(())
        }
        LogCommand::History { data, json } => {
            let p = crate::open_platform(demo, pf, &data.data)?;
            let keys = p.log_key_status()?;
            let notes = p.log_key_history()?.notes();
            if json {
                crate::output::print_json(&serde_json::json!({ "keys": keys, "handovers": notes }));
            } else if notes.is_empty() {
                println!("the log key was never rotated: {} signs every receipt", keys[0].key_id);
            } else {
                for (i, n) in notes.iter().enumerate() {
                    if i > 0 {
                        println!();
                    }
                    print!("{n}");
                }
            }
            Ok(())
        }
        LogCommand::Checkpoint { data } => {
            let p = crate::open_platform(demo, pf, &data.data)?;
            match p.latest_checkpoint()? {
                Some(c) => {
                    print!("{c}");
                    Ok(())
                }
                None => Err(fail(ErrorClass::Error, "the log is empty: no checkpoint yet")),
            }
        }
        LogCommand::Verify {
            data,
            state,
            from,
            json,
        } => {
            let p = crate::open_platform(demo, pf, &data.data)?;
            let saved = match (&state, from) {
                (Some(path), Some(n)) => {
                    let bytes =
                        std::fs::read(path).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))?;
                    let s = credseal_engine::AuditSnapshot::from_bytes(&bytes)
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", path.display())))?;
                    if s.size != n {
                        return Err(fail(
                            ErrorClass::Usage,
                            format!(
                                "--from {n}: the position saved in {} is at size {}",
                                path.display(),
                                s.size
                            ),
                        ));
                    }
                    Some(s)
                }
                _ => None,
            };
            let (r, snapshot) = p.verify_log_from(saved.as_ref())?;
            if let Some(path) = &state {
                fsutil::replace(path, &snapshot.to_bytes(), 0o644)?;
            }
            if json {
                crate::output::print_json(&r);
            } else {
                println!(
                    "ok: {} receipts and {} checkpoints verified{}; every root and subject-map root matches the log ({} subjects)",
                    r.receipts,
                    r.checkpoints,
                    if r.from > 0 {
                        format!(" from size {}", r.from)
                    } else {
                        String::new()
                    },
                    r.subjects
                );
            }
            Ok(())
        }
    }
}
