//! `credseal bench ingest`: our ingest against the floor of the same run.
//!
//! The floor is the irreducible work without any of our logic: envelope-encrypting the
//! same records (a random DEK wrapped per subject and class, each record sealed with its
//! commitment), one receipt signature per receipt of ours, and writing the same number of
//! keys and bytes into a fresh sled database with plain `apply_batch` inserts and one flush
//! at the end.

use std::sync::Arc;
use std::time::Instant;

use credseal_core::{BlindId, RecordBody};
use credseal_crypto::{Dek, DekContext, Kek, RecordContext};
use credseal_engine::Progress;
use credseal_engine::bundle::{Bundle, Entry, SubjectRecords};
use credseal_store::{Store, Tree};
use serde::Serialize;

use crate::common::{
    BENCH_ORIGIN, BenchPlatform, FloorDb, bench_passphrase, dir_size, parse_catalog, raw_key, write_input,
};
use crate::error::{BenchError, Result};

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

/// One stored record, for the floor: its place and the plaintext the platform sealed.
struct FloorRecord {
    blind: BlindId,
    class: String,
    rkey: [u8; 16],
    version: u32,
    plaintext: Vec<u8>,
}

/// Runs the ingest benchmark in `work` (a fresh, empty directory): `subjects` synthetic
/// subjects with one record per class of the catalogue `catalog_text`.
pub fn bench_ingest(
    catalog_text: &str,
    subjects: u64,
    work: &std::path::Path,
    progress: &dyn Progress,
) -> Result<IngestBench> {
    let catalog = parse_catalog(catalog_text)?;
    let input = work.join("input.jsonl");
    let records = write_input(&catalog, subjects, &input)?;
    let input_bytes = std::fs::metadata(&input).map_err(|e| BenchError::io(&input, e))?.len();

    // Ours.
    let pass = bench_passphrase();
    let b = BenchPlatform::init(&work.join("platform"), &pass, catalog_text)?;
    let p = &b.platform;
    let t = Instant::now();
    let s = p.ingest_file(&input, progress)?;
    let seconds = t.elapsed().as_secs_f64();
    if s.written != records {
        return Err(BenchError::check(format_args!(
            "bench ingest wrote {} of {records} records",
            s.written
        )));
    }
    // Untimed: the plaintexts and places, for the floor, read from the store with the
    // keystore as a test would (and checked: every record opens where it is stored).
    progress.stage("preparing the floor", records);
    let mut items = Vec::with_capacity(records as usize);
    let mut plaintext_bytes = 0u64;
    let mut stored_plaintext_bytes = 0u64;
    for i in 0..subjects {
        let subject = credseal_testkit::synthetic::synthetic_subject(i);
        let blind = b.platform.blind(&subject)?;
        let short = &blind.to_hex()[..16];
        let value = b
            .store
            .get(Tree::Records, &credseal_engine::layout::subject_key(&blind))?
            .ok_or_else(|| BenchError::check(format_args!("subject {short} has no stored records")))?;
        let recs = SubjectRecords::decode(&value)
            .map_err(|e| BenchError::check(format_args!("records of subject {short}: {e}")))?;
        for class in catalog.classes.keys() {
            let Some(bundle) = recs.classes.get(class) else {
                continue;
            };
            let what = |detail: &dyn std::fmt::Display| format!("subject {short} class {class}: {detail}");
            let ctx = DekContext { blind: &blind, class };
            let store: Arc<dyn credseal_store::Store> = b.store.clone();
            let dek = credseal_engine::open_data_key(store, &b.keys, ctx.blind, class, &bundle.wrapped_dek)
                .map_err(|e| BenchError::check(what(&e)))?;
            for e in &bundle.entries {
                let rctx = RecordContext {
                    blind: &blind,
                    class,
                    record_key: &e.rkey,
                    version: e.version,
                };
                // What is encrypted: the record's body (as ingest seals it).
                let pt =
                    credseal_crypto::open_record(&dek, &rctx, &e.sealed).map_err(|e| BenchError::check(what(&e)))?;
                let body: RecordBody = postcard::from_bytes(&pt).map_err(|e| BenchError::check(what(&e)))?;
                let whole = postcard::to_stdvec(&body.into_record(subject.clone(), class.clone(), e.version))
                    .map_err(|e| BenchError::check(what(&e)))?;
                plaintext_bytes += whole.len() as u64;
                stored_plaintext_bytes += pt.len() as u64;
                items.push(FloorRecord {
                    blind,
                    class: class.clone(),
                    rkey: e.rkey,
                    version: e.version,
                    plaintext: pt.to_vec(),
                });
                progress.advance(1);
            }
        }
    }
    progress.finish();
    if items.len() as u64 != records {
        return Err(BenchError::check(format_args!(
            "the store holds {} of the {records} records ingested",
            items.len()
        )));
    }
    // Untimed: everything else the ingest wrote (its receipts, their Merkle hashes, the
    // checkpoints, the subjects' chains and map, counters), for the floor to write the same
    // keys and bytes; and how many receipts it signed.
    let receipts = p.log_size()?;
    let mut others: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for tree in Tree::ALL {
        if tree == Tree::Records {
            continue;
        }
        for kv in b.store.scan_prefix(tree, &[]) {
            let (k, v) = kv?;
            others.push((raw_key(tree.tag(), &k), v));
        }
    }
    let other_bytes: usize = others.iter().map(|(k, v)| k.len() + v.len()).sum();
    let db_dir = b.db_dir();
    b.close();
    let disk = dir_size(&db_dir);

    // The floor: the records sealed and written, one receipt signature per receipt of ours,
    // and the same other keys and bytes written in plain batches.
    let floor_dir = work.join("floor");
    let kek = Kek::generate();
    let floor_signer = credseal_log::LogSigner::from_seed(BENCH_ORIGIN, &[7; 32])
        .map_err(|e| BenchError::check(format_args!("floor signer: {e}")))?;
    let body = credseal_log::ReceiptBody {
        index: 0,
        time: 0,
        actor: credseal_log::Actor::Source {
            id: "bench-source".into(),
        },
        action: credseal_log::Action::Ingest,
        detail: "11 records added".into(),
        subject: Some(BlindId([1; 32])),
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
                .map_err(|e| BenchError::check(format_args!("floor receipt: {e}")))?,
        );
    }
    let db = FloorDb::open(&floor_dir)?;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0;
    let mut i = 0;
    while i < items.len() {
        // One value per subject; per class a fresh DEK, wrapped, and its records sealed.
        let blind = items[i].blind;
        let mut recs = SubjectRecords::default();
        while i < items.len() && items[i].blind == blind {
            let class = items[i].class.clone();
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
            let mut bundle = Bundle::new(w);
            while i < items.len() && items[i].blind == blind && items[i].class == class {
                let it = &items[i];
                let ctx = RecordContext {
                    blind: &blind,
                    class: &class,
                    record_key: &it.rkey,
                    version: it.version,
                };
                let sealed = credseal_crypto::seal_record(&dek, &ctx, &it.plaintext);
                bundle.put(Entry {
                    rkey: it.rkey,
                    version: it.version,
                    sealed,
                });
                i += 1;
                in_batch += 1;
            }
            recs.classes.insert(class, bundle);
        }
        batch.insert(
            raw_key(Tree::Records.tag(), &credseal_engine::layout::subject_key(&blind)),
            recs.encode(),
        );
        if in_batch >= 4096 {
            db.apply(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    db.apply(batch)?;
    db.write_all(&others, 4096)?;
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
