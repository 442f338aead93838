//! Objections and applications for credit repair (docs/formats.md "Objections"): a subject
//! signs an objection to one of its records (`cs1.objection.…`); the platform checks it, marks
//! the record disputed and gives the record's provider the class's `objection_days` (default
//! 20) to answer — for an application for credit repair, the authority. The provider answers
//! by correcting the record (its next version resolves the objection) or by upholding it
//! with a signed answer (`cs1.objection-answer.…`). Filing, each answer and the overdue state
//! are receipts in the subject's chain; [`Platform::review_objections`] lists them by
//! provider and raises an alert for each that became overdue. A subject may have at most
//! [`MAX_OPEN_PER_SUBJECT`] open objections (a flood is refused, `objection-rate-limited`).
//!
//! State is kept under Meta `objection:` ‖ BlindId ‖ objection id, authenticated by the
//! index key's HMAC; it names the record by its keyed record key, never its id.

use credseal_auth::{Objection, ObjectionAnswer, PublicKey, Unverified};
use credseal_core::{BlindId, Date, SubjectId};
use credseal_crypto::Blinder;
use credseal_log::{Action, Actor, Outcome};
use credseal_store::{Batch, Tree};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::log::NewReceipt;
use crate::platform::Platform;

/// Meta key prefix of an objection's state (followed by the objection id).
const META_OBJECTION: &[u8] = b"objection:";
/// Open objections one subject may have at once.
pub const MAX_OPEN_PER_SUBJECT: usize = 3;
/// Longest reason of an objection or an answer, in characters.
pub const MAX_REASON: usize = 2000;
/// The outcome of an answer that keeps the record.
pub const OUTCOME_UPHELD: &str = "upheld";
/// The outcome of an answer that destroys the record.
pub const OUTCOME_DELETED: &str = "deleted";

/// Where an objection stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectionStatus {
    /// Waiting for the provider's (or authority's) answer.
    Open,
    /// Answered by a correction: this version supersedes the record objected to.
    Corrected {
        /// The correcting version.
        version: u32,
    },
    /// Answered: the record stays as it is, for this reason.
    Upheld {
        /// The answer's reason.
        reason: String,
    },
    /// Answered: the record was destroyed (every version shredded), for this reason.
    Deleted {
        /// The answer's reason.
        reason: String,
    },
}

/// An objection as the platform keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionState {
    /// The objection id.
    pub id: [u8; 16],
    /// The subject's BlindId.
    pub subject: BlindId,
    /// The record's class.
    pub class: String,
    /// The record's keyed record key.
    pub record_key: [u8; 16],
    /// The record's current version when the objection was filed.
    pub version: u32,
    /// The record's provider (its `source`), who answers; the authority for a repair.
    pub provider: String,
    /// `objection` or `repair`.
    pub kind: String,
    /// Filed at (Unix seconds).
    pub filed_at: u64,
    /// The answer is due by (Unix seconds).
    pub due: u64,
    /// Where it stands.
    pub status: ObjectionStatus,
    /// When it was answered.
    pub answered_at: Option<u64>,
    /// Whether its overdue state was receipted and alerted.
    pub overdue_noted: bool,
}

impl ObjectionState {
    /// Open after its deadline at `now`.
    pub fn overdue(&self, now: u64) -> bool {
        self.status == ObjectionStatus::Open && now > self.due
    }
}

/// Meta key of an objection: under its subject, so that the objections of one subject (a
/// query's disputed records, a filing's limits, a correction's resolution) are one short
/// prefix scan, however many objections the platform has seen.
fn objection_key(subject: &BlindId, id: &[u8; 16]) -> Vec<u8> {
    let mut k = subject_prefix(subject);
    k.extend_from_slice(id);
    k
}

/// The Meta prefix of a subject's objections.
fn subject_prefix(subject: &BlindId) -> Vec<u8> {
    let mut k = META_OBJECTION.to_vec();
    k.extend_from_slice(subject.as_bytes());
    k
}

fn day(t: u64) -> String {
    Date::from_unix(t).map_or_else(|| t.to_string(), |d| d.to_string())
}

fn hex8(id: &[u8; 16]) -> String {
    credseal_core::hex(&id[..4])
}

fn subject_receipt(blind: BlindId, actor: Actor, class: &str, detail: String) -> NewReceipt {
    NewReceipt {
        actor,
        action: Action::Admin,
        detail,
        subject: Some(blind),
        classes: [class.to_string()].into_iter().collect(),
        purpose: String::new(),
        token_hash: None,
        outcome: Outcome::Done,
        release_digest: None,
        disclose_after: None,
        marks: Vec::new(),
        flags: 0,
        fingerprints: None,
    }
}

