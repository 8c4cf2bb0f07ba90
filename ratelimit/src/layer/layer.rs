use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Request};
use tower_layer::Layer;

use super::service::RateLimit;
use crate::backend::Backend;
use crate::keyer::{KeyOutcome, Keyer, NoKey};

/// Derives the rate-limit key of a request. Implemented by [`Keyer`]; implement it for
/// keys the configurable keyer does not cover.
///
/// # Contract
///
/// Deriving a key must finish in bounded time (walk a fixed list once, never loop) and
/// must not fail open by accident: when no key can be derived, say what to do with
/// [`NoKey`].
pub trait RequestKeyer: Send + Sync + 'static {
    /// A derived key.
    type Key;

    /// The key of `request`, or what to do without one.
    ///
    /// # Errors
    ///
    /// [`NoKey`] when the request yields no key.
    fn key_of<B>(&self, request: &Request<B>) -> Result<Self::Key, NoKey>;

    /// The bytes the backend is checked with.
    fn key_bytes(key: &Self::Key) -> &[u8];

    /// The kind of source `key` came from, for logs: never the key itself.
    fn key_kind(key: &Self::Key) -> &'static str {
        let _ = key;
        "key"
    }
}

impl RequestKeyer for Keyer {
    type Key = crate::keyer::Key;

    fn key_of<B>(&self, request: &Request<B>) -> Result<Self::Key, NoKey> {
        match self.key(request) {
            KeyOutcome::Key(key) => Ok(key),
            KeyOutcome::NoKey(no_key) => Err(no_key),
        }
    }

    fn key_bytes(key: &Self::Key) -> &[u8] {
        key.as_bytes()
    }

    fn key_kind(key: &Self::Key) -> &'static str {
        // Keys start with their source's kind and a NUL.
        let bytes = key.as_bytes();
        let kind = bytes.split(|&b| b == 0).next().unwrap_or_default();
        KINDS
            .iter()
            .find(|known| known.as_bytes() == kind)
            .copied()
            .unwrap_or("key")
    }
}

const KINDS: [&str; 8] = [
    "ip", "cookie", "header", "route", "global", "custom", "all", "nokey",
];

/// A policy name that cannot be written as a Structured Field String: it must be printable
/// ASCII (`0x20..=0x7E`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a rate-limit policy name must be printable ASCII (it is sent as an HTTP header)")]
pub struct InvalidPolicyName(());

/// What a policy says about itself in headers and logs.
pub(super) struct Meta {
    pub(super) name: Box<str>,
    /// The name as a Structured Field String (quoted, escaped).
    pub(super) quoted: Box<str>,
    /// `RateLimit-Policy`: `"name";q=<burst>;w=<window secs>`.
    pub(super) policy_header: HeaderValue,
    pub(super) burst: u32,
    pub(super) interval: Duration,
}

/// One rate limit: a name (sent in the `RateLimit` headers), a keyer and a backend.
pub struct Policy<K = Keyer> {
    pub(super) keyer: K,
    pub(super) backend: Arc<dyn Backend>,
    pub(super) meta: Arc<Meta>,
}

impl<K> fmt::Debug for Policy<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.meta.name)
            .field("quota", &self.backend.quota())
            .finish_non_exhaustive()
    }
}

