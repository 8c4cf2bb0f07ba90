//! Long-term credentials (RFC 8489 §9.2): key derivation, the stores that look users up,
//! and time-limited TURN REST API credentials.
//!
//! ```
//! use std::time::Duration;
//! use turn_auth::credentials::{LongTermKey, RestSecrets, StaticUsers};
//! use turn_auth::stun::PasswordAlgorithm;
//!
//! // RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password).
//! let key = LongTermKey::derive(PasswordAlgorithm::Md5, "user", "realm", "pass");
//! assert_eq!(key.as_bytes(), [0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
//!                             0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb]);
//!
//! let users = StaticUsers::new("example.org").user("alice", "secret");
//! # let _ = users;
//!
//! // TURN REST API: username "<expiry>:<user>", password base64(HMAC-SHA1(secret, username)).
//! let rest = RestSecrets::new("north");
//! let now = Duration::from_secs(1_699_913_600);
//! let (username, password) = rest.mint("alice", Duration::from_secs(86_400), now);
//! assert_eq!(username, "1700000000:alice");
//! assert_eq!(password.as_str(), "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
//! ```
//!
//! Usernames, realms and passwords are used as the UTF-8 bytes given. RFC 8489 processes
//! them with the OpaqueString profile (RFC 8265); pass them already in that form (for
//! ASCII credentials, which are the norm for TURN, nothing changes).

use std::collections::HashMap;
use std::fmt;
use std::future::{Future, Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::stun::PasswordAlgorithm;

/// A long-term key: MD5 or SHA-256 of `username ":" realm ":" password`.
///
/// Wiped when dropped; `Debug` shows only the algorithm.
#[derive(Clone)]
pub struct LongTermKey {
    algorithm: PasswordAlgorithm,
    bytes: Zeroizing<[u8; 32]>,
    len: usize,
}

impl fmt::Debug for LongTermKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LongTermKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl LongTermKey {
    /// Derives the key for `algorithm` (RFC 8489 §9.2.2 and §18.5.1).
    pub fn derive(
        algorithm: PasswordAlgorithm,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Self {
        fn hash<D: Digest>(username: &str, realm: &str, password: &str, out: &mut [u8]) -> usize {
            let mut digest = D::new();
            for part in [username, ":", realm, ":", password] {
                digest.update(part.as_bytes());
            }
            let result = digest.finalize();
            out[..result.len()].copy_from_slice(&result);
            result.len()
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        let len = match algorithm {
            PasswordAlgorithm::Md5 => hash::<Md5>(username, realm, password, &mut *bytes),
            PasswordAlgorithm::Sha256 => hash::<Sha256>(username, realm, password, &mut *bytes),
        };
        Self {
            algorithm,
            bytes,
            len,
        }
    }

    /// The key bytes (16 for MD5, 32 for SHA-256).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The algorithm it was derived with.
    pub fn algorithm(&self) -> PasswordAlgorithm {
        self.algorithm
    }
}

/// A user's credential for one realm and password algorithm, with its MESSAGE-INTEGRITY
/// HMAC state keyed once (so checking a request costs the MAC over the message only).
#[derive(Clone)]
pub struct Credential {
    key: LongTermKey,
    integrity: Hmac<Sha1>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("algorithm", &self.key.algorithm)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The credential of `username` with `password` in `realm`.
    pub fn from_password(
        algorithm: PasswordAlgorithm,
        username: &str,
        realm: &str,
        password: &str,
    ) -> Self {
        Self::from_key(LongTermKey::derive(algorithm, username, realm, password))
    }

    /// A credential from an already derived key (for stores that keep keys, not passwords).
    pub fn from_key(key: LongTermKey) -> Self {
        let integrity = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
        Self { key, integrity }
    }

    /// The long-term key.
    pub fn key(&self) -> &LongTermKey {
        &self.key
    }

    /// HMAC-SHA1 keyed with the long-term key, for MESSAGE-INTEGRITY.
    pub fn integrity_mac(&self) -> &Hmac<Sha1> {
        &self.integrity
    }
}

/// Why a credential lookup failed (as opposed to finding no such user).
#[derive(Debug, thiserror::Error)]
#[error("credential lookup failed: {0}")]
pub struct StoreError(pub Box<dyn std::error::Error + Send + Sync>);

/// Where the authenticator finds users' keys.
///
/// # Contract
///
/// - `username` and `realm` come from the network: treat them as untrusted, keep the cost
///   of a lookup independent of how many users exist (no scans), and never log them
///   together with a password or key.
/// - Return every credential that may be valid for the user (several while a shared
///   secret rotates); an empty list means "no such user" and is answered `401`.
/// - Time-limited credentials must be checked against `now` on every call: the
///   authenticator calls the store for every authenticated request, not only for Allocate.
/// - Passwords and keys are secrets: keep them in memory that is wiped on drop.
pub trait CredentialStore: Send + Sync + 'static {
    /// The future a lookup returns.
    type Future: Future<Output = Result<Vec<Credential>, StoreError>> + Send + 'static;

    /// The credentials of `username` in `realm` for `algorithm`, as of `now` (since the
    /// epoch).
    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        now: Duration,
    ) -> Self::Future;
}

impl<T: CredentialStore> CredentialStore for Arc<T> {
    type Future = T::Future;

    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        now: Duration,
    ) -> Self::Future {
        (**self).lookup(username, realm, algorithm, now)
    }
}

