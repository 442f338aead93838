//! The subject map: a sparse Merkle tree over SHA-256 keyed by the subject's
//! BlindId, whose value is the subject's receipt count, the leaf hash of its newest receipt
//! and that receipt's log index. Every checkpoint commits to the map's root at its tree size
//! (the `credseal-map` extension line), so a bundle can prove that it ends at the subject's
//! newest receipt (membership) or that the subject has none (non-membership).
//!
//! ```text
//! key        = SHA-256("credseal:v1:map-key" ‖ 0x00 ‖ BlindId)     path: its bits, MSB first
//! value      = count u64 BE ‖ head 32 ‖ index u64 BE                (48 bytes)
//! leaf hash  = SHA-256(0x02 ‖ key ‖ value)
//! node hash  = SHA-256(0x03 ‖ left ‖ right)
//! empty      = 32 zero bytes
//! root(S, d) = empty if S = ∅; leaf hash if |S| = 1; else node(root(S₀, d+1), root(S₁, d+1))
//! ```
//! where `S₀`/`S₁` are the keys of `S` whose bit `d` is 0/1. A subtree with one key is its
//! leaf, wherever it sits (the "shortcut leaves" of Diem's and Penumbra's sparse Merkle
//! trees), so a path is as deep as needed to separate keys: about log₂(subjects) hashes.
//!
//! The prefixes 0x02/0x03 differ from RFC 6962's 0x00/0x01: no map node is ever a log node.

use credseal_core::BlindId;
use serde::{Deserialize, Serialize};

use credseal_c2sp::Hash;

use crate::codec::sha256;

/// Domain of [`map_key`].
pub const MAP_KEY_LABEL: &[u8] = b"credseal:v1:map-key";
/// First byte hashed into a map leaf.
pub const MAP_LEAF_PREFIX: u8 = 0x02;
/// First byte hashed into a map interior node.
pub const MAP_NODE_PREFIX: u8 = 0x03;
/// The hash of an empty subtree, and the root of the empty map.
pub const EMPTY_MAP_ROOT: Hash = [0; 32];
/// Length of an encoded [`MapValue`].
pub const MAP_VALUE_LEN: usize = 48;
/// Bits in a key: the deepest a leaf can sit.
pub const MAP_DEPTH: usize = 256;

/// The map key of a subject: `SHA-256("credseal:v1:map-key" ‖ 0x00 ‖ BlindId)`.
pub fn map_key(subject: &BlindId) -> Hash {
    let mut m = Vec::with_capacity(MAP_KEY_LABEL.len() + 33);
    m.extend_from_slice(MAP_KEY_LABEL);
    m.push(0);
    m.extend_from_slice(subject.as_bytes());
    sha256(&m)
}

/// A subject's entry: how many receipts it has, and its newest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MapValue {
    /// The subject's receipt count: the chain counter of its newest receipt.
    pub count: u64,
    /// The leaf hash of its newest receipt.
    pub head: Hash,
    /// The log index of its newest receipt.
    pub index: u64,
}

impl MapValue {
    /// `count u64 BE ‖ head ‖ index u64 BE`.
    pub fn to_bytes(&self) -> [u8; MAP_VALUE_LEN] {
        let mut out = [0u8; MAP_VALUE_LEN];
        out[..8].copy_from_slice(&self.count.to_be_bytes());
        out[8..40].copy_from_slice(&self.head);
        out[40..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    /// Reads [`MapValue::to_bytes`].
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != MAP_VALUE_LEN {
            return None;
        }
        Some(Self {
            count: u64::from_be_bytes(b[..8].try_into().ok()?),
            head: b[8..40].try_into().ok()?,
            index: u64::from_be_bytes(b[40..].try_into().ok()?),
        })
    }
}

/// `SHA-256(0x02 ‖ key ‖ value)`.
pub fn map_leaf_hash(key: &Hash, value: &MapValue) -> Hash {
    let mut m = [0u8; 1 + 32 + MAP_VALUE_LEN];
    m[0] = MAP_LEAF_PREFIX;
    m[1..33].copy_from_slice(key);
    m[33..].copy_from_slice(&value.to_bytes());
    sha256(&m)
}

/// `SHA-256(0x03 ‖ left ‖ right)`.
pub fn map_node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut m = [0u8; 65];
    m[0] = MAP_NODE_PREFIX;
    m[1..33].copy_from_slice(left);
    m[33..].copy_from_slice(right);
    sha256(&m)
}

