//! C2SP `tlog-tiles`: a log published as static resources anyone can fetch and mirror —
//! hash tiles `tile/<L>/<N>[.p/<W>]` (up to 256 consecutive Merkle tree hashes of one tile
//! level) and entry bundles `tile/entries/<N>[.p/<W>]` (up to 256 consecutive entries,
//! each a big-endian `uint16` length and the entry).
//!
//! Tile level `L` holds the hashes of the complete subtrees of `256^L` leaves: level 0 the
//! leaf hashes, level 1 the root of each full level-0 tile, and so on. In the stored-hash
//! numbering of [`crate::stored_hash_index`], hash `i` of tile `(L, N)` is the stored hash
//! `(8L, 256·N + i)`, so a log that keeps stored hashes serves any tile with one read
//! ([`read_tile_hashes`]).
//!
//! The read side: [`tiles_for_size`] and [`entry_bundles_for_size`] name the resources a
//! checkpoint of a given size implies (full tiles, and the partial tile of each level);
//! [`parse_hash_tile`] and [`parse_entry_bundle`] read them strictly; a [`TileHashReader`]
//! serves the tree's stored hashes from the tiles, so [`crate::tree_hash`] computes the root
//! to compare with the checkpoint (and [`crate::prove_record`] / [`crate::prove_tree`] work
//! over tiles too).
//!
//! Unlike Go's `golang.org/x/mod/sumdb/tlog`, C2SP paths carry no tile height (it is always
//! 8): Go's `tile/8/0/001` is C2SP's `tile/0/001`, and Go's `tile/8/data/…` is
//! `tile/entries/…`.

use std::collections::HashMap;

use crate::merkle::{Hash, HashReader, MAX_TREE_SIZE, node_hash, split_stored_hash_index, stored_hash_index};

/// The height of a tile: each tile level spans 8 levels of the Merkle tree.
pub const TILE_HEIGHT: u32 = 8;

/// The width of a full tile or entry bundle: 256 hashes or entries.
pub const TILE_WIDTH: u64 = 256;

/// The highest tile level a path may name (C2SP: 0 to 63).
pub const MAX_TILE_LEVEL: u8 = 63;

/// The longest entry an entry bundle can carry (its length is a `uint16`).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Which kind of tile: hashes at a tile level, or an entry bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// A hash tile at this tile level (0 to [`MAX_TILE_LEVEL`]).
    Hashes(u8),
    /// An entry bundle (its entries hash to the level-0 tile of the same index).
    Entries,
}

/// A tile or entry bundle: its kind, its index within the level, and its width (1 to 256;
/// below 256 it is a partial tile).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tile {
    kind: TileKind,
    index: u64,
    width: u16,
}

/// Why a tile path, a tile's contents or a set of tiles is refused. Never carries tile
/// contents; positions are byte offsets or entry numbers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A tile path breaks the C2SP syntax (level, index elements, `.p/<W>` suffix).
    #[error("malformed tile path: {reason}")]
    Path {
        /// Which rule.
        reason: &'static str,
    },
    /// A tile's coordinates are out of range (a level over 63, a width of 0 or over 256,
    /// a tile beyond a tree of the maximum size).
    #[error("invalid tile: {reason}")]
    Invalid {
        /// Which rule.
        reason: &'static str,
    },
    /// A hash tile is not exactly 32 bytes per hash of its width.
    #[error("hash tile {path}: {len} bytes, not {want}")]
    HashTileLength {
        /// The tile's path.
        path: String,
        /// Its length.
        len: usize,
        /// The length its width implies.
        want: usize,
    },
    /// An entry bundle is cut short, holds more than its width, or has bytes after its
    /// last entry.
    #[error("entry bundle {path}: {reason} at byte {offset} (entry {entry})")]
    Bundle {
        /// The bundle's path.
        path: String,
        /// Which rule.
        reason: &'static str,
        /// Byte offset in the bundle.
        offset: usize,
        /// The entry (0-based within the bundle).
        entry: usize,
    },
    /// An entry is longer than a `uint16` length can say.
    #[error("entry {entry} of {len} bytes exceeds the limit of {max} bytes of an entry bundle")]
    EntryTooLarge {
        /// The entry (0-based within the bundle).
        entry: usize,
        /// Its length.
        len: usize,
        /// The limit, [`MAX_ENTRY_LEN`].
        max: usize,
    },
    /// A tile is not one that a tree of this size has (another width, or beyond the tree).
    #[error("tile {path} is not a tile of the tree of size {size}")]
    NotInTree {
        /// The tile's path.
        path: String,
        /// The tree size.
        size: u64,
    },
    /// A hash the tree needs is in a tile that was not supplied.
    #[error("tile {path} is needed and missing")]
    MissingTile {
        /// The path of the tile needed.
        path: String,
    },
}

