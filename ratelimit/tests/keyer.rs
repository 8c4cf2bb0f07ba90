//! Every key source, IP aggregation, forwarded headers, composites and `NoKey` policies.

use std::net::SocketAddr;

use http::{HeaderName, Request, StatusCode};
use ipnet::IpNet;
use ratelimit::cookie::ValidatedCookie;
use ratelimit::keyer::{
    KeyOutcome, Keyer, MAX_FORWARDED_HOPS, NoKey, ProxyHeader, RouteName, SHARED_BUCKET_KEY, Source,
};

fn req(peer: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::get("/api/items?page=2");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder.body(()).unwrap();
    if !peer.is_empty() {
        request
            .extensions_mut()
            .insert(peer.parse::<SocketAddr>().unwrap());
    }
    request
}

fn key(keyer: &Keyer, request: &Request<()>) -> Vec<u8> {
    match keyer.key(request) {
        KeyOutcome::Key(key) => key.as_bytes().to_vec(),
        KeyOutcome::NoKey(policy) => panic!("no key: {policy:?}"),
    }
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

fn ip_key(ip: &str) -> Vec<u8> {
    // The key of `ip` from a peer source, for comparisons.
    let addr = SocketAddr::new(ip.parse().unwrap(), 1);
    key(
        &Keyer::builder().peer_ip().build(),
        &req(&addr.to_string(), &[]),
    )
}

#[test]
fn peer_ip_keys_ipv4_whole() {
    let keyer = Keyer::builder().peer_ip().build();
    assert_eq!(
        key(&keyer, &req("192.0.2.7:443", &[])),
        b"ip\0\xc0\x00\x02\x07"
    );
    assert_ne!(
        key(&keyer, &req("192.0.2.7:443", &[])),
        key(&keyer, &req("192.0.2.8:443", &[]))
    );
    assert_eq!(
        key(&keyer, &req("192.0.2.7:1", &[])),
        key(&keyer, &req("[::ffff:192.0.2.7]:2", &[])),
        "an IPv4-mapped IPv6 peer is the IPv4 address"
    );
    assert_eq!(
        keyer.key(&req("", &[])),
        KeyOutcome::NoKey(NoKey::SharedBucket)
    );
}

#[test]
fn ipv6_is_aggregated_to_the_prefix() {
    let keyer = Keyer::builder().peer_ip().build();
    let a = key(&keyer, &req("[2001:db8:aa:1::1]:1", &[]));
    let b = key(&keyer, &req("[2001:db8:aa:1:ffff:ffff:ffff:ffff]:2", &[]));
    let c = key(&keyer, &req("[2001:db8:aa:2::1]:1", &[]));
    assert_eq!(a, b, "one /64");
    assert_ne!(a, c, "another /64");

    let by_56 = Keyer::builder()
        .source(Source::PeerIp { ipv6_prefix: 56 })
        .build();
    assert_eq!(
        key(&by_56, &req("[2001:db8:aa:1::1]:1", &[])),
        key(&by_56, &req("[2001:db8:aa:2::1]:1", &[])),
        "one /56"
    );
    assert_ne!(
        key(&by_56, &req("[2001:db8:aa:1::1]:1", &[])),
        key(&by_56, &req("[2001:db8:ab:1::1]:1", &[]))
    );
}

#[test]
fn client_ip_believes_forwarded_headers_only_from_trusted_peers() {
    let keyer = Keyer::builder().client_ip(nets(&["10.0.0.0/8"])).build();
    let xff = [("x-forwarded-for", "203.0.113.9")];
    assert_eq!(
        key(&keyer, &req("10.1.2.3:5000", &xff)),
        ip_key("203.0.113.9"),
        "trusted proxy: the forwarded client"
    );
    assert_eq!(
        key(&keyer, &req("198.51.100.1:5000", &xff)),
        ip_key("198.51.100.1"),
        "untrusted peer: its own address, whatever it claims"
    );
    assert_eq!(
        key(&keyer, &req("10.1.2.3:5000", &[])),
        ip_key("10.1.2.3"),
        "a trusted peer without the header is the client"
    );
    assert_eq!(
        keyer.key(&req("", &xff)),
        KeyOutcome::NoKey(NoKey::SharedBucket)
    );
}

#[test]
fn spoofed_leftmost_entries_are_ignored() {
    let keyer = Keyer::builder()
        .client_ip(nets(&["10.0.0.0/8", "2001:db8:ffff::/48"]))
        .build();
    let honest = req(
        "10.0.0.1:1",
        &[("x-forwarded-for", "203.0.113.9, 10.0.0.2")],
    );
    let spoofed = req(
        "10.0.0.1:1",
        &[(
            "x-forwarded-for",
            "1.1.1.1, 10.9.9.9, garbage, 203.0.113.9, 10.0.0.2",
        )],
    );
    assert_eq!(key(&keyer, &honest), ip_key("203.0.113.9"));
    assert_eq!(key(&keyer, &spoofed), ip_key("203.0.113.9"));
    let all_trusted = req("10.0.0.1:1", &[("x-forwarded-for", "10.0.0.3, 10.0.0.2")]);
    assert_eq!(
        key(&keyer, &all_trusted),
        ip_key("10.0.0.3"),
        "every hop trusted: the leftmost"
    );
    let garbage = req("10.0.0.1:1", &[("x-forwarded-for", "203.0.113.9, unknown")]);
    assert_eq!(
        keyer.key(&garbage),
        KeyOutcome::NoKey(NoKey::SharedBucket),
        "the deciding hop is not an address"
    );
}

#[test]
fn xff_instances_are_combined_in_order() {
    let keyer = Keyer::builder().client_ip(nets(&["10.0.0.0/8"])).build();
    let split = req(
        "10.0.0.1:1",
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.3"),
            ("x-forwarded-for", "10.0.0.2,"),
        ],
    );
    assert_eq!(key(&keyer, &split), ip_key("203.0.113.9"));
}

