//! Runs the `cookie-shop` example on loopback in each phase and talks to it with a hyper
//! client: the cookie each phase sets, the legacy phase reading the first of two `sid`
//! cookies (the incident's bug), the migrate phase resolving duplicates and moving a
//! legacy value to `__Host-sid`, session rotation on login, and bad flags.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use testkit::ChildGuard;

const DELETE_DOMAIN_SID: &str =
    "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=base.localhost";
const DELETE_HOST_SID: &str = "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/";

struct Shop {
    _child: ChildGuard,
    origin: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// The session id in the single `Set-Cookie` for `name`.
    fn session_id(&self, name: &str) -> String {
        let prefix = format!("{name}=");
        let lines: Vec<&str> = self
            .set_cookies()
            .into_iter()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(lines.len(), 1, "one Set-Cookie for {name}: {lines:?}");
        let id = lines[0][prefix.len()..].split(';').next().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        id.to_owned()
    }
}

/// Starts the example on a free port with `args`; waits for its listening line.
fn start(phase: &str, args: &[&str]) -> Shop {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cookie-shop"));
    command
        .args(["--phase", phase, "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn");
    let mut child = ChildGuard::spawn(command).expect("start cookie-shop");
    let lines = child
        .read_until(Duration::from_secs(30), |line| line.starts_with("open "))
        .expect("cookie-shop prints where it listens, then the URL to open");
    let first = &lines[0];
    let rest = first
        .strip_prefix("cookie-shop listening on ")
        .unwrap_or_else(|| panic!("the first line says where it listens: {lines:?}"));
    let (origin, phase_note) = rest.split_once(' ').expect("origin then phase");
    assert_eq!(phase_note, format!("(phase {phase})"));
    let port = origin.rsplit(':').next().unwrap();
    assert_eq!(
        lines.last().unwrap(),
        &format!("open http://shop1.base.localhost:{port}/ in a browser")
    );
    Shop {
        _child: child,
        origin: origin.to_owned(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    }
}

impl Shop {
    async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = Request::get(format!("{}{path}", self.origin));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = self
            .client
            .request(request.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn legacy_phase_sets_a_domain_cookie_and_reads_the_first_sid() {
    let shop = start("legacy", &[]);
    runtime().block_on(async {
        let added = shop.get("/cart/add?item=tea", None).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER);
        assert_eq!(added.headers["location"], "/");
        let [line] = added.set_cookies()[..] else {
            panic!("one Set-Cookie: {:?}", added.set_cookies());
        };
        let s1 = added.session_id("sid");
        assert_eq!(
            line,
            format!("sid={s1}; Domain=base.localhost; Path=/; HttpOnly; SameSite=Lax")
        );

        let page = shop.get("/", Some(&format!("sid={s1}"))).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("not logged in"), "{}", page.body);
        assert!(page.body.contains("cart: tea"), "{}", page.body);
        assert!(page.set_cookies().is_empty(), "looking sets no cookie");

        // Two `sid` cookies, a stale one first (Chromium's order): the first is read, as
        // the incident's servers did, and the cart is not found.
        let stale = "0123456789abcdef0123456789abcdef";
        let page = shop.get("/", Some(&format!("sid={stale}; sid={s1}"))).await;
        assert!(page.body.contains("cart: empty"), "{}", page.body);
        let page = shop.get("/", Some(&format!("sid={s1}; sid={stale}"))).await;
        assert!(page.body.contains("cart: tea"), "{}", page.body);

        // Login rotates the id and keeps the cart; the old id is dead.
        let login = shop
            .get("/login?user=alice", Some(&format!("sid={s1}")))
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER);
        let s2 = login.session_id("sid");
        assert_ne!(s1, s2);
        assert!(login.set_cookies()[0].contains("; Domain=base.localhost;"));
        let page = shop.get("/", Some(&format!("sid={s2}"))).await;
        assert!(page.body.contains("logged in as alice"), "{}", page.body);
        assert!(page.body.contains("cart: tea"), "{}", page.body);
        let page = shop.get("/", Some(&format!("sid={s1}"))).await;
        assert!(page.body.contains("not logged in"), "{}", page.body);
        assert!(page.body.contains("cart: empty"), "{}", page.body);

        // The debug route echoes the header, escaped.
        let debug = shop.get("/debug/cookie", Some("sid=a; x=<b>")).await;
        assert!(
            debug.body.contains("Cookie: sid=a; x=&lt;b&gt;"),
            "{}",
            debug.body
        );
        assert!(!debug.body.contains("migration:"), "{}", debug.body);

        // Bad input is refused with the reason; oversized Cookie headers with 431.
        let bad = shop.get("/cart/add?item=%3Cscript%3E", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.starts_with("item: "), "{}", bad.body);
        assert!(bad.set_cookies().is_empty());
        let bad = shop.get("/login", None).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let big = format!("x={}", "y".repeat(9000));
        let bad = shop.get("/", Some(&big)).await;
        assert_eq!(bad.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    });
}

#[test]
fn host_only_phase_sets_sid_without_a_domain() {
    let shop = start("host-only", &[]);
    runtime().block_on(async {
        let login = shop.get("/login?user=bob", None).await;
        let s1 = login.session_id("sid");
        assert_eq!(
            login.set_cookies(),
            [format!("sid={s1}; Path=/; HttpOnly; SameSite=Lax")]
        );
        let page = shop.get("/", Some(&format!("sid={s1}"))).await;
        assert!(page.body.contains("logged in as bob"), "{}", page.body);
        assert!(page.body.contains("cart: empty"), "{}", page.body);
    });
}

#[test]
fn migrate_phase_resolves_duplicates_and_moves_legacy_values() {
    let shop = start("migrate", &[]);
    runtime().block_on(async {
        let added = shop.get("/cart/add?item=tea", None).await;
        let id = added.session_id("__Host-sid");
        assert_eq!(
            added.set_cookies(),
            [format!(
                "__Host-sid={id}; Path=/; Secure; HttpOnly; SameSite=Lax"
            )]
        );

        // A bogus `sid` sent first, then the valid `__Host-sid`: the valid one wins and
        // both `sid` scopes are deleted; `__Host-sid` is not re-set.
        let bogus = "0123456789abcdef0123456789abcdef";
        let cookie = format!("sid={bogus}; __Host-sid={id}; theme=dark");
        let page = shop.get("/", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("cart: tea"), "{}", page.body);
        assert_eq!(page.set_cookies(), [DELETE_DOMAIN_SID, DELETE_HOST_SID]);
        // The shop sees only the chosen cookie (and the unmanaged one).
        let debug = shop.get("/debug/cookie", Some(&cookie)).await;
        assert!(
            debug
                .body
                .contains(&format!("Cookie: __Host-sid={id}; theme=dark\n")),
            "{}",
            debug.body
        );
        assert!(
            debug
                .body
                .contains("migration: DuplicatesResolved { candidates: 2 }"),
            "{}",
            debug.body
        );
        assert!(!debug.body.contains(bogus), "{}", debug.body);

        // Login behind the layer rotates the id; the shop's own Set-Cookie wins.
        let login = shop
            .get(
                "/login?user=alice",
                Some(&format!("sid={bogus}; __Host-sid={id}")),
            )
            .await;
        let new_id = login.session_id("__Host-sid");
        assert_ne!(new_id, id);
        assert_eq!(
            login.set_cookies(),
            [
                format!("__Host-sid={new_id}; Path=/; Secure; HttpOnly; SameSite=Lax").as_str(),
                DELETE_DOMAIN_SID,
                DELETE_HOST_SID,
            ]
        );
        let page = shop.get("/", Some(&format!("__Host-sid={new_id}"))).await;
        assert!(page.body.contains("logged in as alice"), "{}", page.body);
        assert!(page.body.contains("cart: tea"), "{}", page.body);
        assert!(page.set_cookies().is_empty(), "{:?}", page.set_cookies());

        // Only a legacy `sid` holds a live session (as after the host-only deploy): its
        // value moves to `__Host-sid` on the same response and `sid` is deleted.
        let page = shop
            .get("/", Some(&format!("sid={id}; sid={new_id}")))
            .await;
        assert!(page.body.contains("logged in as alice"), "{}", page.body);
        assert_eq!(
            page.set_cookies(),
            [
                format!("__Host-sid={new_id}; Path=/; Secure; HttpOnly; SameSite=Lax").as_str(),
                DELETE_DOMAIN_SID,
                DELETE_HOST_SID,
            ]
        );

        // No valid cookie at all: not logged in, nothing set.
        let page = shop.get("/", Some(&format!("sid={id}"))).await;
        assert!(page.body.contains("not logged in"), "{}", page.body);
        assert!(page.set_cookies().is_empty(), "{:?}", page.set_cookies());
    });
}

#[test]
fn bad_flags_exit_with_code_2_naming_the_flag() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cookie-shop"))
            .args(args)
            .output()
            .unwrap()
    };
    for (args, flag, why) in [
        (&["--phase", "staging"][..], "--phase", "`staging`"),
        (&["--listen", "127.0.0.1:0"], "--phase", "required"),
        (
            &["--phase", "migrate", "--listen", "8080"],
            "--listen",
            "`8080`",
        ),
        (
            &["--phase", "legacy", "--cookie-domain", "base.shop"],
            "--cookie-domain",
            "public suffix",
        ),
        (
            &["--phase", "legacy", "--port", "8080"],
            "--port",
            "unknown",
        ),
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("cookie-shop: {flag}: ")) && stderr.contains(why),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("usage: cookie-shop"), "{stderr}");
    }
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: cookie-shop --phase"));
}
