//! `credseal bench rewrap`: re-wrapping every data key after a rotation, against the floor of
//! the same unwraps and wraps and the same writes in plain batches.

use std::path::Path;
use std::time::Instant;

use credseal_core::BlindId;
use credseal_crypto::{Dek, DekContext, Kek, RecordContext};
use credseal_engine::bundle::{Bundle, Entry, SubjectRecords};
use credseal_engine::{DEFAULT_OPERATOR, Progress};
use serde::Serialize;

use crate::common::{BenchPlatform, FloorDb, bench_passphrase, dir_allocated, dir_size, parse_catalog, raw_key};
use crate::error::{BenchError, Result};

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
    /// Bytes on disk of the database after the rewrap: every subject's value rewritten (the
    /// data keys moved into the key trees), so the old copies are garbage (sled's, or dead
    /// bytes in the value log until a compaction).
    pub disk_bytes_after: u64,
    /// Bytes the file system holds for the database (allocated blocks) before the rewrap.
    pub allocated_before: u64,
    /// The same after the rewrap.
    pub allocated_after_rewrap: u64,
    /// The same after `credseal compact` (the value log's dead blocks given back).
    pub allocated_after_compaction: u64,
    /// Seconds of the compaction.
    pub compaction_seconds: f64,
}

/// Subjects written per batch while building the store.
const BUILD_BATCH: usize = 2048;

