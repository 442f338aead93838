//! Crypto-shredding (docs/design.md §8): retention sweeps and credit-repair orders destroy records
//! for good. A credit-repair order is an authority-signed object
//! ([`credseal_auth::ShredOrder`]): [`Platform::check_shred_order`] verifies it and that its
//! record is there to shred; two officers approve the operation it names;
//! [`Platform::shred_by_order`] carries it out.
//!
//! For each subject and class concerned, the class gets a new data key and its remaining
//! records are sealed again under it, without the shredded ones, in one atomic write with a
//! tombstone per shredded record and the receipt in the subject's chain. That removes the
//! records from the live database, but a copy of the database taken earlier still holds the
//! old data key, wrapped under the class's KEK. So every class touched is then rotated, all
//! its data keys re-wrapped to the new KEK version, and every older version retired
//! (destroyed in the keystore): the keystore from then on cannot open any data key of an
//! earlier copy of the database. A marker records the classes until that is done, and the
//! next shred (of anything) finishes it first.

use std::collections::{BTreeMap, BTreeSet};

use credseal_core::{BlindId, Date, SubjectId};
use credseal_crypto::Passphrase;
use credseal_log::Action;
use credseal_store::{Batch, Tree};
use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::layout;
use crate::platform::Platform;

/// Meta key: classes whose KEK must still be rotated and old versions retired after a shred
/// (newline-separated class ids).
const META_SHRED_PENDING: &[u8] = b"shred-pending";

/// A record's stored versions: (record key, version) places.
type Places = BTreeSet<([u8; 16], u32)>;

/// The records to shred: per subject and class, their places.
type Selection = BTreeMap<(BlindId, String), Places>;

/// What a shred did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ShredSummary {
    /// Records destroyed (all versions counted).
    pub records: u64,
    /// Subjects concerned.
    pub subjects: u64,
    /// Per class touched: the KEK versions retired and the new primary.
    pub classes: Vec<(String, Vec<u32>, u32)>,
}

/// A credit-repair order signed by the trusted authority, for this platform, naming a record
/// that is stored and not shredded: only [`Platform::check_shred_order`] makes one.
#[derive(Clone, Debug)]
pub struct CheckedShredOrder {
    subject: SubjectId,
    class: String,
    record_id: String,
    reference: String,
    issued_at: u64,
    digest: [u8; 32],
}

impl CheckedShredOrder {
    /// The operation two officers approve: `shred <subject> <class> <record> order <ref>`.
    pub fn operation(&self) -> crate::components::gate::Operation {
        crate::components::gate::Operation::shred_record(&self.subject, &self.class, &self.record_id, &self.reference)
    }

    /// The subject.
    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    /// The record's class.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The record id.
    pub fn record_id(&self) -> &str {
        &self.record_id
    }

    /// The order's reference.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// When the authority signed it (Unix seconds).
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// SHA-256 of the order's wire bytes (named in the subject's receipt).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// Whether `s` is a valid order reference: 1 to 64 characters of `A-Z a-z 0-9 . _ : / -`.
pub fn valid_order_reference(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"._:/-".contains(&c))
}

/// The tombstone key of a record: BlindId ‖ len8(class) ‖ class ‖ record key.
pub(crate) fn tombstone_key(blind: &BlindId, class: &str, rkey: &[u8; 16]) -> Vec<u8> {
    let mut k = blind.as_bytes().to_vec();
    k.push(class.len() as u8);
    k.extend_from_slice(class.as_bytes());
    k.extend_from_slice(rkey);
    k
}

impl Platform {
    /// Whether the record was shredded.
    pub(crate) fn is_tombstoned(&self, blind: &BlindId, class: &str, rkey: &[u8; 16]) -> Result<bool> {
        Ok(self
            .store
            .contains(Tree::Tombstones, &tombstone_key(blind, class, rkey))?)
    }

    /// Shreds every record whose class's retention period has passed by `today` (counted from
    /// the record's effective date). Classes kept permanently are never swept.
    pub fn shred_expired(
        &self,
        session: &crate::StaffSession,
        today: Date,
        pass: &Passphrase,
        approved: &crate::components::gate::Approved,
    ) -> Result<ShredSummary> {
        approved.require(&crate::components::gate::Operation::shred_expired(today))?;
        let mut selected = Selection::new();
        let limits: BTreeMap<String, u32> = self
            .catalog
            .classes
            .iter()
            .filter_map(|(id, c)| match c.retention {
                credseal_core::Retention::Days(d) => Some((id.clone(), d)),
                credseal_core::Retention::Permanent => None,
            })
            .collect();
        let ks = self.keys();
        for kv in self.store.scan_prefix(Tree::Records, &[]) {
            let (k, v) = kv?;
            let blind = layout::parse_subject_key(&k).ok_or_else(|| EngineError::Corrupt {
                what: "subject key".into(),
                detail: "not a BlindId".into(),
            })?;
            let recs = crate::bundle::SubjectRecords::decode(&v).map_err(|e| EngineError::Corrupt {
                what: format!("records of subject {}", layout::short(&blind)),
                detail: e.into(),
            })?;
            for (class, b) in &recs.classes {
                let Some(days) = limits.get(class) else { continue };
                let dek = self.vault.unwrap_dek(&ks, &blind, class, &b.wrapped_dek)?;
                for e in &b.entries {
                    let (_, r) = self.vault.open_body(&ks, &dek, &blind, class, e)?;
                    if r.effective.days_since_epoch() + i64::from(*days) < today.days_since_epoch() {
                        selected
                            .entry((blind, class.clone()))
                            .or_default()
                            .insert((e.rkey, e.version));
                    }
                }
            }
        }
        self.shred_selected(
            session,
            selected,
            &format!("retention period over; {}", approved.note()),
            pass,
        )
    }

