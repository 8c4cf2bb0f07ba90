//! The RFC 5769 test vectors, the corrected RFC 8489 Appendix B.1 vector, and malformed
//! input: every check here compares against bytes published in the RFCs or against an
//! exact error.

use std::net::SocketAddr;

use md5::{Digest, Md5};
use sha2::Sha256;
use turn_auth::stun::{
    AttrType, AttributeError, Class, Message, MessageBuilder, Method, ParseError, TransactionId,
};

fn hex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1: Binding request, short-term credentials, USERNAME padded with spaces.
const REQUEST: &str = "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
/// RFC 5769 §2.2: Binding success response, IPv4.
const RESPONSE_V4: &str = "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96";
/// RFC 5769 §2.3: Binding success response, IPv6.
const RESPONSE_V6: &str = "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c";
/// RFC 5769 §2.4: Binding request, long-term credentials, no FINGERPRINT.
const LONG_TERM: &str = "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b6578616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666";
/// RFC 8489 Appendix B.1 as corrected by erratum 6268: USERHASH and MESSAGE-INTEGRITY-SHA256.
const SHA256_REQUEST: &str = "000100882112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704001500296f624d61744a6f733241414143662f2f3439396b39353464364f4c33346f4c394653547679363473410000000014000b6578616d706c652e6f726700001c0020fd8c273860d2e18ebca4c89b6973befa7ee8ecc69e9642db326fab65a0b955ba";

/// The RFC 5769 short-term password (§2.1–2.3), used as the key as is.
const SHORT_TERM_KEY: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const TXID_5769: TransactionId = TransactionId([
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
]);
const TXID_LONG_TERM: TransactionId = TransactionId([
    0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e,
]);
const USERNAME: &str = "マトリックス";
const REALM: &str = "example.org";

/// MD5("マトリックス:example.org:TheMatrIX"), the RFC 5769 §2.4 long-term key.
fn long_term_key() -> [u8; 16] {
    let key: [u8; 16] = Md5::digest(format!("{USERNAME}:{REALM}:TheMatrIX")).into();
    assert_eq!(key.to_vec(), hex("e8ca7ad59d5eb0518e312911d2dab2a9"));
    key
}

fn types(message: &Message<'_>) -> Vec<u16> {
    message.attributes().map(|a| a.attr_type.0).collect()
}

