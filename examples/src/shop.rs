//! The `cookie-shop` example: a tiny shop with a login and a cart kept in a server-side
//! session, in the three phases of incident 5 (BASE's duplicate session cookies).
//!
//! - [`Phase::Legacy`]: the session cookie is `sid` with `Domain=<cookie domain>`, shared by
//!   every shop host under it.
//! - [`Phase::HostOnly`]: the first fix. `sid` is set host-only, but browsers keep the old
//!   Domain cookie, so they send **two** `sid` cookies — Chromium and Firefox the older one
//!   first. Like the servers in the incident, the shop reads the *first* `sid`: after a
//!   login (which rotates the session id) it reads the stale one and the user is not
//!   logged in. This phase reproduces the bug on purpose.
//! - [`Phase::Migrate`]: the fix with `cookie_migrate`. The current cookie is `__Host-sid`
//!   (Chromium treats `*.localhost` as secure, so it is stored over plain http there); a
//!   [`CookieMigrationLayer`] in front of the shop judges every `sid` and `__Host-sid` with
//!   "does the session store know this id", moves the live value to `__Host-sid` and
//!   deletes both `sid` scopes. Nobody loses their cart or login.
//!
//! Routes (all `GET`, answered with `Cache-Control: no-store`):
//!
//! | Route | What it does |
//! |---|---|
//! | `/` | the page: `logged in as <user>` or `not logged in`, and `cart: a, b` (or `cart: empty`) |
//! | `/cart/add?item=tea` | adds an item (creating a session when there is none), then `303` to `/` |
//! | `/login?user=alice` | logs in and **rotates** the session id (session-fixation protection: new id, old id destroyed, cart carried over), then `303` to `/` |
//! | `/debug/cookie` | echoes the `Cookie` header(s) as the shop saw them — after the migration layer in the migrate phase — and the layer's [`MigrationOutcome`] |
//!
//! Looking at a page never creates a session or sets a cookie; only the two actions do (a
//! "lazy" session). So a visit cannot overwrite the cookie the browser holds, and each
//! step of the walkthrough can be inspected without changing it. A login over GET and the
//! debug route are for the example only: a real shop logs in with a POST and a CSRF token,
//! and never echoes its `HttpOnly` session cookie.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use examples::shop::{Phase, Sessions, Shop};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sessions = Sessions::new(NonZeroUsize::new(1000).unwrap());
//! let router = Shop::new(Phase::Legacy, sessions.clone(), "base.localhost")?.router();
//! let request = http::Request::get("/cart/add?item=tea").body(axum::body::Body::empty())?;
//! let response = router.oneshot(request).await?;
//! assert_eq!(response.status(), 303);
//! let cookie = response.headers()["set-cookie"].to_str()?;
//! assert!(cookie.starts_with("sid=") && cookie.contains("; Domain=base.localhost;"));
//! assert_eq!(sessions.len(), 1);
//! # Ok(())
//! # }
//! ```

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::routing::get;
use cookie_migrate::{
    ConfigError, CookieMigration, CookieMigrationLayer, DEFAULT_MAX_HEADER_BYTES, Legacy,
    MigrationOutcome, Scope,
};
use lru::LruCache;

use crate::cli::{ArgError, Flag, flags, set_once};

/// The legacy session cookie name (phases legacy and host-only).
pub const LEGACY_COOKIE: &str = "sid";
/// The session cookie name of the migrate phase.
pub const CURRENT_COOKIE: &str = "__Host-sid";
/// The most items a cart holds.
pub const MAX_CART_ITEMS: usize = 50;
/// The longest user or item name, in bytes (names are ASCII letters, digits, `-`, `_`).
pub const MAX_NAME_LEN: usize = 32;
/// The session capacity the `cookie-shop` binary uses.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// The cap on the bytes of all `Cookie` headers of a request in every phase (the migrate
/// phase's layer uses the same default); larger requests get `431`.
pub const MAX_COOKIE_BYTES: usize = DEFAULT_MAX_HEADER_BYTES;

