//! Attribute types, raw attributes, and the value encodings shared by the parser and the
//! builder: XOR addresses, password-algorithm lists, and text limits.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::AttributeError;
use super::header::{MAGIC_COOKIE, TransactionId};

/// A STUN attribute type.
///
/// Types below 0x8000 are *comprehension-required*: an agent that does not understand one
/// must reject the message (420 Unknown Attribute); the others may be ignored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AttrType(pub u16);

impl AttrType {
    /// MAPPED-ADDRESS (0x0001), RFC 8489 §14.1.
    pub const MAPPED_ADDRESS: AttrType = AttrType(0x0001);
    /// USERNAME (0x0006), RFC 8489 §14.3.
    pub const USERNAME: AttrType = AttrType(0x0006);
    /// MESSAGE-INTEGRITY (0x0008), RFC 8489 §14.5.
    pub const MESSAGE_INTEGRITY: AttrType = AttrType(0x0008);
    /// ERROR-CODE (0x0009), RFC 8489 §14.8.
    pub const ERROR_CODE: AttrType = AttrType(0x0009);
    /// UNKNOWN-ATTRIBUTES (0x000A), RFC 8489 §14.13.
    pub const UNKNOWN_ATTRIBUTES: AttrType = AttrType(0x000A);
    /// CHANNEL-NUMBER (0x000C), RFC 8656 §18.1.
    pub const CHANNEL_NUMBER: AttrType = AttrType(0x000C);
    /// LIFETIME (0x000D), RFC 8656 §18.2.
    pub const LIFETIME: AttrType = AttrType(0x000D);
    /// XOR-PEER-ADDRESS (0x0012), RFC 8656 §18.3.
    pub const XOR_PEER_ADDRESS: AttrType = AttrType(0x0012);
    /// DATA (0x0013), RFC 8656 §18.4.
    pub const DATA: AttrType = AttrType(0x0013);
    /// REALM (0x0014), RFC 8489 §14.9.
    pub const REALM: AttrType = AttrType(0x0014);
    /// NONCE (0x0015), RFC 8489 §14.10.
    pub const NONCE: AttrType = AttrType(0x0015);
    /// XOR-RELAYED-ADDRESS (0x0016), RFC 8656 §18.5.
    pub const XOR_RELAYED_ADDRESS: AttrType = AttrType(0x0016);
    /// REQUESTED-ADDRESS-FAMILY (0x0017), RFC 8656 §18.6.
    pub const REQUESTED_ADDRESS_FAMILY: AttrType = AttrType(0x0017);
    /// EVEN-PORT (0x0018), RFC 8656 §18.7.
    pub const EVEN_PORT: AttrType = AttrType(0x0018);
    /// REQUESTED-TRANSPORT (0x0019), RFC 8656 §18.8.
    pub const REQUESTED_TRANSPORT: AttrType = AttrType(0x0019);
    /// DONT-FRAGMENT (0x001A), RFC 8656 §18.9.
    pub const DONT_FRAGMENT: AttrType = AttrType(0x001A);
    /// MESSAGE-INTEGRITY-SHA256 (0x001C), RFC 8489 §14.6.
    pub const MESSAGE_INTEGRITY_SHA256: AttrType = AttrType(0x001C);
    /// PASSWORD-ALGORITHM (0x001D), RFC 8489 §14.12.
    pub const PASSWORD_ALGORITHM: AttrType = AttrType(0x001D);
    /// USERHASH (0x001E), RFC 8489 §14.4.
    pub const USERHASH: AttrType = AttrType(0x001E);
    /// XOR-MAPPED-ADDRESS (0x0020), RFC 8489 §14.2.
    pub const XOR_MAPPED_ADDRESS: AttrType = AttrType(0x0020);
    /// RESERVATION-TOKEN (0x0022), RFC 8656 §18.10.
    pub const RESERVATION_TOKEN: AttrType = AttrType(0x0022);
    /// ADDITIONAL-ADDRESS-FAMILY (0x8000), RFC 8656 §18.11.
    pub const ADDITIONAL_ADDRESS_FAMILY: AttrType = AttrType(0x8000);
    /// ADDRESS-ERROR-CODE (0x8001), RFC 8656 §18.12.
    pub const ADDRESS_ERROR_CODE: AttrType = AttrType(0x8001);
    /// PASSWORD-ALGORITHMS (0x8002), RFC 8489 §14.11.
    pub const PASSWORD_ALGORITHMS: AttrType = AttrType(0x8002);
    /// ALTERNATE-DOMAIN (0x8003), RFC 8489 §14.16.
    pub const ALTERNATE_DOMAIN: AttrType = AttrType(0x8003);
    /// ICMP (0x8004), RFC 8656 §18.13.
    pub const ICMP: AttrType = AttrType(0x8004);
    /// SOFTWARE (0x8022), RFC 8489 §14.14.
    pub const SOFTWARE: AttrType = AttrType(0x8022);
    /// ALTERNATE-SERVER (0x8023), RFC 8489 §14.15.
    pub const ALTERNATE_SERVER: AttrType = AttrType(0x8023);
    /// FINGERPRINT (0x8028), RFC 8489 §14.7.
    pub const FINGERPRINT: AttrType = AttrType(0x8028);

