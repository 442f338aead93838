//! `credseal serve`: the platform as an HTTPS service for departments, subjects, providers,
//! the authority and the public (docs/design.md §16, docs/serve.md, docs/openapi.yaml).
//!
//! The service has no policy of its own: every decision is the engine's
//! ([`credseal_engine::Platform`]). It maps requests to engine calls, engine results to JSON and
//! RFC 9457 problem documents, and adds what a network service needs: TLS 1.3, limits on
//! sizes, time, concurrency and per-department rates, metrics, request logs, and a drain on
//! shutdown. Answers are released only after their receipts are durable, exactly as in the
//! engine: queries in flight share its group commits.
//!
//! Start with [`Server::start`]:
//!
//! ```no_run
//! # fn f(platform: std::sync::Arc<credseal_engine::Platform>) -> Result<(), credseal_server::ServerError> {
//! use credseal_server::{ServeConfig, Server, TlsFiles};
//! let cfg = ServeConfig {
//!     listen: "127.0.0.1:8443".parse().unwrap(),
//!     tls: Some(TlsFiles { cert: "cert.pem".into(), key: "key.pem".into(), client_ca: None }),
//!     ..ServeConfig::default()
//! };
//! let running = Server::start(platform, cfg)?;
//! println!("serving on {}", running.local_addr());
//! running.shutdown()?; // drains: in-flight requests finish, their receipts are committed
//! # Ok(()) }
//! ```

#![warn(unreachable_pub)]
// Handlers return `Result<_, Problem>`; a problem is built once per refused request and
// turned into a response at once, so its size on the error path costs nothing measurable.
#![allow(clippy::result_large_err)]

mod body;
mod conn;
mod engine;
mod limits;
mod metrics;
mod pickup;
mod problem;
mod routes;
mod state;
mod tilecache;
mod tls;
mod witness_client;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use credseal_engine::Platform;

pub use problem::{FieldError, PROBLEM_JSON, Problem};

/// TLS files: a PEM certificate chain and its PEM private key; optionally a PEM CA bundle
/// whose client certificates the department routes then require (mTLS).
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// CA certificates (PEM) that issue departments' client certificates.
    pub client_ca: Option<PathBuf>,
}

/// How the service runs. [`ServeConfig::default`] gives the safe defaults `credseal serve`
/// uses.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// TLS; `None` only with `insecure_loopback` on a loopback address.
    pub tls: Option<TlsFiles>,
    /// Serve plain HTTP (tests on 127.0.0.1/::1 only; refused on any other address).
    pub insecure_loopback: bool,
    /// Requests handled at once; beyond it 503 + `Retry-After`.
    pub max_inflight: usize,
    /// Open connections at once; beyond it new connections are closed at once.
    pub max_connections: usize,
    /// Queries per second each department may sustain (token bucket rate).
    pub dept_rate: f64,
    /// Queries a department may send in a burst (token bucket size).
    pub dept_burst: f64,
    /// Largest request body, bytes (ingest has its own).
    pub max_body: usize,
    /// Largest ingest batch body, bytes.
    pub max_ingest_body: usize,
    /// Time allowed for a TLS handshake, for a request's headers, for its body, and for an
    /// idle keep-alive connection to send its next request.
    pub timeout: Duration,
    /// Time a drain waits for requests in flight before closing what is left.
    pub drain_timeout: Duration,
    /// Answers held for pickup by query id (the oldest go first when full).
    pub pickup_capacity: usize,
    /// One JSON line per request on stderr.
    pub log_requests: bool,
    /// Tokio worker threads (the engine's blocking work runs on its own pool).
    pub worker_threads: usize,
    /// Threads that run department queries, each with many in flight (default: one per
    /// core).
    pub query_threads: usize,
    /// Department queries each query thread keeps in flight at most.
    pub queries_per_thread: usize,
    /// How often the latest checkpoint is sent to the platform's witnesses (when it has
    /// any): the published checkpoint lags the log by about this much.
    pub witness_interval: Duration,
    /// PEM certificates to trust for the witnesses' HTTPS (default: the system's roots).
    pub witness_ca: Option<String>,
    /// How often open objections are reviewed at the platform's time: each that became
    /// overdue is receipted in its subject's chain and raises an alert, once.
    pub objection_review_interval: Duration,
    /// With a standing retention policy installed, the longest wait between two looks at
    /// whether its sweep is due (it runs when the policy's interval has passed at the
    /// platform's clock; the first look is when the service starts).
    pub retention_check_interval: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls: None,
            insecure_loopback: false,
            max_inflight: 512,
            max_connections: 4096,
            dept_rate: 100.0,
            dept_burst: 200.0,
            max_body: 64 * 1024,
            max_ingest_body: 16 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            pickup_capacity: 10_000,
            log_requests: true,
            worker_threads: 2,
            query_threads: std::thread::available_parallelism().map_or(2, usize::from),
            queries_per_thread: 64,
            witness_interval: Duration::from_secs(1),
            witness_ca: None,
            objection_review_interval: Duration::from_secs(3600),
            retention_check_interval: Duration::from_secs(60),
        }
    }
}

/// Why the service could not start or stopped badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A TLS file could not be read or used.
    #[error("{}: {detail}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The configuration is not allowed (plain HTTP off loopback, zero limits).
    #[error("{0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {detail}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        detail: String,
    },
    /// The runtime failed.
    #[error("the service's runtime failed: {0}")]
    Runtime(String),
}

/// The service.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Checks the configuration, loads TLS, binds the address and starts serving on a
    /// runtime of its own (background threads). Returns once the socket is listening.
    pub fn start(platform: Arc<Platform>, cfg: ServeConfig) -> Result<Running, ServerError> {
        conn::start(platform, cfg)
    }
}

pub use conn::Running;
pub use witness_client::HttpsWitnesses;

/// Checks a configuration without opening anything: plain HTTP only on a loopback address,
/// positive limits, TLS files that can be read and used together. [`Server::start`] runs the
/// same check; a CLI runs it first so a typo does not cost a keystore unlock.
pub fn check_config(cfg: &ServeConfig) -> Result<(), ServerError> {
    conn::check(cfg).map(|_| ())
}
