//! Rate-limit keys that are finite by construction.
//!
//! A [`Keyer`] is an ordered list of [`Step`]s built once with [`Keyer::builder`] and
//! walked once per request: the first step that yields a key wins; when none does, its
//! [`NoKey`] policy applies. A step is a [`Source`] or a composite ([`Step::All`]) of
//! sources, which yields only when every part does; a composite cannot hold a composite.
//! No source calls another keyer: there is nothing to loop on (Cloudflare's 2024-06-20
//! outage was a key generator whose fallback was itself). A configuration's
//! `fallback = "..."` is flattened into one list when it is loaded
//! (see [`config`](crate::config)).
//!
//! | source | key bytes | yields nothing when |
//! |---|---|---|
//! | [`Source::PeerIp`] | `ip\0` + IPv4 (4 bytes) or IPv6 prefix (16 bytes + length) | no peer address extension |
//! | [`Source::ClientIp`] | as `PeerIp`, for the client behind trusted proxies | no peer; the deciding hop is not an address; over 64 hops / 4 KiB |
//! | [`Source::Header`] | `header\0` + name + `\0` + values joined by `,` | header absent or over 4 KiB |
//! | [`Source::ValidatedCookie`] | `cookie\0` + name + `\0` + value | no [`ValidatedCookie`](crate::cookie::ValidatedCookie) extension |
//! | [`Source::Route`] | `route\0name\0` + [`RouteName`], or `route\0path\0` + path | never |
//! | [`Source::Global`] | `global\0` | never |
//! | [`Source::Custom`] | `custom\0` + the function's bytes | the function returns `None` |
//! | [`Step::All`] | `all\0` + each part's key, length-prefixed | any part yields nothing |
//!
//! The peer address is read from the request extensions: a `std::net::SocketAddr`, or
//! with the `axum` feature, axum's `ConnectInfo<SocketAddr>`. IPv4 addresses are keyed
//! whole (IPv4-mapped IPv6 addresses count as IPv4); IPv6 addresses are cut to a prefix,
//! /64 by default, since one subscriber holds at least a /64.
//!
//! Behind proxies, [`Source::ClientIp`] believes `X-Forwarded-For` (or `Forwarded`) only
//! from a trusted peer, and then takes the rightmost hop that is not a trusted proxy, over
//! all instances of the header: the leftmost entries are whatever the client sent.
//!
//! ```
//! use std::net::SocketAddr;
//! use http::{Request, StatusCode};
//! use ratelimit::cookie::ValidatedCookie;
//! use ratelimit::keyer::{KeyOutcome, Keyer, NoKey};
//!
//! let keyer = Keyer::builder()
//!     .validated_cookie()
//!     .peer_ip()
//!     .no_key(NoKey::Reject(StatusCode::FORBIDDEN))
//!     .build();
//!
//! let mut request = Request::get("/").body(())?;
//! request.extensions_mut().insert("192.0.2.7:50000".parse::<SocketAddr>()?);
//! let KeyOutcome::Key(by_ip) = keyer.key(&request) else { panic!() };
//! assert_eq!(by_ip.as_bytes(), b"ip\0\xc0\x00\x02\x07");
//!
//! request.extensions_mut().insert(ValidatedCookie::new("session", "s3cr3t"));
//! let KeyOutcome::Key(by_cookie) = keyer.key(&request) else { panic!() };
//! assert_eq!(by_cookie.as_bytes(), b"cookie\0session\0s3cr3t");
//!
//! let anonymous = Request::get("/").body(())?;
//! assert_eq!(keyer.key(&anonymous), KeyOutcome::NoKey(NoKey::Reject(StatusCode::FORBIDDEN)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ip;
mod keying;
mod source;

pub use ip::{MAX_FORWARDED_BYTES, MAX_FORWARDED_HOPS, ProxyHeader};
pub use keying::{Key, KeyOutcome, Keyer, KeyerBuilder, NoKey, SHARED_BUCKET_KEY};
pub use source::{CustomFn, DEFAULT_IPV6_PREFIX, MAX_HEADER_KEY_BYTES, RouteName, Source, Step};
