//! [`Message`]: a validated, zero-copy view of one STUN message.

use std::net::SocketAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use super::attribute::{
    self, AttrType, MAX_TEXT_CHARS, MAX_TEXT_LEN, PasswordAlgorithmValue, PasswordAlgorithmsIter,
    RawAttribute, be16, padded,
};
use super::error::{AttributeError, ParseError};
use super::header::{Class, HEADER_LEN, MAGIC_COOKIE, Method, TransactionId, split_message_type};

/// Length of a MESSAGE-INTEGRITY value (HMAC-SHA1).
pub(crate) const INTEGRITY_LEN: usize = 20;
/// Length of a FINGERPRINT value.
pub(crate) const FINGERPRINT_LEN: usize = 4;
/// What the CRC-32 is XORed with in FINGERPRINT (RFC 8489 §14.7): "STUN".
pub(crate) const FINGERPRINT_XOR: u32 = 0x5354_554e;
/// Length of an attribute header (type and length).
pub(crate) const ATTR_HEADER_LEN: usize = 4;

/// A zero-copy, validated view of one STUN message.
///
/// [`Message::parse`] checks the header and walks the attributes once, recording where
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are; every accessor afterwards
/// reads the original bytes. Nothing is copied or allocated, and the view is `Copy`.
///
/// # Which attributes count
///
/// RFC 8489 §9: agents ignore every attribute after MESSAGE-INTEGRITY except
/// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and every attribute after
/// MESSAGE-INTEGRITY-SHA256 except FINGERPRINT. The accessors ([`get`](Self::get),
/// [`attributes`](Self::attributes), [`username`](Self::username), …) see only the
/// attributes that count, so a value appended after the integrity check by an on-path
/// attacker is never read. In particular a second MESSAGE-INTEGRITY comes after the first,
/// is ignored, and cannot replace it.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    bytes: &'a [u8],
    /// Where the attributes before the first integrity or fingerprint attribute end.
    plain_end: usize,
    /// Offsets of the attribute headers of the MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256
    /// and FINGERPRINT that count, in message order.
    integrity: Option<usize>,
    integrity_sha256: Option<usize>,
    fingerprint: Option<usize>,
}

