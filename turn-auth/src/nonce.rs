//! Stateless nonces: expiring, bound to the client's transport address, verifiable by every
//! instance that shares the secrets.
//!
//! A nonce is 45 ASCII characters:
//!
//! ```text
//! obMatJos2 FFFF BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB
//! │         │    └ base64 of: key id (1 byte) ‖ issue time, ms since the epoch (7) ‖ MAC (16)
//! │         └ base64 of the 24 security-feature bits (RFC 8489 §9.2)
//! └ the RFC 8489 nonce cookie
//! ```
//!
//! The MAC is HMAC-SHA1, truncated to 128 bits, under a key derived from the secret named by
//! the key id, over
//! the key id, the feature bits, the issue time, the client's IP address and port, and the
//! realm. No table is kept: a server answers any number of clients with constant memory,
//! a nonce captured from one address is worthless from another, and after a restart or on
//! another instance configured with the same secrets, every nonce still verifies.
//!
//! ```
//! use std::time::Duration;
//! use turn_auth::nonce::{NonceManager, NonceSecret, SecurityFeatures};
//!
//! let manager = NonceManager::new(NonceSecret::new(1, [7u8; 32])?);
//! let client = "192.0.2.10:50000".parse()?;
//! let now = Duration::from_secs(1_700_000_000);
//! let nonce = manager.mint(client, "example.org", SecurityFeatures::NONE, now);
//! assert!(nonce.as_str().starts_with("obMatJos2AAAA"));
//!
//! let issued = manager.verify(nonce.as_bytes(), client, "example.org", now).unwrap();
//! assert_eq!(issued.age(now + Duration::from_secs(30)), Duration::from_secs(30));
//! // Replayed from another address: refused.
//! assert!(manager.verify(nonce.as_bytes(), "198.51.100.7:50000".parse()?, "example.org", now).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rotation
//!
//! [`NonceManager::rotate`] makes a new secret current and keeps the old one for
//! verification, so nonces issued just before a rotation stay valid. Give every instance
//! of a fleet the same current and previous secrets (with the same key ids) and they accept
//! each other's nonces.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use arc_swap::ArcSwap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

/// The RFC 8489 nonce cookie every nonce starts with.
pub const NONCE_COOKIE: &str = "obMatJos2";

/// The length of every nonce this module issues.
pub const NONCE_LEN: usize = 45;

/// How far in the future an issue time may lie (another instance's clock running ahead)
/// before the nonce is refused.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5);

/// The shortest secret accepted.
pub const MIN_SECRET_LEN: usize = 16;

const COOKIE_LEN: usize = NONCE_COOKIE.len();
const FEATURES_B64: usize = 4;
const BODY_LEN: usize = 24;
const MAC_LEN: usize = 16;
const TIME_LEN: usize = 7;
/// Separates this MAC's key from any other use of the same secret.
const DOMAIN: &[u8] = b"turn-auth nonce v1";

/// The RFC 8489 security-feature bits a nonce advertises.
///
/// Bits are numbered from the most significant, as RFC 8489 §18.1 describes them and as
/// RFC 8656's example nonce (`obMatJos2gAAA…`) encodes "password algorithms". (RFC 8489's
/// own test vector B.1 numbers them from the least significant bit; implementations
/// disagree, which is why a server advertises no features unless configured to.)
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecurityFeatures(u32);

impl SecurityFeatures {
    /// No features: clients use MD5 keys and HMAC-SHA1 integrity, as with RFC 5389.
    pub const NONE: Self = Self(0);
    /// The server supports PASSWORD-ALGORITHMS (here: MD5 and SHA-256).
    pub const PASSWORD_ALGORITHMS: Self = Self(1 << 23);
    /// The server accepts USERHASH instead of USERNAME.
    pub const USERNAME_ANONYMITY: Self = Self(1 << 22);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    fn to_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.0.to_be_bytes();
        [a, b, c]
    }

    fn from_bytes([a, b, c]: [u8; 3]) -> Self {
        Self(u32::from_be_bytes([0, a, b, c]))
    }
}

