//! Benchmark reports (`bench …`): each against its floor measured in the same run.

use credseal_bench::{IngestBench, QueryBench, RewrapBench, ServeBench, TilesBench, TraceBench, VerifyBench};
use serde::Serialize;

use super::{print_json, table};

/// `bench ingest --json`: the fields of [`IngestBench`], in its order.
#[derive(Debug, Serialize)]
struct IngestJson {
    receipts: u64,
    log_and_index_bytes_per_record: f64,
    subjects: u64,
    records: u64,
    seconds: f64,
    records_per_s: f64,
    floor_seconds: f64,
    floor_records_per_s: f64,
    ratio_to_floor: f64,
    input_bytes_per_record: f64,
    plaintext_bytes_per_record: f64,
    stored_plaintext_bytes_per_record: f64,
    disk_bytes_per_record: f64,
    disk_to_plaintext: f64,
    disk_to_stored_plaintext: f64,
    disk_to_input: f64,
    floor_disk_bytes_per_record: f64,
}

impl From<&IngestBench> for IngestJson {
    fn from(r: &IngestBench) -> Self {
        Self {
            receipts: r.receipts,
            log_and_index_bytes_per_record: r.log_and_index_bytes_per_record,
            subjects: r.subjects,
            records: r.records,
            seconds: r.seconds,
            records_per_s: r.records_per_s,
            floor_seconds: r.floor_seconds,
            floor_records_per_s: r.floor_records_per_s,
            ratio_to_floor: r.ratio_to_floor,
            input_bytes_per_record: r.input_bytes_per_record,
            plaintext_bytes_per_record: r.plaintext_bytes_per_record,
            stored_plaintext_bytes_per_record: r.stored_plaintext_bytes_per_record,
            disk_bytes_per_record: r.disk_bytes_per_record,
            disk_to_plaintext: r.disk_to_plaintext,
            disk_to_stored_plaintext: r.disk_to_stored_plaintext,
            disk_to_input: r.disk_to_input,
            floor_disk_bytes_per_record: r.floor_disk_bytes_per_record,
        }
    }
}

/// `bench query --json`: the fields of [`QueryBench`], in its order.
#[derive(Debug, Serialize)]
struct QueryJson {
    subjects: u64,
    queries: u64,
    threads: u64,
    in_flight: u64,
    classes_per_query: u64,
    records_per_query: f64,
    seconds: f64,
    queries_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    floor_seconds: f64,
    floor_seconds_before: f64,
    floor_seconds_after: f64,
    floor_queries_per_s: f64,
    ratio_to_floor: f64,
    commit_batch_mean: f64,
    commit_batch_max: usize,
    commits: usize,
    cpu_us_per_query: Option<f64>,
    floor_cpu_us_per_query: Option<f64>,
    cpu_ratio_to_floor: Option<f64>,
    map_us_per_query: f64,
}

impl From<&QueryBench> for QueryJson {
    fn from(r: &QueryBench) -> Self {
        Self {
            subjects: r.subjects,
            queries: r.queries,
            threads: r.threads,
            in_flight: r.in_flight,
            classes_per_query: r.classes_per_query,
            records_per_query: r.records_per_query,
            seconds: r.seconds,
            queries_per_s: r.queries_per_s,
            p50_us: r.p50_us,
            p99_us: r.p99_us,
            floor_seconds: r.floor_seconds,
            floor_seconds_before: r.floor_seconds_before,
            floor_seconds_after: r.floor_seconds_after,
            floor_queries_per_s: r.floor_queries_per_s,
            ratio_to_floor: r.ratio_to_floor,
            commit_batch_mean: r.commit_batch_mean,
            commit_batch_max: r.commit_batch_max,
            commits: r.commits,
            cpu_us_per_query: r.cpu_us_per_query,
            floor_cpu_us_per_query: r.floor_cpu_us_per_query,
            cpu_ratio_to_floor: r.cpu_ratio_to_floor,
            map_us_per_query: r.map_us_per_query,
        }
    }
}

