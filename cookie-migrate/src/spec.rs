//! The migration spec: the current cookie, its stale scopes and its legacy generations.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use crate::domain::check_domain;
use crate::error::ConfigError;
use crate::grammar::{ValueGrammar, is_valid_name};
use crate::migrate::Counters;

/// Judges a cookie value: `true` when it names a live session (a signature checks, the
/// session store knows it, …).
///
/// # Contract
/// Called with untrusted values, once per candidate in a fixed order, and must not block:
/// put slow lookups behind a cache or sign the values. Compare secrets in constant time.
type Validator = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Turns a legacy value into a value for the current cookie (re-sign, re-encrypt), or
/// refuses it with `None`.
type Transform = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Browsers cap cookie lifetimes at 400 days (RFC 6265bis §5.6.1).
const MAX_AGE_CAP: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// The default cap on the bytes of all `Cookie` headers of a request, as many servers use.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 8 * 1024;

/// The default cap on cookies under the managed names in one request.
pub const DEFAULT_MAX_CANDIDATES: usize = 16;

/// The `SameSite` attribute of the current cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on same-site requests only.
    Strict,
    /// Sent on same-site requests and top-level cross-site navigations (the default, and
    /// what browsers apply to cookies without the attribute).
    #[default]
    Lax,
    /// Sent on every request; requires `Secure`.
    None,
}

/// What happens to a request whose cookies cannot be processed (a [`CookieError`]).
///
/// [`CookieError`]: crate::CookieError
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Answer it with [`CookieError::status`](crate::CookieError::status) (`431` or `400`)
    /// without calling the inner service, as nginx does for oversized cookie headers.
    #[default]
    Reject,
    /// Pass it on with every cookie under a managed name removed (the other cookies stay),
    /// as if it carried no session: the inner service can never read the wrong one.
    StripManaged,
}

/// Where a cookie was set: its `Domain` (or none: host-only) and `Path`, and whether it
/// was `Secure`. A cookie is identified by name, domain, host-only flag and path; deleting
/// one takes a `Set-Cookie` with the same scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    domain: Option<String>,
    path: String,
    secure: bool,
}

impl Scope {
    /// A host-only cookie (set without `Domain`) on `Path=/`.
    pub fn host_only() -> Self {
        Self {
            domain: None,
            path: "/".to_owned(),
            secure: false,
        }
    }

    /// A cookie set with `Domain=domain` on `Path=/`. The domain is checked when the
    /// migration is built: a public suffix, an IP address or a bare TLD is refused.
    pub fn domain(domain: impl Into<String>) -> Self {
        Self {
            domain: Some(domain.into()),
            ..Self::host_only()
        }
    }

    /// The cookie's `Path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The cookie was `Secure`: its deletion must be too (browsers do not let a
    /// `Set-Cookie` without `Secure` overwrite a secure cookie). Implied for `__Secure-`
    /// and `__Host-` names.
    #[must_use]
    pub fn secure(mut self) -> Self {
        self.secure = true;
        self
    }

    /// Checks the scope for cookie `name` and returns its deleting `Set-Cookie`.
    fn deletion(mut self, name: &str) -> Result<(Self, HeaderValue), ConfigError> {
        if let Some(domain) = &self.domain {
            self.domain = Some(checked_domain(name, domain)?);
        }
        check_path(name, &self.path)?;
        let prefix = Prefix::of(name);
        self.secure |= prefix != Prefix::None;
        check_prefix(name, prefix, self.secure, self.domain.is_some(), &self.path)?;
        let mut header = format!(
            "{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path={}",
            self.path
        );
        if let Some(domain) = &self.domain {
            let _ = write!(header, "; Domain={domain}");
        }
        if self.secure {
            header.push_str("; Secure");
        }
        let header = HeaderValue::try_from(header).map_err(|_| invalid_name(name))?;
        Ok((self, header))
    }
}

/// One earlier generation of the cookie: a name it had and every scope it was set with.
#[derive(Clone)]
pub struct Legacy {
    name: String,
    scopes: Vec<Scope>,
    transform: Option<Transform>,
}

impl fmt::Debug for Legacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Legacy")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("transform", &self.transform.is_some())
            .finish()
    }
}

