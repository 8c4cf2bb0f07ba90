//! A TCP proxy on loopback that injects faults between a client under test and a real
//! server (Redis, say): pass-through, replies delayed, a black hole, or refused
//! connections, switched at runtime while the client runs.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::time::Duration;
//! use testkit::fault_proxy::{Fault, FaultProxy};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! // An echo server to stand in for the real one.
//! let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let target = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut tcp, _)) = server.accept().await {
//!         tokio::spawn(async move {
//!             let (mut r, mut w) = tcp.split();
//!             let _ = tokio::io::copy(&mut r, &mut w).await;
//!         });
//!     }
//! });
//!
//! let proxy = FaultProxy::start(target).await?;
//! let mut client = tokio::net::TcpStream::connect(proxy.addr()).await?;
//! client.write_all(b"ping").await?;
//! let mut reply = [0; 4];
//! client.read_exact(&mut reply).await?;
//! assert_eq!(&reply, b"ping");
//!
//! // Replies now take at least 50 ms more.
//! proxy.set(Fault::Delay(Duration::from_millis(50)));
//! let started = std::time::Instant::now();
//! client.write_all(b"pong").await?;
//! client.read_exact(&mut reply).await?;
//! assert!(started.elapsed() >= Duration::from_millis(50));
//! assert_eq!(proxy.fault(), Fault::Delay(Duration::from_millis(50)));
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! Each accepted connection opens its own connection to the target; bytes are relayed in
//! both directions, in order. The [`Fault`] is read for every chunk relayed and acted on
//! as soon as it changes, by open connections too:
//!
//! - [`Fault::PassThrough`] relays at once (replies delayed earlier still wait for their
//!   time, so order is kept).
//! - [`Fault::Delay`] holds every reply (target to client) for the delay after it arrived;
//!   requests go through at once. Like a slow server or link.
//! - [`Fault::Blackhole`] answers nothing: new connections are accepted and read, never
//!   answered, never forwarded. An open connection goes dead for good: its target side is
//!   dropped, and it stays silent even after the fault is lifted (like a peer that vanished
//!   without a reset), so a client must notice by itself (timeouts) and reconnect.
//!   Relaying no longer, it can never deliver half a request or a reply to the wrong caller.
//! - [`Fault::Refuse`] closes every open connection and closes new ones at once, after
//!   accepting them (the client sees its connection end, not `ECONNREFUSED`).
//!
//! The proxy stops, closing every connection, when it is dropped. It runs on the tokio
//! runtime that started it.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// What a [`FaultProxy`] does to the traffic. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Relays both ways at once.
    #[default]
    PassThrough,
    /// Holds each reply (target to client) for this long after it arrived.
    Delay(Duration),
    /// Accepts and reads, never answers; open connections go dead for good.
    Blackhole,
    /// Closes open connections, and new ones as soon as they are accepted.
    Refuse,
}

/// Counters of a [`FaultProxy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FaultProxyStats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections relayed to the target (opened while the fault allowed it, and whose
    /// target connection succeeded).
    pub relayed: u64,
    /// Connections closed at once by [`Fault::Refuse`], or because the target refused.
    pub closed: u64,
    /// Connections held silent by [`Fault::Blackhole`] (new ones, and open ones it killed).
    pub blackholed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    relayed: AtomicU64,
    closed: AtomicU64,
    blackholed: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A fault-injecting TCP proxy on a free loopback port. See the [module docs](self).
