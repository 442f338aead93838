//! One test (at least) per denial reason, each named after the case, through the public API.

mod common;

use std::cell::Cell;

use common::*;
use credseal_auth::{
    BundleRequest, Consent, Credential, Denial, FormatError, Kind, RevocationList, SELF_QUERY_DEPARTMENT,
    SELF_QUERY_PURPOSE, SelfQuery, SigningKey, Token, Unverified, VerifyContext, sign, verify_query,
    verify_revocation_list, verify_self_query,
};

fn denied(r: Result<credseal_auth::Grant, Denial>) -> Denial {
    r.expect_err("the query must be denied")
}

// ---- happy paths ----

#[test]
fn granted_query() {
    let w = World::new();
    let t = w.token();
    let g = w.run(&w.credential(), &t).unwrap();
    assert_eq!(g.subject().as_str(), SUBJECT);
    assert_eq!(g.classes(), &set(&["identity"]));
    assert_eq!(g.purpose(), "loan-approval");
    assert_eq!(g.query_id(), &[7; 16]);
    assert_eq!(g.department_id(), "bank-a");
    assert_eq!(g.credential_serial(), Some(42));
    assert_eq!(g.sealing_key(), &[9; 32]);
    assert_eq!(g.legal_basis(), "application 17");
    assert_eq!(g.expires_at(), NOW + 290);
    assert_eq!(g.consent_id(), None);
    assert_eq!(g.token_digest(), &sign(&t, &w.dept).digest());
}

#[test]
fn granted_query_with_consent() {
    let w = World::new();
    let t = w.consented_token(&w.consent());
    let authority = w.authority.public();
    let checked = verify_query(
        &w.signed_credential(&w.credential()),
        &w.signed_token(&t),
        &w.ctx(&authority, None),
    )
    .unwrap();
    assert_eq!(checked.consent_id(), Some(&[5; 16]));
    assert_eq!(checked.consent_max_uses(), Some(3));
    let used = Cell::new(None);
    let g = checked
        .finish(
            |_, _| true,
            |id, max| {
                used.set(Some((*id, max)));
                true
            },
        )
        .unwrap();
    assert_eq!(used.get(), Some(([5; 16], 3)));
    assert_eq!(g.classes(), &set(&["identity", "loans"]));
    assert_eq!(g.consent_id(), Some(&[5; 16]));
}

#[test]
fn token_within_clock_skew_is_granted() {
    let w = World::new();
    let t = Token {
        issued_at: NOW + 100,
        expires_at: NOW + 400,
        ..w.token()
    };
    w.run(&w.credential(), &t).unwrap();
}

// ---- credential ----

#[test]
fn credential_bad_signature() {
    let w = World::new();
    let forged = Unverified::parse_bytes(sign(&w.credential(), &w.dept).as_bytes()).unwrap();
    let authority = w.authority.public();
    let d = verify_query(&forged, &w.signed_token(&w.token()), &w.ctx(&authority, None)).unwrap_err();
    assert_eq!(d, Denial::CredentialBadSignature);
    assert_eq!(d.code(), "credential-bad-signature");
    assert!(d.is_forgery());
    assert!(!d.query_authenticated());
}

#[test]
fn credential_wrong_audience() {
    let w = World::new();
    let c = Credential {
        audience: OTHER_ORIGIN.into(),
        ..w.credential()
    };
    let d = denied(w.run(&c, &w.token()));
    assert_eq!(
        d,
        Denial::WrongAudience {
            object: Kind::Credential
        }
    );
    assert_eq!(d.code(), "wrong-audience");
    assert!(!d.is_forgery());
    // The token's signature verified before the credential's audience was looked at: the
    // denial is authenticated (receipted by the platform).
    assert!(d.query_authenticated());
}

#[test]
fn credential_denials_come_after_the_token_signature() {
    let w = World::new();
    let authority = w.authority.public();
    let list = RevocationList {
        version: 1,
        issued_at: NOW - 5,
        audience: ORIGIN.into(),
        revoked: [(42, NOW - 5)].into(),
    };
    let stale = Credential {
        not_after: NOW - 1,
        ..w.credential()
    };
    let early = Credential {
        not_before: NOW + 121,
        ..w.credential()
    };
    let elsewhere = Credential {
        audience: OTHER_ORIGIN.into(),
        ..w.credential()
    };
    // Revoked, expired, not yet valid, another platform: each authenticated (receipted).
    for (c, revocations) in [
        (w.credential(), Some(&list)),
        (stale.clone(), None),
        (early.clone(), None),
        (elsewhere.clone(), None),
    ] {
        let d = denied(w.run_ctx(&c, &w.token(), &w.ctx(&authority, revocations)));
        assert!(d.query_authenticated(), "{d:?}");
        assert!(!d.is_forgery(), "{d:?}");
        // The same credential with a token signed by another key: a forgery, never
        // authenticated (unauthenticated junk leaves no receipt).
        let other = SigningKey::from_seed(&[99; 32]);
        let t = Unverified::parse_bytes(sign(&w.token(), &other).as_bytes()).unwrap();
        let d = verify_query(&w.signed_credential(&c), &t, &w.ctx(&authority, revocations)).unwrap_err();
        assert_eq!(d, Denial::BadSignature);
        assert!(!d.query_authenticated());
    }
}

