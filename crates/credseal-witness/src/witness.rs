//! The witness itself, without HTTP: the logs it knows, the latest checkpoint it cosigned
//! for each, and the `add-checkpoint` decision (C2SP tlog-witness).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use credseal_c2sp::{
    Checkpoint, CosignatureVerifier, CosignerKey, EMPTY_ROOT, Hash, NoteError, NoteVerifier, SignedNote, check_tree,
};

use crate::request;
use crate::state::StateDir;
use crate::{Refusal, WitnessError};

/// SHA-256 of `origin`, lowercase hex: the `<origin hash>` of `GET <hash>/checkpoint` and the
/// name of the log's state file.
pub fn origin_hash(origin: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, origin.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the witness holds for one log.
#[derive(Debug)]
struct Cosigned {
    size: u64,
    root: Hash,
    /// The checkpoint note: the log signature(s) the witness verified and its cosignature.
    note: String,
    /// The position (in the order the keys were given, oldest first) of the newest log key
    /// that signed it: a checkpoint signed only by an older key is refused from then on.
    key: usize,
}

/// One log the witness follows.
#[derive(Debug)]
struct LogEntry {
    origin: String,
    hash: String,
    /// The log's keys (several after a key rotation), all under the origin as key name.
    keys: Vec<NoteVerifier>,
}

/// A witness: its cosigner key, the logs it follows and its state directory (locked while
/// this value lives).
///
/// [`Witness::add_checkpoint`] checks a request and cosigns; every check of the state and its
/// update happen under one lock, and the new state is durable before the cosignature is
/// returned.
#[derive(Debug)]
pub struct Witness {
    key: CosignerKey,
    verifier: CosignatureVerifier,
    logs: BTreeMap<String, LogEntry>,
    /// Origin hash (hex) → origin.
    by_hash: HashMap<String, String>,
    dir: StateDir,
    state: Mutex<HashMap<String, Cosigned>>,
}

/// Checks that `msg` carries a valid signature by one of `keys` and no failing line of any of
/// them; returns the signature lines of those keys, as they appear in `msg`, and the
/// position of the newest key (in `keys`' order) that signed.
fn log_signatures(msg: &str, note: &SignedNote, keys: &[NoteVerifier]) -> Result<(String, usize), String> {
    let mut valid = 0;
    let mut newest = 0;
    for (i, k) in keys.iter().enumerate() {
        match k.verify(msg) {
            Ok(_) => {
                valid += 1;
                newest = i;
            }
            Err(NoteError::NotSigned) => {}
            Err(NoteError::BadSignature) => {
                return Err(format!(
                    "a signature line of the log key {:08x} does not verify",
                    k.key_id()
                ));
            }
            Err(e) => return Err(format!("the note: {e}")),
        }
    }
    if valid == 0 {
        return Err("no signature by a trusted key of the log".into());
    }
    // The note parsed with the same rules: its signature block is `sigs.len()` lines after
    // the last blank line, in order.
    let block = &msg[note.text().len() + 1..];
    let mut out = String::new();
    for (line, s) in block.split_terminator('\n').zip(note.signatures()) {
        if keys.iter().any(|k| k.name() == s.name() && k.key_id() == s.key_id()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok((out, newest))
}

impl Witness {
    /// The witness with cosigner `key` for the logs whose note verifier keys are `logs` (the
    /// key name is the origin; several keys of one origin are that log's keys, e.g. before
    /// and after a rotation), keeping its state in `state_dir` (created if missing, locked).
    ///
    /// Each log's state file is read and must verify: a checkpoint note of that origin with
    /// a valid signature by one of its keys and a valid cosignature by `key`. Anything else
    /// is a [`WitnessError::State`] naming the file — the state is never reset silently.
    /// State files of origins not configured are left alone.
    pub fn open(key: CosignerKey, logs: Vec<NoteVerifier>, state_dir: &Path) -> Result<Self, WitnessError> {
        if logs.is_empty() {
            return Err(WitnessError::Config("a witness needs at least one log key".into()));
        }
        let mut by_origin: BTreeMap<String, LogEntry> = BTreeMap::new();
        for v in logs {
            let origin = v.name().to_string();
            let e = by_origin.entry(origin.clone()).or_insert_with(|| LogEntry {
                hash: origin_hash(&origin),
                origin,
                keys: Vec::new(),
            });
            if !e.keys.iter().any(|k| k.vkey() == v.vkey()) {
                e.keys.push(v);
            }
        }
        let dir = StateDir::open(state_dir)?;
        let verifier = key.verifier();
        let mut state = HashMap::new();
        for log in by_origin.values() {
            let Some((path, bytes)) = dir.read(&log.hash)? else {
                continue;
            };
            let bad = |reason: String| WitnessError::State {
                path: path.clone(),
                reason,
            };
            let msg = String::from_utf8(bytes).map_err(|_| bad("not UTF-8".into()))?;
            let note = SignedNote::parse(&msg).map_err(|e| bad(e.to_string()))?;
            let cp = Checkpoint::parse(note.text()).map_err(|e| bad(e.to_string()))?;
            if cp.origin() != log.origin {
                return Err(bad(format!(
                    "it holds a checkpoint of another origin than {:?}",
                    log.origin
                )));
            }
            let (_, key) = log_signatures(&msg, &note, &log.keys).map_err(bad)?;
            match verifier.verify(&note) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(bad("it carries no cosignature of this witness's key".into())),
                Err(e) => return Err(bad(format!("this witness's cosignature: {e}"))),
            }
            state.insert(
                log.origin.clone(),
                Cosigned {
                    size: cp.size(),
                    root: *cp.root(),
                    note: msg,
                    key,
                },
            );
        }
        Ok(Self {
            by_hash: by_origin.values().map(|l| (l.hash.clone(), l.origin.clone())).collect(),
            logs: by_origin,
            verifier,
            key,
            dir,
            state: Mutex::new(state),
        })
    }

    /// The cosigner's name.
    pub fn name(&self) -> &str {
        self.key.name()
    }

    /// The cosigner's verifier key text.
    pub fn vkey(&self) -> String {
        self.verifier.vkey()
    }

    /// The origins followed.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.logs.keys().map(String::as_str)
    }

    /// The size of the latest checkpoint cosigned for `origin` (0 if none).
    pub fn cosigned_size(&self, origin: &str) -> u64 {
        self.lock().get(origin).map_or(0, |c| c.size)
    }

    /// `GET <origin hash>/checkpoint`: the latest cosigned checkpoint of the log whose origin
    /// hashes to `hash` (lowercase hex), with the log signature(s) the witness verified and
    /// its cosignature; `None` for an unknown hash or a log never cosigned.
    pub fn checkpoint(&self, hash: &str) -> Option<String> {
        let origin = self.by_hash.get(hash)?;
        self.lock().get(origin).map(|c| c.note.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cosigned>> {
        // A panic while holding the lock leaves the map as it was before the panicking
        // request (it is only written after the state file is), so the data is still good.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `POST add-checkpoint` with request body `body`, cosigning at `timestamp` (POSIX
    /// seconds, > 0): the cosignature line on success, else the refusal with its status.
    ///
    /// In order: 400 malformed body; 404 unknown origin; 403 no valid signature by a key of
    /// the log, or a line of one of its keys that does not verify; 400 old size above the
    /// checkpoint's; 409 old size other than the size last cosigned (0 if none), with that
    /// size; 422 a non-empty proof with old size 0, a size-0 checkpoint whose root is not
    /// the empty tree's, a proof that does not verify, the same size with another root; 500
    /// if the new state cannot be written (nothing is cosigned then).
    pub fn add_checkpoint(&self, body: &[u8], timestamp: u64) -> Result<String, Refusal> {
        let req = request::parse(body).map_err(|r| Refusal::new(400, r))?;
        let cp = &req.checkpoint;
        let about = |r: Refusal| r.about(cp.origin(), req.old, cp.size());
        let log = self
            .logs
            .get(cp.origin())
            .ok_or_else(|| about(Refusal::new(404, "unknown log origin")))?;
        let (sigs, key) =
            log_signatures(req.note_text, &req.note, &log.keys).map_err(|r| about(Refusal::new(403, r)))?;
        if req.old > cp.size() {
            return Err(about(Refusal::new(
                400,
                "the old size is larger than the checkpoint's size",
            )));
        }
        if cp.size() == 0 && *cp.root() != EMPTY_ROOT {
            return Err(about(Refusal::new(
                422,
                "a checkpoint of size 0 must have the root of the empty tree",
            )));
        }
        let line = self
            .key
            .cosign(req.note.text(), timestamp)
            .map_err(|e| about(Refusal::new(500, format!("cannot cosign: {e}"))))?;

        let mut state = self.lock();
        let current = state.get(cp.origin());
        let (cur_size, cur_root) = current.map_or((0, EMPTY_ROOT), |c| (c.size, c.root));
        // A rotated log: once a newer key's checkpoint is cosigned, a retired key (perhaps
        // stolen, the reason to rotate) cannot lead the witness anywhere.
        if let Some(c) = current
            && key < c.key
        {
            return Err(about(Refusal::new(
                403,
                "signed only by a log key older than the one that signed the checkpoint cosigned before (a retired key)",
            )));
        }
        // The state on disk must still be the one this witness holds: a second process on
        // the same directory (its locks evaded) or a restored file is refused, never followed.
        let on_disk = self
            .dir
            .read(&log.hash)
            .map_err(|e| about(Refusal::new(500, format!("cannot read the state: {e}"))))?
            .map(|(_, b)| b);
        if on_disk.as_deref() != current.map(|c| c.note.as_bytes()) {
            return Err(about(Refusal::new(
                500,
                "the state file changed under this witness (another process, or a restored copy); restart it to re-read and verify the state",
            )));
        }
        if req.old != cur_size {
            let mut r = about(Refusal::new(
                409,
                "the old size is not the size of the latest checkpoint cosigned",
            ));
            r.cosigned_size = Some(cur_size);
            return Err(r);
        }
        if req.old == 0 {
            if !req.proof.is_empty() {
                return Err(about(Refusal::new(
                    422,
                    "a consistency proof from size 0 must be empty",
                )));
            }
        } else if req.old == cp.size() {
            if *cp.root() != cur_root {
                return Err(about(Refusal::new(
                    422,
                    "the same size as the checkpoint cosigned with another root hash",
                )));
            }
            if !req.proof.is_empty() {
                return Err(about(Refusal::new(
                    422,
                    "a consistency proof between equal sizes must be empty",
                )));
            }
        } else if let Err(e) = check_tree(&req.proof, cp.size(), cp.root(), req.old, &cur_root) {
            return Err(about(Refusal::new(
                422,
                format!("the consistency proof does not verify: {e}"),
            )));
        }
        let note = format!("{}\n{sigs}{line}", req.note.text());
        self.dir
            .write(&log.hash, &note)
            .map_err(|e| about(Refusal::new(500, format!("cannot save the state: {e}"))))?;
        state.insert(
            cp.origin().to_string(),
            Cosigned {
                size: cp.size(),
                root: *cp.root(),
                note,
                key,
            },
        );
        Ok(line)
    }
}

#[cfg(test)]
mod tests;
