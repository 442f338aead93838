//! The catalogue (`catalog.toml`): which classes of credit information exist, what fields
//! each holds, how sensitive it is, whether the subject must consent to a query, how long
//! it is kept and for which legal purposes it may be read.
//!
//! ```toml
//! format = 1
//!
//! [[purpose]]
//! id = "loan-approval"
//! title = "Approving a loan application"
//!
//! [[class]]
//! id = "loans"
//! title = "Loans and repayment"
//! sensitivity = "high"
//! consent_required = true
//! retention = "5y"
//! purposes = ["loan-approval"]
//!
//! [[class.field]]
//! name = "lender"
//! type = "text"
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Highest catalogue format version this build reads.
pub const CATALOG_FORMAT: u32 = 1;
/// Longest class, field or purpose id.
pub const MAX_ID_LEN: usize = 48;

/// An error in a catalogue, with the line (1-based) and key it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}line {line}: {key}: {message}", source_name.as_deref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct CatalogError {
    /// The file, when known.
    pub source_name: Option<String>,
    /// 1-based line number.
    pub line: usize,
    /// The key (dotted path) the error concerns.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// All errors found in one catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct CatalogErrors(pub Vec<CatalogError>);

/// How sensitive a class of information is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sensitivity {
    /// Public credit information (commendations, published penalties).
    Public,
    /// Information for authorised use.
    Low,
    /// Personal or commercial information.
    Medium,
    /// Information whose disclosure harms the subject (debts, judgments).
    High,
}

/// The type of a field's values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldType {
    /// UTF-8 text.
    Text,
    /// A signed 64-bit integer.
    Integer,
    /// A money amount with at most two decimal places.
    Amount,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// `true` or `false`.
    Bool,
    /// One of a fixed list of text values.
    Enum,
    /// A subject id (resident identity number or unified social credit code).
    SubjectId,
}

/// How long records of a class are kept after their effective date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Retention {
    /// Kept until explicitly shredded.
    Permanent,
    /// Kept this many days.
    Days(u32),
}

impl Retention {
    fn parse(s: &str) -> Option<Self> {
        if s == "permanent" {
            return Some(Self::Permanent);
        }
        let (n, unit) = s.split_at(s.len().checked_sub(1)?);
        let n: u32 = n.parse().ok().filter(|&n| n > 0)?;
        Some(Self::Days(match unit {
            "d" => n,
            "y" => n.checked_mul(365)?,
            _ => return None,
        }))
    }
}

impl Retention {
    /// Whether a record effective on `effective` is past this retention on `today`: more
    /// than the retention's days after its effective date (the retention sweep's rule).
    pub fn expired(&self, effective: crate::Date, today: crate::Date) -> bool {
        match self {
            Self::Permanent => false,
            Self::Days(d) => effective.days_since_epoch() + i64::from(*d) < today.days_since_epoch(),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Permanent => f.write_str("permanent"),
            Self::Days(d) if d % 365 == 0 => write!(f, "{}y", d / 365),
            Self::Days(d) => write!(f, "{d}d"),
        }
    }
}

/// A legal purpose for which information may be queried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    /// Code, e.g. `loan-approval`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Receipts of queries for this purpose are shown to the subject only after this many
    /// days (0: at once). Used for investigations that must not be tipped off.
    pub disclosure_delay_days: u32,
    /// Views: for a class, the only fields a query under this purpose is answered (class →
    /// field names). A class without a view is answered whole.
    pub views: BTreeMap<String, BTreeSet<String>>,
}

/// One field of a class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Field name.
    pub name: String,
    /// Value type.
    pub ty: FieldType,
    /// Whether every record must have it.
    pub required: bool,
    /// Allowed values of an `enum` field.
    pub values: Vec<String>,
    /// Longest allowed text value, in characters.
    pub max_len: Option<u32>,
}

/// A class of credit information.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassDef {
    /// Class id, e.g. `loans`.
    pub id: String,
    /// Human title.
    pub title: String,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Whether a query needs the subject's signed consent.
    pub consent_required: bool,
    /// Retention after the record's effective date.
    pub retention: Retention,
    /// Purposes for which it may be read.
    pub purposes: BTreeSet<String>,
    /// Fields, in catalogue order.
    pub fields: Vec<FieldDef>,
    /// Days the provider of a record has to answer a subject's objection to it (default
    /// [`DEFAULT_OBJECTION_DAYS`]).
    pub objection_days: u32,
}

