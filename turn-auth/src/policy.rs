//! When an expired nonce is still good enough: the answer to incident 2.
//!
//! A video product's calls died after exactly 1100 seconds whenever one side was relayed.
//! The TURN server (coturn, `stale-nonce=600`) expired nonces after 600 s and answered the
//! next Refresh with `438 Stale Nonce`; a compliant client retries with the new nonce,
//! but the legacy Edge client never did. Its allocation had last been refreshed at about
//! 500 s, so it lived until 1100 s, and then the relay — and the call — stopped. The
//! team's fix was to turn nonce expiry off, giving up replay protection for everyone.
//!
//! [`NoncePolicy::AllocationBound`] keeps expiring nonces and keeps such calls alive:
//!
//! - a new Allocate always needs a fresh nonce (so a captured one cannot open relays);
//! - once an allocation exists, a request from **the same 5-tuple** whose
//!   MESSAGE-INTEGRITY verifies with **the allocation's user's key** keeps working on the
//!   nonce it had, until the allocation ends or [`max_session`](NoncePolicy::AllocationBound::max_session)
//!   is reached — the nonce is bound to the client's address by its MAC, and the request
//!   is authentic, so nothing is replayed;
//! - a nonce used from any other address is refused (`438`).
//!
//! [`NoncePolicy::Strict`] is what coturn's `stale-nonce` does: `438` once the nonce is older
//! than its lifetime. Either way the counters in
//! [`TelemetrySnapshot`](crate::TelemetrySnapshot) show how many clients were told their
//! nonce was stale, how many recovered, and how many never did — the clients incident 2
//! was made of.

use std::time::Duration;

/// How old a nonce may be. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoncePolicy {
    /// `438 Stale Nonce` for every request whose nonce is older than `lifetime`
    /// (coturn's `stale-nonce`). Clients that ignore 438 lose their allocation.
    Strict {
        /// How long a nonce is valid.
        lifetime: Duration,
    },
    /// Nonces older than `lifetime` are refused for new allocations, but keep working for
    /// requests of a live allocation from its own 5-tuple, up to `max_session` after the
    /// allocation was created.
    AllocationBound {
        /// How long a nonce is valid outside a live allocation.
        lifetime: Duration,
        /// The longest an allocation can live on a nonce older than `lifetime`.
        max_session: Duration,
    },
}

/// coturn's default nonce lifetime, also the default here.
pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(600);

/// The default cap on how long an allocation may run on an expired nonce.
pub const DEFAULT_MAX_SESSION: Duration = Duration::from_secs(12 * 3600);

impl Default for NoncePolicy {
    /// `AllocationBound` with a 10-minute nonce lifetime and a 12-hour session cap.
    fn default() -> Self {
        NoncePolicy::AllocationBound {
            lifetime: DEFAULT_NONCE_LIFETIME,
            max_session: DEFAULT_MAX_SESSION,
        }
    }
}

impl NoncePolicy {
    /// How long a nonce is fresh.
    pub fn lifetime(&self) -> Duration {
        match *self {
            NoncePolicy::Strict { lifetime } | NoncePolicy::AllocationBound { lifetime, .. } => {
                lifetime
            }
        }
    }

    /// Whether an authentic request on a nonce older than the lifetime is accepted, given
    /// the live allocation (if any) of its 5-tuple.
    pub(crate) fn accepts_stale(
        &self,
        is_allocate: bool,
        nonce_issued_at: Duration,
        allocation: Option<AllocationTimes>,
        now: Duration,
    ) -> bool {
        let NoncePolicy::AllocationBound {
            lifetime,
            max_session,
        } = *self
        else {
            return false;
        };
        let Some(allocation) = allocation else {
            return false;
        };
        !is_allocate
            && now < allocation.expires_at
            && now < allocation.created_at.saturating_add(max_session)
            // The nonce was fresh when the allocation was made, or issued since.
            && nonce_issued_at.saturating_add(lifetime) >= allocation.created_at
    }
}

/// When a live allocation was created and when it expires, since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllocationTimes {
    pub(crate) created_at: Duration,
    pub(crate) expires_at: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Duration = Duration::from_secs(1_000_000);
    const LIFETIME: Duration = Duration::from_secs(600);

    fn secs(s: u64) -> Duration {
        T0 + Duration::from_secs(s)
    }

    #[test]
    fn strict_never_accepts_stale() {
        let policy = NoncePolicy::Strict { lifetime: LIFETIME };
        let alloc = AllocationTimes {
            created_at: secs(0),
            expires_at: secs(2000),
        };
        assert!(!policy.accepts_stale(false, secs(0), Some(alloc), secs(700)));
    }

    #[test]
    fn allocation_bound_accepts_only_live_allocations_within_the_cap() {
        let policy = NoncePolicy::AllocationBound {
            lifetime: LIFETIME,
            max_session: Duration::from_secs(3600),
        };
        let alloc = AllocationTimes {
            created_at: secs(0),
            expires_at: secs(1100),
        };
        assert!(policy.accepts_stale(false, secs(0), Some(alloc), secs(1000)));
        assert!(
            !policy.accepts_stale(true, secs(0), Some(alloc), secs(1000)),
            "Allocate needs a fresh nonce"
        );
        assert!(
            !policy.accepts_stale(false, secs(0), None, secs(1000)),
            "no allocation"
        );
        assert!(
            !policy.accepts_stale(false, secs(0), Some(alloc), secs(1100)),
            "allocation expired"
        );
        let long = AllocationTimes {
            created_at: secs(0),
            expires_at: secs(10_000),
        };
        assert!(policy.accepts_stale(false, secs(0), Some(long), secs(3599)));
        assert!(
            !policy.accepts_stale(false, secs(0), Some(long), secs(3600)),
            "max_session"
        );
        let later = AllocationTimes {
            created_at: secs(5000),
            expires_at: secs(6000),
        };
        assert!(
            !policy.accepts_stale(false, secs(0), Some(later), secs(5100)),
            "nonce older than the allocation"
        );
    }

    #[test]
    fn default_is_allocation_bound() {
        assert!(matches!(
            NoncePolicy::default(),
            NoncePolicy::AllocationBound { .. }
        ));
        assert_eq!(NoncePolicy::default().lifetime(), DEFAULT_NONCE_LIFETIME);
    }
}
