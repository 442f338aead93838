//! The standing retention policy (docs/design.md §8): two officers approve once that the
//! retention sweep runs every interval ([`Operation::retention_policy`]), instead of approving
//! every sweep ([`Operation::shred_expired`]). [`Platform::install_retention_policy`] stores
//! the policy in the trust state (under the staff prefix, with the HMAC every authenticated
//! Meta value has; docs/formats.md "Retention policy"), with a receipt naming the approvers;
//! [`Platform::withdraw_retention_policy`] removes it the same way.
//!
//! Under a policy, `credseal serve` runs the sweep on its own schedule
//! ([`Platform::scheduled_sweep`], at the platform's clock, with no passphrase: the keystore
//! is resealed under the key kept from the unlock) and `credseal shred --expired` runs without
//! approvals ([`Platform::shred_expired_under_policy`], for cron). Each run leaves a receipt
//! naming the policy — who approved it and when it was installed — even a run that shreds
//! nothing; every subject whose records it destroys gets its `Shred` receipt naming the policy
//! too. The sweep itself is the one approvals authorise ([`crate::shred`]): a run that fails
//! midway leaves every record shredded or intact.

use credseal_core::Date;
use credseal_crypto::Passphrase;
use credseal_log::Action;
use credseal_store::Batch;
use serde::Serialize;

use crate::components::gate::{Approved, META_RETENTION_POLICY, Operation, StaffSession};
use crate::components::vault::Sealing;
use crate::error::{EngineError, Result};
use crate::platform::Platform;
use crate::shred::ShredSummary;

/// The shortest interval a retention policy may name: one minute.
pub const MIN_RETENTION_INTERVAL: u64 = 60;
/// The longest interval a retention policy may name: 366 days.
pub const MAX_RETENTION_INTERVAL: u64 = 366 * 86_400;

/// Meta key of the time of the last sweep under the policy (8 bytes, Unix seconds, with its
/// HMAC): when the next scheduled run is due. Outside the trust state: rolling it back only
/// brings the next run forward, and a later time cannot be written without the index key.
const META_LAST_RUN: &[u8] = b"retention-last-run";

/// Format byte of a stored policy.
const POLICY_FORMAT: u8 = 1;

/// The standing retention policy, as installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    /// The sweep runs this often (seconds).
    pub every_secs: u64,
    /// When it was installed (Unix seconds).
    pub installed_at: u64,
    /// The enrolled officers who approved it.
    pub approved_by: Vec<String>,
}

impl RetentionPolicy {
    /// The operation its officers approved.
    pub fn operation(&self) -> Operation {
        Operation::retention_policy(self.every_secs)
    }

    /// How receipts name it: `the retention policy "retention sweep every 1d" approved by a,
    /// b, installed 2026-12-07 (Unix time 1796…)`.
    pub fn describe(&self) -> String {
        let day = Date::from_unix(self.installed_at).map_or_else(|| "?".to_string(), |d| d.to_string());
        format!(
            "the retention policy {:?} approved by {}, installed {day} (Unix time {})",
            self.operation().text(),
            self.approved_by.join(", "),
            self.installed_at
        )
    }

    /// format ‖ u64 every ‖ u64 installed_at ‖ u8 n ‖ n × (u8 len ‖ officer id), big-endian.
    fn encode(&self) -> Vec<u8> {
        let mut v = vec![POLICY_FORMAT];
        v.extend_from_slice(&self.every_secs.to_be_bytes());
        v.extend_from_slice(&self.installed_at.to_be_bytes());
        // Officer ids are 1 to 64 bytes (`valid_staff_id`), and an approval names two.
        v.push(self.approved_by.len() as u8);
        for id in &self.approved_by {
            v.push(id.len() as u8);
            v.extend_from_slice(id.as_bytes());
        }
        v
    }

    /// The inverse of [`Self::encode`]; `None` for anything else (trailing bytes included).
    fn decode(v: &[u8]) -> Option<Self> {
        let (&format, rest) = v.split_first()?;
        if format != POLICY_FORMAT || rest.len() < 17 {
            return None;
        }
        let every_secs = u64::from_be_bytes(rest[..8].try_into().ok()?);
        let installed_at = u64::from_be_bytes(rest[8..16].try_into().ok()?);
        let n = rest[16];
        let mut rest = &rest[17..];
        let mut approved_by = Vec::with_capacity(n.into());
        for _ in 0..n {
            let (&len, tail) = rest.split_first()?;
            let id = tail.get(..usize::from(len))?;
            approved_by.push(String::from_utf8(id.to_vec()).ok()?);
            rest = &tail[usize::from(len)..];
        }
        (rest.is_empty() && (MIN_RETENTION_INTERVAL..=MAX_RETENTION_INTERVAL).contains(&every_secs)).then_some(Self {
            every_secs,
            installed_at,
            approved_by,
        })
    }
}