#[test]
fn consent_for_another_platform() {
    let w = World::new();
    let c = Consent {
        audience: OTHER_ORIGIN.into(),
        ..w.consent()
    };
    let d = denied(w.run(&w.credential(), &w.consented_token(&c)));
    assert_eq!(d, Denial::WrongAudience { object: Kind::Consent });
    assert_eq!(d.to_string(), "the consent is for another platform");
    assert!(d.query_authenticated());
}

#[test]
fn consent_of_wire_version_1_is_refused() {
    let w = World::new();
    let mut bytes = sign(&w.consent(), &w.subject_key).to_bytes();
    assert_eq!(bytes[0], credseal_auth::CONSENT_WIRE_VERSION);
    bytes[0] = 1;
    assert_eq!(
        Unverified::<Consent>::parse_bytes(&bytes).unwrap_err(),
        FormatError::UnsupportedVersion { found: 1, reads: 2 }
    );
    // Inside a token: the consent is invalid.
    let t = Token {
        consent: Some(bytes),
        ..w.consented_token(&w.consent())
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::ConsentInvalid);
}

#[test]
fn credential_not_yet_valid() {
    let w = World::new();
    let c = Credential {
        not_before: NOW + 121,
        ..w.credential()
    };
    assert_eq!(denied(w.run(&c, &w.token())), Denial::CredentialNotYetValid);
    assert_eq!(Denial::CredentialNotYetValid.code(), "credential-not-yet-valid");
    // Within the skew it is valid.
    let c = Credential {
        not_before: NOW + 120,
        ..w.credential()
    };
    w.run(&c, &w.token()).unwrap();
}

#[test]
fn credential_expired() {
    let w = World::new();
    let c = Credential {
        not_after: NOW - 1,
        ..w.credential()
    };
    let d = denied(w.run(&c, &w.token()));
    assert_eq!(d, Denial::CredentialExpired);
    assert_eq!(d.code(), "credential-expired");
    // Inclusive end.
    let c = Credential {
        not_after: NOW,
        ..w.credential()
    };
    w.run(&c, &w.token()).unwrap();
}

#[test]
fn credential_empty_window_is_expired() {
    let w = World::new();
    let c = Credential {
        not_before: NOW + 60,
        not_after: NOW + 30,
        ..w.credential()
    };
    assert_eq!(denied(w.run(&c, &w.token())), Denial::CredentialExpired);
}

#[test]
fn credential_revoked() {
    let w = World::new();
    let list = RevocationList {
        version: 1,
        issued_at: NOW - 5,
        audience: ORIGIN.into(),
        revoked: [(42, NOW - 5), (7, NOW - 100)].into(),
    };
    let authority = w.authority.public();
    let d = denied(w.run_ctx(&w.credential(), &w.token(), &w.ctx(&authority, Some(&list))));
    assert_eq!(d, Denial::CredentialRevoked);
    assert_eq!(d.code(), "credential-revoked");
    // Revoked at exactly now: revoked.
    let list = RevocationList {
        revoked: [(42, NOW)].into(),
        ..list
    };
    assert_eq!(
        denied(w.run_ctx(&w.credential(), &w.token(), &w.ctx(&authority, Some(&list)))),
        Denial::CredentialRevoked
    );
}

#[test]
fn credential_revoked_other_serial_is_granted_any_listed_serial_is_denied() {
    let w = World::new();
    let authority = w.authority.public();
    let list = RevocationList {
        version: 1,
        issued_at: NOW,
        audience: ORIGIN.into(),
        revoked: [(41, NOW - 5), (43, NOW - 5)].into(),
    };
    w.run_ctx(&w.credential(), &w.token(), &w.ctx(&authority, Some(&list)))
        .unwrap();
    // A listed serial is revoked from the moment the list is in force, whatever its
    // revoked_at says: a platform clock behind the authority's must not extend a credential.
    let list = RevocationList {
        revoked: [(42, NOW + 3600)].into(),
        ..list
    };
    let d = w
        .run_ctx(&w.credential(), &w.token(), &w.ctx(&authority, Some(&list)))
        .unwrap_err();
    assert_eq!(d, Denial::CredentialRevoked);
}

