//! Leak tracing (docs/design.md §9): disclosure fingerprints and `trace`.
//!
//! For every field a granted query releases, the platform computes
//!
//! ```text
//! fp = HMAC-SHA-256(trace key, "credseal:v1:fingerprint" ‖ BlindId ‖ u8 len ‖ class
//!                   ‖ u8 len ‖ field ‖ canonical value)
//! ```
//!
//! (canonical forms: [`credseal_core::canonical`]) and stores the disclosure's fingerprints
//! as one entry of the `Fingerprints` tree, in the same atomic batch as its receipt:
//!
//! ```text
//! 'd' ‖ index (u64 BE)  →  count (u32 BE) ‖ fp₁ ‖ … ‖ fpₙ (sorted, no repeats)
//!                          ‖ HMAC(trace key, "credseal:v1:fingerprint-set" ‖ index ‖ count ‖ fp₁ ‖ … ‖ fpₙ)
//! ```
//!
//! Never the value: without the trace key a fingerprint cannot be tested against a guess.
//! One entry per disclosure keeps the query's durable commit small (one write, not one per
//! released field). The price: a trace reads every stored set once — linear in the
//! fingerprints stored, not one prefix lookup per leaked value (`credseal bench trace`; the
//! target is 1,000,000 stored fingerprints in under 2 s). A set whose key, length, MAC or
//! order is wrong stops a trace (exit 4), as does one naming a receipt that is not a
//! granted disclosure; [`Platform::verify_fingerprints`] (`credseal check`) checks every set and that a set exists
//! exactly for the granted disclosures of the signed log, so a set edited, deleted, moved to
//! another index or added is found.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use credseal_core::{BlindId, Record, canonical_value};
use credseal_log::{Action, Actor, Outcome, ReceiptBody};
use credseal_store::Tree;
use serde::Serialize;

use credseal_crypto::Keystore;

use crate::components::gate::StaffRole;
use crate::error::{EngineError, Result};
use crate::leak::{ExportMark, LeakIssue, parse_leak};
use crate::log::NewReceipt;
use crate::platform::Platform;

/// Trace-key label of a field fingerprint.
pub(crate) const FINGERPRINT_LABEL: &[u8] = b"credseal:v1:fingerprint";
// The fingerprint sets' storage format and MAC live with the trace key, in the vault.
use crate::components::vault::FP_SET;
#[cfg(test)]
use crate::components::vault::FP_SET_LABEL;
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

/// Whether a receipt released data: a granted query or self-query.
fn is_disclosure(b: &ReceiptBody) -> bool {
    matches!(b.action, Action::Query | Action::SelfQuery) && b.outcome == Outcome::Granted
}

/// A disclosure as a trace lists it, from its receipt (signature already verified).
fn traced(index: u64, b: ReceiptBody, items: u64, fields: BTreeMap<String, u64>) -> TracedDisclosure {
    let (department, credential_serial) = match b.actor {
        Actor::Department { id, credential_serial } => (id, Some(credential_serial)),
        Actor::Subject => ("subject".to_string(), None),
        other => (format!("{other:?}"), None),
    };
    TracedDisclosure {
        disclosure: index,
        time: b.time,
        department,
        credential_serial,
        purpose: b.purpose,
        items,
        fields,
    }
}

/// Why a stored fingerprint set does not open.
#[derive(Clone, Copy, Debug)]
enum SetProblem {
    /// The key is not `'d'` ‖ index (u64 BE).
    Key,
    /// The value's length does not match its count.
    Length(u64),
    /// The MAC does not match the index, count and fingerprints.
    Mac(u64),
    /// The fingerprints are not strictly increasing (only someone holding the trace key
    /// can write such a set).
    Order(u64),
}

