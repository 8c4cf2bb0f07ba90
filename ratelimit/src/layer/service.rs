use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use tower_service::Service;

use super::future::{Pending, ResponseFuture};
use super::layer::{Config, Meta, Policy, RateLimitLayer, RequestKeyer};
use crate::keyer::{Keyer, NoKey, SHARED_BUCKET_KEY};
use crate::limiter::{Allowed, Limited};

// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// Middleware that rate-limits requests by key. See the [module docs](super).
pub struct RateLimit<S, K = Keyer> {
    inner: S,
    config: Arc<Config<K>>,
}

impl<S: Clone, K> Clone for RateLimit<S, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::clone(&self.config),
        }
    }
}

impl<S: fmt::Debug, K> fmt::Debug for RateLimit<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, K: RequestKeyer> RateLimit<S, K> {
    /// Wraps `inner`, limiting every request by `default`; the same as applying
    /// [`RateLimitLayer::new`].
    pub fn new(inner: S, default: Policy<K>) -> Self {
        use tower_layer::Layer;
        RateLimitLayer::new(default).layer(inner)
    }

    /// A layer limiting every request by `default`.
    pub fn layer(default: Policy<K>) -> RateLimitLayer<K> {
        RateLimitLayer::new(default)
    }
}

impl<S, K> RateLimit<S, K> {
    pub(super) fn from_config(inner: S, config: Arc<Config<K>>) -> Self {
        Self { inner, config }
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
}

impl<S, K, B, ResBody> Service<Request<B>> for RateLimit<S, K>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    K: RequestKeyer,
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = &*self.config;
        let policy = config.policy_for(request.uri().path());
        let (mut check, source) = match policy.keyer.key_of(&request) {
            Ok(key) => (policy.backend.check(K::key_bytes(&key)), K::key_kind(&key)),
            Err(NoKey::SharedBucket) => (policy.backend.check(SHARED_BUCKET_KEY), SHARED_SOURCE),
            Err(NoKey::Allow) => return ResponseFuture::inner(self.inner.call(request), None),
            Err(NoKey::Reject(status)) => {
                return ResponseFuture::ready(no_key_response(status, &policy.meta));
            }
        };
        // In-memory backends answer at once: decide here, without moving the request or
        // cloning the inner service.
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut check).poll(&mut cx) {
            Poll::Ready(result) => {
                match judge(result, &policy.meta, source, config.headers_on_allowed) {
                    Ok(headers) => ResponseFuture::inner(self.inner.call(request), headers),
                    Err(response) => ResponseFuture::ready(response),
                }
            }
            Poll::Pending => {
                // The service that was driven to readiness is the one that must be called.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::checking(
                    check,
                    Pending {
                        inner,
                        request,
                        meta: Arc::clone(&policy.meta),
                        source,
                        headers_on_allowed: config.headers_on_allowed,
                    },
                )
            }
        }
    }
}

/// The kind of source the checked key came from: all that is logged about it.
pub(super) type Source = &'static str;

const SHARED_SOURCE: Source = "shared-bucket";

/// Headers for an allowed request (`RateLimit`, `RateLimit-Policy`).
pub(super) type AllowedHeaders = Option<[HeaderValue; 2]>;

/// The backend's answer as headers to add to the inner response, or the `429` to send.
pub(super) fn judge<ResBody: From<&'static str>>(
    result: Result<Allowed, Limited>,
    meta: &Meta,
    source: Source,
    headers_on_allowed: bool,
) -> Result<AllowedHeaders, Response<ResBody>> {
    match result {
        Ok(allowed) if headers_on_allowed => {
            let remaining = allowed.remaining_burst();
            // Until the bucket is full again, at most (used requests) × interval.
            let used = meta.burst.saturating_sub(remaining);
            let reset = ceil_secs(meta.interval.saturating_mul(used));
            let ratelimit = header(format!("{};r={remaining};t={reset}", meta.quoted));
            Ok(Some([ratelimit, meta.policy_header.clone()]))
        }
        Ok(_) => Ok(None),
        Err(limited) => Err(limited_response(&limited, meta, source)),
    }
}

fn limited_response<ResBody: From<&'static str>>(
    limited: &Limited,
    meta: &Meta,
    source: Source,
) -> Response<ResBody> {
    let wait = ceil_secs(limited.retry_after()).max(1);
    tracing::info!(
        target: "ratelimit::layer",
        policy = &*meta.name,
        source,
        reason = ?limited.reason(),
        retry_after_s = wait,
        "request rate limited",
    );
    let mut response = text_response(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
    let headers = response.headers_mut();
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
    headers.insert(
        RATELIMIT.clone(),
        header(format!("{};r=0;t={wait}", meta.quoted)),
    );
    headers.insert(RATELIMIT_POLICY.clone(), meta.policy_header.clone());
    response
}

fn no_key_response<ResBody: From<&'static str>>(
    status: StatusCode,
    meta: &Meta,
) -> Response<ResBody> {
    tracing::info!(
        target: "ratelimit::layer",
        policy = &*meta.name,
        status = status.as_u16(),
        "request without a rate-limit key refused",
    );
    text_response(status, "request refused: no rate-limit key\n")
}

fn text_response<ResBody: From<&'static str>>(
    status: StatusCode,
    body: &'static str,
) -> Response<ResBody> {
    let mut response = Response::new(ResBody::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Adds the allowed-response headers.
pub(super) fn add_headers<ResBody>(response: &mut Response<ResBody>, headers: [HeaderValue; 2]) {
    let [ratelimit, policy] = headers;
    let map = response.headers_mut();
    map.insert(RATELIMIT.clone(), ratelimit);
    map.insert(RATELIMIT_POLICY.clone(), policy);
}

fn header(value: String) -> HeaderValue {
    HeaderValue::try_from(value).expect("the name is printable ASCII")
}

/// Whole seconds, rounded up.
pub(super) fn ceil_secs(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_add(u64::from(duration.subsec_nanos() > 0))
}
