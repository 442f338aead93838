//! The key operations (docs/design.md §8) over borrowed parts: key status, the KEK lifecycle
//! (rotate, rewrap, retire, re-key), keystore rollback detection, and the log key's history
//! and rotation. Officers' approvals are checked here; the types these operations return
//! live in `crate::keys` and `crate::logkey`.

use std::sync::{Arc, Mutex};

use credseal_crypto::{Dek, DekContext, Kek, KekEntry, Keystore, LogKeySeed, Passphrase, RecordContext};
use credseal_log::{Action, Handover, KeyHistory, LogSigner};
use credseal_store::{Batch, Store, Tree};

use crate::bundle::SubjectRecords;
use crate::clock::Clock;
use crate::components::appender::{Appender, Committed, MapCache, NewReceipt};
use crate::components::datadir::DataDir;
use crate::components::gate::{Approved, Gate, Operation, StaffSession};
use crate::components::vault::Vault;
use crate::error::{EngineError, Result};
use crate::keys::{ClassKeyStatus, REWRAP_BATCH, RewrapSummary, VersionStatus};
use crate::layout;
use crate::logkey::{LogKeyStatus, LogRotation};

/// A receipt for an administrative act by the officer of `session`.
pub(crate) fn admin_receipt(
    session: &StaffSession,
    action: Action,
    detail: String,
    subject: Option<credseal_core::BlindId>,
) -> NewReceipt {
    NewReceipt {
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

fn be(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

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

    fn blind(&self, id: &credseal_core::SubjectId) -> credseal_core::BlindId {
        self.keys().index_key.blind(id)
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
        LogSigner::from_seed(self.origin(), self.keys().log_seed.expose_secret())
            .map_err(|e| EngineError::Internal(format!("log key: {e}")))
    }

    fn log_size(&self) -> Result<u64> {
        self.appender.log_size()
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
    /// newer one. A newer one without its event's receipt (a crash between writing the
    /// keystore and the receipt) gets a receipt saying so.
    pub(crate) fn check_generation(&self) -> Result<()> {
        let have = self.keys().generation;
        let seen = self.seen_generation()?;
        match seen {
            Some(s) if s > have => Err(EngineError::KeystoreRollback {
                path: self.dir.map(|d| d.keystore_path()).unwrap_or_default(),
                keystore: have,
                seen: s,
            }),
            Some(s) if s == have => Ok(()),
            None => {
                let mut b = Batch::new();
                self.put_authenticated(&mut b, layout::META_KEYSTORE_GENERATION, &have.to_be_bytes());
                self.store.apply(b)?;
                self.store.flush()?;
                Ok(())
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

    /// Commits a key event's receipt together with `batch` and the keystore generation.
    pub(crate) fn commit_key_event(&self, mut r: NewReceipt, mut batch: Batch) -> Result<()> {
        // The log shows auditors the keystore's generation history too.
        let generation = self.keys().generation;
        r.detail.push_str(&format!("; keystore generation {generation}"));
        self.put_authenticated(&mut batch, layout::META_KEYSTORE_GENERATION, &generation.to_be_bytes());
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

    /// Gives one subject's class `b` a fresh data key wrapped under the class's primary KEK,
    /// and seals its records again under it (they open with `old`). Returns the primary
    /// version. The old key is the caller's to drop.
    pub(crate) fn reseal_class(
        &self,
        blind: &credseal_core::BlindId,
        class: &str,
        b: &mut crate::bundle::Bundle,
        old: &Dek,
    ) -> Result<u32> {
        let ks = self.keys();
        let (primary, kek) = ks
            .primary_kek(class)
            .ok_or_else(|| EngineError::NotFound(format!("the keystore holds no key for class {class:?}")))?;
        let new = Dek::generate();
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
            e.sealed = credseal_crypto::seal_record(&new, &ctx, &pt);
        }
        b.wrapped_dek = credseal_crypto::wrap_dek(kek, primary, &DekContext { blind, class }, &new);
        Ok(primary)
    }

    /// Makes a new KEK version of `class` primary: new data keys are wrapped with it at
    /// once; data keys under older versions stay readable. Returns the new version.
    pub(crate) fn rotate_class(&self, session: &StaffSession, class: &str, pass: &Passphrase) -> Result<u32> {
        let now = self.now()?;
        let (old, new) = self.update_keystore(pass, |keys| {
            let ck = keys
                .classes
                .get_mut(class)
                .ok_or_else(|| EngineError::NotFound(format!("class {class:?} is not in the keystore")))?;
            let old = ck.primary;
            let new = ck.versions.keys().max().copied().unwrap_or(0).max(old) + 1;
            ck.versions.insert(
                new,
                KekEntry {
                    kek: Kek::generate(),
                    created: now,
                },
            );
            ck.primary = new;
            Ok((old, new))
        })?;
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!("rotate {class}: KEK v{new} is primary (was v{old})"),
            None,
        );
        r.classes.insert(class.to_string());
        self.commit_key_event(r, Batch::new())?;
        Ok(new)
    }

    /// Re-wraps every data key not under its class's primary KEK version, in atomic batches
    /// of subjects (bundles and counters together). Records are not touched. Safe to stop at
    /// any moment and run again: it finds what is left.
    pub(crate) fn rewrap(&self, session: &StaffSession, progress: &dyn crate::Progress) -> Result<RewrapSummary> {
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let ks = self.keys();
        let mut todo = 0;
        for (class, ck) in &ks.classes {
            for v in ck.versions.keys().filter(|v| **v != ck.primary) {
                todo += self.dek_count(class, *v)?;
            }
        }
        let mut summary = RewrapSummary::default();
        let mut moves: std::collections::BTreeMap<(String, u32, u32), u64> = Default::default();
        progress.stage("rewrapping", todo);
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
                    let Some((primary, kek)) = ks.primary_kek(class) else {
                        continue;
                    };
                    let from =
                        credseal_crypto::wrapped_kek_version(&b.wrapped_dek).map_err(|e| EngineError::Corrupt {
                            what: format!("data key of subject {} class {class}", layout::short(&blind)),
                            detail: e.to_string(),
                        })?;
                    if from == primary {
                        continue;
                    }
                    let dek = self.vault.unwrap_dek(&ks, &blind, class, &b.wrapped_dek)?;
                    b.wrapped_dek = credseal_crypto::wrap_dek(kek, primary, &DekContext { blind: &blind, class }, &dek);
                    *delta.entry((class.clone(), from)).or_default() -= 1;
                    *delta.entry((class.clone(), primary)).or_default() += 1;
                    *moves.entry((class.clone(), from, primary)).or_default() += 1;
                    dirty = true;
                    changed += 1;
                }
                if dirty {
                    batch.put(Tree::Records, k, recs.encode());
                }
            }
            self.put_dek_counts(&mut batch, delta)?;
            self.store.apply(batch)?;
            summary.rewrapped += changed;
            progress.advance(changed);
        }
        self.store.flush()?;
        progress.finish();
        summary.moves = moves.into_iter().map(|((c, f, t), n)| (c, f, t, n)).collect();
        if summary.rewrapped > 0 {
            let mut r = self.admin_receipt(
                session,
                Action::KeyEvent,
                format!(
                    "rewrap: {} data keys moved to their class's primary KEK",
                    summary.rewrapped
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
        self.retire_inner(session, class, version, pass, &approved.note())
    }

    pub(crate) fn retire_inner(
        &self,
        session: &StaffSession,
        class: &str,
        version: u32,
        pass: &Passphrase,
        why: &str,
    ) -> Result<()> {
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
        drop(ks);
        // The removed entry's key is zeroized when dropped (`Kek` zeroizes on drop), here
        // and in the old keystore value once the last operation using it ends.
        self.update_keystore(pass, |keys| {
            drop(keys.classes.get_mut(class).and_then(|c| c.versions.remove(&version)));
            Ok(())
        })?;
        let mut r = self.admin_receipt(
            session,
            Action::KeyEvent,
            format!("retire {class} KEK v{version}: destroyed ({why})"),
            None,
        );
        r.classes.insert(class.to_string());
        let mut b = Batch::new();
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
        let blind = self.blind(subject);
        let mut recs = self
            .vault
            .load_subject(&blind)?
            .ok_or_else(|| EngineError::NotFound("no records are stored for this subject".into()))?;
        let b = recs
            .classes
            .get_mut(class)
            .ok_or_else(|| EngineError::NotFound(format!("the subject has no records of class {class}")))?;
        let from = credseal_crypto::wrapped_kek_version(&b.wrapped_dek).map_err(|e| EngineError::Corrupt {
            what: format!("data key of subject {} class {class}", layout::short(&blind)),
            detail: e.to_string(),
        })?;
        let old = self.vault.unwrap_dek(&self.keys(), &blind, class, &b.wrapped_dek)?;
        let primary = self.reseal_class(&blind, class, b, &old)?;
        let n = b.entries.len() as u64;
        drop(old);
        let mut batch = Batch::new();
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
        let h = self.log_key_history()?;
        let ranges = h.ranges();
        let last = ranges.len() - 1;
        Ok(ranges
            .into_iter()
            .enumerate()
            .map(|(i, r)| LogKeyStatus {
                key_id: format!("{:08x}", r.key.key_id()),
                vkey: r.key.vkey(),
                from: r.from,
                until: r.until,
                current: i == last,
            })
            .collect())
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
        // The old seed is zeroized when the replaced keystore values drop (`LogKeySeed`
        // zeroizes on drop); the signers holding it drop at the end of this function.
        let note = handover.note().to_string();
        self.update_keystore(pass, move |keys| {
            keys.log_seed = seed;
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
        self.commit_key_event(r, Batch::new())?;
        Ok(LogRotation {
            from_size,
            old_vkey,
            new_vkey,
            handover: handover.note().to_string(),
            officers: approved.officers().to_vec(),
        })
    }
}
