//! The crate's one error type.

use std::path::PathBuf;

/// Why a storage operation failed.
///
/// The variants tell the caller what to do next: [`StoreError::NotFound`] means "wrong path or
/// run `init` first", [`StoreError::Locked`] means "another process has it open", and so on.
/// No variant carries stored keys or values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no store at `path`: the directory is missing, or it holds no database and the
    /// caller did not ask to create one.
    #[error("no store at {}", path.display())]
    NotFound {
        /// The directory that was opened.
        path: PathBuf,
    },
    /// The store at `path` is already open, by another process or by another handle in this
    /// process (the sled backend holds an exclusive file lock while open).
    #[error("store at {} is locked: it is already open in another process or handle", path.display())]
    Locked {
        /// The directory that was opened.
        path: PathBuf,
    },
    /// The store at `path` cannot be written: read-only file system or permission denied.
    #[error("store at {} is read-only or permission was denied", path.display())]
    ReadOnly {
        /// The directory that was opened.
        path: PathBuf,
    },
    /// The store directory `path` can be written by its group or by every user (`mode`, the
    /// permission bits found): someone else could plant files in it, such as a symbolic link
    /// that makes the store overwrite another file. Nothing was opened or written.
    #[error(
        "store directory {} has mode {mode:03o}: its group or other users may write to it and could plant files in it; make it private (chmod 700)",
        path.display()
    )]
    Insecure {
        /// The directory that was opened.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The stored data is damaged, is not a credseal store, or has a format this version
    /// does not read. Also a store file that is a symbolic link, not a regular file, or has
    /// more than one hard link (planted to make the store write elsewhere): tampering with
    /// the store directory.
    #[error("store is corrupt: {detail}")]
    Corrupt {
        /// What was found, for the operator (never stored keys or values).
        detail: String,
    },
    /// Any other input/output or backend failure (disk full, I/O error, backend bug).
    #[error("store I/O error: {detail}")]
    Io {
        /// The underlying error, for the operator.
        detail: String,
    },
}
