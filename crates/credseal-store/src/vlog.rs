//! The value log behind the sled backend (`credseal.vlog`, store format 2): big values are
//! stored once, in an append-only file, and sled holds a small pointer to them.
//!
//! sled copies a page every time it changes and keeps the old copy until its segment is half
//! dead, so a subject's value of a few KiB costs sled about 2.7× its size on disk (see
//! `credseal bench ingest`). Appended here, it costs its size once (plus garbage when it is
//! later overwritten; see "Garbage" below).
//!
//! # Stored values (every value of a logical tree, in sled)
//!
//! ```text
//! stored  = 0x00 ‖ value                                            (inline, any length)
//!         | 0x01 ‖ offset:u64le ‖ len:u32le ‖ digest (16 bytes)     (pointer, 29 bytes)
//! digest  = SHA-256("credseal-store:v2:vlog" ‖ offset:u64le ‖ len:u32le
//!                   ‖ klen:u32le ‖ stored key ‖ value)[..16]
//! ```
//!
//! The stored key is the tagged sled key (`tag ‖ key`). A pointer names `len` bytes at byte
//! `offset` of the value log. Writers put values of at least [`THRESHOLD`] bytes in the log;
//! readers accept either form at any length. The tag-0 bookkeeping keys (format marker,
//! write-ahead-log position) are not logical-tree values and are stored raw.
//!
//! # Durability: a durable pointer never names bytes that cannot be had back
//!
//! sled writes its log buffers out whenever they fill and flushes in the background, so it
//! may make a pointer durable at any moment after the pointer was applied, before any
//! `flush()`. Hence, per write path:
//!
//! - `apply` and `insert_new`: the batch's big values are appended in ONE write and made
//!   durable with one `fdatasync` BEFORE the sled batch carrying their pointers is applied.
//! - `apply_durable`: the big values are written (not synced), then the write-ahead-log frame,
//!   which holds every value in full and, for each logged one, its offset here, is made
//!   durable with the commit's one `fdatasync`, then sled gets the pointers. If a power loss
//!   takes the unsynced bytes, opening the store writes every logged value of every frame
//!   still in the write-ahead log back at its offset (the same bytes: idempotent) and syncs,
//!   before it re-applies the frames sled lost.
//! - `flush()` syncs this file BEFORE flushing sled and emptying the write-ahead log, so no
//!   frame whose bytes are not durable here is ever dropped.
//!
//! A crash in the middle of an append leaves a torn tail that no pointer names; the file is
//! never truncated, the next append goes after whatever it holds.
//!
//! # Reads
//!
//! A pointer is resolved with one positioned read (`pread`) on a shared read handle, and its
//! digest checked. A pointer past the end of the log (the log lost data, e.g. it was truncated
//! or restored from an older copy), a digest mismatch (the bytes were altered, or the pointer
//! names the wrong place) or a malformed stored value is [`StoreError::Corrupt`] naming the
//! tree; wrong bytes are never returned. The digest is not a MAC: it catches accidents and
//! misdirected pointers; tampering is caught above the store (records are sealed, receipts
//! signed).
//!
//! # Garbage
//!
//! An overwritten or deleted value leaves its bytes in the log. `SledStore::value_log_usage`
//! reports live and dead bytes, and `SledStore::compact_value_log` gives the dead blocks back
//! to the file system without moving anything (holes punched in place, online; see there).
//! Security: erasure relies on destroying keys (threat-model K4), never on deleting stored
//! bytes: a punched block's old contents may survive on the device.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::batch::Op;
use crate::{StoreError, Tree};

/// The file name inside the store directory.
pub(crate) const VLOG_FILE: &str = "credseal.vlog";

/// Values of at least this many bytes go to the value log.
///
/// Measured (`credseal bench ingest` and `bench query`, then the `tree_sizes` example): a
/// subject's value in Records is a few KiB (≈ 4.5 KiB with the example catalogue), and a
/// disclosure's fingerprint set is 36 + 32 bytes a fingerprint (≈ 1.5 KiB for `bench query`'s
/// 7-class grants, 356 bytes for `bench trace`'s 10 fields); every other value is at most
/// ≈ 340 bytes (receipts 280–343, checkpoints ≈ 260, subject-map nodes ≤ 81, hashes 32).
/// 512 moves the subject values, most of the raw bytes and the ones sled rewrites, and leaves
/// the small entries, for which a 29-byte pointer and a second read would save little
/// (threshold 256, which also moves the receipts: 645–651 against 673–678 bytes per record at
/// 20,000 subjects).
pub(crate) const THRESHOLD: usize = 512;

