//! `credseal bench ingest`: our ingest against the floor of the same run.
//!
//! The floor is the irreducible work without any of our logic: envelope-encrypting the
//! same records (a random DEK wrapped per subject and class, each record sealed with its
//! commitment) and writing the same number of keys and bytes into a fresh sled database
//! with plain `apply_batch` inserts and one flush at the end.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use credseal_core::{Catalog, FieldType, SubjectId};
use credseal_crypto::{Dek, DekContext, KdfParams, Passphrase, RecordContext};
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::ingest::Progress;
use crate::{InitOptions, OpenOptions, Platform};

/// Results of `bench ingest`.
#[derive(Clone, Debug, Serialize)]
pub struct IngestBench {
    /// Receipts the ingest committed (one per subject and source department).
    pub receipts: u64,
    /// Raw bytes (keys and values) of everything but the records that the ingest wrote: the
    /// receipts, Merkle hashes, checkpoints, the subjects' chains and map, per record.
    pub log_and_index_bytes_per_record: f64,
    /// Synthetic subjects.
    pub subjects: u64,
    /// Records ingested.
    pub records: u64,
    /// Seconds our ingest took (validate + write + flush).
    pub seconds: f64,
    /// Records per second.
    pub records_per_s: f64,
    /// Seconds the floor took.
    pub floor_seconds: f64,
    /// Floor records per second.
    pub floor_records_per_s: f64,
    /// floor_seconds / seconds (1.0: as fast as the floor).
    pub ratio_to_floor: f64,
    /// Bytes of the JSON Lines input per record.
    pub input_bytes_per_record: f64,
    /// Bytes of the plaintext per record: the postcard encoding of the whole record as the
    /// record model has it (record id, subject, class, source, effective date, version,
    /// supersedes, fields by name), what `credseal` returns for it.
    pub plaintext_bytes_per_record: f64,
    /// Bytes actually encrypted per record: the postcard encoding of the record's body, the
    /// record without the subject, class and version its place names (`docs/formats.md` §3).
    pub stored_plaintext_bytes_per_record: f64,
    /// Bytes on disk of the database per record (sum of the file lengths in its directory).
    pub disk_bytes_per_record: f64,
    /// disk_bytes_per_record / plaintext_bytes_per_record.
    pub disk_to_plaintext: f64,
    /// disk_bytes_per_record / stored_plaintext_bytes_per_record.
    pub disk_to_stored_plaintext: f64,
    /// disk_bytes_per_record / input_bytes_per_record.
    pub disk_to_input: f64,
    /// Bytes on disk per record of the floor's database.
    pub floor_disk_bytes_per_record: f64,
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// A synthetic subject id for index `i` (persons and organisations alternate).
pub fn synthetic_subject(i: u64) -> SubjectId {
    if i % 5 == 4 {
        // About one body in 31 has no valid check character: vary the region digit.
        for region in 0..10u64 {
            if let Some(id) = SubjectId::uscc_from_body(&format!("9133010{region}{:09}", i % 1_000_000_000)) {
                return id;
            }
        }
    }
    let day = 1 + (i % 28);
    let month = 1 + (i / 28) % 12;
    let year = 1950 + (i / 336) % 50;
    let seq = (i / 16_800) % 1000;
    SubjectId::resident_from_body(&format!("330106{year:04}{month:02}{day:02}{seq:03}"))
        // Cannot fail: day 1-28, month 1-12, year 1950-1999 and a 3-digit sequence always form a valid 17-digit body.
        .expect("17 digits with a valid birth date")
}

/// Writes a synthetic JSON Lines file: one record per class for each of `subjects` subjects.
pub fn write_synthetic(catalog: &Catalog, subjects: u64, w: &mut dyn Write) -> std::io::Result<u64> {
    let mut n = 0;
    for i in 0..subjects {
        let subject = synthetic_subject(i);
        for (ci, class) in catalog.classes.values().enumerate() {
            let mut fields = serde_json::Map::new();
            for (fi, f) in class.fields.iter().enumerate() {
                let k = i.wrapping_mul(31).wrapping_add((ci * 7 + fi) as u64);
                let v: serde_json::Value = match f.ty {
                    FieldType::Text => {
                        let t = format!("synthetic {} value {k:08}", f.name);
                        let max = f.max_len.map_or(t.len(), |m| m as usize);
                        t[t.len().saturating_sub(max)..].to_string().into()
                    }
                    FieldType::Integer => (k % 10_000).into(),
                    FieldType::Amount => format!("{}.{:02}", k % 1_000_000, k % 100).into(),
                    FieldType::Date => credseal_core::Date::from_days_since_epoch(16_000 + (k % 4000) as i64)
                        .map(|d| d.to_string())
                        .into(),
                    FieldType::Bool => (k % 2 == 0).into(),
                    FieldType::Enum => f.values[(k as usize) % f.values.len()].clone().into(),
                    FieldType::SubjectId => subject.to_string().into(),
                };
                fields.insert(f.name.clone(), v);
            }
            let line = serde_json::json!({
                "record_id": format!("SYN-{}-{i:09}", class.id),
                "subject": subject.to_string(),
                "class": class.id,
                "source": "bench-source",
                "effective": "2024-06-01",
                "fields": fields,
            });
            serde_json::to_writer(&mut *w, &line)?;
            w.write_all(b"\n")?;
            n += 1;
        }
    }
    Ok(n)
}

/// Runs the ingest benchmark in `work` (a fresh, empty directory).
pub fn bench_ingest(catalog_text: &str, subjects: u64, work: &Path, progress: &dyn Progress) -> Result<IngestBench> {
    let catalog = Catalog::parse(catalog_text, Some("catalog")).map_err(EngineError::Catalog)?;
    let input = work.join("input.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).map_err(|e| EngineError::io(&input, e))?);
    let records = write_synthetic(&catalog, subjects, &mut f).map_err(|e| EngineError::io(&input, e))?;
    f.flush().map_err(|e| EngineError::io(&input, e))?;
    drop(f);
    let input_bytes = std::fs::metadata(&input).map_err(|e| EngineError::io(&input, e))?.len();

    // Ours.
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let p = bench_platform(&dir, &pass, catalog_text)?;
    let t = Instant::now();
    let s = p.ingest_file(&input, progress)?;
    let seconds = t.elapsed().as_secs_f64();
    assert_eq!(s.written, records, "bench ingest wrote every record");
    // Untimed: the plaintexts and places, for the floor.
    progress.stage("preparing the floor", records);
    let mut items = Vec::with_capacity(records as usize);
    let mut plaintext_bytes = 0u64;
    let mut stored_plaintext_bytes = 0u64;
    for i in 0..subjects {
        let subject = synthetic_subject(i);
        let blind = p.blind(&subject);
        for class in catalog.classes.keys() {
            let recs = p.vault.read_unreceipted(&p.catalog, &subject, class)?;
            for r in recs {
                let rkey = p.keys().index_key.record_key(&blind, class, &r.record_id);
                let whole = postcard::to_stdvec(&r).map_err(|e| EngineError::Internal(e.to_string()))?;
                plaintext_bytes += whole.len() as u64;
                // What is encrypted: the record's body (as ingest seals it).
                let pt = postcard::to_stdvec(&r.body()).map_err(|e| EngineError::Internal(e.to_string()))?;
                stored_plaintext_bytes += pt.len() as u64;
                items.push((blind, class.clone(), rkey, r.version, pt));
                progress.advance(1);
            }
        }
    }
    progress.finish();
    // Untimed: everything else the ingest wrote (its receipts, their Merkle hashes, the
    // checkpoints, the subjects' chains and map, counters), for the floor to write the same
    // keys and bytes; and how many receipts it signed.
    let receipts = p.log_size()?;
    let mut others: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for tree in credseal_store::Tree::ALL {
        if tree == credseal_store::Tree::Records {
            continue;
        }
        for kv in p.store.scan_prefix(tree, &[]) {
            let (k, v) = kv?;
            others.push((crate::layout::raw_key(tree.tag(), &k), v));
        }
    }
    let other_bytes: usize = others.iter().map(|(k, v)| k.len() + v.len()).sum();
    drop(p);
    let disk = dir_size(&dir.join(crate::DB_DIR));

    // The floor: the records sealed and written, one receipt signature per receipt of ours,
    // and the same other keys and bytes written in plain batches.
    let floor_dir = work.join("floor");
    let kek = credseal_crypto::Kek::generate();
    let floor_signer = credseal_log::LogSigner::from_seed(BENCH_ORIGIN, &[7; 32])
        .map_err(|e| EngineError::Internal(format!("floor signer: {e}")))?;
    let body = credseal_log::ReceiptBody {
        index: 0,
        time: 0,
        actor: credseal_log::Actor::Source {
            id: "bench-source".into(),
        },
        action: credseal_log::Action::Ingest,
        detail: "11 records added".into(),
        subject: Some(credseal_core::BlindId([1; 32])),
        classes: catalog.classes.keys().cloned().collect(),
        purpose: String::new(),
        token_hash: None,
        outcome: credseal_log::Outcome::Done,
        release_digest: None,
        salt: [3; 16],
        chain: Some(credseal_log::Chain { counter: 1, prev: None }),
        disclose_after: None,
        flags: 0,
    };
    let t = Instant::now();
    for _ in 0..receipts {
        std::hint::black_box(
            floor_signer
                .sign_receipt(&body)
                .map_err(|e| EngineError::Internal(e.to_string()))?,
        );
    }
    let db = credseal_store::sled_config(&floor_dir)
        .open()
        .map_err(|e| EngineError::Internal(format!("floor database: {e}")))?;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0;
    let mut i = 0;
    while i < items.len() {
        // One value per subject; per class a fresh DEK, wrapped, and its records sealed.
        let blind = items[i].0;
        let mut recs = crate::bundle::SubjectRecords::default();
        while i < items.len() && items[i].0 == blind {
            let class = items[i].1.clone();
            let dek = Dek::generate();
            let w = credseal_crypto::wrap_dek(
                &kek,
                1,
                &DekContext {
                    blind: &blind,
                    class: &class,
                },
                &dek,
            );
            let mut bundle = crate::bundle::Bundle::new(w);
            while i < items.len() && items[i].0 == blind && items[i].1 == class {
                let (_, _, rkey, version, pt) = &items[i];
                let ctx = RecordContext {
                    blind: &blind,
                    class: &class,
                    record_key: rkey,
                    version: *version,
                };
                let sealed = credseal_crypto::seal_record(&dek, &ctx, pt);
                bundle.put(crate::bundle::Entry {
                    rkey: *rkey,
                    version: *version,
                    sealed,
                });
                i += 1;
                in_batch += 1;
            }
            recs.classes.insert(class, bundle);
        }
        batch.insert(
            crate::layout::raw_key(4, &crate::layout::subject_key(&blind)),
            recs.encode(),
        );
        if in_batch >= 4096 {
            db.apply_batch(std::mem::take(&mut batch))
                .map_err(|e| EngineError::Internal(format!("floor database: {e}")))?;
            in_batch = 0;
        }
    }
    db.apply_batch(batch)
        .map_err(|e| EngineError::Internal(format!("floor database: {e}")))?;
    floor_write(&db, &others, 4096)?;
    let floor_seconds = t.elapsed().as_secs_f64();
    drop(db);
    let floor_disk = dir_size(&floor_dir);
    let r = records as f64;
    Ok(IngestBench {
        receipts,
        log_and_index_bytes_per_record: other_bytes as f64 / r,
        subjects,
        records,
        seconds,
        records_per_s: r / seconds,
        floor_seconds,
        floor_records_per_s: r / floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
        input_bytes_per_record: input_bytes as f64 / r,
        plaintext_bytes_per_record: plaintext_bytes as f64 / r,
        stored_plaintext_bytes_per_record: stored_plaintext_bytes as f64 / r,
        disk_bytes_per_record: disk as f64 / r,
        disk_to_plaintext: disk as f64 / plaintext_bytes as f64,
        disk_to_stored_plaintext: disk as f64 / stored_plaintext_bytes as f64,
        disk_to_input: disk as f64 / input_bytes as f64,
        floor_disk_bytes_per_record: floor_disk as f64 / r,
    })
}

/// The origin of every benchmark platform.
const BENCH_ORIGIN: &str = "bench.credseal.invalid/log";

/// The passphrase of every benchmark platform.
fn bench_passphrase() -> Passphrase {
    Passphrase::new("bench".into())
}

/// A fresh platform in `dir` for a benchmark: generated keys under the cheapest allowed KDF
/// (the benchmarks time the platform, not the passphrase).
fn bench_platform(dir: &Path, pass: &Passphrase, catalog_text: &str) -> Result<Platform> {
    Platform::init(&InitOptions {
        dir,
        catalog_text,
        catalog_name: "catalog",
        origin: BENCH_ORIGIN,
        passphrase: pass,
        keys: crate::KeySource::Generate(KdfParams {
            m_kib: KdfParams::MIN_M_KIB,
            t: 1,
            p: 1,
        }),
        now: crate::clock::Clock::now(&crate::SystemClock)?,
    })?;
    Platform::open(dir, pass, OpenOptions::default())
}

/// A floor's storage work: `kvs` (raw sled keys and values) written to `db` in plain
/// batches of `per_batch`, then flushed.
fn floor_write(db: &sled::Db, kvs: &[(Vec<u8>, Vec<u8>)], per_batch: usize) -> Result<()> {
    let err = |e: sled::Error| EngineError::Internal(format!("floor database: {e}"));
    for chunk in kvs.chunks(per_batch) {
        let mut b = sled::Batch::default();
        for (k, v) in chunk {
            b.insert(k.as_slice(), v.as_slice());
        }
        db.apply_batch(b).map_err(err)?;
    }
    db.flush().map_err(err)?;
    Ok(())
}

/// Results of `bench query`.
#[derive(Clone, Debug, Serialize)]
pub struct QueryBench {
    /// Subjects in the store.
    pub subjects: u64,
    /// Queries run.
    pub queries: u64,
    /// Threads.
    pub threads: u64,
    /// Queries each thread keeps in flight (started, receipt not yet durable).
    pub in_flight: u64,
    /// Classes granted per query.
    pub classes_per_query: u64,
    /// Records released per query, on average.
    pub records_per_query: f64,
    /// Seconds for all queries.
    pub seconds: f64,
    /// Granted queries per second.
    pub queries_per_s: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Seconds of the floor: per query one strict Ed25519 verify, the DEK unwraps, the record
    /// decrypts, one HPKE seal, one receipt signature and its leaf hashes, on the same
    /// number of threads. The mean of two runs, one just before ours and one just after.
    pub floor_seconds: f64,
    /// The floor's run before ours, seconds.
    pub floor_seconds_before: f64,
    /// The floor's run after ours, seconds.
    pub floor_seconds_after: f64,
    /// Floor queries per second.
    pub floor_queries_per_s: f64,
    /// floor_seconds / seconds.
    pub ratio_to_floor: f64,
    /// Receipts per group commit (flush + checkpoint), mean.
    pub commit_batch_mean: f64,
    /// Largest group commit seen.
    pub commit_batch_max: usize,
    /// Group commits.
    pub commits: usize,
    /// On-CPU microseconds per query of our threads (the query threads, with the group
    /// commits they lead, and the closing map write); `None` where the kernel does not report
    /// per-thread CPU time. Unlike wall time, this does not count time the machine's other
    /// work took from us; sled's own background threads are not in it.
    pub cpu_us_per_query: Option<f64>,
    /// On-CPU microseconds per query of the floor's threads (mean of its two runs).
    pub floor_cpu_us_per_query: Option<f64>,
    /// floor_cpu_us_per_query / cpu_us_per_query: the ratio with the machine's noise taken
    /// out. `ratio_to_floor` stays the figure that counts.
    pub cpu_ratio_to_floor: Option<f64>,
    /// Microseconds per query spent on the subject map (issue 7) in the group commits:
    /// looking up each subject's head (its map value) and reading and re-hashing the updated
    /// paths, measured inside the commits, plus the closing write of the changed nodes. Not in
    /// the floor, which stays the irreducible work without our logic.
    pub map_us_per_query: f64,
}

/// On-CPU nanoseconds of the calling thread so far (Linux: the first field of
/// `/proc/thread-self/schedstat`); `None` where the kernel does not tell.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// On-CPU nanoseconds `f` took on the calling thread, with its result.
fn with_thread_cpu<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let start = thread_cpu_ns();
    let out = f();
    let cpu = start.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a));
    (out, cpu)
}