    /// Whether the type is in the comprehension-required range (below 0x8000).
    pub const fn is_comprehension_required(self) -> bool {
        self.0 < 0x8000
    }

    /// The attribute's name as the RFCs spell it, if it is one of the constants above.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0001 => "MAPPED-ADDRESS",
            0x0006 => "USERNAME",
            0x0008 => "MESSAGE-INTEGRITY",
            0x0009 => "ERROR-CODE",
            0x000A => "UNKNOWN-ATTRIBUTES",
            0x000C => "CHANNEL-NUMBER",
            0x000D => "LIFETIME",
            0x0012 => "XOR-PEER-ADDRESS",
            0x0013 => "DATA",
            0x0014 => "REALM",
            0x0015 => "NONCE",
            0x0016 => "XOR-RELAYED-ADDRESS",
            0x0017 => "REQUESTED-ADDRESS-FAMILY",
            0x0018 => "EVEN-PORT",
            0x0019 => "REQUESTED-TRANSPORT",
            0x001A => "DONT-FRAGMENT",
            0x001C => "MESSAGE-INTEGRITY-SHA256",
            0x001D => "PASSWORD-ALGORITHM",
            0x001E => "USERHASH",
            0x0020 => "XOR-MAPPED-ADDRESS",
            0x0022 => "RESERVATION-TOKEN",
            0x8000 => "ADDITIONAL-ADDRESS-FAMILY",
            0x8001 => "ADDRESS-ERROR-CODE",
            0x8002 => "PASSWORD-ALGORITHMS",
            0x8003 => "ALTERNATE-DOMAIN",
            0x8004 => "ICMP",
            0x8022 => "SOFTWARE",
            0x8023 => "ALTERNATE-SERVER",
            0x8028 => "FINGERPRINT",
            _ => return None,
        })
    }
}

impl fmt::Display for AttrType {
    /// The name and number (`USERNAME (0x0006)`), or only the number for unnamed types.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#06x})", self.0),
            None => write!(f, "attribute {:#06x}", self.0),
        }
    }
}

/// A password algorithm this crate implements (RFC 8489 §18.5).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum PasswordAlgorithm {
    /// MD5 (wire value 1): the RFC 5389 key, `MD5(username ":" realm ":" password)`.
    Md5,
    /// SHA-256 (wire value 2): `SHA-256(username ":" realm ":" password)`.
    Sha256,
}

impl PasswordAlgorithm {
    /// The algorithm with wire number `value`, or `None` for a number this crate does not
    /// implement (including the reserved 0).
    pub const fn from_wire(value: u16) -> Option<Self> {
        match value {
            1 => Some(PasswordAlgorithm::Md5),
            2 => Some(PasswordAlgorithm::Sha256),
            _ => None,
        }
    }

    /// The algorithm's wire number.
    pub const fn wire(self) -> u16 {
        match self {
            PasswordAlgorithm::Md5 => 1,
            PasswordAlgorithm::Sha256 => 2,
        }
    }
}

