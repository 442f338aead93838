//! Staff changes under the two-person rule: enrolling or removing a security officer or an
//! incident responder is an [`Operation`] that needs two enrolled officers' approvals or the
//! authority's staff order ([`Approved`]); the change, the use of the approvals and the
//! receipt (an `admin` receipt naming the staff id, the role and who approved — never key
//! bytes) go into one atomic write, and a removal takes effect for every check that starts
//! after it. The first officers are named when the platform is created
//! ([`StaffOps::found`]), the one time no approval can exist.

use credseal_log::Action;
use credseal_store::Batch;

use crate::clock::Clock;
use crate::components::appender::Appender;
use crate::components::gate::{Approved, Gate, Operation, StaffRole, StaffSession, valid_staff_id};
use crate::components::keyops::admin_receipt;
use crate::components::vault::Vault;
use crate::error::{EngineError, Result};

/// One staff change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffChange {
    /// Enrol `key` as the key of `id` in `role`; `replace` re-enrols a key enrolled under
    /// another id.
    Enroll {
        /// The role.
        role: StaffRole,
        /// The staff id.
        id: String,
        /// The Ed25519 public key.
        key: [u8; 32],
        /// Re-enrol a key already enrolled under another id.
        replace: bool,
    },
    /// Remove every key of `id` in `role`.
    Remove {
        /// The role.
        role: StaffRole,
        /// The staff id.
        id: String,
    },
}

impl StaffChange {
    /// The operation officers (or the authority) approve for this change.
    pub fn operation(&self) -> Operation {
        match self {
            Self::Enroll { role, id, key, .. } => Operation::enroll_staff(*role, id, key),
            Self::Remove { role, id } => Operation::remove_staff(*role, id),
        }
    }
}

/// The staff use cases, a per-call view of the parts they need.
pub(crate) struct StaffOps<'a> {
    /// The registry and the approvals.
    pub(crate) gate: &'a Gate,
    /// Where the receipts go.
    pub(crate) appender: &'a Appender,
    /// The keystore (the registry's MACs).
    pub(crate) vault: &'a Vault,
    /// The time of the receipts.
    pub(crate) clock: &'a dyn Clock,
}

impl StaffOps<'_> {
    /// Carries out `change`, approved for exactly its operation: checks the change, uses up
    /// the approvals, writes the change with its receipt.
    pub(crate) fn change(&self, session: &StaffSession, change: &StaffChange, approved: &Approved) -> Result<()> {
        let op = change.operation();
        approved.require(&op)?;
        let ks = self.vault.keys();
        let (mut batch, role, id, verb) = match change {
            StaffChange::Enroll { role, id, key, replace } => (
                self.gate.enroll_staff(&ks, *role, id, key, *replace)?,
                *role,
                id,
                "enrolled",
            ),
            StaffChange::Remove { role, id } => (self.gate.remove_staff(&ks, *role, id)?, *role, id, "removed"),
        };
        batch.append(self.gate.consume(&ks, approved)?);
        let r = admin_receipt(
            session,
            Action::Admin,
            format!("staff {verb}: {} {id} ({})", role.label(), approved.note()),
            None,
        );
        drop(ks);
        self.appender
            .append_with(self.vault, vec![r], batch, self.clock.now()?)?;
        Ok(())
    }

    /// Names the platform's first officers (at least two, different ids and keys): allowed
    /// only while no officer is enrolled, which is the case right after `init`.
    pub(crate) fn found(&self, session: &StaffSession, officers: &[(String, [u8; 32])]) -> Result<()> {
        if self.gate.has_officers()? {
            return Err(EngineError::denied(
                "officers-already-named",
                "this platform already has officers: enrol more with two officers' approvals or the authority's staff order",
            ));
        }
        let mut ids: Vec<&str> = officers.iter().map(|(id, _)| id.as_str()).collect();
        let mut keys: Vec<&[u8; 32]> = officers.iter().map(|(_, k)| k).collect();
        ids.sort_unstable();
        ids.dedup();
        keys.sort_unstable();
        keys.dedup();
        if ids.len() < 2 || ids.len() != officers.len() || keys.len() != officers.len() {
            return Err(EngineError::invalid(
                "first officers",
                "name at least two officers, each with its own id and its own key",
            ));
        }
        if let Some(bad) = ids.iter().find(|i| !valid_staff_id(i)) {
            return Err(EngineError::invalid(
                format!("staff id {bad:?}"),
                "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
        }
        let ks = self.vault.keys();
        let mut batch = Batch::new();
        for (id, key) in officers {
            batch.append(self.gate.enroll_staff(&ks, StaffRole::Officer, id, key, false)?);
        }
        let r = admin_receipt(
            session,
            Action::Admin,
            format!("staff enrolled: first officers {} (named at init)", ids.join(", ")),
            None,
        );
        drop(ks);
        self.appender
            .append_with(self.vault, vec![r], batch, self.clock.now()?)?;
        Ok(())
    }
}
