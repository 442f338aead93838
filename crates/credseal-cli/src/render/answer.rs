//! An opened answer (`open`): its records, field by field.

use credseal_engine::AnswerBody;
use serde::Serialize;

use super::{print_json, table};

/// `open --json`. The records are each record's own JSON form ([`credseal_core::Record`]'s
/// `to_json`, the same as the ingest format).
#[derive(Debug, Serialize)]
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

/// An opened answer: its records as a table, or `--json`.
pub(crate) fn answer(a: &AnswerBody, json: bool) {
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
    print!("{}", record_table(a, usize::MAX));
}

/// The records of an answer, one row per field (class, record, version, field, value), at
/// most `max_rows` rows (`open`, the demo).
pub(crate) fn record_table(a: &AnswerBody, max_rows: usize) -> String {
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
        .take(max_rows)
        .collect();
    table(&["class", "record", "version", "field", "value"], &rows)
}
