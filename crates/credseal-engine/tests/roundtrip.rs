//! Property: any valid record ingested reads back identical, in any class.

mod common;

use common::*;
use credseal_core::{FieldType, Record};
use credseal_engine::NoProgress;
use proptest::prelude::*;

fn value_for(ty: &FieldType, values: &[String], max_len: Option<u32>, seed: u64, text: &str) -> serde_json::Value {
    match ty {
        FieldType::Text => {
            let max = max_len.unwrap_or(4096) as usize;
            let t: String = text.chars().take(max).collect();
            if t.trim().is_empty() { "x".into() } else { t.into() }
        }
        FieldType::Integer => (seed as i64).wrapping_sub(1 << 40).into(),
        FieldType::Amount => format!("{}.{:02}", seed % 10_000_000, seed % 100).into(),
        FieldType::Date => credseal_core::Date::from_days_since_epoch((seed % 40_000) as i64)
            .unwrap()
            .to_string()
            .into(),
        FieldType::Bool => (seed & 1 == 0).into(),
        FieldType::Enum => values[(seed as usize) % values.len()].clone().into(),
        FieldType::SubjectId => credseal_testkit::synthetic::synthetic_subject(seed).to_string().into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn ingest_then_read_back(class_ix in 0usize..64, subject in 0u64..1_000_000, seed in any::<u64>(),
                             text in "[\\p{Han}a-zA-Z0-9 ,.()-]{1,80}", rid in "[A-Za-z0-9._:/-]{1,40}", version in 1u32..5) {
        let cat = catalog();
        let class = cat.classes.values().nth(class_ix % cat.classes.len()).unwrap();
        let mut fields = serde_json::Map::new();
        for (i, f) in class.fields.iter().enumerate() {
            if f.required || seed % 3 != 0 {
                fields.insert(f.name.clone(), value_for(&f.ty, &f.values, f.max_len, seed.wrapping_add(i as u64), &text));
            }
        }
        let line = serde_json::json!({
            "record_id": rid, "subject": credseal_testkit::synthetic::synthetic_subject(subject).to_string(),
            "class": class.id, "source": "prop-source", "effective": "2025-01-31", "version": version, "fields": fields,
        });
        let rec = Record::from_json(&line, &cat).unwrap();
        let p = platform().p;
        let d = tempfile::tempdir().unwrap();
        let f = write(d.path(), "p.jsonl", format!("{line}\n").as_bytes());
        let s = p.ingest_file(&f, &NoProgress).unwrap();
        prop_assert_eq!(s.written, 1);
        prop_assert_eq!(common::records(&p, &rec.subject, &class.id).unwrap(), vec![rec]);
    }
}
