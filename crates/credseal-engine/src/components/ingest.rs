//! The ingest component: validation and writing of a whole JSON Lines file with its
//! receipts (the pipeline the `ingest` module describes). [`Ingest`] is a view over the parts
//! it uses, made for one call: the store, the catalogue, the vault (index key, subjects,
//! data keys), the appender (the subjects' receipts and the subject map) and the clock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque, hash_map};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use credseal_auth::ProviderCredential;
use credseal_core::{BlindId, Record, SubjectId};
use credseal_crypto::{Blinder, Dek, RecordContext};
use credseal_store::{Batch, Tree};
use zeroize::{Zeroize, Zeroizing};

use crate::bundle::{Bundle, Entry, SubjectRecords};
use crate::error::{EngineError, Result};
use crate::layout;
use crate::log::NewReceipt;
use credseal_core::Catalog;
use credseal_crypto::Keystore;
use credseal_store::Store;

use crate::clock::Clock;
use crate::components::appender::Appender;
use crate::components::vault::Vault;
use crate::ingest::{IngestOptions, IngestSummary, MAX_LINE, Progress};
use crate::report::{IngestError, IngestReport, MAX_REPORTED};

/// The receipt a subject gets for records added (or corrected) about it by one source;
/// `reingested` of them had been shredded and were let in by `operator`'s explicit
/// `--allow-shredded`.
fn ingest_receipt(
    blind: BlindId,
    source: String,
    correction: bool,
    event: Event,
    operator: &str,
    provider: Option<&str>,
) -> NewReceipt {
    let (action, what) = if correction {
        (credseal_log::Action::Correction, "corrected")
    } else {
        (credseal_log::Action::Ingest, "added")
    };
    let n = event.records;
    let mut detail = format!("{n} record{} {what}", if n == 1 { "" } else { "s" });
    if event.reingested > 0 {
        detail.push_str(&format!(
            "; {} of them had been shredded and were ingested again on an explicit --allow-shredded by {operator}",
            event.reingested
        ));
    }
    match provider {
        Some(p) => detail.push_str(&format!("; from a batch signed by provider {p}")),
        None => detail.push_str(&format!("; unsigned, an operator import by officer {operator}")),
    }
    let classes = event.classes;
    NewReceipt {
        detail,
        actor: credseal_log::Actor::Source { id: source },
        action,
        subject: Some(blind),
        classes,
        purpose: String::new(),
        token_hash: None,
        outcome: credseal_log::Outcome::Done,
        release_digest: None,
        disclose_after: None,
        marks: Vec::new(),
        flags: 0,
        fingerprints: None,
    }
}

/// Records per write batch (small in unit tests, to cross many batches).
const BATCH_RECORDS: usize = if cfg!(test) { 64 } else { 4096 };
const SUBJECT_CACHE: usize = 1 << 14;

/// Subjects read from the store, forgotten all at once when there are `limit` of them.
struct SubjectCache {
    subjects: HashMap<BlindId, Option<SubjectRecords>>,
    limit: usize,
}

impl SubjectCache {
    fn new(limit: usize) -> Self {
        Self {
            subjects: HashMap::new(),
            limit,
        }
    }
}

/// A subject being written: its records and the DEKs of the classes touched.
struct Pending {
    recs: SubjectRecords,
    deks: HashMap<String, PendingDek>,
    /// (class, KEK version) of DEKs made by this ingest (counted when written).
    new: Vec<(String, u32)>,
    /// What the subject's receipts will say, per (source department, correction?).
    events: BTreeMap<(String, bool), Event>,
    /// Tombstones of shredded records ingested again (`--allow-shredded`): removed with the
    /// records.
    untombed: std::collections::BTreeSet<Vec<u8>>,
}

/// What one receipt of an ingest says: the classes, the number of records, and how many of
/// them had been shredded before.
#[derive(Default)]
struct Event {
    classes: std::collections::BTreeSet<String>,
    records: u64,
    reingested: u64,
}

/// Lines handed to a worker: their bytes one after another, and where each lies.
struct Chunk {
    buf: Vec<u8>,
    /// (line number, the line's bytes in `buf` without its line end, or None: too long).
    lines: Vec<(u64, Option<Range<usize>>)>,
    /// Bytes of the file these lines took.
    bytes: u64,
}

/// A chunk is handed on after this many lines…
const CHUNK_LINES: usize = 512;
/// …or once it holds this many bytes (a chunk holds at most this plus one line).
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks in flight per worker (read and not yet merged); bounds the memory of a pass to
/// about `IN_FLIGHT × workers × (CHUNK_BYTES + MAX_LINE)` for the lines plus what the
/// workers make of them.
const IN_FLIGHT: usize = 4;

/// What the reader saw of the whole file.
struct ReadEnd {
    lines: u64,
    bytes: u64,
    digest: [u8; 32],
    chunks: u64,
}

/// A line read: its number, the bytes it took, and its range in the chunk's buffer (None:
/// too long).
type ReadLine = (u64, u64, Option<Range<usize>>);

/// Past this many bytes without a line end, reading stops with an error (a record line is at
/// most [`MAX_LINE`]).
const MAX_RUNAWAY_LINE: u64 = 64 << 20;

/// Lines longer than [`MAX_LINE`] after which reading stops: each is already an error, and a
/// file with this many is not records.
const MAX_TOO_LONG_LINES: u64 = 1000;

/// Reads lines of at most MAX_LINE bytes without ever buffering more, straight into chunks.
struct LineReader<R> {
    r: BufReader<R>,
    no: u64,
    bytes: u64,
    digest: ring::digest::Context,
}

impl<R: Read> LineReader<R> {
    fn new(r: R) -> Self {
        Self {
            r: BufReader::with_capacity(1 << 16, r),
            no: 0,
            bytes: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }

    /// Appends the next line (without its line end) to `buf` and returns its number and the
    /// bytes it took; its range in `buf` is None if it is longer than MAX_LINE (then nothing
    /// of it is kept). None at the end of the file.
    fn next_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<ReadLine>> {
        let start = buf.len();
        let mut too_long = false;
        let mut consumed = 0u64;
        let mut saw_any = false;
        loop {
            let avail = self.r.fill_buf()?;
            if avail.is_empty() {
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (chunk, done) = match memchr(avail) {
                Some(i) => (&avail[..=i], true),
                None => (avail, false),
            };
            self.digest.update(chunk);
            if !too_long {
                if buf.len() - start + chunk.len() > MAX_LINE + 2 {
                    too_long = true;
                    buf.truncate(start);
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            let n = chunk.len();
            consumed += n as u64;
            self.r.consume(n);
            if done {
                break;
            }
            // A "line" this long is no record: an endless stream (`/dev/zero`) or a binary
            // file. Stop reading instead of reading it to an end that may never come.
            if consumed > MAX_RUNAWAY_LINE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {} is longer than {} MiB: not a JSON Lines file; stopped reading",
                        self.no + 1,
                        MAX_RUNAWAY_LINE >> 20
                    ),
                ));
            }
        }
        self.no += 1;
        self.bytes += consumed;
        if too_long {
            return Ok(Some((self.no, consumed, None)));
        }
        while buf.len() > start && matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        if buf.len() - start > MAX_LINE {
            buf.truncate(start);
            return Ok(Some((self.no, consumed, None)));
        }
        Ok(Some((self.no, consumed, Some(start..buf.len()))))
    }
}

