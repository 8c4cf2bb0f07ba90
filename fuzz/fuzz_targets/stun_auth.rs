//! The TURN authentication path: `TurnAuthLayer` over arbitrary datagrams from a few client
//! addresses, with fixed secrets, static and TURN REST users, and a manual clock.
//!
//! Input: a sequence of records `flags (1 byte) ‖ length (2 bytes, big endian) ‖ datagram`.
//! The flags pick the client address (bits 0-1), advance the clock (bit 4: by 11 minutes,
//! past the nonce lifetime) and can turn the datagram into an authentic one (bit 2: keep its
//! class, method and plain attributes, replace USERNAME / REALM / NONCE with a user's, a
//! nonce minted for this address, and sign it; bit 3: sign with MESSAGE-INTEGRITY-SHA256 as
//! well; bit 5: with a TURN REST user instead of a static one; bit 6: reuse the first nonce
//! ever minted, now possibly stale, instead of a fresh one). Bit 7 sends a canonical
//! Allocate built from scratch (authentic when bit 2 is set too), the "valid input" probe.
//!
//! Invariants beyond "never panics" and "every future completes":
//! - every answer parses as STUN and carries the request's transaction id;
//! - the inner service only sees requests that are authenticated or need no authentication;
//! - an authentic canonical Allocate with a fresh nonce, from an address that sent nothing
//!   before, reaches the inner service;
//! - the layer's allocation table never grows past its capacity.

#![no_main]

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::block_on;
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;
use turn_auth::clock::ManualClock;
use turn_auth::credentials::{Either, LongTermKey};
use turn_auth::nonce::SecurityFeatures;
use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, PasswordAlgorithm};
use turn_auth::{
    FiveTuple, NonceManager, NonceSecret, RestSecrets, StaticUsers, StunRequest, Transport,
    TurnAuthLayer, TurnRequest,
};

const REALM: &str = "example.org";
const START: Duration = Duration::from_secs(1_700_000_000);
const CAPACITY: usize = 4;

fn client(selector: u8) -> SocketAddr {
    match selector & 3 {
        0 => "192.0.2.10:50000",
        1 => "192.0.2.10:50001",
        2 => "198.51.100.7:40000",
        _ => "[2001:db8::1]:50000",
    }
    .parse()
    .expect("a literal address")
}

/// How the fixed-up datagram is signed: the username and its key.
fn user(rest: bool, secrets: &RestSecrets, now: Duration) -> (String, String) {
    if rest {
        let (username, password) = secrets.mint("carol", Duration::from_secs(3600), now);
        (username, password.to_string())
    } else {
        ("alice".to_owned(), "secret".to_owned())
    }
}

