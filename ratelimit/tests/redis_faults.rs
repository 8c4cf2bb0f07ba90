//! The Redis backend under load while Redis fails: a real `redis-server` behind a
//! [`FaultProxy`](testkit::FaultProxy), two fail-open stores and one fail-closed store
//! sharing it, and tasks checking keys throughout. Redis is killed (by pid), restarted on its port, made slower
//! than the budget, blackholed and refused, with normal service in between.
//!
//! Asserted in every phase: no fail-open check returns anything but its quota's answer
//! (`Ok`, or `Limited` for [`LimitedReason::Quota`]); a fail-closed check refuses only with
//! the documented [`LimitedReason::BackendUnavailable`]; every check answers within
//! [`HANG`]. After each fault is lifted, one limit is shared by the two fail-open stores
//! again within a second ([`SCRIPT`], run by `testkit::redis_faults`; the measured times
//! are printed).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ratelimit::redis::{FailurePolicy, RedisStore, UNAVAILABLE_RETRY_AFTER};
use ratelimit::{Backend, LimitedReason, Quota};
use testkit::redis_faults::{FaultScript, RedisBehindProxy, SharedTier};

/// The per-check budget. Above the crate's 5 ms default so that a loaded 2-core CI
/// machine does not fall back during the *normal* phases, which would only delay the
/// recovery probes; the behaviour under faults is the same.
const BUDGET: Duration = Duration::from_millis(50);
/// A connection attempt's limit (the gateway's default is 1 s; shorter keeps attempts
/// stuck in a black hole from holding recovery back).
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// The hang bound per check: the budget plus 500 ms of scheduling slack. A check that
/// waits for Redis beyond its budget, or for a reconnection, blows through it; a slow CI
/// machine does not come near it. Not a performance assertion.
const HANG: Duration = Duration::from_millis(550);
/// The fault script: one limit must be shared again within 1 s of Redis returning (the
/// issue's "within a second"); replies are delayed 200 ms, well beyond the budget (the
/// connection's own response timeout is 250 ms: the replies still arrive, late, so this
/// exercises the budget, not an I/O error); each fault lasts 1.2 s under load; Redis
/// stays dead, or refused, 2.5 s: long enough for the reconnection backoff to reach its
/// cap (50 + 100 + 200 + 400 + 800 ms), so recovery is bounded by the cap, not by luck.
const SCRIPT: FaultScript = FaultScript {
    fault_time: Duration::from_millis(1200),
    outage: Duration::from_millis(2500),
    ..FaultScript::DEFAULT
};
/// Tasks checking keys per store.
const TASKS_PER_STORE: usize = 3;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// What the load saw.
#[derive(Debug, Default)]
struct Load {
    checks: AtomicU64,
    /// Fail-open checks answered with anything but `Ok` or a quota denial.
    open_errors: AtomicU64,
    /// Fail-closed refusals that are not the documented `BackendUnavailable`.
    closed_wrong: AtomicU64,
    /// Fail-closed `BackendUnavailable` refusals (expected while Redis is away).
    closed_unavailable: AtomicU64,
    /// The slowest check, in microseconds.
    max_micros: AtomicU64,
}

impl Load {
    fn record(&self, latency: Duration) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    fn max(&self) -> Duration {
        Duration::from_micros(self.max_micros.load(Ordering::Relaxed))
    }
}

