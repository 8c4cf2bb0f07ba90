//! Writes the generated part of the seed corpora into `corpus/<target>/` (run from `fuzz/`;
//! see README.md): STUN authentication exchanges, a rustls `ClientHello`, and tickets sealed
//! by the real ticketer. The RFC vectors and text seeds are written by `seeds.py`.
//!
//! It is built like a fuzz target (a plain `main` would not link: the instrumented code
//! needs libFuzzer's runtime), and writes the seeds on its first input: run it with
//! `-runs=1`.

#![forbid(unsafe_code)]
#![no_main]

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::server::ProducesTickets;
use tls_resume::clock::ManualClock;
use tls_resume::{DerivedKeys, KeyRingTicketer, StaticKeys, TicketKey};
use turn_auth::stun::{AttrType, Class, MessageBuilder, Method, TransactionId};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("create the corpus directory");
    fs::write(dir.join(name), bytes).expect("write a seed");
}

/// One `stun_auth` record: flags, length, datagram.
fn record(flags: u8, datagram: &[u8]) -> Vec<u8> {
    let len = u16::try_from(datagram.len()).expect("a short datagram");
    let mut out = vec![flags];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(datagram);
    out
}

fn stun_auth() {
    let txid = TransactionId(*b"fuzz-seed-01");
    let allocate = MessageBuilder::new(Class::Request, Method::ALLOCATE, txid)
        .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .build();
    let refresh = MessageBuilder::new(Class::Request, Method::REFRESH, txid)
        .lifetime(600)
        .build();
    let permission = MessageBuilder::new(Class::Request, Method::CREATE_PERMISSION, txid)
        .xor_peer_address("198.51.100.20:0".parse().expect("a literal address"))
        .build();
    let binding = MessageBuilder::new(Class::Request, Method::BINDING, txid)
        .fingerprint()
        .build();
    let refresh_zero = MessageBuilder::new(Class::Request, Method::REFRESH, txid)
        .lifetime(0)
        .build();
    // The plain challenge, then the authentic Allocate, Refresh and CreatePermission, then
    // the same after the nonce went stale (from the same and from another address).
    let mut session = Vec::new();
    session.extend(record(0x00, &allocate));
    session.extend(record(0x04, &allocate));
    session.extend(record(0x04, &permission));
    session.extend(record(0x14, &refresh));
    session.extend(record(0x44, &refresh));
    session.extend(record(0x45, &refresh));
    session.extend(record(0x04, &refresh_zero));
    write("stun_auth", "session-stale-nonce", &session);
    write("stun_auth", "binding", &record(0x00, &binding));
    write(
        "stun_auth",
        "canonical-allocate",
        &record(0x84, b"txid-bytes-1"),
    );
    write("stun_auth", "rest-user-sha256", &record(0x2c, &allocate));
    let mut many = Vec::new();
    for flags in [0x04u8, 0x05, 0x06, 0x07, 0x24, 0x25] {
        many.extend(record(flags, &allocate));
    }
    write("stun_auth", "allocations-from-many-ports", &many);
}

fn rustls_client_hello() {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots_none());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("default versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("gateway.example.com").expect("a valid name");
    let mut client =
        rustls::ClientConnection::new(Arc::new(config), name).expect("a client connection");
    let mut hello = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut hello).expect("write to a Vec");
    }
    write("client_hello", "rustls-0.23", &hello);
}

fn webpki_roots_none() -> Vec<rustls::pki_types::TrustAnchor<'static>> {
    Vec::new()
}

fn tickets() {
    // The time and secrets `fuzz_targets/ticket_decrypt.rs` uses.
    let seed_time = Duration::from_secs(472_222 * 3600 + 1800);
    let clock = Arc::new(ManualClock::new(seed_time));
    let derived = KeyRingTicketer::builder(DerivedKeys::new([42; 32]))
        .clock(clock.clone())
        .build()
        .expect("a valid configuration");
    let epoch = seed_time.as_secs() / 3600;
    let fixed = KeyRingTicketer::builder(StaticKeys::new(
        (epoch - 2..=epoch + 2).map(|e| (e, TicketKey::new([(e % 251) as u8; 32]))),
    ))
    .clock(clock)
    .build()
    .expect("a valid configuration");
    // Selector 3: the clock at the seed time; 0x83 the same with static keys; 2 and 5 one
    // period before and two after.
    for (selector, ring, name) in [
        (3u8, &derived, "derived-now"),
        (2, &derived, "derived-before-issue"),
        (5, &derived, "derived-two-periods-later"),
        (0x83, &fixed, "static-now"),
    ] {
        let state = vec![0x5a; 96];
        let ticket = ring.encrypt(&state).expect("sealed");
        let mut seed = vec![selector];
        seed.extend_from_slice(&ticket);
        write("ticket_decrypt", name, &seed);
    }
    let key_file = format!(
        "# epoch key\n{epoch} {}\n{} {}\n",
        "ab".repeat(32),
        epoch + 1,
        "cd".repeat(32)
    );
    write("ticket_decrypt", "key-file", key_file.as_bytes());
}

libfuzzer_sys::fuzz_target!(|_data: &[u8]| {
    stun_auth();
    rustls_client_hello();
    tickets();
    println!("seeds written under corpus/");
});
