//! Handshake benchmarks for issue 5's "Performance" section, in one run:
//!
//! 1. Full vs resumed handshakes per second, in memory (the `tests/support` driver, no
//!    sockets) with an ECDSA P-256 certificate from rcgen: TLS 1.3 tickets sealed by
//!    [`KeyRingTicketer`], TLS 1.3 stateful tickets in a [`SessionCache`], TLS 1.2 session
//!    ids in a [`SessionCache`]. Criterion times client + server together; a printed
//!    summary also times the server's share alone and gives the resumed/full ratios.
//! 2. Resumption rate of 1 000 clients over 4 instances, rustls defaults vs this crate.
//! 3. Latency the Redis tier adds to a handshake ([`RedisStore::prefetch_into`] against a
//!    real `redis-server` on loopback, started here), p50 and p99.
//!
//! The printed measures (the summary of 1, and 2 and 3) run only under `cargo bench`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use rustls::client::{Resumption, Tls12Resumption};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};
use tls_resume::{
    CachePrefetch, DerivedKeys, KeyRingTicketer, MemorySharedStore, RedisPrefetch, RedisStore,
    ResumingAcceptor, SessionCache,
};

type Cert = (CertificateDer<'static>, PrivateKeyDer<'static>);

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const FLEET_SECRET: [u8; 32] = [42; 32];
const INSTANCES: usize = 4;
const CLIENTS: usize = 1000;
const REDIS_CONNECTIONS: usize = 1000;

mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion::criterion_main!(group::benches);

/// A session store holding many sessions, as on a busy instance.
fn session_cache(shared: Option<&Arc<MemorySharedStore>>) -> Arc<SessionCache> {
    let cache = SessionCache::new(NonZeroUsize::new(100_000).unwrap());
    Arc::new(match shared {
        Some(shared) => cache.with_shared(shared.clone()),
        None => cache,
    })
}

fn fleet_store() -> Arc<MemorySharedStore> {
    Arc::new(MemorySharedStore::new(
        NonZeroUsize::new(1_000_000).unwrap(),
    ))
}

fn key_ring() -> Arc<dyn ProducesTickets> {
    Arc::new(
        KeyRingTicketer::builder(DerivedKeys::new(FLEET_SECRET))
            .build()
            .expect("key ring"),
    )
}