/// Bytes of randomness in a session id (written as 32 lowercase hex digits).
const ID_BYTES: usize = 16;

/// The usage text printed by `--help`.
pub const USAGE: &str = "usage: cookie-shop --phase legacy|host-only|migrate \
[--listen 127.0.0.1:8080] [--cookie-domain base.localhost]";

/// Which generation of the session cookie the shop uses (incident 5's three deploys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `sid` with `Domain=<cookie domain>`.
    Legacy,
    /// `sid` host-only; reads the first `sid` of the request (the incident's bug).
    HostOnly,
    /// `__Host-sid`, behind a [`CookieMigrationLayer`] that migrates both `sid` scopes.
    Migrate,
}

impl Phase {
    /// The name used on the command line: `legacy`, `host-only` or `migrate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Legacy => "legacy",
            Phase::HostOnly => "host-only",
            Phase::Migrate => "migrate",
        }
    }

    /// The phase named `name` on the command line.
    pub fn from_name(name: &str) -> Option<Self> {
        [Phase::Legacy, Phase::HostOnly, Phase::Migrate]
            .into_iter()
            .find(|phase| phase.as_str() == name)
    }

    /// The session cookie's name in this phase.
    pub fn cookie_name(self) -> &'static str {
        match self {
            Phase::Legacy | Phase::HostOnly => LEGACY_COOKIE,
            Phase::Migrate => CURRENT_COOKIE,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the shop refused an action.
#[derive(Debug)]
#[non_exhaustive]
pub enum ShopError {
    /// The user name is empty, longer than [`MAX_NAME_LEN`] or has other characters than
    /// ASCII letters, digits, `-` and `_`.
    InvalidUser,
    /// The item name breaks the same rules.
    InvalidItem,
    /// The cart already holds [`MAX_CART_ITEMS`] items.
    CartFull,
    /// The operating system's random source failed, so no session id could be made.
    Random(getrandom::Error),
}

impl ShopError {
    /// The HTTP status the shop answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ShopError::InvalidUser | ShopError::InvalidItem => StatusCode::BAD_REQUEST,
            ShopError::CartFull => StatusCode::CONFLICT,
            ShopError::Random(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ShopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShopError::InvalidUser => write!(
                f,
                "user: 1 to {MAX_NAME_LEN} ASCII letters, digits, `-` or `_`"
            ),
            ShopError::InvalidItem => write!(
                f,
                "item: 1 to {MAX_NAME_LEN} ASCII letters, digits, `-` or `_`"
            ),
            ShopError::CartFull => write!(f, "the cart is full ({MAX_CART_ITEMS} items)"),
            ShopError::Random(error) => write!(f, "no random session id: {error}"),
        }
    }
}

// No `source`: `getrandom::Error` implements `std::error::Error` only with its `std`
// feature; its message is part of ours.
impl std::error::Error for ShopError {}

/// What a session holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    user: Option<String>,
    cart: Vec<String>,
}

impl Session {
    /// The logged-in user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The cart, in the order items were added (at most [`MAX_CART_ITEMS`]).
    pub fn cart(&self) -> &[String] {
        &self.cart
    }
}

