//! The element tree behind every TwiML document, its escaping, and the escape hatch for
//! elements and attributes the typed API does not know yet.

use std::borrow::Cow;
use std::fmt;

use crate::url::{AbsoluteUrl, WebSocketUrl};

/// The XML declaration every document starts with, as the official SDKs write it.
pub(crate) const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Why an [`Element`] or attribute given through the escape hatch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtensionError {
    /// Not an XML name (letters, digits, `-`, `.`, `_`, `:`; not starting with a digit,
    /// `-` or `.`).
    #[error("`{name}` is not a valid XML element or attribute name")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// An attribute whose name says it holds a URL (`action`, `url`, `…Url`, `…Callback`)
    /// was given a value that is not an absolute URL.
    #[error("attribute `{name}` holds a URL, and {source}")]
    RelativeUrl {
        /// The attribute name.
        name: String,
        /// Why the value is not an absolute URL.
        #[source]
        source: crate::UrlError,
    },
    /// `Play`, `Redirect` and `Media` carry a URL as their text; they must be built with
    /// their typed constructors, which take an [`AbsoluteUrl`].
    #[error("`<{name}>` carries a URL as its text: build it with twiml's typed `{name}`")]
    UrlElement {
        /// The rejected element name.
        name: String,
    },
}

/// A node of the tree: an element or a run of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

/// One XML element: what every typed verb and noun is made of, and the escape hatch for
/// elements Twilio adds before this crate types them.
///
/// Attributes are kept sorted by name (byte order), as twilio-python writes them, so output
/// diffs cleanly against the official SDK. Setting an attribute twice keeps the last value.
///
/// ```
/// use twiml::{voice::{Dial, VoiceResponse}, Element};
///
/// // A noun Twilio added yesterday, nested in a typed verb.
/// let noun = Element::new("Whisper")?.attr("voice", "alice")?.text("Hi");
/// let doc = VoiceResponse::new().add(Dial::new().add(noun));
/// assert!(doc.to_xml().ends_with(r#"<Dial><Whisper voice="alice">Hi</Whisper></Dial></Response>"#));
///
/// // URL-bearing attributes still refuse relative URLs.
/// assert!(Element::new("Whisper")?.attr("statusCallback", "/cb").is_err());
/// # Ok::<(), twiml::ExtensionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    name: Cow<'static, str>,
    attrs: Vec<(Cow<'static, str>, String)>,
    children: Vec<Node>,
}

impl Element {
    /// An element named `name`, for tags the typed API does not cover.
    ///
    /// # Errors
    ///
    /// [`ExtensionError::InvalidName`] for a name that is not an XML name;
    /// [`ExtensionError::UrlElement`] for `Play`, `Redirect` and `Media`, whose text is a URL.
    pub fn new(name: impl Into<String>) -> Result<Self, ExtensionError> {
        let name = name.into();
        check_name(&name)?;
        if ["Play", "Redirect", "Media"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&name))
        {
            return Err(ExtensionError::UrlElement { name });
        }
        Ok(Self::typed_owned(name))
    }

    /// A typed element; the name is known to be valid.
    pub(crate) const fn typed(name: &'static str) -> Self {
        Self {
            name: Cow::Borrowed(name),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    fn typed_owned(name: String) -> Self {
        Self {
            name: Cow::Owned(name),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Sets an attribute by name; the value is escaped on output.
    ///
    /// # Errors
    ///
    /// [`ExtensionError::InvalidName`] for a name that is not an XML name, and
    /// [`ExtensionError::RelativeUrl`] when the name says the attribute holds a URL
    /// (`action`, `url`, or ending in `Url` or `Callback`, in any case) and the value is not
    /// an absolute `http`, `https` or `wss` URL.
    pub fn attr(mut self, name: &str, value: impl Into<String>) -> Result<Self, ExtensionError> {
        check_name(name)?;
        let value = value.into();
        if is_url_attribute(name) {
            check_url_value(&value).map_err(|source| ExtensionError::RelativeUrl {
                name: name.to_owned(),
                source,
            })?;
        }
        self.set(Cow::Owned(name.to_owned()), value);
        Ok(self)
    }

    /// Appends text (escaped on output).
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.push_text(text);
        self
    }

    /// Appends a child element.
    #[must_use]
    pub fn child(mut self, child: impl Into<Element>) -> Self {
        self.push(child);
        self
    }

    /// The element name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value of attribute `name`, if set.
    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .binary_search_by(|(n, _)| n.as_ref().cmp(name))
            .ok()
            .map(|i| self.attrs[i].1.as_str())
    }

    /// The attributes, sorted by name.
    pub fn attrs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }

    /// The child elements, in document order.
    pub fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The element's own text (not its children's), concatenated.
    pub fn text_content(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Sets an attribute without checks: for typed setters, whose names are constants and
    /// whose URL values are already typed.
    pub(crate) fn set(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attrs.binary_search_by(|(n, _)| n.as_ref().cmp(&name)) {
            Ok(i) => self.attrs[i].1 = value,
            Err(i) => self.attrs.insert(i, (name, value)),
        }
    }

    pub(crate) fn push(&mut self, child: impl Into<Element>) {
        self.children.push(Node::Element(child.into()));
    }

    pub(crate) fn push_text(&mut self, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.children.push(Node::Text(text));
        }
    }

    /// Writes the element and its subtree.
    pub(crate) fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (name, value) in &self.attrs {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            escape_into(out, value, true);
            out.push('"');
        }
        if self.children.is_empty() {
            // ElementTree's form, as twilio-python writes it.
            out.push_str(" />");
            return;
        }
        out.push('>');
        for child in &self.children {
            match child {
                Node::Element(e) => e.write(out),
                Node::Text(t) => escape_into(out, t, false),
            }
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// The whole document: declaration plus this element.
    pub(crate) fn to_document(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(XML_DECLARATION);
        self.write(&mut out);
        out
    }
}

