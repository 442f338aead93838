//! The verifier (docs/design.md §5): every rule, in a fixed order, fail-closed, each failure its own
//! [`Denial`]. Pure: the stateful checks (replay, consent use counts) are closures the
//! engine passes to [`Checked::finish`], which is the only way to a [`Grant`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use credseal_core::{Catalog, SubjectId};

use crate::{
    Consent, Credential, Denial, FormatError, Kind, PublicKey, RevocationList, SelfQuery, SigError, Token, Unverified,
    Verified,
};

/// The purpose of a subject's query for its own data; the catalogue must allow it for a
/// class before a subject can read that class.
pub const SELF_QUERY_PURPOSE: &str = "subject-self-query";
/// The department id recorded for a subject's self-query.
pub const SELF_QUERY_DEPARTMENT: &str = "subject";

/// Time and lifetime limits. The defaults are deliberately tight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How far in the future an `issued_at` / `not_before` may lie, to absorb clock
    /// differences (default 120 s). Applied only to the start of a validity window: an
    /// expiry is never extended.
    pub max_skew_secs: u64,
    /// Longest allowed `expires_at − issued_at` of a token or self-query (default 900 s).
    pub max_token_lifetime_secs: u64,
    /// Longest allowed `expires_at − issued_at` of a consent (default 400 days).
    pub max_consent_lifetime_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_skew_secs: 120,
            max_token_lifetime_secs: 900,
            max_consent_lifetime_secs: 400 * 24 * 60 * 60,
        }
    }
}

/// What the verifier checks against. Built by the engine for each query.
#[derive(Debug)]
pub struct VerifyContext<'a> {
    /// The current time, Unix seconds.
    pub now: u64,
    /// The authority's key, which signs credentials.
    pub authority: &'a PublicKey,
    /// This platform's audience string (its log origin).
    pub audience: &'a str,
    /// Time and lifetime limits.
    pub policy: &'a Policy,
    /// The catalogue in force.
    pub catalog: &'a Catalog,
    /// The newest revocation list, as returned by [`verify_revocation_list`]; `None` if the
    /// authority has published none. Every revocation in it whose time has come is applied,
    /// whatever its audience (applying a revocation is always the safe direction).
    pub revocations: Option<&'a RevocationList>,
    /// The subject's registered key, looked up by the engine from the (unverified) subject
    /// of the query; `None` if the subject has none or does not exist. The verifier treats
    /// both cases exactly like a wrong key, with the same work done, so that no denial
    /// reveals whether the subject exists.
    pub subject_key: Option<PublicKey>,
}

#[derive(Debug)]
struct ConsentUse {
    id: [u8; 16],
    max_uses: u32,
}

/// A query that passed every stateless rule. Not yet a [`Grant`]: the replay check and the
/// consent use count, which need the engine's storage, are still owed, and
/// [`Checked::finish`] is the only way forward. Not `Clone`, so it is finished at most once:
///
/// ```compile_fail
/// fn twice(c: &credseal_auth::Checked) -> credseal_auth::Checked { c.clone() }
/// ```
#[derive(Debug)]
#[must_use = "a checked query grants nothing until `finish` runs the replay and consent checks"]
pub struct Checked {
    query_id: [u8; 16],
    subject: SubjectId,
    classes: BTreeSet<String>,
    views: BTreeMap<String, String>,
    purpose: String,
    credential_serial: Option<u64>,
    department_id: String,
    sealing_key: [u8; 32],
    legal_basis: String,
    expires_at: u64,
    keep_until: u64,
    consent: Option<ConsentUse>,
    token_digest: [u8; 32],
}

impl Checked {
    /// The query id.
    pub fn query_id(&self) -> &[u8; 16] {
        &self.query_id
    }

    /// The subject queried.
    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    /// The classes requested (all granted so far), by class id.
    pub fn classes(&self) -> &BTreeSet<String> {
        &self.classes
    }

    /// The classes requested through a view: class → the purpose defining the view.
    pub fn views(&self) -> &BTreeMap<String, String> {
        &self.views
    }

    /// The purpose.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The serial of the department's credential; `None` for a subject's self-query.
    pub fn credential_serial(&self) -> Option<u64> {
        self.credential_serial
    }

    /// The department id ([`SELF_QUERY_DEPARTMENT`] for a self-query).
    pub fn department_id(&self) -> &str {
        &self.department_id
    }

    /// The X25519 key the answer is to be sealed to.
    pub fn sealing_key(&self) -> &[u8; 32] {
        &self.sealing_key
    }

