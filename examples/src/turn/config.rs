//! The `turn-server` command line.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// The usage line printed by `--help`.
pub const USAGE: &str = "usage: turn-server --listen IP:PORT --realm REALM --user NAME:PASSWORD... \
[--rest-secret SECRET] [--nonce-policy strict|allocation-bound] [--nonce-lifetime 10m] \
[--allocation-lifetime 1h]";

/// The longest allocation lifetime granted when `--allocation-lifetime` is not given (the
/// RFC 8656 §7.2 recommendation and coturn's `max-allocate-lifetime`).
pub const DEFAULT_MAX_ALLOCATION_LIFETIME: Duration = Duration::from_secs(3600);

/// Which [`turn_auth::NoncePolicy`] the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// [`turn_auth::NoncePolicy::Strict`]: `438` as soon as a nonce is older than its lifetime.
    Strict,
    /// [`turn_auth::NoncePolicy::AllocationBound`]: expired nonces keep working for the
    /// requests of a live allocation from its own 5-tuple.
    AllocationBound,
}

/// What the command line asked for.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The UDP address to listen on; relay sockets are bound on its IP.
    pub listen: SocketAddr,
    /// The realm.
    pub realm: String,
    /// Static users, `(name, password)`, in the order given.
    pub users: Vec<(String, String)>,
    /// The TURN REST API shared secret, if any.
    pub rest_secret: Option<String>,
    /// The nonce policy.
    pub nonce_policy: PolicyKind,
    /// How long a nonce is fresh.
    pub nonce_lifetime: Duration,
    /// The longest lifetime an allocation is granted (clients refresh before it ends).
    pub allocation_lifetime: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("realm", &self.realm)
            .field("users", &users)
            .field("rest_secret", &self.rest_secret.as_ref().map(|_| "…"))
            .field("nonce_policy", &self.nonce_policy)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("allocation_lifetime", &self.allocation_lifetime)
            .finish()
    }
}

/// What [`parse_args`] found: a configuration, or a request for help.
pub type Command = crate::cli::Command<Config>;

pub use crate::cli::ArgError;

