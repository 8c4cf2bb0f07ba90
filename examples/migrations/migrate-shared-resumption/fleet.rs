//! Three TLS instances of `examples::tls::Fleet` on loopback ports, started and stopped
//! with the measurement.

use examples::tls::{Fleet, Instance, Mode};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tracing::Dispatch;
use tracing::instrument::WithSubscriber;

/// How many instances sit behind the (simulated) load balancer.
pub(crate) const INSTANCES: usize = 3;

/// Running instances: their ports and the tasks serving them.
#[derive(Debug)]
pub(crate) struct Running {
    /// One port per instance, in instance order.
    pub(crate) ports: Vec<u16>,
    /// Where the shared state lives, as `Fleet::describe` says.
    pub(crate) described: &'static str,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts [`INSTANCES`] instances of a fresh in-memory fleet in `mode`, each on a free
/// loopback port. The instances log through `logs` when given (else the global subscriber).
///
/// # Errors
///
/// When the fleet cannot be built or a port cannot be bound.
pub(crate) async fn start(mode: Mode, logs: Option<&Dispatch>) -> Result<Running, String> {
    let fleet = Fleet::in_memory(mode)?;
    let mut running = Running {
        ports: Vec::with_capacity(INSTANCES),
        described: fleet.describe(),
        tasks: Vec::with_capacity(INSTANCES),
    };
    for index in 0..INSTANCES {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => {
                running.stop().await;
                return Err(format!("cannot listen on 127.0.0.1: {e}"));
            }
        };
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let instance = match fleet.instance(index, port).await {
            Ok(instance) => instance,
            Err(e) => {
                running.stop().await;
                return Err(format!("instance {}: {e}", index + 1));
            }
        };
        running.ports.push(port);
        running.tasks.push(match logs {
            Some(logs) => tokio::spawn(serve(listener, instance).with_subscriber(logs.clone())),
            None => tokio::spawn(serve(listener, instance)),
        });
    }
    Ok(running)
}

impl Running {
    /// Stops accepting and aborts every connection still being served, then waits for the
    /// tasks to end (the listeners close with them).
    pub(crate) async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            // Aborted: the error is the cancellation itself.
            let _ = task.await;
        }
    }
}

/// Accepts connections and serves each on its own task. The connections' tasks live in a
/// `JoinSet`, so aborting this task aborts them too.
async fn serve(listener: TcpListener, instance: Instance) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let instance = instance.clone();
                // A new task does not inherit the subscriber this one runs with: pass it on.
                connections.spawn(
                    async move {
                        if let Err(error) = instance.serve(tcp).await {
                            tracing::warn!(instance = instance.number, %peer, %error, "connection failed");
                        }
                    }
                    .with_current_subscriber(),
                );
            }
            Err(error) => {
                tracing::warn!(instance = instance.number, %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        // Reap the finished ones so the set stays as small as the connections in flight.
        while connections.try_join_next().is_some() {}
    }
}