impl Tile {
    /// The tile of `kind` at `index` with `width` hashes or entries (256: a full tile).
    pub fn new(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        if let TileKind::Hashes(level) = kind
            && level > MAX_TILE_LEVEL
        {
            return Err(TileError::Invalid {
                reason: "level over 63",
            });
        }
        if width == 0 || u64::from(width) > TILE_WIDTH {
            return Err(TileError::Invalid {
                reason: "width not between 1 and 256",
            });
        }
        Ok(Self { kind, index, width })
    }

    /// The kind (hash tile level, or entry bundle).
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The index within the level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes or entries (1 to 256).
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide) and so immutable.
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile level whose hashes it holds or, for an entry bundle, whose leaf hashes its
    /// entries hash to (0).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        }
    }

    /// The path under the log's prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        let mut p = format!("tile/{level}/{}", tile_index_path(self.index));
        if !self.is_full() {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses [`Tile::path`]: exactly the canonical form (no leading zeros in `<L>` or
    /// `<W>`, index elements of three digits with `x` on all but the last and no leading
    /// `x000` element, `.p/<W>` only with `<W>` from 1 to 255).
    pub fn parse_path(path: &str) -> Result<Self, TileError> {
        let bad = |reason| TileError::Path { reason };
        let rest = path.strip_prefix("tile/").ok_or(bad("does not start with tile/"))?;
        let (level, rest) = rest.split_once('/').ok_or(bad("no index"))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let l = parse_decimal(level).ok_or(bad("level is not a canonical decimal number"))?;
            let l = u8::try_from(l).ok().filter(|l| *l <= MAX_TILE_LEVEL);
            TileKind::Hashes(l.ok_or(bad("level over 63"))?)
        };
        let (index, width) = match rest.split_once(".p/") {
            None => (rest, TILE_WIDTH as u16),
            Some((index, w)) => {
                let w = parse_decimal(w).ok_or(bad("width is not a canonical decimal number"))?;
                let w = u16::try_from(w)
                    .ok()
                    .filter(|w| (1..TILE_WIDTH as u16).contains(w))
                    .ok_or(bad("partial width not between 1 and 255"))?;
                (index, w)
            }
        };
        let index = parse_tile_index(index).ok_or(bad("index is not x-prefixed three-digit elements"))?;
        Tile::new(kind, index, width).map_err(|_| bad("tile out of range"))
    }

    /// The same tile, full (256 wide).
    pub fn to_full(self) -> Self {
        Self {
            width: TILE_WIDTH as u16,
            ..self
        }
    }

    /// The first and one past the last hash index at its tile level that it covers
    /// (`256·N` to `256·N + width`); for an entry bundle, the entry indexes.
    pub fn range(&self) -> (u64, u64) {
        let start = self.index.saturating_mul(TILE_WIDTH);
        (start, start.saturating_add(u64::from(self.width)))
    }
}

/// A canonical decimal number: digits only, no sign, no leading zero (except `0`).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

/// `N` as C2SP path elements: zero-padded three-digit groups, all but the last prefixed
/// with `x` (1234067 → `x001/x234/067`, 5 → `005`).
pub fn tile_index_path(n: u64) -> String {
    let mut groups = Vec::new();
    let mut n = n;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}")
            } else {
                format!("{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The inverse of [`tile_index_path`], canonical forms only.
fn parse_tile_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, first) = parts.split_last()?;
    let three = |p: &str| (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse::<u64>().ok())?;
    let mut n: u64 = 0;
    for (i, p) in first.iter().enumerate() {
        let g = three(p.strip_prefix('x')?)?;
        if i == 0 && g == 0 {
            return None; // a leading x000 element is not canonical
        }
        n = n.checked_mul(1000)?.checked_add(g)?;
    }
    n.checked_mul(1000)?.checked_add(three(last)?)
}

