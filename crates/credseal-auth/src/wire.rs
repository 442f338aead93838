//! The signed envelope shared by every authority object (docs/design.md §5), its text form and the
//! `Unverified` → `Verified` typestate.
//!
//! Layout (all postcard):
//!
//! ```text
//! wire        = version:u8 (=1; consents and objection answers: 2) ‖ kind:u8 ‖ varint(len(body)) ‖ body ‖ signature:[u8; 64]
//! signed      = "credseal:v1:" ‖ label(kind) ‖ 0x00 ‖ body
//! text        = "cs1." ‖ label(kind) ‖ "." ‖ base64url-no-pad(wire)
//! ```
//!
//! Decoders reject: a wrong prefix, a label or tag of another kind, padded or otherwise
//! non-canonical base64, an unknown version, trailing bytes after the envelope or after the
//! body, and any envelope or body whose re-encoding differs from the bytes received (postcard
//! itself accepts over-long varints and unsorted or duplicated set elements).

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{PublicKey, SigningKey};

/// First component of every credseal text form (`cs1.<label>.<base64url>`).
pub const TEXT_PREFIX: &str = "cs1";
/// Domain-separation prefix of every signed message: `"credseal:v1:" ‖ label ‖ 0x00 ‖ body`.
pub const SIGNATURE_DOMAIN: &[u8] = b"credseal:v1:";
/// The wire-format version this build writes and reads (for every kind but consents).
pub const WIRE_VERSION: u8 = 1;
/// The wire-format version of consents: 2 since consents name their platform (audience).
pub const CONSENT_WIRE_VERSION: u8 = 2;
/// The wire-format version of objection answers: 2 since an answer says its outcome
/// (`upheld` or `deleted`).
pub const OBJECTION_ANSWER_WIRE_VERSION: u8 = 2;
/// Largest wire object accepted, in bytes (1 MiB: a revocation list of tens of thousands of
/// serials fits; a token is a few hundred bytes). Larger input is rejected before decoding.
pub const MAX_WIRE_LEN: usize = 1 << 20;

/// Length of an Ed25519 signature.
const SIG_LEN: usize = 64;

