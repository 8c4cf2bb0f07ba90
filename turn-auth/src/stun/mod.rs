//! The STUN message layer (RFC 8489) with the TURN additions (RFC 8656) that an
//! authenticator and a TURN server need: a zero-copy parser, MESSAGE-INTEGRITY(-SHA256) and
//! FINGERPRINT checks that neither copy nor allocate, a builder for responses, and
//! ChannelData framing.
//!
//! ```
//! use std::net::SocketAddr;
//! use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
//!
//! // A client's Allocate request with long-term credentials.
//! let key = [0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, // MD5("user:realm:pass")
//!            0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb];
//! let request = MessageBuilder::new(Class::Request, Method::ALLOCATE, TransactionId([7; 12]))
//!     .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
//!     .username("user")
//!     .realm("realm")
//!     .nonce(b"obMatJos2AAAAnonce")
//!     .message_integrity(&key)
//!     .fingerprint()
//!     .build();
//!
//! // The server's view of it: one pass over the datagram, no copies.
//! let message = Message::parse(&request)?;
//! assert_eq!(message.method(), Method::ALLOCATE);
//! assert_eq!(message.username()?, Some("user"));
//! assert_eq!(message.realm()?, Some("realm"));
//! assert_eq!(message.verify_integrity(&key), Some(true));
//! assert_eq!(message.verify_integrity(b"wrong key"), Some(false));
//! assert_eq!(message.verify_fingerprint(), Some(true));
//!
//! // The success response.
//! let relayed: SocketAddr = "203.0.113.9:49152".parse().unwrap();
//! let response = MessageBuilder::response_to(&message, Class::SuccessResponse)
//!     .xor_relayed_address(relayed)
//!     .lifetime(600)
//!     .message_integrity(&key)
//!     .build();
//! let response = Message::parse(&response)?;
//! assert_eq!(response.xor_address(AttrType::XOR_RELAYED_ADDRESS)?, Some(relayed));
//! assert_eq!(response.transaction_id(), TransactionId([7; 12]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is checked where
//!
//! [`Message::parse`] rejects anything structurally wrong ([`ParseError`]): header, lengths,
//! attributes overrunning the message, FINGERPRINT not last, integrity attributes of the wrong
//! size. It also applies RFC 8489 §9 once for every accessor: attributes after
//! MESSAGE-INTEGRITY are ignored except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and after
//! MESSAGE-INTEGRITY-SHA256 everything but FINGERPRINT is ignored. Typed accessors
//! ([`Message::username`], [`Message::realm`], [`Message::error_code`], …) check their own
//! value and return [`AttributeError`] (a 400 Bad Request) without failing the whole message.
//! Comprehension-required attributes the server does not understand are listed by
//! [`Message::unknown_comprehension_required`] (a 420).
//!
//! Text limits follow RFC 8489's receiver rules: USERNAME, REALM, NONCE and reason phrases
//! may be up to 763 bytes ([`MAX_TEXT_LEN`]), and REALM, NONCE and reason phrases fewer than
//! 128 characters. Strings are not passed through OpaqueString (RFC 8265); they are compared
//! byte for byte.
//!
//! # Why not an existing STUN crate
//!
//! A server verifies the MAC of every request on a hot path, usually before trusting
//! anything in it. What that needs (a borrowed view parsed once, a MAC check fed from a
//! cached keyed state without copying or rewriting the datagram, the §9 ignore rule applied
//! in one place, and byte-exact control of padding to reproduce the RFC vectors) is not what
//! the general-purpose crates are built for. In the sources read when this module was written:
//!
//! - `stun_codec` (sile/stun_codec) decodes into owned, typed attributes; its
//!   MESSAGE-INTEGRITY keeps a re-encoded copy of the preceding message (`after_decode`) to
//!   check later, compares the MAC with `==`, and keeps RFC 5389's USERNAME limit of fewer
//!   than 513 bytes.
//! - `stun` from webrtc-rs (a port of pion/stun) decodes into owned `RawAttribute`s (each
//!   value a `Vec<u8>`); `MessageIntegrity::check` takes `&mut Message` and rewrites the
//!   header's Length field in the message buffer while it computes the MAC; there is no
//!   MESSAGE-INTEGRITY-SHA256 check.
//! - `stun-rs` (0.1.11) decodes into owned attribute values and checks integrity either
//!   during decoding, against a key set in the decoder's context beforehand, or through
//!   `MessageIntegrity::validate(input, key)`, where the caller supplies the covered bytes
//!   with the length already adjusted; the MAC is computed into a `Vec` and compared with
//!   `==`. It also brings the PRECIS crates for OpaqueString.
//!
//! This module is small instead: one validated view ([`Message`]), one builder
//! ([`MessageBuilder`]), and the TURN ChannelData framing ([`ChannelData`]).

mod attribute;
mod builder;
mod channel_data;
mod error;
mod header;
mod message;

pub use attribute::{
    AttrType, MAX_TEXT_CHARS, MAX_TEXT_LEN, PasswordAlgorithm, PasswordAlgorithmValue,
    PasswordAlgorithmsIter, RawAttribute, decode_xor_address,
};
pub use builder::MessageBuilder;
pub use channel_data::{CHANNEL_NUMBERS, ChannelData, encode_channel_data, is_channel_data};
pub use error::{AttributeError, BuildError, ParseError};
pub use header::{Class, HEADER_LEN, MAGIC_COOKIE, MAX_MESSAGE_LEN, Method, TransactionId};
pub use message::{Attributes, Message};
