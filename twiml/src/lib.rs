//! Typed TwiML that cannot contain a relative URL, a Twilio request-signature validator that
//! matches the official SDKs, and the tower layer that applies it.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod response;
pub mod url;
pub mod voice;
mod xml;

pub use url::{AbsoluteUrl, PublicBase, UrlError, WebSocketUrl};
pub use xml::{Element, ExtensionError};
pub mod signature;
pub use signature::RequestValidator;
pub mod webhook;
pub use webhook::TwilioSignatureLayer;
pub mod fallback;
pub use fallback::FallbackGuard;
