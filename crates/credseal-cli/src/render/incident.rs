//! Incident response: a trace report (`trace`), planted canaries (`canary plant`), canary
//! alerts (`audit alerts`) and the access review (`audit report`).

use std::collections::BTreeMap;

use credseal_engine::{
    AuditReport, CanaryAlert, DayActivity, DepartmentReview, LeakIssue, MarkReport, PlantReport, ReviewFlag,
    TraceReport, TracedDepartment, TracedDisclosure,
};
use serde::Serialize;

use super::{date, print_json, table};

/// One disclosure that explains part of a leak.
#[derive(Debug, Serialize)]
struct DisclosureJson {
    disclosure: u64,
    time: u64,
    department: String,
    credential_serial: Option<u64>,
    purpose: String,
    items: u64,
    fields: BTreeMap<String, u64>,
}

impl From<&TracedDisclosure> for DisclosureJson {
    fn from(d: &TracedDisclosure) -> Self {
        Self {
            disclosure: d.disclosure,
            time: d.time,
            department: d.department.clone(),
            credential_serial: d.credential_serial,
            purpose: d.purpose.clone(),
            items: d.items,
            fields: d.fields.clone(),
        }
    }
}

/// A department's share of a leak.
#[derive(Debug, Serialize)]
struct DepartmentJson {
    department: String,
    items: u64,
    disclosures: u64,
}

impl From<&TracedDepartment> for DepartmentJson {
    fn from(d: &TracedDepartment) -> Self {
        Self {
            department: d.department.clone(),
            items: d.items,
            disclosures: d.disclosures,
        }
    }
}

/// One line of the leak that could not be read.
#[derive(Debug, Serialize)]
struct IssueJson {
    line: u64,
    column: String,
    message: String,
}

impl From<&LeakIssue> for IssueJson {
    fn from(i: &LeakIssue) -> Self {
        Self {
            line: i.line,
            column: i.column.clone(),
            message: i.message.clone(),
        }
    }
}

/// The export mark as read.
#[derive(Debug, Serialize)]
struct ExportMarkJson {
    origin: String,
    disclosure: u64,
}

/// What an export mark in the leak names.
#[derive(Debug, Serialize)]
struct MarkJson {
    mark: ExportMarkJson,
    disclosure: Option<DisclosureJson>,
    problem: Option<String>,
}

impl From<&MarkReport> for MarkJson {
    fn from(m: &MarkReport) -> Self {
        Self {
            mark: ExportMarkJson {
                origin: m.mark.origin.clone(),
                disclosure: m.mark.disclosure,
            },
            disclosure: m.disclosure.as_ref().map(DisclosureJson::from),
            problem: m.problem.clone(),
        }
    }
}

/// `trace --json`: the fields of [`TraceReport`], in its order.
#[derive(Debug, Serialize)]
struct TraceJson {
    format: String,
    encoding: String,
    rows: u64,
    items: u64,
    matched_items: u64,
    unmatched_items: u64,
    subjects: u64,
    unmatched_subjects: u64,
    departments: Vec<DepartmentJson>,
    disclosures: Vec<DisclosureJson>,
    more_disclosures: u64,
    issues: Vec<IssueJson>,
    more_issues: u64,
    unknown_columns: Vec<String>,
    export_mark: Option<MarkJson>,
    receipt: u64,
}

impl From<&TraceReport> for TraceJson {
    fn from(r: &TraceReport) -> Self {
        Self {
            format: r.format.clone(),
            encoding: r.encoding.clone(),
            rows: r.rows,
            items: r.items,
            matched_items: r.matched_items,
            unmatched_items: r.unmatched_items,
            subjects: r.subjects,
            unmatched_subjects: r.unmatched_subjects,
            departments: r.departments.iter().map(DepartmentJson::from).collect(),
            disclosures: r.disclosures.iter().map(DisclosureJson::from).collect(),
            more_disclosures: r.more_disclosures,
            issues: r.issues.iter().map(IssueJson::from).collect(),
            more_issues: r.more_issues,
            unknown_columns: r.unknown_columns.clone(),
            export_mark: r.export_mark.as_ref().map(MarkJson::from),
            receipt: r.receipt,
        }
    }
}

/// The departments of a trace, ranked: rank, department, items explained, disclosures
/// (`trace`, the demo; `items` names the third column).
pub(crate) fn department_table(r: &TraceReport, items: &str) -> String {
    let rows: Vec<Vec<String>> = r
        .departments
        .iter()
        .enumerate()
        .map(|(i, d)| {
            vec![
                (i + 1).to_string(),
                d.department.clone(),
                format!("{}/{}", d.items, r.items),
                d.disclosures.to_string(),
            ]
        })
        .collect();
    table(&["rank", "department", items, "disclosures"], &rows)
}

