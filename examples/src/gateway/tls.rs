//! The gateway's TLS: one rustls `ServerConfig` (ALPN `h2` and `http/1.1`) with a
//! `tls_resume::SessionCache` over a shared tier and a `KeyRingTicketer`, behind a
//! `ResumingAcceptor` — in memory, or in Redis with `--redis`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tls_resume::{
    CachePrefetch, DerivedKeys, KeyRingTicketer, MemorySharedStore, RedisKeySource, RedisPrefetch,
    ResumingAcceptor, SessionCache,
};

use super::metrics::TlsShared;
use crate::tls::{LOCAL_CAPACITY, PREFETCH_TIMEOUT, SHARED_CAPACITY, connect_redis};

/// What the HTTPS listener needs, and handles on its counters.
#[derive(Clone)]
pub struct GatewayTls {
    /// The acceptor: prefetch, then the rustls handshake.
    pub acceptor: ResumingAcceptor,
    /// The local session tier.
    pub cache: Arc<SessionCache>,
    /// The ticketer.
    pub ticketer: Arc<KeyRingTicketer>,
    /// The shared tier and ticket keys.
    pub shared: TlsShared,
    /// What the certificate is, for the banner.
    pub certificate: String,
}

/// Never prints the private key or the ticket secret.
impl fmt::Debug for GatewayTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayTls")
            .field("certificate", &self.certificate)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

/// Reads a PEM certificate chain and private key.
///
/// # Errors
///
/// A message naming the file when it cannot be read or holds no certificate or key.
pub fn load_pem(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--cert {}: no certificate in the file",
            cert.display()
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--key {}: {e}", key.display()))?;
    Ok((chain, key))
}

impl GatewayTls {
    /// The TLS setup: `cert` (else a self-signed certificate for `localhost` made now),
    /// sessions and ticket keys in memory, or in the Redis node at `redis`.
    ///
    /// # Errors
    ///
    /// When the certificate cannot be read or made, rustls refuses it, or Redis cannot be
    /// reached.
    pub async fn new(cert: Option<(&Path, &Path)>, redis: Option<&str>) -> Result<Self, String> {
        let (chain, key, certificate) = match cert {
            Some((cert_path, key_path)) => {
                let (chain, key) = load_pem(cert_path, key_path)?;
                (
                    chain,
                    key,
                    format!("certificate from {}", cert_path.display()),
                )
            }
            None => {
                let (cert, key) =
                    crate::tls::self_signed_localhost().map_err(|e| format!("certificate: {e}"))?;
                (
                    vec![cert],
                    key,
                    "a self-signed certificate for localhost, made at start".to_owned(),
                )
            }
        };
        let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("certificate: {e}"))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let cache;
        let ticketer;
        let shared;
        match redis {
            None => {
                let store = Arc::new(MemorySharedStore::new(SHARED_CAPACITY));
                cache = Arc::new(
                    SessionCache::new(LOCAL_CAPACITY)
                        .with_shared(Arc::clone(&store) as Arc<dyn tls_resume::SharedStore>),
                );
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| format!("ticket secret: {e}"))?;
                ticketer = KeyRingTicketer::builder(DerivedKeys::new(secret))
                    .build()
                    .map_err(|e| format!("ticketer: {e}"))?;
                shared = TlsShared::Memory(store);
            }
            Some(url) => {
                let store = connect_redis(url).await?;
                cache = Arc::new(
                    SessionCache::new(LOCAL_CAPACITY)
                        .with_shared(Arc::new(store.clone()) as Arc<dyn tls_resume::SharedStore>),
                );
                let keys = Arc::new(RedisKeySource::builder(&store).build());
                // Fill the key cache before the first handshake.
                keys.refresh().await;
                ticketer = KeyRingTicketer::builder(Arc::clone(&keys))
                    .build()
                    .map_err(|e| format!("ticketer: {e}"))?;
                shared = TlsShared::Redis { store, keys };
            }
        }
        let ticketer = Arc::new(ticketer);
        config.session_storage = Arc::clone(&cache) as _;
        config.ticketer = Arc::clone(&ticketer) as _;
        let acceptor =
            ResumingAcceptor::new(Arc::new(config)).with_prefetch_timeout(PREFETCH_TIMEOUT);
        let acceptor = match &shared {
            TlsShared::Memory(_) => acceptor.with_prefetch(CachePrefetch::new(Arc::clone(&cache))),
            TlsShared::Redis { store, .. } => {
                acceptor.with_prefetch(RedisPrefetch::new(store.clone(), Arc::clone(&cache)))
            }
        };
        Ok(Self {
            acceptor,
            cache,
            ticketer,
            shared,
            certificate,
        })
    }

    /// Where sessions and ticket keys live, for the banner.
    pub fn describe(&self) -> String {
        match &self.shared {
            TlsShared::Memory(_) => format!(
                "sessions in memory ({LOCAL_CAPACITY} local, {SHARED_CAPACITY} shared), \
                 tickets from a key ring derived from a random secret"
            ),
            TlsShared::Redis { .. } => {
                format!("sessions in Redis ({LOCAL_CAPACITY} cached locally), ticket keys in Redis")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn reads_a_pem_certificate_and_key_and_names_a_bad_file() {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = std::env::temp_dir();
        let cert = dir.join(format!("gateway-tls-{}-cert.pem", std::process::id()));
        let key = dir.join(format!("gateway-tls-{}-key.pem", std::process::id()));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let tls = GatewayTls::new(Some((&cert, &key)), None).await.unwrap();
        assert!(tls.certificate.starts_with("certificate from "));
        assert!(!format!("{tls:?}").contains("PRIVATE"));

        let error = GatewayTls::new(Some((&key, &key)), None).await.unwrap_err();
        assert!(error.starts_with("--cert "), "{error}");
        let error = GatewayTls::new(Some((&cert, &cert)), None)
            .await
            .unwrap_err();
        assert!(error.starts_with("--key "), "{error}");
    }
}
