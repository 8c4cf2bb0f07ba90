//! The gateway's configuration: flags, a TOML file (`--config gateway.toml`) with a key
//! for every flag, and the embedded defaults. Flags override the file; every error names
//! the flag or the file's key, and says why.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;

use ipnet::IpNet;
use twiml::PublicBase;

use crate::cli::{ArgError, Flag, flags, set_once};

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
usage: gateway [--config gateway.toml] [--https 127.0.0.1:8443] [--turn 127.0.0.1:3478]
               [--cert cert.pem --key key.pem] [--redis redis://127.0.0.1:6379]
               [--public-base https://voice.example.com] [--max-connections N]
               [--rate-limit N] [--burst N] [--rate-capacity N] [--trusted-proxies CIDR,...]
               [--realm REALM] [--turn-user NAME:PASSWORD] [--turn-secret SECRET]
               [--cookie-domain base.localhost] [--sessions N] [--layers all|none]

Every flag has a key in the --config file (flags win):

  redis = \"redis://127.0.0.1:6379\"      # --redis: rate limits, TLS sessions and ticket keys
  layers = \"all\"                       # --layers: `none` serves the same app without the
                                       # toolkit's HTTP layers (cookie-migrate, ratelimit's
                                       # cookie validator and limiter, the Twilio signature
                                       # layer, so no /voice): a baseline for benchmarks only.
                                       # TLS (tls-resume), tracing and counters stay the same.
  [https]
  listen = \"127.0.0.1:8443\"            # --https (port 0: a free port)
  cert = \"cert.pem\"                    # --cert, with key (default: self-signed for localhost)
  key = \"key.pem\"                      # --key
  max_connections = 1024               # --max-connections
  [twilio]
  public_base = \"https://voice.example.com\"  # --public-base (default: https://<listen>)
  auth_token = \"...\"                   # file only; else TWILIO_AUTH_TOKEN, else a demo token
  [turn]
  listen = \"127.0.0.1:3478\"            # --turn (port 0: a free port)
  realm = \"localhost\"                  # --realm
  users = [\"alice:secret\"]             # --turn-user NAME:PASSWORD
  rest_secret = \"...\"                  # --turn-secret (default: random, not printed)
  [rate_limit]
  per_second = 50                      # --rate-limit: requests per second per key
  burst = 100                          # --burst
  capacity = 100000                    # --rate-capacity: keys tracked at most
  trusted_proxies = [\"10.0.0.0/8\"]     # --trusted-proxies: whose X-Forwarded-For is believed
  [shop]
  cookie_domain = \"base.localhost\"     # --cookie-domain: the legacy `sid` cookie's Domain
  sessions = 10000                     # --sessions: shop sessions kept at most";

/// Every setting: its key in the file and its flag (`None`: file only).
const SETTINGS: &[(&str, Option<&str>)] = &[
    ("redis", Some("--redis")),
    ("layers", Some("--layers")),
    ("https.listen", Some("--https")),
    ("https.cert", Some("--cert")),
    ("https.key", Some("--key")),
    ("https.max_connections", Some("--max-connections")),
    ("twilio.public_base", Some("--public-base")),
    ("twilio.auth_token", None),
    ("turn.listen", Some("--turn")),
    ("turn.realm", Some("--realm")),
    ("turn.users", Some("--turn-user")),
    ("turn.rest_secret", Some("--turn-secret")),
    ("rate_limit.per_second", Some("--rate-limit")),
    ("rate_limit.burst", Some("--burst")),
    ("rate_limit.capacity", Some("--rate-capacity")),
    ("rate_limit.trusted_proxies", Some("--trusted-proxies")),
    ("shop.cookie_domain", Some("--cookie-domain")),
    ("shop.sessions", Some("--sessions")),
];

/// The default HTTPS address.
pub const DEFAULT_HTTPS: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    8443,
));
/// The default TURN address.
pub const DEFAULT_TURN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    3478,
));
/// The default number of HTTPS connections served at once; more wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default sustained rate per key, in requests per second.
pub const DEFAULT_PER_SECOND: u32 = 50;
/// The default burst per key.
pub const DEFAULT_BURST: u32 = 100;
/// The default number of keys the rate limiter tracks.
pub const DEFAULT_RATE_CAPACITY: usize = 100_000;
/// The default shop session capacity.
pub const DEFAULT_SESSIONS: usize = 10_000;
/// The default TURN realm.
pub const DEFAULT_REALM: &str = "localhost";
/// The default static TURN user (a demo account, as the banner's command uses).
pub const DEFAULT_TURN_USER: (&str, &str) = ("alice", "secret");
/// The default legacy cookie domain of the shop.
pub const DEFAULT_COOKIE_DOMAIN: &str = "base.localhost";