/// The kind of a signed object. Its label appears in the text form and in the signed bytes,
/// its tag in the wire envelope, so an object of one kind never parses or verifies as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A department credential, signed by the authority ([`crate::Credential`]).
    Credential,
    /// A query token, signed by a department ([`crate::Token`]).
    Token,
    /// A subject's consent, signed by the subject ([`crate::Consent`]).
    Consent,
    /// A revocation list, signed by the authority ([`crate::RevocationList`]).
    Revocations,
    /// A subject's query for its own data, signed by the subject ([`crate::SelfQuery`]).
    SelfQuery,
    /// A subject's request for its receipt bundle, signed by the subject ([`crate::BundleRequest`]).
    BundleRequest,
    /// A responder's or officer's request (trace, canary, audit), signed with the enrolled
    /// staff key ([`crate::StaffRequest`]).
    StaffRequest,
    /// A credit-repair order to destroy one record, signed by the authority
    /// ([`crate::ShredOrder`]).
    ShredOrder,
    /// The authority's order to enrol or remove one staff member, signed by the authority
    /// ([`crate::StaffOrder`]).
    StaffOrder,
    /// A batch of records for ingest, signed by an enrolled data provider
    /// ([`crate::IngestBatch`]).
    Batch,
    /// A data provider's credential, signed by the authority: its key, the classes it may
    /// write and its record-id namespace ([`crate::ProviderCredential`]).
    ProviderCredential,
    /// A subject's withdrawal of one of its consents, signed by the subject
    /// ([`crate::ConsentWithdrawal`]).
    ConsentWithdrawal,
    /// A subject's objection to one of its records (or application for credit repair),
    /// signed by the subject ([`crate::Objection`]).
    Objection,
    /// A provider's answer upholding a record objected to, signed by the provider's key
    /// ([`crate::ObjectionAnswer`]).
    ObjectionAnswer,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 14] = [
        Kind::Credential,
        Kind::Token,
        Kind::Consent,
        Kind::Revocations,
        Kind::SelfQuery,
        Kind::BundleRequest,
        Kind::StaffRequest,
        Kind::ShredOrder,
        Kind::StaffOrder,
        Kind::Batch,
        Kind::ProviderCredential,
        Kind::ConsentWithdrawal,
        Kind::Objection,
        Kind::ObjectionAnswer,
    ];

    /// The label used in the text form and in the signed bytes.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Credential => "credential",
            Kind::Token => "token",
            Kind::Consent => "consent",
            Kind::Revocations => "revocations",
            Kind::SelfQuery => "self-query",
            Kind::BundleRequest => "bundle-request",
            Kind::StaffRequest => "staff-request",
            Kind::ShredOrder => "shred-order",
            Kind::StaffOrder => "staff-order",
            Kind::Batch => "batch",
            Kind::ProviderCredential => "provider-credential",
            Kind::ConsentWithdrawal => "consent-withdrawal",
            Kind::Objection => "objection",
            Kind::ObjectionAnswer => "objection-answer",
        }
    }

    /// The one-byte tag in the wire envelope (1–14).
    pub fn tag(self) -> u8 {
        match self {
            Kind::Credential => 1,
            Kind::Token => 2,
            Kind::Consent => 3,
            Kind::Revocations => 4,
            Kind::SelfQuery => 5,
            Kind::BundleRequest => 6,
            Kind::StaffRequest => 7,
            Kind::ShredOrder => 8,
            Kind::StaffOrder => 9,
            Kind::Batch => 10,
            Kind::ProviderCredential => 11,
            Kind::ConsentWithdrawal => 12,
            Kind::Objection => 13,
            Kind::ObjectionAnswer => 14,
        }
    }

    /// The envelope version of this kind: [`WIRE_VERSION`], except [`Kind::Consent`], whose
    /// body gained an audience in version [`CONSENT_WIRE_VERSION`], and
    /// [`Kind::ObjectionAnswer`], which gained its outcome in version
    /// [`OBJECTION_ANSWER_WIRE_VERSION`]. A consent or objection answer of version 1 is
    /// refused as [`FormatError::UnsupportedVersion`].
    pub fn wire_version(self) -> u8 {
        match self {
            Kind::Consent => CONSENT_WIRE_VERSION,
            Kind::ObjectionAnswer => OBJECTION_ANSWER_WIRE_VERSION,
            _ => WIRE_VERSION,
        }
    }

    /// The largest wire object of this kind: [`MAX_WIRE_LEN`], except a
    /// [`Kind::Batch`], which carries records ([`crate::MAX_BATCH_WIRE_LEN`]).
    pub fn max_wire_len(self) -> usize {
        match self {
            Kind::Batch => crate::MAX_BATCH_WIRE_LEN,
            _ => MAX_WIRE_LEN,
        }
    }

    /// The kind whose label is `label`.
    pub fn from_label(label: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.label() == label)
    }

    /// The kind whose tag is `tag`.
    pub fn from_tag(tag: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why bytes or text are not a well-formed credseal object or key. Never carries the
/// object's contents; offsets are byte offsets into the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The text does not start with `cs1.<label>.`.
    #[error("not a credseal object: expected text of the form `cs1.<kind>.<base64url>`")]
    WrongPrefix,
    /// The label after `cs1.` names no known object kind.
    #[error("unknown object kind label after `cs1.`")]
    UnknownKind,
    /// The object is of another kind than the one expected (a consent presented as a token).
    #[error("expected a {expected}, found a {found}")]
    WrongKind {
        /// The kind the caller asked for.
        expected: Kind,
        /// The kind the input declares.
        found: Kind,
    },
    /// A key file holds another kind of key (a public key where a signing key is expected).
    #[error("expected a `cs1.{expected}.` key")]
    WrongKeyLabel {
        /// The label expected.
        expected: &'static str,
    },
    /// The base64url payload is invalid or not canonical (padding, characters outside the
    /// URL-safe alphabet, non-zero trailing bits).
    #[error("invalid or non-canonical base64url at byte {offset}")]
    Base64 {
        /// Byte offset in the text.
        offset: usize,
    },
    /// The input is longer than [`MAX_WIRE_LEN`] allows.
    #[error("object of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input ends before the structure is complete.
    #[error("truncated {what}")]
    Truncated {
        /// `"envelope"` or `"body"`.
        what: &'static str,
    },
    /// The input does not decode as the expected structure.
    #[error("invalid {what} encoding")]
    Decode {
        /// `"envelope"` or `"body"`.
        what: &'static str,
    },
    /// Bytes follow a complete structure.
    #[error("{count} trailing bytes after the {what}")]
    TrailingBytes {
        /// `"envelope"` or `"body"`.
        what: &'static str,
        /// How many.
        count: usize,
    },
    /// The structure decodes but is not in its one canonical encoding (over-long integers,
    /// unsorted or repeated set elements).
    #[error("non-canonical {what} encoding")]
    NonCanonical {
        /// `"envelope"` or `"body"`.
        what: &'static str,
    },
    /// The envelope has a version this build does not read.
    #[error("unsupported wire version {found} (this build reads version {reads} of this kind)")]
    UnsupportedVersion {
        /// The version byte found.
        found: u8,
        /// The version this build reads for the object's kind.
        reads: u8,
    },
    /// The envelope's kind tag names no known kind.
    #[error("unknown kind tag {tag}")]
    UnknownKindTag {
        /// The tag found.
        tag: u8,
    },
    /// A public key is not a canonical encoding of an Ed25519 point of large order.
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// A key has the wrong length.
    #[error("a key is 32 bytes, found {found}")]
    KeyLength {
        /// The length found.
        found: usize,
    },
    /// A subject in a signed object is not a valid, normalised subject id.
    #[error("the subject is not a valid, normalised subject id")]
    InvalidSubject,
}

