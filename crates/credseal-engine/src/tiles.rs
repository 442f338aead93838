//! The log in public, as C2SP `tlog-tiles` (docs/formats.md, "Tiles"): the platform's side
//! ([`Platform::log_tile`] for the server, [`Platform::export_tiles`] for static hosting)
//! and the auditor's side ([`audit_tiles`]), which needs nothing but the log's verifier key
//! and a [`TileSource`] (a directory or a server).
//!
//! An entry is a receipt's Merkle leaf data, `header ‖ signature`: what the leaf hash covers
//! and what a receipt signature covers, and nothing of the receipt's content (actor, purpose,
//! outcome), which only its subject sees (after `disclose_after` for a sealed receipt). The
//! header carries the subject by BlindId only, so the entries hold no secret and no subject
//! id, and replaying them rebuilds the subject map that each checkpoint commits to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use credseal_c2sp::{
    Checkpoint, MemoryLog, SignedNote, Tile, TileKind, encode_entry_bundle, entry_bundles_for_size, hash_tile_bytes,
    parse_entry_bundle, parse_hash_tile, read_tile_hashes, tile_width_in_tree, tiles_for_size, tree_hash,
};
use credseal_log::{
    KeyHistory, LogVerifier, MapCheckpoint as _, MapValue, MemoryMap, SIGNATURE_LEN, UnverifiedReceipt, map_key,
    receipt_leaf_hash,
};
use credseal_store::Tree;

use crate::error::{EngineError, Result};
use crate::log::AuditSnapshot;
use crate::logtree::{Hashes, be};
use crate::platform::Platform;

/// The checkpoint's path under a tiled log's prefix.
pub const CHECKPOINT_PATH: &str = "checkpoint";
/// Entry bundles fetched at once by the auditor, whose signatures are checked in parallel
/// (16 bundles: up to 4,096 entries, about 1 MiB).
const AUDIT_GROUP: usize = 16;

/// The log key's handover notes beside the tiles (not a C2SP resource): every rotation's
/// note, oldest first, separated by a blank line; empty or absent if the key never rotated.
pub const KEY_HISTORY_PATH: &str = "key-history";

/// The handover notes in a [`KEY_HISTORY_PATH`] text (each note begins with the handover
/// title line).
pub fn split_handover_notes(text: &str) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches('\n') == credseal_log::HANDOVER_TITLE || notes.is_empty() {
            notes.push(String::new());
        }
        if let Some(n) = notes.last_mut() {
            n.push_str(line);
        }
    }
    notes
        .into_iter()
        .map(|n| format!("{}\n", n.trim_end_matches('\n')))
        .filter(|n| n.trim() != "")
        .collect()
}

/// Mode of the files `export-tiles` writes: public material.
const PUBLIC_MODE: u32 = 0o644;

/// What [`Platform::export_tiles`] wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TileExport {
    /// The tree size of the checkpoint exported.
    pub size: u64,
    /// The tree size of the earlier export found in the directory (0: none).
    pub previous: u64,
    /// Tiles and entry bundles written.
    pub written: u64,
    /// Tiles and entry bundles already there (written by an earlier export).
    pub kept: u64,
}

/// Parses the body of a signed checkpoint note (its signature is not checked here).
fn checkpoint_of(note: &str) -> Result<Checkpoint> {
    let bad = |e: &dyn std::fmt::Display| EngineError::Corrupt {
        what: "latest checkpoint".into(),
        detail: e.to_string(),
    };
    let n = SignedNote::parse(note).map_err(|e| bad(&e))?;
    Checkpoint::parse(n.text()).map_err(|e| bad(&e))
}

impl Platform {
    /// The published checkpoint note ([`Platform::published_checkpoint`]: with witnesses,
    /// the latest cosigned one) and its tree size.
    fn latest_tiled(&self) -> Result<Option<(String, u64)>> {
        let Some(note) = self.published_checkpoint()? else {
            return Ok(None);
        };
        let size = checkpoint_of(&note)?.size();
        Ok(Some((note, size)))
    }

