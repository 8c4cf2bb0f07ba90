//! The bounded in-memory state: a sharded open-addressing table of fixed capacity, keyed
//! by a keyed 64-bit hash of the key, so an entry's size never depends on the key's length.
//!
//! Each entry is one 16-byte slot: the key's hash (two low bits reused as flags) and its
//! 64-bit TAT, read and compare-and-swapped together as one 128-bit atomic. A check of a
//! known key takes no lock: one keyed SipHash, a probe of the table and one
//! compare-and-swap, which succeeds only while the slot still holds that key with the TAT
//! that was judged. Concurrent checks of one key therefore serialise on that swap and
//! nothing else, and a check can neither lose another's update nor land on a state that a
//! writer moved or replaced (the tag is part of the swapped word, so there is no ABA).
//! Only structural changes (admitting a key, evicting, growing) take the shard's writer
//! lock; writers take a state out of its slot with an atomic swap before putting it
//! elsewhere, so a state is never in two slots, and a check that misses it meanwhile
//! retries under the lock. There are no per-entry allocations or list pointers.
//!
//! A shard's table starts with 64 slots and doubles whenever one more state would fill more
//! than 13/16 of it, up to the size that holds the shard's capacity at most three quarters
//! full; it never grows beyond it, and never shrinks. Each doubling adds one segment as large as
//! the table so far, so the memory readers use never moves, memory follows the keys
//! actually seen, and the states of a working set smaller than the capacity stay dense in
//! the cache, while a flood takes the store to its final size and no further.
//!
//! Eviction is CLOCK, the usual approximation of least-recently-used (second chance), with
//! the sweep starting where the new key's probe sequence starts: it clears each state's
//! "referenced" flag (set when it is used again after being admitted) and evicts the first
//! state that has drained or, under [`Overflow::EvictLru`], that was not used since a sweep
//! last passed it. Keys seen only once are therefore the first to go. Keyed hashes make
//! that start point random, so every slot is swept as often as under one circling hand, but
//! the hole is made in the cluster the new key joins: one circling hand would leave the free
//! slots bunched behind it and the probe sequences of new keys long. The sweep for one
//! insertion is bounded ([`SCAN`] slots).
//! A state is evicted with a compare-and-swap of the very value judged drained (or
//! unreferenced), so a check that lands in between keeps it.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use portable_atomic::AtomicU128;

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
/// The state was used since an eviction sweep last passed it.
const REFERENCED: u64 = 2;
/// Slots an eviction sweep visits per insertion, at most (more only under
/// [`Overflow::EvictLru`] when it has not met a single state yet).
const SCAN: usize = 32;
/// Slots a shard's table starts with: its first segment.
const FIRST_SEGMENT: usize = 64;

/// A key's tag in the high half (0: empty) and its TAT in the low half.
type Slot = AtomicU128;

#[inline]
fn pack(tag: u64, tat: u64) -> u128 {
    (u128::from(tag) << 64) | u128::from(tat)
}

#[inline]
fn unpack(value: u128) -> (u64, u64) {
    ((value >> 64) as u64, value as u64)
}

/// The hash bits a slot keeps, with the flag bits cleared and `OCCUPIED` set.
#[inline]
fn tag_of(hash: u64) -> u64 {
    (hash & !(OCCUPIED | REFERENCED)) | OCCUPIED
}

/// Where `tag`'s probe sequence starts, before masking (hash bits the shard index does
/// not use).
#[inline]
fn home(tag: u64) -> usize {
    (tag >> 2) as usize
}

/// One shard's slots, in segments: segment 0 holds the first `FIRST_SEGMENT` slots (or the
/// whole table when it is smaller) and segment `k ≥ 1` the slots from
/// `FIRST_SEGMENT << (k - 1)` up to `FIRST_SEGMENT << k`, allocated when the table doubles.
struct Table {
    segments: Box<[OnceLock<Box<[Slot]>>]>,
    /// The size in use (a power of two), minus one.
    mask: AtomicUsize,
}

impl Table {
    fn new(full_size: usize) -> Self {
        let first = full_size.min(FIRST_SEGMENT);
        let count = 1 + (full_size / first).trailing_zeros() as usize;
        let segments: Box<[OnceLock<Box<[Slot]>>]> = (0..count).map(|_| OnceLock::new()).collect();
        segments[0].get_or_init(|| empty_slots(first));
        Self {
            segments,
            mask: AtomicUsize::new(first - 1),
        }
    }

    fn size(&self) -> usize {
        self.mask.load(Ordering::Acquire) + 1
    }

