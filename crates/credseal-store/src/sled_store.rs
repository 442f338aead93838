//! [`SledStore`]: the embedded on-disk backend (sled 0.34).
//!
//! # Layout
//!
//! All logical trees live in sled's default `sled::Tree`; every key is stored as
//! `tag(tree) || key` (see [`Tree::tag`]). sled batches are atomic per `sled::Tree` only, so
//! keeping one sled tree is what lets a [`Batch`] spanning several logical trees be applied
//! atomically with one `apply_batch` — cheaper than a multi-tree `transaction` and without its
//! flush stalls (docs/design.md §15).
//!
//! Tag `0` is reserved for the store's own bookkeeping: the key `0x00 || "credseal-store/format"`
//! holds the format version (`"2"`). It is written and flushed when a store is created; opening a
//! database without it (an empty or foreign sled database, or one whose log sled silently
//! discarded as garbage) fails with [`StoreError::Corrupt`] instead of looking like an empty store,
//! and so does a database of another format (format `"1"` stored every value raw in sled).
//!
//! Every value of a logical tree is stored with a one-byte tag: inline, or a pointer into the
//! value log `credseal.vlog` (the `vlog` module), where values of 512 bytes and more are kept
//! once instead of being copied by sled on every page rewrite.

use std::fs;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::sync::Mutex;

use crate::batch::Op;
use crate::keys::{Span, tagged, untag};
use crate::vlog::{VLOG_FILE, ValueLog, ValueLogUsage};
use crate::wal::{WAL_FILE, WAL_LIMIT, Wal};
use crate::{Batch, KvIter, KvPair, Store, StoreError, Tree};

/// The format marker's key: tag 0, outside every logical tree.
const FORMAT_KEY: &[u8] = b"\x00credseal-store/format";
/// The sequence number of the last write-ahead-log frame applied to sled (u64 BE); tag 0.
const WAL_SEQ_KEY: &[u8] = b"\x00credseal-store/wal-seq";
/// The format this code writes and reads: 2, values tagged inline or pointing into the value
/// log. Format 1 (every value raw in sled) is refused.
const FORMAT: &[u8] = b"2";
/// The format before the value log.
const FORMAT_V1: &[u8] = b"1";
/// sled's data file inside the store directory; its presence marks an existing database.
const SLED_DB_FILE: &str = "db";