impl<'a> Message<'a> {
    /// Parses and validates one STUN message (a whole UDP datagram, or one framed message
    /// from a stream).
    ///
    /// Checked: at least 20 bytes; the first two bits 0; the magic cookie; a Length field
    /// that is a multiple of 4 and equals the number of bytes after the header; every
    /// attribute (with its padding, whose bytes may have any value) inside the message;
    /// FINGERPRINT, if present, last and 4 bytes long; the MESSAGE-INTEGRITY that counts 20
    /// bytes long and the MESSAGE-INTEGRITY-SHA256 that counts 16 to 32 bytes in steps of 4.
    /// Attributes that do not count (see [the type docs](Message#which-attributes-count)) must
    /// still fit in the message but are otherwise unchecked.
    ///
    /// Never panics and never allocates.
    ///
    /// # Errors
    ///
    /// The first [`ParseError`] found.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::TooShort {
                len: bytes.len(),
                min: HEADER_LEN,
            });
        }
        if !Self::is_stun(bytes) {
            return Err(ParseError::NotStun);
        }
        let length = be16(bytes, 2).unwrap_or_default();
        if length % 4 != 0 {
            return Err(ParseError::LengthNotMultipleOf4 { length });
        }
        if usize::from(length) != bytes.len() - HEADER_LEN {
            return Err(ParseError::LengthMismatch {
                header: usize::from(length),
                actual: bytes.len() - HEADER_LEN,
            });
        }

        let mut message = Message {
            bytes,
            plain_end: bytes.len(),
            integrity: None,
            integrity_sha256: None,
            fingerprint: None,
        };
        let mut at = HEADER_LEN;
        while at < bytes.len() {
            if let Some(fingerprint) = message.fingerprint {
                return Err(ParseError::FingerprintNotLast { at: fingerprint });
            }
            let (attr, len) = match (be16(bytes, at), be16(bytes, at + 2)) {
                (Some(t), Some(len)) => (AttrType(t), len),
                // Unreachable for a length that is a multiple of 4, but cheap to keep total.
                _ => {
                    return Err(ParseError::AttributeOverrun {
                        at,
                        attr: AttrType(be16(bytes, at).unwrap_or_default()),
                        len: 0,
                    });
                }
            };
            let end = at + ATTR_HEADER_LEN + padded(usize::from(len));
            if end > bytes.len() {
                return Err(ParseError::AttributeOverrun { at, attr, len });
            }
            let counts_as_special = match attr {
                AttrType::MESSAGE_INTEGRITY
                    if message.integrity.is_none() && message.integrity_sha256.is_none() =>
                {
                    if usize::from(len) != INTEGRITY_LEN {
                        return Err(ParseError::BadIntegrityLength { len });
                    }
                    message.integrity = Some(at);
                    true
                }
                AttrType::MESSAGE_INTEGRITY_SHA256 if message.integrity_sha256.is_none() => {
                    if !(16..=32).contains(&len) || len % 4 != 0 {
                        return Err(ParseError::BadIntegritySha256Length { len });
                    }
                    message.integrity_sha256 = Some(at);
                    true
                }
                AttrType::FINGERPRINT => {
                    if usize::from(len) != FINGERPRINT_LEN {
                        return Err(ParseError::BadFingerprintLength { len });
                    }
                    message.fingerprint = Some(at);
                    true
                }
                _ => false,
            };
            if counts_as_special && message.plain_end == bytes.len() {
                message.plain_end = at;
            }
            at = end;
        }
        Ok(message)
    }

    /// A quick check that `bytes` looks like a STUN message: at least 20 bytes, the first
    /// two bits 0 and the magic cookie. Use it to tell STUN from ChannelData (first two bits
    /// `01`) on a TURN port; [`parse`](Self::parse) does the full validation.
    pub fn is_stun(bytes: &[u8]) -> bool {
        bytes.len() >= HEADER_LEN
            && bytes[0] & 0xC0 == 0
            && bytes[4..8] == MAGIC_COOKIE.to_be_bytes()
    }

    /// The whole message, as parsed.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The message class.
    pub fn class(&self) -> Class {
        self.split_type().0
    }

    /// The message method.
    pub fn method(&self) -> Method {
        self.split_type().1
    }

    fn split_type(&self) -> (Class, Method) {
        split_message_type(be16(self.bytes, 0).unwrap_or_default())
    }

    /// The transaction ID.
    pub fn transaction_id(&self) -> TransactionId {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.bytes[8..HEADER_LEN]);
        TransactionId(id)
    }

    /// The attributes that count, in message order: those before the first
    /// MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 / FINGERPRINT, then whichever of those
    /// three count (see [the type docs](Message#which-attributes-count)).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            bytes: self.bytes,
            at: HEADER_LEN,
            plain_end: self.plain_end,
            special: [self.integrity, self.integrity_sha256, self.fingerprint],
            next_special: 0,
        }
    }

    /// The value of the first counting attribute of type `t`.
    pub fn get(&self, t: AttrType) -> Option<&'a [u8]> {
        self.attributes()
            .find(|a| a.attr_type == t)
            .map(|a| a.value)
    }

    /// The values of every counting attribute of type `t`, in order (for attributes that may
    /// repeat, such as XOR-PEER-ADDRESS in CreatePermission).
    pub fn get_all(&self, t: AttrType) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.attributes()
            .filter(move |a| a.attr_type == t)
            .map(|a| a.value)
    }

    /// USERNAME as text.
    ///
    /// RFC 8489 §14.3 asks senders for fewer than 509 bytes but requires receivers to accept
    /// up to 763 ([`MAX_TEXT_LEN`]) for RFC 5389 compatibility (whose limit was "less than 513
    /// bytes"), so up to 763 bytes are accepted here. OpaqueString (RFC 8265) processing is
    /// not applied; usernames are compared byte for byte.
    ///
    /// # Errors
    ///
    /// [`AttributeError::TooLong`] above 763 bytes, [`AttributeError::NotUtf8`].
    pub fn username(&self) -> Result<Option<&'a str>, AttributeError> {
        self.get(AttrType::USERNAME)
            .map(|v| attribute::text(AttrType::USERNAME, v, None))
            .transpose()
    }

    /// REALM as text: UTF-8, at most 763 bytes and fewer than 128 characters (RFC 8489
    /// §14.9).
    ///
    /// # Errors
    ///
    /// [`AttributeError::TooLong`], [`AttributeError::NotUtf8`],
    /// [`AttributeError::TooManyChars`].
    pub fn realm(&self) -> Result<Option<&'a str>, AttributeError> {
        self.get(AttrType::REALM)
            .map(|v| attribute::text(AttrType::REALM, v, Some(MAX_TEXT_CHARS)))
            .transpose()
    }

    /// NONCE as bytes: at most 763 bytes and fewer than 128 characters (RFC 8489 §14.10).
    ///
    /// UTF-8 is not required (the value is opaque to the receiver that did not make it);
    /// characters are counted as UTF-8 sequences, and as single bytes where the value is not
    /// UTF-8.
    ///
    /// # Errors
    ///
    /// [`AttributeError::TooLong`], [`AttributeError::TooManyChars`].
    pub fn nonce(&self) -> Result<Option<&'a [u8]>, AttributeError> {
        let Some(value) = self.get(AttrType::NONCE) else {
            return Ok(None);
        };
        let attr = AttrType::NONCE;
        if value.len() > MAX_TEXT_LEN {
            return Err(AttributeError::TooLong {
                attr,
                len: value.len(),
                max: MAX_TEXT_LEN,
            });
        }
        let chars = attribute::char_count(value);
        if chars > MAX_TEXT_CHARS {
            return Err(AttributeError::TooManyChars {
                attr,
                chars,
                max: MAX_TEXT_CHARS,
            });
        }
        Ok(Some(value))
    }

    /// USERHASH: exactly 32 bytes (RFC 8489 §14.4).
    ///
    /// # Errors
    ///
    /// [`AttributeError::BadLength`] for any other length.
    pub fn userhash(&self) -> Result<Option<&'a [u8; 32]>, AttributeError> {
        self.get(AttrType::USERHASH)
            .map(|v| {
                v.try_into().map_err(|_| AttributeError::BadLength {
                    attr: AttrType::USERHASH,
                    len: v.len(),
                })
            })
            .transpose()
    }

    /// PASSWORD-ALGORITHM: the algorithm number (possibly one this crate does not implement)
    /// and its parameters.
    ///
    /// # Errors
    ///
    /// [`AttributeError::Malformed`] when the value is not exactly one algorithm entry.
    pub fn password_algorithm(
        &self,
    ) -> Result<Option<(PasswordAlgorithmValue, &'a [u8])>, AttributeError> {
        let Some(value) = self.get(AttrType::PASSWORD_ALGORITHM) else {
            return Ok(None);
        };
        match attribute::algorithm_entry(value) {
            Some((algorithm, params, used)) if used == value.len() => Ok(Some((algorithm, params))),
            _ => Err(AttributeError::Malformed {
                attr: AttrType::PASSWORD_ALGORITHM,
                what: "the value is not one algorithm number, parameter length and parameters",
            }),
        }
    }

    /// PASSWORD-ALGORITHMS: the `(algorithm number, parameters)` list, checked in full before
    /// it is returned.
    ///
    /// # Errors
    ///
    /// [`AttributeError::Malformed`] when an entry runs past the end of the value.
    pub fn password_algorithms(
        &self,
    ) -> Result<Option<PasswordAlgorithmsIter<'a>>, AttributeError> {
        self.get(AttrType::PASSWORD_ALGORITHMS)
            .map(PasswordAlgorithmsIter::new)
            .transpose()
    }

    /// LIFETIME in seconds, when present and 4 bytes long.
    pub fn lifetime(&self) -> Option<u32> {
        let value: [u8; 4] = self.get(AttrType::LIFETIME)?.try_into().ok()?;
        Some(u32::from_be_bytes(value))
    }

    /// ERROR-CODE: the code (class × 100 + number, 300–699) and the reason phrase.
    ///
    /// # Errors
    ///
    /// [`AttributeError::BadLength`] below 4 bytes, [`AttributeError::BadErrorCode`], and the
    /// text errors of the reason phrase (UTF-8, at most 763 bytes, fewer than 128
    /// characters).
    pub fn error_code(&self) -> Result<Option<(u16, &'a str)>, AttributeError> {
        let Some(value) = self.get(AttrType::ERROR_CODE) else {
            return Ok(None);
        };
        let attr = AttrType::ERROR_CODE;
        let (Some(&class), Some(&number), Some(reason)) =
            (value.get(2), value.get(3), value.get(4..))
        else {
            return Err(AttributeError::BadLength {
                attr,
                len: value.len(),
            });
        };
        // The class is three bits; the 21 bits before it are reserved and ignored.
        let class = class & 0x07;
        if !(3..=6).contains(&class) || number >= 100 {
            return Err(AttributeError::BadErrorCode { class, number });
        }
        let reason = attribute::text(attr, reason, Some(MAX_TEXT_CHARS))?;
        Ok(Some((u16::from(class) * 100 + u16::from(number), reason)))
    }

    /// The first counting attribute of type `t` decoded as an XOR address (see
    /// [`decode_xor_address`](super::decode_xor_address)).
    ///
    /// # Errors
    ///
    /// As [`decode_xor_address`](super::decode_xor_address).
    pub fn xor_address(&self, t: AttrType) -> Result<Option<SocketAddr>, AttributeError> {
        let transaction_id = self.transaction_id();
        self.get(t)
            .map(|v| attribute::decode_xor_address(v, &transaction_id))
            .transpose()
    }

    /// The comprehension-required attribute types (below 0x8000) among the counting
    /// attributes for which `known` returns false, in message order, duplicates included:
    /// what a 420 (Unknown Attribute) response lists in UNKNOWN-ATTRIBUTES.
    ///
    /// MESSAGE-INTEGRITY (0x0008) and MESSAGE-INTEGRITY-SHA256 (0x001C) are
    /// comprehension-required too and are passed to `known` like any other type.
    pub fn unknown_comprehension_required<F>(
        &self,
        known: F,
    ) -> impl Iterator<Item = AttrType> + use<'a, F>
    where
        F: Fn(AttrType) -> bool,
    {
        self.attributes()
            .map(|a| a.attr_type)
            .filter(move |&t| t.is_comprehension_required() && !known(t))
    }

    /// Whether a MESSAGE-INTEGRITY counts.
    pub fn has_integrity(&self) -> bool {
        self.integrity.is_some()
    }

    /// Whether a MESSAGE-INTEGRITY-SHA256 counts.
    pub fn has_integrity_sha256(&self) -> bool {
        self.integrity_sha256.is_some()
    }

    /// Whether the message ends with a FINGERPRINT.
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint.is_some()
    }

    /// Checks MESSAGE-INTEGRITY with `key` (the short-term password, or the long-term key
    /// such as `MD5(username ":" realm ":" password)`); `None` if there is none.
    ///
    /// The HMAC-SHA1 covers the message up to MESSAGE-INTEGRITY, with the header's Length
    /// field adjusted to end after MESSAGE-INTEGRITY (RFC 8489 §14.5). The adjusted header is
    /// fed to the MAC piecewise, so nothing is copied or allocated; the comparison is
    /// constant-time.
    pub fn verify_integrity(&self, key: &[u8]) -> Option<bool> {
        self.integrity?;
        let keyed = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
        self.verify_integrity_with(&keyed)
    }

    /// [`verify_integrity`](Self::verify_integrity) with an HMAC state already keyed (cloned,
    /// never consumed), so callers can cache keyed states instead of keys.
    pub fn verify_integrity_with(&self, keyed: &Hmac<Sha1>) -> Option<bool> {
        let at = self.integrity?;
        let mut mac = keyed.clone();
        self.feed_adjusted(&mut mac, at, INTEGRITY_LEN);
        let expected = mac.finalize().into_bytes();
        let received = &self.bytes[at + ATTR_HEADER_LEN..at + ATTR_HEADER_LEN + INTEGRITY_LEN];
        Some(crate::macs_equal(&expected, received))
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 with `key`; `None` if there is none.
    ///
    /// The HMAC-SHA256 covers the message up to MESSAGE-INTEGRITY-SHA256 (including any
    /// MESSAGE-INTEGRITY), with the Length field adjusted to end after
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6). A truncated value (16 to 28 bytes) is
    /// compared with the same-length prefix of the MAC: whether truncation is acceptable is the
    /// caller's policy (RFC 8489 requires the full 32 bytes unless the usage allows less).
    pub fn verify_integrity_sha256(&self, key: &[u8]) -> Option<bool> {
        self.integrity_sha256?;
        let keyed = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
        self.verify_integrity_sha256_with(&keyed)
    }

    /// [`verify_integrity_sha256`](Self::verify_integrity_sha256) with an HMAC state already
    /// keyed (cloned, never consumed).
    pub fn verify_integrity_sha256_with(&self, keyed: &Hmac<Sha256>) -> Option<bool> {
        let at = self.integrity_sha256?;
        let len = usize::from(be16(self.bytes, at + 2)?);
        let mut mac = keyed.clone();
        self.feed_adjusted(&mut mac, at, len);
        let expected = mac.finalize().into_bytes();
        let received = &self.bytes[at + ATTR_HEADER_LEN..at + ATTR_HEADER_LEN + len];
        Some(crate::macs_equal(&expected[..len], received))
    }

    /// The MESSAGE-INTEGRITY-SHA256 value length (16 to 32), if one counts.
    pub fn integrity_sha256_len(&self) -> Option<usize> {
        self.integrity_sha256
            .and_then(|at| be16(self.bytes, at + 2))
            .map(usize::from)
    }

    /// Feeds `mac` the message up to the attribute at `at`, with the header's Length field
    /// set to end after that attribute's `value_len`-byte value.
    fn feed_adjusted(&self, mac: &mut impl Mac, at: usize, value_len: usize) {
        // `at + 4 + value_len <= bytes.len() <= MAX_MESSAGE_LEN`, so the length fits 16 bits.
        let adjusted = (at + ATTR_HEADER_LEN + value_len - HEADER_LEN) as u16;
        // The first block with the Length adjusted, then the rest as it is: the rest starts
        // on a block boundary, so the hash compresses it in place instead of re-buffering it.
        let mut first = [0u8; 64];
        let head = at.min(first.len());
        first[..head].copy_from_slice(&self.bytes[..head]);
        first[2..4].copy_from_slice(&adjusted.to_be_bytes());
        mac.update(&first[..head]);
        mac.update(&self.bytes[head..at]);
    }

    /// Checks FINGERPRINT: the CRC-32 of the message before it (with the Length field as
    /// sent, which covers FINGERPRINT) XOR 0x5354554e; `None` if there is none.
    ///
    /// FINGERPRINT only tells STUN from other protocols on a shared port; it authenticates
    /// nothing.
    pub fn verify_fingerprint(&self) -> Option<bool> {
        let at = self.fingerprint?;
        let received = u32::from_be_bytes(
            self.bytes[at + ATTR_HEADER_LEN..at + ATTR_HEADER_LEN + FINGERPRINT_LEN]
                .try_into()
                .ok()?,
        );
        Some(crc32fast::hash(&self.bytes[..at]) ^ FINGERPRINT_XOR == received)
    }
}

