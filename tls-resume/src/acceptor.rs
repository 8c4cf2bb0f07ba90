//! An acceptor that reads a connection's `ClientHello` before rustls does, so the sessions
//! it names can be fetched from the shared tier asynchronously and the handshake finds them
//! in memory.
//!
//! rustls calls its session store synchronously inside the handshake and exposes no session
//! id or PSK identity before it; a store that asks a remote tier there blocks the handshake
//! (and the runtime thread) on the network. [`ResumingAcceptor::accept`] instead:
//!
//! 1. **peeks** the first TLS record from the socket (`TcpStream::peek`, so the bytes stay
//!    in the socket for rustls), at most [`MAX_RECORD_LEN`] bytes and at most the peek
//!    budget (default [`DEFAULT_PEEK_TIMEOUT`], 5 s);
//! 2. **parses** it with [`client_hello::parse`] (bounded, never panics);
//! 3. if that found ids, runs the [`Prefetch`] hook, cut off after the prefetch budget
//!    (default [`DEFAULT_PREFETCH_TIMEOUT`], 20 ms);
//! 4. runs the `tokio_rustls` handshake on the same stream.
//!
//! Garbage, truncated, oversized or fragmented first records only mean "no prefetch": the
//! handshake still runs and rustls rejects what is not TLS. The whole `accept` is bounded by
//! the handshake budget (default [`DEFAULT_HANDSHAKE_TIMEOUT`], 10 s), so a client that
//! sends half a record and waits cannot hold a task forever.
//!
//! For servers without tokio, [`ids_from_blocking_stream`] does steps 1–2 on a
//! `std::net::TcpStream`; call the prefetch yourself, then the rustls handshake.
//!
//! # Example
//!
//! A server whose sessions live in a fleet-shared tier; the second connection names the
//! session made by the first, the acceptor prefetches it, and the handshake resumes.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//!
//! use rustls::crypto::ring::default_provider;
//! use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
//! use tls_resume::acceptor::{CachePrefetch, ResumingAcceptor};
//! use tls_resume::{MemorySharedStore, SessionCache};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
//! let key = PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
//! let provider = Arc::new(default_provider());
//!
//! let capacity = NonZeroUsize::new(1024).unwrap();
//! let fleet = Arc::new(MemorySharedStore::new(capacity));
//! let cache = Arc::new(SessionCache::new(capacity).with_shared(fleet));
//! let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
//!     .with_safe_default_protocol_versions()?
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.cert.der().clone()], key.into())?;
//! config.session_storage = cache.clone();
//! let acceptor = ResumingAcceptor::new(Arc::new(config)).with_prefetch(CachePrefetch::new(cache));
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = acceptor.clone();
//! tokio::spawn(async move {
//!     while let Ok((tcp, _)) = listener.accept().await {
//!         let acceptor = server.clone();
//!         tokio::spawn(async move {
//!             if let Ok(mut tls) = acceptor.accept(tcp).await {
//!                 let _ = tls.write_all(b"hi").await;
//!                 let _ = tls.shutdown().await;
//!             }
//!         });
//!     }
//! });
//!
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert.cert.der().clone())?;
//! let client = rustls::ClientConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()?
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
//! let mut kinds = Vec::new();
//! for _ in 0..2 {
//!     let tcp = tokio::net::TcpStream::connect(addr).await?;
//!     let mut tls = connector.connect(ServerName::try_from("localhost")?, tcp).await?;
//!     tls.read_to_end(&mut Vec::new()).await?; // also stores the TLS 1.3 tickets
//!     kinds.push(tls.get_ref().1.handshake_kind());
//! }
//! assert_eq!(kinds, [Some(rustls::HandshakeKind::Full), Some(rustls::HandshakeKind::Resumed)]);
//! assert_eq!(acceptor.stats().prefetches, 2); // TLS 1.3: random session id, then a ticket
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::client_hello::{self, ClientHelloError, ClientHelloIds, MAX_RECORD_LEN};
use crate::session_cache::{MAX_KEY_LEN, SessionCache};

/// The default peek budget: how long to wait for the first record.
pub const DEFAULT_PEEK_TIMEOUT: Duration = Duration::from_secs(5);

/// The default prefetch budget: how long the handshake may wait for the prefetch hook.
pub const DEFAULT_PREFETCH_TIMEOUT: Duration = Duration::from_millis(20);

