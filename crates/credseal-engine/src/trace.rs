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

use std::collections::{BTreeMap, HashSet};

use credseal_core::{BlindId, Catalog, FieldValue, Record, RecordBody, canonical_value};
use credseal_log::{Action, Actor, Outcome, ReceiptBody};
use credseal_store::{Batch, Store, Tree};
use serde::Serialize;

use credseal_crypto::Keystore;

use crate::components::appender::SUBJ_CHAIN;
use crate::components::incident::Incident;
use crate::components::vault::{FP_SET, fingerprint_set_mac, put_fingerprint_set};
use crate::error::{EngineError, Result};
use crate::leak::{ExportMark, LeakIssue};
use crate::platform::Platform;

/// Trace-key label of a field fingerprint.
pub(crate) const FINGERPRINT_LABEL: &[u8] = b"credseal:v1:fingerprint";
// The fingerprint sets' storage format and MAC live with the trace key, in the vault.
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
    /// The text encoding the file was read in (`UTF-8`, `gb18030`, `UTF-16LE`, …).
    pub encoding: String,
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

/// Whether a receipt released data: a granted query or self-query.
pub(crate) fn is_disclosure(b: &ReceiptBody) -> bool {
    matches!(b.action, Action::Query | Action::SelfQuery) && b.outcome == Outcome::Granted
}

