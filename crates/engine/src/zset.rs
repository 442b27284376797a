//! Sorted sets: members with scores, ordered by (score, member), members compared as bytes.
//!
//! Two indexes share one arena of nodes (`u32` indices, no unsafe code):
//!
//! - A skiplist in (score, member) order whose links carry spans (how many elements a link
//!   skips), so the rank of an element, the element at a rank and the bounds of a score range
//!   are found in O(log n) expected, and a range of m elements is then walked in O(m) along
//!   level 0 (backwards along `prev`).
//! - A chained hash table from member to node: O(1) ZSCORE, and the buckets give ZSCAN a cursor
//!   that stays valid while the table grows or shrinks (the bucket index is incremented in
//!   bit-reversed order, so a bigger or smaller table never revisits or skips a bucket that was
//!   already covered).
//!
//! No reply depends on the skiplist's shape (its random levels): every query is a search in a
//! total order, and lexicographic ranges over mixed scores, where members are not in byte order,
//! fall back to a linear scan with a fixed definition (see [`ZSet::lex_ranks`]). So replicas
//! agree even when one of them rebuilt a set in another order (from a snapshot, say). The levels
//! come from a generator seeded with a constant all the same, so the same writes build the same
//! structure.
//!
//! A sorted set of at most 128 members of at most 64 bytes (Redis's `zset-max-listpack-*`
//! defaults) is none of this: it is packed in one allocation, member and score (8 bytes) after
//! member and score in (score, member) order, as Redis's listpack, and searched front to back
//! (see [`ZSet`]). It becomes a [`SkipList`] past those sizes, one way, as in Redis.
//!
//! Scores are never NaN, and -0 is stored as 0 (Redis's compact encoding does that too, and it
//! keeps `==` and the order consistent).

use std::hash::BuildHasher;

use crate::compact::{PACK_ELEMENT_BYTES_MAX, PACK_ENTRIES_MAX, Pack};
use crate::types::{Bytes, collection_hasher};

/// No node: the end of a list, an empty bucket.
const NIL: u32 = u32::MAX;
/// The header node: before the first element, at rank 0, with every level.
const HEAD: u32 = 0;
/// Levels a node may have; with p = 1/4 that covers far more than 2^32 elements.
const LEVELS_MAX: usize = 32;
/// The smallest hash table, in buckets.
const BUCKETS_MIN: usize = 4;
/// Arenas at least this big are compacted when three quarters of their slots are free.
const COMPACT_NODES_MIN: usize = 64;
const LEVEL_SEED: u64 = 0x2f0b_5eed_1e7e_15ed;

/// A link to the next node on one level and how many level-0 steps it spans. A link to NIL
/// spans the elements after its node (kept so that insertion needs no special case).
#[derive(Clone, Copy, Debug)]
struct Link {
    next: u32,
    span: u32,
}

#[derive(Clone, Debug)]
struct Node {
    member: Bytes,
    score: f64,
    /// The node before this one on level 0; NIL for the first element.
    prev: u32,
    /// The next node in the same hash bucket.
    chain: u32,
    /// One link per level; empty for a free slot.
    links: Box<[Link]>,
}

impl Node {
    fn before(&self, score: f64, member: &[u8]) -> bool {
        before((self.score, &self.member), score, member)
    }
}

/// A bound of a lexicographic range (ZRANGEBYLEX's `-`, `+`, `[member`, `(member`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    /// `-`: before every member.
    Min,
    /// `+`: after every member.
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

impl LexBound<'_> {
    /// True if `member` is not below this bound taken as a range's minimum.
    fn admits_from_below(self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(min) => member >= min,
            LexBound::Exclusive(min) => member > min,
        }
    }

    /// True if `member` is not above this bound taken as a range's maximum.
    fn admits_from_above(self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(max) => member <= max,
            LexBound::Exclusive(max) => member < max,
        }
    }

    /// True if no member can lie between `min` and `max`.
    fn empty_between(min: Self, max: Self) -> bool {
        use LexBound::*;
        match (min, max) {
            (Max, _) | (_, Min) => true,
            (Min, _) | (_, Max) => false,
            (Inclusive(a), Inclusive(b)) => a > b,
            (Inclusive(a) | Exclusive(a), Inclusive(b) | Exclusive(b)) => a >= b,
        }
    }
}

/// The skiplist and hash table of a sorted set past the packed sizes (see [`ZSet`]).
#[derive(Clone)]
pub struct SkipList {
    /// The arena; slot 0 is the header.
    nodes: Vec<Node>,
    /// Free slots of `nodes`.
    free: Vec<u32>,
    /// Hash buckets (a power of two of them, or none while empty), each the first node of its
    /// chain.
    buckets: Vec<u32>,
    len: usize,
    /// Levels in use (the header's links above are NIL).
    levels: usize,
    /// The last element; NIL while empty.
    tail: u32,
    /// State of the generator behind node levels.
    level_state: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        let header = Node {
            member: Bytes::default(),
            score: f64::NEG_INFINITY,
            prev: NIL,
            chain: NIL,
            links: vec![Link { next: NIL, span: 0 }; LEVELS_MAX].into_boxed_slice(),
        };
        SkipList {
            nodes: vec![header],
            free: Vec::new(),
            buckets: Vec::new(),
            len: 0,
            levels: 1,
            tail: NIL,
            level_state: LEVEL_SEED,
        }
    }
}

