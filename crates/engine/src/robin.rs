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

use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::exec::Rng;
use crate::types::{Bytes, collection_hasher};

/// The smallest table: 8 home slots.
const BITS_MIN: u32 = 3;
/// A run that spills past the last home slot gets slots after it, this many at a time: growing
/// the vector by one would double its allocation (for a big hash, 32 MiB more for a few slots).
const OVERFLOW_SLOTS_STEP: usize = 16;
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

/// An element: one allocation holding the key, then (in a map with values) the value and the
/// key's length as a varint *at the end*, read backwards. A slot is that one pointer (16 bytes,
/// `None` free by the niche), not a stored hash plus two allocations: a hash of a million
/// fields took 108 bytes a field that way against Redis's 80. The hash is computed again from the
/// key where the order is needed (a probe past an unequal key, a resize, a scan step).
type Record = Box<[u8]>;

fn encode<const VALUES: bool>(key: &[u8], value: &[u8]) -> Record {
    if !VALUES {
        debug_assert!(value.is_empty());
        return key.into();
    }
    let mut out = Vec::with_capacity(key.len() + value.len() + 10);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let mut len = key.len();
    let mut tail = [0u8; 10];
    let mut n = 0;
    loop {
        tail[n] = (len & 0x7f) as u8;
        len >>= 7;
        n += 1;
        if len == 0 {
            break;
        }
    }
    // Low group first, so that reading backwards from the end meets it last: every byte but
    // that one carries the continuation bit.
    for (i, b) in tail[..n].iter().enumerate() {
        out.push(if i == 0 { *b } else { b | 0x80 });
    }
    out.into_boxed_slice()
}

/// Splits a record into its key and value.
fn split<const VALUES: bool>(record: &[u8]) -> (&[u8], &[u8]) {
    if !VALUES {
        return (record, &[]);
    }
    let mut end = record.len();
    let mut len = 0usize;
    loop {
        end -= 1;
        let byte = record[end];
        len = (len << 7) | usize::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            break;
        }
    }
    (&record[..len], &record[len..end])
}

fn key_of<const VALUES: bool>(record: &[u8]) -> &[u8] {
    split::<VALUES>(record).0
}

/// A map from byte strings to byte strings (`VALUES`), or a set of byte strings (not
/// `VALUES`), iterated in the order of the keys' hashes.
#[derive(Clone, Debug)]
pub struct RobinMap<const VALUES: bool> {
    /// `1 << bits` home slots, then as many more as elements displaced past the last one need.
    /// Empty (no allocation) while the map is.
    slots: Vec<Option<Record>>,
    len: usize,
    bits: u32,
}

impl<const VALUES: bool> Default for RobinMap<VALUES> {
    fn default() -> Self {
        RobinMap {
            slots: Vec::new(),
            len: 0,
            bits: BITS_MIN,
        }
    }
}

/// Adds an empty slot at the end, past the home slots (see [`OVERFLOW_SLOTS_STEP`]).
fn push_overflow(slots: &mut Vec<Option<Record>>) {
    if slots.len() == slots.capacity() {
        slots.reserve_exact(OVERFLOW_SLOTS_STEP);
    }
    slots.push(None);
}

/// Equal contents, whatever the capacity: both iterate in the same `(hash, key)` order.
impl<const VALUES: bool> PartialEq for RobinMap<VALUES> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<const VALUES: bool> RobinMap<VALUES> {
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

    fn record(&self, index: usize) -> &[u8] {
        self.slots[index].as_deref().expect("an occupied slot")
    }

    /// The slot holding `key` (`Ok`), or the slot it would be inserted at (`Err`).
    fn search(&self, hash: u64, key: &[u8]) -> Result<usize, usize> {
        let mut i = self.home(hash);
        while let Some(Some(record)) = self.slots.get(i) {
            let k = key_of::<VALUES>(record);
            if k == key {
                return Ok(i);
            }
            if (hash_of(k), k) > (hash, key) {
                break;
            }
            i += 1;
        }
        Err(i)
    }

    fn find(&self, key: &[u8]) -> Option<&[u8]> {
        let i = self.search(hash_of(key), key).ok()?;
        Some(self.record(i))
    }

