//! The RFC 6962 / RFC 9162 Merkle tree of the log, with the API and algorithms of Go's
//! `golang.org/x/mod/sumdb/tlog` (written anew in Rust): leaf hashes `SHA-256(0x00 ‖ data)`,
//! node hashes `SHA-256(0x01 ‖ left ‖ right)`, and the *stored hash* layout of Crosby and
//! Wallach ("Efficient Data Structures for Tamper-Evident Logging", §3.3), in which appending
//! record `n` writes [`stored_hashes`] (on average two hashes, at most `1 + log₂ n`) at
//! [`stored_hash_index`]`(0, n)`, and every proof reads at most `O(log n)` stored hashes.
//!
//! Proofs are RFC 6962 audit paths and consistency proofs, ordered from the leaf (or the
//! old subtree) up to the root, so they verify with RFC 6962 / RFC 9162 verifiers and with
//! Go's `tlog.CheckRecord` / `tlog.CheckTree`.
//!
//! One deliberate difference from Go: the tree of size 0 hashes to [`EMPTY_ROOT`]
//! (`SHA-256("")`, RFC 6962 §2.1), not to 32 zero bytes; Go's proofs never involve it.

use std::fmt;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// An RFC 6962 audit path (Go: `tlog.RecordProof`): the sibling hashes from the leaf up.
pub type RecordProof = Vec<Hash>;

/// An RFC 6962 consistency proof (Go: `tlog.TreeProof`).
pub type TreeProof = Vec<Hash>;

/// RFC 6962 §2.1 prefix of a leaf hash.
pub const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962 §2.1 prefix of an interior node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// The root of the empty tree: `SHA-256("")` (RFC 6962 §2.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Largest tree the log side ([`stored_hashes`], [`tree_hash`], [`prove_record`],
/// [`prove_tree`]) handles: 2⁶², so that every stored hash index fits in a `u64`. The
/// checking side ([`check_record`], [`check_tree`]) takes any size.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// The leaf hash of a record: `SHA-256(0x00 ‖ data)` (Go: `tlog.RecordHash`).
pub fn record_hash(data: &[u8]) -> Hash {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&[LEAF_PREFIX]);
    ctx.update(data);
    to_hash(ctx.finish())
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (Go: `tlog.NodeHash`).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    to_hash(ring::digest::digest(&ring::digest::SHA256, &buf))
}

pub(crate) fn sha256(data: &[u8]) -> Hash {
    to_hash(ring::digest::digest(&ring::digest::SHA256, data))
}

fn to_hash(d: ring::digest::Digest) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(d.as_ref());
    h
}

/// `(k, l)` with `k = 2^l` the largest power of two strictly below `n` (`n ≥ 2`).
fn maxpow2(n: u64) -> (u64, u32) {
    debug_assert!(n >= 2);
    let l = 63 - (n - 1).leading_zeros();
    (1 << l, l)
}

/// Maps the tree coordinates `(level, n)` (the `n`-th hash on `level`, level 0 being the
/// leaves) to a dense position in the sequence of stored hashes (Go: `tlog.StoredHashIndex`).
/// Level `L`'s `n`-th hash is stored right after level `L+1`'s `(2n+1)`-th.
///
/// # Panics
/// If the node lies beyond a tree of [`MAX_TREE_SIZE`] leaves.
pub fn stored_hash_index(level: u32, n: u64) -> u64 {
    assert!(
        level <= 62 && n < (1u64 << (62 - level)),
        "stored_hash_index: node ({level}, {n}) lies beyond a tree of 2^62 leaves"
    );
    // The last leaf under the node: n·2^level + 2^level − 1.
    let mut n = (n << level) | ((1u64 << level) - 1);
    // Level 0's n-th hash is stored at n + n/2 + n/4 + …
    let mut i = 0u64;
    while n > 0 {
        i += n;
        n >>= 1;
    }
    i + u64::from(level)
}

