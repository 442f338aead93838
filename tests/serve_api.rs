//! End-to-end tests of `credseal serve` (API v1, docs/design.md §14): the real binary runs as
//! a child process with a self-signed certificate for 127.0.0.1 made here with rcgen, and
//! every request goes through a real HTTPS client (ureq over rustls with that certificate as
//! the only root) or, for the attacks, a raw `TcpStream` / a raw rustls client.
//!
//! Covered: every route of the contract and its body (answers open with `credseal open`,
//! bundles verify with `credseal receipts verify`, the checkpoint verifies against the log
//! key); every denial code of `credseal_auth::Denial` with its status (403 / 422), `code`,
//! `exit_class` and `application/problem+json`; answer pickup (the same token twice, by id);
//! a revocation list installed over HTTP; the bad inputs (413, 415, 400 without echoing the
//! body, 408 for a slow body, oversized headers, slow headers, garbage and plain HTTP on the
//! TLS port, the concurrency cap, the department rate limit, 405, 404, `--insecure-loopback`
//! off loopback); client certificates with `--client-ca`; the request log; the drain on
//! SIGTERM.
//!
//! The server holds the platform's database, so everything that needs `--data` (registering
//! subjects, reading the log) happens before it starts or after it stopped. Every server is
//! killed when its [`Srv`] is dropped. No test asserts a duration: waits are bounded only so
//! that a broken server fails the test instead of hanging it.

use std::cell::Cell;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

mod common;

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
const OTHER_ORIGIN: &str = "other.credseal.invalid/log";

/// A person in records.jsonl with an `identity` and a `loans` record.
const SUBJECT: &str = "42010619960510907X";
/// The department enrolled by [`Fx::new`].
const DEPT: &str = "bank-a";
/// What its credential (serial 1) grants (as in tests/cli_query.rs).
const CRED_CLASSES: &str = "identity,loans,repayment,credit-cards,tax,licences";
const CRED_PURPOSES: &str = "loan-approval,tax-administration";

/// Every reason code of `credseal_auth::Denial` (checked against the library below).
const ALL_CODES: [&str; 24] = [
    "malformed",
    "credential-bad-signature",
    "bad-signature",
    "unknown-credential",
    "credential-revoked",
    "credential-expired",
    "credential-not-yet-valid",
    "token-expired",
    "token-not-yet-valid",
    "lifetime-over-policy",
    "wrong-audience",
    "replayed",
    "unknown-class",
    "class-not-granted",
    "purpose-not-granted",
    "purpose-not-allowed-for-class",
    "consent-missing",
    "consent-invalid",
    "consent-expired",
    "consent-exhausted",
    "consent-mismatch",
    "subject-key-invalid",
    "revocation-list-bad-signature",
    "revocation-list-stale",
];

/// Upper bound of every wait in this file (server start, a response, an exit): only there
/// so that a broken server fails a test rather than hanging it.
const WAIT: Duration = Duration::from_secs(90);

// ------------------------------------------------------------------ process helpers

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

fn now() -> u64 {
    credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap()
}

fn abs(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Every subject id, record id and field value (6+ bytes) of the example data, and the
/// subject ids these tests use: none may appear in a problem document or the server's log.
fn needles() -> Vec<String> {
    let records = std::fs::read_to_string(abs(RECORDS)).unwrap();
    let catalog = std::fs::read_to_string(abs(CATALOG)).unwrap();
    let mut n: Vec<String> = common::plaintext_needles(&records, &catalog)
        .into_iter()
        .map(|b| String::from_utf8(b).unwrap())
        .collect();
    n.push(SUBJECT.to_string());
    n.push(absent_subject());
    n
}

/// Panics if `text` holds a subject id or a field value of the example data.
#[track_caller]
fn assert_clean(what: &str, text: &str, needles: &[String]) {
    for n in needles {
        assert!(!text.contains(n.as_str()), "{what} holds {n:?}: {text}");
    }
}

/// A resident identity number from its first 17 digits (ISO 7064 MOD 11-2 check).
fn resident_id(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(W).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

/// A valid subject id with no record on the platform.
fn absent_subject() -> String {
    resident_id("11010519491231002")
}

// ------------------------------------------------------------------ the platform

/// A fresh platform (example data ingested) trusting a fresh authority, with `bank-a`
/// enrolled (credential serial 1), as in tests/cli_query.rs; plus a self-signed TLS
/// certificate for 127.0.0.1.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    bank: String,
    cred: String,
    files: Cell<u32>,
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
}

/// A query token to be signed with `dept query`.
#[derive(Clone, Debug)]
struct Tok {
    key: String,
    credential: String,
    subject: String,
    classes: String,
    purpose: String,
    audience: String,
    consent: Option<String>,
    ttl: Option<u64>,
    issued_at: Option<u64>,
}

impl Tok {
    fn key(mut self, k: &str) -> Self {
        self.key = k.into();
        self
    }
    fn credential(mut self, c: &str) -> Self {
        self.credential = c.into();
        self
    }
    fn classes(mut self, c: &str) -> Self {
        self.classes = c.into();
        self
    }
    fn purpose(mut self, p: &str) -> Self {
        self.purpose = p.into();
        self
    }
    fn audience(mut self, a: &str) -> Self {
        self.audience = a.into();
        self
    }
    fn consent(mut self, c: &str) -> Self {
        self.consent = Some(c.into());
        self
    }
    fn ttl(mut self, t: u64) -> Self {
        self.ttl = Some(t);
        self
    }
    fn issued_at(mut self, t: u64) -> Self {
        self.issued_at = Some(t);
        self
    }
}

impl Fx {
    fn new() -> Self {
        Self::new_with(CATALOG)
    }

    /// [`Fx::new`] with the catalogue in `catalog`.
    fn new_with(catalog: &str) -> Self {
        let fx = Self::bare_with(catalog);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &fx.data,
            RECORDS,
        ]);
        fx
    }

    /// A platform with no records, trusting the authority, `bank-a` enrolled.
    fn bare() -> Self {
        Self::bare_with(CATALOG)
    }

    fn bare_with(catalog: &str) -> Self {
        let mut fx = Self::empty_with(catalog);
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
        fx.bank = fx.keygen("dept", "bank-a");
        fx.cred = fx.enroll(1, &fx.auth, &fx.bank, ORIGIN, &[]);
        fx
    }

    /// A platform just made: no authority, no records, no receipts.
    fn empty() -> Self {
        Self::empty_with(CATALOG)
    }

    fn empty_with(catalog: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
        ok(&[
            "init",
            "--data",
            &data,
            "--catalog",
            catalog,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
        ]);
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let mut fx = Fx {
            dir,
            data,
            auth: String::new(),
            bank: String::new(),
            cred: String::new(),
            files: Cell::new(0),
            cert_pem: String::new(),
            key_pem: String::new(),
            cert_der: ck.cert.der().to_vec(),
        };
        fx.cert_pem = fx.write("cert.pem", &ck.cert.pem());
        fx.key_pem = fx.write("key.pem", &ck.signing_key.serialize_pem());
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    fn write(&self, stem: &str, text: &str) -> String {
        let p = self.fresh(stem);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(file).unwrap()
    }

    fn keygen(&self, role: &str, name: &str) -> String {
        let d = self.path(name);
        ok(&[role, "keygen", "--unencrypted", "--out-dir", &d]);
        d
    }

    fn authority_keygen(&self, name: &str) -> String {
        let k = self.path(name);
        ok(&["authority", "keygen", "--unencrypted", "--out", &k]);
        k
    }

    /// A credential for `bank-a` with the keys in `dept_dir`, signed with `authority`.
    fn enroll(&self, serial: u64, authority: &str, dept_dir: &str, audience: &str, extra: &[&str]) -> String {
        self.enroll_dept(serial, authority, DEPT, dept_dir, audience, extra)
    }

    #[allow(clippy::too_many_arguments)]
    fn enroll_dept(
        &self,
        serial: u64,
        authority: &str,
        dept: &str,
        dept_dir: &str,
        audience: &str,
        extra: &[&str],
    ) -> String {
        let out = self.fresh("credential");
        let serial = serial.to_string();
        let sign = format!("{dept_dir}/signing.pub");
        let seal = format!("{dept_dir}/sealing.pub");
        let mut args = vec![
            "authority",
            "enroll",
            "--key",
            authority,
            "--serial",
            &serial,
            "--department",
            dept,
            "--name",
            "A Bank",
            "--signing-key",
            &sign,
            "--sealing-key",
            &seal,
            "--classes",
            CRED_CLASSES,
            "--purposes",
            CRED_PURPOSES,
            "--audience",
            audience,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        ok(&args);
        out
    }

    fn tok(&self) -> Tok {
        Tok {
            key: format!("{}/signing.key", self.bank),
            credential: self.cred.clone(),
            subject: SUBJECT.into(),
            classes: "identity".into(),
            purpose: "loan-approval".into(),
            audience: ORIGIN.into(),
            consent: None,
            ttl: None,
            issued_at: None,
        }
    }

    /// Signs `t` with `dept query`; returns the token file.
    fn sign(&self, t: &Tok) -> String {
        let out = self.fresh("token");
        let ttl = t.ttl.map(|v| v.to_string());
        let issued = t.issued_at.map(|v| v.to_string());
        let mut args = vec![
            "dept",
            "query",
            "--key",
            &t.key,
            "--credential",
            &t.credential,
            "--subject",
            &t.subject,
            "--classes",
            &t.classes,
            "--purpose",
            &t.purpose,
            "--legal-basis",
            "contract 2026-001",
            "--audience",
            &t.audience,
            "--out",
            &out,
        ];
        if let Some(c) = &t.consent {
            args.extend(["--consent", c]);
        }
        if let Some(v) = &ttl {
            args.extend(["--ttl", v]);
        }
        if let Some(v) = &issued {
            args.extend(["--issued-at", v]);
        }
        ok(&args);
        out
    }

    /// A consent signed with `subject_dir`'s key for [`SUBJECT`], `department`, `loans`,
    /// `loan-approval`, with `extra` arguments.
    fn consent(&self, subject_dir: &str, department: &str, extra: &[&str]) -> String {
        let out = self.fresh("consent");
        let key = format!("{subject_dir}/signing.key");
        let mut args = vec![
            "subject",
            "consent",
            "--key",
            &key,
            "--subject",
            SUBJECT,
            "--department",
            department,
            "--classes",
            "loans",
            "--purpose",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        ok(&args);
        out
    }

    /// A subject's keys, registered for `subject` (before the server starts).
    fn registered_subject(&self, name: &str, subject: &str) -> String {
        let d = self.keygen("subject", name);
        ok(&[
            "subject",
            "register",
            "--data",
            &self.data,
            "--subject",
            subject,
            "--key",
            &format!("{d}/signing.pub"),
        ]);
        d
    }

    /// A self-query signed with `key_dir`'s keys for `subject`.
    fn self_query(&self, key_dir: &str, subject: &str, audience: &str) -> String {
        let q = self.fresh("self-query");
        ok(&[
            "subject",
            "query",
            "--key",
            &format!("{key_dir}/signing.key"),
            "--sealing-key",
            &format!("{key_dir}/sealing.pub"),
            "--subject",
            subject,
            "--classes",
            "identity,loans",
            "--audience",
            audience,
            "--out",
            &q,
        ]);
        q
    }

    /// A revocation list signed with `authority` revoking `serial`, written only.
    fn revocation_list(&self, authority: &str, serial: &str, previous: Option<&str>) -> String {
        let out = self.fresh("revocations");
        let mut args = vec![
            "authority",
            "revoke",
            "--key",
            authority,
            "--serial",
            serial,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ];
        if let Some(p) = previous {
            args.extend(["--previous", p]);
        }
        ok(&args);
        out
    }

    /// The JSON body of `POST /v1/queries` for the credential and token files.
    fn query_body(&self, credential: &str, token: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "credential": self.read(credential),
            "token": self.read(token),
        }))
        .unwrap()
    }

    /// The log size `credseal log verify` finds (the server must not be running).
    fn verified_log_size(&self) -> u64 {
        let o = ok(&["log", "verify", "--data", &self.data, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["size"].as_u64().unwrap()
    }

    /// `credseal open --json` of `answer` (text) for `request` (file), with `key`, pinning
    /// `log_key` (text).
    fn open(&self, key: &str, log_key: &str, request: &str, answer: &str) -> Output {
        let a = self.write("answer", answer);
        let k = self.write("log-key", log_key);
        run(&["open", "--key", key, "--log-key", &k, "--token", request, &a, "--json"])
    }

    /// Starts `credseal serve` on 127.0.0.1:0 with TLS and `extra` flags.
    fn serve(&self, extra: &[&str]) -> Srv {
        Srv::start(self, extra)
    }
}

// ------------------------------------------------------------------ the server process

/// A running `credseal serve`; killed when dropped.
struct Srv {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    agent: ureq::Agent,
    cert_der: Vec<u8>,
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Asserts this is a problem document with `status` and `code`; returns it.
    #[track_caller]
    fn problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status, status, "expected {status} {code}: {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["code"], code, "{self:?}");
        assert_eq!(v["status"], status, "{self:?}");
        assert_eq!(v["type"], format!("urn:credseal:problem:{code}"), "{self:?}");
        assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{self:?}");
        assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()), "{self:?}");
        let class = match status {
            403 => 3,
            422 => 4,
            429 | 500..=599 => 1,
            _ => 2,
        };
        assert_eq!(v["exit_class"], class, "{self:?}");
        v
    }
}