/// A [`Store`] in a sled database directory.
///
/// sled holds an exclusive lock on the directory's `db` file while the store is open, so a
/// second open — from another process or from this one — fails with [`StoreError::Locked`].
/// Writes become durable on [`Store::flush`] (sled also flushes in the background about every
/// 500 ms).
///
/// # Files: no symbolic links, private modes
///
/// Someone who can write to the store directory could plant a symbolic link there (say
/// `credseal.wal` pointing at the platform's keystore) so that opening the store truncates or
/// overwrites the file it points to. The store therefore never follows one:
///
/// - The store directory must not be a symbolic link, and every entry in it and in sled's
///   `blobs/` is checked with `symlink_metadata` before sled or the store opens anything: a
///   symbolic link anywhere there, or a store or sled file (`db`, which also carries the
///   lock, `conf`, `snap.*`, `blobs/*`, `credseal.wal`, `credseal.vlog`) that is not a regular
///   file or has more than one hard link, is refused with [`StoreError::Corrupt`] naming the
///   path, and nothing is written.
/// - The files the store opens itself (the write-ahead log, the value log, `db` for the
///   snapshot clean-up, the directory to sync it) are opened with `O_NOFOLLOW`, and the
///   open file is checked again (regular, one hard link) before anything is read or written.
/// - Files the store creates are created with mode 0600 and the directory with 0700. sled
///   creates its own files with its own modes, so right after sled opens, the group and other
///   permission bits of the directory, `blobs/` and every regular file in them are cleared
///   (this also tightens existing group- or world-readable files; bits are only ever
///   removed). A store directory that its group or others may write to is refused with
///   [`StoreError::Insecure`] before anything in it is opened.
///
/// What remains: sled opens `db`, `conf`, `blobs/*` and `snap.*` itself, following symbolic
/// links. A link planted in the moment between the check above and sled's open (or, while the
/// store is open, at the name of a file sled creates later: a new blob or snapshot) is
/// followed. Planting it needs write access to the store directory at that exact moment —
/// which a private (0700) directory gives only its owner — and the next open refuses it.
/// Likewise files sled creates while the store is open keep sled's mode (0644 under the
/// usual umask) until the next open tightens them; the 0700 directory keeps other users out
/// meanwhile.
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    /// The write-ahead log of durable batches, and the next frame's sequence number.
    wal: Mutex<(Wal, u64)>,
    /// Big values, stored once outside sled.
    vlog: ValueLog,
    /// Held (shared) by every write from its value-log append to its sled apply; compaction
    /// takes it exclusively for a moment, so every value below the log's end then has its
    /// pointer in sled before compaction looks for live values.
    appending: std::sync::RwLock<()>,
    /// Held by a compaction for its whole run and by a snapshot while it copies the value
    /// log: a value a snapshot's pointer names is never punched under it.
    maintenance: Mutex<()>,
    /// Set when a durable frame reached the write-ahead log but not all of sled: every later
    /// write and flush is refused, so that reopening replays the frame whole.
    halted: std::sync::atomic::AtomicBool,
    /// Tests: the sled write of a durable frame fails after this many entries (0: never).
    #[cfg(test)]
    fail_after: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for SledStore {
    /// Prints the directory, never stored data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// How long `open` waits for a lock released by a handle that was just dropped.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// sled's segment size: 256 KiB instead of its default 512 KiB.
///
/// (Chosen when subject values were stored in sled. Since store format 2 they are in the
/// value log and sled holds small entries only; the choice has not been measured again.)
///
/// sled writes a page (a leaf of up to 17 entries, or a delta) larger than a quarter segment
/// to a file of its own in `blobs/`, deleted as soon as the page is rewritten, instead of into
/// a log segment, where the old copy stays as garbage until its segment drops to half live
/// and is cleaned. A subject's value is a few KiB, so at 256 KiB most full leaves go to blobs
/// and the database is about 8% smaller (`credseal bench ingest --subjects 100000`: ≈ 780
/// against ≈ 850 bytes per record), at the price of a few hundred blob files and about a
/// quarter less raw insert speed for our writes and the floor's alike (128 KiB was smaller
/// again but much slower).
pub const SEGMENT_SIZE: usize = 256 * 1024;

/// The sled configuration of every credseal database, also used by `credseal bench ingest`'s
/// floor so that both write with the same settings.
pub fn sled_config(dir: &Path) -> sled::Config {
    // sled 0.34.7's `mode` (LowSpace / HighThroughput), `segment_cleanup_threshold` and
    // `segment_cleanup_skew` are accepted and ignored (segments are cleaned at 50% live
    // whatever they say), so they are not set.
    sled::Config::new().path(dir).segment_size(SEGMENT_SIZE)
}

impl SledStore {
    /// Opens (creating if `create`) the sled database in `dir`, with sled's default cache size.
    ///
    /// Distinct errors: directory missing, or holding no database while `create` is false
    /// ([`StoreError::NotFound`]); locked by another process or handle ([`StoreError::Locked`]);
    /// read-only / permission denied ([`StoreError::ReadOnly`]); corrupt, foreign or of an
    /// unknown format version ([`StoreError::Corrupt`]); other I/O ([`StoreError::Io`]). Damaged
    /// files never make this panic: a panic inside sled while recovering is caught and reported
    /// as [`StoreError::Corrupt`].
    pub fn open(dir: &Path, create: bool) -> Result<Self, StoreError> {
        Self::open_config(dir, create, None)
    }

    /// Like [`SledStore::open`] with sled's page cache limited to `cache_bytes`.
    pub fn open_with_cache(dir: &Path, create: bool, cache_bytes: u64) -> Result<Self, StoreError> {
        Self::open_config(dir, create, Some(cache_bytes))
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_config(dir: &Path, create: bool, cache_bytes: Option<u64>) -> Result<Self, StoreError> {
        let path = dir.to_path_buf();
        match fs::symlink_metadata(dir) {
            Ok(meta) => check_dir(dir, &meta)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(dir)
                    .map_err(|e| map_io(e, dir))?;
                // Checked again: something else may have been put there meanwhile.
                let meta = fs::symlink_metadata(dir).map_err(|e| map_io(e, dir))?;
                check_dir(dir, &meta)?;
            }
            Err(e) => return Err(map_io(e, dir)),
        }
        check_entries(dir)?;
        if !create {
            // sled would silently create a fresh database here; without `create` that is an error.
            match fs::symlink_metadata(dir.join(SLED_DB_FILE)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound { path }),
                Err(e) => return Err(map_io(e, dir)),
            }
        }

        remove_unfinished_snapshots(dir);
        let mut config = sled_config(dir);
        if let Some(bytes) = cache_bytes {
            config = config.cache_capacity(bytes);
        }
        // sled recovers by parsing its log and has assertions on what it reads; a damaged file
        // must become an error, not a crash of the whole platform.
        // sled releases its file lock a moment after the last handle drops (its background
        // threads hold the file briefly), so a reopen in the same process can race it. Retry a
        // lock error for up to LOCK_WAIT: a lock held by another live process still fails.
        // The process that held the lock may have been killed while writing a snapshot: the
        // leftovers are removed again before every retry. And if sled finds the database
        // corrupt just as an unfinished snapshot appears (a process killed between our removal
        // and sled's open), it is removed and the open tried once more.
        let started = std::time::Instant::now();
        let mut retried_snapshot = false;
        let db = loop {
            let err = match catch_unwind(AssertUnwindSafe(|| config.open())) {
                Ok(Ok(db)) => break db,
                Ok(Err(e)) => map_sled(e, dir),
                Err(panic) => StoreError::Corrupt {
                    detail: format!(
                        "sled failed while recovering {}: {}",
                        dir.display(),
                        panic_message(&*panic)
                    ),
                },
            };
            if matches!(err, StoreError::Locked { .. }) && started.elapsed() < LOCK_WAIT {
                std::thread::sleep(std::time::Duration::from_millis(20));
                remove_unfinished_snapshots(dir);
                continue;
            }
            if matches!(err, StoreError::Corrupt { .. }) && !retried_snapshot && remove_unfinished_snapshots(dir) {
                retried_snapshot = true;
                continue;
            }
            return Err(err);
        };
        // sled created its files with its own modes (0644 under the usual umask).
        tighten_modes(dir)?;
        // The format first: nothing is written into a foreign or older database.
        let fresh = check_format(&db, dir, create)?;
        if !fresh && fs::symlink_metadata(dir.join(VLOG_FILE)).is_err() {
            // Every format-2 store has the file from its creation on; without it the values
            // its pointers name are gone (and an empty new file would hide that until a read).
            return Err(StoreError::Corrupt {
                detail: format!(
                    "{} has lost its value log {VLOG_FILE}: the values stored in it are gone",
                    dir.display()
                ),
            });
        }
        let (wal, frames) = Wal::open(dir)?;
        let vlog = ValueLog::open(dir)?;
        if fresh {
            // Marked as a credseal store only once its files exist (a crash before this leaves
            // an empty, unmarked database, which `create` initialises again).
            db.insert(FORMAT_KEY, FORMAT).map_err(|e| map_sled(e, dir))?;
            db.flush().map_err(|e| map_sled(e, dir))?;
        }
        let store = SledStore {
            db,
            path,
            wal: Mutex::new((wal, 0)),
            vlog,
            appending: Default::default(),
            maintenance: Default::default(),
            halted: Default::default(),
            #[cfg(test)]
            fail_after: Default::default(),
        };
        store.recover(frames)?;
        Ok(store)
    }

    /// Live and dead bytes of the value log, counted by walking every stored value (cost linear
    /// in the store's size; for reports and tools, not for the hot path).
    pub fn value_log_usage(&self) -> Result<ValueLogUsage, StoreError> {
        let mut usage = ValueLogUsage {
            file_bytes: self.vlog.file_len()?,
            ..ValueLogUsage::default()
        };
        for tree in Tree::ALL {
            let Some(span) = Span::new(tree, &[], None) else {
                continue;
            };
            for item in self.db.range(span.bounds()).values() {
                ValueLog::count(&mut usage, &item.map_err(|e| self.err(e))?);
            }
        }
        Ok(usage)
    }

    /// Flushes sled, the value log first (see the `vlog` module), and empties the
    /// write-ahead log. Takes the log's lock guard: no frame is appended meanwhile.
    fn flush_locked(&self, w: &mut (Wal, u64)) -> Result<(), StoreError> {
        self.vlog.sync()?;
        self.db.flush().map_err(|e| self.err(e))?;
        // sled now holds every frame durably, and the value log every byte they name.
        w.0.reset()
    }

    /// A stored value read back from sled under `key` (tagged) in `tree`.
    fn resolve(&self, tree: Tree, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.vlog.resolve(tree, key, stored)
    }

    /// [`SledStore::resolve`], reading the key once more if its value-log bytes do not check:
    /// the value may have been overwritten since it was read and its old bytes punched by a
    /// compaction. `None`: deleted since.
    fn resolve_fresh(&self, tree: Tree, key: &[u8], stored: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.resolve(tree, key, stored) {
            Err(e @ StoreError::Corrupt { .. }) => match self.db.get(key).map_err(|e| self.err(e))? {
                None => Ok(None),
                Some(again) if again.as_ref() != stored => self.resolve(tree, key, &again).map(Some),
                Some(_) => Err(e),
            },
            r => r.map(Some),
        }
    }

    /// Gives the value log's dead bytes (overwritten and deleted values: rewraps,
    /// supersessions, shreds) back to the file system, online: holes are punched in place
    /// over every whole block no live value touches, so no offset or pointer changes, reads
    /// and writes go on meanwhile (values appended after it starts are not looked at), and a
    /// kill at any moment loses nothing; running it again punches what is left. A reader
    /// that read a pointer just before its value was overwritten and punched reads the key
    /// again ([`SledStore::resolve_fresh`]).
    pub fn compact_value_log(&self) -> Result<Compaction, StoreError> {
        self.check_running()?;
        let _m = self.maintenance.lock().map_err(|_| poisoned())?;
        let allocated_before = self.vlog.allocated()?;
        // Every write in flight finishes its sled apply: below `end`, every live value's
        // pointer is in sled from here on.
        let end = {
            let _all = self.appending.write().map_err(|_| poisoned())?;
            self.vlog.end()
        };
        let mut live = Vec::new();
        for tree in Tree::ALL {
            let Some(span) = Span::new(tree, &[], None) else {
                continue;
            };
            for item in self.db.range(span.bounds()).values() {
                if let Some(r) = ValueLog::pointed(&item.map_err(|e| self.err(e))?)
                    && r.0 < end
                {
                    live.push(r);
                }
            }
        }
        let live_bytes = live.iter().map(|r| r.1).sum();
        let punched = self.vlog.punch_dead(&mut live, end)?;
        Ok(Compaction {
            log_bytes: end,
            live_bytes,
            punched_bytes: punched,
            allocated_before,
            allocated_after: self.vlog.allocated()?,
        })
    }

    /// A consistent copy of the store in the new directory `dest` (see [`Store::snapshot`]).
    ///
    /// Every write holds `appending` (shared) from its value-log append to its sled apply, so
    /// with it held exclusively sled holds exactly the writes made so far, each whole. Under
    /// it every sled entry (the store's own bookkeeping too: format, write-ahead-log
    /// position) is copied into a new sled database in `dest`; writes wait meanwhile (a
    /// copy of sled's entries, not of the whole store: values of 512 bytes and more are in
    /// the value log), reads go on. Then, with writes going on again but compaction kept out,
    /// the value log is copied up to the end it had: appends after it are beyond every
    /// pointer copied, and only compaction changes bytes below it. `dest` gets an empty
    /// write-ahead log: every frame is in sled's entries already.
    ///
    /// sled's own files are not copied: they change while the store is open (sled flushes,
    /// cleans segments and may consolidate pages on reads), so a file copy could be torn.
    pub fn snapshot_into(&self, dest: &Path) -> Result<(), StoreError> {
        self.check_running()?;
        match fs::symlink_metadata(dest) {
            Ok(_) => {
                return Err(StoreError::Io {
                    detail: format!("{} already exists", dest.display()),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(map_io(e, dest)),
        }
        fs::DirBuilder::new()
            .mode(DIR_MODE)
            .create(dest)
            .map_err(|e| map_io(e, dest))?;
        let copy = sled_config(dest).open().map_err(|e| map_sled(e, dest))?;
        let _m = self.maintenance.lock().map_err(|_| poisoned())?;
        let end = {
            let _all = self.appending.write().map_err(|_| poisoned())?;
            let mut batch = sled::Batch::default();
            let mut in_batch = 0usize;
            for item in self.db.iter() {
                let (k, v) = item.map_err(|e| self.err(e))?;
                batch.insert(k, v);
                in_batch += 1;
                if in_batch == 4096 {
                    copy.apply_batch(std::mem::take(&mut batch))
                        .map_err(|e| map_sled(e, dest))?;
                    in_batch = 0;
                }
            }
            copy.apply_batch(batch).map_err(|e| map_sled(e, dest))?;
            self.vlog.end()
        };
        copy.flush().map_err(|e| map_sled(e, dest))?;
        drop(copy);
        self.vlog.copy_to(&dest.join(VLOG_FILE), end)?;
        drop(_m);
        // An empty write-ahead log, and sled's lock released before anyone reads the copy.
        crate::sled_store::wait_closed(dest)?;
        let (wal, _) = Wal::open(dest)?;
        drop(wal);
        tighten_modes(dest)?;
        open_nofollow(dest, true)?.sync_all().map_err(|e| map_io(e, dest))?;
        Ok(())
    }

    /// Applies the write-ahead-log frames sled lost in a crash (those after the last one it
    /// holds), makes sled durable and empties the log.
    fn recover(&self, frames: Vec<crate::wal::Frame>) -> Result<(), StoreError> {
        let applied = match self.db.get(WAL_SEQ_KEY).map_err(|e| self.err(e))? {
            None => 0,
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                detail: format!("{}: the write-ahead-log position is not 8 bytes", self.path.display()),
            })?),
        };
        // First the value log: every value a logged frame placed there goes back at its
        // offset (the frames sled holds too: a power loss may have taken their unsynced bytes
        // while sled kept the pointers).
        self.vlog.restore(frames.iter().flat_map(|f| {
            f.ops.iter().zip(&f.placed).filter_map(|(op, at)| match (op, at) {
                (Op::Put { value, .. }, Some(at)) => Some((*at, value.as_slice())),
                _ => None,
            })
        }))?;
        let mut next = applied + 1;
        for f in frames {
            next = next.max(f.seq + 1);
            if f.seq > applied {
                let mut sb = sled_batch(f.ops, &f.placed);
                sb.insert(WAL_SEQ_KEY, &f.seq.to_be_bytes());
                self.db.apply_batch(sb).map_err(|e| self.err(e))?;
            }
        }
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        w.1 = next;
        if w.0.len() > 0 {
            self.flush_locked(&mut w)?;
        }
        Ok(())
    }

    fn err(&self, e: sled::Error) -> StoreError {
        map_sled(e, &self.path)
    }

    fn scan(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_> {
        let Some(span) = Span::new(tree, prefix, after) else {
            return Box::new(std::iter::empty());
        };
        Box::new(self.db.range(span.bounds()).filter_map(move |item| match item {
            Ok((k, v)) => match (untag(tree, &k), self.resolve_fresh(tree, &k, &v)) {
                (Ok(key), Ok(Some(value))) => Some(Ok((key, value))),
                // Deleted since the scan read it: as if read after.
                (Ok(_), Ok(None)) => None,
                (Err(e), _) | (_, Err(e)) => Some(Err(e)),
            },
            Err(e) => Some(Err(self.err(e))),
        }))
    }
}

impl Store for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = tagged(tree, key);
        match self.db.get(&key).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(stored) => self.resolve_fresh(tree, &key, &stored),
        }
    }

    fn contains(&self, tree: Tree, key: &[u8]) -> Result<bool, StoreError> {
        self.db.contains_key(tagged(tree, key)).map_err(|e| self.err(e))
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
        match self.db.range(span.bounds()).next_back() {
            None => Ok(None),
            Some(Err(e)) => Err(self.err(e)),
            Some(Ok((k, v))) => Ok(Some((untag(tree, &k)?, self.resolve(tree, &k, &v)?))),
        }
    }

    fn count_prefix(&self, tree: Tree, prefix: &[u8]) -> Result<u64, StoreError> {
        let Some(span) = Span::new(tree, prefix, None) else {
            return Ok(0);
        };
        let mut n: u64 = 0;
        for item in self.db.range(span.bounds()).keys() {
            item.map_err(|e| self.err(e))?;
            n += 1;
        }
        Ok(n)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.check_running()?;
        if batch.is_empty() {
            return Ok(());
        }
        // One sled::Batch on the one sled::Tree: atomic across logical trees. sled keeps the
        // last write per key, matching "the later operation wins". Big values go to the value
        // log in one write, durable before sled sees their pointers.
        let ops = batch.into_ops();
        let _a = self.appending.read().map_err(|_| poisoned())?;
        let placed = self.vlog.append(&ops, true)?;
        self.db.apply_batch(sled_batch(ops, &placed)).map_err(|e| self.err(e))
    }

    /// Big values into the value log without a sync, then one frame (full values and their
    /// value-log offsets) in the write-ahead log and one `fdatasync`, then the batch (with the
    /// frame's sequence number) into sled without a flush. One `fdatasync` per commit, big
    /// values or not. See the `wal` and `vlog` modules.
    fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
        self.check_running()?;
        let (ops, again) = batch.into_ops_marked();
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        let _a = self.appending.read().map_err(|_| poisoned())?;
        let seq = w.1;
        // If the frame fails, these bytes are garbage: nothing points at them.
        let placed = self.vlog.append(&ops, false)?;
        w.0.append_frame(seq, &ops, &placed)?;
        w.1 += 1;
        if let Err(e) = self.apply_frame(seq, ops, placed, &again) {
            // Part of a durable frame is in sled: nothing more may be written (a later
            // frame could reuse its keys, a flush would drop it from the log) until the
            // store is reopened and replays it whole.
            self.halted.store(true, std::sync::atomic::Ordering::SeqCst);
            return Err(e);
        }
        if w.0.len() > WAL_LIMIT {
            self.flush_locked(&mut w)?;
        }
        Ok(())
    }

    fn insert_new(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        self.check_running()?;
        // A big value is appended (durably) first; if the slot is taken, it is garbage.
        let op = Op::Put {
            tree,
            key: key.to_vec(),
            value: value.to_vec(),
        };
        let _a = self.appending.read().map_err(|_| poisoned())?;
        let at = self.vlog.append(std::slice::from_ref(&op), true)?[0];
        let key = tagged(tree, key);
        let stored = crate::vlog::stored(&key, value, at);
        let swapped = self
            .db
            .compare_and_swap(key, None as Option<&[u8]>, Some(stored))
            .map_err(|e| self.err(e))?;
        Ok(swapped.is_ok())
    }

    /// Syncs the value log, flushes sled and empties the write-ahead log (in that order: see
    /// the `vlog` module).
    fn flush(&self) -> Result<(), StoreError> {
        self.check_running()?;
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        self.flush_locked(&mut w)
    }

    fn compact(&self) -> Result<Option<Compaction>, StoreError> {
        self.compact_value_log().map(Some)
    }

    fn snapshot(&self, dest: &Path) -> Result<bool, StoreError> {
        self.snapshot_into(dest).map(|()| true)
    }

    /// sled's files, the write-ahead log and the value log.
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let sled = self.db.size_on_disk().map_err(|e| self.err(e))?;
        let wal_path = self.path.join(WAL_FILE);
        let wal = fs::symlink_metadata(&wal_path).map_err(|e| map_io(e, &wal_path))?.len();
        Ok(sled + wal + self.vlog.file_len()?)
    }
}

