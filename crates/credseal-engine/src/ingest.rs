//! Ingest of JSON Lines files (one record per line).
//!
//! Two passes over the file. The first validates every line against the catalogue and the
//! store and writes nothing; if any line is bad, every error is reported (file, line, field)
//! and the store is untouched. The second pass encrypts and writes in atomic batches.
//! Records already stored with identical content are skipped, so re-ingesting a file
//! changes nothing; a record id stored with different content is an error (a correction is
//! a new `version` that `supersedes` the old one).
//!
//! Threads: in each pass a reader cuts the file into chunks of lines, workers (one per core,
//! at least 2) parse, check, blind and (in pass 2) encrypt them, and the calling thread
//! merges the results in file order, doing everything that depends on order: duplicates,
//! data keys, errors. In pass 2 a writer thread applies the batches in order while the next
//! ones are prepared; the final batch, which removes the ingest-pending marker, and the
//! flush come last. An error that stops an ingest (I/O, the store, a file that changed) is
//! the one a line-by-line ingest would have met first.
//!
//! Memory: lines are read in chunks (at most [`MAX_LINE`] bytes a line, a bounded number of
//! chunks at once), but duplicate detection keeps 40 bytes per record of the file (a hash
//! of its place and of its content). No plaintext is written to disk.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque, hash_map};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

use credseal_core::{BlindId, Record, SubjectId};
use credseal_crypto::{Blinder, Dek, DekContext, RecordContext};
use credseal_store::{Batch, Tree};
use zeroize::{Zeroize, Zeroizing};

use crate::bundle::{Bundle, Entry, SubjectRecords};
use crate::error::{EngineError, Result};
use crate::layout;
use crate::log::NewReceipt;
use crate::platform::Platform;

/// The receipt a subject gets for records added (or corrected) about it by one source;
/// `reingested` of them had been shredded and were let in by `operator`'s explicit
/// `--allow-shredded`.
fn ingest_receipt(blind: BlindId, source: String, correction: bool, event: Event, operator: &str) -> NewReceipt {
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

/// Longest accepted line, in bytes.
pub const MAX_LINE: usize = 1 << 20;
/// Most errors kept in a report (the rest are counted).
pub(crate) const MAX_REPORTED: usize = 1000;
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

/// How to ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Let records that were shredded (retention or credit repair) in again. Off by default:
    /// a tombstone refuses them. When on, each such record's tombstone is removed with it
    /// and its subject's receipt says so, naming the operator.
    pub allow_shredded: bool,
}

/// One problem in an ingest file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestError {
    /// 1-based line number (0: the file as a whole).
    pub line: u64,
    /// The field (dotted path) or `line`.
    pub field: String,
    /// What is wrong (never the value itself).
    pub message: String,
}

/// Why a file was rejected: every error found. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestReport {
    /// The file name as given.
    pub file: String,
    /// Errors, in line order (at most [`MAX_REPORTED`]).
    pub errors: Vec<IngestError>,
    /// Errors found beyond those kept.
    pub more: u64,
    /// Lines read.
    pub lines: u64,
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            if e.line == 0 {
                writeln!(f, "{}: {}", self.file, e.message)?;
            } else {
                writeln!(f, "{}:{}: {}: {}", self.file, e.line, e.field, e.message)?;
            }
        }
        if self.more > 0 {
            writeln!(f, "... and {} more errors", self.more)?;
        }
        let n = self.errors.len() as u64 + self.more;
        write!(
            f,
            "{n} error{} in {} line{}; nothing was written",
            if n == 1 { "" } else { "s" },
            self.lines,
            if self.lines == 1 { "" } else { "s" }
        )
    }
}

/// What an ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    /// Lines read (including blank ones).
    pub lines: u64,
    /// Records in the file.
    pub records: u64,
    /// Records written now.
    pub written: u64,
    /// Records already stored with identical content (skipped).
    pub unchanged: u64,
    /// Identical duplicate lines within the file (skipped).
    pub duplicates: u64,
    /// New data keys created (subject × class pairs seen for the first time).
    pub new_data_keys: u64,
    /// Records written that had been shredded before (only with `--allow-shredded`).
    pub reingested_shredded: u64,
    /// Bytes of the file.
    pub bytes: u64,
}

