//! `RedisStore` against real `redis-server` processes, started by each test on free
//! loopback ports and killed at its end (or when it fails).

mod support;

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::server::StoresServerSessions;
use support::greeting::connect;
use testkit::ChildGuard;
use tls_resume::redis::{RedisStore, RedisStoreBuilder, rendezvous};
use tls_resume::session_cache::{MAX_KEY_LEN, SessionCache, SharedStore};

/// An upper bound that catches hangs: far above the budget, not a performance assertion.
const HANG: Duration = Duration::from_millis(500);
/// A budget generous enough that a loaded test machine never misses by accident.
const PATIENT: Duration = Duration::from_secs(1);
const TTL: Duration = Duration::from_secs(60);

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// Starts `redis-server` on `port` without persistence. `None` when another process
/// (another test's server) holds the port: free ports are only free when picked.
fn try_start_redis(program: &Path, port: u16) -> Option<ChildGuard> {
    testkit::start_redis_on(program, port)
}

/// Starts `redis-server` on `port`, which must be free.
fn start_redis(program: &Path, port: u16) -> ChildGuard {
    try_start_redis(program, port).expect("redis-server started on its port")
}

/// `n` Redis servers: `None` (test skipped) when `redis-server` is not installed.
fn redis_servers(n: usize) -> Option<(PathBuf, Vec<(u16, ChildGuard)>)> {
    let program = testkit::require_program("redis-server")?;
    let servers = (0..n)
        .map(|_| {
            (0..10)
                .find_map(|_| {
                    let port = testkit::free_tcp_port();
                    try_start_redis(&program, port).map(|guard| (port, guard))
                })
                .expect("a free port for redis-server")
        })
        .collect();
    Some((program, servers))
}

/// A builder over the nodes on `ports`, named `node-<i>` by position in `ids`.
fn builder(nodes: &[(&str, u16)]) -> RedisStoreBuilder {
    nodes
        .iter()
        .fold(RedisStore::builder(), |builder, (id, port)| {
            builder.named_node(id, &url(*port)).unwrap()
        })
        .prefix("t:")
}

