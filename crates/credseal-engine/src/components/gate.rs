//! The gate: signed text in, capabilities out. It checks a department's credential and
//! token (authority key, policy, revocations, replay, consent counters) and hands back the
//! verified grant; it checks staff requests (the staff member's identity) and officers'
//! approvals ([`Approved`]); it keeps the registry of trust anchors in the store (the
//! authority key, subjects' keys, enrolled staff keys, each value under an HMAC of the index
//! key, so an operator with database access cannot swap in a key of their own without the
//! keystore) and the installed revocation list.
//!
//! The gate never decrypts: it imports no vault. It reads the keystore only for blind ids
//! and the HMACs of its registry, from the snapshot its caller passes in. It imports no
//! other component (only the shared modules `error` and `memo`).
//!
//! Staff: incident responders (who run `trace` and the access review) and security
//! officers (who plant canary subjects and approve destructive key operations). A staff
//! member's Ed25519 public key is enrolled for one role under the two-person rule (below;
//! the first officers are named at `init`). Every staff command is a [`StaffRequest`] signed with the enrolled key,
//! for this platform, within its validity window, accepted once, naming the exact input.
//!
//! The two-person rule: retiring a KEK version, re-keying a subject's class,
//! shredding, rotating the log key, and enrolling or removing staff need approvals — staff
//! requests (role `officer`, action `approve`) whose input digest is the SHA-256 of the
//! operation's description — signed by two different enrolled officers; a staff enrolment
//! or removal may instead carry the authority's signed staff order. Approvals are checked
//! first ([`Approved`]) and used up only when the operation runs (`Gate::consume`), after
//! the operation's own checks; an officer removed meanwhile no longer counts.

use std::sync::{Arc, Mutex, RwLock};

use credseal_auth::{
    BatchContext, Checked, Credential, Denial, IngestBatch, Policy, ProviderCredential, PublicKey, RevocationList,
    SelfQuery, StaffOrder, StaffRequest, Token, Unverified, Verified, VerifyContext, check_batch,
};
use credseal_core::{BlindId, Catalog, SubjectId};
use credseal_crypto::{Keystore, sha256};
use credseal_store::{Batch, Store, Tree};
use ring::hmac;

use crate::components::blinds::Blinds;
use crate::error::{EngineError, QueryError, Result};
use crate::pins::{Pinned, TrustPins};

/// Meta key of the authority's public key.
pub(crate) const META_AUTHORITY: &[u8] = b"authority-key";
/// Meta key prefix of a subject's registered public key (followed by the BlindId).
pub(crate) const META_SUBJECT_KEY: &[u8] = b"subject-key:";
/// HMAC label of authenticated metadata.
pub(crate) const META_MAC_LABEL: &[u8] = b"credseal:v1:meta";

/// HMAC(index key, META_MAC_LABEL ‖ u32 len(key) ‖ key ‖ value): the tag of an authenticated
/// Meta value.
pub(crate) fn meta_mac(ks: &Keystore, key: &[u8], value: &[u8]) -> [u8; 32] {
    {
        let k = hmac::Key::new(hmac::HMAC_SHA256, ks.index_key.expose_secret());
        let mut c = hmac::Context::with_key(&k);
        c.update(META_MAC_LABEL);
        c.update(&(key.len() as u32).to_be_bytes());
        c.update(key);
        c.update(value);
        // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
        c.sign().as_ref().try_into().expect("32 bytes")
    }
}

/// Meta key prefix of an enrolled staff key: `staff:` ‖ role ‖ `:` ‖ public key (32) → id.
pub(crate) const META_STAFF: &[u8] = b"staff:";
/// `Replay` key prefix of staff request ids (value: keep-until time).
pub(crate) const REPLAY_STAFF: u8 = b's';

/// A staff role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// Runs `trace`, `audit report` and `audit alerts`.
    Responder,
    /// Plants canary subjects.
    Officer,
    /// A data provider: signs ingest batches (`cs1.batch.…`).
    Provider,
}

impl StaffRole {
    /// `responder`, `officer` or `provider`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Responder => "responder",
            Self::Officer => "officer",
            Self::Provider => "provider",
        }
    }

    /// The role called `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "responder" => Some(Self::Responder),
            "officer" => Some(Self::Officer),
            "provider" => Some(Self::Provider),
            _ => None,
        }
    }
}

/// Whether a staff id is acceptable: 1-64 characters of `[a-z0-9._-]`.
pub fn valid_staff_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
}

/// The officer named in administrative receipts written when a platform opens (a newer
/// keystore found), before anyone has named themselves.
pub const DEFAULT_OPERATOR: &str = "operator";

/// Who runs an administrative act (enrolment, trust, revocations, key events, shreds):
/// passed per call, and named as the officer in the act's receipt.
///
/// Today a session is made by whoever unlocked the platform with the keystore passphrase
/// (the facade's `staff_session`): the passphrase holder names themselves, and the
/// name is **not otherwise authenticated**: it records who claimed to act, not who proved
/// it. What needs proof carries it separately: officers' signed approvals ([`Approved`]),
/// which staff enrolments and removals need too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    officer: String,
    /// The platform acting on its own (a scheduled job): its receipts name the platform,
    /// not an officer.
    scheduled: bool,
}

impl StaffSession {
    /// The session of the platform itself, for acts at open.
    pub(crate) fn at_open() -> Self {
        Self {
            officer: DEFAULT_OPERATOR.to_string(),
            scheduled: false,
        }
    }

    /// The session of a job the platform runs on its own schedule (`credseal serve`'s
    /// retention sweep under the standing policy): its receipts' actor is the platform.
    pub(crate) fn scheduled() -> Self {
        Self {
            officer: "platform".to_string(),
            scheduled: true,
        }
    }

    /// The officer's name, as given when the session was made.
    pub fn officer(&self) -> &str {
        &self.officer
    }

    /// Whether this is the platform's own scheduled job (no officer).
    pub(crate) fn is_scheduled(&self) -> bool {
        self.scheduled
    }
}

/// Meta key prefix of an installed provider credential (followed by the provider's key):
/// under the staff prefix, so the trust state (docs/formats.md "Trust state") covers it with
/// the staff keys and a deleted or swapped credential fails closed.
pub(crate) const META_PROVIDER: &[u8] = b"staff:provider-credential:";

fn provider_meta_key(pk: &[u8; 32]) -> Vec<u8> {
    let mut k = META_PROVIDER.to_vec();
    k.extend_from_slice(pk);
    k
}

/// Meta key of the standing retention policy (`crate::retention`): under the staff prefix,
/// so the trust state covers it with the staff keys and a policy added, edited or removed in
/// the store fails closed; its value carries the HMAC of every authenticated Meta value.
pub(crate) const META_RETENTION_POLICY: &[u8] = b"staff:retention-policy";

/// Meta key of a subject's withdrawal of consent `cid`: under the subject's key entry
/// (`subject-key:` ‖ BlindId ‖ `:withdrawn:` ‖ consent id), so the trust state's subject-key
/// component covers it and deleting it to revive the consent fails closed.
fn withdrawal_meta(blind: &BlindId, cid: &[u8; 16]) -> Vec<u8> {
    let mut k = subject_key_meta(blind);
    k.extend_from_slice(b":withdrawn:");
    k.extend_from_slice(cid);
    k
}