impl fmt::Display for Element {
    /// The element as XML, without a declaration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

/// Whether an attribute name says it holds a URL.
fn is_url_attribute(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "action" || lower == "url" || lower.ends_with("url") || lower.ends_with("callback")
}

fn check_url_value(value: &str) -> Result<(), crate::UrlError> {
    match AbsoluteUrl::parse(value) {
        Ok(_) => Ok(()),
        Err(http_err) => WebSocketUrl::parse(value).map(|_| ()).map_err(|_| http_err),
    }
}

fn check_name(name: &str) -> Result<(), ExtensionError> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    // Names starting with `xml` are reserved, except the `xml:` attributes (`xml:lang`).
    let reserved =
        name.len() >= 3 && name[..3].eq_ignore_ascii_case("xml") && !name.starts_with("xml:");
    if valid && !reserved {
        Ok(())
    } else {
        Err(ExtensionError::InvalidName {
            name: name.to_owned(),
        })
    }
}

/// Whether XML 1.0 can carry `c` at all (`Char` production); others become U+FFFD.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Escapes `text` for element content or (with `attribute`) a double-quoted attribute value.
///
/// `&`, `<` and `>` always; in attributes also `"` and the whitespace characters that
/// attribute-value normalisation would otherwise turn into spaces. `\r` is written as a
/// character reference everywhere so line-end normalisation keeps it. Characters XML 1.0
/// cannot represent at all are replaced by U+FFFD, so the output is always well-formed.
pub(crate) fn escape_into(out: &mut String, text: &str, attribute: bool) {
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\r' => "&#13;",
            '"' if attribute => "&quot;",
            '\n' if attribute => "&#10;",
            '\t' if attribute => "&#9;",
            c if !is_xml_char(c) => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(replacement);
        start = i + c.len_utf8();
    }
    out.push_str(&text[start..]);
}

/// Implements what every typed element shares: the escape hatch for unknown attributes and
/// the conversion into [`Element`].
macro_rules! typed_element {
    ($ty:ident) => {
        impl $ty {
            /// Sets an attribute the typed API does not know yet; see [`Element::attr`].
            ///
            /// # Errors
            ///
            /// As [`Element::attr`]: a name that is not an XML name, or a URL attribute
            /// whose value is not absolute.
            pub fn attr(
                self,
                name: &str,
                value: impl Into<String>,
            ) -> Result<Self, $crate::ExtensionError> {
                self.0.attr(name, value).map(Self)
            }

            /// The element this builds, to inspect it.
            pub fn as_element(&self) -> &$crate::Element {
                &self.0
            }
        }

        impl From<$ty> for $crate::Element {
            fn from(value: $ty) -> $crate::Element {
                value.0
            }
        }
    };
}
pub(crate) use typed_element;

