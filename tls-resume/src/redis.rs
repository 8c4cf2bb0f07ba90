//! The fleet's shared session tier on several independent Redis nodes: [`RedisStore`];
//! and ticket keys kept in the same nodes: [`RedisKeySource`].
//!
//! Each session lives on **one** node, chosen by rendezvous (highest random weight)
//! hashing of its key over the configured node ids ([`rendezvous`]), so every instance
//! with the same node list looks in the same place, and removing a node moves only the
//! sessions that were on it (they become misses: full handshakes). There is no
//! replication: a lost node loses its sessions, which costs full handshakes only.
//!
//! ```
//! use std::time::Duration;
//! use tls_resume::redis::{RedisStore, rendezvous};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Nothing listens on port 1: every call is a miss within its budget.
//! let store = RedisStore::builder()
//!     .node("redis://127.0.0.1:1/")?
//!     .timeout(Duration::from_millis(5))
//!     .build_lazy()?;
//! assert!(store.get(&[7; 32]).await.is_none());
//! assert_eq!(store.stats().misses, 1);
//! // The node a key lives on depends only on the node ids and the key.
//! assert_eq!(rendezvous(&["a", "b", "c"], &[7; 32]), rendezvous(&["c", "b", "a"], &[7; 32]).map(|i| 2 - i));
//! # Ok(())
//! # }
//! ```
//!
//! # Contract
//!
//! - **Node choice.** The score of node `id` for key `k` is the first 8 bytes, big-endian,
//!   of `SHA-256(id ‖ 0x00 ‖ k)`; the node with the highest score holds `k` (ties, which
//!   need a SHA-256 prefix collision, go to the smaller id). The hash is fixed: every
//!   instance, build and Rust version agrees. Node ids are configured strings (the URL by
//!   default, or a name with [`RedisStoreBuilder::named_node`]); give every instance the
//!   same ids, in any order.
//! - **Redis keys.** A session key `k` (at most [`MAX_KEY_LEN`] bytes: longer keys are
//!   untrusted and refused without a lookup) is stored as `{prefix}{hex(k)}`. rustls's keys
//!   are 32 random bytes, so they need no hashing.
//! - **Commands.** [`get`](RedisStore::get) runs a script returning the value and its
//!   `PTTL`; [`take`](RedisStore::take) a script running `PTTL` then `GETDEL` (Redis ≥
//!   6.2), atomic on the node, so of any number of concurrent takes of one key, fleet-wide,
//!   at most one gets the value; [`put`](RedisStore::put) is `SET key value PX ttl`.
//! - **Time budget.** Every call answers within its [`timeout`](RedisStoreBuilder::timeout)
//!   ([`DEFAULT_TIMEOUT`], 20 ms) plus scheduling. A failure, a timeout or a node without a
//!   connection is a **miss** (a full handshake), counted in [`RedisStoreStats`]; nothing
//!   is ever returned as an error. Each node reconnects by itself in the background on the
//!   tokio runtime that built the store, at most one attempt at a time, with an exponential
//!   backoff from 50 ms to 500 ms (so resumption across instances returns within about
//!   half a second of the node returning, however long it was away); a call never waits
//!   for one. A connection is replaced after an I/O error, a `READONLY` reply or 8
//!   timeouts in a row.
//! - **Write-behind.** [`SharedStore::put`] (called by rustls inside the handshake) only
//!   queues the write in a bounded queue ([`RedisStoreBuilder::queue_capacity`]) and
//!   returns; a background task writes it, one write at a time, each within the budget
//!   (a hung node therefore slows the queue to one write per budget until its connection
//!   is replaced). A full queue drops the write (counted): the session then stays local
//!   to this instance. Writes still queued when the last clone of the store is dropped
//!   are discarded (and wiped).
//! - **Reads never block a handshake.** [`SharedStore::get`] and [`SharedStore::take`]
//!   answer `Ok(None)` at once: reads happen *before* the handshake, in the acceptor's
//!   prefetch, which copies what it finds into the local tier of the [`SessionCache`]
//!   ([`RedisStore::prefetch_into`]). A take that a prefetch did not claim therefore fails:
//!   a TLS 1.3 stateful ticket is never resumed without the fleet-wide `GETDEL`.
//! - **Secrets.** Values are session secrets: buffers this store owns are [`Zeroizing`]
//!   (queued writes, values read) and wiped when dropped; nothing logs or `Debug`-prints
//!   them. The redis crate's own I/O buffers are not wiped; Redis itself keeps values in
//!   memory unencrypted (disable persistence, or use `rediss://` and ACLs).
//! - **Redis version.** 6.2 for `GETDEL`; 7.0 for [`RedisKeySource`]'s `SET … NX GET`.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, Script, ServerErrorKind};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::acceptor::Prefetch;
use crate::client_hello::ClientHelloIds;
use crate::clock::{Clock, SystemClock};
use crate::session_cache::{
    MAX_KEY_LEN, MAX_TTL, SessionCache, SharedEntry, SharedStore, SharedStoreError,
};
use crate::ticketer::{KEY_LEN, KeyCache, KeySource, TicketKey};