/// The first `\n`, eight bytes at a time.
fn memchr(b: &[u8]) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([1; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    const NL: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        // Whether a byte of w ^ NL is zero (exact, though not where).
        // Cannot fail: `chunks_exact(8)` yields 8-byte slices only.
        let x = u64::from_ne_bytes(w.try_into().expect("8 bytes")) ^ NL;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        at += 8;
    }
    b[at..].iter().position(|&c| c == b'\n').map(|i| at + i)
}

/// Reads the file into chunks for the workers, each numbered, each taking a token first
/// (so that at most the tokens' number of chunks exist at once). Stops early, without
/// error, once the workers or the tokens have gone (the pass was abandoned).
fn read_chunks(file: File, jobs: SyncSender<(u64, Chunk)>, tokens: Receiver<()>) -> std::io::Result<ReadEnd> {
    let mut lr = LineReader::new(file);
    let mut sent = 0u64;
    let new_chunk = || Chunk {
        buf: Vec::with_capacity(CHUNK_BYTES / 4),
        lines: Vec::with_capacity(CHUNK_LINES),
        bytes: 0,
    };
    let mut chunk = new_chunk();
    let mut too_long = 0u64;
    loop {
        let next = lr.next_line(&mut chunk.buf)?;
        let end = next.is_none();
        if let Some((no, _, None)) = next {
            too_long += 1;
            if too_long > MAX_TOO_LONG_LINES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "more than {MAX_TOO_LONG_LINES} lines longer than {} MiB (the last, line {no}): not a JSON Lines file; stopped reading",
                        MAX_LINE >> 20
                    ),
                ));
            }
        }
        if let Some((no, n, range)) = next {
            chunk.lines.push((no, range));
            chunk.bytes += n;
        }
        if chunk.lines.len() >= CHUNK_LINES || chunk.buf.len() >= CHUNK_BYTES || (end && !chunk.lines.is_empty()) {
            let full = std::mem::replace(&mut chunk, new_chunk());
            if tokens.recv().is_err() || jobs.send((sent, full)).is_err() {
                break;
            }
            sent += 1;
        }
        if end {
            break;
        }
    }
    Ok(ReadEnd {
        lines: lr.no,
        bytes: lr.bytes,
        // Cannot fail: SHA-256 digests are always 32 bytes.
        digest: lr.digest.finish().as_ref().try_into().expect("32 bytes"),
        chunks: sent,
    })
}

enum Line<'a> {
    Text(&'a str),
    Blank,
    TooLong,
    BadUtf8(usize),
}

/// The lines of a chunk.
fn lines(chunk: &Chunk) -> impl Iterator<Item = (u64, Line<'_>)> {
    chunk.lines.iter().map(|(no, range)| {
        let line = match range {
            None => Line::TooLong,
            Some(r) => match std::str::from_utf8(&chunk.buf[r.clone()]) {
                Ok(s) if s.trim().is_empty() => Line::Blank,
                Ok(s) => Line::Text(s),
                Err(e) => Line::BadUtf8(e.valid_up_to()),
            },
        };
        (*no, line)
    })
}

/// Spawns a scoped thread; an operating system that cannot start one is an I/O error of the
/// ingest of `path` (the threads already started stop once the caller's channels close).
fn spawn<'scope, 'env, T: Send + 'scope>(
    b: std::thread::Builder,
    s: &'scope std::thread::Scope<'scope, 'env>,
    path: &Path,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<std::thread::ScopedJoinHandle<'scope, T>> {
    b.spawn_scoped(s, f).map_err(|e| EngineError::io(path, e))
}

/// Parsing threads: every core, at least 2 (the reader, the merging thread and the writer
/// mostly wait), at most 4.
fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4)
}

/// Runs one pass over the file: a reader thread cuts it into chunks, `worker_count()`
/// workers (each with the state `init(workers)`) apply `work` to the chunks as they come, and `merge` (on this thread) receives
/// the results in file order with the bytes each chunk took. An error from `merge` abandons
/// the pass.
fn run_chunks<S, T, I, W, M>(path: &Path, file: File, init: I, work: W, mut merge: M) -> Result<ReadEnd>
where
    T: Send,
    I: Fn(usize) -> S + Sync,
    W: Fn(&mut S, Chunk) -> T + Sync,
    M: FnMut(u64, T) -> Result<()>,
{
    let n = worker_count();
    let in_flight = IN_FLIGHT * n;
    std::thread::scope(|s| {
        let (job_tx, job_rx) = sync_channel::<(u64, Chunk)>(n);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (out_tx, out_rx) = sync_channel::<(u64, u64, std::thread::Result<T>)>(in_flight);
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            // Cannot fail: the channel was made with room for exactly `in_flight` tokens and nothing has taken any yet.
            token_tx.send(()).expect("room for every token");
        }
        let mut workers = Vec::with_capacity(n);
        for _ in 0..n {
            let (job_rx, out_tx) = (Arc::clone(&job_rx), out_tx.clone());
            let (init, work) = (&init, &work);
            let worker = std::thread::Builder::new().name("ingest-worker".into());
            workers.push(spawn(worker, s, path, move || {
                let mut state = init(n);
                loop {
                    // A poisoned lock: another worker panicked; the join below reports it.
                    let Ok(Ok((seq, chunk))) = job_rx.lock().map(|rx| rx.recv()) else {
                        break;
                    };
                    let bytes = chunk.bytes;
                    // A panic goes to the merging thread, which stops the pass and re-raises it
                    // (the chunk it lost would otherwise hold up the merge forever).
                    let r = std::panic::catch_unwind(AssertUnwindSafe(|| work(&mut state, chunk)));
                    let panicked = r.is_err();
                    if out_tx.send((seq, bytes, r)).is_err() || panicked {
                        break;
                    }
                }
            })?);
        }
        drop((job_rx, out_tx));
        let reader = spawn(
            std::thread::Builder::new().name("ingest-reader".into()),
            s,
            path,
            move || read_chunks(file, job_tx, token_rx),
        )?;
        let mut merged = 0u64;
        let mut panic = None;
        let mut merge_all = || -> Result<()> {
            // Results come in any order; they are merged in file order. A closed channel
            // means every worker is done.
            let mut early: HashMap<u64, (u64, std::thread::Result<T>)> = HashMap::new();
            loop {
                let (bytes, t) = match early.remove(&merged) {
                    Some(r) => r,
                    None => match out_rx.recv() {
                        Ok((seq, bytes, t)) if seq == merged => (bytes, t),
                        Ok((seq, bytes, t)) => {
                            early.insert(seq, (bytes, t));
                            continue;
                        }
                        Err(_) => return Ok(()),
                    },
                };
                let t = match t {
                    Ok(t) => t,
                    Err(p) => {
                        panic = Some(p);
                        return Ok(());
                    }
                };
                merged += 1;
                merge(bytes, t)?;
                let _ = token_tx.send(());
            }
        };
        let merged_ok = merge_all();
        // Abandoning: closing the result channel stops the workers, and closing the tokens
        // stops the reader.
        drop((out_rx, token_tx));
        let read = reader.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        for w in workers {
            w.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        if let Some(p) = panic {
            std::panic::resume_unwind(p);
        }
        merged_ok?;
        let end = read.map_err(|e| EngineError::io(path, e))?;
        if end.chunks != merged {
            return Err(EngineError::Internal(format!(
                "{}: ingest lost lines between its threads",
                path.display()
            )));
        }
        Ok(end)
    })
}

