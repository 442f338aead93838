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
    fs::read(path).map_err(|e| EngineError::io(path, e))
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
