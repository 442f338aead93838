//! A C2SP transparency-log witness (`c2sp.org/tlog-witness`): it follows logs by their public
//! keys, checks each new checkpoint of a log against the latest one it cosigned (a
//! consistency proof, RFC 6962), and returns a timestamped `cosignature/v1`
//! (`c2sp.org/tlog-cosignature`). A log that shows two different trees to two parties cannot
//! get both cosigned by an honest witness, so clients that require cosignatures from
//! witnesses they trust are safe from split views.
//!
//! A separate role with its own key ([`credseal_c2sp::CosignerKey`]) and state directory; it
//! knows nothing of credseal platforms beyond their log keys. Start with [`Witness::open`],
//! then [`start`] it:
//!
//! ```no_run
//! # fn f(key: credseal_c2sp::CosignerKey, log: credseal_c2sp::NoteVerifier) -> Result<(), credseal_witness::WitnessError> {
//! use std::sync::Arc;
//! use credseal_witness::{ServeConfig, TlsFiles, Witness};
//! let witness = Arc::new(Witness::open(key, vec![log], "witness-state".as_ref())?);
//! let cfg = ServeConfig {
//!     listen: "127.0.0.1:8444".parse().unwrap(),
//!     tls: Some(TlsFiles { cert: "cert.pem".into(), key: "key.pem".into() }),
//!     ..ServeConfig::default()
//! };
//! let running = credseal_witness::start(witness, cfg)?;
//! println!("witnessing on {}", running.local_addr());
//! running.shutdown()?;
//! # Ok(()) }
//! ```
//!
//! Implemented of tlog-witness: `add-checkpoint` and the monitoring `GET <origin
//! hash>/checkpoint`, with the submission and monitoring prefixes both empty. Not implemented:
//! `sign-subtree` (optional; it needs ML-DSA-44 subtree cosignatures).

#![warn(unreachable_pub)]

mod error;
mod request;
mod server;
mod state;
mod tls;
mod witness;

pub use error::{Refusal, WitnessError};
pub use request::MAX_PROOF_LINES;
pub use server::{Running, ServeConfig, TLOG_SIZE_CONTENT_TYPE, TlsFiles, check_config, start};
pub use witness::{Witness, origin_hash};
