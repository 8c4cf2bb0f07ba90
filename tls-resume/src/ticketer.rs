//! Fleet-wide TLS session tickets: [`KeyRingTicketer`], a [`rustls::server::ProducesTickets`]
//! whose keys rotate per epoch and come from a [`KeySource`] every instance agrees on.
//!
//! rustls' own ticketers generate private random keys, so behind a load balancer of N
//! instances only about 1/N of ticket resumptions succeed (see incident 4, LINE's LEGY
//! gateway). Here every instance derives or loads the same key for the same epoch.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use rustls::server::ProducesTickets;
//! use tls_resume::clock::ManualClock;
//! use tls_resume::ticketer::{DerivedKeys, KeyRingTicketer};
//!
//! let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
//! let fleet = Arc::new(DerivedKeys::new([42u8; 32]));
//! // Two instances, each with its own ticketer, sharing only the fleet secret.
//! let a = KeyRingTicketer::builder(fleet.clone()).clock(clock.clone()).build()?;
//! let b = KeyRingTicketer::builder(fleet).clock(clock.clone()).build()?;
//! assert_eq!(a.lifetime(), 12 * 3600);
//!
//! let ticket = a.encrypt(b"session state").unwrap();
//! assert_eq!(b.decrypt(&ticket).as_deref(), Some(&b"session state"[..]));
//!
//! // Twelve hours later the ticket still opens; an epoch after that it does not.
//! clock.advance(Duration::from_secs(12 * 3600));
//! assert!(b.decrypt(&ticket).is_some());
//! clock.advance(Duration::from_secs(3600));
//! assert_eq!(b.decrypt(&ticket), None);
//! assert_eq!(b.stats().decrypt_failures, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Epochs and the window
//!
//! Time is cut into epochs: `epoch = floor(unix_seconds / rotation_period)` (period default
//! 1 h, whole seconds). The current epoch's key encrypts. A ticket is accepted while its
//! epoch lies in `current - past_epochs ..= current + future_epochs`, where
//! `past_epochs = ceil(window / period)` (window default 12 h, so 12) and `future_epochs`
//! defaults to 2. A ticket is thus accepted for at least `window` and less than
//! `(past_epochs + 1) × period` after it was issued (by an instance with the same clock);
//! [`lifetime`](rustls::server::ProducesTickets::lifetime) reports `window`, the
//! guaranteed part, as the hint sent to clients.
//!
//! The ticketer keeps the keys of exactly that range in memory (at most
//! `past_epochs + 1 + future_epochs`), drops older ones (wiping them) when the epoch
//! changes, and asks the [`KeySource`] for missing ones. Because decryption accepts
//! pre-provisioned *future* keys, instances whose clocks differ by less than one period
//! always open each other's tickets: one running behind encrypts with a key still inside
//! the other's past window, one running ahead encrypts with a key the other already holds
//! as a future key.
//!
//! # Ticket format
//!
//! ```text
//! key id (16) ‖ nonce (12) ‖ ChaCha20-Poly1305 ciphertext ‖ tag (16)
//! key id = epoch (8, big-endian) ‖ key name (8)
//! ```
//!
//! The key name is a fingerprint of the key (see [`TicketKey::name`]), so a ticket of
//! another fleet, or one sealed with a key this instance does not know, is rejected
//! without trying to open it. The nonce is random per ticket (`getrandom`); the associated
//! data is the key id, so a ticket cannot be moved to another epoch or key. With random
//! 96-bit nonces, one key should seal far fewer than 2^32 tickets, which one epoch of one
//! fleet never approaches.
//!
//! Tampered, truncated, foreign, expired or garbage tickets make
//! [`decrypt`](rustls::server::ProducesTickets::decrypt) return `None` (rustls then does a
//! full handshake); it never panics. Authentication is constant-time inside the AEAD. No
//! "longer than any ticket we encrypted" check is made (rustls' built-in ticketers do, and
//! it would reject every ticket sealed by another instance).
//!
//! # Key sources
//!
//! - [`DerivedKeys`]: every epoch's key derived from one 32-byte fleet secret. Simple, but
//!   the secret never rotates, so it gives no forward secrecy: whoever steals it can open
//!   every recorded ticket of any epoch.
//! - [`StaticKeys`]: explicit keys labelled with their epochs, loaded from a file (like
//!   nginx's `ssl_session_ticket_key` or HAProxy's `tls-ticket-keys`). Erasing old keys from
//!   the file (and restarting or building a new ticketer) gives forward secrecy.
//! - A networked source (e.g. Redis) implements [`KeySource`] over an in-memory cache that
//!   a background task fills, such as [`KeyCache`]; see the trait's contract.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, KeyInit as _, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::clock::{Clock, SystemClock};

