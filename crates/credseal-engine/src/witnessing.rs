//! The platform's side of C2SP `tlog-witness`: the witnesses it sends its checkpoints to,
//! the protocol's client logic, and the checkpoint it publishes with the cosignatures it got
//! (docs/witness.md).
//!
//! The engine speaks no HTTP: a [`WitnessTransport`] (the CLI's and the server's HTTPS
//! client) carries one `add-checkpoint` request and brings back the witness's reply. What to
//! send (the old size, the consistency proof from it), what a reply means (a cosignature to
//! check against the witness's key, `409` with the size the witness has, a refusal) and what
//! is kept is decided here.
//!
//! Kept in the store, all public: the configured witnesses ([`META_WITNESSES`]), for each the
//! tree size it last cosigned for this platform (`witness-size:<name>`), and the latest
//! checkpoint with its cosignatures ([`META_COSIGNED_CHECKPOINT`]). Cosigning is serialised
//! (one lock), so the sizes sent to a witness only grow: a bundle and the server's periodic
//! cosigning never race each other into a witness's `409`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_c2sp::{Checkpoint, CosignatureVerifier, SignedNote, prove_tree};
use credseal_store::{Batch, Tree};

use crate::error::{EngineError, QueryError, Result};
use crate::logtree::Hashes;
use crate::platform::Platform;

/// Store meta key of the configured witnesses: one `<url> <vkey>` line each.
pub const META_WITNESSES: &[u8] = b"witnesses";
/// Store meta key of the latest checkpoint with the cosignatures the platform got for it.
pub const META_COSIGNED_CHECKPOINT: &[u8] = b"cosigned-checkpoint";
/// Prefix of the store meta key of the tree size a witness last cosigned (`witness-size:<name>`).
const META_WITNESS_SIZE: &[u8] = b"witness-size:";
/// At most this many witnesses (each is one request per cosigning).
pub const MAX_WITNESSES: usize = 16;
/// A reply's reason is cut to this many characters in outcomes (a witness's text is not ours).
const MAX_REASON: usize = 200;
/// A witness that could not be reached is not asked again for this long.
pub const WITNESS_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// A witness the platform sends its checkpoints to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// Its `add-checkpoint` submission prefix, `https://HOST[:PORT][/PATH]` (`http://` only
    /// for a loopback address).
    pub url: String,
    /// Its cosigner key (C2SP tlog-cosignature, Ed25519).
    pub verifier: CosignatureVerifier,
}

impl Witness {
    /// Its key name.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }
}

/// A witness's reply to one `add-checkpoint` request, as a [`WitnessTransport`] brings it.
#[derive(Clone, Debug)]
pub struct WitnessReply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body, as text (a reply that is not UTF-8 is given as empty).
    pub body: String,
}

/// Carries `add-checkpoint` requests to witnesses (an HTTPS client).
pub trait WitnessTransport: Send + Sync {
    /// POSTs `body` to `<url>/add-checkpoint` and returns the reply, or why there was none
    /// (connection refused, timeout, TLS), without any secret.
    fn add_checkpoint(&self, url: &str, body: &str) -> std::result::Result<WitnessReply, String>;
}

/// What one witness did with a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum WitnessResult {
    /// It cosigned the checkpoint now.
    Cosigned,
    /// It had cosigned this checkpoint before (its cosignature is kept).
    AlreadyCosigned,
    /// It has cosigned a larger tree of this log already; it cannot cosign this one.
    Ahead {
        /// The tree size it has cosigned.
        size: u64,
    },
    /// It refused (another view of the log, a bad proof, an unknown key) or replied with
    /// something that is not a valid cosignature.
    Refused {
        /// The HTTP status (0: the reply was not a valid cosignature).
        status: u16,
        /// The witness's reason, cut and with control characters escaped.
        reason: String,
    },
    /// No reply.
    Unreachable {
        /// Why.
        reason: String,
    },
}