/// Bit `i` of `key`, most significant bit of byte 0 first.
fn bit(key: &Hash, i: usize) -> bool {
    (key[i / 8] >> (7 - i % 8)) & 1 == 1
}

/// How many leading bits `a` and `b` share.
fn common_prefix_bits(a: &Hash, b: &Hash) -> usize {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = x ^ y;
        if d != 0 {
            return i * 8 + d.leading_zeros() as usize;
        }
    }
    MAP_DEPTH
}

/// A stored node: an interior node (its children's hashes) or a leaf. Empty subtrees are
/// not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapNode {
    /// A subtree with at least two keys.
    Internal {
        /// Hash of the subtree of bit 0.
        left: Hash,
        /// Hash of the subtree of bit 1.
        right: Hash,
    },
    /// A subtree with exactly one key.
    Leaf {
        /// The key.
        key: Hash,
        /// Its value.
        value: MapValue,
    },
}

impl MapNode {
    /// Its hash.
    pub fn hash(&self) -> Hash {
        match self {
            MapNode::Internal { left, right } => map_node_hash(left, right),
            MapNode::Leaf { key, value } => map_leaf_hash(key, value),
        }
    }

    /// Storage form: `0x01 ‖ left ‖ right` or `0x02 ‖ key ‖ value`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 32 + MAP_VALUE_LEN);
        match self {
            MapNode::Internal { left, right } => {
                out.push(1);
                out.extend_from_slice(left);
                out.extend_from_slice(right);
            }
            MapNode::Leaf { key, value } => {
                out.push(2);
                out.extend_from_slice(key);
                out.extend_from_slice(&value.to_bytes());
            }
        }
        out
    }

    /// Reads [`MapNode::to_bytes`]; `None` if malformed.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        match (b.first()?, b.len()) {
            (1, 65) => Some(MapNode::Internal {
                left: b[1..33].try_into().ok()?,
                right: b[33..].try_into().ok()?,
            }),
            (2, 81) => Some(MapNode::Leaf {
                key: b[1..33].try_into().ok()?,
                value: MapValue::from_bytes(&b[33..])?,
            }),
            _ => None,
        }
    }
}

/// Where a node sits: its depth and the first `depth` bits of the keys below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapPos {
    depth: u16,
    prefix: Hash,
}

impl MapPos {
    /// The root's position.
    pub const ROOT: MapPos = MapPos {
        depth: 0,
        prefix: [0; 32],
    };

    /// Its depth (0 for the root).
    pub fn depth(&self) -> usize {
        self.depth as usize
    }

    fn child(&self, right: bool) -> MapPos {
        let d = self.depth as usize;
        let mut prefix = self.prefix;
        if right {
            prefix[d / 8] |= 0x80 >> (d % 8);
        }
        MapPos {
            depth: self.depth + 1,
            prefix,
        }
    }

    /// Storage key: `depth u16 BE ‖ the ⌈depth/8⌉ bytes holding the prefix` (unused bits 0).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = (self.depth as usize).div_ceil(8);
        let mut out = Vec::with_capacity(2 + n);
        out.extend_from_slice(&self.depth.to_be_bytes());
        out.extend_from_slice(&self.prefix[..n]);
        out
    }
}

/// Read access to the stored nodes of a map.
pub trait MapReader {
    /// The storage error.
    type Error;
    /// The node at `pos`, `None` where the subtree is empty.
    fn read_node(&self, pos: &MapPos) -> Result<Option<MapNode>, Self::Error>;

