//! Human tables and `--json` documents. Each JSON document comes from a dedicated serde
//! struct so the two forms cannot drift silently.

use std::path::Path;

use credseal_engine::bench::{IngestBench, QueryBench, VerifyBench};
use credseal_engine::{AnswerBody, ClassKeyStatus, IngestSummary, LogKeyStatus};
use serde::Serialize;

/// Prints `v` as one pretty JSON document.
pub(crate) fn print_json<T: Serialize>(v: &T) {
    // Cannot fail: every document is a plain derived struct (or a `serde_json::Value`) with
    // string map keys and no custom `Serialize` that errors.
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

/// A simple left-aligned table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
struct InitJson<'a> {
    data: &'a Path,
    origin: &'a str,
}

pub fn init_done(dir: &Path, origin: &str, json: bool) {
    if json {
        print_json(&InitJson { data: dir, origin });
    } else {
        println!("created platform {origin} in {}", dir.display());
        println!("  keystore: {}", dir.join(credseal_engine::KEYSTORE_FILE).display());
        println!("  keep the passphrase safe: without it the data cannot be read by anyone");
    }
}

pub fn ingest_summary(s: &IngestSummary, json: bool) {
    if json {
        print_json(s);
    } else {
        println!(
            "ingested {} records from {} lines: {} written, {} already stored, {} duplicate lines skipped, {} new data keys",
            s.records, s.lines, s.written, s.unchanged, s.duplicates, s.new_data_keys
        );
        if s.reingested_shredded > 0 {
            println!(
                "{} of the records written had been shredded: ingested again as --allow-shredded asked; their subjects' receipts say so",
                s.reingested_shredded
            );
        }
    }
}

/// What a command did: its JSON object with `--json`, else a line of text.
pub fn done<T: Serialize>(json: bool, value: &T, text: &str) {
    if json {
        print_json(value);
    } else {
        println!("{text}");
    }
}

#[derive(Serialize)]
struct KeyStatusJson<'a> {
    classes: &'a [ClassKeyStatus],
    log_keys: &'a [LogKeyStatus],
}

pub fn key_status(st: &[ClassKeyStatus], log: &[LogKeyStatus], json: bool) {
    if json {
        print_json(&KeyStatusJson {
            classes: st,
            log_keys: log,
        });
        return;
    }
    let mut rows = Vec::new();
    for c in st {
        for v in &c.versions {
            rows.push(vec![
                c.class.clone(),
                format!("v{}", v.version),
                if v.primary { "primary".into() } else { String::new() },
                v.data_keys.to_string(),
            ]);
        }
    }
    print!("{}", table(&["class", "version", "status", "data keys"], &rows));
    let rows: Vec<Vec<String>> = log
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                match k.until {
                    Some(u) if u > k.from => format!("{} to {}", k.from, u - 1),
                    Some(_) => "none".into(),
                    None => format!("{} on", k.from),
                },
                if k.current {
                    "current".into()
                } else if k.from == 0 {
                    "original, retired".into()
                } else {
                    "retired".into()
                },
            ]
        })
        .collect();
    println!();
    print!("{}", table(&["log key", "receipts signed", "status"], &rows));
}

#[derive(Serialize)]
struct CheckJson {
    ok: bool,
    data_keys: u64,
    records: u64,
    fingerprints: u64,
}

pub fn check(deks: u64, records: u64, fingerprints: u64, json: bool) {
    if json {
        print_json(&CheckJson {
            ok: true,
            data_keys: deks,
            records,
            fingerprints,
        });
    } else {
        println!("ok: {deks} data keys and {records} records open and match their places");
        println!("ok: {fingerprints} disclosure fingerprints match the receipts in the log");
    }
}

pub fn bench_ingest(r: &IngestBench, json: bool) {
    if json {
        print_json(r);
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

#[derive(Serialize)]
struct AnswerJson<'a> {
    origin: &'a str,
    query_id: String,
    purpose: &'a str,
    department: &'a str,
    subject: &'a str,
    classes: &'a [String],
    answered_at: u64,
    records: Vec<serde_json::Value>,
}

pub fn answer(a: &AnswerBody, json: bool) {
    if json {
        print_json(&AnswerJson {
            origin: &a.origin,
            query_id: credseal_core::hex(&a.query_id),
            purpose: &a.purpose,
            department: &a.department_id,
            subject: &a.subject,
            classes: &a.classes,
            answered_at: a.answered_at,
            records: a.records.iter().map(|r| r.to_json()).collect(),
        });
        return;
    }
    println!(
        "answer from {} to query {} ({} for {}): {} record(s) of {}",
        a.origin,
        credseal_core::hex(&a.query_id),
        a.purpose,
        a.department_id,
        a.records.len(),
        a.classes.join(", ")
    );
    let rows: Vec<Vec<String>> = a
        .records
        .iter()
        .flat_map(|r| {
            r.fields.iter().map(move |(k, v)| {
                vec![
                    r.class.clone(),
                    r.record_id.clone(),
                    format!("v{}", r.version),
                    k.clone(),
                    v.to_string(),
                ]
            })
        })
        .collect();
    print!("{}", table(&["class", "record", "version", "field", "value"], &rows));
}

pub fn bench_query(r: &QueryBench, json: bool) {
    if json {
        print_json(r);
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

pub fn bench_rewrap(r: &credseal_engine::bench::RewrapBench, json: bool) {
    if json {
        print_json(r);
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
}

pub fn bench_verify(r: &VerifyBench, json: bool) {
    if json {
        print_json(r);
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
