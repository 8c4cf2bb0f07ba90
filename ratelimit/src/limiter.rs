//! The keyed limiter: GCRA over the bounded store.

use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::clock::{Clock, MonotonicClock};
use crate::gcra::{Decision, Gcra};
use crate::quota::Quota;
use crate::store::{Overflow, Store};

/// A request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    remaining: u32,
}

impl Allowed {
    /// An allowance with `remaining` requests left: for backends outside this crate.
    pub fn new(remaining: u32) -> Self {
        Self { remaining }
    }

    /// How many more requests (of weight 1) the key could make right now.
    pub fn remaining_burst(&self) -> u32 {
        self.remaining
    }
}

/// A request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    retry_after: Duration,
    reason: LimitedReason,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitedReason {
    /// The key used up its quota.
    Quota,
    /// The store is full of active states and the overflow policy is
    /// [`Overflow::Reject`].
    Overflow,
    /// A weighted request heavier than the whole burst: no wait helps
    /// (`retry_after` is `Duration::MAX`).
    ExceedsBurst,
    /// A remote backend failed and its failure policy is to refuse.
    BackendUnavailable,
}

impl Limited {
    /// A refusal: for backends outside this crate and for tests.
    pub fn new(retry_after: Duration, reason: LimitedReason) -> Self {
        Self {
            retry_after,
            reason,
        }
    }

    /// How long until the same request would be allowed (exact for [`LimitedReason::Quota`];
    /// one replenish interval for [`LimitedReason::Overflow`]).
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// Why.
    pub fn reason(&self) -> LimitedReason {
        self.reason
    }
}

impl fmt::Display for Limited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rate limited; retry after {:?}", self.retry_after)
    }
}

impl std::error::Error for Limited {}

/// A weighted request heavier than the whole burst: it can never be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request of weight {weight} exceeds the burst of {burst}")]
pub struct InsufficientCapacity {
    /// The request's weight.
    pub weight: u32,
    /// The quota's burst.
    pub burst: u32,
}

/// Counters and sizes of a limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimiterStats {
    /// Keys with a state now.
    pub len: usize,
    /// The most keys with a state at once.
    pub capacity: usize,
    /// States evicted to admit new keys.
    pub evictions: u64,
    /// Checks of unadmitted keys on the shared bucket ([`Overflow::SharedBucket`]).
    pub overflow_shared: u64,
    /// Checks refused because the store was full ([`Overflow::Reject`]).
    pub overflow_rejected: u64,
}

/// A keyed GCRA rate limiter with a fixed number of states.
///
/// ```
/// use std::num::{NonZeroU32, NonZeroUsize};
/// use ratelimit::{Limiter, Quota};
///
/// let limiter = Limiter::new(
///     Quota::per_second(NonZeroU32::new(2).unwrap()),
///     NonZeroUsize::new(10_000).unwrap(),
/// );
/// assert_eq!(limiter.check(b"alice").unwrap().remaining_burst(), 1);
/// assert_eq!(limiter.check(b"alice").unwrap().remaining_burst(), 0);
/// let limited = limiter.check(b"alice").unwrap_err();
/// assert!(limited.retry_after() <= std::time::Duration::from_millis(500));
/// assert!(limiter.check(b"bob").is_ok(), "keys are limited separately");
/// ```
pub struct Limiter<C = MonotonicClock> {
    quota: Quota,
    gcra: Gcra,
    store: Store,
    clock: C,
}

impl<C> fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("quota", &self.quota)
            .field("capacity", &self.store.capacity())
            .field("overflow", &self.store.overflow())
            .finish_non_exhaustive()
    }
}

impl Limiter<MonotonicClock> {
    /// A limiter for `quota` keeping at most `capacity` keys' states, with
    /// [`Overflow::EvictLru`] and the monotonic clock.
    ///
    /// The states' table starts small and grows with the keys seen, never beyond 16 bytes
    /// per slot and 4/3 to 8/3 slots per state of capacity (measured at a capacity of a
    /// million: 37.5 bytes per state once full).
    pub fn new(quota: Quota, capacity: NonZeroUsize) -> Self {
        Self {
            quota,
            gcra: Gcra::new(&quota),
            store: Store::new(capacity, Overflow::default()),
            clock: MonotonicClock::default(),
        }
    }
}

impl<C: Clock> Limiter<C> {
    /// The same limiter with `overflow` deciding what new keys get when it is full.
    #[must_use]
    pub fn with_overflow(self, overflow: Overflow) -> Self {
        Self {
            store: Store::new(
                NonZeroUsize::new(self.store.capacity()).expect("non-zero"),
                overflow,
            ),
            ..self
        }
    }

    /// The same limiter on another clock (tests use [`FakeClock`](crate::clock::FakeClock)).
    pub fn with_clock<D: Clock>(self, clock: D) -> Limiter<D> {
        Limiter {
            quota: self.quota,
            gcra: self.gcra,
            store: self.store,
            clock,
        }
    }

