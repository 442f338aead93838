//! The key operations (docs/design.md §8) over borrowed parts: key status, the KEK lifecycle
//! (rotate, rewrap, retire, re-key), keystore rollback detection, the log key's history and
//! rotation, and crypto-shredding (retention sweeps, credit-repair orders; see `crate::shred`).
//! Officers' approvals are checked here; the types these operations return live in
//! `crate::keys`, `crate::logkey` and `crate::shred`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use credseal_core::{BlindId, Catalog, Date, SubjectId};

use credseal_crypto::{Dek, DekContext, KekEntry, Keystore, LogKeySeed, Passphrase, RecordContext};
use credseal_log::{Action, Handover, KeyHistory, LogSigner};
use credseal_store::{Batch, Store, Tree};

use crate::bundle::SubjectRecords;
use crate::clock::Clock;
use crate::components::appender::{Appender, Committed, MapCache, NewReceipt};
use crate::components::datadir::DataDir;
use crate::components::gate::{Approved, Gate, Operation, StaffSession};
use crate::components::trust;
use crate::components::vault::{Sealing, Vault};
use crate::error::{EngineError, Result};
use crate::keys::{ClassKeyStatus, REWRAP_BATCH, RewrapSummary, VersionStatus};
use crate::layout;
use crate::logkey::{LogKeyStatus, LogRotation};
use crate::shred::{
    CheckedShredOrder, META_SHRED_PENDING, Places, Selection, ShredSummary, tombstone_key, valid_order_reference,
};

