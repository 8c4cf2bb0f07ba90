//! The configurations, the two tower stacks (before: keyed by IP; after: validated cookie
//! first) and the traffic of incident 3: many users with their own sessions behind one NAT
//! address, reaching the application through a load balancer, plus a cookie-less flood from
//! that same address.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use ratelimit::config::{Config, ConfigError};
use ratelimit::{Policy, RateLimitLayer};
use tower::{ServiceBuilder, ServiceExt};

/// The incident's rule as a configuration: key by the validated cookie, else the "parent"
/// key generator, which (through an internal API) was the rule itself.
pub(crate) const INCIDENT_TOML: &str = r#"
[keyers.ddos-rule]
sources = [{ type = "cookie" }]
fallback = "parent"
no_key = { reject = 403 }

[keyers.parent]
fallback = "ddos-rule"
"#;

/// The migrated configuration: one policy, the IP keyer of the old setup (`by-ip`) and the
/// new one (`session`: the validated cookie, then `by-ip`'s sources).
pub(crate) const FIXED_TOML: &str = r#"
[cookie]
name = "session"

[policies.api]
per_minute = 60
burst = 20
capacity = 100_000

[keyers.by-ip]
sources = [
    { type = "client-ip", trusted = ["10.0.0.0/8"] },
    { type = "peer-ip" },
]

[keyers.session]
sources = [{ type = "cookie" }]
fallback = "by-ip"
"#;

/// The load balancer every request comes through (inside the trusted `10.0.0.0/8`).
pub(crate) const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
/// The carrier-grade NAT address every user and the flood share.
pub(crate) const NAT: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
/// One user in this many also sends an expired cookie of the same name first: the
/// "several cookies, some valid" requests the incident's second validator misjudged.
pub(crate) const STALE_EVERY: usize = 10;

/// How much traffic to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Traffic {
    /// Users behind the NAT address, each with their own valid session.
    pub(crate) users: usize,
    /// Requests each user makes.
    pub(crate) requests: usize,
    /// Requests of the flood from the NAT address (no cookie, forged cookies, spoofed
    /// `X-Forwarded-For`).
    pub(crate) flood: usize,
}

/// What one run of the traffic through one stack got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Users' requests answered `429`.
    pub(crate) users_limited: usize,
    /// Users with at least one `429`.
    pub(crate) users_hit: usize,
    /// Users who sent an expired cookie before their valid one.
    pub(crate) users_with_stale_cookie: usize,
    /// Flood requests answered `429`.
    pub(crate) flood_limited: usize,
    /// Any answer other than `200` and `429` (there should be none).
    pub(crate) unexpected: usize,
}

/// Loads the incident's configuration: it must be refused.
pub(crate) fn load_incident() -> Result<Config, ConfigError> {
    Config::from_toml_str(INCIDENT_TOML)
}

/// The sessions the application issued; the one validator asks it.
#[derive(Debug)]
pub(crate) struct Sessions {
    issued: HashSet<String>,
    ids: Vec<String>,
}

impl Sessions {
    /// `count` random session ids.
    ///
    /// # Errors
    ///
    /// When the system's random source fails.
    pub(crate) fn issue(count: usize) -> Result<Self, String> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| format!("session id: {e}"))?;
            ids.push(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
        }
        Ok(Self {
            issued: ids.iter().cloned().collect(),
            ids,
        })
    }
}

/// The application: one route answering `ok`.
fn app() -> Router {
    Router::new().route("/feed", get(|| async { "ok" }))
}

/// The stack before the migration: `RateLimitLayer` keyed by the client address.
///
/// # Errors
///
/// When the configuration lacks the policy or keyer.
pub(crate) fn before(config: &Config) -> Result<Router, String> {
    let policy = config.policy("api").ok_or("no policy `api`")?;
    let keyer = config.keyer("by-ip").ok_or("no keyer `by-ip`")?.clone();
    let limits = RateLimitLayer::new(
        Policy::new("api", keyer, policy.limiter()).map_err(|e| e.to_string())?,
    );
    Ok(app().layer(limits))
}

