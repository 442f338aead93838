//! The [`Store`] trait: the one storage interface of the platform.

use std::sync::Arc;

use crate::{Batch, StoreError, Tree};

/// One `(key, value)` pair; the key is without the tree tag.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// A streaming scan: `(key, value)` pairs in ascending key order, keys without the tree tag.
///
/// A scan is not a snapshot: writes applied while it runs may or may not be seen, but each
/// entry it yields was present at some moment, and it never yields a key twice.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<KvPair, StoreError>> + Send + 'a>;

/// Ordered key-value storage split into logical [`Tree`]s, with atomic multi-tree [`Batch`]es.
///
/// Implemented by [`SledStore`](crate::SledStore) (on disk) and
/// [`MemoryStore`](crate::MemoryStore) (tests); both pass the same conformance suite. Keys and
/// values are arbitrary bytes, including empty ones; keys compare lexicographically.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The value at `key` in `tree`, if any.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Whether `key` is present in `tree`.
    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError>;

    /// Entries whose key starts with `prefix`, in ascending key order; keys returned WITHOUT the
    /// tree tag. An empty prefix scans the whole tree.
    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> KvIter<'_>;

    /// Like [`Store::scan_prefix`] but starting strictly after `after` (for resumable streaming
    /// scans: pass the last key seen); `after` `None` = from the start of the prefix.
    fn scan_prefix_after(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_>;

    /// Last entry (greatest key) with this prefix.
    fn last_with_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Option<KvPair>, StoreError>;

    /// Number of entries with this prefix (walks them; cost is linear in the count).
    fn count_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<u64, StoreError>;

    /// Applies all ops or none, across trees. Atomic also with respect to concurrent readers:
    /// any single read sees either none or all of the batch. An empty batch is a no-op.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;

    /// Atomically inserts `value` at `key` only if absent; `Ok(true)` if inserted, `Ok(false)` if
    /// the key existed (its value is left unchanged). Race-free under concurrent callers: of
    /// several callers racing on one key exactly one gets `true`. Used for the replay store.
    fn insert_new(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool, StoreError>;

    /// Makes everything applied so far durable (sled: `flush()`; memory: no-op).
    fn flush(&self) -> Result<(), StoreError>;

    /// Applies the batch and returns once the batch is durable. Earlier plain `apply`s are not
    /// made durable by it (call [`Store::flush`]): after a crash the store holds a prefix of
    /// its writes in the order they were applied, with every durable batch missing from that
    /// prefix applied again on top, in order — so a durable batch is all or nothing.
    ///
    /// Concurrent readers may see a batch's entries appear one by one, except those of
    /// [`Tree::Meta`] and [`Tree::Checkpoints`]: they appear together, after every other
    /// entry of the batch (a reader that sees the new log size or checkpoint sees everything
    /// they cover). A backend may give more (the default, `apply` then `flush`, is atomic
    /// for readers too); the sled backend writes the batch to a write-ahead log with one
    /// `fdatasync`, then applies it to sled without a flush.
    fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.flush()
    }

    /// Bytes on disk (memory: 0).
    fn size_on_disk(&self) -> Result<u64, StoreError>;

    /// Gives the space of dead stored bytes back, online (sled backend:
    /// [`SledStore::compact_value_log`](crate::SledStore::compact_value_log)); `None` for a
    /// backend with nothing to compact.
    fn compact(&self) -> Result<Option<crate::Compaction>, StoreError> {
        Ok(None)
    }

    /// Writes a consistent copy of the store into the new directory `dest` (a store of the
    /// same backend that opens as it was at one moment: every write either in it whole or
    /// not at all), while reads and writes go on. `Ok(false)`: this backend keeps nothing
    /// on disk to copy (the default).
    fn snapshot(&self, dest: &std::path::Path) -> Result<bool, StoreError> {
        let _ = dest;
        Ok(false)
    }
}

/// Forwards every method to the pointee, so `Arc<dyn Store>` and `Box<dyn Store>` can be used
/// wherever a `S: Store` is expected.
macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
                (**self).get(tree, key)
            }
            fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
                (**self).contains(tree, key)
            }
            fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> KvIter<'_> {
                (**self).scan_prefix(tree, prefix)
            }
            fn scan_prefix_after(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_> {
                (**self).scan_prefix_after(tree, prefix, after)
            }
            fn last_with_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Option<KvPair>, StoreError> {
                (**self).last_with_prefix(tree, prefix)
            }
            fn count_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<u64, StoreError> {
                (**self).count_prefix(tree, prefix)
            }
            fn apply(&self, batch: Batch) -> Result<(), StoreError> {
                (**self).apply(batch)
            }
            fn insert_new(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
                (**self).insert_new(tree, key, value)
            }
            fn flush(&self) -> Result<(), StoreError> {
                (**self).flush()
            }
            fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
                (**self).apply_durable(batch)
            }
            fn size_on_disk(&self) -> Result<u64, StoreError> {
                (**self).size_on_disk()
            }
            fn compact(&self) -> Result<Option<crate::Compaction>, StoreError> {
                (**self).compact()
            }
            fn snapshot(&self, dest: &std::path::Path) -> Result<bool, StoreError> {
                (**self).snapshot(dest)
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>, &S);
