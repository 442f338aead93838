//! Receipts (docs/design.md §7): what happened, to whom, by whom and why, signed with the log key.
//!
//! ```text
//! receipt      = header ‖ content ‖ signature (64)
//! header       = 0x03 (version) ‖ postcard(ReceiptHeader)
//!                (index, time, subject, chain, disclose_after, content_hash)
//! content      = postcard(actor, action, detail, classes, purpose, token_hash, outcome,
//!                         release_digest, salt, flags)
//! content_hash = SHA-256("credseal:v1:receipt-content" ‖ 0x00 ‖ content)
//! signed       = "credseal:v1:receipt" ‖ 0x00 ‖ header
//! leaf data    = header ‖ signature
//! leaf         = SHA-256(0x00 ‖ header ‖ signature)
//! ```
//!
//! The signature covers the header only, and the header commits to the content through its
//! hash: a bundle shows a confidential receipt before its disclosure date as its signed
//! header and signature ([`crate::BundleEntry::Sealed`]), and the subject checks the header
//! (its index, chain position and `disclose_after`) without seeing the content. The Merkle
//! leaf is the header and signature, not the whole receipt, so the verifier computes the
//! leaf hash of a sealed entry from what it shows: a second header signed for the same index
//! (say, with a `disclose_after` added) is another leaf, and its inclusion proof fails.
//! The salt is in the content, so the content hash confirms no guess.

use std::collections::BTreeSet;
use std::fmt;

use credseal_core::BlindId;
use serde::{Deserialize, Serialize};

use crate::FormatError;
use credseal_c2sp::Hash;

/// The label of receipt signatures: the signed bytes are
/// `"credseal:v1:" ‖ "receipt" ‖ 0x00 ‖ body`, the domain separation of
/// `credseal_auth::signed_bytes`, with a label no authority object uses.
pub const RECEIPT_LABEL: &str = "receipt";

/// The receipt format version: the first byte of every receipt (3: a signed header with the
/// content's hash, and a Merkle leaf of header and signature only; version 1, a signature
/// over the whole body, and version 2, a leaf of the whole receipt, are refused).
pub const RECEIPT_VERSION: u8 = 3;

/// Domain of the content hash: `SHA-256("credseal:v1:receipt-content" ‖ 0x00 ‖ content)`.
pub const RECEIPT_CONTENT_LABEL: &[u8] = b"credseal:v1:receipt-content";

/// The longest disclosure delay a receipt may carry: `disclose_after` is at most this many
/// seconds after the receipt's `time` (366 days). It is part of the verification rules, so
/// every subject's verifier holds it without trusting the platform or the bundle: a log that
/// signs a longer delay signs a receipt that no verifier accepts.
pub const MAX_DISCLOSE_DELAY_SECS: u64 = 366 * 86_400;

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

/// The signed header of a receipt: where it stands (log index, time, subject, chain position),
/// when it may be shown, and the hash of the rest (the content). Field order is the encoding
/// order. What a sealed bundle entry shows of a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptHeader {
    /// The receipt's leaf index in the log (0-based).
    pub index: u64,
    /// When, in Unix seconds.
    pub time: u64,
    /// The subject, by BlindId only; `None` for events about no one subject.
    pub subject: Option<BlindId>,
    /// The subject's chain position: present exactly for receipts about a subject.
    pub chain: Option<Chain>,
    /// Sealed in bundles until this Unix time (at most [`MAX_DISCLOSE_DELAY_SECS`] after
    /// `time`).
    pub disclose_after: Option<u64>,
    /// `SHA-256("credseal:v1:receipt-content" ‖ 0x00 ‖ content)`.
    pub content_hash: Hash,
}

impl ReceiptHeader {
    /// The rules of the header itself: a chain counter is at least 1, `prev` is absent
    /// exactly for counter 1, a chained receipt names its subject, and `disclose_after` is
    /// not before `time` nor more than [`MAX_DISCLOSE_DELAY_SECS`] after it.
    pub fn check(&self) -> Result<(), FormatError> {
        check_place(
            self.subject.as_ref(),
            self.chain.as_ref(),
            self.time,
            self.disclose_after,
        )
    }

    /// Decodes `0x03 ‖ postcard(header)`: version, canonical, nothing after it, then
    /// [`ReceiptHeader::check`]. The signature is not checked here: a bundle's sealed entry
    /// goes through `KeyHistory::verify_header` (or [`crate::LogVerifier::verify_header`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        check_version(bytes.first().copied(), "receipt header")?;
        let h = crate::codec::decode_canonical::<Self>(&bytes[1..], "receipt header")?;
        h.check()?;
        Ok(h)
    }

    /// `0x03 ‖ postcard(self)`: the bytes the log signs (after the domain prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECEIPT_VERSION];
        out.extend(crate::codec::encode(self));
        out
    }
}

fn check_version(found: Option<u8>, what: &'static str) -> Result<(), FormatError> {
    match found {
        None => Err(FormatError::Truncated { what }),
        Some(RECEIPT_VERSION) => Ok(()),
        Some(found @ (1 | 2)) => Err(FormatError::ObsoleteReceipt { found }),
        Some(found) => Err(FormatError::UnsupportedVersion { what: "receipt", found }),
    }
}

