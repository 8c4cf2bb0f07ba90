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

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use examples::turn::{
    Config, Limits, PolicyKind, USAGE, UdpTurn, parse_args, shell_quote as quote,
};
use turn_auth::credentials::{CredentialStore, Either};
use turn_auth::policy::DEFAULT_MAX_SESSION;
use turn_auth::{NonceManager, NoncePolicy, NonceSecret, RestSecrets, StaticUsers, TurnAuthLayer};

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

async fn serve<C>(config: &Config, store: C) -> Result<(), String>
where
    C: CredentialStore + Clone + Send + Sync + 'static,
{
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
    let turn = UdpTurn::bind(config.listen, layer, limits).await?;
    let local = turn.local_addr();

    println!("turn-server listening on udp://{local}");
    print_banner(config, local);

    turn.run(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping");
    })
    .await;
    Ok(())
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