/// Length of a ticket key in bytes (ChaCha20-Poly1305, 256 bits).
pub const KEY_LEN: usize = 32;
/// Length of the key id at the start of every ticket: epoch (8) ‖ key name (8).
pub const KEY_ID_LEN: usize = 16;
/// Length of the key name, a fingerprint of the key.
pub const KEY_NAME_LEN: usize = 8;
/// Length of the per-ticket random nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// The shortest possible ticket (empty plaintext).
pub const MIN_TICKET_LEN: usize = KEY_ID_LEN + NONCE_LEN + TAG_LEN;
/// The longest ticket accepted: a TLS ticket is at most 2^16 - 1 bytes on the wire.
pub const MAX_TICKET_LEN: usize = u16::MAX as usize;
/// Number of buckets in [`TicketStats::opened_by_age`]; the last counts all older ages.
pub const AGE_BUCKETS: usize = 16;
/// Longest acceptance window allowed: RFC 8446 §4.6.1 caps ticket lifetimes at 7 days.
pub const MAX_WINDOW: Duration = Duration::from_secs(604_800);
/// Largest number of pre-provisioned future epochs.
pub const MAX_FUTURE_EPOCHS: u64 = 16;

/// How long the ticketer waits before asking the key source again for keys it lacked.
const RETRY_MISSING: Duration = Duration::from_secs(1);
/// PRF labels, separating the two uses of a key.
const DERIVE_PREFIX: &[u8; 4] = b"tkey";
const NAME_PREFIX: &[u8; 4] = b"name";

/// `HMAC-SHA256(key, "tls-resume " ‖ label ‖ input as u64 big-endian ‖ 0x01)`: one block of
/// HKDF-Expand (RFC 5869) with the label and input as `info`, the standard way to derive
/// independent keys from one secret.
fn prf(key: &[u8; KEY_LEN], prefix: &[u8; 4], input: u64) -> Zeroizing<[u8; KEY_LEN]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"tls-resume ");
    mac.update(prefix);
    mac.update(&input.to_be_bytes());
    mac.update(&[1]);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// One ticket key: 32 secret bytes and their public 8-byte name. Wiped when dropped;
/// `Debug` shows only the name.
#[derive(Clone)]
pub struct TicketKey {
    secret: Zeroizing<[u8; KEY_LEN]>,
    name: [u8; KEY_NAME_LEN],
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKey")
            .field("name", &Hex(&self.name))
            .finish_non_exhaustive()
    }
}

impl TicketKey {
    /// A key from 32 secret bytes, which must come from a CSPRNG or a KDF. The array is
    /// moved in by copy: wipe the caller's copy (e.g. keep it in `Zeroizing`).
    pub fn new(secret: [u8; KEY_LEN]) -> Self {
        Self::from_zeroizing(Zeroizing::new(secret))
    }

    /// Takes the secret without copying it out of its wiped-on-drop box.
    fn from_zeroizing(secret: Zeroizing<[u8; KEY_LEN]>) -> Self {
        let name_bytes = prf(&secret, NAME_PREFIX, 0);
        let mut name = [0u8; KEY_NAME_LEN];
        name.copy_from_slice(&name_bytes[..KEY_NAME_LEN]);
        Self { secret, name }
    }

    /// A key from a slice; `None` unless it is exactly [`KEY_LEN`] bytes.
    pub fn from_slice(secret: &[u8]) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if secret.len() != KEY_LEN {
            return None;
        }
        bytes.copy_from_slice(secret);
        Some(Self::from_zeroizing(bytes))
    }

    /// A fresh random key.
    ///
    /// # Errors
    ///
    /// When the operating system's random number generator fails.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut bytes[..])?;
        Ok(Self::from_zeroizing(bytes))
    }

    /// The key's public name: the first 8 bytes of a PRF of the key (label `"name"`). It
    /// reveals nothing about the key, and two different keys have different names except
    /// with probability 2^-64.
    pub fn name(&self) -> [u8; KEY_NAME_LEN] {
        self.name
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.secret[..]))
    }
}

