//! Client addresses: the peer, `X-Forwarded-For` and `Forwarded`, IPv6 aggregation.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The most hops of `X-Forwarded-For` / `Forwarded` examined, right to left.
pub const MAX_FORWARDED_HOPS: usize = 64;

/// The most bytes of `X-Forwarded-For` / `Forwarded` examined, right to left.
pub const MAX_FORWARDED_BYTES: usize = 4 * 1024;

/// The header a trusted proxy writes the client address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de-facto standard).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:4711"` (RFC 7239): the `for=` parameter
    /// of each element.
    Forwarded,
}

impl ProxyHeader {
    fn name(self) -> &'static str {
        match self {
            ProxyHeader::XForwardedFor => "x-forwarded-for",
            ProxyHeader::Forwarded => "forwarded",
        }
    }
}

/// The address of the connection's peer, from the request extensions: a `SocketAddr`, or
/// with the `axum` feature, axum's `ConnectInfo<SocketAddr>`.
pub(crate) fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    if let Some(addr) = extensions.get::<SocketAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
        return Some(info.0.ip());
    }
    None
}

fn trusts(trusted: &[IpNet], ip: IpAddr) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client address seen through trusted proxies (nginx `real_ip_recursive on`): the
/// peer itself unless it is trusted; otherwise the rightmost untrusted hop of all
/// instances of `header` combined, walking right to left through trusted hops; when every
/// hop is trusted, the leftmost one.
///
/// `None` when the peer is unknown, when the hop that decides is not an address
/// (`unknown`, an obfuscated identifier, garbage), or when more than
/// [`MAX_FORWARDED_HOPS`] hops or [`MAX_FORWARDED_BYTES`] bytes would have to be examined.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    extensions: &Extensions,
    trusted: &[IpNet],
    header: ProxyHeader,
) -> Option<IpAddr> {
    let peer = peer_ip(extensions)?.to_canonical();
    if !trusts(trusted, peer) {
        return Some(peer);
    }
    let mut client = peer;
    let mut hops = 0usize;
    let mut bytes = 0usize;
    for value in headers.get_all(header.name()).iter().rev() {
        for hop in value.as_bytes().rsplit(|&b| b == b',') {
            hops += 1;
            bytes += hop.len() + 1;
            if hops > MAX_FORWARDED_HOPS || bytes > MAX_FORWARDED_BYTES {
                return None;
            }
            let hop = trim(hop);
            if hop.is_empty() {
                // `a,,b` or a trailing comma: an empty list element, as RFC 9110 allows.
                continue;
            }
            let ip = match header {
                ProxyHeader::XForwardedFor => parse_node(hop),
                ProxyHeader::Forwarded => forwarded_for(hop).and_then(parse_node),
            }?
            .to_canonical();
            if !trusts(trusted, ip) {
                return Some(ip);
            }
            client = ip;
        }
    }
    Some(client)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The value of the `for` parameter of one `Forwarded` element, unquoted.
fn forwarded_for(element: &[u8]) -> Option<&[u8]> {
    element.split(|&b| b == b';').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (trim(&pair[..eq]), trim(&pair[eq + 1..]));
        if !name.eq_ignore_ascii_case(b"for") {
            return None;
        }
        Some(match value {
            [b'"', inner @ .., b'"'] => inner,
            _ => value,
        })
    })
}

/// An address, optionally with a port: `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn parse_node(node: &[u8]) -> Option<IpAddr> {
    let node = std::str::from_utf8(node).ok()?;
    if let Some(rest) = node.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        return if port_ok {
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        } else {
            None
        };
    }
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The key bytes of an address: IPv4 whole (4 bytes), IPv6 cut to its first
/// `ipv6_prefix` bits (16 bytes and the prefix length).
pub(crate) fn push_ip(out: &mut Vec<u8>, ip: IpAddr, ipv6_prefix: u8) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => {
            let prefix = ipv6_prefix.min(128);
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            out.extend_from_slice(&(u128::from(v6) & mask).to_be_bytes());
            out.push(prefix);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes() {
        let ip = |s: &str| parse_node(s.as_bytes());
        assert_eq!(ip("192.0.2.1"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(ip("192.0.2.1:80"), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(ip("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(ip("[2001:db8::1]"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            ip("[2001:db8::1]:4711"),
            Some("2001:db8::1".parse().unwrap())
        );
        for bad in [
            "unknown",
            "_hidden",
            "[2001:db8::1]x",
            "[1.2.3.4]",
            "",
            "[::1]:",
        ] {
            assert_eq!(ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn forwarded_for_parameter() {
        fn f(s: &str) -> Option<&[u8]> {
            forwarded_for(s.as_bytes())
        }
        assert_eq!(
            f(r#"proto=https;For="[2001:db8:cafe::17]:4711""#),
            Some(&b"[2001:db8:cafe::17]:4711"[..])
        );
        assert_eq!(
            f("for=192.0.2.60;by=203.0.113.43"),
            Some(&b"192.0.2.60"[..])
        );
        assert_eq!(f("by=203.0.113.43"), None);
    }

    #[test]
    fn aggregation() {
        let mut a = Vec::new();
        push_ip(&mut a, "2001:db8:1:2:aaaa::1".parse().unwrap(), 64);
        let mut b = Vec::new();
        push_ip(&mut b, "2001:db8:1:2:bbbb::2".parse().unwrap(), 64);
        assert_eq!(a, b);
        let mut all = Vec::new();
        push_ip(&mut all, "2001:db8::1".parse().unwrap(), 0);
        assert_eq!(&all[..16], &[0; 16]);
        let mut v4 = Vec::new();
        push_ip(&mut v4, "::ffff:192.0.2.1".parse().unwrap(), 64);
        assert_eq!(v4, [192, 0, 2, 1]);
    }
}
