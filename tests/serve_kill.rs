//! The service under SIGKILL (docs/design.md §16): 20 times, `credseal serve` is started on
//! loopback with TLS, four clients send authorized queries over HTTPS as fast as it answers,
//! and the server is killed with SIGKILL at a random moment. After each kill:
//! - `credseal log verify` passes (the log, its checkpoints, map and chains are consistent);
//! - every answer a client received (HTTP 200) has its receipt in the log, byte for byte, in
//!   its subject's chain — an answer is released only after its receipt is durable.
//!
//! After the last kill the same platform still serves. `CREDSEAL_SERVE_KILLS=N` changes the
//! number of kills (default 20). Every loop is bounded in count and time.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{code, stderr};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "kill.credseal.invalid/log";
/// Client threads per round.
const CLIENTS: usize = 4;
/// Tokens each client may send per round (a bound; the kill comes much earlier).
const PER_CLIENT: usize = 400;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env("CREDSEAL_PASSPHRASE", PASS);
    c
}

#[track_caller]
fn ok(args: &[&str]) {
    let o = bin().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
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

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
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
    s.truncate(8);
    assert!(s.len() >= 4);
    s
}

/// A received answer: the subject asked about and the sealed answer text.
struct Received {
    subject: String,
    answer: String,
}

/// One client: sends its tokens in order until the server goes away; returns the answers
/// received. A status other than 200 fails the test (every token is unique and authorized).
fn client(agent: ureq::Agent, url: String, bodies: Vec<(String, String)>, stop: Arc<AtomicBool>) -> Vec<Received> {
    let mut got = Vec::new();
    for (subject, body) in bodies {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let r = agent
            .post(format!("{url}/v1/queries"))
            .header("content-type", "application/json")
            .send(body.as_bytes());
        let mut resp = match r {
            Ok(r) => r,
            // The server was killed: connection refused, reset or cut mid-response.
            Err(_) => break,
        };
        let status = resp.status().as_u16();
        let Ok(text) = resp.body_mut().read_to_string() else {
            break; // cut mid-body: not received
        };
        assert_eq!(status, 200, "an authorized, unique query was refused: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        got.push(Received {
            subject,
            answer: v["answer"].as_str().unwrap().to_string(),
        });
    }
    got
}

fn random_below(n: u64) -> u64 {
    u64::from_le_bytes(credseal_crypto::random_array()) % n
}

/// A platform with example data, an authority, department `bank-a` (credential serial 1,
/// identity for loan-approval), a self-signed TLS certificate for 127.0.0.1 and a client
/// that trusts exactly it.
struct Fx {
    tmp: tempfile::TempDir,
    data: PathBuf,
    data_s: String,
    credential: String,
    bank_key: credseal_auth::SigningKey,
    agent: ureq::Agent,
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
        let agent = agent(ck.cert.der());
        let subjects = subjects();
        Fx {
            cert_der: ck.cert.der().to_vec(),
            tmp,
            data,
            data_s,
            credential,
            bank_key,
            agent,
            subjects,
        }
    }

    /// `subject`'s receipts as stored (signed bytes); the platform must not be served now.
    fn subject_receipts(&self, subject: &str) -> Vec<Vec<u8>> {
        let platform = credseal_engine::Platform::open(
            &self.data,
            &credseal_crypto::Passphrase::new(PASS.to_string()),
            credseal_engine::OpenOptions::default(),
        )
        .unwrap();
        let blind = platform
            .blind(&credseal_core::SubjectId::parse(subject).unwrap())
            .unwrap();
        platform.subject_receipts(&blind).unwrap()
    }

    fn path(&self, n: &str) -> PathBuf {
        self.tmp.path().join(n)
    }

    fn server(&self) -> Server {
        Server::start(&self.data, &self.path("cert.pem"), &self.path("key.pem"))
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
                legal_basis: "kill test".into(),
                issued_at: now - 5,
                expires_at: now + 600,
                audience: ORIGIN.into(),
                consent: None,
            },
            &self.bank_key,
        )
        .to_text()
    }
}

