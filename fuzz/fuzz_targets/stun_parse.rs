//! STUN message parsing and attribute walking (`turn_auth::stun`), and ChannelData framing.
//!
//! Input: one datagram, as a TURN server receives it.
//!
//! Invariants checked beyond "never panics":
//! - what `Message::parse` accepts is a multiple of 4 long, passes `is_stun`, and every
//!   attribute value is a view inside the message; `get` returns the first of a type;
//! - every accessor is total; the `verify_*` checks answer exactly when the attribute counts;
//! - rebuilding the attributes that count with `MessageBuilder` parses back to the same
//!   header and the same attributes, and an error response to it parses;
//! - what `ChannelData::parse` accepts re-encodes to the same channel and data.

#![no_main]

use libfuzzer_sys::fuzz_target;
use turn_auth::stun::{
    AttrType, ChannelData, Class, Message, MessageBuilder, decode_xor_address, encode_channel_data,
    is_channel_data,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::parse(data) {
        exercise(&message);
        round_trip(&message);
    }
    if let Ok(channel) = ChannelData::parse(data) {
        assert!(is_channel_data(data));
        let encoded = encode_channel_data(channel.channel, channel.data)
            .expect("a parsed channel number and length re-encode");
        let again = ChannelData::parse(&encoded).expect("the encoding parses");
        assert_eq!(again, channel);
    }
});

fn exercise(m: &Message<'_>) {
    let bytes = m.as_bytes();
    assert_eq!(bytes.len() % 4, 0);
    assert!(Message::is_stun(bytes));
    let txid = m.transaction_id();
    let range = bytes.as_ptr_range();
    for attr in m.attributes() {
        let value = attr.value.as_ptr_range();
        assert!(range.start <= value.start && value.end <= range.end);
        let first = m
            .get(attr.attr_type)
            .expect("an attribute that counts is found");
        let found = m.attributes().find(|a| a.attr_type == attr.attr_type);
        assert_eq!(found.map(|a| a.value), Some(first));
        let _ = decode_xor_address(attr.value, &txid);
        assert!(m.get_all(attr.attr_type).count() >= 1);
    }
    let _ = (m.class(), m.method(), m.username(), m.realm(), m.nonce());
    let _ = (
        m.userhash(),
        m.password_algorithm(),
        m.lifetime(),
        m.error_code(),
    );
    if let Ok(Some(algorithms)) = m.password_algorithms() {
        let _ = algorithms.count();
    }
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
    let response = MessageBuilder::response_to(m, Class::ErrorResponse)
        .error_code(400, "Bad Request")
        .build();
    let parsed = Message::parse(&response).expect("an error response parses");
    assert_eq!(parsed.transaction_id(), txid);
    assert_eq!(
        parsed.error_code().ok().flatten().map(|(c, _)| c),
        Some(400)
    );
}

/// The attributes that count, written again: the same header, the same attributes.
fn round_trip(m: &Message<'_>) {
    let special = [
        AttrType::MESSAGE_INTEGRITY,
        AttrType::MESSAGE_INTEGRITY_SHA256,
        AttrType::FINGERPRINT,
    ];
    let plain: Vec<_> = m
        .attributes()
        .filter(|a| !special.contains(&a.attr_type))
        .collect();
    let mut builder = MessageBuilder::new(m.class(), m.method(), m.transaction_id());
    for attr in &plain {
        builder = builder
            .try_attribute(attr.attr_type, attr.value)
            .expect("an attribute of a parsed message fits a message again");
    }
    let rebuilt = builder.fingerprint().build();
    let again = Message::parse(&rebuilt).expect("a rebuilt message parses");
    assert_eq!(again.class(), m.class());
    assert_eq!(again.method(), m.method());
    assert_eq!(again.transaction_id(), m.transaction_id());
    assert_eq!(again.verify_fingerprint(), Some(true));
    let types = |msg: &Message<'_>| -> Vec<(u16, Vec<u8>)> {
        msg.attributes()
            .filter(|a| !special.contains(&a.attr_type))
            .map(|a| (a.attr_type.0, a.value.to_vec()))
            .collect()
    };
    assert_eq!(types(&again), types(m));
}