fn check_place(
    subject: Option<&BlindId>,
    chain: Option<&Chain>,
    time: u64,
    disclose_after: Option<u64>,
) -> Result<(), FormatError> {
    if let Some(c) = chain {
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
        if subject.is_none() {
            return Err(FormatError::Receipt {
                reason: "a chained receipt without subject",
            });
        }
    }
    if let Some(d) = disclose_after {
        if d < time {
            return Err(FormatError::Receipt {
                reason: "a disclosure date before the receipt's time",
            });
        }
        if d - time > MAX_DISCLOSE_DELAY_SECS {
            return Err(FormatError::Receipt {
                reason: "a disclosure delay beyond the maximum of 366 days",
            });
        }
    }
    Ok(())
}

/// The content of a receipt: everything but the header, encoded in this order.
#[derive(Serialize)]
struct ContentRef<'a> {
    actor: &'a Actor,
    action: &'a Action,
    detail: &'a String,
    classes: &'a BTreeSet<String>,
    purpose: &'a String,
    token_hash: &'a Option<Hash>,
    outcome: &'a Outcome,
    release_digest: &'a Option<Hash>,
    salt: &'a [u8; 16],
    flags: &'a u32,
}

/// [`ContentRef`] owned, for decoding.
#[derive(Serialize, Deserialize)]
struct Content {
    actor: Actor,
    action: Action,
    detail: String,
    classes: BTreeSet<String>,
    purpose: String,
    token_hash: Option<Hash>,
    outcome: Outcome,
    release_digest: Option<Hash>,
    salt: [u8; 16],
    flags: u32,
}

/// `SHA-256("credseal:v1:receipt-content" ‖ 0x00 ‖ content)`.
pub fn content_hash(content: &[u8]) -> Hash {
    let mut m = Vec::with_capacity(RECEIPT_CONTENT_LABEL.len() + 1 + content.len());
    m.extend_from_slice(RECEIPT_CONTENT_LABEL);
    m.push(0);
    m.extend_from_slice(content);
    crate::codec::sha256(&m)
}

/// Everything a receipt says (docs/design.md §7): encoded as a [`ReceiptHeader`] and a
/// content the header commits to (see the module). Field order is not the encoding order.
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
    /// exactly for counter 1, a chained receipt names its subject, and `disclose_after` is
    /// within [`MAX_DISCLOSE_DELAY_SECS`] of `time` (not before it).
    pub fn check(&self) -> Result<(), FormatError> {
        check_place(
            self.subject.as_ref(),
            self.chain.as_ref(),
            self.time,
            self.disclose_after,
        )
    }

    /// `header ‖ content` (the receipt without its signature) and the header's length.
    pub(crate) fn encode(&self) -> (Vec<u8>, usize) {
        let content = crate::codec::encode(&ContentRef {
            actor: &self.actor,
            action: &self.action,
            detail: &self.detail,
            classes: &self.classes,
            purpose: &self.purpose,
            token_hash: &self.token_hash,
            outcome: &self.outcome,
            release_digest: &self.release_digest,
            salt: &self.salt,
            flags: &self.flags,
        });
        let mut out = self.header_for(content_hash(&content)).encode();
        let header_len = out.len();
        out.extend(content);
        (out, header_len)
    }

    /// The header of this body for a content of hash `content_hash`.
    fn header_for(&self, content_hash: Hash) -> ReceiptHeader {
        ReceiptHeader {
            index: self.index,
            time: self.time,
            subject: self.subject,
            chain: self.chain,
            disclose_after: self.disclose_after,
            content_hash,
        }
    }

    /// Decodes `header ‖ content`: the header ([`ReceiptHeader::decode`]), the content
    /// (canonical, nothing after it), the content hash the header names, then
    /// [`ReceiptBody::check`].
    pub(crate) fn decode(header: &[u8], content: &[u8]) -> Result<Self, FormatError> {
        let h = ReceiptHeader::decode(header)?;
        let c = crate::codec::decode_canonical::<Content>(content, "receipt content")?;
        if content_hash(content) != h.content_hash {
            return Err(FormatError::Receipt {
                reason: "the content does not match the header's content hash",
            });
        }
        let value = Self {
            index: h.index,
            time: h.time,
            actor: c.actor,
            action: c.action,
            detail: c.detail,
            subject: h.subject,
            classes: c.classes,
            purpose: c.purpose,
            token_hash: c.token_hash,
            outcome: c.outcome,
            release_digest: c.release_digest,
            salt: c.salt,
            chain: h.chain,
            disclose_after: h.disclose_after,
            flags: c.flags,
        };
        value.check()?;
        Ok(value)
    }
}

