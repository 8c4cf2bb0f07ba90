//! RFC 6265 §4 grammar and the `Cookie` request header split into pairs.
//!
//! The split follows what browsers send (`name=value` pairs separated by `;` and optional
//! whitespace) and never percent-decodes: `__%48ost-sid` is not `__Host-sid` (the class of
//! Rack's CVE-2020-8184, where a decoded name let a plain cookie pose as a prefixed one).

/// How strictly cookie values are checked before they are judged or migrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ValueGrammar {
    /// RFC 6265 §4.1.1 `cookie-value`: `cookie-octet`s, optionally inside double quotes
    /// (no whitespace, `"`, `,`, `;` or `\`). What every well-behaved server sets.
    #[default]
    Strict,
    /// Any visible ASCII and inner spaces except `;`: for legacy cookies set by servers
    /// that were not careful (a comma or a space in the value). Browsers store and send
    /// them, so refusing them would log their owners out.
    Lenient,
}

/// `tchar` of RFC 9110 §5.6.2: the bytes of a cookie name.
pub(crate) fn is_token_byte(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `cookie-octet` of RFC 6265 §4.1.1.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// A non-empty `token`.
pub(crate) fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| is_token_byte(b))
}

impl ValueGrammar {
    /// Whether `value` (already trimmed) is a cookie value under this grammar.
    pub(crate) fn accepts(self, value: &[u8]) -> bool {
        match self {
            Self::Strict => {
                let inner = match value {
                    [b'"', inner @ .., b'"'] => inner,
                    _ => value,
                };
                inner.iter().all(|&b| is_cookie_octet(b))
            }
            Self::Lenient => value
                .iter()
                .all(|&b| (0x20..0x7F).contains(&b) && b != b';'),
        }
    }
}

/// One `name=value` pair of a `Cookie` header, whitespace-trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pair<'a> {
    /// The whole pair as sent, trimmed: what is passed on when the pair is kept.
    pub(crate) raw: &'a [u8],
    /// The bytes before the first `=`, trimmed; the whole pair when there is no `=`.
    pub(crate) name: &'a [u8],
    /// The bytes after the first `=`, trimmed; `None` when there is no `=`.
    pub(crate) value: Option<&'a [u8]>,
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The non-empty pairs of one `Cookie` header value, in order. Linear in the header's
/// length; never fails (judging a pair is the caller's business).
pub(crate) fn pairs(header: &[u8]) -> Pairs<'_> {
    Pairs { rest: Some(header) }
}

/// Iterator over the pairs of a `Cookie` header; see [`pairs`].
pub(crate) struct Pairs<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        loop {
            let rest = self.rest?;
            let piece = match find(rest, b';') {
                Some(end) => {
                    self.rest = Some(&rest[end + 1..]);
                    &rest[..end]
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let raw = trim(piece);
            if raw.is_empty() {
                continue;
            }
            return Some(match find(raw, b'=') {
                Some(eq) => Pair {
                    raw,
                    name: trim(&raw[..eq]),
                    value: Some(trim(&raw[eq + 1..])),
                },
                None => Pair {
                    raw,
                    name: raw,
                    value: None,
                },
            });
        }
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The index of the first `needle` in `bytes`, eight bytes at a time: searching for the
/// separators is most of the work of reading a header, and this halves it.
fn find(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = LOW_BITS * u64::from(needle);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ pattern;
        // The lowest flagged byte is the first zero byte of `word` (a borrow can only flag
        // bytes above it).
        let zero_bytes = word.wrapping_sub(LOW_BITS) & !word & HIGH_BITS;
        if zero_bytes != 0 {
            return Some(offset + (zero_bytes.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|&b| b == needle)
        .map(|index| offset + index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(header: &str) -> Vec<(&[u8], Option<&[u8]>)> {
        pairs(header.as_bytes())
            .map(|p| (p.name, p.value))
            .collect()
    }

    #[test]
    fn splits_like_browsers_send() {
        assert_eq!(
            names("a=1; b=2;c=3 ;  d = 4"),
            vec![
                (&b"a"[..], Some(&b"1"[..])),
                (b"b", Some(b"2")),
                (b"c", Some(b"3")),
                (b"d", Some(b"4")),
            ]
        );
        assert_eq!(names("a=b=c"), vec![(&b"a"[..], Some(&b"b=c"[..]))]);
        assert_eq!(
            names("=v; flag; ;;"),
            vec![(&b""[..], Some(&b"v"[..])), (b"flag", None)]
        );
        assert!(names("").is_empty());
    }

    #[test]
    fn names_are_never_percent_decoded() {
        let pair = pairs(b"__%48ost-sid=x").next().unwrap();
        assert_eq!(pair.name, b"__%48ost-sid");
        assert!(
            is_valid_name(pair.name),
            "`%` is a token byte; the name is just different"
        );
    }

    #[test]
    fn value_grammar() {
        let strict = ValueGrammar::Strict;
        assert!(strict.accepts(b"abc=def/+"));
        assert!(strict.accepts(b"\"quoted\""));
        assert!(strict.accepts(b""));
        for bad in [
            &b"a b"[..],
            b"a,b",
            b"a\\b",
            b"a\"b",
            b"\x01",
            b"\xff",
            b"a\tb",
        ] {
            assert!(!strict.accepts(bad), "{bad:?}");
        }
        let lenient = ValueGrammar::Lenient;
        assert!(lenient.accepts(b"a b,c\"d\\"));
        assert!(!lenient.accepts(b"a;b"));
        assert!(!lenient.accepts(b"\x7f"));
        assert!(!lenient.accepts(b"\xc3\xa9"));
    }

    proptest! {
        /// The word-at-a-time search agrees with a plain one.
        #[test]
        fn find_agrees_with_position(
            bytes in proptest::collection::vec(prop_oneof![0u8..4, any::<u8>()], 0..64),
            needle in 0u8..4,
        ) {
            prop_assert_eq!(find(&bytes, needle), bytes.iter().position(|&b| b == needle));
        }

        /// Every byte of a header lands in exactly one pair or in a separator/whitespace,
        /// and nothing panics.
        #[test]
        fn pairs_cover_the_header(header in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut covered = 0;
            for pair in pairs(&header) {
                prop_assert!(!pair.raw.is_empty());
                prop_assert!(!pair.raw.contains(&b';'));
                prop_assert_eq!(pair.raw.first().map(|b| *b == b' ' || *b == b'\t'), Some(false));
                if let Some(value) = pair.value {
                    prop_assert!(pair.name.len() + value.len() < pair.raw.len());
                }
                covered += pair.raw.len();
            }
            let separators = header.iter().filter(|&&b| matches!(b, b';' | b' ' | b'\t')).count();
            prop_assert!(covered + separators >= header.len());
        }

        /// Well-formed pairs joined the way browsers join them come back unchanged.
        #[test]
        fn round_trip(cookies in proptest::collection::vec(("[A-Za-z0-9_.-]{1,12}", "[A-Za-z0-9=/+_-]{0,24}"), 0..40)) {
            let header = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            let parsed: Vec<(String, String)> = pairs(header.as_bytes())
                .map(|p| (String::from_utf8(p.name.to_vec()).unwrap(), String::from_utf8(p.value.unwrap().to_vec()).unwrap()))
                .collect();
            prop_assert_eq!(parsed, cookies);
        }
    }
}
