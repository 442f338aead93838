//! The write-ahead log behind [`Store::apply_durable`](crate::Store::apply_durable) on sled.
//!
//! A durable commit through sled alone costs a sled `flush()` (≈ 0.5–1 ms on these machines:
//! sled writes out its dirty buffers and syncs). The receipt log needs one durable commit
//! per group of queries, so that flush bounded query throughput. Instead, a durable batch is
//! appended here as one frame, made durable with one `fdatasync` of this file, and then
//! applied to sled without a flush; sled catches up in its background flush, and
//! [`Store::flush`](crate::Store::flush) empties this file once sled holds everything in it.
//!
//! # Frame format (all integers little-endian)
//!
//! ```text
//! u32 payload length ‖ u64 sequence number ‖ payload ‖ u32 CRC-32 of (length ‖ seq ‖ payload)
//! payload = op*, op = u8 kind (1 put, 2 delete, 3 put of a value also in the value log)
//!                     ‖ u8 tree tag ‖ u32 key length ‖ key
//!                     ‖ (puts) u32 value length ‖ value ‖ (kind 3 only) u64 value-log offset
//! ```
//!
//! A durable batch's big values are written to the value log without a sync of their own
//! (the frame's `fdatasync` is the commit's only one); a kind-3 op records where, so that
//! opening the store can write them back there if a power loss took them (see `recover` in
//! the sled backend and the `vlog` module).
//!
//! # Recovery
//!
//! Each frame's batch is applied to sled together with the store key `0x00 ‖ "wal-seq"` set
//! to the frame's sequence number, in one atomic sled batch, under one lock, in sequence
//! order. sled recovers a prefix of the batches applied to it, so after a crash the frames
//! sled is missing are exactly those with a sequence number above the stored one; opening
//! the store first writes every kind-3 value back at its value-log offset (all frames: sled
//! may hold a pointer whose unsynced bytes a power loss took), then applies the missing
//! frames, syncs the value log, flushes sled and empties the file.
//!
//! A frame cut short at the end of the file (or zeros where it should be) is a write that
//! never completed (its caller was never told it was durable) and is dropped; only one
//! frame is ever being written at a time. A damaged frame followed by more data is
//! not a torn write: the store refuses to open ([`StoreError::Corrupt`]). The CRC detects
//! accidents; tampering is caught where it matters, above the store (receipts are signed,
//! records sealed).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::batch::Op;
use crate::{StoreError, Tree};

/// The file name inside the store directory.
pub(crate) const WAL_FILE: &str = "credseal.wal";
/// Above this many bytes, the next durable commit flushes sled and empties the file.
pub(crate) const WAL_LIMIT: u64 = 8 << 20;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const PUT_LOGGED: u8 = 3;
/// Header (length, sequence) and trailer (CRC) sizes.
const HEAD: usize = 12;
const TAIL: usize = 4;
/// No single frame may claim more than this (a damaged length must not allocate gigabytes).
const MAX_PAYLOAD: usize = 1 << 30;

/// The open log file.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    /// Bytes in the file.
    len: u64,
    /// The buffer frames are encoded in (see `encode_frame_into`).
    scratch: Vec<u8>,
}

/// A frame read back: its sequence number, operations, and where each put's value is in the
/// value log (`None`: stored inline, or not a put).
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) seq: u64,
    pub(crate) ops: Vec<Op>,
    pub(crate) placed: Vec<Option<u64>>,
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    crate::sled_store::map_io(e, path)
}

fn corrupt(path: &Path, offset: u64, what: &str) -> StoreError {
    StoreError::Corrupt {
        detail: format!(
            "the write-ahead log {} is damaged at byte {offset}: {what}",
            path.display()
        ),
    }
}

/// The most buffer capacity [`Wal::append_frame`] keeps between frames.
const SCRATCH_KEEP: usize = 4 << 20;

