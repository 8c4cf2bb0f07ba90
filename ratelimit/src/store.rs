//! The bounded in-memory state: a sharded open-addressing table of fixed capacity, keyed
//! by a keyed 64-bit hash of the key, so an entry's size never depends on the key's length.
//!
//! Each entry is one 16-byte slot: the key's hash (two low bits reused as flags) and its
//! 64-bit TAT, both atomics. A check of a known key is one keyed SipHash, a shared (read)
//! lock of its shard and a compare-and-swap of the TAT in (usually) one cache line, so
//! checks of known keys never wait for each other; only admitting a new key takes the
//! shard's write lock. There are no per-entry allocations or list pointers. Each shard's
//! table is allocated once, with at least a quarter of its slots free.
//!
//! Eviction is CLOCK, the usual approximation of least-recently-used: a hand sweeps the
//! slots, clearing each state's "referenced" flag (set when it is used again after being
//! admitted) and evicting the first state that has drained or, under
//! [`Overflow::EvictLru`], that was not used since the hand last passed. Keys seen only once
//! are therefore the first to go. The sweep for one insertion is bounded ([`SCAN`] slots).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::gcra::Gcra;

/// What a key gets when the store is full and would have to evict a state that is still
/// active (not yet drained) to admit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Evict a drained state if the eviction sweep finds one, else a least recently used
    /// state (CLOCK: one not used since the sweep last passed it), drained or not — what
    /// nginx's `limit_req` zone does when it is full. A flood of new keys can then evict
    /// limited keys, which start over with a full burst.
    #[default]
    EvictLru,
    /// Admit the new key only by evicting a drained state; otherwise it shares one bucket
    /// with every other unadmitted key. A random-key flood then cannot evict the state of a
    /// key that is currently limited, and is itself limited as one.
    SharedBucket,
    /// Admit the new key only by evicting a drained state; otherwise refuse the request.
    Reject,
}

/// The slot is in use (a used slot's tag is never 0).
const OCCUPIED: u64 = 1;
/// The state was used since the eviction hand last passed it.
const REFERENCED: u64 = 2;
/// Slots the eviction hand visits per insertion, at most (more only under
/// [`Overflow::EvictLru`] when it has not met a single state yet).
const SCAN: usize = 32;

/// `[tag, tat]`. Readers (under the shard's read lock) only set `REFERENCED` in the tag and
/// compare-and-swap the TAT; everything else happens under the write lock.
type Slot = [AtomicU64; 2];
const TAG: usize = 0;
const TAT: usize = 1;

/// The hash bits a slot keeps, with the flag bits cleared and `OCCUPIED` set.
#[inline]
fn tag_of(hash: u64) -> u64 {
    (hash & !(OCCUPIED | REFERENCED)) | OCCUPIED
}

/// One shard: linear probing, backward-shift deletion, CLOCK eviction.
struct Shard {
    slots: Box<[Slot]>,
    mask: usize,
    len: usize,
    cap: NonZeroUsize,
    hand: usize,
}