/// A server config with `store` as session storage and `ticketer` if given.
fn server(
    cert: &Cert,
    versions: &[&'static SupportedProtocolVersion],
    store: Arc<dyn StoresServerSessions>,
    ticketer: Option<Arc<dyn ProducesTickets>>,
) -> Arc<ServerConfig> {
    let mut config = (*support::server_config(cert, versions, ticketer)).clone();
    config.session_storage = store;
    Arc::new(config)
}

/// A client config with its own session memory (`None`: resumption disabled).
fn client(
    cert: &Cert,
    versions: &[&'static SupportedProtocolVersion],
    tls12: Option<Tls12Resumption>,
) -> Arc<ClientConfig> {
    let mut config = (*support::client_config(&cert.0, versions)).clone();
    config.resumption = match tls12 {
        Some(tls12) => Resumption::in_memory_sessions(8).tls12_resumption(tls12),
        None => Resumption::disabled(),
    };
    Arc::new(config)
}

/// One handshake scenario: a server and a client whose session store is primed (or
/// resumption disabled, for full handshakes).
struct Case {
    name: &'static str,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    expect: HandshakeKind,
}

fn cases(cert: &Cert) -> Vec<Case> {
    let session_id = Some(Tls12Resumption::SessionIdOnly);
    let tickets = Some(Tls12Resumption::SessionIdOrTickets);
    let shared = fleet_store();
    let tls13_tickets = server(cert, TLS13, session_cache(None), Some(key_ring()));
    let tls13_stateful = server(cert, TLS13, session_cache(Some(&shared)), None);
    let tls12_session_id = server(cert, TLS12, session_cache(Some(&shared)), None);
    let mut cases = vec![
        Case {
            name: "tls13_full",
            server: tls13_tickets.clone(),
            client: client(cert, TLS13, None),
            expect: HandshakeKind::Full,
        },
        Case {
            name: "tls13_ticket_resumed",
            server: tls13_tickets,
            client: client(cert, TLS13, tickets),
            expect: HandshakeKind::Resumed,
        },
        Case {
            name: "tls13_stateful_resumed",
            server: tls13_stateful,
            client: client(cert, TLS13, tickets),
            expect: HandshakeKind::Resumed,
        },
        Case {
            name: "tls12_full",
            server: tls12_session_id.clone(),
            client: client(cert, TLS12, None),
            expect: HandshakeKind::Full,
        },
        Case {
            name: "tls12_session_id_resumed",
            server: tls12_session_id,
            client: client(cert, TLS12, session_id),
            expect: HandshakeKind::Resumed,
        },
    ];
    for case in &mut cases {
        if case.expect == HandshakeKind::Resumed {
            // Prime the client's session store.
            let (kind, _) = support::handshake(&case.client, &case.server, "localhost");
            assert_eq!(kind, HandshakeKind::Full, "{}", case.name);
        }
        let (kind, server_kind) = support::handshake(&case.client, &case.server, "localhost");
        assert_eq!(
            (kind, server_kind),
            (case.expect, case.expect),
            "{}",
            case.name
        );
    }
    cases
}

fn bench(c: &mut Criterion) {
    // rcgen's default key pair is ECDSA P-256 with SHA-256.
    let cert = support::make_cert();
    let cases = cases(&cert);

    let mut group = c.benchmark_group("handshake");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for case in &cases {
        group.bench_function(case.name, |b| {
            b.iter(|| {
                let kinds = support::handshake(&case.client, &case.server, "localhost");
                debug_assert_eq!(kinds.0, case.expect);
                black_box(kinds)
            });
        });
    }
    group.finish();

    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    throughput_summary(&cases);
    fleet_resumption(&cert);
    redis_latency(&cert);
}

// ---------------------------------------------------------------------------------------
// 1. Full vs resumed: handshakes per second, client + server and server alone.
// ---------------------------------------------------------------------------------------

/// Runs one connection in memory like `support::handshake`, timing the server's calls
/// (reading, processing and writing records) separately. Returns the client's handshake
/// kind and the server's CPU time.
fn timed_handshake(
    client: &Arc<ClientConfig>,
    server: &Arc<ServerConfig>,
) -> (HandshakeKind, Duration) {
    let name = ServerName::try_from("localhost").expect("server name");
    let mut server_time = Duration::ZERO;
    let started = Instant::now();
    let mut server_conn = ServerConnection::new(server.clone()).expect("server");
    server_time += started.elapsed();
    let mut client_conn = ClientConnection::new(client.clone(), name).expect("client");
    for _ in 0..16 {
        if !client_conn.is_handshaking() && !server_conn.is_handshaking() {
            break;
        }
        let bytes = drain(&mut client_conn);
        server_time += feed(&bytes, &mut server_conn);
        let started = Instant::now();
        let bytes = drain(&mut server_conn);
        server_time += started.elapsed();
        feed(&bytes, &mut client_conn);
    }
    assert!(!client_conn.is_handshaking() && !server_conn.is_handshaking());
    let started = Instant::now();
    let bytes = drain(&mut server_conn);
    server_time += started.elapsed();
    feed(&bytes, &mut client_conn);
    (client_conn.handshake_kind().expect("kind"), server_time)
}

fn drain<T>(conn: &mut ConnectionCommon<T>) -> Vec<u8> {
    let mut buf = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut buf).expect("write tls");
    }
    buf
}

fn feed<T>(bytes: &[u8], conn: &mut ConnectionCommon<T>) -> Duration {
    let started = Instant::now();
    let mut rd = bytes;
    while !rd.is_empty() {
        conn.read_tls(&mut rd).expect("read tls");
        conn.process_new_packets().expect("process packets");
    }
    started.elapsed()
}

