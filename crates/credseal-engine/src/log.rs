//! The platform's receipt log, as the facade offers it: the appender's use cases
//! (appending, the queue, the subject map) delegated to the appender, and the read side —
//! size, checkpoints, subject receipts and bundles, export on a subject's request, the full
//! verification of the log (`verify_log`) and its audit snapshots — delegated to the
//! reader.

use credseal_core::{BlindId, SubjectId};
use credseal_log::Bundle;
use credseal_store::Batch;

pub use crate::components::appender::{COMMIT_SECONDS_BUCKETS, CommitStats, Committed, NewReceipt, QUEUE_CAPACITY};
use crate::components::reader::Reader;
pub use crate::components::reader::{AuditSnapshot, LogReport};
use crate::error::Result;
use crate::platform::Platform;

impl Drop for Platform {
    /// Writes the subject map's changed nodes, so the next open has nothing to replay. A
    /// failure loses nothing: the next open replays the receipts instead.
    fn drop(&mut self) {
        self.appender.close();
    }
}

impl Platform {
    /// The log's verifier key, `name+hexid+base64(0x01‖key)`, which subjects and auditors pin:
    /// the original key, from which the key history walks after a rotation.
    pub fn log_vkey(&self) -> Result<String> {
        Ok(self.log_key_history()?.original().vkey())
    }

    /// The read side of the log over this platform's parts (references only).
    fn reader(&self) -> Reader<'_> {
        Reader {
            store: &*self.store,
            origin: self.origin(),
            vault: &self.vault,
            gate: &self.gate,
            appender: &self.appender,
        }
    }

    /// The number of receipts in the log.
    pub fn log_size(&self) -> Result<u64> {
        self.reader().log_size()
    }

    /// The latest signed checkpoint, if the log has any receipt.
    pub fn latest_checkpoint(&self) -> Result<Option<String>> {
        self.reader().latest_checkpoint()
    }

    /// Seconds spent on the subject map in the commits since this platform was opened:
    /// looking up the subjects' heads, reading and hashing the updated paths.
    pub fn map_update_seconds(&self) -> f64 {
        self.appender.map_update_seconds()
    }

    /// Writes the subject map's changed nodes to the store (one batch and a flush). The log
    /// does this by itself when enough have changed and when the platform closes.
    pub fn persist_map(&self) -> Result<()> {
        self.appender.persist_map(&self.vault)
    }

    /// The group commits since this platform was opened: counts, sizes and durations.
    pub fn commit_stats(&self) -> CommitStats {
        self.appender.commit_stats()
    }

    /// Receipts waiting for the next group commit, with places promised to queries under way
    /// (at most [`crate::QUEUE_CAPACITY`] before queries are pushed back).
    pub fn queue_depth(&self) -> usize {
        self.appender.queue_depth()
    }

    /// Appends receipts and returns once they are on disk (flushed) with a checkpoint that
    /// includes them. Concurrent callers share one commit.
    pub fn append_receipts(&self, items: Vec<NewReceipt>, now: u64) -> Result<Vec<Committed>> {
        self.appender.append(&self.vault, items, now)
    }

    /// [`Platform::append_receipts`], with `extra` writes committed atomically with the
    /// receipts (an ingest's records with the receipts that tell their subjects).
    pub(crate) fn append_receipts_with(
        &self,
        items: Vec<NewReceipt>,
        extra: Batch,
        now: u64,
    ) -> Result<Vec<Committed>> {
        self.appender.append_with(&self.vault, items, extra, now)
    }

    /// The subject's receipts (signed bytes), in chain order.
    pub fn subject_receipts(&self, blind: &BlindId) -> Result<Vec<Vec<u8>>> {
        self.reader().subject_receipts(blind)
    }

    /// A subject's receipt bundle at the latest checkpoint, with a consistency proof from
    /// `from_size` (the tree size the subject saw last).
    pub fn export_bundle(&self, subject: &SubjectId, from_size: Option<u64>, now: u64) -> Result<Bundle> {
        self.reader().export_bundle(subject, from_size, now)
    }

    /// Answers a subject's signed bundle request: its receipts at the latest checkpoint with
    /// a consistency proof from the tree size the subject saw last. Refused (a denial)
    /// unless the request is signed by the subject's registered key, for this platform, and
    /// within its validity window.
    pub fn export_for_request(&self, request: &str, now: u64) -> std::result::Result<Bundle, crate::QueryError> {
        self.reader().export_for_request(request, now)
    }

    /// An auditor's replay of the whole log: every receipt's signature and chain position,
    /// every stored hash recomputed from the leaves, the subject map recomputed from the
    /// receipts, and every checkpoint's signature, tree root and map root.
    pub fn verify_log(&self) -> Result<LogReport> {
        self.reader().verify_log()
    }

    /// [`Platform::verify_log`], continuing from an auditor's saved position (`None`: from
    /// the start). The log's tree at the saved size must have the saved root (else the log
    /// was rewritten or forked); the saved map must hash to the saved map root; then every
    /// receipt from there on is checked as in a full replay. Returns the report and the new
    /// position to save.
    pub fn verify_log_from(&self, from: Option<&AuditSnapshot>) -> Result<(LogReport, AuditSnapshot)> {
        self.reader().verify_log_from(from)
    }
}