/// The default budget for a whole [`ResumingAcceptor::accept`]: peek, prefetch and handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first wait between two peeks that saw no new bytes; it doubles up to
/// [`MAX_PEEK_BACKOFF`]. (`peek` returns at once while any byte is buffered, so waiting
/// for the rest of a record means polling.)
const MIN_PEEK_BACKOFF: Duration = Duration::from_millis(1);
const MAX_PEEK_BACKOFF: Duration = Duration::from_millis(25);
/// The first peek's buffer: enough for typical ClientHellos; grown to what the record
/// header announces (at most [`MAX_RECORD_LEN`]).
const INITIAL_PEEK: usize = 2048;

/// Fetches the sessions a `ClientHello` names into the local tier, before the handshake.
///
/// # Contract
///
/// - **Bounded time.** The acceptor stops waiting after its prefetch budget (default
///   20 ms) and drops the future; the handshake then runs with whatever the local tier
///   holds. Implementations must be cancel-safe: dropping the future at any `.await` must
///   leave the cache consistent (at worst an entry not yet filled, costing a full
///   handshake).
/// - **Never fails the client.** There is no error to return: a failing shared tier only
///   means a full handshake. Count or log failures instead.
/// - **Untrusted ids.** [`ClientHelloIds`] come straight from the network: look up only
///   keys a store could hold (e.g. at most
///   [`MAX_KEY_LEN`] bytes) and never trust their content.
/// - **TLS 1.3 stateful tickets are single-use fleet-wide**: fetch them with an atomic take
///   (`SharedStore::take`, Redis `GETDEL`) and keep them with
///   [`SessionCache::prefill_claimed`]; TLS 1.2 session ids with a plain get and
///   [`SessionCache::prefill`].
/// - When [`ClientHelloIds::offers_tls13`] is set and the server supports TLS 1.3, the
///   session id is random filler (TLS 1.3 middlebox compatibility): a remote prefetcher can
///   skip looking it up and save a round trip.
/// - Do not block the runtime thread (use async I/O); a synchronous in-process store is fine.
pub trait Prefetch: Send + Sync + 'static {
    /// Fetches the sessions `ids` names into the local tier. The returned future borrows
    /// only `self`: clone what it needs from `ids`.
    fn prefetch(&self, ids: &ClientHelloIds) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<P: Prefetch + ?Sized> Prefetch for Arc<P> {
    fn prefetch(&self, ids: &ClientHelloIds) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        (**self).prefetch(ids)
    }
}

/// A [`Prefetch`] that does nothing: the acceptor still parses and counts `ClientHello`s.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPrefetch;

impl Prefetch for NoPrefetch {
    fn prefetch(&self, _ids: &ClientHelloIds) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// A [`Prefetch`] that reads a [`SessionCache`]'s own shared tier: the TLS 1.2 session id
/// with `SharedStore::get` then [`SessionCache::prefill`], each PSK identity with the atomic
/// `SharedStore::take` then [`SessionCache::prefill_claimed`].
///
/// `SharedStore` is synchronous, so this suits in-process shared tiers
/// ([`MemorySharedStore`](crate::MemorySharedStore)); a remote tier should provide an async
/// prefetcher instead. Every PSK identity offered is taken, even those rustls would not get
/// to (it stops at the first that resumes); clients offer one.
#[derive(Debug, Clone)]
pub struct CachePrefetch {
    cache: Arc<SessionCache>,
}

impl CachePrefetch {
    /// A prefetcher filling `cache` from its shared tier (doing nothing if it has none).
    pub fn new(cache: Arc<SessionCache>) -> Self {
        Self { cache }
    }

    fn fill(&self, ids: &ClientHelloIds) {
        let Some(shared) = self.cache.shared() else {
            return;
        };
        if !ids.session_id.is_empty() {
            if let Ok(Some(entry)) = shared.get(&ids.session_id) {
                self.cache.prefill(&ids.session_id, entry);
            }
        }
        for identity in ids.psk_identities.iter().filter(|i| i.len() <= MAX_KEY_LEN) {
            if let Ok(Some(entry)) = shared.take(identity) {
                self.cache.prefill_claimed(identity, entry);
            }
        }
    }
}

impl Prefetch for CachePrefetch {
    fn prefetch(&self, ids: &ClientHelloIds) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.fill(ids);
        Box::pin(std::future::ready(()))
    }
}

