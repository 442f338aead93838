//! The platform keystore: one file, AES-256-GCM under a key derived from the operator's
//! passphrase with Argon2id. This module turns a [`Keystore`] into bytes and back; the
//! engine writes the file (mode 0600, atomically, never silently over an existing one).
//!
//! ```text
//! header  = "CSKS" ‖ format:u8 (3) ‖ kdf:u8 (1 = Argon2id v0x13) ‖ m_kib:u32be ‖ t:u32be
//!           ‖ p:u8 ‖ salt:16 ‖ check:16 ‖ nonce:12                       (59 bytes)
//! k       = Argon2id(passphrase, salt, m, t, p) → 64 bytes
//! check   = SHA-256("credseal:v1:keystore-check" ‖ k[32..64])[..16]
//! file    = header ‖ AES-256-GCM(k[0..32], nonce, postcard(body), aad = header)
//! ```
//! `check` tells a wrong passphrase apart from an altered file; it gives an attacker
//! nothing the AEAD tag does not already give (both confirm a passphrase guess).
//!
//! A keystore in the custody of several officers (M-of-N unseal, [`crate::UnsealSet`])
//! has kdf 2 and a variable header:
//! ```text
//! header  = "CSKS" ‖ 3 ‖ kdf:u8 (2 = shares) ‖ set_len:u32be ‖ postcard(UnsealSet)
//!           ‖ salt:16 ‖ check:16 ‖ nonce:12
//! k       = HMAC-SHA256(M, SHARES_LABEL ‖ salt ‖ 1) ‖ HMAC-SHA256(M, SHARES_LABEL ‖ salt ‖ 2)
//! ```
//! where M is the master key the set's shares put together; the rest is as above (the
//! whole header, the share set included, is the AEAD's associated data).
//!
//! Format 2 added the log key history (the signed handover notes of every log key rotation)
//! at the end of the body; format 3 adds the VRF key seed after it (the key of the
//! subjects' blind ids, `docs/formats.md` §3). Only format 3 is written and read: a keystore
//! of format 1 or 2 has no VRF key, and the blind ids of its data directory were HMACs, so
//! it is refused with [`KeystoreError::NoVrfKey`], which says to create a new platform.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::aead::{self, NONCE_LEN};
use crate::blind::VrfKey;
use crate::secret::{IndexKey, Kek, LogKeySeed, Passphrase, TraceKey, random_array};
use crate::token::{KekKey, LogKey, TokenCustody};

/// File magic.
pub const MAGIC: &[u8; 4] = b"CSKS";
/// Keystore format version: the body holds the log key history and the VRF key (3).
pub const FORMAT: u8 = 3;
/// The keystore format without the log key history (refused: no VRF key).
pub const FORMAT_V1: u8 = 1;
/// The keystore format with the log key history but without the VRF key (refused).
pub const FORMAT_V2: u8 = 2;
const KDF_ARGON2ID: u8 = 1;
const KDF_SHARES: u8 = 2;
/// The largest share set a header may hold (255 holders' sealed shares fit well below).
const MAX_SET_LEN: usize = 64 * 1024;
const SHARES_LABEL: &[u8] = b"credseal:v1:keystore-shares";
const HEADER_LEN: usize = 4 + 1 + 1 + 4 + 4 + 1 + 16 + 16 + NONCE_LEN;
const CHECK_LABEL: &[u8] = b"credseal:v1:keystore-check";

/// Argon2id cost parameters (stored in the header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u8,
}

impl KdfParams {
    /// RFC 9106's second recommended option, with one lane: 64 MiB, 3 passes.
    pub const DEFAULT: Self = Self {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
    /// Smallest memory this build writes (tests use it; the CLI asks for more).
    pub const MIN_M_KIB: u32 = 1024;
    /// Largest memory this build reads (stops a planted header from exhausting memory).
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// Most passes this build reads.
    pub const MAX_T: u32 = 64;

    pub(crate) fn check(&self) -> Result<(), KeystoreError> {
        if self.m_kib < Self::MIN_M_KIB
            || self.m_kib > Self::MAX_M_KIB
            || self.t == 0
            || self.t > Self::MAX_T
            || self.p == 0
            || self.p > 16
        {
            return Err(KeystoreError::BadKdfParams);
        }
        Ok(())
    }
}

/// Why a keystore could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    /// Does not start with the keystore magic.
    #[error("not a credseal keystore (bad magic bytes)")]
    NotAKeystore,
    /// A format this build does not read.
    #[error(
        "keystore format {0} is not supported by this build (it reads format 3); was it written by a newer credseal?"
    )]
    UnsupportedFormat(u8),
    /// A keystore of format 1 or 2, from before verifiable blind ids: it has no VRF key,
    /// and its data directory names subjects by HMAC blind ids this build no longer uses.
    #[error(
        "keystore format {0} predates verifiable blind ids (it has no VRF key); this build reads format 3 only: create a new platform with `credseal init` and ingest the data again"
    )]
    NoVrfKey(u8),
    /// Shorter than a header and a tag.
    #[error("keystore file is truncated ({0} bytes)")]
    Truncated(usize),
    /// KDF parameters out of range.
    #[error("keystore key-derivation parameters are out of range")]
    BadKdfParams,
    /// The passphrase does not match.
    #[error("wrong passphrase for this keystore")]
    WrongPassphrase,
    /// The passphrase matches but the contents fail authentication.
    #[error("keystore failed authentication: the file was altered")]
    Tampered,
    /// Authenticated, but the contents do not decode (a bug or a foreign writer).
    #[error("keystore contents are malformed: {0}")]
    Malformed(String),
    /// An empty passphrase.
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    /// A key operation named an unknown class or version.
    #[error("{0}")]
    NoSuchKey(String),
    /// A passphrase was given for a keystore sealed by its officers' shares.
    #[error(
        "this keystore is in the custody of {holders} officers and unseals with {threshold} of their shares, not a passphrase"
    )]
    SharesNeeded {
        /// K.
        threshold: u8,
        /// N.
        holders: usize,
    },
    /// A master key was given for a keystore sealed by a passphrase.
    #[error("this keystore is sealed by a passphrase, not by officers' shares")]
    NotShared,
    /// The PKCS#11 token failed, or holds the keystore's keys under other ids (what failed;
    /// never key bytes or the PIN).
    #[error("PKCS#11 token: {0}")]
    Token(String),
    /// The share set in the header does not decode.
    #[error("keystore share set is malformed: {0}")]
    BadShareSet(String),
}

