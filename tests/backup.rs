//! Backups (docs/design.md §10 "Backups", formats.md §11c) through the binary:
//! - a backup taken while `credseal serve` answers queries restores into a platform whose
//!   log verifies and which answers queries;
//! - a backup with a file flipped, missing or added is refused (exit 4) naming the file;
//! - a backup older than a subject's saved state or an auditor's position is refused
//!   (exit 4) naming both sizes; one they have not seen past restores;
//! - a restore into a directory that is not empty is refused and writes nothing.
//!
//! Every loop is bounded in count and time; servers listen on 127.0.0.1 only.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "backup.credseal.invalid/log";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env("CREDSEAL_PASSPHRASE", PASS);
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

fn now() -> u64 {
    credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap()
}

/// A child server, killed (SIGKILL) and reaped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(data: &Path, cert: &Path, key: &Path) -> Self {
        let mut child = bin()
            .args(["serve", "--data"])
            .arg(data)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--quiet",
                "--dept-rate",
                "1000000",
                "--dept-burst",
                "1000000",
            ])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("credseal: serving ") {
                    let _ = tx.send(Ok(addr.to_string()));
                } else if line.starts_with("credseal: error") {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(u)) => u,
            Ok(Err(e)) => {
                let _ = child.kill();
                panic!("the server did not start: {e}");
            }
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not report ready within 60 s");
            }
        };
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTPS client that trusts exactly `cert_der`.
fn agent(cert_der: &[u8]) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    #[allow(deprecated)] // ring's provider: see crates/credseal-server/src/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .root_certs(RootCerts::Specific(Arc::new(vec![
            Certificate::from_der(cert_der).to_owned(),
        ])))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Subjects of the example data with an identity record.
fn subjects() -> Vec<String> {
    let mut s: Vec<String> = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["class"] == "identity")
        .map(|v| v["subject"].as_str().unwrap().to_string())
        .collect();
    s.sort();
    s.dedup();
    s.truncate(4);
    assert!(s.len() >= 2);
    s
}

/// A platform with example data, an authority, department `bank-a` (credential serial 1,
/// identity for loan-approval) and a self-signed TLS certificate for 127.0.0.1.
struct Fx {
    tmp: tempfile::TempDir,
    data: PathBuf,
    data_s: String,
    cred_file: String,
    credential: String,
    bank_key: credseal_auth::SigningKey,
    cert_der: Vec<u8>,
    subjects: Vec<String>,
}

impl Fx {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let p = |n: &str| -> PathBuf { tmp.path().join(n) };
        let data = p("data");
        let data_s = data.display().to_string();
        ok(&[
            "init",
            "--data",
            &data_s,
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
            &data_s,
            RECORDS,
        ]);
        let auth = p("authority.key").display().to_string();
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&["authority", "trust", "--data", &data_s, "--key", &format!("{auth}.pub")]);
        let bank = p("bank").display().to_string();
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
        let cred_file = p("credential").display().to_string();
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
            "identity",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred_file,
        ]);
        let credential = std::fs::read_to_string(&cred_file).unwrap().trim().to_string();
        let bank_key =
            credseal_auth::SigningKey::from_text(&std::fs::read_to_string(format!("{bank}/signing.key")).unwrap())
                .unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        std::fs::write(p("cert.pem"), ck.cert.pem()).unwrap();
        std::fs::write(p("key.pem"), ck.signing_key.serialize_pem()).unwrap();
        Fx {
            cert_der: ck.cert.der().to_vec(),
            tmp,
            data,
            data_s,
            cred_file,
            credential,
            bank_key,
            subjects: subjects(),
        }
    }

    fn path(&self, n: &str) -> PathBuf {
        self.tmp.path().join(n)
    }

    fn s(&self, n: &str) -> String {
        self.path(n).display().to_string()
    }

    /// A fresh token for `subject`'s identity, signed by bank-a.
    fn token(&self, subject: &str) -> String {
        let now = now();
        credseal_auth::sign(
            &credseal_auth::Token {
                query_id: credseal_crypto::random_array(),
                credential_serial: 1,
                subject: subject.to_string(),
                classes: BTreeSet::from(["identity".to_string()]),
                purpose: "loan-approval".into(),
                legal_basis: "backup test".into(),
                issued_at: now - 5,
                expires_at: now + 600,
                audience: ORIGIN.into(),
                consent: None,
            },
            &self.bank_key,
        )
        .to_text()
    }

    /// One query through the binary against the platform in `data` (not served now).
    fn query_offline(&self, data: &str, n: usize) -> Output {
        let tok = self.s(&format!("token-{n}"));
        std::fs::write(&tok, self.token(&self.subjects[n % self.subjects.len()])).unwrap();
        let ans = self.s(&format!("answer-{n}"));
        run(&[
            "query",
            "--data",
            data,
            "--credential",
            &self.cred_file,
            "--token",
            &tok,
            "--out",
            &ans,
        ])
    }

    fn backup(&self, out: &str) -> Output {
        run(&["backup", "--data", &self.data_s, "--out", out])
    }
}

