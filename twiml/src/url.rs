//! Absolute URLs: the only kind of URL a TwiML document built by this crate can contain.
//!
//! Twilio resolves a relative URL in a TwiML document against a base it chooses, and in the
//! field it sometimes chose the host of an earlier media URL instead of the host that served
//! the document. [`AbsoluteUrl`] and [`WebSocketUrl`] make such a document impossible to
//! build: every URL-bearing attribute and URL element text takes one of them, and neither can
//! hold a relative reference. [`PublicBase`] is the application's public origin, configured
//! once, that turns app paths into absolute URLs.
//!
//! ```
//! use twiml::{AbsoluteUrl, PublicBase};
//!
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let next = base.join("/voice/next/")?;
//! assert_eq!(next.as_str(), "https://ivr.example.com/voice/next/");
//!
//! let err = AbsoluteUrl::parse("/files/goodbye.mp3").unwrap_err();
//! assert!(err.to_string().contains("relative"));
//! # Ok::<(), twiml::UrlError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// The longest URL Twilio accepts (REST error 21609: "at most 4000 characters").
pub const MAX_URL_LEN: usize = 4000;

/// Why a string is not an acceptable absolute URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The string is empty.
    #[error("the URL is empty")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("the URL is {len} characters long; Twilio accepts at most {max}")]
    TooLong {
        /// The URL's length in bytes.
        len: usize,
        /// The maximum, [`MAX_URL_LEN`].
        max: usize,
    },
    /// A relative reference (a path, `//host/...`, or no scheme at all).
    #[error(
        "`{url}` is a relative URL: Twilio may resolve it against another host; \
         join it to the app's PublicBase to make it absolute"
    )]
    Relative {
        /// The rejected input, cut to 80 characters.
        url: String,
    },
    /// A scheme other than the ones allowed where the URL is used.
    #[error("the scheme `{scheme}` is not allowed here; expected {expected}")]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
        /// The schemes allowed, for the message.
        expected: &'static str,
    },
    /// Whitespace or a control character, which Twilio does not accept in a URL.
    #[error("the URL contains whitespace or a control character at byte {at}")]
    Whitespace {
        /// Byte offset of the first offending character.
        at: usize,
    },
    /// A non-ASCII character: URLs must be percent-encoded (and hosts punycode).
    #[error("the URL contains a non-ASCII character at byte {at}; percent-encode it")]
    NotAscii {
        /// Byte offset of the first offending character.
        at: usize,
    },
    /// A character that is never valid in a URL (`\`, `<`, `>`, `"`, `` ` ``, `{`, `}`).
    #[error("the URL contains `{ch}` at byte {at}, which is not valid in a URL")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// A `%` not followed by two hexadecimal digits.
    #[error("the URL has a malformed percent-escape at byte {at}")]
    InvalidPercentEncoding {
        /// Byte offset of the `%`.
        at: usize,
    },
    /// No host after `scheme://`.
    #[error("the URL has no host")]
    MissingHost,
    /// The host is not a DNS name, an IPv4 address or a bracketed IPv6 address.
    #[error("the host `{host}` is not valid: {reason}")]
    InvalidHost {
        /// The host found.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The port is not a number from 1 to 65535.
    #[error("the port `{port}` is not a number from 1 to 65535")]
    InvalidPort {
        /// The port text found.
        port: String,
    },
    /// A [`PublicBase`] with a query or fragment, which could not be joined to a path.
    #[error("a public base URL must not have a query or fragment")]
    BaseWithQuery,
    /// A path given to [`PublicBase::join`] that does not start with a single `/`.
    #[error("`{path}` is not an absolute path: it must start with a single `/`")]
    NotAPath {
        /// The rejected path, cut to 80 characters.
        path: String,
    },
}

/// The scheme of an [`AbsoluteUrl`] or [`WebSocketUrl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
    /// `wss` (media streams and ConversationRelay).
    Wss,
}

impl Scheme {
    /// The scheme as written in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Wss => "wss",
        }
    }

    /// The port used when a URL gives none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https | Scheme::Wss => 443,
        }
    }
}

