//! `<Record>`: records the caller's voice.

use std::time::Duration;

use super::common::{Trim, recording_status_callback_setters, secs};
use super::{Action, Method};
use crate::AbsoluteUrl;
use crate::xml::{Element, typed_element};

/// `<Record>`: records the caller, then posts the recording to its [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(Element);
typed_element!(Record);

impl Record {
    /// A recording whose result goes to `action`; like [`Gather`](super::Gather), an
    /// omitted `action` re-requests the current document, so the choice is explicit.
    pub fn new(action: impl Into<Action>) -> Self {
        let mut element = Element::typed("Record");
        action.into().apply(&mut element);
        Self(element)
    }

    /// The method used to request `action` (Twilio's default is `POST`).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.0.set("method", method.as_str());
        self
    }

    /// Silence that ends the recording, in whole seconds (Twilio's default is 5; `0`
    /// disables it).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.set("timeout", secs(timeout));
        self
    }

    /// The keys that end the recording (`1234567890*#`, the default, means any key).
    #[must_use]
    pub fn finish_on_key(mut self, keys: impl Into<String>) -> Self {
        self.0.set("finishOnKey", keys);
        self
    }

    /// The longest recording, in whole seconds (Twilio's default is 3600).
    #[must_use]
    pub fn max_length(mut self, length: Duration) -> Self {
        self.0.set("maxLength", secs(length));
        self
    }

    /// Whether a beep plays before recording starts (default `true`).
    #[must_use]
    pub fn play_beep(mut self, beep: bool) -> Self {
        self.0.set("playBeep", beep.to_string());
        self
    }

    /// Whether to trim silence from the recording (Twilio's default is `trim-silence`).
    #[must_use]
    pub fn trim(mut self, trim: Trim) -> Self {
        self.0.set("trim", trim.as_str());
        self
    }

    recording_status_callback_setters!();

    /// Whether Twilio transcribes the recording (English, up to two minutes).
    #[must_use]
    pub fn transcribe(mut self, transcribe: bool) -> Self {
        self.0.set("transcribe", transcribe.to_string());
        self
    }

    /// Where Twilio posts the transcription; implies `transcribe`.
    #[must_use]
    pub fn transcribe_callback(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("transcribeCallback", url.into_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::RecordingEvent;
    use crate::voice::common::test_support::{render, url};

    #[test]
    fn action_is_explicit_like_gather() {
        assert_eq!(render(Record::new(Action::CurrentDocument)), "<Record />");
        assert_eq!(
            render(Record::new(url("https://example.com/recorded")).method(Method::Get)),
            r#"<Record action="https://example.com/recorded" method="GET" />"#
        );
    }

    #[test]
    fn renders_like_the_official_sdk() {
        assert_eq!(
            render(
                Record::new(Action::CurrentDocument)
                    .timeout(Duration::from_secs(4))
                    .finish_on_key("#")
                    .max_length(Duration::from_secs(30))
            ),
            r##"<Record finishOnKey="#" maxLength="30" timeout="4" />"##
        );
        assert_eq!(
            render(
                Record::new(Action::CurrentDocument)
                    .transcribe_callback(url("https://example.com/t?id=34&action=hey"))
            ),
            r#"<Record transcribeCallback="https://example.com/t?id=34&amp;action=hey" />"#
        );
        assert_eq!(
            render(
                Record::new(url("https://example.com/r"))
                    .play_beep(false)
                    .trim(Trim::DoNotTrim)
                    .recording_status_callback(url("https://example.com/s"))
                    .recording_status_callback_method(Method::Get)
                    .recording_status_callback_event([
                        RecordingEvent::InProgress,
                        RecordingEvent::Completed,
                        RecordingEvent::Absent,
                    ])
                    .transcribe(true)
            ),
            concat!(
                r#"<Record action="https://example.com/r" playBeep="false" "#,
                r#"recordingStatusCallback="https://example.com/s" "#,
                r#"recordingStatusCallbackEvent="in-progress completed absent" "#,
                r#"recordingStatusCallbackMethod="GET" transcribe="true" trim="do-not-trim" />"#
            )
        );
    }
}
