//! Attribute values and setter groups several elements share, and the helpers that write
//! them.

use std::time::Duration;

use crate::xml::Element;

/// Declares a closed set of attribute values: a `#[non_exhaustive]` enum with `as_str`.
macro_rules! value_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $value:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            /// The value as TwiML writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value),+
                }
            }
        }
    };
}
pub(crate) use value_enum;

/// Whole seconds, rounded down, as Twilio's second-valued attributes expect.
pub(crate) fn secs(duration: Duration) -> String {
    duration.as_secs().to_string()
}

/// Whole milliseconds, rounded down, for the attributes Twilio counts in milliseconds.
pub(crate) fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

/// Joins values with `separator`; the helpers below name the two separators Twilio uses.
pub(crate) fn joined<I, T>(values: I, separator: &str) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut out = String::new();
    for value in values {
        if !out.is_empty() {
            out.push_str(separator);
        }
        out.push_str(value.as_ref());
    }
    out
}

/// Joins values with spaces, as Twilio expects for multi-valued attributes
/// (`statusCallbackEvent="initiated ringing"`).
pub(crate) fn space_separated<I, T>(values: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    joined(values, " ")
}

/// Joins speech hints with `, `, as Twilio's `hints` attributes expect.
pub(crate) fn comma_separated<I, T>(values: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    joined(values, ", ")
}

/// A `name`/`value` pair element: `<Parameter>`, `<Config>` and `<Header>`.
pub(crate) fn name_value_element(
    tag: &'static str,
    name: impl Into<String>,
    value: impl Into<String>,
) -> Element {
    let mut element = Element::typed(tag);
    element.set("name", name);
    element.set("value", value);
    element
}

// The `*_setters` macros below are invoked inside the `impl` block of an element
// (`Type(Element)`); each emits documented `#[must_use]` setters, as if written by hand.

