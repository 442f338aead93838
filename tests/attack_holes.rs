//! Attacks on four smaller holes, each performed through the real `credseal` binary as a
//! user would run it, each shown to fail now:
//!
//! - a department learns which subjects are canaries from the receipt inside its answer
//!   ([`canary_flag_not_in_department_receipt`]);
//! - a department gets its denied probes sealed for months by naming a delayed purpose it
//!   does not hold ([`denied_probe_not_sealed`]);
//! - a responder traces a subject's data without the subject finding out
//!   ([`trace_receipted_in_subject_chain`]);
//! - a value destroyed by a credit-repair shred stays testable through its leak-trace
//!   fingerprints ([`shredded_value_not_traceable`]).

mod common;

use std::cell::Cell;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
/// The subject whose receipts are checked (records.jsonl: identity and one loan).
const SUBJECT: &str = "42010619960510907X";
/// Its name in records.jsonl.
const SUBJECT_NAME: &str = "林振华";
/// Another person in records.jsonl.
const OTHER: &str = "610113195010078965";
/// A person with a court judgment (a class that needs no consent), its record, its case
/// number and its name; and another, with a judgment of its own.
const JUDGED: &str = "11010519520206990X";
const JUDGED_RECORD: &str = "JD-2026-000191";
const JUDGED_CASE: &str = "(2026)京0105民初2223号";
const JUDGED_NAME: &str = "王梓涵";
const JUDGED_OTHER: &str = "110108198305300564";
const JUDGED_OTHER_CASE: &str = "(2026)京0108执7195号";

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

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// A platform with the example records; an authority it trusts; responder `resp-1`; the
/// subject's registered key; departments `bank-a` (serial 1: `identity,loans,judgments`
/// for `loan-approval` only) and `bank-b` (serial 2: the same for `law-enforcement`, whose
/// catalogue delay is 180 days).
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    responder: String,
    subj: String,
    vkey: String,
    files: Cell<u32>,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut fx = Fx {
            data: dir.path().join("data").display().to_string(),
            dir,
            auth: String::new(),
            responder: String::new(),
            subj: String::new(),
            vkey: String::new(),
            files: Cell::new(0),
        };
        ok(&[
            "init",
            "--data",
            &fx.data,
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
            &fx.data,
            RECORDS,
        ]);
        fx.auth = fx.path("authority.key");
        ok(&["authority", "keygen", "--unencrypted", "--out", &fx.auth]);
        ok(&[
            "authority",
            "trust",
            "--data",
            &fx.data,
            "--key",
            &format!("{}.pub", fx.auth),
        ]);
        fx.responder = fx.staff("responder", "resp-1");
        fx.subj = fx.path("subject");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &fx.subj]);
        ok(&[
            "subject",
            "register",
            "--data",
            &fx.data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{}/signing.pub", fx.subj),
        ]);
        for (serial, dept, purposes) in [("1", "bank-a", "loan-approval"), ("2", "bank-b", "law-enforcement")] {
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
                "identity,loans,judgments",
                "--purposes",
                purposes,
                "--audience",
                ORIGIN,
                "--out",
                &format!("{d}/credential"),
            ]);
        }
        let vkey = stdout(&ok(&["log", "key", "--data", &fx.data]));
        fx.vkey = fx.fresh("vkey");
        std::fs::write(&fx.vkey, vkey).unwrap();
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A new, unused path in the temporary directory.
    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    /// A staff key enrolled in `role` as `id` (by an authority staff order); returns the
    /// private key's path.
    fn staff(&self, role: &str, id: &str) -> String {
        let key = self.path(&format!("{id}.key"));
        ok(&["staff", "keygen", "--unencrypted", "--out", &key]);
        let o = common::enroll_staff(
            &|a: &[&str]| run(a),
            self.dir.path(),
            &self.data,
            ORIGIN,
            Some(&self.auth),
            role,
            id,
            &format!("{key}.pub"),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        key
    }

    /// `dept` signs a token for `subject`, `classes` and `purpose`, and the platform runs
    /// it; returns the output and the answer file's path (which exists only if granted).
    fn query(&self, dept: &str, subject: &str, classes: &str, purpose: &str) -> (Output, String) {
        let d = self.path(dept);
        let ans = self.fresh("answer");
        // The token sits next to its answer: `open` checks the answer against it.
        let tok = format!("{ans}.token");
        ok(&[
            "dept",
            "query",
            "--key",
            &format!("{d}/signing.key"),
            "--credential",
            &format!("{d}/credential"),
            "--subject",
            subject,
            "--classes",
            classes,
            "--purpose",
            purpose,
            "--audience",
            ORIGIN,
            "--out",
            &tok,
        ]);
        let o = run(&[
            "query",
            "--data",
            &self.data,
            "--credential",
            &format!("{d}/credential"),
            "--token",
            &tok,
            "--out",
            &ans,
        ]);
        (o, ans)
    }

    /// A query that must be granted; returns the output and the answer's path.
    #[track_caller]
    fn granted(&self, dept: &str, subject: &str, classes: &str, purpose: &str) -> (Output, String) {
        let (o, ans) = self.query(dept, subject, classes, purpose);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(Path::new(&ans).exists());
        (o, ans)
    }

    /// The disclosure index of an answer, as `open --export` reads it from the answer's
    /// receipt (the department's own view).
    fn disclosure_of(&self, dept: &str, answer: &str) -> u64 {
        let out = self.fresh("export") + ".json";
        let o = ok(&[
            "open",
            "--key",
            &format!("{}/sealing.key", self.path(dept)),
            "--log-key",
            &self.vkey,
            "--token",
            &format!("{answer}.token"),
            answer,
            "--export",
            &out,
        ]);
        let s = stdout(&o);
        let n = s
            .split("of disclosure ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next());
        n.and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{s}"))
    }

    /// The subject's receipts as `receipts verify --json` shows them (a fresh state each
    /// time): request, export, verify.
    fn subject_receipts(&self) -> Vec<serde_json::Value> {
        let req = self.fresh("request");
        ok(&[
            "receipts",
            "request",
            "--key",
            &format!("{}/signing.key", self.subj),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &req,
        ]);
        let bundle = self.fresh("bundle");
        ok(&[
            "receipts",
            "export",
            "--data",
            &self.data,
            "--request",
            &req,
            "--out",
            &bundle,
        ]);
        let state = self.fresh("state");
        let v = json(&ok(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            &format!("{}/vrf-key.pub", self.data),
            "--subject",
            SUBJECT,
            "--state",
            &state,
            &bundle,
            "--json",
        ]));
        assert_eq!(v["ok"], true, "{v}");
        v["receipts"].as_array().unwrap().clone()
    }

    /// `trace --json` of `leak` (CSV text) by the responder.
    fn trace(&self, leak: &str) -> serde_json::Value {
        let file = self.fresh("leak") + ".csv";
        std::fs::write(&file, leak).unwrap();
        json(&ok(&[
            "trace",
            "--data",
            &self.data,
            "--key",
            &self.responder,
            &file,
            "--json",
        ]))
    }
}

