//! Key custody for security officers: changing what unlocks the keystore (`keys passphrase`)
//! and, for a keystore whose master key is split among officers, re-dealing the shares
//! (`keys reshare`). Both replace the keystore file atomically and leave a key-event receipt
//! that names what changed, never a key or a passphrase.

use credseal_crypto::Passphrase;
use credseal_log::Action;

use crate::components::keyops::admin_receipt;
use crate::error::Result;
use crate::platform::Platform;

impl Platform {
    /// Seals the keystore under the passphrase `next` instead of `current` (which must open
    /// the file on disk now). The file is replaced atomically: a crash leaves the old file,
    /// whole, or the new one. Leaves a key-event receipt.
    pub fn change_passphrase(
        &self,
        session: &crate::StaffSession,
        current: &Passphrase,
        next: &Passphrase,
    ) -> Result<()> {
        let ops = self.keyops();
        self.vault
            .update_keystore_as(self.dir.as_ref(), current, next, |_| Ok(()))?;
        let r = admin_receipt(
            session,
            Action::KeyEvent,
            "keystore passphrase changed".to_string(),
            None,
        );
        ops.commit_key_event(r, credseal_store::Batch::new())
    }

    /// Deals the keystore's master key (`master`, put together from K current shares) to
    /// `holders` with threshold `threshold`, as the next epoch: the keystore's keys stay, the
    /// file is replaced atomically, and the earlier epoch's shares stop counting (they are
    /// shares of an epoch key that no longer wraps anything in the file). Leaves a key-event
    /// receipt naming the epoch, K and the holders. Returns the new epoch.
    pub fn reshare(
        &self,
        session: &crate::StaffSession,
        master: &Passphrase,
        threshold: usize,
        holders: &[(String, credseal_crypto::SealingPublicKey)],
    ) -> Result<u64> {
        let ops = self.keyops();
        let set = self
            .vault
            .update_keystore_as(self.dir.as_ref(), master, master, |keys| {
                let current = keys.unseal.as_ref().ok_or_else(|| {
                    crate::EngineError::invalid("keystore", "it is sealed by a passphrase, not by officers' shares")
                })?;
                let next = current
                    .reshare(master, threshold, holders)
                    .map_err(|e| crate::EngineError::invalid("reshare", e.to_string()))?;
                keys.unseal = Some(next.clone());
                Ok(next)
            })?;
        let r = admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "unseal shares reshared: epoch {}, {} of {} holders ({})",
                set.epoch,
                set.threshold,
                set.holders.len(),
                set.holder_names().join(", ")
            ),
            None,
        );
        ops.commit_key_event(r, credseal_store::Batch::new())?;
        Ok(set.epoch)
    }
}
