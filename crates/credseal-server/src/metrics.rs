//! `/metrics` in the Prometheus text exposition format (0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use credseal_engine::COMMIT_SECONDS_BUCKETS;

use crate::state::AppState;

/// Upper bounds, seconds, of the request-duration histogram.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The service's own counters; the engine's come from the platform when rendered.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    answers: AtomicU64,
    denials: Mutex<BTreeMap<String, u64>>,
    pickups: AtomicU64,
    /// The tree size of the latest checkpoint sent to the witnesses, and how many of them
    /// cosigned it.
    witnessed_size: AtomicU64,
    witness_cosignatures: AtomicU64,
}

impl Metrics {
    /// One request done: its route template, status and duration.
    pub(crate) fn request(&self, route: &'static str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route).or_default();
            h.count += 1;
            h.sum += seconds;
            for (n, b) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
                if seconds <= b {
                    *n += 1;
                }
            }
        }
    }

    /// An answer released (department or self-query).
    pub(crate) fn answer(&self) {
        self.answers.fetch_add(1, Ordering::Relaxed);
    }

    /// An answer picked up again without a second query.
    pub(crate) fn pickup(&self) {
        self.pickups.fetch_add(1, Ordering::Relaxed);
    }

    /// A round of cosigning: the checkpoint's size and its cosignatures.
    pub(crate) fn cosigned(&self, size: u64, cosignatures: usize) {
        self.witnessed_size.store(size, Ordering::Relaxed);
        self.witness_cosignatures.store(cosignatures as u64, Ordering::Relaxed);
    }

    /// A query refused with `code` (engine denial codes and the service's own).
    pub(crate) fn denial(&self, code: &str) {
        if let Ok(mut m) = self.denials.lock() {
            *m.entry(code.to_string()).or_default() += 1;
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self, st: &AppState) -> String {
        let mut o = String::new();
        let p = &st.platform;
        let _ = writeln!(
            o,
            "# HELP credseal_http_requests_total HTTP requests by route template and status."
        );
        let _ = writeln!(o, "# TYPE credseal_http_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    o,
                    "credseal_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP credseal_http_request_duration_seconds Time from request to response, by route template."
        );
        let _ = writeln!(o, "# TYPE credseal_http_request_duration_seconds histogram");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                for (n, b) in h.buckets.iter().zip(LATENCY_BUCKETS) {
                    let _ = writeln!(
                        o,
                        "credseal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    o,
                    "credseal_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    o,
                    "credseal_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    o,
                    "credseal_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        let _ = writeln!(
            o,
            "# HELP credseal_answers_total Sealed answers released, each after its receipt was durable."
        );
        let _ = writeln!(o, "# TYPE credseal_answers_total counter");
        let _ = writeln!(o, "credseal_answers_total {}", self.answers.load(Ordering::Relaxed));
        let _ = writeln!(
            o,
            "# HELP credseal_answer_pickups_total Answers sent again from the pickup store (no second receipt)."
        );
        let _ = writeln!(o, "# TYPE credseal_answer_pickups_total counter");
        let _ = writeln!(
            o,
            "credseal_answer_pickups_total {}",
            self.pickups.load(Ordering::Relaxed)
        );
        let _ = writeln!(o, "# HELP credseal_denials_total Refused queries and requests by code.");
        let _ = writeln!(o, "# TYPE credseal_denials_total counter");
        if let Ok(m) = self.denials.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(o, "credseal_denials_total{{code=\"{code}\"}} {n}");
            }
        }
        let _ = writeln!(
            o,
            "# HELP credseal_witnessed_tree_size Tree size of the latest checkpoint sent to the witnesses (0: none)."
        );
        let _ = writeln!(o, "# TYPE credseal_witnessed_tree_size gauge");
        let _ = writeln!(
            o,
            "credseal_witnessed_tree_size {}",
            self.witnessed_size.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP credseal_witness_cosignatures Witness cosignatures that checkpoint carries."
        );
        let _ = writeln!(o, "# TYPE credseal_witness_cosignatures gauge");
        let _ = writeln!(
            o,
            "credseal_witness_cosignatures {}",
            self.witness_cosignatures.load(Ordering::Relaxed)
        );
        let s = p.commit_stats();
        let _ = writeln!(
            o,
            "# HELP credseal_commit_seconds Duration of the log's group commits (write, flush, checkpoint)."
        );
        let _ = writeln!(o, "# TYPE credseal_commit_seconds histogram");
        for (n, b) in s.seconds_buckets.iter().zip(COMMIT_SECONDS_BUCKETS) {
            let _ = writeln!(o, "credseal_commit_seconds_bucket{{le=\"{b}\"}} {n}");
        }
        let _ = writeln!(o, "credseal_commit_seconds_bucket{{le=\"+Inf\"}} {}", s.commits);
        let _ = writeln!(o, "credseal_commit_seconds_sum {}", s.seconds_sum);
        let _ = writeln!(o, "credseal_commit_seconds_count {}", s.commits);
        let _ = writeln!(
            o,
            "# HELP credseal_commit_receipts_total Receipts committed by group commits."
        );
        let _ = writeln!(o, "# TYPE credseal_commit_receipts_total counter");
        let _ = writeln!(o, "credseal_commit_receipts_total {}", s.receipts);
        let _ = writeln!(o, "# HELP credseal_commit_batch_max Largest group commit, receipts.");
        let _ = writeln!(o, "# TYPE credseal_commit_batch_max gauge");
        let _ = writeln!(o, "credseal_commit_batch_max {}", s.max_batch);
        let _ = writeln!(
            o,
            "# HELP credseal_commit_failures_total Group commits that failed (nothing released)."
        );
        let _ = writeln!(o, "# TYPE credseal_commit_failures_total counter");
        let _ = writeln!(o, "credseal_commit_failures_total {}", s.failures);
        let _ = writeln!(o, "# HELP credseal_log_size Receipts in the log.");
        let _ = writeln!(o, "# TYPE credseal_log_size gauge");
        let _ = writeln!(o, "credseal_log_size {}", p.log_size().unwrap_or(0));
        let _ = writeln!(
            o,
            "# HELP credseal_receipt_queue_depth Receipts waiting for the next group commit."
        );
        let _ = writeln!(o, "# TYPE credseal_receipt_queue_depth gauge");
        let _ = writeln!(o, "credseal_receipt_queue_depth {}", p.queue_depth());
        let _ = writeln!(o, "# HELP credseal_requests_in_flight Requests being handled.");
        let _ = writeln!(o, "# TYPE credseal_requests_in_flight gauge");
        let in_flight = st.cfg.max_inflight.saturating_sub(st.inflight.available_permits());
        let _ = writeln!(o, "credseal_requests_in_flight {in_flight}");
        let _ = writeln!(
            o,
            "# HELP credseal_requests_receiving Requests whose body is still arriving (they hold no in-flight slot)."
        );
        let _ = writeln!(o, "# TYPE credseal_requests_receiving gauge");
        let receiving = st.receiving.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(o, "credseal_requests_receiving {receiving}");
        let _ = writeln!(o, "# HELP credseal_answers_held Answers held for pickup.");
        let _ = writeln!(o, "# TYPE credseal_answers_held gauge");
        let _ = writeln!(o, "credseal_answers_held {}", st.pickup.len());
        o
    }
}
