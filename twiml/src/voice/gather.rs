//! `<Gather>`: collects digits or speech.

use std::time::Duration;

use super::common::{comma_separated, secs, space_separated};
use super::{Action, Method, Pause, Play, Say};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

/// What `<Gather>` listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GatherInput {
    /// Key presses.
    Dtmf,
    /// Speech.
    Speech,
}

impl GatherInput {
    /// The value as TwiML writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            GatherInput::Dtmf => "dtmf",
            GatherInput::Speech => "speech",
        }
    }
}

child_trait!(
    /// What may be nested in `<Gather>` (and `<Prompt>`): the prompt played while listening.
    GatherChild: Say, Play, Pause
);

/// `<Gather>`: collects digits or speech, then posts them to its [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gather(Element);
typed_element!(Gather);

impl Gather {
    /// A gather whose result goes to `action`; see [`Action`] for why this is not optional.
    pub fn new(action: impl Into<Action>) -> Self {
        let mut element = Element::typed("Gather");
        action.into().apply(&mut element);
        Self(element)
    }

    /// Nests a prompt (`<Say>`, `<Play>` or `<Pause>`).
    #[must_use]
    pub fn add(mut self, child: impl GatherChild) -> Self {
        self.0.push(child);
        self
    }

    /// What to listen for (Twilio's default is DTMF only).
    #[must_use]
    pub fn input(mut self, inputs: impl IntoIterator<Item = GatherInput>) -> Self {
        self.0.set(
            "input",
            space_separated(inputs.into_iter().map(GatherInput::as_str)),
        );
        self
    }

    /// The method used to request `action`.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.0.set("method", method.as_str());
        self
    }

    /// Seconds of silence after which the input is submitted (whole seconds).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.set("timeout", secs(timeout));
        self
    }

    /// Speech: seconds of silence that end the utterance, or `auto`.
    #[must_use]
    pub fn speech_timeout(mut self, timeout: SpeechTimeout) -> Self {
        let value = match timeout {
            SpeechTimeout::Auto => "auto".to_owned(),
            SpeechTimeout::After(d) => secs(d),
        };
        self.0.set("speechTimeout", value);
        self
    }

    /// Speech: the longest the caller may speak, in whole seconds (Twilio's default is 60).
    #[must_use]
    pub fn max_speech_time(mut self, limit: Duration) -> Self {
        self.0.set("maxSpeechTime", secs(limit));
        self
    }

    /// The key that submits the digits (`#` by default; `""` disables it).
    #[must_use]
    pub fn finish_on_key(mut self, key: impl Into<String>) -> Self {
        self.0.set("finishOnKey", key);
        self
    }

    /// Submits after exactly this many digits.
    #[must_use]
    pub fn num_digits(mut self, digits: u32) -> Self {
        self.0.set("numDigits", digits.to_string());
        self
    }

    /// Receives interim speech results while the caller is still talking.
    #[must_use]
    pub fn partial_result_callback(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("partialResultCallback", url.into_string());
        self
    }

    /// The method used to request `partialResultCallback`.
    #[must_use]
    pub fn partial_result_callback_method(mut self, method: Method) -> Self {
        self.0.set("partialResultCallbackMethod", method.as_str());
        self
    }

    /// The speech recognition language, as a BCP 47 tag such as `en-US`.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.0.set("language", language);
        self
    }

    /// Words and phrases that help recognition (Twilio accepts up to 500 entries).
    #[must_use]
    pub fn hints<I, T>(mut self, hints: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.0.set("hints", comma_separated(hints));
        self
    }

    /// Whether a key press or speech interrupts the nested prompt (default `true`).
    #[must_use]
    pub fn barge_in(mut self, barge_in: bool) -> Self {
        self.0.set("bargeIn", barge_in.to_string());
        self
    }

    /// Whether Twilio filters profanity from speech results (default `true`).
    #[must_use]
    pub fn profanity_filter(mut self, filter: bool) -> Self {
        self.0.set("profanityFilter", filter.to_string());
        self
    }

    /// Whether to post to `action` even when the caller entered nothing (default `false`).
    #[must_use]
    pub fn action_on_empty_result(mut self, post: bool) -> Self {
        self.0.set("actionOnEmptyResult", post.to_string());
        self
    }

    /// The speech model (`default`, `numbers_and_commands`, `phone_call`, `experimental_*`,
    /// …); Twilio adds models often, so this is free text.
    #[must_use]
    pub fn speech_model(mut self, model: impl Into<String>) -> Self {
        self.0.set("speechModel", model);
        self
    }

    /// Whether to use Twilio's enhanced speech model.
    #[must_use]
    pub fn enhanced(mut self, enhanced: bool) -> Self {
        self.0.set("enhanced", enhanced.to_string());
        self
    }
}

/// `<Gather speechTimeout>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeechTimeout {
    /// Twilio decides when the caller has finished.
    Auto,
    /// A fixed silence, in whole seconds.
    After(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_is_explicit() {
        let to_url = Gather::new(AbsoluteUrl::parse("https://example.com/menu").unwrap());
        assert_eq!(
            to_url.as_element().get_attr("action"),
            Some("https://example.com/menu")
        );
        let reposting = Gather::new(Action::CurrentDocument);
        assert_eq!(reposting.as_element().get_attr("action"), None);
    }

    #[test]
    fn renders_typed_attributes() {
        let gather = Gather::new(Action::CurrentDocument)
            .input([GatherInput::Dtmf, GatherInput::Speech])
            .timeout(Duration::from_secs(5))
            .speech_timeout(SpeechTimeout::Auto)
            .hints(["yes", "no"])
            .barge_in(false)
            .add(Say::new("Press 1"));
        assert_eq!(
            gather.as_element().to_string(),
            concat!(
                r#"<Gather bargeIn="false" hints="yes, no" input="dtmf speech" "#,
                r#"speechTimeout="auto" timeout="5"><Say>Press 1</Say></Gather>"#
            )
        );
    }
}
