//! A platform's life: created (`init`), records ingested (`ingest`), stored values checked
//! (`check`).

use std::path::Path;

use credseal_engine::IngestSummary;
use serde::Serialize;

use super::print_json;

/// `init --json`.
#[derive(Debug, Serialize)]
struct InitJson<'a> {
    data: &'a Path,
    origin: &'a str,
    log_key_file: std::path::PathBuf,
    vrf_key_file: std::path::PathBuf,
}

/// What `init` created.
/// `custody`: `Some((K, N))` for a keystore in officers' custody, `None` for a passphrase.
pub(crate) fn init_done(dir: &Path, origin: &str, custody: Option<(u8, usize)>, token: bool, json: bool) {
    if json {
        print_json(
            "init",
            &InitJson {
                data: dir,
                origin,
                log_key_file: dir.join(credseal_engine::LOG_KEY_FILE),
                vrf_key_file: dir.join(credseal_engine::VRF_KEY_FILE),
            },
        );
    } else {
        println!("created platform {origin} in {}", dir.display());
        println!("  keystore: {}", dir.join(credseal_engine::KEYSTORE_FILE).display());
        println!(
            "  public keys to publish: {} (log key), {} (VRF key)",
            dir.join(credseal_engine::LOG_KEY_FILE).display(),
            dir.join(credseal_engine::VRF_KEY_FILE).display()
        );
        match custody {
            None if token => println!(
                "  the keys are in the PKCS#11 token: without it and its PIN the data cannot be read by anyone"
            ),
            None => println!("  keep the passphrase safe: without it the data cannot be read by anyone"),
            Some((k, n)) => println!(
                "  the {n} officers keep their unseal keys safe: without {k} of them the data cannot be read by anyone"
            ),
        }
    }
}

/// `ingest --json`: the fields of [`IngestSummary`], in its order.
#[derive(Debug, Serialize)]
struct IngestJson {
    lines: u64,
    records: u64,
    written: u64,
    unchanged: u64,
    duplicates: u64,
    new_data_keys: u64,
    reingested_shredded: u64,
    bytes: u64,
}

impl From<&IngestSummary> for IngestJson {
    fn from(s: &IngestSummary) -> Self {
        Self {
            lines: s.lines,
            records: s.records,
            written: s.written,
            unchanged: s.unchanged,
            duplicates: s.duplicates,
            new_data_keys: s.new_data_keys,
            reingested_shredded: s.reingested_shredded,
            bytes: s.bytes,
        }
    }
}

/// What `ingest` did.
pub(crate) fn ingest_summary(s: &IngestSummary, json: bool) {
    if json {
        print_json("ingest", &IngestJson::from(s));
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

/// `check --json`.
#[derive(Debug, Serialize)]
struct CheckJson {
    ok: bool,
    data_keys: u64,
    records: u64,
    fingerprints: u64,
}

/// What `check` verified.
pub(crate) fn check(deks: u64, records: u64, fingerprints: u64, json: bool) {
    if json {
        print_json(
            "check",
            &CheckJson {
                ok: true,
                data_keys: deks,
                records,
                fingerprints,
            },
        );
    } else {
        println!("ok: {deks} data keys and {records} records open and match their places");
        println!("ok: {fingerprints} disclosure fingerprints match the receipts in the log");
    }
}

/// One enrolled provider in `provider list --json`.
#[derive(Debug, Serialize)]
struct ProviderJson<'a> {
    provider: &'a str,
    name: &'a str,
    serial: u64,
    classes: Vec<&'a str>,
    /// The record-id namespace, or null for any.
    record_prefix: Option<&'a str>,
    not_before: u64,
    not_after: u64,
}

/// `provider list`: the installed provider credentials.
pub(crate) fn providers(list: &[credseal_auth::ProviderCredential], json: bool) {
    let rows: Vec<ProviderJson<'_>> = list
        .iter()
        .map(|c| ProviderJson {
            provider: &c.provider_id,
            name: &c.provider_name,
            serial: c.serial,
            classes: c.classes.iter().map(String::as_str).collect(),
            record_prefix: (!c.record_prefix.is_empty()).then_some(c.record_prefix.as_str()),
            not_before: c.not_before,
            not_after: c.not_after,
        })
        .collect();
    if json {
        print_json("providers", &rows);
        return;
    }
    if rows.is_empty() {
        println!("no providers enrolled (authority provider-credential, then provider enroll)");
    }
    for r in rows {
        let ns = match r.record_prefix {
            None => "any record id".to_string(),
            Some(p) => format!("record ids starting {p:?}"),
        };
        println!(
            "{}  serial {}  classes {}  {}  valid until {}",
            r.provider,
            r.serial,
            r.classes.join(","),
            ns,
            r.not_after
        );
    }
}
