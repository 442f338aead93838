//! `open --export FILE`: a department's client writes the records of an answer as CSV or
//! JSON, marked with the disclosure id (the receipt's log index and the platform's origin),
//! so that `trace` names the disclosure straight from a leaked copy. Formats:
//! `docs/formats.md`, "Export marks".

use std::collections::BTreeSet;
use std::path::Path;

use credseal_engine::{AnswerBody, CSV_MARK, ErrorClass, JSON_MARK, fsutil};

use crate::{CliResult, Failure};

/// A cell a spreadsheet would run as a formula (a leading `=`, `+`, `-`, `@`, tab or
/// carriage return; OWASP "CSV injection") gets a `'` in front, unless it is a plain
/// number such as `-12.50`; `trace` takes the guard off again. A value that already starts
/// with `'` and such a character gets a second `'`.
fn neutralised(s: &str) -> std::borrow::Cow<'_, str> {
    let number = |t: &str| {
        let t = t.strip_prefix(['+', '-']).unwrap_or(t);
        let (int, frac) = t.split_once('.').unwrap_or((t, "0"));
        !int.is_empty() && !frac.is_empty() && (int.bytes().chain(frac.bytes())).all(|b| b.is_ascii_digit())
    };
    let formula = |t: &str| t.starts_with(['=', '+', '-', '@', '\t', '\r']);
    // A value that already looks guarded is guarded too, so that taking one `'` off gives it back.
    if formula(s) && !number(s) || s.strip_prefix('\'').is_some_and(formula) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn csv_cell(s: &str) -> String {
    let s = &*neutralised(s);
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) || s.trim() != s {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The export bytes: CSV for a `.csv` file, JSON for `.json`.
pub fn render(path: &Path, body: &AnswerBody, index: u64) -> CliResult<Vec<u8>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let query = credseal_core::hex(&body.query_id);
    match ext.as_str() {
        "csv" => {
            let columns: BTreeSet<String> = body
                .records
                .iter()
                .flat_map(|r| r.fields.keys().map(move |f| format!("{}.{f}", r.class)))
                .collect();
            let mut out = format!(
                "{CSV_MARK} format=1 origin={} disclosure={index} query={query}\n",
                body.origin
            );
            let mut header = vec!["subject", "class", "record_id", "version", "effective"];
            header.extend(columns.iter().map(String::as_str));
            out.push_str(&header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(","));
            out.push('\n');
            for r in &body.records {
                let mut cells = vec![
                    csv_cell(r.subject.as_str()),
                    csv_cell(&r.class),
                    csv_cell(&r.record_id),
                    r.version.to_string(),
                    r.effective.to_string(),
                ];
                for c in &columns {
                    let v = c
                        .strip_prefix(&format!("{}.", r.class))
                        .and_then(|f| r.fields.get(f))
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    cells.push(if v.is_empty() { String::new() } else { csv_cell(&v) });
                }
                out.push_str(&cells.join(","));
                out.push('\n');
            }
            Ok(out.into_bytes())
        }
        "json" => {
            let doc = serde_json::json!({
                JSON_MARK: {
                    "format": 1,
                    "origin": body.origin,
                    "disclosure": index,
                    "query": query,
                    "department": body.department_id,
                    "purpose": body.purpose,
                },
                "records": body.records.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
            });
            // Cannot fail: a serde_json::Value always serialises.
            let mut v = serde_json::to_vec_pretty(&doc).expect("serialisable");
            v.push(b'\n');
            Ok(v)
        }
        _ => Err(Failure::new(
            ErrorClass::Usage,
            format!("--export {}: the file name must end in .csv or .json", path.display()),
        )),
    }
}

/// Writes the export (mode 0600: it holds credit data; an existing file is never replaced).
pub fn write(path: &Path, body: &AnswerBody, index: u64) -> CliResult<usize> {
    let bytes = render(path, body, index)?;
    fsutil::write_new(path, &bytes, 0o600)?;
    Ok(body.records.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("-A1"), "'-A1");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("-12.50"), "-12.50");
        assert_eq!(csv_cell("+7"), "+7");
        assert_eq!(csv_cell("a=b"), "a=b");
        assert_eq!(csv_cell("'=already"), "''=already");
        assert_eq!(csv_cell("'plain"), "'plain");
    }
}
