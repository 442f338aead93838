//! What every request handler shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

use credseal_engine::Platform;
use tokio::sync::Semaphore;

use crate::ServeConfig;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::pickup::Pickup;

/// The service's shared state: the engine, the limits and the counters.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) platform: Arc<Platform>,
    /// The query threads' queue (department queries).
    pub(crate) queries: crate::engine::EngineQueue,
    pub(crate) cfg: ServeConfig,
    pub(crate) metrics: Metrics,
    pub(crate) pickup: Arc<Pickup>,
    pub(crate) rates: RateLimiter,
    /// Requests being handled: a permit each; none left → 503.
    pub(crate) inflight: Arc<Semaphore>,
    /// Set when a drain starts: `/readyz` says 503 and new requests are refused.
    pub(crate) draining: AtomicBool,
    /// Engine calls still running whose request may be gone (the drain waits for them).
    pub(crate) engine_tasks: AtomicUsize,
    /// Requests whose body is still arriving (a gauge for `/metrics`).
    pub(crate) receiving: AtomicUsize,
    /// Whether department routes require a verified client certificate.
    pub(crate) require_client_cert: bool,
    /// Carries checkpoints to the platform's witnesses.
    pub(crate) witnesses: Arc<crate::HttpsWitnesses>,
    /// Full tiles served before (they never change).
    pub(crate) tiles: crate::tilecache::TileCache,
    /// The department each recently seen credential text names.
    pub(crate) claims: ClaimCache,
}

/// Credential texts the cache holds before it is emptied and refilled.
const CLAIM_CACHE_MAX: usize = 1024;

/// The department a credential's text names, unverified (only for the rate bucket and the
/// request log; the engine verifies the credential), by the SHA-256 of the text. Parsing a
/// credential (base64, postcard, the canonical check) cost about 10 µs per query, and a
/// department sends the same credential with every query. Texts that do not parse are not
/// kept.
#[derive(Debug, Default)]
pub(crate) struct ClaimCache(Mutex<HashMap<[u8; 32], String>>);

impl ClaimCache {
    /// The department named by `text`, whose SHA-256 is `digest`; `None` if it does not parse.
    pub(crate) fn department(&self, digest: &[u8; 32], text: &str) -> Option<String> {
        let lock = || self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = lock().get(digest) {
            return Some(d.clone());
        }
        let d = credseal_auth::Unverified::<credseal_auth::Credential>::parse_text(text)
            .and_then(|c| c.peek_unverified())
            .ok()?
            .department_id;
        let mut m = lock();
        if m.len() >= CLAIM_CACHE_MAX {
            m.clear();
        }
        m.insert(*digest, d.clone());
        Some(d)
    }
}

/// What the connection knows about its peer, put on every request (the shared accept loop's).
pub(crate) use credseal_service::ConnInfo;

/// The department a request acted for, once its credential verified: the request log's
/// `department` field.
#[derive(Clone, Debug)]
pub(crate) struct DeptTag(pub(crate) String);
