//! Loading configurations: TOML and JSON, fallback flattening, and refusals.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use http::{Request, StatusCode};
use proptest::prelude::*;
use ratelimit::config::{BackendKind, Config, ConfigError, MAX_FALLBACK_CHAIN};
use ratelimit::cookie::ValidatedCookie;
use ratelimit::keyer::{KeyOutcome, NoKey, Source, Step};
use ratelimit::{Overflow, Quota};

const TOML: &str = r#"
[cookie]
name = "session"
max_bytes = 4096
require_valid = 401

[policies.api]
per_minute = 60
burst = 10
capacity = 100_000
overflow = "shared-bucket"
backend = "memory"

[policies.login]
per_hour = 20
capacity = 10_000
overflow = "reject"

[keyers.session]
sources = [{ type = "all", of = [{ type = "cookie" }, { type = "route" }] }]
fallback = "client"

[keyers.client]
sources = [
    { type = "client-ip", trusted = ["10.0.0.0/8", "192.168.1.1"], ipv6_prefix = 56 },
    { type = "header", name = "X-Api-Key" },
]
fallback = "peer"
no_key = { reject = 403 }

[keyers.peer]
sources = [{ type = "peer-ip" }]
no_key = "allow"
"#;

const JSON: &str = r#"{
  "policies": {
    "api": {"per_second": 5, "capacity": 1000}
  },
  "keyers": {
    "forwarded": {
      "sources": [{"type": "client-ip", "trusted": ["::1/128"], "header": "forwarded"}],
      "fallback": "global"
    },
    "global": {"sources": [{"type": "global"}], "no_key": "shared-bucket"}
  }
}"#;

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn toml_example_loads() {
    let config = Config::from_toml_str(TOML).unwrap();

    let api = config.policy("api").unwrap();
    assert_eq!(api.quota().replenish_interval(), Duration::from_secs(1));
    assert_eq!(api.quota().burst().get(), 10);
    assert_eq!(api.capacity(), nz(100_000));
    assert_eq!(api.overflow(), Overflow::SharedBucket);
    assert_eq!(api.backend(), BackendKind::Memory);
    let login = config.policy("login").unwrap();
    assert_eq!(login.quota(), Quota::per_hour(20.try_into().unwrap()));
    assert_eq!(login.overflow(), Overflow::Reject);
    assert!(config.policy("nope").is_none());

    let limiter = api.limiter();
    assert_eq!(limiter.stats().capacity, 100_000);
    for _ in 0..10 {
        assert!(limiter.check(b"k").is_ok());
    }
    assert!(limiter.check(b"k").is_err(), "burst of 10");

    let session = config.keyer("session").unwrap();
    assert_eq!(
        session.steps().len(),
        4,
        "composite, client-ip, header, peer-ip"
    );
    assert_eq!(session.source_count(), 5);
    assert!(matches!(&session.steps()[0], Step::All(parts) if parts.len() == 2));
    assert!(matches!(
        &session.steps()[1],
        Step::One(Source::ClientIp { trusted, ipv6_prefix: 56, .. }) if trusted.len() == 2
    ));
    assert_eq!(
        session.no_key(),
        NoKey::Reject(StatusCode::FORBIDDEN),
        "the nearest no_key along the chain"
    );
    assert_eq!(config.keyer("peer").unwrap().no_key(), NoKey::Allow);
    assert_eq!(config.keyers().count(), 3);
    assert_eq!(config.policies().count(), 2);

    // The flattened keyer works: cookie + route first, then the forwarded client, ...
    let mut request = Request::get("/x").body(()).unwrap();
    request
        .extensions_mut()
        .insert("10.0.0.1:1".parse::<SocketAddr>().unwrap());
    request
        .headers_mut()
        .insert("x-forwarded-for", "203.0.113.5".parse().unwrap());
    let by_ip = session.key(&request).key().unwrap().as_bytes().to_vec();
    assert!(by_ip.starts_with(b"ip\0"));
    request
        .extensions_mut()
        .insert(ValidatedCookie::new("s", "v"));
    let by_cookie = session.key(&request).key().unwrap().as_bytes().to_vec();
    assert!(by_cookie.starts_with(b"all\0"));
    // ... and with nothing to go on, `client`'s policy.
    let bare = Request::get("/x").body(()).unwrap();
    assert_eq!(
        session.key(&bare),
        KeyOutcome::NoKey(NoKey::Reject(StatusCode::FORBIDDEN))
    );
}

