//! The standing retention policy through the real `credseal` binary: two different enrolled
//! officers approve once that the retention sweep runs every interval (`keys
//! retention-policy`); `credseal serve` then sweeps on schedule (at the platform's clock:
//! `--clock-offset` simulates time in test builds) and `credseal shred --expired` runs
//! without approvals, each run receipted naming the policy. One approval, or two by the same
//! officer, installs nothing (exit 3); a withdrawn policy stops the schedule; a policy added,
//! edited or removed in the store is refused (exit 4).

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{code, inject_wal_frame, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "retention.credseal.invalid/log";
/// A subject of records.jsonl.
const SUBJECT: &str = "44010619970815204X";
/// The commendation (kept 3 years) the fixture gives SUBJECT, effective 2024-01-10: past its
/// retention from 2027-01-10.
const HONOUR: &str = "CM-2024-900285";
/// 2027-02-01T00:00:00Z, when the commendation is past its retention.
const AFTER_EXPIRY: u64 = 1_801_440_000;
/// The store's Meta tree tag (`credseal_store::Tree::tag`).
const META: u8 = 1;
/// How long a test waits for the service.
const WAIT: Duration = Duration::from_secs(60);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env_remove("CREDSEAL_OFFICER");
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A platform with the example data and SUBJECT's commendation [`HONOUR`], first officers
/// `off-a` and `off-b`, SUBJECT's key registered, and bank-a enrolled for SUBJECT's identity
/// and commendations.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    subject_dir: String,
    bank: String,
    cred: String,
    vkey: String,
    vrf: String,
    n: std::cell::Cell<u32>,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        for o in ["off-a", "off-b"] {
            ok(&["officer", "keygen", "--unencrypted", "--out", &p(o)]);
        }
        let data = p("data");
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
            "--first-officer",
            &format!("off-a={}.pub", p("off-a")),
            "--first-officer",
            &format!("off-b={}.pub", p("off-b")),
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
        let all = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS)).unwrap();
        let line = all
            .lines()
            .find(|l| l.contains("\"record_id\":\"CM-2024-000285\""))
            .unwrap();
        let mut honour: serde_json::Value = serde_json::from_str(line).unwrap();
        honour["subject"] = serde_json::json!(SUBJECT);
        honour["record_id"] = serde_json::json!(HONOUR);
        honour["effective"] = serde_json::json!("2024-01-10");
        let file = p("honour.jsonl");
        std::fs::write(&file, format!("{honour}\n")).unwrap();
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            &file,
        ]);
        let (auth, subject_dir, bank, cred) = (p("authority.key"), p("subject"), p("bank"), p("credential"));
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &subject_dir]);
        ok(&[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{subject_dir}/signing.pub"),
        ]);
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
        ok(&[
            "authority",
            "enroll",
            "--key",
            &auth,
            "--serial",
            "1",
            "--department",
            "bank-a",
            "--name",
            "Bank A",
            "--signing-key",
            &format!("{bank}/signing.pub"),
            "--sealing-key",
            &format!("{bank}/sealing.pub"),
            "--classes",
            "identity,commendations",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ]);
        let (vkey, vrf) = (p("vkey"), p("vrf"));
        std::fs::write(&vkey, stdout(&ok(&["log", "key", "--data", &data]))).unwrap();
        std::fs::write(&vrf, stdout(&ok(&["log", "key", "--vrf", "--data", &data]))).unwrap();
        Fx {
            dir,
            data,
            subject_dir,
            bank,
            cred,
            vkey,
            vrf,
            n: std::cell::Cell::new(0),
        }
    }

    /// A new, unused path in the fixture directory.
    fn fresh(&self, name: &str) -> String {
        self.n.set(self.n.get() + 1);
        self.dir
            .path()
            .join(format!("{name}-{}", self.n.get()))
            .display()
            .to_string()
    }

    fn db(&self) -> PathBuf {
        Path::new(&self.data).join("db")
    }

    /// The approval of `op` by officer `officer` (`off-a`, `off-b`): its file.
    fn approval(&self, officer: &str, op: &str) -> String {
        let out = self.fresh("approval");
        let key = self.dir.path().join(officer).display().to_string();
        ok(&[
            "officer",
            "approve",
            "--key",
            &key,
            "--operation",
            op,
            "--origin",
            ORIGIN,
            "--out",
            &out,
        ]);
        out
    }

    /// `keys retention-policy --data … ARGS --json`.
    fn policy(&self, args: &[&str]) -> Output {
        let mut all = vec!["keys", "retention-policy", "--data", &self.data];
        all.extend_from_slice(args);
        all.push("--json");
        run(&all)
    }

    /// The installed policy (`--show`), null when none.
    fn shown(&self) -> serde_json::Value {
        let o = self.policy(&["--show"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        json(&o)["policy"].clone()
    }

    /// Installs the policy `retention sweep every 1d`, approved by off-a and off-b.
    fn install_daily(&self) -> serde_json::Value {
        let op = "retention sweep every 1d";
        let (a, b) = (self.approval("off-a", op), self.approval("off-b", op));
        let o = self.policy(&["--every", "1d", "--approval", &a, "--approval", &b]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        json(&o)
    }

    /// The log's size now.
    fn size(&self) -> u64 {
        let note = stdout(&ok(&["log", "checkpoint", "--data", &self.data]));
        note.lines().nth(1).unwrap().parse().unwrap()
    }

    /// Records stored now (`check`).
    fn records(&self) -> u64 {
        json(&ok(&["check", "--data", &self.data, "--json"]))["records"]
            .as_u64()
            .unwrap()
    }

    /// SUBJECT's commendations as bank-a's query (as of now) releases them, opened.
    fn commendations(&self) -> Vec<serde_json::Value> {
        let token = self.fresh("token");
        ok(&[
            "dept",
            "query",
            "--key",
            &format!("{}/signing.key", self.bank),
            "--credential",
            &self.cred,
            "--subject",
            SUBJECT,
            "--classes",
            "commendations",
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "application 2026-18",
            "--audience",
            ORIGIN,
            "--out",
            &token,
        ]);
        let answer = self.fresh("answer");
        ok(&[
            "query",
            "--data",
            &self.data,
            "--credential",
            &self.cred,
            "--token",
            &token,
            "--out",
            &answer,
        ]);
        let log_key = self.fresh("log-key");
        std::fs::write(
            &log_key,
            stdout(&ok(&["log", "key", "--data", &self.data, "--current"])),
        )
        .unwrap();
        let o = ok(&[
            "open",
            "--key",
            &format!("{}/sealing.key", self.bank),
            "--log-key",
            &log_key,
            "--token",
            &token,
            &answer,
            "--json",
        ]);
        json(&o)["records"].as_array().unwrap().clone()
    }

    /// SUBJECT's receipts, as `receipts verify --json` shows them.
    fn receipts(&self) -> Vec<serde_json::Value> {
        let req = self.fresh("request");
        ok(&[
            "receipts",
            "request",
            "--key",
            &format!("{}/signing.key", self.subject_dir),
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
        let o = ok(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            &self.vrf,
            "--subject",
            SUBJECT,
            "--state",
            &state,
            &bundle,
            "--json",
        ]);
        json(&o)["receipts"].as_array().unwrap().clone()
    }

    /// `credseal serve` on 127.0.0.1 (plain HTTP on loopback) with the platform's clock
    /// `offset` seconds ahead.
    fn serve(&self, offset: u64) -> Srv {
        let offset = offset.to_string();
        let mut child = bin()
            .args([
                "serve",
                "--data",
                &self.data,
                "--listen",
                "127.0.0.1:0",
                "--insecure-loopback",
                "--quiet",
                "--clock-offset",
                &offset,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let srv = Srv {
            child,
            lines: rx,
            log: Vec::new(),
            reader: Some(reader),
        };
        srv.until(|l| l.starts_with("credseal: serving http://"))
    }
}

/// A running `credseal serve`, its stderr read line by line; killed when dropped.
struct Srv {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Srv {
    /// Reads stderr until a line satisfies `f` (or fails after [`WAIT`]).
    #[track_caller]
    fn until(mut self, f: impl Fn(&str) -> bool) -> Self {
        let start = Instant::now();
        loop {
            let left = WAIT.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = f(&l);
                    self.log.push(l);
                    if hit {
                        return self;
                    }
                }
                Err(_) => panic!("not seen within {WAIT:?}: {:#?}", self.log),
            }
        }
    }

    /// Stops the service (SIGTERM, this process's own child only) and returns its whole
    /// stderr.
    fn stop(mut self) -> Vec<String> {
        let o = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "kill: {}", stderr(&o));
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}: {:#?}", self.log);
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.log.extend(self.lines.try_iter());
        std::mem::take(&mut self.log)
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The `retention-sweep` event lines of a service's stderr.
fn sweeps(log: &[String]) -> Vec<serde_json::Value> {
    log.iter()
        .filter(|l| l.contains("\"retention-sweep\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The seconds from now until [`AFTER_EXPIRY`] (the clock offset that simulates it).
fn offset_to_expiry() -> u64 {
    AFTER_EXPIRY
        .checked_sub(unix_now())
        .expect("the test's dates are ahead of the clock")
}

#[test]
fn policy_with_one_approval_or_one_officer_twice_is_refused_and_installs_nothing() {
    let fx = Fx::new();
    let op = "retention sweep every 1d";
    let size = fx.size();
    // Without approvals the command names the operation to approve.
    let o = fx.policy(&["--every", "1d"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains(op), "{}", stderr(&o));
    // One approval.
    let a = fx.approval("off-a", op);
    let o = fx.policy(&["--every", "1d", "--approval", &a]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(1 given)"), "{}", stderr(&o));
    // Two approvals by the same officer.
    let a2 = fx.approval("off-a", op);
    let o = fx.policy(&["--every", "1d", "--approval", &a, "--approval", &a2]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("same officer (off-a)"), "{}", stderr(&o));
    // Two officers' approvals of another interval.
    let b = fx.approval("off-b", "retention sweep every 7d");
    let o = fx.policy(&["--every", "1d", "--approval", &a, "--approval", &b]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // Nothing was installed, nothing written to the log, and a sweep still needs approvals.
    assert_eq!(fx.shown(), serde_json::Value::Null);
    assert_eq!(fx.size(), size);
    let o = run(&["shred", "--data", &fx.data, "--expired", "--json"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("shred expired"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keys retention-policy"),
        "the policy is offered: {}",
        stderr(&o)
    );
    // The same approval files are still good for the policy with the second officer's.
    let b = fx.approval("off-b", op);
    let o = fx.policy(&["--every", "1d", "--approval", &a, "--approval", &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["change"], "installed", "{v}");
    assert_eq!(v["policy"]["operation"], op, "{v}");
    assert_eq!(v["policy"]["every_secs"], 86_400, "{v}");
    assert_eq!(v["policy"]["approved_by"], serde_json::json!(["off-a", "off-b"]), "{v}");
    assert_eq!(fx.shown(), v["policy"]);
    assert_eq!(fx.size(), size + 1, "one receipt for the installation");
}

#[test]
fn shred_expired_runs_without_approvals_only_under_a_policy_and_is_receipted() {
    let fx = Fx::new();
    let records = fx.records();
    fx.install_daily();
    // Today nothing is past its retention: the run is receipted all the same.
    let size = fx.size();
    let o = ok(&["shred", "--data", &fx.data, "--expired", "--json"]);
    let v = json(&o);
    assert_eq!(v["records"], 0, "{v}");
    assert_eq!(v["policy"]["approved_by"], serde_json::json!(["off-a", "off-b"]), "{v}");
    assert_eq!(v["receipt"], size, "the run's receipt is the next in the log: {v}");
    assert_eq!(fx.size(), size + 1);
    // As of 2027-02-01 (test builds: `--now`), the commendation is swept: the subject's
    // receipt names the policy, and the record is gone.
    let at = AFTER_EXPIRY.to_string();
    let o = ok(&["shred", "--data", &fx.data, "--expired", "--now", &at]);
    let text = stdout(&o);
    assert!(text.contains("1 record(s) of 1 subject(s) destroyed"), "{text}");
    assert!(
        text.contains("under the retention policy \"retention sweep every 1d\" approved by off-a, off-b"),
        "{text}"
    );
    assert_eq!(fx.records(), records - 1);
    let shred = fx
        .receipts()
        .into_iter()
        .find(|r| r["action"] == "shred")
        .expect("the subject's shred receipt");
    let detail = shred["detail"].as_str().unwrap();
    assert!(
        detail.contains("retention period over; under the retention policy \"retention sweep every 1d\" approved by off-a, off-b, installed"),
        "{shred}"
    );
    assert_eq!(shred["actor"]["kind"], "officer", "run by hand: {shred}");
    assert!(fx.commendations().is_empty(), "the shredded record no longer opens");
}

#[test]
fn serve_sweeps_on_schedule_and_the_expired_record_no_longer_opens() {
    let fx = Fx::new();
    // Today the commendation is within its retention and released.
    let released = fx.commendations();
    assert_eq!(released.len(), 1, "{released:?}");
    assert_eq!(released[0]["record_id"], HONOUR);
    let records = fx.records();
    fx.install_daily();
    // The service with its clock at 2027-02-01: the policy's day has passed since it was
    // installed, so the sweep runs at once.
    let srv = fx
        .serve(offset_to_expiry())
        .until(|l| l.contains("\"retention-sweep\""));
    // Not again before a day has passed at the platform's clock.
    std::thread::sleep(Duration::from_secs(3));
    let log = srv.stop();
    let runs = sweeps(&log);
    assert_eq!(runs.len(), 1, "{log:#?}");
    let run = &runs[0];
    assert_eq!(run["records"], 1, "{run}");
    assert_eq!(run["subjects"], 1, "{run}");
    assert_eq!(run["today"], "2027-02-01", "{run}");
    assert_eq!(run["policy"], "retention sweep every 1d", "{run}");
    assert!(run.get("error").is_none(), "{run}");
    assert!(
        log.iter().all(|l| !l.contains(SUBJECT) && !l.contains(HONOUR)),
        "no subject or record in the log: {log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("the retention policy \"retention sweep every 1d\" approved by off-a, off-b")),
        "{log:#?}"
    );
    // The record is gone: not stored, not released at today's date (when it is still
    // within its retention), and the subject's chain has the platform's shred receipt
    // naming the policy.
    assert_eq!(fx.records(), records - 1);
    assert!(fx.commendations().is_empty(), "the swept record no longer opens");
    let shred = fx
        .receipts()
        .into_iter()
        .find(|r| r["action"] == "shred")
        .expect("the subject's shred receipt");
    assert_eq!(shred["actor"]["kind"], "platform", "{shred}");
    let detail = shred["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 record(s) destroyed: retention period over; under the retention policy \"retention sweep every 1d\" approved by off-a, off-b"), "{shred}");
    // The run's own receipt is in the log the checkpoint covers.
    assert!(run["receipt"].as_u64().unwrap() < fx.size(), "{run}");
}

#[test]
fn withdrawing_the_policy_stops_the_schedule() {
    let fx = Fx::new();
    let records = fx.records();
    fx.install_daily();
    // Withdrawing needs two officers too.
    let off = "retention sweep off";
    let a = fx.approval("off-a", off);
    let o = fx.policy(&["--off", "--approval", &a]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(fx.shown().is_object(), "one approval withdraws nothing");
    let b = fx.approval("off-b", off);
    let o = fx.policy(&["--off", "--approval", &a, "--approval", &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["change"], "withdrawn");
    assert_eq!(fx.shown(), serde_json::Value::Null);
    // Nothing left to withdraw.
    let o = fx.policy(&["--off"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // The service (clock at 2027-02-01) sweeps nothing; the commendation stays.
    let srv = fx.serve(offset_to_expiry());
    std::thread::sleep(Duration::from_secs(3));
    let log = srv.stop();
    assert!(sweeps(&log).is_empty(), "{log:#?}");
    assert_eq!(fx.records(), records);
    // And a sweep by hand needs two approvals again.
    let o = run(&["shred", "--data", &fx.data, "--expired"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn policy_added_edited_or_removed_in_the_store_is_refused() {
    let key: &[u8] = b"staff:retention-policy";
    // Added without approvals: someone with write access to db/ writes a policy of their own
    // (they have no index key for its HMAC).
    let fx = Fx::new();
    let mut forged = vec![1u8];
    forged.extend_from_slice(&60u64.to_be_bytes());
    forged.extend_from_slice(&unix_now().to_be_bytes());
    forged.extend_from_slice(&[2, 5]);
    forged.extend_from_slice(b"off-a");
    forged.push(5);
    forged.extend_from_slice(b"off-b");
    forged.extend_from_slice(&[0u8; 32]);
    inject_wal_frame(&fx.db(), &[(META, key, Some(&forged))]);
    for args in [
        &["keys", "retention-policy", "--data", &fx.data, "--show"][..],
        &[
            "shred",
            "--data",
            &fx.data,
            "--expired",
            "--now",
            &AFTER_EXPIRY.to_string(),
        ][..],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 4, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("trust state"), "{}", stderr(&o));
    }

    // Removed, to keep data: the trust state no longer matches the checkpoint.
    let fx = Fx::new();
    fx.install_daily();
    inject_wal_frame(&fx.db(), &[(META, key, None)]);
    let o = run(&["keys", "retention-policy", "--data", &fx.data, "--show"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("retention policy"), "{}", stderr(&o));
    let srv_refused = run(&[
        "serve",
        "--data",
        &fx.data,
        "--listen",
        "127.0.0.1:0",
        "--insecure-loopback",
    ]);
    assert_eq!(code(&srv_refused), 4, "{}", stderr(&srv_refused));

    // Edited (a longer interval, its HMAC kept).
    let fx = Fx::new();
    fx.install_daily();
    let stored = {
        use credseal_store::Store as _;
        let s = credseal_store::SledStore::open(&fx.db(), false).unwrap();
        s.get(credseal_store::Tree::Meta, key).unwrap().unwrap()
    };
    let mut edited = stored.clone();
    edited[1..9].copy_from_slice(&(366u64 * 86_400).to_be_bytes());
    inject_wal_frame(&fx.db(), &[(META, key, Some(&edited))]);
    let o = run(&["keys", "retention-policy", "--data", &fx.data, "--show"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let o = run(&[
        "shred",
        "--data",
        &fx.data,
        "--expired",
        "--now",
        &AFTER_EXPIRY.to_string(),
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
}

/// An objection to a record that a sweep then destroyed has nothing left to answer: the next
/// review closes it (receipted in the subject's chain), so it neither alerts its provider at
/// its deadline nor keeps one of the subject's places for open objections.
#[test]
fn an_objection_to_a_swept_record_is_closed_at_the_next_review() {
    let fx = Fx::new();
    let objection = format!("{}/objection", fx.subject_dir);
    let o = run(&[
        "subject",
        "object",
        "--key",
        &format!("{}/signing.key", fx.subject_dir),
        "--subject",
        SUBJECT,
        "--class",
        "commendations",
        "--record",
        HONOUR,
        "--reason",
        "this commendation was withdrawn",
        "--origin",
        ORIGIN,
        "--out",
        &objection,
        "--data",
        &fx.data,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    fx.install_daily();
    let at = AFTER_EXPIRY.to_string();
    ok(&["shred", "--data", &fx.data, "--expired", "--now", &at]);
    let o = ok(&["audit", "objections", "--data", &fx.data, "--json", "--now", &at]);
    let v = json(&o);
    let rows = v["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_ne!(rows[0]["status"], "open", "{v}");
    assert_eq!(rows[0]["overdue"], false, "{v}");
    assert!(!stderr(&o).contains("ALERT"), "{}", stderr(&o));
    assert!(
        fx.receipts().iter().any(|r| r["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("closed: its record was shredded")),
        "no closing receipt"
    );
    // Once closed, a later review past the deadline raises nothing.
    let later = (AFTER_EXPIRY + 60 * 86_400).to_string();
    let o = ok(&["audit", "objections", "--data", &fx.data, "--json", "--now", &later]);
    assert!(!stderr(&o).contains("ALERT"), "{}", stderr(&o));
}