/// One KEK version of a class.
#[derive(Clone, Debug)]
pub struct KekEntry {
    /// The key (or its token object).
    pub kek: KekKey,
    /// Unix seconds of creation.
    pub created: u64,
}

/// The KEK versions of one class.
#[derive(Clone, Debug)]
pub struct ClassKeys {
    /// The version new wraps use.
    pub primary: u32,
    /// Every version still held.
    pub versions: BTreeMap<u32, KekEntry>,
}

/// Everything the platform keeps secret.
#[derive(Clone, Debug)]
pub struct Keystore {
    /// The log origin (the platform's name).
    pub origin: String,
    /// Raised on every write; a keystore replaced by an older copy has a lower generation.
    pub generation: u64,
    /// SHA-256 of the catalogue the platform was set up with.
    pub catalog_digest: [u8; 32],
    /// Per-class KEKs.
    pub classes: BTreeMap<String, ClassKeys>,
    /// The current log key: its seed, or its objects in the token.
    pub log_key: LogKey,
    /// The log key history: the signed handover notes of every rotation, oldest first
    /// (public; `credseal_log::KeyHistory` reads them). The seeds of earlier log keys are
    /// not kept.
    pub log_history: Vec<String>,
    /// The index key.
    pub index_key: IndexKey,
    /// The VRF key of the subjects' blind ids (RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI).
    pub vrf_key: VrfKey,
    /// The trace key.
    pub trace_key: TraceKey,
    /// KDF parameters used when this keystore is written (passphrase custody).
    pub kdf: KdfParams,
    /// The officers' shares of the master key (M-of-N custody); `None`: a passphrase.
    pub unseal: Option<crate::UnsealSet>,
    /// The PKCS#11 token holding the KEKs and the log key (HSM custody, `crate::token`);
    /// `None`: the keys are in the sealed file.
    pub token: Option<TokenCustody>,
    /// The key the file was sealed under, kept from [`Keystore::open`] (and
    /// [`Keystore::seal_keeping`]) so that [`Keystore::reseal`] writes the next file without
    /// running the KDF again. `FileKey::default()` (none) for a keystore made in memory.
    pub file_key: FileKey,
}

/// The key a keystore file is sealed under (the KDF's 64-byte output) with the header it was
/// derived for (its salt, and the KDF parameters or the share set before it), kept from the
/// unlock the way a LUKS keyslot's volume key is: the next file is sealed under the same key
/// and salt with a fresh nonce, so a keystore write costs no Argon2id run. Zeroized when the
/// last keystore copy holding it drops; never printed.
#[derive(Clone, Default)]
pub struct FileKey(Option<std::sync::Arc<FileKeyInner>>);

struct FileKeyInner {
    /// The header up to and including the check value: magic, format, custody, salt, check.
    header: Vec<u8>,
    /// The KDF output for that salt.
    key: Zeroizing<[u8; 64]>,
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "FileKey([redacted])"
        } else {
            "FileKey(none)"
        })
    }
}

impl FileKey {
    fn new(header: &[u8], key: Zeroizing<[u8; 64]>) -> Self {
        Self(Some(std::sync::Arc::new(FileKeyInner {
            header: header.to_vec(),
            key,
        })))
    }

    /// Whether the keystore file `bytes` was sealed under this key: its header up to the
    /// check value is the one this key was derived for (same custody, parameters and salt,
    /// and the check value of this key). Public bytes only; the AEAD tag is not checked.
    pub fn seals(&self, bytes: &[u8]) -> bool {
        self.0
            .as_ref()
            .is_some_and(|i| bytes.len() > i.header.len() && bytes[..i.header.len()] == i.header[..])
    }
}

/// A format 3 body. postcard writes a nested struct's fields in place, so this is the
/// format 1 body followed by the history (format 2) and the VRF key seed.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Body {
    base: BodyV1,
    log_history: Vec<String>,
    vrf_seed: [u8; 32],
}

