//! The query path (docs/design.md §6): verify authority → unwrap only the granted classes' data
//! keys → decrypt → build the answer → HPKE-seal it to the requester's sealing key.
//!
//! Only a [`Grant`] opens data keys: [`Platform::answer`] takes one, and the only way to a
//! `Grant` is `credseal_auth`'s verifier followed by the replay and consent-use checks
//! against this platform's store ([`credseal_auth::Checked::finish`]).

use credseal_auth::{Credential, Denial, Token, Unverified};
use credseal_core::{Record, SubjectId};
use credseal_crypto::{Keystore, SealedBox, SealingKey, SealingPublicKey};
use credseal_store::{Batch, Tree};
use serde::{Deserialize, Serialize};

use crate::components::gate::{Granted, Refusal};
use crate::error::{EngineError, QueryError, Result};
use crate::log::{NewReceipt, Slot};
use crate::platform::Platform;
use credseal_log::{Action, Actor, Outcome};

/// Text label of a sealed answer: `cs1.answer.<base64url>`.
pub const ANSWER_LABEL: &str = "answer";
/// Format of sealed answers.
pub(crate) const ANSWER_FORMAT: u8 = 1;
/// Trace-key label of a release digest (what an answer disclosed).
pub(crate) const RELEASE_LABEL: &[u8] = b"credseal:v1:release";

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

impl Platform {
    /// Runs a department's query: the credential and token in their text form.
    pub fn query(&self, credential: &str, token: &str, now: u64) -> std::result::Result<SealedAnswer, QueryError> {
        // Counted as under way until its receipt is committed, so a commit leader waits a
        // moment for it (group commit).
        let _active = self.appender.active();
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
        let _active = self.appender.active();
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
        match self.gate.check_query(&ks, &self.catalog, credential, token, now) {
            Ok(granted) => {
                let (inner, marks) = granted.split_marks();
                Ok(Grant {
                    marks,
                    inner,
                    platform: self,
                    keys: ks,
                    slot,
                    now,
                })
            }
            Err(Refusal::Plain(e)) => Err(e),
            Err(Refusal::Denied {
                denial,
                credential,
                token,
                marks,
            }) => Err(self.deny(&ks, denial, Some(credential.body()), &token, now, marks, slot)),
        }
    }

    /// A denial of a query whose department signature verified leaves a receipt (docs/design.md §6);
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
        let _active = self.appender.active();
        let slot = self.reserve_receipt()?;
        let ks = self.keys();
        let (inner, marks) = self
            .gate
            .check_self_query(&ks, &self.catalog, query, now)?
            .split_marks();
        let grant = Grant {
            marks,
            inner,
            platform: self,
            keys: ks,
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
            inner: granted,
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
        let (blind, records) = self.vault.open_granted(&ks, &granted)?;
        let grant = granted.auth();
        let subject = grant.subject();
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
        // docs/design.md §9: a fingerprint of every released field, stored with the receipt.
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
    inner: Granted,
    platform: &'p Platform,
    keys: std::sync::Arc<Keystore>,
    marks: Vec<(Tree, Vec<u8>, Vec<u8>)>,
    slot: Slot<'p>,
    now: u64,
}

impl std::fmt::Debug for Grant<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("department_id", &self.inner.auth().department_id())
            .field("purpose", &self.inner.auth().purpose())
            .field("classes", &self.inner.auth().classes())
            .finish_non_exhaustive()
    }
}

impl Grant<'_> {
    /// The department granted (`subject` for a self-query).
    pub fn department_id(&self) -> &str {
        self.inner.auth().department_id()
    }

    /// The purpose granted.
    pub fn purpose(&self) -> &str {
        self.inner.auth().purpose()
    }

    /// The classes granted.
    pub fn classes(&self) -> &std::collections::BTreeSet<String> {
        self.inner.auth().classes()
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