#[test]
fn credential_revoked_between_two_queries() {
    let w = World::new();
    let authority = w.authority.public();
    w.run_ctx(&w.credential(), &w.token(), &w.ctx(&authority, None))
        .unwrap();
    let list = RevocationList {
        version: 1,
        issued_at: NOW,
        audience: ORIGIN.into(),
        revoked: [(42, NOW)].into(),
    };
    let t2 = Token {
        query_id: [8; 16],
        ..w.token()
    };
    assert_eq!(
        denied(w.run_ctx(&w.credential(), &t2, &w.ctx(&authority, Some(&list)))),
        Denial::CredentialRevoked
    );
}

// ---- token ----

#[test]
fn token_signed_by_wrong_key() {
    let w = World::new();
    let other = SigningKey::from_seed(&[99; 32]);
    let t = Unverified::parse_bytes(sign(&w.token(), &other).as_bytes()).unwrap();
    let authority = w.authority.public();
    let d = verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)).unwrap_err();
    assert_eq!(d, Denial::BadSignature);
    assert_eq!(d.code(), "bad-signature");
    assert!(d.is_forgery());
}

#[test]
fn token_signed_by_authority_is_bad_signature() {
    let w = World::new();
    let t = Unverified::parse_bytes(sign(&w.token(), &w.authority).as_bytes()).unwrap();
    let authority = w.authority.public();
    let d = verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)).unwrap_err();
    assert_eq!(d, Denial::BadSignature);
}

#[test]
fn unknown_credential() {
    let w = World::new();
    let t = Token {
        credential_serial: 43,
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::UnknownCredential);
    assert_eq!(d.code(), "unknown-credential");
    assert!(d.query_authenticated());
}

#[test]
fn token_wrong_audience() {
    let w = World::new();
    let t = Token {
        audience: OTHER_ORIGIN.into(),
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::WrongAudience { object: Kind::Token });
    assert!(d.query_authenticated());
}

#[test]
fn token_not_yet_valid() {
    let w = World::new();
    let t = Token {
        issued_at: NOW + 121,
        expires_at: NOW + 400,
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::TokenNotYetValid);
    assert_eq!(d.code(), "token-not-yet-valid");
}

#[test]
fn token_expired() {
    let w = World::new();
    let t = Token {
        issued_at: NOW - 300,
        expires_at: NOW - 1,
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::TokenExpired);
    assert_eq!(d.code(), "token-expired");
    // No skew at the end: one second late is late.
    let t = Token { expires_at: NOW, ..t };
    w.run(&w.credential(), &t).unwrap();
}

#[test]
fn lifetime_over_policy() {
    let w = World::new();
    let t = Token {
        issued_at: NOW - 10,
        expires_at: NOW - 10 + 901,
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::LifetimeOverPolicy);
    assert_eq!(d.code(), "lifetime-over-policy");
    let t = Token {
        expires_at: NOW - 10 + 900,
        ..t
    };
    w.run(&w.credential(), &t).unwrap();
}

#[test]
fn lifetime_reversed_window_is_over_policy() {
    let w = World::new();
    // Issued within the skew in the future, expiring before issue.
    let t = Token {
        issued_at: NOW + 100,
        expires_at: NOW + 50,
        ..w.token()
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::LifetimeOverPolicy);
}

#[test]
fn lifetime_policy_is_configurable() {
    let mut w = World::new();
    w.policy.max_token_lifetime_secs = 60;
    w.policy.max_skew_secs = 0;
    assert_eq!(denied(w.run(&w.credential(), &w.token())), Denial::LifetimeOverPolicy);
    let t = Token {
        issued_at: NOW + 1,
        expires_at: NOW + 30,
        ..w.token()
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::TokenNotYetValid);
}

#[test]
fn token_subject_malformed() {
    let w = World::new();
    for bad in ["11010519491231002Y", "11010519491231002x", " 11010519491231002X", ""] {
        let t = Token {
            subject: bad.into(),
            ..w.token()
        };
        let d = denied(w.run(&w.credential(), &t));
        assert_eq!(
            d,
            Denial::Malformed {
                detail: FormatError::InvalidSubject
            },
            "{bad:?}"
        );
        assert_eq!(d.code(), "malformed");
        assert!(d.is_forgery());
        assert!(!d.to_string().contains(bad.trim()) || bad.is_empty(), "{d}");
    }
}

#[test]
fn unknown_class() {
    let w = World::new();
    let c = Credential {
        classes: set(&["identity", "salaries"]),
        ..w.credential()
    };
    let t = Token {
        classes: set(&["identity", "salaries"]),
        ..w.token()
    };
    let d = denied(w.run(&c, &t));
    assert_eq!(
        d,
        Denial::UnknownClass {
            class: Some("salaries".into())
        }
    );
    assert_eq!(d.code(), "unknown-class");
}

#[test]
fn no_class_requested_is_unknown_class() {
    let w = World::new();
    let t = Token {
        classes: set(&[]),
        ..w.token()
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::UnknownClass { class: None });
}

