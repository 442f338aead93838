//! Why the verifier refused a query: one variant, and one stable reason code, per rule.

use crate::{FormatError, Kind};

/// Why a query (or a revocation list) was refused. Each rule of docs/design.md §5 has its own
/// variant and its own stable, kebab-case [`Denial::code`], which the department sees and
/// the receipt records.
///
/// The `Display` text is a sentence for people; it never contains key bytes, subject ids or
/// record values (class and purpose ids from the catalogue may appear, quoted).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denial {
    /// The object could not be parsed, or a signed field is not well-formed (an invalid
    /// subject id, a body that is not canonical).
    #[error("malformed object: {detail}")]
    Malformed {
        /// What is wrong.
        detail: FormatError,
    },
    /// The credential is not signed by the authority.
    #[error("the credential is not signed by the authority")]
    CredentialBadSignature,
    /// The token is not signed by the key of the credential presented with it.
    #[error("the query is not signed by the credential's key")]
    BadSignature,
    /// The token names a different credential than the one presented with it.
    #[error("the query names a different credential than the one presented")]
    UnknownCredential,
    /// The credential has been revoked.
    #[error("the credential has been revoked")]
    CredentialRevoked,
    /// The credential's validity window has ended (or is empty).
    #[error("the credential has expired")]
    CredentialExpired,
    /// The credential's validity window has not begun.
    #[error("the credential is not yet valid")]
    CredentialNotYetValid,
    /// The token (or self-query) has expired.
    #[error("the query has expired")]
    TokenExpired,
    /// The token (or self-query) is issued in the future, beyond the allowed clock skew.
    #[error("the query is not yet valid")]
    TokenNotYetValid,
    /// The token (or self-query) lives longer than the policy allows, or ends before it
    /// begins.
    #[error("the query's lifetime exceeds the platform's maximum")]
    LifetimeOverPolicy,
    /// The object is meant for another platform.
    #[error("the {} is for another platform", noun(*object))]
    WrongAudience {
        /// Which object names the other platform.
        object: Kind,
    },
    /// The query id has been seen before.
    #[error("the query id has already been used")]
    Replayed,
    /// A requested class is not in the catalogue, or no class is requested.
    #[error("{}", match class { Some(c) => format!("class {c:?} is not in the catalogue"), None => "the query requests no class".to_string() })]
    UnknownClass {
        /// The class, or `None` when the query requests no class at all.
        class: Option<String>,
    },
    /// A requested view (`<purpose>/<class>`) is not defined by the catalogue: the purpose
    /// does not exist or defines no view of that class.
    #[error("view {view:?} is not in the catalogue")]
    UnknownView {
        /// The view as the token (or credential) names it.
        view: String,
    },
    /// The token names one class more than once: whole and through a view, or through two
    /// views. Which fields it asks for would be ambiguous.
    #[error("class {class:?} is requested more than once (whole or through views)")]
    ViewConflict {
        /// The class.
        class: String,
    },
    /// A requested class is not granted by the credential.
    #[error("class {class:?} is not granted by the credential")]
    ClassNotGranted {
        /// The class.
        class: String,
    },
    /// The purpose is not granted by the credential.
    #[error("the purpose is not granted by the credential")]
    PurposeNotGranted,
    /// The catalogue does not allow the purpose for a requested class.
    #[error("the purpose is not allowed for class {class:?}")]
    PurposeNotAllowedForClass {
        /// The class.
        class: String,
    },
    /// A requested class requires the subject's consent and the token carries none.
    #[error("the subject's consent is required and missing")]
    ConsentMissing,
    /// The consent is malformed, not signed by the subject's registered key, or the subject
    /// has no registered key. Deliberately one reason for all of these, so that a denial
    /// does not reveal whether the subject exists.
    #[error("the consent is not valid")]
    ConsentInvalid,
    /// The consent is outside its validity window, or its lifetime exceeds the policy.
    #[error("the consent has expired or is not yet valid")]
    ConsentExpired,
    /// The consent has no use left.
    #[error("the consent has no use left")]
    ConsentExhausted,
    /// The subject withdrew the consent (a signed withdrawal installed before the query).
    #[error("the subject withdrew the consent")]
    ConsentWithdrawn,
    /// The consent is for another subject, department or purpose, or does not cover every
    /// requested class that requires consent.
    #[error("the consent does not match the query")]
    ConsentMismatch,
    /// A self-query is not signed by the subject's registered key, or the subject has no
    /// registered key (one reason for both: no existence oracle).
    #[error("the query is not signed by the subject's registered key")]
    SubjectKeyInvalid,
    /// The revocation list is not signed by the authority.
    #[error("the revocation list is not signed by the authority")]
    RevocationListBadSignature,
    /// The revocation list's version is not newer than the one the platform holds.
    #[error("the revocation list is not newer than the current one")]
    RevocationListStale,
    /// A shred order is not signed by the authority the platform trusts (forged, altered, or
    /// signed by another key).
    #[error("the shred order is not signed by the trusted authority")]
    ShredOrderBadSignature,
}

