//! Backups: `credseal backup` (a consistent snapshot of a data directory, taken while the
//! platform serves) and `credseal restore` (checked against its manifest and against what
//! subjects and auditors have seen of the log). docs/design.md §10 "Backups", formats.md §11c.
//!
//! The snapshot is taken by whoever holds the store: a process that has the data directory
//! open (`credseal serve`) answers on the data directory's backup socket
//! ([`BackupService`]); otherwise [`backup`] opens the store itself and holds it meanwhile.
//! Either way the keystore file is read and the store copied while no key change can run,
//! so the pair is one the platform's crash recovery accepts (formats.md §11c).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use credseal_c2sp::{Hash, tree_hash};
use credseal_store::{SledStore, Store, StoreError};

use crate::components::datadir::{
    self, CATALOG_FILE, CONFIG_FILE, Config, DB_DIR, DataDir, KEYSTORE_FILE, LOG_KEY_FILE, VRF_KEY_FILE,
};
use crate::error::{EngineError, ErrorClass, Result};
use crate::logtree::Hashes;
use crate::{Platform, PublicLog};

/// The manifest's name in a backup directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// The signed checkpoint at the snapshot, in a backup directory (absent for an empty log).
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// The backup socket's name in a data directory (created by [`BackupService::start`]).
pub const BACKUP_SOCKET: &str = "backup.sock";
/// First line of a manifest.
const MANIFEST_MAGIC: &str = "credseal-backup 1";
/// Longest manifest read (a store has a few hundred files at most).
const MAX_MANIFEST: u64 = 4 << 20;
/// Longest request line on the backup socket.
const MAX_REQUEST: u64 = 4096;

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// The receipts in the backup's log.
    pub tree_size: u64,
    /// Files listed in the manifest.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// A view of the log someone saved (a subject's `receipts verify` state, an auditor's
/// position): the backup restored must contain it as a prefix.
#[derive(Clone, Debug)]
pub struct SeenState {
    /// The file it came from, for messages.
    pub name: String,
    /// The log's origin it is for.
    pub origin: String,
    /// The tree size seen.
    pub size: u64,
    /// The tree root at that size.
    pub root: Hash,
}

/// One file of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    path: String,
    size: u64,
    sha256: [u8; 32],
}

/// A parsed manifest.
#[derive(Clone, Debug)]
struct Manifest {
    origin: String,
    created: u64,
    tree_size: u64,
    files: Vec<Listed>,
}

impl Manifest {
    fn to_text(&self) -> String {
        let mut t = format!(
            "{MANIFEST_MAGIC}\norigin {}\ncreated {}\ntree-size {}\n",
            self.origin, self.created, self.tree_size
        );
        for f in &self.files {
            t.push_str(&format!(
                "file {} {} {}\n",
                credseal_core::hex(&f.sha256),
                f.size,
                f.path
            ));
        }
        t
    }

    fn parse(text: &str, name: &str) -> Result<Self> {
        let bad = |line: usize, detail: &str| {
            EngineError::Verification(format!("{name}: line {line}: {detail} (the manifest is damaged)"))
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let mut field = |key: &str| -> Result<(usize, String)> {
            let (n, l) = lines.next().ok_or_else(|| bad(0, &format!("missing {key}")))?;
            let v = l
                .strip_prefix(key)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| bad(n, &format!("expected {key}")))?;
            Ok((n, v.to_string()))
        };
        let (n, magic) = field("credseal-backup")?;
        if magic != "1" {
            return Err(bad(n, "not a credseal backup manifest of format 1"));
        }
        let (_, origin) = field("origin")?;
        let num = |(n, v): (usize, String)| v.parse::<u64>().map_err(|_| bad(n, "not a number"));
        let created = num(field("created")?)?;
        let tree_size = num(field("tree-size")?)?;
        let mut files: Vec<Listed> = Vec::new();
        for (n, l) in lines {
            let rest = l.strip_prefix("file ").ok_or_else(|| bad(n, "expected a file line"))?;
            let mut parts = rest.splitn(3, ' ');
            let (Some(h), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(n, "a file line is `file <sha256> <size> <path>`"));
            };
            let sha256 = credseal_core::unhex(h)
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| bad(n, "the digest is not 64 hex digits"))?;
            let size = size.parse::<u64>().map_err(|_| bad(n, "the size is not a number"))?;
            if !safe_relative(path) {
                return Err(bad(n, &format!("{path:?} is not a plain relative path")));
            }
            if files.last().is_some_and(|f| f.path.as_str() >= path) {
                return Err(bad(n, "files are not in strictly increasing order"));
            }
            files.push(Listed {
                path: path.to_string(),
                size,
                sha256,
            });
        }
        Ok(Self {
            origin,
            created,
            tree_size,
            files,
        })
    }
}

