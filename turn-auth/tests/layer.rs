//! The layer's answers, in RFC 8489 §9.2.4 order, and the state it keeps.

mod support;

use std::num::NonZeroUsize;
use std::time::Duration;

use support::*;
use turn_auth::clock::ManualClock;
use turn_auth::credentials::LongTermKey;
use turn_auth::nonce::NONCE_COOKIE;
use turn_auth::stun::{AttrType, Class, MessageBuilder, Method, PasswordAlgorithm, TransactionId};
use turn_auth::{NonceManager, NoncePolicy, NonceSecret, RestSecrets, StaticUsers, TurnAuthLayer};

fn layer(clock: &ManualClock) -> TurnAuthLayer<StaticUsers> {
    builder(clock).software("turn-auth tests").build()
}

struct Setup {
    clock: ManualClock,
    turn: MiniTurn,
    layer: TurnAuthLayer<StaticUsers>,
    server: Server,
}

fn setup() -> Setup {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let layer = layer(&clock);
    let server = server(&layer, &turn);
    Setup {
        clock,
        turn,
        layer,
        server,
    }
}

/// Challenge, then the nonce: what every client does first.
async fn authenticate(server: &mut Server, client: &mut TestClient) {
    authenticate_any(server, client).await;
}

async fn authenticate_any<S>(server: &mut S, client: &mut TestClient)
where
    S: tower::Service<turn_auth::StunRequest, Response = Option<bytes::Bytes>>,
    S::Error: std::fmt::Debug,
{
    let challenge = send(
        server,
        client.five_tuple,
        client.request(Method::ALLOCATE, |b| b),
    )
    .await;
    client.nonce = Some(challenge.nonce());
}

#[tokio::test]
async fn unauthenticated_request_is_challenged_with_realm_and_fresh_nonce() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    let answer = allocate(&mut s.server, &mut client).await;
    assert_eq!(answer.error_code(), Some(401));
    let message = answer.message();
    assert_eq!(message.realm().unwrap(), Some(REALM));
    assert_eq!(
        message.get(AttrType::SOFTWARE),
        Some(&b"turn-auth tests"[..])
    );
    assert!(
        !message.has_integrity(),
        "a 401 carries no MESSAGE-INTEGRITY"
    );
    let nonce = answer.nonce();
    assert!(nonce.starts_with(NONCE_COOKIE.as_bytes()));
    assert_eq!(
        message.password_algorithms().unwrap().map(|a| a.count()),
        None,
        "not advertised"
    );
    // RFC 8489: the same nonce only for the same source address and port.
    let other = five_tuple("192.0.2.1:5001");
    let answer2 = send(
        &mut s.server,
        other,
        client.request(Method::ALLOCATE, |b| b),
    )
    .await;
    assert_ne!(answer2.nonce(), nonce);
    assert_eq!(s.layer.telemetry().challenges_401, 2);
    assert!(
        s.turn.seen.lock().unwrap().is_empty(),
        "the TURN server saw nothing"
    );
}

#[tokio::test]
async fn authenticated_requests_reach_the_server_and_responses_are_signed() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut s.server, &mut client).await;
    let answer = allocate(&mut s.server, &mut client).await;
    assert!(answer.is_success());
    let key = LongTermKey::derive(PasswordAlgorithm::Md5, "alice", REALM, "secret");
    let message = answer.message();
    assert_eq!(message.verify_integrity(key.as_bytes()), Some(true));
    assert_eq!(
        message.verify_fingerprint(),
        Some(true),
        "the request had a FINGERPRINT"
    );
    assert_eq!(*s.turn.seen.lock().unwrap(), [(Method::ALLOCATE, true)]);
    assert_eq!(
        s.layer.allocations(),
        1,
        "learned from the success response"
    );
    assert_eq!(s.layer.telemetry().authenticated, 1);

    // An authenticated 437 from the server carries REALM, a fresh NONCE and integrity.
    let again = allocate(&mut s.server, &mut client).await;
    assert_eq!(again.error_code(), Some(437));
    let message = again.message();
    assert_eq!(message.realm().unwrap(), Some(REALM));
    assert!(message.nonce().unwrap().is_some());
    assert_eq!(message.verify_integrity(key.as_bytes()), Some(true));

    // Refresh with LIFETIME 0 deletes the allocation, and the layer forgets it.
    let bye = refresh(&mut s.server, &mut client, 0).await;
    assert!(bye.is_success());
    assert_eq!(s.layer.allocations(), 0);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_401_after_integrity_fails() {
    let mut s = setup();
    for (user, password) in [("alice", "wrong"), ("mallory", "secret")] {
        let mut client = TestClient::new("192.0.2.1:5000", user, password);
        authenticate(&mut s.server, &mut client).await;
        let answer = allocate(&mut s.server, &mut client).await;
        assert_eq!(answer.error_code(), Some(401), "{user}");
    }
    assert_eq!(s.layer.telemetry().rejected_401, 2);
    assert!(s.turn.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn stale_nonce_is_judged_only_after_integrity_verifies() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "wrong-password");
    authenticate(&mut s.server, &mut client).await;
    s.clock.advance(Duration::from_secs(3600));
    // Stale and unauthentic: 401, not 438 (a 438 only ever answers an authentic request).
    let answer = allocate(&mut s.server, &mut client).await;
    assert_eq!(answer.error_code(), Some(401));
    client.password = "secret".into();
    let answer = allocate(&mut s.server, &mut client).await;
    assert_eq!(answer.error_code(), Some(438));
    let message = answer.message();
    assert_eq!(message.realm().unwrap(), Some(REALM));
    assert!(!message.has_integrity());
    // The client retries with the new nonce: recovered.
    client.nonce = Some(answer.nonce());
    assert!(allocate(&mut s.server, &mut client).await.is_success());
    let t = s.layer.telemetry();
    assert_eq!((t.stale_nonces_438, t.stale_nonces_recovered), (1, 1));
}

