//! The keyer and policy configuration loader (`ratelimit::config::Config`) over arbitrary
//! TOML and JSON text.
//!
//! Input: the text of a configuration file, loaded both as TOML and as JSON.
//!
//! Invariants beyond "never panics":
//! - a loaded configuration's keyers are flat and finite (their steps' sources add up to
//!   `source_count`), and keying a request with each terminates;
//! - no policy's capacity exceeds `MAX_CAPACITY` (finding 1: a mistyped capacity aborted
//!   the process when its limiter was built); every policy of up to a million keys builds
//!   a limiter whose quota matches the policy, and a first request on it is allowed;
//! - a cookie section builds its layer;
//! - loading is deterministic (the same text gives the same keyers and policies).

#![no_main]

use std::net::SocketAddr;

use http::Request;
use libfuzzer_sys::fuzz_target;
use ratelimit::config::{Config, MAX_CAPACITY};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for load in [Config::from_toml_str, Config::from_json_str] {
        let loaded = load(text);
        let again = load(text);
        match (&loaded, &again) {
            (Ok(a), Ok(b)) => {
                let names = |c: &Config| {
                    let keyers: Vec<(String, usize)> = c
                        .keyers()
                        .map(|(n, k)| (n.to_owned(), k.source_count()))
                        .collect();
                    let policies: Vec<String> = c.policies().map(|(n, _)| n.to_owned()).collect();
                    (keyers, policies)
                };
                assert_eq!(names(a), names(b), "loading is not deterministic");
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "loading is not deterministic"),
            _ => panic!("the same text loaded once and failed once"),
        }
        let Ok(config) = loaded else {
            continue;
        };
        check(&config);
    }
});

fn check(config: &Config) {
    let mut request = Request::get("/api/v1?x=1")
        .header("x-forwarded-for", "198.51.100.1, 10.0.0.2")
        .header("forwarded", "for=198.51.100.1")
        .header("x-api-key", "k")
        .body(())
        .expect("a valid request");
    request.extensions_mut().insert(
        "10.0.0.1:443"
            .parse::<SocketAddr>()
            .expect("a literal address"),
    );

    for (name, keyer) in config.keyers() {
        assert!(config.keyer(name).is_some());
        let sources: usize = keyer.steps().iter().map(|s| s.source_count()).sum();
        assert_eq!(sources, keyer.source_count());
        let _ = keyer.key(&request);
        let _ = keyer.no_key();
    }
    for (name, policy) in config.policies() {
        assert!(config.policy(name).is_some());
        assert!(policy.capacity().get() <= MAX_CAPACITY);
        let limiter = policy.limiter();
        assert_eq!(limiter.quota(), policy.quota());
        let _ = (policy.capacity(), policy.overflow(), policy.backend());
        assert!(
            limiter.check(b"first").is_ok(),
            "a fresh limiter refused its first request"
        );
    }
    if let Some(cookie) = config.cookie() {
        let _ = cookie.layer(|_name: &str, value: &str| !value.is_empty());
        assert!(!cookie.name().is_empty());
    }
}
