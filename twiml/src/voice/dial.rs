//! `<Dial>` and the nouns it connects the caller to: `<Number>`, `<Client>`,
//! `<Conference>`, `<Queue>`, `<Sip>`, `<Sim>`, `<Application>` and `<WhatsApp>`.

use std::time::Duration;

use super::common::{
    CallEvent, RecordingTrack, Trim, action_setters, call_status_callback_setters, millis,
    name_value_element, recording_status_callback_setters, secs, space_separated,
    status_callback_setters, url_setters, value_enum,
};
use super::{Method, Parameter, Queue};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Dial>`: the destinations.
    DialChild: Number, Client, Conference, Queue, Sip, Sim, Application, WhatsApp
);

child_trait!(
    /// What may be nested in `<Client>`: its `<Identity>` and custom `<Parameter>`s.
    ClientChild: Identity, Parameter
);

child_trait!(
    /// What may be nested in `<Application>`: its `<ApplicationSid>` and custom
    /// `<Parameter>`s.
    ApplicationChild: ApplicationSid, Parameter
);

child_trait!(
    /// What may be nested in `<Sip>`: `<Uri>` destinations and `<Headers>`.
    SipChild: Uri, Headers
);

child_trait!(
    /// What may be nested in `<Headers>`: `<Header>`.
    HeadersChild: Header
);

value_enum!(
    /// Whether and how `<Dial>` records the call (`record`; Twilio's default is
    /// `do-not-record`).
    DialRecord {
        /// `do-not-record`
        DoNotRecord => "do-not-record",
        /// `record-from-answer`: both legs mixed into one channel, from answer.
        RecordFromAnswer => "record-from-answer",
        /// `record-from-ringing`: both legs mixed into one channel, from ringing.
        RecordFromRinging => "record-from-ringing",
        /// `record-from-answer-dual`: one channel per leg, from answer.
        RecordFromAnswerDual => "record-from-answer-dual",
        /// `record-from-ringing-dual`: one channel per leg, from ringing.
        RecordFromRingingDual => "record-from-ringing-dual",
    }
);

value_enum!(
    /// Extra events `<Dial>` reports to its `action` URL (`events`).
    DialEvent {
        /// `call-progress-event`: ringing and answer events of the dialed leg.
        CallProgressEvent => "call-progress-event",
    }
);

value_enum!(
    /// Answering-machine detection on an outbound leg (`machineDetection`).
    MachineDetection {
        /// `Enable`: report as soon as a human or machine is detected.
        Enable => "Enable",
        /// `DetectMessageEnd`: for machines, wait for the end of the greeting.
        DetectMessageEnd => "DetectMessageEnd",
    }
);

/// The answering-machine-detection settings of an outbound leg, shared by `<Number>` and
/// `<Sip>`.
macro_rules! machine_detection_setters {
    () => {
        /// Answering-machine detection for this leg.
        #[must_use]
        pub fn machine_detection(mut self, detection: MachineDetection) -> Self {
            self.0.set("machineDetection", detection.as_str());
            self
        }

        /// Where Twilio reports the answering-machine detection result.
        #[must_use]
        pub fn amd_status_callback(mut self, url: AbsoluteUrl) -> Self {
            self.0.set("amdStatusCallback", url.into_string());
            self
        }

        /// The method used to request `amdStatusCallback`.
        #[must_use]
        pub fn amd_status_callback_method(mut self, method: Method) -> Self {
            self.0.set("amdStatusCallbackMethod", method.as_str());
            self
        }

        /// How long detection may take, in whole seconds (Twilio's default is 30).
        #[must_use]
        pub fn machine_detection_timeout(mut self, timeout: Duration) -> Self {
            self.0.set("machineDetectionTimeout", secs(timeout));
            self
        }

        /// Speech longer than this means a machine, in milliseconds (Twilio's default is 2400).
        #[must_use]
        pub fn machine_detection_speech_threshold(mut self, threshold: Duration) -> Self {
            self.0
                .set("machineDetectionSpeechThreshold", millis(threshold));
            self
        }

        /// Silence after speech that ends it, in milliseconds (Twilio's default is 1200).
        #[must_use]
        pub fn machine_detection_speech_end_threshold(mut self, threshold: Duration) -> Self {
            self.0
                .set("machineDetectionSpeechEndThreshold", millis(threshold));
            self
        }

        /// Initial silence that means a machine, in milliseconds (Twilio's default is 5000).
        #[must_use]
        pub fn machine_detection_silence_timeout(mut self, timeout: Duration) -> Self {
            self.0
                .set("machineDetectionSilenceTimeout", millis(timeout));
            self
        }
    };
}

/// `<Dial>`: connects the caller to another party.
///
/// Without an [`action`](Dial::action), Twilio continues with the next verb once the
/// dialed call ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial(Element);
typed_element!(Dial);

impl Default for Dial {
    fn default() -> Self {
        Self::new()
    }
}

impl Dial {
    /// A dial whose destinations are added with [`add`](Dial::add).
    pub fn new() -> Self {
        Self(Element::typed("Dial"))
    }

    /// Dials a phone number given as the element's text (`<Dial>+15558675310</Dial>`).
    pub fn to(number: impl Into<String>) -> Self {
        Self(Element::typed("Dial").text(number))
    }

    /// Adds a destination; several destinations ring at once unless
    /// [`sequential`](Dial::sequential) is set.
    #[must_use]
    pub fn add(mut self, child: impl DialChild) -> Self {
        self.0.push(child);
        self
    }

    action_setters!(
        /// Where Twilio posts the outcome when the dialed call ends; its TwiML continues the
        /// call.
    );

    /// How long to let the destination ring, in whole seconds (Twilio's default is 30).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.set("timeout", secs(timeout));
        self
    }

    /// Whether the caller can press `*` to hang up the dialed party.
    #[must_use]
    pub fn hangup_on_star(mut self, hangup: bool) -> Self {
        self.0.set("hangupOnStar", hangup.to_string());
        self
    }

    /// The longest the dialed call may last, in whole seconds (Twilio's default is 4 hours).
    #[must_use]
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.0.set("timeLimit", secs(limit));
        self
    }

    /// The caller ID presented to the dialed party.
    #[must_use]
    pub fn caller_id(mut self, caller_id: impl Into<String>) -> Self {
        self.0.set("callerId", caller_id);
        self
    }

    /// Whether and how to record the dialed call.
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

    /// Whether the caller keeps hearing ringing until the dialed party answers.
    #[must_use]
    pub fn answer_on_bridge(mut self, answer_on_bridge: bool) -> Self {
        self.0.set("answerOnBridge", answer_on_bridge.to_string());
        self
    }

    /// The ringback tone the caller hears, by country code (`us`, `uk`, `de`, `jp`, …).
    #[must_use]
    pub fn ring_tone(mut self, ring_tone: impl Into<String>) -> Self {
        self.0.set("ringTone", ring_tone);
        self
    }

    /// Which audio the recording takes.
    #[must_use]
    pub fn recording_track(mut self, track: RecordingTrack) -> Self {
        self.0.set("recordingTrack", track.as_str());
        self
    }

    /// Whether nested destinations are dialed one after another rather than all at once.
    #[must_use]
    pub fn sequential(mut self, sequential: bool) -> Self {
        self.0.set("sequential", sequential.to_string());
        self
    }

    /// Where Twilio sends SIP REFER requests from the dialed party.
    #[must_use]
    pub fn refer_url(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("referUrl", url.into_string());
        self
    }

    /// The method used to request `referUrl`.
    #[must_use]
    pub fn refer_method(mut self, method: Method) -> Self {
        self.0.set("referMethod", method.as_str());
        self
    }

    /// Extra events to report to `action`.
    #[must_use]
    pub fn events(mut self, events: impl IntoIterator<Item = DialEvent>) -> Self {
        self.0.set(
            "events",
            space_separated(events.into_iter().map(DialEvent::as_str)),
        );
        self
    }
}

/// `<Number>`: a phone number to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(Element);
typed_element!(Number);

impl Number {
    /// Dials `phone_number` (E.164, such as `+15558675310`).
    pub fn new(phone_number: impl Into<String>) -> Self {
        Self(Element::typed("Number").text(phone_number))
    }

    /// DTMF tones to play when the call is answered (`w` is a half-second pause).
    #[must_use]
    pub fn send_digits(mut self, digits: impl Into<String>) -> Self {
        self.0.set("sendDigits", digits);
        self
    }

    url_setters!(
        /// TwiML run for the called party before the two are connected (a whisper).
    );

    call_status_callback_setters!(CallEvent);

    /// The BYOC trunk SID to route the call through.
    #[must_use]
    pub fn byoc(mut self, trunk_sid: impl Into<String>) -> Self {
        self.0.set("byoc", trunk_sid);
        self
    }

    machine_detection_setters!();
}

/// `<Client>`: a Voice SDK client to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client(Element);
typed_element!(Client);

impl Client {
    /// Dials the client `identity`, given as the element's text.
    pub fn new(identity: impl Into<String>) -> Self {
        Self(Element::typed("Client").text(identity))
    }

    /// Dials the client `identity` given as a nested `<Identity>`: the form to use with
    /// custom `<Parameter>`s.
    pub fn with_identity(identity: impl Into<String>) -> Self {
        Self(Element::typed("Client").child(Identity::new(identity)))
    }

    /// Nests an `<Identity>` or a `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl ClientChild) -> Self {
        self.0.push(child);
        self
    }

    url_setters!(
        /// TwiML run for the client before the two are connected.
    );

    call_status_callback_setters!(CallEvent);
}

