//! `credseal bench serve`: granted queries over HTTPS against `credseal serve` running in
//! this process, driven by wrk from outside it, against two references measured in the
//! same run: the floor of `bench query` (the same cryptography on the same threads, no
//! platform, no network) and the in-process pipeline of `bench query` (the same platform's
//! `submit_query`/`PendingAnswer::wait` on the same threads, no network).
//!
//! The run: a fresh platform of synthetic subjects and one department (as `bench query`),
//! unique pre-signed tokens written one JSON body a line, a self-signed certificate for
//! 127.0.0.1; the floor; the in-process pipeline; the server started on 127.0.0.1:0; wrk
//! closed-loop (every connection sends its next query when its answer is in) for the peak;
//! wrk open-loop at a fraction of that peak for latency under load, coordinated omission
//! corrected; the server drained; the in-process pipeline and the floor again. Every query
//! must be answered 200, and the log must have grown by exactly the number of 200 answers
//! (and of in-process answers).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use credseal_engine::Progress;
use serde::{Deserialize, Serialize};

use crate::common::now;
use crate::error::{BenchError, Result};
use crate::query::{QueryFixture, QueryFloor, run_pipeline};

/// The script that installs wrk, named in the error when wrk is missing.
const INSTALL_SCRIPT: &str = ".ci/install-load-tool";

/// The wrk scripts (benches/serve/), written into the work directory for each run.
const SCRIPTS: [(&str, &str); 3] = [
    ("common.lua", include_str!("../../../benches/serve/common.lua")),
    ("closed.lua", include_str!("../../../benches/serve/closed.lua")),
    ("open.lua", include_str!("../../../benches/serve/open.lua")),
];

/// The longest token lifetime the default policy allows (seconds): the bench's tokens must
/// outlive setup, both runs and the floors.
const TOKEN_LIFETIME: u64 = 900;

/// The size of a [`bench_serve`] run.
#[derive(Clone, Copy, Debug)]
pub struct ServeSize {
    /// Synthetic subjects in the store.
    pub subjects: u64,
    /// Seconds of the closed-loop run (at most; it also ends when its bodies run out).
    pub duration: f64,
    /// Bodies of the closed-loop run: at most this many queries are sent.
    pub max_queries: u64,
    /// wrk threads of the closed-loop run.
    pub wrk_threads: u64,
    /// Connections of the closed-loop run (each with one query at a time), a multiple of
    /// `wrk_threads` (wrk gives each thread connections / threads).
    pub connections: u64,
    /// The open-loop rate as a fraction of the closed-loop peak.
    pub rate_fraction: f64,
    /// The open-loop rate in queries per second, instead of the fraction (to compare runs
    /// at the same load whatever their peaks).
    pub open_rate: Option<f64>,
    /// Seconds of the open-loop run at its rate (its bodies: rate × seconds).
    pub open_seconds: f64,
    /// wrk threads of the open-loop run. Each runs its connections on one fixed schedule:
    /// a connection that is free takes the thread's next send time (benches/serve/open.lua).
    pub open_threads: u64,
    /// Connections of the open-loop run, a multiple of `open_threads`: at most this many
    /// queries are in flight, so a server slower than the schedule makes queries wait for
    /// a connection, and that wait is counted in their latency.
    pub open_connections: u64,
    /// Queries of the floor.
    pub floor_queries: u64,
    /// Queries of each in-process run (one before the server's, one after).
    pub in_process_queries: u64,
    /// Queries each in-process thread keeps in flight (as `bench query --in-flight`).
    pub in_flight: u64,
    /// Threads of the floor and of the in-process pipeline.
    pub threads: u64,
    /// The server's tokio worker threads (the engine's work runs on its blocking pool).
    pub worker_threads: u64,
}

impl ServeSize {
    /// The full run: 10,000 subjects, 10 s closed loop with 64 connections, 10 s open loop.
    ///
    /// 64 connections, not fewer: a group commit carries the receipts of the queries in
    /// flight while it runs, and its fixed cost (the durable write) is shared by them, so
    /// the server's CPU per query falls as the connections grow; a platform serves many
    /// departments at once, and 64 is what `bench query` keeps in flight per thread.
    pub fn full() -> Self {
        Self {
            subjects: 10_000,
            duration: 10.0,
            max_queries: 60_000,
            wrk_threads: 2,
            connections: 64,
            rate_fraction: 0.8,
            open_rate: None,
            open_seconds: 10.0,
            open_threads: 2,
            open_connections: 64,
            floor_queries: 10_000,
            in_process_queries: 10_000,
            in_flight: 64,
            threads: 2,
            worker_threads: 2,
        }
    }

