//! The Twilio IVR shared by the `twilio-webhook` and `gateway` binaries: a call flow behind
//! [`TwilioSignatureLayer`], and the ready-to-paste signed `curl` request the banners print.
//!
//! The call flow: `/voice` gathers one digit and posts it to `/voice/menu`; when the caller
//! presses nothing the `<Redirect>` to the trailing-slash URL `/voice/next/` fires — the
//! request that the field incident's validator rejected. `/voice/fallback` is the number's
//! fallback URL, guarded against loops by a [`FallbackGuard`]. Every URL in the documents is
//! absolute, built from the public base (the URL Twilio calls).
//!
//! ```
//! use examples::voice::Ivr;
//! use tower::ServiceExt;
//! use twiml::{PublicBase, RequestValidator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let ivr = Ivr::new(RequestValidator::new("token"), base)?;
//! let signed = ivr.signed_request("/voice/next/")?;
//! let request = http::Request::post("/voice/next/")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .header("x-twilio-signature", &signed.signature)
//!     .body(axum::body::Body::from(signed.body.clone()))?;
//! let response = ivr.router().oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//!
//! let unsigned = http::Request::post("/voice/next/")
//!     .header("x-twilio-signature", "forged")
//!     .body(axum::body::Body::from(signed.body))?;
//! assert_eq!(ivr.router().oneshot(unsigned).await?.status(), 403);
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use twiml::fallback::{FallbackDecision, step_of, tag_step};
use twiml::voice::{Action, Gather, Hangup, Redirect, Say, VoiceResponse};
use twiml::{
    AbsoluteUrl, FallbackGuard, PublicBase, RequestValidator, TwilioSignatureLayer, UrlError,
};

/// The auth token used when none is configured (`TWILIO_AUTH_TOKEN` unset): a demo value
/// that validates only requests signed with it, such as the banners' `curl` commands.
pub const DEMO_TOKEN: &str = "demo-auth-token-0123456789abcdef";

/// How many times one call may come through the fallback URL before it is ended.
pub const FALLBACK_RETRIES: u32 = 2;

/// How many calls the fallback guard remembers (the least recently seen go first).
pub const FALLBACK_CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();

/// The form parameters of the banners' sample request: a call in progress.
pub const SAMPLE_PARAMS: [(&str, &str); 5] = [
    ("AccountSid", "AC00000000000000000000000000000000"),
    ("CallSid", "CA00000000000000000000000000000001"),
    ("CallStatus", "in-progress"),
    ("From", "+14155550100"),
    ("To", "+14155550199"),
];

/// The auth token: `TWILIO_AUTH_TOKEN` when set and not empty, else [`DEMO_TOKEN`]; the
/// flag says whether it is the demo token.
pub fn token_from_env() -> (String, bool) {
    match std::env::var("TWILIO_AUTH_TOKEN") {
        Ok(token) if !token.is_empty() => (token, false),
        _ => (DEMO_TOKEN.to_owned(), true),
    }
}

/// Every URL the documents contain, built once from the public base.
struct Urls {
    menu: AbsoluteUrl,
    next: AbsoluteUrl,
    voice: AbsoluteUrl,
}

impl Urls {
    fn new(base: &PublicBase) -> Result<Self, UrlError> {
        Ok(Self {
            menu: tag_step(&base.join("/voice/menu")?, "menu")?,
            next: tag_step(&base.join("/voice/next/")?, "next")?,
            voice: tag_step(&base.join("/voice")?, "welcome")?,
        })
    }
}

struct App {
    urls: Urls,
    fallback: FallbackGuard,
}

/// The IVR: its routes behind the signature check, and the signed sample request.
///
/// Clones share the fallback guard. `Debug` never prints the auth token.
#[derive(Clone)]
pub struct Ivr {
    app: Arc<App>,
    validator: RequestValidator,
    base: PublicBase,
}

impl fmt::Debug for Ivr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ivr")
            .field("public_base", &self.base.to_string())
            .field("calls_in_fallback", &self.app.fallback.len())
            .finish_non_exhaustive()
    }
}

/// A request signed as Twilio would sign it: what the banners' `curl` command sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The full URL Twilio requests (public base and path): what the signature covers.
    pub url: String,
    /// The `X-Twilio-Signature` header value.
    pub signature: String,
    /// The form body (`application/x-www-form-urlencoded`).
    pub body: String,
}

impl SignedRequest {
    /// A `curl` command posting this request to `target` (the URL to connect to, which may
    /// differ from [`url`](Self::url) behind a proxy); `extra` goes after `-sS` (e.g. `-k`).
    pub fn curl(&self, target: &str, extra: &str) -> String {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" {extra}")
        };
        format!(
            "curl -sS{extra} -X POST '{target}' -H 'X-Twilio-Signature: {}' --data '{}'",
            self.signature, self.body
        )
    }
}