/// Where a [`KeyRingTicketer`] gets the key of each epoch.
///
/// # Contract (security obligations)
///
/// - **Fleet-wide agreement:** every instance must get the same key for the same epoch,
///   or tickets fail over to full handshakes (they never open under a wrong key: the key
///   name and the AEAD tag both reject them).
/// - **Secret and unpredictable keys:** 256 bits from a CSPRNG or from a KDF over such a
///   secret. Whoever holds a key can read every session sealed under it, including its
///   master secret.
/// - **Never block:** `key` is called inside the TLS handshake, with the ticketer's key
///   ring locked. A networked source (Redis, a KMS) must answer from an in-memory cache
///   that a background task fills; returning `None` for a key not yet fetched is fine —
///   the ticketer asks again about once a second and on [`KeyRingTicketer::refresh`].
/// - **Provision ahead:** keys of at least the next `future_epochs` epochs (default 2)
///   must be available before those epochs begin, so that no instance ever meets a ticket
///   sealed with a key it does not hold yet, even when clocks differ.
/// - **Erase behind:** forward secrecy comes from forgetting keys. The ticketer drops and
///   wipes keys older than its window; a source should do the same with its copies.
pub trait KeySource: fmt::Debug + Send + Sync + 'static {
    /// The key of `epoch`, or `None` when this source does not have it (yet or any more).
    fn key(&self, epoch: u64) -> Option<TicketKey>;
}

impl<K: KeySource + ?Sized> KeySource for Arc<K> {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        (**self).key(epoch)
    }
}

impl<K: KeySource + ?Sized> KeySource for Box<K> {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        (**self).key(epoch)
    }
}

/// Every epoch's key derived from one 32-byte fleet secret with HKDF-Expand-SHA256:
/// `key(epoch) = HMAC-SHA256(secret, "tls-resume tkey" ‖ epoch as u64 big-endian ‖ 0x01)`.
///
/// The secret itself never rotates, so there is **no forward secrecy**: anyone who learns
/// it can derive every epoch's key. Use [`StaticKeys`] or a networked source with random
/// keys where that matters.
pub struct DerivedKeys {
    secret: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKeys").finish_non_exhaustive()
    }
}

impl DerivedKeys {
    /// Keys derived from `secret` (32 bytes from a CSPRNG, e.g. `openssl rand 32`). Wipe the
    /// caller's copy.
    pub fn new(secret: [u8; KEY_LEN]) -> Self {
        Self {
            secret: Zeroizing::new(secret),
        }
    }

    /// Keys derived from a slice; `None` unless it is exactly [`KEY_LEN`] bytes.
    pub fn from_slice(secret: &[u8]) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if secret.len() != KEY_LEN {
            return None;
        }
        bytes.copy_from_slice(secret);
        Some(Self { secret: bytes })
    }
}

impl KeySource for DerivedKeys {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        Some(TicketKey::from_zeroizing(prf(
            &self.secret,
            DERIVE_PREFIX,
            epoch,
        )))
    }
}