/// Encodes one frame; `placed[i]` is where op `i`'s value was written in the value log, if
/// it was (`placed` may be shorter than `ops`: the rest are inline).
#[cfg(test)]
pub(crate) fn encode_frame(seq: u64, ops: &[Op], placed: &[Option<u64>]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame_into(&mut out, seq, ops, placed);
    out
}

/// [`encode_frame`] into `out` (emptied first), which keeps its capacity from frame to
/// frame: a group commit's frame is some hundred kilobytes, and a fresh buffer that size is
/// fresh pages to fault in at every commit.
fn encode_frame_into(out: &mut Vec<u8>, seq: u64, ops: &[Op], placed: &[Option<u64>]) {
    let size = HEAD
        + 4
        + ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value, .. } => 2 + 4 + key.len() + 4 + value.len() + 8,
                Op::Delete { key, .. } => 2 + 4 + key.len(),
            })
            .sum::<usize>();
    out.clear();
    out.reserve(size);
    out.resize(HEAD, 0);
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Put { tree, key, value } => {
                let at = placed.get(i).copied().flatten();
                out.push(if at.is_some() { PUT_LOGGED } else { PUT });
                out.push(tree.tag());
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
                out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                out.extend_from_slice(value);
                if let Some(at) = at {
                    out.extend_from_slice(&at.to_le_bytes());
                }
            }
            Op::Delete { tree, key } => {
                out.push(DELETE);
                out.push(tree.tag());
                out.extend_from_slice(&(key.len() as u32).to_le_bytes());
                out.extend_from_slice(key);
            }
        }
    }
    debug_assert!(out.len() + 4 <= size, "the frame outgrew its computed size");
    let payload = (out.len() - HEAD) as u32;
    out[..4].copy_from_slice(&payload.to_le_bytes());
    out[4..HEAD].copy_from_slice(&seq.to_le_bytes());
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Decodes a frame's payload into its ops and their value-log offsets; `None` if it is
/// malformed.
fn decode_ops(mut p: &[u8]) -> Option<(Vec<Op>, Vec<Option<u64>>)> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if p.len() < n {
            return None;
        }
        let (a, b) = p.split_at(n);
        *p = b;
        Some(a)
    }
    fn len(p: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?) as usize)
    }
    let mut ops = Vec::new();
    let mut placed = Vec::new();
    while !p.is_empty() {
        let kind = take(&mut p, 1)?[0];
        let tree = Tree::from_tag(take(&mut p, 1)?[0])?;
        let n = len(&mut p)?;
        let key = take(&mut p, n)?.to_vec();
        match kind {
            PUT | PUT_LOGGED => {
                let n = len(&mut p)?;
                let value = take(&mut p, n)?.to_vec();
                ops.push(Op::Put { tree, key, value });
                placed.push(if kind == PUT_LOGGED {
                    Some(u64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?))
                } else {
                    None
                });
            }
            DELETE => {
                ops.push(Op::Delete { tree, key });
                placed.push(None);
            }
            _ => return None,
        }
    }
    Some((ops, placed))
}

impl Wal {
    /// Opens (creating) the log in `dir` and reads every complete frame. A torn last frame
    /// is cut off the file.
    pub(crate) fn open(dir: &Path) -> Result<(Wal, Vec<Frame>), StoreError> {
        let path = dir.join(WAL_FILE);
        let mut file = crate::sled_store::open_store_file(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io_err(&path, e))?;
        let (frames, good) = parse(&path, &bytes)?;
        if good < bytes.len() {
            // A write cut short by a crash: never acknowledged, dropped.
            file.set_len(good as u64).map_err(|e| io_err(&path, e))?;
            file.sync_all().map_err(|e| io_err(&path, e))?;
        }
        file.seek(SeekFrom::End(0)).map_err(|e| io_err(&path, e))?;
        Ok((
            Wal {
                file,
                path,
                len: good as u64,
                scratch: Vec::new(),
            },
            frames,
        ))
    }