/// Progress reporting for long work; the CLI draws a bar, tests pass [`NoProgress`].
pub trait Progress {
    /// A new stage with `total` units (bytes, records…).
    fn stage(&self, name: &str, total: u64);
    /// `n` more units done.
    fn advance(&self, n: u64);
    /// The stage is done.
    fn finish(&self);
}

/// Progress that shows nothing.
#[derive(Debug, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
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
    loop {
        let next = lr.next_line(&mut chunk.buf)?;
        let end = next.is_none();
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
}

/// What places a record.
struct Head<'a> {
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
}

/// What pass 2 does with a line.
enum ToWrite {
    Record(Box<Sealable>),
    /// The line is not what pass 1 saw.
    Changed(u64),
}

/// A record to encrypt and write.
struct Sealable {
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
}

impl Platform {
    fn prepare(&self, blinder: &Blinder, text: &str) -> std::result::Result<Prepared, Vec<(String, String)>> {
        // The encoding is shorter than the JSON line.
        let cap = text.len();
        if let Some(v) = Record::view_json_line(text, &self.catalog) {
            let head = Head {
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
        let rec = Record::from_json(&v, &self.catalog)
            .map_err(|is| is.into_iter().map(|i| (i.field, i.message)).collect::<Vec<_>>())?;
        let head = Head {
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
        let blind = blinder.blind(head.subject);
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
                        let candidate = ks.primary_kek(&class).map(|(v, kek)| {
                            let dek = random.dek();
                            let ctx = DekContext {
                                blind: &p.blind,
                                class: &class,
                            };
                            let wrapped = credseal_crypto::wrap_dek(kek, v, &ctx, &dek);
                            Candidate {
                                dek,
                                kek_version: v,
                                wrapped,
                            }
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

    /// Validates and ingests a JSON Lines file. On any invalid line nothing is written and
    /// the error lists every problem. A record that was shredded is refused
    /// ([`Platform::ingest_file_with`] can allow it).
    pub fn ingest_file(&self, path: &Path, progress: &dyn Progress) -> Result<IngestSummary> {
        self.ingest_inner(
            path,
            progress,
            IngestOptions::default(),
            crate::components::gate::DEFAULT_OPERATOR,
        )
    }

    /// [`Platform::ingest_file`] with options, run by the officer of `session` (named in
    /// the receipts of shredded records let in again).
    pub fn ingest_file_with(
        &self,
        session: &crate::StaffSession,
        path: &Path,
        progress: &dyn Progress,
        opts: IngestOptions,
    ) -> Result<IngestSummary> {
        self.ingest_inner(path, progress, opts, session.officer())
    }

    fn ingest_inner(
        &self,
        path: &Path,
        progress: &dyn Progress,
        opts: IngestOptions,
        officer: &str,
    ) -> Result<IngestSummary> {
        let name = path.display().to_string();
        let open = || File::open(path).map_err(|e| EngineError::io(path, e));
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
                    } = *v;
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
        std::thread::scope(|s| {
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
            );
            let w = writer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            // The writer's own error first: it explains why sending to it failed.
            w?;
            r
        })?;
        // The subject map's changed nodes, once for the whole file (its commits kept them
        // in memory); this also flushes.
        self.persist_map()?;
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
    ) -> Result<()> {
        let mut w = Writing {
            officer: officer.to_string(),
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
        self.send_batch(&mut w, true)
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
                            let ks = self.keys();
                            let (v, kek) = ks.primary_kek(class).ok_or_else(|| {
                                EngineError::NotFound(format!("the keystore holds no key for class {class:?}"))
                            })?;
                            let wr = credseal_crypto::wrap_dek(kek, v, &DekContext { blind: &p.blind, class }, &dek);
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
                receipts.push(ingest_receipt(blind, source, correction, event, &w.officer));
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
                hash_map::Entry::Vacant(e) => e.insert(self.dek_count(&class, v)?),
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
            // The records and their receipts in one atomic, durable commit of the log.
            self.append_receipts_with(job.receipts, batch, self.now()?)?;
            let _ = acks.send(job.seq);
        }
        Ok(())
    }
}

/// Pass 2's state on the merging thread.
struct Writing {
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

impl Platform {
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

    /// Whether an earlier ingest was interrupted.
    pub fn ingest_pending(&self) -> Result<bool> {
        Ok(self.store.contains(Tree::Meta, layout::META_INGEST_PENDING)?)
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
    use std::collections::BTreeMap;

    use credseal_core::{Amount, Date, FieldValue, Record, SubjectId};
    use credseal_store::{StoreError, Tree};
    use serde::Serialize;

    /// A store whose batches take a while, and whose `fail_at`-th batch fails.
    #[derive(Debug, Default)]
    struct SlowStore {
        inner: credseal_store::MemoryStore,
        applied: std::sync::atomic::AtomicUsize,
        fail_at: usize,
    }

    impl credseal_store::Store for SlowStore {
        fn get(&self, t: Tree, k: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(t, k)
        }
        fn contains(&self, t: Tree, k: &[u8]) -> Result<bool, StoreError> {
            self.inner.contains(t, k)
        }
        fn scan_prefix(&self, t: Tree, p: &[u8]) -> credseal_store::KvIter<'_> {
            self.inner.scan_prefix(t, p)
        }
        fn scan_prefix_after(&self, t: Tree, p: &[u8], a: Option<&[u8]>) -> credseal_store::KvIter<'_> {
            self.inner.scan_prefix_after(t, p, a)
        }
        fn last_with_prefix(&self, t: Tree, p: &[u8]) -> Result<Option<credseal_store::KvPair>, StoreError> {
            self.inner.last_with_prefix(t, p)
        }
        fn count_prefix(&self, t: Tree, p: &[u8]) -> Result<u64, StoreError> {
            self.inner.count_prefix(t, p)
        }
        fn apply(&self, b: credseal_store::Batch) -> Result<(), StoreError> {
            let n = self.applied.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if n == self.fail_at {
                return Err(StoreError::Io {
                    detail: "disk on fire".into(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            self.inner.apply(b)
        }
        fn insert_new(&self, t: Tree, k: &[u8], v: &[u8]) -> Result<bool, StoreError> {
            self.inner.insert_new(t, k, v)
        }
        fn flush(&self) -> Result<(), StoreError> {
            self.inner.flush()
        }
        fn size_on_disk(&self) -> Result<u64, StoreError> {
            self.inner.size_on_disk()
        }
    }

    fn platform_on(store: std::sync::Arc<dyn credseal_store::Store>) -> crate::Platform {
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
        crate::Platform::with_store(catalog, keys, store).unwrap()
    }

    fn ingest(p: &crate::Platform, lines: &[String]) -> super::IngestSummary {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f.jsonl");
        std::fs::write(&f, lines.join("\n")).unwrap();
        p.ingest_file(&f, &super::NoProgress).unwrap()
    }

    /// Records of one subject far apart (the file sorted by class), over many chunks and
    /// batches, and corrections of records made earlier in the same file; then corrections
    /// of stored records, new classes of stored subjects, and lines already stored. Every
    /// record reads back, every data key is counted once.
    #[test]
    fn scattered_subjects_and_corrections_read_back() {
        // Slow batches: the merging thread reaches subjects of batches not yet applied.
        let p = platform_on(std::sync::Arc::new(SlowStore::default()));
        let cat = p.catalog().clone();
        let mut buf = Vec::new();
        credseal_testkit::synthetic::write_synthetic(&cat, 500, &mut buf).unwrap();
        let all: Vec<String> = String::from_utf8(buf).unwrap().lines().map(str::to_string).collect();
        let parse = |l: &str| Record::from_json(&serde_json::from_str(l).unwrap(), &cat).unwrap();
        let v2 = |l: &String| l.replacen("\"fields\":", "\"version\":2,\"supersedes\":1,\"fields\":", 1);
        let classes: Vec<&String> = cat.classes.keys().collect();
        // First: every class but the first two, by class; at the end, corrections of some
        // records of the file (sealed again under the key made for their first version).
        let mut by_class = all.clone();
        by_class.sort_by_key(|l| parse(l).class);
        let mut first: Vec<String> = by_class
            .into_iter()
            .filter(|l| !classes[..2].contains(&&parse(l).class))
            .collect();
        let keys = first.len();
        let early: Vec<String> = first
            .iter()
            .filter(|l| parse(l).class == *classes[2])
            .step_by(4)
            .map(v2)
            .collect();
        first.extend(early.iter().cloned());
        let s = ingest(&p, &first);
        assert_eq!((s.written, s.new_data_keys), (first.len() as u64, keys as u64));
        // Then: everything, with corrections of one class for some subjects.
        let mut second = all.clone();
        for (i, l) in all
            .iter()
            .enumerate()
            .filter(|(i, l)| i % 3 == 0 && parse(l).class == *classes[5])
        {
            second.insert(i / 2, v2(l));
        }
        let s = ingest(&p, &second);
        let corrections = second.len() - all.len();
        assert_eq!(s.unchanged as usize, keys);
        assert_eq!(s.written as usize, all.len() - keys + corrections);
        assert_eq!(s.new_data_keys as usize, all.len() - keys);
        let records = second.len() + early.len();
        assert_eq!(p.verify_store().unwrap(), (all.len() as u64, records as u64));
        for l in second.iter().chain(&early) {
            let r = parse(l);
            assert!(
                p.vault
                    .read_unreceipted(&p.catalog, &r.subject, &r.class)
                    .unwrap()
                    .contains(&r)
            );
        }
        let status = p.key_status().unwrap();
        let counted: u64 = status.iter().flat_map(|c| c.versions.iter()).map(|v| v.data_keys).sum();
        assert_eq!(counted, all.len() as u64);
    }

    /// A batch that fails stops the ingest with its error, at once, leaving the marker.
    #[test]
    fn a_failing_batch_stops_the_ingest() {
        for fail_at in [3, 4, 5] {
            // The first applies are the platform's metadata and the keystore generation it
            // has seen, the third the ingest marker.
            let store = std::sync::Arc::new(SlowStore {
                fail_at,
                ..Default::default()
            });
            let p = platform_on(store.clone());
            let mut buf = Vec::new();
            credseal_testkit::synthetic::write_synthetic(p.catalog(), 200, &mut buf).unwrap();
            let d = tempfile::tempdir().unwrap();
            let f = d.path().join("f.jsonl");
            std::fs::write(&f, &buf).unwrap();
            let e = p.ingest_file(&f, &super::NoProgress).unwrap_err();
            assert!(e.to_string().contains("disk on fire"), "{e}");
            assert_eq!(p.ingest_pending().unwrap(), fail_at > 3);
            // Nothing was applied after the failure.
            let applied = store.applied.load(std::sync::atomic::Ordering::SeqCst);
            assert!(applied <= fail_at + 1, "{applied} after {fail_at}");
        }
    }

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

    /// What `#[derive(Serialize)]` makes of `FieldValue` and `Record` (theirs are written by
    /// hand to format dates faster; the stored bytes must not change).
    #[derive(Serialize)]
    enum FieldTwin {
        Text(String),
        Integer(i64),
        Amount(Amount),
        Date(Date),
        Bool(bool),
        SubjectId(SubjectId),
    }

    #[derive(Serialize)]
    struct RecordTwin<'a>(
        &'a str,
        &'a SubjectId,
        &'a str,
        &'a str,
        Date,
        u32,
        Option<u32>,
        BTreeMap<&'a str, FieldTwin>,
    );

    /// A record's view encodes as the record (the lines' records are what ingest stores).
    #[test]
    fn view_encodes_as_record() {
        let cat = credseal_core::Catalog::parse(include_str!("../../../keys-example/catalog.toml"), None).unwrap();
        let mut synthetic = Vec::new();
        credseal_testkit::synthetic::write_synthetic(&cat, 50, &mut synthetic).unwrap();
        let synthetic = String::from_utf8(synthetic).unwrap();
        let lines = include_str!("../../../keys-example/records.jsonl")
            .lines()
            .chain(synthetic.lines());
        for l in lines {
            let view = Record::view_json_line(l, &cat).unwrap();
            let rec = Record::from_json(&serde_json::from_str(l).unwrap(), &cat).unwrap();
            assert_eq!(
                postcard::to_stdvec(&view).unwrap(),
                postcard::to_stdvec(&rec).unwrap(),
                "{l}"
            );
            // The bodies (what is sealed) too, and a body gives the record back with its place.
            let body = postcard::to_stdvec(&view.body()).unwrap();
            assert_eq!(body, postcard::to_stdvec(&rec.body()).unwrap(), "{l}");
            let back: credseal_core::RecordBody = postcard::from_bytes(&body).unwrap();
            assert_eq!(
                back.into_record(rec.subject.clone(), rec.class.clone(), rec.version),
                rec
            );
            // The body leaves out exactly the subject, class and version.
            let whole = postcard::to_stdvec(&rec).unwrap().len();
            let place = postcard::to_stdvec(&(&rec.subject, &rec.class, rec.version))
                .unwrap()
                .len();
            assert_eq!(body.len(), whole - place, "{l}");
        }
    }

    #[test]
    fn postcard_encoding_is_the_derived_one() {
        let subject = SubjectId::parse("11010519491231002X").unwrap();
        for (y, m, d, sup) in [
            (1, 1, 1, None),
            (2024, 2, 29, Some(1)),
            (9999, 12, 31, None),
            (10000, 1, 1, None),
        ] {
            let date = Date::new(y, m, d).unwrap();
            let fields: BTreeMap<String, FieldValue> = [
                ("a", FieldValue::Text("Bank \"A\" é".into())),
                ("b", FieldValue::Integer(-300)),
                ("c", FieldValue::Amount(Amount(120_050))),
                ("d", FieldValue::Date(date)),
                ("e", FieldValue::Bool(true)),
                ("f", FieldValue::SubjectId(subject.clone())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let rec = Record {
                record_id: "LN-1".into(),
                subject: subject.clone(),
                class: "loans".into(),
                source: "bank-a".into(),
                effective: date,
                version: 2,
                supersedes: sup,
                fields,
            };
            let twin_fields = rec
                .fields
                .iter()
                .map(|(k, v)| {
                    let t = match v.clone() {
                        FieldValue::Text(x) => FieldTwin::Text(x),
                        FieldValue::Integer(x) => FieldTwin::Integer(x),
                        FieldValue::Amount(x) => FieldTwin::Amount(x),
                        FieldValue::Date(x) => FieldTwin::Date(x),
                        FieldValue::Bool(x) => FieldTwin::Bool(x),
                        FieldValue::SubjectId(x) => FieldTwin::SubjectId(x),
                    };
                    (k.as_str(), t)
                })
                .collect();
            let twin = RecordTwin(
                &rec.record_id,
                &rec.subject,
                &rec.class,
                &rec.source,
                rec.effective,
                rec.version,
                rec.supersedes,
                twin_fields,
            );
            let bytes = postcard::to_stdvec(&rec).unwrap();
            assert_eq!(bytes, postcard::to_stdvec(&twin).unwrap(), "{y}-{m}-{d}");
            if y <= 9999 {
                assert_eq!(postcard::from_bytes::<Record>(&bytes).unwrap(), rec);
            }
        }
    }
}