/// The receipt carried inside a sealed answer file, decoded (signature not checked: the
/// department reads what it was given).
fn answer_receipt(answer: &str) -> credseal_log::ReceiptBody {
    let text = std::fs::read_to_string(answer).unwrap();
    let a = credseal_engine::SealedAnswer::from_text(&text).unwrap();
    credseal_log::UnverifiedReceipt::parse(&a.receipt)
        .and_then(|r| r.peek_unverified())
        .unwrap()
        .clone()
}

/// Attack: a department queries a subject and reads the receipt its answer carries; a
/// canary flag there tells it the subject is a canary (so it avoids canaries from then on).
/// Now the receipts of a canary query — granted or denied — carry no mark and look like
/// any other, while the platform's alert and `audit alerts` still name the query.
#[test]
fn canary_flag_not_in_department_receipt() {
    let fx = Fx::new();
    let officer = fx.staff("officer", "off-1");
    let ids = fx.path("canary-ids");
    ok(&[
        "canary",
        "plant",
        "--data",
        &fx.data,
        "--key",
        &officer,
        "--count",
        "1",
        "--ids-out",
        &ids,
    ]);
    let canary = std::fs::read_to_string(&ids).unwrap().trim().to_string();
    // A real subject, then the canary: both granted.
    let (_, real_answer) = fx.granted("bank-a", OTHER, "identity", "loan-approval");
    let (o, canary_answer) = fx.granted("bank-a", &canary, "identity", "loan-approval");
    // The operator's console raises the alert at once.
    assert!(stderr(&o).contains("credseal: ALERT:"), "{}", stderr(&o));
    // What the department holds: the receipt in its answer carries no canary flag; its
    // flags are those of the real subject's receipt (0).
    let real = answer_receipt(&real_answer);
    let hit = answer_receipt(&canary_answer);
    assert_eq!(hit.flags, 0, "the canary flag reached the department");
    assert_eq!(hit.flags, real.flags);
    assert_eq!(hit.flags & credseal_engine::FLAG_CANARY, 0);
    // What it prints when opened says nothing of canaries either.
    let o = ok(&[
        "open",
        "--key",
        &format!("{}/sealing.key", fx.path("bank-a")),
        "--log-key",
        &fx.vkey,
        "--token",
        &format!("{canary_answer}.token"),
        &canary_answer,
        "--json",
    ]);
    assert!(!stdout(&o).to_lowercase().contains("canary"), "{}", stdout(&o));
    let index = fx.disclosure_of("bank-a", &canary_answer);
    assert_eq!(index, hit.index);
    // A denied probe of the canary (a class the credential does not grant): exit 3,
    // nothing released, still an alert.
    let (o, ans) = fx.query("bank-a", &canary, "identity,tax", "loan-approval");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(common::no_result(&o));
    assert!(!Path::new(&ans).exists(), "nothing released");
    assert!(stderr(&o).contains("credseal: ALERT:"), "{}", stderr(&o));
    // Officers' view: `audit alerts` lists both canary queries, and only them.
    let alerts = json(&ok(&[
        "audit",
        "alerts",
        "--data",
        &fx.data,
        "--key",
        &fx.responder,
        "--json",
    ]));
    let alerts = alerts["items"].as_array().unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0]["receipt"].as_u64(), Some(hit.index));
    assert_eq!(alerts[0]["outcome"], "granted");
    assert_eq!(alerts[0]["department"], "bank-a");
    assert_eq!(alerts[1]["outcome"], "denied", "{alerts:?}");
    assert!(
        alerts[1]["denial_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{alerts:?}"
    );
    assert!(alerts[1]["receipt"].as_u64().unwrap() > hit.index);
    assert_ne!(alerts[0]["receipt"].as_u64(), Some(real.index));
    ok(&["check", "--data", &fx.data]);
}

