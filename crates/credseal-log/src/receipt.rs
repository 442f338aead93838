//! Receipts (docs/design.md §7): what happened, to whom, by whom and why, signed with the log key.
//!
//! ```text
//! receipt = body ‖ signature (64)
//! body    = 0x01 (version) ‖ postcard(ReceiptBody)
//! signed  = "credseal:v1:receipt" ‖ 0x00 ‖ body
//! leaf    = SHA-256(0x00 ‖ receipt)
//! ```

use std::collections::BTreeSet;
use std::fmt;

use credseal_core::BlindId;
use serde::{Deserialize, Serialize};

use crate::FormatError;
use credseal_c2sp::{Hash, record_hash};

/// The label of receipt signatures: the signed bytes are
/// `"credseal:v1:" ‖ "receipt" ‖ 0x00 ‖ body`, the domain separation of
/// `credseal_auth::signed_bytes`, with a label no authority object uses.
pub const RECEIPT_LABEL: &str = "receipt";

/// The receipt format version: the first byte of every receipt body.
pub const RECEIPT_VERSION: u8 = 1;

/// Largest receipt accepted, in bytes (a receipt is a few hundred bytes).
pub const MAX_RECEIPT_LEN: usize = 64 * 1024;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Actor {
    /// An authorized department, with the serial of the credential it used.
    Department {
        /// The department id.
        id: String,
        /// The serial of its credential.
        credential_serial: u64,
    },
    /// The subject itself (self-query, objection).
    Subject,
    /// A security officer.
    Officer {
        /// The officer id.
        id: String,
    },
    /// An incident responder or auditor.
    Responder {
        /// The responder id.
        id: String,
    },
    /// The platform on its own (retention, scheduled jobs).
    Platform,
    /// The department a record names as its source, for records ingested or corrected
    /// (the platform's operator ran the ingest; the source is who supplied the data).
    Source {
        /// The department id.
        id: String,
    },
}

/// What was done. Details go in [`ReceiptBody::detail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// A department's query.
    Query,
    /// A subject's query for its own data.
    SelfQuery,
    /// Records ingested.
    Ingest,
    /// A correction (a new record version).
    Correction,
    /// A key event: rotation, rewrap, retirement, re-key, log key rotation.
    KeyEvent,
    /// Crypto-shredding.
    Shred,
    /// A leak trace.
    Trace,
    /// Any other administrative act (enrolment, revocation, catalogue change).
    Admin,
}

/// How it ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Access granted and the answer released.
    Granted,
    /// Access denied, with the reason code.
    Denied {
        /// The denial reason code.
        code: String,
    },
    /// A non-access event completed.
    Done,
}

/// A receipt's place in its subject's chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Chain {
    /// The subject's receipt counter: 1 for its first receipt, then +1 for each.
    pub counter: u64,
    /// The leaf hash of the subject's previous receipt; `None` exactly when `counter == 1`.
    pub prev: Option<Hash>,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("counter", &self.counter)
            .field("prev", &self.prev.map(|h| credseal_core::hex(&h[..8])))
            .finish()
    }
}

/// The signed content of a receipt (docs/design.md §7). Field order is the encoding order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// The receipt's leaf index in the log (0-based).
    pub index: u64,
    /// When, in Unix seconds.
    pub time: u64,
    /// Who acted.
    pub actor: Actor,
    /// What was done.
    pub action: Action,
    /// Free-text detail of the action (`"rotate identity v3"`); never credit data.
    pub detail: String,
    /// The subject, by BlindId only; `None` for events about no one subject.
    pub subject: Option<BlindId>,
    /// The field classes concerned (sorted, no repeats).
    pub classes: BTreeSet<String>,
    /// The purpose code (empty when the action has none).
    pub purpose: String,
    /// SHA-256 of the query token's wire bytes, for queries.
    pub token_hash: Option<Hash>,
    /// The outcome.
    pub outcome: Outcome,
    /// HMAC-SHA-256 (trace key) of what was released, so a responder can later show what a
    /// department received while nobody else can test guesses.
    pub release_digest: Option<Hash>,
    /// 16 random bytes, so that nobody can confirm a guessed receipt from its leaf hash.
    pub salt: [u8; 16],
    /// The subject's chain position: present exactly for receipts about a subject.
    pub chain: Option<Chain>,
    /// For confidential purposes: bundles show this receipt only as "sealed" (leaf hash
    /// only) until this Unix time, then in full.
    pub disclose_after: Option<u64>,
    /// Reserved flags (bit 0: canary subject touched). Zero unless stated.
    pub flags: u32,
}

/// [`ReceiptBody::flags`] bit: the query touched a canary subject. Only receipts written by
/// earlier versions carry it: the platform no longer sets it (the department receives the
/// receipt, so the flag would tell it which subjects are canaries), and `flags` is 0.
pub const FLAG_CANARY: u32 = 1;

/// 16 fresh random bytes for [`ReceiptBody::salt`].
///
/// # Panics
/// If the operating system's random number generator fails (the policy of
/// `credseal_auth::SigningKey::generate`).
pub fn random_salt() -> [u8; 16] {
    use ring::rand::SecureRandom;
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        // Cannot fail: the OS random number generator failing is unrecoverable (as in ring and getrandom users everywhere); no receipt may go out without its salt.
        .expect("the operating system's random number generator failed");
    salt
}

