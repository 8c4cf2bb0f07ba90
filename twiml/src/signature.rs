//! `X-Twilio-Signature` validation, byte-compatible with Twilio's official SDKs.
//!
//! Twilio signs every webhook with HMAC-SHA1, keyed by the account's auth token, over the
//! full URL it requested followed by the POST parameters sorted by key (`key` + `value`, no
//! delimiters), and sends the standard base64 of the MAC in `X-Twilio-Signature`. Requests
//! with a JSON (or other non-form) body instead carry `bodySHA256=<hex sha256 of the body>`
//! in the query, and the signature covers the URL alone.
//!
//! ```
//! use twiml::RequestValidator;
//!
//! let validator = RequestValidator::new("12345");
//! let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
//! let params = [
//!     ("CallSid", "CA1234567890ABCDE"),
//!     ("Caller", "+14158675309"),
//!     ("Digits", "1234"),
//!     ("From", "+14158675309"),
//!     ("To", "+18005551212"),
//! ];
//! assert_eq!(validator.compute_signature(url, params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
//! assert!(validator.validate(url, params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
//! // The URL must be the one Twilio requested, byte for byte: a lost slash fails.
//! assert!(!validator.validate("https://mycompany.com/myapp.php/?foo=1&bar=2", params,
//!     "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
//! ```
//!
//! # What is accepted
//!
//! The same requests the official SDKs accept:
//!
//! - the URL as given, and its port variant: without a port, and with the scheme's default
//!   port inserted when none is given (Twilio is inconsistent about ports over HTTPS);
//! - for URLs whose query contains `'` or `%27`, the same URLs with one written as the
//!   other (twilio-node);
//! - repeated parameters de-duplicated and sorted per key (twilio-python and twilio-node);
//! - during an auth-token rotation, a signature made with either token
//!   ([`RequestValidator::with_secondary`]).
//!
//! The URL is never passed through a URL parser: parsers re-serialise (add a `/` before the
//! query, drop `:443`, escape `'`), which changes the bytes Twilio signed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

type HmacSha1 = Hmac<Sha1>;

/// Length of an HMAC-SHA1 output.
const MAC_LEN: usize = 20;

/// Validates `X-Twilio-Signature` headers for one account's auth token (two while rotating).
///
/// The tokens are kept only as keyed HMAC states, which are wiped when the validator is
/// dropped, and never appear in `Debug` output.
#[derive(Clone)]
pub struct RequestValidator {
    primary: HmacSha1,
    secondary: Option<HmacSha1>,
}

impl fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestValidator")
            .field("secondary", &self.secondary.is_some())
            .finish_non_exhaustive()
    }
}

fn keyed(token: impl Into<String>) -> HmacSha1 {
    let token = Zeroizing::new(token.into());
    assert!(
        !token.is_empty(),
        "a Twilio auth token must not be empty: anyone could forge signatures for it"
    );
    HmacSha1::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length")
}

impl RequestValidator {
    /// A validator for the account whose auth token is `auth_token`.
    ///
    /// Sub-accounts sign with their own token, not the main account's.
    ///
    /// # Panics
    ///
    /// If `auth_token` is empty: a validator keyed with nothing accepts signatures anyone
    /// can compute.
    pub fn new(auth_token: impl Into<String>) -> Self {
        Self {
            primary: keyed(auth_token),
            secondary: None,
        }
    }

    /// Also accepts signatures made with `token`, for the window in which Twilio may sign
    /// with either the primary or the secondary auth token.
    ///
    /// # Panics
    ///
    /// If `token` is empty.
    #[must_use]
    pub fn with_secondary(mut self, token: impl Into<String>) -> Self {
        self.secondary = Some(keyed(token));
        self
    }