/// What [`SledStore::compact_value_log`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Length of the value log it looked at.
    pub log_bytes: u64,
    /// Bytes of live values in it.
    pub live_bytes: u64,
    /// Bytes of the whole dead blocks punched (holes punched by an earlier run again).
    pub punched_bytes: u64,
    /// Bytes the file system held for the log before.
    pub allocated_before: u64,
    /// Bytes the file system holds for the log after.
    pub allocated_after: u64,
}

impl SledStore {
    /// Refuses to write once a durable frame was applied only in part (see `halted`).
    fn check_running(&self) -> Result<(), StoreError> {
        if self.halted.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Io {
                detail: format!(
                    "{}: an earlier durable write reached the write-ahead log but failed part-way into \
                     the database; nothing more is written until the store is reopened, which replays it",
                    self.path.display()
                ),
            });
        }
        Ok(())
    }

    #[cfg(test)]
    fn maybe_fail(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        match self.fail_after.load(SeqCst) {
            0 => Ok(()),
            1 => Err(StoreError::Io {
                detail: "injected failure".into(),
            }),
            n => {
                self.fail_after.store(n - 1, SeqCst);
                Ok(())
            }
        }
    }

    /// A durable frame's operations into sled (the caller holds the write-ahead log's lock).
    /// `again[i]`: op `i` came from [`Batch::put_again`]; it is skipped when sled holds that
    /// exact entry already (the frame still carries it, for a replay after a crash).
    fn apply_frame(&self, seq: u64, ops: Vec<Op>, placed: Vec<Option<u64>>, again: &[bool]) -> Result<(), StoreError> {
        // Under the lock: sled receives the frames in sequence order. The frame is durable,
        // so a crash part-way through is repaired by replaying it whole (`recover`). Entry
        // by entry, not one sled batch: a sled batch takes a process-wide write lock that
        // stalls every concurrent read for its whole length (`bench query`: ≈ 15% of the
        // throughput). What says what is published — `Meta` and `Checkpoints` — changes
        // last, in one batch with the frame's sequence number (see `Store::apply_durable`).
        let mut publish = Vec::new();
        let mut publish_placed = Vec::new();
        for (i, (op, at)) in ops.into_iter().zip(placed).enumerate() {
            let tree = match &op {
                Op::Put { tree, .. } | Op::Delete { tree, .. } => *tree,
            };
            if matches!(tree, Tree::Meta | Tree::Checkpoints) {
                publish.push(op);
                publish_placed.push(at);
                continue;
            }
            let (key, stored) = sled_entry(op, at);
            if again.get(i) == Some(&true)
                && let Some(stored) = &stored
                && self.db.get(&key).map_err(|e| self.err(e))?.as_deref() == Some(&stored[..])
            {
                continue;
            }
            #[cfg(test)]
            self.maybe_fail()?;
            match stored {
                Some(stored) => self.db.insert(key, stored).map(drop),
                None => self.db.remove(key).map(drop),
            }
            .map_err(|e| self.err(e))?;
        }
        let mut sb = sled_batch(publish, &publish_placed);
        sb.insert(WAL_SEQ_KEY, &seq.to_be_bytes());
        self.db.apply_batch(sb).map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// A batch's operations as one sled batch: tagged keys, values inline or as pointers to where
/// `placed` says the value log holds them.
fn sled_batch(ops: Vec<Op>, placed: &[Option<u64>]) -> sled::Batch {
    let mut sb = sled::Batch::default();
    for (i, op) in ops.into_iter().enumerate() {
        match sled_entry(op, placed.get(i).copied().flatten()) {
            (key, Some(stored)) => sb.insert(key, stored),
            (key, None) => sb.remove(key),
        }
    }
    sb
}

/// One operation as sled holds it: the tagged key and, for a put, the stored value (inline,
/// or a pointer to `at` in the value log); `None` for a delete.
fn sled_entry(op: Op, at: Option<u64>) -> (Vec<u8>, Option<Vec<u8>>) {
    match op {
        Op::Put { tree, key, value } => {
            let key = tagged(tree, &key);
            let stored = crate::vlog::stored(&key, &value, at);
            (key, Some(stored))
        }
        Op::Delete { tree, key } => (tagged(tree, &key), None),
    }
}

/// Checks the format marker. `Ok(true)`: a new, empty database that `create` allows to
/// initialise (the caller writes the marker); `Ok(false)`: a store of this format.
fn check_format(db: &sled::Db, dir: &Path, create: bool) -> Result<bool, StoreError> {
    let err = |e| map_sled(e, dir);
    match db.get(FORMAT_KEY).map_err(err)? {
        Some(v) if v.as_ref() == FORMAT => Ok(false),
        Some(v) if v.as_ref() == FORMAT_V1 => Err(StoreError::Corrupt {
            detail: format!(
                "{} has store format \"1\" (every value in sled, before the value log), this build \
                 reads only format \"2\" and has no converter: keep using the release that wrote \
                 it, or create a new store with this build and ingest again",
                dir.display()
            ),
        }),
        Some(v) => Err(StoreError::Corrupt {
            detail: format!(
                "{} has store format {:?}, this build reads format {:?}",
                dir.display(),
                String::from_utf8_lossy(&v),
                String::from_utf8_lossy(FORMAT)
            ),
        }),
        None if create && db.is_empty() => Ok(true),
        None if db.is_empty() => Err(StoreError::Corrupt {
            detail: format!(
                "{} holds an empty sled database without the credseal format marker \
                 (never initialised, or its data was lost)",
                dir.display()
            ),
        }),
        None => Err(StoreError::Corrupt {
            detail: format!(
                "{} is a sled database but not a credseal store (no format marker)",
                dir.display()
            ),
        }),
    }
}

fn poisoned() -> StoreError {
    StoreError::Io {
        detail: "a writer panicked while holding the write-ahead log".into(),
    }
}

/// The text of a caught panic, when it is a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "panic without a message"
    }
}

