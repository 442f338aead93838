//! The bodies of the signed objects (docs/design.md §5). All times are Unix seconds; class and
//! purpose sets are `BTreeSet`s so that every body has exactly one encoding.
//!
//! `Debug` of a body that names a subject masks the middle of the subject id (personal
//! data must not end up in logs whole), like `credseal_core::SubjectId`'s `Debug`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PublicKey;

/// The subject id with its middle masked, for `Debug`.
struct Masked<'a>(&'a str);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match (s.get(..4), s.len().checked_sub(2).and_then(|i| s.get(i..))) {
            (Some(head), Some(tail)) if s.len() > 6 => write!(f, "\"{head}…{tail}\""),
            _ => f.write_str("\"…\""),
        }
    }
}

/// A department credential, signed by the authority ([`crate::Kind::Credential`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Serial number, unique per authority; revocation lists name it.
    pub serial: u64,
    /// Department id (stable, machine-readable).
    pub department_id: String,
    /// Department name, for people.
    pub department_name: String,
    /// The department's Ed25519 key, which signs its query tokens.
    pub signing_key: PublicKey,
    /// The department's X25519 public key, to which answers are HPKE-sealed.
    pub sealing_key: [u8; 32],
    /// Catalogue classes the department may query.
    pub classes: BTreeSet<String>,
    /// Purposes the department may query for.
    pub purposes: BTreeSet<String>,
    /// Valid from (inclusive, less the policy's clock skew).
    pub not_before: u64,
    /// Valid until (inclusive).
    pub not_after: u64,
    /// The platform (its log origin) this credential is valid for.
    pub audience: String,
}

/// A query token, signed by a department with its credential's signing key
/// ([`crate::Kind::Token`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Random query id; the platform accepts each id once.
    pub query_id: [u8; 16],
    /// Serial of the credential whose key signs this token.
    pub credential_serial: u64,
    /// The subject queried: a normalised subject id (`SubjectId::as_str`).
    pub subject: String,
    /// Classes requested.
    pub classes: BTreeSet<String>,
    /// The purpose of the query.
    pub purpose: String,
    /// Free-text legal basis (case number, statute), recorded in the receipt.
    pub legal_basis: String,
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// The platform (its log origin) this token is for.
    pub audience: String,
    /// The wire bytes of the subject's signed [`Consent`], where a class requires it.
    pub consent: Option<Vec<u8>>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("query_id", &credseal_core::hex(&self.query_id))
            .field("credential_serial", &self.credential_serial)
            .field("subject", &Masked(&self.subject))
            .field("classes", &self.classes)
            .field("purpose", &self.purpose)
            .field("legal_basis", &self.legal_basis)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("audience", &self.audience)
            .field("consent", &self.consent.as_ref().map(|c| c.len()))
            .finish()
    }
}

/// A subject's consent to queries by one department for one purpose, signed with the
/// subject's key ([`crate::Kind::Consent`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Random consent id; the platform counts uses against it.
    pub consent_id: [u8; 16],
    /// The consenting subject: a normalised subject id.
    pub subject: String,
    /// The subject's key, which signs this consent; must be the key registered for the
    /// subject on the platform.
    pub subject_key: PublicKey,
    /// The department consented to.
    pub department_id: String,
    /// Classes the department may read.
    pub classes: BTreeSet<String>,
    /// The one purpose consented to.
    pub purpose: String,
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// How many queries may use it.
    pub max_uses: u32,
    /// The platform (its log origin) where it may be used: each platform counts uses
    /// separately, so a consent names the one platform it is for. Added in consent wire
    /// version 2 ([`crate::CONSENT_WIRE_VERSION`]).
    pub audience: String,
}

/// A subject's withdrawal of one of its consents, signed with the subject's registered key
/// ([`crate::Kind::ConsentWithdrawal`]). Once installed on the platform (`audience`), every
/// query that starts after it and presents the consent is denied `consent-withdrawn`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentWithdrawal {
    /// The consent withdrawn.
    pub consent_id: [u8; 16],
    /// The subject (normalised id), whose registered key signs.
    pub subject: String,
    /// When the subject signed it.
    pub issued_at: u64,
    /// The platform (its log origin) it is for.
    pub audience: String,
}