/// Whether `p` is a relative path of plain names (no `..`, `.`, root, or empty part), as
/// manifests list them.
fn safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.contains(['\n', '\r', '\\'])
        && Path::new(p).components().all(|c| matches!(c, Component::Normal(_)))
        && !p.ends_with('/')
        && !p.contains("//")
}

/// Every regular file under `root`, as sorted relative paths; a symbolic link or anything
/// else that is not a file or directory is refused, named.
fn list_files(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<String>) -> Result<()> {
        let dir = root.join(rel);
        for e in std::fs::read_dir(&dir).map_err(|e| EngineError::io(&dir, e))? {
            let e = e.map_err(|e| EngineError::io(&dir, e))?;
            let ft = e.file_type().map_err(|err| EngineError::io(e.path(), err))?;
            let name = rel.join(e.file_name());
            if ft.is_dir() {
                walk(root, &name, out)?;
            } else if ft.is_file() {
                let s = name.to_str().filter(|s| safe_relative(s)).ok_or_else(|| {
                    EngineError::Verification(format!("{}: a file name a manifest cannot list", e.path().display()))
                })?;
                out.push(s.to_string());
            } else {
                return Err(EngineError::Verification(format!(
                    "{}: not a regular file or directory (a symbolic link?)",
                    e.path().display()
                )));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}

/// Opens `path` for reading without following a symbolic link.
fn open_read(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// SHA-256 and length of the file at `path`; with `copy_to`, the bytes are also written
/// there (a new file, mode 0600, synced).
fn digest_file(path: &Path, copy_to: Option<&Path>) -> Result<([u8; 32], u64)> {
    let mut f = open_read(path).map_err(|e| EngineError::io(path, e))?;
    let mut out = match copy_to {
        Some(d) => {
            if let Some(parent) = d.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)
                    .map_err(|e| EngineError::io(parent, e))?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(d)
                    .map_err(|e| EngineError::io(d, e))?,
            )
        }
        None => None,
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| EngineError::io(path, e))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        if let (Some(o), Some(d)) = (out.as_mut(), copy_to) {
            o.write_all(&buf[..n]).map_err(|e| EngineError::io(d, e))?;
        }
        len += n as u64;
    }
    if let (Some(o), Some(d)) = (out, copy_to) {
        o.sync_all().map_err(|e| EngineError::io(d, e))?;
    }
    let mut sum = [0u8; 32];
    sum.copy_from_slice(ctx.finish().as_ref());
    Ok((sum, len))
}

/// Checks that `target` can be written: it does not exist, or is an empty directory; its
/// parent exists. Returns a fresh private working directory beside it (to be renamed onto
/// it once complete).
fn prepare_target(target: &Path, what: &str) -> Result<PathBuf> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => {
            let mut entries = std::fs::read_dir(target).map_err(|e| EngineError::io(target, e))?;
            if entries.next().is_some() {
                return Err(EngineError::invalid(
                    what,
                    format!("{} is not empty; refusing to write into it", target.display()),
                ));
            }
        }
        Ok(_) => {
            return Err(EngineError::invalid(
                what,
                format!("{} exists and is not a directory", target.display()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(EngineError::io(target, e)),
    }
    let name = target
        .file_name()
        .ok_or_else(|| EngineError::invalid(what, format!("{} names no directory", target.display())))?;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".partial-{}-{}",
        std::process::id(),
        credseal_core::hex(&credseal_crypto::random_array::<6>())
    ));
    let tmp = parent.join(tmp_name);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| EngineError::io(&tmp, e))?;
    Ok(tmp)
}

