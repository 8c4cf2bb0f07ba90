//! The `gateway` example, the main job: every toolkit crate in one process.
//!
//! - HTTPS (HTTP/1.1 and HTTP/2 through ALPN) through `tls_resume` — a session cache over
//!   a shared tier and key-ring tickets — and one `tower::ServiceBuilder` stack
//!   ([`service`]): request tracing, the response counters, `cookie_migrate` (a legacy
//!   `sid` moved to `__Host-sid`), `ratelimit`'s cookie validator and rate limiter (keyed
//!   by the validated session, else the client IP behind trusted proxies, else the peer IP
//!   by /64). Routes ([`routes`]): `/voice`, `/voice/next/` (a TwiML IVR behind
//!   `twiml::TwilioSignatureLayer`, [`crate::voice`]), `/shop` (login + cart,
//!   [`crate::shop`]), `/healthz`, `/metrics` (every crate's counters, [`Metrics`]).
//! - TURN over UDP with `turn_auth` (static users and REST-secret credentials,
//!   [`crate::turn`]).
//! - `--redis redis://…` moves the rate limits, TLS sessions and ticket keys to Redis;
//!   `--config gateway.toml` sets everything the flags set ([`parse_args`], [`USAGE`]).
//! - Everything is bounded: connections, header sizes and read timeouts ([`server`]),
//!   session stores, the rate limiter's keys, TURN allocations.
//! - SIGINT and SIGTERM stop accepting and let in-flight requests finish.
//! - `--layers none` serves the same app without the toolkit's HTTP layers, over the same
//!   TLS listener and server loop: the baseline `scripts/bench-gateway` measures the
//!   stack against ([`Layers`], [`bare_service`]).
//!
//! [`run`] starts it and prints the [`banner`].
//!
//! # Composition
#![doc = "See [`stack`] for the three toolkit layers composed in your own axum app."]

mod config;
mod metrics;
mod run;
pub mod server;
pub mod stack;
mod tls;

pub use config::{
    Command, Config, DEFAULT_BURST, DEFAULT_COOKIE_DOMAIN, DEFAULT_HTTPS, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PER_SECOND, DEFAULT_RATE_CAPACITY, DEFAULT_REALM, DEFAULT_SESSIONS, DEFAULT_TURN,
    DEFAULT_TURN_USER, Layers, RateSettings, USAGE, parse_args,
};
pub use metrics::{HttpCounters, Metrics, RateBackend, TlsShared};
pub use run::{Listening, banner, run};
pub use stack::{app_routes, bare_service, cookie_validator, rate_limit_layer, routes, service};
pub use tls::{GatewayTls, load_pem};
