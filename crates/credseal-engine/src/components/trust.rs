//! The trust state: what the store holds that decides who may do what — the authority key,
//! the installed revocation list, the subjects' registered keys, the staff enrolments, the
//! canary set, the keystore generation, the query policy, and the committed replay and
//! consent-use entries — reduced to one digest that every checkpoint commits to in its
//! `credseal-trust` extension line (docs/formats.md, "Trust state").
//!
//! One job: keep that digest honest. A commit of the receipt log calls
//! [`TrustLedger::stage`] with its batch: the components the batch writes are recomputed
//! (the others are taken from the state committed before), the new state's record is added
//! to the batch and its digest goes into the checkpoint — so a change of trust state and the
//! checkpoint that commits to it are written in one atomic, durable step, and no crash can
//! leave one without the other. At open, [`check_at_open`] compares the live state with the
//! record and the record with the latest checkpoint (verified with the log key): a deleted,
//! edited or rolled-back value fails closed, naming the component.
//!
//! **The hook for every change of trust state** is therefore not a call but a rule: write
//! the change in the `extra` batch of a receipt commit (`Appender::append_with`, which the
//! facade's `append_receipts_with` and the components' helpers call), never with a bare
//! `Store::apply` (the appender refuses an `append_with` of trust writes without a
//! receipt). Nothing else is needed: the commit finds the change itself. Keys are recognised by
//! [`component_of`]: staff enrolments are every `Meta` entry under the `staff:` prefix
//! (whatever their value), so a new kind of enrolment or removal flows in without a change
//! here. The one exception is a store whose log is still empty ([`apply_direct`]).
//!
//! Replay entries: a query's replay entry (query id, consent use), and the replay entry of
//! an officer's approval or an authority's staff order, is first reserved by
//! `Store::insert_new` with its plain value, then written again in the receipt's commit in
//! its *committed* form (the value followed by the byte `0x01`). Only committed entries
//! count in the digest — a keyed XOR of one HMAC per entry, maintained incrementally at
//! commit (about one microsecond per query) — so a reservation whose query never committed
//! (a crash) cannot make the store fail closed, and deleting a committed entry cannot
//! re-enable a token or a consent unnoticed.
//!
//! The values queries read for their decisions (authority key, revocation list, canary set)
//! are also pinned (`crate::pins`): each read compares the stored value with what the last
//! commit or the open-time check committed, so a change under a running process fails
//! closed at the next decision.
//!
//! Imports: the shared modules (`error`, `layout`, `pins`), the canary constants, and the
//! gate's storage keys.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use credseal_auth::{Policy, RevocationList, Unverified};
use credseal_c2sp::{Checkpoint, Hash};
use credseal_crypto::{Keystore, sha256};
use credseal_log::TrustCheckpoint as _;
use credseal_store::{Batch, Store, Tree};
use ring::hmac;

use crate::canary::META_CANARIES;
use crate::components::gate::{
    META_AUTHORITY, META_RETENTION_POLICY, META_STAFF, META_SUBJECT_KEY, REPLAY_COMMITTED, REPLAY_CONSENT,
    REPLAY_QUERY, REPLAY_STAFF, REVOCATIONS_CURRENT, meta_mac,
};
use crate::error::{EngineError, Result};
use crate::layout::META_KEYSTORE_GENERATION;
use crate::pins::{Pinned, TrustPins};

/// Meta key of the trust-state record: the component hashes the latest commit wrote, under
/// an HMAC of the index key.
pub(crate) const META_TRUST: &[u8] = b"trust-state";
/// Meta key of the committed query policy (24 bytes, then its HMAC as every authenticated
/// Meta value).
pub(crate) const META_POLICY: &[u8] = b"policy";
/// Domain-separation label of the component hashes and the digest.
const TRUST_LABEL: &[u8] = b"credseal:v1:trust";
/// HMAC label of the trust-state record.
const RECORD_LABEL: &[u8] = b"credseal:v1:trust-record";
/// HMAC label of one committed replay entry's share of the replay component.
const REPLAY_LABEL: &[u8] = b"credseal:v1:replay";
/// Format byte of the trust-state record.
const RECORD_FORMAT: u8 = 1;