/// The default time budget of one Redis call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(20);
/// The default time limit of one connection attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default capacity of the write-behind queue.
pub const DEFAULT_QUEUE_CAPACITY: NonZeroUsize = NonZeroUsize::new(4096).unwrap();
/// The default prefix of every Redis key.
pub const DEFAULT_PREFIX: &str = "tls:sess:";
/// The longest prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// The most PSK identities one [`RedisStore::prefetch_into`] claims: a `ClientHello` is
/// untrusted, and rustls clients offer one.
pub const MAX_PREFETCH_IDENTITIES: usize = 4;

const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between reconnection attempts: it bounds how long after Redis returns
/// the store notices (the attempt in flight, cut off by the connect timeout, aside).
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// Consecutive timeouts after which a connection is replaced (a silently dead peer never
/// returns an error).
const TIMEOUTS_BEFORE_RECONNECT: u32 = 8;

/// `{value, pttl}` or nil.
const GET_LUA: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
";

/// `{value, pttl}` or nil, deleting the key: atomic, so single-use.
const TAKE_LUA: &str = r"
local t = redis.call('PTTL', KEYS[1])
local v = redis.call('GETDEL', KEYS[1])
if not v then return false end
return {v, t}
";

/// The rendezvous score of node `node_id` for `key`: the first 8 bytes, big-endian, of
/// `SHA-256(node_id ‖ 0x00 ‖ key)`. Fixed forever: instances must agree.
pub fn node_score(node_id: &str, key: &[u8]) -> u64 {
    let mut hash = Sha256::new();
    hash.update(node_id.as_bytes());
    hash.update([0u8]);
    hash.update(key);
    let digest = hash.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// The index in `node_ids` of the node that holds `key`: the highest [`node_score`], ties
/// to the smaller id. `None` when there are no nodes.
pub fn rendezvous<S: AsRef<str>>(node_ids: &[S], key: &[u8]) -> Option<usize> {
    node_ids
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| {
            let (a, b) = (a.as_ref(), b.as_ref());
            node_score(a, key)
                .cmp(&node_score(b, key))
                .then_with(|| b.cmp(a))
        })
        .map(|(index, _)| index)
}

/// Why a [`RedisStore`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// A node's Redis URL does not parse.
    #[error("invalid Redis URL for node {node:?}")]
    InvalidUrl {
        /// The node's id.
        node: String,
        /// The parse error.
        #[source]
        source: RedisError,
    },
    /// No node was configured.
    #[error("a Redis store needs at least one node")]
    NoNodes,
    /// Two nodes share an id: they would get the same keys.
    #[error("node id {0:?} is configured twice")]
    DuplicateNode(String),
    /// A timeout was set to zero.
    #[error("the {setting} must not be zero")]
    ZeroTimeout {
        /// Which setting: `"timeout"` or `"connect timeout"`.
        setting: &'static str,
    },
    /// The prefix is longer than [`MAX_PREFIX_LEN`].
    #[error("the key prefix is {len} bytes long; at most {max} are accepted")]
    PrefixTooLong {
        /// The prefix's length.
        len: usize,
        /// [`MAX_PREFIX_LEN`].
        max: usize,
    },
    /// No tokio runtime is running: the store needs one for its background tasks.
    #[error("a Redis store must be built inside a tokio runtime")]
    NoRuntime,
    /// Connecting to a node failed ([`RedisStoreBuilder::build`] only).
    #[error("could not connect to Redis node {node:?}")]
    Connect {
        /// The node's id.
        node: String,
        /// The connection error.
        #[source]
        source: RedisError,
    },
    /// Connecting to a node took longer than the connect timeout.
    #[error("connecting to Redis node {node:?} took longer than {timeout:?}")]
    ConnectTimeout {
        /// The node's id.
        node: String,
        /// The connect timeout.
        timeout: Duration,
    },
}

/// Counters of a [`RedisStore`], from [`RedisStore::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisStoreStats {
    /// Reads (`get`, `take`) that found a live entry.
    pub hits: u64,
    /// Reads that found nothing, or could not ask (error, timeout, no connection).
    pub misses: u64,
    /// Calls (reads and writes) on which Redis answered an error or the connection failed.
    pub errors: u64,
    /// Calls on which Redis did not answer within the time budget.
    pub timeouts: u64,
    /// Calls not sent because their node had no connection (a reconnection was due or
    /// running).
    pub unavailable: u64,
    /// Keys longer than [`MAX_KEY_LEN`], refused without a lookup.
    pub refused: u64,
    /// Writes accepted into the write-behind queue.
    pub queued: u64,
    /// Writes stored in Redis (write-behind and direct [`RedisStore::put`]).
    pub written: u64,
    /// Writes dropped because the write-behind queue was full (or closed).
    pub dropped: u64,
    /// Connections established in the background.
    pub reconnects: u64,
    /// How many nodes hold a connection now.
    pub connected_nodes: usize,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    unavailable: AtomicU64,
    refused: AtomicU64,
    queued: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    reconnects: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Builds a [`RedisStore`]. See the [module docs](self).
#[must_use]
pub struct RedisStoreBuilder {
    nodes: Vec<(String, Client)>,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    queue_capacity: NonZeroUsize,
}

impl fmt::Debug for RedisStoreBuilder {
    // Clients are left out: their connection info may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("nodes", &self.nodes.len())
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("queue_capacity", &self.queue_capacity)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Adds the node at `url` (`redis://host:port/db`), its id being the URL itself.
    ///
    /// Avoid passwords in URLs used as ids (they are hashed, not printed, but every
    /// instance must then agree on them); use [`named_node`](Self::named_node) instead.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::InvalidUrl`] when the URL does not parse.
    pub fn node(self, url: &str) -> Result<Self, RedisStoreError> {
        self.named_node(url, url)
    }