/// Maps a sled error to a [`StoreError`] for the store at `path`.
fn map_sled(e: sled::Error, path: &Path) -> StoreError {
    match e {
        sled::Error::Io(io) => map_io(io, path),
        sled::Error::Corruption { at, .. } => StoreError::Corrupt {
            detail: format!("sled found corrupt data in {} (at {at:?})", path.display()),
        },
        // At open, "Unsupported" is sled refusing the on-disk config (other version or segment
        // size); at run time it is a misuse we do not make. Either way the files are not usable.
        sled::Error::Unsupported(msg) => StoreError::Corrupt {
            detail: format!("sled cannot use {}: {msg}", path.display()),
        },
        sled::Error::ReportableBug(msg) => StoreError::Io {
            detail: format!("sled internal error on {}: {msg}", path.display()),
        },
        other => StoreError::Io {
            detail: format!("sled error on {}: {other}", path.display()),
        },
    }
}

/// Opens one of the store's own files for reading and writing, creating it (mode 0600) if
/// absent and keeping what it holds (the write-ahead log, the value log).
///
/// The last component is never followed if it is a symbolic link (`O_NOFOLLOW`): a link
/// planted there is refused as [`StoreError::Corrupt`] before anything is read or written.
/// The opened file must be a regular file with one hard link (another name for the same file
/// could be any file of the platform); an existing file that its group or others may read
/// is made private (its group and other bits cleared).
pub(crate) fn open_store_file(path: &Path) -> Result<fs::File, StoreError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| map_open_err(e, path))?;
    let meta = file.metadata().map_err(|e| map_io(e, path))?;
    check_file_meta(path, &meta)?;
    if meta.mode() & OTHERS != 0 {
        file.set_permissions(fs::Permissions::from_mode(meta.mode() & OWNER))
            .map_err(|e| map_io(e, path))?;
    }
    Ok(file)
}