impl PartialEq for SkipList {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// [`SkipList::lex_ranks`] over mixed scores, where members are not in byte order: the linear
/// scan Redis's compact encoding does, over `len` elements read through `range` (ranks
/// `start..end` in ascending order), whatever holds them.
fn lex_scan<'a, I>(
    len: usize,
    range: impl Fn(usize, usize) -> I,
    min: LexBound,
    max: LexBound,
    reverse: bool,
) -> (usize, usize)
where
    I: DoubleEndedIterator<Item = (&'a [u8], f64)>,
{
    let (Some((first, _)), Some((last, _))) = (range(0, 1).next(), range(len - 1, len).next())
    else {
        return (0, 0);
    };
    if !min.admits_from_below(last) || !max.admits_from_above(first) {
        return (0, 0);
    }
    if reverse {
        let Some(skipped) = range(0, len)
            .rev()
            .position(|(m, _)| max.admits_from_above(m))
        else {
            return (0, 0);
        };
        let hi = len - skipped;
        let taken = range(0, hi)
            .rev()
            .take_while(|(m, _)| min.admits_from_below(m))
            .count();
        (hi - taken, hi)
    } else {
        let Some(lo) = range(0, len).position(|(m, _)| min.admits_from_below(m)) else {
            return (0, 0);
        };
        let taken = range(lo, len)
            .take_while(|(m, _)| max.admits_from_above(m))
            .count();
        (lo, lo + taken)
    }
}

fn hash(member: &[u8]) -> u64 {
    collection_hasher().hash_one(member)
}

impl SkipList {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|x| self.node(x).score)
    }

    /// Adds a member or changes its score; true if it was new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        assert!(!score.is_nan(), "a NaN score reached the sorted set");
        // -0 == 0, so storing 0 keeps the order and equality consistent.
        let score = if score == 0.0 { 0.0 } else { score };
        match self.find(member) {
            Some(x) => {
                self.rescore(x, score);
                false
            }
            None => {
                self.insert_new(member.into(), score);
                true
            }
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(x) = self.find(member) else {
            return false;
        };
        let update = self.path(self.node(x).score, &self.node(x).member).0;
        self.unlink(x, &update);
        self.hash_remove(x);
        self.release(x);
        self.after_removal();
        true
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> SkipIter<'_> {
        self.range(0, self.len)
    }

    /// The elements of ranks `start..end` (0-based, in ascending order), `end <= len()`.
    pub fn range(&self, start: usize, end: usize) -> SkipIter<'_> {
        assert!(
            end <= self.len,
            "range end {end} past {} elements",
            self.len
        );
        if start >= end {
            return SkipIter {
                zset: self,
                front: NIL,
                back: NIL,
                remaining: 0,
            };
        }
        SkipIter {
            zset: self,
            front: self.node_at(start),
            back: self.node_at(end - 1),
            remaining: end - start,
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.count_while(|n| n.before(score, member)))
    }

    /// The element at a 0-based rank in ascending order.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        (rank < self.len).then(|| {
            let n = self.node(self.node_at(rank));
            (&n.member[..], n.score)
        })
    }

    /// How many elements score less than `score`.
    pub fn count_below(&self, score: f64) -> usize {
        self.count_while(|n| n.score < score)
    }

    /// How many elements score at most `score`.
    pub fn count_at_most(&self, score: f64) -> usize {
        self.count_while(|n| n.score <= score)
    }

    /// The ranks `lo..hi` of the members between `min` and `max`.
    ///
    /// When every score is the same, members are in byte order and this is an O(log n) search.
    /// Otherwise the order is not a byte order and no search is meaningful; the result is then
    /// defined the way Redis's compact encoding computes it, by a linear scan: forwards, from the
    /// first member not below `min` up to (excluding) the next member above `max`; with
    /// `reverse`, backwards from the last member not above `max` down to (excluding) the next
    /// member below `min`.
    pub fn lex_ranks(&self, min: LexBound, max: LexBound, reverse: bool) -> (usize, usize) {
        if self.is_empty() || LexBound::empty_between(min, max) {
            return (0, 0);
        }
        let (first, last) = (self.node(self.node_at(0)), self.node(self.tail));
        if first.score == last.score {
            let lo = self.count_while(|n| !min.admits_from_below(&n.member));
            let hi = self.count_while(|n| max.admits_from_above(&n.member));
            return (lo, hi.max(lo));
        }
        lex_scan(self.len, |a, b| self.range(a, b), min, max, reverse)
    }

    /// Removes the elements of ranks `start..end` in one pass (O(log n + m)), handing each to
    /// `removed` in ascending order.
    pub fn remove_range(&mut self, start: usize, end: usize, mut removed: impl FnMut(Bytes, f64)) {
        assert!(
            end <= self.len,
            "range end {end} past {} elements",
            self.len
        );
        if start >= end {
            return;
        }
        let update = self.path_to_rank(start);
        for _ in start..end {
            let x = self.node(update[0]).links[0].next;
            self.unlink(x, &update);
            self.hash_remove(x);
            let (member, score) = self.release(x);
            removed(member, score);
        }
        self.after_removal();
    }

    /// Visits the members of a few hash buckets from `cursor` (at least `count` members unless
    /// the table ends first, and at most 10 * `count` buckets); returns the cursor to go on from,
    /// 0 when the iteration is complete. A member present during a whole iteration is visited
    /// at least once, however the set grows or shrinks in between.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.buckets.len() as u64 - 1;
        let mut cursor = cursor;
        let mut visited = 0;
        let mut buckets_left = count.saturating_mul(10).max(1);
        loop {
            let mut x = self.buckets[(cursor & mask) as usize];
            while x != NIL {
                let n = self.node(x);
                visit(&n.member, n.score);
                visited += 1;
                x = n.chain;
            }
            // Increment the bits under the mask in reverse order: the high bits first, so that
            // buckets a resize splits or merges are covered by the cursors still to come.
            cursor |= !mask;
            cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
            buckets_left -= 1;
            if cursor == 0 || visited >= count || buckets_left == 0 {
                return cursor;
            }
        }
    }

    // --- the skiplist --------------------------------------------------------------------

    fn node(&self, x: u32) -> &Node {
        &self.nodes[x as usize]
    }

    fn node_mut(&mut self, x: u32) -> &mut Node {
        &mut self.nodes[x as usize]
    }

    fn link(&self, x: u32, level: usize) -> Link {
        self.nodes[x as usize].links[level]
    }

    fn link_mut(&mut self, x: u32, level: usize) -> &mut Link {
        &mut self.nodes[x as usize].links[level]
    }

    /// How many elements from the first satisfy `before` (which must hold for a prefix of the
    /// order and fail for the rest).
    fn count_while(&self, mut before: impl FnMut(&Node) -> bool) -> usize {
        let (mut x, mut rank) = (HEAD, 0usize);
        for level in (0..self.levels).rev() {
            loop {
                let l = self.link(x, level);
                if l.next == NIL || !before(self.node(l.next)) {
                    break;
                }
                rank += l.span as usize;
                x = l.next;
            }
        }
        rank
    }

    /// The node at a 0-based rank, which must exist.
    fn node_at(&self, rank: usize) -> u32 {
        let target = rank + 1;
        let (mut x, mut traversed) = (HEAD, 0usize);
        for level in (0..self.levels).rev() {
            loop {
                let l = self.link(x, level);
                if l.next == NIL || traversed + l.span as usize > target {
                    break;
                }
                traversed += l.span as usize;
                x = l.next;
            }
            if traversed == target {
                return x;
            }
        }
        unreachable!("rank {rank} of {} elements not found", self.len)
    }

    /// On each level, the last node before (score, member), and its rank.
    fn path(&self, score: f64, member: &[u8]) -> ([u32; LEVELS_MAX], [u32; LEVELS_MAX]) {
        let mut update = [HEAD; LEVELS_MAX];
        let mut ranks = [0u32; LEVELS_MAX];
        let (mut x, mut rank) = (HEAD, 0u32);
        for level in (0..self.levels).rev() {
            loop {
                let l = self.link(x, level);
                if l.next == NIL || !self.node(l.next).before(score, member) {
                    break;
                }
                rank += l.span;
                x = l.next;
            }
            update[level] = x;
            ranks[level] = rank;
        }
        (update, ranks)
    }

    /// On each level, the last node at rank `count` or before (the header is at rank 0).
    fn path_to_rank(&self, count: usize) -> [u32; LEVELS_MAX] {
        let mut update = [HEAD; LEVELS_MAX];
        let (mut x, mut traversed) = (HEAD, 0usize);
        for level in (0..self.levels).rev() {
            loop {
                let l = self.link(x, level);
                if l.next == NIL || traversed + l.span as usize > count {
                    break;
                }
                traversed += l.span as usize;
                x = l.next;
            }
            update[level] = x;
        }
        update
    }

    /// A level for a new node: each level above the first with probability 1/4.
    fn random_level(&mut self) -> usize {
        // SplitMix64.
        self.level_state = self.level_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.level_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // Two zero bits per extra level; bit 62 caps the count at 31 pairs.
        let level = (z | 1 << 62).trailing_zeros() as usize / 2 + 1;
        debug_assert!(level <= LEVELS_MAX);
        level
    }

    /// Puts node `x` (its score, member and number of links set) into the skiplist.
    fn link_in(&mut self, x: u32) {
        let (update, ranks) = {
            let n = self.node(x);
            self.path(n.score, &n.member)
        };
        let (mut update, mut ranks) = (update, ranks);
        let level = self.node(x).links.len();
        if level > self.levels {
            for l in self.levels..level {
                update[l] = HEAD;
                ranks[l] = 0;
                self.link_mut(HEAD, l).span = self.len as u32;
            }
            self.levels = level;
        }
        for l in 0..level {
            let before = self.link(update[l], l);
            let skipped = ranks[0] - ranks[l];
            *self.link_mut(x, l) = Link {
                next: before.next,
                span: before.span - skipped,
            };
            *self.link_mut(update[l], l) = Link {
                next: x,
                span: skipped + 1,
            };
        }
        for (l, &u) in update.iter().enumerate().take(self.levels).skip(level) {
            self.link_mut(u, l).span += 1;
        }
        self.node_mut(x).prev = if update[0] == HEAD { NIL } else { update[0] };
        match self.link(x, 0).next {
            NIL => self.tail = x,
            next => self.node_mut(next).prev = x,
        }
        self.len += 1;
    }

    /// Takes node `x` out of the skiplist; `update` holds the last node before it on each level.
    fn unlink(&mut self, x: u32, update: &[u32; LEVELS_MAX]) {
        for (l, &u) in update.iter().enumerate().take(self.levels) {
            if self.link(u, l).next == x {
                let gone = self.link(x, l);
                let link = self.link_mut(u, l);
                link.span = link.span + gone.span - 1;
                link.next = gone.next;
            } else {
                self.link_mut(u, l).span -= 1;
            }
        }
        let (prev, next) = (self.node(x).prev, self.link(x, 0).next);
        match next {
            NIL => self.tail = prev,
            next => self.node_mut(next).prev = prev,
        }
        while self.levels > 1 && self.link(HEAD, self.levels - 1).next == NIL {
            self.levels -= 1;
        }
        self.len -= 1;
    }

    /// Gives a new score to node `x`, moving it if its place changes.
    fn rescore(&mut self, x: u32, score: f64) {
        let n = self.node(x);
        if n.score == score {
            return;
        }
        // Stays in place if it still sorts after its neighbours' keys and before the next.
        let prev_ok = n.prev == NIL || self.node(n.prev).before(score, &n.member);
        let next = n.links[0].next;
        let next_ok = next == NIL || {
            let m = self.node(next);
            !m.before(score, &n.member)
        };
        if prev_ok && next_ok {
            self.node_mut(x).score = score;
            return;
        }
        let update = self.path(n.score, &n.member).0;
        self.unlink(x, &update);
        self.node_mut(x).score = score;
        self.link_in(x);
    }

    fn insert_new(&mut self, member: Bytes, score: f64) {
        let level = self.random_level();
        let links = vec![Link { next: NIL, span: 0 }; level].into_boxed_slice();
        let node = Node {
            member,
            score,
            prev: NIL,
            chain: NIL,
            links,
        };
        let x = match self.free.pop() {
            Some(x) => {
                self.nodes[x as usize] = node;
                x
            }
            None => {
                assert!(self.nodes.len() < NIL as usize, "sorted set arena is full");
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        if self.len + 1 > self.buckets.len() {
            self.rehash((self.buckets.len() * 2).max(BUCKETS_MIN));
        }
        self.link_in(x);
        self.hash_insert(x);
    }

    /// Frees the slot of an unlinked node and returns what it held.
    fn release(&mut self, x: u32) -> (Bytes, f64) {
        let n = self.node_mut(x);
        let member = std::mem::take(&mut n.member);
        n.links = Box::default();
        n.chain = NIL;
        n.prev = NIL;
        let score = n.score;
        self.free.push(x);
        (member, score)
    }

    /// Shrinks the hash table and the arena once they are mostly empty.
    fn after_removal(&mut self) {
        if self.len == 0 {
            *self = SkipList {
                level_state: self.level_state,
                ..SkipList::default()
            };
            return;
        }
        if self.nodes.len() >= COMPACT_NODES_MIN && self.free.len() * 4 > self.nodes.len() * 3 {
            self.compact();
        } else if self.buckets.len() > BUCKETS_MIN && self.len < self.buckets.len() / 8 {
            self.rehash(self.len.next_power_of_two().max(BUCKETS_MIN));
        }
    }

    /// Rebuilds the set in a right-sized arena.
    fn compact(&mut self) {
        let mut elements = Vec::with_capacity(self.len);
        let mut x = self.link(HEAD, 0).next;
        while x != NIL {
            let n = self.node_mut(x);
            elements.push((std::mem::take(&mut n.member), n.score));
            x = n.links[0].next;
        }
        let mut fresh = SkipList {
            level_state: self.level_state,
            ..SkipList::default()
        };
        fresh.nodes.reserve(elements.len());
        for (member, score) in elements {
            fresh.insert_new(member, score);
        }
        *self = fresh;
    }

    // --- the hash table ------------------------------------------------------------------

    fn bucket(&self, member: &[u8]) -> usize {
        (hash(member) & (self.buckets.len() as u64 - 1)) as usize
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut x = self.buckets[self.bucket(member)];
        while x != NIL {
            let n = self.node(x);
            if *n.member == *member {
                return Some(x);
            }
            x = n.chain;
        }
        None
    }

    fn hash_insert(&mut self, x: u32) {
        let b = self.bucket(&self.node(x).member);
        self.node_mut(x).chain = self.buckets[b];
        self.buckets[b] = x;
    }

    fn hash_remove(&mut self, x: u32) {
        let b = self.bucket(&self.node(x).member);
        let next = self.node(x).chain;
        if self.buckets[b] == x {
            self.buckets[b] = next;
            return;
        }
        let mut y = self.buckets[b];
        while self.node(y).chain != x {
            y = self.node(y).chain;
            assert!(y != NIL, "a node missing from its hash chain");
        }
        self.node_mut(y).chain = next;
    }

    fn rehash(&mut self, buckets: usize) {
        debug_assert!(buckets.is_power_of_two());
        self.buckets = vec![NIL; buckets];
        let mut x = self.link(HEAD, 0).next;
        while x != NIL {
            self.hash_insert(x);
            x = self.link(x, 0).next;
        }
    }
}

/// Elements of a rank range, from either end.
#[derive(Clone)]
pub struct SkipIter<'a> {
    zset: &'a SkipList,
    front: u32,
    back: u32,
    remaining: usize,
}

