//! Reading leaked material for `trace`: JSON Lines, CSV, or a file exported by
//! `credseal open --export` (CSV or JSON with the disclosure id in its mark).
//!
//! Leaks are partial, noisy and reformatted: a line that cannot be read, a value that does
//! not read as its field's type or a column that names no catalogue field is reported (line
//! number, column name, reason — never the value) and the rest of the file is still traced.
//! Only a file with nothing usable at all is an error.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use credseal_core::{Catalog, FieldType, SubjectId, canonical};
use encoding_rs::{Encoding, GB18030, UTF_8};
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
    /// The text encoding it was read in (`UTF-8`, `gb18030`, …).
    pub encoding: &'static str,
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
fn json_row(
    line: u64,
    obj: &serde_json::Map<String, serde_json::Value>,
    leak: &mut Leak,
) -> (Vec<(String, String)>, Option<String>) {
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
    (cells, class)
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

/// A CSV cell as written: an export's formula guard (a `'` before a leading `=`, `+`, `-`,
/// `@`, tab or carriage return; see `credseal open --export`) is taken off again.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// Reads the rows of `text` into `leak`: a JSON export, JSON Lines, or CSV (RFC 4180 through
/// the `csv` crate: one pass, memory bounded by the longest record).
fn read_rows(text: &str, leak: &mut Leak, catalog: &Catalog) {
    let mut cols = Columns::default();
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
        match o.get("records").and_then(|r| r.as_array()) {
            Some(recs) => {
                for (i, r) in recs.iter().enumerate() {
                    let no = i as u64 + 1;
                    match r.as_object() {
                        Some(obj) => {
                            let (cells, class) = json_row(no, obj, leak);
                            let cells: Vec<(&str, &str)> =
                                cells.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                            add_row(leak, &mut cols, catalog, no, &cells, class.as_deref());
                        }
                        None => leak.issue(no, "line", "not a JSON object"),
                    }
                }
            }
            None => leak.issue(0, "records", "the export holds no records array"),
        }
        return;
    }
    if trimmed.starts_with('{') {
        leak.format = "jsonl";
        for (i, l) in text.lines().enumerate() {
            let no = i as u64 + 1;
            if l.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(l) {
                Ok(serde_json::Value::Object(obj)) => {
                    let (cells, class) = json_row(no, &obj, leak);
                    let cells: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    add_row(leak, &mut cols, catalog, no, &cells, class.as_deref());
                }
                Ok(_) => leak.issue(no, "line", "not a JSON object"),
                Err(e) => leak.issue(no, "line", format!("not JSON (column {})", e.column())),
            }
        }
        return;
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
    read_csv(&text[offset..], line - 1, leak, &mut cols, catalog);
}

/// The CSV records of `body` (whose first line is line `skipped + 1` of the file): the
/// first non-empty record is the header; each later one is a row of as many cells.
fn read_csv(body: &str, skipped: u64, leak: &mut Leak, cols: &mut Columns, catalog: &Catalog) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut header: Option<Vec<String>> = None;
    let mut record = csv::StringRecord::new();
    // Line numbers are counted here from byte offsets, once over the text: the `csv` crate's
    // own count leaves out blank lines.
    let (mut counted_to, mut line) = (0usize, 1u64);
    // A record's position is where the reader stood before it, ahead of any blank lines the
    // reader skipped: the record starts after them.
    let mut line_at = |byte: usize| {
        let mut byte = byte.clamp(counted_to, body.len());
        while matches!(body.as_bytes().get(byte), Some(b'\n' | b'\r')) {
            byte += 1;
        }
        line += memchr_count(&body.as_bytes()[counted_to..byte]);
        counted_to = byte;
        line + skipped
    };
    loop {
        let start = reader.position().clone();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let no = line_at(e.position().map_or(start.byte(), csv::Position::byte) as usize);
                leak.issue(no, "line", "not readable as CSV");
                continue;
            }
        }
        let no = line_at(record.position().map_or(start.byte(), csv::Position::byte) as usize);
        let end = reader.position().byte() as usize;
        // An opening quote the file never closes swallows the rest of the file into one
        // cell: the `csv` crate accepts that; a leak reader reports it.
        if end == body.len() && unterminated(&body[start.byte() as usize..end]) {
            leak.issue(no, "line", "unterminated quoted field");
            break;
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(h) = &header else {
            header = Some(record.iter().map(str::to_string).collect());
            continue;
        };
        if record.len() != h.len() {
            leak.issue(
                no,
                "line",
                format!("{} cells where the header has {}", record.len(), h.len()),
            );
            continue;
        }
        let cells: Vec<(&str, &str)> = h.iter().map(String::as_str).zip(record.iter().map(unguard)).collect();
        let class = cells
            .iter()
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("class"))
            .map(|(_, v)| v.trim());
        add_row(leak, cols, catalog, no, &cells, class);
    }
}

