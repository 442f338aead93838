//! Canary subjects (docs/design.md §9): synthetic subjects a security officer plants among the real
//! ones. They have valid ids (correct check digits) and plausible records, ingested like any
//! other; only the keystore can tell them apart. Any query that touches one — granted or
//! denied — raises a [`CanaryAlert`] at once, and `audit alerts` lists it later: the review
//! reads the query receipts and tests their subject against the canary set. The receipt
//! itself carries no mark: the department receives it inside its answer (and the subject in
//! its bundle), so its `flags` stay 0 and nothing it holds tells a canary from a real
//! subject. [`FLAG_CANARY`] is kept only to read receipts written before; it is never set.
//!
//! Where the marking lives: one `Meta` entry holding the set of canary BlindIds encrypted
//! with AES-256-GCM under `HMAC-SHA-256(trace key, "credseal:v1:canary-key")`, its AAD
//! binding it to this platform's origin:
//!
//! ```text
//! "canaries" → nonce (12) ‖ AES-256-GCM(count u32 BE ‖ BlindId × count ‖ random padding)
//! ```
//!
//! The padding fills the set to a multiple of 64 entries, so the database shows at most
//! how many canaries there are to the nearest 64. Nobody holding the database alone learns
//! which subjects are canaries.
//!
//! The synthetic records go through the ordinary ingest from a temporary file (mode 0600,
//! in the system temporary directory, removed when the ingest ends); they hold no real
//! person's data.

use std::sync::Arc;

use credseal_core::{BlindId, Catalog, Date, FieldType, Record, SubjectId};
use serde::Serialize;

pub use credseal_log::FLAG_CANARY;

use crate::error::{EngineError, Result};
use crate::platform::Platform;

/// Meta key of the encrypted canary set.
pub(crate) const META_CANARIES: &[u8] = b"canaries";
/// Trace-key label of the canary set's encryption key.
pub(crate) const CANARY_KEY_LABEL: &[u8] = b"credseal:v1:canary-key";
/// AAD prefix of the canary set (followed by the origin).
pub(crate) const CANARY_AAD: &[u8] = b"credseal:v1:canaries";
/// The set is padded to a multiple of this many entries.
pub(crate) const PAD_TO: usize = 64;
/// Most canaries planted at once.
pub const MAX_PLANT: u32 = 10_000;

/// A query touched a canary subject.
#[derive(Clone, Debug, Serialize)]
pub struct CanaryAlert {
    /// The query's receipt index.
    pub receipt: u64,
    /// Receipt time.
    pub time: u64,
    /// Who queried (department id, or `subject`).
    pub department: String,
    /// The credential serial.
    pub credential_serial: Option<u64>,
    /// The purpose.
    pub purpose: String,
    /// `granted` or `denied (<code>)`.
    pub outcome: String,
}

/// Receives alerts as they happen (the CLI prints them on stderr).
pub type AlertSink = Arc<dyn Fn(&CanaryAlert) + Send + Sync>;

/// What `canary plant` did.
#[derive(Clone, Debug, Serialize)]
pub struct PlantReport {
    /// Canaries planted now.
    pub planted: u32,
    /// Records ingested for them.
    pub records: u64,
    /// Canaries on the platform in all.
    pub total: u64,
    /// The log index of the officer's receipt.
    pub receipt: u64,
    /// The ids planted now, for the officer only (`canary plant --ids-out`); never stored
    /// in the clear and never printed by default.
    #[serde(skip)]
    pub subjects: Vec<SubjectId>,
}

fn random_u64() -> u64 {
    u64::from_be_bytes(credseal_crypto::random_array())
}

fn pick<'a>(xs: &'a [&'a str]) -> &'a str {
    xs[(random_u64() % xs.len() as u64) as usize]
}

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
];
const GIVEN: [&str; 16] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
];
const CITIES: [(&str, &str, &str); 6] = [
    ("110105", "北京市朝阳区", "建国路"),
    ("310104", "上海市徐汇区", "漕溪北路"),
    ("440106", "广东省广州市天河区", "天河路"),
    ("420106", "湖北省武汉市武昌区", "中南路"),
    ("510107", "四川省成都市武侯区", "人民南路"),
    ("330106", "浙江省杭州市西湖区", "文三路"),
];
const SOURCES: [&str; 6] = [
    "psb-beijing",
    "psb-shanghai",
    "icbc-guangzhou",
    "ccb-wuhan",
    "tax-chengdu",
    "amr-hangzhou",
];

fn date_between(a: (u16, u8, u8), b: (u16, u8, u8)) -> Date {
    // Cannot fail: the bounds are constant, valid calendar dates with a <= b.
    let lo = Date::new(a.0, a.1, a.2).expect("date").days_since_epoch();
    let hi = Date::new(b.0, b.1, b.2).expect("date").days_since_epoch();
    Date::from_days_since_epoch(lo + (random_u64() % (hi - lo + 1) as u64) as i64).expect("in range")
}

