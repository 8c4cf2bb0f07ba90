//! A [`Backend`] shared by a fleet: GCRA in Redis, one key per limit, with a time budget
//! and a failure policy.
//!
//! Every instance built on the same Redis, prefix and quota enforces **one** rate for the
//! whole fleet. Each check is one Lua script run with `EVALSHA` (loaded again by itself
//! after a Redis restart) that reads the server's `TIME`, so clients' clocks never
//! matter.
//!
//! ```
//! use std::num::NonZeroU32;
//! use std::time::Duration;
//! use ratelimit::redis::{FailurePolicy, RedisStore};
//! use ratelimit::{Backend, LimitedReason, Quota};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let quota = Quota::per_minute(NonZeroU32::new(10).unwrap());
//! // `build()` connects first and fails when Redis is unreachable; `build_lazy()`
//! // connects in the background. Nothing listens on port 1: the policy answers.
//! let store = RedisStore::builder_url("redis://127.0.0.1:1/", quota)?
//!     .prefix("rl:login:")
//!     .timeout(Duration::from_millis(5))
//!     .failure_policy(FailurePolicy::FailClosed)
//!     .build_lazy()?;
//! let refused = store.check(b"203.0.113.7").await.unwrap_err();
//! assert_eq!(refused.reason(), LimitedReason::BackendUnavailable);
//! assert_eq!(store.redis_key(b"203.0.113.7").len(), "rl:login:".len() + 32);
//! # Ok(())
//! # }
//! ```
//!
//! With a server, the usual form is:
//!
//! ```no_run
//! # use std::num::NonZeroU32;
//! # use ratelimit::{Backend, Quota, redis::RedisStore};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let quota = Quota::per_second(NonZeroU32::new(100).unwrap());
//! let client = ::redis::Client::open("redis://redis.internal:6379/")?;
//! let store = RedisStore::builder(client, quota).prefix("rl:api:").build().await?;
//! match store.check(b"tenant-42").await {
//!     Ok(allowed) => println!("{} left", allowed.remaining_burst()),
//!     Err(limited) => println!("retry after {:?}", limited.retry_after()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Contract
//!
//! - **Keys.** A key (untrusted, any length, any bytes) is stored as
//!   `{prefix}{32 lowercase hex digits}`: the first 128 bits of its SHA-256. The hash is
//!   stable (every instance, build and Rust version computes the same key) and
//!   collision-resistant, so nobody can choose a key (a cookie value, say) that shares
//!   another client's state. Use a distinct prefix per quota: two quotas on one prefix
//!   share states.
//! - **One key per call.** The script reads and writes only its one key, so it is safe on
//!   Redis Cluster (each limit lives on the shard of its key's slot). A prefix holding a
//!   hash tag (`"{rl}:"`) would put every limit on one shard. This store speaks to a single
//!   node (or a proxy); talking to a cluster directly needs redis' `cluster-async` feature.
//! - **Arithmetic.** Integer microseconds, exact in Lua's doubles (every value stays below
//!   2^53): the replenish interval is rounded *up* to a whole microsecond (a quota faster
//!   than 10^6 per second is enforced as 10^6 per second), and quotas whose window
//!   (`interval · burst`) exceeds 2^51 µs (71 years) are refused by the builder.
//! - **Memory in Redis.** A key is written (`SET key tat PX ttl`) only when a request is
//!   allowed, with a TTL ending when its state has drained (indistinguishable from a fresh
//!   key), so idle limits vanish by themselves.
//! - **Clock.** Redis' `TIME`: wall-clock time of the Redis host. A backward step there
//!   lengthens waits by the step; a failover to a replica with a skewed clock does the same.
//! - **Time budget.** A check answers within its [`timeout`](RedisStoreBuilder::timeout)
//!   (5 ms by default) plus scheduling: when Redis is slow, down or being reconnected to,
//!   the [`FailurePolicy`] answers. Reconnections run in the background on the tokio
//!   runtime that built the store, at most one at a time, with an exponential backoff from
//!   50 ms to 500 ms (so the fleet shares its limits again within about half a second of
//!   Redis returning, however long it was away); a check never waits for one. A
//!   connection is replaced after an I/O error, a `READONLY` reply (a failover) or 8
//!   timeouts in a row.
//! - **Failure policy.** [`FailurePolicy::FailOpen`] (the default) answers from a local
//!   in-memory [`Limiter`] with the same quota and bounded capacity: while Redis is down,
//!   each instance enforces the quota on its own, so a fleet of N allows up to N times the
//!   rate. [`FailurePolicy::FailClosed`] refuses with
//!   [`LimitedReason::BackendUnavailable`]. A check that timed out may still have been
//!   counted by Redis.
//! - **Weights.** A request heavier than the burst is refused with
//!   [`LimitedReason::ExceedsBurst`] without asking Redis, as the in-memory backend does.