/// Parses the arguments after the program name.
///
/// ```
/// use examples::turn::{Command, PolicyKind, parse_args};
/// use std::time::Duration;
///
/// let args = ["--listen", "127.0.0.1:0", "--realm", "example.org", "--user", "alice:secret",
///             "--nonce-policy", "strict", "--nonce-lifetime", "500ms"];
/// let Command::Run(config) = parse_args(args.map(String::from))? else { unreachable!() };
/// assert_eq!(config.users, [("alice".to_owned(), "secret".to_owned())]);
/// assert_eq!(config.nonce_policy, PolicyKind::Strict);
/// assert_eq!(config.nonce_lifetime, Duration::from_millis(500));
///
/// let error = parse_args(["--listen", "localhost"].map(String::from)).unwrap_err();
/// assert_eq!(error.flag, "--listen");
/// # Ok::<(), examples::turn::ArgError>(())
/// ```
///
/// # Errors
///
/// An [`ArgError`] naming the flag: unknown flags, missing or malformed values, a flag
/// given twice (except `--user`), no `--listen` or `--realm`, and no credentials at all
/// (neither `--user` nor `--rest-secret`).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let mut listen = None;
    let mut realm = None;
    let mut users: Vec<(String, String)> = Vec::new();
    let mut rest_secret = None;
    let mut nonce_policy = None;
    let mut nonce_lifetime = None;
    let mut allocation_lifetime = None;

    for step in crate::cli::flags(
        args,
        &[
            "--listen",
            "--realm",
            "--user",
            "--rest-secret",
            "--nonce-policy",
            "--nonce-lifetime",
            "--allocation-lifetime",
        ],
    ) {
        let (flag, value) = match step? {
            crate::cli::Flag::Help => return Ok(Command::Help),
            crate::cli::Flag::Value(flag, value) => (flag, value),
        };
        let flag = flag.as_str();
        match flag {
            "--listen" => {
                let addr: SocketAddr = value.parse().map_err(|_| {
                    ArgError::new(flag, format!("`{value}` is not an IP:PORT address"))
                })?;
                if addr.ip().is_unspecified() {
                    return Err(ArgError::new(
                        flag,
                        format!(
                            "`{value}` is a wildcard address; give the address clients reach \
                             (relayed addresses are advertised on it)"
                        ),
                    ));
                }
                crate::cli::set_once(flag, &mut listen, addr)?;
            }
            "--realm" => {
                let chars = value.chars().count();
                if chars == 0
                    || chars > turn_auth::stun::MAX_TEXT_CHARS
                    || value.len() > turn_auth::stun::MAX_TEXT_LEN
                {
                    return Err(ArgError::new(
                        flag,
                        format!(
                            "must be 1 to {} characters",
                            turn_auth::stun::MAX_TEXT_CHARS
                        ),
                    ));
                }
                crate::cli::set_once(flag, &mut realm, value)?;
            }
            "--user" => {
                let Some((name, password)) = value.split_once(':') else {
                    return Err(ArgError::new(flag, "expected NAME:PASSWORD"));
                };
                if name.is_empty() || password.is_empty() {
                    return Err(ArgError::new(
                        flag,
                        "expected NAME:PASSWORD, both non-empty",
                    ));
                }
                if name.len() > turn_auth::stun::MAX_TEXT_LEN {
                    return Err(ArgError::new(
                        flag,
                        format!(
                            "the name is longer than {} bytes",
                            turn_auth::stun::MAX_TEXT_LEN
                        ),
                    ));
                }
                if users.iter().any(|(existing, _)| existing == name) {
                    return Err(ArgError::new(flag, format!("user `{name}` given twice")));
                }
                users.push((name.to_owned(), password.to_owned()));
            }
            "--rest-secret" => {
                if value.is_empty() {
                    return Err(ArgError::new(flag, "the secret is empty"));
                }
                crate::cli::set_once(flag, &mut rest_secret, value)?;
            }
            "--nonce-policy" => {
                let policy = match value.as_str() {
                    "strict" => PolicyKind::Strict,
                    "allocation-bound" => PolicyKind::AllocationBound,
                    _ => {
                        return Err(ArgError::new(
                            flag,
                            format!("`{value}` is not `strict` or `allocation-bound`"),
                        ));
                    }
                };
                crate::cli::set_once(flag, &mut nonce_policy, policy)?;
            }
            "--nonce-lifetime" => {
                let lifetime = parse_duration(&value).map_err(|why| ArgError::new(flag, why))?;
                if lifetime.is_zero() {
                    return Err(ArgError::new(flag, "must be longer than zero"));
                }
                crate::cli::set_once(flag, &mut nonce_lifetime, lifetime)?;
            }
            "--allocation-lifetime" => {
                let lifetime = parse_duration(&value).map_err(|why| ArgError::new(flag, why))?;
                if lifetime < Duration::from_secs(1) {
                    return Err(ArgError::new(
                        flag,
                        "must be at least 1s (LIFETIME is counted in whole seconds)",
                    ));
                }
                if lifetime.as_secs() > u64::from(u32::MAX) {
                    return Err(ArgError::new(
                        flag,
                        "does not fit LIFETIME (32-bit seconds)",
                    ));
                }
                crate::cli::set_once(flag, &mut allocation_lifetime, lifetime)?;
            }
            _ => unreachable!("flags are checked above"),
        }
    }

    let listen =
        listen.ok_or_else(|| ArgError::new("--listen", "is required (e.g. 127.0.0.1:3478)"))?;
    let realm = realm.ok_or_else(|| ArgError::new("--realm", "is required (e.g. example.org)"))?;
    if users.is_empty() && rest_secret.is_none() {
        return Err(ArgError::new(
            "--user",
            "at least one --user NAME:PASSWORD (or a --rest-secret) is required",
        ));
    }
    Ok(Command::Run(Config {
        listen,
        realm,
        users,
        rest_secret,
        nonce_policy: nonce_policy.unwrap_or(PolicyKind::AllocationBound),
        nonce_lifetime: nonce_lifetime.unwrap_or(turn_auth::policy::DEFAULT_NONCE_LIFETIME),
        allocation_lifetime: allocation_lifetime.unwrap_or(DEFAULT_MAX_ALLOCATION_LIFETIME),
    }))
}

