//! The `gateway` binary run by the tests (`gateway.rs`, `gateway_load.rs`): started on
//! free loopback ports, its banner read, killed (by its id) and reaped when dropped.
//! Included with `#[path = "support/gateway.rs"] mod gateway_support;`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The running gateway, killed (by its id) and reaped when dropped, like
/// `testkit::ChildGuard` — but keeping the `Child` so a test can read its exit status.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) https: SocketAddr,
    pub(crate) turn: SocketAddr,
    pub(crate) banner: Vec<String>,
    /// Everything written on stderr so far, when [`Gateway::start_capturing_stderr`]
    /// started it (else it goes to the test's stderr and this stays empty).
    stderr: Arc<Mutex<String>>,
}

impl Gateway {
    /// Starts the gateway on port 0 for HTTPS and TURN with `args` after them, and reads
    /// its banner up to the `turnutils_uclient` command. Its stderr is the test's.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_with(args, false)
    }

    /// As [`start`](Self::start), keeping what it writes on stderr for
    /// [`stderr`](Self::stderr).
    pub(crate) fn start_capturing_stderr(args: &[&str]) -> Self {
        Self::start_with(args, true)
    }

    fn start_with(args: &[&str], capture_stderr: bool) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        command
            .args(["--https", "127.0.0.1:0", "--turn", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("TWILIO_AUTH_TOKEN");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("start the gateway");
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let stderr = Arc::clone(&stderr);
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut text = stderr.lock().unwrap_or_else(PoisonError::into_inner);
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut banner = Vec::new();
        while !banner
            .last()
            .is_some_and(|l: &String| l.trim_start().starts_with("turnutils_uclient "))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => banner.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("no banner ending with a turnutils_uclient command: {banner:?}");
                }
            }
        }
        let first = &banner[0];
        let rest = first
            .strip_prefix("gateway listening on https://")
            .unwrap_or_else(|| panic!("machine-readable first line: {first}"));
        let (https, turn) = rest.split_once(" turn udp://").expect("both addresses");
        let https: SocketAddr = https.parse().expect("an HTTPS address");
        let turn: SocketAddr = turn.parse().expect("a TURN address");
        assert_ne!(https.port(), 0, "the banner shows the real port");
        assert_ne!(turn.port(), 0, "the banner shows the real port");
        Self {
            child,
            https,
            turn,
            banner,
            stderr,
        }
    }

    /// The banner's command line starting with `prefix` (after the indentation).
    pub(crate) fn command(&self, prefix: &str) -> Vec<String> {
        self.banner
            .iter()
            .map(|line| line.trim().to_owned())
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// Waits up to `timeout` for the process to exit.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for the gateway") {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What it wrote on stderr so far (see [`start_capturing_stderr`](Self::start_capturing_stderr)).
    pub(crate) fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Its resident set size (`VmRSS` in `/proc/<pid>/status`), in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in:\n{status}"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
