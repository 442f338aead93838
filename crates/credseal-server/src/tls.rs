//! TLS 1.3 only, ring as the provider; optional client certificates for departments.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{ServerError, TlsFiles};

fn err(path: &Path, detail: impl Into<String>) -> ServerError {
    ServerError::Tls {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(path, format!("not a PEM {what}: {e}")))?;
    if certs.is_empty() {
        return Err(err(path, format!("no PEM CERTIFICATE block: not a {what}")));
    }
    Ok(certs)
}

/// The rustls configuration for `files`: TLS 1.3, ALPN `http/1.1`; with a client CA,
/// client certificates are verified when offered (the department routes require one).
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let chain = certs(&files.cert, "certificate chain")?;
    let key_bytes = std::fs::read(&files.key).map_err(|e| err(&files.key, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|_| err(&files.key, "no PEM private key (PKCS#8, SEC1 or PKCS#1) in the file"))?;
    // rustls 0.23.48 deprecates the ring provider because ring has no post-quantum key
    // exchange; ring is this project's chosen primitive library and X25519 is what the
    // rest of credseal relies on. Revisit when ring ships ML-KEM.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| ServerError::Config(format!("TLS: {e}")))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca, "CA certificate")? {
                roots
                    .add(c)
                    .map_err(|e| err(ca, format!("not a usable CA certificate: {e}")))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| err(ca, format!("client verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| err(&files.key, format!("the key does not fit the certificate: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