/// Parses `500ms`, `5s`, `10m` or `1h` (a whole number and a unit).
///
/// ```
/// use examples::turn::parse_duration;
/// use std::time::Duration;
///
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
/// assert!(parse_duration("5").is_err());
/// ```
///
/// # Errors
///
/// Why the text is not such a duration (no unit, not a whole number, too large).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let explain = || format!("`{text}` is not a duration like 500ms, 5s, 10m or 1h");
    if number.is_empty() {
        return Err(explain());
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(explain()),
    };
    n.checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, ArgError> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    fn run(args: &[&str]) -> Config {
        match parse(args) {
            Ok(Command::Run(config)) => config,
            other => panic!("{other:?}"),
        }
    }

    const BASE: [&str; 6] = [
        "--listen",
        "127.0.0.1:3478",
        "--realm",
        "example.org",
        "--user",
        "alice:secret",
    ];

    #[test]
    fn the_documented_command_line() {
        let mut args = BASE.to_vec();
        args.extend([
            "--user",
            "bob:pa:ss",
            "--rest-secret",
            "north",
            "--nonce-policy",
            "strict",
            "--nonce-lifetime",
            "5s",
            "--allocation-lifetime=10s",
        ]);
        let config = run(&args);
        assert_eq!(config.listen, "127.0.0.1:3478".parse().unwrap());
        assert_eq!(config.realm, "example.org");
        assert_eq!(
            config.users,
            [
                ("alice".to_owned(), "secret".to_owned()),
                ("bob".to_owned(), "pa:ss".to_owned())
            ]
        );
        assert_eq!(config.rest_secret.as_deref(), Some("north"));
        assert_eq!(config.nonce_policy, PolicyKind::Strict);
        assert_eq!(config.nonce_lifetime, Duration::from_secs(5));
        assert_eq!(config.allocation_lifetime, Duration::from_secs(10));
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("north") && !debug.contains("pa:ss"),
            "{debug}"
        );
    }

    #[test]
    fn defaults() {
        let config = run(&BASE);
        assert_eq!(config.nonce_policy, PolicyKind::AllocationBound);
        assert_eq!(config.nonce_lifetime, Duration::from_secs(600));
        assert_eq!(config.allocation_lifetime, Duration::from_secs(3600));
        assert_eq!(config.rest_secret, None);
    }

    #[test]
    fn rest_secret_alone_is_enough() {
        let config = run(&[
            "--listen",
            "[::1]:0",
            "--realm",
            "r",
            "--rest-secret",
            "north",
        ]);
        assert!(config.users.is_empty());
    }

    #[test]
    fn help() {
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
    }

    #[test]
    fn errors_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--listen", "localhost:3478"], "--listen"),
            (&["--listen", "0.0.0.0:3478"], "--listen"),
            (&["--listen"], "--listen"),
            (&["--bogus", "1"], "--bogus"),
            (&["--user", "alice"], "--user"),
            (&["--user", ":x"], "--user"),
            (&["--user", "alice:"], "--user"),
            (&["--user", "a:b", "--user", "a:c"], "--user"),
            (&["--nonce-policy", "lax"], "--nonce-policy"),
            (&["--nonce-lifetime", "5"], "--nonce-lifetime"),
            (&["--nonce-lifetime", "0s"], "--nonce-lifetime"),
            (&["--allocation-lifetime", "500ms"], "--allocation-lifetime"),
            (
                &["--allocation-lifetime", "99999999999h"],
                "--allocation-lifetime",
            ),
            (&["--rest-secret", ""], "--rest-secret"),
            (&["--realm", ""], "--realm"),
            (&["--realm", "a", "--realm", "b"], "--realm"),
            (&["--realm", "r", "--user", "a:b"], "--listen"),
            (&["--listen", "127.0.0.1:1", "--user", "a:b"], "--realm"),
            (&["--listen", "127.0.0.1:1", "--realm", "r"], "--user"),
        ];
        for (args, flag) in cases {
            let error = parse(args).expect_err(&format!("{args:?}"));
            assert_eq!(error.flag, *flag, "{args:?}: {error}");
            assert!(
                error.to_string().starts_with(&format!("{flag}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "s",
            "5",
            "5 s",
            "1.5s",
            "-1s",
            "5d",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("18446744073709551615h").is_err());
    }
}
