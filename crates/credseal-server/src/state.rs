//! What every request handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

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
}

/// What the connection knows about its peer, put on every request (the shared accept loop's).
pub(crate) use credseal_service::ConnInfo;

/// The department a request acted for, once its credential verified: the request log's
/// `department` field.
#[derive(Clone, Debug)]
pub(crate) struct DeptTag(pub(crate) String);
