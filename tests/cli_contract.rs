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
