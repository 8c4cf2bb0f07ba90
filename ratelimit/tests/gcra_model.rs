//! Property tests of the limiter against an independent reference model of GCRA, over a
//! fake clock.
//!
//! The model keeps every allowed request `(time, weight)` of a key and never stores a
//! theoretical arrival time: a request of weight `n` at `now` is allowed exactly when, for
//! every earlier allowed request `j`, the weight allowed since `j` (inclusive) plus `n` fits
//! in `burst` plus what the elapsed time earned — `a_j + T·(Σ_{i≥j} w_i + n) ≤ now + burst·T`
//! — which unrolls GCRA's `tat = max(tat, now) + n·T`.

use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use proptest::prelude::*;
use ratelimit::clock::FakeClock;
use ratelimit::{InsufficientCapacity, LimitedReason, Limiter, Quota};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed { remaining: u32 },
    Limited { retry_after: u64 },
    TooHeavy,
}

/// The reference model: per key, the list of allowed requests.
struct Model {
    interval: u128,
    burst: u32,
    allowed: HashMap<u8, Vec<(u128, u32)>>,
}

impl Model {
    fn new(interval: u64, burst: u32) -> Self {
        Self {
            interval: u128::from(interval),
            burst,
            allowed: HashMap::new(),
        }
    }

    fn check(&mut self, key: u8, now: u128, n: u32) -> Outcome {
        if n > self.burst {
            return Outcome::TooHeavy;
        }
        let t = self.interval;
        let horizon = now + u128::from(self.burst) * t;
        let history = self.allowed.entry(key).or_default();
        // The latest time the bucket would be empty after this request: the largest of
        // `now + n·T` and, for each earlier allowed request, its time plus the weight
        // allowed since then and this one's.
        let mut latest = now + u128::from(n) * t;
        let mut since = u128::from(n);
        for &(at, weight) in history.iter().rev() {
            since += u128::from(weight);
            latest = latest.max(at + since * t);
        }
        if latest > horizon {
            Outcome::Limited {
                retry_after: u64::try_from(latest - horizon).unwrap(),
            }
        } else {
            history.push((now, n));
            Outcome::Allowed {
                remaining: u32::try_from((horizon - latest) / t).unwrap(),
            }
        }
    }
}

fn check(limiter: &Limiter<FakeClock>, key: u8, n: u32) -> Outcome {
    match limiter.check_n(&[key], NonZeroU32::new(n).unwrap()) {
        Err(InsufficientCapacity { .. }) => Outcome::TooHeavy,
        Ok(Ok(allowed)) => Outcome::Allowed {
            remaining: allowed.remaining_burst(),
        },
        Ok(Err(limited)) => {
            assert_eq!(limited.reason(), LimitedReason::Quota);
            Outcome::Limited {
                retry_after: u64::try_from(limited.retry_after().as_nanos()).unwrap(),
            }
        }
    }
}

/// One step: advance the clock, then check `key` with weight `n`.
#[derive(Debug, Clone, Copy)]
struct Step {
    advance: u64,
    key: u8,
    weight: u32,
}

/// An interval (ns), a burst, and steps whose advances are on the interval's scale (often
/// zero, sometimes a fraction of it, sometimes several intervals).
fn scenario() -> impl Strategy<Value = (u64, u32, Vec<Step>)> {
    (1u64..=5_000_000, 1u32..=8).prop_flat_map(|(interval, burst)| {
        let advance = prop_oneof![
            3 => Just(0u64),
            4 => 0..=interval,
            2 => 0..=interval * u64::from(burst) * 2,
            1 => Just(interval),
        ];
        let step = (advance, 0u8..4, 1..=burst + 1).prop_map(|(advance, key, weight)| Step {
            advance,
            key,
            weight,
        });
        (
            Just(interval),
            Just(burst),
            prop::collection::vec(step, 1..150),
        )
    })
}

