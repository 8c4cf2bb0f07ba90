//! What a key is made of: [`Source`]s, composed one level deep into [`Step`]s.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use http::HeaderName;
use http::request::Parts;
use ipnet::IpNet;

use super::ip::ProxyHeader;

/// The IPv6 prefix length IP sources aggregate to by default: every subscriber gets at
/// least a /64, so a /64 is one client.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// The most bytes of a [`Source::Header`] value (all instances combined) used as a key;
/// a longer value yields no key.
pub const MAX_HEADER_KEY_BYTES: usize = 4 * 1024;

/// A function deriving a key from the request head, for [`Source::Custom`].
pub type CustomFn = Arc<dyn Fn(&Parts) -> Option<Vec<u8>> + Send + Sync>;

/// The name of the route a request was routed to, put in the request extensions by the
/// router (or any middleware) for [`Source::Route`]. Without it the route is the path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RouteName(pub Cow<'static, str>);

impl RouteName {
    /// A route name.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }
}

/// One place a key can come from. Each yields a key or nothing; see the
/// [module docs](super) for the key bytes of each.
#[derive(Clone)]
#[non_exhaustive]
pub enum Source {
    /// The connection's peer address (request extension `SocketAddr`, or with feature
    /// `axum`, `ConnectInfo<SocketAddr>`): IPv4 whole, IPv6 cut to `ipv6_prefix` bits.
    PeerIp {
        /// Bits of an IPv6 address kept (0–128; more is 128).
        ipv6_prefix: u8,
    },
    /// The client address: the peer, unless the peer is one of `trusted`; then the
    /// rightmost untrusted hop of `header` (all instances combined), walking right to left
    /// through trusted hops, as nginx's `real_ip_recursive on` does.
    ClientIp {
        /// The proxies whose forwarded headers are believed.
        trusted: Vec<IpNet>,
        /// Bits of an IPv6 address kept (0–128; more is 128).
        ipv6_prefix: u8,
        /// The header the trusted proxies write. Only this one is read: a client can send
        /// the other one through a proxy that does not overwrite it.
        header: ProxyHeader,
    },
    /// The value of a header, all instances joined in order; none when absent or longer
    /// than [`MAX_HEADER_KEY_BYTES`].
    Header(HeaderName),
    /// The cookie [`ValidateCookieLayer`](crate::cookie::ValidateCookieLayer) judged
    /// valid ([`ValidatedCookie`](crate::cookie::ValidatedCookie) in the request
    /// extensions). The `Cookie` header itself is never read.
    ValidatedCookie,
    /// The route: a [`RouteName`] from the request extensions, else the path. Paths are
    /// chosen by clients, so a path key gives each distinct path its own bucket; put a
    /// `RouteName` in the extensions (or combine the route with another source in a
    /// [`Step::All`]) to key by route rather than by URL.
    Route,
    /// One key for every request.
    Global,
    /// A function of the request head. It must finish in bounded time. With
    /// [`Keyer::key`](super::Keyer::key) the head is copied once per request for it (the
    /// request is not split into parts); [`Keyer::key_parts`](super::Keyer::key_parts)
    /// avoids the copy. Two custom sources returning the same bytes give the same key.
    Custom(CustomFn),
}

impl Source {
    /// [`Source::PeerIp`] with the default /64 IPv6 aggregation.
    pub fn peer_ip() -> Self {
        Source::PeerIp {
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }

    /// [`Source::ClientIp`] from `X-Forwarded-For` with the default /64 IPv6 aggregation.
    pub fn client_ip(trusted: impl IntoIterator<Item = IpNet>) -> Self {
        Source::ClientIp {
            trusted: trusted.into_iter().collect(),
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
            header: ProxyHeader::XForwardedFor,
        }
    }

    /// [`Source::Custom`] from a closure.
    pub fn custom(f: impl Fn(&Parts) -> Option<Vec<u8>> + Send + Sync + 'static) -> Self {
        Source::Custom(Arc::new(f))
    }

    /// A short name of the kind of source, as in the configuration (`"peer-ip"`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Source::PeerIp { .. } => "peer-ip",
            Source::ClientIp { .. } => "client-ip",
            Source::Header(_) => "header",
            Source::ValidatedCookie => "cookie",
            Source::Route => "route",
            Source::Global => "global",
            Source::Custom(_) => "custom",
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::PeerIp { ipv6_prefix } => f
                .debug_struct("PeerIp")
                .field("ipv6_prefix", ipv6_prefix)
                .finish(),
            Source::ClientIp {
                trusted,
                ipv6_prefix,
                header,
            } => f
                .debug_struct("ClientIp")
                .field("trusted", trusted)
                .field("ipv6_prefix", ipv6_prefix)
                .field("header", header)
                .finish(),
            Source::Header(name) => f.debug_tuple("Header").field(name).finish(),
            Source::ValidatedCookie => f.write_str("ValidatedCookie"),
            Source::Route => f.write_str("Route"),
            Source::Global => f.write_str("Global"),
            Source::Custom(_) => f.debug_tuple("Custom").finish_non_exhaustive(),
        }
    }
}

/// One entry of a [`Keyer`](super::Keyer)'s ordered list: a single [`Source`], or a
/// composite of several that yields only when every part does.
///
/// A composite holds [`Source`]s, which cannot be composites: nesting is at most one level
/// deep by construction.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Step {
    /// One source.
    One(Source),
    /// Every part, in order (e.g. the cookie and the route); nothing unless each yields.
    All(Vec<Source>),
}

impl Step {
    /// The number of sources in the step (a composite counts each part).
    pub fn source_count(&self) -> usize {
        match self {
            Step::One(_) => 1,
            Step::All(parts) => parts.len(),
        }
    }
}

impl From<Source> for Step {
    fn from(source: Source) -> Self {
        Step::One(source)
    }
}
