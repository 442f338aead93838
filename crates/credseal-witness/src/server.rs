//! The witness over HTTP(S): `POST /add-checkpoint` and `GET /<origin hash>/checkpoint`
//! (C2SP tlog-witness), on a runtime of its own, with TLS 1.3, header/body/idle timeouts, a
//! body cap, a cap on open connections and a drain on shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt as _, Limited};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{Witness, WitnessError};

/// The `Content-Type` of a 409 answer (C2SP tlog-witness).
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

const TEXT: &str = "text/plain; charset=utf-8";

/// TLS files: a PEM certificate chain (leaf first) and its PEM private key.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// How the witness serves. [`ServeConfig::default`] gives the defaults of `credseal witness
/// serve`.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// TLS; `None` only with `insecure_loopback` on a loopback address.
    pub tls: Option<TlsFiles>,
    /// Serve plain HTTP (tests on 127.0.0.1/::1 only; refused on any other address).
    pub insecure_loopback: bool,
    /// Largest request body, bytes (a checkpoint with 63 proof lines is a few KiB).
    pub max_body: usize,
    /// Time allowed for a TLS handshake, a request's headers, its body, and an idle
    /// keep-alive connection's next request.
    pub timeout: Duration,
    /// Open connections at once; beyond it new connections are closed at once.
    pub max_connections: usize,
    /// Time a drain waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            tls: None,
            insecure_loopback: false,
            max_body: 64 * 1024,
            timeout: Duration::from_secs(10),
            max_connections: 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Checks `cfg` without binding: plain HTTP only with `insecure_loopback` on a loopback
/// address, positive limits, TLS files that can be read and used together. Run it before
/// anything else is opened.
pub fn check_config(cfg: &ServeConfig) -> Result<(), WitnessError> {
    check(cfg).map(|_| ())
}

fn check(cfg: &ServeConfig) -> Result<Option<tokio_rustls::TlsAcceptor>, WitnessError> {
    let tls = match (&cfg.tls, cfg.insecure_loopback) {
        (Some(_), true) => {
            return Err(WitnessError::Config(
                "give either TLS files or --insecure-loopback, not both".into(),
            ));
        }
        (None, true) if cfg.listen.ip().is_loopback() => None,
        (None, true) => {
            return Err(WitnessError::Config(format!(
                "--insecure-loopback serves plain HTTP and is only allowed on a loopback address, not {}",
                cfg.listen
            )));
        }
        (None, false) => {
            return Err(WitnessError::Config(
                "TLS is required: give --tls-cert and --tls-key (or --insecure-loopback for tests on 127.0.0.1)".into(),
            ));
        }
        (Some(files), false) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(files)?)),
    };
    if cfg.max_body == 0 || cfg.max_body > 16 << 20 || cfg.timeout.is_zero() || cfg.max_connections == 0 {
        return Err(WitnessError::Config(
            "limits must be positive (body size at most 16 MiB, timeout, connections)".into(),
        ));
    }
    Ok(tls)
}

/// A running witness service ([`credseal_service::Running`]): drains on `shutdown`, on
/// SIGTERM or SIGINT (`run_until_signal`) or when dropped.
pub type Running = credseal_service::Running<WitnessError>;

struct App {
    witness: Arc<Witness>,
    max_body: usize,
    timeout: Duration,
}

/// Starts serving `witness` (background threads); returns once the socket listens.
pub fn start(witness: Arc<Witness>, cfg: ServeConfig) -> Result<Running, WitnessError> {
    let tls = check(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("credseal-witness")
        .enable_all()
        .build()
        .map_err(|e| WitnessError::Runtime(e.to_string()))?;
    let std_listener = std::net::TcpListener::bind(cfg.listen).map_err(|e| WitnessError::Bind {
        addr: cfg.listen,
        detail: e.to_string(),
    })?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| WitnessError::Runtime(e.to_string()))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| WitnessError::Runtime(e.to_string()))?;
    let app = Arc::new(App {
        witness,
        max_body: cfg.max_body,
        timeout: cfg.timeout,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("credseal-witness-main".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).map_err(|e| WitnessError::Runtime(e.to_string()))?;
                serve(listener, tls, app, cfg, stop_rx).await;
                Ok(())
            })
        })
        .map_err(|e| WitnessError::Runtime(e.to_string()))?;
    Ok(Running::new(addr, stop_tx, thread, WitnessError::Runtime))
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{hash}/checkpoint", get(checkpoint))
        .fallback(|| async { text(StatusCode::NOT_FOUND, "not found\n".into()) })
        .with_state(app)
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body).into_response()
}

/// Now in POSIX seconds; a clock before 1970 is no time (an error), never 0.
fn now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
        .filter(|&t| t > 0)
}

async fn add_checkpoint(State(app): State<Arc<App>>, body: Body) -> Response {
    let bytes = match tokio::time::timeout(app.timeout, Limited::new(body, app.max_body).collect()).await {
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body was not sent in time\n".into(),
            );
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            eprintln!(
                "credseal: witness: refused add-checkpoint: 413 origin=- old=- size=-: body over {} bytes",
                app.max_body
            );
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {} bytes\n", app.max_body),
            );
        }
        Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "the request body could not be read\n".into()),
        Ok(Ok(c)) => c.to_bytes(),
    };
    let Some(timestamp) = now() else {
        eprintln!("credseal: witness: the system clock is before 1970; nothing is cosigned");
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the witness has no valid time\n".into(),
        );
    };
    let witness = Arc::clone(&app.witness);
    // The check and the durable write (fsync) block: off the async workers.
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&bytes, timestamp)).await;
    match result {
        Ok(Ok(line)) => text(StatusCode::OK, line),
        Ok(Err(r)) => {
            eprintln!("credseal: witness: refused add-checkpoint: {r}");
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if r.status == 409 {
                (status, [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)], r.body()).into_response()
            } else if r.status >= 500 {
                text(status, "the witness could not save its state\n".into())
            } else {
                text(status, r.body())
            }
        }
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into()),
    }
}

async fn checkpoint(State(app): State<Arc<App>>, Path(hash): Path<String>) -> Response {
    match app.witness.checkpoint(&hash) {
        Some(note) => text(StatusCode::OK, note),
        None => text(
            StatusCode::NOT_FOUND,
            "no checkpoint cosigned for this origin hash\n".into(),
        ),
    }
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<App>,
    cfg: ServeConfig,
    stop: watch::Receiver<bool>,
) {
    let limits = credseal_service::ConnLimits {
        max_connections: cfg.max_connections,
        timeout: cfg.timeout,
        drain_timeout: cfg.drain_timeout,
    };
    credseal_service::accept_loop(listener, tls, router(app), limits, stop, || {}).await;
}