    /// The value of `key` (empty in a set).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|r| split::<VALUES>(r).1)
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; true if `key` is new.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let hash = hash_of(key);
        if self.slots.is_empty() {
            self.rebuild(BITS_MIN);
        }
        let at = match self.search(hash, key) {
            Ok(i) => {
                if VALUES {
                    self.slots[i] = Some(encode::<VALUES>(key, value));
                }
                return false;
            }
            Err(at) => at,
        };
        // Shift the run from `at` to the next empty slot right by one, then fill `at`.
        let empty = match self.slots[at..].iter().position(Option::is_none) {
            Some(offset) => at + offset,
            None => {
                push_overflow(&mut self.slots);
                self.slots.len() - 1
            }
        };
        self.slots[at..=empty].rotate_right(1);
        self.slots[at] = Some(encode::<VALUES>(key, value));
        self.len += 1;
        if self.len * LOAD_MAX_DENOMINATOR > self.buckets() * LOAD_MAX_NUMERATOR {
            self.rebuild(self.bits + 1);
        }
        true
    }

    /// Removes `key`; true if it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.search(hash_of(key), key) {
            Ok(i) => {
                self.remove_at(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Removes the element in slot `index` (which must be occupied), returning its record.
    fn remove_at(&mut self, index: usize) -> Record {
        let record = self.slots[index].take().expect("an occupied slot");
        // Backward shift: pull each displaced successor one slot closer to its home.
        let mut i = index;
        while let Some(Some(next)) = self.slots.get(i + 1) {
            if self.home(hash_of(key_of::<VALUES>(next))) > i {
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
        record
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
        let mut slots: Vec<Option<Record>> =
            Vec::with_capacity(self.buckets() + OVERFLOW_SLOTS_STEP);
        slots.resize_with(self.buckets(), || None);
        let mut next = 0;
        for record in old.into_iter().flatten() {
            let i = self.home(hash_of(key_of::<VALUES>(&record))).max(next);
            if i == slots.len() {
                push_overflow(&mut slots);
            }
            slots[i] = Some(record);
            next = i + 1;
        }
        self.slots = slots;
    }

    /// Every element, in hash order.
    pub fn iter(&self) -> Iter<'_, VALUES> {
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
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        assert!(count > 0, "a scan step visits at least one element");
        let start = self.home(cursor).min(self.slots.len());
        let mut visited = 0;
        let mut last_hash = None;
        for record in self.slots[start..].iter().flatten() {
            let (key, value) = split::<VALUES>(record);
            let hash = hash_of(key);
            // Only the run displaced into the cursor's home slot can come before the cursor.
            if hash < cursor {
                continue;
            }
            if visited >= count && last_hash != Some(hash) {
                // Larger than a hash already visited, so never 0.
                return hash;
            }
            visit(key, value);
            visited += 1;
            last_hash = Some(hash);
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
    pub(crate) fn slot(&self, index: usize) -> (&[u8], &[u8]) {
        split::<VALUES>(self.record(index))
    }

    /// Removes the element in slot `index`, as returned by `random_slot`; returns its key.
    pub(crate) fn take_slot(&mut self, index: usize) -> Bytes {
        let record = self.remove_at(index);
        if VALUES {
            key_of::<VALUES>(&record).into()
        } else {
            record
        }
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
pub struct Iter<'a, const VALUES: bool>(std::iter::Flatten<std::slice::Iter<'a, Option<Record>>>);

impl<'a, const VALUES: bool> Iterator for Iter<'a, VALUES> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| split::<VALUES>(r))
    }
}

impl<'a, const VALUES: bool> IntoIterator for &'a RobinMap<VALUES> {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a, VALUES>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The table of a large hash.
pub type RobinHash = RobinMap<true>;
/// The table of a large set: its records are the members themselves.
pub type RobinSet = RobinMap<false>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use std::cmp::Ordering;
    use std::collections::{BTreeMap, BTreeSet};

    impl<const VALUES: bool> RobinMap<VALUES> {
        /// Checks the layout the module documentation promises.
        fn check_invariants(&self) {
            let occupied: Vec<(usize, u64, &[u8])> = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    let key = key_of::<VALUES>(s.as_deref()?);
                    Some((i, hash_of(key), key))
                })
                .collect();
            assert_eq!(occupied.len(), self.len);
            for pair in occupied.windows(2) {
                let (a, b) = ((pair[0].1, pair[0].2), (pair[1].1, pair[1].2));
                assert_eq!(a.cmp(&b), Ordering::Less, "out of order");
            }
            for &(i, hash, _) in &occupied {
                let home = self.home(hash);
                assert!(home <= i, "an element before its home slot");
                assert!(
                    self.slots[home..i].iter().all(Option::is_some),
                    "a gap between an element and its home slot"
                );
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

    fn value(n: u32) -> Vec<u8> {
        // Lengths from 0 up, some past a one-byte varint for the key length's neighbour.
        vec![b'v'; (n % 200) as usize]
    }

    #[test]
    fn records_split_back_into_key_and_value() {
        for (k, v) in [
            (0, 0),
            (1, 0),
            (0, 5),
            (127, 3),
            (128, 0),
            (300, 1),
            (20_000, 7),
        ] {
            let (key, value) = (vec![b'k'; k], vec![0x80u8; v]);
            let record = encode::<true>(&key, &value);
            assert_eq!(split::<true>(&record), (&key[..], &value[..]), "{k} {v}");
        }
        assert_eq!(
            split::<false>(&encode::<false>(b"m", b"")),
            (&b"m"[..], &b""[..])
        );
    }

    #[test]
    fn a_slot_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Option<Record>>(), 16);
    }

    #[test]
    fn maps_insert_replace_get_and_remove() {
        let mut m: RobinHash = RobinMap::new();
        assert_eq!(m.get(b"x"), None);
        assert!(!m.remove(b"x"));
        for n in 0..1000 {
            assert!(m.insert(&key(n), &value(n)));
            m.check_invariants();
        }
        assert_eq!(m.len(), 1000);
        assert!(!m.insert(&key(7), b"seventy"));
        assert_eq!(m.get(&key(7)), Some(&b"seventy"[..]));
        assert_eq!(m.get(&key(150)), Some(&value(150)[..]));
        for n in (0..1000).step_by(2) {
            assert!(m.remove(&key(n)));
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
    fn a_run_past_the_last_home_slot_does_not_double_the_allocation() {
        let mut m = RobinSet::new();
        let mut spilled = 0;
        for n in 0..100_000 {
            m.insert(&key(n), b"");
            spilled += usize::from(m.slots.len() > m.buckets());
            assert!(
                m.slots.capacity() <= m.buckets() + 4 * OVERFLOW_SLOTS_STEP,
                "{} slots of capacity for {} home slots",
                m.slots.capacity(),
                m.buckets()
            );
        }
        assert!(spilled > 0, "the test never had a run spill over the end");
    }

    #[test]
    fn iteration_is_in_hash_order_and_equality_ignores_capacity() {
        let mut grown = RobinSet::new();
        for n in 0..5000 {
            grown.insert(&key(n), b"");
        }
        for n in 100..5000 {
            grown.remove(&key(n));
        }
        let mut fresh = RobinSet::new();
        for n in (0..100).rev() {
            fresh.insert(&key(n), b"");
        }
        assert_eq!(grown, fresh);
        let hashes: Vec<u64> = grown.keys().map(hash_of).collect();
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
        fresh.remove(&key(3));
        assert_ne!(grown, fresh);
    }

    /// Scans `map` to the end, changing it between calls with `between`.
    fn full_scan(
        map: &mut RobinSet,
        count: usize,
        mut between: impl FnMut(&mut RobinSet, usize),
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
        let mut m = RobinSet::new();
        for n in 0..3000 {
            m.insert(&key(n), b"");
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
        let mut m = RobinSet::new();
        for n in 0..1000 {
            m.insert(&key(n), b"");
        }
        let seen = full_scan(&mut m, 10, |m, call| {
            if call < 30 {
                for n in 0..2000 {
                    m.insert(&key(1_000_000 + call as u32 * 2000 + n), b"");
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
        let mut m = RobinSet::new();
        for n in 0..100_000 {
            m.insert(&key(n), b"");
        }
        let mut visited = 0;
        let next = m.scan(u64::MAX / 2, 10, |_, _| visited += 1);
        assert_eq!(visited, 10);
        assert!(next > u64::MAX / 2);
    }

    #[test]
    fn random_slots_cover_every_element_roughly_evenly() {
        let mut m = RobinSet::new();
        for n in 0..50 {
            m.insert(&key(n), b"");
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
        assert_eq!(RobinSet::new().random_slot(&mut rng), None);
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
            let mut m = RobinHash::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(n) => {
                        let (k, v) = (key(u32::from(n)), value(u32::from(n) * 7));
                        prop_assert_eq!(m.insert(&k, &v), model.insert(k, v).is_none());
                    }
                    Op::Remove(n) => {
                        let k = key(u32::from(n));
                        prop_assert_eq!(m.remove(&k), model.remove(&k).is_some());
                    }
                    Op::TakeRandom(seed) => {
                        match m.random_slot(&mut Rng::new(seed)) {
                            Some(i) => {
                                let v = m.slot(i).1.to_vec();
                                let k = m.take_slot(i);
                                prop_assert_eq!(model.remove(&k[..]), Some(v));
                            }
                            None => prop_assert!(model.is_empty()),
                        }
                    }
                }
                m.check_invariants();
            }
            let mut got: Vec<(Vec<u8>, Vec<u8>)> =
                m.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            got.sort();
            let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
            prop_assert_eq!(got, want);
        }
    }
}
