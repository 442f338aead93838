//! Canary subjects (docs/design.md §9): synthetic subjects a security officer plants among the real
//! ones. They have valid ids (correct check digits) and plausible records, ingested like any
//! other; only the keystore can tell them apart. Any query that touches one — granted or
//! denied — is flagged in its receipt ([`FLAG_CANARY`]) and raises a [`CanaryAlert`] at once.
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

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};

use credseal_core::{BlindId, Catalog, Date, FieldType, Record, SubjectId};
use credseal_crypto::aead::{NONCE_LEN, open_in_place, seal_in_place};
use credseal_log::{Action, Actor, Outcome};
use credseal_store::{Batch, Tree};
use serde::Serialize;
use zeroize::Zeroizing;

pub use credseal_log::FLAG_CANARY;

use crate::components::gate::StaffRole;
use crate::error::{EngineError, Result};
use crate::log::NewReceipt;
use crate::platform::Platform;

/// Meta key of the encrypted canary set.
const META_CANARIES: &[u8] = b"canaries";
/// Trace-key label of the canary set's encryption key.
pub(crate) const CANARY_KEY_LABEL: &[u8] = b"credseal:v1:canary-key";
/// AAD prefix of the canary set (followed by the origin).
pub(crate) const CANARY_AAD: &[u8] = b"credseal:v1:canaries";
/// The set is padded to a multiple of this many entries.
const PAD_TO: usize = 64;
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

/// The platform's decrypted canary set, cached by the digest of its stored bytes.
#[derive(Default)]
pub(crate) struct CanaryState {
    cache: crate::memo::Memo<[u8; 32], Arc<HashSet<BlindId>>>,
    pub(crate) sink: Mutex<Option<AlertSink>>,
}

