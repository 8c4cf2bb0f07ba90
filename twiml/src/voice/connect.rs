//! `<Connect>` and the services it hands the call to: `<Stream>` (bidirectional),
//! `<ConversationRelay>`, `<Assistant>`, `<AiSession>`, `<ConversationRelaySession>`,
//! `<VirtualAgent>`, `<Room>` and `<Conversation>`.

use std::time::Duration;

use super::common::{
    Trim, action_setters, call_status_callback_setters, comma_separated,
    recording_status_callback_setters, secs, status_callback_setters, url_setters, value_enum,
};
use super::{Config, DialRecord, Parameter, Stream};
use crate::WebSocketUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Connect>`: the service to connect the call to.
    ConnectChild: Stream, ConversationRelay, Assistant, AiSession, ConversationRelaySession,
        VirtualAgent, Room, Conversation
);

child_trait!(
    /// What may be nested in `<ConversationRelay>`: per-language `<Language>` settings and
    /// custom `<Parameter>`s.
    ConversationRelayChild: Language, Parameter
);

child_trait!(
    /// What may be nested in `<Assistant>`: per-language `<Language>` settings and custom
    /// `<Parameter>`s.
    AssistantChild: Language, Parameter
);

child_trait!(
    /// What may be nested in `<VirtualAgent>`: `<Config>` and custom `<Parameter>`s.
    VirtualAgentChild: Config, Parameter
);

/// `<Connect>`: hands the call to another service until that service ends the session.
///
/// Without an [`action`](Connect::action), Twilio continues with the next verb when the
/// session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect(Element);
typed_element!(Connect);

impl Default for Connect {
    fn default() -> Self {
        Self::new()
    }
}

impl Connect {
    /// A `<Connect>` for the nested service.
    pub fn new() -> Self {
        Self(Element::typed("Connect"))
    }

    /// Nests the service to connect to.
    #[must_use]
    pub fn add(mut self, child: impl ConnectChild) -> Self {
        self.0.push(child);
        self
    }

    action_setters!(
        /// Where Twilio posts when the session ends; its TwiML continues the call.
    );
}

value_enum!(
    /// Which caller input counts: for interrupting speech (`interruptible`,
    /// `welcomeGreetingInterruptible`) or for being reported while the agent speaks
    /// (`reportInputDuringAgentSpeech`).
    CallerInput {
        /// `none`
        None => "none",
        /// `dtmf`: key presses only.
        Dtmf => "dtmf",
        /// `speech`: speech only.
        Speech => "speech",
        /// `any`: key presses and speech.
        Any => "any",
    }
);

value_enum!(
    /// How readily caller speech interrupts text-to-speech (`interruptSensitivity`).
    InterruptSensitivity {
        /// `low`
        Low => "low",
        /// `medium`
        Medium => "medium",
        /// `high`
        High => "high",
    }
);

/// The providers, voice and model of text-to-speech and transcription: for a whole
/// `<ConversationRelay>` or `<Assistant>` session, or for one `<Language>` of it.
macro_rules! speech_provider_setters {
    () => {
        /// The text-to-speech provider (`Google`, `Amazon`, `ElevenLabs`).
        #[must_use]
        pub fn tts_provider(mut self, provider: impl Into<String>) -> Self {
            self.0.set("ttsProvider", provider);
            self
        }

        /// The text-to-speech voice, as the provider names it.
        #[must_use]
        pub fn voice(mut self, voice: impl Into<String>) -> Self {
            self.0.set("voice", voice);
            self
        }

        /// The speech-to-text provider (`Google`, `Deepgram`).
        #[must_use]
        pub fn transcription_provider(mut self, provider: impl Into<String>) -> Self {
            self.0.set("transcriptionProvider", provider);
            self
        }

        /// The provider's speech model (`telephony`, `nova-3-general`, …).
        #[must_use]
        pub fn speech_model(mut self, model: impl Into<String>) -> Self {
            self.0.set("speechModel", model);
            self
        }
    };
}

/// The speech settings `<ConversationRelay>` and `<Assistant>` share.
macro_rules! speech_session_setters {
    ($ty:ident) => {
        impl $ty {
            /// The language of both text-to-speech and transcription (default `en-US`).
            #[must_use]
            pub fn language(mut self, language: impl Into<String>) -> Self {
                self.0.set("language", language);
                self
            }

            /// The text-to-speech language, overriding `language`.
            #[must_use]
            pub fn tts_language(mut self, language: impl Into<String>) -> Self {
                self.0.set("ttsLanguage", language);
                self
            }

            /// The transcription language, overriding `language`.
            #[must_use]
            pub fn transcription_language(mut self, language: impl Into<String>) -> Self {
                self.0.set("transcriptionLanguage", language);
                self
            }

            speech_provider_setters!();

            /// Whether profanities are filtered from transcripts (default `true`).
            #[must_use]
            pub fn profanity_filter(mut self, filter: bool) -> Self {
                self.0.set("profanityFilter", filter.to_string());
                self
            }

            /// Whether key presses are detected and reported (default `false`).
            #[must_use]
            pub fn dtmf_detection(mut self, detect: bool) -> Self {
                self.0.set("dtmfDetection", detect.to_string());
                self
            }

            /// What is said as soon as the session connects.
            #[must_use]
            pub fn welcome_greeting(mut self, greeting: impl Into<String>) -> Self {
                self.0.set("welcomeGreeting", greeting);
                self
            }

            /// Whether interim transcripts are sent while the caller speaks.
            #[must_use]
            pub fn partial_prompts(mut self, partial: bool) -> Self {
                self.0.set("partialPrompts", partial.to_string());
                self
            }

            /// Which caller input interrupts the welcome greeting.
            #[must_use]
            pub fn welcome_greeting_interruptible(mut self, input: CallerInput) -> Self {
                self.0.set("welcomeGreetingInterruptible", input.as_str());
                self
            }

            /// Which caller input interrupts text-to-speech.
            #[must_use]
            pub fn interruptible(mut self, input: CallerInput) -> Self {
                self.0.set("interruptible", input.as_str());
                self
            }

            /// Whether new speech replaces speech that is still playing.
            #[must_use]
            pub fn preemptible(mut self, preemptible: bool) -> Self {
                self.0.set("preemptible", preemptible.to_string());
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

            /// The Conversational Intelligence service (SID or unique name) to send
            /// transcripts to.
            #[must_use]
            pub fn intelligence_service(mut self, service: impl Into<String>) -> Self {
                self.0.set("intelligenceService", service);
                self
            }

            /// Which caller input is reported while text-to-speech plays uninterrupted.
            #[must_use]
            pub fn report_input_during_agent_speech(mut self, input: CallerInput) -> Self {
                self.0.set("reportInputDuringAgentSpeech", input.as_str());
                self
            }

            /// ElevenLabs text normalization (`on`, `off`, `auto`).
            #[must_use]
            pub fn elevenlabs_text_normalization(mut self, mode: impl Into<String>) -> Self {
                self.0.set("elevenlabsTextNormalization", mode);
                self
            }

            /// How readily caller speech interrupts text-to-speech.
            #[must_use]
            pub fn interrupt_sensitivity(mut self, sensitivity: InterruptSensitivity) -> Self {
                self.0.set("interruptSensitivity", sensitivity.as_str());
                self
            }

            /// Debug options, space-separated (`debugging speaker-events tokens-played`).
            #[must_use]
            pub fn debug(mut self, options: impl Into<String>) -> Self {
                self.0.set("debug", options);
                self
            }
        }
    };
}

/// `<ConversationRelay>`: connects the call to your WebSocket server, with Twilio doing
/// speech-to-text and text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRelay(Element);
typed_element!(ConversationRelay);
speech_session_setters!(ConversationRelay);

impl ConversationRelay {
    /// Connects to the WebSocket server at `url`, which must be `wss`.
    pub fn new(url: WebSocketUrl) -> Self {
        let mut element = Element::typed("ConversationRelay");
        element.set("url", url.into_string());
        Self(element)
    }

    /// Nests a `<Language>` or a `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl ConversationRelayChild) -> Self {
        self.0.push(child);
        self
    }
}

