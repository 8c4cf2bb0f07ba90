//! The `ClientHello` parser against real rustls clients, and `ResumingAcceptor` over
//! loopback TCP: prefetch sees the ids the store holds, handshakes resume, and garbage,
//! truncated and oversized first records are rejected without harming the next client.

mod support;

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rustls::client::{Resumption, Tls12Resumption};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ServerSessionMemoryCache, StoresServerSessions};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};
use tls_resume::acceptor::{CachePrefetch, Prefetch, ResumingAcceptor};
use tls_resume::client_hello::{self, ClientHelloError, ClientHelloIds, MAX_RECORD_LEN};
use tls_resume::{MemorySharedStore, SessionCache};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TEST_BUDGET: Duration = Duration::from_secs(30);

type Cert = (CertificateDer<'static>, PrivateKeyDer<'static>);

fn cert() -> &'static Cert {
    static CERT: OnceLock<Cert> = OnceLock::new();
    CERT.get_or_init(support::make_cert)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A session store that records the keys rustls uses, in front of a real store.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn StoresServerSessions>,
    puts: Mutex<Vec<Vec<u8>>>,
    gets: Mutex<Vec<Vec<u8>>>,
    takes: Mutex<Vec<Vec<u8>>>,
}

impl Recording {
    fn new(inner: Arc<dyn StoresServerSessions>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            puts: Mutex::default(),
            gets: Mutex::default(),
            takes: Mutex::default(),
        })
    }

    fn memory() -> Arc<Self> {
        Self::new(ServerSessionMemoryCache::new(64))
    }

    fn puts(&self) -> Vec<Vec<u8>> {
        lock(&self.puts).clone()
    }
}

impl StoresServerSessions for Recording {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        lock(&self.puts).push(key.clone());
        self.inner.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.gets).push(key.to_vec());
        self.inner.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.takes).push(key.to_vec());
        self.inner.take(key)
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

fn server_with_store(
    versions: &[&'static SupportedProtocolVersion],
    store: Arc<dyn StoresServerSessions>,
) -> Arc<ServerConfig> {
    let mut config = (*support::server_config(cert(), versions, None)).clone();
    config.session_storage = store;
    Arc::new(config)
}

/// A client remembering sessions; TLS 1.2 resumes by session id only (no tickets).
fn client(versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut config = (*support::client_config(&cert().0, versions)).clone();
    config.resumption =
        Resumption::in_memory_sessions(64).tls12_resumption(Tls12Resumption::SessionIdOnly);
    Arc::new(config)
}

// ---------------------------------------------------------------------------------------
// The parser against ClientHellos written by rustls.
// ---------------------------------------------------------------------------------------

/// A client connection and its first flight, as it would go on the wire.
fn first_flight(config: &Arc<ClientConfig>) -> (ClientConnection, Vec<u8>) {
    let name = ServerName::try_from("localhost").expect("server name");
    let mut client = ClientConnection::new(config.clone(), name).expect("client");
    let mut wire = Vec::new();
    client.write_tls(&mut wire).expect("write the ClientHello");
    (client, wire)
}

fn transfer<A, B>(from: &mut ConnectionCommon<A>, to: &mut ConnectionCommon<B>) {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).expect("write tls");
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read tls");
        to.process_new_packets().expect("process packets");
    }
}

/// Feeds `first` to a new server connection and finishes the handshake in memory
/// (including TLS 1.3 tickets). Returns the server's handshake kind.
fn finish(mut client: ClientConnection, first: &[u8], config: &Arc<ServerConfig>) -> HandshakeKind {
    let mut server = ServerConnection::new(config.clone()).expect("server");
    let mut rd = first;
    while !rd.is_empty() {
        server.read_tls(&mut rd).expect("read the ClientHello");
        server
            .process_new_packets()
            .expect("process the ClientHello");
    }
    for _ in 0..16 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        transfer(&mut server, &mut client);
        transfer(&mut client, &mut server);
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    transfer(&mut server, &mut client);
    assert_eq!(client.handshake_kind(), server.handshake_kind());
    server.handshake_kind().expect("handshake kind")
}

