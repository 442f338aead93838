//! The disclosure component (docs/design.md §6): a grant from the gate → the granted classes
//! opened by the vault → the answer built, its receipt queued with the appender → the answer
//! sealed to the requester's sealing key once the receipt is durable.
//!
//! Only a [`Grant`] opens data keys: [`Disclosure::submit_answer`] takes one, and the only way
//! to a `Grant` is the gate's checks ([`Disclosure::authorize`], [`Disclosure::self_query`]):
//! `credseal_auth`'s verifier followed by the replay and consent-use checks against the store
//! ([`credseal_auth::Checked::finish`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use credseal_auth::{Credential, Denial, Token, Unverified};
use credseal_core::{BlindId, Catalog, Record, SubjectId};
use credseal_crypto::{Keystore, SealedBox, SealingKey, SealingPublicKey};
use credseal_log::{Action, Actor, Outcome};
use credseal_store::{Batch, Tree};
use serde::{Deserialize, Serialize};

use crate::components::appender::{Active, Appender, NewReceipt, Slot, Tickets};
use crate::components::datadir::valid_origin;
use crate::components::gate::{Gate, Granted, Refusal};
use crate::components::vault::Vault;
use crate::error::{EngineError, QueryError, Result};

/// Text label of a sealed answer: `cs1.answer.<base64url>`.
pub const ANSWER_LABEL: &str = "answer";
/// Format of sealed answers (2: the plaintext carries a random nonce and the receipt's
/// `release_digest` commits to it, `credseal_log::answer_digest`).
pub const ANSWER_FORMAT: u8 = 2;

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
    /// 32 fresh random bytes, so that the receipt's commitment to this plaintext
    /// (`credseal_log::answer_digest`) confirms no guess of it.
    pub nonce: [u8; 32],
    /// A self-query's answer: the platform's VRF proof (80 bytes) for the subject's
    /// normalised id, from which the subject derives and checks its own BlindId
    /// (`docs/formats.md` §3). Empty in a department's answer.
    pub vrf_proof: Vec<u8>,
}

/// A sealed answer as released by the platform: only the holder of the requester's
/// sealing key opens it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedAnswer {
    /// Format ([`ANSWER_FORMAT`], 2).
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
        format!(
            "cs1.{ANSWER_LABEL}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.to_postcard())
        )
    }

    /// `postcard::to_stdvec(self)`, byte for byte, with the two byte vectors copied whole:
    /// serde hands a `Vec<u8>` to postcard one `serialize_u8` call per byte (about 6 µs per
    /// answer in the service), while `serialize_bytes` writes the same length prefix and
    /// bytes in one copy.
    fn to_postcard(&self) -> Vec<u8> {
        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        #[derive(Serialize)]
        struct Wire<'a> {
            format: u8,
            origin: &'a str,
            query_id: &'a [u8; 16],
            receipt: Bytes<'a>,
            sealed: Bytes<'a>,
        }
        let wire = Wire {
            format: self.format,
            origin: &self.origin,
            query_id: &self.query_id,
            receipt: Bytes(&self.receipt),
            sealed: Bytes(&self.sealed),
        };
        let mut out = Vec::with_capacity(32 + self.origin.len() + self.receipt.len() + self.sealed.len());
        // Serialising plain data into a vector cannot fail.
        out = postcard::to_extend(&wire, out).expect("serialisable");
        out
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

    /// Opens an answer received from the platform and authenticates it
    /// (`credseal_log::verify_answer_receipt`): its receipt is signed by `log`, is the
    /// receipt of `request` (the requester's own token or self-query), the HPKE `info` is
    /// bound to that receipt's leaf hash, the plaintext is the one the receipt commits to, and
    /// the answer is about the request's query, subject, classes and purpose. A forged or
    /// substituted answer is [`EngineError::Verification`], and nothing is returned.
    pub fn open_verified(
        &self,
        key: &SealingKey,
        log: &credseal_log::LogVerifier,
        request: &credseal_log::AnswerRequest,
    ) -> Result<AnswerBody> {
        let fail = |e: credseal_log::AnswerError| EngineError::Verification(e.to_string());
        let receipt = credseal_log::verify_answer_receipt(&self.receipt, log, request).map_err(fail)?;
        if self.origin != log.origin() || self.query_id != request.query_id {
            return Err(fail(credseal_log::AnswerError::ContentMismatch {
                what: "the envelope names another platform or query",
            }));
        }
        let (body, pt) = self.open_inner(key, &receipt.leaf_hash())?;
        credseal_log::check_answer_plaintext(&receipt, &pt).map_err(fail)?;
        let r = receipt.body();
        let classes: std::collections::BTreeSet<String> = body.classes.iter().cloned().collect();
        let mismatch = if body.subject != request.subject {
            Some("subject")
        } else if classes != r.classes || classes.len() != body.classes.len() {
            Some("classes")
        } else if body.purpose != r.purpose {
            Some("purpose")
        } else {
            None
        };
        if let Some(what) = mismatch {
            return Err(fail(credseal_log::AnswerError::ContentMismatch { what }));
        }
        Ok(body)
    }

    /// Opens with the requester's sealing key and checks the answer names the same
    /// platform and query as its envelope. **Does not authenticate the platform** (HPKE base
    /// mode authenticates no sender): for the platform's own in-process callers and tests;
    /// an answer received from elsewhere goes through [`SealedAnswer::open_verified`].
    pub fn open(&self, key: &SealingKey) -> Result<AnswerBody> {
        // The leaf hash of the receipt as received (unverified: this path authenticates
        // nothing); a receipt that does not even parse binds no answer.
        let leaf = credseal_log::UnverifiedReceipt::parse(&self.receipt)
            .map_err(|e| EngineError::Verification(format!("the answer's receipt: {e}")))?
            .leaf_hash();
        Ok(self.open_inner(key, &leaf)?.0)
    }

    /// Opens with the HPKE `info` bound to `leaf`; the body and the plaintext it decoded from.
    fn open_inner(&self, key: &SealingKey, leaf: &[u8; 32]) -> Result<(AnswerBody, zeroize::Zeroizing<Vec<u8>>)> {
        // The origin goes into the HPKE info with a 16-bit length; an answer file is input,
        // so an impossible origin is refused here rather than reaching that encoding.
        if !valid_origin(&self.origin) {
            return Err(EngineError::Verification(
                "the answer names an invalid platform origin".into(),
            ));
        }
        let sealed = SealedBox::from_bytes(&self.sealed)
            .map_err(|e| EngineError::Verification(format!("sealed answer: {e}")))?;
        let info = credseal_crypto::answer_info(&self.origin, &self.query_id, Some(leaf));
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
        Ok((body, pt))
    }
}