/// A fixed set of users in one realm, keys derived once at construction.
#[derive(Clone, Default)]
pub struct StaticUsers {
    realm: Arc<str>,
    users: HashMap<String, [Credential; 2]>,
}

impl fmt::Debug for StaticUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticUsers")
            .field("realm", &self.realm)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl StaticUsers {
    /// No users yet, in `realm`.
    pub fn new(realm: impl Into<Arc<str>>) -> Self {
        Self {
            realm: realm.into(),
            users: HashMap::new(),
        }
    }

    /// Adds (or replaces) `username` with `password`. The password is not kept: only the
    /// derived keys are.
    #[must_use]
    pub fn user(mut self, username: impl Into<String>, password: &str) -> Self {
        let username = username.into();
        let credentials = [PasswordAlgorithm::Md5, PasswordAlgorithm::Sha256]
            .map(|alg| Credential::from_password(alg, &username, &self.realm, password));
        self.users.insert(username, credentials);
        self
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn find(&self, username: &str, realm: &str, algorithm: PasswordAlgorithm) -> Vec<Credential> {
        if realm != &*self.realm {
            return Vec::new();
        }
        let index = match algorithm {
            PasswordAlgorithm::Md5 => 0,
            PasswordAlgorithm::Sha256 => 1,
        };
        self.users
            .get(username)
            .map(|c| vec![c[index].clone()])
            .unwrap_or_default()
    }
}

impl CredentialStore for StaticUsers {
    type Future = Ready<Result<Vec<Credential>, StoreError>>;

    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        _now: Duration,
    ) -> Self::Future {
        ready(Ok(self.find(username, realm, algorithm)))
    }
}

/// TURN REST API credentials (draft-uberti-behave-turn-rest): the username is
/// `<expiry unix seconds>:<user id>` (the user id is optional), the password is
/// `base64(HMAC-SHA1(shared secret, username))`.
///
/// Several secrets may be configured for rotation: the first mints, all verify. Expiry is
/// checked on every request, so a credential stops working when it expires even in the
/// middle of an allocation.
#[derive(Clone)]
pub struct RestSecrets {
    secrets: Vec<Hmac<Sha1>>,
}

impl fmt::Debug for RestSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestSecrets")
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

/// A REST API password: wiped on drop.
pub type RestPassword = Zeroizing<String>;

