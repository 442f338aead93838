//! TLS 1.3 only, ring as the provider; optional client certificates for departments
//! ([`credseal_service::server_config`]).

use std::sync::Arc;

use crate::{ServerError, TlsFiles};

/// The rustls configuration for `files`: TLS 1.3, ALPN `http/1.1`; with a client CA,
/// client certificates are verified when offered (the department routes require one).
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    credseal_service::server_config(&files.cert, &files.key, files.client_ca.as_deref()).map_err(|e| match e {
        credseal_service::TlsError::File { path, detail } => ServerError::Tls { path, detail },
        credseal_service::TlsError::Config(m) => ServerError::Config(m),
    })
}
