//! Runs the `migrate-webhook-url` example: a correctly signed Twilio request over real
//! loopback HTTP is refused (403) by the hand-rolled check of the rebuilt URL and accepted
//! (200) by `TwilioSignatureLayer`; a forged one is refused by both.

mod support;

use support::Example;

/// The binary, logs at `warn`.
const EXAMPLE: Example = Example::new(env!("CARGO_BIN_EXE_migrate-webhook-url"), Some("warn"));

/// The (signed, forged) statuses on the line after the one starting with `side`.
fn statuses(report: &str, side: &str) -> (u16, u16) {
    let mut lines = report.lines().skip_while(|l| !l.starts_with(side));
    assert!(lines.next().is_some(), "no {side:?} section in:\n{report}");
    let figures = lines.next().expect("a status line");
    let status = |label: &str| -> u16 {
        let rest = figures.split(label).nth(1).expect(label);
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (status("signed request: "), status("forged request: "))
}

#[test]
fn signed_webhook_is_refused_before_and_accepted_after() {
    let report = support::succeeded(&EXAMPLE.run(&[]));
    assert_eq!(statuses(&report, "before"), (403, 403), "{report}");
    assert_eq!(statuses(&report, "after"), (200, 403), "{report}");
    // The hand-rolled check hashed the rebuilt URL, not the one Twilio signed.
    assert!(
        report.contains(
            "rebuilt URL http://ivr.example.com/voice/next (differs in: scheme, trailing slash)"
        ),
        "{report}"
    );
    assert!(report.contains("result: FIXED"), "{report}");
    support::assert_fits(&report);
}

#[test]
fn help_and_bad_arguments() {
    EXAMPLE.help("-h");
    EXAMPLE.assert_usage_error(&["--port", "1"], None);
}
