//! Two TLS instances sharing sessions through one real `redis-server` behind a
//! [`FaultProxy`](testkit::FaultProxy), under load (clients handshaking with both,
//! resuming when they can, and direct store calls), while Redis is killed (by pid),
//! restarted on its port, made slower than the budget, blackholed and refused, with normal
//! service in between.
//!
//! Asserted in every phase: every handshake completes, with the greeting read, within
//! [`HANDSHAKE_HANG`]; every store call answers within [`CALL_HANG`] and none errs (a
//! failure is a miss, by contract). After each fault is lifted, a session made on one
//! instance resumes on the other again within a second ([`SCRIPT`], run by
//! `testkit::redis_faults`; the measured times are printed).

mod support;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustls::HandshakeKind;
use testkit::redis_faults::{FaultScript, RedisBehindProxy, SharedTier};
use tls_resume::acceptor::ResumingAcceptor;
use tls_resume::redis::{RedisPrefetch, RedisStore};
use tls_resume::session_cache::SessionCache;

/// The store's per-call budget (the prefetch gets twice it). Above the 20 ms default so
/// that a loaded 2-core CI machine keeps resuming during the *normal* phases, which the
/// recovery probes need; the behaviour under faults is the same.
const BUDGET: Duration = Duration::from_millis(50);
/// A connection attempt's limit: short, so attempts stuck in a black hole end soon.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// The hang bound of one store call: the budget plus 500 ms of scheduling slack. Waiting
/// on Redis past the budget, or on a reconnection, blows through it; a slow machine does
/// not come near it. Not a performance assertion.
const CALL_HANG: Duration = Duration::from_millis(550);
/// The hang bound of one connection (handshake and greeting): the prefetch budget plus a
/// generous second, as a debug-build handshake is CPU work on two shared cores.
const HANDSHAKE_HANG: Duration = Duration::from_millis(1100);
/// The fault script ([`FaultScript::DEFAULT`]): a session must resume across instances
/// again within 1 s of Redis returning; replies are delayed 200 ms, well beyond the budget;
/// the delay and black-hole faults last 1 s under load; Redis stays dead, or refused,
/// 1.5 s: long enough for the reconnection backoff to reach its cap (50 + 100 + 200 +
/// 400 ms).
const SCRIPT: FaultScript = FaultScript::DEFAULT;
const TTL: Duration = Duration::from_secs(60);

type Cert = (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
);