impl fmt::Debug for SecurityFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        if self.contains(Self::PASSWORD_ALGORITHMS) {
            set.entry(&"PASSWORD_ALGORITHMS");
        }
        if self.contains(Self::USERNAME_ANONYMITY) {
            set.entry(&"USERNAME_ANONYMITY");
        }
        set.finish()
    }
}

/// Why a nonce secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("a nonce secret must be at least {MIN_SECRET_LEN} bytes, got {len}")]
    TooShort {
        /// The length given.
        len: usize,
    },
    /// The current and previous secrets have the same key id, so a nonce could not say
    /// which one made it.
    #[error("the current and previous nonce secrets both have key id {id}")]
    DuplicateId {
        /// The shared id.
        id: u8,
    },
    /// The operating system's random source failed.
    #[error("could not read random bytes for a nonce secret: {0}")]
    Random(String),
}

/// A server secret for nonce MACs, with the id that nonces carry to name it.
///
/// The bytes are wiped when dropped and never printed.
pub struct NonceSecret {
    id: u8,
    key: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for NonceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceSecret")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl NonceSecret {
    /// A secret with key id `id` (any byte; distinct from the secret it overlaps with).
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] under [`MIN_SECRET_LEN`] bytes.
    pub fn new(id: u8, key: impl Into<Vec<u8>>) -> Result<Self, SecretError> {
        let key = Zeroizing::new(key.into());
        if key.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort { len: key.len() });
        }
        Ok(Self { id, key })
    }

    /// 32 random bytes from the operating system: for a single instance, or the one that
    /// generates a fleet's next secret.
    ///
    /// # Errors
    ///
    /// [`SecretError::Random`] if the operating system's random source fails.
    pub fn generate(id: u8) -> Result<Self, SecretError> {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        getrandom::fill(&mut key).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Self { id, key })
    }

    /// The key id nonces carry.
    pub fn id(&self) -> u8 {
        self.id
    }

    fn keyed(&self) -> KeyedSecret {
        // The MAC key is derived from the secret once, with a label (domain separation at
        // no per-request cost), so the per-nonce input fits one hash block. HMAC-SHA1 is
        // the MAC STUN itself uses, and a sound PRF (SHA-1's collisions do not carry over
        // to HMAC); here it costs two compressions per nonce.
        let mut derive = Hmac::<Sha1>::new_from_slice(&self.key).expect("HMAC takes any key");
        derive.update(DOMAIN);
        let mut mac_key = Zeroizing::new([0u8; 20]);
        mac_key.copy_from_slice(&derive.finalize().into_bytes());
        let mac = Hmac::<Sha1>::new_from_slice(&*mac_key).expect("HMAC takes any key");
        KeyedSecret { id: self.id, mac }
    }
}

/// A secret's nonce-MAC state, keyed (wiped on drop by the RustCrypto `zeroize` feature).
#[derive(Clone)]
struct KeyedSecret {
    id: u8,
    mac: Hmac<Sha1>,
}

struct KeyRing {
    current: KeyedSecret,
    previous: Option<KeyedSecret>,
}

impl KeyRing {
    fn by_id(&self, id: u8) -> Option<&KeyedSecret> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == id)
    }
}

/// Issues and verifies stateless nonces. See the [module docs](self).
///
/// The key ring is read on every request from every thread and written only on rotation,
/// so it lives in an [`ArcSwap`]: readers take no lock and share no written cache line.
pub struct NonceManager {
    ring: ArcSwap<KeyRing>,
    /// Serialises rotations (read-modify-write of the ring).
    rotating: Mutex<()>,
}

impl fmt::Debug for NonceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ring = self.ring.load();
        f.debug_struct("NonceManager")
            .field("current_id", &ring.current.id)
            .field("previous_id", &ring.previous.as_ref().map(|k| k.id))
            .finish_non_exhaustive()
    }
}

/// A nonce as sent in a NONCE attribute: 45 ASCII bytes, on the stack.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce {
    bytes: [u8; NONCE_LEN],
}

