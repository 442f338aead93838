//! Shredding with key trees (docs/design.md §8b), through the binary and the files on disk:
//!
//! - a copy of the database taken before a shred, with the keystore after it, opens neither
//!   the shredded record (exit 4) nor anything else of the class; the live platform opens
//!   every other record of the class ([`a_shredded_record_does_not_open_from_an_earlier_copy`]);
//! - the same for a retention sweep of 1,000 records in one batch
//!   ([`a_batch_of_1000_shreds_does_not_open_from_an_earlier_copy`]);
//! - a shred batch killed with SIGKILL at random moments leaves every record shredded or
//!   intact and readable, and the next shred finishes destroying the old keys
//!   ([`a_shred_batch_killed_at_random_moments_leaves_records_shredded_or_intact`]);
//! - `credseal compact` killed at random moments loses nothing
//!   ([`compaction_killed_at_random_moments_loses_nothing`]).
//!
//! The attacker's view is `credseal dev probe-copy`: a database and a keystore read straight
//! from their files, with no platform check in the way (the platform itself refuses a
//! database with an older keystore generation before any key is tried).
//!
//! Size: 1,500 subjects; the crash test runs 5 trials, `CREDSEAL_FULL=1` runs 20 (and
//! `CREDSEAL_CRASH_TRIALS` sets any number). Kill moments come from a PRNG seeded by
//! `CREDSEAL_CRASH_SEED` (default 0), printed with any failure.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "shred.credseal.invalid/log";
/// Subjects ingested.
const SUBJECTS: u64 = 1_500;
/// Subjects whose loans record is past its retention (the batch).
const EXPIRED: u64 = 1_000;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
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

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A platform of [`SUBJECTS`] synthetic subjects (one record per class each); the loans
/// records of the first [`EXPIRED`] took effect in 2015, so their 5-year retention is over.
/// Returns (data directory, the expired records' lines).
fn platform(dir: &Path) -> (String, String) {
    let data = dir.join("data").display().to_string();
    let catalog_text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(CATALOG)).unwrap();
    let catalog = credseal_core::Catalog::parse(&catalog_text, None).unwrap();
    let mut all = Vec::new();
    credseal_testkit::synthetic::write_synthetic(&catalog, SUBJECTS, &mut all).unwrap();
    let (mut lines, mut expired) = (String::new(), String::new());
    for line in String::from_utf8(all).unwrap().lines() {
        let old = line.contains("\"class\":\"loans\"")
            && line
                .split("SYN-loans-")
                .nth(1)
                .and_then(|r| r.get(..9))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|i| i < EXPIRED);
        if old {
            let l = line.replace("\"effective\":\"2024-06-01\"", "\"effective\":\"2015-01-01\"");
            assert_ne!(l, line, "the synthetic line's date was not found");
            expired.push_str(&l);
            expired.push('\n');
        } else {
            lines.push_str(line);
            lines.push('\n');
        }
    }
    let input = dir.join("in.jsonl");
    std::fs::write(&input, lines).unwrap();
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
    let old = dir.join("expired-at-sweep.jsonl");
    std::fs::write(&old, &expired).unwrap();
    ingest_in_2019(&data, &old, false);
    ok(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        &data,
        &input.display().to_string(),
    ]);
    (data, expired)
}

/// Ingests `file` as an operator import on a platform whose clock says 2019-06-01, when the
/// loans records that took effect in 2015 were still within their 5-year retention (ingest
/// refuses a record already past it, so the binary, on today's clock, would not take them).
/// The shred sweeps that follow run through the binary, on today's clock.
fn ingest_in_2019(data: &str, file: &Path, allow_shredded: bool) {
    let p = credseal_engine::Platform::open(
        Path::new(data),
        &credseal_crypto::Passphrase::new(PASS.into()),
        credseal_engine::OpenOptions::default(),
    )
    .unwrap()
    .with_clock(std::sync::Arc::new(credseal_engine::TestClock::at(1_559_347_200)));
    let session = p.staff_session("op-import").unwrap();
    p.ingest_file_with(
        &session,
        file,
        &credseal_engine::NoProgress,
        credseal_engine::IngestOptions { allow_shredded },
    )
    .unwrap();
}