/// One part of the trust state; a mismatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TrustComponent {
    /// The trusted authority key.
    Authority,
    /// The installed revocation list (its version and the hash of its bytes).
    Revocations,
    /// The subjects' registered signing keys.
    SubjectKeys,
    /// The enrolled staff (officers, responders) and their keys.
    Staff,
    /// The canary set.
    Canaries,
    /// The highest keystore generation the store has seen.
    KeystoreGeneration,
    /// The query policy.
    Policy,
    /// The committed replay entries (query ids, staff request and order ids) and consent uses.
    Replay,
}

impl TrustComponent {
    /// Every component, in digest order.
    pub(crate) const ALL: [Self; 8] = [
        Self::Authority,
        Self::Revocations,
        Self::SubjectKeys,
        Self::Staff,
        Self::Canaries,
        Self::KeystoreGeneration,
        Self::Policy,
        Self::Replay,
    ];

    /// The component's name in messages and in its hash (docs/formats.md).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Authority => "authority key",
            Self::Revocations => "revocation list",
            Self::SubjectKeys => "subject keys",
            Self::Staff => "staff enrolments",
            Self::Canaries => "canary set",
            Self::KeystoreGeneration => "keystore generation",
            Self::Policy => "policy",
            Self::Replay => "replay and consent-use entries",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The component a stored entry belongs to, if it is part of the trust state.
pub(crate) fn component_of(tree: Tree, key: &[u8]) -> Option<TrustComponent> {
    match tree {
        Tree::Meta if key == META_AUTHORITY => Some(TrustComponent::Authority),
        Tree::Meta if key.starts_with(META_SUBJECT_KEY) => Some(TrustComponent::SubjectKeys),
        Tree::Meta if key.starts_with(META_STAFF) => Some(TrustComponent::Staff),
        Tree::Meta if key == META_CANARIES => Some(TrustComponent::Canaries),
        Tree::Meta if key == META_KEYSTORE_GENERATION => Some(TrustComponent::KeystoreGeneration),
        Tree::Meta if key == META_POLICY => Some(TrustComponent::Policy),
        Tree::Revocations => Some(TrustComponent::Revocations),
        Tree::Replay if matches!(key.first(), Some(&REPLAY_QUERY | &REPLAY_CONSENT | &REPLAY_STAFF)) => {
            Some(TrustComponent::Replay)
        }
        _ => None,
    }
}

/// Whether a replay entry's value is in its committed form.
fn replay_committed(key: &[u8], value: &[u8]) -> bool {
    match key.first() {
        Some(&REPLAY_QUERY | &REPLAY_STAFF) => value.len() == 9 && value[8] == REPLAY_COMMITTED,
        Some(&REPLAY_CONSENT) => value == [REPLAY_COMMITTED],
        _ => false,
    }
}

/// A committed replay entry's share of the replay component.
fn replay_share(ks: &Keystore, key: &[u8], value: &[u8]) -> Hash {
    let k = hmac::Key::new(hmac::HMAC_SHA256, ks.index_key.expose_secret());
    let mut c = hmac::Context::with_key(&k);
    c.update(REPLAY_LABEL);
    c.update(&(key.len() as u32).to_be_bytes());
    c.update(key);
    c.update(value);
    // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
    c.sign().as_ref().try_into().expect("32 bytes")
}

fn xor(acc: &mut Hash, h: &Hash) {
    for (a, b) in acc.iter_mut().zip(h) {
        *a ^= b;
    }
}

/// The trust state as its component hashes (docs/formats.md, "Trust state").
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct TrustState {
    hashes: [Hash; 8],
}

impl std::fmt::Debug for TrustState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustState({})", credseal_core::hex(&self.digest()[..8]))
    }
}