/// `action` and `method`: where Twilio posts when the verb is done, and how. Takes the doc
/// of `action`, which says what is posted.
macro_rules! action_setters {
    ($(#[$action_doc:meta])+) => {
        $(#[$action_doc])+
        #[must_use]
        pub fn action(mut self, url: $crate::AbsoluteUrl) -> Self {
            self.0.set("action", url.into_string());
            self
        }

        /// The method used to request `action` (Twilio's default is `POST`).
        #[must_use]
        pub fn method(mut self, method: $crate::voice::Method) -> Self {
            self.0.set("method", method.as_str());
            self
        }
    };
}
pub(crate) use action_setters;

/// `url` and `method`: the TwiML Twilio runs for a dialed party (or call) before connecting
/// it. Takes the doc of `url`.
macro_rules! url_setters {
    ($(#[$url_doc:meta])+) => {
        $(#[$url_doc])+
        #[must_use]
        pub fn url(mut self, url: $crate::AbsoluteUrl) -> Self {
            self.0.set("url", url.into_string());
            self
        }

        /// The method used to request `url`.
        #[must_use]
        pub fn method(mut self, method: $crate::voice::Method) -> Self {
            self.0.set("method", method.as_str());
            self
        }
    };
}
pub(crate) use url_setters;

/// `status_callback` and `status_callback_method`, and, when its event type is given,
/// `status_callback_event` (written space-separated). Takes the docs of `status_callback`
/// and `status_callback_event`, which say what is reported.
macro_rules! status_callback_setters {
    (
        $(#[$url_doc:meta])+
        status_callback,
        $(#[$event_doc:meta])+
        status_callback_event: $event:ident $(,)?
    ) => {
        $crate::voice::common::status_callback_setters!(
            $(#[$url_doc])+
            status_callback,
        );

        $(#[$event_doc])+
        #[must_use]
        pub fn status_callback_event(mut self, events: impl IntoIterator<Item = $event>) -> Self {
            self.0.set(
                "statusCallbackEvent",
                $crate::voice::common::space_separated(events.into_iter().map($event::as_str)),
            );
            self
        }
    };
    ($(#[$url_doc:meta])+ status_callback $(,)?) => {
        $(#[$url_doc])+
        #[must_use]
        pub fn status_callback(mut self, url: $crate::AbsoluteUrl) -> Self {
            self.0.set("statusCallback", url.into_string());
            self
        }

        /// The method used to request `statusCallback`.
        #[must_use]
        pub fn status_callback_method(mut self, method: $crate::voice::Method) -> Self {
            self.0.set("statusCallbackMethod", method.as_str());
            self
        }
    };
}
pub(crate) use status_callback_setters;

/// The call-progress [`status_callback_setters`] of the `<Dial>` nouns (with [`CallEvent`])
/// and of `<Conversation>`, given the event type.
macro_rules! call_status_callback_setters {
    ($event:ident) => {
        $crate::voice::common::status_callback_setters!(
            /// Where Twilio reports call progress.
            status_callback,
            /// Which call events are reported to `statusCallback`.
            status_callback_event: $event,
        );
    };
}
pub(crate) use call_status_callback_setters;

/// `recording_status_callback`, `recording_status_callback_method` and
/// `recording_status_callback_event`, for every element that records.
macro_rules! recording_status_callback_setters {
    () => {
        /// Where Twilio reports recording status.
        #[must_use]
        pub fn recording_status_callback(mut self, url: $crate::AbsoluteUrl) -> Self {
            self.0.set("recordingStatusCallback", url.into_string());
            self
        }

        /// The method used to request `recordingStatusCallback`.
        #[must_use]
        pub fn recording_status_callback_method(mut self, method: $crate::voice::Method) -> Self {
            self.0.set("recordingStatusCallbackMethod", method.as_str());
            self
        }

        /// Which recording events are reported to `recordingStatusCallback`.
        #[must_use]
        pub fn recording_status_callback_event(
            mut self,
            events: impl IntoIterator<Item = $crate::voice::RecordingEvent>,
        ) -> Self {
            self.0.set(
                "recordingStatusCallbackEvent",
                $crate::voice::common::space_separated(
                    events
                        .into_iter()
                        .map($crate::voice::RecordingEvent::as_str),
                ),
            );
            self
        }
    };
}
pub(crate) use recording_status_callback_setters;

/// What a `<Response>` document type (`$ty(Element)`, voice or messaging) has besides its
/// constructor: `Default`, `add` for its verbs (`$verb`), rendering, `Display`, and the
/// conversion into an HTTP response.
macro_rules! response_document {
    ($ty:ident, $verb:ident) => {
        impl Default for $ty {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $ty {
            /// Appends a verb.
            #[must_use]
            pub fn add(mut self, verb: impl $verb) -> Self {
                self.0.push(verb);
                self
            }

            /// The document as a string, starting with the XML declaration.
            pub fn to_xml(&self) -> String {
                self.0.to_document()
            }

            /// The `<Response>` element, to inspect it.
            pub fn as_element(&self) -> &$crate::Element {
                &self.0
            }

            /// The document as an HTTP response: `200 OK`, `Content-Type: text/xml`.
            pub fn into_http_response<B: From<String>>(self) -> ::http::Response<B> {
                $crate::response::xml_response(self.to_xml())
            }
        }

        impl ::std::fmt::Display for $ty {
            #[doc = concat!("The same as [`", stringify!($ty), "::to_xml`].")]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.to_xml())
            }
        }

        impl<B: From<String>> From<$ty> for ::http::Response<B> {
            fn from(doc: $ty) -> Self {
                doc.into_http_response()
            }
        }
    };
}
pub(crate) use response_document;

value_enum!(
    /// Whether Twilio trims leading and trailing silence from a recording (`trim`).
    Trim {
        /// `trim-silence`
        TrimSilence => "trim-silence",
        /// `do-not-trim`
        DoNotTrim => "do-not-trim",
    }
);

value_enum!(
    /// A recording event that triggers `recordingStatusCallback`
    /// (`recordingStatusCallbackEvent`; Twilio's default is `completed`).
    RecordingEvent {
        /// `in-progress`: the recording has started.
        InProgress => "in-progress",
        /// `completed`: the recording is available.
        Completed => "completed",
        /// `absent`: nothing was recorded (silence, or the call ended first).
        Absent => "absent",
    }
);

value_enum!(
    /// A call-progress event that triggers `statusCallback` on a `<Dial>` noun
    /// (`statusCallbackEvent` on `<Number>`, `<Client>`, `<Sip>`, `<Application>` and
    /// `<WhatsApp>`; Twilio's default is `completed`).
    CallEvent {
        /// `initiated`: Twilio started dialing.
        Initiated => "initiated",
        /// `ringing`: the destination is ringing.
        Ringing => "ringing",
        /// `answered`: the destination answered.
        Answered => "answered",
        /// `completed`: the call leg ended.
        Completed => "completed",
    }
);

value_enum!(
    /// Which side of the call a recording takes (`recordingTrack` on `<Dial>`, `track` on
    /// `<Recording>`; Twilio's default is `both`).
    RecordingTrack {
        /// `inbound`: audio Twilio receives from the caller.
        Inbound => "inbound",
        /// `outbound`: audio Twilio sends to the caller.
        Outbound => "outbound",
        /// `both`: both directions.
        Both => "both",
    }
);

value_enum!(
    /// Which side of the call a media stream, SIPREC session or real-time transcription
    /// carries (`track`; Twilio's default is `inbound_track`).
    StreamTrack {
        /// `inbound_track`: audio Twilio receives from the caller.
        InboundTrack => "inbound_track",
        /// `outbound_track`: audio Twilio sends to the caller.
        OutboundTrack => "outbound_track",
        /// `both_tracks`: both directions.
        BothTracks => "both_tracks",
    }
);

/// What the voice unit tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::{AbsoluteUrl, Element};

    /// A URL the test knows to be absolute.
    pub(crate) fn url(s: &str) -> AbsoluteUrl {
        AbsoluteUrl::parse(s).unwrap()
    }

    /// The element's markup.
    pub(crate) fn render(e: impl Into<Element>) -> String {
        e.into().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_down() {
        assert_eq!(secs(Duration::from_millis(2999)), "2");
        assert_eq!(millis(Duration::from_micros(1500)), "1");
        assert_eq!(comma_separated(["a", "b c"]), "a, b c");
        assert_eq!(comma_separated(Vec::<String>::new()), "");
    }

    #[test]
    fn multi_valued_attributes_join_with_spaces() {
        assert_eq!(
            space_separated(["initiated", "ringing"]),
            "initiated ringing"
        );
        assert_eq!(joined(["a", "b", "c"], "|"), "a|b|c");
    }

    #[test]
    fn values_are_twilio_spellings() {
        assert_eq!(Trim::TrimSilence.as_str(), "trim-silence");
        assert_eq!(RecordingEvent::InProgress.as_str(), "in-progress");
        assert_eq!(CallEvent::Answered.as_str(), "answered");
        assert_eq!(RecordingTrack::Both.as_str(), "both");
        assert_eq!(StreamTrack::BothTracks.as_str(), "both_tracks");
    }
}
