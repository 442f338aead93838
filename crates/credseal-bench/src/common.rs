//! What every benchmark shares: its platform, the store and keystore it opens itself, the
//! floor's plain sled writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use credseal_core::Catalog;
use credseal_crypto::{KdfParams, Keystore, Passphrase};
use credseal_engine::{Clock, DB_DIR, InitOptions, KeySource, OpenOptions, Platform, SystemClock};
use credseal_store::{SledStore, Store};

use crate::error::{BenchError, Result};

/// The origin of every benchmark platform.
pub(crate) const BENCH_ORIGIN: &str = "bench.credseal.invalid/log";

/// The passphrase of every benchmark platform.
pub(crate) fn bench_passphrase() -> Passphrase {
    Passphrase::new("bench".into())
}

/// The time now (Unix seconds) from the system clock.
pub(crate) fn now() -> Result<u64> {
    Ok(Clock::now(&SystemClock)?)
}

/// Parses a benchmark's catalogue.
pub(crate) fn parse_catalog(text: &str) -> Result<Catalog> {
    Catalog::parse(text, Some("catalog")).map_err(|e| BenchError::Engine(credseal_engine::EngineError::Catalog(e)))
}

/// A benchmark's platform in a fresh data directory, with the bench's own handle on the
/// same store and its own copy of the keystore, read from the keystore file with the
/// passphrase (as a test of that directory would): the bench reads stored data and keys
/// from those to set up the floor and check results, never through the platform.
pub(crate) struct BenchPlatform {
    /// The platform: "ours" (shared with the in-process server of `bench serve`).
    pub(crate) platform: Arc<Platform>,
    /// The bench's handle on the platform's store.
    pub(crate) store: Arc<SledStore>,
    /// The bench's copy of the keystore as it was when the platform opened.
    pub(crate) keys: Keystore,
    /// The data directory.
    pub(crate) dir: PathBuf,
}

impl BenchPlatform {
    /// A fresh platform in `dir` for a benchmark: generated keys under the cheapest allowed
    /// KDF (the benchmarks time the platform, not the passphrase).
    pub(crate) fn init(dir: &Path, pass: &Passphrase, catalog_text: &str) -> Result<Self> {
        Self::init_with(dir, pass, catalog_text, None)
    }

    /// [`BenchPlatform::init`], with the keys in the PKCS#11 token `token` (then `pass` is
    /// its user PIN, `Passphrase::token_pin`).
    pub(crate) fn init_with(
        dir: &Path,
        pass: &Passphrase,
        catalog_text: &str,
        token: Option<credseal_engine::Pkcs11Config>,
    ) -> Result<Self> {
        let keys = match token {
            Some(cfg) => KeySource::Token(cfg),
            None => KeySource::Generate(KdfParams {
                m_kib: KdfParams::MIN_M_KIB,
                t: 1,
                p: 1,
            }),
        };
        Self::init_keys(dir, pass, catalog_text, keys)
    }

    /// [`BenchPlatform::init`] with the keystore sealed at `kdf`'s cost.
    pub(crate) fn init_with_kdf(dir: &Path, pass: &Passphrase, catalog_text: &str, kdf: KdfParams) -> Result<Self> {
        Self::init_keys(dir, pass, catalog_text, KeySource::Generate(kdf))
    }

    /// A fresh platform in `dir` with its keys from `keys`.
    fn init_keys(dir: &Path, pass: &Passphrase, catalog_text: &str, keys: KeySource) -> Result<Self> {
        Platform::init(&InitOptions {
            dir,
            catalog_text,
            catalog_name: "catalog",
            origin: BENCH_ORIGIN,
            passphrase: pass,
            keys,
            now: now()?,
        })?;
        let config = Platform::read_config(dir)?;
        let keys = Platform::read_keystore(&dir.join(&config.keystore), pass, OpenOptions::default())?;
        let store = Arc::new(SledStore::open(&dir.join(DB_DIR), false)?);
        let platform = Arc::new(Platform::with_store(
            parse_catalog(catalog_text)?,
            keys.clone(),
            Arc::clone(&store) as Arc<dyn Store>,
        )?);
        Ok(Self {
            platform,
            store,
            keys,
            dir: dir.to_path_buf(),
        })
    }

    /// The directory of the platform's database.
    pub(crate) fn db_dir(&self) -> PathBuf {
        self.dir.join(DB_DIR)
    }

    /// Closes the platform and the store (sled writes its state out when its last handle
    /// drops), so that the database's size on disk can be measured.
    pub(crate) fn close(self) {
        drop(self.platform);
        drop(self.store);
    }
}

/// Writes the synthetic input of `subjects` subjects (one record per class) to `path`;
/// returns the number of records.
pub(crate) fn write_input(catalog: &Catalog, subjects: u64, path: &Path) -> Result<u64> {
    let file = std::fs::File::create(path).map_err(|e| BenchError::io(path, e))?;
    let mut f = std::io::BufWriter::new(file);
    let records =
        credseal_testkit::synthetic::write_synthetic(catalog, subjects, &mut f).map_err(|e| BenchError::io(path, e))?;
    f.flush().map_err(|e| BenchError::io(path, e))?;
    Ok(records)
}

/// The sum of the file lengths under `p`.
pub(crate) fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

/// The bytes the file system holds for the files under `p` (their allocated blocks: a
/// compacted value log's holes do not count).
pub(crate) fn dir_allocated(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_allocated(&e.path()),
                Ok(m) => n += m.blocks() * 512,
                Err(_) => {}
            }
        }
    }
    n
}

/// A key as the sled backend stores it: the tree's tag, then the key.
pub(crate) fn raw_key(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(tag);
    k.extend_from_slice(key);
    k
}

/// The floor's database: a fresh sled database in `dir`, configured as the platform's.
pub(crate) struct FloorDb {
    db: sled::Db,
    dir: PathBuf,
}

impl FloorDb {
    /// Creates the floor's database in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let db = credseal_store::sled_config(dir)
            .open()
            .map_err(|source| BenchError::FloorDatabase {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            db,
            dir: dir.to_path_buf(),
        })
    }

    fn err(&self, source: sled::Error) -> BenchError {
        BenchError::FloorDatabase {
            path: self.dir.clone(),
            source,
        }
    }

    /// Applies one plain batch.
    pub(crate) fn apply(&self, batch: sled::Batch) -> Result<()> {
        self.db.apply_batch(batch).map_err(|e| self.err(e))
    }

    /// The floor's storage work: `kvs` (raw keys and values) written in plain batches of
    /// `per_batch`, then flushed.
    pub(crate) fn write_all(&self, kvs: &[(Vec<u8>, Vec<u8>)], per_batch: usize) -> Result<()> {
        for chunk in kvs.chunks(per_batch.max(1)) {
            let mut b = sled::Batch::default();
            for (k, v) in chunk {
                b.insert(k.as_slice(), v.as_slice());
            }
            self.apply(b)?;
        }
        self.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// The value at quantile `p` of `sorted` (nearest rank), 0 for no values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