    /// The token's expiry.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The id of the consent the token carries, if any.
    pub fn consent_id(&self) -> Option<&[u8; 16]> {
        self.consent.as_ref().map(|c| &c.id)
    }

    /// The consent's maximum number of uses, if the token carries one.
    pub fn consent_max_uses(&self) -> Option<u32> {
        self.consent.as_ref().map(|c| c.max_uses)
    }

    /// SHA-256 of the token's (or self-query's) wire bytes.
    pub fn token_digest(&self) -> &[u8; 32] {
        &self.token_digest
    }

    /// Runs the stateful checks and yields the [`Grant`].
    ///
    /// - `replay(query_id, keep_until)` must atomically record the query id and return
    ///   `true` only if it had not been seen before ([`Denial::Replayed`] otherwise). Keep the
    ///   entry until `keep_until` (the token's expiry plus the policy's skew, a margin for a
    ///   clock stepped back); after that the token is refused as expired anyway.
    /// - `consent_use(consent_id, max_uses)` is called only when the token carries a
    ///   consent (needed or not: a consent presented is a consent used), after `replay`
    ///   succeeded. It must atomically take one use and return `true` only if one was left
    ///   ([`Denial::ConsentExhausted`] otherwise). A consent with `max_uses == 0` is
    ///   exhausted without calling it.
    ///
    /// A query id is spent even if the consent turns out to be exhausted: fail-closed.
    pub fn finish(
        self,
        replay: impl FnOnce(&[u8; 16], u64) -> bool,
        consent_use: impl FnOnce(&[u8; 16], u32) -> bool,
    ) -> Result<Grant, Denial> {
        if !replay(&self.query_id, self.keep_until) {
            return Err(Denial::Replayed);
        }
        if let Some(c) = &self.consent
            && (c.max_uses == 0 || !consent_use(&c.id, c.max_uses))
        {
            return Err(Denial::ConsentExhausted);
        }
        Ok(Grant {
            query_id: self.query_id,
            subject: self.subject,
            classes: self.classes,
            views: self.views,
            purpose: self.purpose,
            credential_serial: self.credential_serial,
            department_id: self.department_id,
            sealing_key: self.sealing_key,
            legal_basis: self.legal_basis,
            expires_at: self.expires_at,
            consent_id: self.consent.map(|c| c.id),
            token_digest: self.token_digest,
        })
    }
}

/// Permission to read the listed classes of one subject for one purpose, once.
///
/// Only [`Checked::finish`] makes one, after every rule passed; it has no public
/// constructor and is not `Clone`, so code that takes a `Grant` (the engine's decrypt path)
/// cannot be reached with an unchecked query:
///
/// ```compile_fail
/// fn forge(g: &credseal_auth::Grant) -> credseal_auth::Grant { g.clone() }
/// ```

#[derive(Debug)]
pub struct Grant {
    query_id: [u8; 16],
    subject: SubjectId,
    classes: BTreeSet<String>,
    views: BTreeMap<String, String>,
    purpose: String,
    credential_serial: Option<u64>,
    department_id: String,
    sealing_key: [u8; 32],
    legal_basis: String,
    expires_at: u64,
    consent_id: Option<[u8; 16]>,
    token_digest: [u8; 32],
}

impl Grant {
    /// The subject whose data may be read.
    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    /// The classes that may be read: a subset of the credential's classes and of the
    /// catalogue. A class granted through a view is listed here by its class id, and
    /// [`Grant::views`] says which view.
    pub fn classes(&self) -> &BTreeSet<String> {
        &self.classes
    }

    /// The classes the token asked for through a view: class → the purpose whose catalogue
    /// view (`<purpose>/<class>`) limits the fields answered. A class not in this map is
    /// granted whole (still subject to the query purpose's own view).
    pub fn views(&self) -> &BTreeMap<String, String> {
        &self.views
    }

    /// The purpose, allowed by the credential and by every granted class.
    pub fn purpose(&self) -> &str {
        &self.purpose
    }

    /// The query id.
    pub fn query_id(&self) -> &[u8; 16] {
        &self.query_id
    }

    /// The department id ([`SELF_QUERY_DEPARTMENT`] for a self-query).
    pub fn department_id(&self) -> &str {
        &self.department_id
    }

    /// The serial of the department's credential; `None` for a subject's self-query.
    pub fn credential_serial(&self) -> Option<u64> {
        self.credential_serial
    }

