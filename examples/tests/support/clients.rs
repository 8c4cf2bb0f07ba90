//! Runs a client program (curl, `openssl s_client`, `turnutils_uclient`, a banner's
//! command line through `sh -c`) with a time bound, and collects what it printed, for the
//! tests that drive an example with real clients (`gateway.rs`, `turn_server.rs`,
//! `tls_instances.rs`). Included with `#[path = "support/clients.rs"] mod clients;`.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `program` with `args` (stdin empty), killing it after `timeout`; returns its exit
/// status and everything it wrote (stdout, then stderr).
///
/// # Panics
///
/// When the program cannot be started or runs longer than `timeout`.
pub(crate) fn run_bounded(
    program: impl AsRef<OsStr>,
    args: &[impl AsRef<OsStr>],
    timeout: Duration,
) -> (ExitStatus, String) {
    let program = Path::new(program.as_ref());
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let args: Vec<_> = args.iter().map(AsRef::as_ref).collect();
    collect(child, &format!("{} {args:?}", program.display()), timeout)
}

/// Waits for `child` (started with stdout and stderr piped) for at most `timeout`, reading
/// both meanwhile; returns its exit status and stdout then stderr.
///
/// # Panics
///
/// When it runs longer than `timeout` (it is killed and reaped first); `what` names it.
pub(crate) fn collect(mut child: Child, what: &str, timeout: Duration) -> (ExitStatus, String) {
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} ran longer than {timeout:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    (status, out.join().unwrap() + &err.join().unwrap())
}
