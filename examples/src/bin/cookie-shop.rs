//! `cookie-shop`: a tiny shop (login + cart in a server-side session) in one of the three
//! phases of incident 5, BASE's duplicate session cookies.
//!
//! ```text
//! cargo run -p examples --bin cookie-shop -- --phase legacy|host-only|migrate \
//!     [--listen 127.0.0.1:8080] [--cookie-domain base.localhost]
//! ```
//!
//! `--phase` is required. It prints `cookie-shop listening on http://ADDR (phase P)` first,
//! then the URL to open in a browser, `http://shop1.<cookie domain>:PORT/` (`*.localhost`
//! names resolve to loopback in browsers). Logs go to stderr (`RUST_LOG`, default `info`);
//! Ctrl-C stops. Bad arguments exit with code 2. The shop itself is
//! `examples::shop::Shop`, which documents the routes and the phases.
//!
//! Sessions live in this process only: to walk through the incident in one browser, stop
//! the server and start it again in the next phase on the same port — the cookies stay in
//! the browser, but the sessions they name are gone, so log in again after each restart
//! (or run the `browser_migration` test, whose three servers share one store).

use std::num::NonZeroUsize;
use std::process::ExitCode;

use examples::shop::{Config, DEFAULT_CAPACITY, Sessions, Shop, USAGE, parse_args};
use tokio::net::TcpListener;

fn main() -> ExitCode {
    let parsed = match parse_args(std::env::args().skip(1)) {
        Ok(command) => Ok(command.into_invocation(USAGE)),
        Err(error) => Err(format!("{error}\n{USAGE}")),
    };
    examples::cli::main("cookie-shop", parsed, run)
}

async fn run(config: Config) -> Result<(), String> {
    let capacity = NonZeroUsize::new(DEFAULT_CAPACITY).ok_or("zero session capacity")?;
    let shop = Shop::new(config.phase, Sessions::new(capacity), &config.cookie_domain)
        .map_err(|e| format!("--cookie-domain: {e}"))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "cookie-shop listening on http://{local} (phase {})",
        config.phase
    );
    println!(
        "open http://shop1.{}:{}/ in a browser",
        config.cookie_domain,
        local.port()
    );
    axum::serve(listener, shop.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C: stopping");
        })
        .await
        .map_err(|e| e.to_string())
}
