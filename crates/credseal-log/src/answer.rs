//! Authenticated answers: what a requester (a department, or a subject for its self-query)
//! checks before it believes a sealed answer, with nothing but the log's public key and its
//! own signed request.
//!
//! HPKE base mode authenticates no sender: anyone holding the requester's public sealing key
//! can seal something to it. The platform's signature is the answer's receipt instead:
//!
//! 1. the receipt verifies under the log key ([`LogVerifier::verify_receipt`]);
//! 2. it is the receipt of *this* request: its token hash is `SHA-256` of the request's wire
//!    bytes, its action and actor are the request's kind (a department query under the
//!    token's credential serial, or the subject's self-query), its outcome is `granted`, its
//!    classes are the request's, its purpose the token's, and the log's origin is the
//!    request's audience;
//! 3. the HPKE `info` is bound to the receipt's leaf hash (the caller opens with the verified
//!    receipt's [`SignedReceipt::leaf_hash`] in the info, so an answer sealed under any other
//!    info does not open);
//! 4. the opened plaintext is the one the receipt commits to: the receipt's
//!    `release_digest` is [`answer_digest`] of the plaintext, which carries 32 fresh random
//!    bytes so that nobody without the whole plaintext can test a guess against it.
//!
//! A forged answer (sealed with the public sealing key only) has no such receipt; a
//! substituted one (another query's answer, or another plaintext under this query's
//! receipt) fails 2 or 4.

use std::collections::BTreeSet;

use credseal_auth::{SelfQuery, Token, Unverified};

use crate::codec::sha256;
use crate::keys::LogVerifier;
use crate::receipt::{Action, Actor, Outcome, SignedReceipt};
use crate::{Hash, VerifyError};

/// Domain of [`answer_digest`].
pub const ANSWER_DIGEST_LABEL: &[u8] = b"credseal:v1:answer-digest";

/// `SHA-256("credseal:v1:answer-digest" ‖ 0x00 ‖ plaintext)`: the commitment a granted
/// query's receipt carries (as its `release_digest`) to the answer plaintext it released.
pub fn answer_digest(plaintext: &[u8]) -> Hash {
    let mut m = Vec::with_capacity(ANSWER_DIGEST_LABEL.len() + 1 + plaintext.len());
    m.extend_from_slice(ANSWER_DIGEST_LABEL);
    m.push(0);
    m.extend_from_slice(plaintext);
    sha256(&m)
}

/// Who asked: a department under a credential, or the subject itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requester {
    /// A department's query token, signed under the credential of this serial.
    Department {
        /// The credential serial the token names.
        credential_serial: u64,
        /// The purpose the token names.
        purpose: String,
    },
    /// The subject's self-query.
    Subject,
}

/// The requester's own signed request, as it sent it: what an answer must be about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerRequest {
    /// Who asked.
    pub requester: Requester,
    /// SHA-256 of the request's wire bytes (the receipt's token hash).
    pub token_hash: Hash,
    /// The request's query id.
    pub query_id: [u8; 16],
    /// The subject asked about (normalised id).
    pub subject: String,
    /// The classes asked for, by class id (a token's view `<purpose>/<class>` counts as its
    /// class: the receipt lists class ids and names the view in its detail).
    pub classes: BTreeSet<String>,
    /// The platform (log origin) the request was addressed to.
    pub audience: String,
}

impl AnswerRequest {
    /// Reads the request's text form: a query token `cs1.token.…` or a self-query
    /// `cs1.self-query.…` (surrounding whitespace ignored). Its signature is not checked: it
    /// is the requester's own.
    pub fn from_text(text: &str) -> Result<Self, AnswerError> {
        let text = text.trim();
        if let Ok(t) = Unverified::<Token>::parse_text(text) {
            let b = t.peek_unverified().map_err(|_| AnswerError::Request)?;
            return Ok(Self {
                requester: Requester::Department {
                    credential_serial: b.credential_serial,
                    purpose: b.purpose,
                },
                token_hash: t.digest(),
                query_id: b.query_id,
                subject: b.subject,
                classes: b
                    .classes
                    .into_iter()
                    .map(|c| match c.split_once('/') {
                        Some((_view, class)) => class.to_string(),
                        None => c,
                    })
                    .collect(),
                audience: b.audience,
            });
        }
        let q = Unverified::<SelfQuery>::parse_text(text).map_err(|_| AnswerError::Request)?;
        let b = q.peek_unverified().map_err(|_| AnswerError::Request)?;
        Ok(Self {
            requester: Requester::Subject,
            token_hash: q.digest(),
            query_id: b.query_id,
            subject: b.subject,
            classes: b.classes,
            audience: b.audience,
        })
    }
}

