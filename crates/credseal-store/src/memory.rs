//! [`MemoryStore`]: the in-memory backend, for tests and tools.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::batch::Op;
use crate::keys::{Span, tagged, untag};
use crate::{Batch, KvIter, KvPair, Store, StoreError, Tree};

/// How many entries a scan copies out per read lock, so that a long scan neither holds the lock
/// (blocking writers, or deadlocking a caller that writes while scanning) nor copies the tree.
const SCAN_CHUNK: usize = 256;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A [`Store`] kept in a `BTreeMap` behind a `RwLock`; nothing is written to disk.
///
/// Uses the same tagged key layout as [`SledStore`](crate::SledStore), and applies a
/// [`Batch`] under one write lock, so batches are atomic for concurrent readers.
#[derive(Default)]
pub struct MemoryStore {
    map: RwLock<Map>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while a guard is held cannot leave the map half-updated (every write is a
    // single BTreeMap call, or a batch whose ops cannot fail), so a poisoned lock is safe to use.
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn scan(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_> {
        match Span::new(tree, prefix, after) {
            None => Box::new(std::iter::empty()),
            Some(span) => Box::new(MemScan {
                store: self,
                tree,
                span: Some(span),
                buf: VecDeque::new(),
            }),
        }
    }
}

impl std::fmt::Debug for MemoryStore {
    /// Prints the number of entries, never their contents.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.read().len())
            .finish()
    }
}

/// A lazy scan that re-takes the read lock for each chunk of [`SCAN_CHUNK`] entries.
struct MemScan<'a> {
    store: &'a MemoryStore,
    tree: Tree,
    /// What is left to read; `None` once the range is exhausted.
    span: Option<Span>,
    buf: VecDeque<KvPair>,
}

impl MemScan<'_> {
    fn refill(&mut self) {
        let Some(span) = self.span.as_mut() else { return };
        let map = self.store.read();
        self.buf.extend(
            map.range(span.bounds())
                .take(SCAN_CHUNK)
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        drop(map);
        match self.buf.back() {
            Some((last, _)) if self.buf.len() == SCAN_CHUNK => span.lower = Bound::Excluded(last.clone()),
            _ => self.span = None,
        }
    }
}

impl Iterator for MemScan<'_> {
    type Item = Result<KvPair, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            self.refill();
        }
        let (key, value) = self.buf.pop_front()?;
        Some(untag(self.tree, &key).map(|key| (key, value)))
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read().get(&tagged(tree, key)).cloned())
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.read().contains_key(&tagged(tree, key)))
    }

    fn scan_prefix(&self, tree: Tree, prefix: &[u8]) -> KvIter<'_> {
        self.scan(tree, prefix, None)
    }

    fn scan_prefix_after(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_> {
        self.scan(tree, prefix, after)
    }

    fn last_with_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<Option<KvPair>, StoreError> {
        let Some(span) = Span::new(tree, prefix, None) else {
            return Ok(None);
        };
        let last = self
            .read()
            .range(span.bounds())
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone()));
        last.map(|(k, v)| untag(tree, &k).map(|k| (k, v))).transpose()
    }

    fn count_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<u64, StoreError> {
        let Some(span) = Span::new(tree, prefix, None) else {
            return Ok(0);
        };
        let n = self.read().range(span.bounds()).count();
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut map = self.write();
        for op in batch.into_ops() {
            match op {
                Op::Put { tree, key, value } => {
                    map.insert(tagged(tree, &key), value);
                }
                Op::Delete { tree, key } => {
                    map.remove(&tagged(tree, &key));
                }
            }
        }
        Ok(())
    }

    fn insert_new(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        match self.write().entry(tagged(tree, key)) {
            std::collections::btree_map::Entry::Occupied(_) => Ok(false),
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(value.to_vec());
                Ok(true)
            }
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}