/// Which of the toolkit's HTTP layers the gateway runs (`--layers`, `layers`).
///
/// The toolkit layers are `cookie_migrate`'s migration, `ratelimit`'s cookie validator and
/// rate limiter, and `twiml`'s signature layer in front of `/voice`. Everything else is
/// the same in both: the TLS listener (rustls through `tls_resume`'s `ResumingAcceptor`,
/// its session cache and ticketer), the server loop and its limits, request tracing, the
/// response counters and the routes `/`, `/shop`, `/healthz` and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layers {
    /// Every toolkit layer: the gateway.
    #[default]
    All,
    /// None of them: the baseline a benchmark compares the gateway with. `/voice` is not
    /// served (an IVR without its signature check would answer anyone).
    None,
}

impl Layers {
    /// The value of the flag and the key: `all` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::None => "none",
        }
    }
}

/// The rate limiter's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSettings {
    /// Requests per second each key earns back.
    pub per_second: NonZeroU32,
    /// Requests a key may make at once.
    pub burst: NonZeroU32,
    /// Keys tracked at most (the limiter's memory is fixed by this).
    pub capacity: NonZeroUsize,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
}

/// Everything the gateway runs with. `Debug` never prints a secret (the Twilio auth
/// token, TURN passwords, the TURN REST secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The HTTPS address (port 0: a free port).
    pub https: SocketAddr,
    /// The TURN (UDP) address (port 0: a free port).
    pub turn: SocketAddr,
    /// A PEM certificate chain and private key; `None`: a self-signed certificate for
    /// `localhost` made at start.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// HTTPS connections served at once.
    pub max_connections: NonZeroUsize,
    /// The Redis node for rate limits, TLS sessions and ticket keys (`None`: in memory).
    pub redis: Option<String>,
    /// The URL Twilio calls (`None`: `https://` and the HTTPS address).
    pub public_base: Option<PublicBase>,
    /// The Twilio auth token from the file (`None`: `TWILIO_AUTH_TOKEN` or the demo token).
    pub twilio_token: Option<String>,
    /// The TURN realm.
    pub realm: String,
    /// Static TURN users and their passwords.
    pub turn_users: Vec<(String, String)>,
    /// The TURN REST-API shared secret (`None`: a random one).
    pub turn_secret: Option<String>,
    /// The rate limiter.
    pub rate: RateSettings,
    /// The shop's legacy cookie domain.
    pub cookie_domain: String,
    /// The shop's session capacity.
    pub sessions: NonZeroUsize,
    /// The toolkit's HTTP layers: all of them, or none (a benchmark baseline).
    pub layers: Layers,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.turn_users.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Config")
            .field("https", &self.https)
            .field("turn", &self.turn)
            .field("cert", &self.cert)
            .field("max_connections", &self.max_connections)
            .field("redis", &self.redis)
            .field("public_base", &self.public_base)
            .field("realm", &self.realm)
            .field("turn_users", &users)
            .field("rate", &self.rate)
            .field("cookie_domain", &self.cookie_domain)
            .field("sessions", &self.sessions)
            .field("layers", &self.layers)
            .finish_non_exhaustive()
    }
}

/// What [`parse_args`] found: a configuration, or a request for help.
pub type Command = crate::cli::Command<Config>;

/// A raw setting: where it came from (a flag, or `file: key`) and its text or list.
#[derive(Debug, Clone)]
struct Raw {
    origin: String,
    value: Value,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    List(Vec<String>),
}

