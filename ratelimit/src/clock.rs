//! Monotonic time, injectable.
//!
//! | clock | reads | when |
//! |---|---|---|
//! | [`MonotonicClock`] (default) | std's `Instant` | always monotonic |
//! | `QuantaClock` (feature `quanta`) | the TSC, through `quanta` | hot paths on hosts with a synchronised TSC |
//! | [`FakeClock`] | a counter moved by hand | tests |

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock: the time since a fixed origin of the clock's choosing.
///
/// Contract: cheap (called once per check) and meant never to go backwards. The default,
/// [`MonotonicClock`] (std's `Instant`), keeps that promise everywhere. The opt-in
/// `QuantaClock` (feature `quanta`) reads the TSC, which is much cheaper but can
/// disagree between cores on some machines; its docs say what that does to the limits.
///
/// A reading earlier than a key's stored state never panics or wraps (the arithmetic
/// saturates): it only makes that check stricter.
pub trait Clock: Send + Sync + 'static {
    /// The time since this clock's origin.
    fn now(&self) -> Duration;
}

/// std's `Instant`, from the moment the clock was created.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    #[inline]
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// The CPU's time-stamp counter (TSC) through [`quanta`], from the moment the clock was
/// created. It is read in a few nanoseconds without a call into the OS; on the VM where
/// `benches/vs_governor.rs` ran, a check of a hot key took 21 ns on it and 56 ns on std's
/// `Instant`.
///
/// ```
/// use std::num::{NonZeroU32, NonZeroUsize};
/// use ratelimit::clock::QuantaClock;
/// use ratelimit::{Limiter, Quota};
///
/// let limiter = Limiter::new(
///     Quota::per_second(NonZeroU32::new(2).unwrap()),
///     NonZeroUsize::new(10_000).unwrap(),
/// )
/// .with_clock(QuantaClock::new());
/// assert!(limiter.check(b"alice").is_ok());
/// assert!(limiter.check(b"alice").is_ok());
/// assert!(limiter.check(b"alice").is_err());
/// ```
///
/// # The trade-off
///
/// Not the default, because the TSC is not always monotonic. `quanta` uses it only when the
/// CPU reports an invariant TSC (otherwise it falls back to the OS's monotonic clock), but
/// it cannot tell whether the cores' counters agree: on some machines and virtual machines
/// they do not, and a thread moved to another core can read a time earlier than one it read
/// before (governor issue #299; quanta issue #111 reports offsets of over a second). With
/// readings that disagree by up to `d`:
///
/// - A reading earlier than a key's state never panics or wraps: a negative elapsed time
///   reads as zero, and the algorithm's arithmetic saturates. It only makes that check
///   stricter: a request the burst would have allowed may be refused (governor #299's
///   symptom), and `retry_after` can be up to `d` too long.
/// - A reading later than the truth refills a key's bucket early: at most `d × rate`
///   requests more than the quota get through, on top of the burst.
///
/// Rates are also only as accurate as quanta's calibration of the TSC against the OS clock.
/// Use this clock where the hosts' TSCs are known to be synchronised and the clock's cost
/// shows; stay on [`MonotonicClock`] otherwise.
#[cfg(feature = "quanta")]
#[cfg_attr(docsrs, doc(cfg(feature = "quanta")))]
#[derive(Debug, Clone)]
pub struct QuantaClock {
    clock: quanta::Clock,
    origin: u64,
}

#[cfg(feature = "quanta")]
impl QuantaClock {
    /// A clock at its origin. The first one in a process calibrates the TSC against the OS
    /// clock (a busy loop of one to 200 milliseconds); later ones reuse that calibration.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        Self { clock, origin }
    }
}

#[cfg(feature = "quanta")]
impl Default for QuantaClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "quanta")]
impl Clock for QuantaClock {
    #[inline]
    fn now(&self) -> Duration {
        // Zero, not a wrapped value, when this core's counter is behind the origin's.
        Duration::from_nanos(self.clock.delta_as_nanos(self.origin, self.clock.raw()))
    }
}

