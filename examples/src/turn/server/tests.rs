//! The server behind the real layer, in process: requests signed like a client signs them,
//! relaying through real loopback sockets.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tower::{Layer, Service, ServiceExt};
use turn_auth::credentials::LongTermKey;
use turn_auth::stun::{
    AttrType, Class, Message, MessageBuilder, Method, PasswordAlgorithm, TransactionId,
};
use turn_auth::{
    FiveTuple, NonceManager, NonceSecret, StaticUsers, StunRequest, Transport, TurnAuth,
    TurnAuthLayer,
};

use super::{Limits, TurnServer};
use turn_auth::stun::{ChannelData, encode_channel_data};

const REALM: &str = "example.org";
const WAIT: Duration = Duration::from_secs(5);

struct Harness {
    service: TurnAuth<TurnServer, StaticUsers>,
    server: TurnServer,
    server_addr: SocketAddr,
    nonces: HashMap<SocketAddr, Vec<u8>>,
    next_id: u32,
}

fn code(response: &[u8]) -> Option<u16> {
    let message = Message::parse(response).expect("a well-formed response");
    match message.class() {
        Class::SuccessResponse => None,
        Class::ErrorResponse => message.error_code().unwrap().map(|(code, _)| code),
        class => panic!("not a response: {class:?}"),
    }
}

impl Harness {
    async fn new(limits: Limits) -> Self {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let server_addr = socket.local_addr().unwrap();
        let server = TurnServer::new(socket, limits).unwrap();
        let users = StaticUsers::new(REALM)
            .user("alice", "secret")
            .user("bob", "hunter2");
        let nonces = NonceManager::new(NonceSecret::new(1, [7u8; 32]).unwrap());
        let layer = TurnAuthLayer::builder(REALM, users, nonces).build();
        Self {
            service: layer.layer(server.clone()),
            server,
            server_addr,
            nonces: HashMap::new(),
            next_id: 0,
        }
    }

    fn transaction_id(&mut self) -> TransactionId {
        self.next_id += 1;
        let mut id = [0xA5; 12];
        id[..4].copy_from_slice(&self.next_id.to_be_bytes());
        TransactionId(id)
    }

    async fn send(&mut self, client: SocketAddr, bytes: impl Into<Bytes>) -> Option<Bytes> {
        let five_tuple = FiveTuple {
            client,
            server: self.server_addr,
            transport: Transport::Udp,
        };
        self.service
            .ready()
            .await
            .unwrap()
            .call(StunRequest::new(bytes, five_tuple))
            .await
            .unwrap()
    }

    /// A request signed as `user`, with `id` as its transaction ID; fetches a nonce first
    /// when `client` has none.
    async fn signed_with_id(
        &mut self,
        client: SocketAddr,
        user: (&str, &str),
        method: Method,
        id: TransactionId,
        attributes: impl Fn(MessageBuilder) -> MessageBuilder,
    ) -> Bytes {
        if !self.nonces.contains_key(&client) {
            let challenge_id = self.transaction_id();
            let unsigned = attributes(MessageBuilder::new(Class::Request, method, challenge_id));
            let response = self.send(client, unsigned.build()).await.unwrap();
            assert_eq!(code(&response), Some(401));
            let nonce = Message::parse(&response)
                .unwrap()
                .nonce()
                .unwrap()
                .unwrap()
                .to_vec();
            self.nonces.insert(client, nonce);
        }
        let key = LongTermKey::derive(PasswordAlgorithm::Md5, user.0, REALM, user.1);
        let request = attributes(MessageBuilder::new(Class::Request, method, id))
            .username(user.0)
            .realm(REALM)
            .nonce(&self.nonces[&client])
            .message_integrity(key.as_bytes())
            .fingerprint()
            .build();
        let response = self.send(client, request).await.expect("an answer");
        let message = Message::parse(&response).unwrap();
        assert_eq!(message.transaction_id(), id);
        // Everything the server answers is signed; the layer's own 441 is not.
        if code(&response) != Some(441) {
            assert_eq!(
                message.verify_integrity(key.as_bytes()),
                Some(true),
                "signed with the user's key"
            );
        }
        response
    }