/// The inverse of [`stored_hash_index`] (Go: `tlog.SplitStoredHashIndex`).
///
/// # Panics
/// If `index` lies beyond the stored hashes of a tree of [`MAX_TREE_SIZE`] leaves.
pub fn split_stored_hash_index(index: u64) -> (u32, u64) {
    // stored_hash_index(0, n) < 2n, so the record that wrote `index` is in
    // [index/2, index/2 + log₂ index].
    let mut n = index / 2;
    let mut index_n = stored_hash_index(0, n);
    assert!(index_n <= index, "split_stored_hash_index: bad math");
    loop {
        // Record n adds 1 + trailing_zeros(n + 1) hashes.
        let x = index_n + 1 + u64::from((n + 1).trailing_zeros());
        if x > index {
            break;
        }
        n += 1;
        index_n = x;
    }
    // The hash was written with record n: one of (0, n), (1, n/2), (2, n/4), …
    // Cannot fail: record n writes at most 1 + trailing_zeros(n + 1) ≤ 64 hashes, so the
    // offset inside its run is below 64.
    let level = u32::try_from(index - index_n).expect("at most 63 levels");
    (level, n >> level)
}

/// The number of stored hashes of a tree of `n` records (Go: `tlog.StoredHashCount`).
pub fn stored_hash_count(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // The hashes up to the last leaf hash, then those of the subtrees it completes.
    let mut count = stored_hash_index(0, n - 1) + 1;
    let mut i = n - 1;
    while i & 1 != 0 {
        count += 1;
        i >>= 1;
    }
    count
}

/// Reads stored hashes by their [`stored_hash_index`] (Go: `tlog.HashReader`).
///
/// The log's storage implements this; [`MemoryLog`], `[Hash]` and `Vec<Hash>` (stored hashes
/// in index order) implement it in memory. Implementations must return exactly one hash per
/// index, in the order asked; they may be faster if the indexes are sorted, which every
/// caller in this crate ensures except for proofs, which ask in proof order.
pub trait HashReader {
    /// Why reading failed.
    type Error;

    /// The stored hashes at `indexes`.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    type Error = R::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        (**self).read_hashes(indexes)
    }
}

/// A stored hash that an in-memory [`HashReader`] does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no stored hash at index {index}")]
pub struct MissingHash {
    /// The index asked for.
    pub index: u64,
}

impl HashReader for [Hash] {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.get(i))
                    .copied()
                    .ok_or(MissingHash { index })
            })
            .collect()
    }
}

impl HashReader for Vec<Hash> {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        self.as_slice().read_hashes(indexes)
    }
}

/// Why the log side of the tree (appending, tree hashes, proofs) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// The sizes or indexes asked for do not describe a tree and its records (a record
    /// index at or past the tree size, an old size larger than the new one, a size over
    /// [`MAX_TREE_SIZE`]).
    #[error("invalid tree coordinates: {0}")]
    InvalidInput(&'static str),
    /// The hash reader returned another number of hashes than asked for.
    #[error("the hash reader returned {got} hashes for {asked} indexes")]
    ShortRead {
        /// Hashes asked for.
        asked: usize,
        /// Hashes returned.
        got: usize,
    },
    /// The hash reader failed.
    #[error("reading stored hashes failed: {0}")]
    Read(E),
}

fn read<R: HashReader + ?Sized>(r: &R, indexes: &[u64]) -> Result<Vec<Hash>, TreeError<R::Error>> {
    let hashes = r.read_hashes(indexes).map_err(TreeError::Read)?;
    if hashes.len() != indexes.len() {
        return Err(TreeError::ShortRead {
            asked: indexes.len(),
            got: hashes.len(),
        });
    }
    Ok(hashes)
}

/// The hashes to store when record `n` (0-based) with content `data` is appended, to be
/// written starting at [`stored_hash_index`]`(0, n)` (Go: `tlog.StoredHashes`). Reads up to
/// `log₂ n` earlier hashes to complete subtrees.
pub fn stored_hashes<R: HashReader + ?Sized>(n: u64, data: &[u8], r: &R) -> Result<Vec<Hash>, TreeError<R::Error>> {
    stored_hashes_for_record_hash(n, record_hash(data), r)
}

/// Like [`stored_hashes`] with the leaf hash `h = record_hash(data)` already computed (Go:
/// `tlog.StoredHashesForRecordHash`).
pub fn stored_hashes_for_record_hash<R: HashReader + ?Sized>(
    n: u64,
    h: Hash,
    r: &R,
) -> Result<Vec<Hash>, TreeError<R::Error>> {
    if n >= MAX_TREE_SIZE {
        return Err(TreeError::InvalidInput("record index at or past the maximum tree size"));
    }
    // Each trailing 1 bit of n completes a subtree, which takes the hash of its left sibling.
    let m = (n + 1).trailing_zeros() as usize;
    let mut indexes = vec![0u64; m];
    for (i, slot) in (0..m).zip(indexes.iter_mut().rev()) {
        // n >> i is odd for i < m.
        *slot = stored_hash_index(i as u32, (n >> i) - 1);
    }
    let old = read(r, &indexes)?;
    let mut hashes = Vec::with_capacity(m + 1);
    hashes.push(h);
    let mut h = h;
    for left in old.iter().rev() {
        h = node_hash(left, &h);
        hashes.push(h);
    }
    Ok(hashes)
}

