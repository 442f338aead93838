//! The record model and the check of one ingest line against the catalogue.

use std::borrow::Cow;
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
        // The cents, as if `frac` were padded with zeros to two digits.
        let digit = |i: usize| frac.as_bytes().get(i).map_or(0, |c| i64::from(c - b'0'));
        let f = digit(0) * 10 + digit(1);
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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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

// `Record` and `FieldValue` serialize exactly as `#[derive(Serialize)]` would (the tests
// compare them with derived twins), except that dates are written with `serialize_str`
// instead of `Date`'s `collect_str`: the same output, without formatting each date twice
// through `core::fmt` (ingest serializes every record twice).

/// A date as `serialize_str` of its `YYYY-MM-DD` text.
struct DateText(Date);

impl Serialize for DateText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (y, m, d) = self.0.ymd();
        if y > 9999 {
            // Not a valid Date; keep Display's text.
            return s.collect_str(&self.0);
        }
        let digit = |n: u16| b'0' + (n % 10) as u8;
        let (m, d) = (u16::from(m), u16::from(d));
        let b = [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ];
        // Cannot fail: every byte above is an ASCII digit or '-'.
        s.serialize_str(std::str::from_utf8(&b).expect("ASCII digits"))
    }
}

impl Serialize for FieldValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const N: &str = "FieldValue";
        match self {
            Self::Text(v) => s.serialize_newtype_variant(N, 0, "Text", v),
            Self::Integer(v) => s.serialize_newtype_variant(N, 1, "Integer", v),
            Self::Amount(v) => s.serialize_newtype_variant(N, 2, "Amount", v),
            Self::Date(v) => s.serialize_newtype_variant(N, 3, "Date", &DateText(*v)),
            Self::Bool(v) => s.serialize_newtype_variant(N, 4, "Bool", v),
            Self::SubjectId(v) => s.serialize_newtype_variant(N, 5, "SubjectId", v),
        }
    }
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Record", 8)?;
        st.serialize_field("record_id", &self.record_id)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("class", &self.class)?;
        st.serialize_field("source", &self.source)?;
        st.serialize_field("effective", &DateText(self.effective))?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("supersedes", &self.supersedes)?;
        st.serialize_field("fields", &self.fields)?;
        st.end()
    }
}

/// A valid ingest line's record without the record: it borrows the line and the catalogue,
/// and serializes exactly as the [`Record`] it stands for. From [`Record::view_json_line`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    record_id: Cow<'a, str>,
    subject: SubjectId,
    class: Cow<'a, str>,
    source: Cow<'a, str>,
    effective: Date,
    version: u32,
    supersedes: Option<u32>,
    /// By name, as in the record's map.
    fields: Vec<(&'a str, FieldRef<'a>)>,
}

/// A field value of a [`RecordView`]: a [`FieldValue`] whose text may be borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FieldRef<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Amount(Amount),
    Date(Date),
    Bool(bool),
    SubjectId(SubjectId),
}

impl RecordView<'_> {
    /// The subject.
    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    /// The record id.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The class id.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The version it corrects.
    pub fn supersedes(&self) -> Option<u32> {
        self.supersedes
    }

    /// The source department.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The date from which the record holds.
    pub fn effective(&self) -> Date {
        self.effective
    }

    /// The record.
    pub fn to_record(&self) -> Record {
        let fields = self
            .fields
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    FieldRef::Text(s) => FieldValue::Text(s.to_string()),
                    FieldRef::Integer(i) => FieldValue::Integer(*i),
                    FieldRef::Amount(a) => FieldValue::Amount(*a),
                    FieldRef::Date(d) => FieldValue::Date(*d),
                    FieldRef::Bool(b) => FieldValue::Bool(*b),
                    FieldRef::SubjectId(s) => FieldValue::SubjectId(s.clone()),
                };
                (k.to_string(), v)
            })
            .collect();
        Record {
            record_id: self.record_id.to_string(),
            subject: self.subject.clone(),
            class: self.class.to_string(),
            source: self.source.to_string(),
            effective: self.effective,
            version: self.version,
            supersedes: self.supersedes,
            fields,
        }
    }
}