/// Objections (see the module doc).
impl Platform {
    fn put_objection(&self, batch: &mut Batch, st: &ObjectionState) -> Result<()> {
        let v = postcard::to_stdvec(st).map_err(|e| EngineError::Internal(format!("encoding an objection: {e}")))?;
        self.gate
            .put_authenticated(&self.keys(), batch, &objection_key(&st.subject, &st.id), &v);
        Ok(())
    }

    /// Every objection, as kept.
    pub fn objections(&self) -> Result<Vec<ObjectionState>> {
        self.objections_under(META_OBJECTION)
    }

    /// The objection with id `id`, as kept.
    pub fn objection(&self, id: &[u8; 16]) -> Result<Option<ObjectionState>> {
        Ok(self.objections()?.into_iter().find(|s| &s.id == id))
    }

    /// The objections of one subject, as kept.
    pub(crate) fn objections_of(&self, subject: &BlindId) -> Result<Vec<ObjectionState>> {
        self.objections_under(&subject_prefix(subject))
    }

    /// The objections kept under the Meta prefix `prefix`.
    fn objections_under(&self, prefix: &[u8]) -> Result<Vec<ObjectionState>> {
        let ks = self.keys();
        let mut out = Vec::new();
        for kv in self.store.scan_prefix(Tree::Meta, prefix) {
            let (k, _) = kv?;
            let Some(v) = self.gate.get_authenticated(&ks, &k, "objection")? else {
                continue;
            };
            out.push(postcard::from_bytes(&v).map_err(|_| EngineError::Corrupt {
                what: "objection".into(),
                detail: "does not decode".into(),
            })?);
        }
        Ok(out)
    }

