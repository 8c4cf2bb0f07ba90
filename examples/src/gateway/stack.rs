//! The gateway's one `tower::ServiceBuilder` stack and its routes.
//!
//! The toolkit layers compose like any tower layers. The same three the gateway uses, for
//! your own axum app (this is the README's "Composition" example, compiled here):
//!
//! ```
//! use std::num::{NonZeroU32, NonZeroUsize};
//!
//! use axum::{Router, routing::get};
//! use cookie_migrate::{CookieMigration, CookieMigrationLayer, Legacy, Scope};
//! use ratelimit::cookie::ValidateCookieLayer;
//! use ratelimit::{Keyer, Limiter, Policy, Quota, RateLimitLayer};
//! use tower::ServiceBuilder;
//!
//! fn app() -> Result<Router, Box<dyn std::error::Error>> {
//!     // Your session store's lookup: the one judge of a session cookie.
//!     let is_live = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
//!
//!     // The session cookie is `__Host-sid` now; browsers still hold `sid` in two scopes.
//!     let migration = CookieMigration::builder("__Host-sid")
//!         .validator(is_live)
//!         .legacy(
//!             Legacy::named("sid")
//!                 .scope(Scope::domain("example.com"))
//!                 .scope(Scope::host_only()),
//!         )
//!         .build()?;
//!     // Keyed by the validated session, else the client address behind your proxies
//!     // (IPv6 by /64), else the peer address; at most 100 000 keys in memory.
//!     let keyer = Keyer::builder()
//!         .validated_cookie()
//!         .client_ip(["10.0.0.0/8".parse()?])
//!         .peer_ip()
//!         .build();
//!     let limiter = Limiter::new(
//!         Quota::per_second(NonZeroU32::new(50).unwrap()).with_burst(NonZeroU32::new(100).unwrap()),
//!         NonZeroUsize::new(100_000).unwrap(),
//!     );
//!
//!     Ok(Router::new()
//!         .route("/", get(|| async { "hello" }))
//!         .layer(
//!             ServiceBuilder::new()
//!                 // 1. one `__Host-sid` reaches the app; a legacy `sid` is moved over.
//!                 .layer(CookieMigrationLayer::new(migration))
//!                 // 2. that cookie is judged once, for every later decision.
//!                 .layer(ValidateCookieLayer::new("__Host-sid", move |_: &str, id: &str| is_live(id)))
//!                 // 3. `429 Too Many Requests` with `Retry-After` past the quota.
//!                 .layer(RateLimitLayer::new(Policy::new("default", keyer, limiter)?)),
//!         ))
//! }
//! // Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so the keyer
//! // sees the peer address.
//! # let _app = app().unwrap();
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use cookie_migrate::{CookieMigration, CookieMigrationLayer};
use ratelimit::cookie::ValidateCookieLayer;
use ratelimit::{Backend, Keyer, NoKey, Policy, RateLimitLayer};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;

use super::config::RateSettings;
use super::metrics::{HttpCounters, Metrics};
use crate::shop::{CURRENT_COOKIE, Sessions, Shop};
use crate::voice::Ivr;

/// The rate limiter's layer: the default policy keyed by the validated session cookie,
/// then the client address behind `rate.trusted_proxies`, then the peer address (IPv6 by
/// /64); `/healthz` unlimited.
///
/// # Errors
///
/// Never with the names used here; the type is `Policy::new`'s.
pub fn rate_limit_layer(
    rate: &RateSettings,
    backend: impl Backend + Clone,
) -> Result<RateLimitLayer, ratelimit::InvalidPolicyName> {
    let keyer = Keyer::builder()
        .validated_cookie()
        .client_ip(rate.trusted_proxies.iter().copied())
        .peer_ip()
        .build();
    let unlimited = Keyer::builder().no_key(NoKey::Allow).build();
    Ok(
        RateLimitLayer::new(Policy::new("gateway", keyer, backend.clone())?)
            .exact("/healthz", Policy::new("healthz", unlimited, backend)?),
    )
}

/// The one cookie validator: a `__Host-sid` cookie is valid when the shop's store holds
/// its session.
pub fn cookie_validator(sessions: &Sessions) -> ValidateCookieLayer {
    let sessions = sessions.clone();
    ValidateCookieLayer::new(CURRENT_COOKIE, move |_: &str, id: &str| {
        sessions.contains(id)
    })
}

/// The routes: `/`, `/healthz`, `/metrics`, the shop under `/shop` and the IVR under
/// `/voice` (behind its signature layer).
pub fn routes(shop: &Shop, ivr: &Ivr, metrics: Metrics) -> Router {
    app_routes(shop, metrics).merge(ivr.router())
}

/// The routes without any toolkit layer: `/`, `/healthz`, `/metrics` and the shop under
/// `/shop` — [`routes`] but for the IVR, which is only served behind its signature layer.
/// With [`bare_service`], `--layers none`.
pub fn app_routes(shop: &Shop, metrics: Metrics) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .with_state(metrics)
        .nest("/shop", shop.routes())
}

/// The gateway's service: `routes` behind one `ServiceBuilder` stack — request tracing,
/// the response counters, the cookie migration, the cookie validator and the rate limiter.
///
/// The migration runs before the validator so that the one cookie the validator judges
/// (and the keyer keys by) is the migrated `__Host-sid`, whatever generation the browser
/// sent.
pub fn service(
    routes: Router,
    counters: Arc<HttpCounters>,
    migration: CookieMigration,
    cookies: ValidateCookieLayer,
    limits: RateLimitLayer,
) -> impl GatewayService {
    let toolkit = ServiceBuilder::new()
        .layer(CookieMigrationLayer::new(migration))
        .layer(cookies)
        .layer(limits)
        .service(routes);
    traced(toolkit, counters)
}

/// The baseline of `--layers none`: `routes` behind the same request tracing and response
/// counters as [`service`], without the toolkit layers (no cookie migration, cookie
/// validator or rate limiter). Benchmarks compare [`service`] with this over the same TLS
/// listener and server loop; it is not a configuration to expose.
pub fn bare_service(routes: Router, counters: Arc<HttpCounters>) -> impl GatewayService {
    traced(routes, counters)
}

/// What both stacks answer with: axum bodies wrapped by the trace layer.
pub type GatewayResponse = http::Response<
    tower_http::trace::ResponseBody<
        axum::body::Body,
        tower_http::classify::NeverClassifyEos<tower_http::classify::ServerErrorsFailureClass>,
    >,
>;

/// A stack the server loop can run: [`service`] or [`bare_service`].
pub trait GatewayService:
    tower::Service<
        http::Request<hyper::body::Incoming>,
        Response = GatewayResponse,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> GatewayService for S where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = GatewayResponse,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// `inner` behind request tracing and the response counters, the part both stacks share.
fn traced<S>(inner: S, counters: Arc<HttpCounters>) -> impl GatewayService
where
    S: tower::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<axum::body::Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static,
{
    ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .map_response(move |response: http::Response<axum::body::Body>| {
            counters.response(response.status());
            response
        })
        .service(inner)
}

async fn index() -> impl IntoResponse {
    "toolkit gateway\n\
     POST /voice, /voice/next/   a Twilio IVR (signed requests only)\n\
     GET  /shop                  a shop: /shop/login?user=alice, /shop/cart/add?item=tea\n\
     GET  /healthz               ok\n\
     GET  /metrics               every crate's counters (Prometheus)\n"
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn render_metrics(State(metrics): State<Metrics>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics.render(),
    )
}
