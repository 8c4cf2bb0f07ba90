//! This crate's [`Limiter`] against governor's keyed limiter (`DefaultKeyedRateLimiter`,
//! a `DashMap`), with the same quota, clock for clock: one hot key and a Zipf-distributed
//! million keys, each on one and two threads, in four rows —
//!
//! | row | limiter | clock |
//! |---|---|---|
//! | `ratelimit` | ours, the default | std's `Instant` |
//! | `governor_std_clock` | governor | std's `Instant` |
//! | `ratelimit_quanta` | ours with `clock::QuantaClock` | the TSC, through quanta |
//! | `governor` | governor, the default | the TSC, through quanta |
//!
//! so `ratelimit / governor_std_clock` and `ratelimit_quanta / governor` compare the stores
//! and algorithms, not the clocks. Then a flood of distinct keys (each limiter on its
//! default clock), and before the timings the memory each takes for 2 million distinct
//! keys (RSS deltas).
//!
//! Run with `cargo bench -p ratelimit --bench vs_governor` (`QuantaClock` comes from the
//! dev-dependency on this crate with its `quanta` feature, so no `--features` is needed).

use std::hint::black_box;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{DefaultKeyedRateLimiter, RateLimiter};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Zipf};
use ratelimit::clock::QuantaClock;
use ratelimit::{Limiter, Quota};

const RATE: u32 = 100;
const ZIPF_KEYS: u64 = 1_000_000;
const ZIPF_SAMPLES: usize = 1 << 22;
/// Ours for the Zipf and hot-key cases: room for the whole key space.
const CAPACITY: usize = 1_000_000;
/// Ours under the flood: a fixed capacity, far below the flood.
const FLOOD_CAPACITY: usize = 50_000;
const MEMORY_KEYS: u64 = 2_000_000;

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(RATE).unwrap())
}

fn ours(capacity: usize) -> Limiter {
    Limiter::new(quota(), NonZeroUsize::new(capacity).unwrap())
}

/// Ours on the TSC, the clock governor uses by default.
fn ours_quanta(capacity: usize) -> Limiter<QuantaClock> {
    ours(capacity).with_clock(QuantaClock::new())
}

fn governor_quota() -> governor::Quota {
    governor::Quota::per_second(NonZeroU32::new(RATE).unwrap())
}

fn governor() -> DefaultKeyedRateLimiter<u64> {
    RateLimiter::keyed(governor_quota())
}

type StdClockGovernor = RateLimiter<
    u64,
    DashMapStateStore<u64>,
    governor::clock::MonotonicClock,
    NoOpMiddleware<std::time::Instant>,
>;

/// governor on std's `Instant`, the clock this crate uses (its default is a TSC clock).
fn governor_std_clock() -> StdClockGovernor {
    RateLimiter::dashmap_with_clock(governor_quota(), governor::clock::MonotonicClock)
}

