use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tower_service::Service;

use super::future::{Pending, ResponseFuture};
use super::layer::{Config, TwilioSignatureLayer};
use super::{BoxError, SIGNATURE_HEADER};
use crate::{PublicBase, RequestValidator};

/// Middleware that validates `X-Twilio-Signature`. See the [module docs](super).
#[derive(Debug, Clone)]
pub struct TwilioSignature<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> TwilioSignature<S> {
    /// Wraps `inner`; the same as applying [`TwilioSignatureLayer::new`].
    pub fn new(inner: S, validator: RequestValidator, public_base: PublicBase) -> Self {
        use tower_layer::Layer;
        TwilioSignatureLayer::new(validator, public_base).layer(inner)
    }

    /// A layer with this configuration.
    pub fn layer(validator: RequestValidator, public_base: PublicBase) -> TwilioSignatureLayer {
        TwilioSignatureLayer::new(validator, public_base)
    }

    pub(super) fn from_config(inner: S, config: Arc<Config>) -> Self {
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

impl<S, B, ResBody> Service<Request<B>> for TwilioSignature<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<&'static str>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let Some(signature) = signature_of(&parts.headers) else {
            return ResponseFuture::rejected(Rejection::MissingSignature.respond(&parts));
        };
        // Refuse what is known to be too large before reading any of it.
        let limit = self.config.body_limit as u64;
        let declared_too_large = body.size_hint().lower() > limit
            || declared_length(&parts.headers).is_some_and(|len| len > limit);
        if declared_too_large {
            return ResponseFuture::rejected(Rejection::TooLarge.respond(&parts));
        }
        let url = request_url(&self.config, &parts);
        // The service that was driven to readiness is the one that must be called.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::buffering(
            Limited::new(body, self.config.body_limit).collect(),
            Pending {
                inner,
                parts,
                url,
                signature,
                config: Arc::clone(&self.config),
            },
        )
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rejection {
    MissingSignature,
    TooLarge,
    UnreadableBody,
    Invalid,
    UnsignedBody,
}

impl Rejection {
    fn status_and_reason(self) -> (StatusCode, &'static str) {
        match self {
            Rejection::MissingSignature => (
                StatusCode::BAD_REQUEST,
                "missing X-Twilio-Signature header\n",
            ),
            Rejection::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
            Rejection::UnreadableBody => {
                (StatusCode::BAD_REQUEST, "request body could not be read\n")
            }
            Rejection::Invalid => (StatusCode::FORBIDDEN, "invalid Twilio signature\n"),
            Rejection::UnsignedBody => (
                StatusCode::FORBIDDEN,
                "invalid Twilio signature: a non-form body needs bodySHA256\n",
            ),
        }
    }

    /// The plain-text answer, and a `tracing` event that names neither token nor signature.
    pub(super) fn respond<ResBody: From<&'static str>>(self, parts: &Parts) -> Response<ResBody> {
        let (status, reason) = self.status_and_reason();
        tracing::warn!(
            target: "twiml::webhook",
            status = status.as_u16(),
            reason = reason.trim_end(),
            method = %parts.method,
            path = parts.uri.path(),
            "Twilio webhook rejected",
        );
        let mut response = Response::new(ResBody::from(reason));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// Decides whether the buffered request carries a valid signature.
pub(super) fn judge(
    validator: &RequestValidator,
    parts: &Parts,
    url: &str,
    signature: &str,
    body: &Bytes,
) -> Result<(), Rejection> {
    let valid = if crate::signature::query_value(url, "bodySHA256").is_some() {
        validator.validate_body(url, body, signature)
    } else if body.is_empty() {
        validator.validate(url, [("", ""); 0], signature)
    } else if is_form(&parts.headers) {
        validator.validate(url, form_urlencoded::parse(body), signature)
    } else {
        return Err(Rejection::UnsignedBody);
    };
    if valid {
        Ok(())
    } else {
        Err(Rejection::Invalid)
    }
}

fn signature_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(SIGNATURE_HEADER)?;
    // A non-ASCII header cannot be a base64 signature; it is judged invalid, not missing.
    let text = value.to_str().unwrap_or("\u{FFFD}");
    (!text.is_empty()).then(|| text.to_owned())
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The URL Twilio requested: the public base (or, from a trusted proxy, its forwarded
/// scheme and host) followed by the raw request target.
pub(super) fn request_url(config: &Config, parts: &Parts) -> String {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let base = &config.public_base;
    match forwarded_origin(config, parts) {
        Some((scheme, host)) => {
            let scheme = scheme.unwrap_or(base.scheme().as_str());
            let host = host.unwrap_or_else(|| authority_of(base));
            format!("{scheme}://{host}{}{target}", base.path_prefix())
        }
        None => base.request_url(target),
    }
}

fn authority_of(base: &PublicBase) -> &str {
    let url = base.as_url().as_str();
    let start = url.find("://").map_or(0, |i| i + 3);
    &url[start..url.len() - base.path_prefix().len()]
}

fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(addr) = parts.extensions.get::<SocketAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    None
}

/// Scheme and host forwarded by a trusted proxy (each optional), or `None` when forwarded
/// headers are not trusted for this request.
fn forwarded_origin<'a>(
    config: &Config,
    parts: &'a Parts,
) -> Option<(Option<&'a str>, Option<&'a str>)> {
    let peer = peer_ip(parts)?;
    if !config.trusts(peer) {
        return None;
    }
    let headers = &parts.headers;
    let (mut scheme, mut host) = (None, None);
    if let Some(last) = last_list_item(headers, "forwarded") {
        for pair in last.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "proto" => scheme = Some(value),
                "host" => host = Some(value),
                _ => {}
            }
        }
    }
    scheme = scheme.or_else(|| last_list_item(headers, "x-forwarded-proto"));
    host = host.or_else(|| last_list_item(headers, "x-forwarded-host"));
    let scheme = scheme.filter(|s| matches!(*s, "http" | "https"));
    let host = host.filter(|h| is_host_port(h));
    Some((scheme, host))
}

/// The last element of a comma-separated header, over all its instances.
fn last_list_item<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let item = last.rsplit(',').next()?.trim();
    (!item.is_empty()).then_some(item)
}

fn is_host_port(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}