/// How a kind of object is called in a sentence.
fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Credential => "credential",
        Kind::Token => "query token",
        Kind::Consent => "consent",
        Kind::Revocations => "revocation list",
        Kind::SelfQuery => "self-query",
        Kind::BundleRequest => "bundle request",
        Kind::StaffRequest => "staff request",
        Kind::ShredOrder => "shred order",
        Kind::StaffOrder => "staff order",
        Kind::Batch => "ingest batch",
        Kind::ProviderCredential => "provider credential",
        Kind::ConsentWithdrawal => "consent withdrawal",
        Kind::Objection => "objection",
        Kind::ObjectionAnswer => "objection answer",
    }
}

impl Denial {
    /// The stable reason code, e.g. `"class-not-granted"`.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::Malformed { .. } => "malformed",
            Denial::CredentialBadSignature => "credential-bad-signature",
            Denial::BadSignature => "bad-signature",
            Denial::UnknownCredential => "unknown-credential",
            Denial::CredentialRevoked => "credential-revoked",
            Denial::CredentialExpired => "credential-expired",
            Denial::CredentialNotYetValid => "credential-not-yet-valid",
            Denial::TokenExpired => "token-expired",
            Denial::TokenNotYetValid => "token-not-yet-valid",
            Denial::LifetimeOverPolicy => "lifetime-over-policy",
            Denial::WrongAudience { .. } => "wrong-audience",
            Denial::Replayed => "replayed",
            Denial::UnknownClass { .. } => "unknown-class",
            Denial::UnknownView { .. } => "unknown-view",
            Denial::ViewConflict { .. } => "view-conflict",
            Denial::ClassNotGranted { .. } => "class-not-granted",
            Denial::PurposeNotGranted => "purpose-not-granted",
            Denial::PurposeNotAllowedForClass { .. } => "purpose-not-allowed-for-class",
            Denial::ConsentMissing => "consent-missing",
            Denial::ConsentInvalid => "consent-invalid",
            Denial::ConsentExpired => "consent-expired",
            Denial::ConsentExhausted => "consent-exhausted",
            Denial::ConsentWithdrawn => "consent-withdrawn",
            Denial::ConsentMismatch => "consent-mismatch",
            Denial::SubjectKeyInvalid => "subject-key-invalid",
            Denial::RevocationListBadSignature => "revocation-list-bad-signature",
            Denial::RevocationListStale => "revocation-list-stale",
            Denial::ShredOrderBadSignature => "shred-order-bad-signature",
        }
    }

    /// Whether the denial means tampering or forgery rather than a lack of authority: a
    /// malformed object or a signature that does not verify (credential, token, revocation
    /// list). The CLI exits 4 for these and 3 for the others.
    ///
    /// [`Denial::ConsentInvalid`] and [`Denial::SubjectKeyInvalid`] are *not* forgeries here:
    /// they also stand for "the subject has no registered key", and must look the same
    /// whether or not the subject exists.
    pub fn is_forgery(&self) -> bool {
        matches!(
            self,
            Denial::Malformed { .. }
                | Denial::CredentialBadSignature
                | Denial::BadSignature
                | Denial::RevocationListBadSignature
                | Denial::ShredOrderBadSignature
        )
    }

    /// Whether the denial was decided after the query's own signature had verified (the
    /// department's key for a token, the subject's key for a self-query), so that the query
    /// is known to come from its signer. docs/design.md §6: such denials leave a receipt.
    ///
    /// The verifier checks the credential's and the token's signatures before any other
    /// rule, so a revoked, expired or not yet valid credential, or one for another platform,
    /// is an authenticated denial: the holder of a credential the authority signed asked, and
    /// the subject sees it.
    ///
    /// [`Denial::Malformed`] counts as not authenticated even when it concerns a signed
    /// field (an invalid subject id): such a query names no subject a receipt could be
    /// filed under. Denials of a revocation list are not about a query at all.
    pub fn query_authenticated(&self) -> bool {
        !matches!(
            self,
            Denial::Malformed { .. }
                | Denial::CredentialBadSignature
                | Denial::BadSignature
                | Denial::WrongAudience {
                    object: Kind::Revocations
                }
                | Denial::SubjectKeyInvalid
                | Denial::RevocationListBadSignature
                | Denial::RevocationListStale
        )
    }
}

