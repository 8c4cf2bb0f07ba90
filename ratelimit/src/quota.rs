//! How many requests, how fast: a rate and a burst.

use std::num::NonZeroU32;
use std::time::Duration;

/// A rate limit: one request per `replenish_interval`, with up to `burst` at once.
///
/// `Quota::per_second(n)` allows `n` requests at once and then one every `1/n` s;
/// [`with_burst`](Quota::with_burst) changes how many may come at once without changing
/// the sustained rate.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use ratelimit::Quota;
///
/// let quota = Quota::per_minute(NonZeroU32::new(60).unwrap()).with_burst(NonZeroU32::new(5).unwrap());
/// assert_eq!(quota.replenish_interval(), Duration::from_secs(1));
/// assert_eq!(quota.burst().get(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    interval: Duration,
    burst: NonZeroU32,
}

impl Quota {
    /// `n` requests per second, `n` at once.
    pub const fn per_second(n: NonZeroU32) -> Self {
        Self::per_period(Duration::from_secs(1), n)
    }

    /// `n` requests per minute, `n` at once.
    pub const fn per_minute(n: NonZeroU32) -> Self {
        Self::per_period(Duration::from_secs(60), n)
    }

    /// `n` requests per hour, `n` at once.
    pub const fn per_hour(n: NonZeroU32) -> Self {
        Self::per_period(Duration::from_secs(3600), n)
    }

    const fn per_period(period: Duration, n: NonZeroU32) -> Self {
        // At least one nanosecond between requests, so the arithmetic stays exact.
        let nanos = period.as_nanos() / n.get() as u128;
        let nanos = if nanos == 0 { 1 } else { nanos as u64 };
        Self {
            interval: Duration::from_nanos(nanos),
            burst: n,
        }
    }

    /// One request per `interval`, one at a time; `None` for a zero interval.
    pub const fn with_period(interval: Duration) -> Option<Self> {
        if interval.is_zero() {
            return None;
        }
        Some(Self {
            interval,
            burst: NonZeroU32::MIN,
        })
    }

    /// The same rate, with up to `burst` requests at once.
    #[must_use]
    pub const fn with_burst(self, burst: NonZeroU32) -> Self {
        Self { burst, ..self }
    }

    /// The time it takes to earn one request.
    pub const fn replenish_interval(&self) -> Duration {
        self.interval
    }

    /// How many requests may come at once.
    pub const fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// The interval in nanoseconds (saturating; a quota slower than 584 years is treated
    /// as that slow).
    pub(crate) fn interval_nanos(&self) -> u64 {
        u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The window a full burst takes to earn back: what `RateLimit-Policy`'s `w` reports.
    pub fn window(&self) -> Duration {
        self.interval.saturating_mul(self.burst.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn constructors() {
        let q = Quota::per_second(nz(10));
        assert_eq!(q.replenish_interval(), Duration::from_millis(100));
        assert_eq!(q.burst(), nz(10));
        assert_eq!(q.window(), Duration::from_secs(1));
        let q = Quota::per_minute(nz(3)).with_burst(nz(1));
        assert_eq!(q.replenish_interval(), Duration::from_secs(20));
        assert_eq!(q.burst(), nz(1));
        assert_eq!(
            Quota::per_hour(nz(1)).replenish_interval(),
            Duration::from_secs(3600)
        );
        assert_eq!(Quota::with_period(Duration::ZERO), None);
        assert_eq!(Quota::per_second(nz(u32::MAX)).interval_nanos(), 1);
    }
}