/// The sum of the threads' CPU times, `None` if any is unknown.
fn total_cpu(parts: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    parts.into_iter().try_fold(0u64, |a, c| Some(a.saturating_add(c?)))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the query benchmark in `work` (a fresh, empty directory).
/// The size of a [`bench_query`] run.
#[derive(Clone, Copy, Debug)]
pub struct QuerySize {
    /// Synthetic subjects in the store.
    pub subjects: u64,
    /// Granted queries to run.
    pub queries: u64,
    /// Threads running them (and the floor).
    pub threads: u64,
    /// Queries each thread keeps in flight: it submits the next query while earlier
    /// receipts wait for their group commit, and releases each answer only once its
    /// receipt is durable ([`Platform::submit_query`]). 1: one query at a time.
    pub in_flight: u64,
}

pub fn bench_query(catalog_text: &str, size: QuerySize, work: &Path, progress: &dyn Progress) -> Result<QueryBench> {
    let QuerySize {
        subjects,
        queries,
        threads,
        in_flight,
    } = size;
    let in_flight = in_flight.max(1) as usize;
    use credseal_auth::{Credential, SigningKey, Token, sign};
    let catalog = Catalog::parse(catalog_text, Some("catalog")).map_err(EngineError::Catalog)?;
    // A purpose and the classes without consent that allow it (consent is measured apart).
    let mut best: (String, Vec<String>) = (String::new(), Vec::new());
    for p in catalog.purposes.keys() {
        let cls: Vec<String> = catalog
            .classes
            .values()
            .filter(|c| !c.consent_required && c.purposes.contains(p))
            .map(|c| c.id.clone())
            .collect();
        if cls.len() > best.1.len() {
            best = (p.clone(), cls);
        }
    }
    let (purpose, classes) = best;
    if classes.is_empty() {
        return Err(EngineError::Internal(
            "the catalogue has no class a query without consent can read".into(),
        ));
    }
    let input = work.join("input.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).map_err(|e| EngineError::io(&input, e))?);
    write_synthetic(&catalog, subjects, &mut f).map_err(|e| EngineError::io(&input, e))?;
    f.flush().map_err(|e| EngineError::io(&input, e))?;
    drop(f);
    let origin = BENCH_ORIGIN;
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let p = bench_platform(&dir, &pass, catalog_text)?;
    p.ingest_file(&input, progress)?;
    let authority = SigningKey::generate();
    p.set_authority_key(
        &p.staff_session(crate::DEFAULT_OPERATOR)?,
        authority.public().as_bytes(),
        false,
    )?;
    let dept = SigningKey::generate();
    let sealing = credseal_crypto::SealingKey::generate();
    let now = crate::clock::Clock::now(&crate::SystemClock)?;
    let set: std::collections::BTreeSet<String> = classes.iter().cloned().collect();
    let cred = sign(
        &Credential {
            serial: 1,
            department_id: "bench-dept".into(),
            department_name: "Bench".into(),
            signing_key: dept.public(),
            sealing_key: sealing.public().to_bytes(),
            classes: set.clone(),
            purposes: [purpose.clone()].into_iter().collect(),
            not_before: now - 60,
            not_after: now + 86_400,
            audience: origin.into(),
        },
        &authority,
    )
    .to_text();
    // Tokens are signed by the department before the clock starts.
    progress.stage("signing tokens", queries);
    let tokens: Vec<String> = (0..queries)
        .map(|i| {
            progress.advance(1);
            sign(
                &Token {
                    query_id: credseal_crypto::random_array(),
                    credential_serial: 1,
                    subject: synthetic_subject(i % subjects).to_string(),
                    classes: set.clone(),
                    purpose: purpose.clone(),
                    legal_basis: "benchmark".into(),
                    issued_at: now,
                    expires_at: now + 600,
                    audience: origin.into(),
                    consent: None,
                },
                &dept,
            )
            .to_text()
        })
        .collect();
    progress.finish();
    let per = queries.div_ceil(threads) as usize;
    // The floor's inputs, untimed: per query the token's signed bytes and signature, the
    // wrapped DEKs and sealed records of the granted classes.
    struct FloorItem {
        msg: Vec<u8>,
        sig: [u8; 64],
        blind: credseal_core::BlindId,
        bundles: Vec<(String, crate::bundle::Bundle)>,
    }
    let mut items = Vec::with_capacity(tokens.len());
    let mut records = 0usize;
    for tok in &tokens {
        let u =
            credseal_auth::Unverified::<Token>::parse_text(tok).map_err(|e| EngineError::Internal(e.to_string()))?;
        let bytes = u.as_bytes();
        let sig: [u8; 64] = bytes[bytes.len() - 64..]
            .try_into()
            .map_err(|_| EngineError::Internal("token".into()))?;
        let body = u.peek_unverified().map_err(|e| EngineError::Internal(e.to_string()))?;
        let body_bytes = postcard::to_stdvec(&body).map_err(|e| EngineError::Internal(e.to_string()))?;
        let subject = SubjectId::parse(&body.subject).map_err(|e| EngineError::Internal(e.to_string()))?;
        let blind = p.blind(&subject);
        let recs = p.vault.load_subject(&blind)?.unwrap_or_default();
        let bundles: Vec<_> = classes
            .iter()
            .filter_map(|c| recs.classes.get(c).map(|b| (c.clone(), b.clone())))
            .collect();
        records += bundles.iter().map(|(_, b)| b.entries.len()).sum::<usize>();
        items.push(FloorItem {
            msg: credseal_auth::signed_bytes(credseal_auth::Kind::Token, &body_bytes),
            sig,
            blind,
            bundles,
        });
    }
    let dept_pk = dept.public();
    let recipient = sealing.public();
    let signer = p.log_signer()?;
    let receipt_body = credseal_log::ReceiptBody {
        index: 0,
        time: now,
        actor: credseal_log::Actor::Department {
            id: "bench-dept".into(),
            credential_serial: 1,
        },
        action: credseal_log::Action::Query,
        detail: String::new(),
        subject: Some(
            items
                .first()
                .map(|i| i.blind)
                .unwrap_or(credseal_core::BlindId([0; 32])),
        ),
        classes: set.clone(),
        purpose: purpose.clone(),
        token_hash: Some([1; 32]),
        outcome: credseal_log::Outcome::Granted,
        release_digest: Some([2; 32]),
        salt: [3; 16],
        chain: Some(credseal_log::Chain {
            counter: 2,
            prev: Some([4; 32]),
        }),
        disclose_after: None,
        flags: 0,
    };
    // Wall seconds and the threads' CPU nanoseconds.
    let run_floor = || {
        let t = Instant::now();
        let cpu = std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(per.max(1))
                .map(|chunk| {
                    let (p, dept_pk, recipient, signer, receipt_body) =
                        (&p, &dept_pk, &recipient, &signer, &receipt_body);
                    s.spawn(move || {
                        with_thread_cpu(|| {
                            // The floor's share of the log: one receipt signature and its leaf hashes.
                            let mut tree = credseal_c2sp::MemoryLog::new();
                            for it in chunk {
                                if let Ok(r) = signer.sign_receipt(receipt_body) {
                                    tree.append(r.as_bytes());
                                }
                                let ok = credseal_auth::verify_raw_strict(dept_pk.as_bytes(), &it.msg, &it.sig);
                                std::hint::black_box(ok);
                                let mut out = Vec::new();
                                for (class, b) in &it.bundles {
                                    if let Ok(dek) = p.vault.unwrap_dek(&p.keys(), &it.blind, class, &b.wrapped_dek) {
                                        for e in &b.entries {
                                            let ctx = RecordContext {
                                                blind: &it.blind,
                                                class,
                                                record_key: &e.rkey,
                                                version: e.version,
                                            };
                                            if let Ok(pt) = credseal_crypto::open_record(&dek, &ctx, &e.sealed) {
                                                out.extend_from_slice(&pt);
                                            }
                                        }
                                    }
                                }
                                let _ = std::hint::black_box(credseal_crypto::seal(recipient, b"floor", &[], &out));
                            }
                        })
                        .1
                    })
                })
                .collect();
            total_cpu(handles.into_iter().map(|h| h.join().ok().flatten()))
        });
        (t.elapsed().as_secs_f64(), cpu)
    };
    let (floor_before, floor_cpu_before) = run_floor();
    // Ours.
    let map_before = p.map_update_seconds();
    let t = Instant::now();
    let results: Vec<(Result<Vec<f64>>, Option<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .chunks(per.max(1))
            .map(|chunk| {
                let (p, cred) = (&p, &cred);
                s.spawn(move || {
                    with_thread_cpu(|| -> Result<Vec<f64>> {
                        let failed = |e: crate::QueryError| EngineError::Internal(format!("bench query failed: {e}"));
                        let mut lat = Vec::with_capacity(chunk.len());
                        let mut pending = std::collections::VecDeque::with_capacity(in_flight);
                        for tok in chunk {
                            if pending.len() >= in_flight {
                                let (q, a): (Instant, crate::PendingAnswer<'_>) = pending
                                    .pop_front()
                                    .ok_or_else(|| EngineError::Internal("no query".into()))?;
                                a.wait().map_err(failed)?;
                                lat.push(q.elapsed().as_secs_f64() * 1e6);
                            }
                            let q = Instant::now();
                            pending.push_back((q, p.submit_query(cred, tok, now).map_err(failed)?));
                        }
                        for (q, a) in pending {
                            a.wait().map_err(failed)?;
                            lat.push(q.elapsed().as_secs_f64() * 1e6);
                        }
                        Ok(lat)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Err(EngineError::Internal("a bench thread panicked".into())), None))
            })
            .collect()
    });
    // The map nodes this run changed are written now, inside the timed run: deferred work
    // is still work (docs/formats.md, "Subject map").
    let persist = Instant::now();
    let (persisted, persist_cpu) = with_thread_cpu(|| p.persist_map());
    persisted?;
    let persist_seconds = persist.elapsed().as_secs_f64();
    let seconds = t.elapsed().as_secs_f64();
    let map_seconds = p.map_update_seconds() - map_before + persist_seconds;
    let mut lat = Vec::new();
    let mut cpus = vec![persist_cpu];
    for (r, cpu) in results {
        lat.extend(r?);
        cpus.push(cpu);
    }
    let cpu = total_cpu(cpus);
    lat.sort_by(f64::total_cmp);
    // The floor again, after ours: the mean of the two brackets the run (the machine's
    // speed drifts over seconds).
    let (floor_after, floor_cpu_after) = run_floor();
    let floor_seconds = (floor_before + floor_after) / 2.0;
    let floor_cpu = total_cpu([floor_cpu_before, floor_cpu_after]).map(|c| c / 2);
    let batches = p.commit_batch_sizes();
    let q = queries as f64;
    Ok(QueryBench {
        subjects,
        queries,
        threads,
        in_flight: in_flight as u64,
        classes_per_query: classes.len() as u64,
        records_per_query: records as f64 / q,
        seconds,
        queries_per_s: q / seconds,
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        floor_seconds,
        floor_seconds_before: floor_before,
        floor_seconds_after: floor_after,
        floor_queries_per_s: q / floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
        commit_batch_mean: if batches.is_empty() {
            0.0
        } else {
            batches.iter().sum::<usize>() as f64 / batches.len() as f64
        },
        commit_batch_max: batches.iter().copied().max().unwrap_or(0),
        commits: batches.len(),
        cpu_us_per_query: cpu.map(|c| c as f64 / 1e3 / q),
        floor_cpu_us_per_query: floor_cpu.map(|c| c as f64 / 1e3 / q),
        cpu_ratio_to_floor: floor_cpu.zip(cpu).map(|(f, o)| f as f64 / (o as f64).max(1.0)),
        map_us_per_query: map_seconds * 1e6 / q,
    })
}

/// Results of `bench verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyBench {
    /// Receipts in the subject's bundle.
    pub receipts: u64,
    /// Leaves in the log.
    pub log_size: u64,
    /// Bundle size in bytes.
    pub bundle_bytes: u64,
    /// Median seconds to decode and verify the bundle (signatures, inclusions, consistency
    /// with a saved state at the half-way checkpoint, the chain).
    pub seconds: f64,
    /// Median seconds of the floor: the same number of receipt signature verifications and
    /// inclusion-proof checks, nothing else.
    pub floor_seconds: f64,
    /// floor_seconds / seconds.
    pub ratio_to_floor: f64,
}

/// The subject's side: verifying a bundle of `n` receipts in a log with `noise` other
/// leaves per receipt.
pub fn bench_verify(n: u64, noise: u64) -> Result<VerifyBench> {
    use credseal_c2sp::{MemoryLog, check_record};
    use credseal_log::*;
    let err = |e: &dyn std::fmt::Display| EngineError::Internal(format!("bench verify: {e}"));
    let origin = BENCH_ORIGIN;
    let signer = LogSigner::from_seed(origin, &credseal_crypto::random_array()).map_err(|e| err(&e))?;
    let subject = credseal_core::BlindId(credseal_crypto::random_array());
    let mut log = MemoryLog::new();
    // The subject map: the subject and one other subject per noise leaf, so that the map
    // proof has the depth of a map with n × noise subjects.
    let mut map = MemoryMap::new();
    let mut half_map = MemoryMap::new();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut prev = None;
    let t0 = crate::clock::Clock::now(&crate::SystemClock)? - 10 * n - 10;
    let mut half = (0, 0);
    for counter in 1..=n {
        for k in 0..noise {
            log.append(format!("another subject's receipt {counter}/{k}").as_bytes());
            let mut other = [0u8; 32];
            other[..8].copy_from_slice(&counter.to_be_bytes());
            other[8..16].copy_from_slice(&k.to_be_bytes());
            map.set(
                &credseal_core::BlindId(other),
                MapValue {
                    count: 1,
                    head: [3; 32],
                    index: log.size() - 1,
                },
            );
        }
        let r = signer
            .sign_receipt(&ReceiptBody {
                index: log.size(),
                time: t0 + counter,
                actor: Actor::Department {
                    id: "bank-a".into(),
                    credential_serial: 1,
                },
                action: Action::Query,
                detail: String::new(),
                subject: Some(subject),
                classes: ["identity".to_string(), "loans".to_string()].into(),
                purpose: "loan-approval".into(),
                token_hash: Some([1; 32]),
                outcome: Outcome::Granted,
                release_digest: Some([2; 32]),
                salt: random_salt(),
                chain: Some(Chain { counter, prev }),
                disclose_after: None,
                flags: 0,
            })
            .map_err(|e| err(&e))?;
        log.append(r.as_bytes());
        map.set(
            &subject,
            MapValue {
                count: counter,
                head: r.leaf_hash(),
                index: r.body().index,
            },
        );
        prev = Some(r.leaf_hash());
        chain.push(r.into_bytes());
        if counter == n / 2 {
            half = (log.size(), chain.len());
            half_map = map.clone();
        }
    }
    let verifier = signer.verifier();
    let now = crate::clock::Clock::now(&crate::SystemClock)?;
    let state = if half.0 > 0 {
        let root = log.tree_hash(half.0).map_err(|e| err(&e))?;
        let cp = signer.sign_checkpoint(
            &Checkpoint::new(origin, half.0, root)
                .and_then(|c| c.with_map_root(&half_map.root()))
                .map_err(|e| err(&e))?,
        );
        let b = build_bundle(&log, &half_map, &subject, &chain[..half.1], &cp, None, now).map_err(|e| err(&e))?;
        Some(
            verify_bundle(&b, &verifier, &subject, None, now)
                .map_err(|e| err(&e))?
                .into_new_state()
                .to_bytes(),
        )
    } else {
        None
    };
    let cp = signer.sign_checkpoint(
        &Checkpoint::new(origin, log.size(), log.root())
            .and_then(|c| c.with_map_root(&map.root()))
            .map_err(|e| err(&e))?,
    );
    let bundle = build_bundle(&log, &map, &subject, &chain, &cp, Some(half.0), now)
        .map_err(|e| err(&e))?
        .to_bytes();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let v = verify_bundle_bytes(&bundle, &verifier, &subject, state.as_deref(), now).map_err(|e| err(&e))?;
        times.push(t.elapsed().as_secs_f64());
        if v.receipts().len() as u64 != n {
            return Err(err(&"the bundle lost receipts"));
        }
    }
    let seconds = median(times);
    // The floor: the signature checks and inclusion proofs alone.
    let size = log.size();
    let root = log.root();
    let proofs: Vec<(u64, Hash, Vec<Hash>)> = chain
        .iter()
        .map(|r| {
            let u = UnverifiedReceipt::parse(r).map_err(|e| err(&e))?;
            let idx = u.peek_unverified().map_err(|e| err(&e))?.index;
            let p = log.prove_record(size, idx).map_err(|e| err(&e))?;
            Ok((idx, u.leaf_hash(), p))
        })
        .collect::<Result<_>>()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for (r, (idx, leaf, p)) in chain.iter().zip(&proofs) {
            std::hint::black_box(verifier.verify_receipt(r).is_ok());
            std::hint::black_box(check_record(p, size, &root, *idx, leaf).is_ok());
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let floor_seconds = median(times);
    Ok(VerifyBench {
        receipts: n,
        log_size: size,
        bundle_bytes: bundle.len() as u64,
        seconds,
        floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
    })
}

/// Results of `bench rewrap`.
#[derive(Clone, Debug, Serialize)]
pub struct RewrapBench {
    /// Subjects in the store.
    pub subjects: u64,
    /// Classes (data keys) per subject.
    pub classes_per_subject: u64,
    /// Data keys re-wrapped.
    pub data_keys: u64,
    /// Seconds of `keys rewrap` (read, unwrap, wrap, write in atomic batches, flush, receipt).
    pub seconds: f64,
    /// Data keys re-wrapped per second.
    pub deks_per_s: f64,
    /// Seconds of the floor: the same AES-GCM unwraps and wraps of the same data keys, and
    /// the same keys and bytes written to a fresh sled database in plain batches, flushed.
    pub floor_seconds: f64,
    /// Floor data keys per second.
    pub floor_deks_per_s: f64,
    /// floor_seconds / seconds.
    pub ratio_to_floor: f64,
    /// Bytes on disk of the database before the rewrap (sum of the file lengths in its
    /// directory).
    pub disk_bytes_before: u64,
    /// Bytes on disk of the database after the rewrap: every subject's value rewritten, so the
    /// old copies are garbage (sled's, or dead bytes in the value log, never reclaimed).
    pub disk_bytes_after: u64,
}

/// Subjects written per batch while building the store.
const BUILD_BATCH: usize = 2048;

/// A store of `subjects` × up to 7 classes (one data key and one ~200-byte record each)
/// under KEK v1, every class then rotated to v2; times `rewrap` against its floor.
pub fn bench_rewrap(catalog_text: &str, subjects: u64, work: &Path, progress: &dyn Progress) -> Result<RewrapBench> {
    use credseal_store::{Batch, Tree};
    let catalog = Catalog::parse(catalog_text, Some("catalog")).map_err(EngineError::Catalog)?;
    let classes: Vec<String> = catalog.classes.keys().take(7).cloned().collect();
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let p = bench_platform(&dir, &pass, catalog_text)?;
    let ks = p.keys();
    // Build the store (untimed): each subject's value as ingest would write it.
    progress.stage("building the store", subjects);
    let plaintext = vec![0x5a_u8; 200];
    let mut batch = Batch::new();
    let mut in_batch = 0;
    for i in 0..subjects {
        let blind = p.blind(&synthetic_subject(i));
        let mut recs = crate::bundle::SubjectRecords::default();
        for class in &classes {
            let (v, kek) = ks
                .primary_kek(class)
                .ok_or_else(|| EngineError::Internal(format!("no key for class {class}")))?;
            let dek = Dek::generate();
            let mut b = crate::bundle::Bundle::new(credseal_crypto::wrap_dek(
                kek,
                v,
                &DekContext { blind: &blind, class },
                &dek,
            ));
            let rkey = p.keys().index_key.record_key(&blind, class, &format!("R-{i}"));
            let ctx = RecordContext {
                blind: &blind,
                class,
                record_key: &rkey,
                version: 1,
            };
            b.put(crate::bundle::Entry {
                rkey,
                version: 1,
                sealed: credseal_crypto::seal_record(&dek, &ctx, &plaintext),
            });
            recs.classes.insert(class.clone(), b);
        }
        batch.put(Tree::Records, crate::layout::subject_key(&blind), recs.encode());
        in_batch += 1;
        if in_batch == BUILD_BATCH {
            p.store.apply(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
        progress.advance(1);
    }
    for class in &classes {
        batch.put(
            Tree::Meta,
            crate::layout::dek_count_key(class, 1),
            subjects.to_be_bytes().to_vec(),
        );
    }
    p.store.apply(batch)?;
    p.store.flush()?;
    progress.finish();
    for class in &classes {
        p.rotate_class(&p.staff_session(crate::DEFAULT_OPERATOR)?, class, &pass)?;
    }
    // The floor's inputs, untimed: every wrapped data key before the rewrap.
    let mut wrapped: Vec<(credseal_core::BlindId, String, Vec<u8>)> = Vec::new();
    for kv in p.store.scan_prefix(Tree::Records, &[]) {
        let (k, v) = kv?;
        let blind = crate::layout::parse_subject_key(&k).ok_or_else(|| EngineError::Internal("subject key".into()))?;
        let recs = crate::bundle::SubjectRecords::decode(&v).map_err(|e| EngineError::Internal(e.into()))?;
        for (class, b) in recs.classes {
            wrapped.push((blind, class, b.wrapped_dek));
        }
    }

    let db_dir = dir.join(crate::DB_DIR);
    let disk_bytes_before = dir_size(&db_dir);

    // Ours.
    let t = Instant::now();
    let s = p.rewrap(&p.staff_session(crate::DEFAULT_OPERATOR)?, progress)?;
    let seconds = t.elapsed().as_secs_f64();
    let disk_bytes_after = dir_size(&db_dir);
    let data_keys = wrapped.len() as u64;
    if s.rewrapped != data_keys {
        return Err(EngineError::Internal(format!(
            "bench rewrap moved {} data keys, expected {data_keys}",
            s.rewrapped
        )));
    }
    // The floor's writes, untimed: the stored values after the rewrap.
    let mut values = Vec::with_capacity(subjects as usize);
    for kv in p.store.scan_prefix(Tree::Records, &[]) {
        let (k, v) = kv?;
        values.push((crate::layout::raw_key(Tree::Records.tag(), &k), v));
    }
    let ks = p.keys();
    let old: Vec<&credseal_crypto::Kek> = classes
        .iter()
        .map(|c| ks.kek(c, 1).ok_or_else(|| EngineError::NotFound("KEK v1".into())))
        .collect::<Result<_>>()?;
    let new: Vec<&credseal_crypto::Kek> = classes
        .iter()
        .map(|c| ks.kek(c, 2).ok_or_else(|| EngineError::NotFound("KEK v2".into())))
        .collect::<Result<_>>()?;
    let ix: std::collections::HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();

    // The floor.
    let floor_dir = work.join("floor");
    let t = Instant::now();
    for (blind, class, w) in &wrapped {
        let i = ix[class.as_str()];
        let ctx = DekContext { blind, class };
        let dek = credseal_crypto::unwrap_dek(old[i], &ctx, w)
            .map_err(|e| EngineError::Internal(format!("floor unwrap: {e}")))?;
        std::hint::black_box(credseal_crypto::wrap_dek(new[i], 2, &ctx, &dek));
    }
    let db = credseal_store::sled_config(&floor_dir)
        .open()
        .map_err(|e| EngineError::Internal(format!("floor database: {e}")))?;
    floor_write(&db, &values, REWRAP_BATCH_FOR_FLOOR)?;
    let floor_seconds = t.elapsed().as_secs_f64();
    let n = data_keys as f64;
    Ok(RewrapBench {
        subjects,
        classes_per_subject: classes.len() as u64,
        data_keys,
        seconds,
        deks_per_s: n / seconds,
        floor_seconds,
        floor_deks_per_s: n / floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
        disk_bytes_before,
        disk_bytes_after,
    })
}

/// The floor writes in batches of as many subjects as `rewrap` does.
const REWRAP_BATCH_FOR_FLOOR: usize = crate::keys::REWRAP_BATCH;

/// Results of `bench trace`.
#[derive(Clone, Debug, Serialize)]
pub struct TraceBench {
    /// Fingerprints stored (one per disclosed field).
    pub fingerprints: u64,
    /// Disclosures (receipts) they belong to.
    pub disclosures: u64,
    /// Departments that made them.
    pub departments: u64,
    /// (subject, field, value) items in the leak traced.
    pub leak_items: u64,
    /// Seconds to store the disclosures (receipts, fingerprints, flushes).
    pub setup_seconds: f64,
    /// Seconds the trace took: staff request check, leak parse, lookups, receipts, its own receipt.
    pub trace_seconds: f64,
    /// Whether the department the leak came from ranked first.
    pub leaker_ranked_first: bool,
}

/// `bench trace`: stores `fingerprints` disclosure fingerprints (ten fields per disclosure,
/// fifty departments) in a sled platform in `work` through the receipt log, then times a
/// trace of `leak_items` items drawn from one department's disclosures.
pub fn bench_trace(fingerprints: u64, leak_items: u64, work: &Path, progress: &dyn Progress) -> Result<TraceBench> {
    use std::collections::BTreeSet;

    use credseal_log::{Action, Actor, Outcome};

    use crate::StaffRole;
    use crate::log::NewReceipt;
    const PER: u64 = 10;
    const DEPTS: u64 = 50;
    let catalog_text = include_str!("../../../keys-example/catalog.toml");
    let origin = BENCH_ORIGIN;
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let p = bench_platform(&dir, &pass, catalog_text)?;
    // Ten text fields of the catalogue; a subject's value of each is fixed.
    let fields: Vec<(String, String)> = p
        .catalog
        .classes
        .values()
        .flat_map(|c| {
            c.fields
                .iter()
                .filter(|f| f.ty == FieldType::Text)
                .map(|f| (c.id.clone(), f.name.clone()))
        })
        .take(PER as usize)
        .collect();
    if fields.len() < PER as usize {
        return Err(EngineError::Internal(
            "the catalogue has fewer than ten text fields".into(),
        ));
    }
    let disclosures = fingerprints.div_ceil(PER).max(DEPTS);
    let subjects = (disclosures / 5).max(1);
    let subject_of = |i: u64| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17) % subjects;
    let value = |s: u64, f: &str| format!("{f} of subject {s}");
    let now = crate::clock::Clock::now(&crate::SystemClock)?;
    progress.stage("storing disclosures", disclosures);
    let t = Instant::now();
    let mut i = 0;
    while i < disclosures {
        let end = (i + 2000).min(disclosures);
        let items: Vec<NewReceipt> = (i..end)
            .map(|d| {
                let s = subject_of(d);
                let blind = p.blind(&synthetic_subject(s));
                let fps: Vec<[u8; 32]> = fields
                    .iter()
                    .map(|(c, f)| {
                        let canon = credseal_core::canonical(&FieldType::Text, &value(s, f)).unwrap_or_default();
                        p.fingerprint(&blind, c, f, &canon)
                    })
                    .collect();
                NewReceipt {
                    actor: Actor::Department {
                        id: format!("dept-{:02}", d % DEPTS),
                        credential_serial: d % DEPTS,
                    },
                    action: Action::Query,
                    detail: String::new(),
                    subject: Some(blind),
                    classes: fields.iter().map(|(c, _)| c.clone()).collect::<BTreeSet<_>>(),
                    purpose: "loan-approval".into(),
                    token_hash: Some(credseal_crypto::random_array()),
                    outcome: Outcome::Granted,
                    release_digest: Some(credseal_crypto::random_array()),
                    disclose_after: None,
                    flags: 0,
                    fingerprints: Some(fps),
                    marks: Vec::new(),
                }
            })
            .collect();
        p.append_receipts(items, now)?;
        progress.advance(end - i);
        i = end;
    }
    progress.finish();
    let setup_seconds = t.elapsed().as_secs_f64();
    // The leak: items of dept-07's disclosures, as JSON Lines with `class.field` names.
    let mut leak = Vec::new();
    let mut n = 0u64;
    let mut d = 7u64;
    while n < leak_items && d < disclosures {
        let s = subject_of(d);
        for (c, f) in &fields {
            if n >= leak_items {
                break;
            }
            let line = serde_json::json!({
                "subject": synthetic_subject(s).as_str(),
                format!("{c}.{f}"): value(s, f).to_uppercase(),
            });
            leak.extend_from_slice(line.to_string().as_bytes());
            leak.push(b'\n');
            n += 1;
        }
        d += DEPTS;
    }
    let responder = credseal_auth::SigningKey::generate();
    p.enroll_staff(StaffRole::Responder, "bench", responder.public().as_bytes(), false)?;
    let request = credseal_auth::sign(
        &credseal_auth::StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: "responder".into(),
            staff_key: responder.public(),
            action: "trace".into(),
            input_digest: credseal_crypto::sha256(&leak),
            issued_at: now,
            expires_at: now + 300,
            audience: origin.into(),
        },
        &responder,
    )
    .to_text();
    let t = Instant::now();
    let r = p.trace(&request, &leak, now)?;
    let trace_seconds = t.elapsed().as_secs_f64();
    Ok(TraceBench {
        fingerprints: disclosures * PER,
        disclosures,
        departments: DEPTS,
        leak_items: r.items,
        setup_seconds,
        trace_seconds,
        leaker_ranked_first: r.departments.first().is_some_and(|d| d.department == "dept-07"),
    })
}
