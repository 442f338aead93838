//! The appender: the write side of the receipt log. Every access and event appends a
//! signed receipt, in group commits — concurrent callers share one batch, one flush and one
//! checkpoint — so that an answer is released only after its receipt is durable
//! (docs/design.md §6–7). It owns the queue (bounded: a full one is pushback), the pending/durable handles
//! ([`Slot`], [`Tickets`]), the group commit, and the subject map's nodes in memory.
//!
//! The reader reads the log through it where a read must see the log and the subject map at
//! one instant (a subject's bundle): [`Appender::read_view`] holds the map and the view lock.
//!
//! Imports: the shared modules (`error`) and the `vault` (the keystore snapshot that signs
//! a commit, the log key history, the fingerprint sets written with disclosures).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Condvar, Mutex};

use credseal_c2sp::{Checkpoint, Hash, stored_hash_count, stored_hashes_for_record_hash, tree_hash};
use credseal_core::BlindId;
use credseal_log::{
    Action, Actor, Chain, LogSigner, MapCheckpoint as _, MapNode, MapPos, MapReader, MapValue, Outcome, ReceiptBody,
    TrustCheckpoint as _, map_get, map_key, map_update,
};
use credseal_store::{Batch, Store, Tree};

use crate::components::trust::TrustLedger;
use crate::components::vault::{self, Vault};
use crate::error::{EngineError, Result};
use crate::logtree::{Hashes, StoreMap, be, map_error, tree_error};

/// Meta key of the log size (u64 BE).
const META_LOG_SIZE: &[u8] = b"log-size";
/// `SubjectReceipts` prefix of chain entries (blind ‖ counter → index). A subject's head —
/// its counter and newest leaf hash — is its value in the subject map. (Stores written
/// before kept heads under `'h'` as well; those entries are no longer read or written.)
pub(crate) const SUBJ_CHAIN: u8 = b'c';

/// A receipt to append; the log fills in index, time, chain and salt.
#[derive(Clone, Debug)]
pub struct NewReceipt {
    /// Who acted.
    pub actor: Actor,
    /// What was done.
    pub action: Action,
    /// Free-text detail (never credit data).
    pub detail: String,
    /// The subject, if the event is about one.
    pub subject: Option<BlindId>,
    /// Classes concerned.
    pub classes: BTreeSet<String>,
    /// Purpose code.
    pub purpose: String,
    /// SHA-256 of the token.
    pub token_hash: Option<Hash>,
    /// Outcome.
    pub outcome: Outcome,
    /// Keyed digest of what was released.
    pub release_digest: Option<Hash>,
    /// Delayed disclosure: sealed in bundles until then.
    pub disclose_after: Option<u64>,
    /// Writes that must be durable with the receipt: the replay entries the query consumed,
    /// which `insert_new` reserved already, in their committed form.
    pub marks: Vec<(Tree, Vec<u8>, Vec<u8>)>,
    /// Receipt flags: 0 ([`credseal_log::FLAG_CANARY`] is no longer set; see `crate::canary`).
    pub flags: u32,
    /// For a disclosure: the fingerprints of every released field (docs/design.md §9), written to
    /// the `Fingerprints` tree in the same atomic batch as the receipt, against its index.
    /// `None` for receipts that release nothing.
    pub fingerprints: Option<Vec<[u8; 32]>>,
}

/// A receipt once durable.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Its leaf index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The signed receipt bytes.
    pub receipt: Vec<u8>,
    /// The tree size of the checkpoint that includes it.
    pub tree_size: u64,
    /// How many receipts shared its commit.
    pub batch: usize,
}

#[derive(Default)]
struct State {
    size: Option<u64>,
    /// The time of the log's newest receipt: receipt times never decrease along the log
    /// (so neither along any subject's chain).
    last_time: Option<u64>,
    committing: bool,
    queue: Vec<(u64, NewReceipt)>,
    /// Writes to commit with the queued receipts (an ingest's records).
    extras: Vec<Batch>,
    next_ticket: u64,
    done: HashMap<u64, std::result::Result<Committed, Failure>>,
    /// Tickets whose owner stopped waiting: their results are dropped, not kept in `done`.
    abandoned: std::collections::HashSet<u64>,
    /// Group commits since open: counts, sizes and durations (bounded, for metrics).
    stats: CommitStats,
    /// Places in the queue promised to queries under way ([`Appender::reserve`]).
    reserved: usize,
}

/// Upper bounds, in seconds, of the commit-duration histogram buckets of [`CommitStats`].
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0];

