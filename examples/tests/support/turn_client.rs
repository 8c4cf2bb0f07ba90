//! The webrtc-rs side of the TURN tests (`turn_server.rs`, `turn_flood.rs`): a `turn`
//! client signed in as `alice`/`secret`, a peer echoing what reaches it through a relay,
//! and deterministic garbage. Included with `#[path = "support/turn_client.rs"] mod
//! turn_client;`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use turn::client::{Client, ClientConfig};

/// A webrtc-rs TURN client of `server` on a fresh loopback socket, as `alice` with
/// password `secret` in `realm`, already listening. Returns it and its local address.
pub(crate) async fn alice(server: SocketAddr, realm: &str) -> (Client, SocketAddr) {
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let local = conn.local_addr().unwrap();
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: "alice".into(),
        password: "secret".into(),
        realm: realm.into(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    (client, local)
}

/// A peer on a fresh loopback socket that echoes every datagram back to its sender.
/// Returns its address and its task, which panics (ending) on a datagram from anywhere
/// but `relay`: only the relayed address may reach the peer.
pub(crate) async fn echo_peer(relay: SocketAddr) -> (SocketAddr, JoinHandle<()>) {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = peer.local_addr().unwrap();
    let echo = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let (len, from) = peer.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, relay, "the peer sees only the relayed address");
            peer.send_to(&buf[..len], from).await.unwrap();
        }
    });
    (addr, echo)
}

/// A deterministic stream of bytes (xorshift).
pub(crate) fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}
