//! The instances: one `ServerConfig` and one `ResumingAcceptor` each, sharing only the
//! fleet's store or keys.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::ring::default_provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache};
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig};
use tls_resume::{
    CachePrefetch, DerivedKeys, KeyRingTicketer, MemorySharedStore, RedisKeySource, RedisPrefetch,
    RedisStore, ResumingAcceptor, SessionCache,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::Mode;

/// Sessions each instance keeps in its local tier.
pub const LOCAL_CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();
/// Sessions the in-memory shared tier keeps.
pub const SHARED_CAPACITY: NonZeroUsize = NonZeroUsize::new(100_000).unwrap();
/// The budget of each Redis call: generous for a demo on a loaded machine (the crate's
/// default is 20 ms).
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a handshake waits for the prefetch (the crate's default is 20 ms).
pub const PREFETCH_TIMEOUT: Duration = Duration::from_millis(200);
/// How long a client may take to send its request head once the handshake is done (the
/// handshake itself has the acceptor's budget, 10 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest request head read.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A self-signed ECDSA P-256 certificate for `localhost` (and `127.0.0.1`), and its key.
///
/// # Errors
///
/// When rcgen cannot generate it.
pub fn self_signed_localhost()
-> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), rcgen::Error> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    Ok((certified.cert.der().clone(), key.into()))
}

/// The Redis store for TLS sessions and ticket keys at `url`, with this crate's time budget.
///
/// # Errors
///
/// A message naming `--redis` when the URL is invalid or Redis cannot be reached.
pub async fn connect_redis(url: &str) -> Result<RedisStore, String> {
    RedisStore::builder()
        .node(url)
        .map_err(|e| format!("--redis: {e}"))?
        .timeout(REDIS_TIMEOUT)
        .build()
        .await
        .map_err(|e| format!("cannot reach Redis at {url}: {e}"))
}

/// What the instances share: the shared session tier and the ticket keys' origin.
pub struct Fleet {
    mode: Mode,
    cert: (CertificateDer<'static>, PrivateKeyDer<'static>),
    shared: Shared,
}

enum Shared {
    /// In this process: a `MemorySharedStore` and one fleet secret for `DerivedKeys`.
    Memory {
        store: Arc<MemorySharedStore>,
        secret: [u8; 32],
    },
    /// A Redis node for sessions and ticket keys.
    Redis(RedisStore),
}

/// Never prints the private key or the fleet secret.
impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Fleet");
        debug.field("mode", &self.mode);
        match &self.shared {
            Shared::Memory { store, .. } => debug.field("memory", store),
            Shared::Redis(store) => debug.field("redis", store),
        };
        debug.finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet whose shared state lives in this process: a fresh `MemorySharedStore` and a
    /// random fleet secret.
    ///
    /// # Errors
    ///
    /// When the certificate or the secret cannot be generated.
    pub fn in_memory(mode: Mode) -> Result<Self, String> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("fleet secret: {e}"))?;
        Ok(Self {
            mode,
            cert: self_signed_localhost().map_err(|e| format!("certificate: {e}"))?,
            shared: Shared::Memory {
                store: Arc::new(MemorySharedStore::new(SHARED_CAPACITY)),
                secret,
            },
        })
    }

    /// A fleet sharing sessions and ticket keys through the Redis node at `url`.
    ///
    /// # Errors
    ///
    /// When the certificate cannot be generated or Redis cannot be reached.
    pub async fn redis(mode: Mode, url: &str) -> Result<Self, String> {
        let store = connect_redis(url).await?;
        Ok(Self {
            mode,
            cert: self_signed_localhost().map_err(|e| format!("certificate: {e}"))?,
            shared: Shared::Redis(store),
        })
    }

    /// Where the shared state lives, for the banner.
    pub fn describe(&self) -> &'static str {
        match (&self.shared, self.mode) {
            (_, Mode::None) => "nothing shared (rustls defaults: per-instance cache, no tickets)",
            (Shared::Memory { .. }, Mode::Cache) => "sessions in one in-memory shared tier",
            (Shared::Memory { .. }, Mode::Tickets) => "ticket keys derived from one fleet secret",
            (Shared::Memory { .. }, Mode::Both) => {
                "sessions in one in-memory shared tier; ticket keys derived from one fleet secret"
            }
            (Shared::Redis(_), Mode::Cache) => "sessions in Redis",
            (Shared::Redis(_), Mode::Tickets) => "ticket keys in Redis",
            (Shared::Redis(_), Mode::Both) => "sessions and ticket keys in Redis",
        }
    }

    /// Instance `index`'s acceptor: its own `ServerConfig`, session cache and ticketer.
    ///
    /// # Errors
    ///
    /// When rustls refuses the certificate or the ticketer cannot be built.
    pub async fn instance(&self, index: usize, port: u16) -> Result<Instance, String> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.0.clone()], self.cert.1.clone_key())
            .map_err(|e| format!("certificate: {e}"))?;
        let mode = self.mode;
        // rustls's defaults stay for `none`: a private 256-entry cache and no tickets.
        config.session_storage = if mode == Mode::None {
            ServerSessionMemoryCache::new(256)
        } else {
            Arc::new(NoServerSessionStorage {})
        };
        let mut cache = None;
        if mode.uses_cache() {
            let shared: Arc<dyn tls_resume::SharedStore> = match &self.shared {
                Shared::Memory { store, .. } => Arc::clone(store) as _,
                Shared::Redis(store) => Arc::new(store.clone()),
            };
            let local = Arc::new(SessionCache::new(LOCAL_CAPACITY).with_shared(shared));
            config.session_storage = Arc::clone(&local) as _;
            cache = Some(local);
        }
        if mode.uses_tickets() {
            let ticketer = match &self.shared {
                Shared::Memory { secret, .. } => {
                    KeyRingTicketer::builder(DerivedKeys::new(*secret)).build()
                }
                Shared::Redis(store) => {
                    let source = RedisKeySource::builder(store).build();
                    // Fill the key cache before the first handshake.
                    source.refresh().await;
                    KeyRingTicketer::builder(source).build()
                }
            }
            .map_err(|e| format!("ticketer: {e}"))?;
            config.ticketer = Arc::new(ticketer);
        }
        let acceptor =
            ResumingAcceptor::new(Arc::new(config)).with_prefetch_timeout(PREFETCH_TIMEOUT);
        let acceptor = match (cache, &self.shared) {
            (Some(cache), Shared::Memory { .. }) => {
                acceptor.with_prefetch(CachePrefetch::new(cache))
            }
            (Some(cache), Shared::Redis(store)) => {
                acceptor.with_prefetch(RedisPrefetch::new(store.clone(), cache))
            }
            (None, _) => acceptor,
        };
        Ok(Instance {
            number: index + 1,
            port,
            acceptor,
        })
    }
}

