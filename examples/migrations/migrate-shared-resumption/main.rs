//! `migrate-shared-resumption`: incident 4 (LINE's gateway fleet), migrated.
//!
//! ```text
//! cargo run -p examples --bin migrate-shared-resumption -- [--connections 60] [--seed 5] \
//!     [--after both|cache|tickets]
//! ```
//!
//! Starts 3 TLS instances on loopback (`examples::tls::Fleet`) with rustls's per-instance
//! defaults, then 3 instances sharing `tls_resume`'s session cache and ticket key ring, and
//! against each fleet runs a real rustls client that reconnects `--connections` times, each
//! time to an instance picked at random (a seeded generator, as a load balancer would
//! spread them), counting the handshakes rustls reports as resumed, for TLS 1.3 and TLS
//! 1.2. Before, only a reconnect that lands on the instance of the previous connection can
//! resume (about 1/3); after, every reconnect does. Exits 0 when every reconnect resumed
//! after the migration, 1 otherwise, 2 on bad arguments. Logs go to stderr: warnings only
//! unless `RUST_LOG` is set (each handshake is logged at `info`).

mod client;
/// The command line, as every migration example reads it.
#[path = "../common.rs"]
mod common;
mod fleet;

use std::process::ExitCode;
use std::sync::Arc;

use examples::cli::{ArgError, Command};
use examples::tls::Mode;
use rustls::crypto::ring::default_provider;
use tracing::Dispatch;

use client::{PinFirstCertificate, ROWS, Tally};
use fleet::INSTANCES;

/// The usage printed by `--help`.
const USAGE: &str =
    "usage: migrate-shared-resumption [--connections N] [--seed N] [--after both|cache|tickets]
  --connections N  connections per client, each to a random instance (default 60, 2 to 1000)
  --seed N         the seed of the instance picks (default 5)
  --after MODE     what the migrated instances share: `both` (default: session cache and key ring),
                   `cache` (sessions only) or `tickets` (ticket keys only)";

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Options {
    connections: usize,
    seed: u64,
    after: Mode,
}

fn main() -> ExitCode {
    common::main("migrate-shared-resumption", USAGE, parse_args, run)
}

/// Parses the arguments after the program name.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command<Options>, ArgError> {
    let (mut connections, mut seed, mut after) = (None, None, None);
    let known = ["--connections", "--seed", "--after"];
    let command = common::walk_flags(args, &known, |flag, value| match flag {
        "--connections" => {
            let n = value
                .parse()
                .ok()
                .filter(|n| (2..=1000).contains(n))
                .ok_or_else(|| {
                    ArgError::new(flag, format!("`{value}` is not a number from 2 to 1000"))
                })?;
            examples::cli::set_once(flag, &mut connections, n)
        }
        "--seed" => {
            let n = value.parse().map_err(|_| {
                ArgError::new(flag, format!("`{value}` is not a non-negative integer"))
            })?;
            examples::cli::set_once(flag, &mut seed, n)
        }
        "--after" => {
            let mode = match value.as_str() {
                "both" => Mode::Both,
                "cache" => Mode::Cache,
                "tickets" => Mode::Tickets,
                _ => {
                    return Err(ArgError::new(
                        flag,
                        format!("`{value}` is not `both`, `cache` or `tickets`"),
                    ));
                }
            };
            examples::cli::set_once(flag, &mut after, mode)
        }
        _ => unreachable!("flags are checked by `flags`"),
    })?;
    if let Command::Help = command {
        return Ok(Command::Help);
    }
    Ok(Command::Run(Options {
        connections: connections.unwrap_or(60),
        seed: seed.unwrap_or(5),
        after: after.unwrap_or(Mode::Both),
    }))
}

/// The instance (from 0) of each connection: uniform picks from a seeded SplitMix64.
fn instance_order(connections: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    (0..connections)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            // INSTANCES is tiny: the modulo bias is below 2^-60.
            (z % INSTANCES as u64) as usize
        })
        .collect()
}

/// While `RUST_LOG` is unset, the instances log warnings only (every handshake is an
/// `info` event): a subscriber for them. `None` leaves the global one.
fn quiet_logs() -> Option<Dispatch> {
    std::env::var_os("RUST_LOG").is_none().then(|| {
        Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_max_level(tracing::Level::WARN)
                .finish(),
        )
    })
}

/// Starts a fleet in `mode`, runs every client row against it, stops it.
async fn measure(
    mode: Mode,
    order: &Arc<Vec<usize>>,
    logs: Option<&Dispatch>,
) -> Result<(fleet::Running, Vec<Tally>), String> {
    let running = fleet::start(mode, logs).await?;
    let ports = running.ports.clone();
    let order = Arc::clone(order);
    let measured = tokio::task::spawn_blocking(move || {
        // A fresh fleet has a fresh certificate: pin it anew.
        let verifier = Arc::new(PinFirstCertificate::new(&default_provider()));
        ROWS.iter()
            .map(|row| client::reconnect(&client::config(*row, &verifier)?, &ports, &order))
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .map_err(|e| format!("the client panicked: {e}"));
    match measured {
        Ok(Ok(tallies)) => Ok((running, tallies)),
        Ok(Err(e)) | Err(e) => {
            running.stop().await;
            Err(e)
        }
    }
}

/// Prints one side's header and rows.
fn print_side(name: &str, running: &fleet::Running, tallies: &[Tally]) {
    let ports: Vec<String> = running.ports.iter().map(u16::to_string).collect();
    println!("{name}: {} (ports {})", running.described, ports.join(","));
    for (row, tally) in ROWS.iter().zip(tallies) {
        println!(
            "  {:<42} resumed {:>3}/{} reconnects ({:5.1}%)",
            row.label,
            tally.resumed,
            tally.reconnects,
            tally.percent()
        );
    }
}

/// Measures both sides and prints the report; `Err` when the fix does not show.
async fn run(options: Options) -> Result<(), String> {
    let Options {
        connections,
        seed,
        after,
    } = options;
    let order = Arc::new(instance_order(connections, seed));
    let same = order.windows(2).filter(|w| w[0] == w[1]).count();
    let logs = quiet_logs();
    println!(
        "migrate-shared-resumption: incident 4 — {INSTANCES} TLS instances on 127.0.0.1; a rustls client \
         reconnects {connections} times, each to a random instance (seed {seed})"
    );
    let picks: String = order.iter().map(|i| char::from(b'1' + *i as u8)).collect();
    println!("  instances in order: {picks}");
    println!(
        "  {same} of {} reconnects land on the instance of the previous connection (1/{INSTANCES} expected)",
        connections - 1
    );

    let (running, before) = measure(Mode::None, &order, logs.as_ref()).await?;
    print_side("before", &running, &before);
    running.stop().await;

    let (running, fixed) = measure(after, &order, logs.as_ref()).await?;
    print_side(
        &format!("after (tls-resume, mode {})", after.as_str()),
        &running,
        &fixed,
    );
    running.stop().await;

    let worst_before = before.iter().map(|t| t.resumed).max().unwrap_or(0);
    if fixed.iter().all(|t| t.resumed == t.reconnects) {
        println!(
            "result: fixed — every reconnect resumed on whichever instance it reached \
             (before: at most {worst_before}, the same-instance ones)"
        );
        Ok(())
    } else {
        let full: usize = fixed.iter().map(|t| t.reconnects - t.resumed).sum();
        println!(
            "result: NOT fixed — {full} reconnects made a full handshake after the migration \
             (session-id clients need the shared cache: `--after cache` or `both`)"
        );
        Err("the after side does not resume every reconnect".to_owned())
    }
}