/// The number of hashes at tile level `level` of a tree of `size` leaves: `⌊size / 256^level⌋`.
fn hashes_at_level(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * TILE_HEIGHT;
    if shift >= 64 { 0 } else { size >> shift }
}

/// The tiles of one level holding `count` hashes or entries: the full ones, then the
/// partial one if `count` is not a multiple of 256.
fn level_tiles(kind: TileKind, count: u64) -> impl Iterator<Item = Tile> {
    let full = count / TILE_WIDTH;
    let partial = (count % TILE_WIDTH) as u16;
    (0..full)
        .map(move |index| Tile {
            kind,
            index,
            width: TILE_WIDTH as u16,
        })
        .chain((partial > 0).then_some(Tile {
            kind,
            index: full,
            width: partial,
        }))
}

/// Every hash tile of the tree of `size` leaves, level by level from 0, each level's full
/// tiles then its partial tile (of width `⌊size / 256^L⌋ mod 256`, if not 0). Empty tiles
/// are not tiles: the empty tree has none. About `size / 255` tiles: bound `size` (a
/// checkpoint's claim) before listing them.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    (0..=MAX_TILE_LEVEL)
        .map(|l| (l, hashes_at_level(size, l)))
        .take_while(|(_, count)| *count > 0)
        .flat_map(|(l, count)| level_tiles(TileKind::Hashes(l), count))
        .collect()
}

/// Every entry bundle of the tree of `size` leaves: the full ones, then the partial one.
pub fn entry_bundles_for_size(size: u64) -> Vec<Tile> {
    level_tiles(TileKind::Entries, size).collect()
}

/// The width the tree of `size` leaves gives `tile`'s index at its level, if it has that
/// tile at all: 256 for a full tile, the partial width for the last one.
pub fn tile_width_in_tree(tile: &Tile, size: u64) -> Option<u16> {
    let count = hashes_at_level(size, tile.level());
    let (start, _) = tile.range();
    let left = count.checked_sub(start).filter(|l| *l > 0)?;
    Some(left.min(TILE_WIDTH) as u16)
}

/// The hashes of a hash tile, read from a log's stored hashes: hash `i` is the stored hash
/// `(8L, 256·N + i)`. The tile must lie within [`MAX_TREE_SIZE`] (as every tile of
/// [`tiles_for_size`] does).
pub fn read_tile_hashes<R: HashReader + ?Sized>(tile: &Tile, r: &R) -> Result<Vec<Hash>, R::Error> {
    let level = u32::from(tile.level()) * TILE_HEIGHT;
    let (start, end) = tile.range();
    let indexes: Vec<u64> = (start..end).map(|n| stored_hash_index(level, n)).collect();
    r.read_hashes(&indexes)
}

/// A hash tile's bytes: the hashes concatenated.
pub fn hash_tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.as_flattened().to_vec()
}

/// Reads a hash tile: exactly 32 bytes per hash of the tile's width.
pub fn parse_hash_tile(tile: &Tile, bytes: &[u8]) -> Result<Vec<Hash>, TileError> {
    let want = 32 * usize::from(tile.width);
    if bytes.len() != want {
        return Err(TileError::HashTileLength {
            path: tile.path(),
            len: bytes.len(),
            want,
        });
    }
    Ok(bytes
        .chunks_exact(32)
        // Cannot fail: chunks_exact yields 32-byte chunks.
        .map(|c| c.try_into().expect("32 bytes"))
        .collect())
}

