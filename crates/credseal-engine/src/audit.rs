//! The access review (docs/design.md §9): canary alerts and per-department reports, computed from
//! the signed receipts in the log (each signature verified), never from anything a
//! department could edit.
//!
//! Flags, per department and day of the period (UTC days), against the department's own
//! baseline — the median of its daily figures over the [`BASELINE_DAYS`] days before, from
//! its first day of activity, once it has at least [`MIN_HISTORY_DAYS`] such days:
//!
//! - `volume-spike`: the day's queries are at least [`MIN_SPIKE_QUERIES`] and at least
//!   [`SPIKE_FACTOR`] × the baseline (a baseline under 1 counts as 1);
//! - `denial-spike`: at least [`MIN_SPIKE_DENIALS`] denials, a denial rate of at least 50%
//!   and at least [`SPIKE_FACTOR`] × the baseline's denial rate;
//! - `bulk`: at least [`BULK_SUBJECTS`] distinct subjects within any [`BULK_WINDOW_SECS`]
//!   seconds (no baseline needed).
//!
//! What the log cannot show: receipts name subjects by BlindId only, so a department
//! walking through *sequential* subject ids is seen as bulk querying, not as a sequence.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use credseal_core::{BlindId, Date};
use serde::Serialize;

use crate::canary::CanaryAlert;
use crate::error::Result;
use crate::platform::Platform;

/// Days of history in a baseline.
pub const BASELINE_DAYS: i64 = 28;
/// Days of history needed before a day can be flagged against its baseline.
pub(crate) const MIN_HISTORY_DAYS: i64 = 3;
/// How far above its baseline a day must be to be flagged.
pub const SPIKE_FACTOR: f64 = 5.0;
/// Fewest queries in a day for a volume spike.
pub(crate) const MIN_SPIKE_QUERIES: u64 = 10;
/// Fewest denials in a day for a denial spike.
pub(crate) const MIN_SPIKE_DENIALS: u64 = 5;
/// Window of the bulk check.
pub const BULK_WINDOW_SECS: u64 = 600;
/// Distinct subjects within the window that count as bulk querying.
pub const BULK_SUBJECTS: usize = 100;

/// One day of a department's activity.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DayActivity {
    /// The day (UTC).
    pub date: String,
    /// Queries.
    pub queries: u64,
    /// Of which denied.
    pub denied: u64,
    /// Distinct subjects.
    pub subjects: u64,
}

/// A pattern the review flags.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewFlag {
    /// `volume-spike`, `denial-spike` or `bulk`.
    pub kind: String,
    /// The day (UTC).
    pub date: String,
    /// What was seen against what was expected.
    pub detail: String,
}

/// A department's activity over the period.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DepartmentReview {
    /// The department.
    pub department: String,
    /// Queries in the period.
    pub queries: u64,
    /// Granted.
    pub granted: u64,
    /// Denied.
    pub denied: u64,
    /// Distinct subjects queried.
    pub distinct_subjects: u64,
    /// Queries by purpose.
    pub by_purpose: BTreeMap<String, u64>,
    /// Queries by class asked for.
    pub by_class: BTreeMap<String, u64>,
    /// Denials by reason code.
    pub denials: BTreeMap<String, u64>,
    /// Queries that touched a canary subject.
    pub canary_hits: u64,
    /// Each day with activity.
    pub days: Vec<DayActivity>,
    /// What the review flags.
    pub flags: Vec<ReviewFlag>,
}

/// `audit report`.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    /// First day (UTC, inclusive).
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Departments with queries in the period (or the one asked for).
    pub departments: Vec<DepartmentReview>,
    /// The log index of the reviewer's receipt.
    pub receipt: u64,
}

fn day_of(t: u64) -> i64 {
    (t / 86_400) as i64
}

