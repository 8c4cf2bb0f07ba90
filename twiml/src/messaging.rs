//! Messaging TwiML: `<Response>` with `<Message>` replies and `<Redirect>`.
//!
//! As in [`voice`](crate::voice), every URL is an [`AbsoluteUrl`]: the `action` and
//! `statusCallback` of a message, the `<Media>` it attaches and the `<Redirect>` target.
//!
//! ```
//! use twiml::messaging::{Body, Media, Message, MessagingResponse, Redirect};
//! use twiml::{AbsoluteUrl, PublicBase};
//!
//! let base = PublicBase::parse("https://sms.example.com")?;
//! let doc = MessagingResponse::new()
//!     .add(Message::new("Thanks! Your order & receipt follow."))
//!     .add(
//!         Message::empty()
//!             .status_callback(base.join("/sms/status")?)
//!             .add(Body::new("Receipt attached."))
//!             .add(Media::new(AbsoluteUrl::parse("https://cdn.example.com/r/42.png")?)),
//!     )
//!     .add(Redirect::new(base.join("/sms/next")?));
//! assert_eq!(
//!     doc.to_xml(),
//!     concat!(
//!         r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
//!         "<Message>Thanks! Your order &amp; receipt follow.</Message>",
//!         r#"<Message statusCallback="https://sms.example.com/sms/status">"#,
//!         "<Body>Receipt attached.</Body><Media>https://cdn.example.com/r/42.png</Media>",
//!         "</Message><Redirect>https://sms.example.com/sms/next</Redirect></Response>",
//!     )
//! );
//! # Ok::<(), twiml::UrlError>(())
//! ```

use crate::AbsoluteUrl;
use crate::voice::{Method, action_setters, response_document};
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may appear directly under `<Response>` in a messaging document.
    MessagingVerb: Message, Redirect
);

child_trait!(
    /// What may be nested in `<Message>`: its `<Body>` and `<Media>`.
    MessageChild: Body, Media
);

/// A messaging TwiML document: `<Response>` and its verbs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagingResponse(Element);
response_document!(MessagingResponse, MessagingVerb);

impl MessagingResponse {
    /// An empty `<Response>`: Twilio sends no reply.
    pub fn new() -> Self {
        Self(Element::typed("Response"))
    }
}

/// `<Message>`: sends a reply (by default to the sender of the incoming message).
///
/// Twilio allows at most 10 `<Message>`s per response (error 14109).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(Element);
typed_element!(Message);

impl Message {
    /// A text message with `body` as the element's text.
    pub fn new(body: impl Into<String>) -> Self {
        Self(Element::typed("Message").text(body))
    }

    /// A message whose content is nested [`Body`] and [`Media`] elements: the form to use
    /// for media.
    pub fn empty() -> Self {
        Self(Element::typed("Message"))
    }

    /// Nests a `<Body>` or `<Media>`.
    #[must_use]
    pub fn add(mut self, child: impl MessageChild) -> Self {
        self.0.push(child);
        self
    }

    /// The recipient (defaults to the sender of the incoming message).
    #[must_use]
    pub fn to(mut self, to: impl Into<String>) -> Self {
        self.0.set("to", to);
        self
    }

    /// The sender (defaults to the number that received the incoming message).
    #[must_use]
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.0.set("from", from);
        self
    }

    action_setters!(
        /// Where Twilio posts the message's status once it is sent; its TwiML may reply.
    );

    /// Where Twilio reports delivery status.
    #[must_use]
    pub fn status_callback(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("statusCallback", url.into_string());
        self
    }
}

/// `<Body>`: the text of a `<Message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(Element);
typed_element!(Body);

impl Body {
    /// The message text.
    pub fn new(text: impl Into<String>) -> Self {
        Self(Element::typed("Body").text(text))
    }
}

/// `<Media>`: a file attached to a `<Message>` (MMS), by absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media(Element);
typed_element!(Media);

impl Media {
    /// Attaches the file at `url`.
    pub fn new(url: AbsoluteUrl) -> Self {
        Self(Element::typed("Media").text(url.into_string()))
    }
}

/// `<Redirect>`: continues with the messaging TwiML at an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect(Element);
typed_element!(Redirect);

impl Redirect {
    /// Redirects to `url`.
    pub fn new(url: AbsoluteUrl) -> Self {
        Self(Element::typed("Redirect").text(url.into_string()))
    }

    /// The method used to request `url` (Twilio's default is `POST`).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.0.set("method", method.as_str());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> AbsoluteUrl {
        AbsoluteUrl::parse(s).unwrap()
    }

    const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

    #[test]
    fn empty_response() {
        assert_eq!(
            MessagingResponse::new().to_xml(),
            format!("{DECL}<Response />")
        );
        assert_eq!(
            MessagingResponse::default().to_string(),
            MessagingResponse::new().to_xml()
        );
    }

    #[test]
    fn messages_render_like_the_official_sdk() {
        let doc = MessagingResponse::new().add(Message::new("Hello"));
        assert_eq!(
            doc.to_xml(),
            format!("{DECL}<Response><Message>Hello</Message></Response>")
        );
        let doc = MessagingResponse::new().add(
            Message::new("Hello")
                .to("+11234567890")
                .from("+10987654321")
                .method(Method::Get)
                .action(url("https://example.com/sms?id=34&action=hey"))
                .status_callback(url("https://example.com/status")),
        );
        assert_eq!(
            doc.to_xml(),
            format!(
                "{DECL}<Response><Message action=\"https://example.com/sms?id=34&amp;action=hey\" \
                 from=\"+10987654321\" method=\"GET\" statusCallback=\"https://example.com/status\" \
                 to=\"+11234567890\">Hello</Message></Response>"
            )
        );
    }

    #[test]
    fn body_and_media() {
        let doc = MessagingResponse::new().add(
            Message::empty()
                .add(Body::new("Hello friend"))
                .add(Media::new(url("https://demo.twilio.com/owl.png"))),
        );
        assert_eq!(
            doc.to_xml(),
            format!(
                "{DECL}<Response><Message><Body>Hello friend</Body>\
                 <Media>https://demo.twilio.com/owl.png</Media></Message></Response>"
            )
        );
    }

    #[test]
    fn redirect() {
        let doc = MessagingResponse::new()
            .add(Redirect::new(url("https://example.com/sms/next")).method(Method::Post));
        assert_eq!(
            doc.to_xml(),
            format!(
                "{DECL}<Response><Redirect method=\"POST\">https://example.com/sms/next\
                 </Redirect></Response>"
            )
        );
    }

    #[test]
    fn escape_hatch_is_allowed_and_still_checks_urls() {
        let doc = MessagingResponse::new()
            .add(Element::new("Future").unwrap())
            .add(Message::new("x").attr("shortenUrls", "true").unwrap());
        assert!(doc.to_xml().contains("<Future />"));
        assert!(
            doc.to_xml()
                .contains(r#"<Message shortenUrls="true">x</Message>"#)
        );
        assert!(
            Message::new("x")
                .attr("statusCallback", "/relative")
                .is_err()
        );
    }

    #[test]
    fn http_response_is_xml() {
        let response: http::Response<String> = MessagingResponse::new().into();
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], "text/xml");
        assert!(response.body().ends_with("<Response />"));
    }
}