/// Why [`Unverified::verify`] refused an object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// The signature does not verify under the given key with strict Ed25519 verification
    /// (wrong key, altered bytes, another kind, non-canonical or small-order components).
    #[error("the signature does not verify")]
    BadSignature,
    /// The signature verifies but the signed body is malformed (the signer signed garbage).
    #[error("the signed body is malformed: {0}")]
    Body(FormatError),
}

mod sealed {
    pub trait Sealed {}
}

/// A body type that can be signed: one per [`Kind`]. Sealed: the set of kinds is closed.
pub trait SignedBody: Serialize + DeserializeOwned + sealed::Sealed {
    /// The kind of object this body is.
    const KIND: Kind;
}

macro_rules! signed_body {
    ($($t:ty => $k:expr),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl SignedBody for $t {
            const KIND: Kind = $k;
        }
    )*};
}

signed_body!(
    crate::Credential => Kind::Credential,
    crate::Token => Kind::Token,
    crate::Consent => Kind::Consent,
    crate::RevocationList => Kind::Revocations,
    crate::SelfQuery => Kind::SelfQuery,
    crate::BundleRequest => Kind::BundleRequest,
    crate::StaffRequest => Kind::StaffRequest,
    crate::ShredOrder => Kind::ShredOrder,
    crate::StaffOrder => Kind::StaffOrder,
    crate::IngestBatch => Kind::Batch,
    crate::ProviderCredential => Kind::ProviderCredential,
    crate::ConsentWithdrawal => Kind::ConsentWithdrawal,
    crate::Objection => Kind::Objection,
    crate::ObjectionAnswer => Kind::ObjectionAnswer,
);

/// The envelope. The signature is split into two 32-byte halves only because serde derives
/// arrays up to 32 elements: postcard writes a tuple of arrays as 64 consecutive bytes,
/// exactly as it would write `[u8; 64]`.
#[derive(Serialize, Deserialize)]
struct WireRepr {
    version: u8,
    kind: u8,
    body: Vec<u8>,
    signature: ([u8; 32], [u8; 32]),
}

fn split_sig(sig: &[u8; SIG_LEN]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    s.copy_from_slice(&sig[32..]);
    (r, s)
}