impl Legacy {
    /// A generation named `name`; give it at least one [`scope`](Self::scope).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            scopes: Vec::new(),
            transform: None,
        }
    }

    /// A scope this generation was set with; each gets its own deletion.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Turns a value of this generation into a value for the current cookie (re-sign it
    /// with the current key, re-encrypt it with the new name as associated data), or
    /// refuses it with `None`. Without a transform the value moves unchanged. The result
    /// is then judged by the current cookie's validator like any other candidate.
    #[must_use]
    pub fn transform<F>(mut self, transform: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        self.transform = Some(Arc::new(transform));
        self
    }
}

/// A migration from legacy cookie generations to the current cookie. Cheap to clone.
///
/// See the [crate docs](crate) for the whole walk-through.
#[derive(Clone)]
pub struct CookieMigration {
    pub(crate) spec: Arc<Spec>,
}

impl fmt::Debug for CookieMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = &self.spec;
        f.debug_struct("CookieMigration")
            .field("current", &spec.current.name)
            .field("set_cookie", &spec.current.attributes)
            .field(
                "legacy",
                &spec.legacy.iter().map(|g| &*g.name).collect::<Vec<_>>(),
            )
            .field("max_header_bytes", &spec.max_header_bytes)
            .field("max_candidates", &spec.max_candidates)
            .field("on_error", &spec.on_error)
            .finish_non_exhaustive()
    }
}

/// The built, checked spec.
pub(crate) struct Spec {
    pub(crate) current: CurrentCookie,
    pub(crate) legacy: Vec<Generation>,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_candidates: usize,
    pub(crate) on_error: ErrorPolicy,
    pub(crate) grammar: ValueGrammar,
    pub(crate) keep_legacy_in_request: bool,
    pub(crate) counters: Counters,
}

pub(crate) struct CurrentCookie {
    pub(crate) name: Arc<str>,
    /// `; Path=/; Secure; …`: appended to `name=value`.
    pub(crate) attributes: String,
    pub(crate) validator: Option<Validator>,
    /// Deletions for the scopes the current name had before.
    pub(crate) stale_deletions: Vec<HeaderValue>,
}

pub(crate) struct Generation {
    pub(crate) name: Arc<str>,
    pub(crate) deletions: Vec<HeaderValue>,
    pub(crate) transform: Option<Transform>,
}

impl CookieMigration {
    /// Starts a migration to the cookie `name` (for example `__Host-sid`): host-only,
    /// `Path=/`, `Secure`, `HttpOnly`, `SameSite=Lax`, a session cookie unless
    /// [`max_age`](CookieMigrationBuilder::max_age) is set.
    pub fn builder(name: impl Into<String>) -> CookieMigrationBuilder {
        CookieMigrationBuilder {
            name: name.into(),
            domain: None,
            path: "/".to_owned(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            max_age: None,
            validator: None,
            stale_scopes: Vec::new(),
            legacy: Vec::new(),
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_candidates: DEFAULT_MAX_CANDIDATES,
            on_error: ErrorPolicy::Reject,
            grammar: ValueGrammar::Strict,
            keep_legacy_in_request: false,
        }
    }

    /// The current cookie's name.
    pub fn name(&self) -> &str {
        &self.spec.current.name
    }
}

/// Builds a [`CookieMigration`]; every input is checked by [`build`](Self::build).
#[must_use]
pub struct CookieMigrationBuilder {
    name: String,
    domain: Option<String>,
    path: String,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    max_age: Option<Duration>,
    validator: Option<Validator>,
    stale_scopes: Vec<Scope>,
    legacy: Vec<Legacy>,
    max_header_bytes: usize,
    max_candidates: usize,
    on_error: ErrorPolicy,
    grammar: ValueGrammar,
    keep_legacy_in_request: bool,
}

impl fmt::Debug for CookieMigrationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieMigrationBuilder")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("legacy", &self.legacy)
            .finish_non_exhaustive()
    }
}