/// One TLS instance over the Redis node at `url`: a `ResumingAcceptor` whose
/// `SessionCache` has the store as its shared tier (TLS 1.3 stateful tickets) and a
/// `RedisPrefetch` reading it before each handshake.
struct Instance {
    addr: SocketAddr,
    redis: RedisStore,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Instance {
    async fn start(url: &str, cert: &Cert) -> Self {
        let redis = RedisStore::builder()
            .named_node("one", url)
            .unwrap()
            .prefix("t:faults:")
            .timeout(BUDGET)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .await
            .unwrap();
        let cache = Arc::new(
            SessionCache::new(NonZeroUsize::new(256).unwrap()).with_shared(Arc::new(redis.clone())),
        );
        let mut config = (*support::server_config(cert, &[&rustls::version::TLS13], None)).clone();
        config.session_storage = cache.clone();
        let acceptor = ResumingAcceptor::new(Arc::new(config))
            .with_prefetch(RedisPrefetch::new(redis.clone(), cache))
            .with_prefetch_timeout(2 * BUDGET);
        let (addr, task) = support::greeting::serve(acceptor).await;
        Self { addr, redis, task }
    }

    /// Gives the write-behind queue time to write the last handshake's tickets: 25 ms
    /// (a write takes a millisecond or two; the load keeps the queue short), or nothing
    /// while the store has no connection (the writes fail at once). A write still queued
    /// only costs the probe another round.
    async fn drained(&self) {
        if self.redis.stats().connected_nodes == 1 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Connects, reads the greeting to the end (storing any TLS 1.3 tickets) and returns the
/// handshake's kind and how long the whole connection took.
async fn connect(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> (HandshakeKind, Duration) {
    let started = Instant::now();
    let connection = support::greeting::connect(addr, config);
    let kind = tokio::time::timeout(HANDSHAKE_HANG, connection)
        .await
        .unwrap_or_else(|_| panic!("a connection to {addr} took over {HANDSHAKE_HANG:?}"));
    (kind, started.elapsed())
}

/// What the load saw.
#[derive(Debug, Default)]
struct Load {
    handshakes: AtomicU64,
    resumed: AtomicU64,
    calls: AtomicU64,
    /// The slowest connection and the slowest store call, in microseconds.
    max_handshake_micros: AtomicU64,
    max_call_micros: AtomicU64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Connects to the instances in turn with one client (which offers its tickets, so
/// handshakes resume when Redis allows) until `stop`.
async fn handshakes(
    addrs: [SocketAddr; 2],
    client: Arc<rustls::ClientConfig>,
    stop: Arc<AtomicBool>,
    seen: Arc<Load>,
) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let (kind, took) = connect(addrs[i % 2], &client).await;
        seen.handshakes.fetch_add(1, Ordering::Relaxed);
        if kind == HandshakeKind::Resumed {
            seen.resumed.fetch_add(1, Ordering::Relaxed);
        }
        seen.max_handshake_micros
            .fetch_max(micros(took), Ordering::Relaxed);
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Direct calls on `store` until `stop`, each bounded by [`CALL_HANG`]: `put`, `get` and
/// `take` of one key, then the next key.
async fn calls(store: RedisStore, task: u32, stop: Arc<AtomicBool>, seen: Arc<Load>) {
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&task.to_be_bytes());
        key[4..8].copy_from_slice(&(i / 3).to_be_bytes());
        let started = Instant::now();
        let call = async {
            match i % 3 {
                0 => drop(store.put(&key, b"state", TTL).await),
                1 => drop(store.get(&key).await),
                _ => drop(store.take(&key).await),
            }
        };
        tokio::time::timeout(CALL_HANG, call)
            .await
            .expect("a store call answered within the hang bound");
        seen.calls.fetch_add(1, Ordering::Relaxed);
        seen.max_call_micros
            .fetch_max(micros(started.elapsed()), Ordering::Relaxed);
        i += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The two instances, probed by [`FaultScript`].
struct Tier<'a> {
    a: &'a Instance,
    b: &'a Instance,
    cert: &'a Cert,
}

impl SharedTier for Tier<'_> {
    /// Whether a session made on `a` resumes on `b` now (a fresh client each time).
    async fn shared(&mut self) -> bool {
        let client = support::client_config(&self.cert.0, &[&rustls::version::TLS13]);
        connect(self.a.addr, &client).await;
        self.a.drained().await;
        connect(self.b.addr, &client).await.0 == HandshakeKind::Resumed
    }

    fn timeouts(&self) -> u64 {
        self.a.redis.stats().timeouts
    }

    fn describe(&self) -> String {
        format!("A {:?}, B {:?}", self.a.redis.stats(), self.b.redis.stats())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_under_load_survive_every_redis_fault_and_resumption_returns_within_a_second() {
    let Some(mut redis) = RedisBehindProxy::start().await else {
        return;
    };
    let url = redis.url();
    let cert = support::make_cert();
    let a = Instance::start(&url, &cert).await;
    let b = Instance::start(&url, &cert).await;

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Load::default());
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let client = support::client_config(&cert.0, &[&rustls::version::TLS13]);
        tasks.push(tokio::spawn(handshakes(
            [a.addr, b.addr],
            client,
            Arc::clone(&stop),
            Arc::clone(&seen),
        )));
    }
    for (n, instance) in [&a, &b].into_iter().enumerate() {
        tasks.push(tokio::spawn(calls(
            instance.redis.clone(),
            u32::try_from(n).unwrap(),
            Arc::clone(&stop),
            Arc::clone(&seen),
        )));
    }
    let started = Instant::now();
    let mut tier = Tier {
        a: &a,
        b: &b,
        cert: &cert,
    };
    let recoveries = SCRIPT.run(&mut tier, &mut redis).await;

    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        tokio::time::timeout(HANDSHAKE_HANG, task)
            .await
            .expect("a load task stopped within the hang bound")
            .unwrap();
    }

    let max_handshake = Duration::from_micros(seen.max_handshake_micros.load(Ordering::Relaxed));
    let max_call = Duration::from_micros(seen.max_call_micros.load(Ordering::Relaxed));
    println!(
        "{:?} in {:?}; slowest connection {max_handshake:?}, slowest store call {max_call:?}; \
         recoveries {recoveries:?}\nA {:?}\nB {:?}\nproxy {:?}",
        seen,
        started.elapsed(),
        a.redis.stats(),
        b.redis.stats(),
        redis.proxy.stats()
    );
    // Every connection completed (`connect` panics otherwise) within its bound, and so did
    // every store call.
    assert!(max_handshake < HANDSHAKE_HANG && max_call < CALL_HANG);
    assert!(seen.handshakes.load(Ordering::Relaxed) >= 100, "{seen:?}");
    assert!(seen.resumed.load(Ordering::Relaxed) >= 10, "{seen:?}");
    assert!(seen.calls.load(Ordering::Relaxed) >= 1000, "{seen:?}");
    let stats = a.redis.stats();
    assert!(
        stats.timeouts > 0 && stats.errors > 0 && stats.unavailable > 0,
        "{stats:?}"
    );
    assert!(
        stats.reconnects >= 3 && stats.connected_nodes == 1,
        "{stats:?}"
    );
}