/// The tree size `backup` or `restore` printed (`… N receipts`).
fn printed_size(o: &Output) -> u64 {
    let out = stdout(o);
    let before = out
        .split(" receipts")
        .next()
        .unwrap_or_else(|| panic!("no size in {out:?}"));
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Files whose names start with `.name.partial-` in `dir` (a restore's working directory).
fn leftovers(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(&format!(".{name}.partial-")))
        .collect()
}

#[test]
fn backup_while_serving_restores_and_verifies() {
    let fx = Fx::new();
    let server = Server::start(&fx.data, &fx.path("cert.pem"), &fx.path("key.pem"));
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..2 {
        let agent = agent(&fx.cert_der);
        let url = server.url.clone();
        let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
        // Enough that the clients are still sending well after the backup (it may take seconds).
        let bodies: Vec<String> = (0..4000)
            .map(|i| {
                let subject = &fx.subjects[(i + c) % fx.subjects.len()];
                serde_json::json!({ "credential": fx.credential, "token": fx.token(subject) }).to_string()
            })
            .collect();
        clients.push(std::thread::spawn(move || {
            let started = Instant::now();
            for body in bodies {
                if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(120) {
                    break;
                }
                let mut r = agent
                    .post(format!("{url}/v1/queries"))
                    .header("content-type", "application/json")
                    .send(body.as_bytes())
                    .unwrap();
                let status = r.status().as_u16();
                let text = r.body_mut().read_to_string().unwrap();
                assert_eq!(status, 200, "an authorized query was refused: {text}");
                answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Bounded waits: queries are being answered before, and after, the backup.
    let wait_for = |n: usize| {
        let started = Instant::now();
        while answered.load(Ordering::Relaxed) < n && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(answered.load(Ordering::Relaxed) >= n, "the clients stalled");
    };
    wait_for(10);
    let out = fx.s("backup");
    let o = fx.backup(&out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let size = printed_size(&o);
    let after = answered.load(Ordering::Relaxed);
    wait_for(after + 10);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    drop(server);
    assert!(Path::new(&out).join("MANIFEST").exists());

    // The live log went on past the snapshot.
    let live = credseal_engine::PublicLog::open(&fx.data).unwrap().log_size();
    assert!(size >= 10 && size < live, "backup at {size}, live log {live}");

    let restored = fx.s("restored");
    let o = ok(&["restore", "--backup", &out, "--data", &restored]);
    assert_eq!(printed_size(&o), size, "{}", stdout(&o));
    assert!(stdout(&o).contains(&format!("tree size {size}")), "{}", stdout(&o));
    ok(&["log", "verify", "--data", &restored]);
    // The restored platform answers queries and keeps logging them.
    let o = fx.query_offline(&restored, 0);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    ok(&["log", "verify", "--data", &restored]);
    assert_eq!(
        credseal_engine::PublicLog::open(Path::new(&restored))
            .unwrap()
            .log_size(),
        size + 1
    );
}

#[test]
fn tampered_backup_is_refused_naming_the_file() {
    let fx = Fx::new();
    // Flipped bit, missing file, extra file: each in a backup of its own.
    let flipped = fx.s("b-flip");
    ok(&["backup", "--data", &fx.data_s, "--out", &flipped]);
    let ks = Path::new(&flipped).join("keystore");
    let mut bytes = std::fs::read(&ks).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&ks, bytes).unwrap();
    let target = fx.s("r-flip");
    let o = run(&["restore", "--backup", &flipped, "--data", &target]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keystore: does not match the manifest"),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&target).exists());
    assert!(leftovers(fx.tmp.path(), "r-flip").is_empty());

    let missing = fx.s("b-missing");
    ok(&["backup", "--data", &fx.data_s, "--out", &missing]);
    std::fs::remove_file(Path::new(&missing).join("db/credseal.vlog")).unwrap();
    let o = run(&["restore", "--backup", &missing, "--data", &fx.s("r-missing")]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("credseal.vlog: listed in the manifest but missing"),
        "{}",
        stderr(&o)
    );

    let extra = fx.s("b-extra");
    ok(&["backup", "--data", &fx.data_s, "--out", &extra]);
    std::fs::write(Path::new(&extra).join("db/planted"), b"x").unwrap();
    let o = run(&["restore", "--backup", &extra, "--data", &fx.s("r-extra")]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("planted: not listed in the manifest"),
        "{}",
        stderr(&o)
    );

    // The manifest itself edited (a listed size changed).
    let edited = fx.s("b-manifest");
    ok(&["backup", "--data", &fx.data_s, "--out", &edited]);
    let m = Path::new(&edited).join("MANIFEST");
    let text = std::fs::read_to_string(&m).unwrap();
    let line = text.lines().find(|l| l.ends_with(" catalog.toml")).unwrap();
    let mut parts: Vec<&str> = line.split(' ').collect();
    let bumped = (parts[2].parse::<u64>().unwrap() + 1).to_string();
    parts[2] = &bumped;
    std::fs::write(&m, text.replace(line, &parts.join(" "))).unwrap();
    let o = run(&["restore", "--backup", &edited, "--data", &fx.s("r-manifest")]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("catalog.toml: does not match the manifest"),
        "{}",
        stderr(&o)
    );

    // An untouched backup restores.
    let good = fx.s("b-good");
    ok(&["backup", "--data", &fx.data_s, "--out", &good]);
    ok(&["restore", "--backup", &good, "--data", &fx.s("r-good")]);
    ok(&["log", "verify", "--data", &fx.s("r-good")]);
}

/// A subject's two-line state file (as `receipts verify --state` keeps it) for `subject`'s
/// bundle exported from the platform in `data` now.
fn subject_state(data: &Path, subject: &str, out: &Path) {
    let p = credseal_engine::Platform::open(
        data,
        &credseal_crypto::Passphrase::new(PASS.to_string()),
        credseal_engine::OpenOptions::default(),
    )
    .unwrap();
    let id = credseal_core::SubjectId::parse(subject).unwrap();
    let bundle = p.export_bundle(&id, None, now()).unwrap();
    let vkey = std::fs::read_to_string(data.join("log-key.pub")).unwrap();
    let verifier = credseal_log::LogVerifier::from_vkey(vkey.trim()).unwrap();
    let who = credseal_log::BundleSubject::new(id, p.vrf_public_key());
    let v = credseal_log::verify_bundle(&bundle, &verifier, &who, None, now()).unwrap();
    std::fs::write(out, format!("subject -\n{}\n", v.new_state().to_text())).unwrap();
}

#[test]
fn backup_older_than_saved_states_is_refused() {
    let fx = Fx::new();
    // An auditor's position and a subject's state saved before the backup: restorable.
    let before = fx.s("audit-before");
    ok(&["log", "verify", "--data", &fx.data_s, "--state", &before]);
    let subject_before = fx.path("subject-before");
    subject_state(&fx.data, &fx.subjects[0], &subject_before);
    let out = fx.s("backup");
    let size = printed_size(&ok(&["backup", "--data", &fx.data_s, "--out", &out]));

    // The log goes on; the subject and the auditor see it.
    for n in 0..3 {
        let o = fx.query_offline(&fx.data_s, n);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let after = fx.s("audit-after");
    ok(&["log", "verify", "--data", &fx.data_s, "--state", &after]);
    let subject_after = fx.path("subject-after");
    subject_state(&fx.data, &fx.subjects[0], &subject_after);
    let live = credseal_engine::PublicLog::open(&fx.data).unwrap().log_size();
    assert_eq!(live, size + 3);

    let target = fx.s("restored");
    let o = run(&["restore", "--backup", &out, "--data", &target, "--state", &after]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "has seen the log at {live} receipts, the backup holds only {size}"
        )),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&target).exists());
    let subject_after_s = subject_after.display().to_string();
    let o = run(&[
        "restore",
        "--backup",
        &out,
        "--data",
        &target,
        "--state",
        &subject_after_s,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "has seen the log at {live} receipts, the backup holds only {size}"
        )),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&target).exists());
    assert!(leftovers(fx.tmp.path(), "restored").is_empty());

    // What they saw before the backup is a prefix of it.
    let subject_before_s = subject_before.display().to_string();
    let o = ok(&[
        "restore",
        "--backup",
        &out,
        "--data",
        &target,
        "--state",
        &before,
        "--state",
        &subject_before_s,
    ]);
    assert_eq!(printed_size(&o), size);
}

#[test]
fn restore_into_a_non_empty_directory_writes_nothing() {
    let fx = Fx::new();
    let out = fx.s("backup");
    ok(&["backup", "--data", &fx.data_s, "--out", &out]);
    let target = fx.path("target");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"mine").unwrap();
    let o = run(&["restore", "--backup", &out, "--data", &target.display().to_string()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
    let names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["keep"]);
    assert_eq!(std::fs::read(target.join("keep")).unwrap(), b"mine");
    assert!(leftovers(fx.tmp.path(), "target").is_empty());
    // A backup into a non-empty directory is refused the same way.
    let o = fx.backup(&target.display().to_string());
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(leftovers(fx.tmp.path(), "target").is_empty());
}
