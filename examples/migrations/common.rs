//! What every migration example's command line shares, included by each binary with
//! `#[path = "../common.rs"] mod common;`: walking the flags, then printing the usage for
//! `--help` or after a bad argument (exit 2) around `examples::cli::main`.

use std::future::Future;
use std::process::ExitCode;

use examples::cli::{ArgError, Command, Flag, flags};

/// Walks `args`, refusing flags not in `known`, and hands each flag and its value to `take`.
///
/// `Command::Help` as soon as `-h` or `--help` comes (later arguments are not looked at),
/// `Command::Run(())` once every flag was taken.
///
/// # Errors
///
/// The first [`ArgError`] of the walk or of `take`.
pub(crate) fn walk_flags(
    args: impl IntoIterator<Item = String>,
    known: &[&str],
    mut take: impl FnMut(&str, String) -> Result<(), ArgError>,
) -> Result<Command<()>, ArgError> {
    for step in flags(args, known) {
        match step? {
            Flag::Help => return Ok(Command::Help),
            Flag::Value(flag, value) => take(&flag, value)?,
        }
    }
    Ok(Command::Run(()))
}

/// Runs example `name` through `examples::cli::main`: `parse` reads the arguments after the
/// program name; `usage` goes to stdout for `--help`, the error and `usage` to stderr (exit
/// 2) for a bad command line; otherwise `run` runs.
pub(crate) fn main<C, F, Fut>(
    name: &str,
    usage: &str,
    parse: impl FnOnce(Vec<String>) -> Result<Command<C>, ArgError>,
    run: F,
) -> ExitCode
where
    F: FnOnce(C) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let parsed = match parse(std::env::args().skip(1).collect()) {
        Ok(command) => Ok(command.into_invocation(usage)),
        Err(error) => Err(format!("{error}\n{usage}")),
    };
    examples::cli::main(name, parsed, run)
}