impl TrustState {
    /// SHA-256(label ‖ 0x01 ‖ the eight component hashes in order): what checkpoints commit to.
    pub(crate) fn digest(&self) -> Hash {
        let mut c = ring::digest::Context::new(&ring::digest::SHA256);
        c.update(TRUST_LABEL);
        c.update(&[1]);
        for h in &self.hashes {
            c.update(h);
        }
        // Cannot fail: SHA-256 digests are always 32 bytes.
        c.finish().as_ref().try_into().expect("32 bytes")
    }

    /// The first component in which `self` differs from `other`.
    fn first_difference(&self, other: &Self) -> Option<TrustComponent> {
        TrustComponent::ALL
            .into_iter()
            .find(|c| self.hashes[c.index()] != other.hashes[c.index()])
    }

    fn record(&self, ks: &Keystore) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + 8 * 32 + 32);
        v.push(RECORD_FORMAT);
        for h in &self.hashes {
            v.extend_from_slice(h);
        }
        let mac = meta_mac(ks, RECORD_LABEL, &v);
        v.extend_from_slice(&mac);
        v
    }

    fn from_record(ks: &Keystore, v: &[u8]) -> Result<Self> {
        let bad = || EngineError::Corrupt {
            what: "trust state".into(),
            detail: "the trust-state record was edited in the store (its HMAC does not verify)".into(),
        };
        if v.len() != 1 + 8 * 32 + 32 || v[0] != RECORD_FORMAT {
            return Err(bad());
        }
        let (body, mac) = v.split_at(v.len() - 32);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            mac,
            &meta_mac(ks, RECORD_LABEL, body)[..],
        )) {
            return Err(bad());
        }
        let mut hashes = [[0u8; 32]; 8];
        for (i, h) in hashes.iter_mut().enumerate() {
            h.copy_from_slice(&body[1 + 32 * i..1 + 32 * (i + 1)]);
        }
        Ok(Self { hashes })
    }
}

/// The store as a pending batch would leave it, for the trust entries only.
struct View<'a> {
    store: &'a dyn Store,
    over: BTreeMap<(u8, Vec<u8>), Option<Vec<u8>>>,
}

impl<'a> View<'a> {
    fn of(store: &'a dyn Store, batch: Option<&Batch>) -> Self {
        let mut over = BTreeMap::new();
        for (tree, key, value) in batch.into_iter().flat_map(Batch::writes) {
            if component_of(tree, key).is_some() {
                over.insert((tree.tag(), key.to_vec()), value.map(<[u8]>::to_vec));
            }
        }
        Self { store, over }
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.over.get(&(tree.tag(), key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.store.get(tree, key)?),
        }
    }

    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
        let mut out = BTreeMap::new();
        for kv in self.store.scan_prefix(tree, prefix) {
            let (k, v) = kv?;
            out.insert(k, v);
        }
        for ((t, k), v) in &self.over {
            if *t == tree.tag() && k.starts_with(prefix) {
                match v {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
        }
        Ok(out)
    }
}

/// SHA-256(label ‖ 0x00 ‖ component label ‖ 0x00 ‖ each entry as u32 len ‖ key ‖ u32 len ‖ value).
fn hash_entries<'e>(c: TrustComponent, entries: impl IntoIterator<Item = (&'e [u8], &'e [u8])>) -> Hash {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    h.update(TRUST_LABEL);
    h.update(&[0]);
    h.update(c.label().as_bytes());
    h.update(&[0]);
    for (k, v) in entries {
        h.update(&(k.len() as u32).to_be_bytes());
        h.update(k);
        h.update(&(v.len() as u32).to_be_bytes());
        h.update(v);
    }
    // Cannot fail: SHA-256 digests are always 32 bytes.
    h.finish().as_ref().try_into().expect("32 bytes")
}