/// Checks keys on `store` until `stop`, pacing itself (a fallback answers without
/// awaiting anything, and an unpaced loop would starve the runtime's other tasks).
async fn load(store: RedisStore, task: usize, stop: Arc<AtomicBool>, seen: Arc<Load>) {
    let policy = store.failure_policy();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // A few hot keys (limited most of the time) and a stream of fresh ones.
        let key = if i % 2 == 0 {
            format!("hot-{}", i % 7)
        } else {
            format!("load-{task}-{i}")
        };
        let started = Instant::now();
        let answer = store.check(key.as_bytes()).await;
        seen.record(started.elapsed());
        match (policy, answer) {
            (_, Ok(_)) => {}
            (_, Err(limited)) if limited.reason() == LimitedReason::Quota => {}
            (FailurePolicy::FailClosed, Err(limited))
                if limited.reason() == LimitedReason::BackendUnavailable
                    && limited.retry_after() == UNAVAILABLE_RETRY_AFTER =>
            {
                seen.closed_unavailable.fetch_add(1, Ordering::Relaxed);
            }
            (FailurePolicy::FailClosed, Err(_)) => {
                seen.closed_wrong.fetch_add(1, Ordering::Relaxed);
            }
            (_, Err(_)) => {
                seen.open_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The two fail-open stores, probed by [`FaultScript`], and the fail-closed load whose
/// `BackendUnavailable` refusals must grow while Redis is down.
struct Tier<'a> {
    a: &'a RedisStore,
    b: &'a RedisStore,
    burst: u32,
    probes: u64,
    closed_load: &'a Load,
    unavailable: u64,
}

impl SharedTier for Tier<'_> {
    /// Whether one limit is shared by `a` and `b` right now: `a` spends a fresh key's
    /// burst, then `b` must be refused by the quota. Only Redis can tell `b` (the local
    /// fallbacks never saw the key), so there is no false positive.
    async fn shared(&mut self) -> bool {
        self.probes += 1;
        let key = format!("probe-{}", self.probes);
        for _ in 0..self.burst {
            if self.a.check(key.as_bytes()).await.is_err() {
                return false;
            }
        }
        matches!(self.b.check(key.as_bytes()).await, Err(l) if l.reason() == LimitedReason::Quota)
    }

    fn timeouts(&self) -> u64 {
        self.a.stats().timeouts
    }

    fn describe(&self) -> String {
        format!("A {:?}, B {:?}", self.a.stats(), self.b.stats())
    }

    fn before_kill(&mut self) {
        self.unavailable = self.closed_load.closed_unavailable.load(Ordering::Relaxed);
    }

    fn while_dead(&mut self) {
        assert!(
            self.closed_load.closed_unavailable.load(Ordering::Relaxed) > self.unavailable,
            "fail-closed refuses while Redis is down"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_under_load_survive_every_redis_fault_and_sharing_returns_within_a_second() {
    let Some(mut redis) = RedisBehindProxy::start().await else {
        return;
    };
    let url = redis.url();
    // 5 at once, one more a minute: nothing is earned back during the test.
    let burst = 5;
    let quota = Quota::per_minute(nz(1)).with_burst(nz(burst));
    let build = |policy| {
        RedisStore::builder_url(&url, quota)
            .unwrap()
            .prefix("rl:faults:")
            .timeout(BUDGET)
            .connect_timeout(CONNECT_TIMEOUT)
            .failure_policy(policy)
            .build()
    };
    let a = build(FailurePolicy::FailOpen).await.unwrap();
    let b = build(FailurePolicy::FailOpen).await.unwrap();
    let closed = build(FailurePolicy::FailClosed).await.unwrap();
    assert_eq!(a.failure_policy(), FailurePolicy::default(), "the default");

    let stop = Arc::new(AtomicBool::new(false));
    let open_load = Arc::new(Load::default());
    let closed_load = Arc::new(Load::default());
    let mut tasks = Vec::new();
    for (n, (store, seen)) in [(&a, &open_load), (&b, &open_load), (&closed, &closed_load)]
        .into_iter()
        .enumerate()
    {
        for t in 0..TASKS_PER_STORE {
            tasks.push(tokio::spawn(load(
                store.clone(),
                n * TASKS_PER_STORE + t,
                Arc::clone(&stop),
                Arc::clone(seen),
            )));
        }
    }
    let started = Instant::now();
    let mut tier = Tier {
        a: &a,
        b: &b,
        burst,
        probes: 0,
        closed_load: &closed_load,
        unavailable: 0,
    };
    let recoveries = SCRIPT.run(&mut tier, &mut redis).await;

    // Every task must stop promptly.
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        tokio::time::timeout(HANG, task)
            .await
            .expect("a load task stopped within the hang bound")
            .unwrap();
    }

    let elapsed = started.elapsed();
    println!(
        "{} checks in {elapsed:?}; slowest fail-open {:?}, fail-closed {:?}; recoveries {recoveries:?}",
        open_load.checks.load(Ordering::Relaxed) + closed_load.checks.load(Ordering::Relaxed),
        open_load.max(),
        closed_load.max()
    );
    println!(
        "A {:?}\nB {:?}\nclosed {:?}\nproxy {:?}",
        a.stats(),
        b.stats(),
        closed.stats(),
        redis.proxy.stats()
    );
    assert_eq!(
        open_load.open_errors.load(Ordering::Relaxed),
        0,
        "fail-open never errs"
    );
    assert_eq!(closed_load.closed_wrong.load(Ordering::Relaxed), 0);
    for (what, seen) in [("fail-open", &open_load), ("fail-closed", &closed_load)] {
        assert!(
            seen.checks.load(Ordering::Relaxed) > 1000,
            "{what}: {seen:?}"
        );
        assert!(seen.max() < HANG, "{what}: a check took {:?}", seen.max());
    }
    // Every fault was felt, and handled by the policy, not by the caller.
    let stats = a.stats();
    assert!(
        stats.fallbacks > 0 && stats.timeouts > 0 && stats.redis_errors > 0,
        "{stats:?}"
    );
    assert!(stats.reconnects >= 3, "{stats:?}");
    assert!(stats.connected, "{stats:?}");
}
