//! The log key's lifecycle (docs/design.md §8): its signed history and its rotation.
//!
//! The keystore holds the current log key's seed and the handover notes of every earlier
//! rotation ([`credseal_log::Handover`], signed by the outgoing and the incoming key); the
//! seeds of earlier keys are destroyed when they hand over. The history is kept in the
//! keystore, not the database, because it must change in the same atomic write that destroys
//! the old seed: a new seed without its handover (or the reverse) would leave every later
//! bundle unverifiable, and a handover can never be signed again once the old seed is gone.
//! A keystore rolled back to before a rotation is refused by its generation (K1).
//! The database keeps a public copy of the handover notes (`layout::META_LOG_HANDOVERS`),
//! written with the rotation's receipt and refreshed at open, from which
//! [`crate::PublicLog`] shows the history without the passphrase.

use credseal_crypto::Passphrase;
use credseal_log::KeyHistory;
use serde::Serialize;

use crate::components::gate::{Approved, Operation};
use crate::error::Result;
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
        self.keyops().log_key_history()
    }

    /// The verifier key of the key that signs the log now (what plain C2SP tools need for new
    /// checkpoints). Subjects pin [`Platform::log_vkey`], the original key.
    pub fn log_current_vkey(&self) -> Result<String> {
        self.keyops().log_current_vkey()
    }

    /// The operation two officers approve to rotate the current log key.
    pub fn log_rotation_operation(&self) -> Result<Operation> {
        self.keyops().log_rotation_operation()
    }

    /// Every log key, the original first, with the receipt indexes it signs.
    pub fn log_key_status(&self) -> Result<Vec<LogKeyStatus>> {
        self.keyops().log_key_status()
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
        self.keyops().rotate_log_key(session, pass, approved)
    }
}

/// The log key of `ks` held in its token: signs through the token.
struct TokenLogKey {
    custody: credseal_crypto::TokenCustody,
    id: credseal_crypto::TokenObject,
}

impl credseal_log::ExternalLogKey for TokenLogKey {
    fn sign(&self, msg: &[u8]) -> std::result::Result<[u8; 64], String> {
        self.custody.token.sign(&self.id, msg)
    }
}

/// The signer of the log `origin` with the current log key of `ks`: its seed, or its
/// objects in the keystore's token (every signature then made in the token).
pub fn log_signer(ks: &credseal_crypto::Keystore, origin: &str) -> Result<credseal_log::LogSigner> {
    use crate::error::EngineError;
    let internal = |e: credseal_log::FormatError| EngineError::Internal(format!("log key: {e}"));
    match (&ks.log_key, &ks.token) {
        (credseal_crypto::LogKey::Seed(seed), _) => {
            credseal_log::LogSigner::from_seed(origin, seed.expose_secret()).map_err(internal)
        }
        (credseal_crypto::LogKey::Token { id, public }, Some(custody)) => {
            let public = credseal_auth::PublicKey::from_bytes(public).map_err(|_| EngineError::Corrupt {
                what: "the keystore's log key".into(),
                detail: "its public key in the manifest is not a valid Ed25519 key".into(),
            })?;
            credseal_log::LogSigner::external(
                origin,
                public,
                std::sync::Arc::new(TokenLogKey {
                    custody: custody.clone(),
                    id: *id,
                }),
            )
            .map_err(internal)
        }
        (credseal_crypto::LogKey::Token { .. }, None) => Err(EngineError::Internal(
            "log key: in a token the keystore was not opened with".into(),
        )),
    }
}
