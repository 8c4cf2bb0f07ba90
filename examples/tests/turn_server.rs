//! Runs the `turn-server` example on loopback and relays through it with real TURN clients:
//! coturn's `turnutils_uclient` (static and REST credentials, a wrong password) and the
//! webrtc-rs `turn` client (refreshing across nonce expiry), then throws garbage at it.

#[path = "support/clients.rs"]
mod clients;
#[path = "support/turn_client.rs"]
mod turn_client;
#[path = "support/uclient.rs"]
mod uclient;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use clients::run_bounded;
use testkit::ChildGuard;
use turn_auth::stun::{AttrType, Class, Message, MessageBuilder, Method, TransactionId};
use turn_client::noise;
use uclient::{Totals, totals, uclient_args};
use webrtc_util::Conn;

/// Every external client run is bounded by this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

struct Server {
    child: ChildGuard,
    addr: SocketAddr,
    /// The ready-to-paste client command from the banner.
    uclient_command: String,
}

/// Starts the example on a free loopback port with `args` after `--listen` and `--realm`.
fn start_server(args: &[&str]) -> Server {
    start_server_with(args, |_| {})
}

fn start_server_with(args: &[&str], configure: impl FnOnce(&mut Command)) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_turn-server"));
    command
        .args(["--listen", "127.0.0.1:0", "--realm", "example.org"])
        .args(args)
        .env("RUST_LOG", "warn");
    configure(&mut command);
    let mut child = ChildGuard::spawn(command).expect("start turn-server");
    let lines = child
        .read_until(Duration::from_secs(30), |line| {
            line.trim_start().starts_with("turnutils_uclient ")
        })
        .expect("turn-server prints its address, then a turnutils_uclient command");
    let addr = lines[0]
        .strip_prefix("turn-server listening on udp://")
        .unwrap_or_else(|| panic!("the first line says where it listens: {lines:?}"))
        .parse()
        .expect("an IP:PORT address");
    let uclient_command = lines.last().unwrap().trim().to_owned();
    Server {
        child,
        addr,
        uclient_command,
    }
}

#[test]
fn uclient_relays_between_two_clients_with_static_credentials() {
    let Some(uclient) = testkit::require_program("turnutils_uclient") else {
        return;
    };
    let server = start_server(&["--user", "alice:secret"]);
    let args = uclient_args(&["-u", "alice", "-w", "secret"], server.addr);
    // The banner's command is exactly this one: ready to paste.
    assert_eq!(
        server.uclient_command,
        format!("turnutils_uclient {}", args.join(" "))
    );

    let (status, output) = run_bounded(&uclient, &args, CLIENT_TIMEOUT);
    assert!(status.success(), "{status}\n{output}");
    let totals = totals(&output).unwrap_or_else(|| panic!("no totals in:\n{output}"));
    // Two clients, ten messages each, every one relayed through the other's allocation.
    assert_eq!(
        totals,
        Totals {
            sent: 20,
            received: 20,
            lost: 0
        },
        "{output}"
    );
}

#[test]
fn uclient_relays_with_send_indications() {
    let Some(uclient) = testkit::require_program("turnutils_uclient") else {
        return;
    };
    let server = start_server(&["--user", "alice:secret"]);
    // `-s`: Send and Data indications instead of channels.
    let (status, output) = run_bounded(
        &uclient,
        &uclient_args(&["-s", "-u", "alice", "-w", "secret"], server.addr),
        CLIENT_TIMEOUT,
    );
    assert!(status.success(), "{status}\n{output}");
    let totals = totals(&output).unwrap_or_else(|| panic!("no totals in:\n{output}"));
    assert_eq!((totals.received, totals.lost), (20, 0), "{output}");
}

#[test]
fn uclient_relays_with_rest_credentials() {
    let Some(uclient) = testkit::require_program("turnutils_uclient") else {
        return;
    };
    let server = start_server(&["--rest-secret", "north"]);
    // `-W`: the client mints `<now + 1 day>:alice` and its HMAC password itself.
    let args = uclient_args(&["-W", "north", "-u", "alice"], server.addr);
    let (status, output) = run_bounded(&uclient, &args, CLIENT_TIMEOUT);
    assert!(status.success(), "{status}\n{output}");
    let totals = totals(&output).unwrap_or_else(|| panic!("no totals in:\n{output}"));
    assert_eq!((totals.received, totals.lost), (20, 0), "{output}");

    // A different secret mints passwords the server refuses.
    let args = uclient_args(&["-W", "south", "-u", "alice"], server.addr);
    let (status, output) = run_bounded(&uclient, &args, CLIENT_TIMEOUT);
    assert!(!status.success(), "{output}");
    assert!(output.contains("Cannot complete Allocation"), "{output}");
}