/// One component's hash, read through `view` (the replay component: the XOR of every
/// committed entry's share).
fn compute(view: &View<'_>, ks: &Keystore, c: TrustComponent) -> Result<Hash> {
    let single = |tree: Tree, key: &[u8]| -> Result<Hash> {
        let v = view.get(tree, key)?;
        Ok(hash_entries(c, v.as_deref().map(|v| (key, v))))
    };
    let prefixed = |prefix: &[u8]| -> Result<Hash> {
        let all = view.scan(Tree::Meta, prefix)?;
        Ok(hash_entries(c, all.iter().map(|(k, v)| (k.as_slice(), v.as_slice()))))
    };
    match c {
        TrustComponent::Authority => single(Tree::Meta, META_AUTHORITY),
        TrustComponent::SubjectKeys => prefixed(META_SUBJECT_KEY),
        TrustComponent::Staff => prefixed(META_STAFF),
        TrustComponent::Canaries => single(Tree::Meta, META_CANARIES),
        TrustComponent::KeystoreGeneration => single(Tree::Meta, META_KEYSTORE_GENERATION),
        TrustComponent::Policy => single(Tree::Meta, META_POLICY),
        TrustComponent::Revocations => {
            let v = view.get(Tree::Revocations, REVOCATIONS_CURRENT)?;
            let summary = v.map(|bytes| {
                // The version as signed (0 if the bytes do not parse: the hash still differs).
                let version = Unverified::<RevocationList>::parse_bytes(&bytes)
                    .ok()
                    .and_then(|u| u.peek_unverified().ok().map(|b| b.version))
                    .unwrap_or(0);
                let mut s = version.to_be_bytes().to_vec();
                s.extend_from_slice(&sha256(&bytes));
                s
            });
            Ok(hash_entries(c, summary.as_deref().map(|s| (REVOCATIONS_CURRENT, s))))
        }
        TrustComponent::Replay => {
            let mut acc = [0u8; 32];
            for prefix in [REPLAY_QUERY, REPLAY_CONSENT, REPLAY_STAFF] {
                for (k, v) in view.scan(Tree::Replay, &[prefix])? {
                    if replay_committed(&k, &v) {
                        xor(&mut acc, &replay_share(ks, &k, &v));
                    }
                }
            }
            Ok(acc)
        }
    }
}

/// The whole trust state, read through `view`.
fn live(view: &View<'_>, ks: &Keystore) -> Result<TrustState> {
    let mut hashes = [[0u8; 32]; 8];
    for c in TrustComponent::ALL {
        hashes[c.index()] = compute(view, ks, c)?;
    }
    Ok(TrustState { hashes })
}

/// The trust state a commit is about to write, and its digest for the checkpoint.
pub(crate) struct Staged {
    state: TrustState,
    /// The new record, when the commit writes one.
    record: Option<Vec<u8>>,
    /// The pinned values the commit writes.
    pinned: Vec<(Pinned, Option<Hash>)>,
    /// The digest the checkpoint commits to.
    pub(crate) digest: Hash,
}

/// The appender's view of the committed trust state: the store's record, read at every
/// commit (one read; its HMAC is checked only when the bytes change), so that whatever
/// wrote the store last — this process or another opened on the same store — is the base.
pub(crate) struct TrustLedger {
    /// The last record read or written, and the state it holds.
    current: Mutex<Option<(Vec<u8>, TrustState)>>,
    /// The values queries check at each decision (shared with the gate).
    pins: Arc<TrustPins>,
}