use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ErrorKind, RedisError, Script, ServerErrorKind};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::backend::{Backend, Check};
use crate::limiter::{Allowed, Limited, LimitedReason, Limiter};
use crate::quota::Quota;

/// The default time budget of one check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5);
/// The default time limit of one connection attempt.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The default capacity (keys) of the local fallback limiter.
pub const DEFAULT_FALLBACK_CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();
/// The longest prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 256;
/// What [`Limited::retry_after`] says when [`FailurePolicy::FailClosed`] refuses: the
/// longest reconnection backoff.
pub const UNAVAILABLE_RETRY_AFTER: Duration = MAX_BACKOFF;

const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
/// The longest wait between reconnection attempts: it bounds how long after Redis returns
/// the store notices (the attempt in flight, cut off by the connect timeout, aside).
const MAX_BACKOFF: Duration = Duration::from_millis(500);
/// Consecutive timeouts after which the connection is replaced (a silently dead peer
/// never returns an error).
const TIMEOUTS_BEFORE_RECONNECT: u32 = 8;
/// The longest window, in microseconds, that keeps the script's arithmetic exact.
const MAX_WINDOW_MICROS: u128 = 1 << 51;

/// GCRA on one key, in integer microseconds. Every value stays below 2^53, where Lua's
/// doubles are exact; numbers sent back to Redis are formatted with `%.0f` because Redis
/// converts Lua numbers to strings with `%.14g`, which would round a 16-digit TAT.
const GCRA_LUA: &str = r"
-- KEYS[1]: the limit's key. ARGV: interval (us per request), burst, weight (1..burst).
-- Returns {allowed (1|0), remaining, retry_after_us}.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
end
local new_tat = tat + interval * n
local limit = now + interval * burst
if new_tat > limit then
  return {0, 0, new_tat - limit}
end
local slack = limit - new_tat
local remaining = math.floor(slack / interval)
if remaining * interval > slack then
  remaining = remaining - 1
end
local ttl_ms = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
return {1, remaining, 0}
";

/// What a check answers when Redis does not (error, timeout, no connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Answer from a local in-memory [`Limiter`] with the same quota (each instance then
    /// limits on its own). Envoy's global rate limit defaults to failing open too.
    #[default]
    FailOpen,
    /// Refuse with [`LimitedReason::BackendUnavailable`].
    FailClosed,
}

