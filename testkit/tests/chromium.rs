//! Drives a real headless Chromium against a tiny cookie-setting HTTP server on loopback.
//!
//! `*.localhost` names resolve to loopback inside Chromium, so `shop1.base.localhost` reaches
//! the server without resolver rules. Skipped (with `SKIPPED: chromium not installed`) when
//! Chromium is absent, unless `TOOLKIT_REQUIRE_SERVICES=1`.

use std::net::SocketAddr;

use serde_json::json;
use testkit::chromium::{Browser, Cookie};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The `Set-Cookie` headers each path answers with; every response body is
/// `cookie=[<the request's Cookie header>]`.
fn set_cookies(path: &str) -> &'static [&'static str] {
    match path {
        "/set-old" => &["sid=OLD; Domain=base.localhost; Path=/"],
        "/set-new" => &["sid=NEW; Path=/"],
        "/set-host" => &["__Host-sid=X; Secure; Path=/"],
        _ => &[],
    }
}

/// Starts the server on a kernel-chosen loopback port; it lives as long as the runtime.
async fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
        if request.len() > 64 * 1024 {
            return;
        }
    }
    let request = String::from_utf8_lossy(&request);
    let path = request
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/");
    let cookie = request
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("cookie"))
        .map_or("", |(_, value)| value.trim());
    let body = format!("cookie=[{cookie}]");
    let mut response = String::from("HTTP/1.1 200 OK\r\n");
    for set_cookie in set_cookies(path) {
        response.push_str(&format!("Set-Cookie: {set_cookie}\r\n"));
    }
    response.push_str(&format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Navigates to `url` and returns the Cookie header the server saw.
async fn cookie_header(browser: &Browser, url: &str) -> String {
    browser.page().navigate(url).await;
    let text = browser.page().body_text().await;
    text.strip_prefix("cookie=[")
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or_else(|| panic!("unexpected body {text:?}"))
        .to_owned()
}

fn named<'a>(cookies: &'a [Cookie], name: &str) -> Vec<&'a Cookie> {
    cookies.iter().filter(|c| c.name == name).collect()
}

#[tokio::test]
async fn domain_and_host_only_cookies_with_one_name_are_both_sent() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let port = start_server().await.port();
    let shop1 = format!("http://shop1.base.localhost:{port}");

    cookie_header(&browser, &format!("{shop1}/set-old")).await;
    cookie_header(&browser, &format!("{shop1}/set-new")).await;
    let header = cookie_header(&browser, &format!("{shop1}/echo")).await;
    println!("Cookie header on shop1: {header}");
    let mut sent: Vec<&str> = header.split("; ").collect();
    sent.sort_unstable();
    assert_eq!(sent, ["sid=NEW", "sid=OLD"]);

    let cookies = browser.cookies().await;
    println!("Storage.getCookies: {cookies:#?}");
    let sids = named(&cookies, "sid");
    assert_eq!(sids.len(), 2, "{cookies:?}");
    let old = sids.iter().find(|c| c.value == "OLD").expect("sid=OLD");
    assert_eq!(
        (old.domain.as_str(), old.path.as_str(), old.host_only),
        (".base.localhost", "/", false)
    );
    let new = sids.iter().find(|c| c.value == "NEW").expect("sid=NEW");
    assert_eq!(
        (new.domain.as_str(), new.path.as_str(), new.host_only),
        ("shop1.base.localhost", "/", true)
    );
    assert!(sids.iter().all(|c| c.session && !c.secure && !c.http_only));

    // The Domain cookie reaches a sibling host; the host-only one does not.
    let sibling = cookie_header(
        &browser,
        &format!("http://shop2.base.localhost:{port}/echo"),
    )
    .await;
    assert_eq!(sibling, "sid=OLD");
}

#[tokio::test]
async fn host_prefixed_secure_cookie_is_stored_over_http_on_localhost() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let port = start_server().await.port();
    let shop1 = format!("http://shop1.base.localhost:{port}");

    cookie_header(&browser, &format!("{shop1}/set-host")).await;
    let cookies = browser.cookies().await;
    let stored = named(&cookies, "__Host-sid");
    assert_eq!(stored.len(), 1, "{cookies:?}");
    let cookie = stored[0];
    assert_eq!(cookie.value, "X");
    assert_eq!(cookie.domain, "shop1.base.localhost");
    assert_eq!(cookie.path, "/");
    assert!(cookie.secure && cookie.host_only);
    assert_eq!(
        cookie_header(&browser, &format!("{shop1}/echo")).await,
        "__Host-sid=X"
    );
}

#[tokio::test]
async fn cookies_set_and_cleared_over_cdp() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let port = start_server().await.port();
    let echo = format!("http://shop1.base.localhost:{port}/echo");

    browser
        .set_cookie(&Cookie {
            name: "a".into(),
            value: "domain".into(),
            domain: "base.localhost".into(),
            ..Cookie::default()
        })
        .await;
    browser
        .set_cookie(&Cookie {
            name: "b".into(),
            value: "host".into(),
            domain: "shop1.base.localhost".into(),
            host_only: true,
            ..Cookie::default()
        })
        .await;
    let cookies = browser.cookies().await;
    let a = named(&cookies, "a");
    let b = named(&cookies, "b");
    assert_eq!((a.len(), b.len()), (1, 1), "{cookies:?}");
    assert_eq!(
        (a[0].domain.as_str(), a[0].host_only),
        (".base.localhost", false)
    );
    assert_eq!(
        (b[0].domain.as_str(), b[0].host_only),
        ("shop1.base.localhost", true)
    );
    let mut sent: Vec<String> = cookie_header(&browser, &echo)
        .await
        .split("; ")
        .map(str::to_owned)
        .collect();
    sent.sort_unstable();
    assert_eq!(sent, ["a=domain", "b=host"]);

    browser.clear_cookies().await;
    assert_eq!(browser.cookies().await, []);
    assert_eq!(cookie_header(&browser, &echo).await, "");
}

#[tokio::test]
async fn evaluates_javascript_and_reports_cdp_errors() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let page = browser.page();
    page.navigate("data:text/html,<body>hi <b>there</b></body>")
        .await;
    assert_eq!(page.body_text().await, "hi there");
    assert_eq!(page.evaluate("1 + 2").await, json!(3));
    assert_eq!(
        page.evaluate("Promise.resolve({a: [1, 'x']})").await,
        json!({"a": [1, "x"]})
    );
    assert_eq!(page.evaluate("undefined").await, serde_json::Value::Null);

    // A second page shares the cookie store but has its own session.
    let other = browser.new_page().await;
    assert_ne!(other.target_id(), page.target_id());
    other.navigate("data:text/plain,second").await;
    assert_eq!(other.body_text().await, "second");
    assert_eq!(page.body_text().await, "hi there");

    drop(other);
    let error = browser.try_call("No.such", json!({})).await.unwrap_err();
    assert_eq!((error.method.as_str(), error.code), ("No.such", -32601));
    assert!(
        error.to_string().starts_with("CDP No.such failed: "),
        "{error}"
    );
    let error = page
        .try_call("Page.navigate", json!({ "url": 1 }))
        .await
        .unwrap_err();
    assert_eq!(error.method, "Page.navigate");
}
