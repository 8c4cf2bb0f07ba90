//! Incident 5 (BASE) end to end at the HTTP level: a shop moves its session cookie from
//! `Domain=` to host-only, browsers keep both, and the server reads the wrong one — then
//! the migration answers the same browsers.
//!
//! The browsers are modelled by `testkit::cookie_store`, which follows RFC 6265bis: cookies
//! are identified by name, domain, host-only flag and path; a `Max-Age=0` deletes the
//! cookie with the same identity; the `Cookie` header lists longer paths first and then
//! Chrome's and Firefox's oldest-first order or Safari's newest-first order.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use cookie_migrate::{CookieMigration, CookieMigrationLayer, Legacy, Scope};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use testkit::cookie_store::{CookieStore, Order, first_value};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt, service_fn};

const HOST: &str = "shop1.base.localhost";
const PARENT: &str = "base.localhost";

/// Applies every `Set-Cookie` of `response` to `jar`: each must be stored or applied as a
/// deletion (a refused cookie fails the test).
fn receive(jar: &mut CookieStore, response: &Response<String>) {
    for line in response.headers().get_all(SET_COOKIE) {
        let line = line.to_str().unwrap();
        jar.receive(line)
            .unwrap_or_else(|refused| panic!("{line}: {refused}"));
    }
}

/// Every cookie of `jar` as `(name, value)`, in the order first stored.
fn names_and_values(jar: &CookieStore) -> Vec<(String, String)> {
    jar.cookies()
        .iter()
        .map(|c| (c.name.clone(), c.value.clone()))
        .collect()
}

#[derive(Debug, Default)]
struct Session {
    user: Option<String>,
    cart: Vec<String>,
}

type Sessions = Arc<Mutex<HashMap<String, Session>>>;
type Shop = BoxCloneService<Request<()>, Response<String>, Infallible>;

/// How a deployment writes its session cookie.
#[derive(Debug, Clone, Copy)]
enum Deploy {
    /// Before the PSL entry: `sid` scoped to the parent domain.
    Legacy,
    /// The first fix: `sid` host-only. Reads the first `sid` it finds, like the servers in
    /// the incident.
    HostOnly,
    /// `__Host-sid` behind the migration; reads the one cookie the layer leaves.
    Migrating,
}

/// A shop: `/` shows the session, `/login` logs in and rotates the session id (the usual
/// defence against session fixation), `/add` puts something in the cart.
fn shop(deploy: Deploy, sessions: Sessions) -> Shop {
    let name = match deploy {
        Deploy::Migrating => "__Host-sid",
        Deploy::Legacy | Deploy::HostOnly => "sid",
    };
    let set = move |id: &str| match deploy {
        Deploy::Legacy => format!("sid={id}; Domain={PARENT}; Path=/; HttpOnly"),
        Deploy::HostOnly => format!("sid={id}; Path=/; HttpOnly"),
        Deploy::Migrating => format!("__Host-sid={id}; Path=/; Secure; HttpOnly"),
    };
    let app_sessions = sessions.clone();
    let app = service_fn(move |request: Request<()>| {
        let sessions = app_sessions.clone();
        async move {
            let header = request
                .headers()
                .get(COOKIE)
                .map(|v| v.to_str().unwrap().to_owned());
            let mut store = sessions.lock().unwrap();
            let mut id = header
                .as_deref()
                .and_then(|h| first_value(h, name))
                .filter(|id| store.contains_key(*id))
                .map(str::to_owned);
            let mut set_cookie = None;
            if id.is_none() {
                let fresh = format!("s{}", store.len() + 1);
                store.insert(fresh.clone(), Session::default());
                set_cookie = Some(set(&fresh));
                id = Some(fresh);
            }
            let mut id = id.unwrap();
            match request.uri().path() {
                "/login" => {
                    let mut session = store.remove(&id).unwrap();
                    session.user = Some("alice".into());
                    id = format!("s{}", store.len() + 100);
                    store.insert(id.clone(), session);
                    set_cookie = Some(set(&id));
                }
                "/add" => store.get_mut(&id).unwrap().cart.push("tea".into()),
                _ => {}
            }
            let session = &store[&id];
            let body = match &session.user {
                Some(user) => format!("logged in as {user}; cart: {}", session.cart.join(",")),
                None => format!("not logged in; cart: {}", session.cart.join(",")),
            };
            let mut response = Response::new(body);
            if let Some(set_cookie) = set_cookie {
                response
                    .headers_mut()
                    .insert(SET_COOKIE, set_cookie.parse().unwrap());
            }
            Ok::<_, Infallible>(response)
        }
    });
    match deploy {
        Deploy::Migrating => {
            let migration = CookieMigration::builder("__Host-sid")
                .validator(move |id: &str| sessions.lock().unwrap().contains_key(id))
                .legacy(
                    Legacy::named("sid")
                        .scope(Scope::domain(PARENT))
                        .scope(Scope::host_only()),
                )
                .build()
                .unwrap();
            BoxCloneService::new(CookieMigrationLayer::new(migration).layer(app))
        }
        Deploy::Legacy | Deploy::HostOnly => BoxCloneService::new(app),
    }
}