/// A bounded in-memory session store, shared by its clones (so several servers — the
/// phases of a redeploy — can share one store).
///
/// It holds at most `capacity` sessions. Adding one to a full store evicts the least
/// recently used session (a lookup with [`get`](Self::get) or an action counts as a use;
/// [`contains`](Self::contains) does not); its user is logged out and its cart lost.
/// There is no idle timeout: eviction is the only expiry, which is enough for an example.
///
/// Session ids are 128 random bits from the operating system (`getrandom`), written as 32
/// lowercase hex digits; anything else is never looked up.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Mutex<LruCache<String, Session>>>,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never prints a session id.
        let store = self.lock();
        f.debug_struct("Sessions")
            .field("len", &store.len())
            .field("capacity", &store.cap())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// An empty store holding at most `capacity` sessions.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// How many sessions the store holds at most.
    pub fn capacity(&self) -> usize {
        self.lock().cap().get()
    }

    /// How many sessions the store holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no session.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether `id` names a live session; does not count as a use. This is the migrate
    /// phase's validator.
    pub fn contains(&self, id: &str) -> bool {
        is_session_id(id) && self.lock().contains(id)
    }

    /// A copy of the session `id`, marking it recently used.
    pub fn get(&self, id: &str) -> Option<Session> {
        if !is_session_id(id) {
            return None;
        }
        self.lock().get(id).cloned()
    }

    /// Adds `item` to the cart of session `id`. When `id` is `None` or names no live
    /// session, a new anonymous session is created for the item and its id returned.
    ///
    /// # Errors
    ///
    /// [`ShopError::InvalidItem`], [`ShopError::CartFull`], or [`ShopError::Random`] when
    /// a new session id cannot be made.
    pub fn add_to_cart(&self, id: Option<&str>, item: &str) -> Result<Option<String>, ShopError> {
        if !is_name(item) {
            return Err(ShopError::InvalidItem);
        }
        let mut store = self.lock();
        if let Some(session) = id
            .filter(|id| is_session_id(id))
            .and_then(|id| store.get_mut(id))
        {
            if session.cart.len() >= MAX_CART_ITEMS {
                return Err(ShopError::CartFull);
            }
            session.cart.push(item.to_owned());
            return Ok(None);
        }
        let session = Session {
            user: None,
            cart: vec![item.to_owned()],
        };
        insert_new(&mut store, session).map(Some)
    }

    /// Logs `user` in and rotates the session id: the session `id` (if live) is destroyed
    /// and its cart moves to a new session under a new id, which is returned. Without a
    /// live session the new one starts with an empty cart.
    ///
    /// Rotating on login is the standard defence against session fixation: an id that
    /// existed before the login (and may have been planted) never becomes a logged-in one.
    ///
    /// # Errors
    ///
    /// [`ShopError::InvalidUser`], or [`ShopError::Random`] when a new session id cannot
    /// be made (the old session is then kept).
    pub fn log_in(&self, id: Option<&str>, user: &str) -> Result<String, ShopError> {
        if !is_name(user) {
            return Err(ShopError::InvalidUser);
        }
        let mut store = self.lock();
        let old = id.filter(|id| is_session_id(id));
        let cart = old
            .and_then(|id| store.peek(id))
            .map(|session| session.cart.clone())
            .unwrap_or_default();
        let session = Session {
            user: Some(user.to_owned()),
            cart,
        };
        let new_id = insert_new(&mut store, session)?;
        if let Some(old) = old {
            store.pop(old);
        }
        Ok(new_id)
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, Session>> {
        // A panic while holding the lock cannot leave the map half-updated: every update
        // is a single LruCache call or a push onto a cart.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stores `session` under a fresh id, evicting the least recently used session when full.
fn insert_new(
    store: &mut LruCache<String, Session>,
    session: Session,
) -> Result<String, ShopError> {
    // 128 random bits do not collide in practice; the loop only makes it certain.
    loop {
        let id = new_session_id()?;
        if !store.contains(&id) {
            store.push(id.clone(), session);
            return Ok(id);
        }
    }
}

/// A new session id: 128 bits from the operating system, as 32 lowercase hex digits.
///
/// # Errors
///
/// [`ShopError::Random`] when the random source fails.
pub fn new_session_id() -> Result<String, ShopError> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes).map_err(ShopError::Random)?;
    let mut id = String::with_capacity(2 * ID_BYTES);
    for byte in bytes {
        let _ = write!(id, "{byte:02x}");
    }
    Ok(id)
}

