//! The query path (DESIGN §6): verify authority → unwrap only the granted classes' data
//! keys → decrypt → build the answer → HPKE-seal it to the requester's sealing key.
//!
//! Only a [`Grant`] opens data keys: [`Platform::answer`] takes one, and the only way to a
//! `Grant` is `credseal_auth`'s verifier followed by the replay and consent-use checks
//! against this platform's store ([`credseal_auth::Checked::finish`]).

use std::sync::Mutex;

use credseal_auth::{
    Checked, Credential, Denial, Policy, PublicKey, RevocationList, SelfQuery, Token, Unverified, Verified,
    VerifyContext,
};
use credseal_core::{Record, SubjectId};
use credseal_crypto::{Keystore, SealedBox, SealingKey, SealingPublicKey};
use credseal_store::{Batch, Tree};
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::log::{NewReceipt, Slot};
use crate::platform::Platform;
use credseal_log::{Action, Actor, Outcome};

/// Text label of a sealed answer: `cs1.answer.<base64url>`.
pub const ANSWER_LABEL: &str = "answer";
/// Format of sealed answers.
pub(crate) const ANSWER_FORMAT: u8 = 1;
/// Trace-key label of a release digest (what an answer disclosed).
pub(crate) const RELEASE_LABEL: &[u8] = b"credseal:v1:release";
/// `Revocations` key of the installed revocation list (its wire bytes).
const REVOCATIONS_CURRENT: &[u8] = b"current";
/// `Replay` key prefixes: query ids (value: keep-until time), consent uses (by subject,
/// consent id and use number).
const REPLAY_QUERY: u8 = b'q';
const REPLAY_CONSENT: u8 = b'c';

/// What the requester receives once opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerBody {
    /// The platform that answered.
    pub origin: String,
    /// The query it answers.
    pub query_id: [u8; 16],
    /// The purpose the query was granted for.
    pub purpose: String,
    /// The requesting department (`subject` for a self-query).
    pub department_id: String,
    /// The subject asked about.
    pub subject: String,
    /// The classes granted.
    pub classes: Vec<String>,
    /// Unix time of the answer.
    pub answered_at: u64,
    /// Every record of the granted classes.
    pub records: Vec<Record>,
}

/// A sealed answer as released by the platform: only the holder of the requester's
/// sealing key opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedAnswer {
    /// Format (1).
    pub format: u8,
    /// The platform's origin (part of the HPKE info).
    pub origin: String,
    /// The query id (part of the HPKE info).
    pub query_id: [u8; 16],
    /// The signed receipt of this disclosure; its leaf hash is part of the HPKE info.
    pub receipt: Vec<u8>,
    /// HPKE encapsulated key and ciphertext.
    pub sealed: Vec<u8>,
}

impl SealedAnswer {
    /// `cs1.answer.<base64url(postcard)>`.
    pub fn to_text(&self) -> String {
        use base64::Engine;
        // Serialising plain data cannot fail.
        let bytes = postcard::to_stdvec(self).expect("serialisable");
        format!(
            "cs1.{ANSWER_LABEL}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }

    /// Parses the text form strictly.
    pub fn from_text(text: &str) -> Result<Self> {
        use base64::Engine;
        let bad = |d: &str| EngineError::Verification(format!("not a sealed answer: {d}"));
        let b64 = text
            .trim()
            .strip_prefix(&format!("cs1.{ANSWER_LABEL}."))
            .ok_or_else(|| bad("wrong prefix"))?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| bad("bad base64"))?;
        let (a, rest): (Self, _) = postcard::take_from_bytes(&bytes).map_err(|_| bad("does not decode"))?;
        if !rest.is_empty() || a.format != ANSWER_FORMAT || postcard::to_stdvec(&a).ok().as_deref() != Some(&bytes[..])
        {
            return Err(bad("non-canonical or unknown format"));
        }
        Ok(a)
    }

    /// Opens with the requester's sealing key and checks the answer names the same
    /// platform and query as its envelope.
    pub fn open(&self, key: &SealingKey) -> Result<AnswerBody> {
        // The origin goes into the HPKE info with a 16-bit length; an answer file is input,
        // so an impossible origin is refused here rather than reaching that encoding.
        if !crate::valid_origin(&self.origin) {
            return Err(EngineError::Verification(
                "the answer names an invalid platform origin".into(),
            ));
        }
        let sealed = SealedBox::from_bytes(&self.sealed)
            .map_err(|e| EngineError::Verification(format!("sealed answer: {e}")))?;
        let leaf = credseal_c2sp::record_hash(&self.receipt);
        let info = credseal_crypto::answer_info(&self.origin, &self.query_id, Some(&leaf));
        let pt = credseal_crypto::open(key, &info, &[], &sealed).map_err(|_| {
            EngineError::Verification(
                "the answer does not open with this key: it is for another key, or was altered".into(),
            )
        })?;
        let body: AnswerBody = postcard::from_bytes(&pt)
            .map_err(|_| EngineError::Verification("the opened answer does not decode".into()))?;
        if body.origin != self.origin || body.query_id != self.query_id {
            return Err(EngineError::Verification(
                "the answer's contents do not match its envelope".into(),
            ));
        }
        Ok(body)
    }
}

/// Why a query produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The authority does not allow it (exit 3), or the objects are forged or malformed
    /// (exit 4): see [`Denial::is_forgery`].
    #[error("access denied ({}): {}", .0.code(), .0)]
    Denied(Denial),
    /// The platform failed.
    #[error(transparent)]
    Failed(EngineError),
}