impl Nonce {
    /// The nonce's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The nonce as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("nonces are ASCII")
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.as_str())
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verified nonce says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedNonce {
    /// When it was issued, since the epoch (millisecond resolution).
    pub issued_at: Duration,
    /// The security features it advertised.
    pub features: SecurityFeatures,
    /// The id of the secret that made it.
    pub key_id: u8,
}

impl IssuedNonce {
    /// How long ago it was issued (zero if `now` is earlier).
    pub fn age(&self, now: Duration) -> Duration {
        now.saturating_sub(self.issued_at)
    }
}

impl NonceManager {
    /// A manager issuing nonces under `current`.
    pub fn new(current: NonceSecret) -> Self {
        Self {
            ring: ArcSwap::from_pointee(KeyRing {
                current: current.keyed(),
                previous: None,
            }),
            rotating: Mutex::new(()),
        }
    }

    /// Also verifies nonces made under `previous` (the secret before the last rotation).
    ///
    /// # Errors
    ///
    /// [`SecretError::DuplicateId`] if `previous` has the current secret's id.
    pub fn with_previous(self, previous: NonceSecret) -> Result<Self, SecretError> {
        let current = self.ring.load().current.clone();
        if previous.id == current.id {
            return Err(SecretError::DuplicateId { id: previous.id });
        }
        self.ring.store(std::sync::Arc::new(KeyRing {
            current,
            previous: Some(previous.keyed()),
        }));
        Ok(self)
    }

    /// Issues from now on under `next`; the current secret becomes the previous one and
    /// the previous one is forgotten (its nonces stop verifying).
    ///
    /// # Errors
    ///
    /// [`SecretError::DuplicateId`] if `next` has the current secret's id.
    pub fn rotate(&self, next: NonceSecret) -> Result<(), SecretError> {
        let _rotating = self.rotating.lock().unwrap_or_else(PoisonError::into_inner);
        let ring = self.ring.load();
        if next.id == ring.current.id {
            return Err(SecretError::DuplicateId { id: next.id });
        }
        self.ring.store(std::sync::Arc::new(KeyRing {
            current: next.keyed(),
            previous: Some(ring.current.clone()),
        }));
        Ok(())
    }

    /// Issues a nonce for `client` in `realm`.
    pub fn mint(
        &self,
        client: SocketAddr,
        realm: &str,
        features: SecurityFeatures,
        now: Duration,
    ) -> Nonce {
        let issued_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let time = time_bytes(issued_ms);
        let features = features.to_bytes();
        let mut body = [0u8; BODY_LEN];
        {
            let ring = self.ring.load();
            body[0] = ring.current.id;
            body[1..1 + TIME_LEN].copy_from_slice(&time);
            let mac = compute_mac(&ring.current, features, time, client, realm);
            body[1 + TIME_LEN..].copy_from_slice(&mac);
        }
        let mut bytes = [0u8; NONCE_LEN];
        bytes[..COOKIE_LEN].copy_from_slice(NONCE_COOKIE.as_bytes());
        let written = BASE64
            .encode_slice(features, &mut bytes[COOKIE_LEN..COOKIE_LEN + FEATURES_B64])
            .expect("3 bytes are 4 base64 characters");
        debug_assert_eq!(written, FEATURES_B64);
        let written = BASE64
            .encode_slice(body, &mut bytes[COOKIE_LEN + FEATURES_B64..])
            .expect("24 bytes are 32 base64 characters");
        debug_assert_eq!(written, NONCE_LEN - COOKIE_LEN - FEATURES_B64);
        Nonce { bytes }
    }