#[test]
fn sigkill_under_load_loses_no_receipt_of_an_answer_sent() {
    let kills: usize = std::env::var("CREDSEAL_SERVE_KILLS")
        .ok()
        .map(|v| v.parse().expect("CREDSEAL_SERVE_KILLS: a number"))
        .unwrap_or(20);
    let fx = Fx::new();
    let (data, data_s, credential, agent, subjects) = (
        fx.data.clone(),
        fx.data_s.clone(),
        fx.credential.clone(),
        fx.agent.clone(),
        fx.subjects.clone(),
    );
    let p = |n: &str| fx.path(n);
    let token = |s: &str| fx.token(s);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut received: Vec<Received> = Vec::new();
    for round in 0..kills {
        assert!(
            Instant::now() < deadline,
            "the kill loop ran over 10 minutes (round {round})"
        );
        let server = Server::start(&data, &p("cert.pem"), &p("key.pem"));
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let bodies: Vec<(String, String)> = (0..PER_CLIENT)
                    .map(|i| {
                        let s = subjects[(c + i) % subjects.len()].clone();
                        let body = serde_json::json!({"credential": credential, "token": token(&s)}).to_string();
                        (s, body)
                    })
                    .collect();
                let (agent, url, stop) = (agent.clone(), server.url.clone(), stop.clone());
                std::thread::spawn(move || client(agent, url, bodies, stop))
            })
            .collect();
        // Kill at a random moment, 100–700 ms into the load.
        std::thread::sleep(Duration::from_millis(100 + random_below(600)));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let mut this_round = 0;
        for t in threads {
            let got = t.join().expect("a client thread panicked");
            this_round += got.len();
            received.extend(got);
        }
        eprintln!("round {round}: {this_round} answers received before SIGKILL");
        // The log is consistent after the kill.
        let o = bin()
            .args(["log", "verify", "--data", &data_s])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "log verify after kill {round}: {}", stderr(&o));
    }
    assert!(
        received.len() >= kills,
        "the load produced too few answers ({}) to test anything",
        received.len()
    );

    // Every answer received has its receipt in its subject's chain, byte for byte.
    let platform = credseal_engine::Platform::open(
        &data,
        &credseal_crypto::Passphrase::new(PASS.to_string()),
        credseal_engine::OpenOptions::default(),
    )
    .unwrap();
    let mut stored = BTreeSet::new();
    for s in &subjects {
        let blind = platform.blind(&credseal_core::SubjectId::parse(s).unwrap()).unwrap();
        stored.extend(platform.subject_receipts(&blind).unwrap());
    }
    for (i, r) in received.iter().enumerate() {
        let a = credseal_engine::SealedAnswer::from_text(&r.answer).unwrap();
        assert!(
            stored.contains(&a.receipt),
            "answer {i} (subject {}…) was received but its receipt is not in the log",
            &r.subject[..6]
        );
    }
    let log_size = platform.log_size().unwrap();
    assert!(
        log_size >= received.len() as u64,
        "log size {log_size} < {} answers",
        received.len()
    );
    drop(platform);

    // The platform still serves after the kills.
    let server = Server::start(&data, &p("cert.pem"), &p("key.pem"));
    let body = serde_json::json!({"credential": credential, "token": token(&subjects[0])}).to_string();
    let mut resp = agent
        .post(format!("{}/v1/queries", server.url))
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.body_mut().read_to_string().unwrap()
    );
    eprintln!(
        "{kills} kills, {} answers received, all receipted; log size {log_size}",
        received.len()
    );
}

/// Sends `body` to POST /v1/queries over a raw TLS connection and closes the connection
/// `wait` after the request without reading a byte of the response: a client whose
/// response is lost (it hung up at once, or timed out while the query ran or after).
fn post_and_hang_up(url: &str, cert_der: &[u8], body: &str, wait: Duration) {
    use std::io::Write;
    let addr = url.strip_prefix("https://").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    #[allow(deprecated)] // ring's provider: see crates/credseal-server/src/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "POST /v1/queries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    tls.flush().unwrap();
    std::thread::sleep(wait);
    let _ = tls.sock.shutdown(std::net::Shutdown::Both);
}

/// Posts `body` to POST /v1/queries; the status and the body.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    let mut r = agent
        .post(format!("{url}/v1/queries"))
        .header("content-type", "application/json")
        .send(body.as_bytes())
        .unwrap();
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

/// A department whose response was lost sends the same token again and gets its answer —
/// never `replayed`, never a second receipt — whether the first attempt was cut before the
/// engine saw it, while it ran, or after the answer was written (then the answer is held and
/// also served by `GET /v1/queries/{id}`); and a retry that arrives while the first attempt
/// is still in the engine waits for it.
#[test]
fn a_lost_response_costs_no_second_query_and_no_second_receipt() {
    let fx = Fx::new();
    let subject = fx.subjects[0].clone();
    // The subject's receipts before (its records' ingest).
    let before = fx.subject_receipts(&subject).len();
    let server = fx.server();
    let mut answers = Vec::new();
    for (round, wait_ms) in [0u64, 0, 1, 2, 5, 10, 20, 50, 300, 300].into_iter().enumerate() {
        let token = fx.token(&subject);
        let qid = {
            let t = credseal_auth::Unverified::<credseal_auth::Token>::parse_text(&token).unwrap();
            credseal_core::hex(&t.peek_unverified().unwrap().query_id)
        };
        let body = serde_json::json!({"credential": fx.credential, "token": token}).to_string();
        post_and_hang_up(&server.url, &fx.cert_der, &body, Duration::from_millis(wait_ms));
        // The retry: twice at once (one may wait for the other), then once more.
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| post(&fx.agent, &server.url, &body));
            let b = s.spawn(|| post(&fx.agent, &server.url, &body));
            (a.join().unwrap(), b.join().unwrap())
        });
        let c = post(&fx.agent, &server.url, &body);
        for (status, text) in [&a, &b, &c] {
            assert_eq!(*status, 200, "round {round} (hung up after {wait_ms} ms): {text}");
        }
        assert_eq!(a.1, b.1, "round {round}: two retries got different answers");
        assert_eq!(a.1, c.1, "round {round}: the third retry got another answer");
        let mut g = fx.agent.get(format!("{}/v1/queries/{qid}", server.url)).call().unwrap();
        assert_eq!(g.status().as_u16(), 200, "round {round}: GET by query id");
        assert_eq!(g.body_mut().read_to_string().unwrap(), a.1);
        let v: serde_json::Value = serde_json::from_str(&a.1).unwrap();
        assert_eq!(v["query_id"], qid.as_str());
        answers.push(v["answer"].as_str().unwrap().to_string());
    }
    server.kill();
    // One receipt per token, whose bytes are the answer's.
    let receipts = fx.subject_receipts(&subject);
    assert_eq!(receipts.len(), before + answers.len(), "one receipt per token, no more");
    for a in &answers {
        let a = credseal_engine::SealedAnswer::from_text(a).unwrap();
        assert_eq!(receipts.iter().filter(|r| **r == a.receipt).count(), 1);
    }
}
