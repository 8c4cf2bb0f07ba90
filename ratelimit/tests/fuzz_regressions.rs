//! Inputs the fuzz targets in `fuzz/` found crashing, one test per finding, named after it.
//! The crashing inputs themselves are kept in `fuzz/regressions/<target>/`.

use ratelimit::config::{Config, ConfigError, MAX_CAPACITY};

/// `ratelimit_config`: `capacity = 100_00012_000` loaded, and building the policy's limiter
/// tried to allocate its table for ten billion keys and aborted the process. Absurd
/// capacities are now refused when the configuration is loaded.
#[test]
fn fuzz_ratelimit_config_huge_capacity_is_refused_at_load() {
    let text = |capacity: &str| {
        format!("[policies.api]\nper_minute = 60\nburst = 10\ncapacity = {capacity}\n")
    };
    match Config::from_toml_str(&text("100_00012_000")) {
        Err(ConfigError::InvalidPolicy { policy, reason }) => {
            assert_eq!(policy, "api");
            assert_eq!(reason, "capacity 10000012000 is more than 100000000 keys");
        }
        other => panic!("expected InvalidPolicy, got {other:?}"),
    }
    let json = r#"{"policies": {"api": {"per_second": 1, "capacity": 18446744073709551615}}}"#;
    assert!(matches!(
        Config::from_json_str(json),
        Err(ConfigError::InvalidPolicy { .. })
    ));
    // The limit itself is accepted, and its limiter is cheap to build: tables grow with the
    // keys seen.
    let config = Config::from_toml_str(&text(&MAX_CAPACITY.to_string())).unwrap();
    let policy = config.policy("api").unwrap();
    assert_eq!(policy.capacity().get(), MAX_CAPACITY);
    let limiter = policy.limiter();
    for key in 0u32..1_000 {
        assert!(limiter.check(&key.to_be_bytes()).is_ok());
    }
    assert_eq!(limiter.len(), 1_000);
}