/// A subject's objection to one of its records, or its application for credit repair of a
/// negative one ([`crate::Kind::Objection`]), signed with the subject's registered key. The
/// platform marks the record disputed and gives its provider the class's deadline to answer
/// (a repair application: the authority).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    /// Random objection id.
    pub objection_id: [u8; 16],
    /// The subject (normalised id), whose registered key signs.
    pub subject: String,
    /// The record's class.
    pub class: String,
    /// The record's id.
    pub record_id: String,
    /// `objection` or `repair`.
    pub kind: String,
    /// The subject's reason, in its words (at most 2000 characters).
    pub reason: String,
    /// When the subject signed it.
    pub issued_at: u64,
    /// The platform (its log origin) it is for.
    pub audience: String,
}

impl fmt::Debug for Objection {
    /// Never the reason (the subject's words) nor the whole subject id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Objection")
            .field("objection_id", &self.objection_id)
            .field("subject", &Masked(&self.subject))
            .field("class", &self.class)
            .field("kind", &self.kind)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// The answer to an objection, with the reason, signed by the key of the record's provider
/// (or, for a repair application, the authority) ([`crate::Kind::ObjectionAnswer`], wire
/// version [`crate::OBJECTION_ANSWER_WIRE_VERSION`]): the record is kept as it is
/// (`upheld`) or destroyed (`deleted`: the platform shreds every version of it). A
/// correction answers an objection by itself: the provider's next version of the record
/// resolves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectionAnswer {
    /// The objection answered.
    pub objection_id: [u8; 16],
    /// The answer's reason, for the subject (at most 2000 characters).
    pub reason: String,
    /// `upheld` or `deleted` (added in wire version 2).
    pub outcome: String,
    /// When it was signed.
    pub issued_at: u64,
    /// The platform (its log origin) it is for.
    pub audience: String,
}

impl fmt::Debug for ConsentWithdrawal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentWithdrawal")
            .field("consent_id", &self.consent_id)
            .field("subject", &Masked(&self.subject))
            .field("issued_at", &self.issued_at)
            .field("audience", &self.audience)
            .finish()
    }
}

impl fmt::Debug for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consent")
            .field("consent_id", &credseal_core::hex(&self.consent_id))
            .field("subject", &Masked(&self.subject))
            .field("subject_key", &self.subject_key)
            .field("department_id", &self.department_id)
            .field("classes", &self.classes)
            .field("purpose", &self.purpose)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("max_uses", &self.max_uses)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The authority's list of revoked credentials ([`crate::Kind::Revocations`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// Version, raised with every list; the platform refuses a version not above its own.
    pub version: u64,
    /// Issued at.
    pub issued_at: u64,
    /// The platform (its log origin) this list is for.
    pub audience: String,
    /// Revoked credential serials, each with the time the authority revoked it (for the
    /// record: a listed serial is refused from the moment the list is installed).
    pub revoked: BTreeMap<u64, u64>,
}

/// A subject's query for its own data, signed with the subject's key
/// ([`crate::Kind::SelfQuery`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfQuery {
    /// Random query id; accepted once.
    pub query_id: [u8; 16],
    /// The subject: a normalised subject id.
    pub subject: String,
    /// Classes requested.
    pub classes: BTreeSet<String>,
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// The platform (its log origin) this query is for.
    pub audience: String,
    /// The subject's X25519 public key, to which the answer is sealed.
    pub sealing_key: [u8; 32],
}

impl fmt::Debug for SelfQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfQuery")
            .field("query_id", &credseal_core::hex(&self.query_id))
            .field("subject", &Masked(&self.subject))
            .field("classes", &self.classes)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// A subject's request for its receipt bundle, signed with the subject's key
