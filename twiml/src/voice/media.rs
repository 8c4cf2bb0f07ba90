//! Background media processing: `<Start>` and `<Stop>` with `<Stream>`, `<Siprec>`,
//! `<Transcription>` and `<Recording>`.
//!
//! `<Start>` begins the process and the call continues with the next verb; `<Stop>` ends a
//! process started with a `name`.

use super::common::{
    RecordingTrack, StreamTrack, Trim, action_setters, comma_separated,
    recording_status_callback_setters, status_callback_setters, value_enum,
};
use super::{Config, Method, Parameter};
use crate::xml::{Element, child_trait, typed_element};
use crate::{AbsoluteUrl, WebSocketUrl};

/// `named` and `name` for a process `<Start>` begins and `<Stop>` ends by its `name`. Takes
/// the element's tag and what the docs call the process.
macro_rules! named_process_setters {
    ($tag:literal, $process:literal) => {
        #[doc = concat!(
            "Refers to the ", $process, " started with this `name`, to end it in a `<Stop>`."
        )]
        pub fn named(name: impl Into<String>) -> Self {
            Self(Element::typed($tag)).name(name)
        }

        #[doc = concat!("A name, unique per call, by which `<Stop>` can end the ", $process, ".")]
        #[must_use]
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.0.set("name", name);
            self
        }
    };
}

child_trait!(
    /// What may be nested in `<Start>`: the background process to begin.
    StartChild: Stream, Siprec, Transcription, Recording
);

child_trait!(
    /// What may be nested in `<Stop>`: the named process to end.
    StopChild: Stream, Siprec, Transcription, Recording
);

child_trait!(
    /// What may be nested in `<Stream>`: custom `<Parameter>`s sent in the `start` message.
    StreamChild: Parameter
);

child_trait!(
    /// What may be nested in `<Siprec>`: custom `<Parameter>`s for the SIPREC session.
    SiprecChild: Parameter
);

child_trait!(
    /// What may be nested in `<Transcription>`: engine `<Config>` and custom `<Parameter>`s.
    TranscriptionChild: Config, Parameter
);

/// `<Start>`: begins a stream, SIPREC session, transcription or recording in the
/// background, then continues with the next verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start(Element);
typed_element!(Start);

impl Default for Start {
    fn default() -> Self {
        Self::new()
    }
}

impl Start {
    /// A `<Start>` for the nested process.
    pub fn new() -> Self {
        Self(Element::typed("Start"))
    }

    /// Nests the process to begin.
    #[must_use]
    pub fn add(mut self, child: impl StartChild) -> Self {
        self.0.push(child);
        self
    }

    action_setters!(
        /// Where Twilio posts once the process has started; its TwiML continues the call.
    );
}

/// `<Stop>`: ends a background process started by `<Start>` with a `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop(Element);
typed_element!(Stop);

impl Default for Stop {
    fn default() -> Self {
        Self::new()
    }
}

impl Stop {
    /// A `<Stop>` for the nested process.
    pub fn new() -> Self {
        Self(Element::typed("Stop"))
    }

    /// Nests the process to end, identified by its `name`.
    #[must_use]
    pub fn add(mut self, child: impl StopChild) -> Self {
        self.0.push(child);
        self
    }
}

/// `<Stream>`: forks the call audio to a WebSocket (unidirectional under `<Start>`,
/// bidirectional under `<Connect>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream(Element);
typed_element!(Stream);

impl Stream {
    /// Streams to `url`, which must be `wss` (Twilio error 31922). Pass values with
    /// [`Parameter`]s rather than the query string.
    pub fn new(url: WebSocketUrl) -> Self {
        let mut element = Element::typed("Stream");
        element.set("url", url.into_string());
        Self(element)
    }

    /// Streams through the Stream Connector `connector_name` instead of to a URL.
    pub fn connector(connector_name: impl Into<String>) -> Self {
        let mut element = Element::typed("Stream");
        element.set("connectorName", connector_name);
        Self(element)
    }

    named_process_setters!("Stream", "stream");

    /// Nests a custom `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl StreamChild) -> Self {
        self.0.push(child);
        self
    }

    /// Which audio to stream (under `<Connect>`, only `inbound_track`).
    #[must_use]
    pub fn track(mut self, track: StreamTrack) -> Self {
        self.0.set("track", track.as_str());
        self
    }

    status_callback_setters!(
        /// Where Twilio reports stream start, stop and errors.
        status_callback,
    );
}

/// `<Siprec>`: forks the call to a SIPREC recording server through a SIPREC connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Siprec(Element);
typed_element!(Siprec);

impl Siprec {
    /// Sends the call through the SIPREC connector `connector_name`.
    pub fn new(connector_name: impl Into<String>) -> Self {
        let mut element = Element::typed("Siprec");
        element.set("connectorName", connector_name);
        Self(element)
    }

