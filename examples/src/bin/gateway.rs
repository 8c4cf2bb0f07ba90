//! `gateway`: the main job — every toolkit crate in one process, no setup.
//!
//! ```text
//! cargo run -p examples --bin gateway -- [--config gateway.toml] [--https 127.0.0.1:8443] \
//!     [--turn 127.0.0.1:3478] [--cert cert.pem --key key.pem] [--redis redis://127.0.0.1:6379] …
//! ```
//!
//! It prints `gateway listening on https://IP:PORT turn udp://IP:PORT` first (the real
//! ports when asked for port 0), then what runs where and three ready-to-paste commands: a
//! signed Twilio request with `curl`, `openssl s_client` twice (the second prints
//! `Reused`), and `turnutils_uclient` relaying through TURN. Logs go to stderr
//! (`RUST_LOG`, default `info`). SIGINT (Ctrl-C) and SIGTERM stop it gracefully. Bad
//! arguments or configuration exit with code 2, naming the flag or key. The gateway itself
//! is `examples::gateway`.

use std::process::ExitCode;

use examples::gateway::{USAGE, parse_args, run};

fn main() -> ExitCode {
    let parsed = match parse_args(std::env::args().skip(1)) {
        Ok(command) => Ok(command.into_invocation(USAGE)),
        Err(error) => Err(error.to_string()),
    };
    examples::cli::main("gateway", parsed, run)
}