/// Meta key prefix of a department's sealing key (followed by the department id).
const META_DEPT_KEY: &[u8] = b"dept-sealing-key:";

fn dept_key_meta(dept: &str) -> Vec<u8> {
    let mut k = META_DEPT_KEY.to_vec();
    k.extend_from_slice(dept.as_bytes());
    k
}

fn staff_meta_key(role: StaffRole, pk: &[u8; 32]) -> Vec<u8> {
    let mut k = META_STAFF.to_vec();
    k.extend_from_slice(role.label().as_bytes());
    k.push(b':');
    k.extend_from_slice(pk);
    k
}

/// The action named in an officer's approval.
pub const APPROVE_ACTION: &str = "approve";

/// The description of a destructive operation that officers approve (its SHA-256 is what
/// they sign). Build it with the constructors; they are the only accepted forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation(String);

impl Operation {
    /// Retire KEK `version` of `class`.
    pub fn retire(class: &str, version: u32) -> Self {
        Self(format!("retire {class} v{version}"))
    }

    /// Re-key `subject`'s `class`.
    pub fn rekey(subject: &credseal_core::SubjectId, class: &str) -> Self {
        Self(format!("rekey {subject} {class}"))
    }

    /// Shred one record by a credit-repair order.
    pub fn shred_record(subject: &credseal_core::SubjectId, class: &str, record_id: &str, order: &str) -> Self {
        Self(format!("shred {subject} {class} {record_id} order {order}"))
    }

    /// The retention sweep as of `today`.
    pub fn shred_expired(today: credseal_core::Date) -> Self {
        Self(format!("shred expired {today}"))
    }

    /// Install (or replace) the standing retention policy: the sweep runs every
    /// `every_secs` seconds without further approvals (the interval as
    /// [`interval_text`] writes it, e.g. `retention sweep every 1d`).
    pub fn retention_policy(every_secs: u64) -> Self {
        Self(format!("retention sweep every {}", interval_text(every_secs)))
    }

    /// Withdraw the standing retention policy: every sweep needs two approvals again.
    pub fn retention_policy_off() -> Self {
        Self("retention sweep off".to_string())
    }

    /// Rotate the log key whose C2SP key id is `current_key_id` (`keys status` shows it).
    pub fn rotate_log_key(current_key_id: u32) -> Self {
        Self(format!("rotate log key {current_key_id:08x}"))
    }

    /// Enrol `pk` as the key of staff member `id` in `role` (the key in hex: the approvals
    /// are for exactly this key).
    pub fn enroll_staff(role: StaffRole, id: &str, pk: &[u8; 32]) -> Self {
        Self(format!("enroll {} {id} key {}", role.label(), credseal_core::hex(pk)))
    }

    /// Replace the trusted authority key by `pk` (the key in hex: the approvals are for
    /// exactly this key). Installing the first authority key needs no approval.
    pub fn replace_authority(pk: &[u8; 32]) -> Self {
        Self(format!("replace authority key {}", credseal_core::hex(pk)))
    }

    /// Commit `policy` as the query policy (all three values: the approvals are for exactly
    /// this policy).
    pub fn set_policy(policy: &Policy) -> Self {
        Self(format!(
            "set policy max_skew_secs {} max_token_lifetime_secs {} max_consent_lifetime_secs {}",
            policy.max_skew_secs, policy.max_token_lifetime_secs, policy.max_consent_lifetime_secs
        ))
    }

    /// Remove every key of staff member `id` in `role`.
    pub fn remove_staff(role: StaffRole, id: &str) -> Self {
        Self(format!("remove {} {id}", role.label()))
    }

    /// Whether this is a staff enrolment or removal (the only operations an authority's
    /// staff order may stand in for).
    pub fn is_staff_change(&self) -> bool {
        self.0.starts_with("enroll ") || self.0.starts_with("remove ")
    }

    /// The text officers approve.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the text: the input digest of an approval.
    pub fn digest(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }
}

/// An interval in one canonical spelling: whole days (`1d`), else whole hours (`12h`), else
/// whole minutes (`90m`), else seconds (`45s`) — the form an operation text names it in, and
/// one the command line's duration arguments accept.
pub fn interval_text(secs: u64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs != 0 && secs.is_multiple_of(n) {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// One approval (or authority order) checked but not yet used: its replay entry, and the
/// officer whose enrolment must still hold when it is used.
#[derive(Clone, Debug)]
struct Pending {
    replay_key: Vec<u8>,
    keep_until: u64,
    /// The approving officer's key and id; `None` for the authority's order.
    officer: Option<([u8; 32], String)>,
}

/// A checked ingest batch's replay entry, not yet used ([`Gate::use_batch`]).
#[derive(Clone, Debug)]
pub(crate) struct BatchUse(Pending);

/// Domain label of the replay id of an ingest batch (hashed with the batch's digest).
const BATCH_REPLAY_LABEL: &[u8] = b"credseal:v1:batch-replay";

/// Approvals checked for one operation: only the gate makes one. Checking spends nothing:
/// the approvals are used up only when the operation runs (the gate's `consume`, called
/// by the operation once its own checks passed), so a refused operation leaves them valid.
#[derive(Clone, Debug)]
pub struct Approved {
    op: Operation,
    officers: Vec<String>,
    pending: Vec<Pending>,
}

impl Approved {
    /// The enrolled ids of the officers who approved.
    pub fn officers(&self) -> &[String] {
        &self.officers
    }

    pub(crate) fn require(&self, op: &Operation) -> Result<()> {
        if &self.op != op {
            return Err(EngineError::denied(
                "approvals-wrong-operation",
                format!("the approvals are for {:?}, not for {:?}", self.op.text(), op.text()),
            ));
        }
        Ok(())
    }

    /// "approved by a, b" for receipts.
    pub(crate) fn note(&self) -> String {
        format!("approved by {}", self.officers.join(", "))
    }
}

/// The approver named in receipts when the authority's staff order stands in for two
/// officers' approvals.
pub const AUTHORITY_APPROVER: &str = "the authority";

fn replayed() -> EngineError {
    EngineError::denied("staff-replayed", "the staff request was used before")
}

/// `Revocations` key of the installed revocation list (its wire bytes).
pub(crate) const REVOCATIONS_CURRENT: &[u8] = b"current";
/// `Replay` key prefixes: query ids (value: keep-until time), consent uses (by subject,
/// consent id and use number).
/// Once the query's receipt commits, its entries are written again in their committed form
/// ([`committed_replay_value`]), which the trust state counts.
pub(crate) const REPLAY_QUERY: u8 = b'q';
pub(crate) const REPLAY_CONSENT: u8 = b'c';
/// The last byte of a committed replay entry's value.
pub(crate) const REPLAY_COMMITTED: u8 = 0x01;

/// The committed form of a replay entry's value: the value reserved by `insert_new`, then
/// [`REPLAY_COMMITTED`]. Written in the commit of the receipt of the query that consumed it.
pub(crate) fn committed_replay_value(value: &[u8]) -> Vec<u8> {
    let mut v = value.to_vec();
    v.push(REPLAY_COMMITTED);
    v
}

/// Credentials whose authority signature was verified, by SHA-256(authority key ‖ text).
#[derive(Default)]
pub(crate) struct CredentialCache(Mutex<std::collections::HashMap<[u8; 32], Verified<Credential>>>);

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialCache")
    }
}