/// A plausible synthetic person and one record per chosen class, each checked against the
/// catalogue exactly as ingest checks it, effective within the year before `today` (inside
/// every class's retention, so ingest takes them and queries release them).
pub(crate) fn synthetic_person(catalog: &Catalog, today: Date) -> Result<(SubjectId, Vec<serde_json::Value>)> {
    let (region, city, street) = CITIES[(random_u64() % CITIES.len() as u64) as usize];
    let born = date_between((1960, 1, 1), (2000, 12, 31));
    let (y, m, d) = born.ymd();
    let subject = SubjectId::resident_from_body(&format!("{region}{y:04}{m:02}{d:02}{:03}", random_u64() % 1000))
        .ok_or_else(|| EngineError::Internal("could not form a synthetic subject id".into()))?;
    let name = format!("{}{}{}", pick(&SURNAMES), pick(&GIVEN), pick(&GIVEN));
    // Identity always (if the catalogue has it), then up to two other classes.
    let mut classes: Vec<&str> = catalog.classes.keys().map(String::as_str).collect();
    classes.retain(|c| *c != "identity");
    let mut chosen: Vec<&str> = catalog.class("identity").map(|_| "identity").into_iter().collect();
    for _ in 0..1 + random_u64() % 2 {
        if classes.is_empty() {
            break;
        }
        let i = (random_u64() % classes.len() as u64) as usize;
        chosen.push(classes.swap_remove(i));
    }
    let mut lines = Vec::new();
    for class in chosen {
        // Cannot fail: `chosen` was drawn from the catalogue's own class ids.
        let def = catalog.class(class).expect("from the catalogue");
        let mut fields = serde_json::Map::new();
        for f in def.fields.iter().filter(|f| f.required) {
            let n = f.name.as_str();
            let v: serde_json::Value = match &f.ty {
                FieldType::Text if n.contains("name") || n.contains("representative") => name.clone().into(),
                FieldType::Text if n.contains("address") => format!(
                    "{city}{street}{}号{}室",
                    1 + random_u64() % 999,
                    101 + random_u64() % 2400
                )
                .into(),
                FieldType::Text => format!(
                    "{}-{}-{:06}",
                    class.chars().take(3).collect::<String>().to_uppercase(),
                    2015 + random_u64() % 11,
                    random_u64() % 1_000_000
                )
                .into(),
                FieldType::Enum if n == "id_type" && f.values.iter().any(|v| v == "resident-identity-card") => {
                    "resident-identity-card".into()
                }
                FieldType::Enum => f.values[(random_u64() % f.values.len() as u64) as usize].clone().into(),
                FieldType::Date if n.starts_with("born") => born.to_string().into(),
                FieldType::Date => date_between((2015, 1, 1), (2025, 12, 31)).to_string().into(),
                FieldType::Amount => format!("{}.{:02}", 1000 + random_u64() % 500_000, random_u64() % 100).into(),
                FieldType::Integer => (random_u64() % 100).into(),
                FieldType::Bool => random_u64().is_multiple_of(2).into(),
                FieldType::SubjectId => subject.to_string().into(),
            };
            let v = match (v, f.max_len) {
                (serde_json::Value::String(s), Some(max)) => s.chars().take(max as usize).collect::<String>().into(),
                (v, _) => v,
            };
            fields.insert(f.name.clone(), v);
        }
        let line = serde_json::json!({
            "record_id": format!(
                "{}-{}-{:06}",
                class.chars().take(2).collect::<String>().to_uppercase(),
                2015 + random_u64() % 11,
                random_u64() % 1_000_000
            ),
            "subject": subject.as_str(),
            "class": class,
            "source": pick(&SOURCES),
            "effective": Date::from_days_since_epoch(today.days_since_epoch() - 30 - (random_u64() % 330) as i64)
                .unwrap_or(today)
                .to_string(),
            "version": 1,
            "fields": fields,
        });
        Record::from_json(&line, catalog).map_err(|issues| {
            EngineError::Internal(format!(
                "a synthetic {class} record does not fit the catalogue ({} problems, first in field {})",
                issues.len(),
                issues.first().map_or("?", |i| i.field.as_str())
            ))
        })?;
        lines.push(line);
    }
    Ok((subject, lines))
}

/// Canary subjects through the incident component (the facade's delegations).
impl Platform {
    /// Whether `blind` is a canary subject.
    pub(crate) fn is_canary(&self, blind: &BlindId) -> Result<bool> {
        self.incident().is_canary(blind)
    }

    /// Sets where alerts go (default: nowhere; `audit alerts` still lists every canary query).
    pub fn set_alert_sink(&self, sink: AlertSink) {
        self.incident().set_alert_sink(sink)
    }

    /// Raises an alert for a committed receipt that touched a canary.
    pub(crate) fn raise_alert(&self, alert: CanaryAlert) {
        self.incident().raise_alert(alert)
    }

    /// Plants `count` canary subjects. `request` is an officer's staff request for action
    /// `canary-plant` over the parameters `count=<count>`. Appends a receipt (actor: the
    /// officer; the detail names no subject and no count).
    pub fn plant_canaries(&self, request: &str, count: u32, now: u64) -> Result<PlantReport> {
        self.incident()
            .plant_canaries(request, count, now, |file| self.ingest_file(file, &crate::NoProgress))
    }

    /// The canary subjects' ids are never returned: only whether a BlindId is one, for tests.
    #[doc(hidden)]
    pub fn is_canary_subject(&self, id: &SubjectId) -> Result<bool> {
        self.incident().is_canary_subject(id)
    }
}
