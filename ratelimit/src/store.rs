//! The bounded in-memory state: a sharded LRU of fixed capacity, keyed by a keyed 64-bit
//! hash of the key, so an entry's size never depends on the key's length.
//!
//! Each entry is a 64-bit key hash and a 64-bit TAT in an `lru` node (two more pointers),
//! plus the hash table slot that finds it. Measured: see the crate docs ("Memory").

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::gcra::Gcra;

/// What a key gets when the store is full and would have to evict a state that is still
/// active (not yet drained) to admit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Evict the least recently used state, drained or not (what nginx's `limit_req` zone
    /// does when it is full). A flood of new keys can then evict limited keys, which
    /// start over with a full burst.
    #[default]
    EvictLru,
    /// Admit the new key only by evicting a drained state; otherwise it shares one bucket
    /// with every other unadmitted key. A random-key flood then cannot evict the state of a
    /// key that is currently limited, and is itself limited as one.
    SharedBucket,
    /// Admit the new key only by evicting a drained state; otherwise refuse the request.
    Reject,
}

/// A hasher for keys that are already uniformly random 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); fold anything else in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = LruCache<u64, u64, BuildHasherDefault<PassThrough>>;

/// Counters of the store.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    pub(crate) evictions: AtomicU64,
    pub(crate) overflow_shared: AtomicU64,
    pub(crate) overflow_rejected: AtomicU64,
}

pub(crate) struct Store {
    shards: Box<[Mutex<Shard>]>,
    shard_shift: u32,
    hasher: RandomState,
    overflow: Overflow,
    shared: Mutex<u64>,
    capacity: usize,
    pub(crate) counters: StoreCounters,
}

impl Store {
    pub(crate) fn new(capacity: NonZeroUsize, overflow: Overflow) -> Self {
        // Enough shards to keep lock contention low on a many-core server, few enough that
        // each keeps a meaningful LRU order.
        let wanted = std::thread::available_parallelism().map_or(4, |n| n.get() * 4);
        Self::with_shards(capacity, overflow, wanted)
    }

    /// `shards` is rounded down to a power of two no larger than the capacity (and 256).
    pub(crate) fn with_shards(capacity: NonZeroUsize, overflow: Overflow, shards: usize) -> Self {
        let limit = shards.clamp(1, capacity.get().min(256));
        // The largest power of two not above the limit.
        let shard_count = 1usize << (usize::BITS - 1 - limit.leading_zeros());
        let base = capacity.get() / shard_count;
        let extra = capacity.get() % shard_count;
        let shards = (0..shard_count)
            .map(|i| {
                let cap = NonZeroUsize::new(base + usize::from(i < extra))
                    .expect("at least one per shard");
                Mutex::new(LruCache::with_hasher(cap, BuildHasherDefault::default()))
            })
            .collect();
        Self {
            shards,
            shard_shift: 64 - shard_count.trailing_zeros(),
            hasher: RandomState::new(),
            overflow,
            shared: Mutex::new(0),
            capacity: capacity.get(),
            counters: StoreCounters::default(),
        }
    }

    fn shard_of(&self, hash: u64) -> &Mutex<Shard> {
        let index = if self.shards.len() == 1 {
            0
        } else {
            usize::try_from(hash >> self.shard_shift).expect("fits")
        };
        &self.shards[index]
    }

    /// Runs `judge` on `key`'s TAT (0 for a new key) under its shard's lock, making room
    /// for a new key by the overflow policy. `None` when the policy refuses the key.
    pub(crate) fn update<R>(
        &self,
        key: &[u8],
        now: u64,
        judge: impl FnOnce(&mut u64) -> R,
    ) -> Option<R> {
        let hash = self.hasher.hash_one(key);
        let mut shard = lock(self.shard_of(hash));
        if let Some(tat) = shard.get_mut(&hash) {
            return Some(judge(tat));
        }
        if shard.len() == shard.cap().get() {
            let tail_drained = shard
                .peek_lru()
                .is_some_and(|(_, &tat)| Gcra::is_drained(tat, now));
            if !tail_drained && self.overflow != Overflow::EvictLru {
                drop(shard);
                return self.overflowed(judge);
            }
            shard.pop_lru();
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        }
        let mut tat = 0;
        let outcome = judge(&mut tat);
        shard.put(hash, tat);
        Some(outcome)
    }