#[tokio::test]
async fn a_client_that_never_comes_back_after_438_is_counted_when_the_window_passes() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut s.server, &mut client).await;
    s.clock.advance(Duration::from_secs(601));
    let answer = allocate(&mut s.server, &mut client).await;
    assert_eq!(answer.error_code(), Some(438));
    assert_eq!(
        s.layer.telemetry().stale_nonces_unrecovered,
        0,
        "still within the window"
    );
    s.clock
        .advance(turn_auth::middleware::DEFAULT_RECOVERY_WINDOW + Duration::from_secs(1));
    assert_eq!(s.layer.telemetry().stale_nonces_unrecovered, 1);
}

#[tokio::test]
async fn missing_attributes_get_400() {
    let mut s = setup();
    let key = LongTermKey::derive(PasswordAlgorithm::Md5, "alice", REALM, "secret");
    let id = TransactionId([1; 12]);
    let without_nonce = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
        .username("alice")
        .realm(REALM)
        .message_integrity(key.as_bytes())
        .build();
    let without_username = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
        .realm(REALM)
        .nonce(b"obMatJos2AAAAxxxx")
        .message_integrity(key.as_bytes())
        .build();
    for bytes in [without_nonce, without_username] {
        let answer = send(&mut s.server, five_tuple("192.0.2.1:5000"), bytes).await;
        assert_eq!(answer.error_code(), Some(400));
    }
    assert_eq!(s.layer.telemetry().bad_requests_400, 2);
}

#[tokio::test]
async fn another_username_on_an_allocations_five_tuple_gets_441() {
    let mut s = setup();
    let mut alice = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut s.server, &mut alice).await;
    assert!(allocate(&mut s.server, &mut alice).await.is_success());
    let mut bob = TestClient::new("192.0.2.1:5000", "bob", "hunter2");
    bob.nonce = alice.nonce.clone();
    let answer = refresh(&mut s.server, &mut bob, 600).await;
    assert_eq!(answer.error_code(), Some(441));
    assert_eq!(s.layer.telemetry().wrong_credentials_441, 1);
}

#[tokio::test]
async fn unknown_comprehension_required_attributes_get_a_signed_420() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut s.server, &mut client).await;
    let bytes = client.request(Method::ALLOCATE, |b| b.attribute(AttrType(0x7777), b"?"));
    let answer = send(&mut s.server, client.five_tuple, bytes).await;
    assert_eq!(answer.error_code(), Some(420));
    let message = answer.message();
    assert_eq!(
        message.get(AttrType::UNKNOWN_ATTRIBUTES),
        Some(&[0x77, 0x77][..])
    );
    let key = LongTermKey::derive(PasswordAlgorithm::Md5, "alice", REALM, "secret");
    assert_eq!(message.verify_integrity(key.as_bytes()), Some(true));
    // Comprehension-optional unknowns (>= 0x8000) are fine.
    let bytes = client.request(Method::ALLOCATE, |b| b.attribute(AttrType(0xC001), b"ok"));
    assert!(
        send(&mut s.server, client.five_tuple, bytes)
            .await
            .is_success()
    );
}

