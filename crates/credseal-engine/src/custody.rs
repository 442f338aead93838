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
}
