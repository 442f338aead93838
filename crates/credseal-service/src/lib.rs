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

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, e.to_string()))?;
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
    let key_bytes = std::fs::read(key).map_err(|e| file_err(key, e.to_string()))?;
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
