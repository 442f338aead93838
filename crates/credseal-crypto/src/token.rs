//! Keys held in a PKCS#11 token (HSM custody, `docs/design.md` §2): what a [`Keystore`]
//! holds instead of key bytes, and the file it is written as — a *manifest* of token object
//! ids with no key material (`docs/formats.md` §4c).
//!
//! This crate does not talk PKCS#11: a [`KeyToken`] (implemented by `credseal-pkcs11`) does
//! the wrapping, unwrapping, MACs and signatures in the token. A class KEK is then a
//! [`KekKey::Token`], the log key a [`LogKey::Token`], and the index, trace and VRF keys are
//! derived at open by HMAC-SHA-256 *in the token* under its derivation key, so they are in
//! no file: destroying the derivation key leaves nothing that recomputes them.
//!
//! ```text
//! manifest = "CSKT" ‖ format:u8 (1) ‖ postcard(ManifestBody) ‖ mac (32)
//! mac      = HMAC-SHA-256_token(derivation key, "credseal:v1:token-manifest" ‖ bytes before the mac)
//! index key = HMAC-SHA-256_token(derivation key, "credseal:v1:token-derive:index"), likewise trace, vrf
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::blind::VrfKey;
use crate::keystore::{ClassKeys, KdfParams, KekEntry, Keystore, KeystoreError};
use crate::keytree::{NODE_ID_LEN, TreeNode, WRAPPED_NODE_LEN};
use crate::secret::{IndexKey, Kek, LogKeySeed, TraceKey};

/// Magic of a token manifest (a keystore whose keys are in a PKCS#11 token).
pub const MANIFEST_MAGIC: &[u8; 4] = b"CSKT";
/// Manifest format.
pub const MANIFEST_FORMAT: u8 = 1;
/// Label of the manifest's MAC.
pub const MANIFEST_MAC_LABEL: &[u8] = b"credseal:v1:token-manifest";
/// Label of the index key derived in the token.
pub const DERIVE_INDEX_LABEL: &[u8] = b"credseal:v1:token-derive:index";
/// Label of the trace key derived in the token.
pub const DERIVE_TRACE_LABEL: &[u8] = b"credseal:v1:token-derive:trace";
/// Label of the VRF key seed derived in the token.
pub const DERIVE_VRF_LABEL: &[u8] = b"credseal:v1:token-derive:vrf";

/// A token object's id (`CKA_ID`, 16 random bytes; public).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TokenObject(pub [u8; 16]);

impl std::fmt::Display for TokenObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&credseal_core::hex(&self.0))
    }
}

/// A logged-in PKCS#11 token that holds a platform's keys. Every method runs in the token;
/// errors say what failed, never key bytes.
pub trait KeyToken: Send + Sync {
    /// The token's label.
    fn label(&self) -> &str;
    /// Makes a KEK (AES-256, non-extractable, encrypt/decrypt only) named `label`.
    fn generate_kek(&self, label: &str) -> Result<TokenObject, String>;
    /// Destroys the object `id` (every object with that id).
    fn destroy(&self, id: &TokenObject) -> Result<(), String>;
    /// Wraps a class's key-tree root under the token KEK `kek` (version `version`):
    /// `nonce ‖ AES-256-GCM ciphertext ‖ tag` (`docs/formats.md` §2b, root record 0x02).
    fn wrap_root(
        &self,
        kek: &TokenObject,
        version: u32,
        class: &str,
        root: &TreeNode,
    ) -> Result<[u8; WRAPPED_NODE_LEN], String>;
    /// Unwraps what [`KeyToken::wrap_root`] made for the root `root_id`.
    fn unwrap_root(
        &self,
        kek: &TokenObject,
        version: u32,
        class: &str,
        root_id: &[u8; NODE_ID_LEN],
        wrapped: &[u8],
    ) -> Result<TreeNode, String>;
    /// HMAC-SHA-256 under the token's derivation key `key`.
    fn mac(&self, key: &TokenObject, msg: &[u8]) -> Result<Zeroizing<[u8; 32]>, String>;
    /// Pure Ed25519 with the token's private key `key`.
    fn sign(&self, key: &TokenObject, msg: &[u8]) -> Result<[u8; 64], String>;
}