async fn visit(shop: &Shop, jar: &mut CookieStore, path: &str) -> (String, Response<String>) {
    let mut request = Request::get(path).body(()).unwrap();
    if let Some(header) = jar.cookie_header() {
        request
            .headers_mut()
            .insert(COOKIE, header.parse().unwrap());
    }
    let response = shop.clone().oneshot(request).await.unwrap();
    receive(jar, &response);
    (response.body().clone(), response)
}

#[tokio::test]
async fn incident_base_duplicate_cookie() {
    for browser in [Order::OldestFirst, Order::NewestFirst] {
        let sessions = Sessions::default();
        let mut jar = CookieStore::new(HOST, browser);

        // Before the PSL entry: a cart in a `Domain=` session.
        let legacy = shop(Deploy::Legacy, sessions.clone());
        visit(&legacy, &mut jar, "/").await;
        let (body, _) = visit(&legacy, &mut jar, "/add").await;
        assert_eq!(body, "not logged in; cart: tea");

        // The host-only fix is deployed; the buyer logs in and gets a host-only `sid`.
        let host_only = shop(Deploy::HostOnly, sessions.clone());
        let (body, _) = visit(&host_only, &mut jar, "/login").await;
        assert_eq!(body, "logged in as alice; cart: tea");
        let header = jar.cookie_header().unwrap();
        assert_eq!(
            header.matches("sid=").count(),
            2,
            "two `sid` cookies: {header}"
        );
        let live = jar
            .cookies()
            .iter()
            .find(|c| c.host_only)
            .unwrap()
            .value
            .clone();

        // The incident: oldest-first browsers send the dead Domain cookie first. (Probed
        // with a copy of the jar: the real visit would also replace the live host-only
        // cookie with a new anonymous one, losing the login for good.)
        let (body, _) = visit(&host_only, &mut jar.clone(), "/").await;
        match browser {
            Order::OldestFirst => assert!(body.starts_with("not logged in"), "{body}"),
            Order::NewestFirst => assert!(body.starts_with("logged in as alice"), "{body}"),
        }

        // The migration is deployed: one request later the browser holds one cookie, under
        // the new name, with the live session, and the buyer is logged in with the cart.
        let migrating = shop(Deploy::Migrating, sessions.clone());
        let (body, response) = visit(&migrating, &mut jar, "/").await;
        assert_eq!(body, "logged in as alice; cart: tea", "{browser:?}");
        assert_eq!(response.headers().get_all(SET_COOKIE).iter().count(), 3);
        assert_eq!(
            names_and_values(&jar),
            [("__Host-sid".to_owned(), live.clone())],
            "{browser:?}"
        );

        // The next request is plain: nothing left to migrate.
        let (body, response) = visit(&migrating, &mut jar, "/").await;
        assert_eq!(body, "logged in as alice; cart: tea");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
}
