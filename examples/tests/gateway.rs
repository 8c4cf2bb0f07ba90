//! Runs the `gateway` binary on free loopback ports and drives it with real clients: the
//! three commands of its banner (a signed Twilio request with curl, `openssl s_client`
//! twice, `turnutils_uclient`), HTTP/2, `/healthz`, `/metrics`, a rate limit answered with
//! `429`, a bad configuration file, Redis, `--layers none`, and a clean exit on SIGTERM.

#[path = "support/clients.rs"]
mod clients;
#[path = "support/gateway.rs"]
mod gateway_support;
#[path = "support/uclient.rs"]
mod uclient;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use clients::run_bounded;
use gateway_support::Gateway;
use uclient::{Totals, totals, uclient_args};

/// How long one client command may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a banner command line with `sh -c`.
fn run_shell(line: &str) -> (ExitStatus, String) {
    run_bounded("sh", &["-c", line], CLIENT_TIMEOUT)
}

/// `curl -sS -k` with `args`; asserts that it exits 0 and returns what it printed.
fn curl_output(args: &[&str]) -> String {
    let mut all = vec!["-sS", "-k"];
    all.extend_from_slice(args);
    let (status, output) = run_bounded("curl", &all, CLIENT_TIMEOUT);
    assert!(status.success(), "curl {args:?}: {status}\n{output}");
    output
}

/// `curl -sS -k` with `args`, printing the status code last (`-w`).
fn curl(args: &[&str]) -> (u16, String) {
    let mut all = vec!["-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let output = curl_output(&all);
    let (body, code) = output.trim_end().rsplit_once('\n').unwrap_or(("", &output));
    (code.trim().parse().expect("a status code"), body.to_owned())
}

/// The `__Host-sid` session cookie's value that a request to `url` is given.
fn new_session(url: &str) -> String {
    let headers = curl_output(&["-D", "-", "-o", "/dev/null", url]);
    headers
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: __Host-sid="))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("a __Host-sid cookie:\n{headers}"))
        .to_owned()
}

/// The value of the sample `name` (no labels, or with exactly `labels`) in `/metrics`.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{metrics}"))
}

fn write_config(name: &str, text: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("gateway-test-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write the config file");
    path
}

/// Sends SIGTERM and waits for the exit status.
fn terminate(gateway: &mut Gateway) -> ExitStatus {
    let pid = gateway.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
    gateway
        .wait_timeout(Duration::from_secs(15))
        .expect("the gateway exits after SIGTERM")
}