/// `<Assistant>`: connects the call to a Twilio AI Assistant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assistant(Element);
typed_element!(Assistant);
speech_session_setters!(Assistant);

impl Assistant {
    /// Connects to the AI Assistant `id` (`aia_asst_…`).
    pub fn new(id: impl Into<String>) -> Self {
        let mut element = Element::typed("Assistant");
        element.set("id", id);
        Self(element)
    }

    /// Nests a `<Language>` or a `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl AssistantChild) -> Self {
        self.0.push(child);
        self
    }
}

/// `<Language>`: the speech settings `<ConversationRelay>` uses for one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(Element);
typed_element!(Language);

impl Language {
    /// Settings for the language `code` (BCP 47, such as `fr-FR`).
    pub fn new(code: impl Into<String>) -> Self {
        let mut element = Element::typed("Language");
        element.set("code", code);
        Self(element)
    }

    speech_provider_setters!();
}

/// `<AiSession>`: connects the call to an AI Connector session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiSession(Element);
typed_element!(AiSession);

impl Default for AiSession {
    fn default() -> Self {
        Self::new()
    }
}

impl AiSession {
    /// An AI session; choose the connector with the setters.
    pub fn new() -> Self {
        Self(Element::typed("AiSession"))
    }

    /// The AI Connector (unique name or installed add-on SID).
    #[must_use]
    pub fn ai_connector(mut self, connector: impl Into<String>) -> Self {
        self.0.set("aiConnector", connector);
        self
    }

