//! The log key's lifecycle (docs/design.md §8): its signed history and its rotation.
//!
//! The keystore holds the current log key's seed and the handover notes of every earlier
//! rotation ([`credseal_log::Handover`], signed by the outgoing and the incoming key); the
//! seeds of earlier keys are destroyed when they hand over. The history is kept in the
//! keystore, not the database, because it must change in the same atomic write that destroys
//! the old seed: a new seed without its handover (or the reverse) would leave every later
//! bundle unverifiable, and a handover can never be signed again once the old seed is gone.
//! A keystore rolled back to before a rotation is refused by its generation (K1).

use credseal_crypto::{LogKeySeed, Passphrase};
use credseal_log::{Action, Handover, KeyHistory, LogSigner};
use credseal_store::Batch;
use serde::Serialize;

use crate::components::gate::{Approved, Operation};
use crate::error::{EngineError, Result};
use crate::platform::Platform;

/// One log key and the part of the log it signs.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LogKeyStatus {
    /// Its C2SP key id (8 hex digits).
    pub key_id: String,
    /// Its verifier key `origin+id+base64(0x01 ‖ key)`.
    pub vkey: String,
    /// The index of the first receipt it signs (0 for the original key).
    pub from: u64,
    /// The index of the first receipt it no longer signs; `None` for the current key.
    pub until: Option<u64>,
    /// Whether it signs the log now.
    pub current: bool,
}

/// What `keys log-rotate` did.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LogRotation {
    /// The tree size from which the new key signs (the index of its first receipt).
    pub from_size: u64,
    /// The retired key (its seed destroyed).
    pub old_vkey: String,
    /// The new key.
    pub new_vkey: String,
    /// The signed handover note, as published in every bundle.
    pub handover: String,
    /// The officers who approved.
    pub officers: Vec<String>,
}

impl Platform {
    /// The log's key history: the original key (the one subjects pin), every handover, the
    /// current key. Fails closed if the history does not verify or does not end at the
    /// keystore's current log key.
    pub fn log_key_history(&self) -> Result<KeyHistory> {
        self.vault.log_key_history(self.origin())
    }

    /// The verifier key of the key that signs the log now (what plain C2SP tools need for new
    /// checkpoints). Subjects pin [`Platform::log_vkey`], the original key.
    pub fn log_current_vkey(&self) -> Result<String> {
        Ok(self.log_signer()?.vkey())
    }

    /// The operation two officers approve to rotate the current log key.
    pub fn log_rotation_operation(&self) -> Result<Operation> {
        Ok(Operation::rotate_log_key(self.log_signer()?.key_id()))
    }

    /// Every log key, the original first, with the receipt indexes it signs.
    pub fn log_key_status(&self) -> Result<Vec<LogKeyStatus>> {
        let h = self.log_key_history()?;
        let ranges = h.ranges();
        let last = ranges.len() - 1;
        Ok(ranges
            .into_iter()
            .enumerate()
            .map(|(i, r)| LogKeyStatus {
                key_id: format!("{:08x}", r.key.key_id()),
                vkey: r.key.vkey(),
                from: r.from,
                until: r.until,
                current: i == last,
            })
            .collect())
    }

    /// Rotates the log key, approved by two officers ([`Operation::rotate_log_key`] of the
    /// current key): a fresh key signs from the current tree size on; the handover, signed by
    /// the old and the new key, joins the keystore's history in the same atomic keystore
    /// write that destroys the old seed; then the key event's receipt — the new key's first —
    /// names the officers. Subjects that pinned the original key follow the handovers in
    /// their bundles.
    ///
    /// Holds the subject map (which every commit holds while it signs) from reading the
    /// tree size to switching the key, so no commit runs in between. A crash after the keystore write and before the receipt leaves a consistent log
    /// (the next commit is the new key's first; the next open records the newer keystore).
    pub fn rotate_log_key(
        &self,
        session: &crate::StaffSession,
        pass: &Passphrase,
        approved: &Approved,
    ) -> Result<LogRotation> {
        let commits = self.hold_commits()?;
        let old = self.log_signer()?;
        approved.require(&Operation::rotate_log_key(old.key_id()))?;
        let history = self.log_key_history()?;
        let from_size = self.log_size()?;
        // A fresh key whose id no key of the history has (ids are 32 bits: a clash is
        // astronomically rare, but the history refuses it, so draw again).
        let (seed, new) = loop {
            let seed = LogKeySeed::generate();
            let new = LogSigner::from_seed(self.origin(), seed.expose_secret())
                .map_err(|e| EngineError::Internal(format!("log key: {e}")))?;
            if history.ranges().iter().all(|r| r.key.key_id() != new.key_id()) {
                break (seed, new);
            }
        };
        let handover = Handover::sign(&old, &new, from_size)
            .map_err(|e| EngineError::Internal(format!("log key handover: {e}")))?;
        let mut check = history;
        check
            .push(handover.clone())
            .map_err(|e| EngineError::Internal(format!("log key handover: {e}")))?;
        // The old seed is zeroized when the replaced keystore values drop (`LogKeySeed`
        // zeroizes on drop); the signers holding it drop at the end of this function.
        let note = handover.note().to_string();
        self.update_keystore(pass, move |keys| {
            keys.log_seed = seed;
            keys.log_history.push(note);
            Ok(())
        })?;
        drop(commits);
        drop(old);
        let old_vkey = handover.old_key().vkey();
        let new_vkey = new.vkey();
        drop(new);
        let digest = credseal_core::hex(&credseal_crypto::sha256(handover.note().as_bytes()));
        let r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "log key rotated: {:08x} retired, {new_vkey} signs from tree size {from_size} (handover SHA-256 {digest}); {}",
                handover.old_key().key_id(),
                approved.note()
            ),
            None,
        );
        self.commit_key_event(r, Batch::new())?;
        Ok(LogRotation {
            from_size,
            old_vkey,
            new_vkey,
            handover: handover.note().to_string(),
            officers: approved.officers().to_vec(),
        })
    }
}