/// Keys put in by hand or by a background task: the in-memory cache a networked source
/// (Redis, a KMS) fills asynchronously and the ticketer reads synchronously.
///
/// Share it in an `Arc` between the fetcher and the ticketer; after inserting new keys,
/// the ticketer picks them up within a second of use or at once on
/// [`KeyRingTicketer::refresh`]. Drop keys older than the window with
/// [`retain_from`](Self::retain_from) (they are wiped).
///
/// ```
/// use std::sync::Arc;
/// use tls_resume::ticketer::{KeyCache, KeySource, TicketKey};
///
/// let cache = Arc::new(KeyCache::default());
/// cache.insert(10, TicketKey::generate()?);
/// cache.insert(11, TicketKey::generate()?);
/// cache.retain_from(11);
/// assert!(cache.key(10).is_none());
/// assert_eq!(cache.len(), 1);
/// # Ok::<(), getrandom::Error>(())
/// ```
#[derive(Default)]
pub struct KeyCache {
    keys: std::sync::Mutex<BTreeMap<u64, TicketKey>>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("KeyCache")
            .field("epochs", &keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeyCache {
    /// Stores the key of `epoch`, replacing (and wiping) any previous one.
    pub fn insert(&self, epoch: u64, key: TicketKey) {
        self.lock().insert(epoch, key);
    }

    /// Drops (and wipes) every key of an epoch before `oldest`.
    pub fn retain_from(&self, oldest: u64) {
        self.lock().retain(|&epoch, _| epoch >= oldest);
    }

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, TicketKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl KeySource for KeyCache {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        self.lock().get(&epoch).cloned()
    }
}

/// Why a key file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the ticket key file")]
    Io(#[from] std::io::Error),
    /// A line is not `<epoch> <64 hex digits>` (the line's content is not echoed: it may
    /// hold key material).
    #[error("ticket key file line {line}: expected `<epoch> <64 hex digits>`")]
    Malformed {
        /// The 1-based line number.
        line: usize,
    },
    /// Two lines name the same epoch.
    #[error("ticket key file line {line}: epoch {epoch} appears twice")]
    DuplicateEpoch {
        /// The 1-based line number of the second occurrence.
        line: usize,
        /// The repeated epoch.
        epoch: u64,
    },
    /// The file holds no key.
    #[error("ticket key file holds no key")]
    Empty,
}

/// Explicit keys, each labelled with the epoch it belongs to.
///
/// The text format is one key per line, `<epoch> <key as 64 hex digits>`; blank lines and
/// lines starting with `#` are ignored:
///
/// ```text
/// # epoch = floor(unix_seconds / 3600) for the default 1 h rotation period
/// 472222 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
/// 472223 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
/// ```
///
/// This adapts nginx's `ssl_session_ticket_key` ("the first key encrypts, the others
/// decrypt") to epochs: the key of the current epoch encrypts, keys of past epochs inside
/// the window decrypt, and keys of the next epochs are pre-provisioned (list at least two).
/// Rotate by rewriting the file (add future epochs, remove expired ones) on every instance
/// and loading it into a new ticketer; the file is secret, keep it on tmpfs.
///
/// ```
/// use tls_resume::ticketer::{KeySource, StaticKeys};
///
/// let keys = StaticKeys::parse(&format!("# comment\n7 {}\n8 {}\n", "ab".repeat(32), "cd".repeat(32)))?;
/// assert!(keys.key(7).is_some());
/// assert!(keys.key(9).is_none());
/// # Ok::<(), tls_resume::ticketer::KeyFileError>(())
/// ```
pub struct StaticKeys {
    keys: BTreeMap<u64, TicketKey>,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticKeys")
            .field("epochs", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl StaticKeys {
    /// Keys given explicitly as `(epoch, key)` pairs; a later pair for the same epoch wins.
    pub fn new(keys: impl IntoIterator<Item = (u64, TicketKey)>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
        }
    }

    /// Parses the text format described on the type.
    ///
    /// # Errors
    ///
    /// A malformed line, a repeated epoch, or no key at all.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let mut keys = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let mut fields = content.split_whitespace();
            let (Some(epoch), Some(hex), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(KeyFileError::Malformed { line });
            };
            let epoch: u64 = epoch
                .parse()
                .map_err(|_| KeyFileError::Malformed { line })?;
            let key = decode_hex_key(hex).ok_or(KeyFileError::Malformed { line })?;
            if keys.insert(epoch, key).is_some() {
                return Err(KeyFileError::DuplicateEpoch { line, epoch });
            }
        }
        if keys.is_empty() {
            return Err(KeyFileError::Empty);
        }
        Ok(Self { keys })
    }

    /// Reads and parses a key file (the text is wiped from memory afterwards).
    ///
    /// # Errors
    ///
    /// When the file cannot be read, or as [`parse`](Self::parse).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, KeyFileError> {
        let text = Zeroizing::new(std::fs::read_to_string(path)?);
        Self::parse(&text)
    }

    /// The epochs this source has keys for, ascending.
    pub fn epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.keys().copied()
    }
}

impl KeySource for StaticKeys {
    fn key(&self, epoch: u64) -> Option<TicketKey> {
        self.keys.get(&epoch).cloned()
    }
}