/// One witness's outcome.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WitnessOutcome {
    /// The witness's key name.
    pub witness: String,
    /// Its URL.
    pub url: String,
    /// What it did.
    #[serde(flatten)]
    pub result: WitnessResult,
}

impl WitnessOutcome {
    /// Whether the checkpoint carries this witness's cosignature.
    pub fn cosigned(&self) -> bool {
        matches!(self.result, WitnessResult::Cosigned | WitnessResult::AlreadyCosigned)
    }

    /// One line for people: `witness NAME (URL): what it did`.
    pub fn describe(&self) -> String {
        let what = match &self.result {
            WitnessResult::Cosigned => "cosigned".to_string(),
            WitnessResult::AlreadyCosigned => "had cosigned it already".to_string(),
            WitnessResult::Ahead { size } => format!(
                "did not cosign: it says it cosigned a larger tree of this log (size {size}) than this checkpoint's: another view of this log was shown to it, or it is in error"
            ),
            WitnessResult::Refused { status: 0, reason } => format!("did not cosign: {reason}"),
            WitnessResult::Refused { status, reason } => format!("refused (HTTP {status}): {reason}"),
            WitnessResult::Unreachable { reason } => format!("could not be reached: {reason}"),
        };
        format!("witness {} ({}): {what}", self.witness, self.url)
    }
}

/// A checkpoint sent to the witnesses and what came back.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CosignReport {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint note with the log's signature and every valid cosignature it has.
    pub note: String,
    /// How many of the configured witnesses' cosignatures it carries.
    pub cosignatures: usize,
    /// Each witness's outcome, in configuration order.
    pub outcomes: Vec<WitnessOutcome>,
}

/// `text` cut to [`MAX_REASON`] characters on one line, control characters escaped.
fn reason(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("");
    let mut out: String = line.chars().take(MAX_REASON).flat_map(char::escape_debug).collect();
    if line.chars().count() > MAX_REASON {
        out.push('…');
    }
    out
}

/// Whether `url` is a witness URL we may send to: `https://…`, or `http://` to a loopback host.
fn check_url(url: &str) -> Result<()> {
    let bad = |detail: &str| EngineError::Invalid {
        what: "--url".into(),
        detail: detail.into(),
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("has a space or a control character"));
    }
    if url.contains(['?', '#']) {
        return Err(bad("has a query or a fragment (requests go to URL/add-checkpoint)"));
    }
    let (plain, rest) = if let Some(r) = url.strip_prefix("https://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (true, r)
    } else {
        return Err(bad("not an https:// URL"));
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad(
            "carries credentials (user@): they would be sent and shown in clear",
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (h.starts_with('[') == h.ends_with(']')) => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("has no host"));
    }
    if let Some(p) = port
        && p.parse::<u16>().map_or(true, |n| n == 0)
    {
        return Err(bad("its port is not a number from 1 to 65535"));
    }
    let loopback = host == "[::1]" || host.strip_prefix("127.").is_some_and(|r| r.split('.').count() == 3);
    if plain && !loopback {
        return Err(bad(
            "plain http:// is only for a loopback witness (127.x.x.x, [::1]); use https://",
        ));
    }
    if url.len() > 2048 {
        return Err(bad("longer than 2048 bytes"));
    }
    Ok(())
}

/// The witnesses in a [`META_WITNESSES`] value.
fn parse_witnesses(v: &[u8]) -> Result<Vec<Witness>> {
    let corrupt = |detail: String| EngineError::Corrupt {
        what: "the witness list".into(),
        detail,
    };
    let text = std::str::from_utf8(v).map_err(|_| corrupt("not UTF-8".into()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let (url, vkey) = line
                .split_once(' ')
                .ok_or_else(|| corrupt(format!("line {} is not `<url> <vkey>`", i + 1)))?;
            let verifier = CosignatureVerifier::from_vkey(vkey).map_err(|e| corrupt(format!("line {}: {e}", i + 1)))?;
            Ok(Witness {
                url: url.to_string(),
                verifier,
            })
        })
        .collect()
}

