//! `credseal bench shred`: crypto-shredding with key trees (docs/design.md §8b) in one class
//! of N subjects — one record by a credit-repair order, then a retention sweep of a batch —
//! each timed with the bytes the process wrote, against a floor.
//!
//! The platform is the real one: its keystore sealed at the given Argon2id cost (`credseal
//! bench shred`: the default, 64 MiB and 3 passes), opened
//! from its data directory (the unlock, not timed, derives the keystore's key), so each shred
//! writes the keystore file twice, as `credseal shred` does.
//!
//! The floor of a shred is the work no implementation of "destroy this key and every copy's
//! way to it" can skip: the keystore written twice (a fresh KEK version before the data
//! write, the old one destroyed after it: two seals under the key the unlock derived, no
//! KDF), a fresh key for each node on the paths to the shredded subjects'
//! leaves with every child of those nodes wrapped under it, and those node objects written
//! to a fresh sled database in one batch, flushed. It does not count the subjects' own
//! values, tombstones or receipts, which ours writes too.

use std::path::Path;
use std::time::Instant;

use credseal_core::{BlindId, Date, Record, SubjectId};
use credseal_crypto::{Dek, DekContext, RecordContext};
use credseal_engine::bundle::{Bundle, Entry, SubjectRecords};
use credseal_engine::{Approved, DEFAULT_OPERATOR, Operation, Platform, Progress};
use credseal_store::{Batch, Store, Tree};
use serde::Serialize;

use crate::common::{BenchPlatform, FloorDb, bench_passphrase, dir_size, now, parse_catalog};
use crate::error::{BenchError, Result};
use crate::query::thread_cpu_ns;

/// The class the benchmark shreds in.
const CLASS: &str = "loans";
/// Subjects written per batch while building the store.
const BUILD_BATCH: usize = 2048;

/// Results of `bench shred`.
#[derive(Clone, Debug, Serialize)]
pub struct ShredBench {
    /// Subjects with a record of the class.
    pub subjects: u64,
    /// Key-tree fan-out and depth (levels below the root).
    pub fanout: u32,
    /// Levels below the root.
    pub depth: u32,
    /// The keystore's Argon2id cost (MiB, passes): each shred writes the keystore twice.
    pub kdf_mib: u32,
    /// Argon2id passes.
    pub kdf_passes: u32,
    /// Seconds of the one-time move of the class's KEK-wrapped data keys into its key tree
    /// (`keys rewrap` on a data directory from before key trees).
    pub migrate_seconds: f64,
    /// Seconds to shred one record by a credit-repair order (checked order, approvals,
    /// two keystore writes, the atomic write, receipts).
    pub one_seconds: f64,
    /// Bytes the process wrote (`/proc/self/io` wchar) for that shred: the database's
    /// write-ahead log, sled, the value log, the keystore file.
    pub one_bytes_written: Option<u64>,
    /// On-CPU seconds of the calling thread for that shred (`None` where the kernel does not
    /// tell): on a shared machine, the figure without other work's time.
    pub one_cpu_seconds: Option<f64>,
    /// The floor of the one-record shred, seconds.
    pub one_floor_seconds: f64,
    /// Bytes the floor wrote (its node objects).
    pub one_floor_bytes: u64,
    /// Records in the retention sweep's batch.
    pub batch: u64,
    /// Seconds of the sweep (finding the expired records reads every record of the class).
    pub batch_seconds: f64,
    /// On-CPU seconds of the calling thread for the sweep.
    pub batch_cpu_seconds: Option<f64>,
    /// Bytes the process wrote for the sweep.
    pub batch_bytes_written: Option<u64>,
    /// The floor of the batch, seconds.
    pub batch_floor_seconds: f64,
    /// Bytes the floor wrote for the batch.
    pub batch_floor_bytes: u64,
    /// Bytes of the database directory before and after both shreds.
    pub disk_bytes_before: u64,
    /// Bytes of the database directory after both shreds.
    pub disk_bytes_after: u64,
}