/// The attributes that count in a [`Message`], in order; see [`Message::attributes`].
#[derive(Clone, Debug)]
pub struct Attributes<'a> {
    bytes: &'a [u8],
    at: usize,
    plain_end: usize,
    special: [Option<usize>; 3],
    next_special: usize,
}

impl<'a> Attributes<'a> {
    /// The attribute whose header starts at `at` and the offset after its padding.
    fn read(&self, at: usize) -> Option<(RawAttribute<'a>, usize)> {
        let attr_type = AttrType(be16(self.bytes, at)?);
        let len = usize::from(be16(self.bytes, at + 2)?);
        let value = self
            .bytes
            .get(at + ATTR_HEADER_LEN..at + ATTR_HEADER_LEN + len)?;
        Some((
            RawAttribute { attr_type, value },
            at + ATTR_HEADER_LEN + padded(len),
        ))
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = RawAttribute<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at < self.plain_end {
            let (attr, next) = self.read(self.at)?;
            self.at = next;
            return Some(attr);
        }
        while let Some(slot) = self.special.get(self.next_special) {
            self.next_special += 1;
            if let Some(at) = *slot {
                return self.read(at).map(|(attr, _)| attr);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header for `body`, with the given type and a fixed transaction ID.
    fn message(msg_type: u16, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&msg_type.to_be_bytes());
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(&[7; 12]);
        out.extend_from_slice(body);
        out
    }

    fn attr(t: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&t.to_be_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value);
        out.resize(padded(out.len()), 0);
        out
    }

    #[test]
    fn header_checks() {
        assert_eq!(
            Message::parse(&[0; 19]).unwrap_err(),
            ParseError::TooShort { len: 19, min: 20 }
        );
        let mut m = message(0x0001, &[]);
        assert!(Message::parse(&m).is_ok());
        m[0] = 0x40;
        assert_eq!(Message::parse(&m).unwrap_err(), ParseError::NotStun);
        let mut m = message(0x0001, &[]);
        m[7] ^= 1;
        assert_eq!(Message::parse(&m).unwrap_err(), ParseError::NotStun);
        let mut m = message(0x0001, &[0; 4]);
        m[3] = 2;
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::LengthNotMultipleOf4 { length: 2 }
        );
        m[3] = 8;
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::LengthMismatch {
                header: 8,
                actual: 4
            }
        );
    }

    #[test]
    fn class_method_and_id() {
        let m = message(0x0113, &[]);
        let m = Message::parse(&m).unwrap();
        assert_eq!(m.class(), Class::ErrorResponse);
        assert_eq!(m.method(), Method::ALLOCATE);
        assert_eq!(m.transaction_id(), TransactionId([7; 12]));
    }

    #[test]
    fn attribute_overrun_reports_where() {
        // A 5-byte value needs 8 bytes with padding; only 4 follow the header.
        let mut body = attr(0x0006, b"abcd");
        body[3] = 5;
        let m = message(0x0001, &body);
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::AttributeOverrun {
                at: 20,
                attr: AttrType::USERNAME,
                len: 5
            }
        );
    }

    #[test]
    fn special_attribute_lengths() {
        let m = message(0x0001, &attr(0x0008, &[0; 16]));
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::BadIntegrityLength { len: 16 }
        );
        for len in [0usize, 12, 18, 36] {
            let m = message(0x0001, &attr(0x001C, &vec![0; len]));
            assert_eq!(
                Message::parse(&m).unwrap_err(),
                ParseError::BadIntegritySha256Length { len: len as u16 }
            );
        }
        for len in [16usize, 20, 24, 28, 32] {
            let m = message(0x0001, &attr(0x001C, &vec![0; len]));
            assert_eq!(
                Message::parse(&m).unwrap().integrity_sha256_len(),
                Some(len)
            );
        }
        let m = message(0x0001, &attr(0x8028, &[0; 8]));
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::BadFingerprintLength { len: 8 }
        );
    }

    #[test]
    fn attributes_after_sha256_integrity_are_ignored_except_fingerprint() {
        let body = [
            attr(0x0006, b"user"),
            attr(0x001C, &[1; 32]),
            attr(0x0008, &[2; 20]), // after MI-SHA256: ignored, even MESSAGE-INTEGRITY
            attr(0x0014, b"evil"),
            attr(0x001C, &[3; 32]),
            attr(0x8028, &[0; 4]),
        ]
        .concat();
        let m = message(0x0001, &body);
        let m = Message::parse(&m).unwrap();
        let types: Vec<u16> = m.attributes().map(|a| a.attr_type.0).collect();
        assert_eq!(types, [0x0006, 0x001C, 0x8028]);
        assert!(!m.has_integrity());
        assert_eq!(
            m.get(AttrType::MESSAGE_INTEGRITY_SHA256),
            Some(&[1; 32][..])
        );
        assert_eq!(m.realm(), Ok(None));
    }

    #[test]
    fn get_all_and_lifetime() {
        let body = [
            attr(0x0012, &[0, 1, 0, 0, 1, 2, 3, 4]),
            attr(0x000D, &600u32.to_be_bytes()),
            attr(0x0012, &[0, 1, 0, 0, 5, 6, 7, 8]),
        ]
        .concat();
        let m = message(0x0008, &body);
        let m = Message::parse(&m).unwrap();
        assert_eq!(m.get_all(AttrType::XOR_PEER_ADDRESS).count(), 2);
        assert_eq!(m.lifetime(), Some(600));
        let m = message(0x0004, &attr(0x000D, &[0, 0, 2]));
        assert_eq!(Message::parse(&m).unwrap().lifetime(), None);
    }

    #[test]
    fn error_code_decoding() {
        let ok = message(0x0113, &attr(0x0009, b"\0\0\x04\x26Stale Nonce"));
        assert_eq!(
            Message::parse(&ok).unwrap().error_code(),
            Ok(Some((438, "Stale Nonce")))
        );
        // Reserved bits set are ignored.
        let reserved = message(0x0113, &attr(0x0009, b"\xff\xff\xfc\x01"));
        assert_eq!(
            Message::parse(&reserved).unwrap().error_code(),
            Ok(Some((401, "")))
        );
        let bad_class = message(0x0113, &attr(0x0009, b"\0\0\x07\x00"));
        assert_eq!(
            Message::parse(&bad_class).unwrap().error_code(),
            Err(AttributeError::BadErrorCode {
                class: 7,
                number: 0
            })
        );
        let bad_number = message(0x0113, &attr(0x0009, b"\0\0\x04\x64"));
        assert_eq!(
            Message::parse(&bad_number).unwrap().error_code(),
            Err(AttributeError::BadErrorCode {
                class: 4,
                number: 100
            })
        );
        let short = message(0x0113, &attr(0x0009, b"\0\0\x04"));
        assert_eq!(
            Message::parse(&short).unwrap().error_code(),
            Err(AttributeError::BadLength {
                attr: AttrType::ERROR_CODE,
                len: 3
            })
        );
    }

    #[test]
    fn password_algorithm_attributes() {
        let m = message(0x0003, &attr(0x001D, &[0, 2, 0, 0]));
        assert_eq!(
            Message::parse(&m).unwrap().password_algorithm(),
            Ok(Some((2, &[][..])))
        );
        let m = message(0x0003, &attr(0x001D, &[0, 2, 0, 0, 0, 1, 0, 0]));
        assert!(matches!(
            Message::parse(&m).unwrap().password_algorithm(),
            Err(AttributeError::Malformed { .. })
        ));
        let m = message(0x0113, &attr(0x8002, &[0, 2, 0, 0, 0, 1, 0, 0]));
        let algs: Vec<_> = Message::parse(&m)
            .unwrap()
            .password_algorithms()
            .unwrap()
            .unwrap()
            .map(|(a, _)| a)
            .collect();
        assert_eq!(algs, [2, 1]);
    }

    #[test]
    fn nonce_and_userhash_limits() {
        let m = message(0x0003, &attr(0x0015, &[b'n'; 128]));
        assert_eq!(
            Message::parse(&m).unwrap().nonce(),
            Err(AttributeError::TooManyChars {
                attr: AttrType::NONCE,
                chars: 128,
                max: 127
            })
        );
        let m = message(0x0003, &attr(0x0015, &[b'n'; 127]));
        assert_eq!(
            Message::parse(&m).unwrap().nonce(),
            Ok(Some(&[b'n'; 127][..]))
        );
        let m = message(0x0003, &attr(0x001E, &[0; 31]));
        assert_eq!(
            Message::parse(&m).unwrap().userhash(),
            Err(AttributeError::BadLength {
                attr: AttrType::USERHASH,
                len: 31
            })
        );
    }
}
