//! The reader: the read side of the receipt log. The log's size and latest checkpoint, a
//! subject's receipts and bundle (also on the subject's signed request), the auditor's full
//! verification of the log and its saved positions ([`AuditSnapshot`]). It writes nothing.
//!
//! Imports: the shared modules (`logtree`: the stored hashes and map nodes), the `appender`
//! (the live subject map and view lock that a bundle reads under, so that no commit falls in
//! between),
//! the `vault` (the keystore snapshot, the log key history) and the `gate` (a subject's
//! registered key and the query policy, for bundle requests).

use std::collections::HashMap;

use credseal_c2sp::{Hash, stored_hash_count, stored_hashes_for_record_hash, tree_hash};
use credseal_core::{BlindId, SubjectId};
use credseal_log::{Bundle, MapCheckpoint as _, MapValue, build_bundle, map_key};
use credseal_store::{Store, Tree};

use crate::components::appender::{self, Appender, CachedMap};
use crate::components::gate::Gate;
use crate::components::vault::Vault;
use crate::error::{EngineError, QueryError, Result};
use crate::logtree::{Hashes, be, map_error};

/// What `log verify` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LogReport {
    /// Where this run started (0, or the size of the saved audit position it continued from).
    pub from: u64,
    /// Leaves checked in this run (every receipt signature verified).
    pub receipts: u64,
    /// Checkpoints checked in this run (each signature, tree root and map root recomputed).
    pub checkpoints: u64,
    /// The log size.
    pub size: u64,
    /// Subjects in the subject map at that size.
    pub subjects: u64,
}

/// An auditor's position: the log size it verified, the tree root and subject-map
/// root there, and the map itself, so that `log verify --from N` continues without replaying
/// the first `N` receipts. Kept by the auditor; see docs/formats.md §10 for the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSnapshot {
    /// The log's origin.
    pub origin: String,
    /// The verified size.
    pub size: u64,
    /// The tree root at that size.
    pub root: Hash,
    /// The subject map's root at that size.
    pub map_root: Hash,
    /// Every subject's map entry at that size, in key order.
    pub map: Vec<(Hash, MapValue)>,
}

/// Magic of the audit position file.
const AUDIT_MAGIC: &[u8; 8] = b"CSAUDIT1";

#[derive(serde::Serialize, serde::Deserialize)]
struct AuditRepr {
    origin: String,
    size: u64,
    root: Hash,
    map_root: Hash,
    map: Vec<(Hash, MapValue)>,
}

impl AuditSnapshot {
    /// `"CSAUDIT1" ‖ postcard{origin, size, root, map_root, map} ‖ SHA-256(all before)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = AUDIT_MAGIC.to_vec();
        out.extend(
            postcard::to_stdvec(&AuditRepr {
                origin: self.origin.clone(),
                size: self.size,
                root: self.root,
                map_root: self.map_root,
                map: self.map.clone(),
            })
            // Cannot fail: postcard encoding of plain data into a Vec has no failure case.
            .expect("postcard into a Vec cannot fail"),
        );
        let sum = ring::digest::digest(&ring::digest::SHA256, &out);
        out.extend_from_slice(sum.as_ref());
        out
    }

    /// Reads [`AuditSnapshot::to_bytes`]; the checksum, magic and encoding must be exact,
    /// and the map's keys strictly increasing. (The map is checked against `map_root` when
    /// it is used.)
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = |detail: &str| EngineError::Corrupt {
            what: "audit position file".into(),
            detail: detail.into(),
        };
        if b.len() < AUDIT_MAGIC.len() + 32 || &b[..8] != AUDIT_MAGIC {
            return Err(bad("not an audit position file"));
        }
        let (content, sum) = b.split_at(b.len() - 32);
        if ring::digest::digest(&ring::digest::SHA256, content).as_ref() != sum {
            return Err(bad("checksum mismatch"));
        }
        let r: AuditRepr = postcard::from_bytes(&content[8..]).map_err(|_| bad("malformed"))?;
        if r.map.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(bad("map keys not in order"));
        }
        let s = Self {
            origin: r.origin,
            size: r.size,
            root: r.root,
            map_root: r.map_root,
            map: r.map,
        };
        if s.to_bytes() != b {
            return Err(bad("non-canonical encoding"));
        }
        Ok(s)
    }
}