impl SetProblem {
    /// The error `credseal check` reports.
    fn into_error(self) -> EngineError {
        let (what, detail) = match self {
            SetProblem::Key => ("fingerprint storage".to_string(), "malformed key"),
            SetProblem::Length(i) => (
                format!("fingerprint set of disclosure {i}"),
                "is malformed: its length does not match its count (edited on disk)",
            ),
            SetProblem::Mac(i) => (
                format!("fingerprint set of disclosure {i}"),
                "fails authentication (edited on disk)",
            ),
            SetProblem::Order(i) => (
                format!("fingerprint set of disclosure {i}"),
                "is not in strictly increasing order",
            ),
        };
        EngineError::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

/// The fingerprint of one field value (already canonical), with the expanded trace key.
fn fingerprint_with(
    mac: &credseal_crypto::TraceMac,
    blind: &BlindId,
    class: &str,
    field: &str,
    canonical: &str,
) -> [u8; 32] {
    mac.digest(
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

impl Platform {
    /// The fingerprint of one field value (already canonical).
    #[cfg(test)]
    pub(crate) fn fingerprint(&self, blind: &BlindId, class: &str, field: &str, canonical: &str) -> [u8; 32] {
        fingerprint_with(&self.keys().trace_key.expand(), blind, class, field, canonical)
    }

    /// The fingerprints of every field value of `records`, in record order, repeats kept:
    /// The vault's `put_fingerprint_set` sorts them and drops repeats when it stores the set.
    pub(crate) fn fingerprints_of(&self, ks: &Keystore, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]> {
        // One expansion of the trace key for all of them.
        let mac = ks.trace_key.expand();
        let mut out = Vec::new();
        for r in records {
            let Some(class) = self.catalog.class(&r.class) else {
                continue;
            };
            for (name, value) in &r.fields {
                let Some(def) = class.field(name) else { continue };
                if let Some(c) = canonical_value(&def.ty, value) {
                    let c = zeroize::Zeroizing::new(c);
                    out.push(fingerprint_with(&mac, blind, &r.class, name, &c));
                }
            }
        }
        out
    }

    /// Reads one stored set: its key, its length against its count, its MAC, and its order.
    /// Returns the disclosure (log index) and its fingerprints.
    fn open_set<'a>(&self, k: &[u8], v: &'a [u8]) -> std::result::Result<(u64, &'a [[u8; 32]]), SetProblem> {
        let index = match k.split_first() {
            Some((&FP_SET, i)) => u64::from_be_bytes(i.try_into().map_err(|_| SetProblem::Key)?),
            _ => return Err(SetProblem::Key),
        };
        let (count, rest) = v.split_first_chunk::<4>().ok_or(SetProblem::Length(index))?;
        let (body, mac) = rest.split_last_chunk::<32>().ok_or(SetProblem::Length(index))?;
        let (fps, partial) = body.as_chunks::<32>();
        if !partial.is_empty() || fps.len() as u64 != u64::from(u32::from_be_bytes(*count)) {
            return Err(SetProblem::Length(index));
        }
        let want = crate::components::vault::fingerprint_set_mac(&self.keys(), index, fps);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&mac[..], &want[..])) {
            return Err(SetProblem::Mac(index));
        }
        if fps.windows(2).any(|w| w[0] >= w[1]) {
            return Err(SetProblem::Order(index));
        }
        Ok((index, fps))
    }

    /// For each item (its candidate fingerprints, in order), the disclosures that released
    /// any of them, ascending, each with the position of the first candidate it released.
    /// One pass over the stored sets; a set that does not open stops the trace.
    fn explain(&self, items: &[&[[u8; 32]]]) -> Result<Vec<Vec<(u64, usize)>>> {
        let mut wanted: HashMap<[u8; 32], Vec<(usize, usize)>> = HashMap::new();
        for (item, fps) in items.iter().enumerate() {
            for (pos, fp) in fps.iter().enumerate() {
                wanted.entry(*fp).or_default().push((item, pos));
            }
        }
        let mut out = vec![Vec::new(); items.len()];
        let mut found: Vec<(usize, usize)> = Vec::new();
        for kv in self.store.scan_prefix(Tree::Fingerprints, &[FP_SET]) {
            let (k, v) = kv?;
            let (index, fps) = self.open_set(&k, &v).map_err(|_| EngineError::Corrupt {
                what: "fingerprint storage".into(),
                detail: "an entry fails authentication (edited on disk); run `credseal check`".into(),
            })?;
            found.clear();
            for fp in fps {
                if let Some(w) = wanted.get(fp) {
                    found.extend_from_slice(w);
                }
            }
            // By item, then candidate position: the first of each item is its first candidate.
            found.sort_unstable();
            let mut last = None;
            for &(item, pos) in &found {
                if last != Some(item) {
                    out[item].push((index, pos));
                    last = Some(item);
                }
            }
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

    /// Checks the fingerprint storage against the log in one pass over the sets: every key is
    /// a well-formed set whose length, MAC and order check out; then every granted disclosure
    /// of the signed log has its set and no set belongs to anything else. Returns the number
    /// of fingerprints checked (the sum of the counts).
    pub fn verify_fingerprints(&self) -> Result<u64> {
        let bad = |what: String, detail: &str| EngineError::Corrupt {
            what,
            detail: detail.to_string(),
        };
        let size = self.log_size()?;
        let mut sets: BTreeSet<u64> = BTreeSet::new();
        let mut n = 0u64;
        for kv in self.store.scan_prefix(Tree::Fingerprints, &[]) {
            let (k, v) = kv?;
            let (index, fps) = self.open_set(&k, &v).map_err(SetProblem::into_error)?;
            sets.insert(index);
            n += fps.len() as u64;
        }
        if let Some(i) = sets.range(size..).next() {
            return Err(bad(
                format!("fingerprints of disclosure {i}"),
                "name a receipt the log does not hold",
            ));
        }
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
            match (is_disclosure(r.body()), sets.remove(&index)) {
                (true, true) | (false, false) => {}
                (false, true) => {
                    return Err(bad(
                        format!("fingerprints of receipt {index}"),
                        "present for a receipt that released nothing",
                    ));
                }
                (true, false) => {
                    return Err(bad(
                        format!("fingerprints of disclosure {index}"),
                        "missing (deleted on disk)",
                    ));
                }
            }
        }
        if let Some(i) = sets.first() {
            return Err(bad(
                format!("fingerprints of disclosure {i}"),
                "name a receipt the log does not hold",
            ));
        }
        Ok(n)
    }

    /// Traces leaked material (JSON Lines, CSV or an export) back to the disclosures that
    /// released it. `request` is the responder's signed staff request for action `trace`
    /// over exactly `leak` (its SHA-256). Appends a receipt (actor: the responder).
    pub fn trace(&self, request: &str, leak: &[u8], now: u64) -> Result<TraceReport> {
        let digest = credseal_crypto::sha256(leak);
        let responder = self.verify_staff_request(request, StaffRole::Responder, "trace", &digest, now)?;
        let parsed = parse_leak(leak, &self.catalog)?;
        // Distinct items, by their candidate fingerprints.
        let mut distinct: BTreeMap<Vec<[u8; 32]>, (BlindId, Vec<String>)> = BTreeMap::new();
        let mac = self.keys().trace_key.expand();
        for it in &parsed.items {
            let blind = self.blind(&it.subject);
            let mut fps = Vec::with_capacity(it.candidates.len());
            let mut names = Vec::with_capacity(it.candidates.len());
            for (c, f, v) in &it.candidates {
                fps.push(fingerprint_with(&mac, &blind, c, f, v));
                names.push(format!("{c}.{f}"));
            }
            distinct.entry(fps).or_insert((blind, names));
        }
        if distinct.is_empty() && parsed.mark.is_none() {
            return Err(EngineError::invalid(
                "leak file",
                format!(
                    "it holds no readable (subject, field, value) item ({} rows, {} problems, {} columns that name no catalogue field)",
                    parsed.rows,
                    parsed.issues.len() as u64 + parsed.more_issues,
                    parsed.unknown_columns.len()
                ),
            ));
        }
        let items: Vec<_> = distinct.into_iter().collect();
        let candidates: Vec<&[[u8; 32]]> = items.iter().map(|(fps, _)| fps.as_slice()).collect();
        let explained = self.explain(&candidates)?;
        let mut per_disclosure: HashMap<u64, (u64, BTreeMap<String, u64>)> = HashMap::new();
        let mut matched = 0u64;
        let mut subjects: HashMap<BlindId, bool> = HashMap::new();
        // Items explained per department: (department → set of item numbers).
        let mut matched_by: Vec<Vec<u64>> = Vec::with_capacity(items.len());
        for ((_, (blind, names)), hits) in items.iter().zip(&explained) {
            // A disclosure counts an item once, under the first candidate field it released.
            for &(index, pos) in hits {
                let e = per_disclosure.entry(index).or_default();
                e.0 += 1;
                *e.1.entry(names[pos].clone()).or_default() += 1;
            }
            let any = !hits.is_empty();
            matched += u64::from(any);
            *subjects.entry(*blind).or_default() |= any;
            matched_by.push(hits.iter().map(|&(index, _)| index).collect());
        }
        // Departments: an item counts once per department however many of its disclosures hold it.
        let mut dept_of: HashMap<u64, String> = HashMap::new();
        let mut disclosures = Vec::with_capacity(per_disclosure.len());
        for (index, (n, fields)) in per_disclosure {
            // A set that authenticates but names no granted disclosure was written with the
            // trace key by something other than a query: refuse rather than rank it.
            let names = |what: &str| EngineError::Corrupt {
                what: "fingerprint storage".into(),
                detail: format!("a set names receipt {index}, which {what}; run `credseal check`"),
            };
            let b = match self.receipt_at(index) {
                Err(EngineError::NotFound(_)) => return Err(names("the log does not hold")),
                other => other?,
            };
            if !is_disclosure(&b) {
                return Err(names("released nothing"));
            }
            let d = traced(index, b, n, fields);
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
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?;
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
            Ok(b) if is_disclosure(&b) => MarkReport {
                disclosure: Some(traced(mark.disclosure, b, 0, BTreeMap::new())),
                mark,
                problem: None,
            },
            Ok(_) => problem("the mark names a receipt that is not a granted disclosure"),
            Err(EngineError::NotFound(_)) => problem("the mark names a disclosure this log does not hold"),
            Err(_) => problem("the receipt it names does not verify"),
        }
    }
}

#[cfg(test)]
mod tests {
    use credseal_core::{FieldType, SubjectId};
    use credseal_store::Batch;

    use super::*;

    fn platform() -> Platform {
        let text = include_str!("../../../keys-example/catalog.toml");
        let catalog = credseal_core::Catalog::parse(text, None).unwrap();
        let classes: Vec<&str> = catalog.classes.keys().map(String::as_str).collect();
        let kdf = credseal_crypto::KdfParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
        let digest = credseal_crypto::sha256(text.as_bytes());
        let keys = credseal_crypto::Keystore::generate("t.invalid/log", &classes, digest, 1, kdf);
        Platform::in_memory(catalog, keys).unwrap()
    }

    fn set_key(index: u64) -> Vec<u8> {
        [&[FP_SET][..], &index.to_be_bytes()].concat()
    }

    fn put_set(p: &Platform, index: u64, fps: &[[u8; 32]]) {
        let mut b = Batch::new();
        crate::components::vault::put_fingerprint_set(&p.keys(), &mut b, index, fps);
        p.store.apply(b).unwrap();
    }

    /// A disclosure's fingerprints are one entry: `'d'` ‖ index → count ‖ the fingerprints
    /// sorted without repeats ‖ HMAC(trace key, label ‖ index ‖ count ‖ fp₁ ‖ … ‖ fpₙ).
    #[test]
    fn set_is_one_entry_of_sorted_fingerprints() {
        let p = platform();
        let (a, b, c) = ([3u8; 32], [1u8; 32], [2u8; 32]);
        put_set(&p, 7, &[a, b, a, c]);
        let all: Vec<(Vec<u8>, Vec<u8>)> = p
            .store
            .scan_prefix(Tree::Fingerprints, &[])
            .map(|kv| kv.unwrap())
            .collect();
        assert_eq!(all.len(), 1, "one entry per disclosure");
        let (k, v) = &all[0];
        assert_eq!(k, &set_key(7));
        let mac = p
            .keys()
            .trace_key
            .digest(FP_SET_LABEL, &[&7u64.to_be_bytes(), &3u32.to_be_bytes(), &b, &c, &a]);
        let want = [&3u32.to_be_bytes()[..], &b, &c, &a, &mac].concat();
        assert_eq!(v, &want);
        let (index, fps) = p.open_set(k, v).unwrap();
        assert_eq!((index, fps), (7, &[b, c, a][..]));
    }

    /// A set whose fingerprints are out of order or repeated is refused even with a valid
    /// MAC (only the trace key could make one): the encoding is canonical.
    #[test]
    fn set_out_of_order_with_a_valid_mac_is_refused() {
        let p = platform();
        for fps in [[[2u8; 32], [1u8; 32]], [[1u8; 32], [1u8; 32]]] {
            let v = [
                &2u32.to_be_bytes()[..],
                fps.as_flattened(),
                &crate::components::vault::fingerprint_set_mac(&p.keys(), 0, &fps),
            ]
            .concat();
            assert!(matches!(p.open_set(&set_key(0), &v), Err(SetProblem::Order(0))));
            let mut b = Batch::new();
            b.put(Tree::Fingerprints, set_key(0), v);
            p.store.apply(b).unwrap();
            let e = p.verify_fingerprints().unwrap_err();
            assert!(
                e.to_string()
                    .contains("fingerprint set of disclosure 0: is not in strictly increasing order"),
                "{e}"
            );
        }
    }

    /// A set that authenticates but names a receipt past the end of the log: `credseal
    /// check` finds it, and a trace whose leak it matches refuses instead of ranking it.
    #[test]
    fn set_beyond_the_log_is_refused() {
        let p = platform();
        let blind = p.blind(&SubjectId::parse("11010519491231002X").unwrap());
        let name = credseal_core::canonical(&FieldType::Text, "Li Lei").unwrap();
        put_set(&p, 1000, &[p.fingerprint(&blind, "identity", "name", &name)]);
        let e = p.verify_fingerprints().unwrap_err();
        assert!(
            e.to_string()
                .contains("fingerprints of disclosure 1000: name a receipt the log does not hold"),
            "{e}"
        );
        let responder = credseal_auth::SigningKey::generate();
        p.enroll_staff(StaffRole::Responder, "r", responder.public().as_bytes(), false)
            .unwrap();
        let leak = b"subject,identity.name\n11010519491231002X,LI  LEI\n";
        let now = crate::clock::Clock::now(&crate::SystemClock).unwrap();
        let request = credseal_auth::sign(
            &credseal_auth::StaffRequest {
                request_id: credseal_crypto::random_array(),
                role: "responder".into(),
                staff_key: responder.public(),
                action: "trace".into(),
                input_digest: credseal_crypto::sha256(leak),
                issued_at: now,
                expires_at: now + 300,
                audience: p.origin().into(),
            },
            &responder,
        )
        .to_text();
        let e = p.trace(&request, leak, now).unwrap_err();
        assert_eq!(e.class(), crate::ErrorClass::Verification, "{e}");
        assert!(
            e.to_string()
                .contains("a set names receipt 1000, which the log does not hold"),
            "{e}"
        );
    }
}