/// `<Identity>`: the identity of the `<Client>` to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Element);
typed_element!(Identity);

impl Identity {
    /// The client identity.
    pub fn new(identity: impl Into<String>) -> Self {
        Self(Element::typed("Identity").text(identity))
    }
}

value_enum!(
    /// When the conference plays a beep (`beep`; Twilio's default is `true`).
    ConferenceBeep {
        /// `true`: when anyone joins or leaves.
        True => "true",
        /// `false`: never.
        False => "false",
        /// `onEnter`: only when someone joins.
        OnEnter => "onEnter",
        /// `onExit`: only when someone leaves.
        OnExit => "onExit",
    }
);

value_enum!(
    /// Whether the conference is recorded (`record`; Twilio's default is `do-not-record`).
    ConferenceRecord {
        /// `do-not-record`
        DoNotRecord => "do-not-record",
        /// `record-from-start`: from when the conference starts.
        RecordFromStart => "record-from-start",
    }
);

value_enum!(
    /// A conference event that triggers `statusCallback` (`statusCallbackEvent`).
    ConferenceEvent {
        /// `start`
        Start => "start",
        /// `end`
        End => "end",
        /// `join`
        Join => "join",
        /// `leave`
        Leave => "leave",
        /// `mute`
        Mute => "mute",
        /// `hold`
        Hold => "hold",
        /// `modify`
        Modify => "modify",
        /// `speaker`
        Speaker => "speaker",
        /// `announcement`
        Announcement => "announcement",
    }
);