    /// The node at `pos` that its parent records as `expected`; [`MapError::Corrupt`] if what
    /// is read does not hash to it. Every map operation reads below the root through this.
    /// A reader may skip the hash for a node it holds in memory that it computed itself or
    /// checked this way when it first read it (the default checks every node).
    fn read_node_checked(&self, pos: &MapPos, expected: &Hash) -> Result<Option<MapNode>, MapError<Self::Error>> {
        let n = self.read_node(pos).map_err(MapError::Read)?;
        let found = n.map_or(EMPTY_MAP_ROOT, |n| n.hash());
        if found != *expected {
            return Err(MapError::Corrupt { depth: pos.depth() });
        }
        Ok(n)
    }
}

/// Why a map operation on stored nodes failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError<E> {
    /// The stored nodes contradict each other (a child's hash is not the one its parent
    /// records, or a path runs deeper than 256 bits).
    #[error("the stored subject map is corrupt at depth {depth}")]
    Corrupt {
        /// Depth of the node that does not fit.
        depth: usize,
    },
    /// The same key was given twice in one update.
    #[error("a subject appears twice in one map update")]
    DuplicateKey,
    /// Reading a node failed.
    #[error("reading the subject map: {0}")]
    Read(E),
}

/// The result of [`map_update`]: the new root and the nodes to write (put, overwriting).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapUpdate {
    /// The new root.
    pub root: Hash,
    /// Nodes to store at their positions. Nothing is ever deleted: keys are only added or
    /// changed, so no stored node becomes stale.
    pub writes: Vec<(MapPos, MapNode)>,
}

/// The map's root as stored.
pub fn map_root<R: MapReader + ?Sized>(reader: &R) -> Result<Hash, MapError<R::Error>> {
    Ok(reader
        .read_node(&MapPos::ROOT)
        .map_err(MapError::Read)?
        .map_or(EMPTY_MAP_ROOT, |n| n.hash()))
}

/// Sets `key → value` for each update (inserting or replacing) and returns the new root and
/// the nodes to write. Reads each node on the updated paths once.
pub fn map_update<R: MapReader + ?Sized>(
    reader: &R,
    mut updates: Vec<(Hash, MapValue)>,
) -> Result<MapUpdate, MapError<R::Error>> {
    updates.sort_by_key(|a| a.0);
    if updates.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(MapError::DuplicateKey);
    }
    let root = reader.read_node(&MapPos::ROOT).map_err(MapError::Read)?;
    let mut writes = Vec::new();
    let root = update_at(reader, MapPos::ROOT, root, &updates, &mut writes)?;
    Ok(MapUpdate { root, writes })
}

fn update_at<R: MapReader + ?Sized>(
    reader: &R,
    pos: MapPos,
    node: Option<MapNode>,
    ups: &[(Hash, MapValue)],
    writes: &mut Vec<(MapPos, MapNode)>,
) -> Result<Hash, MapError<R::Error>> {
    if ups.is_empty() {
        return Ok(node.map_or(EMPTY_MAP_ROOT, |n| n.hash()));
    }
    match node {
        None => build(pos, ups, writes).ok_or(MapError::Corrupt { depth: pos.depth() }),
        Some(MapNode::Leaf { key, value }) => {
            if ups.len() == 1 && ups[0].0 == key {
                return Ok(put(pos, MapNode::Leaf { key, value: ups[0].1 }, writes));
            }
            let mut merged = ups.to_vec();
            if let Err(at) = merged.binary_search_by(|u| u.0.cmp(&key)) {
                merged.insert(at, (key, value));
            }
            build(pos, &merged, writes).ok_or(MapError::Corrupt { depth: pos.depth() })
        }
        Some(MapNode::Internal { left, right }) => {
            let d = pos.depth();
            if d >= MAP_DEPTH {
                return Err(MapError::Corrupt { depth: d });
            }
            let split = ups.partition_point(|(k, _)| !bit(k, d));
            let (lu, ru) = ups.split_at(split);
            let mut side = |right_side: bool, h: Hash, u: &[(Hash, MapValue)]| {
                if u.is_empty() {
                    return Ok(h);
                }
                let cp = pos.child(right_side);
                let n = reader.read_node_checked(&cp, &h)?;
                update_at(reader, cp, n, u, writes)
            };
            let l = side(false, left, lu)?;
            let r = side(true, right, ru)?;
            Ok(put(pos, MapNode::Internal { left: l, right: r }, writes))
        }
    }
}