#[test]
fn tls12_client_hello_names_the_stored_session_id() {
    let store = Recording::memory();
    let server = server_with_store(TLS12, store.clone());
    let client = client(TLS12);

    let (conn, first) = first_flight(&client);
    let ids = client_hello::parse(&first).expect("parse a fresh TLS 1.2 ClientHello");
    // A TLS 1.2-only rustls client with nothing to resume sends no session id.
    assert!(ids.session_id.is_empty(), "{ids:?}");
    assert!(ids.psk_identities.is_empty());
    assert!(!ids.offers_tls13);
    assert_eq!(ids.server_name.as_deref(), Some("localhost"));
    assert_eq!(finish(conn, &first, &server), HandshakeKind::Full);
    let stored = store.puts();
    assert_eq!(stored.len(), 1);

    let (conn, first) = first_flight(&client);
    let ids = client_hello::parse(&first).expect("parse a resuming TLS 1.2 ClientHello");
    assert_eq!(ids.session_id, stored[0]);
    assert!(ids.psk_identities.is_empty());
    assert_eq!(finish(conn, &first, &server), HandshakeKind::Resumed);
    assert_eq!(lock(&store.gets).last(), Some(&stored[0]));
}

#[test]
fn tls13_client_hello_names_a_stored_ticket() {
    let store = Recording::memory();
    let server = server_with_store(TLS13, store.clone());
    let client = client(TLS13);

    let (conn, first) = first_flight(&client);
    let ids = client_hello::parse(&first).expect("parse a fresh TLS 1.3 ClientHello");
    assert!(ids.psk_identities.is_empty(), "{ids:?}");
    assert!(ids.offers_tls13);
    assert_eq!(finish(conn, &first, &server), HandshakeKind::Full);
    let stored = store.puts();
    assert_eq!(
        stored.len(),
        2,
        "rustls sends two stateful tickets by default"
    );
    // The legacy session id is random middlebox-compatibility filler, not a stored key.
    assert!(!stored.contains(&ids.session_id));

    let (conn, first) = first_flight(&client);
    let ids = client_hello::parse(&first).expect("parse a resuming TLS 1.3 ClientHello");
    assert_eq!(ids.psk_identities.len(), 1, "{ids:?}");
    assert!(stored.contains(&ids.psk_identities[0]));
    assert_eq!(finish(conn, &first, &server), HandshakeKind::Resumed);
    assert_eq!(lock(&store.takes).as_slice(), &ids.psk_identities[..]);
}

/// Real ClientHellos: fresh and resuming, TLS 1.2 and 1.3.
fn real_hellos() -> &'static [Vec<u8>] {
    static HELLOS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    HELLOS.get_or_init(|| {
        let mut hellos = Vec::new();
        for versions in [TLS12, TLS13, rustls::ALL_VERSIONS] {
            let server = server_with_store(versions, Recording::memory());
            let client = client(versions);
            for _ in 0..2 {
                let (conn, first) = first_flight(&client);
                finish(conn, &first, &server);
                hellos.push(first);
            }
        }
        hellos
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_real_hellos_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let hellos = real_hellos();
        let mut bytes = hellos[which.index(hellos.len())].clone();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len().max(1));
            match op {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let len = cut.index(bytes.len() + 1);
        bytes.truncate(len.max(bytes.len() / 2));
        match client_hello::parse(&bytes) {
            Ok(ids) => {
                prop_assert!(ids.session_id.len() <= 32);
                prop_assert!(ids.psk_identities.len() <= client_hello::MAX_PSK_IDENTITIES);
            }
            Err(ClientHelloError::Truncated { needed }) => {
                prop_assert!(needed > bytes.len() && needed <= MAX_RECORD_LEN);
            }
            Err(_) => {}
        }
    }

    #[test]
    fn every_prefix_of_a_real_hello_asks_for_more(which in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let hellos = real_hellos();
        let hello = &hellos[which.index(hellos.len())];
        let record_len = 5 + usize::from(u16::from_be_bytes([hello[3], hello[4]]));
        let cut = cut.index(record_len);
        let needed = if cut < 5 { 5 } else { record_len };
        prop_assert_eq!(client_hello::parse(&hello[..cut]), Err(ClientHelloError::Truncated { needed }));
    }
}

#[test]
fn real_hellos_parse() {
    for hello in real_hellos() {
        let ids = client_hello::parse(hello).expect("a real ClientHello parses");
        assert_eq!(ids.server_name.as_deref(), Some("localhost"));
    }
}

