//! [`SledStore`]: the embedded on-disk backend (sled 0.34).
//!
//! # Layout
//!
//! All logical trees live in sled's default `sled::Tree`; every key is stored as
//! `tag(tree) || key` (see [`Tree::tag`]). sled batches are atomic per `sled::Tree` only, so
//! keeping one sled tree is what lets a [`Batch`] spanning several logical trees be applied
//! atomically with one `apply_batch` — cheaper than a multi-tree `transaction` and without its
//! flush stalls (MEASURED.md, sled section).
//!
//! Tag `0` is reserved for the store's own bookkeeping: the key `0x00 || "credseal-store/format"`
//! holds the format version (`"1"`). It is written and flushed when a store is created; opening a
//! database without it (an empty or foreign sled database, or one whose log sled silently
//! discarded as garbage) fails with [`StoreError::Corrupt`] instead of looking like an empty store.

use std::fs;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use std::sync::Mutex;

use crate::batch::Op;
use crate::keys::{Span, tagged, untag};
use crate::wal::{WAL_LIMIT, Wal, encode_frame};
use crate::{Batch, KvIter, KvPair, Store, StoreError, Tree};

/// The format marker's key: tag 0, outside every logical tree.
const FORMAT_KEY: &[u8] = b"\x00credseal-store/format";
/// The sequence number of the last write-ahead-log frame applied to sled (u64 BE); tag 0.
const WAL_SEQ_KEY: &[u8] = b"\x00credseal-store/wal-seq";
/// The format this code writes and reads.
const FORMAT_V1: &[u8] = b"1";
/// sled's data file inside the store directory; its presence marks an existing database.
const SLED_DB_FILE: &str = "db";

/// A [`Store`] in a sled database directory.
///
/// sled holds an exclusive lock on the directory's `db` file while the store is open, so a
/// second open — from another process or from this one — fails with [`StoreError::Locked`].
/// Writes become durable on [`Store::flush`] (sled also flushes in the background about every
/// 500 ms).
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    /// The write-ahead log of durable batches, and the next frame's sequence number.
    wal: Mutex<(Wal, u64)>,
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
        if create {
            fs::create_dir_all(dir).map_err(|e| map_io(e, dir))?;
        } else {
            match fs::metadata(dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(StoreError::Io {
                        detail: format!("{} is not a directory", dir.display()),
                    });
                }
                Err(e) => return Err(map_io(e, dir)),
            }
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
        let started = std::time::Instant::now();
        let db = loop {
            match catch_unwind(AssertUnwindSafe(|| config.open())) {
                Ok(Ok(db)) => break db,
                Ok(Err(e)) => {
                    let err = map_sled(e, dir);
                    if matches!(err, StoreError::Locked { .. }) && started.elapsed() < LOCK_WAIT {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        continue;
                    }
                    return Err(err);
                }
                Err(panic) => {
                    return Err(StoreError::Corrupt {
                        detail: format!(
                            "sled failed while recovering {}: {}",
                            dir.display(),
                            panic_message(&*panic)
                        ),
                    });
                }
            }
        };
        let (wal, frames) = Wal::open(dir)?;
        let store = SledStore {
            db,
            path,
            wal: Mutex::new((wal, 0)),
        };
        store.check_format(create)?;
        store.recover(frames)?;
        Ok(store)
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
        let mut next = applied + 1;
        for f in frames {
            next = next.max(f.seq + 1);
            if f.seq > applied {
                self.db.apply_batch(sled_batch(f.ops, f.seq)).map_err(|e| self.err(e))?;
            }
        }
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        w.1 = next;
        if w.0.len() > 0 {
            self.db.flush().map_err(|e| self.err(e))?;
            w.0.reset()?;
        }
        Ok(())
    }

    /// Checks the format marker, writing it into a new, empty database when `create` is set.
    fn check_format(&self, create: bool) -> Result<(), StoreError> {
        match self.db.get(FORMAT_KEY).map_err(|e| self.err(e))? {
            Some(v) if v.as_ref() == FORMAT_V1 => Ok(()),
            Some(v) => Err(StoreError::Corrupt {
                detail: format!(
                    "{} has store format {:?}, this build reads format {:?}",
                    self.path.display(),
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(FORMAT_V1)
                ),
            }),
            None if create && self.db.is_empty() => {
                self.db.insert(FORMAT_KEY, FORMAT_V1).map_err(|e| self.err(e))?;
                self.flush()
            }
            None if self.db.is_empty() => Err(StoreError::Corrupt {
                detail: format!(
                    "{} holds an empty sled database without the credseal format marker \
                     (never initialised, or its data was lost)",
                    self.path.display()
                ),
            }),
            None => Err(StoreError::Corrupt {
                detail: format!(
                    "{} is a sled database but not a credseal store (no format marker)",
                    self.path.display()
                ),
            }),
        }
    }

    fn err(&self, e: sled::Error) -> StoreError {
        map_sled(e, &self.path)
    }

    fn scan(&self, tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'_> {
        let Some(span) = Span::new(tree, prefix, after) else {
            return Box::new(std::iter::empty());
        };
        let path = self.path.clone();
        Box::new(self.db.range(span.bounds()).map(move |item| match item {
            Ok((k, v)) => untag(tree, &k).map(|k| (k, v.to_vec())),
            Err(e) => Err(map_sled(e, &path)),
        }))
    }
}

