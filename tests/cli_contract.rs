//! What the outside review of the CLI contract broke (docs/json.md), attacked again through
//! the binary: an answer lost after its token was spent, unbounded TLS files and ingest
//! streams, a full standard output, a device node replaced by a state file.

mod common;

use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env("CREDSEAL_PASSPHRASE", "contract test passphrase");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

fn platform(dir: &std::path::Path) -> String {
    let data = dir.join("data").display().to_string();
    let o = run(&[
        "init",
        "--data",
        &data,
        "--catalog",
        CATALOG,
        "--origin",
        "t.invalid/log",
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    data
}

/// `query --out` naming an existing file (or a missing directory) is refused before the
/// query runs: no receipt, and the token still works.
#[test]
fn a_query_whose_answer_cannot_be_written_is_refused_before_it_runs() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let size = |data: &str| {
        let o = run(&["log", "verify", "--data", data, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["size"].as_u64().unwrap()
    };
    let before = size(&data);
    let existing = d.path().join("answer");
    std::fs::write(&existing, "keep me").unwrap();
    for out in [
        existing.display().to_string(),
        d.path().join("no/such/dir/answer").display().to_string(),
    ] {
        let o = run(&[
            "query",
            "--data",
            &data,
            "--credential",
            "/nonexistent-cred",
            "--token",
            "/nonexistent-token",
            "--out",
            &out,
            "--json",
        ]);
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            e["message"].as_str().unwrap().contains(&out)
                || e["message"].as_str().unwrap().contains("no such directory"),
            "the --out problem is named, not the token's: {e}"
        );
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert_eq!(size(&data), before, "no receipt was written");
}

/// TLS files and ingest files are read with a limit: `/dev/zero` in their place fails at
/// once, naming the file, instead of growing memory or reading forever.
#[test]
fn endless_tls_and_ingest_files_stop_at_their_limit() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let o = run(&[
        "serve",
        "--data",
        &data,
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/dev/zero",
        "--tls-key",
        "/dev/zero",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/zero: larger than 1 MiB"), "{}", stderr(&o));
    let o = run(&[
        "witness",
        "serve",
        "--key",
        "/nonexistent",
        "--state",
        &d.path().join("ws").display().to_string(),
        "--log-vkey",
        "/nonexistent",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "/dev/zero",
        "--tls-key",
        "/dev/zero",
    ]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op",
        "--data",
        &data,
        "/dev/zero",
        "--json",
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("stopped reading"), "{}", stderr(&o));
    assert!(common::no_result(&o), "{}", stdout(&o));
}

/// A full standard output is an error (exit 1), not a panic.
#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = bin()
        .args(["version", "--json"])
        .env_remove("RUST_BACKTRACE")
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("writing standard output"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

/// A saved state is never renamed over something that is not a regular file (run as root,
/// `--state /dev/zero` once replaced the device node).
#[test]
fn a_state_file_never_replaces_a_device_or_socket() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let sock = d.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let o = run(&["log", "verify", "--data", &data, "--state", &sock.display().to_string()]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt as _;
    assert!(
        std::fs::symlink_metadata(&sock).unwrap().file_type().is_socket(),
        "the socket is still there"
    );
}

/// Keys for the flag tests: an authority and a department (unencrypted, in `dir`).
fn keys(dir: &std::path::Path) -> (String, String) {
    let auth = dir.join("authority.key").display().to_string();
    let dept = dir.join("bank").display().to_string();
    let o = run(&["authority", "keygen", "--out", &auth, "--unencrypted"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&["dept", "keygen", "--out-dir", &dept, "--unencrypted"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (auth, dept)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// Durations are strings (`15m`, `30d`) or bare seconds; the old spellings (`--days`,
/// `--audience`) still work but are not shown; every time comes with its RFC 3339 twin;
/// bad durations and empty lists are usage errors.
#[test]
fn durations_aliases_and_rfc3339_times() {
    let d = tempfile::tempdir().unwrap();
    let (auth, bank) = keys(d.path());
    let enroll = |extra: &[&str], out: &str| {
        let mut args = vec![
            "authority",
            "enroll",
            "--key",
            &auth,
            "--serial",
            "7",
            "--department",
            "bank-a",
            "--name",
            "Bank A",
            "--signing-key",
        ];
        let sk = format!("{bank}/signing.pub");
        let ek = format!("{bank}/sealing.pub");
        let out = d.path().join(out).display().to_string();
        args.extend([
            sk.as_str(),
            "--sealing-key",
            ek.as_str(),
            "--not-before",
            "1796644800",
            "--out",
            &out,
            "--json",
        ]);
        args.extend(extra);
        run(&args)
    };
    // The new spellings.
    let o = enroll(
        &[
            "--classes",
            "loans",
            "--purposes",
            "loan-approval",
            "--origin",
            "t.invalid/log",
            "--valid-for",
            "30d",
        ],
        "a.cred",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["schema"], "credseal/credential/v1");
    assert_eq!(v["version"], 1);
    assert_eq!(v["not_before"], 1_796_644_800u64);
    assert_eq!(v["not_before_rfc3339"], "2026-12-07T12:00:00Z");
    assert_eq!(v["not_after"], 1_796_644_800u64 + 30 * 86_400);
    assert_eq!(v["not_after_rfc3339"], "2027-01-06T12:00:00Z");
    // The old spellings, hidden aliases for one release: `--days N` still means days.
    let o = enroll(
        &[
            "--classes",
            "loans",
            "--purposes",
            "loan-approval",
            "--audience",
            "t.invalid/log",
            "--days",
            "2",
        ],
        "b.cred",
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(json(&o)["not_after"], 1_796_644_800u64 + 2 * 86_400);
    // Both at once, a duration that is not one, an empty list: usage errors, no file.
    for (extra, needle) in [
        (
            &[
                "--classes",
                "loans",
                "--purposes",
                "p",
                "--origin",
                "o",
                "--valid-for",
                "1d",
                "--days",
                "1",
            ][..],
            "--days",
        ),
        (
            &[
                "--classes",
                "loans",
                "--purposes",
                "p",
                "--origin",
                "o",
                "--valid-for",
                "15 minutes ago",
            ][..],
            "--valid-for",
        ),
        (
            &[
                "--classes",
                "loans",
                "--purposes",
                "p",
                "--origin",
                "o",
                "--valid-for",
                "0.5s",
            ][..],
            "--valid-for",
        ),
        (
            &["--classes", " , ", "--purposes", "p", "--origin", "o"][..],
            "--classes",
        ),
        (
            &["--classes", "loans", "--purposes", ",", "--origin", "o"][..],
            "--purposes",
        ),
    ] {
        let o = enroll(extra, "c.cred");
        assert_eq!(code(&o), 2, "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
        assert!(common::no_result(&o), "{}", stdout(&o));
        assert!(!d.path().join("c.cred").exists(), "{extra:?} wrote a credential");
    }
    // `--help` shows the new names only.
    let o = run(&["authority", "enroll", "--help"]);
    let help = stdout(&o);
    assert!(
        help.contains("--origin <ORIGIN>") && help.contains("--valid-for <DURATION>"),
        "{help}"
    );
    assert!(!help.contains("--audience") && !help.contains("--days"), "{help}");
    // A token's lifetime as a duration string.
    let cred = d.path().join("a.cred").display().to_string();
    let tok = d.path().join("t.txt").display().to_string();
    let o = run(&[
        "dept",
        "query",
        "--key",
        &format!("{bank}/signing.key"),
        "--credential",
        &cred,
        "--subject",
        "11010519491231002X",
        "--classes",
        "loans",
        "--purpose",
        "loan-approval",
        "--origin",
        "t.invalid/log",
        "--ttl",
        "15m",
        "--issued-at",
        "1796644800",
        "--out",
        &tok,
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["expires_at"], 1_796_644_800u64 + 900);
    assert_eq!(v["issued_at_rfc3339"], "2026-12-07T12:00:00Z");
    assert_eq!(v["expires_at_rfc3339"], "2026-12-07T12:15:00Z");
    // An officer's approval: --valid-for, or the old --valid-mins in minutes.
    let off = d.path().join("officer.key").display().to_string();
    let o = run(&["officer", "keygen", "--out", &off, "--unencrypted"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for (flag, value, secs) in [
        ("--valid-for", "2h", 7200u64),
        ("--valid-mins", "5", 300),
        ("--valid-for", "600", 600),
    ] {
        let o = run(&[
            "officer",
            "approve",
            "--key",
            &off,
            "--operation",
            "retire loans v1",
            "--origin",
            "o",
            flag,
            value,
            "--out",
            "-",
        ]);
        assert_eq!(code(&o), 0, "{flag} {value}: {}", stderr(&o));
        let out = d.path().join(format!("approval{secs}"));
        let o = run(&[
            "officer",
            "approve",
            "--key",
            &off,
            "--operation",
            "retire loans v1",
            "--origin",
            "o",
            flag,
            value,
            "--out",
            &out.display().to_string(),
            "--json",
        ]);
        let v = json(&o);
        assert_eq!(
            v["expires_at"].as_u64().unwrap() - v["issued_at"].as_u64().unwrap(),
            secs,
            "{v}"
        );
    }
    let o = run(&[
        "officer",
        "approve",
        "--key",
        &off,
        "--operation",
        "x",
        "--origin",
        "o",
        "--valid-for",
        "30s",
        "--out",
        "-",
    ]);
    assert_eq!(code(&o), 2, "below the minute: {}", stderr(&o));
    // The log key is --log-key everywhere; --vkey still works, hidden.
    for cmd in [
        &["receipts", "verify"][..],
        &["log", "verify"],
        &["log", "monitor"],
        &["witness", "serve"],
    ] {
        let o = run(&[cmd, &["--help"]].concat());
        let help = stdout(&o);
        assert!(
            help.contains("--log-key <FILE>") && !help.contains("--vkey") && !help.contains("--log-vkey"),
            "{cmd:?}: {help}"
        );
    }
    // A consent that allows no query is refused.
    let o = run(&[
        "subject",
        "consent",
        "--key",
        &auth,
        "--department",
        "bank-a",
        "--classes",
        "loans",
        "--purpose",
        "p",
        "--max-uses",
        "0",
        "--origin",
        "o",
        "--out",
        "-",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--max-uses"), "{}", stderr(&o));
}

/// `--help --json` and `version --json` are documents; `--json=true` gets the usage error
/// as a document.
#[test]
fn help_and_version_as_json() {
    let o = run(&["dept", "query", "--help", "--json"]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(v["schema"], "credseal/help/v1");
    assert!(v["text"].as_str().unwrap().contains("--ttl <DURATION>"), "{v}");
    let o = run(&["version", "--json"]);
    let v = json(&o);
    assert!(v["release"].is_string() && v["built_at"].is_u64(), "{v}");
    assert!(v["built_at_rfc3339"].as_str().unwrap().ends_with('Z'), "{v}");
    let o = run(&["version", "--json=true"]);
    assert_eq!(code(&o), 2);
    assert!(common::no_result(&o), "{}", stdout(&o));
    assert_eq!(json(&o)["class"], "usage");
}

/// A revocation list that could not be installed is not left behind (the next list would
/// name it as --previous although the platform never had it).
#[test]
fn a_revocation_list_that_failed_to_install_is_not_left_behind() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let (auth, _) = keys(d.path());
    // The platform trusts no authority yet: the install fails.
    let out = d.path().join("revocations-v1");
    let o = run(&[
        "authority",
        "revoke",
        "--key",
        &auth,
        "--serial",
        "9",
        "--origin",
        "t.invalid/log",
        "--out",
        &out.display().to_string(),
        "--data",
        &data,
    ]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(!out.exists(), "the list was left behind: {}", stderr(&o));
    assert!(!stdout(&o).contains("written to"), "{}", stdout(&o));
}

/// `dept query --server` with the log key of another platform stops before it sends the
/// token (the answer could not be checked, and sending spends the token): a usage error,
/// not a connection error to the (closed) port.
#[test]
fn a_query_with_another_platforms_log_key_is_not_sent() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let (auth, bank) = keys(d.path());
    let cred = d.path().join("a.cred").display().to_string();
    let o = run(&[
        "authority",
        "enroll",
        "--key",
        &auth,
        "--serial",
        "7",
        "--department",
        "bank-a",
        "--name",
        "A",
        "--signing-key",
        &format!("{bank}/signing.pub"),
        "--sealing-key",
        &format!("{bank}/sealing.pub"),
        "--classes",
        "loans",
        "--purposes",
        "p",
        "--origin",
        "other.invalid/log",
        "--out",
        &cred,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let tok = d.path().join("t.txt");
    let o = run(&[
        "dept",
        "query",
        "--key",
        &format!("{bank}/signing.key"),
        "--credential",
        &cred,
        "--subject",
        "11010519491231002X",
        "--classes",
        "loans",
        "--purpose",
        "p",
        "--origin",
        "other.invalid/log",
        "--out",
        &tok.display().to_string(),
        "--server",
        "https://127.0.0.1:9",
        "--sealing-key",
        &format!("{bank}/sealing.key"),
        "--log-key",
        &format!("{data}/log-key.pub"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was sent"), "{}", stderr(&o));
    assert!(!tok.exists());
}

/// A signed object (token, credential, consent, approval) is read up to 1 MiB, not 64.
#[test]
fn a_signed_object_file_is_bounded_at_one_mib() {
    let d = tempfile::tempdir().unwrap();
    let data = platform(d.path());
    let big = d.path().join("big-token");
    std::fs::write(&big, vec![b'a'; (1 << 20) + 1]).unwrap();
    let o = run(&[
        "query",
        "--data",
        &data,
        "--credential",
        &big.display().to_string(),
        "--token",
        "/dev/zero",
        "--out",
        &d.path().join("ans").display().to_string(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 MiB") || stderr(&o).contains("1048576"),
        "{}",
        stderr(&o)
    );
}

/// What the second outside review found, attacked again through the binary.
#[test]
fn second_review_findings_hold() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).display().to_string();
    // `--state -` would read no saved state (so a rolled-back log passed) and write a file
    // named `-`: refused, like `-` for a directory.
    for args in [
        &[
            "receipts",
            "verify",
            "--log-key",
            "k",
            "--vrf-key",
            "v",
            "--subject",
            "42010619960510907X",
            "--state",
            "-",
            "b",
        ][..],
        &["log", "verify", "--tiles", "t", "--log-key", "k", "--state", "-"],
        &["man", "--out-dir", "-"],
        &["backup", "--data", "x", "--out", "-"],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot be used here"), "{args:?}: {}", stderr(&o));
    }
    assert!(!std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("-").exists());
    // Two inputs from standard input: refused before either is read.
    let o = run(&[
        "--passphrase-file",
        "-",
        "query",
        "--data",
        "x",
        "--credential",
        "c",
        "--token",
        "-",
        "--out",
        "-",
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("only one file argument can be -"), "{}", stderr(&o));
    // A keygen whose `.pub` (or any file of a pair) exists writes nothing at all.
    std::fs::write(p("a.key.pub"), "old public key\n").unwrap();
    let o = run(&["authority", "keygen", "--out", &p("a.key"), "--unencrypted"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        !d.path().join("a.key").exists(),
        "a secret key beside an unrelated .pub"
    );
    std::fs::create_dir(p("dk")).unwrap();
    std::fs::write(p("dk/sealing.pub"), "old\n").unwrap();
    let o = run(&["dept", "keygen", "--out-dir", &p("dk"), "--unencrypted"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(p("dk"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("sealing.pub")], "{left:?}");
    // A withdrawal that cannot be installed is not left behind.
    let o = run(&["subject", "keygen", "--out-dir", &p("me"), "--unencrypted"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "subject",
        "consent",
        "--key",
        &p("me/signing.key"),
        "--subject",
        "42010619960510907X",
        "--department",
        "bank-a",
        "--classes",
        "loans",
        "--purpose",
        "p",
        "--origin",
        "t.invalid/log",
        "--out",
        &p("c1"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "subject",
        "withdraw",
        "--key",
        &p("me/signing.key"),
        "--consent",
        &p("c1"),
        "--out",
        &p("wd1"),
        "--data",
        &p("nowhere"),
    ]);
    assert_ne!(code(&o), 0, "{}", stderr(&o));
    assert!(!d.path().join("wd1").exists(), "the withdrawal was left behind");
    assert!(!stdout(&o).contains("written to"), "{}", stdout(&o));
    // Validity bounds and an empty origin.
    let me_key = p("me/signing.key");
    for (args, needle) in [
        (&["--valid-for", "0"][..], "--valid-for"),
        (&["--valid-for", "18446744073709551615"], "--valid-for"),
        (&["--valid-for", "99999d"], "--valid-for"),
        (&["--origin", ""], "--origin"),
    ] {
        let mut all = vec![
            "subject",
            "consent",
            "--key",
            &me_key,
            "--subject",
            "42010619960510907X",
            "--department",
            "bank-a",
            "--classes",
            "loans",
            "--purpose",
            "p",
            "--out",
            "-",
        ];
        if !args.contains(&"--origin") {
            all.extend(["--origin", "t.invalid/log"]);
        }
        all.extend(args);
        let o = run(&all);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
    // A usage error's JSON names the missing arguments.
    let o = run(&["query", "--json"]);
    assert_eq!(code(&o), 2);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["message"].as_str().unwrap().contains("--data <DIR>"), "{v}");
    // A help text that cannot be written is an error.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = bin().args(["--help"]).stdout(full).output().unwrap();
    assert_eq!(code(&o), 1);
}