fn encode_witnesses(ws: &[Witness]) -> Vec<u8> {
    ws.iter()
        .map(|w| format!("{} {}\n", w.url, w.verifier.vkey()))
        .collect::<String>()
        .into_bytes()
}

fn size_key(name: &str) -> Vec<u8> {
    [META_WITNESS_SIZE, name.as_bytes()].concat()
}

/// The note's body and its signature lines (each with its newline).
fn split_note(note: &str) -> Result<(String, Vec<String>)> {
    let n = SignedNote::parse(note).map_err(|e| EngineError::Corrupt {
        what: "checkpoint".into(),
        detail: e.to_string(),
    })?;
    let body = n.text().to_string();
    let sigs = note
        .get(body.len()..)
        .unwrap_or("")
        .lines()
        .filter(|l| l.starts_with('\u{2014}'))
        .map(|l| format!("{l}\n"))
        .collect();
    Ok((body, sigs))
}

/// `body` with the signature `lines`, as a note.
fn join_note(body: &str, lines: &[String]) -> String {
    format!("{body}\n{}", lines.concat())
}

/// The one line of `lines` that is a valid cosignature of `body` by `w`, if any.
fn valid_line(body: &str, log_lines: &[String], lines: &[String], w: &CosignatureVerifier) -> Option<String> {
    lines.iter().find_map(|l| {
        let mut with = log_lines.to_vec();
        with.push(l.clone());
        let note = SignedNote::parse(&join_note(body, &with)).ok()?;
        matches!(w.verify(&note), Ok(Some(_))).then(|| l.clone())
    })
}

impl Platform {
    /// The witnesses this platform sends its checkpoints to.
    pub fn witnesses(&self) -> Result<Vec<Witness>> {
        match self.store.get(Tree::Meta, META_WITNESSES)? {
            None => Ok(Vec::new()),
            Some(v) => parse_witnesses(&v),
        }
    }

    /// Adds a witness: its `add-checkpoint` URL and its cosigner key (vkey text). Refused if
    /// a witness of that name is configured already, or the URL is not https (http only to
    /// loopback).
    pub fn add_witness(&self, url: &str, vkey: &str) -> Result<Witness> {
        check_url(url)?;
        let verifier = CosignatureVerifier::from_vkey(vkey.trim()).map_err(|e| EngineError::Invalid {
            what: "the witness key".into(),
            detail: e.to_string(),
        })?;
        let _g = self
            .witness_lock
            .lock()
            .map_err(|_| EngineError::Internal("witness lock poisoned".into()))?;
        let mut ws = self.witnesses()?;
        if ws.iter().any(|w| w.name() == verifier.name()) {
            return Err(EngineError::Conflict {
                what: format!("a witness named {} is configured already", verifier.name()),
            });
        }
        if ws.len() >= MAX_WITNESSES {
            return Err(EngineError::Invalid {
                what: "the witness list".into(),
                detail: format!("at most {MAX_WITNESSES} witnesses"),
            });
        }
        let w = Witness {
            url: url.trim_end_matches('/').to_string(),
            verifier,
        };
        ws.push(w.clone());
        let mut b = Batch::new();
        b.put(Tree::Meta, META_WITNESSES, encode_witnesses(&ws));
        self.store.apply_durable(b)?;
        Ok(w)
    }

    /// Removes the witness named `name`.
    pub fn remove_witness(&self, name: &str) -> Result<Witness> {
        let _g = self
            .witness_lock
            .lock()
            .map_err(|_| EngineError::Internal("witness lock poisoned".into()))?;
        let mut ws = self.witnesses()?;
        let Some(i) = ws.iter().position(|w| w.name() == name) else {
            return Err(EngineError::NotFound(format!("no witness named {name} is configured")));
        };
        let w = ws.remove(i);
        let mut b = Batch::new();
        b.put(Tree::Meta, META_WITNESSES, encode_witnesses(&ws));
        b.delete(Tree::Meta, size_key(name));
        self.store.apply_durable(b)?;
        Ok(w)
    }

