//! Answers held for pickup by query id, so that a lost response costs neither a second
//! query nor a second receipt: `GET /v1/queries/{id}`, or the same token posted again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// One held answer.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    /// SHA-256 of the token's wire bytes: only the same token gets the answer again.
    pub(crate) token_digest: [u8; 32],
    /// The response body (JSON) as first sent.
    pub(crate) body: std::sync::Arc<[u8]>,
    /// The token's expiry (Unix seconds): held until then.
    pub(crate) expires_at: u64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<[u8; 16], Held>,
    order: VecDeque<[u8; 16]>,
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
        if self.capacity == 0 {
            return;
        }
        let Ok(mut m) = self.inner.lock() else {
            return;
        };
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
