//! Lists as Redis keeps them: a deque of packed nodes (Redis's quicklist of listpacks).
//!
//! A list of short elements kept as a deque of boxed slices costs a 16-byte slot and a heap
//! allocation per element, about three times Redis's bytes per element. Here a list is a deque of
//! [`Node`]s, each one allocation holding up to [`NODE_BYTES_MAX`] bytes of elements back to back
//! (Redis's `list-max-listpack-size -2`, 8 KiB), each element written as
//! `varint length · bytes · the same varint reversed`, so that a node is walked from either end
//! (the trailing length is Redis's listpack "backlen"). An element is `len + 2` bytes for one
//! shorter than 128 bytes. An element longer than a node gets a node of its own.
//!
//! Pushes and pops at either end touch only the end node; an index walks node counts from the
//! nearer end, then entries in one node, so LINDEX and LSET cost what they cost in Redis. A node
//! that grows past the limit from the middle (LINSERT, LSET) is split in two; two neighbours whose
//! bytes together fit half a node are merged, so a list shrunk to one node is a `listpack` again
//! and a long one a `quicklist` (OBJECT ENCODING, as Redis 7.2 reports them), with a factor of two
//! between the two thresholds so that a list at the edge does not flip at every push and pop.
//! A list of one node holds it inline (no deque, no box): most lists are short, and for them
//! the entries' allocation is the only one.
//!
//! Determinism: the layout follows from the operations applied alone, and DUMP payloads and
//! snapshots record the node boundaries, so a replica restored from a snapshot holds what the
//! replica that wrote it held.

use std::collections::VecDeque;
use std::fmt;
use std::ops::{Range, RangeInclusive};

use crate::types::Bytes;
use crate::varint;

/// Bytes of entries a node holds before the next element goes to a new node (Redis's
/// `list-max-listpack-size -2`).
pub const NODE_BYTES_MAX: usize = 8 << 10;
/// Two neighbours whose bytes together are at most this are merged into one.
const MERGE_BYTES_MAX: usize = NODE_BYTES_MAX / 2;

/// The bytes an element of `len` bytes takes in a node.
fn entry_len(len: usize) -> usize {
    len + 2 * varint::len(len)
}

/// Writes an entry for `element` into `out` (which has exactly `entry_len` bytes).
fn write_entry(out: &mut [u8], element: &[u8]) {
    debug_assert_eq!(out.len(), entry_len(element.len()));
    let header = varint::len(element.len());
    let (head, rest) = out.split_at_mut(header);
    varint::write(head, element.len());
    let (data, tail) = rest.split_at_mut(element.len());
    data.copy_from_slice(element);
    // The trailing copy is reversed: read from the end, its first byte is the lowest group.
    tail.copy_from_slice(head);
    tail.reverse();
}

/// Bytes of entries from which a node pushed or popped at its front keeps a gap there (see
/// [`Node::start`]); a smaller node moves its entries instead, which costs less than the gap.
const GAP_FROM_BYTES: usize = 1 << 10;

/// One allocation of entries (see the module doc). Never empty inside a [`List`].
#[derive(Clone, Default)]
struct Node {
    bytes: Box<[u8]>,
    /// Where the entries start. A large node pushed and popped at its front (LPUSH, LPOP on a
    /// long list) keeps a gap before its entries, as a deque does, instead of moving up to
    /// 8 KiB at every push and pop: a pop widens the gap (given back once it is larger than the
    /// entries), a push fills it, and a push that finds no room makes a quarter of the node's
    /// size of it. Offsets into a node are offsets into `bytes`.
    start: u32,
    count: u32,
}

impl Node {
    fn with(element: &[u8]) -> Node {
        let mut bytes = vec![0; entry_len(element.len())].into_boxed_slice();
        write_entry(&mut bytes, element);
        Node {
            bytes,
            start: 0,
            count: 1,
        }
    }

    fn len(&self) -> usize {
        self.count as usize
    }

    /// The offset of the first entry.
    fn first(&self) -> usize {
        self.start as usize
    }