/// A password algorithm number as received: possibly one this crate does not implement.
/// [`PasswordAlgorithm::from_wire`] maps it to a known algorithm.
pub type PasswordAlgorithmValue = u16;

/// One attribute as it appears on the wire: its type and its value without padding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RawAttribute<'a> {
    /// The attribute's type.
    pub attr_type: AttrType,
    /// The value, without padding.
    pub value: &'a [u8],
}

/// The longest text value RFC 8489 requires receivers to accept in USERNAME, REALM, NONCE,
/// SOFTWARE and the ERROR-CODE reason: 763 bytes ("as long as 763 bytes when decoding").
pub const MAX_TEXT_LEN: usize = 763;

/// The most characters REALM, NONCE, SOFTWARE and an ERROR-CODE reason may have ("fewer
/// than 128 characters").
pub const MAX_TEXT_CHARS: usize = 127;

/// `len` rounded up to a multiple of 4.
pub(crate) const fn padded(len: usize) -> usize {
    (len + 3) & !3
}

pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// The number of characters in `bytes`, counting every byte that does not continue a UTF-8
/// sequence: exact for UTF-8, and a byte count for anything else.
pub(crate) fn char_count(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .filter(|&&b| !(0x80..0xC0).contains(&b))
        .count()
}

/// `value` as UTF-8 text of at most [`MAX_TEXT_LEN`] bytes and, when `max_chars` is given,
/// at most that many characters.
pub(crate) fn text(
    attr: AttrType,
    value: &[u8],
    max_chars: Option<usize>,
) -> Result<&str, AttributeError> {
    if value.len() > MAX_TEXT_LEN {
        return Err(AttributeError::TooLong {
            attr,
            len: value.len(),
            max: MAX_TEXT_LEN,
        });
    }
    let text = std::str::from_utf8(value).map_err(|_| AttributeError::NotUtf8 { attr })?;
    if let Some(max) = max_chars {
        let chars = text.chars().count();
        if chars > max {
            return Err(AttributeError::TooManyChars { attr, chars, max });
        }
    }
    Ok(text)
}

/// Decodes an XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS or XOR-RELAYED-ADDRESS value (RFC 8489
/// §14.2): the port is XORed with the top 16 bits of the magic cookie, an IPv4 address with
/// the cookie, an IPv6 address with the cookie followed by `transaction_id`.
///
/// The first byte (reserved) is ignored, as receivers must. IPv6 results have a zero flow
/// label and scope ID.
///
/// # Errors
///
/// [`AttributeError::BadAddressFamily`] for a family other than 0x01/0x02, and
/// [`AttributeError::BadAddressLength`] when the value is not exactly 8 (IPv4) or 20 (IPv6)
/// bytes.
pub fn decode_xor_address(
    value: &[u8],
    transaction_id: &TransactionId,
) -> Result<SocketAddr, AttributeError> {
    let family = value.get(1).copied().unwrap_or(0);
    let bad_length = AttributeError::BadAddressLength {
        family,
        len: value.len(),
    };
    let Some(x_port) = be16(value, 2) else {
        return Err(bad_length);
    };
    let port = x_port ^ (MAGIC_COOKIE >> 16) as u16;
    let ip = match family {
        0x01 => {
            let x: [u8; 4] = value
                .get(4..)
                .and_then(|v| v.try_into().ok())
                .ok_or(bad_length)?;
            IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes(x) ^ MAGIC_COOKIE))
        }
        0x02 => {
            let x: [u8; 16] = value
                .get(4..)
                .and_then(|v| v.try_into().ok())
                .ok_or(bad_length)?;
            let mut ip = xor_pad(transaction_id);
            ip.iter_mut().zip(x).for_each(|(a, b)| *a ^= b);
            IpAddr::V6(Ipv6Addr::from(ip))
        }
        family => return Err(AttributeError::BadAddressFamily { family }),
    };
    Ok(SocketAddr::new(ip, port))
}

