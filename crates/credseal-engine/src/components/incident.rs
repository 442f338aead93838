//! The incident component: leak tracing (disclosure fingerprints, the check of the
//! fingerprint storage, `trace`), canary subjects (the encrypted canary set, planting,
//! alerts and where they go) and the access review (canary alerts and department reports
//! from the signed receipts).
//!
//! [`Incident`] is a view over the parts it uses, made for one call: the store, the
//! catalogue, the vault (trace key, fingerprint-set MAC, log key history, subjects), the
//! appender (its own receipts), the gate (staff requests) and the canary state
//! ([`Canaries`], owned by whoever holds the components). The formats and report types stay
//! in `trace`, `canary`, `audit` and `leak`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use credseal_core::{BlindId, Catalog, Date, Record, SubjectId};
use credseal_crypto::Keystore;
use credseal_crypto::aead::{NONCE_LEN, open_in_place, seal_in_place};
use credseal_log::{Action, Actor, FLAG_CANARY, Outcome, ReceiptBody};
use credseal_store::{Batch, Store, Tree};
use zeroize::Zeroizing;

use crate::audit::{AuditReport, Q, report_params, review};
use crate::canary::{
    AlertSink, CANARY_AAD, CANARY_KEY_LABEL, CanaryAlert, MAX_PLANT, META_CANARIES, PAD_TO, PlantReport,
    synthetic_person,
};
use crate::components::appender::Appender;
use crate::components::gate::{Gate, StaffRole};
use crate::components::vault::{FP_SET, Vault};
use crate::error::{EngineError, Result};
use crate::ingest::IngestSummary;
use crate::leak::{ExportMark, parse_leak_in};
use crate::log::{Committed, NewReceipt};
use crate::logtree::be;
use crate::trace::{
    MAX_LISTED, MarkReport, SetProblem, TraceReport, TracedDepartment, fingerprint_with, is_disclosure, open_set_with,
    record_fingerprints, traced,
};

/// The decrypted canary set, cached by the digest of its stored bytes, and where alerts go.
#[derive(Default)]
pub(crate) struct Canaries {
    cache: crate::memo::Memo<[u8; 32], Arc<HashSet<BlindId>>>,
    sink: Mutex<Option<AlertSink>>,
}

impl std::fmt::Debug for Canaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canaries")
    }
}

/// What a trace matched of one subject's data: the content of that subject's receipt.
#[derive(Default)]
struct SubjectTrace {
    /// Leak items about the subject that some disclosure released.
    items: u64,
    /// The classes of the matched fields.
    classes: BTreeSet<String>,
}

/// Leak tracing, canaries and the access review over borrowed parts (see the module doc).
/// Cheap to make: references only, no lock taken and nothing read until a method runs.
#[derive(Clone, Copy)]
pub(crate) struct Incident<'a> {
    /// The store: fingerprint sets, log leaves, the canary set.
    pub(crate) store: &'a dyn Store,
    /// The catalogue (fields to fingerprint, leak columns, synthetic records).
    pub(crate) catalog: &'a Catalog,
    /// The log origin (the canary set's AAD, export marks).
    pub(crate) origin: &'a str,
    /// The keystore (trace key, index key, log key history) and the subjects.
    pub(crate) vault: &'a Vault,
    /// Where this component's receipts go.
    pub(crate) appender: &'a Appender,
    /// Checks staff requests.
    pub(crate) gate: &'a Gate,
    /// The canary set's cache and the alert sink.
    pub(crate) canaries: &'a Canaries,
}

