//! Provider credentials (docs/formats.md "Provider credential"): the authority enrols a
//! data provider by signing a credential that names the provider's id, its batch-signing
//! key, the catalogue classes it may write and, optionally, the record-id namespace (a
//! prefix) its records must use. The platform installs it (`provider enroll`) and checks
//! every record of the provider's signed batches against it.
//!
//! One more signed kind ([`crate::Kind::ProviderCredential`], text
//! `cs1.provider-credential.<base64url>`), signed over
//! `"credseal:v1:provider-credential" ‖ 0x00 ‖ postcard(body)`. [`check_provider_credential`]
//! is the whole pure check; the revocation list (the same serial space as department
//! credentials) is the caller's.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::wire::SigError;
use crate::{PublicKey, Unverified, Verified};

/// A data provider's credential, signed by the authority ([`crate::Kind::ProviderCredential`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCredential {
    /// Serial number, from the same counter as department credentials: a revocation list
    /// that names it revokes the provider.
    pub serial: u64,
    /// The provider's id: the `source` its records must name, and the id in its batches.
    pub provider_id: String,
    /// The provider's name, for people.
    pub provider_name: String,
    /// The Ed25519 key that signs the provider's batches.
    pub provider_key: PublicKey,
    /// Catalogue classes the provider may write (add, correct, supersede).
    pub classes: BTreeSet<String>,
    /// The record-id namespace: every record id the provider writes starts with it (empty:
    /// any id; records of other providers stay refused by their source).
    pub record_prefix: String,
    /// Valid from (inclusive, less the policy's clock skew).
    pub not_before: u64,
    /// Valid until (inclusive).
    pub not_after: u64,
    /// The platform (its log origin) this credential is valid for.
    pub audience: String,
}

impl ProviderCredential {
    /// Whether the provider may write `class`.
    pub fn allows_class(&self, class: &str) -> bool {
        self.classes.contains(class)
    }

    /// Whether `record_id` lies in the provider's namespace.
    pub fn in_namespace(&self, record_id: &str) -> bool {
        record_id.starts_with(&self.record_prefix)
    }
}

/// Why a provider credential was refused. [`ProviderCredentialError::is_forgery`] tells a
/// credential not signed by the authority (exit 4) from a genuine one not acceptable here
/// (exit 3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderCredentialError {
    /// Not signed by the trusted authority (or altered after signing).
    #[error("the provider credential is not signed by the trusted authority")]
    BadSignature,
    /// The body does not decode canonically.
    #[error("the provider credential is malformed: {0}")]
    Malformed(String),
    /// For another platform.
    #[error("the provider credential is for another platform")]
    WrongAudience,
    /// Outside its validity window.
    #[error("the provider credential is outside its validity window")]
    Expired,
    /// Names no class.
    #[error("the provider credential names no class")]
    NoClasses,
}

impl ProviderCredentialError {
    /// A stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSignature => "provider-credential-bad-signature",
            Self::Malformed(_) => "malformed",
            Self::WrongAudience => "wrong-audience",
            Self::Expired => "provider-credential-expired",
            Self::NoClasses => "provider-credential-no-classes",
        }
    }

    /// Whether this means forgery or tampering (exit 4) rather than a refusal (exit 3).
    pub fn is_forgery(&self) -> bool {
        matches!(self, Self::BadSignature | Self::Malformed(_))
    }
}

/// Checks a provider credential: the authority's signature (strict Ed25519) over the bytes
/// as received, then this platform as audience, the validity window (`not_before` less
/// `max_skew_secs` ≤ `now` ≤ `not_after`) and at least one class. Revocation and the
/// classes' existence in the catalogue are the caller's.
pub fn check_provider_credential(
    u: &Unverified<ProviderCredential>,
    authority: &PublicKey,
    now: u64,
    audience: &str,
    max_skew_secs: u64,
) -> Result<Verified<ProviderCredential>, ProviderCredentialError> {
    let v = u.verify(authority).map_err(|e| match e {
        SigError::BadSignature => ProviderCredentialError::BadSignature,
        SigError::Body(f) => ProviderCredentialError::Malformed(f.to_string()),
    })?;
    let b = v.body();
    if b.audience != audience {
        return Err(ProviderCredentialError::WrongAudience);
    }
    if now.saturating_add(max_skew_secs) < b.not_before || now > b.not_after {
        return Err(ProviderCredentialError::Expired);
    }
    if b.classes.is_empty() {
        return Err(ProviderCredentialError::NoClasses);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, sign};

    const NOW: u64 = 1_800_000_000;
    const ORIGIN: &str = "credseal.example/log";

    fn cred(pk: PublicKey) -> ProviderCredential {
        ProviderCredential {
            serial: 7,
            provider_id: "bank-a".into(),
            provider_name: "Bank A".into(),
            provider_key: pk,
            classes: ["loans".to_string()].into(),
            record_prefix: "LN-".into(),
            not_before: NOW - 10,
            not_after: NOW + 100,
            audience: ORIGIN.into(),
        }
    }

    fn check(text: &str, auth: &PublicKey, now: u64) -> Result<ProviderCredential, ProviderCredentialError> {
        let u = Unverified::<ProviderCredential>::parse_text(text)
            .map_err(|e| ProviderCredentialError::Malformed(e.to_string()))?;
        check_provider_credential(&u, auth, now, ORIGIN, 60).map(Verified::into_body)
    }

    #[test]
    fn provider_credential_round_trips_with_its_label() {
        let auth = SigningKey::from_seed(&[1; 32]);
        let prov = SigningKey::from_seed(&[2; 32]);
        let text = sign(&cred(prov.public()), &auth).to_text();
        assert!(text.starts_with("cs1.provider-credential."), "{text}");
        let c = check(&text, &auth.public(), NOW).unwrap();
        assert_eq!(c, cred(prov.public()));
        assert!(c.allows_class("loans") && !c.allows_class("identity"));
        assert!(c.in_namespace("LN-1") && !c.in_namespace("CC-1"));
    }

    #[test]
    fn provider_credential_signed_by_the_provider_is_a_bad_signature() {
        let auth = SigningKey::from_seed(&[1; 32]);
        let prov = SigningKey::from_seed(&[2; 32]);
        let text = sign(&cred(prov.public()), &prov).to_text();
        let e = check(&text, &auth.public(), NOW).unwrap_err();
        assert_eq!(e, ProviderCredentialError::BadSignature);
        assert!(e.is_forgery());
    }

    #[test]
    fn provider_credential_refusals() {
        let auth = SigningKey::from_seed(&[1; 32]);
        let pk = SigningKey::from_seed(&[2; 32]).public();
        let text = sign(&cred(pk), &auth).to_text();
        assert_eq!(
            check(&text, &auth.public(), NOW + 101).unwrap_err(),
            ProviderCredentialError::Expired
        );
        assert_eq!(
            check(&text, &auth.public(), NOW - 71).unwrap_err(),
            ProviderCredentialError::Expired
        );
        assert!(check(&text, &auth.public(), NOW - 70).is_ok());
        let other = ProviderCredential {
            audience: "other.example/log".into(),
            ..cred(pk)
        };
        let e = check(&sign(&other, &auth).to_text(), &auth.public(), NOW).unwrap_err();
        assert_eq!(e, ProviderCredentialError::WrongAudience);
        assert!(!e.is_forgery());
        let none = ProviderCredential {
            classes: BTreeSet::new(),
            ..cred(pk)
        };
        let e = check(&sign(&none, &auth).to_text(), &auth.public(), NOW).unwrap_err();
        assert_eq!(e, ProviderCredentialError::NoClasses);
    }
}