    /// Adds the node at `url` under the id `id` (e.g. `"sessions-1"`): the id alone
    /// decides which keys it holds, so a node can move to a new address without moving
    /// its keys.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::InvalidUrl`] when the URL does not parse.
    pub fn named_node(mut self, id: &str, url: &str) -> Result<Self, RedisStoreError> {
        let client = Client::open(url).map_err(|source| RedisStoreError::InvalidUrl {
            node: id.to_owned(),
            source,
        })?;
        self.nodes.push((id.to_owned(), client));
        Ok(self)
    }

    /// The prefix of every Redis key (default [`DEFAULT_PREFIX`]); at most
    /// [`MAX_PREFIX_LEN`] bytes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time budget of one call (default [`DEFAULT_TIMEOUT`]); not zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit of one connection attempt (default [`DEFAULT_CONNECT_TIMEOUT`]);
    /// not zero.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many writes the write-behind queue holds (default [`DEFAULT_QUEUE_CAPACITY`]);
    /// further writes are dropped and counted until it drains.
    pub fn queue_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.queue_capacity = capacity;
        self
    }

    /// Checks the settings and connects to every node (each within the connect timeout).
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`]: an invalid setting, no tokio runtime, or a node unreachable.
    pub async fn build(self) -> Result<RedisStore, RedisStoreError> {
        let store = self.build_inner()?;
        for node in &store.shared.nodes {
            let conn = connect(node).await?;
            let mut link = node.lock_link();
            link.conn = Some(conn);
            link.generation += 1;
        }
        Ok(store)
    }

    /// Checks the settings and returns a store whose nodes connect in the background
    /// (calls are misses until then). Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`]: an invalid setting or no tokio runtime.
    pub fn build_lazy(self) -> Result<RedisStore, RedisStoreError> {
        let store = self.build_inner()?;
        for node in &store.shared.nodes {
            // Starts the first attempt now rather than at the first call.
            let _ = node.connection();
        }
        Ok(store)
    }

    fn build_inner(self) -> Result<RedisStore, RedisStoreError> {
        for (setting, timeout) in [
            ("timeout", self.timeout),
            ("connect timeout", self.connect_timeout),
        ] {
            if timeout.is_zero() {
                return Err(RedisStoreError::ZeroTimeout { setting });
            }
        }
        if self.prefix.len() > MAX_PREFIX_LEN {
            return Err(RedisStoreError::PrefixTooLong {
                len: self.prefix.len(),
                max: MAX_PREFIX_LEN,
            });
        }
        if self.nodes.is_empty() {
            return Err(RedisStoreError::NoNodes);
        }
        for (i, (id, _)) in self.nodes.iter().enumerate() {
            if self.nodes[..i].iter().any(|(other, _)| other == id) {
                return Err(RedisStoreError::DuplicateNode(id.clone()));
            }
        }
        let runtime = Handle::try_current().map_err(|_| RedisStoreError::NoRuntime)?;
        // The per-call budget is enforced around each call; the connection's own response
        // timeout is only a backstop.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.connect_timeout.max(self.timeout)));
        let counters = Arc::new(Counters::default());
        let nodes = self
            .nodes
            .into_iter()
            .map(|(id, client)| {
                Arc::new(Node {
                    id,
                    client,
                    config: config.clone(),
                    connect_timeout: self.connect_timeout,
                    runtime: runtime.clone(),
                    counters: Arc::clone(&counters),
                    consecutive_timeouts: AtomicU32::new(0),
                    link: Mutex::new(Link {
                        conn: None,
                        generation: 0,
                        connecting: false,
                        next_attempt: Instant::now(),
                        backoff: INITIAL_BACKOFF,
                    }),
                })
            })
            .collect();
        let (queue, receiver) = mpsc::channel(self.queue_capacity.get());
        let shared = Arc::new(Shared {
            nodes,
            prefix: self.prefix,
            timeout: self.timeout,
            get_script: Script::new(GET_LUA),
            take_script: Script::new(TAKE_LUA),
            counters,
            queue,
        });
        drop(runtime.spawn(write_behind(Arc::downgrade(&shared), receiver)));
        Ok(RedisStore { shared })
    }
}

