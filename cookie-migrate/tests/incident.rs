//! Incident 5 (BASE) end to end at the HTTP level: a shop moves its session cookie from
//! `Domain=` to host-only, browsers keep both, and the server reads the wrong one — then
//! the migration answers the same browsers.
//!
//! The browsers are modelled by a cookie store that follows RFC 6265bis: cookies are
//! identified by name, domain, host-only flag and path; a `Max-Age=0` deletes the cookie
//! with the same identity; the `Cookie` header lists longer paths first and then Chrome's
//! and Firefox's oldest-first order or Safari's newest-first order.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use cookie_migrate::{CookieMigration, CookieMigrationLayer, Legacy, Scope};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use tower::util::BoxCloneService;
use tower::{Layer, ServiceExt, service_fn};

const HOST: &str = "shop1.base.localhost";
const PARENT: &str = "base.localhost";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    /// Chrome and Firefox: same-path cookies oldest first.
    OldestFirst,
    /// Safari: newest first.
    NewestFirst,
}

#[derive(Debug, Clone)]
struct Stored {
    name: String,
    value: String,
    domain: String,
    host_only: bool,
    path: String,
    created: u64,
}

#[derive(Debug, Clone)]
struct Jar {
    browser: Browser,
    cookies: Vec<Stored>,
    clock: u64,
}

impl Jar {
    fn new(browser: Browser) -> Self {
        Self {
            browser,
            cookies: Vec::new(),
            clock: 0,
        }
    }

    fn receive(&mut self, response: &Response<String>) {
        for line in response.headers().get_all(SET_COOKIE) {
            let cookie = cookie::Cookie::parse(line.to_str().unwrap().to_owned()).unwrap();
            let (domain, host_only) = match cookie.domain() {
                Some(domain) => {
                    assert!(
                        HOST.ends_with(&format!(".{domain}")) || HOST == domain,
                        "{domain}"
                    );
                    (domain.to_owned(), false)
                }
                None => (HOST.to_owned(), true),
            };
            let path = cookie.path().unwrap_or("/").to_owned();
            let same = |c: &Stored| {
                c.name == cookie.name()
                    && c.domain == domain
                    && c.host_only == host_only
                    && c.path == path
            };
            let existing = self.cookies.iter().position(same);
            if cookie.max_age().is_some_and(|age| age.is_zero()) {
                if let Some(index) = existing {
                    self.cookies.remove(index);
                }
                continue;
            }
            self.clock += 1;
            let stored = Stored {
                name: cookie.name().to_owned(),
                value: cookie.value().to_owned(),
                domain,
                host_only,
                path,
                // Overwriting keeps the creation time (RFC 6265bis §5.7 step 23.3).
                created: existing.map_or(self.clock, |i| self.cookies[i].created),
            };
            match existing {
                Some(index) => self.cookies[index] = stored,
                None => self.cookies.push(stored),
            }
        }
    }

    fn header(&self) -> Option<String> {
        let mut sent: Vec<&Stored> = self.cookies.iter().collect();
        sent.sort_by(|a, b| {
            let by_age = match self.browser {
                Browser::OldestFirst => a.created.cmp(&b.created),
                Browser::NewestFirst => b.created.cmp(&a.created),
            };
            b.path.len().cmp(&a.path.len()).then(by_age)
        });
        let pairs: Vec<String> = sent
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn names_and_values(&self) -> Vec<(String, String)> {
        self.cookies
            .iter()
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect()
    }
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

fn first_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
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

async fn visit(shop: &Shop, jar: &mut Jar, path: &str) -> (String, Response<String>) {
    let mut request = Request::get(path).body(()).unwrap();
    if let Some(header) = jar.header() {
        request
            .headers_mut()
            .insert(COOKIE, header.parse().unwrap());
    }
    let response = shop.clone().oneshot(request).await.unwrap();
    jar.receive(&response);
    (response.body().clone(), response)
}

#[tokio::test]
async fn incident_base_duplicate_cookie() {
    for browser in [Browser::OldestFirst, Browser::NewestFirst] {
        let sessions = Sessions::default();
        let mut jar = Jar::new(browser);

        // Before the PSL entry: a cart in a `Domain=` session.
        let legacy = shop(Deploy::Legacy, sessions.clone());
        visit(&legacy, &mut jar, "/").await;
        let (body, _) = visit(&legacy, &mut jar, "/add").await;
        assert_eq!(body, "not logged in; cart: tea");

        // The host-only fix is deployed; the buyer logs in and gets a host-only `sid`.
        let host_only = shop(Deploy::HostOnly, sessions.clone());
        let (body, _) = visit(&host_only, &mut jar, "/login").await;
        assert_eq!(body, "logged in as alice; cart: tea");
        let header = jar.header().unwrap();
        assert_eq!(
            header.matches("sid=").count(),
            2,
            "two `sid` cookies: {header}"
        );
        let live = jar
            .cookies
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
            Browser::OldestFirst => assert!(body.starts_with("not logged in"), "{body}"),
            Browser::NewestFirst => assert!(body.starts_with("logged in as alice"), "{body}"),
        }

        // The migration is deployed: one request later the browser holds one cookie, under
        // the new name, with the live session, and the buyer is logged in with the cart.
        let migrating = shop(Deploy::Migrating, sessions.clone());
        let (body, response) = visit(&migrating, &mut jar, "/").await;
        assert_eq!(body, "logged in as alice; cart: tea", "{browser:?}");
        assert_eq!(response.headers().get_all(SET_COOKIE).iter().count(), 3);
        assert_eq!(
            jar.names_and_values(),
            [("__Host-sid".to_owned(), live.clone())],
            "{browser:?}"
        );

        // The next request is plain: nothing left to migrate.
        let (body, response) = visit(&migrating, &mut jar, "/").await;
        assert_eq!(body, "logged in as alice; cart: tea");
        assert!(response.headers().get(SET_COOKIE).is_none());
    }
}
