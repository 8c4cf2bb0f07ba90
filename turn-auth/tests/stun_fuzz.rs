//! Property tests for the STUN codec: the parser and every accessor are total on arbitrary
//! and mutated input, and whatever the builder writes parses back to the same attributes
//! with integrity and fingerprint that verify.

use std::net::SocketAddr;

use proptest::prelude::*;
use turn_auth::stun::{
    AttrType, ChannelData, Class, HEADER_LEN, MAGIC_COOKIE, Message, MessageBuilder, Method,
    TransactionId, decode_xor_address,
};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 5769 §2.1–2.4 and RFC 8489 B.1 (corrected): the seeds for mutation.
const VECTORS: [&str; 5] = [
    "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68367659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf",
    "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d780280004c07d4c96",
    "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf11784c97c8292c275bfe3ed4180280004c8fb0b4c",
    "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae38383e382afe382b900000015001c662f2f3439396b39353464364f4c33346f4c394653547679363473410014000b6578616d706c652e6f72670000080014f67024656dd64a3e02b8e0712e85c9a28ca89666",
    "000100882112a44278ad3433c6ad72c029da412e001e00204a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704001500296f624d61744a6f733241414143662f2f3439396b39353464364f4c33346f4c394653547679363473410000000014000b6578616d706c652e6f726700001c0020fd8c273860d2e18ebca4c89b6973befa7ee8ecc69e9642db326fab65a0b955ba",
];

/// Calls every accessor on a parsed message and checks the invariants that must hold for
/// anything `parse` accepts.
fn exercise(m: &Message<'_>) {
    let bytes = m.as_bytes();
    assert_eq!(bytes.len() % 4, 0);
    assert!(Message::is_stun(bytes));
    let _ = (m.class(), m.method(), m.transaction_id());
    let txid = m.transaction_id();
    let range = bytes.as_ptr_range();
    for attr in m.attributes() {
        // Values are views into the message, and `get` finds the first of each type.
        let value = attr.value.as_ptr_range();
        assert!(range.start <= value.start && value.end <= range.end);
        let first = m.get(attr.attr_type).unwrap();
        assert_eq!(
            m.attributes()
                .find(|a| a.attr_type == attr.attr_type)
                .unwrap()
                .value,
            first
        );
        let _ = decode_xor_address(attr.value, &txid);
        let _ = m.get_all(attr.attr_type).count();
    }
    let _ = m.username();
    let _ = m.realm();
    let _ = m.nonce();
    let _ = m.userhash();
    let _ = m.password_algorithm();
    if let Ok(Some(algorithms)) = m.password_algorithms() {
        let _ = algorithms.count();
    }
    let _ = m.lifetime();
    let _ = m.error_code();
    for t in [
        AttrType::XOR_MAPPED_ADDRESS,
        AttrType::XOR_PEER_ADDRESS,
        AttrType::XOR_RELAYED_ADDRESS,
    ] {
        let _ = m.xor_address(t);
    }
    let _ = m
        .unknown_comprehension_required(|t| t.name().is_some())
        .count();
    assert_eq!(m.verify_integrity(b"key").is_some(), m.has_integrity());
    assert_eq!(
        m.verify_integrity_sha256(b"key").is_some(),
        m.has_integrity_sha256()
    );
    assert_eq!(m.verify_fingerprint().is_some(), m.has_fingerprint());
    let _ = m.integrity_sha256_len();
    let response = MessageBuilder::response_to(m, Class::ErrorResponse).build();
    assert!(Message::parse(&response).is_ok());
}

/// One TLV as the fuzzer writes it: a type biased towards the special ones, a value, and an
/// error to add to the Length field.
fn tlv() -> impl Strategy<Value = (u16, Vec<u8>, i8)> {
    let attr_type = prop_oneof![
        Just(0x0008u16),
        Just(0x001C),
        Just(0x8028),
        Just(0x0006),
        Just(0x0014),
        Just(0x0015),
        Just(0x0009),
        Just(0x001D),
        Just(0x8002),
        Just(0x001E),
        Just(0x0020),
        any::<u16>(),
    ];
    // The sizes MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT need, often.
    let value_len = prop_oneof![0usize..40, Just(4), Just(20), Just(32)];
    let value = value_len.prop_flat_map(|len| prop::collection::vec(any::<u8>(), len));
    let len_error = prop_oneof![8 => Just(0i8), 1 => -4i8..=4];
    (attr_type, value, len_error)
}

/// A well-formed header in front of `tlvs` (padded with zeros, Length fields possibly lying).
fn stun_shaped(msg_type: u16, tlvs: &[(u16, Vec<u8>, i8)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, value, len_error) in tlvs {
        let len = (value.len() as i32 + i32::from(*len_error)).clamp(0, 0xFFFF) as u16;
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(4), 0);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&(msg_type & 0x3FFF).to_be_bytes());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(&[0x5a; 12]);
    out.extend_from_slice(&body);
    out
}

/// Attribute types the round-trip test may use: anything but the three the builder places
/// itself (and whose position changes which attributes count).
fn plain_type() -> impl Strategy<Value = u16> {
    any::<u16>().prop_filter("not MI, MI-SHA256 or FINGERPRINT", |t| {
        ![0x0008, 0x001C, 0x8028].contains(t)
    })
}