/// The verified revocation list, keyed by the SHA-256 of its stored bytes, so every query
/// reads the current list from the store (no stale window) but verifies its signature only
/// when it changes.
pub(crate) type RevocationCache = crate::memo::Memo<[u8; 32], RevocationList>;

/// The trusted authority key, parsed (point decompression costs about as much as a tenth of
/// a signature check), keyed by its stored bytes: every query still reads the key from the
/// store, so a change of authority takes effect at once.
pub(crate) type AuthorityCache = crate::memo::Memo<[u8; 32], PublicKey>;

/// The replay entries a check consumed (tree, key, value): written again, durably, with
/// the receipt of the operation they belong to.
pub(crate) type Marks = Vec<(Tree, Vec<u8>, Vec<u8>)>;

/// A query the gate let through: the verified grant and the replay entries it consumed.
/// Only the gate makes one (its fields are private to this module), so whatever takes a
/// `&Granted` (the vault's `open_granted`)
/// runs only for a query that passed every check.
pub(crate) struct Granted {
    inner: credseal_auth::Grant,
    marks: Marks,
}

impl Granted {
    /// The verified grant (subject, classes, purpose, requester).
    pub(crate) fn auth(&self) -> &credseal_auth::Grant {
        &self.inner
    }

    /// The grant and, apart, the replay entries it consumed (to be written again with the
    /// receipt).
    pub(crate) fn split_marks(mut self) -> (Self, Marks) {
        let marks = std::mem::take(&mut self.marks);
        (self, marks)
    }
}

/// Why the gate refused a query.
pub(crate) enum Refusal {
    /// Refused before the department's signature verified, or the platform failed: no
    /// receipt is owed.
    Plain(QueryError),
    /// A denial of a query whose credential verified: the caller writes its receipt
    /// (docs/design.md §6) with the replay entries already consumed.
    Denied {
        /// Why.
        denial: Denial,
        /// The verified credential.
        credential: Box<Verified<Credential>>,
        /// The token as presented.
        token: Box<Unverified<Token>>,
        /// Replay entries consumed before the denial.
        marks: Marks,
    },
}

impl From<QueryError> for Refusal {
    fn from(e: QueryError) -> Self {
        Self::Plain(e)
    }
}

impl From<EngineError> for Refusal {
    fn from(e: EngineError) -> Self {
        Self::Plain(QueryError::Failed(e))
    }
}

/// The gate of one platform: its registry, policy, revocations and replay counters in the
/// store, and the caches of what it verified.
pub(crate) struct Gate {
    store: Arc<dyn Store>,
    /// The platform's name: the audience of tokens and staff requests.
    origin: String,
    /// The query policy.
    policy: RwLock<Policy>,
    /// The last verified revocation list, by the digest of its stored bytes.
    revocation_cache: RevocationCache,
    /// Credentials whose signature was verified.
    credential_cache: CredentialCache,
    /// The trusted authority key, parsed, by its stored bytes.
    authority_cache: AuthorityCache,
    /// The committed authority key and revocation list, checked at each read.
    pins: Arc<TrustPins>,
    /// The subjects' blind ids (shared with the vault).
    blinds: Arc<Blinds>,
    /// The sealing key each department's last granted query named, as stored: a grant
    /// writes it only when it changed (correction notices are sealed to it).
    dept_keys: Mutex<std::collections::HashMap<String, [u8; 32]>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn subject_key_meta(blind: &BlindId) -> Vec<u8> {
    let mut k = META_SUBJECT_KEY.to_vec();
    k.extend_from_slice(blind.as_bytes());
    k
}

fn key_32(v: Vec<u8>, what: &str) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| EngineError::Corrupt {
        what: what.into(),
        detail: "not 32 bytes".into(),
    })
}

impl Gate {
    /// The gate of the platform `origin` on `store`, with the default policy.
    pub(crate) fn new(store: Arc<dyn Store>, origin: String, blinds: Arc<Blinds>) -> Self {
        Self {
            store,
            origin,
            blinds,
            policy: Default::default(),
            revocation_cache: Default::default(),
            credential_cache: Default::default(),
            authority_cache: Default::default(),
            pins: Default::default(),
            dept_keys: Default::default(),
        }
    }

    /// Notes the sealing key of a department's granted query: if it is not the one stored
    /// for the department, adds the write that stores it (authenticated) to `batch`, which
    /// the grant's receipt commits. Correction notices to the department are sealed to it.
    pub(crate) fn note_sealing_key(&self, ks: &Keystore, dept: &str, key: &[u8; 32], batch: &mut Batch) -> Result<()> {
        let mut known = self
            .dept_keys
            .lock()
            .map_err(|_| EngineError::poisoned("department keys"))?;
        if known.get(dept) == Some(key) {
            return Ok(());
        }
        let stored = self.get_authenticated(ks, &dept_key_meta(dept), "department sealing key")?;
        if stored.as_deref() != Some(&key[..]) {
            self.put_authenticated(ks, batch, &dept_key_meta(dept), key);
        }
        known.insert(dept.to_string(), *key);
        Ok(())
    }

