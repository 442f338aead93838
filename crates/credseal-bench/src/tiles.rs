//! `credseal bench tiles`: the log in public (C2SP tlog-tiles), two figures, each against a
//! floor measured in the same run.
//!
//! - **The auditor**: `log verify --tiles DIR` on a log of N receipts — the same library
//!   function the CLI calls ([`credseal_engine::audit_tiles`]) over a directory written by
//!   [`credseal_engine::Platform::export_tiles`], with nothing but the log's verifier key.
//!   Its floor is the cost of the checks that dominate it, measured in this process on the
//!   same entries: one Ed25519 `verify_strict` per receipt signature (over the bytes the
//!   receipt signature covers, with the log's key) and the SHA-256 of the tree (every leaf
//!   hash and every interior node, RFC 6962), nothing else.
//! - **The server**: full hash tiles and entry bundles served per second by `credseal serve`
//!   (started in this process on 127.0.0.1, HTTPS, as `bench serve` does) to wrk on the same
//!   machine, closed loop; its floor is the same server's `/healthz` rate with the same wrk
//!   settings (TLS, HTTP and the router with no work behind them), before and after.
//!
//! The log is real: receipts signed by the platform's own append path
//! ([`credseal_engine::Platform::append_receipts`], group commits of `batch` receipts, each
//! durable with its checkpoint), shaped as a granted query's receipt about one of `subjects`
//! synthetic subjects (blinded by the platform), so the subject map has as many leaves and
//! every receipt extends its subject's chain. Building it is timed but is not a figure.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use credseal_c2sp::{
    MemoryLog, TILE_WIDTH, Tile, TileKind, entry_bundles_for_size, parse_entry_bundle, tiles_for_size,
};
use credseal_engine::{DirSource, NewReceipt, Progress, audit_tiles};
use credseal_log::{Action, Actor, Outcome, SIGNATURE_LEN, receipt_leaf_hash, receipt_signed_bytes};
use serde::{Deserialize, Serialize};

use crate::common::{BenchPlatform, bench_passphrase, now, parse_catalog};
use crate::error::{BenchError, Result};
use crate::query::thread_cpu_ns;
use crate::serve::{cpu_ticks, find_wrk, self_signed};

/// The wrk script (benches/tiles/get.lua), written into the work directory for each run.
const SCRIPT: (&str, &str) = ("get.lua", include_str!("../../../benches/tiles/get.lua"));

/// The department named in the bench's receipts.
const DEPARTMENT: &str = "bench-dept";

/// The size of a [`bench_tiles`] run.
#[derive(Clone, Copy, Debug)]
pub struct TilesSize {
    /// Receipts in the log (the log's size: the platform's own receipts of its set-up
    /// included).
    pub receipts: u64,
    /// Synthetic subjects the receipts are about (each receipt about one, in turn).
    pub subjects: u64,
    /// Receipts per group commit while the log is built.
    pub batch: u64,
    /// Seconds of each wrk run (the tiles run and the two `/healthz` runs).
    pub duration: u64,
    /// wrk threads.
    pub wrk_threads: u64,
    /// wrk connections, a multiple of `wrk_threads`.
    pub connections: u64,
    /// The server's tokio worker threads (the tiles are read on its blocking pool).
    pub worker_threads: u64,
}

impl TilesSize {
    /// The figure: a log of 1,000,000 receipts about 100,000 subjects, 10 s wrk runs.
    pub fn full() -> Self {
        Self {
            receipts: 1_000_000,
            subjects: 100_000,
            batch: 20_000,
            duration: 10,
            wrk_threads: 2,
            connections: 16,
            worker_threads: 2,
        }
    }

    /// A small run for tests and CI: 10,000 receipts about 1,000 subjects, 2 s wrk runs.
    pub fn quick() -> Self {
        Self {
            receipts: 10_000,
            subjects: 1_000,
            batch: 5_000,
            duration: 2,
            ..Self::full()
        }
    }
}

