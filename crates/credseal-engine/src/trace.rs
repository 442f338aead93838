//! Leak tracing (DESIGN §9): disclosure fingerprints and `trace`.
//!
//! For every field a granted query releases, the platform stores
//!
//! ```text
//! fp = HMAC-SHA-256(trace key, "credseal:v1:fingerprint" ‖ BlindId ‖ u8 len ‖ class
//!                   ‖ u8 len ‖ field ‖ canonical value)
//! ```
//!
//! (canonical forms: [`credseal_core::canonical`]) in the `Fingerprints` tree, in the same
//! atomic batch as the disclosure's receipt:
//!
//! ```text
//! 'f' ‖ fp ‖ index (u64 BE)  →  HMAC(trace key, "credseal:v1:fingerprint-entry" ‖ fp ‖ index)[..16]
//! 'd' ‖ index (u64 BE)       →  count (u32 BE) ‖ HMAC(trace key, "credseal:v1:fingerprint-set"
//!                                 ‖ index ‖ count ‖ the disclosure's fps, sorted)
//! ```
//!
//! Never the value: without the trace key a fingerprint cannot be tested against a guess.
//! A lookup is one prefix scan per candidate fingerprint. An entry whose MAC fails stops a
//! trace (exit 4); [`Platform::verify_fingerprints`] (`credseal check`) recomputes every
//! disclosure's set from the entries and checks it against the signed receipts, so an entry
//! added, moved or deleted on disk is found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use credseal_core::{BlindId, Record, canonical};
use credseal_log::{Action, Actor, Outcome, ReceiptBody};
use credseal_store::{Batch, Tree};
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::leak::{ExportMark, LeakIssue, parse_leak};
use crate::log::NewReceipt;
use crate::platform::Platform;
use crate::staff::StaffRole;

/// Trace-key label of a field fingerprint.
pub const FINGERPRINT_LABEL: &[u8] = b"credseal:v1:fingerprint";
/// Trace-key label of the MAC of one stored fingerprint entry.
pub const FP_ENTRY_LABEL: &[u8] = b"credseal:v1:fingerprint-entry";
/// Trace-key label of the MAC over a disclosure's fingerprint set.
pub const FP_SET_LABEL: &[u8] = b"credseal:v1:fingerprint-set";
/// `Fingerprints` key prefix of entries (fp ‖ index).
const FP_ENTRY: u8 = b'f';
/// `Fingerprints` key prefix of per-disclosure sets (index).
const FP_SET: u8 = b'd';
/// Length of an entry's MAC.
const ENTRY_MAC_LEN: usize = 16;
/// Most disclosures listed in a trace report (the rest are counted).
pub const MAX_LISTED: usize = 200;

/// One disclosure that explains part of a leak.
#[derive(Clone, Debug, Serialize)]
pub struct TracedDisclosure {
    /// The disclosure id: its receipt's log index.
    pub disclosure: u64,
    /// Receipt time (Unix seconds).
    pub time: u64,
    /// The department, or `subject` for a self-query.
    pub department: String,
    /// The credential serial it used (`None` for a self-query).
    pub credential_serial: Option<u64>,
    /// The purpose of the query.
    pub purpose: String,
    /// How many of the leak's items it released.
    pub items: u64,
    /// The matching fields (`class.field`) with their counts.
    pub fields: BTreeMap<String, u64>,
}

/// A department's share of a leak.
#[derive(Clone, Debug, Serialize)]
pub struct TracedDepartment {
    /// The department (or `subject` for self-queries).
    pub department: String,
    /// How many of the leak's items any of its disclosures released.
    pub items: u64,
    /// How many of its disclosures matched.
    pub disclosures: u64,
}

/// What an export mark in the leak file names.
#[derive(Clone, Debug, Serialize)]
pub struct MarkReport {
    /// The mark as read.
    pub mark: ExportMark,
    /// The disclosure, if the mark names one of this platform's granted disclosures.
    pub disclosure: Option<TracedDisclosure>,
    /// Why it names none.
    pub problem: Option<String>,
}