value_enum!(
    /// Where the conference's media is mixed (`region`).
    ConferenceRegion {
        /// `us1`
        Us1 => "us1",
        /// `us2`
        Us2 => "us2",
        /// `ie1`
        Ie1 => "ie1",
        /// `sg1`
        Sg1 => "sg1",
        /// `br1`
        Br1 => "br1",
        /// `au1`
        Au1 => "au1",
        /// `jp1`
        Jp1 => "jp1",
        /// `de1`
        De1 => "de1",
    }
);

value_enum!(
    /// The participant's jitter buffer (`jitterBufferSize`; Twilio's default is `large`).
    JitterBufferSize {
        /// `large`
        Large => "large",
        /// `medium`
        Medium => "medium",
        /// `small`
        Small => "small",
        /// `off`
        Off => "off",
    }
);

/// `<Conference>`: puts the caller in a named conference room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conference(Element);
typed_element!(Conference);

impl Conference {
    /// Joins the conference `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(Element::typed("Conference").text(name))
    }

    /// Whether the participant joins muted.
    #[must_use]
    pub fn muted(mut self, muted: bool) -> Self {
        self.0.set("muted", muted.to_string());
        self
    }

    /// When the conference beeps.
    #[must_use]
    pub fn beep(mut self, beep: ConferenceBeep) -> Self {
        self.0.set("beep", beep.as_str());
        self
    }

    /// Whether the conference starts when this participant joins (default `true`).
    #[must_use]
    pub fn start_conference_on_enter(mut self, start: bool) -> Self {
        self.0.set("startConferenceOnEnter", start.to_string());
        self
    }

    /// Whether the conference ends when this participant leaves (default `false`).
    #[must_use]
    pub fn end_conference_on_exit(mut self, end: bool) -> Self {
        self.0.set("endConferenceOnExit", end.to_string());
        self
    }

    /// TwiML (or an audio file) played while waiting for the conference to start.
    #[must_use]
    pub fn wait_url(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("waitUrl", url.into_string());
        self
    }

    /// Silence instead of Twilio's default hold music while waiting (`waitUrl=""`).
    #[must_use]
    pub fn no_wait_music(mut self) -> Self {
        self.0.set("waitUrl", "");
        self
    }

    /// The method used to request `waitUrl`.
    #[must_use]
    pub fn wait_method(mut self, method: Method) -> Self {
        self.0.set("waitMethod", method.as_str());
        self
    }

    /// The most participants allowed (2 to 250).
    #[must_use]
    pub fn max_participants(mut self, max: u32) -> Self {
        self.0.set("maxParticipants", max.to_string());
        self
    }

    /// Whether the conference is recorded.
    #[must_use]
    pub fn record(mut self, record: ConferenceRecord) -> Self {
        self.0.set("record", record.as_str());
        self
    }

    /// Where the conference's media is mixed.
    #[must_use]
    pub fn region(mut self, region: ConferenceRegion) -> Self {
        self.0.set("region", region.as_str());
        self
    }

    /// Joins as a coach of the participant with this call SID (heard only by them).
    #[must_use]
    pub fn coach(mut self, call_sid: impl Into<String>) -> Self {
        self.0.set("coach", call_sid);
        self
    }

    /// Whether to trim silence from the recording.
    #[must_use]
    pub fn trim(mut self, trim: Trim) -> Self {
        self.0.set("trim", trim.as_str());
        self
    }

    status_callback_setters!(
        /// Where Twilio reports conference events.
        status_callback,
        /// Which conference events are reported to `statusCallback`.
        status_callback_event: ConferenceEvent,
    );

    recording_status_callback_setters!();

    /// Where Twilio reports conference events (the legacy event callback).
    #[must_use]
    pub fn event_callback_url(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("eventCallbackUrl", url.into_string());
        self
    }

    /// The participant's jitter buffer.
    #[must_use]
    pub fn jitter_buffer_size(mut self, size: JitterBufferSize) -> Self {
        self.0.set("jitterBufferSize", size.as_str());
        self
    }

    /// A label for this participant, usable in the Participants API.
    #[must_use]
    pub fn participant_label(mut self, label: impl Into<String>) -> Self {
        self.0.set("participantLabel", label);
        self
    }
}

