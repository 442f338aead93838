//! docs/openapi.yaml held to the real service: `credseal serve` runs as a child process on
//! 127.0.0.1:0 with a self-signed certificate (rcgen), a real HTTPS client (ureq on rustls
//! with the ring provider) drives every route — successes and error cases — and every
//! response is checked against the document: the path and method are in it, the status is
//! listed for that operation, the content type is one it lists for that status, the headers
//! it marks required are there and match their schemas, and the body validates against the
//! response schema (JSON Schema draft 2020-12, `$ref`s resolved into `components`). Every
//! request the test expects to succeed is also validated against the request schema, so the
//! patterns cannot refuse what the CLI writes.
//!
//! The reverse holds too: every path and method in the document is exercised, and every
//! status it lists is produced, except those named in [`NOT_EXERCISED`] with the reason (an
//! entry that the test does produce is stale and fails). Operations in [`PENDING`] are
//! documented before the server has them: they must answer 404 until they land, and the
//! test fails as soon as they answer anything else, so that the entry is removed and the
//! route exercised.
//!
//! Three services run one after the other: one on a platform whose log is still empty
//! (the checkpoint's 404), one with the default limits (the routes' successes and refusals)
//! and one with mutual TLS and tiny limits (403 without a client certificate, 413, 429,
//! 503 when the in-flight cap is reached, 408 for a body that never comes).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

const SPEC: &str = "../../docs/openapi.yaml";
const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
/// A person in records.jsonl with `identity` and `loans` records.
const SUBJECT: &str = "42010619960510907X";
const DEPT: &str = "bank-a";

/// Operations the document describes before the server has them. Each must answer 404
/// `not-found` while listed here; once it answers anything else the test fails until the
/// entry is removed (and the operation's statuses are then exercised like the others).
const PENDING: &[(&str, &str)] = &[];

/// Statuses the document lists that this test does not produce, each with why. An entry
/// the test does produce is stale and fails the test.
const NOT_EXERCISED: &[(&str, &str, u16, &str)] = &[
    // A failing store, a panicked engine task, a clock before 1970: not reachable from a
    // client of a healthy platform. The document keeps them because integrators must
    // handle them.
    ("/v1/queries", "post", 500, "store or engine failure"),
    ("/v1/queries/{query_id}", "get", 500, "clock failure"),
    ("/v1/self-queries", "post", 500, "store or engine failure"),
    ("/v1/bundles", "post", 500, "store or engine failure"),
    ("/v1/revocations", "put", 500, "store or engine failure"),
    ("/v1/log/key", "get", 500, "store failure"),
    ("/v1/log/checkpoint", "get", 500, "store failure"),
    ("/v1/log/key-history", "get", 500, "store failure"),
    ("/metrics", "get", 500, "engine task failure"),
    // The body reader (a timeout while the body arrives) is one function for every route
    // that takes a body; its 408 is produced on POST /v1/queries (a 10 s wait each).
    ("/v1/self-queries", "post", 408, "same body reader as POST /v1/queries"),
    ("/v1/bundles", "post", 408, "same body reader as POST /v1/queries"),
    ("/v1/revocations", "put", 408, "same body reader as POST /v1/queries"),
    ("/v1/ingest", "post", 408, "same body reader as POST /v1/queries"),
    ("/v1/ingest", "post", 500, "store or engine failure"),
    ("/v1/notices/{department}", "get", 500, "store failure"),
    ("/v1/objections", "post", 408, "same body reader as POST /v1/queries"),
    ("/v1/objections", "post", 500, "store or engine failure"),
    ("/v1/objections", "post", 503, "same slot function as POST /v1/queries"),
    ("/v1/objections/{objection_id}", "get", 500, "store or clock failure"),
    (
        "/v1/objections/{objection_id}",
        "get",
        503,
        "same slot function as POST /v1/queries",
    ),
    (
        "/v1/objection-answers",
        "post",
        408,
        "same body reader as POST /v1/queries",
    ),
    ("/v1/objection-answers", "post", 500, "store or engine failure"),
    (
        "/v1/objection-answers",
        "post",
        503,
        "same slot function as POST /v1/queries",
    ),
    ("/v1/withdrawals", "post", 408, "same body reader as POST /v1/queries"),
    ("/v1/withdrawals", "post", 500, "store or engine failure"),
    ("/v1/withdrawals", "post", 503, "same slot function as POST /v1/queries"),
    // 503 `overloaded`: every route takes its slot through one function; the test
    // produces it on POST /v1/queries with concurrent bursts (a slot cannot be held
    // deterministically: a request holds one only once its body has arrived).
    (
        "/v1/queries/{query_id}",
        "get",
        503,
        "same slot function as POST /v1/queries",
    ),
    (
        "/v1/self-queries",
        "post",
        503,
        "same slot function as POST /v1/queries",
    ),
    ("/v1/bundles", "post", 503, "same slot function as POST /v1/queries"),
    ("/v1/revocations", "put", 503, "same slot function as POST /v1/queries"),
    ("/v1/ingest", "post", 503, "same slot function as POST /v1/queries"),
    (
        "/v1/notices/{department}",
        "get",
        503,
        "same slot function as POST /v1/queries",
    ),
    ("/v1/log/key", "get", 503, "same slot function as POST /v1/queries"),
    ("/v1/log/vrf-key", "get", 503, "same slot function as POST /v1/queries"),
    (
        "/v1/log/checkpoint",
        "get",
        503,
        "same slot function as POST /v1/queries",
    ),
    (
        "/v1/log/key-history",
        "get",
        503,
        "same slot function as POST /v1/queries",
    ),
    // 503 `draining`: the drain closes the listener and every idle connection at the
    // moment it starts, so no request reaches /readyz while it would say so.
    ("/readyz", "get", 503, "draining is not observable from a client"),
];

// ------------------------------------------------------------------ the document

/// docs/openapi.yaml as JSON, with the checks the test runs against it.
struct Spec {
    doc: Value,
}