fn throughput_summary(cases: &[Case]) {
    const N: u32 = 2000;
    println!("\n== 1. Full vs resumed handshakes (in memory, ECDSA P-256, one core, {N} each) ==");
    let mut rates = Vec::new();
    for case in cases {
        let mut server_time = Duration::ZERO;
        let started = Instant::now();
        for _ in 0..N {
            let (kind, server) = timed_handshake(&case.client, &case.server);
            assert_eq!(kind, case.expect, "{}", case.name);
            server_time += server;
        }
        let total = started.elapsed();
        let pair = f64::from(N) / total.as_secs_f64();
        let server = f64::from(N) / server_time.as_secs_f64();
        println!(
            "{:<26} client+server {:>8.0} hs/s ({:>6.1} µs)   server only {:>8.0} hs/s ({:>6.1} µs)",
            case.name,
            pair,
            1e6 / pair,
            server,
            1e6 / server,
        );
        rates.push((case.name, pair, server));
    }
    let rate = |name: &str| {
        rates
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|&(_, pair, server)| (pair, server))
            .expect("case")
    };
    for (resumed, full) in [
        ("tls13_ticket_resumed", "tls13_full"),
        ("tls13_stateful_resumed", "tls13_full"),
        ("tls12_session_id_resumed", "tls12_full"),
    ] {
        let (r, f) = (rate(resumed), rate(full));
        println!(
            "ratio {resumed} / {full}: client+server {:.2}x, server only {:.2}x (target >= 3x)",
            r.0 / f.0,
            r.1 / f.1
        );
    }
}

// ---------------------------------------------------------------------------------------
// 2. Fleet resumption rate: 1 000 clients, 4 instances.
// ---------------------------------------------------------------------------------------

/// How the load balancer picks the instance a client reconnects to.
#[derive(Clone, Copy)]
enum Routing {
    /// Instance `(i + 1) mod 4` after a first connection on instance `i` (always another).
    Next,
    /// An instance chosen by a hash of the client's index (a quarter land where they were).
    Hashed,
}

fn reconnect_instance(routing: Routing, client: usize, first: usize) -> usize {
    match routing {
        Routing::Next => (first + 1) % INSTANCES,
        Routing::Hashed => {
            // SplitMix64, a fixed stand-in for a load balancer's choice.
            let mut z = (client as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % INSTANCES as u64) as usize
        }
    }
}

/// Each client: a full handshake on instance `i mod 4`, then a reconnect with its stored
/// session to the instance `routing` picks. Returns the share of resumed reconnects.
fn resumption_rate(
    cert: &Cert,
    versions: &[&'static SupportedProtocolVersion],
    tls12: Tls12Resumption,
    instances: &[Arc<ServerConfig>],
    routing: Routing,
) -> f64 {
    // All clients connect first, then all reconnect: per-instance caches see the whole
    // population, as on a busy fleet.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let client = client(cert, versions, Some(tls12));
            let (kind, _) = support::handshake(&client, &instances[i % INSTANCES], "localhost");
            assert_eq!(kind, HandshakeKind::Full);
            client
        })
        .collect();
    let resumed = clients
        .iter()
        .enumerate()
        .filter(|(i, client)| {
            let to = reconnect_instance(routing, *i, i % INSTANCES);
            support::handshake(client, &instances[to], "localhost").0 == HandshakeKind::Resumed
        })
        .count();
    100.0 * resumed as f64 / CLIENTS as f64
}

