//! Reading leaked material for `trace`: JSON Lines, CSV, or a file exported by
//! `credseal open --export` (CSV or JSON with the disclosure id in its mark).
//!
//! Leaks are partial, noisy and reformatted: a line that cannot be read, a value that does
//! not read as its field's type or a column that names no catalogue field is reported (line
//! number, column name, reason — never the value) and the rest of the file is still traced.
//! Only a file with nothing usable at all is an error.

use std::collections::{BTreeSet, HashMap};

use credseal_core::{Catalog, FieldType, SubjectId, canonical};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// Largest leak file accepted (64 MiB).
pub const MAX_LEAK_BYTES: usize = 64 << 20;
/// Most issues kept in a report (the rest are counted).
pub(crate) const MAX_ISSUES: usize = 1000;
/// First line of a CSV export, followed by ` format=1 origin=<origin> disclosure=<index> query=<hex>`.
pub const CSV_MARK: &str = "# credseal-export";
/// Key of the mark object in a JSON export.
pub const JSON_MARK: &str = "credseal_export";

/// Column names that hold the subject id (compared lower-cased, trimmed).
const SUBJECT_COLUMNS: [&str; 9] = [
    "subject",
    "subject_id",
    "subject id",
    "subjectid",
    "id",
    "证件号码",
    "身份证号",
    "统一社会信用代码",
    "subject.id",
];
/// Columns of an export or an ingest line that are not field values.
const META_COLUMNS: [&str; 7] = [
    "class",
    "record_id",
    "version",
    "effective",
    "source",
    "supersedes",
    "fields",
];

/// One problem in the leak file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeakIssue {
    /// 1-based line (JSON export: record number).
    pub line: u64,
    /// The column concerned, or `line`.
    pub column: String,
    /// What is wrong (never the value).
    pub message: String,
}

/// The disclosure id carried by an exported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportMark {
    /// The platform the export says it came from.
    pub origin: String,
    /// The receipt's log index.
    pub disclosure: u64,
}

/// One leaked (subject, field, value) item with every catalogue field it may be.
#[derive(Clone, Debug)]
pub(crate) struct LeakItem {
    pub subject: SubjectId,
    /// (class, field, canonical value).
    pub candidates: Vec<(String, String, String)>,
}

/// A parsed leak file.
#[derive(Debug, Default)]
pub(crate) struct Leak {
    pub format: &'static str,
    pub rows: u64,
    pub items: Vec<LeakItem>,
    pub issues: Vec<LeakIssue>,
    pub more_issues: u64,
    pub unknown_columns: BTreeSet<String>,
    pub mark: Option<ExportMark>,
}

impl Leak {
    fn issue(&mut self, line: u64, column: &str, message: impl Into<String>) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(LeakIssue {
                line,
                column: column.chars().take(64).collect(),
                message: message.into(),
            });
        } else {
            self.more_issues += 1;
        }
    }
}

/// What a column is.
#[derive(Clone, Debug)]
enum Col {
    /// Not a field value (the subject, a record id, the class).
    Skip,
    /// Names no catalogue field.
    Unknown,
    /// These (class, field, type)s.
    Field(Vec<(String, String, FieldType)>),
}

fn resolve(name: &str, catalog: &Catalog) -> Col {
    let n = name.trim().to_lowercase();
    if SUBJECT_COLUMNS.contains(&n.as_str()) || META_COLUMNS.contains(&n.as_str()) {
        return Col::Skip;
    }
    if let Some((c, f)) = n.split_once('.')
        && let Some(class) = catalog.class(c)
    {
        return match class.field(f) {
            Some(def) => Col::Field(vec![(c.to_string(), f.to_string(), def.ty.clone())]),
            None => Col::Unknown,
        };
    }
    let found: Vec<_> = catalog
        .classes
        .values()
        .filter_map(|c| c.field(&n).map(|d| (c.id.clone(), n.clone(), d.ty.clone())))
        .collect();
    if found.is_empty() {
        Col::Unknown
    } else {
        Col::Field(found)
    }
}

/// A row: its 1-based line, its (column, value) cells, the class it names if any.
struct Row {
    line: u64,
    cells: Vec<(String, String)>,
    class: Option<String>,
}

fn json_scalar(v: &serde_json::Value) -> Option<Option<String>> {
    match v {
        serde_json::Value::Null => Some(None),
        serde_json::Value::String(s) => Some(Some(s.clone())),
        serde_json::Value::Number(n) => Some(Some(n.to_string())),
        serde_json::Value::Bool(b) => Some(Some(b.to_string())),
        _ => None,
    }
}

