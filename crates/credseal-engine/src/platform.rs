//! A platform: its data directory, catalogue, keystore and store.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use credseal_core::{BlindId, Catalog, Record, RecordBody, SubjectId};
use credseal_crypto::{Dek, DekContext, KdfParams, Keystore, Passphrase, RecordContext, demo};
use credseal_store::{MemoryStore, SledStore, Store, Tree};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::bundle::{Entry, SubjectRecords};
use crate::error::{EngineError, Result};
use crate::fsutil;
use crate::layout::{self, short};

/// Name of the configuration file that marks a data directory.
pub const CONFIG_FILE: &str = "credseal.toml";
/// Name of the catalogue copy in a data directory.
pub const CATALOG_FILE: &str = "catalog.toml";
/// Default keystore file name in a data directory.
pub const KEYSTORE_FILE: &str = "keystore";
/// Name of the database directory.
pub const DB_DIR: &str = "db";

/// The configuration file of a data directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Configuration format (1).
    pub format: u32,
    /// The log origin: the platform's name, used as the audience of tokens and in checkpoints.
    pub origin: String,
    /// Keystore path, relative to the data directory or absolute.
    pub keystore: PathBuf,
    /// Query policy; omitted: the safe defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyConfig>,
}

/// The `[policy]` table of `credseal.toml`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Clock skew tolerated at the start of validity windows (default 120 s, at most 600).
    pub max_skew_secs: Option<u64>,
    /// Longest token lifetime accepted (default 900 s, at most 86,400).
    pub max_token_lifetime_secs: Option<u64>,
}

impl PolicyConfig {
    /// The policy, or an error naming the setting out of range.
    pub fn policy(&self) -> std::result::Result<credseal_auth::Policy, String> {
        let mut p = credseal_auth::Policy::default();
        if let Some(s) = self.max_skew_secs {
            if s > 600 {
                return Err(format!("policy.max_skew_secs = {s} is over the limit of 600"));
            }
            p.max_skew_secs = s;
        }
        if let Some(l) = self.max_token_lifetime_secs {
            if l == 0 || l > 86_400 {
                return Err(format!("policy.max_token_lifetime_secs = {l} must be 1..=86400"));
            }
            p.max_token_lifetime_secs = l;
        }
        Ok(p)
    }
}

/// How to open a platform.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Allow the public demo keys of `keys-example/` (`--demo`).
    pub allow_demo_keys: bool,
}

/// What `init` needs.
#[derive(Debug)]
pub struct InitOptions<'a> {
    /// The data directory (created; must not exist or be empty).
    pub dir: &'a Path,
    /// The catalogue text and where it came from.
    pub catalog_text: &'a str,
    /// Name of the catalogue file, for errors.
    pub catalog_name: &'a str,
    /// The log origin name.
    pub origin: &'a str,
    /// The keystore passphrase.
    pub passphrase: &'a Passphrase,
    /// Where the keys come from.
    pub keys: KeySource,
    /// Unix time now.
    pub now: u64,
}

/// Where `init` gets its keys.
#[derive(Debug)]
pub enum KeySource {
    /// Fresh random keys, the keystore sealed with this KDF cost.
    Generate(KdfParams),
    /// An existing keystore (made for the same catalogue), e.g. the demo keystore.
    Existing(Box<Keystore>),
}