    async fn signed(
        &mut self,
        client: SocketAddr,
        method: Method,
        attributes: impl Fn(MessageBuilder) -> MessageBuilder,
    ) -> Bytes {
        let id = self.transaction_id();
        self.signed_with_id(client, ("alice", "secret"), method, id, attributes)
            .await
    }

    /// Allocates for `client`; returns the relayed address.
    async fn allocate(&mut self, client: SocketAddr) -> SocketAddr {
        let response = self.signed(client, Method::ALLOCATE, udp).await;
        assert_eq!(code(&response), None);
        relayed(&response)
    }
}

fn udp(b: MessageBuilder) -> MessageBuilder {
    b.attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
}

fn relayed(response: &[u8]) -> SocketAddr {
    Message::parse(response)
        .unwrap()
        .xor_address(AttrType::XOR_RELAYED_ADDRESS)
        .unwrap()
        .expect("XOR-RELAYED-ADDRESS")
}

fn lifetime(response: &[u8]) -> Option<u32> {
    Message::parse(response).unwrap().lifetime()
}

fn client(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn peer(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), port))
}

fn channel_bind(number: u16, peer: SocketAddr) -> impl Fn(MessageBuilder) -> MessageBuilder {
    move |b| {
        let mut value = [0u8; 4];
        value[..2].copy_from_slice(&number.to_be_bytes());
        b.attribute(AttrType::CHANNEL_NUMBER, &value)
            .xor_peer_address(peer)
    }
}

#[tokio::test]
async fn allocate_answers_and_refusals() {
    let mut h = Harness::new(Limits {
        max_lifetime: Duration::from_secs(120),
        ..Limits::default()
    })
    .await;
    let a = client(40_001);

    let tcp = h
        .signed(a, Method::ALLOCATE, |b| {
            b.attribute(AttrType::REQUESTED_TRANSPORT, &[6, 0, 0, 0])
        })
        .await;
    assert_eq!(code(&tcp), Some(442));
    let missing = h.signed(a, Method::ALLOCATE, |b| b).await;
    assert_eq!(code(&missing), Some(400));
    let ipv6 = h
        .signed(a, Method::ALLOCATE, |b| {
            udp(b).attribute(AttrType::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0])
        })
        .await;
    assert_eq!(code(&ipv6), Some(440));
    let reserve = h
        .signed(a, Method::ALLOCATE, |b| {
            udp(b).attribute(AttrType::EVEN_PORT, &[0x80])
        })
        .await;
    assert_eq!(code(&reserve), Some(508));
    assert_eq!(h.server.allocations(), 0);

    // Success: relayed on the listening IP, mapped address, lifetime capped at the maximum.
    let id = h.transaction_id();
    let ok = h
        .signed_with_id(a, ("alice", "secret"), Method::ALLOCATE, id, |b| {
            udp(b).lifetime(3600)
        })
        .await;
    assert_eq!(code(&ok), None);
    let relay = relayed(&ok);
    assert_eq!(relay.ip(), h.server_addr.ip());
    assert_eq!(lifetime(&ok), Some(120));
    let mapped = Message::parse(&ok)
        .unwrap()
        .xor_address(AttrType::XOR_MAPPED_ADDRESS)
        .unwrap();
    assert_eq!(mapped, Some(a));

    // A retransmission gets the same allocation; a new Allocate on the 5-tuple gets 437.
    let again = h
        .signed_with_id(a, ("alice", "secret"), Method::ALLOCATE, id, |b| {
            udp(b).lifetime(3600)
        })
        .await;
    assert_eq!(relayed(&again), relay);
    let other = h.signed(a, Method::ALLOCATE, udp).await;
    assert_eq!(code(&other), Some(437));
    assert_eq!(h.server.allocations(), 1);

    // Default lifetime when none is asked: 600 s, under a larger maximum.
    let mut h = Harness::new(Limits::default()).await;
    let ok = h.signed(a, Method::ALLOCATE, udp).await;
    assert_eq!(lifetime(&ok), Some(600));
    // An even port on request.
    let even = h
        .signed(client(40_002), Method::ALLOCATE, |b| {
            udp(b).attribute(AttrType::EVEN_PORT, &[0])
        })
        .await;
    assert_eq!(relayed(&even).port() % 2, 0);
}