#[test]
fn class_not_granted() {
    let w = World::new();
    let c = Credential {
        classes: set(&["identity"]),
        ..w.credential()
    };
    let t = Token {
        classes: set(&["court", "identity"]),
        purpose: "investigation".into(),
        ..w.token()
    };
    let d = denied(w.run(&c, &t));
    assert_eq!(d, Denial::ClassNotGranted { class: "court".into() });
    assert_eq!(d.code(), "class-not-granted");
    assert!(!d.is_forgery());
}

#[test]
fn purpose_not_granted() {
    let w = World::new();
    let c = Credential {
        purposes: set(&["investigation"]),
        ..w.credential()
    };
    let d = denied(w.run(&c, &w.token()));
    assert_eq!(d, Denial::PurposeNotGranted);
    assert_eq!(d.code(), "purpose-not-granted");
    // A purpose the catalogue does not even know.
    let t = Token {
        purpose: "curiosity".into(),
        ..w.token()
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::PurposeNotGranted);
}

#[test]
fn purpose_not_allowed_for_class() {
    let w = World::new();
    // The credential grants `marketing`, but no class allows it.
    let t = Token {
        purpose: "marketing".into(),
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(
        d,
        Denial::PurposeNotAllowedForClass {
            class: "identity".into()
        }
    );
    assert_eq!(d.code(), "purpose-not-allowed-for-class");
    // `investigation` is allowed for identity and court but not for loans.
    let t = Token {
        purpose: "investigation".into(),
        classes: set(&["court", "identity", "loans"]),
        ..w.token()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &t)),
        Denial::PurposeNotAllowedForClass { class: "loans".into() }
    );
}

// ---- consent ----

#[test]
fn consent_missing() {
    let w = World::new();
    let t = Token {
        classes: set(&["identity", "loans"]),
        ..w.token()
    };
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::ConsentMissing);
    assert_eq!(d.code(), "consent-missing");
}

#[test]
fn consent_signed_by_wrong_key() {
    let w = World::new();
    let t = w.consented_token_signed(&w.consent(), &SigningKey::from_seed(&[77; 32]));
    let d = denied(w.run(&w.credential(), &t));
    assert_eq!(d, Denial::ConsentInvalid);
    assert_eq!(d.code(), "consent-invalid");
    assert!(!d.is_forgery());
}

#[test]
fn consent_for_subject_without_key_is_indistinguishable() {
    let w = World::new();
    let authority = w.authority.public();
    let t = w.consented_token(&w.consent());
    let no_key = VerifyContext {
        subject_key: None,
        ..w.ctx(&authority, None)
    };
    let missing = denied(w.run_ctx(&w.credential(), &t, &no_key));
    let wrong = denied(w.run(
        &w.credential(),
        &w.consented_token_signed(&w.consent(), &SigningKey::from_seed(&[77; 32])),
    ));
    assert_eq!(missing, Denial::ConsentInvalid);
    assert_eq!(missing, wrong);
    assert_eq!(missing.to_string(), wrong.to_string());
    assert_eq!(missing.is_forgery(), wrong.is_forgery());
}

#[test]
fn consent_naming_another_key_is_invalid() {
    let w = World::new();
    // Signed by the registered key, but claiming another key.
    let c = Consent {
        subject_key: SigningKey::from_seed(&[77; 32]).public(),
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentInvalid
    );
}

#[test]
fn consent_garbage_bytes_are_invalid() {
    let w = World::new();
    for bytes in [
        vec![],
        vec![1, 2, 3],
        sign(&w.consent(), &w.subject_key).to_bytes()[..50].to_vec(),
    ] {
        let t = Token {
            classes: set(&["identity", "loans"]),
            consent: Some(bytes),
            ..w.token()
        };
        assert_eq!(denied(w.run(&w.credential(), &t)), Denial::ConsentInvalid);
    }
}

#[test]
fn token_presented_as_consent_is_invalid() {
    let w = World::new();
    // The subject's key signs a token-shaped object; it must not pass as a consent.
    let t = Token {
        classes: set(&["identity", "loans"]),
        consent: Some(sign(&w.token(), &w.subject_key).to_bytes()),
        ..w.token()
    };
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::ConsentInvalid);
}

#[test]
fn unneeded_bad_consent_is_still_invalid() {
    let w = World::new();
    let t = Token {
        consent: Some(sign(&w.consent(), &SigningKey::from_seed(&[77; 32])).to_bytes()),
        ..w.token()
    };
    assert_eq!(t.classes, set(&["identity"]));
    assert_eq!(denied(w.run(&w.credential(), &t)), Denial::ConsentInvalid);
}

