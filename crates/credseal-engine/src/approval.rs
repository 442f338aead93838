//! The two-person rule for destructive key operations (issue 5): retiring a KEK version,
//! re-keying a subject's class, shredding and rotating the log key need approvals — staff requests (role
//! `officer`, action `approve`) whose input digest is the SHA-256 of the operation's
//! description — signed by two different enrolled officers.

use credseal_crypto::sha256;

use crate::error::{EngineError, Result};
use crate::platform::Platform;
use crate::staff::StaffRole;

/// The action named in an officer's approval.
pub const APPROVE_ACTION: &str = "approve";

/// The description of a destructive operation that officers approve (its SHA-256 is what
/// they sign). Build it with the constructors; they are the only accepted forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation(String);

impl Operation {
    /// Retire KEK `version` of `class`.
    pub fn retire(class: &str, version: u32) -> Self {
        Self(format!("retire {class} v{version}"))
    }

    /// Re-key `subject`'s `class`.
    pub fn rekey(subject: &credseal_core::SubjectId, class: &str) -> Self {
        Self(format!("rekey {subject} {class}"))
    }

    /// Shred one record by a credit-repair order.
    pub fn shred_record(subject: &credseal_core::SubjectId, class: &str, record_id: &str, order: &str) -> Self {
        Self(format!("shred {subject} {class} {record_id} order {order}"))
    }

    /// The retention sweep as of `today`.
    pub fn shred_expired(today: credseal_core::Date) -> Self {
        Self(format!("shred expired {today}"))
    }

    /// Rotate the log key whose C2SP key id is `current_key_id` (`keys status` shows it).
    pub fn rotate_log_key(current_key_id: u32) -> Self {
        Self(format!("rotate log key {current_key_id:08x}"))
    }

    /// The text officers approve.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the text: the input digest of an approval.
    pub fn digest(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }
}

/// Approvals checked for one operation: only [`Platform::approve`] makes one.
#[derive(Clone, Debug)]
pub struct Approved {
    op: Operation,
    officers: Vec<String>,
}

impl Approved {
    /// The enrolled ids of the officers who approved.
    pub fn officers(&self) -> &[String] {
        &self.officers
    }

    pub(crate) fn require(&self, op: &Operation) -> Result<()> {
        if &self.op != op {
            return Err(EngineError::denied(
                "approvals_wrong_operation",
                format!("the approvals are for {:?}, not for {:?}", self.op.text(), op.text()),
            ));
        }
        Ok(())
    }

    /// "approved by a, b" for receipts.
    pub(crate) fn note(&self) -> String {
        format!("approved by {}", self.officers.join(", "))
    }
}

impl Platform {
    /// Checks the officers' approvals of `op`: each a valid, unused officer request for
    /// exactly this operation, from at least two different enrolled officers.
    pub fn approve(&self, op: &Operation, approvals: &[String], now: u64) -> Result<Approved> {
        let mut officers: Vec<String> = Vec::new();
        for a in approvals {
            let id = self.verify_staff_request(a, StaffRole::Officer, APPROVE_ACTION, &op.digest(), now)?;
            if officers.contains(&id) {
                return Err(EngineError::denied(
                    "approvals_same_officer",
                    format!(
                        "two approvals from the same officer ({id}): {:?} needs two different officers",
                        op.text()
                    ),
                ));
            }
            officers.push(id);
        }
        if officers.len() < 2 {
            return Err(EngineError::denied(
                "approvals_missing",
                format!(
                    "{:?} needs the approval of two different enrolled officers ({} given)",
                    op.text(),
                    officers.len()
                ),
            ));
        }
        Ok(Approved {
            op: op.clone(),
            officers,
        })
    }
}
