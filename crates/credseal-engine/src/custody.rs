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

    /// Deals a NEW master key to `holders` with threshold `threshold`, as the next epoch,
    /// and seals the keystore under it (`master`, put together from K current shares, must
    /// open the file on disk now). The keystore's keys stay; only their wrapping changes,
    /// so neither the earlier epoch's shares nor the old master key they give (with an old
    /// copy of the file) open the new file. The file is replaced atomically. Leaves a
    /// key-event receipt naming the epoch, K and the holders. Returns the new epoch.
    pub fn reshare(
        &self,
        session: &crate::StaffSession,
        master: &Passphrase,
        threshold: usize,
        holders: &[(String, credseal_crypto::SealingPublicKey)],
    ) -> Result<u64> {
        let ops = self.keyops();
        let not_shared =
            || crate::EngineError::invalid("keystore", "it is sealed by a passphrase, not by officers' shares");
        let (next, next_master) = {
            let keys = self.vault.keys();
            let current = keys.unseal.as_ref().ok_or_else(not_shared)?;
            current
                .reshare(threshold, holders)
                .map_err(|e| crate::EngineError::invalid("reshare", e.to_string()))?
        };
        let set = self
            .vault
            .update_keystore_as(self.dir.as_ref(), master, &next_master, |keys| {
                let current = keys.unseal.as_ref().ok_or_else(not_shared)?;
                // Another reshare in between: the set dealt above is not the next one.
                if current.epoch + 1 != next.epoch {
                    return Err(crate::EngineError::invalid(
                        "reshare",
                        "the keystore was reshared meanwhile; unseal it again and retry",
                    ));
                }
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