#[test]
fn uclient_with_a_wrong_password_cannot_allocate() {
    let Some(uclient) = testkit::require_program("turnutils_uclient") else {
        return;
    };
    let server = start_server(&["--user", "alice:secret"]);
    let (status, output) = run_bounded(
        &uclient,
        &uclient_args(&["-u", "alice", "-w", "wrong"], server.addr),
        CLIENT_TIMEOUT,
    );
    assert!(!status.success(), "the client reports failure: {output}");
    assert!(output.contains("Cannot complete Allocation"), "{output}");
    assert_eq!(totals(&output), None, "nothing was relayed: {output}");
    // And the server is still there for the right password.
    let mut server = server;
    assert!(server.child.is_running());
    let (status, output) = run_bounded(
        &uclient,
        &uclient_args(&["-u", "alice", "-w", "secret"], server.addr),
        CLIENT_TIMEOUT,
    );
    assert!(status.success(), "{output}");
}

/// Sends SIGINT to `pid` (the server logs its counters and exits).
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

#[test]
fn webrtc_rs_client_keeps_relaying_across_nonce_expiry_and_refreshes() {
    let log = std::env::temp_dir().join(format!("turn-server-webrtc-{}.log", std::process::id()));
    let log_for_child = log.clone();
    // Nonces go stale after 1 s and allocations live 3 s: the client refreshes every 1.5 s,
    // each time on a stale nonce, so every refresh takes a 438 and a retry.
    let mut server = start_server_with(
        &[
            "--user",
            "alice:secret",
            "--nonce-policy",
            "strict",
            "--nonce-lifetime",
            "1s",
            "--allocation-lifetime",
            "3s",
        ],
        move |command| {
            // The counters are logged at info on stderr; ChildGuard inherits stderr, so the
            // server writes it to a file instead, through a shell that execs it.
            let program = command.get_program().to_owned();
            let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
            *command = Command::new("sh");
            command
                .arg("-c")
                .arg(r#"exec "$0" "$@" 2>"$TURN_SERVER_LOG""#)
                .arg(program)
                .args(args)
                .env("TURN_SERVER_LOG", &log_for_child)
                .env("RUST_LOG", "info");
        },
    );
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let relayed = runtime.block_on(async move {
        tokio::time::timeout(Duration::from_secs(40), relay_through_webrtc_rs(addr))
            .await
            .expect("the webrtc-rs session finished in time")
    });
    assert_eq!(relayed, 8);

    interrupt(server.child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.child.is_running() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!server.child.is_running(), "Ctrl-C stops the server");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let counter = |name: &str| -> u64 {
        let key = format!("{name}=");
        let line = log_text
            .lines()
            .rev()
            .find(|l| l.contains("telemetry:"))
            .unwrap_or_else(|| panic!("telemetry logged on Ctrl-C:\n{log_text}"));
        let rest = &line[line.find(&key).unwrap() + key.len()..];
        rest.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    // ~8 s at a refresh every 1.5 s: about five refreshes, each answered 438 first and
    // retried with the new nonce: every 438 is recovered.
    assert!(counter("stale_nonces_438") >= 3, "{log_text}");
    assert_eq!(
        counter("stale_nonces_recovered"),
        counter("stale_nonces_438"),
        "{log_text}"
    );
    assert_eq!(counter("stale_nonces_unrecovered"), 0, "{log_text}");
    assert_eq!(
        counter("challenges_401"),
        1,
        "one 401, for the Allocate: {log_text}"
    );
    // The allocation outlived its 3 s lifetime several times over, and ended because the
    // client deleted it, not because it lapsed.
    assert!(log_text.contains("allocation deleted"), "{log_text}");
    assert!(!log_text.contains("allocation expired"), "{log_text}");
}

/// Allocates with webrtc-rs, then for ~8 s sends a datagram a second to an echoing peer
/// through the relay and waits for the echo. Returns how many came back.
async fn relay_through_webrtc_rs(server: SocketAddr) -> usize {
    let (client, local) = turn_client::alice(server, "example.org").await;
    let relay = client.allocate().await.expect("allocate with alice/secret");
    let relay_addr = relay.local_addr().unwrap();
    assert_eq!(relay_addr.ip(), server.ip(), "relayed on the listening IP");
    assert_ne!(relay_addr.port(), server.port());
    // An unauthenticated Binding request through the same client.
    assert_eq!(client.send_binding_request().await.unwrap(), local);

    // Everything the peer sees comes from the relayed address.
    let (peer_addr, echo) = turn_client::echo_peer(relay_addr).await;

    let mut relayed = 0;
    let mut buf = vec![0u8; 2048];
    for i in 0..8 {
        let message = format!("ping {i}");
        tokio::time::timeout(
            Duration::from_secs(5),
            relay.send_to(message.as_bytes(), peer_addr),
        )
        .await
        .expect("send_to in time")
        .unwrap_or_else(|e| panic!("send {i}: {e}"));
        let (len, from) = tokio::time::timeout(Duration::from_secs(3), relay.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("echo {i} came back through the relay in time"))
            .unwrap();
        assert_eq!(from, peer_addr);
        assert_eq!(&buf[..len], message.as_bytes());
        relayed += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(!echo.is_finished(), "the peer saw only the relayed address");
    echo.abort();
    relay.close().await.unwrap();
    client.close().await.unwrap();
    relayed
}

fn binding_request(id: u8) -> Vec<u8> {
    MessageBuilder::new(Class::Request, Method::BINDING, TransactionId([id; 12]))
        .fingerprint()
        .build()
}

#[test]
fn survives_garbage_and_still_answers_binding() {
    let server = start_server(&["--user", "alice:secret"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    socket.connect(server.addr).unwrap();

    let valid = binding_request(1);
    let mut wrong_length = valid.clone();
    wrong_length[2..4].copy_from_slice(&2000u16.to_be_bytes());
    let mut bad_fingerprint = valid.clone();
    *bad_fingerprint.last_mut().unwrap() ^= 1;
    let success_response = MessageBuilder::new(
        Class::SuccessResponse,
        Method::ALLOCATE,
        TransactionId([2; 12]),
    )
    .build();
    let send_without_allocation =
        MessageBuilder::new(Class::Indication, Method::SEND, TransactionId([3; 12]))
            .xor_peer_address(server.addr)
            .attribute(AttrType::DATA, b"hello")
            .build();
    let garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0; 20],
        valid[..valid.len() - 4].to_vec(),
        valid[..10].to_vec(),
        wrong_length,
        bad_fingerprint,
        success_response,
        send_without_allocation,
        vec![0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4],
        vec![0x7F, 0xFF, 0xFF, 0xFF],
        noise(2000, 0x9E37_79B9_7F4A_7C15),
        noise(2000, 42),
        noise(1, 7),
    ];
    for datagram in &garbage {
        socket.send(datagram).unwrap();
    }
    let mut buf = [0u8; 2048];
    // None of it deserves an answer.
    match socket.recv(&mut buf) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("unexpected answer to garbage: {other:?}"),
    }

    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.send(&binding_request(9)).unwrap();
    let len = socket.recv(&mut buf).expect("a Binding response");
    let response = Message::parse(&buf[..len]).expect("a well-formed response");
    assert_eq!(response.class(), Class::SuccessResponse);
    assert_eq!(response.method(), Method::BINDING);
    assert_eq!(response.transaction_id(), TransactionId([9; 12]));
    assert_eq!(response.verify_fingerprint(), Some(true));
    assert_eq!(
        response.xor_address(AttrType::XOR_MAPPED_ADDRESS).unwrap(),
        Some(socket.local_addr().unwrap())
    );

    // An Allocate without credentials is challenged: the layer is in front.
    let allocate = MessageBuilder::new(Class::Request, Method::ALLOCATE, TransactionId([10; 12]))
        .attribute(AttrType::REQUESTED_TRANSPORT, &[17, 0, 0, 0])
        .build();
    socket.send(&allocate).unwrap();
    let len = socket.recv(&mut buf).expect("a 401");
    let response = Message::parse(&buf[..len]).unwrap();
    assert_eq!(response.class(), Class::ErrorResponse);
    assert_eq!(
        response.error_code().unwrap().map(|(code, _)| code),
        Some(401)
    );
    assert_eq!(response.realm().unwrap(), Some("example.org"));

    let mut server = server;
    assert!(server.child.is_running());
}

#[test]
fn invalid_arguments_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--listen", "nowhere", "--realm", "r", "--user", "a:b"],
            "--listen",
        ),
        (
            &["--listen", "127.0.0.1:0", "--realm", "r", "--user", "alice"],
            "--user",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--realm",
                "r",
                "--user",
                "a:b",
                "--nonce-lifetime",
                "5",
            ],
            "--nonce-lifetime",
        ),
        (
            &[
                "--listen",
                "127.0.0.1:0",
                "--realm",
                "r",
                "--user",
                "a:b",
                "--nonce-policy",
                "lax",
            ],
            "--nonce-policy",
        ),
        (&["--listen", "127.0.0.1:0", "--realm", "r"], "--user"),
    ];
    for (args, flag) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_turn-server"))
            .args(*args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("turn-server: {flag}: ")),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}
