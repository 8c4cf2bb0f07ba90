//! Where limit states live: in this process ([`Limiter`]) or shared by a fleet (a Redis
//! backend). The tower layer and the configuration work with any [`Backend`].

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::clock::Clock;
use crate::limiter::{Allowed, Limited, LimitedReason, Limiter};
use crate::quota::Quota;

/// A store of rate-limit states for one quota.
///
/// # Contract
///
/// - `key` is untrusted and unbounded in length: a backend must keep per-key memory
///   independent of it (hash it) and bounded in count.
/// - A check must finish in bounded time: a remote backend enforces its own timeout and
///   answers by its failure policy rather than waiting.
pub trait Backend: Send + Sync + 'static {
    /// Checks a request of weight `n` for `key`.
    fn check_n(&self, key: &[u8], n: NonZeroU32) -> Check;

    /// The quota this backend enforces.
    fn quota(&self) -> Quota;

    /// Checks one request for `key`.
    fn check(&self, key: &[u8]) -> Check {
        self.check_n(key, NonZeroU32::MIN)
    }
}

type Boxed = Pin<Box<dyn Future<Output = Result<Allowed, Limited>> + Send + 'static>>;

/// The answer of a [`Backend`]: ready at once for in-memory backends, a future for remote
/// ones (no allocation on the in-memory path).
pub struct Check(Inner);

enum Inner {
    Ready(Option<Result<Allowed, Limited>>),
    Pending(Boxed),
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Ready(r) => f.debug_tuple("Check::Ready").field(r).finish(),
            Inner::Pending(_) => f.write_str("Check::Pending"),
        }
    }
}

impl Check {
    /// An answer known now.
    pub fn ready(result: Result<Allowed, Limited>) -> Self {
        Self(Inner::Ready(Some(result)))
    }

    /// An answer still to come.
    pub fn pending(
        future: impl Future<Output = Result<Allowed, Limited>> + Send + 'static,
    ) -> Self {
        Self(Inner::Pending(Box::pin(future)))
    }

    /// The answer, if it is known without waiting.
    pub fn now_or_never(self) -> Option<Result<Allowed, Limited>> {
        match self.0 {
            Inner::Ready(result) => result,
            Inner::Pending(_) => None,
        }
    }
}

impl Future for Check {
    type Output = Result<Allowed, Limited>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Inner::Ready(result) => Poll::Ready(result.take().expect("polled after completion")),
            Inner::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<C: Clock> Backend for Limiter<C> {
    fn check_n(&self, key: &[u8], n: NonZeroU32) -> Check {
        Check::ready(match Limiter::check_n(self, key, n) {
            Ok(result) => result,
            // No wait helps a request heavier than the whole burst.
            Err(_) => Err(Limited::new(Duration::MAX, LimitedReason::ExceedsBurst)),
        })
    }

    fn quota(&self) -> Quota {
        Limiter::quota(self)
    }
}

impl<B: Backend + ?Sized> Backend for std::sync::Arc<B> {
    fn check_n(&self, key: &[u8], n: NonZeroU32) -> Check {
        (**self).check_n(key, n)
    }

    fn quota(&self) -> Quota {
        (**self).quota()
    }
}