/// `bench serve --json`: the fields of [`ServeBench`], in its order.
#[derive(Debug, Serialize)]
struct ServeJson {
    subjects: u64,
    classes_per_query: u64,
    records_per_query: f64,
    wrk_threads: u64,
    connections: u64,
    worker_threads: u64,
    closed_queries: u64,
    closed_seconds: f64,
    peak_queries_per_s: f64,
    closed_p50_us: f64,
    closed_p99_us: f64,
    closed_max_us: f64,
    server_cpu_us_per_query: Option<f64>,
    wrk_cpu_us_per_query: Option<f64>,
    open_target_per_s: f64,
    rate_fraction: f64,
    open_threads: u64,
    open_connections: u64,
    open_queries: u64,
    open_queries_per_s: f64,
    open_p50_us: f64,
    open_p99_us: f64,
    open_max_us: f64,
    open_server_cpu_us_per_query: Option<f64>,
    open_wrk_cpu_us_per_query: Option<f64>,
    floor_queries: u64,
    threads: u64,
    floor_seconds_before: f64,
    floor_seconds_after: f64,
    floor_queries_per_s: f64,
    ratio_to_floor: f64,
    in_process_queries: u64,
    in_flight: u64,
    in_process_seconds_before: f64,
    in_process_seconds_after: f64,
    in_process_queries_per_s: f64,
    ratio_to_in_process: f64,
    in_process_cpu_us_per_query: Option<f64>,
    in_process_commit_batch_mean: f64,
    log_growth: u64,
    commit_batch_mean: f64,
    commits: u64,
}

impl From<&ServeBench> for ServeJson {
    fn from(r: &ServeBench) -> Self {
        Self {
            subjects: r.subjects,
            classes_per_query: r.classes_per_query,
            records_per_query: r.records_per_query,
            wrk_threads: r.wrk_threads,
            connections: r.connections,
            worker_threads: r.worker_threads,
            closed_queries: r.closed_queries,
            closed_seconds: r.closed_seconds,
            peak_queries_per_s: r.peak_queries_per_s,
            closed_p50_us: r.closed_p50_us,
            closed_p99_us: r.closed_p99_us,
            closed_max_us: r.closed_max_us,
            server_cpu_us_per_query: r.server_cpu_us_per_query,
            wrk_cpu_us_per_query: r.wrk_cpu_us_per_query,
            open_target_per_s: r.open_target_per_s,
            rate_fraction: r.rate_fraction,
            open_threads: r.open_threads,
            open_connections: r.open_connections,
            open_queries: r.open_queries,
            open_queries_per_s: r.open_queries_per_s,
            open_p50_us: r.open_p50_us,
            open_p99_us: r.open_p99_us,
            open_max_us: r.open_max_us,
            open_server_cpu_us_per_query: r.open_server_cpu_us_per_query,
            open_wrk_cpu_us_per_query: r.open_wrk_cpu_us_per_query,
            floor_queries: r.floor_queries,
            threads: r.threads,
            floor_seconds_before: r.floor_seconds_before,
            floor_seconds_after: r.floor_seconds_after,
            floor_queries_per_s: r.floor_queries_per_s,
            ratio_to_floor: r.ratio_to_floor,
            in_process_queries: r.in_process_queries,
            in_flight: r.in_flight,
            in_process_seconds_before: r.in_process_seconds_before,
            in_process_seconds_after: r.in_process_seconds_after,
            in_process_queries_per_s: r.in_process_queries_per_s,
            ratio_to_in_process: r.ratio_to_in_process,
            in_process_cpu_us_per_query: r.in_process_cpu_us_per_query,
            in_process_commit_batch_mean: r.in_process_commit_batch_mean,
            log_growth: r.log_growth,
            commit_batch_mean: r.commit_batch_mean,
            commits: r.commits,
        }
    }
}

/// `bench rewrap --json`: the fields of [`RewrapBench`], in its order.
#[derive(Debug, Serialize)]
struct RewrapJson {
    subjects: u64,
    classes_per_subject: u64,
    data_keys: u64,
    seconds: f64,
    deks_per_s: f64,
    floor_seconds: f64,
    floor_deks_per_s: f64,
    ratio_to_floor: f64,
    disk_bytes_before: u64,
    disk_bytes_after: u64,
    allocated_before: u64,
    allocated_after_rewrap: u64,
    allocated_after_compaction: u64,
    compaction_seconds: f64,
}