impl Shard {
    fn new(cap: NonZeroUsize) -> Self {
        // At most 3/4 full, so probe sequences stay short and always end.
        let size = (cap.get() + cap.get() / 3 + 1).next_power_of_two();
        Self {
            slots: empty_slots(size),
            mask: size - 1,
            len: 0,
            cap,
            hand: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn cap(&self) -> NonZeroUsize {
        self.cap
    }

    /// Where `tag`'s probe sequence starts (from hash bits the shard index does not use).
    #[inline]
    fn home(&self, tag: u64) -> usize {
        (tag >> 2) as usize & self.mask
    }

    /// `tag`'s slot, or the empty slot that ends its probe sequence.
    #[inline]
    fn find(&self, tag: u64) -> Result<usize, usize> {
        let mut i = self.home(tag);
        loop {
            let found = self.slots[i][TAG].load(Ordering::Relaxed);
            if found & !REFERENCED == tag {
                return Ok(i);
            }
            if found == 0 {
                return Err(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Stores a new state in `empty` (from `find`), not yet marked used: a key seen once is
    /// evicted before keys that came back (a flood of one-off keys mostly replaces itself).
    fn insert_at(&mut self, empty: usize, tag: u64, tat: u64) {
        debug_assert!(self.len < self.cap.get() && *self.slots[empty][TAG].get_mut() == 0);
        self.set(empty, [tag, tat]);
        self.len += 1;
    }

    /// Removes slot `hole`, shifting later members of its cluster back.
    fn remove(&mut self, mut hole: usize) {
        self.len -= 1;
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let slot = self.get(j);
            if slot[TAG] == 0 {
                break;
            }
            // `slot` may fill the hole if the hole lies between its home and `j`.
            let from_home = j.wrapping_sub(self.home(slot[TAG])) & self.mask;
            let from_hole = j.wrapping_sub(hole) & self.mask;
            if from_home >= from_hole {
                self.set(hole, slot);
                hole = j;
            }
        }
        self.set(hole, [0; 2]);
    }

    fn get(&mut self, i: usize) -> [u64; 2] {
        let [tag, tat] = &mut self.slots[i];
        [*tag.get_mut(), *tat.get_mut()]
    }

    fn set(&mut self, i: usize, [tag, tat]: [u64; 2]) {
        let slot = &mut self.slots[i];
        *slot[TAG].get_mut() = tag;
        *slot[TAT].get_mut() = tat;
    }

    /// The slot to evict for a new key: the first drained state the hand meets or, when
    /// `evict_active`, the first not referenced since the hand last passed (clearing the
    /// flags it passes). `None` when no drained state was found within [`SCAN`] slots and
    /// active states may not be evicted.
    fn victim(&mut self, now: u64, evict_active: bool) -> Option<usize> {
        let mut last = None;
        let mut visited = 0;
        while visited < SCAN || (evict_active && last.is_none()) {
            let i = self.hand;
            self.hand = (i + 1) & self.mask;
            visited += 1;
            let [tag, tat] = self.get(i);
            if tag == 0 {
                continue;
            }
            if Gcra::is_drained(tat, now) {
                return Some(i);
            }
            if evict_active && tag & REFERENCED == 0 {
                return Some(i);
            }
            *self.slots[i][TAG].get_mut() = tag & !REFERENCED;
            last = Some(i);
        }
        // Every state the hand met was in use: the last of them goes (its flag is cleared).
        if evict_active { last } else { None }
    }
}

/// Counters of the store.
#[derive(Debug, Default)]
pub(crate) struct StoreCounters {
    pub(crate) evictions: AtomicU64,
    pub(crate) overflow_shared: AtomicU64,
    pub(crate) overflow_rejected: AtomicU64,
}

pub(crate) struct Store {
    shards: Box<[RwLock<Shard>]>,
    shard_shift: u32,
    hasher: RandomState,
    overflow: Overflow,
    shared: Mutex<u64>,
    capacity: usize,
    pub(crate) counters: StoreCounters,
}

impl Store {
    pub(crate) fn new(capacity: NonZeroUsize, overflow: Overflow) -> Self {
        // Enough shards to keep lock contention low on a many-core server.
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
                RwLock::new(Shard::new(cap))
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

    /// The keyed SipHash of the key's bytes alone. `hash_one(key)` would hash a length
    /// prefix first (one more round, for keys hashed next to other fields); SipHash already
    /// mixes the length into its last block, so keys of different lengths stay distinct.
    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(key);
        hasher.finish()
    }

    fn shard_of(&self, hash: u64) -> &RwLock<Shard> {
        let index = if self.shards.len() == 1 {
            0
        } else {
            usize::try_from(hash >> self.shard_shift).expect("fits")
        };
        &self.shards[index]
    }

    /// Runs `judge` on `key`'s TAT (0 for a new key), making room for a new key by the
    /// overflow policy; `None` when the policy refuses the key. `judge` may run more than
    /// once when another thread changes the same TAT concurrently: the last run's outcome
    /// is the one whose TAT was stored.
    pub(crate) fn update<R>(
        &self,
        key: &[u8],
        now: u64,
        judge: impl Fn(&mut u64) -> R,
    ) -> Option<R> {
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let shard = self.shard_of(hash);
        {
            let shard = read(shard);
            if let Ok(i) = shard.find(tag) {
                return Some(judge_slot(&shard.slots[i], &judge));
            }
        }
        let mut shard = write(shard);
        // Another thread may have admitted the key in between.
        let mut empty = match shard.find(tag) {
            Ok(i) => return Some(judge_slot(&shard.slots[i], &judge)),
            Err(empty) => empty,
        };
        if shard.len() == shard.cap().get() {
            let Some(victim) = shard.victim(now, self.overflow == Overflow::EvictLru) else {
                drop(shard);
                return self.overflowed(judge);
            };
            shard.remove(victim);
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            // The removal may have shifted the probe sequence.
            empty = shard.find(tag).expect_err("absent");
        }
        let mut tat = 0;
        let outcome = judge(&mut tat);
        shard.insert_at(empty, tag, tat);
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
        self.shards.iter().map(|s| read(s).len()).sum()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Drops every drained state (they are indistinguishable from fresh ones), returning
    /// how many went. Never needed for boundedness (the tables are allocated once); it
    /// makes room for new keys without evicting anything.
    pub(crate) fn retain_active(&self, now: u64) -> usize {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = write(shard);
            let size = shard.mask + 1;
            let old = std::mem::replace(&mut shard.slots, empty_slots(size));
            shard.len = 0;
            for [tag, tat] in old
                .into_iter()
                .map(|[tag, tat]| [tag.into_inner(), tat.into_inner()])
            {
                if tag == 0 {
                    continue;
                }
                if Gcra::is_drained(tat, now) {
                    removed += 1;
                } else {
                    let empty = shard.find(tag & !REFERENCED).expect_err("distinct tags");
                    shard.set(empty, [tag, tat]);
                    shard.len += 1;
                }
            }
        }
        removed
    }
}

/// Judges a known key's TAT, storing the new one with a compare-and-swap (retrying when
/// another thread got there first).
fn judge_slot<R>(slot: &Slot, judge: &impl Fn(&mut u64) -> R) -> R {
    // Mark it used, writing only when it is not marked yet.
    if slot[TAG].load(Ordering::Relaxed) & REFERENCED == 0 {
        slot[TAG].fetch_or(REFERENCED, Ordering::Relaxed);
    }
    let mut current = slot[TAT].load(Ordering::Relaxed);
    loop {
        let mut tat = current;
        let outcome = judge(&mut tat);
        if tat == current {
            return outcome;
        }
        match slot[TAT].compare_exchange_weak(current, tat, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return outcome,
            Err(actual) => current = actual,
        }
    }
}

fn empty_slots(size: usize) -> Box<[Slot]> {
    (0..size)
        .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave a TAT half-written (it is one u64).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
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
            let total: usize = s.shards.iter().map(|m| read(m).cap().get()).sum();
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

    #[test]
    fn every_state_stays_reachable_through_evictions_and_retains() {
        let s = one_shard(100, Overflow::EvictLru);
        let reachable = |s: &Store| {
            let shard = read(&s.shards[0]);
            let mut live = 0;
            for (i, slot) in shard.slots.iter().enumerate() {
                let tag = slot[TAG].load(Ordering::Relaxed);
                if tag != 0 {
                    live += 1;
                    assert_eq!(shard.find(tag & !REFERENCED), Ok(i));
                }
            }
            assert_eq!(live, shard.len());
            live
        };
        for i in 0u32..5_000 {
            // Some states drain at 2 500, the rest stay active.
            s.update(&i.to_be_bytes(), u64::from(i), |tat| {
                *tat = u64::from(i) + if i % 3 == 0 { 0 } else { 100_000 }
            });
            if i % 7 == 0 {
                // Revisit an older key (it may have been evicted: then it is new again).
                s.update(&(i / 2).to_be_bytes(), u64::from(i), |_| ());
            }
            assert!(reachable(&s) <= 100);
        }
        assert_eq!(reachable(&s), 100);
        let removed = s.retain_active(50_000);
        assert_eq!(reachable(&s), 100 - removed);
        assert_eq!(s.retain_active(1_000_000), 100 - removed);
        assert_eq!(reachable(&s), 0);
    }
}