impl<K: RequestKeyer> Policy<K> {
    /// A policy called `name` that keys requests with `keyer` and checks the keys against
    /// `backend` (a [`Limiter`](crate::Limiter), an `Arc` of one, or a remote backend).
    ///
    /// # Errors
    ///
    /// [`InvalidPolicyName`] when `name` is not printable ASCII.
    pub fn new(name: &str, keyer: K, backend: impl Backend) -> Result<Self, InvalidPolicyName> {
        if !name.bytes().all(|b| (0x20..=0x7E).contains(&b)) {
            return Err(InvalidPolicyName(()));
        }
        let mut quoted = String::with_capacity(name.len() + 2);
        quoted.push('"');
        for c in name.chars() {
            if matches!(c, '"' | '\\') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        let quota = backend.quota();
        let window = super::service::ceil_secs(quota.window()).max(1);
        let burst = quota.burst().get();
        let policy_header = HeaderValue::try_from(format!("{quoted};q={burst};w={window}"))
            .expect("printable ASCII");
        Ok(Self {
            keyer,
            backend: Arc::new(backend),
            meta: Arc::new(Meta {
                name: name.into(),
                quoted: quoted.into(),
                policy_header,
                burst,
                interval: quota.replenish_interval(),
            }),
        })
    }
}

impl<K> Policy<K> {
    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    Exact(Box<str>),
    Prefix(Box<str>),
}

impl Route {
    fn matches(&self, path: &str) -> bool {
        match self {
            Route::Exact(exact) => path == &**exact,
            Route::Prefix(prefix) => path.strip_prefix(&**prefix).is_some_and(|rest| {
                rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/')
            }),
        }
    }
}

pub(super) struct Config<K> {
    pub(super) routes: Vec<(Route, Arc<Policy<K>>)>,
    pub(super) default: Arc<Policy<K>>,
    pub(super) headers_on_allowed: bool,
}

impl<K> Clone for Config<K> {
    fn clone(&self) -> Self {
        Self {
            routes: self.routes.clone(),
            default: Arc::clone(&self.default),
            headers_on_allowed: self.headers_on_allowed,
        }
    }
}

impl<K> Config<K> {
    /// The first route matching `path`, else the default.
    pub(super) fn policy_for(&self, path: &str) -> &Policy<K> {
        self.routes
            .iter()
            .find(|(route, _)| route.matches(path))
            .map_or(&self.default, |(_, policy)| policy)
    }
}

/// Applies [`RateLimit`] to a service. See the [module docs](super).
#[must_use]
pub struct RateLimitLayer<K = Keyer> {
    config: Arc<Config<K>>,
}

impl<K> Clone for RateLimitLayer<K> {
    fn clone(&self) -> Self {
        Self {
            config: Arc::clone(&self.config),
        }
    }
}

impl<K> fmt::Debug for RateLimitLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<_> = self
            .config
            .routes
            .iter()
            .map(|(route, policy)| (route, policy.name()))
            .collect();
        f.debug_struct("RateLimitLayer")
            .field("routes", &routes)
            .field("default", &self.config.default.name())
            .field("headers_on_allowed", &self.config.headers_on_allowed)
            .finish()
    }
}

impl<K: RequestKeyer> RateLimitLayer<K> {
    /// Limits every request by `default`, unless a route added later matches.
    pub fn new(default: Policy<K>) -> Self {
        Self {
            config: Arc::new(Config {
                routes: Vec::new(),
                default: Arc::new(default),
                headers_on_allowed: false,
            }),
        }
    }

    /// Limits requests whose path is exactly `path` by `policy`. Routes are tried in the
    /// order they were added; the first match wins.
    pub fn exact(self, path: &str, policy: Policy<K>) -> Self {
        self.route(Route::Exact(path.into()), policy)
    }

    /// Limits requests under `prefix` by `policy`: the path equals `prefix` or continues
    /// it with a `/` (`/api` matches `/api` and `/api/users`, not `/apiary`; `/api/`
    /// matches everything starting with `/api/`). Routes are tried in the order they were
    /// added; the first match wins.
    pub fn prefix(self, prefix: &str, policy: Policy<K>) -> Self {
        self.route(Route::Prefix(prefix.into()), policy)
    }

    fn route(mut self, route: Route, policy: Policy<K>) -> Self {
        Arc::make_mut(&mut self.config)
            .routes
            .push((route, Arc::new(policy)));
        self
    }

    /// Also sends `RateLimit` (with `r` the remaining requests) and `RateLimit-Policy` on
    /// allowed responses. Off by default: limited responses always carry them.
    pub fn headers_on_allowed(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.config).headers_on_allowed = enabled;
        self
    }
}

impl<S, K> Layer<S> for RateLimitLayer<K> {
    type Service = RateLimit<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit::from_config(inner, Arc::clone(&self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_whole_segments() {
        let prefix = Route::Prefix("/api".into());
        assert!(prefix.matches("/api"));
        assert!(prefix.matches("/api/users"));
        assert!(!prefix.matches("/apiary"));
        let slash = Route::Prefix("/api/".into());
        assert!(slash.matches("/api/users"));
        assert!(!slash.matches("/api"));
        let exact = Route::Exact("/login".into());
        assert!(exact.matches("/login"));
        assert!(!exact.matches("/login/"));
    }
}