impl From<&RewrapBench> for RewrapJson {
    fn from(r: &RewrapBench) -> Self {
        Self {
            subjects: r.subjects,
            classes_per_subject: r.classes_per_subject,
            data_keys: r.data_keys,
            seconds: r.seconds,
            deks_per_s: r.deks_per_s,
            floor_seconds: r.floor_seconds,
            floor_deks_per_s: r.floor_deks_per_s,
            ratio_to_floor: r.ratio_to_floor,
            disk_bytes_before: r.disk_bytes_before,
            disk_bytes_after: r.disk_bytes_after,
            allocated_before: r.allocated_before,
            allocated_after_rewrap: r.allocated_after_rewrap,
            allocated_after_compaction: r.allocated_after_compaction,
            compaction_seconds: r.compaction_seconds,
        }
    }
}

/// `bench verify --json`: the fields of [`VerifyBench`], in its order.
#[derive(Debug, Serialize)]
struct VerifyJson {
    receipts: u64,
    log_size: u64,
    bundle_bytes: u64,
    seconds: f64,
    floor_seconds: f64,
    ratio_to_floor: f64,
}

impl From<&VerifyBench> for VerifyJson {
    fn from(r: &VerifyBench) -> Self {
        Self {
            receipts: r.receipts,
            log_size: r.log_size,
            bundle_bytes: r.bundle_bytes,
            seconds: r.seconds,
            floor_seconds: r.floor_seconds,
            ratio_to_floor: r.ratio_to_floor,
        }
    }
}

/// `bench trace --json`: the fields of [`TraceBench`], in its order.
#[derive(Debug, Serialize)]
struct TraceJson {
    fingerprints: u64,
    disclosures: u64,
    departments: u64,
    leak_items: u64,
    setup_seconds: f64,
    trace_seconds: f64,
    leaker_ranked_first: bool,
}

impl From<&TraceBench> for TraceJson {
    fn from(r: &TraceBench) -> Self {
        Self {
            fingerprints: r.fingerprints,
            disclosures: r.disclosures,
            departments: r.departments,
            leak_items: r.leak_items,
            setup_seconds: r.setup_seconds,
            trace_seconds: r.trace_seconds,
            leaker_ranked_first: r.leaker_ranked_first,
        }
    }
}

/// `bench ingest`.
pub(crate) fn bench_ingest(r: &IngestBench, json: bool) {
    if json {
        print_json("bench-ingest", &IngestJson::from(r));
        return;
    }
    let rows = vec![
        vec![
            "ingest (ours)".into(),
            format!("{:.3}", r.seconds),
            format!("{:.0}", r.records_per_s),
            format!("{:.0}", r.disk_bytes_per_record),
        ],
        vec![
            "floor".into(),
            format!("{:.3}", r.floor_seconds),
            format!("{:.0}", r.floor_records_per_s),
            format!("{:.0}", r.floor_disk_bytes_per_record),
        ],
    ];
    println!("bench ingest: {} subjects, {} records", r.subjects, r.records);
    print!("{}", table(&["", "seconds", "records/s", "disk bytes/record"], &rows));
    println!("ratio_to_floor: {:.2}", r.ratio_to_floor);
    println!(
        "plaintext (postcard of the whole record) {:.0} B/record; on disk {:.2}x that",
        r.plaintext_bytes_per_record, r.disk_to_plaintext
    );
    println!(
        "encrypted (postcard of the record without subject, class, version) {:.0} B/record; on disk {:.2}x that",
        r.stored_plaintext_bytes_per_record, r.disk_to_stored_plaintext
    );
    println!(
        "JSON Lines input {:.0} B/record; on disk {:.2}x that",
        r.input_bytes_per_record, r.disk_to_input
    );
}