    /// Checks a credit-repair order (`cs1.shred-order.…`): signed by the authority this
    /// platform trusts (else a forgery: [`credseal_auth::Denial::ShredOrderBadSignature`], exit
    /// 4), for this platform (else [`credseal_auth::Denial::WrongAudience`], exit 3), naming a
    /// valid reference, a catalogue class and a record of the subject that is stored and not
    /// already shredded (else [`EngineError::NotFound`], before any officer's approval is
    /// spent).
    pub fn check_shred_order(&self, text: &str) -> std::result::Result<CheckedShredOrder, crate::QueryError> {
        use credseal_auth::{ShredOrder, Unverified};
        let u = Unverified::<ShredOrder>::parse_text(text.trim()).map_err(|e| crate::QueryError::Denied(e.into()))?;
        let authority = self.trusted_authority()?;
        let v = credseal_auth::verify_shred_order(&u, &authority, self.origin()).map_err(crate::QueryError::Denied)?;
        let o = v.body();
        if !valid_order_reference(&o.reference) {
            return Err(EngineError::invalid("the order's reference", "not 1 to 64 of A-Z a-z 0-9 . _ : / -").into());
        }
        if self.catalog.class(&o.class).is_none() {
            return Err(EngineError::NotFound(format!(
                "the order names class {:?}, which is not in the catalogue",
                o.class
            ))
            .into());
        }
        if !credseal_core::valid_record_id(&o.record_id) {
            return Err(EngineError::invalid("the order's record id", "not a valid record id").into());
        }
        // Cannot fail: verify_shred_order checked a normalised subject id.
        let subject = SubjectId::parse(&o.subject)
            .map_err(|_| EngineError::invalid("the order's subject", "not a valid subject id"))?;
        let checked = CheckedShredOrder {
            subject,
            class: o.class.clone(),
            record_id: o.record_id.clone(),
            reference: o.reference.clone(),
            issued_at: o.issued_at,
            digest: credseal_crypto::sha256(u.as_bytes()),
        };
        self.order_places(&checked)?;
        Ok(checked)
    }

    /// The stored versions of the order's record; an error if there are none or it was
    /// shredded.
    fn order_places(&self, o: &CheckedShredOrder) -> Result<(BlindId, Places)> {
        let (class, record_id) = (o.class.as_str(), o.record_id.as_str());
        let blind = self.blind(&o.subject);
        let rkey = self.keys().index_key.record_key(&blind, class, record_id);
        if self.is_tombstoned(&blind, class, &rkey)? {
            return Err(EngineError::NotFound(format!(
                "record {record_id:?} of class {class} of this subject was already shredded"
            )));
        }
        let found: Places = self
            .vault
            .load_subject(&blind)?
            .and_then(|r| r.classes.get(class).cloned())
            .map(|b| {
                b.entries
                    .iter()
                    .filter(|e| e.rkey == rkey)
                    .map(|e| (e.rkey, e.version))
                    .collect()
            })
            .unwrap_or_default();
        if found.is_empty() {
            return Err(EngineError::NotFound(format!(
                "no record {record_id:?} of class {class} is stored for this subject"
            )));
        }
        Ok((blind, found))
    }

    /// Carries out a checked credit-repair order, approved by two officers: every version of
    /// its record is destroyed (see the module documentation); the subject's receipt names
    /// the order, its date and digest, and the officers.
    pub fn shred_by_order(
        &self,
        session: &crate::StaffSession,
        order: &CheckedShredOrder,
        pass: &Passphrase,
        approved: &crate::components::gate::Approved,
    ) -> Result<ShredSummary> {
        approved.require(&order.operation())?;
        let (blind, found) = self.order_places(order)?;
        let mut selected = BTreeMap::new();
        selected.insert((blind, order.class.clone()), found);
        let date = Date::from_unix(order.issued_at).map_or_else(|| order.issued_at.to_string(), |d| d.to_string());
        self.shred_selected(
            session,
            selected,
            &format!(
                "credit repair: order {} of {date} signed by the authority (SHA-256 {}); {}",
                order.reference,
                credseal_core::hex(&order.digest[..8]),
                approved.note()
            ),
            pass,
        )
    }

