//! A keyed GCRA rate limiter with strictly bounded memory, key derivation that cannot loop,
//! one cookie validator for every decision, and a Redis backend for fleets.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::num::{NonZeroU32, NonZeroUsize};
//! use http::{Request, StatusCode};
//! use ratelimit::cookie::{ValidateCookieLayer, ValidatedCookie};
//! use ratelimit::{KeyOutcome, Keyer, Limiter, Quota};
//!
//! // One validator decides which session cookie is valid, once per request.
//! let cookies = ValidateCookieLayer::new("session", |_name: &str, value: &str| value.starts_with("s-"));
//! // The key: the validated session, else the client's address (a NAT full of users with
//! // their own sessions is not one key), built once, walked once, nothing recursive.
//! let keyer = Keyer::builder().validated_cookie().peer_ip().build();
//! let limiter = Limiter::new(
//!     Quota::per_minute(NonZeroU32::new(5).unwrap()),
//!     NonZeroUsize::new(50_000).unwrap(), // at most 50 000 states, whatever the traffic
//! );
//!
//! let mut request = Request::get("/cart")
//!     .header("cookie", "session=forged; session=s-alice")
//!     .body(())?;
//! request.extensions_mut().insert("203.0.113.7:40000".parse::<SocketAddr>()?);
//! cookies.apply(&mut request);
//! assert_eq!(request.extensions().get::<ValidatedCookie>().map(|c| c.value()), Some("s-alice"));
//! let KeyOutcome::Key(key) = keyer.key(&request) else { unreachable!() };
//! assert!(limiter.check(key.as_bytes()).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Incident 3, and what prevents it here
//!
//! On 2024-06-20 a new DDoS rule at Cloudflare rate-limited suspicious requests by cookie
//! value: requests without a valid cookie were blocked; the others were keyed by their
//! cookie. The key function ended in `else return parent_key_generator();`, and through an
//! unexpected use of an internal API the parent was the function itself. A second cookie
//! validator disagreed with the first when a request carried several cookies, some valid and
//! some not, so the fallback branch ran — and called itself forever (Lua's proper tail calls:
//! no stack overflow, a process at 100 % CPU). Load balancers moved the poisoning requests
//! on, spreading the damage: 114 minutes of elevated errors, up to 2.1 % of requests failed.
//! Keying by IP address instead punishes everyone behind one NAT.
//!
//! | failure | here |
//! |---|---|
//! | a key generator that calls itself | a [`Keyer`] is a flat list of sources built once and walked once; [`config`] resolves fallbacks at load time and refuses cycles (`a -> b -> a`), unknown names and chains deeper than 8 |
//! | two validators that disagree | [`cookie::ValidateCookieLayer`] decides once, in header order, and stores [`cookie::ValidatedCookie`]; the gate, the keyer and the application read that decision and nothing re-parses cookies |
//! | unbounded work per request | key derivation is linear in the header bytes, with caps on forwarded hops and header sizes |
//! | memory exhaustion by key floods | a sharded table of fixed capacity over fixed-width keyed hashes, never larger than its capacity needs, with CLOCK (approximate least-recently-used) eviction; [`Overflow::SharedBucket`] keeps a flood from evicting the keys it is limiting |
//! | NAT users punished as one | validated session first, then the client address (IPv6 grouped by /64), from `X-Forwarded-For`/`Forwarded` only through trusted proxies |
//!
//! # Modules
//!
//! | item | what |
//! |---|---|
//! | [`Limiter`], [`Quota`] | GCRA on one 64-bit theoretical arrival time per key; exact `retry_after` |
//! | [`keyer`] | finite key derivation |
//! | [`cookie`] | the one cookie validator, as a tower layer |
//! | [`config`] | named policies and keyers from TOML or JSON, checked at load |
//! | [`layer`] | [`RateLimitLayer`]: `429` with `Retry-After` and the `RateLimit` headers |
//! | [`redis`] | [`RedisStore`]: one rate for a fleet, failing open (or closed) within a time budget |
//! | [`clock`] | the limiter's time: std's `Instant` by default; `QuantaClock`, the TSC, with the `quanta` feature (faster, but see its docs on cores whose counters disagree) |
//!
//! # Dependencies
//!
//! Beyond the family's common set (tower, http, thiserror, tracing, serde): `cookie`
//! to split `Cookie` headers (names are not percent-decoded), `ipnet` for trusted-proxy
//! networks and IPv6 prefixes, `toml` and `serde_json` for configuration, `redis` 1.x for
//! the fleet backend, and `sha2` to map keys to collision-resistant Redis keys. Optional:
//! `quanta` (feature `quanta`) for the TSC clock. `portable-atomic` for the one type std
//! does not offer on stable Rust, a 128-bit atomic: each entry's key tag and state are
//! compare-and-swapped together, which is what lets checks take no lock. It is native on
//! x86-64 (`cmpxchg16b`, detected at run time), AArch64 and a few others; elsewhere the
//! crate falls back to a lock of its own, still correct but slower.
//!
//! The in-memory store is not the `lru` crate the rest of the family uses: an `lru` lookup
//! needs `&mut` (it moves the entry to the front), so every check of every key would take an
//! exclusive lock, and each entry is a separate allocation with two list pointers (about
//! 84 bytes per entry measured). The store here is a table of 16-byte atomic slots per
//! shard: a check of a known key takes no lock at all (one 128-bit compare-and-swap of the
//! key's tag and state together), only admitting or evicting a key takes the shard's lock,
//! and an entry costs about 37 bytes.
//!
//! # Memory
//!
//! Each shard's table starts at 64 slots and doubles as keys arrive, up to the size that
//! holds its share of the capacity at most three quarters full, and never beyond: about
//! 37 bytes per unit of capacity once full (measured: 1 M entries, 37.5 B/entry,
//! `tests/flood.rs`), whatever the keys' length and however many distinct keys arrive.
//! A limiter that meets fewer keys than its capacity uses memory for those keys only.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
pub mod clock;
pub mod config;
pub mod cookie;
mod gcra;
pub mod keyer;
pub mod layer;
mod limiter;
mod quota;
pub mod redis;
mod store;

pub use crate::redis::{
    FailurePolicy, RedisStore, RedisStoreBuilder, RedisStoreError, RedisStoreStats,
};
pub use backend::{Backend, Check};
pub use keyer::{Key, KeyOutcome, Keyer, NoKey};
pub use layer::{InvalidPolicyName, Policy, RateLimit, RateLimitLayer, RequestKeyer};
pub use limiter::{Allowed, InsufficientCapacity, Limited, LimitedReason, Limiter, LimiterStats};
pub use quota::Quota;
pub use store::Overflow;