/// Stored-value tags.
const INLINE: u8 = 0x00;
const POINTER: u8 = 0x01;
const DIGEST_LEN: usize = 16;
/// Tag, offset, length, digest.
const POINTER_LEN: usize = 1 + 8 + 4 + DIGEST_LEN;
/// Domain separation of the pointer digest.
const DIGEST_LABEL: &[u8] = b"credseal-store:v2:vlog";

/// The open value log.
#[derive(Debug)]
pub(crate) struct ValueLog {
    path: PathBuf,
    /// The one read handle, shared by every reader (`pread` needs no lock).
    reader: File,
    /// The append handle; the lock serialises appends and syncs.
    writer: Mutex<Writer>,
    /// Bytes a pointer may name: the file's length at open plus every completed append.
    end: AtomicU64,
}

/// The append handle, and whether bytes were written since the last sync.
#[derive(Debug)]
struct Writer {
    file: File,
    unsynced: bool,
    /// The buffer an append gathers its values in, kept between appends (at most
    /// [`SCRATCH_KEEP`] of capacity): a fresh one is fresh pages to fault in every time.
    scratch: Vec<u8>,
}

/// The most buffer capacity the writer keeps between appends.
const SCRATCH_KEEP: usize = 4 << 20;

/// Live and dead bytes of the value log (see `SledStore::value_log_usage`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValueLogUsage {
    /// Length of `credseal.vlog`.
    pub file_bytes: u64,
    /// Values stored in the log.
    pub values: u64,
    /// Bytes named by a pointer in sled (the live values).
    pub live_bytes: u64,
}

impl ValueLogUsage {
    /// Bytes no pointer names: overwritten or deleted values, and a torn tail.
    pub fn dead_bytes(&self) -> u64 {
        self.file_bytes.saturating_sub(self.live_bytes)
    }
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    crate::sled_store::map_io(e, path)
}

/// The stored form of a small value.
fn inline(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 1);
    out.push(INLINE);
    out.extend_from_slice(value);
    out
}

fn digest(offset: u64, len: u32, key: &[u8], value: &[u8]) -> [u8; DIGEST_LEN] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(DIGEST_LABEL);
    ctx.update(&offset.to_le_bytes());
    ctx.update(&len.to_le_bytes());
    // Keys are at most a few hundred bytes; sled itself cannot hold a 4 GiB key.
    ctx.update(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    ctx.update(key);
    ctx.update(value);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&ctx.finish().as_ref()[..DIGEST_LEN]);
    out
}

/// What sled stores for `value` at `key` (tagged): inline, or a pointer to `at`.
pub(crate) fn stored(key: &[u8], value: &[u8], at: Option<u64>) -> Vec<u8> {
    match at {
        // `append` placed only values whose length fits in a u32.
        Some(at) => pointer(at, value.len() as u32, key, value),
        None => inline(value),
    }
}

fn pointer(offset: u64, len: u32, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(POINTER_LEN);
    out.push(POINTER);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&digest(offset, len, key, value));
    out
}

/// A parsed pointer: offset, length, digest.
fn parse_pointer(stored: &[u8]) -> Option<(u64, u32, &[u8])> {
    if stored.len() != POINTER_LEN || stored[0] != POINTER {
        return None;
    }
    let offset = u64::from_le_bytes(stored[1..9].try_into().ok()?);
    let len = u32::from_le_bytes(stored[9..13].try_into().ok()?);
    Some((offset, len, &stored[13..]))
}