impl std::fmt::Debug for CanaryState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CanaryState")
    }
}

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
/// catalogue exactly as ingest checks it.
fn synthetic_person(catalog: &Catalog) -> Result<(SubjectId, Vec<serde_json::Value>)> {
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
            "effective": date_between((2018, 1, 1), (2025, 12, 31)).to_string(),
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

impl Platform {
    fn canary_key(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.keys().trace_key.digest(CANARY_KEY_LABEL, &[]))
    }

    fn canary_aad(&self) -> Vec<u8> {
        let mut aad = CANARY_AAD.to_vec();
        aad.extend_from_slice(self.origin().as_bytes());
        aad
    }

    /// The canary set, decrypted (cached while its stored bytes do not change).
    pub(crate) fn canaries(&self) -> Result<Arc<HashSet<BlindId>>> {
        let Some(v) = self.store.get(Tree::Meta, META_CANARIES)? else {
            return Ok(Arc::default());
        };
        self.canary.cache.get_or_try(credseal_crypto::sha256(&v), || {
            let bad = || EngineError::Corrupt {
                what: "canary set".into(),
                detail: "does not open with this keystore (edited on disk)".into(),
            };
            if v.len() < NONCE_LEN {
                return Err(bad());
            }
            // Cannot fail: the length was checked to be at least NONCE_LEN above.
            let nonce: [u8; NONCE_LEN] = v[..NONCE_LEN].try_into().expect("12");
            let mut buf = Zeroizing::new(v[NONCE_LEN..].to_vec());
            open_in_place(&self.canary_key(), &nonce, &self.canary_aad(), &mut buf).map_err(|_| bad())?;
            if buf.len() < 4 || (buf.len() - 4) % 32 != 0 {
                return Err(bad());
            }
            // Cannot fail: the length was checked to be at least 4 above.
            let n = u32::from_be_bytes(buf[..4].try_into().expect("4")) as usize;
            if n * 32 > buf.len() - 4 {
                return Err(bad());
            }
            let set: HashSet<BlindId> = buf[4..4 + n * 32]
                .chunks_exact(32)
                // Cannot fail: chunks_exact(32) yields 32-byte slices only.
                .map(|c| BlindId(c.try_into().expect("32")))
                .collect();
            Ok(Arc::new(set))
        })
    }

    /// Whether `blind` is a canary subject.
    pub(crate) fn is_canary(&self, blind: &BlindId) -> Result<bool> {
        Ok(self.canaries()?.contains(blind))
    }

    fn store_canaries(&self, set: &BTreeSet<BlindId>) -> Result<()> {
        let padded = set.len().div_ceil(PAD_TO).max(1) * PAD_TO;
        let mut buf = Zeroizing::new(Vec::with_capacity(4 + padded * 32 + 16));
        buf.extend_from_slice(&(set.len() as u32).to_be_bytes());
        for b in set {
            buf.extend_from_slice(b.as_bytes());
        }
        let mut pad = vec![0u8; (padded - set.len()) * 32];
        credseal_crypto::fill_random(&mut pad);
        buf.extend_from_slice(&pad);
        let nonce: [u8; NONCE_LEN] = credseal_crypto::random_array();
        seal_in_place(&self.canary_key(), &nonce, &self.canary_aad(), &mut buf);
        let mut v = nonce.to_vec();
        v.extend_from_slice(&buf);
        let mut b = Batch::new();
        b.put(Tree::Meta, META_CANARIES, v);
        self.store.apply(b)?;
        self.store.flush()?;
        Ok(())
    }

    /// Sets where alerts go (default: nowhere; the receipt flag and `audit alerts` remain).
    pub fn set_alert_sink(&self, sink: AlertSink) {
        if let Ok(mut s) = self.canary.sink.lock() {
            *s = Some(sink);
        }
    }

    /// Raises an alert for a committed receipt that touched a canary.
    pub(crate) fn raise_alert(&self, alert: CanaryAlert) {
        let sink = self.canary.sink.lock().ok().and_then(|s| s.clone());
        if let Some(f) = sink {
            f(&alert);
        }
    }

    /// Plants `count` canary subjects. `request` is an officer's staff request for action
    /// `canary-plant` over the parameters `count=<count>`. Appends a receipt (actor: the
    /// officer; the detail names no subject and no count).
    pub fn plant_canaries(&self, request: &str, count: u32, now: u64) -> Result<PlantReport> {
        let digest = credseal_crypto::sha256(format!("count={count}").as_bytes());
        let officer = self.verify_staff_request(request, StaffRole::Officer, "canary-plant", &digest, now)?;
        if count == 0 || count > MAX_PLANT {
            return Err(EngineError::invalid(
                "canary count",
                format!("{count} is not in 1..={MAX_PLANT}"),
            ));
        }
        let mut set: BTreeSet<BlindId> = self.canaries()?.iter().copied().collect();
        let mut file = tempfile::Builder::new()
            .prefix("credseal-canary-")
            .suffix(".jsonl")
            .tempfile()
            .map_err(|e| EngineError::Io {
                path: std::env::temp_dir(),
                detail: format!("temporary file: {e}"),
            })?;
        let mut planted = BTreeSet::new();
        let mut subjects = Vec::with_capacity(count as usize);
        let mut records = 0u64;
        let mut tries = 0;
        while planted.len() < count as usize {
            tries += 1;
            if tries > count as usize * 20 + 100 {
                return Err(EngineError::Internal(
                    "could not find unused synthetic subject ids".into(),
                ));
            }
            let (subject, lines) = synthetic_person(&self.catalog)?;
            let blind = self.blind(&subject);
            if set.contains(&blind) || planted.contains(&blind) || self.vault.load_subject(&blind)?.is_some() {
                continue;
            }
            for l in &lines {
                writeln!(file, "{l}").map_err(|e| EngineError::io(file.path(), e))?;
                records += 1;
            }
            planted.insert(blind);
            subjects.push(subject);
        }
        file.flush().map_err(|e| EngineError::io(file.path(), e))?;
        self.ingest_file(file.path(), &crate::NoProgress)?;
        drop(file);
        set.extend(planted.iter().copied());
        self.store_canaries(&set)?;
        let committed = self
            .append_receipts(
                vec![NewReceipt {
                    actor: Actor::Officer { id: officer },
                    action: Action::Admin,
                    detail: "canary subjects planted".into(),
                    subject: None,
                    classes: BTreeSet::new(),
                    purpose: String::new(),
                    token_hash: Some(credseal_crypto::sha256(request.trim().as_bytes())),
                    outcome: Outcome::Done,
                    release_digest: None,
                    disclose_after: None,
                    flags: 0,
                    fingerprints: None,
                    marks: Vec::new(),
                }],
                now,
            )?
            .pop()
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?;
        Ok(PlantReport {
            planted: count,
            records,
            total: set.len() as u64,
            receipt: committed.index,
            subjects,
        })
    }

    /// The canary subjects' ids are never returned: only whether a BlindId is one, for tests.
    #[doc(hidden)]
    pub fn is_canary_subject(&self, id: &SubjectId) -> Result<bool> {
        self.is_canary(&self.blind(id))
    }
}