    /// Whether `signature` is Twilio's signature of a request to `url` with form parameters
    /// `params` (form-decoded; empty for a `GET`).
    pub fn validate<I, K, V>(&self, url: &str, params: I, signature: &str) -> bool
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let Some(expected) = decode_signature(signature) else {
            return false;
        };
        let params: Vec<(K, V)> = params.into_iter().collect();
        let sorted = sorted_params(&params);
        self.matches_any_variant(url, &sorted, &expected)
    }

    /// Whether `signature` is Twilio's signature of a request to `url` whose raw body is
    /// `body` (JSON or any non-form body).
    ///
    /// The URL must carry `bodySHA256`, and it must equal the lowercase hex SHA-256 of
    /// `body`; a body without it is refused, as the official SDKs do.
    pub fn validate_body(&self, url: &str, body: &[u8], signature: &str) -> bool {
        let Some(expected) = decode_signature(signature) else {
            return false;
        };
        let Some(claimed) = query_value(url, "bodySHA256") else {
            return false;
        };
        let actual = hex_sha256(body);
        let body_matches: bool = claimed.as_bytes().ct_eq(actual.as_bytes()).into();
        // Both checks always run, so timing does not tell which one failed.
        let signature_matches = self.matches_any_variant(url, &[], &expected);
        body_matches & signature_matches
    }

    /// Twilio's signature of a request to `url` with `params`, using the primary token and
    /// the URL exactly as given.
    pub fn compute_signature<I, K, V>(&self, url: &str, params: I) -> String
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let params: Vec<(K, V)> = params.into_iter().collect();
        BASE64.encode(mac(&self.primary, url, &sorted_params(&params)))
    }

    fn matches_any_variant(&self, url: &str, params: &[Param<'_>], expected: &[u8]) -> bool {
        let keys = || std::iter::once(&self.primary).chain(self.secondary.as_ref());
        // The URL as given first: it is one of the two port variants, and the one Twilio
        // signs in practice, so a valid request usually costs one MAC and no allocation.
        if keys().any(|key| matches(key, url, params, expected)) {
            return true;
        }
        let mut variants: Vec<String> = other_port_variant(url).into_iter().collect();
        // twilio-node also accepts the query with `'` and `%27` swapped, both ways: WHATWG
        // URL parsing escapes `'` in a query, its legacy querystring form does not.
        let requoted: Vec<String> = std::iter::once(url)
            .chain(variants.iter().map(String::as_str))
            .flat_map(|u| [requote(u, "'", "%27"), requote(u, "%27", "'")])
            .flatten()
            .collect();
        variants.extend(requoted);
        variants
            .iter()
            .any(|variant| keys().any(|key| matches(key, variant, params, expected)))
    }
}

/// `url` with `from` replaced by `to` in its query, or `None` when the query has no `from`.
fn requote(url: &str, from: &str, to: &str) -> Option<String> {
    let query_start = url.find('?')? + 1;
    let query_end = url[query_start..]
        .find('#')
        .map_or(url.len(), |i| query_start + i);
    let query = &url[query_start..query_end];
    query.contains(from).then(|| {
        format!(
            "{}{}{}",
            &url[..query_start],
            query.replace(from, to),
            &url[query_end..]
        )
    })
}

fn matches(key: &HmacSha1, url: &str, params: &[Param<'_>], expected: &[u8]) -> bool {
    mac(key, url, params).ct_eq(expected).into()
}

fn mac(key: &HmacSha1, url: &str, params: &[Param<'_>]) -> [u8; MAC_LEN] {
    let mut mac = key.clone();
    mac.update(url.as_bytes());
    for param in params {
        mac.update(param.key.as_bytes());
        mac.update(param.value.as_bytes());
    }
    mac.finalize().into_bytes().into()
}

/// The signature as raw MAC bytes; `None` when it is not canonical base64 of 20 bytes
/// (which no valid signature is, so rejecting early reveals nothing secret).
fn decode_signature(signature: &str) -> Option<[u8; MAC_LEN]> {
    let mut out = [0u8; MAC_LEN];
    // A 20-byte MAC is 28 base64 characters; the buffer check rejects anything longer.
    if signature.len() != 28 {
        return None;
    }
    match BASE64.decode_slice(signature, &mut out) {
        Ok(MAC_LEN) => Some(out),
        _ => None,
    }
}

/// One form parameter, with the first 8 bytes of its key as a big-endian integer: keys
/// that differ there (most webhook keys do) compare with one integer comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Param<'a> {
    prefix: u64,
    key: &'a str,
    value: &'a str,
}

impl Ord for Param<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Zero-padded prefixes order like the strings they start: a smaller prefix means a
        // smaller key; equal prefixes fall back to the whole key.
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.key.cmp(other.key))
            .then_with(|| self.value.cmp(other.value))
    }
}

