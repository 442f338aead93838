//! The vault: the sealed records and their keys. It holds the keystore (replaced whole,
//! never edited in place, so an operation reads one consistent snapshot), loads and decodes
//! a subject's stored records, unwraps data keys and opens records.
//!
//! Records are opened for the gate's grant ([`Vault::open_granted`] takes the gate's
//! [`Granted`], which only the gate makes) and, inside the vault, for checks that release
//! no plaintext ([`Vault::verify_store`]). Key changes (rotation, rewrap, retirement,
//! re-keying, shredding) still run in the facade's key modules and call
//! [`Vault::unwrap_dek`] and [`Vault::open_body`] directly, as does ingest (to seal new
//! records under a subject's existing data key); moving them behind `Approved` is the next
//! step of the split.
//!
//! Imports: the shared modules (`bundle`, `error`, `layout`), the `datadir` (to replace the
//! keystore file) and the `gate` (for [`Granted`]).

use std::sync::{Arc, Mutex, RwLock};

use credseal_core::{BlindId, Catalog, Record, RecordBody, SubjectId};
use credseal_crypto::{Blinder, Dek, DekContext, Keystore, Passphrase, RecordContext, SubjectVrf};
use credseal_store::{Store, Tree};
use zeroize::Zeroizing;

use crate::bundle::{Entry, SubjectRecords};
use crate::components::blinds::Blinds;
use crate::components::datadir::DataDir;
use crate::components::gate::Granted;
use crate::components::keytree::KeyTrees;
use crate::error::{EngineError, Result};
use crate::layout::{self, short};

/// HMAC label (the Meta key) of a keystore intent's value.
const INTENT_MAC_KEY: &[u8] = layout::META_KEYSTORE_INTENT;

/// Adds "this platform is writing the keystore of `generation` whose file has SHA-256
/// `file_hash`" to `batch` (see [`layout::META_KEYSTORE_INTENT`]), authenticated with the
/// index key of `ks`.
fn put_keystore_intent(ks: &Keystore, batch: &mut credseal_store::Batch, generation: u64, file_hash: &[u8; 32]) {
    let mut v = generation.to_be_bytes().to_vec();
    v.extend_from_slice(file_hash);
    let mac = crate::components::gate::meta_mac(ks, INTENT_MAC_KEY, &v);
    v.extend_from_slice(&mac);
    batch.put(Tree::Meta, layout::META_KEYSTORE_INTENT, v);
}

/// The pending keystore intent (generation, SHA-256 of the file), if the store holds one
/// whose HMAC verifies under `ks` (an edited or foreign one counts as none).
pub(crate) fn keystore_intent(store: &dyn Store, ks: &Keystore) -> Result<Option<(u64, [u8; 32])>> {
    let Some(v) = store.get(Tree::Meta, layout::META_KEYSTORE_INTENT)? else {
        return Ok(None);
    };
    if v.len() != 8 + 32 + 32 {
        return Ok(None);
    }
    let (body, mac) = v.split_at(40);
    let want = crate::components::gate::meta_mac(ks, INTENT_MAC_KEY, body);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(mac, &want[..])) {
        return Ok(None);
    }
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&body[..8]);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&body[8..]);
    Ok(Some((u64::from_be_bytes(generation), hash)))
}

/// How a keystore change is written.
#[derive(Clone, Copy)]
pub(crate) enum Sealing<'a> {
    /// With the passphrase (or master key, or token PIN) the caller holds.
    Passphrase(&'a Passphrase),
    /// With none: an unattended job (`credseal serve`'s scheduled retention sweep). The file
    /// is resealed under the key kept from the unlock — no passphrase and no KDF needed —
    /// or, for keys in a token, written as its manifest; refused if the file on disk is no
    /// longer sealed under that key.
    Unattended,
}

/// The keystore and the sealed records of one platform.
pub(crate) struct Vault {
    store: Arc<dyn Store>,
    /// The keystore, replaced whole (never edited in place) by key rotation, so an
    /// operation reads it once and works on one consistent snapshot.
    keys: RwLock<Arc<Keystore>>,
    /// Serialises changes of the keystore (read, edit a copy, write, swap).
    key_lock: Mutex<()>,
    /// The subjects' blind ids (shared with the gate).
    blinds: Arc<Blinds>,
    /// The classes' key trees and their node cache.
    trees: KeyTrees,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault { .. }")
    }
}