/// Appends to `need` the stored indexes of the complete subtrees covering records `[lo, hi)`.
fn subtree_index(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let (k, level) = maxpow2(hi - lo + 1);
        debug_assert!(lo & (k - 1) == 0, "subtree_index: bad math");
        need.push(stored_hash_index(level, lo >> level));
        lo += k;
    }
}

/// The hash of records `[lo, hi)` from the hashes [`subtree_index`] asked for; returns the
/// hashes left over.
fn subtree_hash(lo: u64, hi: u64, hashes: &[Hash]) -> (Hash, &[Hash]) {
    let mut count = 0;
    let mut l = lo;
    while l < hi {
        let (k, _) = maxpow2(hi - l + 1);
        count += 1;
        l += k;
    }
    let mut h = hashes[count - 1];
    for left in hashes[..count - 1].iter().rev() {
        h = node_hash(left, &h);
    }
    (h, &hashes[count..])
}

/// The root hash of the tree of the first `n` records (Go: `tlog.TreeHash`), from one read of
/// at most `1 + log₂ n` stored hashes. The empty tree's root is [`EMPTY_ROOT`].
pub fn tree_hash<R: HashReader + ?Sized>(n: u64, r: &R) -> Result<Hash, TreeError<R::Error>> {
    if n == 0 {
        return Ok(EMPTY_ROOT);
    }
    if n > MAX_TREE_SIZE {
        return Err(TreeError::InvalidInput("tree size over the maximum"));
    }
    let mut indexes = Vec::new();
    subtree_index(0, n, &mut indexes);
    let hashes = read(r, &indexes)?;
    let (h, rest) = subtree_hash(0, n, &hashes);
    debug_assert!(rest.is_empty(), "tree_hash: bad index math");
    Ok(h)
}

/// The proof that the tree of size `t` contains record `n` (Go: `tlog.ProveRecord`).
pub fn prove_record<R: HashReader + ?Sized>(t: u64, n: u64, r: &R) -> Result<RecordProof, TreeError<R::Error>> {
    if n >= t {
        return Err(TreeError::InvalidInput("record index at or past the tree size"));
    }
    if t > MAX_TREE_SIZE {
        return Err(TreeError::InvalidInput("tree size over the maximum"));
    }
    let mut indexes = Vec::new();
    leaf_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = read(r, &indexes)?;
    let (p, rest) = leaf_proof(0, t, n, &hashes);
    debug_assert!(rest.is_empty(), "prove_record: bad index math");
    Ok(p)
}

fn leaf_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    debug_assert!(lo <= n && n < hi);
    if lo + 1 == hi {
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        leaf_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        leaf_proof_index(lo + k, hi, n, need);
    }
}

fn leaf_proof(lo: u64, hi: u64, n: u64, hashes: &[Hash]) -> (RecordProof, &[Hash]) {
    if lo + 1 == hi {
        // The verifier knows the leaf hash.
        return (Vec::new(), hashes);
    }
    // Walk down towards n, recording the hash of the side not taken.
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        let (mut p, hashes) = leaf_proof(lo, lo + k, n, hashes);
        let (th, hashes) = subtree_hash(lo + k, hi, hashes);
        p.push(th);
        (p, hashes)
    } else {
        let (th, hashes) = subtree_hash(lo, lo + k, hashes);
        let (mut p, hashes) = leaf_proof(lo + k, hi, n, hashes);
        p.push(th);
        (p, hashes)
    }
}

/// Why a proof does not verify. Carries no hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The sizes and index do not describe a record of a tree, or an older tree of a newer
    /// one (index ≥ size, old size 0 or larger than the new size).
    #[error("invalid proof coordinates")]
    InvalidInput,
    /// The proof has another number of hashes than a proof for these sizes has: it was made
    /// for another tree size or record, or was truncated or padded.
    #[error("the proof has {found} hashes, a proof for these sizes has {expected}")]
    WrongLength {
        /// Hashes a proof for these coordinates has.
        expected: usize,
        /// Hashes found.
        found: usize,
    },
    /// The proof does not lead to the expected root(s).
    #[error("the proof does not match the tree")]
    Mismatch,
}