/// A receipt for an administrative act by the officer of `session`.
pub(crate) fn admin_receipt(
    session: &StaffSession,
    action: Action,
    detail: String,
    subject: Option<credseal_core::BlindId>,
) -> NewReceipt {
    let actor = if session.is_scheduled() {
        credseal_log::Actor::Platform
    } else {
        credseal_log::Actor::Officer {
            id: session.officer().to_string(),
        }
    };
    NewReceipt {
        actor,
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

fn be(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// Most threads the retention sweep reads the store with.
const SWEEP_THREADS: usize = 4;

/// The key operations over borrowed parts. Cheap to make: references only, no lock taken
/// and nothing read until a method runs.
#[derive(Clone, Copy)]
pub(crate) struct KeyOps<'a> {
    /// The store: records, data-key counters, the keystore generation seen.
    pub(crate) store: &'a dyn Store,
    /// The data directory (its keystore file), for a platform on disk.
    pub(crate) dir: Option<&'a DataDir>,
    /// The log origin (the log key's name).
    pub(crate) origin: &'a str,
    /// The keystore and the sealed records.
    pub(crate) vault: &'a Vault,
    /// Authenticated Meta values (the keystore generation).
    pub(crate) gate: &'a Gate,
    /// Where key events' receipts go.
    pub(crate) appender: &'a Appender,
    /// Where operations take the time from.
    pub(crate) clock: &'a dyn Clock,
    /// Serialises operations that create or rewrap data keys (they update counters).
    pub(crate) write_lock: &'a Mutex<()>,
    /// The catalogue (classes' retention, an order's class).
    pub(crate) catalog: &'a Catalog,
    /// Serialises shreds (each rotates, rewraps and retires its classes' keys).
    pub(crate) shred_lock: &'a Mutex<()>,
}

impl KeyOps<'_> {
    fn keys(&self) -> Arc<Keystore> {
        self.vault.keys()
    }

    fn now(&self) -> Result<u64> {
        self.clock.now()
    }

    fn origin(&self) -> &str {
        self.origin
    }

    fn dek_count(&self, class: &str, version: u32) -> Result<u64> {
        self.vault.dek_count(class, version)
    }

    fn blind(&self, id: &credseal_core::SubjectId) -> Result<credseal_core::BlindId> {
        self.vault.blind(&self.keys(), id)
    }

    fn put_authenticated(&self, batch: &mut Batch, key: &[u8], value: &[u8]) {
        self.gate.put_authenticated(&self.keys(), batch, key, value)
    }

    fn get_authenticated(&self, key: &[u8], what: &str) -> Result<Option<Vec<u8>>> {
        self.gate.get_authenticated(&self.keys(), key, what)
    }

    fn append_receipts_with(&self, items: Vec<NewReceipt>, extra: Batch, now: u64) -> Result<Vec<Committed>> {
        self.appender.append_with(self.vault, items, extra, now)
    }

    fn admin_receipt(
        &self,
        session: &StaffSession,
        action: Action,
        detail: String,
        subject: Option<credseal_core::BlindId>,
    ) -> NewReceipt {
        admin_receipt(session, action, detail, subject)
    }

    /// The log's signer (from the keystore's log key; the key name is the origin).
    pub(crate) fn log_signer(&self) -> Result<LogSigner> {
        crate::logkey::log_signer(&self.keys(), self.origin())
    }

    fn log_size(&self) -> Result<u64> {
        self.appender.log_size()
    }

    fn trusted_authority(&self) -> Result<credseal_auth::PublicKey> {
        self.gate.trusted_authority(&self.keys())
    }

    fn hold_commits(&self) -> Result<std::sync::MutexGuard<'_, MapCache>> {
        self.appender.hold_commits(self.vault)
    }
    /// Class → KEK versions, which is primary, how many data keys use each (exact: counters
    /// written in the same atomic batch as the data keys; `verify_store` recounts them).
    pub(crate) fn key_status(&self) -> Result<Vec<ClassKeyStatus>> {
        let mut out = Vec::new();
        for (class, keys) in &self.keys().classes {
            let mut versions = Vec::new();
            for (v, e) in &keys.versions {
                let n = self.dek_count(class, *v)?;
                versions.push(VersionStatus {
                    version: *v,
                    primary: *v == keys.primary,
                    created: e.created,
                    data_keys: n,
                });
            }
            out.push(ClassKeyStatus {
                class: class.clone(),
                versions,
            });
        }
        Ok(out)
    }

    /// The keystore generation the database has seen, if recorded.
    fn seen_generation(&self) -> Result<Option<u64>> {
        self.get_authenticated(layout::META_KEYSTORE_GENERATION, "keystore generation")?
            .map(|v| {
                v.as_slice()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| EngineError::Corrupt {
                        what: "keystore generation".into(),
                        detail: "not 8 bytes".into(),
                    })
            })
            .transpose()
    }

    /// Refuses a keystore older than one the database has seen (a rollback); records a
    /// newer one only if this platform wrote it: a newer keystore file must be the one a
    /// pending intent names ([`layout::META_KEYSTORE_INTENT`], a crash between writing the
    /// keystore and the receipt), which then gets a receipt saying so. A newer keystore
    /// written anywhere else (another platform opened on a copy, which retired a KEK there)
    /// is refused: accepting it would destroy keys with no receipt.
    pub(crate) fn check_generation(&self) -> Result<()> {
        let have = self.keys().generation;
        let seen = self.seen_generation()?;
        match seen {
            Some(s) if s > have => Err(EngineError::KeystoreRollback {
                path: self.dir.map(|d| d.keystore_path()).unwrap_or_default(),
                keystore: have,
                seen: s,
            }),
            Some(s) if s == have => {
                // An intent whose file was never written (a crash or a failed write before
                // the replacement): the committed file stands; the intent goes.
                if self.store.contains(Tree::Meta, layout::META_KEYSTORE_INTENT)? {
                    let mut b = Batch::new();
                    b.delete(Tree::Meta, layout::META_KEYSTORE_INTENT);
                    self.store.apply(b)?;
                    self.store.flush()?;
                }
                Ok(())
            }
            Some(s) if let Some(d) = self.dir => {
                let file = credseal_crypto::sha256(&d.keystore_file()?);
                let pending = crate::components::vault::keystore_intent(self.store, &self.keys())?;
                let matches = pending
                    .is_some_and(|(g, h)| g == have && bool::from(subtle::ConstantTimeEq::ct_eq(&h[..], &file[..])));
                if !matches {
                    return Err(EngineError::Corrupt {
                        what: format!("keystore generation of {}", d.keystore_path().display()),
                        detail: format!(
                            "the keystore file has generation {have}, but the store committed generation {s} and \
                             this platform wrote no newer keystore (no pending change names this file): a keystore \
                             changed elsewhere, e.g. by another platform opened on a copy of it; put back the \
                             keystore of generation {s}"
                        ),
                    });
                }
                let r = self.admin_receipt(
                    &StaffSession::at_open(),
                    Action::KeyEvent,
                    format!(
                        "a newer keystore found at open, written by this platform's own pending key change \
                         (the database had seen generation {s})"
                    ),
                    None,
                );
                self.commit_key_event(r, Batch::new())
            }
            None => {
                let mut b = Batch::new();
                self.put_authenticated(&mut b, layout::META_KEYSTORE_GENERATION, &have.to_be_bytes());
                // Part of the trust state: directly (with its record) only before the log's
                // first checkpoint, with a receipt after.
                if self.appender.latest_checkpoint()?.is_none() {
                    trust::apply_direct(self.store, &self.keys(), b)
                } else {
                    let r = self.admin_receipt(
                        &StaffSession::at_open(),
                        Action::KeyEvent,
                        format!("keystore generation {have} recorded at open"),
                        None,
                    );
                    self.append_receipts_with(vec![r], b, self.now()?).map(drop)
                }
            }
            Some(s) => {
                // At open no officer has named themselves yet: the platform's own session.
                let r = self.admin_receipt(
                    &StaffSession::at_open(),
                    Action::KeyEvent,
                    format!("a newer keystore found at open (the database had seen generation {s})"),
                    None,
                );
                self.commit_key_event(r, Batch::new())
            }
        }
    }

    /// Checks at open that the live trust state is the one the latest checkpoint commits to
    /// (see `trust::check_at_open`; `file_policy` is the configuration's `[policy]` table);
    /// returns the committed policy. A store from before trust-state checkpoints has its
    /// state adopted: with a receipt that says so, or directly while its log is empty.
    pub(crate) fn check_trust(&self, file_policy: Option<&credseal_auth::Policy>) -> Result<credseal_auth::Policy> {
        let ks = self.keys();
        // An older keystore copy is named as such first (its log key history may not verify
        // the latest checkpoint); a deleted generation is a trust-state mismatch below.
        if let Some(seen) = self.seen_generation()?
            && seen > ks.generation
        {
            return Err(EngineError::KeystoreRollback {
                path: self.dir.map(|d| d.keystore_path()).unwrap_or_default(),
                keystore: ks.generation,
                seen,
            });
        }
        let latest = match self.appender.latest_checkpoint()? {
            None => None,
            Some(text) => Some(self.log_key_history()?.verify_checkpoint(&text).map_err(|e| {
                // The size it claims, to name it (its signature did not verify).
                let size = credseal_c2sp::SignedNote::parse(&text)
                    .ok()
                    .and_then(|n| credseal_c2sp::Checkpoint::parse(n.text()).ok())
                    .map(|c| format!(" {}", c.size()))
                    .unwrap_or_default();
                EngineError::Corrupt {
                    what: format!("latest checkpoint{size}"),
                    detail: e.to_string(),
                }
            })?),
        };
        let verified = trust::check_at_open(self.store, &ks, latest.as_ref(), file_policy)?;
        // From here on, each decision checks what it reads against the checked state.
        trust::pin_from_store(self.store, self.gate.pins())?;
        match verified {
            trust::AtOpen::Verified(policy) => Ok(policy),
            trust::AtOpen::Adopt(batch) => {
                if latest.is_none() {
                    trust::apply_direct(self.store, &ks, batch)?;
                } else {
                    let r = self.admin_receipt(
                        &StaffSession::at_open(),
                        Action::Admin,
                        "trust state committed at open (a store written before checkpoints committed to it)".into(),
                        None,
                    );
                    self.append_receipts_with(vec![r], batch, self.now()?)?;
                }
                trust::committed_policy(self.store, &ks)
            }
        }
    }

    /// Commits a key event's receipt together with `batch` and the keystore generation.
    pub(crate) fn commit_key_event(&self, mut r: NewReceipt, mut batch: Batch) -> Result<()> {
        // The log shows auditors the keystore's generation history too.
        let generation = self.keys().generation;
        r.detail.push_str(&format!("; keystore generation {generation}"));
        self.put_authenticated(&mut batch, layout::META_KEYSTORE_GENERATION, &generation.to_be_bytes());
        // The change the intent announced is committed: the intent is done.
        batch.delete(Tree::Meta, layout::META_KEYSTORE_INTENT);
        self.append_receipts_with(vec![r], batch, self.now()?)?;
        Ok(())
    }

    /// Changes the keystore (see [`Vault::update_keystore`]),
    /// replacing the keystore file of a platform on disk.
    pub(crate) fn update_keystore<T>(
        &self,
        pass: &Passphrase,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        self.vault.update_keystore(self.dir, pass, edit)
    }

    /// [`Self::update_keystore`] as `sealing` says (with the caller's passphrase, or none for
    /// an unattended job).
    fn update_keystore_with<T>(
        &self,
        sealing: Sealing<'_>,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        self.vault.update_keystore_with(self.dir, sealing, edit)
    }

    /// Adds to `batch` the data-key counters moved by `delta` ((class, KEK version) → change).
    pub(crate) fn put_dek_counts(
        &self,
        batch: &mut Batch,
        delta: std::collections::BTreeMap<(String, u32), i64>,
    ) -> Result<()> {
        for ((class, v), d) in delta {
            let n = u64::try_from(self.dek_count(&class, v)? as i64 + d).map_err(|_| EngineError::Corrupt {
                what: format!("data key counter of class {class} version {v}"),
                detail: "below zero: the counters disagree with the stored keys".into(),
            })?;
            batch.put(Tree::Meta, layout::dek_count_key(&class, v), be(n));
        }
        Ok(())
    }

    /// Gives one subject's class `b` a fresh data key wrapped under its key-tree leaf, and
    /// seals its records again under it (they open with `old`). Returns the KEK version the
    /// key counts under (its tree root's). The old key is the caller's to drop.
    pub(crate) fn reseal_class(
        &self,
        blind: &credseal_core::BlindId,
        class: &str,
        b: &mut crate::bundle::Bundle,
        old: &Dek,
    ) -> Result<u32> {
        let new = Dek::generate();
        reseal_entries(blind, class, b, old, &new)?;
        let (version, wrapped) = self.vault.wrap_dek(blind, class, &new)?;
        b.wrapped_dek = wrapped;
        Ok(version)
    }

    /// Makes a new KEK version of `class` primary: new data keys are wrapped with it at
    /// once; data keys under older versions stay readable. Returns the new version.
    pub(crate) fn rotate_class(&self, session: &StaffSession, class: &str, pass: &Passphrase) -> Result<u32> {
        self.rotate_class_with(session, class, pass, Batch::new())
    }

    /// [`Self::rotate_class`], committing `extra` with its receipt.
    fn rotate_class_with(&self, session: &StaffSession, class: &str, pass: &Passphrase, extra: Batch) -> Result<u32> {
        let now = self.now()?;
        let (old, new) = self.update_keystore(pass, |keys| {
            let ck = keys
                .classes
                .get_mut(class)
                .ok_or_else(|| EngineError::NotFound(format!("class {class:?} is not in the keystore")))?;
            let old = ck.primary;
            let new = ck.versions.keys().max().copied().unwrap_or(0).max(old) + 1;
            let kek = new_kek(keys, class, new)?;
            // Cannot fail: the class was found above.
            let ck = keys.classes.get_mut(class).expect("class found above");
            ck.versions.insert(new, KekEntry { kek, created: now });
            ck.primary = new;
            Ok((old, new))
        })?;
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "rotate {class}: KEK v{new}{} is primary (was v{old})",
                object_note(token_object(&self.keys(), class, new))
            ),
            None,
        );
        r.classes.insert(class.to_string());
        self.commit_key_event(r, extra)?;
        Ok(new)
    }

    /// Moves every data key onto its class's primary KEK: data keys still wrapped by a KEK
    /// directly (a data directory from before key trees) move into their class's key tree,
    /// in atomic batches of subjects (bundles and counters together); then each tree root
    /// not under the primary version is wrapped again under it (one write per class, which
    /// moves every data key of the class). Records are not touched. Safe to stop at any
    /// moment and run again: it finds what is left.
    pub(crate) fn rewrap(&self, session: &StaffSession, progress: &dyn crate::Progress) -> Result<RewrapSummary> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        self.rewrap_locked(session, progress)
    }

    /// [`Self::rewrap`] with the write lock held.
    fn rewrap_locked(&self, session: &StaffSession, progress: &dyn crate::Progress) -> Result<RewrapSummary> {
        let ks = self.keys();
        let mut summary = RewrapSummary::default();
        let mut moves: std::collections::BTreeMap<(String, u32, u32), u64> = Default::default();
        if !self.store.contains(Tree::Meta, layout::META_TREES_ONLY)? {
            let mut todo = 0;
            for (class, ck) in &ks.classes {
                for v in ck.versions.keys() {
                    todo += self.dek_count(class, *v)?;
                }
            }
            progress.stage("moving data keys into the key trees", todo);
            let mut after: Option<Vec<u8>> = None;
            loop {
                let chunk: Vec<(Vec<u8>, Vec<u8>)> = self
                    .store
                    .scan_prefix_after(Tree::Records, &[], after.as_deref())
                    .take(REWRAP_BATCH)
                    .collect::<std::result::Result<_, _>>()?;
                let Some((last, _)) = chunk.last() else { break };
                after = Some(last.clone());
                let mut batch = Batch::new();
                let mut delta: std::collections::BTreeMap<(String, u32), i64> = Default::default();
                let mut changed = 0;
                for (k, v) in chunk {
                    summary.subjects += 1;
                    let blind = layout::parse_subject_key(&k).ok_or_else(|| EngineError::Corrupt {
                        what: "subject key".into(),
                        detail: "not a BlindId".into(),
                    })?;
                    let mut recs = SubjectRecords::decode(&v).map_err(|e| EngineError::Corrupt {
                        what: format!("records of subject {}", layout::short(&blind)),
                        detail: e.into(),
                    })?;
                    let mut dirty = false;
                    for (class, b) in recs.classes.iter_mut() {
                        let Ok(credseal_crypto::DekWrapping::Kek { version: from }) =
                            credseal_crypto::dek_wrapping(&b.wrapped_dek)
                        else {
                            continue;
                        };
                        if ks.primary_version(class).is_none() {
                            continue;
                        }
                        let dek = self.vault.unwrap_dek(&ks, &blind, class, &b.wrapped_dek)?;
                        let (to, wrapped) = self.vault.wrap_dek(&blind, class, &dek)?;
                        b.wrapped_dek = wrapped;
                        *delta.entry((class.clone(), from)).or_default() -= 1;
                        *delta.entry((class.clone(), to)).or_default() += 1;
                        if from != to {
                            *moves.entry((class.clone(), from, to)).or_default() += 1;
                            summary.rewrapped += 1;
                        }
                        summary.into_trees += 1;
                        dirty = true;
                        changed += 1;
                    }
                    if dirty {
                        batch.put(Tree::Records, k, recs.encode());
                    }
                }
                self.put_dek_counts(&mut batch, delta)?;
                self.store.apply(batch)?;
                progress.advance(changed);
            }
            // Every data key is in a tree now, and new ones are only ever made there.
            let mut b = Batch::new();
            b.put(Tree::Meta, layout::META_TREES_ONLY, Vec::new());
            self.store.apply(b)?;
            self.store.flush()?;
            progress.finish();
        }
        // The roots: one write per class moves all its data keys.
        for (class, ck) in &ks.classes {
            let Some(rec) = self.vault.trees().root_record(class)? else {
                continue;
            };
            if rec.version == ck.primary {
                continue;
            }
            let n = self.dek_count(class, rec.version)?;
            let new = self.vault.trees().rewrapped_root(&ks, class, ck.primary)?;
            let mut batch = Batch::new();
            batch.put(Tree::Deks, crate::components::keytree::root_key(class), new.encode());
            let mut delta: std::collections::BTreeMap<(String, u32), i64> = Default::default();
            *delta.entry((class.clone(), rec.version)).or_default() -= n as i64;
            *delta.entry((class.clone(), ck.primary)).or_default() += n as i64;
            self.put_dek_counts(&mut batch, delta)?;
            self.store.apply(batch)?;
            self.store.flush()?;
            self.vault.trees().forget(class);
            *moves.entry((class.clone(), rec.version, ck.primary)).or_default() += n;
            summary.rewrapped += n;
        }
        self.store.flush()?;
        summary.moves = moves.into_iter().map(|((c, f, t), n)| (c, f, t, n)).collect();
        if !summary.moves.is_empty() || summary.into_trees > 0 {
            let mut r = self.admin_receipt(
                session,
                Action::KeyEvent,
                format!(
                    "rewrap: {} data keys moved to their class's primary KEK, {} into their class's key tree",
                    summary.rewrapped, summary.into_trees
                ),
                None,
            );
            r.classes = summary.moves.iter().map(|m| m.0.clone()).collect();
            self.commit_key_event(r, Batch::new())?;
        }
        Ok(summary)
    }

    /// Destroys KEK `version` of `class`, approved by two officers: refused while it is
    /// primary or any data key still uses it; then removed from the keystore (zeroized) and
    /// the keystore rewritten.
    pub(crate) fn retire_version(
        &self,
        session: &StaffSession,
        class: &str,
        version: u32,
        pass: &Passphrase,
        approved: &Approved,
    ) -> Result<()> {
        approved.require(&Operation::retire(class, version))?;
        self.retire_check(class, version)?;
        let marks = self.gate.consume(&self.keys(), approved)?;
        self.retire_inner(session, class, version, pass, &approved.note(), marks)
    }

    /// Whether KEK `version` of `class` may be retired now (exists, not primary, unused).
    fn retire_check(&self, class: &str, version: u32) -> Result<()> {
        let ks = self.keys();
        let ck = ks
            .classes
            .get(class)
            .ok_or_else(|| EngineError::NotFound(format!("class {class:?} is not in the keystore")))?;
        if !ck.versions.contains_key(&version) {
            return Err(EngineError::NotFound(format!(
                "class {class} has no KEK version {version} (already retired?)"
            )));
        }
        if ck.primary == version {
            return Err(EngineError::NotReady(format!(
                "KEK v{version} is the primary version of class {class}; a newer version must be made primary first"
            )));
        }
        let n = self.dek_count(class, version)?;
        if n > 0 {
            return Err(EngineError::KekInUse {
                class: class.to_string(),
                version,
                data_keys: n,
            });
        }
        if self
            .vault
            .trees()
            .root_record(class)?
            .is_some_and(|r| r.version == version)
        {
            return Err(EngineError::NotReady(format!(
                "the key tree of class {class} is wrapped under KEK v{version}; run `credseal keys rewrap` first"
            )));
        }
        Ok(())
    }

    pub(crate) fn retire_inner(
        &self,
        session: &StaffSession,
        class: &str,
        version: u32,
        pass: &Passphrase,
        why: &str,
        extra: Batch,
    ) -> Result<()> {
        self.retire_check(class, version)?;
        // The removed entry's key is zeroized when dropped (`Kek` zeroizes on drop), here
        // and in the old keystore value once the last operation using it ends.
        let removed = self.update_keystore(pass, |keys| {
            Ok(keys.classes.get_mut(class).and_then(|c| c.versions.remove(&version)))
        })?;
        // A KEK in a token is destroyed there, after the keystore no longer names it.
        let object = match removed {
            Some(e) => destroy_kek(&self.keys(), &e.kek)?,
            None => None,
        };
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "retire {class} KEK v{version}: destroyed{} ({why})",
                object_note(object)
            ),
            None,
        );
        r.classes.insert(class.to_string());
        let mut b = extra;
        b.delete(Tree::Meta, layout::dek_count_key(class, version));
        self.commit_key_event(r, b)
    }

    /// Re-keys one subject's class (suspected exposure of its data key): a new data key
    /// under the primary KEK, every record of the class re-encrypted, the old key dropped —
    /// one atomic write with the receipt in the subject's chain.
    pub(crate) fn rekey(
        &self,
        session: &StaffSession,
        subject: &credseal_core::SubjectId,
        class: &str,
        approved: &Approved,
    ) -> Result<u64> {
        approved.require(&Operation::rekey(subject, class))?;
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let blind = self.blind(subject)?;
        let mut recs = self
            .vault
            .load_subject(&blind)?
            .ok_or_else(|| EngineError::NotFound("no records are stored for this subject".into()))?;
        let b = recs
            .classes
            .get_mut(class)
            .ok_or_else(|| EngineError::NotFound(format!("the subject has no records of class {class}")))?;
        let from = self.vault.dek_version(&blind, class, &b.wrapped_dek)?;
        let old = self.vault.unwrap_dek(&self.keys(), &blind, class, &b.wrapped_dek)?;
        let marks = self.gate.consume(&self.keys(), approved)?;
        let primary = self.reseal_class(&blind, class, b, &old)?;
        let n = b.entries.len() as u64;
        drop(old);
        let mut batch = marks;
        batch.put(Tree::Records, layout::subject_key(&blind), recs.encode());
        let mut delta = std::collections::BTreeMap::new();
        *delta.entry((class.to_string(), from)).or_insert(0) -= 1;
        *delta.entry((class.to_string(), primary)).or_insert(0) += 1;
        self.put_dek_counts(&mut batch, delta)?;
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "re-key {class}: new data key, {n} record(s) re-encrypted ({})",
                approved.note()
            ),
            Some(blind),
        );
        r.classes.insert(class.to_string());
        self.commit_key_event(r, batch)?;
        Ok(n)
    }

    /// The log's key history: the original key (the one subjects pin), every handover, the
    /// current key. Fails closed if the history does not verify or does not end at the
    /// keystore's current log key.
    pub(crate) fn log_key_history(&self) -> Result<KeyHistory> {
        self.vault.log_key_history(self.origin())
    }

    /// The verifier key of the key that signs the log now (what plain C2SP tools need for new
    /// checkpoints). Subjects pin the original key.
    pub(crate) fn log_current_vkey(&self) -> Result<String> {
        Ok(self.log_signer()?.vkey())
    }

    /// The operation two officers approve to rotate the current log key.
    pub(crate) fn log_rotation_operation(&self) -> Result<Operation> {
        Ok(Operation::rotate_log_key(self.log_signer()?.key_id()))
    }

    /// Every log key, the original first, with the receipt indexes it signs.
    pub(crate) fn log_key_status(&self) -> Result<Vec<LogKeyStatus>> {
        Ok(log_key_status(&self.log_key_history()?))
    }

    /// Keeps the store's public copy of the log key's handover notes
    /// ([`layout::META_LOG_HANDOVERS`]) equal to the keystore's history: run at open, it
    /// records the copy in a store written before there was one, or after a rotation whose
    /// receipt a crash lost. Written directly: the copy is not part of the trust state, and
    /// every note in it is signed.
    pub(crate) fn record_log_history(&self) -> Result<()> {
        let want = layout::encode_handovers(&self.keys().log_history);
        if self.store.get(Tree::Meta, layout::META_LOG_HANDOVERS)?.as_deref() != Some(&want[..]) {
            let mut b = Batch::new();
            b.put(Tree::Meta, layout::META_LOG_HANDOVERS, want);
            self.store.apply(b)?;
            self.store.flush()?;
        }
        Ok(())
    }

    /// Rotates the log key, approved by two officers ([`Operation::rotate_log_key`] of the
    /// current key): a fresh key signs from the current tree size on; the handover, signed by
    /// the old and the new key, joins the keystore's history in the same atomic keystore
    /// write that destroys the old seed; then the key event's receipt — the new key's first —
    /// names the officers. Subjects that pinned the original key follow the handovers in
    /// their bundles.
    ///
    /// Holds the subject map (which every commit holds while it signs) from reading the
    /// tree size to switching the key, so no commit runs in between. A crash after the keystore write and before the receipt leaves a consistent log
    /// (the next commit is the new key's first; the next open records the newer keystore).
    pub(crate) fn rotate_log_key(
        &self,
        session: &StaffSession,
        pass: &Passphrase,
        approved: &Approved,
    ) -> Result<LogRotation> {
        if self.keys().token.is_some() {
            return Err(EngineError::invalid(
                "log key rotation",
                "the log key is held in a PKCS#11 token; rotating a token-held log key is not built yet \
                 (the key stays in the token and keeps signing)",
            ));
        }
        let commits = self.hold_commits()?;
        let old = self.log_signer()?;
        approved.require(&Operation::rotate_log_key(old.key_id()))?;
        let history = self.log_key_history()?;
        let from_size = self.log_size()?;
        // A fresh key whose id no key of the history has (ids are 32 bits: a clash is
        // astronomically rare, but the history refuses it, so draw again).
        let (seed, new) = loop {
            let seed = LogKeySeed::generate();
            let new = LogSigner::from_seed(self.origin(), seed.expose_secret())
                .map_err(|e| EngineError::Internal(format!("log key: {e}")))?;
            if history.ranges().iter().all(|r| r.key.key_id() != new.key_id()) {
                break (seed, new);
            }
        };
        let handover = Handover::sign(&old, &new, from_size)
            .map_err(|e| EngineError::Internal(format!("log key handover: {e}")))?;
        let mut check = history;
        check
            .push(handover.clone())
            .map_err(|e| EngineError::Internal(format!("log key handover: {e}")))?;
        let mut marks = self.gate.consume(&self.keys(), approved)?;
        // The store's public copy of the history gains the handover with the key event's
        // receipt (the first the new key signs).
        marks.put(
            Tree::Meta,
            layout::META_LOG_HANDOVERS,
            layout::encode_handovers(&check.notes()),
        );
        // The old seed is zeroized when the replaced keystore values drop (`LogKeySeed`
        // zeroizes on drop); the signers holding it drop at the end of this function.
        let note = handover.note().to_string();
        self.update_keystore(pass, move |keys| {
            keys.log_key = credseal_crypto::LogKey::Seed(seed);
            keys.log_history.push(note);
            Ok(())
        })?;
        drop(commits);
        drop(old);
        let old_vkey = handover.old_key().vkey();
        let new_vkey = new.vkey();
        drop(new);
        let digest = credseal_core::hex(&credseal_crypto::sha256(handover.note().as_bytes()));
        let r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!(
                "log key rotated: {:08x} retired, {new_vkey} signs from tree size {from_size} (handover SHA-256 {digest}); {}",
                handover.old_key().key_id(),
                approved.note()
            ),
            None,
        );
        self.commit_key_event(r, marks)?;
        Ok(LogRotation {
            from_size,
            old_vkey,
            new_vkey,
            handover: handover.note().to_string(),
            officers: approved.officers().to_vec(),
        })
    }

    /// Whether the record was shredded.
    pub(crate) fn is_tombstoned(&self, blind: &BlindId, class: &str, rkey: &[u8; 16]) -> Result<bool> {
        Ok(self
            .store
            .contains(Tree::Tombstones, &tombstone_key(blind, class, rkey))?)
    }

    /// Shreds every record whose class's retention period has passed by `today` (counted from
    /// the record's effective date). Classes kept permanently are never swept.
    pub(crate) fn shred_expired(
        &self,
        session: &StaffSession,
        today: Date,
        pass: &Passphrase,
        approved: &Approved,
    ) -> Result<ShredSummary> {
        approved.require(&Operation::shred_expired(today))?;
        let selected = self.expired(today)?;
        let marks = self.gate.consume(&self.keys(), approved)?;
        self.shred_selected(
            session,
            selected,
            &format!("retention period over; {}", approved.note()),
            Sealing::Passphrase(pass),
            marks,
        )
    }

    /// The retention sweep under the standing retention policy (`crate::retention`), which
    /// stands in for two officers' approvals: `policy_note` names it in the subjects'
    /// receipts. `sealing`: [`Sealing::Unattended`] for `credseal serve`'s scheduled run.
    pub(crate) fn shred_expired_by_policy(
        &self,
        session: &StaffSession,
        today: Date,
        sealing: Sealing<'_>,
        policy_note: &str,
    ) -> Result<ShredSummary> {
        let selected = self.expired(today)?;
        self.shred_selected(
            session,
            selected,
            &format!("retention period over; {policy_note}"),
            sealing,
            Batch::new(),
        )
    }

    /// Every record past its class's retention on `today`: per subject and class, its places.
    fn expired(&self, today: Date) -> Result<Selection> {
        let mut selected = Selection::new();
        let limits: BTreeMap<String, u32> = self
            .catalog
            .classes
            .iter()
            .filter_map(|(id, c)| match c.retention {
                credseal_core::Retention::Days(d) => Some((id.clone(), d)),
                credseal_core::Retention::Permanent => None,
            })
            .collect();
        let ks = self.keys();
        // The scan reads and opens every record of every class with a retention period:
        // measured at 1,000,000 subjects, almost all of a sweep's time (unwrapping each
        // subject's data key through its tree, reading, opening the records). Subjects are
        // independent, so it runs on several threads, each over a contiguous range of
        // BlindIds (neighbours share their key-tree path, which stays in the node cache).
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, SWEEP_THREADS);
        let shares: Vec<Result<Selection>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    let (ks, limits) = (&ks, &limits);
                    let (lo, hi) = (t * 256 / threads, (t + 1) * 256 / threads);
                    scope.spawn(move || self.expired_in(ks, limits, today, lo..hi))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| Err(EngineError::Internal("a sweep thread panicked".into())))
                })
                .collect()
        });
        for share in shares {
            selected.extend(share?);
        }
        Ok(selected)
    }

    /// The records past their class's retention on `today` among the subjects whose
    /// BlindId starts with a byte in `first` (`limits`: class → retention days).
    fn expired_in(
        &self,
        ks: &Keystore,
        limits: &BTreeMap<String, u32>,
        today: Date,
        first: std::ops::Range<usize>,
    ) -> Result<Selection> {
        let mut selected = Selection::new();
        let blinder = credseal_crypto::Blinder::new(&ks.index_key);
        for byte in first {
            // `first` is within 0..256.
            for kv in self.store.scan_prefix(Tree::Records, &[byte as u8]) {
                let (k, v) = kv?;
                let blind = layout::parse_subject_key(&k).ok_or_else(|| EngineError::Corrupt {
                    what: "subject key".into(),
                    detail: "not a BlindId".into(),
                })?;
                let recs = crate::bundle::SubjectRecords::decode(&v).map_err(|e| EngineError::Corrupt {
                    what: format!("records of subject {}", layout::short(&blind)),
                    detail: e.into(),
                })?;
                for (class, b) in &recs.classes {
                    let Some(days) = limits.get(class) else { continue };
                    let dek = self.vault.unwrap_dek(ks, &blind, class, &b.wrapped_dek)?;
                    for e in &b.entries {
                        let (_, r) = self.vault.open_body_with(&blinder, &dek, &blind, class, e)?;
                        if r.effective.days_since_epoch() + i64::from(*days) < today.days_since_epoch() {
                            selected
                                .entry((blind, class.clone()))
                                .or_default()
                                .insert((e.rkey, e.version));
                        }
                    }
                }
            }
        }
        Ok(selected)
    }

    /// Checks a credit-repair order (`cs1.shred-order.…`): signed by the authority this
    /// platform trusts (else a forgery: [`credseal_auth::Denial::ShredOrderBadSignature`], exit
    /// 4), for this platform (else [`credseal_auth::Denial::WrongAudience`], exit 3), naming a
    /// valid reference, a catalogue class and a record of the subject that is stored and not
    /// already shredded (else [`EngineError::NotFound`], before any officer's approval is
    /// spent).
    pub(crate) fn check_shred_order(&self, text: &str) -> std::result::Result<CheckedShredOrder, crate::QueryError> {
        use credseal_auth::{ShredOrder, Unverified};
        let u = Unverified::<ShredOrder>::parse_text(text.trim()).map_err(|e| crate::QueryError::Denied(e.into()))?;
        let authority = self.trusted_authority()?;
        let v = credseal_auth::verify_shred_order(&u, &authority, self.origin()).map_err(crate::QueryError::Denied)?;
        let o = v.body();
        if !valid_order_reference(&o.reference) {
            return Err(EngineError::invalid("the order's reference", "not 1 to 64 of A-Z a-z 0-9 . _ : / -").into());
        }
        if self.catalog.class(&o.class).is_none() {
            return Err(EngineError::NotFound(format!(
                "the order names class {:?}, which is not in the catalogue",
                o.class
            ))
            .into());
        }
        if !credseal_core::valid_record_id(&o.record_id) {
            return Err(EngineError::invalid("the order's record id", "not a valid record id").into());
        }
        // Cannot fail: verify_shred_order checked a normalised subject id.
        let subject = SubjectId::parse(&o.subject)
            .map_err(|_| EngineError::invalid("the order's subject", "not a valid subject id"))?;
        let checked = CheckedShredOrder {
            subject,
            class: o.class.clone(),
            record_id: o.record_id.clone(),
            reference: o.reference.clone(),
            issued_at: o.issued_at,
            digest: credseal_crypto::sha256(u.as_bytes()),
        };
        self.order_places(&checked)?;
        Ok(checked)
    }

    /// The stored versions of the order's record; an error if there are none or it was
    /// shredded.
    fn order_places(&self, o: &CheckedShredOrder) -> Result<(BlindId, Places)> {
        let (class, record_id) = (o.class.as_str(), o.record_id.as_str());
        let blind = self.blind(&o.subject)?;
        let rkey = self.keys().index_key.record_key(&blind, class, record_id);
        if self.is_tombstoned(&blind, class, &rkey)? {
            return Err(EngineError::NotFound(format!(
                "record {record_id:?} of class {class} of this subject was already shredded"
            )));
        }
        let found: Places = self
            .vault
            .load_subject(&blind)?
            .and_then(|r| r.classes.get(class).cloned())
            .map(|b| {
                b.entries
                    .iter()
                    .filter(|e| e.rkey == rkey)
                    .map(|e| (e.rkey, e.version))
                    .collect()
            })
            .unwrap_or_default();
        if found.is_empty() {
            return Err(EngineError::NotFound(format!(
                "no record {record_id:?} of class {class} is stored for this subject"
            )));
        }
        Ok((blind, found))
    }

    /// Destroys every version of one record of the subject `blind` on a signed answer to an
    /// objection whose outcome is `deleted` (the answer, checked by the caller, is the
    /// authorisation); `reason` goes into the subject's `Shred` receipt.
    pub(crate) fn shred_on_answer(
        &self,
        session: &StaffSession,
        blind: BlindId,
        class: &str,
        rkey: [u8; 16],
        reason: &str,
        pass: &Passphrase,
    ) -> Result<ShredSummary> {
        if self.is_tombstoned(&blind, class, &rkey)? {
            return Err(EngineError::NotFound(format!(
                "the {class} record objected to was already shredded"
            )));
        }
        let found: Places = self
            .vault
            .load_subject(&blind)?
            .and_then(|r| r.classes.get(class).cloned())
            .map(|b| {
                b.entries
                    .iter()
                    .filter(|e| e.rkey == rkey)
                    .map(|e| (e.rkey, e.version))
                    .collect()
            })
            .unwrap_or_default();
        if found.is_empty() {
            return Err(EngineError::NotFound(format!(
                "the {class} record objected to is not stored"
            )));
        }
        let mut selected = BTreeMap::new();
        selected.insert((blind, class.to_string()), found);
        self.shred_selected(session, selected, reason, Sealing::Passphrase(pass), Batch::new())
    }

    /// Carries out a checked credit-repair order, approved by two officers: every version of
    /// its record is destroyed (see the module documentation); the subject's receipt names
    /// the order, its date and digest, and the officers.
    pub(crate) fn shred_by_order(
        &self,
        session: &StaffSession,
        order: &CheckedShredOrder,
        pass: &Passphrase,
        approved: &Approved,
    ) -> Result<ShredSummary> {
        approved.require(&order.operation())?;
        let (blind, found) = self.order_places(order)?;
        let marks = self.gate.consume(&self.keys(), approved)?;
        let mut selected = BTreeMap::new();
        selected.insert((blind, order.class.clone()), found);
        let date = Date::from_unix(order.issued_at).map_or_else(|| order.issued_at.to_string(), |d| d.to_string());
        self.shred_selected(
            session,
            selected,
            &format!(
                "credit repair: order {} of {date} signed by the authority (SHA-256 {}); {}",
                order.reference,
                credseal_core::hex(&order.digest[..8]),
                approved.note()
            ),
            Sealing::Passphrase(pass),
            marks,
        )
    }

    /// `marks`: the approvals' committed replay entries, committed with the rotation's
    /// receipt (a sweep that finds nothing to shred commits none: the approvals stay
    /// reserved, which blocks their reuse, but are not counted in the trust state).
    ///
    /// Per class (docs/design.md §8b): every data key in the class's key tree and its root
    /// under the primary KEK (`rewrap`, a no-op once done); one keystore write makes a fresh
    /// KEK version of every class concerned primary; then per class one atomic write
    /// re-keys the subjects without their shredded records, replaces the key-tree paths
    /// above them (the new root under the fresh version), rewraps the other data keys under
    /// the replaced leaves, and holds the tombstones and the subjects' receipts; finally one
    /// keystore write destroys every older KEK version of those classes, and with it the
    /// only wrapping of any earlier root. A marker names the classes until that is done; the
    /// next shred finishes it first.
    fn shred_selected(
        &self,
        session: &StaffSession,
        selected: Selection,
        reason: &str,
        sealing: Sealing<'_>,
        marks: Batch,
    ) -> Result<ShredSummary> {
        let _s = self.shred_lock.lock().map_err(|_| EngineError::poisoned("shred"))?;
        let mut summary = ShredSummary::default();
        // Classes a previous shred left half-done come first.
        let mut classes: BTreeSet<String> = self.shred_pending()?;
        classes.extend(selected.keys().map(|(_, c)| c.clone()));
        if classes.is_empty() {
            return Ok(summary);
        }
        let mut b = Batch::new();
        b.put(
            Tree::Meta,
            META_SHRED_PENDING,
            classes.iter().cloned().collect::<Vec<_>>().join("\n"),
        );
        self.store.apply(b)?;
        self.store.flush()?;
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        self.rewrap_locked(session, &crate::NoProgress)?;
        let mut by_class: BTreeMap<String, BTreeMap<BlindId, Places>> = BTreeMap::new();
        for ((blind, class), places) in selected {
            by_class.entry(class).or_default().insert(blind, places);
        }
        let subjects: BTreeSet<BlindId> = by_class.values().flat_map(|m| m.keys().copied()).collect();
        summary.subjects = subjects.len() as u64;
        let rotating: Vec<String> = by_class.keys().cloned().collect();
        let rotated = self.rotate_classes(session, &rotating, sealing, marks)?;
        for (class, sel) in &by_class {
            summary.records += self.shred_class(session, class, sel, rotated[class], reason)?;
        }
        // Seal off every earlier copy of the database: destroy the KEK versions that wrapped
        // the replaced roots (and any older one).
        let retired = self.retire_older(session, &classes, sealing, reason)?;
        for class in &classes {
            let primary = self.keys().classes.get(class.as_str()).map_or(0, |c| c.primary);
            summary
                .classes
                .push((class.clone(), retired.get(class).cloned().unwrap_or_default(), primary));
        }
        let mut b = Batch::new();
        b.delete(Tree::Meta, META_SHRED_PENDING);
        self.store.apply(b)?;
        self.store.flush()?;
        Ok(summary)
    }

    /// Makes a fresh KEK version of each class primary, in one keystore write, with one
    /// receipt (committing `extra`). Returns class → new version.
    fn rotate_classes(
        &self,
        session: &StaffSession,
        classes: &[String],
        sealing: Sealing<'_>,
        extra: Batch,
    ) -> Result<BTreeMap<String, u32>> {
        if classes.is_empty() {
            return Ok(BTreeMap::new());
        }
        let now = self.now()?;
        let done = self.update_keystore_with(sealing, |keys| {
            let mut done = BTreeMap::new();
            for class in classes {
                let ck = keys
                    .classes
                    .get_mut(class)
                    .ok_or_else(|| EngineError::NotFound(format!("class {class:?} is not in the keystore")))?;
                let old = ck.primary;
                let new = ck.versions.keys().max().copied().unwrap_or(0).max(old) + 1;
                let kek = new_kek(keys, class, new)?;
                // Cannot fail: the class was found above.
                let ck = keys.classes.get_mut(class).expect("class found above");
                ck.versions.insert(new, KekEntry { kek, created: now });
                ck.primary = new;
                done.insert(class.clone(), (old, new));
            }
            Ok(done)
        })?;
        let what: Vec<String> = done
            .iter()
            .map(|(c, (old, new))| {
                format!(
                    "{c}: KEK v{new}{} is primary (was v{old})",
                    object_note(token_object(&self.keys(), c, *new))
                )
            })
            .collect();
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!("rotate for a shred: {}", what.join(", ")),
            None,
        );
        r.classes = done.keys().cloned().collect();
        self.commit_key_event(r, extra)?;
        Ok(done.into_iter().map(|(c, (_, new))| (c, new)).collect())
    }

    /// Destroys every KEK version of `classes` but the primary, in one keystore write, with
    /// one receipt; each must be unused (see [`Self::retire_check`]). Returns class →
    /// versions destroyed.
    fn retire_older(
        &self,
        session: &StaffSession,
        classes: &BTreeSet<String>,
        sealing: Sealing<'_>,
        why: &str,
    ) -> Result<BTreeMap<String, Vec<u32>>> {
        let ks = self.keys();
        let mut gone: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for class in classes {
            let Some(ck) = ks.classes.get(class.as_str()) else {
                continue;
            };
            for v in ck.versions.keys().filter(|v| **v != ck.primary) {
                self.retire_check(class, *v)?;
                gone.entry(class.clone()).or_default().push(*v);
            }
        }
        drop(ks);
        if gone.is_empty() {
            return Ok(gone);
        }
        // The removed keys are zeroized when dropped (`Kek` zeroizes on drop).
        let removed = self.update_keystore_with(sealing, |keys| {
            let mut removed = BTreeMap::new();
            for (class, versions) in &gone {
                for v in versions {
                    if let Some(e) = keys.classes.get_mut(class).and_then(|c| c.versions.remove(v)) {
                        removed.insert((class.clone(), *v), e);
                    }
                }
            }
            Ok(removed)
        })?;
        // KEKs in a token are destroyed there, after the keystore no longer names them.
        let ks = self.keys();
        let mut objects = BTreeMap::new();
        for (k, e) in &removed {
            objects.insert(k.clone(), destroy_kek(&ks, &e.kek)?);
        }
        drop(ks);
        let what: Vec<String> = gone
            .iter()
            .flat_map(|(c, vs)| {
                let objects = &objects;
                vs.iter().map(move |v| {
                    format!(
                        "{c} KEK v{v}{}",
                        object_note(objects.get(&(c.clone(), *v)).copied().flatten())
                    )
                })
            })
            .collect();
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!("retire {}: destroyed ({why})", what.join(", ")),
            None,
        );
        r.classes = gone.keys().cloned().collect();
        let mut b = Batch::new();
        for (class, versions) in &gone {
            for v in versions {
                b.delete(Tree::Meta, layout::dek_count_key(class, *v));
            }
        }
        self.commit_key_event(r, b)?;
        Ok(gone)
    }

    fn shred_pending(&self) -> Result<BTreeSet<String>> {
        Ok(match self.store.get(Tree::Meta, META_SHRED_PENDING)? {
            None => BTreeSet::new(),
            Some(v) => String::from_utf8(v)
                .map_err(|_| EngineError::Corrupt {
                    what: "shred marker".into(),
                    detail: "not UTF-8".into(),
                })?
                .lines()
                .filter(|c| self.keys().classes.contains_key(*c))
                .map(str::to_string)
                .collect(),
        })
    }

    /// Shreds the records at `selected` (subject → places) of `class` in one atomic write
    /// (see [`Self::shred_selected`]); the class's new tree root is wrapped under KEK `to`.
    /// The write lock is held. Returns the records removed.
    fn shred_class(
        &self,
        session: &StaffSession,
        class: &str,
        selected: &BTreeMap<BlindId, Places>,
        to: u32,
        reason: &str,
    ) -> Result<u64> {
        let ks = self.keys();
        let trees = self.vault.trees();
        let from = trees.root_version(&ks, class)?;
        let before = self.dek_count(class, from)?;
        let now = self.now()?;
        let mut batch = Batch::new();
        let mut receipts = Vec::new();
        let (mut removed_all, mut emptied) = (0u64, 0u64);
        // The subjects: their class re-keyed without the shredded records (the new data key
        // is wrapped below, under the new leaf).
        let mut changed: BTreeMap<BlindId, (SubjectRecords, Option<Dek>)> = BTreeMap::new();
        for (blind, places) in selected {
            let Some(mut recs) = self.vault.load_subject(blind)? else {
                continue;
            };
            let Some(b) = recs.classes.get_mut(class) else { continue };
            let old = self.vault.unwrap_dek(&ks, blind, class, &b.wrapped_dek)?;
            // The fingerprints of the shredded values go in the same atomic write (see
            // `crate::trace::shredded_fingerprints`): afterwards a trace cannot test them.
            let (mut shredded, mut kept) = (Vec::new(), Vec::new());
            for e in &b.entries {
                let (_, r) = self.vault.open_body(&ks, &old, blind, class, e)?;
                if places.contains(&(e.rkey, e.version)) {
                    shredded.push(r);
                } else {
                    kept.push(r);
                }
            }
            let dead = crate::trace::shredded_fingerprints(self.catalog, &ks, blind, class, &shredded, &kept);
            drop((shredded, kept));
            crate::trace::scrub_fingerprints(self.store, &ks, blind, &dead, &mut batch)?;
            let before_entries = b.entries.len();
            let mut gone = BTreeSet::new();
            b.entries.retain(|e| {
                let hit = places.contains(&(e.rkey, e.version));
                if hit {
                    gone.insert(e.rkey);
                }
                !hit
            });
            let removed = (before_entries - b.entries.len()) as u64;
            if removed == 0 {
                continue;
            }
            for rkey in &gone {
                let mut v = now.to_be_bytes().to_vec();
                v.extend_from_slice(reason.as_bytes());
                batch.put(Tree::Tombstones, tombstone_key(blind, class, rkey), v);
            }
            let new = if b.entries.is_empty() {
                recs.classes.remove(class);
                emptied += 1;
                None
            } else {
                let new = Dek::generate();
                reseal_entries(blind, class, b, &old, &new)?;
                Some(new)
            };
            drop(old);
            removed_all += removed;
            let mut r = self.admin_receipt(
                session,
                Action::Shred,
                format!("{removed} record(s) destroyed: {reason}"),
                Some(*blind),
            );
            r.classes.insert(class.to_string());
            receipts.push(r);
            changed.insert(*blind, (recs, new));
        }
        let shape = trees.shape(&ks, class)?;
        let leaves: BTreeSet<u32> = changed.keys().map(|b| shape.index(b, shape.depth)).collect();
        let ks = self.keys();
        if leaves.is_empty() {
            // Nothing to shred after all: the root still moves under the fresh version, so
            // that the older one can be destroyed.
            let rec = trees.rewrapped_root(&ks, class, to)?;
            batch.put(Tree::Deks, crate::components::keytree::root_key(class), rec.encode());
        } else {
            let change = trees.replace_paths(&ks, class, &leaves, to)?;
            for (k, v) in change.puts {
                batch.put(Tree::Deks, k, v);
            }
            // Every other data key under a replaced leaf, wrapped again by the new leaf.
            for (leaf, (old_leaf, new_leaf)) in &change.leaves {
                for kv in self.store.scan_prefix(Tree::Records, &shape.leaf_prefix(*leaf)) {
                    let (k, v) = kv?;
                    let Some(blind) = layout::parse_subject_key(&k) else {
                        continue;
                    };
                    if !shape.under(&blind, *leaf) || changed.contains_key(&blind) {
                        continue;
                    }
                    let mut recs = self.vault.decode_subject(&blind, &v)?;
                    let Some(b) = recs.classes.get_mut(class) else { continue };
                    let ctx = DekContext { blind: &blind, class };
                    let dek = old_leaf
                        .unwrap_dek(&ctx, &b.wrapped_dek)
                        .map_err(|e| EngineError::Corrupt {
                            what: format!("data key of subject {} class {class}", layout::short(&blind)),
                            detail: format!("not wrapped by its key-tree leaf: {e}"),
                        })?;
                    b.wrapped_dek = new_leaf.wrap_dek(&ctx, &dek);
                    batch.put(Tree::Records, k, recs.encode());
                }
            }
            for (blind, (mut recs, dek)) in changed {
                if let (Some(dek), Some(b)) = (dek, recs.classes.get_mut(class)) {
                    let leaf = &change.leaves[&shape.index(&blind, shape.depth)].1;
                    b.wrapped_dek = leaf.wrap_dek(&DekContext { blind: &blind, class }, &dek);
                }
                if recs.classes.is_empty() {
                    batch.delete(Tree::Records, layout::subject_key(&blind));
                } else {
                    batch.put(Tree::Records, layout::subject_key(&blind), recs.encode());
                }
            }
        }
        // Every data key of the class now counts under `to`, less the ones destroyed.
        let mut delta = BTreeMap::new();
        *delta.entry((class.to_string(), from)).or_insert(0) -= before as i64;
        *delta.entry((class.to_string(), to)).or_insert(0) += before as i64 - emptied as i64;
        self.put_dek_counts(&mut batch, delta)?;
        let r = self.append_receipts_with(receipts, batch, now);
        // Whether or not the write went through, the cached keys of the class are dropped.
        trees.forget(class);
        r?;
        Ok(removed_all)
    }
}