/// What the group commits since this platform was opened did, in constant space: the
/// service's metrics and the benchmarks read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitStats {
    /// Group commits that succeeded.
    pub commits: u64,
    /// Receipts they committed.
    pub receipts: u64,
    /// The largest batch.
    pub max_batch: usize,
    /// The most recent batch.
    pub last_batch: usize,
    /// Seconds spent in the commits (write, flush, checkpoint), summed.
    pub seconds_sum: f64,
    /// Commits whose duration was at most each bound of [`COMMIT_SECONDS_BUCKETS`]
    /// (cumulative, as Prometheus histograms count).
    pub seconds_buckets: [u64; COMMIT_SECONDS_BUCKETS.len()],
    /// Commits that failed.
    pub failures: u64,
}

impl CommitStats {
    fn record(&mut self, batch: usize, seconds: f64) {
        self.commits += 1;
        self.receipts += batch as u64;
        self.max_batch = self.max_batch.max(batch);
        self.last_batch = batch;
        self.seconds_sum += seconds;
        for (n, bound) in self.seconds_buckets.iter_mut().zip(COMMIT_SECONDS_BUCKETS) {
            if seconds <= bound {
                *n += 1;
            }
        }
    }
}

/// Receipts the queue holds (queued and reserved) before enqueueing fails with
/// [`EngineError::Pushback`]. A commit of this many takes well under a second; a queue
/// this long means the disk cannot keep up, and callers should back off.
pub const QUEUE_CAPACITY: usize = 4096;

impl State {
    /// Whether `n` more receipts fit. A lone batch larger than the whole queue is let in
    /// when the queue is empty (an ingest's receipts), or it could never be committed.
    fn has_room(&self, n: usize) -> bool {
        let held = self.queue.len() + self.reserved;
        held + n <= QUEUE_CAPACITY || held == 0
    }
}

/// A place in the receipt queue held for one receipt: taken before a query writes
/// anything, so a full queue refuses the query before its token is spent.
#[derive(Debug)]
pub(crate) struct Slot<'a> {
    log: &'a Appender,
    held: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if self.held
            && let Ok(mut st) = self.log.state.lock()
        {
            st.reserved -= 1;
        }
    }
}

/// Receipts queued for the next group commit ([`Appender::enqueue`]). Waiting on
/// them ([`Appender::wait`]) returns once they are durable; dropped unwaited, they
/// are still committed, and their results are discarded.
#[derive(Debug)]
pub(crate) struct Tickets<'a> {
    log: &'a Appender,
    tickets: Vec<u64>,
}

impl Drop for Tickets<'_> {
    fn drop(&mut self) {
        if self.tickets.is_empty() {
            return;
        }
        if let Ok(mut st) = self.log.state.lock() {
            for t in &self.tickets {
                if st.done.remove(t).is_none() {
                    st.abandoned.insert(*t);
                }
            }
        }
    }
}

/// Why a commit failed, for every receipt that was in it: stored data that failed
/// verification stays that (exit 4); anything else is a log write failure.
#[derive(Clone, Debug)]
enum Failure {
    Corrupt { what: String, detail: String },
    Other(String),
}

impl Failure {
    fn of(e: &EngineError) -> Self {
        match e {
            EngineError::Corrupt { what, detail } => Failure::Corrupt {
                what: what.clone(),
                detail: detail.clone(),
            },
            e => Failure::Other(e.to_string()),
        }
    }

    fn into_error(self) -> EngineError {
        match self {
            Failure::Corrupt { what, detail } => EngineError::Corrupt { what, detail },
            Failure::Other(e) => EngineError::LogWrite(e),
        }
    }
}

/// The write side of one platform's receipt log and its group-commit state.
pub(crate) struct Appender {
    store: Arc<dyn Store>,
    /// The log origin: the name of the log's key and checkpoints.
    origin: String,
    state: Mutex<State>,
    cv: Condvar,
    /// Queries between their start and their receipt: a commit leader waits a moment for
    /// them (at most [`LINGER`]) so that they share its flush.
    active: std::sync::atomic::AtomicUsize,
    /// Commit leaders waiting for those queries ([`LINGER`]): the only waiters a new receipt
    /// or a finished query can concern, so those are signalled only while one waits.
    lingering: std::sync::atomic::AtomicUsize,
    /// Held (write) while a commit applies its batch, (read) while a bundle reads the latest
    /// checkpoint and the subject map: the two always match.
    view: std::sync::RwLock<()>,
    /// Nanoseconds spent on the subject map in commits — head lookups and updates (for
    /// `bench query`).
    map_nanos: std::sync::atomic::AtomicU64,
    /// The subject map's nodes in memory (see [`MapCache`]). Lock order: `map`, then `view`.
    map: Mutex<MapCache>,
    /// The trust state the last commit committed to (each checkpoint's `credseal-trust` line).
    trust: TrustLedger,
    /// The log signer of the last commit, by the SHA-256 of the log key's seed: deriving it
    /// (two key expansions) cost about 40 µs per commit. A rotated key has another digest,
    /// so the next commit derives its signer.
    signer: crate::memo::Memo<[u8; 32], Arc<LogSigner>>,
}