/// `bench query`.
pub(crate) fn bench_query(r: &QueryBench, json: bool) {
    if json {
        print_json("bench-query", &QueryJson::from(r));
        return;
    }
    println!(
        "bench query: {} subjects, {} queries on {} threads ({} in flight each), {} classes and {:.1} records per query",
        r.subjects, r.queries, r.threads, r.in_flight, r.classes_per_query, r.records_per_query
    );
    let rows = vec![
        vec![
            "query (ours)".into(),
            format!("{:.3}", r.seconds),
            format!("{:.0}", r.queries_per_s),
            format!("{:.0}", r.p50_us),
            format!("{:.0}", r.p99_us),
        ],
        vec![
            "floor (mean of before and after)".into(),
            format!("{:.3}", r.floor_seconds),
            format!("{:.0}", r.floor_queries_per_s),
            String::new(),
            String::new(),
        ],
    ];
    print!("{}", table(&["", "seconds", "queries/s", "p50 µs", "p99 µs"], &rows));
    println!(
        "floor runs: {:.3} s before ours, {:.3} s after",
        r.floor_seconds_before, r.floor_seconds_after
    );
    println!(
        "receipts: {} group commits (flush + checkpoint), {:.1} receipts per commit on average, {} at most",
        r.commits, r.commit_batch_mean, r.commit_batch_max
    );
    println!(
        "subject map: {:.1} µs per query in the commits, heads looked up and paths updated ({:.1}% of the run's wall time; commits are serial)",
        r.map_us_per_query,
        100.0 * r.map_us_per_query * r.queries as f64 / (r.seconds * 1e6).max(f64::MIN_POSITIVE)
    );
    if let (Some(ours), Some(floor), Some(ratio)) = (r.cpu_us_per_query, r.floor_cpu_us_per_query, r.cpu_ratio_to_floor)
    {
        println!(
            "CPU per query: {ours:.0} µs ours, {floor:.0} µs the floor (ratio {ratio:.2}: without the machine's noise)"
        );
    }
    println!("ratio_to_floor: {:.2}", r.ratio_to_floor);
}

/// `bench serve`.
pub(crate) fn bench_serve(r: &ServeBench, json: bool) {
    if json {
        print_json("bench-serve", &ServeJson::from(r));
        return;
    }
    println!(
        "bench serve: {} subjects, {} classes and {:.1} records per query; HTTPS to the server in this process ({} tokio workers), wrk on the same machine",
        r.subjects, r.classes_per_query, r.records_per_query, r.worker_threads
    );
    let rows = vec![
        vec![
            format!(
                "closed loop ({} wrk threads, {} connections)",
                r.wrk_threads, r.connections
            ),
            r.closed_queries.to_string(),
            format!("{:.3}", r.closed_seconds),
            format!("{:.0}", r.peak_queries_per_s),
            format!("{:.0}", r.closed_p50_us),
            format!("{:.0}", r.closed_p99_us),
        ],
        vec![
            format!(
                "open loop at {:.0}% of peak ({:.0}/s asked, {} wrk threads, {} connections; latency from the scheduled send)",
                r.rate_fraction * 100.0,
                r.open_target_per_s,
                r.open_threads,
                r.open_connections
            ),
            r.open_queries.to_string(),
            String::new(),
            format!("{:.0}", r.open_queries_per_s),
            format!("{:.0}", r.open_p50_us),
            format!("{:.0}", r.open_p99_us),
        ],
        vec![
            format!(
                "in process ({} threads x {} in flight, no network; mean of before and after)",
                r.threads, r.in_flight
            ),
            r.in_process_queries.to_string(),
            format!(
                "{:.3}",
                (r.in_process_seconds_before + r.in_process_seconds_after) / 2.0
            ),
            format!("{:.0}", r.in_process_queries_per_s),
            String::new(),
            String::new(),
        ],
        vec![
            format!("floor ({} threads, mean of before and after)", r.threads),
            r.floor_queries.to_string(),
            format!("{:.3}", (r.floor_seconds_before + r.floor_seconds_after) / 2.0),
            format!("{:.0}", r.floor_queries_per_s),
            String::new(),
            String::new(),
        ],
    ];
    print!(
        "{}",
        table(&["", "queries", "seconds", "queries/s", "p50 µs", "p99 µs"], &rows)
    );
    println!(
        "floor runs: {:.3} s before the server's, {:.3} s after; in-process runs: {:.3} s before, {:.3} s after",
        r.floor_seconds_before, r.floor_seconds_after, r.in_process_seconds_before, r.in_process_seconds_after
    );
    if let (Some(server), Some(wrk)) = (r.server_cpu_us_per_query, r.wrk_cpu_us_per_query) {
        let in_process = r
            .in_process_cpu_us_per_query
            .map(|c| format!(", {c:.0} µs this process's per in-process query"))
            .unwrap_or_default();
        println!("CPU per closed-loop query: {server:.0} µs the server's process, {wrk:.0} µs wrk's{in_process}");
    }
    if let (Some(server), Some(wrk)) = (r.open_server_cpu_us_per_query, r.open_wrk_cpu_us_per_query) {
        println!("CPU per open-loop query: {server:.0} µs the server's process, {wrk:.0} µs wrk's");
    }
    println!(
        "log: {} receipts added, one for each 200 answer, in {} group commits ({:.1} receipts each; in process {:.1}); open-loop max latency {:.0} µs",
        r.log_growth, r.commits, r.commit_batch_mean, r.in_process_commit_batch_mean, r.open_max_us
    );
    println!("ratio_to_floor (peak / floor): {:.2}", r.ratio_to_floor);
    println!(
        "ratio_to_in_process (peak / in-process pipeline): {:.2}",
        r.ratio_to_in_process
    );
}