impl From<FormatError> for Denial {
    fn from(detail: FormatError) -> Self {
        Denial::Malformed { detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let all = [
            Denial::Malformed {
                detail: FormatError::WrongPrefix,
            },
            Denial::CredentialBadSignature,
            Denial::BadSignature,
            Denial::UnknownCredential,
            Denial::CredentialRevoked,
            Denial::CredentialExpired,
            Denial::CredentialNotYetValid,
            Denial::TokenExpired,
            Denial::TokenNotYetValid,
            Denial::LifetimeOverPolicy,
            Denial::WrongAudience { object: Kind::Token },
            Denial::Replayed,
            Denial::UnknownClass { class: None },
            Denial::UnknownView { view: "p/x".into() },
            Denial::ViewConflict { class: "x".into() },
            Denial::ClassNotGranted { class: "x".into() },
            Denial::PurposeNotGranted,
            Denial::PurposeNotAllowedForClass { class: "x".into() },
            Denial::ConsentMissing,
            Denial::ConsentInvalid,
            Denial::ConsentExpired,
            Denial::ConsentExhausted,
            Denial::ConsentWithdrawn,
            Denial::ConsentMismatch,
            Denial::SubjectKeyInvalid,
            Denial::RevocationListBadSignature,
            Denial::RevocationListStale,
            Denial::ShredOrderBadSignature,
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(Denial::code).collect();
        assert_eq!(codes.len(), all.len());
        for c in codes {
            assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{c}");
        }
        for d in &all {
            let s = d.to_string();
            assert!(!s.is_empty() && !s.ends_with('.'), "{s}");
        }
        assert_eq!(
            all.iter().filter(|d| d.is_forgery()).count(),
            5,
            "malformed and four bad signatures"
        );
    }

    #[test]
    fn wrong_audience_names_the_object() {
        assert_eq!(
            Denial::WrongAudience {
                object: Kind::Revocations
            }
            .to_string(),
            "the revocation list is for another platform"
        );
        assert_eq!(
            Denial::WrongAudience { object: Kind::Token }.to_string(),
            "the query token is for another platform"
        );
    }

    #[test]
    fn unknown_class_display_quotes_and_escapes() {
        let d = Denial::UnknownClass {
            class: Some("a\u{1b}[31m".into()),
        };
        assert_eq!(d.to_string(), "class \"a\\u{1b}[31m\" is not in the catalogue");
        assert_eq!(
            Denial::UnknownClass { class: None }.to_string(),
            "the query requests no class"
        );
    }
}