    /// The X25519 key the answer must be sealed to.
    pub fn sealing_key(&self) -> &[u8; 32] {
        &self.sealing_key
    }

    /// The token's free-text legal basis ([`SELF_QUERY_PURPOSE`] for a self-query).
    pub fn legal_basis(&self) -> &str {
        &self.legal_basis
    }

    /// The token's expiry.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The consent used, if any.
    pub fn consent_id(&self) -> Option<&[u8; 16]> {
        self.consent_id.as_ref()
    }

    /// SHA-256 of the token's (or self-query's) wire bytes: the token hash of the receipt.
    pub fn token_digest(&self) -> &[u8; 32] {
        &self.token_digest
    }
}

/// A valid key whose secret nobody holds (generated per process and dropped at once). The
/// verifier checks against it when the subject has no registered key, so that this case
/// does the same work as a wrong key and fails the same way.
static NO_SUBJECT_KEY: LazyLock<PublicKey> = LazyLock::new(|| crate::SigningKey::generate().public());

/// Whether a window starting at `start` has begun at `now`, allowing `skew` seconds of
/// clock difference.
fn starts_ok(start: u64, now: u64, skew: u64) -> bool {
    start.saturating_sub(skew) <= now
}

/// `s` as a subject id, which must already be in normalised form (one subject, one string).
fn normalised_subject(s: &str) -> Result<SubjectId, Denial> {
    match SubjectId::parse(s) {
        Ok(id) if id.as_str() == s => Ok(id),
        _ => Err(FormatError::InvalidSubject.into()),
    }
}

/// Requested classes: non-empty and each in the catalogue.
fn check_known_classes(classes: &BTreeSet<String>, catalog: &Catalog) -> Result<(), Denial> {
    if classes.is_empty() {
        return Err(Denial::UnknownClass { class: None });
    }
    if let Some(c) = classes.iter().find(|c| catalog.class(c).is_none()) {
        return Err(Denial::UnknownClass { class: Some(c.clone()) });
    }
    Ok(())
}

/// Each requested class allows `purpose` in the catalogue. Call after
/// [`check_known_classes`].
fn check_class_purposes(classes: &BTreeSet<String>, purpose: &str, catalog: &Catalog) -> Result<(), Denial> {
    for c in classes {
        // `None` cannot happen after `check_known_classes`; treat it as a denial anyway.
        if !catalog.class(c).is_some_and(|d| d.purposes.contains(purpose)) {
            return Err(Denial::PurposeNotAllowedForClass { class: c.clone() });
        }
    }
    Ok(())
}

/// Splits a grant entry of a credential or token into its class and, for a view
/// (`<purpose>/<class>`, docs/formats.md §8), the purpose that defines the view.
fn split_grant_entry(entry: &str) -> (&str, Option<&str>) {
    match entry.split_once('/') {
        Some((view, class)) => (class, Some(view)),
        None => (entry, None),
    }
}

/// The token's entries as classes and views: every view defined by the catalogue —
/// [`Denial::UnknownView`]; no class named twice — [`Denial::ViewConflict`]; each entry
/// granted by the credential (a class by the same class, a view by its class or by the
/// same view) — [`Denial::ClassNotGranted`].
fn split_views(
    entries: &BTreeSet<String>,
    granted: &BTreeSet<String>,
    catalog: &Catalog,
) -> Result<(BTreeSet<String>, BTreeMap<String, String>), Denial> {
    let mut classes = BTreeSet::new();
    let mut views = BTreeMap::new();
    for e in entries {
        let (class, view) = split_grant_entry(e);
        if let Some(v) = view
            && catalog.view(v, class).is_none()
        {
            return Err(Denial::UnknownView { view: e.clone() });
        }
        if !classes.insert(class.to_string()) {
            return Err(Denial::ViewConflict {
                class: class.to_string(),
            });
        }
        if let Some(v) = view {
            views.insert(class.to_string(), v.to_string());
        }
    }
    check_known_classes(&classes, catalog)?;
    if let Some(e) = entries.iter().find(|e| {
        let (class, view) = split_grant_entry(e);
        !(granted.contains(class) || view.is_some() && granted.contains(*e))
    }) {
        return Err(Denial::ClassNotGranted { class: e.clone() });
    }
    Ok((classes, views))
}

