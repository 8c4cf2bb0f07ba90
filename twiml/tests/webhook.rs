//! The signature layer as a tower service: what reaches the inner service, and what is refused.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use tower::{Service, ServiceExt, service_fn};
use twiml::{PublicBase, RequestValidator, TwilioSignatureLayer};

const TOKEN: &str = "12345";
const FORM: &str = "application/x-www-form-urlencoded";

/// An inner service that echoes the body it received, so tests see exactly what passed.
fn echo() -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    service_fn(|req: Request<Full<Bytes>>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Ok::<_, Infallible>(Response::new(Full::new(body)))
    })
}

fn layer(base: &str) -> TwilioSignatureLayer {
    TwilioSignatureLayer::new(
        RequestValidator::new(TOKEN),
        PublicBase::parse(base).unwrap(),
    )
}

fn sign(url: &str, params: &[(&str, &str)]) -> String {
    RequestValidator::new(TOKEN).compute_signature(url, params.iter().copied())
}

fn form_body(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn send<B>(layer: TwilioSignatureLayer, request: Request<B>) -> (StatusCode, Bytes)
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = tower::ServiceBuilder::new().layer(layer).service(echo());
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    (
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn post(target: &str, signature: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(target).header("content-type", FORM);
    if let Some(sig) = signature {
        builder = builder.header("x-twilio-signature", sig);
    }
    builder.body(Full::from(body.to_owned())).unwrap()
}

const PARAMS: &[(&str, &str)] = &[
    ("AccountSid", "AC0000000000000000000000000000000"),
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1"),
    ("From", "+14158675309"),
    ("SpeechResult", "yes & \"no\" <maybe> it's"),
    ("To", "+18005551212"),
];

#[tokio::test]
async fn valid_form_post_reaches_inner_service_with_identical_body() {
    let body = form_body(PARAMS);
    let sig = sign("https://ivr.example.com/voice?step=1", PARAMS);
    let (status, seen) = send(
        layer("https://ivr.example.com"),
        post("/voice?step=1", Some(&sig), &body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen, body.as_bytes());
}

#[tokio::test]
async fn incident_trailing_slash_request_validates() {
    // Twilio requested `https://example.com/next_action/` after a <Gather> timed out and
    // <Redirect> fired; the app hashed the slash-less URL its framework gave it.
    let twilio_url = "https://example.com/next_action/";
    let sig = sign(twilio_url, PARAMS);
    let rebuilt_by_framework = "https://example.com/next_action";
    assert!(!RequestValidator::new(TOKEN).validate(
        rebuilt_by_framework,
        PARAMS.iter().copied(),
        &sig
    ));

    let (status, _) = send(
        layer("https://example.com"),
        post("/next_action/", Some(&sig), &form_body(PARAMS)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn path_prefix_of_the_public_base_is_part_of_the_url() {
    let sig = sign("https://example.com/twilio/voice", PARAMS);
    let (status, _) = send(
        layer("https://example.com/twilio/"),
        post("/voice", Some(&sig), &form_body(PARAMS)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn forged_signature_is_forbidden_with_a_reason() {
    let sig = sign("https://ivr.example.com/voice", PARAMS);
    let mut tampered = PARAMS.to_vec();
    tampered[2] = ("Digits", "9");
    let (status, reason) = send(
        layer("https://ivr.example.com"),
        post("/voice", Some(&sig), &form_body(&tampered)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reason, "invalid Twilio signature\n");
}

#[tokio::test]
async fn missing_or_empty_header_is_a_bad_request() {
    for sig in [None, Some("")] {
        let (status, reason) = send(
            layer("https://ivr.example.com"),
            post("/voice", sig, &form_body(PARAMS)),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sig:?}");
        assert_eq!(reason, "missing X-Twilio-Signature header\n");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_declared_or_streamed() {
    let big = "a=".to_owned() + &"x".repeat(2000);
    let sig = sign("https://ivr.example.com/voice", &[("a", &big[2..])]);
    // Full knows its length up front.
    let (status, _) = send(
        layer("https://ivr.example.com").body_limit(1024),
        post("/voice", Some(&sig), &big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // A streamed body of unknown length is cut off while reading.
    let chunks = big
        .as_bytes()
        .chunks(100)
        .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect::<Vec<_>>();
    let streamed = Request::post("/voice")
        .header("content-type", FORM)
        .header("x-twilio-signature", &sig)
        .body(StreamBody::new(futures_util_stream(chunks)))
        .unwrap();
    let (status, reason) = send(layer("https://ivr.example.com").body_limit(1024), streamed).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reason, "request body too large\n");

    // Under the limit, the same request passes.
    let (status, _) = send(
        layer("https://ivr.example.com").body_limit(4096),
        post("/voice", Some(&sig), &big),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// A minimal `Stream` over ready items, to avoid a dependency for one test.
fn futures_util_stream<T: Unpin>(items: Vec<T>) -> impl futures_core::Stream<Item = T> {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T: Unpin> futures_core::Stream for Iter<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}

#[tokio::test]
async fn json_body_is_validated_through_body_sha256() {
    let body = r#"{"property": "value", "boolean": true}"#;
    let url = "https://ivr.example.com/events?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    let sig = sign(url, &[]);
    let request = |body: &str, target: &str| {
        Request::post(target)
            .header("content-type", "application/json")
            .header("x-twilio-signature", &sig)
            .body(Full::<Bytes>::from(body.to_owned()))
            .unwrap()
    };
    let target = &url["https://ivr.example.com".len()..];
    let (status, seen) = send(layer("https://ivr.example.com"), request(body, target)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen, body.as_bytes());

    let (status, _) = send(layer("https://ivr.example.com"), request("{}", target)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A JSON body without bodySHA256 is not covered by any signature.
    let (status, reason) = send(layer("https://ivr.example.com"), request(body, "/events")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&reason).contains("bodySHA256"));
}

#[tokio::test]
async fn get_requests_sign_the_query_only() {
    let url = "https://ivr.example.com/status?CallSid=CA1&CallStatus=completed";
    let request = Request::get("/status?CallSid=CA1&CallStatus=completed")
        .header("x-twilio-signature", sign(url, &[]))
        .body(Full::<Bytes>::default())
        .unwrap();
    let (status, _) = send(layer("https://ivr.example.com"), request).await;
    assert_eq!(status, StatusCode::OK);
}

fn from_peer(mut request: Request<Full<Bytes>>, peer: &str) -> Request<Full<Bytes>> {
    request
        .extensions_mut()
        .insert(peer.parse::<SocketAddr>().unwrap());
    request
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let public_sig = sign("https://public.example.com/voice", PARAMS);
    let tenant_sig = sign("https://tenant.example.org/voice", PARAMS);
    let trusting = || {
        layer("https://public.example.com").trust_forwarded_headers(["10.0.0.0/8".parse().unwrap()])
    };
    let with_xff = |sig: &str| {
        let mut r = post("/voice", Some(sig), &form_body(PARAMS));
        r.headers_mut()
            .insert("x-forwarded-proto", "https".parse().unwrap());
        r.headers_mut()
            .insert("x-forwarded-host", "tenant.example.org".parse().unwrap());
        r
    };

    // From a trusted proxy, the forwarded host is the URL's host.
    let (status, _) = send(
        trusting(),
        from_peer(with_xff(&tenant_sig), "10.1.2.3:5000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // From anyone else, forwarded headers are ignored: the public base applies.
    let (status, _) = send(
        trusting(),
        from_peer(with_xff(&tenant_sig), "203.0.113.9:5000"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        trusting(),
        from_peer(with_xff(&public_sig), "203.0.113.9:5000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Without the option, no peer is trusted.
    let (status, _) = send(
        layer("https://public.example.com"),
        from_peer(with_xff(&tenant_sig), "10.1.2.3:5000"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // RFC 7239 `Forwarded`, several hops: the last element is the one our proxy wrote.
    let mut r = post("/voice", Some(&tenant_sig), &form_body(PARAMS));
    r.headers_mut().insert(
        "forwarded",
        r#"for=198.51.100.7;host=evil.example;proto=http, for=192.0.2.60;proto=https;host="tenant.example.org""#
            .parse()
            .unwrap(),
    );
    let (status, _) = send(trusting(), from_peer(r, "10.9.9.9:443")).await;
    assert_eq!(status, StatusCode::OK);
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn rejections_are_logged_without_token_or_signature() {
    let sig = sign("https://ivr.example.com/other", PARAMS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // tracing caches each callsite's interest. Another test thread registering the same
    // callsite while this subscriber is installed can leave it cached as "never", so the
    // cache is rebuilt and the request replayed (a bounded number of times) until this
    // subscriber is reached at all; what it then captures is asserted below.
    let mut log = String::new();
    for _ in 0..5 {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::callsite::rebuild_interest_cache();
            let (status, _) = runtime.block_on(send(
                layer("https://ivr.example.com"),
                post("/voice?secret=1", Some(&sig), &form_body(PARAMS)),
            ));
            assert_eq!(status, StatusCode::FORBIDDEN);
        });
        log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        if !log.is_empty() {
            break;
        }
    }
    assert!(log.contains("Twilio webhook rejected"), "{log}");
    assert!(log.contains("status=403"), "{log}");
    assert!(
        log.contains("path=\"/voice\"") || log.contains("path=/voice"),
        "{log}"
    );
    assert!(!log.contains(TOKEN), "{log}");
    assert!(!log.contains(&sig[..8]), "{log}");
    assert!(!log.contains("secret=1"), "{log}");
}

#[tokio::test]
async fn works_as_an_axum_router_layer() {
    use axum::{Router, routing::post as axum_post};
    let app: Router = Router::new()
        .route(
            "/voice/next/",
            axum_post(|body: String| async move { format!("got {} bytes", body.len()) }),
        )
        .layer(layer("https://ivr.example.com"));
    let body = form_body(PARAMS);
    let sig = sign("https://ivr.example.com/voice/next/", PARAMS);
    let request = Request::post("/voice/next/")
        .header("content-type", FORM)
        .header("x-twilio-signature", &sig)
        .body(axum::body::Body::from(body.clone()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(text, format!("got {} bytes", body.len()).as_bytes());

    let forged = Request::post("/voice/next/")
        .header("content-type", FORM)
        .header(
            "x-twilio-signature",
            sign("https://ivr.example.com/voice/next", PARAMS),
        )
        .body(axum::body::Body::from(body))
        .unwrap();
    assert_eq!(
        app.oneshot(forged).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}