    /// A tile's bytes as C2SP `tlog-tiles` publishes it, or `None` if the tree of the latest
    /// checkpoint does not reach it (a full tile it has not filled, a partial tile wider than
    /// what it holds). Every tile of an earlier checkpoint's tree is served too (the log only
    /// grows). Hash tiles come from the stored tree hashes; entry bundles hold each
    /// receipt's leaf data, `header ‖ signature`.
    pub fn log_tile(&self, tile: &Tile) -> Result<Option<Vec<u8>>> {
        let Some((_, size)) = self.latest_tiled()? else {
            return Ok(None);
        };
        let reaches = tile_width_in_tree(&tile.to_full(), size).is_some_and(|w| w >= tile.width());
        if !reaches {
            return Ok(None);
        }
        self.tile_bytes(tile).map(Some)
    }

    fn tile_bytes(&self, tile: &Tile) -> Result<Vec<u8>> {
        match tile.kind() {
            TileKind::Hashes(_) => {
                let overlay = HashMap::new();
                let reader = Hashes {
                    store: &*self.store,
                    overlay: &overlay,
                };
                Ok(hash_tile_bytes(&read_tile_hashes(tile, &reader)?))
            }
            TileKind::Entries => {
                let (start, end) = tile.range();
                let mut entries = Vec::with_capacity(usize::from(tile.width()));
                for i in start..end {
                    let what = || format!("log leaf {i}");
                    let bytes = self
                        .store
                        .get(Tree::LogLeaves, &be(i))?
                        .ok_or_else(|| EngineError::Corrupt {
                            what: what(),
                            detail: "missing".into(),
                        })?;
                    let r = UnverifiedReceipt::parse(&bytes).map_err(|e| EngineError::Corrupt {
                        what: what(),
                        detail: e.to_string(),
                    })?;
                    entries.push([r.header_bytes(), r.signature().as_slice()].concat());
                }
                encode_entry_bundle(&entries).map_err(|e| EngineError::Internal(format!("entry bundle: {e}")))
            }
        }
    }

    /// Writes the log at its latest checkpoint as C2SP `tlog-tiles` under `out`: the
    /// `checkpoint` and every `tile/…` of its tree. Only files not there yet are written
    /// (full tiles never change; a partial tile's path names its width); they are written in
    /// a temporary directory beside `out` and moved in, the checkpoint last, so a reader of
    /// `out` sees a checkpoint only once every tile it implies is there. A non-empty `out`
    /// must be an earlier export of this log: its checkpoint verifies with the log's keys and
    /// its tree is the start of this one (else nothing is written, exit 4).
    pub fn export_tiles(&self, out: &Path) -> Result<TileExport> {
        let Some((note, size)) = self.latest_tiled()? else {
            return Err(EngineError::NotFound(
                "the log is empty: no checkpoint to export".into(),
            ));
        };
        let previous = self.earlier_export(out)?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".credseal-tiles-")
            .tempdir_in(&parent)
            .map_err(|e| EngineError::io(&parent, e))?;
        let mut written = Vec::new();
        let mut kept = 0u64;
        for tile in entry_bundles_for_size(size).into_iter().chain(tiles_for_size(size)) {
            let rel = tile.path();
            if out.join(&rel).exists() {
                kept += 1;
                continue;
            }
            write_public(&tmp.path().join(&rel), &self.tile_bytes(&tile)?)?;
            written.push(rel);
        }
        // The key history before the checkpoint: a reader never sees a checkpoint whose
        // signing key it cannot reach.
        let history = self.log_key_history()?.notes().join("\n");
        write_public(&tmp.path().join(KEY_HISTORY_PATH), history.as_bytes())?;
        write_public(&tmp.path().join(CHECKPOINT_PATH), note.as_bytes())?;
        if !out.exists() {
            let tmp = tmp.keep();
            std::fs::rename(&tmp, out).map_err(|e| EngineError::io(out, e))?;
        } else {
            for rel in written
                .iter()
                .map(String::as_str)
                .chain([KEY_HISTORY_PATH, CHECKPOINT_PATH])
            {
                let to = out.join(rel);
                if let Some(dir) = to.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
                }
                std::fs::rename(tmp.path().join(rel), &to).map_err(|e| EngineError::io(&to, e))?;
            }
        }
        sync_dir(out);
        Ok(TileExport {
            size,
            previous,
            written: written.len() as u64,
            kept,
        })
    }

    /// The tree size of the earlier export of this log in `out` (0 when `out` is absent or
    /// empty); an error when `out` holds anything else.
    fn earlier_export(&self, out: &Path) -> Result<u64> {
        let not_ours = |detail: String| EngineError::Verification(format!("{}: {detail}", out.display()));
        match std::fs::read_dir(out) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(EngineError::io(out, e)),
            Ok(mut d) => {
                if d.next().is_none() {
                    return Ok(0);
                }
            }
        }
        let path = out.join(CHECKPOINT_PATH);
        // Read up to a note's longest: what lies in the output directory may be anything.
        let read = std::fs::File::open(&path).and_then(|f| {
            use std::io::Read as _;
            let mut b = Vec::new();
            f.take(credseal_c2sp::MAX_NOTE_LEN as u64 + 1).read_to_end(&mut b)?;
            Ok(b)
        });
        let text = match read {
            Ok(b) if b.len() > credseal_c2sp::MAX_NOTE_LEN => {
                return Err(not_ours("its checkpoint is larger than a checkpoint can be".into()));
            }
            Ok(b) => String::from_utf8(b).map_err(|_| not_ours("its checkpoint is not UTF-8".into()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_ours(
                    "not empty and holds no checkpoint: not an earlier export of this log".into(),
                ));
            }
            Err(e) => return Err(EngineError::io(&path, e)),
        };
        let cp = self
            .log_key_history()?
            .verify_checkpoint(&text)
            .map_err(|e| not_ours(format!("its checkpoint is not this log's: {e}")))?;
        let size = self.latest_tiled()?.map_or(0, |(_, s)| s);
        if cp.size() > size {
            return Err(not_ours(format!(
                "its checkpoint is for {} receipts, more than this log's {size}",
                cp.size()
            )));
        }
        let overlay = HashMap::new();
        let reader = Hashes {
            store: &*self.store,
            overlay: &overlay,
        };
        let root = tree_hash(cp.size(), &reader).map_err(|e| crate::logtree::tree_error(e, "tree root"))?;
        if root != *cp.root() {
            return Err(not_ours(format!(
                "its checkpoint's tree of {} receipts is not this log's (a fork)",
                cp.size()
            )));
        }
        Ok(cp.size())
    }
}

