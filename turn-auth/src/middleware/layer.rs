use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_layer::Layer;

use super::service::TurnAuth;
use crate::authenticator::{Sessions, Shared};
use crate::clock::{Clock, SystemClock};
use crate::credentials::CredentialStore;
use crate::nonce::{NonceManager, SecurityFeatures};
use crate::policy::NoncePolicy;
use crate::telemetry::{Telemetry, TelemetrySnapshot};

/// The default number of allocations (and pending `438`s) remembered.
pub const DEFAULT_SESSION_CAPACITY: usize = 65_536;

/// How long after a `438` a client has to come back with the new nonce before it counts as
/// never recovered, by default.
pub const DEFAULT_RECOVERY_WINDOW: Duration = Duration::from_secs(30);

/// Applies [`TurnAuth`] to a TURN server. See the [module docs](super).
///
/// Clones share the same nonce manager, allocation table and counters.
#[derive(Clone)]
#[must_use]
pub struct TurnAuthLayer<C> {
    shared: Arc<Shared>,
    store: C,
}

impl<C> std::fmt::Debug for TurnAuthLayer<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnAuthLayer")
            .field("realm", &self.shared.realm)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TurnAuthLayer`].
#[must_use]
pub struct TurnAuthBuilder<C> {
    realm: Arc<str>,
    store: C,
    nonces: NonceManager,
    policy: NoncePolicy,
    clock: Arc<dyn Clock>,
    capacity: NonZeroUsize,
    features: SecurityFeatures,
    software: Option<Box<str>>,
    authenticate_binding: bool,
    recovery_window: Duration,
}

impl<C> std::fmt::Debug for TurnAuthBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnAuthBuilder")
            .field("realm", &self.realm)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<C: CredentialStore + Clone> TurnAuthLayer<C> {
    /// A layer for `realm`, looking users up in `store`, issuing nonces with `nonces`.
    /// The defaults: [`NoncePolicy::default`], the system clock, 65 536 sessions, no
    /// security features advertised, Binding unauthenticated.
    pub fn builder(
        realm: impl Into<Arc<str>>,
        store: C,
        nonces: NonceManager,
    ) -> TurnAuthBuilder<C> {
        TurnAuthBuilder {
            realm: realm.into(),
            store,
            nonces,
            policy: NoncePolicy::default(),
            clock: Arc::new(SystemClock),
            capacity: NonZeroUsize::new(DEFAULT_SESSION_CAPACITY).expect("non-zero"),
            features: SecurityFeatures::NONE,
            software: None,
            authenticate_binding: false,
            recovery_window: DEFAULT_RECOVERY_WINDOW,
        }
    }

    /// The counters so far (reading them also counts the clients whose recovery window
    /// after a `438` has passed as never recovered).
    pub fn telemetry(&self) -> TelemetrySnapshot {
        self.shared.snapshot()
    }

    /// How many allocations the layer currently remembers.
    pub fn allocations(&self) -> usize {
        self.shared.sessions.lock().map_or(0, |s| s.allocations())
    }

    /// The nonce manager, for rotating secrets while running.
    pub fn nonces(&self) -> &NonceManager {
        &self.shared.nonces
    }
}

impl<C: CredentialStore + Clone> TurnAuthBuilder<C> {
    /// How old nonces may be. See [`NoncePolicy`].
    pub fn policy(mut self, policy: NoncePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock (tests use [`ManualClock`](crate::clock::ManualClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many allocations, and as many pending `438`s, are remembered; the least
    /// recently used go first. An allocation that is forgotten loses only its privilege of
    /// running on an expired nonce.
    pub fn session_capacity(mut self, capacity: NonZeroUsize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Advertises PASSWORD-ALGORITHMS (SHA-256 and MD5) in the nonce cookie and error
    /// responses, so RFC 8489 clients may choose SHA-256 keys.
    pub fn advertise_password_algorithms(mut self, advertise: bool) -> Self {
        self.features = if advertise {
            SecurityFeatures::PASSWORD_ALGORITHMS
        } else {
            SecurityFeatures::NONE
        };
        self
    }

    /// A SOFTWARE attribute for the layer's own answers.
    pub fn software(mut self, software: &str) -> Self {
        self.software = Some(software.into());
        self
    }

    /// Whether Binding requests must be authenticated too (off by default: clients use
    /// unauthenticated Binding for ICE).
    pub fn authenticate_binding(mut self, authenticate: bool) -> Self {
        self.authenticate_binding = authenticate;
        self
    }

    /// How long a client has after a `438` before it counts as never recovered.
    pub fn recovery_window(mut self, window: Duration) -> Self {
        self.recovery_window = window;
        self
    }

    /// The layer.
    pub fn build(self) -> TurnAuthLayer<C> {
        TurnAuthLayer {
            shared: Arc::new(Shared {
                realm: self.realm,
                nonces: self.nonces,
                clock: self.clock,
                policy: self.policy,
                features: self.features,
                software: self.software,
                authenticate_binding: self.authenticate_binding,
                recovery_window: self.recovery_window,
                telemetry: Telemetry::default(),
                sessions: Mutex::new(Sessions::new(self.capacity)),
            }),
            store: self.store,
        }
    }
}

impl<S, C: Clone> Layer<S> for TurnAuthLayer<C> {
    type Service = TurnAuth<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        TurnAuth::new(inner, Arc::clone(&self.shared), self.store.clone())
    }
}