/// A store of `subjects` × up to 7 classes (one data key and one ~200-byte record each)
/// under KEK v1, every class then rotated to v2; times `rewrap` against its floor.
pub fn bench_rewrap(catalog_text: &str, subjects: u64, work: &Path, progress: &dyn Progress) -> Result<RewrapBench> {
    use credseal_store::{Batch, Store, Tree};
    let catalog = parse_catalog(catalog_text)?;
    let classes: Vec<String> = catalog.classes.keys().take(7).cloned().collect();
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let b = BenchPlatform::init(&dir, &pass, catalog_text)?;
    let p = &b.platform;
    let ks = &b.keys;
    // Build the store (untimed): each subject's value as ingest would write it, written by
    // the bench straight into the platform's store with the keystore's KEKs, as a test would.
    progress.stage("building the store", subjects);
    let plaintext = vec![0x5a_u8; 200];
    let mut batch = Batch::new();
    let mut in_batch = 0;
    for i in 0..subjects {
        // Rewrap walks the store by BlindId and never derives one from a subject id, so a
        // synthetic BlindId stands in for the VRF output (proving 100k would take ~30 s).
        let blind = credseal_core::BlindId(credseal_crypto::sha256(&i.to_be_bytes()));
        let mut recs = SubjectRecords::default();
        for class in &classes {
            let (v, kek) = ks
                .primary_kek(class)
                .ok_or_else(|| BenchError::check(format_args!("the keystore has no key for class {class}")))?;
            let dek = Dek::generate();
            let mut bundle = Bundle::new(credseal_crypto::wrap_dek(
                kek,
                v,
                &DekContext { blind: &blind, class },
                &dek,
            ));
            let rkey = ks.index_key.record_key(&blind, class, &format!("R-{i}"));
            let ctx = RecordContext {
                blind: &blind,
                class,
                record_key: &rkey,
                version: 1,
            };
            bundle.put(Entry {
                rkey,
                version: 1,
                sealed: credseal_crypto::seal_record(&dek, &ctx, &plaintext),
            });
            recs.classes.insert(class.clone(), bundle);
        }
        batch.put(
            Tree::Records,
            credseal_engine::layout::subject_key(&blind),
            recs.encode(),
        );
        in_batch += 1;
        if in_batch == BUILD_BATCH {
            b.store.apply(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
        progress.advance(1);
    }
    for class in &classes {
        batch.put(
            Tree::Meta,
            credseal_engine::layout::dek_count_key(class, 1),
            subjects.to_be_bytes().to_vec(),
        );
    }
    // Data keys wrapped by a KEK directly are what a store from before key trees holds:
    // the rewrap moves them into the trees (the marker of a store without any is removed).
    batch.delete(Tree::Meta, credseal_engine::layout::META_TREES_ONLY);
    b.store.apply(batch)?;
    b.store.flush()?;
    progress.finish();
    for class in &classes {
        p.rotate_class(&p.staff_session(DEFAULT_OPERATOR)?, class, &pass)?;
    }
    // The floor's inputs, untimed: every wrapped data key before the rewrap.
    let mut wrapped: Vec<(BlindId, String, Vec<u8>)> = Vec::new();
    for kv in b.store.scan_prefix(Tree::Records, &[]) {
        let (k, v) = kv?;
        let blind = credseal_engine::layout::parse_subject_key(&k)
            .ok_or_else(|| BenchError::check("a records key is not a subject key"))?;
        let recs = SubjectRecords::decode(&v)
            .map_err(|e| BenchError::check(format_args!("records of subject {}: {e}", &blind.to_hex()[..16])))?;
        for (class, bundle) in recs.classes {
            wrapped.push((blind, class, bundle.wrapped_dek));
        }
    }

    let db_dir = b.db_dir();
    b.store.flush()?;
    let disk_bytes_before = dir_size(&db_dir);
    let allocated_before = dir_allocated(&db_dir);

    // Ours.
    let t = Instant::now();
    let s = p.rewrap(&p.staff_session(DEFAULT_OPERATOR)?, progress)?;
    let seconds = t.elapsed().as_secs_f64();
    let disk_bytes_after = dir_size(&db_dir);
    let allocated_after_rewrap = dir_allocated(&db_dir);
    let t = Instant::now();
    p.compact()?;
    let compaction_seconds = t.elapsed().as_secs_f64();
    let allocated_after_compaction = dir_allocated(&db_dir);
    let data_keys = wrapped.len() as u64;
    if s.rewrapped != data_keys {
        return Err(BenchError::check(format_args!(
            "bench rewrap moved {} data keys, expected {data_keys}",
            s.rewrapped
        )));
    }
    // The floor's writes, untimed: the stored values after the rewrap.
    let mut values = Vec::with_capacity(subjects as usize);
    for kv in b.store.scan_prefix(Tree::Records, &[]) {
        let (k, v) = kv?;
        values.push((raw_key(Tree::Records.tag(), &k), v));
    }
    // The floor unwraps under the bench's copy of KEK v1 and wraps under a KEK v2 of its own
    // (the platform's new KEKs stay in the platform: the same AES-GCM work either way).
    let old: Vec<&Kek> = classes
        .iter()
        .map(|c| {
            ks.kek(c, 1)
                .ok_or_else(|| BenchError::check(format_args!("the keystore has no KEK v1 of {c}")))
        })
        .collect::<Result<_>>()?;
    let new_keks: Vec<Kek> = classes.iter().map(|_| Kek::generate()).collect();
    let new: Vec<&Kek> = new_keks.iter().collect();
    let ix: std::collections::HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();

    // The floor.
    let floor_dir = work.join("floor");
    let t = Instant::now();
    for (blind, class, w) in &wrapped {
        let i = ix[class.as_str()];
        let ctx = DekContext { blind, class };
        let dek = credseal_crypto::unwrap_dek(old[i], &ctx, w).map_err(|e| {
            BenchError::check(format_args!(
                "floor unwrap of subject {} class {class}: {e}",
                &blind.to_hex()[..16]
            ))
        })?;
        std::hint::black_box(credseal_crypto::wrap_dek(new[i], 2, &ctx, &dek));
    }
    let db = FloorDb::open(&floor_dir)?;
    db.write_all(&values, REWRAP_BATCH_FOR_FLOOR)?;
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
        allocated_before,
        allocated_after_rewrap,
        allocated_after_compaction,
        compaction_seconds,
    })
}

/// The floor writes in batches of as many subjects as `rewrap` does (the engine's rewrap
/// batch: 512 subjects per atomic batch).
const REWRAP_BATCH_FOR_FLOOR: usize = 512;