/// `<Sip>`: a SIP endpoint to dial (in `<Dial>`), or the SIP URI a call is referred to
/// (in `<Refer>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sip(Element);
typed_element!(Sip);

impl Sip {
    /// Dials (or refers to) `sip_uri`, such as `sip:alice@example.com;transport=tls`.
    pub fn new(sip_uri: impl Into<String>) -> Self {
        Self(Element::typed("Sip").text(sip_uri))
    }

    /// A `<Sip>` whose destinations are nested [`Uri`]s, optionally with [`Headers`].
    pub fn empty() -> Self {
        Self(Element::typed("Sip"))
    }

    /// Nests a `<Uri>` or `<Headers>`.
    #[must_use]
    pub fn add(mut self, child: impl SipChild) -> Self {
        self.0.push(child);
        self
    }

    /// The username for SIP authentication.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.0.set("username", username);
        self
    }

    /// The password for SIP authentication.
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.0.set("password", password);
        self
    }

    url_setters!(
        /// TwiML run for the called party before the two are connected.
    );

    call_status_callback_setters!(CallEvent);

    machine_detection_setters!();
}

/// `<Uri>`: one SIP destination of a `<Sip>`, tried by priority and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri(Element);
typed_element!(Uri);

impl Uri {
    /// The destination `sip_uri`.
    pub fn new(sip_uri: impl Into<String>) -> Self {
        Self(Element::typed("Uri").text(sip_uri))
    }

    /// The priority of this destination (lower is tried first).
    #[must_use]
    pub fn priority(mut self, priority: u32) -> Self {
        self.0.set("priority", priority.to_string());
        self
    }

    /// The weight among destinations of the same priority.
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.0.set("weight", weight.to_string());
        self
    }

    /// The username for SIP authentication.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.0.set("username", username);
        self
    }

    /// The password for SIP authentication.
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.0.set("password", password);
        self
    }
}