fn write_public(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, PUBLIC_MODE);
    let mut f = o.open(path).map_err(|e| EngineError::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| EngineError::io(path, e))
}

fn sync_dir(dir: &Path) {
    // Best effort: some file systems do not support fsync on directories.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Where an auditor reads a tiled log from: a directory or a server. Paths are relative to
/// the log's prefix (`checkpoint`, `tile/0/000`).
pub trait TileSource {
    /// The resource's bytes; `Ok(None)` when the source says it does not exist (a file
    /// missing, a 404); `Err` when it could not be read (I/O, network).
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>>;

    /// How to name the resource in messages (its file or URL).
    fn name(&self, path: &str) -> String;
}

/// The largest resource of a tiled log: a full entry bundle of the longest entries (256 ×
/// (2 + 65,535) bytes); hash tiles, checkpoints and key histories are far smaller.
pub const MAX_TILE_FILE: u64 = 256 * (2 + credseal_c2sp::MAX_ENTRY_LEN as u64);

/// A tiled log in a directory (`log export-tiles`, static hosting). A file is read up to
/// [`MAX_TILE_FILE`] and refused beyond it, so a huge or endless file costs bounded memory.
#[derive(Clone, Debug)]
pub struct DirSource(pub PathBuf);

impl TileSource for DirSource {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        let p = self.0.join(path);
        let f = match std::fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EngineError::io(&p, e)),
        };
        let mut b = Vec::new();
        f.take(MAX_TILE_FILE + 1)
            .read_to_end(&mut b)
            .map_err(|e| EngineError::io(&p, e))?;
        if b.len() as u64 > MAX_TILE_FILE {
            return Err(EngineError::Verification(format!(
                "{}: larger than {MAX_TILE_FILE} bytes, more than any tile, checkpoint or key history",
                p.display()
            )));
        }
        Ok(Some(b))
    }

    fn name(&self, path: &str) -> String {
        self.0.join(path).display().to_string()
    }
}