fn join_sig((r, s): &([u8; 32], [u8; 32])) -> [u8; SIG_LEN] {
    let mut sig = [0u8; SIG_LEN];
    sig[..32].copy_from_slice(r);
    sig[32..].copy_from_slice(s);
    sig
}

/// Postcard encoding of a value of one of our own types.
fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Cannot fail: every type we encode has a known length for each sequence and map
    // (Vec, String, BTreeSet, BTreeMap), no unsupported serde type, and the output is a Vec.
    postcard::to_allocvec(value).expect("postcard encoding of credseal types into a Vec cannot fail")
}

/// The exact bytes an Ed25519 signature of a `kind` object covers:
/// `"credseal:v1:" ‖ label ‖ 0x00 ‖ body`.
pub fn signed_bytes(kind: Kind, body: &[u8]) -> Vec<u8> {
    let label = kind.label().as_bytes();
    let mut m = Vec::with_capacity(SIGNATURE_DOMAIN.len() + label.len() + 1 + body.len());
    m.extend_from_slice(SIGNATURE_DOMAIN);
    m.extend_from_slice(label);
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// SHA-256 of `bytes`.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url without padding. `base` is the payload's offset in the whole text, so
/// errors point into what the user pasted.
pub(crate) fn b64_decode(payload: &str, base: usize) -> Result<Vec<u8>, FormatError> {
    use base64::DecodeError as E;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|e| {
        let at = match e {
            E::InvalidByte(o, _) => o,
            E::InvalidLastSymbol { offset, .. } => offset,
            // Length and padding errors concern the end of the payload.
            _ => payload.len(),
        };
        FormatError::Base64 { offset: base + at }
    })?;
    // Belt and braces: the decoder is configured to reject padding and non-zero trailing
    // bits; insist that re-encoding gives back exactly the input whatever the library does.
    if URL_SAFE_NO_PAD.encode(&bytes) != payload {
        return Err(FormatError::Base64 {
            offset: base + payload.len().saturating_sub(1),
        });
    }
    Ok(bytes)
}

/// Verifies an Ed25519 signature over `msg` with `RFC 8032` strict rules (ed25519-dalek
/// `verify_strict`: canonical `s < ℓ`, canonical `R`, neither `R` nor the key of small
/// order). The one place credseal checks a signature; [`verify_raw_strict`] is this plus
/// key parsing.
fn verify_prepared(key: &PublicKey, msg: &[u8], sig: &[u8; SIG_LEN]) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(sig);
    key.verifying_key().verify_strict(msg, &sig).is_ok()
}

/// Strict Ed25519 verification of raw `msg` under raw public key bytes `pk`.
///
/// This is the primitive under [`verify_signature`] and therefore under every
/// `verify` in this crate: `pk` goes through [`PublicKey::from_slice`] (the validation every
/// [`PublicKey`] has passed: a canonical encoding of a point not of small order), then the
/// same strict check [`verify_signature`] makes. Exposed so that the Wycheproof vectors, whose
/// messages carry no domain prefix, run through our code. Not for application use: it
/// signs nothing domain-separated.
#[doc(hidden)]
pub fn verify_raw_strict(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Ok(key) = PublicKey::from_slice(pk) else {
        return false;
    };
    let Ok(sig) = <&[u8; SIG_LEN]>::try_from(sig) else {
        return false;
    };
    verify_prepared(&key, msg, sig)
}

/// Checks that `signature` is `key`'s strict Ed25519 signature of a `kind` object whose
/// postcard body is `body` (the signed bytes are [`signed_bytes`]`(kind, body)`).
pub fn verify_signature(kind: Kind, body: &[u8], signature: &[u8; 64], key: &PublicKey) -> Result<(), SigError> {
    if verify_prepared(key, &signed_bytes(kind, body), signature) {
        Ok(())
    } else {
        Err(SigError::BadSignature)
    }
}

/// Decodes a body: postcard, no trailing bytes, and the canonical encoding only.
fn decode_body<T: SignedBody>(body: &[u8]) -> Result<T, FormatError> {
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => FormatError::Truncated { what: "body" },
        _ => FormatError::Decode { what: "body" },
    })?;
    if !rest.is_empty() {
        return Err(FormatError::TrailingBytes {
            what: "body",
            count: rest.len(),
        });
    }
    if encode(&value) != body {
        return Err(FormatError::NonCanonical { what: "body" });
    }
    Ok(value)
}

