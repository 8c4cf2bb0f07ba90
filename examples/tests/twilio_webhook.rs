//! Runs the `twilio-webhook` example and talks to it over loopback with real HTTP clients:
//! curl (the command the example prints) and a hyper client walking the IVR.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use testkit::ChildGuard;
use twiml::RequestValidator;

const TOKEN: &str = "e2e-test-token";

struct Example {
    _child: ChildGuard,
    origin: String,
    curl: String,
}

fn start_example() -> Example {
    let mut command = Command::new(env!("CARGO_BIN_EXE_twilio-webhook"));
    command
        .args(["--port", "0"])
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("RUST_LOG", "warn");
    let mut child = ChildGuard::spawn(command).expect("start twilio-webhook");
    let lines = child
        .read_until(Duration::from_secs(30), |line| line.starts_with("curl "))
        .expect("the example prints a curl command");
    let origin = lines
        .iter()
        .find_map(|l| l.strip_prefix("twilio-webhook listening on "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the example prints where it listens")
        .to_owned();
    let curl = lines.last().unwrap().clone();
    Example {
        _child: child,
        origin,
        curl,
    }
}

/// Runs a shell command line and returns (HTTP status, body), using curl's `-w`.
fn run_curl(command_line: &str) -> (u16, String) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{command_line} -w '\\n%{{http_code}}'"))
        .output()
        .expect("run curl");
    assert!(output.status.success(), "curl failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_owned())
}

#[test]
fn printed_curl_command_is_accepted_and_a_forged_one_is_refused() {
    if testkit::require_program("curl").is_none() {
        return;
    }
    let example = start_example();
    let (status, body) = run_curl(&example.curl);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#),
        "{body}"
    );
    assert!(body.ends_with("<Hangup /></Response>"), "{body}");

    // The same request with one parameter changed: the signature no longer matches.
    let forged = example.curl.replace("in-progress", "completed");
    assert_ne!(forged, example.curl);
    let (status, body) = run_curl(&forged);
    assert_eq!(status, 403);
    assert_eq!(body, "invalid Twilio signature\n");

    // No signature at all.
    let unsigned = example
        .curl
        .split(" -H 'X-Twilio-Signature:")
        .next()
        .unwrap()
        .to_owned()
        + " --data 'CallSid=CA1'";
    let (status, _) = run_curl(&unsigned);
    assert_eq!(status, 400);
}

async fn post_signed(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    origin: &str,
    url: &str,
    params: &[(&str, &str)],
    token: &str,
) -> (StatusCode, String) {
    let signature = RequestValidator::new(token).compute_signature(url, params.iter().copied());
    let path = url
        .strip_prefix(origin)
        .expect("the URL is on the example's origin");
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let request = Request::post(format!("{origin}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(Full::from(body))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[test]
fn hyper_client_walks_the_ivr_to_the_trailing_slash_step() {
    let example = start_example();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let origin = example.origin.as_str();
        let call = [("CallSid", "CA42"), ("From", "+14155550100")];

        let (status, doc) =
            post_signed(&client, origin, &format!("{origin}/voice"), &call, TOKEN).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        let xml = roxmltree::Document::parse(&doc).expect("well-formed TwiML");
        let redirect = xml
            .descendants()
            .find(|n| n.has_tag_name("Redirect"))
            .and_then(|n| n.text())
            .expect("the welcome document redirects when the gather times out")
            .to_owned();
        let action = xml
            .descendants()
            .find(|n| n.has_tag_name("Gather"))
            .and_then(|n| n.attribute("action"))
            .expect("the gather has an explicit action")
            .to_owned();
        // Every URL in the document is absolute, on the public base.
        assert!(
            redirect.starts_with(&format!("{origin}/voice/next/?")),
            "{redirect}"
        );
        assert!(
            action.starts_with(&format!("{origin}/voice/menu?")),
            "{action}"
        );

        // Twilio follows the Redirect, signing the URL exactly as written: trailing slash.
        let (status, doc) = post_signed(&client, origin, &redirect, &call, TOKEN).await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert!(doc.contains("Goodbye"), "{doc}");

        // The caller pressed 1.
        let digits = [("CallSid", "CA42"), ("Digits", "1")];
        let (status, doc) = post_signed(&client, origin, &action, &digits, TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc.contains("news"), "{doc}");

        // Signed with another account's token: refused.
        let (status, body) = post_signed(&client, origin, &redirect, &call, "another-token").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body, "invalid Twilio signature\n");

        // The fallback URL ends a failing call after two retries.
        let failure = [
            ("CallSid", "CA-loop"),
            ("ErrorCode", "11200"),
            ("ErrorUrl", action.as_str()),
        ];
        let fallback = format!("{origin}/voice/fallback");
        for _ in 0..2 {
            let (status, doc) = post_signed(&client, origin, &fallback, &failure, TOKEN).await;
            assert_eq!(status, StatusCode::OK);
            assert!(doc.contains("<Gather"), "a retry re-serves the step: {doc}");
        }
        let (_, doc) = post_signed(&client, origin, &fallback, &failure, TOKEN).await;
        assert!(
            doc.ends_with("<Hangup /></Response>") && !doc.contains("<Gather"),
            "{doc}"
        );
    });
}

#[test]
fn invalid_arguments_exit_with_code_2_and_say_why() {
    let output = Command::new(env!("CARGO_BIN_EXE_twilio-webhook"))
        .args(["--public-base", "/relative"])
        .args(["--port", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--public-base") && stderr.contains("relative"),
        "{stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_twilio-webhook"))
        .args(["--port", "http"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--port"));
}