/// The pinned value a stored entry is, if any, and its pin digest (`None`: deleted).
fn pin_of(tree: Tree, key: &[u8], value: Option<&[u8]>) -> Option<(Pinned, Option<Hash>)> {
    let which = match (tree, key) {
        (Tree::Meta, k) if k == META_AUTHORITY => Pinned::Authority,
        (Tree::Revocations, k) if k == REVOCATIONS_CURRENT => Pinned::Revocations,
        (Tree::Meta, k) if k == META_CANARIES => Pinned::Canaries,
        (Tree::Meta, k) if k == META_RETENTION_POLICY => Pinned::RetentionPolicy,
        _ => return None,
    };
    let digest = value.map(|v| match which {
        // The authority key and the retention policy are pinned as their values, without
        // the HMAC stored after them.
        Pinned::Authority | Pinned::RetentionPolicy => sha256(&v[..v.len().saturating_sub(32)]),
        _ => sha256(v),
    });
    Some((which, digest))
}

/// Pins the values the store holds now (at open, after the trust state was checked).
pub(crate) fn pin_from_store(store: &dyn Store, pins: &TrustPins) -> Result<()> {
    for (tree, key) in [
        (Tree::Meta, META_AUTHORITY),
        (Tree::Revocations, REVOCATIONS_CURRENT),
        (Tree::Meta, META_CANARIES),
        (Tree::Meta, META_RETENTION_POLICY),
    ] {
        let v = store.get(tree, key)?;
        if let Some((which, digest)) = pin_of(tree, key, v.as_deref()) {
            pins.set(which, digest);
        }
    }
    Ok(())
}

impl TrustLedger {
    /// A ledger that keeps `pins` up to date with its commits.
    pub(crate) fn new(pins: Arc<TrustPins>) -> Self {
        Self {
            current: Default::default(),
            pins,
        }
    }

    /// The committed state: the store's record (its HMAC checked), else — a store that has
    /// none yet — the live state. The second value: whether the store holds a record.
    fn base(&self, store: &dyn Store, ks: &Keystore) -> Result<(TrustState, bool)> {
        let Some(v) = store.get(Tree::Meta, META_TRUST)? else {
            return Ok((live(&View::of(store, None), ks)?, false));
        };
        let mut cur = self.current.lock().map_err(|_| EngineError::poisoned("trust state"))?;
        if let Some((bytes, s)) = cur.as_ref()
            && bytes == &v
        {
            return Ok((s.clone(), true));
        }
        let s = TrustState::from_record(ks, &v)?;
        *cur = Some((v, s.clone()));
        Ok((s, true))
    }

    /// For a commit whose writes are `batch`: recomputes the components the batch changes,
    /// adds the new record to the batch when the state changes, and returns the state with
    /// the digest its checkpoint commits to. Replay entries are folded in incrementally: a
    /// put in committed form adds its share (the key was only reserved before), a delete of
    /// a committed entry removes it. Cost without a trust write: one pass over the batch's
    /// keys and an HMAC per committed replay entry.
    pub(crate) fn stage(&self, store: &dyn Store, ks: &Keystore, batch: &mut Batch) -> Result<Staged> {
        let (base, present) = self.base(store, ks)?;
        let mut state = base.clone();
        let mut changed = [false; 8];
        let mut replay = state.hashes[TrustComponent::Replay.index()];
        let mut pinned = Vec::new();
        for (tree, key, value) in batch.writes() {
            let Some(c) = component_of(tree, key) else { continue };
            if let Some(p) = pin_of(tree, key, value) {
                pinned.push(p);
            }
            if c != TrustComponent::Replay {
                changed[c.index()] = true;
                continue;
            }
            match value {
                Some(v) if replay_committed(key, v) => xor(&mut replay, &replay_share(ks, key, v)),
                Some(_) => {}
                None => {
                    if let Some(old) = store.get(tree, key)?
                        && replay_committed(key, &old)
                    {
                        xor(&mut replay, &replay_share(ks, key, &old));
                    }
                }
            }
        }
        state.hashes[TrustComponent::Replay.index()] = replay;
        if changed.iter().any(|c| *c) {
            let view = View::of(store, Some(batch));
            for c in TrustComponent::ALL {
                if changed[c.index()] {
                    state.hashes[c.index()] = compute(&view, ks, c)?;
                }
            }
        }
        let record = (state != base || !present).then(|| state.record(ks));
        if let Some(r) = &record {
            batch.put(Tree::Meta, META_TRUST, r.clone());
        }
        for (which, digest) in &pinned {
            self.pins.expect(*which, *digest);
        }
        Ok(Staged {
            digest: state.digest(),
            state,
            record,
            pinned,
        })
    }