fn decode_hex_key(hex: &str) -> Option<TicketKey> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * KEY_LEN {
        return None;
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(TicketKey::from_zeroizing(bytes))
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

struct Hex<'a>(&'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Why a [`KeyRingTicketer`] configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The rotation period is shorter than one second (it has whole-second resolution).
    #[error("the rotation period must be at least one second")]
    PeriodTooShort,
    /// The window is zero or longer than 7 days (RFC 8446 §4.6.1).
    #[error("the ticket window must be between 1 second and 7 days")]
    InvalidWindow,
    /// `future_epochs` is 0 or above [`MAX_FUTURE_EPOCHS`].
    #[error("future_epochs must be between 1 and {MAX_FUTURE_EPOCHS}")]
    InvalidFutureEpochs,
}

/// Configures a [`KeyRingTicketer`]; see the [module docs](self).
#[must_use]
pub struct KeyRingBuilder {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    period: Duration,
    window: Duration,
    future_epochs: u64,
}

impl fmt::Debug for KeyRingBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRingBuilder")
            .field("source", &self.source)
            .field("period", &self.period)
            .field("window", &self.window)
            .field("future_epochs", &self.future_epochs)
            .finish_non_exhaustive()
    }
}

impl KeyRingBuilder {
    /// The rotation period (default 1 h; whole seconds, the fraction is ignored). All
    /// instances of a fleet must use the same period.
    pub fn rotation_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// How long after issue a ticket is guaranteed to open (default 12 h, at most 7 days,
    /// whole seconds). The ring keeps `ceil(window / period)` past epochs; `lifetime()`
    /// reports the window itself.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How many future epochs' keys are held and accepted (default 2, between 1 and
    /// [`MAX_FUTURE_EPOCHS`]).
    pub fn future_epochs(mut self, epochs: u64) -> Self {
        self.future_epochs = epochs;
        self
    }

    /// The clock (default [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the ticketer and fetches its first keys from the source.
    ///
    /// # Errors
    ///
    /// When the period, window or number of future epochs is out of range.
    pub fn build(self) -> Result<KeyRingTicketer, ConfigError> {
        let period = self.period.as_secs();
        if period == 0 {
            return Err(ConfigError::PeriodTooShort);
        }
        if self.window.is_zero() || self.window > MAX_WINDOW {
            return Err(ConfigError::InvalidWindow);
        }
        if !(1..=MAX_FUTURE_EPOCHS).contains(&self.future_epochs) {
            return Err(ConfigError::InvalidFutureEpochs);
        }
        let window = self.window.as_secs().max(1);
        let ticketer = KeyRingTicketer {
            source: self.source,
            clock: self.clock,
            period,
            past_epochs: window.div_ceil(period),
            future_epochs: self.future_epochs,
            lifetime: u32::try_from(window).unwrap_or(u32::MAX),
            ring: RwLock::new(Ring::default()),
            counters: Counters::default(),
        };
        ticketer.refresh();
        Ok(ticketer)
    }
}

/// A [`ProducesTickets`](rustls::server::ProducesTickets) with per-epoch keys shared by a
/// fleet; see the [module docs](self).
///
/// Set it as `ServerConfig::ticketer` (an `Arc<dyn ProducesTickets>`) on every instance.
/// rustls then uses tickets for TLS 1.3 resumption (instead of its session store) and, for
/// clients that ask for them, for TLS 1.2.
pub struct KeyRingTicketer {
    source: Arc<dyn KeySource>,
    clock: Arc<dyn Clock>,
    period: u64,
    past_epochs: u64,
    future_epochs: u64,
    lifetime: u32,
    ring: RwLock<Ring>,
    counters: Counters,
}

impl fmt::Debug for KeyRingTicketer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRingTicketer")
            .field("source", &self.source)
            .field("period_secs", &self.period)
            .field("past_epochs", &self.past_epochs)
            .field("future_epochs", &self.future_epochs)
            .field("held_epochs", &self.held_epochs())
            .finish_non_exhaustive()
    }
}

/// The in-memory keys: epoch → key for `current - past ..= current + future`.
#[derive(Default)]
struct Ring {
    epoch: Option<u64>,
    keys: BTreeMap<u64, Arc<TicketKey>>,
    complete: bool,
    refreshed_at: Duration,
}

impl Ring {
    fn needs_refresh(&self, current: u64, now: Duration) -> bool {
        self.epoch != Some(current)
            || (!self.complete && now.saturating_sub(self.refreshed_at) >= RETRY_MISSING)
    }
}