/// What [`audit_tiles`] checked.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TilesReport {
    /// The log's origin.
    pub origin: String,
    /// The tree size of the checkpoint checked.
    pub size: u64,
    /// The tree size of the saved state it was checked against (0: none).
    pub from: u64,
    /// Receipt signatures checked (every entry).
    pub receipts: u64,
    /// Entry bundles read.
    pub bundles: u64,
    /// Hash tiles read and matched against the entries.
    pub hash_tiles: u64,
    /// Subjects in the subject map rebuilt from the entries.
    pub subjects: u64,
    /// The checkpoint note checked, as fetched (with any cosignatures).
    #[serde(skip)]
    pub checkpoint: String,
    /// The public keys of the log's key history (the pinned key first).
    #[serde(skip)]
    pub log_keys: Vec<[u8; 32]>,
}

/// An auditor's check of a tiled log with nothing but the log's verifier key (`vkey`, the
/// key to pin): the checkpoint's signature; every entry's receipt signature and index; the
/// subject chains and the subject map rebuilt from the entries, against the checkpoint's
/// map root; the tree rebuilt from the entries' leaf hashes, against the checkpoint's root;
/// every hash tile against that tree; and, with a saved state, that the log still starts
/// with the tree (and map) verified before — it did not shrink or fork. Returns the report
/// and the new state to save. Any failure is a verification error naming the resource.
///
/// Only the latest checkpoint is published, so the map root is checked at its size and the
/// trust-state line (which commits to state outside the log) is not checked. The log's key
/// history is not published yet either: a log whose key was rotated fails at the first
/// receipt of the new key.
pub fn audit_tiles(
    source: &dyn TileSource,
    vkey: &str,
    saved: Option<&AuditSnapshot>,
) -> Result<(TilesReport, AuditSnapshot)> {
    let (auditor, report) = TileAuditor::new(vkey, saved.cloned())?.advance(source)?;
    Ok((report, auditor.snapshot()))
}

/// An auditor that follows a tiled log ([`audit_tiles`] once, `log monitor` round after
/// round): the first round replays every entry; each later round fetches the checkpoint and
/// only what it adds — the entry bundles from the last verified size on (the one that was
/// partial again, its old entries required to be the ones verified) and the hash tiles that
/// are not full below that size — and checks the same things. The tree and the subject map
/// are kept in memory between rounds.
#[derive(Debug)]
pub struct TileAuditor {
    history: KeyHistory,
    origin: String,
    log: MemoryLog,
    map: MemoryMap,
    /// The position saved by an earlier run: checked when the replay passes its size.
    saved: Option<AuditSnapshot>,
    /// Subjects in the map (counted as their first receipt is replayed).
    subjects: u64,
}

impl TileAuditor {
    /// An auditor pinned to the log key `vkey`, to continue from `saved` (checked in the
    /// first round: the log must still start with it).
    pub fn new(vkey: &str, saved: Option<AuditSnapshot>) -> Result<Self> {
        let verifier = LogVerifier::from_vkey(vkey).map_err(|e| EngineError::invalid("--log-key", e.to_string()))?;
        let history = KeyHistory::new(verifier);
        let origin = history.original().origin().to_string();
        if let Some(s) = &saved
            && s.origin != origin
        {
            return Err(EngineError::Verification(format!(
                "saved state: is for another log ({})",
                s.origin
            )));
        }
        Ok(Self {
            history,
            origin,
            log: MemoryLog::new(),
            map: MemoryMap::new(),
            saved,
            subjects: 0,
        })
    }

    /// The tree size verified so far (0 before the first round).
    pub fn size(&self) -> u64 {
        self.log.size()
    }

    /// The position to save: the size, roots and subject map verified.
    pub fn snapshot(&self) -> AuditSnapshot {
        AuditSnapshot {
            origin: self.origin.clone(),
            size: self.log.size(),
            root: self.log.root(),
            map_root: self.map.root(),
            map: self.map.leaves(),
        }
    }

