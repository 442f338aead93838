//! The key trees (docs/design.md §8b; stored layout in `docs/formats.md` §5): per class, a
//! tree of node keys of fan-out 2^`bits` and `depth` levels below the root. A subject sits
//! under the leaf named by the first `bits × depth` bits of its BlindId; its data key of the
//! class is wrapped by that leaf's key (in its bundle), every node key by its parent's, and
//! the root by the class's KEK (the root record, the only value the KEK opens).
//!
//! A node whose children were never written has *derived* children (see
//! `credseal_crypto::TreeNode::derive_child`), so a class costs one root record until its
//! first shred. [`KeyTrees::replace_paths`] gives every node on the paths to some leaves a
//! fresh key and id, writes those nodes' children explicitly (siblings rewrapped, their keys
//! unchanged), and wraps the new root under a given KEK version: once the version that
//! wrapped the old root is destroyed, nothing below the old root opens again.
//!
//! Node keys are cached in memory (a two-generation cache of bounded size; an evicted or
//! replaced key is zeroized when its last holder drops it). The cache of a class is dropped
//! whenever its tree changes; readers that computed a node before the change cannot put it
//! back (each class cache has an epoch, raised on every change).
//!
//! Imports: `error`, `layout` only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use credseal_core::BlindId;
use credseal_crypto::{DekContext, DekWrapping, Keystore, NODE_ID_LEN, TreeNode, WRAPPED_NODE_LEN};
use credseal_store::{Store, Tree};

use crate::error::{EngineError, Result};
use crate::layout::short;

/// Bits of a BlindId per level (fan-out 16). Chosen from `credseal bench shred` (design §8b).
pub const FANOUT_BITS: u8 = 4;
/// Levels below the root (16^5 = 1,048,576 leaves). Chosen from `credseal bench shred`.
pub const DEPTH: u8 = 5;
/// Format byte of a root record and of a node object.
const TREE_RECORD_FORMAT: u8 = 0x01;
/// Format byte of a root record whose root a KEK in a PKCS#11 token wraps (formats.md §2b).
const TOKEN_ROOT_FORMAT: u8 = 0x02;
/// Nodes one generation of a class's cache holds (two generations are kept).
const CACHE_GENERATION: usize = 1 << 17;
/// Length of a root record: format, bits, depth, KEK version, root id, wrapped root key.
const ROOT_RECORD_LEN: usize = 1 + 1 + 1 + 4 + NODE_ID_LEN + WRAPPED_NODE_LEN;
/// Length of one child entry of a node object: child id, wrapped child key.
const CHILD_LEN: usize = NODE_ID_LEN + WRAPPED_NODE_LEN;

/// `Deks` key of a class's root record: `r` ‖ len8(class) ‖ class.
pub(crate) fn root_key(class: &str) -> Vec<u8> {
    let mut k = vec![b'r', class.len() as u8];
    k.extend_from_slice(class.as_bytes());
    k
}

/// `Deks` key of a node object: `n` ‖ len8(class) ‖ class ‖ level:u8 ‖ index:u32be.
pub(crate) fn node_key(class: &str, level: u8, index: u32) -> Vec<u8> {
    let mut k = vec![b'n', class.len() as u8];
    k.extend_from_slice(class.as_bytes());
    k.push(level);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// A tree's shape: bits per level and levels below the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) bits: u8,
    pub(crate) depth: u8,
}

impl Shape {
    pub(crate) const DEFAULT: Shape = Shape {
        bits: FANOUT_BITS,
        depth: DEPTH,
    };

    fn valid(&self) -> bool {
        (1..=8).contains(&self.bits)
            && (1..=8).contains(&self.depth)
            && u32::from(self.bits) * u32::from(self.depth) <= 32
    }

    pub(crate) fn fanout(&self) -> u32 {
        1 << self.bits
    }