#[derive(Default)]
struct Counters {
    issued: AtomicU64,
    encrypt_failures: AtomicU64,
    opened_by_age: [AtomicU64; AGE_BUCKETS],
    opened_future: AtomicU64,
    decrypt_failures: AtomicU64,
    key_misses: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A snapshot of a [`KeyRingTicketer`]'s counters, from [`KeyRingTicketer::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TicketStats {
    /// Tickets sealed.
    pub issued: u64,
    /// `encrypt` calls that produced no ticket (no key for the current epoch, or the
    /// random number generator failed).
    pub encrypt_failures: u64,
    /// Tickets opened, by the age of their epoch: index 0 is the current epoch, 1 the one
    /// before, …; the last bucket also counts all older ones.
    pub opened_by_age: [u64; AGE_BUCKETS],
    /// Tickets opened with a pre-provisioned future key (the issuing instance's clock ran
    /// ahead of ours).
    pub opened_future: u64,
    /// Tickets refused: malformed, expired, foreign, unknown key or failed authentication.
    pub decrypt_failures: u64,
    /// Times the key source had no key for an epoch inside the window.
    pub key_misses: u64,
}

impl TicketStats {
    /// All tickets opened, whatever their age.
    pub fn opened(&self) -> u64 {
        self.opened_by_age.iter().sum::<u64>() + self.opened_future
    }
}

impl KeyRingTicketer {
    /// Starts configuring a ticketer over `source`, with the defaults: 1 h rotation period,
    /// 12 h window, 2 future epochs, the system clock.
    pub fn builder(source: impl KeySource) -> KeyRingBuilder {
        KeyRingBuilder {
            source: Arc::new(source),
            clock: Arc::new(SystemClock),
            period: Duration::from_secs(3600),
            window: Duration::from_secs(12 * 3600),
            future_epochs: 2,
        }
    }

    /// The epoch `now` (since the Unix epoch) falls in.
    pub fn epoch_at(&self, now: Duration) -> u64 {
        now.as_secs() / self.period
    }

    /// Drops keys outside the window and asks the source again for every missing one. It
    /// also happens by itself when the epoch changes and, for missing keys, at most once a
    /// second on use; call it after a background task has fetched new keys.
    pub fn refresh(&self) {
        let now = self.clock.now();
        let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
        self.refill(&mut ring, now);
    }