// ---------------------------------------------------------------------------------------
// ResumingAcceptor over loopback TCP.
// ---------------------------------------------------------------------------------------

/// A prefetch hook recording the ids it is given, then delegating (if anywhere).
#[derive(Clone, Default)]
struct RecordingPrefetch {
    seen: Arc<Mutex<Vec<ClientHelloIds>>>,
    inner: Option<CachePrefetch>,
    delay: Option<Duration>,
}

impl RecordingPrefetch {
    fn seen(&self) -> Vec<ClientHelloIds> {
        lock(&self.seen).clone()
    }
}

impl Prefetch for RecordingPrefetch {
    fn prefetch(
        &self,
        ids: &ClientHelloIds,
    ) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        lock(&self.seen).push(ids.clone());
        let ids = ids.clone();
        Box::pin(async move {
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            if let Some(inner) = &self.inner {
                inner.prefetch(&ids).await;
            }
        })
    }
}

/// A server accepting with `acceptor` until dropped; reports each accept's outcome.
struct Server {
    addr: SocketAddr,
    results: mpsc::UnboundedReceiver<io::Result<HandshakeKind>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(acceptor: ResumingAcceptor) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, results) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let result = match acceptor.accept(tcp).await {
                        Ok(mut tls) => {
                            let kind = tls.get_ref().1.handshake_kind().expect("kind");
                            // Flushes the TLS 1.3 tickets too.
                            let _ = tls.write_all(b"hello").await;
                            let _ = tls.shutdown().await;
                            Ok(kind)
                        }
                        Err(error) => Err(error),
                    };
                    let _ = tx.send(result);
                });
            }
        });
        Self {
            addr,
            results,
            task,
        }
    }

    async fn next_result(&mut self) -> io::Result<HandshakeKind> {
        self.results.recv().await.expect("server still running")
    }
}