    /// Bytes of entries (the gap excluded).
    fn live(&self) -> usize {
        self.bytes.len() - self.first()
    }

    /// The element of the entry at byte `at`, and the offset of the next entry.
    fn entry_at(&self, at: usize) -> (Range<usize>, usize) {
        let (len, header) = varint::read(&self.bytes[at..]);
        let start = at + header;
        (start..start + len, start + len + header)
    }

    /// The element of the entry that ends at byte `end`, and the offset where that entry starts.
    fn entry_before(&self, end: usize) -> (Range<usize>, usize) {
        let (mut len, mut shift, mut header) = (0usize, 0, 0);
        loop {
            let byte = self.bytes[end - 1 - header];
            len |= usize::from(byte & 0x7f) << shift;
            header += 1;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let stop = end - header;
        (stop - len..stop, stop - len - header)
    }

    /// The byte offset of entry `index` (the end for `index == count`), walked from the nearer end.
    fn offset_of(&self, index: usize) -> usize {
        debug_assert!(index <= self.len());
        if index <= self.len() / 2 {
            (0..index).fold(self.first(), |at, _| self.entry_at(at).1)
        } else {
            (index..self.len()).fold(self.bytes.len(), |end, _| self.entry_before(end).1)
        }
    }

    /// The bytes of the first `entries` entries (at the front) or the last (at the back).
    fn end_entries(&self, entries: usize, front: bool) -> Range<usize> {
        if front {
            self.first()..self.offset_of(entries)
        } else {
            self.offset_of(self.len() - entries)..self.bytes.len()
        }
    }

    /// The element of entry `index`.
    fn get(&self, index: usize) -> &[u8] {
        let (element, _) = self.entry_at(self.offset_of(index));
        &self.bytes[element]
    }

    /// Replaces the element of entry `index`; the node may then be over the limit.
    fn set(&mut self, index: usize, element: &[u8]) {
        let at = self.offset_of(index);
        let (_, next) = self.entry_at(at);
        write_entry(self.splice(at..next, entry_len(element.len())), element);
        self.settle_gap();
    }

    /// Replaces the bytes `range` with room for `room` bytes, reallocating to the exact new size
    /// (as a listpack does: the allocator's size classes absorb most of those in place), and
    /// returns the new room.
    fn splice(&mut self, range: Range<usize>, room: usize) -> &mut [u8] {
        let old = self.bytes.len();
        let new = old - range.len() + room;
        let mut bytes = std::mem::take(&mut self.bytes).into_vec();
        if new > old {
            bytes.reserve_exact(new - old);
            bytes.resize(new, 0);
            bytes.copy_within(range.end..old, range.start + room);
        } else {
            bytes.copy_within(range.end..old, range.start + room);
            bytes.truncate(new);
            bytes.shrink_to_fit();
        }
        self.bytes = bytes.into_boxed_slice();
        &mut self.bytes[range.start..range.start + room]
    }

    /// Inserts `element` as the entry starting at byte `at`.
    fn insert_at(&mut self, at: usize, element: &[u8]) {
        let need = entry_len(element.len());
        self.count += 1;
        if at == self.first() && need <= self.first() {
            self.start -= need as u32;
            let at = self.first();
            write_entry(&mut self.bytes[at..at + need], element);
        } else if at == self.first() && self.live() >= GAP_FROM_BYTES {
            let (gap, live) = (self.live() / 4, self.live());
            let mut bytes = vec![0; gap + need + live].into_boxed_slice();
            bytes[gap + need..].copy_from_slice(&self.bytes[self.first()..]);
            write_entry(&mut bytes[gap..gap + need], element);
            self.bytes = bytes;
            self.start = gap as u32;
        } else {
            write_entry(self.splice(at..at, need), element);
        }
    }

    /// Removes the entries in the bytes `range`, `entries` of them.
    fn remove_bytes(&mut self, range: Range<usize>, entries: usize) {
        self.count -= entries as u32;
        if range.start == self.first() {
            self.start = range.end as u32;
        } else {
            self.splice(range, 0);
        }
        self.settle_gap();
    }

    /// Gives the gap back once it outgrows the entries, or once the node is small.
    fn settle_gap(&mut self) {
        if self.start > 0 && (self.live() < GAP_FROM_BYTES || self.first() > self.live()) {
            self.bytes = self.bytes[self.first()..].into();
            self.start = 0;
        }
    }
}

/// A list of two nodes or more (see the module doc).
#[derive(Clone, Default)]
struct Nodes {
    nodes: VecDeque<Node>,
    len: usize,
}

impl Nodes {
    fn push_back(&mut self, element: &[u8]) {
        self.len += 1;
        if let Some(node) = self.nodes.back_mut()
            && fits(node, element)
        {
            node.insert_at(node.bytes.len(), element);
            return;
        }
        self.nodes.push_back(Node::with(element));
    }