fn to_text(kind: Kind, wire: &[u8]) -> String {
    format!("{TEXT_PREFIX}.{}.{}", kind.label(), b64_encode(wire))
}

/// Signs `body` with `key`: the kind is `T`'s, the signed bytes are
/// `"credseal:v1:" ‖ label ‖ 0x00 ‖ postcard(body)`.
pub fn sign<T: SignedBody>(body: &T, key: &SigningKey) -> Signed {
    let body = encode(body);
    let signature = key.sign_raw(&signed_bytes(T::KIND, &body));
    let bytes = encode(&WireRepr {
        version: T::KIND.wire_version(),
        kind: T::KIND.tag(),
        body,
        signature: split_sig(&signature),
    });
    Signed { kind: T::KIND, bytes }
}

/// A freshly signed object, ready to be written out as text or bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Signed {
    kind: Kind,
    bytes: Vec<u8>,
}

impl Signed {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The wire bytes, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form `cs1.<label>.<base64url>`.
    pub fn to_text(&self) -> String {
        to_text(self.kind, &self.bytes)
    }

    /// SHA-256 of the wire bytes (the same value [`Verified::digest`] gives the receiver).
    pub fn digest(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A well-formed object of kind `T::KIND` whose signature has **not** been checked.
///
/// Obtained from [`Unverified::parse_text`] or [`Unverified::parse_bytes`]; the only way
/// to its body that is trustworthy is [`Unverified::verify`] (or the verifier functions of
/// this crate, which call it).
pub struct Unverified<T> {
    bytes: Vec<u8>,
    body: Vec<u8>,
    signature: [u8; SIG_LEN],
    _kind: PhantomData<fn() -> T>,
}

impl<T> Clone for Unverified<T> {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            body: self.body.clone(),
            signature: self.signature,
            _kind: PhantomData,
        }
    }
}

