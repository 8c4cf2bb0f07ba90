//! `Domain` attribute values a migration may emit: never a public suffix, an IP address or
//! a bare top-level label.

use std::net::IpAddr;

use crate::error::DomainError;

/// Checks a configured `Domain` and returns it normalised (lower case, no leading dot).
///
/// Refused: empty or malformed host names, IP addresses (a Domain cookie cannot be scoped to
/// an address), single labels such as `shop` or `localhost` (a bare TLD), and names the
/// Public Suffix List (compiled in by the `psl` crate) lists as public suffixes, ICANN or
/// private — such as `base.shop` since BASE's 2021 PSL entry. A browser with that list
/// ignores every `Set-Cookie` carrying such a Domain, deletions included.
pub(crate) fn check_domain(domain: &str) -> Result<String, DomainError> {
    let normalised = domain
        .strip_prefix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    let reason = if normalised
        .trim_matches(['[', ']'])
        .parse::<IpAddr>()
        .is_ok()
    {
        Some(DomainError::IpAddress)
    } else if !is_host_name(&normalised) {
        Some(DomainError::Malformed)
    } else if !normalised.contains('.') {
        Some(DomainError::TopLevel)
    } else if is_public_suffix(&normalised) {
        Some(DomainError::PublicSuffix)
    } else {
        None
    };
    match reason {
        Some(reason) => Err(reason),
        None => Ok(normalised),
    }
}

/// Whether the list names `domain` itself as a public suffix (explicitly, or through a
/// wildcard rule such as `*.ck`). Unknown TLDs fall under the list's implicit `*` rule,
/// which is not a listing: `base.localhost` is an ordinary domain.
fn is_public_suffix(domain: &str) -> bool {
    psl::suffix(domain.as_bytes())
        .is_some_and(|suffix| suffix.is_known() && suffix.as_bytes() == domain.as_bytes())
}

/// Letters, digits and inner hyphens in dot-separated labels of 1 to 63 bytes, at most 253
/// bytes in all (RFC 1035 §2.3.4, with RFC 1123's leading digits).
fn is_host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_domains_pass_normalised() {
        assert_eq!(check_domain("example.com").unwrap(), "example.com");
        assert_eq!(check_domain(".Shop1.Base.Shop").unwrap(), "shop1.base.shop");
        assert_eq!(check_domain("base.localhost").unwrap(), "base.localhost");
        assert_eq!(
            check_domain("foo.example.test").unwrap(),
            "foo.example.test"
        );
    }

    #[test]
    fn the_incident_domain_is_refused() {
        assert_eq!(check_domain("base.shop"), Err(DomainError::PublicSuffix));
        assert_eq!(check_domain(".BASE.shop"), Err(DomainError::PublicSuffix));
    }

    #[test]
    fn public_suffixes_of_every_kind_are_refused() {
        for domain in ["co.uk", "github.io", "com.au", "s3.amazonaws.com", "foo.ck"] {
            assert_eq!(
                check_domain(domain),
                Err(DomainError::PublicSuffix),
                "{domain}"
            );
        }
        // One label below a suffix is a registrable domain.
        assert!(check_domain("example.co.uk").is_ok());
        assert!(check_domain("user.github.io").is_ok());
    }

    #[test]
    fn addresses_bare_labels_and_garbage_are_refused() {
        for (domain, error) in [
            ("127.0.0.1", DomainError::IpAddress),
            ("::1", DomainError::IpAddress),
            ("[::1]", DomainError::IpAddress),
            ("com", DomainError::TopLevel),
            ("localhost", DomainError::TopLevel),
            ("", DomainError::Malformed),
            (".", DomainError::Malformed),
            ("a..b", DomainError::Malformed),
            ("-a.com", DomainError::Malformed),
            ("a_b.com", DomainError::Malformed),
            ("exa mple.com", DomainError::Malformed),
            ("base.shop;", DomainError::Malformed),
            ("bücher.de", DomainError::Malformed),
        ] {
            assert_eq!(check_domain(domain), Err(error), "{domain:?}");
        }
        assert_eq!(
            check_domain(&format!("{}.com", "a".repeat(64))),
            Err(DomainError::Malformed)
        );
    }
}