impl Incident<'_> {
    /// The keystore snapshot for one step.
    fn keys(&self) -> Arc<Keystore> {
        self.vault.keys()
    }

    fn origin(&self) -> &str {
        self.origin
    }

    fn blind(&self, id: &SubjectId) -> Result<BlindId> {
        self.vault.blind(&self.keys(), id)
    }

    fn log_key_history(&self) -> Result<credseal_log::KeyHistory> {
        self.vault.log_key_history(self.origin)
    }

    fn log_size(&self) -> Result<u64> {
        self.appender.log_size()
    }

    fn append_receipts(&self, items: Vec<NewReceipt>, now: u64) -> Result<Vec<Committed>> {
        self.appender.append(self.vault, items, now)
    }

    fn verify_staff_request(
        &self,
        text: &str,
        role: StaffRole,
        action: &str,
        input_digest: &[u8; 32],
        now: u64,
    ) -> Result<String> {
        self.gate
            .verify_staff_request(&self.keys(), text, role, action, input_digest, now)
    }

    // Leak tracing: fingerprints, the fingerprint storage, `trace`.
    /// The fingerprint of one field value (already canonical).
    #[cfg(test)]
    pub(crate) fn fingerprint(&self, blind: &BlindId, class: &str, field: &str, canonical: &str) -> [u8; 32] {
        fingerprint_with(&self.keys().trace_key.expand(), blind, class, field, canonical)
    }

    /// The fingerprints of every field value of `records`, in record order, repeats kept:
    /// The vault's `put_fingerprint_set` sorts them and drops repeats when it stores the set.
    pub(crate) fn fingerprints_of(&self, ks: &Keystore, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]> {
        record_fingerprints(self.catalog, ks, blind, records)
    }

    /// Reads one stored set: its key, its length against its count, its MAC, and its order.
    /// Returns the disclosure (log index) and its fingerprints.
    pub(crate) fn open_set<'a>(&self, k: &[u8], v: &'a [u8]) -> std::result::Result<(u64, &'a [[u8; 32]]), SetProblem> {
        open_set_with(&self.keys(), k, v)
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
    pub(crate) fn verify_fingerprints(&self) -> Result<u64> {
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
    /// over exactly `leak` (its SHA-256). Appends a receipt (actor: the responder), and one
    /// in the chain of each subject whose disclosures it matched, in the same group commit.
    pub(crate) fn trace(&self, request: &str, leak: &[u8], encoding: Option<&str>, now: u64) -> Result<TraceReport> {
        let digest = credseal_crypto::sha256(leak);
        let responder = self.verify_staff_request(request, StaffRole::Responder, "trace", &digest, now)?;
        let parsed = parse_leak_in(leak, encoding, self.catalog)?;
        // Distinct items, by their candidate fingerprints.
        let mut distinct: BTreeMap<Vec<[u8; 32]>, (BlindId, Vec<String>)> = BTreeMap::new();
        let mac = self.keys().trace_key.expand();
        for it in &parsed.items {
            let blind = self.blind(&it.subject)?;
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
        // Per subject with a matched item: its items matched and their classes (for its
        // receipt; not how many disclosures matched, which would count sealed ones too).
        let mut per_subject: BTreeMap<BlindId, SubjectTrace> = BTreeMap::new();
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
            if any {
                let s = per_subject.entry(*blind).or_default();
                s.items += 1;
                for &(_, pos) in hits {
                    if let Some((class, _)) = names[pos].split_once('.') {
                        s.classes.insert(class.to_string());
                    }
                }
            }
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
            actor: Actor::Responder { id: responder.clone() },
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
        // The trace's own receipt, then one in the chain of each subject whose disclosures
        // it matched, so the subject sees its data was traced: one group commit.
        let token_hash = receipt.token_hash;
        let mut receipts = Vec::with_capacity(1 + per_subject.len());
        receipts.push(receipt);
        for (blind, s) in per_subject {
            receipts.push(NewReceipt {
                actor: Actor::Responder { id: responder.clone() },
                action: Action::Trace,
                // How many of the subject's leaked items matched, not how many disclosures:
                // that count would include disclosures still sealed from the subject.
                detail: format!(
                    "leak trace: {} item(s) about this subject matched released data",
                    s.items
                ),
                subject: Some(blind),
                classes: s.classes,
                purpose: String::new(),
                token_hash,
                outcome: Outcome::Done,
                release_digest: None,
                disclose_after: None,
                flags: 0,
                fingerprints: None,
                marks: Vec::new(),
            });
        }
        let committed = self
            .append_receipts(receipts, now)?
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?;
        Ok(TraceReport {
            format: parsed.format.to_string(),
            encoding: parsed.encoding.to_string(),
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

    // Canary subjects: the encrypted set, planting, alerts.
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
            self.gate.pins().check(crate::pins::Pinned::Canaries, None)?;
            return Ok(Arc::default());
        };
        let digest = credseal_crypto::sha256(&v);
        self.gate.pins().check(crate::pins::Pinned::Canaries, Some(&digest))?;
        self.canaries.cache.get_or_try(digest, || {
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

    fn store_canaries(&self, set: &BTreeSet<BlindId>) -> Result<Batch> {
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
        // Trust state: committed with the plant's receipt.
        Ok(b)
    }

    /// Sets where alerts go (default: nowhere; `audit alerts` still lists every canary query).
    pub(crate) fn set_alert_sink(&self, sink: AlertSink) {
        if let Ok(mut s) = self.canaries.sink.lock() {
            *s = Some(sink);
        }
    }

    /// Raises an alert for a committed receipt that touched a canary.
    pub(crate) fn raise_alert(&self, alert: CanaryAlert) {
        let sink = self.canaries.sink.lock().ok().and_then(|s| s.clone());
        if let Some(f) = sink {
            f(&alert);
        }
    }

    /// Plants `count` canary subjects. `request` is an officer's staff request for action
    /// `canary-plant` over the parameters `count=<count>`. Appends a receipt (actor: the
    /// officer; the detail names no subject and no count).
    /// `ingest` writes the synthetic records (the ordinary ingest of a whole file).
    pub(crate) fn plant_canaries(
        &self,
        request: &str,
        count: u32,
        now: u64,
        ingest: impl FnOnce(&Path) -> Result<IngestSummary>,
    ) -> Result<PlantReport> {
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
            let today = credseal_core::Date::from_unix(now)
                .ok_or_else(|| EngineError::invalid("the plant's time", "not a representable date"))?;
            let (subject, lines) = synthetic_person(self.catalog, today)?;
            let blind = self.blind(&subject)?;
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
        ingest(file.path())?;
        drop(file);
        set.extend(planted.iter().copied());
        let stored = self.store_canaries(&set)?;
        let receipt = self.staff_receipt_with(
            Actor::Officer { id: officer },
            "canary subjects planted",
            request,
            now,
            stored,
        )?;
        Ok(PlantReport {
            planted: count,
            records,
            total: set.len() as u64,
            receipt,
            subjects,
        })
    }

    /// The canary subjects' ids are never returned: only whether a BlindId is one, for tests.
    pub(crate) fn is_canary_subject(&self, id: &SubjectId) -> Result<bool> {
        self.is_canary(&self.blind(id)?)
    }

    // The access review, from the signed receipts.
    /// Every receipt in the log, signature verified, in order.
    fn each_receipt(&self, mut f: impl FnMut(ReceiptBody)) -> Result<()> {
        let verifier = self.log_key_history()?;
        for kv in self.store.scan_prefix(Tree::LogLeaves, &[]) {
            let (k, v) = kv?;
            let r = verifier.verify_receipt(&v).map_err(|e| EngineError::Corrupt {
                what: format!("receipt {}", credseal_core::hex(&k)),
                detail: e.to_string(),
            })?;
            f(r.body().clone());
        }
        Ok(())
    }

    /// The receipt of a signed staff request (`actor` acting on `request`); its log index.
    fn staff_receipt(&self, actor: Actor, detail: &str, request: &str, now: u64) -> Result<u64> {
        self.staff_receipt_with(actor, detail, request, now, Batch::new())
    }

    /// [`Self::staff_receipt`], committed together with `extra` writes.
    fn staff_receipt_with(&self, actor: Actor, detail: &str, request: &str, now: u64, extra: Batch) -> Result<u64> {
        Ok(self
            .appender
            .append_with(
                self.vault,
                vec![NewReceipt {
                    actor,
                    action: Action::Admin,
                    detail: detail.into(),
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
                extra,
                now,
            )?
            .pop()
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?
            .index)
    }

    /// Every query receipt that touched a canary subject (see [`touched_canary`]). `request`: a responder's
    /// staff request for `audit-alerts` over the empty input. Leaves a receipt.
    pub(crate) fn canary_alerts(&self, request: &str, now: u64) -> Result<Vec<CanaryAlert>> {
        let reviewer = self.verify_staff_request(
            request,
            StaffRole::Responder,
            "audit-alerts",
            &credseal_crypto::sha256(b""),
            now,
        )?;
        let canaries = self.canaries()?;
        let mut out = Vec::new();
        self.each_receipt(|b| {
            if !touched_canary(&b, &canaries) {
                return;
            }
            let (department, credential_serial) = match b.actor {
                Actor::Department { id, credential_serial } => (id, Some(credential_serial)),
                Actor::Subject => ("subject".into(), None),
                other => (format!("{other:?}"), None),
            };
            out.push(CanaryAlert {
                receipt: b.index,
                time: b.time,
                department,
                credential_serial,
                purpose: b.purpose,
                outcome: match b.outcome {
                    Outcome::Granted => "granted".into(),
                    Outcome::Denied { code } => format!("denied ({code})"),
                    Outcome::Done => "done".into(),
                },
            });
        })?;
        self.staff_receipt(Actor::Responder { id: reviewer }, "audit alerts", request, now)?;
        Ok(out)
    }

    /// The access review of `department` (or every department) from `from` to `to`
    /// (inclusive, UTC days). `request`: a responder's staff request for `audit-report`
    /// over [`report_params`]. Leaves a receipt.
    pub(crate) fn audit_report(
        &self,
        request: &str,
        department: Option<&str>,
        from: Date,
        to: Date,
        now: u64,
    ) -> Result<AuditReport> {
        let params = report_params(department, from, to);
        let reviewer = self.verify_staff_request(
            request,
            StaffRole::Responder,
            "audit-report",
            &credseal_crypto::sha256(params.as_bytes()),
            now,
        )?;
        if to < from {
            return Err(EngineError::invalid("review period", "its end is before its start"));
        }
        let (d0, d1) = (from.days_since_epoch(), to.days_since_epoch());
        let canaries = self.canaries()?;
        let mut by_dept: BTreeMap<String, Vec<Q>> = BTreeMap::new();
        self.each_receipt(|b| {
            let canary = touched_canary(&b, &canaries);
            if b.action != Action::Query {
                return;
            }
            let Actor::Department { id, .. } = b.actor else { return };
            if department.is_some_and(|d| d != id) {
                return;
            }
            by_dept.entry(id).or_default().push(Q {
                time: b.time,
                subject: b.subject,
                denied: match b.outcome {
                    Outcome::Denied { code } => Some(code),
                    _ => None,
                },
                purpose: b.purpose,
                classes: b.classes,
                canary,
            });
        })?;
        if let Some(d) = department {
            by_dept.entry(d.to_string()).or_default();
        }
        let mut departments = Vec::new();
        for (dept, qs) in by_dept {
            let r = review(dept, &qs, d0, d1);
            if r.queries > 0 || department.is_some() {
                departments.push(r);
            }
        }
        let receipt = self.staff_receipt(Actor::Responder { id: reviewer }, "audit report", request, now)?;
        Ok(AuditReport {
            from: from.to_string(),
            to: to.to_string(),
            departments,
            receipt,
        })
    }
}

/// Whether the query receipt `b` touched a canary subject: its subject is in the canary set
/// `canaries`, or (a receipt written before the flag was kept out of receipts) it carries
/// [`FLAG_CANARY`]. Receipts no longer carry the flag — the department receives its receipt,
/// and the flag would tell it which subjects are canaries — so whether a query touched a
/// canary is decided here, from the canary set only the keystore opens.
fn touched_canary(b: &ReceiptBody, canaries: &HashSet<BlindId>) -> bool {
    matches!(b.action, Action::Query | Action::SelfQuery)
        && (b.flags & FLAG_CANARY != 0 || b.subject.as_ref().is_some_and(|s| canaries.contains(s)))
}