/// The subject map as the log's commits see it. Its interior nodes are derived data — every
/// one follows from the subjects' newest receipts — so a commit keeps the nodes it changes
/// in memory (`dirty`) instead of writing about 14 nodes per receipt through the
/// write-ahead log. The dirty nodes are written to the store, with the log size they are
/// current at ([`META_MAP_SIZE`]), in one batch and a flush: when there are more than
/// [`MAP_DIRTY_MAX`], at the end of an ingest, and when the platform closes.
/// After a crash, the first use replays the receipts after that size into the map and
/// checks the result against the latest checkpoint's map root (docs/formats.md §10).
#[derive(Default)]
pub(crate) struct MapCache {
    /// The stored map has been brought up to the log's size (replayed and checked).
    loaded: bool,
    /// The store holds no [`META_MAP_SIZE`] yet (a new log): the next write sets it.
    meta_missing: bool,
    /// Nodes changed since the map was last written to the store.
    dirty: foldhash::HashMap<MapPos, MapNode>,
    /// Nodes read from the store, kept for reading (at most [`MAP_CLEAN_MAX`]).
    clean: foldhash::HashMap<MapPos, MapNode>,
}

/// Meta key of the log size at which the stored subject map is current (u64 BE).
const META_MAP_SIZE: &[u8] = b"map-size";
/// Changed map nodes kept in memory before they are written to the store (about 15 MB).
const MAP_DIRTY_MAX: usize = 100_000;
/// Stored map nodes cached for reading (about 60 MB); the cache is emptied when full.
const MAP_CLEAN_MAX: usize = 400_000;

impl MapCache {
    fn remember(&mut self, read: Vec<(MapPos, MapNode)>) {
        if self.clean.len() + read.len() > MAP_CLEAN_MAX {
            self.clean.clear();
        }
        self.clean.extend(read);
    }

    fn reset(&mut self) {
        *self = MapCache::default();
    }
}

/// Reads the subject map: the changed nodes in memory, then the cache, then the store.
/// Nodes read from the store are collected for the cache.
pub(crate) struct CachedMap<'a> {
    store: &'a dyn Store,
    cache: &'a MapCache,
    read: std::cell::RefCell<Vec<(MapPos, MapNode)>>,
}

impl<'a> CachedMap<'a> {
    pub(crate) fn new(store: &'a dyn Store, cache: &'a MapCache) -> Self {
        Self {
            store,
            cache,
            read: Default::default(),
        }
    }
}

impl CachedMap<'_> {
    fn in_memory(&self, pos: &MapPos) -> Option<MapNode> {
        self.cache.dirty.get(pos).or_else(|| self.cache.clean.get(pos)).copied()
    }
}

impl MapReader for CachedMap<'_> {
    type Error = EngineError;

    fn read_node(&self, pos: &MapPos) -> Result<Option<MapNode>> {
        if let Some(n) = self.in_memory(pos) {
            return Ok(Some(n));
        }
        let n = StoreMap { store: self.store }.read_node(pos)?;
        if let Some(n) = n {
            self.read.borrow_mut().push((*pos, n));
        }
        Ok(n)
    }

    /// A node in memory was computed by a commit, or checked like this when it was read
    /// from the store (one that fails is not kept): only nodes from the store are hashed.
    fn read_node_checked(
        &self,
        pos: &MapPos,
        expected: &Hash,
    ) -> std::result::Result<Option<MapNode>, credseal_log::MapError<EngineError>> {
        if let Some(n) = self.in_memory(pos) {
            return Ok(Some(n));
        }
        let n = StoreMap { store: self.store }.read_node_checked(pos, expected)?;
        if let Some(n) = n {
            self.read.borrow_mut().push((*pos, n));
        }
        Ok(n)
    }
}

/// Queued receipts at which the thread that queues the last one leads a commit at once.
///
/// Measured with `credseal bench query` (2 threads, 64 queries in flight each): 32 gave
/// commits of ~46 receipts and ~3,300 queries/s; 64 gives ~88 and ~3,650 (fewer checkpoint
/// signatures, fsyncs and map-root paths per query); 128 gave ~145 and ~3,100, because the
/// threads' windows fill before the count is reached and they wait instead of working.
/// A lone query never waits for it: a thread that waits for its receipt leads the commit.
const COMMIT_AT: usize = 64;

/// Longest a commit leader waits for receipts of queries already under way.
const LINGER: std::time::Duration = std::time::Duration::from_micros(1500);

/// Counts a query as under way while it lives.
pub(crate) struct Active<'a>(&'a Appender);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.wake_lingering();
    }
}

/// Counts a commit leader as lingering while it lives.
struct Lingering<'a>(&'a Appender);