impl CookieMigrationBuilder {
    /// Scopes the current cookie to `Domain=domain` instead of host-only. Not allowed with
    /// `__Host-`; a public suffix is refused.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// The current cookie's `Path` (default `/`; `__Host-` requires `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Whether the current cookie is `Secure` (default `true`; the prefixes require it).
    /// Browsers treat `http://localhost` and `*.localhost` as secure.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Whether the current cookie is `HttpOnly` (default `true`).
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// The current cookie's `SameSite` (default `Lax`).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// Makes the current cookie persistent for `max_age` (whole seconds, at most 400 days)
    /// instead of a session cookie.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Judges values of the current cookie, and legacy values after their transform.
    /// Without one, every value within the [`ValueGrammar`] is valid.
    ///
    /// The validator is called with untrusted values, in a fixed order (the current name
    /// before legacy names in configured order, header order within a name) until one is
    /// valid, at most [`max_candidates`](Self::max_candidates) times per request. It must
    /// not block; compare secrets in constant time.
    pub fn validator<F>(mut self, validator: F) -> Self
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        self.validator = Some(Arc::new(validator));
        self
    }

    /// A scope the current name was set with before (as in the incident: `sid` with
    /// `Domain=base.shop` before `sid` became host-only). When a request carries the name
    /// more than once, the chosen value is set again in the current scope and each stale
    /// scope gets a deletion.
    pub fn stale_scope(mut self, scope: Scope) -> Self {
        self.stale_scopes.push(scope);
        self
    }

    /// An earlier generation; the first configured is preferred when several are valid.
    pub fn legacy(mut self, legacy: Legacy) -> Self {
        self.legacy.push(legacy);
        self
    }

    /// The cap on the bytes of all `Cookie` headers of a request (default 8 KiB).
    pub fn max_header_bytes(mut self, max: usize) -> Self {
        self.max_header_bytes = max;
        self
    }

    /// The cap on cookies under the managed names in one request (default 16).
    pub fn max_candidates(mut self, max: usize) -> Self {
        self.max_candidates = max;
        self
    }

    /// What happens to requests over either cap (default [`ErrorPolicy::Reject`]).
    pub fn on_error(mut self, policy: ErrorPolicy) -> Self {
        self.on_error = policy;
        self
    }

    /// How strictly values are checked before they are judged (default
    /// [`ValueGrammar::Strict`]). Values outside it are never chosen or migrated, and are
    /// removed from the request like any other invalid candidate.
    pub fn value_grammar(mut self, grammar: ValueGrammar) -> Self {
        self.grammar = grammar;
        self
    }

    /// Leaves legacy cookies in the request the inner service sees (default: removed, so
    /// no code path can read a legacy cookie by accident).
    pub fn keep_legacy_in_request(mut self, keep: bool) -> Self {
        self.keep_legacy_in_request = keep;
        self
    }

    /// Checks everything and builds the migration.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the cookie and the broken rule: names outside RFC 6265's
    /// token grammar, a Domain that is a public suffix, an IP address, a bare TLD or not a
    /// host name, a malformed Path, broken `__Host-`/`__Secure-` rules, `SameSite=None`
    /// without `Secure`, a Max-Age over 400 days, a name configured twice, a legacy
    /// generation without scopes, a stale scope equal to the current scope, a zero cap.
    pub fn build(self) -> Result<CookieMigration, ConfigError> {
        let name = self.name;
        if !is_valid_name(name.as_bytes()) {
            return Err(invalid_name(&name));
        }
        let domain = match &self.domain {
            Some(domain) => Some(checked_domain(&name, domain)?),
            None => None,
        };
        check_path(&name, &self.path)?;
        check_prefix(
            &name,
            Prefix::of(&name),
            self.secure,
            domain.is_some(),
            &self.path,
        )?;
        if self.same_site == SameSite::None && !self.secure {
            return Err(ConfigError::SameSiteNoneNotSecure { cookie: name });
        }
        if let Some(max_age) = self.max_age.filter(|age| *age > MAX_AGE_CAP) {
            return Err(ConfigError::MaxAgeTooLong {
                seconds: max_age.as_secs(),
            });
        }
        for (limit, value) in [
            ("max_header_bytes", self.max_header_bytes),
            ("max_candidates", self.max_candidates),
        ] {
            if value == 0 {
                return Err(ConfigError::ZeroLimit { limit });
            }
        }

        let mut attributes = format!("; Path={}", self.path);
        if let Some(domain) = &domain {
            let _ = write!(attributes, "; Domain={domain}");
        }
        if let Some(max_age) = self.max_age {
            let _ = write!(attributes, "; Max-Age={}", max_age.as_secs());
        }
        if self.secure {
            attributes.push_str("; Secure");
        }
        if self.http_only {
            attributes.push_str("; HttpOnly");
        }
        attributes.push_str(match self.same_site {
            SameSite::Strict => "; SameSite=Strict",
            SameSite::Lax => "; SameSite=Lax",
            SameSite::None => "; SameSite=None",
        });

        let current_scope = Scope {
            domain: domain.clone(),
            path: self.path.clone(),
            secure: self.secure,
        };
        let mut stale_deletions = Vec::with_capacity(self.stale_scopes.len());
        for scope in self.stale_scopes {
            let (scope, deletion) = scope.deletion(&name)?;
            if scope.domain == current_scope.domain && scope.path == current_scope.path {
                return Err(ConfigError::StaleScopeIsCurrent { name });
            }
            stale_deletions.push(deletion);
        }

        let mut legacy = Vec::with_capacity(self.legacy.len());
        for generation in self.legacy {
            let taken = generation.name == name
                || legacy
                    .iter()
                    .any(|g: &Generation| *g.name == *generation.name);
            if taken {
                return Err(ConfigError::DuplicateName {
                    name: generation.name,
                });
            }
            if !is_valid_name(generation.name.as_bytes()) {
                return Err(invalid_name(&generation.name));
            }
            if generation.scopes.is_empty() {
                return Err(ConfigError::NoScope {
                    name: generation.name,
                });
            }
            let deletions = generation
                .scopes
                .into_iter()
                .map(|scope| scope.deletion(&generation.name).map(|(_, header)| header))
                .collect::<Result<_, _>>()?;
            legacy.push(Generation {
                name: generation.name.into(),
                deletions,
                transform: generation.transform,
            });
        }

        Ok(CookieMigration {
            spec: Arc::new(Spec {
                current: CurrentCookie {
                    name: name.into(),
                    attributes,
                    validator: self.validator,
                    stale_deletions,
                },
                legacy,
                max_header_bytes: self.max_header_bytes,
                max_candidates: self.max_candidates,
                on_error: self.on_error,
                grammar: self.grammar,
                keep_legacy_in_request: self.keep_legacy_in_request,
                counters: Counters::default(),
            }),
        })
    }
}