/// A response as the test saw it.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The problem document's `code`.
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Spec {
    fn load() -> Self {
        let text = std::fs::read_to_string(abs(SPEC)).expect("docs/openapi.yaml");
        let doc: Value = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("docs/openapi.yaml: {e}"));
        Self { doc }
    }

    /// Follows a local `$ref` (`#/components/...`) to what it names.
    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        for _ in 0..8 {
            match v.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
                    v = self
                        .doc
                        .pointer(ptr)
                        .unwrap_or_else(|| panic!("$ref {r} names nothing"));
                }
                None => return v,
            }
        }
        panic!("$ref chain too long at {v}")
    }

    /// Every documented (path template, method).
    fn operations(&self) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                    ops.insert((path.clone(), method.clone()));
                }
            }
        }
        ops
    }

    fn operation(&self, path: &str, method: &str) -> Option<&Value> {
        self.doc["paths"].get(path)?.get(method)
    }

    /// The statuses documented for an operation.
    fn statuses(&self, path: &str, method: &str) -> BTreeSet<u16> {
        self.operation(path, method)
            .and_then(|op| op["responses"].as_object())
            .map(|r| r.keys().map(|k| k.parse().expect("numeric status")).collect())
            .unwrap_or_default()
    }

    /// The template of the documented path a concrete path falls under.
    fn template(&self, concrete: &str) -> Option<String> {
        let segs: Vec<&str> = concrete.split('/').collect();
        self.doc["paths"].as_object()?.keys().find_map(|tpl| {
            let t: Vec<&str> = tpl.split('/').collect();
            let fits = t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty()));
            fits.then(|| tpl.clone())
        })
    }

    /// Validates `instance` against `schema` (a schema object of the document, possibly a
    /// `$ref`); the errors as one line each.
    fn validate(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": { "schemas": self.doc["components"]["schemas"] },
            "allOf": [schema],
        });
        let v = jsonschema::draft202012::new(&root).map_err(|e| format!("the schema does not compile: {e}"))?;
        let errs: Vec<String> = v
            .iter_errors(instance)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        if errs.is_empty() { Ok(()) } else { Err(errs.join("; ")) }
    }

    /// Checks one response to `method` on a documented operation; the mismatches.
    fn check_response(&self, path: &str, method: &str, resp: &Resp, response: &Value) -> Vec<String> {
        let mut bad = Vec::new();
        let what = format!("{} {path} → {}", method.to_uppercase(), resp.status);
        // Headers the document requires, and the schema of every documented header present.
        if let Some(hs) = response.get("headers").and_then(Value::as_object) {
            for (name, h) in hs {
                let h = self.resolve(h);
                let got = resp.header(&name.to_ascii_lowercase());
                match got {
                    None if h["required"] == true => bad.push(format!("{what}: header {name} missing")),
                    None => {}
                    Some(v) => {
                        let schema = &h["schema"];
                        let inst = if self.resolve(schema)["type"] == "integer" {
                            v.parse::<i64>().map(Value::from).unwrap_or(Value::from(v))
                        } else {
                            Value::from(v)
                        };
                        if let Err(e) = self.validate(schema, &inst) {
                            bad.push(format!("{what}: header {name}: {v:?}: {e}"));
                        }
                    }
                }
            }
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            if !resp.body.is_empty() {
                bad.push(format!("{what}: a body where the document lists none"));
            }
            return bad;
        };
        let ctype = resp.header("content-type").unwrap_or_default();
        let essence = ctype.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let Some(media) = content.get(&essence) else {
            bad.push(format!(
                "{what}: content type {ctype:?} is not listed (listed: {:?})",
                content.keys().collect::<Vec<_>>()
            ));
            return bad;
        };
        let instance = if essence.ends_with("json") {
            match serde_json::from_str::<Value>(&resp.body) {
                Ok(v) => v,
                Err(e) => {
                    bad.push(format!("{what}: the body is not JSON ({e}): {}", resp.body));
                    return bad;
                }
            }
        } else {
            Value::String(resp.body.clone())
        };
        if let Some(schema) = media.get("schema")
            && let Err(e) = self.validate(schema, &instance)
        {
            bad.push(format!(
                "{what}: the body does not match the schema: {e}; body: {}",
                resp.body
            ));
        }
        bad
    }
}

fn abs(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

// ------------------------------------------------------------------ the checker

/// Checks every exchange against the document and remembers what was exercised.
struct Checker {
    spec: Spec,
    /// (path template, method, status) seen.
    seen: BTreeSet<(String, String, u16)>,
    /// Pending operations that answered 404 as they must.
    pending_seen: BTreeSet<(String, String)>,
    mismatches: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        Self {
            spec: Spec::load(),
            seen: BTreeSet::new(),
            pending_seen: BTreeSet::new(),
            mismatches: Vec::new(),
        }
    }

    /// Checks a response to `method path` against the document.
    fn check(&mut self, method: &str, path: &str, resp: &Resp) {
        let m = method.to_ascii_lowercase();
        let Some(tpl) = self.spec.template(path.split('?').next().unwrap_or(path)) else {
            self.mismatches.push(format!(
                "{method} {path} → {}: the path is not in the document",
                resp.status
            ));
            return;
        };
        if PENDING.contains(&(tpl.as_str(), m.as_str())) {
            if resp.status == 404 && resp.code() == "not-found" {
                self.pending_seen.insert((tpl, m));
            } else {
                self.mismatches.push(format!(
                    "{method} {tpl} answered {} ({}): it has landed; remove it from PENDING and exercise it",
                    resp.status, resp.body
                ));
            }
            return;
        }
        let Some(op) = self.spec.operation(&tpl, &m) else {
            self.mismatches.push(format!(
                "{method} {tpl} → {}: the method is not in the document",
                resp.status
            ));
            return;
        };
        let Some(response) = op["responses"].get(resp.status.to_string()) else {
            self.mismatches.push(format!(
                "{method} {tpl} → {}: status not listed for the operation (listed: {:?}); body: {}",
                resp.status,
                self.spec.statuses(&tpl, &m),
                resp.body
            ));
            return;
        };
        let response = self.spec.resolve(response).clone();
        let bad = self.spec.check_response(&tpl, &m, resp, &response);
        self.mismatches.extend(bad);
        self.seen.insert((tpl, m, resp.status));
    }

    /// Checks a response to a path or method the document does not have against the
    /// generic response it documents for that (`components/responses/<name>`).
    fn check_unrouted(&mut self, method: &str, path: &str, resp: &Resp, name: &str) {
        let response = self.spec.doc["components"]["responses"][name].clone();
        assert!(response.is_object(), "components/responses/{name} is missing");
        let bad = self.spec.check_response(path, method, resp, &response);
        self.mismatches.extend(bad);
    }

    /// Validates a request body the test expects to be accepted against the operation's
    /// request schema.
    fn check_request(&mut self, method: &str, tpl: &str, body: &Value) {
        let m = method.to_ascii_lowercase();
        let Some(op) = self.spec.operation(tpl, &m) else {
            self.mismatches.push(format!("{method} {tpl}: not in the document"));
            return;
        };
        let schema = self.spec.resolve(&op["requestBody"])["content"]["application/json"]["schema"].clone();
        if schema.is_null() {
            self.mismatches
                .push(format!("{method} {tpl}: no application/json request schema"));
            return;
        }
        if let Err(e) = self.spec.validate(&schema, body) {
            self.mismatches.push(format!(
                "{method} {tpl}: a request the server accepts fails the request schema: {e}"
            ));
        }
    }

    /// Fails with every mismatch so far.
    #[track_caller]
    fn assert_clean(&self) {
        assert!(
            self.mismatches.is_empty(),
            "docs/openapi.yaml does not match the server:\n  {}",
            self.mismatches.join("\n  ")
        );
    }
}

