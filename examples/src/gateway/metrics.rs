//! `/metrics`: the counters of every crate in the gateway, in the Prometheus text format.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cookie_migrate::CookieMigration;
use http::StatusCode;
use ratelimit::cookie::ValidateCookieLayer;
use ratelimit::{Limiter, RedisStore as RateRedis};
use tls_resume::{
    KeyRingTicketer, MemorySharedStore, RedisKeySource, RedisStore as TlsRedis, ResumingAcceptor,
    SessionCache,
};

use crate::shop::Sessions;
use crate::turn::TurnStats;
use crate::voice::Ivr;

/// The gateway's own counters: connections, handshakes and responses by status.
#[derive(Debug, Default)]
pub struct HttpCounters {
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    handshakes_full: AtomicU64,
    handshakes_resumed: AtomicU64,
    handshakes_failed: AtomicU64,
    http2_connections: AtomicU64,
    /// Responses by status class: 1xx (and unknown), 2xx, 3xx, 4xx, 5xx.
    classes: [AtomicU64; 5],
    forbidden: AtomicU64,
    too_many: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl HttpCounters {
    /// A connection was accepted.
    pub fn connection_opened(&self) {
        bump(&self.connections_total);
        bump(&self.connections_open);
    }

    /// A connection ended.
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A TLS handshake finished: `resumed` or full, and whether ALPN chose `h2`.
    pub fn handshake(&self, resumed: bool, http2: bool) {
        bump(if resumed {
            &self.handshakes_resumed
        } else {
            &self.handshakes_full
        });
        if http2 {
            bump(&self.http2_connections);
        }
    }

    /// A TLS handshake failed or timed out.
    pub fn handshake_failed(&self) {
        bump(&self.handshakes_failed);
    }

    /// A response left with `status`.
    pub fn response(&self, status: StatusCode) {
        let class = match status.as_u16() / 100 {
            2 => 1,
            3 => 2,
            4 => 3,
            5 => 4,
            _ => 0,
        };
        bump(&self.classes[class]);
        match status {
            StatusCode::FORBIDDEN => bump(&self.forbidden),
            StatusCode::TOO_MANY_REQUESTS => bump(&self.too_many),
            _ => {}
        }
    }

    /// Connections being served now.
    pub fn open_connections(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }
}

/// Where the rate limiter keeps its state.
#[derive(Debug, Clone)]
pub enum RateBackend {
    /// In this process.
    Memory(Arc<Limiter>),
    /// In Redis, with an in-memory fallback.
    Redis(RateRedis),
}

/// Where the TLS shared session tier and the ticket keys live.
#[derive(Debug, Clone)]
pub enum TlsShared {
    /// In this process (sessions) and derived from a random secret (ticket keys).
    Memory(Arc<MemorySharedStore>),
    /// In Redis (sessions and ticket keys).
    Redis {
        /// The session store.
        store: TlsRedis,
        /// The ticket keys.
        keys: Arc<RedisKeySource>,
    },
}

/// Handles on the counters of every crate, rendered by [`Metrics::render`].
#[derive(Clone)]
pub struct Metrics {
    /// The gateway's own counters.
    pub http: Arc<HttpCounters>,
    /// The rate limiter's backend.
    pub rate: RateBackend,
    /// The one cookie validator (its `ambiguous` count).
    pub cookies: ValidateCookieLayer,
    /// The cookie migration.
    pub migration: CookieMigration,
    /// The shop's sessions.
    pub sessions: Sessions,
    /// The TLS acceptor.
    pub acceptor: ResumingAcceptor,
    /// The TLS session cache (local tier).
    pub cache: Arc<SessionCache>,
    /// The ticketer.
    pub ticketer: Arc<KeyRingTicketer>,
    /// The TLS shared tier and ticket keys.
    pub tls_shared: TlsShared,
    /// The TURN server.
    pub turn: TurnStats,
    /// The IVR (its fallback guard).
    pub ivr: Ivr,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("http", &self.http)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

/// Writes Prometheus text: `# HELP`, `# TYPE` and the samples of each metric.
struct Writer {
    out: String,
}

impl Writer {
    fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(self.out, "{name} {value}");
            } else {
                let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
            }
        }
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.metric(name, "counter", help, &[("", value)]);
    }

    fn gauge(&mut self, name: &str, help: &str, value: u64) {
        self.metric(name, "gauge", help, &[("", value)]);
    }
}

