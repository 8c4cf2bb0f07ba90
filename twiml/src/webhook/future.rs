use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::BoxError;
use super::layer::Config;
use super::service::{Rejection, judge};

/// What is kept while the body is buffered.
pub(super) struct Pending<S> {
    pub(super) inner: S,
    pub(super) parts: Parts,
    pub(super) url: String,
    pub(super) signature: String,
    pub(super) config: Arc<Config>,
}

pin_project! {
    /// Response future of [`TwilioSignature`](super::TwilioSignature).
    pub struct ResponseFuture<S, B, ResBody>
    where
        S: Service<Request<Full<Bytes>>>,
        B: Body,
    B::Error: Into<BoxError>,
        B::Error: Into<BoxError>,
    {
        #[pin]
        kind: Kind<S, B, ResBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, B, ResBody>
    where
        S: Service<Request<Full<Bytes>>>,
        B: Body,
    B::Error: Into<BoxError>,
        B::Error: Into<BoxError>,
    {
        Buffering {
            #[pin]
            body: Collect<Limited<B>>,
            pending: Option<Pending<S>>,
        },
        Inner {
            #[pin]
            future: S::Future,
        },
        Rejected {
            response: Option<Response<ResBody>>,
        },
    }
}

impl<S, B, ResBody> ResponseFuture<S, B, ResBody>
where
    S: Service<Request<Full<Bytes>>>,
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn buffering(body: Collect<Limited<B>>, pending: Pending<S>) -> Self {
        Self {
            kind: Kind::Buffering {
                body,
                pending: Some(pending),
            },
        }
    }

    pub(super) fn rejected(response: Response<ResBody>) -> Self {
        Self {
            kind: Kind::Rejected {
                response: Some(response),
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B, ResBody>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    B: Body,
    B::Error: Into<BoxError>,
    ResBody: From<&'static str>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut kind = self.project().kind;
        loop {
            match kind.as_mut().project() {
                KindProj::Buffering { body, pending } => {
                    let collected = ready!(body.poll(cx));
                    let Pending {
                        mut inner,
                        parts,
                        url,
                        signature,
                        config,
                    } = pending.take().expect("polled after completion");
                    let verdict = match collected {
                        Ok(collected) => {
                            let body = collected.to_bytes();
                            judge(&config.validator, &parts, &url, &signature, &body).map(|()| body)
                        }
                        Err(err) if err.is::<LengthLimitError>() => Err(Rejection::TooLarge),
                        Err(_) => Err(Rejection::UnreadableBody),
                    };
                    match verdict {
                        Ok(body) => {
                            let future = inner.call(Request::from_parts(parts, Full::new(body)));
                            kind.set(Kind::Inner { future });
                        }
                        Err(rejection) => {
                            let response = rejection.respond(&parts);
                            kind.set(Kind::Rejected { response: None });
                            return Poll::Ready(Ok(response));
                        }
                    }
                }
                KindProj::Inner { future } => return future.poll(cx),
                KindProj::Rejected { response } => {
                    return Poll::Ready(Ok(response.take().expect("polled after completion")));
                }
            }
        }
    }
}
