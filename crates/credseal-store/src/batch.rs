//! [`Batch`]: writes that are applied together or not at all.

use crate::Tree;

/// One write inside a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    /// Set `key` in `tree` to `value`.
    Put { tree: Tree, key: Vec<u8>, value: Vec<u8> },
    /// Remove `key` from `tree` (no effect if absent).
    Delete { tree: Tree, key: Vec<u8> },
}

/// An ordered list of puts and deletes, possibly across several trees, that
/// [`Store::apply`](crate::Store::apply) applies atomically.
///
/// When a batch touches the same key twice, the later operation wins.
///
/// ```
/// use credseal_store::{Batch, MemoryStore, Store, Tree};
/// let store = MemoryStore::new();
/// let mut batch = Batch::new();
/// batch.put(Tree::Records, b"r1".to_vec(), b"sealed".to_vec());
/// batch.put(Tree::Fingerprints, b"f1".to_vec(), b"r1".to_vec());
/// store.apply(batch)?;
/// assert!(store.contains(Tree::Fingerprints, b"f1")?);
/// # Ok::<(), credseal_store::StoreError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<Op>,
    bytes: usize,
    /// Indexes into `ops` of the puts added by [`Batch::put_again`].
    again: Vec<usize>,
}

impl Batch {
    /// An empty batch. Applying it succeeds and changes nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds "set `key` in `tree` to `value`".
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        self.bytes = self.bytes.saturating_add(key.len()).saturating_add(value.len());
        self.ops.push(Op::Put { tree, key, value });
    }

    /// Adds "set `key` in `tree` to `value`" for a value the caller wrote before with
    /// [`Store::insert_new`](crate::Store::insert_new), so that it becomes durable with this
    /// batch. The result is that of [`Batch::put`]; a backend may skip rewriting the entry
    /// where it finds that exact value stored already (the sled backend's durable apply
    /// does: a replay mark costs a read instead of a random-key write).
    pub fn put_again(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.again.push(self.ops.len());
        self.put(tree, key, value);
    }

    /// Adds "remove `key` from `tree`". Removing an absent key is not an error.
    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.bytes = self.bytes.saturating_add(key.len());
        self.ops.push(Op::Delete { tree, key });
    }

    /// Appends every operation of `other`, after this batch's own.
    pub fn append(&mut self, other: Batch) {
        self.bytes = self.bytes.saturating_add(other.bytes);
        let base = self.ops.len();
        self.again.extend(other.again.into_iter().map(|i| base + i));
        self.ops.extend(other.ops);
    }

    /// Number of operations added so far.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when no operation has been added.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Total bytes of all keys and values added so far, to decide when to apply.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Each write of the batch, in the order added: its tree, key and `Some(value)` for a
    /// put, `None` for a delete. For callers that must know what a batch changes before it
    /// is applied (the engine's trust-state digest, committed with the batch).
    pub fn writes(&self) -> impl Iterator<Item = (Tree, &[u8], Option<&[u8]>)> + '_ {
        self.ops.iter().map(|op| match op {
            Op::Put { tree, key, value } => (*tree, key.as_slice(), Some(value.as_slice())),
            Op::Delete { tree, key } => (*tree, key.as_slice(), None),
        })
    }

    /// The operations, in the order they were added.
    pub(crate) fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// The operations, and for each whether it was added by [`Batch::put_again`].
    pub(crate) fn into_ops_marked(self) -> (Vec<Op>, Vec<bool>) {
        let mut again = vec![false; self.ops.len()];
        for i in self.again {
            again[i] = true;
        }
        (self.ops, again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_ops_and_bytes() {
        let mut b = Batch::new();
        assert!(b.is_empty());
        assert_eq!((b.len(), b.bytes()), (0, 0));
        b.put(Tree::Meta, b"ab".to_vec(), b"xyz".to_vec());
        b.delete(Tree::Records, vec![0u8; 4]);
        assert!(!b.is_empty());
        assert_eq!((b.len(), b.bytes()), (2, 9));
    }

    #[test]
    fn put_again_marks_survive_append() {
        let mut a = Batch::new();
        a.put(Tree::Meta, b"a".to_vec(), b"1".to_vec());
        a.put_again(Tree::Replay, b"q".to_vec(), b"2".to_vec());
        let mut b = Batch::new();
        b.put_again(Tree::Replay, b"r".to_vec(), b"3".to_vec());
        b.delete(Tree::Records, b"d".to_vec());
        a.append(b);
        let (ops, again) = a.into_ops_marked();
        assert_eq!(ops.len(), 4);
        assert_eq!(again, vec![false, true, true, false]);
    }
}
