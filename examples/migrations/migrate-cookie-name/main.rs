//! `migrate-cookie-name`: incident 5 (BASE's duplicate session cookies), before and after
//! moving the session cookie from a `Domain=`-scoped `THEBASE` to a host-only, versioned
//! `__Host-thebase-v2` with `CookieMigrationLayer`.
//!
//! ```text
//! cargo run -p examples --bin migrate-cookie-name -- [--browsers 1000] [--seed 5]
//! ```
//!
//! A population of simulated browsers (RFC 6265bis cookie stores, oldest-first like Chrome
//! and Firefox or newest-first like Safari; some already shipping the Public Suffix List
//! that makes `base.localhost` a public suffix) visits in-process axum deploys of a shop
//! that all share one session store:
//!
//! 1. the legacy deploy sets `THEBASE` with `Domain=base.localhost`: new-PSL browsers
//!    refuse it and lose their carts;
//! 2. the host-only fix sets `THEBASE` without `Domain`; browsers that log in (the session
//!    id rotates) now hold two `THEBASE` cookies.
//!
//! From that same state, the next request goes either to the host-only deploy (before: it
//! reads the first `THEBASE`, and oldest-first browsers read a dead session) or to the
//! migrating deploy behind `CookieMigrationLayer` (after). Every figure is counted from
//! the simulation. Exit code 0 when after the migration no session is lost and no store
//! holds a duplicate or legacy cookie, 1 otherwise.

/// The command line, as every migration example reads it.
#[path = "../common.rs"]
mod common;
/// The shop's three deploys and their shared session store.
mod shop;

use std::process::ExitCode;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{COOKIE, SET_COOKIE};
use examples::cli::{ArgError, Command, set_once};
use testkit::cookie_store::{CookieStore as Browser, Order};
use tower::ServiceExt;

use shop::{CURRENT, Deploy, HOST, LEGACY, PARENT, Sessions, Shop};

/// What `--help` prints.
const USAGE: &str = "usage: migrate-cookie-name [--browsers N] [--seed S]\n\
    Simulates N browsers (default 1000) through incident 5, before and after CookieMigrationLayer.";

/// Share of browsers that send the oldest cookie first (Chrome, Firefox).
const OLDEST_FIRST_SHARE: f64 = 0.7;
/// Share of browsers that already ship the PSL listing the parent domain.
const NEW_PSL_SHARE: f64 = 0.2;
/// Share of browsers that log in while the host-only fix is deployed.
const LOGIN_SHARE: f64 = 0.5;

/// What the command line asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    browsers: usize,
    seed: u64,
}

/// SplitMix64: a deterministic population for a given seed.
struct Rng(u64);

