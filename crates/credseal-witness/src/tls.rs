//! TLS 1.3 only, ring as the provider (as `credseal serve`), no client certificates: the
//! witness protocol authenticates requests by the log's signature on the checkpoint.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{TlsFiles, WitnessError};

fn err(path: &Path, detail: impl Into<String>) -> WitnessError {
    WitnessError::Tls {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

/// The rustls configuration for `files`: TLS 1.3, ALPN `http/1.1`.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, WitnessError> {
    let bytes = std::fs::read(&files.cert).map_err(|e| err(&files.cert, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(&files.cert, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(err(&files.cert, "no PEM CERTIFICATE block: not a certificate chain"));
    }
    let key_bytes = std::fs::read(&files.key).map_err(|e| err(&files.key, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|_| err(&files.key, "no PEM private key (PKCS#8, SEC1 or PKCS#1) in the file"))?;
    // The ring provider is deprecated in rustls 0.23.48 for its lack of post-quantum key
    // exchange; ring is this project's primitive library (see credseal-server's tls.rs).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| WitnessError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| err(&files.key, format!("the key does not fit the certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
