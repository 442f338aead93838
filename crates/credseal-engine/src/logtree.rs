//! The receipt log's storage, read by both sides of the log (the appender and the reader):
//! the stored Merkle hashes ([`Hashes`]), the subject map's stored nodes ([`StoreMap`]),
//! their key encoding and their errors. Shared and low-level: it imports no component.

use std::collections::HashMap;

use credseal_c2sp::{Hash, HashReader};
use credseal_log::{MapNode, MapPos, MapReader};
use credseal_store::{Store, Tree};

use crate::error::{EngineError, Result};

/// A Merkle tree operation's failure: the store's own error when reading stored hashes
/// failed (a corrupt entry stays corrupt: exit 4), else `what` and the reason.
pub(crate) fn tree_error(e: credseal_c2sp::TreeError<EngineError>, what: &str) -> EngineError {
    match e {
        credseal_c2sp::TreeError::Read(e) => e,
        e => EngineError::Internal(format!("{what}: {e}")),
    }
}

/// A subject map operation's failure: the store's own error when reading a node failed,
/// else the map is corrupt.
pub(crate) fn map_error(e: credseal_log::MapError<EngineError>) -> EngineError {
    match e {
        credseal_log::MapError::Read(e) => e,
        e => EngineError::Corrupt {
            what: "subject map".into(),
            detail: e.to_string(),
        },
    }
}

/// A log index as a store key (u64 big-endian).
pub(crate) fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// How many stored hashes receipt `index` adds to the tree (Go tlog numbering): its leaf
/// hash, then one per subtree it completes.
fn hashes_of_leaf(index: u64) -> usize {
    1 + (index + 1).trailing_zeros() as usize
}

/// Reads stored hashes from the store, with the hashes of the commit in progress on top.
/// `LogHashes` holds one entry per receipt: the stored hashes that receipt added, in order
/// (docs/formats.md, "Storage of the log").
pub(crate) struct Hashes<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) overlay: &'a HashMap<u64, Hash>,
}

impl Hashes<'_> {
    /// The stored hashes receipt `leaf` added, as stored.
    fn leaf_group(store: &dyn Store, leaf: u64) -> Result<Vec<u8>> {
        let v = store
            .get(Tree::LogHashes, &be(leaf))?
            .ok_or_else(|| EngineError::Corrupt {
                what: format!("log hashes of receipt {leaf}"),
                detail: "missing".into(),
            })?;
        if v.len() != 32 * hashes_of_leaf(leaf) {
            return Err(EngineError::Corrupt {
                what: format!("log hashes of receipt {leaf}"),
                detail: format!("{} bytes, not {}", v.len(), 32 * hashes_of_leaf(leaf)),
            });
        }
        Ok(v)
    }
}

impl HashReader for Hashes<'_> {
    type Error = EngineError;

    fn read_hashes(&self, indexes: &[u64]) -> std::result::Result<Vec<Hash>, EngineError> {
        indexes
            .iter()
            .map(|i| {
                if let Some(h) = self.overlay.get(i) {
                    return Ok(*h);
                }
                // Hash (level, n) was added by the receipt that completed its subtree, at
                // `level` in that receipt's group.
                let (level, n) = credseal_c2sp::split_stored_hash_index(*i);
                let leaf = (n + 1)
                    .checked_mul(1 << level)
                    .map(|end| end - 1)
                    .ok_or_else(|| EngineError::Corrupt {
                        what: format!("log hash {i}"),
                        detail: "beyond any log".into(),
                    })?;
                let v = Self::leaf_group(self.store, leaf)?;
                let at = 32 * level as usize;
                // Cannot fail: `leaf_group` checked the length, and `level` is below the
                // number of hashes the receipt added.
                Ok(v[at..at + 32].try_into().expect("32 bytes"))
            })
            .collect()
    }
}

/// Reads the subject map's nodes from [`Tree::SubjectMap`].
pub(crate) struct StoreMap<'a> {
    pub(crate) store: &'a dyn Store,
}

impl MapReader for StoreMap<'_> {
    type Error = EngineError;

    fn read_node(&self, pos: &MapPos) -> Result<Option<MapNode>> {
        match self.store.get(Tree::SubjectMap, &pos.to_bytes())? {
            None => Ok(None),
            Some(v) => MapNode::from_bytes(&v).map(Some).ok_or_else(|| EngineError::Corrupt {
                what: format!("subject map node at depth {}", pos.depth()),
                detail: "malformed".into(),
            }),
        }
    }
}