#[test]
fn banner_commands_work_for_real_and_sigterm_exits_cleanly() {
    let (Some(_), Some(_), Some(_)) = (
        testkit::require_program("curl"),
        testkit::require_program("openssl"),
        testkit::require_program("turnutils_uclient"),
    ) else {
        return;
    };
    let mut gateway = Gateway::start(&[]);

    // The TURN relay runs while the HTTPS checks do.
    let uclient = gateway.command("turnutils_uclient ");
    assert_eq!(
        uclient,
        [format!(
            "turnutils_uclient {}",
            uclient_args(&["-u", "alice", "-w", "secret"], gateway.turn).join(" ")
        )]
    );
    let relay = thread::spawn(move || run_shell(&uclient[0]));

    // 1. The signed Twilio request gets TwiML; the same request unsigned gets 403.
    let signed = gateway.command("curl ");
    assert_eq!(signed.len(), 1, "{:?}", gateway.banner);
    let (status, output) = run_shell(&format!("{} -w '\\n%{{http_code}}'", signed[0]));
    assert!(status.success(), "{output}");
    assert!(output.ends_with("\n200"), "{output}");
    assert!(
        output.contains("<Response>") && output.contains("<Hangup"),
        "{output}"
    );
    let unsigned = signed[0].replace("X-Twilio-Signature: ", "X-Twilio-Signature: x");
    let (_, output) = run_shell(&format!("{unsigned} -w '\\n%{{http_code}}'"));
    assert!(output.ends_with("\n403"), "{output}");

    // 2. openssl s_client twice: the second resumes.
    let openssl = gateway.command("(printf");
    assert_eq!(openssl.len(), 2, "{:?}", gateway.banner);
    assert!(openssl[0].contains("-sess_out") && openssl[1].contains("-sess_in"));
    let (_, first) = run_shell(&openssl[0]);
    assert!(
        first.lines().any(|l| l.starts_with("New, TLSv1.3")),
        "{first}"
    );
    let (_, second) = run_shell(&openssl[1]);
    assert!(
        second.lines().any(|l| l.starts_with("Reused, ")),
        "{second}"
    );
    assert!(
        second.lines().any(|l| l == "ok"),
        "the request was answered:\n{second}"
    );

    // /healthz, HTTP/2, the shop.
    assert_eq!(curl(&[&gateway.url("/healthz")]), (200, "ok\n".to_owned()));
    let output = curl_output(&[
        "--http2",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        &gateway.url("/healthz"),
    ]);
    assert_eq!(output, "2 200");
    let (code, page) = curl(&[&gateway.url("/shop")]);
    assert_eq!(code, 200);
    assert!(page.contains("not logged in"), "{page}");

    // 3. turnutils_uclient relayed every message through the TURN port.
    let (status, output) = relay.join().unwrap();
    assert!(status.success(), "{output}");
    assert_eq!(
        totals(&output),
        Some(Totals {
            sent: 20,
            received: 20,
            lost: 0
        }),
        "{output}"
    );

    // /metrics: every crate's counters, counting what just happened.
    let (code, metrics) = curl(&[&gateway.url("/metrics")]);
    assert_eq!(code, 200);
    assert!(sample(&metrics, "tls_resume_tickets_opened_total") >= 1);
    assert!(
        sample(
            &metrics,
            "gateway_tls_handshakes_total{outcome=\"resumed\"}"
        ) >= 1
    );
    assert!(sample(&metrics, "turn_auth_authenticated_total") >= 1);
    assert!(sample(&metrics, "turn_auth_challenges_401_total") >= 1);
    assert_eq!(
        sample(&metrics, "gateway_responses_by_code_total{code=\"403\"}"),
        1
    );
    assert!(sample(&metrics, "ratelimit_keys") >= 1);
    assert_eq!(sample(&metrics, "ratelimit_capacity"), 100_000);
    assert_eq!(
        sample(
            &metrics,
            "cookie_migrate_requests_total{outcome=\"migrated\"}"
        ),
        0
    );
    assert_eq!(sample(&metrics, "twiml_fallback_capacity"), 10_000);
    assert!(sample(&metrics, "gateway_http2_connections_total") >= 1);

    // SIGTERM: a clean exit.
    let status = terminate(&mut gateway);
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let mut gateway = Gateway::start(&[]);
    let mut client = Command::new(openssl)
        .args(["s_client", "-quiet", "-connect", &gateway.https.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start openssl s_client");
    let mut stdin = client.stdin.take().unwrap();
    let mut stdout = client.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    // The head of a webhook request; its body is still on its way when SIGTERM arrives.
    let body = "CallSid=CA1&Digits=1";
    write!(
        stdin,
        "POST /voice/next/ HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         X-Twilio-Signature: unsigned\r\n\r\n",
        body.len()
    )
    .unwrap();
    stdin.flush().unwrap();
    thread::sleep(Duration::from_millis(700));
    let pid = gateway.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    thread::sleep(Duration::from_millis(300));
    assert!(
        gateway.child.try_wait().unwrap().is_none(),
        "the gateway waits for the request in flight"
    );
    stdin.write_all(body.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let status = gateway
        .wait_timeout(Duration::from_secs(15))
        .expect("the gateway exits once the request is answered");
    assert_eq!(status.code(), Some(0), "{status}");
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    let response = reader.join().unwrap();
    assert!(
        response.starts_with("HTTP/1.1 403 Forbidden"),
        "the in-flight request was answered (its signature is wrong):\n{response}"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after_and_keys_sessions_apart() {
    let Some(_) = testkit::require_program("curl") else {
        return;
    };
    let config = write_config("limits", "[rate_limit]\nper_second = 1\nburst = 3\n");
    let gateway = Gateway::start(&["--config", config.to_str().unwrap()]);
    assert!(
        gateway
            .banner
            .iter()
            .any(|l| l.contains("rate limit: 1/s, burst 3")),
        "{:?}",
        gateway.banner
    );

    // A session first (one request from this address): the cookie is `__Host-sid`.
    let cookie = new_session(&gateway.url("/shop/cart/add?item=tea"));

    // The address's burst of 3 is spent by the fourth request: 429, with Retry-After.
    let url = gateway.url("/");
    let output = curl_output(&["-i", &url, &url, &url, &url]);
    let limited = output
        .split("HTTP/")
        .filter(|response| response.starts_with("2 429"))
        .collect::<Vec<_>>();
    assert!(!limited.is_empty(), "no 429:\n{output}");
    assert!(
        limited.iter().all(|r| r.contains("retry-after: ")),
        "{output}"
    );

    // The validated session has its own bucket; /healthz is not limited.
    let (code, page) = curl(&[
        "-H",
        &format!("Cookie: __Host-sid={cookie}"),
        &gateway.url("/shop"),
    ]);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("cart: tea"), "{page}");
    for _ in 0..5 {
        assert_eq!(curl(&[&gateway.url("/healthz")]).0, 200);
    }
    let (_, metrics) = curl(&[
        "-H",
        &format!("Cookie: __Host-sid={cookie}"),
        &gateway.url("/metrics"),
    ]);
    assert!(sample(&metrics, "gateway_responses_by_code_total{code=\"429\"}") >= 1);
    assert!(
        sample(
            &metrics,
            "cookie_migrate_requests_total{outcome=\"current\"}"
        ) >= 2
    );
}

#[test]
fn layers_none_serves_the_same_app_without_the_toolkit_layers() {
    let Some(_) = testkit::require_program("curl") else {
        return;
    };
    // A burst of 1: with the limiter, the second request from this address would get 429.
    let config = write_config(
        "none",
        "layers = \"none\"\n[rate_limit]\nper_second = 1\nburst = 1\n",
    );
    let gateway = Gateway::start(&["--config", config.to_str().unwrap()]);
    assert!(
        gateway.banner.iter().any(|l| l.contains("LAYERS: NONE")),
        "{:?}",
        gateway.banner
    );
    let url = gateway.url("/");
    let output = curl_output(&[
        "-w",
        "%{http_code} ",
        "-o",
        "/dev/null",
        &url,
        "-o",
        "/dev/null",
        &url,
        "-o",
        "/dev/null",
        &url,
    ]);
    assert_eq!(output, "200 200 200 ", "no rate limit");
    // The IVR is only served behind its signature layer: absent here.
    // HTTP/1.1: over HTTP/2 the 404 is sent before the unread body, hyper then resets the
    // stream (RST_STREAM NO_ERROR, as RFC 9113 §8.1 allows) and curl, still sending, may
    // report that as error 92.
    let (code, _) = curl(&[
        "--http1.1",
        "-X",
        "POST",
        "-d",
        "Digits=1",
        &gateway.url("/voice/next/"),
    ]);
    assert_eq!(code, 404);
    // The same app otherwise; the toolkit's counters saw nothing.
    let (code, metrics) = curl(&[
        "-H",
        "Cookie: sid=00000000000000000000000000000000",
        &gateway.url("/metrics"),
    ]);
    assert_eq!(code, 200);
    assert_eq!(sample(&metrics, "ratelimit_keys"), 0);
    assert_eq!(
        sample(
            &metrics,
            "cookie_migrate_requests_total{outcome=\"no_valid_cookie\"}"
        ),
        0
    );
    assert_eq!(
        sample(&metrics, "gateway_responses_total{class=\"2xx\"}"),
        3
    );
}

#[test]
fn a_legacy_sid_cookie_is_migrated_to_host_sid() {
    let Some(_) = testkit::require_program("curl") else {
        return;
    };
    let gateway = Gateway::start(&[]);
    let id = new_session(&gateway.url("/shop/login?user=alice"));
    // The browser still sends the old name (and a stale one first): one live session.
    let output = curl_output(&[
        "-i",
        "-H",
        &format!("Cookie: sid=00000000000000000000000000000000; sid={id}"),
        &gateway.url("/shop"),
    ]);
    assert!(output.contains("logged in as alice"), "{output}");
    assert!(
        output.contains(&format!("set-cookie: __Host-sid={id}; Path=/; Secure")),
        "{output}"
    );
    assert!(output.contains("set-cookie: sid=; Max-Age=0"), "{output}");
}

#[test]
fn redis_holds_rate_limits_sessions_and_ticket_keys() {
    let (Some(redis), Some(_), Some(_)) = (
        testkit::require_program("redis-server"),
        testkit::require_program("curl"),
        testkit::require_program("openssl"),
    ) else {
        return;
    };
    let (port, _redis) = testkit::start_redis(&redis);
    let url = format!("redis://127.0.0.1:{port}");
    let gateway = Gateway::start(&["--redis", &url]);
    assert!(
        gateway.banner.iter().any(|l| l.contains("in Redis")),
        "{:?}",
        gateway.banner
    );
    let openssl = gateway.command("(printf");
    let (_, _first) = run_shell(&openssl[0]);
    let (_, second) = run_shell(&openssl[1]);
    assert!(
        second.lines().any(|l| l.starts_with("Reused, ")),
        "{second}"
    );
    let (code, metrics) = curl(&[&gateway.url("/metrics")]);
    assert_eq!(code, 200);
    assert!(
        sample(&metrics, "ratelimit_redis_checks_total") >= 1,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "ratelimit_redis_connected"), 1);
    assert!(sample(&metrics, "tls_resume_redis_key_refreshes_total") >= 1);
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    let cases = [
        (
            "zero",
            "[rate_limit]\nper_second = 0\n",
            "rate_limit.per_second: must be at least 1",
        ),
        (
            "typo",
            "[https]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n",
            "https.lisen: unknown key",
        ),
        (
            "addr",
            "[turn]\nlisten = \"udp-somewhere\"\n",
            "turn.listen: `udp-somewhere` is not an address",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write_config(name, text);
        let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .args(["--config", path.to_str().unwrap()])
            .output()
            .expect("run the gateway");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: nothing starts");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(["--config", "/nonexistent/gateway.toml"])
        .output()
        .expect("run the gateway");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--config: cannot read"));
}

#[test]
fn the_readme_composition_example_is_the_compiled_one() {
    let readme = include_str!("../../README.md");
    let stack = include_str!("../src/gateway/stack.rs");
    let block = readme
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block in the README");
    let doc: String = stack
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        doc.contains(block.trim_end()),
        "the README's composition example must be the one compiled in gateway/stack.rs"
    );
}
