//! `credseal serve`: opens the platform once and serves API v1 over HTTPS until SIGTERM or
//! SIGINT, then drains (in-flight queries finish and their receipts are committed) and closes
//! the store.

use std::sync::Arc;
use std::time::Duration;

use credseal_engine::ErrorClass;
use credseal_server::{ServeConfig, Server, ServerError, TlsFiles};

use crate::cli::ServeArgs;
use crate::context::Context;
use crate::{CliResult, Failure};

fn server_failure(e: ServerError) -> Failure {
    let class = match e {
        ServerError::Config(_) => ErrorClass::Usage,
        _ => ErrorClass::Error,
    };
    Failure::new(class, e.to_string())
}

/// The system clock moved ahead by a fixed number of seconds (`--clock-offset`, test builds).
#[derive(Debug)]
struct OffsetClock(u64);

impl credseal_engine::Clock for OffsetClock {
    fn now(&self) -> credseal_engine::Result<u64> {
        credseal_engine::Clock::now(&credseal_engine::SystemClock).map(|t| t.saturating_add(self.0))
    }
}

/// `credseal serve`.
pub(crate) fn run(ctx: &Context, a: ServeArgs) -> CliResult {
    if a.timeout == 0 {
        return Err(Failure::new(ErrorClass::Usage, "--timeout: must be at least 1 second"));
    }
    let tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert,
            key,
            client_ca: a.client_ca,
        }),
        _ => None,
    };
    let cfg = ServeConfig {
        listen: a.listen,
        tls,
        insecure_loopback: a.insecure_loopback,
        max_inflight: a.max_inflight,
        dept_rate: a.dept_rate,
        dept_burst: a.dept_burst,
        max_body: a.max_body,
        max_ingest_body: a.max_ingest_body,
        timeout: Duration::from_secs(a.timeout),
        log_requests: !a.quiet,
        witness_interval: Duration::from_secs(a.witness_interval),
        witness_ca: a.witness_ca.as_deref().map(crate::files::read_text).transpose()?,
        objection_review_interval: Duration::from_secs(a.objection_review),
        ..ServeConfig::default()
    };
    if a.clock_offset.is_some() && !cfg!(debug_assertions) {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--clock-offset is only available in test builds",
        ));
    }
    // Check what can be checked without the passphrase first (plain HTTP off loopback,
    // zero limits, unreadable TLS files), so a typo does not cost an unlock.
    credseal_server::check_config(&cfg).map_err(server_failure)?;
    let mut platform = ctx.open_platform(&a.data.data)?;
    if let Some(secs) = a.clock_offset {
        platform = platform.with_clock(Arc::new(OffsetClock(secs)));
    }
    if let Some(policy) = platform.retention_policy()? {
        eprintln!(
            "credseal: {} is installed: the retention sweep runs every {} at the platform's clock",
            policy.describe(),
            credseal_engine::interval_text(policy.every_secs)
        );
    }
    // Alerts (a query touching a canary subject, an objection found overdue) on stderr.
    platform.set_alert_sink(Arc::new(super::print_alert));
    let platform = Arc::new(platform);
    // `credseal backup --data` reaches the running platform through its data directory.
    let backups = credseal_engine::BackupService::start(Arc::clone(&platform))?;
    let running = Server::start(Arc::clone(&platform), cfg.clone()).map_err(server_failure)?;
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    eprintln!("credseal: serving {scheme}://{}", running.local_addr());
    if a.json {
        crate::render::print_json(
            "serving",
            &serde_json::json!({
                "service": "platform",
                "name": platform.origin(),
                "url": format!("{scheme}://{}", running.local_addr()),
            }),
        );
    }
    running.run_until_signal().map_err(server_failure)?;
    drop(backups);
    match Arc::try_unwrap(platform) {
        Ok(p) => drop(p),
        Err(_) => {
            return Err(Failure::new(
                ErrorClass::Error,
                "the service stopped with requests still holding the platform; the store closes at exit",
            ));
        }
    }
    eprintln!("credseal: stopped; every answer sent has its receipt committed");
    Ok(())
}