fn fleet_resumption(cert: &Cert) {
    println!(
        "\n== 2. Resumption rate: {CLIENTS} clients, full handshake on instance i, \
         reconnect elsewhere, {INSTANCES} instances =="
    );
    let session_id = Tls12Resumption::SessionIdOnly;
    let tickets = Tls12Resumption::SessionIdOrTickets;
    type Fleet = Box<dyn Fn() -> Vec<Arc<ServerConfig>>>;
    let per_instance = |versions: &'static [&'static SupportedProtocolVersion],
                        ticketer: bool|
     -> Fleet {
        let cert = (cert.0.clone(), cert.1.clone_key());
        Box::new(move || {
            (0..INSTANCES)
                .map(|_| {
                    let ticketer = ticketer
                        .then(|| rustls::crypto::ring::Ticketer::new().expect("rustls ticketer"));
                    server(
                        &cert,
                        versions,
                        ServerSessionMemoryCache::new(256),
                        ticketer,
                    )
                })
                .collect()
        })
    };
    let shared_cache = |versions: &'static [&'static SupportedProtocolVersion]| -> Fleet {
        let cert = (cert.0.clone(), cert.1.clone_key());
        Box::new(move || {
            let shared = fleet_store();
            (0..INSTANCES)
                .map(|_| server(&cert, versions, session_cache(Some(&shared)), None))
                .collect()
        })
    };
    let key_ring_fleet = {
        let cert = (cert.0.clone(), cert.1.clone_key());
        Box::new(move || {
            (0..INSTANCES)
                .map(|_| server(&cert, TLS13, session_cache(None), Some(key_ring())))
                .collect()
        }) as Fleet
    };
    let scenarios: Vec<(&str, &[&SupportedProtocolVersion], Tls12Resumption, Fleet)> = vec![
        (
            "rustls defaults, TLS 1.3 stateful (own 256-entry cache)",
            TLS13,
            tickets,
            per_instance(TLS13, false),
        ),
        (
            "rustls defaults + own ticketer, TLS 1.3 tickets",
            TLS13,
            tickets,
            per_instance(TLS13, true),
        ),
        (
            "rustls defaults, TLS 1.2 session id (own cache)",
            TLS12,
            session_id,
            per_instance(TLS12, false),
        ),
        (
            "tls-resume SessionCache + MemorySharedStore, TLS 1.3 stateful",
            TLS13,
            tickets,
            shared_cache(TLS13),
        ),
        (
            "tls-resume SessionCache + MemorySharedStore, TLS 1.2 session id",
            TLS12,
            session_id,
            shared_cache(TLS12),
        ),
        (
            "tls-resume KeyRingTicketer (one fleet secret), TLS 1.3 tickets",
            TLS13,
            tickets,
            key_ring_fleet,
        ),
    ];
    println!(
        "{:<66} {:>14} {:>14}",
        "scenario", "next instance", "hashed LB"
    );
    for (name, versions, tls12, fleet) in &scenarios {
        let next = resumption_rate(cert, versions, *tls12, &fleet(), Routing::Next);
        let hashed = resumption_rate(cert, versions, *tls12, &fleet(), Routing::Hashed);
        println!("{name:<66} {next:>13.1}% {hashed:>13.1}%");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Latency added by the Redis tier.
// ---------------------------------------------------------------------------------------

/// A `redis-server` on a free loopback port, killed when dropped.
fn start_redis() -> Option<(testkit::ChildGuard, u16)> {
    let Some(program) = testkit::find_program("redis-server") else {
        println!("SKIPPED: redis-server not installed; no Redis latency figures");
        return None;
    };
    for _ in 0..10 {
        let port = testkit::free_tcp_port();
        let mut command = Command::new(&program);
        command.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        let mut guard = testkit::ChildGuard::spawn(command).expect("start redis-server");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if testkit::wait_for_port(addr, Duration::from_secs(10)) && guard.is_running() {
            return Some((guard, port));
        }
    }
    println!("SKIPPED: redis-server did not start");
    None
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{what:<58} p50 {:>7.1} µs   p99 {:>7.1} µs   max {:>7.1} µs",
        percentile(&samples, 50.0).as_secs_f64() * 1e6,
        percentile(&samples, 99.0).as_secs_f64() * 1e6,
        samples.last().expect("samples").as_secs_f64() * 1e6,
    );
}

