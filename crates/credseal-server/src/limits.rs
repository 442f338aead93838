//! Per-department token buckets (429 beyond them).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by department id. A bucket is taken from only for requests whose
/// credential verified, so forged credentials naming a department cannot exhaust its bucket;
/// they are bounded by the service's concurrency cap instead.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let dt = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + dt * self.rate).min(self.burst);
        b.last = now;
    }

    /// `None` if `dept` may send a query now; else the seconds to wait before a token is
    /// there. Takes nothing: [`RateLimiter::take`] does, once the credential verified.
    pub(crate) fn check(&self, dept: &str) -> Option<u64> {
        let mut m = self.buckets.lock().ok()?;
        let now = Instant::now();
        let b = m.get_mut(dept)?;
        self.refill(b, now);
        if b.tokens >= 1.0 {
            None
        } else {
            Some((((1.0 - b.tokens) / self.rate).ceil() as u64).max(1))
        }
    }

    /// Takes one token from `dept`'s bucket (which may go below zero when requests raced:
    /// the next ones wait longer).
    pub(crate) fn take(&self, dept: &str) {
        let Ok(mut m) = self.buckets.lock() else {
            return;
        };
        let now = Instant::now();
        let burst = self.burst;
        let b = m.entry(dept.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        self.refill(b, now);
        b.tokens -= 1.0;
    }
}
