//! Small hashes and sets in one allocation, as Redis keeps them in a listpack (or an intset).
//!
//! A hash of ten short fields in a hash table costs a table of slots plus two allocations per
//! field: about 1.5 KB, where Redis's listpack takes about 150 bytes. So a hash or set starts as
//! a [`Pack`] (one length byte, then the bytes, for each string, back to back) and becomes a
//! [`RobinMap`] once it outgrows Redis's default thresholds: more than 128 entries, or an
//! element longer than 64 bytes (a set of integers only stays packed up to 512 members, and
//! keeps them in numeric order, as Redis's intset does). The change is one way, as in Redis.
//!
//! A pack is searched front to back, which for 128 short entries is a few hundred nanoseconds;
//! HSCAN and SSCAN return a packed collection whole with cursor 0, as Redis does for a listpack.
//!
//! Determinism: which representation a collection has, and a pack's order, follow from the
//! operations applied alone (insertion order; numeric order for integer sets), so every replica
//! applying the same log holds the same bytes. DUMP payloads and snapshots record the
//! representation, so a restored copy keeps it.

use std::cmp::Ordering;

use crate::exec::Rng;
use crate::robin::{RobinHash, RobinSet};
use crate::types::Bytes;
use crate::value::parse_canonical_i64;

/// Members a packed set (and a packed sorted set) holds before it becomes a table
/// (`set-max-listpack-entries`, `zset-max-listpack-entries`: Redis's default, 128).
pub const PACK_ENTRIES_MAX: usize = 128;
/// Fields a packed hash holds before it becomes a table (`hash-max-listpack-entries`: Redis's
/// default, 512, as `redis-server` with no config file and the shipped redis.conf both set).
pub const HASH_PACK_ENTRIES_MAX: usize = 512;
/// The longest field, value or member a pack holds (`hash-max-listpack-value`,
/// `set-max-listpack-value`). A length fits one byte.
pub const PACK_ELEMENT_BYTES_MAX: usize = 64;
/// Members a set of integers holds before it becomes a table (`set-max-intset-entries`).
pub const INTSET_ENTRIES_MAX: usize = 512;

const _: () = assert!(PACK_ELEMENT_BYTES_MAX <= u8::MAX as usize);

/// Records of `W` strings each, in one boxed slice: per string a length byte, then its bytes.
/// The first string of a record is its key. Grows by reallocating to the exact size, as a
/// listpack does: the allocator's size classes absorb most of those in place.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack<const W: usize> {
    bytes: Box<[u8]>,
    records: u32,
}

impl<const W: usize> Pack<W> {
    pub fn len(&self) -> usize {
        self.records as usize
    }

    /// Reads the string at byte `at`: it and the offset after it.
    pub(crate) fn string_at(&self, at: usize) -> (&[u8], usize) {
        let len = self.bytes[at] as usize;
        let end = at + 1 + len;
        (&self.bytes[at + 1..end], end)
    }

    /// The record at byte `at`, and the offset of the next one.
    pub(crate) fn record_at(&self, mut at: usize) -> ([&[u8]; W], usize) {
        let mut record = [&[][..]; W];
        for part in &mut record {
            let (s, next) = self.string_at(at);
            *part = s;
            at = next;
        }
        (record, at)
    }

