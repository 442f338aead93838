//! End-to-end tests of incident response through the real `credseal` binary: staff
//! enrolment, `open --export`, `trace` (CSV, JSON Lines, exports, noisy files, a
//! non-responder), canary subjects and `audit alerts`, `audit report`, and the data
//! directory holding no plaintext after disclosures and traces.

mod common;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_PASSPHRASE").env_remove("CREDSEAL_DATA");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

fn abs(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// The identity records (version 1) of records.jsonl.
fn identities() -> Vec<serde_json::Value> {
    std::fs::read_to_string(abs(RECORDS))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["class"] == "identity" && v["version"] == 1)
        .collect()
}

/// A platform with the example records, an authority, departments `bank-a` (serial 1)
/// and `bank-b` (serial 2) allowed `identity` for `loan-approval`, and responder `resp-1`.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    responder: String,
    files: Cell<u32>,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
        ok(&[
            "init",
            "--data",
            &data,
            "--catalog",
            CATALOG,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
        ]);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ]);
        let fx = Fx {
            dir,
            data,
            auth: String::new(),
            responder: String::new(),
            files: Cell::new(0),
        };
        let auth = fx.path("authority.key");
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&[
            "authority",
            "trust",
            "--data",
            &fx.data,
            "--key",
            &format!("{auth}.pub"),
        ]);
        let responder = fx.path("responder.key");
        ok(&["staff", "keygen", "--unencrypted", "--out", &responder]);
        let o = common::enroll_staff(
            &|a: &[&str]| run(a),
            Path::new(&fx.path(".")),
            &fx.data,
            ORIGIN,
            Some(&auth),
            "responder",
            "resp-1",
            &format!("{responder}.pub"),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let mut fx = fx;
        fx.auth = auth;
        fx.responder = responder;
        // Valid from 40 days ago, so that tests can query in the past (`--now`).
        let not_before =
            (credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap() - 40 * 86_400).to_string();
        for (serial, dept) in [("1", "bank-a"), ("2", "bank-b")] {
            let d = fx.path(dept);
            ok(&["dept", "keygen", "--unencrypted", "--out-dir", &d]);
            ok(&[
                "authority",
                "enroll",
                "--key",
                &fx.auth,
                "--serial",
                serial,
                "--department",
                dept,
                "--name",
                dept,
                "--signing-key",
                &format!("{d}/signing.pub"),
                "--sealing-key",
                &format!("{d}/sealing.pub"),
                "--classes",
                "identity",
                "--purposes",
                "loan-approval",
                "--audience",
                ORIGIN,
                "--not-before",
                &not_before,
                "--out",
                &format!("{d}/credential"),
            ]);
        }
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    /// `dept` queries `subject`'s identity; returns the sealed answer's path.
    fn query(&self, dept: &str, subject: &str) -> (String, Output) {
        self.query_at(dept, subject, None)
    }

    /// The same as of Unix time `at` (test builds' `--now`).
    fn query_at(&self, dept: &str, subject: &str, at: Option<u64>) -> (String, Output) {
        let d = self.path(dept);
        let tok = self.fresh("token");
        let at_s = at.map(|t| t.to_string());
        let mut tok_args = vec![
            "dept",
            "query",
            "--key",
            "",
            "--credential",
            "",
            "--subject",
            subject,
            "--classes",
            "identity",
            "--purpose",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &tok,
        ];
        let key = format!("{d}/signing.key");
        let cred = format!("{d}/credential");
        tok_args[3] = &key;
        tok_args[5] = &cred;
        if let Some(t) = &at_s {
            tok_args.extend(["--issued-at", t]);
        }
        ok(&tok_args);
        let ans = self.fresh("answer");
        let mut args = vec![
            "query",
            "--data",
            &self.data,
            "--credential",
            &cred,
            "--token",
            &tok,
            "--out",
            &ans,
        ];
        if let Some(t) = &at_s {
            args.extend(["--now", t]);
        }
        let o = ok(&args);
        // `open` names the token the answer answers.
        std::fs::copy(&tok, format!("{ans}.token")).unwrap();
        (ans, o)
    }

    /// `dept` opens an answer with `--export` to a new file with extension `ext`.
    fn export(&self, dept: &str, answer: &str, ext: &str) -> String {
        let out = format!("{}.{ext}", self.fresh("export"));
        let d = self.path(dept);
        let log_key = format!("{}.log-key", self.fresh("log-key"));
        std::fs::write(&log_key, ok(&["log", "key", "--data", &self.data, "--current"]).stdout).unwrap();
        let o = ok(&[
            "open",
            "--key",
            &format!("{d}/sealing.key"),
            "--log-key",
            &log_key,
            "--token",
            &format!("{answer}.token"),
            answer,
            "--export",
            &out,
        ]);
        assert!(stdout(&o).contains("exported"), "{}", stdout(&o));
        out
    }

    fn trace(&self, key: &str, file: &str) -> Output {
        run(&["trace", "--data", &self.data, "--key", key, file, "--json"])
    }
}

