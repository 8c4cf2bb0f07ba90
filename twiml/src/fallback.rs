//! Fallback-URL safety: a bounded retry budget per call, and step tags that say which step
//! of a call failed.
//!
//! When Twilio cannot fetch a document (error 11200 and friends) it posts `ErrorCode` and
//! `ErrorUrl` to the number's fallback URL. An app that answers by re-serving the failed
//! step recovers most such calls — but if the step keeps failing (a media host is down),
//! re-serving it forever makes Twilio loop forever. [`FallbackGuard`] allows a fixed number
//! of retries per `CallSid`, then answers a terminal document (an apology and `<Hangup>`).
//!
//! [`tag_step`] puts a step id into a URL's query so that the `ErrorUrl` of a failure names
//! the step ([`step_of`]); give every step's media and action URLs their own tag.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use twiml::fallback::{FallbackDecision, FallbackGuard, step_of, tag_step};
//! use twiml::PublicBase;
//!
//! let base = PublicBase::parse("https://ivr.example.com")?;
//! let menu = tag_step(&base.join("/voice/menu")?, "menu")?;
//! assert_eq!(menu.as_str(), "https://ivr.example.com/voice/menu?twimlStep=menu");
//!
//! let guard = FallbackGuard::new(2, NonZeroUsize::new(10_000).unwrap());
//! // Twilio posts CallSid, ErrorCode and ErrorUrl to the fallback URL.
//! let step = step_of(menu.as_str());
//! assert_eq!(step.as_deref(), Some("menu"));
//! assert!(matches!(guard.on_fallback("CA123"), FallbackDecision::Retry { attempt: 1 }));
//! assert!(matches!(guard.on_fallback("CA123"), FallbackDecision::Retry { attempt: 2 }));
//! let FallbackDecision::GiveUp(terminal) = guard.on_fallback("CA123") else { panic!() };
//! assert!(terminal.to_xml().ends_with("<Hangup /></Response>"));
//! # Ok::<(), twiml::UrlError>(())
//! ```

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::voice::{Hangup, Say, VoiceResponse};
use crate::{AbsoluteUrl, UrlError};

/// The query parameter [`tag_step`] adds.
pub const STEP_PARAM: &str = "twimlStep";

/// What to do with a request to the fallback URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FallbackDecision {
    /// Re-serve the failed step; this is retry number `attempt` (from 1) for the call.
    Retry {
        /// How many times the fallback has now been reached for this call.
        attempt: u32,
    },
    /// The call has used its retries: answer this terminal document.
    GiveUp(VoiceResponse),
}

/// Counts fallback requests per call and stops a failing step from looping.
///
/// State is one counter per `CallSid` in an LRU of fixed capacity, so memory is bounded
/// whatever Twilio (or anyone posting to the fallback URL) sends. When the LRU is full, the
/// call least recently seen is forgotten; if that call fails again it starts a fresh
/// budget, so at worst a call gets `max_retries` more retries per eviction. Size the
/// capacity above the number of calls that can fail at once, and call
/// [`call_ended`](Self::call_ended) from the status callback to free entries early.
pub struct FallbackGuard {
    max_retries: u32,
    terminal: VoiceResponse,
    attempts: Mutex<LruCache<Box<str>, u32>>,
}