impl Vault {
    /// The vault of `store`, whose keys are `keys`.
    pub(crate) fn new(store: Arc<dyn Store>, keys: Keystore, blinds: Arc<Blinds>) -> Self {
        Self {
            trees: KeyTrees::new(Arc::clone(&store)),
            store,
            keys: RwLock::new(Arc::new(keys)),
            key_lock: Mutex::new(()),
            blinds,
        }
    }

    /// The subject's BlindId (the VRF output of its id) under the keystore `ks`.
    pub(crate) fn blind(&self, ks: &Keystore, subject: &SubjectId) -> Result<BlindId> {
        self.blinds.blind(ks, subject)
    }

    /// [`Vault::blind`] for an operation that may still be refused: a newly proved blind id
    /// is not written until [`Vault::store_proved_blinds`].
    pub(crate) fn blind_unstored(&self, ks: &Keystore, subject: &SubjectId) -> Result<BlindId> {
        Ok(*self.blinds.subject_vrf_unstored(ks, subject)?.blind())
    }

    /// Writes the blind ids proved by [`Vault::blind_unstored`] (after the operation succeeded).
    pub(crate) fn store_proved_blinds(&self) -> Result<()> {
        self.blinds.store_proved(&self.keys())
    }

    /// The subject's BlindId with its VRF proof under the keystore `ks`.
    pub(crate) fn subject_vrf(&self, ks: &Keystore, subject: &SubjectId) -> Result<Arc<SubjectVrf>> {
        self.blinds.subject_vrf(ks, subject)
    }

    /// The keystore snapshot for one operation. Rotation replaces the whole `Arc` under
    /// the write lock, so a poisoned lock still holds a complete keystore (a swap of an
    /// `Arc` cannot be left half done) and is read through.
    pub(crate) fn keys(&self) -> Arc<Keystore> {
        Arc::clone(&self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Changes the keystore: `edit` works on a copy of the current one, which is then
    /// written as the new keystore (generation raised by one; for a platform on disk, the
    /// file of `dir` replaced atomically, mode 0600) and used from now on. Changes are
    /// serialised; a failure changes nothing.
    pub(crate) fn update_keystore<T>(
        &self,
        dir: Option<&DataDir>,
        pass: &Passphrase,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        self.update_keystore_as(dir, pass, pass, edit)
    }

    /// [`Vault::update_keystore`], sealing the new keystore under `next` (a new passphrase,
    /// or the master key of a new share set) after checking that `current_pass` opens the file
    /// on disk now: the same atomic replacement, so the old file is never half-written.
    pub(crate) fn update_keystore_as<T>(
        &self,
        dir: Option<&DataDir>,
        current_pass: &Passphrase,
        next: &Passphrase,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        self.update_keystore_sealed(dir, |d, keys| d.seal_keystore_as(keys, current_pass, next), edit)
    }

    /// [`Vault::update_keystore`] as `sealing` says: with the passphrase the caller holds,
    /// or with none (an unattended job: the key kept from the unlock, or a token's manifest).
    pub(crate) fn update_keystore_with<T>(
        &self,
        dir: Option<&DataDir>,
        sealing: Sealing<'_>,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        match sealing {
            Sealing::Passphrase(pass) => self.update_keystore(dir, pass, edit),
            Sealing::Unattended => self.update_keystore_sealed(dir, |d, keys| d.seal_keystore_unattended(keys), edit),
        }
    }

    /// The keystore change itself; `seal` writes the new keystore's file bytes.
    fn update_keystore_sealed<T>(
        &self,
        dir: Option<&DataDir>,
        seal: impl FnOnce(&DataDir, &mut Keystore) -> Result<Vec<u8>>,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        let _k = self
            .key_lock
            .lock()
            .map_err(|_| EngineError::poisoned("keystore update"))?;
        let current = self.keys();
        let mut keys = (*current).clone();
        let out = edit(&mut keys)?;
        keys.generation = current.generation + 1;
        if let Some(d) = dir {
            let sealed = seal(d, &mut keys)?;
            // The intent first, durably: a crash before the file is replaced leaves the old
            // file (still the committed generation); a crash after, a file the intent names.
            let mut b = credseal_store::Batch::new();
            put_keystore_intent(&current, &mut b, keys.generation, &credseal_crypto::sha256(&sealed));
            self.store.apply(b)?;
            self.store.flush()?;
            if let Err(e) = d.write_keystore(&sealed) {
                // Nothing was written: the intent goes too (if this fails as well, the next
                // open removes it, as it names a file that is not there).
                let mut b = credseal_store::Batch::new();
                b.delete(Tree::Meta, layout::META_KEYSTORE_INTENT);
                let _ = self.store.apply(b).and_then(|()| self.store.flush());
                return Err(e);
            }
        }
        drop(current);
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        Ok(out)
    }

    /// Holds off every keystore change while the guard lives (a backup reads the keystore
    /// file and copies the store under it).
    pub(crate) fn hold_key_changes(&self) -> Result<std::sync::MutexGuard<'_, ()>> {
        self.key_lock
            .lock()
            .map_err(|_| EngineError::poisoned("keystore update"))
    }

