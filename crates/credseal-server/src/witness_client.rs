//! The HTTPS client that carries the platform's checkpoints to its witnesses (C2SP
//! `tlog-witness` `add-checkpoint`), for `credseal serve` and the CLI alike. The protocol's
//! logic (what to send, what a reply means) is the engine's ([`credseal_engine::WitnessTransport`]).

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use credseal_engine::{WitnessReply, WitnessTransport};

/// Time allowed to connect to a witness.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time allowed for a whole `add-checkpoint` exchange (a witness answers from memory and one
/// fsync; a subject's bundle waits for it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A witness's reply is read up to this many bytes (cosignature lines are ~130 bytes each).
const MAX_REPLY: u64 = 64 * 1024;

/// `add-checkpoint` over HTTPS (TLS 1.2/1.3 through rustls with ring, the system's roots or
/// the given ones; plain HTTP only where the engine allowed the URL: loopback).
pub struct HttpsWitnesses {
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpsWitnesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsWitnesses").finish_non_exhaustive()
    }
}

impl HttpsWitnesses {
    /// A client trusting the platform's certificate roots, or exactly the PEM certificates
    /// in `ca`.
    pub fn new(ca: Option<&str>) -> Result<Self, String> {
        let roots = match ca {
            None => ureq::tls::RootCerts::PlatformVerifier,
            Some(pem) => {
                let mut certs = Vec::new();
                for item in ureq::tls::parse_pem(pem.as_bytes()) {
                    match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                        Ok(_) => {}
                        Err(e) => return Err(format!("not PEM: {e}")),
                    }
                }
                if certs.is_empty() {
                    return Err("holds no certificate".into());
                }
                ureq::tls::RootCerts::Specific(Arc::new(certs))
            }
        };
        // rustls deprecates its ring provider because ring has no post-quantum key exchange;
        // ring is this project's primitive library (as in the server's TLS).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(roots)
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
        Ok(Self { agent })
    }
}

impl WitnessTransport for HttpsWitnesses {
    fn add_checkpoint(&self, url: &str, body: &str) -> Result<WitnessReply, String> {
        let target = format!("{}/add-checkpoint", url.trim_end_matches('/'));
        let mut resp = self
            .agent
            .post(&target)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(body)
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        resp.body_mut()
            .as_reader()
            .take(MAX_REPLY)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the reply: {e}"))?;
        Ok(WitnessReply {
            status,
            content_type,
            body: String::from_utf8(bytes).unwrap_or_default(),
        })
    }
}