/// The newlines in `bytes`.
fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether `raw` (one record as it stands in the file) ends inside a quoted field. A quote
/// opens a quoted field only at the start of a field, as in the `csv` crate.
fn unterminated(raw: &str) -> bool {
    let mut quoted = false;
    let mut field_start = true;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        match c {
            '"' if field_start => quoted = true,
            ',' | '\n' | '\r' => {
                field_start = true;
                continue;
            }
            _ => {}
        }
        field_start = false;
    }
    quoted
}

/// What each column name is, resolved once per name.
#[derive(Default)]
struct Columns(HashMap<String, Col>);

impl Columns {
    fn get(&mut self, name: &str, catalog: &Catalog) -> &Col {
        if !self.0.contains_key(name) {
            self.0.insert(name.to_string(), resolve(name, catalog));
        }
        // Cannot fail: inserted just above when missing.
        self.0.get(name).expect("resolved column")
    }
}

/// One row's (column, value) cells: its subject, then every item it holds.
fn add_row(
    leak: &mut Leak,
    cols: &mut Columns,
    catalog: &Catalog,
    line: u64,
    cells: &[(&str, &str)],
    class: Option<&str>,
) {
    leak.rows += 1;
    let subject_cell = cells
        .iter()
        .find(|(k, _)| SUBJECT_COLUMNS.contains(&k.trim().to_lowercase().as_str()));
    let subject = match subject_cell {
        Some((k, v)) => match SubjectId::parse(&canonical(&FieldType::SubjectId, v).unwrap_or_default()) {
            Ok(s) => s,
            Err(_) => {
                leak.issue(line, k, "not a valid subject id (wrong length or check digit)");
                return;
            }
        },
        None => match cells
            .iter()
            .find_map(|(_, v)| canonical(&FieldType::SubjectId, v).and_then(|c| SubjectId::parse(&c).ok()))
        {
            Some(s) => s,
            None => {
                leak.issue(line, "line", "no subject id found");
                return;
            }
        },
    };
    for (k, v) in cells {
        if v.trim().is_empty() {
            continue;
        }
        let fields = match cols.get(k, catalog) {
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
        let narrowed: Vec<&(String, String, FieldType)> = match class {
            Some(c) if fields.iter().any(|(fc, _, _)| fc == c) => fields.iter().filter(|(fc, _, _)| fc == c).collect(),
            _ => fields.iter().collect(),
        };
        let candidates: Vec<(String, String, String)> = narrowed
            .iter()
            .filter_map(|(c, f, ty)| canonical(ty, v).map(|cv| (c.clone(), f.clone(), cv)))
            .collect();
        if candidates.is_empty() {
            let types: BTreeSet<&str> = narrowed.iter().map(|(_, _, t)| type_name(t)).collect();
            leak.issue(
                line,
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

/// The text of a leak file: in `chosen` (a WHATWG label such as `gb18030`, `big5`,
/// `shift_jis`, `utf-16le`), else in the encoding its byte-order mark names, else UTF-8 if it
/// is valid UTF-8, else GB18030 (which every byte string that is not UTF-8 in a Chinese leak
/// most often is). Returns the text and the encoding's name.
fn decode<'a>(bytes: &'a [u8], chosen: Option<&str>) -> Result<(Cow<'a, str>, &'static str)> {
    let bad = |why: String| EngineError::invalid("leak file", why);
    let (encoding, body) = match chosen {
        Some(label) => {
            let e = Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
                bad(format!(
                    "encoding {label:?} is not a known label (utf-8, gb18030, gbk, big5, shift_jis, euc-kr, utf-16le, …)"
                ))
            })?;
            // The byte-order mark of the chosen encoding is not text.
            match Encoding::for_bom(bytes) {
                Some((b, n)) if b == e => (e, &bytes[n..]),
                _ => (e, bytes),
            }
        }
        None => match Encoding::for_bom(bytes) {
            Some((e, n)) => (e, &bytes[n..]),
            None => match std::str::from_utf8(bytes) {
                Ok(s) => return Ok((Cow::Borrowed(s), UTF_8.name())),
                Err(_) => (GB18030, bytes),
            },
        },
    };
    if encoding == UTF_8 {
        return std::str::from_utf8(body)
            .map(|s| (Cow::Borrowed(s), UTF_8.name()))
            .map_err(|e| {
                bad(format!(
                    "not UTF-8 (at byte {}); give its encoding with --encoding",
                    e.valid_up_to()
                ))
            });
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let cap = decoder
        .max_utf8_buffer_length_without_replacement(body.len())
        .ok_or_else(|| bad("too large to decode".into()))?;
    let mut out = String::with_capacity(cap);
    let (result, read) = decoder.decode_to_string_without_replacement(body, &mut out, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok((Cow::Owned(out), encoding.name())),
        encoding_rs::DecoderResult::Malformed(bad_len, extra) => {
            let at = read - usize::from(bad_len) - usize::from(extra) + (bytes.len() - body.len());
            Err(bad(format!(
                "not valid {} text (at byte {at}); give its encoding with --encoding",
                encoding.name()
            )))
        }
        // The buffer was sized for the worst case above.
        encoding_rs::DecoderResult::OutputFull => Err(bad("the decoded text outgrew its buffer".into())),
    }
}

/// Parses a leak file against the catalogue, in the encoding detected (see [`decode`]).
#[cfg(any(test, fuzzing))]
pub(crate) fn parse_leak(bytes: &[u8], catalog: &Catalog) -> Result<Leak> {
    parse_leak_in(bytes, None, catalog)
}

/// Parses a leak file against the catalogue; `encoding` as [`decode`] takes it.
pub(crate) fn parse_leak_in(bytes: &[u8], encoding: Option<&str>, catalog: &Catalog) -> Result<Leak> {
    if bytes.len() > MAX_LEAK_BYTES {
        return Err(EngineError::invalid(
            "leak file",
            format!("it is over {} MiB; split it", MAX_LEAK_BYTES >> 20),
        ));
    }
    let (text, encoding) = decode(bytes, encoding)?;
    let text = text.trim_start_matches('\u{feff}');
    let mut leak = Leak {
        encoding,
        ..Leak::default()
    };
    read_rows(text, &mut leak, catalog);
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

    const SUBJECT: &str = "42010619960510907X";

    fn catalog() -> Catalog {
        Catalog::parse(include_str!("../../../keys-example/catalog.toml"), None).unwrap()
    }

    fn issues(leak: &Leak) -> Vec<(u64, String, String)> {
        leak.issues
            .iter()
            .map(|i| (i.line, i.column.clone(), i.message.clone()))
            .collect()
    }

    #[test]
    fn csv_quotes_newlines_and_line_numbers() {
        let text = format!(
            "subject,name\n\"x,1\",\"he said \"\"hi\"\"\"\n\n\"multi\nline\",2\r\n3,4,5\n{SUBJECT},\"林 \"\"振华\"\"\"\n"
        );
        let leak = parse_leak(text.as_bytes(), &catalog()).unwrap();
        assert_eq!(leak.format, "csv");
        assert_eq!(leak.rows, 3);
        assert_eq!(
            issues(&leak),
            vec![
                (
                    2,
                    "subject".into(),
                    "not a valid subject id (wrong length or check digit)".into()
                ),
                (
                    4,
                    "subject".into(),
                    "not a valid subject id (wrong length or check digit)".into()
                ),
                (6, "line".into(), "3 cells where the header has 2".into()),
            ]
        );
        assert_eq!(leak.items.len(), 1);
        assert_eq!(leak.items[0].candidates[0].2, "林 \"振华\"");
    }

    #[test]
    fn csv_unterminated_quote_is_reported_at_its_line() {
        let text = format!("subject,name\n{SUBJECT},ok\n{SUBJECT},\"open\nmore,lines\n");
        let leak = parse_leak(text.as_bytes(), &catalog()).unwrap();
        assert_eq!(leak.items.len(), 1);
        assert_eq!(
            issues(&leak),
            vec![(3, "line".into(), "unterminated quoted field".into())]
        );
        // A quote inside an unquoted cell opens nothing.
        assert!(!unterminated("a,b\"c,d\n"));
        assert!(unterminated("a,\"b\"\"c,d\n"));
        assert!(!unterminated("a,\"b\"\"\",d\n"));
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

    #[test]
    fn csv_export_line_numbers_count_the_mark() {
        let text = format!("# credseal-export format=1 origin=o disclosure=3 query=00\nsubject,name\n{SUBJECT}\n");
        let leak = parse_leak(text.as_bytes(), &catalog()).unwrap();
        assert_eq!(leak.format, "csv-export");
        assert_eq!(
            issues(&leak),
            vec![(3, "line".into(), "1 cells where the header has 2".into())]
        );
    }

    #[test]
    fn formula_guard_is_taken_off() {
        assert_eq!(unguard("'=HYPERLINK(\"x\")"), "=HYPERLINK(\"x\")");
        assert_eq!(unguard("'-12"), "-12");
        assert_eq!(unguard("'quoted"), "'quoted");
        let text = format!("subject,name\n{SUBJECT},'=1+1\n");
        let leak = parse_leak(text.as_bytes(), &catalog()).unwrap();
        assert_eq!(leak.items[0].candidates[0].2, "=1+1");
    }

    #[test]
    fn gb18030_is_detected_and_utf16_read_by_its_mark() {
        let text = format!("证件号码,name\n{SUBJECT},林振华\n");
        let (gb, _, bad) = GB18030.encode(&text);
        assert!(!bad);
        assert!(std::str::from_utf8(&gb).is_err());
        let leak = parse_leak(&gb, &catalog()).unwrap();
        assert_eq!((leak.encoding, leak.items.len()), ("gb18030", 1));
        assert_eq!(leak.items[0].candidates[0].2, "林振华");

        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let leak = parse_leak(&utf16, &catalog()).unwrap();
        assert_eq!((leak.encoding, leak.items.len()), ("UTF-16LE", 1));

        // Chosen: Big5 text read as Big5.
        let traditional = format!("subject,name\n{SUBJECT},林振華\n");
        let (big5, _, bad) = encoding_rs::BIG5.encode(&traditional);
        assert!(!bad);
        let leak = parse_leak_in(&big5, Some("big5"), &catalog()).unwrap();
        assert_eq!(leak.items[0].candidates[0].2, "林振華");
    }

    #[test]
    fn undecodable_text_names_the_byte_and_the_encoding() {
        let mut bytes = format!("subject,name\n{SUBJECT},x").into_bytes();
        let at = bytes.len();
        bytes.push(0xff);
        let e = parse_leak_in(&bytes, Some("utf-8"), &catalog())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("not UTF-8 (at byte {at})")), "{e}");
        let e = parse_leak_in(&bytes, Some("gb18030"), &catalog())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("not valid gb18030 text (at byte {at})")), "{e}");
        let e = parse_leak_in(&bytes, Some("klingon"), &catalog())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"klingon\" is not a known label"), "{e}");
    }

    /// A leak file of `target` bytes: a header and rows of valid items.
    fn big_leak(target: usize) -> Vec<u8> {
        let mut out = String::from("subject,name,registered_address,gender\n");
        let row = format!("{SUBJECT},林振华,\"湖北省武汉市武昌区武珞路293号1幢903室, \"\"东\"\"\",male\n");
        while out.len() + row.len() <= target {
            out.push_str(&row);
        }
        out.into_bytes()
    }

    #[test]
    fn parse_time_is_linear_in_rows() {
        // Not a timing assertion: the work is counted. Every row is read once and yields its
        // items, at 1 and 8 times the size.
        let small = parse_leak(&big_leak(64 << 10), &catalog()).unwrap();
        let large = parse_leak(&big_leak(512 << 10), &catalog()).unwrap();
        assert_eq!(small.items.len() as u64, small.rows * 3);
        assert_eq!(large.items.len() as u64, large.rows * 3);
        assert!(large.rows >= small.rows * 7);
    }

    /// `cargo test -p credseal-engine --release --lib leak_64_mib -- --ignored --nocapture`:
    /// reads a 64 MiB CSV leak file and prints the time and the peak memory of the process.
    #[test]
    #[ignore = "a measurement: run it by name"]
    fn leak_64_mib() {
        let bytes = big_leak(MAX_LEAK_BYTES);
        let cat = catalog();
        let t = std::time::Instant::now();
        let leak = parse_leak(&bytes, &cat).unwrap();
        let took = t.elapsed();
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let hwm = status.lines().find(|l| l.starts_with("VmHWM")).unwrap_or("VmHWM: ?");
        println!(
            "leak file {} MiB: {} rows, {} items in {:.2} s; peak {hwm}",
            bytes.len() >> 20,
            leak.rows,
            leak.items.len(),
            took.as_secs_f64()
        );
    }
}
