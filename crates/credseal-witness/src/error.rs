//! Errors: [`WitnessError`] for a witness that cannot start or stopped badly, [`Refusal`] for
//! an `add-checkpoint` request it does not cosign.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the witness could not start (configuration, key, state, TLS, address) or stopped
/// badly. Carries no key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The configuration is not allowed (plain HTTP off loopback, no log, zero limits).
    #[error("{0}")]
    Config(String),
    /// A TLS file could not be read or used.
    #[error("{}: {detail}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {detail}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's reason.
        detail: String,
    },
    /// Another process holds the state directory.
    #[error("{}: the state directory is in use by another witness process", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A state file does not parse, or does not verify under the configured log keys and the
    /// witness's own key: it was altered, or the keys changed. The witness never resets it.
    #[error("{}: the witness state does not verify: {reason}", path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {detail}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        detail: String,
    },
    /// The runtime failed.
    #[error("the witness's runtime failed: {0}")]
    Runtime(String),
}

/// An `add-checkpoint` request the witness refuses, with the status C2SP tlog-witness
/// prescribes. Shown as one line (origin, sizes, reason) for the witness's log; its
/// [`Refusal::body`] is what the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status: 400, 403, 404, 409, 422 (or 500 when the state cannot be written).
    pub status: u16,
    /// What was wrong, short; never echoes the request.
    pub reason: String,
    /// The checkpoint's origin, when the request parsed that far.
    pub origin: Option<String>,
    /// The old size of the request, when it parsed that far.
    pub old: Option<u64>,
    /// The checkpoint's size, when it parsed that far.
    pub size: Option<u64>,
    /// For 409: the size of the latest checkpoint cosigned (the body the client gets).
    pub cosigned_size: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            origin: None,
            old: None,
            size: None,
            cosigned_size: None,
        }
    }

    pub(crate) fn about(mut self, origin: &str, old: u64, size: u64) -> Self {
        self.origin = Some(origin.to_string());
        self.old = Some(old);
        self.size = Some(size);
        self
    }

    /// The response body: for 409 the latest cosigned size and a newline
    /// (`text/x.tlog.size`), else the reason and a newline (`text/plain`).
    pub fn body(&self) -> String {
        match self.cosigned_size {
            Some(n) => format!("{n}\n"),
            None => format!("{}\n", self.reason),
        }
    }
}

/// An origin as logged: at most 100 characters, quoted and escaped (an unknown origin is
/// whatever a client sent).
fn shown(origin: &str) -> String {
    let mut s: String = origin.chars().take(100).collect();
    if s.len() < origin.len() {
        s.push('…');
    }
    format!("{s:?}")
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
        write!(
            f,
            "{} origin={} old={} size={}",
            self.status,
            self.origin.as_deref().map_or("-".to_string(), shown),
            opt(self.old),
            opt(self.size),
        )?;
        if let Some(n) = self.cosigned_size {
            write!(f, " cosigned={n}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for Refusal {}