impl ValueLog {
    /// Opens (creating) the value log in `dir`. Nothing is truncated: a torn tail from a
    /// crash mid-append is left in place, and appends go after it.
    pub(crate) fn open(dir: &Path) -> Result<ValueLog, StoreError> {
        let path = dir.join(VLOG_FILE);
        // Not `exists()`, which follows a symbolic link (`open_store_file` refuses one).
        let existed = std::fs::symlink_metadata(&path).is_ok();
        let writer = crate::sled_store::open_store_file(&path)?;
        if !existed {
            // The new file's directory entry must survive a power loss before any pointer
            // names bytes in it.
            writer.sync_all().map_err(|e| io_err(&path, e))?;
            crate::sled_store::open_nofollow(dir, true)?
                .sync_all()
                .map_err(|e| io_err(dir, e))?;
        }
        // The same open file, not a second open of the path (which could meanwhile name
        // another file); reads and writes are positional, so the shared offset is unused.
        let reader = writer.try_clone().map_err(|e| io_err(&path, e))?;
        let end = writer.metadata().map_err(|e| io_err(&path, e))?.len();
        Ok(ValueLog {
            path,
            reader,
            writer: Mutex::new(Writer {
                file: writer,
                unsynced: false,
                scratch: Vec::new(),
            }),
            end: AtomicU64::new(end),
        })
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Writer>, StoreError> {
        self.writer.lock().map_err(|_| StoreError::Io {
            detail: "a writer panicked while appending to the value log".into(),
        })
    }

    /// Appends the values of `ops` of at least [`THRESHOLD`] bytes, in ONE write, and returns
    /// for each op where its value now is (`None`: stays inline, or a delete). With `sync`, the
    /// bytes are durable (`fdatasync`) when this returns; without, the caller must make them
    /// recoverable before their pointers can become durable (the write-ahead log does).
    pub(crate) fn append(&self, ops: &[Op], sync: bool) -> Result<Vec<Option<u64>>, StoreError> {
        let mut rel: Vec<Option<u64>> = Vec::with_capacity(ops.len());
        let mut total = 0usize;
        for op in ops {
            match op {
                Op::Put { tree, value, .. } if value.len() >= THRESHOLD => {
                    if u32::try_from(value.len()).is_err() {
                        return Err(StoreError::Io {
                            detail: format!("a value of {} bytes for tree {tree} is too large to store", value.len()),
                        });
                    }
                    rel.push(Some(total as u64));
                    total += value.len();
                }
                _ => rel.push(None),
            }
        }
        if total == 0 {
            return Ok(rel);
        }
        let mut w = self.writer()?;
        let mut big = std::mem::take(&mut w.scratch);
        big.clear();
        big.reserve(total);
        for (op, at) in ops.iter().zip(&rel) {
            if let (Op::Put { value, .. }, Some(_)) = (op, at) {
                big.extend_from_slice(value);
            }
        }
        let base = self.end.load(Ordering::Acquire);
        // A failed write or sync leaves `end` where it was: nothing points at these bytes, and
        // the next append overwrites them.
        let written = w.file.write_all_at(&big, base);
        if big.capacity() <= SCRATCH_KEEP {
            w.scratch = big;
        }
        written.map_err(|e| io_err(&self.path, e))?;
        if sync {
            // Covers every earlier write too (they were made under this lock).
            w.file.sync_data().map_err(|e| io_err(&self.path, e))?;
            w.unsynced = false;
        } else {
            w.unsynced = true;
        }
        self.end.store(base + total as u64, Ordering::Release);
        Ok(rel.into_iter().map(|r| r.map(|r| base + r)).collect())
    }

    /// Makes every byte written so far durable (nothing to do when every append was synced).
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        let mut w = self.writer()?;
        if w.unsynced {
            w.file.sync_data().map_err(|e| io_err(&self.path, e))?;
            w.unsynced = false;
        }
        Ok(())
    }