/// What one sweep under the policy did.
#[derive(Clone, Debug, Serialize)]
pub struct PolicySweep {
    /// The policy it ran under.
    pub policy: RetentionPolicy,
    /// The day it swept as of (records past retention on it were destroyed).
    pub today: String,
    /// What it shredded.
    pub summary: ShredSummary,
    /// The log index of the run's receipt.
    pub receipt: u64,
}

/// What [`Platform::scheduled_sweep`] found.
#[derive(Clone, Debug)]
pub enum ScheduledSweep {
    /// No retention policy is installed: nothing runs on schedule.
    NoPolicy,
    /// The next run is due at this time (Unix seconds, the platform's clock).
    NotDue {
        /// When.
        next_at: u64,
        /// How long from now (seconds).
        wait_secs: u64,
    },
    /// A run was due and ran.
    Ran(PolicySweep),
}

impl Platform {
    /// The installed retention policy (`None`: none). One edited in the store is a
    /// verification failure (its HMAC, or the trust state at open).
    pub fn retention_policy(&self) -> Result<Option<RetentionPolicy>> {
        let Some(v) = self.gate.retention_policy(&self.keys())? else {
            return Ok(None);
        };
        RetentionPolicy::decode(&v)
            .map(Some)
            .ok_or_else(|| EngineError::Corrupt {
                what: "trust state: retention policy".into(),
                detail: "the stored value is not a retention policy".into(),
            })
    }

