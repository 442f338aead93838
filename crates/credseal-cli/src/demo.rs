//! `credseal demo`: a walkthrough on a throw-away platform built from keys-example/.
//! Each later feature adds its own step here.

use std::path::Path;

use credseal_crypto::{Passphrase, demo as keys};
use credseal_engine::{ErrorClass, InitOptions, KeySource, NoProgress, OpenOptions, Platform};

use crate::output::table;
use crate::{CliResult, Failure};

/// keys-example/catalog.toml.
pub const CATALOG: &str = include_str!("../../../keys-example/catalog.toml");
/// keys-example/records.jsonl.
pub const RECORDS: &str = include_str!("../../../keys-example/records.jsonl");
/// keys-example/platform.keystore (public demo keys under the public demo passphrase).
pub const KEYSTORE: &[u8] = include_bytes!("../../../keys-example/platform.keystore");

fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::new(ErrorClass::Error, e.to_string())
}

fn step(n: u32, who: &str, what: &str) {
    println!("\n== Step {n}. {who}: {what}");
}

pub fn run(data: Option<&Path>) -> CliResult {
    let tmp;
    let dir = match data {
        Some(d) => d.to_path_buf(),
        None => {
            tmp = tempfile::tempdir().map_err(fail)?;
            tmp.path().join("platform")
        }
    };
    let work = tempfile::tempdir().map_err(fail)?;
    println!("credseal demo: a walkthrough on a throw-away platform.");
    println!("It uses the PUBLIC demo keys of keys-example/; never put real data under them.");

    step(1, "authority", "the catalogue of credit information");
    let catalog = credseal_core::Catalog::parse(CATALOG, Some("keys-example/catalog.toml")).map_err(fail)?;
    let rows: Vec<Vec<String>> = catalog
        .classes
        .values()
        .map(|c| {
            vec![
                c.id.clone(),
                format!("{:?}", c.sensitivity).to_lowercase(),
                if c.consent_required { "yes".into() } else { "no".into() },
                c.retention.to_string(),
                c.fields.len().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["class", "sensitivity", "consent", "retention", "fields"], &rows)
    );

    step(2, "security officer", "create the platform");
    let pass = Passphrase::new(keys::DEMO_PASSPHRASE.into());
    let ks = Platform::read_keystore_bytes(KEYSTORE, &pass, OpenOptions { allow_demo_keys: true })?;
    let origin = ks.origin.clone();
    Platform::init(&InitOptions {
        dir: &dir,
        catalog_text: CATALOG,
        catalog_name: "keys-example/catalog.toml",
        origin: &origin,
        passphrase: &pass,
        keys: KeySource::Existing(Box::new(ks)),
        now: credseal_engine::now_unix(),
    })?;
    println!(
        "$ credseal --demo init --data {} --catalog keys-example/catalog.toml --keystore keys-example/platform.keystore",
        dir.display()
    );
    println!("platform {origin} created; keystore sealed with AES-256-GCM under an Argon2id key");
    let p = Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: true })?;
    match Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: false }) {
        Err(e) => println!("without --demo the same platform is refused: {e}"),
        Ok(_) => return Err(fail("the demo keystore was accepted without --demo")),
    }

    step(3, "data provider", "ingest keys-example/records.jsonl");
    let input = work.path().join("records.jsonl");
    std::fs::write(&input, RECORDS).map_err(fail)?;
    let s = p.ingest_file(&input, &NoProgress)?;
    println!(
        "{} records written for {} subjects; {} data keys created (one per subject and class)",
        s.written,
        subject_count(),
        s.new_data_keys
    );

    step(4, "anyone with the disk", "sees no credit data");
    drop(p);
    let (files, bytes, found) = scan_dir(&dir)?;
    println!(
        "scanned {files} files ({bytes} bytes) of the data directory for every subject id and field value of the input:"
    );
    if found.is_empty() {
        println!("none of them appears; storage keys use blinded ids only");
    } else {
        return Err(fail(format!("plaintext found on disk: {}", found.join(", "))));
    }
    let p = Platform::open(&dir, &pass, OpenOptions { allow_demo_keys: true })?;

    step(5, "data provider", "re-ingest the same file: nothing changes");
    let s = p.ingest_file(&input, &NoProgress)?;
    println!("{} written, {} already stored", s.written, s.unchanged);

    step(6, "data provider", "a file with bad lines is rejected whole");
    let bad = work.path().join("bad.jsonl");
    let first = RECORDS.lines().next().unwrap_or_default();
    let broken = first.replacen("\"class\":\"identity\"", "\"class\":\"gossip\"", 1);
    std::fs::write(&bad, format!("{first}\n{broken}\n{{not json\n")).map_err(fail)?;
    match p.ingest_file(&bad, &NoProgress) {
        Err(e) => {
            for l in e.to_string().lines() {
                println!("  {l}");
            }
        }
        Ok(_) => return Err(fail("a bad file was accepted")),
    }

    step(7, "security officer", "key status");
    print!(
        "{}",
        table(
            &["class", "version", "status", "data keys"],
            &p.key_status()?
                .iter()
                .flat_map(|c| c.versions.iter().map(move |v| vec![
                    c.class.clone(),
                    format!("v{}", v.version),
                    if v.primary { "primary".into() } else { String::new() },
                    v.data_keys.to_string()
                ]))
                .collect::<Vec<_>>()
        )
    );

    step(8, "platform", "every stored value opens and sits in its place");
    let (d, r) = p.verify_store()?;
    println!("{d} data keys and {r} records verified");

    println!(
        "\nThe demo platform is in {}{}.",
        dir.display(),
        if data.is_none() { " (removed now)" } else { "" }
    );
    Ok(())
}

fn subject_count() -> usize {
    let mut s: Vec<&str> = RECORDS
        .lines()
        .filter_map(|l| l.split("\"subject\":\"").nth(1).and_then(|r| r.split('"').next()))
        .collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// Every subject id and every field value of at least 6 bytes in the demo records that does
/// not also occur in the (public) catalogue text.
pub fn needles() -> Vec<String> {
    let mut out = Vec::new();
    for l in RECORDS.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue;
        };
        if let Some(s) = v["subject"].as_str() {
            out.push(s.to_string());
        }
        if let Some(f) = v["fields"].as_object() {
            for val in f.values() {
                let s = match val {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if s.len() >= 6 && !CATALOG.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn scan_dir(dir: &Path) -> CliResult<(u64, u64, Vec<String>)> {
    let needles = needles();
    let mut files = 0;
    let mut bytes = 0;
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(fail)? {
            let e = e.map_err(fail)?;
            let path = e.path();
            if e.file_type().map_err(fail)?.is_dir() {
                stack.push(path);
                continue;
            }
            let data = std::fs::read(&path).map_err(fail)?;
            files += 1;
            bytes += data.len() as u64;
            for n in &needles {
                if data.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{} in {}", n.len(), path.display()));
                }
            }
        }
    }
    Ok((files, bytes, found))
}