fn put(pos: MapPos, node: MapNode, writes: &mut Vec<(MapPos, MapNode)>) -> Hash {
    let h = node.hash();
    writes.push((pos, node));
    h
}

/// The subtree at `pos` holding exactly `items` (sorted, distinct, sharing the first
/// `pos.depth` bits); `None` only if distinct keys would need more than 256 bits.
fn build(pos: MapPos, items: &[(Hash, MapValue)], writes: &mut Vec<(MapPos, MapNode)>) -> Option<Hash> {
    match items {
        [] => Some(EMPTY_MAP_ROOT),
        [(key, value)] => Some(put(
            pos,
            MapNode::Leaf {
                key: *key,
                value: *value,
            },
            writes,
        )),
        _ => {
            let d = pos.depth();
            if d >= MAP_DEPTH {
                return None;
            }
            let split = items.partition_point(|(k, _)| !bit(k, d));
            let l = build(pos.child(false), &items[..split], writes)?;
            let r = build(pos.child(true), &items[split..], writes)?;
            Some(put(pos, MapNode::Internal { left: l, right: r }, writes))
        }
    }
}

/// The leaf a proof ends at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapLeaf {
    /// Its key.
    pub key: Hash,
    /// Its value.
    pub value: MapValue,
}

/// A membership or non-membership proof for one key: the node where the key's path ends
/// (a leaf, or nothing: an empty subtree) and the sibling hashes from the root down.
///
/// - membership: `leaf` is the key's own leaf;
/// - non-membership: `leaf` is absent (the path ends in an empty subtree), or is another
///   key's leaf that shares the path's first `siblings.len()` bits (the key, if present,
///   would have split it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapProof {
    /// Where the path ends.
    pub leaf: Option<MapLeaf>,
    /// Sibling hashes, the root's child first; as many as the depth where the path ends.
    pub siblings: Vec<Hash>,
}

/// Why a map proof does not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapProofError {
    /// More than 256 siblings.
    #[error("the map proof is longer than 256 hashes")]
    TooLong,
    /// The proof ends at another key's leaf that does not lie on this key's path: it is a
    /// proof about another subject.
    #[error("the map proof is about another key")]
    OtherKey,
    /// The proof does not hash to the root.
    #[error("the map proof does not hash to the committed map root")]
    RootMismatch {
        /// What the proof claimed: `true` the key present, `false` absent.
        claims_present: bool,
    },
}

impl MapProof {
    /// Checks the proof for `key` against `root`: `Some(value)` if it proves the key present
    /// with that value, `None` if it proves the key absent.
    pub fn verify(&self, root: &Hash, key: &Hash) -> Result<Option<MapValue>, MapProofError> {
        let depth = self.siblings.len();
        if depth > MAP_DEPTH {
            return Err(MapProofError::TooLong);
        }
        let (mut h, claim) = match &self.leaf {
            None => (EMPTY_MAP_ROOT, None),
            Some(l) if l.key == *key => (map_leaf_hash(&l.key, &l.value), Some(l.value)),
            Some(l) => {
                if common_prefix_bits(&l.key, key) < depth {
                    return Err(MapProofError::OtherKey);
                }
                (map_leaf_hash(&l.key, &l.value), None)
            }
        };
        for (i, s) in self.siblings.iter().enumerate().rev() {
            h = if bit(key, i) {
                map_node_hash(s, &h)
            } else {
                map_node_hash(&h, s)
            };
        }
        if h != *root {
            return Err(MapProofError::RootMismatch {
                claims_present: claim.is_some(),
            });
        }
        Ok(claim)
    }
}