/// The value of an XOR-…-ADDRESS attribute for `addr`: up to 20 bytes and the length used.
pub(crate) fn encode_xor_address(
    addr: SocketAddr,
    transaction_id: &TransactionId,
) -> ([u8; 20], usize) {
    let mut out = [0u8; 20];
    let x_port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
    out[2..4].copy_from_slice(&x_port.to_be_bytes());
    match addr.ip() {
        IpAddr::V4(ip) => {
            out[1] = 0x01;
            out[4..8].copy_from_slice(&(u32::from(ip) ^ MAGIC_COOKIE).to_be_bytes());
            (out, 8)
        }
        IpAddr::V6(ip) => {
            out[1] = 0x02;
            let pad = xor_pad(transaction_id);
            for (i, (a, b)) in ip.octets().iter().zip(pad).enumerate() {
                out[4 + i] = a ^ b;
            }
            (out, 20)
        }
    }
}

/// The magic cookie followed by the transaction ID: what IPv6 addresses are XORed with.
fn xor_pad(transaction_id: &TransactionId) -> [u8; 16] {
    let mut pad = [0u8; 16];
    pad[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    pad[4..].copy_from_slice(&transaction_id.0);
    pad
}

/// The entries of a PASSWORD-ALGORITHMS value: `(algorithm number, parameters)` pairs.
///
/// Returned by [`Message::password_algorithms`](super::Message::password_algorithms) only
/// after the whole list has been checked, so iteration cannot fail.
#[derive(Clone, Debug)]
pub struct PasswordAlgorithmsIter<'a> {
    rest: &'a [u8],
}

impl<'a> PasswordAlgorithmsIter<'a> {
    /// Checks the whole list, then returns an iterator over it.
    pub(crate) fn new(value: &'a [u8]) -> Result<Self, AttributeError> {
        let mut check = PasswordAlgorithmsIter { rest: value };
        while !check.rest.is_empty() {
            check.step().ok_or(AttributeError::Malformed {
                attr: AttrType::PASSWORD_ALGORITHMS,
                what: "an entry's parameters run past the end of the value",
            })?;
        }
        Ok(PasswordAlgorithmsIter { rest: value })
    }

    fn step(&mut self) -> Option<(PasswordAlgorithmValue, &'a [u8])> {
        let (algorithm, params, used) = algorithm_entry(self.rest)?;
        self.rest = self.rest.get(used..).unwrap_or_default();
        Some((algorithm, params))
    }
}

impl<'a> Iterator for PasswordAlgorithmsIter<'a> {
    type Item = (PasswordAlgorithmValue, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.step()
    }
}