impl Drop for Lingering<'_> {
    fn drop(&mut self) {
        self.0.lingering.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Appender {
    /// Wakes a commit leader that lingers for queries under way, if one does. Threads
    /// waiting for their receipts wait for the end of a commit (signalled by
    /// `lead_commit`), not for new receipts or finished queries: waking them for each
    /// query cost a futex call and a context switch that found nothing to do.
    fn wake_lingering(&self) {
        if self.lingering.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            self.cv.notify_all();
        }
    }

    /// Marks a query as under way until the guard drops.
    pub(crate) fn active(&self) -> Active<'_> {
        self.active.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Active(self)
    }
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiptLog")
    }
}

impl Appender {
    /// The appender of the log `origin` on `store`, with an empty queue; its commits keep
    /// `pins` (the trust values queries check) up to date.
    pub(crate) fn new(store: Arc<dyn Store>, origin: String, pins: Arc<crate::pins::TrustPins>) -> Self {
        Self {
            store,
            origin,
            state: Default::default(),
            cv: Default::default(),
            active: Default::default(),
            lingering: Default::default(),
            view: Default::default(),
            map_nanos: Default::default(),
            map: Default::default(),
            trust: TrustLedger::new(pins),
            signer: Default::default(),
        }
    }

    /// At close: writes the subject map's changed nodes, so the next open has nothing to
    /// replay. A failure loses nothing: the next open replays the receipts instead.
    pub(crate) fn close(&self) {
        if let Ok(mut cache) = self.map.lock()
            && cache.loaded
        {
            let _ = self.persist_map_locked(&mut cache);
        }
    }

    /// The number of receipts in the log.
    pub(crate) fn log_size(&self) -> Result<u64> {
        log_size(&*self.store)
    }

    /// The latest signed checkpoint, if the log has any receipt.
    pub(crate) fn latest_checkpoint(&self) -> Result<Option<String>> {
        latest_checkpoint(&*self.store)
    }

    /// Seconds spent on the subject map in the commits since this platform was opened:
    /// looking up the subjects' heads, reading and hashing the updated paths.
    pub(crate) fn map_update_seconds(&self) -> f64 {
        self.map_nanos.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
    }

