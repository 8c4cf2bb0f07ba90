//! The UDP loop shared by the `turn-server` and `gateway` binaries: one socket, the
//! authentication layer over a [`TurnServer`], replies in order, and the counters.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};
use turn_auth::credentials::CredentialStore;
use turn_auth::{FiveTuple, StunRequest, TelemetrySnapshot, Transport, TurnAuthLayer};

use super::server::{Limits, TurnServer};

/// How often the counters are logged (when they changed).
pub const TELEMETRY_INTERVAL: Duration = Duration::from_secs(30);
/// Requests waiting on a slow credential store at once; datagrams beyond are dropped.
pub const MAX_PENDING: usize = 1024;

/// A TURN server on one UDP socket: [`TurnAuthLayer`] over a [`TurnServer`].
///
/// Built with [`UdpTurn::bind`], run with [`UdpTurn::run`]; [`UdpTurn::stats`] is a cheap
/// handle for the counters that stays usable while it runs.
pub struct UdpTurn<C> {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    layer: TurnAuthLayer<C>,
    server: TurnServer,
}

impl<C> fmt::Debug for UdpTurn<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpTurn")
            .field("local", &self.local)
            .field("layer", &self.layer)
            .field("server", &self.server)
            .finish()
    }
}

/// The counters of a running [`UdpTurn`]: the layer's telemetry and the live allocations.
#[derive(Clone)]
pub struct TurnStats {
    telemetry: Arc<dyn Fn() -> TelemetrySnapshot + Send + Sync>,
    server: TurnServer,
}

impl fmt::Debug for TurnStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnStats")
            .field("telemetry", &(self.telemetry)())
            .field("allocations", &self.server.allocations())
            .finish()
    }
}

impl TurnStats {
    /// The authentication layer's counters so far.
    pub fn telemetry(&self) -> TelemetrySnapshot {
        (self.telemetry)()
    }

    /// The live allocations.
    pub fn allocations(&self) -> usize {
        self.server.allocations()
    }
}

impl<C: CredentialStore + Clone> UdpTurn<C> {
    /// Binds `listen` and puts `layer` in front of a [`TurnServer`] with `limits`.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound or the server cannot be built.
    pub async fn bind(
        listen: SocketAddr,
        layer: TurnAuthLayer<C>,
        limits: Limits,
    ) -> Result<Self, String> {
        let socket = UdpSocket::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on udp://{listen}: {e}"))?;
        let socket = Arc::new(socket);
        let local = socket.local_addr().map_err(|e| e.to_string())?;
        let server = TurnServer::new(Arc::clone(&socket), limits).map_err(|e| e.to_string())?;
        Ok(Self {
            socket,
            local,
            layer,
            server,
        })
    }

    /// The address the socket is bound to (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A handle on the counters.
    pub fn stats(&self) -> TurnStats
    where
        C: Send + Sync + 'static,
    {
        let layer = self.layer.clone();
        TurnStats {
            telemetry: Arc::new(move || layer.telemetry()),
            server: self.server.clone(),
        }
    }

    /// Answers datagrams until `shutdown` completes; logs the counters every
    /// [`TELEMETRY_INTERVAL`] when they changed, and once more when stopping.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            socket,
            local,
            layer,
            server,
        } = self;
        let mut service = layer.layer(server.clone());
        let pending = Arc::new(Semaphore::new(MAX_PENDING));
        let mut ticker = tokio::time::interval(TELEMETRY_INTERVAL);
        ticker.tick().await;
        let mut last_logged = TelemetrySnapshot::default();
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; 65_535];
        loop {
            tokio::select! {
                received = socket.recv_from(&mut buf) => {
                    let (len, client) = match received {
                        Ok(received) => received,
                        Err(error) => {
                            tracing::debug!(%error, "recv_from failed");
                            continue;
                        }
                    };
                    let request = StunRequest::new(
                        Bytes::copy_from_slice(&buf[..len]),
                        FiveTuple { client, server: local, transport: Transport::Udp },
                    );
                    let answer = match service.ready().await {
                        Ok(service) => service.call(request),
                        Err(never) => match never {},
                    };
                    // Answered at once in the common case (the stores here are in memory),
                    // which keeps each client's datagrams in order (a ChannelBind before the
                    // ChannelData it enables). Only a request still waiting after one poll
                    // gets its own task.
                    let mut answer = Box::pin(answer);
                    let polled = answer.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                    match polled {
                        Poll::Ready(Ok(reply)) => reply_to(&socket, reply, client).await,
                        Poll::Ready(Err(never)) => match never {},
                        Poll::Pending => {
                            let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
                                tracing::debug!(%client, "too many pending requests: dropped");
                                continue;
                            };
                            let socket = Arc::clone(&socket);
                            tokio::spawn(async move {
                                let Ok(reply) = answer.await;
                                reply_to(&socket, reply, client).await;
                                drop(permit);
                            });
                        }
                    }
                }
                _ = ticker.tick() => {
                    let now = layer.telemetry();
                    if now != last_logged {
                        log_telemetry(&now, &server);
                        last_logged = now;
                    }
                }
                () = &mut shutdown => {
                    log_telemetry(&layer.telemetry(), &server);
                    return;
                }
            }
        }
    }
}

async fn reply_to(socket: &UdpSocket, reply: Option<Bytes>, client: SocketAddr) {
    if let Some(reply) = reply
        && let Err(error) = socket.send_to(&reply, client).await
    {
        tracing::debug!(%client, %error, "reply dropped");
    }
}

fn log_telemetry(snapshot: &TelemetrySnapshot, server: &TurnServer) {
    let counters: Vec<String> = snapshot
        .fields()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    tracing::info!(
        allocations = server.allocations(),
        "telemetry: {}",
        counters.join(" ")
    );
}

/// Quotes `text` for a POSIX shell when it needs it.
///
/// ```
/// use examples::turn::shell_quote;
/// assert_eq!(shell_quote("alice"), "alice");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// ```
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@%+=/,".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
