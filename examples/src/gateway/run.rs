//! Starting the gateway: the stores, the listeners, the banner, and the shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ratelimit::{Limiter, Quota, RedisStore as RateRedis};
use tokio::net::TcpListener;
use tokio::sync::watch;
use turn_auth::credentials::Either;
use turn_auth::policy::DEFAULT_MAX_SESSION;
use turn_auth::{NonceManager, NoncePolicy, NonceSecret, RestSecrets, StaticUsers, TurnAuthLayer};
use twiml::{PublicBase, RequestValidator};

use super::config::{Config, Layers};
use super::metrics::{HttpCounters, Metrics, RateBackend};
use super::stack;
use super::tls::GatewayTls;
use crate::shop::{Phase, Sessions, Shop};
use crate::turn::{Limits, UdpTurn, shell_quote};
use crate::voice::{Ivr, token_from_env};

/// How long nonces stay fresh; allocations outlive them (`AllocationBound`).
const NONCE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(600);
/// The budget of each rate-limit call to Redis.
const RATE_REDIS_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

/// What the banner needs besides the configuration.
#[derive(Debug)]
pub struct Listening {
    /// The HTTPS address (the real port).
    pub https: SocketAddr,
    /// The TURN address (the real port).
    pub turn: SocketAddr,
    /// The public base Twilio requests are checked against.
    pub public_base: String,
    /// The signed `curl` command.
    pub curl: String,
    /// Whether the Twilio token is the demo one.
    pub demo_token: bool,
    /// The certificate, and where TLS sessions live.
    pub tls: String,
    /// Where rate limits live.
    pub rate: String,
    /// The `-sess_out`/`-sess_in` file of the `openssl` commands.
    pub session_file: PathBuf,
}

