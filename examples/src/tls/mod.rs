//! The `tls-instances` example: several HTTPS instances in one process that resume each
//! other's TLS sessions through `tls_resume`, sharing state only through the configured
//! store (incident 4: behind N instances with rustls's defaults, 1/N of reconnects resume).
//!
//! [`Fleet`] holds what the instances share (an in-memory shared tier and fleet secret, or a
//! Redis node); [`Fleet::instance`] builds each instance's own `ServerConfig` and
//! `ResumingAcceptor`; [`Instance::serve`] answers one connection with an [`Answer`] saying
//! which instance answered and whether the handshake resumed.
//!
//! ```no_run
//! use examples::tls::{Fleet, Mode};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let fleet = Fleet::in_memory(Mode::Cache)?;
//! let instance = fleet.instance(0, 9443).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
//! let (tcp, _) = listener.accept().await?;
//! let answer = instance.serve(tcp).await?;
//! assert_eq!(answer.instance, 1);
//! # Ok(())
//! # }
//! ```

mod config;
mod server;

pub use config::{ArgError, Command, Config, MAX_INSTANCES, Mode, USAGE, parse_args};
pub use server::{
    Answer, Fleet, Instance, LOCAL_CAPACITY, MAX_REQUEST_HEAD, PREFETCH_TIMEOUT, REDIS_TIMEOUT,
    REQUEST_TIMEOUT, SHARED_CAPACITY, connect_redis, self_signed_localhost,
};
