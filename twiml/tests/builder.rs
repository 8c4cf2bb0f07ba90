//! Whole documents built with the typed API: always well-formed, text and attributes
//! round-trip through a real XML parser, and the relative URL of field incident 1 cannot be
//! written.

use std::time::Duration;

use proptest::prelude::*;
use twiml::voice::{
    Action, Connect, ConversationRelay, Dial, Emphasis, Enqueue, Gather, Hangup, Number, Parameter,
    Pause, Pay, Play, Prompt, PromptFor, Record, Redirect, Reject, RejectReason, Say, Start,
    Stream, VoiceResponse,
};
use twiml::{AbsoluteUrl, Element, ExtensionError, PublicBase, UrlError, WebSocketUrl};

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// What an element should look like once parsed: name, every attribute, its own text (all
/// direct text nodes, concatenated) and its child elements.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    text: String,
    children: Vec<Expected>,
}

impl Expected {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            attrs: Vec::new(),
            text: String::new(),
            children: Vec::new(),
        }
    }

    fn attr(mut self, name: &'static str, value: &str) -> Self {
        self.attrs.push((name, xml_safe(value)));
        self
    }

    fn text(mut self, text: &str) -> Self {
        self.text.push_str(&xml_safe(text));
        self
    }

    fn child(mut self, child: Expected) -> Self {
        self.children.push(child);
        self
    }
}

/// What the writer promises for a string: characters XML 1.0 cannot carry become U+FFFD,
/// everything else is kept exactly.
fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
            {
                c
            } else {
                '\u{FFFD}'
            }
        })
        .collect()
}

fn assert_matches(node: roxmltree::Node<'_, '_>, expected: &Expected) {
    assert_eq!(node.tag_name().name(), expected.name);
    let mut attrs: Vec<(&str, String)> = node
        .attributes()
        .map(|a| (a.name(), a.value().to_owned()))
        .collect();
    attrs.sort();
    let mut want = expected.attrs.clone();
    want.sort();
    assert_eq!(attrs, want, "attributes of <{}>", expected.name);
    let text: String = node
        .children()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(text, expected.text, "text of <{}>", expected.name);
    let children: Vec<_> = node.children().filter(|n| n.is_element()).collect();
    assert_eq!(
        children.len(),
        expected.children.len(),
        "children of <{}>",
        expected.name
    );
    for (child, want) in children.into_iter().zip(&expected.children) {
        assert_matches(child, want);
    }
}

fn url(s: &str) -> AbsoluteUrl {
    AbsoluteUrl::parse(s).unwrap()
}

/// One verb of a random document, with the strings it carries.
#[derive(Debug, Clone)]
enum Verb {
    Say {
        text: String,
        voice: String,
    },
    SsmlSay {
        lead: String,
        stressed: String,
        tail: String,
    },
    Play {
        path: String,
    },
    Pause {
        seconds: u64,
    },
    Dial {
        number: String,
        caller_id: String,
    },
    Gather {
        prompt: String,
        hint: String,
    },
    Redirect {
        path: String,
    },
    Record {
        finish_on_key: String,
    },
    Hangup {
        name: String,
        value: String,
    },
    Enqueue {
        name: String,
    },
    Reject,
    Relay {
        greeting: String,
    },
    Stream {
        value: String,
    },
    Pay {
        description: String,
        prompt: String,
    },
}

