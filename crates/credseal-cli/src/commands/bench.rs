//! `credseal bench …`: benchmarks, each reported against its floor measured in the same run.

use std::path::PathBuf;

use credseal_bench::BenchError;
use credseal_engine::ErrorClass;

use super::demo;
use crate::cli::BenchCommand;
use crate::context::Context;
use crate::files::read_text;
use crate::render::bench as out;
use crate::{CliResult, Failure};

/// A benchmark's work directory: the one given (created), or a temporary one removed when
/// the returned guard drops.
fn bench_work_dir(work: Option<PathBuf>) -> CliResult<(PathBuf, Option<tempfile::TempDir>)> {
    match work {
        Some(w) => {
            std::fs::create_dir_all(&w)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", w.display())))?;
            Ok((w, None))
        }
        None => {
            let tmp = tempfile::tempdir()
                .map_err(|e| Failure::new(ErrorClass::Error, format!("temporary directory: {e}")))?;
            Ok((tmp.path().to_path_buf(), Some(tmp)))
        }
    }
}

/// A benchmark's failure as the CLI reports it: an engine error keeps its class and hint.
fn failure(e: BenchError) -> Failure {
    match e {
        BenchError::Engine(e) => e.into(),
        e => Failure::new(ErrorClass::Error, e.to_string()),
    }
}