    /// The AiSession Configuration resource (unique name or ID).
    #[must_use]
    pub fn ai_session_configuration(mut self, configuration: impl Into<String>) -> Self {
        self.0.set("aiSessionConfiguration", configuration);
        self
    }
}

/// `<ConversationRelaySession>`: the official SDKs' element for a ConversationRelay
/// session; it has no typed attributes (set any with `attr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRelaySession(Element);
typed_element!(ConversationRelaySession);

impl Default for ConversationRelaySession {
    fn default() -> Self {
        Self::new()
    }
}

impl ConversationRelaySession {
    /// An empty `<ConversationRelaySession />`.
    pub fn new() -> Self {
        Self(Element::typed("ConversationRelaySession"))
    }
}

/// `<VirtualAgent>`: connects the call to a Dialogflow CX agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAgent(Element);
typed_element!(VirtualAgent);

impl VirtualAgent {
    /// Connects to the agent configured as the connector `connector_name`.
    pub fn new(connector_name: impl Into<String>) -> Self {
        let mut element = Element::typed("VirtualAgent");
        element.set("connectorName", connector_name);
        Self(element)
    }

    /// Nests a `<Config>` or `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl VirtualAgentChild) -> Self {
        self.0.push(child);
        self
    }

    /// The language Dialogflow transcribes.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.0.set("language", language);
        self
    }

    /// Whether sentiment analysis is enabled.
    #[must_use]
    pub fn sentiment_analysis(mut self, enabled: bool) -> Self {
        self.0.set("sentimentAnalysis", enabled.to_string());
        self
    }

    status_callback_setters!(
        /// Where Twilio reports session status.
        status_callback,
    );
}

/// `<Room>`: connects the call to a Programmable Video room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room(Element);
typed_element!(Room);

impl Room {
    /// Joins the room `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(Element::typed("Room").text(name))
    }

    /// The identity the caller has in the room.
    #[must_use]
    pub fn participant_identity(mut self, identity: impl Into<String>) -> Self {
        self.0.set("participantIdentity", identity);
        self
    }
}

value_enum!(
    /// A call event that triggers a `<Conversation>`'s `statusCallback`.
    ConversationEvent {
        /// `call-initiated`
        CallInitiated => "call-initiated",
        /// `call-ringing`
        CallRinging => "call-ringing",
        /// `call-answered`
        CallAnswered => "call-answered",
        /// `call-completed`
        CallCompleted => "call-completed",
    }
);

/// `<Conversation>`: connects the call to a Twilio Conversations service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation(Element);
typed_element!(Conversation);