/// The first `algorithm, length, parameters, padding` entry of `bytes`: its number, its
/// parameters and how many bytes it uses. The padding may be missing on the last entry
/// (where it coincides with the attribute's own padding).
pub(crate) fn algorithm_entry(bytes: &[u8]) -> Option<(PasswordAlgorithmValue, &[u8], usize)> {
    let algorithm = be16(bytes, 0)?;
    let len = usize::from(be16(bytes, 2)?);
    let params = bytes.get(4..4 + len)?;
    let used = (4 + padded(len)).min(bytes.len());
    Some((algorithm, params, used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TXID: TransactionId = TransactionId([
        0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
    ]);

    #[test]
    fn xor_addresses_from_rfc_5769() {
        let v4 = [0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];
        assert_eq!(
            decode_xor_address(&v4, &TXID).unwrap(),
            "192.0.2.1:32853".parse().unwrap()
        );
        let (encoded, len) = encode_xor_address("192.0.2.1:32853".parse().unwrap(), &TXID);
        assert_eq!(&encoded[..len], &v4);
    }

    #[test]
    fn bad_xor_addresses() {
        assert_eq!(
            decode_xor_address(&[0, 3, 0, 0, 0, 0, 0, 0], &TXID),
            Err(AttributeError::BadAddressFamily { family: 3 })
        );
        assert_eq!(
            decode_xor_address(&[0, 1, 0, 0, 0, 0, 0], &TXID),
            Err(AttributeError::BadAddressLength { family: 1, len: 7 })
        );
        assert_eq!(
            decode_xor_address(&[0, 2, 0, 0, 0, 0, 0, 0], &TXID),
            Err(AttributeError::BadAddressLength { family: 2, len: 8 })
        );
        assert_eq!(
            decode_xor_address(&[], &TXID),
            Err(AttributeError::BadAddressLength { family: 0, len: 0 })
        );
        // The reserved first byte is ignored.
        let v4 = [0xff, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43];
        assert!(decode_xor_address(&v4, &TXID).is_ok());
    }

    #[test]
    fn attr_type_names_and_ranges() {
        assert_eq!(AttrType::USERNAME.to_string(), "USERNAME (0x0006)");
        assert_eq!(AttrType(0x0024).to_string(), "attribute 0x0024");
        assert!(AttrType::MESSAGE_INTEGRITY_SHA256.is_comprehension_required());
        assert!(AttrType(0x7fff).is_comprehension_required());
        assert!(!AttrType::ADDITIONAL_ADDRESS_FAMILY.is_comprehension_required());
        assert!(!AttrType::FINGERPRINT.is_comprehension_required());
    }

    #[test]
    fn password_algorithm_wire_values() {
        for alg in [PasswordAlgorithm::Md5, PasswordAlgorithm::Sha256] {
            assert_eq!(PasswordAlgorithm::from_wire(alg.wire()), Some(alg));
        }
        assert_eq!(PasswordAlgorithm::Md5.wire(), 1);
        assert_eq!(PasswordAlgorithm::Sha256.wire(), 2);
        assert_eq!(PasswordAlgorithm::from_wire(0), None);
        assert_eq!(PasswordAlgorithm::from_wire(3), None);
    }

    #[test]
    fn password_algorithm_lists() {
        // MD5 without parameters, then algorithm 9 with 3 parameter bytes padded to 4.
        let value = [0, 1, 0, 0, 0, 9, 0, 3, 7, 8, 9, 0];
        let entries: Vec<_> = PasswordAlgorithmsIter::new(&value).unwrap().collect();
        assert_eq!(entries, vec![(1, &[][..]), (9, &[7, 8, 9][..])]);
        // The last entry's padding may be left to the attribute's own padding.
        let entries: Vec<_> = PasswordAlgorithmsIter::new(&value[..11]).unwrap().collect();
        assert_eq!(entries, vec![(1, &[][..]), (9, &[7, 8, 9][..])]);
        // A parameter length past the end, or a dangling half entry, is malformed.
        assert!(PasswordAlgorithmsIter::new(&[0, 1, 0, 5, 1, 2]).is_err());
        assert!(PasswordAlgorithmsIter::new(&[0, 1, 0, 0, 0, 2]).is_err());
        assert_eq!(PasswordAlgorithmsIter::new(&[]).unwrap().count(), 0);
    }

    #[test]
    fn text_limits() {
        let attr = AttrType::REALM;
        assert_eq!(text(attr, b"example.org", Some(127)), Ok("example.org"));
        let long = "é".repeat(128);
        assert_eq!(
            text(attr, long.as_bytes(), Some(127)),
            Err(AttributeError::TooManyChars {
                attr,
                chars: 128,
                max: 127
            })
        );
        assert!(text(attr, long.as_bytes(), None).is_ok());
        assert_eq!(
            text(attr, &[b'a'; 764], None),
            Err(AttributeError::TooLong {
                attr,
                len: 764,
                max: 763
            })
        );
        assert_eq!(
            text(attr, b"\xff", None),
            Err(AttributeError::NotUtf8 { attr })
        );
        assert_eq!(char_count("aé€😀".as_bytes()), 4);
        assert_eq!(char_count(b"\xff\xfe"), 2);
    }

    proptest! {
        #[test]
        fn xor_address_round_trips(addr in any::<SocketAddr>(), txid in any::<[u8; 12]>()) {
            let txid = TransactionId(txid);
            let (value, len) = encode_xor_address(addr, &txid);
            let decoded = decode_xor_address(&value[..len], &txid).unwrap();
            prop_assert_eq!(decoded.ip(), addr.ip());
            prop_assert_eq!(decoded.port(), addr.port());
        }
    }
}
