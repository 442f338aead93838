//! The engine's query threads: a fixed pool (one per core by default), each keeping many
//! department queries in flight with [`Platform::submit_query`] and
//! [`credseal_engine::PendingAnswer::wait`], as `credseal bench query` does.
//!
//! Why not one blocking thread per request: every query in flight would then park its own
//! thread on the receipt log's group-commit condition, and each commit would wake them all
//! (measured: 20–30 context switches per query against 3–4 here). Here a thread submits
//! every query that has arrived (each authorized and its receipt queued), then waits for the
//! oldest; the commit that wait leads carries all of them, and the next commit carries what
//! arrived meanwhile — group commits as large as the arrival rate makes them.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use credseal_engine::{Platform, QueryError, SealedAnswer};
use tokio::sync::oneshot;

/// One department query for the pool.
pub(crate) struct QueryJob {
    pub(crate) credential: String,
    pub(crate) token: String,
    pub(crate) now: u64,
    pub(crate) reply: oneshot::Sender<Result<SealedAnswer, QueryError>>,
}

/// The sending side, held by the service's state. Dropping it ends the threads once they
/// have answered what they hold.
#[derive(Debug)]
pub(crate) struct EngineQueue {
    tx: SyncSender<QueryJob>,
}

impl EngineQueue {
    /// Hands `job` to the pool without blocking; `Err` gives it back when the queue is full
    /// (or the pool is gone).
    pub(crate) fn submit(&self, job: QueryJob) -> Result<(), QueryJob> {
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
        })
    }
}

/// The threads, joined by [`EnginePool::join`].
#[derive(Debug)]
pub(crate) struct EnginePool {
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl EnginePool {
    /// Starts `threads` query threads on `platform`, each with at most `per_thread` queries
    /// in flight, behind a queue of `capacity` jobs.
    pub(crate) fn start(
        platform: &Arc<Platform>,
        threads: usize,
        per_thread: usize,
        capacity: usize,
    ) -> std::io::Result<(EngineQueue, EnginePool)> {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads.max(1) {
            let (platform, rx) = (Arc::clone(platform), Arc::clone(&rx));
            handles.push(
                std::thread::Builder::new()
                    .name(format!("credseal-query-{i}"))
                    .spawn(move || run(&platform, &rx, per_thread.max(1)))?,
            );
        }
        Ok((EngineQueue { tx }, EnginePool { threads: handles }))
    }

    /// Waits for the threads to finish (after the queue's sender is dropped).
    pub(crate) fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn run(platform: &Platform, rx: &Mutex<Receiver<QueryJob>>, per_thread: usize) {
    let mut pending: VecDeque<(oneshot::Sender<_>, credseal_engine::PendingAnswer<'_>)> = VecDeque::new();
    let start = |job: QueryJob, pending: &mut VecDeque<_>| match platform.submit_query(
        job.credential.trim(),
        job.token.trim(),
        job.now,
    ) {
        Ok(p) => pending.push_back((job.reply, p)),
        // A denial (its receipt already durable) or a full receipt queue.
        Err(e) => {
            let _ = job.reply.send(Err(e));
        }
    };
    loop {
        if pending.is_empty() {
            // Nothing in hand: block for the next job (the queue's lock is held meanwhile;
            // another thread with queries in hand does not need it).
            let job = match rx.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            match job {
                Ok(j) => start(j, &mut pending),
                Err(_) => return, // the service is gone and nothing is pending
            }
        }
        // Everything else that has arrived, without blocking.
        while pending.len() < per_thread {
            let job = match rx.try_lock() {
                Ok(rx) => rx.try_recv().ok(),
                Err(_) => None,
            };
            match job {
                Some(j) => start(j, &mut pending),
                None => break,
            }
        }
        if let Some((reply, p)) = pending.pop_front() {
            // Leads (or joins) the group commit of everything queued so far.
            let _ = reply.send(p.wait());
        }
    }
}