impl fmt::Debug for FallbackGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FallbackGuard")
            .field("max_retries", &self.max_retries)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl FallbackGuard {
    /// Allows `max_retries` retries per call (`0`: give up at once), remembering at most
    /// `capacity` calls.
    pub fn new(max_retries: u32, capacity: NonZeroUsize) -> Self {
        Self {
            max_retries,
            terminal: VoiceResponse::new()
                .add(Say::new(
                    "We are sorry, an application error occurred. Please call again later. Goodbye.",
                ))
                .add(Hangup::new()),
            attempts: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The document answered once a call has used its retries (by default a short apology
    /// and `<Hangup>`). It should end the call: one that redirects loops again.
    #[must_use]
    pub fn terminal(mut self, document: VoiceResponse) -> Self {
        self.terminal = document;
        self
    }

    /// Records a fallback request for `call_sid` and decides what to answer.
    pub fn on_fallback(&self, call_sid: &str) -> FallbackDecision {
        let attempt = {
            let mut attempts = self.lock();
            match attempts.get_mut(call_sid) {
                Some(n) => {
                    *n = n.saturating_add(1);
                    *n
                }
                None => {
                    attempts.put(call_sid.into(), 1);
                    1
                }
            }
        };
        if attempt <= self.max_retries {
            FallbackDecision::Retry { attempt }
        } else {
            tracing::warn!(
                target: "twiml::fallback",
                call_sid,
                attempts = attempt,
                "fallback retries exhausted; ending the call"
            );
            FallbackDecision::GiveUp(self.terminal.clone())
        }
    }

    /// Forgets `call_sid` (call this when the call's status callback says it ended).
    pub fn call_ended(&self, call_sid: &str) {
        self.lock().pop(call_sid);
    }

    /// How many calls are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no call is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most calls remembered at once.
    pub fn capacity(&self) -> usize {
        self.lock().cap().get()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Box<str>, u32>> {
        // A panic while holding the lock cannot leave the counters inconsistent.
        self.attempts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `url` with `twimlStep=<step>` added to its query (the step is form-encoded), placed so
/// that an already-sorted query stays sorted.
///
/// # Errors
///
/// [`UrlError::TooLong`] if the tagged URL exceeds Twilio's 4000 characters.
pub fn tag_step(url: &AbsoluteUrl, step: &str) -> Result<AbsoluteUrl, UrlError> {
    let text = url.as_str();
    let (before_fragment, fragment) = match text.find('#') {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let pair: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(STEP_PARAM, step)
        .finish();
    let tagged = match before_fragment.split_once('?') {
        None => format!("{before_fragment}?{pair}{fragment}"),
        Some((head, query)) => {
            let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            let key_of = |p: &str| p.split_once('=').map_or(p, |(k, _)| k).to_owned();
            let at = pairs
                .iter()
                .position(|p| key_of(p).as_str() > STEP_PARAM)
                .unwrap_or(pairs.len());
            pairs.insert(at, &pair);
            format!("{head}?{}{fragment}", pairs.join("&"))
        }
    };
    AbsoluteUrl::try_from(tagged)
}

/// The step id [`tag_step`] put into `url` (for example Twilio's `ErrorUrl`), decoded.
pub fn step_of(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == STEP_PARAM)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn guard(retries: u32, capacity: usize) -> FallbackGuard {
        FallbackGuard::new(retries, NonZeroUsize::new(capacity).unwrap())
    }

    #[test]
    fn incident_fallback_loop_ends_after_configured_attempts() {
        // A media host is down: every fetch of the step fails and Twilio posts to the
        // fallback URL again and again. The guard answers the terminal document after the
        // configured retries, and keeps answering it.
        let guard = guard(3, 100);
        let mut retries = 0;
        let mut requests = 0;
        let terminal = loop {
            requests += 1;
            assert!(requests < 1000, "the fallback loop never ended");
            match guard.on_fallback("CA0001") {
                FallbackDecision::Retry { attempt } => {
                    retries += 1;
                    assert_eq!(attempt, retries);
                }
                FallbackDecision::GiveUp(doc) => break doc,
            }
        };
        assert_eq!(retries, 3);
        assert_eq!(requests, 4);
        let xml = terminal.to_xml();
        assert!(
            xml.contains("<Say>") && xml.ends_with("<Hangup /></Response>"),
            "{xml}"
        );
        assert!(
            !xml.contains("<Redirect"),
            "a terminal document must not redirect"
        );
        assert!(matches!(
            guard.on_fallback("CA0001"),
            FallbackDecision::GiveUp(_)
        ));
        // Another call has its own budget.
        assert_eq!(
            guard.on_fallback("CA0002"),
            FallbackDecision::Retry { attempt: 1 }
        );
    }

    #[test]
    fn zero_retries_give_up_at_once_and_custom_terminal_is_used() {
        let doc = VoiceResponse::new().add(Hangup::new());
        let guard = guard(0, 10).terminal(doc.clone());
        assert_eq!(guard.on_fallback("CA1"), FallbackDecision::GiveUp(doc));
    }

    #[test]
    fn memory_is_bounded_and_ended_calls_are_forgotten() {
        let guard = guard(1, 3);
        for i in 0..1000 {
            guard.on_fallback(&format!("CA{i}"));
        }
        assert_eq!(guard.len(), 3);
        assert_eq!(guard.capacity(), 3);
        guard.call_ended("CA999");
        assert_eq!(guard.len(), 2);
        assert_eq!(
            guard.on_fallback("CA999"),
            FallbackDecision::Retry { attempt: 1 }
        );
        assert!(!format!("{guard:?}").is_empty());
    }

    #[test]
    fn step_tags_keep_sorted_queries_sorted_and_fragments_last() {
        let url = |s| AbsoluteUrl::parse(s).unwrap();
        assert_eq!(
            tag_step(&url("https://e.com/a?b=1&z=2#f"), "menu")
                .unwrap()
                .as_str(),
            "https://e.com/a?b=1&twimlStep=menu&z=2#f"
        );
        assert_eq!(
            tag_step(&url("https://e.com/a/"), "step 2/b")
                .unwrap()
                .as_str(),
            "https://e.com/a/?twimlStep=step+2%2Fb"
        );
        assert_eq!(
            step_of("https://e.com/a/?twimlStep=step+2%2Fb").as_deref(),
            Some("step 2/b")
        );
        assert_eq!(step_of("https://e.com/a/?other=1"), None);
        let long = url(&format!("https://e.com/{}", "a".repeat(3980)));
        assert!(matches!(
            tag_step(&long, "x"),
            Err(UrlError::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_step_round_trips_through_its_tag(step in "\\PC{0,30}", path in "/[a-z]{0,10}") {
            let url = AbsoluteUrl::parse(&format!("https://ivr.example.com{path}")).unwrap();
            let tagged = tag_step(&url, &step).unwrap();
            prop_assert_eq!(step_of(tagged.as_str()), Some(step));
        }
    }
}