    /// Verifies that `nonce` was issued by a current or previous secret to `client` in
    /// `realm`, and not later than `now` plus [`MAX_CLOCK_SKEW`].
    ///
    /// Returns when it was issued; judging its age is the caller's policy. Runs in time
    /// independent of the secret and allocates nothing.
    pub fn verify(
        &self,
        nonce: &[u8],
        client: SocketAddr,
        realm: &str,
        now: Duration,
    ) -> Option<IssuedNonce> {
        if nonce.len() != NONCE_LEN || !nonce.starts_with(NONCE_COOKIE.as_bytes()) {
            return None;
        }
        // Features and body decode in one pass: 36 characters, 27 bytes.
        let mut decoded = [0u8; 3 + BODY_LEN];
        decode_exact(&nonce[COOKIE_LEN..], &mut decoded)?;
        let (features, body) = decoded.split_at(3);
        let features: [u8; 3] = features.try_into().expect("fixed length");
        let key_id = body[0];
        let time: [u8; TIME_LEN] = body[1..1 + TIME_LEN].try_into().expect("fixed length");
        let ring = self.ring.load();
        let key = ring.by_id(key_id)?;
        let expected = compute_mac(key, features, time, client, realm);
        if !crate::macs_equal(&expected, &body[1 + TIME_LEN..]) {
            return None;
        }
        let issued_at = Duration::from_millis(time_from_bytes(time));
        if issued_at > now + MAX_CLOCK_SKEW {
            return None;
        }
        Some(IssuedNonce {
            issued_at,
            features: SecurityFeatures::from_bytes(features),
            key_id,
        })
    }
}

/// The security features a nonce's cookie claims, read without verifying the nonce: RFC
/// 8489 §9.2.4 reads them before integrity is checked. `None` without a cookie.
pub fn claimed_features(nonce: &[u8]) -> Option<SecurityFeatures> {
    let encoded = nonce
        .strip_prefix(NONCE_COOKIE.as_bytes())?
        .get(..FEATURES_B64)?;
    let mut bytes = [0u8; 3];
    decode_exact(encoded, &mut bytes)?;
    Some(SecurityFeatures::from_bytes(bytes))
}

/// Decodes unpadded standard base64 whose every group of 4 characters fills 3 bytes of
/// `out` exactly (the only shapes nonces use). Branch-light and table-driven: it runs on
/// every authenticated request.
fn decode_exact(input: &[u8], out: &mut [u8]) -> Option<()> {
    const INVALID: u8 = 0xFF;
    const TABLE: [u8; 256] = {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut table = [INVALID; 256];
        let mut i = 0;
        while i < 64 {
            table[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        table
    };
    if input.len() % 4 != 0 || input.len() / 4 * 3 != out.len() {
        return None;
    }
    let mut invalid = 0u8;
    for (chars, bytes) in input.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| TABLE[usize::from(chars[i])]);
        invalid |= (a | b | c | d) & 0x80;
        let group = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        bytes.copy_from_slice(&group.to_be_bytes()[1..]);
    }
    (invalid == 0).then_some(())
}

fn time_bytes(ms: u64) -> [u8; TIME_LEN] {
    let b = ms.to_be_bytes();
    b[8 - TIME_LEN..].try_into().expect("fixed length")
}

fn time_from_bytes(time: [u8; TIME_LEN]) -> u64 {
    let mut b = [0u8; 8];
    b[8 - TIME_LEN..].copy_from_slice(&time);
    u64::from_be_bytes(b)
}

