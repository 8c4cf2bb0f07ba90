//! The `tls-instances` command line.

use tls_resume::RedisStore;

/// The usage line printed by `--help`.
pub const USAGE: &str = "usage: tls-instances --ports PORT,PORT,... \
[--redis redis://127.0.0.1:6379] [--mode cache|tickets|both|none]";

/// The most instances one process runs.
pub const MAX_INSTANCES: usize = 64;

/// What the instances share, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A `SessionCache` per instance over one shared tier; tickets disabled (TLS 1.2
    /// session ids and TLS 1.3 stateful tickets).
    Cache,
    /// A `KeyRingTicketer` per instance with the fleet's keys; no session store.
    Tickets,
    /// Both.
    Both,
    /// Nothing shared: rustls's defaults (a 256-entry cache private to each instance, no
    /// tickets). The control showing incident 4's 1/N.
    None,
}

impl Mode {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cache => "cache",
            Mode::Tickets => "tickets",
            Mode::Both => "both",
            Mode::None => "none",
        }
    }

    /// Whether instances keep sessions in a (shared) `SessionCache`.
    pub fn uses_cache(self) -> bool {
        matches!(self, Mode::Cache | Mode::Both)
    }

    /// Whether instances issue tickets with the fleet's key ring.
    pub fn uses_tickets(self) -> bool {
        matches!(self, Mode::Tickets | Mode::Both)
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// One instance per port, in order (port 0: an ephemeral port).
    pub ports: Vec<u16>,
    /// The Redis URL of the shared tier, if any (else in memory).
    pub redis: Option<String>,
    /// What the instances share.
    pub mode: Mode,
}

/// What [`parse_args`] found: a configuration, or a request for help.
pub type Command = crate::cli::Command<Config>;

pub use crate::cli::ArgError;

/// Parses the arguments after the program name.
///
/// ```
/// use examples::tls::{Command, Mode, parse_args};
///
/// let args = ["--ports", "9443,9444", "--mode", "tickets"];
/// let Command::Run(config) = parse_args(args.map(String::from))? else { unreachable!() };
/// assert_eq!(config.ports, [9443, 9444]);
/// assert_eq!(config.mode, Mode::Tickets);
/// assert_eq!(config.redis, None);
///
/// let error = parse_args(["--ports", "9443,https"].map(String::from)).unwrap_err();
/// assert_eq!(error.flag, "--ports");
/// # Ok::<(), examples::tls::ArgError>(())
/// ```
///
/// # Errors
///
/// An [`ArgError`] naming the flag: unknown flags, missing or malformed values, a flag
/// given twice, no `--ports`, a non-zero port listed twice, more than [`MAX_INSTANCES`]
/// ports, and a `--redis` URL that does not parse.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let mut ports = None;
    let mut redis = None;
    let mut mode = None;

    for step in crate::cli::flags(args, &["--ports", "--redis", "--mode"]) {
        let (flag, value) = match step? {
            crate::cli::Flag::Help => return Ok(Command::Help),
            crate::cli::Flag::Value(flag, value) => (flag, value),
        };
        let flag = flag.as_str();
        match flag {
            "--ports" => crate::cli::set_once(flag, &mut ports, parse_ports(&value)?)?,
            "--redis" => {
                if let Err(error) = RedisStore::builder().node(&value) {
                    return Err(ArgError::new(
                        flag,
                        format!("`{value}` is not a Redis URL: {error}"),
                    ));
                }
                crate::cli::set_once(flag, &mut redis, value)?;
            }
            "--mode" => {
                let parsed = match value.as_str() {
                    "cache" => Mode::Cache,
                    "tickets" => Mode::Tickets,
                    "both" => Mode::Both,
                    "none" => Mode::None,
                    _ => {
                        return Err(ArgError::new(
                            flag,
                            format!("`{value}` is not `cache`, `tickets`, `both` or `none`"),
                        ));
                    }
                };
                crate::cli::set_once(flag, &mut mode, parsed)?;
            }
            _ => unreachable!("flags are checked above"),
        }
    }
    let ports =
        ports.ok_or_else(|| ArgError::new("--ports", "is required (e.g. 9443,9444,9445)"))?;
    let mode = mode.unwrap_or(Mode::Cache);
    if mode == Mode::None && redis.is_some() {
        return Err(ArgError::new(
            "--redis",
            "has no use with `--mode none` (nothing is shared)",
        ));
    }
    Ok(Command::Run(Config { ports, redis, mode }))
}

fn parse_ports(value: &str) -> Result<Vec<u16>, ArgError> {
    let flag = "--ports";
    let mut ports = Vec::new();
    for part in value.split(',') {
        let port: u16 = part.trim().parse().map_err(|_| {
            ArgError::new(
                flag,
                format!("`{part}` is not a port (0 to 65535; 0 picks a free one)"),
            )
        })?;
        if port != 0 && ports.contains(&port) {
            return Err(ArgError::new(flag, format!("port {port} listed twice")));
        }
        ports.push(port);
    }
    if ports.len() > MAX_INSTANCES {
        return Err(ArgError::new(
            flag,
            format!("at most {MAX_INSTANCES} instances"),
        ));
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, ArgError> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    fn flag_of(args: &[&str]) -> String {
        parse(args).unwrap_err().flag
    }

    #[test]
    fn parses_every_flag_in_both_forms() {
        let Ok(Command::Run(config)) = parse(&[
            "--ports=0,0",
            "--redis",
            "redis://127.0.0.1:6379",
            "--mode=both",
        ]) else {
            panic!("parses");
        };
        assert_eq!(config.ports, [0, 0]);
        assert_eq!(config.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(config.mode, Mode::Both);
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn defaults_to_cache_mode_in_memory() {
        let Ok(Command::Run(config)) = parse(&["--ports", "9443"]) else {
            panic!("parses");
        };
        assert_eq!(config.mode, Mode::Cache);
        assert_eq!(config.redis, None);
    }

    #[test]
    fn refuses_bad_arguments_naming_the_flag() {
        assert_eq!(flag_of(&[]), "--ports");
        assert_eq!(flag_of(&["--ports"]), "--ports");
        assert_eq!(flag_of(&["--ports", ""]), "--ports");
        assert_eq!(flag_of(&["--ports", "9443,70000"]), "--ports");
        assert_eq!(flag_of(&["--ports", "9443,9443"]), "--ports");
        assert_eq!(flag_of(&["--ports", "1", "--ports", "2"]), "--ports");
        assert_eq!(flag_of(&["--ports", "1", "--mode", "lax"]), "--mode");
        assert_eq!(flag_of(&["--ports", "1", "--redis", "http://x"]), "--redis");
        assert_eq!(
            flag_of(&["--ports", "1", "--mode", "none", "--redis", "redis://h"]),
            "--redis"
        );
        assert_eq!(flag_of(&["--ports", "1", "--verbose"]), "--verbose");
    }
}