/// A clock that moves only when told to, shared by its clones. For tests.
#[derive(Clone, Default)]
pub struct FakeClock {
    nanos: Arc<AtomicU64>,
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FakeClock").field(&self.now()).finish()
    }
}

impl FakeClock {
    /// A clock at its origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for Arc<C> {
    #[inline]
    fn now(&self) -> Duration {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LimitedReason, Limiter, Quota};
    use std::num::{NonZeroU32, NonZeroUsize};

    /// A clock set to any reading, backwards included.
    #[derive(Clone, Default)]
    struct SetClock(Arc<AtomicU64>);

    impl SetClock {
        fn set(&self, to: Duration) {
            self.0.store(to.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    impl Clock for SetClock {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
    }

    fn limiter<C: Clock>(per_second: u32, burst: u32, clock: C) -> Limiter<C> {
        Limiter::new(
            Quota::per_second(NonZeroU32::new(per_second).unwrap())
                .with_burst(NonZeroU32::new(burst).unwrap()),
            NonZeroUsize::new(16).unwrap(),
        )
        .with_clock(clock)
    }

    #[test]
    fn a_backward_step_is_stricter_and_a_forward_one_lets_d_times_rate_through() {
        let clock = SetClock::default();
        let limiter = limiter(10, 3, clock.clone());
        clock.set(Duration::from_secs(10));
        for _ in 0..3 {
            assert!(limiter.check(b"k").is_ok());
        }
        // At the true time the wait would be 100 ms; a reading 1 s early refuses (no panic,
        // no wrap) and overstates the wait by the step.
        clock.set(Duration::from_secs(9));
        let limited = limiter.check(b"k").unwrap_err();
        assert_eq!(limited.reason(), LimitedReason::Quota);
        assert_eq!(limited.retry_after(), Duration::from_millis(1_100));
        clock.set(Duration::ZERO);
        assert!(limiter.check(b"k").is_err());
        assert!(
            limiter.check(b"fresh").is_ok(),
            "a new key still gets its burst"
        );
        // Back at the true 10 s, the key is still out of requests; a reading 200 ms late
        // lets 200 ms × 10/s through (a full bucket caps it: never more than the burst).
        clock.set(Duration::from_secs(10));
        assert!(limiter.check(b"k").is_err());
        clock.set(Duration::from_millis(10_200));
        let extra = (0..100).take_while(|_| limiter.check(b"k").is_ok()).count();
        assert_eq!(extra, 2);
    }

    #[cfg(feature = "quanta")]
    #[test]
    fn quanta_clock_advances_across_a_sleep_and_never_goes_back() {
        let clock = QuantaClock::new();
        let before = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let after = clock.now();
        assert!(
            after - before >= Duration::from_millis(20),
            "{before:?} -> {after:?}"
        );
        assert!(
            after - before < Duration::from_secs(5),
            "{before:?} -> {after:?}"
        );
        let mut last = clock.now();
        for _ in 0..10_000 {
            let now = clock.now();
            assert!(now >= last, "went back from {last:?} to {now:?}");
            last = now;
        }
        // Clones share the origin.
        assert!(clock.clone().now() >= last);
    }

    #[cfg(feature = "quanta")]
    #[test]
    fn a_limiter_on_quanta_clock_enforces_the_burst() {
        let limiter = limiter(1, 5, QuantaClock::new());
        for expected in (0..5).rev() {
            assert_eq!(limiter.check(b"k").unwrap().remaining_burst(), expected);
        }
        let limited = limiter.check(b"k").unwrap_err();
        assert_eq!(limited.reason(), LimitedReason::Quota);
        assert!(limited.retry_after() > Duration::ZERO);
        assert!(limited.retry_after() <= Duration::from_secs(1));
        assert!(
            limiter.check(b"other").is_ok(),
            "keys are limited separately"
        );
    }
}