    /// Encodes a frame of `ops` (see [`encode_frame`]), appends it and makes it durable.
    pub(crate) fn append_frame(&mut self, seq: u64, ops: &[Op], placed: &[Option<u64>]) -> Result<(), StoreError> {
        let mut buf = std::mem::take(&mut self.scratch);
        encode_frame_into(&mut buf, seq, ops, placed);
        let r = self.append(&buf);
        // Kept for the next frame unless an unusually big batch grew it.
        if buf.capacity() <= SCRATCH_KEEP {
            self.scratch = buf;
        }
        r
    }

    /// Appends one frame and makes it durable.
    pub(crate) fn append(&mut self, frame: &[u8]) -> Result<(), StoreError> {
        let r = self.file.write_all(frame).and_then(|()| self.file.sync_data());
        if let Err(e) = r {
            // Leave no partial frame behind a failed append: cut the file back.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(io_err(&self.path, e));
        }
        self.len += frame.len() as u64;
        Ok(())
    }

    /// Bytes in the file.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Empties the file (call only once sled durably holds every frame in it).
    pub(crate) fn reset(&mut self) -> Result<(), StoreError> {
        if self.len == 0 {
            return Ok(());
        }
        self.file.set_len(0).map_err(|e| io_err(&self.path, e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| io_err(&self.path, e))?;
        self.file.sync_all().map_err(|e| io_err(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

/// Parses frames; returns them and the length of the well-formed prefix. A malformed frame
/// that ends the file is a torn write; one with more bytes after it is damage.
fn parse(path: &Path, bytes: &[u8]) -> Result<(Vec<Frame>, usize), StoreError> {
    let mut frames = Vec::new();
    let mut at = 0usize;
    let mut last_seq = None;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.iter().all(|&b| b == 0) {
            // The file grew but the frame's bytes never reached the disk.
            return Ok((frames, at));
        }
        if rest.len() < HEAD {
            return Ok((frames, at)); // torn header
        }
        // Cannot fail: `rest` holds at least HEAD (12) bytes here, checked just above.
        let n = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        // Cannot fail: `rest` holds at least HEAD (12) bytes here, checked just above.
        let seq = u64::from_le_bytes(rest[4..HEAD].try_into().expect("8 bytes"));
        if n > MAX_PAYLOAD || rest.len() < HEAD + n + TAIL {
            // The claimed frame runs past the end of the file: a torn write if nothing can
            // follow it, which is every case where it does not fit.
            return Ok((frames, at));
        }
        let end = HEAD + n;
        // Cannot fail: `rest` holds at least HEAD + n + TAIL bytes here, checked just above.
        let crc = u32::from_le_bytes(rest[end..end + TAIL].try_into().expect("4 bytes"));
        let ops = (crc32fast::hash(&rest[..end]) == crc)
            .then(|| decode_ops(&rest[HEAD..end]))
            .flatten();
        let Some((ops, placed)) = ops else {
            if end + TAIL == rest.len() {
                return Ok((frames, at)); // the last frame, torn
            }
            return Err(corrupt(path, at as u64, "checksum mismatch before the end of the file"));
        };
        if last_seq.is_some_and(|l| seq != l + 1) {
            return Err(corrupt(path, at as u64, "sequence numbers out of order"));
        }
        last_seq = Some(seq);
        frames.push(Frame { seq, ops, placed });
        at += end + TAIL;
    }
    Ok((frames, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            Op::Put {
                tree: Tree::LogLeaves,
                key: b"k1".to_vec(),
                value: b"v1".to_vec(),
            },
            Op::Delete {
                tree: Tree::Replay,
                key: b"k2".to_vec(),
            },
        ]
    }

    #[test]
    fn frames_round_trip_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, frames) = Wal::open(dir.path()).unwrap();
        assert!(frames.is_empty());
        w.append(&encode_frame(7, &ops(), &[])).unwrap();
        w.append(&encode_frame(8, &ops(), &[])).unwrap();
        let full = w.len();
        drop(w);
        // Cut the second frame short, as a crash mid-write would.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(WAL_FILE))
            .unwrap();
        f.set_len(full - 3).unwrap();
        drop(f);
        let (w, frames) = Wal::open(dir.path()).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].seq, 7);
        assert_eq!(frames[0].ops, ops());
        assert_eq!(frames[0].placed, vec![None, None]);
        assert_eq!(w.len(), full / 2, "the torn frame is cut off the file");
    }