impl PartialOrd for Param<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Parameters sorted by key, then value, byte order, with exact duplicates removed:
/// twilio-python's `sorted(set(values))` per key, and twilio-node's equivalent.
fn sorted_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> Vec<Param<'_>> {
    let mut sorted: Vec<Param<'_>> = params
        .iter()
        .map(|(k, v)| {
            let key = k.as_ref();
            let mut prefix = [0u8; 8];
            let n = key.len().min(8);
            prefix[..n].copy_from_slice(&key.as_bytes()[..n]);
            Param {
                prefix: u64::from_be_bytes(prefix),
                key,
                value: v.as_ref(),
            }
        })
        .collect();
    if sorted.len() <= INSERTION_SORT_MAX {
        // Forms usually arrive nearly in order (Twilio's webhooks do): insertion sort then
        // costs about one comparison per parameter, where a general sort pays n·log n.
        for i in 1..sorted.len() {
            let mut j = i;
            while j > 0 && sorted[j - 1] > sorted[j] {
                sorted.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        sorted.sort_unstable();
    }
    sorted.dedup();
    sorted
}

/// Forms of up to this many parameters are sorted by insertion (at most 496 comparisons,
/// whatever the order).
const INSERTION_SORT_MAX: usize = 32;

/// The URL with its port changed to the other variant the SDKs accept: a URL with a port
/// loses it; a URL without one gains the scheme's default (`:443` for https, `:80` for
/// http). `None` when the URL has no recognisable authority.
fn other_port_variant(url: &str) -> Option<String> {
    let scheme_end = url.find("://")?;
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let host_start = url[authority_start..authority_end]
        .rfind('@')
        .map_or(authority_start, |i| authority_start + i + 1);
    match crate::url::split_port(&url[host_start..authority_end]) {
        Some((host, _port)) => {
            let port_start = host_start + host.len();
            Some(format!("{}{}", &url[..port_start], &url[authority_end..]))
        }
        None => {
            let scheme = &url[..scheme_end];
            let port = if scheme.eq_ignore_ascii_case("https") {
                ":443"
            } else if scheme.eq_ignore_ascii_case("http") {
                ":80"
            } else {
                return None;
            };
            Some(format!(
                "{}{port}{}",
                &url[..authority_end],
                &url[authority_end..]
            ))
        }
    }
}

/// The raw value of the first `name` parameter in the URL's query.
pub(crate) fn query_value<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

fn hex_sha256(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    #[test]
    fn official_base_vector() {
        let v = RequestValidator::new(TOKEN);
        assert_eq!(v.compute_signature(URL, PARAMS), SIGNATURE);
        assert!(v.validate(URL, PARAMS, SIGNATURE));
        assert!(!RequestValidator::new("54321").validate(URL, PARAMS, SIGNATURE));
    }

    #[test]
    fn keyed_state_is_wiped_on_drop() {
        // `Hmac<Sha1>` holds the key only as two `Sha1Core` states (inner and outer pad),
        // and with the `zeroize` feature each wipes itself when dropped.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<sha1::block_api::Sha1Core>();
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let v = RequestValidator::new("s3cr3t-token").with_secondary("other-s3cr3t");
        let debug = format!("{v:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("secondary: true"));
    }

    #[test]
    #[should_panic(expected = "must not be empty")]
    fn empty_token_is_refused() {
        let _ = RequestValidator::new("");
    }

    #[test]
    fn port_variants() {
        assert_eq!(
            other_port_variant("https://example.com/a?b=1").as_deref(),
            Some("https://example.com:443/a?b=1")
        );
        assert_eq!(
            other_port_variant("http://u:p@example.com?b").as_deref(),
            Some("http://u:p@example.com:80?b")
        );
        assert_eq!(
            other_port_variant("https://u:p@example.com:1234/a").as_deref(),
            Some("https://u:p@example.com/a")
        );
        assert_eq!(
            other_port_variant("https://[::1]:8443/a").as_deref(),
            Some("https://[::1]/a")
        );
        assert_eq!(
            other_port_variant("https://[::1]/a").as_deref(),
            Some("https://[::1]:443/a")
        );
        assert_eq!(other_port_variant("ftp://example.com/"), None);
        assert_eq!(
            requote("https://e.com/it's?a='b'#'", "'", "%27").as_deref(),
            Some("https://e.com/it's?a=%27b%27#'")
        );
        assert_eq!(requote("https://e.com/it's", "'", "%27"), None);
        assert_eq!(other_port_variant("/relative"), None);
    }

    #[test]
    fn signature_format_is_checked_before_any_mac() {
        let v = RequestValidator::new(TOKEN);
        for bad in [
            "",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8==",
            "!!!!",
        ] {
            assert!(!v.validate(URL, PARAMS, bad), "{bad:?}");
        }
        // Non-canonical trailing bits decode to the same bytes but are not the signature.
        assert!(!v.validate(URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B9="));
    }

    #[test]
    fn body_hash_must_match_and_be_present() {
        let v = RequestValidator::new(TOKEN);
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = hex_sha256(body);
        assert_eq!(
            hash,
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        let url = format!("{URL}&bodySHA256={hash}");
        assert!(v.validate_body(&url, body, "a9nBmqA0ju/hNViExpshrM61xv4="));
        assert!(!v.validate_body(&url, b"{}", "a9nBmqA0ju/hNViExpshrM61xv4="));
        let sig_without = v.compute_signature(URL, [("", ""); 0]);
        assert!(!v.validate_body(URL, body, &sig_without));
    }

    #[test]
    fn query_value_reads_raw_parameters() {
        assert_eq!(
            query_value("https://a/b?x=1&bodySHA256=ab#f", "bodySHA256"),
            Some("ab")
        );
        assert_eq!(
            query_value("https://a/b?bodySHA2560=ab", "bodySHA256"),
            None
        );
        assert_eq!(query_value("https://a/b", "bodySHA256"), None);
    }

    fn params_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec(("[A-Za-z]{1,12}", "\\PC{0,16}"), 0..20)
    }

    proptest! {
        #[test]
        fn parameter_order_never_changes_the_signature(
            params in params_strategy(),
            seed in any::<u64>(),
        ) {
            let v = RequestValidator::new(TOKEN);
            let sig = v.compute_signature(URL, params.iter().map(|(k, v)| (k, v)));
            let mut shuffled = params.clone();
            // A deterministic permutation driven by the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                shuffled.swap(i, (state % (i as u64 + 1)) as usize);
            }
            prop_assert!(v.validate(URL, shuffled.iter().map(|(k, v)| (k, v)), &sig));
        }

        #[test]
        fn any_one_byte_change_to_url_or_params_fails(
            params in params_strategy().prop_filter("non-empty", |p| !p.is_empty()),
            pick in any::<prop::sample::Index>(),
            replacement in any::<u8>(),
            in_url in any::<bool>(),
        ) {
            let v = RequestValidator::new(TOKEN);
            let sig = v.compute_signature(URL, params.iter().map(|(k, v)| (k, v)));
            let mut url = URL.as_bytes().to_vec();
            let mut params = params;
            if in_url {
                let i = pick.index(url.len());
                prop_assume!(url[i] != replacement && replacement.is_ascii_graphic());
                url[i] = replacement;
            } else {
                let (k, val) = pick.get(&params).clone();
                let mut bytes = val.into_bytes();
                prop_assume!(replacement.is_ascii());
                match bytes.first_mut() {
                    Some(b) if *b != replacement => *b = replacement,
                    Some(_) => prop_assume!(false),
                    None => bytes.push(replacement),
                }
                let Ok(changed) = String::from_utf8(bytes) else { return Ok(()); };
                // Replace that parameter everywhere it appears so de-duplication cannot mask it.
                params.iter_mut().filter(|(pk, _)| *pk == k).for_each(|p| p.1 = changed.clone());
            }
            let url = String::from_utf8(url).unwrap();
            prop_assert!(!v.validate(&url, params.iter().map(|(k, v)| (k, v)), &sig));
        }

        #[test]
        fn any_one_byte_change_to_the_body_fails(
            body in prop::collection::vec(any::<u8>(), 1..200),
            pick in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let v = RequestValidator::new(TOKEN);
            let url = format!("https://example.com/hook?bodySHA256={}", hex_sha256(&body));
            let sig = v.compute_signature(&url, [("", ""); 0]);
            prop_assert!(v.validate_body(&url, &body, &sig));
            let mut changed = body.clone();
            let i = pick.index(changed.len());
            changed[i] ^= flip;
            prop_assert!(!v.validate_body(&url, &changed, &sig));
        }

        #[test]
        fn params_come_out_in_byte_order_without_duplicates(
            params in proptest::collection::vec(("[A-Ca-c]{0,10}", "[0-2]{0,2}"), 0..80),
            presorted in any::<bool>(),
        ) {
            let mut params = params;
            if presorted {
                params.sort_unstable();
            }
            let sorted = sorted_params(&params);
            let mut expected: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expected.sort_unstable();
            expected.dedup();
            let got: Vec<(&str, &str)> = sorted.iter().map(|p| (p.key, p.value)).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn prefix_ordering_is_byte_ordering(
            a in ("[a-c\\x00]{0,10}", "\\PC{0,3}"),
            b in ("[a-c\\x00]{0,10}", "\\PC{0,3}"),
        ) {
            let params = [a.clone(), b.clone()];
            let sorted = sorted_params(&params);
            let mut expected = vec![(a.0.as_str(), a.1.as_str()), (b.0.as_str(), b.1.as_str())];
            expected.sort_unstable();
            expected.dedup();
            let got: Vec<(&str, &str)> = sorted.iter().map(|p| (p.key, p.value)).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn arbitrary_signatures_never_panic(sig in "\\PC{0,40}", url in "\\PC{0,60}") {
            let v = RequestValidator::new(TOKEN);
            let _ = v.validate(&url, PARAMS, &sig);
            let _ = v.validate_body(&url, b"x", &sig);
        }
    }
}