    /// After the commit of `staged` is durable.
    pub(crate) fn installed(&self, staged: Staged) {
        for (which, digest) in staged.pinned {
            self.pins.set(which, digest);
        }
        if let (Some(r), Ok(mut c)) = (staged.record, self.current.lock()) {
            *c = Some((r, staged.state));
        }
    }

    /// After a commit failed (what the store holds is uncertain): the next commit reads the
    /// record again, and the pins wait for the next open's check.
    pub(crate) fn forget(&self) {
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
        self.pins.clear();
    }
}

/// Adds the record of the trust state the store will hold after `batch` to `batch`: for a new
/// store (`init`, a store in memory), before its log has a checkpoint.
pub(crate) fn seal_new_store(store: &dyn Store, ks: &Keystore, batch: &mut Batch) -> Result<()> {
    let state = live(&View::of(store, Some(batch)), ks)?;
    batch.put(Tree::Meta, META_TRUST, state.record(ks));
    Ok(())
}

/// Applies a change of trust state with no receipt, with the record updated in the same
/// batch — only while the log has no checkpoint (a new store's first keystore generation,
/// the adoption of a store's state at its first open). Refused otherwise: a later change
/// must be committed with a receipt so that its checkpoint commits to it.
pub(crate) fn apply_direct(store: &dyn Store, ks: &Keystore, mut batch: Batch) -> Result<()> {
    if store.last_with_prefix(Tree::Checkpoints, &[])?.is_some() {
        return Err(EngineError::Internal(
            "a change of trust state must be committed with a receipt once the log has a checkpoint".into(),
        ));
    }
    seal_new_store(store, ks, &mut batch)?;
    store.apply(batch)?;
    store.flush()?;
    Ok(())
}

/// The canonical encoding of a policy (docs/formats.md): three u64 big-endian values.
pub(crate) fn encode_policy(p: &Policy) -> [u8; 24] {
    let mut v = [0u8; 24];
    v[..8].copy_from_slice(&p.max_skew_secs.to_be_bytes());
    v[8..16].copy_from_slice(&p.max_token_lifetime_secs.to_be_bytes());
    v[16..].copy_from_slice(&p.max_consent_lifetime_secs.to_be_bytes());
    v
}

fn decode_policy(v: &[u8]) -> Option<Policy> {
    if v.len() != 24 {
        return None;
    }
    let n = |i: usize| u64::from_be_bytes(v[i..i + 8].try_into().unwrap_or_default());
    Some(Policy {
        max_skew_secs: n(0),
        max_token_lifetime_secs: n(8),
        max_consent_lifetime_secs: n(16),
    })
}

/// The committed policy (its HMAC checked), or the defaults when none was ever set.
pub(crate) fn committed_policy(store: &dyn Store, ks: &Keystore) -> Result<Policy> {
    let Some(v) = store.get(Tree::Meta, META_POLICY)? else {
        return Ok(Policy::default());
    };
    let bad = || EngineError::Corrupt {
        what: "trust state: policy".into(),
        detail: "the committed policy was edited in the store".into(),
    };
    if v.len() < 32 {
        return Err(bad());
    }
    let (value, mac) = v.split_at(v.len() - 32);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        mac,
        &meta_mac(ks, META_POLICY, value)[..],
    )) {
        return Err(bad());
    }
    decode_policy(value).ok_or_else(bad)
}