/// Cells of a JSON object: top-level scalars, and the members of a `fields` object
/// (the ingest and export shape) with the object's `class`.
fn json_row(line: u64, obj: &serde_json::Map<String, serde_json::Value>, leak: &mut Leak) -> Row {
    let mut cells = Vec::new();
    let class = obj.get("class").and_then(|c| c.as_str()).map(str::to_string);
    let mut push = |k: &str, v: &serde_json::Value, leak: &mut Leak| match json_scalar(v) {
        Some(Some(s)) => cells.push((k.to_string(), s)),
        Some(None) => {}
        None => leak.issue(line, k, "not a single value"),
    };
    for (k, v) in obj {
        if k == "fields"
            && let Some(f) = v.as_object()
        {
            for (fk, fv) in f {
                push(fk, fv, leak);
            }
            continue;
        }
        push(k, v, leak);
    }
    Row { line, cells, class }
}

/// Splits CSV text (RFC 4180: quoted fields, doubled quotes, CRLF, newlines inside quotes)
/// into records, each with the line it starts on. `Err(line)` for an unterminated quote.
fn csv_records(text: &str, first_line: u64) -> Vec<std::result::Result<(u64, Vec<String>), u64>> {
    let mut out = Vec::new();
    let mut line = first_line;
    let mut start = line;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cur.push('\n');
                }
                c => cur.push(c),
            }
            continue;
        }
        match c {
            '"' if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
                any = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut cur));
                any = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut cur));
                if any || fields.iter().any(|f| !f.trim().is_empty()) {
                    out.push(Ok((start, std::mem::take(&mut fields))));
                } else {
                    fields.clear();
                }
                line += 1;
                start = line;
                any = false;
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        out.push(Err(start));
    } else if any || !cur.is_empty() {
        fields.push(cur);
        out.push(Ok((start, fields)));
    }
    out
}

/// Parses `# credseal-export format=1 origin=… disclosure=…` (the rest is ignored).
fn parse_csv_mark(line: &str) -> Option<ExportMark> {
    let rest = line.trim().strip_prefix(CSV_MARK)?;
    let mut origin = None;
    let mut disclosure = None;
    for kv in rest.split_whitespace() {
        match kv.split_once('=') {
            Some(("origin", v)) => origin = Some(v.to_string()),
            Some(("disclosure", v)) => disclosure = v.parse().ok(),
            _ => {}
        }
    }
    Some(ExportMark {
        origin: origin?,
        disclosure: disclosure?,
    })
}

fn rows_of(text: &str, leak: &mut Leak) -> Vec<Row> {
    let trimmed = text.trim_start();
    // A JSON export: one object with the mark and the records.
    if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(text)
        && o.contains_key(JSON_MARK)
    {
        leak.format = "json-export";
        leak.mark = o
            .get(JSON_MARK)
            .and_then(|m| serde_json::from_value::<ExportMark>(m.clone()).ok());
        if leak.mark.is_none() {
            leak.issue(0, JSON_MARK, "the export mark does not read (origin, disclosure)");
        }
        let mut rows = Vec::new();
        match o.get("records").and_then(|r| r.as_array()) {
            Some(recs) => {
                for (i, r) in recs.iter().enumerate() {
                    match r.as_object() {
                        Some(obj) => rows.push(json_row(i as u64 + 1, obj, leak)),
                        None => leak.issue(i as u64 + 1, "line", "not a JSON object"),
                    }
                }
            }
            None => leak.issue(0, "records", "the export holds no records array"),
        }
        return rows;
    }
    if trimmed.starts_with('{') {
        leak.format = "jsonl";
        let mut rows = Vec::new();
        for (i, l) in text.lines().enumerate() {
            let no = i as u64 + 1;
            if l.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(serde_json::Value::Object(obj)) => rows.push(json_row(no, &obj, leak)),
                Ok(_) => leak.issue(no, "line", "not a JSON object"),
                Err(e) => leak.issue(no, "line", format!("not JSON (column {})", e.column())),
            }
        }
        return rows;
    }
    leak.format = "csv";
    // Leading `#` lines: the export mark, or comments.
    let mut offset = 0;
    let mut line = 1u64;
    for l in text.split_inclusive('\n') {
        if !l.trim_start().starts_with('#') {
            break;
        }
        if let Some(m) = parse_csv_mark(l) {
            leak.format = "csv-export";
            leak.mark = Some(m);
        }
        offset += l.len();
        line += 1;
    }
    let mut records = csv_records(&text[offset..], line).into_iter();
    let header = loop {
        match records.next() {
            None => return Vec::new(),
            Some(Ok((_, h))) => break h,
            Some(Err(l)) => leak.issue(l, "line", "unterminated quoted field"),
        }
    };
    let mut rows = Vec::new();
    for r in records {
        match r {
            Err(l) => leak.issue(l, "line", "unterminated quoted field"),
            Ok((no, fields)) if fields.len() != header.len() => leak.issue(
                no,
                "line",
                format!("{} cells where the header has {}", fields.len(), header.len()),
            ),
            Ok((no, fields)) => {
                let cells: Vec<(String, String)> = header.iter().cloned().zip(fields).collect();
                let class = cells
                    .iter()
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("class"))
                    .map(|(_, v)| v.trim().to_string());
                rows.push(Row { line: no, cells, class });
            }
        }
    }
    rows
}

