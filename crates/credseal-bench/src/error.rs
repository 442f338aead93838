//! The benchmarks' error type.

use std::path::PathBuf;

use credseal_engine::EngineError;
use credseal_store::StoreError;

/// Why a benchmark could not run or its results could not be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A platform operation of "ours" (or the platform's set-up) failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The benchmark's own access to the store of the data directory it created failed.
    #[error("bench store: {0}")]
    Store(#[from] StoreError),
    /// Reading or writing a file of the benchmark's work directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The floor's own sled database (in `path`) failed.
    #[error("floor database {}: {source}", path.display())]
    FloorDatabase {
        /// The floor's database directory.
        path: PathBuf,
        /// What sled said.
        source: sled::Error,
    },
    /// The benchmark's inputs cannot make the benchmark (for example a catalogue without a
    /// class a query can read without consent).
    #[error("bench input: {0}")]
    Input(String),
    /// A check of the benchmark failed: the platform or the floor did not do all of the work
    /// the run asked for, or stored data the benchmark made did not read back. The detail
    /// names what and where (never key bytes or plaintext).
    #[error("bench check failed: {0}")]
    Check(String),
}

impl BenchError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A failed check, with what failed.
    pub(crate) fn check(what: impl std::fmt::Display) -> Self {
        Self::Check(what.to_string())
    }
}

/// The benchmarks' result type.
pub type Result<T> = std::result::Result<T, BenchError>;
