//! Fleet-wide TLS session resumption for rustls: a two-tier session cache whose shared tier
//! every instance reads and writes, and a ticket-key ring with past and pre-provisioned
//! future keys that every instance derives alike.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use std::sync::Arc;
//! use tls_resume::{DerivedKeys, KeyRingTicketer, MemorySharedStore, SessionCache};
//!
//! // One shared tier for the fleet (in memory here; a remote store implements the same
//! // `SharedStore` trait), one bounded local tier per instance.
//! let fleet = Arc::new(MemorySharedStore::new(NonZeroUsize::new(100_000).unwrap()));
//! let instance_a = SessionCache::new(NonZeroUsize::new(10_000).unwrap()).with_shared(fleet.clone());
//! let instance_b = SessionCache::new(NonZeroUsize::new(10_000).unwrap()).with_shared(fleet);
//!
//! use rustls::server::StoresServerSessions;
//! assert!(instance_a.put(vec![7; 32], b"session state".to_vec()));
//! assert_eq!(instance_b.get(&[7; 32]).as_deref(), Some(&b"session state"[..]));
//!
//! // Tickets: every instance derives the same per-epoch keys from one fleet secret.
//! use rustls::server::ProducesTickets;
//! let ticketer_a = KeyRingTicketer::builder(DerivedKeys::new([42; 32])).build()?;
//! let ticketer_b = KeyRingTicketer::builder(DerivedKeys::new([42; 32])).build()?;
//! let ticket = ticketer_a.encrypt(b"resumption state").unwrap();
//! assert_eq!(ticketer_b.decrypt(&ticket).as_deref(), Some(&b"resumption state"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Install them in each instance's `rustls::ServerConfig` (`session_storage` and `ticketer`).
//! Instances that share them must have equivalent certificate resolvers and client-certificate
//! verifiers, or a session from one could resume on another that requires more.
//!
//! # Incident 4
//!
//! LINE's gateway fleet terminates TLS for mobile clients that reconnect often; a full TLS 1.2
//! handshake costs 2 round trips (about 600 ms Korea to US), a resumed one 1. Session-id
//! resumption works only if every instance can find the session, so sessions lived in Redis,
//! the node for an id chosen by rendezvous hashing. Tickets avoid server state, but every
//! instance must hold the key a ticket was sealed with: keys rotate, each instance keeps a
//! window of past keys and pre-provisioned future keys, so no instance meets a ticket sealed
//! with a key it does not have yet. rustls, by contrast, keeps 256 sessions per process and
//! seals tickets with random keys private to the process, so behind N instances only about
//! 1/N of reconnects resume.
//!
//! - [`SessionCache`]: `StoresServerSessions` with a bounded local tier (LRU, per-entry TTL —
//!   rustls never expires sessions) in front of a [`SharedStore`]; TLS 1.3 stateful tickets
//!   are taken at most once fleet-wide.
//! - [`KeyRingTicketer`]: `ProducesTickets` sealing tickets with ChaCha20-Poly1305 under the
//!   current epoch's key; past epochs (default 12 h) and at least the next two epochs open
//!   them, so instances whose clocks differ by less than an epoch open each other's tickets;
//!   `lifetime()` reports the real window. Keys come from a [`KeySource`]: [`DerivedKeys`]
//!   (one fleet secret) or [`StaticKeys`] (a key file, like nginx's
//!   `ssl_session_ticket_key`); a networked source fills a [`KeyCache`].
//!
//! - [`ResumingAcceptor`]: rustls calls the session store synchronously inside the
//!   handshake, and its `ClientHello` exposes neither the session id nor the PSK identities.
//!   The acceptor peeks the first TLS record of an accepted TCP stream, reads just those ids
//!   ([`client_hello`], bounded parsing of untrusted bytes), lets a [`Prefetch`] copy the
//!   named sessions from the shared tier into the local one within a time budget, then runs
//!   the tokio-rustls handshake, which finds them in memory. It is a `tower::Service` over
//!   accepted TCP streams; a blocking variant serves users without tokio.
//! - [`RedisStore`]: the shared tier over several independent Redis nodes, the node for a key
//!   chosen by rendezvous hashing over SHA-256 (so removing a node moves only its keys);
//!   every call has a time budget and degrades to a miss (a full handshake); sessions are
//!   written behind through a bounded queue (drops counted); TLS 1.3 tickets are taken with
//!   `GETDEL`. [`RedisPrefetch`] plugs it into the acceptor; [`RedisKeySource`] shares ticket
//!   keys (any instance creates a future epoch's key with `SET NX`).
//!
//! `examples/src/bin/tls-instances.rs` in this repository runs several instances in one
//! process sharing state only through the store, checked with `openssl s_client` (`Reused`
//! on another instance, through a real Redis too); `benches/handshakes.rs` measures full vs
//! resumed handshakes, the fleet resumption rate and the latency the Redis tier adds.
//!
//! # Dependencies
//!
//! rustls 0.23 with the `ring` provider (no CMake or assembler needed to build) and
//! tokio-rustls; `chacha20poly1305` for ticket sealing; `hmac` + `sha2` for HKDF-Expand key
//! derivation and rendezvous hashing; `redis` 1.x for the shared tier; `lru` for the local
//! tier; `getrandom` for ticket nonces and keys; `zeroize` for secrets.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod acceptor;
pub mod client_hello;
pub mod clock;
pub mod redis;
pub mod session_cache;
pub mod ticketer;

pub use acceptor::{CachePrefetch, NoPrefetch, Prefetch, ResumingAcceptor};
pub use client_hello::{ClientHelloError, ClientHelloIds};
pub use redis::{RedisKeySource, RedisPrefetch, RedisStore};
pub use session_cache::{MemorySharedStore, SessionCache, SharedStore};
pub use ticketer::{DerivedKeys, KeyCache, KeyRingTicketer, KeySource, StaticKeys, TicketKey};