/// What opening found.
pub(crate) enum AtOpen {
    /// The live state is the committed one; the policy to apply.
    Verified(Policy),
    /// A store from before trust-state checkpoints (no record, no checkpoint commits to
    /// one): its live state is adopted by committing `batch` (the policy of the
    /// configuration, if it has one) with a receipt, or directly while its log is empty.
    Adopt(Batch),
}

fn mismatch(component: TrustComponent, detail: String) -> EngineError {
    EngineError::Corrupt {
        what: format!("trust state: {}", component.label()),
        detail,
    }
}

/// Checks at open that the live trust state is the one the latest checkpoint commits to.
/// `latest`: the latest checkpoint, its signature verified with the log key of its size;
/// `file_policy`: the `[policy]` table of the configuration file, if it has one.
pub(crate) fn check_at_open(
    store: &dyn Store,
    ks: &Keystore,
    latest: Option<&Checkpoint>,
    file_policy: Option<&Policy>,
) -> Result<AtOpen> {
    let committed = latest
        .map(|cp| {
            cp.trust_digest().map_err(|e| EngineError::Corrupt {
                what: "latest checkpoint".into(),
                detail: e.to_string(),
            })
        })
        .transpose()?
        .flatten();
    let record = store.get(Tree::Meta, META_TRUST)?;
    let Some(record) = record else {
        if committed.is_some() {
            return Err(EngineError::Corrupt {
                what: "trust state".into(),
                detail: "the trust-state record is missing from the store, but the latest checkpoint commits \
                         to one: it was deleted"
                    .into(),
            });
        }
        // A store written before trust-state checkpoints: adopt what it holds, with the
        // configuration's policy (the last time it is read from the file).
        let mut b = Batch::new();
        if let Some(p) = file_policy
            && !store.contains(Tree::Meta, META_POLICY)?
        {
            put_policy(ks, &mut b, p);
        }
        return Ok(AtOpen::Adopt(b));
    };
    let recorded = TrustState::from_record(ks, &record)?;
    match (latest, committed) {
        (Some(cp), Some(d)) if d != recorded.digest() => {
            return Err(EngineError::Corrupt {
                what: "trust state".into(),
                detail: format!(
                    "the stored trust-state record is not the one the latest checkpoint (size {}) commits to: \
                     rolled back or replaced in the store",
                    cp.size()
                ),
            });
        }
        (Some(cp), None) => {
            return Err(EngineError::Corrupt {
                what: "trust state".into(),
                detail: format!(
                    "the latest checkpoint (size {}) commits to no trust state, though the store keeps one",
                    cp.size()
                ),
            });
        }
        _ => {}
    }
    let now = live(&View::of(store, None), ks)?;
    if let Some(c) = now.first_difference(&recorded) {
        let what = match c {
            TrustComponent::SubjectKeys => {
                "a subject key (registered, replaced or removed outside the log)".to_string()
            }
            TrustComponent::Staff => {
                "a staff enrolment, provider credential or the retention policy (added, replaced or removed outside \
                 the log)"
                    .to_string()
            }
            other => format!("the {}", other.label()),
        };
        return Err(mismatch(
            c,
            format!(
                "{what} in the store differs from the one the latest checkpoint commits to: deleted, edited or \
                 rolled back in the store"
            ),
        ));
    }
    let policy = committed_policy(store, ks)?;
    if let Some(fp) = file_policy
        && fp != &policy
    {
        return Err(mismatch(
            TrustComponent::Policy,
            "the [policy] table of credseal.toml differs from the committed policy (edited by hand?): the \
             policy changes only with `credseal officer set-policy`, which leaves a receipt; remove the table or \
             restore the committed values"
                .into(),
        ));
    }
    Ok(AtOpen::Verified(policy))
}