/// The fleet's shared session tier on several Redis nodes, with rendezvous hashing, time
/// budgets, background reconnection and write-behind. See the [module docs](self).
///
/// Cloning is cheap and shares connections, queue and counters. The inherent async
/// [`get`](Self::get), [`take`](Self::take) and [`put`](Self::put) talk to Redis; the
/// [`SharedStore`] methods (for [`SessionCache::with_shared`]) never wait on the network.
///
/// Mind the names: on an `Arc<RedisStore>`, method syntax (`store.get(key)`) finds
/// `SharedStore::get` first (the trait is implemented for `Arc<S>`), which answers
/// `Ok(None)` at once; write `RedisStore::get(&store, key).await` there.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("RedisStore")
            .field(
                "nodes",
                &s.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            )
            .field("prefix", &s.prefix)
            .field("timeout", &s.timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One queued write. The value is wiped when dropped (written or not).
struct Write {
    key: Vec<u8>,
    value: Zeroizing<Vec<u8>>,
    ttl: Duration,
}

struct Shared {
    nodes: Vec<Arc<Node>>,
    prefix: String,
    timeout: Duration,
    get_script: Script,
    take_script: Script,
    counters: Arc<Counters>,
    queue: mpsc::Sender<Write>,
}

struct Node {
    id: String,
    client: Client,
    config: AsyncConnectionConfig,
    connect_timeout: Duration,
    /// Where background reconnections run.
    runtime: Handle,
    counters: Arc<Counters>,
    consecutive_timeouts: AtomicU32,
    link: Mutex<Link>,
}

/// A node's connection, or when to try again. Locked only briefly, never across an
/// `.await`.
struct Link {
    conn: Option<MultiplexedConnection>,
    /// Incremented by each new connection, so a failure on an old one cannot drop a new one.
    generation: u64,
    /// Whether a background attempt is running.
    connecting: bool,
    next_attempt: Instant,
    backoff: Duration,
}

impl RedisStore {
    /// A builder with no nodes yet; add them with [`RedisStoreBuilder::node`].
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder {
            nodes: Vec::new(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
        }
    }

    /// The configured node ids, in configuration order.
    pub fn node_ids(&self) -> Vec<&str> {
        self.shared.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    /// The id of the node that holds `key` (see [`rendezvous`]).
    pub fn node_for(&self, key: &[u8]) -> &str {
        &self.shared.node_for(key).id
    }

    /// The Redis key holding `key`: the prefix and `key` in lowercase hex.
    pub fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        redis_key(self.shared.prefix.as_bytes(), key)
    }

    /// Counters, and how many nodes are connected.
    pub fn stats(&self) -> RedisStoreStats {
        let c = &self.shared.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RedisStoreStats {
            hits: load(&c.hits),
            misses: load(&c.misses),
            errors: load(&c.errors),
            timeouts: load(&c.timeouts),
            unavailable: load(&c.unavailable),
            refused: load(&c.refused),
            queued: load(&c.queued),
            written: load(&c.written),
            dropped: load(&c.dropped),
            reconnects: load(&c.reconnects),
            connected_nodes: self
                .shared
                .nodes
                .iter()
                .filter(|n| n.lock_link().conn.is_some())
                .count(),
        }
    }

    /// Reads `key` without removing it (TLS 1.2 session ids are multi-use). `None` when
    /// absent, expired, refused, or Redis did not answer within the budget.
    pub async fn get(&self, key: &[u8]) -> Option<SharedEntry> {
        self.shared.read(&self.shared.get_script, key).await
    }

    /// Reads and deletes `key` atomically (`GETDEL`): of concurrent takes on any
    /// instances, at most one gets the value. `None` as for [`get`](Self::get); after a
    /// timeout the entry may or may not have been deleted.
    pub async fn take(&self, key: &[u8]) -> Option<SharedEntry> {
        self.shared.read(&self.shared.take_script, key).await
    }

    /// Stores `value` under `key` for `ttl` (rounded up to a millisecond, at most
    /// [`MAX_TTL`]) now, within the budget. Returns whether Redis confirmed it.
    pub async fn put(&self, key: &[u8], value: &[u8], ttl: Duration) -> bool {
        if key.len() > MAX_KEY_LEN || ttl.is_zero() {
            bump(&self.shared.counters.refused);
            return false;
        }
        let write = Write {
            key: key.to_vec(),
            value: Zeroizing::new(value.to_vec()),
            ttl,
        };
        self.shared.write(&write).await
    }

    /// Queues a write for the background writer without waiting (what
    /// [`SharedStore::put`] does). Returns whether it was queued; a full queue drops it.
    pub fn put_behind(&self, key: &[u8], value: &[u8], ttl: Duration) -> bool {
        if key.len() > MAX_KEY_LEN || ttl.is_zero() {
            bump(&self.shared.counters.refused);
            return false;
        }
        let write = Write {
            key: key.to_vec(),
            value: Zeroizing::new(value.to_vec()),
            ttl,
        };
        match self.shared.queue.try_send(write) {
            Ok(()) => {
                bump(&self.shared.counters.queued);
                true
            }
            Err(_) => {
                // The rejected write (and its value) is dropped and wiped here.
                bump(&self.shared.counters.dropped);
                false
            }
        }
    }

    /// The acceptor's prefetch: before the handshake, copies into `cache`'s local tier
    /// what the handshake will look up, so rustls finds it in memory.
    ///
    /// - `session_id` (a TLS 1.2 `legacy_session_id`, if non-empty): [`get`](Self::get),
    ///   then [`SessionCache::prefill`];
    /// - each of the first [`MAX_PREFETCH_IDENTITIES`] `psk_identities` (TLS 1.3 stateful
    ///   tickets): [`take`](Self::take) — the fleet-wide single use is decided here — then
    ///   [`SessionCache::prefill_claimed`]. An identity claimed but not used by the
    ///   handshake expires unused.
    ///
    /// The session id and the tickets are looked up concurrently, each call within the
    /// budget, and each entry is filled as soon as it arrives (cancel-safe). Returns how
    /// many entries were filled.
    pub async fn prefetch_into(
        &self,
        cache: &SessionCache,
        session_id: Option<&[u8]>,
        psk_identities: &[&[u8]],
    ) -> usize {
        // Each entry goes into the cache as soon as it arrives: if the acceptor gives up
        // on the prefetch (drops this future), what arrived is kept.
        let session = async {
            match session_id {
                Some(id) if !id.is_empty() => match self.get(id).await {
                    Some(entry) => {
                        cache.prefill(id, entry);
                        1
                    }
                    None => 0,
                },
                _ => 0,
            }
        };
        let tickets = async {
            let mut claimed = 0;
            for identity in psk_identities.iter().take(MAX_PREFETCH_IDENTITIES) {
                if let Some(entry) = self.take(identity).await {
                    cache.prefill_claimed(identity, entry);
                    claimed += 1;
                }
            }
            claimed
        };
        let (session, claimed) = tokio::join!(session, tickets);
        session + claimed
    }
}

/// A [`Prefetch`] for [`ResumingAcceptor`](crate::ResumingAcceptor): reads what a
/// `ClientHello` names from a [`RedisStore`] into a [`SessionCache`] with
/// [`RedisStore::prefetch_into`]. Give the same cache (with the store as its shared tier)
/// to the instance's `ServerConfig`.
///
/// When the hello offers TLS 1.3, its session id is middlebox-compatibility filler and is
/// not looked up, unless the server is TLS 1.2 only
/// ([`tls12_only`](Self::tls12_only)). Cancel-safe: entries are filled as they arrive; a
/// ticket taken from Redis whose future was dropped before filling costs a full handshake.
#[derive(Debug, Clone)]
pub struct RedisPrefetch {
    store: RedisStore,
    cache: Arc<SessionCache>,
    tls12_only: bool,
}

impl RedisPrefetch {
    /// Prefetches from `store` into `cache`.
    pub fn new(store: RedisStore, cache: Arc<SessionCache>) -> Self {
        Self {
            store,
            cache,
            tls12_only: false,
        }
    }

    /// The server speaks TLS 1.2 only: look session ids up even when the hello offers
    /// TLS 1.3.
    #[must_use]
    pub fn tls12_only(mut self, tls12_only: bool) -> Self {
        self.tls12_only = tls12_only;
        self
    }
}

impl Prefetch for RedisPrefetch {
    fn prefetch(&self, ids: &ClientHelloIds) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let session_id = (!ids.session_id.is_empty() && (self.tls12_only || !ids.offers_tls13))
            .then(|| ids.session_id.clone());
        let identities: Vec<Vec<u8>> = ids
            .psk_identities
            .iter()
            .take(MAX_PREFETCH_IDENTITIES)
            .cloned()
            .collect();
        Box::pin(async move {
            let identities: Vec<&[u8]> = identities.iter().map(Vec::as_slice).collect();
            self.store
                .prefetch_into(&self.cache, session_id.as_deref(), &identities)
                .await;
        })
    }
}

