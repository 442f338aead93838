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

use std::path::Path;

use crate::components::ingest::{FromProvider, Ingest};
use crate::error::{EngineError, Result};
use crate::platform::Platform;

pub use crate::report::{IngestError, IngestReport};

/// Longest accepted line, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// How to ingest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestOptions {
    /// Let records that were shredded (retention or credit repair) in again. Off by default:
    /// a tombstone refuses them. When on, each such record's tombstone is removed with it
    /// and its subject's receipt says so, naming the operator.
    pub allow_shredded: bool,
}

/// What an ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Ingest through the ingest component (the facade's delegations).
impl Platform {
    /// The ingest component over this platform's parts: a view of references, made per
    /// call (no lock, no clone).
    pub(crate) fn ingest(&self) -> Ingest<'_> {
        Ingest {
            store: self.store.as_ref(),
            catalog: &self.catalog,
            vault: &self.vault,
            appender: &self.appender,
            clock: self.clock.as_ref(),
            write_lock: &self.write_lock,
            scope: None,
            today: self.clock.now().ok().and_then(credseal_core::Date::from_unix),
        }
    }

    /// Validates and ingests a JSON Lines file. On any invalid line nothing is written and
    /// the error lists every problem. A record that was shredded is refused
    /// ([`Platform::ingest_file_with`] can allow it).
    pub fn ingest_file(&self, path: &Path, progress: &dyn Progress) -> Result<IngestSummary> {
        let mut corrections = Vec::new();
        let s = self.ingest().ingest_file(
            path,
            progress,
            IngestOptions::default(),
            crate::components::gate::DEFAULT_OPERATOR,
            &mut corrections,
        )?;
        self.notify_corrections(corrections)?;
        Ok(s)
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
        let mut corrections = Vec::new();
        let s = self
            .ingest()
            .ingest_file(path, progress, opts, session.officer(), &mut corrections)?;
        self.notify_corrections(corrections)?;
        Ok(s)
    }

    /// Ingests a data provider's signed batch (`cs1.batch.…`, docs/formats.md "Ingest
    /// batch"), received at `now`: its key must hold an installed provider credential that
    /// is still valid ([`Platform::enroll_provider`]; else denied), the
    /// signature and the records' digest must verify (else a verification failure), the
    /// batch must name that provider and this platform, be at most
    /// [`credseal_auth::MAX_BATCH_AGE_SECS`] old and not ingested before (else denied).
    /// Every record must lie inside the credential — one of its classes, its record-id
    /// namespace, the provider as `source`, no stored version by another source — else the
    /// whole batch is denied (exit 3) and nothing is written.
    /// Then the records are validated and written as [`Platform::ingest_file`] does, all or
    /// nothing, the errors by line of the batch's records; the receipts name the provider.
    /// The batch is used up once its records validated. The records stay in memory (an
    /// anonymous memory file on Linux): no plaintext is written to disk.
    pub fn ingest_signed_batch(&self, batch: &str, now: u64) -> Result<IngestSummary> {
        let (b, credential, batch_use) = self.gate.check_batch(&self.keys(), batch, now)?;
        let file = records_file(b.records.as_bytes())?;
        let name = Path::new("ingest batch");
        let open = || -> Result<std::fs::File> {
            use std::io::{Seek as _, SeekFrom};
            let mut f = file.try_clone().map_err(|e| EngineError::io(name, e))?;
            f.seek(SeekFrom::Start(0)).map_err(|e| EngineError::io(name, e))?;
            Ok(f)
        };
        let use_batch = || self.gate.use_batch(&batch_use);
        let from = FromProvider {
            id: &credential.provider_id,
            use_batch: &use_batch,
        };
        let mut ingest = self.ingest();
        ingest.scope = Some(&credential);
        let mut corrections = Vec::new();
        let s = ingest.ingest_from(
            name,
            &open,
            &NoProgress,
            IngestOptions::default(),
            crate::components::gate::DEFAULT_OPERATOR,
            Some(&from),
            &mut corrections,
        )?;
        self.notify_corrections(corrections)?;
        Ok(s)
    }

    /// [`Platform::ingest_file_with`] of records already in memory (`credseal ingest -`
    /// reads them from standard input), named `name` in messages. Like a provider's batch,
    /// they are held in an anonymous memory file on Linux for the two passes, never on disk.
    pub fn ingest_records_with(
        &self,
        session: &crate::StaffSession,
        name: &Path,
        records: &[u8],
        progress: &dyn Progress,
        opts: IngestOptions,
    ) -> Result<IngestSummary> {
        let file = records_file(records)?;
        let open = || -> Result<std::fs::File> {
            use std::io::{Seek as _, SeekFrom};
            let mut f = file.try_clone().map_err(|e| EngineError::io(name, e))?;
            f.seek(SeekFrom::Start(0)).map_err(|e| EngineError::io(name, e))?;
            Ok(f)
        };
        let mut corrections = Vec::new();
        let s = self
            .ingest()
            .ingest_from(name, &open, progress, opts, session.officer(), None, &mut corrections)?;
        self.notify_corrections(corrections)?;
        Ok(s)
    }

    /// Whether an earlier ingest was interrupted.
    pub fn ingest_pending(&self) -> Result<bool> {
        self.ingest().ingest_pending()
    }
}

/// A file holding `records`, for the ingest's two passes: an anonymous memory file on Linux
/// (never on disk), else an unlinked temporary file.
fn records_file(records: &[u8]) -> Result<std::fs::File> {
    use std::io::Write as _;
    let name = Path::new("ingest batch");
    #[cfg(target_os = "linux")]
    let mut f = std::fs::File::from(
        rustix::fs::memfd_create("credseal-batch", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| EngineError::io(name, e.into()))?,
    );
    #[cfg(not(target_os = "linux"))]
    let mut f = tempfile::tempfile().map_err(|e| EngineError::io(name, e))?;
    f.write_all(records).map_err(|e| EngineError::io(name, e))?;
    Ok(f)
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
        for fail_at in [4, 5, 6] {
            // The first applies are the platform's metadata, the keystore generation it
            // has seen and the classes' key-tree roots, the fourth the ingest marker.
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
            assert_eq!(p.ingest_pending().unwrap(), fail_at > 4);
            // Nothing was applied after the failure.
            let applied = store.applied.load(std::sync::atomic::Ordering::SeqCst);
            assert!(applied <= fail_at + 1, "{applied} after {fail_at}");
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