/// Declares a marker trait for "may be a child of this parent", implemented by the
/// listed typed elements and by [`Element`] (the escape hatch).
macro_rules! child_trait {
    ($(#[$doc:meta])* $trait:ident: $($ty:ty),* $(,)?) => {
        $(#[$doc])*
        pub trait $trait: Into<$crate::Element> {}
        impl $trait for $crate::Element {}
        $(impl $trait for $ty {})*
    };
}
pub(crate) use child_trait;

#[cfg(test)]
mod tests {
    use super::*;

    fn render(e: &Element) -> String {
        e.to_string()
    }

    #[test]
    fn attributes_sort_by_byte_order_and_last_write_wins() {
        let mut e = Element::typed("Dial");
        e.set("timeout", "10");
        e.set("action", "https://a.example/x");
        e.set("Zeta", "1");
        e.set("timeout", "20");
        assert_eq!(
            render(&e),
            r#"<Dial Zeta="1" action="https://a.example/x" timeout="20" />"#
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let mut e = Element::typed("Say");
        e.set("voice", "a&b<c>\"d'e\n\tf");
        e.push_text("Tom & Jerry <3 \"quotes\" 'apostrophes'\r\n");
        assert_eq!(
            render(&e),
            "<Say voice=\"a&amp;b&lt;c&gt;&quot;d'e&#10;&#9;f\">\
             Tom &amp; Jerry &lt;3 \"quotes\" 'apostrophes'&#13;\n</Say>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_become_replacement_characters() {
        let e = Element::typed("Say").text("a\u{0}b\u{1b}c\u{FFFE}d");
        assert_eq!(render(&e), "<Say>a\u{FFFD}b\u{FFFD}c\u{FFFD}d</Say>");
    }

    #[test]
    fn escape_hatch_validates_names_and_url_attributes() {
        assert!(matches!(
            Element::new("1abc"),
            Err(ExtensionError::InvalidName { .. })
        ));
        assert!(matches!(
            Element::new("a b"),
            Err(ExtensionError::InvalidName { .. })
        ));
        assert!(matches!(
            Element::new("xmlFoo"),
            Err(ExtensionError::InvalidName { .. })
        ));
        assert!(matches!(
            Element::new("play"),
            Err(ExtensionError::UrlElement { .. })
        ));
        assert!(matches!(
            Element::new("Media"),
            Err(ExtensionError::UrlElement { .. })
        ));
        let e = Element::new("New").unwrap();
        assert!(e.clone().attr("xml:lang", "en-US").is_ok());
        assert!(e.clone().attr("a\"b", "x").is_err());
        for name in [
            "action",
            "url",
            "waitUrl",
            "statusCallback",
            "EventCallbackURL",
        ] {
            assert!(
                matches!(
                    e.clone().attr(name, "/relative"),
                    Err(ExtensionError::RelativeUrl { .. })
                ),
                "{name}"
            );
            assert!(
                e.clone().attr(name, "https://example.com/cb").is_ok(),
                "{name}"
            );
        }
        assert!(e.clone().attr("url", "wss://example.com/ws").is_ok());
        assert!(e.clone().attr("statusCallbackEvent", "initiated").is_ok());
    }

    #[test]
    fn accessors_expose_the_tree() {
        let e = Element::new("Outer")
            .unwrap()
            .attr("b", "2")
            .unwrap()
            .attr("a", "1")
            .unwrap()
            .text("x")
            .child(Element::new("Inner").unwrap())
            .text("y");
        assert_eq!(e.name(), "Outer");
        assert_eq!(e.get_attr("a"), Some("1"));
        assert_eq!(e.get_attr("c"), None);
        assert_eq!(e.attrs().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
        assert_eq!(
            e.children().map(Element::name).collect::<Vec<_>>(),
            ["Inner"]
        );
        assert_eq!(e.text_content(), "xy");
        assert_eq!(render(&e), r#"<Outer a="1" b="2">x<Inner />y</Outer>"#);
    }
}