fn redis_latency(cert: &Cert) {
    println!(
        "\n== 3. Latency added by the Redis tier ({REDIS_CONNECTIONS} connections, \
         redis-server on loopback) =="
    );
    let Some((redis, port)) = start_redis() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let store = RedisStore::builder()
            .node(&format!("redis://127.0.0.1:{port}/"))
            .expect("node")
            .timeout(Duration::from_secs(1))
            .build()
            .await
            .expect("connect to redis-server");

        // Real session values: what the servers above store.
        let values = session_values(cert);
        let ttl = Duration::from_secs(600);
        let keys: Vec<Vec<u8>> = (0..2 * REDIS_CONNECTIONS)
            .map(|i| {
                let mut key = vec![0u8; 32];
                key[..8].copy_from_slice(&(i as u64).to_be_bytes());
                key[8..16].copy_from_slice(&(i as u64).wrapping_mul(0x9E37_79B9).to_be_bytes());
                key
            })
            .collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(store.put(key, &values[i % 2], ttl).await, "put into redis");
        }
        let (ids, tickets) = keys.split_at(REDIS_CONNECTIONS);

        // The prefetch the acceptor awaits before the handshake, per connection.
        let cache = SessionCache::new(NonZeroUsize::new(100_000).unwrap());
        let mut get = Vec::with_capacity(REDIS_CONNECTIONS);
        for id in ids {
            let started = Instant::now();
            let filled = store.prefetch_into(&cache, Some(id), &[]).await;
            get.push(started.elapsed());
            assert_eq!(filled, 1);
        }
        let mut take = Vec::with_capacity(REDIS_CONNECTIONS);
        for ticket in tickets {
            let started = Instant::now();
            let filled = store.prefetch_into(&cache, None, &[ticket]).await;
            take.push(started.elapsed());
            assert_eq!(filled, 1);
        }
        let mut miss = Vec::with_capacity(REDIS_CONNECTIONS);
        for ticket in tickets {
            let started = Instant::now();
            let filled = store.prefetch_into(&cache, None, &[ticket]).await;
            miss.push(started.elapsed());
            assert_eq!(filled, 0);
        }
        report("prefetch_into, TLS 1.2 session id (GET, hit)", get);
        report("prefetch_into, TLS 1.3 stateful ticket (GETDEL, hit)", take);
        report("prefetch_into, ticket already taken (GETDEL, miss)", miss);
        println!("RedisStore stats: {:?}", store.stats());
    });
    drop(runtime);

    // End to end: resumed handshakes over loopback TCP through `ResumingAcceptor`, the
    // shared tier in Redis (`RedisPrefetch`) vs in process (`CachePrefetch` over a
    // `MemorySharedStore`); both resume, so the difference is what Redis adds.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let url = format!("redis://127.0.0.1:{port}/");
        for (label, versions) in [("TLS 1.2 session id", TLS12), ("TLS 1.3 stateful", TLS13)] {
            let memory = accept_latency(cert, versions, None).await;
            let redis = accept_latency(cert, versions, Some(&url)).await;
            let (mut memory_sorted, mut redis_sorted) = (memory.clone(), redis.clone());
            memory_sorted.sort_unstable();
            redis_sorted.sort_unstable();
            let micros = |d: Duration| d.as_secs_f64() * 1e6;
            for p in [50.0, 99.0] {
                let (m, r) = (percentile(&memory_sorted, p), percentile(&redis_sorted, p));
                println!(
                    "resumed {label}, TCP connect to handshake done, p{p}: in-process \
                     {:.1} µs, Redis {:.1} µs, added {:.1} µs",
                    micros(m),
                    micros(r),
                    micros(r) - micros(m)
                );
            }
            report(&format!("  in-process shared tier, {label}"), memory);
            report(&format!("  Redis shared tier, {label}"), redis);
        }
    });
    drop(runtime);
    drop(redis);
}