    /// Writes values back at the offsets a write-ahead-log frame recorded for them (at open,
    /// before anything else is appended), then syncs. After a process kill the bytes are
    /// there already and are rewritten unchanged; after a power loss this restores what the
    /// lost tail held. Nothing else can have been placed there: the log never hands out an
    /// offset twice, and every byte after the last sync belongs to a frame still logged.
    pub(crate) fn restore<'a>(&self, values: impl Iterator<Item = (u64, &'a [u8])>) -> Result<(), StoreError> {
        let mut w = self.writer()?;
        let mut end = self.end.load(Ordering::Acquire);
        let mut wrote = false;
        for (at, value) in values {
            let stop = at.checked_add(value.len() as u64).ok_or_else(|| StoreError::Corrupt {
                detail: format!("the write-ahead log names value-log offset {at}, past any file: it is damaged"),
            })?;
            w.file.write_all_at(value, at).map_err(|e| io_err(&self.path, e))?;
            end = end.max(stop);
            wrote = true;
        }
        if wrote {
            w.file.sync_data().map_err(|e| io_err(&self.path, e))?;
            w.unsynced = false;
            self.end.store(end, Ordering::Release);
        }
        Ok(())
    }

    /// The value stored at `key` (the tagged sled key) in `tree`: an inline value as is, a
    /// pointer read from the log and checked.
    pub(crate) fn resolve(&self, tree: Tree, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StoreError> {
        match stored.first() {
            Some(&INLINE) => return Ok(stored[1..].to_vec()),
            Some(&POINTER) => {}
            _ => {
                return Err(StoreError::Corrupt {
                    detail: format!("a value in tree {tree} has no valid storage tag (store format 2)"),
                });
            }
        }
        let Some((offset, len, want)) = parse_pointer(stored) else {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "a value-log pointer in tree {tree} is malformed ({} bytes, expected {POINTER_LEN})",
                    stored.len()
                ),
            });
        };
        let end = self.end.load(Ordering::Acquire);
        if offset.checked_add(u64::from(len)).is_none_or(|stop| stop > end) {
            return Err(self.short(tree, offset, len, end));
        }
        let mut value = vec![0u8; len as usize];
        match self.reader.read_exact_at(&mut value, offset) {
            Ok(()) => {}
            // The file shrank under us (edited while open): as short as above.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(self.short(tree, offset, len, end));
            }
            Err(e) => return Err(io_err(&self.path, e)),
        }
        if digest(offset, len, key, &value).as_slice() != want {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "the value log {} is damaged: the {len} bytes at byte {offset} do not match \
                     their pointer in tree {tree} (altered, or the pointer names the wrong place)",
                    self.path.display()
                ),
            });
        }
        Ok(value)
    }

    fn short(&self, tree: Tree, offset: u64, len: u32, end: u64) -> StoreError {
        StoreError::Corrupt {
            detail: format!(
                "the value log {} is shorter than a pointer in tree {tree} needs ({len} bytes at \
                 byte {offset}, the log holds {end}): it lost data (truncated, or restored \
                 without the database it belongs to)",
                self.path.display()
            ),
        }
    }

    /// Copies `[0, end)` of the log into the new file `dest` (mode 0600, durable when this
    /// returns). Holes punched by compaction read as zeros: only dead bytes are ever punched,
    /// and the caller keeps compaction out while it copies, so every value a pointer below
    /// `end` names is copied as it is.
    pub(crate) fn copy_to(&self, dest: &Path, end: u64) -> Result<(), StoreError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dest)
            .map_err(|e| io_err(dest, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < end {
            // At most 1 MiB: the cast cannot truncate.
            let n = (end - at).min(buf.len() as u64) as usize;
            self.reader
                .read_exact_at(&mut buf[..n], at)
                .map_err(|e| io_err(&self.path, e))?;
            out.write_all(&buf[..n]).map_err(|e| io_err(dest, e))?;
            at += n as u64;
        }
        out.sync_all().map_err(|e| io_err(dest, e))
    }

    /// Length of the file on disk.
    pub(crate) fn file_len(&self) -> Result<u64, StoreError> {
        Ok(self.reader.metadata().map_err(|e| io_err(&self.path, e))?.len())
    }

    /// Bytes a pointer may name now (the end of the last completed append).
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// The range (offset, length) a stored value points at, if it is a pointer.
    pub(crate) fn pointed(stored: &[u8]) -> Option<(u64, u64)> {
        parse_pointer(stored).map(|(at, len, _)| (at, u64::from(len)))
    }

    /// Bytes of the file the file system holds (its allocated blocks).
    pub(crate) fn allocated(&self) -> Result<u64, StoreError> {
        use std::os::unix::fs::MetadataExt;
        Ok(self.reader.metadata().map_err(|e| io_err(&self.path, e))?.blocks() * 512)
    }

    /// Gives the file system back every whole block of `[0, end)` that none of `live`
    /// (offset, length; any order) touches: `fallocate(PUNCH_HOLE | KEEP_SIZE)`, so no
    /// offset moves and no pointer changes. Only dead bytes are punched, each range once
    /// and in place: stopped at any moment, the log has lost nothing, and running it again
    /// is safe. Returns the bytes punched.
    pub(crate) fn punch_dead(&self, live: &mut [(u64, u64)], end: u64) -> Result<u64, StoreError> {
        const BLOCK: u64 = 4096;
        live.sort_unstable();
        let mut punched = 0;
        let mut at = 0u64;
        let mut gaps = Vec::new();
        for (off, len) in live.iter() {
            if *off > at {
                gaps.push((at, *off));
            }
            at = at.max(off + len);
        }
        if end > at {
            gaps.push((at, end));
        }
        for (from, to) in gaps {
            let (a, b) = (from.div_ceil(BLOCK) * BLOCK, to / BLOCK * BLOCK);
            if b <= a {
                continue;
            }
            rustix::fs::fallocate(
                &self.reader,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                a,
                b - a,
            )
            .map_err(|e| io_err(&self.path, e.into()))?;
            punched += b - a;
        }
        self.reader.sync_data().map_err(|e| io_err(&self.path, e))?;
        Ok(punched)
    }

    /// Adds a stored value's share to `usage` (pointers only).
    pub(crate) fn count(usage: &mut ValueLogUsage, stored: &[u8]) {
        if let Some((_, len, _)) = parse_pointer(stored) {
            usage.values += 1;
            usage.live_bytes += u64::from(len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tagged;

    fn put(tree: Tree, key: &[u8], value: Vec<u8>) -> Op {
        Op::Put {
            tree,
            key: key.to_vec(),
            value,
        }
    }

    /// The stored form of each op, as the sled backend builds it.
    fn staged(log: &ValueLog, ops: &[Op], sync: bool) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let placed = log.append(ops, sync).unwrap();
        ops.iter()
            .zip(placed)
            .map(|(op, at)| match op {
                Op::Put { tree, key, value } => {
                    let k = tagged(*tree, key);
                    let v = stored(&k, value, at);
                    (k, Some(v))
                }
                Op::Delete { tree, key } => (tagged(*tree, key), None),
            })
            .collect()
    }

    #[test]
    fn values_split_at_the_threshold_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path()).unwrap();
        let small = vec![7u8; THRESHOLD - 1];
        let big = vec![9u8; THRESHOLD];
        let ops = [
            put(Tree::Records, b"a", small.clone()),
            put(Tree::Records, b"b", big.clone()),
            put(Tree::Records, b"c", Vec::new()),
            Op::Delete {
                tree: Tree::Records,
                key: b"d".to_vec(),
            },
        ];
        let staged = staged(&log, &ops, true);
        assert_eq!(staged[0].1.as_ref().unwrap().len(), THRESHOLD, "inline: tag + value");
        assert_eq!(staged[1].1.as_ref().unwrap().len(), POINTER_LEN);
        assert_eq!(staged[2].1.as_deref(), Some(&[INLINE][..]));
        assert_eq!(staged[3].1, None);
        for ((k, v), want) in staged.iter().zip([&small, &big, &Vec::new()]) {
            assert_eq!(&log.resolve(Tree::Records, k, v.as_ref().unwrap()).unwrap(), want);
        }
        assert_eq!(log.file_len().unwrap(), THRESHOLD as u64);
        // The next batch's values go after the first's, in op order.
        assert_eq!(
            log.append(
                &[
                    put(Tree::Records, b"e", vec![1; 600]),
                    put(Tree::Records, b"f", vec![2; 700])
                ],
                false
            )
            .unwrap(),
            vec![Some(THRESHOLD as u64), Some(THRESHOLD as u64 + 600)]
        );
        log.sync().unwrap();
        assert_eq!(log.file_len().unwrap(), THRESHOLD as u64 + 1_300);
    }

    #[test]
    fn restore_writes_values_back_at_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path()).unwrap();
        let ops = [
            put(Tree::Records, b"a", vec![1; 600]),
            put(Tree::Records, b"b", vec![2; 900]),
        ];
        let staged = staged(&log, &ops, false);
        drop(log);
        // A power loss took the unsynced bytes.
        std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(VLOG_FILE))
            .unwrap()
            .set_len(100)
            .unwrap();
        let log = ValueLog::open(dir.path()).unwrap();
        assert!(
            log.resolve(Tree::Records, &staged[1].0, staged[1].1.as_ref().unwrap())
                .is_err()
        );
        log.restore([(0u64, &[1u8; 600][..]), (600, &[2u8; 900][..])].into_iter())
            .unwrap();
        for ((k, v), want) in staged.iter().zip([vec![1u8; 600], vec![2; 900]]) {
            assert_eq!(log.resolve(Tree::Records, k, v.as_ref().unwrap()).unwrap(), want);
        }
        // Appends go after the restored bytes.
        assert_eq!(log.append(&ops[..1], true).unwrap(), vec![Some(1_500)]);
    }

    #[test]
    fn a_pointer_moved_to_another_key_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path()).unwrap();
        let staged = staged(&log, &[put(Tree::Records, b"a", vec![1; 600])], true);
        let p = staged[0].1.as_ref().unwrap();
        let err = log.resolve(Tree::Records, &tagged(Tree::Records, b"b"), p).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("records"), "{err}");
    }

    #[test]
    fn malformed_stored_values_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let log = ValueLog::open(dir.path()).unwrap();
        for bad in [&[][..], &[0x02, 1, 2], &[POINTER, 0, 0]] {
            let err = log.resolve(Tree::Deks, b"\x02k", bad).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains("deks"), "{err}");
        }
        // A length that would run past the end is refused before anything is allocated.
        let mut p = pointer(0, u32::MAX, b"k", b"");
        p[1..9].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = log.resolve(Tree::Deks, b"k", &p).unwrap_err();
        assert!(err.to_string().contains("shorter"), "{err}");
    }
}

