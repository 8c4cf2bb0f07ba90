//! The request side of a migration against the bare cost of splitting the same `Cookie`
//! header with `cookie::Cookie::split_parse`, side by side in one group.
//!
//! The header is what a logged-in browser sends to a shop after a cookie rename: 20
//! cookies (analytics, consent, preferences, a CSRF token, …; about 750 bytes) among them
//! the current `__Host-sid` and one stale legacy `sid` duplicate. The migration renames
//! `sid` (host-only and `Domain=base.localhost`) to `__Host-sid`, with a cheap validator
//! (32 lowercase hex digits) standing in for a signature check.
//!
//! | row | work |
//! |---|---|
//! | `cookie_split_parse` | `Cookie::split_parse` to the end, each cookie `black_box`ed: the floor |
//! | `cookie_migrate/duplicate` | `process_request` on the 20-cookie header: the current cookie wins, `sid` is stripped (header rewritten) |
//! | `cookie_migrate/current_only` | the same header without `sid` (19 cookies): the common case, nothing rewritten |
//! | `cookie_migrate/migrate` | the same header without `__Host-sid` (19 cookies): the legacy value moves |
//!
//! The `process_request` rows start from a fresh clone of the request's `HeaderMap`
//! (`iter_batched_ref`, not timed), since the call rewrites it. The target is
//! `cookie_migrate/duplicate` ≤ 2× `cookie_split_parse` and under 1 µs.
//!
//! Run with `cargo bench -p cookie-migrate --bench request_side`.

use std::hint::black_box;

use cookie_migrate::{CookieMigration, Legacy, MigrationOutcome, Scope};
use criterion::{BatchSize, Criterion, criterion_main};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

const CURRENT: &str = "__Host-sid=5f0c2a9e7b1d4c36a8e90f12b3d4c5e6";
const LEGACY: &str = "sid=0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// The unmanaged cookies of a typical storefront request, in the order a browser sends
/// them (oldest first); the managed ones are spliced in by [`header`].
const OTHERS: [&str; 18] = [
    "_ga=GA1.2.1234567890.1700000000",
    "_gid=GA1.2.987654321.1712345678",
    "_gat_UA-12345678-1=1",
    "_ga_4X7Q2LZ9KD=GS1.1.1712345678.12.1.1712349012.0.0.0",
    "_fbp=fb.1.1700000000123.1234567890",
    "_gcl_au=1.1.1234567890.1700000000",
    "_hjSessionUser_3141592=eyJpZCI6IjVmMGMyYTllLTdiMWQtNGMzNiIsImNyZWF0ZWQiOjE3MDAwMDAwMDB9",
    "_hjSession_3141592=eyJpZCI6ImE4ZTkwZjEyIiwiYyI6MTcxMjM0NTY3OH0=",
    "OptanonConsent=isGpcEnabled=0&datestamp=Fri+Apr+05+2024&version=202403.1.0&groups=C0001:1,C0002:1",
    "OptanonAlertBoxClosed=2024-04-05T10:11:12.345Z",
    "theme=dark",
    "lang=en-GB",
    "currency=EUR",
    "cart_id=c7e1f4a2-9b3d-4e8f-a1c6-5d2b7e9f0a34",
    "csrftoken=Xk9fP2qLmN4vR7tY1wZ3bC6dE8gH0jK5sA2uV4xQ9rT7yU1i",
    "recently_viewed=10482%2C99231%2C5520",
    "ab_checkout=variant_b",
    "tz=Europe%2FBerlin",
];

/// `OTHERS` with the managed cookies where browsers put them: the legacy `sid` (set long
/// ago) early, the current cookie (set recently) late.
fn header(current: bool, legacy: bool) -> String {
    let mut cookies: Vec<&str> = OTHERS.to_vec();
    if current {
        cookies.insert(15, CURRENT);
    }
    if legacy {
        cookies.insert(5, LEGACY);
    }
    cookies.join("; ")
}

fn headers(header: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, HeaderValue::from_str(header).unwrap());
    headers
}

fn migration() -> CookieMigration {
    CookieMigration::builder("__Host-sid")
        .validator(|session: &str| {
            session.len() == 32
                && session
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        .legacy(
            Legacy::named("sid")
                .scope(Scope::domain("base.localhost"))
                .scope(Scope::host_only()),
        )
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let migration = migration();
    let duplicate = header(true, true);
    let cases = [
        ("duplicate", headers(&duplicate)),
        ("current_only", headers(&header(true, false))),
        ("migrate", headers(&header(false, true))),
    ];
    eprintln!(
        "duplicate header: {} bytes, {} cookies",
        duplicate.len(),
        cookie::Cookie::split_parse(duplicate.as_str()).count()
    );
    // Each case takes the path its name says.
    for (name, request) in &cases {
        let mut request = request.clone();
        let processed = migration.process_request(&mut request).unwrap();
        let expected = match *name {
            "duplicate" => matches!(
                processed.outcome(),
                MigrationOutcome::DuplicatesResolved { .. }
            ),
            "current_only" => matches!(processed.outcome(), MigrationOutcome::Current),
            _ => matches!(processed.outcome(), MigrationOutcome::MigratedFrom { .. }),
        };
        assert!(expected, "{name}: {:?}", processed.outcome());
    }

    let mut group = c.benchmark_group("request_side");
    group.bench_function("cookie_split_parse", |b| {
        b.iter(|| {
            for cookie in cookie::Cookie::split_parse(black_box(duplicate.as_str())) {
                black_box(cookie.unwrap());
            }
        })
    });
    for (name, request) in &cases {
        group.bench_function(format!("cookie_migrate/{name}"), |b| {
            b.iter_batched_ref(
                || request.clone(),
                |headers| black_box(migration.process_request(headers).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

// `criterion_group!` defines an undocumented `pub fn`; kept private, it needs no docs.
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