/// A format 1 body: everything but the log key history.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct BodyV1 {
    origin: String,
    generation: u64,
    catalog_digest: [u8; 32],
    classes: Vec<BodyClass>,
    log_seed: [u8; 32],
    index_key: [u8; 32],
    trace_key: [u8; 32],
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct BodyClass {
    id: String,
    primary: u32,
    versions: Vec<(u32, [u8; 32], u64)>,
}

impl Keystore {
    /// A new keystore with fresh random keys and version 1 of a KEK for each class.
    pub fn generate(origin: &str, classes: &[&str], catalog_digest: [u8; 32], now: u64, kdf: KdfParams) -> Self {
        let classes = classes
            .iter()
            .map(|c| {
                let mut versions = BTreeMap::new();
                versions.insert(
                    1,
                    KekEntry {
                        kek: KekKey::Software(Kek::generate()),
                        created: now,
                    },
                );
                (c.to_string(), ClassKeys { primary: 1, versions })
            })
            .collect();
        Self {
            origin: origin.to_string(),
            generation: 1,
            catalog_digest,
            classes,
            log_key: LogKey::Seed(LogKeySeed::generate()),
            log_history: Vec::new(),
            index_key: IndexKey::generate(),
            vrf_key: VrfKey::generate(),
            trace_key: TraceKey::generate(),
            kdf,
            unseal: None,
            token: None,
            file_key: FileKey::default(),
        }
    }

    /// The primary KEK version of `class`, if the class has keys.
    pub fn primary_version(&self, class: &str) -> Option<u32> {
        let c = self.classes.get(class)?;
        c.versions.contains_key(&c.primary).then_some(c.primary)
    }

    /// The primary KEK of `class` and its version, when it is a software key (`None` for a
    /// class without keys or whose KEK is in a token: use [`Keystore::wrap_root`]).
    pub fn primary_kek(&self, class: &str) -> Option<(u32, &Kek)> {
        let c = self.classes.get(class)?;
        Some((c.primary, self.kek(class, c.primary)?))
    }

    /// KEK `version` of `class`, when it is a software key (`None` if it is in a token).
    pub fn kek(&self, class: &str, version: u32) -> Option<&Kek> {
        match &self.classes.get(class)?.versions.get(&version)?.kek {
            KekKey::Software(k) => Some(k),
            KekKey::Token(_) => None,
        }
    }

    /// Encrypts the keystore under `pass` (fresh salt and nonce each time): a passphrase,
    /// or — when [`Keystore::unseal`] is set — the master key its shares put together.
    ///
    /// A keystore in a token is written as its manifest instead (object ids only; `pass`
    /// is not used).
    pub fn seal(&self, pass: &Passphrase) -> Result<Vec<u8>, KeystoreError> {
        if let Some(custody) = &self.token {
            return self.to_manifest(custody);
        }
        if pass.pin().is_some() {
            return Err(KeystoreError::Token(
                "a token PIN was given for a keystore sealed in its file, not held in a token".into(),
            ));
        }
        self.seal_fresh(pass).map(|(bytes, _)| bytes)
    }

    /// [`Keystore::seal`], keeping the new file's key in [`Keystore::file_key`] (a
    /// passphrase change: the next writes reseal under it).
    pub fn seal_keeping(&mut self, pass: &Passphrase) -> Result<Vec<u8>, KeystoreError> {
        if self.token.is_some() || pass.pin().is_some() {
            // A manifest (no key to keep), or the refusal `seal` gives.
            return self.seal(pass);
        }
        let (bytes, key) = self.seal_fresh(pass)?;
        self.file_key = key;
        Ok(bytes)
    }

    /// Seals the keystore under the key kept in [`Keystore::file_key`] — the same salt and
    /// key as the file it was opened from (or last sealed to), a fresh random nonce — so
    /// no KDF runs. `None` if no key is kept, or if it was derived for another header than
    /// this keystore would write now (its KDF parameters or share set changed): seal with
    /// the passphrase then.
    pub fn reseal(&self) -> Option<Vec<u8>> {
        if self.token.is_some() {
            return None;
        }
        let inner = self.file_key.0.as_ref()?;
        let prefix = self.custody_prefix().ok()?;
        let salted = prefix.len() + 16 + 16;
        if inner.header.len() != salted || inner.header[..prefix.len()] != prefix[..] {
            return None;
        }
        let nonce: [u8; NONCE_LEN] = random_array();
        let mut header = inner.header.clone();
        header.extend_from_slice(&nonce);
        self.seal_body(header, &inner.key, &nonce).ok()
    }

    /// The next keystore file, written without the passphrase (an unattended job: `credseal
    /// serve`'s scheduled retention sweep): a keystore in a token is its manifest (object ids
    /// only, no secret), any other is [`Keystore::reseal`]ed under the key kept from the
    /// unlock. `None` when no key is kept or it no longer fits this keystore's header: the
    /// write then needs the passphrase.
    pub fn seal_unattended(&self) -> Option<Result<Vec<u8>, KeystoreError>> {
        if let Some(custody) = &self.token {
            return Some(self.to_manifest(custody));
        }
        self.reseal().map(Ok)
    }