/// Checks an answer's receipt against the log key and the requester's own request (steps 1
/// and 2 of the module); returns the verified receipt, whose leaf hash the caller binds into
/// the HPKE `info` and whose `release_digest` [`check_answer_plaintext`] checks.
pub fn verify_answer_receipt(
    receipt: &[u8],
    log: &LogVerifier,
    request: &AnswerRequest,
) -> Result<SignedReceipt, AnswerError> {
    if request.audience != log.origin() {
        return Err(AnswerError::OtherPlatform {
            audience: request.audience.clone(),
            origin: log.origin().to_string(),
        });
    }
    let r = log.verify_receipt(receipt).map_err(|e| match e {
        VerifyError::Format(_) => AnswerError::ReceiptMalformed,
        _ => AnswerError::ReceiptNotSigned,
    })?;
    let b = r.body();
    if b.token_hash != Some(request.token_hash) {
        return Err(AnswerError::OtherRequest);
    }
    let kind_ok = match (&request.requester, &b.actor, b.action) {
        (
            Requester::Department {
                credential_serial,
                purpose,
            },
            Actor::Department {
                credential_serial: s, ..
            },
            Action::Query,
        ) => s == credential_serial && &b.purpose == purpose,
        (Requester::Subject, Actor::Subject, Action::SelfQuery) => true,
        _ => false,
    };
    if !kind_ok {
        return Err(AnswerError::ReceiptMismatch {
            what: "requester or purpose",
        });
    }
    if b.outcome != Outcome::Granted {
        return Err(AnswerError::ReceiptMismatch { what: "outcome" });
    }
    if b.classes != request.classes {
        return Err(AnswerError::ReceiptMismatch { what: "classes" });
    }
    if b.subject.is_none() {
        return Err(AnswerError::ReceiptMismatch { what: "subject" });
    }
    Ok(r)
}

/// Checks that `plaintext` (the opened answer) is the one `receipt` committed to: its
/// `release_digest` is [`answer_digest`] of it.
pub fn check_answer_plaintext(receipt: &SignedReceipt, plaintext: &[u8]) -> Result<(), AnswerError> {
    if receipt.body().release_digest != Some(answer_digest(plaintext)) {
        return Err(AnswerError::ContentNotCommitted);
    }
    Ok(())
}

/// Why an answer is not believed. Carries no answer content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The request given is neither a query token nor a self-query.
    #[error("the request is neither a query token (cs1.token.…) nor a self-query (cs1.self-query.…)")]
    Request,
    /// The request was addressed to another platform than the log key's.
    #[error("the request is addressed to {audience:?}, but the log key is of {origin:?}")]
    OtherPlatform {
        /// The request's audience.
        audience: String,
        /// The log key's origin.
        origin: String,
    },
    /// The answer's receipt is not a well-formed receipt.
    #[error("the answer's receipt is malformed")]
    ReceiptMalformed,
    /// The answer's receipt is not signed by the log key: the answer did not come from the
    /// platform (or the log key given is not the one that signs now).
    #[error("the answer's receipt is not signed by the log key: the answer did not come from the platform")]
    ReceiptNotSigned,
    /// The answer's receipt is the receipt of another request (another token hash): the
    /// answer of another query.
    #[error("the answer's receipt is for another request: this is the answer of another query")]
    OtherRequest,
    /// The receipt does not say what the request asked (kind, purpose, outcome, classes).
    #[error("the answer's receipt does not match the request: {what}")]
    ReceiptMismatch {
        /// Which part differs.
        what: &'static str,
    },
    /// The opened answer is not the plaintext the receipt commits to.
    #[error("the opened answer is not the one its receipt commits to: it was substituted")]
    ContentNotCommitted,
    /// The opened answer's contents differ from the request or the receipt.
    #[error("the answer's contents do not match the request: {what}")]
    ContentMismatch {
        /// Which part differs.
        what: &'static str,
    },
}
