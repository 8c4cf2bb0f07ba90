//! Rate-limit keys from request headers: `Keyer` over arbitrary `X-Forwarded-For`,
//! `Forwarded`, `Cookie` (through `ValidateCookieLayer`) and custom headers, from trusted
//! and untrusted peers.
//!
//! Input: `flags (1 byte)`, then lines: `name: value` adds a header (any name, invalid
//! ones skipped); a line starting with `/` is the request target. Flags bits 0-1 pick the
//! peer: untrusted IPv4, trusted IPv4 proxy, trusted IPv6 proxy, or none.
//!
//! Invariants beyond "never panics":
//! - keying is deterministic, and `key` and `key_parts` agree;
//! - IP keys are `ip\0` + 4 bytes, or `ip\0` + 16 bytes + the prefix length;
//! - an untrusted peer's forwarded headers are ignored: its key is its own address;
//! - header keys are `header\0name\0` + at most `MAX_HEADER_KEY_BYTES` of value;
//! - a valid cookie decision carries the cookie, and its value is valid.

#![no_main]

use std::net::SocketAddr;

use http::{HeaderName, HeaderValue, Request};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use ratelimit::cookie::{CookieDecision, ValidateCookieLayer, ValidatedCookie};
use ratelimit::keyer::{KeyOutcome, Keyer, MAX_HEADER_KEY_BYTES, ProxyHeader, Source};
use toolkit_fuzz::lines;

fn trusted() -> Vec<IpNet> {
    ["10.0.0.0/8", "2001:db8::/32"]
        .iter()
        .map(|n| n.parse().expect("a literal network"))
        .collect()
}

fn keyers() -> Vec<Keyer> {
    vec![
        Keyer::builder().client_ip(trusted()).build(),
        Keyer::builder()
            .source(Source::ClientIp {
                trusted: trusted(),
                ipv6_prefix: 56,
                header: ProxyHeader::Forwarded,
            })
            .build(),
        Keyer::builder()
            .validated_cookie()
            .header(HeaderName::from_static("x-api-key"))
            .peer_ip()
            .build(),
        Keyer::builder()
            .all([Source::Route, Source::client_ip(trusted())])
            .global()
            .build(),
    ]
}

fn check_ip_key(key: &[u8]) {
    assert!(key.starts_with(b"ip\0"));
    assert!(
        key.len() == 3 + 4 || key.len() == 3 + 16 + 1,
        "ip key of {} bytes",
        key.len()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut request = Request::get("/").body(()).expect("a valid request");
    for line in lines(rest) {
        if line.starts_with(b"/") {
            if let Ok(uri) = http::Uri::try_from(line) {
                *request.uri_mut() = uri;
            }
            continue;
        }
        let Some(at) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..at].trim_ascii()),
            HeaderValue::from_bytes(line[at + 1..].trim_ascii()),
        ) {
            request.headers_mut().append(name, value);
        }
    }
    let peer: Option<SocketAddr> = match flags & 3 {
        0 => Some("203.0.113.9:5000"),
        1 => Some("10.1.2.3:5000"),
        2 => Some("[2001:db8::7]:5000"),
        _ => None,
    }
    .map(|p| p.parse().expect("a literal address"));
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }

    let cookies = ValidateCookieLayer::new("session", |_name: &str, value: &str| {
        value.starts_with("ok-")
    });
    let decision = cookies.apply(&mut request);
    let cookie = request.extensions().get::<ValidatedCookie>();
    assert_eq!(decision.is_valid(), cookie.is_some());
    if let Some(cookie) = cookie {
        assert_eq!(cookie.name(), "session");
        assert!(cookie.value().starts_with("ok-"));
    }
    if let CookieDecision::Valid { candidates } | CookieDecision::Invalid { candidates } = decision
    {
        assert!(candidates >= 1);
    }

    let (parts, ()) = request.clone().into_parts();
    let peer_key = Keyer::builder().peer_ip().build().key(&request);
    for (index, keyer) in keyers().iter().enumerate() {
        let outcome = keyer.key(&request);
        assert_eq!(keyer.key(&request), outcome, "keying is not deterministic");
        assert_eq!(
            keyer.key_parts(&parts),
            outcome,
            "key and key_parts disagree"
        );
        match (index, &outcome) {
            (0 | 1, KeyOutcome::Key(key)) => check_ip_key(key.as_bytes()),
            (2, KeyOutcome::Key(key)) => {
                let key = key.as_bytes();
                if let Some(value) = key.strip_prefix(b"header\0x-api-key\0") {
                    assert!(value.len() <= MAX_HEADER_KEY_BYTES);
                } else if !key.starts_with(b"cookie\0session\0") {
                    check_ip_key(key);
                }
            }
            _ => {}
        }
        // From an untrusted peer, forwarded headers change nothing.
        if index == 0 && flags & 3 == 0 {
            assert_eq!(outcome, peer_key);
        }
    }
});
