//! Runs the `migrate-cookie-name` example and checks the figures of its report: the
//! host-only fix logs oldest-first browsers out, the migration loses no session and leaves
//! one cookie per store after one request.

mod support;

use support::Example;

/// The binary, logs at `warn`.
const EXAMPLE: Example = Example::new(env!("CARGO_BIN_EXE_migrate-cookie-name"), Some("warn"));

/// The line of `report` starting with `prefix`.
fn line<'r>(report: &'r str, prefix: &str) -> &'r str {
    report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{report}"))
}

/// Every whole number in `text`, in order (`39.2%` gives 39 and 2).
fn numbers(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

/// The number written just before the first `marker` in `text`.
fn figure(text: &str, marker: &str) -> u64 {
    let head = text
        .split(marker)
        .next()
        .filter(|head| head.len() < text.len())
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    *numbers(head).last().unwrap()
}

/// Checks every figure of a report for a population of `browsers`.
fn check_report(report: &str, browsers: u64) {
    let header = line(report, "migrate-cookie-name: ");
    assert_eq!(figure(header, " browsers on "), browsers, "{report}");
    let oldest_first = figure(header, " oldest-first");
    assert_eq!(oldest_first + figure(header, " newest-first"), browsers);

    // Before: duplicates, and oldest-first browsers read the dead session.
    let dups = figure(
        line(report, "before  THEBASE host-only fix: "),
        " stores now hold two",
    );
    assert!(dups > 0, "some stores hold two THEBASE cookies:\n{report}");
    let before = numbers(line(report, "before  next request: "));
    let (lost, of) = (before[0], before[1]);
    assert_eq!(of, oldest_first, "{report}");
    assert!(
        lost > 0,
        "the host-only fix logs oldest-first browsers out:\n{report}"
    );
    assert!(
        lost <= dups,
        "only browsers with duplicates are hit:\n{report}"
    );
    assert_eq!(
        *before.last().unwrap(),
        0,
        "newest-first browsers keep their session"
    );

    // After: every session kept, nothing left to clean up.
    let after = line(report, "after   next request: ");
    let kept = numbers(after);
    assert_eq!((kept[0], kept[1]), (browsers, browsers), "{report}");
    assert!(after.contains(" 0 lost, 0 logged out"), "{report}");
    let stores = line(
        report,
        "after   0 stores with duplicate cookies, 0 THEBASE cookies left",
    );
    let figures = numbers(stores);
    let (deletions, counted) = (figures[figures.len() - 2], figures[figures.len() - 1]);
    assert!(deletions > 0, "{report}");
    assert_eq!(
        deletions, counted,
        "the layer's counter matches what browsers received"
    );
    assert!(
        line(report, "after   second request: ").contains(": 0 Set-Cookie lines, 0 sessions lost"),
        "{report}"
    );
    assert!(report.contains("result: FIXED"), "{report}");
}

#[test]
fn a_thousand_browsers_keep_their_sessions_through_the_rename() {
    let report = support::succeeded(&EXAMPLE.run(&[]));
    check_report(&report, 1000);
    support::assert_fits(&report);
}

#[test]
fn another_population_gives_the_same_verdict() {
    let report = support::succeeded(&EXAMPLE.run(&["--browsers", "300", "--seed=42"]));
    check_report(&report, 300);
}

#[test]
fn help_and_bad_arguments() {
    assert!(
        EXAMPLE
            .help("--help")
            .starts_with("usage: migrate-cookie-name")
    );
    for bad in [&["--bogus"][..], &["--browsers", "0"], &["--seed"]] {
        let output = EXAMPLE.assert_usage_error(bad, None);
        assert!(output.stdout.is_empty(), "{bad:?}");
    }
}