    /// How many data keys of `class` are wrapped under KEK `version`.
    pub(crate) fn dek_count(&self, class: &str, version: u32) -> Result<u64> {
        match self.store.get(Tree::Meta, &layout::dek_count_key(class, version))? {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                EngineError::Corrupt {
                    what: format!("data key counter of class {class} version {version}"),
                    detail: "not an 8-byte count".into(),
                }
            })?)),
        }
    }

    /// The log's key history from the keystore: the original key (the one subjects pin),
    /// every handover, the current key. Fails closed if the history does not verify or does
    /// not end at the keystore's current log key. `origin` names the log's keys.
    pub(crate) fn log_key_history(&self, origin: &str) -> Result<credseal_log::KeyHistory> {
        use credseal_log::{Handover, KeyHistory};
        let corrupt = |detail: String| EngineError::Corrupt {
            what: "the keystore's log key history".into(),
            detail,
        };
        let ks = self.keys();
        let current = crate::logkey::log_signer(&ks, origin)?.verifier();
        let original = match ks.log_history.first() {
            None => current.clone(),
            Some(note) => Handover::verify(note)
                .map_err(|e| corrupt(format!("handover 1: {e}")))?
                .old_key()
                .clone(),
        };
        let h = KeyHistory::from_handovers(&original, &ks.log_history).map_err(|e| corrupt(e.to_string()))?;
        if h.current().vkey() != current.vkey() {
            return Err(corrupt("its last key is not the keystore's log key".into()));
        }
        Ok(h)
    }

    /// The granted classes of the granted subject, opened: the requester's path to
    /// plaintext. `ks` is the grant's keystore snapshot. Returns the subject's BlindId and
    /// the records, class by class, each by record id, then version.
    /// Records past their class's retention on `today` are never released, whether or not
    /// the retention sweep has run.
    pub(crate) fn open_granted(
        &self,
        ks: &Keystore,
        catalog: &Catalog,
        today: credseal_core::Date,
        granted: &Granted,
    ) -> Result<(BlindId, Vec<Record>)> {
        let grant = granted.auth();
        let subject = grant.subject();
        let blind = self.blind(ks, subject)?;
        let mut records = Vec::new();
        if let Some(recs) = self.load_subject(&blind)? {
            // The index key expanded once for every record's place check.
            let blinder = Blinder::new(&ks.index_key);
            for class in grant.classes() {
                let opened = self.open_class(ks, &blinder, subject, &blind, class, &recs, Versions::Current)?;
                let retention = catalog.class(class).map(|c| c.retention);
                records.extend(
                    opened
                        .into_iter()
                        .filter(|r| !retention.is_some_and(|k| k.expired(r.effective, today))),
                );
            }
        }
        Ok((blind, records))
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

    /// The classes' key trees.
    pub(crate) fn trees(&self) -> &KeyTrees {
        &self.trees
    }

    /// Gives every class of the keystore that has no key tree one (a fresh root under its
    /// primary KEK), written at once: at the first open of a data directory from before key
    /// trees, and for a new platform. Data keys wrapped under a KEK directly stay readable
    /// and move into the tree at the next `keys rewrap` or shred.
    pub(crate) fn ensure_trees(&self) -> Result<()> {
        let ks = self.keys();
        let mut b = credseal_store::Batch::new();
        let mut n = 0;
        for class in ks.classes.keys() {
            if self.trees.root_record(class)?.is_none() {
                self.trees.new_tree(&ks, class, &mut b)?;
                n += 1;
            }
        }
        // A store with no records yet has no data key outside a tree, and never will.
        if !self.store.contains(Tree::Meta, layout::META_TREES_ONLY)?
            && self.store.scan_prefix(Tree::Records, &[]).next().is_none()
        {
            b.put(Tree::Meta, layout::META_TREES_ONLY, Vec::new());
            n += 1;
        }
        if n > 0 {
            self.store.apply(b)?;
            self.store.flush()?;
        }
        Ok(())
    }

    /// Wraps a new data key of `blind`'s `class` under its key-tree leaf; returns the KEK
    /// version it counts under (its tree root's) and the wrapped key.
    pub(crate) fn wrap_dek(&self, blind: &BlindId, class: &str, dek: &Dek) -> Result<(u32, Vec<u8>)> {
        self.trees.wrap_dek(&self.keys(), blind, class, dek)
    }

    /// The KEK version a stored data key counts under: the one in its header if wrapped by a
    /// KEK directly, else its tree root's.
    pub(crate) fn dek_version(&self, blind: &BlindId, class: &str, w: &[u8]) -> Result<u32> {
        match credseal_crypto::dek_wrapping(w) {
            Ok(credseal_crypto::DekWrapping::Kek { version }) => Ok(version),
            Ok(credseal_crypto::DekWrapping::Tree { .. }) => self.trees.root_version(&self.keys(), class),
            Err(e) => Err(EngineError::Corrupt {
                what: format!("data key of subject {} class {class}", short(blind)),
                detail: e.to_string(),
            }),
        }
    }

    pub(crate) fn unwrap_dek(&self, ks: &Keystore, blind: &BlindId, class: &str, w: &[u8]) -> Result<Dek> {
        let what = || format!("data key of subject {} class {class}", short(blind));
        if w.first() == Some(&credseal_crypto::FORMAT_TREE) {
            // The tree's root is opened with the current keystore (a rotation since `ks`
            // was read may have moved it).
            return self.trees.unwrap_dek(&self.keys(), blind, class, w);
        }
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
        self.open_body_with(&Blinder::new(&ks.index_key), dek, blind, class, e)
    }

    /// [`Vault::open_body`] with the index key already expanded (`blinder`), for the many
    /// records of one operation.
    pub(crate) fn open_body_with(
        &self,
        blinder: &Blinder,
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
        if blinder.record_key(blind, class, &body.record_id) != e.rkey {
            return Err(EngineError::Corrupt {
                what: what(),
                detail: "contents do not match their place".into(),
            });
        }
        Ok((pt, body))
    }

    /// Opens one stored record of `subject` (whose BlindId is `blind`) and checks that its
    /// contents match where it is stored.
    fn open_entry(
        &self,
        blinder: &Blinder,
        dek: &Dek,
        subject: &SubjectId,
        blind: &BlindId,
        class: &str,
        e: &Entry,
    ) -> Result<Record> {
        let (_, body) = self.open_body_with(blinder, dek, blind, class, e)?;
        Ok(body.into_record(subject.clone(), class.to_string(), e.version))
    }

    /// Every stored record of a subject's class, by record id, then version — without a
    /// grant and without a receipt: the one exception to the grant rule, compiled only into
    /// the engine's unit tests (the facade does not offer it); requesters go through the
    /// gate.
    #[cfg(test)]
    pub(crate) fn read_unreceipted(&self, catalog: &Catalog, subject: &SubjectId, class: &str) -> Result<Vec<Record>> {
        if catalog.class(class).is_none() {
            return Err(EngineError::NotFound(format!(
                "class {class:?} is not in the catalogue"
            )));
        }
        let ks = self.keys();
        let blind = self.blind(&ks, subject)?;
        let Some(recs) = self.load_subject(&blind)? else {
            return Ok(Vec::new());
        };
        self.open_class(
            &ks,
            &Blinder::new(&ks.index_key),
            subject,
            &blind,
            class,
            &recs,
            Versions::All,
        )
    }

    /// Opens the records of one class of a loaded subject (`blind` is the BlindId of
    /// `subject`): every version, or only each record's current one.
    #[allow(clippy::too_many_arguments)]
    fn open_class(
        &self,
        ks: &Keystore,
        blinder: &Blinder,
        subject: &SubjectId,
        blind: &BlindId,
        class: &str,
        recs: &SubjectRecords,
        versions: Versions,
    ) -> Result<Vec<Record>> {
        let Some(bundle) = recs.classes.get(class) else {
            return Ok(Vec::new());
        };
        // A bundle read just before a shred replaced its leaf: read it once more.
        let again;
        let (bundle, dek) = match self.unwrap_dek(ks, blind, class, &bundle.wrapped_dek) {
            Ok(dek) => (bundle, dek),
            Err(e) => {
                again = self.load_subject(blind)?;
                match again.as_ref().and_then(|r| r.classes.get(class)) {
                    Some(b) if b.wrapped_dek != bundle.wrapped_dek => {
                        (b, self.unwrap_dek(ks, blind, class, &b.wrapped_dek)?)
                    }
                    _ => return Err(e),
                }
            }
        };
        let mut out = Vec::with_capacity(bundle.entries.len());
        for e in current_entries(&bundle.entries, versions) {
            out.push(self.open_entry(blinder, &dek, subject, blind, class, e)?);
        }
        out.sort_by(|a, b| (&a.record_id, a.version).cmp(&(&b.record_id, b.version)));
        Ok(out)
    }

    /// Opens every data key and every record in the store; the first failure is returned,
    /// naming the value. Returns (data keys, records) checked.
    /// Nothing opened leaves the vault: only the counts.
    pub(crate) fn verify_store(&self, catalog: &Catalog) -> Result<(u64, u64)> {
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
                if catalog.class(class).is_none() {
                    return Err(EngineError::Corrupt {
                        what: format!("records of subject {}", short(&blind)),
                        detail: format!("unknown class {class:?}"),
                    });
                }
                let dek = self.unwrap_dek(&ks, &blind, class, &bundle.wrapped_dek)?;
                let kv = self.dek_version(&blind, class, &bundle.wrapped_dek)?;
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

/// Trace-key label of a fingerprint set's MAC.
pub(crate) const FP_SET_LABEL: &[u8] = b"credseal:v1:fingerprint-set";
/// `Fingerprints` key prefix of a disclosure's set (followed by its log index, u64 BE).
pub(crate) const FP_SET: u8 = b'd';
/// Bytes of a set beyond its fingerprints: the count (u32 BE) and the MAC.
pub(crate) const SET_OVERHEAD: usize = 4 + 32;

/// Which versions of a record to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Versions {
    /// Every stored version (the engine's own tests, which read corrections back).
    #[cfg_attr(not(test), allow(dead_code))]
    All,
    /// Only each record's current version, the highest: what a query releases. A correction
    /// supersedes the versions before it, which stay sealed for audit and are never answered.
    Current,
}

/// The entries to open: all, or the last (highest) version of each record key. `entries`
/// are sorted by (record key, version), so each record's current version is the last entry
/// before the record key changes.
pub(crate) fn current_entries(entries: &[Entry], versions: Versions) -> impl Iterator<Item = &Entry> {
    entries.iter().enumerate().filter_map(move |(i, e)| {
        let superseded = versions == Versions::Current && entries.get(i + 1).is_some_and(|n| n.rkey == e.rkey);
        (!superseded).then_some(e)
    })
}

/// The MAC (trace key) of the fingerprint set of the disclosure at log `index`.
pub(crate) fn fingerprint_set_mac(ks: &Keystore, index: u64, sorted: &[[u8; 32]]) -> [u8; 32] {
    let n = (sorted.len() as u32).to_be_bytes();
    ks.trace_key
        .digest(FP_SET_LABEL, &[&index.to_be_bytes(), &n, sorted.as_flattened()])
}

/// Adds a disclosure's fingerprint set to `batch` (the receipt's batch): one entry.
pub(crate) fn put_fingerprint_set(ks: &Keystore, batch: &mut credseal_store::Batch, index: u64, fps: &[[u8; 32]]) {
    let mut sorted = fps.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut k = vec![FP_SET];
    k.extend_from_slice(&index.to_be_bytes());
    let mut v = Vec::with_capacity(SET_OVERHEAD + 32 * sorted.len());
    v.extend_from_slice(&(sorted.len() as u32).to_be_bytes());
    v.extend_from_slice(sorted.as_flattened());
    v.extend_from_slice(&fingerprint_set_mac(ks, index, &sorted));
    batch.put(Tree::Fingerprints, k, v);
}
