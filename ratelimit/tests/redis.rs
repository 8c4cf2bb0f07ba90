//! The Redis backend against a real `redis-server`, started by each test on a free loopback
//! port and killed at its end (or when it fails).

use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ratelimit::clock::FakeClock;
use ratelimit::redis::{FailurePolicy, RedisStore, RedisStoreError};
use ratelimit::{Allowed, Backend, Limited, LimitedReason, Limiter, Quota};
use testkit::ChildGuard;

/// An upper bound that catches hangs: far above the budget, not a performance assertion.
const HANG: Duration = Duration::from_millis(200);
/// A budget generous enough that a loaded test machine never falls back by accident.
const PATIENT: Duration = Duration::from_secs(1);
/// A budget for tests that need Redis' answers before an outage: still far below [`HANG`].
const QUICK: Duration = Duration::from_millis(50);

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// Starts `redis-server` on `port` (free, or freed by the server the test killed).
fn start_redis(program: &Path, port: u16) -> ChildGuard {
    testkit::start_redis_on(program, port).expect("redis-server started on its port")
}

fn redis_server() -> Option<(PathBuf, u16, ChildGuard)> {
    let program = testkit::require_program("redis-server")?;
    let (port, guard) = testkit::start_redis(&program);
    Some((program, port, guard))
}

