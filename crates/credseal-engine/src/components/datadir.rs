//! The data directory: creating one (`init`) and opening one — its configuration
//! (`credseal.toml` and its `[policy]`), the catalogue copy, the sealed keystore file (read,
//! and replaced whole by key changes) — and the MAC that binds a store to its keystore.
//!
//! One job: files on disk and the store binding. It decrypts nothing but the keystore file
//! it is given the passphrase of, and imports no other component (only the shared modules
//! `error`, `fsutil` and `layout`).

use std::path::{Path, PathBuf};

use credseal_core::Catalog;
use std::sync::Arc;

use credseal_crypto::{KdfParams, Keystore, Passphrase, TokenCustody, TokenObject, demo};
use credseal_store::{SledStore, Store, Tree};
use serde::{Deserialize, Serialize};

use crate::components::trust;
use crate::error::{EngineError, Result};
use crate::fsutil;
use crate::layout;

/// Name of the configuration file that marks a data directory.
pub const CONFIG_FILE: &str = "credseal.toml";
/// Name of the catalogue copy in a data directory.
pub const CATALOG_FILE: &str = "catalog.toml";
/// Default keystore file name in a data directory.
pub const KEYSTORE_FILE: &str = "keystore";
/// Name of the database directory.
pub const DB_DIR: &str = "db";
/// Name of the public file `init` writes with the log's verifier key (the original key,
/// as `credseal log key` prints it): what subjects and auditors pin.
pub const LOG_KEY_FILE: &str = "log-key.pub";
/// Name of the public file `init` writes with the platform's VRF public key (as
/// `credseal log key --vrf` prints it), published next to the log key.
pub const VRF_KEY_FILE: &str = "vrf-key.pub";

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
    /// The PKCS#11 token that holds the keys (HSM custody); omitted: the keys are in the
    /// sealed keystore file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs11: Option<Pkcs11Config>,
}

/// The `[pkcs11]` table of `credseal.toml`: where the keys of a platform in HSM custody are.
/// The PIN is never in it (`CREDSEAL_PKCS11_PIN_FILE` or `CREDSEAL_PKCS11_PIN`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (a shared library, e.g. SoftHSM2's `libsofthsm2.so`).
    pub module: PathBuf,
    /// The token's label.
    pub token_label: String,
}

impl Pkcs11Config {
    /// Logs in to the token with `pin` (a [`Passphrase::token_pin`]).
    pub fn open(&self, pin: &Passphrase, path: &Path) -> Result<Arc<dyn credseal_crypto::KeyToken>> {
        Ok(self.login(pin, path)?)
    }

    fn login(&self, pin: &Passphrase, path: &Path) -> Result<Arc<credseal_pkcs11::EngineToken>> {
        let token_err = |detail: String| EngineError::Keystore {
            path: path.into(),
            source: credseal_crypto::KeystoreError::Token(detail),
        };
        let pin = pin.pin().ok_or_else(|| {
            token_err("the keys are in a PKCS#11 token: give its user PIN (CREDSEAL_PKCS11_PIN_FILE or CREDSEAL_PKCS11_PIN), not a passphrase".into())
        })?;
        let t =
            credseal_pkcs11::Token::open(&self.module, &self.token_label, pin).map_err(|e| token_err(e.to_string()))?;
        Ok(Arc::new(credseal_pkcs11::EngineToken::new(t, &self.token_label)))
    }
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
    /// Fresh random keys in officers' custody: sealed under the master key this set wraps
    /// (given as the passphrase, `Passphrase::master_key`).
    Shared(Box<credseal_crypto::UnsealSet>),
    /// Fresh keys made in a PKCS#11 token (HSM custody); the passphrase is the token's user
    /// PIN (`Passphrase::token_pin`).
    Token(Pkcs11Config),
}

/// Whether an origin name is acceptable: printable ASCII without spaces or `+`, at most 200
/// bytes (C2SP checkpoints put it on the first line; note key names exclude `+` and spaces).
pub fn valid_origin(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.bytes().all(|c| c.is_ascii_graphic() && c != b'+')
}