    fn shred_selected(
        &self,
        session: &crate::StaffSession,
        selected: Selection,
        reason: &str,
        pass: &Passphrase,
    ) -> Result<ShredSummary> {
        // One shred at a time: each rotates, rewraps and retires its classes' keys.
        let _s = self.shred_lock.lock().map_err(|_| EngineError::poisoned("shred"))?;
        let mut summary = ShredSummary::default();
        // Classes a previous shred left half-done come first.
        let mut classes: BTreeSet<String> = self.shred_pending()?;
        classes.extend(selected.keys().map(|(_, c)| c.clone()));
        if classes.is_empty() {
            return Ok(summary);
        }
        let mut b = Batch::new();
        b.put(
            Tree::Meta,
            META_SHRED_PENDING,
            classes.iter().cloned().collect::<Vec<_>>().join("\n"),
        );
        self.store.apply(b)?;
        self.store.flush()?;
        let subjects: BTreeSet<BlindId> = selected.keys().map(|(b, _)| *b).collect();
        summary.subjects = subjects.len() as u64;
        for ((blind, class), places) in &selected {
            summary.records += self.shred_in_class(session, blind, class, places, reason)?;
        }
        // Seal off every earlier copy of the database: rotate, rewrap, retire.
        for class in &classes {
            let new = self.rotate_class(session, class, pass)?;
            summary.classes.push((class.clone(), Vec::new(), new));
        }
        self.rewrap(session, &crate::NoProgress)?;
        for (class, retired, _) in summary.classes.iter_mut() {
            let old: Vec<u32> = self
                .keys()
                .classes
                .get(class.as_str())
                .map(|c| c.versions.keys().copied().filter(|v| *v != c.primary).collect())
                .unwrap_or_default();
            for v in old {
                self.retire_inner(session, class, v, pass, reason)?;
                retired.push(v);
            }
        }
        let mut b = Batch::new();
        b.delete(Tree::Meta, META_SHRED_PENDING);
        self.store.apply(b)?;
        self.store.flush()?;
        Ok(summary)
    }

    fn shred_pending(&self) -> Result<BTreeSet<String>> {
        Ok(match self.store.get(Tree::Meta, META_SHRED_PENDING)? {
            None => BTreeSet::new(),
            Some(v) => String::from_utf8(v)
                .map_err(|_| EngineError::Corrupt {
                    what: "shred marker".into(),
                    detail: "not UTF-8".into(),
                })?
                .lines()
                .filter(|c| self.keys().classes.contains_key(*c))
                .map(str::to_string)
                .collect(),
        })
    }

    /// Re-keys one subject's class without the records at `places`; tombstones and the
    /// subject's receipt in the same atomic write. Returns the records removed.
    fn shred_in_class(
        &self,
        session: &crate::StaffSession,
        blind: &BlindId,
        class: &str,
        places: &BTreeSet<([u8; 16], u32)>,
        reason: &str,
    ) -> Result<u64> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let Some(mut recs) = self.vault.load_subject(blind)? else {
            return Ok(0);
        };
        let Some(b) = recs.classes.get_mut(class) else {
            return Ok(0);
        };
        let from = credseal_crypto::wrapped_kek_version(&b.wrapped_dek).map_err(|e| EngineError::Corrupt {
            what: format!("data key of subject {} class {class}", layout::short(blind)),
            detail: e.to_string(),
        })?;
        let old = self.vault.unwrap_dek(&self.keys(), blind, class, &b.wrapped_dek)?;
        let before = b.entries.len();
        let mut batch = Batch::new();
        let now = self.now()?;
        let mut gone = BTreeSet::new();
        b.entries.retain(|e| {
            let hit = places.contains(&(e.rkey, e.version));
            if hit {
                gone.insert(e.rkey);
            }
            !hit
        });
        for rkey in &gone {
            let mut v = now.to_be_bytes().to_vec();
            v.extend_from_slice(reason.as_bytes());
            batch.put(Tree::Tombstones, tombstone_key(blind, class, rkey), v);
        }
        let removed = (before - b.entries.len()) as u64;
        if removed == 0 {
            return Ok(0);
        }
        let mut delta = BTreeMap::new();
        *delta.entry((class.to_string(), from)).or_insert(0) -= 1;
        if b.entries.is_empty() {
            recs.classes.remove(class);
        } else {
            let primary = self.reseal_class(blind, class, b, &old)?;
            *delta.entry((class.to_string(), primary)).or_insert(0) += 1;
        }
        drop(old);
        if recs.classes.is_empty() {
            batch.delete(Tree::Records, layout::subject_key(blind));
        } else {
            batch.put(Tree::Records, layout::subject_key(blind), recs.encode());
        }
        self.put_dek_counts(&mut batch, delta)?;
        let mut r = self.admin_receipt(
            session,
            Action::Shred,
            format!("{removed} record(s) destroyed: {reason}"),
            Some(*blind),
        );
        r.classes.insert(class.to_string());
        self.append_receipts_with(vec![r], batch, now)?;
        Ok(removed)
    }
}