#[test]
fn unneeded_good_consent_is_used() {
    let w = World::new();
    let t = Token {
        consent: Some(sign(&w.consent(), &w.subject_key).to_bytes()),
        ..w.token()
    };
    let authority = w.authority.public();
    let checked = verify_query(
        &w.signed_credential(&w.credential()),
        &w.signed_token(&t),
        &w.ctx(&authority, None),
    )
    .unwrap();
    let called = Cell::new(false);
    checked
        .finish(
            |_, _| true,
            |_, _| {
                called.set(true);
                true
            },
        )
        .unwrap();
    assert!(called.get());
}

#[test]
fn consent_mismatch_subject() {
    let w = World::new();
    let c = Consent {
        subject: OTHER_SUBJECT.into(),
        ..w.consent()
    };
    let d = denied(w.run(&w.credential(), &w.consented_token(&c)));
    assert_eq!(d, Denial::ConsentMismatch);
    assert_eq!(d.code(), "consent-mismatch");
}

#[test]
fn consent_mismatch_department() {
    let w = World::new();
    let c = Consent {
        department_id: "bank-b".into(),
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentMismatch
    );
}

#[test]
fn consent_mismatch_purpose() {
    let w = World::new();
    let c = Consent {
        purpose: "investigation".into(),
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentMismatch
    );
}

#[test]
fn consent_mismatch_classes() {
    let w = World::new();
    // Consent covers identity only, the token asks for loans (which requires consent).
    let c = Consent {
        classes: set(&["identity"]),
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentMismatch
    );
    // Covering only the consent-required class is enough.
    let c = Consent {
        classes: set(&["loans"]),
        ..w.consent()
    };
    w.run(&w.credential(), &w.consented_token(&c)).unwrap();
}

#[test]
fn consent_expired() {
    let w = World::new();
    let c = Consent {
        expires_at: NOW - 1,
        ..w.consent()
    };
    let d = denied(w.run(&w.credential(), &w.consented_token(&c)));
    assert_eq!(d, Denial::ConsentExpired);
    assert_eq!(d.code(), "consent-expired");
}

#[test]
fn consent_not_yet_valid_is_expired() {
    let w = World::new();
    let c = Consent {
        issued_at: NOW + 121,
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentExpired
    );
}

#[test]
fn consent_lifetime_over_policy_is_expired() {
    let w = World::new();
    let c = Consent {
        issued_at: NOW - 3600,
        expires_at: NOW - 3600 + 400 * 86_400 + 1,
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentExpired
    );
    let c = Consent {
        issued_at: NOW + 10,
        expires_at: NOW + 5,
        ..w.consent()
    };
    assert_eq!(
        denied(w.run(&w.credential(), &w.consented_token(&c))),
        Denial::ConsentExpired
    );
}

#[test]
fn consent_exhausted() {
    let w = World::new();
    let authority = w.authority.public();
    let t = w.signed_token(&w.consented_token(&w.consent()));
    let checked = verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)).unwrap();
    let d = checked.finish(|_, _| true, |_, _| false).unwrap_err();
    assert_eq!(d, Denial::ConsentExhausted);
    assert_eq!(d.code(), "consent-exhausted");
    assert!(d.query_authenticated());
}

#[test]
fn consent_with_zero_uses_is_exhausted_without_asking() {
    let w = World::new();
    let authority = w.authority.public();
    let c = Consent {
        max_uses: 0,
        ..w.consent()
    };
    let t = w.signed_token(&w.consented_token(&c));
    let checked = verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)).unwrap();
    let d = checked
        .finish(|_, _| true, |_, _| panic!("must not be asked"))
        .unwrap_err();
    assert_eq!(d, Denial::ConsentExhausted);
}

#[test]
fn consent_uses_counted_by_caller() {
    let w = World::new();
    let authority = w.authority.public();
    let left = Cell::new(3u32);
    let mut outcomes = Vec::new();
    for i in 0..5u8 {
        let t = Token {
            query_id: [i; 16],
            ..w.consented_token(&w.consent())
        };
        let checked = verify_query(
            &w.signed_credential(&w.credential()),
            &w.signed_token(&t),
            &w.ctx(&authority, None),
        )
        .unwrap();
        outcomes.push(
            checked
                .finish(
                    |_, _| true,
                    |_, max| {
                        assert_eq!(max, 3);
                        let l = left.get();
                        l > 0 && {
                            left.set(l - 1);
                            true
                        }
                    },
                )
                .map(|_| ())
                .map_err(|d| d.code()),
        );
    }
    assert_eq!(
        outcomes,
        [
            Ok(()),
            Ok(()),
            Ok(()),
            Err("consent-exhausted"),
            Err("consent-exhausted")
        ]
    );
}

// ---- replay ----