    named_process_setters!("Siprec", "session");

    /// Nests a custom `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl SiprecChild) -> Self {
        self.0.push(child);
        self
    }

    /// Which audio to send.
    #[must_use]
    pub fn track(mut self, track: StreamTrack) -> Self {
        self.0.set("track", track.as_str());
        self
    }

    status_callback_setters!(
        /// Where Twilio reports session status.
        status_callback,
    );
}

/// `<Transcription>`: transcribes the call in real time, posting results to
/// `statusCallbackUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcription(Element);
typed_element!(Transcription);

impl Default for Transcription {
    fn default() -> Self {
        Self::new()
    }
}

impl Transcription {
    /// A transcription with Twilio's defaults.
    pub fn new() -> Self {
        Self(Element::typed("Transcription"))
    }

    named_process_setters!("Transcription", "transcription");

    /// Nests a `<Config>` or `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl TranscriptionChild) -> Self {
        self.0.push(child);
        self
    }

    /// Which audio to transcribe.
    #[must_use]
    pub fn track(mut self, track: StreamTrack) -> Self {
        self.0.set("track", track.as_str());
        self
    }

    /// Where Twilio posts transcription events and results.
    #[must_use]
    pub fn status_callback_url(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("statusCallbackUrl", url.into_string());
        self
    }

    /// The method used to request `statusCallbackUrl`.
    #[must_use]
    pub fn status_callback_method(mut self, method: Method) -> Self {
        self.0.set("statusCallbackMethod", method.as_str());
        self
    }

    /// The label given to the inbound track's speaker.
    #[must_use]
    pub fn inbound_track_label(mut self, label: impl Into<String>) -> Self {
        self.0.set("inboundTrackLabel", label);
        self
    }

    /// The label given to the outbound track's speaker.
    #[must_use]
    pub fn outbound_track_label(mut self, label: impl Into<String>) -> Self {
        self.0.set("outboundTrackLabel", label);
        self
    }

    /// Whether interim results are posted too.
    #[must_use]
    pub fn partial_results(mut self, partial: bool) -> Self {
        self.0.set("partialResults", partial.to_string());
        self
    }

    /// The spoken language, as a BCP 47 tag such as `en-US`.
    #[must_use]
    pub fn language_code(mut self, language: impl Into<String>) -> Self {
        self.0.set("languageCode", language);
        self
    }

    /// The engine (`google`, `deepgram`, …).
    #[must_use]
    pub fn transcription_engine(mut self, engine: impl Into<String>) -> Self {
        self.0.set("transcriptionEngine", engine);
        self
    }

    /// Whether profanities are masked (default `true`).
    #[must_use]
    pub fn profanity_filter(mut self, filter: bool) -> Self {
        self.0.set("profanityFilter", filter.to_string());
        self
    }

    /// The engine's speech model (`telephony`, `nova-2`, …).
    #[must_use]
    pub fn speech_model(mut self, model: impl Into<String>) -> Self {
        self.0.set("speechModel", model);
        self
    }

    /// Words and phrases that help recognition.
    #[must_use]
    pub fn hints<I, T>(mut self, hints: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        self.0.set("hints", comma_separated(hints));
        self
    }

    /// Whether results are punctuated (default `true`).
    #[must_use]
    pub fn enable_automatic_punctuation(mut self, punctuate: bool) -> Self {
        self.0
            .set("enableAutomaticPunctuation", punctuate.to_string());
        self
    }

    /// The Conversational Intelligence service (SID or unique name) to send results to.
    #[must_use]
    pub fn intelligence_service(mut self, service: impl Into<String>) -> Self {
        self.0.set("intelligenceService", service);
        self
    }
}

value_enum!(
    /// How many channels a `<Recording>` has (`channels`; Twilio's default is `dual`).
    RecordingChannels {
        /// `mono`: all parties in one channel.
        Mono => "mono",
        /// `dual`: each party of a two-party call in its own channel.
        Dual => "dual",
    }
);

/// `<Recording>`: records the call in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording(Element);
typed_element!(Recording);

impl Default for Recording {
    fn default() -> Self {
        Self::new()
    }
}

impl Recording {
    /// A recording with Twilio's defaults.
    pub fn new() -> Self {
        Self(Element::typed("Recording"))
    }

    named_process_setters!("Recording", "recording");

    recording_status_callback_setters!();

    /// Whether to trim silence (Twilio's default is `trim-silence`).
    #[must_use]
    pub fn trim(mut self, trim: Trim) -> Self {
        self.0.set("trim", trim.as_str());
        self
    }

    /// Which audio to record.
    #[must_use]
    pub fn track(mut self, track: RecordingTrack) -> Self {
        self.0.set("track", track.as_str());
        self
    }