    /// Every record with its byte offset, in order.
    pub fn records(&self) -> Records<'_, W> {
        Records { pack: self, at: 0 }
    }

    /// The byte offset of the record whose key is `key`.
    pub(crate) fn find(&self, key: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < self.bytes.len() {
            let (k, _) = self.string_at(at);
            if k == key {
                return Some(at);
            }
            at = self.record_at(at).1;
        }
        None
    }

    /// The byte offset of the `index`th record (or the end).
    pub(crate) fn offset_of(&self, index: usize) -> usize {
        self.records()
            .nth(index)
            .map_or(self.bytes.len(), |(at, _)| at)
    }

    fn encoded_len(record: &[&[u8]; W]) -> usize {
        record.iter().map(|s| 1 + s.len()).sum()
    }

    /// Replaces the bytes `range` with `with`, reallocating to the exact new size.
    pub(crate) fn splice(
        &mut self,
        range: std::ops::Range<usize>,
        with: impl IntoIterator<Item = u8>,
    ) {
        let mut bytes = std::mem::take(&mut self.bytes).into_vec();
        bytes.splice(range, with);
        self.bytes = bytes.into_boxed_slice();
    }

    fn encode(record: &[&[u8]; W]) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::encoded_len(record));
        for s in record {
            debug_assert!(
                s.len() <= u8::MAX as usize,
                "a packed string fits a length byte"
            );
            out.push(s.len() as u8);
            out.extend_from_slice(s);
        }
        out
    }

    /// Inserts a record before byte `at` (the end to append).
    pub(crate) fn insert_at(&mut self, at: usize, record: [&[u8]; W]) {
        let encoded = Self::encode(&record);
        if at == self.bytes.len() {
            let mut bytes = std::mem::take(&mut self.bytes).into_vec();
            bytes.reserve_exact(encoded.len());
            bytes.extend_from_slice(&encoded);
            self.bytes = bytes.into_boxed_slice();
        } else {
            self.splice(at..at, encoded);
        }
        self.records += 1;
    }

    /// Bytes in the pack (the offset of its end).
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Removes the bytes `range`, which hold `records` whole records.
    pub(crate) fn remove_bytes(&mut self, range: std::ops::Range<usize>, records: usize) {
        self.splice(range, []);
        self.records -= records as u32;
    }

    pub fn push(&mut self, record: [&[u8]; W]) {
        self.insert_at(self.bytes.len(), record);
    }

    /// Removes the record at byte `at`.
    pub(crate) fn remove_at(&mut self, at: usize) {
        let end = self.record_at(at).1;
        self.splice(at..end, []);
        self.records -= 1;
    }

    /// Replaces string `part` of the record at byte `at`.
    pub(crate) fn replace_part(&mut self, at: usize, part: usize, with: &[u8]) {
        let mut start = at;
        for _ in 0..part {
            start = self.string_at(start).1;
        }
        let end = self.string_at(start).1;
        let encoded = std::iter::once(with.len() as u8).chain(with.iter().copied());
        self.splice(start..end, encoded);
    }
}

/// The records of a [`Pack`] with their byte offsets.
pub struct Records<'a, const W: usize> {
    pack: &'a Pack<W>,
    at: usize,
}

impl<'a, const W: usize> Iterator for Records<'a, W> {
    type Item = (usize, [&'a [u8]; W]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.pack.bytes.len() {
            return None;
        }
        let at = self.at;
        let (record, next) = self.pack.record_at(at);
        self.at = next;
        Some((at, record))
    }
}

fn fits(s: &[u8]) -> bool {
    s.len() <= PACK_ELEMENT_BYTES_MAX
}

/// A hash: packed while small, then a [`RobinMap`].
#[derive(Clone, Debug, PartialEq)]
pub enum Hash {
    Pack(Pack<2>),
    /// Boxed, so that a packed hash (the common case) keeps the value small.
    Table(Box<RobinHash>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::default())
    }
}

impl Hash {
    pub fn new() -> Self {
        Self::default()
    }

