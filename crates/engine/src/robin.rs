//! The hash table behind hashes and sets: linear probing in Robin Hood order, which keeps the
//! slots sorted by the keys' 64-bit hashes.
//!
//! Why not std's `HashMap`: HSCAN and SSCAN need a cursor with Redis's guarantee (every element
//! present for the whole scan is returned at least once, whatever is inserted or deleted, and
//! however the table grows or shrinks, between two calls), and std's table has no position that
//! survives a resize. Redis gets one from its chained table with the reverse-binary cursor. Here
//! the order of the slots gives one directly:
//!
//! - Every element sits at or after its *home* slot (the top `bits` bits of its hash), and the
//!   occupied slots, read left to right, are in strictly increasing `(hash, key)` order (with no
//!   empty slot between an element and its home). Inserting shifts the run of elements after the
//!   new one right by one; removing shifts the displaced elements after it back left; growing and
//!   shrinking lay the elements out again in the same order. No operation changes the order.
//! - So a SCAN cursor is a hash value: a call returns the elements whose hash is at least the
//!   cursor, in order, and the next cursor is the hash of the first element it did not return
//!   (0 at the end). The calls of a scan cover consecutive intervals of the hash space, and no
//!   element's hash ever changes, so an element present for the whole scan is returned exactly
//!   once; one added or removed during the scan at most once. All elements of one hash value are
//!   returned by the same call (a collision does not split across calls).
//! - Cost: the cursor's position is found by probing from its home slot, like a lookup (expected
//!   O(1)); then a call reads `count` elements and the empty slots between them. The table is
//!   kept at least 1/8 full (it shrinks below that), so a call is O(count) amortised and a whole
//!   scan O(n).
//!
//! The same layout makes lookups of absent keys stop early (at the first larger hash), and makes
//! a uniformly random element cheap: a random slot, retried while empty.
//!
//! The hasher has one seed per process (see `types`), to be shared by the replicas of a group:
//! the order, and so replies, are the same on every replica. The layout (and with it which
//! element a seeded random pick lands on) is a
//! deterministic function of the contents and the table size (`bits`), and the size depends on
//! the operations applied: a copy rebuilt from DUMP may have another. Raft snapshots therefore
//! keep each set's size (`layout_bits`), so SPOP, applied from the log, picks the same members
//! on every replica. The seed is chosen at random when a cluster is created and kept with its
//! data, so clients cannot craft members that share a home slot (with a known seed, probing
//! would degrade to O(n)), and every replica and restart hashes alike.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::exec::Rng;
use crate::types::{Bytes, collection_hasher};

/// The smallest table: 8 home slots.
const BITS_MIN: u32 = 3;
/// A table grows when more than 3/4 of its home slots would be in use...
const LOAD_MAX_NUMERATOR: usize = 3;
const LOAD_MAX_DENOMINATOR: usize = 4;
/// ...and shrinks when less than 1/8 are. The gap between the two keeps a workload that adds and
/// removes one element at a threshold from rebuilding the table every time.
const LOAD_MIN_DENOMINATOR: usize = 8;
/// Random slots tried before a random pick falls back to the next occupied slot. At the lowest
/// load (1/8) 64 misses in a row happen once in some 5,000 picks.
const RANDOM_TRIES_MAX: usize = 64;

fn hash_of(key: &[u8]) -> u64 {
    collection_hasher().hash_one(key)
}

#[derive(Clone, Debug)]
struct Slot<V> {
    hash: u64,
    key: Bytes,
    value: V,
}

impl<V> Slot<V> {
    fn order(&self, hash: u64, key: &[u8]) -> Ordering {
        (self.hash, &*self.key).cmp(&(hash, key))
    }
}

/// A map from byte strings to `V`, iterated in the order of the keys' hashes.
#[derive(Clone, Debug)]
pub struct RobinMap<V> {
    /// `1 << bits` home slots, then as many more as elements displaced past the last one need.
    /// Empty (no allocation) while the map is.
    slots: Vec<Option<Slot<V>>>,
    len: usize,
    bits: u32,
}

impl<V> Default for RobinMap<V> {
    fn default() -> Self {
        RobinMap {
            slots: Vec::new(),
            len: 0,
            bits: BITS_MIN,
        }
    }
}