/// For [`SessionCache::with_shared`]: never waits on the network.
impl SharedStore for RedisStore {
    /// Always `Ok(None)` at once: reads happen in the acceptor's prefetch
    /// ([`RedisStore::prefetch_into`]), which fills the local tier before the handshake.
    fn get(&self, _key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        Ok(None)
    }

    /// Queues the write (write-behind, [`RedisStore::put_behind`]); `Ok(false)` when the
    /// queue is full or the key too long.
    fn put(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<bool, SharedStoreError> {
        Ok(self.put_behind(key, value, ttl))
    }

    /// Always `Ok(None)` at once: the fleet-wide take happens in the acceptor's prefetch
    /// ([`RedisStore::prefetch_into`]), whose claimed copy the cache returns without
    /// asking again. A ticket not claimed there is not resumed.
    fn take(&self, _key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        Ok(None)
    }
}

/// Drains the write-behind queue until the store is dropped.
async fn write_behind(shared: Weak<Shared>, mut receiver: mpsc::Receiver<Write>) {
    while let Some(write) = receiver.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.write(&write).await;
    }
}

enum Outcome<T> {
    Answer(T),
    Failed,
}

impl Shared {
    fn node_for(&self, key: &[u8]) -> &Arc<Node> {
        let index = rendezvous(
            &self.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            key,
        )
        .expect("a store has at least one node");
        &self.nodes[index]
    }

    async fn read(&self, script: &Script, key: &[u8]) -> Option<SharedEntry> {
        let c = &self.counters;
        if key.len() > MAX_KEY_LEN {
            bump(&c.refused);
            bump(&c.misses);
            return None;
        }
        let node = self.node_for(key);
        let invocation = script.key(redis_key(self.prefix.as_bytes(), key));
        let reply = node
            .call(self.timeout, |mut conn| async move {
                invocation
                    .invoke_async::<Option<(Vec<u8>, i64)>>(&mut conn)
                    .await
            })
            .await;
        match reply {
            Outcome::Answer(Some((value, pttl))) => {
                let value = Zeroizing::new(value);
                let ttl = match u64::try_from(pttl) {
                    Ok(millis) if millis > 0 => Duration::from_millis(millis),
                    // -1: no expiry (not written by us); 0: expiring now.
                    _ if pttl == -1 => MAX_TTL,
                    _ => {
                        bump(&c.misses);
                        return None;
                    }
                };
                bump(&c.hits);
                Some(SharedEntry { value, ttl })
            }
            Outcome::Answer(None) | Outcome::Failed => {
                bump(&c.misses);
                None
            }
        }
    }