/// Results of `bench tiles`.
#[derive(Clone, Debug, Serialize)]
pub struct TilesBench {
    /// Receipts in the log (its tree size at the checkpoint exported and audited).
    pub receipts: u64,
    /// Subjects in the subject map the audit rebuilt.
    pub subjects: u64,
    /// Seconds to blind the subjects and build the log through the platform's append path
    /// (not a figure).
    pub build_seconds: f64,
    /// Seconds of `log export-tiles` ([`credseal_engine::Platform::export_tiles`]) into an
    /// empty directory.
    pub export_seconds: f64,
    /// Files the export wrote (entry bundles and hash tiles; the checkpoint not counted).
    pub export_files: u64,
    /// Bytes of the exported directory.
    pub export_bytes: u64,
    /// Seconds of `log verify --tiles DIR --log-key F` ([`credseal_engine::audit_tiles`] over
    /// the exported directory, one thread, as the CLI runs it).
    pub audit_seconds: f64,
    /// Receipts audited per second.
    pub audit_receipts_per_s: f64,
    /// Entry bundles and hash tiles the audit read.
    pub audit_bundles: u64,
    /// Hash tiles the audit read and matched.
    pub audit_hash_tiles: u64,
    /// The floor's Ed25519 part (the mean of its two runs): seconds of one `verify_strict` per receipt signature, over
    /// the same signed bytes with the log's key, one thread.
    pub floor_signature_seconds: f64,
    /// The floor's SHA-256 part (the mean of its two runs): seconds of every leaf hash and every interior node hash of
    /// the tree of the same entries, one thread.
    pub floor_hash_seconds: f64,
    /// floor_signature_seconds + floor_hash_seconds (each the mean of the floor's two runs,
    /// just before the audit and just after).
    pub floor_seconds: f64,
    /// Receipts per second of the floor.
    pub floor_receipts_per_s: f64,
    /// floor_seconds / audit_seconds (the README's convention, floor time / our time): the
    /// share of the audit's time its signature checks and tree hashing take (1.0: nothing
    /// else).
    pub audit_ratio_to_floor: f64,
    /// The floor's run just before the audit, seconds.
    pub floor_seconds_before: f64,
    /// The floor's run just after the audit, seconds.
    pub floor_seconds_after: f64,
    /// On-CPU seconds of the audit, all its threads (it checks signatures on every core);
    /// `None` where the kernel does not tell.
    pub audit_cpu_seconds: Option<f64>,
    /// On-CPU seconds of the floor's thread (the mean of its two runs).
    pub floor_cpu_seconds: Option<f64>,
    /// floor_cpu_seconds / audit_cpu_seconds: the ratio without the time the machine's
    /// other work took from either (audit_ratio_to_floor, wall time, stays the figure).
    pub audit_cpu_ratio_to_floor: Option<f64>,
    /// wrk threads.
    pub wrk_threads: u64,
    /// wrk connections.
    pub connections: u64,
    /// The server's tokio worker threads.
    pub worker_threads: u64,
    /// Distinct paths of the tiles run: every full entry bundle and full hash tile of the
    /// log, in a shuffled order.
    pub tile_paths: u64,
    /// Of those, full entry bundles.
    pub tile_paths_entries: u64,
    /// Tiles served (answered 200) in the tiles run.
    pub tiles_served: u64,
    /// Seconds of the tiles run.
    pub tiles_seconds: f64,
    /// Tiles served per second.
    pub tiles_per_s: f64,
    /// Response bytes per second of the tiles run (headers included), MiB/s.
    pub tiles_mib_per_s: f64,
    /// Median latency of the tiles run (closed loop), microseconds.
    pub tiles_p50_us: f64,
    /// 99th percentile latency of the tiles run, microseconds.
    pub tiles_p99_us: f64,
    /// On-CPU microseconds per tile of this process (the server) in the tiles run; `None`
    /// where /proc does not tell.
    pub tiles_server_cpu_us: Option<f64>,
    /// `/healthz` answers per second, the mean of the runs before and after the tiles run
    /// (total answers over total seconds).
    pub healthz_per_s: f64,
    /// Median `/healthz` latency (the run before), microseconds.
    pub healthz_p50_us: f64,
    /// 99th percentile `/healthz` latency (the run before), microseconds.
    pub healthz_p99_us: f64,
    /// tiles_per_s / healthz_per_s: what reading and sending a tile keeps of the server's
    /// bare request rate.
    pub tiles_ratio_to_healthz: f64,
}

