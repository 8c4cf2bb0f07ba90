//! Cloudflare's 2024-06-20 rate-limit outage, replayed against this crate.
//!
//! A rule keyed requests by a validated cookie and fell back to a "parent" key generator that,
//! through a misused internal API, was itself; two cookie validators disagreed about
//! requests carrying several cookies, and the fallback looped forever. Keying by IP alone
//! would instead have limited everyone behind one NAT address as one user.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{Request, Response, StatusCode};
use ratelimit::clock::FakeClock;
use ratelimit::config::{Config, ConfigError};
use ratelimit::cookie::{CookieDecision, ValidateCookieLayer, ValidatedCookie};
use ratelimit::keyer::{KeyOutcome, Keyer, NoKey};
use ratelimit::{Limiter, Quota};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const VALID: &str = "sig-ok.user-7";

/// Every permutation of `items` (Heap's algorithm, iterative).
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    let mut items = items.to_vec();
    let mut c = vec![0; items.len()];
    let mut out = vec![items.clone()];
    let mut i = 0;
    while i < items.len() {
        if c[i] < i {
            if i % 2 == 0 {
                items.swap(0, i);
            } else {
                items.swap(c[i], i);
            }
            out.push(items.clone());
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    out
}

/// The requests carrying `cookies` in that order, in one `Cookie` header or split into two
/// at every position.
fn requests_for(cookies: &[&str]) -> Vec<Request<()>> {
    let mut requests = Vec::new();
    for split in 0..cookies.len() {
        let mut builder = Request::get("/feed");
        let (first, second) = cookies.split_at(split);
        for part in [first, second] {
            if !part.is_empty() {
                builder = builder.header("cookie", part.join("; "));
            }
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert("198.51.100.20:40000".parse::<SocketAddr>().unwrap());
        requests.push(request);
    }
    requests
}

#[tokio::test]
async fn incident_mixed_valid_and_invalid_cookies_are_keyed_deterministically() {
    let judged = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&judged);
    let layer = ValidateCookieLayer::new("session", move |name: &str, value: &str| {
        counter.fetch_add(1, Ordering::Relaxed);
        name == "session" && value == VALID
    })
    .require_valid(StatusCode::FORBIDDEN);
    let keyer = Arc::new(
        Keyer::builder()
            .validated_cookie()
            .peer_ip()
            .no_key(NoKey::Reject(StatusCode::FORBIDDEN))
            .build(),
    );
    let handler_keyer = Arc::clone(&keyer);
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(move |request: Request<()>| {
            let keyer = Arc::clone(&handler_keyer);
            async move {
                // What the keyer and the application each see.
                let key = match keyer.key(&request) {
                    KeyOutcome::Key(key) => key.as_bytes().to_vec(),
                    KeyOutcome::NoKey(policy) => format!("{policy:?}").into_bytes(),
                };
                let seen = request
                    .extensions()
                    .get::<ValidatedCookie>()
                    .map(|c| c.value().to_owned())
                    .unwrap_or_default();
                Ok::<_, Infallible>(Response::new(format!(
                    "{}|{seen}",
                    String::from_utf8_lossy(&key)
                )))
            }
        }));

    // One valid cookie and three invalid ones of the same name: forged, empty, and a
    // valid-looking value with the wrong signature; plus an unrelated cookie.
    let cookies = [
        "session=forged",
        &format!("session={VALID}"),
        "session=",
        "session=sig-bad.user-7",
    ];
    let start = Instant::now();
    let mut answers = HashSet::new();
    let mut requests = 0;
    for order in permutations(&cookies) {
        let mut with_other = order.clone();
        with_other.push("theme=dark");
        for cookies in [order, with_other] {
            for request in requests_for(&cookies) {
                requests += 1;
                let response = service.clone().oneshot(request).await.unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "the gate admits {cookies:?}"
                );
                answers.insert(response.into_body());
            }
        }
    }
    assert_eq!(
        requests,
        24 * (4 + 5),
        "every ordering, in one header or split in two"
    );
    let expected = format!("cookie\0session\0{VALID}|{VALID}");
    assert_eq!(
        answers.into_iter().collect::<Vec<_>>(),
        [expected],
        "gate, keyer and handler agree on one cookie for every ordering"
    );
    assert_eq!(
        layer.ambiguous(),
        requests,
        "each request had four candidates"
    );
    assert!(
        judged.load(Ordering::Relaxed) <= 4 * requests as usize,
        "each candidate is judged at most once"
    );
    assert!(start.elapsed() < Duration::from_secs(5), "bounded time");

    // Without the valid cookie, every ordering is refused by the gate alike.
    let invalid = ["session=forged", "session=", "session=sig-bad.user-7"];
    for order in permutations(&invalid) {
        for request in requests_for(&order) {
            let response = service.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(response.into_body(), "", "the handler never ran");
        }
    }

    // Without the gate, the keyer sees the same decision: by IP for every ordering.
    let ungated = ValidateCookieLayer::new("session", |_: &str, v: &str| v == VALID);
    for order in permutations(&invalid) {
        for mut request in requests_for(&order) {
            assert_eq!(
                ungated.apply(&mut request),
                CookieDecision::Invalid { candidates: 3 }
            );
            let key = keyer.key(&request);
            assert_eq!(key.key().unwrap().as_bytes(), b"ip\0\xc6\x33\x64\x14");
        }
    }
}

