//! A `ResumingAcceptor` on a loopback TCP port that greets each client with `hello` and
//! closes, and the client side that reads the greeting: what the tests running instances
//! over real sockets (`redis.rs`, `redis_faults.rs`) share.

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::{ClientConfig, HandshakeKind};
use tls_resume::acceptor::ResumingAcceptor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

/// What the server writes after each handshake.
pub const GREETING: &[u8] = b"hello";

/// Listens on a free port of 127.0.0.1 and, for each connection, completes the handshake
/// with `acceptor`, writes [`GREETING`] (flushing the TLS 1.3 tickets too) and shuts the
/// connection down. Returns the address and the accept task (abort it to stop).
pub async fn serve(acceptor: ResumingAcceptor) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(GREETING).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    (addr, task)
}

/// Connects to `addr` as `localhost`, reads the greeting to the end (storing any TLS 1.3
/// tickets) and returns the client's handshake kind.
///
/// # Panics
///
/// When the handshake fails or the greeting is not [`GREETING`].
pub async fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> HandshakeKind {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .expect("the client's handshake succeeds");
    let mut greeting = Vec::new();
    tls.read_to_end(&mut greeting).await.unwrap();
    assert_eq!(greeting, GREETING);
    tls.get_ref().1.handshake_kind().unwrap()
}