/// One wrk run as get.lua reported it.
#[derive(Clone, Debug, Deserialize)]
struct WrkGet {
    requests: u64,
    bytes: u64,
    seconds: f64,
    status_errors: u64,
    socket_errors: u64,
    p50_us: f64,
    p99_us: f64,
}

/// Checks the size before anything is written.
fn check_size(size: &TilesSize) -> Result<()> {
    if size.receipts < TILE_WIDTH {
        return Err(BenchError::Input(format!(
            "bench tiles needs at least {TILE_WIDTH} receipts (one full tile to serve), not {}",
            size.receipts
        )));
    }
    if size.subjects == 0 || size.batch == 0 {
        return Err(BenchError::Input(
            "bench tiles needs at least one subject and one receipt per commit".into(),
        ));
    }
    if size.duration == 0 {
        return Err(BenchError::Input("the wrk runs need at least one second".into()));
    }
    if size.wrk_threads == 0
        || size.connections < size.wrk_threads
        || !size.connections.is_multiple_of(size.wrk_threads)
    {
        return Err(BenchError::Input(format!(
            "wrk's {} connections must be a positive multiple of its {} threads (wrk gives each thread connections / threads)",
            size.connections, size.wrk_threads
        )));
    }
    Ok(())
}

/// A granted query's receipt about `subject` (the platform fills in the index, the time, the
/// salt and the subject's chain).
fn query_receipt(subject: credseal_core::BlindId, classes: &std::collections::BTreeSet<String>, i: u64) -> NewReceipt {
    let mut token_hash = [0u8; 32];
    token_hash[..8].copy_from_slice(&i.to_be_bytes());
    NewReceipt {
        actor: Actor::Department {
            id: DEPARTMENT.into(),
            credential_serial: 1,
        },
        action: Action::Query,
        detail: String::new(),
        subject: Some(subject),
        classes: classes.clone(),
        purpose: "loan-approval".into(),
        token_hash: Some(credseal_crypto::sha256(&token_hash)),
        outcome: Outcome::Granted,
        release_digest: Some(credseal_crypto::sha256(&i.to_le_bytes())),
        disclose_after: None,
        marks: Vec::new(),
        flags: 0,
        fingerprints: None,
    }
}

/// Builds the log: receipts about the subjects in turn until the log holds `size.receipts`.
/// Returns the seconds it took and the receipts it added.
fn build_log(b: &BenchPlatform, catalog_text: &str, size: &TilesSize, progress: &dyn Progress) -> Result<(f64, u64)> {
    let p = &b.platform;
    let catalog = parse_catalog(catalog_text)?;
    let classes: std::collections::BTreeSet<String> = catalog.classes.keys().take(2).cloned().collect();
    let t0 = Instant::now();
    progress.stage("blinding subjects", size.subjects);
    let mut subjects = Vec::with_capacity(size.subjects as usize);
    for i in 0..size.subjects {
        subjects.push(p.blind(&credseal_testkit::synthetic::synthetic_subject(i))?);
        progress.advance(1);
    }
    progress.finish();
    let start = p.log_size()?;
    if start >= size.receipts {
        return Err(BenchError::Input(format!(
            "the platform's set-up wrote {start} receipts already: ask for more than that"
        )));
    }
    progress.stage("building the log", size.receipts - start);
    let mut i = start;
    while i < size.receipts {
        let n = size.batch.min(size.receipts - i);
        let items = (i..i + n)
            .map(|k| query_receipt(subjects[(k % size.subjects) as usize], &classes, k))
            .collect();
        let committed = p.append_receipts(items, now()?)?;
        if committed.len() as u64 != n || committed.first().map(|c| c.index) != Some(i) {
            return Err(BenchError::check(format_args!(
                "a commit of {n} receipts from index {i} came back as {} receipts",
                committed.len()
            )));
        }
        i += n;
        progress.advance(n);
    }
    progress.finish();
    if p.log_size()? != size.receipts {
        return Err(BenchError::check(format_args!(
            "the log holds {} receipts, not the {} built",
            p.log_size()?,
            size.receipts
        )));
    }
    Ok((t0.elapsed().as_secs_f64(), size.receipts - start))
}

