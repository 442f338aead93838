//! End-to-end tests that drive the real `credseal` binary: arguments, exit codes, stdout,
//! stderr, and what is (not) left on disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_PASSPHRASE").env_remove("CREDSEAL_DATA");
    c
}

fn run(args: &[&str]) -> Output {
    bin().env("CREDSEAL_PASSPHRASE", PASS).args(args).output().unwrap()
}

fn abs(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

/// A fresh platform with fast KDF settings.
fn init(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let o = run(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--catalog",
        CATALOG,
        "--origin",
        "test.credseal.invalid/log",
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    data
}

fn ingested(dir: &Path) -> PathBuf {
    let data = init(dir);
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data.to_str().unwrap(),
        RECORDS,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    data
}

#[test]
fn demo_runs_start_to_end() {
    let o = bin().arg("demo").output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for s in [
        "Step 1.",
        "Step 3.",
        "none of them appears",
        "refused",
        "0 written",
        "nothing was written",
        "verified",
        "credseal: serving https://127.0.0.1:",
        "the same token again gets the same answer, and no second receipt",
        "(class-not-granted) (exit 3)",
        "bundle verified: checkpoint",
        "the checkpoint carries the cosignature of witness witness.demo.invalid/w1",
        "trace names bank-b",
        "refused, nothing written (exit 3)",
        "the objection is resolved, corrected by version 2",
        "corrected: version 2 supersedes 1",
    ] {
        assert!(out.contains(s), "demo output lacks {s:?}:\n{out}");
    }
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

#[test]
fn no_plaintext_value_or_subject_id_on_disk() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let catalog = std::fs::read_to_string(abs(CATALOG)).unwrap();
    let needles = common::plaintext_needles(&std::fs::read_to_string(abs(RECORDS)).unwrap(), &catalog);
    assert!(needles.len() > 200, "{} needles", needles.len());
    let scanned = common::assert_no_plaintext(&data, &needles);
    assert!(scanned > 10_000, "scanned {scanned} bytes");
}

#[test]
fn init_ingest_status_check_json() {
    let d = tempfile::tempdir().unwrap();
    let data = init(d.path());
    let ds = data.to_str().unwrap();
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        ds,
        RECORDS,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let lines = std::fs::read_to_string(abs(RECORDS)).unwrap().lines().count() as u64;
    assert_eq!(s["written"].as_u64(), Some(lines));
    assert!(
        stderr(&o).is_empty(),
        "progress stays off a non-terminal: {}",
        stderr(&o)
    );
    let o = run(&["keys", "status", "--data", ds, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let classes = st["classes"].as_array().unwrap();
    assert!(classes.len() >= 7);
    let deks: u64 = classes
        .iter()
        .map(|c| c["versions"][0]["data_keys"].as_u64().unwrap())
        .sum();
    assert_eq!(s["new_data_keys"].as_u64(), Some(deks));
    assert!(classes.iter().all(|c| c["versions"][0]["primary"] == true));
    let o = run(&["keys", "status", "--data", ds]);
    assert!(stdout(&o).starts_with("class"), "{}", stdout(&o));
    let o = run(&["check", "--data", ds, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Re-ingest: nothing written.
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        ds,
        RECORDS,
        "--json",
    ]);
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["written"].as_u64(), Some(0));
}

#[test]
fn keystore_is_private_and_init_never_overwrites() {
    let d = tempfile::tempdir().unwrap();
    let data = init(d.path());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("keystore")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let before = std::fs::read(data.join("keystore")).unwrap();
    let o = run(&[
        "init",
        "--data",
        data.to_str().unwrap(),
        "--catalog",
        CATALOG,
        "--origin",
        "x",
        "--kdf-mib",
        "8",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(data.join("keystore")).unwrap(), before);
}

#[test]
fn wrong_passphrase_is_rejected_with_exit_4() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let o = bin()
        .env("CREDSEAL_PASSPHRASE", "not it")
        .args(["keys", "status", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    // From a file, with its trailing newline.
    let pf = d.path().join("pass");
    std::fs::write(&pf, format!("{PASS}\n")).unwrap();
    let o = bin()
        .args([
            "--passphrase-file",
            pf.to_str().unwrap(),
            "keys",
            "status",
            "--data",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // No passphrase and no terminal.
    let o = bin()
        .args(["keys", "status", "--data", data.to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("CREDSEAL_PASSPHRASE"));
}

#[test]
fn edited_truncated_or_foreign_keystore_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let ks = data.join("keystore");
    let good = std::fs::read(&ks).unwrap();
    let ds = data.to_str().unwrap();
    let mut edited = good.clone();
    let n = edited.len();
    edited[n - 20] ^= 0x01;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("edited", edited, "altered"),
        ("truncated", good[..good.len() / 2].to_vec(), "altered"),
        ("header only", good[..40].to_vec(), "truncated"),
        (
            "foreign",
            b"-----BEGIN OPENSSH PRIVATE KEY-----\n".to_vec(),
            "not a credseal keystore",
        ),
        ("empty", Vec::new(), "not a credseal keystore"),
    ];
    for (name, bytes, expect) in cases {
        std::fs::write(&ks, &bytes).unwrap();
        let o = run(&["keys", "status", "--data", ds]);
        assert_eq!(code(&o), 4, "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("keystore"),
            "{name}: names the file: {}",
            stderr(&o)
        );
    }
    std::fs::write(&ks, &good).unwrap();
    assert_eq!(code(&run(&["keys", "status", "--data", ds])), 0);
    std::fs::remove_file(&ks).unwrap();
    let o = run(&["keys", "status", "--data", ds]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn missing_malformed_or_edited_catalogue() {
    let d = tempfile::tempdir().unwrap();
    let o = run(&[
        "init",
        "--data",
        d.path().join("a").to_str().unwrap(),
        "--catalog",
        "/nonexistent/catalog.toml",
        "--origin",
        "x",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("/nonexistent/catalog.toml"), "{}", stderr(&o));
    let bad = d.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(abs(CATALOG)).unwrap().replacen(
            "consent_required = false",
            "consent_required = maybe",
            1,
        ),
    )
    .unwrap();
    let o = run(&[
        "init",
        "--data",
        d.path().join("b").to_str().unwrap(),
        "--catalog",
        bad.to_str().unwrap(),
        "--origin",
        "x",
        "--kdf-mib",
        "8",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("bad.toml: line "), "{}", stderr(&o));
    assert!(!d.path().join("b").exists(), "a failed init leaves nothing");
    // Edited after init: refused with exit 4.
    let data = ingested(d.path());
    let cat = data.join("catalog.toml");
    let text = std::fs::read_to_string(&cat).unwrap();
    std::fs::write(
        &cat,
        text.replacen("consent_required = true", "consent_required = false", 1),
    )
    .unwrap();
    let o = run(&["keys", "status", "--data", data.to_str().unwrap()]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("catalogue does not match"), "{}", stderr(&o));
}

#[test]
fn not_a_data_directory() {
    let d = tempfile::tempdir().unwrap();
    for dir in [d.path().to_path_buf(), d.path().join("missing")] {
        let o = run(&["keys", "status", "--data", dir.to_str().unwrap()]);
        assert_eq!(code(&o), 1);
        assert!(stderr(&o).contains("not a credseal data directory"), "{}", stderr(&o));
    }
}

#[test]
fn data_directory_locked_by_another_process() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let _held = credseal_store::SledStore::open(&data.join("db"), false).unwrap();
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data.to_str().unwrap(),
        RECORDS,
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).to_lowercase().contains("lock"), "{}", stderr(&o));
}

#[test]
fn read_only_data_directory() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let ds = data.to_str().unwrap();
    // Root ignores permission bits, so make the directory read-only with a read-only bind
    // mount where we can; otherwise with chmod.
    let mounted = Command::new("mount")
        .args(["--bind", ds, ds])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && Command::new("mount")
            .args(["-o", "remount,bind,ro", ds])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !mounted {
        let _ = Command::new("umount").arg(ds).status();
        for f in common::files_under(&data) {
            let _ = Command::new("chmod").args(["a-w", f.to_str().unwrap()]).status();
        }
        let _ = Command::new("chmod").args(["-R", "a-w", ds]).status();
        if std::fs::write(data.join("probe"), b"x").is_ok() {
            eprintln!(
                "read_only_data_directory: cannot make a read-only directory here (root without mount); not asserted"
            );
            return;
        }
    }
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        ds,
        RECORDS,
    ]);
    if mounted {
        let _ = Command::new("umount").arg(ds).status();
    } else {
        let _ = Command::new("chmod").args(["-R", "u+w", ds]).status();
    }
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("read-only") || stderr(&o).contains("permission"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn stored_value_edited_on_disk_is_detected() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    // Find one record ciphertext's bytes in sled's files and flip a byte there.
    let (needle, rec_name) = {
        let store = credseal_store::SledStore::open(&data.join("db"), false).unwrap();
        use credseal_store::Store;
        let (k, v) = store
            .scan_prefix(credseal_store::Tree::Records, &[])
            .nth(7)
            .unwrap()
            .unwrap();
        let _ = k;
        let r = credseal_engine::bundle::SubjectRecords::decode(&v).unwrap();
        let last = r.classes.values().last().unwrap().entries.last().unwrap();
        (last.sealed.clone(), credseal_core::hex(&last.rkey[..8]))
    };
    let mut hit = false;
    for f in common::files_under(&data.join("db")) {
        // Every copy: sled may keep an older page holding the same value next to the live one.
        let mut bytes = std::fs::read(&f).unwrap();
        let at: Vec<usize> = bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == &needle[..])
            .map(|(i, _)| i)
            .collect();
        for pos in &at {
            bytes[pos + needle.len() - 3] ^= 0x10;
        }
        if !at.is_empty() {
            std::fs::write(&f, &bytes).unwrap();
            hit = true;
        }
    }
    assert!(hit, "the ciphertext is stored verbatim somewhere in the database files");
    let o = run(&["check", "--data", data.to_str().unwrap()]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    let e = stderr(&o);
    // sled's own checksums may catch the edit first; otherwise our AEAD names the record.
    eprintln!("stored_value_edited_on_disk_is_detected: {e}");
    assert!(e.contains(&rec_name) || e.to_lowercase().contains("corrupt"), "{e}");
}

#[test]
fn ingest_errors_name_file_line_field_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let data = init(d.path());
    let bad = d.path().join("bad.jsonl");
    let first = std::fs::read_to_string(abs(RECORDS))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&bad, format!("{first}\n{{\"record_id\":1}}\n\u{0}\u{1}\n")).unwrap();
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(e.contains("bad.jsonl:2: record_id: expected a string"), "{e}");
    assert!(e.contains("bad.jsonl:3: line: not valid JSON"), "{e}");
    assert!(e.contains("nothing was written"), "{e}");
    let o = run(&["keys", "status", "--data", data.to_str().unwrap(), "--json"]);
    let st: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        st["classes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["versions"][0]["data_keys"] == 0)
    );
    // A missing file.
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data.to_str().unwrap(),
        "/nonexistent.jsonl",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("/nonexistent.jsonl"));
}

#[test]
fn demo_keys_refused_without_demo_flag() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("demo");
    let ks = abs("../../keys-example/platform.keystore");
    let o = bin()
        .env("CREDSEAL_PASSPHRASE", "credseal-demo-only")
        .args([
            "init",
            "--data",
            data.to_str().unwrap(),
            "--catalog",
            CATALOG,
            "--keystore",
            &ks,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("public demo keys"), "{}", stderr(&o));
    assert!(!data.exists());
    let o = bin()
        .env("CREDSEAL_PASSPHRASE", "credseal-demo-only")
        .args([
            "--demo",
            "init",
            "--data",
            data.to_str().unwrap(),
            "--catalog",
            CATALOG,
            "--keystore",
            &ks,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = bin()
        .env("CREDSEAL_PASSPHRASE", "credseal-demo-only")
        .args(["keys", "status", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("public demo keys"), "{}", stderr(&o));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["frobnicate"][..],
        &["ingest"],
        &["init", "--data", "x"],
        &["bench", "ingest", "--subjects", "0"],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    assert_eq!(code(&run(&["--help"])), 0);
}

#[test]
fn policy_settings_in_the_config_are_checked_and_applied() {
    let d = tempfile::tempdir().unwrap();
    let data = init(d.path());
    let cfg = data.join("credseal.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[policy]\nmax_token_lifetime_secs = 100000\n")).unwrap();
    let o = run(&["keys", "status", "--data", data.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("credseal.toml") && stderr(&o).contains("max_token_lifetime_secs"),
        "{}",
        stderr(&o)
    );
    // The policy is part of the trust state: it changes with `officer set-policy` (which
    // leaves a receipt), not by editing the file (see tests/attack_trust.rs).
    std::fs::write(&cfg, &text).unwrap();
    let ds = data.to_str().unwrap();
    let o = run(&[
        "officer",
        "set-policy",
        "--data",
        ds,
        "--max-token-lifetime-secs",
        "100000",
    ]);
    assert_eq!(code(&o), 2, "out of range: {}", stderr(&o));
    assert!(stderr(&o).contains("max_token_lifetime_secs"), "{}", stderr(&o));
    // Setting the policy needs two officers' approvals (tests/attack_trust.rs): two
    // officers enrolled by the authority's staff orders.
    let p = |rel: &str| d.path().join(rel).display().to_string();
    assert_eq!(
        code(&run(&["authority", "keygen", "--unencrypted", "--out", &p("auth.key")])),
        0
    );
    assert_eq!(
        code(&run(&["authority", "trust", "--data", ds, "--key", &p("auth.key.pub")])),
        0
    );
    let op = "set policy max_skew_secs 120 max_token_lifetime_secs 60 max_consent_lifetime_secs 34560000";
    let mut set = vec![
        "officer".to_string(),
        "set-policy".into(),
        "--data".into(),
        ds.into(),
        "--max-token-lifetime-secs".into(),
        "60".into(),
    ];
    for name in ["officer-a", "officer-b"] {
        let key = p(name);
        assert_eq!(code(&run(&["officer", "keygen", "--unencrypted", "--out", &key])), 0);
        let o = common::enroll_staff(
            &|a: &[&str]| run(a),
            d.path(),
            ds,
            "test.credseal.invalid/log",
            Some(&p("auth.key")),
            "officer",
            name,
            &format!("{key}.pub"),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let out = p(&format!("policy-approval-{name}"));
        let o = run(&[
            "officer",
            "approve",
            "--key",
            &key,
            "--operation",
            op,
            "--audience",
            "test.credseal.invalid/log",
            "--out",
            &out,
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        set.extend(["--approval".into(), out]);
    }
    let set: Vec<&str> = set.iter().map(String::as_str).collect();
    let o = run(&set);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // A 300-second token is now over the policy.
    assert_eq!(
        code(&run(&["dept", "keygen", "--unencrypted", "--out-dir", &p("bank")])),
        0
    );
    let o = run(&[
        "authority",
        "enroll",
        "--key",
        &p("auth.key"),
        "--serial",
        "5",
        "--department",
        "bank-a",
        "--name",
        "Bank A",
        "--signing-key",
        &p("bank/signing.pub"),
        "--sealing-key",
        &p("bank/sealing.pub"),
        "--classes",
        "identity",
        "--purposes",
        "loan-approval",
        "--audience",
        "test.credseal.invalid/log",
        "--out",
        &p("cred"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "dept",
        "query",
        "--key",
        &p("bank/signing.key"),
        "--credential",
        &p("cred"),
        "--subject",
        "11010519491231002X",
        "--classes",
        "identity",
        "--purpose",
        "loan-approval",
        "--audience",
        "test.credseal.invalid/log",
        "--ttl",
        "300",
        "--out",
        &p("tok"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "query",
        "--data",
        ds,
        "--credential",
        &p("cred"),
        "--token",
        &p("tok"),
        "--out",
        &p("ans"),
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("access denied (lifetime-over-policy)"),
        "{}",
        stderr(&o)
    );
    assert!(!d.path().join("ans").exists(), "nothing released");
}

/// Two officers enrolled on `data`; returns a function writing both approvals of an operation.
fn officers(dir: &Path, data: &str) -> impl Fn(&str) -> Vec<String> {
    let mut keys = Vec::new();
    for name in ["officer-a", "officer-b"] {
        let key = dir.join(name).display().to_string();
        let o = run(&["officer", "keygen", "--unencrypted", "--out", &key]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let o = common::enroll_staff(
            &|a: &[&str]| run(a),
            dir,
            data,
            "test.credseal.invalid/log",
            None,
            "officer",
            name,
            &format!("{key}.pub"),
        );
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
                let o = run(&[
                    "officer",
                    "approve",
                    "--key",
                    key,
                    "--operation",
                    op,
                    "--audience",
                    "test.credseal.invalid/log",
                    "--out",
                    &out,
                ]);
                assert_eq!(code(&o), 0, "{}", stderr(&o));
                out
            })
            .collect()
    }
}

/// `args` followed by `--approval FILE` for each file.
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

#[test]
fn officer_commands_and_the_staff_forms_are_interchangeable() {
    // `officer keygen|enroll|approve` is the documented form; `staff … --role officer` and
    // `staff approve` (what earlier scripts and the responders' instructions use) still work
    // and make the same keys, enrolments and approvals.
    let d = tempfile::tempdir().unwrap();
    let data = init(d.path());
    let data = data.to_str().unwrap();
    let (a, b) = (
        d.path().join("a.key").display().to_string(),
        d.path().join("b.key").display().to_string(),
    );
    let o = run(&["officer", "keygen", "--unencrypted", "--out", &a]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("cs1.public-key."), "{}", stdout(&o));
    assert_eq!(code(&run(&["staff", "keygen", "--unencrypted", "--out", &b])), 0);
    // Enrolments need the authority's staff order (or two officers' approvals).
    let auth = d.path().join("auth.key").display().to_string();
    assert_eq!(code(&run(&["authority", "keygen", "--unencrypted", "--out", &auth])), 0);
    let o = run(&["authority", "trust", "--data", data, "--key", &format!("{auth}.pub")]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let order = |op: String, out: &str| {
        let out = d.path().join(out).display().to_string();
        let o = run(&[
            "staff",
            "order",
            "--key",
            &auth,
            "--operation",
            &op,
            "--audience",
            "test.credseal.invalid/log",
            "--out",
            &out,
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        out
    };
    let hex = |f: &str| {
        credseal_auth::PublicKey::from_text(std::fs::read_to_string(f).unwrap().trim())
            .unwrap()
            .to_hex()
    };
    let order_a = order(
        format!("enroll officer off-a key {}", hex(&format!("{a}.pub"))),
        "a.order",
    );
    let order_b = order(
        format!("enroll officer off-b key {}", hex(&format!("{b}.pub"))),
        "b.order",
    );
    let o = run(&[
        "officer",
        "enroll",
        "--data",
        data,
        "--id",
        "off-a",
        "--key",
        &format!("{a}.pub"),
        "--order",
        &order_a,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("enrolled off-a as officer"), "{}", stdout(&o));
    // The role is implied: `officer enroll --role …` is a usage error.
    let o = run(&[
        "officer",
        "enroll",
        "--data",
        data,
        "--role",
        "responder",
        "--id",
        "x",
        "--key",
        &format!("{b}.pub"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let o = run(&[
        "staff",
        "enroll",
        "--data",
        data,
        "--role",
        "officer",
        "--id",
        "off-b",
        "--key",
        &format!("{b}.pub"),
        "--order",
        &order_b,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // One approval of each form: together they are two officers' approvals.
    let st: serde_json::Value =
        serde_json::from_slice(&run(&["keys", "status", "--data", data, "--json"]).stdout).unwrap();
    let op = format!("rotate log key {}", st["log_keys"][0]["key_id"].as_str().unwrap());
    let mut files = Vec::new();
    for (group, key) in [("officer", &a), ("staff", &b)] {
        let out = d.path().join(format!("{group}.approval")).display().to_string();
        let o = run(&[
            group,
            "approve",
            "--key",
            key,
            "--operation",
            &op,
            "--audience",
            "test.credseal.invalid/log",
            "--out",
            &out,
        ]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        files.push(out);
    }
    let o = run_owned(&with_approvals(&["keys", "log-rotate", "--data", data], &files));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("approved by off-a, off-b"), "{}", stdout(&o));
}

#[test]
fn keys_lifecycle_through_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let data = data.to_str().unwrap();
    let approve = officers(d.path(), data);
    let o = run(&["keys", "rotate", "--data", data, "--class", "loans", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["primary"], 2);
    // Without approvals: refused (exit 3), and the message says how to get them.
    let o = run(&[
        "keys",
        "retire",
        "--data",
        data,
        "--class",
        "loans",
        "--kek-version",
        "1",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("officer approve") && stderr(&o).contains("retire loans v1"),
        "{}",
        stderr(&o)
    );
    // One officer's approval twice: refused.
    let one = approve("retire loans v1");
    let o = run_owned(&with_approvals(
        &[
            "keys",
            "retire",
            "--data",
            data,
            "--class",
            "loans",
            "--kek-version",
            "1",
        ],
        &[one[0].clone(), one[0].clone()],
    ));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // Retiring the primary is refused with a usage error (2); a version still in use with
    // an error of the store's state (1: the command was right, `keys rewrap` comes first).
    for (ver, msg, exit) in [("2", "primary", 2), ("1", "keys rewrap", 1)] {
        let files = approve(&format!("retire loans v{ver}"));
        let o = run_owned(&with_approvals(
            &[
                "keys",
                "retire",
                "--data",
                data,
                "--class",
                "loans",
                "--kek-version",
                ver,
            ],
            &files,
        ));
        assert_eq!(code(&o), exit, "{}", stderr(&o));
        assert!(stderr(&o).contains(msg), "{}", stderr(&o));
    }
    let o = run(&["keys", "rewrap", "--data", data]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("loans: ") && stdout(&o).contains("v1 -> v2"),
        "{}",
        stdout(&o)
    );
    let files = approve("retire loans v1");
    let retire = with_approvals(
        &[
            "keys",
            "retire",
            "--data",
            data,
            "--class",
            "loans",
            "--kek-version",
            "1",
        ],
        &files,
    );
    let o = run_owned(&retire);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("KEK v1 destroyed"), "{}", stdout(&o));
    // The same approvals again: used up.
    let o = run_owned(&retire);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let o = run(&["keys", "status", "--data", data, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let loans = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "loans")
        .unwrap();
    assert_eq!(loans["versions"].as_array().unwrap().len(), 1, "{v}");
    // Re-key one subject's class; a subject with no records is reported, not a crash.
    let files = approve("rekey 42010619960510907X loans");
    let o = run_owned(&with_approvals(
        &[
            "keys",
            "rekey",
            "--data",
            data,
            "--subject",
            "42010619960510907X",
            "--class",
            "loans",
        ],
        &files,
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("re-encrypted"), "{}", stdout(&o));
    let files = approve("rekey 11010519491231002X loans");
    let o = run_owned(&with_approvals(
        &[
            "keys",
            "rekey",
            "--data",
            data,
            "--subject",
            "11010519491231002X",
            "--class",
            "loans",
        ],
        &files,
    ));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = run(&[
        "keys",
        "rekey",
        "--data",
        data,
        "--subject",
        "not-an-id",
        "--class",
        "loans",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A credit-repair shred of one record, on the authority's signed order.
    let authority = authority_trusted(d.path(), data);
    let order = order_shred(
        d.path(),
        &authority,
        "42010619960510907X",
        "loans",
        "LN-2025-000124",
        "CR-9",
    );
    let files = approve("shred 42010619960510907X loans LN-2025-000124 order CR-9");
    let o = run_owned(&with_approvals(
        &["shred", "--data", data, "--order", &order, "--json"],
        &files,
    ));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], 1, "{v}");
    // The retention sweep today: nothing in the example data has expired.
    let today =
        credseal_core::Date::from_unix(credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap()).unwrap();
    let files = approve(&format!("shred expired {today}"));
    let o = run_owned(&with_approvals(&["shred", "--data", data, "--expired"], &files));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("nothing to shred") || stdout(&o).contains("destroyed"),
        "{}",
        stdout(&o)
    );
    let o = run(&["check", "--data", data]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["log", "verify", "--data", data]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// An authority key (FILE, FILE.pub) that the platform in `data` trusts: the one
/// `common::enroll_staff` made and trusted for the officers, if it did (replacing a trusted
/// authority key needs two officers' approvals, see tests/attack_trust.rs), else a fresh one.
fn authority_trusted(dir: &Path, data: &str) -> String {
    let staff_authority = dir.join("staff-authority.key").display().to_string();
    if Path::new(&staff_authority).exists() {
        return staff_authority;
    }
    let key = dir.join("authority.key").display().to_string();
    if !Path::new(&key).exists() {
        let o = run(&["authority", "keygen", "--unencrypted", "--out", &key]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let o = run(&[
        "authority",
        "trust",
        "--data",
        data,
        "--key",
        &format!("{key}.pub"),
        "--replace",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    key
}

/// `authority order-shred` with `key` for this test platform; returns the order file.
fn order_shred(dir: &Path, key: &str, subject: &str, class: &str, record: &str, reference: &str) -> String {
    order_shred_for(dir, key, subject, class, record, reference, "test.credseal.invalid/log")
}

fn order_shred_for(
    dir: &Path,
    key: &str,
    subject: &str,
    class: &str,
    record: &str,
    reference: &str,
    audience: &str,
) -> String {
    let out = dir
        .join(format!("order-{reference}-{}", std::process::id()))
        .display()
        .to_string();
    let _ = std::fs::remove_file(&out);
    let o = run(&[
        "authority",
        "order-shred",
        "--key",
        key,
        "--subject",
        subject,
        "--class",
        class,
        "--record",
        record,
        "--ref",
        reference,
        "--audience",
        audience,
        "--out",
        &out,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("shred order {reference}")),
        "{}",
        stdout(&o)
    );
    out
}

#[test]
fn shred_order_file_through_the_cli() {
    const SUBJECT: &str = "42010619960510907X";
    const RECORD: &str = "LN-2025-000124";
    let d = tempfile::tempdir().unwrap();
    let data = ingested(d.path());
    let data = data.to_str().unwrap();
    let approve = officers(d.path(), data);
    let authority = authority_trusted(d.path(), data);
    let shred =
        |order: &str, files: &[String]| run_owned(&with_approvals(&["shred", "--data", data, "--order", order], files));
    // A bad reference, record id or subject is a usage error when the order is made.
    for (flag, value) in [("--ref", "has space"), ("--record", "a b"), ("--subject", "110105")] {
        let mut args = vec![
            "authority",
            "order-shred",
            "--key",
            &authority,
            "--subject",
            SUBJECT,
            "--class",
            "loans",
            "--record",
            RECORD,
            "--ref",
            "CR-1",
            "--audience",
            "x",
            "--out",
        ];
        let out = d.path().join("never").display().to_string();
        args.push(&out);
        let i = args.iter().position(|a| *a == flag).unwrap();
        args[i + 1] = value;
        let o = run(&args);
        assert_eq!(code(&o), 2, "{flag}: {}", stderr(&o));
    }
    let order = order_shred(d.path(), &authority, SUBJECT, "loans", RECORD, "CR-2026-17");
    assert!(std::fs::read_to_string(&order).unwrap().starts_with("cs1.shred-order."));
    // Without approvals: exit 3, naming the operation to approve.
    let op = format!("shred {SUBJECT} loans {RECORD} order CR-2026-17");
    let o = shred(&order, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&op) && stderr(&o).contains("officer approve"),
        "{}",
        stderr(&o)
    );
    // Signed by another key than the trusted authority: a forgery, exit 4.
    let rogue = d.path().join("rogue.key").display().to_string();
    assert_eq!(
        code(&run(&["authority", "keygen", "--unencrypted", "--out", &rogue])),
        0
    );
    let forged = order_shred(d.path(), &rogue, SUBJECT, "loans", RECORD, "CR-FORGED");
    let o = shred(&forged, &approve(&op));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not signed by the trusted authority"),
        "{}",
        stderr(&o)
    );
    // Tampered: the order's text edited (one character of its payload): exit 4.
    let text = std::fs::read_to_string(&order).unwrap();
    let mut b = text.trim().as_bytes().to_vec();
    let i = b.len() - 90;
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let tampered = d.path().join("tampered").display().to_string();
    std::fs::write(&tampered, &b).unwrap();
    let o = shred(&tampered, &approve(&op));
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    // For another platform: exit 3.
    let elsewhere = order_shred_for(
        d.path(),
        &authority,
        SUBJECT,
        "loans",
        RECORD,
        "CR-ELSE",
        "other.invalid/log",
    );
    let o = shred(&elsewhere, &approve(&op));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong-audience"), "{}", stderr(&o));
    // A record that does not exist: a clear error, exit 1, and no approval is asked for.
    let nope = order_shred(d.path(), &authority, SUBJECT, "loans", "LN-NOPE", "CR-NOPE");
    let o = shred(&nope, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("no record \"LN-NOPE\""), "{}", stderr(&o));
    // The order carried out; the subject's receipt names it.
    let o = shred(&order, &approve(&op));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 record(s) of 1 subject(s) destroyed"),
        "{}",
        stdout(&o)
    );
    // Again: already shredded, exit 1.
    let o = shred(&order, &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("already shredded"), "{}", stderr(&o));
    // The old flag form is gone: --order takes the signed file.
    let o = run(&["shred", "--data", data, "--order", "CR-9", "--subject", SUBJECT]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    // The tombstone: the record is refused again, unless explicitly allowed.
    let line = std::fs::read_to_string(abs(RECORDS))
        .unwrap()
        .lines()
        .find(|l| l.contains(RECORD))
        .unwrap()
        .to_string();
    let again = d.path().join("again.jsonl");
    std::fs::write(&again, format!("{line}\n")).unwrap();
    let again = again.to_str().unwrap();
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data,
        again,
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("was shredded") && stderr(&o).contains("--allow-shredded"),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        data,
        again,
        "--allow-shredded",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["written"].as_u64(), v["reingested_shredded"].as_u64()),
        (Some(1), Some(1))
    );
    let o = run(&["check", "--data", data]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn bench_rewrap_reports_its_floor() {
    let o = run(&["bench", "rewrap", "--subjects", "300", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["data_keys"], 2100);
    assert!(v["ratio_to_floor"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(code(&run(&["bench", "rewrap", "--subjects", "0"])), 2);
}

/// `credseal … | head -1`: a reader that goes away ends the command quietly, with the status
/// a shell reports for SIGPIPE (141), never a panic and a backtrace (the keys are written
/// before anything is printed).
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let d = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = d.path().join("subject");
    let o = bin()
        .args(["subject", "keygen", "--unencrypted", "--out-dir", out.to_str().unwrap()])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(141), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(out.join("signing.key").exists());
}

/// A device or an endless stream given as a file is read only up to its kind's limit and
/// refused with the limit named (bounded memory, at once), never read whole.
#[test]
fn an_endless_file_is_refused_at_its_limit() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let o = bin()
        .args([
            "receipts",
            "verify",
            "--vkey",
            "/dev/zero",
            "--vrf-key",
            "/dev/zero",
            "--subject",
            "42010619960510907X",
            "--state",
        ])
        .arg(&state)
        .arg("/dev/zero")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/zero: larger than 64 KiB: not a key file"),
        "{}",
        stderr(&o)
    );
    // A text file kind (a catalogue, a batch, a bundle): its limit is 64 MiB.
    let o = bin()
        .env("CREDSEAL_PASSPHRASE", "x")
        .args(["init", "--data"])
        .arg(d.path().join("data"))
        .args(["--catalog", "/dev/zero", "--origin", "t.invalid/log"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/zero: larger than 64 MiB"), "{}", stderr(&o));
    assert!(!d.path().join("data").exists(), "nothing written");
}

/// `-` reads standard input through the same bounded reader: an endless stream given as a
/// key or as a text file stops at that kind's limit, with the limit and "standard input"
/// named, instead of growing until the machine runs out of memory.
#[test]
fn an_endless_stdin_is_refused_at_its_limit() {
    let d = tempfile::tempdir().unwrap();
    let zero = || std::fs::File::open("/dev/zero").unwrap();
    let o = bin()
        .args([
            "dept",
            "query",
            "--key",
            "-",
            "--credential",
            "c",
            "--subject",
            "42010619960510907X",
        ])
        .args([
            "--classes",
            "identity",
            "--purpose",
            "p",
            "--legal-basis",
            "b",
            "--audience",
            "a",
            "--out",
            "-",
        ])
        .stdin(zero())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("standard input: larger than 64 KiB: not a key file"),
        "{}",
        stderr(&o)
    );
    assert!(common::no_result(&o));
    let key = d.path().join("dept");
    let o = bin()
        .args(["dept", "keygen", "--unencrypted", "--out-dir"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = bin()
        .args(["dept", "query", "--key"])
        .arg(key.join("signing.key"))
        .args(["--credential", "-", "--subject", "42010619960510907X"])
        .args([
            "--classes",
            "identity",
            "--purpose",
            "p",
            "--legal-basis",
            "b",
            "--audience",
            "a",
            "--out",
            "-",
        ])
        .stdin(zero())
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("standard input: larger than 1 MiB: not a signed object"),
        "{}",
        stderr(&o)
    );
    assert!(common::no_result(&o));
}