/// A running platform: the facade over the engine's parts. Every method takes `&self`, so
/// one platform is shared between threads (`Arc<Platform>`); the keystore is replaced whole
/// by rotation, and each operation reads it once.
///
/// The capability rule holds in the public API: records are decrypted only for a grant
/// issued by this platform's gate ([`Platform::authorize`], [`Platform::self_query`]), and
/// every disclosure leaves a receipt first. There is no way around the gate: no accessor
/// for the records, the store or the keystore.
///
/// ```compile_fail,E0599
/// fn read(p: &credseal_engine::Platform, id: &credseal_core::SubjectId) {
///     let _ = p.records(id, "loans");
/// }
/// ```
///
/// ```compile_fail,E0599
/// fn raw(p: &credseal_engine::Platform) {
///     let _ = p.store();
/// }
/// ```
///
/// ```compile_fail,E0599
/// fn keys(p: &credseal_engine::Platform) {
///     let _ = p.keystore();
/// }
/// ```
///
/// The same shapes with methods that do exist compile (so the failures above are the
/// missing methods, not a typo):
///
/// ```
/// fn read(p: &credseal_engine::Platform, id: &credseal_core::SubjectId) {
///     let _ = p.blind(id);
///     let _ = p.verify_store();
///     let _ = p.origin();
/// }
/// ```
pub struct Platform {
    dir: Option<PathBuf>,
    pub(crate) catalog: Catalog,
    /// The keystore, replaced whole (never edited in place) by key rotation, so an
    /// operation reads it once and works on one consistent snapshot.
    keys: std::sync::RwLock<Arc<Keystore>>,
    /// The log origin (fixed for the keystore's lifetime).
    origin: String,
    pub(crate) store: Arc<dyn Store>,
    /// Serialises operations that create or rewrap data keys (they update counters).
    pub(crate) write_lock: std::sync::Mutex<()>,
    /// Serialises changes of the keystore (read, edit a copy, write, swap).
    pub(crate) key_lock: std::sync::Mutex<()>,
    /// Serialises shreds (each rotates, rewraps and retires its classes' keys).
    pub(crate) shred_lock: std::sync::Mutex<()>,
    /// The last verified revocation list, by the digest of its stored bytes.
    pub(crate) revocation_cache: crate::query::RevocationCache,
    /// Credentials whose signature was verified.
    pub(crate) credential_cache: crate::query::CredentialCache,
    /// The trusted authority key, parsed, by its stored bytes.
    pub(crate) authority_cache: crate::query::AuthorityCache,
    /// The query policy.
    pub(crate) policy: std::sync::RwLock<credseal_auth::Policy>,
    /// The receipt log's group-commit state.
    pub(crate) log: crate::log::ReceiptLog,
    /// The decrypted canary set and where alerts go.
    pub(crate) canary: crate::canary::CanaryState,
    /// Where operations take the time from.
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
}

