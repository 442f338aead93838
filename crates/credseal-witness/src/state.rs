//! The state directory: one file per log, `<sha256(origin) hex>`, holding the latest
//! checkpoint the witness cosigned as a note (the log signature(s) it verified and its own
//! cosignature); a lock file that keeps a second witness process out.
//!
//! A file is replaced atomically: the new note goes to `<name>.tmp`, is fsynced, renamed over
//! the old one, and the directory is fsynced, before the witness answers.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::WitnessError;

/// The lock file's name inside the state directory.
const LOCK_FILE: &str = "lock";

/// The largest state file read back: a state is one checkpoint note, at most a note's length.
const MAX_STATE_FILE: u64 = credseal_c2sp::MAX_NOTE_LEN as u64;

fn io(path: &Path, e: std::io::Error) -> WitnessError {
    WitnessError::Io {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// The locked state directory.
#[derive(Debug)]
pub(crate) struct StateDir {
    dir: PathBuf,
    /// Held open (and locked) for the witness's lifetime.
    _lock: File,
    /// The directory itself, also locked: deleting or renaming the lock file does not let a
    /// second process in.
    _dir_lock: File,
}

impl StateDir {
    /// Creates the directory (mode 0700) if needed and takes its lock; another process
    /// holding it is an error.
    pub(crate) fn open(dir: &Path) -> Result<Self, WitnessError> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir).map_err(|e| io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(WitnessError::Locked { path: lock_path }),
            Err(fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
        }
        let dir_lock = File::open(dir).map_err(|e| io(dir, e))?;
        match dir_lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(WitnessError::Locked {
                    path: dir.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(dir, e)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
            _dir_lock: dir_lock,
        })
    }

    /// The file of the log whose origin hashes to `hex`.
    pub(crate) fn path(&self, hex: &str) -> PathBuf {
        self.dir.join(hex)
    }

    /// The state of one log, `None` if the witness never cosigned for it. Read up to
    /// [`MAX_STATE_FILE`] and refused beyond it: a state is one checkpoint note.
    pub(crate) fn read(&self, hex: &str) -> Result<Option<(PathBuf, Vec<u8>)>, WitnessError> {
        use std::io::Read as _;
        let path = self.path(hex);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let mut b = Vec::new();
        f.take(MAX_STATE_FILE + 1)
            .read_to_end(&mut b)
            .map_err(|e| io(&path, e))?;
        if b.len() as u64 > MAX_STATE_FILE {
            return Err(io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("larger than {} KiB: not a witness state file", MAX_STATE_FILE >> 10),
                ),
            ));
        }
        Ok(Some((path, b)))
    }

    /// Replaces the state of one log atomically and durably.
    pub(crate) fn write(&self, hex: &str, note: &str) -> Result<(), WitnessError> {
        let path = self.path(hex);
        let tmp = self.dir.join(format!("{hex}.tmp"));
        let r = (|| {
            let _ = fs::remove_file(&tmp);
            let mut o = OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&tmp)?;
            f.write_all(note.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if r.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        r.map_err(|e| io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time_and_atomic_writes() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(&d.path().join("state")).unwrap();
        assert!(matches!(
            StateDir::open(&d.path().join("state")),
            Err(WitnessError::Locked { .. })
        ));
        assert!(s.read("ab").unwrap().is_none());
        s.write("ab", "one\n").unwrap();
        s.write("ab", "two\n").unwrap();
        assert_eq!(s.read("ab").unwrap().unwrap().1, b"two\n");
        // Only the lock and the state file: no temporary left behind.
        assert_eq!(fs::read_dir(d.path().join("state")).unwrap().count(), 2);
        // The lock file deleted under a running witness: the directory's own lock holds.
        fs::remove_file(d.path().join("state").join(LOCK_FILE)).unwrap();
        assert!(matches!(
            StateDir::open(&d.path().join("state")),
            Err(WitnessError::Locked { .. })
        ));
        drop(s);
        assert!(StateDir::open(&d.path().join("state")).is_ok());
    }

    #[test]
    fn a_state_file_over_a_note_s_length_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(&d.path().join("state")).unwrap();
        fs::write(s.path("ab"), vec![b'x'; MAX_STATE_FILE as usize + 1]).unwrap();
        let e = s.read("ab").unwrap_err().to_string();
        assert!(e.contains("larger than 128 KiB: not a witness state file"), "{e}");
        fs::write(s.path("ab"), vec![b'x'; MAX_STATE_FILE as usize]).unwrap();
        assert_eq!(s.read("ab").unwrap().unwrap().1.len(), MAX_STATE_FILE as usize);
    }
}