/// Why a [`RedisStore`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The Redis URL does not parse.
    #[error("invalid Redis URL")]
    InvalidUrl(#[source] RedisError),
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
    /// The quota's window (`interval · burst`) exceeds 2^51 µs, past which the script's
    /// arithmetic would not be exact.
    #[error("the quota's window of {window:?} is too long for the Redis backend")]
    QuotaTooLong {
        /// The quota's window.
        window: Duration,
    },
    /// No tokio runtime is running: the store needs one for its reconnections.
    #[error("a Redis store must be built inside a tokio runtime")]
    NoRuntime,
    /// Connecting to Redis (or loading the script) failed.
    #[error("could not connect to Redis")]
    Connect(#[source] RedisError),
    /// Connecting to Redis took longer than the connect timeout.
    #[error("connecting to Redis took longer than {0:?}")]
    ConnectTimeout(Duration),
}

/// Counters of a [`RedisStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStoreStats {
    /// Checks answered by Redis.
    pub redis_checks: u64,
    /// Checks on which Redis answered an error or the connection failed.
    pub redis_errors: u64,
    /// Checks on which Redis did not answer within the time budget.
    pub timeouts: u64,
    /// Checks answered by the local limiter ([`FailurePolicy::FailOpen`]).
    pub fallbacks: u64,
    /// Checks refused because Redis did not answer ([`FailurePolicy::FailClosed`]).
    pub unavailable: u64,
    /// Connections established in the background (after a failure, or for
    /// [`build_lazy`](RedisStoreBuilder::build_lazy)).
    pub reconnects: u64,
    /// Whether the store holds a connection now.
    pub connected: bool,
}

#[derive(Debug, Default)]
struct Counters {
    redis_checks: AtomicU64,
    redis_errors: AtomicU64,
    timeouts: AtomicU64,
    fallbacks: AtomicU64,
    unavailable: AtomicU64,
    reconnects: AtomicU64,
    consecutive_timeouts: AtomicU32,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Builds a [`RedisStore`]. See the [module docs](self).
#[must_use]
pub struct RedisStoreBuilder {
    client: Client,
    quota: Quota,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    policy: FailurePolicy,
    fallback_capacity: NonZeroUsize,
}

impl fmt::Debug for RedisStoreBuilder {
    // The client is left out: its connection info may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("quota", &self.quota)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("policy", &self.policy)
            .field("fallback_capacity", &self.fallback_capacity)
            .finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// The prefix of every Redis key (default `"rl:"`); at most [`MAX_PREFIX_LEN`] bytes.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time budget of one check (default [`DEFAULT_TIMEOUT`]); not zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit of one connection attempt (default [`DEFAULT_CONNECT_TIMEOUT`]);
    /// not zero. Only [`build`](Self::build) waits for one.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// What checks answer when Redis does not (default [`FailurePolicy::FailOpen`]).
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many keys the local fallback limiter keeps (default
    /// [`DEFAULT_FALLBACK_CAPACITY`]; least recently used states are evicted).
    pub fn fallback_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.fallback_capacity = capacity;
        self
    }

    /// Checks the settings, connects (within the connect timeout) and loads the script.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`]: an invalid setting, no tokio runtime, or Redis unreachable.
    pub async fn build(self) -> Result<RedisStore, RedisStoreError> {
        let shared = self.into_shared()?;
        let conn = connect(&shared).await?;
        shared.lock_link().conn = Some(conn);
        Ok(RedisStore { shared })
    }

    /// Checks the settings and returns a store that connects in the background, answering
    /// by its failure policy until then. Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError`]: an invalid setting or no tokio runtime.
    pub fn build_lazy(self) -> Result<RedisStore, RedisStoreError> {
        Ok(RedisStore {
            shared: self.into_shared()?,
        })
    }

    fn into_shared(self) -> Result<Arc<Shared>, RedisStoreError> {
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
        let interval_micros = self.quota.replenish_interval().as_nanos().div_ceil(1000);
        let burst = self.quota.burst().get();
        if interval_micros * u128::from(burst) > MAX_WINDOW_MICROS {
            return Err(RedisStoreError::QuotaTooLong {
                window: self.quota.window(),
            });
        }
        let runtime = Handle::try_current().map_err(|_| RedisStoreError::NoRuntime)?;
        // The per-check budget is enforced around each call; the connection's own response
        // timeout is only a backstop (it also covers loading the script while connecting).
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.connect_timeout.max(self.timeout)));
        Ok(Arc::new(Shared {
            client: self.client,
            config,
            script: Script::new(GCRA_LUA),
            quota: self.quota,
            // Bounded by MAX_WINDOW_MICROS above.
            interval_micros: u64::try_from(interval_micros).expect("checked"),
            burst,
            prefix: self.prefix,
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            policy: self.policy,
            fallback: Limiter::new(self.quota, self.fallback_capacity),
            link: Mutex::new(Link {
                conn: None,
                generation: 0,
                connecting: false,
                next_attempt: Instant::now(),
                backoff: INITIAL_BACKOFF,
            }),
            runtime,
            counters: Counters::default(),
        }))
    }
}