    /// A small run for tests and CI: the same steps, a few seconds each.
    pub fn quick() -> Self {
        Self {
            subjects: 500,
            duration: 2.0,
            max_queries: 3_000,
            wrk_threads: 2,
            connections: 16,
            rate_fraction: 0.8,
            open_rate: None,
            open_seconds: 2.0,
            open_threads: 2,
            open_connections: 8,
            floor_queries: 500,
            in_process_queries: 500,
            in_flight: 64,
            threads: 2,
            worker_threads: 2,
        }
    }
}

/// One wrk run as its script reported it (`{"credseal_wrk":…}`, benches/serve/common.lua).
#[derive(Clone, Debug, Deserialize)]
struct WrkReport {
    sent: u64,
    ok: u64,
    non200: u64,
    abandoned: u64,
    first_status: u64,
    first_code: String,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    /// Latencies the open loop matched to their query (by the answer's query id).
    #[serde(default)]
    count: Option<u64>,
}

/// Results of `bench serve`.
#[derive(Clone, Debug, Serialize)]
pub struct ServeBench {
    /// Subjects in the store.
    pub subjects: u64,
    /// Classes granted per query.
    pub classes_per_query: u64,
    /// Records released per query, on average (over the floor's queries).
    pub records_per_query: f64,
    /// wrk threads of the closed-loop run.
    pub wrk_threads: u64,
    /// Connections of the closed-loop run.
    pub connections: u64,
    /// The server's tokio worker threads.
    pub worker_threads: u64,
    /// Queries answered 200 in the closed-loop run.
    pub closed_queries: u64,
    /// Seconds of the closed-loop run (first send to last answer).
    pub closed_seconds: f64,
    /// Peak: closed-loop queries answered per second.
    pub peak_queries_per_s: f64,
    /// Median closed-loop latency (send to answer), microseconds.
    pub closed_p50_us: f64,
    /// 99th percentile closed-loop latency, microseconds.
    pub closed_p99_us: f64,
    /// Largest closed-loop latency, microseconds.
    pub closed_max_us: f64,
    /// On-CPU microseconds per closed-loop query of this process (the server: TLS, HTTP,
    /// the engine, the store's background threads); `None` where /proc does not tell.
    pub server_cpu_us_per_query: Option<f64>,
    /// On-CPU microseconds per closed-loop query of wrk (it shares the machine's cores).
    pub wrk_cpu_us_per_query: Option<f64>,
    /// The open-loop rate asked for, queries per second (rate_fraction × peak, or the rate
    /// given).
    pub open_target_per_s: f64,
    /// The open-loop rate as a fraction of the peak (asked for, or that of the rate given).
    pub rate_fraction: f64,
    /// wrk threads of the open-loop run (each with one schedule for its connections).
    pub open_threads: u64,
    /// Connections of the open-loop run.
    pub open_connections: u64,
    /// Queries answered 200 in the open-loop run.
    pub open_queries: u64,
    /// The open-loop rate achieved: answers per second, first scheduled send to last answer.
    pub open_queries_per_s: f64,
    /// Median open-loop latency from each query's scheduled send time (coordinated
    /// omission corrected), microseconds.
    pub open_p50_us: f64,
    /// 99th percentile open-loop latency, corrected, microseconds.
    pub open_p99_us: f64,
    /// Largest open-loop latency, corrected, microseconds.
    pub open_max_us: f64,
    /// On-CPU microseconds per open-loop query of this process (the server).
    pub open_server_cpu_us_per_query: Option<f64>,
    /// On-CPU microseconds per open-loop query of wrk.
    pub open_wrk_cpu_us_per_query: Option<f64>,
    /// Queries of the floor.
    pub floor_queries: u64,
    /// Threads of the floor and of the in-process pipeline.
    pub threads: u64,
    /// The floor's run before the server's, seconds.
    pub floor_seconds_before: f64,
    /// The floor's run after the server's, seconds.
    pub floor_seconds_after: f64,
    /// Floor queries per second (the mean of its two runs' times).
    pub floor_queries_per_s: f64,
    /// peak_queries_per_s / floor_queries_per_s: the server against the bare cryptography.
    pub ratio_to_floor: f64,
    /// Queries of each in-process run.
    pub in_process_queries: u64,
    /// Queries each in-process thread keeps in flight.
    pub in_flight: u64,
    /// The in-process run before the server's, seconds.
    pub in_process_seconds_before: f64,
    /// The in-process run after the server's, seconds.
    pub in_process_seconds_after: f64,
    /// In-process queries per second (the mean of its two runs' times): the same granted
    /// queries through `Platform::submit_query`/`PendingAnswer::wait` on `threads` threads,
    /// as `bench query` measures "ours", without TLS, HTTP and the network.
    pub in_process_queries_per_s: f64,
    /// peak_queries_per_s / in_process_queries_per_s: what serving over HTTPS keeps of the
    /// platform's own rate.
    pub ratio_to_in_process: f64,
    /// On-CPU microseconds per in-process query of this process (as
    /// `server_cpu_us_per_query`, the mean of both runs); `None` where /proc does not tell.
    pub in_process_cpu_us_per_query: Option<f64>,
    /// Receipts per group commit of the in-process runs, mean.
    pub in_process_commit_batch_mean: f64,
    /// Receipts the log gained over both wrk runs: equal to the 200 answers, or the run
    /// fails.
    pub log_growth: u64,
    /// Receipts per group commit over both wrk runs, mean.
    pub commit_batch_mean: f64,
    /// Group commits over both wrk runs.
    pub commits: u64,
}