/// A keystore's token: the session and the derivation key's id.
#[derive(Clone)]
pub struct TokenCustody {
    /// The logged-in token.
    pub token: Arc<dyn KeyToken>,
    /// The HMAC key the index, trace and VRF keys and the manifest's MAC come from.
    pub derive_key: TokenObject,
}

impl std::fmt::Debug for TokenCustody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCustody")
            .field("token", &self.token.label())
            .field("derive_key", &self.derive_key)
            .finish()
    }
}

/// Where a KEK is.
#[derive(Clone, Debug)]
pub enum KekKey {
    /// In the keystore file (sealed by the passphrase or the officers' shares).
    Software(Kek),
    /// A non-extractable object of the keystore's token.
    Token(TokenObject),
}

/// Where the log signing key is.
#[derive(Clone, Debug)]
pub enum LogKey {
    /// Its seed, in the keystore file.
    Seed(LogKeySeed),
    /// An Ed25519 key pair in the token (private and public objects share the id).
    Token {
        /// The objects' id.
        id: TokenObject,
        /// The public key.
        public: [u8; 32],
    },
}

#[derive(Serialize, Deserialize)]
struct ManifestBody {
    token_label: String,
    origin: String,
    generation: u64,
    catalog_digest: [u8; 32],
    classes: Vec<ManifestClass>,
    log_key: TokenObject,
    log_public: [u8; 32],
    log_history: Vec<String>,
    derive_key: TokenObject,
}

#[derive(Serialize, Deserialize)]
struct ManifestClass {
    id: String,
    primary: u32,
    versions: Vec<(u32, TokenObject, u64)>,
}

fn tok(e: String) -> KeystoreError {
    KeystoreError::Token(e)
}

/// Whether `bytes` is a token manifest (rather than a sealed keystore).
pub fn is_manifest(bytes: &[u8]) -> bool {
    bytes.starts_with(MANIFEST_MAGIC)
}

fn derived(custody: &TokenCustody, label: &[u8]) -> Result<Zeroizing<[u8; 32]>, KeystoreError> {
    custody.token.mac(&custody.derive_key, label).map_err(tok)
}

impl Keystore {
    /// A new keystore whose KEKs (version 1 of each class) and log key are made in
    /// `token`, with `derive_key` (an HMAC key already in it) as derivation key.
    pub fn generate_in_token(
        origin: &str,
        classes: &[&str],
        catalog_digest: [u8; 32],
        now: u64,
        custody: TokenCustody,
        log_key: (TokenObject, [u8; 32]),
    ) -> Result<Self, KeystoreError> {
        let mut out = BTreeMap::new();
        for c in classes {
            let id = custody
                .token
                .generate_kek(&format!("credseal kek {c} v1"))
                .map_err(tok)?;
            let mut versions = BTreeMap::new();
            versions.insert(
                1,
                KekEntry {
                    kek: KekKey::Token(id),
                    created: now,
                },
            );
            out.insert(c.to_string(), ClassKeys { primary: 1, versions });
        }
        Self::with_token_keys(origin.to_string(), 1, catalog_digest, out, log_key, Vec::new(), custody)
    }

    fn with_token_keys(
        origin: String,
        generation: u64,
        catalog_digest: [u8; 32],
        classes: BTreeMap<String, ClassKeys>,
        (log_id, log_public): (TokenObject, [u8; 32]),
        log_history: Vec<String>,
        custody: TokenCustody,
    ) -> Result<Self, KeystoreError> {
        let index = derived(&custody, DERIVE_INDEX_LABEL)?;
        let trace = derived(&custody, DERIVE_TRACE_LABEL)?;
        let vrf = derived(&custody, DERIVE_VRF_LABEL)?;
        Ok(Self {
            origin,
            generation,
            catalog_digest,
            classes,
            log_key: LogKey::Token {
                id: log_id,
                public: log_public,
            },
            log_history,
            index_key: IndexKey::from_bytes(*index),
            vrf_key: VrfKey::from_seed(*vrf),
            trace_key: TraceKey::from_bytes(*trace),
            kdf: KdfParams::DEFAULT,
            unseal: None,
            token: Some(custody),
            file_key: crate::FileKey::default(),
        })
    }