/// Seals `b`'s records again under `new` (they open with `old`).
fn reseal_entries(blind: &BlindId, class: &str, b: &mut crate::bundle::Bundle, old: &Dek, new: &Dek) -> Result<()> {
    for e in b.entries.iter_mut() {
        let ctx = RecordContext {
            blind,
            class,
            record_key: &e.rkey,
            version: e.version,
        };
        let pt = zeroize::Zeroizing::new(credseal_crypto::open_record(old, &ctx, &e.sealed).map_err(|err| {
            EngineError::Corrupt {
                what: format!("a record of subject {} class {class}", layout::short(blind)),
                detail: err.to_string(),
            }
        })?);
        e.sealed = credseal_crypto::seal_record(new, &ctx, &pt);
    }
    Ok(())
}

/// Every key of `h`, the original first, with the receipt indexes it signs.
pub(crate) fn log_key_status(h: &KeyHistory) -> Vec<LogKeyStatus> {
    let ranges = h.ranges();
    let last = ranges.len() - 1;
    ranges
        .into_iter()
        .enumerate()
        .map(|(i, r)| LogKeyStatus {
            key_id: format!("{:08x}", r.key.key_id()),
            vkey: r.key.vkey(),
            from: r.from,
            until: r.until,
            current: i == last,
        })
        .collect()
}