    /// The header's magic, format and custody fields (what comes before the salt).
    fn custody_prefix(&self) -> Result<Vec<u8>, KeystoreError> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(FORMAT);
        match &self.unseal {
            Some(set) => {
                let encoded = postcard::to_stdvec(set).map_err(|e| KeystoreError::BadShareSet(e.to_string()))?;
                if encoded.len() > MAX_SET_LEN {
                    return Err(KeystoreError::BadShareSet(format!("{} bytes", encoded.len())));
                }
                header.push(KDF_SHARES);
                // Cannot truncate: at most MAX_SET_LEN.
                header.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
                header.extend_from_slice(&encoded);
            }
            None => {
                self.kdf.check()?;
                header.push(KDF_ARGON2ID);
                header.extend_from_slice(&self.kdf.m_kib.to_be_bytes());
                header.extend_from_slice(&self.kdf.t.to_be_bytes());
                header.push(self.kdf.p);
            }
        }
        Ok(header)
    }

    /// Seals under a fresh salt (the KDF runs), returning the file and its key.
    fn seal_fresh(&self, pass: &Passphrase) -> Result<(Vec<u8>, FileKey), KeystoreError> {
        if pass.is_empty() {
            return Err(KeystoreError::EmptyPassphrase);
        }
        let salt: [u8; 16] = random_array();
        let nonce: [u8; NONCE_LEN] = random_array();
        let k = match (&self.unseal, pass.master()) {
            (Some(_), Some(m)) => derive_shares(m, &salt),
            (Some(set), None) => {
                return Err(KeystoreError::SharesNeeded {
                    threshold: set.threshold,
                    holders: set.holders.len(),
                });
            }
            (None, Some(_)) => return Err(KeystoreError::NotShared),
            (None, None) => {
                self.kdf.check()?;
                derive(pass, &salt, &self.kdf)?
            }
        };
        let mut header = self.custody_prefix()?;
        header.extend_from_slice(&salt);
        header.extend_from_slice(&check_value(&k));
        let key = FileKey::new(&header, k.clone());
        header.extend_from_slice(&nonce);
        Ok((self.seal_body(header, &k, &nonce)?, key))
    }

    /// `header` (complete, nonce last) ‖ the body sealed under `k[..32]` and `nonce`.
    fn seal_body(&self, header: Vec<u8>, k: &[u8; 64], nonce: &[u8; NONCE_LEN]) -> Result<Vec<u8>, KeystoreError> {
        let base = BodyV1 {
            origin: self.origin.clone(),
            generation: self.generation,
            catalog_digest: self.catalog_digest,
            classes: self
                .classes
                .iter()
                .map(|(id, c)| {
                    Ok(BodyClass {
                        id: id.clone(),
                        primary: c.primary,
                        versions: c
                            .versions
                            .iter()
                            .map(|(v, e)| match &e.kek {
                                KekKey::Software(k) => Ok((*v, *k.expose_secret(), e.created)),
                                KekKey::Token(_) => Err(KeystoreError::Malformed(
                                    "a KEK in a token, in a keystore without its token".into(),
                                )),
                            })
                            .collect::<Result<_, _>>()?,
                    })
                })
                .collect::<Result<_, KeystoreError>>()?,
            log_seed: *self
                .log_seed()
                .ok_or_else(|| {
                    KeystoreError::Malformed("a log key in a token, in a keystore without its token".into())
                })?
                .expose_secret(),
            index_key: *self.index_key.expose_secret(),
            trace_key: *self.trace_key.expose_secret(),
        };
        let encoded = postcard::to_stdvec(&Body {
            base,
            log_history: self.log_history.clone(),
            vrf_seed: *self.vrf_key.expose_secret(),
        });
        let mut buf = Zeroizing::new(encoded.map_err(|e| KeystoreError::Malformed(e.to_string()))?);
        // Cannot fail: the KDF output buffer is 64 bytes.
        let enc: &[u8; 32] = k[..32].try_into().expect("64-byte KDF output");
        aead::seal_in_place(enc, nonce, &header, &mut buf);
        let mut out = header;
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Reads only the KDF parameters of a keystore file's header (a keystore in officers'
    /// custody has none: [`KeystoreError::SharesNeeded`]).
    pub fn peek_kdf(bytes: &[u8]) -> Result<KdfParams, KeystoreError> {
        match parse_header(bytes)?.custody {
            Custody::Passphrase(kdf) => Ok(kdf),
            Custody::Shares(set) => Err(KeystoreError::SharesNeeded {
                threshold: set.threshold,
                holders: set.holders.len(),
            }),
        }
    }

    /// The share set of a keystore in officers' custody (public: in the header), or `None`
    /// for one sealed by a passphrase. Not authenticated until the keystore is opened.
    pub fn peek_unseal(bytes: &[u8]) -> Result<Option<crate::UnsealSet>, KeystoreError> {
        Ok(match parse_header(bytes)?.custody {
            Custody::Passphrase(_) => None,
            Custody::Shares(set) => Some(set),
        })
    }

    /// Decrypts a keystore file.
    pub fn open(bytes: &[u8], pass: &Passphrase) -> Result<Self, KeystoreError> {
        if crate::token::is_manifest(bytes) {
            return Err(KeystoreError::Token(
                "this keystore is a manifest of keys held in a PKCS#11 token: open it with its data directory's token"
                    .into(),
            ));
        }
        if pass.pin().is_some() {
            return Err(KeystoreError::Token(
                "a token PIN was given for a keystore sealed in its file, not held in a token".into(),
            ));
        }
        let Header {
            custody,
            len: header_len,
            salt,
            check,
            nonce,
        } = parse_header(bytes)?;
        let format = bytes[4];
        let (k, kdf, unseal) = match (custody, pass.master()) {
            (Custody::Passphrase(kdf), None) => (derive(pass, &salt, &kdf)?, kdf, None),
            (Custody::Passphrase(_), Some(_)) => return Err(KeystoreError::NotShared),
            (Custody::Shares(set), Some(m)) => (derive_shares(m, &salt), KdfParams::DEFAULT, Some(set)),
            (Custody::Shares(set), None) => {
                return Err(KeystoreError::SharesNeeded {
                    threshold: set.threshold,
                    holders: set.holders.len(),
                });
            }
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&check_value(&k)[..], &check[..])) {
            return Err(KeystoreError::WrongPassphrase);
        }
        // Cannot fail: the KDF output buffer is 64 bytes.
        let enc: &[u8; 32] = k[..32].try_into().expect("64-byte KDF output");
        let file_key = FileKey::new(&bytes[..header_len - NONCE_LEN], k.clone());
        let mut buf = Zeroizing::new(bytes[header_len..].to_vec());
        aead::open_in_place(enc, &nonce, &bytes[..header_len], &mut buf).map_err(|()| KeystoreError::Tampered)?;
        let malformed = |e: postcard::Error| KeystoreError::Malformed(e.to_string());
        if format != FORMAT {
            // Authenticated (the format byte is in the AAD), but from before the VRF key.
            return Err(KeystoreError::NoVrfKey(format));
        }
        let body: Body = postcard::from_bytes(&buf).map_err(malformed)?;
        let history = body.log_history.clone();
        let vrf_key = VrfKey::from_seed(body.vrf_seed);
        let body = &body.base;
        let mut classes = BTreeMap::new();
        for c in &body.classes {
            let versions: BTreeMap<u32, KekEntry> = c
                .versions
                .iter()
                .map(|(v, k, created)| {
                    (
                        *v,
                        KekEntry {
                            kek: KekKey::Software(Kek::from_bytes(*k)),
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
                c.id.clone(),
                ClassKeys {
                    primary: c.primary,
                    versions,
                },
            );
        }
        Ok(Self {
            origin: body.origin.clone(),
            generation: body.generation,
            catalog_digest: body.catalog_digest,
            classes,
            log_key: LogKey::Seed(LogKeySeed::from_bytes(body.log_seed)),
            log_history: history,
            index_key: IndexKey::from_bytes(body.index_key),
            vrf_key,
            trace_key: TraceKey::from_bytes(body.trace_key),
            kdf,
            unseal,
            token: None,
            file_key,
        })
    }
}

enum Custody {
    Passphrase(KdfParams),
    Shares(crate::UnsealSet),
}

struct Header {
    custody: Custody,
    len: usize,
    salt: [u8; 16],
    check: [u8; 16],
    nonce: [u8; NONCE_LEN],
}

fn parse_header(bytes: &[u8]) -> Result<Header, KeystoreError> {
    if bytes.len() < 4 || &bytes[..4] != MAGIC {
        return Err(KeystoreError::NotAKeystore);
    }
    if bytes.len() < 5 {
        return Err(KeystoreError::Truncated(bytes.len()));
    }
    if bytes[4] != FORMAT && bytes[4] != FORMAT_V1 && bytes[4] != FORMAT_V2 {
        return Err(KeystoreError::UnsupportedFormat(bytes[4]));
    }
    if bytes.len() < HEADER_LEN + aead::TAG_LEN {
        return Err(KeystoreError::Truncated(bytes.len()));
    }
    // Cannot fail: the header length was checked before these fixed offsets are read.
    let u32at = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("in header"));
    let (custody, at) = match bytes[5] {
        KDF_ARGON2ID => {
            let kdf = KdfParams {
                m_kib: u32at(6),
                t: u32at(10),
                p: bytes[14],
            };
            kdf.check()?;
            (Custody::Passphrase(kdf), 15)
        }
        KDF_SHARES if bytes[4] == FORMAT => {
            let n = u32at(6) as usize;
            if n > MAX_SET_LEN {
                return Err(KeystoreError::BadShareSet(format!("{n} bytes")));
            }
            if bytes.len() < 10 + n + 44 + aead::TAG_LEN {
                return Err(KeystoreError::Truncated(bytes.len()));
            }
            let set: crate::UnsealSet =
                postcard::from_bytes(&bytes[10..10 + n]).map_err(|e| KeystoreError::BadShareSet(e.to_string()))?;
            (Custody::Shares(set), 10 + n)
        }
        _ => return Err(KeystoreError::BadKdfParams),
    };
    // Cannot fail: the length was checked to hold these 44 bytes after `at`.
    let salt = bytes[at..at + 16].try_into().expect("in header");
    let check = bytes[at + 16..at + 32].try_into().expect("in header");
    let nonce = bytes[at + 32..at + 44].try_into().expect("in header");
    Ok(Header {
        custody,
        len: at + 44,
        salt,
        check,
        nonce,
    })
}

/// The 64-byte keystore key from a master key (shares custody): two HMAC-SHA256 blocks.
fn derive_shares(master: &[u8; 32], salt: &[u8; 16]) -> Zeroizing<[u8; 64]> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, master);
    let mut out = Zeroizing::new([0u8; 64]);
    for (i, block) in out.chunks_mut(32).enumerate() {
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(SHARES_LABEL);
        ctx.update(salt);
        // Cannot truncate: two blocks.
        ctx.update(&[i as u8 + 1]);
        block.copy_from_slice(ctx.sign().as_ref());
    }
    out
}