/// Attack: a department whose credential does not grant `law-enforcement` (a purpose whose
/// receipts stay sealed for 180 days) names it anyway, to probe a subject while its denied
/// queries stay sealed in the subject's bundle for months. Now the probe is denied (exit 3,
/// nothing released) and its receipt is in full in the subject's bundle at once; only a
/// granted query under the purpose is sealed.
#[test]
fn denied_probe_not_sealed() {
    let fx = Fx::new();
    let (o, ans) = fx.query("bank-a", SUBJECT, "identity", "law-enforcement");
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("access denied (purpose-not-granted)"),
        "{}",
        stderr(&o)
    );
    assert!(common::no_result(&o));
    assert!(!Path::new(&ans).exists(), "nothing released");
    // A granted query under the purpose (bank-b holds it) stays sealed, as it should.
    fx.granted("bank-b", SUBJECT, "identity", "law-enforcement");
    let receipts = fx.subject_receipts();
    let denied: Vec<_> = receipts
        .iter()
        .filter(|r| r["outcome"] == "denied" && r["denial_code"] == "purpose-not-granted")
        .collect();
    assert_eq!(denied.len(), 1, "the probe is shown in full: {receipts:?}");
    let probe = denied[0];
    assert!(probe["sealed_until"].is_null(), "{probe}");
    assert_eq!(probe["purpose"], "law-enforcement");
    assert_eq!(
        probe["actor"],
        serde_json::json!({ "kind": "department", "id": "bank-a", "credential_serial": 1 })
    );
    let sealed: Vec<_> = receipts.iter().filter(|r| !r["sealed_until"].is_null()).collect();
    assert_eq!(sealed.len(), 1, "only the grant is sealed: {receipts:?}");
    assert!(sealed[0]["index"].as_u64() > probe["index"].as_u64());
}