/// HMAC(index key, PLATFORM_LABEL ‖ origin): the value that binds a store to its keystore.
fn platform_mac(keys: &Keystore) -> [u8; 32] {
    use ring::hmac;
    let k = hmac::Key::new(hmac::HMAC_SHA256, keys.index_key.expose_secret());
    let mut c = hmac::Context::with_key(&k);
    c.update(layout::PLATFORM_LABEL);
    c.update(keys.origin.as_bytes());
    // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
    c.sign().as_ref().try_into().expect("32 bytes")
}

/// Writes the storage format and the keystore binding into an empty store; a store that
/// already has a binding is left as it is (checked by [`check_binding`]).
pub(crate) fn bind_new_store(store: &dyn Store, keys: &Keystore) -> Result<()> {
    if store.get(Tree::Meta, layout::META_PLATFORM)?.is_none() {
        let mut b = credseal_store::Batch::new();
        b.put(Tree::Meta, layout::META_FORMAT, layout::STORE_FORMAT.to_be_bytes());
        b.put(Tree::Meta, layout::META_PLATFORM, platform_mac(keys));
        b.put(
            Tree::Meta,
            layout::META_LOG_HANDOVERS,
            layout::encode_handovers(&keys.log_history),
        );
        trust::seal_new_store(store, keys, &mut b)?;
        store.apply(b)?;
    }
    Ok(())
}

/// Checks that `store` was made for `keys` (its binding MAC) and has this build's storage
/// format; `path` names the data directory in the error (empty for a store in memory).
pub(crate) fn check_binding(store: &dyn Store, keys: &Keystore, path: &Path) -> Result<()> {
    let stored = store.get(Tree::Meta, layout::META_PLATFORM)?;
    match stored {
        Some(m) if bool::from(subtle::ConstantTimeEq::ct_eq(&m[..], &platform_mac(keys)[..])) => {}
        _ => return Err(EngineError::KeystoreMismatch { path: path.into() }),
    }
    check_format(store)
}