fn check_token_window(issued_at: u64, expires_at: u64, ctx: &VerifyContext<'_>) -> Result<(), Denial> {
    if !starts_ok(issued_at, ctx.now, ctx.policy.max_skew_secs) {
        return Err(Denial::TokenNotYetValid);
    }
    if ctx.now > expires_at {
        return Err(Denial::TokenExpired);
    }
    match expires_at.checked_sub(issued_at) {
        Some(life) if life <= ctx.policy.max_token_lifetime_secs => Ok(()),
        _ => Err(Denial::LifetimeOverPolicy),
    }
}

/// Verifies a department's query: the credential against the authority, the token against
/// the credential, and every rule of docs/design.md §5 that needs no storage, in this order (the
/// first failure is returned):
///
/// 1. credential signed by `ctx.authority` — [`Denial::CredentialBadSignature`];
/// 2. token signed by the credential's signing key — [`Denial::BadSignature`];
/// 3. credential audience is `ctx.audience` — [`Denial::WrongAudience`];
/// 4. `not_before − skew ≤ now` — [`Denial::CredentialNotYetValid`]; `now ≤ not_after` and
///    `not_before ≤ not_after` — [`Denial::CredentialExpired`];
/// 5. not revoked at `now` — [`Denial::CredentialRevoked`];
/// 6. token names this credential's serial — [`Denial::UnknownCredential`];
/// 7. token audience — [`Denial::WrongAudience`];
/// 8. `issued_at − skew ≤ now` — [`Denial::TokenNotYetValid`]; `now ≤ expires_at` —
///    [`Denial::TokenExpired`]; `0 ≤ expires_at − issued_at ≤ max` —
///    [`Denial::LifetimeOverPolicy`];
/// 9. subject is a normalised subject id — [`Denial::Malformed`];
/// 10. each entry a class or a view `<purpose>/<class>` the catalogue defines —
///     [`Denial::UnknownView`]; no class named twice — [`Denial::ViewConflict`]; classes
///     non-empty and in the catalogue — [`Denial::UnknownClass`]; each entry granted by the
///     credential (a class by that class; a view by its class or by that view) —
///     [`Denial::ClassNotGranted`];
/// 11. purpose granted by the credential — [`Denial::PurposeNotGranted`]; allowed by every
///     requested class — [`Denial::PurposeNotAllowedForClass`];
/// 12. consent, if a requested class requires it or the token carries one anyway:
///     present — [`Denial::ConsentMissing`]; well-formed, signed by `ctx.subject_key` and
///     naming that key — [`Denial::ConsentInvalid`]; for this platform (its audience) —
///     [`Denial::WrongAudience`]; same subject, department and purpose,
///     covering every requested class that requires consent — [`Denial::ConsentMismatch`];
///     `issued_at − skew ≤ now ≤ expires_at` within the consent lifetime —
///     [`Denial::ConsentExpired`].
///
/// The two signatures come first (1 and 2), so that every later denial — a revoked,
/// expired or not yet valid credential, another platform — is known to come from the holder
/// of a credential the authority signed ([`Denial::query_authenticated`]): the platform
/// receipts it in the subject's chain. A query whose signatures do not verify is
/// refused before anything depends on it and leaves no receipt.
///
/// Malformed bodies behind a valid signature are [`Denial::Malformed`].
pub fn verify_query(
    credential: &Unverified<Credential>,
    token: &Unverified<Token>,
    ctx: &VerifyContext<'_>,
) -> Result<Checked, Denial> {
    let cred = verify_credential_signature(credential, ctx.authority)?;
    verify_query_with_credential(&cred, token, ctx)
}

/// Checks only the authority's signature on a credential. The result may be cached (keyed
/// by the authority key and the credential's bytes) and passed to
/// [`verify_query_with_credential`], which still checks every other rule — audience,
/// validity window, revocation — on every query.
pub fn verify_credential_signature(
    credential: &Unverified<Credential>,
    authority: &PublicKey,
) -> Result<Verified<Credential>, Denial> {
    credential.verify(authority).map_err(|e| match e {
        SigError::BadSignature => Denial::CredentialBadSignature,
        SigError::Body(detail) => Denial::Malformed { detail },
    })
}