/// Two officers enrolled; returns a function that writes their approvals of an operation.
fn officers(dir: &Path, data: &str) -> impl Fn(&str) -> Vec<String> {
    let mut keys = Vec::new();
    for name in ["officer-a", "officer-b"] {
        let key = dir.join(name).display().to_string();
        ok(&["officer", "keygen", "--unencrypted", "--out", &key]);
        let o = common::enroll_staff(&run, dir, data, ORIGIN, None, "officer", name, &format!("{key}.pub"));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        keys.push(key);
    }
    let dir = dir.to_path_buf();
    let n = std::cell::Cell::new(0);
    move |op: &str| {
        keys.iter()
            .map(|key| {
                n.set(n.get() + 1);
                let out = dir.join(format!("approval-{}", n.get())).display().to_string();
                ok(&[
                    "officer",
                    "approve",
                    "--key",
                    key,
                    "--operation",
                    op,
                    "--audience",
                    ORIGIN,
                    "--out",
                    &out,
                ]);
                out
            })
            .collect()
    }
}

fn with_approvals(args: &[&str], files: &[String]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    for f in files {
        v.push("--approval".into());
        v.push(f.clone());
    }
    v
}

fn run_owned(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

/// Copies a closed database directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// `dev probe-copy` of one class (and subject): (exit code, subjects opened, not opened).
fn probe(db: &Path, keystore: &Path, class: &str, subject: Option<&str>) -> (i32, u64, u64, String) {
    let mut args = vec![
        "dev".to_string(),
        "probe-copy".into(),
        "--db".into(),
        db.display().to_string(),
        "--keystore".into(),
        keystore.display().to_string(),
        "--class".into(),
        class.into(),
        "--json".into(),
    ];
    if let Some(s) = subject {
        args.extend(["--subject".into(), s.into()]);
    }
    let o = run_owned(&args);
    // The report is the first document; a failed probe's error document (exit 4) follows it.
    let v: serde_json::Value = serde_json::Deserializer::from_str(&stdout(&o))
        .into_iter::<serde_json::Value>()
        .next()
        .and_then(Result::ok)
        .unwrap_or_default();
    (
        code(&o),
        v["subjects_opened"].as_u64().unwrap_or(u64::MAX),
        v["subjects_not_opened"].as_u64().unwrap_or(u64::MAX),
        stderr(&o),
    )
}

/// (version, data keys, primary) of `class` from `keys status --json`.
fn status(data: &str, class: &str) -> Vec<(u64, u64, bool)> {
    let o = ok(&["keys", "status", "--data", data, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == class)
        .unwrap()
        .clone();
    c["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["version"].as_u64().unwrap(),
                x["data_keys"].as_u64().unwrap(),
                x["primary"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn today_op() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    credseal_engine::Operation::shred_expired(credseal_core::Date::from_unix(now).unwrap())
        .text()
        .to_string()
}

#[test]
fn a_shredded_record_does_not_open_from_an_earlier_copy() {
    let d = tempfile::tempdir().unwrap();
    let (data, _) = platform(d.path());
    let data_p = Path::new(&data);
    let approve = officers(d.path(), &data);
    // The authority that signs credit-repair orders (the staff authority made above).
    let authority = d.path().join("staff-authority.key").display().to_string();
    let subject = credseal_testkit::synthetic::synthetic_subject(1_234).to_string();
    let record = "SYN-loans-000001234";
    let order = d.path().join("order").display().to_string();
    ok(&[
        "authority",
        "order-shred",
        "--key",
        &authority,
        "--subject",
        &subject,
        "--class",
        "loans",
        "--record",
        record,
        "--ref",
        "CR-1",
        "--audience",
        ORIGIN,
        "--out",
        &order,
    ]);
    let keystore = data_p.join(credseal_engine::KEYSTORE_FILE);
    let db = data_p.join(credseal_engine::DB_DIR);
    let before = d.path().join("before");
    copy_dir(&db, &before.join("db"));
    std::fs::copy(&keystore, before.join("keystore")).unwrap();
    // The copy and the keystore of its time open the record (the probe can succeed).
    let (c, opened, failed, e) = probe(&before.join("db"), &before.join("keystore"), "loans", Some(&subject));
    assert_eq!((c, opened, failed), (0, 1, 0), "{e}");

    let op = format!("shred {subject} loans {record} order CR-1");
    let o = run_owned(&with_approvals(
        &["shred", "--data", &data, "--order", &order],
        &approve(&op),
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 record(s) of 1 subject(s) destroyed"),
        "{}",
        stdout(&o)
    );

    // The attack: the earlier database with the later keystore. The shredded record does
    // not open (exit 4), and neither does any other data key of the class in that copy.
    let (c, opened, failed, e) = probe(&before.join("db"), &keystore, "loans", Some(&subject));
    assert_eq!((c, opened, failed), (4, 0, 1), "{e}");
    assert!(e.contains("do not open with this keystore"), "{e}");
    let (c, opened, failed, e) = probe(&before.join("db"), &keystore, "loans", None);
    assert_eq!((c, opened, failed), (4, 0, SUBJECTS), "{e}");
    // Other classes of the copy are untouched by the shred and still open.
    let (c, opened, _, e) = probe(&before.join("db"), &keystore, "tax", None);
    assert_eq!((c, opened), (0, SUBJECTS), "{e}");
    // The live platform: every other record of the class opens; the shredded one is gone.
    let (c, opened, failed, e) = probe(&db, &keystore, "loans", None);
    assert_eq!((c, opened, failed), (0, SUBJECTS - 1, 0), "{e}");
    let (c, _, _, e) = probe(&db, &keystore, "loans", Some(&subject));
    assert_eq!(c, 1, "{e}");
    assert!(e.contains("no records of class loans"), "{e}");
    ok(&["check", "--data", &data]);
    ok(&["log", "verify", "--data", &data]);
    // One KEK version of the class is left: the one wrapping the new root.
    let st = status(&data, "loans");
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].1, SUBJECTS - 1, "{st:?}");
}

#[test]
fn a_batch_of_1000_shreds_does_not_open_from_an_earlier_copy() {
    let d = tempfile::tempdir().unwrap();
    let (data, _) = platform(d.path());
    let data_p = Path::new(&data);
    let approve = officers(d.path(), &data);
    let keystore = data_p.join(credseal_engine::KEYSTORE_FILE);
    let db = data_p.join(credseal_engine::DB_DIR);
    let before = d.path().join("before");
    copy_dir(&db, &before);
    let o = run_owned(&with_approvals(
        &["shred", "--data", &data, "--expired", "--json"],
        &approve(&today_op()),
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], EXPIRED, "{v}");
    assert_eq!(v["subjects"], EXPIRED, "{v}");
    // The earlier copy with the later keystore: no loans data key opens, shredded or not.
    for i in [0, 1, 499, 999] {
        let s = credseal_testkit::synthetic::synthetic_subject(i).to_string();
        let (c, opened, failed, e) = probe(&before, &keystore, "loans", Some(&s));
        assert_eq!((c, opened, failed), (4, 0, 1), "subject {i}: {e}");
    }
    let (c, opened, failed, e) = probe(&before, &keystore, "loans", None);
    assert_eq!((c, opened, failed), (4, 0, SUBJECTS), "{e}");
    // The live platform: the 500 loans records not expired open, the others are gone.
    let (c, opened, failed, e) = probe(&db, &keystore, "loans", None);
    assert_eq!((c, opened, failed), (0, SUBJECTS - EXPIRED, 0), "{e}");
    for i in [1_000, 1_499] {
        let s = credseal_testkit::synthetic::synthetic_subject(i).to_string();
        assert_eq!(probe(&db, &keystore, "loans", Some(&s)).0, 0, "subject {i}");
    }
    ok(&["check", "--data", &data]);
    let st = status(&data, "loans");
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].1, SUBJECTS - EXPIRED, "{st:?}");
}

#[test]
fn a_shred_batch_killed_at_random_moments_leaves_records_shredded_or_intact() {
    let full = std::env::var("CREDSEAL_FULL").is_ok_and(|v| v == "1");
    let trials: u64 = std::env::var("CREDSEAL_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 20 } else { 5 });
    let seed: u64 = std::env::var("CREDSEAL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let d = tempfile::tempdir().unwrap();
    let (data, expired) = platform(d.path());
    let data_p = Path::new(&data);
    let approve = officers(d.path(), &data);
    let keystore = data_p.join(credseal_engine::KEYSTORE_FILE);
    let db = data_p.join(credseal_engine::DB_DIR);
    let again = d.path().join("again.jsonl");
    std::fs::write(&again, &expired).unwrap();
    let again = again.display().to_string();
    let loans = |what: &str| {
        let (c, opened, failed, e) = probe(&db, &keystore, "loans", None);
        assert_eq!((c, failed), (0, 0), "{what}: {e}");
        opened
    };
    let shred = || {
        run_owned(&with_approvals(
            &["shred", "--data", &data, "--expired"],
            &approve(&today_op()),
        ))
    };
    // How long a whole shred of the batch takes here, to spread the kills over it.
    let t = Instant::now();
    let o = shred();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let whole = t.elapsed().as_millis().max(50) as u64;
    assert_eq!(loans("after the first shred"), SUBJECTS - EXPIRED);
    let mut rng = Rng(seed);
    let mut killed = 0;
    for trial in 0..trials {
        // The batch again (the shredded records let in again), so every trial has work.
        if loans("before the trial") == SUBJECTS - EXPIRED {
            ingest_in_2019(&data, Path::new(&again), true);
        }
        assert_eq!(loans("before the trial"), SUBJECTS);
        let approvals = approve(&today_op());
        let args = with_approvals(&["shred", "--data", &data, "--expired"], &approvals);
        let at = rng.next() % (whole + whole / 2);
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(at));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait().unwrap();
        // Every record either shredded (all of the batch: one atomic write) or intact, and
        // every record that is there opens.
        let n = loans(&format!("trial {trial} (seed {seed}, kill at {at} ms)"));
        assert!(
            n == SUBJECTS || n == SUBJECTS - EXPIRED,
            "trial {trial} (seed {seed}, kill at {at} ms): {n} subjects hold a loans record"
        );
        let o = run(&["check", "--data", &data]);
        assert_eq!(
            code(&o),
            0,
            "trial {trial} (seed {seed}, kill at {at} ms): {}",
            stderr(&o)
        );
        let st = status(&data, "loans");
        assert_eq!(st.iter().map(|s| s.1).sum::<u64>(), n, "trial {trial}: counters {st:?}");
    }
    println!("{trials} trials, {killed} shreds killed part-way (a whole shred took {whole} ms)");
    assert!(killed > 0, "no trial interrupted a shred");
    // The next shred finishes what a killed one left: the batch shredded, one KEK version.
    let o = shred();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(loans("at the end"), SUBJECTS - EXPIRED);
    let st = status(&data, "loans");
    assert_eq!(st.len(), 1, "{st:?}");
    ok(&["check", "--data", &data]);
    ok(&["log", "verify", "--data", &data]);
}

/// `check --json`: (data keys, records), every one opened.
fn checked(data: &str, what: &str) -> (u64, u64) {
    let o = run(&["check", "--data", data, "--json"]);
    assert_eq!(code(&o), 0, "{what}: {}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (v["data_keys"].as_u64().unwrap(), v["records"].as_u64().unwrap())
}

/// `credseal compact` killed with SIGKILL at random moments, each trial after a shred and a
/// re-ingest left dead values in the value log: every record still opens and nothing is
/// missing; at the end a whole compaction gives the dead blocks back.
#[test]
fn compaction_killed_at_random_moments_loses_nothing() {
    let full = std::env::var("CREDSEAL_FULL").is_ok_and(|v| v == "1");
    let trials: u64 = std::env::var("CREDSEAL_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 20 } else { 5 });
    let seed: u64 = std::env::var("CREDSEAL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let d = tempfile::tempdir().unwrap();
    let (data, expired) = platform(d.path());
    let approve = officers(d.path(), &data);
    let again = d.path().join("again.jsonl");
    std::fs::write(&again, &expired).unwrap();
    let again = again.display().to_string();
    let all = checked(&data, "at the start");
    // Dead values: the batch shredded (its subjects' values rewritten) and let in again.
    let churn = || {
        let o = run_owned(&with_approvals(
            &["shred", "--data", &data, "--expired"],
            &approve(&today_op()),
        ));
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        ingest_in_2019(&data, Path::new(&again), true);
    };
    churn();
    let t = Instant::now();
    let o = ok(&["compact", "--data", &data, "--json"]);
    let whole = t.elapsed().as_millis().max(50) as u64;
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(c["punched_bytes"].as_u64().unwrap() > 0, "{c}");
    assert!(
        c["allocated_after"].as_u64().unwrap() < c["allocated_before"].as_u64().unwrap(),
        "{c}"
    );
    assert_eq!(checked(&data, "after a whole compaction"), all);
    let mut rng = Rng(seed);
    let mut killed = 0;
    for trial in 0..trials {
        churn();
        let at = rng.next() % (whole + whole / 2);
        let mut child = bin()
            .args(["compact", "--data", &data])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(at));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait().unwrap();
        assert_eq!(
            checked(&data, &format!("trial {trial} (seed {seed}, kill at {at} ms)")),
            all,
            "trial {trial} (seed {seed}, kill at {at} ms)"
        );
    }
    println!("{trials} trials, {killed} compactions killed part-way (a whole one took {whole} ms)");
    assert!(killed > 0, "no trial interrupted a compaction");
    ok(&["compact", "--data", &data]);
    assert_eq!(checked(&data, "at the end"), all);
    ok(&["log", "verify", "--data", &data]);
}
