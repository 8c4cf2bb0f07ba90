//! The request and response sides of a migration, usable without tower.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

use crate::error::CookieError;
use crate::grammar::pairs;
use crate::spec::{CookieMigration, ErrorPolicy};

/// Browsers ignore a cookie whose `Set-Cookie` line is longer (RFC 6265 §6.1).
pub const MAX_SET_COOKIE_BYTES: usize = 4096;

/// What the migration decided for one request; stored in the request extensions.
///
/// Its `Debug` output never shows a cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationOutcome {
    /// No cookie under a managed name was valid (or there was none): the inner service
    /// sees no managed cookie.
    NoValidCookie {
        /// How many cookies under managed names the request carried.
        candidates: usize,
    },
    /// Exactly one cookie under a managed name, the current one, and it is valid.
    Current,
    /// Several cookies under managed names; a current one was valid and chosen.
    DuplicatesResolved {
        /// How many cookies under managed names the request carried.
        candidates: usize,
    },
    /// No current cookie was valid; the value of a legacy one moves to the current name.
    MigratedFrom {
        /// The legacy name the value came from.
        name: Arc<str>,
        /// How many cookies under managed names the request carried.
        candidates: usize,
    },
    /// The cookies could not be processed and the policy let the request through with the
    /// managed cookies removed ([`ErrorPolicy::StripManaged`]).
    Unprocessed(CookieError),
}

/// Counters of a migration, from [`CookieMigration::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationStats {
    /// Requests with exactly one, valid, current cookie.
    pub current: u64,
    /// Requests where a current cookie was chosen among several candidates.
    pub duplicates_resolved: u64,
    /// Requests whose value moved from a legacy cookie.
    pub migrated: u64,
    /// Requests with cookies under managed names, none valid.
    pub no_valid_cookie: u64,
    /// Candidates the grammar, a transform or the validator refused.
    pub rejected_candidates: u64,
    /// Deleting `Set-Cookie` headers sent.
    pub deletions_sent: u64,
    /// Requests over the header-size cap.
    pub header_too_large: u64,
    /// Requests over the candidate cap.
    pub too_many_candidates: u64,
    /// Migrations not persisted because the `Set-Cookie` line would pass 4096 bytes
    /// (the legacy cookies are then left alone, so nothing is lost).
    pub set_cookie_too_large: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    current: AtomicU64,
    duplicates_resolved: AtomicU64,
    migrated: AtomicU64,
    no_valid_cookie: AtomicU64,
    rejected_candidates: AtomicU64,
    deletions_sent: AtomicU64,
    header_too_large: AtomicU64,
    too_many_candidates: AtomicU64,
    set_cookie_too_large: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    if by > 0 {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

/// Which managed name a cookie has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    Current,
    Legacy(usize),
}

/// The request side's decision, to be finished on the response with
/// [`process_response`](Self::process_response).
#[derive(Debug)]
#[must_use = "call `process_response` to persist the migration"]
pub struct Processed {
    outcome: MigrationOutcome,
    plan: Option<ResponsePlan>,
}

/// What the response gets: the current cookie (unless the inner service sets it) and
/// deletions. Holds the cookie value, so it is never printed.
struct ResponsePlan {
    migration: CookieMigration,
    set_current: Option<HeaderValue>,
    stale_duplicates: bool,
    /// Bit `i`: legacy generation `i` was in the request.
    legacy_seen: Vec<bool>,
}

impl std::fmt::Debug for ResponsePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsePlan")
            .field("sets_current", &self.set_current.is_some())
            .field("stale_duplicates", &self.stale_duplicates)
            .field("legacy_seen", &self.legacy_seen)
            .finish_non_exhaustive()
    }
}

impl Processed {
    /// What was decided.
    pub fn outcome(&self) -> &MigrationOutcome {
        &self.outcome
    }

