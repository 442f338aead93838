//! File writes that are atomic, private (mode 0600) and never silently overwrite.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

fn write_tmp(tmp: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = o.open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(path: &Path) {
    // Best effort: some file systems do not support fsync on directories.
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}

/// Writes a new file atomically with `mode`; fails if `path` exists (no clobbering, even
/// against a racing writer: the final step is a hard link, which never replaces).
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    if path.exists() {
        return Err(EngineError::AlreadyExists { path: path.into() });
    }
    let tmp = tmp_path(path);
    let r = write_tmp(&tmp, bytes, mode).and_then(|()| fs::hard_link(&tmp, path));
    let _ = fs::remove_file(&tmp);
    match r {
        Ok(()) => {
            sync_dir(path);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(EngineError::AlreadyExists { path: path.into() })
        }
        Err(e) => Err(EngineError::io(path, e)),
    }
}

/// Replaces `path` atomically (write a temporary file, fsync, rename, fsync the directory).
/// A reader sees the old file or the new one, never a mix.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    // Only a regular file is replaced: a device, a pipe or a directory given by mistake
    // (`--state /dev/zero` run as root) must not be renamed over.
    if let Ok(m) = fs::symlink_metadata(path)
        && !m.file_type().is_file()
        && !m.file_type().is_symlink()
    {
        return Err(EngineError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file; refusing to replace it",
            ),
        ));
    }
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let r = write_tmp(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, path));
    if r.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    r.map_err(|e| EngineError::io(path, e))?;
    sync_dir(path);
    Ok(())
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_bounded(path, MAX_SMALL_FILE)
}

/// The most a data directory's small files (configuration, catalogue, keystore, public
/// files) may hold: refused beyond it while reading, so `/dev/zero` in their place fails at
/// once with bounded memory.
pub const MAX_SMALL_FILE: u64 = 64 << 20;

/// `path`'s bytes, refused (an I/O error naming the file and the limit) beyond `max`.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let f = fs::File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| EngineError::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(EngineError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {} MiB", max >> 20),
            ),
        ));
    }
    Ok(bytes)
}

/// Whether a key file is readable by group or others (warn about it).
pub fn too_open(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o077 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_new_never_clobbers_and_is_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key");
        write_new(&p, b"one", 0o600).unwrap();
        assert!(matches!(
            write_new(&p, b"two", 0o600),
            Err(EngineError::AlreadyExists { .. })
        ));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert!(!too_open(&p));
        replace(&p, b"three", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        assert!(!too_open(&p));
        // No temporary files left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
