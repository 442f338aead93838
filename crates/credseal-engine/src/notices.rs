//! Correction notices (docs/formats.md "Correction notices"): when a correction supersedes a
//! record, every department whose granted query released that record's class of the subject
//! within the catalogue's look-back (`correction_lookback_days`, default about six months) —
//! found through the subject's receipts — gets a notice naming the record (its id and
//! class) and the corrected version, HPKE-sealed to the sealing key of the department's last
//! granted query. A notice holds no subject id and no field value: the department queries
//! again, under a token, for the corrected record, so a later shred of the record leaves
//! nothing of it in the notice. Each notice is receipted in the subject's chain (actor platform, action
//! `correction`, naming the department). Departments fetch theirs with `dept notices` or
//! `GET /v1/notices/{department}` and open them with their sealing key (`dept open-notice`).
//!
//! Only ciphertext is stored: the notice is sealed when it is made, under a Meta key that
//! names the department, the time and a random notice id.

use std::collections::BTreeSet;

use credseal_core::RecordBody;
use credseal_crypto::{SealedBox, SealingKey, SealingPublicKey};
use credseal_log::{Action, Actor, Outcome, UnverifiedReceipt};
use credseal_store::{Batch, Tree};
use serde::{Deserialize, Serialize};

use crate::components::ingest::Correction;
use crate::error::{EngineError, Result};
use crate::log::NewReceipt;
use crate::platform::Platform;

/// HPKE `info` label of a correction notice.
pub const NOTICE_LABEL: &[u8] = b"credseal:v1:notice";
/// Text prefix of a correction notice.
pub const NOTICE_PREFIX: &str = "cs1.notice.";
/// The notice envelope's format: 2 since a notice names the record instead of carrying it
/// (format 1, which held the subject id and the corrected record, is refused).
const NOTICE_FORMAT: u8 = 2;
/// Meta key prefix of a stored notice: `notice:` ‖ department ‖ 0x00 ‖ time (u64 BE) ‖ id.
const META_NOTICE: &[u8] = b"notice:";
/// Most notices a department is given in one answer (the newest ones).
pub const MAX_NOTICES: usize = 1000;
/// Meta key prefix of a correction whose notices are owed: `notice-owed:` ‖ BlindId ‖
/// record key ‖ version (u32 BE); the value is postcard (class, superseded version). Written
/// in the commit of the corrected record, deleted in the commit of its notices.
const META_NOTICE_OWED: &[u8] = b"notice-owed:";

/// The Meta key marking the notices owed for version `version` of a record.
pub(crate) fn owed_key(blind: &credseal_core::BlindId, rkey: &[u8; 16], version: u32) -> Vec<u8> {
    let mut k = META_NOTICE_OWED.to_vec();
    k.extend_from_slice(blind.as_bytes());
    k.extend_from_slice(rkey);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The value of an [`owed_key`] marker.
pub(crate) fn owed_value(class: &str, supersedes: u32) -> Vec<u8> {
    postcard::to_stdvec(&(class, supersedes)).unwrap_or_default()
}

/// What a notice says, sealed to the department.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeBody {
    /// The platform's log origin.
    pub origin: String,
    /// The notice id (16 random bytes).
    pub notice_id: [u8; 16],
    /// The department it is for.
    pub department_id: String,
    /// The record's class.
    pub class: String,
    /// The record's id.
    pub record_id: String,
    /// The version the department may hold, now superseded.
    pub superseded_version: u32,
    /// The corrected version (the record's current one), to be queried again.
    pub version: u32,
    /// When the correction was made (Unix seconds).
    pub corrected_at: u64,
}

/// A sealed notice as stored and handed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct NoticeEnvelope {
    format: u8,
    origin: String,
    notice_id: [u8; 16],
    department_id: String,
    created_at: u64,
    sealed: Vec<u8>,
}

/// The HPKE `info` of a notice: label ‖ 0x00 ‖ len16(origin) ‖ origin ‖ len16(dept) ‖ dept ‖ id.
fn notice_info(origin: &str, dept: &str, id: &[u8; 16]) -> Vec<u8> {
    let mut info = NOTICE_LABEL.to_vec();
    info.push(0);
    for part in [origin.as_bytes(), dept.as_bytes()] {
        info.extend_from_slice(&(part.len() as u16).to_be_bytes());
        info.extend_from_slice(part);
    }
    info.extend_from_slice(id);
    info
}

