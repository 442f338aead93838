//! The auditor's view of the log: the key history (`log history`) and a replay
//! (`log verify`).

use credseal_engine::{LogKeyStatus, LogReport};
use serde::Serialize;

use super::print_json;

/// `log history --json`: the handover notes and the keys with their ranges. Fields in
/// alphabetical order, here and in [`HistoryKeyJson`], as this document has always printed
/// them.
#[derive(Debug, Serialize)]
struct HistoryJson<'a> {
    handovers: &'a [String],
    keys: Vec<HistoryKeyJson<'a>>,
}

/// One log key in `log history --json`.
#[derive(Debug, Serialize)]
struct HistoryKeyJson<'a> {
    current: bool,
    from: u64,
    key_id: &'a str,
    until: Option<u64>,
    vkey: &'a str,
}

impl<'a> From<&'a LogKeyStatus> for HistoryKeyJson<'a> {
    fn from(k: &'a LogKeyStatus) -> Self {
        Self {
            current: k.current,
            from: k.from,
            key_id: &k.key_id,
            until: k.until,
            vkey: &k.vkey,
        }
    }
}

/// `log history`: the signed handover notes, oldest first.
pub(crate) fn history(keys: &[LogKeyStatus], notes: &[String], json: bool) {
    if json {
        print_json(
            "log-history",
            &HistoryJson {
                handovers: notes,
                keys: keys.iter().map(HistoryKeyJson::from).collect(),
            },
        );
    } else if notes.is_empty() {
        println!("the log key was never rotated: {} signs every receipt", keys[0].key_id);
    } else {
        for (i, n) in notes.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{n}");
        }
    }
}

/// `log verify --json`: the fields of [`LogReport`], in its order.
#[derive(Debug, Serialize)]
struct LogVerifyJson {
    from: u64,
    receipts: u64,
    checkpoints: u64,
    size: u64,
    subjects: u64,
}

/// What `log verify` checked.
pub(crate) fn verify(r: &LogReport, json: bool) {
    if json {
        print_json(
            "log-verify",
            &LogVerifyJson {
                from: r.from,
                receipts: r.receipts,
                checkpoints: r.checkpoints,
                size: r.size,
                subjects: r.subjects,
            },
        );
    } else {
        println!(
            "ok: {} receipts and {} checkpoints verified{}; every root and subject-map root matches the log ({} subjects)",
            r.receipts,
            r.checkpoints,
            if r.from > 0 {
                format!(" from size {}", r.from)
            } else {
                String::new()
            },
            r.subjects
        );
    }
}

/// `log export-tiles`.
pub(crate) fn export_tiles(r: &credseal_engine::TileExport, out: &std::path::Path, json: bool) {
    if json {
        print_json("log-export-tiles", r);
    } else {
        println!(
            "ok: the log at size {} written to {} ({} new tiles and entry bundles, {} kept from the export at size {})",
            r.size,
            out.display(),
            r.written,
            r.kept,
            r.previous
        );
    }
}

/// `log verify --tiles`.
pub(crate) fn verify_tiles(r: &credseal_engine::TilesReport, json: bool) {
    if json {
        print_json("log-verify-tiles", r);
    } else {
        println!(
            "ok: {} receipts of {} verified from tiles ({} entry bundles, {} hash tiles{}); the root and subject-map root match the checkpoint ({} subjects)",
            r.receipts,
            r.origin,
            r.bundles,
            r.hash_tiles,
            if r.from > 0 {
                format!(", consistent with the saved state at size {}", r.from)
            } else {
                String::new()
            },
            r.subjects
        );
    }
}