/// Connects, reads the server's greeting to the end (storing any TLS 1.3 tickets) and
/// returns the client's handshake kind.
async fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> HandshakeKind {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .expect("client handshake");
    let mut greeting = Vec::new();
    tls.read_to_end(&mut greeting).await.expect("read greeting");
    assert_eq!(greeting, b"hello");
    tls.get_ref().1.handshake_kind().expect("kind")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_prefetch_sees_the_stored_session_id_and_the_handshake_resumes() {
    tokio::time::timeout(TEST_BUDGET, async {
        let store = Recording::memory();
        let hook = RecordingPrefetch::default();
        let acceptor = ResumingAcceptor::new(server_with_store(TLS12, store.clone()))
            .with_prefetch(hook.clone());
        let mut server = Server::start(acceptor.clone()).await;
        let client = client(TLS12);

        assert_eq!(connect(server.addr, &client).await, HandshakeKind::Full);
        assert_eq!(server.next_result().await.unwrap(), HandshakeKind::Full);
        // A TLS 1.2-only client with nothing to resume names nothing: no prefetch.
        assert!(hook.seen().is_empty(), "{:?}", hook.seen());
        let stored = store.puts();
        assert_eq!(stored.len(), 1);

        assert_eq!(connect(server.addr, &client).await, HandshakeKind::Resumed);
        assert_eq!(server.next_result().await.unwrap(), HandshakeKind::Resumed);
        let seen = hook.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].session_id, stored[0]);
        assert!(seen[0].psk_identities.is_empty());

        let stats = acceptor.stats();
        assert_eq!(
            (stats.parsed, stats.prefetches, stats.handshakes),
            (2, 1, 2)
        );
        assert_eq!(stats.prefetch_timeouts, 0);
        assert!(stats.peek_bytes > 100, "{stats:?}");
    })
    .await
    .expect("test budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_ticket_made_on_one_instance_is_prefetched_and_resumes_on_another() {
    tokio::time::timeout(TEST_BUDGET, async {
        let capacity = NonZeroUsize::new(64).unwrap();
        let fleet = Arc::new(MemorySharedStore::new(capacity));
        let cache_a = Arc::new(SessionCache::new(capacity).with_shared(fleet.clone()));
        let cache_b = Arc::new(SessionCache::new(capacity).with_shared(fleet.clone()));
        let store_a = Recording::new(cache_a.clone());
        let store_b = Recording::new(cache_b.clone());
        let hook_b = RecordingPrefetch {
            inner: Some(CachePrefetch::new(cache_b.clone())),
            ..RecordingPrefetch::default()
        };
        let mut a = Server::start(ResumingAcceptor::new(server_with_store(
            TLS13,
            store_a.clone(),
        )))
        .await;
        let acceptor_b = ResumingAcceptor::new(server_with_store(TLS13, store_b.clone()))
            .with_prefetch(hook_b.clone());
        let mut b = Server::start(acceptor_b.clone()).await;
        let client = client(TLS13);

        assert_eq!(connect(a.addr, &client).await, HandshakeKind::Full);
        assert_eq!(a.next_result().await.unwrap(), HandshakeKind::Full);
        let stored = store_a.puts();
        assert_eq!(stored.len(), 2);

        assert_eq!(connect(b.addr, &client).await, HandshakeKind::Resumed);
        assert_eq!(b.next_result().await.unwrap(), HandshakeKind::Resumed);
        let seen = hook_b.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].psk_identities.len(), 1);
        let identity = &seen[0].psk_identities[0];
        assert!(stored.contains(identity));
        assert_eq!(
            lock(&store_b.takes).as_slice(),
            std::slice::from_ref(identity)
        );
        // The handshake found the ticket in memory: the prefetch had claimed it.
        let stats = cache_b.stats();
        assert_eq!((stats.local_hits, stats.shared_hits), (1, 0), "{stats:?}");
        assert_eq!(acceptor_b.stats().prefetches, 1);

        // The ticket was single-use fleet-wide: the other one resumes once more on A, then
        // the client has none left.
        assert_eq!(connect(a.addr, &client).await, HandshakeKind::Resumed);
        assert_eq!(a.next_result().await.unwrap(), HandshakeKind::Resumed);
    })
    .await
    .expect("test budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_prefetch_is_cut_off_and_the_handshake_proceeds() {
    tokio::time::timeout(TEST_BUDGET, async {
        let hook = RecordingPrefetch {
            delay: Some(Duration::from_secs(20)),
            ..RecordingPrefetch::default()
        };
        let acceptor = ResumingAcceptor::new(server_with_store(TLS12, Recording::memory()))
            .with_prefetch(hook)
            .with_prefetch_timeout(Duration::from_millis(20));
        let mut server = Server::start(acceptor.clone()).await;
        let client = client(TLS12);
        connect(server.addr, &client).await;
        server.next_result().await.unwrap();
        let started = Instant::now();
        assert_eq!(connect(server.addr, &client).await, HandshakeKind::Resumed);
        assert!(started.elapsed() < Duration::from_secs(5));
        server.next_result().await.unwrap();
        let stats = acceptor.stats();
        assert_eq!((stats.prefetches, stats.prefetch_timeouts), (1, 1));
    })
    .await
    .expect("test budget");
}

/// Sends `bytes` on a raw TCP connection, then half-closes it or holds it open.
async fn send_raw(addr: SocketAddr, bytes: &[u8], hold_open: bool) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    // The server may reject before reading everything; a reset is fine.
    let _ = tcp.write_all(bytes).await;
    if !hold_open {
        let _ = tcp.shutdown().await;
    }
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_first_records_fail_cleanly_and_the_server_keeps_serving() {
    tokio::time::timeout(TEST_BUDGET, async {
        let hook = RecordingPrefetch::default();
        let acceptor =
            ResumingAcceptor::new(server_with_store(rustls::ALL_VERSIONS, Recording::memory()))
                .with_prefetch(hook.clone())
                .with_peek_timeout(Duration::from_millis(200))
                .with_handshake_timeout(Duration::from_secs(1));
        let mut server = Server::start(acceptor.clone()).await;
        let addr = server.addr;

        // Garbage.
        let _c = send_raw(addr, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", false).await;
        assert!(server.next_result().await.is_err());

        // A truncated record, then the client half-closes.
        let mut truncated = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
        truncated.extend_from_slice(&[0x03; 60]);
        let _c = send_raw(addr, &truncated, false).await;
        assert!(server.next_result().await.is_err());

        // A truncated record, and the client waits: the handshake budget ends it.
        let started = Instant::now();
        let _c = send_raw(addr, &truncated, true).await;
        let error = server.next_result().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));

        // A 20 KB record (more than TLS allows), and 20 KB of junk.
        let mut oversized = vec![0x16, 0x03, 0x01];
        oversized.extend_from_slice(&(20_000u16 - 5).to_be_bytes());
        oversized.resize(20_000, 0x5a);
        let _c = send_raw(addr, &oversized, false).await;
        assert!(server.next_result().await.is_err());
        let _c = send_raw(addr, &vec![0xA5; 20_000], false).await;
        assert!(server.next_result().await.is_err());

        // The server still serves a real client.
        let client = client(rustls::ALL_VERSIONS);
        assert_eq!(connect(addr, &client).await, HandshakeKind::Full);
        assert_eq!(server.next_result().await.unwrap(), HandshakeKind::Full);

        let stats = acceptor.stats();
        assert_eq!(stats.not_handshake, 2, "{stats:?}");
        assert_eq!(stats.truncated, 2, "{stats:?}");
        assert_eq!(stats.too_large, 1, "{stats:?}");
        assert_eq!(stats.handshake_errors, 5, "{stats:?}");
        assert_eq!(stats.handshake_timeouts, 1, "{stats:?}");
        assert_eq!(stats.handshakes, 1, "{stats:?}");
        assert!(
            stats.peek_bytes <= 5 * MAX_RECORD_LEN as u64 + 4096,
            "{stats:?}"
        );
        // Nothing bad reached the hook.
        assert!(
            hook.seen()
                .iter()
                .all(|ids| ids.server_name.as_deref() == Some("localhost"))
        );
    })
    .await
    .expect("test budget");
}

