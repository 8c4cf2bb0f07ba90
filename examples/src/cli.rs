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

/// What an example's `parse_args` found: a configuration, or a request for help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<C> {
    /// Run with this configuration.
    Run(C),
    /// Print the usage and exit.
    Help,
}

impl<C> Command<C> {
    /// What [`main`] runs: the configuration, or `usage` to print.
    pub fn into_invocation(self, usage: &str) -> Invocation<C> {
        match self {
            Command::Run(config) => Invocation::Run(config),
            Command::Help => Invocation::Print(usage.to_owned()),
        }
    }
}

/// A command line that cannot be run: which flag, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// The flag (or argument) at fault, as written: `--ports`.
    pub flag: String,
    /// Why it is refused.
    pub reason: String,
}

impl ArgError {
    /// `flag` is refused because of `reason`.
    pub fn new(flag: &str, reason: impl Into<String>) -> Self {
        Self {
            flag: flag.to_owned(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.flag, self.reason)
    }
}

impl std::error::Error for ArgError {}

/// One step of a command line: `-h`/`--help`, or a known flag and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// `-h` or `--help`.
    Help,
    /// A known flag and its value (`--flag value` or `--flag=value`).
    Value(String, String),
}

/// Walks `args` as flags with values, refusing flags not in `known` and flags without a
/// value.
///
/// ```
/// use examples::cli::{Flag, flags};
///
/// let args = ["--mode=cache", "--ports", "1,2"].map(String::from);
/// let steps: Vec<_> = flags(args, &["--mode", "--ports"]).collect::<Result<_, _>>()?;
/// assert_eq!(steps[0], Flag::Value("--mode".into(), "cache".into()));
/// assert_eq!(steps[1], Flag::Value("--ports".into(), "1,2".into()));
/// assert_eq!(flags(["--bogus".to_owned()], &["--mode"]).next().unwrap().unwrap_err().flag, "--bogus");
/// # Ok::<(), examples::cli::ArgError>(())
/// ```
pub fn flags<'k>(
    args: impl IntoIterator<Item = String>,
    known: &'k [&'k str],
) -> impl Iterator<Item = Result<Flag, ArgError>> + 'k {
    // Collected so the walker owns its arguments whatever iterator they came from.
    let mut args = args.into_iter().collect::<Vec<_>>().into_iter();
    std::iter::from_fn(move || {
        let arg = args.next()?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if matches!(flag.as_str(), "-h" | "--help") {
            return Some(Ok(Flag::Help));
        }
        if !known.contains(&flag.as_str()) {
            return Some(Err(ArgError::new(&flag, "unknown argument (try --help)")));
        }
        Some(match inline.or_else(|| args.next()) {
            Some(value) => Ok(Flag::Value(flag, value)),
            None => Err(ArgError::new(&flag, "needs a value")),
        })
    })
}

/// Stores `value` for `flag`, refusing a flag given twice.
///
/// # Errors
///
/// An [`ArgError`] when `slot` is already set.
pub fn set_once<T>(flag: &str, slot: &mut Option<T>, value: T) -> Result<(), ArgError> {
    if slot.is_some() {
        return Err(ArgError::new(flag, "given more than once"));
    }
    *slot = Some(value);
    Ok(())
}