/// Whether `value` looks like a session id (32 lowercase hex digits).
pub fn is_session_id(value: &str) -> bool {
    value.len() == 2 * ID_BYTES
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `name` is a valid user or item name.
fn is_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The migration of the migrate phase: `__Host-sid` (host-only, `Secure`, `HttpOnly`,
/// `SameSite=Lax`) from `sid` set with `Domain=cookie_domain` and host-only, judged by
/// `sessions`.
///
/// # Errors
///
/// A [`ConfigError`] when `cookie_domain` is not a usable cookie domain: a public suffix
/// (as `base.shop` became in the incident), an IP address, a bare top-level label.
pub fn migration(sessions: &Sessions, cookie_domain: &str) -> Result<CookieMigration, ConfigError> {
    let sessions = sessions.clone();
    CookieMigration::builder(CURRENT_COOKIE)
        .validator(move |id: &str| sessions.contains(id))
        .legacy(
            Legacy::named(LEGACY_COOKIE)
                .scope(Scope::domain(cookie_domain))
                .scope(Scope::host_only()),
        )
        .build()
}

/// One shop server: a phase, a session store and the cookie domain of the legacy phase.
#[derive(Debug, Clone)]
pub struct Shop {
    state: Arc<ShopState>,
    migration: Option<CookieMigration>,
}

#[derive(Debug)]
struct ShopState {
    phase: Phase,
    sessions: Sessions,
    /// Lowercase, without a leading dot.
    cookie_domain: String,
    /// Where the routes are mounted: empty, or `/shop` (see [`Shop::mounted_at`]).
    prefix: String,
}

impl Shop {
    /// A shop in `phase` over `sessions`. `cookie_domain` (e.g. `base.localhost`) is the
    /// `Domain` of the legacy phase's cookie and one of the scopes the migrate phase
    /// deletes; it is checked in every phase.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] when `cookie_domain` is not a usable cookie domain (see
    /// [`migration`]).
    pub fn new(phase: Phase, sessions: Sessions, cookie_domain: &str) -> Result<Self, ConfigError> {
        let cookie_domain = cookie_domain.trim_start_matches('.').to_ascii_lowercase();
        // Built in every phase: it is also the check of the domain.
        let migration = migration(&sessions, &cookie_domain)?;
        Ok(Self {
            state: Arc::new(ShopState {
                phase,
                sessions,
                cookie_domain,
                prefix: String::new(),
            }),
            migration: (phase == Phase::Migrate).then_some(migration),
        })
    }

    /// The shop mounted under `prefix` (e.g. `/shop`, as the `gateway` nests it): its links
    /// and redirects point under the prefix. The cookie keeps `Path=/` (a `__Host-` cookie
    /// must).
    #[must_use]
    pub fn mounted_at(self, prefix: &str) -> Self {
        let state = ShopState {
            phase: self.state.phase,
            sessions: self.state.sessions.clone(),
            cookie_domain: self.state.cookie_domain.clone(),
            prefix: prefix.trim_end_matches('/').to_owned(),
        };
        Self {
            state: Arc::new(state),
            migration: self.migration,
        }
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.state.phase
    }

    /// The migration in front of the shop (migrate phase only), e.g. for its
    /// [`stats`](CookieMigration::stats).
    pub fn migration(&self) -> Option<&CookieMigration> {
        self.migration.as_ref()
    }

    /// The shop's routes (see the [module docs](self)), behind the migration layer in
    /// the migrate phase.
    pub fn router(&self) -> Router {
        let router = self.routes();
        match &self.migration {
            Some(migration) => router.layer(CookieMigrationLayer::new(migration.clone())),
            None => router,
        }
    }

    /// The shop's routes without the migration layer, for an app that applies
    /// [`migration`](Self::migration) itself, once for every route (as the `gateway`
    /// does).
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/", get(page))
            .route("/cart/add", get(add_to_cart))
            .route("/login", get(log_in))
            .route("/debug/cookie", get(debug_cookie))
            .with_state(Arc::clone(&self.state))
    }
}

type AppState = State<Arc<ShopState>>;

/// The session id the shop reads: the value of the FIRST cookie named like the phase's
/// cookie, in header order. In the host-only phase that is the incident's bug: with two
/// `sid` cookies, Chromium and Firefox send the stale Domain one first. In the migrate
/// phase the layer has left exactly one `__Host-sid`.
fn session_cookie(phase: Phase, headers: &HeaderMap) -> Result<Option<&str>, CookiesTooLarge> {
    let bytes: usize = headers.get_all(COOKIE).iter().map(HeaderValue::len).sum();
    if bytes > MAX_COOKIE_BYTES {
        return Err(CookiesTooLarge);
    }
    let name = phase.cookie_name();
    Ok(headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(pair_name, _)| *pair_name == name)
        .map(|(_, value)| value))
}