#[tokio::test]
async fn allocation_quota() {
    let mut h = Harness::new(Limits {
        max_allocations: 2,
        ..Limits::default()
    })
    .await;
    h.allocate(client(40_011)).await;
    h.allocate(client(40_012)).await;
    let third = h.signed(client(40_013), Method::ALLOCATE, udp).await;
    assert_eq!(code(&third), Some(486));
    // Deleting one makes room.
    let delete = h
        .signed(client(40_011), Method::REFRESH, |b| b.lifetime(0))
        .await;
    assert_eq!(code(&delete), None);
    assert_eq!(lifetime(&delete), Some(0));
    h.allocate(client(40_013)).await;
}

#[tokio::test]
async fn refresh_extends_deletes_and_needs_an_allocation() {
    let mut h = Harness::new(Limits {
        max_lifetime: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let a = client(40_021);
    let none = h.signed(a, Method::REFRESH, |b| b.lifetime(30)).await;
    assert_eq!(code(&none), Some(437));

    h.allocate(a).await;
    let extended = h.signed(a, Method::REFRESH, |b| b.lifetime(30)).await;
    assert_eq!(lifetime(&extended), Some(30));
    let capped = h.signed(a, Method::REFRESH, |b| b.lifetime(100_000)).await;
    assert_eq!(lifetime(&capped), Some(60));
    let default = h.signed(a, Method::REFRESH, |b| b).await;
    assert_eq!(lifetime(&default), Some(60));

    // Another user on this 5-tuple is refused (by the layer: 441).
    let id = h.transaction_id();
    let bob = h
        .signed_with_id(a, ("bob", "hunter2"), Method::REFRESH, id, |b| b)
        .await;
    assert_eq!(code(&bob), Some(441));

    let deleted = h.signed(a, Method::REFRESH, |b| b.lifetime(0)).await;
    assert_eq!(code(&deleted), None);
    assert_eq!(h.server.allocations(), 0);
    let gone = h.signed(a, Method::REFRESH, |b| b.lifetime(30)).await;
    assert_eq!(code(&gone), Some(437));
    let no_permission = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(2, 9))
        })
        .await;
    assert_eq!(code(&no_permission), Some(437));
}

#[tokio::test]
async fn permissions_are_validated_and_bounded() {
    let mut h = Harness::new(Limits {
        max_permissions: 4,
        ..Limits::default()
    })
    .await;
    let a = client(40_031);
    h.allocate(a).await;
    let none = h.signed(a, Method::CREATE_PERMISSION, |b| b).await;
    assert_eq!(code(&none), Some(400));
    let v6 = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(SocketAddr::from((Ipv6Addr::LOCALHOST, 9)))
        })
        .await;
    assert_eq!(code(&v6), Some(443));
    let bad = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.attribute(AttrType::XOR_PEER_ADDRESS, &[0, 1, 2])
        })
        .await;
    assert_eq!(code(&bad), Some(400));

    // Several peers in one request; ports do not matter, IPs do.
    let three = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(2, 1))
                .xor_peer_address(peer(2, 2))
                .xor_peer_address(peer(3, 1))
                .xor_peer_address(peer(4, 1))
        })
        .await;
    assert_eq!(code(&three), None);
    let refresh_existing = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(2, 7))
        })
        .await;
    assert_eq!(code(&refresh_existing), None);
    let fourth = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(5, 1))
        })
        .await;
    assert_eq!(code(&fourth), None);
    let fifth = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(6, 1))
        })
        .await;
    assert_eq!(code(&fifth), Some(508));
}

