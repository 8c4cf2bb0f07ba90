use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use pin_project_lite::pin_project;

type Boxed<E> = Pin<Box<dyn Future<Output = Result<Option<Bytes>, E>> + Send>>;

pin_project! {
    /// Response future of [`TurnAuth`](super::TurnAuth).
    pub struct ResponseFuture<F, E> {
        #[pin]
        kind: Kind<F, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, E> {
        // Passed through without authentication: no allocation, no boxing.
        Inner { #[pin] future: F },
        // Answered by the layer.
        Ready { reply: Option<Option<Bytes>> },
        // Authentication awaits the credential store, then the inner service.
        Authenticating { future: Boxed<E> },
    }
}

impl<F, E> ResponseFuture<F, E> {
    pub(super) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(super) fn ready(reply: Option<Bytes>) -> Self {
        Self {
            kind: Kind::Ready { reply: Some(reply) },
        }
    }

    pub(super) fn boxed(
        future: impl Future<Output = Result<Option<Bytes>, E>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Authenticating {
                future: Box::pin(future),
            },
        }
    }
}

impl<F, E> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Option<Bytes>, E>>,
{
    type Output = Result<Option<Bytes>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Ready { reply } => {
                Poll::Ready(Ok(reply.take().expect("polled after completion")))
            }
            KindProj::Authenticating { future } => future.as_mut().poll(cx),
        }
    }
}