/// A disclosure as a trace lists it, from its receipt (signature already verified).
pub(crate) fn traced(index: u64, b: ReceiptBody, items: u64, fields: BTreeMap<String, u64>) -> TracedDisclosure {
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
pub(crate) enum SetProblem {
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
    pub(crate) fn into_error(self) -> EngineError {
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
pub(crate) fn fingerprint_with(
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

/// The fingerprints of every field value of `records` (of subject `blind`), in record order,
/// repeats kept: the vault's `put_fingerprint_set` sorts them and drops repeats when it
/// stores a set. Fields the catalogue does not define, or values with no canonical form, have
/// none.
pub(crate) fn record_fingerprints(
    catalog: &Catalog,
    ks: &Keystore,
    blind: &BlindId,
    records: &[Record],
) -> Vec<[u8; 32]> {
    // One expansion of the trace key for all of them.
    let mac = ks.trace_key.expand();
    let mut out = Vec::new();
    for r in records {
        push_fingerprints(catalog, &mac, blind, &r.class, &r.fields, &mut out);
    }
    out
}

/// Appends to `out` the fingerprints of the `fields` of one record of `class`.
fn push_fingerprints(
    catalog: &Catalog,
    mac: &credseal_crypto::TraceMac,
    blind: &BlindId,
    class: &str,
    fields: &BTreeMap<String, FieldValue>,
    out: &mut Vec<[u8; 32]>,
) {
    let Some(def) = catalog.class(class) else {
        return;
    };
    // The start every field's fingerprint shares (`fingerprint_with`), hashed once per record.
    let start = mac.prefix(
        FINGERPRINT_LABEL,
        &[blind.as_bytes(), &[class.len() as u8], class.as_bytes()],
    );
    for (name, value) in fields {
        let Some(f) = def.field(name) else { continue };
        if let Some(c) = canonical_value(&f.ty, value) {
            let c = zeroize::Zeroizing::new(c);
            out.push(start.digest(&[&[name.len() as u8], name.as_bytes(), c.as_bytes()]));
        }
    }
}

/// Reads one stored fingerprint set: its key, its length against its count, its MAC (with
/// `ks`'s trace key), and its order. Returns the disclosure (log index) and its fingerprints.
pub(crate) fn open_set_with<'a>(
    ks: &Keystore,
    k: &[u8],
    v: &'a [u8],
) -> std::result::Result<(u64, &'a [[u8; 32]]), SetProblem> {
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
    let want = fingerprint_set_mac(ks, index, fps);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&mac[..], &want[..])) {
        return Err(SetProblem::Mac(index));
    }
    if fps.windows(2).any(|w| w[0] >= w[1]) {
        return Err(SetProblem::Order(index));
    }
    Ok((index, fps))
}

/// What a shred destroys of the fingerprints (docs/design.md §9): the fingerprints of the
/// `shredded` records' values (records of `class` of subject `blind`) that no `kept` record
/// of the same subject and class still holds. (A fingerprint names subject, class, field and
/// value, not the record: a value a surviving record still carries stays traceable, since
/// the platform still holds it and disclosed it.)
pub(crate) fn shredded_fingerprints(
    catalog: &Catalog,
    ks: &Keystore,
    blind: &BlindId,
    class: &str,
    shredded: &[RecordBody],
    kept: &[RecordBody],
) -> HashSet<[u8; 32]> {
    let mac = ks.trace_key.expand();
    let mut out = Vec::new();
    for r in shredded {
        push_fingerprints(catalog, &mac, blind, class, &r.fields, &mut out);
    }
    let mut dead: HashSet<[u8; 32]> = out.drain(..).collect();
    if !dead.is_empty() {
        for r in kept {
            push_fingerprints(catalog, &mac, blind, class, &r.fields, &mut out);
        }
        for fp in &out {
            dead.remove(fp);
        }
    }
    dead
}

/// Removes the fingerprints `dead` from the stored sets of `blind`'s disclosures (found
/// through the subject's chain of receipts), writing each changed set again — re-sorted
/// and re-MACed — into `batch`, to be committed atomically with the shred that destroys the
/// values. A set that does not authenticate stops the shred (it is never laundered into a
/// valid one). Returns the number of fingerprints removed.
pub(crate) fn scrub_fingerprints(
    store: &dyn Store,
    ks: &Keystore,
    blind: &BlindId,
    dead: &HashSet<[u8; 32]>,
    batch: &mut Batch,
) -> Result<u64> {
    if dead.is_empty() {
        return Ok(0);
    }
    let mut prefix = vec![SUBJ_CHAIN];
    prefix.extend_from_slice(blind.as_bytes());
    let mut removed = 0u64;
    for kv in store.scan_prefix(Tree::SubjectReceipts, &prefix) {
        let (_, idx) = kv?;
        let idx: [u8; 8] = idx.as_slice().try_into().map_err(|_| EngineError::Corrupt {
            what: "subject receipt index".into(),
            detail: "not 8 bytes".into(),
        })?;
        let key = [&[FP_SET][..], &idx[..]].concat();
        // Receipts that released nothing have no set.
        let Some(v) = store.get(Tree::Fingerprints, &key)? else {
            continue;
        };
        let (index, fps) = open_set_with(ks, &key, &v).map_err(SetProblem::into_error)?;
        let kept: Vec<[u8; 32]> = fps.iter().filter(|fp| !dead.contains(*fp)).copied().collect();
        if kept.len() < fps.len() {
            removed += (fps.len() - kept.len()) as u64;
            put_fingerprint_set(ks, batch, index, &kept);
        }
    }
    Ok(removed)
}

/// Leak tracing through the incident component (the facade's delegations).
impl Platform {
    /// The incident component over this platform's parts: a view of references, made per
    /// call (no lock, no clone).
    pub(crate) fn incident(&self) -> Incident<'_> {
        Incident {
            store: self.store.as_ref(),
            catalog: &self.catalog,
            origin: self.origin(),
            vault: &self.vault,
            appender: &self.appender,
            gate: &self.gate,
            canaries: &self.canary,
        }
    }

    /// The fingerprints of every field value of `records`, in record order, repeats kept:
    /// The vault's `put_fingerprint_set` sorts them and drops repeats when it stores the set.
    pub(crate) fn fingerprints_of(&self, ks: &Keystore, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]> {
        self.incident().fingerprints_of(ks, blind, records)
    }

    /// Checks the fingerprint storage against the log in one pass over the sets: every key is
    /// a well-formed set whose length, MAC and order check out; then every granted disclosure
    /// of the signed log has its set and no set belongs to anything else. Returns the number
    /// of fingerprints checked (the sum of the counts).
    pub fn verify_fingerprints(&self) -> Result<u64> {
        self.incident().verify_fingerprints()
    }

    /// Traces leaked material (JSON Lines, CSV or an export) back to the disclosures that
    /// released it. `request` is the responder's signed staff request for action `trace`
    /// over exactly `leak` (its SHA-256). Appends a receipt (actor: the responder), and one
    /// in the chain of each subject whose disclosures it matched, in the same group commit.
    pub fn trace(&self, request: &str, leak: &[u8], now: u64) -> Result<TraceReport> {
        self.incident().trace(request, leak, None, now)
    }

    /// [`Platform::trace`] with the leak's text encoding chosen: a WHATWG label (`gb18030`,
    /// `big5`, `shift_jis`, `utf-16le`, …); `None` detects it (a byte-order mark, else UTF-8
    /// if the bytes are valid UTF-8, else GB18030).
    pub fn trace_in(&self, request: &str, leak: &[u8], encoding: Option<&str>, now: u64) -> Result<TraceReport> {
        self.incident().trace(request, leak, encoding, now)
    }
}