    /// Runs `command` on the node rendezvous picks for `hrw_key`, within the budget;
    /// `None` on any failure (counted).
    async fn query<T: ::redis::FromRedisValue + Send>(
        &self,
        hrw_key: &[u8],
        command: ::redis::Cmd,
    ) -> Option<T> {
        let reply = self
            .node_for(hrw_key)
            .call(self.timeout, |mut conn| async move {
                command.query_async::<T>(&mut conn).await
            })
            .await;
        match reply {
            Outcome::Answer(answer) => Some(answer),
            Outcome::Failed => None,
        }
    }

    async fn write(&self, write: &Write) -> bool {
        let node = self.node_for(&write.key);
        let millis = u64::try_from(write.ttl.min(MAX_TTL).as_nanos().div_ceil(1_000_000))
            .unwrap_or(u64::MAX);
        let mut command = ::redis::cmd("SET");
        command
            .arg(redis_key(self.prefix.as_bytes(), &write.key))
            .arg(&write.value[..])
            .arg("PX")
            .arg(millis);
        let reply = node
            .call(self.timeout, |mut conn| async move {
                command.query_async::<()>(&mut conn).await
            })
            .await;
        // The command's own copy of the value cannot be wiped: the redis crate owns it.
        match reply {
            Outcome::Answer(()) => {
                bump(&self.counters.written);
                true
            }
            Outcome::Failed => false,
        }
    }
}

impl Node {
    fn lock_link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one call on this node within `budget`, counting failures and replacing the
    /// connection when it is broken.
    async fn call<T, F, Fut>(self: &Arc<Self>, budget: Duration, call: F) -> Outcome<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let c = &self.counters;
        let Some((generation, conn)) = self.connection() else {
            bump(&c.unavailable);
            return Outcome::Failed;
        };
        match tokio::time::timeout(budget, call(conn)).await {
            Ok(Ok(answer)) => {
                self.consecutive_timeouts.store(0, Ordering::Relaxed);
                Outcome::Answer(answer)
            }
            Ok(Err(error)) if error.is_timeout() => self.timed_out(generation),
            Ok(Err(error)) => {
                bump(&c.errors);
                // A server's error reply leaves the connection usable, except READONLY (a
                // failover); anything else (I/O, dropped connection) replaces it.
                let usable = matches!(error.kind(), ErrorKind::Server(kind) if kind != ServerErrorKind::ReadOnly)
                    && !error.is_unrecoverable_error();
                if usable {
                    tracing::warn!(node = %self.id, %error, "redis session command failed");
                } else if self.invalidate(generation) {
                    tracing::warn!(node = %self.id, %error, "redis session connection failed; reconnecting");
                }
                Outcome::Failed
            }
            Err(_elapsed) => self.timed_out(generation),
        }
    }

    fn timed_out<T>(&self, generation: u64) -> Outcome<T> {
        bump(&self.counters.timeouts);
        if self.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1
            >= TIMEOUTS_BEFORE_RECONNECT
        {
            self.consecutive_timeouts.store(0, Ordering::Relaxed);
            if self.invalidate(generation) {
                tracing::warn!(node = %self.id, "redis session calls keep timing out; reconnecting");
            }
        }
        Outcome::Failed
    }

    /// The current connection, or `None` after starting a background attempt when one is
    /// due. Never waits.
    fn connection(self: &Arc<Self>) -> Option<(u64, MultiplexedConnection)> {
        let mut link = self.lock_link();
        if let Some(conn) = &link.conn {
            return Some((link.generation, conn.clone()));
        }
        if !link.connecting && Instant::now() >= link.next_attempt {
            link.connecting = true;
            drop(link);
            let attempt = Attempt {
                node: Arc::clone(self),
                conn: None,
            };
            // An attempt dropped unpolled (runtime shutting down) still records its end.
            drop(self.runtime.spawn(async move {
                let mut attempt = attempt;
                attempt.run().await;
            }));
        }
        None
    }

    /// Drops connection `generation` if it is still the current one (returning whether it
    /// was); the next call starts a new attempt.
    fn invalidate(&self, generation: u64) -> bool {
        let mut link = self.lock_link();
        let current = link.generation == generation && link.conn.is_some();
        if current {
            link.conn = None;
            link.next_attempt = Instant::now();
        }
        current
    }
}

/// One background connection attempt; records its outcome when dropped.
struct Attempt {
    node: Arc<Node>,
    conn: Option<MultiplexedConnection>,
}