/// A record's place: (subject, class, record, version), hashed to 16 bytes.
type PlaceHash = [u8; 16];

struct Seen {
    content: [u8; 16],
    first_line: u64,
    stored: bool,
    /// The store held a data key for the record's subject and class during pass 1 (a hint
    /// for pass 2's workers; pass 2 decides on what the store holds then).
    class_stored: bool,
}

fn h16(parts: &[&[u8]]) -> [u8; 16] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        c.update(&(p.len() as u32).to_be_bytes());
        c.update(p);
    }
    // Cannot fail: a SHA-256 digest has 16 leading bytes.
    c.finish().as_ref()[..16].try_into().expect("16 of 32 bytes")
}

/// A record line, checked, blinded and encoded.
struct Prepared {
    source: String,
    class: String,
    version: u32,
    supersedes: Option<u32>,
    blind: BlindId,
    rkey: [u8; 16],
    place: PlaceHash,
    content: [u8; 16],
    plaintext: Vec<u8>,
    /// Outside the provider's credential (a provider's batch only): the reason code and
    /// what is wrong.
    denied: Option<(&'static str, String)>,
    /// The subject, for a correction only (its departments get notices).
    subject: Option<SubjectId>,
}

/// What places a record.
struct Head<'a> {
    effective: credseal_core::Date,
    source: &'a str,
    subject: &'a SubjectId,
    class: &'a str,
    record_id: &'a str,
    version: u32,
    supersedes: Option<u32>,
}

/// A line as pass 1 found it.
enum Checked {
    Blank,
    /// Problems (field, message) of a line; `record` if it was a record line.
    Bad {
        no: u64,
        record: bool,
        issues: Vec<(String, String)>,
    },
    Good(u64, Box<Valid>),
}

/// What pass 1 keeps of a valid record line.
struct Valid {
    blind: BlindId,
    class: String,
    rkey: [u8; 16],
    place: PlaceHash,
    content: [u8; 16],
    supersedes: Option<u32>,
    /// How it compares with the store (only used for the first line of its place), and
    /// whether the store holds a data key for its subject and class.
    stored: Result<(Stored, bool)>,
    /// Outside the provider's credential: the reason code and what is wrong.
    denied: Result<Option<(&'static str, String)>>,
}

/// What pass 2 does with a line.
enum ToWrite {
    Record(Box<Sealable>),
    /// The line is not what pass 1 saw.
    Changed(u64),
}

/// A record to encrypt and write.
struct Sealable {
    /// The subject, for a correction only.
    subject: Option<SubjectId>,
    source: String,
    supersedes: Option<u32>,
    blind: BlindId,
    class: String,
    rkey: [u8; 16],
    version: u32,
    plaintext: Vec<u8>,
    /// Sealed by the worker under the candidate data key `.0` of its chunk.
    sealed: Option<(usize, Vec<u8>)>,
}

/// A fresh data key a worker made for a (subject, class) of its chunk and sealed that
/// pair's records with, on the guess (from pass 1) that the store holds none. The merging
/// thread adopts it if that is still so when it reaches the pair's first record; otherwise
/// it is dropped (zeroized) and the records are sealed again under the right key.
struct Candidate {
    dek: Dek,
    kek_version: u32,
    wrapped: Vec<u8>,
}

/// Random bytes for data keys, drawn from the operating system 1 KiB at a time rather than
/// with one system call per key (a new key per subject and class made that call a fifth of
/// the cost of encrypting). Zeroized as keys are taken and when dropped.
struct KeyPool {
    bytes: Zeroizing<[u8; 1024]>,
    used: usize,
}

impl Default for KeyPool {
    fn default() -> Self {
        Self {
            bytes: Zeroizing::new([0; 1024]),
            used: 1024,
        }
    }
}

impl KeyPool {
    /// A fresh random data key.
    fn dek(&mut self) -> Dek {
        if self.used == self.bytes.len() {
            credseal_crypto::fill_random(&mut self.bytes[..]);
            self.used = 0;
        }
        let taken = &mut self.bytes[self.used..self.used + 32];
        // Cannot fail: the slice is taken 32 bytes long just above.
        let mut key: [u8; 32] = (*taken).try_into().expect("32 bytes");
        taken.zeroize();
        self.used += 32;
        let dek = Dek::from_bytes(key);
        key.zeroize();
        dek
    }
}

/// Pass 2's work on one chunk.
struct SealedChunk {
    recs: Vec<ToWrite>,
    candidates: Vec<Option<Candidate>>,
}

/// A data key of a pending subject, and which candidate it was (its records came sealed).
struct PendingDek {
    dek: Dek,
    candidate: Option<(u64, usize)>,
}

/// Pass 2's writes, applied in order by the writer thread.
struct WriteJob {
    seq: u64,
    subjects: Vec<(BlindId, SubjectRecords)>,
    /// The subjects' receipts, committed to the log with the records.
    receipts: Vec<NewReceipt>,
    /// Data-key counters: (class, KEK version, new total).
    counters: Vec<(String, u32, u64)>,
    /// Tombstone keys to remove (shredded records ingested again).
    untombed: Vec<Vec<u8>>,
    /// The last batch of the ingest: it also removes the ingest-pending marker.
    last: bool,
    /// More writes for the last batch (a provider batch's use, committed with it).
    extra: Batch,
}

/// A correction written by an ingest: the departments that received the version it
/// supersedes get a correction notice (`crate::notices`).
pub(crate) struct Correction {
    /// Its BlindId.
    pub(crate) blind: BlindId,
    /// The record's class.
    pub(crate) class: String,
    /// The record's keyed record key.
    pub(crate) rkey: [u8; 16],
    /// The new version.
    pub(crate) version: u32,
    /// The version it supersedes.
    pub(crate) supersedes: u32,
    /// The new version's body (postcard of `RecordBody`), wiped when dropped.
    pub(crate) body: Zeroizing<Vec<u8>>,
}

/// What a provider's signed batch adds to an ingest: the provider named in the receipts,
/// and the use of the batch (its replay entry), made once the records validated; the
/// writes it returns are committed with the ingest's last batch.
pub(crate) struct FromProvider<'a> {
    /// The authenticated provider's id.
    pub(crate) id: &'a str,
    /// Records the batch as used.
    pub(crate) use_batch: &'a dyn Fn() -> Result<Batch>,
}