/// Parses a leak file against the catalogue.
pub(crate) fn parse_leak(bytes: &[u8], catalog: &Catalog) -> Result<Leak> {
    if bytes.len() > MAX_LEAK_BYTES {
        return Err(EngineError::invalid(
            "leak file",
            format!("it is over {} MiB; split it", MAX_LEAK_BYTES >> 20),
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| {
            EngineError::invalid(
                "leak file",
                format!("not UTF-8 (at byte {}); convert it first", e.valid_up_to()),
            )
        })?
        .trim_start_matches('\u{feff}');
    let mut leak = Leak::default();
    let rows = rows_of(text, &mut leak);
    let mut cols: HashMap<String, Col> = HashMap::new();
    for row in rows {
        leak.rows += 1;
        let subject_cell = row
            .cells
            .iter()
            .find(|(k, _)| SUBJECT_COLUMNS.contains(&k.trim().to_lowercase().as_str()));
        let subject = match subject_cell {
            Some((k, v)) => match SubjectId::parse(&canonical(&FieldType::SubjectId, v).unwrap_or_default()) {
                Ok(s) => s,
                Err(_) => {
                    leak.issue(row.line, k, "not a valid subject id (wrong length or check digit)");
                    continue;
                }
            },
            None => match row
                .cells
                .iter()
                .find_map(|(_, v)| canonical(&FieldType::SubjectId, v).and_then(|c| SubjectId::parse(&c).ok()))
            {
                Some(s) => s,
                None => {
                    leak.issue(row.line, "line", "no subject id found");
                    continue;
                }
            },
        };
        for (k, v) in &row.cells {
            if v.trim().is_empty() {
                continue;
            }
            let col = cols.entry(k.clone()).or_insert_with(|| resolve(k, catalog)).clone();
            let fields = match col {
                Col::Skip => continue,
                Col::Unknown => {
                    if leak.unknown_columns.len() < MAX_ISSUES {
                        leak.unknown_columns.insert(k.trim().chars().take(64).collect());
                    }
                    continue;
                }
                Col::Field(f) => f,
            };
            // A row that names its class narrows a bare field name to that class.
            let narrowed: Vec<_> = match &row.class {
                Some(c) if fields.iter().any(|(fc, _, _)| fc == c) => {
                    fields.into_iter().filter(|(fc, _, _)| fc == c).collect()
                }
                _ => fields,
            };
            let candidates: Vec<(String, String, String)> = narrowed
                .iter()
                .filter_map(|(c, f, ty)| canonical(ty, v).map(|cv| (c.clone(), f.clone(), cv)))
                .collect();
            if candidates.is_empty() {
                let types: BTreeSet<String> = narrowed.iter().map(|(_, _, t)| type_name(t).to_string()).collect();
                leak.issue(
                    row.line,
                    k,
                    format!(
                        "the value does not read as {}",
                        types.into_iter().collect::<Vec<_>>().join(" or ")
                    ),
                );
                continue;
            }
            leak.items.push(LeakItem {
                subject: subject.clone(),
                candidates,
            });
        }
    }
    leak.issues.sort_by_key(|i| i.line);
    Ok(leak)
}

fn type_name(t: &FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Integer => "an integer",
        FieldType::Amount => "an amount",
        FieldType::Date => "a date",
        FieldType::Bool => "a boolean",
        FieldType::Enum => "one of its values",
        FieldType::SubjectId => "a subject id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_newlines_and_line_numbers() {
        let recs = csv_records("a,b\n\"x,1\",\"he said \"\"hi\"\"\"\n\n\"multi\nline\",2\r\n3,4", 1);
        let ok: Vec<_> = recs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(ok[0], (1, vec!["a".to_string(), "b".into()]));
        assert_eq!(ok[1], (2, vec!["x,1".to_string(), "he said \"hi\"".into()]));
        assert_eq!(ok[2], (4, vec!["multi\nline".to_string(), "2".into()]));
        assert_eq!(ok[3], (6, vec!["3".to_string(), "4".into()]));
        assert_eq!(csv_records("a\n\"open,b\n", 1).last(), Some(&Err(2)));
    }

    #[test]
    fn csv_mark_reads_back() {
        assert_eq!(
            parse_csv_mark("# credseal-export format=1 origin=x.invalid/log disclosure=42 query=00"),
            Some(ExportMark {
                origin: "x.invalid/log".into(),
                disclosure: 42
            })
        );
        assert_eq!(parse_csv_mark("# credseal-export format=1 origin=x"), None);
    }
}
