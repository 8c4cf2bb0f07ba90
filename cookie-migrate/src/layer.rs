//! The tower middleware: [`CookieMigrationLayer`], [`CookieMigrationService`] and
//! [`ResponseFuture`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::migrate::Processed;
use crate::spec::CookieMigration;

/// Applies a [`CookieMigration`] to every request and its response. See the [crate docs](crate).
#[derive(Debug, Clone)]
#[must_use]
pub struct CookieMigrationLayer {
    migration: CookieMigration,
}

impl CookieMigrationLayer {
    /// A layer applying `migration`.
    pub fn new(migration: CookieMigration) -> Self {
        Self { migration }
    }
}

impl<S> Layer<S> for CookieMigrationLayer {
    type Service = CookieMigrationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CookieMigrationService {
            inner,
            migration: self.migration.clone(),
        }
    }
}

/// The service made by [`CookieMigrationLayer`].
///
/// The inner service sees the rewritten `Cookie` header and a
/// [`MigrationOutcome`](crate::MigrationOutcome) in the request extensions; its response
/// gets the migration's `Set-Cookie` headers. Requests the migration rejects get an empty
/// response with [`CookieError::status`](crate::CookieError::status).
#[derive(Debug, Clone)]
pub struct CookieMigrationService<S> {
    inner: S,
    migration: CookieMigration,
}

impl<S> CookieMigrationService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, migration: CookieMigration) -> Self {
        Self { inner, migration }
    }

    /// A layer for this service.
    pub fn layer(migration: CookieMigration) -> CookieMigrationLayer {
        CookieMigrationLayer::new(migration)
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CookieMigrationService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match self.migration.process_request(request.headers_mut()) {
            Ok(processed) => {
                request.extensions_mut().insert(processed.outcome().clone());
                ResponseFuture {
                    kind: Kind::Inner {
                        future: self.inner.call(request),
                        processed: Some(processed),
                    },
                }
            }
            Err(error) => {
                let mut response = Response::new(ResBody::default());
                *response.status_mut() = error.status();
                ResponseFuture {
                    kind: Kind::Rejected {
                        response: Some(response),
                    },
                }
            }
        }
    }
}

pin_project! {
    /// Response future of [`CookieMigrationService`].
    pub struct ResponseFuture<F, ResBody> {
        #[pin]
        kind: Kind<F, ResBody>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody> {
        Inner {
            #[pin]
            future: F,
            processed: Option<Processed>,
        },
        Rejected {
            response: Option<Response<ResBody>>,
        },
    }
}

impl<F, ResBody> std::fmt::Debug for ResponseFuture<F, ResBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, processed } => {
                let mut response = ready!(future.poll(cx))?;
                if let Some(processed) = processed.take() {
                    processed.process_response(response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
            KindProj::Rejected { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}
