//! The RFC 8489 §9.2.4 server checks, in order, and the state they keep.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use lru::LruCache;

use crate::clock::Clock;
use crate::credentials::{Credential, StoreError};
use crate::nonce::{NonceManager, SecurityFeatures, claimed_features};
use crate::policy::{AllocationTimes, NoncePolicy};
use crate::request::{Authenticated, FiveTuple, Integrity, StunRequest, is_allocate};
use crate::stun::{AttrType, Class, Message, MessageBuilder, Method, PasswordAlgorithm};
use crate::telemetry::Telemetry;

/// The allocation lifetime assumed when a success response carries no LIFETIME
/// (RFC 8656 §7.2's default).
const DEFAULT_ALLOCATION_LIFETIME: Duration = Duration::from_secs(600);

/// The password algorithms offered when PASSWORD-ALGORITHMS is advertised, in preference
/// order.
pub(crate) const OFFERED_ALGORITHMS: [PasswordAlgorithm; 2] =
    [PasswordAlgorithm::Sha256, PasswordAlgorithm::Md5];

/// Configuration and state shared by every clone of the layer's service.
pub(crate) struct Shared {
    pub(crate) realm: Arc<str>,
    pub(crate) nonces: NonceManager,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: NoncePolicy,
    pub(crate) features: SecurityFeatures,
    pub(crate) software: Option<Box<str>>,
    pub(crate) authenticate_binding: bool,
    pub(crate) recovery_window: Duration,
    pub(crate) telemetry: Telemetry,
    pub(crate) sessions: Mutex<Sessions>,
}

/// Per-client state, bounded: live allocations by 5-tuple, and 5-tuples that were sent a
/// `438` and have not come back with a fresh nonce yet.
pub(crate) struct Sessions {
    allocations: LruCache<FiveTuple, Allocation>,
    pending_438: LruCache<FiveTuple, Duration>,
}

struct Allocation {
    username: Arc<str>,
    times: AllocationTimes,
    stale_reported: bool,
}

impl Sessions {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            allocations: LruCache::new(capacity),
            pending_438: LruCache::new(capacity),
        }
    }

    pub(crate) fn allocations(&self) -> usize {
        self.allocations.len()
    }
}

/// What the first, synchronous, checks decided.
pub(crate) enum Precheck<'a> {
    /// Needs no authentication: hand it to the inner service as is.
    PassThrough,
    /// Answer now (`None`: drop silently).
    Reply(Option<Bytes>),
    /// Look the user up, then [`Shared::verify`].
    Lookup {
        username: &'a str,
        algorithm: PasswordAlgorithm,
        method: Method,
    },
}

