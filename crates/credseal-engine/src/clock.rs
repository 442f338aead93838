//! [`Clock`]: where the platform takes the time from. The system clock in production, a
//! [`TestClock`] in tests. A clock that cannot say the time (set before 1970, or a test
//! clock set to "no time") is an error, never a zero.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{EngineError, Result};

/// A source of Unix time in seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch, or [`EngineError::Clock`] when there is no time.
    fn now(&self) -> Result<u64>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Result<u64> {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| EngineError::Clock {
                detail: "the system clock is set before 1970".into(),
            })
    }
}

/// A clock that says what it was set to; [`TestClock::unset`] makes it say "no time".
#[derive(Debug)]
pub struct TestClock(AtomicU64);

/// The stored value meaning "no time".
const NO_TIME: u64 = u64::MAX;

impl TestClock {
    /// A clock at `now`.
    pub fn at(now: u64) -> Self {
        Self(AtomicU64::new(now.min(NO_TIME - 1)))
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now.min(NO_TIME - 1), Ordering::SeqCst);
    }

    /// Moves the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        let _ = self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
            (t != NO_TIME).then(|| t.saturating_add(secs).min(NO_TIME - 1))
        });
    }

    /// Makes the clock say "no time": every reading is an error.
    pub fn unset(&self) {
        self.0.store(NO_TIME, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Result<u64> {
        match self.0.load(Ordering::SeqCst) {
            NO_TIME => Err(EngineError::Clock {
                detail: "the test clock is set to no time".into(),
            }),
            t => Ok(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_sets_advances_and_can_say_no_time() {
        let c = TestClock::at(100);
        assert_eq!(c.now().unwrap(), 100);
        c.advance(5);
        assert_eq!(c.now().unwrap(), 105);
        c.unset();
        assert!(matches!(c.now(), Err(EngineError::Clock { .. })));
        c.advance(5);
        assert!(c.now().is_err(), "advancing no time stays no time");
        c.set(7);
        assert_eq!(c.now().unwrap(), 7);
        assert!(SystemClock.now().unwrap() > 1_600_000_000);
    }
}