    /// Checks a subject's consent withdrawal (`cs1.consent-withdrawal.…`) at `now`: signed
    /// by the subject's registered key (else a verification failure; a subject without one:
    /// denied), for this platform, not dated in the future beyond the clock skew (denied).
    /// Returns the subject's BlindId, the consent id and the batch that installs it (under
    /// the subject's key entry, so the trust state covers it).
    pub(crate) fn check_withdrawal(&self, ks: &Keystore, text: &str, now: u64) -> Result<(BlindId, [u8; 16], Batch)> {
        let u = Unverified::<credseal_auth::ConsentWithdrawal>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("consent withdrawal: {e}")))?;
        let claimed = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("consent withdrawal: {e}")))?;
        let Some(key) = self.subject_public_key(ks, &claimed.subject)? else {
            return Err(EngineError::denied(
                "subject-key-invalid",
                "consent withdrawal: the subject has no registered key on this platform",
            ));
        };
        let v = u.verify(&key).map_err(|_| {
            EngineError::Verification("consent withdrawal: not signed by the subject's registered key".into())
        })?;
        let w = v.into_body();
        if w.audience != self.origin {
            return Err(EngineError::denied(
                "wrong-audience",
                "consent withdrawal: for another platform",
            ));
        }
        if w.issued_at > now.saturating_add(self.policy().max_skew_secs) {
            return Err(EngineError::denied(
                "withdrawal-not-yet-valid",
                "consent withdrawal: dated in the future",
            ));
        }
        let subject = SubjectId::parse(&w.subject)
            .map_err(|e| EngineError::invalid("consent withdrawal subject", e.to_string()))?;
        let blind = self.blinds.blind(ks, &subject)?;
        let mut b = Batch::new();
        self.put_authenticated(
            ks,
            &mut b,
            &withdrawal_meta(&blind, &w.consent_id),
            &w.issued_at.to_be_bytes(),
        );
        Ok((blind, w.consent_id, b))
    }

    /// Whether the subject (`blind`) withdrew consent `cid`.
    pub(crate) fn consent_withdrawn(&self, ks: &Keystore, blind: &BlindId, cid: &[u8; 16]) -> Result<bool> {
        Ok(self
            .get_authenticated(ks, &withdrawal_meta(blind, cid), "consent withdrawal")?
            .is_some())
    }

    /// The sealing key of `dept`'s last granted query, if it made one.
    pub(crate) fn dept_sealing_key(&self, ks: &Keystore, dept: &str) -> Result<Option<[u8; 32]>> {
        self.get_authenticated(ks, &dept_key_meta(dept), "department sealing key")?
            .map(|v| key_32(v, "department sealing key"))
            .transpose()
    }

    /// The trust pins this gate checks (shared with the appender, which updates them).
    pub(crate) fn pins(&self) -> &Arc<TrustPins> {
        &self.pins
    }

    /// The query policy (clock skew, maximum token lifetime).
    pub(crate) fn policy(&self) -> Policy {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the query policy; checks that start after this returns use it.
    pub(crate) fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    /// Writes `value` under `key` in Meta with its MAC.
    pub(crate) fn put_authenticated(&self, ks: &Keystore, batch: &mut Batch, key: &[u8], value: &[u8]) {
        let mut v = value.to_vec();
        v.extend_from_slice(&meta_mac(ks, key, value));
        batch.put(Tree::Meta, key.to_vec(), v);
    }

    /// Reads an authenticated Meta value; an edited one is a verification failure.
    pub(crate) fn get_authenticated(&self, ks: &Keystore, key: &[u8], what: &str) -> Result<Option<Vec<u8>>> {
        let Some(v) = self.store.get(Tree::Meta, key)? else {
            return Ok(None);
        };
        let bad = || EngineError::Corrupt {
            what: what.to_string(),
            detail: "authentication failed: edited in the store".into(),
        };
        if v.len() < 32 {
            return Err(bad());
        }
        let (value, mac) = v.split_at(v.len() - 32);
        let want = meta_mac(ks, key, value);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(mac, &want[..])) {
            return Err(bad());
        }
        Ok(Some(value.to_vec()))
    }

    /// The stored retention policy's value (its HMAC and its pin checked; `None`: none is
    /// installed). Decoding is `crate::retention`'s.
    pub(crate) fn retention_policy(&self, ks: &Keystore) -> Result<Option<Vec<u8>>> {
        let v = self.get_authenticated(ks, META_RETENTION_POLICY, "trust state: retention policy")?;
        self.pins
            .check(Pinned::RetentionPolicy, v.as_deref().map(sha256).as_ref())?;
        Ok(v)
    }

    /// The authority key this platform trusts, if set.
    pub(crate) fn authority_key(&self, ks: &Keystore) -> Result<Option<[u8; 32]>> {
        let k = self
            .get_authenticated(ks, META_AUTHORITY, "authority key")?
            .map(|v| key_32(v, "authority key"))
            .transpose()?;
        self.pins.check(Pinned::Authority, k.map(|k| sha256(&k)).as_ref())?;
        Ok(k)
    }

    /// The batch that sets the authority key to `pk`; changing an existing one needs
    /// `replaced`, approvals for exactly [`Operation::replace_authority`] of `pk` (two
    /// officers'), which this checks (and the caller consumes when the change runs).
    pub(crate) fn trust_authority(&self, ks: &Keystore, pk: &[u8; 32], replaced: Option<&Approved>) -> Result<Batch> {
        if let Some(old) = self.authority_key(ks)?
            && &old != pk
        {
            let Some(approved) = replaced else {
                return Err(EngineError::denied(
                    "approvals-missing",
                    format!(
                        "this platform already trusts another authority key: replacing it needs the approval of two \
                         different enrolled officers for {:?}",
                        Operation::replace_authority(pk).text()
                    ),
                ));
            };
            approved.require(&Operation::replace_authority(pk))?;
        }
        let mut b = Batch::new();
        self.put_authenticated(ks, &mut b, META_AUTHORITY, pk);
        Ok(b)
    }

    /// The registered signing key of a subject, if any.
    pub(crate) fn subject_key(&self, ks: &Keystore, subject: &SubjectId) -> Result<Option<[u8; 32]>> {
        let blind = self.blinds.blind(ks, subject)?;
        self.get_authenticated(ks, &subject_key_meta(&blind), "subject key")?
            .map(|v| key_32(v, "subject key"))
            .transpose()
    }

    /// The batch that registers `pk` as the signing key of the subject whose BlindId is
    /// `blind`; changing an existing key needs `replace`.
    pub(crate) fn register_subject_key(
        &self,
        ks: &Keystore,
        subject: &SubjectId,
        pk: &[u8; 32],
        replace: bool,
    ) -> Result<Batch> {
        if let Some(old) = self.subject_key(ks, subject)?
            && !replace
            && &old != pk
        {
            return Err(EngineError::Conflict {
                what: "this subject already has another registered key".into(),
            });
        }
        let blind = self.blinds.blind(ks, subject)?;
        let mut b = Batch::new();
        self.put_authenticated(ks, &mut b, &subject_key_meta(&blind), pk);
        Ok(b)
    }

    /// A staff session for `officer` (see [`StaffSession`]: the name is not otherwise
    /// authenticated yet): 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
    pub(crate) fn staff_session(officer: &str) -> Result<StaffSession> {
        let ok = !officer.is_empty()
            && officer.len() <= 64
            && officer
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !ok {
            return Err(EngineError::invalid(
                "officer name",
                "must be 1 to 64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        Ok(StaffSession {
            officer: officer.to_string(),
            scheduled: false,
        })
    }

    /// The batch that enrols `pk` as the key of staff member `id` in `role`. Enrolling the
    /// same key again under another id needs `replace`. The caller writes it with the
    /// enrolment's receipt, once the approvals are checked.
    pub(crate) fn enroll_staff(
        &self,
        ks: &Keystore,
        role: StaffRole,
        id: &str,
        pk: &[u8; 32],
        replace: bool,
    ) -> Result<Batch> {
        if !valid_staff_id(id) {
            return Err(EngineError::invalid(
                format!("staff id {id:?}"),
                "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
        }
        if PublicKey::from_bytes(pk).is_err() {
            return Err(EngineError::invalid(
                "staff public key",
                "not a valid Ed25519 public key",
            ));
        }
        if let Some(old) = self.staff_id(ks, role, pk)?
            && old != id
            && !replace
        {
            return Err(EngineError::Conflict {
                what: format!("this key is already enrolled as {} {old:?}", role.label()),
            });
        }
        let mut b = Batch::new();
        self.put_authenticated(ks, &mut b, &staff_meta_key(role, pk), id.as_bytes());
        Ok(b)
    }

    /// The id under which `pk` is enrolled in `role`, if it is.
    pub(crate) fn staff_id(&self, ks: &Keystore, role: StaffRole, pk: &[u8; 32]) -> Result<Option<String>> {
        self.get_authenticated(ks, &staff_meta_key(role, pk), "staff key")?
            .map(|v| {
                String::from_utf8(v).map_err(|_| EngineError::Corrupt {
                    what: "staff key".into(),
                    detail: "id is not UTF-8".into(),
                })
            })
            .transpose()
    }

    /// Verifies a staff request for `action` on the input whose SHA-256 is `input_digest`;
    /// returns the staff member's id. Not enrolled, another platform, outside its window,
    /// replayed, another action or input: denied (exit 3). A bad signature by an enrolled
    /// key: a verification failure (exit 4).
    pub(crate) fn verify_staff_request(
        &self,
        ks: &Keystore,
        text: &str,
        role: StaffRole,
        action: &str,
        input_digest: &[u8; 32],
        now: u64,
    ) -> Result<String> {
        let (id, p) = self.check_staff_request(ks, text, role, action, input_digest, now)?;
        if !self
            .store
            .insert_new(Tree::Replay, &p.replay_key, &p.keep_until.to_be_bytes())?
        {
            return Err(replayed());
        }
        Ok(id)
    }

    /// [`Gate::verify_staff_request`] without spending the request: its replay entry is
    /// returned, to be written when the request is used.
    fn check_staff_request(
        &self,
        ks: &Keystore,
        text: &str,
        role: StaffRole,
        action: &str,
        input_digest: &[u8; 32],
        now: u64,
    ) -> Result<(String, Pending)> {
        let u = Unverified::<StaffRequest>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("staff request: {e}")))?;
        let body = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("staff request: {e}")))?;
        if body.role != role.label() {
            return Err(EngineError::denied(
                "staff-wrong-role",
                format!("this command needs a {} request", role.label()),
            ));
        }
        let Some(id) = self.staff_id(ks, role, body.staff_key.as_bytes())? else {
            return Err(EngineError::denied(
                "staff-not-enrolled",
                format!(
                    "the key is not enrolled as {} {} on this platform",
                    if role.label().starts_with(['a', 'e', 'i', 'o', 'u']) {
                        "an"
                    } else {
                        "a"
                    },
                    role.label()
                ),
            ));
        };
        let v = u
            .verify(&body.staff_key)
            .map_err(|_| EngineError::Verification("staff request: bad signature".into()))?;
        let b = v.body();
        if b.audience != self.origin {
            return Err(EngineError::denied(
                "staff-wrong-audience",
                "the staff request is for another platform",
            ));
        }
        if b.action != action {
            return Err(EngineError::denied(
                "staff-wrong-action",
                "the staff request is for another command",
            ));
        }
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&b.input_digest[..], &input_digest[..])) {
            return Err(EngineError::denied(
                "staff-wrong-input",
                "the staff request is for another input",
            ));
        }
        let policy = self.policy();
        let skew = policy.max_skew_secs;
        if b.issued_at > now.saturating_add(skew) || now > b.expires_at {
            return Err(EngineError::denied(
                "staff-expired",
                "the staff request is outside its validity window",
            ));
        }
        if b.expires_at.saturating_sub(b.issued_at) > policy.max_token_lifetime_secs {
            return Err(EngineError::denied(
                "staff-lifetime",
                "the staff request lives longer than the policy allows",
            ));
        }
        let mut k = vec![REPLAY_STAFF];
        k.extend_from_slice(&b.request_id);
        if self.store.contains(Tree::Replay, &k)? {
            return Err(replayed());
        }
        Ok((
            id,
            Pending {
                replay_key: k,
                keep_until: b.expires_at,
                officer: Some((*body.staff_key.as_bytes(), String::new())),
            },
        ))
    }

    /// Checks the officers' approvals of `op`: each a valid, unused officer request for
    /// exactly this operation, from at least two different enrolled officers. Spends
    /// nothing: [`Gate::consume`] does, when the operation runs.
    pub(crate) fn approve(&self, ks: &Keystore, op: &Operation, approvals: &[String], now: u64) -> Result<Approved> {
        let mut officers: Vec<String> = Vec::new();
        let mut pending = Vec::new();
        for a in approvals {
            let (id, mut p) = self.check_staff_request(ks, a, StaffRole::Officer, APPROVE_ACTION, &op.digest(), now)?;
            if let Some((_, who)) = p.officer.as_mut() {
                who.clone_from(&id);
            }
            if pending.iter().any(|q: &Pending| q.replay_key == p.replay_key) {
                return Err(replayed());
            }
            pending.push(p);
            if officers.contains(&id) {
                return Err(EngineError::denied(
                    "approvals-same-officer",
                    format!(
                        "two approvals from the same officer ({id}): {:?} needs two different officers",
                        op.text()
                    ),
                ));
            }
            officers.push(id);
        }
        if officers.len() < 2 {
            return Err(EngineError::denied(
                "approvals-missing",
                format!(
                    "{:?} needs the approval of two different enrolled officers ({} given)",
                    op.text(),
                    officers.len()
                ),
            ));
        }
        Ok(Approved {
            op: op.clone(),
            officers,
            pending,
        })
    }

    /// Checks the authority's order (`cs1.staff-order.…`) for the staff operation `op`:
    /// signed by the trusted authority (else a verification failure, exit 4), for this
    /// platform, within its window, naming exactly `op`, not used before. The order stands in
    /// for two officers' approvals of a staff enrolment or removal, and of nothing else.
    /// Spends nothing: [`Gate::consume`] does.
    pub(crate) fn approve_by_authority(
        &self,
        ks: &Keystore,
        op: &Operation,
        order: &str,
        now: u64,
    ) -> Result<Approved> {
        if !op.is_staff_change() {
            return Err(EngineError::denied(
                "staff-order-wrong-operation",
                format!("an authority's staff order cannot approve {:?}", op.text()),
            ));
        }
        let u = Unverified::<StaffOrder>::parse_text(order.trim())
            .map_err(|e| EngineError::Verification(format!("staff order: {e}")))?;
        let v = u
            .verify(&self.trusted_authority(ks)?)
            .map_err(|_| EngineError::Verification("staff order: not signed by the trusted authority".into()))?;
        let b = v.body();
        if b.audience != self.origin {
            return Err(EngineError::denied(
                "staff-wrong-audience",
                "the staff order is for another platform",
            ));
        }
        if b.operation != op.text() {
            return Err(EngineError::denied(
                "staff-wrong-input",
                format!("the staff order is for {:?}, not for {:?}", b.operation, op.text()),
            ));
        }
        let policy = self.policy();
        if b.issued_at > now.saturating_add(policy.max_skew_secs) || now > b.expires_at {
            return Err(EngineError::denied(
                "staff-expired",
                "the staff order is outside its validity window",
            ));
        }
        let mut k = vec![REPLAY_STAFF];
        k.extend_from_slice(&b.order_id);
        if self.store.contains(Tree::Replay, &k)? {
            return Err(replayed());
        }
        Ok(Approved {
            op: op.clone(),
            officers: vec![AUTHORITY_APPROVER.to_string()],
            pending: vec![Pending {
                replay_key: k,
                keep_until: b.expires_at,
                officer: None,
            }],
        })
    }

    /// Uses up `approved` as its operation runs: every approving officer must still be
    /// enrolled under the same id (a removal takes effect at once), and no approval may have
    /// been used meanwhile; then each is recorded as used (atomically, one at a time).
    /// Returns the batch that writes each use again in its committed form: the operation
    /// commits it with its receipt, so that the trust state counts it and deleting it from
    /// the store afterwards fails closed (a reservation alone blocks a reuse while it lasts).
    pub(crate) fn consume(&self, ks: &Keystore, approved: &Approved) -> Result<Batch> {
        for p in &approved.pending {
            if let Some((pk, id)) = &p.officer
                && self.staff_id(ks, StaffRole::Officer, pk)?.as_deref() != Some(id.as_str())
            {
                return Err(EngineError::denied(
                    "approvals-officer-removed",
                    format!("officer {id} is no longer enrolled: their approval no longer counts"),
                ));
            }
        }
        for p in &approved.pending {
            if !self
                .store
                .insert_new(Tree::Replay, &p.replay_key, &p.keep_until.to_be_bytes())?
            {
                return Err(replayed());
            }
        }
        let mut marks = Batch::new();
        for p in &approved.pending {
            marks.put_again(
                Tree::Replay,
                p.replay_key.clone(),
                committed_replay_value(&p.keep_until.to_be_bytes()),
            );
        }
        Ok(marks)
    }

    /// Checks an authority's provider credential (`cs1.provider-credential.…`) for
    /// installation at `now`: signed by the trusted authority (else a verification failure,
    /// exit 4), for this platform, inside its window, naming at least one class, not revoked
    /// (else denied, exit 3), with a valid provider id and classes that are all in
    /// `catalog` (else invalid, exit 1). Returns the credential and the batch that installs
    /// it under its key (replacing an earlier credential of the same key, which must name
    /// the same provider).
    pub(crate) fn check_provider_credential(
        &self,
        ks: &Keystore,
        catalog: &Catalog,
        text: &str,
        now: u64,
    ) -> Result<(ProviderCredential, Batch)> {
        let u = Unverified::<ProviderCredential>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("provider credential: {e}")))?;
        let c = self.verified_provider_credential(ks, &u, now)?;
        if !valid_staff_id(&c.provider_id) {
            return Err(EngineError::invalid(
                format!("provider id {:?}", c.provider_id),
                "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
        }
        if let Some(bad) = c.classes.iter().find(|cl| catalog.class(cl).is_none()) {
            return Err(EngineError::invalid(
                format!("provider credential class {bad:?}"),
                "is not in the catalogue",
            ));
        }
        if let Some(old) = self.provider_credential(ks, c.provider_key.as_bytes(), now, false)?
            && old.provider_id != c.provider_id
        {
            return Err(EngineError::Conflict {
                what: format!("this key is already enrolled as provider {:?}", old.provider_id),
            });
        }
        let mut b = Batch::new();
        self.put_authenticated(ks, &mut b, &provider_meta_key(c.provider_key.as_bytes()), u.as_bytes());
        Ok((c, b))
    }

    /// The authority's signature, the audience, the window and the revocation list.
    fn verified_provider_credential(
        &self,
        ks: &Keystore,
        u: &Unverified<ProviderCredential>,
        now: u64,
    ) -> Result<ProviderCredential> {
        let policy = self.policy();
        let v = credseal_auth::check_provider_credential(
            u,
            &self.trusted_authority(ks)?,
            now,
            &self.origin,
            policy.max_skew_secs,
        )
        .map_err(|e| {
            if e.is_forgery() {
                EngineError::Verification(format!("provider credential: {e}"))
            } else {
                EngineError::denied(e.code(), format!("provider credential: {e}"))
            }
        })?;
        let c = v.into_body();
        if self.revocations(ks)?.is_some_and(|l| l.revoked.contains_key(&c.serial)) {
            return Err(EngineError::denied(
                "credential-revoked",
                format!("provider credential {} of {} is revoked", c.serial, c.provider_id),
            ));
        }
        Ok(c)
    }

    /// The provider credential installed for `pk`, checked again at `now` if `check` (its
    /// authority signature, window and revocation), else as stored.
    pub(crate) fn provider_credential(
        &self,
        ks: &Keystore,
        pk: &[u8; 32],
        now: u64,
        check: bool,
    ) -> Result<Option<ProviderCredential>> {
        let Some(wire) = self.get_authenticated(ks, &provider_meta_key(pk), "provider credential")? else {
            return Ok(None);
        };
        let u = Unverified::<ProviderCredential>::parse_bytes(&wire).map_err(|e| EngineError::Corrupt {
            what: "provider credential".into(),
            detail: e.to_string(),
        })?;
        if check {
            return self.verified_provider_credential(ks, &u, now).map(Some);
        }
        let c = u.peek_unverified().map_err(|e| EngineError::Corrupt {
            what: "provider credential".into(),
            detail: e.to_string(),
        })?;
        Ok(Some(c))
    }

    /// Every installed provider credential, as stored.
    pub(crate) fn provider_credentials(&self, ks: &Keystore) -> Result<Vec<ProviderCredential>> {
        let mut out = Vec::new();
        for kv in self.store.scan_prefix(Tree::Meta, META_PROVIDER) {
            let (k, _) = kv?;
            let Ok(pk) = <[u8; 32]>::try_from(&k[META_PROVIDER.len()..]) else {
                continue;
            };
            out.extend(self.provider_credential(ks, &pk, 0, false)?);
        }
        out.sort_by(|a, b| a.provider_id.cmp(&b.provider_id));
        Ok(out)
    }

    /// Checks a provider's signed ingest batch (docs/formats.md "Ingest batch"): its key
    /// must have an installed provider credential that still holds (else denied, exit 3:
    /// `provider-not-enrolled`, or the credential's own refusal), the signature over the
    /// bytes received and the records' digest (else a verification failure, exit 4), then
    /// the provider id, this platform as audience, its age, and that it was not ingested
    /// before (denied). Returns the batch, the provider's credential (its scope for every
    /// record) and the use. Spends nothing: [`Gate::use_batch`] does, once the records
    /// validated.
    pub(crate) fn check_batch(
        &self,
        ks: &Keystore,
        text: &str,
        now: u64,
    ) -> Result<(IngestBatch, ProviderCredential, BatchUse)> {
        let u = Unverified::<IngestBatch>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("ingest batch: {e}")))?;
        let claimed = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("ingest batch: {e}")))?;
        let key = claimed.provider_key;
        let Some(cred) = self.provider_credential(ks, key.as_bytes(), now, true)? else {
            return Err(EngineError::denied(
                "provider-not-enrolled",
                "the batch's key has no provider credential on this platform (the authority issues one: authority provider-credential; the platform installs it: provider enroll)",
            ));
        };
        let id = cred.provider_id.clone();
        let policy = self.policy();
        let ctx = BatchContext {
            now,
            audience: &self.origin,
            max_skew_secs: policy.max_skew_secs,
            enrolled_id: &id,
        };
        let v = check_batch(&u, &key, &ctx).map_err(|e| {
            if e.is_forgery() {
                EngineError::Verification(format!("ingest batch of provider {id}: {e}"))
            } else {
                EngineError::denied(e.code(), format!("ingest batch of provider {id}: {e}"))
            }
        })?;
        // The replay entry: a 16-byte id derived from the digest of the bytes received, in
        // the staff-request key space (kept, committed and counted in the trust state the
        // same way), kept until the batch is too old anyway.
        let digest = sha256(&[BATCH_REPLAY_LABEL, &u.digest()[..]].concat());
        let mut k = vec![REPLAY_STAFF];
        k.extend_from_slice(&digest[..16]);
        if self.store.contains(Tree::Replay, &k)? {
            return Err(EngineError::denied("batch-replayed", "this batch was ingested before"));
        }
        let keep_until = v
            .body()
            .signed_at
            .saturating_add(credseal_auth::MAX_BATCH_AGE_SECS)
            .saturating_add(policy.max_skew_secs);
        Ok((
            v.into_body(),
            cred,
            BatchUse(Pending {
                replay_key: k,
                keep_until,
                officer: None,
            }),
        ))
    }

    /// Records the batch as used (atomically; a concurrent use of the same batch is denied);
    /// returns the batch that writes the use in its committed form, to commit with the
    /// ingest's receipts.
    pub(crate) fn use_batch(&self, u: &BatchUse) -> Result<Batch> {
        let p = &u.0;
        if !self
            .store
            .insert_new(Tree::Replay, &p.replay_key, &p.keep_until.to_be_bytes())?
        {
            return Err(EngineError::denied("batch-replayed", "this batch was ingested before"));
        }
        let mut marks = Batch::new();
        marks.put_again(
            Tree::Replay,
            p.replay_key.clone(),
            committed_replay_value(&p.keep_until.to_be_bytes()),
        );
        Ok(marks)
    }

    /// Whether any officer is enrolled.
    pub(crate) fn has_officers(&self) -> Result<bool> {
        let mut prefix = META_STAFF.to_vec();
        prefix.extend_from_slice(StaffRole::Officer.label().as_bytes());
        prefix.push(b':');
        Ok(self
            .store
            .scan_prefix(Tree::Meta, &prefix)
            .next()
            .transpose()?
            .is_some())
    }

    /// The batch that removes every key of staff member `id` in `role` (not found: an
    /// error).
    pub(crate) fn remove_staff(&self, ks: &Keystore, role: StaffRole, id: &str) -> Result<Batch> {
        let mut prefix = META_STAFF.to_vec();
        prefix.extend_from_slice(role.label().as_bytes());
        prefix.push(b':');
        let mut b = Batch::new();
        let mut found = false;
        for kv in self.store.scan_prefix(Tree::Meta, &prefix) {
            let (k, _) = kv?;
            let Some(pk) = k.get(prefix.len()..).and_then(|p| <[u8; 32]>::try_from(p).ok()) else {
                continue;
            };
            if self.staff_id(ks, role, &pk)?.as_deref() == Some(id) {
                b.delete(Tree::Meta, k);
                found = true;
            }
        }
        if !found {
            return Err(EngineError::NotFound(format!(
                "no {} is enrolled as {id:?}",
                role.label()
            )));
        }
        Ok(b)
    }

    /// The trusted authority key, parsed (an error if none is set).
    pub(crate) fn trusted_authority(&self, ks: &Keystore) -> Result<PublicKey> {
        let k = self.authority_key(ks)?.ok_or(EngineError::NoAuthority)?;
        self.authority_cache.get_or_try(k, || {
            PublicKey::from_bytes(&k).map_err(|_| EngineError::Corrupt {
                what: "authority key".into(),
                detail: "not a valid Ed25519 key".into(),
            })
        })
    }

    /// The installed revocation list, verified.
    pub(crate) fn revocations(&self, ks: &Keystore) -> Result<Option<RevocationList>> {
        let Some(bytes) = self.store.get(Tree::Revocations, REVOCATIONS_CURRENT)? else {
            self.pins.check(Pinned::Revocations, None)?;
            return Ok(None);
        };
        let digest = sha256(&bytes);
        self.pins.check(Pinned::Revocations, Some(&digest))?;
        let list = self.revocation_cache.get_or_try(digest, || {
            let corrupt = |detail: String| EngineError::Corrupt {
                what: "installed revocation list".into(),
                detail,
            };
            let u = Unverified::<RevocationList>::parse_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
            let v = credseal_auth::verify_revocation_list(&u, &self.trusted_authority(ks)?, &self.origin, None)
                .map_err(|e| corrupt(e.to_string()))?;
            Ok(v.into_body())
        })?;
        Ok(Some(list))
    }

    /// Checks a revocation list (text form) newer than the installed one, signed by the
    /// trusted authority; returns the batch that installs it and the list. The caller
    /// serialises installs (check, then write with its receipt).
    pub(crate) fn check_revocations(
        &self,
        ks: &Keystore,
        text: &str,
    ) -> std::result::Result<(Batch, RevocationList), QueryError> {
        let u = Unverified::<RevocationList>::parse_text(text.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        let current = self.revocations(ks)?.map(|l| l.version);
        let v = credseal_auth::verify_revocation_list(&u, &self.trusted_authority(ks)?, &self.origin, current)
            .map_err(QueryError::Denied)?;
        let mut b = Batch::new();
        b.put(Tree::Revocations, REVOCATIONS_CURRENT, u.as_bytes().to_vec());
        Ok((b, v.into_body()))
    }

    fn subject_public_key(&self, ks: &Keystore, subject: &str) -> Result<Option<PublicKey>> {
        let Ok(id) = SubjectId::parse(subject) else {
            return Ok(None);
        };
        match self.subject_key(ks, &id)? {
            Some(k) => Ok(PublicKey::from_bytes(&k).ok()),
            None => Ok(None),
        }
    }

    /// Consumes the query id (once only, atomically) and a consent use if any. The replay
    /// entries written go into `marks`: they are written again, durably, with the receipt.
    fn finish(
        &self,
        ks: &Keystore,
        checked: Checked,
        marks: &mut Marks,
    ) -> std::result::Result<credseal_auth::Grant, QueryError> {
        // Consent uses are counted per subject and consent id: the id is chosen by whoever
        // signs, so another subject reusing it must not spend this subject's uses.
        let subject_blind = self.blinds.blind(ks, checked.subject()).map_err(QueryError::Failed)?;
        let store_err: std::cell::RefCell<Option<EngineError>> = Default::default();
        let written = std::cell::RefCell::new(std::mem::take(marks));
        let store = &self.store;
        let grant = checked.finish(
            |qid, keep_until| {
                let mut k = vec![REPLAY_QUERY];
                k.extend_from_slice(qid);
                match store.insert_new(Tree::Replay, &k, &keep_until.to_be_bytes()) {
                    Ok(true) => {
                        written
                            .borrow_mut()
                            .push((Tree::Replay, k, committed_replay_value(&keep_until.to_be_bytes())));
                        true
                    }
                    Ok(false) => false,
                    Err(err) => {
                        *store_err.borrow_mut() = Some(err.into());
                        false
                    }
                }
            },
            |cid, max_uses| {
                for i in 0..max_uses {
                    let mut k = vec![REPLAY_CONSENT];
                    k.extend_from_slice(subject_blind.as_bytes());
                    k.extend_from_slice(cid);
                    k.extend_from_slice(&i.to_be_bytes());
                    match store.insert_new(Tree::Replay, &k, &[]) {
                        Ok(true) => {
                            written
                                .borrow_mut()
                                .push((Tree::Replay, k, committed_replay_value(&[])));
                            return true;
                        }
                        Ok(false) => continue,
                        Err(err) => {
                            *store_err.borrow_mut() = Some(err.into());
                            return false;
                        }
                    }
                }
                false
            },
        );
        *marks = written.into_inner();
        if let Some(e) = store_err.into_inner() {
            return Err(QueryError::Failed(e));
        }
        grant.map_err(QueryError::Denied)
    }

    /// The batch that removes replay entries whose tokens have expired anyway (a replayed
    /// expired token is denied as expired), and how many. The deletions change the trust
    /// state, so the caller commits the batch with a receipt.
    pub(crate) fn sweep_replay(&self, now: u64) -> Result<(Batch, u64)> {
        let mut b = Batch::new();
        let mut n = 0;
        // Query ids and staff request ids both keep their expiry as the value (a committed
        // query id: followed by the committed mark).
        for prefix in [REPLAY_QUERY, REPLAY_STAFF] {
            for kv in self.store.scan_prefix(Tree::Replay, &[prefix]) {
                let (k, v) = kv?;
                let until = v
                    .get(..8)
                    .and_then(|u| u.try_into().ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(u64::MAX);
                if until < now {
                    b.delete(Tree::Replay, k);
                    n += 1;
                }
            }
        }
        Ok((b, n))
    }

    /// The credential (its text form, trimmed) parsed and with its authority signature
    /// verified, from the cache when this exact text was verified under this authority key
    /// before: a department presents the same credential with every query.
    fn verified_credential(
        &self,
        text: &str,
        authority: &PublicKey,
    ) -> std::result::Result<Verified<Credential>, QueryError> {
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        h.update(authority.as_bytes());
        h.update(text.as_bytes());
        // Cannot fail: SHA-256 digests are always 32 bytes.
        let key: [u8; 32] = h.finish().as_ref().try_into().expect("32 bytes");
        if let Ok(c) = self.credential_cache.0.lock()
            && let Some(v) = c.get(&key)
        {
            return Ok(v.clone());
        }
        let cred = Unverified::<Credential>::parse_text(text).map_err(|e| QueryError::Denied(e.into()))?;
        let v = credseal_auth::verify_credential_signature(&cred, authority).map_err(QueryError::Denied)?;
        if let Ok(mut c) = self.credential_cache.0.lock() {
            if c.len() >= 1024 {
                c.clear();
            }
            c.insert(key, v.clone());
        }
        Ok(v)
    }

    /// Checks a department's credential and token (text form) against the trusted
    /// authority key, the policy, the revocations, replay and consent counters; returns the
    /// verified grant and the replay entries it consumed. `ks` is the operation's keystore
    /// snapshot, `catalog` the platform's.
    pub(crate) fn check_query(
        &self,
        ks: &Keystore,
        catalog: &Catalog,
        credential: &str,
        token: &str,
        now: u64,
    ) -> std::result::Result<Granted, Refusal> {
        let authority = self.trusted_authority(ks)?;
        let verified = self.verified_credential(credential.trim(), &authority)?;
        let tok = Unverified::<Token>::parse_text(token.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        // The subject named by the (not yet verified) token, only to look up its key for
        // the consent check (a token without a consent does not need it); the verifier
        // checks the token before anything depends on it.
        let subject_key = match tok.peek_unverified() {
            Ok(t) if t.consent.is_some() => self.subject_public_key(ks, &t.subject)?,
            Ok(_) => None,
            Err(e) => return Err(QueryError::Denied(e.into()).into()),
        };
        let revocations = self.revocations(ks)?;
        let policy = self.policy();
        let ctx = VerifyContext {
            now,
            authority: &authority,
            audience: &self.origin,
            policy: &policy,
            catalog,
            revocations: revocations.as_ref(),
            subject_key,
        };
        let checked = match credseal_auth::verify_query_with_credential(&verified, &tok, &ctx) {
            Ok(c) => c,
            Err(denial) => {
                return Err(Refusal::Denied {
                    denial,
                    credential: Box::new(verified),
                    token: Box::new(tok),
                    marks: Vec::new(),
                });
            }
        };
        // A consent the subject withdrew: denied for every query that starts after the
        // withdrawal was installed (receipted; the query id is not spent).
        if let Some(cid) = checked.consent_id() {
            let blind = self.blinds.blind(ks, checked.subject()).map_err(QueryError::Failed)?;
            if self.consent_withdrawn(ks, &blind, cid)? {
                return Err(Refusal::Denied {
                    denial: Denial::ConsentWithdrawn,
                    credential: Box::new(verified),
                    token: Box::new(tok),
                    marks: Vec::new(),
                });
            }
        }
        let mut marks = Vec::new();
        match self.finish(ks, checked, &mut marks) {
            Ok(inner) => Ok(Granted { inner, marks }),
            Err(QueryError::Denied(denial)) => Err(Refusal::Denied {
                denial,
                credential: Box::new(verified),
                token: Box::new(tok),
                marks,
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Checks a subject's query for its own records (text form) against the subject's
    /// registered key, the policy and the replay counter; returns the verified grant and
    /// the replay entries it consumed.
    pub(crate) fn check_self_query(
        &self,
        ks: &Keystore,
        catalog: &Catalog,
        query: &str,
        now: u64,
    ) -> std::result::Result<Granted, QueryError> {
        let q = Unverified::<SelfQuery>::parse_text(query.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        let subject_key = match q.peek_unverified() {
            Ok(b) => self.subject_public_key(ks, &b.subject)?,
            Err(e) => return Err(QueryError::Denied(e.into())),
        };
        let authority = self.trusted_authority(ks).ok();
        // Self-queries need no authority; the context still wants a key to name.
        let fallback = credseal_auth::SigningKey::from_seed(&[0x42; 32]).public();
        let policy = self.policy();
        let ctx = VerifyContext {
            now,
            authority: authority.as_ref().unwrap_or(&fallback),
            audience: &self.origin,
            policy: &policy,
            catalog,
            revocations: None,
            subject_key,
        };
        let checked = credseal_auth::verify_self_query(&q, &ctx).map_err(QueryError::Denied)?;
        let mut marks = Vec::new();
        let inner = self.finish(ks, checked, &mut marks)?;
        Ok(Granted { inner, marks })
    }
}
