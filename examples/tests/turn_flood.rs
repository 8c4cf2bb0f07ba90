//! The TURN server (`examples::turn::UdpTurn`, what the `turn-server` and `gateway`
//! binaries run) under a flood of unauthenticated Allocates, password guesses and garbage
//! from 2000 source ports, while an authenticated webrtc-rs client keeps relaying through
//! its allocation to an echoing peer.
//!
//! Asserted: every flooding port is challenged (`401`, counted), its guess refused
//! (`401`); the per-client state (the server's allocations and the layer's sessions) never
//! holds more than the one authenticated client; the relay echoes every ping during the
//! flood (a ping may be resent, UDP being UDP) and after it without a loss.

#[path = "support/turn_client.rs"]
mod turn_client;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use examples::turn::{Limits, UdpTurn};
use tokio::net::UdpSocket;
use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
use turn_auth::{NonceManager, NonceSecret, StaticUsers, TurnAuthLayer};
use turn_client::noise;
use webrtc_util::Conn;

const REALM: &str = "example.org";
/// Source ports flooding, in all.
const FLOODERS: usize = 2000;
/// Source ports flooding at once.
const WAVE: usize = 200;
/// How long a flooding port waits for an answer before resending (a real client's RTO).
const RESEND: Duration = Duration::from_millis(250);
/// Sends per request before a flooding port gives up.
const TRIES: usize = 8;

fn transaction(n: u64, step: u8) -> TransactionId {
    let mut id = [step; 12];
    id[..8].copy_from_slice(&n.to_be_bytes());
    TransactionId(id)
}

/// An answer's error code (`None`: a success) and nonce.
type Answer = (Option<u16>, Option<Vec<u8>>);

/// Sends `request` until an answer to it arrives (resending every [`RESEND`], at most
/// [`TRIES`] times); `None` when none did.
async fn ask(socket: &UdpSocket, request: &[u8], id: TransactionId) -> Option<Answer> {
    let mut buf = vec![0u8; 2048];
    for _ in 0..TRIES {
        socket.send(request).await.ok()?;
        let deadline = tokio::time::Instant::now() + RESEND;
        while let Ok(Ok(len)) = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            let Ok(answer) = Message::parse(&buf[..len]) else {
                continue;
            };
            if answer.transaction_id() == id {
                let code = answer.error_code().ok().flatten().map(|(code, _)| code);
                let nonce = answer.nonce().ok().flatten().map(<[u8]>::to_vec);
                return Some((code, nonce));
            }
        }
    }
    None
}

#[derive(Debug, Default)]
struct Flood {
    challenged_401: AtomicU64,
    guesses_refused_401: AtomicU64,
    unanswered: AtomicU64,
    other: AtomicU64,
    garbage: AtomicU64,
}