/// The stack after: the one cookie validator, then `RateLimitLayer` keyed by the validated
/// cookie, else the client address through the trusted proxy, else the peer.
///
/// # Errors
///
/// When the configuration lacks the cookie section, the policy or the keyer.
pub(crate) fn after(config: &Config, sessions: &Arc<Sessions>) -> Result<Router, String> {
    let policy = config.policy("api").ok_or("no policy `api`")?;
    let keyer = config.keyer("session").ok_or("no keyer `session`")?.clone();
    let sessions = Arc::clone(sessions);
    let cookies = config
        .cookie()
        .ok_or("no [cookie] section")?
        .layer(move |_: &str, value: &str| sessions.issued.contains(value));
    let limits = RateLimitLayer::new(
        Policy::new("api", keyer, policy.limiter()).map_err(|e| e.to_string())?,
    );
    Ok(app().layer(ServiceBuilder::new().layer(cookies).layer(limits)))
}

/// A request as the load balancer forwards it: from the proxy's address, with the NAT
/// address appended to whatever `X-Forwarded-For` the client sent.
fn forwarded(cookie: Option<String>, client_xff: Option<&str>) -> Result<Request<Body>, String> {
    let xff = match client_xff {
        Some(sent) => format!("{sent}, {NAT}"),
        None => NAT.to_string(),
    };
    let mut builder = Request::get("/feed").header("x-forwarded-for", xff);
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    let mut request = builder.body(Body::empty()).map_err(|e| e.to_string())?;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(PROXY, 41_000)));
    Ok(request)
}

/// The flood's `i`-th request: no cookie, a forged one, or a spoofed `X-Forwarded-For`.
fn flood_request(i: usize) -> Result<Request<Body>, String> {
    match i % 3 {
        0 => forwarded(None, None),
        1 => forwarded(Some(format!("session=forged-{i}")), None),
        _ => forwarded(None, Some(&format!("198.51.100.{}", i % 250))),
    }
}

/// Sends the traffic through `app`: each user's requests round after round, with the flood
/// spread evenly between them.
///
/// # Errors
///
/// When a request cannot be built.
pub(crate) async fn run(
    app: &Router,
    sessions: &Sessions,
    traffic: Traffic,
) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let mut hit = vec![false; traffic.users];
    let total = traffic.users * traffic.requests;
    let mut flood_sent = 0;
    let mut sent = 0;
    for _round in 0..traffic.requests {
        for (user, id) in sessions.ids.iter().enumerate().take(traffic.users) {
            let cookie = if user % STALE_EVERY == 0 {
                format!("session=expired-{user}; session={id}")
            } else {
                format!("session={id}")
            };
            match send(app, forwarded(Some(cookie), None)?).await {
                StatusCode::OK => {}
                StatusCode::TOO_MANY_REQUESTS => {
                    outcome.users_limited += 1;
                    hit[user] = true;
                }
                _ => outcome.unexpected += 1,
            }
            sent += 1;
            while flood_sent < sent * traffic.flood / total {
                match send(app, flood_request(flood_sent)?).await {
                    StatusCode::OK => {}
                    StatusCode::TOO_MANY_REQUESTS => outcome.flood_limited += 1,
                    _ => outcome.unexpected += 1,
                }
                flood_sent += 1;
            }
        }
    }
    outcome.users_hit = hit.iter().filter(|h| **h).count();
    outcome.users_with_stale_cookie = traffic.users.div_ceil(STALE_EVERY);
    Ok(outcome)
}

/// One request through a clone of the router.
async fn send(app: &Router, request: Request<Body>) -> StatusCode {
    match app.clone().oneshot(request).await {
        Ok(response) => response.status(),
        Err(never) => match never {},
    }
}