/// [`verify_query`] with a credential whose signature was already verified against
/// `ctx.authority` by [`verify_credential_signature`].
pub fn verify_query_with_credential(
    credential: &Verified<Credential>,
    token: &Unverified<Token>,
    ctx: &VerifyContext<'_>,
) -> Result<Checked, Denial> {
    let now = ctx.now;
    let skew = ctx.policy.max_skew_secs;
    let cred = credential.body();
    // The token's signature before any other rule: a denial after it is authenticated.
    let tok = token.verify(&cred.signing_key).map_err(|e| match e {
        SigError::BadSignature => Denial::BadSignature,
        SigError::Body(detail) => Denial::Malformed { detail },
    })?;
    if cred.audience != ctx.audience {
        return Err(Denial::WrongAudience {
            object: Kind::Credential,
        });
    }
    if !starts_ok(cred.not_before, now, skew) {
        return Err(Denial::CredentialNotYetValid);
    }
    if now > cred.not_after || cred.not_after < cred.not_before {
        return Err(Denial::CredentialExpired);
    }
    if let Some(list) = ctx.revocations
        && list.revoked.contains_key(&cred.serial)
    {
        return Err(Denial::CredentialRevoked);
    }
    let token_digest = tok.digest();
    let tok = tok.into_body();
    if tok.credential_serial != cred.serial {
        return Err(Denial::UnknownCredential);
    }
    if tok.audience != ctx.audience {
        return Err(Denial::WrongAudience { object: Kind::Token });
    }
    check_token_window(tok.issued_at, tok.expires_at, ctx)?;
    let subject = normalised_subject(&tok.subject)?;

    let (classes, views) = split_views(&tok.classes, &cred.classes, ctx.catalog)?;
    if !cred.purposes.contains(&tok.purpose) {
        return Err(Denial::PurposeNotGranted);
    }
    check_class_purposes(&classes, &tok.purpose, ctx.catalog)?;

    let needs_consent: BTreeSet<&String> = classes
        .iter()
        .filter(|c| ctx.catalog.class(c).is_some_and(|d| d.consent_required))
        .collect();
    let consent = match &tok.consent {
        None if needs_consent.is_empty() => None,
        None => return Err(Denial::ConsentMissing),
        Some(bytes) => Some(check_consent(bytes, &tok, cred, &needs_consent, ctx)?),
    };

    Ok(Checked {
        query_id: tok.query_id,
        subject,
        classes,
        views,
        purpose: tok.purpose,
        credential_serial: Some(cred.serial),
        department_id: cred.department_id.clone(),
        sealing_key: cred.sealing_key,
        legal_basis: tok.legal_basis,
        expires_at: tok.expires_at,
        keep_until: tok.expires_at.saturating_add(skew),
        consent,
        token_digest,
    })
}

fn check_consent(
    bytes: &[u8],
    tok: &Token,
    cred: &Credential,
    needs_consent: &BTreeSet<&String>,
    ctx: &VerifyContext<'_>,
) -> Result<ConsentUse, Denial> {
    let unverified = Unverified::<Consent>::parse_bytes(bytes).map_err(|_| Denial::ConsentInvalid)?;
    // With no registered key, verify against a fixed key anyway: same work, same answer.
    let key = ctx.subject_key.unwrap_or(*NO_SUBJECT_KEY);
    let consent = unverified.verify(&key).map_err(|_| Denial::ConsentInvalid)?.into_body();
    if ctx.subject_key.is_none() || consent.subject_key != key {
        return Err(Denial::ConsentInvalid);
    }
    if consent.audience != ctx.audience {
        return Err(Denial::WrongAudience { object: Kind::Consent });
    }
    if consent.subject != tok.subject
        || consent.department_id != cred.department_id
        || consent.purpose != tok.purpose
        || !needs_consent.iter().all(|c| consent.classes.contains(*c))
    {
        return Err(Denial::ConsentMismatch);
    }
    let life_ok = consent
        .expires_at
        .checked_sub(consent.issued_at)
        .is_some_and(|l| l <= ctx.policy.max_consent_lifetime_secs);
    if !starts_ok(consent.issued_at, ctx.now, ctx.policy.max_skew_secs) || ctx.now > consent.expires_at || !life_ok {
        return Err(Denial::ConsentExpired);
    }
    Ok(ConsentUse {
        id: consent.consent_id,
        max_uses: consent.max_uses,
    })
}

