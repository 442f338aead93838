//! `bench tiles` end to end at a tiny size: a log built through the platform, exported as
//! tiles, audited from them with only the verifier key, and served to wrk. The figures are
//! checked for presence and sanity (positive, finite, consistent), never for speed.

use credseal_engine::NoProgress;

const CATALOG: &str = include_str!("../../../keys-example/catalog.toml");

fn tiny() -> credseal_bench::TilesSize {
    credseal_bench::TilesSize {
        receipts: 700, // two full tiles and a partial one
        subjects: 40,
        batch: 300,
        duration: 1,
        ..credseal_bench::TilesSize::quick()
    }
}

#[test]
fn tiny_tiles_bench_audits_every_receipt_and_serves_tiles() {
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
    let size = tiny();
    let r = credseal_bench::bench_tiles(CATALOG, size, d.path(), &NoProgress).unwrap();
    assert_eq!(r.receipts, 700);
    assert_eq!(r.subjects, 40);
    // Entry bundles 000, 001, 002.p/188; hash tiles 0/000, 0/001, 0/002.p/188, 1/000.p/2.
    assert_eq!(r.audit_bundles, 3);
    assert_eq!(r.audit_hash_tiles, 4);
    assert_eq!(r.export_files, 7);
    assert!(r.export_bytes > 700 * 64, "{r:?}");
    // The tiles run asks for the full ones only: two entry bundles, two level-0 tiles.
    assert_eq!((r.tile_paths, r.tile_paths_entries), (4, 2));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let v = serde_json::to_value(&r).unwrap();
    for field in [
        "build_seconds",
        "export_seconds",
        "audit_seconds",
        "audit_receipts_per_s",
        "floor_signature_seconds",
        "floor_hash_seconds",
        "floor_seconds",
        "floor_receipts_per_s",
        "audit_ratio_to_floor",
        "tiles_seconds",
        "tiles_per_s",
        "tiles_mib_per_s",
        "tiles_p50_us",
        "tiles_p99_us",
        "healthz_per_s",
        "healthz_p50_us",
        "healthz_p99_us",
        "tiles_ratio_to_healthz",
        "floor_seconds_before",
        "floor_seconds_after",
    ] {
        let x = v[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} missing or not a number: {v}"));
        assert!(x.is_finite() && x > 0.0, "{field} = {x}");
    }
    assert!(r.tiles_served > 0);
    // On-CPU times where the kernel tells (Linux): positive, and the ratio is theirs.
    if let (Some(a), Some(f)) = (r.audit_cpu_seconds, r.floor_cpu_seconds) {
        assert!(a > 0.0 && f > 0.0, "{r:?}");
        assert!(close(r.audit_cpu_ratio_to_floor.unwrap(), f / a));
    }
    assert!(
        r.tiles_p50_us <= r.tiles_p99_us && r.healthz_p50_us <= r.healthz_p99_us,
        "{r:?}"
    );
    assert!(close(r.floor_seconds, r.floor_signature_seconds + r.floor_hash_seconds));
    assert!(close(r.audit_ratio_to_floor, r.floor_seconds / r.audit_seconds));
    assert!(close(r.audit_receipts_per_s, 700.0 / r.audit_seconds));
    assert!(close(r.tiles_per_s, r.tiles_served as f64 / r.tiles_seconds));
    assert!(close(r.tiles_ratio_to_healthz, r.tiles_per_s / r.healthz_per_s));
}

#[test]
fn tiles_bench_refuses_bad_sizes_before_starting() {
    let d = tempfile::tempdir().unwrap();
    for (bad, want) in [
        (
            credseal_bench::TilesSize {
                receipts: 255,
                ..tiny()
            },
            "at least 256 receipts",
        ),
        (credseal_bench::TilesSize { subjects: 0, ..tiny() }, "one subject"),
        (
            credseal_bench::TilesSize {
                connections: 3,
                wrk_threads: 2,
                ..tiny()
            },
            "multiple",
        ),
        (credseal_bench::TilesSize { duration: 0, ..tiny() }, "second"),
    ] {
        let e = credseal_bench::bench_tiles(CATALOG, bad, d.path(), &NoProgress).unwrap_err();
        assert!(e.to_string().contains(want), "{e}");
    }
    assert!(std::fs::read_dir(d.path()).unwrap().next().is_none(), "nothing written");
}
