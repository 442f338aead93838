//! The CLI's HTTPS clients (`--server URL [--ca FILE]`) against a real `credseal serve` child
//! process on 127.0.0.1 with a self-signed certificate (rcgen), pinned with `--ca`:
//! `dept query`, `subject query`, `receipts fetch`, `authority install`, `log key|checkpoint`;
//! problem documents become the CLI's exit classes; a wrong `--ca` is a TLS failure naming the
//! server; a response lost after the query ran is picked up by its query id.
//!
//! Every server is a child killed by a [`Serving`] guard's `Drop` (SIGTERM, then SIGKILL),
//! so none outlives its test.

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
/// A subject of records.jsonl, who registers a key.
const SUBJECT: &str = "42010619960510907X";

/// Longest wait for a server's ready line (a debug build unlocking the keystore).
const READY_WITHIN: Duration = Duration::from_secs(120);

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

// ------------------------------------------------------------------ the server child

/// A running `credseal serve`; dropped, it is stopped (SIGTERM, then SIGKILL) and reaped.
struct Serving {
    child: Child,
    /// `https://127.0.0.1:PORT` (or `http://` with `--insecure-loopback`).
    url: String,
    /// Everything the server wrote on stderr so far.
    log: Arc<Mutex<String>>,
}

impl Serving {
    /// Starts `credseal serve --data DATA --listen 127.0.0.1:0 EXTRA…` and waits for its
    /// ready line.
    fn start(data: &str, extra: &[&str]) -> Self {
        let mut child = bin()
            .args(["serve", "--data", data, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        // Drains stderr for the server's whole life (a full pipe would block it).
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut s = Serving {
            child,
            url: String::new(),
            log,
        };
        let deadline = Instant::now() + READY_WITHIN;
        while s.url.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("credseal: serving ") {
                        s.url = url.trim().to_string();
                    }
                }
                Err(_) => panic!("no ready line from credseal serve: {}", s.log()),
            }
        }
        s
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The `host:port` the server listens on.
    fn addr(&self) -> String {
        self.url.split("://").nth(1).unwrap().to_string()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..300 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ the fixture

/// A platform (example data, a trusted authority, `bank-a` with a credential, the subject's
/// key registered) and a self-signed server certificate, in a temporary directory.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    bank: String,
    cred: String,
    subj: String,
    /// The log key and VRF key, read locally before any server runs (pinned by clients).
    vkey: String,
    vrf: String,
    /// The server's certificate and key (PEM), for `localhost` and 127.0.0.1.
    cert: String,
    key: String,
    files: AtomicUsize,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        let fx = Fx {
            data: p("data"),
            auth: p("authority.key"),
            bank: p("bank-a"),
            cred: p("bank-a.credential"),
            subj: p("subject"),
            vkey: p("log.vkey"),
            vrf: p("log.vrf"),
            cert: p("server.pem"),
            key: p("server.key"),
            files: AtomicUsize::new(0),
            dir,
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
        ok(&["authority", "keygen", "--unencrypted", "--out", &fx.auth]);
        ok(&[
            "authority",
            "trust",
            "--data",
            &fx.data,
            "--key",
            &format!("{}.pub", fx.auth),
        ]);
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &fx.bank]);
        fx.credential(&fx.bank, &fx.cred, "1");
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
        std::fs::write(&fx.vkey, stdout(&ok(&["log", "key", "--data", &fx.data]))).unwrap();
        std::fs::write(&fx.vrf, stdout(&ok(&["log", "key", "--vrf", "--data", &fx.data]))).unwrap();
        let (cert, key) = self_signed();
        std::fs::write(&fx.cert, cert).unwrap();
        std::fs::write(&fx.key, key).unwrap();
        fx
    }

    /// The authority's credential `serial` for the department whose keys are in `dept`.
    fn credential(&self, dept: &str, out: &str, serial: &str) {
        ok(&[
            "authority",
            "enroll",
            "--key",
            &self.auth,
            "--serial",
            serial,
            "--department",
            "bank-a",
            "--name",
            "Bank A",
            "--signing-key",
            &format!("{dept}/signing.pub"),
            "--sealing-key",
            &format!("{dept}/sealing.pub"),
            "--classes",
            "identity,loans",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            out,
        ]);
    }

    /// A new, unused path in the temporary directory.
    fn fresh(&self, stem: &str) -> String {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("{stem}-{n}")).display().to_string()
    }

    /// Serves the platform over TLS with the fixture's certificate.
    fn serve(&self) -> Serving {
        let s = Serving::start(&self.data, &["--tls-cert", &self.cert, "--tls-key", &self.key]);
        assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
        s
    }

    /// `dept query --server URL` with the bank's keys, for `purpose`, with `extra` args
    /// (`--ca`, `--json`, …); signed with `signing` (default: the bank's key).
    fn dept_query(&self, url: &str, purpose: &str, signing: Option<&str>, extra: &[&str]) -> Output {
        let key = signing.map_or_else(|| format!("{}/signing.key", self.bank), |d| format!("{d}/signing.key"));
        let seal = format!("{}/sealing.key", self.bank);
        let tok = self.fresh("token");
        let mut args = vec![
            "dept",
            "query",
            "--key",
            &key,
            "--credential",
            &self.cred,
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--purpose",
            purpose,
            "--legal-basis",
            "case 2026-17",
            "--audience",
            ORIGIN,
            "--out",
            &tok,
            "--server",
            url,
            "--sealing-key",
            &seal,
            "--log-key",
            &self.vkey,
        ];
        args.extend(extra);
        run(&args)
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

/// The tree size of a checkpoint note (its second line).
fn tree_size(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

// ------------------------------------------------------------------ tests

#[test]
fn every_client_works_against_a_pinned_server() {
    let fx = Fx::new();
    let srv = fx.serve();
    let url = srv.url.clone();
    let ca = fx.cert.clone();

    // The public log routes print what the local commands print.
    let o = ok(&["log", "key", "--server", &url, "--ca", &ca]);
    assert_eq!(stdout(&o), std::fs::read_to_string(&fx.vkey).unwrap());
    let o = ok(&["log", "key", "--vrf", "--server", &url, "--ca", &ca]);
    assert_eq!(stdout(&o), std::fs::read_to_string(&fx.vrf).unwrap());
    let before = tree_size(&stdout(&ok(&["log", "checkpoint", "--server", &url, "--ca", &ca])));

    // A department's query: sent, opened, verified against the pinned log key, printed.
    let answer = fx.fresh("answer");
    let o = fx.dept_query(
        &url,
        "loan-approval",
        None,
        &["--ca", &ca, "--json", "--answer-out", &answer],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["department"], "bank-a");
    assert!(
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["class"] == "identity")
    );
    assert!(std::fs::read_to_string(&answer).unwrap().trim().len() > 100);
    let after = tree_size(&stdout(&ok(&["log", "checkpoint", "--server", &url, "--ca", &ca])));
    assert_eq!(after, before + 1, "one receipt for one query");

    // The subject's own query, checked with its VRF proof.
    let q = fx.fresh("self-query");
    let o = ok(&[
        "subject",
        "query",
        "--key",
        &format!("{}/signing.key", fx.subj),
        "--sealing-key-private",
        &format!("{}/sealing.key", fx.subj),
        "--subject",
        SUBJECT,
        "--classes",
        "identity,loans",
        "--audience",
        ORIGIN,
        "--out",
        &q,
        "--server",
        &url,
        "--ca",
        &ca,
        "--log-key",
        &fx.vkey,
        "--vrf-key",
        &fx.vrf,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["purpose"], "subject-self-query");
    assert!(v["records"].as_array().unwrap().iter().any(|r| r["class"] == "loans"));
    assert!(stderr(&o).contains("VRF proof verifies"), "{}", stderr(&o));

    // The subject's receipts: fetched, saved, verified, the state written.
    let state = fx.fresh("state");
    let bundle = fx.fresh("bundle");
    let fetch = |out: Option<&str>| {
        let mut args = vec![
            "receipts",
            "fetch",
            "--server",
            &url,
            "--ca",
            &ca,
            "--key",
            &format!("{}/signing.key", fx.subj),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--state",
            &state,
            "--vkey",
            &fx.vkey,
            "--vrf-key",
            &fx.vrf,
            "--json",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if let Some(o) = out {
            args.extend(["--out".to_string(), o.to_string()]);
        }
        run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = fetch(Some(&bundle));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let text = v.to_string();
    assert!(text.contains("bank-a") && text.contains("subject-self-query"), "{text}");
    assert!(std::fs::metadata(&state).unwrap().len() > 0);
    // The saved bundle verifies offline as `receipts verify` (a fresh state: the same log).
    let o = ok(&[
        "receipts",
        "verify",
        "--vkey",
        &fx.vkey,
        "--vrf-key",
        &fx.vrf,
        "--subject",
        SUBJECT,
        "--state",
        &fx.fresh("state"),
        &bundle,
    ]);
    assert!(stdout(&o).contains("bank-a"), "{}", stdout(&o));
    // A second fetch continues from the saved state (a consistency proof).
    let o = fetch(None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // Problem documents keep their exit class and the server's detail.
    let o = fx.dept_query(&url, "tax-administration", None, &["--ca", &ca]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("credseal: error: server: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("(purpose-not-granted)"), "{}", stderr(&o));
    // A token signed by a key that is not the credential's: forgery, exit 4.
    let mallory = fx.fresh("mallory");
    ok(&["dept", "keygen", "--unencrypted", "--out-dir", &mallory]);
    let o = fx.dept_query(&url, "loan-approval", Some(&mallory), &["--ca", &ca]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("(bad-signature)"), "{}", stderr(&o));

    // Another certificate pinned: the TLS handshake fails, exit 1, naming the server, and
    // nothing is sent.
    let wrong = fx.fresh("wrong-ca.pem");
    std::fs::write(&wrong, self_signed().0).unwrap();
    let o = fx.dept_query(&url, "loan-approval", None, &["--ca", &wrong]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("TLS handshake with {url} failed")),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("--ca"), "{}", stderr(&o));
    let o = run(&["log", "key", "--server", &url, "--ca", &wrong]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // Without --ca the system roots do not know a self-signed certificate either.
    let o = run(&["log", "key", "--server", &url]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains(&url), "{}", stderr(&o));
    // http:// is for loopback only; an https server does not speak it.
    let o = run(&["log", "key", "--server", "http://credseal.invalid:1"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));

    // The authority's revocation list, installed over the API: the next query is refused.
    let list = fx.fresh("revocations");
    ok(&[
        "authority",
        "revoke",
        "--key",
        &fx.auth,
        "--serial",
        "1",
        "--audience",
        ORIGIN,
        "--out",
        &list,
    ]);
    let o = ok(&["authority", "install", "--server", &url, "--ca", &ca, &list]);
    assert!(
        stdout(&o).contains("installed revocation list version 1"),
        "{}",
        stdout(&o)
    );
    // The same version again is refused by the platform, with its class.
    let o = run(&["authority", "install", "--server", &url, "--ca", &ca, &list]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("credseal: error: server: "), "{}", stderr(&o));
    let o = fx.dept_query(&url, "loan-approval", None, &["--ca", &ca]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(credential-revoked)"), "{}", stderr(&o));

    // The server's request log never names the subject.
    let log = srv.log();
    assert!(log.contains("\"route\":\"/v1/queries\""), "{log}");
    assert!(!log.contains(SUBJECT), "{log}");
}

/// A TCP proxy in front of `upstream` that passes the first connection's request on, waits
/// for the server's response (the query ran and its receipt is durable), then closes the
/// client's connection without passing the response on; later connections are relayed.
/// Returns its address and the count of connections accepted. Bounded: 8 connections.
fn lossy_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().take(8) {
            let Ok(client) = conn else { break };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let server = TcpStream::connect(&upstream).unwrap();
            let timeout = Some(Duration::from_secs(60));
            client.set_read_timeout(timeout).unwrap();
            server.set_read_timeout(timeout).unwrap();
            relay(client.try_clone().unwrap(), server.try_clone().unwrap());
            if n == 0 {
                let mut first = [0u8; 1];
                let _ = (&server).read(&mut first);
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            } else {
                relay(server, client);
            }
        }
    });
    (addr, seen)
}

/// Copies `from` to `to` on a thread until EOF, then shuts `to`'s write side.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn a_lost_response_is_picked_up_by_its_query_id() {
    let fx = Fx::new();
    // Plain HTTP on loopback, so that the proxy can tell the response from the handshake.
    let srv = Serving::start(&fx.data, &["--insecure-loopback"]);
    assert!(srv.url.starts_with("http://127.0.0.1:"), "{}", srv.url);
    let before = tree_size(&stdout(&ok(&["log", "checkpoint", "--server", &srv.url])));
    let (proxy, seen) = lossy_proxy(srv.addr());
    let o = fx.dept_query(&format!("http://{proxy}"), "loan-approval", None, &["--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("was lost") && e.contains("asking"), "{e}");
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["department"], "bank-a");
    assert_eq!(seen.load(Ordering::SeqCst), 2, "the query, then the pickup");
    // The query ran once: one receipt.
    let after = tree_size(&stdout(&ok(&["log", "checkpoint", "--server", &srv.url])));
    assert_eq!(after, before + 1);
    assert!(
        srv.log().contains("\"route\":\"/v1/queries/{query_id}\""),
        "{}",
        srv.log()
    );
}

// ------------------------------------------------------------------ provider batches

/// Records of the subject not in records.jsonl: its lines under new record ids, each naming
/// provider `prov-a` as its source.
fn new_records(prefix: &str) -> String {
    let all = std::fs::read_to_string(format!("{}/{RECORDS}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let lines: Vec<String> = all
        .lines()
        .filter(|l| l.contains(SUBJECT))
        .map(|l| l.replacen("\"record_id\":\"", &format!("\"record_id\":\"{prefix}-"), 1))
        .map(|l| as_source(&l, "prov-a"))
        .collect();
    assert!(lines.len() >= 2, "records.jsonl has records of {SUBJECT}");
    lines.join("\n") + "\n"
}

/// `line` with its `source` replaced by `id`.
fn as_source(line: &str, id: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["source"] = serde_json::json!(id);
    v.to_string()
}

/// Every class of the fixture subject's records, comma-separated.
fn subject_classes() -> String {
    let all = std::fs::read_to_string(format!("{}/{RECORDS}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut classes: Vec<String> = all
        .lines()
        .filter(|l| l.contains(SUBJECT))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["class"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    classes.sort();
    classes.dedup();
    classes.join(",")
}

impl Fx {
    /// A provider key pair in the fixture directory: (key file, id).
    fn provider_key(&self, id: &str) -> String {
        let key = self.fresh(&format!("{id}.key"));
        ok(&["provider", "keygen", "--unencrypted", "--out", &key]);
        key
    }

    /// `provider sign-batch` of `records` by `id` with `key`; the batch file.
    fn sign_batch(&self, key: &str, id: &str, records: &str) -> String {
        let rec = self.fresh("records.jsonl");
        std::fs::write(&rec, records).unwrap();
        let out = self.fresh("batch");
        let o = ok(&[
            "provider",
            "sign-batch",
            "--key",
            key,
            "--provider",
            id,
            "--audience",
            ORIGIN,
            "--records",
            &rec,
            "--out",
            &out,
        ]);
        assert!(stdout(&o).contains("written to"), "{}", stdout(&o));
        out
    }
}

#[test]
fn provider_batches_ingest_only_when_signed_by_an_enrolled_provider_once() {
    let fx = Fx::new();
    let key = fx.provider_key("prov-a");
    let o = common::enroll_provider(
        &run,
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        &fx.auth,
        "prov-a",
        &format!("{key}.pub"),
        &subject_classes(),
        9001,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Locally, on the data directory.
    let local = fx.sign_batch(&key, "prov-a", &new_records("PL"));
    let o = ok(&["ingest", "--data", &fx.data, "--batch", &local, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["written"].as_u64().unwrap() >= 2, "{v}");

    let srv = fx.serve();
    let (url, ca) = (srv.url.clone(), fx.cert.clone());
    let size = || tree_size(&stdout(&ok(&["log", "checkpoint", "--server", &url, "--ca", &ca])));
    let ingest = |batch: &str| run(&["ingest", "--server", &url, "--ca", &ca, "--batch", batch, "--json"]);

    // Over the API: written, with receipts.
    let before = size();
    let batch = fx.sign_batch(&key, "prov-a", &new_records("PV"));
    let o = ingest(&batch);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let written = v["written"].as_u64().unwrap();
    assert!(written >= 2, "{v}");
    let after = size();
    assert!(after > before, "the ingest left receipts");

    // The same batch again: refused (exit 3), nothing written.
    let o = ingest(&batch);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(batch-replayed)"), "{}", stderr(&o));
    // The local batch, already ingested locally, is refused by the server too.
    let o = ingest(&local);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(batch-replayed)"), "{}", stderr(&o));

    // One byte of the records changed after signing: exit 4, nothing written.
    let fresh = fx.sign_batch(&key, "prov-a", &new_records("PT"));
    let u = credseal_auth::Unverified::<credseal_auth::IngestBatch>::parse_text(
        std::fs::read_to_string(&fresh).unwrap().trim(),
    )
    .unwrap();
    let mut wire = u.as_bytes().to_vec();
    let at = wire.windows(3).position(|w| w == b"PT-").unwrap();
    wire[at + 1] = b'X';
    let tampered = fx.fresh("tampered-batch");
    let t = credseal_auth::Unverified::<credseal_auth::IngestBatch>::parse_bytes(&wire).unwrap();
    std::fs::write(&tampered, t.to_text()).unwrap();
    let o = ingest(&tampered);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("credseal: error: server: "), "{}", stderr(&o));
    assert_eq!(size(), after, "a tampered batch writes nothing");
    // The genuine one still goes in afterwards (the tampered copy did not use it up).
    let o = ingest(&fresh);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let after = size();

    // A provider that is not enrolled: exit 3, nothing written.
    let stranger = fx.provider_key("prov-b");
    let o = ingest(&fx.sign_batch(&stranger, "prov-b", &new_records("PS")));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(provider-not-enrolled)"), "{}", stderr(&o));
    // An enrolled key claiming another provider's id: exit 3.
    let o = ingest(&fx.sign_batch(&key, "prov-z", &new_records("PZ")));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(provider-mismatch)"), "{}", stderr(&o));

    // Records that do not validate: 422 ingest-rejected, errors by line, nothing written;
    // exit 1, as a local `credseal ingest` of bad lines.
    let bad = new_records("PB").replacen("\"class\":\"identity\"", "\"class\":\"no-such-class\"", 1);
    assert!(bad.contains("no-such-class"));
    let o = ingest(&fx.sign_batch(&key, "prov-a", &bad));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("batch:1: class: ") && e.contains("(ingest-rejected)"), "{e}");
    assert_eq!(size(), after, "refused batches write nothing");

    // No confirmation oracle: a record already stored (here one of the example data's, from
    // another source) is refused the same way whether the batch repeats it exactly or with a
    // guessed value changed, so a provider learns nothing of the stored content: it is
    // another source's record, which the provider may not write at all (exit 3).
    let stored = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS))
        .unwrap()
        .lines()
        .find(|l| l.contains(SUBJECT) && l.contains("\"class\":\"identity\""))
        .unwrap()
        .to_string();
    let stored = as_source(&stored, "prov-a");
    let guessed = stored.replacen("\"gender\":\"male\"", "\"gender\":\"female\"", 1);
    assert_ne!(stored, guessed, "the guess must differ from the stored record");
    let same = ingest(&fx.sign_batch(&key, "prov-a", &format!("{stored}\n")));
    let other = ingest(&fx.sign_batch(&key, "prov-a", &format!("{guessed}\n")));
    assert_eq!(code(&same), 3, "{}", stderr(&same));
    assert_eq!(code(&other), 3, "{}", stderr(&other));
    assert_eq!(stderr(&same), stderr(&other), "the refusal tells equal from different");
    assert!(
        stderr(&same).contains("(provider-record-not-owned)"),
        "{}",
        stderr(&same)
    );
    assert_eq!(size(), after, "refused batches write nothing");
    assert!(!srv.log().contains(SUBJECT), "{}", srv.log());
}

/// A hostile "server" on loopback (plain HTTP, which the clients allow for loopback only):
/// it answers every request with `status` and `body` (of `content_type`), for at most
/// `count` connections, then stops.
fn hostile_server(status: u16, content_type: &'static str, body: String, count: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().take(count) {
            let Ok(mut s) = s else { break };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut buf = [0u8; 65536];
            let mut got = Vec::new();
            // Read the request head and whatever body its Content-Length announces.
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            use std::io::Write as _;
            let _ = s.write_all(resp.as_bytes());
        }
    });
    url
}

/// The clients against a hostile server: text it sends cannot drive the terminal or forge
/// a line; a claimed installation of another list version, a key that is not a key and a
/// "checkpoint" with escape sequences are refused (exit 4), never printed as if genuine.
#[test]
fn clients_do_not_believe_a_hostile_server() {
    let fx = Fx::new();
    let list = fx.fresh("revocations");
    ok(&[
        "authority",
        "revoke",
        "--key",
        &fx.auth,
        "--serial",
        "1",
        "--audience",
        ORIGIN,
        "--out",
        &list,
    ]);
    // A problem document whose detail carries escape sequences and a forged line.
    let evil = "no\u{1b}]0;pwned\u{7}\u{1b}[2J\ncredseal: error: credseal: everything is fine";
    let problem = serde_json::json!({
        "type": "urn:credseal:problem:x", "title": "Forbidden", "status": 403,
        "detail": evil, "code": "class-not-granted", "exit_class": 3
    })
    .to_string();
    let url = hostile_server(403, "application/problem+json", problem, 1);
    let o = run(&["authority", "install", "--server", &url, &list]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        !e.contains('\u{1b}') && !e.contains('\u{7}'),
        "control characters reached the terminal: {e:?}"
    );
    assert_eq!(
        e.lines().filter(|l| l.starts_with("credseal: error:")).count(),
        1,
        "a forged error line: {e}"
    );
    // The server claims another version than the list sent.
    let url = hostile_server(200, "application/json", r#"{"version":999}"#.into(), 1);
    let o = run(&["authority", "install", "--server", &url, &list]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("version 999"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("installed"), "{}", stdout(&o));
    // Not a log key, not a VRF key, not a checkpoint.
    let url = hostile_server(200, "text/plain", "\u{1b}[2Jtrust me".into(), 3);
    for args in [&["log", "key"][..], &["log", "key", "--vrf"], &["log", "checkpoint"]] {
        let mut a = args.to_vec();
        a.extend(["--server", &url]);
        let o = run(&a);
        assert_ne!(code(&o), 0, "{args:?}: {}", stdout(&o));
        assert!(common::no_result(&o), "{args:?} printed {:?}", stdout(&o));
        assert!(!stderr(&o).contains('\u{1b}'), "{args:?}: {:?}", stderr(&o));
    }
}

/// `serve --client-ca`: `dept query --server` without a client certificate is refused
/// (exit 3, client-certificate-required); with `--client-cert/--client-key` from that CA it
/// is answered.
#[test]
fn dept_query_presents_a_client_certificate_for_mutual_tls() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let fx = Fx::new();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "departments CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(vec!["bank-a.example".to_string()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = cp.signed_by(&client_key, &ca).unwrap();
    let (ca_pem, cc, ck) = (fx.fresh("ca.pem"), fx.fresh("client.pem"), fx.fresh("client.key"));
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cc, client.pem()).unwrap();
    std::fs::write(&ck, client_key.serialize_pem()).unwrap();
    let srv = Serving::start(
        &fx.data,
        &["--tls-cert", &fx.cert, "--tls-key", &fx.key, "--client-ca", &ca_pem],
    );
    let o = fx.dept_query(&srv.url, "loan-approval", None, &["--ca", &fx.cert]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("(client-certificate-required)"), "{}", stderr(&o));
    let o = fx.dept_query(
        &srv.url,
        "loan-approval",
        None,
        &["--ca", &fx.cert, "--client-cert", &cc, "--client-key", &ck],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(SUBJECT), "{}", stdout(&o));
}

/// Corrections stick over the service: a department that received a record gets the
/// correction notice the provider's signed correction (sent to the server) caused, fetched
/// with `dept notices --server` and opened with its sealing key.
#[test]
fn correction_notices_are_fetched_over_the_service() {
    let fx = Fx::new();
    let all = std::fs::read_to_string(format!("{}/{RECORDS}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let line = all
        .lines()
        .find(|l| l.contains(SUBJECT) && l.contains("\"class\":\"identity\""))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    let source = v["source"].as_str().unwrap().to_string();
    let key = fx.provider_key(&source);
    let o = common::enroll_provider(
        &run,
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        &fx.auth,
        &source,
        &format!("{key}.pub"),
        "identity",
        9002,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let srv = fx.serve();
    let (url, ca) = (srv.url.clone(), fx.cert.clone());
    let o = fx.dept_query(&url, "loan-approval", None, &["--ca", &ca, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    v["version"] = serde_json::json!(2);
    v["supersedes"] = serde_json::json!(1);
    v["fields"]["registered_address"] = serde_json::json!("湖北省武汉市洪山区珞喻路1037号");
    let mut batch_records = v.to_string();
    batch_records.push('\n');
    let batch = fx.sign_batch(&key, &source, &batch_records);
    let o = run(&["ingest", "--server", &url, "--ca", &ca, "--batch", &batch, "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = ok(&[
        "dept",
        "notices",
        "--server",
        &url,
        "--ca",
        &ca,
        "--department",
        "bank-a",
    ]);
    let notices = fx.fresh("notices");
    std::fs::write(&notices, &o.stdout).unwrap();
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    let o = ok(&[
        "dept",
        "open-notice",
        "--key",
        &format!("{}/sealing.key", fx.bank),
        &notices,
        "--json",
    ]);
    let n: serde_json::Value = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["items"].clone();
    assert_eq!(n[0]["record_id"], v["record_id"], "{n}");
    assert_eq!(
        (n[0]["superseded_version"].as_u64(), n[0]["version"].as_u64()),
        (Some(1), Some(2))
    );
    // The notice names the record, never its values (the department queries again).
    assert!(n[0].get("record").is_none(), "{n}");
    assert!(!n.to_string().contains("湖北省武汉市洪山区珞喻路1037号"), "{n}");
    // Another department has none.
    let o = ok(&[
        "dept",
        "notices",
        "--server",
        &url,
        "--ca",
        &ca,
        "--department",
        "bank-z",
    ]);
    assert!(common::no_result(&o), "{}", stdout(&o));
}