    /// The index at `level` of the node above `blind` (0 at the root).
    pub(crate) fn index(&self, blind: &BlindId, level: u8) -> u32 {
        if level == 0 {
            return 0;
        }
        let b = blind.as_bytes();
        let top = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        top >> (32 - u32::from(self.bits) * u32::from(level))
    }

    /// The index at `level` of the ancestor of node (`of_level`, `index`).
    fn ancestor(&self, of_level: u8, index: u32, level: u8) -> u32 {
        index >> (u32::from(self.bits) * u32::from(of_level - level))
    }

    /// Whether `blind` is under leaf `leaf`.
    pub(crate) fn under(&self, blind: &BlindId, leaf: u32) -> bool {
        self.index(blind, self.depth) == leaf
    }

    /// The whole bytes every BlindId under `leaf` starts with (a `Records` scan prefix;
    /// [`Shape::under`] checks the remaining bits).
    pub(crate) fn leaf_prefix(&self, leaf: u32) -> Vec<u8> {
        let bits = u32::from(self.bits) * u32::from(self.depth);
        let top = if bits == 0 { 0 } else { leaf << (32 - bits) };
        top.to_be_bytes()[..(bits / 8) as usize].to_vec()
    }
}

/// A class's root record, decoded.
#[derive(Clone, Debug)]
pub(crate) struct RootRecord {
    /// 0x01: wrapped under a software KEK; 0x02: under a KEK in a PKCS#11 token.
    pub(crate) format: u8,
    pub(crate) shape: Shape,
    pub(crate) version: u32,
    pub(crate) id: [u8; NODE_ID_LEN],
    pub(crate) wrapped: [u8; WRAPPED_NODE_LEN],
}

impl RootRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(ROOT_RECORD_LEN);
        v.extend_from_slice(&[self.format, self.shape.bits, self.shape.depth]);
        v.extend_from_slice(&self.version.to_be_bytes());
        v.extend_from_slice(&self.id);
        v.extend_from_slice(&self.wrapped);
        v
    }

    pub(crate) fn decode(class: &str, v: &[u8]) -> Result<Self> {
        let bad = |detail: &str| EngineError::Corrupt {
            what: format!("key tree root record of class {class}"),
            detail: detail.into(),
        };
        if v.len() != ROOT_RECORD_LEN {
            return Err(bad(&format!("{} bytes, not {ROOT_RECORD_LEN}", v.len())));
        }
        if v[0] != TREE_RECORD_FORMAT && v[0] != TOKEN_ROOT_FORMAT {
            return Err(bad(&format!("unknown format byte {:#04x}", v[0])));
        }
        let shape = Shape {
            bits: v[1],
            depth: v[2],
        };
        if !shape.valid() {
            return Err(bad("tree shape out of range"));
        }
        let mut id = [0u8; NODE_ID_LEN];
        id.copy_from_slice(&v[7..7 + NODE_ID_LEN]);
        let mut wrapped = [0u8; WRAPPED_NODE_LEN];
        wrapped.copy_from_slice(&v[7 + NODE_ID_LEN..]);
        Ok(Self {
            format: v[0],
            shape,
            version: u32::from_be_bytes([v[3], v[4], v[5], v[6]]),
            id,
            wrapped,
        })
    }
}

/// A node object: the node's id and its children (id, wrapped key), one per slot.
#[derive(Debug)]
struct NodeObject {
    id: [u8; NODE_ID_LEN],
    children: Vec<([u8; NODE_ID_LEN], [u8; WRAPPED_NODE_LEN])>,
}

