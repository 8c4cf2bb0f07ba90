//! One cookie validator for every decision.
//!
//! [`ValidateCookieLayer`] parses every `Cookie` header of a request once, with the
//! `cookie` crate's [`Cookie::split_parse`](::cookie::Cookie::split_parse) (names and values
//! are not percent-decoded), collects the cookies with the configured name in header
//! order, asks the [`CookieValidator`] about each in that order and takes the first valid
//! one. It stores the verdict in the request extensions: always a [`CookieDecision`], and
//! a [`ValidatedCookie`] when a cookie was valid. The optional gate
//! ([`require_valid`](ValidateCookieLayer::require_valid)), the keyer's
//! [`Source::ValidatedCookie`](crate::keyer::Source::ValidatedCookie) and the application
//! all read that one decision, so they cannot disagree about which cookie a request
//! carries, however many it sends (Cloudflare's 2024-06-20 outage began with two cookie
//! validators that did).
//!
//! The work per request is bounded: `Cookie` headers over
//! [`DEFAULT_MAX_BYTES`] in total (configurable) are not parsed, and requests with more
//! than [`DEFAULT_MAX_CANDIDATES`] cookies of the configured name are not judged; both
//! count as carrying no valid cookie. Requests with several cookies of the name (including
//! too many) are counted ([`ValidateCookieLayer::ambiguous`]): a steady count points at a
//! client or a cookie migration that leaves duplicates behind.
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use ratelimit::cookie::{ValidateCookieLayer, ValidatedCookie};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A real validator checks a signature or looks the session up.
//! let layer = ValidateCookieLayer::new("session", |_name: &str, value: &str| value.starts_with("ok-"))
//!     .require_valid(StatusCode::FORBIDDEN);
//! let service = ServiceBuilder::new()
//!     .layer(layer.clone())
//!     .service(service_fn(|req: Request<()>| async move {
//!         let cookie = req.extensions().get::<ValidatedCookie>().expect("gated");
//!         Ok::<_, Infallible>(Response::new(cookie.value().to_owned()))
//!     }));
//!
//! let request = Request::get("/")
//!     .header("cookie", "session=forged; theme=dark")
//!     .header("cookie", "session=ok-42")
//!     .body(())?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.into_body(), "ok-42");
//! assert_eq!(layer.ambiguous(), 1, "two `session` cookies");
//!
//! let request = Request::get("/").header("cookie", "session=forged").body(())?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use ::cookie::Cookie;
use http::{HeaderMap, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The default limit on the `Cookie` headers of a request, all instances together: 8 KiB.
pub const DEFAULT_MAX_BYTES: usize = 8 * 1024;

/// The default limit on cookies with the configured name in one request: 8.
pub const DEFAULT_MAX_CANDIDATES: usize = 8;

/// Decides whether a cookie is valid: the one validator every decision uses.
///
/// # Contract
///
/// - `name` and `value` are untrusted, exactly as the client sent them (not
///   percent-decoded, not unquoted): check the value cryptographically (an HMAC compared
///   in constant time, e.g. with `subtle`) or by looking it up, never by its shape alone.
///   A value that passes becomes a rate-limit key, so a validator that accepts values an
///   attacker can mint lets the attacker have a fresh bucket per request.
/// - It must be deterministic and side-effect free for a given `(name, value)`: the
///   middleware judges each candidate once, in header order, and the answer must not
///   depend on what else the request carries.
/// - It must finish in bounded time and must not block (it runs on the request path, up
///   to [`DEFAULT_MAX_CANDIDATES`] times per request); a lookup that can be slow should be
///   cached.
/// - It must not log or otherwise expose the value.
///
/// Closures `Fn(&str, &str) -> bool` implement it.
pub trait CookieValidator: Send + Sync + 'static {
    /// Whether the cookie `name=value` is valid.
    fn is_valid(&self, name: &str, value: &str) -> bool;
}