impl RestSecrets {
    /// Verifies and mints with `secret`.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            secrets: vec![keyed_sha1(secret.as_ref())],
        }
    }

    /// Also accepts credentials minted with `secret` (an older or newer shared secret).
    #[must_use]
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets.push(keyed_sha1(secret.as_ref()));
        self
    }

    /// A username and password for `user_id`, valid for `ttl` from `now` (since the epoch).
    pub fn mint(&self, user_id: &str, ttl: Duration, now: Duration) -> (String, RestPassword) {
        let expiry = (now + ttl).as_secs();
        let username = if user_id.is_empty() {
            expiry.to_string()
        } else {
            format!("{expiry}:{user_id}")
        };
        let password = password(&self.secrets[0], &username);
        (username, password)
    }

    /// The passwords `username` may have (one per secret), or none when its expiry is
    /// missing, malformed or not after `now`.
    pub fn passwords(&self, username: &str, now: Duration) -> Vec<RestPassword> {
        match expiry_of(username) {
            Some(expiry) if expiry > now.as_secs() => {
                self.secrets.iter().map(|s| password(s, username)).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether `password` is a valid password for `username` now (constant-time compare).
    pub fn verify(&self, username: &str, password: &str, now: Duration) -> bool {
        self.passwords(username, now).iter().fold(false, |ok, p| {
            ok | bool::from(p.as_bytes().ct_eq(password.as_bytes()))
        })
    }
}

impl CredentialStore for RestSecrets {
    type Future = Ready<Result<Vec<Credential>, StoreError>>;

    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        now: Duration,
    ) -> Self::Future {
        let credentials = self
            .passwords(username, now)
            .iter()
            .map(|p| Credential::from_password(algorithm, username, realm, p))
            .collect();
        ready(Ok(credentials))
    }
}

fn keyed_sha1(secret: &[u8]) -> Hmac<Sha1> {
    Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key")
}

fn password(secret: &Hmac<Sha1>, username: &str) -> RestPassword {
    let mut mac = secret.clone();
    mac.update(username.as_bytes());
    Zeroizing::new(BASE64.encode(mac.finalize().into_bytes()))
}

/// The expiry of a REST username: the digits before the first `:`, or the whole username.
fn expiry_of(username: &str) -> Option<u64> {
    let digits = username.split_once(':').map_or(username, |(t, _)| t);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Tries a store first, then another: static operators plus REST users, say.
#[derive(Debug, Clone)]
pub struct Either<A, B> {
    first: A,
    second: B,
}

impl<A, B> Either<A, B> {
    /// Looks users up in `first`, then, when it has none, in `second`.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<A, B> CredentialStore for Either<A, B>
where
    A: CredentialStore,
    B: CredentialStore,
{
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Vec<Credential>, StoreError>> + Send>>;

    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        now: Duration,
    ) -> Self::Future {
        let first = self.first.lookup(username, realm, algorithm, now);
        let second = self.second.lookup(username, realm, algorithm, now);
        Box::pin(async move {
            let found = first.await?;
            if found.is_empty() {
                second.await
            } else {
                Ok(found)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1_700_000_000);

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn resolve<F: Future>(future: F) -> F::Output {
        // The stores here are ready at once; a tiny executor keeps these tests synchronous.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("store future was not ready"),
        }
    }

    #[test]
    fn rfc_key_derivations() {
        let md5 = LongTermKey::derive(PasswordAlgorithm::Md5, "user", "realm", "pass");
        assert_eq!(hex(md5.as_bytes()), "8493fbc53ba582fb4c044c456bdc40eb");
        // RFC 5769 §2.4 (the password after SASLprep).
        let key = LongTermKey::derive(
            PasswordAlgorithm::Md5,
            "マトリックス",
            "example.org",
            "TheMatrIX",
        );
        assert_eq!(hex(key.as_bytes()), "e8ca7ad59d5eb0518e312911d2dab2a9");
        let sha = LongTermKey::derive(PasswordAlgorithm::Sha256, "user", "realm", "pass");
        assert_eq!(sha.as_bytes().len(), 32);
        assert_eq!(
            sha.as_bytes(),
            Sha256::digest(b"user:realm:pass").as_slice()
        );
        assert!(!format!("{md5:?}").contains("84"));
    }

    #[test]
    fn static_users_find_only_their_realm_and_algorithm() {
        let users = StaticUsers::new("example.org").user("alice", "secret");
        let found =
            resolve(users.lookup("alice", "example.org", PasswordAlgorithm::Md5, NOW)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].key().as_bytes(),
            LongTermKey::derive(PasswordAlgorithm::Md5, "alice", "example.org", "secret")
                .as_bytes()
        );
        let sha =
            resolve(users.lookup("alice", "example.org", PasswordAlgorithm::Sha256, NOW)).unwrap();
        assert_eq!(sha[0].key().algorithm(), PasswordAlgorithm::Sha256);
        assert!(
            resolve(users.lookup("bob", "example.org", PasswordAlgorithm::Md5, NOW))
                .unwrap()
                .is_empty()
        );
        assert!(
            resolve(users.lookup("alice", "other.org", PasswordAlgorithm::Md5, NOW))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn rest_credentials_mint_verify_expire_and_rotate() {
        let rest = RestSecrets::new("north");
        let (username, password) = rest.mint("alice", Duration::from_secs(60), NOW);
        assert_eq!(username, "1700000060:alice");
        assert!(rest.verify(&username, &password, NOW));
        assert!(rest.verify(&username, &password, NOW + Duration::from_secs(59)));
        assert!(
            !rest.verify(&username, &password, NOW + Duration::from_secs(60)),
            "expired"
        );
        assert!(!rest.verify(&username, "wrong", NOW));
        assert!(
            !rest.verify("1700000060:mallory", &password, NOW),
            "password bound to username"
        );

        // Rotation: a credential from the new secret, verified by a server knowing both.
        let new = RestSecrets::new("south");
        let (u2, p2) = new.mint("", Duration::from_secs(60), NOW);
        assert_eq!(u2, "1700000060");
        assert!(!rest.verify(&u2, &p2, NOW));
        let both = rest.clone().with_secret("south");
        assert!(both.verify(&u2, &p2, NOW) && both.verify(&username, &password, NOW));
        let credentials =
            resolve(both.lookup(&u2, "example.org", PasswordAlgorithm::Md5, NOW)).unwrap();
        assert_eq!(credentials.len(), 2, "one candidate per secret");
    }

    #[test]
    fn malformed_rest_usernames_have_no_password() {
        let rest = RestSecrets::new("north");
        for bad in [
            "",
            ":alice",
            "abc:alice",
            "-5:alice",
            "99999999999999999999999:x",
            "1e9:x",
        ] {
            assert!(rest.passwords(bad, NOW).is_empty(), "{bad:?}");
        }
        assert_eq!(expiry_of("1700000060"), Some(1_700_000_060));
    }

    #[test]
    fn either_falls_back_to_the_second_store() {
        let store = Either::new(
            StaticUsers::new("example.org").user("op", "pw"),
            RestSecrets::new("north"),
        );
        let (username, _) = RestSecrets::new("north").mint("alice", Duration::from_secs(60), NOW);
        assert_eq!(
            resolve(store.lookup("op", "example.org", PasswordAlgorithm::Md5, NOW))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            resolve(store.lookup(&username, "example.org", PasswordAlgorithm::Md5, NOW))
                .unwrap()
                .len(),
            1
        );
        assert!(
            resolve(store.lookup("nobody", "example.org", PasswordAlgorithm::Md5, NOW))
                .unwrap()
                .is_empty()
        );
    }
}
