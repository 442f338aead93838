//! The HTTPS client of the service's API (docs/design.md §14, `credseal serve`): what the
//! `--server URL [--ca FILE]` modes of `dept query`, `subject query`, `subject withdraw`,
//! `receipts fetch`, `authority install`, `ingest` and `log` send and receive.
//!
//! Blocking (ureq) over rustls with the ring provider. `https://` only; `http://` only for a
//! loopback host (tests, a server started with `--insecure-loopback`). Without `--ca` the
//! server's certificate is checked against the system's roots; with `--ca FILE` against
//! exactly the certificates in FILE (PEM), which pins the server. Connecting may take 10 s,
//! a whole exchange 60 s.
//!
//! A problem document (RFC 9457) from the server becomes a [`Failure`] of the class the
//! server names (`exit_class`) saying `server: <detail> (<code>)`; any other failure (the
//! server unreachable, a TLS failure, a response that is not the API's) is exit 1 naming the
//! URL. Nothing sent or received is logged.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use credseal_engine::ErrorClass;
use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http::{StatusCode, Uri};

use crate::files::read_text;
use crate::{CliResult, Failure};

/// Longest wait for a connection (TCP and TLS handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for one whole exchange (request, response and its body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest response body read (a receipt bundle of a busy subject is the largest).
const MAX_RESPONSE: u64 = 256 << 20;

/// A connection to one credseal server.
#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    /// `scheme://authority`, without a trailing slash.
    base: String,
}

/// How a request failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The server answered with an error (a problem document, or not): the failure to report.
    Answered(Failure),
    /// The request may have reached the server but its response was lost (a timeout or a
    /// broken connection after the connection was made).
    Lost(Failure),
    /// Nothing reached the server, or what came back is not the API's.
    Failed(Failure),
}

impl ClientError {
    /// The failure to report, whatever the kind.
    pub(crate) fn into_failure(self) -> Failure {
        match self {
            Self::Answered(f) | Self::Lost(f) | Self::Failed(f) => f,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        e.into_failure()
    }
}

/// Whether `host` (as it appears in a URL) is a loopback address.
fn loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The base URL of `--server`: `https://HOST[:PORT]` (a trailing `/` allowed), or `http://`
/// with a loopback host. Anything else is a usage error (exit 2).
fn base_url(url: &str) -> CliResult<String> {
    let bad = |why: &str| Failure::new(ErrorClass::Usage, format!("--server {url}: {why}"));
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| bad("give the scheme: https://HOST:PORT"))?;
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("credentials in the URL are not accepted"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad(
            "give the server's address only (https://HOST:PORT), without a path",
        ));
    }
    match scheme {
        "https" => {}
        "http" if loopback(authority.host()) => {}
        "http" => {
            return Err(bad(
                "http:// only reaches a loopback address (127.0.0.1, ::1, localhost); use https://",
            ));
        }
        _ => return Err(bad("the scheme must be https://")),
    }
    Ok(format!("{scheme}://{authority}"))
}

/// The certificates of a `--ca` PEM file (at least one).
fn pinned_roots(ca: &Path) -> CliResult<Vec<ureq::tls::Certificate<'static>>> {
    let pem = read_text(ca)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem.as_bytes()) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(Failure::new(
                    ErrorClass::Error,
                    format!("{}: not a PEM certificate file: {e}", ca.display()),
                ));
            }
        }
    }
    if certs.is_empty() {
        return Err(Failure::new(
            ErrorClass::Error,
            format!(
                "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                ca.display()
            ),
        ));
    }
    Ok(certs)
}

/// The fields of a problem document the client uses.
#[derive(serde::Deserialize)]
struct Problem {
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    title: String,
    exit_class: Option<u8>,
    /// The errors by line of a rejected ingest batch.
    #[serde(default)]
    errors: Vec<ProblemLine>,
}

/// One error of a rejected ingest batch (`ingest-rejected`).
#[derive(serde::Deserialize)]
struct ProblemLine {
    line: u64,
    #[serde(default)]
    field: Option<String>,
    message: String,
}

/// `text` with every control character (escape sequences, newlines, carriage returns)
/// replaced by its `\u{…}` escape, at most 2,000 characters.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(2000) {
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

fn class_of(exit: u8) -> ErrorClass {
    match exit {
        2 => ErrorClass::Usage,
        3 => ErrorClass::Denied,
        4 => ErrorClass::Verification,
        _ => ErrorClass::Error,
    }
}

impl Client {
    /// A client of the server at `url`, trusting the certificates in `ca` (else the system's
    /// roots).
    pub(crate) fn new(url: &str, ca: Option<&Path>) -> CliResult<Self> {
        Self::build(url, ca, None)
    }

    /// The same client presenting the client certificate chain in `cert` (PEM) with its key
    /// in `key` (PEM), for a server that requires mutual TLS.
    pub(crate) fn with_client_cert(self, ca: Option<&Path>, cert: &Path, key: &Path) -> CliResult<Self> {
        let chain = pinned_roots(cert)?;
        let pem = read_text(key)?;
        let key = ureq::tls::PrivateKey::from_pem(pem.as_bytes()).map_err(|e| {
            Failure::new(
                ErrorClass::Error,
                format!("{}: not a PEM private key: {e}", key.display()),
            )
        })?;
        Self::build(&self.base, ca, Some(ureq::tls::ClientCert::new_with_certs(&chain, key)))
    }

