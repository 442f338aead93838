//! The engine's errors and how each maps to the command line's exit codes.

use std::path::PathBuf;

use credseal_core::CatalogErrors;
use credseal_crypto::KeystoreError;
use credseal_store::StoreError;

use crate::report::IngestReport;

/// What kind of failure an error is, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Exit 1: something could not be done (bad input, I/O, a locked directory).
    Error,
    /// Exit 2: the command was used wrongly.
    Usage,
    /// Exit 3: access denied.
    Denied,
    /// Exit 4: verification failed (tampering, forgery, inconsistency).
    Verification,
}

impl ErrorClass {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Error => 1,
            Self::Usage => 2,
            Self::Denied => 3,
            Self::Verification => 4,
        }
    }
}

/// An engine error. Messages name the file, line, field or record concerned and never
/// carry key material or field values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The directory is not a credseal data directory.
    #[error("{} is not a credseal data directory (no credseal.toml)", path.display())]
    NotADataDir {
        /// The directory.
        path: PathBuf,
    },
    /// `init` was pointed at a non-empty directory.
    #[error("{} already exists and is not empty; refusing to overwrite it", path.display())]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {detail}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        detail: String,
    },
    /// The platform configuration file is malformed.
    #[error("{}: {detail}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The catalogue has errors.
    #[error("{0}")]
    Catalog(CatalogErrors),
    /// The catalogue in the data directory is not the one the keystore was set up with.
    #[error("{}: the catalogue does not match the one recorded in the keystore (edited on disk?)", path.display())]
    CatalogMismatch {
        /// The catalogue file.
        path: PathBuf,
    },
    /// The keystore could not be opened.
    #[error("{}: {source}", path.display())]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// Why.
        source: KeystoreError,
    },
    /// The keystore holds the public demo keys and the caller did not allow them
    /// ([`crate::OpenOptions::allow_demo_keys`]).
    #[error("{}: this keystore holds the public demo keys from keys-example/; refusing to use it", path.display())]
    DemoKeysRefused {
        /// The keystore file.
        path: PathBuf,
    },
    /// The database does not belong to this keystore.
    #[error("the database in {} was not created with this keystore", path.display())]
    KeystoreMismatch {
        /// The data directory.
        path: PathBuf,
    },
    /// The keystore is older than one the database has already seen.
    #[error(
        "the keystore {} is generation {keystore}, but this database has seen generation {seen}: an older copy of the keystore (rollback) is refused",
        path.display()
    )]
    KeystoreRollback {
        /// The keystore file.
        path: PathBuf,
        /// Its generation.
        keystore: u64,
        /// The highest generation recorded in the database.
        seen: u64,
    },
    /// The storage layer failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The data directory is not private to the user running credseal (group- or
    /// world-writable, owned by another user, a symbolic link): refused before anything in it
    /// is read.
    #[error("the data directory {} is not private: {detail}", path.display())]
    InsecureDataDir {
        /// The data directory.
        path: PathBuf,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// A stored value failed verification.
    #[error("stored data failed verification: {what}: {detail}")]
    Corrupt {
        /// Which value (tree, subject, class, record), named by blinded ids only.
        what: String,
        /// Why.
        detail: String,
    },
    /// An ingest file was rejected; nothing was written.
    #[error("{0}")]
    Ingest(Box<IngestReport>),
    /// An earlier ingest was interrupted.
    #[error("an earlier ingest was interrupted before it finished")]
    IngestPending,
    /// A request named something that does not exist (a class, a version, a subject).
    #[error("{0}")]
    NotFound(String),
    /// The request would replace something that exists already (a trusted key, an
    /// enrolment) and the caller did not ask to replace it.
    #[error("{what}")]
    Conflict {
        /// What exists already.
        what: String,
    },
    /// The caller's input is malformed or out of range.
    #[error("{what}: {detail}")]
    Invalid {
        /// Which input (an option, a file, a field of an order).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The platform is not in a state that allows this yet (no authority key trusted, a
    /// KEK version still in use).
    #[error("{0}")]
    NotReady(String),
    /// This platform trusts no authority key yet, so no department query can be checked.
    #[error("this platform trusts no authority key yet")]
    NoAuthority,
    /// A KEK version cannot be retired while data keys still use it.
    #[error("{data_keys} data key(s) of class {class} still use KEK v{version}")]
    KekInUse {
        /// The class.
        class: String,
        /// The KEK version.
        version: u32,
        /// How many data keys use it.
        data_keys: u64,
    },
    /// The receipt log could not be written; nothing was released.
    #[error("the receipt log could not be written, so nothing was released: {0}")]
    LogWrite(String),
    /// The receipt queue is full: nothing was queued or done; try again shortly.
    #[error("the receipt queue is full ({capacity} receipts waiting); nothing was done, try again shortly")]
    Pushback {
        /// The queue's capacity in receipts.
        capacity: usize,
    },
    /// The clock cannot say the time (set before 1970, or a test clock set to no time).
    #[error("no time: {detail}")]
    Clock {
        /// Why.
        detail: String,
    },
    /// An object failed verification (a sealed answer that does not open, a forged file).
    #[error("verification failed: {0}")]
    Verification(String),
    /// The caller is not allowed to do this (a staff request by a key not enrolled, missing
    /// approvals).
    #[error("access denied ({code}): {detail}")]
    Denied {
        /// A stable reason code (kebab-case like the query denial codes: `staff-not-enrolled`, `approvals-missing`, ...).
        code: &'static str,
        /// What was refused and why.
        detail: String,
    },
    /// The platform failed internally (a poisoned lock, a failed worker thread, a sealing
    /// or encoding failure); not the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::CatalogMismatch { .. }
            | Self::KeystoreMismatch { .. }
            | Self::KeystoreRollback { .. }
            | Self::Corrupt { .. }
            | Self::InsecureDataDir { .. }
            | Self::Verification(_) => ErrorClass::Verification,
            Self::Keystore { source, .. } => match source {
                KeystoreError::EmptyPassphrase | KeystoreError::NoSuchKey(_) => ErrorClass::Error,
                _ => ErrorClass::Verification,
            },
            // A store directory others may write to is as untrustworthy as a writable data
            // directory (`InsecureDataDir`): both exit 4.
            Self::Store(StoreError::Corrupt { .. } | StoreError::Insecure { .. }) => ErrorClass::Verification,
            Self::Invalid { .. } | Self::Conflict { .. } | Self::NotReady(_) | Self::NoAuthority => ErrorClass::Usage,
            // A precondition of the store, not of the command line: the command was right,
            // the data keys must move first (`keys rewrap`).
            Self::KekInUse { .. } => ErrorClass::Error,
            Self::Denied { .. } => ErrorClass::Denied,
            _ => ErrorClass::Error,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            detail: e.to_string(),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn denied(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Denied {
            code,
            detail: detail.into(),
        }
    }

    pub(crate) fn poisoned(what: &str) -> Self {
        Self::Internal(format!("the {what} lock is poisoned (a thread panicked holding it)"))
    }
}

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Why a query produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The authority does not allow it (exit 3), or the objects are forged or malformed
    /// (exit 4): see [`credseal_auth::Denial::is_forgery`].
    #[error("access denied ({}): {}", .0.code(), .0)]
    Denied(credseal_auth::Denial),
    /// The platform failed.
    #[error(transparent)]
    Failed(EngineError),
}

impl From<EngineError> for QueryError {
    fn from(e: EngineError) -> Self {
        Self::Failed(e)
    }
}

impl From<credseal_store::StoreError> for QueryError {
    fn from(e: credseal_store::StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl QueryError {
    /// The exit class: denials are 3, forged or malformed objects 4.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Denied(d) if d.is_forgery() => ErrorClass::Verification,
            Self::Denied(_) => ErrorClass::Denied,
            Self::Failed(e) => e.class(),
        }
    }
}
