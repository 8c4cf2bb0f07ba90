//! The `turn-server` example: a UDP TURN server (RFC 8656) on [`turn_auth::TurnAuthLayer`].
//!
//! [`TurnServer`] is the inner `tower::Service<TurnRequest>`: allocations with a relay socket
//! each, permissions, channels, Send/Data indications and ChannelData, all bounded
//! ([`Limits`]) and expiring. The layer in front of it does the long-term authentication and
//! the nonces; the binary (`src/bin/turn-server.rs`) wires both to one UDP socket.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tower::{Layer, Service, ServiceExt};
//! use turn_auth::{FiveTuple, NonceManager, NonceSecret, StaticUsers, StunRequest, Transport, TurnAuthLayer};
//! use examples::turn::{Limits, TurnServer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:3478").await?);
//! let users = StaticUsers::new("example.org").user("alice", "secret");
//! let layer = TurnAuthLayer::builder("example.org", users, NonceManager::new(NonceSecret::generate(1)?)).build();
//! let mut service = layer.layer(TurnServer::new(Arc::clone(&socket), Limits::default())?);
//! let server = socket.local_addr()?;
//! let mut buf = vec![0; 65_535];
//! loop {
//!     let (len, client) = socket.recv_from(&mut buf).await?;
//!     let request = StunRequest::new(buf[..len].to_vec(), FiveTuple { client, server, transport: Transport::Udp });
//!     if let Some(reply) = service.ready().await?.call(request).await? {
//!         socket.send_to(&reply, client).await?;
//!     }
//! }
//! # }
//! ```

mod config;
mod server;
mod udp;

pub use config::{
    ArgError, Command, Config, DEFAULT_MAX_ALLOCATION_LIFETIME, PolicyKind, USAGE, parse_args,
    parse_duration,
};
pub use server::{
    CHANNEL_LIFETIME, DEFAULT_ALLOCATION_LIFETIME, Limits, PERMISSION_LIFETIME, SWEEP_INTERVAL,
    TurnServer,
};
pub use udp::{MAX_PENDING, TELEMETRY_INTERVAL, TurnStats, UdpTurn, shell_quote};
