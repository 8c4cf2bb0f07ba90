//! What the tests of the migration examples (`migrate_*.rs`) share: running an example's
//! binary, and the checks every example's command line and report must pass (exit 0 with
//! a report of at most [`MAX_REPORT_LINES`] lines, `--help` exiting 0, bad arguments
//! exiting 2).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The most lines a migration example's report may have.
pub(crate) const MAX_REPORT_LINES: usize = 25;

/// One migration example's binary, and how its tests run it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Example {
    /// The binary: `env!("CARGO_BIN_EXE_<name>")`.
    exe: &'static str,
    /// `RUST_LOG` for its runs; `None` leaves the test's environment alone.
    rust_log: Option<&'static str>,
}

impl Example {
    /// The binary at `exe`, run with `RUST_LOG=<rust_log>` when given.
    pub(crate) const fn new(exe: &'static str, rust_log: Option<&'static str>) -> Self {
        Self { exe, rust_log }
    }

    /// The binary's name (`migrate-cookie-name`), as it names itself in its messages.
    fn name(&self) -> &'static str {
        Path::new(self.exe)
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or(self.exe)
    }

    /// Runs the binary with `args` to the end; returns what it wrote and how long it took.
    pub(crate) fn timed(&self, args: &[&str]) -> (Output, Duration) {
        let mut command = Command::new(self.exe);
        command.args(args);
        if let Some(level) = self.rust_log {
            command.env("RUST_LOG", level);
        }
        let start = Instant::now();
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.name()));
        (output, start.elapsed())
    }

    /// Runs the binary with `args` to the end.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.timed(args).0
    }

    /// Runs the binary with `help` (`--help` or `-h`), checks it exits 0 and returns what
    /// it printed.
    pub(crate) fn help(&self, help: &str) -> String {
        let output = self.run(&[help]);
        assert_eq!(output.status.code(), Some(0), "{help}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Runs the binary with `args`, a bad command line, and checks it exits 2 and, with a
    /// `flag`, that its message starts with `<name>: <flag>: `; returns its output.
    pub(crate) fn assert_usage_error(&self, args: &[&str], flag: Option<&str>) -> Output {
        let output = self.run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        if let Some(flag) = flag {
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.starts_with(&format!("{}: {flag}: ", self.name())),
                "{args:?}: {stderr}"
            );
        }
        output
    }
}

/// Checks that a run exited 0 (showing stdout and stderr if not) and returns its stdout,
/// the report.
pub(crate) fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("the report is UTF-8")
}

/// Checks that `report` has at most [`MAX_REPORT_LINES`] lines.
pub(crate) fn assert_fits(report: &str) {
    assert!(report.lines().count() <= MAX_REPORT_LINES, "{report}");
}