pub struct FaultProxy {
    addr: SocketAddr,
    target: SocketAddr,
    fault: watch::Sender<Fault>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("fault", &self.fault())
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and relays to `target`, passing traffic
    /// through until told otherwise.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(target: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (fault, watcher) = watch::channel(Fault::PassThrough);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept_loop(
            listener,
            target,
            watcher,
            Arc::clone(&counters),
        ));
        Ok(Self {
            addr,
            target,
            fault,
            counters,
            task,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address traffic is relayed to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Switches to `fault`, for new and open connections.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// The current fault.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// The counters so far.
    pub fn stats(&self) -> FaultProxyStats {
        let c = &self.counters;
        FaultProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            relayed: c.relayed.load(Ordering::Relaxed),
            closed: c.closed.load(Ordering::Relaxed),
            blackholed: c.blackholed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    /// Stops accepting and closes every connection (the connections' tasks end with the
    /// accept task, which owns them).
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    watcher: watch::Receiver<Fault>,
    counters: Arc<Counters>,
) {
    // Owned here: aborting this task aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        bump(&counters.accepted);
        while connections.try_join_next().is_some() {}
        connections.spawn(serve(
            client,
            target,
            watcher.clone(),
            Arc::clone(&counters),
        ));
    }
}

async fn serve(
    client: TcpStream,
    target: SocketAddr,
    mut watcher: watch::Receiver<Fault>,
    counters: Arc<Counters>,
) {
    let fault = *watcher.borrow_and_update();
    match fault {
        Fault::Refuse => {
            bump(&counters.closed);
            return;
        }
        Fault::Blackhole => {
            bump(&counters.blackholed);
            return blackhole(client, watcher).await;
        }
        Fault::PassThrough | Fault::Delay(_) => {}
    }
    let Ok(upstream) = TcpStream::connect(target).await else {
        bump(&counters.closed);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    bump(&counters.relayed);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    // Replies waiting for their time, in arrival order.
    let mut replies: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut upstream_done = false;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_upstream = vec![0u8; 16 * 1024];
    loop {
        if upstream_done && replies.is_empty() {
            return;
        }
        let due = replies.front().map(|(due, _)| *due);
        tokio::select! {
            read = client_read.read(&mut from_client) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                match *watcher.borrow() {
                    Fault::Refuse => return bump(&counters.closed),
                    Fault::Blackhole => break,
                    Fault::PassThrough | Fault::Delay(_) => {}
                }
                if !upstream_done && upstream_write.write_all(&from_client[..n]).await.is_err() {
                    return;
                }
            }
            read = upstream_read.read(&mut from_upstream), if !upstream_done => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        upstream_done = true;
                        continue;
                    }
                    Ok(n) => n,
                };
                let now = Instant::now();
                match *watcher.borrow() {
                    Fault::Refuse => return bump(&counters.closed),
                    Fault::Blackhole => break,
                    Fault::PassThrough => replies.push_back((now, from_upstream[..n].to_vec())),
                    Fault::Delay(delay) => {
                        replies.push_back((now + delay, from_upstream[..n].to_vec()));
                    }
                }
            }
            () = sleep_until(due), if due.is_some() => {
                if let Some((_, reply)) = replies.pop_front()
                    && client_write.write_all(&reply).await.is_err()
                {
                    return;
                }
            }
            changed = watcher.changed() => {
                if changed.is_err() {
                    return; // The proxy was dropped.
                }
                match *watcher.borrow_and_update() {
                    Fault::Refuse => return bump(&counters.closed),
                    Fault::Blackhole => break,
                    Fault::PassThrough | Fault::Delay(_) => {}
                }
            }
        }
    }
    // Blackholed: the target side goes, and the client is never answered again.
    bump(&counters.blackholed);
    drop((upstream_read, upstream_write, replies));
    let client = client_read
        .reunite(client_write)
        .expect("halves of one stream");
    blackhole(client, watcher).await;
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}

