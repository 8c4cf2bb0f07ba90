//! What every example binary does around its own work: logs to stderr, a runtime, and exit
//! codes (2 for bad arguments, 1 for a failure, both with a message naming the program).

use std::future::Future;
use std::io::IsTerminal;
use std::process::ExitCode;

/// What an example's command line asked for.
#[derive(Debug)]
pub enum Invocation<C> {
    /// Run with this configuration.
    Run(C),
    /// Print this text (usage) to stdout and exit successfully.
    Print(String),
}

/// Runs example `name`: `tracing` to stderr (`RUST_LOG`, default `info`), then `parsed`
/// (an `Err` is a bad command line: exit 2), then `run` on a multi-threaded runtime.
pub fn main<C, F, Fut>(name: &str, parsed: Result<Invocation<C>, String>, run: F) -> ExitCode
where
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = match parsed {
        Ok(Invocation::Run(config)) => config,
        Ok(Invocation::Print(text)) => {
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("{name}: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            ExitCode::FAILURE
        }
    }
}