/// One flooding source port: garbage, an unauthenticated Allocate, then a guess of
/// alice's password on the nonce it was given, then more garbage.
async fn flood_from(server: SocketAddr, n: u64, seen: Arc<Flood>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    // A Binding request whose FINGERPRINT is wrong: STUN the layer must drop silently.
    let mut bad_fingerprint =
        MessageBuilder::new(Class::Request, Method::BINDING, transaction(n, 0))
            .fingerprint()
            .build();
    *bad_fingerprint.last_mut().unwrap() ^= 1;
    let garbage = [
        bad_fingerprint,
        noise(64 + (n as usize % 512), n),
        vec![0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4],
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for datagram in &garbage {
        let _ = socket.send(datagram).await;
        seen.garbage.fetch_add(1, Ordering::Relaxed);
    }
    let id = transaction(n, 1);
    let allocate = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
        .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .build();
    let nonce = match ask(&socket, &allocate, id).await {
        Some((Some(401), nonce)) => {
            seen.challenged_401.fetch_add(1, Ordering::Relaxed);
            nonce
        }
        None => {
            seen.unanswered.fetch_add(1, Ordering::Relaxed);
            None
        }
        Some(_) => {
            seen.other.fetch_add(1, Ordering::Relaxed);
            None
        }
    };
    if let Some(nonce) = nonce {
        let id = transaction(n, 2);
        let guess = MessageBuilder::new(Class::Request, Method::ALLOCATE, id)
            .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
            .username("alice")
            .realm(REALM)
            .nonce(&nonce)
            .message_integrity(&noise(16, n ^ 0xDEAD))
            .build();
        match ask(&socket, &guess, id).await {
            Some((Some(401), _)) => seen.guesses_refused_401.fetch_add(1, Ordering::Relaxed),
            None => seen.unanswered.fetch_add(1, Ordering::Relaxed),
            Some(_) => seen.other.fetch_add(1, Ordering::Relaxed),
        };
    }
    let _ = socket.send(&noise(1200, n.wrapping_mul(31))).await;
    seen.garbage.fetch_add(1, Ordering::Relaxed);
}

/// Sends `message` to `peer` through `relay` and waits for its echo, resending up to 5
/// times (500 ms apart); returns how many sends it took.
async fn echoed(relay: &impl Conn, peer: SocketAddr, message: &[u8]) -> usize {
    let mut buf = vec![0u8; 2048];
    for attempt in 1..=5 {
        tokio::time::timeout(Duration::from_secs(5), relay.send_to(message, peer))
            .await
            .expect("send_to in time")
            .expect("send through the relay");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(received) = tokio::time::timeout_at(deadline, relay.recv_from(&mut buf)).await
        {
            let (len, from) = received.unwrap();
            if from == peer && &buf[..len] == message {
                return attempt;
            }
        }
    }
    panic!(
        "no echo of {:?} through the relay after 5 sends",
        String::from_utf8_lossy(message)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unauthenticated_allocates_leaves_state_bounded_and_relays_working() {
    let users = Arc::new(StaticUsers::new(REALM).user("alice", "secret"));
    let layer = TurnAuthLayer::builder(
        REALM,
        users,
        NonceManager::new(NonceSecret::generate(1).unwrap()),
    )
    .build();
    let turn = UdpTurn::bind(
        "127.0.0.1:0".parse().unwrap(),
        layer.clone(),
        Limits::default(),
    )
    .await
    .unwrap();
    let server = turn.local_addr();
    let stats = turn.stats();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(turn.run(async move {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    // The authenticated client and its echoing peer.
    let (client, _) = turn_client::alice(server, REALM).await;
    let relay = client.allocate().await.expect("allocate with alice/secret");
    let relay_addr = relay.local_addr().unwrap();
    let (peer_addr, echo) = turn_client::echo_peer(relay_addr).await;
    assert_eq!(echoed(&relay, peer_addr, b"before").await, 1);
    assert_eq!((stats.allocations(), layer.allocations()), (1, 1));

    // The flood, wave after wave, while a watcher samples the per-client state.
    let flood = Arc::new(Flood::default());
    let flooding = Arc::new(AtomicBool::new(true));
    let most_allocations = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (flooding, most, stats, layer) = (
            Arc::clone(&flooding),
            Arc::clone(&most_allocations),
            stats.clone(),
            layer.clone(),
        );
        tokio::spawn(async move {
            while flooding.load(Ordering::Relaxed) {
                most.fetch_max(
                    stats.allocations().max(layer.allocations()),
                    Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let flooder = {
        let flood = Arc::clone(&flood);
        tokio::spawn(async move {
            for wave in 0..FLOODERS / WAVE {
                let mut ports = Vec::with_capacity(WAVE);
                for i in 0..WAVE {
                    let n = (wave * WAVE + i) as u64;
                    ports.push(tokio::spawn(flood_from(server, n, Arc::clone(&flood))));
                }
                for port in ports {
                    port.await.unwrap();
                }
            }
        })
    };
    // Relaying all the while.
    let mut pings = 0;
    let mut resends = 0;
    while !flooder.is_finished() {
        let message = format!("during {pings}");
        resends += echoed(&relay, peer_addr, message.as_bytes()).await - 1;
        pings += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    flooder.await.unwrap();
    let flood_time = started.elapsed();
    flooding.store(false, Ordering::Relaxed);
    watcher.await.unwrap();

    // After the flood: the same allocation relays without a loss.
    for i in 0..10 {
        let message = format!("after {i}");
        assert_eq!(
            echoed(&relay, peer_addr, message.as_bytes()).await,
            1,
            "ping {i} after the flood"
        );
    }
    assert_eq!(relay.local_addr().unwrap(), relay_addr, "the same relay");

    let telemetry = stats.telemetry();
    println!(
        "flood of {FLOODERS} ports in {flood_time:?}: {flood:?}; {pings} pings relayed during \
         it ({resends} resent); most allocations seen {}; {telemetry:?}",
        most_allocations.load(Ordering::Relaxed)
    );
    let flooders = FLOODERS as u64;
    assert_eq!(
        flood.challenged_401.load(Ordering::Relaxed),
        flooders,
        "{flood:?}"
    );
    assert_eq!(
        flood.guesses_refused_401.load(Ordering::Relaxed),
        flooders,
        "{flood:?}"
    );
    assert_eq!(flood.other.load(Ordering::Relaxed), 0, "{flood:?}");
    assert!(
        pings >= 5,
        "the relay was exercised during the flood: {pings}"
    );
    // The layer counted the flood (resends included) and let none of it in.
    assert!(telemetry.challenges_401 >= flooders, "{telemetry:?}");
    assert!(telemetry.rejected_401 >= flooders, "{telemetry:?}");
    // Garbage is sent once, never resent: the kernel may drop some of it when the
    // server's socket buffer is full, so only its arrival is asserted.
    assert!(telemetry.dropped >= 1, "{telemetry:?}");
    // Per-client state: only the authenticated client's, throughout and after.
    assert_eq!(most_allocations.load(Ordering::Relaxed), 1);
    assert_eq!((stats.allocations(), layer.allocations()), (1, 1));

    echo.abort();
    relay.close().await.unwrap();
    client.close().await.unwrap();
    let _ = stop_server.send(());
    tokio::time::timeout(Duration::from_secs(5), server_task)
        .await
        .expect("the server stops")
        .unwrap();
}
