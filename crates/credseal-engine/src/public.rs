//! The log's public material read from a data directory without the keystore
//! ([`PublicLog`]): what `log key`, `log checkpoint` and `log history` print, with no
//! passphrase.
//!
//! ```no_run
//! let log = credseal_engine::PublicLog::open("data".as_ref())?;
//! println!("{}", log.log_vkey());
//! if let Some(note) = log.latest_checkpoint() {
//!     print!("{note}");
//! }
//! # Ok::<(), credseal_engine::EngineError>(())
//! ```

use std::path::Path;

use credseal_log::{KeyHistory, LogVerifier};
use credseal_store::{SledStore, Store as _, Tree};
use credseal_vrf::VrfPublicKey;

use crate::components::appender;
use crate::components::datadir::{self, DB_DIR, DataDir, LOG_KEY_FILE, VRF_KEY_FILE};
use crate::components::keyops;
use crate::error::{EngineError, Result};
use crate::layout;
use crate::logkey::LogKeyStatus;

/// A data directory's public log material, read once at [`PublicLog::open`]: the public key
/// files `init` wrote, the log key's handover history, the latest signed checkpoint and the
/// log size. Nothing here needs or touches the keystore, and nothing is written.
///
/// What it returns is checked as far as public material allows: the history is walked from
/// the original key in `log-key.pub` (every handover signed by the keys it hands over
/// between), and the latest checkpoint verifies under the key the history says signs it.
/// Only what the keystore alone knows is not checked: that the store belongs to this
/// keystore, and the trust state (the platform checks both at open).
pub struct PublicLog {
    history: KeyHistory,
    vrf_key: VrfPublicKey,
    checkpoint: Option<String>,
    size: u64,
}

impl std::fmt::Debug for PublicLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicLog")
            .field("origin", &self.history.original().origin())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The one line of a public key file, without its line ending.
fn read_line(path: &Path) -> Result<String> {
    let bytes = crate::fsutil::read(path)?;
    let text = String::from_utf8(bytes).map_err(|_| EngineError::Corrupt {
        what: path.display().to_string(),
        detail: "not UTF-8".into(),
    })?;
    Ok(text.trim().to_string())
}

impl PublicLog {
    /// Reads the public log material of the data directory `dir`. Takes the store's lock
    /// for as long as it reads, as [`crate::Platform::open`] does: a store open in another
    /// process (a running `credseal serve`) is [`credseal_store::StoreError::Locked`].
    ///
    /// Refuses, naming what: a directory that is not a private data directory (as the
    /// platform does), a public key file that is missing or does not parse, a log key of
    /// another origin than the configuration's, a store of another format, a handover
    /// history that does not verify from the original key, and a latest checkpoint that does
    /// not verify under it (e.g. a store last written by a release that kept no public copy
    /// of the history: open the platform once to record it).
    pub fn open(dir: &Path) -> Result<Self> {
        let config = DataDir::read_config(dir)?;
        datadir::check_private(dir)?;
        let key_path = dir.join(LOG_KEY_FILE);
        let original = LogVerifier::from_vkey(&read_line(&key_path)?).map_err(|e| EngineError::Corrupt {
            what: key_path.display().to_string(),
            detail: format!("not a log key: {e}"),
        })?;
        if original.origin() != config.origin {
            return Err(EngineError::Corrupt {
                what: key_path.display().to_string(),
                detail: format!(
                    "the key is for origin {:?}, the configuration names {:?}",
                    original.origin(),
                    config.origin
                ),
            });
        }
        let vrf_path = dir.join(VRF_KEY_FILE);
        let vrf_text = read_line(&vrf_path)?;
        let vrf_key = vrf_text
            .strip_prefix(credseal_vrf::TEXT_PREFIX)
            .and_then(credseal_core::unhex)
            .ok_or_else(|| format!("not {}<hex>", credseal_vrf::TEXT_PREFIX))
            .and_then(|b| VrfPublicKey::from_bytes(&b).map_err(|e| e.to_string()))
            .map_err(|detail| EngineError::Corrupt {
                what: vrf_path.display().to_string(),
                detail: format!("not a VRF public key: {detail}"),
            })?;

        // The same lock as the platform's: sled's, held until `store` drops below.
        let store = SledStore::open(&dir.join(DB_DIR), false)?;
        datadir::check_format(&store)?;
        let notes = match store.get(Tree::Meta, layout::META_LOG_HANDOVERS)? {
            Some(v) => layout::decode_handovers(&v).ok_or_else(|| EngineError::Corrupt {
                what: "the store's copy of the log key history".into(),
                detail: "not a list of notes".into(),
            })?,
            None => {
                return Err(EngineError::NotFound(format!(
                    "the store in {} holds no public copy of the log key history yet (written by an \
                     earlier release): open the platform once with its passphrase to record it",
                    dir.display()
                )));
            }
        };
        let history = KeyHistory::from_handovers(&original, &notes).map_err(|e| EngineError::Corrupt {
            what: format!("the store's copy of the log key history (from {})", key_path.display()),
            detail: e.to_string(),
        })?;
        let checkpoint = appender::latest_checkpoint(&store)?;
        if let Some(text) = &checkpoint {
            history.verify_checkpoint(text).map_err(|e| EngineError::Corrupt {
                what: "latest checkpoint".into(),
                detail: format!(
                    "{e} (under the log key history the store holds: if the key was rotated by an \
                     earlier release, open the platform once with its passphrase to record it)"
                ),
            })?;
        }
        let size = appender::log_size(&store)?;
        drop(store);
        Ok(Self {
            history,
            vrf_key,
            checkpoint,
            size,
        })
    }

    /// The log's verifier key that subjects and auditors pin (`log-key.pub`): the original
    /// key, from which the key history walks after a rotation.
    pub fn log_vkey(&self) -> String {
        self.history.original().vkey()
    }

    /// The verifier key of the key that signs the log now: the last handover's new key.
    pub fn log_current_vkey(&self) -> String {
        self.history.current().vkey()
    }

    /// The platform's VRF public key (`vrf-key.pub`).
    pub fn vrf_public_key(&self) -> &VrfPublicKey {
        &self.vrf_key
    }

    /// The log's key history: the original key and every handover, verified.
    pub fn log_key_history(&self) -> &KeyHistory {
        &self.history
    }

    /// Every log key, the original first, with the receipt indexes it signs.
    pub fn log_key_status(&self) -> Vec<LogKeyStatus> {
        keyops::log_key_status(&self.history)
    }

    /// The latest signed checkpoint (verified), if the log has any receipt.
    pub fn latest_checkpoint(&self) -> Option<&str> {
        self.checkpoint.as_deref()
    }

    /// The number of receipts in the log.
    pub fn log_size(&self) -> u64 {
        self.size
    }
}
