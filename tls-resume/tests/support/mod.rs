//! In-memory rustls handshakes for the integration tests: a self-signed `localhost`
//! certificate, server and client configs on the `ring` provider, and a driver that runs
//! a client and a server connection against each other without sockets; and, in
//! [`greeting`], the same over loopback TCP through a `ResumingAcceptor`.
#![allow(dead_code, unreachable_pub)]

pub mod greeting;

use std::sync::Arc;

use rustls::client::{Resumption, Tls12Resumption};
use rustls::crypto::ring::default_provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{NoServerSessionStorage, ProducesTickets};
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, HandshakeKind, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};

/// A self-signed certificate for `localhost` and its private key.
pub fn make_cert() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("generate a self-signed certificate");
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    (certified.cert.der().clone(), key.into())
}

/// A server config for `cert`, restricted to `versions`, with no session storage
/// (`NoServerSessionStorage`) and `ticketer` if given (else rustls' default, disabled), so
/// any resumption it does comes from the ticketer. Clone the config out of the `Arc` to
/// set `session_storage` or other fields.
pub fn server_config(
    cert: &(CertificateDer<'static>, PrivateKeyDer<'static>),
    versions: &[&'static SupportedProtocolVersion],
    ticketer: Option<Arc<dyn ProducesTickets>>,
) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.0.clone()], cert.1.clone_key())
        .expect("server certificate");
    config.session_storage = Arc::new(NoServerSessionStorage {});
    if let Some(ticketer) = ticketer {
        config.ticketer = ticketer;
    }
    Arc::new(config)
}

/// A client config trusting `cert`, restricted to `versions`, remembering sessions in
/// memory and offering TLS 1.2 session ids and tickets
/// (`Tls12Resumption::SessionIdOrTickets`; clone it out of the `Arc` to change
/// `resumption`). Share the `Arc` across connections so sessions carry over.
pub fn client_config(
    cert: &CertificateDer<'static>,
    versions: &[&'static SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("trust the certificate");
    let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption =
        Resumption::in_memory_sessions(64).tls12_resumption(Tls12Resumption::SessionIdOrTickets);
    Arc::new(config)
}

/// Runs one full connection in memory: the handshake, then the server's post-handshake
/// flight (TLS 1.3 tickets) into the client. Returns the handshake kinds seen by the
/// client and the server.
///
/// # Panics
///
/// When the handshake fails or does not finish.
pub fn handshake(
    client_config: &Arc<ClientConfig>,
    server_config: &Arc<ServerConfig>,
    server_name: &str,
) -> (HandshakeKind, HandshakeKind) {
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    let mut client = ClientConnection::new(client_config.clone(), name).expect("client");
    let mut server = ServerConnection::new(server_config.clone()).expect("server");
    for _ in 0..16 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        transfer(&mut client, &mut server);
        transfer(&mut server, &mut client);
    }
    assert!(
        !client.is_handshaking() && !server.is_handshaking(),
        "handshake did not finish"
    );
    // The server's tickets (TLS 1.3) arrive after the handshake; without this the client
    // never stores them.
    transfer(&mut server, &mut client);
    (
        client.handshake_kind().expect("client handshake kind"),
        server.handshake_kind().expect("server handshake kind"),
    )
}

fn transfer<A, B>(from: &mut ConnectionCommon<A>, to: &mut ConnectionCommon<B>) {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).expect("write tls");
    }
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd).expect("read tls");
        to.process_new_packets().expect("process packets");
    }
}