fn any_class() -> impl Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Request),
        Just(Class::Indication),
        Just(Class::SuccessResponse),
        Just(Class::ErrorResponse),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parse_is_total_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::parse(&bytes) {
            exercise(&m);
        }
        let _ = ChannelData::parse(&bytes);
    }

    #[test]
    fn parse_is_total_on_stun_shaped_bytes(
        msg_type in any::<u16>(),
        tlvs in prop::collection::vec(tlv(), 0..8),
    ) {
        let bytes = stun_shaped(msg_type, &tlvs);
        if let Ok(m) = Message::parse(&bytes) {
            exercise(&m);
        }
    }

    #[test]
    fn parse_is_total_on_mutated_vectors(
        which in 0..VECTORS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        fix_length in any::<bool>(),
    ) {
        let mut bytes = hex(VECTORS[which]);
        for (at, byte) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if fix_length && bytes.len() >= HEADER_LEN {
            // Repair the header so the attribute walk is reached.
            bytes.truncate(HEADER_LEN + (bytes.len() - HEADER_LEN) / 4 * 4);
            let len = (bytes.len() - HEADER_LEN) as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok(m) = Message::parse(&bytes) {
            exercise(&m);
        }
    }

    #[test]
    fn builder_output_parses_back(
        class in any_class(),
        method in 0u16..=0x0FFF,
        txid in any::<[u8; 12]>(),
        attrs in prop::collection::vec(
            (plain_type(), prop::collection::vec(any::<u8>(), 0..64)),
            0..10,
        ),
        integrity_key in prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
        sha256_key in prop::option::of(prop::collection::vec(any::<u8>(), 0..80)),
        fingerprint in any::<bool>(),
    ) {
        let method = Method::new(method).unwrap();
        let mut builder = MessageBuilder::new(class, method, TransactionId(txid));
        for (t, value) in &attrs {
            builder = builder.attribute(AttrType(*t), value);
        }
        let mut expected: Vec<u16> = attrs.iter().map(|(t, _)| *t).collect();
        if let Some(key) = &integrity_key {
            builder = builder.message_integrity(key);
            expected.push(0x0008);
        }
        if let Some(key) = &sha256_key {
            builder = builder.message_integrity_sha256(key);
            expected.push(0x001C);
        }
        if fingerprint {
            builder = builder.fingerprint();
            expected.push(0x8028);
        }
        let bytes = builder.build();
        let m = Message::parse(&bytes).unwrap();
        prop_assert_eq!(m.class(), class);
        prop_assert_eq!(m.method(), method);
        prop_assert_eq!(m.transaction_id(), TransactionId(txid));
        let types: Vec<u16> = m.attributes().map(|a| a.attr_type.0).collect();
        prop_assert_eq!(types, expected);
        for (got, (_, value)) in m.attributes().zip(&attrs) {
            prop_assert_eq!(got.value, &value[..]);
        }
        match &integrity_key {
            Some(key) => {
                prop_assert_eq!(m.verify_integrity(key), Some(true));
                // Not a trailing zero: HMAC zero-pads keys, so `k` and `k ‖ 0` are the same key.
                let mut other = key.clone();
                other.push(0xff);
                prop_assert_eq!(m.verify_integrity(&other), Some(false));
            }
            None => prop_assert_eq!(m.verify_integrity(b"key"), None),
        }
        match &sha256_key {
            Some(key) => {
                prop_assert_eq!(m.verify_integrity_sha256(key), Some(true));
                // Not a trailing zero: HMAC zero-pads keys, so `k` and `k ‖ 0` are the same key.
                let mut other = key.clone();
                other.push(0xff);
                prop_assert_eq!(m.verify_integrity_sha256(&other), Some(false));
            }
            None => prop_assert_eq!(m.verify_integrity_sha256(b"key"), None),
        }
        prop_assert_eq!(m.verify_fingerprint(), fingerprint.then_some(true));
        exercise(&m);
    }

    #[test]
    fn any_bit_flip_in_a_protected_message_is_detected(
        attrs in prop::collection::vec(
            (plain_type(), prop::collection::vec(any::<u8>(), 0..32)),
            0..6,
        ),
        key in prop::collection::vec(any::<u8>(), 1..32),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut builder = MessageBuilder::new(Class::Request, Method::ALLOCATE, TransactionId([9; 12]));
        for (t, value) in &attrs {
            builder = builder.attribute(AttrType(*t), value);
        }
        let mut bytes = builder.message_integrity(&key).fingerprint().build();
        let i = flip.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let authentic = Message::parse(&bytes).is_ok_and(|m| {
            m.verify_integrity(&key) == Some(true) && m.verify_fingerprint() == Some(true)
        });
        prop_assert!(!authentic, "flipping bit {} of byte {} went unnoticed", bit, i);
    }

    #[test]
    fn xor_addresses_round_trip_through_messages(
        addr in any::<SocketAddr>(),
        txid in any::<[u8; 12]>(),
    ) {
        let bytes = MessageBuilder::new(Class::Request, Method::CREATE_PERMISSION, TransactionId(txid))
            .xor_peer_address(addr)
            .xor_relayed_address(addr)
            .build();
        let m = Message::parse(&bytes).unwrap();
        for t in [AttrType::XOR_PEER_ADDRESS, AttrType::XOR_RELAYED_ADDRESS] {
            let decoded = m.xor_address(t).unwrap().unwrap();
            prop_assert_eq!(decoded.ip(), addr.ip());
            prop_assert_eq!(decoded.port(), addr.port());
        }
    }
}