fn day_name(d: i64) -> String {
    Date::from_days_since_epoch(d).map_or_else(|| d.to_string(), |d| d.to_string())
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// A department query receipt, reduced to what the review needs.
pub(crate) struct Q {
    pub(crate) time: u64,
    pub(crate) subject: Option<BlindId>,
    pub(crate) denied: Option<String>,
    pub(crate) purpose: String,
    pub(crate) classes: BTreeSet<String>,
    pub(crate) canary: bool,
}

/// The parameters an `audit-report` staff request signs (their SHA-256).
pub(crate) fn report_params(department: Option<&str>, from: Date, to: Date) -> String {
    format!("dept={}&from={from}&to={to}", department.unwrap_or("*"))
}

/// The access review through the incident component (the facade's delegations).
impl Platform {
    /// Every query receipt whose subject is a canary (receipts carry no canary flag: the
    /// subject is tested against the canary set). `request`: a responder's staff request for
    /// `audit-alerts` over the empty input. Leaves a receipt.
    pub fn canary_alerts(&self, request: &str, now: u64) -> Result<Vec<CanaryAlert>> {
        self.incident().canary_alerts(request, now)
    }

    /// The parameters an `audit-report` staff request signs (their SHA-256).
    pub fn report_params(department: Option<&str>, from: Date, to: Date) -> String {
        report_params(department, from, to)
    }

    /// The access review of `department` (or every department) from `from` to `to`
    /// (inclusive, UTC days). `request`: a responder's staff request for `audit-report`
    /// over [`Platform::report_params`]. Leaves a receipt.
    pub fn audit_report(
        &self,
        request: &str,
        department: Option<&str>,
        from: Date,
        to: Date,
        now: u64,
    ) -> Result<AuditReport> {
        self.incident().audit_report(request, department, from, to, now)
    }
}

pub(crate) fn review(department: String, qs: &[Q], d0: i64, d1: i64) -> DepartmentReview {
    let mut r = DepartmentReview {
        department,
        ..Default::default()
    };
    // Daily (queries, denied, subjects) over all time, for baselines.
    let mut daily: BTreeMap<i64, (u64, u64, BTreeSet<BlindId>)> = BTreeMap::new();
    for q in qs {
        let e = daily.entry(day_of(q.time)).or_default();
        e.0 += 1;
        e.1 += u64::from(q.denied.is_some());
        if let Some(s) = q.subject {
            e.2.insert(s);
        }
    }
    let first = daily.keys().next().copied().unwrap_or(d0);
    let mut subjects = BTreeSet::new();
    for q in qs.iter().filter(|q| (d0..=d1).contains(&day_of(q.time))) {
        r.queries += 1;
        match &q.denied {
            Some(code) => {
                r.denied += 1;
                *r.denials.entry(code.clone()).or_default() += 1;
            }
            None => r.granted += 1,
        }
        *r.by_purpose.entry(q.purpose.clone()).or_default() += 1;
        for c in &q.classes {
            *r.by_class.entry(c.clone()).or_default() += 1;
        }
        r.canary_hits += u64::from(q.canary);
        if let Some(s) = q.subject {
            subjects.insert(s);
        }
    }
    r.distinct_subjects = subjects.len() as u64;
    for (&day, (n, denied, subj)) in daily.range(d0..=d1) {
        r.days.push(DayActivity {
            date: day_name(day),
            queries: *n,
            denied: *denied,
            subjects: subj.len() as u64,
        });
        let start = (day - BASELINE_DAYS).max(first);
        if day - start < MIN_HISTORY_DAYS {
            continue;
        }
        let hist: Vec<(u64, u64)> = (start..day)
            .map(|d| daily.get(&d).map_or((0, 0), |e| (e.0, e.1)))
            .collect();
        let base = median(hist.iter().map(|h| h.0 as f64).collect());
        if *n >= MIN_SPIKE_QUERIES && *n as f64 >= SPIKE_FACTOR * base.max(1.0) {
            r.flags.push(ReviewFlag {
                kind: "volume-spike".into(),
                date: day_name(day),
                detail: format!("{n} queries against a baseline of {base} a day"),
            });
        }
        let (hq, hd) = hist.iter().fold((0, 0), |a, h| (a.0 + h.0, a.1 + h.1));
        let base_rate = if hq == 0 { 0.0 } else { hd as f64 / hq as f64 };
        let rate = *denied as f64 / *n as f64;
        if *denied >= MIN_SPIKE_DENIALS && rate >= 0.5 && rate >= SPIKE_FACTOR * base_rate {
            r.flags.push(ReviewFlag {
                kind: "denial-spike".into(),
                date: day_name(day),
                detail: format!(
                    "{denied} of {n} queries denied ({:.0}%) against a baseline of {:.0}%",
                    rate * 100.0,
                    base_rate * 100.0
                ),
            });
        }
    }
    // Bulk: distinct subjects within a sliding window, per day of the period.
    let mut in_period: Vec<(u64, BlindId)> = qs
        .iter()
        .filter(|q| (d0..=d1).contains(&day_of(q.time)))
        .filter_map(|q| q.subject.map(|s| (q.time, s)))
        .collect();
    in_period.sort_by_key(|x| x.0);
    let mut window: VecDeque<(u64, BlindId)> = VecDeque::new();
    let mut counts: HashMap<BlindId, usize> = HashMap::new();
    let mut flagged_days = BTreeSet::new();
    for (t, s) in in_period {
        window.push_back((t, s));
        *counts.entry(s).or_default() += 1;
        while let Some(&(t0, s0)) = window.front() {
            if t0 + BULK_WINDOW_SECS > t {
                break;
            }
            window.pop_front();
            if let Some(c) = counts.get_mut(&s0) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(&s0);
                }
            }
        }
        if counts.len() >= BULK_SUBJECTS && flagged_days.insert(day_of(t)) {
            r.flags.push(ReviewFlag {
                kind: "bulk".into(),
                date: day_name(day_of(t)),
                detail: format!(
                    "{} distinct subjects within {} minutes",
                    counts.len(),
                    BULK_WINDOW_SECS / 60
                ),
            });
        }
    }
    r
}
