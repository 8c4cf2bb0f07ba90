//! Authenticating a typical Allocate against the bare cost of its HMAC, and nonce costs.
//!
//! - `bare_hmac_sha1`: HMAC-SHA1 keyed with the long-term key over the request's bytes —
//!   the floor for any server that checks MESSAGE-INTEGRITY.
//! - `parse_nonce_integrity`: what authenticating costs with this crate's parts: parse the
//!   datagram, verify the nonce (MAC, address binding, age), verify MESSAGE-INTEGRITY from
//!   the cached keyed state. Target ≤ 1.5× `bare_hmac_sha1`.
//! - `layer_allocate`: the whole tower layer on the same request, with a ready credential
//!   store and an inner service that answers nothing (adds the lookup, the async machinery
//!   and the allocation bookkeeping).
//! - `nonce_mint`, `nonce_verify`: target < 1 µs each.

use std::convert::Infallible;
use std::future::{Future, Ready, ready};
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use tower::{Layer, Service};
use turn_auth::clock::{Clock, ManualClock};
use turn_auth::credentials::LongTermKey;
use turn_auth::nonce::SecurityFeatures;
use turn_auth::stun::{
    AttrType, Class, Message, MessageBuilder, Method, PasswordAlgorithm, TransactionId,
};
use turn_auth::{
    FiveTuple, NonceManager, NonceSecret, StaticUsers, StunRequest, Transport, TurnAuthLayer,
    TurnRequest,
};

const REALM: &str = "example.org";

#[derive(Clone)]
struct Silent;

impl Service<TurnRequest> for Silent {
    type Response = Option<Bytes>;
    type Error = Infallible;
    type Future = Ready<Result<Option<Bytes>, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: TurnRequest) -> Self::Future {
        ready(Ok(None))
    }
}

fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("every future here is ready at once"),
    }
}

fn bench(c: &mut Criterion) {
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let nonces = NonceManager::new(NonceSecret::new(1, [9u8; 32]).unwrap());
    let five_tuple = FiveTuple {
        client: "192.0.2.10:50000".parse().unwrap(),
        server: "127.0.0.1:3478".parse().unwrap(),
        transport: Transport::Udp,
    };
    let nonce = nonces.mint(
        five_tuple.client,
        REALM,
        SecurityFeatures::NONE,
        clock.now(),
    );
    let key = LongTermKey::derive(PasswordAlgorithm::Md5, "alice", REALM, "secret");
    let keyed = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
    let request = MessageBuilder::new(Class::Request, Method::ALLOCATE, TransactionId([7; 12]))
        .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .username("alice")
        .realm(REALM)
        .nonce(nonce.as_bytes())
        .message_integrity(key.as_bytes())
        .build();
    eprintln!("Allocate request: {} bytes", request.len());
    let request = Bytes::from(request);

    let layer = TurnAuthLayer::builder(
        REALM,
        StaticUsers::new(REALM).user("alice", "secret"),
        NonceManager::new(NonceSecret::new(1, [9u8; 32]).unwrap()),
    )
    .clock(clock.clone())
    .build();
    let mut service = layer.layer(Silent);

    let mut group = c.benchmark_group("allocate");
    group.bench_function("bare_hmac_sha1", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha1>::new_from_slice(black_box(key.as_bytes())).unwrap();
            mac.update(black_box(&request[..]));
            mac.finalize().into_bytes()
        })
    });
    group.bench_function("parse_nonce_integrity", |b| {
        b.iter(|| {
            let message = Message::parse(black_box(&request[..])).unwrap();
            let nonce = message.nonce().unwrap().unwrap();
            let issued = nonces
                .verify(nonce, five_tuple.client, REALM, clock.now())
                .unwrap();
            assert!(issued.age(clock.now()) < Duration::from_secs(600));
            assert_eq!(message.verify_integrity_with(&keyed), Some(true));
        })
    });
    group.bench_function("layer_allocate", |b| {
        b.iter(|| {
            let reply = now_or_never(service.call(StunRequest {
                data: request.clone(),
                five_tuple,
            }));
            assert!(reply.unwrap().is_none());
        })
    });
    group.finish();

    let mut group = c.benchmark_group("nonce");
    group.bench_function("nonce_mint", |b| {
        b.iter(|| {
            nonces.mint(
                black_box(five_tuple.client),
                REALM,
                SecurityFeatures::NONE,
                clock.now(),
            )
        })
    });
    group.bench_function("nonce_verify", |b| {
        b.iter(|| {
            nonces
                .verify(
                    black_box(nonce.as_bytes()),
                    five_tuple.client,
                    REALM,
                    clock.now(),
                )
                .unwrap()
        })
    });
    group.finish();
}

// `criterion_group!` defines an undocumented `pub fn`; kept private, it needs no docs.
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