#[test]
fn token_replayed() {
    let w = World::new();
    let authority = w.authority.public();
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::new());
    let replay = |id: &[u8; 16], keep: u64| seen.borrow_mut().insert(*id, keep).is_none();
    let cred = w.signed_credential(&w.credential());
    let tok = w.signed_token(&w.token());
    let first = verify_query(&cred, &tok, &w.ctx(&authority, None))
        .unwrap()
        .finish(replay, |_, _| unreachable!());
    assert!(first.is_ok());
    let second = verify_query(&cred, &tok, &w.ctx(&authority, None))
        .unwrap()
        .finish(replay, |_, _| unreachable!());
    let d = second.unwrap_err();
    assert_eq!(d, Denial::Replayed);
    assert_eq!(d.code(), "replayed");
    assert!(!d.is_forgery());
    // Kept until the token's expiry plus the skew margin.
    assert_eq!(seen.borrow().get(&[7; 16]), Some(&(NOW + 290 + 120)));
}

#[test]
fn replayed_query_id_does_not_spend_a_consent_use() {
    let w = World::new();
    let authority = w.authority.public();
    let t = w.signed_token(&w.consented_token(&w.consent()));
    let checked = verify_query(&w.signed_credential(&w.credential()), &t, &w.ctx(&authority, None)).unwrap();
    let d = checked
        .finish(|_, _| false, |_, _| panic!("no consent use for a replay"))
        .unwrap_err();
    assert_eq!(d, Denial::Replayed);
}

// ---- parse errors become `malformed` ----

#[test]
fn malformed_token_text() {
    let d: Denial = Unverified::<Token>::parse_text("cs1.token.!!!").unwrap_err().into();
    assert_eq!(d.code(), "malformed");
    assert!(d.is_forgery());
    assert!(!d.query_authenticated());
    assert_eq!(
        d.to_string(),
        "malformed object: invalid or non-canonical base64url at byte 10"
    );
}

// ---- self-query ----

fn self_query() -> SelfQuery {
    SelfQuery {
        query_id: [3; 16],
        subject: SUBJECT.into(),
        classes: set(&["identity", "loans"]),
        issued_at: NOW,
        expires_at: NOW + 60,
        audience: ORIGIN.into(),
        sealing_key: [4; 32],
    }
}

fn run_self(q: &SelfQuery, by: &SigningKey, ctx: &VerifyContext<'_>) -> Result<credseal_auth::Grant, Denial> {
    let u = Unverified::<SelfQuery>::parse_text(&sign(q, by).to_text()).unwrap();
    verify_self_query(&u, ctx)?.finish(|_, _| true, |_, _| unreachable!("no consent"))
}

#[test]
fn self_query_granted() {
    let w = World::new();
    let authority = w.authority.public();
    let g = run_self(&self_query(), &w.subject_key, &w.ctx(&authority, None)).unwrap();
    assert_eq!(g.purpose(), SELF_QUERY_PURPOSE);
    assert_eq!(g.department_id(), SELF_QUERY_DEPARTMENT);
    assert_eq!(g.credential_serial(), None);
    assert_eq!(g.sealing_key(), &[4; 32]);
    assert_eq!(g.classes(), &set(&["identity", "loans"]));
    assert_eq!(g.subject().as_str(), SUBJECT);
}

#[test]
fn self_query_subject_key_invalid() {
    let w = World::new();
    let authority = w.authority.public();
    let wrong = run_self(
        &self_query(),
        &SigningKey::from_seed(&[77; 32]),
        &w.ctx(&authority, None),
    )
    .unwrap_err();
    assert_eq!(wrong, Denial::SubjectKeyInvalid);
    assert_eq!(wrong.code(), "subject-key-invalid");
    assert!(!wrong.query_authenticated());
    let no_key = VerifyContext {
        subject_key: None,
        ..w.ctx(&authority, None)
    };
    let missing = run_self(&self_query(), &w.subject_key, &no_key).unwrap_err();
    assert_eq!(missing, wrong);
}

#[test]
fn self_query_wrong_audience_window_and_lifetime() {
    let w = World::new();
    let authority = w.authority.public();
    let ctx = w.ctx(&authority, None);
    let q = |f: &dyn Fn(&mut SelfQuery)| {
        let mut q = self_query();
        f(&mut q);
        run_self(&q, &w.subject_key, &ctx).unwrap_err()
    };
    assert_eq!(
        q(&|q| q.audience = OTHER_ORIGIN.into()),
        Denial::WrongAudience {
            object: Kind::SelfQuery
        }
    );
    assert_eq!(q(&|q| q.expires_at = NOW - 1), Denial::TokenExpired);
    assert_eq!(
        q(&|q| {
            q.issued_at = NOW + 200;
            q.expires_at = NOW + 300
        }),
        Denial::TokenNotYetValid
    );
    assert_eq!(q(&|q| q.expires_at = NOW + 901), Denial::LifetimeOverPolicy);
    assert_eq!(
        q(&|q| q.subject = "11010519491231002x".into()),
        Denial::Malformed {
            detail: FormatError::InvalidSubject
        }
    );
    assert_eq!(
        q(&|q| q.classes = set(&["salaries"])),
        Denial::UnknownClass {
            class: Some("salaries".into())
        }
    );
    assert_eq!(
        q(&|q| q.classes = set(&["court", "identity"])),
        Denial::PurposeNotAllowedForClass { class: "court".into() }
    );
}