// ------------------------------------------------------------------ the HTTPS client

#[derive(Clone, Copy)]
enum Body<'a> {
    None,
    Json(&'a Value),
    Raw(&'a str, &'a [u8]),
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    // rustls deprecates its ring provider (no post-quantum key exchange); ring is what the
    // server and the CLI's client use.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Client {
    /// A client of `addr` that trusts only `ca_der`, with a client certificate (DER) and
    /// its key (PEM) if given.
    fn new(addr: &str, ca_der: &[u8], client: Option<(&[u8], &[u8])>) -> Self {
        let roots = vec![ureq::tls::Certificate::from_der(ca_der).to_owned()];
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(ring())
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
        if let Some((cert, key)) = client {
            tls = tls.client_cert(Some(ureq::tls::ClientCert::new_with_certs(
                &[ureq::tls::Certificate::from_der(cert).to_owned()],
                ureq::tls::PrivateKey::from_pem(key).unwrap(),
            )));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Self {
            agent,
            base: format!("https://{addr}"),
        }
    }

    /// Sends one request and reads the whole response.
    ///
    /// A request the server refuses before reading its body (415, 413 by Content-Length,
    /// 403 for a missing client certificate, 503) can lose its response to a TCP reset: the
    /// server closes the connection with the body still unread in its socket, and the
    /// client's kernel may drop the response on the reset. Such a request is sent again, at
    /// most twice (nothing was done by the refused one); docs/serve.md says the same to
    /// clients. Any other transport failure fails the test.
    fn call(&self, method: &str, path: &str, body: Body<'_>) -> Resp {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.send(method, path, body) {
                Ok(r) => return r,
                Err(ureq::Error::Io(e)) if tries < 3 => {
                    eprintln!("{method} {path}: the connection broke ({e}); sending it again");
                }
                Err(e) => panic!("{method} {}{path}: {e}", self.base),
            }
        }
    }

    fn send(&self, method: &str, path: &str, body: Body<'_>) -> Result<Resp, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let a = &self.agent;
        let r = match (method, body) {
            ("GET", Body::None) => a.get(&url).call(),
            ("DELETE", Body::None) => a.delete(&url).call(),
            ("POST", Body::None) => a.post(&url).send_empty(),
            ("POST", Body::Json(v)) => a.post(&url).send_json(v),
            ("PUT", Body::None) => a.put(&url).send_empty(),
            ("PUT", Body::Json(v)) => a.put(&url).send_json(v),
            ("POST", Body::Raw(ct, b)) => a.post(&url).header("content-type", ct).send(b),
            ("PUT", Body::Raw(ct, b)) => a.put(&url).header("content-type", ct).send(b),
            (m, _) => panic!("the test does not send {m} like that"),
        };
        let mut r = r?;
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let body = r.body_mut().with_config().limit(64 << 20).read_to_string()?;
        Ok(Resp {
            status: r.status().as_u16(),
            headers,
            body,
        })
    }
}

// ------------------------------------------------------------------ certificates

/// The server's self-signed certificate for 127.0.0.1, and a CA with one client certificate.
struct Certs {
    dir: PathBuf,
    server_der: Vec<u8>,
    client_der: Vec<u8>,
    client_key_der: Vec<u8>,
    client_key_pem: String,
}