async fn raw_connection(port: u16) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url(port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A check that must answer well within [`HANG`].
async fn check(store: &RedisStore, key: &[u8]) -> Result<Allowed, Limited> {
    tokio::time::timeout(HANG, store.check(key))
        .await
        .expect("a check answered within its bound")
}

/// Checks until one is answered by Redis again, for at most `within`.
async fn wait_until_redis_answers(store: &RedisStore, within: Duration) {
    let deadline = Instant::now() + within;
    let before = store.stats().redis_checks;
    while store.stats().redis_checks == before {
        assert!(
            Instant::now() < deadline,
            "Redis did not answer again within {within:?}: {:?}",
            store.stats()
        );
        let _ = check(store, b"probe").await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lua_gcra_matches_the_in_memory_limiter() {
    let Some((_, port, _server)) = redis_server() else {
        return;
    };
    // One request per 6 s, 5 at once: the test's own pace never earns a request back.
    let quota = Quota::per_minute(nz(10)).with_burst(nz(5));
    let interval = quota.replenish_interval();
    let store = RedisStore::builder_url(&url(port), quota)
        .unwrap()
        .timeout(PATIENT)
        .build()
        .await
        .unwrap();
    let limiter = Limiter::new(quota, NonZeroUsize::new(100).unwrap()).with_clock(FakeClock::new());

    let started = Instant::now();
    for step in 0..8 {
        let remote = check(&store, b"alice").await;
        let local = limiter.check(b"alice");
        match (remote, local) {
            (Ok(r), Ok(l)) => assert_eq!(r, l, "step {step}"),
            (Err(r), Err(l)) => {
                assert_eq!(r.reason(), LimitedReason::Quota);
                // Redis' clock moved a little since the burst; the fake one did not.
                assert!(
                    r.retry_after() <= l.retry_after(),
                    "step {step}: {r:?} {l:?}"
                );
                assert!(
                    r.retry_after() + started.elapsed() + Duration::from_millis(1)
                        >= l.retry_after(),
                    "step {step}: {r:?} {l:?}"
                );
                assert!(r.retry_after() <= interval);
            }
            (r, l) => panic!("step {step}: Redis said {r:?}, the limiter {l:?}"),
        }
    }

    // Weighted requests: same answers, and heavier than the burst never reaches Redis.
    for n in [3, 2, 1] {
        let remote = store.check_n(b"bob", nz(n)).await;
        let local = limiter.check_n(b"bob", nz(n)).unwrap();
        assert_eq!(remote.is_ok(), local.is_ok(), "weight {n}");
        if let (Ok(r), Ok(l)) = (remote, local) {
            assert_eq!(r, l);
        }
    }
    let heavy = store.check_n(b"bob", nz(6)).await.unwrap_err();
    assert_eq!(heavy.reason(), LimitedReason::ExceedsBurst);

    // The state expires when it has drained: at most the full window from now.
    let mut conn = raw_connection(port).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(store.redis_key(b"alice"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 30_000, "ttl {ttl} ms");

    // A flushed script cache (or a new server) costs one reload, not an error.
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(check(&store, b"carol").await.is_ok());

    let stats = store.stats();
    assert_eq!(
        (stats.fallbacks, stats.timeouts, stats.redis_errors),
        (0, 0, 0)
    );
    assert_eq!(stats.redis_checks, 8 + 3 + 1);
    assert!(stats.connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_key_is_allowed_again_after_retry_after() {
    let Some((_, port, _server)) = redis_server() else {
        return;
    };
    // 50 ms per request, 2 at once.
    let quota = Quota::per_second(nz(20)).with_burst(nz(2));
    let store = RedisStore::builder_url(&url(port), quota)
        .unwrap()
        .timeout(PATIENT)
        .build()
        .await
        .unwrap();
    assert_eq!(check(&store, b"k").await.unwrap().remaining_burst(), 1);
    assert_eq!(check(&store, b"k").await.unwrap().remaining_burst(), 0);
    let limited = check(&store, b"k").await.unwrap_err();
    assert!(limited.retry_after() <= Duration::from_millis(50));
    tokio::time::sleep(limited.retry_after() + Duration::from_millis(2)).await;
    assert!(check(&store, b"k").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_stores_enforce_one_global_rate() {
    let Some((_, port, _server)) = redis_server() else {
        return;
    };
    let quota = Quota::per_minute(nz(10));
    let mut stores = Vec::new();
    for _ in 0..3 {
        let store = RedisStore::builder_url(&url(port), quota)
            .unwrap()
            .prefix("rl:global:")
            .timeout(PATIENT)
            .build()
            .await
            .unwrap();
        stores.push(store);
    }
    // 30 checks of one key, 10 per instance, all at once.
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = stores[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::timeout(HANG * 5, store.check(b"shared-key"))
                .await
                .expect("answered")
        }));
    }
    let mut allowed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => allowed += 1,
            Err(limited) => {
                assert_eq!(limited.reason(), LimitedReason::Quota);
                assert!(limited.retry_after() <= Duration::from_secs(6));
            }
        }
    }
    assert_eq!(allowed, 10, "one rate for the fleet");
    for store in &stores {
        let stats = store.stats();
        assert_eq!(stats.redis_checks, 10, "{stats:?}");
        assert_eq!((stats.fallbacks, stats.timeouts), (0, 0), "{stats:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_falls_back_to_the_local_limiter_and_recovers() {
    let Some((program, port, server)) = redis_server() else {
        return;
    };
    let quota = Quota::per_minute(nz(5));
    let build = || async {
        RedisStore::builder_url(&url(port), quota)
            .unwrap()
            .prefix("rl:open:")
            .timeout(QUICK)
            .failure_policy(FailurePolicy::FailOpen)
            .build()
            .await
            .unwrap()
    };
    let (a, b) = (build().await, build().await);
    for _ in 0..5 {
        assert!(check(&a, b"k").await.is_ok());
    }
    assert!(check(&b, b"k").await.is_err(), "Redis shares the state");

    drop(server);
    // Every check answers within the bound; the local limiter knows nothing of "k" and
    // allows its own burst of 5, then limits.
    let mut allowed = 0;
    for _ in 0..20 {
        match check(&a, b"k").await {
            Ok(_) => allowed += 1,
            Err(limited) => assert_eq!(limited.reason(), LimitedReason::Quota),
        }
    }
    assert_eq!(allowed, 5, "the local limiter answers with the same quota");
    let stats = a.stats();
    assert!(stats.fallbacks >= 19, "{stats:?}");
    assert!(stats.redis_errors + stats.timeouts >= 1, "{stats:?}");
    assert!(!stats.connected, "{stats:?}");
    assert_eq!(a.fallback().len(), 1);

    // The same port again: both stores reconnect by themselves.
    let _server = start_redis(&program, port);
    wait_until_redis_answers(&a, Duration::from_secs(10)).await;
    wait_until_redis_answers(&b, Duration::from_secs(10)).await;
    assert!(a.stats().reconnects >= 1 && a.stats().connected);
    let fallbacks = a.stats().fallbacks + b.stats().fallbacks;
    let mut allowed = 0;
    for i in 0..10 {
        let store = if i % 2 == 0 { &a } else { &b };
        if check(store, b"after").await.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "shared limiting resumed");
    assert_eq!(a.stats().fallbacks + b.stats().fallbacks, fallbacks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_while_redis_is_down_and_recovers() {
    let Some((program, port, server)) = redis_server() else {
        return;
    };
    let store = RedisStore::builder_url(&url(port), Quota::per_minute(nz(5)))
        .unwrap()
        .timeout(QUICK)
        .failure_policy(FailurePolicy::FailClosed)
        .build()
        .await
        .unwrap();
    assert!(check(&store, b"k").await.is_ok());

    drop(server);
    for _ in 0..20 {
        let refused = check(&store, b"k").await.unwrap_err();
        assert_eq!(refused.reason(), LimitedReason::BackendUnavailable);
        assert!(refused.retry_after() > Duration::ZERO);
    }
    let stats = store.stats();
    assert_eq!(stats.unavailable, 20, "{stats:?}");
    assert_eq!(stats.fallbacks, 0, "{stats:?}");

    let _server = start_redis(&program, port);
    wait_until_redis_answers(&store, Duration::from_secs(10)).await;
    // The new server has an empty script cache and no state: EVALSHA reloads the script.
    assert_eq!(check(&store, b"k").await.unwrap().remaining_burst(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_store_connects_when_redis_appears() {
    let Some(program) = testkit::require_program("redis-server") else {
        return;
    };
    let port = testkit::free_tcp_port();
    let quota = Quota::per_minute(nz(5));
    let err = RedisStore::builder_url(&url(port), quota)
        .unwrap()
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, RedisStoreError::Connect(_)), "{err:?}");

    let store = RedisStore::builder_url(&url(port), quota)
        .unwrap()
        .build_lazy()
        .unwrap();
    for _ in 0..5 {
        assert!(check(&store, b"k").await.is_ok());
    }
    assert!(check(&store, b"k").await.is_err());
    assert!(store.stats().fallbacks >= 6);

    let _server = start_redis(&program, port);
    wait_until_redis_answers(&store, Duration::from_secs(10)).await;
    assert!(store.stats().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_any_length_map_to_fixed_size_redis_keys() {
    let Some((_, port, _server)) = redis_server() else {
        return;
    };
    let store = RedisStore::builder_url(&url(port), Quota::per_minute(nz(5)))
        .unwrap()
        .prefix("rl:len:")
        .timeout(PATIENT)
        .build()
        .await
        .unwrap();
    let huge = vec![0xA5u8; 1 << 20];
    let binary: Vec<u8> = (0..=255).collect();
    let keys: [&[u8]; 5] = [b"", b"a", b"\0\r\n*1\r\n$4\r\nPING", &binary, &huge];
    let mut redis_keys = Vec::new();
    for key in keys {
        let redis_key = store.redis_key(key);
        assert_eq!(redis_key.len(), "rl:len:".len() + 32);
        assert!(redis_key.starts_with(b"rl:len:"));
        assert!(redis_key[7..].iter().all(u8::is_ascii_hexdigit));
        assert!(check(&store, key).await.is_ok());
        redis_keys.push(redis_key);
    }
    redis_keys.sort();
    redis_keys.dedup();
    assert_eq!(redis_keys.len(), keys.len(), "distinct keys stay distinct");

    let mut conn = raw_connection(port).await;
    let mut stored: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("rl:len:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    stored.sort();
    assert_eq!(
        stored, redis_keys,
        "one fixed-size key per limit, nothing else"
    );
}

/// Sends `signal` (`STOP`, `CONT`) to the process `pid`, which this test started.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_costs_each_check_at_most_the_budget() {
    let Some((_, port, server)) = redis_server() else {
        return;
    };
    // The default budget of 5 ms; a short connect timeout so reconnections finish soon.
    let store = RedisStore::builder_url(&url(port), Quota::per_minute(nz(100)))
        .unwrap()
        .connect_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    assert!(check(&store, b"warm").await.is_ok());

    // A stopped server accepts connections (the kernel does) but never answers.
    signal(server.id(), "STOP");
    for _ in 0..30 {
        let started = Instant::now();
        assert!(
            check(&store, b"k").await.is_ok(),
            "the local limiter answers"
        );
        assert!(started.elapsed() < HANG);
    }
    let stats = store.stats();
    // After a run of timeouts the connection is replaced; until a new one answers, checks
    // go straight to the fallback without waiting.
    assert!(stats.timeouts >= 1 && stats.timeouts <= 8, "{stats:?}");
    assert_eq!(stats.fallbacks, 30, "{stats:?}");

    signal(server.id(), "CONT");
    wait_until_redis_answers(&store, Duration::from_secs(10)).await;
    assert!(store.stats().reconnects >= 1);
}

/// Random bursts and weight sequences: the script and the in-memory GCRA agree on every
/// decision and every remaining count. Periods of minutes keep Redis' moving clock from
/// earning a request back during a case; retry-afters may differ by the time that passed.
#[test]
fn lua_gcra_agrees_with_the_limiter_on_random_sequences() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let Some((_, port, _server)) = redis_server() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let strategy = (
        60u64..=600,
        1u32..=20,
        prop::collection::vec(1u32..=20, 1..40),
    );
    let cases = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&strategy, |(period, burst, weights)| {
            let case = cases.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let quota = Quota::with_period(Duration::from_secs(period))
                .unwrap()
                .with_burst(nz(burst));
            let limiter =
                Limiter::new(quota, NonZeroUsize::new(4).unwrap()).with_clock(FakeClock::new());
            runtime.block_on(async {
                let store = RedisStore::builder_url(&url(port), quota)
                    .unwrap()
                    .prefix(format!("rl:prop:{case}:"))
                    .timeout(PATIENT)
                    .build()
                    .await
                    .unwrap();
                let started = Instant::now();
                for weight in weights {
                    let n = nz(1 + (weight - 1) % burst);
                    let remote = store.check_n(b"k", n).await;
                    let local = limiter.check_n(b"k", n).unwrap();
                    match (remote, local) {
                        (Ok(r), Ok(l)) => prop_assert_eq!(r, l),
                        (Err(r), Err(l)) => {
                            prop_assert_eq!(r.reason(), LimitedReason::Quota);
                            prop_assert!(r.retry_after() <= l.retry_after());
                            prop_assert!(
                                r.retry_after() + started.elapsed() + Duration::from_millis(1)
                                    >= l.retry_after()
                            );
                        }
                        (r, l) => prop_assert!(false, "Redis said {r:?}, the limiter {l:?}"),
                    }
                }
                prop_assert_eq!(store.stats().fallbacks, 0);
                Ok(())
            })
        })
        .unwrap();
}
