//! Named policies and keyers from TOML or JSON.
//!
//! A configuration has an optional `cookie` section, `policies` (a quota, a capacity, an overflow policy and a backend)
//! and `keyers` (ordered sources, an optional `fallback` keyer and a `no_key` policy).
//! A keyer's `fallback = "other"` means "after my sources, try `other`'s": it is resolved
//! when the configuration is loaded into one flat, finite [`Keyer`], so nothing is looked
//! up by name while requests are keyed. Loading refuses fallback cycles (naming the whole
//! cycle, `a -> b -> a`, or `a -> a`), fallbacks to unknown keyers and chains of more than
//! [`MAX_FALLBACK_CHAIN`] keyers.
//!
//! ```
//! use ratelimit::config::Config;
//!
//! let config = Config::from_toml_str(r#"
//!     [policies.api]
//!     per_minute = 60
//!     burst = 10
//!     capacity = 100_000
//!     overflow = "shared-bucket"
//!
//!     [keyers.session]
//!     sources = [{ type = "cookie" }]
//!     fallback = "by-ip"
//!
//!     [keyers.by-ip]
//!     sources = [
//!         { type = "client-ip", trusted = ["10.0.0.0/8"], ipv6_prefix = 56 },
//!         { type = "peer-ip" },
//!     ]
//!     no_key = { reject = 403 }
//! "#)?;
//!
//! let session = config.keyer("session").unwrap();
//! assert_eq!(session.source_count(), 3, "cookie, then by-ip's two sources");
//! let limiter = config.policy("api").unwrap().limiter();
//! assert_eq!(limiter.quota().burst().get(), 10);
//!
//! let err = Config::from_toml_str(r#"
//!     [keyers.itself]
//!     sources = [{ type = "cookie" }]
//!     fallback = "itself"
//! "#).unwrap_err();
//! assert_eq!(err.to_string(), "keyer fallbacks form a cycle: itself -> itself");
//! # Ok::<(), ratelimit::config::ConfigError>(())
//! ```
//!
//! # Format
//!
//! | key | meaning |
//! |---|---|
//! | `cookie.name` | the cookie [`ValidateCookieLayer`] judges ([`CookieConfig::layer`] takes the validator) |
//! | `cookie.max_bytes` / `cookie.max_candidates` | its limits (default 8 KiB / 8) |
//! | `cookie.require_valid` | answer requests without a valid cookie with this status |
//! | `policies.<name>.per_second` / `per_minute` / `per_hour` | the rate: exactly one, non-zero |
//! | `policies.<name>.burst` | requests at once (default: the rate's count) |
//! | `policies.<name>.capacity` | the most keys with a state (at most [`MAX_CAPACITY`]) |
//! | `policies.<name>.overflow` | `"evict-lru"` (default), `"shared-bucket"` or `"reject"` |
//! | `policies.<name>.backend` | `"memory"` (default) |
//! | `keyers.<name>.sources` | steps in order: `{ type = "peer-ip" }`, `{ type = "client-ip", trusted = ["10.0.0.0/8"], header = "x-forwarded-for" \| "forwarded" }` (both take `ipv6_prefix`, default 64), `{ type = "header", name = "x-api-key" }`, `{ type = "cookie" }`, `{ type = "route" }`, `{ type = "global" }`, `{ type = "all", of = [ ...sources... ] }` |
//! | `keyers.<name>.fallback` | another keyer whose sources follow |
//! | `keyers.<name>.no_key` | `"shared-bucket"`, `"allow"` or `{ reject = 403 }`; if unset, the nearest one set along the fallback chain, else `"shared-bucket"` |
//!
//! Custom sources (functions) cannot be configured; build such keyers with
//! [`Keyer::builder`].

use std::collections::{BTreeMap, HashMap};
use std::num::{NonZeroU32, NonZeroUsize};

use http::{HeaderName, StatusCode};
use ipnet::IpNet;
use serde::Deserialize;

use crate::cookie::{
    CookieValidator, DEFAULT_MAX_BYTES, DEFAULT_MAX_CANDIDATES, ValidateCookieLayer,
};
use crate::keyer::{DEFAULT_IPV6_PREFIX, Keyer, NoKey, ProxyHeader, Source, Step};
use crate::{Limiter, Overflow, Quota};