#[cfg(test)]
mod tests {
    use credseal_core::{FieldType, SubjectId};
    use credseal_store::{Batch, Tree};

    use super::*;
    use crate::components::gate::StaffRole;

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

    /// A disclosure's fingerprints (one record prefix hashed once, `TraceMac::prefix`) are
    /// exactly `fingerprint_with` of every defined field, which `trace` computes from leaks.
    #[test]
    fn record_fingerprints_are_fingerprint_with_of_every_defined_field() {
        use credseal_core::Date;
        let p = platform();
        let ks = p.keys();
        let blind = BlindId([9; 32]);
        let subject = SubjectId::parse("11010519491231002X").unwrap();
        let mut records = Vec::new();
        let mut want = Vec::new();
        let mac = ks.trace_key.expand();
        for def in p.catalog.classes.values() {
            let mut fields = std::collections::BTreeMap::new();
            for f in &def.fields {
                let v = match f.ty {
                    FieldType::Text => FieldValue::Text(format!("Text of {}", f.name)),
                    FieldType::Enum => FieldValue::Text(f.values.first().cloned().unwrap_or_default()),
                    FieldType::Integer => FieldValue::Integer(-42),
                    FieldType::Bool => FieldValue::Bool(true),
                    FieldType::Date => FieldValue::Date(Date::new(2024, 2, 29).unwrap()),
                    FieldType::SubjectId => FieldValue::SubjectId(subject.clone()),
                    FieldType::Amount => continue,
                };
                fields.insert(f.name.clone(), v);
            }
            // A field the catalogue does not define has no fingerprint.
            fields.insert("not-in-the-catalogue".into(), FieldValue::Text("x".into()));
            // In the record's field order, as released.
            for (name, v) in &fields {
                if let Some(f) = def.field(name)
                    && let Some(c) = canonical_value(&f.ty, v)
                {
                    want.push(fingerprint_with(&mac, &blind, &def.id, name, &c));
                }
            }
            records.push(Record {
                record_id: format!("r-{}", def.id),
                subject: subject.clone(),
                class: def.id.clone(),
                source: "dept".into(),
                effective: Date::new(2024, 1, 1).unwrap(),
                version: 1,
                supersedes: None,
                fields,
            });
        }
        assert!(
            want.len() > p.catalog.classes.len(),
            "the catalogue's fields were fingerprinted"
        );
        assert_eq!(record_fingerprints(&p.catalog, &ks, &blind, &records), want);
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
        let (index, fps) = p.incident().open_set(k, v).unwrap();
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
            assert!(matches!(
                p.incident().open_set(&set_key(0), &v),
                Err(SetProblem::Order(0))
            ));
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
        let blind = p.blind(&SubjectId::parse("11010519491231002X").unwrap()).unwrap();
        let name = credseal_core::canonical(&FieldType::Text, "Li Lei").unwrap();
        put_set(&p, 1000, &[p.incident().fingerprint(&blind, "identity", "name", &name)]);
        let e = p.verify_fingerprints().unwrap_err();
        assert!(
            e.to_string()
                .contains("fingerprints of disclosure 1000: name a receipt the log does not hold"),
            "{e}"
        );
        let responder = credseal_auth::SigningKey::generate();
        let b = p
            .gate
            .enroll_staff(
                &p.keys(),
                StaffRole::Responder,
                "r",
                responder.public().as_bytes(),
                false,
            )
            .unwrap();
        p.store.apply(b).unwrap();
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

    fn judgment(case: &str, court: &str) -> RecordBody {
        let mut fields = BTreeMap::new();
        fields.insert("case_number".to_string(), credseal_core::FieldValue::Text(case.into()));
        fields.insert("court".to_string(), credseal_core::FieldValue::Text(court.into()));
        RecordBody {
            record_id: format!("JD-{case}"),
            source: "court".into(),
            effective: credseal_core::Date::new(2026, 1, 1).unwrap(),
            supersedes: None,
            fields,
        }
    }

    /// A shred destroys the fingerprints of the shredded record's values, except those a
    /// surviving record of the same subject and class still holds; the subject's sets lose
    /// exactly those, keep their MAC valid, and a set edited on disk stops the shred.
    #[test]
    fn shred_removes_only_the_fingerprints_no_surviving_record_holds() {
        let p = platform();
        let ks = p.keys();
        let blind = p.blind(&SubjectId::parse("11010519491231002X").unwrap()).unwrap();
        let other = p.blind(&SubjectId::parse("110108198305300564").unwrap()).unwrap();
        let gone = judgment("A-1", "Chaoyang court");
        let kept = judgment("B-2", "Chaoyang court");
        let dead = shredded_fingerprints(
            &p.catalog,
            &ks,
            &blind,
            "judgments",
            std::slice::from_ref(&gone),
            &[kept],
        );
        let fp = |b: &BlindId, field: &str, v: &str| {
            let c = credseal_core::canonical(&FieldType::Text, v).unwrap();
            p.incident().fingerprint(b, "judgments", field, &c)
        };
        let case_a = fp(&blind, "case_number", "A-1");
        let court = fp(&blind, "court", "Chaoyang court");
        assert_eq!(
            dead,
            HashSet::from([case_a]),
            "the court is still held by the kept record"
        );
        // Disclosure 0 of the subject released both values; disclosure 1 of another subject
        // holds the same court (another BlindId, another fingerprint) and is not in the chain.
        let other_court = fp(&other, "court", "Chaoyang court");
        put_set(&p, 0, &[case_a, court]);
        put_set(&p, 1, &[other_court]);
        let mut b = Batch::new();
        let chain = [&[SUBJ_CHAIN][..], blind.as_bytes(), &1u64.to_be_bytes()].concat();
        b.put(Tree::SubjectReceipts, chain, 0u64.to_be_bytes().to_vec());
        p.store.apply(b).unwrap();
        let mut batch = Batch::new();
        assert_eq!(
            scrub_fingerprints(&*p.store, &ks, &blind, &dead, &mut batch).unwrap(),
            1
        );
        p.store.apply(batch).unwrap();
        let v = p.store.get(Tree::Fingerprints, &set_key(0)).unwrap().unwrap();
        assert_eq!(p.incident().open_set(&set_key(0), &v).unwrap(), (0, &[court][..]));
        let v = p.store.get(Tree::Fingerprints, &set_key(1)).unwrap().unwrap();
        assert_eq!(p.incident().open_set(&set_key(1), &v).unwrap(), (1, &[other_court][..]));
        // Nothing left to remove: nothing written.
        let mut batch = Batch::new();
        assert_eq!(
            scrub_fingerprints(&*p.store, &ks, &blind, &dead, &mut batch).unwrap(),
            0
        );
        assert!(batch.is_empty());
        // A set edited on disk is never rewritten with a valid MAC: the shred stops.
        let mut v = p.store.get(Tree::Fingerprints, &set_key(0)).unwrap().unwrap();
        v[4] ^= 1;
        let mut b = Batch::new();
        b.put(Tree::Fingerprints, set_key(0), v);
        p.store.apply(b).unwrap();
        let e = scrub_fingerprints(&*p.store, &ks, &blind, &HashSet::from([court]), &mut Batch::new()).unwrap_err();
        assert!(e.to_string().contains("fails authentication"), "{e}");
    }
}