/// A [`Backend`] that enforces one quota for a fleet in Redis. See the
/// [module docs](self).
///
/// Cloning is cheap and shares the connection, counters and fallback limiter.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("RedisStore")
            .field("quota", &s.quota)
            .field("prefix", &s.prefix)
            .field("timeout", &s.timeout)
            .field("policy", &s.policy)
            .field("connected", &s.lock_link().conn.is_some())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for a store on `client` enforcing `quota`.
    pub fn builder(client: Client, quota: Quota) -> RedisStoreBuilder {
        RedisStoreBuilder {
            client,
            quota,
            prefix: "rl:".to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            policy: FailurePolicy::default(),
            fallback_capacity: DEFAULT_FALLBACK_CAPACITY,
        }
    }

    /// A builder for a store on the Redis at `url` (`redis://host:port/db`) enforcing
    /// `quota`.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::InvalidUrl`] when the URL does not parse.
    pub fn builder_url(url: &str, quota: Quota) -> Result<RedisStoreBuilder, RedisStoreError> {
        let client = Client::open(url).map_err(RedisStoreError::InvalidUrl)?;
        Ok(Self::builder(client, quota))
    }

    /// The Redis key holding `key`'s state: the prefix and 128 bits of the SHA-256 of `key`
    /// in hex, whatever `key`'s length.
    pub fn redis_key(&self, key: &[u8]) -> Vec<u8> {
        redis_key(self.shared.prefix.as_bytes(), digest(key))
    }

    /// The failure policy.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.shared.policy
    }

    /// The local limiter that answers under [`FailurePolicy::FailOpen`] (for its stats,
    /// or to give memory back with [`Limiter::retain_active`]).
    pub fn fallback(&self) -> &Limiter {
        &self.shared.fallback
    }

    /// Counters, and whether a connection is held.
    pub fn stats(&self) -> RedisStoreStats {
        let c = &self.shared.counters;
        RedisStoreStats {
            redis_checks: c.redis_checks.load(Ordering::Relaxed),
            redis_errors: c.redis_errors.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            fallbacks: c.fallbacks.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
            reconnects: c.reconnects.load(Ordering::Relaxed),
            connected: self.shared.lock_link().conn.is_some(),
        }
    }
}

impl Backend for RedisStore {
    fn check_n(&self, key: &[u8], n: NonZeroU32) -> Check {
        if n.get() > self.shared.burst {
            return Check::ready(Err(Limited::new(
                Duration::MAX,
                LimitedReason::ExceedsBurst,
            )));
        }
        let digest = digest(key);
        let shared = Arc::clone(&self.shared);
        Check::pending(async move { shared.check(digest, n).await })
    }

    fn quota(&self) -> Quota {
        self.shared.quota
    }
}

struct Shared {
    client: Client,
    config: AsyncConnectionConfig,
    script: Script,
    quota: Quota,
    interval_micros: u64,
    burst: u32,
    prefix: String,
    timeout: Duration,
    connect_timeout: Duration,
    policy: FailurePolicy,
    fallback: Limiter,
    link: Mutex<Link>,
    /// Where background reconnections run.
    runtime: Handle,
    counters: Counters,
}

