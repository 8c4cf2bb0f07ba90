//! The HTTPS accept loop: a bounded number of connections, the `ResumingAcceptor`
//! handshake, HTTP/1.1 or HTTP/2 (hyper-util's auto builder, chosen by ALPN or the HTTP/2
//! preface) with header limits and timeouts, and a graceful shutdown that lets in-flight
//! requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::HandshakeKind;
use tls_resume::ResumingAcceptor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

use super::metrics::HttpCounters;

/// The longest a client may take to send a request head (HTTP/1.1); also closes idle
/// keep-alive connections.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most bytes hyper buffers for an HTTP/1.1 request head.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The most HTTP/2 header-list bytes per request.
pub const MAX_HEADER_LIST: u32 = 16 * 1024;
/// Concurrent HTTP/2 streams per connection.
pub const MAX_STREAMS: u32 = 100;
/// HTTP/2 keep-alive pings, to find dead peers.
pub const H2_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long a shutdown waits for in-flight requests before giving up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The HTTP connection builder with the gateway's limits.
pub fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST)
        .keep_alive_interval(H2_KEEP_ALIVE);
    builder
}

/// Serves `service` over TLS on `listener` until `shutdown` completes, at most
/// `max_connections` connections at once; then stops accepting and waits up to
/// [`SHUTDOWN_GRACE`] for the open connections to finish their requests.
///
/// Each request carries the peer address as a `SocketAddr` extension and as axum's
/// `ConnectInfo<SocketAddr>` (for the rate limiter's keyer).
pub async fn serve<S, B>(
    listener: TcpListener,
    acceptor: ResumingAcceptor,
    service: S,
    max_connections: usize,
    counters: Arc<HttpCounters>,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = Arc::new(http_builder());
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::pin!(shutdown);
    loop {
        // A slot first: past the limit, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let service = service.clone();
        let builder = Arc::clone(&builder);
        let counters = Arc::clone(&counters);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            counters.connection_opened();
            let _permit = permit;
            let mut tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(error) => {
                    counters.handshake_failed();
                    counters.connection_closed();
                    tracing::debug!(%peer, %error, "handshake failed");
                    return;
                }
            };
            // Sends the TLS 1.3 tickets now, before the first request arrives.
            let _ = tls.flush().await;
            let (_, connection) = tls.get_ref();
            let resumed = connection.handshake_kind() == Some(HandshakeKind::Resumed);
            let http2 = connection.alpn_protocol() == Some(b"h2");
            counters.handshake(resumed, http2);
            tracing::debug!(%peer, resumed, http2, "handshake");
            let service = service.map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(peer);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection =
                builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            counters.connection_closed();
        });
    }
    drop(listener);
    tracing::info!(
        open = counters.open_connections(),
        "stopped accepting; finishing in-flight requests"
    );
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}: closing them");
    }
}
