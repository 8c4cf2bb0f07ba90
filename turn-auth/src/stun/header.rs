//! The 20-byte STUN header: message type (method and class), length, magic cookie and
//! transaction ID (RFC 8489 §5).

use std::fmt;

/// The magic cookie every RFC 5389/8489 STUN message carries in bytes 4..8.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Length of the STUN header.
pub const HEADER_LEN: usize = 20;

/// The largest message [`Message::parse`](super::Message::parse) accepts and
/// [`MessageBuilder`](super::MessageBuilder) produces: the header plus the largest Length
/// field that is a multiple of 4 (65532), 65552 bytes.
///
/// This is a wire-format bound, not an operational one. Over UDP, RFC 8489 §6.1 asks senders
/// to stay under the path MTU (576 bytes when it is unknown); servers should size receive
/// buffers for the datagrams they are willing to handle and drop larger ones before parsing.
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + 0xFFFC;

/// A STUN method: the 12-bit operation a message performs (Binding, Allocate, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Method(u16);

impl Method {
    /// Binding (0x001), RFC 8489.
    pub const BINDING: Method = Method(0x001);
    /// Allocate (0x003), RFC 8656.
    pub const ALLOCATE: Method = Method(0x003);
    /// Refresh (0x004), RFC 8656.
    pub const REFRESH: Method = Method(0x004);
    /// Send (0x006, indications only), RFC 8656.
    pub const SEND: Method = Method(0x006);
    /// Data (0x007, indications only), RFC 8656.
    pub const DATA: Method = Method(0x007);
    /// CreatePermission (0x008), RFC 8656.
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// ChannelBind (0x009), RFC 8656.
    pub const CHANNEL_BIND: Method = Method(0x009);

    /// The method numbered `value`, or `None` if it does not fit in 12 bits.
    pub const fn new(value: u16) -> Option<Self> {
        if value <= 0x0FFF {
            Some(Method(value))
        } else {
            None
        }
    }

    /// The 12-bit method number.
    pub const fn value(self) -> u16 {
        self.0
    }

    /// The method's name as the RFCs spell it, if it is one of the constants above.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x001 => "Binding",
            0x003 => "Allocate",
            0x004 => "Refresh",
            0x006 => "Send",
            0x007 => "Data",
            0x008 => "CreatePermission",
            0x009 => "ChannelBind",
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "method {:#05x}", self.0),
        }
    }
}

/// The class of a STUN message, encoded in two bits of the message type.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Class {
    /// A request: expects a response.
    Request,
    /// An indication: no response.
    Indication,
    /// A success response.
    SuccessResponse,
    /// An error response (carries ERROR-CODE).
    ErrorResponse,
}

impl Class {
    const fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::SuccessResponse => 0b10,
            Class::ErrorResponse => 0b11,
        }
    }

    const fn from_bits(bits: u16) -> Self {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::SuccessResponse,
            _ => Class::ErrorResponse,
        }
    }
}

/// The 96-bit transaction ID that pairs a response with its request.
///
/// Requests need a fresh, cryptographically random ID (RFC 8489 §6); responses copy the
/// request's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TransactionId(pub [u8; 12]);

/// The 14-bit message type for `class` and `method` (RFC 8489 §5, Figure 3): the class bits
/// C1 and C0 sit at bits 8 and 4, between the method bits.
pub(crate) const fn message_type(class: Class, method: Method) -> u16 {
    let m = method.0;
    let c = class.bits();
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0b01) << 4) | ((c & 0b10) << 7)
}

/// The class and method of the message type `t` (its top two bits are ignored).
pub(crate) const fn split_message_type(t: u16) -> (Class, Method) {
    let method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2);
    let class = ((t >> 4) & 0b01) | ((t >> 7) & 0b10);
    (Class::from_bits(class), Method(method))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [Class; 4] = [
        Class::Request,
        Class::Indication,
        Class::SuccessResponse,
        Class::ErrorResponse,
    ];

    #[test]
    fn known_message_types() {
        assert_eq!(message_type(Class::Request, Method::BINDING), 0x0001);
        assert_eq!(
            message_type(Class::SuccessResponse, Method::BINDING),
            0x0101
        );
        assert_eq!(message_type(Class::ErrorResponse, Method::BINDING), 0x0111);
        assert_eq!(message_type(Class::Request, Method::ALLOCATE), 0x0003);
        assert_eq!(message_type(Class::ErrorResponse, Method::ALLOCATE), 0x0113);
        assert_eq!(message_type(Class::Indication, Method::SEND), 0x0016);
        assert_eq!(message_type(Class::Indication, Method::DATA), 0x0017);
        assert_eq!(
            message_type(Class::SuccessResponse, Method::REFRESH),
            0x0104
        );
        assert_eq!(message_type(Class::Request, Method::CHANNEL_BIND), 0x0009);
    }

    #[test]
    fn every_method_and_class_round_trips() {
        for m in 0..=0x0FFF {
            let method = Method::new(m).unwrap();
            for class in CLASSES {
                let t = message_type(class, method);
                assert_eq!(t & 0xC000, 0, "top bits must stay clear");
                assert_eq!(split_message_type(t), (class, method));
            }
        }
        assert_eq!(Method::new(0x1000), None);
    }

    #[test]
    fn method_display() {
        assert_eq!(Method::ALLOCATE.to_string(), "Allocate");
        assert_eq!(Method::new(0x0ABC).unwrap().to_string(), "method 0xabc");
    }
}