/// The request's `Cookie` headers are over [`MAX_COOKIE_BYTES`].
#[derive(Debug)]
struct CookiesTooLarge;

impl CookiesTooLarge {
    fn response(self) -> Response<Body> {
        text(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "cookie headers too large\n".to_owned(),
        )
    }
}

/// The `Set-Cookie` line for session `id` in this phase.
fn set_cookie(state: &ShopState, id: &str) -> String {
    match state.phase {
        Phase::Legacy => format!(
            "{LEGACY_COOKIE}={id}; Domain={}; Path=/; HttpOnly; SameSite=Lax",
            state.cookie_domain
        ),
        Phase::HostOnly => format!("{LEGACY_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"),
        Phase::Migrate => format!("{CURRENT_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax"),
    }
}

/// The first value of `key` in the query string.
fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn page(State(state): AppState, headers: HeaderMap) -> Response<Body> {
    let id = match session_cookie(state.phase, &headers) {
        Ok(id) => id,
        Err(too_large) => return too_large.response(),
    };
    let session = id.and_then(|id| state.sessions.get(id)).unwrap_or_default();
    let login = match session.user() {
        Some(user) => format!("logged in as {user}"),
        None => "not logged in".to_owned(),
    };
    let cart = if session.cart().is_empty() {
        "empty".to_owned()
    } else {
        session.cart().join(", ")
    };
    html(
        StatusCode::OK,
        &format!(
            "<p>cookie-shop, phase {phase}</p>\n<p>{login}</p>\n<p>cart: {cart}</p>\n\
             <p><a href=\"{prefix}/cart/add?item=tea\">add tea</a> | \
             <a href=\"{prefix}/login?user=alice\">log in (alice)</a> | \
             <a href=\"{prefix}/debug/cookie\">show the Cookie header</a></p>",
            phase = state.phase,
            prefix = state.prefix,
            login = escape_html(&login),
            cart = escape_html(&cart),
        ),
    )
}

async fn add_to_cart(
    State(state): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response<Body> {
    let id = match session_cookie(state.phase, &headers) {
        Ok(id) => id,
        Err(too_large) => return too_large.response(),
    };
    let item = query_param(query.as_deref(), "item").unwrap_or_default();
    match state.sessions.add_to_cart(id, &item) {
        Ok(created) => see_other(&state, created.map(|id| set_cookie(&state, &id))),
        Err(error) => refused(&error),
    }
}

async fn log_in(
    State(state): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response<Body> {
    let id = match session_cookie(state.phase, &headers) {
        Ok(id) => id,
        Err(too_large) => return too_large.response(),
    };
    let user = query_param(query.as_deref(), "user").unwrap_or_default();
    match state.sessions.log_in(id, &user) {
        Ok(id) => {
            tracing::info!(phase = %state.phase, user = %user, "logged in; session id rotated");
            see_other(&state, Some(set_cookie(&state, &id)))
        }
        Err(error) => refused(&error),
    }
}

async fn debug_cookie(State(state): AppState, request: Request<Body>) -> Response<Body> {
    let mut body = String::from("<pre>");
    let mut any = false;
    for value in request.headers().get_all(COOKIE) {
        any = true;
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = writeln!(body, "Cookie: {}", escape_html(&value));
    }
    if !any {
        body.push_str("no Cookie header\n");
    }
    if state.phase == Phase::Migrate {
        // The outcome's Debug never shows a cookie value.
        let outcome = request
            .extensions()
            .get::<MigrationOutcome>()
            .map_or_else(|| "none".to_owned(), |outcome| format!("{outcome:?}"));
        let _ = writeln!(body, "migration: {}", escape_html(&outcome));
    }
    body.push_str("</pre>");
    html(StatusCode::OK, &body)
}

fn see_other(state: &ShopState, set_cookie: Option<String>) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let headers = response.headers_mut();
    let location = if state.prefix.is_empty() {
        HeaderValue::from_static("/")
    } else {
        // A prefix given by the program (`/shop`), so a valid header value.
        HeaderValue::try_from(state.prefix.as_str()).unwrap_or(HeaderValue::from_static("/"))
    };
    headers.insert(LOCATION, location);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Built from a validated domain and a hex id, so always a valid header value.
    if let Some(value) = set_cookie.and_then(|line| HeaderValue::try_from(line).ok()) {
        headers.insert(SET_COOKIE, value);
    }
    response
}

fn refused(error: &ShopError) -> Response<Body> {
    if let ShopError::Random(error) = error {
        tracing::error!(%error, "cannot make a session id");
    }
    text(error.status(), format!("{error}\n"))
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body)
}