/// Parses the arguments after the program name, reading `--config` when given.
///
/// ```
/// use examples::gateway::{Command, parse_args};
///
/// let args = ["--https", "127.0.0.1:0", "--rate-limit", "5"];
/// let Command::Run(config) = parse_args(args.map(String::from))? else { unreachable!() };
/// assert_eq!(config.https.port(), 0);
/// assert_eq!(config.rate.per_second.get(), 5);
/// assert_eq!(config.turn.port(), 3478);
///
/// let error = parse_args(["--burst", "0"].map(String::from)).unwrap_err();
/// assert_eq!(error.flag, "--burst");
/// # Ok::<(), examples::cli::ArgError>(())
/// ```
///
/// # Errors
///
/// An [`ArgError`] naming the flag or the file's key (`gateway.toml: rate_limit.burst`):
/// unknown flags or keys, missing or malformed values, a flag given twice, a file that
/// cannot be read or parsed, `--cert` without `--key`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let known: Vec<&str> = std::iter::once("--config")
        .chain(SETTINGS.iter().filter_map(|(_, flag)| *flag))
        .collect();
    let mut config_file = None;
    let mut from_flags: BTreeMap<&'static str, Raw> = BTreeMap::new();
    for step in flags(args, &known) {
        let (flag, value) = match step? {
            Flag::Help => return Ok(Command::Help),
            Flag::Value(flag, value) => (flag, value),
        };
        if flag == "--config" {
            set_once(&flag, &mut config_file, value)?;
            continue;
        }
        let key = SETTINGS
            .iter()
            .find(|(_, f)| *f == Some(flag.as_str()))
            .map(|(key, _)| *key)
            .ok_or_else(|| ArgError::new(&flag, "unknown argument (try --help)"))?;
        let value = match key {
            "rate_limit.trusted_proxies" => Value::List(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            "turn.users" => Value::List(vec![value]),
            _ => Value::Text(value),
        };
        let mut slot = from_flags.remove(key);
        set_once(
            &flag,
            &mut slot,
            Raw {
                origin: flag.clone(),
                value,
            },
        )?;
        if let Some(raw) = slot {
            from_flags.insert(key, raw);
        }
    }
    let mut settings = match &config_file {
        Some(path) => read_file(path)?,
        None => BTreeMap::new(),
    };
    settings.extend(from_flags);
    resolve(&settings).map(Command::Run)
}

/// Reads and checks the TOML file at `path`: every key known, every value a string,
/// integer or array of strings.
fn read_file(path: &str) -> Result<BTreeMap<&'static str, Raw>, ArgError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ArgError::new("--config", format!("cannot read {path}: {e}")))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ArgError::new(path, format!("not valid TOML: {}", e.message())))?;
    let mut found = BTreeMap::new();
    let mut visit = |key: String, value: &toml::Value| -> Result<(), ArgError> {
        let origin = format!("{path}: {key}");
        let known = SETTINGS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(k, _)| *k)
            .ok_or_else(|| ArgError::new(&origin, "unknown key (see --help for the keys)"))?;
        let value = match value {
            toml::Value::String(s) => Value::Text(s.clone()),
            toml::Value::Integer(i) => Value::Text(i.to_string()),
            toml::Value::Array(items) => Value::List(
                items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| ArgError::new(&origin, "expected an array of strings"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(ArgError::new(
                    &origin,
                    format!(
                        "expected a string or an integer, found a {}",
                        other.type_str()
                    ),
                ));
            }
        };
        found.insert(known, Raw { origin, value });
        Ok(())
    };
    for (name, value) in &table {
        match value {
            toml::Value::Table(section) => {
                if !SETTINGS
                    .iter()
                    .any(|(k, _)| k.starts_with(&format!("{name}.")))
                {
                    return Err(ArgError::new(
                        &format!("{path}: {name}"),
                        "unknown section (see --help for the keys)",
                    ));
                }
                for (key, value) in section {
                    visit(format!("{name}.{key}"), value)?;
                }
            }
            value => visit(name.clone(), value)?,
        }
    }
    Ok(found)
}