#[test]
fn too_many_hops_yield_no_key() {
    let keyer = Keyer::builder().client_ip(nets(&["10.0.0.0/8"])).build();
    let many = vec!["10.0.0.9"; MAX_FORWARDED_HOPS + 1].join(",");
    let at_cap = vec!["10.0.0.9"; MAX_FORWARDED_HOPS].join(",");
    assert_eq!(
        keyer.key(&req("10.0.0.1:1", &[("x-forwarded-for", &many)])),
        KeyOutcome::NoKey(NoKey::SharedBucket)
    );
    assert_eq!(
        key(&keyer, &req("10.0.0.1:1", &[("x-forwarded-for", &at_cap)])),
        ip_key("10.0.0.9")
    );
}

#[test]
fn forwarded_for_with_quoted_ipv6_and_port() {
    let keyer = Keyer::builder()
        .source(Source::ClientIp {
            trusted: nets(&["10.0.0.0/8"]),
            ipv6_prefix: 64,
            header: ProxyHeader::Forwarded,
        })
        .build();
    let request = req(
        "10.0.0.1:1",
        &[
            (
                "forwarded",
                r#"for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https"#,
            ),
            ("forwarded", "For=10.0.0.2;by=10.0.0.1"),
            // The header this keyer does not read is ignored entirely.
            ("x-forwarded-for", "198.51.100.77"),
        ],
    );
    assert_eq!(key(&keyer, &request), ip_key("2001:db8:cafe::17"));
    let v4 = req("10.0.0.1:1", &[("forwarded", "for=192.0.2.60;proto=http")]);
    assert_eq!(key(&keyer, &v4), ip_key("192.0.2.60"));
    let hidden = req("10.0.0.1:1", &[("forwarded", r#"for="_hidden""#)]);
    assert_eq!(keyer.key(&hidden), KeyOutcome::NoKey(NoKey::SharedBucket));
}

#[test]
fn header_source() {
    let keyer = Keyer::builder()
        .header(HeaderName::from_static("x-api-key"))
        .build();
    let a = key(&keyer, &req("", &[("x-api-key", "k1")]));
    assert_eq!(a, b"header\0x-api-key\0k1");
    assert_ne!(a, key(&keyer, &req("", &[("x-api-key", "k2")])));
    let both = key(
        &keyer,
        &req("", &[("x-api-key", "k1"), ("x-api-key", "k2")]),
    );
    assert_eq!(both, b"header\0x-api-key\0k1,k2");
    assert_eq!(
        keyer.key(&req("", &[])),
        KeyOutcome::NoKey(NoKey::SharedBucket)
    );
    let huge = "x".repeat(ratelimit::keyer::MAX_HEADER_KEY_BYTES + 1);
    assert_eq!(
        keyer.key(&req("", &[("x-api-key", &huge)])),
        KeyOutcome::NoKey(NoKey::SharedBucket)
    );
}

#[test]
fn validated_cookie_source_reads_the_extension_never_the_header() {
    let keyer = Keyer::builder().validated_cookie().build();
    let mut request = req("", &[("cookie", "session=from-header")]);
    assert_eq!(
        keyer.key(&request),
        KeyOutcome::NoKey(NoKey::SharedBucket),
        "the Cookie header alone is not a key"
    );
    request
        .extensions_mut()
        .insert(ValidatedCookie::new("session", "abc"));
    assert_eq!(key(&keyer, &request), b"cookie\0session\0abc");
}

#[test]
fn route_source() {
    let keyer = Keyer::builder().route().build();
    let mut request = req("", &[]);
    assert_eq!(key(&keyer, &request), b"route\0path\0/api/items");
    request
        .extensions_mut()
        .insert(RouteName::new("items.list"));
    assert_eq!(key(&keyer, &request), b"route\0name\0items.list");
}

#[test]
fn global_and_custom_sources() {
    let global = Keyer::builder().global().peer_ip().build();
    assert_eq!(key(&global, &req("192.0.2.1:1", &[])), b"global\0");
    assert_eq!(key(&global, &req("192.0.2.2:1", &[])), b"global\0");

    let custom = Keyer::builder()
        .custom(|parts| parts.uri.query().map(|q| q.as_bytes().to_vec()))
        .no_key(NoKey::Allow)
        .build();
    assert_eq!(key(&custom, &req("", &[])), b"custom\0page=2");
    let (parts, ()) = req("", &[]).into_parts();
    assert_eq!(
        custom.key_parts(&parts).key().unwrap().as_bytes(),
        b"custom\0page=2"
    );
    let no_query = Request::get("/").body(()).unwrap();
    assert_eq!(custom.key(&no_query), KeyOutcome::NoKey(NoKey::Allow));
}

#[test]
fn sources_of_different_kinds_never_collide() {
    let by_header = Keyer::builder()
        .header(HeaderName::from_static("x-k"))
        .build();
    let by_route = Keyer::builder().route().build();
    let by_custom = Keyer::builder()
        .custom(|_| Some(b"/api/items".to_vec()))
        .build();
    let request = req("", &[("x-k", "/api/items")]);
    let keys = [
        key(&by_header, &request),
        key(&by_route, &request),
        key(&by_custom, &request),
    ];
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
    assert_ne!(keys[0], keys[2]);
}

#[test]
fn composite_yields_only_when_every_part_does() {
    let keyer = Keyer::builder()
        .all([Source::ValidatedCookie, Source::Route])
        .peer_ip()
        .build();
    let mut request = req("192.0.2.1:1", &[]);
    assert_eq!(
        key(&keyer, &request),
        ip_key("192.0.2.1"),
        "no cookie: next step"
    );
    request
        .extensions_mut()
        .insert(ValidatedCookie::new("session", "abc"));
    let composite = key(&keyer, &request);
    assert!(composite.starts_with(b"all\0"));
    assert!(composite.windows(3).any(|w| w == b"abc"));
    let mut other_route = Request::get("/other").body(()).unwrap();
    other_route
        .extensions_mut()
        .insert(ValidatedCookie::new("session", "abc"));
    assert_ne!(
        key(&keyer, &other_route),
        composite,
        "cookie and route together"
    );
    assert_eq!(keyer.source_count(), 3);
}

#[test]
fn first_yielding_source_wins() {
    let keyer = Keyer::builder()
        .header(HeaderName::from_static("x-api-key"))
        .peer_ip()
        .build();
    assert_eq!(
        key(&keyer, &req("192.0.2.1:1", &[("x-api-key", "k")])),
        b"header\0x-api-key\0k"
    );
    assert_eq!(key(&keyer, &req("192.0.2.1:1", &[])), ip_key("192.0.2.1"));
}

#[test]
fn no_key_policies() {
    let request = req("", &[]);
    for policy in [
        NoKey::SharedBucket,
        NoKey::Reject(StatusCode::FORBIDDEN),
        NoKey::Allow,
    ] {
        let keyer = Keyer::builder().validated_cookie().no_key(policy).build();
        assert_eq!(keyer.key(&request), KeyOutcome::NoKey(policy));
        assert_eq!(keyer.no_key(), policy);
    }
    assert_eq!(
        Keyer::builder().build().key(&request),
        KeyOutcome::NoKey(NoKey::SharedBucket),
        "the default"
    );
    assert_eq!(
        ratelimit::Key::shared_bucket().as_bytes(),
        SHARED_BUCKET_KEY
    );
}

#[test]
fn keying_a_huge_xff_is_bounded() {
    // 1 MiB of hops: keyed (to nothing) without examining them all.
    let keyer = Keyer::builder().client_ip(nets(&["10.0.0.0/8"])).build();
    let huge = "10.0.0.9,".repeat(110_000);
    let request = req("10.0.0.1:1", &[("x-forwarded-for", &huge)]);
    let start = std::time::Instant::now();
    for _ in 0..100 {
        assert_eq!(keyer.key(&request), KeyOutcome::NoKey(NoKey::SharedBucket));
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[cfg(feature = "axum")]
#[test]
fn axum_connect_info_is_the_peer() {
    let keyer = Keyer::builder().peer_ip().build();
    let mut request = Request::new(());
    request.extensions_mut().insert(axum::extract::ConnectInfo(
        "192.0.2.9:80".parse::<SocketAddr>().unwrap(),
    ));
    assert_eq!(key(&keyer, &request), ip_key("192.0.2.9"));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn hop() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
            "10\\.[0-9]{1,2}\\.0\\.1",
            "\\[?[0-9a-f:]{2,20}\\]?(:[0-9]{1,5})?",
            "[ -~]{0,12}",
        ]
    }

    proptest! {
        /// Whatever a client writes to the left of what the trusted proxies append, the
        /// key is the address the first proxy saw.
        #[test]
        fn client_written_hops_never_change_the_key(
            spoofed in proptest::collection::vec(hop(), 0..80),
            proxies in 0usize..4,
        ) {
            let keyer = Keyer::builder().client_ip(nets(&["10.0.0.0/8"])).build();
            let mut chain: Vec<String> = spoofed.iter().map(|h| h.replace(',', "")).collect();
            chain.push("203.0.113.50".to_owned());
            chain.extend((0..proxies).map(|i| format!("10.0.0.{i}")));
            let value = chain.join(", ");
            // Only shapes the header could legally carry.
            prop_assume!(http::HeaderValue::from_str(&value).is_ok());
            let request = req("10.0.0.254:1", &[("x-forwarded-for", &value)]);
            // Within the hop and byte caps, the client hop is always found.
            prop_assert_eq!(key(&keyer, &request), ip_key("203.0.113.50"));
        }

        #[test]
        fn arbitrary_forwarded_headers_never_panic(value in "[ -~]{0,200}") {
            let keyer = Keyer::builder()
                .source(Source::ClientIp {
                    trusted: nets(&["0.0.0.0/0", "::/0"]),
                    ipv6_prefix: 64,
                    header: ProxyHeader::Forwarded,
                })
                .client_ip(nets(&["0.0.0.0/0"]))
                .build();
            let request = req("10.0.0.254:1", &[("forwarded", &value), ("x-forwarded-for", &value)]);
            let _ = keyer.key(&request);
        }
    }
}
