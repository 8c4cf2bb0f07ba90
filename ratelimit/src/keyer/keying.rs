//! The [`Keyer`]: an ordered, finite list of [`Step`]s walked once per request.

use std::fmt;

use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderName, Method, Request, StatusCode, Uri, Version};
use ipnet::IpNet;

use super::ip::{client_ip, peer_ip, push_ip};
use super::source::{MAX_HEADER_KEY_BYTES, RouteName, Source, Step};
use crate::cookie::ValidatedCookie;

/// The key every key-less request shares under [`NoKey::SharedBucket`].
pub const SHARED_BUCKET_KEY: &[u8] = b"nokey\0";

/// A rate-limit key: bytes prefixed by the kind of source that produced them
/// (`ip\0`, `cookie\0`, `header\0`, `route\0`, `global\0`, `custom\0`, `all\0`), so keys
/// of different sources never collide.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key(Vec<u8>);

impl Key {
    /// The key's bytes, for a [`Backend`](crate::Backend).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key of the bucket key-less requests share ([`SHARED_BUCKET_KEY`]).
    pub fn shared_bucket() -> Self {
        Key(SHARED_BUCKET_KEY.to_vec())
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys can hold session cookies: show the kind only.
        let kind = self.0.split(|&b| b == 0).next().unwrap_or_default();
        write!(
            f,
            "Key({}, {} bytes)",
            String::from_utf8_lossy(kind),
            self.0.len()
        )
    }
}

/// What applies to a request none of a [`Keyer`]'s sources yields a key for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoKey {
    /// Limit every key-less request together, as one key ([`SHARED_BUCKET_KEY`]).
    SharedBucket,
    /// Answer with this status without consulting the limiter.
    Reject(StatusCode),
    /// Let the request through unlimited.
    Allow,
}

/// The result of keying a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// The first source that yielded.
    Key(Key),
    /// No source yielded; the keyer's policy.
    NoKey(NoKey),
}

impl KeyOutcome {
    /// The key, if a source yielded one.
    pub fn key(&self) -> Option<&Key> {
        match self {
            KeyOutcome::Key(key) => Some(key),
            KeyOutcome::NoKey(_) => None,
        }
    }
}

/// Derives rate-limit keys: an ordered list of [`Step`]s, built once and walked once per
/// request; the first that yields wins, otherwise the [`NoKey`] policy applies. See the
/// [module docs](super).
#[derive(Clone, Debug)]
pub struct Keyer {
    steps: Vec<Step>,
    no_key: NoKey,
}

/// Builds a [`Keyer`]; sources are tried in the order they are added.
#[derive(Clone, Debug)]
#[must_use]
pub struct KeyerBuilder {
    steps: Vec<Step>,
    no_key: NoKey,
}

impl Keyer {
    /// A builder with no sources and [`NoKey::SharedBucket`].
    pub fn builder() -> KeyerBuilder {
        KeyerBuilder {
            steps: Vec::new(),
            no_key: NoKey::SharedBucket,
        }
    }

    /// The key of `request`: one pass over the steps, each linear in the bytes it reads.
    pub fn key<B>(&self, request: &Request<B>) -> KeyOutcome {
        self.key_head(&Head {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            extensions: request.extensions(),
            parts: None,
        })
    }

    /// The key of a request head; the same as [`key`](Self::key), without copying the
    /// head for [`Source::Custom`].
    pub fn key_parts(&self, parts: &Parts) -> KeyOutcome {
        self.key_head(&Head {
            method: &parts.method,
            uri: &parts.uri,
            version: parts.version,
            headers: &parts.headers,
            extensions: &parts.extensions,
            parts: Some(parts),
        })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The number of sources over all steps (a composite counts each part).
    pub fn source_count(&self) -> usize {
        self.steps.iter().map(Step::source_count).sum()
    }

    /// The policy for requests no source yields a key for.
    pub fn no_key(&self) -> NoKey {
        self.no_key
    }

    fn key_head(&self, head: &Head<'_>) -> KeyOutcome {
        let mut copy = None;
        let mut buf = Vec::new();
        for step in &self.steps {
            buf.clear();
            let yielded = match step {
                Step::One(source) => push_source(&mut buf, source, head, &mut copy),
                Step::All(parts) => push_all(&mut buf, parts, head, &mut copy),
            };
            if yielded {
                return KeyOutcome::Key(Key(buf));
            }
        }
        KeyOutcome::NoKey(self.no_key)
    }

    pub(crate) fn from_parts(steps: Vec<Step>, no_key: NoKey) -> Self {
        Self { steps, no_key }
    }
}

impl KeyerBuilder {
    /// Adds a step: a [`Source`] or a [`Step::All`].
    pub fn source(mut self, step: impl Into<Step>) -> Self {
        self.steps.push(step.into());
        self
    }

    /// Adds the peer address, IPv6 aggregated to /64.
    pub fn peer_ip(self) -> Self {
        self.source(Source::peer_ip())
    }

    /// Adds the client address from `X-Forwarded-For` behind `trusted` proxies, IPv6
    /// aggregated to /64.
    pub fn client_ip(self, trusted: impl IntoIterator<Item = IpNet>) -> Self {
        self.source(Source::client_ip(trusted))
    }

    /// Adds the value of header `name`.
    pub fn header(self, name: HeaderName) -> Self {
        self.source(Source::Header(name))
    }

    /// Adds the cookie judged valid by
    /// [`ValidateCookieLayer`](crate::cookie::ValidateCookieLayer).
    pub fn validated_cookie(self) -> Self {
        self.source(Source::ValidatedCookie)
    }