impl<T: SignedBody> fmt::Debug for Unverified<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unverified")
            .field("kind", &T::KIND)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl<T: SignedBody> Unverified<T> {
    /// Parses the text form `cs1.<label>.<base64url>`. The label must be `T`'s
    /// ([`FormatError::WrongKind`] otherwise). No whitespace is accepted: callers reading a
    /// file trim it first.
    pub fn parse_text(text: &str) -> Result<Self, FormatError> {
        // base64 expands by 4/3; anything longer cannot be a wire object within the limit.
        let max_text = T::KIND.max_wire_len() / 3 * 4 + 64;
        if text.len() > max_text {
            return Err(FormatError::TooLarge {
                len: text.len(),
                max: max_text,
            });
        }
        let rest = text
            .strip_prefix(TEXT_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(FormatError::WrongPrefix)?;
        let (label, payload) = rest.split_once('.').ok_or(FormatError::WrongPrefix)?;
        let found = Kind::from_label(label).ok_or(FormatError::UnknownKind)?;
        if found != T::KIND {
            return Err(FormatError::WrongKind {
                expected: T::KIND,
                found,
            });
        }
        let base = TEXT_PREFIX.len() + 1 + label.len() + 1;
        Self::parse_bytes(&b64_decode(payload, base)?)
    }

    /// Parses wire bytes. The envelope must be of `T`'s kind and its version
    /// ([`Kind::wire_version`]),
    /// canonical, with nothing after it.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > T::KIND.max_wire_len() {
            return Err(FormatError::TooLarge {
                len: bytes.len(),
                max: T::KIND.max_wire_len(),
            });
        }
        match bytes.first() {
            None => return Err(FormatError::Truncated { what: "envelope" }),
            Some(&v) => {
                // The version of the kind the envelope declares (so that an object of another
                // kind is reported as such below), else of `T`'s.
                let reads = bytes
                    .get(1)
                    .and_then(|t| Kind::from_tag(*t))
                    .unwrap_or(T::KIND)
                    .wire_version();
                if v != reads {
                    return Err(FormatError::UnsupportedVersion { found: v, reads });
                }
            }
        }
        let (wire, rest) = postcard::take_from_bytes::<WireRepr>(bytes).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => FormatError::Truncated { what: "envelope" },
            _ => FormatError::Decode { what: "envelope" },
        })?;
        if !rest.is_empty() {
            return Err(FormatError::TrailingBytes {
                what: "envelope",
                count: rest.len(),
            });
        }
        let found = Kind::from_tag(wire.kind).ok_or(FormatError::UnknownKindTag { tag: wire.kind })?;
        if found != T::KIND {
            return Err(FormatError::WrongKind {
                expected: T::KIND,
                found,
            });
        }
        if encode(&wire) != bytes {
            return Err(FormatError::NonCanonical { what: "envelope" });
        }
        Ok(Self {
            bytes: bytes.to_vec(),
            signature: join_sig(&wire.signature),
            body: wire.body,
            _kind: PhantomData,
        })
    }

    /// Checks the signature with `key` over the bytes as received, and only then decodes the
    /// body (no trailing bytes, canonical encoding).
    pub fn verify(&self, key: &PublicKey) -> Result<Verified<T>, SigError> {
        verify_signature(T::KIND, &self.body, &self.signature, key)?;
        let body = decode_body::<T>(&self.body).map_err(SigError::Body)?;
        Ok(Verified {
            body,
            bytes: self.bytes.clone(),
            signer: *key,
        })
    }

    /// Decodes the body **without checking the signature**. Everything in it is
    /// attacker-controlled: use it only to find which key to verify with (the credential
    /// serial of a token, the subject of a self-query) and never to decide anything.
    pub fn peek_unverified(&self) -> Result<T, FormatError> {
        decode_body::<T>(&self.body)
    }

    /// SHA-256 of the wire bytes (the token hash, also for denied queries).
    pub fn digest(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }

    /// The wire bytes as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form `cs1.<label>.<base64url>`.
    pub fn to_text(&self) -> String {
        to_text(T::KIND, &self.bytes)
    }
}

/// An object whose signature has been verified, with its decoded body.
#[derive(Clone)]
pub struct Verified<T> {
    body: T,
    bytes: Vec<u8>,
    signer: PublicKey,
}

impl<T: SignedBody> Verified<T> {
    /// The verified body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The verified body, by value.
    pub fn into_body(self) -> T {
        self.body
    }

    /// The key the signature was verified with.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }

    /// SHA-256 of the wire bytes (the token hash in receipts).
    pub fn digest(&self) -> [u8; 32] {
        sha256(&self.bytes)
    }

    /// The wire bytes as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The text form `cs1.<label>.<base64url>`.
    pub fn to_text(&self) -> String {
        to_text(T::KIND, &self.bytes)
    }
}

