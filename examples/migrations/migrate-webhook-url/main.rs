//! `migrate-webhook-url`: incident 1's rejected webhooks, before and after moving from a
//! hand-rolled signature check over a rebuilt URL to `TwilioSignatureLayer` with a
//! configured `PublicBase`.
//!
//! ```text
//! cargo run -p examples --bin migrate-webhook-url
//! ```
//!
//! Twilio requests `https://ivr.example.com/voice/next/` (the `<Redirect>` that fires when a
//! `<Gather>` times out) and signs that URL with the form parameters. A TLS-terminating
//! proxy forwards the request over plain HTTP with `Host: ivr.example.com`. The example
//! serves the app on a loopback port twice, with real HTTP (axum 0.8):
//!
//! - **before**: the handler rebuilds the URL the way the framework did (`request.url`:
//!   scheme of the connection, `Host` header, trailing slash stripped) and checks it with
//!   `RequestValidator`;
//! - **after**: the route sits behind `TwilioSignatureLayer`, which takes scheme and host
//!   from the configured public base and the path raw from the request target.
//!
//! To each it sends, over a TCP connection written by hand (HTTP/1.1), the request exactly
//! as Twilio would and a forged one (a parameter changed, the signature kept), and prints
//! the statuses. Exit code 0 when the "after" server answers 200 to the signed request and
//! 403 to the forged one, 1 otherwise.

/// The command line, as every migration example reads it.
#[path = "../common.rs"]
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use examples::cli::ArgError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use twiml::voice::{Hangup, Say, VoiceResponse};
use twiml::{PublicBase, RequestValidator, TwilioSignatureLayer};

/// What `--help` prints.
const USAGE: &str = "usage: migrate-webhook-url [--help]\n\
    Replays incident 1's trailing-slash signature failure, then the fix with TwilioSignatureLayer.";

/// The account's auth token (a demo value: the example signs its own requests).
const AUTH_TOKEN: &str = "demo-auth-token-0123456789abcdef";
/// Scheme and host Twilio uses to reach the app, through the TLS-terminating proxy.
const PUBLIC_BASE: &str = "https://ivr.example.com";
/// The step Twilio redirects to when a `<Gather>` times out: note the trailing slash.
const PATH: &str = "/voice/next/";
/// The form parameters of the webhook, as Twilio posts them.
const PARAMS: [(&str, &str); 5] = [
    ("AccountSid", "AC00000000000000000000000000000000"),
    ("CallSid", "CA00000000000000000000000000000001"),
    ("CallStatus", "in-progress"),
    ("From", "+14155550100"),
    ("To", "+14155550199"),
];

/// The TwiML of the `/voice/next/` step.
async fn next_step() -> Response {
    VoiceResponse::new()
        .add(Say::new("We did not receive any input. Goodbye."))
        .add(Hangup::new())
        .into_http_response()
}

/// The URL as the framework rebuilt it (Rails' `request.url`): the scheme of the
/// connection the app sees (plain HTTP behind the proxy), the `Host` header, and the path
/// without its trailing slash.
fn rebuilt_url(request: &Request) -> String {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let path = request.uri().path();
    let path = match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    };
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    format!("http://{host}{path}{query}")
}

/// What the hand-rolled check needs, and what it hashed (for the report).
struct Before {
    validator: RequestValidator,
    hashed: Mutex<Option<String>>,
}

/// Before: the hand-rolled check of the incident, fed the rebuilt URL.
async fn before_handler(State(before): State<Arc<Before>>, request: Request) -> Response {
    let url = rebuilt_url(&request);
    if let Ok(mut hashed) = before.hashed.lock() {
        *hashed = Some(url.clone());
    }
    let signature = request
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match axum::body::to_bytes(request.into_body(), 64 * 1024).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    if before
        .validator
        .validate(&url, params.iter().map(|(k, v)| (k, v)), &signature)
    {
        next_step().await
    } else {
        tracing::warn!(%url, "signature check failed");
        (StatusCode::FORBIDDEN, "invalid Twilio signature\n").into_response()
    }
}

/// The app before the migration: the check inside the handler.
fn before_app(before: Arc<Before>) -> Router {
    Router::new()
        .route(PATH, post(before_handler))
        .with_state(before)
}

/// The app after the migration: the handler knows nothing of signatures.
fn after_app(validator: RequestValidator, base: PublicBase) -> Router {
    Router::new()
        .route(PATH, post(next_step))
        .layer(TwilioSignatureLayer::new(validator, base))
}

