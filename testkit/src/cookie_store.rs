//! A browser's cookie store for one host, as RFC 6265bis describes it, for tests and
//! simulations of cookie migrations.
//!
//! - A cookie is identified by name, domain, host-only flag and path: the same name under
//!   two scopes is two cookies (the duplicate cookies of a botched migration).
//! - A `Set-Cookie` with the identity of a stored cookie replaces it and keeps its creation
//!   time (§5.7, step 23.3); one with `Max-Age=0` (or a negative `Max-Age`) deletes it.
//! - `Domain=` must domain-match the host, and is refused when the store's Public Suffix
//!   List lists it; a cookie without `Domain=` is host-only.
//! - `__Host-` cookies must be `Secure`, host-only and `Path=/`.
//! - The `Cookie` header lists longer paths first, then same-path cookies oldest first
//!   (Chrome, Firefox) or newest first (Safari).
//!
//! Every request is taken to be over a secure connection to a path under every stored
//! path (`/…` requests to cookies set with `Path=/`), so `Secure` and `Path` never filter
//! the `Cookie` header; `Expires` is not read.
//!
//! ```
//! use testkit::cookie_store::{CookieStore, Order};
//!
//! let mut store = CookieStore::new("shop1.base.localhost", Order::OldestFirst);
//! store.receive("sid=old; Domain=base.localhost; Path=/")?;
//! store.receive("sid=new; Path=/")?;
//! assert_eq!(store.cookie_header().as_deref(), Some("sid=old; sid=new"));
//! store.receive("sid=; Domain=base.localhost; Path=/; Max-Age=0")?;
//! assert_eq!(store.cookie_header().as_deref(), Some("sid=new"));
//! # Ok::<(), testkit::cookie_store::Refused>(())
//! ```

use std::fmt;

/// The order in which a browser sends same-path cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Chrome and Firefox: the oldest cookie first.
    OldestFirst,
    /// Safari: the newest cookie first.
    NewestFirst,
}

/// One stored cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The name.
    pub name: String,
    /// The value.
    pub value: String,
    /// The domain: the `Domain=` attribute (lowercase, without a leading dot), or the host
    /// for a host-only cookie.
    pub domain: String,
    /// Whether the cookie had no `Domain=` attribute (sent to the host only).
    pub host_only: bool,
    /// The path (`/` when absent or not starting with `/`).
    pub path: String,
    /// A per-store counter: the order cookies were created in.
    created: u64,
}

/// Why a `Set-Cookie` line was ignored, as a browser ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `name=value` pair.
    Malformed,
    /// `Domain=` does not domain-match the host.
    ForeignDomain,
    /// `Domain=` is a public suffix on the store's list.
    PublicSuffix,
    /// A `__Host-` cookie that is not `Secure`, host-only and `Path=/`.
    HostPrefix,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::Malformed => "no name=value pair",
            Refused::ForeignDomain => "Domain does not domain-match the host",
            Refused::PublicSuffix => "Domain is a public suffix",
            Refused::HostPrefix => "__Host- cookie not Secure, host-only and Path=/",
        })
    }
}

impl std::error::Error for Refused {}

/// The cookies one browser holds for one host.
#[derive(Debug, Clone)]
pub struct CookieStore {
    host: String,
    order: Order,
    public_suffixes: Vec<String>,
    cookies: Vec<Cookie>,
    clock: u64,
}

impl CookieStore {
    /// An empty store for `host` (lowercase), sending same-path cookies in `order`, with an
    /// empty Public Suffix List.
    pub fn new(host: &str, order: Order) -> Self {
        Self {
            host: host.to_owned(),
            order,
            public_suffixes: Vec::new(),
            cookies: Vec::new(),
            clock: 0,
        }
    }

    /// The same store with `suffix` (lowercase) on its Public Suffix List: `Domain=suffix`
    /// cookies are refused.
    pub fn with_public_suffix(mut self, suffix: &str) -> Self {
        self.public_suffixes.push(suffix.to_owned());
        self
    }

    /// The order it sends same-path cookies in.
    pub fn order(&self) -> Order {
        self.order
    }

    /// Whether its Public Suffix List lists `domain`.
    pub fn lists_public_suffix(&self, domain: &str) -> bool {
        self.public_suffixes.iter().any(|s| s == domain)
    }