/// `trace`: the leak, the departments and disclosures that explain it, what could not be read.
pub(crate) fn trace(r: &TraceReport, json: bool) {
    if json {
        print_json("trace", &TraceJson::from(r));
        return;
    }
    let format = if r.encoding == "UTF-8" {
        r.format.clone()
    } else {
        format!("{}, {}", r.format, r.encoding)
    };
    println!(
        "leak ({format}): {} rows, {} items: {} matched, {} unmatched; {} subjects, {} unmatched",
        r.rows, r.items, r.matched_items, r.unmatched_items, r.subjects, r.unmatched_subjects
    );
    if let Some(m) = &r.export_mark {
        match (&m.disclosure, &m.problem) {
            (Some(d), _) => println!(
                "export mark: disclosure {} to {} (credential {}) at {} for {}",
                d.disclosure,
                d.department,
                d.credential_serial.map_or("-".into(), |s| s.to_string()),
                date(d.time),
                d.purpose
            ),
            (None, p) => println!(
                "export mark: disclosure {} of {}: {}",
                m.mark.disclosure,
                m.mark.origin,
                p.as_deref().unwrap_or("not found")
            ),
        }
    }
    if r.departments.is_empty() {
        println!("no disclosure released any of these items");
    } else {
        println!("\ndepartments, by leaked items their disclosures explain:");
        print!("{}", department_table(r, "items"));
        println!("\ndisclosures:");
        let rows: Vec<Vec<String>> = r
            .disclosures
            .iter()
            .map(|d| {
                vec![
                    d.disclosure.to_string(),
                    date(d.time),
                    d.department.clone(),
                    d.credential_serial.map_or("-".into(), |s| s.to_string()),
                    d.purpose.clone(),
                    d.items.to_string(),
                    d.fields.keys().cloned().collect::<Vec<_>>().join(","),
                ]
            })
            .collect();
        print!(
            "{}",
            table(
                &[
                    "disclosure",
                    "time",
                    "department",
                    "credential",
                    "purpose",
                    "items",
                    "fields"
                ],
                &rows
            )
        );
        if r.more_disclosures > 0 {
            println!("… and {} more disclosures (see --json)", r.more_disclosures);
        }
    }
    if !r.issues.is_empty() {
        println!("\nlines not traced:");
        for i in &r.issues {
            println!("  line {}: {}: {}", i.line, i.column, i.message);
        }
        if r.more_issues > 0 {
            println!("  … and {} more", r.more_issues);
        }
    }
    if !r.unknown_columns.is_empty() {
        println!("columns that name no catalogue field: {}", r.unknown_columns.join(", "));
    }
    println!("this trace is receipt {} in the log", r.receipt);
}

/// `canary plant --json` (never the planted ids).
#[derive(Debug, Serialize)]
struct PlantJson {
    planted: u32,
    records: u64,
    total: u64,
    receipt: u64,
}

/// What `canary plant` did.
pub(crate) fn planted(r: &PlantReport, json: bool) {
    if json {
        print_json(
            "canary-plant",
            &PlantJson {
                planted: r.planted,
                records: r.records,
                total: r.total,
                receipt: r.receipt,
            },
        );
    } else {
        println!(
            "planted {} canary subject(s) ({} records); {} on the platform; receipt {}",
            r.planted, r.records, r.total, r.receipt
        );
    }
}

/// A query that touched a canary subject (`audit alerts --json`).
#[derive(Debug, Serialize)]
struct AlertJson {
    receipt: u64,
    time: u64,
    department: String,
    credential_serial: Option<u64>,
    purpose: Option<String>,
    /// `granted` or `denied`.
    outcome: String,
    /// The denial code of a denied query, else null.
    denial_code: Option<String>,
}

impl From<&CanaryAlert> for AlertJson {
    fn from(a: &CanaryAlert) -> Self {
        // The engine's outcome text: `granted` or `denied (<code>)`.
        let (outcome, denial_code) = match a.outcome.strip_prefix("denied (").and_then(|r| r.strip_suffix(')')) {
            Some(code) => ("denied".to_string(), Some(code.to_string())),
            None => (a.outcome.clone(), None),
        };
        Self {
            receipt: a.receipt,
            time: a.time,
            department: a.department.clone(),
            credential_serial: a.credential_serial,
            purpose: (!a.purpose.is_empty()).then(|| a.purpose.clone()),
            outcome,
            denial_code,
        }
    }
}

/// `audit alerts`: every query that touched a canary subject.
pub(crate) fn alerts(alerts: &[CanaryAlert], json: bool) {
    if json {
        print_json("alerts", &alerts.iter().map(AlertJson::from).collect::<Vec<_>>());
        return;
    }
    if alerts.is_empty() {
        println!("no query has touched a canary subject");
        return;
    }
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            vec![
                a.receipt.to_string(),
                date(a.time),
                a.department.clone(),
                a.credential_serial.map_or("-".into(), |s| s.to_string()),
                a.purpose.clone(),
                a.outcome.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["receipt", "time", "department", "credential", "purpose", "outcome"],
            &rows
        )
    );
}