async fn raw_get(port: u16, redis_key: &[u8]) -> Option<Vec<u8>> {
    let mut conn = redis::Client::open(url(port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("GET")
        .arg(redis_key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

fn key(i: u32) -> Vec<u8> {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(&i.to_be_bytes());
    key[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
    key.to_vec()
}

/// A call that must answer well within [`HANG`].
async fn bounded<T>(call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = tokio::time::timeout(HANG, call)
        .await
        .expect("answered within the hang bound");
    assert!(started.elapsed() < HANG);
    answer
}

#[test]
fn rendezvous_spreads_keys_and_removing_a_node_moves_only_its_keys() {
    let three = ["node-a", "node-b", "node-c"];
    let two = ["node-a", "node-c"];
    let mut per_node = [0usize; 3];
    for i in 0..3000 {
        let key = key(i);
        let before = rendezvous(&three, &key).unwrap();
        per_node[before] += 1;
        let after = two[rendezvous(&two, &key).unwrap()];
        if three[before] == "node-b" {
            assert_ne!(after, "node-b");
        } else {
            assert_eq!(after, three[before], "key {i} moved off a surviving node");
        }
    }
    for count in per_node {
        assert!((800..1200).contains(&count), "uneven spread {per_node:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_spread_over_real_nodes_and_survive_removing_another_node() {
    let Some((_, servers)) = redis_servers(3) else {
        return;
    };
    let nodes: Vec<(&str, u16)> = ["node-a", "node-b", "node-c"]
        .into_iter()
        .zip(servers.iter().map(|(port, _)| *port))
        .collect();
    let store = builder(&nodes).timeout(PATIENT).build().await.unwrap();
    let keys: Vec<Vec<u8>> = (0..60).map(key).collect();
    for key in &keys {
        assert!(store.put(key, b"state", TTL).await);
    }
    // Each key sits on exactly the node rendezvous names, and every node got some.
    let mut per_node = HashMap::new();
    for key in &keys {
        let owner = store.node_for(key);
        *per_node.entry(owner.to_owned()).or_insert(0) += 1;
        for (id, port) in &nodes {
            let found = raw_get(*port, &store.redis_key(key)).await;
            assert_eq!(found.is_some(), *id == owner);
        }
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");

    // Reconfigured without node-b: a key is found iff it was not on node-b.
    let without_b: Vec<(&str, u16)> = nodes.iter().copied().filter(|n| n.0 != "node-b").collect();
    let reconfigured = builder(&without_b).timeout(PATIENT).build().await.unwrap();
    for key in &keys {
        let found = reconfigured.get(key).await.is_some();
        assert_eq!(found, store.node_for(key) != "node-b");
    }
    let stats = reconfigured.stats();
    assert_eq!(stats.hits + stats.misses, 60);
    assert_eq!((stats.errors, stats.timeouts), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_take_round_trip_and_take_is_single_use_across_stores() {
    let Some((_, servers)) = redis_servers(2) else {
        return;
    };
    let nodes = [("one", servers[0].0), ("two", servers[1].0)];
    let a = builder(&nodes).timeout(PATIENT).build().await.unwrap();
    let b = builder(&nodes).timeout(PATIENT).build().await.unwrap();

    let id = key(1);
    assert!(a.put(&id, b"tls12 state", TTL).await);
    for store in [&a, &b, &a] {
        let entry = store.get(&id).await.expect("multi-use get");
        assert_eq!(&entry.value[..], b"tls12 state");
        assert!(entry.ttl <= TTL && entry.ttl > TTL - Duration::from_secs(10));
    }
    assert!(b.take(&id).await.is_some());
    assert!(a.get(&id).await.is_none());
    assert!(a.take(&id).await.is_none());

    // Oversized (untrusted) keys are refused without a lookup.
    let long = vec![1u8; MAX_KEY_LEN + 1];
    assert!(!a.put(&long, b"x", TTL).await);
    assert!(a.get(&long).await.is_none());
    assert_eq!(a.stats().refused, 2);

    // Concurrent takes from two stores: exactly one wins, every round.
    for round in 0..50 {
        let ticket = key(1000 + round);
        assert!(a.put(&ticket, b"psk", TTL).await);
        let (a2, b2, t1, t2) = (a.clone(), b.clone(), ticket.clone(), ticket.clone());
        let first = tokio::spawn(async move { a2.take(&t1).await.is_some() });
        let second = tokio::spawn(async move { b2.take(&t2).await.is_some() });
        let winners = usize::from(first.await.unwrap()) + usize::from(second.await.unwrap());
        assert_eq!(winners, 1, "round {round}");
    }
    for store in [&a, &b] {
        let stats = store.stats();
        assert_eq!((stats.errors, stats.timeouts, stats.unavailable), (0, 0, 0));
        assert_eq!(stats.connected_nodes, 2);
    }
    assert_eq!(a.stats().hits + b.stats().hits, 3 + 1 + 50);

    // Debug shows no values.
    let entry = {
        a.put(&id, b"SECRETSTATE", TTL).await;
        a.get(&id).await.unwrap()
    };
    for text in [format!("{a:?}"), format!("{entry:?}")] {
        assert!(!text.contains("SECRETSTATE"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_fills_the_local_tier_for_the_handshake() {
    let Some((_, servers)) = redis_servers(2) else {
        return;
    };
    let nodes = [("one", servers[0].0), ("two", servers[1].0)];
    let capacity = NonZeroUsize::new(64).unwrap();
    let redis_a = Arc::new(builder(&nodes).timeout(PATIENT).build().await.unwrap());
    let redis_b = Arc::new(builder(&nodes).timeout(PATIENT).build().await.unwrap());
    let a = SessionCache::new(capacity).with_shared(redis_a.clone());
    let b = SessionCache::new(capacity).with_shared(redis_b.clone());

    // Instance A's handshakes store a TLS 1.2 session id and a TLS 1.3 ticket: rustls's
    // `put` returns at once, the writes reach Redis behind it.
    let (id, ticket) = (key(7), key(8));
    assert!(a.put(id.clone(), b"tls12".to_vec()));
    assert!(a.put(ticket.clone(), b"tls13".to_vec()));
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis_a.stats().written < 2 {
        assert!(Instant::now() < deadline, "{:?}", redis_a.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Without a prefetch, B's handshake misses: the sync trait never waits on Redis.
    assert_eq!(b.get(&id), None);
    assert!(SharedStore::get(&*redis_b, &id).unwrap().is_none());

    // B's acceptor prefetches what the ClientHello names; the handshake then hits locally.
    let filled = bounded(redis_b.prefetch_into(&b, Some(&id), &[&ticket, &key(9)])).await;
    assert_eq!(filled, 2);
    assert_eq!(b.get(&id).as_deref(), Some(&b"tls12"[..]));
    assert_eq!(b.get(&id).as_deref(), Some(&b"tls12"[..]));
    assert_eq!(b.take(&ticket).as_deref(), Some(&b"tls13"[..]));
    assert_eq!(b.take(&ticket), None, "single use");
    let stats = b.stats();
    assert_eq!((stats.local_hits, stats.takes), (3, 1));

    // The ticket was taken fleet-wide: A's local copy does not resume, nor a prefetch.
    assert_eq!(a.take(&ticket), None);
    assert_eq!(
        bounded(redis_a.prefetch_into(&a, None, &[&ticket])).await,
        0
    );
    assert_eq!(a.take(&ticket), None);
    // The session id is still in Redis (multi-use). Through an `Arc`, method syntax finds
    // `SharedStore::get` (implemented for `Arc<S>`) first: name the async one.
    assert!(RedisStore::get(&redis_a, &id).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_costs_misses_within_the_budget_and_recovers() {
    let Some((program, mut servers)) = redis_servers(2) else {
        return;
    };
    let nodes = [("one", servers[0].0), ("two", servers[1].0)];
    let store = builder(&nodes)
        .timeout(Duration::from_millis(50))
        .connect_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let keys: Vec<Vec<u8>> = (0..40).map(key).collect();
    for key in &keys {
        assert!(store.put(key, b"state", TTL).await);
    }
    let on_one: Vec<&Vec<u8>> = keys.iter().filter(|k| store.node_for(k) == "one").collect();
    let on_two: Vec<&Vec<u8>> = keys.iter().filter(|k| store.node_for(k) == "two").collect();
    assert!(!on_one.is_empty() && !on_two.is_empty());

    let (port_one, server_one) = servers.remove(0);
    drop(server_one);
    for key in &on_one {
        assert!(bounded(store.get(key)).await.is_none());
        assert!(bounded(store.take(key)).await.is_none());
        assert!(!bounded(store.put(key, b"state", TTL)).await);
    }
    // The other node keeps answering.
    for key in &on_two {
        assert!(bounded(store.get(key)).await.is_some());
    }
    let stats = store.stats();
    assert!(stats.errors + stats.timeouts >= 1, "{stats:?}");
    assert!(stats.unavailable >= 1, "{stats:?}");
    assert_eq!(stats.connected_nodes, 1, "{stats:?}");

    // The same port again: the store reconnects by itself (the data is gone: misses).
    let _server_one = start_redis(&program, port_one);
    let deadline = Instant::now() + Duration::from_secs(10);
    let probe = on_one[0];
    while !bounded(store.put(probe, b"again", TTL)).await {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            store.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        bounded(store.get(probe)).await.map(|e| e.value.to_vec()),
        Some(b"again".to_vec())
    );
    let stats = store.stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!(stats.connected_nodes, 2, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_node_costs_each_call_at_most_the_budget() {
    let Some((_, servers)) = redis_servers(1) else {
        return;
    };
    let (port, server) = &servers[0];
    let store = builder(&[("one", *port)])
        .timeout(Duration::from_millis(20))
        .connect_timeout(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    assert!(store.put(&key(1), b"state", TTL).await);
    signal(server.id(), "STOP");
    for i in 0..20 {
        assert!(bounded(store.get(&key(i))).await.is_none());
    }
    let stats = store.stats();
    assert!(stats.timeouts >= 1 && stats.timeouts <= 8, "{stats:?}");
    assert_eq!(stats.misses, 20, "{stats:?}");
    signal(server.id(), "CONT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while bounded(store.get(&key(1))).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            store.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// A current-thread runtime: the writer cannot run while the burst is queued, so exactly
/// the queue's capacity is accepted.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_beyond_the_write_behind_queue_drops_and_counts() {
    let Some((_, servers)) = redis_servers(1) else {
        return;
    };
    let port = servers[0].0;
    let store = Arc::new(
        builder(&[("one", port)])
            .timeout(PATIENT)
            .queue_capacity(NonZeroUsize::new(16).unwrap())
            .build()
            .await
            .unwrap(),
    );
    let shared: Arc<dyn SharedStore> = store.clone();
    let started = Instant::now();
    let queued: Vec<bool> = (0..40)
        .map(|i| shared.put(&key(i), b"state", TTL).unwrap())
        .collect();
    assert!(started.elapsed() < HANG, "write-behind never waits");
    assert_eq!(queued.iter().filter(|q| **q).count(), 16);
    let stats = store.stats();
    assert_eq!((stats.queued, stats.dropped), (16, 24));

    let deadline = Instant::now() + Duration::from_secs(5);
    while store.stats().written < 16 {
        assert!(Instant::now() < deadline, "{:?}", store.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (i, queued) in queued.into_iter().enumerate() {
        let found = raw_get(port, &store.redis_key(&key(i as u32))).await;
        assert_eq!(found.is_some(), queued, "key {i}");
    }
    assert_eq!(store.stats().written, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_key_sources_agree_on_every_epoch_and_forget_old_ones() {
    use rustls::server::ProducesTickets;
    use tls_resume::clock::ManualClock;
    use tls_resume::redis::RedisKeySource;
    use tls_resume::{KeyRingTicketer, KeySource};

    let Some((_, servers)) = redis_servers(2) else {
        return;
    };
    let nodes = [("one", servers[0].0), ("two", servers[1].0)];
    let hour = Duration::from_secs(3600);
    let clock = ManualClock::new(1000 * hour);
    let mut sources = Vec::new();
    for _ in 0..2 {
        let store = builder(&nodes).timeout(PATIENT).build().await.unwrap();
        let source = RedisKeySource::builder(&store)
            .rotation_period(hour)
            .window(12 * hour)
            .future_epochs(2)
            .refresh_interval(Duration::from_secs(3600))
            .clock(clock.clone())
            .build();
        sources.push(Arc::new(source));
    }
    // Both refresh at once: each epoch gets one key, whoever created it.
    let (a, b) = (sources[0].clone(), sources[1].clone());
    tokio::join!(a.refresh(), b.refresh());
    for epoch in 1000..=1002 {
        let (ka, kb) = (a.key(epoch).unwrap(), b.key(epoch).unwrap());
        assert_eq!(ka.name(), kb.name(), "epoch {epoch}");
    }
    // Past epochs are never created; the future ones are.
    assert!(a.key(999).is_none() && a.key(1003).is_none());
    let created = a.stats().created + b.stats().created;
    assert_eq!(created, 3, "{:?} {:?}", a.stats(), b.stats());
    assert_eq!(a.stats().failures + b.stats().failures, 0);

    // Two ticketers, one per instance, open each other's tickets.
    let ticketer = |source: &Arc<RedisKeySource>| {
        KeyRingTicketer::builder(source.clone())
            .rotation_period(hour)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let (ta, tb) = (ticketer(&a), ticketer(&b));
    let ticket = ta.encrypt(b"state").unwrap();
    assert_eq!(tb.decrypt(&ticket).as_deref(), Some(&b"state"[..]));

    // 13 hours on: epoch 1000 has left the window and is wiped from the cache; the keys of
    // the new epochs still agree.
    clock.advance(13 * hour);
    tokio::join!(a.refresh(), b.refresh());
    assert!(a.key(1000).is_none() && b.key(1000).is_none());
    assert_eq!(a.key(1001).unwrap().name(), b.key(1001).unwrap().name());
    assert_eq!(a.key(1015).unwrap().name(), b.key(1015).unwrap().name());
    assert!(!format!("{a:?}").is_empty());
}

/// One TLS instance: a `ResumingAcceptor` whose `SessionCache` has the Redis store as its
/// shared tier and a `RedisPrefetch` reading it before each handshake.
struct Instance {
    addr: SocketAddr,
    redis: RedisStore,
    cache: Arc<SessionCache>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Instance {
    async fn start(
        nodes: &[(&str, u16)],
        cert: &(
            rustls::pki_types::CertificateDer<'static>,
            rustls::pki_types::PrivateKeyDer<'static>,
        ),
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Self {
        Self::start_with_budget(nodes, cert, versions, PATIENT).await
    }

    /// As [`start`](Self::start), with `budget` as the store's per-call budget, twice it
    /// (at most [`PATIENT`]) as the prefetch budget, and connection attempts cut off after
    /// `budget` or 250 ms, whichever is longer.
    async fn start_with_budget(
        nodes: &[(&str, u16)],
        cert: &(
            rustls::pki_types::CertificateDer<'static>,
            rustls::pki_types::PrivateKeyDer<'static>,
        ),
        versions: &[&'static rustls::SupportedProtocolVersion],
        budget: Duration,
    ) -> Self {
        use tls_resume::acceptor::ResumingAcceptor;
        use tls_resume::redis::RedisPrefetch;

        let redis = builder(nodes)
            .timeout(budget)
            .connect_timeout(Duration::from_millis(250).max(budget))
            .build()
            .await
            .unwrap();
        let cache = Arc::new(
            SessionCache::new(NonZeroUsize::new(64).unwrap()).with_shared(Arc::new(redis.clone())),
        );
        let mut config = (*support::server_config(cert, versions, None)).clone();
        config.session_storage = cache.clone();
        let acceptor = ResumingAcceptor::new(Arc::new(config))
            .with_prefetch(RedisPrefetch::new(redis.clone(), cache.clone()))
            .with_prefetch_timeout((2 * budget).min(PATIENT));
        let (addr, task) = support::greeting::serve(acceptor).await;
        Self {
            addr,
            redis,
            cache,
            task,
        }
    }

    /// Waits until the write-behind queue has written `n` sessions to Redis in all.
    async fn written(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.redis.stats().written < n {
            assert!(Instant::now() < deadline, "{:?}", self.redis.stats());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_made_on_one_instance_resume_on_another_through_redis() {
    use rustls::HandshakeKind::{Full, Resumed};

    let Some((_, servers)) = redis_servers(2) else {
        return;
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        let nodes = [("one", servers[0].0), ("two", servers[1].0)];
        let cert = support::make_cert();

        // TLS 1.3 stateful tickets: single use, fleet-wide.
        let tls13 = &[&rustls::version::TLS13];
        let a = Instance::start(&nodes, &cert, tls13).await;
        let b = Instance::start(&nodes, &cert, tls13).await;
        let client = support::client_config(&cert.0, tls13);
        assert_eq!(connect(a.addr, &client).await, Full);
        a.written(2).await; // rustls sends two tickets
        assert_eq!(connect(b.addr, &client).await, Resumed);
        assert_eq!(b.cache.stats().takes, 1);
        assert_eq!(b.redis.stats().hits, 1);
        drop((a, b));

        // TLS 1.2 session ids: multi-use, on any instance.
        let tls12 = &[&rustls::version::TLS12];
        let a = Instance::start(&nodes, &cert, tls12).await;
        let b = Instance::start(&nodes, &cert, tls12).await;
        let client = support::client_config(&cert.0, tls12);
        assert_eq!(connect(a.addr, &client).await, Full);
        a.written(1).await;
        assert_eq!(connect(b.addr, &client).await, Resumed);
        assert_eq!(connect(b.addr, &client).await, Resumed);
        assert_eq!(connect(a.addr, &client).await, Resumed);
        assert!(b.redis.stats().hits >= 1, "{:?}", b.redis.stats());
    })
    .await
    .expect("test budget");
}

/// [`connect`] within `guard`: a hang bound far above the store's budget, not a
/// performance assertion.
async fn connect_within(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    guard: Duration,
) -> rustls::HandshakeKind {
    tokio::time::timeout(guard, connect(addr, config))
        .await
        .expect("handshake within the hang guard")
}

/// Kills the only Redis node between two instances in cache mode (TLS 1.3 stateful
/// tickets in a `SessionCache` over a `RedisStore`, read by `RedisPrefetch`): every
/// handshake still completes, as a full one, within a hang guard, and the store counts
/// the failures; the node restarted on the same port brings resumption across instances
/// back by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_gives_full_handshakes_without_client_errors_and_resumption_returns() {
    use rustls::HandshakeKind::{Full, Resumed};

    /// The store's per-call budget (the prefetch gets twice it).
    const BUDGET: Duration = Duration::from_millis(50);
    /// A hang guard per connection, far above the budget.
    const GUARD: Duration = Duration::from_secs(2);

    let Some((program, mut servers)) = redis_servers(1) else {
        return;
    };
    let (port, server) = servers.remove(0);
    tokio::time::timeout(Duration::from_secs(30), async move {
        let nodes = [("one", port)];
        let cert = support::make_cert();
        let tls13 = &[&rustls::version::TLS13];
        let fresh_client = || support::client_config(&cert.0, tls13);
        let a = Instance::start_with_budget(&nodes, &cert, tls13, BUDGET).await;
        let b = Instance::start_with_budget(&nodes, &cert, tls13, BUDGET).await;

        // (1) Sanity: a session made on A resumes on B through Redis.
        let client = fresh_client();
        assert_eq!(connect_within(a.addr, &client, GUARD).await, Full);
        a.written(2).await; // A's two tickets
        assert_eq!(connect_within(b.addr, &client, GUARD).await, Resumed);
        b.written(2).await; // B's two new tickets
        assert_eq!(b.redis.stats().hits, 1);
        assert_eq!(b.cache.stats().takes, 1);
        // The client now holds three tickets (one from A, two from B), all stored in
        // Redis, and in the issuing instance's local tier, before the outage.

        // (2) The outage: the only node is killed (and reaped).
        drop(server);
        assert!(
            TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), PATIENT)
                .is_err(),
            "redis-server still listens"
        );
        let (a_before, b_before) = (a.redis.stats(), b.redis.stats());
        let takes_before = (a.cache.stats().takes, b.cache.stats().takes);

        // Connections offering tickets stored before the kill: the prefetch's take cannot
        // reach Redis, and an unclaimed local copy (B's own tickets are in B's local tier)
        // is never resumed without the fleet-wide take, so every one is a full handshake,
        // with no error on the client.
        for (round, instance) in [&b, &a, &b, &a].into_iter().enumerate() {
            let misses = instance.redis.stats().misses;
            assert_eq!(
                connect_within(instance.addr, &client, GUARD).await,
                Full,
                "round {round}"
            );
            // The prefetch did look the offered ticket up (and missed).
            assert_eq!(instance.redis.stats().misses, misses + 1, "round {round}");
        }
        // New clients, offering nothing, get full handshakes too.
        for instance in [&a, &b] {
            assert_eq!(
                connect_within(instance.addr, &fresh_client(), GUARD).await,
                Full
            );
        }
        for (instance, before) in [(&a, a_before), (&b, b_before)] {
            let stats = instance.redis.stats();
            // The first call on the dead connection fails; later ones find no connection
            // (reconnection attempts are refused) and are not sent.
            assert!(stats.errors > before.errors, "{stats:?}");
            assert!(stats.unavailable > before.unavailable, "{stats:?}");
            assert_eq!(stats.hits, before.hits, "{stats:?}");
            assert_eq!(stats.written, before.written, "{stats:?}");
            assert_eq!(stats.connected_nodes, 0, "{stats:?}");
        }
        assert_eq!((a.cache.stats().takes, b.cache.stats().takes), takes_before);

        // (3) The node is back on the same port (empty: its sessions are lost). Each store
        // reconnects by itself; a new session made on A resumes on B again.
        let _server = start_redis(&program, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rounds = 0;
        loop {
            rounds += 1;
            let client = fresh_client();
            let written = a.redis.stats().written;
            assert_eq!(connect_within(a.addr, &client, GUARD).await, Full);
            // A's write-behind writes its two tickets, or fails them while reconnecting.
            let wait = Instant::now() + Duration::from_secs(1);
            while a.redis.stats().written < written + 2 && Instant::now() < wait {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if connect_within(b.addr, &client, GUARD).await == Resumed {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no resumption after {rounds} rounds: A {:?}, B {:?}",
                a.redis.stats(),
                b.redis.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for instance in [&a, &b] {
            let stats = instance.redis.stats();
            assert!(stats.reconnects >= 1, "{stats:?}");
            assert_eq!(stats.connected_nodes, 1, "{stats:?}");
        }
        assert_eq!(b.cache.stats().takes, takes_before.1 + 1);
    })
    .await
    .expect("test budget");
}