/// The name prefixes of RFC 6265bis §4.1.3, matched case-insensitively as browsers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    None,
    Secure,
    Host,
}

impl Prefix {
    fn of(name: &str) -> Self {
        let starts = |prefix: &str| {
            name.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        if starts("__Host-") {
            Self::Host
        } else if starts("__Secure-") {
            Self::Secure
        } else {
            Self::None
        }
    }
}

fn check_prefix(
    name: &str,
    prefix: Prefix,
    secure: bool,
    has_domain: bool,
    path: &str,
) -> Result<(), ConfigError> {
    let rule = match prefix {
        Prefix::None => return Ok(()),
        _ if !secure => "a __Secure- or __Host- cookie must be Secure",
        Prefix::Host if has_domain => "a __Host- cookie must be host-only (no Domain)",
        Prefix::Host if path != "/" => "a __Host- cookie must have Path=/",
        Prefix::Secure | Prefix::Host => return Ok(()),
    };
    Err(ConfigError::PrefixRule {
        cookie: name.to_owned(),
        rule,
    })
}

fn check_path(name: &str, path: &str) -> Result<(), ConfigError> {
    let valid = path.starts_with('/')
        && path.len() <= 1024
        && path.bytes().all(|b| (0x20..0x7F).contains(&b) && b != b';');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidPath {
            cookie: name.to_owned(),
            path: path.to_owned(),
        })
    }
}

fn checked_domain(name: &str, domain: &str) -> Result<String, ConfigError> {
    check_domain(domain).map_err(|reason| ConfigError::InvalidDomain {
        cookie: name.to_owned(),
        domain: domain.to_owned(),
        reason,
    })
}