impl NodeObject {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + NODE_ID_LEN + CHILD_LEN * self.children.len());
        v.push(TREE_RECORD_FORMAT);
        v.extend_from_slice(&self.id);
        for (id, w) in &self.children {
            v.extend_from_slice(id);
            v.extend_from_slice(w);
        }
        v
    }

    fn decode(what: impl Fn() -> String, v: &[u8], fanout: u32) -> Result<Self> {
        let want = 1 + NODE_ID_LEN + CHILD_LEN * fanout as usize;
        if v.len() != want || v[0] != TREE_RECORD_FORMAT {
            return Err(EngineError::Corrupt {
                what: what(),
                detail: format!(
                    "{} bytes or format byte {:#04x}, not {want} bytes of format 0x01",
                    v.len(),
                    v.first().copied().unwrap_or(0)
                ),
            });
        }
        let mut id = [0u8; NODE_ID_LEN];
        id.copy_from_slice(&v[1..1 + NODE_ID_LEN]);
        let children = v[1 + NODE_ID_LEN..]
            .chunks_exact(CHILD_LEN)
            .map(|c| {
                let mut cid = [0u8; NODE_ID_LEN];
                cid.copy_from_slice(&c[..NODE_ID_LEN]);
                let mut w = [0u8; WRAPPED_NODE_LEN];
                w.copy_from_slice(&c[NODE_ID_LEN..]);
                (cid, w)
            })
            .collect();
        Ok(Self { id, children })
    }
}

/// A node in the cache: its key, and for an inner node written down, its children.
#[derive(Debug)]
pub(crate) struct CachedNode {
    pub(crate) node: TreeNode,
    children: Option<NodeObject>,
}

/// An opened root: its record and key.
#[derive(Debug)]
struct OpenRoot {
    record: RootRecord,
    node: Arc<CachedNode>,
}

#[derive(Debug, Default)]
struct ClassCache {
    epoch: u64,
    root: Option<Arc<OpenRoot>>,
    hot: HashMap<(u8, u32), Arc<CachedNode>, foldhash::fast::RandomState>,
    cold: HashMap<(u8, u32), Arc<CachedNode>, foldhash::fast::RandomState>,
}

impl ClassCache {
    fn get(&mut self, at: (u8, u32)) -> Option<Arc<CachedNode>> {
        if let Some(n) = self.hot.get(&at) {
            return Some(Arc::clone(n));
        }
        let n = self.cold.remove(&at)?;
        self.put(at, Arc::clone(&n));
        Some(n)
    }

    fn put(&mut self, at: (u8, u32), n: Arc<CachedNode>) {
        if self.hot.len() >= CACHE_GENERATION {
            // The older generation's keys are dropped (zeroized) here.
            self.cold = std::mem::take(&mut self.hot);
        }
        self.hot.insert(at, n);
    }
}

/// What [`KeyTrees::replace_paths`] made: the values to write, and per replaced leaf its old
/// and new key.
#[derive(Debug)]
pub(crate) struct PathChange {
    /// `Deks` puts: the new root record and every replaced node's object.
    pub(crate) puts: Vec<(Vec<u8>, Vec<u8>)>,
    /// Leaf index → (old leaf, new leaf).
    pub(crate) leaves: BTreeMap<u32, (TreeNode, TreeNode)>,
}

/// The key trees of one store, with their node cache.
#[derive(Debug)]
pub(crate) struct KeyTrees {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<String, ClassCache>>,
}

impl KeyTrees {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn with_cache<T>(&self, class: &str, f: impl FnOnce(&mut ClassCache) -> T) -> T {
        let mut all = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !all.contains_key(class) {
            all.insert(class.to_string(), ClassCache::default());
        }
        // Cannot fail: inserted just above if absent.
        f(all.get_mut(class).expect("inserted above"))
    }

    /// Drops every cached key of `class` (its tree changed). Callers hold the write lock.
    pub(crate) fn forget(&self, class: &str) {
        self.with_cache(class, |c| {
            c.epoch += 1;
            c.root = None;
            c.hot.clear();
            c.cold.clear();
        });
    }

    /// The root record of `class`, if it has a tree.
    pub(crate) fn root_record(&self, class: &str) -> Result<Option<RootRecord>> {
        self.store
            .get(Tree::Deks, &root_key(class))?
            .map(|v| RootRecord::decode(class, &v))
            .transpose()
    }