/// Bytes this process has passed to `write(2)` so far (`None` off Linux).
fn written() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A record's body as ingest seals it (the subject, class and version are its place).
fn body(subject: &SubjectId, record_id: String, effective: Date) -> Result<Vec<u8>> {
    let r = Record {
        record_id,
        subject: subject.clone(),
        class: CLASS.into(),
        source: "bench-source".into(),
        effective,
        version: 1,
        supersedes: None,
        fields: Default::default(),
    };
    postcard::to_stdvec(&r.body()).map_err(|e| BenchError::check(e.to_string()))
}

/// Two officers named on `p` (first officers) and their approval of `op`.
fn approved(p: &Platform, op: &Operation) -> Result<Approved> {
    let keys = [
        credseal_auth::SigningKey::from_seed(&[0xb0; 32]),
        credseal_auth::SigningKey::from_seed(&[0xb1; 32]),
    ];
    let named: Vec<(String, [u8; 32])> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("bench-officer-{i}"), *k.public().as_bytes()))
        .collect();
    if p.staff_id(credseal_engine::StaffRole::Officer, &named[0].1)?.is_none() {
        p.found_officers(&p.staff_session(DEFAULT_OPERATOR)?, &named)?;
    }
    let t = now()?;
    let approvals: Vec<String> = keys
        .iter()
        .map(|k| {
            credseal_auth::sign(
                &credseal_auth::StaffRequest {
                    request_id: credseal_crypto::random_array(),
                    role: "officer".into(),
                    staff_key: k.public(),
                    action: credseal_engine::APPROVE_ACTION.into(),
                    input_digest: op.digest(),
                    issued_at: t,
                    expires_at: t + 300,
                    audience: p.origin().into(),
                },
                k,
            )
            .to_text()
        })
        .collect();
    Ok(p.approve(op, &approvals, t)?)
}

/// The floor of shredding under the leaves of `blinds`: two keystore reseals, the path keys
/// and their children's wraps, the node objects written to `db` in one flushed batch.
/// Returns (seconds, bytes written).
fn floor(ks: &credseal_crypto::Keystore, blinds: &[BlindId], db: &FloorDb) -> Result<(f64, u64)> {
    let (bits, depth) = (
        u32::from(credseal_engine::KEY_TREE_FANOUT_BITS),
        u32::from(credseal_engine::KEY_TREE_DEPTH),
    );
    let t = Instant::now();
    for _ in 0..2 {
        std::hint::black_box(
            ks.reseal()
                .ok_or_else(|| BenchError::check("the keystore keeps no key to reseal under"))?,
        );
    }
    let mut nodes = std::collections::BTreeSet::new();
    for b in blinds {
        let top = u32::from_be_bytes([b.0[0], b.0[1], b.0[2], b.0[3]]);
        for l in 0..depth {
            nodes.insert((l, if l == 0 { 0 } else { top >> (32 - bits * l) }));
        }
    }
    let mut batch = sled::Batch::default();
    let mut bytes = 0u64;
    for (l, i) in &nodes {
        let parent = credseal_crypto::TreeNode::generate();
        let mut v = parent.id.to_vec();
        for slot in 0..(1u32 << bits) {
            let child = credseal_crypto::TreeNode::generate();
            v.extend_from_slice(&child.id);
            v.extend_from_slice(&parent.wrap_child(CLASS, (*l + 1) as u8, (i << bits) | slot, &child));
        }
        let mut k = l.to_be_bytes().to_vec();
        k.extend_from_slice(&i.to_be_bytes());
        bytes += (k.len() + v.len()) as u64;
        batch.insert(k, v);
    }
    db.apply(batch)?;
    Ok((t.elapsed().as_secs_f64(), bytes))
}