    /// Installs the standing retention policy — the sweep every `every_secs` seconds
    /// without further approvals — approved by two officers for exactly
    /// [`Operation::retention_policy`] of that interval. Replaces an installed one. A receipt
    /// names the policy and its approvers; its checkpoint commits to it (trust state).
    pub fn install_retention_policy(
        &self,
        session: &StaffSession,
        every_secs: u64,
        approved: &Approved,
    ) -> Result<RetentionPolicy> {
        if !(MIN_RETENTION_INTERVAL..=MAX_RETENTION_INTERVAL).contains(&every_secs) {
            return Err(EngineError::invalid(
                "retention policy interval",
                format!("{every_secs} s is outside 1 minute to 366 days"),
            ));
        }
        approved.require(&Operation::retention_policy(every_secs))?;
        let before = self.retention_policy()?;
        let now = self.now()?;
        let policy = RetentionPolicy {
            every_secs,
            installed_at: now,
            approved_by: approved.officers().to_vec(),
        };
        let ks = self.keys();
        let mut b = self.gate.consume(&ks, approved)?;
        self.gate
            .put_authenticated(&ks, &mut b, META_RETENTION_POLICY, &policy.encode());
        drop(ks);
        let replaced = before
            .map(|p| format!("; replaces {}", p.describe()))
            .unwrap_or_default();
        let r = self.admin_receipt(
            session,
            Action::Admin,
            format!(
                "retention policy installed: {:?}, {}; the retention sweep runs on schedule without further \
                 approvals{replaced}",
                policy.operation().text(),
                approved.note()
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, now)?;
        Ok(policy)
    }

    /// Withdraws the standing retention policy, approved by two officers for exactly
    /// [`Operation::retention_policy_off`]: from then on every sweep needs two approvals
    /// again, and `credseal serve` runs none. Returns the policy withdrawn; with none
    /// installed, [`EngineError::NotFound`] before any approval is spent.
    pub fn withdraw_retention_policy(&self, session: &StaffSession, approved: &Approved) -> Result<RetentionPolicy> {
        approved.require(&Operation::retention_policy_off())?;
        let old = self
            .retention_policy()?
            .ok_or_else(|| EngineError::NotFound("no retention policy is installed: nothing to withdraw".into()))?;
        let ks = self.keys();
        let mut b = self.gate.consume(&ks, approved)?;
        drop(ks);
        b.delete(credseal_store::Tree::Meta, META_RETENTION_POLICY);
        b.delete(credseal_store::Tree::Meta, META_LAST_RUN);
        let r = self.admin_receipt(
            session,
            Action::Admin,
            format!(
                "retention policy withdrawn: {}; every retention sweep needs two officers' approvals again ({})",
                old.describe(),
                approved.note()
            ),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(old)
    }

    /// The retention sweep as of `today` under the installed policy, without approvals
    /// (`credseal shred --expired` from cron): refused (denied, `retention-policy-missing`)
    /// when no policy is installed. `pass` reseals the keystore if the key kept from the
    /// unlock no longer does.
    pub fn shred_expired_under_policy(
        &self,
        session: &StaffSession,
        today: Date,
        pass: &Passphrase,
    ) -> Result<PolicySweep> {
        let now = self.now()?;
        self.sweep_by_policy(session, today, now, Sealing::Passphrase(pass))
    }

    /// `credseal serve`'s scheduled run, at the platform's clock: with a policy installed
    /// and its interval passed since the last run (or since its installation), the sweep
    /// as of today runs with no passphrase (the keystore is resealed under the key kept
    /// from the unlock) and its receipts' actor is the platform.
    pub fn scheduled_sweep(&self) -> Result<ScheduledSweep> {
        let Some(policy) = self.retention_policy()? else {
            return Ok(ScheduledSweep::NoPolicy);
        };
        let now = self.now()?;
        let last = self.last_run()?.unwrap_or(0).max(policy.installed_at);
        let due = last.saturating_add(policy.every_secs);
        if now < due {
            return Ok(ScheduledSweep::NotDue {
                next_at: due,
                wait_secs: due - now,
            });
        }
        let today = Date::from_unix(now).ok_or_else(|| EngineError::Clock {
            detail: format!("{now} is not a date this platform handles"),
        })?;
        let run = self.sweep_by_policy(&StaffSession::scheduled(), today, now, Sealing::Unattended)?;
        Ok(ScheduledSweep::Ran(run))
    }

    /// When the last sweep under the policy ran (its HMAC checked).
    fn last_run(&self) -> Result<Option<u64>> {
        let Some(v) = self
            .gate
            .get_authenticated(&self.keys(), META_LAST_RUN, "the retention sweep's last run")?
        else {
            return Ok(None);
        };
        let b: [u8; 8] = v.as_slice().try_into().map_err(|_| EngineError::Corrupt {
            what: "the retention sweep's last run".into(),
            detail: "not an 8-byte time".into(),
        })?;
        Ok(Some(u64::from_be_bytes(b)))
    }

    /// One sweep under the installed policy: the records past retention on `today` are
    /// shredded (each subject's receipt names the policy), then the run's own receipt —
    /// written whether or not anything was shredded — names the policy and what was done,
    /// and records the run's time `now` for the schedule.
    fn sweep_by_policy(
        &self,
        session: &StaffSession,
        today: Date,
        now: u64,
        sealing: Sealing<'_>,
    ) -> Result<PolicySweep> {
        let policy = self.retention_policy()?.ok_or_else(|| {
            EngineError::denied(
                "retention-policy-missing",
                "no retention policy is installed: a retention sweep needs two officers' approvals",
            )
        })?;
        let note = format!("under {}", policy.describe());
        let summary = self.keyops().shred_expired_by_policy(session, today, sealing, &note)?;
        let what = if summary.records == 0 {
            "nothing was past its retention".to_string()
        } else {
            let classes: Vec<&str> = summary.classes.iter().map(|(c, _, _)| c.as_str()).collect();
            format!(
                "{} record(s) of {} subject(s) shredded (classes {})",
                summary.records,
                summary.subjects,
                classes.join(", ")
            )
        };
        let r = self.admin_receipt(
            session,
            Action::Shred,
            format!("retention sweep as of {today}: {what}; {note}"),
            None,
        );
        let mut b = Batch::new();
        self.gate
            .put_authenticated(&self.keys(), &mut b, META_LAST_RUN, &now.to_be_bytes());
        let committed = self.append_receipts_with(vec![r], b, self.now()?.max(now))?;
        let receipt = committed
            .first()
            .map(|c| c.index)
            .ok_or_else(|| EngineError::Internal("the sweep's receipt was not committed".into()))?;
        Ok(PolicySweep {
            policy,
            today: today.to_string(),
            summary,
            receipt,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetentionPolicy {
        RetentionPolicy {
            every_secs: 86_400,
            installed_at: 1_796_644_800,
            approved_by: vec!["off-a".into(), "off-b".into()],
        }
    }

    #[test]
    fn policy_round_trips_and_names_its_operation() {
        let p = policy();
        assert_eq!(RetentionPolicy::decode(&p.encode()), Some(p.clone()));
        assert_eq!(p.operation().text(), "retention sweep every 1d");
        let d = p.describe();
        assert!(
            d.contains("\"retention sweep every 1d\" approved by off-a, off-b, installed 2026-12-07"),
            "{d}"
        );
    }

    #[test]
    fn policy_truncated_extended_or_out_of_range_is_refused() {
        let bytes = policy().encode();
        for cut in 0..bytes.len() {
            assert_eq!(RetentionPolicy::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(RetentionPolicy::decode(&longer), None);
        let mut format = bytes.clone();
        format[0] = 2;
        assert_eq!(RetentionPolicy::decode(&format), None);
        let short = RetentionPolicy {
            every_secs: 59,
            ..policy()
        };
        assert_eq!(RetentionPolicy::decode(&short.encode()), None);
    }

    #[test]
    fn interval_texts_are_canonical() {
        use crate::components::gate::interval_text;
        assert_eq!(interval_text(86_400), "1d");
        assert_eq!(interval_text(7 * 86_400), "7d");
        assert_eq!(interval_text(43_200), "12h");
        assert_eq!(interval_text(5_400), "90m");
        assert_eq!(interval_text(61), "61s");
        assert_eq!(Operation::retention_policy_off().text(), "retention sweep off");
    }
}