/// Reads and discards until the client closes, the fault becomes [`Fault::Refuse`], or
/// the proxy is dropped; never writes.
async fn blackhole(mut client: TcpStream, mut watcher: watch::Receiver<Fault>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = client.read(&mut buf) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            changed = watcher.changed() => {
                if changed.is_err() || *watcher.borrow_and_update() == Fault::Refuse {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free loopback port; it stops with the runtime.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = tcp.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    /// Sends `message` and reads as many bytes back, within `within`: `None` on a timeout,
    /// `Some(Err)` when the connection failed or ended.
    async fn round_trip(
        tcp: &mut TcpStream,
        message: &[u8],
        within: Duration,
    ) -> Option<io::Result<Vec<u8>>> {
        let exchange = async {
            tcp.write_all(message).await?;
            let mut reply = vec![0; message.len()];
            tcp.read_exact(&mut reply).await?;
            Ok(reply)
        };
        tokio::time::timeout(within, exchange).await.ok()
    }

    /// Far above any delay used here: a hang bound, not a timing assertion.
    const PATIENT: Duration = Duration::from_secs(5);
    const SHORT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn passes_through_and_delays_replies_on_open_connections() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        assert_ne!(proxy.addr().port(), 0);
        let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
        let reply = round_trip(&mut tcp, b"one", PATIENT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, b"one");

        let delay = Duration::from_millis(150);
        proxy.set(Fault::Delay(delay));
        let started = Instant::now();
        let reply = round_trip(&mut tcp, b"two", PATIENT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, b"two");
        assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
        // Not answered before the delay.
        assert!(
            round_trip(&mut tcp, b"three", Duration::from_millis(50))
                .await
                .is_none()
        );

        // Back to pass-through: what was held arrives first, in order.
        proxy.set(Fault::PassThrough);
        let mut rest = vec![0; 5];
        tcp.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, b"three");
        let reply = round_trip(&mut tcp, b"four", PATIENT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, b"four");
        let stats = proxy.stats();
        assert_eq!((stats.accepted, stats.relayed), (1, 1));
        assert!(format!("{proxy:?}").contains("PassThrough"));
    }

    #[tokio::test]
    async fn a_blackhole_answers_nothing_and_kills_open_connections_for_good() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut open, b"hi", PATIENT).await.unwrap().is_ok());

        proxy.set(Fault::Blackhole);
        assert!(round_trip(&mut open, b"lost", SHORT).await.is_none());
        // A new connection is accepted (connect succeeds) but never answered.
        let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut new, b"lost", SHORT).await.is_none());

        // Lifted: new connections work; the open ones stay silent (their peer is gone).
        proxy.set(Fault::PassThrough);
        assert!(round_trip(&mut open, b"still", SHORT).await.is_none());
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        let reply = round_trip(&mut fresh, b"back", PATIENT)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, b"back");
        assert_eq!(proxy.stats().blackholed, 2);
    }

    #[tokio::test]
    async fn refuse_closes_open_and_new_connections() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut open, b"hi", PATIENT).await.unwrap().is_ok());

        proxy.set(Fault::Refuse);
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(PATIENT, open.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let mut new = TcpStream::connect(proxy.addr()).await.unwrap();
        let read = tokio::time::timeout(PATIENT, new.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

        proxy.set(Fault::PassThrough);
        let mut fresh = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(
            round_trip(&mut fresh, b"ok", PATIENT)
                .await
                .unwrap()
                .is_ok()
        );
        assert_eq!(proxy.stats().closed, 2);
    }

    #[tokio::test]
    async fn a_dead_target_closes_the_connection() {
        // A port nothing listens on.
        let target = {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            listener.local_addr().unwrap()
        };
        let proxy = FaultProxy::start(target).await.unwrap();
        let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(PATIENT, tcp.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert_eq!(proxy.stats().closed, 1);
    }

    #[tokio::test]
    async fn dropping_the_proxy_closes_its_connections_and_its_port() {
        let proxy = FaultProxy::start(echo_server().await).await.unwrap();
        let addr = proxy.addr();
        let mut open = TcpStream::connect(addr).await.unwrap();
        assert!(round_trip(&mut open, b"hi", PATIENT).await.unwrap().is_ok());
        drop(proxy);
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(PATIENT, open.read(&mut buf))
            .await
            .unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let deadline = Instant::now() + PATIENT;
        while TcpStream::connect(addr).await.is_ok() {
            assert!(Instant::now() < deadline, "the port still accepts");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