/// wrk on PATH, or an error naming the script that installs it.
pub(crate) fn find_wrk() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("wrk"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BenchError::Input(format!(
                "bench serve needs wrk (the HTTP load tool) on PATH; install it with {INSTALL_SCRIPT} (Debian's wrk 4.1)"
            ))
        })
}

/// True when wrk is on PATH (tests skip the run without it, outside CI).
pub fn wrk_available() -> bool {
    find_wrk().is_ok()
}

/// Writes one query a line to `path`, its query id (hex, as the server's answer names it), a
/// tab and its JSON body (`{"credential":…,"token":…}`), and returns the `offset:count`
/// slices of `parts` threads (byte offsets, as the scripts read them).
fn write_bodies(path: &Path, cred: &str, tokens: &[String], parts: u64) -> Result<String> {
    let io = |e| BenchError::io(path, e);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    let parts = parts.max(1) as usize;
    let per = tokens.len().div_ceil(parts).max(1);
    let mut slices = Vec::with_capacity(parts);
    let mut offset = 0u64;
    for chunk in tokens.chunks(per) {
        slices.push(format!("{offset}:{}", chunk.len()));
        for tok in chunk {
            let id = credseal_auth::Unverified::<credseal_auth::Token>::parse_text(tok)
                .and_then(|t| t.peek_unverified())
                .map_err(|e| BenchError::check(format_args!("bench token: {e}")))?
                .query_id;
            let mut line = format!("{}\t", credseal_core::hex(&id)).into_bytes();
            line.extend(
                serde_json::to_vec(&serde_json::json!({ "credential": cred, "token": tok }))
                    .map_err(|e| BenchError::check(format_args!("request body: {e}")))?,
            );
            line.push(b'\n');
            f.write_all(&line).map_err(io)?;
            offset += line.len() as u64;
        }
    }
    f.flush().map_err(io)?;
    if slices.len() != parts {
        return Err(BenchError::Input(format!(
            "{} queries cannot be split over {parts} wrk threads",
            tokens.len()
        )));
    }
    Ok(slices.join(","))
}

/// CPU ticks (1/100 s, Linux's USER_HZ) of this process and of its waited-for children,
/// from /proc/self/stat; `None` where it cannot be read.
pub(crate) fn cpu_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses: state is field 3.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    Some((f[0] + f[1], f[2] + f[3]))
}

/// One wrk run of `script` against `addr`: its report line, checked (every query sent was
/// answered 200, none left in flight).
fn run_wrk(
    wrk: &Path,
    work: &Path,
    script: &str,
    args: &[String],
    env: &[(&str, String)],
    addr: SocketAddr,
) -> Result<WrkReport> {
    let mut cmd = Command::new(wrk);
    cmd.args(args)
        .arg("--timeout")
        .arg("60s")
        .arg("-s")
        .arg(work.join(script))
        .arg(format!("https://{addr}"))
        .current_dir(work);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| BenchError::Input(format!("cannot run {}: {e}", wrk.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with("{\"credseal_wrk\""));
    let Some(line) = line.filter(|_| out.status.success()) else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(BenchError::check(format_args!(
            "wrk ({script}) {}, without its report line; stderr: {}",
            out.status,
            stderr.trim().chars().take(500).collect::<String>()
        )));
    };
    let r: WrkReport =
        serde_json::from_str(line).map_err(|e| BenchError::check(format_args!("wrk ({script}) report: {e}")))?;
    if r.non200 > 0 {
        return Err(BenchError::check(format_args!(
            "{script}: {} of {} authorized queries were not answered 200 (first: {} {})",
            r.non200, r.sent, r.first_status, r.first_code
        )));
    }
    if r.abandoned > 0 || r.ok != r.sent {
        return Err(BenchError::check(format_args!(
            "{script}: wrk ended with {} of {} queries unanswered (its -d ran out)",
            r.sent - r.ok,
            r.sent
        )));
    }
    if r.ok == 0 || r.seconds <= 0.0 {
        return Err(BenchError::check(format_args!("{script}: no query was answered")));
    }
    Ok(r)
}

