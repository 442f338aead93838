//! The credseal query authority (docs/design.md §5): department credentials signed by the
//! authority, query tokens signed by departments, consents signed by subjects, revocation
//! lists, and the verifier that turns them into a [`Grant`]. Pure: no storage, no I/O.
//!
//! Every object is a [`SignedBody`] inside one envelope, signed over
//! `"credseal:v1:" ‖ kind ‖ 0x00 ‖ postcard(body)` with Ed25519 and verified strictly over
//! the bytes as received; its text form is `cs1.<kind>.<base64url>`.
//!
//! # Wire format
//!
//! ```text
//! wire   = version:u8 (2 for consents and objection answers, else 1) ‖ kind-tag:u8 ‖ varint(len(body)) ‖ body ‖ signature:[u8; 64]
//! body   = postcard(Credential | Token | Consent | RevocationList | SelfQuery | BundleRequest
//!                 | StaffRequest | ShredOrder | StaffOrder | IngestBatch
//!                 | ProviderCredential | ConsentWithdrawal | Objection | ObjectionAnswer)
//! signed = "credseal:v1:" ‖ label ‖ 0x00 ‖ body
//! text   = "cs1." ‖ label ‖ "." ‖ base64url-no-pad(wire)
//! ```
//!
//! Labels and tags: `credential` 1, `token` 2, `consent` 3, `revocations` 4, `self-query` 5,
//! `bundle-request` 6, `staff-request` 7, `shred-order` 8, `staff-order` 9, `batch` 10, `provider-credential` 11, `consent-withdrawal` 12, `objection` 13,
//! `objection-answer` 14 ([`Kind`]). Decoders reject a wrong prefix, a label or tag of another
//! kind ([`FormatError::WrongKind`]), padded or non-canonical base64, an unknown version,
//! trailing bytes after the envelope or the body, any envelope or body whose re-encoding
//! differs from the bytes received, and input over [`MAX_WIRE_LEN`]. The signature is
//! checked (Ed25519 `verify_strict`) over the signed bytes as received before the body is
//! decoded. Keys: `cs1.signing-key.<b64url(seed)>` and `cs1.public-key.<b64url(key)>`.
//!
//! Start with [`sign`] on the issuing side and [`Unverified::parse_text`] on the receiving
//! side. Parsing yields an [`Unverified`] value; [`verify_query`] checks every rule and
//! yields a [`Checked`] query; [`Checked::finish`] runs the replay and consent-use checks
//! against the caller's storage and yields the [`Grant`] that the engine's decrypt path
//! requires. There is no other way to a `Grant`.
//!
//! ```
//! use std::collections::BTreeSet;
//! use credseal_auth::{sign, verify_query, Credential, Policy, SigningKey, Token, Unverified, VerifyContext};
//! use credseal_core::Catalog;
//!
//! let catalog = Catalog::parse(
//!     r#"format = 1
//! [[purpose]]
//! id = "loan-approval"
//! title = "Loan approval"
//! [[class]]
//! id = "identity"
//! title = "Identity"
//! sensitivity = "medium"
//! consent_required = false
//! retention = "permanent"
//! purposes = ["loan-approval"]
//! [[class.field]]
//! name = "name"
//! type = "text"
//! "#,
//!     None,
//! )?;
//! let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
//! let now = 1_750_000_000;
//! let origin = "credseal.example/log";
//!
//! // The authority enrols a department.
//! let authority = SigningKey::generate();
//! let department = SigningKey::generate();
//! let credential = sign(
//!     &Credential {
//!         serial: 1,
//!         department_id: "bank-a".into(),
//!         department_name: "Bank A".into(),
//!         signing_key: department.public(),
//!         sealing_key: [9; 32],
//!         classes: set(&["identity"]),
//!         purposes: set(&["loan-approval"]),
//!         not_before: now - 60,
//!         not_after: now + 86_400,
//!         audience: origin.into(),
//!     },
//!     &authority,
//! )
//! .to_text();
//!
//! // The department signs a query token.
//! let token = sign(
//!     &Token {
//!         query_id: [1; 16],
//!         credential_serial: 1,
//!         subject: "11010519491231002X".into(),
//!         classes: set(&["identity"]),
//!         purpose: "loan-approval".into(),
//!         legal_basis: "application 2025-17".into(),
//!         issued_at: now,
//!         expires_at: now + 300,
//!         audience: origin.into(),
//!         consent: None,
//!     },
//!     &department,
//! )
//! .to_text();
//!
//! // The platform verifies both, then records the query id.
//! let ctx = VerifyContext {
//!     now,
//!     authority: &authority.public(),
//!     audience: origin,
//!     policy: &Policy::default(),
//!     catalog: &catalog,
//!     revocations: None,
//!     subject_key: None,
//! };
//! let checked = verify_query(
//!     &Unverified::<Credential>::parse_text(&credential)?,
//!     &Unverified::<Token>::parse_text(&token)?,
//!     &ctx,
//! )?;
//! let grant = checked.finish(
//!     |_query_id, _keep_until| true, // the replay store: first time seen
//!     |_consent_id, _max_uses| unreachable!("no consent in this token"),
//! )?;
//! assert_eq!(grant.classes(), &set(&["identity"]));
//! assert_eq!(grant.department_id(), "bank-a");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod batch;
mod body;
mod denial;
mod keys;
mod provider;
mod verify;
mod wire;

pub use batch::{BatchContext, BatchError, IngestBatch, MAX_BATCH_AGE_SECS, MAX_BATCH_WIRE_LEN, check_batch};
pub use body::{
    BundleRequest, Consent, ConsentWithdrawal, Credential, Objection, ObjectionAnswer, RevocationList, SelfQuery,
    ShredOrder, StaffOrder, StaffRequest, Token,
};
pub use denial::Denial;
pub use keys::{PUBLIC_KEY_LABEL, PublicKey, SIGNING_KEY_LABEL, SigningKey};
pub use provider::{ProviderCredential, ProviderCredentialError, check_provider_credential};
pub use verify::{
    Checked, Grant, Policy, SELF_QUERY_DEPARTMENT, SELF_QUERY_PURPOSE, VerifyContext, verify_credential_signature,
    verify_query, verify_query_with_credential, verify_revocation_list, verify_self_query, verify_shred_order,
};
pub use wire::{
    CONSENT_WIRE_VERSION, FormatError, Kind, MAX_WIRE_LEN, OBJECTION_ANSWER_WIRE_VERSION, SIGNATURE_DOMAIN, SigError,
    Signed, SignedBody, TEXT_PREFIX, Unverified, Verified, WIRE_VERSION, sign, signed_bytes, verify_raw_strict,
    verify_signature,
};