    /// Keeps every commit waiting until the guard drops (commits hold the subject map while
    /// they sign and write).
    pub(crate) fn hold_commits(&self, vault: &Vault) -> Result<std::sync::MutexGuard<'_, MapCache>> {
        self.map_cache(vault)
    }

    /// The subject map and the view's read lock, together: what is read under them sees the
    /// log, its latest checkpoint and the map at one instant (no commit in between). Lock
    /// order: the map, then the view.
    pub(crate) fn read_view(
        &self,
        vault: &Vault,
    ) -> Result<(std::sync::MutexGuard<'_, MapCache>, std::sync::RwLockReadGuard<'_, ()>)> {
        let cache = self.map_cache(vault)?;
        let view = self.view.read().map_err(|_| EngineError::poisoned("log view"))?;
        Ok((cache, view))
    }

    /// The subject map, brought up to the log's size: on first use, the receipts after the
    /// size the stored map is current at are replayed into it, and its root is checked
    /// against the latest checkpoint's map root.
    pub(crate) fn map_cache(&self, vault: &Vault) -> Result<std::sync::MutexGuard<'_, MapCache>> {
        let mut cache = self.map.lock().map_err(|_| EngineError::poisoned("subject map"))?;
        if !cache.loaded {
            cache.reset();
            if let Err(e) = self.load_map(vault, &mut cache) {
                cache.reset();
                return Err(e);
            }
            cache.loaded = true;
        }
        Ok(cache)
    }

    fn load_map(&self, vault: &Vault, cache: &mut MapCache) -> Result<()> {
        let size = self.log_size()?;
        let at = match self.store.get(Tree::Meta, META_MAP_SIZE)? {
            // A store written before the map was kept in memory wrote it at every commit.
            None if size > 0 => size,
            None => {
                cache.meta_missing = true;
                0
            }
            Some(v) => u64::from_be_bytes(v.as_slice().try_into().map_err(|_| EngineError::Corrupt {
                what: "subject map size".into(),
                detail: "not 8 bytes".into(),
            })?),
        };
        if at > size {
            return Err(EngineError::Corrupt {
                what: "subject map".into(),
                detail: format!("stored at log size {at}, beyond the log's {size} receipts"),
            });
        }
        // Each subject's newest receipt after `at`: its count, leaf hash and index.
        let mut newest: HashMap<BlindId, MapValue> = HashMap::new();
        let after = at.checked_sub(1).map(be);
        for kv in self
            .store
            .scan_prefix_after(Tree::LogLeaves, &[], after.as_ref().map(|a| &a[..]))
        {
            let (k, v) = kv?;
            let bad = |detail: String| EngineError::Corrupt {
                what: "receipt replayed into the subject map".into(),
                detail,
            };
            let index = u64::from_be_bytes(k.as_slice().try_into().map_err(|_| bad("key not 8 bytes".into()))?);
            if index >= size {
                break;
            }
            let r = credseal_log::UnverifiedReceipt::parse(&v).map_err(|e| bad(format!("{index}: {e}")))?;
            let body = r.peek_unverified().map_err(|e| bad(format!("{index}: {e}")))?;
            if let (Some(b), Some(c)) = (body.subject, body.chain) {
                newest.insert(
                    b,
                    MapValue {
                        count: c.counter,
                        head: r.leaf_hash(),
                        index,
                    },
                );
            }
        }
        if !newest.is_empty() {
            let updates = newest.iter().map(|(b, v)| (map_key(b), *v)).collect();
            let (u, read) = {
                let reader = CachedMap::new(&*self.store, cache);
                let u = map_update(&reader, updates).map_err(map_error)?;
                (u, reader.read.into_inner())
            };
            cache.remember(read);
            cache.dirty.extend(u.writes);
        }
        // The map must be the one the latest checkpoint commits to.
        if let Some(text) = self.latest_checkpoint()? {
            // Signed by the key of its size: after a log-key rotation, the old one.
            let cp = vault
                .log_key_history(&self.origin)?
                .verify_checkpoint(&text)
                .map_err(|e| EngineError::Corrupt {
                    what: "latest checkpoint".into(),
                    detail: e.to_string(),
                })?;
            let root = credseal_log::map_root(&CachedMap::new(&*self.store, cache)).map_err(map_error)?;
            if cp.map_root().ok().flatten() != Some(root) {
                return Err(EngineError::Corrupt {
                    what: "subject map".into(),
                    detail: format!(
                        "its root disagrees with the checkpoint at size {} (the stored map was edited or lost)",
                        cp.size()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Writes the subject map's changed nodes to the store (one batch and a flush). The log
    /// does this by itself when enough have changed and when the platform closes.
    pub(crate) fn persist_map(&self, vault: &Vault) -> Result<()> {
        let mut cache = self.map_cache(vault)?;
        self.persist_map_locked(&mut cache)
    }

    fn persist_map_locked(&self, cache: &mut MapCache) -> Result<()> {
        if cache.dirty.is_empty() && !cache.meta_missing {
            return Ok(());
        }
        let size = self.log_size()?;
        let mut batch = Batch::new();
        for (pos, node) in &cache.dirty {
            batch.put(Tree::SubjectMap, pos.to_bytes(), node.to_bytes());
        }
        batch.put(Tree::Meta, META_MAP_SIZE.to_vec(), be(size).to_vec());
        let r = self.store.apply(batch).and_then(|()| self.store.flush());
        if let Err(e) = r {
            cache.reset();
            return Err(e.into());
        }
        let dirty = std::mem::take(&mut cache.dirty);
        cache.remember(dirty.into_iter().collect());
        cache.meta_missing = false;
        Ok(())
    }

    /// The group commits since this platform was opened.
    pub(crate) fn commit_stats(&self) -> CommitStats {
        self.state.lock().map(|s| s.stats.clone()).unwrap_or_default()
    }

    /// Receipts waiting for a commit or promised a place ([`Appender::reserve`]).
    pub(crate) fn queue_depth(&self) -> usize {
        self.state.lock().map(|s| s.queue.len() + s.reserved).unwrap_or(0)
    }

    /// Holds a place in the receipt queue for one receipt, or fails at once with
    /// [`EngineError::Pushback`] when the queue is full.
    pub(crate) fn reserve(&self) -> Result<Slot<'_>> {
        let mut st = self.state.lock().map_err(|_| EngineError::poisoned("receipt log"))?;
        if !st.has_room(1) {
            return Err(EngineError::Pushback {
                capacity: QUEUE_CAPACITY,
            });
        }
        st.reserved += 1;
        Ok(Slot { log: self, held: true })
    }

    /// Appends receipts and returns once they are on disk (flushed) with a checkpoint that
    /// includes them. Concurrent callers share one commit.
    pub(crate) fn append(&self, vault: &Vault, items: Vec<NewReceipt>, now: u64) -> Result<Vec<Committed>> {
        self.append_with(vault, items, Batch::new(), now)
    }

    /// [`Appender::append`], with `extra` writes committed atomically with the
    /// receipts (an ingest's records with the receipts that tell their subjects).
    pub(crate) fn append_with(
        &self,
        vault: &Vault,
        items: Vec<NewReceipt>,
        extra: Batch,
        now: u64,
    ) -> Result<Vec<Committed>> {
        if items.is_empty() {
            if extra
                .writes()
                .any(|(t, k, _)| crate::components::trust::component_of(t, k).is_some())
            {
                return Err(EngineError::Internal(
                    "a change of trust state needs a receipt to commit it".into(),
                ));
            }
            self.store.apply(extra)?;
            return Ok(Vec::new());
        }
        let tickets = self.enqueue(vault, items, extra, now, None)?;
        self.wait(vault, tickets, now)
    }

    /// Queues receipts (and `extra` writes) for the next group commit without waiting.
    /// `now` is the commit time if queueing them starts a commit.
    /// A full queue refuses them at once ([`EngineError::Pushback`]), unless `slot` holds
    /// the place of the one receipt queued.
    pub(crate) fn enqueue(
        &self,
        vault: &Vault,
        items: Vec<NewReceipt>,
        extra: Batch,
        now: u64,
        slot: Option<Slot<'_>>,
    ) -> Result<Tickets<'_>> {
        let mut st = self.state.lock().map_err(|_| EngineError::poisoned("receipt log"))?;
        match slot {
            Some(mut slot) if items.len() == 1 => {
                // The place becomes the receipt's: released here, under the same lock.
                slot.held = false;
                st.reserved -= 1;
            }
            _ => {
                if !st.has_room(items.len()) {
                    return Err(EngineError::Pushback {
                        capacity: QUEUE_CAPACITY,
                    });
                }
            }
        }
        if !extra.is_empty() {
            st.extras.push(extra);
        }
        let mut tickets = Vec::with_capacity(items.len());
        for it in items {
            let t = st.next_ticket;
            st.next_ticket += 1;
            st.queue.push((t, it));
            tickets.push(t);
        }
        // Under the state lock, which a lingering leader holds until it waits: it cannot
        // miss this.
        self.wake_lingering();
        // Enough receipts for a commit of their own: lead it now, so that it runs while
        // other threads still have queries in flight, not only once every thread waits.
        if st.queue.len() >= COMMIT_AT && !st.committing {
            drop(self.lead_commit(vault, st, now)?);
        }
        Ok(Tickets { log: self, tickets })
    }

    /// Waits until the queued receipts are durable, leading a group commit of everything
    /// queued when no other thread is committing. `now` is the commit time if it leads.
    pub(crate) fn wait(&self, vault: &Vault, mut tickets: Tickets<'_>, now: u64) -> Result<Vec<Committed>> {
        let poisoned = || EngineError::poisoned("receipt log");
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        loop {
            if tickets.tickets.iter().all(|t| st.done.contains_key(t)) {
                let mine = std::mem::take(&mut tickets.tickets);
                let results: Vec<_> = mine.iter().filter_map(|t| st.done.remove(t)).collect();
                return results.into_iter().map(|r| r.map_err(Failure::into_error)).collect();
            }
            if !st.committing && !st.queue.is_empty() {
                st = self.lead_commit(vault, st, now)?;
                continue;
            }
            st = self.cv.wait(st).map_err(|_| poisoned())?;
        }
    }

    /// Commits everything queued, as the leader of one group commit (`st.committing` must
    /// be false). Every receipt of the batch gets its result in `done`.
    fn lead_commit<'a>(
        &'a self,
        vault: &Vault,
        mut st: std::sync::MutexGuard<'a, State>,
        now: u64,
    ) -> Result<std::sync::MutexGuard<'a, State>> {
        let poisoned = || EngineError::poisoned("receipt log");
        st.committing = true;
        // Group commit: give queries already under way a moment to join this flush.
        let deadline = std::time::Instant::now() + LINGER;
        self.lingering.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let lingering = Lingering(self);
        loop {
            let waiting = self.active.load(std::sync::atomic::Ordering::SeqCst);
            let now_t = std::time::Instant::now();
            if st.queue.len() >= waiting || now_t >= deadline {
                break;
            }
            st = self.cv.wait_timeout(st, deadline - now_t).map_err(|_| poisoned())?.0;
        }
        drop(lingering);
        let batch = std::mem::take(&mut st.queue);
        let extras = std::mem::take(&mut st.extras);
        let (size, last_time) = (st.size, st.last_time);
        drop(st);
        let started = std::time::Instant::now();
        // Whatever happens, the batch's waiters get a result and `committing` ends.
        let r = size.map_or_else(|| self.log_size(), Ok).and_then(|size| {
            let last_time = last_time.map_or_else(|| self.receipt_time_before(size), Ok)?;
            Ok((size, self.commit(vault, size, last_time, &batch, extras, now)?))
        });
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        st.committing = false;
        let results: Vec<std::result::Result<Committed, Failure>> = match r {
            Ok((size, (committed, last_time))) => {
                st.size = Some(size + batch.len() as u64);
                st.last_time = Some(last_time);
                st.stats.record(batch.len(), started.elapsed().as_secs_f64());
                committed.into_iter().map(Ok).collect()
            }
            Err(e) => {
                st.size = None;
                st.last_time = None;
                st.stats.failures += 1;
                let f = Failure::of(&e);
                batch.iter().map(|_| Err(f.clone())).collect()
            }
        };
        for ((t, _), r) in batch.iter().zip(results) {
            if !st.abandoned.remove(t) {
                st.done.insert(*t, r);
            }
        }
        self.cv.notify_all();
        Ok(st)
    }

    /// The time of the receipt just before `size` (0 for an empty log).
    fn receipt_time_before(&self, size: u64) -> Result<u64> {
        let Some(index) = size.checked_sub(1) else {
            return Ok(0);
        };
        let bad = |detail: String| EngineError::Corrupt {
            what: format!("receipt {index}"),
            detail,
        };
        let bytes = self
            .store
            .get(Tree::LogLeaves, &be(index))?
            .ok_or_else(|| bad("missing".into()))?;
        let r = credseal_log::UnverifiedReceipt::parse(&bytes).map_err(|e| bad(e.to_string()))?;
        Ok(r.peek_unverified().map_err(|e| bad(e.to_string()))?.time)
    }

    /// Appends `items` after `start` receipts, the newest of which has time `last_time`.
    /// Returns the committed receipts and the time of the newest.
    fn commit(
        &self,
        vault: &Vault,
        start: u64,
        mut last_time: u64,
        items: &[(u64, NewReceipt)],
        extras: Vec<Batch>,
        now: u64,
    ) -> Result<(Vec<Committed>, u64)> {
        // The map first, then the signer: a log key rotation holds the map while it reads
        // the tree size and switches the key, so this commit signs with the key that
        // signs from its start.
        let mut cache = self.map_cache(vault)?;
        let ks = vault.keys();
        // The memo's key: the seed's SHA-256, or the token object's id and public key.
        let memo_key = match &ks.log_key {
            credseal_crypto::LogKey::Seed(seed) => credseal_crypto::sha256(seed.expose_secret()),
            credseal_crypto::LogKey::Token { id, public } => {
                credseal_crypto::sha256(&[&id.0[..], &public[..]].concat())
            }
        };
        let signer = self
            .signer
            .get_or_try(memo_key, || crate::logkey::log_signer(&ks, &self.origin).map(Arc::new))?;
        let mut overlay: HashMap<u64, Hash> = HashMap::new();
        // Per subject of this commit: counter, head leaf hash and log index of its newest
        // receipt. A subject's earlier head is its value in the subject map.
        let mut heads: HashMap<BlindId, (u64, Hash, u64)> = HashMap::new();
        let mut map_time = std::time::Duration::ZERO;
        let map_reader = CachedMap::new(&*self.store, &cache);
        let mut batch = Batch::new();
        let bulky = !extras.is_empty();
        for e in extras {
            batch.append(e);
        }
        let mut out = Vec::with_capacity(items.len());
        let mut size = start;
        for (_, it) in items {
            let index = size;
            let time = now.max(last_time);
            last_time = time;
            let chain = match &it.subject {
                None => None,
                Some(b) => {
                    let head = match heads.get(b) {
                        Some(&(c, h, _)) => Some((c, h)),
                        None => {
                            let t = std::time::Instant::now();
                            let v = map_get(&map_reader, &map_key(b)).map_err(map_error)?;
                            map_time += t.elapsed();
                            v.map(|v| (v.count, v.head))
                        }
                    };
                    let (counter, prev) = match head {
                        Some((c, h)) => (c + 1, Some(h)),
                        None => (1, None),
                    };
                    Some(Chain { counter, prev })
                }
            };
            let body = ReceiptBody {
                index,
                time,
                actor: it.actor.clone(),
                action: it.action,
                detail: it.detail.clone(),
                subject: it.subject,
                classes: it.classes.clone(),
                purpose: it.purpose.clone(),
                token_hash: it.token_hash,
                outcome: it.outcome.clone(),
                release_digest: it.release_digest,
                salt: credseal_log::random_salt(),
                chain,
                // The receipt rules cap the delay (credseal_log::MAX_DISCLOSE_DELAY_SECS): a
                // catalogue asking for more gets the maximum.
                disclose_after: it
                    .disclose_after
                    .map(|d| d.clamp(time, time.saturating_add(credseal_log::MAX_DISCLOSE_DELAY_SECS))),
                flags: it.flags,
            };
            let signed = signer
                .sign_receipt(&body)
                .map_err(|e| EngineError::Internal(format!("receipt: {e}")))?;
            let leaf = signed.leaf_hash();
            let reader = Hashes {
                store: &*self.store,
                overlay: &overlay,
            };
            let hashes =
                stored_hashes_for_record_hash(index, leaf, &reader).map_err(|e| tree_error(e, "log hashes"))?;
            let base = stored_hash_count(index);
            for (i, h) in hashes.iter().enumerate() {
                overlay.insert(base + i as u64, *h);
            }
            batch.put(Tree::LogHashes, be(index).to_vec(), hashes.as_flattened().to_vec());
            batch.put(Tree::LogLeaves, be(index).to_vec(), signed.as_bytes().to_vec());
            // Reserved by `insert_new` already; the frame makes them durable in their
            // committed form (`gate::committed_replay_value`). That value is never the one
            // stored, so a plain put: `put_again` would only add a read that never matches.
            for (tree, k, v) in &it.marks {
                batch.put(*tree, k.clone(), v.clone());
            }
            if let Some(fps) = &it.fingerprints {
                vault::put_fingerprint_set(&ks, &mut batch, index, fps);
            }
            if let (Some(b), Some(c)) = (&it.subject, chain) {
                let mut k = vec![SUBJ_CHAIN];
                k.extend_from_slice(b.as_bytes());
                k.extend_from_slice(&be(c.counter));
                batch.put(Tree::SubjectReceipts, k, be(index).to_vec());
                heads.insert(*b, (c.counter, leaf, index));
            }
            out.push(Committed {
                index,
                leaf_hash: leaf,
                receipt: signed.into_bytes(),
                tree_size: 0,
                batch: items.len(),
            });
            size += 1;
        }
        // The subject map: every subject of this commit gets its new count and newest
        // receipt (sealed receipts included), and the checkpoint commits to the root. The
        // changed nodes stay in memory (see `MapCache`).
        let map_t = std::time::Instant::now();
        let updates: Vec<(Hash, MapValue)> = heads
            .iter()
            .map(|(b, &(count, head, index))| (map_key(b), MapValue { count, head, index }))
            .collect();
        let map = map_update(&map_reader, updates).map_err(map_error)?;
        let read = map_reader.read.into_inner();
        cache.remember(read);
        if cache.meta_missing {
            // A new log: the stored (empty) map is current at size 0.
            batch.put(Tree::Meta, META_MAP_SIZE.to_vec(), be(0).to_vec());
        }
        map_time += map_t.elapsed();
        self.map_nanos.fetch_add(
            u64::try_from(map_time.as_nanos()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let reader = Hashes {
            store: &*self.store,
            overlay: &overlay,
        };
        let root = tree_hash(size, &reader).map_err(|e| tree_error(e, "log root"))?;
        // The trust state after this batch (its changes, committed replay entries).
        let trust = self.trust.stage(&*self.store, &ks, &mut batch)?;
        let cp = Checkpoint::new(&self.origin, size, root)
            .and_then(|c| c.with_map_root(&map.root))
            .and_then(|c| c.with_trust_digest(&trust.digest))
            .map_err(|e| EngineError::Internal(format!("checkpoint: {e}")))?;
        batch.put(
            Tree::Checkpoints,
            be(size).to_vec(),
            signer
                .try_sign_checkpoint(&cp)
                .map_err(|e| EngineError::Internal(format!("signing the checkpoint: {e}")))?
                .into_bytes(),
        );
        batch.put(Tree::Meta, META_LOG_SIZE.to_vec(), be(size).to_vec());
        let _view = self.view.write().map_err(|_| EngineError::poisoned("log view"))?;
        let written = if bulky {
            // An ingest's records: flush sled rather than copy them through the write-ahead
            // log. Commits are serialised, so every earlier one is in sled already.
            self.store.apply(batch).and_then(|()| self.store.flush())
        } else {
            // Durable before anyone is told: one write-ahead-log frame and one fdatasync.
            self.store.apply_durable(batch)
        };
        if let Err(e) = written {
            // What the store holds is uncertain: the next use replays the map from it.
            cache.reset();
            self.trust.forget();
            return Err(e.into());
        }
        self.trust.installed(trust);
        cache.meta_missing = false;
        cache.dirty.extend(map.writes);
        if cache.dirty.len() > MAP_DIRTY_MAX {
            // The receipts are durable already; if writing the map fails, the cache is
            // dropped and the next use replays it from the store.
            let _ = self.persist_map_locked(&mut cache);
        }
        drop(_view);
        for c in &mut out {
            c.tree_size = size;
        }
        Ok((out, last_time))
    }
}

/// The number of receipts in the log in `store`.
pub(crate) fn log_size(store: &dyn Store) -> Result<u64> {
    match store.get(Tree::Meta, META_LOG_SIZE)? {
        None => Ok(0),
        Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
            EngineError::Corrupt {
                what: "log size".into(),
                detail: "not 8 bytes".into(),
            }
        })?)),
    }
}

/// The latest signed checkpoint in `store`, if the log has any receipt.
pub(crate) fn latest_checkpoint(store: &dyn Store) -> Result<Option<String>> {
    match store.last_with_prefix(Tree::Checkpoints, &[])? {
        None => Ok(None),
        Some((_, v)) => String::from_utf8(v).map(Some).map_err(|_| EngineError::Corrupt {
            what: "checkpoint".into(),
            detail: "not UTF-8".into(),
        }),
    }
}