    /// A hash that is a table from the start (DUMP payloads and snapshots of one).
    pub fn table() -> Self {
        Hash::Table(Box::default())
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, Hash::Pack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => p.find(field).map(|at| p.record_at(at).0[1]),
            Hash::Table(t) => t.get(field),
        }
    }

    pub fn contains_key(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Hash::Pack(p) = self {
            match p.find(field) {
                Some(at) if fits(value) => {
                    p.replace_part(at, 1, value);
                    return false;
                }
                None if fits(field) && fits(value) && p.len() < HASH_PACK_ENTRIES_MAX => {
                    p.push([field, value]);
                    return true;
                }
                _ => self.convert(),
            }
        }
        match self {
            Hash::Table(t) => t.insert(field, value),
            Hash::Pack(_) => unreachable!("converted above"),
        }
    }

    fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut table = RobinHash::new();
            for (_, [field, value]) in p.records() {
                table.insert(field, value);
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.find(field).map(|at| p.remove_at(at)).is_some(),
            Hash::Table(t) => t.remove(field),
        }
    }

    /// Every field and value: insertion order while packed, hash order in a table.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Pack(p) => HashIter::Pack(p.records()),
            Hash::Table(t) => HashIter::Table(t.iter()),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.iter().map(|(k, _)| k)
    }

    /// HSCAN's step (see [`RobinMap::scan`]); a packed hash is visited whole, returning 0.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match self {
            Hash::Pack(p) => {
                p.records().for_each(|(_, [f, v])| visit(f, v));
                0
            }
            Hash::Table(t) => t.scan(cursor, count, visit),
        }
    }

    /// A handle on an element chosen at random (see [`Hash::slot`]), None if empty. For a pack
    /// the handle is the element's index.
    pub(crate) fn random_slot(&self, rng: &mut Rng) -> Option<usize> {
        match self {
            Hash::Pack(p) => (p.len() > 0).then(|| (rng.next() % p.len() as u64) as usize),
            Hash::Table(t) => t.random_slot(rng),
        }
    }

    /// The element a handle from `random_slot` or `random_distinct_slots` stands for.
    pub(crate) fn slot(&self, index: usize) -> (&[u8], &[u8]) {
        match self {
            Hash::Pack(p) => {
                let [f, v] = p.record_at(p.offset_of(index)).0;
                (f, v)
            }
            Hash::Table(t) => t.slot(index),
        }
    }

    /// Handles on `count` distinct elements chosen at random (all, in order, if `count` is at
    /// least the length).
    pub(crate) fn random_distinct_slots(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        match self {
            Hash::Pack(p) => random_distinct_indexes(p.len(), count, rng),
            Hash::Table(t) => t.random_distinct_slots(count, rng),
        }
    }

    /// Every element, when packed: random picks with repetition index into this instead of
    /// walking the pack for each one.
    pub(crate) fn packed_entries(&self) -> Option<Vec<(&[u8], &[u8])>> {
        match self {
            Hash::Pack(p) => Some(p.records().map(|(_, [f, v])| (f, v)).collect()),
            Hash::Table(_) => None,
        }
    }
}

/// `count` distinct indexes below `len` chosen at random; all of them, in order, if `count` is
/// at least `len` (a partial Fisher-Yates shuffle otherwise).
fn random_distinct_indexes(len: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if count >= len {
        return all;
    }
    for k in 0..count {
        let pick = k + (rng.next() % (len - k) as u64) as usize;
        all.swap(k, pick);
    }
    all.truncate(count);
    all
}

/// The fields and values of a [`Hash`].
pub enum HashIter<'a> {
    Pack(Records<'a, 2>),
    Table(crate::robin::Iter<'a, true>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Pack(r) => r.next().map(|(_, [f, v])| (f, v)),
            HashIter::Table(t) => t.next(),
        }
    }
}

impl<'a> IntoIterator for &'a Hash {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = HashIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A set: packed while small (integers only: in numeric order, as an intset), then a
/// [`RobinSet`].
#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    /// `ints`: every member added so far was a canonical integer, and the pack is in numeric
    /// order. Once a member that is not one is added it stays false (a one-way change, like
    /// Redis's intset to listpack).
    Pack { pack: Pack<1>, ints: bool },
    /// Boxed, as a hash's table is.
    Table(Box<RobinSet>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Pack {
            pack: Pack::default(),
            ints: true,
        }
    }
}

impl Set {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set that is a table from the start (DUMP payloads and snapshots of one).
    pub fn table() -> Self {
        Set::Table(Box::default())
    }