    /// The checkpoint the platform publishes (`/checkpoint`, `export-tiles`): with
    /// witnesses configured, the latest one it got cosignatures for (before the first, the
    /// latest checkpoint as it is); without, the latest checkpoint.
    pub fn published_checkpoint(&self) -> Result<Option<String>> {
        // (The list is not parsed here: this runs for every tile served.)
        if self
            .store
            .get(Tree::Meta, META_WITNESSES)?
            .is_some_and(|v| !v.is_empty())
            && let Some(v) = self.store.get(Tree::Meta, META_COSIGNED_CHECKPOINT)?
        {
            return String::from_utf8(v).map(Some).map_err(|_| EngineError::Corrupt {
                what: "the cosigned checkpoint".into(),
                detail: "not UTF-8".into(),
            });
        }
        self.latest_checkpoint()
    }

    /// Sends the latest checkpoint to every configured witness that has not cosigned it and
    /// keeps what comes back. `None` if the log is empty or no witness is configured.
    pub fn cosign_latest(&self, transport: &dyn WitnessTransport) -> Result<Option<CosignReport>> {
        let _g = self
            .witness_lock
            .lock()
            .map_err(|_| EngineError::Internal("witness lock poisoned".into()))?;
        if self.witnesses()?.is_empty() {
            return Ok(None);
        }
        let Some(note) = self.latest_checkpoint()? else {
            return Ok(None);
        };
        self.cosign_locked(&note, transport).map(Some)
    }

    /// [`Platform::export_for_request`], its checkpoint sent to the witnesses first: the
    /// bundle carries the cosignatures it got (none if no witness is configured or none
    /// cosigned; the subject's `--witness-threshold` decides). The outcomes say why.
    pub fn export_for_request_witnessed(
        &self,
        request: &str,
        now: u64,
        transport: &dyn WitnessTransport,
    ) -> std::result::Result<(credseal_log::Bundle, Vec<WitnessOutcome>), QueryError> {
        // Held from the bundle's checkpoint to its cosigning: no newer checkpoint reaches a
        // witness in between (it could not cosign this one after it).
        let _g = self
            .witness_lock
            .lock()
            .map_err(|_| QueryError::Failed(EngineError::Internal("witness lock poisoned".into())))?;
        let mut bundle = self.export_for_request(request, now)?;
        if self.witnesses()?.is_empty() {
            return Ok((bundle, Vec::new()));
        }
        let report = self.cosign_locked(&bundle.checkpoint, transport)?;
        bundle.checkpoint = report.note;
        Ok((bundle, report.outcomes))
    }

