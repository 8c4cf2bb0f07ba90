//! Incident 5 (BASE's duplicate session cookies) in a real headless Chromium, driven over
//! the DevTools protocol, against the `cookie-shop` in its three phases.
//!
//! Three shop servers run in this process, one per phase, each on its own loopback port
//! and all sharing ONE session store, like three deploys of the same site. Cookies are per
//! host, not per port, so `http://shop1.base.localhost:<port>/` on each server sees the
//! same browser cookies (`*.localhost` resolves to loopback inside Chromium). Skipped
//! (`SKIPPED: chromium not installed`) when Chromium is absent, unless
//! `TOOLKIT_REQUIRE_SERVICES=1`.

use std::num::NonZeroUsize;

use examples::shop::{Phase, Sessions, Shop};
use testkit::chromium::{Browser, Cookie};
use tokio::net::TcpListener;

/// Starts `shop` on a kernel-chosen loopback port; returns its origin on `shop1`.
async fn serve(shop: &Shop) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = shop.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://shop1.base.localhost:{port}")
}

/// Navigates to `url` and returns the page's text.
async fn visit(browser: &Browser, url: &str) -> String {
    browser.page().navigate(url).await;
    browser.page().body_text().await
}

/// The `sid=` values of the `Cookie:` line of a `/debug/cookie` page, in header order.
fn sids_sent(debug_page: &str) -> Vec<String> {
    let line = debug_page
        .lines()
        .find_map(|l| l.strip_prefix("Cookie: "))
        .unwrap_or_else(|| panic!("no Cookie line in {debug_page:?}"));
    line.split("; ")
        .filter_map(|pair| pair.strip_prefix("sid="))
        .map(str::to_owned)
        .collect()
}

fn describe(cookies: &[Cookie]) -> String {
    // Test-only sessions: printing their ids helps when an assertion fails.
    format!("{cookies:#?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_base_duplicate_cookie_in_chromium_is_migrated_in_one_request() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let sessions = Sessions::new(NonZeroUsize::new(100).unwrap());
    let domain = "base.localhost";
    let legacy = Shop::new(Phase::Legacy, sessions.clone(), domain).unwrap();
    let host_only = Shop::new(Phase::HostOnly, sessions.clone(), domain).unwrap();
    let migrate = Shop::new(Phase::Migrate, sessions.clone(), domain).unwrap();
    let legacy_url = serve(&legacy).await;
    let host_only_url = serve(&host_only).await;
    let migrate_url = serve(&migrate).await;

    // 1. The old deploy: a visitor puts tea in the cart and gets `sid=S1; Domain=base.localhost`.
    let text = visit(&browser, &format!("{legacy_url}/cart/add?item=tea")).await;
    assert!(
        text.contains("not logged in") && text.contains("cart: tea"),
        "{text}"
    );
    let cookies = browser.cookies().await;
    let [old] = &cookies[..] else {
        panic!("one cookie after the legacy visit: {}", describe(&cookies));
    };
    assert_eq!(
        (old.name.as_str(), old.domain.as_str(), old.host_only),
        ("sid", ".base.localhost", false),
        "{}",
        describe(&cookies)
    );
    let s1 = old.value.clone();

    // 2. The host-only deploy: the login reads S1 (the only cookie), rotates the session to
    // S2 and sets `sid=S2` host-only. The browser keeps the Domain cookie too.
    let text = visit(&browser, &format!("{host_only_url}/login?user=alice")).await;
    // The redirect back to `/` already shows the incident.
    assert!(text.contains("not logged in"), "{text}");
    let cookies = browser.cookies().await;
    let sids: Vec<&Cookie> = cookies.iter().filter(|c| c.name == "sid").collect();
    assert_eq!(sids.len(), 2, "{}", describe(&cookies));
    let new = sids
        .iter()
        .find(|c| c.host_only)
        .unwrap_or_else(|| panic!("a host-only sid: {}", describe(&cookies)));
    assert_eq!(new.domain, "shop1.base.localhost");
    let s2 = new.value.clone();
    assert_ne!(s1, s2, "the login rotated the session id");
    assert!(sids.iter().any(|c| !c.host_only && c.value == s1));

    // Chromium sends both, the older (S1) first, as in the incident; the host-only server
    // reads the first, a session the login destroyed: alice is not logged in, the cart
    // looks empty.
    let debug = visit(&browser, &format!("{host_only_url}/debug/cookie")).await;
    assert_eq!(sids_sent(&debug), [s1.clone(), s2.clone()], "{debug}");
    let text = visit(&browser, &format!("{host_only_url}/")).await;
    assert!(text.contains("not logged in"), "{text}");
    assert!(text.contains("cart: empty"), "{text}");

    // 3. The migrating deploy answers ONE request: it rejects S1, picks S2, hands the shop
    // `__Host-sid=S2`, sets `__Host-sid=S2` and deletes both `sid` scopes.
    let debug = visit(&browser, &format!("{migrate_url}/debug/cookie")).await;
    assert!(
        debug.contains(&format!("Cookie: __Host-sid={s2}\n")),
        "{debug}"
    );
    assert!(
        debug.contains(r#"migration: MigratedFrom { name: "sid", candidates: 2 }"#),
        "{debug}"
    );
    let stats = migrate.migration().unwrap().stats();
    assert_eq!(
        (
            stats.migrated,
            stats.rejected_candidates,
            stats.deletions_sent
        ),
        (1, 1, 2),
        "{stats:?}"
    );

    // Exactly one session cookie remains, under the new name, with the original session.
    let cookies = browser.cookies().await;
    let [current] = &cookies[..] else {
        panic!("one cookie after the migration: {}", describe(&cookies));
    };
    assert_eq!(current.name, "__Host-sid");
    assert_eq!(current.value, s2);
    assert_eq!(current.domain, "shop1.base.localhost");
    assert_eq!(current.path, "/");
    assert!(current.host_only && current.secure && current.http_only);
    assert!(cookies.iter().all(|c| c.name != "sid"));

    // The next request is logged in, cart intact, with no further migration.
    let text = visit(&browser, &format!("{migrate_url}/")).await;
    assert!(text.contains("logged in as alice"), "{text}");
    assert!(!text.contains("not logged in"), "{text}");
    assert!(text.contains("cart: tea"), "{text}");
    let stats = migrate.migration().unwrap().stats();
    assert_eq!((stats.migrated, stats.current), (1, 1), "{stats:?}");
    assert_eq!(sessions.len(), 1, "S1 was destroyed by the login");
}
