//! Runs the `migrate-shared-resumption` example (3 TLS instances on loopback and a real
//! rustls client) and checks its before/after report.
//!
//! Before, each instance keeps its own sessions and no ticket keys are shared: the client
//! always offers the session of its previous connection, so exactly the reconnects that
//! land on the previous connection's instance resume (about 1/3, below 1/2 for the default
//! seed). After, the sessions live in one shared tier and the ticket keys derive from one
//! fleet secret, so every instance can resume every session: with an in-memory tier of
//! 100 000 sessions and 60 connections nothing is evicted and nothing times out, and every
//! reconnect resumes (100 %, not merely "most"); only the first connection cannot.

mod support;

use std::time::Duration;

use support::Example;

/// The binary.
const EXAMPLE: Example = Example::new(env!("CARGO_BIN_EXE_migrate-shared-resumption"), None);

/// `(resumed, reconnects)` of a row line: `  TLS 1.3, … resumed  18/59 reconnects ( 30.5%)`.
fn resumed(line: &str) -> (usize, usize) {
    let rest = &line[line.find("resumed").unwrap_or_else(|| panic!("{line}")) + 7..];
    let (resumed, rest) = rest.trim_start().split_once('/').expect("n/m");
    let reconnects = rest.split_whitespace().next().expect("m");
    (resumed.parse().unwrap(), reconnects.parse().unwrap())
}

/// The three client rows of the side whose header starts with `side`.
fn rows<'a>(stdout: &'a str, side: &str) -> Vec<&'a str> {
    let rows: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with(side))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(rows.len(), 3, "three clients on side `{side}`:\n{stdout}");
    rows
}

#[test]
fn resumption_goes_from_same_instance_only_to_every_reconnect() {
    let (output, elapsed) = EXAMPLE.timed(&[]);
    let stdout = support::succeeded(&output);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    support::assert_fits(&stdout);

    // How many reconnects return to the previous connection's instance.
    let same_line = stdout
        .lines()
        .find(|l| l.contains("land on the instance of the previous connection"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let same: usize = same_line
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let before = rows(&stdout, "before:");
    for (line, label) in before.iter().zip(["TLS 1.3", "TLS 1.2", "TLS 1.2"]) {
        assert!(line.trim_start().starts_with(label), "{line}");
        let (resumed, reconnects) = resumed(line);
        assert_eq!(reconnects, 59, "{line}");
        assert_eq!(
            resumed, same,
            "without shared state exactly the same-instance reconnects resume: {line}"
        );
        assert!(2 * resumed < reconnects, "below 50 %: {line}");
    }

    let after = rows(&stdout, "after (tls-resume, mode both)");
    for line in after {
        let (resumed, reconnects) = resumed(line);
        assert_eq!(
            (resumed, reconnects),
            (59, 59),
            "every reconnect resumes: {line}"
        );
        assert!(line.ends_with("(100.0%)"), "{line}");
    }
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("result: fixed"),
        "{stdout}"
    );
}

#[test]
fn cache_mode_alone_resumes_every_reconnect_too() {
    let args = ["--after", "cache", "--connections", "20", "--seed", "9"];
    let stdout = support::succeeded(&EXAMPLE.run(&args));
    for line in rows(&stdout, "after (tls-resume, mode cache)") {
        assert_eq!(resumed(line), (19, 19), "{line}");
    }
}

#[test]
fn tickets_alone_leave_session_id_clients_unresumed_and_exit_1() {
    let output = EXAMPLE.run(&["--after", "tickets", "--connections", "20"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let after = rows(&stdout, "after (tls-resume, mode tickets)");
    assert_eq!(resumed(after[0]), (19, 19), "TLS 1.3 tickets: {}", after[0]);
    assert_eq!(resumed(after[1]), (19, 19), "TLS 1.2 tickets: {}", after[1]);
    assert_eq!(resumed(after[2]), (0, 19), "session ids: {}", after[2]);
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or_default()
            .starts_with("result: NOT fixed"),
        "{stdout}"
    );
}

#[test]
fn help_exits_0_and_bad_arguments_exit_2_naming_the_flag() {
    assert!(
        EXAMPLE
            .help("--help")
            .starts_with("usage: migrate-shared-resumption")
    );

    let cases: &[(&[&str], &str)] = &[
        (&["--verbose"], "--verbose"),
        (&["--connections", "1"], "--connections"),
        (&["--seed", "-3"], "--seed"),
        (&["--after", "none"], "--after"),
        (&["--after"], "--after"),
    ];
    for (args, flag) in cases {
        let output = EXAMPLE.assert_usage_error(args, Some(flag));
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