#[test]
fn incident_self_referencing_fallback_is_refused_at_load() {
    let start = Instant::now();
    // Cloudflare's rule: key by the validated cookie, else the "parent" generator, which
    // was the rule itself.
    let err = Config::from_toml_str(
        r#"
        [keyers.itself]
        sources = [{ type = "cookie" }]
        fallback = "itself"
        no_key = { reject = 403 }
        "#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::FallbackCycle {
            cycle: vec!["itself".into(), "itself".into()]
        }
    );
    assert!(err.to_string().contains("itself -> itself"), "{err}");

    let err = Config::from_json_str(
        r#"{"keyers": {
            "cookie": {"sources": [{"type": "cookie"}], "fallback": "header"},
            "header": {"sources": [{"type": "header", "name": "x-client"}], "fallback": "ip"},
            "ip": {"sources": [{"type": "peer-ip"}], "fallback": "cookie"},
            "ok": {"sources": [{"type": "global"}]}
        }}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cookie -> header -> ip -> cookie"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "refused, not looping"
    );
}

#[tokio::test]
async fn incident_nat_users_with_their_own_cookies_are_not_limited_as_one() {
    const USERS: usize = 1000;
    const NAT: &str = "203.0.113.1";
    let clock = FakeClock::new();
    let limiter = Arc::new(
        Limiter::new(
            Quota::per_minute(NonZeroU32::new(5).unwrap()),
            NonZeroUsize::new(4 * USERS).unwrap(),
        )
        .with_clock(clock.clone()),
    );
    let keyer = Arc::new(Keyer::builder().validated_cookie().peer_ip().build());
    let mut service = ServiceBuilder::new()
        .layer(ValidateCookieLayer::new(
            "session",
            |_: &str, value: &str| value.starts_with("signed:"),
        ))
        .service(service_fn(move |request: Request<()>| {
            let (keyer, limiter) = (Arc::clone(&keyer), Arc::clone(&limiter));
            async move {
                let status = match keyer.key(&request) {
                    KeyOutcome::Key(key) => match limiter.check(key.as_bytes()) {
                        Ok(_) => StatusCode::OK,
                        Err(_) => StatusCode::TOO_MANY_REQUESTS,
                    },
                    KeyOutcome::NoKey(_) => StatusCode::FORBIDDEN,
                };
                let mut response = Response::new(String::new());
                *response.status_mut() = status;
                Ok::<_, Infallible>(response)
            }
        }));
    let request = |cookie: Option<String>| {
        let mut builder = Request::get("/");
        if let Some(cookie) = cookie {
            builder = builder.header("cookie", cookie);
        }
        let mut request = builder.body(()).unwrap();
        request
            .extensions_mut()
            .insert(SocketAddr::new(NAT.parse().unwrap(), 1024));
        request
    };
    let mut send = async |cookie: Option<String>| -> StatusCode {
        service
            .ready()
            .await
            .unwrap()
            .call(request(cookie))
            .await
            .unwrap()
            .status()
    };

    // Every user's first requests are allowed, all from one address.
    for round in 0..3 {
        for user in 0..USERS {
            let status = send(Some(format!("session=signed:user-{user}"))).await;
            assert_eq!(status, StatusCode::OK, "user {user}, request {round}");
        }
    }

    // A flood from the same address without a cookie, or with forged ones, is one key.
    let mut allowed = 0;
    for i in 0..500 {
        let cookie = (i % 2 == 0).then(|| format!("session=forged-{i}"));
        if send(cookie).await == StatusCode::OK {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "the burst of the NAT address, then limited");

    // The users are untouched by the flood: two requests left each.
    clock.advance(Duration::from_secs(1));
    for user in 0..USERS {
        for _ in 0..2 {
            let status = send(Some(format!("session=signed:user-{user}"))).await;
            assert_eq!(status, StatusCode::OK, "user {user}");
        }
    }
    assert_eq!(
        send(Some("session=signed:user-0".to_owned())).await,
        StatusCode::TOO_MANY_REQUESTS,
        "each user is limited on their own"
    );
}
