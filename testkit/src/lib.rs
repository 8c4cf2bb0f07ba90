//! Test helpers shared by the toolkit crates. Not published.
//!
//! [`cookie_store`] models a browser's RFC 6265bis cookie store, for tests and simulations
//! of cookie migrations. [`FaultProxy`] sits between a client and a real server (Redis)
//! and delays, drops or refuses its traffic on demand; [`redis_faults`] runs the fault
//! script (kill, restart, delay, black hole, refuse, and recovery polling) of the
//! Redis-backed crates' fault tests through one.
//!
//! Tests that need a real external program (curl, Redis, coturn, openssl, Chromium) look for it
//! with [`require_program`]. When it is absent the test prints `SKIPPED: <what> not installed`
//! and returns early, unless `TOOLKIT_REQUIRE_SERVICES=1` is set (CI sets it), in which case
//! the test fails: CI must never pass because a service was missing.
//!
//! ```
//! let Some(sh) = testkit::require_program("sh") else { return };
//! let out = std::process::Command::new(sh).arg("-c").arg("echo hi").output().unwrap();
//! assert_eq!(out.stdout, b"hi\n");
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub mod chromium;
pub mod cookie_store;
pub mod fault_proxy;
pub mod redis_faults;

pub use fault_proxy::{Fault, FaultProxy};

/// The environment variable that turns a missing program into a test failure.
pub const REQUIRE_SERVICES_ENV: &str = "TOOLKIT_REQUIRE_SERVICES";

/// Whether missing external programs fail tests instead of skipping them.
pub fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES_ENV).is_ok_and(|v| v == "1")
}

/// Finds `program` on `PATH` (or takes it as a path when it contains a `/`).
///
/// Returns `None` after printing `SKIPPED: <program> not installed` when it is absent.
///
/// # Panics
///
/// When the program is absent and `TOOLKIT_REQUIRE_SERVICES=1` is set.
pub fn require_program(program: &str) -> Option<PathBuf> {
    match find_program(program) {
        Some(path) => Some(path),
        None if services_required() => panic!(
            "{program} is not installed and {REQUIRE_SERVICES_ENV}=1: .ci/run must install it"
        ),
        None => {
            println!("SKIPPED: {program} not installed");
            None
        }
    }
}

/// Looks `program` up on `PATH` without printing anything.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let is_executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
    })
}

/// A free TCP port on 127.0.0.1, chosen by the kernel.
///
/// The port is released before returning, so a race with another process is possible but
/// rare; servers started on it should be checked with [`wait_for_port`].
pub fn free_tcp_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// Waits until something accepts TCP connections on `addr`, for at most `timeout`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(25));
    }
    false
}

/// Starts a real `redis-server` (no persistence) on `port` of 127.0.0.1.
///
/// `None` when another process already holds the port (free ports are free only when
/// picked): the server that answers must report this child's process id.
///
/// # Panics
///
/// When the program cannot be started or nothing listens on the port within 10 s.
pub fn start_redis_on(program: &Path, port: u16) -> Option<ChildGuard> {
    let mut command = Command::new(program);
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
    command.args(["--save", "", "--appendonly", "no"]);
    let guard = ChildGuard::spawn(command).expect("start redis-server");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        wait_for_port(addr, Duration::from_secs(10)),
        "nothing listens on {addr}"
    );
    (redis_pid(addr) == Some(guard.id())).then_some(guard)
}

/// Starts a real `redis-server` on a free loopback port, retrying when another process
/// takes the port first; returns the port and the server.
///
/// # Panics
///
/// When no port could be had in 10 attempts, or as [`start_redis_on`].
pub fn start_redis(program: &Path) -> (u16, ChildGuard) {
    for _ in 0..10 {
        let port = free_tcp_port();
        if let Some(guard) = start_redis_on(program, port) {
            return (port, guard);
        }
    }
    panic!("no free port for redis-server");
}

/// The `process_id` the Redis server at `addr` reports (`INFO server`).
fn redis_pid(addr: SocketAddr) -> Option<u32> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(rest) = text.split("process_id:").nth(1)
            && let Some((line, _)) = rest.split_once("\r\n")
        {
            return line.trim().parse().ok();
        }
    }
}

/// A child process that is killed (by its id) and reaped when dropped, so a failing test
/// never leaves a server behind.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    stdout_lines: Option<mpsc::Receiver<String>>,
}

impl ChildGuard {
    /// Starts `command` with stdout captured line by line and stderr inherited.
    pub fn spawn(command: Command) -> std::io::Result<Self> {
        Self::spawn_with_stderr(command, Stdio::inherit())
    }

    /// Starts `command` with stdout captured line by line and stderr sent to `stderr`.
    pub fn spawn_with_stderr(mut command: Command, stderr: Stdio) -> std::io::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || forward_lines(stdout, tx));
        Ok(Self {
            child,
            stdout_lines: Some(rx),
        })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Reads stdout lines until one satisfies `accept`, for at most `timeout`.
    ///
    /// Returns every line read so far, the accepted one last, or `None` on timeout or when
    /// the process closed its stdout first.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut accept: impl FnMut(&str) -> bool,
    ) -> Option<Vec<String>> {
        let rx = self.stdout_lines.as_ref()?;
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = rx.recv_timeout(left).ok()?;
            let done = accept(&line);
            lines.push(line);
            if done {
                return Some(lines);
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

fn forward_lines(stdout: impl Read, tx: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if tx.send(line).is_err() {
            break;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_on_path_and_misses_an_absent_one() {
        assert!(find_program("sh").is_some());
        assert!(find_program("definitely-not-a-real-program-7f3a").is_none());
    }

    #[test]
    fn free_port_is_bindable() {
        let port = free_tcp_port();
        assert_ne!(port, 0);
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[test]
    fn child_guard_reads_lines_and_kills_on_drop() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo one; echo two; sleep 30");
        let mut child = ChildGuard::spawn(cmd).unwrap();
        let lines = child
            .read_until(Duration::from_secs(5), |l| l == "two")
            .unwrap();
        assert_eq!(lines, ["one", "two"]);
        let pid = child.id();
        drop(child);
        assert!(
            !Path::new(&format!("/proc/{pid}/status")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .is_ok_and(|s| s.contains("State:\tZ"))
        );
    }
}