/// A snapshot of a [`ResumingAcceptor`]'s counters, from [`ResumingAcceptor::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AcceptStats {
    /// Prefetch hooks started (a `ClientHello` parsed with at least one id).
    pub prefetches: u64,
    /// Prefetch hooks cut off by the prefetch budget.
    pub prefetch_timeouts: u64,
    /// Total time spent in prefetch hooks, in microseconds (divide by `prefetches`).
    pub prefetch_micros: u64,
    /// First records that parsed, with or without ids.
    pub parsed: u64,
    /// First records that were not a TLS handshake record.
    pub not_handshake: u64,
    /// Handshake records whose first message was not a `ClientHello`.
    pub not_client_hello: u64,
    /// Records still incomplete when the peek budget ran out or the client stopped sending.
    pub truncated: u64,
    /// Records announcing more than 2^14 bytes.
    pub too_large: u64,
    /// `ClientHello`s spanning several records (handled as "no ids").
    pub fragmented: u64,
    /// `ClientHello`s with more PSK identities than the parser keeps.
    pub too_many_identities: u64,
    /// Other malformed `ClientHello`s.
    pub malformed: u64,
    /// Bytes peeked, summed over connections (the last peek of each).
    pub peek_bytes: u64,
    /// Handshakes that completed.
    pub handshakes: u64,
    /// Handshakes that failed (including peek errors).
    pub handshake_errors: u64,
    /// `accept`s cut off by the handshake budget.
    pub handshake_timeouts: u64,
}

#[derive(Default)]
struct Counters {
    prefetches: AtomicU64,
    prefetch_timeouts: AtomicU64,
    prefetch_micros: AtomicU64,
    parsed: AtomicU64,
    not_handshake: AtomicU64,
    not_client_hello: AtomicU64,
    truncated: AtomicU64,
    too_large: AtomicU64,
    fragmented: AtomicU64,
    too_many_identities: AtomicU64,
    malformed: AtomicU64,
    peek_bytes: AtomicU64,
    handshakes: AtomicU64,
    handshake_errors: AtomicU64,
    handshake_timeouts: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn parse_failed(&self, error: ClientHelloError) {
        let counter = match error {
            ClientHelloError::NotHandshake => &self.not_handshake,
            ClientHelloError::NotClientHello => &self.not_client_hello,
            ClientHelloError::Truncated { .. } => &self.truncated,
            ClientHelloError::RecordTooLarge { .. } => &self.too_large,
            ClientHelloError::Fragmented => &self.fragmented,
            ClientHelloError::TooManyIdentities => &self.too_many_identities,
            ClientHelloError::Malformed(_) => &self.malformed,
        };
        add(counter, 1);
    }

    fn snapshot(&self) -> AcceptStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AcceptStats {
            prefetches: load(&self.prefetches),
            prefetch_timeouts: load(&self.prefetch_timeouts),
            prefetch_micros: load(&self.prefetch_micros),
            parsed: load(&self.parsed),
            not_handshake: load(&self.not_handshake),
            not_client_hello: load(&self.not_client_hello),
            truncated: load(&self.truncated),
            too_large: load(&self.too_large),
            fragmented: load(&self.fragmented),
            too_many_identities: load(&self.too_many_identities),
            malformed: load(&self.malformed),
            peek_bytes: load(&self.peek_bytes),
            handshakes: load(&self.handshakes),
            handshake_errors: load(&self.handshake_errors),
            handshake_timeouts: load(&self.handshake_timeouts),
        }
    }
}

/// Accepts TLS connections on tokio, prefetching the sessions each `ClientHello` names
/// before rustls looks for them. See the module docs.
///
/// Cheap to clone: clones share the config, the hook and the counters.
#[derive(Clone)]
pub struct ResumingAcceptor {
    tls: TlsAcceptor,
    prefetch: Arc<dyn Prefetch>,
    peek_timeout: Duration,
    prefetch_timeout: Duration,
    handshake_timeout: Duration,
    counters: Arc<Counters>,
}

impl fmt::Debug for ResumingAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumingAcceptor")
            .field("peek_timeout", &self.peek_timeout)
            .field("prefetch_timeout", &self.prefetch_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The acceptor as a `tower::Service` over accepted TCP streams, so it composes with tower
/// middleware (timeouts, concurrency limits) like any other service. Always ready; each call
/// runs [`ResumingAcceptor::accept`].
impl tower_service::Service<TcpStream> for ResumingAcceptor {
    type Response = TlsStream<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream<TcpStream>>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: TcpStream) -> Self::Future {
        let acceptor = self.clone();
        Box::pin(async move { acceptor.accept(stream).await })
    }
}