impl Conversation {
    /// Connects to the Conversations service `service_instance_sid` (`IS…`).
    pub fn new(service_instance_sid: impl Into<String>) -> Self {
        let mut element = Element::typed("Conversation");
        element.set("serviceInstanceSid", service_instance_sid);
        Self(element)
    }

    /// Whether an inbound call creates a conversation automatically.
    #[must_use]
    pub fn inbound_autocreation(mut self, autocreate: bool) -> Self {
        self.0.set("inboundAutocreation", autocreate.to_string());
        self
    }

    /// How long routing may take to assign the call, in whole seconds.
    #[must_use]
    pub fn routing_assignment_timeout(mut self, timeout: Duration) -> Self {
        self.0.set("routingAssignmentTimeout", secs(timeout));
        self
    }

    /// How long an inbound call waits to be answered, in whole seconds.
    #[must_use]
    pub fn inbound_timeout(mut self, timeout: Duration) -> Self {
        self.0.set("inboundTimeout", secs(timeout));
        self
    }

    url_setters!(
        /// TwiML run for the call.
    );

    /// Whether and how to record the call.
    #[must_use]
    pub fn record(mut self, record: DialRecord) -> Self {
        self.0.set("record", record.as_str());
        self
    }

    /// Whether to trim silence from the recording.
    #[must_use]
    pub fn trim(mut self, trim: Trim) -> Self {
        self.0.set("trim", trim.as_str());
        self
    }

    recording_status_callback_setters!();