    /// Applies one `Set-Cookie` line received from the host over a secure connection: stores
    /// the cookie, replaces the one with the same identity, or deletes it (`Max-Age` ≤ 0;
    /// deleting a cookie the store does not hold is no error).
    ///
    /// # Errors
    ///
    /// Why the line was ignored; the store is then unchanged.
    pub fn receive(&mut self, line: &str) -> Result<(), Refused> {
        let mut parts = line.split(';');
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .ok_or(Refused::Malformed)?;
        let (name, value) = (name.trim(), value.trim());
        let mut domain = None;
        let mut path = "/".to_owned();
        let mut delete = false;
        let mut secure = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "domain" => {
                    domain = Some(val.trim().trim_start_matches('.').to_ascii_lowercase());
                }
                "path" if val.trim().starts_with('/') => path = val.trim().to_owned(),
                "max-age" => delete = val.trim().parse::<i64>().is_ok_and(|age| age <= 0),
                "secure" => secure = true,
                _ => {}
            }
        }
        let (domain, host_only) = match domain {
            Some(domain) => {
                if !self.domain_matches(&domain) {
                    return Err(Refused::ForeignDomain);
                }
                if self.lists_public_suffix(&domain) {
                    return Err(Refused::PublicSuffix);
                }
                (domain, false)
            }
            None => (self.host.clone(), true),
        };
        if name.starts_with("__Host-") && !(secure && host_only && path == "/") {
            return Err(Refused::HostPrefix);
        }
        let existing = self.cookies.iter().position(|c| {
            c.name == name && c.domain == domain && c.host_only == host_only && c.path == path
        });
        if delete {
            if let Some(index) = existing {
                self.cookies.remove(index);
            }
            return Ok(());
        }
        self.clock += 1;
        let cookie = Cookie {
            name: name.to_owned(),
            value: value.to_owned(),
            domain,
            host_only,
            path,
            // Overwriting keeps the creation time (RFC 6265bis §5.7, step 23.3).
            created: existing.map_or(self.clock, |i| self.cookies[i].created),
        };
        match existing {
            Some(index) => self.cookies[index] = cookie,
            None => self.cookies.push(cookie),
        }
        Ok(())
    }

    /// Whether `domain` domain-matches the host: the host itself or a parent of it.
    fn domain_matches(&self, domain: &str) -> bool {
        self.host == domain
            || self
                .host
                .strip_suffix(domain)
                .is_some_and(|head| head.ends_with('.'))
    }

    /// The `Cookie` header it sends to the host, `None` when it holds no cookie.
    pub fn cookie_header(&self) -> Option<String> {
        let mut sent: Vec<&Cookie> = self.cookies.iter().collect();
        sent.sort_by(|a, b| {
            let by_age = match self.order {
                Order::OldestFirst => a.created.cmp(&b.created),
                Order::NewestFirst => b.created.cmp(&a.created),
            };
            b.path.len().cmp(&a.path.len()).then(by_age)
        });
        let pairs: Vec<String> = sent
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// The cookies it holds, in the order they were first stored.
    pub fn cookies(&self) -> &[Cookie] {
        &self.cookies
    }

    /// How many cookies named `name` it holds.
    pub fn count(&self, name: &str) -> usize {
        self.cookies.iter().filter(|c| c.name == name).count()
    }

    /// Whether it holds some name more than once (under different scopes).
    pub fn has_duplicates(&self) -> bool {
        self.cookies
            .iter()
            .enumerate()
            .any(|(i, c)| self.cookies[..i].iter().any(|d| d.name == c.name))
    }
}