    fn overflowed<R>(&self, judge: impl FnOnce(&mut u64) -> R) -> Option<R> {
        if self.overflow == Overflow::SharedBucket {
            self.counters
                .overflow_shared
                .fetch_add(1, Ordering::Relaxed);
            Some(judge(&mut lock(&self.shared)))
        } else {
            self.counters
                .overflow_rejected
                .fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Live entries.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Drops every drained state (they are indistinguishable from fresh ones), returning
    /// how many went. Never needed for boundedness; useful to give memory back after a
    /// flood.
    pub(crate) fn retain_active(&self, now: u64) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            while let Some((_, &tat)) = shard.peek_lru() {
                if !Gcra::is_drained(tat, now) {
                    break;
                }
                shard.pop_lru();
                removed += 1;
            }
        }
        removed
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a shard cannot leave a TAT half-written (it is one u64).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(capacity: usize, overflow: Overflow) -> Store {
        Store::new(NonZeroUsize::new(capacity).unwrap(), overflow)
    }

    /// One shard, so which keys meet in a shard does not depend on the hash.
    fn one_shard(capacity: usize, overflow: Overflow) -> Store {
        Store::with_shards(NonZeroUsize::new(capacity).unwrap(), overflow, 1)
    }

    #[test]
    fn shard_capacities_add_up_to_the_capacity() {
        for capacity in [1, 2, 3, 7, 64, 1000, 50_000] {
            let s = store(capacity, Overflow::EvictLru);
            let total: usize = s.shards.iter().map(|m| lock(m).cap().get()).sum();
            assert_eq!(total, capacity);
            assert!(s.shards.len().is_power_of_two());
        }
    }

    #[test]
    fn never_more_entries_than_the_capacity() {
        let s = store(100, Overflow::EvictLru);
        for i in 0u32..10_000 {
            s.update(&i.to_be_bytes(), 0, |tat| *tat = 1_000);
        }
        assert_eq!(s.len(), 100);
        assert_eq!(s.counters.evictions.load(Ordering::Relaxed), 9_900);
    }

    #[test]
    fn shared_bucket_admits_only_by_evicting_drained_states() {
        let s = one_shard(4, Overflow::SharedBucket);
        // Fill with active states (TAT in the future).
        for i in 0u32..4 {
            s.update(&i.to_be_bytes(), 0, |tat| *tat = 1_000);
        }
        assert_eq!(s.len(), 4);
        // The newcomer's shard is full of active states: it shares the overflow bucket.
        assert_eq!(s.update(b"newcomer", 10, |tat| *tat), Some(0));
        assert_eq!(
            s.update(b"another", 10, |tat| {
                *tat += 7;
                *tat
            }),
            Some(7),
            "one shared TAT"
        );
        assert_eq!(s.counters.overflow_shared.load(Ordering::Relaxed), 2);
        assert_eq!(s.len(), 4);
        // Once states drain, newcomers are admitted again (evicting a drained state).
        assert_eq!(s.update(b"later", 2_000, |tat| *tat), Some(0));
        assert_eq!(s.counters.evictions.load(Ordering::Relaxed), 1);
        assert_eq!(s.len(), 4);
    }

    #[test]
    fn reject_refuses_when_full_of_active_states() {
        let s = one_shard(1, Overflow::Reject);
        s.update(b"a", 0, |tat| *tat = 1_000);
        assert_eq!(s.update(b"b", 10, |_| ()), None);
        assert_eq!(s.counters.overflow_rejected.load(Ordering::Relaxed), 1);
        assert_eq!(s.update(b"b", 1_000, |_| ()), Some(()));
    }

    #[test]
    fn retain_active_drops_drained_states() {
        let s = one_shard(10, Overflow::EvictLru);
        s.update(b"old", 0, |tat| *tat = 5);
        s.update(b"new", 0, |tat| *tat = 500);
        assert_eq!(s.retain_active(100), 1);
        assert_eq!(s.len(), 1);
    }
}