    /// The epochs whose keys are held in memory, ascending.
    pub fn held_epochs(&self) -> Vec<u64> {
        let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
        ring.keys.keys().copied().collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TicketStats {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TicketStats {
            issued: load(&c.issued),
            encrypt_failures: load(&c.encrypt_failures),
            opened_by_age: std::array::from_fn(|i| load(&c.opened_by_age[i])),
            opened_future: load(&c.opened_future),
            decrypt_failures: load(&c.decrypt_failures),
            key_misses: load(&c.key_misses),
        }
    }

    fn refill(&self, ring: &mut Ring, now: Duration) {
        let current = self.epoch_at(now);
        let lowest = current.saturating_sub(self.past_epochs);
        let highest = current.saturating_add(self.future_epochs);
        // Dropping the last `Arc` wipes the key.
        ring.keys.retain(|&e, _| (lowest..=highest).contains(&e));
        let mut complete = true;
        for epoch in lowest..=highest {
            if ring.keys.contains_key(&epoch) {
                continue;
            }
            match self.source.key(epoch) {
                Some(key) => {
                    ring.keys.insert(epoch, Arc::new(key));
                }
                None => {
                    complete = false;
                    bump(&self.counters.key_misses);
                    // Past epochs are often simply absent (a new fleet, a source that never
                    // creates past keys): worth a warning only for the keys that seal or
                    // will seal tickets.
                    if epoch >= current {
                        tracing::warn!(epoch, current, "ticket key source has no key for epoch");
                    } else {
                        tracing::debug!(
                            epoch,
                            current,
                            "ticket key source has no key for a past epoch"
                        );
                    }
                }
            }
        }
        ring.epoch = Some(current);
        ring.complete = complete;
        ring.refreshed_at = now;
    }

    /// The ring, refreshed if the epoch changed (or missing keys are due for a retry).
    fn ring_at(&self, now: Duration) -> RwLockReadGuard<'_, Ring> {
        let current = self.epoch_at(now);
        {
            let ring = self.ring.read().unwrap_or_else(PoisonError::into_inner);
            if !ring.needs_refresh(current, now) {
                return ring;
            }
        }
        {
            let mut ring = self.ring.write().unwrap_or_else(PoisonError::into_inner);
            // Another thread may have refreshed while we waited for the lock.
            if ring.needs_refresh(current, now) {
                self.refill(&mut ring, now);
            }
        }
        self.ring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn key_for(&self, epoch: u64, now: Duration) -> Option<Arc<TicketKey>> {
        self.ring_at(now).keys.get(&epoch).cloned()
    }

    fn encrypt_at(&self, plain: &[u8], now: Duration) -> Option<Vec<u8>> {
        let ticket = self.seal(plain, now);
        match ticket {
            Some(_) => bump(&self.counters.issued),
            None => bump(&self.counters.encrypt_failures),
        }
        ticket
    }

    fn seal(&self, plain: &[u8], now: Duration) -> Option<Vec<u8>> {
        let epoch = self.epoch_at(now);
        let key = self.key_for(epoch, now)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).ok()?;
        let id = key_id(epoch, &key.name);
        let sealed = key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &id,
                },
            )
            .ok()?;
        let mut ticket = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len());
        ticket.extend_from_slice(&id);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(&sealed);
        (ticket.len() <= MAX_TICKET_LEN).then_some(ticket)
    }

    fn decrypt_at(&self, ticket: &[u8], now: Duration) -> Option<Vec<u8>> {
        let opened = self.open(ticket, now);
        match opened {
            Some((_, age)) => match age {
                Age::Past(age) => {
                    let bucket = usize::try_from(age).unwrap_or(usize::MAX);
                    bump(&self.counters.opened_by_age[bucket.min(AGE_BUCKETS - 1)]);
                }
                Age::Future => bump(&self.counters.opened_future),
            },
            None => bump(&self.counters.decrypt_failures),
        }
        opened.map(|(plain, _)| plain)
    }

    fn open(&self, ticket: &[u8], now: Duration) -> Option<(Vec<u8>, Age)> {
        if !(MIN_TICKET_LEN..=MAX_TICKET_LEN).contains(&ticket.len()) {
            return None;
        }
        let (id, rest) = ticket.split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let (epoch, name) = id.split_at(8);
        let epoch = u64::from_be_bytes(epoch.try_into().ok()?);
        let current = self.epoch_at(now);
        // Defence in depth: the ring holds no key outside this range anyway (expiry is by
        // key erasure, as `ProducesTickets` requires), but refuse before touching it.
        let age = if epoch <= current {
            let age = current - epoch;
            if age > self.past_epochs {
                return None;
            }
            Age::Past(age)
        } else {
            if epoch - current > self.future_epochs {
                return None;
            }
            Age::Future
        };
        let key = self.key_for(epoch, now)?;
        // The name is public (it is in every ticket), so a plain comparison leaks nothing.
        if key.name[..] != *name {
            return None;
        }
        let plain = key
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: id,
                },
            )
            .ok()?;
        Some((plain, age))
    }
}

#[derive(Clone, Copy)]
enum Age {
    Past(u64),
    Future,
}

fn key_id(epoch: u64, name: &[u8; KEY_NAME_LEN]) -> [u8; KEY_ID_LEN] {
    let mut id = [0u8; KEY_ID_LEN];
    id[..8].copy_from_slice(&epoch.to_be_bytes());
    id[8..].copy_from_slice(name);
    id
}

impl rustls::server::ProducesTickets for KeyRingTicketer {
    fn enabled(&self) -> bool {
        true
    }