/// The banner: the machine-readable first line, what listens where, and the three
/// ready-to-paste commands.
///
/// ```
/// use examples::gateway::{Command, Listening, banner, parse_args};
///
/// let Command::Run(config) = parse_args(Vec::new())? else { unreachable!() };
/// let listening = Listening {
///     https: "127.0.0.1:8443".parse()?,
///     turn: "127.0.0.1:3478".parse()?,
///     public_base: "https://127.0.0.1:8443".into(),
///     curl: "curl -sS -k …".into(),
///     demo_token: true,
///     tls: "…".into(),
///     rate: "in memory".into(),
///     session_file: "/tmp/gateway.pem".into(),
/// };
/// let text = banner(&config, &listening);
/// assert_eq!(
///     text.lines().next(),
///     Some("gateway listening on https://127.0.0.1:8443 turn udp://127.0.0.1:3478"),
/// );
/// assert!(text.contains("turnutils_uclient -y -c -n 10 -u alice -w secret -p 3478 127.0.0.1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn banner(config: &Config, l: &Listening) -> String {
    let mut lines = vec![
        format!(
            "gateway listening on https://{} turn udp://{}",
            l.https, l.turn
        ),
        format!(
            "  https://{}  (HTTP/1.1 and HTTP/2)  /voice /voice/next/ (Twilio, signed)  \
             /shop (login + cart)  /healthz  /metrics",
            l.https
        ),
        format!("  TLS: {}", l.tls),
        format!(
            "  rate limit: {}/s, burst {} per validated __Host-sid session, else client IP \
             (trusted proxies: {}), else peer IP (/64); {} keys {}",
            config.rate.per_second,
            config.rate.burst,
            if config.rate.trusted_proxies.is_empty() {
                "none".to_owned()
            } else {
                config
                    .rate
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            config.rate.capacity,
            l.rate
        ),
        format!(
            "  cookies: legacy `sid` (Domain={} and host-only) migrated to `__Host-sid`; \
             {} sessions at most",
            config.cookie_domain, config.sessions
        ),
        format!(
            "  TURN udp://{} realm {}: static users {}; REST-secret credentials ({})",
            l.turn,
            config.realm,
            config
                .turn_users
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if config.turn_secret.is_some() {
                "turn.rest_secret"
            } else {
                "a random secret; set turn.rest_secret to use them"
            }
        ),
        format!(
            "  Twilio: public base {}{}",
            l.public_base,
            if l.demo_token {
                "; the demo auth token (set TWILIO_AUTH_TOKEN or twilio.auth_token)"
            } else {
                ""
            }
        ),
    ];
    if config.layers == Layers::None {
        lines.push(
            "  LAYERS: NONE — a benchmark baseline: no cookie migration, cookie validator, rate \
             limit or /voice (its signature layer); TLS, tracing and counters as usual"
                .to_owned(),
        );
    }
    lines.extend([
        "1. a signed Twilio request to the trailing-slash step (expect TwiML):".to_owned(),
        format!("  {}", l.curl),
        "2. a TLS session made, then resumed (the second prints `Reused`):".to_owned(),
    ]);
    let file = l.session_file.display();
    for io in ["-sess_out", "-sess_in"] {
        lines.push(format!(
            "  (printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n'; sleep 1) | openssl s_client \
             -connect {} {io} {file}",
            l.https
        ));
    }
    lines.push("3. relay between two clients through TURN (coturn's test client):".to_owned());
    let credentials = match config.turn_users.first() {
        Some((name, password)) => format!("-u {} -w {}", shell_quote(name), shell_quote(password)),
        None => String::new(),
    };
    lines.push(format!(
        "  turnutils_uclient -y -c -n 10 {credentials} -p {} {}",
        l.turn.port(),
        l.turn.ip()
    ));
    lines.join("\n")
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM; returns the signal's name.
async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return "SIGINT",
                _ = term.recv() => return "SIGTERM",
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

/// Runs the gateway until SIGINT or SIGTERM, then shuts down gracefully.
///
/// # Errors
///
/// A message when a listener cannot be bound, the certificate cannot be read, or Redis
/// cannot be reached.
pub async fn run(config: Config) -> Result<(), String> {
    // Rate limits: in memory, or in Redis (with a bounded in-memory fallback).
    let quota = Quota::per_second(config.rate.per_second).with_burst(config.rate.burst);
    let (rate_backend, rate_text) = match &config.redis {
        None => (
            RateBackend::Memory(Arc::new(Limiter::new(quota, config.rate.capacity))),
            "in memory".to_owned(),
        ),
        Some(url) => {
            let store = RateRedis::builder_url(url, quota)
                .map_err(|e| format!("--redis: {e}"))?
                .prefix("gateway:rl:")
                .timeout(RATE_REDIS_TIMEOUT)
                .fallback_capacity(config.rate.capacity)
                .build()
                .await
                .map_err(|e| format!("--redis: cannot reach Redis at {url}: {e}"))?;
            (RateBackend::Redis(store), "in Redis".to_owned())
        }
    };
    let limits = match &rate_backend {
        RateBackend::Memory(limiter) => stack::rate_limit_layer(&config.rate, Arc::clone(limiter)),
        RateBackend::Redis(store) => stack::rate_limit_layer(&config.rate, store.clone()),
    }
    .map_err(|e| e.to_string())?;

    // TLS, then the HTTPS listener (its real port is the Twilio public base's default).
    let cert = config
        .cert
        .as_ref()
        .map(|(cert, key)| (cert.as_path(), key.as_path()));
    let tls = GatewayTls::new(cert, config.redis.as_deref()).await?;
    let listener = TcpListener::bind(config.https)
        .await
        .map_err(|e| format!("cannot listen on https://{}: {e}", config.https))?;
    let https = listener.local_addr().map_err(|e| e.to_string())?;

    // The shop, in the migrate phase; its migration runs in the stack for every route.
    let sessions = Sessions::new(config.sessions);
    let shop = Shop::new(Phase::Migrate, sessions.clone(), &config.cookie_domain)
        .map_err(|e| format!("--cookie-domain: {e}"))?
        .mounted_at("/shop");
    let migration = shop
        .migration()
        .cloned()
        .ok_or("the migrate phase has a migration")?;
    let cookies = stack::cookie_validator(&sessions);

    // The IVR.
    let (token, demo_token) = match &config.twilio_token {
        Some(token) => (token.clone(), false),
        None => token_from_env(),
    };
    let public_base = match &config.public_base {
        Some(base) => base.clone(),
        None => PublicBase::parse(&format!("https://{https}")).map_err(|e| e.to_string())?,
    };
    let ivr = Ivr::new(RequestValidator::new(token), public_base.clone())
        .map_err(|e| format!("--public-base: {e}"))?;
    let path = "/voice/next/";
    let curl = ivr
        .signed_request(path)
        .map_err(|e| e.to_string())?
        .curl(&format!("https://{https}{path}"), "-k");

    // TURN: static users, then REST-API credentials.
    let users = config.turn_users.iter().fold(
        StaticUsers::new(config.realm.as_str()),
        |users, (name, password)| users.user(name.as_str(), password),
    );
    let rest_secret = match &config.turn_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => {
            let mut secret = vec![0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| format!("TURN secret: {e}"))?;
            secret
        }
    };
    let store = Arc::new(Either::new(users, RestSecrets::new(&rest_secret)));
    let nonce_secret = NonceSecret::generate(1).map_err(|e| format!("nonce secret: {e}"))?;
    let layer = TurnAuthLayer::builder(
        config.realm.as_str(),
        store,
        NonceManager::new(nonce_secret),
    )
    .policy(NoncePolicy::AllocationBound {
        lifetime: NONCE_LIFETIME,
        max_session: DEFAULT_MAX_SESSION,
    })
    .software("toolkit gateway")
    .build();
    let turn = UdpTurn::bind(config.turn, layer, Limits::default()).await?;
    let turn_addr = turn.local_addr();

    let counters = Arc::new(HttpCounters::default());
    let metrics = Metrics {
        http: Arc::clone(&counters),
        rate: rate_backend,
        cookies: cookies.clone(),
        migration: migration.clone(),
        sessions,
        acceptor: tls.acceptor.clone(),
        cache: Arc::clone(&tls.cache),
        ticketer: Arc::clone(&tls.ticketer),
        tls_shared: tls.shared.clone(),
        turn: turn.stats(),
        ivr: ivr.clone(),
    };

    let listening = Listening {
        https,
        turn: turn_addr,
        public_base: public_base.to_string(),
        curl,
        demo_token,
        tls: format!("{}; {}", tls.certificate, tls.describe()),
        rate: rate_text,
        session_file: std::env::temp_dir().join(format!("gateway-{}.pem", std::process::id())),
    };
    println!("{}", banner(&config, &listening));

    let (stop, stopped) = watch::channel(false);
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let turn_task = tokio::spawn(turn.run(wait(stopped.clone())));
    // Two monomorphic stacks rather than one `Either`: the baseline pays for nothing of
    // the toolkit's, not even a branch.
    let https_task = match config.layers {
        Layers::All => {
            let routes = stack::routes(&shop, &ivr, metrics);
            let service = stack::service(routes, Arc::clone(&counters), migration, cookies, limits);
            tokio::spawn(super::server::serve(
                listener,
                tls.acceptor.clone(),
                service,
                config.max_connections.get(),
                counters,
                wait(stopped),
            ))
        }
        Layers::None => {
            let service =
                stack::bare_service(stack::app_routes(&shop, metrics), Arc::clone(&counters));
            tokio::spawn(super::server::serve(
                listener,
                tls.acceptor.clone(),
                service,
                config.max_connections.get(),
                counters,
                wait(stopped),
            ))
        }
    };
    let name = signal().await;
    tracing::info!("{name}: shutting down gracefully");
    let _ = stop.send(true);
    let (turn_done, https_done) = tokio::join!(turn_task, https_task);
    turn_done.map_err(|e| format!("TURN task: {e}"))?;
    https_done.map_err(|e| format!("HTTPS task: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}