impl From<EngineError> for QueryError {
    fn from(e: EngineError) -> Self {
        Self::Failed(e)
    }
}

impl From<credseal_store::StoreError> for QueryError {
    fn from(e: credseal_store::StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl QueryError {
    /// The exit class: denials are 3, forged or malformed objects 4.
    pub fn class(&self) -> crate::ErrorClass {
        match self {
            Self::Denied(d) if d.is_forgery() => crate::ErrorClass::Verification,
            Self::Denied(_) => crate::ErrorClass::Denied,
            Self::Failed(e) => e.class(),
        }
    }
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

impl Platform {
    /// The query policy (clock skew, maximum token lifetime).
    pub fn policy(&self) -> Policy {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sets the query policy (from `credseal.toml`, or tests); queries that start after
    /// this returns use it.
    pub fn set_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    pub(crate) fn trusted_authority(&self) -> Result<PublicKey> {
        self.trusted_authority_in(&self.keys())
    }

    pub(crate) fn trusted_authority_in(&self, ks: &Keystore) -> Result<PublicKey> {
        let k = self.authority_key_in(ks)?.ok_or(EngineError::NoAuthority)?;
        self.authority_cache.get_or_try(k, || {
            PublicKey::from_bytes(&k).map_err(|_| EngineError::Corrupt {
                what: "authority key".into(),
                detail: "not a valid Ed25519 key".into(),
            })
        })
    }

    /// The installed revocation list, verified.
    pub fn revocations(&self) -> Result<Option<RevocationList>> {
        let Some(bytes) = self.store.get(Tree::Revocations, REVOCATIONS_CURRENT)? else {
            return Ok(None);
        };
        let list = self.revocation_cache.get_or_try(credseal_crypto::sha256(&bytes), || {
            let corrupt = |detail: String| EngineError::Corrupt {
                what: "installed revocation list".into(),
                detail,
            };
            let u = Unverified::<RevocationList>::parse_bytes(&bytes).map_err(|e| corrupt(e.to_string()))?;
            let v = credseal_auth::verify_revocation_list(&u, &self.trusted_authority()?, self.origin(), None)
                .map_err(|e| corrupt(e.to_string()))?;
            Ok(v.into_body())
        })?;
        Ok(Some(list))
    }

    /// Installs a newer revocation list signed by the authority; an older or equal version
    /// is refused. Takes effect for every query that starts after this returns.
    pub fn install_revocations(
        &self,
        session: &crate::StaffSession,
        text: &str,
    ) -> std::result::Result<u64, QueryError> {
        let u = Unverified::<RevocationList>::parse_text(text.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        let _w = self.write_lock.lock().map_err(|_| EngineError::poisoned("write"))?;
        let current = self.revocations()?.map(|l| l.version);
        let v = credseal_auth::verify_revocation_list(&u, &self.trusted_authority()?, self.origin(), current)
            .map_err(QueryError::Denied)?;
        let mut b = Batch::new();
        b.put(Tree::Revocations, REVOCATIONS_CURRENT, u.as_bytes().to_vec());
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!(
                "install revocation list v{} ({} serials)",
                v.body().version,
                v.body().revoked.len()
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(v.body().version)
    }

    fn subject_public_key(&self, ks: &Keystore, subject: &str) -> Result<Option<PublicKey>> {
        let Ok(id) = SubjectId::parse(subject) else {
            return Ok(None);
        };
        match self.subject_key_in(ks, &id)? {
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
        marks: &mut Vec<(Tree, Vec<u8>, Vec<u8>)>,
    ) -> std::result::Result<credseal_auth::Grant, QueryError> {
        // Consent uses are counted per subject and consent id: the id is chosen by whoever
        // signs, so another subject reusing it must not spend this subject's uses.
        let subject_blind = ks.index_key.blind(checked.subject());
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
                            .push((Tree::Replay, k, keep_until.to_be_bytes().to_vec()));
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
                            written.borrow_mut().push((Tree::Replay, k, Vec::new()));
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

    /// Removes replay entries whose tokens have expired anyway (a replayed expired token is
    /// denied as expired). Returns how many.
    pub fn sweep_replay(&self, now: u64) -> Result<u64> {
        let mut b = Batch::new();
        let mut n = 0;
        // Query ids and staff request ids (`staff.rs`) both keep their expiry as the value.
        for prefix in [REPLAY_QUERY, b's'] {
            for kv in self.store.scan_prefix(Tree::Replay, &[prefix]) {
                let (k, v) = kv?;
                let until = v.as_slice().try_into().map(u64::from_be_bytes).unwrap_or(u64::MAX);
                if until < now {
                    b.delete(Tree::Replay, k);
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.store.apply(b)?;
        }
        Ok(n)
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

    /// Runs a department's query: the credential and token in their text form.
    pub fn query(&self, credential: &str, token: &str, now: u64) -> std::result::Result<SealedAnswer, QueryError> {
        // Counted as under way until its receipt is committed, so a commit leader waits a
        // moment for it (group commit).
        let _active = self.log.active();
        let grant = self.authorize_inner(credential, token, now)?;
        self.submit_answer(grant)?.wait()
    }

    /// [`Platform::query`] without waiting for the receipt: everything up to queueing the
    /// receipt for the next group commit. The answer is sealed and released by
    /// [`PendingAnswer::wait`] once the receipt is durable — a server thread can start its
    /// next query meanwhile. A denial still returns at once, after its receipt is durable.
    /// A full receipt queue refuses the query at once ([`EngineError::Pushback`]) before
    /// anything is written.
    pub fn submit_query(
        &self,
        credential: &str,
        token: &str,
        now: u64,
    ) -> std::result::Result<PendingAnswer<'_>, QueryError> {
        let _active = self.log.active();
        let grant = self.authorize_inner(credential, token, now)?;
        Ok(self.submit_answer(grant)?)
    }

    /// The gate alone: checks a department's credential and token against this platform's
    /// authority key, policy, revocations, replay and consent counters, and returns the
    /// [`Grant`] that [`Platform::submit_answer`] turns into an answer. A denial leaves its
    /// receipt. The grant holds a place in the receipt queue and is spent by one answer.
    pub fn authorize(&self, credential: &str, token: &str, now: u64) -> std::result::Result<Grant<'_>, QueryError> {
        self.authorize_inner(credential, token, now)
    }

    fn authorize_inner(&self, credential: &str, token: &str, now: u64) -> std::result::Result<Grant<'_>, QueryError> {
        // A place in the receipt queue first: a full queue refuses before anything is written.
        let slot = self.reserve_receipt()?;
        let ks = self.keys();
        let authority = self.trusted_authority_in(&ks)?;
        let verified = self.verified_credential(credential.trim(), &authority)?;
        let tok = Unverified::<Token>::parse_text(token.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        // The subject named by the (not yet verified) token, only to look up its key for
        // the consent check (a token without a consent does not need it); the verifier
        // checks the token before anything depends on it.
        let subject_key = match tok.peek_unverified() {
            Ok(t) if t.consent.is_some() => self.subject_public_key(&ks, &t.subject)?,
            Ok(_) => None,
            Err(e) => return Err(QueryError::Denied(e.into())),
        };
        let revocations = self.revocations()?;
        let policy = self.policy();
        let ctx = VerifyContext {
            now,
            authority: &authority,
            audience: self.origin(),
            policy: &policy,
            catalog: &self.catalog,
            revocations: revocations.as_ref(),
            subject_key,
        };
        let checked = match credseal_auth::verify_query_with_credential(&verified, &tok, &ctx) {
            Ok(c) => c,
            Err(d) => return Err(self.deny(&ks, d, Some(verified.body()), &tok, now, Vec::new(), slot)),
        };
        let mut marks = Vec::new();
        match self.finish(&ks, checked, &mut marks) {
            Ok(g) => Ok(Grant {
                inner: g,
                platform: self,
                keys: ks,
                marks,
                slot,
                now,
            }),
            Err(QueryError::Denied(d)) => Err(self.deny(&ks, d, Some(verified.body()), &tok, now, marks, slot)),
            Err(other) => Err(other),
        }
    }

    /// A denial of a query whose department signature verified leaves a receipt (DESIGN §6);
    /// if the receipt cannot be written, the query fails with that error instead.
    #[allow(clippy::too_many_arguments)]
    fn deny(
        &self,
        ks: &Keystore,
        d: Denial,
        cred: Option<&Credential>,
        tok: &Unverified<Token>,
        now: u64,
        marks: Vec<(Tree, Vec<u8>, Vec<u8>)>,
        slot: Slot<'_>,
    ) -> QueryError {
        if !d.query_authenticated() {
            return QueryError::Denied(d);
        }
        let (Some(cred), Ok(t)) = (cred, tok.peek_unverified()) else {
            return QueryError::Denied(d);
        };
        let subject = SubjectId::parse(&t.subject).ok().map(|s| ks.index_key.blind(&s));
        let canary = match subject.as_ref().map(|b| self.is_canary(b)).transpose() {
            Ok(c) => c.unwrap_or(false),
            Err(e) => return QueryError::Failed(e),
        };
        let r = NewReceipt {
            actor: Actor::Department {
                id: cred.department_id.clone(),
                credential_serial: cred.serial,
            },
            action: Action::Query,
            detail: String::new(),
            subject,
            classes: t.classes.clone(),
            purpose: t.purpose.clone(),
            token_hash: Some(tok.digest()),
            outcome: Outcome::Denied {
                code: d.code().to_string(),
            },
            release_digest: None,
            disclose_after: self.disclose_after(&t.purpose, now),
            marks,
            flags: if canary { crate::FLAG_CANARY } else { 0 },
            fingerprints: None,
        };
        let committed = self
            .enqueue_receipts(vec![r], Batch::new(), now, Some(slot))
            .and_then(|t| self.wait_receipts(t, now));
        match committed {
            Ok(c) => {
                if canary && let Some(c) = c.first() {
                    self.raise_alert(crate::CanaryAlert {
                        receipt: c.index,
                        time: now,
                        department: cred.department_id.clone(),
                        credential_serial: Some(cred.serial),
                        purpose: t.purpose.clone(),
                        outcome: format!("denied ({})", d.code()),
                    });
                }
                QueryError::Denied(d)
            }
            Err(e) => QueryError::Failed(e),
        }
    }

    /// When a receipt for `purpose` may be shown to the subject (delayed disclosure).
    pub(crate) fn disclose_after(&self, purpose: &str, now: u64) -> Option<u64> {
        let days = self
            .catalog
            .purposes
            .get(purpose)
            .map_or(0, |p| p.disclosure_delay_days);
        (days > 0).then(|| now.saturating_add(u64::from(days) * 86_400))
    }

    /// Runs a subject's query for its own records.
    pub fn self_query(&self, query: &str, now: u64) -> std::result::Result<SealedAnswer, QueryError> {
        let _active = self.log.active();
        let slot = self.reserve_receipt()?;
        let ks = self.keys();
        let q = Unverified::<SelfQuery>::parse_text(query.trim()).map_err(|e| QueryError::Denied(e.into()))?;
        let subject_key = match q.peek_unverified() {
            Ok(b) => self.subject_public_key(&ks, &b.subject)?,
            Err(e) => return Err(QueryError::Denied(e.into())),
        };
        let authority = self.trusted_authority_in(&ks).ok();
        // Self-queries need no authority; the context still wants a key to name.
        let fallback = credseal_auth::SigningKey::from_seed(&[0x42; 32]).public();
        let policy = self.policy();
        let ctx = VerifyContext {
            now,
            authority: authority.as_ref().unwrap_or(&fallback),
            audience: self.origin(),
            policy: &policy,
            catalog: &self.catalog,
            revocations: None,
            subject_key,
        };
        let checked = credseal_auth::verify_self_query(&q, &ctx).map_err(QueryError::Denied)?;
        let mut marks = Vec::new();
        let inner = self.finish(&ks, checked, &mut marks)?;
        let grant = Grant {
            inner,
            platform: self,
            keys: ks,
            marks,
            slot,
            now,
        };
        self.submit_answer(grant)?.wait()
    }

    /// Decrypts the granted classes of the granted subject and queues the disclosure's
    /// receipt, with the replay entries the grant consumed, for the next group commit.
    /// Nothing is sealed yet: [`PendingAnswer::wait`] seals and releases the answer once
    /// the receipt is durable. The only path to plaintext for a requester: it takes a
    /// [`Grant`], which only this platform's gate issues ([`Platform::authorize`]).
    pub fn submit_answer<'p>(&'p self, grant: Grant<'p>) -> Result<PendingAnswer<'p>> {
        let Grant {
            inner: grant,
            platform,
            keys: ks,
            marks,
            slot,
            now,
        } = grant;
        if !std::ptr::eq(platform, self) {
            return Err(EngineError::denied(
                "grant_other_platform",
                "the grant was issued by another platform handle",
            ));
        }
        let subject = grant.subject();
        let blind = ks.index_key.blind(subject);
        let mut records = Vec::new();
        if let Some(recs) = self.load_subject(&blind)? {
            for class in grant.classes() {
                records.extend(self.open_class(&ks, subject, &blind, class, &recs)?);
            }
        }
        let body = AnswerBody {
            origin: self.origin().to_string(),
            query_id: *grant.query_id(),
            purpose: grant.purpose().to_string(),
            department_id: grant.department_id().to_string(),
            subject: subject.to_string(),
            classes: grant.classes().iter().cloned().collect(),
            answered_at: now,
            records,
        };
        // Sized for the usual answer up front: every regrowth would leave a copy of the
        // plaintext behind in freed memory, where `Zeroizing` cannot reach it.
        let guess = 512 + 512 * body.records.len();
        let pt = zeroize::Zeroizing::new(
            postcard::to_extend(&body, Vec::with_capacity(guess))
                .map_err(|e| EngineError::Internal(format!("encoding the answer: {e}")))?,
        );
        // DESIGN §9: a fingerprint of every released field, stored with the receipt.
        let fingerprints = self.fingerprints_of(&ks, &blind, &body.records);
        let canary = self.is_canary(&blind)?;
        // No disclosure without a durable receipt: append (flushed) before sealing.
        let self_query = grant.credential_serial().is_none();
        let receipt = NewReceipt {
            actor: match grant.credential_serial() {
                Some(serial) => Actor::Department {
                    id: grant.department_id().to_string(),
                    credential_serial: serial,
                },
                None => Actor::Subject,
            },
            action: if self_query { Action::SelfQuery } else { Action::Query },
            detail: String::new(),
            subject: Some(blind),
            classes: grant.classes().clone(),
            purpose: grant.purpose().to_string(),
            token_hash: Some(*grant.token_digest()),
            outcome: Outcome::Granted,
            release_digest: Some(ks.trace_key.digest(RELEASE_LABEL, &[&pt[..]])),
            disclose_after: if self_query {
                None
            } else {
                self.disclose_after(grant.purpose(), now)
            },
            marks,
            flags: if canary { crate::FLAG_CANARY } else { 0 },
            fingerprints: Some(fingerprints),
        };
        let recipient = SealingPublicKey::from_bytes(grant.sealing_key())
            .map_err(|e| EngineError::invalid("the requester's sealing key", e.to_string()))?;
        drop(ks);
        let tickets = self.enqueue_receipts(vec![receipt], Batch::new(), now, Some(slot))?;
        Ok(PendingAnswer {
            platform: self,
            tickets,
            now,
            pt,
            recipient,
            query_id: *grant.query_id(),
            canary: canary.then(|| crate::CanaryAlert {
                receipt: 0,
                time: now,
                department: grant.department_id().to_string(),
                credential_serial: grant.credential_serial(),
                purpose: grant.purpose().to_string(),
                outcome: "granted".into(),
            }),
        })
    }
}

/// A query granted by this platform's gate ([`Platform::authorize`]): the verified
/// [`credseal_auth::Grant`], the replay entries it consumed, its place in the receipt queue
/// and the keystore snapshot of its operation. Only the gate makes one, it lives no longer
/// than the platform that issued it, and one answer spends it
/// ([`Platform::submit_answer`]).
///
/// Outside the engine a grant cannot be constructed:
///
/// ```compile_fail,E0451
/// # fn f<'p>(p: &'p credseal_engine::Platform, g: credseal_auth::Grant, slot: ()) {
/// let forged = credseal_engine::Grant { inner: g, platform: p, keys: todo!(), marks: vec![], slot: todo!(), now: 0 };
/// # }
/// ```
///
/// and a `credseal_auth::Grant` (which anyone verifying a token against their own authority
/// key can make) is not accepted where the engine's grant is required:
///
/// ```compile_fail,E0308
/// fn answer_with(p: &credseal_engine::Platform, g: credseal_auth::Grant) {
///     let _ = p.submit_answer(g);
/// }
/// ```
///
/// The same call with the engine's grant compiles:
///
/// ```
/// fn answer_with<'p>(p: &'p credseal_engine::Platform, g: credseal_engine::Grant<'p>) {
///     let _ = p.submit_answer(g);
/// }
/// ```
pub struct Grant<'p> {
    inner: credseal_auth::Grant,
    platform: &'p Platform,
    keys: std::sync::Arc<Keystore>,
    marks: Vec<(Tree, Vec<u8>, Vec<u8>)>,
    slot: Slot<'p>,
    now: u64,
}

impl std::fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("department_id", &self.inner.department_id())
            .field("purpose", &self.inner.purpose())
            .field("classes", &self.inner.classes())
            .finish_non_exhaustive()
    }
}

impl Grant<'_> {
    /// The department granted (`subject` for a self-query).
    pub fn department_id(&self) -> &str {
        self.inner.department_id()
    }

    /// The purpose granted.
    pub fn purpose(&self) -> &str {
        self.inner.purpose()
    }

    /// The classes granted.
    pub fn classes(&self) -> &std::collections::BTreeSet<String> {
        self.inner.classes()
    }
}

/// A granted query whose receipt waits in the group-commit queue. Nothing is sealed or
/// released until [`PendingAnswer::wait`] has seen the receipt durable; dropped unwaited,
/// the receipt is still committed and the answer is never sealed.
pub struct PendingAnswer<'a> {
    platform: &'a Platform,
    tickets: crate::log::Tickets<'a>,
    now: u64,
    pt: zeroize::Zeroizing<Vec<u8>>,
    recipient: SealingPublicKey,
    query_id: [u8; 16],
    canary: Option<crate::CanaryAlert>,
}

impl std::fmt::Debug for PendingAnswer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAnswer").finish_non_exhaustive()
    }
}

impl PendingAnswer<'_> {
    /// Waits for the receipt to be durable (leading a group commit if no one else is),
    /// then seals the answer to the requester, its HPKE `info` bound to the receipt's leaf.
    /// If the receipt cannot be written, nothing is released.
    pub fn wait(self) -> std::result::Result<SealedAnswer, QueryError> {
        let p = self.platform;
        let committed = p
            .wait_receipts(self.tickets, self.now)?
            .pop()
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?;
        if let Some(mut alert) = self.canary {
            alert.receipt = committed.index;
            p.raise_alert(alert);
        }
        let info = credseal_crypto::answer_info(p.origin(), &self.query_id, Some(&committed.leaf_hash));
        let sealed = credseal_crypto::seal(&self.recipient, &info, &[], &self.pt)
            .map_err(|e| EngineError::Internal(format!("sealing the answer: {e}")))?;
        Ok(SealedAnswer {
            format: ANSWER_FORMAT,
            origin: p.origin().to_string(),
            query_id: self.query_id,
            receipt: committed.receipt,
            sealed: sealed.to_bytes(),
        })
    }
}
