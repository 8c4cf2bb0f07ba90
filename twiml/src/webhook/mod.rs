//! A tower middleware that lets through only requests Twilio signed.
//!
//! [`TwilioSignatureLayer`] rebuilds the URL exactly as Twilio requested it — scheme and
//! host from the configured [`PublicBase`](crate::PublicBase), path and query taken raw
//! from the request target with any trailing slash intact — buffers the body (64 KiB by
//! default), checks `X-Twilio-Signature` with a [`RequestValidator`](crate::RequestValidator),
//! and hands the inner service the request with the identical body.
//!
//! | request | answer |
//! |---|---|
//! | no `X-Twilio-Signature` header | `400 Bad Request` |
//! | body over the limit | `413 Payload Too Large` |
//! | signature does not match | `403 Forbidden` |
//! | signature matches | the inner service's response |
//!
//! Form bodies (`application/x-www-form-urlencoded`) are validated with their decoded
//! parameters; JSON and other bodies through the `bodySHA256` query parameter Twilio adds.
//! Every rejection emits a `tracing` event at `WARN` (target `twiml::webhook`) with the
//! status, the reason, the method and the path; it never contains the auth token or the
//! signature.
//!
//! # With axum 0.8
//!
//! ```
//! use axum::{Router, routing::post};
//! use twiml::{PublicBase, RequestValidator, TwilioSignatureLayer};
//! use twiml::voice::{Say, VoiceResponse};
//!
//! async fn voice() -> axum::response::Response {
//!     VoiceResponse::new().add(Say::new("Hello")).into_http_response()
//! }
//!
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let app: Router = Router::new()
//!     .route("/voice/next/", post(voice))
//!     .layer(TwilioSignatureLayer::new(RequestValidator::new("your-auth-token"), base));
//! # Ok::<(), twiml::UrlError>(())
//! ```
//!
//! # With hyper 1 (or any tower service)
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use twiml::{PublicBase, RequestValidator, TwilioSignatureLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let validator = RequestValidator::new("12345");
//! let base = PublicBase::parse("https://example.com")?;
//! let service = ServiceBuilder::new()
//!     .layer(TwilioSignatureLayer::new(validator.clone(), base))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("ok")))
//!     }));
//!
//! let body = "CallSid=CA123&Digits=1";
//! let signature = validator.compute_signature(
//!     "https://example.com/next_action/",
//!     [("CallSid", "CA123"), ("Digits", "1")],
//! );
//! let request = Request::post("/next_action/")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .header("x-twilio-signature", signature)
//!     .body(Full::<Bytes>::from(body))?;
//! let response = service.clone().oneshot(request).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let forged = Request::post("/next_action/")
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .header("x-twilio-signature", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
//!     .body(Full::<Bytes>::from(body))?;
//! let response = service.oneshot(forged).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! Served by hyper 1, one connection at a time:
//!
//! ```no_run
//! # use std::convert::Infallible;
//! # use bytes::Bytes;
//! # use http::{Request, Response};
//! # use http_body_util::Full;
//! # use tower::{ServiceBuilder, service_fn};
//! # use twiml::{PublicBase, RequestValidator, TwilioSignatureLayer};
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let service = ServiceBuilder::new()
//!     .layer(TwilioSignatureLayer::new(
//!         RequestValidator::new("your-auth-token"),
//!         PublicBase::parse("https://ivr.example.com")?,
//!     ))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("<Response/>")))
//!     }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (stream, peer) = listener.accept().await?;
//!     // The peer address, for `trust_forwarded_headers`.
//!     let service = tower::ServiceBuilder::new()
//!         .map_request(move |mut req: Request<hyper::body::Incoming>| {
//!             req.extensions_mut().insert(peer);
//!             req
//!         })
//!         .service(service.clone());
//!     tokio::spawn(
//!         http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)),
//!     );
//! }
//! # }
//! ```
//!
//! # Behind a proxy
//!
//! Configure the public base Twilio uses; that is all most deployments need. Only when
//! one service is reached under several hosts, enable
//! [`TwilioSignatureLayer::trust_forwarded_headers`] with the addresses of your proxies:
//! then `Forwarded` (or `X-Forwarded-Proto` / `X-Forwarded-Host`) from a connection whose
//! peer is one of them sets scheme and host. The value written by the proxy that connects
//! to this server (the last one) is used, so that proxy must set or append it. The peer
//! address is read from the request extensions: a `std::net::SocketAddr`, or, with the
//! `axum` feature, axum's `ConnectInfo<SocketAddr>`.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::TwilioSignatureLayer;
pub use service::TwilioSignature;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default limit on buffered request bodies: 64 KiB, far above any Twilio webhook.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The header Twilio signs requests with.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";