/// Where the parts of a validated URL start and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Layout {
    scheme: Scheme,
    /// Byte range of the host (including brackets for IPv6).
    host: (usize, usize),
    /// Byte offset where path, query or fragment start (the end of the authority).
    rest: usize,
}

/// An absolute `http` or `https` URL with a host, at most [`MAX_URL_LEN`] long.
///
/// The text is kept exactly as given (it is never re-serialised), so what you parse is what
/// Twilio fetches and what it signs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AbsoluteUrl {
    text: String,
    layout: Layout,
}

/// An absolute `wss` URL: what `<Stream url>` and `<ConversationRelay url>` take (Twilio
/// error 31922 rejects any other scheme).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WebSocketUrl {
    text: String,
    layout: Layout,
}

macro_rules! url_type_common {
    ($ty:ident, $schemes:expr, $expected:expr) => {
        impl $ty {
            /// Parses `input`, which must be absolute; see the [module docs](crate::url).
            ///
            /// # Errors
            ///
            /// [`UrlError`] saying what is wrong: relative, wrong scheme, no host,
            /// whitespace, non-ASCII, malformed percent-escape, bad port, or too long.
            pub fn parse(input: &str) -> Result<Self, UrlError> {
                let layout = validate(input, $schemes, $expected)?;
                Ok(Self {
                    text: input.to_owned(),
                    layout,
                })
            }

            /// The URL exactly as parsed.
            pub fn as_str(&self) -> &str {
                &self.text
            }

            /// The scheme.
            pub fn scheme(&self) -> Scheme {
                self.layout.scheme
            }

            /// The host, as written (IPv6 addresses keep their brackets).
            pub fn host(&self) -> &str {
                &self.text[self.layout.host.0..self.layout.host.1]
            }

            /// Path, query and fragment, as written (may be empty).
            pub fn path_and_query(&self) -> &str {
                &self.text[self.layout.rest..]
            }

            /// The URL as a `String`.
            pub fn into_string(self) -> String {
                self.text
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($ty), self.text)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.text
            }
        }

        impl FromStr for $ty {
            type Err = UrlError;
            fn from_str(s: &str) -> Result<Self, UrlError> {
                Self::parse(s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = UrlError;
            fn try_from(s: &str) -> Result<Self, UrlError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = UrlError;
            fn try_from(s: String) -> Result<Self, UrlError> {
                let layout = validate(&s, $schemes, $expected)?;
                Ok(Self { text: s, layout })
            }
        }

        impl From<$ty> for String {
            fn from(url: $ty) -> String {
                url.text
            }
        }
    };
}

url_type_common!(AbsoluteUrl, &[Scheme::Http, Scheme::Https], "http or https");
url_type_common!(WebSocketUrl, &[Scheme::Wss], "wss");

fn cut(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn validate(input: &str, allowed: &[Scheme], expected: &'static str) -> Result<Layout, UrlError> {
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong {
            len: input.len(),
            max: MAX_URL_LEN,
        });
    }
    check_chars(input)?;
    let Some(colon) = input.find("://") else {
        // `mailto:x`-style URLs are not relative, but no TwiML URL uses them.
        return match input.split_once(':') {
            Some((scheme, _)) if is_scheme(scheme) => Err(UrlError::UnsupportedScheme {
                scheme: scheme.to_ascii_lowercase(),
                expected,
            }),
            _ => Err(UrlError::Relative { url: cut(input) }),
        };
    };
    let scheme_text = &input[..colon];
    if !is_scheme(scheme_text) {
        return Err(UrlError::Relative { url: cut(input) });
    }
    let scheme = match scheme_text.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        "wss" => Scheme::Wss,
        other => {
            return Err(UrlError::UnsupportedScheme {
                scheme: other.to_owned(),
                expected,
            });
        }
    };
    if !allowed.contains(&scheme) {
        return Err(UrlError::UnsupportedScheme {
            scheme: scheme.as_str().to_owned(),
            expected,
        });
    }
    let authority_start = colon + 3;
    let rest = input[authority_start..]
        .find(['/', '?', '#'])
        .map_or(input.len(), |i| authority_start + i);
    let authority = &input[authority_start..rest];
    // Userinfo (`user:pass@`) is allowed: Twilio uses it for HTTP authentication.
    let host_start = authority
        .rfind('@')
        .map_or(authority_start, |i| authority_start + i + 1);
    let host_port = &input[host_start..rest];
    let (host_end, port) = split_port(host_port).map_or((rest, None), |(host, port)| {
        (host_start + host.len(), Some(port))
    });
    let host = &input[host_start..host_end];
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    check_host(host)?;
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => {
                return Err(UrlError::InvalidPort {
                    port: port.to_owned(),
                });
            }
        }
    }
    Ok(Layout {
        scheme,
        host: (host_start, host_end),
        rest,
    })
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` (IPv6 hosts bracketed); the port may be empty or malformed here.
pub(crate) fn split_port(host_port: &str) -> Option<(&str, &str)> {
    let search_from = if host_port.starts_with('[') {
        host_port.find(']')? + 1
    } else {
        0
    };
    let colon = search_from + host_port[search_from..].find(':')?;
    Some((&host_port[..colon], &host_port[colon + 1..]))
}

fn check_chars(input: &str) -> Result<(), UrlError> {
    let bytes = input.as_bytes();
    for (at, ch) in input.char_indices() {
        match ch {
            c if c.is_whitespace() || c.is_control() => return Err(UrlError::Whitespace { at }),
            c if !c.is_ascii() => return Err(UrlError::NotAscii { at }),
            '\\' | '<' | '>' | '"' | '`' | '{' | '}' => {
                return Err(UrlError::InvalidChar { ch, at });
            }
            '%' => {
                let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(at + 1) && hex(at + 2)) {
                    return Err(UrlError::InvalidPercentEncoding { at });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), UrlError> {
    let invalid = |reason| {
        Err(UrlError::InvalidHost {
            host: host.to_owned(),
            reason,
        })
    };
    if let Some(inner) = host.strip_prefix('[') {
        let Some(addr) = inner.strip_suffix(']') else {
            return invalid("an IPv6 address must be closed with `]`");
        };
        return match addr.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => invalid("not an IPv6 address"),
        };
    }
    if host.len() > 253 {
        return invalid("longer than 253 characters");
    }
    for label in host.strip_suffix('.').unwrap_or(host).split('.') {
        if label.is_empty() {
            return invalid("empty label");
        }
        if label.len() > 63 {
            return invalid("a label is longer than 63 characters");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return invalid("a label starts or ends with `-`");
        }
        if let Some(b) = label
            .bytes()
            .find(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
        {
            return invalid(if b == b'_' {
                "underscores are not permitted in Twilio callback hosts"
            } else {
                "only letters, digits, `-` and `.` are allowed (use punycode for IDNs)"
            });
        }
    }
    Ok(())
}