impl<'a> Iterator for SkipIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let n = self.zset.node(self.front);
        self.front = n.links[0].next;
        self.remaining -= 1;
        Some((&n.member, n.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for SkipIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let n = self.zset.node(self.back);
        self.back = n.prev;
        self.remaining -= 1;
        Some((&n.member, n.score))
    }
}

impl ExactSizeIterator for SkipIter<'_> {}

/// A sorted set: packed while small, then a [`SkipList`] (see the module documentation).
#[derive(Clone, PartialEq, Debug)]
pub enum ZSet {
    /// Records of (member, score as `encode_score` writes it), in (score, member) order.
    Pack(Pack<2>),
    List(Box<SkipList>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

/// A packed score: an integral score of magnitude below 2^47 as the fewest little-endian two's
/// complement bytes that hold it (none for 0), any other as its 8 f64 bytes. Scores are mostly
/// small integers (ranks, counts, timestamps in seconds), and Redis's listpack stores those as
/// integers too: a 10-member set with scores 0..9 takes 110 bytes, not 180.
fn encode_score(score: f64, out: &mut [u8; 8]) -> &[u8] {
    const INT_MAX: f64 = (1u64 << 47) as f64;
    if score.fract() == 0.0 && score.abs() < INT_MAX {
        let n = score as i64;
        // The fewest bytes that sign-extend back to `n` (none for 0; at most 6 below 2^47).
        let len = (0..=6)
            .find(|&len| len > 0 && (n << (64 - 8 * len)) >> (64 - 8 * len) == n || n == 0)
            .expect("below 2^47 fits 6 bytes");
        out[..len].copy_from_slice(&n.to_le_bytes()[..len]);
        return &out[..len];
    }
    *out = score.to_le_bytes();
    &out[..]
}

fn score_of(bytes: &[u8]) -> f64 {
    if let Ok(raw) = <[u8; 8]>::try_from(bytes) {
        return f64::from_le_bytes(raw);
    }
    let mut raw = [0u8; 8];
    raw[..bytes.len()].copy_from_slice(bytes);
    // Sign-extend from the last byte given.
    let shift = 64 - 8 * bytes.len() as u32;
    if bytes.is_empty() {
        return 0.0;
    }
    ((i64::from_le_bytes(raw) << shift) >> shift) as f64
}

/// True if the element `a` (score, member) comes before (`score`, `member`) in a sorted set.
fn before(a: (f64, &[u8]), score: f64, member: &[u8]) -> bool {
    a.0 < score || (a.0 == score && a.1 < member)
}

impl ZSet {
    /// A sorted set that is a skiplist from the start (DUMP payloads and snapshots of one).
    pub fn skiplist() -> ZSet {
        ZSet::List(Box::default())
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, ZSet::Pack(_))
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.len(),
            ZSet::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every element of a pack, in order.
    fn entries(p: &Pack<2>) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        p.records().map(|(_, [m, s])| (m, score_of(s)))
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(member).map(|at| score_of(p.record_at(at).0[1])),
            ZSet::List(l) => l.score(member),
        }
    }

