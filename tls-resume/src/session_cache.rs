//! A two-tier server session store for rustls: a bounded, expiring local tier in front of
//! an optional fleet-wide [`SharedStore`].
//!
//! rustls keeps server sessions per process (its default `ServerSessionMemoryCache` holds
//! 256 entries), so behind a load balancer of N instances only about 1/N of reconnects find
//! their session (incident 4). [`SessionCache`] implements [`StoresServerSessions`] so that
//! every instance writes its sessions to one shared tier and can resume sessions made by
//! any other.
//!
//! # How rustls uses the store, and what this cache does
//!
//! | rustls call | used for | this cache |
//! |---|---|---|
//! | `put` | after every full handshake (TLS 1.2 session id, TLS 1.3 stateful ticket) | store locally **and** in the shared tier, with the cache's TTL |
//! | `get` | TLS 1.2 session-id resumption; multi-use | local tier, then shared tier; a shared hit fills the local tier |
//! | `take` | TLS 1.3 stateful resumption; single use | with a shared tier: drop any local copy, then atomically take from the shared tier, so a ticket resumes **at most once fleet-wide**; without one: take from the local tier |
//!
//! rustls never expires stored sessions itself (it checks only suite, EMS and SNI), so every
//! entry carries a TTL ([`DEFAULT_TTL`], 12 hours, at most [`MAX_TTL`], the 7 days of
//! RFC 8446 §4.6.1). Expired entries are never returned and are dropped lazily, when looked
//! up, evicted or purged with [`SessionCache::purge_expired`].
//!
//! Session values hold secrets: they are kept in [`Zeroizing`] buffers, wiped when they are
//! replaced, evicted, expired, taken or dropped with the cache, and never printed (`Debug`
//! shows sizes and counters only). The copies returned to rustls are rustls's to handle.
//! Keys are random ids chosen by rustls; keys offered by
//! clients are untrusted, so keys longer than [`MAX_KEY_LEN`] are refused without a lookup.
//!
//! # Never block a handshake
//!
//! rustls calls the store synchronously, inside the handshake. A [`SharedStore`] must
//! therefore answer quickly and within a bounded time (see its contract). A remote store is
//! meant to be fronted by a prefetching acceptor that reads the entries a `ClientHello`
//! names from the shared tier (asynchronously) and copies them into the local tier before
//! the handshake runs, so the handshake finds them in memory:
//!
//! - a TLS 1.2 session id: [`SharedStore::get`], then [`SessionCache::prefill`];
//! - a TLS 1.3 stateful ticket: [`SharedStore::take`] (the fleet-wide atomic take happens
//!   here), then [`SessionCache::prefill_claimed`]; the handshake's `take` then returns
//!   that claimed copy without asking the shared tier again.
//!
//! `put` still writes the shared tier synchronously, which suits in-process stores such as
//! [`MemorySharedStore`]; a remote store should queue its writes (write-behind) and return
//! at once.
//!
//! # Example
//!
//! Two instances of a fleet, each with its own cache, sharing one in-memory tier:
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//!
//! use rustls::server::StoresServerSessions;
//! use tls_resume::session_cache::{MemorySharedStore, SessionCache};
//!
//! let capacity = NonZeroUsize::new(1024).unwrap();
//! let fleet = Arc::new(MemorySharedStore::new(capacity));
//! let a = Arc::new(SessionCache::new(capacity).with_shared(fleet.clone()));
//! let b = Arc::new(SessionCache::new(capacity).with_shared(fleet.clone()));
//!
//! // A TLS 1.2 session id made on A resumes on B, as often as the client likes.
//! assert!(a.put(b"session id".to_vec(), b"secret state".to_vec()));
//! assert_eq!(b.get(b"session id").as_deref(), Some(&b"secret state"[..]));
//! assert_eq!(b.get(b"session id").as_deref(), Some(&b"secret state"[..]));
//!
//! // A TLS 1.3 stateful ticket resumes once, fleet-wide: a replay on A (which still holds
//! // a local copy) is refused.
//! a.put(b"ticket".to_vec(), b"psk".to_vec());
//! assert_eq!(b.take(b"ticket").as_deref(), Some(&b"psk"[..]));
//! assert_eq!(a.take(b"ticket"), None);
//! assert_eq!(fleet.stats().takes, 1);
//!
//! assert_eq!(a.stats().puts, 2);
//!
//! // Each instance's `ServerConfig` gets its own cache:
//! // `config.session_storage = a.clone();`
//! let _storage: Arc<dyn StoresServerSessions> = a;
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use rustls::server::StoresServerSessions;
use zeroize::{Zeroize, Zeroizing};

/// The default time to live of a stored session: 12 hours.
///
/// rustls advertises a 24-hour lifetime hint for TLS 1.3 stateful tickets; a server may
/// honour a ticket for less (RFC 8446 §4.6.1), and a shorter life limits how long a stolen
/// session state stays useful. 12 hours matches the default decrypt window of the ticket
/// key ring, so both resumption mechanisms expire alike.
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);

/// The longest accepted time to live: 7 days, RFC 8446 §4.6.1's limit for TLS 1.3 tickets.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest key looked up or stored. rustls's own keys are 32 bytes (TLS 1.2 session
/// ids and TLS 1.3 ticket ids); anything longer cannot be ours and is not sent to the
/// shared tier.
pub const MAX_KEY_LEN: usize = 64;

/// An invalid [`SessionCache`] or [`MemorySharedStore`] setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The time to live was zero: nothing could ever be resumed.
    #[error("session TTL must be greater than zero")]
    ZeroTtl,
    /// The time to live exceeded [`MAX_TTL`].
    #[error("session TTL {ttl:?} exceeds the maximum of {max:?}")]
    TtlTooLong {
        /// The TTL asked for.
        ttl: Duration,
        /// The largest TTL accepted ([`MAX_TTL`]).
        max: Duration,
    },
}