/// `bench rewrap`.
pub(crate) fn bench_rewrap(r: &RewrapBench, json: bool) {
    if json {
        print_json("bench-rewrap", &RewrapJson::from(r));
        return;
    }
    println!(
        "bench rewrap: {} subjects x {} classes = {} data keys moved from KEK v1 to v2",
        r.subjects, r.classes_per_subject, r.data_keys
    );
    let rows = vec![
        vec![
            "keys rewrap (ours)".into(),
            format!("{:.3}", r.seconds),
            format!("{:.0}", r.deks_per_s),
        ],
        vec![
            "floor".into(),
            format!("{:.3}", r.floor_seconds),
            format!("{:.0}", r.floor_deks_per_s),
        ],
    ];
    print!("{}", table(&["", "seconds", "data keys/s"], &rows));
    println!("ratio_to_floor: {:.2}", r.ratio_to_floor);
    println!(
        "database on disk: {} B before the rewrap, {} B after ({} B per subject before, {} after)",
        r.disk_bytes_before,
        r.disk_bytes_after,
        r.disk_bytes_before / r.subjects.max(1),
        r.disk_bytes_after / r.subjects.max(1)
    );
    println!(
        "allocated on disk: {} B before, {} B after the rewrap, {} B after compaction ({:.3} s; {:.2}x before)",
        r.allocated_before,
        r.allocated_after_rewrap,
        r.allocated_after_compaction,
        r.compaction_seconds,
        r.allocated_after_compaction as f64 / r.allocated_before.max(1) as f64
    );
}

/// `bench shred`.
pub(crate) fn bench_shred(r: &credseal_bench::ShredBench, json: bool) {
    if json {
        print_json("bench-shred", r);
        return;
    }
    println!(
        "bench shred: class of {} subjects, key tree fan-out {} depth {}, keystore Argon2id {} MiB x {}",
        r.subjects, r.fanout, r.depth, r.kdf_mib, r.kdf_passes
    );
    let kib = |b: Option<u64>| b.map_or_else(|| "-".into(), |b| format!("{:.1}", b as f64 / 1024.0));
    let cpu = |c: Option<f64>| c.map_or_else(|| "-".into(), |c| format!("{c:.4}"));
    let rows = vec![
        vec![
            "one record (ours)".into(),
            format!("{:.4}", r.one_seconds),
            cpu(r.one_cpu_seconds),
            kib(r.one_bytes_written),
        ],
        vec![
            "one record (floor)".into(),
            format!("{:.4}", r.one_floor_seconds),
            "-".into(),
            kib(Some(r.one_floor_bytes)),
        ],
        vec![
            format!("batch of {} (ours)", r.batch),
            format!("{:.3}", r.batch_seconds),
            cpu(r.batch_cpu_seconds),
            kib(r.batch_bytes_written),
        ],
        vec![
            format!("batch of {} (floor)", r.batch),
            format!("{:.3}", r.batch_floor_seconds),
            "-".into(),
            kib(Some(r.batch_floor_bytes)),
        ],
    ];
    print!("{}", table(&["", "seconds", "CPU seconds", "KiB written"], &rows));
    println!(
        "one-time move of the class's data keys into its tree: {:.3} s; database on disk {} B before, {} B after",
        r.migrate_seconds, r.disk_bytes_before, r.disk_bytes_after
    );
}