/// Ingest over borrowed parts (see the module doc). Cheap to make: references only.
#[derive(Clone, Copy)]
pub(crate) struct Ingest<'a> {
    /// The store: records, data-key counters, tombstones, the ingest-pending marker.
    pub(crate) store: &'a dyn Store,
    /// The catalogue every line is checked against.
    pub(crate) catalog: &'a Catalog,
    /// The keystore (index key, KEKs) and the subjects' stored records.
    pub(crate) vault: &'a Vault,
    /// Where the subjects' receipts go, atomically with their records.
    pub(crate) appender: &'a Appender,
    /// The time of the receipts.
    pub(crate) clock: &'a dyn Clock,
    /// Serialises the writes that create data keys (they update counters).
    pub(crate) write_lock: &'a Mutex<()>,
    /// The credential of the provider whose signed batch this is: every record must be of
    /// one of its classes, in its record-id namespace, name it as the source, and not be
    /// another source's record (None: an operator's import).
    pub(crate) scope: Option<&'a ProviderCredential>,
    /// Today, by the platform's clock: a record already past its class's retention is
    /// refused (None: the clock gave no time; the receipts will fail on it anyway).
    pub(crate) today: Option<credseal_core::Date>,
}

impl Ingest<'_> {
    /// The keystore snapshot for one step.
    fn keys(&self) -> Arc<Keystore> {
        self.vault.keys()
    }

    /// Whether any record was ever shredded (tombstones are checked only then).
    fn has_tombstones(&self) -> Result<bool> {
        Ok(self
            .store
            .scan_prefix(Tree::Tombstones, &[])
            .next()
            .transpose()?
            .is_some())
    }

    /// Whether the record was shredded.
    fn is_tombstoned(&self, blind: &BlindId, class: &str, rkey: &[u8; 16]) -> Result<bool> {
        Ok(self
            .store
            .contains(Tree::Tombstones, &crate::shred::tombstone_key(blind, class, rkey))?)
    }

    fn prepare(&self, blinder: &Blinder, text: &str) -> std::result::Result<Prepared, Vec<(String, String)>> {
        // The encoding is shorter than the JSON line.
        let cap = text.len();
        if let Some(v) = Record::view_json_line(text, self.catalog) {
            let head = Head {
                effective: v.effective(),
                source: v.source(),
                subject: v.subject(),
                class: v.class(),
                record_id: v.record_id(),
                version: v.version(),
                supersedes: v.supersedes(),
            };
            return self.encode(blinder, &v.body(), &head, cap);
        }
        // Not plainly valid: the full check finds the problems (or the record).
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            vec![(
                "line".to_string(),
                format!("not valid JSON (column {}): {}", e.column(), json_msg(&e)),
            )]
        })?;
        let rec = Record::from_json(&v, self.catalog)
            .map_err(|is| is.into_iter().map(|i| (i.field, i.message)).collect::<Vec<_>>())?;
        let head = Head {
            effective: rec.effective,
            source: &rec.source,
            subject: &rec.subject,
            class: &rec.class,
            record_id: &rec.record_id,
            version: rec.version,
            supersedes: rec.supersedes,
        };
        self.encode(blinder, &rec.body(), &head, cap)
    }

    /// Blinds a record and encodes its body (of a `Record` or a view of one: the same bytes),
    /// the plaintext of its ciphertext.
    fn encode<R: serde::Serialize>(
        &self,
        blinder: &Blinder,
        body: &R,
        head: &Head<'_>,
        cap: usize,
    ) -> std::result::Result<Prepared, Vec<(String, String)>> {
        if let (Some(today), Some(class)) = (self.today, self.catalog.class(head.class))
            && class.retention.expired(head.effective, today)
        {
            return Err(vec![(
                "effective".to_string(),
                format!(
                    "the record is past its class's retention ({} from {}) and would never be released",
                    class.retention, head.effective
                ),
            )]);
        }
        // A provider's record dated in the future would start its retention late (a record
        // kept past its time): refused beyond tomorrow (a provider a time zone ahead is not
        // refused). An operator's import (receipted as one) and the platform's own canaries
        // are not held to it.
        if let Some(today) = self.today
            && self.scope.is_some()
            && head.effective.days_since_epoch() > today.days_since_epoch() + 1
        {
            return Err(vec![(
                "effective".to_string(),
                format!("{} is in the future (today is {today})", head.effective),
            )]);
        }
        // A provider's new version changes what departments were given: it must say which
        // version it corrects, so that they get a correction notice and the receipt says
        // "correction". (An operator's import of historical data may start at a later
        // version; it is receipted as an unsigned import.)
        if self.scope.is_some() && head.version > 1 && head.supersedes.is_none() {
            return Err(vec![(
                "supersedes".to_string(),
                format!(
                    "version {} names no version it corrects: a correction is a new version with \"supersedes\"",
                    head.version
                ),
            )]);
        }
        // The subject's VRF blind id: proved once per subject, then from the vault's cache;
        // stored only once the file is written (a refused file writes nothing).
        let blind = self
            .vault
            .blind_unstored(&self.keys(), head.subject)
            .map_err(|e| vec![("subject".to_string(), e.to_string())])?;
        let rkey = blinder.record_key(&blind, head.class, head.record_id);
        let place = h16(&[
            blind.as_bytes(),
            head.class.as_bytes(),
            &rkey,
            &head.version.to_be_bytes(),
        ]);
        let plaintext = postcard::to_extend(body, Vec::with_capacity(cap))
            .map_err(|e| vec![("line".to_string(), e.to_string())])?;
        let content = h16(&[&plaintext]);
        let denied = self.scope.and_then(|c| out_of_scope(c, head));
        Ok(Prepared {
            source: head.source.to_string(),
            class: head.class.to_string(),
            version: head.version,
            supersedes: head.supersedes,
            blind,
            rkey,
            place,
            content,
            plaintext,
            denied,
            subject: head.supersedes.map(|_| head.subject.clone()),
        })
    }

    /// Pass 1's work on a chunk: parse, check, blind, and compare with the store.
    fn check_chunk(&self, blinder: &Blinder, cache: &mut SubjectCache, chunk: Chunk) -> Vec<Checked> {
        lines(&chunk)
            .map(|(no, line)| {
                let bad = |record, field: &str, message: String| Checked::Bad {
                    no,
                    record,
                    issues: vec![(field.to_string(), message)],
                };
                match line {
                    Line::Blank => Checked::Blank,
                    Line::TooLong => bad(false, "line", format!("longer than {MAX_LINE} bytes")),
                    Line::BadUtf8(at) => bad(false, "line", format!("not valid UTF-8 (at byte {})", at + 1)),
                    Line::Text(text) => match self.prepare(blinder, text) {
                        Err(issues) => Checked::Bad {
                            no,
                            record: true,
                            issues,
                        },
                        Ok(p) => {
                            let stored = self.compare_stored(&p, cache);
                            let denied = match p.denied {
                                Some(d) => Ok(Some(d)),
                                None if self.scope.is_some() => self.owned_by_another(&p, cache),
                                None => Ok(None),
                            };
                            Checked::Good(
                                no,
                                Box::new(Valid {
                                    blind: p.blind,
                                    class: p.class,
                                    rkey: p.rkey,
                                    place: p.place,
                                    content: p.content,
                                    supersedes: p.supersedes,
                                    stored,
                                    denied,
                                }),
                            )
                        }
                    },
                }
            })
            .collect()
    }

    /// Pass 2's work on a chunk: the records to write, each checked against pass 1 and, if
    /// its subject and class had no data key in pass 1, sealed under a candidate key. Stops
    /// at the first line that changed.
    fn seal_chunk(
        &self,
        blinder: &Blinder,
        seen: &HashMap<PlaceHash, Seen>,
        random: &mut KeyPool,
        chunk: Chunk,
    ) -> SealedChunk {
        let ks = self.keys();
        let mut recs = Vec::new();
        // Per (subject, class) pair of the chunk: its candidate (None: no KEK for the class),
        // and the record that made it.
        let mut candidates: Vec<Option<Candidate>> = Vec::new();
        let mut made_by: Vec<usize> = Vec::new();
        for (no, line) in lines(&chunk) {
            let Line::Text(text) = line else { continue };
            let Ok(p) = self.prepare(blinder, text) else {
                recs.push(ToWrite::Changed(no));
                break;
            };
            let Some(s) = seen.get(&p.place).filter(|s| s.content == p.content) else {
                recs.push(ToWrite::Changed(no));
                break;
            };
            if s.stored || s.first_line != no {
                continue;
            }
            let class = p.class;
            let group = if s.class_stored {
                None
            } else {
                // A pair's records are usually together: look among the last few pairs. (One
                // found further back would only get a candidate of its own, not adopted.)
                let same = |&(_, &r): &(usize, &usize)| matches!(&recs[r], ToWrite::Record(x) if x.blind == p.blind && x.class == class);
                match made_by.iter().enumerate().rev().take(16).find(same) {
                    Some((g, _)) => candidates[g].as_ref().map(|_| g),
                    None => {
                        // Wrapped under the subject's key-tree leaf (a failure here makes no
                        // candidate; the writer then makes the key and reports the error).
                        let candidate = ks.primary_version(&class).and_then(|_| {
                            let dek = random.dek();
                            let (v, wrapped) = self.vault.wrap_dek(&p.blind, &class, &dek).ok()?;
                            Some(Candidate {
                                dek,
                                kek_version: v,
                                wrapped,
                            })
                        });
                        let made = candidate.is_some();
                        candidates.push(candidate);
                        made_by.push(recs.len());
                        made.then_some(candidates.len() - 1)
                    }
                }
            };
            let sealed = group.map(|g| {
                // Cannot fail: `group` is only Some for a candidate made just above.
                let dek = &candidates[g].as_ref().expect("made above").dek;
                let ctx = RecordContext {
                    blind: &p.blind,
                    class: &class,
                    record_key: &p.rkey,
                    version: p.version,
                };
                (g, credseal_crypto::seal_record(dek, &ctx, &p.plaintext))
            });
            recs.push(ToWrite::Record(Box::new(Sealable {
                subject: p.subject,
                source: p.source,
                supersedes: p.supersedes,
                blind: p.blind,
                class,
                rkey: p.rkey,
                version: p.version,
                plaintext: p.plaintext,
                sealed,
            })));
        }
        SealedChunk { recs, candidates }
    }

    /// Validates and ingests the JSON Lines file `path`. On any invalid line nothing is
    /// written and the error lists every problem. A record that was shredded is refused
    /// unless `opts.allow_shredded`; then its subject's receipt names `officer`.
    pub(crate) fn ingest_file(
        &self,
        path: &Path,
        progress: &dyn Progress,
        opts: IngestOptions,
        officer: &str,
        corrections: &mut Vec<Correction>,
    ) -> Result<IngestSummary> {
        let open = || File::open(path).map_err(|e| EngineError::io(path, e));
        self.ingest_from(path, &open, progress, opts, officer, None, corrections)
    }

    /// [`Ingest::ingest_file`] of what `open` opens (each call a handle at the start of the
    /// same bytes), named `path` in messages; from a provider's signed batch if `provider`.
    /// The corrections written are added to `corrections` (for their notices).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ingest_from(
        &self,
        path: &Path,
        open: &dyn Fn() -> Result<File>,
        progress: &dyn Progress,
        opts: IngestOptions,
        officer: &str,
        provider: Option<&FromProvider<'_>>,
        corrections: &mut Vec<Correction>,
    ) -> Result<IngestSummary> {
        let name = path.display().to_string();
        let total = open()?.metadata().map(|m| m.len()).unwrap_or(0);
        // The index key, expanded once for this ingest (see `Blinder` on what that keeps);
        // dropped when the ingest ends.
        let blinder = Blinder::new(&self.keys().index_key);
        // Pass 1: validate everything, write nothing.
        progress.stage("validating", total);
        let mut seen: HashMap<PlaceHash, Seen> = HashMap::new();
        let mut supersedes: Vec<(u64, BlindId, String, [u8; 16], u32)> = Vec::new();
        // Shredded records let in again (`allow_shredded`): their tombstone keys.
        let mut reingest: HashSet<Vec<u8>> = HashSet::new();
        let mut errors = Vec::new();
        // Records outside the provider's credential: (line, code, what).
        let mut denials: Vec<(u64, &'static str, String)> = Vec::new();
        let mut more = 0u64;
        let mut push = |errors: &mut Vec<IngestError>, line: u64, field: String, message: String| {
            if errors.len() < MAX_REPORTED {
                errors.push(IngestError { line, field, message });
            } else {
                more += 1;
            }
        };
        let mut summary = IngestSummary::default();
        // Tombstones are looked up only once a record has been shredded.
        let tombstones = self.has_tombstones()?;
        let end = run_chunks(
            path,
            open()?,
            // Each worker has its cache; together they hold at most SUBJECT_CACHE subjects.
            |workers| SubjectCache::new(SUBJECT_CACHE / workers),
            |cache, chunk| self.check_chunk(&blinder, cache, chunk),
            |bytes, checked| {
                progress.advance(bytes);
                for c in checked {
                    let (no, v) = match c {
                        Checked::Blank => continue,
                        Checked::Bad { no, record, issues } => {
                            summary.records += u64::from(record);
                            for (field, message) in issues {
                                push(&mut errors, no, field, message);
                            }
                            continue;
                        }
                        Checked::Good(no, v) => (no, v),
                    };
                    summary.records += 1;
                    let Valid {
                        blind,
                        class,
                        rkey,
                        place,
                        content,
                        supersedes: sup,
                        stored,
                        denied,
                    } = *v;
                    if let Some((code, message)) = denied? {
                        if denials.len() < MAX_REPORTED {
                            denials.push((no, code, message));
                        }
                        continue;
                    }
                    let shredded = tombstones && self.is_tombstoned(&blind, &class, &rkey)?;
                    let tomb =
                        (shredded && opts.allow_shredded).then(|| crate::shred::tombstone_key(&blind, &class, &rkey));
                    if let Some(s) = sup {
                        supersedes.push((no, blind, class, rkey, s));
                    }
                    match seen.entry(place) {
                        hash_map::Entry::Occupied(o) => {
                            if o.get().content == content {
                                summary.duplicates += 1;
                            } else {
                                push(
                                    &mut errors,
                                    no,
                                    "record_id".into(),
                                    format!(
                                        "record id and version already appear at line {} with different content",
                                        o.get().first_line
                                    ),
                                );
                            }
                        }
                        hash_map::Entry::Vacant(v) => {
                            let (stored, class_stored) = stored?;
                            match stored {
                                Stored::Absent if tomb.is_some() => {
                                    reingest.extend(tomb);
                                }
                                Stored::Absent if shredded => push(
                                    &mut errors,
                                    no,
                                    "record_id".into(),
                                    "this record was shredded (retention or credit repair) and cannot be ingested again (unless explicitly allowed: ingest --allow-shredded)".into(),
                                ),
                                Stored::Absent => {}
                                // A provider's batch is never compared with what is stored:
                                // the comparison would tell it whether a guessed record equals
                                // the platform's, without a receipt (threat model A8).
                                Stored::Same | Stored::Different if provider.is_some() => push(
                                    &mut errors,
                                    no,
                                    "record_id".into(),
                                    "this record id and version is already stored; a provider's batch adds new records and new versions only (a correction is a new version with \"supersedes\")".into(),
                                ),
                                Stored::Same => summary.unchanged += 1,
                                Stored::Different => push(
                                    &mut errors,
                                    no,
                                    "record_id".into(),
                                    "this record id and version is already stored with different content; send a correction as a new version with \"supersedes\"".into(),
                                ),
                            }
                            v.insert(Seen {
                                content,
                                first_line: no,
                                stored: stored == Stored::Same,
                                class_stored,
                            });
                        }
                    }
                }
                Ok(())
            },
        )?;
        summary.lines = end.lines;
        summary.bytes = end.bytes;
        let digest = end.digest;
        progress.finish();
        let mut cache = SubjectCache::new(SUBJECT_CACHE);
        for (no, blind, class, rkey, s) in supersedes {
            let place = h16(&[blind.as_bytes(), class.as_bytes(), &rkey, &s.to_be_bytes()]);
            let stored = self
                .cached_subject(&blind, &mut cache)?
                .and_then(|r| r.classes.get(&class))
                .is_some_and(|b| b.find(&rkey, s).is_some());
            if !seen.contains_key(&place) && !stored {
                push(
                    &mut errors,
                    no,
                    "supersedes".into(),
                    format!("version {s} of this record is neither stored nor in this file"),
                );
            }
        }
        drop(cache);
        if let Some((_, code, _)) = denials.first() {
            // A provider writing outside its credential is refused as a whole, before any
            // other error, and nothing is written (nor the batch used up).
            let lines: Vec<String> = denials
                .iter()
                .map(|(no, _, what)| format!("line {no}: {what}"))
                .collect();
            return Err(EngineError::denied(
                code,
                format!("{name}: outside the provider's credential: {}", lines.join("; ")),
            ));
        }
        if summary.records == 0 && errors.is_empty() {
            push(
                &mut errors,
                0,
                "file".into(),
                "holds no records (the file is empty)".into(),
            );
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Err(EngineError::Ingest(Box::new(IngestReport {
                file: name,
                errors,
                more,
                lines: summary.lines,
            })));
        }
        // A provider's batch is used up once its records validated (a batch refused for its
        // records stays usable). With nothing to write the use stays a reservation: it
        // blocks a replay while the platform runs, and a replay could only write nothing.
        let extra = match provider {
            Some(p) => (p.use_batch)()?,
            None => Batch::new(),
        };
        let to_write = summary.records - summary.unchanged - summary.duplicates;
        if to_write == 0 {
            return Ok(summary);
        }
        // Pass 2: write.
        progress.stage("writing", total);
        let _writer = self
            .write_lock
            .lock()
            .map_err(|_| EngineError::Internal("an ingest writer thread panicked".into()))?;
        let mut marker = Batch::new();
        marker.put(Tree::Meta, layout::META_INGEST_PENDING, digest.to_vec());
        self.store.apply(marker)?;
        let file = open()?;
        let written = std::thread::scope(|s| {
            let (job_tx, job_rx) = sync_channel::<WriteJob>(1);
            let (ack_tx, ack_rx) = channel::<u64>();
            let writer = spawn(
                std::thread::Builder::new().name("ingest-writer".into()),
                s,
                path,
                move || self.write_jobs(job_rx, ack_tx),
            )?;
            let r = self.write_pass(
                path,
                &name,
                file,
                &blinder,
                &seen,
                &digest,
                &mut summary,
                job_tx,
                ack_rx,
                progress,
                reingest,
                officer,
                provider.map(|p| p.id),
                extra,
            );
            let w = writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            // The writer's own error first: it explains why sending to it failed.
            w?;
            r
        })?;
        corrections.extend(written);
        self.vault.store_proved_blinds()?;
        // The subject map's changed nodes, once for the whole file (its commits kept them
        // in memory); this also flushes.
        self.appender.persist_map(self.vault)?;
        self.store.flush()?;
        progress.finish();
        Ok(summary)
    }

    /// Pass 2 on this thread: merges the workers' records into per-subject bundles in file
    /// order, makes or opens data keys, encrypts, and hands full batches to the writer.
    #[allow(clippy::too_many_arguments)]
    fn write_pass(
        &self,
        path: &Path,
        name: &str,
        file: File,
        blinder: &Blinder,
        seen: &HashMap<PlaceHash, Seen>,
        digest: &[u8; 32],
        summary: &mut IngestSummary,
        jobs: SyncSender<WriteJob>,
        acks: Receiver<u64>,
        progress: &dyn Progress,
        reingest: HashSet<Vec<u8>>,
        officer: &str,
        provider: Option<&str>,
        extra: Batch,
    ) -> Result<Vec<Correction>> {
        let mut w = Writing {
            corrections: Vec::new(),
            notices_owed: Vec::new(),
            officer: officer.to_string(),
            provider: provider.map(str::to_string),
            extra: Some(extra),
            reingest,
            chunk: 0,
            pending: HashMap::new(),
            pending_records: 0,
            counters: HashMap::new(),
            seq: 0,
            applied: 0,
            in_flight: VecDeque::new(),
            jobs,
            acks,
        };
        let end = run_chunks(
            path,
            file,
            |_| KeyPool::default(),
            |random, chunk| self.seal_chunk(blinder, seen, random, chunk),
            |bytes, chunk| {
                progress.advance(bytes);
                let SealedChunk { recs, mut candidates } = chunk;
                w.chunk += 1;
                for r in recs {
                    match r {
                        ToWrite::Changed(no) => {
                            return Err(EngineError::invalid(
                                name.to_string(),
                                format!("the file changed while it was being ingested (line {no})"),
                            ));
                        }
                        ToWrite::Record(p) => self.write_record(&mut w, summary, *p, &mut candidates)?,
                    }
                }
                Ok(())
            },
        )?;
        if end.digest != *digest {
            return Err(EngineError::invalid(
                name.to_string(),
                "the file changed while it was being ingested",
            ));
        }
        self.send_batch(&mut w, true)?;
        Ok(std::mem::take(&mut w.corrections))
    }

    /// Adds one record to its subject's pending bundle.
    fn write_record(
        &self,
        w: &mut Writing,
        summary: &mut IngestSummary,
        p: Sealable,
        candidates: &mut [Option<Candidate>],
    ) -> Result<()> {
        // Cut batches between subjects (a subject's bundle is written whole): once full,
        // before a subject that is not pending; at four times full, regardless.
        if (w.pending_records >= BATCH_RECORDS && !w.pending.contains_key(&p.blind))
            || w.pending_records >= 4 * BATCH_RECORDS
        {
            self.send_batch(w, false)?;
        }
        if !w.pending.contains_key(&p.blind) {
            // A subject in a batch not yet applied must be read after that batch.
            w.wait_applied(&p.blind)?;
            let recs = self.vault.load_subject(&p.blind)?.unwrap_or_default();
            w.pending.insert(
                p.blind,
                Pending {
                    recs,
                    deks: HashMap::new(),
                    new: Vec::new(),
                    events: BTreeMap::new(),
                    untombed: Default::default(),
                },
            );
        }
        // Cannot fail: the subject was inserted into `pending` just above if absent.
        let ps = w.pending.get_mut(&p.blind).expect("inserted above");
        let class = &p.class;
        if !ps.deks.contains_key(class) {
            let dek = match ps.recs.classes.get(class) {
                Some(b) => PendingDek {
                    dek: self.vault.unwrap_dek(&self.keys(), &p.blind, class, &b.wrapped_dek)?,
                    candidate: None,
                },
                None => {
                    // The worker's candidate for this pair if it made one, else a new key.
                    let adopted = p
                        .sealed
                        .as_ref()
                        .and_then(|(g, _)| Some((*g, candidates.get_mut(*g)?.take()?)));
                    let (dek, v, wrapped, candidate) = match adopted {
                        Some((g, c)) => (c.dek, c.kek_version, c.wrapped, Some((w.chunk, g))),
                        None => {
                            let dek = Dek::generate();
                            if self.keys().primary_version(class).is_none() {
                                return Err(EngineError::NotFound(format!(
                                    "the keystore holds no key for class {class:?}"
                                )));
                            }
                            let (v, wr) = self.vault.wrap_dek(&p.blind, class, &dek)?;
                            (dek, v, wr, None)
                        }
                    };
                    ps.recs.classes.insert(class.clone(), Bundle::new(wrapped));
                    ps.new.push((class.clone(), v));
                    summary.new_data_keys += 1;
                    PendingDek { dek, candidate }
                }
            };
            ps.deks.insert(class.clone(), dek);
        }
        let dek = &ps.deks[class];
        let sealed = match p.sealed {
            // Sealed by the worker under the key this pair now has.
            Some((g, sealed)) if dek.candidate == Some((w.chunk, g)) => sealed,
            _ => {
                let ctx = RecordContext {
                    blind: &p.blind,
                    class,
                    record_key: &p.rkey,
                    version: p.version,
                };
                credseal_crypto::seal_record(&dek.dek, &ctx, &p.plaintext)
            }
        };
        let entry = Entry {
            rkey: p.rkey,
            version: p.version,
            sealed,
        };
        // Cannot fail: the class bundle was inserted above if absent.
        ps.recs.classes.get_mut(class).expect("inserted above").put(entry);
        if let (Some(_), Some(supersedes)) = (&p.subject, p.supersedes) {
            // The correction's notices are owed from this commit on: a marker in the same
            // commit as the record, removed by the commit that makes the notices.
            w.notices_owed.push((
                crate::notices::owed_key(&p.blind, &p.rkey, p.version),
                crate::notices::owed_value(&p.class, supersedes),
            ));
            w.corrections.push(Correction {
                blind: p.blind,
                class: p.class.clone(),
                rkey: p.rkey,
                version: p.version,
                supersedes,
                body: Zeroizing::new(p.plaintext),
            });
        }
        let ev = ps.events.entry((p.source, p.supersedes.is_some())).or_default();
        let tomb = crate::shred::tombstone_key(&p.blind, &p.class, &p.rkey);
        if w.reingest.contains(&tomb) {
            ev.reingested += 1;
            summary.reingested_shredded += 1;
            ps.untombed.insert(tomb);
        }
        ev.classes.insert(p.class);
        ev.records += 1;
        summary.written += 1;
        w.pending_records += 1;
        Ok(())
    }

    /// Hands the pending bundles (and the data-key counters they raise) to the writer.
    fn send_batch(&self, w: &mut Writing, last: bool) -> Result<()> {
        let mut new: BTreeMap<(String, u32), u64> = BTreeMap::new();
        let mut subjects = Vec::with_capacity(w.pending.len());
        let mut receipts = Vec::new();
        let mut untombed = Vec::new();
        for (blind, p) in w.pending.drain() {
            for cv in p.new {
                *new.entry(cv).or_default() += 1;
            }
            for ((source, correction), event) in p.events {
                receipts.push(ingest_receipt(
                    blind,
                    source,
                    correction,
                    event,
                    &w.officer,
                    w.provider.as_deref(),
                ));
            }
            untombed.extend(p.untombed);
            subjects.push((blind, p.recs));
            // p.deks is dropped (zeroized) here.
        }
        let mut counters = Vec::with_capacity(new.len());
        for ((class, v), n) in new {
            let now = match w.counters.entry((class.clone(), v)) {
                hash_map::Entry::Occupied(o) => o.into_mut(),
                // Read once, before any batch of ours touches it; ours are the only writes
                // while the write lock is held.
                hash_map::Entry::Vacant(e) => e.insert(self.vault.dek_count(&class, v)?),
            };
            *now += n;
            counters.push((class, v, *now));
        }
        w.pending_records = 0;
        if subjects.is_empty() && counters.is_empty() && !last {
            return Ok(());
        }
        w.seq += 1;
        w.in_flight
            .push_back((w.seq, subjects.iter().map(|(b, _)| *b).collect()));
        let job = WriteJob {
            seq: w.seq,
            subjects,
            receipts,
            counters,
            untombed,
            last,
            extra: {
                let mut extra = if last {
                    w.extra.take().unwrap_or_default()
                } else {
                    Batch::new()
                };
                for (k, v) in w.notices_owed.drain(..) {
                    extra.put(Tree::Meta, k, v);
                }
                extra
            },
        };
        // A closed channel means the writer stopped on an error; the caller reports it.
        w.jobs
            .send(job)
            .map_err(|_| EngineError::Internal("the ingest writer thread stopped".into()))
    }

    /// The writer thread: applies the batches in order, acknowledging each.
    fn write_jobs(&self, jobs: Receiver<WriteJob>, acks: Sender<u64>) -> Result<()> {
        for job in jobs {
            let mut subjects = job.subjects;
            // Keys in order: sled inserts sorted keys faster.
            subjects.sort_unstable_by_key(|s| s.0);
            let mut batch = Batch::new();
            for (blind, recs) in &subjects {
                batch.put(Tree::Records, layout::subject_key(blind), recs.encode());
            }
            drop(subjects);
            for (class, v, n) in job.counters {
                batch.put(Tree::Meta, layout::dek_count_key(&class, v), n.to_be_bytes().to_vec());
            }
            for key in job.untombed {
                batch.delete(Tree::Tombstones, key);
            }
            if job.last {
                batch.delete(Tree::Meta, layout::META_INGEST_PENDING);
            }
            batch.append(job.extra);
            // The records and their receipts in one atomic, durable commit of the log.
            self.appender
                .append_with(self.vault, job.receipts, batch, self.clock.now()?)?;
            let _ = acks.send(job.seq);
        }
        Ok(())
    }

    fn cached_subject<'c>(&self, blind: &BlindId, cache: &'c mut SubjectCache) -> Result<Option<&'c SubjectRecords>> {
        if !cache.subjects.contains_key(blind) {
            if cache.subjects.len() >= cache.limit {
                cache.subjects.clear();
            }
            let r = self.vault.load_subject(blind)?;
            cache.subjects.insert(*blind, r);
        }
        Ok(cache.subjects.get(blind).and_then(Option::as_ref))
    }

    /// How a record compares with the store, and whether the store holds a data key for its
    /// subject and class.
    fn compare_stored(&self, p: &Prepared, cache: &mut SubjectCache) -> Result<(Stored, bool)> {
        let Some(bundle) = self
            .cached_subject(&p.blind, cache)?
            .and_then(|r| r.classes.get(&p.class))
        else {
            return Ok((Stored::Absent, false));
        };
        let Some(e) = bundle.find(&p.rkey, p.version) else {
            return Ok((Stored::Absent, true));
        };
        let ks = self.keys();
        let dek = self.vault.unwrap_dek(&ks, &p.blind, &p.class, &bundle.wrapped_dek)?;
        let (stored, _) = self.vault.open_body(&ks, &dek, &p.blind, &p.class, e)?;
        // At the same place (subject, class, record id, version), records are equal exactly
        // when the encodings of their bodies are.
        Ok((
            if stored[..] == p.plaintext[..] {
                Stored::Same
            } else {
                Stored::Different
            },
            true,
        ))
    }

    /// For a provider's batch: whether a stored version of the record (any version) names
    /// another source — another provider's record, which this one may not correct or
    /// supersede.
    fn owned_by_another(&self, p: &Prepared, cache: &mut SubjectCache) -> Result<Option<(&'static str, String)>> {
        let Some(c) = self.scope else { return Ok(None) };
        let Some(bundle) = self
            .cached_subject(&p.blind, cache)?
            .and_then(|r| r.classes.get(&p.class))
        else {
            return Ok(None);
        };
        let mut same = bundle.entries.iter().filter(|e| e.rkey == p.rkey).peekable();
        if same.peek().is_none() {
            return Ok(None);
        }
        let ks = self.keys();
        let dek = self.vault.unwrap_dek(&ks, &p.blind, &p.class, &bundle.wrapped_dek)?;
        for e in same {
            let (_, body) = self.vault.open_body(&ks, &dek, &p.blind, &p.class, e)?;
            if body.source != c.provider_id {
                return Ok(Some((
                    "provider-record-not-owned",
                    format!(
                        "version {} of this record is another source's; provider {} may not correct or supersede it",
                        e.version, c.provider_id
                    ),
                )));
            }
        }
        Ok(None)
    }

    /// Whether an earlier ingest was interrupted.
    pub(crate) fn ingest_pending(&self) -> Result<bool> {
        Ok(self.store.contains(Tree::Meta, layout::META_INGEST_PENDING)?)
    }
}