/// Renames the complete working directory `tmp` onto `target` (an empty directory there is
/// replaced) and syncs the parent.
fn publish(tmp: &Path, target: &Path) -> Result<()> {
    if let Ok(d) = std::fs::File::open(tmp) {
        let _ = d.sync_all();
    }
    std::fs::rename(tmp, target).map_err(|e| EngineError::io(target, e))?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Runs `f` on a fresh working directory for `target`; on failure the directory is removed,
/// so nothing half-written is left, and on success it becomes `target`.
fn into_target<T>(target: &Path, what: &str, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let tmp = prepare_target(target, what)?;
    match f(&tmp).and_then(|t| publish(&tmp, target).map(|()| t)) {
        Ok(t) => Ok(t),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Writes the snapshot of the data directory `src` (configuration `config`) into the fresh
/// directory `out`: the keystore file and a copy of `store` taken under `hold` (what keeps
/// key changes out meanwhile), then the public files, the checkpoint and the manifest.
fn write_snapshot<G>(
    src: &Path,
    config: &Config,
    store: &dyn Store,
    hold: impl FnOnce() -> Result<G>,
    out: &Path,
    now: u64,
) -> Result<BackupSummary> {
    {
        let _held = hold()?;
        let ks = src.join(&config.keystore);
        digest_file(&ks, Some(&out.join(KEYSTORE_FILE)))?;
        if !store.snapshot(&out.join(DB_DIR))? {
            return Err(EngineError::invalid(
                "backup",
                "this store keeps nothing on disk to back up",
            ));
        }
    }
    // The configuration names the keystore file beside it in the backup.
    let mut cfg = config.clone();
    cfg.keystore = KEYSTORE_FILE.into();
    let text = toml::to_string(&cfg).map_err(|e| EngineError::Internal(format!("encoding the configuration: {e}")))?;
    crate::fsutil::write_new(&out.join(CONFIG_FILE), text.as_bytes(), 0o644)?;
    for f in [CATALOG_FILE, LOG_KEY_FILE, VRF_KEY_FILE] {
        digest_file(&src.join(f), Some(&out.join(f)))?;
    }
    let public = PublicLog::open(out)?;
    credseal_store::wait_closed(&out.join(DB_DIR))?;
    if let Some(cp) = public.latest_checkpoint() {
        crate::fsutil::write_new(&out.join(CHECKPOINT_FILE), cp.as_bytes(), 0o644)?;
    }
    let mut manifest = Manifest {
        origin: config.origin.clone(),
        created: now,
        tree_size: public.log_size(),
        files: Vec::new(),
    };
    for path in list_files(out)? {
        let (sha256, size) = digest_file(&out.join(&path), None)?;
        manifest.files.push(Listed { path, size, sha256 });
    }
    crate::fsutil::write_new(&out.join(MANIFEST_FILE), manifest.to_text().as_bytes(), 0o600)?;
    Ok(BackupSummary {
        tree_size: manifest.tree_size,
        files: manifest.files.len() as u64,
        bytes: manifest.files.iter().map(|f| f.size).sum(),
    })
}

impl Platform {
    /// Writes a consistent snapshot of this platform's data directory into `out` (which
    /// must not exist, or be an empty directory): the keystore file and a copy of the store
    /// taken together while no key change runs (queries and ingests go on; writes wait while
    /// the store's entries are copied), the configuration, catalogue and public key files,
    /// the signed checkpoint at the snapshot and a manifest with every file's SHA-256. The
    /// backup is written beside `out` and renamed onto it when complete.
    pub fn backup(&self, out: &Path) -> Result<BackupSummary> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| EngineError::invalid("backup", "this platform has no data directory"))?;
        let now = self.now()?;
        into_target(out, "--out", |tmp| {
            write_snapshot(
                dir.path(),
                dir.config(),
                &*self.store,
                || self.vault.hold_key_changes(),
                tmp,
                now,
            )
        })
    }
}

/// `credseal backup`: a snapshot of the data directory `dir` into `out`. If no process has
/// the directory open, the store is opened here and held while it is copied; if one does, it
/// is asked over the directory's backup socket ([`BackupService`]) to write the snapshot.
pub fn backup(dir: &Path, out: &Path, now: u64) -> Result<BackupSummary> {
    let config = DataDir::read_config(dir)?;
    datadir::check_private(dir)?;
    match SledStore::open(&dir.join(DB_DIR), false) {
        Ok(store) => {
            // Holding the store keeps every other process out, key changes included.
            let r = into_target(out, "--out", |tmp| {
                write_snapshot(dir, &config, &store, || Ok(()), tmp, now)
            });
            drop(store);
            r
        }
        Err(StoreError::Locked { .. }) => request_backup(dir, out),
        Err(e) => Err(e.into()),
    }
}

/// Asks the process serving `dir` for a snapshot into `out`.
fn request_backup(dir: &Path, out: &Path) -> Result<BackupSummary> {
    let sock = dir.join(BACKUP_SOCKET);
    let mut s = UnixStream::connect(&sock).map_err(|e| {
        EngineError::NotReady(format!(
            "{} is in use by another process, and {} does not answer ({e}): only `credseal serve` \
             takes backups while it runs; stop the other process or retry",
            dir.display(),
            sock.display()
        ))
    })?;
    // The server resolves the path in its own working directory: send it absolute.
    let abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| EngineError::io(".", e))?.join(out)
    };
    let path = abs
        .to_str()
        .filter(|p| !p.contains(['\n', '\r']))
        .ok_or_else(|| EngineError::invalid("--out", "the path is not UTF-8 on one line"))?;
    s.write_all(format!("backup {path}\n").as_bytes())
        .map_err(|e| EngineError::io(&sock, e))?;
    let mut line = String::new();
    BufReader::new(s.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| EngineError::io(&sock, e))?;
    let line = line.trim_end();
    if let Some(rest) = line.strip_prefix("ok ") {
        let n: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
        if let [tree_size, files, bytes] = n[..] {
            return Ok(BackupSummary {
                tree_size,
                files,
                bytes,
            });
        }
    } else if let Some(rest) = line.strip_prefix("error ") {
        let (class, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        let msg = format!("the serving process: {msg}");
        return Err(match class {
            "2" => EngineError::invalid("backup", msg),
            "4" => EngineError::Verification(msg),
            _ => EngineError::NotReady(msg),
        });
    }
    Err(EngineError::NotReady(format!(
        "{}: the serving process gave no answer (did it stop?)",
        sock.display()
    )))
}