/// Adds "set the committed policy to `p`" to `batch` (value and its HMAC).
pub(crate) fn put_policy(ks: &Keystore, batch: &mut Batch, p: &Policy) {
    let value = encode_policy(p);
    let mut v = value.to_vec();
    v.extend_from_slice(&meta_mac(ks, META_POLICY, &value));
    batch.put(Tree::Meta, META_POLICY, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::gate::committed_replay_value;
    use credseal_store::MemoryStore;

    fn ks() -> Keystore {
        let kdf = credseal_crypto::KdfParams {
            m_kib: 1024,
            t: 1,
            p: 1,
        };
        Keystore::generate("t.invalid/log", &["identity"], [0; 32], 1, kdf)
    }

    #[test]
    fn every_component_is_named_and_hashed_apart() {
        let store = MemoryStore::new();
        let ks = ks();
        let a = live(&View::of(&store, None), &ks).unwrap();
        for (c, key) in [
            (TrustComponent::Authority, META_AUTHORITY.to_vec()),
            (TrustComponent::KeystoreGeneration, META_KEYSTORE_GENERATION.to_vec()),
            (TrustComponent::Canaries, META_CANARIES.to_vec()),
            (TrustComponent::Policy, META_POLICY.to_vec()),
            (TrustComponent::Staff, [META_STAFF, b"officer:x"].concat()),
            (TrustComponent::SubjectKeys, [META_SUBJECT_KEY, &[7; 32][..]].concat()),
        ] {
            let mut b = Batch::new();
            b.put(Tree::Meta, key, b"v".to_vec());
            let after = live(&View::of(&store, Some(&b)), &ks).unwrap();
            assert_eq!(after.first_difference(&a), Some(c));
            assert_ne!(after.digest(), a.digest());
        }
    }

    #[test]
    fn replay_entries_count_once_committed_and_deletion_shows() {
        let store = MemoryStore::new();
        let ks = ks();
        let ledger = TrustLedger::new(Default::default());
        let mut b = Batch::new();
        seal_new_store(&store, &ks, &mut b).unwrap();
        store.apply(b).unwrap();
        let (empty, _) = ledger.base(&store, &ks).unwrap();
        let key = [&[REPLAY_QUERY][..], &[9; 16]].concat();
        // A reservation does not count.
        assert!(store.insert_new(Tree::Replay, &key, &5u64.to_be_bytes()).unwrap());
        assert_eq!(live(&View::of(&store, None), &ks).unwrap(), empty);
        // Its commit does, incrementally as from a scan.
        let mut b = Batch::new();
        b.put_again(Tree::Replay, key.clone(), committed_replay_value(&5u64.to_be_bytes()));
        let staged = ledger.stage(&store, &ks, &mut b).unwrap();
        store.apply(b).unwrap();
        ledger.installed(staged);
        let (committed, _) = ledger.base(&store, &ks).unwrap();
        assert_ne!(committed, empty);
        assert_eq!(live(&View::of(&store, None), &ks).unwrap(), committed);
        // Deleting it outside a commit is a difference in the replay component.
        store
            .apply({
                let mut d = Batch::new();
                d.delete(Tree::Replay, key.clone());
                d
            })
            .unwrap();
        let now = live(&View::of(&store, None), &ks).unwrap();
        assert_eq!(now.first_difference(&committed), Some(TrustComponent::Replay));
        // A delete committed through the ledger takes its share out again.
        store
            .apply({
                let mut p = Batch::new();
                p.put(Tree::Replay, key.clone(), committed_replay_value(&5u64.to_be_bytes()));
                p
            })
            .unwrap();
        let mut d = Batch::new();
        d.delete(Tree::Replay, key);
        let staged = ledger.stage(&store, &ks, &mut d).unwrap();
        assert_eq!(staged.state, empty);
    }

    #[test]
    fn record_is_authenticated() {
        let ks = ks();
        let s = live(&View::of(&MemoryStore::new(), None), &ks).unwrap();
        let mut r = s.record(&ks);
        assert_eq!(TrustState::from_record(&ks, &r).unwrap(), s);
        r[5] ^= 1;
        assert!(TrustState::from_record(&ks, &r).is_err());
    }
}