/// `<Headers>`: the custom SIP headers of a `<Sip>`'s INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers(Element);
typed_element!(Headers);

impl Default for Headers {
    fn default() -> Self {
        Self::new()
    }
}

impl Headers {
    /// An empty header list; add [`Header`]s.
    pub fn new() -> Self {
        Self(Element::typed("Headers"))
    }

    /// Adds a header.
    #[must_use]
    pub fn add(mut self, child: impl HeadersChild) -> Self {
        self.0.push(child);
        self
    }
}

/// `<Header>`: one custom SIP header (`X-` names, or `User-to-User` and the like).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header(Element);
typed_element!(Header);

impl Header {
    /// The header `name` with `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self(name_value_element("Header", name, value))
    }
}

/// `<Sim>`: a Twilio Programmable Wireless SIM to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sim(Element);
typed_element!(Sim);

impl Sim {
    /// Dials the SIM with this SID.
    pub fn new(sim_sid: impl Into<String>) -> Self {
        Self(Element::typed("Sim").text(sim_sid))
    }
}

/// `<Application>`: another TwiML App to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application(Element);
typed_element!(Application);

impl Application {
    /// Dials the TwiML App `application_sid`, given as the element's text.
    pub fn new(application_sid: impl Into<String>) -> Self {
        Self(Element::typed("Application").text(application_sid))
    }

    /// Dials the TwiML App `application_sid` given as a nested `<ApplicationSid>`: the
    /// form to use with custom `<Parameter>`s.
    pub fn with_sid(application_sid: impl Into<String>) -> Self {
        Self(Element::typed("Application").child(ApplicationSid::new(application_sid)))
    }

    /// Nests an `<ApplicationSid>` or a `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl ApplicationChild) -> Self {
        self.0.push(child);
        self
    }

    url_setters!(
        /// TwiML run for the called application before the two are connected.
    );

    call_status_callback_setters!(CallEvent);

    /// The identity of the customer calling the application.
    #[must_use]
    pub fn customer_id(mut self, customer_id: impl Into<String>) -> Self {
        self.0.set("customerId", customer_id);
        self
    }

    /// Whether the called application sees the parent call's `To` rather than its own SID.
    #[must_use]
    pub fn copy_parent_to(mut self, copy: bool) -> Self {
        self.0.set("copyParentTo", copy.to_string());
        self
    }
}

/// `<ApplicationSid>`: the SID of the `<Application>` to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSid(Element);
typed_element!(ApplicationSid);

impl ApplicationSid {
    /// The TwiML App SID (`AP…`).
    pub fn new(sid: impl Into<String>) -> Self {
        Self(Element::typed("ApplicationSid").text(sid))
    }
}

/// `<WhatsApp>`: a WhatsApp user to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsApp(Element);
typed_element!(WhatsApp);

impl WhatsApp {
    /// Calls the WhatsApp user with this phone number (E.164).
    pub fn new(phone_number: impl Into<String>) -> Self {
        Self(Element::typed("WhatsApp").text(phone_number))
    }

    url_setters!(
        /// TwiML run for the called party before the two are connected.
    );