/// `bench verify`.
pub(crate) fn bench_verify(r: &VerifyBench, json: bool) {
    if json {
        print_json("bench-verify", &VerifyJson::from(r));
        return;
    }
    println!(
        "bench verify: a bundle of {} receipts ({} KiB) in a log of {} leaves, with a saved state",
        r.receipts,
        r.bundle_bytes / 1024,
        r.log_size
    );
    let rows = vec![
        vec!["verify (ours)".into(), format!("{:.4}", r.seconds)],
        vec!["floor".into(), format!("{:.4}", r.floor_seconds)],
    ];
    print!("{}", table(&["", "seconds"], &rows));
    println!("ratio_to_floor: {:.2}", r.ratio_to_floor);
}

/// `bench tiles --json`: the fields of [`TilesBench`], in its order.
#[derive(Debug, Serialize)]
struct TilesJson {
    receipts: u64,
    subjects: u64,
    build_seconds: f64,
    export_seconds: f64,
    export_files: u64,
    export_bytes: u64,
    audit_seconds: f64,
    audit_receipts_per_s: f64,
    audit_bundles: u64,
    audit_hash_tiles: u64,
    floor_signature_seconds: f64,
    floor_hash_seconds: f64,
    floor_seconds: f64,
    floor_receipts_per_s: f64,
    audit_ratio_to_floor: f64,
    floor_seconds_before: f64,
    floor_seconds_after: f64,
    audit_cpu_seconds: Option<f64>,
    floor_cpu_seconds: Option<f64>,
    audit_cpu_ratio_to_floor: Option<f64>,
    wrk_threads: u64,
    connections: u64,
    worker_threads: u64,
    tile_paths: u64,
    tile_paths_entries: u64,
    tiles_served: u64,
    tiles_seconds: f64,
    tiles_per_s: f64,
    tiles_mib_per_s: f64,
    tiles_p50_us: f64,
    tiles_p99_us: f64,
    tiles_server_cpu_us: Option<f64>,
    healthz_per_s: f64,
    healthz_p50_us: f64,
    healthz_p99_us: f64,
    tiles_ratio_to_healthz: f64,
}

impl From<&TilesBench> for TilesJson {
    fn from(r: &TilesBench) -> Self {
        Self {
            receipts: r.receipts,
            subjects: r.subjects,
            build_seconds: r.build_seconds,
            export_seconds: r.export_seconds,
            export_files: r.export_files,
            export_bytes: r.export_bytes,
            audit_seconds: r.audit_seconds,
            audit_receipts_per_s: r.audit_receipts_per_s,
            audit_bundles: r.audit_bundles,
            audit_hash_tiles: r.audit_hash_tiles,
            floor_signature_seconds: r.floor_signature_seconds,
            floor_hash_seconds: r.floor_hash_seconds,
            floor_seconds: r.floor_seconds,
            floor_receipts_per_s: r.floor_receipts_per_s,
            audit_ratio_to_floor: r.audit_ratio_to_floor,
            floor_seconds_before: r.floor_seconds_before,
            floor_seconds_after: r.floor_seconds_after,
            audit_cpu_seconds: r.audit_cpu_seconds,
            floor_cpu_seconds: r.floor_cpu_seconds,
            audit_cpu_ratio_to_floor: r.audit_cpu_ratio_to_floor,
            wrk_threads: r.wrk_threads,
            connections: r.connections,
            worker_threads: r.worker_threads,
            tile_paths: r.tile_paths,
            tile_paths_entries: r.tile_paths_entries,
            tiles_served: r.tiles_served,
            tiles_seconds: r.tiles_seconds,
            tiles_per_s: r.tiles_per_s,
            tiles_mib_per_s: r.tiles_mib_per_s,
            tiles_p50_us: r.tiles_p50_us,
            tiles_p99_us: r.tiles_p99_us,
            tiles_server_cpu_us: r.tiles_server_cpu_us,
            healthz_per_s: r.healthz_per_s,
            healthz_p50_us: r.healthz_p50_us,
            healthz_p99_us: r.healthz_p99_us,
            tiles_ratio_to_healthz: r.tiles_ratio_to_healthz,
        }
    }
}

