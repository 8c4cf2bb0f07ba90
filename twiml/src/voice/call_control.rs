//! Call control: `<Echo>`, `<Refer>`, `<Reject>`, and the deprecated `<Sms>`.

use super::common::{action_setters, value_enum};
use super::{Parameter, Sip};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Refer>`: the `<Sip>` URI to refer the call to.
    ReferChild: Sip
);

child_trait!(
    /// What may be nested in `<Reject>`: custom parameters for the call's status callback.
    RejectChild: Parameter
);

/// `<Echo>`: plays the caller's audio back to them, for testing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo(Element);
typed_element!(Echo);

impl Default for Echo {
    fn default() -> Self {
        Self::new()
    }
}

impl Echo {
    /// Echoes the caller.
    pub fn new() -> Self {
        Self(Element::typed("Echo"))
    }
}

/// `<Refer>`: transfers a SIP call away from Twilio with a SIP REFER.
///
/// Without an [`action`](Refer::action), Twilio continues with the next verb after the
/// REFER completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refer(Element);
typed_element!(Refer);

impl Default for Refer {
    fn default() -> Self {
        Self::new()
    }
}

impl Refer {
    /// A refer to the nested `<Sip>` URI.
    pub fn new() -> Self {
        Self(Element::typed("Refer"))
    }

    /// Nests the `<Sip>` URI the call is referred to.
    #[must_use]
    pub fn add(mut self, child: impl ReferChild) -> Self {
        self.0.push(child);
        self
    }

    action_setters!(
        /// Where Twilio posts the outcome of the REFER; its TwiML continues the call.
    );
}

value_enum!(
    /// What the caller hears when a call is rejected (`reason`; Twilio's default is
    /// `rejected`).
    RejectReason {
        /// `rejected`: a "not in service" message.
        Rejected => "rejected",
        /// `busy`: a busy signal.
        Busy => "busy",
    }
);

/// `<Reject>`: declines an incoming call without answering it (no charge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject(Element);
typed_element!(Reject);

impl Default for Reject {
    fn default() -> Self {
        Self::new()
    }
}

impl Reject {
    /// Rejects the call with Twilio's default reason.
    pub fn new() -> Self {
        Self(Element::typed("Reject"))
    }

    /// What the caller hears.
    #[must_use]
    pub fn reason(mut self, reason: RejectReason) -> Self {
        self.0.set("reason", reason.as_str());
        self
    }

    /// Nests a `<Parameter>`, sent with the call's status callback.
    #[must_use]
    pub fn add(mut self, child: impl RejectChild) -> Self {
        self.0.push(child);
        self
    }
}

/// `<Sms>`: sends a text message during a call.
///
/// Twilio documents this verb as deprecated: reply to messages with
/// [`messaging::Message`](crate::messaging::Message), and send texts during a call with the
/// Messages REST API.
#[deprecated(
    since = "0.1.0",
    note = "Twilio deprecated <Sms>: use messaging::Message for replies and the Messages REST API during calls"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms(Element);

#[allow(deprecated)]
mod sms_impl {
    use super::{AbsoluteUrl, Element, Sms, action_setters, typed_element};

    typed_element!(Sms);

    impl crate::voice::VoiceVerb for Sms {}

    impl Sms {
        /// Sends `message`.
        pub fn new(message: impl Into<String>) -> Self {
            Self(Element::typed("Sms").text(message))
        }

        /// The recipient (defaults to the caller on inbound calls, the called party on
        /// outbound calls).
        #[must_use]
        pub fn to(mut self, number: impl Into<String>) -> Self {
            self.0.set("to", number);
            self
        }

        /// The sender, an SMS-capable Twilio number.
        #[must_use]
        pub fn from(mut self, number: impl Into<String>) -> Self {
            self.0.set("from", number);
            self
        }

        action_setters!(
            /// Where Twilio posts `SmsStatus` and `SmsSid`; its TwiML continues the call.
        );

        /// Where Twilio reports the message's delivery status.
        #[must_use]
        pub fn status_callback(mut self, url: AbsoluteUrl) -> Self {
            self.0.set("statusCallback", url.into_string());
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::Method;
    use crate::voice::common::test_support::{render, url};

    #[test]
    fn echo_and_reject() {
        assert_eq!(render(Echo::new()), "<Echo />");
        assert_eq!(render(Reject::new()), "<Reject />");
        assert_eq!(
            render(
                Reject::new()
                    .reason(RejectReason::Busy)
                    .add(Parameter::new("why", "closed"))
            ),
            r#"<Reject reason="busy"><Parameter name="why" value="closed" /></Reject>"#
        );
    }

    #[test]
    fn refer_to_a_sip_uri() {
        assert_eq!(
            render(
                Refer::new()
                    .action(url("https://example.com/referred"))
                    .method(Method::Get)
                    .add(Sip::new("sip:alice@example.com?X-Ticket=1"))
            ),
            concat!(
                r#"<Refer action="https://example.com/referred" method="GET">"#,
                "<Sip>sip:alice@example.com?X-Ticket=1</Sip></Refer>"
            )
        );
    }

    #[test]
    #[allow(deprecated)]
    fn sms_renders_like_the_official_sdk() {
        assert_eq!(render(Sms::new("")), "<Sms />");
        assert_eq!(
            render(
                Sms::new("Hello, World")
                    .to("1231231234")
                    .from("3453453456")
                    .status_callback(url("https://example.com?id=34&action=hey"))
            ),
            concat!(
                r#"<Sms from="3453453456" statusCallback="https://example.com?id=34&amp;action=hey" "#,
                r#"to="1231231234">Hello, World</Sms>"#
            )
        );
        assert_eq!(
            render(
                Sms::new("Hello")
                    .method(Method::Post)
                    .action(url("https://example.com?id=34&action=hey"))
            ),
            r#"<Sms action="https://example.com?id=34&amp;action=hey" method="POST">Hello</Sms>"#
        );
    }
}
