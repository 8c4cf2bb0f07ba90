//! `<Say>` and the SSML elements it accepts (`<break>`, `<emphasis>`, `<lang>`, `<p>`,
//! `<phoneme>`, `<prosody>`, `<s>`, `<say-as>`, `<sub>`, `<w>`).
//!
//! SSML tags are lower-case, as Twilio and the official SDKs write them. Text and SSML
//! children can be mixed in any order: `new` sets the leading text, `text` appends more.

use std::time::Duration;

use super::common::value_enum;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Say>`, `<lang>` and `<prosody>`: every SSML element.
    SayChild: Break, Emphasis, Lang, Paragraph, Phoneme, Prosody, Sentence, SayAs, Sub, Word
);

child_trait!(
    /// What may be nested in `<p>`: every SSML element but `<p>`.
    ParagraphChild: Break, Emphasis, Lang, Phoneme, Prosody, Sentence, SayAs, Sub, Word
);

child_trait!(
    /// What may be nested in `<s>` and `<emphasis>`: every SSML element but `<p>` and `<s>`.
    SentenceChild: Break, Emphasis, Lang, Phoneme, Prosody, SayAs, Sub, Word
);

child_trait!(
    /// What may be nested in `<w>`: `<break>`, `<emphasis>`, `<phoneme>`, `<prosody>`,
    /// `<say-as>` and `<sub>`.
    WordChild: Break, Emphasis, Phoneme, Prosody, SayAs, Sub
);

/// `add` and `text` for the elements whose content mixes text and nested SSML, given the
/// trait of the SSML elements they accept.
macro_rules! ssml_content_setters {
    ($child:ident) => {
        /// Appends a nested SSML element.
        #[must_use]
        pub fn add(mut self, child: impl $child) -> Self {
            self.0.push(child);
            self
        }

        /// Appends text after what is already there.
        #[must_use]
        pub fn text(mut self, text: impl Into<String>) -> Self {
            self.0.push_text(text);
            self
        }
    };
}

/// `<Say>`: reads text to the caller with text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say(Element);
typed_element!(Say);

impl Say {
    /// Says `text` (more text and SSML can follow with [`text`](Say::text) and
    /// [`add`](Say::add)).
    pub fn new(text: impl Into<String>) -> Self {
        Self(Element::typed("Say").text(text))
    }

    ssml_content_setters!(SayChild);

    /// The voice (`alice`, `man`, `woman`, `Polly.Joanna`, `Google.en-US-Neural2-A`, …).
    #[must_use]
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.0.set("voice", voice);
        self
    }

    /// The language, as a BCP 47 tag such as `en-US`.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.0.set("language", language);
        self
    }

    /// How many times to say it; `0` repeats until the call ends.
    #[must_use]
    pub fn loop_count(mut self, times: u32) -> Self {
        self.0.set("loop", times.to_string());
        self
    }
}

value_enum!(
    /// How long a `<break>` pauses, by strength.
    BreakStrength {
        /// `none`: no pause.
        None => "none",
        /// `x-weak`
        XWeak => "x-weak",
        /// `weak`
        Weak => "weak",
        /// `medium` (the default).
        Medium => "medium",
        /// `strong`: as long as a sentence break.
        Strong => "strong",
        /// `x-strong`: as long as a paragraph break.
        XStrong => "x-strong",
    }
);

/// `<break>`: a pause in speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break(Element);
typed_element!(Break);

impl Default for Break {
    fn default() -> Self {
        Self::new()
    }
}

impl Break {
    /// A pause of the default (`medium`) strength.
    pub fn new() -> Self {
        Self(Element::typed("break"))
    }

    /// The pause by strength.
    #[must_use]
    pub fn strength(mut self, strength: BreakStrength) -> Self {
        self.0.set("strength", strength.as_str());
        self
    }

    /// The pause by length: whole seconds are written `Ns`, anything else `Nms`
    /// (rounded down to the millisecond).
    #[must_use]
    pub fn time(mut self, time: Duration) -> Self {
        let value = if time.subsec_nanos() == 0 && !time.is_zero() {
            format!("{}s", time.as_secs())
        } else {
            format!("{}ms", time.as_millis())
        };
        self.0.set("time", value);
        self
    }
}

value_enum!(
    /// How strongly `<emphasis>` stresses its words.
    EmphasisLevel {
        /// `strong`
        Strong => "strong",
        /// `moderate` (the default).
        Moderate => "moderate",
        /// `reduced`
        Reduced => "reduced",
    }
);

/// `<emphasis>`: stresses words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emphasis(Element);
typed_element!(Emphasis);

impl Emphasis {
    /// Emphasizes `words`.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("emphasis").text(words))
    }

    /// The degree of emphasis.
    #[must_use]
    pub fn level(mut self, level: EmphasisLevel) -> Self {
        self.0.set("level", level.as_str());
        self
    }

    ssml_content_setters!(SentenceChild);
}

/// `<lang>`: speaks words in another language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lang(Element);
typed_element!(Lang);

impl Lang {
    /// Speaks `words`; set the language with [`xml_lang`](Lang::xml_lang).
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("lang").text(words))
    }

    /// The language (`xml:lang`), as a BCP 47 tag such as `fr-FR`.
    #[must_use]
    pub fn xml_lang(mut self, language: impl Into<String>) -> Self {
        self.0.set("xml:lang", language);
        self
    }

    ssml_content_setters!(SayChild);
}

/// `<p>`: a paragraph, followed by a longer pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph(Element);
typed_element!(Paragraph);

impl Paragraph {
    /// A paragraph of `words`.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("p").text(words))
    }

    ssml_content_setters!(ParagraphChild);
}

value_enum!(
    /// The phonetic alphabet of a `<phoneme>`'s `ph`.
    PhonemeAlphabet {
        /// `ipa`: the International Phonetic Alphabet.
        Ipa => "ipa",
        /// `x-sampa`
        XSampa => "x-sampa",
        /// `x-amazon-jyutping` (Cantonese).
        XAmazonJyutping => "x-amazon-jyutping",
        /// `x-amazon-pinyin` (Mandarin).
        XAmazonPinyin => "x-amazon-pinyin",
        /// `x-amazon-pron-kana` (Japanese).
        XAmazonPronKana => "x-amazon-pron-kana",
        /// `x-amazon-yomigana` (Japanese).
        XAmazonYomigana => "x-amazon-yomigana",
    }
);

/// `<phoneme>`: pronounces words from phonetic symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phoneme(Element);
typed_element!(Phoneme);

impl Phoneme {
    /// Pronounces `words` as [`ph`](Phoneme::ph) says.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("phoneme").text(words))
    }

    /// The alphabet `ph` is written in.
    #[must_use]
    pub fn alphabet(mut self, alphabet: PhonemeAlphabet) -> Self {
        self.0.set("alphabet", alphabet.as_str());
        self
    }

    /// The phonetic symbols.
    #[must_use]
    pub fn ph(mut self, symbols: impl Into<String>) -> Self {
        self.0.set("ph", symbols);
        self
    }
}

/// `<prosody>`: changes volume, speaking rate and pitch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prosody(Element);
typed_element!(Prosody);

impl Prosody {
    /// Speaks `words` with the prosody set below.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("prosody").text(words))
    }

    /// `default`, `silent`, `x-soft`, `soft`, `medium`, `loud`, `x-loud`, `+ndB` or `-ndB`.
    #[must_use]
    pub fn volume(mut self, volume: impl Into<String>) -> Self {
        self.0.set("volume", volume);
        self
    }

    /// `x-slow`, `slow`, `medium`, `fast`, `x-fast` or `n%`.
    #[must_use]
    pub fn rate(mut self, rate: impl Into<String>) -> Self {
        self.0.set("rate", rate);
        self
    }

    /// `default`, `x-low`, `low`, `medium`, `high`, `x-high`, `+n%` or `-n%`.
    #[must_use]
    pub fn pitch(mut self, pitch: impl Into<String>) -> Self {
        self.0.set("pitch", pitch);
        self
    }

    ssml_content_setters!(SayChild);
}

/// `<s>`: a sentence, followed by a pause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence(Element);
typed_element!(Sentence);

impl Sentence {
    /// A sentence of `words`.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("s").text(words))
    }

    ssml_content_setters!(SentenceChild);
}

value_enum!(
    /// How `<say-as>` reads its words (`interpret-as`).
    InterpretAs {
        /// `characters`: letter by letter.
        Characters => "characters",
        /// `spell-out`: letter by letter.
        SpellOut => "spell-out",
        /// `cardinal`: as a number.
        Cardinal => "cardinal",
        /// `number`: as a number.
        Number => "number",
        /// `ordinal`: as an ordinal (`1st`).
        Ordinal => "ordinal",
        /// `digits`: digit by digit.
        Digits => "digits",
        /// `fraction`
        Fraction => "fraction",
        /// `unit`: a measurement.
        Unit => "unit",
        /// `date` (see [`SayAsFormat`]).
        Date => "date",
        /// `time`: a duration in minutes and seconds.
        Time => "time",
        /// `address`
        Address => "address",
        /// `expletive`: bleeped.
        Expletive => "expletive",
        /// `telephone`: a phone number.
        Telephone => "telephone",
    }
);

value_enum!(
    /// The order of a date read by `<say-as interpret-as="date">` (`format`).
    SayAsFormat {
        /// `mdy`
        Mdy => "mdy",
        /// `dmy`
        Dmy => "dmy",
        /// `ymd`
        Ymd => "ymd",
        /// `md`
        Md => "md",
        /// `dm`
        Dm => "dm",
        /// `ym`
        Ym => "ym",
        /// `my`
        My => "my",
        /// `d`
        D => "d",
        /// `m`
        M => "m",
        /// `y`
        Y => "y",
        /// `yyyymmdd`
        Yyyymmdd => "yyyymmdd",
    }
);

/// `<say-as>`: says numbers, dates, phone numbers and the like as what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SayAs(Element);
typed_element!(SayAs);

impl SayAs {
    /// Reads `words` as [`interpret_as`](SayAs::interpret_as) says.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("say-as").text(words))
    }

    /// What the words are (`interpret-as`).
    #[must_use]
    pub fn interpret_as(mut self, kind: InterpretAs) -> Self {
        self.0.set("interpret-as", kind.as_str());
        self
    }

    /// The order of a date's parts.
    #[must_use]
    pub fn format(mut self, format: SayAsFormat) -> Self {
        self.0.set("format", format.as_str());
        self
    }
}

/// `<sub>`: says an alias in place of the written words (acronyms, abbreviations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sub(Element);
typed_element!(Sub);

impl Sub {
    /// Written `words`, spoken as [`alias`](Sub::alias).
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("sub").text(words))
    }

    /// What to say instead.
    #[must_use]
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.0.set("alias", alias);
        self
    }
}

/// `<w>`: pronounces a word according to its part of speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word(Element);
typed_element!(Word);

impl Word {
    /// The word(s) to pronounce.
    pub fn new(words: impl Into<String>) -> Self {
        Self(Element::typed("w").text(words))
    }

    /// The part of speech or sense (`amazon:VB`, `amazon:VBD`, `amazon:NN`,
    /// `amazon:SENSE_1`, …).
    #[must_use]
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.0.set("role", role);
        self
    }

    ssml_content_setters!(WordChild);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::common::test_support::render;

    #[test]
    fn say_renders_like_the_official_sdk() {
        assert_eq!(render(Say::new("")), "<Say />");
        assert_eq!(
            render(
                Say::new("Hello Monkey")
                    .loop_count(3)
                    .voice("man")
                    .language("fr")
            ),
            r#"<Say language="fr" loop="3" voice="man">Hello Monkey</Say>"#
        );
        assert_eq!(
            render(Say::new("nécessaire et d'autres")),
            "<Say>nécessaire et d'autres</Say>"
        );
    }

    #[test]
    fn every_ssml_element_nests_in_say() {
        let say = Say::new("Hello ")
            .add(
                Break::new()
                    .strength(BreakStrength::XStrong)
                    .time(Duration::from_millis(100)),
            )
            .add(Emphasis::new("Words to emphasize").level(EmphasisLevel::Moderate))
            .add(Lang::new("Bonjour").xml_lang("fr-FR"))
            .add(Paragraph::new("Words to speak"))
            .add(
                Phoneme::new("Words to speak")
                    .alphabet(PhonemeAlphabet::XSampa)
                    .ph("pɪˈkɑːn"),
            )
            .add(
                Prosody::new("Words to speak")
                    .pitch("-10%")
                    .rate("85%")
                    .volume("-6dB"),
            )
            .add(Sentence::new("Words to speak"))
            .add(
                SayAs::new("Words to speak")
                    .interpret_as(InterpretAs::SpellOut)
                    .format(SayAsFormat::Mdy),
            )
            .add(Sub::new("Words to be substituted").alias("alias"))
            .add(Word::new("Words to speak").role("amazon:VBD"))
            .text(" goodbye");
        assert_eq!(
            render(say),
            concat!(
                r#"<Say>Hello <break strength="x-strong" time="100ms" />"#,
                r#"<emphasis level="moderate">Words to emphasize</emphasis>"#,
                r#"<lang xml:lang="fr-FR">Bonjour</lang>"#,
                r#"<p>Words to speak</p>"#,
                r#"<phoneme alphabet="x-sampa" ph="pɪˈkɑːn">Words to speak</phoneme>"#,
                r#"<prosody pitch="-10%" rate="85%" volume="-6dB">Words to speak</prosody>"#,
                r#"<s>Words to speak</s>"#,
                r#"<say-as format="mdy" interpret-as="spell-out">Words to speak</say-as>"#,
                r#"<sub alias="alias">Words to be substituted</sub>"#,
                r#"<w role="amazon:VBD">Words to speak</w> goodbye</Say>"#,
            )
        );
    }

    #[test]
    fn ssml_nests_inside_ssml() {
        let p = Paragraph::new("")
            .add(Sentence::new("One.").add(Emphasis::new("Two").add(Break::new())))
            .add(Word::new("read").add(Sub::new("W3C").alias("World Wide Web Consortium")));
        assert_eq!(
            render(p),
            concat!(
                "<p><s>One.<emphasis>Two<break /></emphasis></s>",
                r#"<w>read<sub alias="World Wide Web Consortium">W3C</sub></w></p>"#
            )
        );
        let nested = Prosody::new("")
            .add(Lang::new("").add(Paragraph::new("x")))
            .text("y");
        assert_eq!(render(nested), "<prosody><lang><p>x</p></lang>y</prosody>");
    }

    #[test]
    fn break_time_uses_seconds_when_whole() {
        assert_eq!(
            render(Break::new().time(Duration::from_secs(2))),
            r#"<break time="2s" />"#
        );
        assert_eq!(
            render(Break::new().time(Duration::from_millis(1500))),
            r#"<break time="1500ms" />"#
        );
        assert_eq!(
            render(Break::new().time(Duration::ZERO)),
            r#"<break time="0ms" />"#
        );
    }
}