fuzz_target!(|data: &[u8]| {
    let clock = Arc::new(ManualClock::new(START));
    let nonces = NonceManager::new(NonceSecret::new(1, [7u8; 32]).expect("a valid secret"));
    let minter = NonceManager::new(NonceSecret::new(1, [7u8; 32]).expect("a valid secret"));
    let rest = RestSecrets::new(b"rest-secret");
    let store = Either::new(
        StaticUsers::new(REALM).user("alice", "secret"),
        rest.clone(),
    );
    let layer = TurnAuthLayer::builder(REALM, store, nonces)
        .clock(clock.clone())
        .session_capacity(NonZeroUsize::new(CAPACITY).expect("non-zero"))
        .software("fuzz")
        .build();

    let unauthenticated_calls = Arc::new(AtomicUsize::new(0));
    let authenticated_calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::<(Bytes, bool)>::new()));
    let (unauth, auth_calls, log) = (
        unauthenticated_calls.clone(),
        authenticated_calls.clone(),
        seen.clone(),
    );
    let mut service = layer.layer(service_fn(move |req: TurnRequest| {
        let (unauth, auth_calls, log) = (unauth.clone(), auth_calls.clone(), log.clone());
        async move {
            log.lock()
                .expect("not poisoned")
                .push((req.request.data.clone(), req.auth.is_some()));
            let Some(auth) = req.auth else {
                unauth.fetch_add(1, Ordering::Relaxed);
                return Ok::<_, std::convert::Infallible>(None);
            };
            auth_calls.fetch_add(1, Ordering::Relaxed);
            let Ok(message) = Message::parse(&req.request.data) else {
                panic!("an authenticated request must be a STUN message");
            };
            if message.class() != Class::Request {
                return Ok(None);
            }
            Ok(Some(auth.success(&message, |b| b.lifetime(600))))
        }
    }));

    let mut used = Vec::<SocketAddr>::new();
    let first_nonce = minter.mint(client(0), REALM, SecurityFeatures::NONE, START);
    let mut rest_input = data;
    while let [flags, hi, lo, tail @ ..] = rest_input {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, tail) = tail.split_at(len);
        rest_input = tail;

        if flags & 0x10 != 0 {
            clock.advance(Duration::from_secs(660));
        }
        let now = clock_now(&clock);
        let address = client(*flags);
        let (username, password) = user(flags & 0x20 != 0, &rest, now);
        let nonce = if flags & 0x40 != 0 {
            first_nonce.as_bytes().to_vec()
        } else {
            minter
                .mint(address, REALM, SecurityFeatures::NONE, now)
                .as_bytes()
                .to_vec()
        };
        let sign = flags & 0x04 != 0;
        let sha256 = flags & 0x08 != 0;
        let key = LongTermKey::derive(PasswordAlgorithm::Md5, &username, REALM, &password);

        let canonical = flags & 0x80 != 0;
        let bytes: Vec<u8> = if canonical {
            let mut b = MessageBuilder::new(
                Class::Request,
                Method::ALLOCATE,
                turn_auth::stun::TransactionId(txid(datagram)),
            )
            .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
            if sign {
                b = b
                    .username(&username)
                    .realm(REALM)
                    .nonce(&nonce)
                    .message_integrity(key.as_bytes());
            }
            b.build()
        } else if sign {
            match resign(datagram, &username, &nonce, key.as_bytes(), sha256) {
                Some(bytes) => bytes,
                None => datagram.to_vec(),
            }
        } else {
            datagram.to_vec()
        };

        let before = authenticated_calls.load(Ordering::Relaxed);
        let first_from_address = !used.contains(&address);
        used.push(address);
        let five_tuple = FiveTuple {
            client: address,
            server: "192.0.2.1:3478".parse().expect("a literal address"),
            transport: Transport::Udp,
        };
        let request = StunRequest::new(bytes.clone(), five_tuple);
        let reply = block_on(async { service.ready().await?.call(request).await })
            .unwrap_or_else(|e: std::convert::Infallible| match e {});

        if let Some(reply) = &reply {
            let answer = Message::parse(reply).expect("every answer is a STUN message");
            if let Ok(request) = Message::parse(&bytes) {
                assert_eq!(answer.transaction_id(), request.transaction_id());
            }
        }
        // A fresh nonce, the right address and key, a plain Allocate from an address with no
        // allocation yet: accepted. (Bit 6 reuses the first nonce, which may be stale or
        // minted for another address; an address that already allocated gets 437 or 441.)
        if canonical && sign && flags & 0x40 == 0 && first_from_address {
            assert_eq!(
                authenticated_calls.load(Ordering::Relaxed),
                before + 1,
                "an authentic Allocate with a fresh nonce was refused: {:?}",
                reply.as_deref().map(Message::parse)
            );
        }
        assert!(layer.allocations() <= CAPACITY);
    }

    // The inner service never saw an unauthenticated request that needs authentication.
    for (data, authenticated) in seen.lock().expect("not poisoned").iter() {
        if *authenticated {
            continue;
        }
        if let Ok(message) = Message::parse(data) {
            let needs_auth =
                message.class() == Class::Request && message.method() != Method::BINDING;
            assert!(
                !needs_auth,
                "an unauthenticated {} request got through",
                message.method()
            );
        }
    }
});

fn clock_now(clock: &ManualClock) -> Duration {
    use turn_auth::clock::Clock;
    clock.now()
}

fn txid(datagram: &[u8]) -> [u8; 12] {
    let mut id = [0u8; 12];
    for (slot, byte) in id.iter_mut().zip(datagram) {
        *slot = *byte;
    }
    id
}

/// `datagram` as an authentic request of `username`: the same class, method, transaction id
/// and plain attributes, then USERNAME, REALM, NONCE and MESSAGE-INTEGRITY(-SHA256).
fn resign(
    datagram: &[u8],
    username: &str,
    nonce: &[u8],
    key: &[u8],
    sha256: bool,
) -> Option<Vec<u8>> {
    let message = Message::parse(datagram).ok()?;
    let replaced = [
        AttrType::USERNAME,
        AttrType::REALM,
        AttrType::NONCE,
        AttrType::MESSAGE_INTEGRITY,
        AttrType::MESSAGE_INTEGRITY_SHA256,
        AttrType::FINGERPRINT,
    ];
    let mut builder =
        MessageBuilder::new(message.class(), message.method(), message.transaction_id());
    for attr in message.attributes() {
        if !replaced.contains(&attr.attr_type) {
            builder = builder.try_attribute(attr.attr_type, attr.value).ok()?;
        }
    }
    // Room for what follows: USERNAME, REALM, NONCE and the integrity attributes.
    if builder.encoded_len() + 4 + 64 + 4 + 12 + 4 + 48 + 24 + 36 > turn_auth::stun::MAX_MESSAGE_LEN
    {
        return None;
    }
    let mut builder = builder
        .username(username)
        .realm(REALM)
        .nonce(nonce)
        .message_integrity(key);
    if sha256 {
        builder = builder.message_integrity_sha256(key);
    }
    Some(builder.build())
}