    #[test]
    fn value_log_offsets_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        let mut three = ops();
        three.push(Op::Put {
            tree: Tree::Records,
            key: b"big".to_vec(),
            value: vec![7; 600],
        });
        w.append(&encode_frame(1, &three, &[None, None, Some(4_096)])).unwrap();
        drop(w);
        let (_, frames) = Wal::open(dir.path()).unwrap();
        assert_eq!(frames[0].ops, three);
        assert_eq!(frames[0].placed, vec![None, None, Some(4_096)]);
    }

    #[test]
    fn damage_before_the_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(1, &ops(), &[])).unwrap();
        w.append(&encode_frame(2, &ops(), &[])).unwrap();
        drop(w);
        let p = dir.path().join(WAL_FILE);
        let mut b = std::fs::read(&p).unwrap();
        b[HEAD + 3] ^= 1; // inside the first frame's payload
        std::fs::write(&p, &b).unwrap();
        let err = Wal::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("byte 0"), "{err}");
    }

    #[test]
    fn a_damaged_last_frame_is_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(1, &ops(), &[])).unwrap();
        let one = w.len();
        w.append(&encode_frame(2, &ops(), &[])).unwrap();
        drop(w);
        let p = dir.path().join(WAL_FILE);
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        std::fs::write(&p, &b).unwrap();
        let (w, frames) = Wal::open(dir.path()).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(w.len(), one);
    }

    #[test]
    fn out_of_order_sequence_numbers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(5, &ops(), &[])).unwrap();
        w.append(&encode_frame(9, &ops(), &[])).unwrap();
        w.append(&encode_frame(10, &ops(), &[])).unwrap();
        drop(w);
        assert!(matches!(Wal::open(dir.path()), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn reset_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, _) = Wal::open(dir.path()).unwrap();
        w.append(&encode_frame(1, &ops(), &[])).unwrap();
        w.reset().unwrap();
        assert_eq!(w.len(), 0);
        drop(w);
        let (_, frames) = Wal::open(dir.path()).unwrap();
        assert!(frames.is_empty());
    }
}

/// The fuzz target's view (see `crate::fuzzing::wal`).
#[cfg(fuzzing)]
pub(crate) fn fuzz(bytes: &[u8]) {
    let path = Path::new("fuzz.wal");
    if let Ok((frames, good)) = parse(path, bytes) {
        assert!(good <= bytes.len());
        assert!(frames.iter().all(|f| f.ops.len() == f.placed.len()));
    }
    let _ = decode_ops(bytes);
    let mut framed = Vec::with_capacity(HEAD + bytes.len() + TAIL);
    framed.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    framed.extend_from_slice(&1u64.to_le_bytes());
    framed.extend_from_slice(bytes);
    let crc = crc32fast::hash(&framed);
    framed.extend_from_slice(&crc.to_le_bytes());
    if let Ok((frames, good)) = parse(path, &framed)
        && let Some((ops, placed)) = decode_ops(bytes)
    {
        // A well-formed payload is one whole frame, and it re-encodes to the same bytes.
        assert_eq!(good, framed.len());
        assert_eq!(frames.len(), 1);
        let mut again = Vec::new();
        encode_frame_into(&mut again, 1, &ops, &placed);
        assert_eq!(again, framed);
    }
}
