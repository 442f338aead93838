//! Blind ids: each subject's [`BlindId`] (storage id, log id, subject-map key) is the VRF
//! output of its normalised id under the keystore's VRF key, with a proof the subject checks
//! (`docs/formats.md` §3). Proving costs a few hundred microseconds, so it is done once per
//! subject: the result is kept in the store under the subject's lookup key (an HMAC with the
//! index key), tagged with the index key so an entry altered or moved to another subject's
//! lookup key is refused, and in memory. A query costs one HMAC and a cache hit (or one store
//! read after a restart).
//!
//! Imports: the shared modules (`error`, `layout`) only, so the gate and the vault can both
//! hold this component.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use credseal_core::{BlindId, SubjectId};
use credseal_crypto::{Keystore, SubjectVrf};
use credseal_store::{Store, Tree};

use crate::error::{EngineError, Result};
use crate::layout;

/// Entries kept in memory before the cache is emptied and refilled (about 200 bytes each).
const CACHE_MAX: usize = 1 << 17;

/// A cached entry and whether it is in the store.
type Cached = (Arc<SubjectVrf>, bool);

/// The subjects' blind ids and VRF proofs: proved once, kept in the store and in memory.
pub(crate) struct Blinds {
    store: Arc<dyn Store>,
    /// By lookup key; only entries this process proved or read with a valid tag, each with
    /// whether it is in the store (an entry proved for an operation that may still fail is
    /// kept in memory only until [`Blinds::store_proved`]).
    cache: RwLock<HashMap<[u8; 32], Cached>>,
}

impl std::fmt::Debug for Blinds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blinds { .. }")
    }
}

impl Blinds {
    /// The blind ids kept in `store`.
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The subject's BlindId under the keystore `ks`.
    pub(crate) fn blind(&self, ks: &Keystore, id: &SubjectId) -> Result<BlindId> {
        Ok(*self.subject_vrf(ks, id)?.blind())
    }

    /// The subject's BlindId and VRF proof under the keystore `ks`: from memory, else from
    /// the store (its tag checked), else proved now and kept in both.
    ///
    /// # Errors
    /// [`EngineError::Corrupt`] if the stored entry's tag does not verify (altered, or copied
    /// from another subject); a store error.
    pub(crate) fn subject_vrf(&self, ks: &Keystore, id: &SubjectId) -> Result<Arc<SubjectVrf>> {
        self.lookup(ks, id, true)
    }

    /// [`Blinds::subject_vrf`] for an operation that may still be refused (an ingest file
    /// being checked): a newly proved entry is kept in memory only, so a refused operation
    /// writes nothing; [`Blinds::store_proved`] writes such entries once the operation
    /// succeeded (else the next [`Blinds::subject_vrf`] does).
    pub(crate) fn subject_vrf_unstored(&self, ks: &Keystore, id: &SubjectId) -> Result<Arc<SubjectVrf>> {
        self.lookup(ks, id, false)
    }

    /// Writes every entry proved by [`Blinds::subject_vrf_unstored`] and not yet stored, in
    /// one batch.
    pub(crate) fn store_proved(&self, ks: &Keystore) -> Result<()> {
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut b = credseal_store::Batch::new();
        let mut any = false;
        for (lookup, (v, _)) in cache.iter().filter(|(_, (_, stored))| !stored) {
            b.put(
                Tree::Meta,
                layout::vrf_entry_key(lookup),
                v.to_stored(&ks.index_key, lookup),
            );
            any = true;
        }
        if any {
            self.store.apply(b)?;
            for (_, stored) in cache.values_mut() {
                *stored = true;
            }
        }
        Ok(())
    }

    fn lookup(&self, ks: &Keystore, id: &SubjectId, store: bool) -> Result<Arc<SubjectVrf>> {
        let lookup = ks.index_key.subject_lookup(id);
        let key = layout::vrf_entry_key(&lookup);
        if let Some((v, stored)) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&lookup)
            && (*stored || !store)
        {
            return Ok(Arc::clone(v));
        }
        let mut stored = true;
        let v = match self.store.get(Tree::Meta, &key)? {
            Some(bytes) => {
                SubjectVrf::from_stored(&bytes, &ks.index_key, &lookup).ok_or_else(|| EngineError::Corrupt {
                    what: format!(
                        "the stored VRF blind id under lookup key {}",
                        &credseal_core::hex(&lookup)[..16]
                    ),
                    detail: "its tag does not verify: the entry was altered or copied from another subject".into(),
                })?
            }
            None => {
                let v = match self
                    .cache
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get(&lookup)
                {
                    Some((v, _)) => (**v).clone(),
                    None => ks
                        .vrf_key
                        .prove_subject(id)
                        .map_err(|e| EngineError::Internal(format!("VRF: {e}")))?,
                };
                // A cache of a deterministic value: a lost write is proved again, a
                // concurrent writer wrote the same bytes.
                if store {
                    self.store
                        .insert_new(Tree::Meta, &key, &v.to_stored(&ks.index_key, &lookup))?;
                }
                stored = store;
                v
            }
        };
        let v = Arc::new(v);
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(lookup, (Arc::clone(&v), stored));
        Ok(v)
    }
}