impl Serialize for FieldRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const N: &str = "FieldValue";
        match self {
            Self::Text(v) => s.serialize_newtype_variant(N, 0, "Text", &**v),
            Self::Integer(v) => s.serialize_newtype_variant(N, 1, "Integer", v),
            Self::Amount(v) => s.serialize_newtype_variant(N, 2, "Amount", v),
            Self::Date(v) => s.serialize_newtype_variant(N, 3, "Date", &DateText(*v)),
            Self::Bool(v) => s.serialize_newtype_variant(N, 4, "Bool", v),
            Self::SubjectId(v) => s.serialize_newtype_variant(N, 5, "SubjectId", v),
        }
    }
}

/// The fields of a view, serialized as the record's map is (`collect_map` in key order).
struct FieldsOf<'v, 'a>(&'v [(&'a str, FieldRef<'a>)]);

impl Serialize for FieldsOf<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl Serialize for RecordView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Record", 8)?;
        st.serialize_field("record_id", &*self.record_id)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("class", &*self.class)?;
        st.serialize_field("source", &*self.source)?;
        st.serialize_field("effective", &DateText(self.effective))?;
        st.serialize_field("version", &self.version)?;
        st.serialize_field("supersedes", &self.supersedes)?;
        st.serialize_field("fields", &FieldsOf(&self.fields))?;
        st.end()
    }
}

/// What a record ciphertext holds (`docs/formats.md` §3): a record without its subject, class
/// and version. Those three name the record's place in the store and are bound to its
/// ciphertext (AAD and key commitment), so the ciphertext does not repeat them;
/// [`RecordBody::into_record`] puts them back. Encoded with postcard in this field order;
/// [`Record::body`] and [`RecordView::body`] serialize a record's body in the same form.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct RecordBody {
    /// Id given by the source department, unique within the class.
    pub record_id: String,
    /// The department that supplied it.
    pub source: String,
    /// The date from which the record holds.
    pub effective: Date,
    /// The version this one corrects.
    pub supersedes: Option<u32>,
    /// Field values by field name.
    pub fields: BTreeMap<String, FieldValue>,
}

impl RecordBody {
    /// The record, with the place it was stored at.
    pub fn into_record(self, subject: SubjectId, class: String, version: u32) -> Record {
        Record {
            record_id: self.record_id,
            subject,
            class,
            source: self.source,
            effective: self.effective,
            version,
            supersedes: self.supersedes,
            fields: self.fields,
        }
    }
}

/// A record's body for serialization (see [`RecordBody`]).
struct BodyOf<'r>(&'r Record);

impl Serialize for BodyOf<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let r = self.0;
        let mut st = s.serialize_struct("RecordBody", 5)?;
        st.serialize_field("record_id", &r.record_id)?;
        st.serialize_field("source", &r.source)?;
        st.serialize_field("effective", &DateText(r.effective))?;
        st.serialize_field("supersedes", &r.supersedes)?;
        st.serialize_field("fields", &r.fields)?;
        st.end()
    }
}

/// A view's body for serialization (see [`RecordBody`]).
struct ViewBodyOf<'v, 'a>(&'v RecordView<'a>);

impl Serialize for ViewBodyOf<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let r = self.0;
        let mut st = s.serialize_struct("RecordBody", 5)?;
        st.serialize_field("record_id", &*r.record_id)?;
        st.serialize_field("source", &*r.source)?;
        st.serialize_field("effective", &DateText(r.effective))?;
        st.serialize_field("supersedes", &r.supersedes)?;
        st.serialize_field("fields", &FieldsOf(&r.fields))?;
        st.end()
    }
}

impl Record {
    /// The record's body ([`RecordBody`]) for serialization: what a record ciphertext holds.
    pub fn body(&self) -> impl Serialize + '_ {
        BodyOf(self)
    }
}

impl<'a> RecordView<'a> {
    /// The body of the record this view stands for, serialized as [`Record::body`] is.
    pub fn body(&self) -> impl Serialize + '_ {
        ViewBodyOf(self)
    }
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