/// Writes a self-signed certificate and key for 127.0.0.1 into `work`.
pub(crate) fn self_signed(work: &Path) -> Result<credseal_server::TlsFiles> {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .map_err(|e| BenchError::check(format_args!("self-signed certificate: {e}")))?;
    let cert = work.join("cert.pem");
    let key = work.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).map_err(|e| BenchError::io(&cert, e))?;
    std::fs::write(&key, ck.signing_key.serialize_pem()).map_err(|e| BenchError::io(&key, e))?;
    Ok(credseal_server::TlsFiles {
        cert,
        key,
        client_ca: None,
    })
}

fn server_failed(e: credseal_server::ServerError) -> BenchError {
    BenchError::check(format_args!("the server: {e}"))
}

/// One in-process run (`bench query`'s "ours") on the fixture's platform: wall seconds and
/// this process's CPU ticks. Every query must be answered and logged once.
fn in_process(fx: &QueryFixture, tokens: &[String], size: &ServeSize) -> Result<(f64, Option<u64>)> {
    let p = &fx.b.platform;
    // Map nodes left changed by earlier work are written first, untimed: the run's closing
    // write is its own nodes', as in `bench query`.
    p.persist_map()?;
    let log_before = p.log_size()?;
    let cpu0 = cpu_ticks();
    let run = run_pipeline(p, &fx.cred, tokens, now()?, size.threads, size.in_flight as usize)?;
    let cpu1 = cpu_ticks();
    let grown = p.log_size()? - log_before;
    if grown != tokens.len() as u64 {
        return Err(BenchError::check(format_args!(
            "the log grew by {grown} receipts for {} in-process queries answered",
            tokens.len()
        )));
    }
    Ok((run.seconds, cpu0.zip(cpu1).map(|(a, b)| b.0.saturating_sub(a.0))))
}

/// Checks the size before anything is written.
fn check_size(size: &ServeSize) -> Result<()> {
    if !(size.rate_fraction > 0.0 && size.rate_fraction <= 1.0) {
        return Err(BenchError::Input("the rate fraction must be in (0, 1]".into()));
    }
    if let Some(r) = size.open_rate
        && !(r.is_finite() && r > 0.0)
    {
        return Err(BenchError::Input(
            "the open-loop rate must be a positive number of queries per second".into(),
        ));
    }
    for (what, threads, connections) in [
        ("closed", size.wrk_threads, size.connections),
        ("open", size.open_threads, size.open_connections),
    ] {
        if threads == 0 || connections < threads {
            return Err(BenchError::Input(format!(
                "the {what} loop's wrk needs at least one thread and at least as many connections as threads ({connections} connections, {threads} threads)"
            )));
        }
        if connections % threads != 0 {
            return Err(BenchError::Input(format!(
                "the {what} loop's {connections} connections are not a multiple of its {threads} wrk threads (wrk gives each thread connections / threads)"
            )));
        }
    }
    if size.in_process_queries == 0 || size.threads == 0 || size.in_flight == 0 {
        return Err(BenchError::Input(
            "the in-process runs need at least one query, one thread and one query in flight".into(),
        ));
    }
    Ok(())
}