    call_status_callback_setters!(CallEvent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::RecordingEvent;
    use crate::voice::common::test_support::{render, url};

    #[test]
    fn dial_forms_match_the_official_sdk() {
        assert_eq!(render(Dial::new()), "<Dial />");
        assert_eq!(render(Dial::to("1231231234")), "<Dial>1231231234</Dial>");
        assert_eq!(
            render(Dial::new().add(Number::new("1231231234"))),
            "<Dial><Number>1231231234</Number></Dial>"
        );
        assert_eq!(
            render(Dial::new().add(Sim::new("123123123"))),
            "<Dial><Sim>123123123</Sim></Dial>"
        );
        assert_eq!(
            render(Dial::new().add(Sip::new("foo@example.com").username("foo").password("bar"))),
            r#"<Dial><Sip password="bar" username="foo">foo@example.com</Sip></Dial>"#
        );
        assert_eq!(
            render(Dial::new().add(Conference::new("My Room"))),
            "<Dial><Conference>My Room</Conference></Dial>"
        );
        assert_eq!(
            render(Dial::new().add(Client::new(""))),
            "<Dial><Client /></Dial>"
        );
        assert_eq!(
            render(Dial::new().add(Client::new("alice"))),
            "<Dial><Client>alice</Client></Dial>"
        );
    }

    #[test]
    fn dial_attributes_are_typed() {
        let dial = Dial::new()
            .action(url("https://example.com/dial-done?a=1&b=2"))
            .method(Method::Get)
            .timeout(Duration::from_secs(20))
            .hangup_on_star(true)
            .time_limit(Duration::from_secs(600))
            .caller_id("+15550001111")
            .record(DialRecord::RecordFromAnswerDual)
            .trim(Trim::DoNotTrim)
            .recording_status_callback(url("https://example.com/rec"))
            .recording_status_callback_method(Method::Post)
            .recording_status_callback_event([
                RecordingEvent::InProgress,
                RecordingEvent::Completed,
            ])
            .answer_on_bridge(true)
            .ring_tone("uk")
            .recording_track(RecordingTrack::Inbound)
            .sequential(false)
            .refer_url(url("https://example.com/refer"))
            .refer_method(Method::Get)
            .events([DialEvent::CallProgressEvent]);
        assert_eq!(
            render(dial),
            concat!(
                r#"<Dial action="https://example.com/dial-done?a=1&amp;b=2" answerOnBridge="true" "#,
                r#"callerId="+15550001111" events="call-progress-event" hangupOnStar="true" "#,
                r#"method="GET" record="record-from-answer-dual" "#,
                r#"recordingStatusCallback="https://example.com/rec" "#,
                r#"recordingStatusCallbackEvent="in-progress completed" "#,
                r#"recordingStatusCallbackMethod="POST" recordingTrack="inbound" "#,
                r#"referMethod="GET" referUrl="https://example.com/refer" ringTone="uk" "#,
                r#"sequential="false" timeLimit="600" timeout="20" trim="do-not-trim" />"#,
            )
        );
    }

    #[test]
    fn number_status_callback_events_are_space_separated() {
        assert_eq!(
            render(
                Number::new("1231231234")
                    .status_callback(url("http://example.com"))
                    .status_callback_event([CallEvent::Initiated, CallEvent::Completed])
            ),
            concat!(
                r#"<Number statusCallback="http://example.com" "#,
                r#"statusCallbackEvent="initiated completed">1231231234</Number>"#
            )
        );
        assert_eq!(
            render(
                Number::new("+15551234567")
                    .send_digits("wwww1928")
                    .url(url("https://example.com/whisper"))
                    .machine_detection(MachineDetection::DetectMessageEnd)
                    .amd_status_callback(url("https://example.com/amd"))
                    .amd_status_callback_method(Method::Post)
                    .machine_detection_timeout(Duration::from_secs(15))
                    .machine_detection_speech_threshold(Duration::from_millis(2400))
                    .machine_detection_speech_end_threshold(Duration::from_millis(1200))
                    .machine_detection_silence_timeout(Duration::from_secs(5))
                    .byoc("BY123")
                    .method(Method::Get)
                    .status_callback_method(Method::Get)
            ),
            concat!(
                r#"<Number amdStatusCallback="https://example.com/amd" "#,
                r#"amdStatusCallbackMethod="POST" byoc="BY123" "#,
                r#"machineDetection="DetectMessageEnd" machineDetectionSilenceTimeout="5000" "#,
                r#"machineDetectionSpeechEndThreshold="1200" "#,
                r#"machineDetectionSpeechThreshold="2400" machineDetectionTimeout="15" "#,
                r#"method="GET" sendDigits="wwww1928" statusCallbackMethod="GET" "#,
                r#"url="https://example.com/whisper">+15551234567</Number>"#,
            )
        );
    }

    #[test]
    fn conference_renders_like_the_official_sdk() {
        assert_eq!(
            render(
                Conference::new("TestConferenceAttributes")
                    .beep(ConferenceBeep::False)
                    .no_wait_music()
                    .start_conference_on_enter(true)
                    .end_conference_on_exit(true)
            ),
            concat!(
                r#"<Conference beep="false" endConferenceOnExit="true" "#,
                r#"startConferenceOnEnter="true" waitUrl="">TestConferenceAttributes</Conference>"#
            )
        );
        let full = Conference::new("Room 1")
            .muted(true)
            .wait_url(url("https://example.com/hold.xml"))
            .wait_method(Method::Get)
            .max_participants(10)
            .record(ConferenceRecord::RecordFromStart)
            .region(ConferenceRegion::Ie1)
            .coach("CA123")
            .trim(Trim::TrimSilence)
            .status_callback_event([ConferenceEvent::Start, ConferenceEvent::Join])
            .status_callback(url("https://example.com/conf"))
            .status_callback_method(Method::Post)
            .recording_status_callback(url("https://example.com/rec"))
            .recording_status_callback_method(Method::Get)
            .recording_status_callback_event([RecordingEvent::Absent])
            .event_callback_url(url("https://example.com/events"))
            .jitter_buffer_size(JitterBufferSize::Small)
            .participant_label("agent")
            .beep(ConferenceBeep::OnEnter);
        assert_eq!(
            render(full),
            concat!(
                r#"<Conference beep="onEnter" coach="CA123" "#,
                r#"eventCallbackUrl="https://example.com/events" jitterBufferSize="small" "#,
                r#"maxParticipants="10" muted="true" participantLabel="agent" "#,
                r#"record="record-from-start" recordingStatusCallback="https://example.com/rec" "#,
                r#"recordingStatusCallbackEvent="absent" recordingStatusCallbackMethod="GET" "#,
                r#"region="ie1" statusCallback="https://example.com/conf" "#,
                r#"statusCallbackEvent="start join" statusCallbackMethod="POST" "#,
                r#"trim="trim-silence" waitMethod="GET" "#,
                r#"waitUrl="https://example.com/hold.xml">Room 1</Conference>"#,
            )
        );
    }

    #[test]
    fn client_and_application_take_identity_and_parameters() {
        assert_eq!(
            render(
                Client::with_identity("joey")
                    .add(Parameter::new("FirstName", "Joey"))
                    .url(url("https://example.com/client"))
                    .method(Method::Post)
                    .status_callback_event([CallEvent::Ringing])
                    .status_callback(url("https://example.com/status"))
                    .status_callback_method(Method::Get)
            ),
            concat!(
                r#"<Client method="POST" statusCallback="https://example.com/status" "#,
                r#"statusCallbackEvent="ringing" statusCallbackMethod="GET" "#,
                r#"url="https://example.com/client"><Identity>joey</Identity>"#,
                r#"<Parameter name="FirstName" value="Joey" /></Client>"#,
            )
        );
        assert_eq!(
            render(
                Application::with_sid("AP123")
                    .add(Parameter::new("ticket", "42"))
                    .customer_id("cust-1")
                    .copy_parent_to(true)
            ),
            concat!(
                r#"<Application copyParentTo="true" customerId="cust-1">"#,
                r#"<ApplicationSid>AP123</ApplicationSid>"#,
                r#"<Parameter name="ticket" value="42" /></Application>"#,
            )
        );
        assert_eq!(
            render(Application::new("AP123").url(url("https://example.com/a"))),
            r#"<Application url="https://example.com/a">AP123</Application>"#
        );
    }

    #[test]
    fn sip_takes_uris_and_headers() {
        let sip = Sip::empty()
            .add(
                Uri::new("sip:alice@example.com")
                    .priority(1)
                    .weight(10)
                    .username("u")
                    .password("p"),
            )
            .add(Headers::new().add(Header::new("X-Customer", "a\"b")))
            .status_callback(url("https://example.com/sip"))
            .machine_detection(MachineDetection::Enable);
        assert_eq!(
            render(sip),
            concat!(
                r#"<Sip machineDetection="Enable" statusCallback="https://example.com/sip">"#,
                r#"<Uri password="p" priority="1" username="u" weight="10">sip:alice@example.com</Uri>"#,
                r#"<Headers><Header name="X-Customer" value="a&quot;b" /></Headers></Sip>"#,
            )
        );
    }

    #[test]
    fn whatsapp_and_queue_nest_in_dial() {
        let dial = Dial::new()
            .add(
                WhatsApp::new("+15551234567")
                    .status_callback_event([CallEvent::Answered, CallEvent::Completed]),
            )
            .add(Queue::new("support"));
        assert_eq!(
            render(dial),
            concat!(
                r#"<Dial><WhatsApp statusCallbackEvent="answered completed">+15551234567</WhatsApp>"#,
                "<Queue>support</Queue></Dial>"
            )
        );
    }
}