    /// Checks one request of `key`.
    ///
    /// # Errors
    ///
    /// [`Limited`] when the key is over its quota (or the store refuses it).
    pub fn check(&self, key: &[u8]) -> Result<Allowed, Limited> {
        self.decide(key, 1)
    }

    /// Checks a request that counts as `n` requests.
    ///
    /// # Errors
    ///
    /// [`InsufficientCapacity`] when `n` exceeds the burst (no wait would help); inside,
    /// [`Limited`] as for [`check`](Self::check).
    pub fn check_n(
        &self,
        key: &[u8],
        n: NonZeroU32,
    ) -> Result<Result<Allowed, Limited>, InsufficientCapacity> {
        if n.get() > self.gcra.burst() {
            return Err(InsufficientCapacity {
                weight: n.get(),
                burst: self.gcra.burst(),
            });
        }
        Ok(self.decide(key, n.get()))
    }

    fn decide(&self, key: &[u8], n: u32) -> Result<Allowed, Limited> {
        let now = u64::try_from(self.clock.now().as_nanos()).unwrap_or(u64::MAX);
        let gcra = self.gcra;
        let decision = self.store.update(key, now, |tat| {
            let decision = gcra.decide(*tat, now, n);
            if let Decision::Allow { tat: new_tat, .. } = decision {
                *tat = new_tat;
            }
            decision
        });
        match decision {
            Some(Decision::Allow { remaining, .. }) => Ok(Allowed { remaining }),
            Some(Decision::Deny { wait }) => Err(Limited {
                retry_after: Duration::from_nanos(wait),
                reason: LimitedReason::Quota,
            }),
            None => Err(Limited {
                retry_after: Duration::from_nanos(self.gcra.interval()),
                reason: LimitedReason::Overflow,
            }),
        }
    }

    /// The quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Counters and sizes.
    pub fn stats(&self) -> LimiterStats {
        let c = &self.store.counters;
        LimiterStats {
            len: self.store.len(),
            capacity: self.store.capacity(),
            evictions: c.evictions.load(Ordering::Relaxed),
            overflow_shared: c.overflow_shared.load(Ordering::Relaxed),
            overflow_rejected: c.overflow_rejected.load(Ordering::Relaxed),
        }
    }

    /// Keys with a state now (at most the capacity).
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether no key has a state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every state that has drained (indistinguishable from a fresh key), returning
    /// how many went. Memory is bounded without it; it frees slots for new keys without
    /// evicting anything.
    pub fn retain_active(&self) -> usize {
        let now = u64::try_from(self.clock.now().as_nanos()).unwrap_or(u64::MAX);
        self.store.retain_active(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn limiter(per_second: u32, burst: u32, capacity: usize) -> (Limiter<FakeClock>, FakeClock) {
        let clock = FakeClock::new();
        let limiter = Limiter::new(
            Quota::per_second(nz(per_second)).with_burst(nz(burst)),
            NonZeroUsize::new(capacity).unwrap(),
        )
        .with_clock(clock.clone());
        (limiter, clock)
    }

    #[test]
    fn retry_after_is_exact() {
        let (limiter, clock) = limiter(4, 2, 100);
        assert!(limiter.check(b"k").is_ok());
        assert!(limiter.check(b"k").is_ok());
        let limited = limiter.check(b"k").unwrap_err();
        assert_eq!(limited.retry_after(), Duration::from_millis(250));
        assert_eq!(limited.reason(), LimitedReason::Quota);
        clock.advance(Duration::from_millis(249));
        assert_eq!(
            limiter.check(b"k").unwrap_err().retry_after(),
            Duration::from_millis(1)
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(limiter.check(b"k").unwrap().remaining_burst(), 0);
    }

    #[test]
    fn weighted_requests() {
        let (limiter, _) = limiter(1, 5, 100);
        assert_eq!(
            limiter.check_n(b"k", nz(6)),
            Err(InsufficientCapacity {
                weight: 6,
                burst: 5
            })
        );
        assert_eq!(
            limiter
                .check_n(b"k", nz(3))
                .unwrap()
                .unwrap()
                .remaining_burst(),
            2
        );
        assert!(limiter.check_n(b"k", nz(3)).unwrap().is_err());
        assert!(limiter.check_n(b"k", nz(2)).unwrap().is_ok());
    }

    #[test]
    fn stats_and_reject_overflow() {
        let (limiter, clock) = limiter(1, 1, 1);
        let limiter = limiter.with_overflow(Overflow::Reject);
        assert!(limiter.check(b"a").is_ok());
        let refused = limiter.check(b"b").unwrap_err();
        assert_eq!(refused.reason(), LimitedReason::Overflow);
        clock.advance(Duration::from_secs(1));
        assert!(
            limiter.check(b"b").is_ok(),
            "a's state drained: b is admitted"
        );
        let stats = limiter.stats();
        assert_eq!(
            (
                stats.len,
                stats.capacity,
                stats.evictions,
                stats.overflow_rejected
            ),
            (1, 1, 1, 1)
        );
        assert!(!format!("{limiter:?}").is_empty());
    }
}