/// The most keyers in one fallback chain, the keyer itself included: a flattened keyer has
/// at most this many times the sources of the largest keyer.
pub const MAX_FALLBACK_CHAIN: usize = 8;

/// The largest `capacity` a policy may configure. A policy's table grows with the keys it
/// sees up to about 37 bytes per state of capacity, so with a mistyped capacity a flood of
/// keys could take the process's memory; a hundred million keys (about 3.7 GB) is refused
/// above.
pub const MAX_CAPACITY: usize = 100_000_000;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not valid TOML or JSON, or not the expected shape.
    #[error("invalid {format} configuration: {message}")]
    Parse {
        /// `"TOML"` or `"JSON"`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A keyer falls back to a keyer that is not defined.
    #[error("keyer `{keyer}` falls back to `{fallback}`, which is not defined")]
    UnknownFallback {
        /// The keyer naming the fallback.
        keyer: String,
        /// The undefined name.
        fallback: String,
    },
    /// Fallbacks that come back to a keyer already in the chain.
    #[error("keyer fallbacks form a cycle: {}", cycle.join(" -> "))]
    FallbackCycle {
        /// The keyers of the cycle, the first repeated at the end (`["a", "b", "a"]`).
        cycle: Vec<String>,
    },
    /// A fallback chain longer than [`MAX_FALLBACK_CHAIN`] keyers.
    #[error(
        "keyer `{keyer}` has a fallback chain of {} keyers, more than {max}: {}",
        chain.len(),
        chain.join(" -> ")
    )]
    FallbackTooDeep {
        /// The keyer whose chain is too long.
        keyer: String,
        /// The chain, from the keyer on.
        chain: Vec<String>,
        /// [`MAX_FALLBACK_CHAIN`].
        max: usize,
    },
    /// A source that cannot work (a bad header name, network or prefix length).
    #[error("keyer `{keyer}`, source {index}: {reason}")]
    InvalidSource {
        /// The keyer.
        keyer: String,
        /// The source's position in `sources` (from 0).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A keyer setting that cannot work (a bad status code).
    #[error("keyer `{keyer}`: {reason}")]
    InvalidKeyer {
        /// The keyer.
        keyer: String,
        /// What is wrong.
        reason: String,
    },
    /// A `[cookie]` section that cannot work.
    #[error("cookie: {reason}")]
    InvalidCookie {
        /// What is wrong.
        reason: String,
    },
    /// A policy that cannot work.
    #[error("policy `{policy}`: {reason}")]
    InvalidPolicy {
        /// The policy.
        policy: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where a policy's states live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackendKind {
    /// In this process: a [`Limiter`].
    #[default]
    Memory,
}

/// A named rate-limit policy as configured: the quota, capacity, overflow policy and
/// backend. [`limiter`](Self::limiter) builds its in-memory limiter, which the tower
/// layer's `Policy::new(name, keyer, limiter)` takes with a keyer from
/// [`Config::keyer`]. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    quota: Quota,
    capacity: NonZeroUsize,
    overflow: Overflow,
    backend: BackendKind,
}

impl PolicyConfig {
    /// The quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The most keys with a state.
    pub fn capacity(&self) -> NonZeroUsize {
        self.capacity
    }

    /// What new keys get when the store is full.
    pub fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Where states live.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// An in-memory limiter for this policy (on the monotonic clock; use
    /// [`Limiter::with_clock`] for another).
    pub fn limiter(&self) -> Limiter {
        Limiter::new(self.quota, self.capacity).with_overflow(self.overflow)
    }
}

/// The `[cookie]` section: which cookie [`ValidateCookieLayer`] judges, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    name: String,
    max_bytes: usize,
    max_candidates: usize,
    require_valid: Option<StatusCode>,
}

impl CookieConfig {
    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The layer judging the cookie with `validator`: the one validator for the gate, the
    /// keyers' `cookie` sources and the application.
    pub fn layer(&self, validator: impl CookieValidator) -> ValidateCookieLayer {
        let layer = ValidateCookieLayer::new(self.name.clone(), validator)
            .max_bytes(self.max_bytes)
            .max_candidates(self.max_candidates);
        match self.require_valid {
            Some(status) => layer.require_valid(status),
            None => layer,
        }
    }
}

/// A loaded configuration: named policies and flattened keyers.
#[derive(Debug, Clone)]
pub struct Config {
    cookie: Option<CookieConfig>,
    policies: BTreeMap<String, PolicyConfig>,
    keyers: BTreeMap<String, Keyer>,
}