fn limiter(interval: u64, burst: u32) -> (Limiter<FakeClock>, FakeClock) {
    let clock = FakeClock::new();
    let quota = Quota::with_period(Duration::from_nanos(interval))
        .unwrap()
        .with_burst(NonZeroU32::new(burst).unwrap());
    // Far more room than the four keys need: nothing is evicted.
    let limiter = Limiter::new(quota, NonZeroUsize::new(1_024).unwrap()).with_clock(clock.clone());
    (limiter, clock)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Integration tests have no lib.rs for proptest to place regression files beside.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (a) Every decision, remaining count and wait equals the model's.
    #[test]
    fn decisions_equal_the_model((interval, burst, steps) in scenario()) {
        let (limiter, clock) = limiter(interval, burst);
        let mut model = Model::new(interval, burst);
        let mut now = 0u128;
        for (i, step) in steps.iter().enumerate() {
            clock.advance(Duration::from_nanos(step.advance));
            now += u128::from(step.advance);
            let expected = model.check(step.key, now, step.weight);
            let actual = check(&limiter, step.key, step.weight);
            prop_assert_eq!(actual, expected, "step {}: {:?}", i, step);
        }
    }

    /// (b) In any window `[a_i, a_j]`, the allowed weight is at most
    /// `burst + (a_j - a_i) / T`.
    #[test]
    fn never_more_than_burst_plus_rate_times_t((interval, burst, steps) in scenario()) {
        let (limiter, clock) = limiter(interval, burst);
        let mut allowed: HashMap<u8, Vec<(u64, u32)>> = HashMap::new();
        let mut now = 0u64;
        for step in &steps {
            clock.advance(Duration::from_nanos(step.advance));
            now += step.advance;
            if let Outcome::Allowed { .. } = check(&limiter, step.key, step.weight) {
                allowed.entry(step.key).or_default().push((now, step.weight));
            }
        }
        for history in allowed.values() {
            for i in 0..history.len() {
                let mut weight = 0u64;
                for j in i..history.len() {
                    weight += u64::from(history[j].1);
                    let elapsed = history[j].0 - history[i].0;
                    let earned = weight.saturating_sub(u64::from(burst));
                    prop_assert!(
                        earned * interval <= elapsed,
                        "{} allowed within {} ns (burst {}, T {})",
                        weight, elapsed, burst, interval
                    );
                }
            }
        }
    }

    /// (c) A limited request retried exactly `retry_after` later is allowed; 1 ns earlier
    /// it is not (and is told to wait exactly 1 ns more).
    #[test]
    fn retry_after_is_exact(
        (interval, burst, steps) in scenario(),
        key in 0u8..4,
        weight_pick in 1u32..=8,
    ) {
        let (limiter, clock) = limiter(interval, burst);
        for step in &steps {
            clock.advance(Duration::from_nanos(step.advance));
            check(&limiter, step.key, step.weight);
        }
        let weight = weight_pick.min(burst);
        // Make sure the key is limited: spend its burst.
        let mut outcome = check(&limiter, key, weight);
        while let Outcome::Allowed { .. } = outcome {
            outcome = check(&limiter, key, weight);
        }
        let Outcome::Limited { retry_after } = outcome else {
            panic!("a weight within the burst is never too heavy");
        };
        prop_assert!(retry_after >= 1);
        clock.advance(Duration::from_nanos(retry_after - 1));
        prop_assert_eq!(check(&limiter, key, weight), Outcome::Limited { retry_after: 1 });
        clock.advance(Duration::from_nanos(1));
        let allowed = matches!(check(&limiter, key, weight), Outcome::Allowed { .. });
        prop_assert!(allowed, "allowed exactly retry_after later");
    }
}

#[test]
fn the_model_agrees_with_a_hand_worked_example() {
    // T = 100, burst 3.
    let mut model = Model::new(100, 3);
    assert_eq!(model.check(0, 0, 1), Outcome::Allowed { remaining: 2 });
    assert_eq!(model.check(0, 0, 2), Outcome::Allowed { remaining: 0 });
    assert_eq!(model.check(0, 0, 1), Outcome::Limited { retry_after: 100 });
    assert_eq!(model.check(0, 150, 1), Outcome::Allowed { remaining: 0 });
    assert_eq!(
        model.check(0, 150, 2),
        Outcome::Limited { retry_after: 150 }
    );
    assert_eq!(model.check(0, 150, 4), Outcome::TooHeavy);
    assert_eq!(model.check(1, 150, 3), Outcome::Allowed { remaining: 0 });
}

/// Threads racing on the same keys at a frozen instant: exactly the burst is allowed per
/// key, however the compare-and-swap retries interleave.
#[test]
fn concurrent_checks_allow_exactly_the_burst() {
    let (limiter, clock) = limiter(1_000_000, 1_000);
    for round in 0..3u8 {
        let allowed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        for key in [round, round + 100] {
                            if limiter.check(&[key]).is_ok() {
                                allowed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.into_inner(), 2_000, "round {round}");
        clock.advance(Duration::from_millis(1));
    }
}