/// The floor of the audit over the exported entries: Ed25519 `verify_strict` of every
/// receipt signature with the log's public key (from `vkey`, as the auditor has it), and
/// the SHA-256 of the tree (leaves and interior nodes). Only those are timed, bundle by
/// bundle (reading the files, splitting the entries and framing the signed bytes are not).
/// Every signature must verify, and the tree must have the root of the checkpoint audited.
fn floor(vkey: &str, tiles: &Path, size: u64, root: &credseal_c2sp::Hash) -> Result<FloorRun> {
    let public = credseal_log::LogVerifier::from_vkey(vkey)
        .map_err(|e| BenchError::check(format_args!("the log's vkey: {e}")))?
        .public()
        .to_bytes();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|e| BenchError::check(format_args!("the log's public key: {e}")))?;
    let mut log = MemoryLog::new();
    let (mut sig_s, mut hash_s) = (0.0, 0.0);
    let mut cpu_ns = Some(0u64);
    let mut on_cpu = |a: Option<u64>, b: Option<u64>| {
        cpu_ns = cpu_ns.zip(a.zip(b)).map(|(n, (a, b))| n + b.saturating_sub(a));
    };
    let mut verified = 0u64;
    for tile in entry_bundles_for_size(size) {
        let path = tiles.join(tile.path());
        let bytes = std::fs::read(&path).map_err(|e| BenchError::io(&path, e))?;
        let entries = parse_entry_bundle(&tile, &bytes)
            .map_err(|e| BenchError::check(format_args!("{}: {e}", path.display())))?;
        let mut split = Vec::with_capacity(entries.len());
        for e in &entries {
            if e.len() <= SIGNATURE_LEN {
                return Err(BenchError::check(format_args!(
                    "{}: an entry too short",
                    path.display()
                )));
            }
            let (header, sig) = e.split_at(e.len() - SIGNATURE_LEN);
            let sig: [u8; 64] = sig.try_into().map_err(|_| BenchError::check("signature length"))?;
            split.push((
                header,
                receipt_signed_bytes(header),
                ed25519_dalek::Signature::from_bytes(&sig),
            ));
        }
        let c = thread_cpu_ns();
        let t = Instant::now();
        for (_, msg, sig) in &split {
            verified += u64::from(key.verify_strict(msg, sig).is_ok());
        }
        sig_s += t.elapsed().as_secs_f64();
        on_cpu(c, thread_cpu_ns());
        let c = thread_cpu_ns();
        let t = Instant::now();
        let leaves: Vec<_> = split
            .iter()
            .map(|(header, _, sig)| receipt_leaf_hash(header, &sig.to_bytes()))
            .collect();
        for leaf in leaves {
            log.append_record_hash(leaf);
        }
        hash_s += t.elapsed().as_secs_f64();
        on_cpu(c, thread_cpu_ns());
    }
    if verified != size {
        return Err(BenchError::check(format_args!(
            "the floor verified {verified} of {size} receipt signatures"
        )));
    }
    if log.size() != size || log.root() != *root {
        return Err(BenchError::check("the floor's tree is not the checkpoint's"));
    }
    Ok(FloorRun {
        signature_seconds: sig_s,
        hash_seconds: hash_s,
        cpu_ns,
    })
}