/// Opens a notice (`cs1.notice.…`) with the department's sealing key. Refuses another
/// format, a malformed text, and a box that does not open under `key` for the origin,
/// department and id its envelope names.
pub fn open_notice(text: &str, key: &SealingKey) -> Result<NoticeBody> {
    use base64::Engine as _;
    let bad = |d: &str| EngineError::Verification(format!("correction notice: {d}"));
    let b64 = text
        .trim()
        .strip_prefix(NOTICE_PREFIX)
        .ok_or_else(|| bad("not a cs1.notice"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| bad("not base64url"))?;
    let env: NoticeEnvelope = postcard::from_bytes(&bytes).map_err(|_| bad("malformed"))?;
    if env.format != NOTICE_FORMAT {
        return Err(bad(&format!(
            "unsupported format {} (this build reads format {NOTICE_FORMAT}, which names the record without its values)",
            env.format
        )));
    }
    let sealed = SealedBox::from_bytes(&env.sealed).map_err(|e| bad(&e.to_string()))?;
    let info = notice_info(&env.origin, &env.department_id, &env.notice_id);
    let pt = credseal_crypto::open(key, &info, &[], &sealed).map_err(|_| bad("does not open with this key"))?;
    let body: NoticeBody = postcard::from_bytes(&pt).map_err(|_| bad("contents do not decode"))?;
    if body.origin != env.origin || body.department_id != env.department_id || body.notice_id != env.notice_id {
        return Err(bad("contents do not match the envelope"));
    }
    Ok(body)
}

fn notice_key(dept: &str, time: u64, id: &[u8; 16]) -> Vec<u8> {
    let mut k = META_NOTICE.to_vec();
    k.extend_from_slice(dept.as_bytes());
    k.push(0);
    k.extend_from_slice(&time.to_be_bytes());
    k.extend_from_slice(id);
    k
}

/// Correction notices (see the module doc).
impl Platform {
    /// The departments whose granted queries released `class` of the subject (`blind`)
    /// since `since`, found through the subject's receipts.
    fn departments_that_saw(
        &self,
        blind: &credseal_core::BlindId,
        class: &str,
        since: u64,
    ) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for r in self.subject_receipts(blind)? {
            let b = UnverifiedReceipt::parse(&r)
                .and_then(|u| u.peek_unverified())
                .map_err(|e| EngineError::Corrupt {
                    what: "a subject's receipt".into(),
                    detail: e.to_string(),
                })?;
            if let (Actor::Department { id, .. }, Action::Query, Outcome::Granted) = (&b.actor, b.action, &b.outcome)
                && b.time >= since
                && b.classes.contains(class)
            {
                out.insert(id.clone());
            }
        }
        Ok(out)
    }

    /// Seals and stores the notices of `corrections` (made by an ingest that is durable now),
    /// each with its receipt in the subject's chain, in one commit.
    ///
    /// Corrections whose records were committed but whose notices were not (a crash in
    /// between, found by their markers) are taken up here too, at the next ingest.
    pub(crate) fn notify_corrections(&self, mut corrections: Vec<Correction>) -> Result<()> {
        if cfg!(debug_assertions) && std::env::var_os("CREDSEAL_TEST_SKIP_NOTICES").is_some() {
            // Test builds only: stop here, as a crash after the records' commit would.
            return Ok(());
        }
        corrections.extend(self.owed_corrections(&corrections)?);
        if corrections.is_empty() {
            return Ok(());
        }
        let now = self.now()?;
        let since = now.saturating_sub(u64::from(self.catalog.correction_lookback_days) * 86_400);
        let ks = self.keys();
        let mut batch = Batch::new();
        let mut receipts = Vec::new();
        for c in corrections {
            batch.delete(Tree::Meta, owed_key(&c.blind, &c.rkey, c.version));
            if c.body.is_empty() {
                // An owed correction whose record was shredded since: nothing to announce.
                continue;
            }
            // A correction answers the open objections to its record.
            self.resolve_by_correction(&c.blind, &c.class, &c.rkey, c.version, now, &mut batch, &mut receipts)?;
            let depts = self.departments_that_saw(&c.blind, &c.class, since)?;
            if depts.is_empty() {
                continue;
            }
            // Only the record's id leaves the body: the notice names the record, never its
            // values (they would outlive a shred of the record in the department's copy).
            let record_id = {
                let body: RecordBody = postcard::from_bytes(&c.body).map_err(|_| EngineError::Corrupt {
                    what: "a corrected record".into(),
                    detail: "does not decode".into(),
                })?;
                body.record_id
            };
            for dept in depts {
                let Some(key) = self.gate.dept_sealing_key(&ks, &dept)? else {
                    continue;
                };
                let recipient = SealingPublicKey::from_bytes(&key)
                    .map_err(|e| EngineError::invalid("a department's sealing key", e.to_string()))?;
                let notice_id: [u8; 16] = credseal_crypto::random_array();
                let nb = NoticeBody {
                    origin: self.origin().to_string(),
                    notice_id,
                    department_id: dept.clone(),
                    class: c.class.clone(),
                    record_id: record_id.clone(),
                    superseded_version: c.supersedes,
                    version: c.version,
                    corrected_at: now,
                };
                let pt = zeroize::Zeroizing::new(
                    postcard::to_stdvec(&nb).map_err(|e| EngineError::Internal(format!("encoding a notice: {e}")))?,
                );
                let info = notice_info(self.origin(), &dept, &notice_id);
                let sealed = credseal_crypto::seal(&recipient, &info, &[], &pt)
                    .map_err(|e| EngineError::Internal(format!("sealing a notice: {e}")))?;
                let env = NoticeEnvelope {
                    format: NOTICE_FORMAT,
                    origin: self.origin().to_string(),
                    notice_id,
                    department_id: dept.clone(),
                    created_at: now,
                    sealed: sealed.to_bytes(),
                };
                let bytes =
                    postcard::to_stdvec(&env).map_err(|e| EngineError::Internal(format!("encoding a notice: {e}")))?;
                batch.put(Tree::Meta, notice_key(&dept, now, &notice_id), bytes);
                receipts.push(NewReceipt {
                    actor: Actor::Platform,
                    action: Action::Correction,
                    detail: format!(
                        "correction notice sealed to department {dept}: version {} of a {} record supersedes version {}, which it received",
                        c.version, c.class, c.supersedes
                    ),
                    subject: Some(c.blind),
                    classes: [c.class.clone()].into_iter().collect(),
                    purpose: String::new(),
                    token_hash: None,
                    outcome: Outcome::Done,
                    release_digest: None,
                    disclose_after: None,
                    marks: Vec::new(),
                    flags: 0,
                    fingerprints: None,
                });
            }
        }
        drop(ks);
        if receipts.is_empty() {
            // No notice to send: only the markers go.
            self.store.apply_durable(batch)?;
            return Ok(());
        }
        self.append_receipts_with(receipts, batch, now)?;
        Ok(())
    }

    /// The corrections whose notices are owed (their markers) and not in `known`, rebuilt
    /// from the stored records: a marker whose record is gone (shredded) is dropped with the
    /// next commit.
    fn owed_corrections(&self, known: &[Correction]) -> Result<Vec<Correction>> {
        let mut out = Vec::new();
        let ks = self.keys();
        let known: std::collections::HashSet<([u8; 32], [u8; 16], u32)> =
            known.iter().map(|c| (c.blind.0, c.rkey, c.version)).collect();
        for kv in self.store.scan_prefix(Tree::Meta, META_NOTICE_OWED) {
            let (k, v) = kv?;
            let rest = &k[META_NOTICE_OWED.len()..];
            let bad = || EngineError::Corrupt {
                what: "a correction's notice marker".into(),
                detail: "malformed".into(),
            };
            if rest.len() != 32 + 16 + 4 {
                return Err(bad());
            }
            let blind = credseal_core::BlindId(rest[..32].try_into().map_err(|_| bad())?);
            let rkey: [u8; 16] = rest[32..48].try_into().map_err(|_| bad())?;
            let version = u32::from_be_bytes(rest[48..].try_into().map_err(|_| bad())?);
            if known.contains(&(blind.0, rkey, version)) {
                continue;
            }
            let (class, supersedes): (String, u32) = postcard::from_bytes(&v).map_err(|_| bad())?;
            let entry = self.vault.load_subject(&blind)?.and_then(|r| {
                r.classes.get(&class).and_then(|b| {
                    b.entries
                        .iter()
                        .find(|e| e.rkey == rkey && e.version == version)
                        .cloned()
                        .map(|e| (b.wrapped_dek.clone(), e))
                })
            });
            let body = match entry {
                Some((wrapped, e)) => {
                    let dek = self.vault.unwrap_dek(&ks, &blind, &class, &wrapped)?;
                    self.vault.open_body(&ks, &dek, &blind, &class, &e)?.0
                }
                // Shredded since: nothing to announce; the marker goes.
                None => zeroize::Zeroizing::new(Vec::new()),
            };
            out.push(Correction {
                blind,
                class,
                rkey,
                version,
                supersedes,
                body,
            });
        }
        Ok(out)
    }

    /// The correction notices for `department` (text form `cs1.notice.…`), oldest first, at
    /// most the newest [`MAX_NOTICES`]. Sealed to the department's key: anyone may fetch
    /// them, only the department opens them.
    pub fn correction_notices(&self, department: &str) -> Result<Vec<String>> {
        use base64::Engine as _;
        let mut prefix = META_NOTICE.to_vec();
        prefix.extend_from_slice(department.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.store.scan_prefix(Tree::Meta, &prefix) {
            let (_, v) = kv?;
            out.push(format!(
                "{NOTICE_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
            ));
        }
        let skip = out.len().saturating_sub(MAX_NOTICES);
        Ok(out.split_off(skip))
    }
}