/// ([`crate::Kind::BundleRequest`]). Verified by a later stage of the platform; this crate
/// only defines, signs and verifies it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRequest {
    /// Random request id.
    pub request_id: [u8; 16],
    /// The subject: a normalised subject id.
    pub subject: String,
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// The platform (its log origin) this request is for.
    pub audience: String,
    /// Size of the log tree in the checkpoint the subject saw last (0: none), so the bundle
    /// carries a consistency proof from it.
    pub last_tree_size: u64,
}

impl fmt::Debug for BundleRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleRequest")
            .field("request_id", &credseal_core::hex(&self.request_id))
            .field("subject", &Masked(&self.subject))
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("audience", &self.audience)
            .field("last_tree_size", &self.last_tree_size)
            .finish()
    }
}

/// A request by enrolled platform staff — an incident responder or a security officer —
/// to run one command (a leak trace, a canary plant, an access review), signed with the
/// staff member's enrolled key ([`crate::Kind::StaffRequest`]). The platform looks the key
/// up among its enrolled staff of `role`, checks the audience, the validity window, that
/// `request_id` was not seen before and that `input_digest` is the SHA-256 of exactly the
/// input it is asked to process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRequest {
    /// Random request id; accepted once.
    pub request_id: [u8; 16],
    /// `responder` or `officer`.
    pub role: String,
    /// The key that signs this request; must be enrolled on the platform for `role`.
    pub staff_key: PublicKey,
    /// What to run: `trace`, `canary-plant`, `audit-report`, `audit-alerts`.
    pub action: String,
    /// SHA-256 of the input of the action (the leak file, or the parameters).
    pub input_digest: [u8; 32],
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// The platform (its log origin) this request is for.
    pub audience: String,
}

/// A credit-repair order (docs/design.md §8), signed by the authority
/// ([`crate::Kind::ShredOrder`]): the platform `audience` must destroy every version of one
/// record — `subject`'s record `record_id` of `class` — for good. The platform carries it out
/// only with two security officers' approvals of the operation it names, and only once (the
/// record is tombstoned). `reference` is the order's own number (a case or decision number),
/// named in the operation text and in the subject's receipt.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShredOrder {
    /// The order's reference, e.g. `CR-2026-0017`.
    pub reference: String,
    /// The subject: a normalised subject id (`SubjectId::as_str`).
    pub subject: String,
    /// The record's field class.
    pub class: String,
    /// The record id (as the source gave it).
    pub record_id: String,
    /// When the authority signed it.
    pub issued_at: u64,
    /// The platform (its log origin) the order is for.
    pub audience: String,
}

impl fmt::Debug for ShredOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShredOrder")
            .field("reference", &self.reference)
            .field("subject", &Masked(&self.subject))
            .field("class", &self.class)
            .field("record_id", &Masked(&self.record_id))
            .field("issued_at", &self.issued_at)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The authority's order to enrol or remove one staff member on one platform
/// ([`crate::Kind::StaffOrder`]). `operation` is the exact text of the staff operation
/// (`enroll officer <id> key <hex>` or `remove officer <id>`, as the platform prints it): the
/// authority's signature stands in for two officers' approvals of that operation. Accepted
/// once (`order_id`), within its validity window, for staff operations only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffOrder {
    /// Random order id; accepted once.
    pub order_id: [u8; 16],
    /// The operation text, e.g. `remove officer off-wang`.
    pub operation: String,
    /// Issued at.
    pub issued_at: u64,
    /// Expires at (inclusive).
    pub expires_at: u64,
    /// The platform (its log origin) the order is for.
    pub audience: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_subject() {
        let r = BundleRequest {
            request_id: [0; 16],
            subject: "11010519491231002X".into(),
            issued_at: 1,
            expires_at: 2,
            audience: "a".into(),
            last_tree_size: 0,
        };
        let d = format!("{r:?}");
        assert!(d.contains("\"1101…2X\""), "{d}");
        assert!(!d.contains("11010519491231002X"), "{d}");
        assert_eq!(format!("{:?}", Masked("short")), "\"…\"");
        assert_eq!(format!("{:?}", Masked("ab€€cdef")), "\"…\"");
    }
}
