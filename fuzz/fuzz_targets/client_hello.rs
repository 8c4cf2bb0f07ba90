//! The `ClientHello` peek of `tls_resume::client_hello::parse`, which reads the first TLS
//! record of every accepted connection before the handshake.
//!
//! Input: the first bytes a client sends.
//!
//! Invariants beyond "never panics":
//! - the ids respect their documented bounds (session id, identity count and bytes, SNI);
//! - `Truncated { needed }` asks for more than was given, and at most one record;
//! - the answer depends on the first record only: the record alone and the record followed
//!   by other bytes give the same result, and any shorter prefix says `Truncated`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tls_resume::client_hello::{
    MAX_PSK_IDENTITIES, MAX_PSK_IDENTITY_BYTES, MAX_RECORD_LEN, MAX_SESSION_ID_LEN,
    RECORD_HEADER_LEN, parse,
};
use tls_resume::{ClientHelloError, ClientHelloIds};

fuzz_target!(|data: &[u8]| {
    let result = parse(data);
    match &result {
        Ok(ids) => check_ids(ids),
        Err(ClientHelloError::Truncated { needed }) => {
            assert!(
                *needed > data.len(),
                "Truncated asks for {needed} of {} bytes",
                data.len()
            );
            assert!(*needed <= MAX_RECORD_LEN);
        }
        Err(_) => {}
    }
    // Only the first record matters.
    if data.len() >= RECORD_HEADER_LEN {
        let record_len = RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([data[3], data[4]]));
        if record_len <= data.len() {
            let record = &data[..record_len];
            assert_eq!(parse(record), result);
            let mut longer = record.to_vec();
            longer.extend_from_slice(b"\x16\x03\x01\x00\x01\x01trailing");
            assert_eq!(parse(&longer), result);
            if result.is_ok() {
                for cut in [RECORD_HEADER_LEN, record_len - 1, record_len / 2] {
                    if cut >= RECORD_HEADER_LEN && cut < record_len {
                        assert_eq!(
                            parse(&record[..cut]),
                            Err(ClientHelloError::Truncated { needed: record_len })
                        );
                    }
                }
            }
        }
    }
});

fn check_ids(ids: &ClientHelloIds) {
    assert!(ids.session_id.len() <= MAX_SESSION_ID_LEN);
    assert!(ids.psk_identities.len() <= MAX_PSK_IDENTITIES);
    let identity_bytes: usize = ids.psk_identities.iter().map(Vec::len).sum();
    assert!(identity_bytes <= MAX_PSK_IDENTITY_BYTES);
    if let Some(name) = &ids.server_name {
        assert!(!name.is_empty() && name.len() <= 253);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase())
        );
    }
    assert_eq!(
        ids.is_empty(),
        ids.session_id.is_empty() && ids.psk_identities.is_empty()
    );
    let _ = format!("{ids:?}");
}