    /// Adds a member or changes its score; true if it was new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        assert!(!score.is_nan(), "a NaN score reached the sorted set");
        let score = if score == 0.0 { 0.0 } else { score };
        if let ZSet::Pack(p) = self {
            let existing = p.find(member);
            let new = existing.is_none();
            if new && (p.len() >= PACK_ENTRIES_MAX || member.len() > PACK_ELEMENT_BYTES_MAX) {
                self.convert();
            } else {
                if let Some(at) = existing {
                    if score_of(p.record_at(at).0[1]) == score {
                        return false;
                    }
                    p.remove_at(at);
                }
                let at = p
                    .records()
                    .find(|(_, [m, s])| !before((score_of(s), m), score, member))
                    .map_or(p.byte_len(), |(at, _)| at);
                p.insert_at(at, [member, encode_score(score, &mut [0; 8])]);
                return new;
            }
        }
        match self {
            ZSet::List(l) => l.insert(member, score),
            ZSet::Pack(_) => unreachable!("converted above"),
        }
    }

    fn convert(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut list = SkipList::default();
            for (member, score) in Self::entries(p) {
                list.insert(member, score);
            }
            *self = ZSet::List(Box::new(list));
        }
    }

    /// Removes a member; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSet::Pack(p) => p.find(member).map(|at| p.remove_at(at)).is_some(),
            ZSet::List(l) => l.remove(member),
        }
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// The elements of ranks `start..end` (0-based, in ascending order), `end <= len()`.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        match self {
            ZSet::Pack(p) => {
                assert!(end <= p.len(), "range end {end} past {} elements", p.len());
                let taken = end.saturating_sub(start);
                let all = Self::entries(p).skip(start).take(taken);
                Iter::Pack(all.collect::<Vec<_>>().into_iter())
            }
            ZSet::List(l) => Iter::List(l.range(start, end)),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Pack(p) => p.records().position(|(_, [m, _])| m == member),
            ZSet::List(l) => l.rank(member),
        }
    }

    /// The element at a 0-based rank in ascending order.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.records().nth(rank).map(|(_, [m, s])| (m, score_of(s))),
            ZSet::List(l) => l.get_by_rank(rank),
        }
    }

    /// How many elements score less than `score`.
    pub fn count_below(&self, score: f64) -> usize {
        match self {
            ZSet::Pack(p) => Self::entries(p).take_while(|e| e.1 < score).count(),
            ZSet::List(l) => l.count_below(score),
        }
    }

    /// How many elements score at most `score`.
    pub fn count_at_most(&self, score: f64) -> usize {
        match self {
            ZSet::Pack(p) => Self::entries(p).take_while(|e| e.1 <= score).count(),
            ZSet::List(l) => l.count_at_most(score),
        }
    }

    /// See [`SkipList::lex_ranks`]: the same definition, over the packed elements.
    pub fn lex_ranks(&self, min: LexBound, max: LexBound, reverse: bool) -> (usize, usize) {
        let p = match self {
            ZSet::Pack(p) => p,
            ZSet::List(l) => return l.lex_ranks(min, max, reverse),
        };
        let all: Vec<(&[u8], f64)> = Self::entries(p).collect();
        let (Some(first), Some(last)) = (all.first(), all.last()) else {
            return (0, 0);
        };
        if LexBound::empty_between(min, max) {
            return (0, 0);
        }
        if first.1 == last.1 {
            let lo = all
                .iter()
                .take_while(|(m, _)| !min.admits_from_below(m))
                .count();
            let hi = all
                .iter()
                .take_while(|(m, _)| max.admits_from_above(m))
                .count();
            return (lo, hi.max(lo));
        }
        lex_scan(
            all.len(),
            |a, b| all[a..b].iter().copied(),
            min,
            max,
            reverse,
        )
    }

    /// Removes the elements of ranks `start..end`, handing each to `removed` in ascending
    /// order.
    pub fn remove_range(&mut self, start: usize, end: usize, mut removed: impl FnMut(Bytes, f64)) {
        match self {
            ZSet::Pack(p) => {
                assert!(end <= p.len(), "range end {end} past {} elements", p.len());
                if start >= end {
                    return;
                }
                let (from, to) = (p.offset_of(start), p.offset_of(end));
                for (_, [m, s]) in p.records().skip(start).take(end - start) {
                    removed(m.into(), score_of(s));
                }
                p.remove_bytes(from..to, end - start);
            }
            ZSet::List(l) => l.remove_range(start, end, removed),
        }
    }

    /// See [`SkipList::scan`]; a packed set is visited whole, returning 0.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut visit: impl FnMut(&'a [u8], f64),
    ) -> u64 {
        match self {
            ZSet::Pack(p) => {
                p.records().for_each(|(_, [m, s])| visit(m, score_of(s)));
                0
            }
            ZSet::List(l) => l.scan(cursor, count, visit),
        }
    }

    /// Rebuilds a packed sorted set from elements in their stored order, checking what a pack
    /// promises (strictly increasing (score, member), no repeated member, no NaN, within the
    /// limits): None if a payload breaks any of it.
    pub(crate) fn packed_from<'a>(
        elements: impl IntoIterator<Item = (&'a [u8], f64)>,
    ) -> Option<ZSet> {
        let mut pack = Pack::<2>::default();
        let mut last: Option<(f64, &[u8])> = None;
        for (member, score) in elements {
            if score.is_nan()
                || (score == 0.0 && score.is_sign_negative())
                || member.len() > PACK_ELEMENT_BYTES_MAX
                || pack.find(member).is_some()
                || last.is_some_and(|l| !before(l, score, member))
            {
                return None;
            }
            last = Some((score, member));
            pack.push([member, encode_score(score, &mut [0; 8])]);
        }
        (pack.len() <= PACK_ENTRIES_MAX).then_some(ZSet::Pack(pack))
    }
}