/// Builds the verb into `doc` and returns what the parsed element must look like.
fn build(doc: VoiceResponse, verb: &Verb) -> (VoiceResponse, Expected) {
    match verb {
        Verb::Say { text, voice } => (
            doc.add(Say::new(text.as_str()).voice(voice.as_str())),
            Expected::new("Say").attr("voice", voice).text(text),
        ),
        Verb::SsmlSay {
            lead,
            stressed,
            tail,
        } => (
            doc.add(
                Say::new(lead.as_str())
                    .add(Emphasis::new(stressed.as_str()))
                    .text(tail.as_str()),
            ),
            Expected::new("Say")
                .text(lead)
                .text(tail)
                .child(Expected::new("emphasis").text(stressed)),
        ),
        Verb::Play { path } => {
            let u = format!("https://cdn.example.com/{path}?a=1&b=2");
            (doc.add(Play::new(url(&u))), Expected::new("Play").text(&u))
        }
        Verb::Pause { seconds } => (
            doc.add(Pause::new().length(Duration::from_secs(*seconds))),
            Expected::new("Pause").attr("length", &seconds.to_string()),
        ),
        Verb::Dial { number, caller_id } => (
            doc.add(
                Dial::new()
                    .caller_id(caller_id.as_str())
                    .add(Number::new(number.as_str())),
            ),
            Expected::new("Dial")
                .attr("callerId", caller_id)
                .child(Expected::new("Number").text(number)),
        ),
        Verb::Gather { prompt, hint } => (
            doc.add(
                Gather::new(url("https://ivr.example.com/menu"))
                    .hints([hint.as_str()])
                    .add(Say::new(prompt.as_str())),
            ),
            Expected::new("Gather")
                .attr("action", "https://ivr.example.com/menu")
                .attr("hints", hint)
                .child(Expected::new("Say").text(prompt)),
        ),
        Verb::Redirect { path } => {
            let u = format!("https://ivr.example.com/{path}");
            (
                doc.add(Redirect::new(url(&u))),
                Expected::new("Redirect").text(&u),
            )
        }
        Verb::Record { finish_on_key } => (
            doc.add(Record::new(Action::CurrentDocument).finish_on_key(finish_on_key.as_str())),
            Expected::new("Record").attr("finishOnKey", finish_on_key),
        ),
        Verb::Hangup { name, value } => (
            doc.add(Hangup::new().add(Parameter::new(name.as_str(), value.as_str()))),
            Expected::new("Hangup").child(
                Expected::new("Parameter")
                    .attr("name", name)
                    .attr("value", value),
            ),
        ),
        Verb::Enqueue { name } => (
            doc.add(Enqueue::new(name.as_str())),
            Expected::new("Enqueue").text(name),
        ),
        Verb::Reject => (
            doc.add(Reject::new().reason(RejectReason::Busy)),
            Expected::new("Reject").attr("reason", "busy"),
        ),
        Verb::Relay { greeting } => (
            doc.add(
                Connect::new().add(
                    ConversationRelay::new(WebSocketUrl::parse("wss://ai.example.com/ws").unwrap())
                        .welcome_greeting(greeting.as_str()),
                ),
            ),
            Expected::new("Connect").child(
                Expected::new("ConversationRelay")
                    .attr("url", "wss://ai.example.com/ws")
                    .attr("welcomeGreeting", greeting),
            ),
        ),
        Verb::Stream { value } => (
            doc.add(
                Start::new().add(
                    Stream::new(WebSocketUrl::parse("wss://media.example.com/s").unwrap())
                        .add(Parameter::new("k", value.as_str())),
                ),
            ),
            Expected::new("Start").child(
                Expected::new("Stream")
                    .attr("url", "wss://media.example.com/s")
                    .child(
                        Expected::new("Parameter")
                            .attr("name", "k")
                            .attr("value", value),
                    ),
            ),
        ),
        Verb::Pay {
            description,
            prompt,
        } => (
            doc.add(
                Pay::new()
                    .description(description.as_str())
                    .add(Prompt::new(PromptFor::ExpirationDate).add(Say::new(prompt.as_str()))),
            ),
            Expected::new("Pay").attr("description", description).child(
                Expected::new("Prompt")
                    .attr("for", "expiration-date")
                    .child(Expected::new("Say").text(prompt)),
            ),
        ),
    }
}

/// Strings heavy in the characters XML must escape, plus whitespace and non-ASCII.
fn markup_text() -> impl Strategy<Value = String> {
    "[&<>\"' \r\n\ta-zA-Z0-9é€😀\\]]{0,24}"
}

/// Any XML-legal string.
fn xml_text() -> impl Strategy<Value = String> {
    "[\\x09\\x0A\\x0D\\x20-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]{0,24}"
}