/// `credseal bench …`.
pub(crate) fn run(ctx: &Context, command: BenchCommand) -> CliResult {
    match command {
        BenchCommand::Ingest {
            subjects,
            catalog,
            work,
            json,
        } => {
            let text = match catalog {
                Some(c) => read_text(&c)?,
                None => demo::CATALOG.to_string(),
            };
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_ingest(&text, subjects, &work, &bar).map_err(failure)?;
            out::bench_ingest(&r, json);
            Ok(())
        }
        BenchCommand::Query {
            subjects,
            queries,
            threads,
            in_flight,
            work,
            json,
        } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let size = credseal_bench::QuerySize {
                subjects,
                queries,
                threads,
                in_flight,
            };
            let r = credseal_bench::bench_query(demo::CATALOG, size, &work, &bar).map_err(failure)?;
            out::bench_query(&r, json);
            Ok(())
        }
        BenchCommand::Serve(args) => {
            let crate::cli::BenchServeArgs {
                quick,
                subjects,
                duration,
                max_queries,
                wrk_threads,
                connections,
                rate_fraction,
                open_rate,
                open_seconds,
                open_threads,
                open_connections,
                floor_queries,
                in_process_queries,
                in_flight,
                threads,
                worker_threads,
                work,
                json,
            } = *args;
            let base = if quick {
                credseal_bench::ServeSize::quick()
            } else {
                credseal_bench::ServeSize::full()
            };
            if let Some(f) = rate_fraction
                && !(f > 0.0 && f <= 1.0)
            {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!("--rate-fraction {f}: give a fraction of the peak in (0, 1]"),
                ));
            }
            if let Some(r) = open_rate
                && !(r.is_finite() && r > 0.0)
            {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!("--open-rate {r}: give a positive number of queries per second"),
                ));
            }
            let wrk_threads = wrk_threads.unwrap_or(base.wrk_threads);
            let size = credseal_bench::ServeSize {
                subjects: subjects.unwrap_or(base.subjects),
                duration: duration.map_or(base.duration, |d| d as f64),
                max_queries: max_queries.unwrap_or(base.max_queries),
                wrk_threads,
                connections: connections.unwrap_or(base.connections),
                rate_fraction: rate_fraction.unwrap_or(base.rate_fraction),
                open_rate,
                open_seconds: open_seconds.map_or(base.open_seconds, |s| s as f64),
                open_threads: open_threads.unwrap_or(wrk_threads),
                open_connections: open_connections.unwrap_or(base.open_connections),
                floor_queries: floor_queries.unwrap_or(base.floor_queries),
                in_process_queries: in_process_queries.unwrap_or(base.in_process_queries),
                in_flight: in_flight.unwrap_or(base.in_flight),
                threads: threads.unwrap_or(base.threads),
                worker_threads: worker_threads.unwrap_or(base.worker_threads),
            };
            for (conns, flag, threads, tflag) in [
                (size.connections, "--connections", size.wrk_threads, "--wrk-threads"),
                (
                    size.open_connections,
                    "--open-connections",
                    size.open_threads,
                    "--open-threads",
                ),
            ] {
                if conns < threads {
                    return Err(Failure::new(
                        ErrorClass::Usage,
                        format!("{flag} {conns} is fewer than {tflag} {threads}: wrk needs a connection per thread"),
                    ));
                }
                if conns % threads != 0 {
                    return Err(Failure::new(
                        ErrorClass::Usage,
                        format!(
                            "{flag} {conns} is not a multiple of {tflag} {threads}: wrk gives each thread {flag} / {tflag} connections"
                        ),
                    ));
                }
            }
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_serve(demo::CATALOG, size, &work, &bar).map_err(failure)?;
            out::bench_serve(&r, json);
            Ok(())
        }
        BenchCommand::Tiles(args) => {
            let crate::cli::BenchTilesArgs {
                full,
                receipts,
                subjects,
                batch,
                duration,
                wrk_threads,
                connections,
                worker_threads,
                work,
                json,
            } = *args;
            let base = if full {
                credseal_bench::TilesSize::full()
            } else {
                credseal_bench::TilesSize::quick()
            };
            let size = credseal_bench::TilesSize {
                receipts: receipts.unwrap_or(base.receipts),
                subjects: subjects.unwrap_or(base.subjects),
                batch: batch.unwrap_or(base.batch),
                duration: duration.unwrap_or(base.duration),
                wrk_threads: wrk_threads.unwrap_or(base.wrk_threads),
                connections: connections.unwrap_or(base.connections),
                worker_threads: worker_threads.unwrap_or(base.worker_threads),
            };
            if size.connections < size.wrk_threads || !size.connections.is_multiple_of(size.wrk_threads) {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!(
                        "--connections {} is not a multiple of --wrk-threads {}: wrk gives each thread --connections / --wrk-threads connections",
                        size.connections, size.wrk_threads
                    ),
                ));
            }
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_tiles(demo::CATALOG, size, &work, &bar).map_err(failure)?;
            out::bench_tiles(&r, json);
            Ok(())
        }
        BenchCommand::Rewrap { subjects, work, json } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_rewrap(demo::CATALOG, subjects, &work, &bar).map_err(failure)?;
            out::bench_rewrap(&r, json);
            Ok(())
        }
        BenchCommand::Shred {
            subjects,
            batch,
            full,
            work,
            json,
        } => {
            let subjects = subjects.unwrap_or(if full { 1_000_000 } else { 20_000 });
            let batch = batch.unwrap_or(if full { 10_000 } else { 1_000 });
            if batch >= subjects {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!("--batch {batch}: must be smaller than --subjects {subjects}"),
                ));
            }
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_shred(
                demo::CATALOG,
                subjects,
                batch,
                credseal_crypto::KdfParams::DEFAULT,
                &work,
                &bar,
            )
            .map_err(failure)?;
            out::bench_shred(&r, json);
            Ok(())
        }
        BenchCommand::Trace {
            fingerprints,
            leak_items,
            work,
            json,
        } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = ctx.progress();
            let r = credseal_bench::bench_trace(fingerprints, leak_items, &work, &bar).map_err(failure)?;
            out::bench_trace(&r, json);
            Ok(())
        }
        BenchCommand::Verify { receipts, noise, json } => {
            let r = credseal_bench::bench_verify(receipts, noise).map_err(failure)?;
            out::bench_verify(&r, json);
            Ok(())
        }
    }
}
