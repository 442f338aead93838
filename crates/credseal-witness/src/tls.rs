//! TLS 1.3 only, ring as the provider (as `credseal serve`, [`credseal_service::server_config`]),
//! no client certificates: the witness protocol authenticates requests by the log's
//! signature on the checkpoint.

use std::sync::Arc;

use crate::{TlsFiles, WitnessError};

/// The rustls configuration for `files`: TLS 1.3, ALPN `http/1.1`.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, WitnessError> {
    credseal_service::server_config(&files.cert, &files.key, None).map_err(|e| match e {
        credseal_service::TlsError::File { path, detail } => WitnessError::Tls { path, detail },
        credseal_service::TlsError::Config(m) => WitnessError::Config(m),
    })
}