    call_status_callback_setters!(ConversationEvent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::common::test_support::{render, url};
    use crate::voice::{Method, RecordingEvent};

    fn wss(s: &str) -> WebSocketUrl {
        WebSocketUrl::parse(s).unwrap()
    }

    #[test]
    fn connect_stream_is_bidirectional_media() {
        assert_eq!(
            render(
                Connect::new().action(url("https://example.com/after")).add(
                    Stream::new(wss("wss://media.example.com/")).add(Parameter::new("a", "b"))
                )
            ),
            concat!(
                r#"<Connect action="https://example.com/after">"#,
                r#"<Stream url="wss://media.example.com/"><Parameter name="a" value="b" />"#,
                "</Stream></Connect>"
            )
        );
    }

    #[test]
    fn conversation_relay_matches_twilio_docs_example() {
        let connect = Connect::new()
            .action(url("https://myhttpserver.com/connect_action"))
            .add(
                ConversationRelay::new(wss("wss://mywebsocketserver.com/websocket"))
                    .welcome_greeting("Hi! Ask me anything!"),
            );
        assert_eq!(
            render(connect),
            concat!(
                r#"<Connect action="https://myhttpserver.com/connect_action">"#,
                r#"<ConversationRelay url="wss://mywebsocketserver.com/websocket" "#,
                r#"welcomeGreeting="Hi! Ask me anything!" /></Connect>"#
            )
        );
    }

    #[test]
    fn conversation_relay_attributes_and_children() {
        let relay = ConversationRelay::new(wss("wss://relay.example.com/ws"))
            .language("en-US")
            .tts_language("en-GB")
            .transcription_language("en-AU")
            .tts_provider("ElevenLabs")
            .voice("UgBBYS2sOqTuMpoF3BR0")
            .transcription_provider("Deepgram")
            .speech_model("nova-3-general")
            .profanity_filter(false)
            .dtmf_detection(true)
            .partial_prompts(true)
            .welcome_greeting_interruptible(CallerInput::None)
            .interruptible(CallerInput::Any)
            .preemptible(true)
            .hints(["Acme", "refund"])
            .intelligence_service("GA123")
            .report_input_during_agent_speech(CallerInput::Dtmf)
            .elevenlabs_text_normalization("on")
            .interrupt_sensitivity(InterruptSensitivity::High)
            .debug("debugging")
            .add(
                Language::new("fr-FR")
                    .tts_provider("Google")
                    .voice("fr-FR-Neural2-A")
                    .transcription_provider("Google")
                    .speech_model("telephony"),
            )
            .add(Parameter::new("caller", "vip"));
        assert_eq!(
            render(relay),
            concat!(
                r#"<ConversationRelay debug="debugging" dtmfDetection="true" "#,
                r#"elevenlabsTextNormalization="on" hints="Acme, refund" "#,
                r#"intelligenceService="GA123" interruptSensitivity="high" interruptible="any" "#,
                r#"language="en-US" partialPrompts="true" preemptible="true" "#,
                r#"profanityFilter="false" reportInputDuringAgentSpeech="dtmf" "#,
                r#"speechModel="nova-3-general" transcriptionLanguage="en-AU" "#,
                r#"transcriptionProvider="Deepgram" ttsLanguage="en-GB" ttsProvider="ElevenLabs" "#,
                r#"url="wss://relay.example.com/ws" voice="UgBBYS2sOqTuMpoF3BR0" "#,
                r#"welcomeGreetingInterruptible="none">"#,
                r#"<Language code="fr-FR" speechModel="telephony" transcriptionProvider="Google" "#,
                r#"ttsProvider="Google" voice="fr-FR-Neural2-A" />"#,
                r#"<Parameter name="caller" value="vip" /></ConversationRelay>"#,
            )
        );
    }

    #[test]
    fn other_connect_nouns() {
        assert_eq!(
            render(
                Assistant::new("aia_asst_1")
                    .welcome_greeting("Hi")
                    .add(Language::new("en-US"))
            ),
            concat!(
                r#"<Assistant id="aia_asst_1" welcomeGreeting="Hi">"#,
                r#"<Language code="en-US" /></Assistant>"#
            )
        );
        assert_eq!(
            render(
                AiSession::new()
                    .ai_connector("connector")
                    .ai_session_configuration("config")
            ),
            r#"<AiSession aiConnector="connector" aiSessionConfiguration="config" />"#
        );
        assert_eq!(
            render(ConversationRelaySession::new()),
            "<ConversationRelaySession />"
        );
        assert_eq!(
            render(
                VirtualAgent::new("project")
                    .language("en-US")
                    .sentiment_analysis(true)
                    .status_callback(url("https://example.com/va"))
                    .status_callback_method(Method::Get)
                    .add(Config::new("welcomeIntent", "hello"))
                    .add(Parameter::new("customer", "1"))
            ),
            concat!(
                r#"<VirtualAgent connectorName="project" language="en-US" "#,
                r#"sentimentAnalysis="true" statusCallback="https://example.com/va" "#,
                r#"statusCallbackMethod="GET"><Config name="welcomeIntent" value="hello" />"#,
                r#"<Parameter name="customer" value="1" /></VirtualAgent>"#
            )
        );
        assert_eq!(
            render(Room::new("DailyStandup").participant_identity("alice")),
            r#"<Room participantIdentity="alice">DailyStandup</Room>"#
        );
    }

    #[test]
    fn conversation_attributes() {
        let conversation = Conversation::new("IS123")
            .inbound_autocreation(true)
            .routing_assignment_timeout(Duration::from_secs(30))
            .inbound_timeout(Duration::from_secs(20))
            .url(url("https://example.com/c"))
            .method(Method::Post)
            .record(DialRecord::RecordFromAnswer)
            .trim(Trim::TrimSilence)
            .recording_status_callback(url("https://example.com/r"))
            .recording_status_callback_method(Method::Get)
            .recording_status_callback_event([RecordingEvent::Completed])
            .status_callback(url("https://example.com/s"))
            .status_callback_method(Method::Get)
            .status_callback_event([
                ConversationEvent::CallInitiated,
                ConversationEvent::CallCompleted,
            ]);
        assert_eq!(
            render(conversation),
            concat!(
                r#"<Conversation inboundAutocreation="true" inboundTimeout="20" method="POST" "#,
                r#"record="record-from-answer" recordingStatusCallback="https://example.com/r" "#,
                r#"recordingStatusCallbackEvent="completed" recordingStatusCallbackMethod="GET" "#,
                r#"routingAssignmentTimeout="30" serviceInstanceSid="IS123" "#,
                r#"statusCallback="https://example.com/s" "#,
                r#"statusCallbackEvent="call-initiated call-completed" statusCallbackMethod="GET" "#,
                r#"trim="trim-silence" url="https://example.com/c" />"#,
            )
        );
    }
}