    /// Slot `i`, if the table has it (a reader racing a doubling may ask for one not there yet).
    #[inline]
    fn slot(&self, i: usize) -> Option<&Slot> {
        let (segment, offset) = segment_of(i);
        self.segments.get(segment)?.get()?.get(offset)
    }

    /// Slot `i` of the table in use, for the writer.
    fn at(&self, i: usize) -> &Slot {
        self.slot(i).expect("the writer indexes the table in use")
    }

    /// `tag`'s slot and the value seen in it, else the empty slot that ends its probe
    /// sequence. Without the writer lock this can miss a state a writer is moving (and then
    /// may know no empty slot either), never find another key's: tags are compared.
    #[inline]
    fn find(&self, tag: u64) -> Result<(&Slot, u128), Option<usize>> {
        let mask = self.mask.load(Ordering::Acquire);
        let mut i = home(tag) & mask;
        for _ in 0..=mask {
            let slot = self.slot(i).ok_or(None)?;
            let value = slot.load(Ordering::Acquire);
            let (found, _) = unpack(value);
            if found & !REFERENCED == tag {
                return Ok((slot, value));
            }
            if found == 0 {
                return Err(Some(i));
            }
            i = (i + 1) & mask;
        }
        Err(None)
    }

    /// The empty slot that ends the probe sequence of `tag`, which is absent. Writer only.
    fn vacancy(&self, tag: u64) -> usize {
        let mask = self.mask.load(Ordering::Acquire);
        let mut i = home(tag) & mask;
        while unpack(self.at(i).load(Ordering::Acquire)).0 != 0 {
            i = (i + 1) & mask;
        }
        i
    }

    /// Stores a new state in `empty` (which ends its probe sequence), not yet marked used:
    /// a key seen once is evicted before keys that came back (a flood of one-off keys mostly
    /// replaces itself).
    fn insert_at(&self, writer: &mut Writer, empty: usize, tag: u64, tat: u64) {
        debug_assert!(writer.len < writer.cap.get());
        self.at(empty).store(pack(tag, tat), Ordering::Release);
        writer.len += 1;
    }