/// Attack: a responder tests a subject's data against the disclosures (`trace`) and the
/// subject never finds out. Now the trace leaves a receipt in the chain of each subject
/// whose disclosures it matched, and the subject's bundle shows it; a subject in the leak
/// whose data matched nothing gets none.
#[test]
fn trace_receipted_in_subject_chain() {
    let fx = Fx::new();
    let (_, _) = fx.granted("bank-a", SUBJECT, "identity", "loan-approval");
    let before: Vec<u64> = fx
        .subject_receipts()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    let r = fx.trace(&format!(
        "subject,identity.name\n{SUBJECT},{SUBJECT_NAME}\n{OTHER},not a leaked name\n"
    ));
    assert_eq!(r["matched_items"], 1, "{r}");
    assert_eq!(r["departments"][0]["department"], "bank-a", "{r}");
    let trace_receipt = r["receipt"].as_u64().unwrap();
    let after = fx.subject_receipts();
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    let t = after.last().unwrap();
    assert_eq!(t["action"], "trace", "{t}");
    assert_eq!(
        t["actor"],
        serde_json::json!({ "kind": "responder", "id": "resp-1", "credential_serial": null }),
        "{t}"
    );
    assert!(t["sealed_until"].is_null(), "{t}");
    assert_eq!(t["classes"], serde_json::json!(["identity"]), "{t}");
    // The count of matched items only: how many disclosures matched would also count
    // disclosures still sealed from the subject.
    assert_eq!(
        t["detail"], "leak trace: 1 item(s) about this subject matched released data",
        "{t}"
    );
    // In the same commit as the trace's own receipt, right after it.
    assert_eq!(t["index"].as_u64(), Some(trace_receipt + 1), "{t}");
    // The receipt names no value.
    assert!(!t.to_string().contains(SUBJECT_NAME), "{t}");
    ok(&["check", "--data", &fx.data]);
    ok(&["log", "verify", "--data", &fx.data]);
}

/// Attack: after a credit-repair order destroyed a court judgment, anyone with `trace` can
/// still test guesses of its values against the disclosure fingerprints ("was this the case
/// number?"), so the shredded value is not gone. Now the shred destroys those fingerprints
/// in the same write: the value no longer matches, while the subject's other values and
/// another subject's judgment, disclosed the same way, still trace.
#[test]
fn shredded_value_not_traceable() {
    let fx = Fx::new();
    fx.granted("bank-a", JUDGED, "identity,judgments", "loan-approval");
    fx.granted("bank-a", JUDGED_OTHER, "identity,judgments", "loan-approval");
    let leak = format!("subject,judgments.case_number\n{JUDGED},{JUDGED_CASE}\n{JUDGED_OTHER},{JUDGED_OTHER_CASE}\n");
    let r = fx.trace(&leak);
    assert_eq!(r["matched_items"], 2, "before the shred both trace: {r}");
    // Two officers approve the authority's credit-repair order for the subject's judgment.
    let mut officers = Vec::new();
    for id in ["officer-a", "officer-b"] {
        officers.push(fx.staff("officer", id));
    }
    let order = fx.fresh("order");
    ok(&[
        "authority",
        "order-shred",
        "--key",
        &fx.auth,
        "--subject",
        JUDGED,
        "--class",
        "judgments",
        "--record",
        JUDGED_RECORD,
        "--ref",
        "CR-7",
        "--audience",
        ORIGIN,
        "--out",
        &order,
    ]);
    let op = format!("shred {JUDGED} judgments {JUDGED_RECORD} order CR-7");
    let mut args: Vec<String> = ["shred", "--data", &fx.data, "--order", &order, "--json"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for key in &officers {
        let out = fx.fresh("approval");
        ok(&[
            "officer",
            "approve",
            "--key",
            key,
            "--operation",
            &op,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        args.extend(["--approval".to_string(), out]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = json(&ok(&refs));
    assert_eq!(v["records"], 1, "{v}");
    // The attack: test the shredded case number. No match, no department named.
    let r = fx.trace(&leak);
    assert_eq!(r["items"], 2, "{r}");
    assert_eq!(r["matched_items"], 1, "the shredded value still traces: {r}");
    assert_eq!(r["unmatched_subjects"], 1, "{r}");
    let only = format!("subject,judgments.case_number\n{JUDGED},{JUDGED_CASE}\n");
    let r = fx.trace(&only);
    assert_eq!(r["matched_items"], 0, "the shredded value still traces: {r}");
    assert!(r["departments"].as_array().unwrap().is_empty(), "{r}");
    assert!(r["disclosures"].as_array().unwrap().is_empty(), "{r}");
    // The subject's values that were not shredded still trace, as does the other subject.
    let r = fx.trace(&format!("subject,identity.name\n{JUDGED},{JUDGED_NAME}\n"));
    assert_eq!(r["matched_items"], 1, "{r}");
    let r = fx.trace(&format!(
        "subject,judgments.case_number\n{JUDGED_OTHER},{JUDGED_OTHER_CASE}\n"
    ));
    assert_eq!(r["matched_items"], 1, "{r}");
    // The fingerprint storage still checks out against the log.
    ok(&["check", "--data", &fx.data]);
}
