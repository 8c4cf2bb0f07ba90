//! The migration through its tower layer: choosing among duplicates, moving values,
//! response cookies, limits and bad input.

use std::convert::Infallible;
use std::time::Duration;

use cookie_migrate::{
    CookieError, CookieMigration, CookieMigrationLayer, ErrorPolicy, Legacy, MigrationOutcome,
    Scope, ValueGrammar,
};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tower::{Service, ServiceExt, service_fn};

/// What the inner service saw.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    cookie: Vec<String>,
    outcome: Option<MigrationOutcome>,
}

const LIVE: &str = "live-0123456789abcdef";
const STALE: &str = "stale-0123456789abcdef";
const OLD_DELETE_DOMAIN: &str =
    "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=base.localhost";
const OLD_DELETE_HOST: &str = "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/";

fn builder() -> cookie_migrate::CookieMigrationBuilder {
    CookieMigration::builder("__Host-sid")
        .validator(|value: &str| value.starts_with("live-"))
        .legacy(
            Legacy::named("sid")
                .scope(Scope::domain("base.localhost"))
                .scope(Scope::host_only()),
        )
}

fn migration() -> CookieMigration {
    builder().build().unwrap()
}

/// Sends `cookie_headers` through the layer to an inner service that echoes what it saw
/// and, when `inner_sets` is given, sets that cookie itself.
async fn send_with(
    migration: &CookieMigration,
    cookie_headers: &[&str],
    inner_sets: Option<&'static str>,
) -> (Response<String>, Seen) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let inner = {
        let seen = seen.clone();
        service_fn(move |request: Request<()>| {
            let seen = seen.clone();
            async move {
                *seen.lock().unwrap() = Some(Seen {
                    cookie: request
                        .headers()
                        .get_all(COOKIE)
                        .iter()
                        .map(|v| v.to_str().unwrap().to_owned())
                        .collect(),
                    outcome: request.extensions().get::<MigrationOutcome>().cloned(),
                });
                let mut response = Response::new(String::new());
                if let Some(set) = inner_sets {
                    response
                        .headers_mut()
                        .append(SET_COOKIE, HeaderValue::from_static(set));
                }
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut request = Request::get("/").body(()).unwrap();
    for header in cookie_headers {
        request
            .headers_mut()
            .append(COOKIE, HeaderValue::from_str(header).unwrap());
    }
    let response = CookieMigrationLayer::new(migration.clone())
        .layer(inner)
        .oneshot(request)
        .await
        .unwrap();
    let seen = seen.lock().unwrap().take().unwrap_or(Seen {
        cookie: Vec::new(),
        outcome: None,
    });
    (response, seen)
}

async fn send(migration: &CookieMigration, cookie_headers: &[&str]) -> (Response<String>, Seen) {
    send_with(migration, cookie_headers, None).await
}

fn set_cookies(response: &Response<String>) -> Vec<&str> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

use tower::Layer as _;

#[tokio::test]
async fn a_lone_current_cookie_passes_untouched() {
    let migration = migration();
    let header = format!("a=1; __Host-sid={LIVE}; b=2");
    let (response, seen) = send(&migration, &[&header]).await;
    assert_eq!(seen.cookie, [header]);
    assert_eq!(seen.outcome, Some(MigrationOutcome::Current));
    assert!(set_cookies(&response).is_empty());
    assert_eq!(migration.stats().current, 1);
}

#[tokio::test]
async fn requests_without_managed_cookies_are_untouched() {
    let migration = migration();
    let (response, seen) = send(&migration, &["a=1", "b=2"]).await;
    assert_eq!(
        seen.cookie,
        ["a=1", "b=2"],
        "several headers kept as they were"
    );
    assert_eq!(
        seen.outcome,
        Some(MigrationOutcome::NoValidCookie { candidates: 0 })
    );
    assert!(set_cookies(&response).is_empty());
    let (_, seen) = send(&migration, &[]).await;
    assert!(seen.cookie.is_empty());
}

#[tokio::test]
async fn a_legacy_value_moves_to_the_current_name() {
    let migration = migration();
    let header = format!("theme=dark; sid={LIVE}; lang=en");
    let (response, seen) = send(&migration, &[&header]).await;
    assert_eq!(
        seen.cookie,
        [format!("__Host-sid={LIVE}; theme=dark; lang=en")]
    );
    assert_eq!(
        seen.outcome,
        Some(MigrationOutcome::MigratedFrom {
            name: "sid".into(),
            candidates: 1
        })
    );
    assert_eq!(
        set_cookies(&response),
        [
            &*format!("__Host-sid={LIVE}; Path=/; Secure; HttpOnly; SameSite=Lax"),
            OLD_DELETE_DOMAIN,
            OLD_DELETE_HOST,
        ]
    );
    let stats = migration.stats();
    assert_eq!((stats.migrated, stats.deletions_sent), (1, 2));
}

#[tokio::test]
async fn the_current_cookie_beats_a_valid_legacy_one_and_the_legacy_one_is_deleted() {
    let migration = migration();
    let header = format!("sid=live-legacy; __Host-sid={LIVE}");
    let (response, seen) = send(&migration, &[&header]).await;
    assert_eq!(seen.cookie, [format!("__Host-sid={LIVE}")]);
    assert_eq!(
        seen.outcome,
        Some(MigrationOutcome::DuplicatesResolved { candidates: 2 })
    );
    assert_eq!(set_cookies(&response), [OLD_DELETE_DOMAIN, OLD_DELETE_HOST]);
}

#[tokio::test]
async fn duplicates_are_resolved_by_validity_in_either_browser_order() {
    let migration = migration();
    // Chrome and Firefox: the older (stale, Domain) cookie first; Safari: the newer first.
    for header in [
        format!("sid={STALE}; sid={LIVE}"),
        format!("sid={LIVE}; sid={STALE}"),
    ] {
        let (response, seen) = send(&migration, &[&header]).await;
        assert_eq!(seen.cookie, [format!("__Host-sid={LIVE}")], "{header}");
        assert_eq!(set_cookies(&response).len(), 3);
    }
    assert_eq!(
        migration.stats().rejected_candidates,
        1,
        "the stale one judged once"
    );
}

#[tokio::test]
async fn no_valid_cookie_strips_every_managed_one_and_deletes_nothing() {
    let migration = migration();
    let header = format!("sid={STALE}; x=1; __Host-sid=forged");
    let (response, seen) = send(&migration, &[&header]).await;
    assert_eq!(seen.cookie, ["x=1"]);
    assert_eq!(
        seen.outcome,
        Some(MigrationOutcome::NoValidCookie { candidates: 2 })
    );
    assert!(
        set_cookies(&response).is_empty(),
        "nothing valid is deleted"
    );
    let (_, seen) = send(&migration, &[&format!("sid={STALE}")]).await;
    assert!(seen.cookie.is_empty(), "an empty Cookie header is removed");
}

#[tokio::test]
async fn the_inner_service_wins() {
    let migration = migration();
    let header = format!("sid={LIVE}");
    let (response, _) = send_with(
        &migration,
        &[&header],
        Some("__Host-sid=fresh; Path=/; Secure"),
    )
    .await;
    assert_eq!(
        set_cookies(&response),
        [
            "__Host-sid=fresh; Path=/; Secure",
            OLD_DELETE_DOMAIN,
            OLD_DELETE_HOST
        ]
    );
    // A code path still setting the legacy name keeps its cookie: no deletion for it.
    let (response, _) = send_with(&migration, &[&header], Some("sid=other; Path=/")).await;
    let set = set_cookies(&response);
    assert_eq!(set.len(), 2);
    assert!(set[1].starts_with("__Host-sid="));
}

#[tokio::test]
async fn http2_cookie_headers_are_read_together() {
    let migration = migration();
    let first = format!("sid={STALE}; a=1");
    let second = format!("b=2; sid={LIVE}");
    let (_, seen) = send(&migration, &[&first, &second]).await;
    assert_eq!(seen.cookie, [format!("__Host-sid={LIVE}; a=1; b=2")]);
}

#[tokio::test]
async fn stale_scopes_of_the_current_name_are_deleted_and_the_value_pinned() {
    // The incident's own fix: `sid` stays, but it moves from Domain to host-only.
    let migration = CookieMigration::builder("sid")
        .secure(false)
        .validator(|value: &str| value.starts_with("live-"))
        .stale_scope(Scope::domain("base.localhost"))
        .build()
        .unwrap();
    for header in [
        format!("sid={STALE}; sid={LIVE}"),
        format!("sid={LIVE}; sid={STALE}"),
    ] {
        let (response, seen) = send(&migration, &[&header]).await;
        assert_eq!(seen.cookie, [format!("sid={LIVE}")]);
        assert_eq!(
            set_cookies(&response),
            [
                &*format!("sid={LIVE}; Path=/; HttpOnly; SameSite=Lax"),
                OLD_DELETE_DOMAIN
            ]
        );
    }
}

#[tokio::test]
async fn transforms_re_sign_legacy_values_and_can_refuse_them() {
    let migration = CookieMigration::builder("__Host-sid")
        .validator(|value: &str| value.ends_with(".v2"))
        .legacy(
            Legacy::named("sid")
                .scope(Scope::host_only())
                .transform(|value: &str| value.strip_suffix(".v1").map(|id| format!("{id}.v2"))),
        )
        .build()
        .unwrap();
    let (response, seen) = send(&migration, &["sid=abc.v0; sid=abc.v1"]).await;
    assert_eq!(seen.cookie, ["__Host-sid=abc.v2"]);
    assert!(set_cookies(&response)[0].starts_with("__Host-sid=abc.v2;"));
}

#[tokio::test]
async fn legacy_cookies_can_be_kept_in_the_request() {
    let migration = builder().keep_legacy_in_request(true).build().unwrap();
    let header = format!("sid={LIVE}; a=1");
    let (_, seen) = send(&migration, &[&header]).await;
    assert_eq!(seen.cookie, [format!("__Host-sid={LIVE}; sid={LIVE}; a=1")]);
}

#[tokio::test]
async fn an_oversized_migrated_cookie_is_not_persisted_and_nothing_is_deleted() {
    let migration = CookieMigration::builder("__Host-sid")
        .max_header_bytes(64 * 1024)
        .legacy(Legacy::named("sid").scope(Scope::host_only()))
        .build()
        .unwrap();
    let header = format!("sid={}", "v".repeat(4090));
    let (response, seen) = send(&migration, &[&header]).await;
    assert_eq!(seen.cookie.len(), 1);
    assert!(
        seen.cookie[0].starts_with("__Host-sid=vvv"),
        "the request still gets it"
    );
    assert!(
        set_cookies(&response).is_empty(),
        "the legacy cookie is kept"
    );
    assert_eq!(migration.stats().set_cookie_too_large, 1);
}

#[tokio::test]
async fn oversized_headers_are_rejected_or_stripped_by_policy() {
    let migration = migration();
    let big = format!("sid={LIVE}; pad={}", "x".repeat(9000));
    let (response, seen) = send(&migration, &[&big]).await;
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    assert_eq!(seen.outcome, None, "the inner service was not called");
    assert_eq!(migration.stats().header_too_large, 1);

    let stripping = builder()
        .on_error(ErrorPolicy::StripManaged)
        .build()
        .unwrap();
    let (response, seen) = send(&stripping, &[&big]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.cookie, [format!("pad={}", "x".repeat(9000))]);
    assert_eq!(
        seen.outcome,
        Some(MigrationOutcome::Unprocessed(CookieError::HeaderTooLarge {
            len: big.len(),
            max: 8192
        }))
    );
}

#[tokio::test]
async fn too_many_managed_cookies_are_rejected_or_stripped() {
    let header = vec![format!("sid={STALE}"); 17].join("; ") + &format!("; sid={LIVE}; keep=1");
    let migration = builder().max_header_bytes(64 * 1024).build().unwrap();
    let (response, _) = send(&migration, &[&header]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let stripping = builder()
        .max_header_bytes(64 * 1024)
        .on_error(ErrorPolicy::StripManaged)
        .build()
        .unwrap();
    let (_, seen) = send(&stripping, &[&header]).await;
    assert_eq!(seen.cookie, ["keep=1"]);
}

#[tokio::test]
async fn a_thousand_requests_agree_with_the_stats() {
    let migration = migration();
    let mut service =
        CookieMigrationLayer::new(migration.clone()).layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    for i in 0..1000 {
        let header = if i % 2 == 0 {
            format!("sid={LIVE}")
        } else {
            format!("__Host-sid={LIVE}")
        };
        let request = Request::get("/").header(COOKIE, header).body(()).unwrap();
        service.ready().await.unwrap().call(request).await.unwrap();
    }
    let stats = migration.stats();
    assert_eq!(
        (stats.migrated, stats.current, stats.deletions_sent),
        (500, 500, 1000)
    );
}

// --- bad input -------------------------------------------------------------------------

fn process(
    migration: &CookieMigration,
    header: &[u8],
) -> (Result<MigrationOutcome, CookieError>, HeaderMap) {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_bytes(header).unwrap());
    let outcome = migration
        .process_request(&mut headers)
        .map(|processed| processed.outcome().clone());
    (outcome, headers)
}

#[test]
fn empty_names_and_bare_values_pass_through_and_are_never_candidates() {
    let (outcome, headers) = process(&migration(), format!("=sid; sid; =; sid={LIVE}").as_bytes());
    assert!(matches!(outcome, Ok(MigrationOutcome::MigratedFrom { .. })));
    assert_eq!(
        headers[COOKIE],
        format!("__Host-sid={LIVE}; =sid; sid; =").as_str()
    );
}

#[test]
fn equals_signs_belong_to_the_value() {
    let migration = CookieMigration::builder("__Host-sid")
        .legacy(Legacy::named("sid").scope(Scope::host_only()))
        .build()
        .unwrap();
    let (_, headers) = process(&migration, b"sid=a=b==");
    assert_eq!(headers[COOKIE], "__Host-sid=a=b==");
}

#[test]
fn values_outside_the_grammar_are_never_chosen_and_others_pass_verbatim() {
    let migration = CookieMigration::builder("__Host-sid")
        .legacy(Legacy::named("sid").scope(Scope::host_only()))
        .build()
        .unwrap();
    let header = b"odd=a b\xff\tc; sid=has space; sid=\"quoted\"; sid=tab\there";
    let (outcome, headers) = process(&migration, header);
    assert!(matches!(
        outcome,
        Ok(MigrationOutcome::MigratedFrom { candidates: 3, .. })
    ));
    assert_eq!(
        headers[COOKIE].as_bytes(),
        b"__Host-sid=\"quoted\"; odd=a b\xff\tc"
    );

    let lenient = CookieMigration::builder("__Host-sid")
        .value_grammar(ValueGrammar::Lenient)
        .legacy(Legacy::named("sid").scope(Scope::host_only()))
        .build()
        .unwrap();
    let (_, headers) = process(&lenient, b"sid=has space");
    assert_eq!(headers[COOKIE], "__Host-sid=has space");
}

#[test]
fn percent_encoded_prefixes_do_not_spoof_the_current_name() {
    let (outcome, headers) = process(
        &migration(),
        format!("__%48ost-sid={LIVE}; __host-sid={LIVE}").as_bytes(),
    );
    assert_eq!(
        outcome,
        Ok(MigrationOutcome::NoValidCookie { candidates: 0 })
    );
    assert_eq!(
        headers[COOKIE],
        format!("__%48ost-sid={LIVE}; __host-sid={LIVE}").as_str()
    );
}

#[test]
fn ten_thousand_cookies_are_bounded_by_the_caps() {
    let header: Vec<u8> = (0..10_000)
        .map(|i| format!("c{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("; ")
        .into_bytes();
    let (outcome, _) = process(&migration(), &header);
    assert!(matches!(outcome, Err(CookieError::HeaderTooLarge { .. })));

    // With the byte cap lifted, unmanaged cookies are all kept, in order.
    let roomy = builder().max_header_bytes(1 << 20).build().unwrap();
    let mut with_session = header.clone();
    with_session.extend_from_slice(format!("; sid={LIVE}").as_bytes());
    let (outcome, headers) = process(&roomy, &with_session);
    assert!(matches!(outcome, Ok(MigrationOutcome::MigratedFrom { .. })));
    assert_eq!(headers[COOKIE].len(), with_session.len() + "__Host-".len());
    assert!(headers[COOKIE].as_bytes().ends_with(b"; c9999=v9999"));

    let many_sids: Vec<u8> = vec![format!("sid={STALE}"); 10_000].join("; ").into_bytes();
    let (outcome, _) = process(&roomy, &many_sids);
    assert_eq!(
        outcome,
        Err(CookieError::TooManyCandidates { count: 17, max: 16 })
    );
}

#[test]
fn a_one_mebibyte_header_is_refused_without_parsing() {
    let header = vec![b'a'; 1 << 20];
    let (outcome, headers) = process(&migration(), &header);
    assert_eq!(
        outcome,
        Err(CookieError::HeaderTooLarge {
            len: 1 << 20,
            max: 8192
        })
    );
    assert_eq!(
        headers[COOKIE].len(),
        1 << 20,
        "left unchanged when rejected"
    );
    let stripping = builder()
        .on_error(ErrorPolicy::StripManaged)
        .build()
        .unwrap();
    let (outcome, headers) = process(&stripping, &header);
    assert!(matches!(outcome, Ok(MigrationOutcome::Unprocessed(_))));
    assert_eq!(
        headers[COOKIE].len(),
        1 << 20,
        "an unmanaged cookie is not lost"
    );
}

#[test]
fn max_age_and_domain_reach_the_migrated_cookie() {
    let migration = CookieMigration::builder("__Secure-sid")
        .domain("shop1.base.localhost")
        .max_age(Duration::from_secs(86_400))
        .legacy(Legacy::named("sid").scope(Scope::host_only()))
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_static("sid=abc"));
    let processed = migration.process_request(&mut headers).unwrap();
    let mut response = HeaderMap::new();
    processed.process_response(&mut response);
    assert_eq!(
        response[SET_COOKIE],
        "__Secure-sid=abc; Path=/; Domain=shop1.base.localhost; Max-Age=86400; Secure; HttpOnly; SameSite=Lax"
    );
}