/// A class of `subjects` subjects (one record each, KEK-wrapped as before key trees, then
/// moved into the tree); shreds one record by order, then a sweep of `batch` expired
/// records.
pub fn bench_shred(
    catalog_text: &str,
    subjects: u64,
    batch: u64,
    kdf: credseal_crypto::KdfParams,
    work: &Path,
    progress: &dyn Progress,
) -> Result<ShredBench> {
    if batch + 1 > subjects {
        return Err(BenchError::check(format_args!(
            "a batch of {batch} needs more than {batch} subjects"
        )));
    }
    let catalog = parse_catalog(catalog_text)?;
    if catalog.class(CLASS).is_none() {
        return Err(BenchError::check(format_args!("the catalogue has no class {CLASS}")));
    }
    let pass = bench_passphrase();
    let dir = work.join("platform");
    let b = BenchPlatform::init_with_kdf(&dir, &pass, catalog_text, kdf)?;
    let p = &b.platform;
    let ks = &b.keys;
    let (v, kek) = ks
        .primary_kek(CLASS)
        .ok_or_else(|| BenchError::check(format_args!("the keystore has no key for class {CLASS}")))?;
    let old = Date::new(2015, 1, 1).ok_or_else(|| BenchError::check("date"))?;
    let recent = Date::new(2024, 6, 1).ok_or_else(|| BenchError::check("date"))?;
    // The one subject named by the order has its real blind id; the others synthetic ones
    // (the sweep and the tree work by BlindId; proving a million VRF outputs would take
    // minutes).
    let target = credseal_testkit::synthetic::synthetic_subject(0);
    let target_blind = p.blind(&target)?;
    progress.stage("building the store", subjects);
    let mut wb = Batch::new();
    let mut in_batch = 0;
    let mut expired = Vec::new();
    for i in 0..subjects {
        let (blind, rid, effective) = if i == 0 {
            (target_blind, "ORDER-1".to_string(), recent)
        } else {
            let blind = BlindId(credseal_crypto::sha256(&i.to_be_bytes()));
            let eff = if i <= batch { old } else { recent };
            if i <= batch {
                expired.push(blind);
            }
            (blind, format!("R-{i}"), eff)
        };
        let dek = Dek::generate();
        let mut bundle = Bundle::new(credseal_crypto::wrap_dek(
            kek,
            v,
            &DekContext {
                blind: &blind,
                class: CLASS,
            },
            &dek,
        ));
        let rkey = ks.index_key.record_key(&blind, CLASS, &rid);
        let ctx = RecordContext {
            blind: &blind,
            class: CLASS,
            record_key: &rkey,
            version: 1,
        };
        let pt = body(&target, rid, effective)?;
        bundle.put(Entry {
            rkey,
            version: 1,
            sealed: credseal_crypto::seal_record(&dek, &ctx, &pt),
        });
        let mut recs = SubjectRecords::default();
        recs.classes.insert(CLASS.to_string(), bundle);
        wb.put(
            Tree::Records,
            credseal_engine::layout::subject_key(&blind),
            recs.encode(),
        );
        in_batch += 1;
        if in_batch == BUILD_BATCH {
            b.store.apply(std::mem::take(&mut wb))?;
            in_batch = 0;
        }
        progress.advance(1);
    }
    wb.put(
        Tree::Meta,
        credseal_engine::layout::dek_count_key(CLASS, v),
        subjects.to_be_bytes().to_vec(),
    );
    wb.delete(Tree::Meta, credseal_engine::layout::META_TREES_ONLY);
    b.store.apply(wb)?;
    b.store.flush()?;
    progress.finish();
    let session = p.staff_session(DEFAULT_OPERATOR)?;
    let t = Instant::now();
    p.rewrap(&session, progress)?;
    let migrate_seconds = t.elapsed().as_secs_f64();
    let disk_bytes_before = dir_size(&b.db_dir());
    // From here on the platform as `credseal` opens it: key changes write the keystore file.
    let db_dir = b.db_dir();
    let ks = b.keys.clone();
    let ks = &ks;
    b.close();
    let opened = Platform::open(&dir, &pass, credseal_engine::OpenOptions::default())?;
    let p = &opened;
    let session = p.staff_session(DEFAULT_OPERATOR)?;

    // One record by a credit-repair order.
    let authority = credseal_auth::SigningKey::from_seed(&[0xb7; 32]);
    p.set_authority_key(&session, authority.public().as_bytes(), true)?;
    let order = credseal_auth::sign(
        &credseal_auth::ShredOrder {
            reference: "BENCH-1".into(),
            subject: target.to_string(),
            class: CLASS.into(),
            record_id: "ORDER-1".into(),
            issued_at: now()?,
            audience: p.origin().into(),
        },
        &authority,
    )
    .to_text();
    let checked = p
        .check_shred_order(&order)
        .map_err(|e| BenchError::check(format_args!("order: {e}")))?;
    let ok = approved(p, &checked.operation())?;
    let w0 = written();
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    let s = p.shred_by_order(&session, &checked, &pass, &ok)?;
    let one_seconds = t.elapsed().as_secs_f64();
    let one_cpu_seconds = thread_cpu_ns().zip(c0).map(|(a, b)| (a - b) as f64 / 1e9);
    let one_bytes_written = written().zip(w0).map(|(a, b)| a - b);
    if s.records != 1 {
        return Err(BenchError::check(format_args!(
            "the order shredded {} records",
            s.records
        )));
    }
    // The sweep.
    let today = Date::from_unix(now()?).ok_or_else(|| BenchError::check("the clock is out of range"))?;
    let ok = approved(p, &Operation::shred_expired(today))?;
    let w0 = written();
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    let s = p.shred_expired(&session, today, &pass, &ok)?;
    let batch_seconds = t.elapsed().as_secs_f64();
    let batch_cpu_seconds = thread_cpu_ns().zip(c0).map(|(a, b)| (a - b) as f64 / 1e9);
    let batch_bytes_written = written().zip(w0).map(|(a, b)| a - b);
    if s.records != batch {
        return Err(BenchError::check(format_args!(
            "the sweep shredded {} records, expected {batch}",
            s.records
        )));
    }
    let disk_bytes_after = dir_size(&db_dir);
    let (one_floor_seconds, one_floor_bytes) = floor(ks, &[target_blind], &FloorDb::open(&work.join("floor-one"))?)?;
    let (batch_floor_seconds, batch_floor_bytes) = floor(ks, &expired, &FloorDb::open(&work.join("floor-batch"))?)?;
    let kdf = ks.kdf;
    // The store must still hold the class's other records, all readable.
    let (deks, _) = p.verify_store()?;
    if deks != subjects - 1 - batch {
        return Err(BenchError::check(format_args!(
            "{deks} data keys left, expected {}",
            subjects - 1 - batch
        )));
    }
    Ok(ShredBench {
        subjects,
        fanout: 1 << credseal_engine::KEY_TREE_FANOUT_BITS,
        depth: u32::from(credseal_engine::KEY_TREE_DEPTH),
        kdf_mib: kdf.m_kib / 1024,
        kdf_passes: kdf.t,
        migrate_seconds,
        one_seconds,
        one_cpu_seconds,
        one_bytes_written,
        one_floor_seconds,
        one_floor_bytes,
        batch,
        batch_seconds,
        batch_cpu_seconds,
        batch_bytes_written,
        batch_floor_seconds,
        batch_floor_bytes,
        disk_bytes_before,
        disk_bytes_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_class_shreds_one_and_a_batch() {
        let d = tempfile::tempdir().unwrap();
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../keys-example/catalog.toml")).unwrap();
        let kdf = credseal_crypto::KdfParams {
            m_kib: credseal_crypto::KdfParams::MIN_M_KIB,
            t: 1,
            p: 1,
        };
        let r = bench_shred(&text, 300, 100, kdf, d.path(), &credseal_engine::NoProgress).unwrap();
        assert_eq!((r.subjects, r.batch, r.fanout, r.depth), (300, 100, 16, 5));
        assert!(
            r.one_floor_bytes > 0 && r.batch_floor_bytes > r.one_floor_bytes,
            "{r:?}"
        );
        assert!(r.disk_bytes_after > 0);
    }
}