/// The connection, or when to try again. Locked only briefly, never across an `.await`.
struct Link {
    conn: Option<MultiplexedConnection>,
    /// Incremented by each new connection, so a failure on an old one cannot drop a new one.
    generation: u64,
    /// Whether a background attempt is running.
    connecting: bool,
    next_attempt: Instant,
    backoff: Duration,
}

impl Shared {
    fn lock_link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn check(self: Arc<Self>, digest: u128, n: NonZeroU32) -> Result<Allowed, Limited> {
        let Some((generation, mut conn)) = self.connection() else {
            return self.fail(digest, n);
        };
        let mut invocation = self.script.key(redis_key(self.prefix.as_bytes(), digest));
        invocation
            .arg(self.interval_micros)
            .arg(self.burst)
            .arg(n.get());
        let reply = tokio::time::timeout(
            self.timeout,
            invocation.invoke_async::<(i64, i64, i64)>(&mut conn),
        )
        .await;
        let c = &self.counters;
        match reply {
            Ok(Ok((allowed, remaining, retry_after_micros))) => {
                bump(&c.redis_checks);
                c.consecutive_timeouts.store(0, Ordering::Relaxed);
                if allowed == 1 {
                    Ok(Allowed::new(
                        u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
                    ))
                } else {
                    let micros = u64::try_from(retry_after_micros).unwrap_or(0);
                    Err(Limited::new(
                        Duration::from_micros(micros),
                        LimitedReason::Quota,
                    ))
                }
            }
            Ok(Err(error)) if error.is_timeout() => self.timed_out(generation, digest, n),
            Ok(Err(error)) => {
                bump(&c.redis_errors);
                // A server's error reply leaves the connection usable, except READONLY (a
                // failover made this node a replica: a new connection may reach the new
                // primary); anything else (I/O, dropped connection, protocol) replaces it.
                let usable = matches!(error.kind(), ErrorKind::Server(kind) if kind != ServerErrorKind::ReadOnly)
                    && !error.is_unrecoverable_error();
                if usable {
                    tracing::warn!(%error, "redis rate-limit script failed");
                } else if self.invalidate(generation) {
                    tracing::warn!(%error, "redis rate-limit connection failed; reconnecting");
                }
                self.fail(digest, n)
            }
            Err(_elapsed) => self.timed_out(generation, digest, n),
        }
    }

    fn timed_out(&self, generation: u64, digest: u128, n: NonZeroU32) -> Result<Allowed, Limited> {
        let c = &self.counters;
        bump(&c.timeouts);
        if c.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= TIMEOUTS_BEFORE_RECONNECT {
            c.consecutive_timeouts.store(0, Ordering::Relaxed);
            if self.invalidate(generation) {
                tracing::warn!("redis rate-limit checks keep timing out; reconnecting");
            }
        }
        self.fail(digest, n)
    }