    fn push_front(&mut self, element: &[u8]) {
        self.len += 1;
        if let Some(node) = self.nodes.front_mut()
            && fits(node, element)
        {
            node.insert_at(node.first(), element);
            return;
        }
        self.nodes.push_front(Node::with(element));
    }

    /// Removes `entries` entries, the bytes `range` of node `i`, dropping the node if that
    /// empties it and merging it with a neighbour if they are both small.
    fn remove_in(&mut self, i: usize, range: Range<usize>, entries: usize) {
        self.len -= entries;
        if self.nodes[i].len() == entries {
            self.nodes.remove(i);
            // Its neighbours are now side by side.
            self.merge_around(i.saturating_sub(1));
        } else {
            self.nodes[i].remove_bytes(range, entries);
            self.merge_around(i);
        }
    }

    /// Merges node `i` with a neighbour when their bytes together fit half a node.
    fn merge_around(&mut self, i: usize) {
        let fits = |a: &Node, b: &Node| a.live() + b.live() <= MERGE_BYTES_MAX;
        if i + 1 < self.nodes.len() && fits(&self.nodes[i], &self.nodes[i + 1]) {
            self.merge_next(i);
        }
        if i > 0 && i < self.nodes.len() && fits(&self.nodes[i - 1], &self.nodes[i]) {
            self.merge_next(i - 1);
        }
    }

    /// Appends node `i + 1`'s entries to node `i`.
    fn merge_next(&mut self, i: usize) {
        let next = self.nodes.remove(i + 1).expect("a next node");
        let node = &mut self.nodes[i];
        let end = node.bytes.len();
        node.splice(end..end, next.live())
            .copy_from_slice(&next.bytes[next.first()..]);
        node.count += next.count;
    }

    /// Splits node `i` in two halves (by bytes) while it holds more than `NODE_BYTES_MAX` bytes
    /// and more than one entry.
    fn split_if_full(&mut self, i: usize) {
        let node = &self.nodes[i];
        if node.live() <= NODE_BYTES_MAX || node.len() < 2 {
            return;
        }
        // The left half takes entries until it holds half the bytes, leaving one at least.
        let (mut at, mut entries) = (node.first(), 0);
        loop {
            at = node.entry_at(at).1;
            entries += 1;
            if at - node.first() >= node.live() / 2 || entries + 1 == node.len() {
                break;
            }
        }
        let right = Node {
            bytes: node.bytes[at..].into(),
            start: 0,
            count: node.count - entries as u32,
        };
        let node = &mut self.nodes[i];
        node.splice(at..node.bytes.len(), 0);
        node.count = entries as u32;
        node.settle_gap();
        self.nodes.insert(i + 1, right);
        self.split_if_full(i + 1);
        self.split_if_full(i);
    }