    /// The manifest of a keystore in a token: object ids and public data, MAC'd in the token.
    pub(crate) fn to_manifest(&self, custody: &TokenCustody) -> Result<Vec<u8>, KeystoreError> {
        let LogKey::Token { id, public } = &self.log_key else {
            return Err(KeystoreError::Malformed(
                "a keystore in a token with a log key seed".into(),
            ));
        };
        let mut classes = Vec::new();
        for (c, keys) in &self.classes {
            let mut versions = Vec::new();
            for (v, e) in &keys.versions {
                let KekKey::Token(obj) = &e.kek else {
                    return Err(KeystoreError::Malformed(format!(
                        "a keystore in a token with a KEK of class {c:?} v{v} outside it"
                    )));
                };
                versions.push((*v, *obj, e.created));
            }
            classes.push(ManifestClass {
                id: c.clone(),
                primary: keys.primary,
                versions,
            });
        }
        let body = ManifestBody {
            token_label: custody.token.label().to_string(),
            origin: self.origin.clone(),
            generation: self.generation,
            catalog_digest: self.catalog_digest,
            classes,
            log_key: *id,
            log_public: *public,
            log_history: self.log_history.clone(),
            derive_key: custody.derive_key,
        };
        let mut out = MANIFEST_MAGIC.to_vec();
        out.push(MANIFEST_FORMAT);
        out.extend_from_slice(&postcard::to_stdvec(&body).map_err(|e| KeystoreError::Malformed(e.to_string()))?);
        let mut msg = MANIFEST_MAC_LABEL.to_vec();
        msg.extend_from_slice(&out);
        let mac = custody.token.mac(&custody.derive_key, &msg).map_err(tok)?;
        out.extend_from_slice(&mac[..]);
        Ok(out)
    }