#[test]
fn rfc5769_request_with_short_term_credentials() {
    let bytes = hex(REQUEST);
    assert!(Message::is_stun(&bytes));
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.method(), Method::BINDING);
    assert_eq!(m.transaction_id(), TXID_5769);
    // The padding of USERNAME is 0x20, not zero: receivers must ignore it.
    assert_eq!(m.username(), Ok(Some("evtj:h6vY")));
    assert_eq!(m.get(AttrType::SOFTWARE), Some(&b"STUN test client"[..]));
    assert_eq!(types(&m), [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
    assert_eq!(m.verify_integrity(SHORT_TERM_KEY), Some(true));
    assert_eq!(m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBu"), Some(false));
    assert_eq!(m.verify_fingerprint(), Some(true));
    assert_eq!(m.verify_integrity_sha256(SHORT_TERM_KEY), None);
    // PRIORITY (0x0024, an ICE attribute) is comprehension-required and unknown here;
    // ICE-CONTROLLED (0x8029) is comprehension-optional.
    let unknown: Vec<AttrType> = m
        .unknown_comprehension_required(|t| t.name().is_some())
        .collect();
    assert_eq!(unknown, [AttrType(0x0024)]);
}

#[test]
fn rfc5769_request_is_reproduced_by_the_builder() {
    let built = MessageBuilder::new(Class::Request, Method::BINDING, TXID_5769)
        .software("STUN test client")
        .attribute(AttrType(0x0024), &hex("6e0001ff"))
        .attribute(AttrType(0x8029), &hex("932ff9b151263b36"))
        .attribute_padded_with(AttrType::USERNAME, b"evtj:h6vY", b' ')
        .message_integrity(SHORT_TERM_KEY)
        .fingerprint()
        .build();
    assert_eq!(built, hex(REQUEST));
}

#[test]
fn rfc5769_ipv4_response() {
    let bytes = hex(RESPONSE_V4);
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    assert_eq!(m.method(), Method::BINDING);
    let expected: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    assert_eq!(
        m.xor_address(AttrType::XOR_MAPPED_ADDRESS),
        Ok(Some(expected))
    );
    // SOFTWARE is "test vector" (11 bytes) padded with one space.
    assert_eq!(m.get(AttrType::SOFTWARE), Some(&b"test vector"[..]));
    assert_eq!(m.verify_integrity(SHORT_TERM_KEY), Some(true));
    assert_eq!(m.verify_fingerprint(), Some(true));

    let built = MessageBuilder::new(Class::SuccessResponse, Method::BINDING, TXID_5769)
        .attribute_padded_with(AttrType::SOFTWARE, b"test vector", b' ')
        .xor_mapped_address(expected)
        .message_integrity(SHORT_TERM_KEY)
        .fingerprint()
        .build();
    assert_eq!(built, bytes);
}

#[test]
fn rfc5769_ipv6_response() {
    let bytes = hex(RESPONSE_V6);
    let m = Message::parse(&bytes).unwrap();
    let expected: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap();
    assert_eq!(
        m.xor_address(AttrType::XOR_MAPPED_ADDRESS),
        Ok(Some(expected))
    );
    assert_eq!(m.verify_integrity(SHORT_TERM_KEY), Some(true));
    assert_eq!(m.verify_fingerprint(), Some(true));

    let built = MessageBuilder::new(Class::SuccessResponse, Method::BINDING, TXID_5769)
        .attribute_padded_with(AttrType::SOFTWARE, b"test vector", b' ')
        .xor_mapped_address(expected)
        .message_integrity(SHORT_TERM_KEY)
        .fingerprint()
        .build();
    assert_eq!(built, bytes);
}

#[test]
fn rfc5769_long_term_request() {
    let bytes = hex(LONG_TERM);
    assert_eq!(bytes.len(), 116);
    let key = long_term_key();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.transaction_id(), TXID_LONG_TERM);
    assert_eq!(m.username(), Ok(Some(USERNAME)));
    assert_eq!(m.realm(), Ok(Some(REALM)));
    assert_eq!(m.nonce(), Ok(Some(&b"f//499k954d6OL34oL9FSTvy64sA"[..])));
    assert_eq!(m.verify_integrity(&key), Some(true));
    assert_eq!(m.verify_integrity(b"TheMatrIX"), Some(false));
    assert_eq!(m.verify_fingerprint(), None);
    assert!(!m.has_fingerprint());

    let built = MessageBuilder::new(Class::Request, Method::BINDING, TXID_LONG_TERM)
        .username(USERNAME)
        .nonce(b"f//499k954d6OL34oL9FSTvy64sA")
        .realm(REALM)
        .message_integrity(&key)
        .build();
    assert_eq!(built, bytes);
}

#[test]
fn rfc8489_sha256_request_with_userhash() {
    let bytes = hex(SHA256_REQUEST);
    let key = long_term_key();
    let m = Message::parse(&bytes).unwrap();
    let userhash: [u8; 32] = Sha256::digest(format!("{USERNAME}:{REALM}")).into();
    assert_eq!(m.userhash(), Ok(Some(&userhash)));
    assert_eq!(m.username(), Ok(None));
    assert_eq!(
        m.nonce(),
        Ok(Some(&b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"[..]))
    );
    assert_eq!(m.realm(), Ok(Some(REALM)));
    assert!(m.has_integrity_sha256());
    assert!(!m.has_integrity());
    assert_eq!(m.verify_integrity_sha256(&key), Some(true));
    assert_eq!(m.verify_integrity_sha256(b"TheMatrIX"), Some(false));
    assert_eq!(m.verify_integrity(&key), None);

    let built = MessageBuilder::new(Class::Request, Method::BINDING, TXID_LONG_TERM)
        .attribute(AttrType::USERHASH, &userhash)
        .nonce(b"obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
        .realm(REALM)
        .message_integrity_sha256(&key)
        .build();
    assert_eq!(built, bytes);
}

/// Whether `bytes` still passes every check the original vector passed.
fn still_authentic(bytes: &[u8], key: &[u8], sha256: bool, fingerprint: bool) -> bool {
    let Ok(m) = Message::parse(bytes) else {
        return false;
    };
    let integrity = if sha256 {
        m.verify_integrity_sha256(key)
    } else {
        m.verify_integrity(key)
    };
    integrity == Some(true) && (!fingerprint || m.verify_fingerprint() == Some(true))
}

#[test]
fn tampering_with_any_bit_of_any_vector_is_detected() {
    let key = long_term_key();
    let vectors: [(&str, &[u8], bool, bool); 5] = [
        (REQUEST, SHORT_TERM_KEY, false, true),
        (RESPONSE_V4, SHORT_TERM_KEY, false, true),
        (RESPONSE_V6, SHORT_TERM_KEY, false, true),
        (LONG_TERM, &key, false, false),
        (SHA256_REQUEST, &key, true, false),
    ];
    for (vector, key, sha256, fingerprint) in vectors {
        let original = hex(vector);
        assert!(still_authentic(&original, key, sha256, fingerprint));
        for i in 0..original.len() {
            for bit in 0..8 {
                let mut tampered = original.clone();
                tampered[i] ^= 1 << bit;
                assert!(
                    !still_authentic(&tampered, key, sha256, fingerprint),
                    "flipping bit {bit} of byte {i} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    for vector in [REQUEST, RESPONSE_V4, RESPONSE_V6, LONG_TERM, SHA256_REQUEST] {
        let bytes = hex(vector);
        for len in 0..bytes.len() {
            let err = Message::parse(&bytes[..len]).unwrap_err();
            if len < 20 {
                assert_eq!(err, ParseError::TooShort { len, min: 20 });
            } else {
                assert_eq!(
                    err,
                    ParseError::LengthMismatch {
                        header: bytes.len() - 20,
                        actual: len - 20
                    }
                );
            }
        }
    }
}

#[test]
fn length_field_and_trailing_bytes_must_agree() {
    let mut longer = hex(RESPONSE_V4);
    longer[3] += 4;
    assert_eq!(
        Message::parse(&longer).unwrap_err(),
        ParseError::LengthMismatch {
            header: 0x40,
            actual: 0x3c
        }
    );
    let mut trailing = hex(RESPONSE_V4);
    trailing.extend_from_slice(&[0; 4]);
    assert_eq!(
        Message::parse(&trailing).unwrap_err(),
        ParseError::LengthMismatch {
            header: 0x3c,
            actual: 0x40
        }
    );
}

#[test]
fn attribute_length_past_the_end_is_rejected() {
    let mut bytes = hex(REQUEST);
    // USERNAME's header is at byte 60 (after SOFTWARE 20, PRIORITY 8, ICE-CONTROLLED 12).
    assert_eq!(&bytes[60..62], &[0x00, 0x06]);
    bytes[62] = 0x01;
    assert_eq!(
        Message::parse(&bytes).unwrap_err(),
        ParseError::AttributeOverrun {
            at: 60,
            attr: AttrType::USERNAME,
            len: 0x0109
        }
    );
}

#[test]
fn anything_after_fingerprint_is_rejected() {
    let mut bytes = hex(RESPONSE_V4);
    let fingerprint_at = bytes.len() - 8;
    bytes.extend_from_slice(&[0x80, 0x22, 0x00, 0x00]);
    bytes[3] += 4;
    assert_eq!(
        Message::parse(&bytes).unwrap_err(),
        ParseError::FingerprintNotLast { at: fingerprint_at }
    );
}

#[test]
fn fingerprint_mismatch_fails_verification_only() {
    let mut bytes = hex(RESPONSE_V4);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.verify_fingerprint(), Some(false));
    // MESSAGE-INTEGRITY does not cover FINGERPRINT.
    assert_eq!(m.verify_integrity(SHORT_TERM_KEY), Some(true));
}

#[test]
fn a_second_message_integrity_is_ignored() {
    // An attacker appends their own MESSAGE-INTEGRITY to a genuine request.
    let bytes = MessageBuilder::new(Class::Request, Method::REFRESH, TXID_LONG_TERM)
        .username("alice")
        .message_integrity(b"genuine key")
        .message_integrity(b"attacker key")
        .build();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(types(&m), [0x0006, 0x0008]);
    assert_eq!(m.verify_integrity(b"genuine key"), Some(true));
    assert_eq!(m.verify_integrity(b"attacker key"), Some(false));
    // The MESSAGE-INTEGRITY that counts is the first one.
    assert_eq!(m.get(AttrType::MESSAGE_INTEGRITY), Some(&bytes[36..56]));
}

#[test]
fn attributes_after_integrity_are_ignored_except_sha256_and_fingerprint() {
    let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
        .username("alice")
        .message_integrity(b"key")
        .realm("injected")
        .attribute(AttrType(0x7777), b"unknown but ignored")
        .message_integrity_sha256(b"key256")
        .fingerprint()
        .build();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(types(&m), [0x0006, 0x0008, 0x001C, 0x8028]);
    assert_eq!(m.realm(), Ok(None));
    assert_eq!(m.get(AttrType(0x7777)), None);
    assert_eq!(
        m.unknown_comprehension_required(|t| t.name().is_some())
            .count(),
        0
    );
    assert_eq!(m.verify_integrity(b"key"), Some(true));
    // MESSAGE-INTEGRITY-SHA256 covers the ignored attributes too.
    assert_eq!(m.verify_integrity_sha256(b"key256"), Some(true));
    assert_eq!(m.verify_fingerprint(), Some(true));
}

#[test]
fn username_length_limits() {
    // RFC 8489 §14.3: senders use fewer than 509 bytes, receivers accept up to 763 (RFC 5389
    // compatibility, whose limit was fewer than 513). 513 is therefore accepted.
    for (len, ok) in [
        (508, true),
        (513, true),
        (763, true),
        (764, false),
        (1000, false),
    ] {
        let name = "u".repeat(len);
        let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
            .username(&name)
            .build();
        let m = Message::parse(&bytes).unwrap();
        if ok {
            assert_eq!(m.username(), Ok(Some(name.as_str())), "{len} bytes");
        } else {
            assert_eq!(
                m.username(),
                Err(AttributeError::TooLong {
                    attr: AttrType::USERNAME,
                    len,
                    max: 763
                })
            );
        }
    }
    let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
        .attribute(AttrType::USERNAME, b"al\xffce")
        .build();
    assert_eq!(
        Message::parse(&bytes).unwrap().username(),
        Err(AttributeError::NotUtf8 {
            attr: AttrType::USERNAME
        })
    );
}

#[test]
fn realm_must_be_utf8_and_short() {
    let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
        .attribute(AttrType::REALM, b"example\xc0.org")
        .build();
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(
        m.realm(),
        Err(AttributeError::NotUtf8 {
            attr: AttrType::REALM
        })
    );
    // The rest of the message is still usable.
    assert_eq!(m.method(), Method::ALLOCATE);

    let long = "é".repeat(128); // 256 bytes, but 128 characters
    let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
        .realm(&long)
        .build();
    assert_eq!(
        Message::parse(&bytes).unwrap().realm(),
        Err(AttributeError::TooManyChars {
            attr: AttrType::REALM,
            chars: 128,
            max: 127
        })
    );
}

#[test]
fn unknown_comprehension_required_attributes_in_order() {
    let bytes = MessageBuilder::new(Class::Request, Method::ALLOCATE, TXID_LONG_TERM)
        .attribute(AttrType(0x0024), &[0; 4])
        .attribute(AttrType(0x8029), &[0; 8]) // comprehension-optional: never reported
        .attribute(AttrType(0x7001), b"x")
        .username("alice")
        .attribute(AttrType(0x0024), &[1; 4])
        .attribute(AttrType(0x0003), &[0; 4])
        .message_integrity(b"key")
        .attribute(AttrType(0x7777), b"after MESSAGE-INTEGRITY: ignored")
        .build();
    let m = Message::parse(&bytes).unwrap();
    let known = |t: AttrType| t.name().is_some();
    let unknown: Vec<AttrType> = m.unknown_comprehension_required(known).collect();
    assert_eq!(
        unknown,
        [
            AttrType(0x0024),
            AttrType(0x7001),
            AttrType(0x0024),
            AttrType(0x0003)
        ]
    );
    // The list goes into a 420 response as is.
    let response = MessageBuilder::response_to(&m, Class::ErrorResponse)
        .error_code(420, "Unknown Attribute")
        .unknown_attributes(&unknown)
        .build();
    let response = Message::parse(&response).unwrap();
    assert_eq!(response.error_code(), Ok(Some((420, "Unknown Attribute"))));
    assert_eq!(
        response.get(AttrType::UNKNOWN_ATTRIBUTES),
        Some(&hex("0024700100240003")[..])
    );
}

#[test]
fn channel_data_is_not_stun() {
    let channel_data = turn_auth::stun::encode_channel_data(0x4000, &[0; 20]).unwrap();
    assert!(!Message::is_stun(&channel_data));
    assert!(turn_auth::stun::is_channel_data(&channel_data));
    assert_eq!(
        Message::parse(&channel_data).unwrap_err(),
        ParseError::NotStun
    );
    assert!(!turn_auth::stun::is_channel_data(&hex(REQUEST)));
}