/// The backup socket of a running platform (`credseal serve`): `backup.sock` in its data
/// directory, mode 0600, answering only processes of the platform's own user (checked with
/// the peer's credentials). One request at a time: `backup <absolute path>\n`, answered with
/// `ok <tree size> <files> <bytes>\n` or `error <exit class> <message>\n`. Stopped and
/// removed when dropped.
pub struct BackupService {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for BackupService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupService").field("path", &self.path).finish()
    }
}

impl BackupService {
    /// Listens on `backup.sock` in the platform's data directory (a socket left by a process
    /// that died is replaced; anything else there is refused).
    pub fn start(platform: Arc<Platform>) -> Result<Self> {
        let dir = platform
            .dir
            .as_ref()
            .ok_or_else(|| EngineError::invalid("backup", "this platform has no data directory"))?;
        let path = dir.path().join(BACKUP_SOCKET);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                // We hold the store's lock: no live process serves this directory.
                std::fs::remove_file(&path).map_err(|e| EngineError::io(&path, e))?;
            }
            Ok(_) => {
                return Err(EngineError::invalid(
                    "backup socket",
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Err(_) => {}
        }
        let listener = UnixListener::bind(&path).map_err(|e| EngineError::io(&path, e))?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| EngineError::io(&path, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("credseal-backup".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(c) = conn {
                            answer(&platform, c);
                        }
                    }
                })
                .map_err(|e| EngineError::Internal(format!("starting the backup socket: {e}")))?
        };
        Ok(Self {
            path,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BackupService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers one connection on the backup socket.
fn answer(platform: &Platform, mut c: UnixStream) {
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let reply = match serve_request(platform, &c) {
        Ok(s) => format!("ok {} {} {}\n", s.tree_size, s.files, s.bytes),
        Err(e) => {
            let class = match e.class() {
                ErrorClass::Usage => 2,
                ErrorClass::Verification => 4,
                _ => 1,
            };
            format!("error {class} {}\n", e.to_string().replace(['\n', '\r'], " "))
        }
    };
    let _ = c.write_all(reply.as_bytes());
}

fn serve_request(platform: &Platform, c: &UnixStream) -> Result<BackupSummary> {
    let peer = rustix::net::sockopt::socket_peercred(c)
        .map_err(|e| EngineError::denied("backup-peer", format!("the peer's credentials: {e}")))?;
    let me = rustix::process::geteuid();
    if peer.uid != me {
        return Err(EngineError::denied(
            "backup-peer",
            format!(
                "only the platform's own user may take backups (peer uid {})",
                peer.uid.as_raw()
            ),
        ));
    }
    let mut line = String::new();
    BufReader::new(c.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| EngineError::invalid("backup request", e.to_string()))?;
    let path = line
        .strip_suffix('\n')
        .and_then(|l| l.strip_prefix("backup "))
        .map(Path::new)
        .filter(|p| p.is_absolute())
        .ok_or_else(|| EngineError::invalid("backup request", "expected `backup <absolute path>`"))?;
    platform.backup(path)
}

/// What [`restore`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The receipts in the restored log.
    pub tree_size: u64,
    /// The restored log's origin.
    pub origin: String,
    /// Files restored.
    pub files: u64,
}

/// `credseal restore`: checks the backup in `backup` against its manifest (every listed file
/// present with its size and SHA-256, no other file), copies it into a working directory
/// beside `target` (which must not exist, or be empty), checks the copy (its log's size and
/// checkpoint are the manifest's; every `seen` state is a prefix of its log: same origin,
/// size not above the backup's, the same tree root at that size), and only then renames it
/// onto `target`. Any failure leaves `target` as it was and removes the working directory.
///
/// Errors of the backup are [`EngineError::Verification`] (exit 4) naming the file, or the
/// sizes for a backup older than a saved state.
pub fn restore(backup: &Path, target: &Path, seen: &[SeenState]) -> Result<Restored> {
    let mpath = backup.join(MANIFEST_FILE);
    let mut text = String::new();
    open_read(&mpath)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                EngineError::Verification(format!("{}: missing: not a credseal backup", mpath.display()))
            }
            _ => EngineError::io(&mpath, e),
        })?
        .take(MAX_MANIFEST)
        .read_to_string(&mut text)
        .map_err(|e| EngineError::Verification(format!("{}: {e}", mpath.display())))?;
    let manifest = Manifest::parse(&text, &mpath.display().to_string())?;
    // Extra files first: cheap, and names the intruder.
    let listed: std::collections::BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in list_files(backup)? {
        if f != MANIFEST_FILE && !listed.contains(f.as_str()) {
            return Err(EngineError::Verification(format!(
                "{}: not listed in the manifest (an extra file)",
                backup.join(&f).display()
            )));
        }
    }
    into_target(target, "--data", |tmp| {
        for f in &manifest.files {
            let from = backup.join(&f.path);
            if std::fs::symlink_metadata(&from).is_err() {
                return Err(EngineError::Verification(format!(
                    "{}: listed in the manifest but missing",
                    from.display()
                )));
            }
            // The copy is what is checked (and kept), not the file read a moment before.
            let (sum, size) = digest_file(&from, Some(&tmp.join(&f.path)))?;
            if size != f.size || sum != f.sha256 {
                return Err(EngineError::Verification(format!(
                    "{}: does not match the manifest (size {size}, listed {}; or its SHA-256 differs)",
                    from.display(),
                    f.size
                )));
            }
        }
        let public = PublicLog::open(tmp)?;
        if public.log_size() != manifest.tree_size || public.log_vkey() != read_vkey(tmp)? {
            return Err(EngineError::Verification(format!(
                "{}: names a log of {} receipts, the backup's database holds {}",
                mpath.display(),
                manifest.tree_size,
                public.log_size()
            )));
        }
        let cp_file = tmp.join(CHECKPOINT_FILE);
        let cp_saved = std::fs::read_to_string(&cp_file).ok();
        if cp_saved.as_deref() != public.latest_checkpoint() {
            return Err(EngineError::Verification(format!(
                "{}: is not the backup database's latest checkpoint",
                backup.join(CHECKPOINT_FILE).display()
            )));
        }
        check_seen(tmp, &manifest, seen)?;
        credseal_store::wait_closed(&tmp.join(DB_DIR))?;
        Ok(Restored {
            tree_size: manifest.tree_size,
            origin: manifest.origin.clone(),
            files: manifest.files.len() as u64,
        })
    })
}