/// An entry bundle's bytes: each entry as a big-endian `uint16` length and the entry.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| 2 + e.as_ref().len()).sum());
    for (i, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLarge {
            entry: i,
            len: e.len(),
            max: MAX_ENTRY_LEN,
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Reads an entry bundle: exactly as many entries as the bundle's width, each whole, and
/// nothing after the last.
pub fn parse_entry_bundle<'a>(tile: &Tile, bytes: &'a [u8]) -> Result<Vec<&'a [u8]>, TileError> {
    let bad = |reason, offset, entry| TileError::Bundle {
        path: tile.path(),
        reason,
        offset,
        entry,
    };
    let mut out = Vec::with_capacity(usize::from(tile.width));
    let mut at = 0usize;
    for entry in 0..usize::from(tile.width) {
        let Some(len) = bytes.get(at..at + 2) else {
            return Err(bad("truncated length", at, entry));
        };
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let Some(e) = bytes.get(at + 2..at + 2 + len) else {
            return Err(bad("truncated entry", at, entry));
        };
        out.push(e);
        at += 2 + len;
    }
    if at != bytes.len() {
        return Err(bad("bytes after the last entry", at, out.len()));
    }
    Ok(out)
}

/// Serves a tree's stored hashes from its hash tiles, as Go's `tlog.TileHashReader` does:
/// a stored hash at Merkle level `8L + r` is the hash of `2^r` consecutive hashes of tile
/// level `L`. Holds the tiles of one tree size only ([`TileHashReader::insert`] refuses
/// others).
///
/// It checks nothing by itself: compute [`crate::tree_hash`] over it and compare with a
/// verified checkpoint's root to authenticate the tiles the root depends on.
#[derive(Clone, Debug)]
pub struct TileHashReader {
    size: u64,
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl TileHashReader {
    /// A reader for the tree of `size` leaves, with no tile yet.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            tiles: HashMap::new(),
        }
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds a hash tile with its contents: it must be a tile of this tree, of the width the
    /// tree gives it, and hold that many hashes.
    pub fn insert(&mut self, tile: &Tile, hashes: Vec<Hash>) -> Result<(), TileError> {
        let in_tree =
            matches!(tile.kind, TileKind::Hashes(_)) && tile_width_in_tree(tile, self.size) == Some(tile.width);
        if !in_tree {
            return Err(TileError::NotInTree {
                path: tile.path(),
                size: self.size,
            });
        }
        if hashes.len() != usize::from(tile.width) {
            return Err(TileError::HashTileLength {
                path: tile.path(),
                len: 32 * hashes.len(),
                want: 32 * usize::from(tile.width),
            });
        }
        self.tiles.insert((tile.level(), tile.index), hashes);
        Ok(())
    }

    /// Hash `n` of tile level `level`.
    fn tile_hash(&self, level: u8, n: u64) -> Result<Hash, TileError> {
        let index = n / TILE_WIDTH;
        let missing = || {
            let width = Tile {
                kind: TileKind::Hashes(level),
                index,
                width: TILE_WIDTH as u16,
            };
            let width = tile_width_in_tree(&width, self.size).unwrap_or(TILE_WIDTH as u16);
            TileError::MissingTile {
                path: Tile {
                    kind: TileKind::Hashes(level),
                    index,
                    width,
                }
                .path(),
            }
        };
        self.tiles
            .get(&(level, index))
            .and_then(|t| t.get((n % TILE_WIDTH) as usize))
            .copied()
            .ok_or_else(missing)
    }

    /// The stored hash `(level, n)` from the tiles.
    fn stored(&self, level: u32, n: u64) -> Result<Hash, TileError> {
        let tile_level = u8::try_from(level / TILE_HEIGHT).map_err(|_| TileError::Invalid {
            reason: "level over 63",
        })?;
        let r = level % TILE_HEIGHT;
        let first = n << r;
        let mut row: Vec<Hash> = (first..first + (1 << r))
            .map(|i| self.tile_hash(tile_level, i))
            .collect::<Result<_, _>>()?;
        while row.len() > 1 {
            row = row.chunks_exact(2).map(|p| node_hash(&p[0], &p[1])).collect();
        }
        Ok(row[0])
    }
}

impl HashReader for TileHashReader {
    type Error = TileError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, TileError> {
        if self.size > MAX_TREE_SIZE {
            return Err(TileError::Invalid {
                reason: "tree size over the maximum",
            });
        }
        indexes
            .iter()
            .map(|&i| {
                let (level, n) = split_stored_hash_index(i);
                self.stored(level, n)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