    /// Opens a token manifest with its token (already logged in): checks the MAC in the
    /// token, then derives the index, trace and VRF keys in it.
    pub fn open_manifest(bytes: &[u8], token: Arc<dyn KeyToken>) -> Result<Self, KeystoreError> {
        if !is_manifest(bytes) {
            return Err(KeystoreError::NotAKeystore);
        }
        if bytes.len() < 5 + 32 {
            return Err(KeystoreError::Truncated(bytes.len()));
        }
        if bytes[4] != MANIFEST_FORMAT {
            return Err(KeystoreError::UnsupportedFormat(bytes[4]));
        }
        let (signed, mac) = bytes.split_at(bytes.len() - 32);
        let body: ManifestBody =
            postcard::from_bytes(&signed[5..]).map_err(|e| KeystoreError::Malformed(format!("token manifest: {e}")))?;
        if body.token_label != token.label() {
            return Err(KeystoreError::Token(format!(
                "the manifest names token {:?}, not {:?}",
                body.token_label,
                token.label()
            )));
        }
        let custody = TokenCustody {
            token,
            derive_key: body.derive_key,
        };
        let mut msg = MANIFEST_MAC_LABEL.to_vec();
        msg.extend_from_slice(signed);
        let want = custody.token.mac(&custody.derive_key, &msg).map_err(tok)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], mac)) {
            return Err(KeystoreError::Tampered);
        }
        let mut classes = BTreeMap::new();
        for c in body.classes {
            let versions: BTreeMap<u32, KekEntry> = c
                .versions
                .iter()
                .map(|(v, id, created)| {
                    (
                        *v,
                        KekEntry {
                            kek: KekKey::Token(*id),
                            created: *created,
                        },
                    )
                })
                .collect();
            if !versions.contains_key(&c.primary) {
                return Err(KeystoreError::Malformed(format!(
                    "class {:?} has no primary key version",
                    c.id
                )));
            }
            classes.insert(
                c.id,
                ClassKeys {
                    primary: c.primary,
                    versions,
                },
            );
        }
        Self::with_token_keys(
            body.origin,
            body.generation,
            body.catalog_digest,
            classes,
            (body.log_key, body.log_public),
            body.log_history,
            custody,
        )
    }

    /// A new KEK for `class` version `version`: in the token when the keystore is in one.
    pub fn new_kek(&self, class: &str, version: u32) -> Result<KekKey, KeystoreError> {
        match &self.token {
            None => Ok(KekKey::Software(Kek::generate())),
            Some(c) => Ok(KekKey::Token(
                c.token
                    .generate_kek(&format!("credseal kek {class} v{version}"))
                    .map_err(tok)?,
            )),
        }
    }

    /// Destroys a KEK removed from the keystore: a token object is destroyed in the token
    /// (a software KEK is zeroized when its last copy drops). Returns the object's id.
    pub fn destroy_kek(&self, kek: &KekKey) -> Result<Option<TokenObject>, KeystoreError> {
        match (kek, &self.token) {
            (KekKey::Software(_), _) => Ok(None),
            (KekKey::Token(id), Some(c)) => {
                c.token.destroy(id).map_err(tok)?;
                Ok(Some(*id))
            }
            (KekKey::Token(id), None) => Err(KeystoreError::Token(format!(
                "KEK object {id} is in a token this keystore was not opened with"
            ))),
        }
    }

    /// The format byte of the root records this keystore writes: 0x01 (software KEK) or
    /// 0x02 (token KEK), `docs/formats.md` §2b.
    pub fn root_format(&self) -> u8 {
        if self.token.is_some() { 0x02 } else { 0x01 }
    }

    /// Wraps `class`'s root under its KEK `version`: (root record format byte, wrapped).
    pub fn wrap_root(
        &self,
        class: &str,
        version: u32,
        root: &TreeNode,
    ) -> Result<(u8, [u8; WRAPPED_NODE_LEN]), KeystoreError> {
        match &self.kek_entry(class, version)?.kek {
            KekKey::Software(k) => Ok((0x01, crate::keytree::wrap_root(k, version, class, root))),
            KekKey::Token(id) => {
                let c = self.custody(id)?;
                Ok((0x02, c.token.wrap_root(id, version, class, root).map_err(tok)?))
            }
        }
    }

    /// Unwraps `class`'s root (id `root_id`) from a root record of format `format`
    /// wrapped under KEK `version`.
    pub fn unwrap_root(
        &self,
        class: &str,
        version: u32,
        format: u8,
        root_id: &[u8; NODE_ID_LEN],
        wrapped: &[u8],
    ) -> Result<TreeNode, KeystoreError> {
        match (&self.kek_entry(class, version)?.kek, format) {
            (KekKey::Software(k), 0x01) => crate::keytree::unwrap_root(k, version, class, root_id, wrapped)
                .map_err(|e| KeystoreError::Token(e.to_string())),
            (KekKey::Token(id), 0x02) => {
                let c = self.custody(id)?;
                c.token.unwrap_root(id, version, class, root_id, wrapped).map_err(tok)
            }
            (KekKey::Software(_), f) => Err(KeystoreError::NoSuchKey(format!(
                "a root record of format {f:#04x} under KEK v{version} of class {class}, which is a software KEK (format 0x01)"
            ))),
            (KekKey::Token(_), f) => Err(KeystoreError::NoSuchKey(format!(
                "a root record of format {f:#04x} under KEK v{version} of class {class}, which is a token KEK (format 0x02)"
            ))),
        }
    }

    fn custody(&self, id: &TokenObject) -> Result<&TokenCustody, KeystoreError> {
        self.token.as_ref().ok_or_else(|| {
            KeystoreError::Token(format!(
                "KEK object {id} is in a token this keystore was not opened with"
            ))
        })
    }

    /// KEK entry `version` of `class`.
    pub fn kek_entry(&self, class: &str, version: u32) -> Result<&KekEntry, KeystoreError> {
        self.classes
            .get(class)
            .and_then(|c| c.versions.get(&version))
            .ok_or_else(|| KeystoreError::NoSuchKey(format!("class {class} has no KEK version {version}")))
    }

    /// The log key's seed, when it is in the keystore (not in a token).
    pub fn log_seed(&self) -> Option<&LogKeySeed> {
        match &self.log_key {
            LogKey::Seed(s) => Some(s),
            LogKey::Token { .. } => None,
        }
    }
}
