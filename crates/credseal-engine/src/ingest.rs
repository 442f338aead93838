//! Ingest of JSON Lines files (one record per line).
//!
//! Two passes over the file. The first validates every line against the catalogue and the
//! store and writes nothing; if any line is bad, every error is reported (file, line, field)
//! and the store is untouched. The second pass encrypts and writes in atomic batches.
//! Records already stored with identical content are skipped, so re-ingesting a file
//! changes nothing; a record id stored with different content is an error (a correction is
//! a new `version` that `supersedes` the old one).
//!
//! Memory: lines are read one at a time (at most [`MAX_LINE`] bytes each), but duplicate
//! detection keeps 40 bytes per record of the file (a hash of its place and of its content).

use std::collections::{HashMap, hash_map};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use credseal_core::{BlindId, Record};
use credseal_crypto::{Dek, DekContext, RecordContext};
use credseal_store::{Batch, Tree};

use crate::bundle::{Bundle, Entry, SubjectRecords};
use crate::error::{EngineError, Result};
use crate::layout;
use crate::platform::Platform;

/// Longest accepted line, in bytes.
pub const MAX_LINE: usize = 1 << 20;
/// Most errors kept in a report (the rest are counted).
pub const MAX_REPORTED: usize = 1000;
const BATCH_RECORDS: usize = 4096;
const SUBJECT_CACHE: usize = 1 << 14;

type SubjectCache = HashMap<BlindId, Option<SubjectRecords>>;

/// A subject being written: its records and the DEKs of the classes touched.
struct Pending {
    recs: SubjectRecords,
    deks: HashMap<String, Dek>,
    /// (class, KEK version) of DEKs made by this ingest (counted when written).
    new: Vec<(String, u32)>,
}

impl Platform {
    /// The batch that writes the pending bundles and raises the data-key counters for the
    /// data keys they created, read-modify-write under the caller's write lock.
    fn pending_batch(&self, pending: &mut HashMap<BlindId, Pending>) -> Result<Batch> {
        let mut batch = Batch::new();
        let mut new: std::collections::BTreeMap<(String, u32), u64> = Default::default();
        for (blind, p) in pending.drain() {
            for cv in p.new {
                *new.entry(cv).or_default() += 1;
            }
            batch.put(Tree::Records, layout::subject_key(&blind), p.recs.encode());
        }
        for ((class, v), n) in new {
            let now = self.dek_count(&class, v)?;
            batch.put(
                Tree::Meta,
                layout::dek_count_key(&class, v),
                (now + n).to_be_bytes().to_vec(),
            );
        }
        Ok(batch)
    }
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

enum Line<'a> {
    Text(&'a str),
    Blank,
    TooLong,
    BadUtf8(usize),
}

/// Reads lines of at most MAX_LINE bytes without ever buffering more.
struct LineReader<R> {
    r: BufReader<R>,
    buf: Vec<u8>,
    no: u64,
    bytes: u64,
    digest: ring::digest::Context,
}

impl<R: Read> LineReader<R> {
    fn new(r: R) -> Self {
        Self {
            r: BufReader::with_capacity(1 << 16, r),
            buf: Vec::new(),
            no: 0,
            bytes: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        }
    }

