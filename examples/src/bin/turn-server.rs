//! `turn-server`: a UDP TURN server on loopback behind `turn_auth::TurnAuthLayer`.
//!
//! ```text
//! cargo run -p examples --bin turn-server -- --listen 127.0.0.1:3478 --realm example.org \
//!     --user alice:secret [--rest-secret S] [--nonce-policy strict|allocation-bound] \
//!     [--nonce-lifetime 5s] [--allocation-lifetime 10s]
//! ```
//!
//! It prints `turn-server listening on udp://IP:PORT` first, then a `turnutils_uclient`
//! command that relays through it. The layer's counters are logged (to stderr; `RUST_LOG`,
//! default `info`) every 30 s when they changed, and on Ctrl-C, which stops the server.
//! The server itself is `examples::turn::TurnServer`.

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use examples::turn::{Config, Limits, PolicyKind, TurnServer, USAGE, parse_args};
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};
use turn_auth::credentials::{CredentialStore, Either};
use turn_auth::policy::DEFAULT_MAX_SESSION;
use turn_auth::{
    FiveTuple, NonceManager, NoncePolicy, NonceSecret, RestSecrets, StaticUsers, StunRequest,
    TelemetrySnapshot, Transport, TurnAuthLayer,
};

/// How often the counters are logged (when they changed).
const TELEMETRY_INTERVAL: Duration = Duration::from_secs(30);
/// Requests waiting on a slow credential store at once; datagrams beyond are dropped.
const MAX_PENDING: usize = 1024;

fn main() -> ExitCode {
    let parsed = match parse_args(std::env::args().skip(1)) {
        Ok(command) => Ok(command.into_invocation(USAGE)),
        Err(error) => Err(format!("{error}\n{USAGE}")),
    };
    examples::cli::main("turn-server", parsed, run)
}

async fn run(config: Config) -> Result<(), String> {
    let users = config.users.iter().fold(
        StaticUsers::new(config.realm.as_str()),
        |users, (name, password)| users.user(name.as_str(), password),
    );
    // Behind an `Arc`: the layer clones its store for every authenticated request.
    match &config.rest_secret {
        Some(secret) => {
            let store = Either::new(users, RestSecrets::new(secret));
            serve(&config, Arc::new(store)).await
        }
        None => serve(&config, Arc::new(users)).await,
    }
}

async fn serve<C: CredentialStore + Clone>(config: &Config, store: C) -> Result<(), String> {
    let socket = UdpSocket::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on udp://{}: {e}", config.listen))?;
    let socket = Arc::new(socket);
    let local = socket.local_addr().map_err(|e| e.to_string())?;

    let policy = match config.nonce_policy {
        PolicyKind::Strict => NoncePolicy::Strict {
            lifetime: config.nonce_lifetime,
        },
        PolicyKind::AllocationBound => NoncePolicy::AllocationBound {
            lifetime: config.nonce_lifetime,
            max_session: DEFAULT_MAX_SESSION,
        },
    };
    let secret = NonceSecret::generate(1).map_err(|e| format!("nonce secret: {e}"))?;
    let layer = TurnAuthLayer::builder(config.realm.as_str(), store, NonceManager::new(secret))
        .policy(policy)
        .software("toolkit turn-server")
        .build();
    let limits = Limits {
        max_lifetime: config.allocation_lifetime,
        ..Limits::default()
    };
    let server = TurnServer::new(Arc::clone(&socket), limits).map_err(|e| e.to_string())?;
    let mut service = layer.layer(server.clone());

    println!("turn-server listening on udp://{local}");
    print_banner(config, local);

    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut ticker = tokio::time::interval(TELEMETRY_INTERVAL);
    ticker.tick().await;
    let mut last_logged = TelemetrySnapshot::default();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut buf = vec![0u8; 65_535];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (len, client) = match received {
                    Ok(received) => received,
                    Err(error) => {
                        tracing::debug!(%error, "recv_from failed");
                        continue;
                    }
                };
                let request = StunRequest::new(
                    Bytes::copy_from_slice(&buf[..len]),
                    FiveTuple { client, server: local, transport: Transport::Udp },
                );
                let answer = match service.ready().await {
                    Ok(service) => service.call(request),
                    Err(never) => match never {},
                };
                // Answered at once in the common case (the stores here are in memory), which
                // keeps each client's datagrams in order (a ChannelBind before the ChannelData
                // it enables). Only a request still waiting after one poll gets its own task.
                let mut answer = Box::pin(answer);
                match answer.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                    Poll::Ready(Ok(reply)) => reply_to(&socket, reply, client).await,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => {
                        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
                            tracing::debug!(%client, "too many pending requests: dropped");
                            continue;
                        };
                        let socket = Arc::clone(&socket);
                        tokio::spawn(async move {
                            let Ok(reply) = answer.await;
                            reply_to(&socket, reply, client).await;
                            drop(permit);
                        });
                    }
                }
            }
            _ = ticker.tick() => {
                let now = layer.telemetry();
                if now != last_logged {
                    log_telemetry(&now, &server);
                    last_logged = now;
                }
            }
            _ = &mut ctrl_c => {
                log_telemetry(&layer.telemetry(), &server);
                tracing::info!("Ctrl-C: stopping");
                return Ok(());
            }
        }
    }
}

async fn reply_to(socket: &UdpSocket, reply: Option<Bytes>, client: SocketAddr) {
    if let Some(reply) = reply {
        if let Err(error) = socket.send_to(&reply, client).await {
            tracing::debug!(%client, %error, "reply dropped");
        }
    }
}

fn log_telemetry(snapshot: &TelemetrySnapshot, server: &TurnServer) {
    let counters: Vec<String> = snapshot
        .fields()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    tracing::info!(
        allocations = server.allocations(),
        "telemetry: {}",
        counters.join(" ")
    );
}

fn print_banner(config: &Config, local: SocketAddr) {
    let users: Vec<&str> = config.users.iter().map(|(n, _)| n.as_str()).collect();
    let policy = match config.nonce_policy {
        PolicyKind::Strict => "strict",
        PolicyKind::AllocationBound => "allocation-bound",
    };
    println!(
        "realm {}; users: {}; REST secret: {}; nonce policy {policy}, nonces fresh for {:?}; \
         allocations live up to {:?}",
        config.realm,
        if users.is_empty() {
            "(none)".to_owned()
        } else {
            users.join(", ")
        },
        if config.rest_secret.is_some() {
            "yes"
        } else {
            "no"
        },
        config.nonce_lifetime,
        config.allocation_lifetime,
    );
    let credentials = match (config.users.first(), &config.rest_secret) {
        (Some((name, password)), _) => format!("-u {} -w {}", quote(name), quote(password)),
        (None, Some(secret)) => format!("-u alice -W {}", quote(secret)),
        (None, None) => String::new(),
    };
    println!("relay between two clients through this server (coturn's test client):");
    println!(
        "  turnutils_uclient -y -c -n 10 {credentials} -p {} {}",
        local.port(),
        local.ip()
    );
}

/// Quotes `text` for a POSIX shell when it needs it.
fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@%+=/,".contains(c))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
