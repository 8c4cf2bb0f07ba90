//! Typed TwiML that cannot contain a relative URL, a Twilio request-signature validator that
//! matches the official SDKs, and the tower layer that applies it.
//!
//! ```
//! use twiml::voice::{Action, Gather, Play, Redirect, Say, VoiceResponse};
//! use twiml::{AbsoluteUrl, PublicBase, RequestValidator};
//!
//! // Every URL in a document is absolute: built from the app's public base…
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let doc = VoiceResponse::new()
//!     .add(Play::new(AbsoluteUrl::parse("https://cdn.example.com/hello.mp3")?))
//!     .add(Gather::new(Action::Url(base.join("/voice/menu")?)).add(Say::new("Press 1.")))
//!     .add(Redirect::new(base.join("/voice/next/")?));
//! assert!(doc.to_xml().contains("<Play>https://cdn.example.com/hello.mp3</Play>"));
//! assert!(doc.to_xml().contains("<Redirect>https://ivr.example.com/voice/next/</Redirect>"));
//!
//! // …and a relative one cannot be written at all.
//! assert!(AbsoluteUrl::parse("/files/goodbye.mp3").is_err());
//!
//! // Webhooks are checked against the URL exactly as Twilio requested it.
//! let validator = RequestValidator::new("12345");
//! let url = "https://ivr.example.com/voice/next/";
//! let signature = validator.compute_signature(url, [("CallSid", "CA1")]);
//! assert!(validator.validate(url, [("CallSid", "CA1")], &signature));
//! assert!(!validator.validate("https://ivr.example.com/voice/next", [("CallSid", "CA1")], &signature));
//! # Ok::<(), twiml::UrlError>(())
//! ```
//!
//! # What it prevents
//!
//! A large Twilio IVR saw three rare failures, each about once in tens of thousands of
//! calls; this crate answers each:
//!
//! - **Relative media URLs fetched from the wrong host.** Twilio occasionally resolved
//!   `<Play>/files/goodbye.mp3</Play>` against the CDN host of an earlier `<Play>`. Here
//!   every URL-bearing attribute and URL element text takes an [`AbsoluteUrl`] (or a
//!   [`WebSocketUrl`] for media streams), built from a [`PublicBase`]; the escape hatch for
//!   unknown attributes ([`Element::attr`]) refuses relative values in URL attributes too.
//!   `<Gather>` and `<Record>`, whose `action` defaults to the current document (a known
//!   source of loops), take their [`voice::Action`] explicitly.
//! - **Valid webhooks rejected because the URL was rebuilt.** A framework stripped the
//!   trailing slash of `https://example.com/next_action/` before validation.
//!   [`TwilioSignatureLayer`] takes scheme and host from configuration and path and query
//!   raw from the request target; [`RequestValidator`] never re-serialises a URL.
//! - **Fallback loops.** [`FallbackGuard`] gives each call a bounded number of retries
//!   through the fallback URL, then ends it; [`fallback::tag_step`] makes each step's URLs
//!   distinct so a failure's `ErrorUrl` names the step.
//!
//! # Modules
//!
//! | module | what |
//! |---|---|
//! | [`voice`], [`messaging`] | typed builders for every voice verb and noun, and messaging |
//! | [`url`] | [`AbsoluteUrl`], [`WebSocketUrl`], [`PublicBase`] |
//! | [`signature`] | [`RequestValidator`] |
//! | [`webhook`] | [`TwilioSignatureLayer`]: the tower middleware (axum 0.8, hyper 1) |
//! | [`fallback`] | [`FallbackGuard`], step tags |
//!
//! # Feature flags
//!
//! | feature | default | what |
//! |---|---|---|
//! | `axum` | no | the layer also reads the peer address from axum's `ConnectInfo<SocketAddr>` (for trusted proxies) |
//!
//! # Dependencies
//!
//! Beyond the family's common set (tower, http, hmac/sha1/sha2, thiserror, tracing, lru),
//! this crate uses `subtle` for constant-time comparison and `zeroize` (through the
//! RustCrypto `zeroize` features) so keyed HMAC state is wiped on drop; `base64` for the
//! signature encoding; `form_urlencoded` to decode form bodies exactly as Twilio encodes
//! them (decoding only: nothing signed is re-serialised); `ipnet` for trusted-proxy
//! networks; `http-body-util` and `pin-project-lite` to buffer bodies inside a
//! poll-based future, as tower-http does.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Builders nest children with `add(self, child) -> Self`, the name users of TwiML SDKs
// expect; it is not arithmetic, so `std::ops::Add` would be the wrong trait.
#![allow(clippy::should_implement_trait)]

pub mod fallback;
pub mod messaging;
pub mod signature;
pub mod url;
pub mod voice;
pub mod webhook;

mod response;
mod xml;

pub use fallback::FallbackGuard;
pub use signature::RequestValidator;
pub use url::{AbsoluteUrl, PublicBase, UrlError, WebSocketUrl};
pub use webhook::TwilioSignatureLayer;
pub use xml::{Element, ExtensionError};
