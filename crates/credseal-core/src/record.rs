//! The record model and the check of one ingest line against the catalogue.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, FieldType};
use crate::date::Date;
use crate::id::SubjectId;

/// Longest record id, in bytes.
pub const MAX_RECORD_ID_LEN: usize = 128;
/// Default longest text value, in characters, when the catalogue sets none.
pub const DEFAULT_MAX_TEXT: usize = 4096;

/// A money amount in minor units (fen/cents), two decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Amount(pub i64);

impl Amount {
    /// Parses `-1234`, `1234.5`, `1234.50` (at most two decimals, no exponent).
    pub fn parse(s: &str) -> Option<Self> {
        let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || int.len() > 15 || frac.len() > 2 || (s.contains('.') && frac.is_empty()) {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut v: i64 = int.parse().ok()?;
        let f: i64 = format!("{frac:0<2}").parse().ok()?;
        v = v.checked_mul(100)?.checked_add(f)?;
        Some(Self(if neg { -v } else { v }))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// A typed field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldValue {
    /// Text (also enum values).
    Text(String),
    /// An integer.
    Integer(i64),
    /// A money amount.
    Amount(Amount),
    /// A date.
    Date(Date),
    /// A boolean.
    Bool(bool),
    /// A subject id.
    SubjectId(SubjectId),
}

impl FieldValue {
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Text(s) => Value::String(s.clone()),
            Self::Integer(i) => Value::from(*i),
            Self::Amount(a) => Value::String(a.to_string()),
            Self::Date(d) => Value::String(d.to_string()),
            Self::Bool(b) => Value::Bool(*b),
            Self::SubjectId(s) => Value::String(s.to_string()),
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            Self::Integer(i) => write!(f, "{i}"),
            Self::Amount(a) => write!(f, "{a}"),
            Self::Date(d) => write!(f, "{d}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::SubjectId(s) => write!(f, "{s}"),
        }
    }
}

/// A credit record. Records are immutable: a correction is a new `version` of the same
/// `record_id` that names the version it `supersedes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Id given by the source department, unique within the class.
    pub record_id: String,
    /// Whom the record is about.
    pub subject: SubjectId,
    /// Class id from the catalogue.
    pub class: String,
    /// The department that supplied it.
    pub source: String,
    /// The date from which the record holds.
    pub effective: Date,
    /// 1 for the first version, higher for corrections.
    pub version: u32,
    /// The version this one corrects.
    pub supersedes: Option<u32>,
    /// Field values by field name.
    pub fields: BTreeMap<String, FieldValue>,
}

/// One problem found in an ingest line: where (`field`, a dotted path) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RecordIssue {
    /// Dotted path of the offending value, e.g. `fields.amount`.
    pub field: String,
    /// What is wrong. Never contains the offending value (it may be personal data).
    pub message: String,
}

fn issue(field: impl Into<String>, message: impl Into<String>) -> RecordIssue {
    RecordIssue {
        field: field.into(),
        message: message.into(),
    }
}

