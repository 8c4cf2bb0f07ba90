//! A scripted TURN client and a minimal TURN server for exercising the layer without
//! sockets, on a manual clock.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tower::{Layer, Service, ServiceExt};
use turn_auth::clock::{Clock, ManualClock};
use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
use turn_auth::{FiveTuple, StunRequest, Transport, TurnAuth, TurnAuthLayer, TurnRequest};

pub const REALM: &str = "example.org";
pub const SERVER: &str = "127.0.0.1:3478";
pub const T0: Duration = Duration::from_secs(1_700_000_000);

pub fn five_tuple(client: &str) -> FiveTuple {
    FiveTuple {
        client: client.parse().unwrap(),
        server: SERVER.parse().unwrap(),
        transport: Transport::Udp,
    }
}

/// A TURN server that knows only allocations and their lifetimes, on the test's clock.
#[derive(Clone)]
pub struct MiniTurn {
    clock: ManualClock,
    lifetime: Duration,
    pub allocations: Arc<Mutex<HashMap<FiveTuple, Duration>>>,
    pub seen: Arc<Mutex<Vec<(Method, bool)>>>,
}

impl MiniTurn {
    pub fn new(clock: ManualClock, lifetime: Duration) -> Self {
        Self {
            clock,
            lifetime,
            allocations: Arc::default(),
            seen: Arc::default(),
        }
    }

    /// Whether the allocation of `five_tuple` is alive now.
    pub fn alive(&self, five_tuple: &FiveTuple) -> bool {
        let now = self.clock.now();
        self.allocations
            .lock()
            .unwrap()
            .get(five_tuple)
            .is_some_and(|&expires| expires > now)
    }
}

impl Service<TurnRequest> for MiniTurn {
    type Response = Option<Bytes>;
    type Error = Infallible;
    type Future = Ready<Result<Option<Bytes>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: TurnRequest) -> Self::Future {
        let message = Message::parse(&req.request.data).ok();
        let Some(message) = message else {
            return ready(Ok(None));
        };
        self.seen
            .lock()
            .unwrap()
            .push((message.method(), req.auth.is_some()));
        let Some(auth) = req.auth else {
            return ready(Ok(None));
        };
        let now = self.clock.now();
        let key = req.request.five_tuple;
        let mut allocations = self.allocations.lock().unwrap();
        allocations.retain(|_, expires| *expires > now);
        let lifetime = self.lifetime.as_secs() as u32;
        let reply = match message.method() {
            Method::ALLOCATE if allocations.contains_key(&key) => {
                auth.error(&message, 437, "Allocation Mismatch")
            }
            Method::ALLOCATE => {
                allocations.insert(key, now + self.lifetime);
                auth.success(&message, |b| b.lifetime(lifetime))
            }
            Method::REFRESH => match allocations.get_mut(&key) {
                None => auth.error(&message, 437, "Allocation Mismatch"),
                Some(expires) => {
                    let requested = message.lifetime().unwrap_or(lifetime);
                    if requested == 0 {
                        allocations.remove(&key);
                        auth.success(&message, |b| b.lifetime(0))
                    } else {
                        *expires = now + self.lifetime;
                        auth.success(&message, |b| b.lifetime(lifetime))
                    }
                }
            },
            _ => auth.success(&message, |b| b),
        };
        ready(Ok(Some(reply)))
    }
}

/// What a server answered.
#[derive(Debug)]
pub struct Answer {
    pub bytes: Option<Bytes>,
}

impl Answer {
    pub fn message(&self) -> Message<'_> {
        Message::parse(self.bytes.as_ref().expect("an answer")).expect("a valid STUN answer")
    }

    pub fn is_success(&self) -> bool {
        self.bytes.is_some() && self.message().class() == Class::SuccessResponse
    }

    pub fn error_code(&self) -> Option<u16> {
        let message = self.message();
        (message.class() == Class::ErrorResponse).then(|| message.error_code().unwrap().unwrap().0)
    }

    pub fn nonce(&self) -> Vec<u8> {
        self.message().nonce().unwrap().expect("a NONCE").to_vec()
    }
}