/// Why a record is outside a provider's credential, if it is: a class it is not enrolled
/// for, a record id outside its namespace, or another source than itself.
fn out_of_scope(c: &ProviderCredential, head: &Head<'_>) -> Option<(&'static str, String)> {
    if !c.allows_class(head.class) {
        return Some((
            "provider-class-not-enrolled",
            format!("provider {} is not enrolled for class {}", c.provider_id, head.class),
        ));
    }
    if !c.in_namespace(head.record_id) {
        return Some((
            "provider-record-outside-namespace",
            format!(
                "record id outside provider {}'s namespace {:?}",
                c.provider_id, c.record_prefix
            ),
        ));
    }
    if head.source != c.provider_id {
        return Some((
            "provider-source-mismatch",
            format!(
                "the record names source {:?}; provider {} writes its own records only",
                head.source, c.provider_id
            ),
        ));
    }
    None
}

/// Pass 2's state on the merging thread.
struct Writing {
    /// The provider whose signed batch this is, named in the receipts.
    provider: Option<String>,
    /// The corrections written (their departments get notices once the ingest is done).
    corrections: Vec<Correction>,
    /// Markers of the notices the corrections owe (Meta key, value), committed with the
    /// batch that writes their records.
    notices_owed: Vec<(Vec<u8>, Vec<u8>)>,
    /// Writes for the last batch ([`WriteJob::extra`]).
    extra: Option<Batch>,
    /// Tombstone keys of the shredded records this ingest lets in again.
    reingest: HashSet<Vec<u8>>,
    /// The number of the chunk being merged.
    chunk: u64,
    pending: HashMap<BlindId, Pending>,
    pending_records: usize,
    /// Data-key counters as this ingest has raised them: (class, KEK version) → total.
    counters: HashMap<(String, u32), u64>,
    /// The last batch handed to the writer, and the last it applied.
    seq: u64,
    applied: u64,
    /// Subjects of the batches handed to the writer and not yet applied.
    in_flight: VecDeque<(u64, HashSet<BlindId>)>,
    jobs: SyncSender<WriteJob>,
    acks: Receiver<u64>,
    /// The officer named if shredded records are let in again.
    officer: String,
}

