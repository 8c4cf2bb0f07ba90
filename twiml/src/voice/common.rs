//! Attribute values several voice elements share, and the helpers that write them.

use std::time::Duration;

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

/// Joins speech hints with `, `, as Twilio's `hints` attributes expect.
pub(crate) fn comma_separated<I, T>(values: I) -> String
where
    I: IntoIterator<Item = T>,
    T: AsRef<str>,
{
    let mut out = String::new();
    for value in values {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(value.as_ref());
    }
    out
}

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
    fn values_are_twilio_spellings() {
        assert_eq!(Trim::TrimSilence.as_str(), "trim-silence");
        assert_eq!(RecordingEvent::InProgress.as_str(), "in-progress");
        assert_eq!(CallEvent::Answered.as_str(), "answered");
        assert_eq!(RecordingTrack::Both.as_str(), "both");
        assert_eq!(StreamTrack::BothTracks.as_str(), "both_tracks");
    }
}
