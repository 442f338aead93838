//! Shared fixtures: an authority, a department, a subject, a catalogue and a valid query.

#![allow(dead_code)]

use std::collections::BTreeSet;

use credseal_auth::{
    Consent, Credential, Denial, Grant, Policy, PublicKey, RevocationList, SigningKey, Token, Unverified,
    VerifyContext, sign, verify_query,
};
use credseal_core::Catalog;

pub const NOW: u64 = 1_750_000_000;
pub const ORIGIN: &str = "credseal.example/log";
pub const OTHER_ORIGIN: &str = "other-platform.example/log";
pub const SUBJECT: &str = "11010519491231002X";
pub const OTHER_SUBJECT: &str = "91350100M000100Y43";

/// identity: no consent; loans: consent required; court: investigation only, no self-query.
pub const CATALOG: &str = r#"format = 1

[[purpose]]
id = "loan-approval"
title = "Loan approval"

[[purpose]]
id = "investigation"
title = "Investigation"

[[purpose]]
id = "subject-self-query"
title = "The subject reads its own data"

[[purpose]]
id = "marketing"
title = "Marketing (allowed for no class)"

[[class]]
id = "identity"
title = "Identity"
sensitivity = "medium"
consent_required = false
retention = "permanent"
purposes = ["loan-approval", "investigation", "subject-self-query"]

[[class.field]]
name = "name"
type = "text"

[[class]]
id = "loans"
title = "Loans"
sensitivity = "high"
consent_required = true
retention = "5y"
purposes = ["loan-approval", "subject-self-query"]

[[class.field]]
name = "lender"
type = "text"

[[class]]
id = "court"
title = "Court judgments"
sensitivity = "high"
consent_required = false
retention = "10y"
purposes = ["investigation"]

[[class.field]]
name = "case"
type = "text"
"#;

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub struct World {
    pub authority: SigningKey,
    pub dept: SigningKey,
    pub subject_key: SigningKey,
    pub catalog: Catalog,
    pub policy: Policy,
}

impl World {
    pub fn new() -> Self {
        Self {
            authority: SigningKey::from_seed(&[1; 32]),
            dept: SigningKey::from_seed(&[2; 32]),
            subject_key: SigningKey::from_seed(&[3; 32]),
            catalog: Catalog::parse(CATALOG, None).unwrap(),
            policy: Policy::default(),
        }
    }

    pub fn credential(&self) -> Credential {
        Credential {
            serial: 42,
            department_id: "bank-a".into(),
            department_name: "Bank A".into(),
            signing_key: self.dept.public(),
            sealing_key: [9; 32],
            classes: set(&["identity", "loans", "court"]),
            purposes: set(&["loan-approval", "investigation", "marketing"]),
            not_before: NOW - 86_400,
            not_after: NOW + 86_400,
            audience: ORIGIN.into(),
        }
    }

    /// A token for `identity` only (no consent needed).
    pub fn token(&self) -> Token {
        Token {
            query_id: [7; 16],
            credential_serial: 42,
            subject: SUBJECT.into(),
            classes: set(&["identity"]),
            purpose: "loan-approval".into(),
            legal_basis: "application 17".into(),
            issued_at: NOW - 10,
            expires_at: NOW + 290,
            audience: ORIGIN.into(),
            consent: None,
        }
    }

    pub fn consent(&self) -> Consent {
        Consent {
            consent_id: [5; 16],
            subject: SUBJECT.into(),
            subject_key: self.subject_key.public(),
            department_id: "bank-a".into(),
            classes: set(&["identity", "loans"]),
            purpose: "loan-approval".into(),
            issued_at: NOW - 3600,
            expires_at: NOW + 30 * 86_400,
            max_uses: 3,
            audience: ORIGIN.into(),
        }
    }

    /// A token for `identity` and `loans`, carrying `consent` signed by the subject.
    pub fn consented_token(&self, consent: &Consent) -> Token {
        self.consented_token_signed(consent, &self.subject_key)
    }

    pub fn consented_token_signed(&self, consent: &Consent, by: &SigningKey) -> Token {
        Token {
            classes: set(&["identity", "loans"]),
            consent: Some(sign(consent, by).to_bytes()),
            ..self.token()
        }
    }

    pub fn signed_credential(&self, c: &Credential) -> Unverified<Credential> {
        Unverified::parse_text(&sign(c, &self.authority).to_text()).unwrap()
    }

    pub fn signed_token(&self, t: &Token) -> Unverified<Token> {
        Unverified::parse_text(&sign(t, &self.dept).to_text()).unwrap()
    }

    pub fn ctx<'a>(&'a self, authority: &'a PublicKey, revocations: Option<&'a RevocationList>) -> VerifyContext<'a> {
        VerifyContext {
            now: NOW,
            authority,
            audience: ORIGIN,
            policy: &self.policy,
            catalog: &self.catalog,
            revocations,
            subject_key: Some(self.subject_key.public()),
        }
    }

    /// Verifies and finishes with a fresh replay store and consent uses available.
    pub fn run(&self, c: &Credential, t: &Token) -> Result<Grant, Denial> {
        let authority = self.authority.public();
        self.run_ctx(c, t, &self.ctx(&authority, None))
    }

    pub fn run_ctx(&self, c: &Credential, t: &Token, ctx: &VerifyContext<'_>) -> Result<Grant, Denial> {
        verify_query(&self.signed_credential(c), &self.signed_token(t), ctx)?.finish(|_, _| true, |_, _| true)
    }
}