    /// The answer of the failure policy.
    fn fail(&self, digest: u128, n: NonZeroU32) -> Result<Allowed, Limited> {
        match self.policy {
            FailurePolicy::FailOpen => {
                bump(&self.counters.fallbacks);
                match self.fallback.check_n(&digest.to_be_bytes(), n) {
                    Ok(result) => result,
                    // Unreachable: `check_n` refuses weights above the burst first.
                    Err(_) => Err(Limited::new(Duration::MAX, LimitedReason::ExceedsBurst)),
                }
            }
            FailurePolicy::FailClosed => {
                bump(&self.counters.unavailable);
                Err(Limited::new(
                    UNAVAILABLE_RETRY_AFTER,
                    LimitedReason::BackendUnavailable,
                ))
            }
        }
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
                shared: Arc::clone(self),
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
    /// was); the next check starts a new attempt.
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
    shared: Arc<Shared>,
    conn: Option<MultiplexedConnection>,
}

impl Attempt {
    async fn run(&mut self) {
        match connect(&self.shared).await {
            Ok(conn) => self.conn = Some(conn),
            Err(error) => tracing::debug!(%error, "redis rate-limit reconnection failed"),
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut link = self.shared.lock_link();
        link.connecting = false;
        match self.conn.take() {
            Some(conn) => {
                link.conn = Some(conn);
                link.generation += 1;
                link.backoff = INITIAL_BACKOFF;
                bump(&self.shared.counters.reconnects);
                self.shared
                    .counters
                    .consecutive_timeouts
                    .store(0, Ordering::Relaxed);
                tracing::info!("redis rate-limit connection established");
            }
            None => {
                link.next_attempt = Instant::now() + link.backoff;
                link.backoff = (link.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Connects and loads the script, within the connect timeout.
async fn connect(shared: &Shared) -> Result<MultiplexedConnection, RedisStoreError> {
    let attempt = async {
        let mut conn = shared
            .client
            .get_multiplexed_async_connection_with_config(&shared.config)
            .await?;
        // Loaded now, the first EVALSHA needs no extra round trips.
        shared.script.load_async(&mut conn).await?;
        Ok(conn)
    };
    tokio::time::timeout(shared.connect_timeout, attempt)
        .await
        .map_err(|_| RedisStoreError::ConnectTimeout(shared.connect_timeout))?
        .map_err(RedisStoreError::Connect)
}

/// The first 128 bits of SHA-256: stable across processes, builds and Rust versions, and
/// collision-resistant, so no chosen key can share another key's state.
fn digest(bytes: &[u8]) -> u128 {
    let hash = Sha256::digest(bytes);
    u128::from_be_bytes(hash[..16].try_into().expect("SHA-256 has 32 bytes"))
}

fn redis_key(prefix: &[u8], digest: u128) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = Vec::with_capacity(prefix.len() + 32);
    key.extend_from_slice(prefix);
    for byte in digest.to_be_bytes() {
        key.push(HEX[usize::from(byte >> 4)]);
        key.push(HEX[usize::from(byte & 0xf)]);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn builder(quota: Quota) -> RedisStoreBuilder {
        RedisStore::builder_url("redis://127.0.0.1:1/", quota).unwrap()
    }

    #[test]
    fn keys_are_sha256_prefixes() {
        // SHA-256("") and SHA-256("abc"), first 16 bytes (FIPS 180-2 vectors).
        assert_eq!(digest(b""), 0xe3b0c44298fc1c149afbf4c8996fb924);
        assert_eq!(digest(b"abc"), 0xba7816bf8f01cfea414140de5dae2223);
        assert_eq!(
            redis_key(b"rl:", digest(b"abc")),
            b"rl:ba7816bf8f01cfea414140de5dae2223"
        );
    }

    #[test]
    fn settings_are_checked_before_any_io() {
        let quota = Quota::per_second(nz(10));
        let zero = builder(quota).timeout(Duration::ZERO).build_lazy();
        assert!(matches!(
            zero,
            Err(RedisStoreError::ZeroTimeout { setting: "timeout" })
        ));
        let zero = builder(quota).connect_timeout(Duration::ZERO).build_lazy();
        assert!(matches!(
            zero,
            Err(RedisStoreError::ZeroTimeout {
                setting: "connect timeout"
            })
        ));
        let long = builder(quota).prefix("x".repeat(257)).build_lazy();
        assert!(matches!(
            long,
            Err(RedisStoreError::PrefixTooLong { len: 257, max: 256 })
        ));
        let slow = Quota::per_hour(nz(1)).with_burst(nz(1_000_000));
        assert!(matches!(
            builder(slow).build_lazy(),
            Err(RedisStoreError::QuotaTooLong { .. })
        ));
        // Valid, but outside a runtime.
        assert!(matches!(
            builder(quota).build_lazy(),
            Err(RedisStoreError::NoRuntime)
        ));
        assert!(matches!(
            RedisStore::builder_url("not a url", quota),
            Err(RedisStoreError::InvalidUrl(_))
        ));
        assert!(format!("{:?}", builder(quota)).contains("rl:"));
    }
}