/// Runs the serve benchmark in `work` (a fresh, empty directory): `size.subjects` synthetic
/// subjects ingested, then granted queries of one department over HTTPS (see the module).
pub fn bench_serve(catalog_text: &str, size: ServeSize, work: &Path, progress: &dyn Progress) -> Result<ServeBench> {
    check_size(&size)?;
    let wrk = find_wrk()?;
    for (name, text) in SCRIPTS {
        let p = work.join(name);
        std::fs::write(&p, text).map_err(|e| BenchError::io(&p, e))?;
    }
    let fx = QueryFixture::new(catalog_text, size.subjects, work, progress)?;
    let platform = Arc::clone(&fx.b.platform);
    // The floor's own queries: never sent, so their tokens need not be unique on the wire.
    let floor_tokens = fx.sign_tokens(0, size.floor_queries.max(1), fx.now, TOKEN_LIFETIME, progress);
    let floor = QueryFloor::new(&fx, &floor_tokens)?;
    let closed_tokens = fx.sign_tokens(
        0,
        size.max_queries.max(size.wrk_threads),
        now()?,
        TOKEN_LIFETIME,
        progress,
    );
    let closed_bodies = work.join("closed.jsonl");
    let closed_slices = write_bodies(&closed_bodies, &fx.cred, &closed_tokens, size.wrk_threads)?;
    drop(closed_tokens);
    // The in-process runs' own tokens, each query id fresh (tokens are never used twice).
    let in_before_tokens = fx.sign_tokens(0, size.in_process_queries, now()?, TOKEN_LIFETIME, progress);
    let in_after_tokens = fx.sign_tokens(0, size.in_process_queries, now()?, TOKEN_LIFETIME, progress);
    let tls = self_signed(work)?;
    let cfg = credseal_server::ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: Some(tls),
        // Every connection's query waits for its group commit: room for all of them, so
        // the bench measures the server, not its 503s.
        max_inflight: (size.connections.max(size.open_connections) as usize * 2).max(512),
        dept_rate: 1e6,
        dept_burst: 1e7,
        timeout: Duration::from_secs(60),
        log_requests: false,
        worker_threads: size.worker_threads.max(1) as usize,
        ..credseal_server::ServeConfig::default()
    };
    let (floor_before, _) = floor.run(size.threads);
    progress.stage("in-process pipeline", 1);
    let in_stats0 = platform.commit_stats();
    let (in_before, in_cpu_before) = in_process(&fx, &in_before_tokens, &size)?;
    let in_stats1 = platform.commit_stats();
    progress.finish();
    let log_before = platform.log_size()?;
    let stats_before = platform.commit_stats();
    let running = credseal_server::Server::start(Arc::clone(&platform), cfg).map_err(server_failed)?;
    let addr = running.local_addr();

    // Closed loop: the peak.
    progress.stage("closed loop (wrk)", 1);
    let cpu0 = cpu_ticks();
    let closed = run_wrk(
        &wrk,
        work,
        "closed.lua",
        &[
            "-t".into(),
            size.wrk_threads.to_string(),
            "-c".into(),
            size.connections.to_string(),
            "-d".into(),
            format!("{}s", (size.duration + 3.0).ceil() as u64),
        ],
        &[
            ("CREDSEAL_WRK_BODIES", closed_bodies.display().to_string()),
            ("CREDSEAL_WRK_SLICES", closed_slices),
            ("CREDSEAL_WRK_SECONDS", format!("{}", size.duration)),
        ],
        addr,
    );
    let cpu1 = cpu_ticks();
    progress.finish();
    let closed = match closed {
        Ok(c) => c,
        Err(e) => {
            let _ = running.shutdown();
            return Err(e);
        }
    };
    let peak = closed.ok as f64 / closed.seconds;
    let cpu_per_query = |ticks: u64| ticks as f64 * 1e4 / closed.ok as f64;
    let server_cpu = cpu0.zip(cpu1).map(|(a, b)| cpu_per_query(b.0.saturating_sub(a.0)));
    let wrk_cpu = cpu0.zip(cpu1).map(|(a, b)| cpu_per_query(b.1.saturating_sub(a.1)));

    // Open loop at a fraction of the peak: latency under load. Each wrk thread sends on
    // one schedule, whichever of its connections is free taking the next send time.
    let rate = size.open_rate.unwrap_or(peak * size.rate_fraction);
    let open_count = ((rate * size.open_seconds).ceil() as u64).max(size.open_connections);
    let open_tokens = fx.sign_tokens(size.max_queries, open_count, now()?, TOKEN_LIFETIME, progress);
    let open_bodies = work.join("open.jsonl");
    let open_slices = write_bodies(&open_bodies, &fx.cred, &open_tokens, size.open_threads)?;
    drop(open_tokens);
    progress.stage("open loop (wrk)", 1);
    let expected = open_count as f64 / rate;
    let cpu2 = cpu_ticks();
    let open = run_wrk(
        &wrk,
        work,
        "open.lua",
        &[
            "-t".into(),
            size.open_threads.to_string(),
            "-c".into(),
            size.open_connections.to_string(),
            "-d".into(),
            format!("{}s", (expected * 1.5 + 3.0).ceil() as u64),
        ],
        &[
            ("CREDSEAL_WRK_BODIES", open_bodies.display().to_string()),
            ("CREDSEAL_WRK_SLICES", open_slices),
            ("CREDSEAL_WRK_RATE", format!("{rate}")),
        ],
        addr,
    )
    .and_then(|r| match r.count {
        Some(c) if c == r.ok => Ok(r),
        c => Err(BenchError::check(format_args!(
            "open.lua: {} latencies matched to their queries for {} answers 200",
            c.unwrap_or(0),
            r.ok
        ))),
    });
    let cpu3 = cpu_ticks();
    progress.finish();
    let stopped = running.shutdown().map_err(server_failed);
    let open = open?;
    stopped?;
    let open_cpu = |ticks: u64| ticks as f64 * 1e4 / open.ok as f64;
    let open_server_cpu = cpu2.zip(cpu3).map(|(a, b)| open_cpu(b.0.saturating_sub(a.0)));
    let open_wrk_cpu = cpu2.zip(cpu3).map(|(a, b)| open_cpu(b.1.saturating_sub(a.1)));

    // Every 200 is one durable receipt, and nothing else was logged.
    let log_growth = platform.log_size()? - log_before;
    let answered = closed.ok + open.ok;
    if log_growth != answered {
        return Err(BenchError::check(format_args!(
            "the log grew by {log_growth} receipts for {answered} queries answered 200"
        )));
    }
    let stats = platform.commit_stats();
    let commits = stats.commits - stats_before.commits;
    let receipts = stats.receipts - stats_before.receipts;

    progress.stage("in-process pipeline", 1);
    let in_stats2 = platform.commit_stats();
    let (in_after, in_cpu_after) = in_process(&fx, &in_after_tokens, &size)?;
    let in_stats3 = platform.commit_stats();
    progress.finish();
    let (floor_after, _) = floor.run(size.threads);

    let floor_qps = floor.queries() as f64 * 2.0 / (floor_before + floor_after);
    let in_qps = size.in_process_queries as f64 * 2.0 / (in_before + in_after);
    let in_commits = (in_stats1.commits - in_stats0.commits) + (in_stats3.commits - in_stats2.commits);
    let in_receipts = (in_stats1.receipts - in_stats0.receipts) + (in_stats3.receipts - in_stats2.receipts);
    let in_cpu = in_cpu_before
        .zip(in_cpu_after)
        .map(|(a, b)| (a + b) as f64 * 1e4 / (2 * size.in_process_queries) as f64);
    Ok(ServeBench {
        subjects: size.subjects,
        classes_per_query: fx.classes.len() as u64,
        records_per_query: floor.records as f64 / floor.queries() as f64,
        wrk_threads: size.wrk_threads,
        connections: size.connections,
        worker_threads: size.worker_threads,
        closed_queries: closed.ok,
        closed_seconds: closed.seconds,
        peak_queries_per_s: peak,
        closed_p50_us: closed.p50_us,
        closed_p99_us: closed.p99_us,
        closed_max_us: closed.max_us,
        server_cpu_us_per_query: server_cpu,
        wrk_cpu_us_per_query: wrk_cpu,
        open_target_per_s: rate,
        rate_fraction: rate / peak,
        open_threads: size.open_threads,
        open_connections: size.open_connections,
        open_queries: open.ok,
        open_queries_per_s: open.ok as f64 / open.seconds,
        open_p50_us: open.p50_us,
        open_p99_us: open.p99_us,
        open_max_us: open.max_us,
        open_server_cpu_us_per_query: open_server_cpu,
        open_wrk_cpu_us_per_query: open_wrk_cpu,
        floor_queries: floor.queries() as u64,
        threads: size.threads,
        floor_seconds_before: floor_before,
        floor_seconds_after: floor_after,
        floor_queries_per_s: floor_qps,
        ratio_to_floor: peak / floor_qps,
        in_process_queries: size.in_process_queries,
        in_flight: size.in_flight,
        in_process_seconds_before: in_before,
        in_process_seconds_after: in_after,
        in_process_queries_per_s: in_qps,
        ratio_to_in_process: peak / in_qps,
        in_process_cpu_us_per_query: in_cpu,
        in_process_commit_batch_mean: in_receipts as f64 / in_commits.max(1) as f64,
        log_growth,
        commit_batch_mean: receipts as f64 / commits.max(1) as f64,
        commits,
    })
}
