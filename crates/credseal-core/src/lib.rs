//! The credseal data model, free of I/O so that verifiers can run anywhere.
//!
//! Start with [`SubjectId::parse`] for identifiers, [`Catalog::parse`] for the catalogue
//! and [`Record::from_json`] for one ingest line:
//!
//! ```
//! use credseal_core::{SubjectId, SubjectKind};
//! let id = SubjectId::parse("91350100M000100Y43").unwrap();
//! assert_eq!(id.kind(), SubjectKind::Organisation);
//! assert!(SubjectId::parse("91350100M000100Y44").is_err());
//! ```

mod canon;
mod catalog;
mod date;
mod id;
mod record;

pub use canon::{canonical, canonical_value};
pub use catalog::{
    CATALOG_FORMAT, Catalog, CatalogError, CatalogErrors, ClassDef, DEFAULT_CORRECTION_LOOKBACK_DAYS,
    DEFAULT_OBJECTION_DAYS, FieldDef, FieldType, MAX_ID_LEN, Purpose, Retention, Sensitivity, valid_id,
};
pub use date::{Date, DateError};
pub use id::{BlindId, IdError, SubjectId, SubjectKind};
pub use record::{Amount, FieldValue, MAX_RECORD_ID_LEN, Record, RecordBody, RecordIssue, valid_record_id};

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[usize::from(b >> 4)] as char);
        s.push(H[usize::from(b & 15)] as char);
    }
    s
}

/// Parses lower- or upper-case hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() & 1 == 1 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
