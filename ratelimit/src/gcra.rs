//! The generic cell rate algorithm, on one 64-bit theoretical arrival time (TAT).
//!
//! A key's state is the time at which its bucket would be empty again if no more requests
//! came: the TAT, in nanoseconds since the clock's origin (0 for a key never seen). A
//! request of weight `n` at `now` is allowed when `max(tat, now) + n·T ≤ now + burst·T`,
//! and then moves the TAT there; otherwise it may retry after exactly the difference.

use crate::quota::Quota;

/// A quota in the integer form the algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Nanoseconds per request (T).
    interval: u64,
    /// burst · T: how far ahead of now the TAT may run.
    capacity: u64,
    burst: u32,
}

/// The outcome of one check on one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Allowed: store `tat`; `remaining` requests of weight 1 could follow at once.
    Allow { tat: u64, remaining: u32 },
    /// Refused: the state is unchanged; the same request is allowed after `wait` ns.
    Deny { wait: u64 },
}

impl Gcra {
    pub(crate) fn new(quota: &Quota) -> Self {
        let interval = quota.interval_nanos();
        let burst = quota.burst().get();
        Self {
            interval,
            capacity: interval.saturating_mul(u64::from(burst)),
            burst,
        }
    }

    pub(crate) fn burst(&self) -> u32 {
        self.burst
    }

    pub(crate) fn interval(&self) -> u64 {
        self.interval
    }

    /// Judges a request of weight `n` (`1..=burst`) at `now` against `tat`.
    #[inline]
    pub(crate) fn decide(&self, tat: u64, now: u64, n: u32) -> Decision {
        debug_assert!(n >= 1 && n <= self.burst, "the caller checks the weight");
        let start = tat.max(now);
        let new_tat = start.saturating_add(self.interval.saturating_mul(u64::from(n)));
        let limit = now.saturating_add(self.capacity);
        if new_tat > limit {
            Decision::Deny {
                wait: new_tat - limit,
            }
        } else {
            let remaining = (limit - new_tat) / self.interval;
            Decision::Allow {
                tat: new_tat,
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            }
        }
    }

    /// Whether a state at `tat` is indistinguishable from a fresh one at `now`.
    #[inline]
    pub(crate) fn is_drained(tat: u64, now: u64) -> bool {
        tat <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;
    use std::time::Duration;

    fn gcra(per_second: u32, burst: u32) -> Gcra {
        Gcra::new(
            &Quota::per_second(NonZeroU32::new(per_second).unwrap())
                .with_burst(NonZeroU32::new(burst).unwrap()),
        )
    }

    #[test]
    fn a_burst_then_one_per_interval() {
        let g = gcra(10, 3);
        let t = Duration::from_millis(100).as_nanos() as u64;
        let mut tat = 0;
        for expected_remaining in [2, 1, 0] {
            match g.decide(tat, 0, 1) {
                Decision::Allow {
                    tat: next,
                    remaining,
                } => {
                    assert_eq!(remaining, expected_remaining);
                    tat = next;
                }
                Decision::Deny { .. } => panic!("within the burst"),
            }
        }
        assert_eq!(g.decide(tat, 0, 1), Decision::Deny { wait: t });
        assert!(matches!(
            g.decide(tat, t - 1, 1),
            Decision::Deny { wait: 1 }
        ));
        assert!(matches!(
            g.decide(tat, t, 1),
            Decision::Allow { remaining: 0, .. }
        ));
    }

    #[test]
    fn weights_count_as_several_requests() {
        let g = gcra(1, 5);
        assert!(matches!(
            g.decide(0, 0, 5),
            Decision::Allow { remaining: 0, .. }
        ));
        let Decision::Allow { tat, .. } = g.decide(0, 0, 4) else {
            panic!()
        };
        assert_eq!(
            g.decide(tat, 0, 2),
            Decision::Deny {
                wait: 1_000_000_000
            }
        );
    }
}