impl Store for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .db
            .get(tagged(tree, key))
            .map_err(|e| self.err(e))?
            .map(|v| v.to_vec()))
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
            Some(Ok((k, v))) => Ok(Some((untag(tree, &k)?, v.to_vec()))),
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
        if batch.is_empty() {
            return Ok(());
        }
        // One sled::Batch on the one sled::Tree: atomic across logical trees. sled keeps the
        // last write per key, matching "the later operation wins".
        let mut sb = sled::Batch::default();
        for op in batch.into_ops() {
            add_op(&mut sb, op);
        }
        self.db.apply_batch(sb).map_err(|e| self.err(e))
    }

    /// One frame in the write-ahead log and one `fdatasync`, then the batch (with the frame's
    /// sequence number) into sled without a flush. See the `wal` module.
    fn apply_durable(&self, batch: Batch) -> Result<(), StoreError> {
        let ops = batch.into_ops();
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        let seq = w.1;
        w.0.append(&encode_frame(seq, &ops))?;
        w.1 += 1;
        // Under the lock: sled receives the frames in sequence order.
        self.db.apply_batch(sled_batch(ops, seq)).map_err(|e| self.err(e))?;
        if w.0.len() > WAL_LIMIT {
            self.db.flush().map_err(|e| self.err(e))?;
            w.0.reset()?;
        }
        Ok(())
    }

    fn insert_new(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        let swapped = self
            .db
            .compare_and_swap(tagged(tree, key), None as Option<&[u8]>, Some(value))
            .map_err(|e| self.err(e))?;
        Ok(swapped.is_ok())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut w = self.wal.lock().map_err(|_| poisoned())?;
        self.db.flush().map_err(|e| self.err(e))?;
        // sled now holds every frame durably.
        w.0.reset()
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.err(e))
    }
}

fn add_op(sb: &mut sled::Batch, op: Op) {
    match op {
        Op::Put { tree, key, value } => sb.insert(tagged(tree, &key), value),
        Op::Delete { tree, key } => sb.remove(tagged(tree, &key)),
    }
}

/// A frame's operations and its sequence number as one sled batch.
fn sled_batch(ops: Vec<Op>, seq: u64) -> sled::Batch {
    let mut sb = sled::Batch::default();
    for op in ops {
        add_op(&mut sb, op);
    }
    sb.insert(WAL_SEQ_KEY, &seq.to_be_bytes());
    sb
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

/// sled 0.34 writes a snapshot as `snap.<lsn>.generating` and renames it when complete; a
/// process killed in between leaves the partial file, which the next open reads as the
/// newest snapshot and reports as corruption (sled issues #1527, #1533). No data is in it:
/// the log it summarises is intact. Remove such leftovers, but only while no other process
/// has the database open (we hold an exclusive lock on its `db` file meanwhile, and release
/// it before sled takes its own).
fn remove_unfinished_snapshots(dir: &Path) {
    let Ok(db) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(SLED_DB_FILE))
    else {
        return;
    };
    if db.try_lock().is_err() {
        return;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snap.") && name.ends_with(".generating") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let _ = db.unlock();
}

#[cfg(test)]
mod tests {
    use super::*;

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
        w.append(&encode_frame(1, &put(Tree::LogLeaves, b"a", b"stale").into_ops()))
            .unwrap();
        w.append(&encode_frame(2, &put(Tree::LogLeaves, b"b", b"3").into_ops()))
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

    #[test]
    fn sled_corruption_maps_to_corrupt() {
        let e = sled::Error::Corruption { at: None, bt: () };
        assert!(matches!(map_sled(e, Path::new("/x")), StoreError::Corrupt { .. }));
    }
}