/// The application's public origin (and optional path prefix), as Twilio reaches it.
///
/// Configure it once, from configuration rather than from request headers, and build every
/// URL of a TwiML document with [`PublicBase::join`]. The signature layer uses the same base
/// to rebuild the URL Twilio signed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicBase {
    /// Scheme, authority and path prefix, with no trailing slash.
    base: AbsoluteUrl,
}

impl PublicBase {
    /// Parses a base such as `https://ivr.example.com` or `https://example.com/twilio`.
    ///
    /// A trailing slash on the path prefix is dropped, so `join("/x")` never produces `//x`.
    ///
    /// # Errors
    ///
    /// Any [`UrlError`] of [`AbsoluteUrl::parse`], or [`UrlError::BaseWithQuery`].
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let url = AbsoluteUrl::parse(input)?;
        if url.path_and_query().contains(['?', '#']) {
            return Err(UrlError::BaseWithQuery);
        }
        let trimmed = input.trim_end_matches('/');
        let base = if trimmed.len() == input.len() {
            url
        } else {
            AbsoluteUrl::parse(trimmed)?
        };
        Ok(Self { base })
    }

    /// Joins an app path (`/voice/next/`, optionally with a query) to this base.
    ///
    /// The path is kept as written: a trailing slash stays, the query is not re-ordered.
    ///
    /// # Errors
    ///
    /// [`UrlError::NotAPath`] unless `path` starts with a single `/`; any [`UrlError`] of
    /// the joined URL (too long, whitespace, …).
    pub fn join(&self, path: &str) -> Result<AbsoluteUrl, UrlError> {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(UrlError::NotAPath { path: cut(path) });
        }
        AbsoluteUrl::try_from(self.request_url(path))
    }

    /// The URL a request with target `path_and_query` was sent to, without validation:
    /// this is what the signature layer hashes, byte for byte.
    pub fn request_url(&self, path_and_query: &str) -> String {
        let mut url = String::with_capacity(self.base.as_str().len() + path_and_query.len());
        url.push_str(self.base.as_str());
        url.push_str(path_and_query);
        url
    }

    /// The base as an absolute URL (no trailing slash).
    pub fn as_url(&self) -> &AbsoluteUrl {
        &self.base
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.base.scheme()
    }

    /// The path prefix (`/twilio` in `https://example.com/twilio`), empty for none.
    pub(crate) fn path_prefix(&self) -> &str {
        self.base.path_and_query()
    }
}