impl ReceiptBody {
    /// Checks the rules of the body itself: a chain counter is at least 1, `prev` is absent
    /// exactly for counter 1, and a chained receipt names its subject.
    pub fn check(&self) -> Result<(), FormatError> {
        if let Some(c) = &self.chain {
            if c.counter == 0 {
                return Err(FormatError::Receipt {
                    reason: "chain counter 0 (counters start at 1)",
                });
            }
            if (c.counter == 1) != c.prev.is_none() {
                return Err(FormatError::Receipt {
                    reason: "a previous hash is present exactly when the counter is above 1",
                });
            }
            if self.subject.is_none() {
                return Err(FormatError::Receipt {
                    reason: "a chained receipt without subject",
                });
            }
        }
        Ok(())
    }

    /// `0x01 ‖ postcard(self)`: the bytes the log signs (after the domain prefix).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECEIPT_VERSION];
        out.extend(crate::codec::encode(self));
        out
    }

    /// Decodes `0x01 ‖ postcard(body)`: version, no trailing bytes, canonical encoding only,
    /// then [`ReceiptBody::check`].
    pub(crate) fn decode(body: &[u8]) -> Result<Self, FormatError> {
        match body.first() {
            None => return Err(FormatError::Truncated { what: "receipt body" }),
            Some(&RECEIPT_VERSION) => {}
            Some(&found) => {
                return Err(FormatError::UnsupportedVersion { what: "receipt", found });
            }
        }
        let value = crate::codec::decode_canonical::<Self>(&body[1..], "receipt body")?;
        value.check()?;
        Ok(value)
    }
}

/// The exact bytes a receipt signature covers: `"credseal:v1:receipt" ‖ 0x00 ‖ body`.
pub fn receipt_signed_bytes(body: &[u8]) -> Vec<u8> {
    let domain = credseal_auth::SIGNATURE_DOMAIN;
    let mut m = Vec::with_capacity(domain.len() + RECEIPT_LABEL.len() + 1 + body.len());
    m.extend_from_slice(domain);
    m.extend_from_slice(RECEIPT_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// A receipt whose layout is well-formed but whose signature has **not** been checked.
#[derive(Clone, PartialEq, Eq)]
pub struct UnverifiedReceipt {
    bytes: Vec<u8>,
}

impl UnverifiedReceipt {
    /// Checks the layout: at most [`MAX_RECEIPT_LEN`] bytes, a version-1 body of at least one
    /// more byte, then 64 signature bytes. The body is not decoded yet.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_RECEIPT_LEN {
            return Err(FormatError::TooLarge {
                what: "receipt",
                len: bytes.len(),
                max: MAX_RECEIPT_LEN,
            });
        }
        if bytes.len() < 2 + SIGNATURE_LEN {
            return Err(FormatError::Truncated { what: "receipt" });
        }
        if bytes[0] != RECEIPT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "receipt",
                found: bytes[0],
            });
        }
        Ok(Self { bytes: bytes.to_vec() })
    }

    /// The signed body bytes (`0x01 ‖ postcard(body)`).
    pub fn body_bytes(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - SIGNATURE_LEN]
    }

    /// The 64 signature bytes.
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.bytes[self.bytes.len() - SIGNATURE_LEN..]
            .try_into()
            // Cannot fail: parse refused anything shorter than a signature, so the tail is SIGNATURE_LEN bytes.
            .expect("parse checked the length")
    }

    /// Decodes the body **without checking the signature**: everything in it is
    /// attacker-controlled. For the log's own use (the bundle builder reads the index of
    /// receipts it signed) and diagnostics only.
    pub fn peek_unverified(&self) -> Result<ReceiptBody, FormatError> {
        ReceiptBody::decode(self.body_bytes())
    }

    /// The leaf hash `SHA-256(0x00 ‖ receipt)`.
    pub fn leaf_hash(&self) -> Hash {
        record_hash(&self.bytes)
    }

    /// The receipt bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for UnverifiedReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedReceipt")
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A receipt signed by the log key: made by [`crate::LogSigner::sign_receipt`] or checked by
/// [`crate::LogVerifier::verify_receipt`].
#[derive(Clone, PartialEq, Eq)]
pub struct SignedReceipt {
    body: ReceiptBody,
    bytes: Vec<u8>,
    leaf_hash: Hash,
}

impl SignedReceipt {
    pub(crate) fn new(body: ReceiptBody, bytes: Vec<u8>) -> Self {
        let leaf_hash = record_hash(&bytes);
        Self { body, bytes, leaf_hash }
    }

    /// The signed body.
    pub fn body(&self) -> &ReceiptBody {
        &self.body
    }

    /// The receipt bytes: the log's leaf data.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The receipt bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The leaf hash `SHA-256(0x00 ‖ receipt)`: what the log publishes, what the next
    /// receipt of the subject chains to, what sealed answers are bound to.
    pub fn leaf_hash(&self) -> Hash {
        self.leaf_hash
    }
}

impl fmt::Debug for SignedReceipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedReceipt")
            .field("leaf_hash", &credseal_core::hex(&self.leaf_hash))
            .field("body", &self.body)
            .finish()
    }
}
