//! The credseal platform: a data directory holding the catalogue, the keystore and the
//! sealed store; ingest; key status.
//!
//! Start with [`Platform::init`] and [`Platform::open`] (or [`Platform::in_memory`] in
//! tests), then [`Platform::ingest_file`] (the log's public material alone, without the
//! passphrase: [`PublicLog::open`]):
//!
//! ```no_run
//! use credseal_engine::{NoProgress, OpenOptions, Platform};
//! use credseal_crypto::Passphrase;
//! let p = Platform::open("data".as_ref(), &Passphrase::new("…".into()), OpenOptions::default())?;
//! let summary = p.ingest_file("records.jsonl".as_ref(), &NoProgress)?;
//! println!("{} records written", summary.written);
//! # Ok::<(), credseal_engine::EngineError>(())
//! ```

#![warn(unreachable_pub, unnameable_types)]

mod audit;
mod backup;
pub mod bundle;
mod canary;
mod clock;
mod components;
mod custody;
mod error;
pub mod fsutil;
mod ingest;
mod keys;
pub mod layout;
mod leak;
mod log;
mod logkey;
mod logtree;
mod memo;
mod notices;
mod objections;
mod pins;
mod platform;
mod public;
mod query;
mod report;
mod retention;
mod shred;
mod tiles;
mod trace;
mod witnessing;

pub use audit::{
    AuditReport, BASELINE_DAYS, BULK_SUBJECTS, BULK_WINDOW_SECS, DayActivity, DepartmentReview, ReviewFlag,
    SPIKE_FACTOR,
};
pub use backup::{
    BACKUP_SOCKET, BackupService, BackupSummary, CHECKPOINT_FILE, MANIFEST_FILE, Restored, SeenState, backup, restore,
};
pub use canary::{AlertSink, CanaryAlert, FLAG_CANARY, MAX_PLANT, PlantReport};
pub use clock::{Clock, SystemClock, TestClock};
pub use components::datadir::{
    CATALOG_FILE, CONFIG_FILE, Config, DB_DIR, InitOptions, KEYSTORE_FILE, KeySource, LOG_KEY_FILE, OpenOptions,
    Pkcs11Config, PolicyConfig, VRF_KEY_FILE, valid_origin,
};
pub use components::disclosure::{
    ANSWER_FORMAT, ANSWER_LABEL, AnswerBody, DISPUTED_MARK, Grant, PendingAnswer, SealedAnswer,
};
pub use components::gate::{
    APPROVE_ACTION, AUTHORITY_APPROVER, Approved, DEFAULT_OPERATOR, Operation, StaffRole, StaffSession, interval_text,
    valid_staff_id,
};
pub use components::keytree::{DEPTH as KEY_TREE_DEPTH, FANOUT_BITS as KEY_TREE_FANOUT_BITS, open_data_key};
pub use components::staff::StaffChange;
pub use error::{EngineError, ErrorClass, QueryError, Result};
pub use ingest::{IngestError, IngestOptions, IngestReport, IngestSummary, MAX_LINE, NoProgress, Progress};
pub use keys::{ClassKeyStatus, RewrapSummary, VersionStatus};
pub use leak::{CSV_MARK, ExportMark, JSON_MARK, LeakIssue, MAX_LEAK_BYTES};
pub use log::{AuditSnapshot, COMMIT_SECONDS_BUCKETS, CommitStats, Committed, LogReport, NewReceipt, QUEUE_CAPACITY};
pub use logkey::{LogKeyStatus, LogRotation, log_signer};
pub use notices::{MAX_NOTICES, NOTICE_LABEL, NOTICE_PREFIX, NoticeBody, open_notice};
pub use objections::{
    MAX_OPEN_PER_SUBJECT, MAX_REASON, OUTCOME_DELETED, OUTCOME_UPHELD, ObjectionState, ObjectionStatus,
};
pub use platform::Platform;
pub use public::PublicLog;
pub use retention::{MAX_RETENTION_INTERVAL, MIN_RETENTION_INTERVAL, PolicySweep, RetentionPolicy, ScheduledSweep};
pub use shred::{CheckedShredOrder, ShredSummary, valid_order_reference};
pub use tiles::{
    CHECKPOINT_PATH, DirSource, KEY_HISTORY_PATH, MAX_TILE_FILE, TileAuditor, TileExport, TileSource, TilesReport,
    audit_tiles, split_handover_notes,
};
pub use trace::{MAX_LISTED, MarkReport, TraceReport, TracedDepartment, TracedDisclosure};
pub use witnessing::{
    CosignReport, MAX_WITNESSES, META_COSIGNED_CHECKPOINT, META_WITNESSES, WITNESS_RETRY, Witness, WitnessOutcome,
    WitnessReply, WitnessResult, WitnessTransport,
};

/// Entry points for the fuzz targets in `fuzz/` (cargo-fuzz builds with `--cfg fuzzing`):
/// the leak-file reader behind `trace`, otherwise reached only through a data directory.
/// Not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `bytes` as a leak file against `catalog`; returns the number of items read.
    pub fn leak(bytes: &[u8], catalog: &credseal_core::Catalog) -> Option<usize> {
        crate::leak::parse_leak(bytes, catalog).ok().map(|l| l.items.len())
    }
}
