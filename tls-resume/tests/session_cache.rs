//! Two rustls server instances (A and B), each with its own `SessionCache`, resume each
//! other's sessions through one shared `MemorySharedStore`; with separate caches they do
//! not (incident 4's 1/N).

mod support;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::{Resumption, Tls12Resumption};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::StoresServerSessions;
use rustls::{ClientConfig, HandshakeKind, ServerConfig, SupportedProtocolVersion};
use tls_resume::session_cache::{MemorySharedStore, SessionCache, SharedStore};

use HandshakeKind::{Full, Resumed};

type Cert = (CertificateDer<'static>, PrivateKeyDer<'static>);

const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn capacity() -> NonZeroUsize {
    NonZeroUsize::new(64).unwrap()
}

/// A stateful server: ticketer disabled (rustls's default), sessions in `storage`, one
/// TLS 1.3 ticket per handshake.
fn server(
    cert: &Cert,
    versions: &[&'static SupportedProtocolVersion],
    storage: Arc<dyn StoresServerSessions>,
) -> Arc<ServerConfig> {
    let mut config = (*support::server_config(cert, versions, None)).clone();
    assert!(!config.ticketer.enabled());
    config.session_storage = storage;
    config.send_tls13_tickets = 1;
    Arc::new(config)
}

/// A client remembering sessions in memory; TLS 1.2 resumes by session id only.
fn client(cert: &Cert, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut config = (*support::client_config(&cert.0, versions)).clone();
    config.resumption =
        Resumption::in_memory_sessions(64).tls12_resumption(Tls12Resumption::SessionIdOnly);
    Arc::new(config)
}

/// Connects and returns the handshake kind, checking that client and server agree.
fn connect(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) -> HandshakeKind {
    let (client_kind, server_kind) = support::handshake(client, server, "localhost");
    assert_eq!(client_kind, server_kind);
    client_kind
}

/// Two caches over one shared tier.
fn fleet() -> (Arc<MemorySharedStore>, Arc<SessionCache>, Arc<SessionCache>) {
    let shared = Arc::new(MemorySharedStore::new(capacity()));
    let a = Arc::new(SessionCache::new(capacity()).with_shared(shared.clone()));
    let b = Arc::new(SessionCache::new(capacity()).with_shared(shared.clone()));
    (shared, a, b)
}

#[test]
fn tls12_session_id_made_on_a_resumes_on_b() {
    let cert = support::make_cert();
    let (shared, a, b) = fleet();
    let server_a = server(&cert, TLS12, a.clone());
    let server_b = server(&cert, TLS12, b.clone());
    let client = client(&cert, TLS12);

    assert_eq!(connect(&client, &server_a), Full);
    assert_eq!(connect(&client, &server_b), Resumed);
    // Session ids are multi-use: again, now from B's local tier.
    assert_eq!(connect(&client, &server_b), Resumed);

    assert_eq!(a.stats().puts, 1);
    assert_eq!(b.stats().puts, 0);
    assert_eq!(b.stats().shared_hits, 1);
    assert_eq!(b.stats().local_hits, 1);
    assert_eq!(shared.stats().puts, 1);
}

#[test]
fn tls12_separate_caches_do_not_resume_across_instances() {
    let cert = support::make_cert();
    let a = Arc::new(SessionCache::new(capacity()));
    let b = Arc::new(SessionCache::new(capacity()));
    let server_a = server(&cert, TLS12, a);
    let server_b = server(&cert, TLS12, b);
    let client = client(&cert, TLS12);

    assert_eq!(connect(&client, &server_a), Full);
    assert_eq!(connect(&client, &server_b), Full);
    // B does resume its own sessions: only the cross-instance case fails.
    assert_eq!(connect(&client, &server_b), Resumed);
}

/// Records the keys rustls stores and takes, to replay them afterwards.
#[derive(Debug)]
struct Recording {
    inner: Arc<SessionCache>,
    put_keys: Mutex<Vec<Vec<u8>>>,
    taken_keys: Mutex<Vec<Vec<u8>>>,
}

impl Recording {
    fn new(inner: Arc<SessionCache>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            put_keys: Mutex::default(),
            taken_keys: Mutex::default(),
        })
    }

    fn put_keys(&self) -> Vec<Vec<u8>> {
        self.put_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn taken_keys(&self) -> Vec<Vec<u8>> {
        self.taken_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl StoresServerSessions for Recording {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        self.put_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key.clone());
        self.inner.put(key, value)
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.taken_keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(key.to_vec());
        self.inner.take(key)
    }

    fn can_cache(&self) -> bool {
        self.inner.can_cache()
    }
}

#[test]
fn tls13_stateful_ticket_made_on_a_resumes_on_b_exactly_once() {
    let cert = support::make_cert();
    let (shared, a, b) = fleet();
    let recording_a = Recording::new(a.clone());
    let recording_b = Recording::new(b.clone());
    let server_a = server(&cert, TLS13, recording_a.clone());
    let server_b = server(&cert, TLS13, recording_b.clone());
    let client = client(&cert, TLS13);

    assert_eq!(connect(&client, &server_a), Full);
    let issued = recording_a.put_keys();
    assert_eq!(issued.len(), 1, "one ticket issued by A");
    let ticket = &issued[0];

    assert_eq!(connect(&client, &server_b), Resumed);
    assert_eq!(recording_b.taken_keys(), vec![ticket.clone()]);
    assert_eq!(shared.stats().takes, 1);

    // Replaying A's ticket anywhere in the fleet fails, even on A, which still held its
    // own local copy of it.
    assert_eq!(a.take(ticket), None);
    assert_eq!(b.take(ticket), None);
    assert_eq!(shared.take(ticket).unwrap().map(|entry| entry.ttl), None);
    assert_eq!(shared.stats().takes, 1);
    assert_eq!(a.stats().takes, 0);
    assert_eq!(b.stats().takes, 1);

    // The ticket B issued on resumption resumes on A, in turn once.
    assert_eq!(connect(&client, &server_a), Resumed);
    assert_eq!(shared.stats().takes, 2);
    assert_eq!(a.stats().takes, 1);
    // The client has used up its tickets except the one A just issued.
    assert_eq!(connect(&client, &server_b), Resumed);
    assert_eq!(connect(&client, &server_a), Resumed);
    assert_eq!(shared.stats().takes, 4);
}

#[test]
fn tls13_replayed_ticket_gets_a_full_handshake() {
    // The client's ticket is taken by someone else first (a replay that won the race, or
    // another instance): the client's own attempt must fall back to a full handshake.
    let cert = support::make_cert();
    let (_shared, a, b) = fleet();
    let recording_a = Recording::new(a.clone());
    let server_a = server(&cert, TLS13, recording_a.clone());
    let server_b = server(&cert, TLS13, b.clone());
    let client = client(&cert, TLS13);

    assert_eq!(connect(&client, &server_a), Full);
    let ticket = recording_a.put_keys().remove(0);
    assert!(b.take(&ticket).is_some(), "the replay resumes once");
    assert_eq!(connect(&client, &server_a), Full);
    assert_eq!(connect(&client, &server_b), Resumed);
}

#[test]
fn tls13_separate_caches_do_not_resume_across_instances() {
    let cert = support::make_cert();
    let server_a = server(&cert, TLS13, Arc::new(SessionCache::new(capacity())));
    let server_b = server(&cert, TLS13, Arc::new(SessionCache::new(capacity())));
    let client = client(&cert, TLS13);

    assert_eq!(connect(&client, &server_a), Full);
    assert_eq!(connect(&client, &server_b), Full);
    assert_eq!(connect(&client, &server_b), Resumed);
}