fn compute_mac(
    key: &KeyedSecret,
    features: [u8; 3],
    time: [u8; TIME_LEN],
    client: SocketAddr,
    realm: &str,
) -> [u8; MAC_LEN] {
    let ip = match client.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut fixed = [0u8; 1 + 3 + TIME_LEN + 16 + 2];
    fixed[0] = key.id;
    fixed[1..4].copy_from_slice(&features);
    fixed[4..4 + TIME_LEN].copy_from_slice(&time);
    fixed[4 + TIME_LEN..4 + TIME_LEN + 16].copy_from_slice(&ip);
    fixed[4 + TIME_LEN + 16..].copy_from_slice(&client.port().to_be_bytes());
    let mut mac = key.mac.clone();
    mac.update(&fixed);
    mac.update(realm.as_bytes());
    let full = mac.finalize().into_bytes();
    full[..MAC_LEN]
        .try_into()
        .expect("SHA-1 is longer than the MAC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REALM: &str = "example.org";
    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn manager(id: u8, byte: u8) -> NonceManager {
        NonceManager::new(NonceSecret::new(id, [byte; 32]).unwrap())
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nonce_has_the_cookie_the_features_and_a_fixed_length() {
        let m = manager(1, 9);
        let n = m.mint(addr("192.0.2.1:1000"), REALM, SecurityFeatures::NONE, NOW);
        assert_eq!(n.as_bytes().len(), NONCE_LEN);
        assert!(n.as_str().starts_with("obMatJos2AAAA"), "{n}");
        let n = m.mint(
            addr("192.0.2.1:1000"),
            REALM,
            SecurityFeatures::PASSWORD_ALGORITHMS,
            NOW,
        );
        assert!(n.as_str().starts_with("obMatJos2gAAA"), "{n}");
        let both =
            SecurityFeatures::PASSWORD_ALGORITHMS.union(SecurityFeatures::USERNAME_ANONYMITY);
        let n = m.mint(addr("192.0.2.1:1000"), REALM, both, NOW);
        assert!(n.as_str().starts_with("obMatJos2wAAA"), "{n}");
        let issued = m
            .verify(n.as_bytes(), addr("192.0.2.1:1000"), REALM, NOW)
            .unwrap();
        assert_eq!(issued.features, both);
        assert_eq!(claimed_features(n.as_bytes()), Some(both));
        assert_eq!(
            claimed_features(b"obMatJos2AAAC"),
            Some(SecurityFeatures(2))
        );
        assert_eq!(claimed_features(b"f//499k954d6OL34oL9FSTvy64sA"), None);
        assert!(
            !n.as_str().contains(['"', '\\']),
            "NONCE must be quoted-string-safe"
        );
    }

    #[test]
    fn verify_checks_address_port_realm_and_secret() {
        let m = manager(1, 9);
        let client = addr("192.0.2.1:1000");
        let n = m.mint(client, REALM, SecurityFeatures::NONE, NOW);
        let ok = m.verify(n.as_bytes(), client, REALM, NOW + Duration::from_secs(3600));
        assert_eq!(
            ok,
            Some(IssuedNonce {
                issued_at: NOW,
                features: SecurityFeatures::NONE,
                key_id: 1
            })
        );
        assert_eq!(
            m.verify(n.as_bytes(), addr("192.0.2.2:1000"), REALM, NOW),
            None
        );
        assert_eq!(
            m.verify(n.as_bytes(), addr("192.0.2.1:1001"), REALM, NOW),
            None
        );
        assert_eq!(
            m.verify(n.as_bytes(), addr("[::ffff:192.0.2.1]:1000"), REALM, NOW)
                .map(|i| i.key_id),
            Some(1)
        );
        assert_eq!(m.verify(n.as_bytes(), client, "other.org", NOW), None);
        assert_eq!(manager(1, 8).verify(n.as_bytes(), client, REALM, NOW), None);
    }

    #[test]
    fn nonces_from_the_future_are_refused_beyond_the_skew() {
        let m = manager(1, 9);
        let client = addr("[2001:db8::1]:3478");
        let n = m.mint(client, REALM, SecurityFeatures::NONE, NOW + MAX_CLOCK_SKEW);
        assert!(m.verify(n.as_bytes(), client, REALM, NOW).is_some());
        let n = m.mint(
            client,
            REALM,
            SecurityFeatures::NONE,
            NOW + MAX_CLOCK_SKEW + Duration::from_millis(1),
        );
        assert!(m.verify(n.as_bytes(), client, REALM, NOW).is_none());
    }

    #[test]
    fn rotation_keeps_the_previous_secret_and_instances_share_nonces() {
        let a = manager(1, 9);
        let b = manager(1, 9);
        let client = addr("192.0.2.1:1000");
        let old = a.mint(client, REALM, SecurityFeatures::NONE, NOW);
        assert!(
            b.verify(old.as_bytes(), client, REALM, NOW).is_some(),
            "same secrets, other instance"
        );

        a.rotate(NonceSecret::new(2, [10u8; 32]).unwrap()).unwrap();
        let new = a.mint(client, REALM, SecurityFeatures::NONE, NOW);
        assert_eq!(
            a.verify(old.as_bytes(), client, REALM, NOW).unwrap().key_id,
            1
        );
        assert_eq!(
            a.verify(new.as_bytes(), client, REALM, NOW).unwrap().key_id,
            2
        );
        assert!(
            b.verify(new.as_bytes(), client, REALM, NOW).is_none(),
            "b has not rotated yet"
        );
        let b = b
            .with_previous(NonceSecret::new(2, [10u8; 32]).unwrap())
            .unwrap();
        assert!(
            b.verify(new.as_bytes(), client, REALM, NOW).is_some(),
            "pre-provisioned next secret"
        );

        a.rotate(NonceSecret::new(3, [11u8; 32]).unwrap()).unwrap();
        assert!(
            a.verify(old.as_bytes(), client, REALM, NOW).is_none(),
            "two rotations forget it"
        );
        assert_eq!(
            a.rotate(NonceSecret::new(3, [12u8; 32]).unwrap()),
            Err(SecretError::DuplicateId { id: 3 })
        );
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(
            NonceSecret::new(1, [0u8; 15]).unwrap_err(),
            SecretError::TooShort { len: 15 }
        );
        let secret = NonceSecret::new(4, *b"super-secret-bytes-123").unwrap();
        assert!(!format!("{secret:?}").contains("super"));
        let m = NonceManager::new(secret);
        assert!(!format!("{m:?}").contains("super"));
        let generated = NonceSecret::generate(5).unwrap();
        assert_eq!(generated.id(), 5);
        assert_eq!(generated.key.len(), 32);
    }

    #[test]
    fn base64_decoding_matches_the_base64_crate() {
        for bytes in [[0u8; 24], [0xFF; 24], std::array::from_fn(|i| i as u8 * 11)] {
            let encoded = BASE64.encode(bytes);
            let mut out = [0u8; 24];
            decode_exact(encoded.as_bytes(), &mut out).unwrap();
            assert_eq!(out, bytes);
        }
        let mut out = [0u8; 3];
        assert_eq!(
            decode_exact(b"gAA=", &mut out),
            None,
            "padding is not a nonce character"
        );
        assert_eq!(
            decode_exact(b"gA-A", &mut out),
            None,
            "URL-safe alphabet is not ours"
        );
        assert_eq!(decode_exact(b"gAA", &mut out), None);
        assert_eq!(decode_exact(b"gAAA", &mut out), Some(()));
        assert_eq!(out, [0x80, 0, 0]);
    }

    #[test]
    fn any_one_byte_change_is_refused() {
        let m = manager(1, 9);
        let client = addr("192.0.2.1:1000");
        let n = m.mint(client, REALM, SecurityFeatures::NONE, NOW);
        for i in 0..NONCE_LEN {
            for replacement in [b'A', b'z', b'+', b'0'] {
                let mut changed = *n.as_bytes().first_chunk::<NONCE_LEN>().unwrap();
                if changed[i] == replacement {
                    continue;
                }
                changed[i] = replacement;
                // 3 and 24 bytes fill their base64 groups exactly: no character carries
                // unused bits, so every change is a change of the nonce.
                assert!(m.verify(&changed, client, REALM, NOW).is_none(), "byte {i}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_verify_or_panic(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            let m = manager(1, 9);
            prop_assert!(m.verify(&bytes, addr("192.0.2.1:1000"), REALM, NOW).is_none());
        }

        #[test]
        fn mint_verify_round_trips(ms in 0u64..(1 << 56) - 10_000, port in any::<u16>(), ip in any::<[u8; 16]>()) {
            let m = manager(7, 3);
            let client = SocketAddr::new(IpAddr::from(ip), port);
            let now = Duration::from_millis(ms);
            let n = m.mint(client, REALM, SecurityFeatures::NONE, now);
            let issued = m.verify(n.as_bytes(), client, REALM, now).unwrap();
            prop_assert_eq!(issued.issued_at, now);
        }
    }
}