impl fmt::Debug for PublicBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicBase({:?})", self.base.as_str())
    }
}

impl fmt::Display for PublicBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.as_str())
    }
}

impl FromStr for PublicBase {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, UrlError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_absolute_http_and_https() {
        for ok in [
            "https://example.com",
            "http://example.com/x.mp3",
            "HTTPS://Example.COM:8443/a/b/?x=1&y=2#f",
            "https://user:pa%20ss@example.com/voice",
            "https://[2001:db8::1]:8443/v",
            "https://127.0.0.1/v",
            "https://example.com?x=1",
            "https://example.com/it's",
        ] {
            let url = AbsoluteUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(url.as_str(), ok, "kept byte for byte");
        }
    }

    #[test]
    fn parts_are_located() {
        let url = AbsoluteUrl::parse("https://u:p@[::1]:8443/a?b").unwrap();
        assert_eq!(url.scheme(), Scheme::Https);
        assert_eq!(url.host(), "[::1]");
        assert_eq!(url.path_and_query(), "/a?b");
        let url = AbsoluteUrl::parse("http://example.com").unwrap();
        assert_eq!(url.host(), "example.com");
        assert_eq!(url.path_and_query(), "");
    }

    #[test]
    fn rejects_each_kind_of_bad_url_with_its_reason() {
        type IsExpected = fn(&UrlError) -> bool;
        let cases: &[(&str, IsExpected)] = &[
            ("", |e| matches!(e, UrlError::Empty)),
            ("/files/goodbye.mp3", |e| {
                matches!(e, UrlError::Relative { .. })
            }),
            ("files/goodbye.mp3", |e| {
                matches!(e, UrlError::Relative { .. })
            }),
            ("//cdn.example.com/x.mp3", |e| {
                matches!(e, UrlError::Relative { .. })
            }),
            ("ftp://example.com/x", |e| {
                matches!(e, UrlError::UnsupportedScheme { .. })
            }),
            ("wss://example.com/x", |e| {
                matches!(e, UrlError::UnsupportedScheme { .. })
            }),
            ("mailto:a@example.com", |e| {
                matches!(e, UrlError::UnsupportedScheme { .. })
            }),
            (" https://example.com", |e| {
                matches!(e, UrlError::Whitespace { at: 0 })
            }),
            ("https://example.com/a b", |e| {
                matches!(e, UrlError::Whitespace { at: 21 })
            }),
            ("https://example.com/\n", |e| {
                matches!(e, UrlError::Whitespace { .. })
            }),
            ("https://example.com/é", |e| {
                matches!(e, UrlError::NotAscii { .. })
            }),
            ("https://example.com/%zz", |e| {
                matches!(e, UrlError::InvalidPercentEncoding { .. })
            }),
            ("https://example.com/%2", |e| {
                matches!(e, UrlError::InvalidPercentEncoding { .. })
            }),
            ("https://example.com\\evil", |e| {
                matches!(e, UrlError::InvalidChar { .. })
            }),
            ("https://", |e| matches!(e, UrlError::MissingHost)),
            ("https:///path", |e| matches!(e, UrlError::MissingHost)),
            ("https://user@/path", |e| matches!(e, UrlError::MissingHost)),
            ("https://exa_mple.com", |e| {
                matches!(e, UrlError::InvalidHost { .. })
            }),
            ("https://-a.com", |e| {
                matches!(e, UrlError::InvalidHost { .. })
            }),
            ("https://a..com", |e| {
                matches!(e, UrlError::InvalidHost { .. })
            }),
            ("https://[::1/x", |e| {
                matches!(e, UrlError::InvalidHost { .. })
            }),
            ("https://[zz]/x", |e| {
                matches!(e, UrlError::InvalidHost { .. })
            }),
            ("https://example.com:0/", |e| {
                matches!(e, UrlError::InvalidPort { .. })
            }),
            ("https://example.com:65536/", |e| {
                matches!(e, UrlError::InvalidPort { .. })
            }),
            ("https://example.com:/", |e| {
                matches!(e, UrlError::InvalidPort { .. })
            }),
            ("https://example.com:+80/", |e| {
                matches!(e, UrlError::InvalidPort { .. })
            }),
        ];
        for (input, expected) in cases {
            let err = AbsoluteUrl::parse(input).expect_err(input);
            assert!(expected(&err), "{input:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn length_limit_is_4000() {
        let prefix = "https://example.com/";
        let ok = format!("{prefix}{}", "a".repeat(MAX_URL_LEN - prefix.len()));
        assert!(AbsoluteUrl::parse(&ok).is_ok());
        let long = format!("{ok}a");
        assert_eq!(
            AbsoluteUrl::parse(&long),
            Err(UrlError::TooLong {
                len: 4001,
                max: 4000
            })
        );
    }

    #[test]
    fn websocket_urls_take_only_wss() {
        assert!(WebSocketUrl::parse("wss://media.example.com/stream").is_ok());
        for bad in [
            "https://media.example.com/",
            "ws://media.example.com/",
            "/stream",
        ] {
            assert!(WebSocketUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn public_base_joins_paths_verbatim() {
        let base = PublicBase::parse("https://ivr.example.com/").unwrap();
        assert_eq!(base.to_string(), "https://ivr.example.com");
        assert_eq!(
            base.join("/next_action/").unwrap().as_str(),
            "https://ivr.example.com/next_action/"
        );
        assert_eq!(
            base.join("/a?z=1&a=2").unwrap().as_str(),
            "https://ivr.example.com/a?z=1&a=2"
        );
        let prefixed = PublicBase::parse("https://example.com/twilio/").unwrap();
        assert_eq!(
            prefixed.join("/voice").unwrap().as_str(),
            "https://example.com/twilio/voice"
        );
        assert!(matches!(base.join("voice"), Err(UrlError::NotAPath { .. })));
        assert!(matches!(
            base.join("//evil.com/x"),
            Err(UrlError::NotAPath { .. })
        ));
        assert!(matches!(
            base.join("/a b"),
            Err(UrlError::Whitespace { .. })
        ));
        assert_eq!(
            PublicBase::parse("https://example.com/?x=1"),
            Err(UrlError::BaseWithQuery)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepted_urls_are_absolute(s in "\\PC{0,64}") {
            if let Ok(url) = AbsoluteUrl::parse(&s) {
                let lower = url.as_str().to_ascii_lowercase();
                prop_assert!(lower.starts_with("http://") || lower.starts_with("https://"));
                prop_assert!(!url.host().is_empty());
                prop_assert_eq!(url.as_str(), s.as_str());
            }
        }

        #[test]
        fn paths_never_parse_as_absolute(path in "/[a-zA-Z0-9/._~%-]{0,40}") {
            prop_assert!(AbsoluteUrl::parse(&path).is_err());
        }

        #[test]
        fn joined_paths_keep_every_byte(path in "/[a-zA-Z0-9/._~=&?-]{0,60}") {
            let base = PublicBase::parse("https://ivr.example.com").unwrap();
            if !path.starts_with("//") {
                let url = base.join(&path).unwrap();
                prop_assert_eq!(url.path_and_query(), path.as_str());
            }
        }
    }
}
