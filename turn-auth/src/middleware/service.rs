use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tower_service::Service;

use super::future::ResponseFuture;
use crate::authenticator::{Precheck, Shared};
use crate::credentials::CredentialStore;
use crate::request::{StunRequest, TurnRequest};

/// Authenticates STUN requests before the inner TURN server sees them. See the
/// [module docs](super).
#[derive(Clone)]
pub struct TurnAuth<S, C> {
    inner: S,
    shared: Arc<Shared>,
    store: C,
}

impl<S, C> std::fmt::Debug for TurnAuth<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnAuth")
            .field("realm", &self.shared.realm)
            .finish_non_exhaustive()
    }
}

impl<S, C> TurnAuth<S, C> {
    pub(super) fn new(inner: S, shared: Arc<Shared>, store: C) -> Self {
        Self {
            inner,
            shared,
            store,
        }
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

impl<S, C> Service<StunRequest> for TurnAuth<S, C>
where
    S: Service<TurnRequest, Response = Option<Bytes>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    C: CredentialStore,
{
    type Response = Option<Bytes>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: StunRequest) -> Self::Future {
        let now = self.shared.clock.now();
        let (username, algorithm, method) = match self.shared.precheck(&request, now) {
            Precheck::PassThrough => {
                return ResponseFuture::inner(self.inner.call(TurnRequest {
                    request,
                    auth: None,
                }));
            }
            Precheck::Reply(reply) => return ResponseFuture::ready(reply),
            Precheck::Lookup {
                username,
                algorithm,
                method,
            } => (Box::<str>::from(username), algorithm, method),
        };
        let lookup = self
            .store
            .lookup(&username, &self.shared.realm, algorithm, now);
        let shared = Arc::clone(&self.shared);
        // The service that was driven to readiness is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::boxed(async move {
            let credentials = lookup.await;
            let now = shared.clock.now();
            let auth = match shared.verify(&request, &username, credentials, now) {
                Ok(auth) => auth,
                Err(reply) => return Ok(reply),
            };
            let five_tuple = request.five_tuple;
            let response = inner
                .call(TurnRequest {
                    request,
                    auth: Some(auth),
                })
                .await?;
            if let Some(bytes) = &response {
                shared.observe(five_tuple, method, &username, bytes, shared.clock.now());
            }
            Ok(response)
        })
    }
}