impl<T: SignedBody + fmt::Debug> fmt::Debug for Verified<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("body", &self.body)
            .field("signer", &self.signer)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BundleRequest;

    fn req() -> BundleRequest {
        BundleRequest {
            request_id: [7; 16],
            subject: "11010519491231002X".into(),
            issued_at: 10,
            expires_at: 20,
            audience: "https://platform.example".into(),
            last_tree_size: 3,
        }
    }

    #[test]
    fn wire_layout_is_as_documented() {
        let sk = SigningKey::from_seed(&[1; 32]);
        let s = sign(&req(), &sk);
        let body = encode(&req());
        let b = s.as_bytes();
        assert_eq!(b[0], WIRE_VERSION);
        assert_eq!(b[1], Kind::BundleRequest.tag());
        assert!(body.len() < 128);
        assert_eq!(usize::from(b[2]), body.len());
        assert_eq!(&b[3..3 + body.len()], &body[..]);
        assert_eq!(b.len(), 3 + body.len() + 64);
        let sig: [u8; 64] = b[3 + body.len()..].try_into().unwrap();
        let msg = [&b"credseal:v1:bundle-request\0"[..], &body].concat();
        assert_eq!(signed_bytes(Kind::BundleRequest, &body), msg);
        assert!(verify_raw_strict(sk.public().as_bytes(), &msg, &sig));
    }

    #[test]
    fn overlong_varint_in_envelope_is_non_canonical() {
        let sk = SigningKey::from_seed(&[1; 32]);
        let b = sign(&req(), &sk).to_bytes();
        // Re-encode the body length (< 128, one byte) as a two-byte varint.
        let mut o = vec![b[0], b[1], b[2] | 0x80, 0x00];
        o.extend_from_slice(&b[3..]);
        assert_eq!(
            Unverified::<BundleRequest>::parse_bytes(&o).unwrap_err(),
            FormatError::NonCanonical { what: "envelope" }
        );
    }

    #[test]
    fn overlong_varint_in_signed_body_is_non_canonical() {
        // A signer could sign a non-canonical body; it must still be refused after the
        // signature check (one object, one encoding).
        let sk = SigningKey::from_seed(&[1; 32]);
        let mut body = encode(&req());
        // Last field `last_tree_size` = 3 is the final byte; make it an over-long varint.
        let last = body.len() - 1;
        assert_eq!(body[last], 3);
        body[last] = 0x83;
        body.push(0x00);
        let signature = sk.sign_raw(&signed_bytes(Kind::BundleRequest, &body));
        let wire = encode(&WireRepr {
            version: 1,
            kind: Kind::BundleRequest.tag(),
            body,
            signature: split_sig(&signature),
        });
        let u = Unverified::<BundleRequest>::parse_bytes(&wire).unwrap();
        assert_eq!(
            u.verify(&sk.public()).unwrap_err(),
            SigError::Body(FormatError::NonCanonical { what: "body" })
        );
    }

    #[test]
    fn signed_body_with_trailing_bytes_is_rejected_after_verification() {
        let sk = SigningKey::from_seed(&[1; 32]);
        let mut body = encode(&req());
        body.push(0);
        let signature = sk.sign_raw(&signed_bytes(Kind::BundleRequest, &body));
        let wire = encode(&WireRepr {
            version: 1,
            kind: Kind::BundleRequest.tag(),
            body,
            signature: split_sig(&signature),
        });
        let u = Unverified::<BundleRequest>::parse_bytes(&wire).unwrap();
        assert_eq!(
            u.verify(&sk.public()).unwrap_err(),
            SigError::Body(FormatError::TrailingBytes { what: "body", count: 1 })
        );
        assert!(u.peek_unverified().is_err());
    }

    #[test]
    fn unknown_version_and_tag() {
        let sk = SigningKey::from_seed(&[1; 32]);
        let mut b = sign(&req(), &sk).to_bytes();
        b[0] = 2;
        assert_eq!(
            Unverified::<BundleRequest>::parse_bytes(&b).unwrap_err(),
            FormatError::UnsupportedVersion { found: 2, reads: 1 }
        );
        b[0] = 1;
        b[1] = 15;
        assert_eq!(
            Unverified::<BundleRequest>::parse_bytes(&b).unwrap_err(),
            FormatError::UnknownKindTag { tag: 15 }
        );
        assert_eq!(
            Unverified::<BundleRequest>::parse_bytes(&[]).unwrap_err(),
            FormatError::Truncated { what: "envelope" }
        );
    }

    #[test]
    fn oversized_input_is_rejected_before_decoding() {
        let big = vec![1u8; MAX_WIRE_LEN + 1];
        assert!(matches!(
            Unverified::<BundleRequest>::parse_bytes(&big),
            Err(FormatError::TooLarge { .. })
        ));
        let text = format!("cs1.bundle-request.{}", "A".repeat(MAX_WIRE_LEN * 2));
        assert!(matches!(
            Unverified::<BundleRequest>::parse_text(&text),
            Err(FormatError::TooLarge { .. })
        ));
    }

    #[test]
    fn kind_labels_and_tags_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_label(k.label()), Some(k));
            assert_eq!(Kind::from_tag(k.tag()), Some(k));
            assert_eq!(k.to_string(), k.label());
        }
        assert_eq!(Kind::from_tag(0), None);
        assert_eq!(Kind::from_label("Token"), None);
    }
}
