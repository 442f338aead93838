//! Key status and the key lifecycle for security officers: rotate, rewrap, retire, re-key,
//! and keystore rollback detection (docs/design.md §8).

use serde::Serialize;

use credseal_crypto::Passphrase;

use crate::components::gate::Approved;
use crate::components::keyops::KeyOps;
use crate::error::Result;
use crate::platform::Platform;

/// One KEK version of a class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VersionStatus {
    /// Version number.
    pub version: u32,
    /// Whether new data keys are wrapped with it.
    pub primary: bool,
    /// Unix seconds of creation.
    pub created: u64,
    /// Data keys wrapped under it now.
    pub data_keys: u64,
}

/// The KEK versions of one class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClassKeyStatus {
    /// Class id.
    pub class: String,
    /// Versions held, oldest first.
    pub versions: Vec<VersionStatus>,
}

impl Platform {
    /// The key operations over this platform's parts: a view of references, made per call
    /// (no lock, no clone).
    pub(crate) fn keyops(&self) -> KeyOps<'_> {
        KeyOps {
            store: self.store.as_ref(),
            dir: self.dir.as_ref(),
            origin: self.origin(),
            vault: &self.vault,
            gate: &self.gate,
            appender: &self.appender,
            clock: self.clock.as_ref(),
            write_lock: &self.write_lock,
            catalog: &self.catalog,
            shred_lock: &self.shred_lock,
        }
    }

    /// Class → KEK versions, which is primary, how many data keys use each (exact: counters
    /// written in the same atomic batch as the data keys; `verify_store` recounts them).
    pub fn key_status(&self) -> Result<Vec<ClassKeyStatus>> {
        self.keyops().key_status()
    }
}

/// What `keys rewrap` did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RewrapSummary {
    /// Subjects read.
    pub subjects: u64,
    /// Data keys re-wrapped to their class's primary version.
    pub rewrapped: u64,
    /// Per class: (from version, to version, data keys).
    pub moves: Vec<(String, u32, u32, u64)>,
    /// Data keys that were wrapped by a KEK directly (a data directory from before key
    /// trees) and are now in their class's key tree.
    pub into_trees: u64,
}

/// Subjects per rewrap batch (one atomic write each).
pub(crate) const REWRAP_BATCH: usize = 512;

impl Platform {
    /// Refuses a keystore older than one the database has seen (a rollback); records a
    /// newer one. A newer one without its event's receipt (a crash between writing the
    /// keystore and the receipt) gets a receipt saying so.
    pub(crate) fn check_generation(&self) -> Result<()> {
        self.keyops().check_generation()
    }

    /// Checks the live trust state against the latest checkpoint (at open); returns the
    /// committed policy.
    pub(crate) fn check_trust(&self, file_policy: Option<&credseal_auth::Policy>) -> Result<credseal_auth::Policy> {
        self.keyops().check_trust(file_policy)
    }

    /// Makes a new KEK version of `class` primary: new data keys are wrapped with it at
    /// once; data keys under older versions stay readable. Returns the new version.
    pub fn rotate_class(&self, session: &crate::StaffSession, class: &str, pass: &Passphrase) -> Result<u32> {
        self.keyops().rotate_class(session, class, pass)
    }

    /// Re-wraps every data key not under its class's primary KEK version, in atomic batches
    /// of subjects (bundles and counters together). Records are not touched. Safe to stop at
    /// any moment and run again: it finds what is left.
    pub fn rewrap(&self, session: &crate::StaffSession, progress: &dyn crate::Progress) -> Result<RewrapSummary> {
        self.keyops().rewrap(session, progress)
    }

    /// Destroys KEK `version` of `class`, approved by two officers: refused while it is
    /// primary or any data key still uses it; then removed from the keystore (zeroized) and
    /// the keystore rewritten.
    pub fn retire_version(
        &self,
        session: &crate::StaffSession,
        class: &str,
        version: u32,
        pass: &Passphrase,
        approved: &crate::components::gate::Approved,
    ) -> Result<()> {
        self.keyops().retire_version(session, class, version, pass, approved)
    }

    /// Re-keys one subject's class (suspected exposure of its data key): a new data key
    /// under the primary KEK, every record of the class re-encrypted, the old key dropped —
    /// one atomic write with the receipt in the subject's chain.
    pub fn rekey(
        &self,
        session: &crate::StaffSession,
        subject: &credseal_core::SubjectId,
        class: &str,
        approved: &Approved,
    ) -> Result<u64> {
        self.keyops().rekey(session, subject, class, approved)
    }
}