/// Whether `s` is a valid record id: 1 to [`MAX_RECORD_ID_LEN`] characters of
/// `A-Z a-z 0-9 . _ : / -` (docs/formats.md §7).
pub fn valid_record_id(s: &str) -> bool {
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
        let text = |issues: &mut Vec<RecordIssue>, k: &str| -> Option<&String> {
            match obj.get(k) {
                Some(Value::String(s)) => Some(s),
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
            SubjectId::parse(s)
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
            Date::parse(s)
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
        let class = class_id.and_then(|c| {
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
                    let path = || format!("fields.{}", def.name);
                    let Some(raw) = fv.get(&def.name).filter(|v| !v.is_null()) else {
                        if def.required {
                            issues.push(issue(path(), "missing (required by the catalogue)"));
                        }
                        continue;
                    };
                    match field_value(raw, def) {
                        Ok(v) => {
                            fields.insert(def.name.clone(), v);
                        }
                        Err(m) => issues.push(issue(path(), m)),
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
                record_id: record_id.clone(),
                subject,
                class: class.clone(),
                source: source.clone(),
                effective,
                version,
                supersedes,
                fields,
            }),
            _ => Err(vec![issue("line", "incomplete record")]),
        }
    }

    /// The record of one JSON line if it is a valid one, read without building a
    /// `serde_json::Value` (much faster). `None` whenever the line is not plainly valid (not
    /// JSON, a problem, a repeated key, a number that is not an integer…): then
    /// [`Record::from_json`] on the parsed line says what is wrong, or gives the record.
    /// Whenever this gives a record, `from_json` gives the same one.
    pub fn from_json_line(text: &str, catalog: &Catalog) -> Option<Self> {
        Self::view_json_line(text, catalog).map(|v| v.to_record())
    }

    /// [`Record::from_json_line`] without building the record: a view of it that borrows
    /// the line and the catalogue and serializes exactly as the record does.
    pub fn view_json_line<'a>(text: &'a str, catalog: &'a Catalog) -> Option<RecordView<'a>> {
        let raw: fast::Line<'a> = serde_json::from_str(text).ok()?;
        let record_id = raw.record_id.0;
        let source = raw.source.0;
        if !valid_record_id(&record_id) || !crate::catalog::valid_id(&source) {
            return None;
        }
        let subject = SubjectId::parse(&raw.subject.0).ok()?;
        let effective = Date::parse(&raw.effective.0).ok()?;
        let version = match raw.version {
            None => 1,
            Some(n) => u32::try_from(n).ok().filter(|&n| n >= 1)?,
        };
        let supersedes = match raw.supersedes {
            None => None,
            Some(n) => Some(u32::try_from(n).ok().filter(|&n| n >= 1 && n < version)?),
        };
        let class = catalog.class(&raw.class.0)?;
        let given = raw.fields.0;
        if given.len() > 64 {
            return None;
        }
        // Every given field must be read by exactly one name of the class (as `from_json`
        // reads them: for each field of the class, the value of that name).
        let mut used = 0u64;
        let mut fields = Vec::with_capacity(given.len());
        for def in &class.fields {
            let mut found = None;
            for (i, (name, v)) in given.iter().enumerate() {
                if name.0 == def.name {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(v);
                    used |= 1 << i;
                }
            }
            match found {
                None | Some(fast::Value::Null) => {
                    if def.required {
                        return None;
                    }
                }
                Some(v) => fields.push((def.name.as_str(), fast::field_value(v, def)?)),
            }
        }
        if used.count_ones() as usize != given.len() {
            return None;
        }
        // In the order of the record's map; a name twice in the class is left to `from_json`.
        fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if fields.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(RecordView {
            record_id,
            subject,
            class: raw.class.0,
            source,
            effective,
            version,
            supersedes,
            fields,
        })
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

/// `Record::from_json_line`: a typed, borrowing parse that fails on anything unusual.
mod fast {
    use std::borrow::Cow;
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

    use super::{Amount, DEFAULT_MAX_TEXT, Date, FieldRef, SubjectId};
    use crate::catalog::{FieldDef, FieldType};

    /// An ingest line: exactly these keys, each at most once (a repeated key fails).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct Line<'a> {
        #[serde(borrow)]
        pub record_id: Str<'a>,
        #[serde(borrow)]
        pub subject: Str<'a>,
        #[serde(borrow)]
        pub class: Str<'a>,
        #[serde(borrow)]
        pub source: Str<'a>,
        #[serde(borrow)]
        pub effective: Str<'a>,
        /// Absent: None; `null` fails (as `from_json` rejects it).
        #[serde(default, deserialize_with = "present")]
        pub version: Option<u64>,
        /// Absent or `null`: None (as in `from_json`).
        #[serde(default)]
        pub supersedes: Option<u64>,
        #[serde(borrow)]
        pub fields: Fields<'a>,
    }

    fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        u64::deserialize(d).map(Some)
    }

    /// A JSON string, borrowed from the line unless it has escapes.
    pub(super) struct Str<'a>(pub Cow<'a, str>);

    impl<'de> Visitor<'de> for StrVisitor {
        type Value = Str<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Str(Cow::Owned(v)))
        }
    }

    struct StrVisitor;

    impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor)
        }
    }

    /// A field value as JSON has it; arrays, objects and non-integer numbers fail.
    pub(super) enum Value<'a> {
        Null,
        Bool(bool),
        U64(u64),
        I64(i64),
        Str(Cow<'a, str>),
    }

    struct ValueVisitor;

    impl<'de> Visitor<'de> for ValueVisitor {
        type Value = Value<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, an integer, a boolean or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Value::Null)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Value::U64(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Value::I64(v))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Value::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Value::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Value::Str(Cow::Owned(v)))
        }
    }

    impl<'de> DeserializeSeed<'de> for ValueVisitor {
        type Value = Value<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> DeserializeSeed<'de> for StrVisitor {
        type Value = Str<'de>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }
    }

    /// The `fields` object, in the line's order, repeated names included.
    pub(super) struct Fields<'a>(pub Vec<(Str<'a>, Value<'a>)>);

    struct FieldsVisitor;

    impl<'de> Visitor<'de> for FieldsVisitor {
        type Value = Fields<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
            while let Some(k) = map.next_key_seed(StrVisitor)? {
                v.push((k, map.next_value_seed(ValueVisitor)?));
            }
            Ok(Fields(v))
        }
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(FieldsVisitor)
        }
    }

    /// `super::field_value` for the values it accepts; None where it finds a problem.
    pub(super) fn field_value<'a>(v: &Value<'a>, def: &FieldDef) -> Option<FieldRef<'a>> {
        Some(match (&def.ty, v) {
            (FieldType::Text, Value::Str(s)) => {
                let max = def.max_len.map_or(DEFAULT_MAX_TEXT, |m| m as usize);
                // ASCII (most text): a byte is a character, and its control characters are these.
                let (chars, control) = if s.is_ascii() {
                    (s.len(), s.bytes().any(|b| b < 0x20 || b == 0x7f))
                } else {
                    (s.chars().count(), s.chars().any(char::is_control))
                };
                if s.trim().is_empty() || chars > max || control {
                    return None;
                }
                FieldRef::Text(s.clone())
            }
            (FieldType::Integer, Value::U64(n)) => FieldRef::Integer(i64::try_from(*n).ok()?),
            (FieldType::Integer, Value::I64(n)) => FieldRef::Integer(*n),
            // `from_json` parses the number's text; serde_json writes integers as these do.
            (FieldType::Amount, Value::U64(n)) => FieldRef::Amount(Amount::parse(&n.to_string())?),
            (FieldType::Amount, Value::I64(n)) => FieldRef::Amount(Amount::parse(&n.to_string())?),
            (FieldType::Amount, Value::Str(s)) => FieldRef::Amount(Amount::parse(s.trim())?),
            (FieldType::Date, Value::Str(s)) => FieldRef::Date(Date::parse(s).ok()?),
            (FieldType::Bool, Value::Bool(b)) => FieldRef::Bool(*b),
            (FieldType::Enum, Value::Str(s)) if def.values.iter().any(|v| v == s) => FieldRef::Text(s.clone()),
            (FieldType::SubjectId, Value::Str(s)) => FieldRef::SubjectId(SubjectId::parse(s).ok()?),
            _ => return None,
        })
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

    /// What `#[derive(Serialize)]` makes of `Record` and `FieldValue`.
    #[derive(Serialize)]
    #[serde(rename = "FieldValue")]
    enum FieldValueTwin {
        Text(String),
        Integer(i64),
        Amount(Amount),
        Date(Date),
        Bool(bool),
        SubjectId(SubjectId),
    }

    #[derive(Serialize)]
    #[serde(rename = "Record")]
    struct RecordTwin {
        record_id: String,
        subject: SubjectId,
        class: String,
        source: String,
        effective: Date,
        version: u32,
        supersedes: Option<u32>,
        fields: BTreeMap<String, FieldValueTwin>,
    }

    fn twin(r: &Record) -> RecordTwin {
        RecordTwin {
            record_id: r.record_id.clone(),
            subject: r.subject.clone(),
            class: r.class.clone(),
            source: r.source.clone(),
            effective: r.effective,
            version: r.version,
            supersedes: r.supersedes,
            fields: r
                .fields
                .iter()
                .map(|(k, v)| {
                    let v = match v.clone() {
                        FieldValue::Text(x) => FieldValueTwin::Text(x),
                        FieldValue::Integer(x) => FieldValueTwin::Integer(x),
                        FieldValue::Amount(x) => FieldValueTwin::Amount(x),
                        FieldValue::Date(x) => FieldValueTwin::Date(x),
                        FieldValue::Bool(x) => FieldValueTwin::Bool(x),
                        FieldValue::SubjectId(x) => FieldValueTwin::SubjectId(x),
                    };
                    (k.clone(), v)
                })
                .collect(),
        }
    }

    #[test]
    fn serializes_as_derived() {
        let mut r = line(OK).unwrap();
        r.supersedes = Some(3);
        r.version = 4;
        r.fields.insert("n".into(), FieldValue::Integer(-7));
        r.fields.insert("who".into(), FieldValue::SubjectId(r.subject.clone()));
        r.fields.insert("t".into(), FieldValue::Text("a \"q\" é".into()));
        for (y, m, d) in [
            (1, 1, 1),
            (999, 12, 31),
            (2024, 2, 29),
            (9999, 12, 31),
            (10000, 1, 1),
            (65535, 12, 31),
        ] {
            let date = Date::new(y, m, d).unwrap();
            r.effective = date;
            r.fields.insert("opened".into(), FieldValue::Date(date));
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                serde_json::to_string(&twin(&r)).unwrap(),
                "{y}-{m}-{d}"
            );
        }
        r.supersedes = None;
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::to_value(twin(&r)).unwrap()
        );
    }

    fn all_types() -> Catalog {
        Catalog::parse(
            r#"format = 1
[[purpose]]
id = "p"
title = "P"
[[class]]
id = "c"
title = "C"
sensitivity = "high"
consent_required = false
retention = "5y"
purposes = ["p"]
[[class.field]]
name = "t"
type = "text"
max_len = 5
[[class.field]]
name = "i"
type = "integer"
[[class.field]]
name = "a"
type = "amount"
[[class.field]]
name = "d"
type = "date"
[[class.field]]
name = "b"
type = "bool"
[[class.field]]
name = "e"
type = "enum"
values = ["x", "y"]
[[class.field]]
name = "s"
type = "subject-id"
[[class.field]]
name = "o"
type = "text"
required = false
"#,
            None,
        )
        .unwrap()
    }

    /// `from_json_line` gives a record only where `from_json` gives the same one, and its
    /// view serializes as that record.
    fn same_as_slow(text: &str, catalog: &Catalog) -> Option<Record> {
        let fast = Record::from_json_line(text, catalog);
        let view = Record::view_json_line(text, catalog);
        let slow = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| Record::from_json(&v, catalog).ok());
        assert_eq!(fast.is_some(), view.is_some());
        if let (Some(fast), Some(view)) = (&fast, &view) {
            assert_eq!(Some(fast), slow.as_ref(), "{text}");
            assert_eq!(view.to_record(), *fast);
            assert_eq!(
                serde_json::to_string(view).unwrap(),
                serde_json::to_string(fast).unwrap()
            );
            assert_eq!(
                (
                    view.subject(),
                    view.record_id(),
                    view.class(),
                    view.version(),
                    view.supersedes()
                ),
                (
                    &fast.subject,
                    &*fast.record_id,
                    &*fast.class,
                    fast.version,
                    fast.supersedes
                )
            );
        }
        slow
    }

    const ALL: &str = r#"{"record_id":"R-1","subject":"91350100M000100Y43","class":"c","source":"s-1","effective":"2024-01-02","version":2,"supersedes":1,"fields":{"t":"abc","i":-5,"a":"12.5","d":"2020-02-29","b":true,"e":"y","s":"11010519491231002x","o":"z"}}"#;

    #[test]
    fn fast_parse_agrees_with_from_json() {
        let cat = all_types();
        assert!(Record::from_json_line(ALL, &cat).is_some());
        assert!(same_as_slow(ALL, &cat).is_some());
        let edits: &[(&str, &str)] = &[
            ("", ""),
            (r#""version":2,"#, ""),
            (r#""version":2,"supersedes":1,"#, ""),
            (r#""version":2"#, r#""version":null"#),
            (r#""version":2"#, r#""version":2.0"#),
            (r#""version":2"#, r#""version":0"#),
            (r#""version":2"#, r#""version":4294967296"#),
            (r#""version":2"#, r#""version":-2"#),
            (r#""version":2"#, r#""version":"2""#),
            (r#""supersedes":1"#, r#""supersedes":null"#),
            (r#""supersedes":1"#, r#""supersedes":2"#),
            (r#""supersedes":1"#, r#""supersedes":0"#),
            (r#""supersedes":1"#, r#""supersedes":1.5"#),
            (r#""record_id":"R-1","#, ""),
            (r#""record_id":"R-1","#, r#""record_id":"R-1","record_id":"R-1","#),
            (r#""record_id":"R-1""#, r#""record_id":"R 1""#),
            (r#""record_id":"R-1""#, r#""record\u005fid":"R\u002d1""#),
            (r#""record_id":"R-1""#, r#""record_id":1"#),
            (
                r#""subject":"91350100M000100Y43""#,
                r#""subject":" 91350100m000100y43 ""#,
            ),
            (r#""subject":"91350100M000100Y43""#, r#""subject":"91350100M000100Y44""#),
            (r#""class":"c""#, r#""class":"nope""#),
            (r#""class":"c""#, r#""class":null"#),
            (r#""source":"s-1""#, r#""source":"S-1""#),
            (r#""effective":"2024-01-02""#, r#""effective":"2024-02-30""#),
            (r#""fields":{"#, r#""extra":1,"fields":{"#),
            (r#""t":"abc""#, r#""t":"abcdef""#),
            (r#""t":"abc""#, r#""t":"  ""#),
            (r#""t":"abc""#, r#""t":"a\tb""#),
            (r#""t":"abc""#, r#""t":"a	b""#),
            (r#""t":"abc""#, r#""t":"\u00e9\u00e9\u00e9\u00e9\u00e9""#),
            (r#""t":"abc""#, r#""t":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9""#),
            (r#""t":"abc""#, r#""t":"ééééé""#),
            (r#""t":"abc""#, r#""t":"éééééé""#),
            (r#""t":"abc""#, r#""t":"a\u007fb""#),
            (r#""t":"abc""#, r#""t":"a\u0085b""#),
            (r#""t":"abc""#, r#""t":"a~b""#),
            (r#""t":"abc""#, r#""t":"a\"c""#),
            (r#""t":"abc""#, r#""t":null"#),
            (r#""t":"abc""#, r#""t":5"#),
            (r#""t":"abc","#, ""),
            (r#""t":"abc""#, r#""t":"abc","t":"abd""#),
            (r#""i":-5"#, r#""i":5"#),
            (r#""i":-5"#, r#""i":-0"#),
            (r#""i":-5"#, r#""i":9223372036854775807"#),
            (r#""i":-5"#, r#""i":9223372036854775808"#),
            (r#""i":-5"#, r#""i":-9223372036854775808"#),
            (r#""i":-5"#, r#""i":1e3"#),
            (r#""i":-5"#, r#""i":"5""#),
            (r#""a":"12.5""#, r#""a":12"#),
            (r#""a":"12.5""#, r#""a":-12"#),
            (r#""a":"12.5""#, r#""a":12.5"#),
            (r#""a":"12.5""#, r#""a":" 12.50 ""#),
            (r#""a":"12.5""#, r#""a":"12.555""#),
            (r#""a":"12.5""#, r#""a":999999999999999"#),
            (r#""a":"12.5""#, r#""a":9999999999999999"#),
            (r#""a":"12.5""#, r#""a":true"#),
            (r#""d":"2020-02-29""#, r#""d":"2021-02-29""#),
            (r#""b":true"#, r#""b":"true""#),
            (r#""b":true"#, r#""b":null"#),
            (r#""e":"y""#, r#""e":"z""#),
            (r#""s":"11010519491231002x""#, r#""s":"11010519491231002""#),
            (r#""o":"z""#, r#""o":null"#),
            (r#","o":"z""#, ""),
            (r#""o":"z""#, r#""o":["z"]"#),
            (r#""o":"z""#, r#""o":{"z":1}"#),
            (r#""o":"z""#, r#""o":"z","zz":null"#),
            (r#""fields":{"#, r#""fields":{"t":"abc","#),
            (r#"}}"#, r#"}} x"#),
            (r#"}}"#, r#"}}   "#),
            (r#"}}"#, r#"}"#),
        ];
        let mut fast = 0;
        for (from, to) in edits {
            let text = ALL.replacen(from, to, 1);
            if Record::from_json_line(&text, &cat).is_some() {
                fast += 1;
            }
            same_as_slow(&text, &cat);
        }
        assert!(fast > 15, "the usual lines take the fast path ({fast})");
        for text in ["", "null", "[]", "{}", "1", "\"x\"", "{\"fields\":{}}"] {
            assert_eq!(same_as_slow(text, &cat), None);
        }
    }

    #[test]
    fn fast_parse_takes_every_example_line() {
        let cat = Catalog::parse(include_str!("../../../keys-example/catalog.toml"), None).unwrap();
        for l in include_str!("../../../keys-example/records.jsonl").lines() {
            assert!(Record::from_json_line(l, &cat).is_some(), "{l}");
            assert!(same_as_slow(l, &cat).is_some());
        }
    }

    proptest::proptest! {
        /// Lines near a valid one: each key left out, valid, or given some other value, and
        /// a few keys repeated or unknown.
        #[test]
        fn fast_parse_never_disagrees(
            top in proptest::collection::vec(0usize..40, 8),
            fields in proptest::collection::vec(0usize..40, 8),
            extra_top in proptest::collection::vec((0usize..10, 0usize..14), 0..2),
            extra_fields in proptest::collection::vec((0usize..10, 0usize..14), 0..2),
        ) {
            const KEYS: [(&str, &str); 8] = [
                ("record_id", r#""R-1""#), ("subject", r#""91350100M000100Y43""#), ("class", r#""c""#),
                ("source", r#""s-1""#), ("effective", r#""2024-01-02""#), ("version", "2"), ("supersedes", "1"),
                ("fields", ""),
            ];
            const FIELDS: [(&str, &str); 8] = [
                ("t", r#""abc""#), ("i", "-5"), ("a", r#""12.5""#), ("d", r#""2020-02-29""#), ("b", "true"),
                ("e", r#""y""#), ("s", r#""11010519491231002x""#), ("o", r#""z""#),
            ];
            const NAMES: [&str; 10] = ["record_id", "class", "version", "supersedes", "x", "t", "i", "o", "z", "a"];
            const VALUES: [&str; 14] = [
                r#""R-1""#, r#""91350100M000100Y43""#, r#""c""#, r#""2024-01-02""#, "1", "2", "-3", "1.5", "true",
                "null", r#""y""#, r#""12.50""#, "[1]", r#""ab\u0063""#,
            ];
            // 0: left out; 1-36: valid; 37-39: another value.
            let pick = |choice: usize, valid: &str| match choice {
                0 => None,
                1..=36 => Some(valid.to_string()),
                c => Some(VALUES[(c * 5) % VALUES.len()].to_string()),
            };
            let obj = |kv: &[(String, String)]| {
                format!("{{{}}}", kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))
            };
            let mut f: Vec<(String, String)> = FIELDS
                .iter()
                .zip(&fields)
                .filter_map(|(&(k, v), &c)| Some((k.to_string(), pick(c, v)?)))
                .collect();
            f.extend(extra_fields.iter().map(|&(k, v)| (NAMES[k].to_string(), VALUES[v].to_string())));
            let fobj = obj(&f);
            let mut t: Vec<(String, String)> = KEYS
                .iter()
                .zip(&top)
                .filter_map(|(&(k, v), &c)| Some((k.to_string(), pick(c, if k == "fields" { &fobj } else { v })?)))
                .collect();
            t.extend(extra_top.iter().map(|&(k, v)| (NAMES[k].to_string(), VALUES[v].to_string())));
            same_as_slow(&obj(&t), &all_types());
        }
    }

    #[test]
    fn amounts() {
        assert_eq!(Amount::parse("0.05"), Some(Amount(5)));
        assert_eq!(Amount::parse("-3"), Some(Amount(-300)));
        for bad in ["", "1.", ".5", "1e3", "1.234", "12a", "--1", "9999999999999999"] {
            assert_eq!(Amount::parse(bad), None, "{bad}");
        }
        for (s, v) in [
            ("12", 1200),
            ("12.5", 1250),
            ("12.05", 1205),
            ("-0.5", -50),
            ("999999999999999.99", 99_999_999_999_999_999),
        ] {
            assert_eq!(Amount::parse(s), Some(Amount(v)), "{s}");
        }
        assert_eq!(Amount(-5).to_string(), "-0.05");
    }
}