/// The fuzz target's view (see `crate::fuzzing::vlog`): one value log per process, holding
/// [`FUZZ_LOG_LEN`] known bytes, in the temporary directory.
#[cfg(fuzzing)]
pub(crate) fn fuzz(bytes: &[u8]) {
    use std::sync::OnceLock;
    const FUZZ_LOG_LEN: usize = 4096;
    static LOG: OnceLock<ValueLog> = OnceLock::new();
    // Cannot fail on an input: these `expect`s set up the fuzz harness's own log once (built
    // only with `--cfg fuzzing`); a failure is a broken harness, reported as a crash.
    let log = LOG.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("credseal-fuzz-vlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz: temporary directory");
        let log = ValueLog::open(&dir).expect("fuzz: value log");
        if log.file_len().expect("fuzz: value log length") == 0 {
            let content: Vec<u8> = (0..FUZZ_LOG_LEN).map(|i| (i * 7 % 251) as u8).collect();
            log.restore(std::iter::once((0u64, content.as_slice())))
                .expect("fuzz: value log content");
        }
        log
    });
    let [tag, klen, rest @ ..] = bytes else { return };
    let Some(tree) = Tree::from_tag(*tag) else { return };
    let klen = usize::from(*klen).min(rest.len());
    let (key, stored) = rest.split_at(klen);
    let mut usage = ValueLogUsage::default();
    ValueLog::count(&mut usage, stored);
    if let Ok(value) = log.resolve(tree, key, stored) {
        assert!(stored.first() == Some(&INLINE) || value.len() == parse_pointer(stored).map_or(0, |p| p.1 as usize));
    }
    // A pointer with a correct digest for the range it names, so the read path is reached.
    if let Some((offset, len, _)) = parse_pointer(stored)
        && offset
            .checked_add(u64::from(len))
            .is_some_and(|end| end <= FUZZ_LOG_LEN as u64)
    {
        let content: Vec<u8> = (offset as usize..(offset + u64::from(len)) as usize)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let good = pointer(offset, len, key, &content);
        assert_eq!(
            log.resolve(tree, key, &good).expect("fuzz: a correct pointer resolves"),
            content
        );
    }
}