/// One run of the audit's floor.
struct FloorRun {
    /// Wall seconds of the signature checks.
    signature_seconds: f64,
    /// Wall seconds of the tree hashing.
    hash_seconds: f64,
    /// On-CPU nanoseconds of both on this thread; `None` where the kernel does not tell.
    cpu_ns: Option<u64>,
}

/// The paths of the tiles run: every full entry bundle and full hash tile of a tree of
/// `size`, shuffled (a fixed permutation: the run does not walk the store in order). Returns
/// the paths and how many are entry bundles.
fn tile_paths(size: u64) -> (Vec<String>, u64) {
    let full = |t: &Tile| t.is_full();
    let entries: Vec<String> = entry_bundles_for_size(size)
        .iter()
        .filter(|t| full(t))
        .map(|t| format!("/{}", t.path()))
        .collect();
    let n_entries = entries.len() as u64;
    let mut paths = entries;
    paths.extend(
        tiles_for_size(size)
            .iter()
            .filter(|t| full(t) && matches!(t.kind(), TileKind::Hashes(_)))
            .map(|t| format!("/{}", t.path())),
    );
    // Fisher–Yates with a fixed xorshift, so every run asks for the same sequence.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..paths.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        paths.swap(i, (x % (i as u64 + 1)) as usize);
    }
    (paths, n_entries)
}