    /// The node holding element `index` and the element's index inside it, found by walking
    /// node counts from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut index = index;
            for (i, node) in self.nodes.iter().enumerate() {
                if index < node.len() {
                    return (i, index);
                }
                index -= node.len();
            }
        } else {
            let mut from_back = self.len - index;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                if from_back <= node.len() {
                    return (i, node.len() - from_back);
                }
                from_back -= node.len();
            }
        }
        unreachable!("the node counts add up to the list's length")
    }

    fn set(&mut self, index: usize, element: &[u8]) {
        let (i, local) = self.locate(index);
        self.nodes[i].set(local, element);
        self.split_if_full(i);
        self.merge_around(i);
    }

    fn insert(&mut self, index: usize, element: &[u8]) {
        assert!(index <= self.len, "insert at {index} of {}", self.len);
        if index == 0 {
            return self.push_front(element);
        }
        if index == self.len {
            return self.push_back(element);
        }
        let (i, local) = self.locate(index);
        let node = &mut self.nodes[i];
        let at = node.offset_of(local);
        node.insert_at(at, element);
        self.len += 1;
        self.split_if_full(i);
    }

    /// Removes `n` elements from the front or the back, a node at a time.
    fn drop_end(&mut self, mut n: usize, front: bool) {
        while n > 0 {
            let i = if front { 0 } else { self.nodes.len() - 1 };
            let node = &self.nodes[i];
            let entries = n.min(node.len());
            self.remove_in(i, node.end_entries(entries, front), entries);
            n -= entries;
        }
    }
}

/// A list: one node (Redis 7.2's `listpack` encoding) or a deque of them (its `quicklist`).
/// One node sits in the list itself, so a short list is one allocation besides its key's
/// object; 24 bytes, so that a database object holds a list without a box.
#[derive(Clone)]
pub struct List(Repr);

#[derive(Clone)]
enum Repr {
    One(Node),
    Many(Box<Nodes>),
}

impl Default for List {
    fn default() -> List {
        List(Repr::One(Node::default()))
    }
}