/// The result of a trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    /// `jsonl`, `csv`, `csv-export` or `json-export`.
    pub format: String,
    /// Rows read (lines or records).
    pub rows: u64,
    /// Distinct (subject, field, value) items read.
    pub items: u64,
    /// Items some disclosure released.
    pub matched_items: u64,
    /// Items no disclosure released (unknown subject, never disclosed, or another value).
    pub unmatched_items: u64,
    /// Distinct subjects in the leak.
    pub subjects: u64,
    /// Subjects none of whose items matched. An unknown subject looks exactly like a known
    /// subject that was never disclosed: a trace is no existence oracle.
    pub unmatched_subjects: u64,
    /// Departments ranked by how many items they explain.
    pub departments: Vec<TracedDepartment>,
    /// Disclosures ranked by how many items they explain (at most [`MAX_LISTED`]).
    pub disclosures: Vec<TracedDisclosure>,
    /// Matching disclosures not listed.
    pub more_disclosures: u64,
    /// Lines or values that could not be read (never the values themselves).
    pub issues: Vec<LeakIssue>,
    /// Issues not listed.
    pub more_issues: u64,
    /// Columns that name no catalogue field.
    pub unknown_columns: Vec<String>,
    /// The export mark, if the file carries one.
    pub export_mark: Option<MarkReport>,
    /// The log index of this trace's own receipt.
    pub receipt: u64,
}

fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

impl Platform {
    /// The fingerprint of one field value (already canonical).
    pub(crate) fn fingerprint(&self, blind: &BlindId, class: &str, field: &str, canonical: &str) -> [u8; 32] {
        self.keys.trace_key.digest(
            FINGERPRINT_LABEL,
            &[
                blind.as_bytes(),
                &[class.len() as u8],
                class.as_bytes(),
                &[field.len() as u8],
                field.as_bytes(),
                canonical.as_bytes(),
            ],
        )
    }

