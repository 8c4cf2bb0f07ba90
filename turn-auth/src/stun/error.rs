//! Why bytes are not an acceptable STUN or ChannelData message, why an attribute's value is
//! unusable, and why an attribute cannot be added to a message.

use super::attribute::AttrType;

/// Why bytes are not a well-formed STUN message ([`Message::parse`]) or ChannelData message
/// ([`ChannelData::parse`]).
///
/// None of these errors can be answered with a STUN error response that a client would trust
/// (the transaction ID may be garbage), so servers usually drop such datagrams silently.
///
/// [`Message::parse`]: super::Message::parse
/// [`ChannelData::parse`]: super::ChannelData::parse
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the fixed header.
    #[error("{len} bytes is too short: a message needs at least {min}")]
    TooShort {
        /// The number of bytes given.
        len: usize,
        /// The minimum: [`HEADER_LEN`](super::HEADER_LEN) for STUN, 4 for ChannelData.
        min: usize,
    },
    /// The two most significant bits are not zero, or the magic cookie is wrong: this is not
    /// an RFC 5389/8489 STUN message (it may be ChannelData, RTP, DTLS or an RFC 3489 message).
    #[error("not a STUN message: the first two bits must be 0 and the magic cookie 0x2112A442")]
    NotStun,
    /// The header's Length field is not a multiple of 4, which every STUN message's is.
    #[error("the STUN header length {length} is not a multiple of 4")]
    LengthNotMultipleOf4 {
        /// The Length field.
        length: u16,
    },
    /// The header's Length field does not match the number of bytes after the header.
    #[error("the STUN header says {header} bytes follow it, but {actual} do")]
    LengthMismatch {
        /// The Length field.
        header: usize,
        /// The number of bytes after the 20-byte header.
        actual: usize,
    },
    /// An attribute (with its padding) runs past the end of the message.
    #[error("the attribute {attr} at byte {at} claims {len} bytes, past the end of the message")]
    AttributeOverrun {
        /// Byte offset of the attribute's header in the message.
        at: usize,
        /// The attribute's type.
        attr: AttrType,
        /// Its Length field.
        len: u16,
    },
    /// An attribute follows FINGERPRINT, which must be the last attribute (RFC 8489 §14.7).
    #[error("FINGERPRINT at byte {at} is not the last attribute")]
    FingerprintNotLast {
        /// Byte offset of the FINGERPRINT attribute.
        at: usize,
    },
    /// A MESSAGE-INTEGRITY whose value is not 20 bytes (the HMAC-SHA1 size).
    #[error("MESSAGE-INTEGRITY is {len} bytes long; it must be 20")]
    BadIntegrityLength {
        /// The attribute's Length field.
        len: u16,
    },
    /// A MESSAGE-INTEGRITY-SHA256 whose value is not 16 to 32 bytes in steps of 4.
    #[error("MESSAGE-INTEGRITY-SHA256 is {len} bytes long; it must be 16, 20, 24, 28 or 32")]
    BadIntegritySha256Length {
        /// The attribute's Length field.
        len: u16,
    },
    /// A FINGERPRINT whose value is not 4 bytes.
    #[error("FINGERPRINT is {len} bytes long; it must be 4")]
    BadFingerprintLength {
        /// The attribute's Length field.
        len: u16,
    },
    /// The first two bits are not `01`: this is not a ChannelData message.
    #[error("not a ChannelData message: the first two bits must be 01")]
    NotChannelData,
    /// The ChannelData Length field does not fit the bytes given: more than were received,
    /// or fewer than received minus at most 3 bytes of padding.
    #[error("the ChannelData length {length} does not fit the {available} bytes after its header")]
    ChannelDataLengthMismatch {
        /// The Length field.
        length: u16,
        /// The number of bytes after the 4-byte header.
        available: usize,
    },
}

/// Why a present attribute's value is unusable (the message itself is well-formed).
///
/// A server answers these with 400 Bad Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttributeError {
    /// The value is longer than the RFC allows a receiver to accept.
    #[error("{attr} is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// The attribute's type.
        attr: AttrType,
        /// The value's length in bytes.
        len: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// The value has more characters than the RFC allows ("fewer than 128 characters").
    #[error("{attr} has {chars} characters; at most {max} are allowed")]
    TooManyChars {
        /// The attribute's type.
        attr: AttrType,
        /// The number of characters found.
        chars: usize,
        /// The maximum allowed.
        max: usize,
    },
    /// The value must be UTF-8 text and is not.
    #[error("{attr} is not valid UTF-8")]
    NotUtf8 {
        /// The attribute's type.
        attr: AttrType,
    },
    /// The value's length is not one the attribute can have.
    #[error("{attr} has an invalid length of {len} bytes")]
    BadLength {
        /// The attribute's type.
        attr: AttrType,
        /// The value's length in bytes.
        len: usize,
    },
    /// The value's internal structure is broken (for example a PASSWORD-ALGORITHMS entry whose
    /// parameter length runs past the value).
    #[error("{attr} is malformed: {what}")]
    Malformed {
        /// The attribute's type.
        attr: AttrType,
        /// What is wrong.
        what: &'static str,
    },
    /// An ERROR-CODE whose class is not 3 to 6 or whose number is not below 100.
    #[error("ERROR-CODE has class {class} and number {number}; class must be 3-6, number 0-99")]
    BadErrorCode {
        /// The Class field (the hundreds digit).
        class: u8,
        /// The Number field (the code modulo 100).
        number: u8,
    },
    /// An address attribute whose family is neither 0x01 (IPv4) nor 0x02 (IPv6).
    #[error("address family {family:#04x} is neither IPv4 (0x01) nor IPv6 (0x02)")]
    BadAddressFamily {
        /// The Family field.
        family: u8,
    },
    /// An address attribute whose length does not match its family (8 bytes for IPv4, 20 for
    /// IPv6).
    #[error("an address of family {family:#04x} cannot be {len} bytes long")]
    BadAddressLength {
        /// The Family field (0 when the value is too short to hold one).
        family: u8,
        /// The value's length in bytes.
        len: usize,
    },
}

/// Why [`MessageBuilder::try_attribute`](super::MessageBuilder::try_attribute) could not add
/// an attribute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The value is longer than the 16-bit Length field can say.
    #[error("a {len}-byte value does not fit an attribute (at most 65535 bytes)")]
    ValueTooLong {
        /// The value's length in bytes.
        len: usize,
    },
    /// The message would exceed [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
    #[error("the message would be {len} bytes long; at most {max} fit the header's length field")]
    MessageTooLong {
        /// The length the message would have.
        len: usize,
        /// [`MAX_MESSAGE_LEN`](super::MAX_MESSAGE_LEN).
        max: usize,
    },
}