/// Equal contents, whatever the capacity: both iterate in the same `(hash, key)` order.
impl<V: PartialEq> PartialEq for RobinMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<V> RobinMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn buckets(&self) -> usize {
        1 << self.bits
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    /// The slot holding `key` (`Ok`), or the slot it would be inserted at (`Err`).
    fn search(&self, hash: u64, key: &[u8]) -> Result<usize, usize> {
        let mut i = self.home(hash);
        while let Some(Some(slot)) = self.slots.get(i) {
            match slot.order(hash, key) {
                Ordering::Less => i += 1,
                Ordering::Equal => return Ok(i),
                Ordering::Greater => break,
            }
        }
        Err(i)
    }

    fn find(&self, key: &[u8]) -> Option<&Slot<V>> {
        let i = self.search(hash_of(key), key).ok()?;
        self.slots[i].as_ref()
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|s| &s.value)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.search(hash_of(key), key).ok()?;
        self.slots[i].as_mut().map(|s| &mut s.value)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; returns the value replaced. The key is converted to an owned one
    /// only when it is new (so `&[u8]` costs no allocation for an existing key, and an owned
    /// key is moved in without a copy).
    pub fn insert<K: AsRef<[u8]> + Into<Bytes>>(&mut self, key: K, value: V) -> Option<V> {
        let hash = hash_of(key.as_ref());
        if self.slots.is_empty() {
            self.rebuild(BITS_MIN);
        }
        let at = match self.search(hash, key.as_ref()) {
            Ok(i) => {
                let slot = self.slots[i].as_mut().expect("search found it");
                return Some(std::mem::replace(&mut slot.value, value));
            }
            Err(at) => at,
        };
        // Shift the run from `at` to the next empty slot right by one, then fill `at`.
        let empty = match self.slots[at..].iter().position(Option::is_none) {
            Some(offset) => at + offset,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.slots[at..=empty].rotate_right(1);
        self.slots[at] = Some(Slot {
            hash,
            key: key.into(),
            value,
        });
        self.len += 1;
        if self.len * LOAD_MAX_DENOMINATOR > self.buckets() * LOAD_MAX_NUMERATOR {
            self.rebuild(self.bits + 1);
        }
        None
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.search(hash_of(key), key).ok()?;
        Some(self.remove_at(i).1)
    }

    /// Removes the element in slot `index` (which must be occupied).
    fn remove_at(&mut self, index: usize) -> (Bytes, V) {
        let slot = self.slots[index].take().expect("an occupied slot");
        // Backward shift: pull each displaced successor one slot closer to its home.
        let mut i = index;
        while let Some(Some(next)) = self.slots.get(i + 1) {
            if self.home(next.hash) > i {
                break;
            }
            self.slots.swap(i, i + 1);
            i += 1;
        }
        while self.slots.len() > self.buckets() && self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        self.len -= 1;
        if self.len == 0 {
            *self = Self::default();
        } else if self.bits > BITS_MIN && self.len * LOAD_MIN_DENOMINATOR < self.buckets() {
            self.rebuild(self.bits - 1);
        }
        (slot.key, slot.value)
    }

    /// The table's size, as `log2` of its home slots. With the contents and the seed it fixes
    /// the layout, and so which element a seeded random pick lands on: snapshots keep it, so a
    /// replica restored from one picks as the replica that wrote it would have.
    pub(crate) fn layout_bits(&self) -> u32 {
        self.bits
    }

    /// Lays the table out over `1 << bits` home slots (as [`RobinMap::layout_bits`] reported).
    pub(crate) fn set_layout_bits(&mut self, bits: u32) {
        if self.len > 0 && (BITS_MIN..=48).contains(&bits) && bits != self.bits {
            self.rebuild(bits);
        }
    }

    /// Lays the elements out again over `1 << bits` home slots, in one pass: they are already
    /// in order, so each goes to its home slot or just after the previous one.
    fn rebuild(&mut self, bits: u32) {
        let old = std::mem::take(&mut self.slots);
        self.bits = bits;
        let mut slots: Vec<Option<Slot<V>>> = Vec::with_capacity(self.buckets());
        slots.resize_with(self.buckets(), || None);
        let mut next = 0;
        for slot in old.into_iter().flatten() {
            let i = self.home(slot.hash).max(next);
            if i == slots.len() {
                slots.push(None);
            }
            slots[i] = Some(slot);
            next = i + 1;
        }
        self.slots = slots;
    }

    /// Every element, in hash order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter(self.slots.iter().flatten())
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.iter().map(|(k, _)| k)
    }

