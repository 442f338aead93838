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
use serde::Serialize;

use crate::error::Result;
use crate::platform::Platform;

/// Meta key: classes whose KEK must still be rotated and old versions retired after a shred
/// (newline-separated class ids).
pub(crate) const META_SHRED_PENDING: &[u8] = b"shred-pending";

/// A record's stored versions: (record key, version) places.
pub(crate) type Places = BTreeSet<([u8; 16], u32)>;

/// The records to shred: per subject and class, their places.
pub(crate) type Selection = BTreeMap<(BlindId, String), Places>;

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
    pub(crate) subject: SubjectId,
    pub(crate) class: String,
    pub(crate) record_id: String,
    pub(crate) reference: String,
    pub(crate) issued_at: u64,
    pub(crate) digest: [u8; 32],
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
    /// Shreds every record whose class's retention period has passed by `today` (counted from
    /// the record's effective date). Classes kept permanently are never swept.
    pub fn shred_expired(
        &self,
        session: &crate::StaffSession,
        today: Date,
        pass: &Passphrase,
        approved: &crate::components::gate::Approved,
    ) -> Result<ShredSummary> {
        self.keyops().shred_expired(session, today, pass, approved)
    }

    /// Checks a credit-repair order (`cs1.shred-order.…`): signed by the authority this
    /// platform trusts (else a forgery: [`credseal_auth::Denial::ShredOrderBadSignature`], exit
    /// 4), for this platform (else [`credseal_auth::Denial::WrongAudience`], exit 3), naming a
    /// valid reference, a catalogue class and a record of the subject that is stored and not
    /// already shredded (else [`EngineError::NotFound`], before any officer's approval is
    /// spent).
    pub fn check_shred_order(&self, text: &str) -> std::result::Result<CheckedShredOrder, crate::QueryError> {
        self.keyops().check_shred_order(text)
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
        self.keyops().shred_by_order(session, order, pass, approved)
    }
}