/// Checks that `store` has this build's storage format (without the keystore: the public
/// reader's check, [`crate::PublicLog`]).
pub(crate) fn check_format(store: &dyn Store) -> Result<()> {
    let want = layout::STORE_FORMAT;
    match store.get(Tree::Meta, layout::META_FORMAT)?.as_deref() {
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

/// Refuses a data directory that is a symbolic link, that its group or others may write
/// to, or that another user owns: whoever can write there can replace the keystore, the
/// catalogue or the configuration.
pub(crate) fn check_private(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::symlink_metadata(dir).map_err(|e| EngineError::io(dir, e))?;
        let insecure = |detail: String| EngineError::InsecureDataDir {
            path: dir.into(),
            detail,
        };
        if meta.file_type().is_symlink() {
            return Err(insecure("it is a symbolic link".into()));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(insecure(format!(
                "its mode is {mode:04o}: its group or others may write to it (run `chmod 700 {}`)",
                dir.display()
            )));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(insecure(format!(
                "it is owned by user {}, not by the user running credseal ({me})",
                meta.uid()
            )));
        }
    }
    Ok(())
}

/// An opened data directory: its path and its configuration (read once, at open).
#[derive(Debug)]
pub(crate) struct DataDir {
    dir: PathBuf,
    config: Config,
}

/// What opening a data directory yields: the directory, its keystore, catalogue and store.
pub(crate) struct Opened {
    /// The directory and its configuration.
    pub(crate) dir: DataDir,
    /// The keystore, unsealed.
    pub(crate) keys: Keystore,
    /// The catalogue, checked against the keystore's digest of it.
    pub(crate) catalog: Catalog,
    /// The store, its binding to the keystore not yet checked.
    pub(crate) store: SledStore,
}

/// Writes the public files [`LOG_KEY_FILE`] and [`VRF_KEY_FILE`] (one line each, world-readable:
/// they are meant to be published). The log key is the original one: with an imported keystore
/// whose key was rotated, the old key of its first handover.
fn write_public_keys(dir: &Path, keys: &Keystore) -> Result<()> {
    use credseal_log::Handover;
    let log_key = match keys.log_history.first() {
        None => crate::logkey::log_signer(keys, &keys.origin)?.vkey(),
        Some(note) => Handover::verify(note)
            .map_err(|e| EngineError::Corrupt {
                what: "the keystore's log key history".into(),
                detail: format!("handover 1: {e}"),
            })?
            .old_key()
            .vkey(),
    };
    fsutil::write_new(&dir.join(LOG_KEY_FILE), format!("{log_key}\n").as_bytes(), 0o644)?;
    let vrf = keys.vrf_key.public_key().to_text();
    fsutil::write_new(&dir.join(VRF_KEY_FILE), format!("{vrf}\n").as_bytes(), 0o644)
}

impl DataDir {
    /// Creates a new data directory in `opts.dir`. On any failure, everything it created is
    /// removed.
    pub(crate) fn init(opts: &InitOptions<'_>) -> Result<()> {
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
                // An existing empty directory becomes private, as a new one is created.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                        .map_err(|e| EngineError::io(dir, e))?;
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
                for f in [CONFIG_FILE, CATALOG_FILE, KEYSTORE_FILE, LOG_KEY_FILE, VRF_KEY_FILE] {
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
            KeySource::Shared(set) => {
                let mut k = Keystore::generate(opts.origin, &classes, digest, opts.now, KdfParams::DEFAULT);
                k.unseal = Some((**set).clone());
                k
            }
            KeySource::Token(cfg) => {
                let token = cfg.login(opts.passphrase, &dir.join(KEYSTORE_FILE))?;
                let terr = |e: credseal_pkcs11::HsmError| EngineError::Keystore {
                    path: dir.join(KEYSTORE_FILE),
                    source: credseal_crypto::KeystoreError::Token(e.to_string()),
                };
                let (derive, log) = token.with(|t| {
                    let d = t
                        .generate_derive_key(&format!("credseal derive {}", opts.origin))
                        .map_err(terr)?;
                    let (l, public) = t
                        .generate_log_key(&format!("credseal log {}", opts.origin))
                        .map_err(terr)?;
                    Ok::<_, EngineError>((TokenObject(d.0), (TokenObject(l.0), public)))
                })?;
                let token: Arc<dyn credseal_crypto::KeyToken> = token;
                Keystore::generate_in_token(
                    opts.origin,
                    &classes,
                    digest,
                    opts.now,
                    TokenCustody {
                        token,
                        derive_key: derive,
                    },
                    log,
                )
                .map_err(|source| EngineError::Keystore {
                    path: dir.join(KEYSTORE_FILE),
                    source,
                })?
            }
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
            pkcs11: match &opts.keys {
                KeySource::Token(cfg) => Some(cfg.clone()),
                _ => None,
            },
        };
        let config_text = format!(
            "# credseal platform configuration (written by `credseal init`)\n{}",
            toml::to_string(&config).map_err(|e| EngineError::Internal(format!("encoding the configuration: {e}")))?
        );
        fsutil::write_new(&dir.join(KEYSTORE_FILE), &sealed, 0o600)?;
        write_public_keys(dir, &keys)?;
        let store = SledStore::open(&dir.join(DB_DIR), true)?;
        let mut b = credseal_store::Batch::new();
        b.put(Tree::Meta, layout::META_FORMAT, layout::STORE_FORMAT.to_be_bytes());
        b.put(Tree::Meta, layout::META_PLATFORM, platform_mac(&keys));
        b.put(
            Tree::Meta,
            layout::META_LOG_HANDOVERS,
            layout::encode_handovers(&keys.log_history),
        );
        // The first trust state (nothing trusted yet, the default policy), under the index key.
        trust::seal_new_store(&store, &keys, &mut b)?;
        store.apply(b)?;
        store.flush()?;
        drop(store);
        // The config file is written last: it is what marks the directory as a platform.
        fsutil::write_new(&dir.join(CONFIG_FILE), config_text.as_bytes(), 0o644)?;
        Ok(())
    }

    /// Opens the data directory `dir`: reads its configuration, unseals its keystore,
    /// checks the catalogue against the keystore's digest of it and opens the store.
    pub(crate) fn open(dir: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Opened> {
        let config = Self::read_config(dir)?;
        check_private(dir)?;
        let ks_path = dir.join(&config.keystore);
        let bytes = fsutil::read(&ks_path)?;
        let keys = Self::keystore_with(&bytes, &ks_path, config.pkcs11.as_ref(), passphrase, opts)?;
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
        Ok(Opened {
            dir: DataDir {
                dir: dir.into(),
                config,
            },
            keys,
            catalog,
            store,
        })
    }

    /// The configuration, as read at open.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// The `[policy]` table of the configuration (checked when it was read), if it has one.
    /// It is not the policy in force: that is the committed one (part of the trust state),
    /// which the table must equal (checked at open), and which changes only with
    /// `set_policy` and its receipt.
    pub(crate) fn file_policy(&self) -> Option<credseal_auth::Policy> {
        self.config.policy.map(|p| p.policy().unwrap_or_default())
    }

    /// Rewrites the configuration file without its `[policy]` table (atomically), before a
    /// change of the committed policy: a crash after this leaves a configuration that
    /// names no policy, which is consistent with either the old or the new committed one.
    pub(crate) fn drop_policy_table(&self) -> Result<()> {
        if self.config.policy.is_none() {
            return Ok(());
        }
        let path = self.dir.join(CONFIG_FILE);
        let mut config = self.config.clone();
        config.policy = None;
        let text = format!(
            "# credseal platform configuration (written by `credseal init`; the query policy is\n\
             # committed in the store: change it with `credseal officer set-policy`)\n{}",
            toml::to_string(&config).map_err(|e| EngineError::Internal(format!("encoding the configuration: {e}")))?
        );
        fsutil::replace(&path, text.as_bytes(), 0o644)
    }

    /// The keystore file.
    pub(crate) fn keystore_path(&self) -> PathBuf {
        self.dir.join(&self.config.keystore)
    }

    /// `keys` sealed under `next`, the bytes of the next keystore file
    /// ([`DataDir::write_keystore`] writes them). `current` must be what the file is sealed
    /// with now — a wrong one would lock the platform out — so it is checked against the file
    /// first; it differs from `next` only when the passphrase is being changed.
    ///
    /// Without a change (`current` and `next` the same passphrase), the file is resealed under
    /// the key the unlock derived (`Keystore::reseal`: same salt, fresh nonce), if the file on
    /// disk is still sealed under it: no Argon2id run, and nothing to check — the key is the
    /// one that opened the file, and the passphrase was proved by that unlock. A change of
    /// passphrase (or of KDF parameters or share set) derives a new key and salt, which later
    /// writes reseal under.
    pub(crate) fn seal_keystore_as(
        &self,
        keys: &mut Keystore,
        current: &Passphrase,
        next: &Passphrase,
    ) -> Result<Vec<u8>> {
        let path = self.keystore_path();
        if keys.token.is_some() && next.pin().is_none() {
            return Err(EngineError::invalid(
                "keystore passphrase",
                "the keys are in a PKCS#11 token: the keystore has no passphrase (change the token's PIN with its own tools)",
            ));
        }
        let on_disk = fsutil::read(&path)?;
        if keys.token.is_none()
            && std::ptr::eq(current, next)
            && keys.file_key.seals(&on_disk)
            && let Some(sealed) = keys.reseal()
        {
            return Ok(sealed);
        }
        let sealed = keys.seal_keeping(next).map_err(|source| EngineError::Keystore {
            path: path.clone(),
            source,
        })?;
        if keys.token.is_none() {
            Keystore::open(&on_disk, current).map_err(|source| EngineError::Keystore {
                path: path.clone(),
                source,
            })?;
        }
        Ok(sealed)
    }

    /// The next keystore file without the passphrase (an unattended job): resealed under the
    /// key the unlock derived, if the file on disk is still sealed under it, or a token's
    /// manifest. Refused otherwise (the file was replaced since this process opened it):
    /// nothing is written, and the job is run again with the passphrase.
    pub(crate) fn seal_keystore_unattended(&self, keys: &mut Keystore) -> Result<Vec<u8>> {
        let path = self.keystore_path();
        let refused = || {
            EngineError::NotReady(format!(
                "{}: the keystore file is no longer sealed under the key this process unlocked it with (replaced \
                 since): an unattended keystore write needs that key; restart the process or run the job with \
                 the passphrase",
                path.display()
            ))
        };
        if keys.token.is_none() && !keys.file_key.seals(&fsutil::read(&path)?) {
            return Err(refused());
        }
        match keys.seal_unattended() {
            Some(r) => r.map_err(|source| EngineError::Keystore {
                path: path.clone(),
                source,
            }),
            None => Err(refused()),
        }
    }

    /// Replaces the keystore file atomically (mode 0600) with `sealed`, the output of
    /// [`DataDir::seal_keystore_as`].
    pub(crate) fn write_keystore(&self, sealed: &[u8]) -> Result<()> {
        fsutil::replace(&self.keystore_path(), sealed, 0o600)
    }

    /// The keystore file's bytes as they are on disk now.
    pub(crate) fn keystore_file(&self) -> Result<Vec<u8>> {
        fsutil::read(&self.keystore_path())
    }

    /// Reads the configuration of the data directory `dir`.
    pub(crate) fn read_config(dir: &Path) -> Result<Config> {
        let cfg_path = dir.join(CONFIG_FILE);
        if std::fs::symlink_metadata(&cfg_path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Err(EngineError::NotADataDir { path: dir.into() });
        }
        // Bounded: a configuration is a few hundred bytes, `/dev/zero` in its place fails at once.
        let text = String::from_utf8(fsutil::read_bounded(&cfg_path, 1 << 20)?).map_err(|_| {
            EngineError::io(
                &cfg_path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
            )
        })?;
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

    /// Opens a keystore file. A token manifest opens with the token named by the
    /// configuration of the data directory the file is in.
    pub(crate) fn read_keystore(path: &Path, passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
        let bytes = fsutil::read(path)?;
        let config = if credseal_crypto::is_manifest(&bytes) {
            let dir = path.parent().unwrap_or(Path::new("."));
            Self::read_config(dir)?.pkcs11
        } else {
            None
        };
        Self::keystore_with(&bytes, path, config.as_ref(), passphrase, opts)
    }

    fn keystore_with(
        bytes: &[u8],
        path: &Path,
        pkcs11: Option<&Pkcs11Config>,
        passphrase: &Passphrase,
        opts: OpenOptions,
    ) -> Result<Keystore> {
        match (credseal_crypto::is_manifest(bytes), pkcs11) {
            (false, None) => Self::keystore_from(bytes, path, passphrase, opts),
            (true, Some(cfg)) => {
                let token = cfg.open(passphrase, path)?;
                Keystore::open_manifest(bytes, token).map_err(|source| EngineError::Keystore {
                    path: path.into(),
                    source,
                })
            }
            (true, None) => Err(EngineError::Keystore {
                path: path.into(),
                source: credseal_crypto::KeystoreError::Token(
                    "a manifest of keys in a PKCS#11 token, but the configuration names no [pkcs11] token".into(),
                ),
            }),
            (false, Some(_)) => Err(EngineError::Keystore {
                path: path.into(),
                source: credseal_crypto::KeystoreError::Token(
                    "the configuration names a [pkcs11] token, but the keystore is a sealed file".into(),
                ),
            }),
        }
    }

    /// Opens keystore bytes (the demo's embedded keystore).
    pub(crate) fn read_keystore_bytes(bytes: &[u8], passphrase: &Passphrase, opts: OpenOptions) -> Result<Keystore> {
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
}