    /// Redis's name for the representation: intset, listpack or hashtable.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Pack { ints: true, .. } => "intset",
            Set::Pack { ints: false, .. } => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, Set::Pack { .. })
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Pack { pack, .. } => pack.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Pack { pack, .. } => pack.find(member).is_some(),
            Set::Table(t) => t.contains_key(member),
        }
    }

    /// Adds a member; true if it was not there.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        if let Set::Pack { pack, ints } = self {
            let number = if *ints {
                parse_canonical_i64(member)
            } else {
                None
            };
            match number {
                Some(n) => {
                    // Numeric order: one pass finds the member, or the first larger one to go
                    // before.
                    let mut at = pack.bytes.len();
                    for (offset, [m]) in pack.records() {
                        let x = parse_canonical_i64(m).expect("an intset holds integers");
                        if x == n {
                            return false;
                        }
                        if x > n {
                            at = offset;
                            break;
                        }
                    }
                    if pack.len() < INTSET_ENTRIES_MAX {
                        pack.insert_at(at, [member]);
                        return true;
                    }
                }
                None => {
                    if pack.find(member).is_some() {
                        return false;
                    }
                    if fits(member) && pack.len() < PACK_ENTRIES_MAX {
                        *ints = false;
                        pack.push([member]);
                        return true;
                    }
                }
            }
            self.convert();
        }
        match self {
            Set::Table(t) => t.insert(member, &[]),
            Set::Pack { .. } => unreachable!("converted above"),
        }
    }

    fn convert(&mut self) {
        if let Set::Pack { pack, .. } = self {
            let mut table = RobinSet::new();
            for (_, [member]) in pack.records() {
                table.insert(member, &[]);
            }
            *self = Set::Table(Box::new(table));
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Pack { pack, .. } => pack.find(member).map(|at| pack.remove_at(at)).is_some(),
            Set::Table(t) => t.remove(member),
        }
    }

    /// Every member: in the pack's order while packed, hash order in a table.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Pack { pack, .. } => SetIter::Pack(pack.records()),
            Set::Table(t) => SetIter::Table(t.iter()),
        }
    }

    /// SSCAN's step (see [`RobinMap::scan`]); a packed set is visited whole, returning 0.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut visit: impl FnMut(&'a [u8])) -> u64 {
        match self {
            Set::Pack { pack, .. } => {
                pack.records().for_each(|(_, [m])| visit(m));
                0
            }
            Set::Table(t) => t.scan(cursor, count, |m, _| visit(m)),
        }
    }

    /// The table's size for snapshots (see [`RobinMap::layout_bits`]); 0 while packed.
    pub(crate) fn layout_bits(&self) -> u32 {
        match self {
            Set::Pack { .. } => 0,
            Set::Table(t) => t.layout_bits(),
        }
    }

    pub(crate) fn set_layout_bits(&mut self, bits: u32) {
        if let Set::Table(t) = self {
            t.set_layout_bits(bits)
        }
    }

    /// See [`Hash::random_slot`].
    pub(crate) fn random_slot(&self, rng: &mut Rng) -> Option<usize> {
        match self {
            Set::Pack { pack, .. } => {
                (pack.len() > 0).then(|| (rng.next() % pack.len() as u64) as usize)
            }
            Set::Table(t) => t.random_slot(rng),
        }
    }

    pub(crate) fn slot(&self, index: usize) -> &[u8] {
        match self {
            Set::Pack { pack, .. } => pack.record_at(pack.offset_of(index)).0[0],
            Set::Table(t) => t.slot(index).0,
        }
    }

    /// Removes the element a handle from `random_slot` stands for.
    pub(crate) fn take_slot(&mut self, index: usize) -> Bytes {
        match self {
            Set::Pack { pack, .. } => {
                let at = pack.offset_of(index);
                let member: Bytes = pack.record_at(at).0[0].into();
                pack.remove_at(at);
                member
            }
            Set::Table(t) => t.take_slot(index),
        }
    }

    /// See [`Hash::random_distinct_slots`].
    pub(crate) fn random_distinct_slots(&self, count: usize, rng: &mut Rng) -> Vec<usize> {
        match self {
            Set::Pack { pack, .. } => random_distinct_indexes(pack.len(), count, rng),
            Set::Table(t) => t.random_distinct_slots(count, rng),
        }
    }

    /// See [`Hash::packed_entries`].
    pub(crate) fn packed_members(&self) -> Option<Vec<&[u8]>> {
        match self {
            Set::Pack { pack, .. } => Some(pack.records().map(|(_, [m])| m).collect()),
            Set::Table(_) => None,
        }
    }

    /// Rebuilds a packed set from members in their stored order, checking what a pack
    /// promises (no repeats, within the limits, integers in increasing order): None if a
    /// payload breaks any of it.
    pub(crate) fn packed_from<'a>(
        ints: bool,
        members: impl IntoIterator<Item = &'a [u8]>,
    ) -> Option<Set> {
        let mut pack = Pack::<1>::default();
        let mut last: Option<i64> = None;
        for member in members {
            if !fits(member) || pack.find(member).is_some() {
                return None;
            }
            if ints {
                let n = parse_canonical_i64(member)?;
                if last.is_some_and(|l| l.cmp(&n) != Ordering::Less) {
                    return None;
                }
                last = Some(n);
            }
            pack.push([member]);
        }
        let limit = if ints {
            INTSET_ENTRIES_MAX
        } else {
            PACK_ENTRIES_MAX
        };
        (pack.len() <= limit).then_some(Set::Pack { pack, ints })
    }
}

