//! Voice TwiML: `<Response>` and every verb and noun Twilio documents.
//!
//! Each verb and noun is a typed builder: constructors take what the element needs (an
//! [`AbsoluteUrl`] for anything Twilio fetches), setters take `self` and return `Self`, and
//! [`add`](VoiceResponse::add) accepts only the children Twilio allows under that parent.
//! Every builder also has `attr(name, value)` for attributes this crate does not know yet,
//! and every parent accepts an [`Element`] for unknown children.
//!
//! ```
//! use twiml::voice::{Action, Gather, GatherInput, Hangup, Play, Redirect, Say, VoiceResponse};
//! use twiml::PublicBase;
//!
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let doc = VoiceResponse::new()
//!     .add(
//!         Gather::new(Action::Url(base.join("/voice/menu")?))
//!             .input([GatherInput::Dtmf])
//!             .num_digits(1)
//!             .add(Play::new(base.join("/media/welcome.mp3")?)),
//!     )
//!     .add(Redirect::new(base.join("/voice/next/")?))
//!     .add(Hangup::new());
//! assert_eq!(
//!     doc.to_xml(),
//!     concat!(
//!         r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
//!         r#"<Gather action="https://ivr.example.com/voice/menu" input="dtmf" numDigits="1">"#,
//!         r#"<Play>https://ivr.example.com/media/welcome.mp3</Play></Gather>"#,
//!         r#"<Redirect>https://ivr.example.com/voice/next/</Redirect><Hangup /></Response>"#,
//!     )
//! );
//! # Ok::<(), twiml::UrlError>(())
//! ```
//!
//! Nouns, SSML and media streams nest the same way; a stream's URL is a [`WebSocketUrl`]:
//!
//! ```
//! use std::time::Duration;
//! use twiml::voice::{Break, Dial, Number, Say, Start, Stream, VoiceResponse};
//! use twiml::WebSocketUrl;
//!
//! let doc = VoiceResponse::new()
//!     .add(Start::new().add(Stream::new(WebSocketUrl::parse("wss://media.example.com/s")?)))
//!     .add(Say::new("Connecting you").add(Break::new().time(Duration::from_millis(500))))
//!     .add(Dial::new().timeout(Duration::from_secs(20)).add(Number::new("+15558675310")));
//! assert_eq!(
//!     doc.to_xml(),
//!     concat!(
//!         r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
//!         r#"<Start><Stream url="wss://media.example.com/s" /></Start>"#,
//!         r#"<Say>Connecting you<break time="500ms" /></Say>"#,
//!         r#"<Dial timeout="20"><Number>+15558675310</Number></Dial></Response>"#,
//!     )
//! );
//! # Ok::<(), twiml::UrlError>(())
//! ```
//!
//! [`WebSocketUrl`]: crate::WebSocketUrl

mod basic;
mod call_control;
mod common;
mod connect;
mod dial;
mod gather;
mod media;
mod parameter;
mod pay;
mod queue;
mod record;
mod say;

pub use basic::{Hangup, HangupChild, Pause, Play, Redirect};
#[allow(deprecated)]
pub use call_control::Sms;
pub use call_control::{Echo, Refer, ReferChild, Reject, RejectChild, RejectReason};
pub use common::{CallEvent, RecordingEvent, RecordingTrack, StreamTrack, Trim};
pub use connect::{
    AiSession, Assistant, AssistantChild, CallerInput, Connect, ConnectChild, Conversation,
    ConversationEvent, ConversationRelay, ConversationRelayChild, ConversationRelaySession,
    InterruptSensitivity, Language, Room, VirtualAgent, VirtualAgentChild,
};
pub use dial::{
    Application, ApplicationChild, ApplicationSid, Client, ClientChild, Conference, ConferenceBeep,
    ConferenceEvent, ConferenceRecord, ConferenceRegion, Dial, DialChild, DialEvent, DialRecord,
    Header, Headers, HeadersChild, Identity, JitterBufferSize, MachineDetection, Number, Sim, Sip,
    SipChild, Uri, WhatsApp,
};
pub use gather::{Gather, GatherChild, GatherInput, SpeechTimeout};
pub use media::{
    Recording, RecordingChannels, Siprec, SiprecChild, Start, StartChild, Stop, StopChild, Stream,
    StreamChild, Transcription, TranscriptionChild,
};
pub use parameter::{Config, Parameter};
pub use pay::{
    BankAccountType, CardType, Pay, PayChild, PayInput, PaymentMethod, Prompt, PromptErrorType,
    PromptFor, TokenType,
};
pub use queue::{Enqueue, EnqueueChild, Leave, Queue, Task};
pub use record::Record;
pub use say::{
    Break, BreakStrength, Emphasis, EmphasisLevel, InterpretAs, Lang, Paragraph, ParagraphChild,
    Phoneme, PhonemeAlphabet, Prosody, Say, SayAs, SayAsFormat, SayChild, Sentence, SentenceChild,
    Sub, Word, WordChild,
};

pub(crate) use common::{action_setters, response_document};

use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait};

/// The HTTP method Twilio uses to request a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST` (Twilio's default almost everywhere).
    Post,
}

impl Method {
    /// The method as TwiML writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// Where Twilio goes after a verb that has an `action` defaulting to the current document.
///
/// `<Gather>` and `<Record>` post to the *current document's URL* when `action` is omitted,
/// which Twilio's docs warn "can lead to unwanted looping behavior". These verbs therefore
/// take an `Action` in their constructor: either an absolute URL, or an explicit, visible
/// choice of the current document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Post the result to this URL.
    Url(AbsoluteUrl),
    /// Omit `action`: Twilio re-requests the current document. Choose this only when the
    /// document handles the result itself (for example, it branches on `Digits`).
    CurrentDocument,
}

impl From<AbsoluteUrl> for Action {
    fn from(url: AbsoluteUrl) -> Self {
        Action::Url(url)
    }
}

impl Action {
    pub(crate) fn apply(self, element: &mut Element) {
        if let Action::Url(url) = self {
            element.set("action", url.into_string());
        }
    }
}

child_trait!(
    /// What may appear directly under `<Response>` in a voice document.
    VoiceVerb: Connect, Dial, Echo, Enqueue, Gather, Hangup, Leave, Pause, Pay, Play, Record,
        Redirect, Refer, Reject, Say, Start, Stop
);

/// A voice TwiML document: `<Response>` and its verbs, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceResponse(Element);
response_document!(VoiceResponse, VoiceVerb);

impl VoiceResponse {
    /// An empty `<Response>`.
    pub fn new() -> Self {
        Self(Element::typed("Response"))
    }
}