/// A scripted client: builds requests, keeps the last nonce it was given.
pub struct TestClient {
    pub five_tuple: FiveTuple,
    pub username: String,
    pub password: String,
    pub nonce: Option<Vec<u8>>,
    counter: u32,
}

impl TestClient {
    pub fn new(client_addr: &str, username: &str, password: &str) -> Self {
        Self {
            five_tuple: five_tuple(client_addr),
            username: username.into(),
            password: password.into(),
            nonce: None,
            counter: 0,
        }
    }

    fn transaction_id(&mut self) -> TransactionId {
        self.counter += 1;
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&self.counter.to_be_bytes());
        id[4..8].copy_from_slice(&self.five_tuple.client.port().to_be_bytes().repeat(2));
        TransactionId(id)
    }

    /// A request of `method`, signed when the client has a nonce.
    pub fn request(
        &mut self,
        method: Method,
        extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Vec<u8> {
        let id = self.transaction_id();
        let mut builder = MessageBuilder::new(Class::Request, method, id);
        if method == Method::ALLOCATE {
            builder = builder.attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
        }
        builder = extra(builder);
        match &self.nonce {
            None => builder.build(),
            Some(nonce) => {
                let key = turn_auth::credentials::LongTermKey::derive(
                    turn_auth::stun::PasswordAlgorithm::Md5,
                    &self.username,
                    REALM,
                    &self.password,
                );
                builder
                    .username(&self.username)
                    .realm(REALM)
                    .nonce(nonce)
                    .message_integrity(key.as_bytes())
                    .fingerprint()
                    .build()
            }
        }
    }
}

pub type Server = TurnAuth<MiniTurn, turn_auth::StaticUsers>;

/// A layer builder for alice (password `secret`) and bob (`hunter2`) on `clock`.
pub fn builder(
    clock: &ManualClock,
) -> turn_auth::middleware::TurnAuthBuilder<turn_auth::StaticUsers> {
    TurnAuthLayer::builder(
        REALM,
        turn_auth::StaticUsers::new(REALM)
            .user("alice", "secret")
            .user("bob", "hunter2"),
        turn_auth::NonceManager::new(turn_auth::NonceSecret::new(1, [5u8; 32]).unwrap()),
    )
    .clock(clock.clone())
}

pub fn server(layer: &TurnAuthLayer<turn_auth::StaticUsers>, turn: &MiniTurn) -> Server {
    layer.layer(turn.clone())
}

pub async fn send<S>(server: &mut S, five_tuple: FiveTuple, bytes: Vec<u8>) -> Answer
where
    S: Service<StunRequest, Response = Option<Bytes>>,
    S::Error: std::fmt::Debug,
{
    let answer = server
        .ready()
        .await
        .unwrap()
        .call(StunRequest::new(bytes, five_tuple))
        .await
        .unwrap();
    Answer { bytes: answer }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The client's Allocate (signed when it has a nonce), sent.
pub async fn allocate<S>(server: &mut S, client: &mut TestClient) -> Answer
where
    S: Service<StunRequest, Response = Option<Bytes>>,
    S::Error: std::fmt::Debug,
{
    let bytes = client.request(Method::ALLOCATE, |b| b);
    send(server, client.five_tuple, bytes).await
}

/// The client's Refresh asking for `lifetime` seconds, sent.
pub async fn refresh<S>(server: &mut S, client: &mut TestClient, lifetime: u32) -> Answer
where
    S: Service<StunRequest, Response = Option<Bytes>>,
    S::Error: std::fmt::Debug,
{
    let bytes = client.request(Method::REFRESH, |b| b.lifetime(lifetime));
    send(server, client.five_tuple, bytes).await
}