impl<F> CookieValidator for F
where
    F: Fn(&str, &str) -> bool + Send + Sync + 'static,
{
    fn is_valid(&self, name: &str, value: &str) -> bool {
        self(name, value)
    }
}

/// The cookie a request carries, as judged valid by [`ValidateCookieLayer`]: stored in the
/// request extensions. Its `Debug` output hides the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ValidatedCookie {
    name: String,
    value: String,
}

impl ValidatedCookie {
    /// A validated cookie. Whoever inserts one into a request vouches for it: normally
    /// only [`ValidateCookieLayer`] does (and tests).
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cookie's value, as sent.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for ValidatedCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedCookie")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What [`ValidateCookieLayer`] decided about a request; stored in its extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieDecision {
    /// A cookie of the name was valid: the request carries a [`ValidatedCookie`].
    Valid {
        /// How many cookies of the name the request carried.
        candidates: usize,
    },
    /// No cookie of the name.
    Absent,
    /// Cookies of the name, none valid.
    Invalid {
        /// How many cookies of the name the request carried.
        candidates: usize,
    },
    /// The `Cookie` headers were over the byte limit and were not parsed.
    TooLarge,
    /// More cookies of the name than the limit; none was judged.
    TooMany,
}

impl CookieDecision {
    /// Whether the request carries a valid cookie.
    pub fn is_valid(&self) -> bool {
        matches!(self, CookieDecision::Valid { .. })
    }
}

struct Config {
    name: String,
    validator: Arc<dyn CookieValidator>,
    max_bytes: usize,
    max_candidates: usize,
    gate: Option<StatusCode>,
    ambiguous: AtomicU64,
}

/// Validates one cookie for every later decision, optionally gating on it. See the
/// [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct ValidateCookieLayer {
    // Shared by every service the layer makes, so `ambiguous()` counts them all.
    config: Arc<Config>,
}

impl fmt::Debug for ValidateCookieLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidateCookieLayer")
            .field("name", &self.config.name)
            .field("max_bytes", &self.config.max_bytes)
            .field("max_candidates", &self.config.max_candidates)
            .field("gate", &self.config.gate)
            .field("ambiguous", &self.ambiguous())
            .finish_non_exhaustive()
    }
}