impl ResumingAcceptor {
    /// An acceptor for `config` with no prefetch hook ([`NoPrefetch`]) and the default
    /// budgets.
    pub fn new(config: Arc<ServerConfig>) -> Self {
        Self {
            tls: TlsAcceptor::from(config),
            prefetch: Arc::new(NoPrefetch),
            peek_timeout: DEFAULT_PEEK_TIMEOUT,
            prefetch_timeout: DEFAULT_PREFETCH_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            counters: Arc::default(),
        }
    }

    /// Sets the hook run with the ids of each parsed `ClientHello`.
    #[must_use]
    pub fn with_prefetch(mut self, prefetch: impl Prefetch) -> Self {
        self.prefetch = Arc::new(prefetch);
        self
    }

    /// Sets how long to wait for the complete first record (default 5 s). When it runs
    /// out, the handshake proceeds without prefetch.
    #[must_use]
    pub fn with_peek_timeout(mut self, budget: Duration) -> Self {
        self.peek_timeout = budget;
        self
    }

    /// Sets how long the handshake waits for the prefetch hook (default 20 ms).
    #[must_use]
    pub fn with_prefetch_timeout(mut self, budget: Duration) -> Self {
        self.prefetch_timeout = budget;
        self
    }

    /// Sets the budget of a whole [`accept`](Self::accept) (default 10 s).
    #[must_use]
    pub fn with_handshake_timeout(mut self, budget: Duration) -> Self {
        self.handshake_timeout = budget;
        self
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> AcceptStats {
        self.counters.snapshot()
    }

    /// Peeks and parses the first record, prefetches, then runs the TLS handshake on
    /// `stream`.
    ///
    /// # Errors
    ///
    /// The handshake failed (garbage, a protocol error, the client went away), reading the
    /// socket failed, or the handshake budget ran out ([`io::ErrorKind::TimedOut`]). A
    /// first record that cannot be parsed is not an error by itself.
    pub async fn accept(&self, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        let result = tokio::time::timeout(self.handshake_timeout, self.accept_inner(stream)).await;
        match result {
            Ok(Ok(tls)) => {
                add(&self.counters.handshakes, 1);
                Ok(tls)
            }
            Ok(Err(error)) => {
                add(&self.counters.handshake_errors, 1);
                Err(error)
            }
            Err(_) => {
                add(&self.counters.handshake_errors, 1);
                add(&self.counters.handshake_timeouts, 1);
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "TLS handshake budget exceeded",
                ))
            }
        }
    }

    async fn accept_inner(&self, stream: TcpStream) -> io::Result<TlsStream<TcpStream>> {
        if let Some(ids) = self.peek_ids(&stream).await? {
            self.run_prefetch(&ids).await;
        }
        self.tls.accept(stream).await
    }

    /// Peeks the first record (within the peek budget) and parses it. `Ok(None)` when it
    /// names no session or could not be parsed (counted by kind).
    async fn peek_ids(&self, stream: &TcpStream) -> io::Result<Option<ClientHelloIds>> {
        let deadline = tokio::time::Instant::now() + self.peek_timeout;
        let mut buf = vec![0u8; INITIAL_PEEK];
        let mut backoff = MIN_PEEK_BACKOFF;
        let mut seen = 0;
        let outcome = loop {
            let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
                Ok(result) => result?,
                Err(_) => break client_hello::parse(&buf[..seen]),
            };
            seen = n;
            match client_hello::parse(&buf[..n]) {
                Err(ClientHelloError::Truncated { needed }) => {
                    // `needed` is at most MAX_RECORD_LEN, so the buffer stays bounded.
                    if needed > buf.len() {
                        buf.resize(needed.min(MAX_RECORD_LEN), 0);
                        continue;
                    }
                    if n == 0 || tokio::time::Instant::now() + backoff > deadline {
                        // End of stream, or no time left for more bytes.
                        break Err(ClientHelloError::Truncated { needed });
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_PEEK_BACKOFF);
                }
                outcome => break outcome,
            }
        };
        add(&self.counters.peek_bytes, seen as u64);
        match outcome {
            Ok(ids) => {
                add(&self.counters.parsed, 1);
                Ok((!ids.is_empty()).then_some(ids))
            }
            Err(error) => {
                self.counters.parse_failed(error);
                tracing::debug!(%error, "first record not parsed; handshake without prefetch");
                Ok(None)
            }
        }
    }

    async fn run_prefetch(&self, ids: &ClientHelloIds) {
        add(&self.counters.prefetches, 1);
        let started = Instant::now();
        let fetch = self.prefetch.prefetch(ids);
        if tokio::time::timeout(self.prefetch_timeout, fetch)
            .await
            .is_err()
        {
            add(&self.counters.prefetch_timeouts, 1);
            tracing::debug!("prefetch budget exceeded; handshake proceeds");
        }
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        add(&self.counters.prefetch_micros, micros);
    }
}