fn valid_record_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_RECORD_ID_LEN
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._:/-".contains(&c))
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Record {
    /// Checks one parsed ingest line against the catalogue and builds the record.
    /// Returns every problem found in the line, not only the first.
    pub fn from_json(v: &serde_json::Value, catalog: &Catalog) -> Result<Self, Vec<RecordIssue>> {
        use serde_json::Value;
        let mut issues = Vec::new();
        let Value::Object(obj) = v else {
            return Err(vec![issue(
                "line",
                format!("expected a JSON object, found {}", json_kind(v)),
            )]);
        };
        const KEYS: [&str; 8] = [
            "record_id",
            "subject",
            "class",
            "source",
            "effective",
            "version",
            "supersedes",
            "fields",
        ];
        for k in obj.keys() {
            if !KEYS.contains(&k.as_str()) {
                issues.push(issue(
                    k.clone(),
                    "unknown key (expected record_id, subject, class, source, effective, version, supersedes, fields)",
                ));
            }
        }
        let text = |issues: &mut Vec<RecordIssue>, k: &str| -> Option<String> {
            match obj.get(k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    issues.push(issue(k, format!("expected a string, found {}", json_kind(other))));
                    None
                }
                None => {
                    issues.push(issue(k, "missing"));
                    None
                }
            }
        };
        let record_id = text(&mut issues, "record_id").filter(|s| {
            let ok = valid_record_id(s);
            if !ok {
                issues.push(issue(
                    "record_id",
                    format!("must be 1-{MAX_RECORD_ID_LEN} characters of A-Z a-z 0-9 . _ : / -"),
                ));
            }
            ok
        });
        let subject = text(&mut issues, "subject").and_then(|s| {
            SubjectId::parse(&s)
                .map_err(|e| issues.push(issue("subject", e.to_string())))
                .ok()
        });
        let source = text(&mut issues, "source").filter(|s| {
            let ok = crate::catalog::valid_id(s);
            if !ok {
                issues.push(issue(
                    "source",
                    "not a valid department id (lower-case letters, digits, '-')",
                ));
            }
            ok
        });
        let effective = text(&mut issues, "effective").and_then(|s| {
            Date::parse(&s)
                .map_err(|e| issues.push(issue("effective", e.to_string())))
                .ok()
        });
        let version = match obj.get("version") {
            None => Some(1),
            Some(Value::Number(n)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|&n| n >= 1) {
                Some(n) => Some(n),
                None => {
                    issues.push(issue("version", "must be an integer from 1 to 4294967295"));
                    None
                }
            },
            Some(other) => {
                issues.push(issue(
                    "version",
                    format!("expected an integer, found {}", json_kind(other)),
                ));
                None
            }
        };
        let supersedes = match obj.get("supersedes") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                let s = n.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|&n| n >= 1);
                match (s, version) {
                    (Some(s), Some(v)) if s < v => Some(s),
                    _ => {
                        issues.push(issue(
                            "supersedes",
                            "must be an earlier version number of the same record",
                        ));
                        None
                    }
                }
            }
            Some(other) => {
                issues.push(issue(
                    "supersedes",
                    format!("expected an integer, found {}", json_kind(other)),
                ));
                None
            }
        };
        let class_id = text(&mut issues, "class");
        let class = class_id.as_deref().and_then(|c| {
            let def = catalog.class(c);
            if def.is_none() {
                issues.push(issue("class", "unknown class (not in the catalogue)"));
            }
            def
        });
        let mut fields = BTreeMap::new();
        match (obj.get("fields"), class) {
            (None, _) => issues.push(issue("fields", "missing")),
            (Some(Value::Object(fv)), Some(class)) => {
                for name in fv.keys() {
                    if class.field(name).is_none() {
                        issues.push(issue(
                            format!("fields.{name}"),
                            format!("unknown field for class {:?}", class.id),
                        ));
                    }
                }
                for def in &class.fields {
                    let path = format!("fields.{}", def.name);
                    let Some(raw) = fv.get(&def.name).filter(|v| !v.is_null()) else {
                        if def.required {
                            issues.push(issue(path, "missing (required by the catalogue)"));
                        }
                        continue;
                    };
                    match field_value(raw, def) {
                        Ok(v) => {
                            fields.insert(def.name.clone(), v);
                        }
                        Err(m) => issues.push(issue(path, m)),
                    }
                }
            }
            (Some(Value::Object(_)), None) => {} // class error already reported
            (Some(other), _) => issues.push(issue(
                "fields",
                format!("expected an object, found {}", json_kind(other)),
            )),
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        // Every Option below is Some: a None always pushed an issue above.
        match (record_id, subject, class_id, source, effective, version) {
            (Some(record_id), Some(subject), Some(class), Some(source), Some(effective), Some(version)) => Ok(Self {
                record_id,
                subject,
                class,
                source,
                effective,
                version,
                supersedes,
                fields,
            }),
            _ => Err(vec![issue("line", "incomplete record")]),
        }
    }

    /// The record as one JSON object, the same shape `from_json` reads.
    pub fn to_json(&self) -> serde_json::Value {
        let fields: serde_json::Map<String, serde_json::Value> =
            self.fields.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
        let mut m = serde_json::Map::new();
        m.insert("record_id".into(), self.record_id.clone().into());
        m.insert("subject".into(), self.subject.to_string().into());
        m.insert("class".into(), self.class.clone().into());
        m.insert("source".into(), self.source.clone().into());
        m.insert("effective".into(), self.effective.to_string().into());
        m.insert("version".into(), self.version.into());
        if let Some(s) = self.supersedes {
            m.insert("supersedes".into(), s.into());
        }
        m.insert("fields".into(), fields.into());
        m.into()
    }
}