#[test]
fn self_query_replayed() {
    let w = World::new();
    let authority = w.authority.public();
    let u = Unverified::<SelfQuery>::parse_text(&sign(&self_query(), &w.subject_key).to_text()).unwrap();
    let d = verify_self_query(&u, &w.ctx(&authority, None))
        .unwrap()
        .finish(|_, _| false, |_, _| unreachable!())
        .unwrap_err();
    assert_eq!(d, Denial::Replayed);
}

// ---- revocation lists ----

fn list(version: u64) -> RevocationList {
    RevocationList {
        version,
        issued_at: NOW,
        audience: ORIGIN.into(),
        revoked: [(42, NOW)].into(),
    }
}

fn parsed<T: credseal_auth::SignedBody>(l: &T, by: &SigningKey) -> Unverified<T> {
    Unverified::parse_text(&sign(l, by).to_text()).unwrap()
}

#[test]
fn revocation_list_accepted() {
    let w = World::new();
    let pk = w.authority.public();
    let v = verify_revocation_list(&parsed(&list(1), &w.authority), &pk, ORIGIN, None).unwrap();
    assert_eq!(v.body(), &list(1));
    assert_eq!(v.signer(), &pk);
    let v = verify_revocation_list(&parsed(&list(5), &w.authority), &pk, ORIGIN, Some(4)).unwrap();
    assert_eq!(v.body().version, 5);
}

#[test]
fn revocation_list_bad_signature() {
    let w = World::new();
    let d = verify_revocation_list(&parsed(&list(1), &w.dept), &w.authority.public(), ORIGIN, None).unwrap_err();
    assert_eq!(d, Denial::RevocationListBadSignature);
    assert_eq!(d.code(), "revocation-list-bad-signature");
    assert!(d.is_forgery());
}

#[test]
fn revocation_list_wrong_audience() {
    let w = World::new();
    let l = RevocationList {
        audience: OTHER_ORIGIN.into(),
        ..list(2)
    };
    let d = verify_revocation_list(&parsed(&l, &w.authority), &w.authority.public(), ORIGIN, None).unwrap_err();
    assert_eq!(
        d,
        Denial::WrongAudience {
            object: Kind::Revocations
        }
    );
}

#[test]
fn revocation_list_stale() {
    let w = World::new();
    let pk = w.authority.public();
    for current in [4, 5] {
        let d = verify_revocation_list(&parsed(&list(4), &w.authority), &pk, ORIGIN, Some(current)).unwrap_err();
        assert_eq!(d, Denial::RevocationListStale);
        assert_eq!(d.code(), "revocation-list-stale");
    }
}

// ---- shred order (credit repair) ----

fn order(subject: &str, audience: &str) -> credseal_auth::ShredOrder {
    credseal_auth::ShredOrder {
        reference: "CR-2026-0017".into(),
        subject: subject.into(),
        class: "loans".into(),
        record_id: "LN-2021-000123".into(),
        issued_at: NOW,
        audience: audience.into(),
    }
}

#[test]
fn shred_order_accepted_forged_other_key_tampered_other_platform() {
    let w = World::new();
    let pk = w.authority.public();
    let o = order(SUBJECT, ORIGIN);
    let v = credseal_auth::verify_shred_order(&parsed(&o, &w.authority), &pk, ORIGIN).unwrap();
    assert_eq!(v.body(), &o);
    // Signed by another key (a department's, the subject's): a forgery, exit 4.
    for other in [&w.dept, &w.subject_key] {
        let d = credseal_auth::verify_shred_order(&parsed(&o, other), &pk, ORIGIN).unwrap_err();
        assert_eq!(d, Denial::ShredOrderBadSignature);
        assert_eq!(d.code(), "shred-order-bad-signature");
        assert!(d.is_forgery());
    }
    // One byte of the signed body changed (the record id): the signature fails.
    let mut bytes = sign(&o, &w.authority).as_bytes().to_vec();
    let at = bytes.windows(3).position(|x| x == b"LN-").unwrap();
    bytes[at + 3] ^= 1;
    let u = credseal_auth::Unverified::<credseal_auth::ShredOrder>::parse_bytes(&bytes).unwrap();
    assert_eq!(
        credseal_auth::verify_shred_order(&u, &pk, ORIGIN).unwrap_err(),
        Denial::ShredOrderBadSignature
    );
    // For another platform: a denial (exit 3), not a forgery.
    let d = credseal_auth::verify_shred_order(&parsed(&order(SUBJECT, OTHER_ORIGIN), &w.authority), &pk, ORIGIN)
        .unwrap_err();
    assert_eq!(
        d,
        Denial::WrongAudience {
            object: Kind::ShredOrder
        }
    );
    assert!(!d.is_forgery());
    // A subject id that is not normalised.
    let d = credseal_auth::verify_shred_order(
        &parsed(&order(&SUBJECT.to_lowercase().replace('X', "x"), ORIGIN), &w.authority),
        &pk,
        ORIGIN,
    );
    if SUBJECT.contains('X') {
        assert!(matches!(d, Err(Denial::Malformed { .. })), "{d:?}");
    }
    // A token presented as an order.
    let t = sign(&w.token(), &w.dept).to_text();
    assert!(credseal_auth::Unverified::<credseal_auth::ShredOrder>::parse_text(&t).is_err());
}

