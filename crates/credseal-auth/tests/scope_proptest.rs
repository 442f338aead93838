//! "Scope never grows": whatever the credential, the catalogue and the request, a grant
//! covers only classes in the credential and the catalogue, for a purpose the credential
//! grants and every granted class allows.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use credseal_auth::{Consent, Credential, Token, sign, verify_query};
use credseal_core::{Catalog, ClassDef, FieldDef, FieldType, Purpose, Retention, Sensitivity};
use proptest::prelude::*;

const CLASSES: [&str; 6] = ["identity", "loans", "court", "tax", "utilities", "salaries"];
const PURPOSES: [&str; 4] = ["loan-approval", "investigation", "marketing", "tenancy"];

fn pick(mask: u8, from: &[&str]) -> BTreeSet<String> {
    from.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// A catalogue with the classes in `class_mask`; class i allows the purposes in
/// `purpose_masks[i]` and requires consent if bit i of `consent_mask` is set.
fn catalog(class_mask: u8, purpose_masks: &[u8; 6], consent_mask: u8) -> Catalog {
    let purposes: BTreeMap<String, Purpose> = PURPOSES
        .iter()
        .map(|p| {
            (
                p.to_string(),
                Purpose {
                    id: p.to_string(),
                    title: p.to_string(),
                    disclosure_delay_days: 0,
                    views: Default::default(),
                },
            )
        })
        .collect();
    let classes = CLASSES
        .iter()
        .enumerate()
        .filter(|(i, _)| class_mask & (1 << i) != 0)
        .map(|(i, c)| {
            (
                c.to_string(),
                ClassDef {
                    id: c.to_string(),
                    title: c.to_string(),
                    sensitivity: Sensitivity::Medium,
                    consent_required: consent_mask & (1 << i) != 0,
                    retention: Retention::Permanent,
                    purposes: pick(purpose_masks[i], &PURPOSES),
                    fields: vec![FieldDef {
                        name: "v".into(),
                        ty: FieldType::Text,
                        required: true,
                        values: vec![],
                        max_len: None,
                    }],
                    objection_days: credseal_core::DEFAULT_OBJECTION_DAYS,
                },
            )
        })
        .collect();
    Catalog {
        revision: 1,
        correction_lookback_days: credseal_core::DEFAULT_CORRECTION_LOOKBACK_DAYS,
        purposes,
        classes,
    }
}

/// Turns the drawn masks into a request. In "aimed" mode the request is steered towards
/// what the credential and catalogue allow (so that grants are common and the subset
/// property is exercised); in raw mode it is whatever was drawn.
struct Drawn {
    cat_classes: u8,
    class_purposes: [u8; 6],
    consent_required: u8,
    cred_classes: u8,
    cred_purposes: u8,
    req_classes: u8,
    req_purpose: usize,
    with_consent: bool,
    consent_classes: u8,
    aimed: bool,
}

fn check(d: Drawn) -> Result<bool, TestCaseError> {
    let mut w = World::new();
    w.catalog = catalog(d.cat_classes & 63, &d.class_purposes, d.consent_required);
    let cred = Credential {
        classes: pick(d.cred_classes, &CLASSES),
        purposes: pick(d.cred_purposes, &PURPOSES),
        ..w.credential()
    };
    let mut req_mask = d.req_classes;
    let mut purpose = PURPOSES[d.req_purpose].to_string();
    let mut consent_mask = d.consent_classes;
    if d.aimed && req_mask & d.cat_classes & d.cred_classes & 63 != 0 {
        req_mask &= d.cat_classes & d.cred_classes;
        let req = pick(req_mask, &CLASSES);
        if let Some(p) = PURPOSES.iter().find(|p| {
            cred.purposes.contains(**p)
                && req
                    .iter()
                    .all(|c| w.catalog.class(c).is_some_and(|def| def.purposes.contains(**p)))
        }) {
            purpose = p.to_string();
        }
        consent_mask |= req_mask;
    }
    let consent = Consent {
        classes: pick(consent_mask, &CLASSES),
        purpose: purpose.clone(),
        ..w.consent()
    };
    let token = Token {
        classes: pick(req_mask, &CLASSES),
        purpose: purpose.clone(),
        consent: d.with_consent.then(|| sign(&consent, &w.subject_key).to_bytes()),
        ..w.token()
    };
    let authority = w.authority.public();
    let result = verify_query(
        &w.signed_credential(&cred),
        &w.signed_token(&token),
        &w.ctx(&authority, None),
    )
    .and_then(|c| c.finish(|_, _| true, |_, _| true));
    let Ok(grant) = result else {
        // Refused only if some rule really fails.
        let all_known = token.classes.iter().all(|c| w.catalog.class(c).is_some());
        let all_granted = token.classes.is_subset(&cred.classes);
        let purpose_ok = cred.purposes.contains(&purpose)
            && token
                .classes
                .iter()
                .all(|c| w.catalog.class(c).is_some_and(|def| def.purposes.contains(&purpose)));
        let needs: BTreeSet<_> = token
            .classes
            .iter()
            .filter(|c| w.catalog.class(c).is_some_and(|def| def.consent_required))
            .collect();
        let consent_ok = if d.with_consent {
            needs.iter().all(|c| consent.classes.contains(*c))
        } else {
            needs.is_empty()
        };
        prop_assert!(
            token.classes.is_empty() || !(all_known && all_granted && purpose_ok && consent_ok),
            "a valid query was refused"
        );
        return Ok(false);
    };
    prop_assert_eq!(grant.purpose(), purpose.as_str());
    prop_assert!(!grant.classes().is_empty());
    prop_assert!(cred.purposes.contains(grant.purpose()));
    for c in grant.classes() {
        prop_assert!(cred.classes.contains(c), "class {} outside the credential", c);
        let def = w.catalog.class(c);
        prop_assert!(def.is_some(), "class {} outside the catalogue", c);
        let def = def.unwrap();
        prop_assert!(def.purposes.contains(grant.purpose()), "purpose not allowed for {}", c);
        if def.consent_required {
            prop_assert!(
                d.with_consent && consent.classes.contains(c),
                "consent-required {} without consent",
                c
            );
        }
    }
    // Exactly what was asked: never more.
    prop_assert_eq!(grant.classes(), &token.classes);
    Ok(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn granted_scope_is_within_credential_and_catalogue(
        cat_classes in any::<u8>(),
        class_purposes in any::<[u8; 6]>(),
        consent_required in any::<u8>(),
        cred_classes in any::<u8>(),
        cred_purposes in 0u8..16,
        req_classes in 1u8..64,
        req_purpose in 0usize..4,
        with_consent in any::<bool>(),
        consent_classes in any::<u8>(),
        aimed in proptest::bool::weighted(0.75),
    ) {
        check(Drawn {
            cat_classes,
            class_purposes,
            consent_required,
            cred_classes,
            cred_purposes,
            req_classes,
            req_purpose,
            with_consent,
            consent_classes,
            aimed,
        })?;
    }
}

/// The property above is only meaningful if grants actually happen: over a fixed sweep of
/// inputs, a fair share of queries must be granted.
#[test]
fn scope_property_exercises_grants() {
    let (mut granted, mut total) = (0, 0);
    for i in 0u32..400 {
        let b = |k: u32| ((i.wrapping_mul(2_654_435_761).rotate_left(k)) & 0xff) as u8;
        let d = Drawn {
            cat_classes: b(0) | 0x07,
            class_purposes: [b(3) | 1, b(5) | 1, b(7), b(11), b(13), b(17)],
            consent_required: b(19),
            cred_classes: b(23),
            cred_purposes: b(29) & 15,
            req_classes: (b(31) & 63).max(1),
            req_purpose: usize::from(b(2) & 3),
            with_consent: b(4) & 1 == 1,
            consent_classes: b(6),
            aimed: true,
        };
        granted += u32::from(check(d).unwrap());
        total += 1;
    }
    assert!(granted * 5 >= total, "only {granted} of {total} granted");
}