/// The blocking counterpart of the acceptor's peek, for servers without tokio: peeks the
/// first record of `stream` (leaving it in the socket for rustls) for at most
/// [`DEFAULT_PEEK_TIMEOUT`] and parses it. See [`ids_from_blocking_stream_within`].
pub fn ids_from_blocking_stream(stream: &std::net::TcpStream) -> Option<ClientHelloIds> {
    ids_from_blocking_stream_within(stream, DEFAULT_PEEK_TIMEOUT)
}

/// Like [`ids_from_blocking_stream`] with a peek budget of `budget`.
///
/// Blocks the calling thread for up to `budget` (using the socket's read timeout, which is
/// restored afterwards; the stream must be in blocking mode). Returns `None` when the first
/// record names no session, cannot be parsed, or does not arrive in time; the handshake
/// should then proceed without prefetch. Run your prefetch with the ids, then the rustls
/// handshake on the same stream.
pub fn ids_from_blocking_stream_within(
    stream: &std::net::TcpStream,
    budget: Duration,
) -> Option<ClientHelloIds> {
    let previous = stream.read_timeout().ok()?;
    let deadline = Instant::now() + budget;
    let mut buf = vec![0u8; INITIAL_PEEK];
    let mut backoff = MIN_PEEK_BACKOFF;
    let outcome = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // A zero read timeout is an error in std; a budget that ran out ends the loop.
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break None;
        }
        let Ok(n) = stream.peek(&mut buf) else {
            break None;
        };
        match client_hello::parse(&buf[..n]) {
            Err(ClientHelloError::Truncated { needed }) => {
                if needed > buf.len() {
                    buf.resize(needed.min(MAX_RECORD_LEN), 0);
                    continue;
                }
                if n == 0 || Instant::now() + backoff > deadline {
                    break None;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_PEEK_BACKOFF);
            }
            Ok(ids) => break (!ids.is_empty()).then_some(ids),
            Err(_) => break None,
        }
    };
    // Best effort: the caller's own reads see the timeout it had set.
    let _ = stream.set_read_timeout(previous);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefetch_is_ready() {
        let ids = ClientHelloIds::default();
        let fut = NoPrefetch.prefetch(&ids);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(fut);
    }

    #[test]
    fn blocking_peek_reads_ids_and_leaves_the_bytes() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        // A minimal ClientHello with a 3-byte session id, sent in two parts.
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[3, 1, 2, 3, 0, 2, 0x13, 0x01, 1, 0]);
        let mut record = vec![22, 3, 1, 0, (body.len() + 4) as u8, 1, 0, 0];
        record.push(body.len() as u8);
        record.extend_from_slice(&body);
        client.write_all(&record[..10]).unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            client.write_all(&record[10..]).unwrap();
            client
        });
        let ids = ids_from_blocking_stream_within(&server, Duration::from_secs(5)).unwrap();
        assert_eq!(ids.session_id, vec![1, 2, 3]);
        assert_eq!(server.read_timeout().unwrap(), None);
        let _client = writer.join().unwrap();
        let mut first = [0u8; 5];
        server.read_exact(&mut first).unwrap();
        assert_eq!(first[0], 22);
    }

    #[test]
    fn blocking_peek_gives_up_after_its_budget() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(&[22, 3, 1, 1, 0, 1]).unwrap();
        let started = Instant::now();
        assert_eq!(
            ids_from_blocking_stream_within(&server, Duration::from_millis(100)),
            None
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // Garbage is refused at once.
        let mut client2 = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server2, _) = listener.accept().unwrap();
        client2.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(ids_from_blocking_stream(&server2), None);
    }
}
