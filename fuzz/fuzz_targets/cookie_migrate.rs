//! Cookie header parsing and migration: `CookieMigration::process_request` over arbitrary
//! `Cookie` headers (several, as HTTP/2 sends them), then `Processed::process_response`.
//!
//! Input: `flags (1 byte)`, then one `Cookie` header per line (lines that are not valid
//! header values are skipped). Flags: bit 0 `ErrorPolicy::StripManaged` (else `Reject`),
//! bit 1 `keep_legacy_in_request`, bit 2 the inner service sets `__Host-sid` itself, bit 3
//! a small byte cap (256) and candidate cap (4).
//!
//! The migration: current `__Host-sid`, legacy `sid` (two scopes) then `SESSION`; values
//! starting with `live-` are valid.
//!
//! Invariants beyond "never panics":
//! - `Reject` errors leave the headers untouched;
//! - afterwards at most one cookie is under the current name, and it is valid; none is under
//!   a legacy name unless they are kept;
//! - the outcome agrees with the headers (a chosen cookie is there, none when nothing was);
//! - cookies under other names keep their order;
//! - the response sets the current name again only when a legacy value moved or the current
//!   name came twice (and the inner service did not set it), always when a legacy value
//!   moved, and every `Set-Cookie` names a managed cookie.

#![no_main]

use cookie_migrate::{CookieMigration, ErrorPolicy, Legacy, MigrationOutcome, Scope};
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use toolkit_fuzz::lines;

const CURRENT: &[u8] = b"__Host-sid";
const LEGACY: [&[u8]; 2] = [b"sid", b"SESSION"];

type Pair = (Vec<u8>, Option<Vec<u8>>);

fn migration(flags: u8) -> CookieMigration {
    let mut builder = CookieMigration::builder("__Host-sid")
        .validator(|value: &str| value.starts_with("live-"))
        .legacy(
            Legacy::named("sid")
                .scope(Scope::domain("base.example"))
                .scope(Scope::host_only()),
        )
        .legacy(Legacy::named("SESSION").scope(Scope::host_only()))
        .keep_legacy_in_request(flags & 2 != 0)
        .on_error(if flags & 1 != 0 {
            ErrorPolicy::StripManaged
        } else {
            ErrorPolicy::Reject
        });
    if flags & 8 != 0 {
        builder = builder.max_header_bytes(256).max_candidates(4);
    }
    builder.build().expect("a valid migration")
}

/// `(name, value)` of every pair, split as browsers send them (`; `), trimmed.
fn pairs(headers: &HeaderMap) -> Vec<Pair> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .map(<[u8]>::trim_ascii)
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|&b| b == b'=') {
            Some(i) => (
                p[..i].trim_ascii().to_vec(),
                Some(p[i + 1..].trim_ascii().to_vec()),
            ),
            // RFC 6265bis: a pair without `=` is a cookie with an empty name.
            None => (Vec::new(), Some(p.to_vec())),
        })
        .collect()
}

fn managed(name: &[u8]) -> bool {
    name == CURRENT || LEGACY.contains(&name)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let migration = migration(flags);
    let mut headers = HeaderMap::new();
    for line in lines(rest) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(COOKIE, value);
        }
    }
    let before = headers.clone();
    let pairs_before = pairs(&before);
    let unmanaged_before: Vec<&Pair> = pairs_before.iter().filter(|(n, _)| !managed(n)).collect();
    let current_before = pairs_before.iter().filter(|(n, _)| n == CURRENT).count();

    let processed = match migration.process_request(&mut headers) {
        Ok(processed) => processed,
        Err(error) => {
            assert_eq!(headers, before, "a rejected request's headers changed");
            let _ = error.status();
            return;
        }
    };

    let after = pairs(&headers);
    let current: Vec<&Pair> = after.iter().filter(|(n, _)| n == CURRENT).collect();
    assert!(current.len() <= 1, "{} current cookies left", current.len());
    if let Some((_, value)) = current.first() {
        let value = value.as_deref().unwrap_or_default();
        assert!(
            value.starts_with(b"live-"),
            "an invalid current cookie was kept"
        );
    }
    if flags & 2 == 0 {
        assert!(after.iter().all(|(n, _)| !LEGACY.contains(&n.as_slice())));
    }
    let unmanaged_after: Vec<&Pair> = after.iter().filter(|(n, _)| !managed(n)).collect();
    assert_eq!(
        unmanaged_after, unmanaged_before,
        "an unmanaged cookie was lost or moved"
    );

    let outcome = processed.outcome().clone();
    let chosen = matches!(
        outcome,
        MigrationOutcome::Current
            | MigrationOutcome::DuplicatesResolved { .. }
            | MigrationOutcome::MigratedFrom { .. }
    );
    assert_eq!(
        chosen,
        current.len() == 1,
        "outcome {outcome:?} vs the headers"
    );
    let short = current
        .first()
        .is_some_and(|(_, v)| v.as_ref().map_or(0, Vec::len) < 1024);

    let mut response = HeaderMap::new();
    if flags & 4 != 0 {
        response.append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-sid=app; Path=/"),
        );
    }
    let preset = response.len();
    processed.process_response(&mut response);
    let set: Vec<&[u8]> = response
        .get_all(SET_COOKIE)
        .iter()
        .skip(preset)
        .map(HeaderValue::as_bytes)
        .collect();
    for line in &set {
        let name = line.split(|&b| b == b'=').next().unwrap_or_default();
        assert!(managed(name), "Set-Cookie for an unmanaged name");
    }
    let sets_current = set
        .iter()
        .filter(|line| line.starts_with(b"__Host-sid=live-"))
        .count();
    let migrated = matches!(outcome, MigrationOutcome::MigratedFrom { .. });
    let may_set = flags & 4 == 0 && (migrated || (chosen && current_before > 1));
    assert!(
        sets_current <= usize::from(may_set),
        "unexpected Set-Cookie for the current name"
    );
    if migrated && flags & 4 == 0 && short {
        assert_eq!(
            sets_current, 1,
            "a migrated value was not set under the current name"
        );
    }
});
