//! `twilio-webhook`: a Twilio IVR behind `TwilioSignatureLayer`.
//!
//! ```text
//! cargo run -p examples --bin twilio-webhook -- [--port 8080] [--public-base https://ivr.example.com]
//! ```
//!
//! The auth token comes from `TWILIO_AUTH_TOKEN` (a demo token when unset). The call flow:
//! `/voice` gathers one digit and posts it to `/voice/menu`; when the caller presses nothing
//! the `<Redirect>` to the trailing-slash URL `/voice/next/` fires — the request that the
//! field incident's validator rejected. `/voice/fallback` is the number's fallback URL,
//! guarded against loops. At start it prints a `curl` command carrying a valid signature.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::post;
use examples::cli::Invocation;
use twiml::fallback::{FallbackDecision, step_of, tag_step};
use twiml::voice::{Action, Gather, Hangup, Redirect, Say, VoiceResponse};
use twiml::{
    AbsoluteUrl, FallbackGuard, PublicBase, RequestValidator, TwilioSignatureLayer, UrlError,
};

const DEMO_TOKEN: &str = "demo-auth-token-0123456789abcdef";

struct Settings {
    port: u16,
    public_base: Option<PublicBase>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Invocation<Settings>, String> {
    let mut settings = Settings {
        port: 8080,
        public_base: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                let v = value("--port")?;
                settings.port = v
                    .parse()
                    .map_err(|_| format!("--port: `{v}` is not a port number (0-65535)"))?;
            }
            "--public-base" => {
                let v = value("--public-base")?;
                let base = PublicBase::parse(&v).map_err(|e| format!("--public-base: {e}"))?;
                Urls::new(&base).map_err(|e| format!("--public-base: {e}"))?;
                settings.public_base = Some(base);
            }
            "-h" | "--help" => {
                return Ok(Invocation::Print(
                    "usage: twilio-webhook [--port N] [--public-base https://host[/prefix]]"
                        .to_owned(),
                ));
            }
            other => return Err(format!("unknown argument `{other}` (try --help)")),
        }
    }
    Ok(Invocation::Run(settings))
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

fn curl_command(
    validator: &RequestValidator,
    base: &PublicBase,
    local: SocketAddr,
) -> Result<String, UrlError> {
    let path = "/voice/next/";
    let params = [
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("CallSid", "CA00000000000000000000000000000001"),
        ("CallStatus", "in-progress"),
        ("From", "+14155550100"),
        ("To", "+14155550199"),
    ];
    let signature = validator.compute_signature(base.join(path)?.as_str(), params);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    Ok(format!(
        "curl -sS -X POST 'http://{local}{path}' -H 'X-Twilio-Signature: {signature}' --data '{body}'"
    ))
}

async fn run(settings: Settings) -> Result<(), String> {
    let (token, demo) = match std::env::var("TWILIO_AUTH_TOKEN") {
        Ok(token) if !token.is_empty() => (token, false),
        _ => (DEMO_TOKEN.to_owned(), true),
    };
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, settings.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", settings.port))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let base = match settings.public_base {
        Some(base) => base,
        None => PublicBase::parse(&format!("http://{local}")).map_err(|e| e.to_string())?,
    };
    let urls = Urls::new(&base).map_err(|e| e.to_string())?;
    let validator = RequestValidator::new(token);

    println!("twilio-webhook listening on http://{local} (public base {base})");
    if demo {
        println!(
            "using the demo auth token; set TWILIO_AUTH_TOKEN to validate real Twilio requests"
        );
    }
    println!("a signed request to the trailing-slash step (expect TwiML):");
    println!(
        "{}",
        curl_command(&validator, &base, local).map_err(|e| e.to_string())?
    );

    let app = Arc::new(App {
        urls,
        fallback: FallbackGuard::new(2, NonZeroUsize::new(10_000).expect("non-zero")),
    });
    let router = Router::new()
        .route("/voice", post(voice))
        .route("/voice/menu", post(menu))
        .route("/voice/next/", post(next))
        .route("/voice/fallback", post(fallback))
        .with_state(app)
        .layer(TwilioSignatureLayer::new(validator, base));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    examples::cli::main("twilio-webhook", parse_args(std::env::args().skip(1)), run)
}
