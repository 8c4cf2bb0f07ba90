//! Rename and re-scope a live cookie without losing anyone's session.
//!
//! A [`CookieMigration`] describes the cookie a site sets now (say `__Host-sid`) and the
//! generations before it (`sid` with `Domain=base.shop`, `sid` host-only, …).
//! [`CookieMigrationLayer`] applies it to every request: of all the cookies under those
//! names it picks the first valid one in a fixed order, hands the inner service exactly one
//! cookie under the current name, and on the response moves a legacy value to the current
//! name and deletes every legacy scope the browser still holds. Users keep their sessions;
//! nobody is logged in as someone else's stale session.
//!
//! ```
//! use std::convert::Infallible;
//! use cookie_migrate::{CookieMigration, CookieMigrationLayer, Legacy, MigrationOutcome, Scope};
//! use http::{Request, Response, header};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let migration = CookieMigration::builder("__Host-sid")
//!     // A real validator asks the session store, or checks a signature.
//!     .validator(|session: &str| session.starts_with("live-"))
//!     .legacy(
//!         Legacy::named("sid")
//!             .scope(Scope::domain("base.example"))
//!             .scope(Scope::host_only()),
//!     )
//!     .build()?;
//! let app = ServiceBuilder::new()
//!     .layer(CookieMigrationLayer::new(migration))
//!     .service(service_fn(|request: Request<()>| async move {
//!         // The application reads one cookie, under one name.
//!         let cookie = request.headers()[header::COOKIE].to_str().unwrap().to_owned();
//!         Ok::<_, Infallible>(Response::new(cookie))
//!     }));
//!
//! // The browser still holds a stale `sid` scoped to the parent domain and the live one,
//! // in whatever order it likes.
//! let request = Request::get("/cart")
//!     .header(header::COOKIE, "sid=expired-1; theme=dark; sid=live-2")
//!     .body(())?;
//! let response = app.oneshot(request).await?;
//! assert_eq!(response.body(), "__Host-sid=live-2; theme=dark");
//! let set_cookies: Vec<_> = response.headers().get_all(header::SET_COOKIE).iter().collect();
//! assert_eq!(set_cookies, [
//!     "__Host-sid=live-2; Path=/; Secure; HttpOnly; SameSite=Lax",
//!     "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=base.example",
//!     "sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
//! ]);
//! # Ok(())
//! # }
//! ```
//!
//! # Incident 5, and how each part answers it
//!
//! BASE, a shop platform, had its shop domains added to the Public Suffix List. Browsers
//! that shipped the new list refused every cookie with `Domain=base.shop`, so carts and
//! shop logins broke. The fix made the session cookie host-only, but browsers kept the old
//! `Domain=base.shop` cookie (session restore keeps session cookies alive), so requests
//! carried two `sid` cookies. Chrome and Firefox send the older one first, Safari the newer;
//! the server read the first and Chrome and Firefox users could not log in. The final fix
//! renamed the cookie and reset every session at once: emptied carts, forced logins,
//! buyers who paid twice.
//!
//! - **A `Domain` that is a public suffix is refused when the migration is built**
//!   ([`ConfigError::InvalidDomain`] with [`DomainError::PublicSuffix`]), and so is an IP
//!   address or a bare top-level label. The check uses the Public Suffix List compiled into
//!   the [`psl`] crate, which is republished whenever the list changes — update it like any
//!   dependency. `base.shop` is refused today; a migration for BASE describes its old
//!   cookie as `sid` without that scope, since browsers with the new list ignore a deletion
//!   carrying it anyway. Renaming is what makes the stale cookie harmless.
//! - **Duplicates are resolved by validity, not by the browser's order.** The validator
//!   judges each candidate in a fixed order (current name, then legacy names in configured
//!   order, header order within a name) and the first valid one wins. Chrome's
//!   old-cookie-first order and Safari's new-cookie-first order give the same answer.
//! - **The inner service cannot read the wrong cookie.** The `Cookie` header it sees holds
//!   exactly one cookie under the current name — the chosen one — and no legacy name; the
//!   [`MigrationOutcome`] in the request extensions says what happened.
//! - **The value moves instead of being reset.** When only a legacy cookie is valid, its
//!   value (through an optional per-generation [`Legacy::transform`], e.g. to re-sign it)
//!   becomes the current cookie on the same response, and each scope the legacy name was
//!   set with gets a deleting `Set-Cookie`. If the inner service sets the current cookie
//!   itself, its cookie wins. Deletions are only sent once a valid value is in place: when
//!   no candidate is valid nothing is deleted, so a validator that fails while the session
//!   store is down costs nobody a session.
//! - **Names are matched as bytes.** `__%48ost-sid` is not `__Host-sid`: nothing is
//!   percent-decoded (the class of Rack's CVE-2020-8184), and the `__Host-`/`__Secure-`
//!   rules are enforced on every configured name.
//! - **Bounded work, no panics.** `Cookie` headers over 8 KiB (configurable) or with more
//!   than 16 managed cookies are rejected with `431`/`400` or stripped of managed cookies
//!   ([`ErrorPolicy`]); pairs outside RFC 6265's grammar are never chosen but pass through
//!   untouched when they are not managed; a migration whose `Set-Cookie` would pass 4096
//!   bytes is not persisted and its legacy cookies are kept, so nothing valid is lost.
//!
//! # Without tower
//!
//! [`CookieMigration::process_request`] and [`Processed::process_response`] are the two
//! halves of the layer over plain [`http::HeaderMap`]s, for other frameworks.
//!
//! # Dependencies
//!
//! `psl` answers "is this a public suffix" from the list compiled into match code (about
//! 9 ns a lookup, no list to fetch or parse at start-up); writing our own would mean
//! shipping and updating the list ourselves. The `cookie` crate is not used for requests:
//! its jar keeps one cookie per name (the last duplicate wins) and the wrappers around it
//! percent-decode names, the two behaviours this crate exists to avoid.

mod domain;
mod error;
mod grammar;
mod layer;
mod migrate;
mod spec;

pub use error::{ConfigError, CookieError, DomainError};
pub use grammar::ValueGrammar;
pub use layer::{CookieMigrationLayer, CookieMigrationService, ResponseFuture};
pub use migrate::{MAX_SET_COOKIE_BYTES, MigrationOutcome, MigrationStats, Processed};
pub use spec::{
    CookieMigration, CookieMigrationBuilder, DEFAULT_MAX_CANDIDATES, DEFAULT_MAX_HEADER_BYTES,
    ErrorPolicy, Legacy, SameSite, Scope,
};
