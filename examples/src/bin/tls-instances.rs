//! `tls-instances`: several HTTPS instances in one process that resume each other's TLS
//! sessions through `tls_resume`.
//!
//! ```text
//! cargo run -p examples --bin tls-instances -- --ports 9443,9444,9445 \
//!     [--redis redis://127.0.0.1:6379] [--mode cache|tickets|both|none]
//! ```
//!
//! Port 0 picks a free port. It prints `tls-instances listening on https://127.0.0.1:P1,P2,...`
//! first, then two `openssl s_client` commands (`-sess_out` on one port, `-sess_in` on
//! another) whose second prints `Reused`. Each response body says which instance answered
//! and whether the handshake resumed. Logs go to stderr (`RUST_LOG`, default `info`); Ctrl-C
//! stops. The instances are built by `examples::tls::Fleet`.

use std::process::ExitCode;

use examples::tls::{Config, Fleet, Instance, Mode, USAGE, parse_args};
use tokio::net::TcpListener;

fn main() -> ExitCode {
    let parsed = match parse_args(std::env::args().skip(1)) {
        Ok(command) => Ok(command.into_invocation(USAGE)),
        Err(error) => Err(format!("{error}\n{USAGE}")),
    };
    examples::cli::main("tls-instances", parsed, run)
}

async fn run(config: Config) -> Result<(), String> {
    let fleet = match &config.redis {
        Some(url) => Fleet::redis(config.mode, url).await?,
        None => Fleet::in_memory(config.mode)?,
    };
    let mut listeners = Vec::with_capacity(config.ports.len());
    for port in &config.ports {
        let listener = TcpListener::bind(("127.0.0.1", *port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        listeners.push((listener, port));
    }
    let mut instances = Vec::with_capacity(listeners.len());
    for (index, (_, port)) in listeners.iter().enumerate() {
        instances.push(fleet.instance(index, *port).await?);
    }
    let ports: Vec<String> = listeners.iter().map(|(_, p)| p.to_string()).collect();
    println!(
        "tls-instances listening on https://127.0.0.1:{}",
        ports.join(",")
    );
    print_banner(&config, &fleet, &instances);

    for ((listener, _), instance) in listeners.into_iter().zip(instances) {
        tokio::spawn(accept_loop(listener, instance));
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    tracing::info!("Ctrl-C: stopping");
    Ok(())
}

async fn accept_loop(listener: TcpListener, instance: Instance) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let instance = instance.clone();
                tokio::spawn(async move {
                    if let Err(error) = instance.serve(tcp).await {
                        tracing::debug!(instance = instance.number, %peer, %error, "connection failed");
                    }
                });
            }
            Err(error) => {
                tracing::warn!(instance = instance.number, %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

fn print_banner(config: &Config, fleet: &Fleet, instances: &[Instance]) {
    let numbered: Vec<String> = instances
        .iter()
        .map(|i| format!("instance {} on {}", i.number, i.port))
        .collect();
    println!(
        "mode {}: {}; {}",
        config.mode.as_str(),
        fleet.describe(),
        numbered.join(", ")
    );
    let first = instances[0].port;
    let second = instances.get(1).map_or(first, |i| i.port);
    let (version, flags) = match config.mode {
        Mode::Tickets => ("TLS 1.3 ticket", "-tls1_3"),
        _ => ("TLS 1.2 session id", "-tls1_2 -no_ticket"),
    };
    let file = std::env::temp_dir().join(format!("tls-instances-{}.pem", std::process::id()));
    let file = file.display();
    println!(
        "resume a {version} made on port {first} on port {second} \
         (the second prints `Reused`{}):",
        if config.mode == Mode::None {
            " only on the same port"
        } else {
            ""
        }
    );
    for (port, io) in [(first, "-sess_out"), (second, "-sess_in")] {
        println!(
            "  (printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 1) | openssl s_client \
             -connect 127.0.0.1:{port} {flags} {io} {file}"
        );
    }
}