/// One wrk run of get.lua over the paths in `list` against `addr`; every answer must be 200
/// and no connection may fail.
fn run_wrk(wrk: &Path, work: &Path, list: &Path, size: &TilesSize, addr: SocketAddr) -> Result<WrkGet> {
    let out = Command::new(wrk)
        .args(["-t", &size.wrk_threads.to_string()])
        .args(["-c", &size.connections.to_string()])
        .args(["-d", &format!("{}s", size.duration)])
        .args(["--timeout", "30s"])
        .arg("-s")
        .arg(work.join(SCRIPT.0))
        .arg(format!("https://{addr}"))
        .env("CREDSEAL_WRK_PATHS", list)
        .env("CREDSEAL_WRK_THREADS", size.wrk_threads.to_string())
        .current_dir(work)
        .output()
        .map_err(|e| BenchError::Input(format!("cannot run {}: {e}", wrk.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let name = list
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let Some(line) = stdout
        .lines()
        .find(|l| l.starts_with("{\"credseal_wrk_get\""))
        .filter(|_| out.status.success())
    else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(BenchError::check(format_args!(
            "wrk ({name}) {}, without its report line; stderr: {}",
            out.status,
            stderr.trim().chars().take(500).collect::<String>()
        )));
    };
    let r: WrkGet =
        serde_json::from_str(line).map_err(|e| BenchError::check(format_args!("wrk ({name}) report: {e}")))?;
    if r.status_errors > 0 || r.socket_errors > 0 {
        return Err(BenchError::check(format_args!(
            "wrk ({name}): {} of {} answers were not 200 and {} connections failed",
            r.status_errors, r.requests, r.socket_errors
        )));
    }
    if r.requests == 0 || r.seconds <= 0.0 {
        return Err(BenchError::check(format_args!("wrk ({name}): no request was answered")));
    }
    Ok(r)
}

fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let io = |e| BenchError::io(path, e);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for l in lines {
        writeln!(f, "{l}").map_err(io)?;
    }
    f.flush().map_err(io)
}

/// Runs the tiles benchmark in `work` (a fresh, empty directory): a log of `size.receipts`
/// receipts, exported as tiles and audited from them with only the verifier key, then served
/// by the in-process server to wrk (see the module).
pub fn bench_tiles(catalog_text: &str, size: TilesSize, work: &Path, progress: &dyn Progress) -> Result<TilesBench> {
    check_size(&size)?;
    let wrk = find_wrk()?;
    let script = work.join(SCRIPT.0);
    std::fs::write(&script, SCRIPT.1).map_err(|e| BenchError::io(&script, e))?;
    let b = BenchPlatform::init(&work.join("data"), &bench_passphrase(), catalog_text)?;
    let (build_seconds, built) = build_log(&b, catalog_text, &size, progress)?;
    let p = Arc::clone(&b.platform);
    let vkey = p.log_vkey()?;
    // The auditor's inputs stay in the work directory beside the tiles (`--work DIR`: run
    // `credseal log verify --tiles DIR/tiles --log-key DIR/log.vkey` by hand).
    let vkey_file = work.join("log.vkey");
    std::fs::write(&vkey_file, format!("{vkey}\n")).map_err(|e| BenchError::io(&vkey_file, e))?;

    // `log export-tiles DIR`.
    let tiles = work.join("tiles");
    progress.stage("exporting tiles", 1);
    let t = Instant::now();
    let export = p.export_tiles(&tiles)?;
    let export_seconds = t.elapsed().as_secs_f64();
    progress.finish();
    if export.size != size.receipts {
        return Err(BenchError::check(format_args!(
            "the export is of {} receipts, not {}",
            export.size, size.receipts
        )));
    }

    // The floor just before the audit and just after, on this thread (the machine may be
    // shared: the mean of the two is the floor, and on-CPU times are reported beside).
    let root = p
        .latest_checkpoint()?
        .ok_or_else(|| BenchError::check("no checkpoint after the export"))?;
    let root = *credseal_c2sp::Checkpoint::parse(
        credseal_c2sp::SignedNote::parse(&root)
            .map_err(|e| BenchError::check(format_args!("latest checkpoint: {e}")))?
            .text(),
    )
    .map_err(|e| BenchError::check(format_args!("latest checkpoint: {e}")))?
    .root();
    progress.stage("floor (Ed25519, SHA-256)", 1);
    let floor_before = floor(&vkey, &tiles, size.receipts, &root)?;
    progress.finish();

    // `log verify --tiles DIR --log-key F`: the CLI's library call, over the directory.
    progress.stage("log verify --tiles", 1);
    let source = DirSource(tiles.clone());
    // The audit checks signatures on every core: its CPU is the whole process's (nothing
    // else runs in it meanwhile), in USER_HZ ticks.
    let c = cpu_ticks().map(|(own, _)| own);
    let t = Instant::now();
    let (report, snapshot) = audit_tiles(&source, &vkey, None)?;
    let audit_seconds = t.elapsed().as_secs_f64();
    let audit_cpu_ns = c
        .zip(cpu_ticks().map(|(own, _)| own))
        .map(|(a, b)| b.saturating_sub(a) * 10_000_000);
    progress.finish();
    if snapshot.root != root {
        return Err(BenchError::check("the audit's tree is not the checkpoint's"));
    }
    if report.size != size.receipts || report.receipts != size.receipts {
        return Err(BenchError::check(format_args!(
            "the audit checked {} receipts of a log of {}",
            report.receipts, size.receipts
        )));
    }
    if report.subjects != size.subjects.min(built) {
        return Err(BenchError::check(format_args!(
            "the audit's subject map has {} subjects, not the {} the receipts are about",
            report.subjects, size.subjects
        )));
    }

    progress.stage("floor (Ed25519, SHA-256)", 1);
    let floor_after = floor(&vkey, &tiles, size.receipts, &root)?;
    progress.finish();
    let mean = |f: fn(&FloorRun) -> f64| (f(&floor_before) + f(&floor_after)) / 2.0;
    let floor_signature_seconds = mean(|r| r.signature_seconds);
    let floor_hash_seconds = mean(|r| r.hash_seconds);
    let floor_seconds = floor_signature_seconds + floor_hash_seconds;
    let floor_cpu_ns = floor_before
        .cpu_ns
        .zip(floor_after.cpu_ns)
        .map(|(a, b)| (a + b) as f64 / 2.0);
    let audit_cpu_seconds = audit_cpu_ns.map(|n| n as f64 / 1e9);
    let floor_cpu_seconds = floor_cpu_ns.map(|n| n / 1e9);

    // The server: tiles, with /healthz before and after.
    // Cannot be empty: check_size asked for a full tile's receipts at least.
    let (paths, n_entries) = tile_paths(size.receipts);
    let tiles_list = work.join("tiles.paths");
    write_lines(&tiles_list, &paths)?;
    let health_list = work.join("healthz.paths");
    write_lines(&health_list, &["/healthz".to_string()])?;
    let cfg = credseal_server::ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: Some(self_signed(work)?),
        max_inflight: (size.connections as usize * 2).max(512),
        timeout: Duration::from_secs(60),
        log_requests: false,
        worker_threads: size.worker_threads.max(1) as usize,
        ..credseal_server::ServeConfig::default()
    };
    let running = credseal_server::Server::start(Arc::clone(&p), cfg)
        .map_err(|e| BenchError::check(format_args!("the server: {e}")))?;
    let addr = running.local_addr();
    let runs = (|| {
        progress.stage("wrk /healthz", 1);
        let before = run_wrk(&wrk, work, &health_list, &size, addr)?;
        progress.stage("wrk tiles", 1);
        let cpu0 = cpu_ticks();
        let tiles = run_wrk(&wrk, work, &tiles_list, &size, addr)?;
        let cpu1 = cpu_ticks();
        progress.stage("wrk /healthz", 1);
        let after = run_wrk(&wrk, work, &health_list, &size, addr)?;
        progress.finish();
        let cpu = cpu0
            .zip(cpu1)
            .map(|(a, b)| b.0.saturating_sub(a.0) as f64 * 1e4 / tiles.requests as f64);
        Ok::<_, BenchError>((before, tiles, after, cpu))
    })();
    let stopped = running
        .shutdown()
        .map_err(|e| BenchError::check(format_args!("the server: {e}")));
    let (before, served, after, cpu) = runs?;
    stopped?;
    let min_tile = 32 * TILE_WIDTH; // a full hash tile; an entry bundle is larger
    if served.bytes < served.requests * min_tile {
        return Err(BenchError::check(format_args!(
            "{} tiles answered with {} bytes: fewer than a full tile each",
            served.requests, served.bytes
        )));
    }
    let tiles_per_s = served.requests as f64 / served.seconds;
    let healthz_per_s = (before.requests + after.requests) as f64 / (before.seconds + after.seconds);
    Ok(TilesBench {
        receipts: size.receipts,
        subjects: report.subjects,
        build_seconds,
        export_seconds,
        export_files: export.written,
        export_bytes: crate::common::dir_size(&tiles),
        audit_seconds,
        audit_receipts_per_s: size.receipts as f64 / audit_seconds,
        audit_bundles: report.bundles,
        audit_hash_tiles: report.hash_tiles,
        floor_signature_seconds,
        floor_hash_seconds,
        floor_seconds,
        floor_receipts_per_s: size.receipts as f64 / floor_seconds,
        audit_ratio_to_floor: floor_seconds / audit_seconds,
        floor_seconds_before: floor_before.signature_seconds + floor_before.hash_seconds,
        floor_seconds_after: floor_after.signature_seconds + floor_after.hash_seconds,
        audit_cpu_seconds,
        floor_cpu_seconds,
        audit_cpu_ratio_to_floor: audit_cpu_seconds.zip(floor_cpu_seconds).map(|(a, f)| f / a),
        wrk_threads: size.wrk_threads,
        connections: size.connections,
        worker_threads: size.worker_threads,
        tile_paths: paths.len() as u64,
        tile_paths_entries: n_entries,
        tiles_served: served.requests,
        tiles_seconds: served.seconds,
        tiles_per_s,
        tiles_mib_per_s: served.bytes as f64 / served.seconds / (1024.0 * 1024.0),
        tiles_p50_us: served.p50_us,
        tiles_p99_us: served.p99_us,
        tiles_server_cpu_us: cpu,
        healthz_per_s,
        healthz_p50_us: before.p50_us,
        healthz_p99_us: before.p99_us,
        tiles_ratio_to_healthz: tiles_per_s / healthz_per_s,
    })
}