#[test]
fn json_example_loads() {
    let config = Config::from_json_str(JSON).unwrap();
    assert_eq!(
        config.policy("api").unwrap().quota().replenish_interval(),
        Duration::from_millis(200)
    );
    assert_eq!(config.policy("api").unwrap().overflow(), Overflow::EvictLru);
    let keyer = config.keyer("forwarded").unwrap();
    assert_eq!(keyer.source_count(), 2);
    let mut request = Request::get("/").body(()).unwrap();
    request
        .extensions_mut()
        .insert("[::1]:1".parse::<SocketAddr>().unwrap());
    request
        .headers_mut()
        .insert("forwarded", r#"for="[2001:db8::1]:80""#.parse().unwrap());
    let key = keyer.key(&request).key().unwrap().as_bytes().to_vec();
    assert!(key.starts_with(b"ip\0\x20\x01\x0d\xb8"), "{key:?}");
    let no_peer = Request::get("/").body(()).unwrap();
    assert_eq!(keyer.key(&no_peer).key().unwrap().as_bytes(), b"global\0");
}

fn err_toml(text: &str) -> ConfigError {
    Config::from_toml_str(text).unwrap_err()
}

#[test]
fn cycles_are_named_whole() {
    let err = err_toml(
        r#"
        [keyers.a]
        fallback = "b"
        [keyers.b]
        fallback = "a"
        "#,
    );
    assert_eq!(
        err,
        ConfigError::FallbackCycle {
            cycle: vec!["a".into(), "b".into(), "a".into()]
        }
    );
    assert_eq!(err.to_string(), "keyer fallbacks form a cycle: a -> b -> a");

    // A cycle reached from outside is named from where it starts.
    let err = err_toml(
        r#"
        [keyers.0-entry]
        fallback = "x"
        [keyers.x]
        fallback = "y"
        [keyers.y]
        fallback = "x"
        "#,
    );
    assert_eq!(err.to_string(), "keyer fallbacks form a cycle: x -> y -> x");
}

#[test]
fn unknown_fallbacks_are_named() {
    let err = err_toml(
        r#"
        [keyers.a]
        sources = [{ type = "cookie" }]
        fallback = "ghost"
        "#,
    );
    assert_eq!(
        err,
        ConfigError::UnknownFallback {
            keyer: "a".into(),
            fallback: "ghost".into()
        }
    );
    assert!(err.to_string().contains("`ghost`"));
}

#[test]
fn chains_longer_than_the_maximum_are_refused() {
    let chain = |n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "[keyers.k{i}]\nsources = [{{ type = \"route\" }}]\n"
            ));
            if i + 1 < n {
                text.push_str(&format!("fallback = \"k{}\"\n", i + 1));
            }
        }
        text
    };
    let config = Config::from_toml_str(&chain(MAX_FALLBACK_CHAIN)).unwrap();
    assert_eq!(
        config.keyer("k0").unwrap().source_count(),
        MAX_FALLBACK_CHAIN
    );
    match err_toml(&chain(MAX_FALLBACK_CHAIN + 1)) {
        ConfigError::FallbackTooDeep { keyer, chain, max } => {
            assert_eq!(keyer, "k0");
            assert_eq!(chain.len(), MAX_FALLBACK_CHAIN + 1);
            assert_eq!(max, MAX_FALLBACK_CHAIN);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn invalid_values_are_refused() {
    let cases: &[(&str, &str)] = &[
        (
            "[keyers.a]\nsources = [{ type = \"header\", name = \"bad header\" }]",
            "keyer `a`, source 0: `bad header` is not a header name",
        ),
        (
            "[keyers.a]\nsources = [{ type = \"route\" }, { type = \"peer-ip\", ipv6_prefix = 129 }]",
            "keyer `a`, source 1: ipv6_prefix 129 is over 128",
        ),
        (
            "[keyers.a]\nsources = [{ type = \"client-ip\", trusted = [\"10.0.0.0/33\"] }]",
            "keyer `a`, source 0: `10.0.0.0/33` is not an IP network or address",
        ),
        (
            "[keyers.a]\nno_key = { reject = 1000 }",
            "keyer `a`: `1000` is not an HTTP status code",
        ),
        (
            "[policies.p]\nper_second = 1\nper_minute = 1\ncapacity = 1",
            "policy `p`: set exactly one of per_second, per_minute and per_hour",
        ),
        (
            "[policies.p]\ncapacity = 1",
            "policy `p`: set exactly one of per_second, per_minute and per_hour",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(&err_toml(text).to_string(), message, "{text}");
    }
    for text in [
        "[policies.p]\nper_second = 0\ncapacity = 1",
        "[policies.p]\nper_second = 1\ncapacity = 0",
        "[policies.p]\nper_second = 1\ncapacity = 1\nbackend = \"carrier-pigeon\"",
        "[keyers.a]\nsources = [{ type = \"telepathy\" }]",
        "[keyers.a]\nsources = [{ type = \"all\", of = [{ type = \"all\", of = [] }] }]",
        "[keyers.a]\nfalback = \"b\"",
        "[keyers.a]\nsources = [{ type = \"cookie\", name = \"session\" }]",
        "[keyers.a]\nsources = [{ type = \"all\", of = [{ type = \"route\", path = \"/x\" }] }]",
        "[keyers.a]\nsources = [{ type = \"peer-ip\", ipv6_prefx = 48 }]",
        "not toml at all [",
    ] {
        assert!(
            matches!(err_toml(text), ConfigError::Parse { format: "TOML", .. }),
            "{text}"
        );
    }
    assert!(matches!(
        Config::from_json_str("{\"keyers\": 1}"),
        Err(ConfigError::Parse { format: "JSON", .. })
    ));
}

/// A random keyer graph: for each of `n` keyers, some sources and maybe a fallback (which
/// may be itself, another keyer, or an undefined name).
fn graph() -> impl Strategy<Value = Vec<(usize, Option<usize>)>> {
    (1usize..12).prop_flat_map(|n| {
        proptest::collection::vec((0usize..4, proptest::option::weighted(0.8, 0..n + 1)), n)
    })
}

proptest! {
    #[test]
    fn fallback_graphs_load_bounded_or_are_refused(graph in graph()) {
        let n = graph.len();
        let mut keyers = serde_json::Map::new();
        for (i, (sources, fallback)) in graph.iter().enumerate() {
            let mut keyer = serde_json::Map::new();
            let list: Vec<_> = (0..*sources).map(|_| serde_json::json!({"type": "route"})).collect();
            keyer.insert("sources".into(), list.into());
            if let Some(f) = fallback {
                // `n` names no keyer.
                keyer.insert("fallback".into(), format!("k{f}").into());
            }
            keyers.insert(format!("k{i}"), keyer.into());
        }
        let text = serde_json::json!({"keyers": keyers}).to_string();
        let max_sources = graph.iter().map(|(s, _)| *s).max().unwrap_or(0);

        // The reference: follow each chain, at most n + 1 steps.
        let mut expected = BTreeMap::new();
        let mut refusal = None;
        for start in 0..n {
            let mut seen = vec![start];
            let mut current = start;
            let outcome = loop {
                match graph[current].1 {
                    None => break Ok(seen.iter().map(|&k| graph[k].0).sum::<usize>()),
                    Some(next) if next == n => break Err("unknown"),
                    Some(next) if seen.contains(&next) => break Err("cycle"),
                    Some(next) => { seen.push(next); current = next; }
                }
            };
            let outcome = match outcome {
                Ok(_) if seen.len() > MAX_FALLBACK_CHAIN => Err("depth"),
                other => other,
            };
            match outcome {
                Ok(count) => { expected.insert(format!("k{start}"), count); }
                Err(kind) => { refusal.get_or_insert(kind); }
            }
        }

        match Config::from_json_str(&text) {
            Ok(config) => {
                prop_assert!(refusal.is_none());
                for (name, keyer) in config.keyers() {
                    prop_assert!(keyer.source_count() <= MAX_FALLBACK_CHAIN * max_sources);
                    prop_assert_eq!(keyer.source_count(), expected[name]);
                }
            }
            Err(err) => {
                prop_assert!(refusal.is_some(), "refused a valid graph: {}", err);
                match &err {
                    ConfigError::FallbackCycle { cycle } => {
                        prop_assert!(cycle.len() >= 2);
                        prop_assert_eq!(cycle.first(), cycle.last());
                        prop_assert!(err.to_string().contains(&cycle.join(" -> ")));
                    }
                    ConfigError::UnknownFallback { fallback, .. } => {
                        prop_assert_eq!(fallback, &format!("k{n}"));
                    }
                    ConfigError::FallbackTooDeep { chain, .. } => {
                        prop_assert!(chain.len() > MAX_FALLBACK_CHAIN);
                    }
                    other => prop_assert!(false, "unexpected error {}", other),
                }
            }
        }
    }
}

#[tokio::test]
async fn the_cookie_section_configures_the_one_validator() {
    use tower::{ServiceBuilder, ServiceExt, service_fn};

    let config = Config::from_toml_str(TOML).unwrap();
    let cookie = config.cookie().unwrap();
    assert_eq!(cookie.name(), "session");
    let layer = cookie.layer(|_: &str, value: &str| value == "good");
    let service = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("in")))
        }));
    let with = |cookie: &str| Request::get("/").header("cookie", cookie).body(()).unwrap();
    let ok = service.clone().oneshot(with("session=good")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = service.clone().oneshot(with("session=bad")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let big = format!("session=good; pad={}", "x".repeat(5000));
    let too_big = service.oneshot(with(&big)).await.unwrap();
    assert_eq!(
        too_big.status(),
        StatusCode::UNAUTHORIZED,
        "max_bytes = 4096"
    );

    assert!(Config::from_json_str("{}").unwrap().cookie().is_none());
    assert_eq!(
        err_toml("[cookie]\nname = \"a=b\"").to_string(),
        "cookie: `a=b` is not a cookie name"
    );
    assert_eq!(
        err_toml("[cookie]\nname = \"s\"\nrequire_valid = 99").to_string(),
        "cookie: `99` is not an HTTP status code"
    );
}