/// One HTTPS instance: its number (from 1), its port and its acceptor.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The instance's number, from 1, in `--ports` order.
    pub number: usize,
    /// The port it listens on.
    pub port: u16,
    /// Its acceptor (its own `ServerConfig`).
    pub acceptor: ResumingAcceptor,
}

/// What one connection saw, reported in the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The instance's number.
    pub instance: usize,
    /// The instance's port.
    pub port: u16,
    /// Whether the handshake resumed a session.
    pub resumed: bool,
    /// The TLS version, as openssl writes it (`TLSv1.3`).
    pub protocol: &'static str,
}

impl Answer {
    /// The response body: `instance=1 port=9444 resumed=true protocol=TLSv1.3` and a newline.
    ///
    /// ```
    /// use examples::tls::Answer;
    /// let answer = Answer { instance: 2, port: 9444, resumed: true, protocol: "TLSv1.2" };
    /// assert_eq!(answer.body(), "instance=2 port=9444 resumed=true protocol=TLSv1.2\n");
    /// ```
    pub fn body(&self) -> String {
        format!(
            "instance={} port={} resumed={} protocol={}\n",
            self.instance, self.port, self.resumed, self.protocol
        )
    }

    /// The whole HTTP/1.1 response, closing the connection.
    pub fn response(&self) -> String {
        let body = self.body();
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

impl Instance {
    /// Serves one accepted connection: the handshake through the acceptor, then one
    /// request head (any method and path) answered with [`Answer::response`].
    ///
    /// # Errors
    ///
    /// The handshake failed, or reading or writing failed.
    pub async fn serve(&self, tcp: TcpStream) -> std::io::Result<Answer> {
        let mut tls = self.acceptor.accept(tcp).await?;
        // Sends the TLS 1.3 tickets now, before the request arrives.
        tls.flush().await?;
        let (_, connection) = tls.get_ref();
        let answer = Answer {
            instance: self.number,
            port: self.port,
            resumed: connection.handshake_kind() == Some(HandshakeKind::Resumed),
            protocol: match connection.protocol_version() {
                Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
                Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
                _ => "unknown",
            },
        };
        tracing::info!(
            instance = answer.instance,
            port = answer.port,
            resumed = answer.resumed,
            protocol = answer.protocol,
            "handshake"
        );
        tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut tls))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        tls.write_all(answer.response().as_bytes()).await?;
        tls.shutdown().await?;
        Ok(answer)
    }
}

/// Reads until the end of the request head (`\r\n\r\n`), the end of the stream, or
/// [`MAX_REQUEST_HEAD`] bytes.
async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while head.len() < MAX_REQUEST_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_fleet_secret() {
        let fleet = Fleet::in_memory(Mode::Tickets).unwrap();
        let Shared::Memory { secret, .. } = &fleet.shared else {
            unreachable!()
        };
        let text = format!("{fleet:?}");
        assert!(text.starts_with("Fleet { mode: Tickets"), "{text}");
        assert!(!text.contains(&format!("{secret:?}")), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn the_response_closes_the_connection_and_counts_the_body() {
        let answer = Answer {
            instance: 1,
            port: 9443,
            resumed: false,
            protocol: "TLSv1.3",
        };
        let response = answer.response();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert_eq!(
            body,
            "instance=1 port=9443 resumed=false protocol=TLSv1.3\n"
        );
    }
}
