use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Meta;
use super::service::{AllowedHeaders, Source, add_headers, judge};
use crate::backend::Check;

/// What is kept while a remote backend answers.
pub(super) struct Pending<S, B> {
    pub(super) inner: S,
    pub(super) request: Request<B>,
    pub(super) meta: Arc<Meta>,
    pub(super) source: Source,
    pub(super) headers_on_allowed: bool,
}

pin_project! {
    /// Response future of [`RateLimit`](super::RateLimit).
    ///
    /// With an in-memory backend the decision is made in `call`, so this is the inner
    /// service's future (or a ready response): nothing is boxed.
    pub struct ResponseFuture<S, B, ResBody>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        kind: Kind<S, B, ResBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, B, ResBody>
    where
        S: Service<Request<B>>,
    {
        Checking {
            check: Check,
            pending: Option<Pending<S, B>>,
        },
        Inner {
            #[pin]
            future: S::Future,
            headers: AllowedHeaders,
        },
        Ready {
            response: Option<Response<ResBody>>,
        },
    }
}

impl<S, B, ResBody> std::fmt::Debug for ResponseFuture<S, B, ResBody>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.kind {
            Kind::Checking { .. } => "Checking",
            Kind::Inner { .. } => "Inner",
            Kind::Ready { .. } => "Ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, B, ResBody> ResponseFuture<S, B, ResBody>
where
    S: Service<Request<B>>,
{
    pub(super) fn checking(check: Check, pending: Pending<S, B>) -> Self {
        Self {
            kind: Kind::Checking {
                check,
                pending: Some(pending),
            },
        }
    }

    pub(super) fn inner(future: S::Future, headers: AllowedHeaders) -> Self {
        Self {
            kind: Kind::Inner { future, headers },
        }
    }

    pub(super) fn ready(response: Response<ResBody>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B, ResBody>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<&'static str>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut kind = self.project().kind;
        loop {
            match kind.as_mut().project() {
                KindProj::Checking { check, pending } => {
                    let result = ready!(Pin::new(check).poll(cx));
                    let Pending {
                        mut inner,
                        request,
                        meta,
                        source,
                        headers_on_allowed,
                    } = pending.take().expect("polled after completion");
                    match judge(result, &meta, source, headers_on_allowed) {
                        Ok(headers) => {
                            let future = inner.call(request);
                            kind.set(Kind::Inner { future, headers });
                        }
                        Err(response) => {
                            kind.set(Kind::Ready { response: None });
                            return Poll::Ready(Ok(response));
                        }
                    }
                }
                KindProj::Inner { future, headers } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(headers) = headers.take() {
                        add_headers(&mut response, headers);
                    }
                    return Poll::Ready(Ok(response));
                }
                KindProj::Ready { response } => {
                    return Poll::Ready(Ok(response.take().expect("polled after completion")));
                }
            }
        }
    }
}
