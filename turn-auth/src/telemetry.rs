//! Counters that show incident 2 coming: how many clients were told their nonce was stale,
//! how many came back with the new one, how many never did.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),+ $(,)?) => {
        /// A point-in-time copy of the authenticator's counters (all since start).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        #[non_exhaustive]
        pub struct TelemetrySnapshot {
            $($(#[$doc])* pub $name: u64,)+
        }

        #[derive(Debug, Default)]
        pub(crate) struct Telemetry {
            $(pub(crate) $name: AtomicU64,)+
        }

        impl Telemetry {
            pub(crate) fn snapshot(&self) -> TelemetrySnapshot {
                TelemetrySnapshot {
                    $($name: self.$name.load(Ordering::Relaxed),)+
                }
            }
        }

        impl TelemetrySnapshot {
            /// Every counter with its name, for exporters (Prometheus and the like).
            pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($name), self.$name)),+].into_iter()
            }
        }
    };
}

counters! {
    /// Requests that passed authentication and reached the inner service.
    authenticated,
    /// `401` challenges to requests without MESSAGE-INTEGRITY (the normal first round trip).
    challenges_401,
    /// `401` answers to requests with an unknown user or a wrong MESSAGE-INTEGRITY.
    rejected_401,
    /// `400` answers (a required attribute missing, a password-algorithm mismatch).
    bad_requests_400,
    /// `420` answers (unknown comprehension-required attributes).
    unknown_attributes_420,
    /// `441` answers (a different username on an existing allocation's 5-tuple).
    wrong_credentials_441,
    /// `438` answers: authentic requests whose nonce had expired or was not issued to
    /// this address.
    stale_nonces_438,
    /// Clients that came back with a fresh nonce after a `438`.
    stale_nonces_recovered,
    /// Clients that did not come back with a fresh nonce within the recovery window after a
    /// `438`: with [`Strict`](crate::NoncePolicy::Strict) their allocation will expire —
    /// the 1100-second drop.
    stale_nonces_unrecovered,
    /// Requests accepted on an expired nonce because they belong to a live allocation
    /// ([`AllocationBound`](crate::NoncePolicy::AllocationBound)).
    stale_nonces_accepted,
    /// Messages dropped silently, as the RFC requires for malformed STUN or a wrong
    /// FINGERPRINT.
    dropped,
    /// Credential store failures (answered `500`).
    store_errors,
}

impl Telemetry {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