    fn build(url: &str, ca: Option<&Path>, client_cert: Option<ureq::tls::ClientCert>) -> CliResult<Self> {
        let base = base_url(url)?;
        let roots = match ca {
            Some(f) => ureq::tls::RootCerts::Specific(Arc::new(pinned_roots(f)?)),
            None => ureq::tls::RootCerts::PlatformVerifier,
        };
        // rustls deprecates its ring provider because ring has no post-quantum key exchange;
        // ring is this project's primitive library (as in credseal-server's TLS).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(roots)
            .client_cert(client_cert)
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("credseal/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { agent, base })
    }

    /// The server's base URL, as errors name it.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A transport failure of a request to `url`.
    fn transport(&self, url: &str, e: ureq::Error) -> ClientError {
        use ureq::Error as E;
        use ureq::Timeout as T;
        let f = |m: String| Failure::new(ErrorClass::Error, m);
        // ureq reports a failed handshake as an I/O error carrying rustls' error.
        let tls = match &e {
            E::Tls(_) | E::Rustls(_) => true,
            E::Io(io) => io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()),
            _ => false,
        };
        if tls {
            return ClientError::Failed(
                f(format!("TLS handshake with {} failed: {e}", self.base))
                    .hint("--ca FILE must hold the server's certificate (or the CA that issued it)"),
            );
        }
        match e {
            E::Timeout(T::Resolve | T::Connect) | E::HostNotFound | E::ConnectionFailed => ClientError::Failed(
                f(format!("could not connect to {}: {e}", self.base))
                    .hint("is `credseal serve` running there, and is --server right?"),
            ),
            E::Timeout(_) => ClientError::Lost(f(format!(
                "{url}: no response within {}s ({e})",
                REQUEST_TIMEOUT.as_secs()
            ))),
            E::Io(_) | E::Protocol(_) => ClientError::Lost(f(format!("{url}: the connection broke: {e}"))),
            other => ClientError::Failed(f(format!("{url}: {other}"))),
        }
    }

    /// Sends one request and reads the whole response: the body text on a 2xx status, the
    /// failure the server named otherwise.
    fn exchange(&self, method: &str, path: &str, body: Option<&serde_json::Value>) -> Result<String, ClientError> {
        let url = self.url(path);
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("POST", Some(b)) => self.agent.post(&url).send_json(b),
            ("PUT", Some(b)) => self.agent.put(&url).send_json(b),
            _ => unreachable!("the client sends GET, POST or PUT with a body"),
        };
        let mut resp = sent.map_err(|e| self.transport(&url, e))?;
        let status = resp.status();
        let is_problem = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/problem+json"));
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_string()
            .map_err(|e| self.transport(&url, e))?;
        if status.is_success() {
            return Ok(text);
        }
        Err(ClientError::Answered(self.refusal(
            &url,
            status,
            is_problem,
            &text,
            retry_after,
        )))
    }

    /// The failure an error response stands for.
    fn refusal(
        &self,
        url: &str,
        status: StatusCode,
        is_problem: bool,
        text: &str,
        retry_after: Option<String>,
    ) -> Failure {
        let problem = is_problem.then(|| serde_json::from_str::<Problem>(text).ok()).flatten();
        let Some(p) = problem else {
            return Failure::new(
                ErrorClass::Error,
                format!("{url}: HTTP {status} without a problem document (is this a credseal server?)"),
            );
        };
        // Text from the server is shown as text: a hostile server must not move the cursor,
        // clear the screen, set the window title or forge a second `credseal:` line.
        let detail = printable(if p.detail.is_empty() { &p.title } else { &p.detail });
        let code = printable(&p.code);
        let class = p.exit_class.map_or(ErrorClass::Error, class_of);
        let mut message = String::new();
        for e in &p.errors {
            match &e.field {
                Some(field) => message.push_str(&format!(
                    "batch:{}: {}: {}\n",
                    e.line,
                    printable(field),
                    printable(&e.message)
                )),
                None => message.push_str(&format!("batch:{}: {}\n", e.line, printable(&e.message))),
            }
        }
        message.push_str(&format!("server: {detail} ({code})"));
        let mut f = Failure::new(class, message);
        // The server's reason code, when it is one: kebab-case ASCII, as the API defines them.
        if !p.code.is_empty()
            && p.code.len() <= 64
            && p.code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            f = f.code(p.code.clone());
        }
        if let Some(secs) = retry_after {
            f = f.hint(format!("the server is busy: try again in {secs} s"));
        }
        f
    }

    /// Parses a 2xx body as the JSON the API promises.
    fn json<R: DeserializeOwned>(&self, path: &str, text: &str) -> Result<R, ClientError> {
        serde_json::from_str(text).map_err(|e| {
            ClientError::Failed(Failure::new(
                ErrorClass::Error,
                format!("{}: the response is not the API's JSON: {e}", self.url(path)),
            ))
        })
    }

    /// `POST path` with a JSON body; the JSON response.
    pub(crate) fn post<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R, ClientError> {
        let v = serde_json::to_value(body)
            .map_err(|e| ClientError::Failed(Failure::new(ErrorClass::Error, e.to_string())))?;
        let text = self.exchange("POST", path, Some(&v))?;
        self.json(path, &text)
    }

    /// `PUT path` with a JSON body; the JSON response.
    pub(crate) fn put<B: Serialize, R: DeserializeOwned>(&self, path: &str, body: &B) -> Result<R, ClientError> {
        let v = serde_json::to_value(body)
            .map_err(|e| ClientError::Failed(Failure::new(ErrorClass::Error, e.to_string())))?;
        let text = self.exchange("PUT", path, Some(&v))?;
        self.json(path, &text)
    }

    /// `GET path`; the JSON response.
    pub(crate) fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, ClientError> {
        let text = self.exchange("GET", path, None)?;
        self.json(path, &text)
    }

    /// `GET path`; the text response (the public log routes).
    pub(crate) fn get_text(&self, path: &str) -> Result<String, ClientError> {
        self.exchange("GET", path, None)
    }

    /// `GET path` for a static resource (a C2SP tile or checkpoint): its bytes on a 2xx
    /// status, `None` on 404, the failure otherwise.
    pub(crate) fn get_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let url = self.url(path);
        let mut resp = self.agent.get(&url).call().map_err(|e| self.transport(&url, e))?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| self.transport(&url, e))?;
        if status.is_success() {
            return Ok(Some(body));
        }
        Err(ClientError::Answered(Failure::new(
            ErrorClass::Error,
            format!("{url}: HTTP {status}"),
        )))
    }

    /// The URL of `path` on this server, as messages name it.
    pub(crate) fn url_of(&self, path: &str) -> String {
        self.url(path)
    }
}

