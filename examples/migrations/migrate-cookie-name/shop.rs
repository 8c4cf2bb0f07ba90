//! The shop in its three deploys, as axum services sharing one session store: the session
//! id is the cookie's value; `/login` logs in and rotates the id (the usual defence against
//! session fixation), `/add` puts an item in the cart. Every response says, in `x-session`,
//! `x-user` and `x-cart` headers, which session the server read.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderValue, Response};
use cookie_migrate::{ConfigError, CookieMigration, CookieMigrationLayer, Legacy, Scope};
use testkit::cookie_store::first_value;
use tower::Layer;
use tower::util::BoxCloneService;

/// The shop's host.
pub(crate) const HOST: &str = "shop1.base.localhost";
/// The parent domain the legacy cookie was scoped to (`base.shop` in the incident), which
/// the new Public Suffix List makes a public suffix.
pub(crate) const PARENT: &str = "base.localhost";
/// The session cookie's name before the migration.
pub(crate) const LEGACY: &str = "THEBASE";
/// The session cookie's name after: host-only by prefix, versioned.
pub(crate) const CURRENT: &str = "__Host-thebase-v2";

/// How a deploy writes its session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deploy {
    /// `THEBASE` scoped to `Domain=base.localhost`.
    Legacy,
    /// The first fix: `THEBASE` host-only. Reads the first `THEBASE` of the header, like
    /// the servers of the incident.
    HostOnly,
    /// `__Host-thebase-v2` behind `CookieMigrationLayer`.
    Migrating,
}

/// One session.
#[derive(Debug, Clone, Default)]
struct Session {
    user: Option<String>,
    cart: u32,
}

#[derive(Debug, Clone, Default)]
struct Store {
    sessions: HashMap<String, Session>,
    issued: u64,
}

impl Store {
    /// A session id never issued before.
    fn fresh_id(&mut self) -> String {
        self.issued += 1;
        format!("s{:06}", self.issued)
    }
}

/// The session store every deploy shares. Clones share it; [`fork`](Self::fork) copies it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions(Arc<Mutex<Store>>);

impl Sessions {
    /// The store, even if a panicking request poisoned the lock.
    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An independent copy, to run two futures from the same state.
    pub(crate) fn fork(&self) -> Self {
        Self(Arc::new(Mutex::new(self.lock().clone())))
    }

    /// Whether `id` names a live session.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.lock().sessions.contains_key(id)
    }
}

/// A deploy of the shop, as one tower service.
pub(crate) type Shop = BoxCloneService<Request, Response<Body>, Infallible>;

/// The `Set-Cookie` line `deploy` writes for session `id`.
fn set_cookie(deploy: Deploy, id: &str) -> String {
    match deploy {
        Deploy::Legacy => format!("{LEGACY}={id}; Domain={PARENT}; Path=/; HttpOnly"),
        Deploy::HostOnly => format!("{LEGACY}={id}; Path=/; HttpOnly"),
        Deploy::Migrating => format!("{CURRENT}={id}; Path=/; Secure; HttpOnly; SameSite=Lax"),
    }
}

/// Every route of the shop: reads the session cookie of its deploy (the first one under
/// that name), then applies `/login` or `/add`.
async fn handle(
    State((deploy, sessions)): State<(Deploy, Sessions)>,
    request: Request,
) -> Response<Body> {
    let name = match deploy {
        Deploy::Migrating => CURRENT,
        Deploy::Legacy | Deploy::HostOnly => LEGACY,
    };
    let header = request
        .headers()
        .get(COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mut store = sessions.lock();
    let read = first_value(header, name).filter(|id| store.sessions.contains_key(*id));
    let mut issued = None;
    let mut id = match read {
        Some(id) => id.to_owned(),
        None => {
            let id = store.fresh_id();
            store.sessions.insert(id.clone(), Session::default());
            issued = Some(id.clone());
            id
        }
    };
    match request.uri().path() {
        "/login" => {
            let mut session = store.sessions.remove(&id).unwrap_or_default();
            session.user = Some("buyer".to_owned());
            id = store.fresh_id();
            store.sessions.insert(id.clone(), session);
            issued = Some(id.clone());
        }
        "/add" => {
            if let Some(session) = store.sessions.get_mut(&id) {
                session.cart += 1;
            }
        }
        _ => {}
    }
    let session = store.sessions.get(&id).cloned().unwrap_or_default();
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    for (key, value) in [
        ("x-session", id.clone()),
        ("x-user", session.user.unwrap_or_default()),
        ("x-cart", session.cart.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(key, value);
        }
    }
    if let Some(id) = issued
        && let Ok(value) = HeaderValue::from_str(&set_cookie(deploy, &id))
    {
        headers.append(SET_COOKIE, value);
    }
    response
}

/// The migration: `THEBASE` (both scopes it was ever set with) to `__Host-thebase-v2`,
/// choosing among duplicates by asking the session store.
pub(crate) fn migration(sessions: &Sessions) -> Result<CookieMigration, ConfigError> {
    let sessions = sessions.clone();
    CookieMigration::builder(CURRENT)
        .validator(move |id: &str| sessions.contains(id))
        .legacy(
            Legacy::named(LEGACY)
                .scope(Scope::domain(PARENT))
                .scope(Scope::host_only()),
        )
        .build()
}

/// The shop as deployed by `deploy`, on `sessions`; `migration` wraps the
/// [`Deploy::Migrating`] one.
pub(crate) fn shop(
    deploy: Deploy,
    sessions: &Sessions,
    migration: Option<CookieMigration>,
) -> Shop {
    let router = Router::new()
        .fallback(handle)
        .with_state((deploy, sessions.clone()));
    match migration {
        Some(migration) => BoxCloneService::new(CookieMigrationLayer::new(migration).layer(router)),
        None => BoxCloneService::new(router),
    }
}