impl Ivr {
    /// The IVR for Twilio requests to `base`, checked with `validator`.
    ///
    /// # Errors
    ///
    /// When a step URL cannot be built on `base` (a base whose path would make them
    /// invalid).
    pub fn new(validator: RequestValidator, base: PublicBase) -> Result<Self, UrlError> {
        Ok(Self {
            app: Arc::new(App {
                urls: Urls::new(&base)?,
                fallback: FallbackGuard::new(FALLBACK_RETRIES, FALLBACK_CAPACITY),
            }),
            validator,
            base,
        })
    }

    /// The public base the signatures are checked against.
    pub fn public_base(&self) -> &PublicBase {
        &self.base
    }

    /// The fallback guard, e.g. for its [`len`](FallbackGuard::len).
    pub fn fallback_guard(&self) -> &FallbackGuard {
        &self.app.fallback
    }

    /// The routes `/voice`, `/voice/menu`, `/voice/next/` and `/voice/fallback` (all
    /// `POST`), behind [`TwilioSignatureLayer`].
    pub fn router(&self) -> Router {
        Router::new()
            .route("/voice", post(voice))
            .route("/voice/menu", post(menu))
            .route("/voice/next/", post(next))
            .route("/voice/fallback", post(fallback))
            .with_state(Arc::clone(&self.app))
            // `route_layer`, not `layer`: only the IVR's routes are signed; with `layer`
            // the router's fallback was wrapped too, and every unknown path of an app
            // merging this router answered `400 missing X-Twilio-Signature header`
            // instead of `404`.
            .route_layer(TwilioSignatureLayer::new(
                self.validator.clone(),
                self.base.clone(),
            ))
    }

    /// The [`SAMPLE_PARAMS`] posted to `path` (e.g. `/voice/next/`), signed.
    ///
    /// # Errors
    ///
    /// When `path` cannot be joined to the public base.
    pub fn signed_request(&self, path: &str) -> Result<SignedRequest, UrlError> {
        let url = self.base.join(path)?.as_str().to_owned();
        let signature = self.validator.compute_signature(&url, SAMPLE_PARAMS);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(SAMPLE_PARAMS)
            .finish();
        Ok(SignedRequest {
            url,
            signature,
            body,
        })
    }
}

fn welcome(urls: &Urls) -> VoiceResponse {
    VoiceResponse::new()
        .add(
            Gather::new(Action::Url(urls.menu.clone()))
                .num_digits(1)
                .timeout(Duration::from_secs(5))
                .add(Say::new(
                    "Welcome. Press 1 to hear the news, or wait to be transferred.",
                )),
        )
        // Fires when the gather times out: a URL with a trailing slash.
        .add(Redirect::new(urls.next.clone()))
}

async fn voice(State(app): State<Arc<App>>) -> Response {
    welcome(&app.urls).into_http_response()
}

async fn menu(State(app): State<Arc<App>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let doc = match form.get("Digits").map(String::as_str) {
        Some("1") => VoiceResponse::new()
            .add(Say::new(
                "Today's news: every webhook URL is validated as Twilio sent it.",
            ))
            .add(Hangup::new()),
        _ => VoiceResponse::new()
            .add(Say::new("Sorry, that is not an option."))
            .add(Redirect::new(app.urls.voice.clone())),
    };
    doc.into_http_response()
}

async fn next(State(_): State<Arc<App>>) -> Response {
    VoiceResponse::new()
        .add(Say::new("We did not receive any input. Goodbye."))
        .add(Hangup::new())
        .into_http_response()
}

async fn fallback(
    State(app): State<Arc<App>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let call_sid = form.get("CallSid").map_or("", String::as_str);
    let step = form.get("ErrorUrl").and_then(|url| step_of(url));
    tracing::warn!(
        call_sid,
        ?step,
        error_code = form.get("ErrorCode"),
        "fallback URL reached"
    );
    match app.fallback.on_fallback(call_sid) {
        FallbackDecision::Retry { .. } => welcome(&app.urls),
        FallbackDecision::GiveUp(terminal) => terminal,
        _ => VoiceResponse::new().add(Hangup::new()),
    }
    .into_http_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curl_command_carries_the_signature_and_body_and_debug_hides_the_token() {
        let base = PublicBase::parse("https://127.0.0.1:8443").unwrap();
        let ivr = Ivr::new(RequestValidator::new("s3cret-token"), base).unwrap();
        let signed = ivr.signed_request("/voice/next/").unwrap();
        assert_eq!(signed.url, "https://127.0.0.1:8443/voice/next/");
        let validator = RequestValidator::new("s3cret-token");
        assert!(validator.validate(&signed.url, SAMPLE_PARAMS, &signed.signature));
        let curl = signed.curl(&signed.url, "-k");
        assert!(curl.starts_with("curl -sS -k -X POST 'https://127.0.0.1:8443/voice/next/'"));
        assert!(curl.contains(&signed.signature) && curl.contains("CallSid=CA"));
        assert!(!format!("{ivr:?}").contains("s3cret"));
    }
}