/// What a disclosure reports to incident detection: whether a subject is a canary, where a
/// canary's alert goes, and the fingerprints of the released field values (docs/design.md §9).
/// Kept behind a trait so the disclosure does not depend on how incidents are kept.
pub(crate) trait Incidents: Sync {
    /// Whether `blind` is a canary subject.
    fn is_canary(&self, blind: &BlindId) -> Result<bool>;

    /// Sends `alert` to the alert sink, if one is set.
    fn raise_alert(&self, alert: crate::CanaryAlert);

    /// The fingerprints of every field value of `records`, in record order, repeats kept.
    fn fingerprints_of(&self, ks: &Keystore, blind: &BlindId, records: &[Record]) -> Vec<[u8; 32]>;

    /// How many of `records` (of the subject `blind`) are disputed (an open objection), by
    /// class.
    fn disputed(
        &self,
        ks: &Keystore,
        blind: &BlindId,
        records: &[Record],
    ) -> Result<std::collections::BTreeMap<String, usize>>;
}

/// The disclosure path over the parts it uses, borrowed from their owner: the gate checks,
/// the vault opens, the appender makes the receipt durable before anything is released.
/// Copying it copies references only; it holds no state of its own, so it takes no lock.
#[derive(Clone, Copy)]
pub(crate) struct Disclosure<'a> {
    /// The catalogue (purposes' disclosure delays).
    pub(crate) catalog: &'a Catalog,
    /// The log origin (in every answer and its HPKE info).
    pub(crate) origin: &'a str,
    /// Credential, token and self-query checks; issues the grants.
    pub(crate) gate: &'a Gate,
    /// The keystore and the sealed records.
    pub(crate) vault: &'a Vault,
    /// The receipt queue and group commit.
    pub(crate) appender: &'a Appender,
    /// Canary checks, alerts and release fingerprints.
    pub(crate) incidents: &'a dyn Incidents,
}