/// Opens `path` read-only without following a symbolic link in its last component; `dir`:
/// it must be a directory (`O_DIRECTORY`).
pub(crate) fn open_nofollow(path: &Path, dir: bool) -> Result<fs::File, StoreError> {
    let flags = if dir {
        libc::O_NOFOLLOW | libc::O_DIRECTORY
    } else {
        libc::O_NOFOLLOW
    };
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| map_open_err(e, path))
}

/// Mode of every file the store creates: its owner reads and writes it, nobody else.
const FILE_MODE: u32 = 0o600;
/// Mode of every directory the store creates.
const DIR_MODE: u32 = 0o700;
/// The owner's permission bits.
const OWNER: u32 = 0o700;
/// Group and others' permission bits.
const OTHERS: u32 = 0o077;
/// Group and others' write bits: a store directory with one of them is refused.
const OTHERS_WRITE: u32 = 0o022;
/// sled's directory of pages too big for a log segment (sled 0.34, `blobs/<id>`).
const SLED_BLOBS_DIR: &str = "blobs";
/// sled's configuration file.
const SLED_CONF_FILE: &str = "conf";

/// An error of an open with `O_NOFOLLOW`: a symbolic link in the last component (`ELOOP` on
/// Linux and macOS; checked with `symlink_metadata` too, for systems that report it otherwise)
/// is [`symlink_refused`]; anything else goes through [`map_io`].
fn map_open_err(e: io::Error, path: &Path) -> StoreError {
    let is_link =
        e.raw_os_error() == Some(libc::ELOOP) || fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        symlink_refused(path)
    } else {
        map_io(e, path)
    }
}

/// The error for a symbolic link found at `path` in the store directory: tampering, not a
/// usage error ([`StoreError::Corrupt`]).
fn symlink_refused(path: &Path) -> StoreError {
    let target = fs::read_link(path)
        .map(|t| format!(" (to {})", t.display()))
        .unwrap_or_default();
    StoreError::Corrupt {
        detail: format!(
            "{} is a symbolic link{target}: the store never follows one in its directory (a planted \
             link would make it overwrite the file it points to); nothing was written through it. \
             Remove the link and put the store's own file back",
            path.display()
        ),
    }
}

/// Refuses a store file that is not a regular file or has more than one hard link.
fn check_file_meta(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(symlink_refused(path));
    }
    if !ft.is_file() {
        return Err(StoreError::Corrupt {
            detail: format!(
                "{} is not a regular file ({}): the store refuses to use it",
                path.display(),
                kind_of(&ft)
            ),
        });
    }
    if meta.nlink() > 1 {
        return Err(StoreError::Corrupt {
            detail: format!(
                "{} has {} hard links: the store's files have one (another name for it may be \
                 another file of the platform, which the store would overwrite); the store refuses to use it",
                path.display(),
                meta.nlink()
            ),
        });
    }
    Ok(())
}