fn html(status: StatusCode, body: &str) -> Response<Body> {
    // The empty icon keeps browsers from asking for /favicon.ico.
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\
         <title>cookie-shop</title></head>\n<body>\n{body}\n</body></html>\n"
    );
    respond(status, "text/html; charset=utf-8", page)
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// What the `cookie-shop` command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where to listen (port 0: a free port).
    pub listen: SocketAddr,
    /// Which phase to run.
    pub phase: Phase,
    /// The legacy cookie's `Domain`, lowercase without a leading dot.
    pub cookie_domain: String,
}

/// What [`parse_args`] found: a configuration, or a request for help.
pub type Command = crate::cli::Command<Config>;

/// Parses the arguments after the program name. `--phase` is required (there is no
/// sensible default: each phase is a different deploy); `--listen` defaults to
/// `127.0.0.1:8080` and `--cookie-domain` to `base.localhost`.
///
/// ```
/// use examples::shop::{Command, Phase, parse_args};
///
/// let args = ["--phase", "host-only", "--listen=127.0.0.1:0"];
/// let Command::Run(config) = parse_args(args.map(String::from))? else { unreachable!() };
/// assert_eq!(config.phase, Phase::HostOnly);
/// assert_eq!(config.listen.port(), 0);
/// assert_eq!(config.cookie_domain, "base.localhost");
///
/// let error = parse_args(["--phase", "migrate", "--cookie-domain", "base.shop"].map(String::from));
/// assert_eq!(error.unwrap_err().flag, "--cookie-domain");
/// # Ok::<(), examples::cli::ArgError>(())
/// ```
///
/// # Errors
///
/// An [`ArgError`] naming the flag: unknown flags, missing or malformed values, a flag
/// given twice, no `--phase`, and a cookie domain that cannot be used (a public suffix
/// such as `base.shop`, an IP address, a bare top-level label).
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, ArgError> {
    let mut listen = None;
    let mut phase = None;
    let mut cookie_domain = None;
    for step in flags(args, &["--listen", "--phase", "--cookie-domain"]) {
        let (flag, value) = match step? {
            Flag::Help => return Ok(Command::Help),
            Flag::Value(flag, value) => (flag, value),
        };
        let flag = flag.as_str();
        match flag {
            "--listen" => {
                let addr = value.parse::<SocketAddr>().map_err(|_| {
                    ArgError::new(
                        flag,
                        format!("`{value}` is not an address like 127.0.0.1:8080"),
                    )
                })?;
                set_once(flag, &mut listen, addr)?;
            }
            "--phase" => {
                let parsed = Phase::from_name(&value).ok_or_else(|| {
                    ArgError::new(
                        flag,
                        format!("`{value}` is not `legacy`, `host-only` or `migrate`"),
                    )
                })?;
                set_once(flag, &mut phase, parsed)?;
            }
            "--cookie-domain" => {
                let domain = value.trim_start_matches('.').to_ascii_lowercase();
                let probe = Sessions::new(NonZeroUsize::MIN);
                if let Err(error) = migration(&probe, &domain) {
                    return Err(ArgError::new(flag, error.to_string()));
                }
                set_once(flag, &mut cookie_domain, domain)?;
            }
            _ => unreachable!("flags are checked above"),
        }
    }
    let phase = phase
        .ok_or_else(|| ArgError::new("--phase", "is required: legacy, host-only or migrate"))?;
    Ok(Command::Run(Config {
        listen: listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
        phase,
        cookie_domain: cookie_domain.unwrap_or_else(|| "base.localhost".to_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(capacity: usize) -> Sessions {
        Sessions::new(NonZeroUsize::new(capacity).unwrap())
    }

    #[test]
    fn ids_are_32_hex_digits_and_differ() {
        let a = new_session_id().unwrap();
        let b = new_session_id().unwrap();
        assert!(is_session_id(&a) && is_session_id(&b), "{a} {b}");
        assert_ne!(a, b);
        assert!(!is_session_id(&a.to_uppercase()));
        assert!(!is_session_id(&a[1..]));
        assert!(!is_session_id(""));
    }

    #[test]
    fn login_rotates_the_id_and_keeps_the_cart() {
        let sessions = store(10);
        let s1 = sessions.add_to_cart(None, "tea").unwrap().unwrap();
        assert_eq!(sessions.add_to_cart(Some(&s1), "cake").unwrap(), None);
        let s2 = sessions.log_in(Some(&s1), "alice").unwrap();
        assert_ne!(s1, s2);
        assert!(!sessions.contains(&s1), "the old id is destroyed");
        let session = sessions.get(&s2).unwrap();
        assert_eq!(session.user(), Some("alice"));
        assert_eq!(session.cart(), ["tea", "cake"]);
        assert_eq!(sessions.len(), 1);

        // Without a live session, login starts an empty one.
        let s3 = sessions.log_in(Some("not-an-id"), "bob").unwrap();
        assert_eq!(sessions.get(&s3).unwrap().cart(), [] as [String; 0]);
        // An unknown id gets a new session for the item rather than an error.
        let unknown = new_session_id().unwrap();
        let s4 = sessions
            .add_to_cart(Some(&unknown), "tea")
            .unwrap()
            .unwrap();
        assert_ne!(s4, unknown);
    }

    #[test]
    fn the_store_evicts_the_least_recently_used_session() {
        let sessions = store(2);
        let a = sessions.add_to_cart(None, "a").unwrap().unwrap();
        let b = sessions.add_to_cart(None, "b").unwrap().unwrap();
        // `get` counts as a use; `contains` does not.
        assert!(sessions.get(&a).is_some());
        assert!(sessions.contains(&b));
        let c = sessions.add_to_cart(None, "c").unwrap().unwrap();
        assert_eq!(sessions.len(), 2);
        assert!(sessions.contains(&a) && sessions.contains(&c));
        assert!(!sessions.contains(&b));
        assert_eq!(sessions.capacity(), 2);
        assert!(!format!("{sessions:?}").contains(&a));
    }

    #[test]
    fn names_and_carts_are_bounded() {
        let sessions = store(4);
        for bad in ["", "a b", "<b>", "é", &"x".repeat(MAX_NAME_LEN + 1)] {
            assert!(
                matches!(sessions.add_to_cart(None, bad), Err(ShopError::InvalidItem)),
                "{bad:?}"
            );
            assert!(
                matches!(sessions.log_in(None, bad), Err(ShopError::InvalidUser)),
                "{bad:?}"
            );
        }
        assert!(sessions.is_empty());
        let id = sessions
            .add_to_cart(None, &"x".repeat(MAX_NAME_LEN))
            .unwrap()
            .unwrap();
        for _ in 1..MAX_CART_ITEMS {
            sessions.add_to_cart(Some(&id), "tea").unwrap();
        }
        assert!(matches!(
            sessions.add_to_cart(Some(&id), "tea"),
            Err(ShopError::CartFull)
        ));
        assert_eq!(ShopError::CartFull.status(), StatusCode::CONFLICT);
    }

    #[test]
    fn reads_the_first_cookie_of_the_phase_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; sid=OLD; sid=NEW"),
        );
        headers.append(COOKIE, HeaderValue::from_static("__Host-sid=CUR"));
        let read = |phase| session_cookie(phase, &headers).ok().flatten();
        assert_eq!(read(Phase::HostOnly), Some("OLD"));
        assert_eq!(read(Phase::Legacy), Some("OLD"));
        assert_eq!(read(Phase::Migrate), Some("CUR"));

        let big = "a=".to_owned() + &"b".repeat(MAX_COOKIE_BYTES);
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::try_from(big).unwrap());
        let response = session_cookie(Phase::Legacy, &headers)
            .unwrap_err()
            .response();
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn set_cookie_lines_follow_the_phase() {
        let shop = |phase| Shop::new(phase, store(1), ".Base.Localhost").unwrap();
        let line = |phase| set_cookie(&shop(phase).state, "0123");
        assert_eq!(
            line(Phase::Legacy),
            "sid=0123; Domain=base.localhost; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            line(Phase::HostOnly),
            "sid=0123; Path=/; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            line(Phase::Migrate),
            "__Host-sid=0123; Path=/; Secure; HttpOnly; SameSite=Lax"
        );
        assert!(shop(Phase::Legacy).migration().is_none());
        assert!(shop(Phase::Migrate).migration().is_some());
        assert!(Shop::new(Phase::Legacy, store(1), "base.shop").is_err());
    }

    #[test]
    fn parses_flags_and_names_the_bad_one() {
        let parse = |args: &[&str]| parse_args(args.iter().map(|s| (*s).to_owned()));
        let Ok(Command::Run(config)) = parse(&["--phase=migrate"]) else {
            panic!("parses");
        };
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.phase, Phase::Migrate);
        assert_eq!(config.cookie_domain, "base.localhost");
        let Ok(Command::Run(config)) =
            parse(&["--phase", "legacy", "--cookie-domain", ".Shops.Example.Com"])
        else {
            panic!("parses");
        };
        assert_eq!(config.cookie_domain, "shops.example.com");
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        for (args, flag) in [
            (&["--listen", "127.0.0.1:0"][..], "--phase"),
            (&["--phase", "new"], "--phase"),
            (&["--phase", "legacy", "--phase", "legacy"], "--phase"),
            (&["--phase", "legacy", "--listen", "8080"], "--listen"),
            (
                &["--phase", "legacy", "--cookie-domain", "localhost"],
                "--cookie-domain",
            ),
            (
                &["--phase", "legacy", "--cookie-domain", "127.0.0.1"],
                "--cookie-domain",
            ),
            (&["--phase", "legacy", "--port", "1"], "--port"),
            (&["--phase"], "--phase"),
        ] {
            assert_eq!(parse(args).unwrap_err().flag, flag, "{args:?}");
        }
        assert_eq!(Phase::from_name("host-only"), Some(Phase::HostOnly));
        assert_eq!(Phase::Migrate.to_string(), "migrate");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_mounted_shop_links_and_redirects_under_its_prefix() {
        use tower::ServiceExt;

        let shop = Shop::new(Phase::Migrate, store(10), "base.localhost")
            .unwrap()
            .mounted_at("/shop/");
        let app = Router::new().nest("/shop", shop.routes());
        let request = Request::get("/shop/cart/add?item=tea")
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[LOCATION], "/shop");
        let page = app
            .oneshot(Request::get("/shop").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = axum::body::to_bytes(page.into_body(), 64 * 1024)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("href=\"/shop/cart/add?item=tea\""), "{body}");
        assert!(body.contains("href=\"/shop/login?user=alice\""), "{body}");
    }
}
