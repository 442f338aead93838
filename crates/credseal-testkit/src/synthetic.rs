//! Synthetic credit data of any size: valid subject ids and one well-formed record per class
//! for each subject, deterministic in the subject's index. The benchmarks (`credseal-bench`)
//! and the tests of the crates that ingest data use it.
//!
//! ```
//! use credseal_testkit::synthetic::{synthetic_subject, write_synthetic};
//!
//! let catalog = credseal_core::Catalog::parse(
//!     include_str!("../../../keys-example/catalog.toml"),
//!     Some("catalog.toml"),
//! )
//! .unwrap();
//! let mut lines = Vec::new();
//! let n = write_synthetic(&catalog, 3, &mut lines).unwrap();
//! assert_eq!(n, 3 * catalog.classes.len() as u64);
//! assert_eq!(synthetic_subject(0), synthetic_subject(0));
//! ```

use std::io::Write;

use credseal_core::{Catalog, FieldType, SubjectId};

/// A synthetic subject id for index `i` (persons and organisations alternate: every fifth
/// index is an organisation's unified social credit code, the others resident identity
/// numbers). Different indexes below 16,800,000 give different ids.
pub fn synthetic_subject(i: u64) -> SubjectId {
    if i % 5 == 4 {
        // About one body in 31 has no valid check character: vary the region digit.
        for region in 0..10u64 {
            if let Some(id) = SubjectId::uscc_from_body(&format!("9133010{region}{:09}", i % 1_000_000_000)) {
                return id;
            }
        }
    }
    let day = 1 + (i % 28);
    let month = 1 + (i / 28) % 12;
    let year = 1950 + (i / 336) % 50;
    let seq = (i / 16_800) % 1000;
    SubjectId::resident_from_body(&format!("330106{year:04}{month:02}{day:02}{seq:03}"))
        // Cannot fail: day 1-28, month 1-12, year 1950-1999 and a 3-digit sequence always form a valid 17-digit body.
        .expect("17 digits with a valid birth date")
}

/// Writes a synthetic JSON Lines file to `w`: one record per class of `catalog` for each of
/// `subjects` subjects (record ids `SYN-<class>-<index>`, source `bench-source`), every field
/// a valid value of its type. Returns the number of records (lines) written.
pub fn write_synthetic(catalog: &Catalog, subjects: u64, w: &mut dyn Write) -> std::io::Result<u64> {
    let mut n = 0;
    for i in 0..subjects {
        let subject = synthetic_subject(i);
        for (ci, class) in catalog.classes.values().enumerate() {
            let mut fields = serde_json::Map::new();
            for (fi, f) in class.fields.iter().enumerate() {
                let k = i.wrapping_mul(31).wrapping_add((ci * 7 + fi) as u64);
                let v: serde_json::Value = match f.ty {
                    FieldType::Text => {
                        let t = format!("synthetic {} value {k:08}", f.name);
                        let max = f.max_len.map_or(t.len(), |m| m as usize);
                        t[t.len().saturating_sub(max)..].to_string().into()
                    }
                    FieldType::Integer => (k % 10_000).into(),
                    FieldType::Amount => format!("{}.{:02}", k % 1_000_000, k % 100).into(),
                    FieldType::Date => credseal_core::Date::from_days_since_epoch(16_000 + (k % 4000) as i64)
                        .map(|d| d.to_string())
                        .into(),
                    FieldType::Bool => (k % 2 == 0).into(),
                    FieldType::Enum => f.values[(k as usize) % f.values.len()].clone().into(),
                    FieldType::SubjectId => subject.to_string().into(),
                };
                fields.insert(f.name.clone(), v);
            }
            let line = serde_json::json!({
                "record_id": format!("SYN-{}-{i:09}", class.id),
                "subject": subject.to_string(),
                "class": class.id,
                "source": "bench-source",
                "effective": "2024-06-01",
                "fields": fields,
            });
            serde_json::to_writer(&mut *w, &line)?;
            w.write_all(b"\n")?;
            n += 1;
        }
    }
    Ok(n)
}