/// An HTTPS client trusting only `root` (DER), presenting `client` if given.
fn agent(root: &[u8], client: Option<ureq::tls::ClientCert>) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_der(root).to_owned(),
        ]))
        .client_cert(client)
        .unversioned_rustls_crypto_provider(ring())
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(WAIT))
        .build()
        .into()
}

#[allow(deprecated)] // the ring provider: see crates/credseal-server/src/tls.rs
fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Srv {
    fn start(fx: &Fx, extra: &[&str]) -> Srv {
        let mut child = bin()
            .args([
                "serve",
                "--data",
                &fx.data,
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &fx.cert_pem,
                "--tls-key",
                &fx.key_pem,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(a) = line.strip_prefix("credseal: serving https://") {
                    let _ = tx.send(a.trim().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(WAIT) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not start: {:?}", log.lock().unwrap());
            }
        };
        let agent = agent(&fx.cert_der, None);
        Srv {
            child,
            addr,
            log,
            reader: Some(reader),
            agent,
            cert_der: fx.cert_der.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Sends `method path` with `headers` and `body` (if any); a transport error panics.
    fn try_send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Resp, ureq::Error> {
        let mut b = ureq::http::Request::builder().method(method).uri(self.url(path));
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        let resp = match body {
            Some(bytes) => self.agent.run(b.body(bytes.to_vec()).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        }?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.into_body().read_to_string()?;
        Ok(Resp { status, headers, body })
    }

    #[track_caller]
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
        self.try_send(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    #[track_caller]
    fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    #[track_caller]
    fn json(&self, method: &str, path: &str, body: &[u8]) -> Resp {
        self.send(method, path, &[("content-type", "application/json")], Some(body))
    }

    #[track_caller]
    fn post_query(&self, body: &[u8]) -> Resp {
        self.json("POST", "/v1/queries", body)
    }

    /// The size of the latest checkpoint served (0 while the log is empty).
    #[track_caller]
    fn log_size(&self) -> u64 {
        let r = self.get("/v1/log/checkpoint");
        if r.status == 404 {
            return 0;
        }
        assert_eq!(r.status, 200, "{r:?}");
        r.body.lines().nth(1).unwrap().parse().unwrap()
    }

    /// The server's stderr so far.
    fn stderr(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The request log lines so far, parsed.
    fn request_log(&self) -> Vec<serde_json::Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A TLS 1.3 connection through rustls itself, trusting only the test certificate.
    fn raw_tls(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(self.cert_der.clone()))
            .unwrap();
        let cfg = rustls::ClientConfig::builder_with_provider(ring())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
        rustls::StreamOwned::new(conn, self.raw_tcp())
    }

    fn raw_tcp(&self) -> TcpStream {
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.set_write_timeout(Some(WAIT)).unwrap();
        tcp
    }

    /// Sends SIGTERM and waits (bounded) for the exit; returns its status and stderr.
    fn terminate(mut self) -> (ExitStatus, String) {
        self.sigterm();
        let status = self.wait_exit();
        (status, self.finish_log())
    }

    /// Sends SIGTERM (with `kill`, this process's own child only).
    fn sigterm(&self) {
        let o = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "kill: {}", stderr(&o));
    }

    /// `credseal_requests_in_flight` from `/metrics` (which takes no slot, so does not count itself).
    fn in_flight(&self) -> u64 {
        let m = self.get("/metrics");
        let line = m
            .body
            .lines()
            .find(|l| l.starts_with("credseal_requests_in_flight "))
            .unwrap_or_else(|| panic!("no in-flight gauge: {}", m.body));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    }

    /// `credseal_requests_receiving` from `/metrics`: requests whose body is still arriving.
    fn receiving(&self) -> u64 {
        let m = self.get("/metrics");
        let line = m
            .body
            .lines()
            .find(|l| l.starts_with("credseal_requests_receiving "))
            .unwrap_or_else(|| panic!("no receiving gauge: {}", m.body));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    }

    /// Waits (bounded) for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(start.elapsed() < WAIT, "the server did not exit: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Joins the stderr reader (the process has exited) and returns everything it read.
    fn finish_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        self.stderr()
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Reads from `s` until EOF, an error, or `limit` bytes; returns what arrived.
fn read_all(s: &mut impl std::io::Read, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < limit {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Reads from `s` until the peer closes (EOF or a reset: `true`) or the read timeout
/// passes (`false`); returns what arrived.
fn read_until_closed(s: &mut impl std::io::Read) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (out, false);
            }
            Err(_) => return (out, true),
        }
        assert!(out.len() < 1 << 20, "the server sends without end");
    }
}

/// The status code of a raw HTTP/1.1 response, if it is one.
fn raw_status(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let rest = text.strip_prefix("HTTP/1.1 ")?;
    rest.get(..3)?.parse().ok()
}

// ------------------------------------------------------------------ the library's codes

/// The codes above are the library's, in its order.
#[test]
fn all_codes_are_the_librarys() {
    use credseal_auth::{Denial, FormatError, Kind};
    let all = [
        Denial::Malformed {
            detail: FormatError::WrongPrefix,
        },
        Denial::CredentialBadSignature,
        Denial::BadSignature,
        Denial::UnknownCredential,
        Denial::CredentialRevoked,
        Denial::CredentialExpired,
        Denial::CredentialNotYetValid,
        Denial::TokenExpired,
        Denial::TokenNotYetValid,
        Denial::LifetimeOverPolicy,
        Denial::WrongAudience { object: Kind::Token },
        Denial::Replayed,
        Denial::UnknownClass { class: None },
        Denial::ClassNotGranted { class: "x".into() },
        Denial::PurposeNotGranted,
        Denial::PurposeNotAllowedForClass { class: "x".into() },
        Denial::ConsentMissing,
        Denial::ConsentInvalid,
        Denial::ConsentExpired,
        Denial::ConsentExhausted,
        Denial::ConsentMismatch,
        Denial::SubjectKeyInvalid,
        Denial::RevocationListBadSignature,
        Denial::RevocationListStale,
    ];
    let codes: Vec<&str> = all.iter().map(Denial::code).collect();
    assert_eq!(codes, ALL_CODES);
}

// ------------------------------------------------------------------ every route

/// Every route of API v1 and the operational ones, with their bodies checked through the
/// binary: the answer opens with `credseal open`, the self-query's answer with the subject's
/// key, the bundle verifies with `receipts verify`, the checkpoint with the log key.
#[test]
fn every_route_answers_as_the_contract_says() {
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    let vkey_cli = stdout(&ok(&["log", "key", "--data", &fx.data]));
    let current_cli = stdout(&ok(&["log", "key", "--current", "--data", &fx.data]));
    let vrf_cli = stdout(&ok(&["log", "key", "--vrf", "--data", &fx.data]));
    let size_before = fx.verified_log_size();
    let token = fx.sign(&fx.tok().classes("identity,tax"));
    let self_q = fx.self_query(&subj, SUBJECT, ORIGIN);
    let bundle_req = fx.fresh("bundle-request");
    ok(&[
        "receipts",
        "request",
        "--key",
        &format!("{subj}/signing.key"),
        "--subject",
        SUBJECT,
        "--audience",
        ORIGIN,
        "--out",
        &bundle_req,
    ]);
    let needles = needles();
    let srv = fx.serve(&[]);

    // Public log routes: what the CLI prints, text/plain, cacheable only after revalidation.
    let key = srv.get("/v1/log/key");
    assert_eq!(key.status, 200, "{key:?}");
    assert_eq!(key.body, vkey_cli);
    assert_eq!(key.body, current_cli, "no rotation yet: the original key signs");
    let vrf = srv.get("/v1/log/vrf-key");
    assert_eq!(vrf.status, 200, "{vrf:?}");
    assert_eq!(vrf.body, vrf_cli);
    let history = srv.get("/v1/log/key-history");
    assert_eq!(history.status, 200, "{history:?}");
    assert_eq!(history.body, "", "never rotated: no handover notes");
    let cp = srv.get("/v1/log/checkpoint");
    assert_eq!(cp.status, 200, "{cp:?}");
    let verifier = credseal_log::LogVerifier::from_vkey(key.body.trim()).unwrap();
    let c0 = verifier.verify_checkpoint(&cp.body).unwrap();
    assert_eq!(c0.size(), size_before);
    for r in [&key, &vrf, &history, &cp] {
        assert!(r.header("content-type").unwrap().starts_with("text/plain"), "{r:?}");
        assert_ne!(r.header("cache-control"), Some("no-store"), "{r:?}");
    }
    // The note is signed: another size under the same signature does not verify.
    let forged = cp
        .body
        .replacen(&format!("\n{size_before}\n"), &format!("\n{}\n", size_before + 1), 1);
    assert_ne!(forged, cp.body);
    assert!(verifier.verify_checkpoint(&forged).is_err());

    // POST /v1/queries: the sealed answer opens with the department's key, for this token.
    let r = srv.post_query(&fx.query_body(&fx.cred, &token));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = r.json();
    let qid = v["query_id"].as_str().unwrap().to_string();
    assert_eq!(qid.len(), 32);
    assert!(qid.bytes().all(|b| b.is_ascii_hexdigit()));
    let answer = v["answer"].as_str().unwrap().to_string();
    assert!(answer.starts_with("cs1.answer."), "{answer}");
    let o = fx.open(&format!("{}/sealing.key", fx.bank), &key.body, &token, &answer);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let opened: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(opened["subject"], SUBJECT);
    assert_eq!(opened["department"], DEPT);
    assert_eq!(opened["classes"], serde_json::json!(["identity", "tax"]));
    assert!(!opened["records"].as_array().unwrap().is_empty());
    // Not with another key, and not as the answer to another token.
    let o = fx.open(&format!("{subj}/sealing.key"), &key.body, &token, &answer);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let o = fx.open(
        &format!("{}/sealing.key", fx.bank),
        &key.body,
        &fx.sign(&fx.tok()),
        &answer,
    );
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    // The query id is the token's.
    let sealed = credseal_engine::SealedAnswer::from_text(&answer).unwrap();
    assert_eq!(credseal_core::hex(&sealed.query_id), qid);

    // GET /v1/queries/{id}: the same body.
    let again = srv.get(&format!("/v1/queries/{qid}"));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body, r.body);
    assert_eq!(again.header("cache-control"), Some("no-store"));

    // POST /v1/self-queries: opens with the subject's sealing key.
    let sq = srv.json(
        "POST",
        "/v1/self-queries",
        &serde_json::to_vec(&serde_json::json!({ "query": fx.read(&self_q) })).unwrap(),
    );
    assert_eq!(sq.status, 200, "{sq:?}");
    assert_eq!(sq.header("cache-control"), Some("no-store"));
    let sv = sq.json();
    assert_eq!(sv["query_id"].as_str().unwrap().len(), 32);
    let o = fx.open(
        &format!("{subj}/sealing.key"),
        &key.body,
        &self_q,
        sv["answer"].as_str().unwrap(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let opened: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(opened["department"], "subject");
    assert!(
        opened["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["class"] == "loans")
    );

    // The checkpoint grew by the two receipts and still verifies.
    let cp2 = srv.get("/v1/log/checkpoint");
    let c2 = verifier.verify_checkpoint(&cp2.body).unwrap();
    assert_eq!(c2.size(), size_before + 2);

    // POST /v1/bundles: the subject's bundle verifies with `receipts verify` and names bank-a.
    let b = srv.json(
        "POST",
        "/v1/bundles",
        &serde_json::to_vec(&serde_json::json!({ "request": fx.read(&bundle_req) })).unwrap(),
    );
    assert_eq!(b.status, 200, "{b:?}");
    assert_eq!(b.header("cache-control"), Some("no-store"));
    let bv = b.json();
    let bundle_text = bv["bundle"].as_str().unwrap();
    assert!(!bundle_text.ends_with('\n'));
    let bundle = credseal_log::Bundle::from_text(bundle_text).unwrap();
    assert_eq!(bv["receipts"], bundle.entries.len());
    assert!(
        bundle.entries.len() >= 2,
        "the department's query and the self-query: {bv}"
    );
    let bundle_file = fx.write("bundle", &format!("{bundle_text}\n"));
    let vkey_file = fx.write("vkey", &key.body);
    let vrf_file = fx.write("vrf", &vrf.body);
    let state = fx.fresh("state");
    let o = run(&[
        "receipts",
        "verify",
        "--vkey",
        &vkey_file,
        "--vrf-key",
        &vrf_file,
        "--subject",
        SUBJECT,
        "--state",
        &state,
        &bundle_file,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(DEPT), "{}", stdout(&o));

    // PUT /v1/revocations: installs version 1.
    let list = fx.revocation_list(&fx.auth, "99", None);
    let rv = srv.json(
        "PUT",
        "/v1/revocations",
        &serde_json::to_vec(&serde_json::json!({ "list": fx.read(&list) })).unwrap(),
    );
    assert_eq!(rv.status, 200, "{rv:?}");
    assert_eq!(rv.json(), serde_json::json!({ "version": 1 }));
    // Installing it is receipted too.
    let size_after = srv.log_size();
    assert_eq!(size_after, size_before + 3);

    // Operational routes.
    let h = srv.get("/healthz");
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    assert_eq!(h.header("cache-control"), Some("no-store"));
    let rd = srv.get("/readyz");
    assert_eq!((rd.status, rd.body.as_str()), (200, "ready\n"));
    let m = srv.get("/metrics");
    assert_eq!(m.status, 200, "{m:?}");
    assert_eq!(
        m.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        m.body.contains("# TYPE credseal_http_requests_total counter"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("credseal_http_requests_total{route=\"/v1/queries\",status=\"200\"} 1"),
        "{}",
        m.body
    );
    // Every sample line is `name{labels} value` or `name value`.
    for line in m.body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    assert_clean("metrics", &m.body, &needles);

    // The request log: one JSON line per request with route, status, latency, department.
    drop(srv.get("/healthz"));
    let lines = srv.request_log();
    let q = lines
        .iter()
        .find(|l| l["route"] == "/v1/queries")
        .expect("a log line for the query");
    assert_eq!(q["status"], 200);
    assert_eq!(q["department"], DEPT);
    assert!(q["latency_us"].is_u64(), "{q}");
    assert!(q["time"].as_u64().unwrap() >= now() - 3600, "{q}");
    for route in [
        "/v1/queries/{query_id}",
        "/v1/self-queries",
        "/v1/bundles",
        "/v1/revocations",
        "/v1/log/key",
        "/v1/log/vrf-key",
        "/v1/log/checkpoint",
        "/v1/log/key-history",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            lines.iter().any(|l| l["route"] == route && l["status"] == 200),
            "no log line for {route}: {lines:?}"
        );
    }
    let (status, err) = srv.terminate();
    assert!(status.success(), "{status:?}: {err}");
    assert_clean("the server's stderr", &err, &needles);
    // Afterwards the log verifies and holds the three receipts.
    assert_eq!(fx.verified_log_size(), size_after);
}

/// A platform with no receipt yet has no checkpoint: 404 `not-found`.
#[test]
fn checkpoint_of_an_empty_log_is_not_found() {
    let fx = Fx::empty();
    let srv = fx.serve(&[]);
    srv.get("/v1/log/checkpoint").problem(404, "not-found");
    assert_eq!(srv.log_size(), 0);
    assert_eq!(srv.get("/v1/log/key").status, 200);
}

// ------------------------------------------------------------------ denials

/// A request of the denial table: path, method, JSON body.
type Req<'a> = (&'a str, &'a str, Vec<u8>);

/// What a request of the denial table must get.
enum Want {
    /// 200: a step that sets up the next case.
    Granted,
    /// The problem with this denial code (403, or 422 for a forgery).
    Denied(&'static str),
}

/// Every denial code of the engine, produced through the API: the status by exit class
/// (403 for exit 3, 422 for exit 4), the `code`, the `exit_class`, the problem media type, and
/// no subject id or field value in the document or in the server's log.
#[test]
fn every_denial_code_over_http() {
    let fx = Fx::new();
    let t0 = now();
    let subj = fx.registered_subject("subject", SUBJECT);
    let stranger = fx.keygen("subject", "stranger");
    let other_bank = fx.keygen("dept", "bank-b");
    let rogue = fx.authority_keygen("rogue.key");
    let cred2 = fx.enroll(2, &fx.auth, &fx.bank, ORIGIN, &[]);
    let expired = fx.enroll(
        3,
        &fx.auth,
        &fx.bank,
        ORIGIN,
        &["--not-before", &(t0 - 2 * 86_400).to_string(), "--days", "1"],
    );
    let early = fx.enroll(
        4,
        &fx.auth,
        &fx.bank,
        ORIGIN,
        &["--not-before", &(t0 + 86_400).to_string()],
    );
    let rogue_cred = fx.enroll(1, &rogue, &fx.bank, ORIGIN, &[]);
    let junk = fx.write("junk", "hello\n");
    let q = |cred: &str, tok: &str| ("/v1/queries", "POST", fx.query_body(cred, tok));
    let sq = |file: &str| {
        let body = serde_json::to_vec(&serde_json::json!({ "query": fx.read(file) })).unwrap();
        ("/v1/self-queries", "POST", body)
    };
    let rl = |file: &str| {
        let body = serde_json::to_vec(&serde_json::json!({ "list": fx.read(file) })).unwrap();
        ("/v1/revocations", "PUT", body)
    };
    let tok = |t: Tok| fx.sign(&t);
    let loans_with = |consent: String| fx.sign(&fx.tok().classes("loans").consent(&consent));
    let own_sq = fx.self_query(&subj, SUBJECT, ORIGIN);
    let rogue_list = fx.revocation_list(&rogue, "1", None);
    let list = fx.revocation_list(&fx.auth, "1", None);
    let once = fx.consent(&subj, DEPT, &["--max-uses", "1"]);
    let cases: Vec<(Want, Req)> = vec![
        (Want::Denied("malformed"), q(&fx.cred, &junk)),
        (Want::Denied("malformed"), q(&fx.cred, &fx.cred)),
        (
            Want::Denied("credential-bad-signature"),
            q(&rogue_cred, &tok(fx.tok().credential(&rogue_cred))),
        ),
        (
            Want::Denied("bad-signature"),
            q(&fx.cred, &tok(fx.tok().key(&format!("{other_bank}/signing.key")))),
        ),
        (Want::Denied("unknown-credential"), q(&cred2, &tok(fx.tok()))),
        (
            Want::Denied("credential-expired"),
            q(&expired, &tok(fx.tok().credential(&expired))),
        ),
        (
            Want::Denied("credential-not-yet-valid"),
            q(&early, &tok(fx.tok().credential(&early))),
        ),
        (
            Want::Denied("token-expired"),
            q(&fx.cred, &tok(fx.tok().issued_at(t0 - 1200).ttl(300))),
        ),
        (
            Want::Denied("token-not-yet-valid"),
            q(&fx.cred, &tok(fx.tok().issued_at(t0 + 600))),
        ),
        (
            Want::Denied("lifetime-over-policy"),
            q(&fx.cred, &tok(fx.tok().ttl(86_400))),
        ),
        (
            Want::Denied("wrong-audience"),
            q(&fx.cred, &tok(fx.tok().audience(OTHER_ORIGIN))),
        ),
        (Want::Granted, sq(&own_sq)),
        (Want::Denied("replayed"), sq(&own_sq)),
        (
            Want::Denied("unknown-class"),
            q(&fx.cred, &tok(fx.tok().classes("identity,salary"))),
        ),
        (
            Want::Denied("class-not-granted"),
            q(&fx.cred, &tok(fx.tok().classes("identity,judgments"))),
        ),
        (
            Want::Denied("purpose-not-granted"),
            q(&fx.cred, &tok(fx.tok().purpose("judicial-enforcement"))),
        ),
        (
            Want::Denied("purpose-not-allowed-for-class"),
            q(
                &fx.cred,
                &tok(fx.tok().classes("tax,licences").purpose("tax-administration")),
            ),
        ),
        (
            Want::Denied("consent-missing"),
            q(&fx.cred, &tok(fx.tok().classes("loans"))),
        ),
        (
            Want::Denied("consent-invalid"),
            q(&fx.cred, &loans_with(fx.consent(&stranger, DEPT, &[]))),
        ),
        (
            Want::Denied("consent-expired"),
            q(
                &fx.cred,
                &loans_with(fx.consent(
                    &subj,
                    DEPT,
                    &["--issued-at", &(t0 - 31 * 86_400).to_string(), "--days", "30"],
                )),
            ),
        ),
        // A consent of one use: granted once, then exhausted.
        (Want::Granted, q(&fx.cred, &loans_with(once.clone()))),
        (Want::Denied("consent-exhausted"), q(&fx.cred, &loans_with(once))),
        (
            Want::Denied("consent-mismatch"),
            q(&fx.cred, &loans_with(fx.consent(&subj, "bank-b", &[]))),
        ),
        (
            Want::Denied("subject-key-invalid"),
            sq(&fx.self_query(&stranger, SUBJECT, ORIGIN)),
        ),
        (Want::Denied("revocation-list-bad-signature"), rl(&rogue_list)),
        (Want::Granted, q(&fx.cred, &tok(fx.tok()))),
        (Want::Granted, rl(&list)),
        (Want::Denied("credential-revoked"), q(&fx.cred, &tok(fx.tok()))),
        (Want::Denied("revocation-list-stale"), rl(&list)),
    ];
    let needles = needles();
    let srv = fx.serve(&[]);
    let mut seen = Vec::new();
    for (i, (want, (path, method, body))) in cases.iter().enumerate() {
        let r = srv.json(method, path, body);
        match want {
            Want::Granted => assert_eq!(r.status, 200, "case {i}: {r:?}"),
            Want::Denied(c) => {
                let forgery = matches!(
                    *c,
                    "malformed" | "bad-signature" | "credential-bad-signature" | "revocation-list-bad-signature"
                );
                let v = r.problem(if forgery { 422 } else { 403 }, c);
                let detail = v["detail"].as_str().unwrap();
                let lead = if forgery {
                    "verification failed"
                } else {
                    "access denied"
                };
                assert!(detail.starts_with(&format!("{lead} ({c})")), "case {i}: {detail}");
                assert_eq!(r.header("cache-control"), Some("no-store"), "case {i}");
                assert_clean(&format!("the problem of case {i}"), &r.body, &needles);
                seen.push(*c);
            }
        }
    }
    for c in ALL_CODES {
        assert!(seen.contains(&c), "no case for {c}");
    }
    // The log line of a denial after the credential verified names the department; one for
    // a forged credential does not (its department is only claimed).
    let lines = srv.request_log();
    let status_of = |s: u16| {
        lines
            .iter()
            .filter(move |l| l["route"] == "/v1/queries" && l["status"] == s)
    };
    assert!(status_of(403).all(|l| l["department"] == DEPT), "{lines:?}");
    assert!(status_of(422).all(|l| l["department"].is_null()), "{lines:?}");
    let (status, err) = srv.terminate();
    assert!(status.success(), "{status:?}: {err}");
    assert_clean("the server's stderr", &err, &needles);
    assert_eq!(
        err.lines().filter(|l| l.starts_with('{')).count(),
        cases.len(),
        "one log line per request: {err}"
    );
}

// ------------------------------------------------------------------ pickup and revocation

/// The same token posted twice gets the same answer and the log grows by exactly one; the
/// answer is held for `GET /v1/queries/{id}`; an unknown id is 404 and a malformed one 400;
/// another token with the same query id is refused `replayed`, not given the held answer.
#[test]
fn same_token_twice_is_one_answer_and_one_receipt() {
    use credseal_auth::{SigningKey, Token, Unverified, sign};
    let fx = Fx::new();
    let token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &token);
    // A second token with the same query id, signed by the same department (other classes).
    let mut t = Unverified::<Token>::parse_text(fx.read(&token).trim())
        .unwrap()
        .peek_unverified()
        .unwrap();
    t.classes = ["identity".to_string(), "tax".to_string()].into_iter().collect();
    let k = SigningKey::from_text(fx.read(&format!("{}/signing.key", fx.bank)).trim()).unwrap();
    let twin = fx.write("token", &sign(&t, &k).to_text());
    let srv = fx.serve(&[]);
    let before = srv.log_size();
    let first = srv.post_query(&body);
    assert_eq!(first.status, 200, "{first:?}");
    let second = srv.post_query(&body);
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, first.body, "the same answer, byte for byte");
    assert_eq!(srv.log_size(), before + 1, "one receipt for the two posts");
    let qid = first.json()["query_id"].as_str().unwrap().to_string();
    let held = srv.get(&format!("/v1/queries/{qid}"));
    assert_eq!(held.status, 200, "{held:?}");
    assert_eq!(held.body, first.body);
    // Upper-case hex names the same id.
    assert_eq!(srv.get(&format!("/v1/queries/{}", qid.to_uppercase())).body, first.body);
    // The twin is not the held token: the engine sees it, and it is a replay.
    srv.post_query(&fx.query_body(&fx.cred, &twin)).problem(403, "replayed");
    assert_eq!(srv.get(&format!("/v1/queries/{qid}")).body, first.body);
    // Unknown and malformed ids.
    let unknown = format!("{:032x}", u128::from_str_radix(&qid, 16).unwrap() ^ 1);
    srv.get(&format!("/v1/queries/{unknown}")).problem(404, "not-found");
    for bad in ["abc", "zz", &qid[..30], &format!("{qid}00"), SUBJECT] {
        let r = srv.get(&format!("/v1/queries/{bad}"));
        r.problem(400, "bad-request");
        assert!(!r.body.contains(SUBJECT), "{r:?}");
    }
    assert_eq!(srv.log_size(), before + 2, "the replay is receipted, the reads are not");
    let (status, err) = srv.terminate();
    assert!(status.success(), "{err}");
    // A restarted server holds nothing: the same token is now a replay.
    let srv = fx.serve(&[]);
    srv.get(&format!("/v1/queries/{qid}")).problem(404, "not-found");
    srv.post_query(&body).problem(403, "replayed");
}

/// A revocation list installed with `PUT /v1/revocations` takes effect on the very next query.
#[test]
fn revocation_over_put_takes_effect_on_the_next_query() {
    let fx = Fx::new();
    let cred2 = fx.enroll(2, &fx.auth, &fx.bank, ORIGIN, &[]);
    let first = fx.sign(&fx.tok());
    let second = fx.sign(&fx.tok());
    let other = fx.sign(&fx.tok().credential(&cred2));
    let v1 = fx.revocation_list(&fx.auth, "1", None);
    let v2 = fx.revocation_list(&fx.auth, "2", Some(&v1));
    let put = |list: &str| serde_json::to_vec(&serde_json::json!({ "list": fx.read(list) })).unwrap();
    let srv = fx.serve(&[]);
    assert_eq!(srv.post_query(&fx.query_body(&fx.cred, &first)).status, 200);
    let r = srv.json("PUT", "/v1/revocations", &put(&v1));
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!({ "version": 1 })),
        "{r:?}"
    );
    srv.post_query(&fx.query_body(&fx.cred, &second))
        .problem(403, "credential-revoked");
    // The other credential is not revoked by version 1, and is by version 2.
    let r = srv.json("PUT", "/v1/revocations", &put(&v2));
    assert_eq!(r.json(), serde_json::json!({ "version": 2 }), "{r:?}");
    srv.post_query(&fx.query_body(&cred2, &other))
        .problem(403, "credential-revoked");
    // The held answer of the first token is still served (it was released before).
    let held = srv.post_query(&fx.query_body(&fx.cred, &first));
    assert_eq!(held.status, 200, "{held:?}");
}

// ------------------------------------------------------------------ bad input

/// A body over `--max-body` is 413 and writes nothing, whether its length is declared or it
/// comes chunked; the same query in a body under the limit is then granted (its token was
/// never spent).
#[test]
fn oversized_body_is_413_and_writes_nothing() {
    let fx = Fx::new();
    let token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &token);
    let limit = 4096;
    assert!(body.len() < limit, "{}", body.len());
    // The same query padded with whitespace (still valid JSON) to over the limit.
    let mut padded = body.clone();
    padded.splice(1..1, std::iter::repeat_n(b' ', limit));
    let srv = fx.serve(&["--max-body", &limit.to_string()]);
    let before = srv.log_size();
    let r = srv.post_query(&padded);
    let v = r.problem(413, "payload-too-large");
    assert!(v["detail"].as_str().unwrap().contains("4096"), "{v}");
    // Chunked: no Content-Length for the server to refuse up front.
    let mut reader = std::io::Cursor::new(padded.clone());
    let r = srv
        .agent
        .post(srv.url("/v1/queries"))
        .header("content-type", "application/json")
        .send(ureq::SendBody::from_reader(&mut reader))
        .unwrap();
    assert_eq!(r.status().as_u16(), 413, "chunked");
    assert_eq!(srv.log_size(), before, "nothing was written");
    let r = srv.post_query(&body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(srv.log_size(), before + 1);
}

/// A body that is not declared JSON is 415; malformed JSON, unknown or missing fields and
/// wrong types are 400; none of them reaches the engine (the token stays unspent) and no
/// problem echoes what was sent.
#[test]
fn bodies_that_are_not_the_expected_json_are_refused() {
    let fx = Fx::new();
    let token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &token);
    let (cred, tok) = (fx.read(&fx.cred), fx.read(&token));
    let needles = needles();
    let srv = fx.serve(&[]);
    let before = srv.log_size();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
    ] {
        let headers: Vec<(&str, &str)> = ct.iter().map(|c| ("content-type", *c)).collect();
        for path in ["/v1/queries", "/v1/self-queries", "/v1/bundles"] {
            srv.send("POST", path, &headers, Some(&body))
                .problem(415, "unsupported-media-type");
        }
        srv.send("PUT", "/v1/revocations", &headers, Some(&body))
            .problem(415, "unsupported-media-type");
    }
    // Parameters are allowed on the media type.
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"credential=a&token=b".to_vec()),
        ("truncated", body[..body.len() / 2].to_vec()),
        ("trailing garbage", [&body[..], b"}"].concat()),
        ("not an object", b"42".to_vec()),
        (
            "unknown field",
            serde_json::to_vec(&serde_json::json!({"credential": cred, "token": tok, "subject": SUBJECT})).unwrap(),
        ),
        (
            "missing field",
            serde_json::to_vec(&serde_json::json!({"credential": cred})).unwrap(),
        ),
        (
            "wrong type",
            serde_json::to_vec(&serde_json::json!({"credential": cred, "token": [tok]})).unwrap(),
        ),
    ];
    for (name, b) in &bad {
        for path in ["/v1/queries", "/v1/self-queries", "/v1/bundles"] {
            let r = srv.send(
                "POST",
                path,
                &[("content-type", "application/json; charset=utf-8")],
                Some(b),
            );
            let v = r.problem(400, "bad-request");
            assert!(v["detail"].as_str().unwrap().contains("request body"), "{name}: {v}");
            assert_clean(name, &r.body, &needles);
        }
    }
    assert_eq!(srv.log_size(), before, "nothing reached the engine");
    assert_eq!(srv.post_query(&body).status, 200);
}

