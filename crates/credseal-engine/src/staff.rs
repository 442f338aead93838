//! Platform staff: incident responders (who run `trace` and the access review) and security
//! officers (who plant canary subjects). The platform operator enrols a staff member's
//! Ed25519 public key for one role, as it registers a subject's key: an authenticated
//! `Meta` entry (see `registry`), so an edit of the database without the keystore cannot
//! add a key. Every staff command is a [`StaffRequest`] signed with the enrolled key, for
//! this platform, within its validity window, accepted once, naming the exact input.

use credseal_auth::{PublicKey, StaffRequest, Unverified};
use credseal_store::{Batch, Tree};

use crate::error::{EngineError, Result};
use crate::platform::Platform;

/// Meta key prefix of an enrolled staff key: `staff:` ‖ role ‖ `:` ‖ public key (32) → id.
pub(crate) const META_STAFF: &[u8] = b"staff:";
/// `Replay` key prefix of staff request ids (value: keep-until time).
const REPLAY_STAFF: u8 = b's';

/// A staff role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaffRole {
    /// Runs `trace`, `audit report` and `audit alerts`.
    Responder,
    /// Plants canary subjects.
    Officer,
}

impl StaffRole {
    /// `responder` or `officer`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Responder => "responder",
            Self::Officer => "officer",
        }
    }

    /// The role called `s`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "responder" => Some(Self::Responder),
            "officer" => Some(Self::Officer),
            _ => None,
        }
    }
}

/// Whether a staff id is acceptable: 1-64 characters of `[a-z0-9._-]`.
pub fn valid_staff_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-'))
}

/// The officer named in administrative receipts written when a platform opens (a newer
/// keystore found), before anyone has named themselves.
pub const DEFAULT_OPERATOR: &str = "operator";

/// Who runs an administrative act (enrolment, trust, revocations, key events, shreds):
/// passed per call, and named as the officer in the act's receipt.
///
/// Today a session is made by whoever unlocked the platform with the keystore passphrase
/// ([`crate::Platform::staff_session`]): the passphrase holder names themselves, and the
/// name is **not otherwise authenticated**. A later change adds two-person enrolment of
/// officers; until then the name records who claimed to act, not who proved it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    officer: String,
}

impl StaffSession {
    /// The session of the platform itself, for acts at open.
    pub(crate) fn at_open() -> Self {
        Self {
            officer: DEFAULT_OPERATOR.to_string(),
        }
    }

    /// The officer's name, as given when the session was made.
    pub fn officer(&self) -> &str {
        &self.officer
    }
}

fn staff_meta_key(role: StaffRole, pk: &[u8; 32]) -> Vec<u8> {
    let mut k = META_STAFF.to_vec();
    k.extend_from_slice(role.label().as_bytes());
    k.push(b':');
    k.extend_from_slice(pk);
    k
}

impl Platform {
    /// A staff session for `officer`, who unlocked this platform (see [`StaffSession`]: the
    /// name is not otherwise authenticated yet): 1 to 64 letters, digits, `.`, `_`, `-` or
    /// `@`.
    pub fn staff_session(&self, officer: &str) -> Result<StaffSession> {
        let ok = !officer.is_empty()
            && officer.len() <= 64
            && officer
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !ok {
            return Err(EngineError::invalid(
                "officer name",
                "must be 1 to 64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        Ok(StaffSession {
            officer: officer.to_string(),
        })
    }

    /// Enrols `pk` as the key of staff member `id` in `role`. Enrolling the same key again
    /// under another id needs `replace`.
    pub fn enroll_staff(&self, role: StaffRole, id: &str, pk: &[u8; 32], replace: bool) -> Result<()> {
        if !valid_staff_id(id) {
            return Err(EngineError::invalid(
                format!("staff id {id:?}"),
                "must be 1-64 characters of a-z, 0-9, '.', '_' and '-'",
            ));
        }
        if PublicKey::from_bytes(pk).is_err() {
            return Err(EngineError::invalid(
                "staff public key",
                "not a valid Ed25519 public key",
            ));
        }
        if let Some(old) = self.staff_id(role, pk)?
            && old != id
            && !replace
        {
            return Err(EngineError::Conflict {
                what: format!("this key is already enrolled as {} {old:?}", role.label()),
            });
        }
        let mut b = Batch::new();
        self.put_authenticated(&mut b, &staff_meta_key(role, pk), id.as_bytes());
        self.store.apply(b)?;
        self.store.flush()?;
        Ok(())
    }

    /// The id under which `pk` is enrolled in `role`, if it is.
    pub fn staff_id(&self, role: StaffRole, pk: &[u8; 32]) -> Result<Option<String>> {
        self.get_authenticated(&staff_meta_key(role, pk), "staff key")?
            .map(|v| {
                String::from_utf8(v).map_err(|_| EngineError::Corrupt {
                    what: "staff key".into(),
                    detail: "id is not UTF-8".into(),
                })
            })
            .transpose()
    }

    /// Verifies a staff request for `action` on the input whose SHA-256 is `input_digest`;
    /// returns the staff member's id. Not enrolled, another platform, outside its window,
    /// replayed, another action or input: denied (exit 3). A bad signature by an enrolled
    /// key: a verification failure (exit 4).
    pub(crate) fn verify_staff_request(
        &self,
        text: &str,
        role: StaffRole,
        action: &str,
        input_digest: &[u8; 32],
        now: u64,
    ) -> Result<String> {
        let u = Unverified::<StaffRequest>::parse_text(text.trim())
            .map_err(|e| EngineError::Verification(format!("staff request: {e}")))?;
        let body = u
            .peek_unverified()
            .map_err(|e| EngineError::Verification(format!("staff request: {e}")))?;
        if body.role != role.label() {
            return Err(EngineError::denied(
                "staff_wrong_role",
                format!("this command needs a {} request", role.label()),
            ));
        }
        let Some(id) = self.staff_id(role, body.staff_key.as_bytes())? else {
            return Err(EngineError::denied(
                "staff_not_enrolled",
                format!("the key is not enrolled as a {} on this platform", role.label()),
            ));
        };
        let v = u
            .verify(&body.staff_key)
            .map_err(|_| EngineError::Verification("staff request: bad signature".into()))?;
        let b = v.body();
        if b.audience != self.origin() {
            return Err(EngineError::denied(
                "staff_wrong_audience",
                "the staff request is for another platform",
            ));
        }
        if b.action != action {
            return Err(EngineError::denied(
                "staff_wrong_action",
                "the staff request is for another command",
            ));
        }
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&b.input_digest[..], &input_digest[..])) {
            return Err(EngineError::denied(
                "staff_wrong_input",
                "the staff request is for another input",
            ));
        }
        let policy = self.policy();
        let skew = policy.max_skew_secs;
        if b.issued_at > now.saturating_add(skew) || now > b.expires_at {
            return Err(EngineError::denied(
                "staff_expired",
                "the staff request is outside its validity window",
            ));
        }
        if b.expires_at.saturating_sub(b.issued_at) > policy.max_token_lifetime_secs {
            return Err(EngineError::denied(
                "staff_lifetime",
                "the staff request lives longer than the policy allows",
            ));
        }
        let mut k = vec![REPLAY_STAFF];
        k.extend_from_slice(&b.request_id);
        if !self.store.insert_new(Tree::Replay, &k, &b.expires_at.to_be_bytes())? {
            return Err(EngineError::denied(
                "staff_replayed",
                "the staff request was used before",
            ));
        }
        Ok(id)
    }
}
