//! Errors: configuration mistakes found when a migration is built, and requests the
//! migration will not process.

use http::StatusCode;

/// Why a configured `Domain` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Not a host name: empty labels, bytes other than letters, digits and `-`, or too long.
    #[error("not a host name")]
    Malformed,
    /// An IP address; cookies cannot be scoped to one with `Domain`.
    #[error("an IP address")]
    IpAddress,
    /// A single label such as `shop` or `localhost`: browsers refuse it as a Domain.
    #[error("a bare top-level label")]
    TopLevel,
    /// On the Public Suffix List: browsers that know it ignore the cookie, deletions
    /// included.
    #[error("a public suffix")]
    PublicSuffix,
}

/// A migration that cannot be built, found by
/// [`CookieMigrationBuilder::build`](crate::CookieMigrationBuilder::build).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A cookie name outside RFC 6265's `token` grammar.
    #[error("cookie name {name:?} is not an RFC 6265 token")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A `Domain` that would be ignored by browsers or is not a host name.
    #[error("cookie {cookie:?}: Domain {domain:?} is {reason}")]
    InvalidDomain {
        /// The cookie it was configured for.
        cookie: String,
        /// The domain as configured.
        domain: String,
        /// Why.
        reason: DomainError,
    },
    /// A `Path` that does not start with `/` or holds `;` or control characters.
    #[error(
        "cookie {cookie:?}: Path {path:?} must start with '/' and hold no ';' or control characters"
    )]
    InvalidPath {
        /// The cookie it was configured for.
        cookie: String,
        /// The path as configured.
        path: String,
    },
    /// The `__Host-` or `__Secure-` prefix rules are broken (RFC 6265bis §4.1.3).
    #[error("cookie {cookie:?}: {rule}")]
    PrefixRule {
        /// The cookie.
        cookie: String,
        /// The rule that is broken.
        rule: &'static str,
    },
    /// `SameSite=None` without `Secure`: browsers drop such cookies.
    #[error("cookie {cookie:?}: SameSite=None requires Secure")]
    SameSiteNoneNotSecure {
        /// The cookie.
        cookie: String,
    },
    /// A `Max-Age` over the 400 days browsers cap lifetimes at.
    #[error("Max-Age of {seconds} s is over the 400 days browsers allow")]
    MaxAgeTooLong {
        /// The configured Max-Age in seconds.
        seconds: u64,
    },
    /// A legacy generation with the current name, or two generations with one name.
    #[error(
        "cookie name {name:?} is configured twice; a scope the current name had before is a stale scope, not a legacy generation"
    )]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A legacy generation without any scope: nothing could delete it.
    #[error("legacy cookie {name:?} has no scope; add the scopes it was set with")]
    NoScope {
        /// The legacy cookie name.
        name: String,
    },
    /// A stale scope of the current cookie equal to its current scope: deleting it would
    /// delete the current cookie.
    #[error("cookie {name:?}: a stale scope equals the current scope")]
    StaleScopeIsCurrent {
        /// The current cookie name.
        name: String,
    },
    /// A limit of zero.
    #[error("{limit} must be at least 1")]
    ZeroLimit {
        /// Which limit.
        limit: &'static str,
    },
}

/// A request whose cookies the migration will not process.
///
/// What happens to it is the migration's [`ErrorPolicy`](crate::ErrorPolicy): rejected with
/// [`status`](Self::status), or passed on without any managed cookie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The `Cookie` headers hold more bytes in total than the configured cap.
    #[error("Cookie headers hold {len} bytes, over the {max}-byte limit")]
    HeaderTooLarge {
        /// Bytes in all `Cookie` headers together.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// More cookies under the managed names than the configured cap: no browser sends that.
    #[error("{count} cookies under the managed names, over the limit of {max}")]
    TooManyCandidates {
        /// How many were counted before giving up.
        count: usize,
        /// The cap.
        max: usize,
    },
}

impl CookieError {
    /// The status a rejected request gets: `431 Request Header Fields Too Large` for an
    /// oversized header, `400 Bad Request` otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::HeaderTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyCandidates { .. } => StatusCode::BAD_REQUEST,
        }
    }
}