    /// Visits the elements whose hash is at least `cursor`, in order: `count` of them, plus any
    /// more with the last one's hash. Returns the cursor to continue from, 0 when none is left.
    /// See the module documentation for why this is a sound SCAN cursor.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a V),
    ) -> u64 {
        assert!(count > 0, "a scan step visits at least one element");
        let start = self.home(cursor).min(self.slots.len());
        let mut visited = 0;
        let mut last_hash = None;
        for slot in self.slots[start..].iter().flatten() {
            // Only the run displaced into the cursor's home slot can come before the cursor.
            if slot.hash < cursor {
                continue;
            }
            if visited >= count && last_hash != Some(slot.hash) {
                // Larger than a hash already visited, so never 0.
                return slot.hash;
            }
            visit(&slot.key, &slot.value);
            visited += 1;
            last_hash = Some(slot.hash);
        }
        0
    }

    /// The slot of an element chosen uniformly at random (each element has one slot), or None
    /// if the map is empty.
    pub(crate) fn random_slot(&self, rng: &mut Rng) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut i = 0;
        for _ in 0..RANDOM_TRIES_MAX {
            i = (rng.next() % self.slots.len() as u64) as usize;
            if self.slots[i].is_some() {
                return Some(i);
            }
        }
        // Unlucky: take the next occupied slot after the last miss (slightly less uniform).
        let n = self.slots.len();
        (1..n)
            .map(|d| (i + d) % n)
            .find(|&j| self.slots[j].is_some())
    }

    /// The element in slot `index`, as returned by `random_slot`.
    pub(crate) fn slot(&self, index: usize) -> (&[u8], &V) {
        let slot = self.slots[index].as_ref().expect("an occupied slot");
        (&slot.key, &slot.value)
    }

    /// Removes the element in slot `index`, as returned by `random_slot`.
    pub(crate) fn take_slot(&mut self, index: usize) -> (Bytes, V) {
        self.remove_at(index)
    }

    /// The slots of every element, in order.
    fn occupied_slots(&self) -> Vec<usize> {
        let occupied = self.slots.iter().enumerate().filter(|(_, s)| s.is_some());
        occupied.map(|(i, _)| i).collect()
    }

    /// The slots of `count` distinct elements chosen at random; of every element, in order, if
    /// `count` is at least the length. O(count) expected either way.
    pub(crate) fn random_distinct_slots(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        if count >= self.len {
            return self.occupied_slots();
        }
        if count * 2 <= self.len {
            // Few: pick and retry repeats, fewer than two tries a pick on average.
            let mut chosen = Vec::with_capacity(count);
            let mut seen = HashSet::with_capacity_and_hasher(count, collection_hasher());
            while chosen.len() < count {
                let slot = self.random_slot(rng).expect("not empty");
                if seen.insert(slot) {
                    chosen.push(slot);
                }
            }
            return chosen;
        }
        // Many: the first `count` of a partial Fisher-Yates shuffle of all of them.
        let mut all = self.occupied_slots();
        for k in 0..count {
            let pick = k + (rng.next() % (all.len() - k) as u64) as usize;
            all.swap(k, pick);
        }
        all.truncate(count);
        all
    }
}

/// The elements of a [`RobinMap`], in hash order.
pub struct Iter<'a, V>(std::iter::Flatten<std::slice::Iter<'a, Option<Slot<V>>>>);

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a [u8], &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|s| (&*s.key, &s.value))
    }
}

impl<'a, V> IntoIterator for &'a RobinMap<V> {
    type Item = (&'a [u8], &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A set of byte strings, iterated in the order of their hashes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RobinSet(RobinMap<()>);

impl RobinSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.0.contains_key(member)
    }

    /// Adds a member; true if it was not there. Converted to an owned key only when new.
    pub fn insert<K: AsRef<[u8]> + Into<Bytes>>(&mut self, member: K) -> bool {
        self.0.insert(member, ()).is_none()
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.0.remove(member).is_some()
    }