/// A TLS 1.2 session value and a TLS 1.3 ticket value as rustls stores them.
fn session_values(cert: &Cert) -> [Vec<u8>; 2] {
    let capture = |versions| {
        let recorder = Arc::new(Recorder::default());
        let config = server(cert, versions, recorder.clone(), None);
        let client = client(cert, versions, Some(Tls12Resumption::SessionIdOnly));
        support::handshake(&client, &config, "localhost");
        let value = recorder.0.lock().expect("recorder").last().cloned();
        value.expect("a stored session")
    };
    [capture(TLS12), capture(TLS13)]
}

/// Session storage that only records the values rustls stores.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<Vec<u8>>>);

impl StoresServerSessions for Recorder {
    fn put(&self, _key: Vec<u8>, value: Vec<u8>) -> bool {
        self.0.lock().expect("recorder").push(value);
        true
    }

    fn get(&self, _key: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn take(&self, _key: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// Latencies of resumed handshakes (client side: TCP connect to handshake done) on
/// instance B for [`REDIS_CONNECTIONS`] clients whose sessions were made on instance A;
/// the fleet shares Redis at `redis` or, when `None`, a `MemorySharedStore`.
async fn accept_latency(
    cert: &Cert,
    versions: &'static [&'static SupportedProtocolVersion],
    redis: Option<&str>,
) -> Vec<Duration> {
    let memory = fleet_store();
    let mut stores = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..2 {
        let cache = match redis {
            Some(url) => {
                let store = RedisStore::builder()
                    .node(url)
                    .expect("node")
                    .timeout(Duration::from_secs(1))
                    .build()
                    .await
                    .expect("connect to redis-server");
                stores.push(store.clone());
                Arc::new(
                    SessionCache::new(NonZeroUsize::new(100_000).unwrap())
                        .with_shared(Arc::new(store)),
                )
            }
            None => session_cache(Some(&memory)),
        };
        let config = server(cert, versions, cache.clone(), None);
        let acceptor = ResumingAcceptor::new(config).with_prefetch_timeout(Duration::from_secs(1));
        let acceptor = match stores.last() {
            Some(store) if redis.is_some() => {
                acceptor.with_prefetch(RedisPrefetch::new(store.clone(), cache))
            }
            _ => acceptor.with_prefetch(CachePrefetch::new(cache)),
        };
        instances.push(serve(acceptor).await);
    }
    let clients: Vec<_> = (0..REDIS_CONNECTIONS)
        .map(|_| client(cert, versions, Some(Tls12Resumption::SessionIdOnly)))
        .collect();
    for client in &clients {
        assert_eq!(connect(instances[0].0, client).await.0, HandshakeKind::Full);
    }
    // Write-behind: wait until instance A's sessions are in Redis.
    if let Some(store) = stores.first() {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let stats = store.stats();
            if stats.written >= stats.queued {
                break;
            }
            assert!(Instant::now() < deadline, "write-behind stalled: {stats:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut latencies = Vec::with_capacity(REDIS_CONNECTIONS);
    for client in &clients {
        let (kind, latency) = connect(instances[1].0, client).await;
        assert_eq!(kind, HandshakeKind::Resumed);
        latencies.push(latency);
    }
    for (_, task) in instances {
        task.abort();
    }
    latencies
}

/// Serves `acceptor` on a loopback port: each connection gets one byte, then close.
async fn serve(acceptor: ResumingAcceptor) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncWriteExt;

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    // Flushes the TLS 1.3 tickets too.
                    let _ = tls.write_all(b"x").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (addr, task)
}

/// Connects, reads to the end (storing any TLS 1.3 tickets); returns the client's
/// handshake kind and the time from TCP connect to the end of the handshake.
async fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> (HandshakeKind, Duration) {
    use tokio::io::AsyncReadExt;

    let started = Instant::now();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .expect("client handshake");
    let latency = started.elapsed();
    let mut rest = Vec::new();
    tls.read_to_end(&mut rest).await.expect("read");
    (tls.get_ref().1.handshake_kind().expect("kind"), latency)
}