pub(crate) fn derive(
    pass: &Passphrase,
    salt: &[u8; 16],
    kdf: &KdfParams,
) -> Result<Zeroizing<[u8; 64]>, KeystoreError> {
    if pass.is_empty() {
        return Err(KeystoreError::EmptyPassphrase);
    }
    let params =
        argon2::Params::new(kdf.m_kib, kdf.t, u32::from(kdf.p), Some(64)).map_err(|_| KeystoreError::BadKdfParams)?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 64]);
    a.hash_password_into(pass.expose_secret(), salt, &mut out[..])
        .map_err(|_| KeystoreError::BadKdfParams)?;
    Ok(out)
}

fn check_value(k: &[u8; 64]) -> [u8; 16] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(CHECK_LABEL);
    ctx.update(&k[32..]);
    // Cannot fail: a SHA-256 digest has 16 leading bytes.
    ctx.finish().as_ref()[..16].try_into().expect("32-byte digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };

    fn ks() -> Keystore {
        Keystore::generate("test.example/log", &["identity", "loans"], [7; 32], 1_700_000_000, FAST)
    }

    #[test]
    fn round_trip() {
        let k = ks();
        let pass = Passphrase::new("correct horse".into());
        let bytes = k.seal(&pass).unwrap();
        let back = Keystore::open(&bytes, &pass).unwrap();
        assert_eq!(back.origin, k.origin);
        assert_eq!(back.generation, 1);
        assert!(back.index_key.ct_eq(&k.index_key));
        assert!(back.kek("loans", 1).unwrap().ct_eq(k.kek("loans", 1).unwrap()));
        assert_eq!(back.primary_kek("identity").unwrap().0, 1);
        assert!(back.kek("loans", 2).is_none());
    }

    /// A reseal keeps the unlock's salt and check (no KDF), takes a fresh nonce every time,
    /// and the file opens with the passphrase alone.
    #[test]
    fn reseal_same_salt_fresh_nonce() {
        let pass = Passphrase::new("correct horse".into());
        let first = ks().seal(&pass).unwrap();
        let mut opened = Keystore::open(&first, &pass).unwrap();
        assert!(opened.file_key.seals(&first));
        opened.generation = 2;
        let a = opened.reseal().unwrap();
        let b = opened.reseal().unwrap();
        let salted = HEADER_LEN - NONCE_LEN;
        assert_eq!(a[..salted], first[..salted], "salt and check kept");
        assert_eq!(b[..salted], first[..salted]);
        assert_ne!(a[salted..HEADER_LEN], b[salted..HEADER_LEN], "a new nonce every write");
        assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
        let back = Keystore::open(&a, &pass).unwrap();
        assert_eq!(back.generation, 2);
        assert_eq!(Keystore::open(&b, &pass).unwrap().generation, 2);
        assert_eq!(
            Keystore::open(&a, &Passphrase::new("wrong horse".into())).unwrap_err(),
            KeystoreError::WrongPassphrase
        );
        // The kept key seals files of its own header only.
        assert!(opened.file_key.seals(&a));
        assert!(!opened.file_key.seals(&ks().seal(&pass).unwrap()), "another salt");
        assert!(format!("{:?}", opened.file_key).contains("redacted"));
    }

    /// No kept key (a keystore made in memory), or one derived for other KDF parameters:
    /// no reseal, the caller seals with the passphrase.
    #[test]
    fn reseal_refused_without_a_matching_key() {
        let pass = Passphrase::new("correct horse".into());
        assert!(ks().reseal().is_none());
        let mut opened = Keystore::open(&ks().seal(&pass).unwrap(), &pass).unwrap();
        opened.kdf = KdfParams { t: 2, ..FAST };
        assert!(opened.reseal().is_none());
    }

    /// An unattended write (no passphrase): the opened keystore reseals under its kept key,
    /// which the passphrase opens; one made in memory has no key to reseal under.
    #[test]
    fn seal_unattended_needs_the_kept_key() {
        let pass = Passphrase::new("correct horse".into());
        assert!(ks().seal_unattended().is_none());
        let opened = Keystore::open(&ks().seal(&pass).unwrap(), &pass).unwrap();
        let again = opened.seal_unattended().unwrap().unwrap();
        assert_eq!(Keystore::open(&again, &pass).unwrap().generation, opened.generation);
    }

    /// A passphrase change keeps the new key: later reseals open with the new passphrase only.
    #[test]
    fn seal_keeping_moves_the_kept_key() {
        let old = Passphrase::new("correct horse".into());
        let new = Passphrase::new("battery staple".into());
        let mut k = Keystore::open(&ks().seal(&old).unwrap(), &old).unwrap();
        let changed = k.seal_keeping(&new).unwrap();
        assert!(k.file_key.seals(&changed));
        let again = k.reseal().unwrap();
        assert!(Keystore::open(&again, &new).is_ok());
        assert_eq!(
            Keystore::open(&again, &old).unwrap_err(),
            KeystoreError::WrongPassphrase
        );
    }

    #[test]
    fn wrong_passphrase_and_tampering() {
        let pass = Passphrase::new("correct horse".into());
        let bytes = ks().seal(&pass).unwrap();
        assert_eq!(
            Keystore::open(&bytes, &Passphrase::new("wrong".into())).unwrap_err(),
            KeystoreError::WrongPassphrase
        );
        // A flip in the body or tag: tampered. In the salt or params: the derived key
        // changes, so it reads as a wrong passphrase. Never accepted.
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            let e = Keystore::open(&t, &pass).unwrap_err();
            if i >= HEADER_LEN {
                assert_eq!(e, KeystoreError::Tampered, "flip at {i}");
            } else if i == 47 {
                // nonce
                assert_eq!(e, KeystoreError::Tampered, "flip at {i}");
            }
        }
        assert_eq!(
            Keystore::open(&bytes[..30], &pass).unwrap_err(),
            KeystoreError::Truncated(30)
        );
        assert_eq!(
            Keystore::open(&bytes[..bytes.len() - 1], &pass).unwrap_err(),
            KeystoreError::Tampered
        );
        assert_eq!(
            Keystore::open(b"PK\x03\x04 a zip file", &pass).unwrap_err(),
            KeystoreError::NotAKeystore
        );
        assert_eq!(Keystore::open(b"", &pass).unwrap_err(), KeystoreError::NotAKeystore);
        let mut v4 = bytes.clone();
        v4[4] = 4;
        assert_eq!(
            Keystore::open(&v4, &pass).unwrap_err(),
            KeystoreError::UnsupportedFormat(4)
        );
        // The format byte is authenticated: a format 3 file relabelled 2 is altered.
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert_eq!(Keystore::open(&v2, &pass).unwrap_err(), KeystoreError::Tampered);
        // A planted header asking for 1 TiB of memory is refused before any work.
        let mut big = bytes.clone();
        big[6..10].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Keystore::open(&big, &pass).unwrap_err(), KeystoreError::BadKdfParams);
    }

    #[test]
    fn format_3_holds_the_log_key_history_and_the_vrf_key() {
        let pass = Passphrase::new("correct horse".into());
        let mut k = ks();
        let empty = k.seal(&pass).unwrap();
        assert_eq!(empty[4], FORMAT, "format 3 even without a history");
        k.log_history = vec!["note one\n".into(), "note two\n".into()];
        k.generation = 5;
        let v3 = k.seal(&pass).unwrap();
        assert_eq!(v3[4], FORMAT);
        let back = Keystore::open(&v3, &pass).unwrap();
        assert_eq!(back.log_history, k.log_history);
        assert_eq!(back.generation, 5);
        assert!(back.log_seed().unwrap().ct_eq(k.log_seed().unwrap()));
        assert!(back.vrf_key.ct_eq(&k.vrf_key));
        assert_eq!(back.vrf_key.public_key(), k.vrf_key.public_key());
        assert!(back.kek("loans", 1).unwrap().ct_eq(k.kek("loans", 1).unwrap()));
        assert!(Keystore::open(&empty, &pass).unwrap().log_history.is_empty());
        // Two keystores never share a VRF key.
        assert!(!ks().vrf_key.ct_eq(&k.vrf_key));
    }

    /// A keystore of format 1 or 2 (no VRF key), sealed as those builds sealed it: refused
    /// after authentication, with a message that says what to do.
    #[test]
    fn formats_1_and_2_refused_as_predating_the_vrf_key() {
        let pass = Passphrase::new("correct horse".into());
        let k = ks();
        let sealed = k.seal(&pass).unwrap();
        let kdf = Keystore::peek_kdf(&sealed).unwrap();
        for old in [FORMAT_V1, FORMAT_V2] {
            // Re-seal the same body under a header naming the old format (the AAD covers the
            // header, so the file authenticates as a genuine old one would).
            let salt: [u8; 16] = random_array();
            let nonce: [u8; NONCE_LEN] = random_array();
            let key = derive(&pass, &salt, &kdf).unwrap();
            let mut header = Vec::new();
            header.extend_from_slice(MAGIC);
            header.extend_from_slice(&[old, KDF_ARGON2ID]);
            header.extend_from_slice(&kdf.m_kib.to_be_bytes());
            header.extend_from_slice(&kdf.t.to_be_bytes());
            header.push(kdf.p);
            header.extend_from_slice(&salt);
            header.extend_from_slice(&check_value(&key));
            header.extend_from_slice(&nonce);
            let mut body = vec![0u8; 40];
            aead::seal_in_place(key[..32].try_into().unwrap(), &nonce, &header, &mut body);
            let mut file = header;
            file.extend_from_slice(&body);
            let e = Keystore::open(&file, &pass).unwrap_err();
            assert_eq!(e, KeystoreError::NoVrfKey(old));
            let msg = e.to_string();
            assert!(msg.contains("no VRF key") && msg.contains("credseal init"), "{msg}");
        }
    }

    /// A keystore in officers' custody: opens with the master key K shares put together,
    /// not with a passphrase; its share set is authenticated with the body.
    #[test]
    fn shares_custody_round_trip_and_share_set_tamper() {
        use crate::{SealingKey, UnsealSet};
        let officers: Vec<(String, SealingKey)> = (0..3).map(|i| (format!("o{i}"), SealingKey::generate())).collect();
        let public: Vec<_> = officers.iter().map(|(n, k)| (n.clone(), k.public())).collect();
        let (set, master) = UnsealSet::new_master(2, &public).unwrap();
        let mut k = ks();
        k.unseal = Some(set.clone());
        let bytes = k.seal(&master).unwrap();
        assert_eq!(bytes[5], KDF_SHARES);
        let peeked = Keystore::peek_unseal(&bytes).unwrap().unwrap();
        assert_eq!(peeked, set);
        let shares = [
            set.open_share(&officers[0].1).unwrap(),
            set.open_share(&officers[2].1).unwrap(),
        ];
        let back = Keystore::open(&bytes, &set.combine(&shares).unwrap()).unwrap();
        assert!(back.kek("loans", 1).unwrap().ct_eq(k.kek("loans", 1).unwrap()));
        assert_eq!(back.unseal.as_ref(), Some(&set));
        // A passphrase does not open it, and says what does.
        assert_eq!(
            Keystore::open(&bytes, &Passphrase::new("guess".into())).unwrap_err(),
            KeystoreError::SharesNeeded {
                threshold: 2,
                holders: 3
            }
        );
        // A passphrase keystore refuses a master key.
        let plain = ks().seal(&Passphrase::new("p".into())).unwrap();
        assert_eq!(Keystore::open(&plain, &master).unwrap_err(), KeystoreError::NotShared);
        // Every flipped byte in the header's share set is refused, never accepted.
        let n = u32::from_be_bytes(bytes[6..10].try_into().unwrap()) as usize;
        for i in (10..10 + n).step_by(7) {
            let mut t = bytes.clone();
            t[i] ^= 0x01;
            assert!(Keystore::open(&t, &master).is_err(), "flip at {i}");
        }
        // The header's share set lowered to K = 1: one share does not unseal (Shamir), and
        // the altered header fails the body's tag even with the right master key.
        let mut low = set.clone();
        low.threshold = 1;
        let mut k1 = k.clone();
        k1.unseal = Some(low);
        let forged = k1.seal(&master).unwrap();
        let one = set.open_share(&officers[1].1).unwrap();
        assert!(
            Keystore::peek_unseal(&forged)
                .unwrap()
                .unwrap()
                .combine(&[one])
                .is_err()
        );
    }

    /// F1 of the custody review: a reshare seals the body under a new master key. An old
    /// copy of the file and K shares of the old epoch (a removed officer and one other) put
    /// together the old master key, which opens that old copy only: not the new file, not
    /// even past the check value (its body key, derived from the old key, fails the tag).
    #[test]
    fn old_file_and_old_shares_do_not_open_the_file_after_a_reshare() {
        use crate::{SealingKey, UnsealSet};
        let officers: Vec<(String, SealingKey)> = (0..3).map(|i| (format!("o{i}"), SealingKey::generate())).collect();
        let public: Vec<_> = officers.iter().map(|(n, k)| (n.clone(), k.public())).collect();
        let (set1, master1) = UnsealSet::new_master(2, &public).unwrap();
        let mut k = ks();
        k.unseal = Some(set1.clone());
        let old_file = k.seal(&master1).unwrap();
        // o2 is removed; o0 and o1 stay.
        let (set2, master2) = set1.reshare(2, &public[..2]).unwrap();
        k.unseal = Some(set2.clone());
        let new_file = k.seal(&master2).unwrap();

        // The attacker's material: the old file, the removed officer's share and one other.
        let old_set = Keystore::peek_unseal(&old_file).unwrap().unwrap();
        let old_shares = [
            old_set.open_share(&officers[2].1).unwrap(),
            old_set.open_share(&officers[0].1).unwrap(),
        ];
        let old_m = old_set.combine(&old_shares).unwrap();
        // It opens the old copy (as any old backup does with its shares)...
        assert!(Keystore::open(&old_file, &old_m).is_ok());
        // ...but not the new file: the check value differs,
        assert_eq!(
            Keystore::open(&new_file, &old_m).unwrap_err(),
            KeystoreError::WrongPassphrase
        );
        // and the body key it derives with the new file's salt fails the AEAD tag.
        let h = parse_header(&new_file).unwrap();
        let key = derive_shares(old_m.master().unwrap(), &h.salt);
        let mut body = new_file[h.len..].to_vec();
        assert!(aead::open_in_place(key[..32].try_into().unwrap(), &h.nonce, &new_file[..h.len], &mut body).is_err());
        // The new file opens with the new epoch's shares, and holds the same keys.
        let new_shares = [
            set2.open_share(&officers[0].1).unwrap(),
            set2.open_share(&officers[1].1).unwrap(),
        ];
        let back = Keystore::open(&new_file, &set2.combine(&new_shares).unwrap()).unwrap();
        assert!(back.kek("loans", 1).unwrap().ct_eq(k.kek("loans", 1).unwrap()));
        assert!(back.index_key.ct_eq(&k.index_key));
        // The old shares do not count against the new set.
        assert!(set2.combine(&old_shares).is_err());
    }

    #[test]
    fn empty_passphrase_refused() {
        assert_eq!(
            ks().seal(&Passphrase::new(String::new())).unwrap_err(),
            KeystoreError::EmptyPassphrase
        );
    }
}