#[tokio::test]
async fn channel_binding_rules() {
    let mut h = Harness::new(Limits {
        max_channels: 2,
        ..Limits::default()
    })
    .await;
    let a = client(40_041);
    h.allocate(a).await;
    for number in [0x3FFF, 0x8000, 0xFFFF] {
        let refused = h
            .signed(a, Method::CHANNEL_BIND, channel_bind(number, peer(2, 1)))
            .await;
        assert_eq!(code(&refused), Some(400), "{number:#x}");
    }
    let no_peer = h
        .signed(a, Method::CHANNEL_BIND, |b| {
            b.attribute(AttrType::CHANNEL_NUMBER, &[0x40, 0, 0, 0])
        })
        .await;
    assert_eq!(code(&no_peer), Some(400));

    // The server's own listening address is no peer.
    let listen = h.server_addr;
    let itself = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4005, listen))
        .await;
    assert_eq!(code(&itself), Some(403));

    // coturn's client picks numbers up to 0x7FFF (RFC 5766): accepted.
    let ok = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x7110, peer(2, 1)))
        .await;
    assert_eq!(code(&ok), None);
    let refresh = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x7110, peer(2, 1)))
        .await;
    assert_eq!(code(&refresh), None);
    let other_peer = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x7110, peer(2, 2)))
        .await;
    assert_eq!(code(&other_peer), Some(400), "a channel keeps its peer");
    let other_channel = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4001, peer(2, 1)))
        .await;
    assert_eq!(code(&other_channel), Some(400), "a peer keeps its channel");
    let second = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4000, peer(3, 1)))
        .await;
    assert_eq!(code(&second), None);
    let third = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4002, peer(4, 1)))
        .await;
    assert_eq!(code(&third), Some(508));
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_535];
    let (len, from) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("a datagram in time")
        .unwrap();
    buf.truncate(len);
    (buf, from)
}

async fn nothing(socket: &UdpSocket) {
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
    assert!(got.is_err(), "unexpected datagram: {got:?}");
}

#[tokio::test]
async fn relays_both_ways_with_indications_and_channels() {
    let mut h = Harness::new(Limits::default()).await;
    // The client's socket receives what the server relays to it.
    let client_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = client_socket.local_addr().unwrap();
    let peer_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer_socket.local_addr().unwrap();
    let relay = h.allocate(a).await;

    let send = |h: &mut Harness, data: &'static [u8]| {
        let id = h.transaction_id();
        MessageBuilder::new(Class::Indication, Method::SEND, id)
            .xor_peer_address(peer_addr)
            .attribute(AttrType::DATA, data)
            .build()
    };

    // No permission yet: neither direction passes.
    let indication = send(&mut h, b"too early");
    assert_eq!(h.send(a, indication).await, None);
    nothing(&peer_socket).await;
    peer_socket.send_to(b"unsolicited", relay).await.unwrap();
    nothing(&client_socket).await;

    let permitted = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer_addr)
        })
        .await;
    assert_eq!(code(&permitted), None);
    let indication = send(&mut h, b"hello peer");
    assert_eq!(h.send(a, indication).await, None);
    assert_eq!(recv(&peer_socket).await, (b"hello peer".to_vec(), relay));

    // Back as a Data indication, from the server's listening address.
    peer_socket.send_to(b"hello client", relay).await.unwrap();
    let (datagram, from) = recv(&client_socket).await;
    assert_eq!(from, h.server_addr);
    let data = Message::parse(&datagram).unwrap();
    assert_eq!(
        (data.class(), data.method()),
        (Class::Indication, Method::DATA)
    );
    assert_eq!(
        data.xor_address(AttrType::XOR_PEER_ADDRESS).unwrap(),
        Some(peer_addr)
    );
    assert_eq!(data.get(AttrType::DATA), Some(&b"hello client"[..]));

    // With a channel: ChannelData both ways.
    let bound = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4ABC, peer_addr))
        .await;
    assert_eq!(code(&bound), None);
    let framed = encode_channel_data(0x4ABC, b"over the channel").unwrap();
    assert_eq!(h.send(a, framed).await, None);
    assert_eq!(
        recv(&peer_socket).await,
        (b"over the channel".to_vec(), relay)
    );
    peer_socket.send_to(b"and back", relay).await.unwrap();
    let (datagram, _) = recv(&client_socket).await;
    assert_eq!(
        ChannelData::parse(&datagram),
        Ok(ChannelData {
            channel: 0x4ABC,
            data: &b"and back"[..]
        })
    );
    // An unbound channel goes nowhere; nor does another client's ChannelData.
    let stray = encode_channel_data(0x4ABD, b"stray").unwrap();
    assert_eq!(h.send(a, stray).await, None);
    let foreign = encode_channel_data(0x4ABC, b"foreign").unwrap();
    assert_eq!(h.send(client(1), foreign).await, None);
    nothing(&peer_socket).await;

    // Once the allocation is deleted, its relay is gone.
    let deleted = h.signed(a, Method::REFRESH, |b| b.lifetime(0)).await;
    assert_eq!(code(&deleted), None);
    let framed = encode_channel_data(0x4ABC, b"after delete").unwrap();
    assert_eq!(h.send(a, framed).await, None);
    nothing(&peer_socket).await;
}