impl Certs {
    fn new(dir: &Path) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "departments CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(vec!["bank-a.example".to_string()]).unwrap();
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = cp.signed_by(&client_key, &ca).unwrap();
        Self {
            dir: dir.to_path_buf(),
            server_der: cert.der().to_vec(),
            client_der: client.der().to_vec(),
            client_key_der: client_key.serialize_der(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

// ------------------------------------------------------------------ the CLI and the service

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env("CREDSEAL_PASSPHRASE", PASS);
    c
}

/// Runs a command that must succeed.
#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = bin().args(args).stdin(Stdio::null()).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

/// A `credseal serve` child. Dropping it kills the child if it still runs.
struct Serve {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Serve {
    /// Starts `credseal serve` on `data` at 127.0.0.1:0 with `extra` arguments and waits for
    /// its ready line (at most 120 s, a guard against a hang, not a measurement).
    fn start(data: &str, certs: &Certs, extra: &[&str]) -> Self {
        let (cert, key) = (certs.path("cert.pem"), certs.path("key.pem"));
        let mut args = vec![
            "serve",
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ];
        args.extend_from_slice(extra);
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => {
                    if let Some(a) = l.strip_prefix("credseal: serving https://") {
                        break a.trim().to_string();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "credseal serve {args:?} gave no ready line: {:?}",
                        lines.lock().unwrap()
                    );
                }
            }
        };
        assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{addr}");
        Self {
            child,
            addr,
            lines,
            reader: Some(reader),
        }
    }

    fn client(&self, certs: &Certs) -> Client {
        Client::new(&self.addr, &certs.server_der, None)
    }

    fn client_with_cert(&self, certs: &Certs) -> Client {
        Client::new(
            &self.addr,
            &certs.server_der,
            Some((&certs.client_der, certs.client_key_pem.as_bytes())),
        )
    }

    /// SIGTERM, then waits (at most 120 s) for the drain to end; the exit status and every
    /// stderr line.
    fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let k = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(k.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "credseal serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        let lines = self.lines.lock().unwrap().clone();
        (status, lines)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Asserts a clean drain and checks the request log: one JSON line per request with the
/// contract's fields, never the subject id.
#[track_caller]
fn assert_stopped_cleanly(status: ExitStatus, lines: &[String], min_requests: usize) {
    assert_eq!(status.code(), Some(0), "credseal serve after SIGTERM: {lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("credseal: stopped")),
        "no stop line: {lines:#?}"
    );
    let mut requests = 0;
    for l in lines {
        assert!(!l.contains(SUBJECT), "a log line names the subject: {l}");
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        requests += 1;
        for field in ["time", "route", "status", "latency_us"] {
            assert!(v.get(field).is_some(), "request log line without {field}: {l}");
        }
        assert!(v.as_object().unwrap().contains_key("department"), "{l}");
    }
    assert!(requests >= min_requests, "{requests} request log lines: {lines:#?}");
}

// ------------------------------------------------------------------ the platform

/// A platform with the example data, a trusted authority, the department `bank-a` and a
/// registered subject, and the key files to sign with.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    bank: String,
    cred: String,
    subj: String,
    files: std::cell::Cell<u32>,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        let data = p("data");
        init(&data);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ]);
        let auth = p("authority.key");
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
        let bank = p("bank-a");
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
        let subj = p("subject");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &subj]);
        ok(&[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{subj}/signing.pub"),
        ]);
        let cred = p("credential");
        ok(&[
            "authority",
            "enroll",
            "--key",
            &auth,
            "--serial",
            "1",
            "--department",
            DEPT,
            "--name",
            "Bank A",
            "--signing-key",
            &format!("{bank}/signing.pub"),
            "--sealing-key",
            &format!("{bank}/sealing.pub"),
            "--classes",
            "identity,loans",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ]);
        Fx {
            dir,
            data,
            auth,
            bank,
            cred,
            subj,
            files: std::cell::Cell::new(0),
        }
    }

    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.dir.path().join(format!("{stem}-{n}")).display().to_string()
    }

    fn credential(&self) -> String {
        read(&self.cred)
    }

    /// A new token of `bank-a` for the subject's `classes`.
    fn token(&self, classes: &str) -> String {
        let out = self.fresh("token");
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
            classes,
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "contract 2026-001",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        read(&out)
    }

    fn self_query(&self) -> String {
        let out = self.fresh("self-query");
        ok(&[
            "subject",
            "query",
            "--key",
            &format!("{}/signing.key", self.subj),
            "--sealing-key",
            &format!("{}/sealing.pub", self.subj),
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        read(&out)
    }

    /// A bundle request signed with the keys in `key_dir`.
    fn bundle_request(&self, key_dir: &str) -> String {
        let out = self.fresh("request");
        ok(&[
            "receipts",
            "request",
            "--key",
            &format!("{key_dir}/signing.key"),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        read(&out)
    }

    /// A revocation list revoking credential serial `serial`.
    fn revocations(&self, serial: &str) -> String {
        let out = self.fresh("revocations");
        ok(&[
            "authority",
            "revoke",
            "--key",
            &self.auth,
            "--serial",
            serial,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        read(&out)
    }

    /// `provider sign-batch` of `records` by `id` with `key`; the batch text.
    fn sign_batch(&self, key: &str, id: &str, records: &str) -> String {
        let rec = self.fresh("records.jsonl");
        std::fs::write(&rec, records).unwrap();
        let out = self.fresh("batch");
        ok(&[
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
        read(&out)
    }

    fn query_body(&self, token: &str) -> Value {
        json!({ "credential": self.credential(), "token": token })
    }
}

fn init(data: &str) {
    ok(&[
        "init",
        "--data",
        data,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `text` (`cs1.<label>.<base64url>`) with one bit flipped in its signature (near the end),
/// keeping the payload canonical base64 of the same length.
fn flip_signature_bit(text: &str) -> String {
    let mut b = text.trim().as_bytes().to_vec();
    let i = b.len() - 12;
    let v = B64URL.iter().position(|&c| c == b[i]).unwrap();
    b[i] = B64URL[v ^ 0x20];
    String::from_utf8(b).unwrap()
}

// ------------------------------------------------------------------ the exchanges

/// Sends a request, checks the response against the document, and asserts its status
/// (and problem code, where given).
#[track_caller]
fn expect(
    c: &mut Checker,
    cl: &Client,
    method: &str,
    path: &str,
    body: Body<'_>,
    status: u16,
    code: Option<&str>,
) -> Resp {
    let r = cl.call(method, path, body);
    c.check(method, path, &r);
    assert_eq!(
        r.status, status,
        "{method} {path}: {}\nmismatches so far: {:#?}",
        r.body, c.mismatches
    );
    if let Some(code) = code {
        assert_eq!(r.code(), code, "{method} {path}: {}", r.body);
    }
    r
}

/// The refusals every route with a JSON body shares: not JSON, a missing field, an unknown
/// field, the wrong content type.
fn bad_bodies(c: &mut Checker, cl: &Client, method: &str, path: &str, good: &Value) {
    let send = |c: &mut Checker, body: Body<'_>, status, code| {
        expect(c, cl, method, path, body, status, Some(code));
    };
    send(c, Body::Raw("application/json", b"{"), 400, "bad-request");
    send(c, Body::Json(&json!({})), 400, "bad-request");
    let mut extra = good.clone();
    extra["extra"] = json!(1);
    send(c, Body::Json(&extra), 400, "bad-request");
    let bytes = serde_json::to_vec(good).unwrap();
    send(c, Body::Raw("text/plain", &bytes), 415, "unsupported-media-type");
    send(c, Body::None, 415, "unsupported-media-type");
}

/// The public routes, all 200 on a platform with receipts.
fn public_routes(c: &mut Checker, cl: &Client) {
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/log/key",
        "/v1/log/vrf-key",
        "/v1/log/key-history",
    ] {
        expect(c, cl, "GET", path, Body::None, 200, None);
    }
    expect(c, cl, "GET", "/v1/log/checkpoint", Body::None, 200, None);
}

/// `POST /v1/ingest`: a batch of the enrolled provider `prov-a` (key `key`) is written; one
/// from a provider not enrolled is refused; records that do not validate are rejected by
/// line; a batch that is not one is malformed.
fn ingest(c: &mut Checker, cl: &Client, fx: &Fx, key: &str) {
    let good = json!({ "batch": fx.sign_batch(key, "prov-a", &new_records("OA")) });
    c.check_request("POST", "/v1/ingest", &good);
    let r = expect(c, cl, "POST", "/v1/ingest", Body::Json(&good), 200, None);
    assert!(r.json()["written"].as_u64().unwrap() >= 2, "{}", r.body);
    let stranger = fx.fresh("prov-b.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &stranger]);
    let foreign = json!({ "batch": fx.sign_batch(&stranger, "prov-b", &new_records("OB")) });
    expect(
        c,
        cl,
        "POST",
        "/v1/ingest",
        Body::Json(&foreign),
        403,
        Some("provider-not-enrolled"),
    );
    // A record naming another source than the provider: refused as a whole (403, exit 3).
    let foreign_source = new_records("OD").replacen("\"source\":\"prov-a\"", "\"source\":\"prov-z\"", 1);
    let outside = json!({ "batch": fx.sign_batch(key, "prov-a", &foreign_source) });
    let r = expect(
        c,
        cl,
        "POST",
        "/v1/ingest",
        Body::Json(&outside),
        403,
        Some("provider-source-mismatch"),
    );
    assert_eq!(r.json()["exit_class"], 3, "{}", r.body);
    let bad = new_records("OC").replacen("\"class\":\"identity\"", "\"class\":\"no-such-class\"", 1);
    let rejected = json!({ "batch": fx.sign_batch(key, "prov-a", &bad) });
    let r = expect(
        c,
        cl,
        "POST",
        "/v1/ingest",
        Body::Json(&rejected),
        422,
        Some("ingest-rejected"),
    );
    assert!(
        r.json()["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{}",
        r.body
    );
    let body = json!({ "batch": "cs1.batch.AAAA" });
    // The engine calls it `verification-failed` (a query's malformed token is `malformed`).
    let r = expect(c, cl, "POST", "/v1/ingest", Body::Json(&body), 422, None);
    assert_eq!(r.json()["exit_class"], 4, "{}", r.body);
    bad_bodies(c, cl, "POST", "/v1/ingest", &good);
}

/// The objection routes, on a record `prov-a` wrote through [`ingest`]: the subject files
/// (201, open), reads its state (200), cannot file it twice (403); a stranger's answer fails
/// verification (422), the provider's upholds it (200), a second answer is refused (403
/// `objection-closed`); ids that are not ones (400) or unknown (404).
fn objections(c: &mut Checker, cl: &Client, fx: &Fx, provider_key: &str) {
    let first: Value = serde_json::from_str(new_records("OA").lines().next().unwrap()).unwrap();
    let (class, record) = (first["class"].as_str().unwrap(), first["record_id"].as_str().unwrap());
    let sign = |record: &str| {
        let out = fx.fresh("objection");
        ok(&[
            "subject",
            "object",
            "--key",
            &format!("{}/signing.key", fx.subj),
            "--subject",
            SUBJECT,
            "--class",
            class,
            "--record",
            record,
            "--reason",
            "the record is not mine",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        read(&out)
    };
    let objection = sign(record);
    let good = json!({ "objection": objection });
    c.check_request("POST", "/v1/objections", &good);
    let r = expect(c, cl, "POST", "/v1/objections", Body::Json(&good), 201, None);
    let filed = r.json();
    assert_eq!(filed["status"], "open", "{}", r.body);
    assert_eq!(filed["provider"], "prov-a", "{}", r.body);
    assert!(!r.body.contains(SUBJECT) && !r.body.contains(record), "{}", r.body);
    let id = filed["objection_id"].as_str().unwrap().to_string();
    let path = format!("/v1/objections/{id}");
    let r = expect(c, cl, "GET", &path, Body::None, 200, None);
    assert_eq!(r.json()["status"], "open", "{}", r.body);
    expect(c, cl, "POST", "/v1/objections", Body::Json(&good), 403, None);
    let forged = json!({ "objection": flip_signature_bit(&objection) });
    expect(c, cl, "POST", "/v1/objections", Body::Json(&forged), 422, None);
    let absent = json!({ "objection": sign("OA-no-such-record") });
    expect(c, cl, "POST", "/v1/objections", Body::Json(&absent), 404, None);
    expect(c, cl, "GET", "/v1/objections/zz", Body::None, 400, Some("bad-request"));
    let unknown = format!("/v1/objections/{}", "0".repeat(32));
    expect(c, cl, "GET", &unknown, Body::None, 404, Some("not-found"));
    bad_bodies(c, cl, "POST", "/v1/objections", &good);

    let answer = |key: &str, id: &str| {
        let out = fx.fresh("answer");
        ok(&[
            "provider",
            "answer-objection",
            "--key",
            key,
            "--objection",
            id,
            "--reason",
            "the record is right",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        json!({ "answer": read(&out) })
    };
    let stranger = fx.fresh("stranger.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &stranger]);
    let body = answer(&stranger, &id);
    expect(c, cl, "POST", "/v1/objection-answers", Body::Json(&body), 422, None);
    // `deleted` shreds the record, which needs the operator's passphrase: the service has none.
    let out = fx.fresh("answer");
    ok(&[
        "provider",
        "answer-objection",
        "--key",
        provider_key,
        "--objection",
        &id,
        "--reason",
        "the record is wrong",
        "--outcome",
        "deleted",
        "--audience",
        ORIGIN,
        "--out",
        &out,
    ]);
    let deleting = json!({ "answer": read(&out) });
    expect(
        c,
        cl,
        "POST",
        "/v1/objection-answers",
        Body::Json(&deleting),
        400,
        Some("bad-request"),
    );
    let good = answer(provider_key, &id);
    c.check_request("POST", "/v1/objection-answers", &good);
    let r = expect(c, cl, "POST", "/v1/objection-answers", Body::Json(&good), 200, None);
    assert_eq!(r.json()["status"], "upheld", "{}", r.body);
    assert_eq!(r.json()["reason"], "the record is right", "{}", r.body);
    let again = answer(provider_key, &id);
    expect(
        c,
        cl,
        "POST",
        "/v1/objection-answers",
        Body::Json(&again),
        403,
        Some("objection-closed"),
    );
    let none = answer(provider_key, &"0".repeat(32));
    expect(c, cl, "POST", "/v1/objection-answers", Body::Json(&none), 404, None);
    bad_bodies(c, cl, "POST", "/v1/objection-answers", &good);
    let r = expect(c, cl, "GET", &path, Body::None, 200, None);
    assert_eq!(r.json()["status"], "upheld", "{}", r.body);
}

/// `POST /v1/withdrawals`: the subject's withdrawal of its consent is installed (200, the
/// consent id and the origin); one with a flipped signature bit fails verification (422);
/// one for another platform is denied (403 `wrong-audience`).
fn withdrawals(c: &mut Checker, cl: &Client, fx: &Fx) {
    let withdrawal = |audience: &str| {
        let consent = fx.fresh("consent");
        ok(&[
            "subject",
            "consent",
            "--key",
            &format!("{}/signing.key", fx.subj),
            "--subject",
            SUBJECT,
            "--department",
            DEPT,
            "--classes",
            "loans",
            "--purpose",
            "loan-approval",
            "--audience",
            audience,
            "--out",
            &consent,
        ]);
        let out = fx.fresh("withdrawal");
        let o = ok(&[
            "subject",
            "withdraw",
            "--key",
            &format!("{}/signing.key", fx.subj),
            "--consent",
            &consent,
            "--out",
            &out,
            "--json",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        (read(&out), v["consent_id"].as_str().unwrap().to_string())
    };
    let (text, consent_id) = withdrawal(ORIGIN);
    let good = json!({ "withdrawal": text });
    c.check_request("POST", "/v1/withdrawals", &good);
    let forged = json!({ "withdrawal": flip_signature_bit(&text) });
    expect(
        c,
        cl,
        "POST",
        "/v1/withdrawals",
        Body::Json(&forged),
        422,
        Some("verification-failed"),
    );
    let r = expect(c, cl, "POST", "/v1/withdrawals", Body::Json(&good), 200, None);
    assert_eq!(r.json()["consent_id"], consent_id.as_str(), "{}", r.body);
    assert_eq!(r.json()["origin"], ORIGIN, "{}", r.body);
    let (elsewhere, _) = withdrawal("other.credseal.invalid/log");
    expect(
        c,
        cl,
        "POST",
        "/v1/withdrawals",
        Body::Json(&json!({ "withdrawal": elsewhere })),
        403,
        Some("wrong-audience"),
    );
    bad_bodies(c, cl, "POST", "/v1/withdrawals", &good);
}

/// Records of the subject not in records.jsonl: its lines under new record ids, with
/// provider `prov-a` as their source.
fn new_records(prefix: &str) -> String {
    let all = std::fs::read_to_string(abs(RECORDS)).unwrap();
    let lines: Vec<String> = all
        .lines()
        .filter(|l| l.contains(SUBJECT))
        .map(|l| l.replacen("\"record_id\":\"", &format!("\"record_id\":\"{prefix}-"), 1))
        .map(|l| {
            let mut v: Value = serde_json::from_str(&l).unwrap();
            v["source"] = json!("prov-a");
            v.to_string()
        })
        .collect();
    assert!(lines.len() >= 2, "records.jsonl has records of {SUBJECT}");
    lines.join("\n") + "\n"
}

#[test]
fn openapi_document_is_well_formed() {
    let spec = Spec::load();
    assert_eq!(spec.doc["openapi"], "3.1.0");
    // Every $ref resolves, and every schema compiles as draft 2020-12.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&spec.doc, &mut all);
    assert!(all.len() > 20, "{} $refs", all.len());
    for r in all {
        assert!(
            spec.doc.pointer(r.trim_start_matches('#')).is_some(),
            "$ref {r} names nothing"
        );
    }
    for (name, s) in spec.doc["components"]["schemas"].as_object().unwrap() {
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        spec.validate(&schema, &Value::Null).map(|_| ()).unwrap_or_else(|e| {
            assert!(!e.contains("does not compile"), "{name}: {e}: {s}");
        });
    }
    // Every example validates against the schema beside it.
    fn examples(spec: &Spec, v: &Value, at: &str, n: &mut usize) {
        match v {
            Value::Object(m) => {
                if let (Some(ex), Some(schema)) = (m.get("example"), m.get("schema")) {
                    *n += 1;
                    if let Err(e) = spec.validate(schema, ex) {
                        panic!("the example at {at} does not match its schema: {e}");
                    }
                }
                for (k, v) in m {
                    examples(spec, v, &format!("{at}/{k}"), n);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| examples(spec, v, at, n)),
            _ => {}
        }
    }
    let mut n = 0;
    examples(&spec, &spec.doc, "", &mut n);
    assert!(n >= 2, "{n} examples");
    // Every operation documents its errors as problem documents, and every request body
    // refuses unknown fields.
    for (path, method) in spec.operations() {
        let op = spec.operation(&path, &method).unwrap();
        for (status, r) in op["responses"].as_object().unwrap() {
            let r = spec.resolve(r);
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    r["content"]["application/problem+json"].is_object(),
                    "{method} {path} {status}: not a problem document"
                );
            }
        }
        if let Some(rb) = op.get("requestBody") {
            let s = spec.resolve(&spec.resolve(rb)["content"]["application/json"]["schema"]);
            assert_eq!(s["additionalProperties"], false, "{method} {path}: request schema");
            assert!(
                s["required"].as_array().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
}

/// The schemas refuse what the server refuses: the test's checks can fail.
#[test]
fn the_checks_catch_a_wrong_body() {
    let spec = Spec::load();
    let answer = json!({ "$ref": "#/components/schemas/QueryAnswer" });
    let problem = json!({ "$ref": "#/components/schemas/Problem" });
    assert!(
        spec.validate(&answer, &json!({ "query_id": "00", "answer": "x" }))
            .is_err()
    );
    assert!(
        spec.validate(&problem, &json!({ "type": "about:blank", "title": "x", "status": 200 }))
            .is_err()
    );
    let mut c = Checker::new();
    let resp = Resp {
        status: 200,
        headers: [
            ("content-type".to_string(), "text/html".to_string()),
            ("cache-control".to_string(), "no-store".to_string()),
        ]
        .into(),
        body: "ok".into(),
    };
    c.check("GET", "/healthz", &resp);
    c.check("GET", "/v1/nothing", &resp);
    c.check("DELETE", "/healthz", &resp);
    assert_eq!(c.mismatches.len(), 3, "{:#?}", c.mismatches);
    assert!(c.mismatches[0].contains("content type"), "{}", c.mismatches[0]);
}

#[test]
fn openapi_matches_the_server() {
    let mut c = Checker::new();
    let fx = Fx::new();
    let certs = Certs::new(fx.dir.path());

    // ---- 1. a platform whose log is empty: no checkpoint yet.
    let empty = fx.fresh("empty");
    init(&empty);
    let s = Serve::start(&empty, &certs, &[]);
    let cl = s.client(&certs);
    let r = cl.call("GET", "/v1/log/checkpoint", Body::None);
    c.check("GET", "/v1/log/checkpoint", &r);
    assert_eq!(r.status, 404, "an empty log has no checkpoint: {}", r.body);
    drop(cl);
    let (st, lines) = s.stop();
    assert_stopped_cleanly(st, &lines, 1);

    // ---- 2. default limits: every route's success and its refusals.
    let provider_key = fx.fresh("prov-a.key");
    ok(&["provider", "keygen", "--unencrypted", "--out", &provider_key]);
    let run = |args: &[&str]| bin().args(args).stdin(Stdio::null()).output().unwrap();
    let classes: std::collections::BTreeSet<String> = std::fs::read_to_string(abs(RECORDS))
        .unwrap()
        .lines()
        .filter(|l| l.contains(SUBJECT))
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["class"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let o = common::enroll_provider(
        &run,
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        &fx.auth,
        "prov-a",
        &format!("{provider_key}.pub"),
        &classes.into_iter().collect::<Vec<_>>().join(","),
        9001,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = Serve::start(&fx.data, &certs, &[]);
    let cl = s.client(&certs);
    public_routes(&mut c, &cl);

    // A department's query, its pickup by the same token and by id.
    let token = fx.token("identity");
    let body = fx.query_body(&token);
    c.check_request("POST", "/v1/queries", &body);
    let first = expect(&mut c, &cl, "POST", "/v1/queries", Body::Json(&body), 200, None);
    let again = expect(&mut c, &cl, "POST", "/v1/queries", Body::Json(&body), 200, None);
    assert_eq!(first.body, again.body, "the same token gets the same answer");
    let qid = first.json()["query_id"].as_str().unwrap().to_string();
    let by_id = expect(&mut c, &cl, "GET", &format!("/v1/queries/{qid}"), Body::None, 200, None);
    assert_eq!(first.body, by_id.body, "the pickup by id is the same answer");
    let zeros = "0".repeat(32);
    expect(
        &mut c,
        &cl,
        "GET",
        &format!("/v1/queries/{zeros}"),
        Body::None,
        404,
        Some("not-found"),
    );
    expect(
        &mut c,
        &cl,
        "GET",
        "/v1/queries/not-hex",
        Body::None,
        400,
        Some("bad-request"),
    );
    // Denied (a class the credential does not grant), forged, malformed.
    let judgments = fx.query_body(&fx.token("judgments"));
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/queries",
        Body::Json(&judgments),
        403,
        Some("class-not-granted"),
    );
    let forged = fx.query_body(&flip_signature_bit(&fx.token("identity")));
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/queries",
        Body::Json(&forged),
        422,
        Some("bad-signature"),
    );
    let malformed = fx.query_body("cs1.token.AAAA");
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/queries",
        Body::Json(&malformed),
        422,
        Some("malformed"),
    );
    bad_bodies(&mut c, &cl, "POST", "/v1/queries", &body);

    // A subject's own query: granted once, replayed after.
    let sq = json!({ "query": fx.self_query() });
    c.check_request("POST", "/v1/self-queries", &sq);
    expect(&mut c, &cl, "POST", "/v1/self-queries", Body::Json(&sq), 200, None);
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/self-queries",
        Body::Json(&sq),
        403,
        Some("replayed"),
    );
    let bad = json!({ "query": "cs1.self-query.AAAA" });
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/self-queries",
        Body::Json(&bad),
        422,
        Some("malformed"),
    );
    bad_bodies(&mut c, &cl, "POST", "/v1/self-queries", &sq);

    // A subject's receipts; a request signed with a key the platform does not know.
    let br = json!({ "request": fx.bundle_request(&fx.subj) });
    c.check_request("POST", "/v1/bundles", &br);
    let b = expect(&mut c, &cl, "POST", "/v1/bundles", Body::Json(&br), 200, None);
    assert!(b.json()["receipts"].as_u64().unwrap() >= 2, "{}", b.body);
    let stranger = fx.fresh("stranger");
    ok(&["subject", "keygen", "--unencrypted", "--out-dir", &stranger]);
    let foreign = json!({ "request": fx.bundle_request(&stranger) });
    let r = expect(&mut c, &cl, "POST", "/v1/bundles", Body::Json(&foreign), 403, None);
    assert_eq!(r.json()["exit_class"], 3, "{}", r.body);
    let bad = json!({ "request": "cs1.bundle-request.AAAA" });
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/bundles",
        Body::Json(&bad),
        422,
        Some("malformed"),
    );
    bad_bodies(&mut c, &cl, "POST", "/v1/bundles", &br);

    // The authority revokes the credential: installed, takes effect, not twice.
    let list = json!({ "list": fx.revocations("1") });
    c.check_request("PUT", "/v1/revocations", &list);
    let forged = json!({ "list": flip_signature_bit(list["list"].as_str().unwrap()) });
    expect(&mut c, &cl, "PUT", "/v1/revocations", Body::Json(&forged), 422, None);
    let v = expect(&mut c, &cl, "PUT", "/v1/revocations", Body::Json(&list), 200, None);
    assert!(v.json()["version"].as_u64().unwrap() >= 1, "{}", v.body);
    expect(
        &mut c,
        &cl,
        "PUT",
        "/v1/revocations",
        Body::Json(&list),
        403,
        Some("revocation-list-stale"),
    );
    let revoked = fx.query_body(&fx.token("identity"));
    expect(
        &mut c,
        &cl,
        "POST",
        "/v1/queries",
        Body::Json(&revoked),
        403,
        Some("credential-revoked"),
    );
    bad_bodies(&mut c, &cl, "PUT", "/v1/revocations", &list);

    ingest(&mut c, &cl, &fx, &provider_key);
    objections(&mut c, &cl, &fx, &provider_key);
    withdrawals(&mut c, &cl, &fx);
    // A department's correction notices (none yet), and an id that is not one.
    let r = expect(&mut c, &cl, "GET", "/v1/notices/bank-a", Body::None, 200, None);
    assert!(r.json()["notices"].as_array().is_some(), "{}", r.body);
    expect(
        &mut c,
        &cl,
        "GET",
        "/v1/notices/bank!a",
        Body::None,
        400,
        Some("bad-request"),
    );

    // What the document does not have: 404 for a path, 405 for a method.
    let r = cl.call("GET", "/v2/queries", Body::None);
    assert_eq!(r.status, 404, "{}", r.body);
    c.check_unrouted("get", "/v2/queries", &r, "NotFound");
    let r = cl.call("DELETE", "/v1/queries", Body::None);
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.code(), "method-not-allowed");
    c.check_unrouted("delete", "/v1/queries", &r, "MethodNotAllowed");
    drop(cl);
    let (st, lines) = s.stop();
    assert_stopped_cleanly(st, &lines, 40);
    // The log names the department of a verified query, and nothing for the public routes.
    let dept_lines = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["route"] == "/v1/queries" && v["status"] == 200)
        .collect::<Vec<_>>();
    assert!(
        !dept_lines.is_empty() && dept_lines.iter().all(|v| v["department"] == DEPT),
        "{dept_lines:?}"
    );

    // ---- 3. mutual TLS and tiny limits.
    let s = Serve::start(
        &fx.data,
        &certs,
        &[
            "--client-ca",
            &certs.path("ca.pem"),
            "--max-inflight",
            "1",
            "--dept-rate",
            "0.001",
            "--dept-burst",
            "1",
            "--max-body",
            "2048",
            "--max-ingest-body",
            "2048",
            "--timeout",
            "10",
        ],
    );
    let anon = s.client(&certs);
    let dept = s.client_with_cert(&certs);
    // The credential is revoked on this platform now: a new department and credential.
    let bank_b = fx.fresh("bank-b");
    ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank_b]);
    let cred_b = fx.fresh("credential-b");
    ok(&[
        "authority",
        "enroll",
        "--key",
        &fx.auth,
        "--serial",
        "2",
        "--department",
        "bank-b",
        "--name",
        "Bank B",
        "--signing-key",
        &format!("{bank_b}/signing.pub"),
        "--sealing-key",
        &format!("{bank_b}/sealing.pub"),
        "--classes",
        "identity",
        "--purposes",
        "loan-approval",
        "--audience",
        ORIGIN,
        "--out",
        &cred_b,
    ]);
    let token_b = || {
        let out = fx.fresh("token-b");
        ok(&[
            "dept",
            "query",
            "--key",
            &format!("{bank_b}/signing.key"),
            "--credential",
            &cred_b,
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "contract 2026-002",
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        json!({ "credential": read(&cred_b), "token": read(&out) })
    };
    let q1 = token_b();
    expect(
        &mut c,
        &anon,
        "POST",
        "/v1/queries",
        Body::Json(&q1),
        403,
        Some("client-certificate-required"),
    );
    let a = expect(&mut c, &dept, "POST", "/v1/queries", Body::Json(&q1), 200, None);
    let qid = a.json()["query_id"].as_str().unwrap().to_string();
    expect(
        &mut c,
        &anon,
        "GET",
        &format!("/v1/queries/{qid}"),
        Body::None,
        403,
        Some("client-certificate-required"),
    );
    expect(
        &mut c,
        &anon,
        "GET",
        "/v1/notices/bank-b",
        Body::None,
        403,
        Some("client-certificate-required"),
    );
    let r = expect(
        &mut c,
        &dept,
        "POST",
        "/v1/queries",
        Body::Json(&token_b()),
        429,
        Some("rate-limited"),
    );
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    // Bodies over --max-body.
    let big = json!({ "credential": "x".repeat(4096), "token": "y" });
    expect(
        &mut c,
        &dept,
        "POST",
        "/v1/queries",
        Body::Json(&big),
        413,
        Some("payload-too-large"),
    );
    for (m, path, field) in [
        ("POST", "/v1/self-queries", "query"),
        ("POST", "/v1/bundles", "request"),
        ("PUT", "/v1/revocations", "list"),
        ("POST", "/v1/ingest", "batch"),
        ("POST", "/v1/objections", "objection"),
        ("POST", "/v1/objection-answers", "answer"),
        ("POST", "/v1/withdrawals", "withdrawal"),
    ] {
        let big = json!({ field: "x".repeat(4096) });
        expect(&mut c, &anon, m, path, Body::Json(&big), 413, Some("payload-too-large"));
    }
    overloaded(&mut c, &s, &certs, &anon, &dept);
    drop((anon, dept));
    let (st, lines) = s.stop();
    assert_stopped_cleanly(st, &lines, 10);

    c.assert_clean();

    // ---- the reverse: everything the document lists was exercised.
    let mut missing = Vec::new();
    for (path, method) in c.spec.operations() {
        if PENDING.contains(&(path.as_str(), method.as_str())) {
            if !c.pending_seen.contains(&(path.clone(), method.clone())) {
                missing.push(format!("{method} {path}: pending, but never sent"));
            }
            continue;
        }
        for status in c.spec.statuses(&path, &method) {
            let seen = c.seen.contains(&(path.clone(), method.clone(), status));
            let excused = NOT_EXERCISED
                .iter()
                .any(|(p, m, s, _)| *p == path && *m == method && *s == status);
            match (seen, excused) {
                (false, false) => missing.push(format!("{} {path} → {status}: never produced", method.to_uppercase())),
                (true, true) => missing.push(format!(
                    "{} {path} → {status}: produced, so its NOT_EXERCISED entry is stale",
                    method.to_uppercase()
                )),
                _ => {}
            }
        }
    }
    for (p, m, s, _) in NOT_EXERCISED {
        assert!(
            c.spec.statuses(p, m).contains(s),
            "NOT_EXERCISED names {m} {p} {s}, which the document does not list"
        );
    }
    assert!(
        missing.is_empty(),
        "the document and the test disagree:\n  {}",
        missing.join("\n  ")
    );
}

/// With `--max-inflight 1`:
/// - a request whose body never comes holds no slot: every route still answers as usual
///   meanwhile, and that request itself gets 408 `timeout` once `--timeout` passes;
/// - overlapping requests beyond the one slot get 503 `overloaded` with `Retry-After`,
///   produced on `POST /v1/queries` with bursts of concurrent requests (at most 40 bursts of
///   12, until one is seen); every other route takes its slot through the same function.
fn overloaded(c: &mut Checker, s: &Serve, certs: &Certs, anon: &Client, dept: &Client) {
    let mut held = raw_tls(&s.addr, certs);
    let head = format!(
        "POST /v1/queries HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        s.addr
    );
    held.write_all(head.as_bytes()).unwrap();
    held.flush().unwrap();
    let r = anon.call("GET", "/v1/log/vrf-key", Body::None);
    c.check("GET", "/v1/log/vrf-key", &r);
    assert_eq!(
        r.status, 200,
        "a request still sending its body holds no slot: {}",
        r.body
    );
    let q = json!({ "credential": "cs1.credential.AAAA", "token": "cs1.token.AAAA" });
    let mut seen = None;
    for _ in 0..40 {
        let rs: Vec<Resp> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..12)
                .map(|_| sc.spawn(|| dept.call("POST", "/v1/queries", Body::Json(&q))))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in rs {
            c.check("POST", "/v1/queries", &r);
            match r.status {
                503 => seen = Some(r),
                422 => {}
                other => panic!("neither refused nor overloaded: {other} {}", r.body),
            }
        }
        if seen.is_some() {
            break;
        }
    }
    let r = seen.expect("40 bursts of 12 concurrent requests never exceeded the one slot");
    assert_eq!(r.code(), "overloaded", "{}", r.body);
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    for p in ["/healthz", "/readyz", "/metrics"] {
        expect(c, dept, "GET", p, Body::None, 200, None);
    }
    // The held request: its body never came.
    let r = read_raw_response(&mut held);
    c.check("POST", "/v1/queries", &r);
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(r.code(), "timeout", "{}", r.body);
}

type RawTls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection with the department's client certificate, for a hand-written request.
fn raw_tls(addr: &str, certs: &Certs) -> RawTls {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(certs.server_der.clone())).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(certs.client_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certs.client_key_der.clone())),
        )
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Reads one HTTP/1.1 response with a Content-Length body.
fn read_raw_response(s: &mut RawTls) -> Resp {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert!(n == 1, "the connection closed before the response's headers: {buf:?}");
        buf.push(byte[0]);
        assert!(buf.len() < 64 * 1024, "headers too long");
    }
    let head = String::from_utf8(buf).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    Resp {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}