    /// Every member, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.keys()
    }

    /// Every member (with the map's unit value), as a nameable iterator.
    pub(crate) fn members(&self) -> Iter<'_, ()> {
        self.0.iter()
    }

    /// See [`RobinMap::scan`].
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(&'a [u8])) -> u64 {
        self.0.scan(cursor, count, |k, _| visit(k))
    }

    /// See [`RobinMap::layout_bits`].
    pub(crate) fn layout_bits(&self) -> u32 {
        self.0.layout_bits()
    }

    /// See [`RobinMap::set_layout_bits`].
    pub(crate) fn set_layout_bits(&mut self, bits: u32) {
        self.0.set_layout_bits(bits)
    }

    /// See [`RobinMap::random_slot`].
    pub(crate) fn random_slot(&self, rng: &mut Rng) -> Option<usize> {
        self.0.random_slot(rng)
    }

    pub(crate) fn slot(&self, index: usize) -> &[u8] {
        self.0.slot(index).0
    }

    pub(crate) fn take_slot(&mut self, index: usize) -> Bytes {
        self.0.take_slot(index).0
    }

    /// See [`RobinMap::random_distinct_slots`].
    pub(crate) fn random_distinct_slots(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        self.0.random_distinct_slots(count, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use std::collections::{BTreeMap, BTreeSet};

    impl<V> RobinMap<V> {
        /// Checks the layout the module documentation promises.
        fn check_invariants(&self) {
            let occupied: Vec<(usize, &Slot<V>)> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
                .collect();
            assert_eq!(occupied.len(), self.len);
            for pair in occupied.windows(2) {
                let (a, b) = (pair[0].1, pair[1].1);
                assert_eq!(a.order(b.hash, &b.key), Ordering::Less, "out of order");
            }
            for &(i, slot) in &occupied {
                let home = self.home(slot.hash);
                assert!(home <= i, "an element before its home slot");
                assert!(
                    self.slots[home..i].iter().all(Option::is_some),
                    "a gap between an element and its home slot"
                );
                assert_eq!(slot.hash, hash_of(&slot.key));
            }
            if self.len > 0 {
                assert!(self.slots.len() >= self.buckets());
                assert!(self.len * LOAD_MAX_DENOMINATOR <= self.buckets() * LOAD_MAX_NUMERATOR);
            }
            if self.bits > BITS_MIN {
                assert!(self.len * LOAD_MIN_DENOMINATOR >= self.buckets());
            }
        }
    }

    fn key(n: u32) -> Vec<u8> {
        format!("k{n}").into_bytes()
    }

    #[test]
    fn maps_insert_replace_get_and_remove() {
        let mut m: RobinMap<u32> = RobinMap::new();
        assert_eq!(m.get(b"x"), None);
        assert_eq!(m.remove(b"x"), None);
        for n in 0..1000 {
            assert_eq!(m.insert(&key(n)[..], n), None);
            m.check_invariants();
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.insert(key(7), 70), Some(7));
        assert_eq!(m.get(&key(7)), Some(&70));
        *m.get_mut(&key(8)).unwrap() = 80;
        assert_eq!(m.get(&key(8)), Some(&80));
        for n in (0..1000).step_by(2) {
            assert!(m.remove(&key(n)).is_some());
            assert!(!m.contains_key(&key(n)));
            m.check_invariants();
        }
        assert_eq!(m.len(), 500);
        for n in (1..1000).step_by(2) {
            m.remove(&key(n));
        }
        assert!(m.is_empty());
        assert!(m.slots.is_empty(), "an emptied map gives its memory back");
    }

    #[test]
    fn iteration_is_in_hash_order_and_equality_ignores_capacity() {
        let mut grown: RobinMap<()> = RobinMap::new();
        for n in 0..5000 {
            grown.insert(key(n), ());
        }
        for n in 100..5000 {
            grown.remove(&key(n));
        }
        let mut fresh: RobinMap<()> = RobinMap::new();
        for n in (0..100).rev() {
            fresh.insert(key(n), ());
        }
        assert_eq!(grown, fresh);
        let hashes: Vec<u64> = grown.keys().map(hash_of).collect();
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        fresh.remove(&key(3));
        assert_ne!(grown, fresh);
    }

    /// Scans `map` to the end, changing it between calls with `between`.
    fn full_scan(
        map: &mut RobinMap<()>,
        count: usize,
        mut between: impl FnMut(&mut RobinMap<()>, usize),
    ) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut cursor = 0;
        for call in 0.. {
            cursor = map.scan(cursor, count, |k, _| seen.push(k.to_vec()));
            if cursor == 0 {
                break;
            }
            between(map, call);
        }
        seen
    }

    #[test]
    fn a_scan_returns_each_element_once_when_nothing_changes() {
        let mut m = RobinMap::new();
        for n in 0..3000 {
            m.insert(key(n), ());
        }
        for count in [1, 7, 100, 5000] {
            let seen = full_scan(&mut m, count, |_, _| {});
            assert_eq!(seen.len(), 3000, "count {count}");
            let distinct: BTreeSet<_> = seen.iter().collect();
            assert_eq!(distinct.len(), 3000);
        }
    }

    #[test]
    fn a_scan_survives_growth_and_shrinking_between_calls() {
        // Keys 0..1000 stay for the whole scan; between calls the table grows to 64k elements,
        // then shrinks back below the start.
        let mut m = RobinMap::new();
        for n in 0..1000 {
            m.insert(key(n), ());
        }
        let seen = full_scan(&mut m, 10, |m, call| {
            if call < 30 {
                for n in 0..2000 {
                    m.insert(key(1_000_000 + call as u32 * 2000 + n), ());
                }
            } else if call < 60 {
                for n in 0..2000 {
                    m.remove(&key(1_000_000 + (call as u32 - 30) * 2000 + n));
                }
            }
        });
        let seen: BTreeSet<Vec<u8>> = seen.into_iter().collect();
        for n in 0..1000 {
            assert!(seen.contains(&key(n)), "key {n} was missed");
        }
        m.check_invariants();
    }

    #[test]
    fn a_scan_step_reads_count_elements_not_the_table() {
        // 100k elements; a step from the middle visits `count`, not everything after it.
        let mut m = RobinMap::new();
        for n in 0..100_000 {
            m.insert(key(n), ());
        }
        let mut visited = 0;
        let next = m.scan(u64::MAX / 2, 10, |_, _| visited += 1);
        assert_eq!(visited, 10);
        assert!(next > u64::MAX / 2);
    }

    #[test]
    fn random_slots_cover_every_element_roughly_evenly() {
        let mut m = RobinMap::new();
        for n in 0..50 {
            m.insert(key(n), ());
        }
        let mut rng = Rng::new(7);
        let mut hits: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
        for _ in 0..50_000 {
            let i = m.random_slot(&mut rng).unwrap();
            *hits.entry(m.slot(i).0.to_vec()).or_default() += 1;
        }
        assert_eq!(hits.len(), 50);
        // 1000 expected each; a fair draw stays within ±20% with overwhelming probability.
        assert!(hits.values().all(|&h| (800..1200).contains(&h)), "{hits:?}");
        assert_eq!(RobinMap::<()>::new().random_slot(&mut rng), None);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
        TakeRandom(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u16..400).prop_map(Op::Insert),
            2 => (0u16..400).prop_map(Op::Remove),
            1 => any::<u64>().prop_map(Op::TakeRandom),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..600)) {
            let mut m: RobinMap<u16> = RobinMap::new();
            let mut model: BTreeMap<Vec<u8>, u16> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(n) => {
                        let k = key(u32::from(n));
                        prop_assert_eq!(m.insert(&k[..], n), model.insert(k, n));
                    }
                    Op::Remove(n) => {
                        let k = key(u32::from(n));
                        prop_assert_eq!(m.remove(&k), model.remove(&k));
                    }
                    Op::TakeRandom(seed) => {
                        match m.random_slot(&mut Rng::new(seed)) {
                            Some(i) => {
                                let (k, v) = m.take_slot(i);
                                prop_assert_eq!(model.remove(&k[..]), Some(v));
                            }
                            None => prop_assert!(model.is_empty()),
                        }
                    }
                }
                m.check_invariants();
            }
            let mut got: Vec<(Vec<u8>, u16)> = m.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
            got.sort();
            let want: Vec<(Vec<u8>, u16)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