fn field_value(v: &serde_json::Value, def: &crate::catalog::FieldDef) -> Result<FieldValue, String> {
    use serde_json::Value;
    let want = |what: &str| format!("expected {what}, found {}", json_kind(v));
    Ok(match (&def.ty, v) {
        (FieldType::Text, Value::String(s)) => {
            let max = def.max_len.map_or(DEFAULT_MAX_TEXT, |m| m as usize);
            if s.trim().is_empty() {
                return Err("empty text".into());
            }
            if s.chars().count() > max {
                return Err(format!("longer than {max} characters"));
            }
            if s.chars().any(|c| c.is_control()) {
                return Err("contains control characters".into());
            }
            FieldValue::Text(s.clone())
        }
        (FieldType::Text, _) => return Err(want("a string")),
        (FieldType::Integer, Value::Number(n)) => FieldValue::Integer(n.as_i64().ok_or("expected an integer")?),
        (FieldType::Integer, _) => return Err(want("an integer")),
        (FieldType::Amount, Value::Number(n)) => {
            FieldValue::Amount(Amount::parse(&n.to_string()).ok_or("not an amount with at most two decimals")?)
        }
        (FieldType::Amount, Value::String(s)) => {
            FieldValue::Amount(Amount::parse(s.trim()).ok_or("not an amount with at most two decimals")?)
        }
        (FieldType::Amount, _) => return Err(want("an amount")),
        (FieldType::Date, Value::String(s)) => FieldValue::Date(Date::parse(s).map_err(|e| e.to_string())?),
        (FieldType::Date, _) => return Err(want("a date string")),
        (FieldType::Bool, Value::Bool(b)) => FieldValue::Bool(*b),
        (FieldType::Bool, _) => return Err(want("true or false")),
        (FieldType::Enum, Value::String(s)) => {
            if !def.values.contains(s) {
                return Err(format!("not one of the allowed values ({})", def.values.join(", ")));
            }
            FieldValue::Text(s.clone())
        }
        (FieldType::Enum, _) => return Err(want("a string")),
        (FieldType::SubjectId, Value::String(s)) => {
            FieldValue::SubjectId(SubjectId::parse(s).map_err(|e| e.to_string())?)
        }
        (FieldType::SubjectId, _) => return Err(want("a subject id string")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::parse(
            r#"format = 1
[[purpose]]
id = "loan-approval"
title = "Loan approval"
[[class]]
id = "loans"
title = "Loans"
sensitivity = "high"
consent_required = true
retention = "5y"
purposes = ["loan-approval"]
[[class.field]]
name = "lender"
type = "text"
[[class.field]]
name = "amount"
type = "amount"
[[class.field]]
name = "opened"
type = "date"
[[class.field]]
name = "overdue"
type = "bool"
[[class.field]]
name = "note"
type = "text"
required = false
"#,
            None,
        )
        .unwrap()
    }

    fn line(s: &str) -> Result<Record, Vec<RecordIssue>> {
        Record::from_json(&serde_json::from_str(s).unwrap(), &catalog())
    }

    const OK: &str = r#"{"record_id":"LN-1","subject":"11010519491231002x","class":"loans","source":"bank-a","effective":"2024-01-02","fields":{"lender":"Bank A","amount":"1200.5","opened":"2024-01-02","overdue":false}}"#;

    #[test]
    fn good_line() {
        let r = line(OK).unwrap();
        assert_eq!(r.subject.as_str(), "11010519491231002X");
        assert_eq!(r.fields["amount"], FieldValue::Amount(Amount(120_050)));
        assert_eq!(r.version, 1);
        let back = Record::from_json(&r.to_json(), &catalog()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn every_issue_is_reported() {
        let bad = r#"{"record_id":"LN 1","subject":"110105194912310021","class":"loans","source":"bank-a","effective":"2024-02-30","extra":1,"fields":{"lender":"","amount":"12.345","opened":20240102,"colour":"red"}}"#;
        let issues = line(bad).unwrap_err();
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "extra",
                "record_id",
                "subject",
                "effective",
                "fields.colour",
                "fields.lender",
                "fields.amount",
                "fields.opened",
                "fields.overdue"
            ]
        );
        // No value from the line appears in the messages.
        for i in &issues {
            assert!(!i.to_string().contains("110105194912310021"));
            assert!(!i.to_string().contains("12.345"));
        }
    }

    #[test]
    fn unknown_class_and_wrong_shapes() {
        let i = line(r#"{"record_id":"A","subject":"91350100M000100Y43","class":"gossip","source":"x","effective":"2024-01-01","fields":{}}"#).unwrap_err();
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].field, "class");
        assert_eq!(line("[1,2]").unwrap_err()[0].field, "line");
        let i = line(&OK.replace("\"fields\":{", "\"version\":0,\"supersedes\":3,\"fields\":{")).unwrap_err();
        assert_eq!(
            i.iter().map(|i| i.field.as_str()).collect::<Vec<_>>(),
            ["version", "supersedes"]
        );
    }

    #[test]
    fn amounts() {
        assert_eq!(Amount::parse("0.05"), Some(Amount(5)));
        assert_eq!(Amount::parse("-3"), Some(Amount(-300)));
        for bad in ["", "1.", ".5", "1e3", "1.234", "12a", "--1", "9999999999999999"] {
            assert_eq!(Amount::parse(bad), None, "{bad}");
        }
        assert_eq!(Amount(-5).to_string(), "-0.05");
    }
}