    /// Adds the route (a [`RouteName`] extension, else the path).
    pub fn route(self) -> Self {
        self.source(Source::Route)
    }

    /// Adds one key for all requests; later steps are never reached.
    pub fn global(self) -> Self {
        self.source(Source::Global)
    }

    /// Adds a function of the request head.
    pub fn custom(self, f: impl Fn(&Parts) -> Option<Vec<u8>> + Send + Sync + 'static) -> Self {
        self.source(Source::custom(f))
    }

    /// Adds a composite of `parts`: a key only when every part yields (e.g. the cookie and
    /// the route).
    pub fn all(self, parts: impl IntoIterator<Item = Source>) -> Self {
        self.source(Step::All(parts.into_iter().collect()))
    }

    /// What requests get when no step yields. The default is [`NoKey::SharedBucket`].
    pub fn no_key(mut self, policy: NoKey) -> Self {
        self.no_key = policy;
        self
    }

    /// The keyer.
    pub fn build(self) -> Keyer {
        Keyer {
            steps: self.steps,
            no_key: self.no_key,
        }
    }
}

struct Head<'a> {
    method: &'a Method,
    uri: &'a Uri,
    version: Version,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
    parts: Option<&'a Parts>,
}

impl Head<'_> {
    /// The request head as `Parts`, copied once per request when it came as a `Request`.
    fn parts<'s>(&'s self, copy: &'s mut Option<Parts>) -> &'s Parts {
        if let Some(parts) = self.parts {
            return parts;
        }
        copy.get_or_insert_with(|| {
            let (mut parts, ()) = Request::new(()).into_parts();
            parts.method = self.method.clone();
            parts.uri = self.uri.clone();
            parts.version = self.version;
            parts.headers = self.headers.clone();
            parts.extensions = self.extensions.clone();
            parts
        })
    }
}

/// Appends the key of `source` to `out`; `false` (with `out` unspecified) when it yields none.
fn push_source(
    out: &mut Vec<u8>,
    source: &Source,
    head: &Head<'_>,
    copy: &mut Option<Parts>,
) -> bool {
    match source {
        Source::PeerIp { ipv6_prefix } => match peer_ip(head.extensions) {
            Some(ip) => {
                out.extend_from_slice(b"ip\0");
                push_ip(out, ip, *ipv6_prefix);
                true
            }
            None => false,
        },
        Source::ClientIp {
            trusted,
            ipv6_prefix,
            header,
        } => match client_ip(head.headers, head.extensions, trusted, *header) {
            Some(ip) => {
                out.extend_from_slice(b"ip\0");
                push_ip(out, ip, *ipv6_prefix);
                true
            }
            None => false,
        },
        Source::Header(name) => {
            let mut values = head.headers.get_all(name).iter().peekable();
            if values.peek().is_none() {
                return false;
            }
            out.extend_from_slice(b"header\0");
            out.extend_from_slice(name.as_str().as_bytes());
            out.push(0);
            let start = out.len();
            for (i, value) in values.enumerate() {
                if out.len() - start + value.len() + 1 > MAX_HEADER_KEY_BYTES {
                    return false;
                }
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(value.as_bytes());
            }
            true
        }
        Source::ValidatedCookie => match head.extensions.get::<ValidatedCookie>() {
            Some(cookie) => {
                out.extend_from_slice(b"cookie\0");
                out.extend_from_slice(cookie.name().as_bytes());
                out.push(0);
                out.extend_from_slice(cookie.value().as_bytes());
                true
            }
            None => false,
        },
        Source::Route => {
            out.extend_from_slice(b"route\0");
            match head.extensions.get::<RouteName>() {
                Some(name) => {
                    out.extend_from_slice(b"name\0");
                    out.extend_from_slice(name.0.as_bytes());
                }
                None => {
                    out.extend_from_slice(b"path\0");
                    out.extend_from_slice(head.uri.path().as_bytes());
                }
            }
            true
        }
        Source::Global => {
            out.extend_from_slice(b"global\0");
            true
        }
        Source::Custom(f) => match f(head.parts(copy)) {
            Some(bytes) => {
                out.extend_from_slice(b"custom\0");
                out.extend_from_slice(&bytes);
                true
            }
            None => false,
        },
    }
}

/// Appends the composite key of `parts`: each part's key, length-prefixed so the
/// concatenation is unambiguous.
fn push_all(
    out: &mut Vec<u8>,
    parts: &[Source],
    head: &Head<'_>,
    copy: &mut Option<Parts>,
) -> bool {
    out.extend_from_slice(b"all\0");
    let mut part = Vec::new();
    for source in parts {
        part.clear();
        if !push_source(&mut part, source, head, copy) {
            return false;
        }
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&part);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_is_injective_and_prefixed() {
        let keyer = Keyer::builder()
            .all([
                Source::Route,
                Source::Header(HeaderName::from_static("x-a")),
            ])
            .build();
        let key = |path: &str, a: &str| {
            let req = Request::get(path).header("x-a", a).body(()).unwrap();
            keyer.key(&req).key().unwrap().as_bytes().to_vec()
        };
        assert!(key("/a", "b").starts_with(b"all\0"));
        assert_ne!(key("/a", "bc"), key("/ab", "c"));
        assert_eq!(key("/a", "b"), key("/a", "b"));
    }

    #[test]
    fn empty_composite_yields_a_constant() {
        let keyer = Keyer::builder().all([]).build();
        let req = Request::new(());
        assert_eq!(
            keyer.key(&req).key().map(Key::as_bytes),
            Some(&b"all\0"[..])
        );
        assert!(format!("{:?}", keyer.key(&req)).contains("all"));
    }
}
