//! credseal's shared test support, never a dependency of the library crates (only of their
//! tests, and of the CLI for its `demo`, `bench` and `make-demo-keystore` commands):
//!
//! - [`conformance`]: the suite every `credseal_store::Store` backend must pass — call
//!   [`conformance::run_all`] with a constructor of fresh, empty stores;
//! - [`demo`]: the public demo keys of `keys-example/` — [`demo::demo_keystore`] and
//!   [`demo::demo_secret`];
//! - [`synthetic`]: synthetic subjects and records of any size for tests and benchmarks —
//!   [`synthetic::write_synthetic`] and [`synthetic::synthetic_subject`];
//! - [`vectors`]: the generator of the committed test vectors in `docs/vectors/` —
//!   [`vectors::generate`] (`cargo run -p credseal-testkit --example gen_vectors -- docs/vectors`);
//! - `examples/gen_example_data.rs`: the generator of `keys-example/records.jsonl`
//!   (`cargo run -q -p credseal-testkit --example gen_example_data -- keys-example/catalog.toml`).
//!
//! ```
//! use credseal_testkit::demo::{DEMO_ORIGIN, demo_keystore};
//!
//! credseal_testkit::conformance::run_all(&credseal_store::MemoryStore::new);
//! let keys = demo_keystore(&["identity", "loans"], [0; 32], 0);
//! assert_eq!(keys.origin, DEMO_ORIGIN);
//! assert!(credseal_crypto::demo::holds_demo_keys(&keys));
//! ```

#![deny(missing_docs)]

pub mod conformance;
pub mod demo;
pub mod synthetic;
pub mod vectors;