    /// Sends `note` (a checkpoint of this log) to the witnesses; the witness lock is held.
    fn cosign_locked(&self, note: &str, transport: &dyn WitnessTransport) -> Result<CosignReport> {
        let (body, lines) = split_note(note)?;
        let cp = Checkpoint::parse(&body).map_err(|e| EngineError::Corrupt {
            what: "checkpoint".into(),
            detail: e.to_string(),
        })?;
        let size = cp.size();
        let ws = self.witnesses()?;
        // The log's own signature lines: those of no configured witness.
        let log_lines: Vec<String> = lines
            .iter()
            .filter(|l| !ws.iter().any(|w| l.starts_with(&format!("\u{2014} {} ", w.name()))))
            .cloned()
            .collect();
        let log_note = join_note(&body, &log_lines);
        // The checkpoint kept so far (read once, under the witness lock): its cosignatures
        // count again if it is this very checkpoint; its size is never gone back from.
        let kept_note = match self.store.get(Tree::Meta, META_COSIGNED_CHECKPOINT)? {
            Some(v) => String::from_utf8(v).ok().and_then(|t| split_note(&t).ok()),
            None => None,
        };
        let kept_size = kept_note
            .as_ref()
            .and_then(|(b, _)| Checkpoint::parse(b).ok())
            .map_or(0, |c| c.size());
        let kept: Vec<String> = match kept_note {
            Some((b, l)) if b == body => l,
            _ => Vec::new(),
        };
        let mut cosigs: Vec<String> = Vec::new();
        let mut outcomes = Vec::new();
        let mut sizes = Batch::new();
        for w in &ws {
            let outcome = |result| WitnessOutcome {
                witness: w.name().to_string(),
                url: w.url.clone(),
                result,
            };
            if let Some(l) = valid_line(&body, &log_lines, &[kept.clone(), lines.clone()].concat(), &w.verifier) {
                cosigs.push(l);
                outcomes.push(outcome(WitnessResult::AlreadyCosigned));
                continue;
            }
            let down_since = self
                .witness_down
                .lock()
                .map_err(|_| EngineError::Internal("witness lock poisoned".into()))?
                .get(w.name())
                .map(std::time::Instant::elapsed);
            if let Some(ago) = down_since.filter(|a| *a < WITNESS_RETRY) {
                outcomes.push(outcome(WitnessResult::Unreachable {
                    reason: format!(
                        "not asked: it could not be reached {} s ago (asked again after {} s)",
                        ago.as_secs(),
                        WITNESS_RETRY.as_secs()
                    ),
                }));
                continue;
            }
            let mut old = self.witness_size(w.name())?;
            let mut result = None;
            // At most two requests: the second after a 409 told the size the witness has.
            for _ in 0..2 {
                if old > size {
                    result = Some(WitnessResult::Ahead { size: old });
                    break;
                }
                let proof = if old == 0 {
                    Vec::new()
                } else {
                    let reader = Hashes {
                        store: &*self.store,
                        overlay: &Default::default(),
                    };
                    prove_tree(size, old, &reader)
                        .map_err(|e| EngineError::Internal(format!("consistency proof: {e}")))?
                };
                let mut req = format!("old {old}\n");
                for h in &proof {
                    req.push_str(&STANDARD.encode(h));
                    req.push('\n');
                }
                req.push('\n');
                req.push_str(&log_note);
                let reply = match transport.add_checkpoint(&w.url, &req) {
                    Ok(r) => {
                        self.witness_reached(w.name(), true);
                        r
                    }
                    Err(e) => {
                        self.witness_reached(w.name(), false);
                        result = Some(WitnessResult::Unreachable { reason: reason(&e) });
                        break;
                    }
                };
                match reply.status {
                    200 => {
                        let offered: Vec<String> = reply
                            .body
                            .lines()
                            .filter(|l| l.starts_with('\u{2014}'))
                            .map(|l| format!("{l}\n"))
                            .collect();
                        result = Some(match valid_line(&body, &log_lines, &offered, &w.verifier) {
                            Some(l) => {
                                cosigs.push(l);
                                sizes.put(Tree::Meta, size_key(w.name()), size.to_be_bytes().to_vec());
                                WitnessResult::Cosigned
                            }
                            None => WitnessResult::Refused {
                                status: 0,
                                reason: "the reply holds no valid cosignature by the witness's key".into(),
                            },
                        });
                        break;
                    }
                    409 if reply
                        .content_type
                        .as_deref()
                        .is_some_and(|c| c.starts_with("text/x.tlog.size")) =>
                    {
                        match reply.body.trim().parse::<u64>() {
                            // A witness that says it cosigned a larger tree of this log than
                            // the log has: another view of the log, or a witness in error.
                            // Not remembered, so it is asked again next time.
                            Ok(n) if n > size => {
                                result = Some(WitnessResult::Ahead { size: n });
                                break;
                            }
                            Ok(n) if n != old => {
                                sizes.put(Tree::Meta, size_key(w.name()), n.to_be_bytes().to_vec());
                                old = n;
                            }
                            _ => {
                                result = Some(WitnessResult::Refused {
                                    status: 409,
                                    reason: format!("conflict on size {old}: {}", reason(&reply.body)),
                                });
                                break;
                            }
                        }
                    }
                    status => {
                        result = Some(WitnessResult::Refused {
                            status,
                            reason: reason(&reply.body),
                        });
                        break;
                    }
                }
            }
            outcomes.push(outcome(result.unwrap_or(WitnessResult::Refused {
                status: 409,
                reason: "the witness's size changed twice during one cosigning".into(),
            })));
        }
        let cosigned = join_note(&body, &[log_lines.clone(), cosigs.clone()].concat());
        // Kept when it has a cosignature and does not go back before what is kept.
        if !cosigs.is_empty() && size >= kept_size {
            sizes.put(Tree::Meta, META_COSIGNED_CHECKPOINT, cosigned.clone().into_bytes());
        }
        if !sizes.is_empty() {
            self.store.apply_durable(sizes)?;
        }
        Ok(CosignReport {
            size,
            note: cosigned,
            cosignatures: cosigs.len(),
            outcomes,
        })
    }