impl Writing {
    /// Waits until no batch in flight holds `blind`.
    fn wait_applied(&mut self, blind: &BlindId) -> Result<()> {
        while let Ok(seq) = self.acks.try_recv() {
            self.applied = seq;
        }
        self.in_flight.retain(|(seq, _)| *seq > self.applied);
        let Some(last) = self
            .in_flight
            .iter()
            .rev()
            .find(|(_, s)| s.contains(blind))
            .map(|(seq, _)| *seq)
        else {
            return Ok(());
        };
        while self.applied < last {
            // A closed channel means the writer stopped on an error; the caller reports it.
            self.applied = self
                .acks
                .recv()
                .map_err(|_| EngineError::Internal("the ingest writer thread stopped".into()))?;
        }
        self.in_flight.retain(|(seq, _)| *seq > self.applied);
        Ok(())
    }
}

#[derive(PartialEq, Eq)]
enum Stored {
    Absent,
    Same,
    Different,
}

fn json_msg(e: &serde_json::Error) -> String {
    // serde_json's messages end with " at line L column C"; the line is ours, not its.
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_pool_gives_distinct_keys_and_forgets_them() {
        let mut pool = super::KeyPool::default();
        let keys: Vec<_> = (0..100).map(|_| pool.dek()).collect();
        for (i, a) in keys.iter().enumerate() {
            assert!(keys[i + 1..].iter().all(|b| !a.ct_eq(b)));
        }
        // 100 keys: the fourth kilobyte, four keys in; what was handed out is zeroed.
        assert_eq!(pool.used, 4 * 32);
        assert!(pool.bytes[..pool.used].iter().all(|&b| b == 0));
        assert!(pool.bytes[pool.used..].iter().any(|&b| b != 0));
    }

    #[test]
    fn memchr_finds_the_first_newline() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'\n');
        // Bytes near '\n' in value or in bits, and a xorshift stream over them.
        let near = [b'\n', 0x0b, 0x09, 0x00, 0x8a, 0xff, 0x0a ^ 0x01, b'a'];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let len = (x % 40) as usize;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Mostly not '\n', so the first one falls anywhere.
                    if x.is_multiple_of(16) {
                        b'\n'
                    } else {
                        near[1 + (x >> 8) as usize % 7]
                    }
                })
                .collect();
            for start in 0..len.min(9) {
                assert_eq!(super::memchr(&data[start..]), naive(&data[start..]), "{data:?}");
            }
        }
    }
}