/// The elements of a [`ZSet`] range.
pub enum Iter<'a> {
    Pack(std::vec::IntoIter<(&'a [u8], f64)>),
    List(SkipIter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(i) => i.next(),
            Iter::List(i) => i.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Pack(i) => i.size_hint(),
            Iter::List(i) => i.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(i) => i.next_back(),
            Iter::List(i) => i.next_back(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model: (score, member) pairs kept sorted.
    #[derive(Default)]
    struct Model(Vec<(f64, Vec<u8>)>);

    impl Model {
        fn position(&self, member: &[u8]) -> Option<usize> {
            self.0.iter().position(|(_, m)| m == member)
        }

        fn insert(&mut self, member: &[u8], score: f64) -> bool {
            let score = if score == 0.0 { 0.0 } else { score };
            let new = match self.position(member) {
                Some(i) => {
                    self.0.remove(i);
                    false
                }
                None => true,
            };
            let at = self
                .0
                .partition_point(|(s, m)| *s < score || (*s == score && m[..] < *member));
            self.0.insert(at, (score, member.to_vec()));
            new
        }

        fn lex_ranks(&self, min: LexBound, max: LexBound, reverse: bool) -> (usize, usize) {
            let n = self.0.len();
            if n == 0 || LexBound::empty_between(min, max) {
                return (0, 0);
            }
            let above_min = |i: usize| min.admits_from_below(&self.0[i].1);
            let below_max = |i: usize| max.admits_from_above(&self.0[i].1);
            if self.0[0].0 == self.0[n - 1].0 {
                let lo = (0..n).filter(|&i| !above_min(i)).count();
                let hi = (0..n).filter(|&i| below_max(i)).count();
                return (lo, hi.max(lo));
            }
            if !above_min(n - 1) || !below_max(0) {
                return (0, 0);
            }
            if reverse {
                let Some(last) = (0..n).rev().find(|&i| below_max(i)) else {
                    return (0, 0);
                };
                let mut first = last + 1;
                while first > 0 && above_min(first - 1) {
                    first -= 1;
                }
                (first, last + 1)
            } else {
                let Some(first) = (0..n).find(|&i| above_min(i)) else {
                    return (0, 0);
                };
                let mut end = first;
                while end < n && below_max(end) {
                    end += 1;
                }
                (first, end)
            }
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(Vec<u8>, f64),
        Remove(Vec<u8>),
        RemoveRange(usize, usize),
        Scan(u64, usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> + Clone {
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..4)
    }

    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            Just(-1.5),
            Just(2.25),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (-3i32..3).prop_map(f64::from),
        ]
    }

    /// Many distinct members, so that arenas and hash tables grow, shrink and compact.
    fn numbered_member() -> impl Strategy<Value = Vec<u8>> + Clone {
        (0u32..300).prop_map(|i| format!("m{i}").into_bytes())
    }

    fn op<M: Strategy<Value = Vec<u8>> + Clone>(
        member: M,
        range_len_max: usize,
    ) -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (member.clone(), score()).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => member.prop_map(Op::Remove),
            1 => (0usize..50, 0..range_len_max).prop_map(|(a, n)| Op::RemoveRange(a, a + n)),
            1 => (any::<u64>(), 1usize..4).prop_map(|(c, n)| Op::Scan(c, n)),
        ]
    }

    fn lex_bound() -> impl Strategy<Value = (u8, Vec<u8>)> {
        (0u8..4, member())
    }

    fn to_bound(kind: u8, member: &[u8]) -> LexBound<'_> {
        match kind {
            0 => LexBound::Min,
            1 => LexBound::Max,
            2 => LexBound::Inclusive(member),
            _ => LexBound::Exclusive(member),
        }
    }

    /// Checks every query of `z` against the model.
    /// A lexicographic range to check: (kind, member) of its minimum and of its maximum.
    type LexCase = ((u8, Vec<u8>), (u8, Vec<u8>));

    fn check(z: &ZSet, model: &Model, lex: &[LexCase]) {
        let n = model.0.len();
        assert_eq!(z.len(), n);
        assert_eq!(z.is_empty(), n == 0);
        let listed: Vec<(f64, Vec<u8>)> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(listed, model.0);
        let mut backwards: Vec<(f64, Vec<u8>)> =
            z.iter().rev().map(|(m, s)| (s, m.to_vec())).collect();
        backwards.reverse();
        assert_eq!(backwards, model.0);
        for (i, (s, m)) in model.0.iter().enumerate() {
            assert_eq!(z.score(m), Some(*s));
            assert_eq!(z.rank(m), Some(i));
            let (gm, gs) = z.get_by_rank(i).unwrap();
            assert_eq!((gs, gm), (*s, &m[..]));
            assert!(s.to_bits() != (-0.0f64).to_bits(), "-0 stored");
        }
        assert_eq!(z.get_by_rank(n), None);
        assert_eq!(z.rank(b"zz"), None);
        // Every range of a small set; a sample of a big one's.
        let step = n / 12 + 1;
        for start in (0..=n).step_by(step) {
            for end in (start..=n).step_by(step) {
                let forward: Vec<_> = z.range(start, end).map(|(m, s)| (s, m.to_vec())).collect();
                assert_eq!(forward, model.0[start..end]);
                let mut back: Vec<_> = z
                    .range(start, end)
                    .rev()
                    .map(|(m, s)| (s, m.to_vec()))
                    .collect();
                back.reverse();
                assert_eq!(back, model.0[start..end]);
                assert_eq!(z.range(start, end).len(), end - start);
            }
        }
        for bound in [
            f64::NEG_INFINITY,
            -2.0,
            -1.5,
            0.0,
            -0.0,
            0.5,
            1.0,
            2.25,
            f64::INFINITY,
        ] {
            let below = model.0.iter().filter(|(s, _)| *s < bound).count();
            let at_most = model.0.iter().filter(|(s, _)| *s <= bound).count();
            assert_eq!(z.count_below(bound), below, "below {bound}");
            assert_eq!(z.count_at_most(bound), at_most, "at most {bound}");
        }
        for ((kmin, mmin), (kmax, mmax)) in lex {
            let (min, max) = (to_bound(*kmin, mmin), to_bound(*kmax, mmax));
            for reverse in [false, true] {
                assert_eq!(
                    z.lex_ranks(min, max, reverse),
                    model.lex_ranks(min, max, reverse),
                    "{min:?} {max:?} reverse {reverse}"
                );
            }
        }
        // A whole scan visits every member exactly once (nothing changes meanwhile).
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, 2, |m, s| seen.push((s, m.to_vec())));
            if cursor == 0 {
                break;
            }
        }
        seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut expected = model.0.clone();
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(seen, expected);
    }

    /// Runs `ops` on a sorted set that starts as `start` returns (packed, or a skiplist from
    /// the first element), checking it against the model after each.
    fn run(ops: Vec<Op>, lex: Vec<LexCase>, start: fn() -> ZSet) -> Result<(), TestCaseError> {
        let mut z = start();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Insert(m, s) => prop_assert_eq!(z.insert(&m, s), model.insert(&m, s)),
                Op::Remove(m) => {
                    let at = model.position(&m);
                    if let Some(i) = at {
                        model.0.remove(i);
                    }
                    prop_assert_eq!(z.remove(&m), at.is_some());
                }
                Op::RemoveRange(start, end) => {
                    let end = end.min(model.0.len());
                    let start = start.min(end);
                    let mut removed = Vec::new();
                    z.remove_range(start, end, |m, s| removed.push((s, m.to_vec())));
                    let expected: Vec<_> = model.0.drain(start..end).collect();
                    prop_assert_eq!(removed, expected);
                }
                Op::Scan(cursor, count) => {
                    let mut visited = 0;
                    z.scan(cursor, count, |_, _| visited += 1);
                    prop_assert!(visited <= z.len());
                }
            }
            check(&z, &model, &lex);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn behaves_like_a_sorted_vec(
            ops in proptest::collection::vec(op(member(), 6), 0..120),
            lex in proptest::collection::vec((lex_bound(), lex_bound()), 0..6),
        ) {
            run(ops.clone(), lex.clone(), ZSet::default)?;
            run(ops, lex, ZSet::skiplist)?;
        }

    }

    proptest! {
        // Long runs over big sets: fewer cases.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn grows_shrinks_and_compacts_like_a_sorted_vec(
            ops in proptest::collection::vec(op(numbered_member(), 120), 0..400),
        ) {
            run(ops.clone(), Vec::new(), ZSet::default)?;
            run(ops, Vec::new(), ZSet::skiplist)?;
        }


        #[test]
        fn a_scan_sees_every_member_present_throughout(
            initial in proptest::collection::vec(member(), 0..40),
            churn in proptest::collection::vec((any::<bool>(), 0u32..200), 0..200),
        ) {
            // Members `initial` stay; others come and go between scan calls (growing and
            // shrinking the table), and every stayer must still be visited.
            let mut z = ZSet::skiplist();
            for m in &initial {
                z.insert(m, 1.0);
            }
            let mut seen = std::collections::HashSet::new();
            let mut cursor = 0;
            let mut churn = churn.into_iter();
            loop {
                cursor = z.scan(cursor, 1, |m, _| { seen.insert(m.to_vec()); });
                if cursor == 0 {
                    break;
                }
                for (add, i) in churn.by_ref().take(7) {
                    let other = format!("other{i}");
                    if add {
                        z.insert(other.as_bytes(), f64::from(i));
                    } else {
                        z.remove(other.as_bytes());
                    }
                }
            }
            for m in &initial {
                prop_assert!(seen.contains(m), "{:?} missed", m);
            }
        }
    }

    #[test]
    fn negative_zero_is_stored_as_zero() {
        let mut z = ZSet::default();
        z.insert(b"a", -0.0);
        assert_eq!(z.score(b"a").unwrap().to_bits(), 0.0f64.to_bits());
        assert!(!z.insert(b"a", 0.0));
    }

    #[test]
    fn packed_scores_round_trip() {
        let big = (1u64 << 47) as f64;
        for score in [
            0.0,
            1.0,
            -1.0,
            127.0,
            128.0,
            -128.0,
            -129.0,
            255.0,
            256.0,
            65535.0,
            -65536.0,
            1e9,
            -1e9,
            big - 1.0,
            -(big - 1.0),
            big,
            -big,
            1e300,
            0.5,
            -2.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1_700_000_000.0,
        ] {
            let mut buf = [0; 8];
            let bytes = encode_score(score, &mut buf).to_vec();
            assert_eq!(score_of(&bytes).to_bits(), score.to_bits(), "{score}");
            if score.fract() == 0.0 && score.abs() < big {
                assert!(bytes.len() < 8, "{score} took {} bytes", bytes.len());
            }
        }
        assert!(encode_score(0.0, &mut [0; 8]).is_empty());
        assert_eq!(encode_score(9.0, &mut [0; 8]), [9]);
        assert_eq!(encode_score(-1.0, &mut [0; 8]), [0xff]);
        assert_eq!(encode_score(200.0, &mut [0; 8]), [200, 0]);
    }

    #[test]
    fn a_sorted_set_is_packed_to_the_limits_then_a_skiplist() {
        let mut z = ZSet::default();
        for i in 0..PACK_ENTRIES_MAX {
            z.insert(format!("m{i}").as_bytes(), -(i as f64));
        }
        assert!(z.is_packed());
        assert_eq!(z.get_by_rank(0), Some((&b"m127"[..], -127.0)));
        assert!(!z.insert(b"m0", 5.0), "a new score moves the member");
        assert_eq!(z.rank(b"m0"), Some(PACK_ENTRIES_MAX - 1));
        z.insert(b"one more", 0.5);
        assert!(!z.is_packed(), "129 members make a skiplist");
        assert_eq!(z.len(), PACK_ENTRIES_MAX + 1);
        assert_eq!(z.rank(b"m0"), Some(PACK_ENTRIES_MAX));
        let mut z = ZSet::default();
        z.insert(b"a", 1.0);
        z.insert(&[b'x'; PACK_ELEMENT_BYTES_MAX + 1], 2.0);
        assert!(!z.is_packed(), "a 65-byte member makes a skiplist");
        assert_eq!(z.iter().map(|(_, s)| s).collect::<Vec<_>>(), [1.0, 2.0]);
        // Payload checks.
        assert!(
            ZSet::packed_from([(&b"b"[..], 1.0), (b"a", 1.0)]).is_none(),
            "out of order"
        );
        assert!(
            ZSet::packed_from([(&b"a"[..], 1.0), (b"a", 2.0)]).is_none(),
            "a repeat"
        );
        assert!(ZSet::packed_from([(&b"a"[..], f64::NAN)]).is_none());
        assert!(ZSet::packed_from([(&b"a"[..], -0.0)]).is_none());
        let ok = ZSet::packed_from([(&b"a"[..], 1.0), (b"b", 1.0), (b"a0", 2.0)]);
        assert_eq!(ok.map(|z| z.len()), Some(3));
    }

    #[test]
    fn big_sets_keep_ranks_and_give_memory_back() {
        let mut z = SkipList::default();
        for i in 0..10_000u32 {
            z.insert(format!("m{i:05}").as_bytes(), f64::from(i % 100));
        }
        assert_eq!(z.len(), 10_000);
        // Scores 0..99 repeat; within a score, members sort as bytes.
        assert_eq!(z.rank(b"m00100"), Some(1));
        assert_eq!(z.get_by_rank(9_999).unwrap().0, b"m09999");
        let mut removed = 0;
        z.remove_range(10, 9_990, |_, _| removed += 1);
        assert_eq!(removed, 9_980);
        assert_eq!(z.len(), 20);
        assert!(z.nodes.len() < 100, "arena of {} slots", z.nodes.len());
        assert!(z.buckets.len() <= 32, "{} buckets", z.buckets.len());
        assert_eq!(z.iter().count(), 20);
    }
}