impl std::fmt::Debug for Disclosure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<'a> Disclosure<'a> {
    /// Counts a query as under way until its guard drops, so a commit leader waits a moment
    /// for its receipt (group commit).
    pub(crate) fn active(&self) -> Active<'a> {
        self.appender.active()
    }

    /// The gate alone: checks a department's credential and token against the authority
    /// key, policy, revocations, replay and consent counters, and returns the [`Grant`] that
    /// [`Disclosure::submit_answer`] turns into an answer. A denial leaves its receipt.
    pub(crate) fn authorize(
        self,
        credential: &str,
        token: &str,
        now: u64,
    ) -> std::result::Result<Grant<'a>, QueryError> {
        // A place in the receipt queue first: a full queue refuses before anything is written.
        let slot = self.appender.reserve()?;
        let ks = self.vault.keys();
        match self.gate.check_query(&ks, self.catalog, credential, token, now) {
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
        let subject = match SubjectId::parse(&t.subject)
            .ok()
            .map(|s| self.vault.blind(ks, &s))
            .transpose()
        {
            Ok(s) => s,
            Err(e) => return QueryError::Failed(e),
        };
        let canary = match subject.as_ref().map(|b| self.incidents.is_canary(b)).transpose() {
            Ok(c) => c.unwrap_or(false),
            Err(e) => return QueryError::Failed(e),
        };
        let r = NewReceipt {
            actor: Actor::Department {
                id: cred.department_id.clone(),
                credential_serial: cred.serial,
            },
            action: Action::Query,
            detail: legal_basis_detail(&t.legal_basis),
            subject,
            classes: t.classes.clone(),
            purpose: t.purpose.clone(),
            token_hash: Some(tok.digest()),
            outcome: Outcome::Denied {
                code: d.code().to_string(),
            },
            release_digest: None,
            // A denial is never sealed: a purpose's delay covers a grant under that purpose,
            // not a probe that merely names it.
            disclose_after: None,
            marks,
            // The canary mark stays with the platform (the alert below, `audit alerts`):
            // the department's receipt carries no flag.
            flags: 0,
            fingerprints: None,
        };
        let committed = self
            .appender
            .enqueue(self.vault, vec![r], Batch::new(), now, Some(slot))
            .and_then(|t| self.appender.wait(self.vault, t, now));
        match committed {
            Ok(c) => {
                if canary && let Some(c) = c.first() {
                    self.incidents.raise_alert(crate::CanaryAlert {
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

    /// When the receipt of a grant under `purpose` may be shown to the subject (delayed
    /// disclosure). Only a granted query asks: a denial is never sealed.
    fn disclose_after(&self, purpose: &str, now: u64) -> Option<u64> {
        let days = self
            .catalog
            .purposes
            .get(purpose)
            .map_or(0, |p| p.disclosure_delay_days);
        (days > 0).then(|| now.saturating_add(u64::from(days) * 86_400))
    }

    /// The gate's check of a subject's query for its own records, as a [`Grant`].
    pub(crate) fn self_query(self, query: &str, now: u64) -> std::result::Result<Grant<'a>, QueryError> {
        let slot = self.appender.reserve()?;
        let ks = self.vault.keys();
        let (inner, marks) = self.gate.check_self_query(&ks, self.catalog, query, now)?.split_marks();
        Ok(Grant {
            marks,
            inner,
            platform: self,
            keys: ks,
            slot,
            now,
        })
    }

    /// Decrypts the granted classes of the granted subject and queues the disclosure's
    /// receipt, with the replay entries the grant consumed, for the next group commit.
    /// Nothing is sealed yet: [`PendingAnswer::wait`] seals and releases the answer once
    /// the receipt is durable. The only path to plaintext for a requester: it takes a
    /// [`Grant`], which only this gate issues.
    pub(crate) fn submit_answer(self, grant: Grant<'a>) -> Result<PendingAnswer<'a>> {
        let Grant {
            inner: granted,
            platform: issuer,
            keys: ks,
            marks,
            slot,
            now,
        } = grant;
        if !std::ptr::eq(issuer.gate, self.gate) {
            return Err(EngineError::denied(
                "grant-other-platform",
                "the grant was issued by another platform handle",
            ));
        }
        let today = credseal_core::Date::from_unix(now)
            .ok_or_else(|| EngineError::invalid("the query's time", "not a representable date"))?;
        let (blind, mut records) = self.vault.open_granted(&ks, self.catalog, today, &granted)?;
        let grant = granted.auth();
        // Only the fields the purpose needs: a class is answered (and
        // fingerprinted) with the fields of the view the token granted it through, if any,
        // and of the view its purpose defines for it, if any — both, when both exist.
        let mut views: Vec<String> = Vec::new();
        let mut limits: BTreeMap<&str, BTreeSet<&String>> = BTreeMap::new();
        for class in grant.classes() {
            let mut applied = Vec::new();
            if let Some(v) = grant.views().get(class) {
                applied.push(v.as_str());
            }
            if self.catalog.view(grant.purpose(), class).is_some() && !applied.contains(&grant.purpose()) {
                applied.push(grant.purpose());
            }
            let mut allowed: Option<BTreeSet<&String>> = None;
            for purpose in applied {
                let Some(fields) = self.catalog.view(purpose, class) else {
                    continue;
                };
                allowed = Some(match allowed {
                    None => fields.iter().collect(),
                    Some(a) => a.into_iter().filter(|f| fields.contains(*f)).collect(),
                });
                views.push(format!("{purpose}/{class}"));
            }
            if let Some(a) = allowed {
                limits.insert(class.as_str(), a);
            }
        }
        for r in &mut records {
            if let Some(allowed) = limits.get(r.class.as_str()) {
                r.fields.retain(|k, _| allowed.contains(k));
            }
        }
        let subject = grant.subject();
        let body = AnswerBody {
            origin: self.origin.to_string(),
            query_id: *grant.query_id(),
            purpose: grant.purpose().to_string(),
            department_id: grant.department_id().to_string(),
            subject: subject.to_string(),
            classes: grant.classes().iter().cloned().collect(),
            answered_at: now,
            records,
            nonce: credseal_crypto::random_array(),
            vrf_proof: match grant.credential_serial() {
                None => self.vault.subject_vrf(&ks, subject)?.proof().as_bytes().to_vec(),
                Some(_) => Vec::new(),
            },
        };
        // Sized for the usual answer up front: every regrowth would leave a copy of the
        // plaintext behind in freed memory, where `Zeroizing` cannot reach it.
        let guess = 512 + 512 * body.records.len();
        let pt = zeroize::Zeroizing::new(
            postcard::to_extend(&body, Vec::with_capacity(guess))
                .map_err(|e| EngineError::Internal(format!("encoding the answer: {e}")))?,
        );
        // docs/design.md §9: a fingerprint of every released field, stored with the receipt.
        let fingerprints = self.incidents.fingerprints_of(&ks, &blind, &body.records);
        // Records under an open objection: the answer's receipt says so.
        let disputed = self.incidents.disputed(&ks, &blind, &body.records)?;
        let canary = self.incidents.is_canary(&blind)?;
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
            // Why the department asked: the legal basis it signed into its token, kept so the
            // subject and an auditor see it.
            detail: {
                let mut d = if self_query {
                    String::new()
                } else {
                    legal_basis_detail(grant.legal_basis())
                };
                if !views.is_empty() {
                    if !d.is_empty() {
                        d.push_str("; ");
                    }
                    d.push_str(&format!("view: {}", views.join(", ")));
                }
                if !disputed.is_empty() {
                    let parts: Vec<String> = disputed.iter().map(|(c, n)| format!("{n} {c}")).collect();
                    if !d.is_empty() {
                        d.push_str("; ");
                    }
                    d.push_str(&format!(
                        "{DISPUTED_MARK} {} record(s) under an open objection",
                        parts.join(", ")
                    ));
                }
                d
            },
            subject: Some(blind),
            classes: grant.classes().clone(),
            purpose: grant.purpose().to_string(),
            token_hash: Some(*grant.token_digest()),
            outcome: Outcome::Granted,
            // The requester checks the plaintext against it (`SealedAnswer::open_verified`);
            // the plaintext's random nonce keeps anyone else from testing guesses.
            release_digest: Some(credseal_log::answer_digest(&pt)),
            disclose_after: if self_query {
                None
            } else {
                self.disclose_after(grant.purpose(), now)
            },
            marks,
            // Never the canary flag: the department receives this receipt (see `deny`).
            flags: 0,
            fingerprints: Some(fingerprints),
        };
        let recipient = SealingPublicKey::from_bytes(grant.sealing_key())
            .map_err(|e| EngineError::invalid("the requester's sealing key", e.to_string()))?;
        // A department's sealing key, kept for its correction notices (written only when it
        // changed, with this receipt).
        let mut extra = Batch::new();
        if !self_query {
            self.gate
                .note_sealing_key(&ks, grant.department_id(), grant.sealing_key(), &mut extra)?;
        }
        drop(ks);
        let tickets = self
            .appender
            .enqueue(self.vault, vec![receipt], extra, now, Some(slot))?;
        Ok(PendingAnswer {
            disclosure: self,
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

/// A query granted by the gate: the verified [`credseal_auth::Grant`], the replay entries it
/// consumed, its place in the receipt queue and the keystore snapshot of its operation. Only
/// the gate makes one, it lives no longer than the parts that issued it, and one answer
/// spends it. (The compile-fail examples that show it cannot be forged, or replaced by a
/// `credseal_auth::Grant`, are on the facade's `submit_answer`.)
pub struct Grant<'p> {
    inner: Granted,
    /// The disclosure path that issued it (its gate is checked by the answer).
    platform: Disclosure<'p>,
    keys: Arc<Keystore>,
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
    disclosure: Disclosure<'a>,
    tickets: Tickets<'a>,
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
        let p = self.disclosure;
        let committed = p
            .appender
            .wait(p.vault, self.tickets, self.now)?
            .pop()
            .ok_or_else(|| EngineError::Internal("the receipt log returned no receipt".into()))?;
        if let Some(mut alert) = self.canary {
            alert.receipt = committed.index;
            p.incidents.raise_alert(alert);
        }
        let info = credseal_crypto::answer_info(p.origin, &self.query_id, Some(&committed.leaf_hash));
        let sealed = credseal_crypto::seal(&self.recipient, &info, &[], &self.pt)
            .map_err(|e| EngineError::Internal(format!("sealing the answer: {e}")))?;
        Ok(SealedAnswer {
            format: ANSWER_FORMAT,
            origin: p.origin.to_string(),
            query_id: self.query_id,
            receipt: committed.receipt,
            sealed: sealed.to_bytes(),
        })
    }
}

/// What a receipt's detail says before the records of the answer that are disputed.
pub const DISPUTED_MARK: &str = "disputed:";

/// Longest legal basis kept in a receipt, in characters (a token may carry more; the rest is
/// cut and marked).
pub(crate) const MAX_LEGAL_BASIS: usize = 256;

/// The receipt detail of a department's query: `legal basis: <text>` (control characters
/// shown as `?`, at most [`MAX_LEGAL_BASIS`] characters), or nothing if the token gave none.
pub(crate) fn legal_basis_detail(basis: &str) -> String {
    let basis = basis.trim();
    if basis.is_empty() {
        return String::new();
    }
    let mut out = String::from("legal basis: ");
    let shown: String = basis
        .chars()
        .take(MAX_LEGAL_BASIS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    // The department writes the legal basis: it cannot write the platform's own mark of
    // disputed records into the receipt.
    out.push_str(&shown.replace(DISPUTED_MARK, "disputed;"));
    if basis.chars().count() > MAX_LEGAL_BASIS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A department writes its legal basis: it cannot plant the platform's mark of disputed
    /// records in the receipt (the CLI reads the last mark as the answer's disputed records).
    #[test]
    fn a_legal_basis_cannot_carry_the_disputed_mark() {
        let d = legal_basis_detail("contract 7; disputed: 9 loans record(s) under an open objection");
        assert!(d.starts_with("legal basis: contract 7"), "{d}");
        assert!(!d.contains(DISPUTED_MARK), "{d}");
    }

    /// The text form is postcard's derived encoding of the answer, whatever the lengths
    /// (one- to three-byte length prefixes), so `from_text` (which checks that encoding)
    /// reads it back.
    #[test]
    fn to_text_is_the_derived_postcard_encoding() {
        for (origin, receipt_len, sealed_len) in [("a", 0, 0), ("t.invalid/log", 127, 128), ("o", 300, 20_000)] {
            let a = SealedAnswer {
                format: ANSWER_FORMAT,
                origin: origin.into(),
                query_id: core::array::from_fn(|i| i as u8 * 7),
                receipt: (0..receipt_len).map(|i| (i * 31) as u8).collect(),
                sealed: (0..sealed_len).map(|i| (i * 13 + 5) as u8).collect(),
            };
            assert_eq!(a.to_postcard(), postcard::to_stdvec(&a).unwrap());
            assert_eq!(SealedAnswer::from_text(&a.to_text()).unwrap(), a);
        }
    }
}