/// A bijective mix of a counter: distinct, random-looking keys.
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Runs `op(i)` for `iters` distinct `i` starting at `base`, split over `threads`; the
/// wall time.
fn run(threads: u64, base: u64, iters: u64, op: &(impl Fn(u64) + Sync)) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for i in 0..iters {
            op(base + i);
        }
        return start.elapsed();
    }
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let from = base + t * per_thread;
                for i in from..from + per_thread {
                    op(i);
                }
            });
        }
    });
    start.elapsed()
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// RSS growth while 2 M distinct keys arrive, every 500 000 keys.
fn memory_report() {
    println!("memory, {MEMORY_KEYS} distinct keys (RSS delta, MiB):");
    {
        let base = rss_bytes();
        let limiter = ours(FLOOD_CAPACITY);
        let mut line = String::new();
        for i in 0..MEMORY_KEYS {
            let _ = black_box(limiter.check(&splitmix64(i).to_le_bytes()));
            if (i + 1) % 500_000 == 0 {
                line += &format!(" {:.1}", mib(rss_bytes().saturating_sub(base)));
            }
        }
        println!(
            "  ratelimit (capacity {FLOOD_CAPACITY}, len {}):{line}",
            limiter.len()
        );
    }
    {
        let base = rss_bytes();
        let limiter = governor();
        let mut line = String::new();
        for i in 0..MEMORY_KEYS {
            let _ = black_box(limiter.check_key(&splitmix64(i)));
            if (i + 1) % 500_000 == 0 {
                line += &format!(" {:.1}", mib(rss_bytes().saturating_sub(base)));
            }
        }
        let grown = rss_bytes().saturating_sub(base);
        println!(
            "  governor (len {}):{line}  = {:.0} B/key",
            limiter.len(),
            grown as f64 / MEMORY_KEYS as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    memory_report();

    let mut rng = StdRng::seed_from_u64(0x5EED);
    let zipf = Zipf::new(ZIPF_KEYS as f64, 1.07).expect("valid Zipf parameters");
    let zipf_keys: Vec<u64> = (0..ZIPF_SAMPLES)
        .map(|_| splitmix64(zipf.sample(&mut rng) as u64))
        .collect();
    let zipf_key = |i: u64| zipf_keys[(i as usize) & (ZIPF_SAMPLES - 1)];

    for threads in [1u64, 2] {
        // (a) One hot key: std's Instant on both, then the TSC on both.
        let mut group = bench_group(c, "hot_key", threads);
        let limiter = ours(CAPACITY);
        row(&mut group, "ratelimit", threads, &|_| {
            let _ = black_box(limiter.check(black_box(b"hot-key\0")));
        });
        let limiter = governor_std_clock();
        row(&mut group, "governor_std_clock", threads, &|_| {
            let _ = black_box(limiter.check_key(black_box(&7)));
        });
        let limiter = ours_quanta(CAPACITY);
        row(&mut group, "ratelimit_quanta", threads, &|_| {
            let _ = black_box(limiter.check(black_box(b"hot-key\0")));
        });
        let limiter = governor();
        row(&mut group, "governor", threads, &|_| {
            let _ = black_box(limiter.check_key(black_box(&7)));
        });
        group.finish();

        // (b) A million keys, Zipf-distributed (s = 1.07); each limiter is dropped before
        // the next is built, so they do not share the cache.
        let mut group = bench_group(c, "zipf_1m", threads);
        let limiter = ours(CAPACITY);
        row(&mut group, "ratelimit", threads, &|i| {
            let _ = black_box(limiter.check(&zipf_key(i).to_le_bytes()));
        });
        drop(limiter);
        let limiter = governor_std_clock();
        row(&mut group, "governor_std_clock", threads, &|i| {
            let _ = black_box(limiter.check_key(&zipf_key(i)));
        });
        drop(limiter);
        let limiter = ours_quanta(CAPACITY);
        row(&mut group, "ratelimit_quanta", threads, &|i| {
            let _ = black_box(limiter.check(&zipf_key(i).to_le_bytes()));
        });
        drop(limiter);
        let limiter = governor();
        row(&mut group, "governor", threads, &|i| {
            let _ = black_box(limiter.check_key(&zipf_key(i)));
        });
        drop(limiter);
        group.finish();

        // (c) A flood: every key new.
        let mut group = bench_group(c, "flood", threads);
        let limiter = ours(FLOOD_CAPACITY);
        row(&mut group, "ratelimit", threads, &|i| {
            let _ = black_box(limiter.check(&splitmix64(i).to_le_bytes()));
        });
        println!("  ratelimit len after the flood: {}", limiter.len());
        drop(limiter);
        let limiter = governor();
        row(&mut group, "governor", threads, &|i| {
            let _ = black_box(limiter.check_key(&splitmix64(i)));
        });
        println!("  governor len after the flood: {}", limiter.len());
        group.finish();
    }
}

/// The group `{name}/{threads}_threads`, one check per element.
fn bench_group<'c>(c: &'c mut Criterion, name: &str, threads: u64) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(format!("{name}/{threads}_threads"));
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_secs(1));
    group
}

/// One row: `check(i)` for fresh `i` on `threads` threads (a row's keys never repeat an
/// earlier sample's, so a flood stays a flood across criterion's iterations).
fn row(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: u64,
    check: &(impl Fn(u64) + Sync),
) {
    let next = AtomicU64::new(0);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            run(
                threads,
                next.fetch_add(iters, Ordering::Relaxed),
                iters,
                check,
            )
        });
    });
}

mod group {
    criterion::criterion_group!(benches, super::bench);
}

criterion::criterion_main!(group::benches);
