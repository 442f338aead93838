//! The `credseal bench …` benchmarks, each measured against its floor in the same run.
//!
//! "Ours" is the platform driven through `credseal_engine`'s public API only (init, ingest,
//! authorize and submit queries, rotate and rewrap, trace, its metrics). The floor is the
//! irreducible work of the same operation without any of the platform's logic: the same
//! cryptography (`credseal-crypto`, `credseal-auth`, `credseal-log`, `credseal-c2sp`) and
//! the same keys and bytes written to a fresh sled database in plain batches. Where a
//! benchmark needs the stored data to set up or check its run, it opens the store and the
//! keystore of the data directory it created itself (it knows the passphrase), as a test
//! would; the engine exposes neither.
//!
//! Call one of [`bench_ingest`], [`bench_query`], [`bench_rewrap`], [`bench_serve`], [`bench_shred`],
//! [`bench_tiles`], [`bench_trace`] or [`bench_verify`]; each returns a serialisable result struct:
//!
//! ```
//! let r = credseal_bench::bench_verify(20, 2)?;
//! assert_eq!(r.receipts, 20);
//! assert_eq!(r.log_size, 60);
//! # Ok::<(), credseal_bench::BenchError>(())
//! ```

#![warn(unreachable_pub, unnameable_types)]

mod common;
mod error;
mod ingest;
mod query;
mod rewrap;
mod serve;
mod shred;
mod tiles;
mod trace;
mod verify;

pub use error::{BenchError, Result};
pub use ingest::{IngestBench, bench_ingest};
pub use query::{QueryBench, QuerySize, bench_query};
pub use rewrap::{RewrapBench, bench_rewrap};
pub use serve::{ServeBench, ServeSize, bench_serve, wrk_available};
pub use shred::{ShredBench, bench_shred};
pub use tiles::{TilesBench, TilesSize, bench_tiles};
pub use trace::{TraceBench, bench_trace};
pub use verify::{VerifyBench, bench_verify};
