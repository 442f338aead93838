//! The listener: a runtime of its own, TLS handshakes under a timeout, HTTP/1.1 connections
//! with header and idle timeouts, a cap on open connections, and the drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use credseal_engine::Platform;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::pickup::Pickup;
use crate::state::AppState;
use crate::{ServeConfig, ServerError};

/// A running service ([`credseal_service::Running`]): drains on `shutdown`, on SIGTERM or
/// SIGINT (`run_until_signal`) or when dropped — requests in flight finish and their
/// receipts are committed before their answers go out.
pub type Running = credseal_service::Running<ServerError>;

/// The largest `--max-inflight`.
const MAX_INFLIGHT: usize = 1 << 16;

fn is_loopback(a: &SocketAddr) -> bool {
    a.ip().is_loopback()
}

/// Checks `cfg` without binding or serving: plain HTTP only on loopback, positive limits,
/// readable and usable TLS files. Returns the TLS acceptor (None for plain HTTP).
pub(crate) fn check(cfg: &ServeConfig) -> Result<Option<tokio_rustls::TlsAcceptor>, ServerError> {
    let tls = match (&cfg.tls, cfg.insecure_loopback) {
        (Some(_), true) => {
            return Err(ServerError::Config(
                "give either TLS files or --insecure-loopback, not both".into(),
            ));
        }
        (Some(files), false) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(files)?)),
        (None, true) if is_loopback(&cfg.listen) => None,
        (None, true) => {
            return Err(ServerError::Config(format!(
                "--insecure-loopback serves plain HTTP and is only allowed on a loopback address, not {}",
                cfg.listen
            )));
        }
        (None, false) => {
            return Err(ServerError::Config(
                "TLS is required: give --tls-cert and --tls-key (or --insecure-loopback for tests on 127.0.0.1)".into(),
            ));
        }
    };
    if cfg.max_inflight == 0 || cfg.max_connections == 0 || cfg.max_body == 0 || cfg.timeout.is_zero() {
        return Err(ServerError::Config(
            "limits must be positive (max in-flight, connections, body size, timeout)".into(),
        ));
    }
    if !(cfg.dept_rate > 0.0 && cfg.dept_burst >= 1.0 && cfg.dept_rate.is_finite() && cfg.dept_burst.is_finite()) {
        return Err(ServerError::Config(
            "the department rate must be a positive number and the burst at least 1".into(),
        ));
    }
    // Upper bounds: a typo must not turn a limit off or reserve memory for it.
    let over = |what: &str, max: &str| ServerError::Config(format!("{what} is at most {max}"));
    if cfg.max_inflight > MAX_INFLIGHT {
        return Err(over("--max-inflight", "65536"));
    }
    if cfg.max_connections > 1 << 20 {
        return Err(over("the connection cap", "1048576"));
    }
    if cfg.dept_rate > 1e6 || cfg.dept_burst > 1e7 {
        return Err(over("--dept-rate / --dept-burst", "1000000 / 10000000"));
    }
    if cfg.timeout > Duration::from_secs(3600) {
        return Err(over("--timeout", "3600 seconds"));
    }
    if cfg.max_body > 16 << 20 || cfg.max_ingest_body > 1 << 30 {
        return Err(over("--max-body / --max-ingest-body", "16 MiB / 1 GiB"));
    }
    Ok(tls)
}

