//! `<Parameter>` and `<Config>`: name/value pairs passed to the service a verb connects to.

use super::common::name_value_element;
use crate::xml::{Element, typed_element};

/// `<Parameter>`: a custom name/value pair passed on to a stream, client, application,
/// payment connector, AI service, or the status callback of `<Hangup>` and `<Reject>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter(Element);
typed_element!(Parameter);

impl Parameter {
    /// A parameter `name` with `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self(name_value_element("Parameter", name, value))
    }
}

/// `<Config>`: a configuration name/value pair for `<VirtualAgent>` or `<Transcription>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config(Element);
typed_element!(Config);

impl Config {
    /// A setting `name` with `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self(name_value_element("Config", name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_name_then_value() {
        assert_eq!(
            Parameter::new("customer", "a&b").as_element().to_string(),
            r#"<Parameter name="customer" value="a&amp;b" />"#
        );
        assert_eq!(
            Config::new("language", "en").as_element().to_string(),
            r#"<Config name="language" value="en" />"#
        );
    }
}
