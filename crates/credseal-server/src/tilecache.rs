//! Full tiles in memory. A full tile (C2SP tlog-tiles) never changes and the published tree
//! only grows, so a full tile served once is served again from here without rebuilding it
//! from the store (an entry bundle reads and parses 256 receipts). Partial tiles are never
//! cached. Bounded by bytes; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Bytes of tiles held at most.
pub(crate) const TILE_CACHE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Default)]
struct Inner {
    tiles: HashMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
    bytes: usize,
}

/// The cache of full tiles, by path.
#[derive(Debug, Default)]
pub(crate) struct TileCache {
    inner: Mutex<Inner>,
}

impl TileCache {
    /// The full tile at `path`, if held.
    pub(crate) fn get(&self, path: &str) -> Option<Arc<[u8]>> {
        self.inner.lock().ok()?.tiles.get(path).cloned()
    }

    /// Holds the full tile `bytes` at `path`, dropping the oldest beyond the budget.
    pub(crate) fn put(&self, path: &str, bytes: Arc<[u8]>) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if bytes.len() > TILE_CACHE_BYTES || c.tiles.contains_key(path) {
            return;
        }
        while c.bytes + bytes.len() > TILE_CACHE_BYTES {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some(b) = c.tiles.remove(&old) {
                c.bytes -= b.len();
            }
        }
        c.bytes += bytes.len();
        c.order.push_back(path.to_string());
        c.tiles.insert(path.to_string(), bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_tiles_within_its_budget_oldest_out_first() {
        let c = TileCache::default();
        let big: Arc<[u8]> = vec![7u8; TILE_CACHE_BYTES / 2].into();
        c.put("tile/entries/000", big.clone());
        c.put("tile/entries/001", big.clone());
        assert!(c.get("tile/entries/000").is_some());
        c.put("tile/entries/002", big);
        assert!(c.get("tile/entries/000").is_none(), "the oldest went first");
        assert_eq!(c.get("tile/entries/002").unwrap().len(), TILE_CACHE_BYTES / 2);
        let too_big: Arc<[u8]> = vec![0u8; TILE_CACHE_BYTES + 1].into();
        c.put("tile/0/000", too_big);
        assert!(c.get("tile/0/000").is_none());
    }
}