/// Verifies a subject's query for its own data, in this order:
///
/// 1. signed by `ctx.subject_key` — [`Denial::SubjectKeyInvalid`] (also when the subject has
///    no registered key);
/// 2. audience — [`Denial::WrongAudience`];
/// 3. window and lifetime as for a token — [`Denial::TokenNotYetValid`],
///    [`Denial::TokenExpired`], [`Denial::LifetimeOverPolicy`];
/// 4. subject is a normalised subject id — [`Denial::Malformed`];
/// 5. classes non-empty and in the catalogue — [`Denial::UnknownClass`]; each allowing
///    [`SELF_QUERY_PURPOSE`] — [`Denial::PurposeNotAllowedForClass`].
///
/// The result has purpose [`SELF_QUERY_PURPOSE`], department [`SELF_QUERY_DEPARTMENT`], no
/// credential serial and no consent. `ctx.authority` and `ctx.revocations` are not used.
pub fn verify_self_query(query: &Unverified<SelfQuery>, ctx: &VerifyContext<'_>) -> Result<Checked, Denial> {
    let key = ctx.subject_key.unwrap_or(*NO_SUBJECT_KEY);
    let q = query.verify(&key).map_err(|e| match e {
        SigError::BadSignature => Denial::SubjectKeyInvalid,
        SigError::Body(detail) => Denial::Malformed { detail },
    })?;
    if ctx.subject_key.is_none() {
        // Unreachable: nobody holds the placeholder's secret. Refuse like a wrong key anyway.
        return Err(Denial::SubjectKeyInvalid);
    }
    let token_digest = q.digest();
    let q = q.into_body();
    if q.audience != ctx.audience {
        return Err(Denial::WrongAudience {
            object: Kind::SelfQuery,
        });
    }
    check_token_window(q.issued_at, q.expires_at, ctx)?;
    let subject = normalised_subject(&q.subject)?;
    check_known_classes(&q.classes, ctx.catalog)?;
    check_class_purposes(&q.classes, SELF_QUERY_PURPOSE, ctx.catalog)?;
    Ok(Checked {
        query_id: q.query_id,
        subject,
        classes: q.classes,
        views: BTreeMap::new(),
        purpose: SELF_QUERY_PURPOSE.to_string(),
        credential_serial: None,
        department_id: SELF_QUERY_DEPARTMENT.to_string(),
        sealing_key: q.sealing_key,
        legal_basis: SELF_QUERY_PURPOSE.to_string(),
        expires_at: q.expires_at,
        keep_until: q.expires_at.saturating_add(ctx.policy.max_skew_secs),
        consent: None,
        token_digest,
    })
}

/// Verifies a revocation list before the platform adopts it: signed by `authority` —
/// [`Denial::RevocationListBadSignature`]; for this `audience` — [`Denial::WrongAudience`];
/// newer than `current_version` (the version the platform holds, if any) —
/// [`Denial::RevocationListStale`].
pub fn verify_revocation_list(
    list: &Unverified<RevocationList>,
    authority: &PublicKey,
    audience: &str,
    current_version: Option<u64>,
) -> Result<Verified<RevocationList>, Denial> {
    let v = list.verify(authority).map_err(|e| match e {
        SigError::BadSignature => Denial::RevocationListBadSignature,
        SigError::Body(detail) => Denial::Malformed { detail },
    })?;
    if v.body().audience != audience {
        return Err(Denial::WrongAudience {
            object: Kind::Revocations,
        });
    }
    if current_version.is_some_and(|cur| v.body().version <= cur) {
        return Err(Denial::RevocationListStale);
    }
    Ok(v)
}

/// Verifies a credit-repair order before the platform acts on it: signed by `authority` —
/// [`Denial::ShredOrderBadSignature`] (a body that does not decode is
/// [`Denial::Malformed`]); for this `audience` — [`Denial::WrongAudience`]; naming a valid,
/// normalised subject id — [`Denial::Malformed`] with [`FormatError::InvalidSubject`].
/// Whether the class and record exist, and the two officers' approvals, are the platform's
/// checks.
pub fn verify_shred_order(
    order: &Unverified<crate::ShredOrder>,
    authority: &PublicKey,
    audience: &str,
) -> Result<Verified<crate::ShredOrder>, Denial> {
    let v = order.verify(authority).map_err(|e| match e {
        SigError::BadSignature => Denial::ShredOrderBadSignature,
        SigError::Body(detail) => Denial::Malformed { detail },
    })?;
    if v.body().audience != audience {
        return Err(Denial::WrongAudience {
            object: Kind::ShredOrder,
        });
    }
    normalised_subject(&v.body().subject)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subject_key_placeholder_is_stable_within_a_process() {
        assert_eq!(*NO_SUBJECT_KEY, *NO_SUBJECT_KEY);
    }

    #[test]
    fn default_policy() {
        let p = Policy::default();
        assert_eq!(
            (p.max_skew_secs, p.max_token_lifetime_secs, p.max_consent_lifetime_secs),
            (120, 900, 34_560_000)
        );
    }
}