#[tokio::test]
async fn binding_indications_and_channel_data_pass_through_unauthenticated() {
    let mut s = setup();
    let id = TransactionId([9; 12]);
    let binding = MessageBuilder::new(Class::Request, Method::BINDING, id).build();
    let send_indication = MessageBuilder::new(Class::Indication, Method::SEND, id).build();
    let channel_data = turn_auth::stun::encode_channel_data(0x4001, b"media").unwrap();
    for bytes in [binding, send_indication, channel_data] {
        send(&mut s.server, five_tuple("192.0.2.1:5000"), bytes).await;
    }
    let seen = s.turn.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [(Method::BINDING, false), (Method::SEND, false)],
        "ChannelData is not STUN"
    );
    assert_eq!(s.layer.telemetry().challenges_401, 0);
}

#[tokio::test]
async fn malformed_messages_and_bad_fingerprints_are_dropped_silently() {
    let mut s = setup();
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut s.server, &mut client).await;
    let mut bad_fingerprint = client.request(Method::ALLOCATE, |b| b);
    let last = bad_fingerprint.len() - 1;
    bad_fingerprint[last] ^= 1;
    let mut truncated = client.request(Method::ALLOCATE, |b| b);
    truncated.truncate(30);
    let mut bad_length = client.request(Method::ALLOCATE, |b| b);
    bad_length[3] = bad_length[3].wrapping_add(4);
    for bytes in [bad_fingerprint, bad_length] {
        assert!(
            send(&mut s.server, client.five_tuple, bytes)
                .await
                .bytes
                .is_none()
        );
    }
    assert_eq!(s.layer.telemetry().dropped, 2);
    // A truncated datagram no longer looks like STUN at all: the TURN server's problem.
    send(&mut s.server, client.five_tuple, truncated).await;
}

#[tokio::test]
async fn the_allocation_table_is_bounded() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let layer = builder(&clock)
        .session_capacity(NonZeroUsize::new(8).unwrap())
        .build();
    let mut server = server(&layer, &turn);
    for port in 0..50u16 {
        let mut client = TestClient::new(&format!("192.0.2.1:{}", 6000 + port), "alice", "secret");
        authenticate(&mut server, &mut client).await;
        assert!(allocate(&mut server, &mut client).await.is_success());
    }
    assert_eq!(layer.allocations(), 8);
}

#[tokio::test]
async fn rest_credentials_expire_on_every_request() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let rest = RestSecrets::new("north");
    let layer = TurnAuthLayer::builder(
        REALM,
        rest.clone(),
        NonceManager::new(NonceSecret::new(1, [5u8; 32]).unwrap()),
    )
    .clock(clock.clone())
    .policy(NoncePolicy::AllocationBound {
        lifetime: Duration::from_secs(600),
        max_session: Duration::from_secs(86_400),
    })
    .build();
    let mut server = tower::Layer::layer(&layer, turn.clone());
    let (username, password) = rest.mint("alice", Duration::from_secs(120), T0);
    let mut client = TestClient::new("192.0.2.1:5000", &username, &password);
    authenticate_any(&mut server, &mut client).await;
    assert!(allocate(&mut server, &mut client).await.is_success());
    clock.advance(Duration::from_secs(60));
    let refresh = client.request(Method::REFRESH, |b| b.lifetime(600));
    assert!(
        send(&mut server, client.five_tuple, refresh)
            .await
            .is_success()
    );
    // Past the credential's expiry, even a live allocation's Refresh is refused.
    clock.advance(Duration::from_secs(61));
    let refresh = client.request(Method::REFRESH, |b| b.lifetime(600));
    assert_eq!(
        send(&mut server, client.five_tuple, refresh)
            .await
            .error_code(),
        Some(401)
    );
}

