//! Keys: the status table (`keys status`), and what `keys rotate|rewrap|retire|rekey|log-rotate|retention-policy`
//! and `shred` did.

use credseal_engine::{ClassKeyStatus, LogKeyStatus, LogRotation, PolicySweep, RetentionPolicy, ShredSummary};
use serde::Serialize;

use super::{done, print_json, table};

/// One KEK version of a class.
#[derive(Debug, Serialize)]
struct VersionJson {
    version: u32,
    primary: bool,
    created: u64,
    data_keys: u64,
}

/// The KEK versions of one class.
#[derive(Debug, Serialize)]
struct ClassJson {
    class: String,
    versions: Vec<VersionJson>,
}

impl From<&ClassKeyStatus> for ClassJson {
    fn from(c: &ClassKeyStatus) -> Self {
        Self {
            class: c.class.clone(),
            versions: c
                .versions
                .iter()
                .map(|v| VersionJson {
                    version: v.version,
                    primary: v.primary,
                    created: v.created,
                    data_keys: v.data_keys,
                })
                .collect(),
        }
    }
}

/// One log key and the receipts it signs (`keys status`).
#[derive(Debug, Serialize)]
struct LogKeyJson {
    key_id: String,
    vkey: String,
    from: u64,
    until: Option<u64>,
    current: bool,
}

impl From<&LogKeyStatus> for LogKeyJson {
    fn from(k: &LogKeyStatus) -> Self {
        Self {
            key_id: k.key_id.clone(),
            vkey: k.vkey.clone(),
            from: k.from,
            until: k.until,
            current: k.current,
        }
    }
}

/// `keys status --json`.
#[derive(Debug, Serialize)]
struct KeyStatusJson {
    classes: Vec<ClassJson>,
    log_keys: Vec<LogKeyJson>,
}

/// `keys status`: class → KEK versions and data keys; the log keys.
pub(crate) fn key_status(st: &[ClassKeyStatus], log: &[LogKeyStatus], json: bool) {
    if json {
        print_json(
            "key-status",
            &KeyStatusJson {
                classes: st.iter().map(ClassJson::from).collect(),
                log_keys: log.iter().map(LogKeyJson::from).collect(),
            },
        );
        return;
    }
    print!("{}", class_key_table(st));
    let rows: Vec<Vec<String>> = log
        .iter()
        .map(|k| {
            vec![
                k.key_id.clone(),
                match k.until {
                    Some(u) if u > k.from => format!("{} to {}", k.from, u - 1),
                    Some(_) => "none".into(),
                    None => format!("{} on", k.from),
                },
                if k.current {
                    "current".into()
                } else if k.from == 0 {
                    "original, retired".into()
                } else {
                    "retired".into()
                },
            ]
        })
        .collect();
    println!();
    print!("{}", table(&["log key", "receipts signed", "status"], &rows));
}

/// The table of class KEK versions (`keys status`, the demo).
pub(crate) fn class_key_table(st: &[ClassKeyStatus]) -> String {
    let mut rows = Vec::new();
    for c in st {
        for v in &c.versions {
            rows.push(vec![
                c.class.clone(),
                format!("v{}", v.version),
                if v.primary { "primary".into() } else { String::new() },
                v.data_keys.to_string(),
            ]);
        }
    }
    table(&["class", "version", "status", "data keys"], &rows)
}

/// `keys log-rotate --json`.
#[derive(Debug, Serialize)]
struct LogRotationJson<'a> {
    from_size: u64,
    old_vkey: &'a str,
    new_vkey: &'a str,
    handover: &'a str,
    officers: &'a [String],
}

/// What `keys log-rotate` did.
pub(crate) fn log_rotation(r: &LogRotation, json: bool) {
    let id = |vkey: &str| vkey.split('+').nth(1).unwrap_or_default().to_string();
    done(
        json,
        "log-key-rotation",
        &LogRotationJson {
            from_size: r.from_size,
            old_vkey: &r.old_vkey,
            new_vkey: &r.new_vkey,
            handover: &r.handover,
            officers: &r.officers,
        },
        &format!(
            "log key {} retired and destroyed; {} signs from tree size {} (approved by {})
                     subjects and auditors keep the original key (`credseal log key`): every bundle carries the signed handover
                     the new key, for plain C2SP tools checking new checkpoints (`credseal log key --current`):
{}",
            id(&r.old_vkey),
            id(&r.new_vkey),
            r.from_size,
            r.officers.join(", "),
            r.new_vkey
        ),
    );
}

/// `keys rotate --json`.
#[derive(Debug, Serialize)]
struct RotatedJson<'a> {
    class: &'a str,
    primary: u32,
}

/// What `keys rotate` did.
pub(crate) fn rotated(class: &str, v: u32, json: bool) {
    done(
        json,
        "key-rotation",
        &RotatedJson { class, primary: v },
        &format!("{class}: KEK v{v} is now primary; run `credseal keys rewrap` to move older data keys to it"),
    );
}

/// `keys rewrap --json`: per class (class, from version, to version, data keys).
#[derive(Debug, Serialize)]
struct RewrapJson<'a> {
    subjects: u64,
    rewrapped: u64,
    moves: &'a [(String, u32, u32, u64)],
}