pub(crate) fn start(platform: Arc<Platform>, cfg: ServeConfig) -> Result<Running, ServerError> {
    let tls = check(&cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.worker_threads.max(1))
        // Each query waits on its blocking thread until its group commit is durable: the
        // pool must hold every request in flight.
        .max_blocking_threads(cfg.max_inflight + 16)
        .thread_name("credseal-serve")
        .enable_all()
        .build()
        .map_err(|e| ServerError::Runtime(e.to_string()))?;
    let std_listener = std::net::TcpListener::bind(cfg.listen).map_err(|e| ServerError::Bind {
        addr: cfg.listen,
        detail: e.to_string(),
    })?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| ServerError::Runtime(e.to_string()))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| ServerError::Runtime(e.to_string()))?;
    let (queries, pool) =
        crate::engine::EnginePool::start(&platform, cfg.query_threads, cfg.queries_per_thread, cfg.max_inflight)
            .map_err(|e| ServerError::Runtime(format!("query threads: {e}")))?;
    let witnesses = crate::HttpsWitnesses::new(cfg.witness_ca.as_deref())
        .map_err(|e| ServerError::Config(format!("--witness-ca: {e}")))?;
    let state = Arc::new(AppState {
        witnesses: Arc::new(witnesses),
        tiles: Default::default(),
        platform,
        queries,
        metrics: Metrics::default(),
        pickup: Arc::new(Pickup::new(cfg.pickup_capacity)),
        rates: RateLimiter::new(cfg.dept_rate, cfg.dept_burst),
        inflight: Arc::new(Semaphore::new(cfg.max_inflight)),
        draining: AtomicBool::new(false),
        engine_tasks: AtomicUsize::new(0),
        receiving: AtomicUsize::new(0),
        require_client_cert: cfg.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        claims: Default::default(),
        cfg,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("credseal-serve-main".into())
        .spawn(move || {
            let r = rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).map_err(|e| ServerError::Runtime(e.to_string()))?;
                serve(listener, tls, state, stop_rx).await;
                Ok(())
            });
            // The runtime (and with it the service's state and the query queue's sender)
            // goes first; the query threads then answer what they hold and stop.
            drop(rt);
            pool.join();
            r
        })
        .map_err(|e| ServerError::Runtime(e.to_string()))?;
    Ok(Running::new(addr, stop_tx, thread, ServerError::Runtime))
}

async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    stop: watch::Receiver<bool>,
) {
    let router = crate::routes::router(state.clone());
    let limits = credseal_service::ConnLimits {
        max_connections: state.cfg.max_connections,
        timeout: state.cfg.timeout,
        drain_timeout: state.cfg.drain_timeout,
    };
    spawn_cosigner(&state, stop.clone());
    spawn_objection_reviewer(&state, stop.clone());
    spawn_retention_sweeper(&state, stop.clone());
    // The drain's deadline counts from its start (when the loop stops accepting).
    let drain_started = std::cell::Cell::new(None);
    credseal_service::accept_loop(listener, tls, router, limits, stop, || {
        state.draining.store(true, Ordering::SeqCst);
        drain_started.set(Some(tokio::time::Instant::now()));
    })
    .await;
    let deadline = drain_started.get().unwrap_or_else(tokio::time::Instant::now) + state.cfg.drain_timeout;
    // Requests whose connection went away may still be waiting for their commit on the
    // blocking pool: wait for every permit to come back, within the same deadline.
    let max = state.cfg.max_inflight as u32;
    let _ = tokio::time::timeout_at(deadline, state.inflight.acquire_many(max)).await;
    // And queries whose client went away before the answer: they still finish and are held.
    while state.engine_tasks.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every `objection_review_interval`, the objections are reviewed at the platform's time
/// (`Platform::review_objections`): each open one past its deadline gets its `overdue`
/// receipt in the subject's chain and raises an alert (the platform's alert sink), once.
/// Stops with the service. A failed review is logged (no subject or record id: the engine's
/// errors carry none) and tried again at the next round.
fn spawn_objection_reviewer(state: &Arc<AppState>, mut stop: watch::Receiver<bool>) {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(state.cfg.objection_review_interval) => {}
                _ = stop.changed() => break,
            }
            if state.draining.load(Ordering::SeqCst) {
                break;
            }
            let platform = state.platform.clone();
            let r = tokio::task::spawn_blocking(move || {
                let (now, list) = platform.review_objections_now()?;
                Ok::<usize, credseal_engine::EngineError>(list.iter().filter(|o| o.overdue(now)).count())
            })
            .await;
            let error = match r {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            eprintln!("{}", serde_json::json!({ "event": "objection-review", "error": error }));
        }
    });
}