/// Turns the raw settings into a [`Config`], filling in the defaults.
fn resolve(settings: &BTreeMap<&'static str, Raw>) -> Result<Config, ArgError> {
    let text = |key: &str| -> Result<Option<(&str, &str)>, ArgError> {
        match settings.get(key) {
            None => Ok(None),
            Some(Raw {
                origin,
                value: Value::Text(text),
            }) => Ok(Some((origin.as_str(), text.as_str()))),
            Some(Raw { origin, .. }) => Err(ArgError::new(origin, "expected a single value")),
        }
    };
    let list = |key: &str| -> Option<(&str, Vec<String>)> {
        settings.get(key).map(|raw| {
            let items = match &raw.value {
                Value::Text(text) => vec![text.clone()],
                Value::List(items) => items.clone(),
            };
            (raw.origin.as_str(), items)
        })
    };
    let addr = |key: &str, default: SocketAddr| -> Result<SocketAddr, ArgError> {
        match text(key)? {
            None => Ok(default),
            Some((origin, value)) => value.parse().map_err(|_| {
                ArgError::new(
                    origin,
                    format!("`{value}` is not an address like {default}"),
                )
            }),
        }
    };
    let positive = |key: &str, default: usize| -> Result<NonZeroUsize, ArgError> {
        let value = match text(key)? {
            None => default,
            Some((origin, value)) => value.parse::<usize>().map_err(|_| {
                ArgError::new(origin, format!("`{value}` is not a positive integer"))
            })?,
        };
        NonZeroUsize::new(value).ok_or_else(|| {
            let origin = text(key).ok().flatten().map_or(key, |(origin, _)| origin);
            ArgError::new(origin, "must be at least 1")
        })
    };
    let positive_u32 = |key: &str, default: u32| -> Result<NonZeroU32, ArgError> {
        let value = positive(key, default as usize)?;
        u32::try_from(value.get())
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| {
                let origin = text(key).ok().flatten().map_or(key, |(origin, _)| origin);
                ArgError::new(origin, format!("must be at most {}", u32::MAX))
            })
    };

    let cert = match (text("https.cert")?, text("https.key")?) {
        (None, None) => None,
        (Some((_, cert)), Some((_, key))) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (Some((origin, _)), None) => {
            return Err(ArgError::new(
                origin,
                "needs the key too (--key / https.key)",
            ));
        }
        (None, Some((origin, _))) => {
            return Err(ArgError::new(
                origin,
                "needs the certificate too (--cert / https.cert)",
            ));
        }
    };
    let redis = match text("redis")? {
        None => None,
        Some((origin, url)) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ArgError::new(
                    origin,
                    format!("`{url}` is not a redis:// URL"),
                ));
            }
            Some(url.to_owned())
        }
    };
    let public_base = match text("twilio.public_base")? {
        None => None,
        Some((origin, value)) => Some(PublicBase::parse(value).map_err(|e| {
            ArgError::new(origin, format!("`{value}` is not a public base URL: {e}"))
        })?),
    };
    let twilio_token = match text("twilio.auth_token")? {
        Some((origin, "")) => return Err(ArgError::new(origin, "must not be empty")),
        other => other.map(|(_, token)| token.to_owned()),
    };
    let realm = match text("turn.realm")? {
        None => DEFAULT_REALM.to_owned(),
        Some((origin, "")) => return Err(ArgError::new(origin, "must not be empty")),
        Some((_, realm)) => realm.to_owned(),
    };
    let turn_users = match list("turn.users") {
        None => vec![(
            DEFAULT_TURN_USER.0.to_owned(),
            DEFAULT_TURN_USER.1.to_owned(),
        )],
        Some((origin, users)) => users
            .iter()
            .map(|user| match user.split_once(':') {
                Some((name, password)) if !name.is_empty() && !password.is_empty() => {
                    Ok((name.to_owned(), password.to_owned()))
                }
                // Never echo the value: it holds a password.
                _ => Err(ArgError::new(origin, "expected NAME:PASSWORD")),
            })
            .collect::<Result<_, _>>()?,
    };
    let turn_secret = match text("turn.rest_secret")? {
        Some((origin, "")) => return Err(ArgError::new(origin, "must not be empty")),
        other => other.map(|(_, secret)| secret.to_owned()),
    };
    let trusted_proxies = match list("rate_limit.trusted_proxies") {
        None => Vec::new(),
        Some((origin, items)) => items
            .iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ArgError::new(origin, format!("`{item}` is not a network like 10.0.0.0/8"))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let layers = match text("layers")? {
        None | Some((_, "all")) => Layers::All,
        Some((_, "none")) => Layers::None,
        Some((origin, other)) => {
            return Err(ArgError::new(
                origin,
                format!("`{other}` is neither `all` nor `none`"),
            ));
        }
    };
    let cookie_domain = match text("shop.cookie_domain")? {
        None => DEFAULT_COOKIE_DOMAIN.to_owned(),
        Some((origin, value)) => {
            let domain = value.trim_start_matches('.').to_ascii_lowercase();
            let probe = crate::shop::Sessions::new(NonZeroUsize::MIN);
            crate::shop::migration(&probe, &domain)
                .map_err(|e| ArgError::new(origin, e.to_string()))?;
            domain
        }
    };
    Ok(Config {
        https: addr("https.listen", DEFAULT_HTTPS)?,
        turn: addr("turn.listen", DEFAULT_TURN)?,
        cert,
        max_connections: positive("https.max_connections", DEFAULT_MAX_CONNECTIONS)?,
        redis,
        public_base,
        twilio_token,
        realm,
        turn_users,
        turn_secret,
        rate: RateSettings {
            per_second: positive_u32("rate_limit.per_second", DEFAULT_PER_SECOND)?,
            burst: positive_u32("rate_limit.burst", DEFAULT_BURST)?,
            capacity: positive("rate_limit.capacity", DEFAULT_RATE_CAPACITY)?,
            trusted_proxies,
        },
        cookie_domain,
        sessions: positive("shop.sessions", DEFAULT_SESSIONS)?,
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ArgError> {
        match parse_args(args.iter().map(|s| (*s).to_owned()))? {
            Command::Run(config) => Ok(config),
            Command::Help => panic!("help"),
        }
    }

    fn file(name: &str, text: &str) -> String {
        let path = std::env::temp_dir().join(format!("gateway-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    #[test]
    fn defaults_need_no_setup() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.https, DEFAULT_HTTPS);
        assert_eq!(config.turn, DEFAULT_TURN);
        assert_eq!(config.cert, None);
        assert_eq!(config.redis, None);
        assert_eq!(config.layers, Layers::All);
        assert_eq!(config.rate.per_second.get(), DEFAULT_PER_SECOND);
        assert_eq!(
            config.turn_users,
            [("alice".to_owned(), "secret".to_owned())]
        );
    }

    #[test]
    fn the_file_sets_everything_and_flags_win() {
        let path = file(
            "full",
            "redis = \"redis://127.0.0.1:6379\"\nlayers = \"none\"\n\
             [https]\nlisten = \"127.0.0.1:0\"\nmax_connections = 8\n\
             [twilio]\nauth_token = \"tok\"\npublic_base = \"https://voice.example.com\"\n\
             [turn]\nlisten = \"127.0.0.1:0\"\nrealm = \"example.org\"\nusers = [\"bob:pw\"]\nrest_secret = \"s\"\n\
             [rate_limit]\nper_second = 2\nburst = 3\ncapacity = 10\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
             [shop]\ncookie_domain = \"shop.localhost\"\nsessions = 5\n",
        );
        let config = parse(&["--config", &path, "--burst", "7"]).unwrap();
        assert_eq!(config.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(config.https.port(), 0);
        assert_eq!(config.max_connections.get(), 8);
        assert_eq!(config.twilio_token.as_deref(), Some("tok"));
        assert_eq!(config.realm, "example.org");
        assert_eq!(config.turn_users, [("bob".to_owned(), "pw".to_owned())]);
        assert_eq!(config.turn_secret.as_deref(), Some("s"));
        assert_eq!(config.rate.per_second.get(), 2);
        assert_eq!(config.rate.burst.get(), 7, "the flag wins");
        assert_eq!(config.rate.capacity.get(), 10);
        assert_eq!(config.rate.trusted_proxies.len(), 1);
        assert_eq!(config.cookie_domain, "shop.localhost");
        assert_eq!(config.sessions.get(), 5);
        assert_eq!(config.layers, Layers::None);
        assert_eq!(parse(&["--layers", "all"]).unwrap().layers, Layers::All);
        let debug = format!("{config:?}");
        assert!(!debug.contains("tok") && !debug.contains("pw") && !debug.contains("\"s\""));
    }

    #[test]
    fn errors_name_the_key_and_say_why() {
        let path = file("zero", "[rate_limit]\nper_second = 0\n");
        let error = parse(&["--config", &path]).unwrap_err();
        assert_eq!(error.flag, format!("{path}: rate_limit.per_second"));
        assert_eq!(error.reason, "must be at least 1");

        let path = file("unknown", "[rate_limit]\nper_secnd = 1\n");
        let error = parse(&["--config", &path]).unwrap_err();
        assert_eq!(error.flag, format!("{path}: rate_limit.per_secnd"));

        let path = file("type", "[https]\nlisten = true\n");
        let error = parse(&["--config", &path]).unwrap_err();
        assert_eq!(error.flag, format!("{path}: https.listen"));

        let path = file("addr", "[turn]\nlisten = \"nowhere\"\n");
        let error = parse(&["--config", &path]).unwrap_err();
        assert_eq!(error.flag, format!("{path}: turn.listen"));

        assert_eq!(parse(&["--cert", "c.pem"]).unwrap_err().flag, "--cert");
        let error = parse(&["--layers", "some"]).unwrap_err();
        assert_eq!(error.flag, "--layers");
        assert_eq!(error.reason, "`some` is neither `all` nor `none`");
        assert_eq!(parse(&["--redis", "http://x"]).unwrap_err().flag, "--redis");
        assert_eq!(
            parse(&["--config", "/nonexistent/gw.toml"])
                .unwrap_err()
                .flag,
            "--config"
        );
        let error = parse(&["--turn-user", "alice-no-password"]).unwrap_err();
        assert!(!error.to_string().contains("alice-no-password"));
    }
}