/// A file type in words, for errors.
fn kind_of(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a named pipe"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Checks the store directory itself (its `symlink_metadata`): not a symbolic link, a
/// directory, and not writable by its group or others.
fn check_dir(dir: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    if meta.file_type().is_symlink() {
        return Err(symlink_refused(dir));
    }
    if !meta.is_dir() {
        return Err(StoreError::Io {
            detail: format!("{} is not a directory", dir.display()),
        });
    }
    if meta.mode() & OTHERS_WRITE != 0 {
        return Err(StoreError::Insecure {
            path: dir.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    Ok(())
}

/// Checks every entry of the store directory before sled or the store opens anything in it:
/// no entry is a symbolic link, and the files sled and the store open (`db`, which also
/// carries sled's lock, `conf`, `snap.*`, everything in `blobs/`, the write-ahead log and
/// the value log) are regular files with one hard link. Nothing is followed or opened.
fn check_entries(dir: &Path) -> Result<(), StoreError> {
    let entries = |d: &Path| fs::read_dir(d).map_err(|e| map_io(e, d));
    for entry in entries(dir)? {
        let entry = entry.map_err(|e| map_io(e, dir))?;
        let path = entry.path();
        // `DirEntry::metadata` does not follow a symbolic link. This runs before sled's lock
        // is taken: a process that holds it may replace a snapshot file between the listing
        // and this look, and an entry gone meanwhile has nothing left to check.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(map_io(e, &path)),
        };
        if meta.file_type().is_symlink() {
            return Err(symlink_refused(&path));
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == SLED_BLOBS_DIR {
            if !meta.is_dir() {
                return Err(StoreError::Corrupt {
                    detail: format!(
                        "{} is {}, not sled's directory",
                        path.display(),
                        kind_of(&meta.file_type())
                    ),
                });
            }
            for blob in entries(&path)? {
                let blob = blob.map_err(|e| map_io(e, &path))?;
                let meta = match blob.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(map_io(e, &blob.path())),
                };
                check_file_meta(&blob.path(), &meta)?;
            }
        } else if name == SLED_DB_FILE
            || name == SLED_CONF_FILE
            || name == WAL_FILE
            || name == VLOG_FILE
            || name.starts_with("snap.")
        {
            check_file_meta(&path, &meta)?;
        }
    }
    Ok(())
}

/// Makes the store directory, sled's `blobs/` and every regular file in them private: the
/// group and other permission bits are cleared (never added to), through a handle opened
/// without following a symbolic link. Run after sled's open, which creates its files with
/// its own modes; a symbolic link found now (planted since [`check_entries`]) is refused.
fn tighten_modes(dir: &Path) -> Result<(), StoreError> {
    tighten(dir, true)?;
    for entry in fs::read_dir(dir).map_err(|e| map_io(e, dir))? {
        let entry = entry.map_err(|e| map_io(e, dir))?;
        let ft = entry.file_type().map_err(|e| map_io(e, &entry.path()))?;
        if ft.is_symlink() {
            return Err(symlink_refused(&entry.path()));
        }
        if ft.is_dir() && entry.file_name() == SLED_BLOBS_DIR {
            let blobs = entry.path();
            tighten(&blobs, true)?;
            for blob in fs::read_dir(&blobs).map_err(|e| map_io(e, &blobs))? {
                let blob = blob.map_err(|e| map_io(e, &blobs))?;
                let ft = blob.file_type().map_err(|e| map_io(e, &blob.path()))?;
                if ft.is_symlink() {
                    return Err(symlink_refused(&blob.path()));
                }
                if ft.is_file() {
                    tighten(&blob.path(), false)?;
                }
            }
        } else if ft.is_file() {
            tighten(&entry.path(), false)?;
        }
    }
    Ok(())
}

/// Clears the group and other permission bits of `path` if any is set (`dir`: a directory).
fn tighten(path: &Path, dir: bool) -> Result<(), StoreError> {
    let meta = fs::symlink_metadata(path).map_err(|e| map_io(e, path))?;
    if meta.mode() & OTHERS == 0 {
        return Ok(());
    }
    let f = open_nofollow(path, dir)?;
    let meta = f.metadata().map_err(|e| map_io(e, path))?;
    f.set_permissions(fs::Permissions::from_mode(meta.mode() & OWNER))
        .map_err(|e| map_io(e, path))
}

/// Maps an I/O error by kind; sled reports a held lock as `ErrorKind::Other` with the message
/// "could not acquire lock on ...", which is recognised too.
pub(crate) fn map_io(e: io::Error, path: &Path) -> StoreError {
    let path_buf = path.to_path_buf();
    match e.kind() {
        io::ErrorKind::NotFound => StoreError::NotFound { path: path_buf },
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => StoreError::ReadOnly { path: path_buf },
        io::ErrorKind::WouldBlock => StoreError::Locked { path: path_buf },
        _ if e.to_string().contains("could not acquire lock") => StoreError::Locked { path: path_buf },
        _ => StoreError::Io {
            detail: format!("{}: {e}", path.display()),
        },
    }
}

/// How long [`wait_closed`] waits for sled to let go of a database it was told to close.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits until no handle holds the sled database in `dir` (sled releases its lock on `db` a
/// moment after the last handle drops, when its background threads end), so that its files
/// no longer change: [`StoreError::Locked`] if it is still held after a while (another
/// process has it open).
pub fn wait_closed(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join(SLED_DB_FILE);
    let db = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| map_open_err(e, &path))?;
    let started = std::time::Instant::now();
    loop {
        if db.try_lock().is_ok() {
            let _ = db.unlock();
            return Ok(());
        }
        if started.elapsed() > CLOSE_WAIT {
            return Err(StoreError::Locked { path });
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// sled 0.34 writes a snapshot as `snap.<lsn>.generating` and renames it when complete; a
/// process killed in between leaves the partial file, which the next open reads as the
/// newest snapshot and reports as corruption (sled issues #1527, #1533). No data is in it:
/// the log it summarises is intact. Remove such leftovers, but only while no other process
/// has the database open (we hold an exclusive lock on its `db` file meanwhile, and release
/// it before sled takes its own). Returns whether it removed any.
///
/// `db` is opened without following a symbolic link (and only if it is a regular file); a
/// leftover is removed with `unlink`, which removes a link itself, never its target.
fn remove_unfinished_snapshots(dir: &Path) -> bool {
    let Ok(db) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(SLED_DB_FILE))
    else {
        return false;
    };
    if !db.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    if db.try_lock().is_err() {
        return false;
    }
    let mut removed = false;
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snap.") && name.ends_with(".generating") {
                removed |= fs::remove_file(e.path()).is_ok();
            }
        }
    }
    let _ = db.unlock();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::encode_frame;

    #[test]
    fn lock_message_maps_to_locked() {
        let e = io::Error::other("could not acquire lock on \"/x/db\": Os { code: 11, kind: WouldBlock }");
        assert!(matches!(map_io(e, Path::new("/x")), StoreError::Locked { .. }));
    }

    #[test]
    fn io_kinds_map_to_variants() {
        let p = Path::new("/x");
        let kind = |k| map_io(io::Error::from(k), p);
        assert!(matches!(kind(io::ErrorKind::NotFound), StoreError::NotFound { .. }));
        assert!(matches!(
            kind(io::ErrorKind::PermissionDenied),
            StoreError::ReadOnly { .. }
        ));
        assert!(matches!(
            kind(io::ErrorKind::ReadOnlyFilesystem),
            StoreError::ReadOnly { .. }
        ));
        assert!(matches!(kind(io::ErrorKind::WouldBlock), StoreError::Locked { .. }));
        assert!(matches!(kind(io::ErrorKind::StorageFull), StoreError::Io { .. }));
    }

    fn put(tree: Tree, k: &[u8], v: &[u8]) -> Batch {
        let mut b = Batch::new();
        b.put(tree, k.to_vec(), v.to_vec());
        b
    }

    #[test]
    fn a_frame_sled_lost_is_applied_at_open_and_an_applied_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        s.apply_durable(put(Tree::LogLeaves, b"a", b"1")).unwrap(); // frame 1
        s.apply(put(Tree::LogLeaves, b"a", b"2")).unwrap(); // later plain write
        s.flush().unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(crate::wal::WAL_FILE)).unwrap().len(),
            0
        );
        drop(s);
        // As if the process died after frame 1 (already in sled) was logged again, and after
        // frame 2 reached the log but not sled.
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(1, &put(Tree::LogLeaves, b"a", b"stale").into_ops(), &[]))
            .unwrap();
        w.append(&encode_frame(2, &put(Tree::LogLeaves, b"b", b"3").into_ops(), &[]))
            .unwrap();
        drop(w);
        let s = SledStore::open(dir.path(), false).unwrap();
        assert_eq!(s.get(Tree::LogLeaves, b"a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(s.get(Tree::LogLeaves, b"b").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(
            std::fs::metadata(dir.path().join(crate::wal::WAL_FILE)).unwrap().len(),
            0
        );
        // Sequence numbers go on after the recovered frames.
        s.apply_durable(put(Tree::LogLeaves, b"c", b"4")).unwrap();
        assert_eq!(s.wal.lock().unwrap().1, 4);
    }

    #[test]
    fn durable_batches_publish_meta_and_checkpoints_after_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut seen = 0u64;
                loop {
                    // One last read after the writer is done: it sees the final size.
                    let last = done.load(std::sync::atomic::Ordering::SeqCst);
                    if let Some(v) = s.get(Tree::Meta, b"size").unwrap() {
                        let n = u64::from_be_bytes(v.try_into().unwrap());
                        let k = n.to_be_bytes();
                        // Whatever the size says is published is all there.
                        assert!(s.get(Tree::LogLeaves, &k).unwrap().is_some(), "leaf {n}");
                        assert_eq!(
                            s.get(Tree::Records, &k).unwrap(),
                            Some(vec![n as u8; 600]),
                            "record {n}"
                        );
                        assert!(s.get(Tree::Checkpoints, &k).unwrap().is_some(), "checkpoint {n}");
                        seen = seen.max(n);
                    }
                    if last {
                        break seen;
                    }
                }
            });
            for n in 1..=300u64 {
                let k = n.to_be_bytes();
                let mut b = Batch::new();
                // Meta first in the batch: the order inside the batch does not matter.
                b.put(Tree::Meta, b"size".to_vec(), k.to_vec());
                b.put(Tree::Checkpoints, k.to_vec(), vec![1; 40]);
                b.put(Tree::LogLeaves, k.to_vec(), vec![2; 100]);
                b.put(Tree::Records, k.to_vec(), vec![n as u8; 600]);
                s.apply_durable(b).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(reader.join().unwrap(), 300);
        });
    }

    #[test]
    fn a_durable_frame_that_fails_part_way_into_sled_halts_writes_and_is_replayed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        s.apply_durable(put(Tree::LogLeaves, b"a", b"1")).unwrap();
        let mut b = Batch::new();
        for i in 0..10u8 {
            b.put(Tree::LogLeaves, vec![b'k', i], vec![i; 50]);
        }
        b.put(Tree::Meta, b"size".to_vec(), vec![10]);
        // The fourth sled write fails: three of the ten entries are in sled.
        s.fail_after.store(4, std::sync::atomic::Ordering::SeqCst);
        assert!(s.apply_durable(b).is_err());
        assert!(s.get(Tree::LogLeaves, &[b'k', 2]).unwrap().is_some());
        assert!(s.get(Tree::LogLeaves, &[b'k', 3]).unwrap().is_none());
        assert_eq!(s.get(Tree::Meta, b"size").unwrap(), None, "nothing published");
        // Every write and the flush are refused, with a message that says why.
        for r in [
            s.apply(put(Tree::LogLeaves, b"x", b"1")),
            s.apply_durable(put(Tree::LogLeaves, b"x", b"1")),
            s.insert_new(Tree::Replay, b"x", b"1").map(|_| ()),
            s.flush(),
        ] {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("failed part-way") && e.contains("reopened"), "{e}");
        }
        assert!(s.get(Tree::LogLeaves, b"x").unwrap().is_none());
        drop(s);
        // Reopening replays the frame whole.
        let s = SledStore::open(dir.path(), false).unwrap();
        for i in 0..10u8 {
            assert_eq!(s.get(Tree::LogLeaves, &[b'k', i]).unwrap(), Some(vec![i; 50]));
        }
        assert_eq!(s.get(Tree::Meta, b"size").unwrap(), Some(vec![10]));
        s.apply_durable(put(Tree::LogLeaves, b"x", b"1")).unwrap();
    }

    #[test]
    fn put_again_skips_an_entry_sled_holds_writes_any_other_and_logs_them_all() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        assert!(s.insert_new(Tree::Replay, b"q1", b"v").unwrap());
        s.apply(put(Tree::Replay, b"q3", b"old")).unwrap();
        let mut b = Batch::new();
        b.put_again(Tree::Replay, b"q1".to_vec(), b"v".to_vec()); // held: skipped
        b.put_again(Tree::Replay, b"q2".to_vec(), b"w".to_vec()); // absent: written
        b.put_again(Tree::Replay, b"q3".to_vec(), b"x".to_vec()); // different: written
        b.put(Tree::LogLeaves, b"l".to_vec(), b"1".to_vec());
        // Room for exactly three sled writes: a fourth fails the batch.
        s.fail_after.store(4, SeqCst);
        s.apply_durable(b).unwrap();
        assert_eq!(s.fail_after.load(SeqCst), 1, "three writes: the held entry was skipped");
        s.fail_after.store(0, SeqCst);
        let expect = [
            (Tree::Replay, &b"q1"[..], &b"v"[..]),
            (Tree::Replay, b"q2", b"w"),
            (Tree::Replay, b"q3", b"x"),
            (Tree::LogLeaves, b"l", b"1"),
        ];
        for (t, k, v) in expect {
            assert_eq!(s.get(t, k).unwrap().as_deref(), Some(v));
        }
        drop(s);
        // The frame carries every op, the skipped one too, for a replay after a crash.
        let (_, frames) = Wal::open(dir.path()).unwrap();
        let logged: Vec<_> = frames
            .last()
            .unwrap()
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { tree, key, value } => (*tree, key.clone(), value.clone()),
                Op::Delete { .. } => panic!("no deletes were written"),
            })
            .collect();
        let want: Vec<_> = expect.iter().map(|(t, k, v)| (*t, k.to_vec(), v.to_vec())).collect();
        assert_eq!(logged, want);
        let s = SledStore::open(dir.path(), false).unwrap();
        for (t, k, v) in expect {
            assert_eq!(s.get(t, k).unwrap().as_deref(), Some(v));
        }
    }

    /// An unfinished snapshot left by the lock's holder while we wait for the lock (it was
    /// killed while writing one) is removed before sled reads it.
    #[test]
    fn an_unfinished_snapshot_left_while_waiting_for_the_lock_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let first = SledStore::open(dir.path(), true).unwrap();
        first.apply_durable(put(Tree::LogLeaves, b"a", b"1")).unwrap();
        first.flush().unwrap();
        drop(first);
        // sled writes a snapshot when it opens.
        let holder = SledStore::open(dir.path(), false).unwrap();
        let newest = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                let lsn = u64::from_str_radix(p.file_name()?.to_str()?.strip_prefix("snap.")?, 16).ok()?;
                Some((lsn, p))
            })
            .max();
        let (lsn, snap) = newest.expect("sled has written a snapshot");
        let partial = fs::read(&snap).unwrap();
        let stale = dir.path().join(format!("snap.{:016X}.generating", lsn + (1 << 20)));
        std::thread::scope(|s| {
            let waiter = s.spawn(|| SledStore::open(dir.path(), false));
            // The waiter is past its first removal and retrying the lock when the holder dies
            // half-way through a snapshot.
            std::thread::sleep(std::time::Duration::from_millis(200));
            fs::write(&stale, &partial[..partial.len() / 2]).unwrap();
            drop(holder);
            let s = waiter.join().unwrap().unwrap();
            assert_eq!(s.get(Tree::LogLeaves, b"a").unwrap().as_deref(), Some(&b"1"[..]));
        });
        assert!(!stale.exists(), "the unfinished snapshot was removed");
    }

    #[test]
    fn durable_batches_are_logged_until_sled_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        for i in 0..50u8 {
            s.apply_durable(put(Tree::Checkpoints, &[i], &[i; 40])).unwrap();
        }
        let logged = std::fs::metadata(dir.path().join(crate::wal::WAL_FILE)).unwrap().len();
        assert!(
            logged > 50 * 40,
            "every durable batch is in the log until sled is flushed"
        );
        drop(s);
        let s = SledStore::open(dir.path(), false).unwrap();
        for i in 0..50u8 {
            assert_eq!(s.get(Tree::Checkpoints, &[i]).unwrap(), Some(vec![i; 40]));
        }
    }

    fn vlog_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(VLOG_FILE)).unwrap().len()
    }

    fn truncate_vlog(dir: &Path, len: u64) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(VLOG_FILE))
            .unwrap();
        f.set_len(len).unwrap();
    }

    #[test]
    fn a_lost_frame_with_big_values_is_recovered_through_the_value_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        s.apply_durable(put(Tree::Records, b"a", &[1; 2_000])).unwrap(); // frame 1
        assert_eq!(
            vlog_len(dir.path()),
            2_000,
            "a durable batch's big value is in the value log"
        );
        s.flush().unwrap();
        drop(s);
        // As if the process died after frame 2 (a big value placed at byte 2000 of the value
        // log, a small one and a delete) reached the write-ahead log but not sled, and a power
        // loss took the value log's unsynced bytes.
        let mut frame = put(Tree::Records, b"b", &[2; 3_000]);
        frame.put(Tree::LogLeaves, b"c".to_vec(), vec![3; 100]);
        frame.delete(Tree::Records, b"a".to_vec());
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(2, &frame.into_ops(), &[Some(2_000), None, None]))
            .unwrap();
        drop(w);
        let s = SledStore::open(dir.path(), false).unwrap();
        assert_eq!(s.get(Tree::Records, b"b").unwrap(), Some(vec![2; 3_000]));
        assert_eq!(s.get(Tree::LogLeaves, b"c").unwrap(), Some(vec![3; 100]));
        assert_eq!(s.get(Tree::Records, b"a").unwrap(), None);
        assert_eq!(
            vlog_len(dir.path()),
            5_000,
            "the value is back where the frame placed it"
        );
        let usage = s.value_log_usage().unwrap();
        assert_eq!((usage.values, usage.live_bytes, usage.dead_bytes()), (1, 3_000, 2_000));
        assert_eq!(
            std::fs::metadata(dir.path().join(WAL_FILE)).unwrap().len(),
            0,
            "recovered and flushed"
        );
        // Appends go on after the restored bytes.
        s.apply(put(Tree::Records, b"d", &[4; 700])).unwrap();
        assert_eq!(vlog_len(dir.path()), 5_700);
        assert_eq!(s.get(Tree::Records, b"b").unwrap(), Some(vec![2; 3_000]));
    }

    #[test]
    fn durable_values_a_power_loss_took_from_the_value_log_come_back_from_the_frame() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        s.apply(put(Tree::Records, b"synced", &[5; 1_000])).unwrap();
        let mut b = put(Tree::Fingerprints, b"f", &[6; 1_500]);
        b.put(Tree::LogLeaves, b"leaf".to_vec(), vec![7; 280]);
        s.apply_durable(b).unwrap();
        // sled makes the pointer durable on its own (here: on drop); the write-ahead log
        // keeps the frame until the next flush().
        drop(s);
        assert!(std::fs::metadata(dir.path().join(WAL_FILE)).unwrap().len() > 1_500);
        // The power loss: the value log's unsynced tail is gone.
        truncate_vlog(dir.path(), 1_000);
        let s = SledStore::open(dir.path(), false).unwrap();
        assert_eq!(s.get(Tree::Fingerprints, b"f").unwrap(), Some(vec![6; 1_500]));
        assert_eq!(s.get(Tree::LogLeaves, b"leaf").unwrap(), Some(vec![7; 280]));
        assert_eq!(s.get(Tree::Records, b"synced").unwrap(), Some(vec![5; 1_000]));
        assert_eq!(vlog_len(dir.path()), 2_500);
        // Without the frame (after a flush emptied the log) such a loss is reported, not hidden.
        s.flush().unwrap();
        drop(s);
        truncate_vlog(dir.path(), 1_000);
        let s = SledStore::open(dir.path(), false).unwrap();
        let err = s.get(Tree::Fingerprints, b"f").unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt { detail } if detail.contains("fingerprints") && detail.contains("shorter")),
            "{err}"
        );
    }

    #[test]
    fn durable_big_values_survive_a_reopen_without_flush() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        for i in 0..20u8 {
            let mut b = put(Tree::Checkpoints, &[i], &vec![i; 300 + 50 * usize::from(i)]);
            b.put(Tree::Records, vec![i], vec![i; 10]);
            s.apply_durable(b).unwrap();
        }
        drop(s);
        let s = SledStore::open(dir.path(), false).unwrap();
        for i in 0..20u8 {
            assert_eq!(
                s.get(Tree::Checkpoints, &[i]).unwrap(),
                Some(vec![i; 300 + 50 * usize::from(i)])
            );
            assert_eq!(s.get(Tree::Records, &[i]).unwrap(), Some(vec![i; 10]));
        }
        // Values of 512 bytes and more: i = 5 (550) ..= 19 (1250).
        assert_eq!(vlog_len(dir.path()), (5..20u64).map(|i| 300 + 50 * i).sum::<u64>());
    }

    #[test]
    fn size_on_disk_counts_the_value_log_and_the_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path(), true).unwrap();
        s.flush().unwrap();
        let before = s.size_on_disk().unwrap();
        s.apply(put(Tree::Records, b"big", &[7; 1 << 20])).unwrap();
        s.apply_durable(put(Tree::LogLeaves, b"k", &[1; 200])).unwrap();
        let wal = std::fs::metadata(dir.path().join(WAL_FILE)).unwrap().len();
        assert!(wal > 200);
        assert!(s.size_on_disk().unwrap() >= before + (1 << 20) + wal);
    }

    #[test]
    fn sled_corruption_maps_to_corrupt() {
        let e = sled::Error::Corruption { at: None, bt: () };
        assert!(matches!(map_sled(e, Path::new("/x")), StoreError::Corrupt { .. }));
    }
}