/// A new KEK version `version` of `class` for `keys`: made in its token when it has one.
fn new_kek(keys: &credseal_crypto::Keystore, class: &str, version: u32) -> Result<credseal_crypto::KekKey> {
    keys.new_kek(class, version).map_err(|source| EngineError::Keystore {
        path: "(the keystore's PKCS#11 token)".into(),
        source,
    })
}

/// Destroys a KEK removed from the keystore `keys` (a token object in the token); its
/// object id, if it was one.
fn destroy_kek(
    keys: &credseal_crypto::Keystore,
    kek: &credseal_crypto::KekKey,
) -> Result<Option<credseal_crypto::TokenObject>> {
    keys.destroy_kek(kek).map_err(|source| EngineError::Keystore {
        path: "(the keystore's PKCS#11 token: the KEK is no longer in the keystore; destroy the object by hand)".into(),
        source,
    })
}

/// `" (token object <id>)"` for a receipt naming a KEK held in a token, else nothing.
fn object_note(object: Option<credseal_crypto::TokenObject>) -> String {
    object.map(|o| format!(" (token object {o})")).unwrap_or_default()
}

/// The token object of KEK `version` of `class`, if it is held in a token.
fn token_object(keys: &credseal_crypto::Keystore, class: &str, version: u32) -> Option<credseal_crypto::TokenObject> {
    match keys.kek_entry(class, version).ok()?.kek {
        credseal_crypto::KekKey::Token(o) => Some(o),
        credseal_crypto::KekKey::Software(_) => None,
    }
}