/// The exact bytes a receipt signature covers: `"credseal:v1:receipt" ‖ 0x00 ‖ header`, where
/// `header` is `0x03 ‖ postcard(ReceiptHeader)`.
pub fn receipt_signed_bytes(header: &[u8]) -> Vec<u8> {
    let domain = credseal_auth::SIGNATURE_DOMAIN;
    let mut m = Vec::with_capacity(domain.len() + RECEIPT_LABEL.len() + 1 + header.len());
    m.extend_from_slice(domain);
    m.extend_from_slice(RECEIPT_LABEL.as_bytes());
    m.push(0);
    m.extend_from_slice(header);
    m
}

/// The RFC 6962 leaf hash of a receipt, `SHA-256(0x00 ‖ header ‖ signature)`: the one
/// definition every leaf hash of the log uses (the tree, the subject chain's `prev`, the map
/// head, the answer binding, the bundle verifier). It depends only on what a sealed bundle
/// entry shows, so a verifier computes it from the header and signature it checked; the
/// content is committed through the header's content hash.
pub fn receipt_leaf_hash(header: &[u8], signature: &[u8]) -> Hash {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    c.update(&[0x00]);
    c.update(header);
    c.update(signature);
    let mut h = [0u8; 32];
    h.copy_from_slice(c.finish().as_ref());
    h
}

/// A receipt whose layout is well-formed but whose signature has **not** been checked.
#[derive(Clone, PartialEq, Eq)]
pub struct UnverifiedReceipt {
    bytes: Vec<u8>,
    header_len: usize,
}

/// The length of the header at the start of `bytes` (`0x03 ‖ postcard(header)`), which must be
/// canonical and followed by at least one content byte and the signature.
fn header_len(bytes: &[u8]) -> Result<usize, FormatError> {
    let what = "receipt header";
    let signed_part = &bytes[1..bytes.len() - SIGNATURE_LEN];
    let (h, rest) = postcard::take_from_bytes::<ReceiptHeader>(signed_part).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => FormatError::Truncated { what },
        _ => FormatError::Decode { what },
    })?;
    let len = 1 + signed_part.len() - rest.len();
    if crate::codec::encode(&h) != signed_part[..len - 1] {
        return Err(FormatError::NonCanonical { what });
    }
    if rest.is_empty() {
        return Err(FormatError::Truncated { what: "receipt" });
    }
    Ok(len)
}

impl UnverifiedReceipt {
    /// Checks the layout: at most [`MAX_RECEIPT_LEN`] bytes, version 3 (versions 1 and 2
    /// are [`FormatError::ObsoleteReceipt`]), a canonical header, at least one content byte, then
    /// 64 signature bytes. The content is not decoded yet.
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
        check_version(Some(bytes[0]), "receipt")?;
        let header_len = header_len(bytes)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            header_len,
        })
    }

    /// The signed header bytes (`0x03 ‖ postcard(header)`).
    pub fn header_bytes(&self) -> &[u8] {
        &self.bytes[..self.header_len]
    }

    /// The content bytes the header's content hash covers.
    pub fn content_bytes(&self) -> &[u8] {
        &self.bytes[self.header_len..self.bytes.len() - SIGNATURE_LEN]
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
        ReceiptBody::decode(self.header_bytes(), self.content_bytes())
    }

    /// The leaf hash `SHA-256(0x00 ‖ header ‖ signature)` ([`receipt_leaf_hash`]).
    pub fn leaf_hash(&self) -> Hash {
        receipt_leaf_hash(self.header_bytes(), self.signature())
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
    header_len: usize,
    leaf_hash: Hash,
}

impl SignedReceipt {
    pub(crate) fn new(body: ReceiptBody, bytes: Vec<u8>, header_len: usize) -> Self {
        let leaf_hash = {
            let (header, rest) = bytes.split_at(header_len);
            receipt_leaf_hash(header, &rest[rest.len() - SIGNATURE_LEN..])
        };
        Self {
            body,
            bytes,
            header_len,
            leaf_hash,
        }
    }

    /// The signed header bytes (`0x03 ‖ postcard(header)`): what a sealed bundle entry shows.
    pub fn header_bytes(&self) -> &[u8] {
        &self.bytes[..self.header_len]
    }

    /// The 64 signature bytes (over [`SignedReceipt::header_bytes`]).
    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        self.bytes[self.bytes.len() - SIGNATURE_LEN..]
            .try_into()
            // Cannot fail: every signed receipt ends with its signature.
            .expect("a signed receipt ends with its signature")
    }

    /// The signed body.
    pub fn body(&self) -> &ReceiptBody {
        &self.body
    }

    /// The receipt bytes (header, content, signature): what the log stores and ships. The
    /// Merkle leaf is [`SignedReceipt::leaf_data`], not these bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The receipt bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The Merkle leaf data `header ‖ signature` (what [`SignedReceipt::leaf_hash`] hashes
    /// and a third-party log tool such as Go's `tlog.RecordHash` takes as the record).
    pub fn leaf_data(&self) -> Vec<u8> {
        [self.header_bytes(), self.signature().as_slice()].concat()
    }

    /// The leaf hash `SHA-256(0x00 ‖ header ‖ signature)` ([`receipt_leaf_hash`]): what the
    /// log publishes, what the next receipt of the subject chains to, what sealed answers are
    /// bound to.
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
