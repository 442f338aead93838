//! What credseal's HTTPS services share: [`server_config`], TLS 1.3 only with ring as the
//! provider (optionally verifying client certificates), and [`Running`], the handle of a
//! service running on its own threads that drains on [`Running::shutdown`], on SIGTERM or
//! SIGINT ([`Running::run_until_signal`]) or when dropped. Each service maps [`TlsError`] and
//! its runtime failures into its own error type.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;

/// A TLS file that cannot be used, or a configuration rustls refuses.
#[derive(Debug)]
pub enum TlsError {
    /// The file and what is wrong with it.
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// rustls refused the configuration.
    Config(String),
}

fn file_err(path: &Path, detail: impl Into<String>) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The most a certificate chain, CA bundle or private key file may hold (a chain of a few
/// certificates is a few KiB; a system CA bundle about 250 KiB).
const MAX_TLS_FILE: u64 = 1 << 20;

/// `path`'s bytes, refused beyond [`MAX_TLS_FILE`] while reading (an endless `/dev/zero`
/// fails at once, with bounded memory).
fn read_tls_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| file_err(path, e.to_string()))?;
    let mut bytes = Vec::new();
    f.take(MAX_TLS_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_err(path, e.to_string()))?;
    if bytes.len() as u64 > MAX_TLS_FILE {
        return Err(file_err(path, "larger than 1 MiB: not a PEM file"));
    }
    Ok(bytes)
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_tls_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, format!("not a PEM {what}: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(path, format!("no PEM CERTIFICATE block: not a {what}")));
    }
    Ok(certs)
}

/// The rustls configuration of a service: the chain in `cert` (PEM, leaf first) and its
/// private key in `key` (PEM: PKCS#8, SEC1 or PKCS#1); TLS 1.3 only; ALPN `http/1.1`. With
/// `client_ca`, client certificates chaining to it are verified when offered (a service
/// decides per route whether one is required).
pub fn server_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certs(cert, "certificate chain")?;
    let key_bytes = read_tls_file(key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|_| file_err(key, "no PEM private key (PKCS#8, SEC1 or PKCS#1) in the file"))?;
    // rustls 0.23.48 deprecates the ring provider because ring has no post-quantum key
    // exchange; ring is this project's chosen primitive library and X25519 is what the
    // rest of credseal relies on. Revisit when ring ships ML-KEM.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Config(format!("TLS: {e}")))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca, "CA certificate")? {
                roots
                    .add(c)
                    .map_err(|e| file_err(ca, format!("not a usable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| file_err(ca, format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, private)
        .map_err(|e| file_err(key, format!("the key does not fit the certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A running service. Dropping it without [`Running::shutdown`] also drains it.
#[derive(Debug)]
pub struct Running<E> {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<Result<(), E>>>,
    /// Makes the service's error from a runtime failure's description.
    runtime_error: fn(String) -> E,
}

impl<E> Running<E> {
    /// The handle of a service listening on `addr`, running on `thread` until `stop` says
    /// true; `runtime_error` makes the service's error from a runtime failure.
    pub fn new(
        addr: SocketAddr,
        stop: watch::Sender<bool>,
        thread: std::thread::JoinHandle<Result<(), E>>,
        runtime_error: fn(String) -> E,
    ) -> Self {
        Self {
            addr,
            stop,
            thread: Some(thread),
            runtime_error,
        }
    }

    /// The address the service listens on (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drains: stops accepting, lets requests in flight finish, and returns once the
    /// service's runtime has stopped.
    pub fn shutdown(mut self) -> Result<(), E> {
        self.stop_and_join()
    }

    /// Blocks until SIGTERM or SIGINT, then drains as [`Running::shutdown`] does.
    pub fn run_until_signal(mut self) -> Result<(), E> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| (self.runtime_error)(e.to_string()))?;
        let runtime_error = self.runtime_error;
        rt.block_on(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| runtime_error(format!("SIGTERM handler: {e}")))?;
            tokio::select! {
                _ = term.recv() => {}
                r = tokio::signal::ctrl_c() => r.map_err(|e| runtime_error(format!("SIGINT handler: {e}")))?,
            }
            Ok::<(), E>(())
        })?;
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), E> {
        let _ = self.stop.send(true);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| (self.runtime_error)("the service thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl<E> Drop for Running<E> {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// What a connection knows about its peer, put on every request it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// A client certificate chaining to the configured client CA was presented and verified.
    pub client_verified: bool,
}

/// The limits of [`accept_loop`].
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open connections at once; beyond it new connections are closed at once.
    pub max_connections: usize,
    /// Time allowed for a TLS handshake, a request's headers, and an idle keep-alive
    /// connection's next request.
    pub timeout: std::time::Duration,
    /// Time the drain waits for open connections to finish.
    pub drain_timeout: std::time::Duration,
}

/// Accepts connections on `listener` until `stop` says true, each (after a TLS handshake
/// under the timeout, if `tls`) served by `router` over HTTP/1.1 with a [`ConnInfo`] on every
/// request; then calls `on_drain`, stops accepting, and waits (at most `drain_timeout`) for
/// every open connection to finish the request it is on and close.
pub async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: axum::Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
    on_drain: impl FnOnce(),
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let open = Arc::new(AtomicUsize::new(0));
    let all_closed = Arc::new(tokio::sync::Notify::new());
    let timeout = limits.timeout;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((tcp, _peer)) = accepted else {
            // Out of file descriptors and the like: back off a moment rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        if open.load(Ordering::SeqCst) >= limits.max_connections {
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        open.fetch_add(1, Ordering::SeqCst);
        let (router, tls, open, all_closed, mut stop) = (
            router.clone(),
            tls.clone(),
            open.clone(),
            all_closed.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            match tls {
                Some(acc) => {
                    // A handshake that does not finish in time (or garbage instead of TLS)
                    // closes the connection; nothing reaches the router.
                    if let Ok(Ok(s)) = tokio::time::timeout(timeout, acc.accept(tcp)).await {
                        let verified = s.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty());
                        let info = ConnInfo {
                            client_verified: verified,
                        };
                        serve_conn(s, router, info, timeout, &mut stop).await;
                    }
                }
                None => {
                    let info = ConnInfo { client_verified: false };
                    serve_conn(tcp, router, info, timeout, &mut stop).await;
                }
            }
            if open.fetch_sub(1, Ordering::SeqCst) == 1 {
                all_closed.notify_waiters();
            }
        });
    }
    // Drain: no new connections; every connection finishes the request it is on and closes.
    on_drain();
    drop(listener);
    let deadline = tokio::time::Instant::now() + limits.drain_timeout;
    while open.load(Ordering::SeqCst) > 0 {
        let notified = all_closed.notified();
        if open.load(Ordering::SeqCst) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            break;
        }
    }
}

async fn serve_conn<I>(
    io: I,
    router: axum::Router,
    info: ConnInfo,
    timeout: std::time::Duration,
    stop: &mut watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tower::ServiceExt as _;
    let svc = router.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(info);
        req.map(axum::body::Body::new)
    });
    let svc = hyper_util::service::TowerToHyperService::new(svc);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        // Covers a slow sender of headers and an idle keep-alive connection alike.
        .header_read_timeout(timeout)
        .keep_alive(true)
        .max_buf_size(16 * 1024);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}