    /// Records whether the witness `name` answered (a reply of any status) or not.
    fn witness_reached(&self, name: &str, reached: bool) {
        if let Ok(mut down) = self.witness_down.lock() {
            if reached {
                down.remove(name);
            } else {
                down.insert(name.to_string(), std::time::Instant::now());
            }
        }
    }

    /// The tree size the witness `name` last cosigned for this platform (0: never).
    fn witness_size(&self, name: &str) -> Result<u64> {
        match self.store.get(Tree::Meta, &size_key(name))? {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                EngineError::Corrupt {
                    what: format!("the tree size witness {name} cosigned"),
                    detail: "not 8 bytes".into(),
                }
            })?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credseal_c2sp::{CosignerKey, EMPTY_ROOT, Hash, NoteVerifier, check_tree};
    use std::sync::{Arc, Mutex};

    /// How the fake witness behaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Honest,
        /// 200 with a cosignature by another key.
        WrongKey,
        /// No reply at all.
        Down,
    }

    /// A witness in memory that follows C2SP tlog-witness for one log.
    struct FakeWitness {
        key: CosignerKey,
        log: NoteVerifier,
        state: Mutex<(u64, Hash)>,
        mode: Mutex<Mode>,
        requests: Mutex<Vec<u64>>,
    }

    impl FakeWitness {
        fn new(log_vkey: &str) -> Self {
            Self {
                key: CosignerKey::from_seed("witness.test/w1", &[5; 32]).unwrap(),
                log: NoteVerifier::from_vkey(log_vkey).unwrap(),
                state: Mutex::new((0, EMPTY_ROOT)),
                mode: Mutex::new(Mode::Honest),
                requests: Mutex::new(Vec::new()),
            }
        }

        fn reply(status: u16, ct: Option<&str>, body: String) -> std::result::Result<WitnessReply, String> {
            Ok(WitnessReply {
                status,
                content_type: ct.map(str::to_string),
                body,
            })
        }
    }

    impl WitnessTransport for FakeWitness {
        fn add_checkpoint(&self, url: &str, body: &str) -> std::result::Result<WitnessReply, String> {
            assert_eq!(url, "http://127.0.0.1:9");
            let mode = *self.mode.lock().unwrap();
            if mode == Mode::Down {
                return Err("connection refused".into());
            }
            let (head, note) = body.split_once("\n\n").unwrap();
            let mut lines = head.lines();
            let old: u64 = lines.next().unwrap().strip_prefix("old ").unwrap().parse().unwrap();
            self.requests.lock().unwrap().push(old);
            let proof: Vec<Hash> = lines.map(|l| STANDARD.decode(l).unwrap().try_into().unwrap()).collect();
            let n = self.log.verify(note).unwrap();
            let cp = Checkpoint::parse(n.text()).unwrap();
            let mut st = self.state.lock().unwrap();
            if old != st.0 {
                return Self::reply(409, Some("text/x.tlog.size"), format!("{}\n", st.0));
            }
            if old > 0 && check_tree(&proof, cp.size(), cp.root(), old, &st.1).is_err() {
                return Self::reply(422, Some("text/plain"), "consistency proof does not verify\n".into());
            }
            *st = (cp.size(), *cp.root());
            let signer = match mode {
                Mode::WrongKey => CosignerKey::from_seed("witness.test/w1", &[6; 32]).unwrap(),
                _ => CosignerKey::from_seed("witness.test/w1", &[5; 32]).unwrap(),
            };
            Self::reply(200, Some("text/plain"), signer.cosign(n.text(), 1_700_000_000).unwrap())
        }
    }

    fn platform() -> Platform {
        let text = include_str!("../../../keys-example/catalog.toml");
        let catalog = credseal_core::Catalog::parse(text, None).unwrap();
        let classes: Vec<&str> = catalog.classes.keys().map(String::as_str).collect();
        let kdf = credseal_crypto::KdfParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
        let digest = credseal_crypto::sha256(text.as_bytes());
        let keys = credseal_crypto::Keystore::generate("t.invalid/log", &classes, digest, 1, kdf);
        Platform::with_store(catalog, keys, Arc::new(credseal_store::MemoryStore::new())).unwrap()
    }

    fn grow(p: &Platform, n: usize) {
        use credseal_log::{Action, Actor, Outcome};
        let items = (0..n)
            .map(|i| crate::NewReceipt {
                actor: Actor::Platform,
                action: Action::Admin,
                detail: format!("witness test event {i}"),
                subject: None,
                classes: Default::default(),
                purpose: String::new(),
                token_hash: None,
                outcome: Outcome::Done,
                release_digest: None,
                disclose_after: None,
                marks: Vec::new(),
                flags: 0,
                fingerprints: None,
            })
            .collect();
        p.append_receipts(items, 1_800_000_000).unwrap();
    }

    fn size_of(note: &str) -> u64 {
        note.lines().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn checkpoints_are_cosigned_with_proofs_and_published() {
        let p = platform();
        grow(&p, 5);
        let w = FakeWitness::new(&p.log_vkey().unwrap());
        // No witness: nothing to do, the latest checkpoint is published.
        assert!(p.cosign_latest(&w).unwrap().is_none());
        p.add_witness("http://127.0.0.1:9/", &w.key.vkey()).unwrap();
        assert!(matches!(
            p.add_witness("https://other.example", &w.key.vkey()),
            Err(EngineError::Conflict { .. })
        ));
        assert!(
            p.add_witness("https://other.example", &p.log_vkey().unwrap()).is_err(),
            "a log key is no cosigner key"
        );

        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(
            (r.cosignatures, r.outcomes[0].result.clone()),
            (1, WitnessResult::Cosigned)
        );
        let published = p.published_checkpoint().unwrap().unwrap();
        assert_eq!(published, r.note);
        let note = SignedNote::parse(&published).unwrap();
        assert!(w.key.verifier().verify(&note).unwrap().is_some());
        // Again: nothing is sent, the cosignature is kept.
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(r.outcomes[0].result, WitnessResult::AlreadyCosigned);
        assert_eq!(w.requests.lock().unwrap().len(), 1);

        // The log grows: the next request carries the size cosigned before and a proof.
        grow(&p, 7);
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(r.outcomes[0].result, WitnessResult::Cosigned);
        let first = size_of(&published);
        assert_eq!(w.requests.lock().unwrap().last(), Some(&first));
        assert!(size_of(&p.published_checkpoint().unwrap().unwrap()) > first);

        // The platform lost its record of the witness's size: the 409 tells it, it retries.
        let mut b = Batch::new();
        b.delete(Tree::Meta, size_key("witness.test/w1"));
        p.store.apply(b).unwrap();
        grow(&p, 3);
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(r.outcomes[0].result, WitnessResult::Cosigned);
        let reqs = w.requests.lock().unwrap().clone();
        assert_eq!(reqs[reqs.len() - 2], 0);
    }

    #[test]
    fn refusals_forgeries_and_silence_are_reported_and_publish_nothing_new() {
        let p = platform();
        grow(&p, 4);
        let w = FakeWitness::new(&p.log_vkey().unwrap());
        p.add_witness("http://127.0.0.1:9", &w.key.vkey()).unwrap();
        p.cosign_latest(&w).unwrap().unwrap();
        let published = p.published_checkpoint().unwrap().unwrap();

        grow(&p, 2);
        *w.mode.lock().unwrap() = Mode::Down;
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert!(
            matches!(r.outcomes[0].result, WitnessResult::Unreachable { .. }),
            "{:?}",
            r.outcomes
        );
        assert!(!r.outcomes[0].cosigned());
        assert_eq!(r.cosignatures, 0);
        assert_eq!(p.published_checkpoint().unwrap().unwrap(), published);
        // A witness that could not be reached is not asked again for a while (a bundle does
        // not wait for its timeout each time).
        let asked = w.requests.lock().unwrap().len();
        *w.mode.lock().unwrap() = Mode::Honest;
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert!(r.outcomes[0].describe().contains("not asked"), "{:?}", r.outcomes);
        assert_eq!(w.requests.lock().unwrap().len(), asked);
        p.witness_down.lock().unwrap().clear();

        // A reply whose cosignature is not the witness's key's.
        *w.mode.lock().unwrap() = Mode::WrongKey;
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert!(
            matches!(r.outcomes[0].result, WitnessResult::Refused { status: 0, .. }),
            "{:?}",
            r.outcomes
        );
        assert_eq!(p.published_checkpoint().unwrap().unwrap(), published);

        // The witness has seen a larger tree (another view): this one cannot be cosigned.
        *w.mode.lock().unwrap() = Mode::Honest;
        w.state.lock().unwrap().0 = 1_000;
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(r.outcomes[0].result, WitnessResult::Ahead { size: 1_000 });
        assert!(r.outcomes[0].describe().contains("larger tree"));
        // It is not remembered: the witness is asked again from the size it last cosigned
        // for this platform (it may have been wrong, or reset).
        let asked = w.requests.lock().unwrap().len();
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert_eq!(r.outcomes[0].result, WitnessResult::Ahead { size: 1_000 });
        assert_eq!(w.requests.lock().unwrap().len(), asked + 1);
        assert_eq!(w.requests.lock().unwrap().last(), Some(&size_of(&published)));
        // A witness whose tree below our size has another root refuses the proof (422).
        let mut b = Batch::new();
        b.delete(Tree::Meta, size_key("witness.test/w1"));
        p.store.apply(b).unwrap();
        let size = size_of(&p.latest_checkpoint().unwrap().unwrap());
        *w.state.lock().unwrap() = (size - 1, [9; 32]);
        let r = p.cosign_latest(&w).unwrap().unwrap();
        assert!(
            matches!(&r.outcomes[0].result, WitnessResult::Refused { status: 422, reason } if reason.contains("proof")),
            "{:?}",
            r.outcomes
        );
        assert_eq!(p.published_checkpoint().unwrap().unwrap(), published);

        // Removing the last witness publishes the latest checkpoint again.
        p.remove_witness("witness.test/w1").unwrap();
        assert_eq!(p.published_checkpoint().unwrap(), p.latest_checkpoint().unwrap());
        assert!(matches!(
            p.remove_witness("witness.test/w1"),
            Err(EngineError::NotFound(_))
        ));
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        for ok in [
            "https://witness.example",
            "https://witness.example:8443/w1",
            "http://127.0.0.1:7000",
            "http://[::1]:7000/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://witness.example",
            "ftp://x",
            "https://",
            "https:///x",
            "https://a b",
            "http://10.0.0.1",
            "witness.example",
            "https://user:secret@witness.example",
            "http://user:secret@127.0.0.1:9",
            "https://witness.example/#frag",
            "https://witness.example/a?b=c",
            "https://witness.example:99999",
            "https://witness.example:0",
            "https://witness.example:x",
            "http://localhost:9",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reasons_are_cut_and_escaped() {
        assert_eq!(reason("bad proof\nsecond line"), "bad proof");
        assert_eq!(reason("a\u{1b}[31m"), "a\\u{1b}[31m");
        let long = "x".repeat(500);
        assert_eq!(reason(&long).chars().count(), MAX_REASON + 1);
    }
}