#[tokio::test]
async fn expired_state_is_swept() {
    let mut h = Harness::new(Limits {
        max_lifetime: Duration::from_secs(2),
        ..Limits::default()
    })
    .await;
    let a = client(40_061);
    h.allocate(a).await;
    let permitted = h
        .signed(a, Method::CREATE_PERMISSION, |b| {
            b.xor_peer_address(peer(2, 1))
        })
        .await;
    assert_eq!(code(&permitted), None);
    let now = tokio::time::Instant::now();
    assert_eq!(h.server.inner.sweep(now + Duration::from_secs(1)), 0);
    assert_eq!(h.server.inner.sweep(now + Duration::from_secs(3)), 1);
    assert_eq!(h.server.allocations(), 0);

    // Permissions and channels expire inside a live allocation.
    let mut h = Harness::new(Limits::default()).await;
    h.allocate(a).await;
    let bound = h
        .signed(a, Method::CHANNEL_BIND, channel_bind(0x4000, peer(2, 1)))
        .await;
    assert_eq!(code(&bound), None);
    let later = tokio::time::Instant::now() + super::PERMISSION_LIFETIME + Duration::from_secs(1);
    {
        let allocations = super::lock(&h.server.inner.allocations);
        let state = super::lock(
            &allocations[&FiveTuple {
                client: a,
                server: h.server_addr,
                transport: Transport::Udp,
            }]
                .state,
        );
        assert!(!state.permitted(peer(2, 1).ip(), later));
        assert_eq!(state.peer_of(0x4000, later), Some(peer(2, 1)));
        let much_later = later + super::CHANNEL_LIFETIME;
        assert_eq!(state.peer_of(0x4000, much_later), None);
    }
    h.server.inner.sweep(later);
    let allocations = super::lock(&h.server.inner.allocations);
    let state = super::lock(&allocations.values().next().unwrap().state);
    assert!(state.permissions.is_empty());
    assert_eq!(state.channels.len(), 1);
}

#[tokio::test]
async fn unauthenticated_binding_and_garbage() {
    let mut h = Harness::new(Limits::default()).await;
    let a = client(40_071);
    let binding =
        MessageBuilder::new(Class::Request, Method::BINDING, TransactionId([1; 12])).build();
    let response = h.send(a, binding).await.expect("a Binding response");
    let message = Message::parse(&response).unwrap();
    assert_eq!(message.class(), Class::SuccessResponse);
    assert_eq!(
        message.xor_address(AttrType::XOR_MAPPED_ADDRESS).unwrap(),
        Some(a)
    );
    assert!(!message.has_fingerprint(), "only when the request had one");

    for garbage in [
        &b""[..],
        b"\x40",
        b"\x40\x00\xff\xff",
        b"\x7f\xff\x00\x00",
        b"\x00\x01\x00\x00\x21\x12\xa4\x42",
        &[0xFF; 2000],
    ] {
        assert_eq!(h.send(a, garbage.to_vec()).await, None);
    }
    // A Data indication from a client is not ours to act on.
    let data = MessageBuilder::new(Class::Indication, Method::DATA, TransactionId([2; 12]))
        .xor_peer_address(peer(2, 1))
        .attribute(AttrType::DATA, b"x")
        .build();
    assert_eq!(h.send(a, data).await, None);
}