/// Whether `element` can go into `node` without growing it past the limit.
fn fits(node: &Node, element: &[u8]) -> bool {
    node.count == 0 || node.live() + entry_len(element.len()) <= NODE_BYTES_MAX
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::One(node) => node.len(),
            Repr::Many(many) => many.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Redis's OBJECT ENCODING name: one node is a `listpack`, more a `quicklist`.
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::One(_) => "listpack",
            Repr::Many(_) => "quicklist",
        }
    }

    fn node_count(&self) -> usize {
        match &self.0 {
            Repr::One(node) => usize::from(node.count > 0),
            Repr::Many(many) => many.nodes.len(),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match &self.0 {
            Repr::One(node) => {
                debug_assert_eq!(i, 0);
                node
            }
            Repr::Many(many) => &many.nodes[i],
        }
    }

    /// The node holding element `index`, and the element's index inside it.
    fn locate(&self, index: usize) -> (usize, usize) {
        match &self.0 {
            Repr::One(_) => (0, index),
            Repr::Many(many) => many.locate(index),
        }
    }

    /// The nodes as a deque, made one if the list was a single node.
    fn many(&mut self) -> &mut Nodes {
        if let Repr::One(node) = &mut self.0 {
            let node = std::mem::take(node);
            let len = node.len();
            let mut nodes = VecDeque::with_capacity(4);
            if len > 0 {
                nodes.push_back(node);
            }
            self.0 = Repr::Many(Box::new(Nodes { nodes, len }));
        }
        match &mut self.0 {
            Repr::Many(many) => many,
            Repr::One(_) => unreachable!("just made a deque"),
        }
    }

    /// Back to a single node when that is all the deque holds.
    fn settle(&mut self) {
        if let Repr::Many(many) = &mut self.0
            && many.nodes.len() <= 1
        {
            let node = many.nodes.pop_front().unwrap_or_default();
            self.0 = Repr::One(node);
        }
    }

    pub fn push_back(&mut self, element: &[u8]) {
        match &mut self.0 {
            Repr::One(node) if fits(node, element) => {
                let end = node.bytes.len();
                node.insert_at(end, element);
            }
            _ => self.many().push_back(element),
        }
    }

    pub fn push_front(&mut self, element: &[u8]) {
        match &mut self.0 {
            Repr::One(node) if fits(node, element) => node.insert_at(node.first(), element),
            _ => self.many().push_front(element),
        }
    }

    pub fn pop_front(&mut self) -> Option<Bytes> {
        self.pop(true)
    }

    pub fn pop_back(&mut self) -> Option<Bytes> {
        self.pop(false)
    }

    /// Removes and returns the element at the front or at the back.
    fn pop(&mut self, front: bool) -> Option<Bytes> {
        if self.is_empty() {
            return None;
        }
        let i = if front { 0 } else { self.node_count() - 1 };
        let node = self.node(i);
        let entry = node.end_entries(1, front);
        let (element, _) = node.entry_at(entry.start);
        let popped = node.bytes[element].into();
        self.remove(i, entry, 1);
        Some(popped)
    }

    /// Removes `entries` entries, the bytes `range` of node `i`.
    fn remove(&mut self, i: usize, range: Range<usize>, entries: usize) {
        match &mut self.0 {
            Repr::One(node) => node.remove_bytes(range, entries),
            Repr::Many(many) => {
                many.remove_in(i, range, entries);
                self.settle();
            }
        }
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        let (i, local) = self.locate(index);
        Some(self.node(i).get(local))
    }

    /// Replaces element `index` (LSET). Panics if it is out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) {
        assert!(index < self.len(), "set {index} of {}", self.len());
        match &mut self.0 {
            Repr::One(node) => {
                node.set(index, element);
                if node.live() > NODE_BYTES_MAX && node.len() > 1 {
                    self.many().split_if_full(0);
                }
            }
            Repr::Many(many) => {
                many.set(index, element);
                self.settle();
            }
        }
    }

    /// Inserts `element` before element `index` (at the end for `index == len`).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        assert!(index <= self.len(), "insert at {index} of {}", self.len());
        match &mut self.0 {
            Repr::One(node) if fits(node, element) => {
                let at = node.offset_of(index);
                node.insert_at(at, element);
            }
            _ => {
                self.many().insert(index, element);
                self.settle();
            }
        }
    }

    /// Removes the first `n` elements.
    pub fn drop_front(&mut self, n: usize) {
        self.drop_end(n, true);
    }

    /// Removes the last `n` elements.
    pub fn drop_back(&mut self, n: usize) {
        self.drop_end(n, false);
    }

    fn drop_end(&mut self, n: usize, front: bool) {
        assert!(n <= self.len());
        match &mut self.0 {
            Repr::One(node) => node.remove_bytes(node.end_entries(n, front), n),
            Repr::Many(many) => {
                many.drop_end(n, front);
                self.settle();
            }
        }
    }

    /// Removes and returns the first `n` elements (all if there are fewer), head first.
    pub fn pop_front_n(&mut self, n: usize) -> Vec<Bytes> {
        let n = n.min(self.len());
        let popped = self.iter().take(n).map(Bytes::from).collect();
        self.drop_front(n);
        popped
    }

    /// Removes and returns the last `n` elements (all if there are fewer), tail first.
    pub fn pop_back_n(&mut self, n: usize) -> Vec<Bytes> {
        let n = n.min(self.len());
        let popped = self.iter().rev().take(n).map(Bytes::from).collect();
        self.drop_back(n);
        popped
    }

    /// Keeps the elements for which `keep` is true, calling it once per element from the head.
    /// The kept elements are packed anew (LREM is O(n) anyway).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let kept: List = self.iter().filter(|e| keep(e)).collect();
        *self = kept;
    }

    pub fn clear(&mut self) {
        *self = List::new();
    }

    /// Every element, head to tail (`rev()` for tail to head).
    pub fn iter(&self) -> Iter<'_> {
        let nodes = self.node_count();
        Iter {
            list: self,
            front: (0, if nodes > 0 { self.node(0).first() } else { 0 }),
            back: (
                nodes.saturating_sub(1),
                if nodes > 0 {
                    self.node(nodes - 1).bytes.len()
                } else {
                    0
                },
            ),
            remaining: self.len(),
        }
    }

    /// The elements `range`, which must be in bounds.
    pub fn range(&self, range: RangeInclusive<usize>) -> Iter<'_> {
        let (first, last) = (*range.start(), *range.end());
        assert!(
            first <= last && last < self.len(),
            "{first}..={last} of {}",
            self.len()
        );
        let (i, local) = self.locate(first);
        let (j, local_last) = self.locate(last);
        Iter {
            list: self,
            front: (i, self.node(i).offset_of(local)),
            back: (j, self.node(j).offset_of(local_last + 1)),
            remaining: last - first + 1,
        }
    }

    /// The node boundaries: how many elements each node holds (for DUMP payloads).
    pub(crate) fn node_lens(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.node_count()).map(|i| self.node(i).len())
    }

    /// A list with the given node boundaries: `nodes` yields each node's elements. Empty nodes
    /// are skipped and a node over the limit is split, so any input gives a valid list.
    pub(crate) fn from_nodes<'a, E>(nodes: impl IntoIterator<Item = E>) -> List
    where
        E: IntoIterator<Item = &'a [u8]>,
    {
        let mut many = Nodes::default();
        for elements in nodes {
            let mut node = Node::default();
            for element in elements {
                let end = node.bytes.len();
                node.insert_at(end, element);
            }
            if node.count > 0 {
                many.len += node.len();
                many.nodes.push_back(node);
                let last = many.nodes.len() - 1;
                many.split_if_full(last);
            }
        }
        let mut list = List(Repr::Many(Box::new(many)));
        list.settle();
        list
    }
}