#[test]
fn trace_names_the_department_whose_csv_export_leaked() {
    let fx = Fx::new();
    let ids = identities();
    let (a1, _) = fx.query("bank-a", ids[0]["subject"].as_str().unwrap());
    let (_a2, _) = fx.query("bank-a", ids[1]["subject"].as_str().unwrap());
    let (b1, _) = fx.query("bank-b", ids[0]["subject"].as_str().unwrap());
    let (b2, _) = fx.query("bank-b", ids[2]["subject"].as_str().unwrap());
    let _ = b1;
    // bank-b's export of subject 2 leaks; as exported it carries the mark.
    let leaked = fx.export("bank-b", &b2, "csv");
    let text = std::fs::read_to_string(&leaked).unwrap();
    assert!(
        text.starts_with("# credseal-export format=1 origin=test.credseal.invalid/log disclosure="),
        "{text}"
    );
    let o = fx.trace(&fx.responder, &leaked);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["format"], "csv-export");
    assert_eq!(r["export_mark"]["disclosure"]["department"], "bank-b");
    assert_eq!(r["departments"][0]["department"], "bank-b");
    assert_eq!(r["departments"].as_array().unwrap().len(), 1);
    assert_eq!(r["matched_items"], r["items"]);
    // The same rows with the mark line removed and values reformatted still trace to it.
    let body: Vec<&str> = text.lines().skip(1).collect();
    let stripped = fx.fresh("stripped") + ".csv";
    std::fs::write(&stripped, body.join("\r\n").to_uppercase()).unwrap();
    let r = json(&ok(&[
        "trace",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        &stripped,
        "--json",
    ]));
    assert_eq!(r["format"], "csv");
    assert!(r["export_mark"].is_null());
    assert_eq!(r["departments"][0]["department"], "bank-b");
    // A JSON export of bank-a's first answer: the mark names disclosure and department.
    let leaked = fx.export("bank-a", &a1, "json");
    let o = fx.trace(&fx.responder, &leaked);
    let r = json(&o);
    assert_eq!(r["format"], "json-export");
    assert_eq!(r["export_mark"]["disclosure"]["department"], "bank-a");
    // Subject 0 was disclosed to both banks: both explain every item, bank-a is named by the mark.
    let depts: Vec<&str> = r["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["department"].as_str().unwrap())
        .collect();
    assert_eq!(depts, ["bank-a", "bank-b"]);
    // The human table names the department and the trace's own receipt.
    let o = ok(&["trace", "--data", &fx.data, "--key", &fx.responder, &leaked]);
    let out = stdout(&o);
    assert!(
        out.contains("export mark: disclosure") && out.contains("bank-a"),
        "{out}"
    );
    assert!(out.contains("this trace is receipt"), "{out}");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn trace_by_a_non_responder_exits_3_and_noisy_files_are_reported() {
    let fx = Fx::new();
    let ids = identities();
    let s0 = ids[0]["subject"].as_str().unwrap();
    fx.query("bank-a", s0);
    let name = ids[0]["fields"]["name"].as_str().unwrap();
    let leak = fx.fresh("leak") + ".jsonl";
    std::fs::write(
        &leak,
        format!(
            "{{\"subject\":\"{s0}\",\"name\":\"{name}\"}}\n{{oops\n{{\"subject\":\"11010519491231002X\",\"name\":\"{name}\",\"favourite_colour\":\"red\"}}\n"
        ),
    )
    .unwrap();
    // A key that is not enrolled.
    let stranger = fx.path("stranger.key");
    ok(&["staff", "keygen", "--unencrypted", "--out", &stranger]);
    let o = fx.trace(&stranger, &leak);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("not enrolled as a responder"), "{}", stderr(&o));
    // With --json: the error document only, nothing of the trace.
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "credseal/error/v1", "{v}");
    assert_eq!(v["exit_code"], 3, "{v}");
    assert!(!stderr(&o).contains(name));
    // An officer is not a responder either.
    let o = common::enroll_staff(
        &|a: &[&str]| run(a),
        Path::new(&fx.path(".")),
        &fx.data,
        ORIGIN,
        Some(&fx.auth),
        "officer",
        "off-1",
        &format!("{stranger}.pub"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(code(&fx.trace(&stranger, &leak)), 3);
    // The responder: the malformed line and the unknown column are reported, the unknown
    // subject is unmatched, the rest is traced.
    let o = fx.trace(&fx.responder, &leak);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["items"], 2);
    assert_eq!(r["matched_items"], 1);
    assert_eq!(r["unmatched_subjects"], 1);
    assert_eq!(r["issues"][0]["line"], 2);
    assert_eq!(r["unknown_columns"][0], "favourite_colour");
    assert_eq!(r["departments"][0]["department"], "bank-a");
    assert!(!stdout(&o).contains(name));
    // Nothing readable: exit 2 with a message naming counts only.
    let bad = fx.fresh("bad") + ".csv";
    std::fs::write(&bad, "subject,name\nnot-an-id,x\n").unwrap();
    let o = fx.trace(&fx.responder, &bad);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no readable"), "{}", stderr(&o));
}

