//! Public material needs no secret: `log key`, `log checkpoint` and
//! `log history --data DIR` read the public key files and the store's public log data with
//! no passphrase (none in the environment, stdin closed), and print what the platform
//! opened with its passphrase says; a store held by a running `credseal serve` is refused,
//! naming the lock and the server to ask instead.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{code, stderr, stdout};

const DEMO_PASS: &str = credseal_testkit::demo::DEMO_PASSPHRASE;

/// The credseal binary with no passphrase and no data directory from the environment.
fn credseal() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env_remove("CREDSEAL_PASSPHRASE");
    c
}

/// An auditor's command: no passphrase anywhere, nothing on stdin.
fn public(args: &[&str]) -> Output {
    credseal().args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn public_ok(args: &[&str]) -> String {
    let o = public(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    assert_eq!(stderr(&o), "", "{args:?}: nothing on stderr");
    stdout(&o)
}

/// What the platform, opened with its passphrase, says of its log.
struct Expected {
    vkey: String,
    current: String,
    vrf: String,
    checkpoint: String,
    notes: Vec<String>,
    keys: serde_json::Value,
}

fn expected(data: &Path) -> Expected {
    let p = credseal_engine::Platform::open(
        data,
        &credseal_crypto::Passphrase::new(DEMO_PASS.into()),
        credseal_engine::OpenOptions { allow_demo_keys: true },
    )
    .unwrap();
    Expected {
        vkey: p.log_vkey().unwrap(),
        current: p.log_current_vkey().unwrap(),
        vrf: p.vrf_public_key().to_text(),
        checkpoint: p.latest_checkpoint().unwrap().unwrap(),
        notes: p.log_key_history().unwrap().notes(),
        keys: serde_json::to_value(p.log_key_status().unwrap()).unwrap(),
    }
}

/// The demo's platform: the example data, queries, and a log key rotation.
fn demo(dir: &Path) -> String {
    let data = dir.join("demo").display().to_string();
    let o = credseal()
        .args(["--demo", "demo", "--data", &data])
        .env("CREDSEAL_PASSPHRASE", DEMO_PASS)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "demo: {}", stderr(&o));
    data
}

/// Everything the store holds, tree by tree (what it holds, not how sled lays it out: sled
/// rewrites its own snapshot at every open).
fn store_contents(data: &str) -> Vec<(credseal_store::Tree, Vec<u8>, Vec<u8>)> {
    use credseal_store::Store as _;
    let store = credseal_store::SledStore::open(&Path::new(data).join("db"), false).unwrap();
    let mut v = Vec::new();
    for tree in credseal_store::Tree::ALL {
        for kv in store.scan_prefix(tree, &[]) {
            let (k, val) = kv.unwrap();
            v.push((tree, k, val));
        }
    }
    v
}

#[test]
fn key_checkpoint_and_history_need_no_passphrase_and_match_the_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    // First the public reads, before anything opens the platform again: what they show of
    // the rotation comes from what the rotation itself committed.
    let before = store_contents(&data);
    let run = |extra: &[&str]| {
        let mut args = vec!["log"];
        args.extend_from_slice(extra);
        args.extend(["--data", &data]);
        public_ok(&args)
    };
    let key = run(&["key"]);
    let current = run(&["key", "--current"]);
    let vrf = run(&["key", "--vrf"]);
    let key_json = run(&["key", "--json"]);
    let current_json = run(&["key", "--json", "--current"]);
    let checkpoint = run(&["checkpoint"]);
    let history = run(&["history"]);
    let history_json = run(&["history", "--json"]);
    assert!(
        store_contents(&data) == before,
        "the public commands changed what the store holds"
    );

    let want = expected(Path::new(&data));
    // The demo rotated the log key: --current and the history have something to show.
    assert_eq!(want.notes.len(), 1, "the demo rotates the log key once");
    assert_ne!(want.current, want.vkey);
    assert_eq!(key, format!("{}\n", want.vkey));
    assert_eq!(current, format!("{}\n", want.current));
    assert_eq!(vrf, format!("{}\n", want.vrf));
    let json: serde_json::Value = serde_json::from_str(&key_json).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "schema": "credseal/log-key/v1", "version": 1, "log_key": want.vkey, "vrf_key": want.vrf })
    );
    let json: serde_json::Value = serde_json::from_str(&current_json).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "schema": "credseal/log-key/v1", "version": 1, "log_key": want.current, "vrf_key": want.vrf })
    );
    assert_eq!(checkpoint, want.checkpoint);
    assert_eq!(history, want.notes.join("\n"));
    let json: serde_json::Value = serde_json::from_str(&history_json).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "schema": "credseal/log-history/v1", "version": 1, "handovers": want.notes, "keys": want.keys })
    );
    // The published file is what `log key` prints.
    let file = std::fs::read_to_string(Path::new(&data).join("log-key.pub")).unwrap();
    assert_eq!(file, key);
}

