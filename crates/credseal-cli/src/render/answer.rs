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
    /// Records under an open objection, by class, as the answer's receipt says (empty if
    /// none).
    disputed: Vec<DisputedJson>,
}

/// Records of one class under an open objection.
#[derive(Debug, Serialize)]
struct DisputedJson {
    class: String,
    records: u64,
}

/// The receipt's `disputed: 1 loans, 2 identity record(s) under an open objection`, by class.
fn disputed_by_class(text: &str) -> Vec<DisputedJson> {
    let Some(rest) = text.strip_prefix(credseal_engine::DISPUTED_MARK) else {
        return Vec::new();
    };
    let list = rest.split(" record(s)").next().unwrap_or("");
    list.split(", ")
        .filter_map(|part| {
            let (n, class) = part.trim().split_once(' ')?;
            Some(DisputedJson {
                class: class.to_string(),
                records: n.parse().ok()?,
            })
        })
        .collect()
}

/// An opened answer: its records as a table, or `--json`; `disputed` is what its receipt
/// says of records under an open objection.
pub(crate) fn answer(a: &AnswerBody, disputed: Option<&str>, json: bool) {
    if json {
        print_json(
            "answer",
            &AnswerJson {
                origin: &a.origin,
                query_id: credseal_core::hex(&a.query_id),
                purpose: &a.purpose,
                department: &a.department_id,
                subject: &a.subject,
                classes: &a.classes,
                answered_at: a.answered_at,
                records: a.records.iter().map(|r| r.to_json()).collect(),
                disputed: disputed.map(disputed_by_class).unwrap_or_default(),
            },
        );
        return;
    }
    if let Some(d) = disputed {
        println!("NOTE: {d} (the subject's objection is being checked by the provider)");
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

/// One correction notice in `dept open-notice --json`.
#[derive(Debug, Serialize)]
struct NoticeJson<'a> {
    notice_id: String,
    class: &'a str,
    record_id: &'a str,
    superseded_version: u32,
    version: u32,
    corrected_at: u64,
}

/// `dept open-notice`: what each notice says was corrected.
pub(crate) fn notices(list: &[credseal_engine::NoticeBody], json: bool) {
    if json {
        let rows: Vec<NoticeJson<'_>> = list
            .iter()
            .map(|n| NoticeJson {
                notice_id: credseal_core::hex(&n.notice_id),
                class: &n.class,
                record_id: &n.record_id,
                superseded_version: n.superseded_version,
                version: n.version,
                corrected_at: n.corrected_at,
            })
            .collect();
        print_json("notices", &rows);
        return;
    }
    for n in list {
        println!(
            "correction of {} record {}: version {} supersedes version {} (corrected at {}); query again for it",
            n.class, n.record_id, n.version, n.superseded_version, n.corrected_at
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn disputed_records_by_class() {
        let d = super::disputed_by_class("disputed: 1 loans, 2 identity record(s) under an open objection");
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].class.as_str(), d[0].records), ("loans", 1));
        assert_eq!((d[1].class.as_str(), d[1].records), ("identity", 2));
        assert!(super::disputed_by_class("legal basis: x").is_empty());
    }
}
