//! Every benchmark at a small size: it runs, through the platform's public API, its checks
//! hold, and its figures are consistent.

use credseal_engine::NoProgress;

const CATALOG: &str = include_str!("../../../keys-example/catalog.toml");

/// `bench trace` at a small size (the 1,000,000-fingerprint figure is in the README): the
/// leaking department ranks first over a sled store.
#[test]
fn bench_trace_small_ranks_the_leaker_first() {
    let d = tempfile::tempdir().unwrap();
    let r = credseal_bench::bench_trace(20_000, 300, d.path(), &NoProgress).unwrap();
    assert_eq!(r.fingerprints, 20_000);
    assert_eq!(r.leak_items, 300);
    assert!(r.leaker_ranked_first);
}

#[test]
fn bench_ingest_small_reads_back_every_record() {
    let d = tempfile::tempdir().unwrap();
    let classes = credseal_core::Catalog::parse(CATALOG, None).unwrap().classes.len() as u64;
    let r = credseal_bench::bench_ingest(CATALOG, 40, d.path(), &NoProgress).unwrap();
    assert_eq!(r.subjects, 40);
    assert_eq!(r.records, 40 * classes);
    assert!(r.receipts >= 40, "one receipt per subject at least: {}", r.receipts);
    // The plaintext figures come from the records read back from the store.
    assert!(r.stored_plaintext_bytes_per_record > 0.0);
    assert!(r.plaintext_bytes_per_record > r.stored_plaintext_bytes_per_record);
    assert!(r.disk_bytes_per_record > 0.0 && r.floor_disk_bytes_per_record > 0.0);
    assert!(r.seconds > 0.0 && r.floor_seconds > 0.0);
}

#[test]
fn bench_query_small_grants_every_query() {
    let d = tempfile::tempdir().unwrap();
    let size = credseal_bench::QuerySize {
        subjects: 30,
        queries: 60,
        threads: 2,
        in_flight: 4,
    };
    let r = credseal_bench::bench_query(CATALOG, size, d.path(), &NoProgress).unwrap();
    assert_eq!((r.subjects, r.queries, r.threads, r.in_flight), (30, 60, 2, 4));
    assert!(r.classes_per_query > 0);
    // The floor reads the same stored records the queries release.
    assert!(r.records_per_query >= r.classes_per_query as f64);
    assert!(r.commits > 0 && r.commit_batch_max > 0);
    assert!(r.p50_us <= r.p99_us);
    assert!(r.floor_seconds > 0.0);
}

#[test]
fn bench_rewrap_small_moves_every_data_key() {
    let d = tempfile::tempdir().unwrap();
    let r = credseal_bench::bench_rewrap(CATALOG, 50, d.path(), &NoProgress).unwrap();
    assert_eq!(r.subjects, 50);
    assert!(r.classes_per_subject > 0 && r.classes_per_subject <= 7);
    assert_eq!(r.data_keys, 50 * r.classes_per_subject);
    assert!(r.disk_bytes_before > 0);
}

#[test]
fn bench_verify_small_verifies_the_whole_bundle() {
    let r = credseal_bench::bench_verify(50, 3).unwrap();
    assert_eq!(r.receipts, 50);
    assert_eq!(r.log_size, 50 * 4);
    assert!(r.bundle_bytes > 0);
}