/// The value of the first cookie named `name` in a `Cookie` header: what a server that reads
/// one cookie per name gets when a browser sends duplicates (the one its order puts first).
pub fn first_value<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "shop1.base.localhost";
    const PARENT: &str = "base.localhost";

    fn store(order: Order) -> CookieStore {
        CookieStore::new(HOST, order)
    }

    #[test]
    fn identity_is_name_domain_host_only_and_path() {
        let mut s = store(Order::OldestFirst);
        s.receive("sid=a; Domain=base.localhost; Path=/").unwrap();
        s.receive("sid=b; Path=/").unwrap();
        s.receive("sid=c; Domain=shop1.base.localhost; Path=/")
            .unwrap();
        s.receive("sid=d; Path=/cart").unwrap();
        assert_eq!(s.count("sid"), 4);
        assert!(s.has_duplicates());
        let host_only = s.cookies().iter().filter(|c| c.host_only).count();
        assert_eq!(host_only, 2, "{:?}", s.cookies());
        assert_eq!(s.cookies()[2].domain, HOST);
        assert!(!s.cookies()[2].host_only);
    }

    #[test]
    fn max_age_zero_deletes_only_the_same_identity() {
        let mut s = store(Order::OldestFirst);
        s.receive("sid=a; Domain=base.localhost; Path=/").unwrap();
        s.receive("sid=b; Path=/").unwrap();
        s.receive("sid=; Domain=.BASE.localhost; Path=/; Max-Age=0")
            .unwrap();
        assert_eq!(s.cookie_header().as_deref(), Some("sid=b"));
        // Another path, or no such cookie: nothing deleted, and no error.
        s.receive("sid=; Path=/other; Max-Age=0").unwrap();
        s.receive("gone=; Max-Age=0").unwrap();
        assert_eq!(s.cookie_header().as_deref(), Some("sid=b"));
        s.receive("sid=; Path=/; max-age=-1").unwrap();
        assert_eq!(s.cookie_header(), None);
        assert!(!s.has_duplicates());
    }

    #[test]
    fn overwriting_keeps_the_creation_time() {
        for (order, header) in [
            (Order::OldestFirst, "a=3; b=2"),
            (Order::NewestFirst, "b=2; a=3"),
        ] {
            let mut s = store(order);
            s.receive("a=1").unwrap();
            s.receive("b=2").unwrap();
            s.receive("a=3").unwrap();
            assert_eq!(s.cookie_header().as_deref(), Some(header), "{order:?}");
            assert_eq!(s.count("a"), 1);
        }
    }

    #[test]
    fn longer_paths_first_then_by_age_in_the_browser_order() {
        for (order, header) in [
            (Order::OldestFirst, "x=deep; x=old; x=new"),
            (Order::NewestFirst, "x=deep; x=new; x=old"),
        ] {
            let mut s = store(order);
            s.receive("x=old; Domain=base.localhost").unwrap();
            s.receive("x=new").unwrap();
            s.receive("x=deep; Path=/account").unwrap();
            assert_eq!(s.cookie_header().as_deref(), Some(header), "{order:?}");
            assert_eq!(s.order(), order);
        }
    }

    #[test]
    fn domain_must_domain_match_the_host() {
        let mut s = store(Order::OldestFirst);
        for foreign in ["other.localhost", "se.localhost", "hop1.base.localhost"] {
            let line = format!("a=1; Domain={foreign}");
            assert_eq!(s.receive(&line), Err(Refused::ForeignDomain), "{line}");
        }
        s.receive("a=1; Domain=localhost").unwrap();
        s.receive("a=2; Domain=.Base.Localhost").unwrap();
        assert_eq!(s.cookies()[1].domain, PARENT);
        assert_eq!(s.count("a"), 2);
    }

    #[test]
    fn public_suffix_domains_are_refused_when_listed() {
        let line = "cart=1; Domain=base.localhost; Path=/";
        let mut old = store(Order::OldestFirst);
        assert!(!old.lists_public_suffix(PARENT));
        old.receive(line).unwrap();
        let mut listed = store(Order::OldestFirst).with_public_suffix(PARENT);
        assert!(listed.lists_public_suffix(PARENT));
        assert_eq!(listed.receive(line), Err(Refused::PublicSuffix));
        assert_eq!(listed.cookie_header(), None);
        // Host-only cookies are not affected.
        listed.receive("cart=1; Path=/").unwrap();
        assert_eq!(listed.cookie_header().as_deref(), Some("cart=1"));
    }

    #[test]
    fn host_prefix_requires_secure_host_only_and_root_path() {
        let mut s = store(Order::OldestFirst);
        for bad in [
            "__Host-id=1; Path=/",
            "__Host-id=1; Secure; Path=/account",
            "__Host-id=1; Secure; Path=/; Domain=shop1.base.localhost",
        ] {
            assert_eq!(s.receive(bad), Err(Refused::HostPrefix), "{bad}");
        }
        s.receive("__Host-id=1; Path=/; Secure; HttpOnly").unwrap();
        assert_eq!(s.cookie_header().as_deref(), Some("__Host-id=1"));
    }

    #[test]
    fn a_server_reading_the_first_value_follows_the_browser_order() {
        for (order, read) in [(Order::OldestFirst, "dead"), (Order::NewestFirst, "live")] {
            let mut s = store(order);
            s.receive("sid=dead; Domain=base.localhost").unwrap();
            s.receive("sid=live").unwrap();
            s.receive("other=1").unwrap();
            let header = s.cookie_header().unwrap();
            assert_eq!(first_value(&header, "sid"), Some(read), "{header}");
            assert_eq!(first_value(&header, "other"), Some("1"));
            assert_eq!(first_value(&header, "id"), None);
        }
    }

    #[test]
    fn malformed_lines_and_odd_paths() {
        let mut s = store(Order::OldestFirst);
        assert_eq!(s.receive("no-pair; Path=/"), Err(Refused::Malformed));
        s.receive(" a = 1 ; Path=relative").unwrap();
        assert_eq!(s.cookies()[0].path, "/");
        assert_eq!(s.cookie_header().as_deref(), Some("a=1"));
        assert_eq!(Refused::Malformed.to_string(), "no name=value pair");
    }
}