fn n(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

impl Metrics {
    /// Every counter, in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut w = Writer {
            out: String::with_capacity(8 * 1024),
        };
        self.render_gateway(&mut w);
        self.render_ratelimit(&mut w);
        self.render_cookies(&mut w);
        self.render_tls(&mut w);
        self.render_turn(&mut w);
        self.render_twiml(&mut w);
        w.out
    }

    fn render_gateway(&self, w: &mut Writer) {
        let h = &self.http;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        w.gauge(
            "gateway_connections_open",
            "HTTPS connections being served.",
            load(&h.connections_open),
        );
        w.counter(
            "gateway_connections_total",
            "HTTPS connections accepted.",
            load(&h.connections_total),
        );
        w.metric(
            "gateway_tls_handshakes_total",
            "counter",
            "TLS handshakes by outcome.",
            &[
                ("outcome=\"full\"", load(&h.handshakes_full)),
                ("outcome=\"resumed\"", load(&h.handshakes_resumed)),
                ("outcome=\"failed\"", load(&h.handshakes_failed)),
            ],
        );
        w.counter(
            "gateway_http2_connections_total",
            "Connections that chose HTTP/2 through ALPN.",
            load(&h.http2_connections),
        );
        w.metric(
            "gateway_responses_total",
            "counter",
            "Responses by status class.",
            &[
                ("class=\"1xx\"", load(&h.classes[0])),
                ("class=\"2xx\"", load(&h.classes[1])),
                ("class=\"3xx\"", load(&h.classes[2])),
                ("class=\"4xx\"", load(&h.classes[3])),
                ("class=\"5xx\"", load(&h.classes[4])),
            ],
        );
        w.metric(
            "gateway_responses_by_code_total",
            "counter",
            "Responses with the statuses the toolkit layers answer.",
            &[
                ("code=\"403\"", load(&h.forbidden)),
                ("code=\"429\"", load(&h.too_many)),
            ],
        );
    }

    fn render_ratelimit(&self, w: &mut Writer) {
        let limiter = match &self.rate {
            RateBackend::Memory(limiter) => limiter.as_ref(),
            RateBackend::Redis(store) => {
                let s = store.stats();
                w.counter(
                    "ratelimit_redis_checks_total",
                    "Checks answered by Redis.",
                    s.redis_checks,
                );
                w.counter(
                    "ratelimit_redis_errors_total",
                    "Redis calls that failed.",
                    s.redis_errors,
                );
                w.counter(
                    "ratelimit_redis_timeouts_total",
                    "Redis calls over the time budget.",
                    s.timeouts,
                );
                w.counter(
                    "ratelimit_redis_fallbacks_total",
                    "Checks answered by the in-memory fallback.",
                    s.fallbacks,
                );
                w.gauge(
                    "ratelimit_redis_connected",
                    "Whether the Redis connection is up.",
                    u64::from(s.connected),
                );
                store.fallback()
            }
        };
        let s = limiter.stats();
        w.gauge("ratelimit_keys", "Keys with a state now.", n(s.len));
        w.gauge(
            "ratelimit_capacity",
            "The most keys with a state at once.",
            n(s.capacity),
        );
        w.counter(
            "ratelimit_evictions_total",
            "States evicted to admit new keys.",
            s.evictions,
        );
        w.counter(
            "ratelimit_overflow_shared_total",
            "Checks of unadmitted keys on the shared bucket.",
            s.overflow_shared,
        );
        w.counter(
            "ratelimit_overflow_rejected_total",
            "Checks refused because the store was full.",
            s.overflow_rejected,
        );
        w.counter(
            "ratelimit_ambiguous_cookies_total",
            "Requests carrying several session cookies.",
            self.cookies.ambiguous(),
        );
    }

    fn render_cookies(&self, w: &mut Writer) {
        let s = self.migration.stats();
        w.metric(
            "cookie_migrate_requests_total",
            "counter",
            "Requests under the managed cookie names, by outcome.",
            &[
                ("outcome=\"current\"", s.current),
                ("outcome=\"duplicates_resolved\"", s.duplicates_resolved),
                ("outcome=\"migrated\"", s.migrated),
                ("outcome=\"no_valid_cookie\"", s.no_valid_cookie),
                ("outcome=\"header_too_large\"", s.header_too_large),
                ("outcome=\"too_many_candidates\"", s.too_many_candidates),
            ],
        );
        w.counter(
            "cookie_migrate_rejected_candidates_total",
            "Cookie candidates refused.",
            s.rejected_candidates,
        );
        w.counter(
            "cookie_migrate_deletions_sent_total",
            "Deleting Set-Cookie headers sent.",
            s.deletions_sent,
        );
        w.counter(
            "cookie_migrate_set_cookie_too_large_total",
            "Migrations not persisted (Set-Cookie over 4096 bytes).",
            s.set_cookie_too_large,
        );
        w.gauge(
            "shop_sessions",
            "Shop sessions held.",
            n(self.sessions.len()),
        );
        w.gauge(
            "shop_sessions_capacity",
            "Shop sessions held at most.",
            n(self.sessions.capacity()),
        );
    }

    fn render_tls(&self, w: &mut Writer) {
        let a = self.acceptor.stats();
        w.counter(
            "tls_resume_prefetches_total",
            "Prefetches started.",
            a.prefetches,
        );
        w.counter(
            "tls_resume_prefetch_timeouts_total",
            "Prefetches cut off by the budget.",
            a.prefetch_timeouts,
        );
        w.counter(
            "tls_resume_client_hellos_parsed_total",
            "First records parsed.",
            a.parsed,
        );
        w.counter(
            "tls_resume_client_hellos_malformed_total",
            "Malformed ClientHellos.",
            a.malformed,
        );
        let c = self.cache.stats();
        w.metric(
            "tls_resume_cache_lookups_total",
            "counter",
            "Session cache lookups by tier and result.",
            &[
                ("tier=\"local\",result=\"hit\"", c.local_hits),
                ("tier=\"local\",result=\"miss\"", c.local_misses),
                ("tier=\"shared\",result=\"hit\"", c.shared_hits),
                ("tier=\"shared\",result=\"miss\"", c.shared_misses),
            ],
        );
        w.counter(
            "tls_resume_cache_shared_errors_total",
            "Shared-tier calls that failed.",
            c.shared_errors,
        );
        w.counter("tls_resume_cache_puts_total", "Sessions stored.", c.puts);
        w.counter(
            "tls_resume_cache_evictions_total",
            "Local entries evicted.",
            c.evictions,
        );
        let t = self.ticketer.stats();
        w.counter(
            "tls_resume_tickets_issued_total",
            "Tickets sealed.",
            t.issued,
        );
        w.counter(
            "tls_resume_tickets_opened_total",
            "Tickets opened.",
            t.opened(),
        );
        w.counter(
            "tls_resume_tickets_decrypt_failures_total",
            "Tickets refused.",
            t.decrypt_failures,
        );
        w.counter(
            "tls_resume_ticket_key_misses_total",
            "Epochs without a key.",
            t.key_misses,
        );
        match &self.tls_shared {
            TlsShared::Memory(store) => {
                let s = store.stats();
                w.metric(
                    "tls_resume_shared_lookups_total",
                    "counter",
                    "In-memory shared tier lookups by result.",
                    &[("result=\"hit\"", s.hits), ("result=\"miss\"", s.misses)],
                );
                w.counter(
                    "tls_resume_shared_evictions_total",
                    "Shared entries evicted.",
                    s.evictions,
                );
            }
            TlsShared::Redis { store, keys } => {
                let s = store.stats();
                w.metric(
                    "tls_resume_redis_lookups_total",
                    "counter",
                    "Redis session lookups by result.",
                    &[("result=\"hit\"", s.hits), ("result=\"miss\"", s.misses)],
                );
                w.counter(
                    "tls_resume_redis_errors_total",
                    "Redis calls that failed.",
                    s.errors,
                );
                w.counter(
                    "tls_resume_redis_timeouts_total",
                    "Redis calls over the budget.",
                    s.timeouts,
                );
                w.counter(
                    "tls_resume_redis_dropped_writes_total",
                    "Writes dropped (queue full).",
                    s.dropped,
                );
                let k = keys.stats();
                w.counter(
                    "tls_resume_redis_key_refreshes_total",
                    "Ticket key refresh rounds.",
                    k.refreshes,
                );
                w.counter(
                    "tls_resume_redis_key_failures_total",
                    "Ticket key lookups that failed.",
                    k.failures,
                );
            }
        }
    }

    fn render_turn(&self, w: &mut Writer) {
        for (name, value) in self.turn.telemetry().fields() {
            w.counter(
                &format!("turn_auth_{name}_total"),
                "turn-auth telemetry (see TelemetrySnapshot).",
                value,
            );
        }
        w.gauge(
            "turn_allocations",
            "Live TURN allocations.",
            n(self.turn.allocations()),
        );
    }

    fn render_twiml(&self, w: &mut Writer) {
        let guard = self.ivr.fallback_guard();
        w.gauge(
            "twiml_fallback_calls",
            "Calls the fallback guard remembers.",
            n(guard.len()),
        );
        w.gauge(
            "twiml_fallback_capacity",
            "Calls the fallback guard remembers at most.",
            n(guard.capacity()),
        );
    }
}