impl Platform {
    /// The keystore snapshot for one operation. Rotation replaces the whole `Arc` under
    /// the write lock, so a poisoned lock still holds a complete keystore (a swap of an
    /// `Arc` cannot be left half done) and is read through.
    pub(crate) fn keys(&self) -> Arc<Keystore> {
        Arc::clone(&self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Installs a new keystore snapshot (rotation, retirement, log key handover).
    pub(crate) fn swap_keys(&self, keys: Keystore) {
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
    }

    /// The time now from the platform's clock.
    pub(crate) fn now(&self) -> Result<u64> {
        self.clock.now()
    }

    /// Replaces the clock (tests: a [`crate::TestClock`]; the default is the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A receipt for an administrative act by the officer of `session`.
    pub(crate) fn admin_receipt(
        &self,
        session: &crate::StaffSession,
        action: credseal_log::Action,
        detail: String,
        subject: Option<credseal_core::BlindId>,
    ) -> crate::log::NewReceipt {
        crate::log::NewReceipt {
            actor: credseal_log::Actor::Officer {
                id: session.officer().to_string(),
            },
            action,
            detail,
            subject,
            classes: Default::default(),
            purpose: String::new(),
            token_hash: None,
            outcome: credseal_log::Outcome::Done,
            release_digest: None,
            disclose_after: None,
            marks: Vec::new(),
            flags: 0,
            fingerprints: None,
        }
    }
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("dir", &self.dir)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Whether an origin name is acceptable: printable ASCII without spaces or `+`, at most 200
/// bytes (C2SP checkpoints put it on the first line; note key names exclude `+` and spaces).
pub fn valid_origin(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.bytes().all(|c| c.is_ascii_graphic() && c != b'+')
}

fn platform_mac(keys: &Keystore) -> [u8; 32] {
    use ring::hmac;
    let k = hmac::Key::new(hmac::HMAC_SHA256, keys.index_key.expose_secret());
    let mut c = hmac::Context::with_key(&k);
    c.update(layout::PLATFORM_LABEL);
    c.update(keys.origin.as_bytes());
    // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
    c.sign().as_ref().try_into().expect("32 bytes")
}

impl Platform {
    /// Creates a new platform in `opts.dir`. On any failure, everything it created is removed.
    pub fn init(opts: &InitOptions<'_>) -> Result<()> {
        let dir = opts.dir;
        if !valid_origin(opts.origin) {
            return Err(EngineError::invalid(
                format!("origin {:?}", opts.origin),
                "must be 1-200 printable ASCII characters without spaces or '+'",
            ));
        }
        let catalog = Catalog::parse(opts.catalog_text, Some(opts.catalog_name)).map_err(EngineError::Catalog)?;
        let created_dir = match std::fs::read_dir(dir) {
            Ok(mut it) => {
                if it.next().is_some() {
                    return Err(EngineError::AlreadyExists { path: dir.into() });
                }
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir).map_err(|e| EngineError::io(dir, e))?;
                true
            }
            Err(e) => return Err(EngineError::io(dir, e)),
        };
        let r = Self::init_inner(opts, &catalog);
        if r.is_err() {
            // Leave nothing half-made.
            if created_dir {
                let _ = std::fs::remove_dir_all(dir);
            } else {
                for f in [CONFIG_FILE, CATALOG_FILE, KEYSTORE_FILE] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
                let _ = std::fs::remove_dir_all(dir.join(DB_DIR));
            }
        }
        r
    }

    fn init_inner(opts: &InitOptions<'_>, catalog: &Catalog) -> Result<()> {
        let dir = opts.dir;
        let classes: Vec<&str> = catalog.classes.keys().map(String::as_str).collect();
        let digest = credseal_crypto::sha256(opts.catalog_text.as_bytes());
        let keys = match &opts.keys {
            KeySource::Generate(kdf) => Keystore::generate(opts.origin, &classes, digest, opts.now, *kdf),
            KeySource::Existing(k) => {
                if k.catalog_digest != digest {
                    return Err(EngineError::invalid(
                        "keystore",
                        format!("made for another catalogue than {}", opts.catalog_name),
                    ));
                }
                if k.origin != opts.origin {
                    return Err(EngineError::invalid(
                        "keystore",
                        format!("its origin is {:?}, not {:?}", k.origin, opts.origin),
                    ));
                }
                (**k).clone()
            }
        };
        let sealed = keys.seal(opts.passphrase).map_err(|source| EngineError::Keystore {
            path: dir.join(KEYSTORE_FILE),
            source,
        })?;
        fsutil::write_new(&dir.join(CATALOG_FILE), opts.catalog_text.as_bytes(), 0o644)?;
        let config = Config {
            format: 1,
            origin: opts.origin.to_string(),
            keystore: KEYSTORE_FILE.into(),
            policy: None,
        };
        let config_text = format!(
            "# credseal platform configuration (written by `credseal init`)\n{}",
            toml::to_string(&config).map_err(|e| EngineError::Internal(format!("encoding the configuration: {e}")))?
        );
        fsutil::write_new(&dir.join(KEYSTORE_FILE), &sealed, 0o600)?;
        let store = SledStore::open(&dir.join(DB_DIR), true)?;
        let mut b = credseal_store::Batch::new();
        b.put(Tree::Meta, layout::META_FORMAT, layout::STORE_FORMAT.to_be_bytes());
        b.put(Tree::Meta, layout::META_PLATFORM, platform_mac(&keys));
        store.apply(b)?;
        store.flush()?;
        drop(store);
        // The config file is written last: it is what marks the directory as a platform.
        fsutil::write_new(&dir.join(CONFIG_FILE), config_text.as_bytes(), 0o644)?;
        Ok(())
    }

    /// Opens the platform in `dir`.
    pub fn open(dir: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Self> {
        let config = Self::read_config(dir)?;
        let ks_path = dir.join(&config.keystore);
        let keys = Self::read_keystore(&ks_path, passphrase, opts)?;
        let cat_path = dir.join(CATALOG_FILE);
        let cat_bytes = fsutil::read(&cat_path)?;
        if credseal_crypto::sha256(&cat_bytes) != keys.catalog_digest {
            return Err(EngineError::CatalogMismatch { path: cat_path });
        }
        let text = String::from_utf8(cat_bytes).map_err(|_| EngineError::CatalogMismatch { path: cat_path.clone() })?;
        let catalog = Catalog::parse(&text, Some(&cat_path.display().to_string())).map_err(EngineError::Catalog)?;
        if config.origin != keys.origin {
            return Err(EngineError::Config {
                path: dir.join(CONFIG_FILE),
                detail: "origin does not match the keystore's".into(),
            });
        }
        let store = SledStore::open(&dir.join(DB_DIR), false)?;
        let p = Self {
            dir: Some(dir.into()),
            catalog,
            origin: keys.origin.clone(),
            keys: std::sync::RwLock::new(Arc::new(keys)),
            store: Arc::new(store),
            write_lock: Default::default(),
            key_lock: Default::default(),
            shred_lock: Default::default(),
            revocation_cache: Default::default(),
            credential_cache: Default::default(),
            authority_cache: Default::default(),
            log: Default::default(),
            canary: Default::default(),
            clock: Arc::new(crate::clock::SystemClock),
            // Checked in read_config; the default when absent.
            policy: std::sync::RwLock::new(
                config
                    .policy
                    .map(|p| p.policy().unwrap_or_default())
                    .unwrap_or_default(),
            ),
        };
        p.check_binding()?;
        p.log_key_history()?;
        p.check_generation()?;
        Ok(p)
    }

    /// Reads the configuration of the data directory `dir`.
    pub fn read_config(dir: &Path) -> Result<Config> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&cfg_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineError::NotADataDir { path: dir.into() });
            }
            Err(e) => return Err(EngineError::io(&cfg_path, e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| EngineError::Config {
            path: cfg_path.clone(),
            detail: e.to_string(),
        })?;
        if config.format != 1 {
            return Err(EngineError::Config {
                path: cfg_path,
                detail: format!("unsupported format {}", config.format),
            });
        }
        if let Some(p) = &config.policy {
            p.policy().map_err(|detail| EngineError::Config {
                path: cfg_path.clone(),
                detail,
            })?;
        }
        Ok(config)
    }

    /// Opens a keystore file.
    pub fn read_keystore(path: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        let bytes = fsutil::read(path)?;
        Self::keystore_from(&bytes, path, passphrase, opts)
    }

    /// Opens keystore bytes (the demo's embedded keystore).
    pub fn read_keystore_bytes(bytes: &[u8], passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        Self::keystore_from(bytes, Path::new("(embedded keystore)"), passphrase, opts)
    }

    fn keystore_from(bytes: &[u8], path: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        let keys = Keystore::open(bytes, passphrase).map_err(|source| EngineError::Keystore {
            path: path.into(),
            source,
        })?;
        if !opts.allow_demo_keys && demo::holds_demo_keys(&keys) {
            return Err(EngineError::DemoKeysRefused { path: path.into() });
        }
        Ok(keys)
    }

    /// A platform on an in-memory store (tests and benchmarks).
    pub fn in_memory(catalog: Catalog, keys: Keystore) -> Result<Self> {
        Self::with_store(catalog, keys, Arc::new(MemoryStore::new()))
    }

    /// A platform on any store, initialising its metadata if the store is empty.
    pub fn with_store(catalog: Catalog, keys: Keystore, store: Arc<dyn Store>) -> Result<Self> {
        if store.get(Tree::Meta, layout::META_PLATFORM)?.is_none() {
            let mut b = credseal_store::Batch::new();
            b.put(Tree::Meta, layout::META_FORMAT, layout::STORE_FORMAT.to_be_bytes());
            b.put(Tree::Meta, layout::META_PLATFORM, platform_mac(&keys));
            store.apply(b)?;
        }
        let p = Self {
            dir: None,
            catalog,
            origin: keys.origin.clone(),
            keys: std::sync::RwLock::new(Arc::new(keys)),
            store,
            write_lock: Default::default(),
            key_lock: Default::default(),
            shred_lock: Default::default(),
            revocation_cache: Default::default(),
            credential_cache: Default::default(),
            authority_cache: Default::default(),
            log: Default::default(),
            canary: Default::default(),
            clock: Arc::new(crate::clock::SystemClock),
            policy: Default::default(),
        };
        p.check_binding()?;
        p.log_key_history()?;
        p.check_generation()?;
        Ok(p)
    }

    fn check_binding(&self) -> Result<()> {
        let path = self.dir.clone().unwrap_or_default();
        let stored = self.store.get(Tree::Meta, layout::META_PLATFORM)?;
        match stored {
            Some(m) if bool::from(subtle_eq(&m, &platform_mac(&self.keys()))) => {}
            _ => return Err(EngineError::KeystoreMismatch { path }),
        }
        let want = layout::STORE_FORMAT;
        match self.store.get(Tree::Meta, layout::META_FORMAT)?.as_deref() {
            Some(f) if f == want.to_be_bytes() => Ok(()),
            Some(f) if let Ok(old) = <[u8; 4]>::try_from(f) => Err(EngineError::Corrupt {
                what: "metadata".into(),
                detail: format!(
                    "the store has storage format {}, this build reads only format {want} \
                     (docs/formats.md): keep using the release that wrote it, or create a new \
                     platform and ingest again",
                    u32::from_be_bytes(old)
                ),
            }),
            _ => Err(EngineError::Corrupt {
                what: "metadata".into(),
                detail: "unknown storage format".into(),
            }),
        }
    }

    /// The data directory, if on disk.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The BlindId of a subject.
    pub fn blind(&self, id: &SubjectId) -> BlindId {
        self.keys().index_key.blind(id)
    }

    /// Loads and decodes all of a subject's stored records.
    pub(crate) fn load_subject(&self, blind: &BlindId) -> Result<Option<SubjectRecords>> {
        // A value the store cannot return intact (its value-log bytes damaged) is named by
        // the subject it belongs to.
        let v = self
            .store
            .get(Tree::Records, &layout::subject_key(blind))
            .map_err(|e| match e {
                credseal_store::StoreError::Corrupt { detail } => EngineError::Corrupt {
                    what: format!("records of subject {}", short(blind)),
                    detail,
                },
                e => e.into(),
            })?;
        let Some(v) = v else {
            return Ok(None);
        };
        self.decode_subject(blind, &v).map(Some)
    }

    pub(crate) fn decode_subject(&self, blind: &BlindId, v: &[u8]) -> Result<SubjectRecords> {
        SubjectRecords::decode(v).map_err(|d| EngineError::Corrupt {
            what: format!("records of subject {}", short(blind)),
            detail: format!("malformed: {d}"),
        })
    }

    pub(crate) fn unwrap_dek(&self, ks: &Keystore, blind: &BlindId, class: &str, w: &[u8]) -> Result<Dek> {
        let what = || format!("data key of subject {} class {class}", short(blind));
        let v = credseal_crypto::wrapped_kek_version(w).map_err(|e| EngineError::Corrupt {
            what: what(),
            detail: e.to_string(),
        })?;
        // A data key written under a KEK version made after this operation read its
        // keystore snapshot (a rotation meanwhile): read the current keystore once more.
        let fresh;
        let kek = match ks.kek(class, v) {
            Some(k) => k,
            None => {
                fresh = self.keys();
                fresh.kek(class, v).ok_or_else(|| EngineError::Corrupt {
                    what: what(),
                    detail: format!("wrapped under KEK version {v}, which the keystore does not hold"),
                })?
            }
        };
        credseal_crypto::unwrap_dek(kek, &DekContext { blind, class }, w).map_err(|e| EngineError::Corrupt {
            what: what(),
            detail: e.to_string(),
        })
    }

    /// Opens one stored record's ciphertext and decodes its body, checking that the body's
    /// record id is the one its place names (subject, class and version are bound to the
    /// ciphertext by its AAD and commitment). Returns the plaintext and the body.
    pub(crate) fn open_body(
        &self,
        ks: &Keystore,
        dek: &Dek,
        blind: &BlindId,
        class: &str,
        e: &Entry,
    ) -> Result<(Zeroizing<Vec<u8>>, RecordBody)> {
        let version = e.version;
        let what = || {
            format!(
                "record {} v{version} of subject {} class {class}",
                credseal_core::hex(&e.rkey[..8]),
                short(blind)
            )
        };
        let ctx = RecordContext {
            blind,
            class,
            record_key: &e.rkey,
            version,
        };
        let pt = credseal_crypto::open_record(dek, &ctx, &e.sealed).map_err(|err| EngineError::Corrupt {
            what: what(),
            detail: err.to_string(),
        })?;
        let body: RecordBody = postcard::from_bytes(&pt).map_err(|_| EngineError::Corrupt {
            what: what(),
            detail: "contents do not decode".into(),
        })?;
        if ks.index_key.record_key(blind, class, &body.record_id) != e.rkey {
            return Err(EngineError::Corrupt {
                what: what(),
                detail: "contents do not match their place".into(),
            });
        }
        Ok((pt, body))
    }

    /// Opens one stored record of `subject` (whose BlindId is `blind`) and checks that its
    /// contents match where it is stored.
    pub(crate) fn open_entry(
        &self,
        ks: &Keystore,
        dek: &Dek,
        subject: &SubjectId,
        blind: &BlindId,
        class: &str,
        e: &Entry,
    ) -> Result<Record> {
        let (_, body) = self.open_body(ks, dek, blind, class, e)?;
        Ok(body.into_record(subject.clone(), class.to_string(), e.version))
    }

    /// Every stored record of a subject's class, by record id, then version — without a
    /// grant and without a receipt, so unit tests only; requesters go through the gate.
    #[cfg(test)]
    pub(crate) fn read_unreceipted(&self, subject: &SubjectId, class: &str) -> Result<Vec<Record>> {
        if self.catalog.class(class).is_none() {
            return Err(EngineError::NotFound(format!(
                "class {class:?} is not in the catalogue"
            )));
        }
        let ks = self.keys();
        let blind = ks.index_key.blind(subject);
        let Some(recs) = self.load_subject(&blind)? else {
            return Ok(Vec::new());
        };
        self.open_class(&ks, subject, &blind, class, &recs)
    }

    /// Opens every record of one class of a loaded subject (`blind` is the BlindId of
    /// `subject`).
    pub(crate) fn open_class(
        &self,
        ks: &Keystore,
        subject: &SubjectId,
        blind: &BlindId,
        class: &str,
        recs: &SubjectRecords,
    ) -> Result<Vec<Record>> {
        let Some(bundle) = recs.classes.get(class) else {
            return Ok(Vec::new());
        };
        let dek = self.unwrap_dek(ks, blind, class, &bundle.wrapped_dek)?;
        let mut out = Vec::with_capacity(bundle.entries.len());
        for e in &bundle.entries {
            out.push(self.open_entry(ks, &dek, subject, blind, class, e)?);
        }
        out.sort_by(|a, b| (&a.record_id, a.version).cmp(&(&b.record_id, b.version)));
        Ok(out)
    }

    /// Opens every data key and every record in the store; the first failure is returned,
    /// naming the value. Returns (data keys, records) checked.
    pub fn verify_store(&self) -> Result<(u64, u64)> {
        let ks = self.keys();
        let (mut nd, mut nr) = (0, 0);
        let mut counts: std::collections::BTreeMap<(String, u32), u64> = Default::default();
        for kv in self.store.scan_prefix(Tree::Records, &[]) {
            let (k, v) = kv?;
            let blind = layout::parse_subject_key(&k).ok_or_else(|| EngineError::Corrupt {
                what: "record index".into(),
                detail: "malformed storage key".into(),
            })?;
            let recs = self.decode_subject(&blind, &v)?;
            for (class, bundle) in &recs.classes {
                if self.catalog.class(class).is_none() {
                    return Err(EngineError::Corrupt {
                        what: format!("records of subject {}", short(&blind)),
                        detail: format!("unknown class {class:?}"),
                    });
                }
                let dek = self.unwrap_dek(&ks, &blind, class, &bundle.wrapped_dek)?;
                let kv = credseal_crypto::wrapped_kek_version(&bundle.wrapped_dek).unwrap_or(0);
                *counts.entry((class.clone(), kv)).or_default() += 1;
                nd += 1;
                for e in &bundle.entries {
                    self.open_body(&ks, &dek, &blind, class, e)?;
                    nr += 1;
                }
            }
        }
        for (class, keys) in &ks.classes {
            for v in keys.versions.keys() {
                let want = counts.remove(&(class.clone(), *v)).unwrap_or(0);
                let have = self.dek_count(class, *v)?;
                if want != have {
                    return Err(EngineError::Corrupt {
                        what: format!("data key counter of class {class} version {v}"),
                        detail: format!("says {have}, the store holds {want}"),
                    });
                }
            }
        }
        if let Some(((class, v), _)) = counts.into_iter().next() {
            return Err(EngineError::Corrupt {
                what: format!("data keys of class {class}"),
                detail: format!("wrapped under KEK version {v}, which the keystore does not hold"),
            });
        }
        Ok((nd, nr))
    }
}

fn subtle_eq(a: &[u8], b: &[u8]) -> subtle::Choice {
    subtle::ConstantTimeEq::ct_eq(a, b)
}