/// `bench tiles`.
pub(crate) fn bench_tiles(r: &TilesBench, json: bool) {
    if json {
        print_json("bench-tiles", &TilesJson::from(r));
        return;
    }
    println!(
        "bench tiles: a log of {} receipts about {} subjects (built in {:.1} s through the platform's append path); tiles written to and read from a local directory",
        r.receipts, r.subjects, r.build_seconds
    );
    let per_s = |s: f64| format!("{:.0}", r.receipts as f64 / s);
    let rows = vec![
        vec![
            format!(
                "log export-tiles ({} files, {} MiB)",
                r.export_files,
                r.export_bytes >> 20
            ),
            format!("{:.3}", r.export_seconds),
            per_s(r.export_seconds),
        ],
        vec![
            "log verify --tiles DIR --log-key F (one thread)".into(),
            format!("{:.3}", r.audit_seconds),
            per_s(r.audit_seconds),
        ],
        vec![
            "floor: Ed25519 verify_strict of every receipt signature".into(),
            format!("{:.3}", r.floor_signature_seconds),
            per_s(r.floor_signature_seconds),
        ],
        vec![
            "floor: SHA-256 of the tree (leaves and nodes)".into(),
            format!("{:.3}", r.floor_hash_seconds),
            per_s(r.floor_hash_seconds),
        ],
        vec![
            "floor: both".into(),
            format!("{:.3}", r.floor_seconds),
            per_s(r.floor_seconds),
        ],
    ];
    print!("{}", table(&["", "seconds", "receipts/s"], &rows));
    println!(
        "audit_ratio_to_floor: {:.2} (floor before the audit {:.3} s, after {:.3} s)",
        r.audit_ratio_to_floor, r.floor_seconds_before, r.floor_seconds_after
    );
    if let (Some(a), Some(f), Some(x)) = (r.audit_cpu_seconds, r.floor_cpu_seconds, r.audit_cpu_ratio_to_floor) {
        println!("on-CPU: audit {a:.3} s, floor {f:.3} s, ratio {x:.2}");
    }
    println!(
        "credseal serve over HTTPS on 127.0.0.1 ({} tokio workers), wrk on the same machine ({} threads, {} connections, closed loop)",
        r.worker_threads, r.wrk_threads, r.connections
    );
    let rows = vec![
        vec![
            format!(
                "full tiles ({} paths, {} entry bundles; {:.1} MiB/s)",
                r.tile_paths, r.tile_paths_entries, r.tiles_mib_per_s
            ),
            format!("{:.0}", r.tiles_per_s),
            format!("{:.0}", r.tiles_p50_us),
            format!("{:.0}", r.tiles_p99_us),
        ],
        vec![
            "/healthz (rate: before and after; latency: before)".into(),
            format!("{:.0}", r.healthz_per_s),
            format!("{:.0}", r.healthz_p50_us),
            format!("{:.0}", r.healthz_p99_us),
        ],
    ];
    print!("{}", table(&["", "requests/s", "p50 µs", "p99 µs"], &rows));
    println!("tiles_ratio_to_healthz: {:.2}", r.tiles_ratio_to_healthz);
}

/// `bench trace`.
pub(crate) fn bench_trace(r: &TraceBench, json: bool) {
    if json {
        print_json("bench-trace", &TraceJson::from(r));
    } else {
        println!(
            "trace of {} leaked items over {} fingerprints ({} disclosures, {} departments): {:.3} s; the leaking department ranked first: {}",
            r.leak_items, r.fingerprints, r.disclosures, r.departments, r.trace_seconds, r.leaker_ranked_first
        );
        println!("(storing the disclosures took {:.1} s)", r.setup_seconds);
    }
}