impl Attempt {
    async fn run(&mut self) {
        match connect(&self.node).await {
            Ok(conn) => self.conn = Some(conn),
            Err(error) => {
                tracing::debug!(node = %self.node.id, %error, "redis session reconnection failed");
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut link = self.node.lock_link();
        link.connecting = false;
        match self.conn.take() {
            Some(conn) => {
                link.conn = Some(conn);
                link.generation += 1;
                link.backoff = INITIAL_BACKOFF;
                bump(&self.node.counters.reconnects);
                self.node.consecutive_timeouts.store(0, Ordering::Relaxed);
                tracing::info!(node = %self.node.id, "redis session connection established");
            }
            None => {
                link.next_attempt = Instant::now() + link.backoff;
                link.backoff = (link.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Connects to `node` within its connect timeout.
async fn connect(node: &Node) -> Result<MultiplexedConnection, RedisStoreError> {
    let attempt = node
        .client
        .get_multiplexed_async_connection_with_config(&node.config);
    tokio::time::timeout(node.connect_timeout, attempt)
        .await
        .map_err(|_| RedisStoreError::ConnectTimeout {
            node: node.id.clone(),
            timeout: node.connect_timeout,
        })?
        .map_err(|source| RedisStoreError::Connect {
            node: node.id.clone(),
            source,
        })
}

fn redis_key(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(prefix.len() + 2 * key.len());
    out.extend_from_slice(prefix);
    for &byte in key {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0xf)]);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Ticket keys.
// ---------------------------------------------------------------------------------------

/// The default prefix of ticket-key Redis keys: distinct from [`DEFAULT_PREFIX`], so no
/// session key offered by a client can name (and `GETDEL`) a ticket key.
pub const DEFAULT_KEY_PREFIX: &str = "tls:tkey:";
/// The default interval between background refreshes of a [`RedisKeySource`].
pub const DEFAULT_KEY_REFRESH: Duration = Duration::from_secs(30);

/// Counters of a [`RedisKeySource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct KeySourceStats {
    /// Refresh rounds run.
    pub refreshes: u64,
    /// Keys read from Redis into the cache.
    pub fetched: u64,
    /// Keys this instance created (its `SET NX` won).
    pub created: u64,
    /// Lookups or creations that failed (Redis unreachable, malformed key).
    pub failures: u64,
}

#[derive(Debug, Default)]
struct KeyCounters {
    refreshes: AtomicU64,
    fetched: AtomicU64,
    created: AtomicU64,
    failures: AtomicU64,
}

/// Builds a [`RedisKeySource`]. Its epoch settings must match the ticketer's.
#[must_use]
pub struct RedisKeySourceBuilder {
    store: RedisStore,
    prefix: String,
    period: Duration,
    window: Duration,
    future_epochs: u64,
    refresh: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedisKeySourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeySourceBuilder")
            .field("prefix", &self.prefix)
            .field("period", &self.period)
            .field("window", &self.window)
            .field("future_epochs", &self.future_epochs)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl RedisKeySourceBuilder {
    /// The prefix of ticket-key Redis keys (default [`DEFAULT_KEY_PREFIX`]); must differ
    /// from the session prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The rotation period (default 1 h, at least 1 s): as the ticketer's.
    pub fn rotation_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// The decrypt window (default 12 h): as the ticketer's.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Future epochs to provision (default 2): at least the ticketer's.
    pub fn future_epochs(mut self, epochs: u64) -> Self {
        self.future_epochs = epochs;
        self
    }

    /// How often the background task refreshes (default [`DEFAULT_KEY_REFRESH`]); far
    /// shorter than the period, so future keys are fetched long before they are needed.
    pub fn refresh_interval(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// The clock epochs are computed from (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Starts the background task (on the store's runtime) and returns the source; its
    /// cache fills as the first refresh completes. Await
    /// [`RedisKeySource::refresh`] to fill it first.
    pub fn build(self) -> RedisKeySource {
        let period_secs = self.period.as_secs().max(1);
        let inner = Arc::new(KeyInner {
            store: self.store,
            prefix: self.prefix,
            period_secs,
            past_epochs: self.window.as_secs().div_ceil(period_secs),
            future_epochs: self.future_epochs,
            clock: self.clock,
            cache: Arc::new(KeyCache::default()),
            counters: KeyCounters::default(),
        });
        let weak = Arc::downgrade(&inner);
        let refresh = self.refresh.max(Duration::from_millis(10));
        let task = inner.store.shared.nodes[0].runtime.spawn(async move {
            loop {
                match weak.upgrade() {
                    Some(inner) => inner.refresh().await,
                    None => return,
                }
                tokio::time::sleep(refresh).await;
            }
        });
        RedisKeySource {
            inner,
            task: task.abort_handle(),
        }
    }
}

/// A [`KeySource`] whose keys live in Redis: random 32-byte keys, one per epoch, created
/// by whichever instance first needs one (`SET NX`, so every instance ends up with the
/// same key) and fetched by every instance into an in-memory [`KeyCache`] by a background
/// task. The ticketer reads the cache only, so it never waits on Redis.
///
/// Each refresh covers the window's past epochs, the current one and `future_epochs`
/// ahead; it creates keys for the current and future epochs only (never a past one, which
/// no ticket can need), with a Redis TTL ending when the epoch leaves the window, and
/// drops (wipes) cached keys older than the window: forward secrecy as the window allows.
/// The key of epoch `e` is stored at `{prefix}{e}` on the node rendezvous picks for that
/// Redis key; when that node is down, instances that already hold the key keep it, others
/// miss it (full handshakes) until it is back.
///
/// Dropping the source stops its task.
pub struct RedisKeySource {
    inner: Arc<KeyInner>,
    task: tokio::task::AbortHandle,
}

struct KeyInner {
    store: RedisStore,
    prefix: String,
    period_secs: u64,
    past_epochs: u64,
    future_epochs: u64,
    clock: Arc<dyn Clock>,
    cache: Arc<KeyCache>,
    counters: KeyCounters,
}

impl fmt::Debug for RedisKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeySource")
            .field("prefix", &self.inner.prefix)
            .field("period_secs", &self.inner.period_secs)
            .field("cache", &self.inner.cache)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisKeySource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RedisKeySource {
    /// A builder over `store`'s nodes, connections and time budget.
    pub fn builder(store: &RedisStore) -> RedisKeySourceBuilder {
        RedisKeySourceBuilder {
            store: store.clone(),
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            period: Duration::from_secs(3600),
            window: Duration::from_secs(12 * 3600),
            future_epochs: 2,
            refresh: DEFAULT_KEY_REFRESH,
            clock: Arc::new(SystemClock),
        }
    }

    /// Runs one refresh now (the background task also does, every refresh interval).
    pub async fn refresh(&self) {
        self.inner.refresh().await;
    }

    /// The in-memory cache the ticketer reads.
    pub fn cache(&self) -> &Arc<KeyCache> {
        &self.inner.cache
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> KeySourceStats {
        let c = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        KeySourceStats {
            refreshes: load(&c.refreshes),
            fetched: load(&c.fetched),
            created: load(&c.created),
            failures: load(&c.failures),
        }
    }
}

impl KeySource for RedisKeySource {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        self.inner.cache.key(epoch)
    }
}

impl KeyInner {
    async fn refresh(&self) {
        let c = &self.counters;
        bump(&c.refreshes);
        let now = self.clock.now().as_secs();
        let current = now / self.period_secs;
        let oldest = current.saturating_sub(self.past_epochs);
        self.cache.retain_from(oldest);
        for epoch in oldest..=current.saturating_add(self.future_epochs) {
            if self.cache.key(epoch).is_some() {
                continue;
            }
            let redis_key = format!("{}{epoch}", self.prefix).into_bytes();
            let shared = &self.store.shared;
            let mut get = ::redis::cmd("GET");
            get.arg(&redis_key);
            let found: Option<Zeroizing<Vec<u8>>> =
                match shared.query::<Option<Vec<u8>>>(&redis_key, get).await {
                    Some(found) => found.map(Zeroizing::new),
                    None => {
                        bump(&c.failures);
                        continue;
                    }
                };
            let found = match found {
                Some(bytes) => Some(bytes),
                None if epoch >= current => self.create(&redis_key, epoch, now).await,
                None => None,
            };
            if let Some(bytes) = found {
                match TicketKey::from_slice(&bytes) {
                    Some(key) => {
                        self.cache.insert(epoch, key);
                        bump(&c.fetched);
                    }
                    None => {
                        bump(&c.failures);
                        tracing::warn!(epoch, "malformed ticket key in redis; ignored");
                    }
                }
            }
        }
    }

    /// Creates epoch `epoch`'s key with `SET NX` and returns the winner's key.
    async fn create(&self, redis_key: &[u8], epoch: u64, now: u64) -> Option<Zeroizing<Vec<u8>>> {
        let c = &self.counters;
        let mut secret = Zeroizing::new(vec![0u8; KEY_LEN]);
        if getrandom::fill(&mut secret[..]).is_err() {
            bump(&c.failures);
            return None;
        }
        // Alive until the epoch leaves every window, plus one period for clock skew.
        let expires = epoch
            .saturating_add(self.past_epochs + 2)
            .saturating_mul(self.period_secs);
        let ttl_secs = expires.saturating_sub(now).max(1);
        let mut set = ::redis::cmd("SET");
        set.arg(redis_key)
            .arg(&secret[..])
            .arg("NX")
            .arg("EX")
            .arg(ttl_secs)
            .arg("GET");
        // `SET … NX GET` (Redis ≥ 7.0) answers the previous value: nil when ours won.
        match self
            .store
            .shared
            .query::<Option<Vec<u8>>>(redis_key, set)
            .await
        {
            Some(None) => {
                bump(&c.created);
                Some(secret)
            }
            Some(Some(theirs)) => Some(Zeroizing::new(theirs)),
            None => {
                bump(&c.failures);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_sha256_prefixes() {
        // First 8 bytes of SHA-256(0x00) and of SHA-256("node-1" ‖ 0x00 ‖ "abc").
        assert_eq!(node_score("", b""), 0x6e34_0b9c_ffb3_7a98);
        assert_eq!(node_score("node-1", b"abc"), 0xf1c7_c27d_3dbf_045e);
        assert_eq!(redis_key(b"p:", &[0x00, 0xab, 0xff]), b"p:00abff".to_vec());
    }

    #[test]
    fn rendezvous_ignores_order_and_handles_no_nodes() {
        let empty: [&str; 0] = [];
        assert_eq!(rendezvous(&empty, b"k"), None);
        for key in 0u8..50 {
            let a = rendezvous(&["x", "y", "z"], &[key]).unwrap();
            let b = rendezvous(&["z", "y", "x"], &[key]).unwrap();
            assert_eq!(a, 2 - b);
        }
    }

    #[test]
    fn settings_are_checked_before_any_io() {
        let base = || RedisStore::builder().node("redis://127.0.0.1:1/").unwrap();
        assert!(matches!(
            RedisStore::builder().build_lazy(),
            Err(RedisStoreError::NoNodes)
        ));
        assert!(matches!(
            base().timeout(Duration::ZERO).build_lazy(),
            Err(RedisStoreError::ZeroTimeout { setting: "timeout" })
        ));
        assert!(matches!(
            base().prefix("x".repeat(257)).build_lazy(),
            Err(RedisStoreError::PrefixTooLong { len: 257, max: 256 })
        ));
        assert!(matches!(
            base().node("redis://127.0.0.1:1/").unwrap().build_lazy(),
            Err(RedisStoreError::DuplicateNode(_))
        ));
        assert!(matches!(
            RedisStore::builder().node("not a url"),
            Err(RedisStoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            base().build_lazy(),
            Err(RedisStoreError::NoRuntime)
        ));
    }
}
