//! Key status and the key lifecycle for security officers: rotate, rewrap, retire, re-key,
//! and keystore rollback detection (docs/design.md §8).

use serde::Serialize;

use credseal_crypto::{Dek, DekContext, Kek, KekEntry, Keystore, Passphrase, RecordContext};
use credseal_log::Action;
use credseal_store::{Batch, Tree};

use crate::bundle::SubjectRecords;
use crate::error::{EngineError, Result};
use crate::layout;
use crate::platform::Platform;

/// One KEK version of a class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VersionStatus {
    /// Version number.
    pub version: u32,
    /// Whether new data keys are wrapped with it.
    pub primary: bool,
    /// Unix seconds of creation.
    pub created: u64,
    /// Data keys wrapped under it now.
    pub data_keys: u64,
}

/// The KEK versions of one class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClassKeyStatus {
    /// Class id.
    pub class: String,
    /// Versions held, oldest first.
    pub versions: Vec<VersionStatus>,
}

impl Platform {
    /// Class → KEK versions, which is primary, how many data keys use each (exact: counters
    /// written in the same atomic batch as the data keys; `verify_store` recounts them).
    pub fn key_status(&self) -> Result<Vec<ClassKeyStatus>> {
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
}

/// What `keys rewrap` did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RewrapSummary {
    /// Subjects read.
    pub subjects: u64,
    /// Data keys re-wrapped to their class's primary version.
    pub rewrapped: u64,
    /// Per class: (from version, to version, data keys).
    pub moves: Vec<(String, u32, u32, u64)>,
}

/// Subjects per rewrap batch (one atomic write each).
pub(crate) const REWRAP_BATCH: usize = 512;

fn be(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

impl Platform {
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
                path: self.dir.as_ref().map(|d| d.keystore_path()).unwrap_or_default(),
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
                    &crate::StaffSession::at_open(),
                    Action::KeyEvent,
                    format!("a newer keystore found at open (the database had seen generation {s})"),
                    None,
                );
                self.commit_key_event(r, Batch::new())
            }
        }
    }

    /// Commits a key event's receipt together with `batch` and the keystore generation.
    pub(crate) fn commit_key_event(&self, mut r: crate::log::NewReceipt, mut batch: Batch) -> Result<()> {
        // The log shows auditors the keystore's generation history too.
        let generation = self.keys().generation;
        r.detail.push_str(&format!("; keystore generation {generation}"));
        self.put_authenticated(&mut batch, layout::META_KEYSTORE_GENERATION, &generation.to_be_bytes());
        self.append_receipts_with(vec![r], batch, self.now()?)?;
        Ok(())
    }

    /// Changes the keystore (see [`crate::components::vault::Vault::update_keystore`]),
    /// replacing the keystore file of a platform on disk.
    pub(crate) fn update_keystore<T>(
        &self,
        pass: &Passphrase,
        edit: impl FnOnce(&mut Keystore) -> Result<T>,
    ) -> Result<T> {
        self.vault.update_keystore(self.dir.as_ref(), pass, edit)
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
    pub fn rotate_class(&self, session: &crate::StaffSession, class: &str, pass: &Passphrase) -> Result<u32> {
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
    pub fn rewrap(&self, session: &crate::StaffSession, progress: &dyn crate::Progress) -> Result<RewrapSummary> {
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
    pub fn retire_version(
        &self,
        session: &crate::StaffSession,
        class: &str,
        version: u32,
        pass: &Passphrase,
        approved: &crate::components::gate::Approved,
    ) -> Result<()> {
        approved.require(&crate::components::gate::Operation::retire(class, version))?;
        self.retire_inner(session, class, version, pass, &approved.note())
    }

    pub(crate) fn retire_inner(
        &self,
        session: &crate::StaffSession,
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
    pub fn rekey(
        &self,
        session: &crate::StaffSession,
        subject: &credseal_core::SubjectId,
        class: &str,
        approved: &crate::components::gate::Approved,
    ) -> Result<u64> {
        approved.require(&crate::components::gate::Operation::rekey(subject, class))?;
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
}