/// Problem documents of bad bodies do not echo what was sent: a subject id (or any value)
/// put where the JSON decoder reports it (as an unknown field's name, or as a value of the
/// wrong type) does not come back in the problem.
#[test]
fn bad_request_problems_do_not_echo_the_body() {
    let fx = Fx::new();
    let needles = needles();
    let srv = fx.serve(&[]);
    let number: u64 = SUBJECT[..17].parse().unwrap();
    let bodies = [
        format!("{{\"{SUBJECT}\": 1}}"),
        format!("{{\"credential\": {number}, \"token\": \"x\"}}"),
        format!("{{\"credential\": \"x\", \"token\": \"x\", \"{SUBJECT}\": \"{SUBJECT}\"}}"),
        format!("{{\"query\": {number}}}"),
        format!("[\"{SUBJECT}\", 1]"),
    ];
    for b in &bodies {
        for path in ["/v1/queries", "/v1/self-queries", "/v1/bundles"] {
            let r = srv.json("POST", path, b.as_bytes());
            r.problem(400, "bad-request");
            assert!(!r.body.contains(&SUBJECT[..17]), "{path} {b}: {}", r.body);
            assert_clean(b, &r.body, &needles);
        }
    }
}

/// A refusal sent before the body was read (415, and 413 whether the length was declared or
/// not) reaches a client that is still sending its body, again and again on one agent: no
/// reset, no dead pooled connection. Bodies up to 1 MiB are read and dropped for that.
#[test]
fn refusals_reach_a_client_still_sending_its_body() {
    let fx = Fx::bare();
    let srv = fx.serve(&[]);
    let small = vec![b'x'; 3000];
    let big = vec![b' '; 70_000];
    let mut failures = Vec::new();
    for i in 0..100 {
        match srv.try_send("POST", "/v1/queries", &[("content-type", "text/plain")], Some(&small)) {
            Ok(r) => assert_eq!(r.status, 415, "{r:?}"),
            Err(e) => failures.push(format!("415 #{i}: {e}")),
        }
    }
    for i in 0..40 {
        match srv.try_send(
            "POST",
            "/v1/queries",
            &[("content-type", "application/json")],
            Some(&big),
        ) {
            Ok(r) => assert_eq!(r.status, 413, "{r:?}"),
            Err(e) => failures.push(format!("413 #{i}: {e}")),
        }
    }
    for i in 0..20 {
        let mut reader = std::io::Cursor::new(big.clone());
        let r = srv
            .agent
            .post(srv.url("/v1/self-queries"))
            .header("content-type", "application/json")
            .send(ureq::SendBody::from_reader(&mut reader));
        match r {
            Ok(r) => assert_eq!(r.status().as_u16(), 413),
            Err(e) => failures.push(format!("chunked 413 #{i}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{} refusals lost: {failures:?}", failures.len());
}

/// Headers larger than the server's buffer are rejected (431, or the connection closed
/// under the client still sending them: either way not served), and the server goes on
/// serving.
#[test]
fn oversized_headers_are_rejected() {
    let fx = Fx::bare();
    let srv = fx.serve(&[]);
    let mut s = srv.raw_tls();
    let big = "a".repeat(64 * 1024);
    let req = format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {big}\r\n\r\n");
    // The server may close while the headers are still being written; its 431 may then be
    // lost to the reset. What must not happen is an answer, or a connection left open.
    let _ = s.write_all(req.as_bytes()).and_then(|_| s.flush());
    let (got, closed) = read_until_closed(&mut s);
    assert!(closed, "the connection was left open");
    assert!(
        matches!(raw_status(&got), None | Some(431)),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // The same request with small headers is served.
    let mut s = srv.raw_tls();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let got = read_all(&mut s, 1 << 20);
    assert_eq!(raw_status(&got), Some(200), "{}", String::from_utf8_lossy(&got));
}

/// 405 for a method a route does not take, 404 for a path that is not a route; both problem
/// documents, neither echoing the path.
#[test]
fn wrong_method_is_405_and_unknown_path_is_404() {
    let fx = Fx::bare();
    let srv = fx.serve(&[]);
    for (method, path) in [
        ("GET", "/v1/queries"),
        ("PUT", "/v1/queries"),
        ("DELETE", "/v1/revocations"),
        ("POST", "/v1/revocations"),
        ("GET", "/v1/self-queries"),
        ("GET", "/v1/bundles"),
        ("POST", "/v1/log/key"),
        ("DELETE", "/v1/queries/00000000000000000000000000000000"),
        ("POST", "/healthz"),
    ] {
        let r = srv.send(method, path, &[], None);
        r.problem(405, "method-not-allowed");
        // Errors are never stored, on the log routes too.
        assert_eq!(r.header("cache-control"), Some("no-store"), "{method} {path}");
    }
    for path in [
        "/",
        "/v1",
        "/v2/queries",
        "/v1/queries/",
        "/v1/query",
        "/v1/log",
        "/v1/log/keys",
        &format!("/v1/subjects/{SUBJECT}"),
    ] {
        let r = srv.get(path);
        r.problem(404, "not-found");
        assert!(!r.body.contains(SUBJECT), "{path}: {}", r.body);
    }
    let lines = srv.request_log();
    assert!(
        lines
            .iter()
            .filter(|l| l["status"] == 404)
            .all(|l| l["route"] == "other"),
        "unknown paths are logged as `other`, not as the path sent: {lines:?}"
    );
    assert_clean("the server's stderr", &srv.stderr(), &[SUBJECT.to_string()]);
}

// ------------------------------------------------------------------ connections

/// A body that does not arrive within `--timeout` is 408 `timeout` and nothing is written;
/// the token is still good afterwards.
#[test]
fn slow_body_is_408_and_writes_nothing() {
    let fx = Fx::new();
    let token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &token);
    let srv = fx.serve(&["--timeout", "2"]);
    let before = srv.log_size();
    let mut s = srv.raw_tls();
    let head = format!(
        "POST /v1/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    s.flush().unwrap();
    // The rest never comes; the answer does (bounded by the socket's read timeout).
    let got = read_all(&mut s, 1 << 20);
    let text = String::from_utf8_lossy(&got);
    assert_eq!(raw_status(&got), Some(408), "{text}");
    assert!(
        text.to_lowercase().contains("content-type: application/problem+json"),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(
        (v["code"].as_str(), v["exit_class"].as_u64()),
        (Some("timeout"), Some(2)),
        "{v}"
    );
    assert_eq!(srv.log_size(), before, "nothing was written");
    assert_eq!(srv.post_query(&body).status, 200);
}

/// With `--client-ca`, the department routes need a client certificate issued by that CA
/// (403 `client-certificate-required` without one; a certificate from another CA fails the
/// handshake); subjects' and public routes do not.
#[test]
fn client_ca_requires_a_client_certificate_on_department_routes() {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    let self_q = fx.self_query(&subj, SUBJECT, ORIGIN);
    let token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &token);
    let make_ca = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        (cert, Issuer::new(p, key))
    };
    let client_of = |issuer: &Issuer<'_, KeyPair>| {
        let mut p = CertificateParams::new(vec!["bank-a.client.invalid".to_string()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, issuer).unwrap();
        ureq::tls::ClientCert::new_with_certs(
            &[ureq::tls::Certificate::from_der(cert.der()).to_owned()],
            ureq::tls::PrivateKey::from_pem(key.serialize_pem().as_bytes()).unwrap(),
        )
    };
    let (ca_cert, ca) = make_ca();
    let (_, rogue_ca) = make_ca();
    let ca_file = fx.write("client-ca.pem", &ca_cert.pem());
    let srv = fx.serve(&["--client-ca", &ca_file]);
    // No client certificate: department routes refused, nothing spent.
    srv.post_query(&body).problem(403, "client-certificate-required");
    srv.get("/v1/queries/00000000000000000000000000000000")
        .problem(403, "client-certificate-required");
    assert_eq!(srv.get("/healthz").status, 200);
    assert_eq!(srv.get("/v1/log/key").status, 200);
    let sq = srv.json(
        "POST",
        "/v1/self-queries",
        &serde_json::to_vec(&serde_json::json!({ "query": fx.read(&self_q) })).unwrap(),
    );
    assert_eq!(sq.status, 200, "subjects need no client certificate: {sq:?}");
    // A certificate from another CA: the handshake fails.
    let rogue = agent(&fx.cert_der, Some(client_of(&rogue_ca)));
    let r = rogue
        .post(srv.url("/v1/queries"))
        .header("content-type", "application/json")
        .send(&body[..]);
    assert!(
        r.is_err(),
        "a certificate of another CA was accepted: {:?}",
        r.map(|r| r.status())
    );
    // The platform's CA: granted, and the held answer can be fetched by id.
    let dept = agent(&fx.cert_der, Some(client_of(&ca)));
    let mut r = dept
        .post(srv.url("/v1/queries"))
        .header("content-type", "application/json")
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let qid = v["query_id"].as_str().unwrap();
    let r = dept.get(srv.url(&format!("/v1/queries/{qid}"))).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    srv.get(&format!("/v1/queries/{qid}"))
        .problem(403, "client-certificate-required");
}

/// A client that sends its headers a byte at a time, slower than `--timeout`, is
/// disconnected without an answer, and other clients are served meanwhile.
#[test]
fn slow_loris_is_disconnected_and_others_are_served() {
    let fx = Fx::new();
    let token = fx.sign(&fx.tok());
    let srv = fx.serve(&["--timeout", "2"]);
    let mut s = srv.raw_tls();
    // The handshake first, so that the timeout at stake is the header one.
    s.conn.complete_io(&mut s.sock).unwrap();
    let (started, go) = mpsc::channel();
    let loris = std::thread::spawn(move || {
        let req = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 0123456789abcdef0123456789\r\nConnection: close\r\n\r\n";
        let mut sent = 0;
        for (i, b) in req.iter().enumerate() {
            if s.write_all(&[*b]).and_then(|_| s.flush()).is_err() {
                break;
            }
            sent += 1;
            if i == 3 {
                let _ = started.send(());
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        let _ = started.send(());
        (sent, req.len(), read_all(&mut s, 1 << 16))
    });
    go.recv_timeout(WAIT).unwrap();
    // Meanwhile: another client is served.
    assert_eq!(srv.get("/healthz").status, 200);
    let r = srv.post_query(&fx.query_body(&fx.cred, &token));
    assert_eq!(r.status, 200, "{r:?}");
    let (sent, len, got) = loris.join().unwrap();
    // Either the server's close stopped the writes, or the whole request went out (over
    // 100 × 150 ms, far past the 2 s timeout) and no answer came back.
    assert!(
        raw_status(&got).is_none_or(|s| s == 408),
        "the slow client was answered ({sent}/{len} bytes sent): {}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(srv.get("/healthz").status, 200);
}

/// Bytes that are not a TLS ClientHello (garbage, or plain HTTP) get no HTTP answer: the
/// connection is closed (at most after a TLS alert), and the server goes on serving.
#[test]
fn garbage_and_plain_http_on_the_tls_port_are_closed() {
    let fx = Fx::bare();
    let srv = fx.serve(&[]);
    let garbage: Vec<u8> = (0..2048u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let inputs: [(&str, Vec<u8>); 4] = [
        ("garbage", garbage),
        (
            "plain HTTP",
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
        ),
        (
            "a TLS record header announcing more than is sent",
            vec![0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00],
        ),
        ("an SSLv2 hello", vec![0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15]),
    ];
    for (name, bytes) in inputs {
        let mut tcp = srv.raw_tcp();
        let _ = tcp.write_all(&bytes);
        let got = read_all(&mut tcp, 1 << 16);
        assert!(raw_status(&got).is_none(), "{name}: {}", String::from_utf8_lossy(&got));
        assert!(!got.starts_with(b"HTTP"), "{name}");
        // Nothing, or TLS alert records (content type 21).
        assert!(got.is_empty() || got[0] == 0x15, "{name}: {got:?}");
        assert_eq!(srv.get("/healthz").status, 200, "after {name}");
    }
}

/// `--max-inflight 1`:
/// - a request whose body is still arriving holds no slot (a slow sender would otherwise
///   take the service down with a few hundred connections): a full query is answered
///   meanwhile, and the slow one is answered when its body is complete;
/// - requests that do overlap get 503 `overloaded` with `Retry-After` beyond the one slot
///   (bursts of concurrent queries, bounded in number, until one is seen), and every other
///   answer of the burst is a 200;
/// - health checks and metrics take no slot.
#[test]
fn concurrency_cap_gives_503_with_retry_after() {
    let fx = Fx::new();
    let held_token = fx.sign(&fx.tok());
    let other_token = fx.sign(&fx.tok());
    let body = fx.query_body(&fx.cred, &held_token);
    let srv = fx.serve(&["--max-inflight", "1", "--timeout", "60"]);
    let mut s = srv.raw_tls();
    let head = format!(
        "POST /v1/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let half = body.len() / 2;
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..half]).unwrap();
    s.flush().unwrap();
    // The half-sent query holds no slot: another is served, and so are the routes.
    let mut arrived = false;
    for _ in 0..300 {
        if srv.receiving() >= 1 {
            arrived = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(arrived, "the half-sent query never reached the server");
    assert_eq!(srv.in_flight(), 0, "a request still receiving its body holds a slot");
    let q = srv.post_query(&fx.query_body(&fx.cred, &other_token));
    assert_eq!(q.status, 200, "{q:?}");
    assert_eq!(srv.get("/v1/log/key").status, 200);
    assert_eq!(srv.get("/healthz").status, 200);
    // The slow one completes and is answered.
    s.write_all(&body[half..]).unwrap();
    s.flush().unwrap();
    let got = read_all(&mut s, 1 << 20);
    assert_eq!(raw_status(&got), Some(200), "{}", String::from_utf8_lossy(&got));

    // Overlapping queries: beyond the one slot, 503 with Retry-After. Bursts of 12 at once,
    // at most 30 bursts, until a 503 is seen.
    let mut overloaded = None;
    for _ in 0..30 {
        let bodies: Vec<Vec<u8>> = (0..12).map(|_| fx.query_body(&fx.cred, &fx.sign(&fx.tok()))).collect();
        let answers: Vec<Resp> = std::thread::scope(|sc| {
            let hs: Vec<_> = bodies.iter().map(|b| sc.spawn(|| srv.post_query(b))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in answers {
            match r.status {
                200 => {}
                503 => overloaded = Some(r),
                _ => panic!("neither answered nor overloaded: {r:?}"),
            }
        }
        if overloaded.is_some() {
            break;
        }
    }
    let r = overloaded.expect("30 bursts of 12 concurrent queries never exceeded one slot");
    r.problem(503, "overloaded");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1, "{r:?}");
    let m = srv.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.body.contains("overloaded"), "{}", m.body);
}

/// `--dept-rate 0.2 --dept-burst 2`: two queries go through, then the department is 429
/// `rate-limited` with `Retry-After`; the refused token was not spent (it is granted once
/// the wait is over); another department is not limited by it.
///
/// The rate is low (one query per 5 s) rather than the 1/s of the issue so that a loaded
/// machine cannot refill the bucket between two queries: the test depends on no timing.
#[test]
fn department_rate_limit_gives_429_with_retry_after() {
    let fx = Fx::new();
    let tokens: Vec<String> = (0..12).map(|_| fx.sign(&fx.tok())).collect();
    let bank_c = fx.keygen("dept", "bank-c");
    let cred_c = fx.enroll_dept(7, &fx.auth, "bank-c", &bank_c, ORIGIN, &[]);
    let tok_c = fx.sign(&fx.tok().key(&format!("{bank_c}/signing.key")).credential(&cred_c));
    let srv = fx.serve(&["--dept-rate", "0.2", "--dept-burst", "2"]);
    for t in &tokens[..2] {
        let r = srv.post_query(&fx.query_body(&fx.cred, t));
        assert_eq!(r.status, 200, "within the burst: {r:?}");
    }
    // Bounded: a machine slow enough to refill between queries still runs out of tokens.
    let mut limited = None;
    for t in &tokens[2..] {
        let r = srv.post_query(&fx.query_body(&fx.cred, t));
        if r.status == 429 {
            limited = Some((r, t));
            break;
        }
        assert_eq!(r.status, 200, "{r:?}");
    }
    let (r, refused) = limited.expect("never rate limited");
    r.problem(429, "rate-limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=5).contains(&wait), "{r:?}");
    // Another department has its own bucket.
    let rc = srv.post_query(&fx.query_body(&cred_c, &tok_c));
    assert_eq!(rc.status, 200, "{rc:?}");
    // After the wait the refused token is granted: the 429 spent nothing.
    std::thread::sleep(Duration::from_secs(wait));
    let again = srv.post_query(&fx.query_body(&fx.cred, refused));
    assert_eq!(again.status, 200, "{again:?}");
}

/// `--insecure-loopback` on a non-loopback address is a usage error (exit 2) found before
/// the passphrase is asked for or the platform opened. Nothing binds these addresses: the
/// refusal comes from the configuration check, before any socket exists, which is what the
/// test shows (exit 2 on a data directory that does not exist).
#[test]
fn insecure_loopback_off_loopback_exits_2_before_asking_anything() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-platform").display().to_string();
    for listen in ["0.0.0.0:0", "192.0.2.1:8443", "[::]:0"] {
        let o = bin()
            .env_remove("CREDSEAL_PASSPHRASE")
            .args(["serve", "--data", &missing, "--listen", listen, "--insecure-loopback"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{listen}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("loopback"), "{listen}: {e}");
        assert!(!e.to_lowercase().contains("passphrase"), "{listen}: {e}");
        assert!(!Path::new(&missing).exists());
    }
    // On 127.0.0.1 it is allowed: it then needs the passphrase (none given, no terminal).
    let o = bin()
        .env_remove("CREDSEAL_PASSPHRASE")
        .args([
            "serve",
            "--data",
            &missing,
            "--listen",
            "127.0.0.1:0",
            "--insecure-loopback",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(code(&o), 0);
    assert!(!stderr(&o).contains("loopback"), "{}", stderr(&o));
}

// ------------------------------------------------------------------ drain

/// SIGTERM while queries are in flight: a request whose body is still arriving when the
/// signal comes is finished and answered, queries racing the signal are answered (200) or
/// refused (503 `draining`, or their connection refused), the process exits 0, and every
/// 200 answer's receipt is in the log afterwards: `log verify` passes, the log grew by
/// exactly the number of 200 answers, and the subject's bundle (which verifies) holds each
/// answer's receipt.
#[test]
fn sigterm_drains_in_flight_queries() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 4;
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    let held_token = fx.sign(&fx.tok());
    let tokens: Vec<Vec<Vec<u8>>> = (0..THREADS)
        .map(|_| {
            (0..PER_THREAD)
                .map(|_| fx.query_body(&fx.cred, &fx.sign(&fx.tok())))
                .collect()
        })
        .collect();
    let held_body = fx.query_body(&fx.cred, &held_token);
    let before = fx.verified_log_size();
    let mut srv = fx.serve(&["--timeout", "60"]);

    // A query whose body is half sent: in flight (it holds a slot) when the signal comes.
    let mut held = srv.raw_tls();
    let head = format!(
        "POST /v1/queries HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        held_body.len()
    );
    let half = held_body.len() / 2;
    held.write_all(head.as_bytes()).unwrap();
    held.write_all(&held_body[..half]).unwrap();
    held.flush().unwrap();
    let mut holding = false;
    for _ in 0..300 {
        if srv.receiving() >= 1 {
            holding = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(holding, "the held query never reached the server");

    // Queries from several clients, with SIGTERM sent once the first of them is answered.
    let (first, answered) = mpsc::channel::<()>();
    let results: Vec<Result<Resp, String>> = std::thread::scope(|sc| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|mine| {
                let (srv, first) = (&srv, first.clone());
                sc.spawn(move || {
                    let mut out = Vec::new();
                    for body in mine {
                        let r = srv
                            .try_send(
                                "POST",
                                "/v1/queries",
                                &[("content-type", "application/json")],
                                Some(body),
                            )
                            .map_err(|e| e.to_string());
                        let _ = first.send(());
                        out.push(r);
                    }
                    out
                })
            })
            .collect();
        answered.recv_timeout(WAIT).unwrap();
        srv.sigterm();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    // The drain has begun once the service is no longer ready (bounded wait).
    let mut draining = false;
    for _ in 0..300 {
        match srv.try_send("GET", "/readyz", &[], None) {
            Err(_) => {
                draining = true;
                break;
            }
            Ok(r) if r.status == 503 => {
                r.problem(503, "draining");
                draining = true;
                break;
            }
            Ok(r) => assert_eq!(r.status, 200, "{r:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(draining, "SIGTERM did not start a drain");
    // The held query finishes during the drain and is answered.
    held.write_all(&held_body[half..]).unwrap();
    held.flush().unwrap();
    let got = read_all(&mut held, 1 << 20);
    assert_eq!(raw_status(&got), Some(200), "{}", String::from_utf8_lossy(&got));
    let text = String::from_utf8(got).unwrap();
    let held_json: serde_json::Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();

    let status = srv.wait_exit();
    let err = srv.finish_log();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        err.contains("credseal: stopped; every answer sent has its receipt committed"),
        "{err}"
    );
    drop(srv);

    let mut answers = vec![held_json["answer"].as_str().unwrap().to_string()];
    for r in &results {
        match r {
            Ok(r) if r.status == 200 => answers.push(r.json()["answer"].as_str().unwrap().to_string()),
            Ok(r) => {
                r.problem(503, "draining");
            }
            // Refused at connect, or closed before a request was read: nothing was run.
            Err(_) => {}
        }
    }
    let refused = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status == 503))
        .count();
    eprintln!(
        "{} answered, {refused} refused draining, {} not connected",
        answers.len(),
        results.iter().filter(|r| r.is_err()).count()
    );

    let after = fx.verified_log_size();
    assert_eq!(
        after,
        before + answers.len() as u64,
        "{} answers ({} requests and the held one): {results:?}",
        answers.len(),
        results.len()
    );
    // Each answer's receipt is in the subject's bundle, which verifies against the log.
    let req = fx.fresh("bundle-request");
    ok(&[
        "receipts",
        "request",
        "--key",
        &format!("{subj}/signing.key"),
        "--subject",
        SUBJECT,
        "--audience",
        ORIGIN,
        "--out",
        &req,
    ]);
    let bundle_file = fx.fresh("bundle");
    ok(&[
        "receipts",
        "export",
        "--data",
        &fx.data,
        "--request",
        &req,
        "--out",
        &bundle_file,
    ]);
    let vkey = fx.write("vkey", &stdout(&ok(&["log", "key", "--data", &fx.data])));
    let vrf = fx.write("vrf", &stdout(&ok(&["log", "key", "--vrf", "--data", &fx.data])));
    let o = run(&[
        "receipts",
        "verify",
        "--vkey",
        &vkey,
        "--vrf-key",
        &vrf,
        "--subject",
        SUBJECT,
        "--state",
        &fx.fresh("state"),
        &bundle_file,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bundle = credseal_log::Bundle::from_text(fx.read(&bundle_file).trim()).unwrap();
    let in_bundle: Vec<&Vec<u8>> = bundle
        .entries
        .iter()
        .filter_map(|e| match e {
            credseal_log::BundleEntry::Full { receipt, .. } => Some(receipt),
            _ => None,
        })
        .collect();
    for (i, a) in answers.iter().enumerate() {
        let sealed = credseal_engine::SealedAnswer::from_text(a).unwrap();
        assert!(
            in_bundle.contains(&&sealed.receipt),
            "answer {i}'s receipt is not in the log"
        );
    }
}

/// A captured genuine token sent again and again — expired here — costs one receipt, not one
/// per copy: its refusal is held like an answer. And refusals draw nothing from the
/// department's rate (`--dept-rate 0.2 --dept-burst 2`): after six copies of the old token,
/// the department's own fresh queries are still answered.
#[test]
fn a_replayed_old_token_costs_one_receipt_and_none_of_the_rate() {
    let fx = Fx::new();
    let old = fx.sign(&fx.tok().issued_at(now() - 1000).ttl(300));
    let fresh = fx.sign(&fx.tok());
    let srv = fx.serve(&["--dept-rate", "0.2", "--dept-burst", "2"]);
    let before = srv.log_size();
    let body = fx.query_body(&fx.cred, &old);
    let first = srv.post_query(&body);
    first.problem(403, "token-expired");
    assert_eq!(srv.log_size(), before + 1, "the first refusal is receipted");
    for i in 0..5 {
        let r = srv.post_query(&body);
        r.problem(403, "token-expired");
        assert_eq!(r.body, first.body, "copy {i}: the held refusal");
    }
    assert_eq!(srv.log_size(), before + 1, "copies of the token leave no more receipts");
    let r = srv.post_query(&fx.query_body(&fx.cred, &fresh));
    assert_eq!(r.status, 200, "the department's own query after the replays: {r:?}");
}

/// Someone who gets hold of a department's token before the department sends it, and posts
/// it with another genuine credential (here the department's own credential for another
/// platform: `wrong-audience`), cannot plant that refusal for the department: the held
/// refusal is for that token with that credential, and the department's own request with
/// its right credential is answered.
#[test]
fn a_refusal_held_for_one_credential_is_not_served_to_another() {
    let fx = Fx::new();
    let other_cred = fx.enroll(1, &fx.auth, &fx.bank, OTHER_ORIGIN, &[]);
    let token = fx.sign(&fx.tok());
    let srv = fx.serve(&[]);
    let planted = srv.post_query(&fx.query_body(&other_cred, &token));
    planted.problem(403, "wrong-audience");
    // The same pair again: the held refusal.
    let again = srv.post_query(&fx.query_body(&other_cred, &token));
    again.problem(403, "wrong-audience");
    assert_eq!(again.body, planted.body);
    // The department's own request.
    let r = srv.post_query(&fx.query_body(&fx.cred, &token));
    assert_eq!(r.status, 200, "the planted refusal was served to the department: {r:?}");
}

// ------------------------------------------------------------------ views

/// A token that asks for a class through a catalogue view is answered over HTTPS with the
/// view's fields only; a view the catalogue does not define is refused (403 `unknown-view`).
#[test]
fn a_view_limited_token_is_answered_with_the_views_fields_over_https() {
    let text = std::fs::read_to_string(abs(CATALOG)).unwrap();
    let anchor = "title = \"Approving a credit card application (信用卡审批)\"\n";
    assert!(text.contains(anchor));
    let with_view = text.replacen(
        anchor,
        &format!("{anchor}\n[[purpose.view]]\nclass = \"identity\"\nfields = [\"name\", \"id_type\"]\n"),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, with_view).unwrap();
    let fx = Fx::new_with(&catalog.display().to_string());
    let whole = fx.sign(&fx.tok());
    let viewed = fx.sign(&fx.tok().classes("credit-card-approval/identity"));
    let unknown = fx.sign(&fx.tok().classes("loan-approval/identity"));
    let srv = fx.serve(&[]);
    let log_key = srv.get("/v1/log/key").body;
    let fields = |token: &str| -> Vec<String> {
        let r = srv.post_query(&fx.query_body(&fx.cred, token));
        assert_eq!(r.status, 200, "{r:?}");
        let answer = r.json()["answer"].as_str().unwrap().to_string();
        let o = fx.open(&format!("{}/sealing.key", fx.bank), &log_key, token, &answer);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["classes"], serde_json::json!(["identity"]), "{v}");
        let records = v["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{v}");
        records[0]["fields"].as_object().unwrap().keys().cloned().collect()
    };
    let all = fields(&whole);
    assert!(
        all.len() > 2 && all.iter().any(|f| f == "registered_address"),
        "{all:?}"
    );
    assert_eq!(fields(&viewed), ["id_type", "name"]);
    srv.post_query(&fx.query_body(&fx.cred, &unknown))
        .problem(403, "unknown-view");
    let (status, _) = srv.terminate();
    assert!(status.success(), "{status:?}");
}

// ------------------------------------------------------------------ objections

/// The objection's path through the service: the subject files it (`POST /v1/objections`),
/// the department's next answer says the record is disputed, the record's provider corrects
/// it (`POST /v1/ingest`), the objection reads `corrected` (`GET /v1/objections/{id}`), and
/// the department that saw the old value finds a correction notice (`GET /v1/notices/…`),
/// while one that never asked finds none.
#[test]
fn an_objection_resolved_by_a_correction_through_the_service() {
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    // The provider of the subject's identity record (ID-00000104, source psb-wuhan).
    let psb = fx.path("psb-wuhan.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &psb]);
    let o = common::enroll_provider(
        &run,
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        &fx.auth,
        "psb-wuhan",
        &format!("{psb}.pub"),
        "identity",
        900,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let needles = needles();
    let first = fx.sign(&fx.tok());
    let second = fx.sign(&fx.tok());
    let objection = fx.fresh("objection");
    ok(&[
        "subject",
        "object",
        "--key",
        &format!("{subj}/signing.key"),
        "--subject",
        SUBJECT,
        "--class",
        "identity",
        "--record",
        "ID-00000104",
        "--reason",
        "my registered address is wrong",
        "--audience",
        ORIGIN,
        "--out",
        &objection,
    ]);

    let srv = fx.serve(&[]);
    let log_key = srv.get("/v1/log/key").body;
    let opened = |token: &str| -> serde_json::Value {
        let r = srv.post_query(&fx.query_body(&fx.cred, token));
        assert_eq!(r.status, 200, "{r:?}");
        let answer = r.json()["answer"].as_str().unwrap().to_string();
        let o = fx.open(&format!("{}/sealing.key", fx.bank), &log_key, token, &answer);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    // bank-a receives the old value, undisputed.
    let v = opened(&first);
    assert_eq!(v["disputed"], serde_json::json!([]), "{v}");
    let old_address = v["records"][0]["fields"]["registered_address"]
        .as_str()
        .unwrap()
        .to_string();

    // The subject files its objection over HTTPS: 201, open, answered by psb-wuhan.
    let body = serde_json::to_vec(&serde_json::json!({ "objection": fx.read(&objection) })).unwrap();
    let r = srv.json("POST", "/v1/objections", &body);
    assert_eq!(r.status, 201, "{r:?}");
    assert_clean("the objection's state", &r.body, &needles);
    let filed = r.json();
    assert_eq!(
        (filed["status"].as_str(), filed["provider"].as_str()),
        (Some("open"), Some("psb-wuhan"))
    );
    let id = filed["objection_id"].as_str().unwrap().to_string();
    // Filing it again is refused (403), nothing changes.
    let again = srv.json("POST", "/v1/objections", &body);
    assert_eq!(again.status, 403, "{again:?}");

    // bank-a's next answer says the record is disputed.
    let v = opened(&second);
    assert_eq!(
        v["disputed"],
        serde_json::json!([{ "class": "identity", "records": 1 }]),
        "{v}"
    );

    // psb-wuhan corrects the record through the service.
    let mut v2: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(abs(RECORDS))
            .unwrap()
            .lines()
            .find(|l| l.contains("\"ID-00000104\""))
            .unwrap(),
    )
    .unwrap();
    v2["version"] = 2.into();
    v2["supersedes"] = 1.into();
    v2["fields"]["registered_address"] = "湖北省武汉市武昌区武珞路1号".into();
    let rec = fx.write("v2.jsonl", &format!("{v2}\n"));
    let batch = fx.fresh("batch");
    ok(&[
        "provider",
        "sign-batch",
        "--key",
        &psb,
        "--provider",
        "psb-wuhan",
        "--audience",
        ORIGIN,
        "--records",
        &rec,
        "--out",
        &batch,
    ]);
    let body = serde_json::to_vec(&serde_json::json!({ "batch": fx.read(&batch) })).unwrap();
    let r = srv.json("POST", "/v1/ingest", &body);
    assert_eq!(r.status, 200, "{r:?}");

    // The objection reads corrected, by version 2.
    let r = srv.get(&format!("/v1/objections/{id}"));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["status"], "corrected", "{r:?}");
    assert_eq!(r.json()["corrected_by_version"], 2, "{r:?}");

    // bank-a, which saw the old value, has a notice; bank-b, which never asked, has none.
    let r = srv.get("/v1/notices/bank-a");
    assert_eq!(r.status, 200, "{r:?}");
    let notices = r.json()["notices"].as_array().unwrap().clone();
    assert_eq!(notices.len(), 1, "{r:?}");
    let file = fx.write("notices", &format!("{}\n", notices[0].as_str().unwrap()));
    let o = ok(&[
        "dept",
        "open-notice",
        "--key",
        &format!("{}/sealing.key", fx.bank),
        &file,
        "--json",
    ]);
    let n: serde_json::Value = serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["items"].clone();
    assert_eq!(n[0]["record_id"], "ID-00000104", "{n}");
    assert_eq!(
        (n[0]["superseded_version"].as_u64(), n[0]["version"].as_u64()),
        (Some(1), Some(2))
    );
    let r = srv.get("/v1/notices/bank-b");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["notices"].as_array().unwrap().is_empty(), "{r:?}");
    // The corrected value is what bank-a is answered now, undisputed.
    let third = fx.sign(&fx.tok());
    let v = opened(&third);
    assert_eq!(v["disputed"], serde_json::json!([]), "{v}");
    assert!(!v.to_string().contains(&old_address), "{v}");
    let (status, _) = srv.terminate();
    assert!(status.success(), "{status:?}");
}

/// `credseal serve` reviews objections on its own schedule (`--objection-review`): with the
/// platform's clock 21 days ahead (simulated time, `--clock-offset`, test builds), an
/// objection filed over HTTPS is past its 20 days at the next round; the service receipts it
/// (the alert names the receipt, which is in the log), raises one alert on stderr however many
/// rounds follow, and the objection reads `overdue`.
#[test]
fn an_overdue_objection_raises_an_alert_on_the_services_schedule() {
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    let objection = fx.fresh("objection");
    ok(&[
        "subject",
        "object",
        "--key",
        &format!("{subj}/signing.key"),
        "--subject",
        SUBJECT,
        "--class",
        "identity",
        "--record",
        "ID-00000104",
        "--reason",
        "my registered address is wrong",
        "--audience",
        ORIGIN,
        "--out",
        &objection,
    ]);
    let days21 = (21 * 86_400).to_string();
    let srv = fx.serve(&["--objection-review", "1", "--clock-offset", &days21]);
    let body = serde_json::to_vec(&serde_json::json!({ "objection": fx.read(&objection) })).unwrap();
    let r = srv.json("POST", "/v1/objections", &body);
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json()["objection_id"].as_str().unwrap().to_string();
    let alerts = |log: &str| -> Vec<String> {
        log.lines()
            .filter(|l| l.starts_with("credseal: ALERT: provider psb-wuhan has an overdue objection"))
            .map(str::to_string)
            .collect()
    };
    let start = Instant::now();
    while alerts(&srv.stderr()).is_empty() {
        assert!(start.elapsed() < WAIT, "no alert: {}", srv.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = srv.get(&format!("/v1/objections/{id}"));
    assert_eq!(r.json()["status"], "overdue", "{r:?}");
    // Later rounds find it noted already: still one alert.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, log) = srv.terminate();
    assert!(status.success(), "{status:?}");
    let lines = alerts(&log);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(!log.contains(SUBJECT) && !log.contains("ID-00000104"), "{log}");
    // The alert names the overdue receipt, which the log holds.
    let index: u64 = lines[0]
        .split("receipt ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{}", lines[0]));
    assert!(index < fx.verified_log_size(), "{}", lines[0]);
}

/// A subject withdraws a consent while `credseal serve` holds the platform: `subject withdraw
/// --server` sends it over HTTPS (`POST /v1/withdrawals`), it is receipted, and the next
/// query presenting the consent is denied `consent-withdrawn`. Before that, a withdrawal of
/// the same consent signed by another key is refused (422 `verification-failed`, nothing
/// installed, no receipt) and the consent keeps working; the CLI removes a withdrawal the
/// server refused; a body that is not a withdrawal request gets a problem document.
#[test]
fn a_withdrawal_over_https_denies_the_next_query_while_serve_runs() {
    use credseal_auth::{Consent, ConsentWithdrawal, SigningKey, Unverified, sign};
    let fx = Fx::new();
    let subj = fx.registered_subject("subject", SUBJECT);
    let consent = fx.consent(&subj, DEPT, &["--max-uses", "10"]);
    let consent_id = Unverified::<Consent>::parse_text(fx.read(&consent).trim())
        .unwrap()
        .peek_unverified()
        .unwrap()
        .consent_id;
    // A consent for the same subject signed with a key the platform does not know.
    let stranger = fx.keygen("subject", "stranger");
    let strangers_consent = fx.consent(&stranger, DEPT, &[]);
    let with_consent = || fx.sign(&fx.tok().classes("loans").consent(&consent));
    let needles = needles();

    let srv = fx.serve(&[]);
    let server = format!("https://{}", srv.addr);
    let granted = srv.post_query(&fx.query_body(&fx.cred, &with_consent()));
    assert_eq!(granted.status, 200, "{granted:?}");
    let size = srv.log_size();

    // A withdrawal of this consent signed by another key than the subject's registered one.
    let forged = ConsentWithdrawal {
        consent_id,
        subject: SUBJECT.into(),
        issued_at: now(),
        audience: ORIGIN.into(),
    };
    let forged = sign(&forged, &SigningKey::generate()).to_text();
    let body = serde_json::to_vec(&serde_json::json!({ "withdrawal": forged })).unwrap();
    let r = srv.json("POST", "/v1/withdrawals", &body);
    r.problem(422, "verification-failed");
    assert_clean("the refusal", &r.body, &needles);
    // The same through the CLI (the stranger's own consent, so the CLI signs it): exit 4
    // with the server's code, and the refused withdrawal is not left behind.
    let out = fx.fresh("withdrawal");
    let o = run(&[
        "subject",
        "withdraw",
        "--key",
        &format!("{stranger}/signing.key"),
        "--consent",
        &strangers_consent,
        "--out",
        &out,
        "--server",
        &server,
        "--ca",
        &fx.cert_pem,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("(verification-failed)"), "{}", stderr(&o));
    assert!(!Path::new(&out).exists(), "a refused withdrawal was left behind");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    // Nothing was installed: no receipt, and the consent still works.
    assert_eq!(srv.log_size(), size, "a refused withdrawal is not receipted");
    let r = srv.post_query(&fx.query_body(&fx.cred, &with_consent()));
    assert_eq!(r.status, 200, "{r:?}");
    let size = srv.log_size();

    // Bodies that are not a withdrawal request: problem documents, nothing installed.
    srv.json("POST", "/v1/withdrawals", b"{\"withdrawal\": ")
        .problem(400, "bad-request");
    srv.json("POST", "/v1/withdrawals", b"{\"consent\": \"x\"}")
        .problem(400, "bad-request");
    srv.json(
        "POST",
        "/v1/withdrawals",
        br#"{"withdrawal": "cs1.consent-withdrawal.AAAA"}"#,
    )
    .problem(422, "verification-failed");
    srv.send(
        "POST",
        "/v1/withdrawals",
        &[("content-type", "text/plain")],
        Some(&body),
    )
    .problem(415, "unsupported-media-type");
    assert_eq!(srv.log_size(), size);

    // Usage errors are said before anything is signed or written: --data with --server, a
    // server that is not https:// (off loopback).
    let out = fx.fresh("withdrawal");
    let key = format!("{subj}/signing.key");
    let base = [
        "subject",
        "withdraw",
        "--key",
        &key,
        "--consent",
        &consent,
        "--out",
        &out,
    ];
    for extra in [
        &["--server", &server, "--data", &fx.data][..],
        &["--server", "http://credit.example.invalid:8443"][..],
    ] {
        let o = run(&[&base[..], extra].concat());
        assert_eq!(code(&o), 2, "{extra:?}: {}", stderr(&o));
        assert!(!Path::new(&out).exists(), "{extra:?}: a withdrawal was written");
    }
    assert_eq!(srv.log_size(), size);

    // The subject withdraws it through the service.
    let out = fx.fresh("withdrawal");
    let o = ok(&[
        "subject",
        "withdraw",
        "--key",
        &format!("{subj}/signing.key"),
        "--consent",
        &consent,
        "--out",
        &out,
        "--server",
        &server,
        "--ca",
        &fx.cert_pem,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["installed_on"], ORIGIN, "{v}");
    assert_eq!(v["consent_id"], credseal_core::hex(&consent_id), "{v}");
    assert!(
        fx.read(&out).starts_with("cs1.consent-withdrawal."),
        "{}",
        fx.read(&out)
    );
    assert_eq!(srv.log_size(), size + 1, "the withdrawal is receipted");

    // The next query presenting it is denied (receipted), uses left or not.
    let r = srv.post_query(&fx.query_body(&fx.cred, &with_consent()));
    r.problem(403, "consent-withdrawn");
    assert_eq!(srv.log_size(), size + 2, "the denial is receipted");
    // A query that needs no consent still goes through.
    let r = srv.post_query(&fx.query_body(&fx.cred, &fx.sign(&fx.tok())));
    assert_eq!(r.status, 200, "{r:?}");
    // The server's log names no subject.
    let (status, log) = srv.terminate();
    assert!(status.success(), "{log}");
    assert_clean("the server's log", &log, &needles);
}