/// Days a provider has to answer an objection unless its class says otherwise: the 20 days
/// of the Regulation on the Administration of the Credit Reporting Industry, art. 25.
pub const DEFAULT_OBJECTION_DAYS: u32 = 20;
/// How far back the departments that received a corrected record's old value are looked
/// for, unless the catalogue says otherwise: about six months.
pub const DEFAULT_CORRECTION_LOOKBACK_DAYS: u32 = 183;

impl ClassDef {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A validated catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Catalogue revision, raised by the authority on every change.
    pub revision: u32,
    /// How many days back a correction looks for departments that received the old value
    /// (each gets a correction notice); default [`DEFAULT_CORRECTION_LOOKBACK_DAYS`].
    pub correction_lookback_days: u32,
    /// Purposes by id.
    pub purposes: BTreeMap<String, Purpose>,
    /// Classes by id.
    pub classes: BTreeMap<String, ClassDef>,
}

// ---- the TOML shape ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    format: Spanned<u32>,
    #[serde(default)]
    revision: Option<u32>,
    #[serde(default)]
    correction_lookback_days: Option<Spanned<u32>>,
    #[serde(default)]
    purpose: Vec<RawPurpose>,
    #[serde(default)]
    class: Vec<RawClass>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPurpose {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    disclosure_delay_days: u32,
    #[serde(default)]
    view: Vec<RawView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    class: Spanned<String>,
    fields: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClass {
    id: Spanned<String>,
    title: String,
    sensitivity: Sensitivity,
    consent_required: bool,
    retention: Spanned<String>,
    purposes: Vec<Spanned<String>>,
    #[serde(default)]
    objection_days: Option<Spanned<u32>>,
    #[serde(default)]
    field: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    #[serde(rename = "type")]
    ty: FieldType,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    values: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    max_len: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Whether `s` is a valid id: lower-case ASCII letters, digits, `-` and `_`, starting with a
/// letter, at most [`MAX_ID_LEN`] bytes.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1
}

impl Catalog {
    /// Parses and validates a catalogue. `source_name` (a file name) is put in errors.
    /// Every error found is returned, each with its line and key.
    pub fn parse(text: &str, source_name: Option<&str>) -> Result<Self, CatalogErrors> {
        let src = source_name.map(str::to_string);
        let mut errs = Vec::new();
        let err = |errs: &mut Vec<CatalogError>, offset: usize, key: String, message: String| {
            errs.push(CatalogError {
                source_name: src.clone(),
                line: line_of(text, offset),
                key,
                message,
            })
        };
        let raw: RawCatalog = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                let offset = e.span().map(|s| s.start).unwrap_or(0);
                let mut msg = e.message().to_string();
                if let Some(i) = msg.find('\n') {
                    msg.truncate(i);
                }
                err(&mut errs, offset, "catalogue".into(), msg);
                return Err(CatalogErrors(errs));
            }
        };
        if *raw.format.get_ref() != CATALOG_FORMAT {
            err(
                &mut errs,
                raw.format.span().start,
                "format".into(),
                format!(
                    "unsupported catalogue format {} (this build reads {CATALOG_FORMAT})",
                    raw.format.get_ref()
                ),
            );
        }
        let mut purposes = BTreeMap::new();
        for (i, p) in raw.purpose.iter().enumerate() {
            let id = p.id.get_ref();
            let key = format!("purpose[{i}].id");
            if !valid_id(id) {
                err(
                    &mut errs,
                    p.id.span().start,
                    key,
                    format!("{id:?} is not a valid id (lower-case letters, digits, '-')"),
                );
            } else if purposes
                .insert(
                    id.clone(),
                    Purpose {
                        id: id.clone(),
                        title: p.title.clone(),
                        disclosure_delay_days: p.disclosure_delay_days,
                        views: BTreeMap::new(),
                    },
                )
                .is_some()
            {
                err(
                    &mut errs,
                    p.id.span().start,
                    key,
                    format!("purpose {id:?} is declared twice"),
                );
            }
        }
        if raw.class.is_empty() {
            err(&mut errs, 0, "class".into(), "the catalogue declares no class".into());
        }
        let mut classes = BTreeMap::new();
        for (ci, c) in raw.class.iter().enumerate() {
            let cid = c.id.get_ref().clone();
            let at = |k: &str| format!("class.{cid}.{k}");
            if !valid_id(&cid) {
                err(
                    &mut errs,
                    c.id.span().start,
                    format!("class[{ci}].id"),
                    format!("{cid:?} is not a valid id (lower-case letters, digits, '-')"),
                );
            }
            let retention = Retention::parse(c.retention.get_ref()).unwrap_or_else(|| {
                err(
                    &mut errs,
                    c.retention.span().start,
                    at("retention"),
                    format!(
                        "{:?} is not a retention period (\"permanent\", \"<n>y\" or \"<n>d\")",
                        c.retention.get_ref()
                    ),
                );
                Retention::Permanent
            });
            let mut cps = BTreeSet::new();
            if c.purposes.is_empty() {
                err(
                    &mut errs,
                    c.id.span().start,
                    at("purposes"),
                    "a class needs at least one allowed purpose".into(),
                );
            }
            for p in &c.purposes {
                if !purposes.contains_key(p.get_ref()) {
                    err(
                        &mut errs,
                        p.span().start,
                        at("purposes"),
                        format!("purpose {:?} is not declared in a [[purpose]] table", p.get_ref()),
                    );
                } else if !cps.insert(p.get_ref().clone()) {
                    err(
                        &mut errs,
                        p.span().start,
                        at("purposes"),
                        format!("purpose {:?} is listed twice", p.get_ref()),
                    );
                }
            }
            if c.field.is_empty() {
                err(
                    &mut errs,
                    c.id.span().start,
                    at("field"),
                    "a class needs at least one field".into(),
                );
            }
            let mut fields: Vec<FieldDef> = Vec::new();
            for f in &c.field {
                let name = f.name.get_ref();
                let fat = |k: &str| format!("class.{cid}.field.{name}.{k}");
                if !valid_id(name) {
                    err(
                        &mut errs,
                        f.name.span().start,
                        fat("name"),
                        format!("{name:?} is not a valid field name (lower-case letters, digits, '-', '_')"),
                    );
                }
                if fields.iter().any(|g| &g.name == name) {
                    err(
                        &mut errs,
                        f.name.span().start,
                        fat("name"),
                        format!("field {name:?} is declared twice in class {cid:?}"),
                    );
                }
                let values = match (&f.ty, &f.values) {
                    (FieldType::Enum, Some(v)) if !v.get_ref().is_empty() => v.get_ref().clone(),
                    (FieldType::Enum, _) => {
                        err(
                            &mut errs,
                            f.name.span().start,
                            fat("values"),
                            "an enum field needs a non-empty `values` list".into(),
                        );
                        Vec::new()
                    }
                    (_, Some(v)) => {
                        err(
                            &mut errs,
                            v.span().start,
                            fat("values"),
                            "`values` is only allowed on enum fields".into(),
                        );
                        Vec::new()
                    }
                    (_, None) => Vec::new(),
                };
                if f.max_len.is_some() && f.ty != FieldType::Text {
                    err(
                        &mut errs,
                        f.name.span().start,
                        fat("max_len"),
                        "`max_len` is only allowed on text fields".into(),
                    );
                }
                fields.push(FieldDef {
                    name: name.clone(),
                    ty: f.ty.clone(),
                    required: f.required,
                    values,
                    max_len: f.max_len,
                });
            }
            let objection_days = match &c.objection_days {
                None => DEFAULT_OBJECTION_DAYS,
                Some(d) if (1..=366).contains(d.get_ref()) => *d.get_ref(),
                Some(d) => {
                    err(
                        &mut errs,
                        d.span().start,
                        format!("class[{ci}].objection_days"),
                        format!("{} is not 1 to 366 days", d.get_ref()),
                    );
                    DEFAULT_OBJECTION_DAYS
                }
            };
            let def = ClassDef {
                id: cid.clone(),
                title: c.title.clone(),
                sensitivity: c.sensitivity,
                consent_required: c.consent_required,
                retention,
                purposes: cps,
                fields,
                objection_days,
            };
            if classes.insert(cid.clone(), def).is_some() {
                err(
                    &mut errs,
                    c.id.span().start,
                    format!("class[{ci}].id"),
                    format!("class {cid:?} is declared twice"),
                );
            }
        }
        let correction_lookback_days = match &raw.correction_lookback_days {
            None => DEFAULT_CORRECTION_LOOKBACK_DAYS,
            Some(d) if (1..=3660).contains(d.get_ref()) => *d.get_ref(),
            Some(d) => {
                err(
                    &mut errs,
                    d.span().start,
                    "correction_lookback_days".into(),
                    format!("{} is not 1 to 3660 days", d.get_ref()),
                );
                DEFAULT_CORRECTION_LOOKBACK_DAYS
            }
        };
        // Views, once the classes are known: each names a class that the purpose may read,
        // and only fields of that class, at least one; one view per class and purpose.
        for (pi, p) in raw.purpose.iter().enumerate() {
            for (vi, v) in p.view.iter().enumerate() {
                let key = format!("purpose[{pi}].view[{vi}]");
                let cid = v.class.get_ref();
                let Some(class) = classes.get(cid) else {
                    err(
                        &mut errs,
                        v.class.span().start,
                        format!("{key}.class"),
                        format!("class {cid:?} is not declared"),
                    );
                    continue;
                };
                if !class.purposes.contains(p.id.get_ref()) {
                    err(
                        &mut errs,
                        v.class.span().start,
                        format!("{key}.class"),
                        format!("class {cid:?} is not readable for purpose {:?}", p.id.get_ref()),
                    );
                    continue;
                }
                let fields: BTreeSet<String> = v.fields.get_ref().iter().cloned().collect();
                if fields.is_empty() {
                    err(
                        &mut errs,
                        v.fields.span().start,
                        format!("{key}.fields"),
                        "a view names at least one field".into(),
                    );
                    continue;
                }
                if let Some(bad) = fields.iter().find(|f| class.field(f).is_none()) {
                    err(
                        &mut errs,
                        v.fields.span().start,
                        format!("{key}.fields"),
                        format!("class {cid:?} has no field {bad:?}"),
                    );
                    continue;
                }
                if let Some(purpose) = purposes.get_mut(p.id.get_ref())
                    && purpose.views.insert(cid.clone(), fields).is_some()
                {
                    err(
                        &mut errs,
                        v.class.span().start,
                        format!("{key}.class"),
                        format!("purpose {:?} has two views of class {cid:?}", p.id.get_ref()),
                    );
                }
            }
        }
        if errs.is_empty() {
            Ok(Self {
                revision: raw.revision.unwrap_or(1),
                correction_lookback_days,
                purposes,
                classes,
            })
        } else {
            Err(CatalogErrors(errs))
        }
    }

    /// The fields of the view that purpose `purpose` defines for class `class` (the view
    /// called `<purpose>/<class>`), if it defines one.
    pub fn view(&self, purpose: &str, class: &str) -> Option<&BTreeSet<String>> {
        self.purposes.get(purpose).and_then(|p| p.views.get(class))
    }

    /// The class called `id`.
    pub fn class(&self, id: &str) -> Option<&ClassDef> {
        self.classes.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"format = 1

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
name = "status"
type = "enum"
values = ["current", "overdue"]
"#;

    #[test]
    fn parses_good_catalogue() {
        let c = Catalog::parse(GOOD, Some("catalog.toml")).unwrap();
        let loans = c.class("loans").unwrap();
        assert_eq!(loans.retention, Retention::Days(5 * 365));
        assert_eq!(loans.fields.len(), 2);
        assert!(loans.consent_required);
    }

    fn errors(text: &str) -> Vec<CatalogError> {
        Catalog::parse(text, Some("catalog.toml")).unwrap_err().0
    }

    #[test]
    fn undeclared_purpose_names_line_and_key() {
        let t = GOOD.replace(
            "purposes = [\"loan-approval\"]",
            "purposes = [\"loan-approval\", \"spying\"]",
        );
        let e = errors(&t);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 13);
        assert_eq!(e[0].key, "class.loans.purposes");
        assert!(
            e[0].to_string()
                .starts_with("catalog.toml: line 13: class.loans.purposes:"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn unknown_key_is_reported_with_line() {
        let t = GOOD.replace("consent_required = true", "consent_required = true\nconsent = 1");
        let e = errors(&t);
        assert_eq!(e[0].line, 12, "{e:?}");
        assert!(e[0].message.contains("consent"), "{e:?}");
    }

    #[test]
    fn wrong_type_and_syntax_errors() {
        let e = errors(&GOOD.replace("consent_required = true", "consent_required = \"yes\""));
        assert_eq!(e[0].line, 11);
        let e = errors("format = 1\n[[class]\n");
        assert_eq!(e[0].line, 2);
        let e = errors("");
        assert!(e[0].message.contains("format"), "{e:?}");
    }

    #[test]
    fn all_semantic_errors_are_reported() {
        let t = GOOD
            .replace("retention = \"5y\"", "retention = \"forever\"")
            .replace(
                "type = \"enum\"\nvalues = [\"current\", \"overdue\"]",
                "type = \"enum\"",
            )
            .replace("name = \"lender\"", "name = \"Lender!\"");
        let e = errors(&t);
        let keys: Vec<_> = e.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "class.loans.retention",
                "class.loans.field.Lender!.name",
                "class.loans.field.status.values"
            ]
        );
    }

    #[test]
    fn duplicates_rejected() {
        let t = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[class]]").unwrap()..]);
        let e = errors(&t);
        assert!(
            e.iter().any(|e| e.message.contains("declared twice") && e.line == 25),
            "{e:?}"
        );
    }
}
