//! A tower middleware that rate-limits requests by key, with per-route policies.
//!
//! [`RateLimitLayer`] picks a [`Policy`] by the request path (routes added with
//! [`exact`](RateLimitLayer::exact) and [`prefix`](RateLimitLayer::prefix) are tried in
//! order, then the default), derives the request's key with the policy's keyer
//! ([`Keyer`](crate::Keyer), or anything implementing [`RequestKeyer`]) and checks it
//! against the policy's [`Backend`](crate::Backend).
//!
//! | request | answer |
//! |---|---|
//! | key within its quota | the inner service's response |
//! | key over its quota | `429 Too Many Requests` with `Retry-After`, `RateLimit`, `RateLimit-Policy` |
//! | no key, [`NoKey::Allow`](crate::NoKey::Allow) | the inner service's response |
//! | no key, [`NoKey::SharedBucket`](crate::NoKey::SharedBucket) | checked as one key shared by all such requests |
//! | no key, [`NoKey::Reject(status)`](crate::NoKey::Reject) | `status` |
//!
//! A limited response carries, for a policy named `api` allowing a burst of 10 that earns
//! back in 60 s, and a wait of 1.2 s:
//!
//! ```text
//! HTTP/1.1 429 Too Many Requests
//! retry-after: 2
//! ratelimit: "api";r=0;t=2
//! ratelimit-policy: "api";q=10;w=60
//! content-type: text/plain; charset=utf-8
//!
//! too many requests
//! ```
//!
//! (Structured Field syntax of draft-ietf-httpapi-ratelimit-headers; seconds are rounded
//! up, so a client that waits `Retry-After` is allowed; a `429` never says less than 1 s.) With
//! [`headers_on_allowed`](RateLimitLayer::headers_on_allowed), allowed responses carry
//! `RateLimit` with `r` the requests left and `t` the seconds until the whole burst is
//! available again (computed from `r`, so up to one interval late, and rounded up), and
//! `RateLimit-Policy` as well.
//!
//! Every limited request emits a `tracing` event at `INFO` (target `ratelimit::layer`)
//! with the policy name, the kind of source the key came from (`ip`, `cookie`, `header`,
//! …, or `shared-bucket`), the reason and the wait; never the key or anything it was
//! derived from (cookie values, header values, addresses).
//!
//! With an in-memory backend ([`Limiter`](crate::Limiter)) the decision is made inside
//! `call` and the response future is the inner service's future: nothing is boxed. A
//! remote backend's answer is awaited before the inner service is called.
//!
//! Keys come from a [`Keyer`](crate::Keyer); for anything else, implement
//! [`RequestKeyer`].
//!
//! # With axum 0.8
//!
//! ```
//! use std::num::{NonZeroU32, NonZeroUsize};
//! use axum::{Router, routing::{get, post}};
//! use http::HeaderName;
//! use ratelimit::{Keyer, Limiter, Policy, Quota, RateLimitLayer};
//!
//! let nz = |n| NonZeroU32::new(n).unwrap();
//! let capacity = NonZeroUsize::new(100_000).unwrap();
//! // By API key, else by peer address, else one bucket shared by the rest.
//! let keyer = Keyer::builder()
//!     .header(HeaderName::from_static("x-api-key"))
//!     .peer_ip()
//!     .build();
//! let api = Limiter::new(Quota::per_second(nz(10)), capacity);
//! let login = Limiter::new(Quota::per_minute(nz(5)), capacity);
//!
//! let limits = RateLimitLayer::new(Policy::new("api", keyer.clone(), api)?)
//!     .exact("/login", Policy::new("login", keyer, login)?)
//!     .headers_on_allowed(true);
//! let app: Router = Router::new()
//!     .route("/login", post(|| async { "welcome" }))
//!     .route("/items", get(|| async { "items" }))
//!     .layer(limits);
//! # Ok::<(), ratelimit::InvalidPolicyName>(())
//! ```
//!
//! Serve it with `into_make_service_with_connect_info::<SocketAddr>()` (and the `axum`
//! feature of this crate) so [`Keyer`](crate::Keyer)'s peer address is available.
//!
//! # With hyper 1 (or any tower service)
//!
//! ```
//! use std::convert::Infallible;
//! use std::num::{NonZeroU32, NonZeroUsize};
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hyper::body::Bytes;
//! use ratelimit::{Keyer, Limiter, NoKey, Policy, Quota, RateLimitLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = Limiter::new(
//!     Quota::per_second(NonZeroU32::new(1).unwrap()),
//!     NonZeroUsize::new(10_000).unwrap(),
//! );
//! let keyer = Keyer::builder()
//!     .header(http::HeaderName::from_static("x-api-key"))
//!     .no_key(NoKey::Reject(StatusCode::UNAUTHORIZED))
//!     .build();
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(Policy::new("per-key", keyer, limiter)?))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("ok")))
//!     }));
//!
//! let request = || Request::get("/").header("x-api-key", "alice").body(Full::default());
//! let response = service.clone().oneshot(request()?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! let response = service.clone().oneshot(request()?).await?;
//! assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(response.headers()["retry-after"], "1");
//! assert_eq!(response.headers()["ratelimit-policy"], r#""per-key";q=1;w=1"#);
//!
//! let anonymous = Request::get("/").body(Full::default())?;
//! let response = service.oneshot(anonymous).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! ```
//!
//! Served by hyper 1, one connection at a time:
//!
//! ```no_run
//! # use std::convert::Infallible;
//! # use std::num::{NonZeroU32, NonZeroUsize};
//! # use http::{Request, Response};
//! # use http_body_util::Full;
//! # use hyper::body::Bytes;
//! # use ratelimit::{Keyer, Limiter, Policy, Quota, RateLimitLayer};
//! # use tower::{ServiceBuilder, service_fn};
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = Limiter::new(
//!     Quota::per_second(NonZeroU32::new(20).unwrap()),
//!     NonZeroUsize::new(100_000).unwrap(),
//! );
//! let service = ServiceBuilder::new()
//!     .layer(RateLimitLayer::new(Policy::new(
//!         "per-peer",
//!         Keyer::builder().peer_ip().build(),
//!         limiter,
//!     )?))
//!     .service(service_fn(|_req: Request<hyper::body::Incoming>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("ok")))
//!     }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, peer) = listener.accept().await?;
//!     // The peer address, for the keyer.
//!     let service = ServiceBuilder::new()
//!         .map_request(move |mut req: Request<hyper::body::Incoming>| {
//!             req.extensions_mut().insert(peer);
//!             req
//!         })
//!         .service(service.clone());
//!     tokio::spawn(
//!         http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)),
//!     );
//! }
//! # }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::{InvalidPolicyName, Policy, RateLimitLayer, RequestKeyer};
pub use service::RateLimit;