/// Splits the first record of `flight` (a ClientHello) into two records, as TLS allows.
fn fragment(flight: &[u8]) -> Vec<u8> {
    let len = usize::from(u16::from_be_bytes([flight[3], flight[4]]));
    let (payload, rest) = flight[5..].split_at(len);
    let (one, two) = payload.split_at(len / 2);
    let mut out = Vec::new();
    for part in [one, two] {
        out.extend_from_slice(&flight[..3]);
        out.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_client_hello_gets_a_plain_handshake() {
    tokio::time::timeout(TEST_BUDGET, async {
        let hook = RecordingPrefetch::default();
        let acceptor = ResumingAcceptor::new(server_with_store(TLS13, Recording::memory()))
            .with_prefetch(hook.clone());
        let mut server = Server::start(acceptor.clone()).await;
        let addr = server.addr;
        let client = client(TLS13);
        let kind = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let (mut conn, first) = first_flight(&client);
            assert!(client_hello::parse(&first).is_ok());
            let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tcp.write_all(&fragment(&first))
                .expect("send the fragmented hello");
            while conn.is_handshaking() {
                conn.complete_io(&mut tcp).expect("client handshake");
            }
            let mut greeting = Vec::new();
            rustls::Stream::new(&mut conn, &mut tcp)
                .read_to_end(&mut greeting)
                .expect("read greeting");
            assert_eq!(greeting, b"hello");
            conn.handshake_kind()
        })
        .await
        .expect("client task");
        assert_eq!(kind, Some(HandshakeKind::Full));
        assert_eq!(server.next_result().await.unwrap(), HandshakeKind::Full);
        let stats = acceptor.stats();
        assert_eq!((stats.fragmented, stats.prefetches), (1, 0), "{stats:?}");
        assert!(hook.seen().is_empty());
    })
    .await
    .expect("test budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acceptor_is_a_tower_service_over_tcp_streams() {
    use tower_service::Service;
    tokio::time::timeout(TEST_BUDGET, async {
        let store = Recording::memory();
        let mut acceptor = ResumingAcceptor::new(server_with_store(TLS12, store.clone()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let client = client(TLS12);
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accept");
            std::future::poll_fn(|cx| acceptor.poll_ready(cx))
                .await
                .expect("ready");
            let mut tls = acceptor.call(tcp).await.expect("handshake");
            let kind = tls.get_ref().1.handshake_kind();
            let _ = tls.write_all(b"hello").await;
            let _ = tls.shutdown().await;
            kind
        });
        assert_eq!(connect(addr, &client).await, HandshakeKind::Full);
        assert_eq!(
            server.await.expect("server task"),
            Some(HandshakeKind::Full)
        );
        assert_eq!(store.puts().len(), 1, "the session was stored");
    })
    .await
    .expect("test budget");
}
