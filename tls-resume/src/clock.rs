//! Time, injectable: ticket keys belong to epochs of wall-clock time (so every instance of
//! a fleet picks the same key), and tests move through a 12-hour key window in microseconds.
//!
//! ```
//! use std::time::Duration;
//! use tls_resume::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
//! clock.advance(Duration::from_secs(3600));
//! assert_eq!(clock.now(), Duration::from_secs(1_700_003_600));
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time, as the duration since the Unix epoch.
///
/// Contract: implementations are cheap (called on every ticket encrypted or decrypted)
/// and roughly agree across the instances that share ticket keys: instances whose clocks
/// differ by less than one rotation period always open each other's tickets.
pub trait Clock: Send + Sync + 'static {
    /// The current time since the Unix epoch.
    fn now(&self) -> Duration;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        // A clock before 1970 is a broken host; treating it as the epoch keeps the ticketer
        // working (with epoch 0) rather than panicking inside a handshake.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }
}

/// A clock that only moves when told to, shared by its clones. For tests and simulations.
#[derive(Clone, Default)]
pub struct ManualClock {
    millis: Arc<AtomicU64>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&self.now()).finish()
    }
}

impl ManualClock {
    /// A clock reading `start` since the epoch.
    pub fn new(start: Duration) -> Self {
        let clock = Self::default();
        clock.set(start);
        clock
    }

    /// Moves the clock forward by `by` (millisecond resolution).
    pub fn advance(&self, by: Duration) {
        self.millis.fetch_add(millis(by), Ordering::SeqCst);
    }

    /// Sets the clock to `now` since the epoch (it may move backwards).
    pub fn set(&self, now: Duration) {
        self.millis.store(millis(now), Ordering::SeqCst);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.millis.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_is_shared() {
        let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
        let other = clock.clone();
        assert_eq!(clock.now(), Duration::from_secs(1_700_000_000));
        other.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), Duration::from_millis(1_700_000_001_500));
        other.set(Duration::from_secs(5));
        assert_eq!(clock.now(), Duration::from_secs(5));
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > Duration::from_secs(1_577_836_800));
    }
}