/// The number of hashes in the proof that the tree of size `t` contains record `n < t`.
pub fn record_proof_len(t: u64, n: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, t, 0usize);
    while hi - lo > 1 {
        let (k, _) = maxpow2(hi - lo);
        if n < lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
    len
}

/// Checks that `p` proves that the tree of size `t` with root `th` has record `n` with leaf
/// hash `h` (Go: `tlog.CheckRecord`).
pub fn check_record(p: &[Hash], t: u64, th: &Hash, n: u64, h: &Hash) -> Result<(), ProofError> {
    if n >= t {
        return Err(ProofError::InvalidInput);
    }
    let expected = record_proof_len(t, n);
    if p.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: p.len(),
        });
    }
    if run_record_proof(p, 0, t, n, h)? == *th {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

fn run_record_proof(p: &[Hash], lo: u64, hi: u64, n: u64, leaf: &Hash) -> Result<Hash, ProofError> {
    if lo + 1 == hi {
        // No unneeded hashes (the length was checked; this is Go's check, kept as a guard).
        return if p.is_empty() {
            Ok(*leaf)
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let Some((last, rest)) = p.split_last() else {
        return Err(ProofError::Mismatch);
    };
    let (k, _) = maxpow2(hi - lo);
    if n < lo + k {
        Ok(node_hash(&run_record_proof(rest, lo, lo + k, n, leaf)?, last))
    } else {
        Ok(node_hash(last, &run_record_proof(rest, lo + k, hi, n, leaf)?))
    }
}

/// The proof that the tree of size `t` contains the tree of size `n` as a prefix, `1 ≤ n ≤ t`
/// (Go: `tlog.ProveTree`).
pub fn prove_tree<R: HashReader + ?Sized>(t: u64, n: u64, r: &R) -> Result<TreeProof, TreeError<R::Error>> {
    if n < 1 || n > t {
        return Err(TreeError::InvalidInput("old size not in 1..=new size"));
    }
    if t > MAX_TREE_SIZE {
        return Err(TreeError::InvalidInput("tree size over the maximum"));
    }
    let mut indexes = Vec::new();
    tree_proof_index(0, t, n, &mut indexes);
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let hashes = read(r, &indexes)?;
    let (p, rest) = tree_proof(0, t, n, &hashes);
    debug_assert!(rest.is_empty(), "prove_tree: bad index math");
    Ok(p)
}

fn tree_proof_index(lo: u64, hi: u64, n: u64, need: &mut Vec<u64>) {
    debug_assert!(lo < n && n <= hi);
    if n == hi {
        if lo != 0 {
            subtree_index(lo, hi, need);
        }
        return;
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        tree_proof_index(lo, lo + k, n, need);
        subtree_index(lo + k, hi, need);
    } else {
        subtree_index(lo, lo + k, need);
        tree_proof_index(lo + k, hi, n, need);
    }
}

fn tree_proof(lo: u64, hi: u64, n: u64, hashes: &[Hash]) -> (TreeProof, &[Hash]) {
    if n == hi {
        if lo == 0 {
            // This subtree is the old tree: the verifier knows its hash.
            return (Vec::new(), hashes);
        }
        let (th, hashes) = subtree_hash(lo, hi, hashes);
        return (vec![th], hashes);
    }
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        let (mut p, hashes) = tree_proof(lo, lo + k, n, hashes);
        let (th, hashes) = subtree_hash(lo + k, hi, hashes);
        p.push(th);
        (p, hashes)
    } else {
        let (th, hashes) = subtree_hash(lo, lo + k, hashes);
        let (mut p, hashes) = tree_proof(lo + k, hi, n, hashes);
        p.push(th);
        (p, hashes)
    }
}

/// The number of hashes in the proof that the tree of size `t` contains the tree of size
/// `n`, `1 ≤ n ≤ t`.
pub fn tree_proof_len(t: u64, n: u64) -> usize {
    let (mut lo, mut hi, mut len) = (0u64, t, 0usize);
    loop {
        if n == hi {
            return if lo == 0 { len } else { len + 1 };
        }
        let (k, _) = maxpow2(hi - lo);
        if n <= lo + k {
            hi = lo + k;
        } else {
            lo += k;
        }
        len += 1;
    }
}

/// Checks that `p` proves that the tree of size `t` with root `th` contains as a prefix the
/// tree of size `n` with root `h`, `1 ≤ n ≤ t` (Go: `tlog.CheckTree`). For `n == t` the proof
/// is empty and the roots must be equal.
pub fn check_tree(p: &[Hash], t: u64, th: &Hash, n: u64, h: &Hash) -> Result<(), ProofError> {
    if n < 1 || n > t {
        return Err(ProofError::InvalidInput);
    }
    let expected = tree_proof_len(t, n);
    if p.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: p.len(),
        });
    }
    let (old, new) = run_tree_proof(p, 0, t, n, h)?;
    if old == *h && new == *th {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

fn run_tree_proof(p: &[Hash], lo: u64, hi: u64, n: u64, old: &Hash) -> Result<(Hash, Hash), ProofError> {
    if n == hi {
        if lo == 0 {
            return if p.is_empty() {
                Ok((*old, *old))
            } else {
                Err(ProofError::Mismatch)
            };
        }
        return match p {
            [h] => Ok((*h, *h)),
            _ => Err(ProofError::Mismatch),
        };
    }
    let Some((last, rest)) = p.split_last() else {
        return Err(ProofError::Mismatch);
    };
    let (k, _) = maxpow2(hi - lo);
    if n <= lo + k {
        let (oh, th) = run_tree_proof(rest, lo, lo + k, n, old)?;
        Ok((oh, node_hash(&th, last)))
    } else {
        let (oh, th) = run_tree_proof(rest, lo + k, hi, n, old)?;
        Ok((node_hash(last, &oh), node_hash(last, &th)))
    }
}

/// An in-memory log: the stored hashes of every record appended so far. For tests, demos
/// and small tools; the engine keeps the same hashes in its store.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MemoryLog {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryLog {
    /// The empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record; returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_record_hash(record_hash(data))
    }

    /// Appends a record by its leaf hash; returns its index.
    ///
    /// # Panics
    /// If the log already holds [`MAX_TREE_SIZE`] records.
    pub fn append_record_hash(&mut self, h: Hash) -> u64 {
        let n = self.size;
        let new = stored_hashes_for_record_hash(n, h, &self.hashes)
            // Cannot fail: the in-memory log holds every hash it ever stored; only a log at MAX_TREE_SIZE (documented panic above) lacks room.
            .expect("an in-memory log below the maximum size has every stored hash");
        self.hashes.extend(new);
        self.size += 1;
        n
    }

    /// The number of records.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored hashes, in stored-hash-index order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// The root hash of the first `n ≤ size` records.
    pub fn tree_hash(&self, n: u64) -> Result<Hash, TreeError<MissingHash>> {
        self.check_size(n)?;
        tree_hash(n, self)
    }

    /// The root hash of the whole log.
    pub fn root(&self) -> Hash {
        // Cannot fail: the in-memory log holds every stored hash of its own size.
        tree_hash(self.size, self).expect("an in-memory log has every stored hash")
    }

    /// [`prove_record`] against this log; `t ≤ size`.
    pub fn prove_record(&self, t: u64, n: u64) -> Result<RecordProof, TreeError<MissingHash>> {
        self.check_size(t)?;
        prove_record(t, n, self)
    }

    /// [`prove_tree`] against this log; `t ≤ size`.
    pub fn prove_tree(&self, t: u64, n: u64) -> Result<TreeProof, TreeError<MissingHash>> {
        self.check_size(t)?;
        prove_tree(t, n, self)
    }

    fn check_size(&self, t: u64) -> Result<(), TreeError<MissingHash>> {
        if t > self.size {
            return Err(TreeError::InvalidInput("tree size larger than the log"));
        }
        Ok(())
    }
}

impl From<std::convert::Infallible> for MissingHash {
    fn from(e: std::convert::Infallible) -> Self {
        match e {}
    }
}

impl HashReader for MemoryLog {
    type Error = MissingHash;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingHash> {
        self.hashes.read_hashes(indexes)
    }
}

impl fmt::Debug for MemoryLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLog")
            .field("size", &self.size)
            .field("stored_hashes", &self.hashes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