impl<T: AsRef<[u8]>> FromIterator<T> for List {
    fn from_iter<I: IntoIterator<Item = T>>(elements: I) -> List {
        let mut list = List::new();
        elements
            .into_iter()
            .for_each(|e| list.push_back(e.as_ref()));
        list
    }
}

/// Lists are equal when their elements are, whatever their layout.
impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// The elements of a list or of a range of it, from either end.
pub struct Iter<'a> {
    list: &'a List,
    /// The node and byte offset of the next element from the front.
    front: (usize, usize),
    /// The node and byte offset just after the next element from the back.
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list = self.list;
        if self.front.1 == list.node(self.front.0).bytes.len() {
            let i = self.front.0 + 1;
            self.front = (i, list.node(i).first());
        }
        let node = list.node(self.front.0);
        let (element, next) = node.entry_at(self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(&node.bytes[element])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let list = self.list;
        if self.back.1 == list.node(self.back.0).first() {
            let i = self.back.0 - 1;
            self.back = (i, list.node(i).bytes.len());
        }
        let node = list.node(self.back.0);
        let (element, start) = node.entry_before(self.back.1);
        self.back.1 = start;
        self.remaining -= 1;
        Some(&node.bytes[element])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use proptest::prelude::*;

    use super::*;

    /// Checks the layout: no empty node, counts that add up and match the entries walked, and no
    /// node over the limit unless it holds a single element.
    fn check(list: &List) {
        let mut total = 0;
        if let Repr::Many(many) = &list.0 {
            assert!(many.nodes.len() > 1, "a deque of one node is a single node");
            assert_eq!(many.len, list.len());
        }
        for node in (0..list.node_count()).map(|i| list.node(i)) {
            assert!(node.count > 0, "an empty node");
            let (mut at, mut entries) = (node.first(), 0);
            while at < node.bytes.len() {
                at = node.entry_at(at).1;
                entries += 1;
            }
            assert_eq!(at, node.bytes.len(), "entries end where the node ends");
            assert_eq!(entries, node.len());
            assert!(node.live() <= NODE_BYTES_MAX || node.len() == 1);
            // A gap only in a large node, and never larger than its entries.
            assert!(node.first() == 0 || node.live() >= GAP_FROM_BYTES);
            assert!(node.first() <= node.live());
            total += node.len();
        }
        assert_eq!(total, list.len());
    }

    fn elements(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn entries_read_from_either_end() {
        for len in [0, 1, 127, 128, 300, 16383, 16384, 70000] {
            let element: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let node = Node::with(&element);
            assert_eq!(node.bytes.len(), entry_len(len));
            let (data, next) = node.entry_at(0);
            assert_eq!(
                (&node.bytes[data.clone()], next),
                (&element[..], node.bytes.len())
            );
            let (back, start) = node.entry_before(node.bytes.len());
            assert_eq!((back, start), (data, 0));
        }
        assert_eq!(
            entry_len(10),
            12,
            "a short element costs two bytes, as in a listpack"
        );
    }

    #[test]
    fn a_short_list_is_one_exact_allocation_of_entries() {
        let mut list = List::new();
        for i in 0..10 {
            list.push_back(format!("element-{i}").as_bytes());
        }
        assert_eq!(list.encoding(), "listpack");
        assert!(matches!(list.0, Repr::One(_)));
        assert_eq!(list.node(0).bytes.len(), 10 * 11);
        assert_eq!(
            std::mem::size_of::<List>(),
            24,
            "a database object holds it unboxed"
        );
    }

    #[test]
    fn a_long_list_is_a_quicklist_and_shrinks_back_to_a_listpack() {
        let mut list = List::new();
        for i in 0..2000 {
            list.push_back(format!("element-{i:06}").as_bytes());
        }
        check(&list);
        assert_eq!(list.encoding(), "quicklist");
        assert!(list.node_count() > 2, "{} nodes", list.node_count());
        // 16 bytes an element in nodes of up to 8 KiB: most nodes are full.
        let bytes: usize = (0..list.node_count()).map(|i| list.node(i).live()).sum();
        assert_eq!(bytes, 2000 * 16);
        list.drop_front(1900);
        check(&list);
        assert_eq!(list.encoding(), "listpack", "100 elements fit half a node");
        assert_eq!(list.get(0), Some(&b"element-001900"[..]));
        list.drop_back(100);
        assert!(list.is_empty());
        assert_eq!(list.node_count(), 0);
    }

    #[test]
    fn an_element_larger_than_a_node_gets_its_own() {
        let big = vec![b'x'; NODE_BYTES_MAX * 2];
        let mut list: List = [&b"a"[..], &b"b"[..]].into_iter().collect();
        list.insert(1, &big);
        check(&list);
        assert_eq!(list.node_count(), 3);
        assert_eq!(list.get(1), Some(&big[..]));
        list.set(1, b"small");
        check(&list);
        assert_eq!(list.node_count(), 1, "merged back once small");
        assert_eq!(elements(&list), [&b"a"[..], b"small", b"b"]);
    }

    #[test]
    fn pushes_and_pops_at_the_head_of_a_long_list_use_a_gap() {
        let mut list = List::new();
        let mut gaps = 0;
        for i in 0..3000 {
            list.push_front(format!("element-{i:06}").as_bytes());
            gaps += usize::from(list.node(0).start > 0);
        }
        check(&list);
        assert!(gaps > 2500, "most pushes wrote into a gap ({gaps})");
        for i in (0..3000).rev() {
            let want = format!("element-{i:06}");
            assert_eq!(list.pop_front().as_deref(), Some(want.as_bytes()));
            if i % 100 == 0 {
                check(&list);
            }
        }
        assert!(list.is_empty());
    }

    #[test]
    fn a_restored_list_keeps_its_node_boundaries() {
        let mut list = List::new();
        for i in 0..3000 {
            list.insert(i / 2, format!("{i}").as_bytes());
        }
        check(&list);
        let lens: Vec<usize> = list.node_lens().collect();
        let mut elements = list.iter();
        let nodes: Vec<Vec<&[u8]>> = lens
            .iter()
            .map(|&n| elements.by_ref().take(n).collect())
            .collect();
        let copy = List::from_nodes(nodes);
        check(&copy);
        assert_eq!(copy.node_lens().collect::<Vec<_>>(), lens);
        assert_eq!(copy, list);
    }

    #[derive(Clone, Debug)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        PopFrontN(usize),
        PopBackN(usize),
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        Trim(usize, usize),
        Retain(u8),
    }

    fn element() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 0..40),
            1 => proptest::collection::vec(any::<u8>(), 100..300),
            1 => proptest::collection::vec(any::<u8>(), 3000..9000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => element().prop_map(Op::PushFront),
            6 => element().prop_map(Op::PushBack),
            2 => Just(Op::PopFront),
            2 => Just(Op::PopBack),
            1 => (0..50usize).prop_map(Op::PopFrontN),
            1 => (0..50usize).prop_map(Op::PopBackN),
            3 => (any::<usize>(), element()).prop_map(|(i, e)| Op::Insert(i, e)),
            3 => (any::<usize>(), element()).prop_map(|(i, e)| Op::Set(i, e)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Trim(a, b)),
            1 => any::<u8>().prop_map(Op::Retain),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Every operation leaves the list holding what a deque of the same elements holds,
        /// read from either end and by index, with a valid layout.
        #[test]
        fn behaves_as_a_deque(ops in proptest::collection::vec(op(), 0..300)) {
            let (mut list, mut model) = (List::new(), VecDeque::<Vec<u8>>::new());
            for op in ops {
                match op {
                    Op::PushFront(e) => { list.push_front(&e); model.push_front(e); }
                    Op::PushBack(e) => { list.push_back(&e); model.push_back(e); }
                    Op::PopFront => prop_assert_eq!(list.pop_front().map(Vec::from), model.pop_front()),
                    Op::PopBack => prop_assert_eq!(list.pop_back().map(Vec::from), model.pop_back()),
                    Op::PopFrontN(n) => {
                        let n2 = n.min(model.len());
                        let want: Vec<Vec<u8>> = model.drain(..n2).collect();
                        let got: Vec<Vec<u8>> = list.pop_front_n(n).into_iter().map(Vec::from).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::PopBackN(n) => {
                        let n2 = n.min(model.len());
                        let want: Vec<Vec<u8>> = model.drain(model.len() - n2..).rev().collect();
                        let got: Vec<Vec<u8>> = list.pop_back_n(n).into_iter().map(Vec::from).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::Insert(i, e) => {
                        let i = i % (model.len() + 1);
                        list.insert(i, &e);
                        model.insert(i, e);
                    }
                    Op::Set(i, e) if !model.is_empty() => {
                        let i = i % model.len();
                        list.set(i, &e);
                        model[i] = e;
                    }
                    Op::Set(..) => {}
                    Op::Trim(a, b) if !model.is_empty() => {
                        let (first, last) = (a % model.len(), b % model.len());
                        let (first, last) = (first.min(last), first.max(last));
                        list.drop_back(model.len() - 1 - last);
                        list.drop_front(first);
                        model.truncate(last + 1);
                        model.drain(..first);
                    }
                    Op::Trim(..) => {}
                    Op::Retain(b) => {
                        let keep = |e: &[u8]| e.first() != Some(&b);
                        list.retain(keep);
                        model.retain(|e| keep(e));
                    }
                }
                check(&list);
                prop_assert_eq!(list.len(), model.len());
            }
            prop_assert_eq!(elements(&list), Vec::from(model.clone()));
            let backwards: Vec<&[u8]> = list.iter().rev().collect();
            let model_backwards: Vec<&[u8]> = model.iter().rev().map(Vec::as_slice).collect();
            prop_assert_eq!(backwards, model_backwards);
            for (i, e) in model.iter().enumerate() {
                prop_assert_eq!(list.get(i), Some(e.as_slice()));
            }
            prop_assert_eq!(list.get(model.len()), None);
            if !model.is_empty() {
                let (first, last) = (model.len() / 3, model.len() * 2 / 3);
                let range: Vec<&[u8]> = list.range(first..=last).collect();
                let want: Vec<&[u8]> = model.range(first..=last).map(Vec::as_slice).collect();
                prop_assert_eq!(&range, &want);
                let range_back: Vec<&[u8]> = list.range(first..=last).rev().collect();
                prop_assert_eq!(range_back, want.into_iter().rev().collect::<Vec<_>>());
            }
        }
    }
}
