//! A flood of distinct keys: memory stays at the capacity, and with
//! [`Overflow::SharedBucket`] a limited key stays limited through it.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ratelimit::clock::FakeClock;
use ratelimit::{LimitedReason, Limiter, Overflow, Quota};

/// The tests measure this process's memory: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const CAPACITY: usize = 50_000;
const FLOOD: u64 = 2_000_000;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn limiter(capacity: usize, overflow: Overflow) -> (Limiter<FakeClock>, FakeClock) {
    let clock = FakeClock::new();
    // One request every 6 s, ten at once.
    let limiter = Limiter::new(
        Quota::per_minute(nz(10)),
        NonZeroUsize::new(capacity).unwrap(),
    )
    .with_clock(clock.clone())
    .with_overflow(overflow);
    (limiter, clock)
}

/// Limits `victim`: spends its burst.
fn exhaust(limiter: &Limiter<FakeClock>, victim: &[u8]) {
    while limiter.check(victim).is_ok() {}
    assert_eq!(
        limiter.check(victim).unwrap_err().reason(),
        LimitedReason::Quota
    );
}

/// Checks `count` distinct 16-byte keys (IPv6-address-sized), advancing the clock by
/// `tick` every 100 000 keys; asserts `len() <= capacity` at each of those points.
fn flood(limiter: &Limiter<FakeClock>, clock: &FakeClock, count: u64, tick: Duration) {
    let capacity = limiter.stats().capacity;
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&0x2001_0db8_0000_0000u64.to_be_bytes());
    for i in 0..count {
        key[8..].copy_from_slice(&i.to_be_bytes());
        let _ = limiter.check(&key);
        if i % 100_000 == 0 {
            assert!(limiter.len() <= capacity, "{} > {capacity}", limiter.len());
            clock.advance(tick);
        }
    }
    assert!(limiter.len() <= capacity);
}

#[test]
fn two_million_keys_never_exceed_the_capacity_and_keep_limited_keys_limited() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (limiter, clock) = limiter(CAPACITY, Overflow::SharedBucket);
    exhaust(&limiter, b"victim");

    let started = Instant::now();
    // 20 ticks of 100 ms: the flood spans 2 s, well within the victim's 6 s wait.
    flood(&limiter, &clock, FLOOD, Duration::from_millis(100));
    let elapsed = started.elapsed();
    println!(
        "{FLOOD} checks in {elapsed:?} ({:.0} ns/check)",
        elapsed.as_nanos() as f64 / FLOOD as f64
    );

    let stats = limiter.stats();
    assert_eq!(stats.len, CAPACITY, "full, and no larger");
    assert!(stats.overflow_shared > 0, "the flood overflowed: {stats:?}");
    let limited = limiter
        .check(b"victim")
        .expect_err("the flood did not reset the victim");
    assert_eq!(limited.reason(), LimitedReason::Quota);
    assert!(limited.retry_after() <= Duration::from_secs(6));

    // Once the states drain, new keys are admitted again (by evicting drained states).
    clock.advance(Duration::from_secs(120));
    assert!(limiter.check(b"newcomer").is_ok());
    assert!(limiter.check(b"victim").is_ok());
    assert_eq!(limiter.len(), CAPACITY);
}

#[test]
fn evict_lru_stays_bounded_but_forgets_limited_keys() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (limiter, clock) = limiter(CAPACITY, Overflow::EvictLru);
    exhaust(&limiter, b"victim");
    flood(&limiter, &clock, 4 * CAPACITY as u64, Duration::ZERO);
    assert_eq!(limiter.len(), CAPACITY);
    assert!(
        limiter.check(b"victim").is_ok(),
        "EvictLru: the flood evicted the victim's state (the documented trade-off)"
    );
}

/// Resident set size of this process, in bytes (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // 4 KiB pages on every Linux this runs on.
    Some(resident * 4096)
}

#[test]
fn bytes_per_entry() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const ENTRIES: usize = 1_000_000;
    let Some(before) = rss_bytes() else {
        println!("SKIPPED: no /proc/self/statm");
        return;
    };
    let (limiter, clock) = limiter(ENTRIES, Overflow::EvictLru);
    flood(&limiter, &clock, ENTRIES as u64, Duration::ZERO);
    // Shards fill independently (by key hash): a few evict before the others are full.
    let len = limiter.len();
    assert!(len > ENTRIES * 99 / 100, "{len}");
    let after = rss_bytes().unwrap();
    let per_entry = after.saturating_sub(before) as f64 / len as f64;
    println!(
        "RSS {:.1} MiB -> {:.1} MiB for {len} entries: {per_entry:.1} B/entry",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0
    );
    assert!(per_entry < 200.0, "{per_entry:.1} B/entry");
    drop(limiter);
}