impl Shared {
    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything before the credential lookup: RFC 8489 §9.2.4 steps 1 to 3.
    pub(crate) fn precheck<'a>(&self, request: &'a StunRequest, now: Duration) -> Precheck<'a> {
        let data = &request.data;
        if !Message::is_stun(data) {
            // ChannelData (or garbage): the TURN server's to judge, per channel.
            return Precheck::PassThrough;
        }
        let message = match Message::parse(data) {
            Ok(message) => message,
            Err(error) => return self.drop_silently("malformed STUN message", &error),
        };
        if message.verify_fingerprint() == Some(false) {
            return self.drop_silently("FINGERPRINT mismatch", &"");
        }
        match message.class() {
            Class::Request => {}
            // Indications (Send) carry no credentials in TURN; responses are not ours.
            Class::Indication => return Precheck::PassThrough,
            Class::SuccessResponse | Class::ErrorResponse => {
                return self.drop_silently("unexpected response", &"");
            }
        }
        if message.method() == Method::BINDING && !self.authenticate_binding {
            return Precheck::PassThrough;
        }
        let client = request.five_tuple.client;
        if !message.has_integrity() && !message.has_integrity_sha256() {
            Telemetry::add(&self.telemetry.challenges_401);
            return self.reply(&message, 401, "Unauthenticated", client, now);
        }
        let (Ok(Some(username)), Ok(Some(realm)), Ok(Some(nonce))) =
            (message.username(), message.realm(), message.nonce())
        else {
            // USERHASH alone is answered here too: this server does not offer username
            // anonymity, so a client has no reason to send it.
            Telemetry::add(&self.telemetry.bad_requests_400);
            return self.reply(&message, 400, "Bad Request", client, now);
        };
        let algorithm = match self.password_algorithm(&message, nonce) {
            Ok(algorithm) => algorithm,
            Err(()) => {
                Telemetry::add(&self.telemetry.bad_requests_400);
                return self.reply(&message, 400, "Bad Request", client, now);
            }
        };
        if realm != &*self.realm {
            Telemetry::add(&self.telemetry.rejected_401);
            return self.reply(&message, 401, "Unauthenticated", client, now);
        }
        Precheck::Lookup {
            username,
            algorithm,
            method: message.method(),
        }
    }

    /// RFC 8489 §9.2.4 step 3: with the password-algorithms bit in the nonce cookie, the
    /// request must echo our PASSWORD-ALGORITHMS and pick one of them.
    fn password_algorithm(
        &self,
        message: &Message<'_>,
        nonce: &[u8],
    ) -> Result<PasswordAlgorithm, ()> {
        let features = claimed_features(nonce).unwrap_or(SecurityFeatures::NONE);
        if !features.contains(SecurityFeatures::PASSWORD_ALGORITHMS) {
            return Ok(PasswordAlgorithm::Md5);
        }
        let chosen = message.password_algorithm().map_err(drop)?;
        let echoed = message.password_algorithms().map_err(drop)?;
        match (chosen, echoed) {
            (None, None) => Ok(PasswordAlgorithm::Md5),
            (Some((number, _params)), Some(list)) => {
                let echoed_ours = list
                    .map(|(n, params)| params.is_empty().then_some(n))
                    .eq(OFFERED_ALGORITHMS.iter().map(|a| Some(a.wire())));
                let chosen = PasswordAlgorithm::from_wire(number).ok_or(())?;
                if echoed_ours { Ok(chosen) } else { Err(()) }
            }
            _ => Err(()),
        }
    }

    /// Everything after the lookup: integrity, the allocation's username, the nonce.
    pub(crate) fn verify(
        self: &Arc<Self>,
        request: &StunRequest,
        username: &str,
        credentials: Result<Vec<Credential>, StoreError>,
        now: Duration,
    ) -> Result<Authenticated, Option<Bytes>> {
        let message = Message::parse(&request.data).map_err(|_| None)?;
        let five_tuple = request.five_tuple;
        let client = five_tuple.client;
        let credentials = match credentials {
            Ok(credentials) => credentials,
            Err(error) => {
                Telemetry::add(&self.telemetry.store_errors);
                tracing::error!(target: "turn_auth", %error, "credential store failed");
                return Err(self.reply_bytes(&message, 500, "Server Error", client, now));
            }
        };
        let integrity = if message.has_integrity_sha256() {
            Integrity::Sha256
        } else {
            Integrity::Sha1
        };
        // Every candidate is checked, so timing does not tell which one matched.
        let mut matched = None;
        for credential in credentials {
            let ok = match integrity {
                // TURN allows no truncated MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
                Integrity::Sha256 if message.integrity_sha256_len() != Some(32) => Some(false),
                Integrity::Sha256 => message.verify_integrity_sha256(credential.key().as_bytes()),
                Integrity::Sha1 => message.verify_integrity_with(credential.integrity_mac()),
            };
            if ok == Some(true) && matched.is_none() {
                matched = Some(credential);
            }
        }
        let Some(credential) = matched else {
            Telemetry::add(&self.telemetry.rejected_401);
            return Err(self.reply_bytes(&message, 401, "Unauthenticated", client, now));
        };
        let nonce = message.nonce().ok().flatten().unwrap_or_default();
        let issued = self.nonces.verify(nonce, client, &self.realm, now);
        let is_allocate = is_allocate(message.method());
        let mut guard = self.sessions();
        let sessions: &mut Sessions = &mut guard;
        self.sweep_pending(sessions, now);
        let allocation = sessions.allocations.get_mut(&five_tuple);
        if let Some(allocation) = &allocation {
            if &*allocation.username != username {
                drop(guard);
                Telemetry::add(&self.telemetry.wrong_credentials_441);
                return Err(self.reply_bytes(&message, 441, "Wrong Credentials", client, now));
            }
        }
        let lifetime = self.policy.lifetime();
        let stale = match issued {
            Some(issued) if issued.age(now) <= lifetime => {
                if let Some(sent_at) = sessions.pending_438.peek(&five_tuple).copied() {
                    // Nonces carry milliseconds: compare at that resolution, or a retry with
                    // the nonce of the 438 itself would look older than the 438.
                    if issued.issued_at >= whole_millis(sent_at) {
                        sessions.pending_438.pop(&five_tuple);
                        Telemetry::add(&self.telemetry.stale_nonces_recovered);
                        tracing::debug!(target: "turn_auth", %client, "client recovered from 438 Stale Nonce");
                    }
                }
                false
            }
            Some(issued) => {
                let times = allocation.as_ref().map(|a| a.times);
                if self
                    .policy
                    .accepts_stale(is_allocate, issued.issued_at, times, now)
                {
                    let allocation = allocation.expect("accepted only with an allocation");
                    if !allocation.stale_reported {
                        allocation.stale_reported = true;
                        tracing::info!(
                            target: "turn_auth",
                            %client,
                            username,
                            nonce_age_secs = issued.age(now).as_secs(),
                            "allocation continues on an expired nonce (policy allocation-bound)"
                        );
                    }
                    Telemetry::add(&self.telemetry.stale_nonces_accepted);
                    true
                } else {
                    return Err(self.stale(sessions, &message, five_tuple, now));
                }
            }
            None => return Err(self.stale(sessions, &message, five_tuple, now)),
        };
        drop(guard);
        let authenticated = Authenticated {
            username: username.into(),
            realm: self.realm.clone(),
            credential,
            integrity,
            fingerprint: message.has_fingerprint(),
            stale_nonce: stale,
            client,
            shared: Arc::clone(self),
        };
        if message
            .unknown_comprehension_required(is_known)
            .next()
            .is_some()
        {
            let unknown: Vec<AttrType> = message.unknown_comprehension_required(is_known).collect();
            Telemetry::add(&self.telemetry.unknown_attributes_420);
            let builder = self
                .error_builder(&message, 420, "Unknown Attribute", client, now)
                .unknown_attributes(&unknown);
            return Err(Some(authenticated.sign(builder)));
        }
        Telemetry::add(&self.telemetry.authenticated);
        Ok(authenticated)
    }

    /// `438 Stale Nonce`, remembered so the client's recovery (or not) is counted.
    fn stale(
        &self,
        sessions: &mut Sessions,
        message: &Message<'_>,
        five_tuple: FiveTuple,
        now: Duration,
    ) -> Option<Bytes> {
        Telemetry::add(&self.telemetry.stale_nonces_438);
        tracing::debug!(target: "turn_auth", client = %five_tuple.client, "438 Stale Nonce");
        if !sessions.pending_438.contains(&five_tuple) {
            if let Some((evicted, _)) = sessions.pending_438.push(five_tuple, now) {
                if evicted != five_tuple {
                    self.unrecovered(evicted);
                }
            }
        }
        self.reply_bytes(message, 438, "Stale Nonce", five_tuple.client, now)
    }

    /// The counters, after counting the `438`s whose recovery window has passed.
    pub(crate) fn snapshot(&self) -> crate::telemetry::TelemetrySnapshot {
        let now = self.clock.now();
        self.sweep_pending(&mut self.sessions(), now);
        self.telemetry.snapshot()
    }

    /// Counts `438`s older than the recovery window as never recovered.
    fn sweep_pending(&self, sessions: &mut Sessions, now: Duration) {
        while let Some((&five_tuple, &sent_at)) = sessions.pending_438.peek_lru() {
            if now.saturating_sub(sent_at) <= self.recovery_window {
                break;
            }
            sessions.pending_438.pop_lru();
            self.unrecovered(five_tuple);
        }
    }

    fn unrecovered(&self, five_tuple: FiveTuple) {
        Telemetry::add(&self.telemetry.stale_nonces_unrecovered);
        tracing::warn!(
            target: "turn_auth",
            client = %five_tuple.client,
            "client never retried after 438 Stale Nonce: its allocation will expire \
             (the 1100-second call drop); consider NoncePolicy::AllocationBound"
        );
    }

    /// Learns allocations from the inner service's answers to Allocate and Refresh.
    pub(crate) fn observe(
        &self,
        five_tuple: FiveTuple,
        request_method: Method,
        username: &str,
        response: &[u8],
        now: Duration,
    ) {
        if request_method != Method::ALLOCATE && request_method != Method::REFRESH {
            return;
        }
        let Ok(response) = Message::parse(response) else {
            return;
        };
        if response.class() != Class::SuccessResponse {
            return;
        }
        let lifetime = response
            .lifetime()
            .map_or(DEFAULT_ALLOCATION_LIFETIME, |s| {
                Duration::from_secs(s.into())
            });
        let mut sessions = self.sessions();
        if request_method == Method::ALLOCATE {
            sessions.allocations.put(
                five_tuple,
                Allocation {
                    username: username.into(),
                    times: AllocationTimes {
                        created_at: now,
                        expires_at: now + lifetime,
                    },
                    stale_reported: false,
                },
            );
        } else if lifetime.is_zero() {
            sessions.allocations.pop(&five_tuple);
        } else if let Some(allocation) = sessions.allocations.get_mut(&five_tuple) {
            allocation.times.expires_at = now + lifetime;
        }
    }

    fn drop_silently(
        &self,
        why: &'static str,
        detail: &dyn std::fmt::Display,
    ) -> Precheck<'static> {
        Telemetry::add(&self.telemetry.dropped);
        tracing::debug!(target: "turn_auth", why, %detail, "STUN message dropped");
        Precheck::Reply(None)
    }

    fn reply<'a>(
        &self,
        message: &Message<'_>,
        code: u16,
        reason: &str,
        client: std::net::SocketAddr,
        now: Duration,
    ) -> Precheck<'a> {
        Precheck::Reply(self.reply_bytes(message, code, reason, client, now))
    }

    fn reply_bytes(
        &self,
        message: &Message<'_>,
        code: u16,
        reason: &str,
        client: std::net::SocketAddr,
        now: Duration,
    ) -> Option<Bytes> {
        let builder = self.error_builder(message, code, reason, client, now);
        let builder = if message.has_fingerprint() {
            builder.fingerprint()
        } else {
            builder
        };
        Some(builder.into_bytes())
    }

    /// An error response with REALM, a fresh NONCE for `client`, PASSWORD-ALGORITHMS when
    /// advertised, and SOFTWARE when configured; integrity and FINGERPRINT are the caller's.
    pub(crate) fn error_builder(
        &self,
        message: &Message<'_>,
        code: u16,
        reason: &str,
        client: std::net::SocketAddr,
        now: Duration,
    ) -> MessageBuilder {
        let nonce = self.nonces.mint(client, &self.realm, self.features, now);
        let mut builder = MessageBuilder::response_to(message, Class::ErrorResponse)
            .error_code(code, reason)
            .realm(&self.realm)
            .nonce(nonce.as_bytes());
        if self
            .features
            .contains(SecurityFeatures::PASSWORD_ALGORITHMS)
        {
            builder = builder.password_algorithms(&OFFERED_ALGORITHMS);
        }
        if let Some(software) = &self.software {
            builder = builder.software(software);
        }
        builder
    }
}

fn whole_millis(t: Duration) -> Duration {
    Duration::from_millis(u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
}

/// The attributes a TURN server understands (RFC 8489 and RFC 8656); others that are
/// comprehension-required are answered `420`.
fn is_known(attr: AttrType) -> bool {
    matches!(
        attr,
        AttrType::USERNAME
            | AttrType::MESSAGE_INTEGRITY
            | AttrType::ERROR_CODE
            | AttrType::UNKNOWN_ATTRIBUTES
            | AttrType::CHANNEL_NUMBER
            | AttrType::LIFETIME
            | AttrType::XOR_PEER_ADDRESS
            | AttrType::DATA
            | AttrType::REALM
            | AttrType::NONCE
            | AttrType::XOR_RELAYED_ADDRESS
            | AttrType::REQUESTED_ADDRESS_FAMILY
            | AttrType::EVEN_PORT
            | AttrType::REQUESTED_TRANSPORT
            | AttrType::DONT_FRAGMENT
            | AttrType::MESSAGE_INTEGRITY_SHA256
            | AttrType::PASSWORD_ALGORITHM
            | AttrType::USERHASH
            | AttrType::XOR_MAPPED_ADDRESS
            | AttrType::RESERVATION_TOKEN
    )
}