    /// Adds the response side: a `Set-Cookie` for the current cookie with the chosen
    /// value, unless `headers` already set that name (the inner service wins), and one
    /// deleting `Set-Cookie` per scope of each legacy generation the request carried
    /// (skipped for a name the inner service set) and per stale scope of the current name
    /// when it came more than once.
    pub fn process_response(self, headers: &mut HeaderMap) {
        let Some(plan) = self.plan else { return };
        let spec = &plan.migration.spec;
        let sets = |name: &str| {
            headers
                .get_all(SET_COOKIE)
                .iter()
                .any(|value| set_cookie_name(value.as_bytes()) == name.as_bytes())
        };
        let set_current = plan.set_current.filter(|_| !sets(&spec.current.name));
        let mut deletions: Vec<HeaderValue> = Vec::new();
        if plan.stale_duplicates {
            deletions.extend(spec.current.stale_deletions.iter().cloned());
        }
        for (generation, _) in spec
            .legacy
            .iter()
            .zip(&plan.legacy_seen)
            .filter(|(_, seen)| **seen)
        {
            if !sets(&generation.name) {
                deletions.extend(generation.deletions.iter().cloned());
            }
        }
        bump(&spec.counters.deletions_sent, deletions.len() as u64);
        if let Some(value) = set_current {
            headers.append(SET_COOKIE, value);
        }
        for deletion in deletions {
            headers.append(SET_COOKIE, deletion);
        }
    }
}

/// The name of a `Set-Cookie` line: the bytes before the first `=`, trimmed.
fn set_cookie_name(line: &[u8]) -> &[u8] {
    let end = line
        .iter()
        .position(|&b| b == b'=' || b == b';')
        .unwrap_or(line.len());
    line[..end].trim_ascii()
}