    /// The fingerprints of every field value of `records` (sorted, without repeats).
    pub(crate) fn fingerprints_of(&self, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]> {
        let mut out = Vec::new();
        for r in records {
            let Some(class) = self.catalog.class(&r.class) else {
                continue;
            };
            for (name, value) in &r.fields {
                let Some(def) = class.field(name) else { continue };
                let text = zeroize::Zeroizing::new(value.to_string());
                if let Some(c) = canonical(&def.ty, &text) {
                    let c = zeroize::Zeroizing::new(c);
                    out.push(self.fingerprint(blind, &r.class, name, &c));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn entry_mac(&self, fp: &[u8; 32], index: u64) -> [u8; 32] {
        self.keys.trace_key.digest(FP_ENTRY_LABEL, &[fp, &be(index)])
    }

    fn set_mac(&self, index: u64, sorted: &[[u8; 32]]) -> [u8; 32] {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(sorted.len() + 2);
        let i = be(index);
        let n = (sorted.len() as u32).to_be_bytes();
        parts.push(&i);
        parts.push(&n);
        parts.extend(sorted.iter().map(|f| &f[..]));
        self.keys.trace_key.digest(FP_SET_LABEL, &parts)
    }

    /// Adds a disclosure's fingerprint entries and its set to `batch` (the receipt's batch).
    pub(crate) fn put_fingerprints(&self, batch: &mut Batch, index: u64, fps: &[[u8; 32]]) {
        let mut sorted = fps.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for fp in &sorted {
            let mut k = Vec::with_capacity(41);
            k.push(FP_ENTRY);
            k.extend_from_slice(fp);
            k.extend_from_slice(&be(index));
            batch.put(
                Tree::Fingerprints,
                k,
                self.entry_mac(fp, index)[..ENTRY_MAC_LEN].to_vec(),
            );
        }
        let mut k = vec![FP_SET];
        k.extend_from_slice(&be(index));
        let mut v = (sorted.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&self.set_mac(index, &sorted));
        batch.put(Tree::Fingerprints, k, v);
    }

    /// The disclosures (log indexes) that released the value with fingerprint `fp`, each
    /// entry's MAC checked.
    pub(crate) fn disclosures_of(&self, fp: &[u8; 32]) -> Result<Vec<u64>> {
        let mut prefix = vec![FP_ENTRY];
        prefix.extend_from_slice(fp);
        let mut out = Vec::new();
        for kv in self.store.scan_prefix(Tree::Fingerprints, &prefix) {
            let (k, v) = kv?;
            let bad = || EngineError::Corrupt {
                what: "fingerprint storage".into(),
                detail: "an entry fails authentication (edited on disk); run `credseal check`".into(),
            };
            let index = k
                .get(33..41)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .filter(|_| k.len() == 41)
                .ok_or_else(bad)?;
            let want = self.entry_mac(fp, index);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(&v[..], &want[..ENTRY_MAC_LEN])) {
                return Err(bad());
            }
            out.push(index);
        }
        Ok(out)
    }

    /// The receipt at `index`, its signature verified.
    pub(crate) fn receipt_at(&self, index: u64) -> Result<ReceiptBody> {
        let v = self
            .store
            .get(Tree::LogLeaves, &be(index))?
            .ok_or_else(|| EngineError::NotFound(format!("no receipt {index} in the log")))?;
        let verifier = self.log_key_history()?;
        let r = verifier.verify_receipt(&v).map_err(|e| EngineError::Corrupt {
            what: format!("receipt {index}"),
            detail: e.to_string(),
        })?;
        if r.body().index != index {
            return Err(EngineError::Corrupt {
                what: format!("receipt {index}"),
                detail: format!("says it is receipt {}", r.body().index),
            });
        }
        Ok(r.body().clone())
    }

    /// Checks the fingerprint storage against the log: every granted disclosure has its
    /// set, every set's MAC matches the entries stored under its index, no entry or set
    /// belongs to anything else. Returns the number of fingerprint entries checked.
    pub fn verify_fingerprints(&self) -> Result<u64> {
        let bad = |what: String, detail: &str| EngineError::Corrupt {
            what,
            detail: detail.to_string(),
        };
        let mut entries: HashMap<u64, Vec<[u8; 32]>> = HashMap::new();
        let mut sets: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut n = 0u64;
        for kv in self.store.scan_prefix(Tree::Fingerprints, &[]) {
            let (k, v) = kv?;
            match (k.first(), k.len()) {
                (Some(&FP_ENTRY), 41) => {
                    // Cannot fail: the match arm requires a 41-byte key: tag, 32-byte fingerprint, 8-byte index.
                    let fp: [u8; 32] = k[1..33].try_into().expect("32");
                    let index = u64::from_be_bytes(k[33..].try_into().expect("8"));
                    let want = self.entry_mac(&fp, index);
                    if !bool::from(subtle::ConstantTimeEq::ct_eq(&v[..], &want[..ENTRY_MAC_LEN])) {
                        return Err(bad(
                            format!("fingerprint entry of disclosure {index}"),
                            "fails authentication (edited on disk)",
                        ));
                    }
                    entries.entry(index).or_default().push(fp);
                    n += 1;
                }
                (Some(&FP_SET), 9) => {
                    // Cannot fail: the match arm requires a 9-byte key: tag and 8-byte index.
                    sets.insert(u64::from_be_bytes(k[1..].try_into().expect("8")), v);
                }
                _ => return Err(bad("fingerprint storage".into(), "malformed key")),
            }
        }
        let size = self.log_size()?;
        let verifier = self.log_key_history()?;
        for kv in self.store.scan_prefix(Tree::LogLeaves, &[]) {
            let (k, v) = kv?;
            let index = u64::from_be_bytes(
                k.as_slice()
                    .try_into()
                    .map_err(|_| bad("log leaf key".into(), "not 8 bytes"))?,
            );
            let r = verifier.verify_receipt(&v).map_err(|e| EngineError::Corrupt {
                what: format!("receipt {index}"),
                detail: e.to_string(),
            })?;
            let b = r.body();
            let disclosure = matches!(b.action, Action::Query | Action::SelfQuery) && b.outcome == Outcome::Granted;
            let set = sets.remove(&index);
            let mut fps = entries.remove(&index).unwrap_or_default();
            match (disclosure, set) {
                (false, None) if fps.is_empty() => {}
                (false, _) => {
                    return Err(bad(
                        format!("fingerprints of receipt {index}"),
                        "present for a receipt that released nothing",
                    ));
                }
                (true, None) => {
                    return Err(bad(
                        format!("fingerprints of disclosure {index}"),
                        "missing (deleted on disk)",
                    ));
                }
                (true, Some(set)) => {
                    fps.sort_unstable();
                    let mac = self.set_mac(index, &fps);
                    let mut want = (fps.len() as u32).to_be_bytes().to_vec();
                    want.extend_from_slice(&mac);
                    if !bool::from(subtle::ConstantTimeEq::ct_eq(&set[..], &want[..])) {
                        return Err(bad(
                            format!("fingerprints of disclosure {index}"),
                            "do not match their set (an entry was added, moved or deleted on disk)",
                        ));
                    }
                }
            }
        }
        if let Some(i) = sets.keys().chain(entries.keys()).find(|i| **i >= size) {
            return Err(bad(
                format!("fingerprints of disclosure {i}"),
                "name a receipt the log does not hold",
            ));
        }
        Ok(n)
    }

    fn traced(&self, index: u64, items: u64, fields: BTreeMap<String, u64>) -> Result<TracedDisclosure> {
        let b = self.receipt_at(index)?;
        let (department, credential_serial) = match b.actor {
            Actor::Department { id, credential_serial } => (id, Some(credential_serial)),
            Actor::Subject => ("subject".to_string(), None),
            other => (format!("{other:?}"), None),
        };
        Ok(TracedDisclosure {
            disclosure: index,
            time: b.time,
            department,
            credential_serial,
            purpose: b.purpose,
            items,
            fields,
        })
    }

    /// Traces leaked material (JSON Lines, CSV or an export) back to the disclosures that
    /// released it. `request` is the responder's signed staff request for action `trace`
    /// over exactly `leak` (its SHA-256). Appends a receipt (actor: the responder).
    pub fn trace(&self, request: &str, leak: &[u8], now: u64) -> Result<TraceReport> {
        let digest = credseal_crypto::sha256(leak);
        let responder = self.verify_staff_request(request, StaffRole::Responder, "trace", &digest, now)?;
        let parsed = parse_leak(leak, &self.catalog)?;
        // Distinct items, by their candidate fingerprints.
        let mut items: BTreeMap<Vec<[u8; 32]>, (BlindId, Vec<String>)> = BTreeMap::new();
        for it in &parsed.items {
            let blind = self.blind(&it.subject);
            let mut fps = Vec::with_capacity(it.candidates.len());
            let mut names = Vec::with_capacity(it.candidates.len());
            for (c, f, v) in &it.candidates {
                fps.push(self.fingerprint(&blind, c, f, v));
                names.push(format!("{c}.{f}"));
            }
            items.entry(fps).or_insert((blind, names));
        }
        if items.is_empty() && parsed.mark.is_none() {
            return Err(EngineError::Invalid(format!(
                "the leak file holds no readable (subject, field, value) item ({} rows, {} problems, {} columns that name no catalogue field)",
                parsed.rows,
                parsed.issues.len() as u64 + parsed.more_issues,
                parsed.unknown_columns.len()
            )));
        }
        let mut per_disclosure: HashMap<u64, (u64, BTreeMap<String, u64>)> = HashMap::new();
        let mut matched = 0u64;
        let mut subjects: HashMap<BlindId, bool> = HashMap::new();
        // Items explained per department: (department → set of item numbers).
        let mut matched_by: Vec<Vec<u64>> = Vec::new();
        for (fps, (blind, names)) in &items {
            let mut hit: BTreeSet<u64> = BTreeSet::new();
            for (fp, name) in fps.iter().zip(names) {
                for index in self.disclosures_of(fp)? {
                    if hit.insert(index) {
                        let e = per_disclosure.entry(index).or_default();
                        e.0 += 1;
                        *e.1.entry(name.clone()).or_default() += 1;
                    }
                }
            }
            let any = !hit.is_empty();
            matched += u64::from(any);
            *subjects.entry(*blind).or_default() |= any;
            matched_by.push(hit.into_iter().collect());
        }
        // Departments: an item counts once per department however many of its disclosures hold it.
        let mut dept_of: HashMap<u64, String> = HashMap::new();
        let mut disclosures = Vec::with_capacity(per_disclosure.len());
        for (index, (n, fields)) in per_disclosure {
            let d = self.traced(index, n, fields)?;
            dept_of.insert(index, d.department.clone());
            disclosures.push(d);
        }
        let mut dept_items: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for d in &disclosures {
            dept_items.entry(d.department.clone()).or_default().1 += 1;
        }
        for hits in &matched_by {
            let ds: BTreeSet<&String> = hits.iter().filter_map(|i| dept_of.get(i)).collect();
            for d in ds {
                dept_items.entry(d.clone()).or_default().0 += 1;
            }
        }
        let mut departments: Vec<TracedDepartment> = dept_items
            .into_iter()
            .map(|(department, (items, disclosures))| TracedDepartment {
                department,
                items,
                disclosures,
            })
            .collect();
        departments.sort_by(|a, b| b.items.cmp(&a.items).then(a.department.cmp(&b.department)));
        disclosures.sort_by(|a, b| b.items.cmp(&a.items).then(a.disclosure.cmp(&b.disclosure)));
        let more_disclosures = disclosures.len().saturating_sub(MAX_LISTED) as u64;
        disclosures.truncate(MAX_LISTED);
        let export_mark = parsed.mark.clone().map(|m| self.mark_report(m));
        let receipt = NewReceipt {
            actor: Actor::Responder { id: responder },
            action: Action::Trace,
            detail: format!(
                "trace: {} items, {} matched, {} disclosures",
                items.len(),
                matched,
                disclosures.len() as u64 + more_disclosures
            ),
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
        };
        let committed = self
            .append_receipts(vec![receipt], now)?
            .pop()
            .ok_or_else(|| EngineError::Invalid("no receipt".into()))?;
        Ok(TraceReport {
            format: parsed.format.to_string(),
            rows: parsed.rows,
            items: items.len() as u64,
            matched_items: matched,
            unmatched_items: items.len() as u64 - matched,
            subjects: subjects.len() as u64,
            unmatched_subjects: subjects.values().filter(|m| !**m).count() as u64,
            departments,
            disclosures,
            more_disclosures,
            issues: parsed.issues,
            more_issues: parsed.more_issues,
            unknown_columns: parsed.unknown_columns.into_iter().collect(),
            export_mark,
            receipt: committed.index,
        })
    }

    fn mark_report(&self, mark: ExportMark) -> MarkReport {
        let problem = |p: &str| MarkReport {
            mark: mark.clone(),
            disclosure: None,
            problem: Some(p.to_string()),
        };
        if mark.origin != self.origin() {
            return problem("the mark names another platform");
        }
        match self.receipt_at(mark.disclosure) {
            Ok(b) if matches!(b.action, Action::Query | Action::SelfQuery) && b.outcome == Outcome::Granted => {
                match self.traced(mark.disclosure, 0, BTreeMap::new()) {
                    Ok(d) => MarkReport {
                        mark,
                        disclosure: Some(d),
                        problem: None,
                    },
                    Err(_) => problem("the receipt it names does not verify"),
                }
            }
            Ok(_) => problem("the mark names a receipt that is not a granted disclosure"),
            Err(EngineError::NotFound(_)) => problem("the mark names a disclosure this log does not hold"),
            Err(_) => problem("the receipt it names does not verify"),
        }
    }
}