    /// The KEK version that wraps the root of `class` (the version its data keys count
    /// under).
    pub(crate) fn root_version(&self, ks: &Keystore, class: &str) -> Result<u32> {
        Ok(self.open_root(ks, class)?.record.version)
    }

    fn open_root(&self, ks: &Keystore, class: &str) -> Result<Arc<OpenRoot>> {
        let epoch = match self.with_cache(class, |c| c.root.clone().ok_or(c.epoch)) {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        let record = self.root_record(class)?.ok_or_else(|| EngineError::Corrupt {
            what: format!("key tree of class {class}"),
            detail: "no root record".into(),
        })?;
        if ks.kek_entry(class, record.version).is_err() {
            return Err(EngineError::Corrupt {
                what: format!("key tree root of class {class}"),
                detail: format!(
                    "wrapped under KEK version {}, which the keystore does not hold",
                    record.version
                ),
            });
        }
        let node = ks
            .unwrap_root(class, record.version, record.format, &record.id, &record.wrapped)
            .map_err(|e| EngineError::Corrupt {
                what: format!("key tree root of class {class}"),
                detail: e.to_string(),
            })?;
        let node = self.load(class, record.shape, 0, 0, node)?;
        let root = Arc::new(OpenRoot { record, node });
        self.with_cache(class, |c| {
            if c.epoch == epoch {
                c.root = Some(Arc::clone(&root));
            }
        });
        Ok(root)
    }

    /// `node` at (`level`, `index`) with its stored children, if written down.
    fn load(&self, class: &str, shape: Shape, level: u8, index: u32, node: TreeNode) -> Result<Arc<CachedNode>> {
        let children = if level < shape.depth {
            let what = || format!("key tree node {level}/{index} of class {class}");
            match self.store.get(Tree::Deks, &node_key(class, level, index))? {
                None => None,
                Some(v) => {
                    let o = NodeObject::decode(what, &v, shape.fanout())?;
                    if o.id != node.id {
                        return Err(EngineError::Corrupt {
                            what: what(),
                            detail: "its stored children belong to another key of the node".into(),
                        });
                    }
                    Some(o)
                }
            }
        } else {
            None
        };
        Ok(Arc::new(CachedNode { node, children }))
    }

    /// The child at (`level`, `index`) of `parent` (one level up).
    fn child(class: &str, shape: Shape, parent: &CachedNode, level: u8, index: u32) -> Result<TreeNode> {
        match &parent.children {
            None => Ok(parent.node.derive_child(class, level, index)),
            Some(o) => {
                let (id, w) = &o.children[(index & (shape.fanout() - 1)) as usize];
                parent
                    .node
                    .unwrap_child(class, level, index, id, w)
                    .map_err(|e| EngineError::Corrupt {
                        what: format!("key tree node {level}/{index} of class {class}"),
                        detail: e.to_string(),
                    })
            }
        }
    }

    /// The node at (`level`, `index`) of `class` under its opened `root`: from the cache, or
    /// walked down from the deepest cached node above it.
    fn node_under(&self, root: &OpenRoot, class: &str, level: u8, index: u32) -> Result<Arc<CachedNode>> {
        let shape = root.record.shape;
        let (found, epoch) = self.with_cache(class, |c| {
            let mut l = level;
            while l > 0 {
                if let Some(n) = c.get((l, shape.ancestor(level, index, l))) {
                    return (Some((l, n)), c.epoch);
                }
                l -= 1;
            }
            (None, c.epoch)
        });
        let (mut l, mut cur) = found.unwrap_or_else(|| (0, Arc::clone(&root.node)));
        let mut made = Vec::new();
        while l < level {
            let cl = l + 1;
            let ci = shape.ancestor(level, index, cl);
            let child = Self::child(class, shape, &cur, cl, ci)?;
            cur = self.load(class, shape, cl, ci, child)?;
            made.push(((cl, ci), Arc::clone(&cur)));
            l = cl;
        }
        if !made.is_empty() {
            self.with_cache(class, |c| {
                if c.epoch == epoch {
                    for (at, n) in made {
                        c.put(at, n);
                    }
                }
            });
        }
        Ok(cur)
    }

    /// The shape of the tree of `class`.
    pub(crate) fn shape(&self, ks: &Keystore, class: &str) -> Result<Shape> {
        Ok(self.open_root(ks, class)?.record.shape)
    }

    /// The leaf `blind` sits under in the tree of `class`, and the root's KEK version.
    fn leaf(&self, ks: &Keystore, class: &str, blind: &BlindId) -> Result<(u32, Arc<CachedNode>)> {
        let root = self.open_root(ks, class)?;
        let shape = root.record.shape;
        let leaf = self.node_under(&root, class, shape.depth, shape.index(blind, shape.depth))?;
        Ok((root.record.version, leaf))
    }

    /// Wraps a data key of `blind`'s `class` under its leaf; returns the root's KEK version
    /// (the counter it joins) and the wrapped key.
    pub(crate) fn wrap_dek(
        &self,
        ks: &Keystore,
        blind: &BlindId,
        class: &str,
        dek: &credseal_crypto::Dek,
    ) -> Result<(u32, Vec<u8>)> {
        let (version, leaf) = self.leaf(ks, class, blind)?;
        Ok((version, leaf.node.wrap_dek(&DekContext { blind, class }, dek)))
    }

    /// Unwraps a data key wrapped by a leaf of the tree of `class`. A leaf id the cache does
    /// not hold (the tree changed since) is looked up once more from the store.
    pub(crate) fn unwrap_dek(
        &self,
        ks: &Keystore,
        blind: &BlindId,
        class: &str,
        wrapped: &[u8],
    ) -> Result<credseal_crypto::Dek> {
        let what = || format!("data key of subject {} class {class}", short(blind));
        let want = match credseal_crypto::dek_wrapping(wrapped) {
            Ok(DekWrapping::Tree { leaf }) => leaf,
            Ok(DekWrapping::Kek { .. }) => {
                return Err(EngineError::Internal(
                    "a KEK-wrapped data key given to the key tree".into(),
                ));
            }
            Err(e) => {
                return Err(EngineError::Corrupt {
                    what: what(),
                    detail: e.to_string(),
                });
            }
        };
        for attempt in 0..2 {
            let (_, leaf) = self.leaf(ks, class, blind)?;
            if leaf.node.id == want {
                return leaf
                    .node
                    .unwrap_dek(&DekContext { blind, class }, wrapped)
                    .map_err(|e| EngineError::Corrupt {
                        what: what(),
                        detail: e.to_string(),
                    });
            }
            if attempt == 0 {
                // Perhaps a cached key the tree no longer holds: read the path again.
                self.with_cache(class, |c| {
                    c.epoch += 1;
                    c.root = None;
                    c.hot.clear();
                    c.cold.clear();
                });
            }
        }
        Err(EngineError::Corrupt {
            what: what(),
            detail: "wrapped under a key-tree leaf this class's tree does not hold: it was altered or belongs to \
                     another subject, class or record, or to another copy of the database (shredded since)"
                .into(),
        })
    }

    /// Adds to `batch` a new tree for `class`: a fresh root wrapped under its primary KEK.
    pub(crate) fn new_tree(&self, ks: &Keystore, class: &str, batch: &mut credseal_store::Batch) -> Result<u32> {
        let v = ks
            .primary_version(class)
            .ok_or_else(|| EngineError::NotFound(format!("the keystore holds no key for class {class:?}")))?;
        let root = TreeNode::generate();
        let (format, wrapped) = wrap_root(ks, class, v, &root)?;
        let rec = RootRecord {
            format,
            shape: Shape::DEFAULT,
            version: v,
            id: root.id,
            wrapped,
        };
        batch.put(Tree::Deks, root_key(class), rec.encode());
        Ok(v)
    }

    /// The root record of `class` rewrapped (same root key) under KEK `to`.
    pub(crate) fn rewrapped_root(&self, ks: &Keystore, class: &str, to: u32) -> Result<RootRecord> {
        let root = self.open_root(ks, class)?;
        let (format, wrapped) = wrap_root(ks, class, to, &root.node.node)?;
        Ok(RootRecord {
            format,
            shape: root.record.shape,
            version: to,
            id: root.record.id,
            wrapped,
        })
    }

    /// Replaces every node on the paths from the root to `leaves` with a fresh key and id
    /// (upper paths shared); each replaced inner node's children are written explicitly (the
    /// untouched ones with their keys unchanged); the new root is wrapped under KEK `to`.
    /// Nothing is written: the caller puts [`PathChange::puts`] in its atomic batch, with
    /// every data key under a replaced leaf wrapped again, then calls [`KeyTrees::forget`].
    pub(crate) fn replace_paths(
        &self,
        ks: &Keystore,
        class: &str,
        leaves: &BTreeSet<u32>,
        to: u32,
    ) -> Result<PathChange> {
        let root = self.open_root(ks, class)?;
        let shape = root.record.shape;
        if ks.kek_entry(class, to).is_err() {
            return Err(EngineError::NotFound(format!("class {class} has no KEK version {to}")));
        }
        // The replaced nodes, level by level (level 0: the root).
        let mut dirty: Vec<BTreeMap<u32, TreeNode>> = vec![BTreeMap::new(); usize::from(shape.depth) + 1];
        for leaf in leaves {
            let total = u32::from(shape.bits) * u32::from(shape.depth);
            if total < 32 && *leaf >= 1 << total {
                return Err(EngineError::Internal(format!(
                    "leaf {leaf} is outside the tree of class {class}"
                )));
            }
            for l in 0..=shape.depth {
                dirty[usize::from(l)]
                    .entry(shape.ancestor(shape.depth, *leaf, l))
                    .or_insert_with(TreeNode::generate);
            }
        }
        let mut puts = Vec::new();
        for l in 0..shape.depth {
            let (upper, lower) = dirty.split_at(usize::from(l) + 1);
            let (here, below) = (&upper[usize::from(l)], &lower[0]);
            for (index, new) in here {
                let old = if l == 0 {
                    Arc::clone(&root.node)
                } else {
                    self.node_under(&root, class, l, *index)?
                };
                let mut children = Vec::with_capacity(shape.fanout() as usize);
                for slot in 0..shape.fanout() {
                    let ci = (index << shape.bits) | slot;
                    let child = match below.get(&ci) {
                        Some(fresh) => fresh.clone(),
                        None => Self::child(class, shape, &old, l + 1, ci)?,
                    };
                    children.push((child.id, new.wrap_child(class, l + 1, ci, &child)));
                }
                puts.push((node_key(class, l, *index), NodeObject { id: new.id, children }.encode()));
            }
        }
        let mut out = BTreeMap::new();
        for (leaf, new) in std::mem::take(&mut dirty[usize::from(shape.depth)]) {
            let old = self.node_under(&root, class, shape.depth, leaf)?;
            out.insert(leaf, (old.node.clone(), new));
        }
        // Cannot fail: level 0 holds the root whenever `leaves` is not empty.
        if let Some(new_root) = dirty[0].get(&0) {
            let (format, wrapped) = wrap_root(ks, class, to, new_root)?;
            let rec = RootRecord {
                format,
                shape,
                version: to,
                id: new_root.id,
                wrapped,
            };
            puts.push((root_key(class), rec.encode()));
        }
        Ok(PathChange { puts, leaves: out })
    }
}

/// `root` of `class` wrapped under KEK `version` of `ks` (in its token if it is there):
/// the root record's format byte and the wrapped key.
fn wrap_root(ks: &Keystore, class: &str, version: u32, root: &TreeNode) -> Result<(u8, [u8; WRAPPED_NODE_LEN])> {
    ks.wrap_root(class, version, root).map_err(|e| match e {
        credseal_crypto::KeystoreError::NoSuchKey(m) => EngineError::NotFound(m),
        e => EngineError::Keystore {
            path: "(the keystore's PKCS#11 token)".into(),
            source: e,
        },
    })
}

/// Opens a stored data key of `blind`'s `class` with the keys of `ks` alone, walking the key
/// tree of `store` without a cache (tools that read a closed platform's files: `check`-like
/// tests, the benchmarks' floors, `dev probe-copy`). A data key wrapped by a KEK directly
/// (before key trees) opens with that KEK.
pub fn open_data_key(
    store: Arc<dyn Store>,
    ks: &Keystore,
    blind: &BlindId,
    class: &str,
    wrapped: &[u8],
) -> Result<credseal_crypto::Dek> {
    let what = || format!("data key of subject {} class {class}", short(blind));
    match credseal_crypto::dek_wrapping(wrapped) {
        Ok(DekWrapping::Tree { .. }) => KeyTrees::new(store).unwrap_dek(ks, blind, class, wrapped),
        Ok(DekWrapping::Kek { version }) => {
            let kek = ks.kek(class, version).ok_or_else(|| EngineError::Corrupt {
                what: what(),
                detail: format!("wrapped under KEK version {version}, which the keystore does not hold"),
            })?;
            credseal_crypto::unwrap_dek(kek, &DekContext { blind, class }, wrapped).map_err(|e| EngineError::Corrupt {
                what: what(),
                detail: e.to_string(),
            })
        }
        Err(e) => Err(EngineError::Corrupt {
            what: what(),
            detail: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_indexes_are_the_leading_bits() {
        let s = Shape::DEFAULT;
        let mut b = [0u8; 32];
        b[0] = 0xab;
        b[1] = 0xcd;
        b[2] = 0xef;
        let blind = BlindId(b);
        assert_eq!(s.index(&blind, 0), 0);
        assert_eq!(s.index(&blind, 1), 0xa);
        assert_eq!(s.index(&blind, 2), 0xab);
        assert_eq!(s.index(&blind, 5), 0xabcde);
        assert_eq!(s.ancestor(5, 0xabcde, 3), 0xabc);
        assert!(s.under(&blind, 0xabcde));
        assert_eq!(s.leaf_prefix(0xabcde), vec![0xab, 0xcd]);
        let odd = Shape { bits: 3, depth: 3 };
        assert_eq!(odd.leaf_prefix(0b101_010_111), vec![0b1010_1011]);
        assert!(Shape { bits: 8, depth: 4 }.valid());
        assert!(!Shape { bits: 8, depth: 5 }.valid());
        assert!(!Shape { bits: 0, depth: 5 }.valid());
    }

    #[test]
    fn root_record_round_trip_and_refusals() {
        let r = RootRecord {
            format: TREE_RECORD_FORMAT,
            shape: Shape::DEFAULT,
            version: 7,
            id: [3; 16],
            wrapped: [9; WRAPPED_NODE_LEN],
        };
        let v = r.encode();
        assert_eq!(v.len(), ROOT_RECORD_LEN);
        let back = RootRecord::decode("loans", &v).unwrap();
        assert_eq!((back.version, back.id, back.shape), (7, [3; 16], Shape::DEFAULT));
        let e = RootRecord::decode("loans", &v[..50]).unwrap_err().to_string();
        assert!(e.contains("root record of class loans"), "{e}");
        let mut f = v.clone();
        f[0] = 9;
        assert!(RootRecord::decode("loans", &f).is_err());
        let mut f = v;
        f[1] = 9;
        assert!(
            RootRecord::decode("loans", &f)
                .unwrap_err()
                .to_string()
                .contains("shape")
        );
    }
}