#[test]
fn no_plaintext_in_the_data_directory_after_disclosures_and_traces() {
    let fx = Fx::new();
    let ids = identities();
    let mut leaked = Vec::new();
    for (i, v) in ids.iter().take(6).enumerate() {
        let dept = if i % 2 == 0 { "bank-a" } else { "bank-b" };
        let (ans, _) = fx.query(dept, v["subject"].as_str().unwrap());
        leaked.push(fx.export(dept, &ans, "csv"));
    }
    for f in &leaked[..2] {
        assert_eq!(code(&fx.trace(&fx.responder, f)), 0);
    }
    let o = ok(&["check", "--data", &fx.data, "--json"]);
    let c = json(&o);
    assert!(c["fingerprints"].as_u64().unwrap() >= 6 * 5, "{c}");
    let catalog = std::fs::read_to_string(abs(CATALOG)).unwrap();
    let needles = common::plaintext_needles(&std::fs::read_to_string(abs(RECORDS)).unwrap(), &catalog);
    let scanned = common::assert_no_plaintext(Path::new(&fx.data), &needles);
    assert!(scanned > 10_000, "scanned {scanned} bytes");
    // The exports (outside the data directory) do hold the values: the scan can fail.
    let export = std::fs::read(&leaked[0]).unwrap();
    assert!(needles.iter().any(|n| export.windows(n.len()).any(|w| w == &n[..])));
}

