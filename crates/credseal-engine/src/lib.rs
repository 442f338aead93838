//! The credseal platform: a data directory holding the catalogue, the keystore and the
//! sealed store; ingest; key status; benchmarks.
//!
//! Start with [`Platform::init`] and [`Platform::open`] (or [`Platform::in_memory`] in
//! tests), then [`Platform::ingest_file`]:
//!
//! ```no_run
//! use credseal_engine::{NoProgress, OpenOptions, Platform};
//! use credseal_crypto::Passphrase;
//! let p = Platform::open("data".as_ref(), &Passphrase::new("…".into()), OpenOptions::default())?;
//! let summary = p.ingest_file("records.jsonl".as_ref(), &NoProgress)?;
//! println!("{} records written", summary.written);
//! # Ok::<(), credseal_engine::EngineError>(())
//! ```

pub mod bench;
pub mod bundle;
mod error;
pub mod fsutil;
mod ingest;
mod keys;
pub mod layout;
mod log;
mod platform;
mod query;
mod registry;

pub use error::{EngineError, ErrorClass, Result};
pub use ingest::{IngestError, IngestReport, IngestSummary, MAX_LINE, NoProgress, Progress};
pub use keys::{ClassKeyStatus, VersionStatus};
pub use log::{AuditSnapshot, Committed, LogReport, NewReceipt};
pub use platform::{
    CATALOG_FILE, CONFIG_FILE, Config, DB_DIR, DEFAULT_OPERATOR, InitOptions, KEYSTORE_FILE, KeySource, OpenOptions,
    Platform, valid_origin,
};
pub use query::{ANSWER_LABEL, AnswerBody, QueryError, SealedAnswer};

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
