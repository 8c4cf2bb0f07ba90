//! The client: rustls's blocking `StreamOwned` over a std `TcpStream`, one `ClientConfig`
//! (so one resumption store) per run, reconnecting to the instances in a given order and
//! counting the handshakes rustls reports as resumed.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, Tls12Resumption};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring::default_provider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, Error, HandshakeKind,
    SignatureScheme, StreamOwned, SupportedProtocolVersion,
};

/// The bound on each connect, read and write.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The request sent on every connection.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// One kind of client: a TLS version and how it may resume TLS 1.2 sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    /// What the report calls it.
    pub(crate) label: &'static str,
    /// The only version offered.
    pub(crate) version: &'static SupportedProtocolVersion,
    /// Session ids only, or rustls's default (a ticket when the server issues them, else the
    /// session id).
    pub(crate) tls12: Tls12Resumption,
}

/// The clients every side is measured with.
pub(crate) const ROWS: [Row; 3] = [
    Row {
        label: "TLS 1.3, tickets (rustls client default)",
        version: &rustls::version::TLS13,
        tls12: Tls12Resumption::SessionIdOrTickets,
    },
    Row {
        label: "TLS 1.2, ticket or session id (default)",
        version: &rustls::version::TLS12,
        tls12: Tls12Resumption::SessionIdOrTickets,
    },
    Row {
        label: "TLS 1.2, session ids only",
        version: &rustls::version::TLS12,
        tls12: Tls12Resumption::SessionIdOnly,
    },
];

/// What one run of reconnects saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Connections after the first (the first has nothing to resume).
    pub(crate) reconnects: usize,
    /// Of those, handshakes rustls's client reports as `HandshakeKind::Resumed`.
    pub(crate) resumed: usize,
}

impl Tally {
    /// The resumed share of reconnects, in percent.
    pub(crate) fn percent(&self) -> f64 {
        if self.reconnects == 0 {
            return 0.0;
        }
        100.0 * self.resumed as f64 / self.reconnects as f64
    }
}

/// Accepts exactly one server certificate: the first one seen (the fleet generates its
/// certificate in this process and does not export it), and checks every handshake
/// signature against it, so a server without the pinned key fails the handshake.
#[derive(Debug)]
pub(crate) struct PinFirstCertificate {
    pinned: OnceLock<CertificateDer<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinFirstCertificate {
    /// A verifier that has pinned nothing yet, with `provider`'s signature algorithms.
    pub(crate) fn new(provider: &CryptoProvider) -> Self {
        Self {
            pinned: OnceLock::new(),
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for PinFirstCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let pinned = self.pinned.get_or_init(|| end_entity.clone().into_owned());
        if pinned.as_ref() == end_entity.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client configuration for `row`: rustls's default in-memory resumption store (256
/// sessions), with TLS 1.2 resumption as the row says.
///
/// # Errors
///
/// When rustls refuses the protocol version.
pub(crate) fn config(
    row: Row,
    verifier: &Arc<PinFirstCertificate>,
) -> Result<Arc<ClientConfig>, String> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_protocol_versions(&[row.version])
        .map_err(|e| format!("client config: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(verifier) as _)
        .with_no_client_auth();
    config.resumption = Resumption::default().tls12_resumption(row.tls12);
    Ok(Arc::new(config))
}

/// Connects to each port of `order` in turn with one client configuration and counts the
/// resumed handshakes. Each response names the instance that answered and whether it
/// resumed: both are checked against the client's view.
///
/// # Errors
///
/// A connection failed, or an answer disagrees with the client.
pub(crate) fn reconnect(
    config: &Arc<ClientConfig>,
    ports: &[u16],
    order: &[usize],
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    for (i, &instance) in order.iter().enumerate() {
        let port = ports[instance];
        let resumed = visit(config, port, instance + 1).map_err(|e| {
            format!(
                "connection {} to instance {} (port {port}): {e}",
                i + 1,
                instance + 1
            )
        })?;
        if i > 0 {
            tally.reconnects += 1;
            tally.resumed += usize::from(resumed);
        }
    }
    Ok(tally)
}

/// One connection: handshake, request, whole response. `Ok(resumed)`.
fn visit(config: &Arc<ClientConfig>, port: u16, instance: usize) -> Result<bool, String> {
    let tcp = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), IO_TIMEOUT)
        .map_err(|e| format!("connect: {e}"))?;
    // As browsers and mobile stacks do: without it, Nagle's algorithm holds the request
    // behind the client's Finished until the server's delayed ACK (about 40 ms).
    tcp.set_nodelay(true)
        .and_then(|()| tcp.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|()| tcp.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("socket: {e}"))?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let connection = ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(connection, tcp);
    tls.write_all(REQUEST)
        .map_err(|e| format!("handshake or request: {e}"))?;
    let mut response = String::new();
    tls.read_to_string(&mut response)
        .map_err(|e| format!("response: {e}"))?;
    let resumed = tls.conn.handshake_kind() == Some(HandshakeKind::Resumed);
    // The body: `instance=2 port=9444 resumed=true protocol=TLSv1.3`.
    let expected = format!("instance={instance} port={port} resumed={resumed} ");
    if !response.lines().any(|line| line.starts_with(&expected)) {
        return Err(format!(
            "expected an answer starting `{expected}`, got {:?}",
            response.lines().last().unwrap_or_default()
        ));
    }
    Ok(resumed)
}