#[tokio::test]
async fn sha256_password_algorithm_when_advertised_and_no_downgrade() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let layer = builder(&clock).advertise_password_algorithms(true).build();
    let mut server = server(&layer, &turn);
    let ft = five_tuple("192.0.2.1:5000");
    let id = TransactionId([3; 12]);
    let first = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
        .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .build();
    let challenge = send(&mut server, ft, first).await;
    assert_eq!(challenge.error_code(), Some(401));
    let nonce = challenge.nonce();
    assert!(
        nonce.starts_with(b"obMatJos2gAAA"),
        "{}",
        String::from_utf8_lossy(&nonce)
    );
    let offered: Vec<u16> = challenge
        .message()
        .password_algorithms()
        .unwrap()
        .expect("PASSWORD-ALGORITHMS")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        offered,
        [
            PasswordAlgorithm::Sha256.wire(),
            PasswordAlgorithm::Md5.wire()
        ]
    );

    let key = LongTermKey::derive(PasswordAlgorithm::Sha256, "alice", REALM, "secret");
    let request = |echo: &[PasswordAlgorithm], chosen: Option<PasswordAlgorithm>| {
        let mut b = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
            .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .username("alice")
            .realm(REALM)
            .nonce(&nonce);
        if !echo.is_empty() {
            b = b.password_algorithms(echo);
        }
        if let Some(chosen) = chosen {
            b = b.password_algorithm(chosen);
        }
        b.message_integrity_sha256(key.as_bytes()).build()
    };
    // Downgrade attempts: no echo, or an echo that drops SHA-256.
    let no_echo = send(
        &mut server,
        ft,
        request(&[], Some(PasswordAlgorithm::Sha256)),
    )
    .await;
    assert_eq!(no_echo.error_code(), Some(400));
    let stripped = send(
        &mut server,
        ft,
        request(&[PasswordAlgorithm::Md5], Some(PasswordAlgorithm::Md5)),
    )
    .await;
    assert_eq!(stripped.error_code(), Some(400));

    let ok = send(
        &mut server,
        ft,
        request(
            &[PasswordAlgorithm::Sha256, PasswordAlgorithm::Md5],
            Some(PasswordAlgorithm::Sha256),
        ),
    )
    .await;
    assert!(ok.is_success(), "{:?}", ok.error_code());
    assert_eq!(
        ok.message().verify_integrity_sha256(key.as_bytes()),
        Some(true)
    );
}

/// A clock with sub-millisecond readings, like the system clock (nonces carry milliseconds).
#[derive(Clone)]
struct SubMillisecondClock(ManualClock);

impl turn_auth::clock::Clock for SubMillisecondClock {
    fn now(&self) -> Duration {
        self.0.now() + Duration::from_micros(400)
    }
}

#[tokio::test]
async fn a_retry_with_the_438s_own_nonce_counts_as_recovered_at_any_clock_resolution() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let layer = builder(&clock)
        .clock(SubMillisecondClock(clock.clone()))
        .policy(NoncePolicy::Strict {
            lifetime: Duration::from_secs(1),
        })
        .build();
    let mut server = server(&layer, &turn);
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    authenticate(&mut server, &mut client).await;
    assert!(allocate(&mut server, &mut client).await.is_success());
    for round in 1..=3 {
        clock.advance(Duration::from_secs(2));
        let stale = refresh(&mut server, &mut client, 600).await;
        assert_eq!(stale.error_code(), Some(438));
        client.nonce = Some(stale.nonce());
        let retried = refresh(&mut server, &mut client, 600).await;
        assert!(retried.is_success());
        let t = layer.telemetry();
        assert_eq!(
            (t.stale_nonces_438, t.stale_nonces_recovered),
            (round, round)
        );
    }
    clock.advance(Duration::from_secs(3600));
    assert_eq!(layer.telemetry().stale_nonces_unrecovered, 0);
}

/// A store that answers asynchronously, as a database lookup would.
#[derive(Clone)]
struct SlowStore(StaticUsers);

impl turn_auth::CredentialStore for SlowStore {
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        Vec<turn_auth::credentials::Credential>,
                        turn_auth::credentials::StoreError,
                    >,
                > + Send,
        >,
    >;

    fn lookup(
        &self,
        username: &str,
        realm: &str,
        algorithm: PasswordAlgorithm,
        now: Duration,
    ) -> Self::Future {
        let ready = self.0.lookup(username, realm, algorithm, now);
        Box::pin(async move {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            ready.await
        })
    }
}

#[tokio::test]
async fn an_asynchronous_credential_store_is_awaited() {
    let clock = ManualClock::new(T0);
    let turn = MiniTurn::new(clock.clone(), Duration::from_secs(600));
    let layer = TurnAuthLayer::builder(
        REALM,
        SlowStore(StaticUsers::new(REALM).user("alice", "secret")),
        NonceManager::new(NonceSecret::new(1, [5u8; 32]).unwrap()),
    )
    .clock(clock.clone())
    .build();
    let mut server = tower::Layer::layer(&layer, turn.clone());
    let mut client = TestClient::new("192.0.2.1:5000", "alice", "secret");
    let challenge = allocate(&mut server, &mut client).await;
    client.nonce = Some(challenge.nonce());
    let answer = allocate(&mut server, &mut client).await;
    assert!(answer.is_success());
    client.password = "wrong".into();
    let answer = send(
        &mut server,
        client.five_tuple,
        client.request(Method::REFRESH, |b| b),
    )
    .await;
    assert_eq!(answer.error_code(), Some(401));
}
