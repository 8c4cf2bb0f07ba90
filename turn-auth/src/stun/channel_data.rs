//! TURN ChannelData messages (RFC 8656 §12.4): a 4-byte header (channel number, length)
//! followed by application data, sent instead of Send/Data indications once a channel is
//! bound.

use std::ops::RangeInclusive;

use super::attribute::{be16, padded};
use super::error::ParseError;

/// The channel numbers a server accepts: 0x4000 through 0x7FFF.
///
/// RFC 8656 §12 narrowed the numbers clients pick to 0x4000–0x4FFF, but RFC 5766 allowed up
/// to 0x7FFF and deployed clients still use that range (coturn's `turnutils_uclient` binds
/// numbers such as 0x7110; webrtc-rs, pion and restund use 0x7FFF as the bound), so a server
/// accepts it. It is exactly the set of values whose first two bits are `01`.
pub const CHANNEL_NUMBERS: RangeInclusive<u16> = 0x4000..=0x7FFF;

/// Length of the ChannelData header.
const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// Whether `bytes` starts like a ChannelData message: at least 4 bytes, and first two bits
/// `01` (STUN messages start with `00`). [`ChannelData::parse`] does the full validation.
pub fn is_channel_data(bytes: &[u8]) -> bool {
    bytes.len() >= CHANNEL_DATA_HEADER_LEN && bytes[0] & 0xC0 == 0x40
}

/// A zero-copy view of one ChannelData message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChannelData<'a> {
    /// The channel number, in [`CHANNEL_NUMBERS`].
    pub channel: u16,
    /// The application data, without padding.
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// Parses one ChannelData message: a whole UDP datagram, or one frame of a stream.
    ///
    /// The data is as long as the Length field says. Up to 3 bytes after it are accepted as
    /// padding: RFC 8656 §12.5 requires padding to a multiple of 4 over TCP and TLS, and over
    /// UDP allows it without requiring it. More trailing bytes are an error.
    ///
    /// # Errors
    ///
    /// [`ParseError::TooShort`] below 4 bytes, [`ParseError::NotChannelData`] when the first two
    /// bits are not `01` (the channel number is outside [`CHANNEL_NUMBERS`]), and
    /// [`ParseError::ChannelDataLengthMismatch`] when the data is shorter than the Length field
    /// says or followed by more than 3 bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let (Some(channel), Some(length)) = (be16(bytes, 0), be16(bytes, 2)) else {
            return Err(ParseError::TooShort {
                len: bytes.len(),
                min: CHANNEL_DATA_HEADER_LEN,
            });
        };
        if !is_channel_data(bytes) {
            return Err(ParseError::NotChannelData);
        }
        let available = bytes.len() - CHANNEL_DATA_HEADER_LEN;
        let len = usize::from(length);
        if available < len || available > padded(len) {
            return Err(ParseError::ChannelDataLengthMismatch { length, available });
        }
        Ok(ChannelData {
            channel,
            data: &bytes[CHANNEL_DATA_HEADER_LEN..CHANNEL_DATA_HEADER_LEN + len],
        })
    }
}

/// Encodes a ChannelData message for `channel` carrying `data`, padded with zeros to a
/// multiple of 4.
///
/// The padding is required over TCP and TLS and harmless over UDP (receivers must accept it);
/// coturn pads over every transport too. `None` when `channel` is outside
/// [`CHANNEL_NUMBERS`] or `data` is longer than 65535 bytes (the Length field is 16 bits).
pub fn encode_channel_data(channel: u16, data: &[u8]) -> Option<Vec<u8>> {
    if !CHANNEL_NUMBERS.contains(&channel) {
        return None;
    }
    let length = u16::try_from(data.len()).ok()?;
    let mut out = Vec::with_capacity(CHANNEL_DATA_HEADER_LEN + padded(data.len()));
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(data);
    out.resize(CHANNEL_DATA_HEADER_LEN + padded(data.len()), 0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_with_and_without_padding() {
        let padded = encode_channel_data(0x4001, b"hello").unwrap();
        assert_eq!(padded, b"\x40\x01\x00\x05hello\0\0\0");
        let expected = ChannelData {
            channel: 0x4001,
            data: b"hello",
        };
        assert_eq!(ChannelData::parse(&padded), Ok(expected));
        assert_eq!(ChannelData::parse(&padded[..9]), Ok(expected));
        assert_eq!(ChannelData::parse(&padded[..10]), Ok(expected));
    }

    #[test]
    fn bad_channel_data() {
        assert_eq!(
            ChannelData::parse(b"\x40\x01\x00"),
            Err(ParseError::TooShort { len: 3, min: 4 })
        );
        assert_eq!(
            ChannelData::parse(b"\x00\x01\x00\x00"),
            Err(ParseError::NotChannelData)
        );
        assert_eq!(
            ChannelData::parse(b"\x71\x10\x00\x00").map(|c| c.channel),
            Ok(0x7110),
            "RFC 5766 numbers that deployed clients use"
        );
        assert_eq!(
            ChannelData::parse(b"\x80\x00\x00\x00"),
            Err(ParseError::NotChannelData)
        );
        assert_eq!(encode_channel_data(0x3FFF, b"x"), None);
        assert_eq!(encode_channel_data(0x8000, b"x"), None);
        assert_eq!(encode_channel_data(0x7FFF, &[0; 65_536]), None);
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x05abcd"),
            Err(ParseError::ChannelDataLengthMismatch {
                length: 5,
                available: 4
            })
        );
        assert_eq!(
            ChannelData::parse(b"\x40\x00\x00\x01abcde"),
            Err(ParseError::ChannelDataLengthMismatch {
                length: 1,
                available: 5
            })
        );
        assert!(!is_channel_data(b"\x40\x00\x00"));
        assert!(is_channel_data(b"\x7f\xff\x00\x00"));
        assert!(!is_channel_data(b"\x80\x00\x00\x00"));
    }

    proptest! {
        #[test]
        fn channel_data_round_trips(
            channel in CHANNEL_NUMBERS,
            data in prop::collection::vec(any::<u8>(), 0..300),
            strip in 0usize..4,
        ) {
            let encoded = encode_channel_data(channel, &data).unwrap();
            prop_assert_eq!(encoded.len() % 4, 0);
            // Any amount of the padding may be missing over UDP.
            let keep = encoded.len() - strip.min(encoded.len() - 4 - data.len());
            let parsed = ChannelData::parse(&encoded[..keep]).unwrap();
            prop_assert_eq!(parsed.channel, channel);
            prop_assert_eq!(parsed.data, &data[..]);
        }

        #[test]
        fn channel_data_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
            let _ = ChannelData::parse(&bytes);
        }
    }
}