    /// The next line, its number and the bytes consumed, or None at the end.
    fn next_line(&mut self) -> std::io::Result<Option<(u64, u64, Line<'_>)>> {
        self.buf.clear();
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
                if self.buf.len() + chunk.len() > MAX_LINE + 2 {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
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
            return Ok(Some((self.no, consumed, Line::TooLong)));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        if self.buf.len() > MAX_LINE {
            return Ok(Some((self.no, consumed, Line::TooLong)));
        }
        let line = match std::str::from_utf8(&self.buf) {
            Ok(s) if s.trim().is_empty() => Line::Blank,
            Ok(s) => Line::Text(s),
            Err(e) => Line::BadUtf8(e.valid_up_to()),
        };
        Ok(Some((self.no, consumed, line)))
    }
}

fn memchr(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// A record's place: (subject, class, record, version), hashed to 16 bytes.
type PlaceHash = [u8; 16];

struct Seen {
    content: [u8; 16],
    first_line: u64,
    stored: bool,
}

fn h16(parts: &[&[u8]]) -> [u8; 16] {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        c.update(&(p.len() as u32).to_be_bytes());
        c.update(p);
    }
    c.finish().as_ref()[..16].try_into().expect("16 of 32 bytes")
}

struct Prepared {
    rec: Record,
    blind: BlindId,
    rkey: [u8; 16],
    place: PlaceHash,
    content: [u8; 16],
    plaintext: Vec<u8>,
}

impl Platform {
    fn prepare(&self, text: &str) -> std::result::Result<Prepared, Vec<(String, String)>> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            vec![(
                "line".to_string(),
                format!("not valid JSON (column {}): {}", e.column(), json_msg(&e)),
            )]
        })?;
        let rec = Record::from_json(&v, &self.catalog)
            .map_err(|is| is.into_iter().map(|i| (i.field, i.message)).collect::<Vec<_>>())?;
        let blind = self.blind(&rec.subject);
        let rkey = self.keys.index_key.record_key(&blind, &rec.class, &rec.record_id);
        let place = h16(&[
            blind.as_bytes(),
            rec.class.as_bytes(),
            &rkey,
            &rec.version.to_be_bytes(),
        ]);
        let plaintext = postcard::to_stdvec(&rec).map_err(|e| vec![("line".to_string(), e.to_string())])?;
        let content = h16(&[&plaintext]);
        Ok(Prepared {
            rec,
            blind,
            rkey,
            place,
            content,
            plaintext,
        })
    }

    /// Validates and ingests a JSON Lines file. On any invalid line nothing is written and
    /// the error lists every problem.
    pub fn ingest_file(&self, path: &Path, progress: &dyn Progress) -> Result<IngestSummary> {
        let name = path.display().to_string();
        let open = || File::open(path).map_err(|e| EngineError::io(path, e));
        let total = open()?.metadata().map(|m| m.len()).unwrap_or(0);
        // Pass 1: validate everything, write nothing.
        progress.stage("validating", total);
        let mut seen: HashMap<PlaceHash, Seen> = HashMap::new();
        let mut supersedes: Vec<(u64, BlindId, String, [u8; 16], u32)> = Vec::new();
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
        let mut cache: SubjectCache = HashMap::new();
        let mut lr = LineReader::new(open()?);
        while let Some((no, n, line)) = lr.next_line().map_err(|e| EngineError::io(path, e))? {
            progress.advance(n);
            let text = match line {
                Line::Blank => continue,
                Line::TooLong => {
                    push(&mut errors, no, "line".into(), format!("longer than {MAX_LINE} bytes"));
                    continue;
                }
                Line::BadUtf8(at) => {
                    push(
                        &mut errors,
                        no,
                        "line".into(),
                        format!("not valid UTF-8 (at byte {})", at + 1),
                    );
                    continue;
                }
                Line::Text(t) => t,
            };
            summary.records += 1;
            let p = match self.prepare(text) {
                Ok(p) => p,
                Err(issues) => {
                    for (field, message) in issues {
                        push(&mut errors, no, field, message);
                    }
                    continue;
                }
            };
            if let Some(s) = p.rec.supersedes {
                supersedes.push((no, p.blind, p.rec.class.clone(), p.rkey, s));
            }
            match seen.entry(p.place) {
                hash_map::Entry::Occupied(o) => {
                    if o.get().content == p.content {
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
                    let stored = self.compare_stored(&p, &mut cache)?;
                    match stored {
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
                        content: p.content,
                        first_line: no,
                        stored: stored == Stored::Same,
                    });
                }
            }
        }
        summary.lines = lr.no;
        summary.bytes = lr.bytes;
        let digest: [u8; 32] = lr.digest.finish().as_ref().try_into().expect("32 bytes");
        progress.finish();
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
            .map_err(|_| EngineError::Invalid("a writer panicked".into()))?;
        let mut marker = Batch::new();
        marker.put(Tree::Meta, layout::META_INGEST_PENDING, digest.to_vec());
        self.store.apply(marker)?;
        drop(cache);
        let mut pending: HashMap<BlindId, Pending> = HashMap::new();
        let mut pending_records = 0usize;
        let mut lr = LineReader::new(open()?);
        while let Some((no, n, line)) = lr.next_line().map_err(|e| EngineError::io(path, e))? {
            progress.advance(n);
            let Line::Text(text) = line else { continue };
            let changed = || {
                EngineError::Invalid(format!(
                    "{name}: the file changed while it was being ingested (line {no}); run the ingest again"
                ))
            };
            let p = self.prepare(text).map_err(|_| changed())?;
            let s = seen.get(&p.place).ok_or_else(changed)?;
            if s.content != p.content {
                return Err(changed());
            }
            if s.stored || s.first_line != no {
                continue;
            }
            let ps = match pending.entry(p.blind) {
                hash_map::Entry::Occupied(o) => o.into_mut(),
                hash_map::Entry::Vacant(v) => {
                    let recs = self.load_subject(&p.blind)?.unwrap_or_default();
                    v.insert(Pending {
                        recs,
                        deks: HashMap::new(),
                        new: Vec::new(),
                    })
                }
            };
            let class = &p.rec.class;
            if !ps.deks.contains_key(class) {
                let dek = match ps.recs.classes.get(class) {
                    Some(b) => self.unwrap_dek(&p.blind, class, &b.wrapped_dek)?,
                    None => {
                        let dek = Dek::generate();
                        let (v, kek) = self.keys.primary_kek(class).ok_or_else(|| {
                            EngineError::Invalid(format!("the keystore holds no key for class {class:?}"))
                        })?;
                        let w = credseal_crypto::wrap_dek(kek, v, &DekContext { blind: &p.blind, class }, &dek);
                        ps.recs.classes.insert(class.clone(), Bundle::new(w));
                        ps.new.push((class.clone(), v));
                        summary.new_data_keys += 1;
                        dek
                    }
                };
                ps.deks.insert(class.clone(), dek);
            }
            let dek = &ps.deks[class];
            let ctx = RecordContext {
                blind: &p.blind,
                class: &p.rec.class,
                record_key: &p.rkey,
                version: p.rec.version,
            };
            let sealed = credseal_crypto::seal_record(dek, &ctx, &p.plaintext);
            let entry = Entry {
                rkey: p.rkey,
                version: p.rec.version,
                sealed,
            };
            ps.recs.classes.get_mut(class).expect("inserted above").put(entry);
            summary.written += 1;
            pending_records += 1;
            if pending_records >= BATCH_RECORDS {
                self.store.apply(self.pending_batch(&mut pending)?)?;
                pending_records = 0;
            }
        }
        let done: [u8; 32] = lr.digest.finish().as_ref().try_into().expect("32 bytes");
        if done != digest {
            return Err(EngineError::Invalid(format!(
                "{name}: the file changed while it was being ingested; run the ingest again"
            )));
        }
        let mut batch = self.pending_batch(&mut pending)?;
        batch.delete(Tree::Meta, layout::META_INGEST_PENDING);
        self.store.apply(batch)?;
        self.store.flush()?;
        progress.finish();
        Ok(summary)
    }

    fn cached_subject<'c>(&self, blind: &BlindId, cache: &'c mut SubjectCache) -> Result<Option<&'c SubjectRecords>> {
        if !cache.contains_key(blind) {
            if cache.len() >= SUBJECT_CACHE {
                cache.clear();
            }
            let r = self.load_subject(blind)?;
            cache.insert(*blind, r);
        }
        Ok(cache.get(blind).and_then(Option::as_ref))
    }

    fn compare_stored(&self, p: &Prepared, cache: &mut SubjectCache) -> Result<Stored> {
        let Some(bundle) = self
            .cached_subject(&p.blind, cache)?
            .and_then(|r| r.classes.get(&p.rec.class))
        else {
            return Ok(Stored::Absent);
        };
        let Some(e) = bundle.find(&p.rkey, p.rec.version) else {
            return Ok(Stored::Absent);
        };
        let dek = self.unwrap_dek(&p.blind, &p.rec.class, &bundle.wrapped_dek)?;
        let stored = self.open_entry(&dek, &p.blind, &p.rec.class, e)?;
        Ok(if stored == p.rec {
            Stored::Same
        } else {
            Stored::Different
        })
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