fn check_ttl(ttl: Duration) -> Result<Duration, ConfigError> {
    if ttl.is_zero() {
        Err(ConfigError::ZeroTtl)
    } else if ttl > MAX_TTL {
        Err(ConfigError::TtlTooLong { ttl, max: MAX_TTL })
    } else {
        Ok(ttl)
    }
}

/// A [`SharedStore`] failed to answer (unreachable, timed out, refused).
///
/// [`SessionCache`] never passes it on to rustls: the lookup counts as a miss, so the
/// client gets a full handshake, and the failure is counted in [`Stats::shared_errors`].
#[derive(Debug, thiserror::Error)]
#[error("shared session store failed")]
pub struct SharedStoreError {
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

impl SharedStoreError {
    /// Wraps the underlying cause.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

/// A value read from a [`SharedStore`], with the time it has left to live.
pub struct SharedEntry {
    /// The session state. Secret: wiped on drop.
    pub value: Zeroizing<Vec<u8>>,
    /// How long the entry has left in the shared tier. A store that cannot tell returns
    /// the TTL it was stored with (an upper bound); the local copy lives no longer than this.
    pub ttl: Duration,
}

impl fmt::Debug for SharedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedEntry")
            .field("len", &self.value.len())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The fleet-wide tier of a [`SessionCache`]: one logical key-value store shared by every
/// instance (Redis in production, [`MemorySharedStore`] in tests and demos).
///
/// # Contract
///
/// - **Synchronous and bounded.** rustls calls the cache inside the handshake, so every
///   method must return within a small, fixed time budget (a few milliseconds); on timeout
///   or any failure, return [`SharedStoreError`] rather than wait. The cache then
///   degrades to its local tier (a full handshake, never an error).
/// - **Keys** are random session ids written by some instance, or untrusted bytes offered
///   by a client (at most [`MAX_KEY_LEN`] bytes); treat them as opaque.
/// - **Values are highly sensitive** session secrets: never log them, keep them off disk
///   where possible, and wipe copies you make.
/// - [`put`](Self::put) stores `value` under `key` for at most `ttl`, overwriting any
///   previous value (Redis `SET key value PX ttl`). A store may keep entries for less
///   (a bound, an eviction policy): losing sessions only costs full handshakes.
/// - [`get`](Self::get) returns the value if present and not expired, without removing it
///   (TLS 1.2 session ids are multi-use).
/// - [`take`](Self::take) must be an **atomic get-and-delete across the whole fleet**
///   (Redis `GETDEL`): of any number of concurrent `take`s of one key, on any instances,
///   at most one returns the value. TLS 1.3 stateful tickets rely on this to be
///   single-use; a store that cannot guarantee it must not implement `take` as `get`
///   followed by a delete.
/// - Expired entries must never be returned.
pub trait SharedStore: fmt::Debug + Send + Sync {
    /// Returns the live value stored under `key`, leaving it in place.
    ///
    /// # Errors
    ///
    /// The store could not answer within its budget.
    fn get(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError>;

    /// Stores `value` under `key` for at most `ttl`. Returns whether it was stored.
    ///
    /// # Errors
    ///
    /// The store could not answer within its budget.
    fn put(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<bool, SharedStoreError>;

    /// Atomically, fleet-wide, returns the live value stored under `key` and deletes it.
    ///
    /// # Errors
    ///
    /// The store could not answer within its budget. The value may or may not have been
    /// deleted; the caller must not fall back to any other copy.
    fn take(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError>;
}

impl<S: SharedStore + ?Sized> SharedStore for Arc<S> {
    fn get(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        (**self).get(key)
    }

    fn put(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<bool, SharedStoreError> {
        (**self).put(key, value, ttl)
    }

    fn take(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        (**self).take(key)
    }
}

// ---------------------------------------------------------------------------------------
// The bounded, expiring tier shared by both stores.
// ---------------------------------------------------------------------------------------

/// One stored value and its deadline. The value is wiped when the slot is dropped.
struct Slot<V: Zeroize> {
    value: Zeroizing<V>,
    expires: Instant,
    /// Already taken atomically from the shared tier by this instance (a prefetched TLS 1.3
    /// ticket): reserved for one local `take`, invisible to `get`.
    claimed: bool,
}

/// What a lookup found.
enum Lookup<T> {
    Hit(T),
    Miss,
    /// Present but expired; it has now been dropped (and wiped).
    Expired,
}

/// What an insertion displaced.
#[derive(Debug, PartialEq, Eq)]
enum Displaced {
    Nothing,
    /// The same key's previous value.
    Replaced,
    /// The least recently used entry of another key (wiped); `expired` if it was dead anyway.
    Evicted {
        expired: bool,
    },
}

/// A bounded LRU map from keys to expiring secret values. Generic over the value so the
/// tests can observe wiping; the stores use `Vec<u8>`.
struct Tier<V: Zeroize> {
    map: LruCache<Vec<u8>, Slot<V>>,
}

impl<V: Zeroize> Tier<V> {
    fn new(capacity: NonZeroUsize) -> Self {
        Self {
            map: LruCache::new(capacity),
        }
    }

    fn insert(
        &mut self,
        key: Vec<u8>,
        value: Zeroizing<V>,
        expires: Instant,
        now: Instant,
    ) -> Displaced {
        let slot = Slot {
            value,
            expires,
            claimed: false,
        };
        self.insert_slot(key, slot, now)
    }

    fn insert_slot(&mut self, key: Vec<u8>, slot: Slot<V>, now: Instant) -> Displaced {
        let replacing = self.map.contains(&key);
        // Dropping the displaced slot wipes its value.
        match self.map.push(key, slot) {
            None => Displaced::Nothing,
            Some(_) if replacing => Displaced::Replaced,
            Some((_, old)) => Displaced::Evicted {
                expired: old.expires <= now,
            },
        }
    }

    fn get(&mut self, key: &[u8], now: Instant) -> Lookup<Zeroizing<V>>
    where
        V: Clone,
    {
        match self.map.get(key) {
            None => return Lookup::Miss,
            Some(slot) if slot.expires > now && slot.claimed => return Lookup::Miss,
            Some(slot) if slot.expires > now => return Lookup::Hit(slot.value.clone()),
            Some(_) => {}
        }
        self.map.pop(key);
        Lookup::Expired
    }

    /// Removes `key`, returning its slot if it was live.
    fn remove(&mut self, key: &[u8], now: Instant) -> Lookup<Slot<V>> {
        match self.map.pop(key) {
            None => Lookup::Miss,
            Some(slot) if slot.expires > now => Lookup::Hit(slot),
            Some(_) => Lookup::Expired,
        }
    }

    /// Drops (and wipes) every expired entry; returns how many.
    fn purge_expired(&mut self, now: Instant) -> usize {
        let dead: Vec<Vec<u8>> = self
            .map
            .iter()
            .filter(|(_, slot)| slot.expires <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &dead {
            self.map.pop(key);
        }
        dead.len()
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn capacity(&self) -> NonZeroUsize {
        self.map.cap()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves at worst a stale entry: keep serving.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl).unwrap_or(now)
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------
// SessionCache
// ---------------------------------------------------------------------------------------

/// A snapshot of a [`SessionCache`]'s counters, taken with [`SessionCache::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lookups (`get` or `take`) answered by the local tier.
    pub local_hits: u64,
    /// Lookups the local tier could not answer (absent or expired).
    pub local_misses: u64,
    /// Lookups answered by the shared tier.
    pub shared_hits: u64,
    /// Lookups the shared tier could not answer (absent, expired or already taken).
    pub shared_misses: u64,
    /// Shared-tier calls that failed ([`SharedStoreError`]); each cost a full handshake
    /// or an unshared session at worst.
    pub shared_errors: u64,
    /// Sessions stored (`put` calls accepted).
    pub puts: u64,
    /// Successful `take`s (TLS 1.3 stateful resumptions granted by this instance).
    pub takes: u64,
    /// Local entries found or purged after their TTL.
    pub expirations: u64,
    /// Live local entries evicted to make room (least recently used first).
    pub evictions: u64,
}

#[derive(Default)]
struct Counters {
    local_hits: AtomicU64,
    local_misses: AtomicU64,
    shared_hits: AtomicU64,
    shared_misses: AtomicU64,
    shared_errors: AtomicU64,
    puts: AtomicU64,
    takes: AtomicU64,
    expirations: AtomicU64,
    evictions: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        Stats {
            local_hits: load(&self.local_hits),
            local_misses: load(&self.local_misses),
            shared_hits: load(&self.shared_hits),
            shared_misses: load(&self.shared_misses),
            shared_errors: load(&self.shared_errors),
            puts: load(&self.puts),
            takes: load(&self.takes),
            expirations: load(&self.expirations),
            evictions: load(&self.evictions),
        }
    }

    fn displaced(&self, displaced: &Displaced) {
        match displaced {
            Displaced::Evicted { expired: true } => add(&self.expirations),
            Displaced::Evicted { expired: false } => add(&self.evictions),
            Displaced::Nothing | Displaced::Replaced => {}
        }
    }
}

/// A server session store for rustls: a bounded, expiring local tier in front of an
/// optional [`SharedStore`]. See the [module docs](self) for the semantics and an example.
///
/// Give it to rustls as `ServerConfig::session_storage`. For stateful TLS 1.3 resumption
/// (the only kind that uses this store in TLS 1.3) the config's ticketer must be disabled,
/// which is rustls's default.
///
/// Configs that share sessions through one shared tier must have equivalent client
/// certificate verifiers and certificate resolvers, or a session made without client
/// authentication could resume on a config that requires it (see `ServerConfig`'s docs).
pub struct SessionCache {
    local: Mutex<Tier<Vec<u8>>>,
    shared: Option<Arc<dyn SharedStore>>,
    ttl: Duration,
    counters: Counters,
}

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("ttl", &self.ttl)
            .field("shared", &self.shared.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SessionCache {
    /// A local-only cache holding at most `capacity` sessions for [`DEFAULT_TTL`] each.
    /// When full, the least recently used session is evicted (and wiped).
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            local: Mutex::new(Tier::new(capacity)),
            shared: None,
            ttl: DEFAULT_TTL,
            counters: Counters::default(),
        }
    }

    /// Sets the time to live of stored sessions, locally and in the shared tier.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroTtl`] and [`ConfigError::TtlTooLong`] (over [`MAX_TTL`]).
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        self.ttl = check_ttl(ttl)?;
        Ok(self)
    }

    /// Puts this cache in front of a shared tier (one per fleet, shared by every instance).
    #[must_use]
    pub fn with_shared(mut self, shared: Arc<dyn SharedStore>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The time to live of stored sessions.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many entries the local tier holds (some may have expired and not been dropped yet).
    pub fn len(&self) -> usize {
        lock(&self.local).len()
    }

    /// Whether the local tier is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The local tier's capacity.
    pub fn capacity(&self) -> NonZeroUsize {
        lock(&self.local).capacity()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Drops (and wipes) every expired local entry now, rather than when next looked up
    /// or evicted. Returns how many were dropped. Linear in [`len`](Self::len).
    pub fn purge_expired(&self) -> usize {
        self.purge_expired_at(Instant::now())
    }

    /// The shared tier, if any: for a prefetcher that reads it ahead of the handshake.
    pub fn shared(&self) -> Option<&Arc<dyn SharedStore>> {
        self.shared.as_ref()
    }

    /// Copies an entry read from the shared tier (with [`SharedStore::get`]) into the local
    /// tier, so the handshake's `get` (TLS 1.2 session id) finds it in memory. It lives for
    /// the smaller of `entry.ttl` and the cache's TTL.
    ///
    /// For a prefetcher that reads the shared tier asynchronously before the handshake;
    /// see the module docs.
    pub fn prefill(&self, key: &[u8], entry: SharedEntry) {
        self.prefill_at(key, entry, false, Instant::now());
    }

    /// Keeps an entry this instance has already taken from the shared tier (with
    /// [`SharedStore::take`], atomically) for the handshake's `take` (TLS 1.3 stateful
    /// ticket), which then returns it without asking the shared tier again. `get` never
    /// returns it. It lives for the smaller of `entry.ttl` and the cache's TTL; if the
    /// handshake never takes it, it expires unused (a full handshake, never a second use).
    pub fn prefill_claimed(&self, key: &[u8], entry: SharedEntry) {
        self.prefill_at(key, entry, true, Instant::now());
    }

    fn prefill_at(&self, key: &[u8], entry: SharedEntry, claimed: bool, now: Instant) {
        let ttl = entry.ttl.min(self.ttl);
        if key.len() > MAX_KEY_LEN || ttl.is_zero() {
            return;
        }
        let slot = Slot {
            value: entry.value,
            expires: deadline(now, ttl),
            claimed,
        };
        let displaced = lock(&self.local).insert_slot(key.to_vec(), slot, now);
        self.counters.displaced(&displaced);
    }

    fn purge_expired_at(&self, now: Instant) -> usize {
        let purged = lock(&self.local).purge_expired(now);
        self.counters
            .expirations
            .fetch_add(purged as u64, Ordering::Relaxed);
        purged
    }

    fn put_at(&self, key: Vec<u8>, value: Vec<u8>, now: Instant) -> bool {
        let value = Zeroizing::new(value);
        if key.len() > MAX_KEY_LEN {
            return false;
        }
        if let Some(shared) = &self.shared {
            // A refusal (`Ok(false)`) only means other instances cannot resume it.
            if let Err(error) = shared.put(&key, &value, self.ttl) {
                self.shared_failed("put", &error);
            }
        }
        let displaced = lock(&self.local).insert(key, value, deadline(now, self.ttl), now);
        self.counters.displaced(&displaced);
        add(&self.counters.puts);
        true
    }

    fn get_at(&self, key: &[u8], now: Instant) -> Option<Vec<u8>> {
        if key.len() > MAX_KEY_LEN {
            add(&self.counters.local_misses);
            return None;
        }
        match lock(&self.local).get(key, now) {
            Lookup::Hit(value) => {
                add(&self.counters.local_hits);
                return Some(value.to_vec());
            }
            Lookup::Expired => add(&self.counters.expirations),
            Lookup::Miss => {}
        }
        add(&self.counters.local_misses);
        let shared = self.shared.as_ref()?;
        match shared.get(key) {
            Ok(Some(entry)) => {
                add(&self.counters.shared_hits);
                let out = entry.value.to_vec();
                self.prefill_at(key, entry, false, now);
                Some(out)
            }
            Ok(None) => {
                add(&self.counters.shared_misses);
                None
            }
            Err(error) => {
                self.shared_failed("get", &error);
                None
            }
        }
    }

    fn take_at(&self, key: &[u8], now: Instant) -> Option<Vec<u8>> {
        if key.len() > MAX_KEY_LEN {
            add(&self.counters.local_misses);
            return None;
        }
        let local = lock(&self.local).remove(key, now);
        let Some(shared) = &self.shared else {
            return match local {
                Lookup::Hit(Slot { value, .. }) => {
                    add(&self.counters.local_hits);
                    add(&self.counters.takes);
                    Some(value.to_vec())
                }
                Lookup::Expired => {
                    add(&self.counters.expirations);
                    add(&self.counters.local_misses);
                    None
                }
                Lookup::Miss => {
                    add(&self.counters.local_misses);
                    None
                }
            };
        };
        // An unclaimed local copy proves nothing: another instance may already have taken
        // the ticket. Only the shared tier's atomic take decides; the local copy is dropped
        // (and wiped) either way. A claimed copy is this instance's own atomic take.
        match local {
            Lookup::Hit(Slot {
                value,
                claimed: true,
                ..
            }) => {
                add(&self.counters.local_hits);
                add(&self.counters.takes);
                return Some(value.to_vec());
            }
            Lookup::Expired => add(&self.counters.expirations),
            Lookup::Hit(_) | Lookup::Miss => {}
        }
        match shared.take(key) {
            Ok(Some(entry)) => {
                add(&self.counters.shared_hits);
                add(&self.counters.takes);
                Some(entry.value.to_vec())
            }
            Ok(None) => {
                add(&self.counters.shared_misses);
                None
            }
            Err(error) => {
                self.shared_failed("take", &error);
                None
            }
        }
    }

    fn shared_failed(&self, operation: &'static str, error: &SharedStoreError) {
        add(&self.counters.shared_errors);
        tracing::debug!(
            operation,
            error = error as &dyn StdError,
            "shared session store failed; using the local tier only"
        );
    }
}

impl StoresServerSessions for SessionCache {
    /// Stores locally and in the shared tier. Returns `true`: the session is kept at least
    /// locally (a shared-tier failure is counted, not reported).
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.put_at(key, value, Instant::now())
    }

    /// Local tier first, then the shared tier (filling the local tier on a hit).
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get_at(key, Instant::now())
    }

    /// At most once fleet-wide: an atomic take from the shared tier (any local copy is
    /// dropped); a local take when there is no shared tier.
    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.take_at(key, Instant::now())
    }

    fn can_cache(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// MemorySharedStore
// ---------------------------------------------------------------------------------------

/// A snapshot of a [`MemorySharedStore`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedStats {
    /// `get`s and `take`s that found a live entry.
    pub hits: u64,
    /// `get`s and `take`s that found nothing (absent, expired or already taken).
    pub misses: u64,
    /// Entries stored.
    pub puts: u64,
    /// Successful `take`s, fleet-wide.
    pub takes: u64,
    /// Entries found or purged after their TTL.
    pub expirations: u64,
    /// Live entries evicted to make room.
    pub evictions: u64,
}

/// An in-process [`SharedStore`]: a bounded LRU map with a TTL per entry behind one lock,
/// so `take` is atomic. Share it with [`Arc`] between the [`SessionCache`]s of several
/// in-process instances: the "fleet" of tests and demos.
///
/// Entries live for the smaller of the TTL given to `put` and the store's own
/// ([`DEFAULT_TTL`] unless set with [`with_ttl`](Self::with_ttl)).
pub struct MemorySharedStore {
    tier: Mutex<Tier<Vec<u8>>>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    puts: AtomicU64,
    takes: AtomicU64,
    expirations: AtomicU64,
    evictions: AtomicU64,
}

impl fmt::Debug for MemorySharedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tier = lock(&self.tier);
        f.debug_struct("MemorySharedStore")
            .field("len", &tier.len())
            .field("capacity", &tier.capacity())
            .field("ttl", &self.ttl)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl MemorySharedStore {
    /// A store holding at most `capacity` entries, least recently used evicted first.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            tier: Mutex::new(Tier::new(capacity)),
            ttl: DEFAULT_TTL,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            puts: AtomicU64::new(0),
            takes: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Caps the time to live of every entry.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroTtl`] and [`ConfigError::TtlTooLong`] (over [`MAX_TTL`]).
    pub fn with_ttl(mut self, ttl: Duration) -> Result<Self, ConfigError> {
        self.ttl = check_ttl(ttl)?;
        Ok(self)
    }

    /// How many entries the store holds (some may have expired and not been dropped yet).
    pub fn len(&self) -> usize {
        lock(&self.tier).len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SharedStats {
        SharedStats {
            hits: load(&self.hits),
            misses: load(&self.misses),
            puts: load(&self.puts),
            takes: load(&self.takes),
            expirations: load(&self.expirations),
            evictions: load(&self.evictions),
        }
    }

    /// Drops (and wipes) every expired entry; returns how many.
    pub fn purge_expired(&self) -> usize {
        let purged = lock(&self.tier).purge_expired(Instant::now());
        self.expirations.fetch_add(purged as u64, Ordering::Relaxed);
        purged
    }

    fn count<T>(&self, lookup: &Lookup<T>) {
        match lookup {
            Lookup::Hit(_) => add(&self.hits),
            Lookup::Miss => add(&self.misses),
            Lookup::Expired => {
                add(&self.expirations);
                add(&self.misses);
            }
        }
    }

    fn get_at(&self, key: &[u8], now: Instant) -> Option<SharedEntry> {
        let mut tier = lock(&self.tier);
        let lookup = tier.get(key, now);
        self.count(&lookup);
        match lookup {
            Lookup::Hit(value) => {
                let ttl = tier.map.peek(key).map_or(Duration::ZERO, |slot| {
                    slot.expires.saturating_duration_since(now)
                });
                Some(SharedEntry { value, ttl })
            }
            Lookup::Miss | Lookup::Expired => None,
        }
    }

    fn put_at(&self, key: &[u8], value: &[u8], ttl: Duration, now: Instant) -> bool {
        let ttl = ttl.min(self.ttl);
        if ttl.is_zero() {
            return false;
        }
        let displaced = lock(&self.tier).insert(
            key.to_vec(),
            Zeroizing::new(value.to_vec()),
            deadline(now, ttl),
            now,
        );
        match displaced {
            Displaced::Evicted { expired: true } => add(&self.expirations),
            Displaced::Evicted { expired: false } => add(&self.evictions),
            Displaced::Nothing | Displaced::Replaced => {}
        }
        add(&self.puts);
        true
    }

    fn take_at(&self, key: &[u8], now: Instant) -> Option<SharedEntry> {
        // One lock around lookup and removal: the take is atomic.
        let lookup = lock(&self.tier).remove(key, now);
        self.count(&lookup);
        match lookup {
            Lookup::Hit(Slot { value, expires, .. }) => {
                add(&self.takes);
                Some(SharedEntry {
                    value,
                    ttl: expires.saturating_duration_since(now),
                })
            }
            Lookup::Miss | Lookup::Expired => None,
        }
    }
}

impl SharedStore for MemorySharedStore {
    fn get(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        Ok(self.get_at(key, Instant::now()))
    }

    fn put(&self, key: &[u8], value: &[u8], ttl: Duration) -> Result<bool, SharedStoreError> {
        Ok(self.put_at(key, value, ttl, Instant::now()))
    }

    fn take(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
        Ok(self.take_at(key, Instant::now()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    use super::*;

    fn cap(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = SessionCache::new(cap(8)).with_ttl(60 * SECOND).unwrap();
        let t0 = Instant::now();
        assert!(cache.put_at(b"id".to_vec(), b"state".to_vec(), t0));
        let almost = t0 + 60 * SECOND - Duration::from_millis(1);
        assert_eq!(cache.get_at(b"id", almost).as_deref(), Some(&b"state"[..]));
        assert_eq!(cache.get_at(b"id", t0 + 60 * SECOND), None);
        // Dropped lazily, on that lookup.
        assert_eq!(cache.len(), 0);
        let stats = cache.stats();
        assert_eq!(stats.expirations, 1);
        assert_eq!((stats.local_hits, stats.local_misses), (1, 1));
    }

    #[test]
    fn expired_entries_are_not_taken() {
        let cache = SessionCache::new(cap(8)).with_ttl(60 * SECOND).unwrap();
        let t0 = Instant::now();
        cache.put_at(b"ticket".to_vec(), b"psk".to_vec(), t0);
        assert_eq!(cache.take_at(b"ticket", t0 + 61 * SECOND), None);
        assert_eq!(cache.stats().takes, 0);
        assert_eq!(cache.stats().expirations, 1);
    }

    #[test]
    fn purge_drops_only_expired_entries() {
        let cache = SessionCache::new(cap(8)).with_ttl(60 * SECOND).unwrap();
        let t0 = Instant::now();
        cache.put_at(b"old".to_vec(), b"1".to_vec(), t0);
        cache.put_at(b"new".to_vec(), b"2".to_vec(), t0 + 30 * SECOND);
        assert_eq!(cache.purge_expired_at(t0 + 60 * SECOND), 1);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get_at(b"new", t0 + 60 * SECOND).as_deref(),
            Some(&b"2"[..])
        );
    }

    #[test]
    fn ttl_is_checked() {
        let cache = SessionCache::new(cap(1));
        assert_eq!(cache.ttl(), DEFAULT_TTL);
        assert_eq!(
            SessionCache::new(cap(1))
                .with_ttl(Duration::ZERO)
                .unwrap_err(),
            ConfigError::ZeroTtl
        );
        assert!(matches!(
            SessionCache::new(cap(1)).with_ttl(MAX_TTL + SECOND),
            Err(ConfigError::TtlTooLong { .. })
        ));
        assert_eq!(
            SessionCache::new(cap(1)).with_ttl(MAX_TTL).unwrap().ttl(),
            MAX_TTL
        );
        assert!(
            MemorySharedStore::new(cap(1))
                .with_ttl(Duration::ZERO)
                .is_err()
        );
    }

    #[test]
    fn capacity_is_bounded_least_recently_used_first() {
        let cache = SessionCache::new(cap(2));
        let now = Instant::now();
        cache.put_at(b"a".to_vec(), b"1".to_vec(), now);
        cache.put_at(b"b".to_vec(), b"2".to_vec(), now);
        // Touch `a`, so `b` is the least recently used.
        assert!(cache.get_at(b"a", now).is_some());
        cache.put_at(b"c".to_vec(), b"3".to_vec(), now);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get_at(b"b", now), None);
        assert!(cache.get_at(b"a", now).is_some());
        assert!(cache.get_at(b"c", now).is_some());
        assert_eq!(cache.stats().evictions, 1);
        // Overwriting a key is not an eviction.
        cache.put_at(b"c".to_vec(), b"4".to_vec(), now);
        assert_eq!(cache.stats().evictions, 1);
        assert_eq!(cache.get_at(b"c", now).as_deref(), Some(&b"4"[..]));
    }

    #[test]
    fn evicting_an_expired_entry_counts_as_expiration() {
        let cache = SessionCache::new(cap(1)).with_ttl(SECOND).unwrap();
        let t0 = Instant::now();
        cache.put_at(b"a".to_vec(), b"1".to_vec(), t0);
        cache.put_at(b"b".to_vec(), b"2".to_vec(), t0 + 2 * SECOND);
        assert_eq!((cache.stats().evictions, cache.stats().expirations), (0, 1));
    }

    #[test]
    fn local_take_is_single_use() {
        let cache = SessionCache::new(cap(8));
        let now = Instant::now();
        cache.put_at(b"ticket".to_vec(), b"psk".to_vec(), now);
        assert_eq!(cache.take_at(b"ticket", now).as_deref(), Some(&b"psk"[..]));
        assert_eq!(cache.take_at(b"ticket", now), None);
        assert_eq!(cache.get_at(b"ticket", now), None);
        assert_eq!(cache.stats().takes, 1);
    }

    #[test]
    fn shared_take_is_single_use_across_instances() {
        let fleet = Arc::new(MemorySharedStore::new(cap(8)));
        let a = SessionCache::new(cap(8)).with_shared(fleet.clone());
        let b = SessionCache::new(cap(8)).with_shared(fleet.clone());
        let now = Instant::now();
        a.put_at(b"ticket".to_vec(), b"psk".to_vec(), now);
        assert_eq!(b.take_at(b"ticket", now).as_deref(), Some(&b"psk"[..]));
        // A still holds its local copy, but must not honour it.
        assert_eq!(a.take_at(b"ticket", now), None);
        assert_eq!(b.take_at(b"ticket", now), None);
        assert_eq!(fleet.stats().takes, 1);
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn concurrent_takes_succeed_once() {
        const INSTANCES: usize = 8;
        let fleet = Arc::new(MemorySharedStore::new(cap(64)));
        let caches: Vec<Arc<SessionCache>> = (0..INSTANCES)
            .map(|_| Arc::new(SessionCache::new(cap(64)).with_shared(fleet.clone())))
            .collect();
        for round in 0..20u8 {
            let key = vec![round; 32];
            caches[usize::from(round) % INSTANCES].put(key.clone(), b"psk".to_vec());
            let barrier = Arc::new(Barrier::new(INSTANCES));
            let winners: usize = caches
                .iter()
                .map(|cache| {
                    let (cache, barrier, key) = (cache.clone(), barrier.clone(), key.clone());
                    thread::spawn(move || {
                        barrier.wait();
                        usize::from(cache.take(&key).is_some())
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .sum();
            assert_eq!(winners, 1, "round {round}");
        }
        assert_eq!(fleet.stats().takes, 20);
    }

    #[test]
    fn shared_get_fills_the_local_tier_and_is_multi_use() {
        let fleet = Arc::new(MemorySharedStore::new(cap(8)));
        let a = SessionCache::new(cap(8)).with_shared(fleet.clone());
        let b = SessionCache::new(cap(8)).with_shared(fleet.clone());
        a.put(b"id".to_vec(), b"state".to_vec());
        assert_eq!(b.get(b"id").as_deref(), Some(&b"state"[..]));
        assert_eq!(b.get(b"id").as_deref(), Some(&b"state"[..]));
        let stats = b.stats();
        assert_eq!((stats.shared_hits, stats.local_hits), (1, 1));
        assert_eq!(fleet.stats().hits, 1);
        assert_eq!(b.len(), 1);
    }

    /// A shared tier that answers every `get` with a fixed entry, or fails.
    #[derive(Debug)]
    struct Fixed {
        ttl: Option<Duration>,
    }

    impl SharedStore for Fixed {
        fn get(&self, _: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
            match self.ttl {
                Some(ttl) => Ok(Some(SharedEntry {
                    value: Zeroizing::new(b"state".to_vec()),
                    ttl,
                })),
                None => Err(SharedStoreError::new("down")),
            }
        }

        fn put(&self, _: &[u8], _: &[u8], _: Duration) -> Result<bool, SharedStoreError> {
            self.ttl
                .map(|_| true)
                .ok_or_else(|| SharedStoreError::new("down"))
        }

        fn take(&self, key: &[u8]) -> Result<Option<SharedEntry>, SharedStoreError> {
            self.get(key)
        }
    }

    #[test]
    fn a_filled_local_copy_lives_no_longer_than_the_shared_entry() {
        let cache = SessionCache::new(cap(8)).with_shared(Arc::new(Fixed {
            ttl: Some(10 * SECOND),
        }));
        let t0 = Instant::now();
        assert!(cache.get_at(b"id", t0).is_some());
        assert_eq!(cache.stats().shared_hits, 1);
        assert!(cache.get_at(b"id", t0 + 9 * SECOND).is_some());
        assert_eq!(cache.stats().local_hits, 1);
        // Expired locally after the shared entry's 10 s, not the cache's 12 h: the next
        // lookup goes to the shared tier again.
        assert!(cache.get_at(b"id", t0 + 10 * SECOND).is_some());
        assert_eq!(cache.stats().shared_hits, 2);
        assert_eq!(cache.stats().expirations, 1);
    }

    #[test]
    fn a_failing_shared_tier_degrades_to_local_and_never_to_a_local_take() {
        let cache = SessionCache::new(cap(8)).with_shared(Arc::new(Fixed { ttl: None }));
        let now = Instant::now();
        assert!(cache.put_at(b"id".to_vec(), b"state".to_vec(), now));
        assert_eq!(cache.get_at(b"id", now).as_deref(), Some(&b"state"[..]));
        assert_eq!(cache.get_at(b"other", now), None);
        // The fleet could not confirm the ticket is unused: no resumption.
        assert_eq!(cache.take_at(b"id", now), None);
        assert_eq!(cache.stats().shared_errors, 3);
        assert_eq!(cache.stats().takes, 0);
    }

    #[test]
    fn prefilled_entries_are_served_locally() {
        let fleet = Arc::new(MemorySharedStore::new(cap(8)));
        let a = SessionCache::new(cap(8)).with_shared(fleet.clone());
        let b = SessionCache::new(cap(8)).with_shared(fleet.clone());
        a.put(b"id".to_vec(), b"state".to_vec());
        b.prefill(b"id", fleet.get(b"id").unwrap().unwrap());
        assert_eq!(b.get(b"id").as_deref(), Some(&b"state"[..]));
        assert_eq!((b.stats().local_hits, b.stats().shared_hits), (1, 0));
        // An unclaimed prefilled copy does not make a take succeed by itself.
        fleet.take(b"id").unwrap();
        assert_eq!(b.take(b"id"), None);
    }

    #[test]
    fn a_claimed_ticket_is_taken_locally_once() {
        let fleet = Arc::new(MemorySharedStore::new(cap(8)));
        let a = SessionCache::new(cap(8)).with_shared(fleet.clone());
        let b = SessionCache::new(cap(8)).with_shared(fleet.clone());
        a.put(b"ticket".to_vec(), b"psk".to_vec());
        // B's prefetcher wins the fleet-wide take ahead of the handshake.
        b.prefill_claimed(b"ticket", fleet.take(b"ticket").unwrap().unwrap());
        assert_eq!(a.take(b"ticket"), None);
        assert_eq!(b.get(b"ticket"), None, "claimed entries are for take only");
        assert_eq!(b.take(b"ticket").as_deref(), Some(&b"psk"[..]));
        assert_eq!(b.take(b"ticket"), None);
        assert_eq!(fleet.stats().takes, 1);
        assert_eq!((b.stats().takes, b.stats().local_hits), (1, 1));
    }

    #[test]
    fn oversized_keys_are_refused() {
        let cache = SessionCache::new(cap(8));
        let key = vec![7; MAX_KEY_LEN + 1];
        assert!(!cache.put(key.clone(), b"state".to_vec()));
        assert_eq!(cache.get(&key), None);
        assert_eq!(cache.len(), 0);
        assert!(cache.put(vec![7; MAX_KEY_LEN], b"state".to_vec()));
    }

    #[test]
    fn shared_store_caps_ttl_and_expires() {
        let store = MemorySharedStore::new(cap(8))
            .with_ttl(10 * SECOND)
            .unwrap();
        let t0 = Instant::now();
        assert!(store.put_at(b"id", b"state", DEFAULT_TTL, t0));
        let entry = store.get_at(b"id", t0 + 4 * SECOND).unwrap();
        assert_eq!(entry.ttl, 6 * SECOND);
        assert!(store.get_at(b"id", t0 + 10 * SECOND).is_none());
        assert!(store.take_at(b"id", t0 + 10 * SECOND).is_none());
        assert_eq!(store.stats().expirations, 1);
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn debug_shows_no_secrets() {
        let fleet = Arc::new(MemorySharedStore::new(cap(8)));
        let cache = SessionCache::new(cap(8)).with_shared(fleet.clone());
        cache.put(b"id".to_vec(), b"SECRETSTATE".to_vec());
        let entry = fleet.get(b"id").unwrap().unwrap();
        for text in [
            format!("{cache:?}"),
            format!("{fleet:?}"),
            format!("{entry:?}"),
        ] {
            assert!(!text.contains("SECRETSTATE"), "{text}");
            assert!(!text.contains("83, 69, 67"), "{text}");
            assert!(text.contains("len"), "{text}");
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put { instance: usize, key: u8 },
        Get { instance: usize, key: u8 },
        Take { instance: usize, key: u8 },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        let target = (0..3usize, 0..4u8);
        prop_oneof![
            target
                .clone()
                .prop_map(|(instance, key)| Op::Put { instance, key }),
            target
                .clone()
                .prop_map(|(instance, key)| Op::Get { instance, key }),
            target.prop_map(|(instance, key)| Op::Take { instance, key }),
        ]
    }

    proptest::proptest! {
        /// Against a model of the fleet: a take succeeds exactly when the key was put and
        /// not taken since, on whichever instance; a get finds every such key.
        #[test]
        fn fleet_takes_match_the_model(ops in proptest::collection::vec(op(), 1..64)) {
            let fleet = Arc::new(MemorySharedStore::new(cap(64)));
            let caches: Vec<SessionCache> = (0..3)
                .map(|_| SessionCache::new(cap(64)).with_shared(fleet.clone()))
                .collect();
            let mut available = [false; 4];
            let mut takes = 0;
            for op in ops {
                match op {
                    Op::Put { instance, key } => {
                        caches[instance].put(vec![key], vec![key, 1]);
                        available[usize::from(key)] = true;
                    }
                    Op::Get { instance, key } => {
                        if available[usize::from(key)] {
                            proptest::prop_assert_eq!(
                                caches[instance].get(&[key]),
                                Some(vec![key, 1])
                            );
                        }
                    }
                    Op::Take { instance, key } => {
                        let taken = caches[instance].take(&[key]);
                        let expected = available[usize::from(key)].then(|| vec![key, 1]);
                        proptest::prop_assert_eq!(taken, expected);
                        if available[usize::from(key)] {
                            takes += 1;
                        }
                        available[usize::from(key)] = false;
                    }
                }
            }
            proptest::prop_assert_eq!(fleet.stats().takes, takes);
        }
    }

    /// A value that records when it is wiped.
    #[derive(Clone)]
    struct Probe {
        bytes: Vec<u8>,
        wipes: Arc<AtomicUsize>,
    }

    impl Probe {
        fn new() -> (Zeroizing<Self>, Arc<AtomicUsize>) {
            let wipes = Arc::new(AtomicUsize::new(0));
            let probe = Self {
                bytes: b"secret".to_vec(),
                wipes: wipes.clone(),
            };
            (Zeroizing::new(probe), wipes)
        }
    }

    impl Zeroize for Probe {
        fn zeroize(&mut self) {
            self.bytes.zeroize();
            self.wipes.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wiped(wipes: &AtomicUsize) -> usize {
        wipes.load(Ordering::SeqCst)
    }

    #[test]
    fn eviction_wipes_the_evicted_value() {
        let mut tier = Tier::new(cap(1));
        let now = Instant::now();
        let later = now + SECOND;
        let (a, a_wipes) = Probe::new();
        let (b, b_wipes) = Probe::new();
        assert_eq!(
            tier.insert(b"a".to_vec(), a, later, now),
            Displaced::Nothing
        );
        assert_eq!(wiped(&a_wipes), 0);
        assert_eq!(
            tier.insert(b"b".to_vec(), b, later, now),
            Displaced::Evicted { expired: false }
        );
        assert_eq!(wiped(&a_wipes), 1);
        assert_eq!(wiped(&b_wipes), 0);
        drop(tier);
        assert_eq!(wiped(&b_wipes), 1);
    }

    #[test]
    fn replacement_and_expiry_wipe_too() {
        let mut tier = Tier::new(cap(4));
        let now = Instant::now();
        let (a, a_wipes) = Probe::new();
        let (a2, a2_wipes) = Probe::new();
        tier.insert(b"a".to_vec(), a, now + SECOND, now);
        assert_eq!(
            tier.insert(b"a".to_vec(), a2, now + SECOND, now),
            Displaced::Replaced
        );
        assert_eq!(wiped(&a_wipes), 1);
        // A hit hands out a copy (wiped by its holder) and keeps the original intact.
        let copy = match tier.get(b"a", now) {
            Lookup::Hit(copy) => copy,
            _ => panic!("expected a hit"),
        };
        drop(copy);
        assert_eq!(wiped(&a2_wipes), 1);
        assert!(matches!(tier.get(b"a", now + SECOND), Lookup::Expired));
        assert_eq!(wiped(&a2_wipes), 2);
        assert_eq!(tier.len(), 0);
    }
}