    /// The window in seconds: a ticket is guaranteed to open for this long after issue
    /// (and opens for at most one rotation period more).
    fn lifetime(&self) -> u32 {
        self.lifetime
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.encrypt_at(plain, self.clock.now())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.decrypt_at(cipher, self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const START: Duration = Duration::from_secs(472_222 * 3600);

    fn ring(clock: &ManualClock) -> KeyRingTicketer {
        KeyRingTicketer::builder(DerivedKeys::new([1; 32]))
            .clock(clock.clone())
            .build()
            .unwrap()
    }

    #[test]
    fn derivation_is_deterministic_and_separated_per_epoch_and_secret() {
        let a = DerivedKeys::new([1; 32]);
        assert_eq!(a.key(5).unwrap().name(), a.key(5).unwrap().name());
        assert_eq!(*a.key(5).unwrap().secret, *a.key(5).unwrap().secret);
        assert_ne!(*a.key(5).unwrap().secret, *a.key(6).unwrap().secret);
        let b = DerivedKeys::new([2; 32]);
        assert_ne!(*a.key(5).unwrap().secret, *b.key(5).unwrap().secret);
        // The derived key is not the secret.
        assert_ne!(*a.key(5).unwrap().secret, [1; 32]);
        assert!(DerivedKeys::from_slice(&[0; 31]).is_none());
        assert!(TicketKey::from_slice(&[0; 33]).is_none());
    }

    #[test]
    fn ticket_layout_is_key_id_nonce_ciphertext_tag() {
        let clock = ManualClock::new(START);
        let t = ring(&clock);
        let ticket = t.encrypt_at(b"abc", START).unwrap();
        assert_eq!(ticket.len(), KEY_ID_LEN + NONCE_LEN + 3 + TAG_LEN);
        let epoch = t.epoch_at(START);
        assert_eq!(ticket[..8], epoch.to_be_bytes());
        let key = DerivedKeys::new([1; 32]).key(epoch).unwrap();
        assert_eq!(ticket[8..16], key.name());
        // Fresh nonce per ticket.
        let again = t.encrypt_at(b"abc", START).unwrap();
        assert_ne!(ticket[16..28], again[16..28]);
    }

    #[test]
    fn hex_keys_decode_case_insensitively() {
        let lower = decode_hex_key(&"0a".repeat(32)).unwrap();
        let upper = decode_hex_key(&"0A".repeat(32)).unwrap();
        assert_eq!(*lower.secret, [10; 32]);
        assert_eq!(lower.name(), upper.name());
        assert!(decode_hex_key(&"0g".repeat(32)).is_none());
        assert!(decode_hex_key("é").is_none());
    }

    #[test]
    fn missing_keys_are_retried_about_once_a_second() {
        #[derive(Debug)]
        struct Counting(AtomicU64);
        impl KeySource for Counting {
            fn key(&self, _: u64) -> Option<TicketKey> {
                self.0.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
        let clock = ManualClock::new(START);
        let source = Arc::new(Counting(AtomicU64::new(0)));
        let t = KeyRingTicketer::builder(source.clone())
            .clock(clock.clone())
            .build()
            .unwrap();
        let per_refresh = 12 + 1 + 2;
        assert_eq!(source.0.load(Ordering::Relaxed), per_refresh);
        assert!(t.encrypt_at(b"x", START).is_none());
        assert_eq!(source.0.load(Ordering::Relaxed), per_refresh);
        let later = START + Duration::from_secs(1);
        assert!(t.encrypt_at(b"x", later).is_none());
        assert_eq!(source.0.load(Ordering::Relaxed), 2 * per_refresh);
        assert_eq!(t.stats().key_misses, 2 * per_refresh);
    }

    #[test]
    fn invalid_configs_are_refused() {
        let build = |b: KeyRingBuilder| b.build().map(|_| ()).unwrap_err();
        let source = || KeyRingTicketer::builder(DerivedKeys::new([1; 32]));
        assert_eq!(
            build(source().rotation_period(Duration::from_millis(999))),
            ConfigError::PeriodTooShort
        );
        assert_eq!(
            build(source().window(Duration::ZERO)),
            ConfigError::InvalidWindow
        );
        assert_eq!(
            build(source().future_epochs(0)),
            ConfigError::InvalidFutureEpochs
        );
        assert_eq!(
            build(source().future_epochs(MAX_FUTURE_EPOCHS + 1)),
            ConfigError::InvalidFutureEpochs
        );
    }

    #[test]
    fn window_rounds_up_to_whole_periods() {
        let clock = ManualClock::new(START);
        let t = KeyRingTicketer::builder(DerivedKeys::new([1; 32]))
            .rotation_period(Duration::from_secs(3600))
            .window(Duration::from_secs(5400))
            .clock(clock)
            .build()
            .unwrap();
        assert_eq!(t.past_epochs, 2);
        assert_eq!(rustls::server::ProducesTickets::lifetime(&t), 5400);
        let ticket = t.encrypt_at(b"x", START).unwrap();
        assert!(
            t.decrypt_at(&ticket, START + Duration::from_secs(5400))
                .is_some()
        );
        assert!(
            t.decrypt_at(&ticket, START + Duration::from_secs(3 * 3600))
                .is_none()
        );
    }
}