    /// Files a subject's signed objection (`cs1.objection.…`) at `now`: signed by the
    /// subject's registered key (else exit 4; no key: denied), for this platform, not dated
    /// in the future, of kind `objection` or `repair`, with a reason of at most
    /// [`MAX_REASON`] characters, naming a stored record of the subject (else exit 1/2);
    /// denied if the record already has an open objection (`objection-already-open`) or the
    /// subject has [`MAX_OPEN_PER_SUBJECT`] open (`objection-rate-limited`). The record is
    /// disputed from now on; the receipt in the subject's chain names the provider and the
    /// date the answer is due.
    pub fn file_objection(&self, text: &str, now: u64) -> Result<ObjectionState> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let ks = self.keys();
        let u = Unverified::<Objection>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("objection: {e}")))?;
        let claimed = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("objection: {e}")))?;
        let subject =
            SubjectId::parse(&claimed.subject).map_err(|e| EngineError::invalid("objection subject", e.to_string()))?;
        let Some(key) = self.gate.subject_key(&ks, &subject)? else {
            return Err(EngineError::denied(
                "subject-key-invalid",
                "objection: the subject has no registered key on this platform",
            ));
        };
        let key = PublicKey::from_bytes(&key).map_err(|_| EngineError::Corrupt {
            what: "subject key".into(),
            detail: "not an Ed25519 key".into(),
        })?;
        let o = u
            .verify(&key)
            .map_err(|_| EngineError::Verification("objection: not signed by the subject's registered key".into()))?
            .into_body();
        if o.audience != self.origin() {
            return Err(EngineError::denied("wrong-audience", "objection: for another platform"));
        }
        if o.issued_at > now.saturating_add(self.policy().max_skew_secs) {
            return Err(EngineError::denied(
                "objection-not-yet-valid",
                "objection: dated in the future",
            ));
        }
        if o.kind != "objection" && o.kind != "repair" {
            return Err(EngineError::invalid(
                "objection kind",
                "must be `objection` or `repair`",
            ));
        }
        if o.reason.trim().is_empty() || o.reason.chars().count() > MAX_REASON {
            return Err(EngineError::invalid(
                "objection reason",
                format!("must be 1 to {MAX_REASON} characters"),
            ));
        }
        let Some(class) = self.catalog.class(&o.class) else {
            return Err(EngineError::invalid(
                format!("objection class {:?}", o.class),
                "is not in the catalogue",
            ));
        };
        let blind = self.blind(&subject)?;
        let rkey = Blinder::new(&ks.index_key).record_key(&blind, &o.class, &o.record_id);
        let bundle = self
            .vault
            .load_subject(&blind)?
            .and_then(|r| r.classes.get(&o.class).cloned());
        let current = bundle.as_ref().and_then(|b| {
            b.entries
                .iter()
                .filter(|e| e.rkey == rkey)
                .max_by_key(|e| e.version)
                .cloned()
        });
        let (Some(bundle), Some(current)) = (bundle, current) else {
            return Err(EngineError::NotFound(
                "objection: the subject has no such record in that class".into(),
            ));
        };
        let dek = self.vault.unwrap_dek(&ks, &blind, &o.class, &bundle.wrapped_dek)?;
        let (_, body) = self.vault.open_body(&ks, &dek, &blind, &o.class, &current)?;
        drop(dek);
        let filed = self.objections_of(&blind)?;
        let mine: Vec<&ObjectionState> = filed
            .iter()
            .filter(|s| s.subject == blind && s.status == ObjectionStatus::Open)
            .collect();
        if mine.iter().any(|s| s.record_key == rkey && s.class == o.class) {
            return Err(EngineError::denied(
                "objection-already-open",
                "objection: this record already has an open objection",
            ));
        }
        if mine.len() >= MAX_OPEN_PER_SUBJECT {
            return Err(EngineError::denied(
                "objection-rate-limited",
                format!(
                    "objection: the subject has {MAX_OPEN_PER_SUBJECT} open objections already; file more once they are answered"
                ),
            ));
        }
        if filed.iter().any(|s| s.id == o.objection_id) {
            return Err(EngineError::denied("replayed", "objection: filed before"));
        }
        let repair = o.kind == "repair";
        let st = ObjectionState {
            id: o.objection_id,
            subject: blind,
            class: o.class.clone(),
            record_key: rkey,
            version: current.version,
            provider: if repair {
                "authority".into()
            } else {
                body.source.clone()
            },
            kind: o.kind.clone(),
            filed_at: now,
            due: now.saturating_add(u64::from(class.objection_days) * 86_400),
            status: ObjectionStatus::Open,
            answered_at: None,
            overdue_noted: false,
        };
        let mut batch = Batch::new();
        self.put_objection(&mut batch, &st)?;
        let what = if repair {
            "application for credit repair"
        } else {
            "objection"
        };
        let r = subject_receipt(
            blind,
            Actor::Subject,
            &o.class,
            format!(
                "{what} {} filed: a {} record (version {}) is disputed; {} answers by {} ({} days)",
                hex8(&st.id),
                st.class,
                st.version,
                st.provider,
                day(st.due),
                class.objection_days
            ),
        );
        drop(ks);
        self.append_receipts_with(vec![r], batch, self.now()?)?;
        Ok(st)
    }

    /// Answers an open objection by upholding its record (`cs1.objection-answer.…`, checked
    /// at `now`): signed by the record's provider's key (its installed provider credential;
    /// for a repair application, the trusted authority) — else exit 4 —, for this platform;
    /// an objection not open: denied (`objection-closed`). Receipted in the subject's chain.
    /// An answer whose outcome is `deleted` is refused here (exit 2): shredding rewrites the
    /// keystore, so it goes through [`Platform::answer_objection_deleting`], with the
    /// operator's passphrase.
    pub fn answer_objection(&self, text: &str, now: u64) -> Result<ObjectionState> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let (mut st, a) = self.checked_answer(text, now)?;
        if a.outcome == OUTCOME_DELETED {
            return Err(EngineError::invalid(
                "objection answer outcome",
                "\"deleted\" shreds the record, which needs the operator's passphrase: install it with `credseal provider answer-objection --outcome deleted … --data DIR`",
            ));
        }
        st.status = ObjectionStatus::Upheld { reason: a.reason };
        st.answered_at = Some(now);
        let mut batch = Batch::new();
        self.put_objection(&mut batch, &st)?;
        let late = if now > st.due { " (after its deadline)" } else { "" };
        let r = subject_receipt(
            st.subject,
            Actor::Source {
                id: st.provider.clone(),
            },
            &st.class,
            format!(
                "objection {} answered by {}: the record is upheld as it is{late}",
                hex8(&st.id),
                st.provider
            ),
        );
        self.append_receipts_with(vec![r], batch, self.now()?)?;
        Ok(st)
    }

    /// Answers an open objection with a signed answer of either outcome (checked as
    /// [`Platform::answer_objection`]); for `deleted`, every version of the record is
    /// destroyed through the shred path (the subject's `Shred` receipt names the objection and
    /// who answered) before the objection is marked deleted and receipted. The signed answer
    /// of the record's provider (for a repair application, the authority) is the
    /// authorisation: no officers' approvals are needed to destroy a provider's own record.
    pub fn answer_objection_deleting(
        &self,
        session: &crate::StaffSession,
        text: &str,
        now: u64,
        pass: &credseal_crypto::Passphrase,
    ) -> Result<(ObjectionState, Option<crate::ShredSummary>)> {
        let (st, a) = {
            let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
            self.checked_answer(text, now)?
        };
        if a.outcome != OUTCOME_DELETED {
            return Ok((self.answer_objection(text, now)?, None));
        }
        let reason = format!(
            "objection {} answered by {}: the record is deleted",
            hex8(&st.id),
            st.provider
        );
        let summary = self
            .keyops()
            .shred_on_answer(session, st.subject, &st.class, st.record_key, &reason, pass)?;
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let mut st = self
            .objections_of(&st.subject)?
            .into_iter()
            .find(|s| s.id == st.id)
            .ok_or_else(|| EngineError::Internal("an objection vanished while its record was shredded".into()))?;
        st.status = ObjectionStatus::Deleted { reason: a.reason };
        st.answered_at = Some(now);
        let mut batch = Batch::new();
        self.put_objection(&mut batch, &st)?;
        let late = if now > st.due { " (after its deadline)" } else { "" };
        let r = subject_receipt(
            st.subject,
            Actor::Source {
                id: st.provider.clone(),
            },
            &st.class,
            format!("{reason} (every version shredded){late}"),
        );
        self.append_receipts_with(vec![r], batch, self.now()?)?;
        Ok((st, Some(summary)))
    }

    /// The objection a signed answer names and the answer's body, once every check passed:
    /// signed by who answers the objection, for this platform, a reason and outcome in
    /// range, the objection still open. Call under the write lock.
    fn checked_answer(&self, text: &str, now: u64) -> Result<(ObjectionState, ObjectionAnswer)> {
        let ks = self.keys();
        let u = Unverified::<ObjectionAnswer>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("objection answer: {e}")))?;
        let claimed = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("objection answer: {e}")))?;
        let Some(st) = self.objections()?.into_iter().find(|s| s.id == claimed.objection_id) else {
            return Err(EngineError::NotFound("objection answer: no such objection".into()));
        };
        let key = if st.kind == "repair" {
            self.gate.trusted_authority(&ks)?
        } else {
            self.gate
                .provider_credentials(&ks)?
                .into_iter()
                .find(|c| c.provider_id == st.provider)
                .map(|c| c.provider_key)
                .ok_or_else(|| {
                    EngineError::denied(
                        "provider-not-enrolled",
                        format!("objection answer: provider {} has no credential here", st.provider),
                    )
                })?
        };
        let a = u
            .verify(&key)
            .map_err(|_| {
                EngineError::Verification(format!(
                    "objection answer: not signed by {}, who answers this objection",
                    st.provider
                ))
            })?
            .into_body();
        // A provider answers only while its credential holds: within its window and not
        // revoked, checked now as for its batches (a revoked provider must not delete records).
        if st.kind != "repair" {
            self.gate
                .provider_credential(&ks, key.as_bytes(), now, true)?
                .ok_or_else(|| {
                    EngineError::denied(
                        "provider-not-enrolled",
                        format!("objection answer: provider {} has no credential here", st.provider),
                    )
                })?;
        }
        if a.audience != self.origin() {
            return Err(EngineError::denied(
                "wrong-audience",
                "objection answer: for another platform",
            ));
        }
        if a.reason.trim().is_empty() || a.reason.chars().count() > MAX_REASON {
            return Err(EngineError::invalid(
                "objection answer reason",
                format!("must be 1 to {MAX_REASON} characters"),
            ));
        }
        if a.outcome != OUTCOME_UPHELD && a.outcome != OUTCOME_DELETED {
            return Err(EngineError::invalid(
                "objection answer outcome",
                format!("{:?} is not \"upheld\" or \"deleted\"", a.outcome),
            ));
        }
        if st.status != ObjectionStatus::Open {
            return Err(EngineError::denied(
                "objection-closed",
                "objection answer: the objection was answered already",
            ));
        }
        Ok((st, a))
    }

    /// How many of `records` (released about `blind`) are under an open objection, by class.
    pub(crate) fn disputed(
        &self,
        ks: &credseal_crypto::Keystore,
        blind: &BlindId,
        records: &[credseal_core::Record],
    ) -> Result<std::collections::BTreeMap<String, usize>> {
        let mut out = std::collections::BTreeMap::new();
        let open: Vec<ObjectionState> = self
            .objections_of(blind)?
            .into_iter()
            .filter(|s| s.subject == *blind && s.status == ObjectionStatus::Open)
            .collect();
        if open.is_empty() {
            return Ok(out);
        }
        let blinder = Blinder::new(&ks.index_key);
        for r in records {
            let rkey = blinder.record_key(blind, &r.class, &r.record_id);
            if open.iter().any(|s| s.class == r.class && s.record_key == rkey) {
                *out.entry(r.class.clone()).or_insert(0) += 1;
            }
        }
        Ok(out)
    }

    /// The writes and receipts that resolve the open objections of a record corrected to
    /// `version` (its provider's correction answers them).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn resolve_by_correction(
        &self,
        blind: &BlindId,
        class: &str,
        rkey: &[u8; 16],
        version: u32,
        now: u64,
        batch: &mut Batch,
        receipts: &mut Vec<NewReceipt>,
    ) -> Result<()> {
        for mut st in self.objections_of(blind)? {
            if st.subject != *blind
                || st.class != class
                || st.record_key != *rkey
                || st.status != ObjectionStatus::Open
                || version <= st.version
            {
                continue;
            }
            st.status = ObjectionStatus::Corrected { version };
            st.answered_at = Some(now);
            self.put_objection(batch, &st)?;
            receipts.push(subject_receipt(
                *blind,
                Actor::Platform,
                class,
                format!(
                    "objection {} resolved: the record was corrected (version {version} supersedes version {})",
                    hex8(&st.id),
                    st.version
                ),
            ));
        }
        Ok(())
    }

    /// Every objection as of `now`, by provider then filing time; each open one past its
    /// deadline that was not noted before gets an `overdue` receipt in the subject's chain and
    /// raises an alert (as a canary query does). `now` may be a simulated time.
    pub fn review_objections(&self, now: u64) -> Result<Vec<ObjectionState>> {
        self.review_objections_inner(now)
    }

    /// [`Platform::review_objections`] at the platform's own clock (the service's scheduled
    /// review); returns the time it used with the list.
    pub fn review_objections_now(&self) -> Result<(u64, Vec<ObjectionState>)> {
        let now = self.now()?;
        Ok((now, self.review_objections_inner(now)?))
    }

    fn review_objections_inner(&self, now: u64) -> Result<Vec<ObjectionState>> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let mut all = self.objections()?;
        let mut batch = Batch::new();
        let mut receipts = Vec::new();
        // One entry a receipt: the alert it raises, if any.
        let mut alerts = Vec::new();
        // An open objection whose record was shredded since (a retention sweep, a credit-repair
        // order) has nothing left to answer: it is closed, receipted, and frees its place.
        for st in all.iter_mut().filter(|s| s.status == ObjectionStatus::Open) {
            let tomb = crate::shred::tombstone_key(&st.subject, &st.class, &st.record_key);
            if !self.store.contains(Tree::Tombstones, &tomb)? {
                continue;
            }
            st.status = ObjectionStatus::Deleted {
                reason: "the record was shredded before an answer".into(),
            };
            st.answered_at = Some(now);
            self.put_objection(&mut batch, st)?;
            receipts.push(subject_receipt(
                st.subject,
                Actor::Platform,
                &st.class,
                format!(
                    "objection {} closed: its record was shredded before {} answered",
                    hex8(&st.id),
                    st.provider
                ),
            ));
            alerts.push(None);
        }
        for st in all.iter_mut().filter(|s| s.overdue(now) && !s.overdue_noted) {
            st.overdue_noted = true;
            self.put_objection(&mut batch, st)?;
            receipts.push(subject_receipt(
                st.subject,
                Actor::Platform,
                &st.class,
                format!(
                    "objection {} overdue: {} did not answer by {}",
                    hex8(&st.id),
                    st.provider,
                    day(st.due)
                ),
            ));
            alerts.push(Some(crate::CanaryAlert {
                receipt: 0,
                time: now,
                department: st.provider.clone(),
                credential_serial: None,
                purpose: "objection-overdue".into(),
                outcome: format!("objection {} overdue since {}", hex8(&st.id), day(st.due)),
            }));
        }
        if !receipts.is_empty() {
            let committed = self.append_receipts_with(receipts, batch, now.max(self.now()?))?;
            for (a, c) in alerts.into_iter().zip(committed) {
                if let Some(mut a) = a {
                    a.receipt = c.index;
                    Platform::raise_alert(self, a);
                }
            }
        }
        all.sort_by(|a, b| (&a.provider, a.filed_at).cmp(&(&b.provider, b.filed_at)));
        Ok(all)
    }
}