    /// One channel or one per party.
    #[must_use]
    pub fn channels(mut self, channels: RecordingChannels) -> Self {
        self.0.set("channels", channels.as_str());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::RecordingEvent;
    use crate::voice::common::test_support::{render, url};

    #[test]
    fn start_stream_with_parameters() {
        let start = Start::new()
            .action(url("https://example.com/started"))
            .method(Method::Get)
            .add(
                Stream::new(WebSocketUrl::parse("wss://media.example.com/stream").unwrap())
                    .name("example")
                    .track(StreamTrack::BothTracks)
                    .status_callback(url("https://example.com/stream-status"))
                    .status_callback_method(Method::Post)
                    .add(Parameter::new("FirstName", "Jane")),
            );
        assert_eq!(
            render(start),
            concat!(
                r#"<Start action="https://example.com/started" method="GET">"#,
                r#"<Stream name="example" statusCallback="https://example.com/stream-status" "#,
                r#"statusCallbackMethod="POST" track="both_tracks" "#,
                r#"url="wss://media.example.com/stream">"#,
                r#"<Parameter name="FirstName" value="Jane" /></Stream></Start>"#,
            )
        );
    }

    #[test]
    fn stop_by_name() {
        let stop = Stop::new()
            .add(Stream::named("example"))
            .add(Siprec::named("rec"))
            .add(Transcription::named("live"))
            .add(Recording::named("call"));
        assert_eq!(
            render(stop),
            concat!(
                r#"<Stop><Stream name="example" /><Siprec name="rec" />"#,
                r#"<Transcription name="live" /><Recording name="call" /></Stop>"#
            )
        );
    }

    #[test]
    fn siprec_and_connector_streams() {
        assert_eq!(
            render(
                Siprec::new("SipRec1")
                    .name("rec")
                    .track(StreamTrack::InboundTrack)
                    .status_callback(url("https://example.com/siprec"))
                    .status_callback_method(Method::Get)
                    .add(Parameter::new("k", "v"))
            ),
            concat!(
                r#"<Siprec connectorName="SipRec1" name="rec" "#,
                r#"statusCallback="https://example.com/siprec" statusCallbackMethod="GET" "#,
                r#"track="inbound_track"><Parameter name="k" value="v" /></Siprec>"#
            )
        );
        assert_eq!(
            render(Stream::connector("Connector1")),
            r#"<Stream connectorName="Connector1" />"#
        );
    }

    #[test]
    fn transcription_attributes() {
        let t = Transcription::new()
            .name("live")
            .track(StreamTrack::InboundTrack)
            .status_callback_url(url("https://example.com/transcripts"))
            .status_callback_method(Method::Post)
            .inbound_track_label("customer")
            .outbound_track_label("agent")
            .partial_results(true)
            .language_code("en-US")
            .transcription_engine("google")
            .profanity_filter(false)
            .speech_model("telephony")
            .hints(["Twilio", "TwiML"])
            .enable_automatic_punctuation(true)
            .intelligence_service("GA123")
            .add(Config::new("k", "v"))
            .add(Parameter::new("p", "q"));
        assert_eq!(
            render(t),
            concat!(
                r#"<Transcription enableAutomaticPunctuation="true" hints="Twilio, TwiML" "#,
                r#"inboundTrackLabel="customer" intelligenceService="GA123" "#,
                r#"languageCode="en-US" name="live" outboundTrackLabel="agent" "#,
                r#"partialResults="true" profanityFilter="false" speechModel="telephony" "#,
                r#"statusCallbackMethod="POST" statusCallbackUrl="https://example.com/transcripts" "#,
                r#"track="inbound_track" transcriptionEngine="google">"#,
                r#"<Config name="k" value="v" /><Parameter name="p" value="q" /></Transcription>"#,
            )
        );
    }

    #[test]
    fn recording_matches_twilio_docs_example() {
        let start = Start::new().add(
            Recording::new()
                .channels(RecordingChannels::Dual)
                .recording_status_callback(url("https://example.com/your-callback-url")),
        );
        assert_eq!(
            render(start),
            concat!(
                r#"<Start><Recording channels="dual" "#,
                r#"recordingStatusCallback="https://example.com/your-callback-url" /></Start>"#
            )
        );
        assert_eq!(
            render(
                Recording::new()
                    .recording_status_callback_method(Method::Get)
                    .recording_status_callback_event([
                        RecordingEvent::InProgress,
                        RecordingEvent::Completed
                    ])
                    .trim(Trim::DoNotTrim)
                    .track(RecordingTrack::Outbound)
            ),
            concat!(
                r#"<Recording recordingStatusCallbackEvent="in-progress completed" "#,
                r#"recordingStatusCallbackMethod="GET" track="outbound" trim="do-not-trim" />"#
            )
        );
    }
}