#[test]
fn canary_query_alerts_on_stderr_and_in_audit_alerts() {
    let fx = Fx::new();
    let officer = fx.path("officer.key");
    ok(&["staff", "keygen", "--unencrypted", "--out", &officer]);
    let o = common::enroll_staff(
        &|a: &[&str]| run(a),
        Path::new(&fx.path(".")),
        &fx.data,
        ORIGIN,
        Some(&fx.auth),
        "officer",
        "off-1",
        &format!("{officer}.pub"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A responder cannot plant canaries.
    let o = run(&[
        "canary",
        "plant",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        "--count",
        "1",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let ids = fx.path("canary-ids");
    let o = ok(&[
        "canary",
        "plant",
        "--data",
        &fx.data,
        "--key",
        &officer,
        "--count",
        "2",
        "--ids-out",
        &ids,
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(r["planted"], 2);
    assert!(r.get("subjects").is_none(), "ids only go to --ids-out");
    let canaries: Vec<String> = std::fs::read_to_string(&ids)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(canaries.len(), 2);
    // A query of a real subject: no alert. Of a canary: granted, with an alert on stderr.
    let real = identities()[0]["subject"].as_str().unwrap().to_string();
    let (_, o) = fx.query("bank-a", &real);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let (_, o) = fx.query("bank-b", &canaries[1]);
    let e = stderr(&o);
    assert!(e.contains("credseal: ALERT:") && e.contains("bank-b"), "{e}");
    assert!(!e.contains(&canaries[1]), "the alert names no subject");
    let o = ok(&["audit", "alerts", "--data", &fx.data, "--key", &fx.responder, "--json"]);
    let alerts = json(&o);
    let alerts = alerts["items"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["department"], "bank-b");
    assert_eq!(alerts[0]["outcome"], "granted");
    let o = ok(&["audit", "alerts", "--data", &fx.data, "--key", &fx.responder]);
    assert!(stdout(&o).contains("bank-b"));
    let o = run(&["audit", "alerts", "--data", &fx.data, "--key", &officer]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // The check still passes: canary answers are fingerprinted like any other.
    ok(&["check", "--data", &fx.data]);
}

#[test]
fn audit_report_flags_ten_times_the_baseline_through_the_cli() {
    let fx = Fx::new();
    let subjects: Vec<String> = identities()
        .iter()
        .map(|v| v["subject"].as_str().unwrap().to_string())
        .collect();
    // The simulated days lie ahead: a subject's receipts never go back in time, and the
    // subjects' ingest receipts are dated now.
    let day0 = credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap() / 86_400 * 86_400 + 86_400;
    // bank-a: one query a day for 8 days, then 10 in one day; bank-b: one a day throughout.
    for day in 0..9u64 {
        let at = day0 + day * 86_400 + 3600;
        fx.query_at("bank-b", &subjects[(day as usize) % subjects.len()], Some(at));
        let n = if day == 8 { 10 } else { 1 };
        for q in 0..n {
            fx.query_at(
                "bank-a",
                &subjects[(q as usize + 10) % subjects.len()],
                Some(at + 60 * q),
            );
        }
    }
    let (from, to) = (day_str(day0), day_str(day0 + 8 * 86_400));
    let now = (day0 + 9 * 86_400).to_string();
    let o = ok(&[
        "audit",
        "report",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        "--from",
        &from,
        "--to",
        &to,
        "--json",
        "--now",
        &now,
    ]);
    let r = json(&o);
    let depts = r["departments"].as_array().unwrap();
    let a = depts.iter().find(|d| d["department"] == "bank-a").unwrap();
    let b = depts.iter().find(|d| d["department"] == "bank-b").unwrap();
    assert_eq!(a["queries"], 18);
    assert_eq!(a["flags"].as_array().unwrap().len(), 1, "{a}");
    assert_eq!(a["flags"][0]["kind"], "volume-spike");
    assert_eq!(a["flags"][0]["date"], to.as_str());
    assert!(b["flags"].as_array().unwrap().is_empty(), "{b}");
    // The table on a terminal-less stdout, one department.
    let o = ok(&[
        "audit",
        "report",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        "--dept",
        "bank-a",
        "--from",
        &from,
        "--to",
        &to,
        "--now",
        &now,
    ]);
    assert!(stdout(&o).contains("FLAG volume-spike"), "{}", stdout(&o));
    // Bad dates are usage errors; a non-responder is denied.
    let o = run(&[
        "audit",
        "report",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        "--from",
        "2024/1/1",
        "--to",
        &to,
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let stranger = fx.path("stranger.key");
    ok(&["staff", "keygen", "--unencrypted", "--out", &stranger]);
    let o = run(&[
        "audit", "report", "--data", &fx.data, "--key", &stranger, "--from", &from, "--to", &to,
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

fn day_str(t: u64) -> String {
    credseal_core::Date::from_unix(t).unwrap().to_string()
}
