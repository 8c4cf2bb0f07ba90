//! `migrate-ip-keyed-limits`: incident 3 (Cloudflare, 2024-06-20), migrated.
//!
//! ```text
//! cargo run -p examples --bin migrate-ip-keyed-limits -- [--users 1000] [--requests 3] [--flood 500]
//! ```
//!
//! Prints a before/after report: (a) the incident's configuration, whose key generator
//! falls back to itself, refused by `ratelimit`'s loader with the cycle named; (b) the old
//! setup, a `RateLimitLayer` keyed by client IP, limiting users behind one NAT address as
//! one; (c) the new keyer (validated cookie, then the client address through a trusted
//! proxy, then the peer): the NAT users get no `429` while a cookie-less flood from the
//! same address is limited. Requests go through an axum `Router` with the layers, in
//! process (`oneshot`). Exits 0 when (a) is refused and (c) shows the fix, 1 otherwise, 2
//! on bad arguments. Logs go to stderr: warnings only unless `RUST_LOG` is set (each `429`
//! is an `info` event).

/// The command line, as every migration example reads it.
#[path = "../common.rs"]
mod common;
mod traffic;

use std::process::ExitCode;
use std::sync::Arc;

use examples::cli::{ArgError, Command};
use ratelimit::config::{Config, ConfigError};
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;

use traffic::{NAT, Outcome, PROXY, Sessions, Traffic};

/// The usage printed by `--help`.
const USAGE: &str = "usage: migrate-ip-keyed-limits [--users N] [--requests N] [--flood N]
  --users N     users behind one NAT address, each with a session (default 1000, at most 100000)
  --requests N  requests per user (default 3, at most 20: within the policy's burst of 20)
  --flood N     requests of a cookie-less flood from the same address (default 500, 1 to 100000)";

fn main() -> ExitCode {
    common::main("migrate-ip-keyed-limits", USAGE, parse_args, run)
}

/// Parses the arguments after the program name.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command<Traffic>, ArgError> {
    let (mut users, mut requests, mut flood) = (None, None, None);
    let known = ["--users", "--requests", "--flood"];
    let command = common::walk_flags(args, &known, |flag, value| {
        let (slot, max) = match flag {
            "--users" => (&mut users, 100_000),
            "--requests" => (&mut requests, 20),
            "--flood" => (&mut flood, 100_000),
            _ => unreachable!("flags are checked by `flags`"),
        };
        let n: usize = value
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ArgError::new(flag, format!("`{value}` is not a number from 1 to {max}"))
            })?;
        examples::cli::set_once(flag, slot, n)
    })?;
    if let Command::Help = command {
        return Ok(Command::Help);
    }
    Ok(Command::Run(Traffic {
        users: users.unwrap_or(1000),
        requests: requests.unwrap_or(3),
        flood: flood.unwrap_or(500),
    }))
}

/// Runs the three parts and prints the report; `Err` when the fix does not show.
async fn run(traffic: Traffic) -> Result<(), String> {
    let Traffic {
        users,
        requests,
        flood,
    } = traffic;
    let total = users * requests;
    println!(
        "migrate-ip-keyed-limits: incident 3 — {users} users behind NAT {NAT} (via proxy {PROXY}), \
         {requests} requests each, and a {flood}-request flood from the same address"
    );

    // (a) The incident's configuration.
    println!(
        "(a) incident config: keyer `ddos-rule` falls back to `parent`, which is the rule itself"
    );
    let cycle_refused = match traffic::load_incident() {
        Err(error @ ConfigError::FallbackCycle { .. }) => {
            println!("    refused at load: {error}");
            true
        }
        Err(error) => {
            println!("    refused, but not as a cycle: {error}");
            false
        }
        Ok(_) => {
            println!("    LOADED: the key generator would loop at request time");
            false
        }
    };

    let config = Config::from_toml_str(traffic::FIXED_TOML).map_err(|e| e.to_string())?;
    let quota = config.policy("api").ok_or("no policy `api`")?.quota();
    let sessions = Arc::new(Sessions::issue(users)?);

    // (b) Before: keyed by the client address.
    let before = traffic::before(&config)?;
    let b = quietly(traffic::run(&before, &sessions, traffic)).await?;
    println!(
        "(b) before: RateLimitLayer keyed by client IP (keyer `by-ip`; policy `api`: burst {}, then one per {:?})",
        quota.burst(),
        quota.replenish_interval()
    );
    print_outcome(&b, total, users, flood);

    // (c) After: validated cookie, then client IP through the proxy, then the peer.
    let after = traffic::after(&config, &sessions)?;
    let a = quietly(traffic::run(&after, &sessions, traffic)).await?;
    println!(
        "(c) after: validated cookie -> client IP via trusted proxy 10.0.0.0/8 -> peer IP (keyer `session`)"
    );
    print_outcome(&a, total, users, flood);
    println!(
        "    ({} users also sent an expired cookie of the same name first; the flood sent no cookie, \
         a forged one, or a spoofed X-Forwarded-For)",
        a.users_with_stale_cookie
    );

    let fixed = cycle_refused && a.users_limited == 0 && a.flood_limited > 0 && a.unexpected == 0;
    if fixed {
        println!(
            "result: fixed — NAT users went from {} to 0 limited requests; the flood is still limited ({} of {flood})",
            b.users_limited, a.flood_limited
        );
        Ok(())
    } else {
        println!("result: NOT fixed");
        Err("the after side does not show the fix".to_owned())
    }
}

/// Runs `future` logging warnings only while `RUST_LOG` is unset: every `429` is an `info`
/// event of `ratelimit::layer`, thousands of them here.
async fn quietly<T>(future: impl Future<Output = T>) -> T {
    if std::env::var_os("RUST_LOG").is_some() {
        return future.await;
    }
    let warnings = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .finish();
    future.with_subscriber(Dispatch::new(warnings)).await
}

/// Two report lines for one side.
fn print_outcome(outcome: &Outcome, total: usize, users: usize, flood: usize) {
    println!(
        "    NAT users: {} of {total} requests got 429; {} of {users} users limited at least once",
        outcome.users_limited, outcome.users_hit
    );
    println!(
        "    flood:     {} of {flood} requests got 429{}",
        outcome.flood_limited,
        if outcome.unexpected > 0 {
            format!(" ({} unexpected answers)", outcome.unexpected)
        } else {
            String::new()
        }
    );
}