    /// One round: the published checkpoint and everything it adds since the last round. On
    /// an error the auditor is consumed (what it held may be half-advanced).
    pub fn advance(mut self, source: &dyn TileSource) -> Result<(Self, TilesReport)> {
        let fail = |what: String, detail: String| EngineError::Verification(format!("{what}: {detail}"));
        let fetch = |path: &str| -> Result<Vec<u8>> {
            source.fetch(path)?.ok_or_else(|| {
                fail(
                    source.name(path),
                    "missing: the log does not publish what its checkpoint implies".into(),
                )
            })
        };
        // The key history (a log whose key never rotated may publish none): it must walk
        // from the pinned key and extend the one of the last round.
        let kh_name = source.name(KEY_HISTORY_PATH);
        let kh = match source.fetch(KEY_HISTORY_PATH)? {
            None => String::new(),
            Some(b) => String::from_utf8(b).map_err(|_| fail(kh_name.clone(), "not UTF-8".into()))?,
        };
        let notes = split_handover_notes(&kh);
        let history = KeyHistory::from_handovers(self.history.original(), &notes)
            .map_err(|e| fail(kh_name.clone(), e.to_string()))?;
        let had = self.history.notes();
        if notes.len() < had.len() || notes[..had.len()] != had[..] {
            return Err(fail(
                kh_name,
                "is not an extension of the key history verified before (a rewritten history)".into(),
            ));
        }
        self.history = history;
        // The checkpoint, signed by the key of its size.
        let cp_name = source.name(CHECKPOINT_PATH);
        let note = String::from_utf8(fetch(CHECKPOINT_PATH)?).map_err(|_| fail(cp_name.clone(), "not UTF-8".into()))?;
        let cp = self
            .history
            .verify_checkpoint(&note)
            .map_err(|e| fail(cp_name.clone(), e.to_string()))?;
        let size = cp.size();
        let map_root = match cp.map_root() {
            Ok(Some(m)) => m,
            Ok(None) => return Err(fail(cp_name, "commits to no subject map".into())),
            Err(e) => return Err(fail(cp_name, e.to_string())),
        };
        let before = self.log.size();
        let floor = self.saved.as_ref().map_or(0, |s| s.size).max(before);
        if floor > size {
            return Err(fail(
                cp_name,
                format!("is for {size} receipts, fewer than the {floor} verified before (the log shrank)"),
            ));
        }
        let saved = self.saved.take();
        let check_saved = |log: &MemoryLog, map: &MemoryMap| -> Result<()> {
            if let Some(s) = &saved
                && s.size == log.size()
            {
                if log.root() != s.root {
                    return Err(fail(
                        format!("the log at size {}", s.size),
                        "is not the tree verified before (a fork or rewrite)".into(),
                    ));
                }
                if map.root() != s.map_root {
                    return Err(fail(
                        format!("the log at size {}", s.size),
                        "its subject map is not the one verified before".into(),
                    ));
                }
            }
            Ok(())
        };
        check_saved(&self.log, &self.map)?;
        let width = credseal_c2sp::TILE_WIDTH;
        let full = size / width;
        let partial = (size % width) as u16;
        let first = before / width;
        let bundle_tiles = (first..full)
            .map(|i| Tile::new(TileKind::Entries, i, width as u16))
            .chain((partial > 0 && full >= first).then(|| Tile::new(TileKind::Entries, full, partial)));
        let mut bundles = 0u64;
        let bundle_tiles: Vec<Tile> = bundle_tiles
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        // The signatures dominate an audit: those of a group of bundles are checked on every
        // core at once, then the entries are replayed in order (index, chain, map, tree), so
        // the first failure reported is still the first in log order.
        let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
        for group in bundle_tiles.chunks(AUDIT_GROUP) {
            let mut raw = Vec::with_capacity(group.len());
            for tile in group {
                raw.push((tile, source.name(&tile.path()), fetch(&tile.path())?));
            }
            let mut fetched = Vec::with_capacity(group.len());
            for (tile, name, bytes) in &raw {
                let entries = parse_entry_bundle(tile, bytes).map_err(|e| fail(name.clone(), e.to_string()))?;
                bundles += 1;
                fetched.push((*tile, name, entries));
            }
            // Every new entry long enough to hold a signature, in log order.
            let jobs: Vec<(&[u8], &[u8])> = fetched
                .iter()
                .flat_map(|(tile, _, entries)| {
                    entries.iter().enumerate().filter_map(move |(k, e)| {
                        let idx = tile.index() * width + k as u64;
                        (idx >= before && e.len() > SIGNATURE_LEN).then(|| e.split_at(e.len() - SIGNATURE_LEN))
                    })
                })
                .collect();
            let history = &self.history;
            let per = jobs.len().div_ceil(threads).max(1);
            let mut checked: Vec<std::result::Result<credseal_log::ReceiptHeader, String>> =
                Vec::with_capacity(jobs.len());
            std::thread::scope(|sc| {
                let handles: Vec<_> = jobs
                    .chunks(per)
                    .map(|chunk| {
                        sc.spawn(move || {
                            chunk
                                .iter()
                                .map(|(h, sig)| history.verify_header(h, sig).map_err(|e| e.to_string()))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                for h in handles {
                    match h.join() {
                        Ok(v) => checked.extend(v),
                        Err(_) => checked.push(Err("the signature check failed (a thread panicked)".into())),
                    }
                }
            });
            let mut checked = checked.into_iter();
            for (tile, name, entries) in &fetched {
                for (k, entry) in entries.iter().enumerate() {
                    let idx = tile.index() * width + k as u64;
                    let what = || format!("{name}: entry {k} (receipt {idx})");
                    if entry.len() < SIGNATURE_LEN + 1 {
                        return Err(fail(what(), "shorter than a header and a signature".into()));
                    }
                    let (header, signature) = entry.split_at(entry.len() - SIGNATURE_LEN);
                    if idx < before {
                        // Verified in an earlier round (this bundle was partial then): it
                        // must be the same entry.
                        let leaf = receipt_leaf_hash(header, signature);
                        let had = self.log.stored()[credseal_c2sp::stored_hash_index(0, idx) as usize];
                        if leaf != had {
                            return Err(fail(
                                what(),
                                "is not the entry verified before at this index (a fork or rewrite)".into(),
                            ));
                        }
                        continue;
                    }
                    let h = checked
                        .next()
                        .ok_or_else(|| EngineError::Internal("an entry's signature check is missing".into()))?
                        .map_err(|e| fail(what(), e))?;
                    if h.index != idx {
                        return Err(fail(what(), format!("says it is receipt {}", h.index)));
                    }
                    let leaf = receipt_leaf_hash(header, signature);
                    if let (Some(subject), Some(chain)) = (&h.subject, h.chain) {
                        let key = map_key(subject);
                        let (want_counter, want_prev) =
                            self.map.get(&key).map_or((1, None), |p| (p.count + 1, Some(p.head)));
                        if want_counter == 1 {
                            self.subjects += 1;
                        }
                        if chain.counter != want_counter || chain.prev != want_prev {
                            return Err(fail(
                                what(),
                                format!(
                                    "breaks its subject's chain (counter {}, expected {want_counter})",
                                    chain.counter
                                ),
                            ));
                        }
                        self.map.update(vec![(
                            key,
                            MapValue {
                                count: chain.counter,
                                head: leaf,
                                index: idx,
                            },
                        )]);
                    }
                    self.log.append_record_hash(leaf);
                    check_saved(&self.log, &self.map)?;
                }
            }
        }
        if self.log.root() != *cp.root() {
            return Err(fail(
                source.name(CHECKPOINT_PATH),
                "its tree root does not match the tree of the entries".into(),
            ));
        }
        if self.map.root() != map_root {
            return Err(fail(
                source.name(CHECKPOINT_PATH),
                "its subject-map root disagrees with the map rebuilt from the entries".into(),
            ));
        }
        // The hash tiles, against the tree of the entries: all of them in the first round,
        // then those not full below the size verified before.
        let mut hash_tiles = 0u64;
        for tile in tiles_for_size(size) {
            let span = width.saturating_pow(u32::from(tile.level()) + 1);
            if tile.is_full() && (tile.index() + 1).saturating_mul(span) <= before {
                continue;
            }
            let name = source.name(&tile.path());
            let got = parse_hash_tile(&tile, &fetch(&tile.path())?).map_err(|e| fail(name.clone(), e.to_string()))?;
            // Cannot fail: the in-memory log holds every stored hash of its tree.
            let want = read_tile_hashes(&tile, &self.log).map_err(|e| EngineError::Internal(e.to_string()))?;
            if let Some(i) = got.iter().zip(&want).position(|(g, w)| g != w) {
                return Err(fail(name, format!("hash {i} does not match the entries")));
            }
            hash_tiles += 1;
        }
        let report = TilesReport {
            origin: self.origin.clone(),
            size,
            from: floor,
            receipts: size - before,
            bundles,
            hash_tiles,
            subjects: self.subjects,
            checkpoint: note,
            log_keys: self
                .history
                .ranges()
                .iter()
                .map(|r| r.key.public().to_bytes())
                .collect(),
        };
        Ok((self, report))
    }
}
