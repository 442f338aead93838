//! The one narrow storage interface of credseal (docs/design.md §10), with two backends that pass one
//! shared conformance suite (`credseal_testkit::conformance`).
//!
//! Program against the [`Store`] trait. Open a [`SledStore`] for real data; use a
//! [`MemoryStore`] in tests. Keys live in logical [`Tree`]s, and writes that belong together
//! go into one [`Batch`], which is applied atomically across trees:
//!
//! ```
//! use credseal_store::{Batch, MemoryStore, Store, Tree};
//!
//! let store = MemoryStore::new();
//! let mut batch = Batch::new();
//! batch.put(Tree::Records, b"subject-1/rec-1".to_vec(), b"sealed bytes".to_vec());
//! batch.put(Tree::SubjectReceipts, b"subject-1/0001".to_vec(), b"receipt".to_vec());
//! store.apply(batch)?;
//!
//! assert_eq!(store.get(Tree::Records, b"subject-1/rec-1")?, Some(b"sealed bytes".to_vec()));
//! assert_eq!(store.get(Tree::Deks, b"subject-1/rec-1")?, None); // trees are isolated
//! assert_eq!(store.count_prefix(Tree::Records, b"subject-1/")?, 1);
//! assert!(store.insert_new(Tree::Replay, b"query-42", b"")?); // first use
//! assert!(!store.insert_new(Tree::Replay, b"query-42", b"")?); // replay
//! # Ok::<(), credseal_store::StoreError>(())
//! ```
//!
//! # Atomicity
//!
//! The sled backend keeps all logical trees in ONE `sled::Tree`, with the tree's tag
//! ([`Tree::tag`]) as the first key byte. sled batches are atomic per `sled::Tree`, so a
//! [`Batch`] spanning several logical trees is applied atomically with one `apply_batch`,
//! without sled's multi-tree transactions (slower, and they stall later flushes; see
//! docs/design.md §15). The memory backend applies a batch under one write lock. Either way a
//! concurrent reader sees all of a batch or none of it.
//!
//! # Durability
//!
//! [`Store::apply`] returns once the batch is visible; it is durable after [`Store::flush`].
//! Callers group many writes per batch and flush on a bounded schedule.
//!
//! # On disk
//!
//! [`SledStore`] keeps values of 512 bytes and more once, in an append-only value log next to
//! sled's files, with a checked pointer in sled (store format 2, `docs/formats.md` §11b);
//! overwritten values stay there as dead bytes ([`SledStore::value_log_usage`]).

mod batch;
mod error;
mod keys;
mod memory;
mod sled_store;
mod store;
mod tree;
mod vlog;
mod wal;

pub use batch::Batch;
pub use error::StoreError;
pub use memory::MemoryStore;
pub use sled_store::{Compaction, SledStore, sled_config, wait_closed};
pub use store::{KvIter, KvPair, Store};
pub use tree::Tree;
pub use vlog::ValueLogUsage;

/// Entry points for the fuzz targets in `fuzz/` (cargo-fuzz builds with `--cfg fuzzing`):
/// the write-ahead log's frames and the value log's stored values, which are otherwise
/// reached only by opening a store. Not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `bytes` as a write-ahead-log file, then as one frame's payload, then framed
    /// (length, sequence and a correct CRC around it, so the payload decoder is reached).
    pub fn wal(bytes: &[u8]) {
        crate::wal::fuzz(bytes);
    }

    /// Resolves `bytes` as a stored value (first byte: the tree tag, second: the key length,
    /// then the key, then the stored value) against a small fixed value log.
    pub fn vlog(bytes: &[u8]) {
        crate::vlog::fuzz(bytes);
    }
}