fn invalid_name(name: &str) -> ConfigError {
    ConfigError::InvalidName {
        name: name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DomainError;

    fn legacy_sid() -> Legacy {
        Legacy::named("sid")
            .scope(Scope::domain("base.localhost"))
            .scope(Scope::host_only())
    }

    #[test]
    fn defaults_make_a_safe_session_cookie() {
        let migration = CookieMigration::builder("__Host-sid")
            .legacy(legacy_sid())
            .build()
            .unwrap();
        let spec = &migration.spec;
        assert_eq!(
            spec.current.attributes,
            "; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        let deletions: Vec<_> = spec.legacy[0]
            .deletions
            .iter()
            .map(|h| h.to_str().unwrap())
            .collect();
        assert_eq!(
            deletions,
            [
                "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=base.localhost",
                "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
            ]
        );
        assert!(!format!("{migration:?}").is_empty());
    }

    #[test]
    fn public_suffix_domains_are_refused_wherever_configured() {
        let error = CookieMigration::builder("__Host-sid")
            .legacy(Legacy::named("sid").scope(Scope::domain("base.shop")))
            .build()
            .unwrap_err();
        assert_eq!(
            error,
            ConfigError::InvalidDomain {
                cookie: "sid".into(),
                domain: "base.shop".into(),
                reason: DomainError::PublicSuffix,
            }
        );
        assert_eq!(
            error.to_string(),
            r#"cookie "sid": Domain "base.shop" is a public suffix"#
        );

        let current = CookieMigration::builder("sid").domain("github.io").build();
        assert!(matches!(
            current,
            Err(ConfigError::InvalidDomain {
                reason: DomainError::PublicSuffix,
                ..
            })
        ));
        let stale = CookieMigration::builder("sid")
            .stale_scope(Scope::domain("127.0.0.1"))
            .build();
        assert!(matches!(
            stale,
            Err(ConfigError::InvalidDomain {
                reason: DomainError::IpAddress,
                ..
            })
        ));
        let tld = CookieMigration::builder("sid").domain("shop").build();
        assert!(matches!(
            tld,
            Err(ConfigError::InvalidDomain {
                reason: DomainError::TopLevel,
                ..
            })
        ));
    }

    #[test]
    fn prefix_rules_are_enforced_case_insensitively() {
        let cases = [
            (
                CookieMigration::builder("__Host-sid").domain("base.localhost"),
                "host-only",
            ),
            (
                CookieMigration::builder("__Host-sid").path("/shop"),
                "Path=/",
            ),
            (
                CookieMigration::builder("__host-sid").secure(false),
                "Secure",
            ),
            (
                CookieMigration::builder("__SECURE-sid").secure(false),
                "Secure",
            ),
        ];
        for (builder, rule) in cases {
            match builder.build() {
                Err(ConfigError::PrefixRule { rule: broken, .. }) => {
                    assert!(broken.contains(rule), "{broken}")
                }
                other => panic!("{rule}: {other:?}"),
            }
        }
        assert!(
            CookieMigration::builder("__Secure-sid")
                .domain("base.localhost")
                .path("/a")
                .build()
                .is_ok()
        );
        // A legacy `__Host-` generation can only have been host-only on `/`; its deletion is Secure.
        let legacy = Legacy::named("__Host-old").scope(Scope::domain("base.localhost"));
        assert!(matches!(
            CookieMigration::builder("sid").legacy(legacy).build(),
            Err(ConfigError::PrefixRule { .. })
        ));
        let migration = CookieMigration::builder("sid")
            .legacy(Legacy::named("__Host-old").scope(Scope::host_only()))
            .build()
            .unwrap();
        assert!(
            migration.spec.legacy[0].deletions[0]
                .to_str()
                .unwrap()
                .ends_with("; Path=/; Secure")
        );
    }

    #[test]
    fn other_mistakes_are_named() {
        let error = |builder: CookieMigrationBuilder| builder.build().unwrap_err();
        assert!(matches!(
            error(CookieMigration::builder("s id")),
            ConfigError::InvalidName { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("")),
            ConfigError::InvalidName { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("sid").path("shop")),
            ConfigError::InvalidPath { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("sid").path("/a;b")),
            ConfigError::InvalidPath { .. }
        ));
        assert!(matches!(
            error(
                CookieMigration::builder("sid")
                    .secure(false)
                    .same_site(SameSite::None)
            ),
            ConfigError::SameSiteNoneNotSecure { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("sid").max_age(Duration::from_secs(401 * 86_400))),
            ConfigError::MaxAgeTooLong { .. }
        ));
        assert!(matches!(
            error(
                CookieMigration::builder("sid")
                    .legacy(Legacy::named("sid").scope(Scope::host_only()))
            ),
            ConfigError::DuplicateName { .. }
        ));
        assert!(matches!(
            error(
                CookieMigration::builder("new")
                    .legacy(legacy_sid())
                    .legacy(legacy_sid())
            ),
            ConfigError::DuplicateName { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("new").legacy(Legacy::named("old"))),
            ConfigError::NoScope { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("sid").stale_scope(Scope::host_only())),
            ConfigError::StaleScopeIsCurrent { .. }
        ));
        assert!(matches!(
            error(CookieMigration::builder("sid").max_candidates(0)),
            ConfigError::ZeroLimit { .. }
        ));
    }

    #[test]
    fn attributes_follow_the_builder() {
        let migration = CookieMigration::builder("sid")
            .domain(".Base.Localhost")
            .path("/shop")
            .max_age(Duration::from_secs(3600))
            .http_only(false)
            .same_site(SameSite::Strict)
            .build()
            .unwrap();
        assert_eq!(
            migration.spec.current.attributes,
            "; Path=/shop; Domain=base.localhost; Max-Age=3600; Secure; SameSite=Strict"
        );
    }
}
