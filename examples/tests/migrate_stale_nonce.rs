//! Runs the `migrate-stale-nonce` example: under `NoncePolicy::Strict` (coturn's
//! `stale-nonce=600`) a client that ignores `438` loses its relay at 1100 s; under
//! `AllocationBound` it, and a compliant client, are alive at the end of the call.

mod support;

use support::Example;

/// The binary, logs at `warn`.
const EXAMPLE: Example = Example::new(env!("CARGO_BIN_EXE_migrate-stale-nonce"), Some("warn"));

/// The line for `policy` and `client`.
fn row<'r>(report: &'r str, policy: &str, client: &str) -> &'r str {
    report
        .lines()
        .find(|l| l.contains(policy) && l.contains(client))
        .unwrap_or_else(|| panic!("no {policy} / {client} row in:\n{report}"))
}

/// The second at which the relay dropped, if it did.
fn dropped_at(row: &str) -> Option<u64> {
    let rest = row.split("DROPPED at ").nth(1)?;
    Some(rest.split_whitespace().next()?.parse().unwrap())
}

#[test]
fn strict_drops_the_ignoring_client_at_1100_s_and_allocation_bound_does_not() {
    let report = support::succeeded(&EXAMPLE.run(&[]));

    // The allocation was last refreshed at 500 s with a 600 s lifetime, so it ends at
    // 1100 s. The simulation steps one second at a time (nonce issue times and the clock
    // have millisecond resolution), so the drop is seen at 1100 s, ±1 s for the step.
    let strict = row(&report, "Strict", "ignores 438");
    let second = dropped_at(strict).unwrap_or_else(|| panic!("no drop under Strict:\n{report}"));
    assert!(
        second.abs_diff(1100) <= 1,
        "dropped at {second} s:\n{report}"
    );
    assert!(strict.contains("last Refresh OK at  500 s"), "{report}");
    assert!(strict.contains("never recovered 1"), "{report}");

    assert_eq!(
        dropped_at(row(&report, "Strict", "compliant")),
        None,
        "{report}"
    );
    for client in ["ignores 438", "compliant"] {
        let bound = row(&report, "AllocationBound", client);
        assert!(bound.contains("alive after 3600 s"), "{report}");
        assert!(bound.contains("438 sent 0"), "{report}");
    }
    assert!(report.contains("result: FIXED"), "{report}");
    support::assert_fits(&report);
}

#[test]
fn help_and_bad_arguments() {
    EXAMPLE.help("--help");
    EXAMPLE.assert_usage_error(&["--policy", "strict"], None);
}