/// Any string at all: control characters, noncharacters, `]]>`, everything.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        markup_text(),
        xml_text(),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        "[\\x00-\\x1F\\x7F\u{FFFE}\u{FFFF}\u{1FFFF}&<a]{0,12}",
        Just("]]><![CDATA[&amp;</Say>".to_owned()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._~/-]{0,20}"
}

fn verb() -> impl Strategy<Value = Verb> {
    prop_oneof![
        (any_text(), any_text()).prop_map(|(text, voice)| Verb::Say { text, voice }),
        (any_text(), any_text(), any_text()).prop_map(|(lead, stressed, tail)| Verb::SsmlSay {
            lead,
            stressed,
            tail
        }),
        path().prop_map(|path| Verb::Play { path }),
        (0u64..100).prop_map(|seconds| Verb::Pause { seconds }),
        (any_text(), any_text()).prop_map(|(number, caller_id)| Verb::Dial { number, caller_id }),
        (any_text(), any_text()).prop_map(|(prompt, hint)| Verb::Gather { prompt, hint }),
        path().prop_map(|path| Verb::Redirect { path }),
        any_text().prop_map(|finish_on_key| Verb::Record { finish_on_key }),
        (any_text(), any_text()).prop_map(|(name, value)| Verb::Hangup { name, value }),
        any_text().prop_map(|name| Verb::Enqueue { name }),
        Just(Verb::Reject),
        any_text().prop_map(|greeting| Verb::Relay { greeting }),
        any_text().prop_map(|value| Verb::Stream { value }),
        (any_text(), any_text()).prop_map(|(description, prompt)| Verb::Pay {
            description,
            prompt
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any document parses, its root is `<Response>` after the declaration, and every string
    /// comes back exactly (XML-illegal characters as U+FFFD).
    #[test]
    fn random_documents_are_well_formed_and_round_trip(verbs in prop::collection::vec(verb(), 0..12)) {
        let mut doc = VoiceResponse::new();
        let mut expected = Expected::new("Response");
        for v in &verbs {
            let (next, element) = build(doc, v);
            doc = next;
            expected = expected.child(element);
        }
        let xml = doc.to_xml();
        prop_assert!(xml.starts_with(DECLARATION));
        let parsed = roxmltree::Document::parse(&xml)
            .map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(parsed.root_element().tag_name().name(), "Response");
        assert_matches(parsed.root_element(), &expected);
    }

    /// The same for the escape hatch: unknown elements and attributes with arbitrary values.
    #[test]
    fn escape_hatch_text_and_attributes_round_trip(text in any_text(), value in any_text()) {
        let element = Element::new("Custom").unwrap().attr("data-x", value.as_str()).unwrap().text(text.as_str());
        let xml = VoiceResponse::new().add(Dial::new().add(element)).to_xml();
        let parsed = roxmltree::Document::parse(&xml)
            .map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        let custom = parsed.descendants().find(|n| n.has_tag_name("Custom")).unwrap();
        prop_assert_eq!(custom.attribute("data-x").unwrap(), xml_safe(&value));
        prop_assert_eq!(custom.text().unwrap_or(""), xml_safe(&text));
    }
}

#[test]
fn markup_characters_round_trip_exactly() {
    let nasty = "Tom & Jerry <3 \"quotes\" 'apostrophes' ]]> \r\n\tend";
    let xml = VoiceResponse::new()
        .add(Say::new(nasty).voice(nasty))
        .to_xml();
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let say = parsed.root_element().first_element_child().unwrap();
    assert_eq!(say.text(), Some(nasty));
    assert_eq!(say.attribute("voice"), Some(nasty));
}

#[test]
fn empty_response_matches_the_official_sdk() {
    assert_eq!(
        VoiceResponse::new().to_xml(),
        format!("{DECLARATION}<Response />")
    );
}

#[test]
fn incident_relative_play_url_cannot_be_built() {
    // The document from the field: an absolute CDN URL, then a relative app URL that Twilio
    // occasionally fetched from the CDN host.
    //   <Response><Play>https://s3.example-cdn.com/bucket/hello.mp3</Play>
    //             <Play>/files/goodbye.mp3</Play></Response>
    let relative = "/files/goodbye.mp3";

    // 1. The URL type refuses it, saying why.
    let err = AbsoluteUrl::parse(relative).unwrap_err();
    assert!(matches!(err, UrlError::Relative { .. }), "{err:?}");
    assert!(WebSocketUrl::parse(relative).is_err());

    // 2. The escape hatch will not build a <Play> (nor <Redirect>, nor <Media>) from text.
    for name in ["Play", "Redirect", "Media"] {
        assert!(
            matches!(Element::new(name), Err(ExtensionError::UrlElement { .. })),
            "{name}"
        );
    }

    // 3. URL attributes on typed nouns refuse it through `attr` as well.
    assert!(matches!(
        Number::new("+15558675310").attr("url", relative),
        Err(ExtensionError::RelativeUrl { .. })
    ));
    assert!(matches!(
        Play::new(url("https://s3.example-cdn.com/bucket/hello.mp3"))
            .attr("statusCallback", relative),
        Err(ExtensionError::RelativeUrl { .. })
    ));
    assert!(matches!(
        Gather::new(Action::CurrentDocument).attr("action", relative),
        Err(ExtensionError::RelativeUrl { .. })
    ));

    // 4. The fix: the app's own files are joined to its public base, so both are absolute.
    let base = PublicBase::parse("https://ivr.example.com").unwrap();
    let doc = VoiceResponse::new()
        .add(Play::new(url(
            "https://s3.example-cdn.com/bucket/hello.mp3",
        )))
        .add(Play::new(base.join(relative).unwrap()));
    assert_eq!(
        doc.to_xml(),
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
            "<Play>https://s3.example-cdn.com/bucket/hello.mp3</Play>",
            "<Play>https://ivr.example.com/files/goodbye.mp3</Play></Response>",
        )
    );
    let xml = doc.to_xml();
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    for play in parsed.descendants().filter(|n| n.has_tag_name("Play")) {
        assert!(AbsoluteUrl::parse(play.text().unwrap()).is_ok());
    }
}

#[test]
fn http_conversion_is_200_text_xml() {
    let doc = VoiceResponse::new().add(Say::new("Hi"));
    let xml = doc.to_xml();
    let response: http::Response<String> = doc.clone().into();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(
        response.headers().get(http::header::CONTENT_TYPE).unwrap(),
        "text/xml"
    );
    assert_eq!(response.body(), &xml);

    let response = doc.into_http_response::<bytes::Bytes>();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(
        response.headers().get(http::header::CONTENT_TYPE).unwrap(),
        "text/xml"
    );
    assert_eq!(response.body().as_ref(), xml.as_bytes());
}

#[test]
fn every_verb_can_open_a_response() {
    #[allow(deprecated)]
    let sms = twiml::voice::Sms::new("sent");
    let doc = VoiceResponse::new()
        .add(Connect::new())
        .add(Dial::new())
        .add(twiml::voice::Echo::new())
        .add(Enqueue::new("q"))
        .add(Gather::new(Action::CurrentDocument))
        .add(Hangup::new())
        .add(twiml::voice::Leave::new())
        .add(Pause::new())
        .add(Pay::new())
        .add(Play::digits("1"))
        .add(Record::new(Action::CurrentDocument))
        .add(Redirect::new(url("https://example.com/")))
        .add(twiml::voice::Refer::new())
        .add(Reject::new())
        .add(Say::new("x"))
        .add(sms)
        .add(Start::new())
        .add(twiml::voice::Stop::new());
    let xml = doc.to_xml();
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let names: Vec<_> = parsed
        .root_element()
        .children()
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(
        names,
        [
            "Connect", "Dial", "Echo", "Enqueue", "Gather", "Hangup", "Leave", "Pause", "Pay",
            "Play", "Record", "Redirect", "Refer", "Reject", "Say", "Sms", "Start", "Stop"
        ]
    );
}