// ---- bundle request (defined for a later issue) ----

#[test]
fn bundle_request_sign_verify() {
    let w = World::new();
    let r = BundleRequest {
        request_id: [1; 16],
        subject: SUBJECT.into(),
        issued_at: NOW,
        expires_at: NOW + 60,
        audience: ORIGIN.into(),
        last_tree_size: 17,
    };
    let s = sign(&r, &w.subject_key);
    assert!(s.to_text().starts_with("cs1.bundle-request."));
    let u = Unverified::<BundleRequest>::parse_text(&s.to_text()).unwrap();
    assert_eq!(u.peek_unverified().unwrap(), r);
    let v = u.verify(&w.subject_key.public()).unwrap();
    assert_eq!(v.body(), &r);
    assert_eq!(v.digest(), s.digest());
    assert_eq!(v.to_text(), s.to_text());
    assert!(u.verify(&w.dept.public()).is_err());
}

// ---- denials reveal nothing personal ----

#[test]
fn denial_text_never_contains_subject_or_keys() {
    let w = World::new();
    let pk_hex = w.dept.public().to_hex();
    let cases = [
        w.run(
            &w.credential(),
            &Token {
                classes: set(&["identity", "loans"]),
                ..w.token()
            },
        ),
        w.run(
            &w.credential(),
            &w.consented_token_signed(&w.consent(), &SigningKey::from_seed(&[77; 32])),
        ),
        w.run(
            &w.credential(),
            &Token {
                credential_serial: 1,
                ..w.token()
            },
        ),
    ];
    for r in cases {
        let d = r.unwrap_err();
        let s = format!("{d} {d:?}");
        assert!(!s.contains(SUBJECT) && !s.contains(&pk_hex), "{s}");
    }
}

// ---- views (`<purpose>/<class>` grant entries) ----

/// The fixture world with a view of `identity` (its `name` only) under `investigation`.
fn world_with_view() -> World {
    let mut w = World::new();
    let text = CATALOG.replacen(
        "title = \"Investigation\"\n",
        "title = \"Investigation\"\n\n[[purpose.view]]\nclass = \"identity\"\nfields = [\"name\"]\n",
        1,
    );
    assert_ne!(text, CATALOG);
    w.catalog = credseal_core::Catalog::parse(&text, None).unwrap();
    w
}

#[test]
fn view_entry_grants_its_class_through_the_view() {
    let w = world_with_view();
    let t = Token {
        classes: set(&["investigation/identity"]),
        ..w.token()
    };
    let g = w.run(&w.credential(), &t).unwrap();
    assert_eq!(g.classes(), &set(&["identity"]));
    assert_eq!(g.views().get("identity").map(String::as_str), Some("investigation"));
    // A whole-class token: no view.
    let g = w.run(&w.credential(), &w.token()).unwrap();
    assert!(g.views().is_empty());
}

#[test]
fn view_only_credential_refuses_the_whole_class() {
    let w = world_with_view();
    let cred = Credential {
        classes: set(&["investigation/identity"]),
        ..w.credential()
    };
    assert_eq!(
        denied(w.run(&cred, &w.token())),
        Denial::ClassNotGranted {
            class: "identity".into()
        }
    );
    let t = Token {
        classes: set(&["investigation/identity"]),
        ..w.token()
    };
    assert!(w.run(&cred, &t).is_ok());
}

#[test]
fn view_unknown_or_conflicting_is_refused() {
    let w = world_with_view();
    for (classes, want) in [
        (
            &["loan-approval/identity"][..],
            Denial::UnknownView {
                view: "loan-approval/identity".into(),
            },
        ),
        (
            &["investigation/court"][..],
            Denial::UnknownView {
                view: "investigation/court".into(),
            },
        ),
        (
            &["identity", "investigation/identity"][..],
            Denial::ViewConflict {
                class: "identity".into(),
            },
        ),
    ] {
        let t = Token {
            classes: set(classes),
            ..w.token()
        };
        assert_eq!(denied(w.run(&w.credential(), &t)), want, "{classes:?}");
    }
}