impl CookieMigration {
    /// The request side: reads every `Cookie` header, chooses the value, and rewrites the
    /// headers so exactly the chosen value is left under the current name (and, unless
    /// [`keep_legacy_in_request`](crate::CookieMigrationBuilder::keep_legacy_in_request),
    /// no legacy name). Other cookies pass unchanged, in order.
    ///
    /// The candidates are the cookies under the current and legacy names (names matched
    /// byte for byte, never percent-decoded). They are judged in a fixed order — current
    /// name first, then legacy names in configured order, and header order within a name —
    /// and the first valid one wins, so the browser's ordering of same-name cookies only
    /// matters when two of them are valid. The work is linear in the header bytes and the
    /// validator runs at most [`max_candidates`](crate::CookieMigrationBuilder::max_candidates)
    /// times.
    ///
    /// # Errors
    /// Under [`ErrorPolicy::Reject`], a [`CookieError`] for headers over the byte cap or
    /// with too many candidates; the headers are then left unchanged. Under
    /// [`ErrorPolicy::StripManaged`] such requests lose their managed cookies and the
    /// outcome is [`MigrationOutcome::Unprocessed`].
    pub fn process_request(&self, headers: &mut HeaderMap) -> Result<Processed, CookieError> {
        let spec = &*self.spec;
        match self.choose(headers) {
            Ok(Choice::Untouched) => Ok(Processed {
                outcome: MigrationOutcome::NoValidCookie { candidates: 0 },
                plan: None,
            }),
            Ok(Choice::Decided(decision)) => Ok(self.apply(headers, decision)),
            Err(error) => {
                let counter = match error {
                    CookieError::HeaderTooLarge { .. } => &spec.counters.header_too_large,
                    CookieError::TooManyCandidates { .. } => &spec.counters.too_many_candidates,
                };
                bump(counter, 1);
                tracing::warn!(cookie = %spec.current.name, %error, policy = ?spec.on_error, "cookie migration skipped a request");
                match spec.on_error {
                    ErrorPolicy::Reject => Err(error),
                    ErrorPolicy::StripManaged => {
                        self.rewrite(headers, None);
                        Ok(Processed {
                            outcome: MigrationOutcome::Unprocessed(error),
                            plan: None,
                        })
                    }
                }
            }
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MigrationStats {
        let c = &self.spec.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MigrationStats {
            current: load(&c.current),
            duplicates_resolved: load(&c.duplicates_resolved),
            migrated: load(&c.migrated),
            no_valid_cookie: load(&c.no_valid_cookie),
            rejected_candidates: load(&c.rejected_candidates),
            deletions_sent: load(&c.deletions_sent),
            header_too_large: load(&c.header_too_large),
            too_many_candidates: load(&c.too_many_candidates),
            set_cookie_too_large: load(&c.set_cookie_too_large),
        }
    }

    fn generation(&self, name: &[u8]) -> Option<Generation> {
        let spec = &*self.spec;
        if name == spec.current.name.as_bytes() {
            return Some(Generation::Current);
        }
        spec.legacy
            .iter()
            .position(|g| g.name.as_bytes() == name)
            .map(Generation::Legacy)
    }

    /// Finds and judges the candidates without changing anything.
    fn choose(&self, headers: &HeaderMap) -> Result<Choice, CookieError> {
        let spec = &*self.spec;
        let len: usize = headers.get_all(COOKIE).iter().map(|v| v.len()).sum();
        if len > spec.max_header_bytes {
            return Err(CookieError::HeaderTooLarge {
                len,
                max: spec.max_header_bytes,
            });
        }
        let mut candidates: Vec<(Generation, &[u8])> = Vec::new();
        for header in headers.get_all(COOKIE) {
            for pair in pairs(header.as_bytes()) {
                let (Some(value), Some(generation)) = (pair.value, self.generation(pair.name))
                else {
                    continue;
                };
                if candidates.len() == spec.max_candidates {
                    return Err(CookieError::TooManyCandidates {
                        count: candidates.len() + 1,
                        max: spec.max_candidates,
                    });
                }
                candidates.push((generation, value));
            }
        }
        if candidates.is_empty() {
            return Ok(Choice::Untouched);
        }

        let mut rejected = 0;
        let mut chosen = None;
        let order = std::iter::once(Generation::Current)
            .chain((0..spec.legacy.len()).map(Generation::Legacy));
        'judging: for generation in order {
            for &(_, value) in candidates.iter().filter(|(g, _)| *g == generation) {
                match self.judge(generation, value) {
                    Some(value) => {
                        chosen = Some((generation, value.into_owned()));
                        break 'judging;
                    }
                    None => rejected += 1,
                }
            }
        }
        bump(&spec.counters.rejected_candidates, rejected);

        let mut legacy_seen = vec![false; spec.legacy.len()];
        let mut current_count = 0;
        for (generation, _) in &candidates {
            match generation {
                Generation::Current => current_count += 1,
                Generation::Legacy(index) => legacy_seen[*index] = true,
            }
        }
        Ok(Choice::Decided(Decision {
            candidates: candidates.len(),
            current_count,
            legacy_seen,
            chosen,
        }))
    }

    /// The value a candidate contributes, or `None` when it is refused.
    fn judge<'v>(&self, generation: Generation, value: &'v [u8]) -> Option<Cow<'v, str>> {
        let spec = &*self.spec;
        if !spec.grammar.accepts(value) {
            return None;
        }
        // Both grammars admit ASCII only.
        let value = std::str::from_utf8(value).ok()?;
        let value = match generation {
            Generation::Legacy(index) => match &spec.legacy[index].transform {
                Some(transform) => {
                    Cow::Owned(transform(value).filter(|v| spec.grammar.accepts(v.as_bytes()))?)
                }
                None => Cow::Borrowed(value),
            },
            Generation::Current => Cow::Borrowed(value),
        };
        match &spec.current.validator {
            Some(validator) if !validator(&value) => None,
            _ => Some(value),
        }
    }

    fn apply(&self, headers: &mut HeaderMap, decision: Decision) -> Processed {
        let spec = &*self.spec;
        let counters = &spec.counters;
        let Decision {
            candidates,
            current_count,
            legacy_seen,
            chosen,
        } = decision;
        let Some((generation, value)) = chosen else {
            bump(&counters.no_valid_cookie, 1);
            tracing::debug!(cookie = %spec.current.name, candidates, "no valid session cookie");
            self.rewrite(headers, None);
            return Processed {
                outcome: MigrationOutcome::NoValidCookie { candidates },
                plan: None,
            };
        };
        let outcome = match generation {
            Generation::Current if candidates == 1 => {
                bump(&counters.current, 1);
                return Processed {
                    outcome: MigrationOutcome::Current,
                    plan: None,
                };
            }
            Generation::Current => {
                bump(&counters.duplicates_resolved, 1);
                MigrationOutcome::DuplicatesResolved { candidates }
            }
            Generation::Legacy(index) => {
                bump(&counters.migrated, 1);
                MigrationOutcome::MigratedFrom {
                    name: spec.legacy[index].name.clone(),
                    candidates,
                }
            }
        };
        tracing::info!(cookie = %spec.current.name, outcome = ?outcome, "cookie migration");
        self.rewrite(headers, Some(&value));

        // Re-set the chosen value when it came from a legacy name, or when the current
        // name came twice (the chosen copy may sit in a scope about to be deleted).
        let stale_duplicates = current_count > 1;
        let set_current = if generation != Generation::Current || stale_duplicates {
            let line = format!("{}={value}{}", spec.current.name, spec.current.attributes);
            if line.len() > MAX_SET_COOKIE_BYTES {
                bump(&counters.set_cookie_too_large, 1);
                tracing::warn!(cookie = %spec.current.name, bytes = line.len(), "migrated cookie too large to set; legacy cookies kept");
                return Processed {
                    outcome,
                    plan: None,
                };
            }
            HeaderValue::try_from(line).ok()
        } else {
            None
        };
        Processed {
            outcome,
            plan: Some(ResponsePlan {
                migration: self.clone(),
                set_current,
                stale_duplicates,
                legacy_seen,
            }),
        }
    }

    /// Replaces the `Cookie` headers by one holding `current` (when given) and every
    /// unmanaged pair in order; legacy pairs too when configured to keep them.
    fn rewrite(&self, headers: &mut HeaderMap, current: Option<&str>) {
        let spec = &*self.spec;
        let len: usize = headers.get_all(COOKIE).iter().map(|v| v.len() + 2).sum();
        let mut joined = Vec::with_capacity(len + spec.current.name.len() + 1);
        if let Some(value) = current {
            joined.extend_from_slice(spec.current.name.as_bytes());
            joined.push(b'=');
            joined.extend_from_slice(value.as_bytes());
        }
        let mut push = |pair: &[u8]| {
            if !joined.is_empty() {
                joined.extend_from_slice(b"; ");
            }
            joined.extend_from_slice(pair);
        };
        for header in headers.get_all(COOKIE) {
            for pair in pairs(header.as_bytes()) {
                let keep = match pair.value.and_then(|_| self.generation(pair.name)) {
                    None => true,
                    Some(Generation::Current) => false,
                    Some(Generation::Legacy(_)) => spec.keep_legacy_in_request,
                };
                if keep {
                    push(pair.raw);
                }
            }
        }
        headers.remove(COOKIE);
        if !joined.is_empty() {
            // Pieces of valid header values joined by "; " form a valid header value.
            if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(joined)) {
                headers.insert(COOKIE, value);
            }
        }
    }
}

enum Choice {
    /// No cookie under a managed name: nothing to do.
    Untouched,
    Decided(Decision),
}

struct Decision {
    candidates: usize,
    current_count: usize,
    legacy_seen: Vec<bool>,
    chosen: Option<(Generation, String)>,
}