impl Config {
    /// Loads a TOML configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for syntax errors, unknown fields, invalid values, and fallback
    /// cycles, unknown fallbacks or chains over [`MAX_FALLBACK_CHAIN`].
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            format: "TOML",
            message: e.message().to_owned(),
        })?;
        Self::resolve(raw)
    }

    /// Loads a JSON configuration (the same shape as TOML).
    ///
    /// # Errors
    ///
    /// As [`from_toml_str`](Self::from_toml_str).
    pub fn from_json_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| ConfigError::Parse {
            format: "JSON",
            message: e.to_string(),
        })?;
        Self::resolve(raw)
    }

    /// The `[cookie]` section, if any.
    pub fn cookie(&self) -> Option<&CookieConfig> {
        self.cookie.as_ref()
    }

    /// The keyer `name`, its fallbacks flattened in.
    pub fn keyer(&self, name: &str) -> Option<&Keyer> {
        self.keyers.get(name)
    }

    /// The policy `name`.
    pub fn policy(&self, name: &str) -> Option<&PolicyConfig> {
        self.policies.get(name)
    }

    /// Every keyer, by name.
    pub fn keyers(&self) -> impl Iterator<Item = (&str, &Keyer)> {
        self.keyers.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every policy, by name.
    pub fn policies(&self) -> impl Iterator<Item = (&str, &PolicyConfig)> {
        self.policies.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn resolve(raw: RawConfig) -> Result<Self, ConfigError> {
        let cookie = raw.cookie.map(RawCookie::resolve).transpose()?;
        let mut policies = BTreeMap::new();
        for (name, p) in raw.policies {
            let policy = p.into_policy(&name)?;
            policies.insert(name, policy);
        }

        // Each keyer's own steps and policy, checked once.
        let mut own: HashMap<&str, (Vec<Step>, Option<NoKey>)> = HashMap::new();
        for (name, k) in &raw.keyers {
            let steps = k
                .sources
                .iter()
                .enumerate()
                .map(|(index, s)| {
                    s.to_step().map_err(|reason| ConfigError::InvalidSource {
                        keyer: name.clone(),
                        index,
                        reason,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let no_key = k
                .no_key
                .map(|n| n.to_no_key())
                .transpose()
                .map_err(|reason| ConfigError::InvalidKeyer {
                    keyer: name.clone(),
                    reason,
                })?;
            own.insert(name.as_str(), (steps, no_key));
        }

        let mut keyers = BTreeMap::new();
        for name in raw.keyers.keys() {
            let chain = chain_of(&raw.keyers, name)?;
            let mut steps = Vec::new();
            let mut no_key = None;
            for member in &chain {
                let (member_steps, member_no_key) = &own[member];
                steps.extend(member_steps.iter().cloned());
                no_key = no_key.or(*member_no_key);
            }
            keyers.insert(
                name.clone(),
                Keyer::from_parts(steps, no_key.unwrap_or(NoKey::SharedBucket)),
            );
        }
        Ok(Self {
            cookie,
            policies,
            keyers,
        })
    }
}

/// The fallback chain from `start`: each keyer at most once, at most
/// [`MAX_FALLBACK_CHAIN`] long. The walk visits each keyer at most once, so it ends.
fn chain_of<'a>(
    keyers: &'a BTreeMap<String, RawKeyer>,
    start: &'a str,
) -> Result<Vec<&'a str>, ConfigError> {
    let mut chain = vec![start];
    let mut seen = HashMap::from([(start, 0usize)]);
    let mut current = start;
    while let Some(next) = keyers[current].fallback.as_deref() {
        if !keyers.contains_key(next) {
            return Err(ConfigError::UnknownFallback {
                keyer: current.to_owned(),
                fallback: next.to_owned(),
            });
        }
        if let Some(&at) = seen.get(next) {
            let mut cycle: Vec<String> = chain[at..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(next.to_owned());
            return Err(ConfigError::FallbackCycle { cycle });
        }
        seen.insert(next, chain.len());
        chain.push(next);
        current = next;
    }
    if chain.len() > MAX_FALLBACK_CHAIN {
        return Err(ConfigError::FallbackTooDeep {
            keyer: start.to_owned(),
            chain: chain.iter().map(|s| (*s).to_owned()).collect(),
            max: MAX_FALLBACK_CHAIN,
        });
    }
    Ok(chain)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    cookie: Option<RawCookie>,
    #[serde(default)]
    policies: BTreeMap<String, RawPolicy>,
    #[serde(default)]
    keyers: BTreeMap<String, RawKeyer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCookie {
    name: String,
    max_bytes: Option<usize>,
    max_candidates: Option<usize>,
    require_valid: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    per_second: Option<NonZeroU32>,
    per_minute: Option<NonZeroU32>,
    per_hour: Option<NonZeroU32>,
    burst: Option<NonZeroU32>,
    capacity: NonZeroUsize,
    #[serde(default)]
    overflow: RawOverflow,
    #[serde(default)]
    backend: BackendKind,
}

impl RawCookie {
    fn resolve(self) -> Result<CookieConfig, ConfigError> {
        let invalid = |reason: String| ConfigError::InvalidCookie { reason };
        if self.name.is_empty()
            || self
                .name
                .bytes()
                .any(|b| b <= b' ' || b"=;,\x7f".contains(&b))
        {
            return Err(invalid(format!("`{}` is not a cookie name", self.name)));
        }
        let require_valid = self
            .require_valid
            .map(|code| {
                StatusCode::from_u16(code)
                    .map_err(|_| invalid(format!("`{code}` is not an HTTP status code")))
            })
            .transpose()?;
        Ok(CookieConfig {
            name: self.name,
            max_bytes: self.max_bytes.unwrap_or(DEFAULT_MAX_BYTES),
            max_candidates: self.max_candidates.unwrap_or(DEFAULT_MAX_CANDIDATES),
            require_valid,
        })
    }
}

impl RawPolicy {
    fn into_policy(self, name: &str) -> Result<PolicyConfig, ConfigError> {
        let quota = match (self.per_second, self.per_minute, self.per_hour) {
            (Some(n), None, None) => Quota::per_second(n),
            (None, Some(n), None) => Quota::per_minute(n),
            (None, None, Some(n)) => Quota::per_hour(n),
            _ => {
                return Err(ConfigError::InvalidPolicy {
                    policy: name.to_owned(),
                    reason: "set exactly one of per_second, per_minute and per_hour".to_owned(),
                });
            }
        };
        let quota = match self.burst {
            Some(burst) => quota.with_burst(burst),
            None => quota,
        };
        if self.capacity.get() > MAX_CAPACITY {
            return Err(ConfigError::InvalidPolicy {
                policy: name.to_owned(),
                reason: format!(
                    "capacity {} is more than {MAX_CAPACITY} keys",
                    self.capacity
                ),
            });
        }
        Ok(PolicyConfig {
            quota,
            capacity: self.capacity,
            overflow: match self.overflow {
                RawOverflow::EvictLru => Overflow::EvictLru,
                RawOverflow::SharedBucket => Overflow::SharedBucket,
                RawOverflow::Reject => Overflow::Reject,
            },
            backend: self.backend,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
enum RawOverflow {
    #[default]
    EvictLru,
    SharedBucket,
    Reject,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyer {
    #[serde(default)]
    sources: Vec<RawStep>,
    fallback: Option<String>,
    no_key: Option<RawNoKey>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawNoKey {
    SharedBucket,
    Allow,
    Reject(u16),
}

impl RawNoKey {
    fn to_no_key(self) -> Result<NoKey, String> {
        Ok(match self {
            RawNoKey::SharedBucket => NoKey::SharedBucket,
            RawNoKey::Allow => NoKey::Allow,
            RawNoKey::Reject(code) => NoKey::Reject(
                StatusCode::from_u16(code)
                    .map_err(|_| format!("`{code}` is not an HTTP status code"))?,
            ),
        })
    }
}

fn default_prefix() -> u8 {
    DEFAULT_IPV6_PREFIX
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerIpCfg {
    #[serde(default = "default_prefix")]
    ipv6_prefix: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientIpCfg {
    trusted: Vec<String>,
    #[serde(default = "default_prefix")]
    ipv6_prefix: u8,
    #[serde(default)]
    header: RawProxyHeader,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum RawProxyHeader {
    #[default]
    XForwardedFor,
    Forwarded,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderCfg {
    name: String,
}

/// A source; it has no composite variant, so composites cannot nest.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum RawSource {
    PeerIp(PeerIpCfg),
    ClientIp(ClientIpCfg),
    Header(HeaderCfg),
    Cookie(NoFields),
    Route(NoFields),
    Global(NoFields),
}

/// The payload of sources without settings: nothing, so a misplaced setting is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllCfg {
    of: Vec<RawSource>,
}

/// A step: a source, or a composite of sources.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
enum RawStep {
    PeerIp(PeerIpCfg),
    ClientIp(ClientIpCfg),
    Header(HeaderCfg),
    Cookie(NoFields),
    Route(NoFields),
    Global(NoFields),
    All(AllCfg),
}

fn check_prefix(prefix: u8) -> Result<u8, String> {
    if prefix > 128 {
        Err(format!("ipv6_prefix {prefix} is over 128"))
    } else {
        Ok(prefix)
    }
}

impl RawSource {
    fn to_source(&self) -> Result<Source, String> {
        Ok(match self {
            RawSource::PeerIp(c) => Source::PeerIp {
                ipv6_prefix: check_prefix(c.ipv6_prefix)?,
            },
            RawSource::ClientIp(c) => Source::ClientIp {
                trusted: c
                    .trusted
                    .iter()
                    .map(|net| {
                        net.parse::<IpNet>()
                            .or_else(|_| net.parse::<std::net::IpAddr>().map(IpNet::from))
                            .map_err(|_| format!("`{net}` is not an IP network or address"))
                    })
                    .collect::<Result<_, _>>()?,
                ipv6_prefix: check_prefix(c.ipv6_prefix)?,
                header: match c.header {
                    RawProxyHeader::XForwardedFor => ProxyHeader::XForwardedFor,
                    RawProxyHeader::Forwarded => ProxyHeader::Forwarded,
                },
            },
            RawSource::Header(c) => Source::Header(
                HeaderName::try_from(c.name.as_str())
                    .map_err(|_| format!("`{}` is not a header name", c.name))?,
            ),
            RawSource::Cookie(_) => Source::ValidatedCookie,
            RawSource::Route(_) => Source::Route,
            RawSource::Global(_) => Source::Global,
        })
    }
}

impl RawStep {
    fn to_step(&self) -> Result<Step, String> {
        let one = |s: RawSource| s.to_source().map(Step::One);
        match self {
            RawStep::All(c) => Ok(Step::All(
                c.of.iter()
                    .map(RawSource::to_source)
                    .collect::<Result<_, _>>()?,
            )),
            RawStep::PeerIp(c) => one(RawSource::PeerIp(PeerIpCfg {
                ipv6_prefix: c.ipv6_prefix,
            })),
            RawStep::ClientIp(c) => one(RawSource::ClientIp(ClientIpCfg {
                trusted: c.trusted.clone(),
                ipv6_prefix: c.ipv6_prefix,
                header: c.header,
            })),
            RawStep::Header(c) => one(RawSource::Header(HeaderCfg {
                name: c.name.clone(),
            })),
            RawStep::Cookie(_) => one(RawSource::Cookie(NoFields {})),
            RawStep::Route(_) => one(RawSource::Route(NoFields {})),
            RawStep::Global(_) => one(RawSource::Global(NoFields {})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_resolved_in_order() {
        let config = Config::from_json_str(
            r#"{"keyers": {
                "a": {"sources": [{"type": "cookie"}], "fallback": "b"},
                "b": {"sources": [{"type": "route"}], "fallback": "c", "no_key": "allow"},
                "c": {"sources": [{"type": "global"}], "no_key": {"reject": 429}}
            }}"#,
        )
        .unwrap();
        let kinds = |name: &str| -> Vec<&'static str> {
            config
                .keyer(name)
                .unwrap()
                .steps()
                .iter()
                .map(|s| match s {
                    Step::One(s) => s.kind(),
                    _ => "all",
                })
                .collect()
        };
        assert_eq!(kinds("a"), ["cookie", "route", "global"]);
        assert_eq!(kinds("c"), ["global"]);
        assert_eq!(config.keyer("a").unwrap().no_key(), NoKey::Allow);
        assert_eq!(
            config.keyer("c").unwrap().no_key(),
            NoKey::Reject(StatusCode::TOO_MANY_REQUESTS)
        );
    }

    #[test]
    fn nested_composites_do_not_parse() {
        let err = Config::from_json_str(
            r#"{"keyers": {"a": {"sources": [{"type": "all", "of": [{"type": "all", "of": []}]}]}}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }
}
