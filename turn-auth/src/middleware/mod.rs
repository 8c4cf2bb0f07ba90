//! The tower layer: authenticates STUN requests in front of a TURN server.
//!
//! [`TurnAuthLayer`] wraps a `Service<TurnRequest, Response = Option<Bytes>>` (the TURN
//! server: `Some(bytes)` to send back, `None` for nothing) and is itself a
//! `Service<StunRequest>`. It answers challenges (`401`), bad requests (`400`), wrong
//! credentials (`401`, `441`), stale nonces (`438`) and unknown attributes (`420`) itself,
//! drops what the RFC says to drop (malformed messages, a wrong FINGERPRINT), and hands
//! the inner service authenticated requests with the user's key to sign its responses.
//! Indications, ChannelData and (by default) Binding requests pass through with
//! `auth: None`.
//!
//! It learns allocations from the inner service's success responses to Allocate and
//! Refresh (their LIFETIME), which is what
//! [`NoncePolicy::AllocationBound`](crate::NoncePolicy::AllocationBound) needs; that table
//! is an LRU of fixed capacity.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::{
    DEFAULT_RECOVERY_WINDOW, DEFAULT_SESSION_CAPACITY, TurnAuthBuilder, TurnAuthLayer,
};
pub use service::TurnAuth;