impl Rng {
    /// The next number, uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits as a fraction in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the server read for one request, and the `Set-Cookie` lines it answered with.
struct Visit {
    session: String,
    user: String,
    cart: u32,
    set_cookies: Vec<String>,
}

/// Sends one request from `browser` to `shop` and stores the cookies it gets back.
async fn visit(shop: &Shop, browser: &mut Browser, path: &str) -> Result<Visit, String> {
    let mut request = Request::get(path)
        .header("host", HOST)
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    if let Some(header) = browser.cookie_header() {
        let value = header
            .parse()
            .map_err(|_| format!("bad Cookie header {header:?}"))?;
        request.headers_mut().insert(COOKIE, value);
    }
    let Ok(response) = shop.clone().oneshot(request).await;
    let text = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let set_cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    for line in &set_cookies {
        // A browser ignores a cookie it refuses; the report counts what that costs.
        let _ = browser.receive(line);
    }
    Ok(Visit {
        session: text("x-session"),
        user: text("x-user"),
        cart: text("x-cart").parse().unwrap_or(0),
        set_cookies,
    })
}

/// What a browser's session was when the timelines split.
#[derive(Clone)]
struct Expected {
    session: String,
    logged_in: bool,
    duplicates: bool,
}

/// The outcome of one request per browser, from the split state.
#[derive(Default)]
struct Tally {
    /// Browsers the server read another session for (logged out, cart gone).
    lost: usize,
    /// Of those, oldest-first browsers.
    lost_oldest_first: usize,
    /// Browsers that were logged in and are not any more.
    logged_out: usize,
    /// Stores holding some name twice after the request.
    stores_with_duplicates: usize,
    /// Legacy `THEBASE` cookies left in all stores.
    legacy_left: usize,
    /// Deleting `Set-Cookie` lines (`Max-Age=0`) received.
    deletions: usize,
    /// `Set-Cookie` lines received.
    set_cookies: usize,
}

/// One request to `/` from every browser to `shop`, tallied against what each browser
/// expected (`expected[i]` for `browsers[i]`).
async fn next_request(
    shop: &Shop,
    browsers: &mut [Browser],
    expected: &[Expected],
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    for (browser, expected) in browsers.iter_mut().zip(expected) {
        let seen = visit(shop, browser, "/").await?;
        if seen.session != expected.session {
            tally.lost += 1;
            if browser.order() == Order::OldestFirst {
                tally.lost_oldest_first += 1;
            }
        }
        if expected.logged_in && seen.user.is_empty() {
            tally.logged_out += 1;
        }
        tally.stores_with_duplicates += usize::from(browser.has_duplicates());
        tally.legacy_left += browser.count(LEGACY);
        tally.set_cookies += seen.set_cookies.len();
        tally.deletions += seen
            .set_cookies
            .iter()
            .filter(|line| line.contains("Max-Age=0"))
            .count();
    }
    Ok(tally)
}

/// `part` as a percentage of `whole` (0 when `whole` is 0).
fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// Runs the phases and prints the report; an `Err` when the migration did not fix it.
async fn run(settings: Settings) -> Result<(), String> {
    let mut rng = Rng(settings.seed);
    let mut browsers: Vec<Browser> = (0..settings.browsers)
        .map(|_| {
            let order = if rng.next_f64() < OLDEST_FIRST_SHARE {
                Order::OldestFirst
            } else {
                Order::NewestFirst
            };
            let browser = Browser::new(HOST, order);
            if rng.next_f64() < NEW_PSL_SHARE {
                browser.with_public_suffix(PARENT)
            } else {
                browser
            }
        })
        .collect();
    let oldest_first = browsers
        .iter()
        .filter(|b| b.order() == Order::OldestFirst)
        .count();
    let new_psl = browsers
        .iter()
        .filter(|b| b.lists_public_suffix(PARENT))
        .count();
    println!(
        "migrate-cookie-name: {} browsers on {HOST} ({oldest_first} oldest-first Chrome/Firefox-like, \
         {} newest-first Safari-like; {new_psl} ship a PSL listing {PARENT}), seed {}",
        browsers.len(),
        browsers.len() - oldest_first,
        settings.seed
    );

    let sessions = Sessions::default();

    // Phase 1: the legacy deploy. Browse, add to the cart, come back.
    let legacy = shop::shop(Deploy::Legacy, &sessions, None);
    let mut carts_lost = 0;
    for browser in &mut browsers {
        visit(&legacy, browser, "/").await?;
        visit(&legacy, browser, "/add").await?;
        let back = visit(&legacy, browser, "/").await?;
        carts_lost += usize::from(back.cart == 0);
    }
    println!(
        "before  {LEGACY}; Domain={PARENT}: {carts_lost} browsers refused the cookie (PSL) and lost their cart"
    );

    // Phase 2: the host-only fix. Everyone comes back; some log in (the id rotates).
    let host_only = shop::shop(Deploy::HostOnly, &sessions, None);
    let mut expected = Vec::with_capacity(browsers.len());
    for browser in &mut browsers {
        let mut last = visit(&host_only, browser, "/").await?;
        if rng.next_f64() < LOGIN_SHARE {
            last = visit(&host_only, browser, "/login").await?;
        }
        expected.push(Expected {
            session: last.session,
            logged_in: !last.user.is_empty(),
            duplicates: browser.count(LEGACY) > 1,
        });
    }
    let with_duplicates = expected.iter().filter(|e| e.duplicates).count();
    let logged_in = expected.iter().filter(|e| e.logged_in).count();
    println!(
        "before  {LEGACY} host-only fix: {logged_in} browsers logged in, {with_duplicates} stores now hold two {LEGACY} cookies"
    );

    // The timelines split here: the same browsers and sessions, two different deploys.
    let mut before_browsers = browsers.clone();
    let before_sessions = sessions.fork();
    let before_shop = shop::shop(Deploy::HostOnly, &before_sessions, None);
    let before = next_request(&before_shop, &mut before_browsers, &expected).await?;
    println!(
        "before  next request: {} of {oldest_first} oldest-first browsers ({:.1}%) read a dead session, \
         {} logged out; {} newest-first lost",
        before.lost_oldest_first,
        percent(before.lost_oldest_first, oldest_first),
        before.logged_out,
        before.lost - before.lost_oldest_first
    );

    // The incident's final fix: rename the cookie without migrating it.
    let mut renamed_browsers = browsers.clone();
    let renamed_sessions = sessions.fork();
    let renamed_shop = shop::shop(Deploy::Migrating, &renamed_sessions, None);
    let renamed = next_request(&renamed_shop, &mut renamed_browsers, &expected).await?;
    println!(
        "before  plain rename to {CURRENT} (the incident's final fix): {} of {} sessions reset",
        renamed.lost,
        browsers.len()
    );

    let migration = shop::migration(&sessions).map_err(|e| format!("the migration: {e}"))?;
    let migrating = shop::shop(Deploy::Migrating, &sessions, Some(migration.clone()));
    let after = next_request(&migrating, &mut browsers, &expected).await?;
    let stats = migration.stats();
    let kept = browsers.len() - after.lost;
    println!(
        "after   CookieMigrationLayer {LEGACY} (Domain={PARENT}, host-only) -> {CURRENT}, validator = session store"
    );
    println!(
        "after   next request: {kept}/{} browsers kept their session ({:.1}%), {} lost, {} logged out",
        browsers.len(),
        percent(kept, browsers.len()),
        after.lost,
        after.logged_out
    );
    println!(
        "after   {} stores with duplicate cookies, {} {LEGACY} cookies left; {} values moved to \
         {CURRENT}, {} deletions sent (layer counted {})",
        after.stores_with_duplicates,
        after.legacy_left,
        stats.migrated,
        after.deletions,
        stats.deletions_sent
    );
    let again = next_request(&migrating, &mut browsers, &expected).await?;
    println!(
        "after   second request: {} Set-Cookie lines, {} sessions lost",
        again.set_cookies, again.lost
    );

    let fixed = after.lost == 0
        && after.logged_out == 0
        && after.stores_with_duplicates == 0
        && after.legacy_left == 0
        && again.lost == 0
        && again.set_cookies == 0;
    if fixed {
        println!("result: FIXED (no session lost, one cookie per store after one request)");
        Ok(())
    } else {
        Err("the migration lost sessions or left duplicate cookies".to_owned())
    }
}

/// The command line: `--browsers N`, `--seed S`, `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command<Settings>, ArgError> {
    let (mut browsers, mut seed) = (None, None);
    let command = common::walk_flags(args, &["--browsers", "--seed"], |flag, value| match flag {
        "--browsers" => {
            let n = value
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| ArgError::new(flag, format!("`{value}` is not 1..=1000000")))?;
            set_once(flag, &mut browsers, n)
        }
        _ => {
            let s = value
                .parse::<u64>()
                .map_err(|_| ArgError::new(flag, format!("`{value}` is not a number")))?;
            set_once(flag, &mut seed, s)
        }
    })?;
    if let Command::Help = command {
        return Ok(Command::Help);
    }
    Ok(Command::Run(Settings {
        browsers: browsers.unwrap_or(1000),
        seed: seed.unwrap_or(5),
    }))
}

/// Runs the example through `examples::cli::main` (exit 2 on a bad command line).
fn main() -> ExitCode {
    common::main("migrate-cookie-name", USAGE, parse_args, run)
}
