//! The simple verbs: `<Play>`, `<Pause>`, `<Redirect>`, `<Hangup>`.

use std::time::Duration;

use super::common::secs;
use super::{Method, Parameter};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Hangup>`: custom parameters for the call's status callback.
    HangupChild: Parameter
);

/// `<Play>`: plays an audio file, whose URL is absolute by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play(Element);
typed_element!(Play);

impl Play {
    /// Plays the audio at `url`.
    pub fn new(url: AbsoluteUrl) -> Self {
        Self(Element::typed("Play").text(url.into_string()))
    }

    /// Plays DTMF tones instead of a file (`w` is a half-second pause).
    pub fn digits(digits: impl Into<String>) -> Self {
        let mut element = Element::typed("Play");
        element.set("digits", digits);
        Self(element)
    }

    /// How many times to play it; `0` repeats until the call ends.
    #[must_use]
    pub fn loop_count(mut self, times: u32) -> Self {
        self.0.set("loop", times.to_string());
        self
    }
}

/// `<Pause>`: waits silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause(Element);
typed_element!(Pause);

impl Default for Pause {
    fn default() -> Self {
        Self::new()
    }
}

impl Pause {
    /// Pauses for Twilio's default of one second.
    pub fn new() -> Self {
        Self(Element::typed("Pause"))
    }

    /// Pauses for `length`, in whole seconds (rounded down).
    #[must_use]
    pub fn length(mut self, length: Duration) -> Self {
        self.0.set("length", secs(length));
        self
    }
}

/// `<Redirect>`: continues the call with the document at an absolute URL.
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

/// `<Hangup>`: ends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup(Element);
typed_element!(Hangup);

impl Default for Hangup {
    fn default() -> Self {
        Self::new()
    }
}

impl Hangup {
    /// Ends the call.
    pub fn new() -> Self {
        Self(Element::typed("Hangup"))
    }

    /// Nests a `<Parameter>`, sent with the call's status callback.
    #[must_use]
    pub fn add(mut self, child: impl HangupChild) -> Self {
        self.0.push(child);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::Say;
    use crate::voice::common::test_support::url;

    #[test]
    fn verbs_render_like_the_official_sdk() {
        assert_eq!(
            Play::new(url("https://cdn.example.com/a.mp3"))
                .as_element()
                .to_string(),
            "<Play>https://cdn.example.com/a.mp3</Play>"
        );
        assert_eq!(
            Play::digits("ww12").as_element().to_string(),
            r#"<Play digits="ww12" />"#
        );
        assert_eq!(
            Pause::new()
                .length(Duration::from_millis(2500))
                .as_element()
                .to_string(),
            r#"<Pause length="2" />"#
        );
        assert_eq!(
            Redirect::new(url("https://example.com/next/"))
                .method(Method::Get)
                .as_element()
                .to_string(),
            r#"<Redirect method="GET">https://example.com/next/</Redirect>"#
        );
        assert_eq!(Hangup::new().as_element().to_string(), "<Hangup />");
        assert_eq!(
            Hangup::new()
                .add(Parameter::new("reason", "done"))
                .as_element()
                .to_string(),
            r#"<Hangup><Parameter name="reason" value="done" /></Hangup>"#
        );
    }

    #[test]
    fn escape_hatch_adds_unknown_attributes() {
        let say = Say::new("Hi").attr("newFeature", "on").unwrap();
        assert_eq!(say.as_element().get_attr("newFeature"), Some("on"));
        assert!(
            Play::new(url("https://e.com/a.mp3"))
                .attr("statusCallback", "/x")
                .is_err()
        );
    }
}
