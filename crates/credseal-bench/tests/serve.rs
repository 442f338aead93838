//! `bench serve` end to end, at its quick size: the in-process HTTPS server driven by wrk.

use credseal_engine::NoProgress;

const CATALOG: &str = include_str!("../../../keys-example/catalog.toml");

#[test]
fn quick_serve_bench_answers_every_query_and_logs_each_once() {
    if !credseal_bench::wrk_available() {
        // CI installs wrk (.ci/install-load-tool): there a missing wrk is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "wrk is not on PATH under CI: .ci/run should have installed it with .ci/install-load-tool"
        );
        eprintln!("skipped: wrk is not on PATH (install it with .ci/install-load-tool)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let size = credseal_bench::ServeSize {
        subjects: 200,
        ..credseal_bench::ServeSize::quick()
    };
    let r = credseal_bench::bench_serve(CATALOG, size, d.path(), &NoProgress).unwrap();
    assert!(r.closed_queries > 0 && r.closed_queries <= size.max_queries, "{r:?}");
    assert!(r.open_queries >= size.open_connections, "{r:?}");
    assert_eq!(r.log_growth, r.closed_queries + r.open_queries);
    assert_eq!(r.floor_queries, size.floor_queries);
    assert!(r.classes_per_query > 0 && r.records_per_query > 0.0, "{r:?}");
    assert!(r.peak_queries_per_s > 0.0 && r.floor_queries_per_s > 0.0, "{r:?}");
    assert!((r.ratio_to_floor - r.peak_queries_per_s / r.floor_queries_per_s).abs() < 1e-9);
    // The in-process pipeline ran before and after the server, every query answered (a
    // query it lost fails the run).
    assert_eq!(r.in_process_queries, size.in_process_queries);
    assert!(
        r.in_process_seconds_before > 0.0 && r.in_process_seconds_after > 0.0,
        "{r:?}"
    );
    let in_qps = 2.0 * size.in_process_queries as f64 / (r.in_process_seconds_before + r.in_process_seconds_after);
    assert!((r.in_process_queries_per_s - in_qps).abs() < 1e-6 * in_qps, "{r:?}");
    assert!((r.ratio_to_in_process - r.peak_queries_per_s / r.in_process_queries_per_s).abs() < 1e-9);
    assert!(r.in_process_commit_batch_mean >= 1.0, "{r:?}");
    assert_eq!(
        (r.open_threads, r.open_connections),
        (size.open_threads, size.open_connections)
    );
    assert!((r.open_target_per_s - 0.8 * r.peak_queries_per_s).abs() < 1e-6 * r.peak_queries_per_s);
    assert!(
        r.open_p50_us > 0.0 && r.open_p50_us <= r.open_p99_us && r.open_p99_us <= r.open_max_us,
        "{r:?}"
    );
    assert!(r.closed_p50_us > 0.0 && r.closed_p50_us <= r.closed_p99_us, "{r:?}");
}

#[test]
fn serve_bench_refuses_bad_sizes_before_starting() {
    let d = tempfile::tempdir().unwrap();
    let bad = credseal_bench::ServeSize {
        rate_fraction: 1.5,
        ..credseal_bench::ServeSize::quick()
    };
    let e = credseal_bench::bench_serve(CATALOG, bad, d.path(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("rate fraction"), "{e}");
    let bad = credseal_bench::ServeSize {
        wrk_threads: 4,
        connections: 2,
        ..credseal_bench::ServeSize::quick()
    };
    let e = credseal_bench::bench_serve(CATALOG, bad, d.path(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("connections"), "{e}");
    let bad = credseal_bench::ServeSize {
        open_threads: 2,
        open_connections: 5,
        ..credseal_bench::ServeSize::quick()
    };
    let e = credseal_bench::bench_serve(CATALOG, bad, d.path(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("not a multiple"), "{e}");
    let bad = credseal_bench::ServeSize {
        in_process_queries: 0,
        ..credseal_bench::ServeSize::quick()
    };
    let e = credseal_bench::bench_serve(CATALOG, bad, d.path(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("in-process"), "{e}");
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none(), "nothing written");
}
