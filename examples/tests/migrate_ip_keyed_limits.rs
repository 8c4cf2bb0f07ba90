//! Runs the `migrate-ip-keyed-limits` example and checks its before/after report: the
//! incident's self-referencing keyer refused with the cycle named, NAT users limited when
//! keyed by IP and not at all when keyed by validated cookie first, and a cookie-less
//! flood from the same address still limited.

mod support;

use std::time::Duration;

use support::Example;

/// The binary.
const EXAMPLE: Example = Example::new(env!("CARGO_BIN_EXE_migrate-ip-keyed-limits"), None);

/// The number right after `prefix` in `line` (`"... 2982 of 3000"` with `prefix` `"users: "`).
fn number_after(line: &str, prefix: &str) -> usize {
    let start = line
        .find(prefix)
        .unwrap_or_else(|| panic!("`{prefix}` in {line:?}"))
        + prefix.len();
    line[start..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after `{prefix}` in {line:?}"))
}

/// The line of section `section` (`(b)`, `(c)`) starting with `label` once trimmed.
fn line_in<'a>(stdout: &'a str, section: &str, label: &str) -> &'a str {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with(section))
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in section {section}:\n{stdout}"))
}

#[test]
fn report_shows_the_cycle_the_nat_case_and_the_fix() {
    let (output, elapsed) = EXAMPLE.timed(&[]);
    let stdout = support::succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    support::assert_fits(&stdout);
    assert!(
        !stderr.contains("rate limited"),
        "the 429s' info events stay off without RUST_LOG:\n{stderr}"
    );

    // (a) The loader names the whole cycle: the rule, its "parent", the rule again.
    let cycle = line_in(&stdout, "(a)", "refused at load:");
    assert!(
        cycle.ends_with("keyer fallbacks form a cycle: ddos-rule -> parent -> ddos-rule"),
        "{cycle}"
    );

    // (b) Keyed by IP: the NAT users share one bucket of 20.
    let users = line_in(&stdout, "(b)", "NAT users:");
    let limited_before = number_after(users, "NAT users:");
    assert_eq!(number_after(users, "of "), 3000, "{users}");
    assert!(
        limited_before >= 3000 - 40,
        "nearly all of 3000 requests limited: {users}"
    );
    assert!(number_after(users, "429; ") > 900, "{users}");

    // (c) Keyed by validated cookie first: no NAT user limited, the flood still is.
    let users = line_in(&stdout, "(c)", "NAT users:");
    assert_eq!(number_after(users, "NAT users:"), 0, "{users}");
    assert_eq!(number_after(users, "429; "), 0, "{users}");
    let flood = line_in(&stdout, "(c)", "flood:");
    let flood_limited = number_after(flood, "flood:");
    assert!(
        flood_limited >= 500 - 40,
        "the flood from the NAT address is one key with a burst of 20: {flood}"
    );
    assert!(!flood.contains("unexpected"), "{flood}");

    let result = stdout.lines().last().unwrap_or_default();
    assert!(result.starts_with("result: fixed"), "{result}");
    assert!(
        result.contains(&format!("from {limited_before} to 0")),
        "{result}"
    );
}

#[test]
fn flags_scale_the_traffic() {
    let args = ["--users", "50", "--requests=2", "--flood", "100"];
    let stdout = support::succeeded(&EXAMPLE.run(&args));
    let users = line_in(&stdout, "(c)", "NAT users:");
    assert!(users.contains("0 of 100 requests got 429"), "{users}");
    assert!(users.contains("0 of 50 users"), "{users}");
}

#[test]
fn help_exits_0_and_bad_arguments_exit_2_naming_the_flag() {
    assert!(
        EXAMPLE
            .help("--help")
            .starts_with("usage: migrate-ip-keyed-limits")
    );

    let cases: &[(&[&str], &str)] = &[
        (&["--verbose"], "--verbose"),
        (&["--users"], "--users"),
        (&["--users", "0"], "--users"),
        (&["--requests", "21"], "--requests"),
        (&["--flood", "many"], "--flood"),
        (&["--users", "5", "--users", "6"], "--users"),
    ];
    for (args, flag) in cases {
        let output = EXAMPLE.assert_usage_error(args, Some(flag));
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}
