//! Property tests: the browser's order never changes the value the inner service sees, and
//! no unmanaged cookie is ever lost, whatever the bytes.

use cookie_migrate::{CookieMigration, ErrorPolicy, Legacy, Scope};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

/// Current `__Host-sid`, legacy `sid` (two scopes) then `SESSION`; values starting with
/// `live-` are valid.
fn migration() -> CookieMigration {
    CookieMigration::builder("__Host-sid")
        .validator(|value: &str| value.starts_with("live-"))
        .legacy(
            Legacy::named("sid")
                .scope(Scope::domain("base.localhost"))
                .scope(Scope::host_only()),
        )
        .legacy(Legacy::named("SESSION").scope(Scope::host_only()))
        .max_header_bytes(64 * 1024)
        .on_error(ErrorPolicy::StripManaged)
        .build()
        .unwrap()
}

/// Splits `pairs` into `Cookie` headers at the given cut points (HTTP/2 may send several).
fn headers(pairs: &[String], cuts: &[usize]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (pairs.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(pairs.len());
    for cut in cuts {
        if cut > start {
            let value = pairs[start..cut].join("; ");
            headers.append(COOKIE, HeaderValue::from_str(&value).unwrap());
            start = cut;
        }
    }
    headers
}

fn cookie_header(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .map(|v| String::from_utf8(v.as_bytes().to_vec()).unwrap())
        .collect()
}

/// The pairs of `header` that are not under a managed name, in order.
fn unmanaged(header: &[u8]) -> Vec<Vec<u8>> {
    header
        .split(|&b| b == b';')
        .map(|piece| piece.trim_ascii().to_vec())
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair
                .split(|&b| b == b'=')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            let managed = [&b"__Host-sid"[..], b"sid", b"SESSION"].contains(&name);
            !(managed && pair.contains(&b'='))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A request holding the current cookie, legacy cookies, wrong-scoped duplicates
    /// (stale values under each name) and unrelated cookies: for every permutation and
    /// every split into headers, the inner service sees one cookie under the current name
    /// with the value the priority rules pick, then the unrelated cookies in their order.
    #[test]
    fn every_permutation_gives_the_same_single_value(
        current_valid in any::<bool>(),
        sid_valid in any::<bool>(),
        session_valid in any::<bool>(),
        stale in proptest::collection::vec((0..3usize, "[a-z0-9]{1,8}"), 0..6),
        others in proptest::collection::vec("[a-z]{1,6}=[a-z0-9]{0,6}", 0..6),
        seed in any::<u64>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..3),
    ) {
        let names = ["__Host-sid", "sid", "SESSION"];
        let mut pairs: Vec<String> = Vec::new();
        for (index, valid) in [current_valid, sid_valid, session_valid].into_iter().enumerate() {
            if valid {
                pairs.push(format!("{}=live-{index}", names[index]));
            }
        }
        pairs.extend(stale.iter().map(|(index, value)| format!("{}=stale-{value}", names[*index])));
        // Unrelated cookies must not reuse a managed name.
        let others: Vec<String> = others.into_iter().filter(|o| !o.starts_with("sid=")).collect();
        pairs.extend(others.iter().cloned());

        // A deterministic shuffle from the seed (Fisher-Yates over a splitmix sequence).
        let mut state = seed;
        for i in (1..pairs.len()).rev() {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            pairs.swap(i, (z ^ (z >> 31)) as usize % (i + 1));
        }
        let order_of_others: Vec<&String> = pairs.iter().filter(|p| others.contains(p)).collect();

        let expected = [current_valid, sid_valid, session_valid]
            .iter()
            .position(|valid| *valid)
            .map(|index| format!("__Host-sid=live-{index}"));
        let mut want: Vec<String> = expected.into_iter().collect();
        want.extend(order_of_others.into_iter().cloned());

        let mut headers = headers(&pairs, &cuts);
        let processed = migration().process_request(&mut headers).unwrap();
        let managed = pairs.len() - others.len();
        if managed == 0 || (managed == 1 && current_valid) {
            // Nothing to change: the headers stay as they were split.
            prop_assert_eq!(cookie_header(&headers).join("; "), pairs.join("; "));
        } else if want.is_empty() {
            prop_assert!(headers.get(COOKIE).is_none());
        } else {
            prop_assert_eq!(cookie_header(&headers), vec![want.join("; ")]);
        }
        drop(processed);
    }

    /// Arbitrary header bytes: processing never panics, and every unmanaged pair reaches
    /// the inner service unchanged and in order.
    #[test]
    fn unmanaged_cookies_survive_any_bytes(
        bytes in proptest::collection::vec(
            prop_oneof![
                4 => proptest::sample::select(b"sSiIdD_-=; \tH".to_vec()),
                1 => 0x20u8..0x7F,
                1 => 0x80u8..=0xFF,
            ],
            0..300,
        ),
    ) {
        let Ok(value) = HeaderValue::from_bytes(&bytes) else { return Ok(()) };
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, value);
        let mut prefixed = migration();
        for _ in 0..2 {
            let mut headers = headers.clone();
            let result = prefixed.process_request(&mut headers);
            prop_assert!(result.is_ok(), "StripManaged never rejects");
            let after = headers.get(COOKIE).map(|v| v.as_bytes().to_vec()).unwrap_or_default();
            prop_assert_eq!(unmanaged(&after), unmanaged(&bytes));
            // The same property with a Strict grammar and the default caps.
            prefixed = CookieMigration::builder("__Host-sid")
                .legacy(Legacy::named("sid").scope(Scope::host_only()))
                .legacy(Legacy::named("SESSION").scope(Scope::host_only()))
                .build()
                .unwrap();
        }
    }
}