/// A server on a kernel-chosen loopback port, stopped when dropped.
struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Serves `app` on 127.0.0.1 with a kernel-chosen port, in the background.
async fn serve(app: Router) -> Result<Server, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("server on {addr}: {e}");
        }
    });
    Ok(Server { addr, _stop: stop })
}

/// Posts `body` to `addr` as the proxy forwards Twilio's request, and returns the status.
async fn post_form(addr: SocketAddr, body: &str, signature: &str) -> Result<u16, String> {
    let host = PUBLIC_BASE.trim_start_matches("https://");
    let request = format!(
        "POST {PATH} HTTP/1.1\r\n\
         Host: {host}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         X-Twilio-Signature: {signature}\r\n\
         X-Forwarded-Proto: https\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| format!("no answer from {addr} within 5 s"))?
        .map_err(|e| format!("HTTP exchange with {addr}: {e}"))?;
    let status_line = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {status_line:?}"))
}

/// The statuses a server gave the signed and the forged request.
struct Statuses {
    signed: u16,
    forged: u16,
}

/// Serves `app`, sends it the signed request and the forged one, and stops it.
async fn exercise(app: Router, signature: &str) -> Result<Statuses, String> {
    let server = serve(app).await?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(PARAMS)
        .finish();
    let forged = body.replace("in-progress", "completed");
    Ok(Statuses {
        signed: post_form(server.addr, &body, signature).await?,
        forged: post_form(server.addr, &forged, signature).await?,
    })
}

/// `403 Forbidden` for 403.
fn status_text(code: u16) -> String {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("{code} {reason}")
}

/// Runs both servers and prints the report; an `Err` when the "after" server does not
/// accept the signed request and refuse the forged one.
async fn run((): ()) -> Result<(), String> {
    let validator = RequestValidator::new(AUTH_TOKEN);
    let base = PublicBase::parse(PUBLIC_BASE).map_err(|e| e.to_string())?;
    let twilio_url = base.join(PATH).map_err(|e| e.to_string())?;
    // What Twilio does: sign the URL it requests, byte for byte, with the form parameters.
    let signature = validator.compute_signature(twilio_url.as_str(), PARAMS);

    let hand_rolled = Arc::new(Before {
        validator: validator.clone(),
        hashed: Mutex::new(None),
    });
    let before = exercise(before_app(Arc::clone(&hand_rolled)), &signature).await?;
    let after = exercise(after_app(validator, base.clone()), &signature).await?;

    let rebuilt = hand_rolled
        .hashed
        .lock()
        .ok()
        .and_then(|hashed| hashed.clone())
        .ok_or("the hand-rolled check never ran")?;
    println!("migrate-webhook-url: Twilio POSTs {twilio_url} (signed over that URL + the form)");
    println!("  via a TLS-terminating proxy: plain HTTP to 127.0.0.1 with Host: ivr.example.com");
    let mut differences = Vec::new();
    if rebuilt.split("://").next() != twilio_url.as_str().split("://").next() {
        differences.push("scheme");
    }
    if rebuilt.ends_with('/') != twilio_url.as_str().ends_with('/') {
        differences.push("trailing slash");
    }
    println!(
        "before  RequestValidator over the rebuilt URL {rebuilt} (differs in: {})",
        differences.join(", ")
    );
    println!(
        "        signed request: {:<16} forged request: {}",
        status_text(before.signed),
        status_text(before.forged)
    );
    println!("after   TwilioSignatureLayer with PublicBase {base} (path and query raw)");
    println!(
        "        signed request: {:<16} forged request: {}",
        status_text(after.signed),
        status_text(after.forged)
    );
    if after.signed == 200 && after.forged == 403 {
        println!("result: FIXED (valid webhooks accepted, forged ones still refused)");
        Ok(())
    } else {
        Err(format!(
            "after the migration: signed {}, forged {} (expected 200 and 403)",
            after.signed, after.forged
        ))
    }
}

/// Runs the example; its command line is nothing but `--help` (exit 2 on anything else).
fn main() -> ExitCode {
    let parse_args = |args| {
        common::walk_flags(args, &[], |flag, _| {
            Err(ArgError::new(flag, "takes no value"))
        })
    };
    common::main("migrate-webhook-url", USAGE, parse_args, run)
}
