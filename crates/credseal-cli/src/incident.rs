//! Incident response (DESIGN §9) and the security officers' keys: staff keys and enrolment
//! (`officer` for officers, `staff` for responders and for either role), `trace`, canary
//! subjects and the access review. Every platform-side command here is a staff request signed with the
//! enrolled key given by `--key`; the platform refuses it (exit 3) when the key is not
//! enrolled for the role.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use credseal_auth::{PublicKey, SigningKey, StaffRequest, sign};
use credseal_engine::{ErrorClass, Platform, StaffRole, TraceReport, fsutil};

use crate::output::table;
use crate::receipts::date;
use crate::{CliResult, Failure};

/// `officer` commands: a security officer's key, its enrolment, and its approvals of
/// destructive operations. The same as `staff keygen`, `staff enroll --role officer` and
/// `staff approve`.
#[derive(Subcommand, Debug)]
pub enum OfficerCommand {
    /// Generate an officer's signing key (FILE, mode 0600) and public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Enrol an officer's public key on the platform (platform side, by the operator).
    Enroll {
        #[command(flatten)]
        data: crate::DataArg,
        /// The officer's id, e.g. `off-wang` (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        id: String,
        /// Their public key (FILE.pub from `officer keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Re-enrol a key already enrolled under another id.
        #[arg(long)]
        replace: bool,
    },
    /// Approve one destructive operation (retire, re-key, shred, log key rotation): writes a
    /// signed approval FILE. Two different officers' approvals are needed.
    Approve {
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operation exactly as the command that needs it prints it, e.g. "retire loans v1".
        #[arg(long)]
        operation: String,
        /// The platform's log origin.
        #[arg(long)]
        audience: String,
        /// Minutes the approval stays valid.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1440))]
        valid_mins: u64,
        /// Where to write the approval (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `staff` commands.
#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Generate a responder's or officer's signing key (FILE, mode 0600) and public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Enrol a staff member's public key on the platform for one role (platform side).
    Enroll {
        #[command(flatten)]
        data: crate::DataArg,
        /// `responder` (trace, audit) or `officer` (canary subjects).
        #[arg(long, value_parser = ["responder", "officer"])]
        role: String,
        /// The staff member's id, e.g. `resp-li` (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        id: String,
        /// Their public key (FILE.pub from `staff keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Re-enrol a key already enrolled under another id.
        #[arg(long)]
        replace: bool,
    },
    /// An officer approves one destructive operation: the same as `officer approve`.
    Approve {
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operation exactly as the command that needs it prints it, e.g. "retire loans v1".
        #[arg(long)]
        operation: String,
        /// The platform's log origin.
        #[arg(long)]
        audience: String,
        /// Minutes the approval stays valid.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1440))]
        valid_mins: u64,
        /// Where to write the approval (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `credseal trace`.
#[derive(Args, Debug)]
pub struct TraceArgs {
    #[command(flatten)]
    data: crate::DataArg,
    /// The responder's enrolled signing key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The leaked material: JSON Lines, CSV, or a file written by `open --export`.
    file: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Evaluate as of this Unix time (test builds only).
    #[arg(long, hide = true)]
    now: Option<u64>,
}

pub(crate) fn now_arg(now: Option<u64>) -> CliResult<u64> {
    if now.is_some() && !cfg!(debug_assertions) {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--now is only available in test builds",
        ));
    }
    match now {
        Some(n) => Ok(n),
        None => crate::now(),
    }
}

fn staff_key(path: &Path) -> CliResult<SigningKey> {
    if fsutil::too_open(path) {
        eprintln!(
            "credseal: warning: {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
    SigningKey::from_text(&crate::read_text(path)?)
        .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", path.display())))
}

/// A staff request for `action` on the input with SHA-256 `digest`, valid five minutes.
pub(crate) fn staff_request(
    key: &SigningKey,
    role: StaffRole,
    action: &str,
    digest: [u8; 32],
    audience: &str,
    now: u64,
) -> String {
    sign(
        &StaffRequest {
            request_id: credseal_crypto::random_array(),
            role: role.label().into(),
            staff_key: key.public(),
            action: action.into(),
            input_digest: digest,
            issued_at: now,
            expires_at: now + 300,
            audience: audience.into(),
        },
        key,
    )
    .to_text()
}

/// `officer …`: the officer's forms of the `staff` commands.
pub fn officer(cmd: OfficerCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    staff(
        match cmd {
            OfficerCommand::Keygen { out } => StaffCommand::Keygen { out },
            OfficerCommand::Enroll { data, id, key, replace } => StaffCommand::Enroll {
                data,
                role: StaffRole::Officer.label().into(),
                id,
                key,
                replace,
            },
            OfficerCommand::Approve {
                key,
                operation,
                audience,
                valid_mins,
                out,
            } => StaffCommand::Approve {
                key,
                operation,
                audience,
                valid_mins,
                out,
            },
        },
        demo,
        pf,
    )
}

pub fn staff(cmd: StaffCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        StaffCommand::Approve {
            key,
            operation,
            audience,
            valid_mins,
            out,
        } => {
            let sk = staff_key(&key)?;
            let now = crate::now()?;
            let text = sign(
                &StaffRequest {
                    request_id: credseal_crypto::random_array(),
                    role: StaffRole::Officer.label().into(),
                    staff_key: sk.public(),
                    action: credseal_engine::APPROVE_ACTION.into(),
                    input_digest: credseal_crypto::sha256(operation.as_bytes()),
                    issued_at: now,
                    expires_at: now + valid_mins * 60,
                    audience,
                },
                &sk,
            )
            .to_text();
            crate::roles::write_public(&out, &text)?;
            println!("approval of {operation:?} written to {}", out.display());
            Ok(())
        }
        StaffCommand::Keygen { out } => {
            let sk = SigningKey::generate();
            crate::roles::write_secret(&out, &sk.to_text())?;
            let mut pubp = out.as_os_str().to_os_string();
            pubp.push(".pub");
            crate::roles::write_public(Path::new(&pubp), &sk.public().to_text())?;
            println!("{}", sk.public().to_text());
            Ok(())
        }
        StaffCommand::Enroll {
            data,
            role,
            id,
            key,
            replace,
        } => {
            // Cannot fail: clap accepted only the values StaffRole::parse knows.
            let role = StaffRole::parse(&role).expect("clap checked the value");
            let pk = PublicKey::from_text(&crate::read_text(&key)?)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", key.display())))?;
            let p = crate::open_platform(demo, pf, &data.data)?;
            p.enroll_staff(role, &id, pk.as_bytes(), replace)?;
            println!("enrolled {id} as {} with key {}", role.label(), pk.to_hex());
            Ok(())
        }
    }
}

pub fn trace(a: TraceArgs, demo: bool, pf: Option<&Path>) -> CliResult {
    let key = staff_key(&a.key)?;
    let leak =
        std::fs::read(&a.file).map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", a.file.display())))?;
    let now = now_arg(a.now)?;
    let p: Platform = crate::open_platform(demo, pf, &a.data.data)?;
    let req = staff_request(
        &key,
        StaffRole::Responder,
        "trace",
        credseal_crypto::sha256(&leak),
        p.origin(),
        now,
    );
    let r = p.trace(&req, &leak, now)?;
    print_trace(&r, a.json);
    Ok(())
}

fn print_trace(r: &TraceReport, json: bool) {
    if json {
        crate::output::print_json(r);
        return;
    }
    println!(
        "leak ({}): {} rows, {} items: {} matched, {} unmatched; {} subjects, {} unmatched",
        r.format, r.rows, r.items, r.matched_items, r.unmatched_items, r.subjects, r.unmatched_subjects
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
        print!("{}", table(&["rank", "department", "items", "disclosures"], &rows));
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

/// `canary` commands (security officers).
#[derive(Subcommand, Debug)]
pub enum CanaryCommand {
    /// Plant synthetic subjects whose every query is flagged and alerted (officer key).
    Plant {
        #[command(flatten)]
        data: crate::DataArg,
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// How many canary subjects to plant.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(credseal_engine::MAX_PLANT)))]
        count: u32,
        /// Also write the planted ids to FILE (mode 0600) for the officer; by default they
        /// are shown nowhere.
        #[arg(long, value_name = "FILE")]
        ids_out: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Evaluate as of this Unix time (test builds only).
        #[arg(long, hide = true)]
        now: Option<u64>,
    },
}

/// `audit` commands (responders).
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Every query that touched a canary subject.
    Alerts {
        #[command(flatten)]
        data: crate::DataArg,
        /// The responder's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Per department and period: queries by purpose, class, outcome, subjects, denials;
    /// days far above the department's own baseline, denial spikes and bulk querying.
    Report {
        #[command(flatten)]
        data: crate::DataArg,
        /// The responder's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Only this department (default: every department with queries in the period).
        #[arg(long)]
        dept: Option<String>,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (UTC), inclusive.
        #[arg(long)]
        to: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Evaluate as of this Unix time (test builds only).
        #[arg(long, hide = true)]
        now: Option<u64>,
    },
}

pub fn canary(cmd: CanaryCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    let CanaryCommand::Plant {
        data,
        key,
        count,
        ids_out,
        json,
        now,
    } = cmd;
    let key = staff_key(&key)?;
    let now = now_arg(now)?;
    if let Some(f) = &ids_out
        && f.exists()
    {
        return Err(Failure::new(
            ErrorClass::Usage,
            format!("{} exists; refusing to overwrite it", f.display()),
        ));
    }
    let p = crate::open_platform(demo, pf, &data.data)?;
    let digest = credseal_crypto::sha256(format!("count={count}").as_bytes());
    let req = staff_request(&key, StaffRole::Officer, "canary-plant", digest, p.origin(), now);
    let r = p.plant_canaries(&req, count, now)?;
    if let Some(f) = &ids_out {
        let ids: Vec<&str> = r.subjects.iter().map(|s| s.as_str()).collect();
        fsutil::write_new(f, format!("{}\n", ids.join("\n")).as_bytes(), 0o600)?;
    }
    if json {
        crate::output::print_json(&r);
    } else {
        println!(
            "planted {} canary subject(s) ({} records); {} on the platform; receipt {}",
            r.planted, r.records, r.total, r.receipt
        );
    }
    Ok(())
}

pub fn audit(cmd: AuditCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        AuditCommand::Alerts { data, key, json } => {
            let key = staff_key(&key)?;
            let now = crate::now()?;
            let p = crate::open_platform(demo, pf, &data.data)?;
            let req = staff_request(
                &key,
                StaffRole::Responder,
                "audit-alerts",
                credseal_crypto::sha256(b""),
                p.origin(),
                now,
            );
            let alerts = p.canary_alerts(&req, now)?;
            if json {
                crate::output::print_json(&alerts);
                return Ok(());
            }
            if alerts.is_empty() {
                println!("no query has touched a canary subject");
                return Ok(());
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
            Ok(())
        }
        AuditCommand::Report {
            data,
            key,
            dept,
            from,
            to,
            json,
            now,
        } => {
            let day = |s: &str, flag: &str| {
                credseal_core::Date::parse(s.trim())
                    .map_err(|_| Failure::new(ErrorClass::Usage, format!("{flag}: expected a date written YYYY-MM-DD")))
            };
            let (from, to) = (day(&from, "--from")?, day(&to, "--to")?);
            let key = staff_key(&key)?;
            let now = now_arg(now)?;
            let p = crate::open_platform(demo, pf, &data.data)?;
            let params = Platform::report_params(dept.as_deref(), from, to);
            let req = staff_request(
                &key,
                StaffRole::Responder,
                "audit-report",
                credseal_crypto::sha256(params.as_bytes()),
                p.origin(),
                now,
            );
            let r = p.audit_report(&req, dept.as_deref(), from, to, now)?;
            if json {
                crate::output::print_json(&r);
                return Ok(());
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
            Ok(())
        }
    }
}