/// One day of a department's activity.
#[derive(Debug, Serialize)]
struct DayJson {
    date: String,
    queries: u64,
    denied: u64,
    subjects: u64,
}

impl From<&DayActivity> for DayJson {
    fn from(d: &DayActivity) -> Self {
        Self {
            date: d.date.clone(),
            queries: d.queries,
            denied: d.denied,
            subjects: d.subjects,
        }
    }
}

/// A pattern the review flags.
#[derive(Debug, Serialize)]
struct FlagJson {
    kind: String,
    date: String,
    detail: String,
}

impl From<&ReviewFlag> for FlagJson {
    fn from(f: &ReviewFlag) -> Self {
        Self {
            kind: f.kind.clone(),
            date: f.date.clone(),
            detail: f.detail.clone(),
        }
    }
}

/// A department's activity over the period.
#[derive(Debug, Serialize)]
struct ReviewJson {
    department: String,
    queries: u64,
    granted: u64,
    denied: u64,
    distinct_subjects: u64,
    by_purpose: BTreeMap<String, u64>,
    by_class: BTreeMap<String, u64>,
    denials: BTreeMap<String, u64>,
    canary_hits: u64,
    days: Vec<DayJson>,
    flags: Vec<FlagJson>,
}

impl From<&DepartmentReview> for ReviewJson {
    fn from(d: &DepartmentReview) -> Self {
        Self {
            department: d.department.clone(),
            queries: d.queries,
            granted: d.granted,
            denied: d.denied,
            distinct_subjects: d.distinct_subjects,
            by_purpose: d.by_purpose.clone(),
            by_class: d.by_class.clone(),
            denials: d.denials.clone(),
            canary_hits: d.canary_hits,
            days: d.days.iter().map(DayJson::from).collect(),
            flags: d.flags.iter().map(FlagJson::from).collect(),
        }
    }
}

/// `audit report --json`.
#[derive(Debug, Serialize)]
struct ReportJson {
    from: String,
    to: String,
    departments: Vec<ReviewJson>,
    receipt: u64,
}

/// `audit report`: per department, queries by purpose, class, outcome; what the review flags.
pub(crate) fn report(r: &AuditReport, json: bool) {
    if json {
        print_json(
            "audit-report",
            &ReportJson {
                from: r.from.clone(),
                to: r.to.clone(),
                departments: r.departments.iter().map(ReviewJson::from).collect(),
                receipt: r.receipt,
            },
        );
        return;
    }
    println!("access review {} to {}", r.from, r.to);
    let fmt = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    };
    for d in &r.departments {
        println!(
            "\n{}: {} queries ({} granted, {} denied), {} distinct subjects, {} canary hits",
            d.department, d.queries, d.granted, d.denied, d.distinct_subjects, d.canary_hits
        );
        println!("  by purpose: {}", fmt(&d.by_purpose));
        println!("  by class:   {}", fmt(&d.by_class));
        if !d.denials.is_empty() {
            println!("  denials:    {}", fmt(&d.denials));
        }
        for f in &d.flags {
            println!("  FLAG {} on {}: {}", f.kind, f.date, f.detail);
        }
    }
    if r.departments.is_empty() {
        println!("no department queried in this period");
    }
}

/// One objection in `audit objections --json`.
#[derive(Debug, Serialize)]
struct ObjectionJson<'a> {
    id: String,
    provider: &'a str,
    kind: &'a str,
    class: &'a str,
    version: u32,
    filed_at: u64,
    due: u64,
    status: String,
    overdue: bool,
    answered_at: Option<u64>,
}

/// `audit objections`: every objection by provider, with its status as of `now`.
pub(crate) fn objections(list: &[credseal_engine::ObjectionState], now: u64, json: bool) {
    let rows: Vec<ObjectionJson<'_>> = list
        .iter()
        .map(|o| ObjectionJson {
            id: credseal_core::hex(&o.id),
            provider: &o.provider,
            kind: &o.kind,
            class: &o.class,
            version: o.version,
            filed_at: o.filed_at,
            due: o.due,
            status: match &o.status {
                credseal_engine::ObjectionStatus::Open if o.overdue(now) => "overdue".into(),
                credseal_engine::ObjectionStatus::Open => "open".into(),
                credseal_engine::ObjectionStatus::Corrected { version } => format!("corrected (version {version})"),
                credseal_engine::ObjectionStatus::Upheld { .. } => "upheld".into(),
                credseal_engine::ObjectionStatus::Deleted { .. } => "deleted".into(),
            },
            overdue: o.overdue(now),
            answered_at: o.answered_at,
        })
        .collect();
    if json {
        print_json("objections", &rows);
        return;
    }
    if rows.is_empty() {
        println!("no objections");
        return;
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.provider.to_string(),
                r.id.clone(),
                r.kind.to_string(),
                r.class.to_string(),
                date(r.filed_at),
                date(r.due),
                r.status.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["provider", "objection", "kind", "class", "filed", "due", "status"],
            &table_rows
        )
    );
}
