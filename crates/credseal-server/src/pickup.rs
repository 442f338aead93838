//! Answers held for pickup by query id, so that a lost response costs neither a second
//! query nor a second receipt: `GET /v1/queries/{id}`, or the same token posted again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// One held answer.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    /// SHA-256 of the token's wire bytes: only the same token gets the answer again.
    pub(crate) token_digest: [u8; 32],
    /// The response body (JSON) as first sent.
    pub(crate) body: std::sync::Arc<[u8]>,
    /// The token's expiry (Unix seconds): held until then.
    pub(crate) expires_at: u64,
    /// The department the answer was made for (its verified credential's), for the log.
    pub(crate) department: Option<String>,
    /// The refusal of a genuine token, held instead of an answer (`body` is then empty).
    pub(crate) denial: Option<crate::problem::Problem>,
    /// For a refusal: SHA-256 of the credential it was refused with; only a request with the
    /// same token and the same credential gets it. `None` for an answer (any credential).
    pub(crate) credential_digest: Option<[u8; 32]>,
}

/// Where a query's response body appears once it is answered (`None` until then, and for a
/// refusal).
pub(crate) type Outcome = watch::Receiver<Option<Arc<[u8]>>>;

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<[u8; 16], Held>,
    order: VecDeque<[u8; 16]>,
    /// Queries in the engine now, by query id: the token digest and where the response body
    /// will appear (`None` until then, and for a refusal).
    pending: HashMap<[u8; 16], ([u8; 32], Outcome)>,
}

/// What to do with a query that is not held (see [`Pickup::begin`]).
pub(crate) enum Begin {
    /// The caller runs the query and reports through the slot.
    Run(Slot),
    /// The same token is in the engine now: wait for its response.
    Wait(Outcome),
    /// Another token with this query id is in the engine: run it (the engine refuses it as
    /// replayed), without a slot.
    Other,
}

/// A query in the engine. [`Slot::done`] publishes its response body to anyone waiting;
/// dropping the slot without it (a refusal, a failure) releases the waiters, who then ask
/// the engine themselves.
pub(crate) struct Slot {
    pickup: Arc<Pickup>,
    id: [u8; 16],
    tx: watch::Sender<Option<Arc<[u8]>>>,
}

impl Slot {
    /// The query's response body, now also held: waiters get it.
    pub(crate) fn done(self, body: Arc<[u8]>) {
        let _ = self.tx.send(Some(body));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.pickup.inner.lock() {
            m.pending.remove(&self.id);
        }
    }
}

/// Held answers, at most `capacity`; the oldest go first.
#[derive(Debug)]
pub(crate) struct Pickup {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl Pickup {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The answer held for `id`, if its token has not expired at `now`.
    pub(crate) fn get(&self, id: &[u8; 16], now: u64) -> Option<Held> {
        let m = self.inner.lock().ok()?;
        m.map.get(id).filter(|h| now <= h.expires_at).cloned()
    }

    /// Holds `held` for `id`.
    pub(crate) fn put(&self, id: [u8; 16], held: Held, now: u64) {
        self.put_with(id, held, now, true);
    }

    fn put_with(&self, id: [u8; 16], held: Held, now: u64, replace: bool) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
        if !replace && m.map.get(&id).is_some_and(|h| now <= h.expires_at) {
            return;
        }
        // Expired ones at the front go first, then the oldest while full.
        while let Some(front) = m.order.front().copied() {
            let expired = m.map.get(&front).is_none_or(|h| h.expires_at < now);
            if expired || m.map.len() >= self.capacity {
                m.order.pop_front();
                m.map.remove(&front);
            } else {
                break;
            }
        }
        if m.map.insert(id, held).is_none() {
            m.order.push_back(id);
        }
    }

    /// Holds `held` for `id` unless something is held for it already (a refusal never
    /// replaces an answer: a second token with the same query id is refused as replayed,
    /// and the first token's answer stays held).
    pub(crate) fn put_if_absent(&self, id: [u8; 16], held: Held, now: u64) {
        self.put_with(id, held, now, false);
    }

    /// Registers the query `id` with token `digest` as in the engine, unless the same token
    /// already is (then wait for it) or another token with that id is.
    pub(crate) fn begin(self: &Arc<Self>, id: [u8; 16], digest: [u8; 32]) -> Begin {
        let Ok(mut m) = self.inner.lock() else {
            return Begin::Other;
        };
        match m.pending.get(&id) {
            Some((d, rx)) if *d == digest => Begin::Wait(rx.clone()),
            Some(_) => Begin::Other,
            None => {
                let (tx, rx) = watch::channel(None);
                m.pending.insert(id, (digest, rx));
                Begin::Run(Slot {
                    pickup: Arc::clone(self),
                    id,
                    tx,
                })
            }
        }
    }

    /// Answers held now.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map(|m| m.map.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(exp: u64) -> Held {
        Held {
            token_digest: [0; 32],
            body: std::sync::Arc::from(&b"{}"[..]),
            expires_at: exp,
            department: None,
            denial: None,
            credential_digest: None,
        }
    }

    #[test]
    fn expired_answers_are_not_returned() {
        let p = Pickup::new(4);
        p.put([1; 16], held(100), 50);
        assert!(p.get(&[1; 16], 100).is_some());
        assert!(p.get(&[1; 16], 101).is_none());
    }

    #[test]
    fn the_same_token_waits_for_the_one_in_the_engine() {
        let p = Arc::new(Pickup::new(4));
        let Begin::Run(slot) = p.begin([1; 16], [7; 32]) else {
            panic!("the first runs")
        };
        let Begin::Wait(rx) = p.begin([1; 16], [7; 32]) else {
            panic!("the same token waits")
        };
        assert!(matches!(p.begin([1; 16], [8; 32]), Begin::Other));
        slot.done(Arc::from(&b"{\"a\":1}"[..]));
        assert_eq!(rx.borrow().as_deref(), Some(&b"{\"a\":1}"[..]));
        // The slot is gone: the next one runs.
        assert!(matches!(p.begin([1; 16], [7; 32]), Begin::Run(_)));
    }

    #[test]
    fn a_refused_query_releases_its_waiters_empty_handed() {
        let p = Arc::new(Pickup::new(4));
        let Begin::Run(slot) = p.begin([2; 16], [7; 32]) else {
            panic!("the first runs")
        };
        let Begin::Wait(mut rx) = p.begin([2; 16], [7; 32]) else {
            panic!("the same token waits")
        };
        drop(slot);
        assert!(rx.has_changed().is_err(), "the sender is gone");
        assert!(rx.borrow_and_update().is_none());
    }

    #[test]
    fn the_oldest_goes_when_full() {
        let p = Pickup::new(2);
        p.put([1; 16], held(100), 0);
        p.put([2; 16], held(100), 0);
        p.put([3; 16], held(100), 0);
        assert_eq!(p.len(), 2);
        assert!(p.get(&[1; 16], 0).is_none());
        assert!(p.get(&[3; 16], 0).is_some());
    }
}
