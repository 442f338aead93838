//! The engine's errors and how each maps to the command line's exit codes.

use std::path::PathBuf;

use credseal_core::CatalogErrors;
use credseal_crypto::KeystoreError;
use credseal_store::StoreError;

use crate::ingest::IngestReport;

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
    /// The keystore holds the public demo keys and `--demo` was not given.
    #[error("{}: this keystore holds the public demo keys from keys-example/; refusing to use it without --demo", path.display())]
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
    #[error("an earlier ingest was interrupted before it finished; run the same ingest again to complete it")]
    IngestPending,
    /// A request named something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request was malformed.
    #[error("{0}")]
    Invalid(String),
    /// The receipt log could not be written; nothing was released.
    #[error("the receipt log could not be written, so nothing was released: {0}")]
    LogWrite(String),
    /// An object failed verification (a sealed answer that does not open, a forged file).
    #[error("verification failed: {0}")]
    Verification(String),
    /// The caller is not allowed to do this (a staff request by a key not enrolled).
    #[error("access denied: {0}")]
    Denied(String),
}

impl EngineError {
    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::CatalogMismatch { .. }
            | Self::KeystoreMismatch { .. }
            | Self::KeystoreRollback { .. }
            | Self::Corrupt { .. }
            | Self::Verification(_) => ErrorClass::Verification,
            Self::Keystore { source, .. } => match source {
                KeystoreError::EmptyPassphrase | KeystoreError::NoSuchKey(_) => ErrorClass::Error,
                _ => ErrorClass::Verification,
            },
            Self::Store(StoreError::Corrupt { .. }) => ErrorClass::Verification,
            Self::Invalid(_) => ErrorClass::Usage,
            Self::Denied(_) => ErrorClass::Denied,
            _ => ErrorClass::Error,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            detail: e.to_string(),
        }
    }

    /// Optional advice on how to fix it, printed as `hint:`.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::NotADataDir { .. } => Some("create one with `credseal init --data DIR --catalog FILE --origin NAME`"),
            Self::Keystore {
                source: KeystoreError::WrongPassphrase,
                ..
            } => Some("the passphrase comes from CREDSEAL_PASSPHRASE, --passphrase-file, or the terminal prompt"),
            Self::DemoKeysRefused { .. } => Some("demo keys are public; create a real platform with `credseal init`"),
            Self::Store(StoreError::Locked { .. }) => Some("another credseal process is using this data directory"),
            _ => None,
        }
    }
}

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