/// The read side of the receipt log over the parts it reads, borrowed from their owner.
/// Copying it copies references only.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    /// The store holding the log.
    pub(crate) store: &'a dyn Store,
    /// The log origin.
    pub(crate) origin: &'a str,
    /// The keystore snapshot and the log key history.
    pub(crate) vault: &'a Vault,
    /// Subjects' registered keys and the query policy (bundle requests).
    pub(crate) gate: &'a Gate,
    /// The live subject map and the view lock (reads at one instant).
    pub(crate) appender: &'a Appender,
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Reader<'_> {
    /// The number of receipts in the log.
    pub(crate) fn log_size(&self) -> Result<u64> {
        self.appender.log_size()
    }

    /// The latest signed checkpoint, if the log has any receipt.
    pub(crate) fn latest_checkpoint(&self) -> Result<Option<String>> {
        self.appender.latest_checkpoint()
    }

    /// The subject's receipts (signed bytes), in chain order.
    pub(crate) fn subject_receipts(&self, blind: &BlindId) -> Result<Vec<Vec<u8>>> {
        let mut prefix = vec![appender::SUBJ_CHAIN];
        prefix.extend_from_slice(blind.as_bytes());
        let mut out = Vec::new();
        for kv in self.store.scan_prefix(Tree::SubjectReceipts, &prefix) {
            let (_, v) = kv?;
            let idx: [u8; 8] = v.as_slice().try_into().map_err(|_| EngineError::Corrupt {
                what: "subject receipt index".into(),
                detail: "not 8 bytes".into(),
            })?;
            let leaf = self
                .store
                .get(Tree::LogLeaves, &idx)?
                .ok_or_else(|| EngineError::Corrupt {
                    what: format!("log leaf {}", u64::from_be_bytes(idx)),
                    detail: "missing".into(),
                })?;
            out.push(leaf);
        }
        Ok(out)
    }

    /// A subject's receipt bundle at the latest checkpoint, with a consistency proof from
    /// `from_size` (the tree size the subject saw last) and the VRF proof of its BlindId.
    pub(crate) fn export_bundle(&self, subject: &SubjectId, from_size: Option<u64>, now: u64) -> Result<Bundle> {
        let vrf = self.vault.subject_vrf(&self.vault.keys(), subject)?;
        let blind = vrf.blind();
        // The checkpoint, the receipts and the map read under one view: no commit in between.
        // (Lock order: the map, then the view.)
        let (cache, _view) = self.appender.read_view(self.vault)?;
        let Some(note) = self.latest_checkpoint()? else {
            return Err(EngineError::NotFound("the log is empty".into()));
        };
        let receipts = self.subject_receipts(blind)?;
        let overlay = HashMap::new();
        let reader = Hashes {
            store: self.store,
            overlay: &overlay,
        };
        let map = CachedMap::new(self.store, &cache);
        build_bundle(
            &reader,
            &map,
            blind,
            &receipts,
            &note,
            from_size.filter(|&s| s > 0),
            now,
        )
        .map(|b| {
            b.with_handovers(self.vault.keys().log_history.clone())
                .with_vrf_proof(vrf.proof())
        })
        .map_err(|e| EngineError::Internal(format!("building the bundle: {e}")))
    }

    /// Answers a subject's signed bundle request: its receipts at the latest checkpoint with
    /// a consistency proof from the tree size the subject saw last. Refused (a denial)
    /// unless the request is signed by the subject's registered key, for this platform, and
    /// within its validity window.
    pub(crate) fn export_for_request(&self, request: &str, now: u64) -> std::result::Result<Bundle, QueryError> {
        use credseal_auth::{BundleRequest, Denial, Unverified};
        let u = Unverified::<BundleRequest>::parse_text(request.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        let body = u.peek_unverified().map_err(|e| QueryError::Denied(e.into()))?;
        let subject = credseal_core::SubjectId::parse(&body.subject)
            .map_err(|_| QueryError::Denied(Denial::SubjectKeyInvalid))?;
        let ks = self.vault.keys();
        let key = self
            .gate
            .subject_key(&ks, &subject)?
            .and_then(|k| credseal_auth::PublicKey::from_bytes(&k).ok())
            .ok_or(QueryError::Denied(Denial::SubjectKeyInvalid))?;
        let v = u
            .verify(&key)
            .map_err(|_| QueryError::Denied(Denial::SubjectKeyInvalid))?;
        let b = v.body();
        if b.audience != self.origin {
            return Err(QueryError::Denied(Denial::WrongAudience {
                object: credseal_auth::Kind::BundleRequest,
            }));
        }
        let policy = self.gate.policy();
        let skew = policy.max_skew_secs;
        if b.issued_at > now.saturating_add(skew) {
            return Err(QueryError::Denied(Denial::TokenNotYetValid));
        }
        if now > b.expires_at {
            return Err(QueryError::Denied(Denial::TokenExpired));
        }
        if b.expires_at.saturating_sub(b.issued_at) > policy.max_token_lifetime_secs {
            return Err(QueryError::Denied(Denial::LifetimeOverPolicy));
        }
        drop(ks);
        Ok(self.export_bundle(&subject, Some(b.last_tree_size), now)?)
    }

    /// An auditor's replay of the whole log: every receipt's signature and chain position,
    /// every stored hash recomputed from the leaves, the subject map recomputed from the
    /// receipts, and every checkpoint's signature, tree root and map root.
    pub(crate) fn verify_log(&self) -> Result<LogReport> {
        Ok(self.verify_log_from(None)?.0)
    }

    /// [`Reader::verify_log`], continuing from an auditor's saved position (`None`: from
    /// the start). The log's tree at the saved size must have the saved root (else the log
    /// was rewritten or forked); the saved map must hash to the saved map root; then every
    /// receipt from there on is checked as in a full replay. Returns the report and the new
    /// position to save.
    pub(crate) fn verify_log_from(&self, from: Option<&AuditSnapshot>) -> Result<(LogReport, AuditSnapshot)> {
        // Each receipt and checkpoint with the key of its range (the log key history).
        let verifier = self.vault.log_key_history(self.origin)?;
        let size = self.log_size()?;
        let bad = |what: String, detail: String| EngineError::Corrupt { what, detail };
        let no_overlay = HashMap::new();
        let mut map = credseal_log::MemoryMap::new();
        let start = match from {
            None => 0,
            Some(s) => {
                if s.origin != self.origin {
                    return Err(bad("audit position".into(), "is for another log".into()));
                }
                map.update(s.map.clone());
                if map.root() != s.map_root {
                    return Err(bad(
                        "audit position".into(),
                        "its subject map does not hash to its map root (the file is corrupt)".into(),
                    ));
                }
                if s.size > size {
                    return Err(bad(
                        format!("log size {size}"),
                        format!("smaller than the {} verified before (the log shrank)", s.size),
                    ));
                }
                let reader = Hashes {
                    store: self.store,
                    overlay: &no_overlay,
                };
                let root =
                    tree_hash(s.size, &reader).map_err(|e| bad(format!("log at size {}", s.size), e.to_string()))?;
                if root != s.root {
                    return Err(bad(
                        format!("log at size {}", s.size),
                        "is not the tree verified before (a fork or rewrite)".into(),
                    ));
                }
                s.size
            }
        };
        // The checkpoints to check: those after the start, and the one at the start itself.
        let mut checkpoints = std::collections::BTreeMap::new();
        for kv in self.store.scan_prefix(Tree::Checkpoints, &[]) {
            let (k, v) = kv?;
            let at = u64::from_be_bytes(
                k.as_slice()
                    .try_into()
                    .map_err(|_| bad("checkpoint key".into(), "not 8 bytes".into()))?,
            );
            if at >= start {
                checkpoints.insert(at, v);
            }
        }
        let mut overlay: HashMap<u64, Hash> = HashMap::new();
        let mut cps = 0u64;
        let mut check_checkpoint = |at: u64, overlay: &HashMap<u64, Hash>, map_root: Hash| -> Result<()> {
            let Some(v) = checkpoints.remove(&at) else {
                return Ok(());
            };
            let text = String::from_utf8(v).map_err(|_| bad(format!("checkpoint {at}"), "not UTF-8".into()))?;
            let cp = verifier
                .verify_checkpoint(&text)
                .map_err(|e| bad(format!("checkpoint {at}"), e.to_string()))?;
            if cp.size() != at {
                return Err(bad(
                    format!("checkpoint {at}"),
                    format!("names tree size {}", cp.size()),
                ));
            }
            let reader = Hashes {
                store: self.store,
                overlay,
            };
            let root = tree_hash(at, &reader).map_err(|e| bad(format!("checkpoint {at}"), e.to_string()))?;
            if *cp.root() != root {
                return Err(bad(
                    format!("checkpoint {at}"),
                    "root does not match the log (a fork or rewrite)".into(),
                ));
            }
            match cp.map_root() {
                Ok(Some(m)) if m == map_root => {}
                Ok(Some(_)) => {
                    return Err(bad(
                        format!("checkpoint {at}"),
                        "its subject-map root disagrees with the map recomputed from the log's receipts".into(),
                    ));
                }
                Ok(None) => return Err(bad(format!("checkpoint {at}"), "commits to no subject map".into())),
                Err(e) => return Err(bad(format!("checkpoint {at}"), e.to_string())),
            }
            cps += 1;
            Ok(())
        };
        if start > 0 {
            check_checkpoint(start, &overlay, map.root())?;
        }
        let mut n = start;
        let after = start.checked_sub(1).map(be);
        for kv in self
            .store
            .scan_prefix_after(Tree::LogLeaves, &[], after.as_ref().map(|a| &a[..]))
        {
            let (k, v) = kv?;
            let idx = u64::from_be_bytes(
                k.as_slice()
                    .try_into()
                    .map_err(|_| bad("log leaf key".into(), "not 8 bytes".into()))?,
            );
            if idx != n {
                return Err(bad(format!("log leaf {n}"), format!("missing (next stored is {idx})")));
            }
            let r = verifier
                .verify_receipt(&v)
                .map_err(|e| bad(format!("receipt {idx}"), e.to_string()))?;
            let body = r.body();
            if body.index != idx {
                return Err(bad(
                    format!("receipt {idx}"),
                    format!("says it is receipt {}", body.index),
                ));
            }
            let leaf = r.leaf_hash();
            // The subject's chain: the next counter, linked to the previous head.
            if let (Some(subject), Some(chain)) = (&body.subject, body.chain) {
                let key = map_key(subject);
                let prev = map.get(&key);
                let (want_counter, want_prev) = prev.map_or((1, None), |p| (p.count + 1, Some(p.head)));
                if chain.counter != want_counter || chain.prev != want_prev {
                    return Err(bad(
                        format!("receipt {idx}"),
                        format!(
                            "breaks its subject's chain (counter {}, expected {want_counter})",
                            chain.counter
                        ),
                    ));
                }
                map.update(vec![(
                    key,
                    MapValue {
                        count: chain.counter,
                        head: leaf,
                        index: idx,
                    },
                )]);
            }
            let reader = Hashes {
                store: self.store,
                overlay: &overlay,
            };
            let hashes = stored_hashes_for_record_hash(idx, leaf, &reader)
                .map_err(|e| bad(format!("receipt {idx}"), e.to_string()))?;
            let base = stored_hash_count(idx);
            if self.store.get(Tree::LogHashes, &be(idx))?.as_deref() != Some(hashes.as_flattened()) {
                return Err(bad(
                    format!("log hashes of receipt {idx}"),
                    "do not match the leaves".into(),
                ));
            }
            for (i, h) in hashes.into_iter().enumerate() {
                overlay.insert(base + i as u64, h);
            }
            n += 1;
            check_checkpoint(n, &overlay, map.root())?;
        }
        if n != size {
            return Err(bad("log size".into(), format!("says {size}, {n} receipts stored")));
        }
        if let Some((&at, _)) = checkpoints.iter().next() {
            return Err(bad(
                format!("checkpoint {at}"),
                format!("beyond the log's {n} receipts"),
            ));
        }
        let stored_map = {
            let cache = self.appender.map_cache(self.vault)?;
            credseal_log::map_root(&CachedMap::new(self.store, &cache)).map_err(map_error)?
        };
        if stored_map != map.root() {
            return Err(bad(
                "subject map".into(),
                "the stored map disagrees with the map recomputed from the log's receipts".into(),
            ));
        }
        let reader = Hashes {
            store: self.store,
            overlay: &overlay,
        };
        let root = tree_hash(n, &reader).map_err(|e| bad("log root".into(), e.to_string()))?;
        let leaves = map.leaves();
        Ok((
            LogReport {
                from: start,
                receipts: n - start,
                checkpoints: cps,
                size,
                subjects: leaves.len() as u64,
            },
            AuditSnapshot {
                origin: self.origin.to_string(),
                size: n,
                root,
                map_root: map.root(),
                map: leaves,
            },
        ))
    }
}
