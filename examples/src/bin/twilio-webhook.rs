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

use std::net::Ipv4Addr;
use std::process::ExitCode;

use examples::cli::Invocation;
use examples::voice::{Ivr, token_from_env};
use twiml::{PublicBase, RequestValidator};

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
                Ivr::new(RequestValidator::new("probe"), base.clone())
                    .map_err(|e| format!("--public-base: {e}"))?;
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

async fn run(settings: Settings) -> Result<(), String> {
    let (token, demo) = token_from_env();
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, settings.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", settings.port))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let base = match settings.public_base {
        Some(base) => base,
        None => PublicBase::parse(&format!("http://{local}")).map_err(|e| e.to_string())?,
    };
    let ivr = Ivr::new(RequestValidator::new(token), base.clone()).map_err(|e| e.to_string())?;

    println!("twilio-webhook listening on http://{local} (public base {base})");
    if demo {
        println!(
            "using the demo auth token; set TWILIO_AUTH_TOKEN to validate real Twilio requests"
        );
    }
    println!("a signed request to the trailing-slash step (expect TwiML):");
    let path = "/voice/next/";
    let signed = ivr.signed_request(path).map_err(|e| e.to_string())?;
    println!("{}", signed.curl(&format!("http://{local}{path}"), ""));

    axum::serve(listener, ivr.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    examples::cli::main("twilio-webhook", parse_args(std::env::args().skip(1)), run)
}
