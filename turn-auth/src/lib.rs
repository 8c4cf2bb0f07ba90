//! TURN/STUN long-term authentication with stateless, expiring, address-bound nonces that
//! keep long calls alive even for clients that ignore `438 Stale Nonce`.
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use tower::{Layer, Service, ServiceExt, service_fn};
//! use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
//! use turn_auth::credentials::LongTermKey;
//! use turn_auth::{FiveTuple, NonceManager, NonceSecret, StaticUsers, StunRequest, Transport,
//!                 TurnAuthLayer, TurnRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let layer = TurnAuthLayer::builder(
//!     "example.org",
//!     StaticUsers::new("example.org").user("alice", "secret"),
//!     NonceManager::new(NonceSecret::generate(1)?),
//! )
//! .build();
//!
//! // The TURN server proper sees only authenticated requests (and what needs no
//! // authentication), and signs its answers with the user's key.
//! let mut server = layer.layer(service_fn(|req: TurnRequest| async move {
//!     let message = Message::parse(&req.request.data).expect("the layer parsed it");
//!     let auth = req.auth.expect("Allocate is authenticated");
//!     Ok::<_, Infallible>(Some(auth.success(&message, |b| b.lifetime(600))))
//! }));
//!
//! let five_tuple = FiveTuple {
//!     client: "192.0.2.10:50000".parse()?,
//!     server: "192.0.2.1:3478".parse()?,
//!     transport: Transport::Udp,
//! };
//! let allocate = |extra: &dyn Fn(MessageBuilder) -> MessageBuilder| {
//!     extra(MessageBuilder::new(Class::Request, Method::ALLOCATE, TransactionId([1; 12]))
//!         .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0]))
//!     .build()
//! };
//!
//! // No credentials yet: 401 with REALM and a nonce bound to this client's address.
//! let reply = server.ready().await?.call(StunRequest::new(allocate(&|b| b), five_tuple)).await?;
//! let reply = reply.expect("an answer");
//! let challenge = Message::parse(&reply)?;
//! assert_eq!(challenge.error_code()?.map(|(code, _)| code), Some(401));
//! let nonce = challenge.nonce()?.expect("a nonce").to_vec();
//!
//! // With them: the TURN server answers.
//! let key = LongTermKey::derive(turn_auth::stun::PasswordAlgorithm::Md5, "alice", "example.org", "secret");
//! let signed = allocate(&|b| b.username("alice").realm("example.org").nonce(&nonce)
//!     .message_integrity(key.as_bytes()));
//! let reply = server.ready().await?.call(StunRequest::new(signed, five_tuple)).await?;
//! let reply = reply.expect("an answer");
//! let success = Message::parse(&reply)?;
//! assert_eq!(success.class(), Class::SuccessResponse);
//! assert_eq!(success.verify_integrity(key.as_bytes()), Some(true));
//! assert_eq!(layer.telemetry().authenticated, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # The incident
//!
//! A WebRTC product's calls died after exactly 1100 seconds whenever one side was relayed
//! through its TURN servers (coturn with `stale-nonce=600`). After 600 s a nonce expires and
//! the server answers `438 Stale Nonce` with a new one; a compliant client retries, but the
//! legacy Edge client never did. Its allocation had last been refreshed at about 500 s, so
//! it lived until 1100 s; then the relay stopped. The team turned nonce expiry off. coturn,
//! pion and webrtc-rs each get part of this wrong: they judge the nonce before the
//! request's integrity (RFC 5389's order, so `438` answers requests nobody authenticated), keep
//! per-process random nonce keys (a restart or another instance answers `438` to
//! everyone), or keep nonce tables that grow with every challenge.
//!
//! This crate keeps nonces expiring and still keeps such calls alive:
//!
//! - **Stateless nonces** ([`nonce`]): the RFC 8489 cookie, an issue time, a key id and a
//!   MAC over the client's IP address and port and the realm. No table; secrets rotate
//!   with overlap; every instance with the same secrets accepts every nonce.
//! - **The RFC 8489 §9.2.4 order** ([`TurnAuthLayer`]): integrity is verified before a
//!   nonce is judged stale, so a `438` only ever answers an authentic request; `400`, `401`,
//!   `420`, `438` and `441` carry REALM and a fresh NONCE (and PASSWORD-ALGORITHMS when
//!   advertised).
//! - **[`NoncePolicy::AllocationBound`]** (the default): a new Allocate needs a fresh
//!   nonce, but requests of a live allocation from its own 5-tuple, authentic with its
//!   user's key, keep working on their nonce until the allocation ends (capped). A nonce
//!   replayed from another address is still refused. [`NoncePolicy::Strict`] is coturn's
//!   behaviour.
//! - **Telemetry** ([`TelemetrySnapshot`]): `438`s sent, recovered and never recovered,
//!   stale nonces accepted — the clients of incident 2, counted — plus `tracing` events.
//! - **Credentials** ([`credentials`]): MD5 and SHA-256 long-term keys, static users, TURN
//!   REST API credentials checked for expiry on every request, and the
//!   [`CredentialStore`] trait for your own (async) lookup.
//! - **The STUN layer** ([`stun`]): a zero-copy parser and the response encoder,
//!   MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT checks that never copy the datagram.
//!
//! `examples/src/bin/turn-server.rs` in this repository is a UDP TURN server built on the
//! layer, tested with coturn's `turnutils_uclient` and the webrtc-rs `turn` client.
//!
//! # Dependencies
//!
//! Beyond the family's common set: `md-5` for RFC 8489's MD5 long-term keys (the
//! protocol requires it), `crc32fast` for FINGERPRINT (the zlib CRC-32, hardware-accelerated
//! where available), `getrandom` to generate nonce secrets, `subtle` and `zeroize` for
//! constant-time comparison and wiping keys, `base64` for nonces and REST passwords.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
pub mod clock;
pub mod credentials;
pub mod middleware;
pub mod nonce;
pub mod policy;
mod request;
pub mod stun;
mod telemetry;

pub use credentials::{CredentialStore, RestSecrets, StaticUsers};
pub use middleware::{TurnAuth, TurnAuthLayer};
pub use nonce::{NonceManager, NonceSecret};
pub use policy::NoncePolicy;
pub use request::{Authenticated, FiveTuple, Integrity, StunRequest, Transport, TurnRequest};
pub use telemetry::TelemetrySnapshot;

/// Whether two MACs are equal, in time that depends only on their length. The XOR of every
/// byte pair is folded first, so subtle's optimisation barrier is paid once rather than once
/// per byte (as `<[u8]>::ct_eq` does).
pub(crate) fn macs_equal(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    difference.ct_eq(&0).into()
}

#[cfg(test)]
mod tests {
    use super::macs_equal;

    #[test]
    fn macs_equal_only_when_every_byte_and_the_length_agree() {
        let mac: Vec<u8> = (0..20).collect();
        assert!(macs_equal(&mac, &mac.clone()));
        for i in 0..mac.len() {
            for bit in 0..8 {
                let mut other = mac.clone();
                other[i] ^= 1 << bit;
                assert!(!macs_equal(&mac, &other), "byte {i} bit {bit}");
            }
        }
        assert!(!macs_equal(&mac, &mac[..19]));
        assert!(macs_equal(&[], &[]));
    }
}