    /// After slot `hole` was emptied: shifts later members of its cluster back (each taken
    /// out with a swap, so updates made to it meanwhile move with it).
    fn close_gap(&self, mut hole: usize) {
        let mask = self.mask.load(Ordering::Acquire);
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let (tag, _) = unpack(self.at(j).load(Ordering::Acquire));
            if tag == 0 {
                break;
            }
            // The state at `j` may fill the hole if the hole lies between its home and `j`.
            let from_home = j.wrapping_sub(home(tag)) & mask;
            let from_hole = j.wrapping_sub(hole) & mask;
            if from_home >= from_hole {
                let moved = self.at(j).swap(0, Ordering::AcqRel);
                self.at(hole).store(moved, Ordering::Release);
                hole = j;
            }
        }
    }

    /// Evicts one state for the new key `tag`, sweeping from where its probe sequence
    /// starts: the first drained state met or, when `evict_active`, the first not referenced
    /// since a sweep last passed it (clearing the flags it passes), else the last one met.
    /// `false` when no drained state was found within [`SCAN`] slots and active states may
    /// not be evicted.
    fn evict(&self, writer: &mut Writer, tag: u64, now: u64, evict_active: bool) -> bool {
        let mask = self.mask.load(Ordering::Acquire);
        let mut last = None;
        let mut visited = 0;
        let mut i = home(tag) & mask;
        while visited < SCAN || (evict_active && last.is_none()) {
            if visited > 0 {
                i = (i + 1) & mask;
            }
            visited += 1;
            let slot = self.at(i);
            let mut value = slot.load(Ordering::Acquire);
            loop {
                let (tag, tat) = unpack(value);
                if tag == 0 {
                    break;
                }
                let evicted = Gcra::is_drained(tat, now) || (evict_active && tag & REFERENCED == 0);
                let next = if evicted {
                    0
                } else {
                    pack(tag & !REFERENCED, tat)
                };
                if next == value {
                    last = Some(i);
                    break;
                }
                // Only the very value judged: a check that lands first is judged again.
                match slot.compare_exchange(value, next, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) if evicted => {
                        self.close_gap(i);
                        writer.len -= 1;
                        return true;
                    }
                    Ok(_) => {
                        last = Some(i);
                        break;
                    }
                    Err(actual) => value = actual,
                }
            }
        }
        // Every state met was in use: the last of them goes.
        match last {
            Some(i) if evict_active => {
                self.at(i).swap(0, Ordering::AcqRel);
                self.close_gap(i);
                writer.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// Takes every state out, then puts back those `keep` accepts (by TAT) into a table of
    /// `size` slots; how many it dropped. Checks of this shard wait for the writer lock
    /// meanwhile (they miss their state and retry under it).
    fn rebuild(
        &self,
        writer: &mut Writer,
        size: usize,
        mut keep: impl FnMut(u64) -> bool,
    ) -> usize {
        let old_size = self.size();
        let states: Vec<u128> = (0..old_size)
            .map(|i| self.at(i).swap(0, Ordering::AcqRel))
            .filter(|&value| value != 0)
            .collect();
        if size > old_size {
            // Doubling: the new segment holds slots `old_size..size`.
            debug_assert_eq!(size, 2 * old_size);
            let (segment, _) = segment_of(old_size);
            self.segments[segment].get_or_init(|| empty_slots(old_size));
            self.mask.store(size - 1, Ordering::Release);
        }
        writer.len = 0;
        let mut dropped = 0;
        for value in states {
            let (tag, tat) = unpack(value);
            if keep(tat) {
                let i = self.vacancy(tag & !REFERENCED);
                self.at(i).store(value, Ordering::Release);
                writer.len += 1;
            } else {
                dropped += 1;
            }
        }
        dropped
    }
}

/// The segment holding slot `i`, and the slot's offset in it.
#[inline]
fn segment_of(i: usize) -> (usize, usize) {
    if i < FIRST_SEGMENT {
        (0, i)
    } else {
        let top = usize::BITS - 1 - i.leading_zeros();
        (
            (top - FIRST_SEGMENT.trailing_zeros() + 1) as usize,
            i - (1 << top),
        )
    }
}

/// What only the holder of a shard's writer lock changes.
struct Writer {
    len: usize,
    cap: NonZeroUsize,
    /// The table's size once it holds `cap` states (at most 3/4 full, so probe sequences
    /// stay short and always end).
    full_size: usize,
}

/// One shard, on cache lines of its own so checks in different shards do not contend.
#[repr(align(128))]
struct Shard {
    table: Table,
    writer: Mutex<Writer>,
}

impl Shard {
    fn new(cap: NonZeroUsize) -> Self {
        let full_size = (cap.get() + cap.get() / 3 + 1).next_power_of_two();
        Self {
            table: Table::new(full_size),
            writer: Mutex::new(Writer {
                len: 0,
                cap,
                full_size,
            }),
        }
    }

    /// Makes room for one more state without passing 3/4 of the table, doubling it if
    /// needed (with `len < cap`, the full-size table always has that room); whether it did,
    /// which moves every state.
    fn reserve_one(&self, writer: &mut Writer) -> bool {
        let size = self.table.size();
        let grow = (writer.len + 1) * 16 > size * 13;
        if grow {
            debug_assert!(
                size < writer.full_size,
                "a full-size table holds cap states"
            );
            self.table.rebuild(writer, size * 2, |_| true);
        }
        grow
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
    shards: Box<[Shard]>,
    shard_shift: u32,
    hasher: RandomState,
    overflow: Overflow,
    shared: Mutex<u64>,
    capacity: usize,
    pub(crate) counters: StoreCounters,
}

impl Store {
    pub(crate) fn new(capacity: NonZeroUsize, overflow: Overflow) -> Self {
        // Enough shards to keep writer-lock contention low on a many-core server.
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
                Shard::new(cap)
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

    #[inline]
    fn shard_of(&self, hash: u64) -> &Shard {
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
    #[inline]
    pub(crate) fn update<R>(
        &self,
        key: &[u8],
        now: u64,
        judge: impl Fn(&mut u64) -> R,
    ) -> Option<R> {
        let hash = self.hash(key);
        let tag = tag_of(hash);
        let shard = self.shard_of(hash);
        if let Some(outcome) = shard
            .table
            .find(tag)
            .ok()
            .and_then(|found| judge_slot(found, tag, &judge))
        {
            return Some(outcome);
        }
        self.admit(shard, tag, now, judge)
    }

    /// `update` for a key not found without the lock: new, or being moved by a writer.
    fn admit<R>(
        &self,
        shard: &Shard,
        tag: u64,
        now: u64,
        judge: impl Fn(&mut u64) -> R,
    ) -> Option<R> {
        let mut writer = lock(&shard.writer);
        // Under the lock no state moves: a state found now is judged where it is.
        let mut empty = loop {
            match shard.table.find(tag) {
                Ok(found) => {
                    if let Some(outcome) = judge_slot(found, tag, &judge) {
                        return Some(outcome);
                    }
                }
                Err(empty) => break empty,
            }
        };
        if writer.len == writer.cap.get() {
            if !shard
                .table
                .evict(&mut writer, tag, now, self.overflow == Overflow::EvictLru)
            {
                drop(writer);
                return self.overflowed(judge);
            }
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            // Closing the evicted state's gap may have shifted the probe sequence.
            empty = None;
        } else if shard.reserve_one(&mut writer) {
            empty = None;
        }
        let empty = empty.unwrap_or_else(|| shard.table.vacancy(tag));
        let mut tat = 0;
        let outcome = judge(&mut tat);
        shard.table.insert_at(&mut writer, empty, tag, tat);
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
        self.shards.iter().map(|s| lock(&s.writer).len).sum()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn overflow(&self) -> Overflow {
        self.overflow
    }

    /// Drops every drained state (they are indistinguishable from fresh ones), returning
    /// how many went. Never needed for boundedness (no table passes its final size); it makes
    /// room for new keys without evicting anything.
    pub(crate) fn retain_active(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut writer = lock(&shard.writer);
                let size = shard.table.size();
                shard
                    .table
                    .rebuild(&mut writer, size, |tat| !Gcra::is_drained(tat, now))
            })
            .sum()
    }
}

/// Judges the state found in a slot (with the value seen there), storing the outcome with
/// one compare-and-swap of tag and TAT together, retried when another check got there
/// first. `None` when the slot no longer holds the key (a writer moved or evicted it).
#[inline]
fn judge_slot<R>(
    (slot, mut value): (&Slot, u128),
    tag: u64,
    judge: &impl Fn(&mut u64) -> R,
) -> Option<R> {
    loop {
        let (found, current) = unpack(value);
        if found & !REFERENCED != tag {
            return None;
        }
        let mut tat = current;
        let outcome = judge(&mut tat);
        // Marked used: a key admitted once and never seen again is evicted first.
        let next = pack(found | REFERENCED, tat);
        if next == value {
            return Some(outcome);
        }
        match slot.compare_exchange_weak(value, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(outcome),
            Err(actual) => value = actual,
        }
    }
}

fn empty_slots(size: usize) -> Box<[Slot]> {
    (0..size).map(|_| AtomicU128::new(0)).collect()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock can at worst lose states (as eviction does), never leave
    // one half-written: slots are atomic.
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
            let total: usize = s.shards.iter().map(|m| lock(&m.writer).cap.get()).sum();
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
    fn tables_grow_with_the_keys_up_to_their_final_size() {
        let s = one_shard(10_000, Overflow::EvictLru);
        let size = |s: &Store| s.shards[0].table.size();
        assert_eq!(size(&s), FIRST_SEGMENT);
        let mut sizes = vec![size(&s)];
        for i in 0u32..30_000 {
            s.update(&i.to_be_bytes(), 0, |tat| *tat = 1_000);
            assert!(s.len() * 16 <= size(&s) * 13, "at most 13/16 full");
            if size(&s) != *sizes.last().unwrap() {
                sizes.push(size(&s));
            }
            // Every state admitted so far (or since the last eviction) is still found.
            if i < 10_000 {
                for j in (0..=i).step_by(997) {
                    assert_eq!(s.update(&j.to_be_bytes(), 0, |tat| *tat), Some(1_000));
                }
            }
        }
        // Doubling from 64 to 16 384 (10 000 + 10 000 / 3 + 1, rounded up), then no more.
        let expected: Vec<usize> = (6..=14).map(|bits| 1 << bits).collect();
        assert_eq!(sizes, expected);
        assert_eq!(s.len(), 10_000);
        assert_eq!(s.counters.evictions.load(Ordering::Relaxed), 20_000);
    }

    /// Checks of known keys take no lock: while other threads admit keys (doubling every
    /// table several times), no update may be lost or land on another key.
    #[test]
    fn concurrent_checks_lose_no_update_while_tables_grow() {
        const KEYS: u32 = 3_000;
        const ROUNDS: u64 = 20;
        const THREADS: u64 = 4;
        let s = store(10_000, Overflow::Reject);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let s = &s;
                scope.spawn(move || {
                    for round in 0..ROUNDS {
                        // Each thread and round walks the keys in another order.
                        let stride = [1, 7, 11, 13][t as usize] as u32;
                        for i in 0..KEYS {
                            let key = (i * stride + round as u32) % KEYS;
                            s.update(&key.to_be_bytes(), 0, |tat| *tat += 1)
                                .expect("room for every key");
                        }
                    }
                });
            }
        });
        assert_eq!(s.len(), KEYS as usize);
        for key in 0..KEYS {
            assert_eq!(
                s.update(&key.to_be_bytes(), 0, |tat| *tat),
                Some(THREADS * ROUNDS),
                "key {key}"
            );
        }
    }

    /// Evictions move states (closing the gap) while other threads check them without a
    /// lock: the active states survive a flood under `SharedBucket`, with every update.
    #[test]
    fn concurrent_flood_keeps_every_update_of_active_states() {
        const ACTIVE: u32 = 16;
        const FUTURE: u64 = 1 << 40;
        const CHECKS: u64 = 50_000;
        let s = one_shard(64, Overflow::SharedBucket);
        for i in 0..ACTIVE {
            s.update(format!("active {i}").as_bytes(), 0, |tat| *tat = FUTURE);
        }
        std::thread::scope(|scope| {
            for t in 0..2u32 {
                let s = &s;
                scope.spawn(move || {
                    // New keys that drain at once (TAT 5 at time 10): they evict each other.
                    for i in 0..50_000u32 {
                        let key = [t.to_be_bytes(), i.to_be_bytes()].concat();
                        s.update(&key, 10, |tat| *tat = 5);
                    }
                });
                scope.spawn(move || {
                    for round in 0..CHECKS {
                        let i = (round as u32 + t) % ACTIVE;
                        s.update(format!("active {i}").as_bytes(), 10, |tat| *tat += 1);
                    }
                });
            }
        });
        assert!(s.counters.evictions.load(Ordering::Relaxed) > 50_000);
        assert!(s.len() <= 64);
        let total: u64 = (0..ACTIVE)
            .map(|i| {
                s.update(format!("active {i}").as_bytes(), 10, |tat| *tat)
                    .expect("still admitted")
                    - FUTURE
            })
            .sum();
        assert_eq!(total, 2 * CHECKS, "every check of an active state counted");
    }

    /// A tag whose probe sequence starts at `home` (in a table of at most 64 slots).
    fn tag_at(home: u64, id: u64) -> u64 {
        (id << 8 | home) << 2 | OCCUPIED
    }

    /// The interleavings a check without a lock can meet, replayed one step at a time: the
    /// state it found was moved by a writer, and its old slot went to another key whose TAT
    /// equals the one it judged (the ABA case). Its swap must change nothing either time.
    #[test]
    fn a_check_whose_state_moved_changes_nothing() {
        let shard = Shard::new(NonZeroUsize::new(8).unwrap());
        let table = &shard.table;
        let mut writer = lock(&shard.writer);
        let (a, b, c) = (tag_at(3, 1), tag_at(3, 2), tag_at(4, 3));
        let insert = |writer: &mut Writer, tag, tat| {
            let empty = table.vacancy(tag);
            table.insert_at(writer, empty, tag, tat);
        };
        insert(&mut writer, a, 100);
        insert(&mut writer, b, 200);
        let stale = table.find(b).unwrap();
        assert!(std::ptr::eq(stale.0, table.at(4)), "b follows a");
        let add_one = |tat: &mut u64| *tat += 1;

        // `a` drains and is evicted: `b` shifts back into slot 3.
        assert!(table.evict(&mut writer, tag_at(3, 9), 150, false));
        assert_eq!(table.find(b).ok().map(|(_, v)| unpack(v)), Some((b, 200)));
        assert!(std::ptr::eq(table.find(b).unwrap().0, table.at(3)));
        assert_eq!(judge_slot(stale, b, &add_one), None);

        // `c` takes slot 4 with the very TAT the stale check judged.
        insert(&mut writer, c, 200);
        assert!(std::ptr::eq(table.find(c).unwrap().0, stale.0));
        assert_eq!(judge_slot(stale, b, &add_one), None);
        assert_eq!(table.find(c).ok().map(|(_, v)| unpack(v)), Some((c, 200)));
        assert_eq!(table.find(b).ok().map(|(_, v)| unpack(v)), Some((b, 200)));

        // A fresh look finds `b` where it is now, and the update lands there.
        assert_eq!(judge_slot(table.find(b).unwrap(), b, &add_one), Some(()));
        assert_eq!(table.find(b).ok().map(|(_, v)| unpack(v).1), Some(201));
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
            let shard = &s.shards[0];
            let mut live = 0;
            for i in 0..shard.table.size() {
                let slot = shard.table.at(i);
                let (tag, _) = unpack(slot.load(Ordering::Relaxed));
                if tag != 0 {
                    live += 1;
                    let (found, _) = shard.table.find(tag & !REFERENCED).expect("found");
                    assert!(std::ptr::eq(found, slot));
                }
            }
            assert_eq!(live, lock(&shard.writer).len);
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