/// The one line of the copied `log-key.pub`.
fn read_vkey(dir: &Path) -> Result<String> {
    let p = dir.join(LOG_KEY_FILE);
    Ok(std::fs::read_to_string(&p)
        .map_err(|e| EngineError::io(&p, e))?
        .trim()
        .to_string())
}

/// Refuses a restore whose log does not contain each saved view as a prefix.
fn check_seen(dir: &Path, manifest: &Manifest, seen: &[SeenState]) -> Result<()> {
    if seen.is_empty() {
        return Ok(());
    }
    let store = SledStore::open(&dir.join(DB_DIR), false)?;
    let none = std::collections::HashMap::new();
    let hashes = Hashes {
        store: &store,
        overlay: &none,
    };
    for s in seen {
        if s.origin != manifest.origin {
            return Err(EngineError::Verification(format!(
                "{}: is a view of the log {:?}, the backup holds {:?}",
                s.name, s.origin, manifest.origin
            )));
        }
        if s.size > manifest.tree_size {
            return Err(EngineError::Verification(format!(
                "{}: has seen the log at {} receipts, the backup holds only {}: restoring it would \
                 roll the log back past what was shown (a fork)",
                s.name, s.size, manifest.tree_size
            )));
        }
        let root = tree_hash(s.size, &hashes).map_err(|e| EngineError::Corrupt {
            what: format!("the backup's log at size {}", s.size),
            detail: e.to_string(),
        })?;
        if root != s.root {
            return Err(EngineError::Verification(format!(
                "{}: the backup's log at {} receipts is not the tree it saw (a fork or a rewrite)",
                s.name, s.size
            )));
        }
    }
    Ok(())
}