impl ValidateCookieLayer {
    /// Judges the cookies named `name` with `validator`.
    pub fn new(name: impl Into<String>, validator: impl CookieValidator) -> Self {
        Self {
            config: Arc::new(Config {
                name: name.into(),
                validator: Arc::new(validator),
                max_bytes: DEFAULT_MAX_BYTES,
                max_candidates: DEFAULT_MAX_CANDIDATES,
                gate: None,
                ambiguous: AtomicU64::new(0),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        // Before the layer is cloned or applied the Arc is unique; afterwards a setter
        // starts a new configuration (and a new counter).
        if Arc::get_mut(&mut self.config).is_none() {
            let c = &self.config;
            self.config = Arc::new(Config {
                name: c.name.clone(),
                validator: Arc::clone(&c.validator),
                max_bytes: c.max_bytes,
                max_candidates: c.max_candidates,
                gate: c.gate,
                ambiguous: AtomicU64::new(0),
            });
        }
        Arc::get_mut(&mut self.config).expect("unique")
    }

    /// The most bytes of `Cookie` headers parsed per request (all instances together);
    /// over it, the request carries no valid cookie. The default is [`DEFAULT_MAX_BYTES`].
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.config_mut().max_bytes = bytes;
        self
    }

    /// The most cookies of the name judged per request; over it, the request carries no
    /// valid cookie. The default is [`DEFAULT_MAX_CANDIDATES`].
    pub fn max_candidates(mut self, candidates: usize) -> Self {
        self.config_mut().max_candidates = candidates;
        self
    }

    /// Answers requests without a valid cookie with `status` (e.g. 403) and an empty body.
    pub fn require_valid(mut self, status: StatusCode) -> Self {
        self.config_mut().gate = Some(status);
        self
    }

    /// How many requests carried several cookies of the name, over every service made by
    /// this layer (and its clones).
    pub fn ambiguous(&self) -> u64 {
        self.config.ambiguous.load(Ordering::Relaxed)
    }

    /// Judges `request` and records the decision in its extensions, as the middleware
    /// does (for use outside tower). Any [`ValidatedCookie`] already there is removed
    /// first.
    pub fn apply<B>(&self, request: &mut Request<B>) -> CookieDecision {
        apply(&self.config, request)
    }
}

fn apply<B>(config: &Config, request: &mut Request<B>) -> CookieDecision {
    request.extensions_mut().remove::<ValidatedCookie>();
    let (decision, cookie) = decide(config, request.headers());
    if let Some(cookie) = cookie {
        request.extensions_mut().insert(cookie);
    }
    request.extensions_mut().insert(decision);
    decision
}

/// The one parse and judgement of a request's cookies.
fn decide(config: &Config, headers: &HeaderMap) -> (CookieDecision, Option<ValidatedCookie>) {
    let values = headers.get_all(http::header::COOKIE);
    let total: usize = values.iter().map(|v| v.len()).sum();
    if total > config.max_bytes {
        return (CookieDecision::TooLarge, None);
    }
    let mut candidates: Vec<String> = Vec::new();
    for value in values {
        // Non-UTF-8 bytes only spoil the cookie they are in, whatever the order.
        let text = String::from_utf8_lossy(value.as_bytes());
        for cookie in Cookie::split_parse(text).flatten() {
            if cookie.name() != config.name {
                continue;
            }
            if candidates.len() == config.max_candidates {
                config.ambiguous.fetch_add(1, Ordering::Relaxed);
                return (CookieDecision::TooMany, None);
            }
            candidates.push(cookie.value().to_owned());
        }
    }
    let count = candidates.len();
    if count > 1 {
        config.ambiguous.fetch_add(1, Ordering::Relaxed);
    }
    if count == 0 {
        return (CookieDecision::Absent, None);
    }
    for value in &candidates {
        if config.validator.is_valid(&config.name, value) {
            return (
                CookieDecision::Valid { candidates: count },
                Some(ValidatedCookie::new(config.name.clone(), value.as_str())),
            );
        }
    }
    (CookieDecision::Invalid { candidates: count }, None)
}

/// Middleware that validates a cookie once per request. See the [module docs](self).
#[derive(Clone)]
pub struct ValidateCookie<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for ValidateCookie<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidateCookie")
            .field("inner", &self.inner)
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

impl<S> ValidateCookie<S> {
    /// A layer; the same as [`ValidateCookieLayer::new`].
    pub fn layer(name: impl Into<String>, validator: impl CookieValidator) -> ValidateCookieLayer {
        ValidateCookieLayer::new(name, validator)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// How many requests carried several cookies of the name, over every service made by
    /// the same layer (see [`ValidateCookieLayer::ambiguous`]).
    pub fn ambiguous(&self) -> u64 {
        self.config.ambiguous.load(Ordering::Relaxed)
    }
}

impl<S> Layer<S> for ValidateCookieLayer {
    type Service = ValidateCookie<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ValidateCookie {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for ValidateCookie<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let decision = apply(&self.config, &mut request);
        match self.config.gate {
            Some(status) if !decision.is_valid() => {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = status;
                ResponseFuture {
                    kind: Kind::Rejected {
                        response: Some(response),
                    },
                }
            }
            _ => ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(request),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`ValidateCookie`].
    pub struct ResponseFuture<F, ResBody> {
        #[pin]
        kind: Kind<F, ResBody>,
    }
}

impl<F, ResBody> fmt::Debug for ResponseFuture<F, ResBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody> {
        Inner {
            #[pin]
            future: F,
        },
        Rejected {
            response: Option<Response<ResBody>>,
        },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Rejected { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> ValidateCookieLayer {
        ValidateCookieLayer::new("s", |_: &str, v: &str| v.starts_with("ok"))
    }

    fn decide_headers(layer: &ValidateCookieLayer, cookies: &[&str]) -> CookieDecision {
        let mut req = Request::new(());
        for c in cookies {
            req.headers_mut()
                .append(http::header::COOKIE, c.parse().unwrap());
        }
        layer.apply(&mut req)
    }

    #[test]
    fn decisions() {
        let l = layer();
        assert_eq!(decide_headers(&l, &[]), CookieDecision::Absent);
        assert_eq!(decide_headers(&l, &["t=ok"]), CookieDecision::Absent);
        assert_eq!(
            decide_headers(&l, &["s=bad; s=ok1"]),
            CookieDecision::Valid { candidates: 2 }
        );
        assert_eq!(
            decide_headers(&l, &["s=bad", "s=nope"]),
            CookieDecision::Invalid { candidates: 2 }
        );
        assert_eq!(l.ambiguous(), 2);
        let big = format!("s=ok; x={}", "a".repeat(DEFAULT_MAX_BYTES));
        assert_eq!(decide_headers(&l, &[&big]), CookieDecision::TooLarge);
        let many = ["s=no"; DEFAULT_MAX_CANDIDATES + 1].join("; ");
        assert_eq!(decide_headers(&l, &[&many]), CookieDecision::TooMany);
        assert_eq!(l.ambiguous(), 3, "too many candidates is ambiguous too");
        // Names are matched exactly, not percent-decoded.
        assert_eq!(decide_headers(&l, &["%73=ok"]), CookieDecision::Absent);
    }

    #[test]
    fn a_forged_extension_is_replaced() {
        let l = layer();
        let mut req = Request::new(());
        req.extensions_mut()
            .insert(ValidatedCookie::new("s", "forged"));
        assert_eq!(l.apply(&mut req), CookieDecision::Absent);
        assert!(req.extensions().get::<ValidatedCookie>().is_none());
        assert!(!format!("{:?}", ValidatedCookie::new("s", "secret")).contains("secret"));
    }

    #[test]
    fn setters_after_clone_do_not_share_state() {
        let a = layer();
        let b = a.clone().max_bytes(10);
        assert_eq!(a.config.max_bytes, DEFAULT_MAX_BYTES);
        assert_eq!(b.config.max_bytes, 10);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// With one valid cookie among invalid ones of the same name (and others), the
            /// decision does not depend on their order or on how they are split into
            /// headers.
            #[test]
            fn one_valid_cookie_is_found_in_any_order(
                invalid in proptest::collection::vec("[a-z0-9._-]{0,8}", 0..6),
                others in proptest::collection::vec("[a-z]{1,4}=[a-z0-9]{0,4}", 0..3),
                seed in any::<u64>(),
                split in any::<prop::sample::Index>(),
            ) {
                let l = ValidateCookieLayer::new("s", |_: &str, v: &str| v == "ok-1");
                let mut cookies: Vec<String> =
                    invalid.iter().map(|v| format!("s={v}")).collect();
                cookies.extend(others.iter().filter(|c| !c.starts_with("s=")).cloned());
                cookies.push("s=ok-1".to_owned());
                // A seeded shuffle (Fisher-Yates with an LCG).
                let mut state = seed;
                for i in (1..cookies.len()).rev() {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    cookies.swap(i, (state >> 33) as usize % (i + 1));
                }
                let at = split.index(cookies.len() + 1);
                let (a, b) = cookies.split_at(at);
                let mut req = Request::new(());
                for part in [a, b] {
                    if !part.is_empty() {
                        req.headers_mut().append(
                            http::header::COOKIE,
                            part.join("; ").parse().unwrap(),
                        );
                    }
                }
                prop_assert!(l.apply(&mut req).is_valid());
                prop_assert_eq!(
                    req.extensions().get::<ValidatedCookie>().map(ValidatedCookie::value),
                    Some("ok-1")
                );
            }
        }
    }
}