/// The proof for `key` in the stored map.
pub fn map_prove<R: MapReader + ?Sized>(reader: &R, key: &Hash) -> Result<MapProof, MapError<R::Error>> {
    let mut pos = MapPos::ROOT;
    let mut node = reader.read_node(&pos).map_err(MapError::Read)?;
    let mut siblings = Vec::new();
    loop {
        match node {
            None => return Ok(MapProof { leaf: None, siblings }),
            Some(MapNode::Leaf { key, value }) => {
                return Ok(MapProof {
                    leaf: Some(MapLeaf { key, value }),
                    siblings,
                });
            }
            Some(MapNode::Internal { left, right }) => {
                let d = pos.depth();
                if d >= MAP_DEPTH {
                    return Err(MapError::Corrupt { depth: d });
                }
                let b = bit(key, d);
                let (next, sib) = if b { (right, left) } else { (left, right) };
                siblings.push(sib);
                pos = pos.child(b);
                node = reader.read_node_checked(&pos, &next)?;
            }
        }
    }
}

/// The value of `key` in the stored map, `None` if absent. Every node on the path is
/// checked against the hash its parent records, as for [`map_prove`].
pub fn map_get<R: MapReader + ?Sized>(reader: &R, key: &Hash) -> Result<Option<MapValue>, MapError<R::Error>> {
    Ok(map_prove(reader, key)?.leaf.filter(|l| l.key == *key).map(|l| l.value))
}

/// A map held in memory: for tests, for building bundles from a [`credseal_c2sp::MemoryLog`], and
/// for auditors who recompute the map from the log's receipts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryMap {
    nodes: std::collections::BTreeMap<MapPos, MapNode>,
}

impl MapReader for MemoryMap {
    type Error = std::convert::Infallible;

    fn read_node(&self, pos: &MapPos) -> Result<Option<MapNode>, Self::Error> {
        Ok(self.nodes.get(pos).copied())
    }
}

impl MemoryMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets each `key → value` and returns the new root. Panics on a duplicate key (a
    /// caller's bug: give each key once per call).
    pub fn update(&mut self, updates: Vec<(Hash, MapValue)>) -> Hash {
        let u = match map_update(self, updates) {
            Ok(u) => u,
            Err(MapError::DuplicateKey) => panic!("MemoryMap::update: a key given twice"),
            Err(MapError::Corrupt { .. }) => unreachable!("a memory map is built only by map_update"),
            Err(MapError::Read(e)) => match e {},
        };
        self.nodes.extend(u.writes);
        u.root
    }

    /// Sets `subject`'s entry.
    pub fn set(&mut self, subject: &BlindId, value: MapValue) -> Hash {
        self.update(vec![(map_key(subject), value)])
    }

    /// The root.
    pub fn root(&self) -> Hash {
        self.nodes.get(&MapPos::ROOT).map_or(EMPTY_MAP_ROOT, |n| n.hash())
    }

    /// The proof for `subject`.
    pub fn prove(&self, subject: &BlindId) -> MapProof {
        self.prove_key(&map_key(subject))
    }

    /// The proof for a key.
    pub fn prove_key(&self, key: &Hash) -> MapProof {
        match map_prove(self, key) {
            Ok(p) => p,
            Err(MapError::Read(e)) => match e {},
            Err(_) => unreachable!("a memory map is built only by map_update"),
        }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &Hash) -> Option<MapValue> {
        match map_get(self, key) {
            Ok(v) => v,
            Err(MapError::Read(e)) => match e {},
            Err(_) => unreachable!("a memory map is built only by map_update"),
        }
    }

    /// Every `(key, value)`, in key order.
    pub fn leaves(&self) -> Vec<(Hash, MapValue)> {
        let mut v: Vec<_> = self
            .nodes
            .values()
            .filter_map(|n| match n {
                MapNode::Leaf { key, value } => Some((*key, *value)),
                MapNode::Internal { .. } => None,
            })
            .collect();
        v.sort_by_key(|a| a.0);
        v
    }

    /// Stored nodes (interior and leaves).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests;