impl Hash {
    /// Rebuilds a packed hash from pairs in their stored order, checking what a pack promises
    /// (no repeated field, within the limits): None if a payload breaks any of it.
    pub(crate) fn packed_from<'a>(
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Option<Hash> {
        let mut pack = Pack::<2>::default();
        for (field, value) in pairs {
            if !fits(field) || !fits(value) || pack.find(field).is_some() {
                return None;
            }
            pack.push([field, value]);
        }
        (pack.len() <= HASH_PACK_ENTRIES_MAX).then_some(Hash::Pack(pack))
    }
}

/// The members of a [`Set`].
pub enum SetIter<'a> {
    Pack(Records<'a, 1>),
    Table(crate::robin::Iter<'a, false>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SetIter::Pack(r) => r.next().map(|(_, [m])| m),
            SetIter::Table(t) => t.next().map(|(m, _)| m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{Strategy, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use std::collections::BTreeMap;

    fn bytes(n: usize, tag: u8) -> Vec<u8> {
        vec![tag; n]
    }

    #[test]
    fn a_hash_stays_packed_to_the_limits_and_then_becomes_a_table() {
        let mut h = Hash::new();
        for i in 0..HASH_PACK_ENTRIES_MAX {
            assert!(h.insert(format!("f{i}").as_bytes(), b"v"));
        }
        assert!(h.is_packed());
        assert!(!h.insert(b"f0", &bytes(PACK_ELEMENT_BYTES_MAX, b'x')));
        assert!(h.is_packed(), "a 64-byte value still fits");
        assert!(h.insert(b"one more", b"v"));
        assert!(!h.is_packed(), "513 fields make a table");
        assert_eq!(h.len(), HASH_PACK_ENTRIES_MAX + 1);
        assert_eq!(h.get(b"f0"), Some(&bytes(64, b'x')[..]));

        let mut h = Hash::new();
        h.insert(b"a", b"1");
        h.insert(b"b", &bytes(PACK_ELEMENT_BYTES_MAX + 1, b'y'));
        assert!(!h.is_packed(), "a 65-byte value makes a table");
        assert_eq!(h.get(b"a"), Some(&b"1"[..]));
        let mut h = Hash::new();
        h.insert(&bytes(PACK_ELEMENT_BYTES_MAX + 1, b'k'), b"v");
        assert!(!h.is_packed(), "so does a 65-byte field");
    }

    #[test]
    fn a_packed_hash_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::new();
        for (f, v) in [("c", "1"), ("a", "2"), ("b", "3")] {
            h.insert(f.as_bytes(), v.as_bytes());
        }
        h.insert(b"a", b"twenty");
        let all: Vec<_> = h.iter().collect();
        assert_eq!(
            all,
            [(&b"c"[..], &b"1"[..]), (b"a", b"twenty"), (b"b", b"3")]
        );
        assert!(h.remove(b"c"));
        assert!(!h.remove(b"c"));
        assert_eq!(h.keys().collect::<Vec<_>>(), [&b"a"[..], b"b"]);
    }

    #[test]
    fn integer_sets_keep_numeric_order_until_a_member_is_not_one() {
        let mut s = Set::new();
        for m in ["10", "-3", "7", "100", "7"] {
            s.insert(m.as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [&b"-3"[..], b"7", b"10", b"100"]
        );
        assert!(s.insert(b"x"));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.insert(b"5"));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [&b"-3"[..], b"7", b"10", b"100", b"x", b"5"]
        );
        assert!(s.remove(b"x"));
        assert_eq!(s.encoding(), "listpack", "the change is one way");
        // "007" is not a canonical integer.
        let mut s = Set::new();
        s.insert(b"007");
        assert_eq!(s.encoding(), "listpack");
    }

    #[test]
    fn set_limits_follow_redis_defaults() {
        let mut s = Set::new();
        for i in 0..INTSET_ENTRIES_MAX {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"512");
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new();
        for i in 0..PACK_ENTRIES_MAX {
            s.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"m-last");
        assert_eq!(s.encoding(), "hashtable");
        let mut s = Set::new();
        for i in 0..200 {
            s.insert(i.to_string().as_bytes());
        }
        s.insert(b"word");
        assert_eq!(
            s.encoding(),
            "hashtable",
            "200 members are too many for a listpack"
        );
        assert_eq!(s.len(), 201);
    }

    #[test]
    fn payload_checks_refuse_what_a_pack_cannot_hold() {
        assert!(Hash::packed_from([(&b"a"[..], &b"1"[..]), (b"a", b"2")]).is_none());
        assert!(Hash::packed_from([(&bytes(65, b'x')[..], &b"1"[..])]).is_none());
        assert!(Set::packed_from(true, [&b"2"[..], b"1"]).is_none());
        assert!(Set::packed_from(true, [&b"x"[..]]).is_none());
        assert!(Set::packed_from(false, [&b"x"[..], b"x"]).is_none());
        let too_many: Vec<String> = (0..=PACK_ENTRIES_MAX).map(|i| format!("m{i}")).collect();
        assert!(Set::packed_from(false, too_many.iter().map(|m| m.as_bytes())).is_none());
        let ok = Set::packed_from(true, [&b"-1"[..], b"2"]).expect("valid");
        assert_eq!(ok.encoding(), "intset");
    }

    #[test]
    fn random_handles_address_packed_elements() {
        let mut s = Set::new();
        for m in ["a", "b", "c"] {
            s.insert(m.as_bytes());
        }
        let mut rng = Rng::new(7);
        let mut seen: Vec<&[u8]> = s
            .random_distinct_slots(2, &mut rng)
            .into_iter()
            .map(|i| s.slot(i))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 2);
        let all = s.random_distinct_slots(5, &mut rng);
        assert_eq!(all, [0, 1, 2]);
        let i = s.random_slot(&mut rng).expect("not empty");
        let taken = s.take_slot(i);
        assert!(!s.contains(&taken));
        assert_eq!(s.len(), 2);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            any::<u8>().prop_map(Op::Remove),
        ]
    }

    /// Keys from a small space, some long enough to force a table.
    fn key(k: u8) -> Vec<u8> {
        if k > 250 {
            bytes(PACK_ELEMENT_BYTES_MAX + 1, k)
        } else {
            format!("{}", k % 160).into_bytes()
        }
    }

    proptest! {
        #[test]
        fn a_hash_behaves_as_a_map(ops in proptest::collection::vec(op(), 0..400)) {
            let mut h = Hash::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let value = vec![b'v'; v as usize % 70];
                        let new = model.insert(key(k), value.clone()).is_none();
                        prop_assert_eq!(h.insert(&key(k), &value), new);
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(h.remove(&key(k)), model.remove(&key(k)).is_some());
                    }
                }
                prop_assert_eq!(h.len(), model.len());
            }
            let mut all: Vec<(Vec<u8>, Vec<u8>)> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            all.sort();
            let want: Vec<_> = model.into_iter().collect();
            prop_assert_eq!(all, want);
        }

        #[test]
        fn a_set_behaves_as_a_set(ops in proptest::collection::vec(op(), 0..700)) {
            let mut s = Set::new();
            let mut model = std::collections::BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        // Mostly integers, so the intset limits are reached too.
                        let m = if v < 240 { format!("{}", u16::from(k) * 3 + u16::from(v)).into_bytes() } else { key(k) };
                        prop_assert_eq!(s.insert(&m), model.insert(m.clone()));
                    }
                    Op::Remove(k) => {
                        let m = key(k);
                        prop_assert_eq!(s.remove(&m), model.remove(&m));
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                if let Set::Pack { ints: true, .. } = &s {
                    let numbers: Vec<i64> = s.iter().map(|m| parse_canonical_i64(m).expect("an integer")).collect();
                    prop_assert!(numbers.windows(2).all(|w| w[0] < w[1]));
                }
            }
            let mut all: Vec<Vec<u8>> = s.iter().map(<[u8]>::to_vec).collect();
            all.sort();
            prop_assert_eq!(all, model.into_iter().collect::<Vec<_>>());
        }
    }
}