/// The answer to a query (`POST /v1/queries`, `GET /v1/queries/{id}`, `POST /v1/self-queries`).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct QueryResponse {
    /// The query id, 32 hex digits.
    pub(crate) query_id: String,
    /// The sealed answer's text.
    pub(crate) answer: String,
}

/// The answer to `POST /v1/bundles`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct BundleResponse {
    /// The bundle's text.
    pub(crate) bundle: String,
    /// How many receipts it holds.
    #[allow(dead_code)]
    pub(crate) receipts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        let evil = "ok\u{1b}]0;pwned\u{7}\u{1b}[2J\ncredseal: error: credseal: everything is fine";
        let shown = printable(evil);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(!shown.contains('\n'));
        assert!(shown.contains("\\u{1b}"), "{shown}");
    }

    #[test]
    fn https_and_loopback_http_only() {
        assert_eq!(
            base_url("https://credseal.example:8443").unwrap(),
            "https://credseal.example:8443"
        );
        assert_eq!(
            base_url("https://credseal.example/").unwrap(),
            "https://credseal.example"
        );
        assert_eq!(base_url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base_url("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(base_url("http://localhost:1").unwrap(), "http://localhost:1");
        for bad in [
            "http://credseal.example",
            "http://10.0.0.1:80",
            "ftp://127.0.0.1",
            "credseal.example",
            "https://credseal.example/v1",
            "https://u:p@credseal.example",
            "https://credseal.example?x=1",
        ] {
            let e = base_url(bad).unwrap_err();
            assert_eq!(e.class, ErrorClass::Usage, "{bad}");
            assert!(e.message.contains(bad), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn problem_documents_keep_the_servers_exit_class() {
        let c = Client::new("http://127.0.0.1:9", None).unwrap();
        let doc = r#"{"type":"urn:credseal:problem:replayed","title":"Forbidden","status":403,"detail":"the token was used before","code":"replayed","exit_class":3}"#;
        let f = c.refusal("u", StatusCode::FORBIDDEN, true, doc, None);
        assert_eq!(f.class, ErrorClass::Denied);
        assert_eq!(f.message, "server: the token was used before (replayed)");
        let f = c.refusal("u", StatusCode::TOO_MANY_REQUESTS, true, doc, Some("2".into()));
        assert!(f.hint.as_deref().unwrap().contains("2 s"));
        // Not a problem document: exit 1 naming the URL.
        let f = c.refusal(
            "http://127.0.0.1:9/v1/queries",
            StatusCode::BAD_GATEWAY,
            false,
            "<html>",
            None,
        );
        assert_eq!(f.class, ErrorClass::Error);
        assert!(
            f.message.starts_with("http://127.0.0.1:9/v1/queries: HTTP 502"),
            "{}",
            f.message
        );
        // A problem content type with a body that is not one: the same.
        let f = c.refusal("u", StatusCode::FORBIDDEN, true, "{}", None);
        assert_eq!(f.class, ErrorClass::Error);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("ca.pem");
        std::fs::write(&f, "not pem\n").unwrap();
        let e = Client::new("https://127.0.0.1:1", Some(&f)).unwrap_err();
        assert!(e.message.contains("ca.pem"), "{}", e.message);
    }
}