/// What `keys rewrap` did: `subjects` read, data keys `rewrapped`, and per class (class,
/// from version, to version, data keys).
pub(crate) fn rewrap(subjects: u64, rewrapped: u64, moves: &[(String, u32, u32, u64)], json: bool) {
    let text = if moves.is_empty() {
        format!("nothing to rewrap: every data key of {subjects} subject(s) is under its class's primary KEK")
    } else {
        moves
            .iter()
            .map(|(c, f, t, n)| format!("{c}: {n} data key(s) v{f} -> v{t}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    done(
        json,
        "rewrap",
        &RewrapJson {
            subjects,
            rewrapped,
            moves,
        },
        &text,
    );
}

/// `keys retire --json`.
#[derive(Debug, Serialize)]
struct RetiredJson<'a> {
    class: &'a str,
    retired: u32,
}

/// What `keys retire` did.
pub(crate) fn retired(class: &str, version: u32, json: bool) {
    done(
        json,
        "key-retirement",
        &RetiredJson {
            class,
            retired: version,
        },
        &format!("{class}: KEK v{version} destroyed"),
    );
}

/// `keys rekey --json`.
#[derive(Debug, Serialize)]
struct RekeyedJson<'a> {
    class: &'a str,
    records: u64,
}

/// What `keys rekey` did.
pub(crate) fn rekeyed(class: &str, n: u64, json: bool) {
    done(
        json,
        "rekey",
        &RekeyedJson { class, records: n },
        &format!("{class}: new data key, {n} record(s) re-encrypted"),
    );
}

/// A retention policy in `--json` documents.
#[derive(Debug, Serialize)]
struct PolicyJson<'a> {
    /// The operation its officers approved (`retention sweep every 1d`).
    operation: String,
    every_secs: u64,
    installed_at: u64,
    approved_by: &'a [String],
}

impl<'a> From<&'a RetentionPolicy> for PolicyJson<'a> {
    fn from(p: &'a RetentionPolicy) -> Self {
        Self {
            operation: p.operation().text().to_string(),
            every_secs: p.every_secs,
            installed_at: p.installed_at,
            approved_by: &p.approved_by,
        }
    }
}

/// `keys retention-policy --json`.
#[derive(Debug, Serialize)]
struct RetentionPolicyJson<'a> {
    /// `installed`, `withdrawn`, or null (`--show`).
    change: Option<&'a str>,
    /// The policy installed, withdrawn, or in force (`--show`; null: none).
    policy: Option<PolicyJson<'a>>,
}

/// What `keys retention-policy` did (`change`: `installed`, `withdrawn`; `None`: `--show`).
pub(crate) fn retention_policy(policy: Option<&RetentionPolicy>, change: Option<&str>, json: bool) {
    let text = match (policy, change) {
        (None, _) => {
            "no retention policy is installed: every retention sweep needs two officers' approvals".to_string()
        }
        (Some(p), Some("withdrawn")) => format!(
            "withdrawn: {}\nevery retention sweep needs two officers' approvals again",
            p.describe()
        ),
        (Some(p), _) => format!(
            "{}{}\n`credseal serve` sweeps every {}; `credseal shred --expired` runs without approvals",
            if change.is_some() { "installed: " } else { "" },
            p.describe(),
            credseal_engine::interval_text(p.every_secs)
        ),
    };
    done(
        json,
        "retention-policy",
        &RetentionPolicyJson {
            change,
            policy: policy.map(PolicyJson::from),
        },
        &text,
    );
}

/// `shred --json`: per class (class, KEK versions retired, new primary).
#[derive(Debug, Serialize)]
struct ShredJson<'a> {
    records: u64,
    subjects: u64,
    classes: &'a [(String, Vec<u32>, u32)],
    /// The retention policy a sweep without approvals ran under (null: approved by officers).
    policy: Option<PolicyJson<'a>>,
    /// That run's receipt (log index), null otherwise.
    receipt: Option<u64>,
}

/// What `shred` did (`run`: a sweep under the standing retention policy).
pub(crate) fn shred(s: &ShredSummary, run: Option<&PolicySweep>, json: bool) {
    let text = if s.records == 0 {
        "nothing to shred".to_string()
    } else {
        let classes: Vec<String> = s
            .classes
            .iter()
            .map(|(c, retired, new)| {
                let r: Vec<String> = retired.iter().map(|v| format!("v{v}")).collect();
                format!("{c}: KEK {} destroyed, v{new} primary", r.join(","))
            })
            .collect();
        format!(
            "{} record(s) of {} subject(s) destroyed\n{}",
            s.records,
            s.subjects,
            classes.join("\n")
        )
    };
    let text = match run {
        Some(r) => format!(
            "{text}\nretention sweep as of {} under {} (receipt {})",
            r.today,
            r.policy.describe(),
            r.receipt
        ),
        None => text,
    };
    done(
        json,
        "shred",
        &ShredJson {
            records: s.records,
            subjects: s.subjects,
            classes: &s.classes,
            policy: run.map(|r| PolicyJson::from(&r.policy)),
            receipt: run.map(|r| r.receipt),
        },
        &text,
    );
}