#[test]
fn a_platform_never_rotated_and_an_empty_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data").display().to_string();
    let o = credseal()
        .args([
            "init",
            "--data",
            &data,
            "--catalog",
            "../../keys-example/catalog.toml",
            "--origin",
            "public.credseal.invalid/log",
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
        ])
        .env("CREDSEAL_PASSPHRASE", "test passphrase, not a real one")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
    let vkey = public_ok(&["log", "key", "--data", &data]);
    assert_eq!(
        vkey,
        std::fs::read_to_string(Path::new(&data).join("log-key.pub")).unwrap()
    );
    assert_eq!(public_ok(&["log", "key", "--data", &data, "--current"]), vkey);
    let id = vkey.trim().split('+').nth(1).unwrap();
    assert_eq!(
        public_ok(&["log", "history", "--data", &data]),
        format!("the log key was never rotated: {id} signs every receipt\n")
    );
    let o = public(&["log", "checkpoint", "--data", &data]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("the log is empty"), "{}", stderr(&o));
}

/// A store last written by a release that kept no public copy of the handovers: refused,
/// saying how to record it; the platform's next open records it.
#[test]
fn a_store_without_the_public_history_is_refused_until_the_platform_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let want = expected(Path::new(&data));
    {
        use credseal_store::Store as _;
        let store = credseal_store::SledStore::open(&Path::new(&data).join("db"), false).unwrap();
        let mut b = credseal_store::Batch::new();
        b.delete(credseal_store::Tree::Meta, credseal_engine::layout::META_LOG_HANDOVERS);
        store.apply(b).unwrap();
        store.flush().unwrap();
    }
    for cmd in ["key", "checkpoint", "history"] {
        let o = public(&["log", cmd, "--data", &data]);
        assert_eq!(code(&o), 1, "log {cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no public copy of the log key history")
                && stderr(&o).contains("open the platform once with its passphrase"),
            "log {cmd}: {}",
            stderr(&o)
        );
        assert_eq!(stdout(&o), "");
    }
    let _ = expected(Path::new(&data));
    assert_eq!(public_ok(&["log", "history", "--data", &data]), want.notes.join("\n"));
}

/// A `log-key.pub` replaced by another key: the history does not walk from it (exit 4).
#[test]
fn log_key_file_replaced_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let want = expected(Path::new(&data));
    let path = Path::new(&data).join("log-key.pub");
    // The current key, which is a genuine key of this log but not its original.
    std::fs::write(&path, format!("{}\n", want.current)).unwrap();
    for cmd in ["key", "checkpoint", "history"] {
        let o = public(&["log", cmd, "--data", &data]);
        assert_eq!(code(&o), 4, "log {cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("log key history"), "log {cmd}: {}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
}

/// A child server, killed and reaped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_store_held_by_serve_is_refused_naming_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path());
    let mut child = credseal()
        .args([
            "--demo",
            "serve",
            "--data",
            &data,
            "--insecure-loopback",
            "--listen",
            "127.0.0.1:0",
            "--quiet",
        ])
        .env("CREDSEAL_PASSPHRASE", DEMO_PASS)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let server = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("credseal: serving ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the server did not report ready within 60 s");
    for (cmd, ask) in [
        ("key", "credseal log key --server URL"),
        ("checkpoint", "credseal log checkpoint --server URL"),
        ("history", "GET /v1/log/key-history"),
    ] {
        let o = public(&["log", cmd, "--data", &data]);
        assert_eq!(code(&o), 1, "log {cmd}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("is locked") && e.contains("store's lock"), "log {cmd}: {e}");
        assert!(e.contains(ask), "log {cmd}: {e}");
        assert_eq!(stdout(&o), "");
    }
    drop(server);
}
