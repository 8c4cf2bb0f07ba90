//! Twilio webhook signatures: `RequestValidator` over an arbitrary URL, form body and JSON
//! body, the URL types' parsers (`AbsoluteUrl`, `WebSocketUrl`, `PublicBase`), and the
//! `TwilioSignature` service over a request built from the same fields.
//!
//! Input: fields separated by `\n--\n`: URL, form body, JSON body, signature, request
//! target (path and query), forwarded headers (one `name: value` per line).
//!
//! Invariants beyond "never panics":
//! - a signature computed for a URL and parameters validates, and not under another token;
//! - a body signed with `bodySHA256` validates, and not with another body;
//! - parsed URLs print back to what parses to the same URL, and their parts are slices of it;
//! - the service passes a form request (or a JSON request with `bodySHA256`) signed for the
//!   public URL, from an untrusted peer whatever forwarded headers it carries, and refuses
//!   the same request with a wrong signature.

#![no_main]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use toolkit_fuzz::{block_on, fields, lines};
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use twiml::url::Scheme;
use twiml::{AbsoluteUrl, PublicBase, RequestValidator, TwilioSignatureLayer, WebSocketUrl};

const TOKEN: &str = "12345";

fn hex_sha256(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 6);
    let url = String::from_utf8_lossy(f[0]);
    let form = f[1];
    let json = f[2];
    let signature = String::from_utf8_lossy(f[3]);
    let target = String::from_utf8_lossy(f[4]);
    let forwarded = f[5];

    let validator = RequestValidator::new(TOKEN);
    let other = RequestValidator::new("54321").with_secondary("67890");
    let owned: Vec<(String, String)> = form_urlencoded::parse(form).into_owned().collect();
    let params = || owned.iter().map(|(k, v)| (k, v));

    // Arbitrary signatures, URLs and bodies.
    let computed = validator.compute_signature(&url, params());
    let _ = validator.validate(&url, params(), &signature);
    let _ = validator.validate_body(&url, json, &signature);

    // Computed signatures validate, under this token only.
    assert!(
        validator.validate(&url, params(), &computed),
        "own signature refused"
    );
    assert!(
        !other.validate(&url, params(), &computed),
        "another token's validator accepted"
    );

    // JSON bodies: sign the URL with bodySHA256 appended.
    if !url.contains('#') && !url.contains("bodySHA256") {
        let separator = if url.contains('?') { '&' } else { '?' };
        let signed_url = format!("{url}{separator}bodySHA256={}", hex_sha256(json));
        let body_signature = validator.compute_signature(&signed_url, [("", ""); 0]);
        assert!(validator.validate_body(&signed_url, json, &body_signature));
        let mut tampered = json.to_vec();
        tampered.push(b' ');
        assert!(!validator.validate_body(&signed_url, &tampered, &body_signature));
    }

    check_urls(&url);
    check_service(&validator, &target, form, json, forwarded);
});

fn check_urls(input: &str) {
    if let Ok(url) = AbsoluteUrl::parse(input) {
        let again = AbsoluteUrl::parse(url.as_str()).expect("a parsed URL parses again");
        assert_eq!(again, url);
        assert!(url.as_str().contains(url.host()));
        assert!(url.as_str().ends_with(url.path_and_query()));
        assert!(matches!(url.scheme(), Scheme::Http | Scheme::Https));
    }
    if let Ok(url) = WebSocketUrl::parse(input) {
        let again = WebSocketUrl::parse(url.as_str()).expect("a parsed URL parses again");
        assert_eq!(again, url);
        assert!(url.as_str().contains(url.host()));
    }
    if let Ok(base) = PublicBase::parse(input) {
        let again = PublicBase::parse(&base.to_string()).expect("a base parses again");
        assert_eq!(again, base);
        let _ = base.join("/voice");
        if let Some((_, path)) = input.split_once("://").and_then(|(_, r)| r.split_once('/')) {
            let _ = base.join(&format!("/{path}"));
        }
    }
}

fn check_service(
    validator: &RequestValidator,
    target: &str,
    form: &[u8],
    json: &[u8],
    forwarded: &[u8],
) {
    let base = PublicBase::parse("https://ivr.example.com/twilio").expect("a valid base");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = service_fn(move |_req: Request<Full<Bytes>>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("ok")))
        }
    });
    let layer = TwilioSignatureLayer::new(validator.clone(), base.clone())
        .body_limit(64 * 1024)
        .trust_forwarded_headers(["10.0.0.0/8".parse().expect("a literal network")]);
    let mut service = layer.layer(inner);

    let target = if target.starts_with('/') {
        target
    } else {
        "/voice"
    };
    let Ok(uri) = target.parse::<http::Uri>() else {
        return;
    };
    let Some(path_and_query) = uri.path_and_query().map(|pq| pq.as_str().to_owned()) else {
        return;
    };
    // A target that names `bodySHA256` already is judged as a signed body; the probes below
    // add it themselves (JSON) or must not carry it (form).
    if path_and_query.contains('#') || path_and_query.contains("bodySHA256") {
        return;
    }
    for (peer, is_json) in [
        ("203.0.113.9:443", false),
        ("10.1.2.3:443", false),
        ("203.0.113.9:443", true),
    ] {
        let trusted_peer = peer.starts_with("10.");
        let (uri, body, content_type) = if is_json {
            let separator = if path_and_query.contains('?') {
                '&'
            } else {
                '?'
            };
            let pq = format!("{path_and_query}{separator}bodySHA256={}", hex_sha256(json));
            (pq, json, "application/json")
        } else {
            (
                path_and_query.clone(),
                form,
                "application/x-www-form-urlencoded",
            )
        };
        let Ok(uri) = uri.parse::<http::Uri>() else {
            continue;
        };
        let url = base.request_url(uri.path_and_query().map_or("/", |pq| pq.as_str()));
        let signature = if is_json {
            validator.compute_signature(&url, [("", ""); 0])
        } else {
            validator.compute_signature(&url, form_urlencoded::parse(body))
        };
        for good in [true, false] {
            let mut builder = Request::post(uri.clone()).header("content-type", content_type);
            for line in lines(forwarded) {
                let Some(at) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(line[..at].trim_ascii()),
                    HeaderValue::from_bytes(line[at + 1..].trim_ascii()),
                ) else {
                    continue;
                };
                if name.as_str().starts_with("x-twilio") || name == http::header::CONTENT_LENGTH {
                    continue;
                }
                builder = builder.header(name, value);
            }
            let sig = if good {
                signature.clone()
            } else {
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned()
            };
            let Ok(mut request) = builder
                .header("x-twilio-signature", sig)
                .body(Full::new(Bytes::copy_from_slice(body)))
            else {
                continue;
            };
            request
                .extensions_mut()
                .insert(peer.parse::<SocketAddr>().expect("a literal address"));
            let before = calls.load(Ordering::Relaxed);
            let response = block_on(async {
                ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                    .await?
                    .call(request)
                    .await
            })
            .unwrap_or_else(|e: Infallible| match e {});
            let passed = calls.load(Ordering::Relaxed) == before + 1;
            assert_eq!(passed, response.status() == StatusCode::OK);
            if !good {
                assert!(!passed, "a wrong signature passed");
            } else if !trusted_peer {
                // An untrusted peer's forwarded headers are ignored: the public URL counts.
                assert!(
                    passed,
                    "a correctly signed request was refused: {}",
                    response.status()
                );
            }
        }
    }
}