/// Under a standing retention policy (`credseal keys retention-policy`), the retention sweep
/// runs every interval at the platform's clock (`Platform::scheduled_sweep`): looked at when
/// the service starts, then again when the next run is due, at most
/// `retention_check_interval` later. Each run is receipted by the engine (even one that
/// shreds nothing) and logged as one JSON line: counts and the receipt's index, never a
/// subject. A failed run is logged and tried again at the next look (a half-done shred is
/// finished first). Without a policy nothing runs; stops with the service.
fn spawn_retention_sweeper(state: &Arc<AppState>, mut stop: watch::Receiver<bool>) {
    use credseal_engine::ScheduledSweep;
    let state = state.clone();
    tokio::spawn(async move {
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => break,
            }
            if state.draining.load(Ordering::SeqCst) {
                break;
            }
            let most = state.cfg.retention_check_interval;
            wait = most;
            let platform = state.platform.clone();
            let line = match tokio::task::spawn_blocking(move || platform.scheduled_sweep()).await {
                Ok(Ok(ScheduledSweep::NoPolicy)) => continue,
                Ok(Ok(ScheduledSweep::NotDue { wait_secs, .. })) => {
                    wait = most.min(Duration::from_secs(wait_secs.max(1)));
                    continue;
                }
                Ok(Ok(ScheduledSweep::Ran(run))) => serde_json::json!({
                    "event": "retention-sweep",
                    "today": run.today,
                    "records": run.summary.records,
                    "subjects": run.summary.subjects,
                    "receipt": run.receipt,
                    "policy": run.policy.operation().text(),
                }),
                Ok(Err(e)) => serde_json::json!({ "event": "retention-sweep", "error": e.to_string() }),
                Err(e) => serde_json::json!({ "event": "retention-sweep", "error": e.to_string() }),
            };
            eprintln!("{line}");
        }
    });
}

/// With witnesses configured: every `witness_interval`, the latest checkpoint goes to the
/// witnesses that have not cosigned it (the engine keeps what comes back and publishes the
/// latest cosigned checkpoint). Stops with the service. A witness that refuses or cannot be
/// reached is logged once per change of what it said, never with more than its reason.
fn spawn_cosigner(state: &Arc<AppState>, mut stop: watch::Receiver<bool>) {
    match state.platform.witnesses() {
        Ok(w) if !w.is_empty() => {}
        _ => return,
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut last: Vec<String> = Vec::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(state.cfg.witness_interval) => {}
                _ = stop.changed() => break,
            }
            if state.draining.load(Ordering::SeqCst) {
                break;
            }
            let (platform, transport) = (state.platform.clone(), state.witnesses.clone());
            let r = tokio::task::spawn_blocking(move || platform.cosign_latest(&*transport)).await;
            // (What was said, for the log; and the same without the tree size, to log a
            // witness's complaint once per change rather than every round.)
            let said: Vec<(String, String)> = match r {
                Ok(Ok(Some(report))) => {
                    state.metrics.cosigned(report.size, report.cosignatures);
                    report
                        .outcomes
                        .iter()
                        .filter(|o| {
                            !matches!(
                                o.result,
                                credseal_engine::WitnessResult::Cosigned
                                    | credseal_engine::WitnessResult::AlreadyCosigned
                            )
                        })
                        .map(|o| {
                            let line = serde_json::json!({ "event": "witness", "size": report.size, "outcome": o });
                            (line.to_string(), format!("{}:{:?}", o.witness, o.result))
                        })
                        .collect()
                }
                Ok(Ok(None)) => Vec::new(),
                Ok(Err(e)) => {
                    let line = serde_json::json!({ "event": "witness", "error": e.to_string() }).to_string();
                    vec![(line.clone(), line)]
                }
                Err(e) => {
                    let line = serde_json::json!({ "event": "witness", "error": e.to_string() }).to_string();
                    vec![(line.clone(), line)]
                }
            };
            let key: Vec<String> = said.iter().map(|(_, k)| k.clone()).collect();
            if key != last {
                for (l, _) in &said {
                    eprintln!("{l}");
                }
                last = key;
            }
        }
    });
}
