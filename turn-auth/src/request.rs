//! What the tower layer takes and gives: raw datagrams with their 5-tuple.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::credentials::Credential;
use crate::stun::{Class, Message, MessageBuilder, Method, PasswordAlgorithm};

/// The transport a message arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// DTLS over UDP.
    Dtls,
}

/// Client address, server address and transport: what identifies an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// The client's transport address, as the server sees it.
    pub client: SocketAddr,
    /// The server address the message arrived at.
    pub server: SocketAddr,
    /// The transport.
    pub transport: Transport,
}

/// One received message (STUN or ChannelData) and where it came from.
#[derive(Debug, Clone)]
pub struct StunRequest {
    /// The datagram (or the framed message on a stream), as received.
    pub data: Bytes,
    /// Where it came from and arrived.
    pub five_tuple: FiveTuple,
}

impl StunRequest {
    /// A request of `data` on `five_tuple`.
    pub fn new(data: impl Into<Bytes>, five_tuple: FiveTuple) -> Self {
        Self {
            data: data.into(),
            five_tuple,
        }
    }
}

/// What the inner service receives from [`TurnAuthLayer`](crate::TurnAuthLayer).
#[derive(Debug, Clone)]
pub struct TurnRequest {
    /// The message as received.
    pub request: StunRequest,
    /// `Some` for requests that passed long-term authentication; `None` for what needs no
    /// authentication: indications (Send), ChannelData, and Binding requests unless the
    /// layer is configured to authenticate them.
    pub auth: Option<Authenticated>,
}

/// Which integrity attribute a request was checked with; responses use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integrity {
    /// MESSAGE-INTEGRITY (HMAC-SHA1).
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256.
    Sha256,
}

/// Who sent an authenticated request, with the key to sign the answer.
#[derive(Clone)]
pub struct Authenticated {
    pub(crate) username: Arc<str>,
    pub(crate) realm: Arc<str>,
    pub(crate) credential: Credential,
    pub(crate) integrity: Integrity,
    pub(crate) fingerprint: bool,
    pub(crate) stale_nonce: bool,
    pub(crate) client: std::net::SocketAddr,
    pub(crate) shared: Arc<crate::authenticator::Shared>,
}

impl fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("integrity", &self.integrity)
            .field("stale_nonce", &self.stale_nonce)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    /// The username (every later request of an allocation must use the same one).
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The password algorithm the key was derived with.
    pub fn password_algorithm(&self) -> PasswordAlgorithm {
        self.credential.key().algorithm()
    }

    /// Whether the request was accepted on an expired nonce under
    /// [`NoncePolicy::AllocationBound`](crate::NoncePolicy::AllocationBound).
    pub fn on_stale_nonce(&self) -> bool {
        self.stale_nonce
    }

    /// Finishes a response to this request: adds the same kind of integrity the request
    /// had, keyed with the user's key, and a FINGERPRINT when the request had one.
    pub fn sign(&self, response: MessageBuilder) -> Bytes {
        let response = match self.integrity {
            Integrity::Sha1 => response.message_integrity_with(self.credential.integrity_mac()),
            Integrity::Sha256 => {
                response.message_integrity_sha256(self.credential.key().as_bytes())
            }
        };
        let response = if self.fingerprint {
            response.fingerprint()
        } else {
            response
        };
        response.into_bytes()
    }

    /// A signed success response to `request` with no attributes beyond integrity, or
    /// with those `attributes` adds.
    pub fn success(
        &self,
        request: &Message<'_>,
        attributes: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Bytes {
        self.sign(attributes(MessageBuilder::response_to(
            request,
            Class::SuccessResponse,
        )))
    }

    /// A signed error response to `request` (`437 Allocation Mismatch`, `508 Insufficient
    /// Capacity`, …), carrying REALM and a fresh NONCE like every error this crate sends.
    pub fn error(&self, request: &Message<'_>, code: u16, reason: &str) -> Bytes {
        let now = self.shared.clock.now();
        self.sign(
            self.shared
                .error_builder(request, code, reason, self.client, now),
        )
    }
}

/// Whether `method` creates an allocation.
pub(crate) fn is_allocate(method: Method) -> bool {
    method == Method::ALLOCATE
}
