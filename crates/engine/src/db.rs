//! Databases: keys split into segments by hash, entries packed one allocation each, an index of
//! expiry times, and the keyspace of numbered databases.
//!
//! Each database keeps one hash table per segment (16384 of them, chosen by 14 bits of the key's
//! hash, allocated with the first key). That gives SCAN a cursor with Redis's guarantee (a
//! segment index: every key present for the whole scan is returned, however the tables grow or
//! shrink in between). Segments are not cluster slots on purpose: the slot's CRC16 was the
//! largest cost of a lookup, while the hash is needed anyway.
//!
//! An entry is one boxed byte string holding a header, the key and (for short strings and
//! integers) the value: `flags · changed_s (u32) · WATCH stamp (u32) · [expire_at_ms (u64)] ·
//! key length (varint) · key · payload`. A table slot is that box's 16-byte pointer, so the table's load factor costs
//! little, and a key with a short value costs one allocation. Long strings, strings changed in
//! place, and (later) collections live in a per-database slab and the payload is their index.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::thin::ThinBytes;
use crate::types::{Hash, List, Set, ZSet};
use crate::value::{Entry, EntryRef, Value, ValueMut, ValueRef};
use crate::varint;
use crate::watch::{DELETED_MAX, Versions};

type Key = Box<[u8]>;
/// An entry's bytes behind a thin pointer: a table bucket is 8 bytes, not 16 (see `thin`).
type Blob = ThinBytes;

/// Segments per database; a SCAN cursor is a segment index.
const SEGMENT_COUNT: usize = 1 << 14;
const SLOT_WORDS: usize = SEGMENT_COUNT / 64;
/// Which bits of the hash choose the segment: middle ones, because hashbrown uses the low bits
/// for the bucket and the top seven as tags, and those must still vary within a segment.
const SEGMENT_SHIFT: u32 = 40;
/// Strings up to this long are stored inside the entry; longer ones in the slab, so that
/// re-encoding an entry (a new TTL) never copies a large value.
const INLINE_STRING_BYTES_MAX: usize = 512;

const KIND_INLINE: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_OBJECT: u8 = 2;
const KIND_MASK: u8 = 0x0f;
const FLAG_EXPIRE: u8 = 0x80;

/// A SCAN cursor: the next segment to visit. 0 starts a scan, and is returned when it ends.
pub type ScanCursor = u64;

/// What an entry's payload is.
enum Payload<'a> {
    Inline(&'a [u8]),
    Int(i64),
    Object(u32),
}

/// An entry's fields, read from its bytes.
struct Fields<'a> {
    flags: u8,
    changed_s: u32,
    /// The low 32 bits of the key's WATCH version (see `watch`).
    stamp: u32,
    expire_at_ms: u64,
    key: &'a [u8],
    payload: &'a [u8],
}

/// Where the header's fields sit.
const CHANGED_AT: usize = 1;
const STAMP_AT: usize = 5;
const EXPIRE_AT: usize = 9;

fn encode(key: &[u8], payload: Payload, expire_at_ms: u64, changed_s: u32, stamp: u32) -> Blob {
    let (kind, body): (u8, &[u8]);
    let int_bytes;
    let index_bytes;
    match payload {
        Payload::Inline(s) => (kind, body) = (KIND_INLINE, s),
        Payload::Int(n) => {
            int_bytes = n.to_le_bytes();
            (kind, body) = (KIND_INT, &int_bytes);
        }
        Payload::Object(i) => {
            index_bytes = i.to_le_bytes();
            (kind, body) = (KIND_OBJECT, &index_bytes);
        }
    }
    let expire = if expire_at_ms != 0 { 8 } else { 0 };
    let key_len = varint::len(key.len());
    let mut blob = ThinBytes::zeroed(EXPIRE_AT + expire + key_len + key.len() + body.len());
    let mut out = &mut blob[..];
    let mut next = |len: usize| {
        let (head, rest) = std::mem::take(&mut out).split_at_mut(len);
        out = rest;
        head
    };
    next(1)[0] = kind | if expire_at_ms != 0 { FLAG_EXPIRE } else { 0 };
    next(4).copy_from_slice(&changed_s.to_le_bytes());
    next(4).copy_from_slice(&stamp.to_le_bytes());
    if expire_at_ms != 0 {
        next(8).copy_from_slice(&expire_at_ms.to_le_bytes());
    }
    varint::write(next(key_len), key.len());
    next(key.len()).copy_from_slice(key);
    next(body.len()).copy_from_slice(body);
    blob
}

fn fields(blob: &[u8]) -> Fields<'_> {
    let flags = blob[0];
    let changed_s = read_u32(blob, CHANGED_AT);
    let stamp = read_u32(blob, STAMP_AT);
    let mut at = EXPIRE_AT;
    let mut expire_at_ms = 0;
    if flags & FLAG_EXPIRE != 0 {
        expire_at_ms = u64::from_le_bytes(blob[at..at + 8].try_into().expect("8 bytes"));
        at += 8;
    }
    let (len, header) = varint::read(&blob[at..]);
    at += header;
    Fields {
        flags,
        changed_s,
        stamp,
        expire_at_ms,
        key: &blob[at..at + len],
        payload: &blob[at + len..],
    }
}

fn read_u32(blob: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(blob[at..at + 4].try_into().expect("4 bytes"))
}

/// Writes a header field in place.
fn write_u32(blob: &mut [u8], at: usize, value: u32) {
    blob[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn key_of(blob: &[u8]) -> &[u8] {
    fields(blob).key
}

impl<'a> Fields<'a> {
    fn payload(&self) -> Payload<'a> {
        match self.flags & KIND_MASK {
            KIND_INLINE => Payload::Inline(self.payload),
            KIND_INT => Payload::Int(i64::from_le_bytes(
                self.payload.try_into().expect("8 bytes"),
            )),
            _ => Payload::Object(u32::from_le_bytes(
                self.payload.try_into().expect("4 bytes"),
            )),
        }
    }
}

/// A key's segment and hash.
fn locate(hasher: &FixedState, key: &[u8]) -> (usize, u64) {
    let hash = hasher.hash_one(key);
    (
        ((hash >> SEGMENT_SHIFT) as usize) & (SEGMENT_COUNT - 1),
        hash,
    )
}

/// Asks the CPU to start loading the cache line at `at`. Only a hint: it never faults and
/// changes nothing, whatever the address.
#[inline(always)]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch instruction reads nothing a program can observe and cannot fault.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// Keys [`Db::prefetch`] warms per round (its scratch space is on the stack).
const PREFETCH_ROUND: usize = 32;

/// The entry under `key`, to change in place. A function of the tables alone (not a method),
/// so a caller holding the entry can still reach the database's other fields.
fn find_in<'a>(
    tables: &'a mut [HashTable<Blob>],
    hasher: &FixedState,
    key: &[u8],
) -> Option<&'a mut Blob> {
    let (slot, hash) = locate(hasher, key);
    tables.get_mut(slot)?.find_mut(hash, |b| key_of(b) == key)
}

/// Values that live outside their entry.
#[derive(Debug)]
enum Object {
    Free { next: u32 },
    Raw(Vec<u8>),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

impl Object {
    fn view(&self) -> ValueRef<'_> {
        match self {
            Object::Raw(v) => ValueRef::Str(v),
            Object::List(l) => ValueRef::List(l),
            Object::Hash(h) => ValueRef::Hash(h),
            Object::Set(s) => ValueRef::Set(s),
            Object::ZSet(z) => ValueRef::ZSet(z),
            Object::Free { .. } => panic!("an entry points at a freed object"),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Object::Raw(v) => Value::Str(v),
            Object::List(l) => Value::List(Box::new(l)),
            Object::Hash(h) => Value::Hash(Box::new(h)),
            Object::Set(s) => Value::Set(Box::new(s)),
            Object::ZSet(z) => Value::ZSet(Box::new(z)),
            Object::Free { .. } => panic!("an entry points at a freed object"),
        }
    }
}

/// Objects by index, reusing freed indexes.
#[derive(Debug, Default)]
struct Slab {
    items: Vec<Object>,
    free: Option<u32>,
}

impl Slab {
    fn insert(&mut self, object: Object) -> u32 {
        match self.free {
            Some(index) => {
                let slot = &mut self.items[index as usize];
                let Object::Free { next } = *slot else {
                    panic!("the free list points at a live object")
                };
                self.free = (next != u32::MAX).then_some(next);
                *slot = object;
                index
            }
            None => {
                self.items.push(object);
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 objects per database")
            }
        }
    }

    fn take(&mut self, index: u32) -> Object {
        let next = self.free.unwrap_or(u32::MAX);
        self.free = Some(index);
        std::mem::replace(&mut self.items[index as usize], Object::Free { next })
    }

    fn get(&self, index: u32) -> &Object {
        &self.items[index as usize]
    }

    fn get_mut(&mut self, index: u32) -> &mut Object {
        &mut self.items[index as usize]
    }
}

#[derive(Debug)]
pub struct Db {
    /// One table per slot once the first key arrives; empty before, so unused databases cost
    /// nothing.
    tables: Vec<HashTable<Blob>>,
    /// Which slots have keys, so scans and random picks skip empty ones in a few word reads.
    occupied: [u64; SLOT_WORDS],
    len: usize,
    /// (expiry ms, key) of every key with a TTL, earliest first, for active expiry.
    expires: BTreeSet<(u64, Key)>,
    objects: Slab,
    hasher: FixedState,
    /// Lookups that found a live key, and that did not (INFO stats); `Cell`s because reads
    /// count through a shared reference.
    hits: Cell<u64>,
    misses: Cell<u64>,
    /// Keys deleted because their time came, lazily or actively.
    expired: u64,
    /// WATCH versions, replicated state (see `watch`): every replica applies the same writes,
    /// so every replica computes the same versions and decides an EXEC the same way.
    versions: Versions,
    /// Keys deleted by expiry since the last drain, kept only while `expired` notifications are
    /// on.
    expired_log: Vec<Key>,
    log_expired: bool,
    /// Keys created since the last drain, kept only while `new` notifications (class `n`) are
    /// on: Redis publishes one when a write adds a key that was not there.
    new_log: Vec<Key>,
    log_new: bool,
    /// Keys a read looked up and missed, kept only while `keymiss` notifications (class `m`)
    /// are on; a `RefCell` because reads look up through a shared reference.
    miss_log: std::cell::RefCell<Vec<Key>>,
    log_miss: bool,
    /// Keys clients are blocked on (BLPOP and friends), with how many clients; a change to one
    /// of them lists it in `ready` so the server retries those clients.
    blocked_keys: std::collections::HashMap<Key, u32>,
    ready: Vec<Key>,
}

fn seconds(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

impl Db {
    fn new(hasher: FixedState) -> Self {
        Db {
            tables: Vec::new(),
            occupied: [0; SLOT_WORDS],
            len: 0,
            expires: BTreeSet::new(),
            objects: Slab::default(),
            hasher,
            hits: Cell::new(0),
            misses: Cell::new(0),
            expired: 0,
            versions: Versions::default(),
            expired_log: Vec::new(),
            log_expired: false,
            new_log: Vec::new(),
            log_new: false,
            miss_log: std::cell::RefCell::new(Vec::new()),
            log_miss: false,
            blocked_keys: std::collections::HashMap::new(),
            ready: Vec::new(),
        }
    }

    /// Keys stored, including expired keys not yet reclaimed.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys stored and not expired at `now_ms`: what DBSIZE reports. Redis counts expired keys
    /// until something deletes them; reads here never delete, so the count subtracts them
    /// instead (few: active expiry keeps reclaiming them).
    pub fn live_len(&self, now_ms: u64) -> usize {
        let pending = self.expires.range(..(now_ms + 1, Key::default())).count();
        self.len - pending
    }

    /// Keys with a TTL.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// The mean TTL left of volatile keys, in ms (INFO keyspace `avg_ttl`), sampled from the
    /// earliest few.
    pub fn avg_ttl_ms(&self, now_ms: u64) -> u64 {
        let sample: Vec<u64> = self
            .expires
            .iter()
            .take(16)
            .map(|(t, _)| t.saturating_sub(now_ms))
            .collect();
        if sample.is_empty() {
            0
        } else {
            sample.iter().sum::<u64>() / sample.len() as u64
        }
    }

    /// The key's segment and hash, computed once per lookup.
    fn locate(&self, key: &[u8]) -> (usize, u64) {
        locate(&self.hasher, key)
    }

    fn find(&self, key: &[u8]) -> Option<&Blob> {
        let (slot, hash) = self.locate(key);
        self.tables.get(slot)?.find(hash, |b| key_of(b) == key)
    }

    fn view<'a>(&'a self, blob: &'a [u8]) -> EntryRef<'a> {
        let f = fields(blob);
        let (value, raw) = match f.payload() {
            Payload::Inline(s) => (ValueRef::Str(s), false),
            Payload::Int(n) => (ValueRef::Int(n), false),
            Payload::Object(i) => {
                let object = self.objects.get(i);
                (object.view(), matches!(object, Object::Raw(_)))
            }
        };
        EntryRef {
            value,
            expire_at_ms: f.expire_at_ms,
            changed_s: f.changed_s,
            stamp: f.stamp,
            raw,
        }
    }

    /// Starts loading what looking up each of `keys` will read, so that the lookups that follow
    /// find it in the cache. A lookup of a key not used lately misses three times, each miss
    /// waiting for the one before: the segment's table, its control bytes, the entry. Here the
    /// tables of a round of keys are asked for first, then each table's control bytes are read
    /// and the entry they point at is asked for, so the misses of different keys overlap
    /// (Redis 8 batches its lookups for the same reason). A hint: changes no state, no result.
    pub fn prefetch<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let mut keys = keys.into_iter();
        let mut located = [(0, 0); PREFETCH_ROUND];
        loop {
            let mut n = 0;
            for key in keys.by_ref().take(PREFETCH_ROUND) {
                let (slot, hash) = self.locate(key);
                if let Some(table) = self.tables.get(slot) {
                    prefetch((table as *const HashTable<Blob>).cast());
                }
                located[n] = (slot, hash);
                n += 1;
            }
            if n == 0 {
                return;
            }
            for &(slot, hash) in &located[..n] {
                if let Some(table) = self.tables.get(slot) {
                    // The first entry whose control byte matches: the key's, but for one time
                    // in 128. Its bytes are asked for, not read.
                    table.find(hash, |blob| {
                        prefetch(blob.as_ptr());
                        true
                    });
                }
            }
        }
    }

    /// The entry under `key` whether or not it has expired. For write paths that then decide.
    pub fn peek(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        self.find(key).map(|b| self.view(b))
    }

    /// The live entry under `key`. An expired entry is hidden, not deleted: reads never change
    /// state.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        match self.peek(key) {
            Some(entry) if !entry.is_expired(now_ms) => {
                self.hits.set(self.hits.get() + 1);
                Some(entry)
            }
            _ => {
                self.misses.set(self.misses.get() + 1);
                if self.log_miss {
                    self.miss_log.borrow_mut().push(key.into());
                }
                None
            }
        }
    }

    pub fn contains(&self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key).is_some_and(|e| !e.is_expired(now_ms))
    }

    /// The live entry under `key` for a write: an expired entry is deleted first, so the write
    /// sees no key.
    pub fn get_live(&mut self, key: &[u8], now_ms: u64) -> Option<EntryRef<'_>> {
        // One probe: the bucket found is read again by index (a borrow of the entry cannot
        // outlive the deletion on the other branch).
        let (slot, hash) = self.locate(key);
        let table = self.tables.get(slot)?;
        let bucket = table.find_bucket_index(hash, |b| key_of(b) == key)?;
        let blob = table.get_bucket(bucket).expect("the bucket just found");
        let expire_at_ms = fields(blob).expire_at_ms;
        if expire_at_ms == 0 || expire_at_ms > now_ms {
            let blob = self.tables[slot]
                .get_bucket(bucket)
                .expect("the bucket just found");
            return Some(self.view(blob));
        }
        self.delete_expired(key);
        self.expired += 1;
        if self.log_expired {
            self.expired_log.push(key.into());
        }
        None
    }

    /// Records that `key` may now serve a blocked client.
    fn signal_ready(&mut self, key: &[u8]) {
        if !self.blocked_keys.is_empty()
            && self.blocked_keys.contains_key(key)
            && !self.ready.iter().any(|k| &k[..] == key)
        {
            self.ready.push(key.into());
        }
    }

    /// Records a change to `key` made through [`Db::string_mut_untouched`]: for WATCH, and as
    /// its last-write time.
    pub fn touch(&mut self, key: &[u8], now_ms: u64) {
        self.rewrite(key, |_, changed| *changed = seconds(now_ms));
    }

    /// The WATCH version of `key`, stored or not, for [`Db::untouch`].
    pub fn watch_stamp(&self, key: &[u8]) -> u64 {
        self.version(key)
    }

    /// Takes back the WATCH stamp of a change Redis does not count as one (a BITFIELD whose
    /// every write overflowed under FAIL still grows its string, or creates it): `key` gets the
    /// version it had before, from [`Db::watch_stamp`].
    pub fn untouch(&mut self, key: &[u8], version: u64) {
        if let Some(blob) = find_in(&mut self.tables, &self.hasher, key) {
            write_u32(blob, STAMP_AT, version as u32);
        }
    }

    /// Starts watching a key: the version to compare with at EXEC ([`Db::watch_broken`]).
    pub fn watch(&self) -> u64 {
        self.versions.clock
    }

    /// The version of `key`: the last change to it while it was stored (or later, never
    /// earlier; see `watch`).
    pub fn version(&self, key: &[u8]) -> u64 {
        match self.find(key) {
            Some(blob) => self.versions.full(fields(blob).stamp),
            None => self.versions.missing(key),
        }
    }

    /// True if EXEC must fail for a WATCH of `key` taken at `version` (from [`Db::watch`]),
    /// when the key was live then (`was_live`): the key changed since, or it was live and is
    /// not now (deleted, or its time came).
    pub fn watch_broken(&self, key: &[u8], version: u64, was_live: bool, now_ms: u64) -> bool {
        self.version(key) > version || (was_live && !self.contains(key, now_ms))
    }

    pub(crate) fn versions(&self) -> &Versions {
        &self.versions
    }

    /// Replaces the WATCH state after a snapshot's keys were loaded.
    pub(crate) fn set_versions(&mut self, versions: Versions) {
        self.versions = versions;
    }

    /// Sets the raw WATCH stamp of a loaded key.
    pub(crate) fn set_stamp(&mut self, key: &[u8], stamp: u32) {
        if let Some(blob) = find_in(&mut self.tables, &self.hasher, key) {
            write_u32(blob, STAMP_AT, stamp);
        }
    }

    /// Stores `entry` under `key`, replacing any entry there; true if one was replaced.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> bool {
        let stamp = self.versions.next() as u32;
        self.signal_ready(key);
        if self.overwrite_in_place(key, &entry, stamp) {
            return true;
        }
        if self.tables.is_empty() {
            self.tables = (0..SEGMENT_COUNT).map(|_| HashTable::new()).collect();
        }
        // The key stays, with a newer version: nothing to remember of the old entry.
        let replaced = self.unlink(key).is_some();
        if !replaced && self.log_new {
            self.new_log.push(key.into());
        }
        let payload_object;
        let payload = match &entry.value {
            Value::Int(n) => Payload::Int(*n),
            Value::Str(s) if s.len() <= INLINE_STRING_BYTES_MAX => Payload::Inline(s),
            _ => {
                let object = match entry.value {
                    Value::Str(s) => Object::Raw(s),
                    Value::List(l) => Object::List(*l),
                    Value::Hash(h) => Object::Hash(*h),
                    Value::Set(s) => Object::Set(*s),
                    Value::ZSet(z) => Object::ZSet(*z),
                    Value::Int(_) => unreachable!("numbers are stored inline"),
                };
                payload_object = self.objects.insert(object);
                Payload::Object(payload_object)
            }
        };
        let blob = encode(
            key,
            payload,
            entry.expire_at_ms,
            seconds(entry.changed_ms),
            stamp,
        );
        if entry.expire_at_ms != 0 {
            self.expires.insert((entry.expire_at_ms, key.into()));
        }
        let (slot, hash) = self.locate(key);
        let hasher = &self.hasher;
        self.tables[slot].insert_unique(hash, blob, |b| hasher.hash_one(key_of(b)));
        self.len += 1;
        self.occupied[slot / 64] |= 1 << (slot % 64);
        replaced
    }

    /// Replaces the entry under `key` without reallocating when the new one has the same shape
    /// (a number for a number, a short string for one of the same length, a long string for a
    /// long string, and a TTL for a TTL): what SET, INCR and MSET on hot keys mostly do.
    fn overwrite_in_place(&mut self, key: &[u8], entry: &Entry, stamp: u32) -> bool {
        let Some(blob) = find_in(&mut self.tables, &self.hasher, key) else {
            return false;
        };
        let f = fields(blob);
        let old_expire = f.expire_at_ms;
        if (old_expire != 0) != (entry.expire_at_ms != 0) {
            return false;
        }
        let payload_at = blob.len() - f.payload.len();
        match (f.payload(), &entry.value) {
            (Payload::Int(_), Value::Int(n)) => {
                blob[payload_at..].copy_from_slice(&n.to_le_bytes())
            }
            (Payload::Inline(old), Value::Str(new)) if old.len() == new.len() => {
                blob[payload_at..].copy_from_slice(new);
            }
            (Payload::Object(index), Value::Str(new)) if new.len() > INLINE_STRING_BYTES_MAX => {
                match self.objects.get_mut(index) {
                    Object::Raw(bytes) => {
                        bytes.clear();
                        bytes.extend_from_slice(new);
                    }
                    Object::Free { .. } => panic!("an entry points at a freed object"),
                    // A collection is replaced the general way, which frees it.
                    _ => return false,
                }
            }
            _ => return false,
        }
        write_u32(blob, CHANGED_AT, seconds(entry.changed_ms));
        write_u32(blob, STAMP_AT, stamp);
        if old_expire != entry.expire_at_ms {
            blob[EXPIRE_AT..EXPIRE_AT + 8].copy_from_slice(&entry.expire_at_ms.to_le_bytes());
            self.expires.remove(&(old_expire, key.into()));
            self.expires.insert((entry.expire_at_ms, key.into()));
        }
        true
    }

    /// Deletes `key` without reading its value; returns its expiry (0: none) if it existed.
    /// The deletion is a change to the key, remembered with a new version (see `watch`).
    pub fn delete(&mut self, key: &[u8]) -> Option<u64> {
        // Nothing changed if there was no key: a WATCH of a key that was not there holds.
        let (expire, _) = self.unlink(key)?;
        let version = self.versions.next();
        self.versions.deleted(key, version);
        Some(expire)
    }

    /// Deletes `key` because its time came. The key keeps the version of its last write (see
    /// `watch`): for a client that WATCHed it already expired, nothing changed, as in Redis; one
    /// that saw it live finds it gone.
    fn delete_expired(&mut self, key: &[u8]) {
        if let Some((_, stamp)) = self.unlink(key) {
            let version = self.versions.full(stamp);
            self.versions.deleted(key, version);
        }
    }

    /// DEL: deletes `key` in one lookup; true if it was live. One whose time had come is
    /// deleted as expired, as Redis's DEL does (an `expired` event, no change for a WATCH that
    /// saw it expired).
    pub fn delete_live(&mut self, key: &[u8], now_ms: u64) -> bool {
        let Some((expire, stamp)) = self.unlink(key) else {
            return false;
        };
        if expire != 0 && expire <= now_ms {
            let version = self.versions.full(stamp);
            self.versions.deleted(key, version);
            self.expired += 1;
            if self.log_expired {
                self.expired_log.push(key.into());
            }
            return false;
        }
        let version = self.versions.next();
        self.versions.deleted(key, version);
        true
    }

    /// Takes `key`'s entry out of its table and frees what it holds; its expiry and WATCH
    /// stamp if it existed.
    fn unlink(&mut self, key: &[u8]) -> Option<(u64, u32)> {
        let (slot, hash) = self.locate(key);
        let table = self.tables.get_mut(slot)?;
        let found = table.find_entry(hash, |b| key_of(b) == key).ok()?;
        let (blob, _) = found.remove();
        if table.is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            // Give back the memory of a slot that emptied (after a big delete or a migration).
            table.shrink_to_fit(|_| unreachable!("an empty table rehashes nothing"));
        }
        self.len -= 1;
        let f = fields(&blob);
        if let Payload::Object(index) = f.payload() {
            self.objects.take(index);
        }
        if f.expire_at_ms != 0 {
            self.expires.remove(&(f.expire_at_ms, key.into()));
        }
        Some((f.expire_at_ms, f.stamp))
    }

    /// Removes `key` and returns its entry (moved out, not copied).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let blob = self.find(key)?;
        let f = fields(blob);
        let (expire_at_ms, changed_ms) = (f.expire_at_ms, u64::from(f.changed_s) * 1000);
        let value = match f.payload() {
            Payload::Inline(s) => Value::Str(s.to_vec()),
            Payload::Int(n) => Value::Int(n),
            // Take the object out before `delete` frees its index.
            Payload::Object(index) => {
                std::mem::replace(self.objects.get_mut(index), Object::Raw(Vec::new())).into_value()
            }
        };
        self.delete(key);
        Some(Entry {
            value,
            expire_at_ms,
            changed_ms,
        })
    }

    /// The collection under an existing key, to change in place; records the write time. None
    /// if there is no such key (check liveness first with `get_live`).
    pub fn value_mut(&mut self, key: &[u8], now_ms: u64) -> Option<ValueMut<'_>> {
        self.signal_ready(key);
        let blob = find_in(&mut self.tables, &self.hasher, key)?;
        write_u32(blob, CHANGED_AT, seconds(now_ms));
        write_u32(blob, STAMP_AT, self.versions.next() as u32);
        let Payload::Object(index) = fields(blob).payload() else {
            return Some(ValueMut::String);
        };
        Some(match self.objects.get_mut(index) {
            Object::List(l) => ValueMut::List(l),
            Object::Hash(h) => ValueMut::Hash(h),
            Object::Set(s) => ValueMut::Set(s),
            Object::ZSet(z) => ValueMut::ZSet(z),
            Object::Raw(_) => ValueMut::String,
            Object::Free { .. } => panic!("an entry points at a freed object"),
        })
    }

    /// Rewrites the entry under `key` with `edit` applied to its fields; false if no such key.
    fn rewrite(&mut self, key: &[u8], edit: impl FnOnce(&mut u64, &mut u32)) -> bool {
        let Some(blob) = find_in(&mut self.tables, &self.hasher, key) else {
            return false;
        };
        let f = fields(blob);
        let (mut expire, mut changed) = (f.expire_at_ms, f.changed_s);
        let old_expire = expire;
        edit(&mut expire, &mut changed);
        let stamp = self.versions.next() as u32;
        *blob = encode(key, f.payload(), expire, changed, stamp);
        if old_expire != expire {
            if old_expire != 0 {
                self.expires.remove(&(old_expire, key.into()));
            }
            if expire != 0 {
                self.expires.insert((expire, key.into()));
            }
        }
        true
    }

    /// Sets (or with 0 clears) the expiry of an existing key; false if there is no such key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        self.rewrite(key, |expire, _| *expire = at_ms)
    }

    /// Replaces the value under an existing key, keeping its expiry; false if no such key.
    pub fn set_value(&mut self, key: &[u8], value: Value, now_ms: u64) -> bool {
        let Some(expire_at_ms) = self.peek(key).map(|e| e.expire_at_ms) else {
            return false;
        };
        self.insert(key, Entry::new(value, expire_at_ms, now_ms));
        true
    }

    /// The bytes of the string under an existing key, to change in place (APPEND, SETRANGE,
    /// SETBIT); the string becomes `raw`. None if there is no such key or it is not a string.
    pub fn string_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Vec<u8>> {
        self.touch(key, now_ms);
        self.string_mut_untouched(key)
    }

    /// [`Db::string_mut`] for a write that may change nothing (BITFIELD setting a field to the
    /// value it holds): no WATCH of the key breaks, and its last-write time stays, unless the
    /// caller then calls [`Db::touch`].
    pub fn string_mut_untouched(&mut self, key: &[u8]) -> Option<&mut Vec<u8>> {
        let entry = self.peek(key)?;
        let index = match entry.value {
            ValueRef::Str(_) if entry.raw => None,
            ValueRef::Str(_) | ValueRef::Int(_) => Some(entry.value.to_bytes()?),
            _ => return None,
        };
        if let Some(bytes) = index {
            let object = self.objects.insert(Object::Raw(bytes));
            let blob =
                find_in(&mut self.tables, &self.hasher, key).expect("the key was just found");
            let f = fields(blob);
            *blob = encode(
                key,
                Payload::Object(object),
                f.expire_at_ms,
                f.changed_s,
                f.stamp,
            );
        }
        let blob = self.find(key).expect("the key was just found");
        let Payload::Object(index) = fields(blob).payload() else {
            unreachable!("a raw string is an object")
        };
        match self.objects.get_mut(index) {
            Object::Raw(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Up to `limit` keys whose time has come, earliest first.
    pub fn expired_keys(&self, now_ms: u64, limit: usize) -> Vec<Vec<u8>> {
        self.expires
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .take(limit)
            .map(|(_, k)| k.to_vec())
            .collect()
    }

    /// How many keys are due to expire by `now_ms`, counting at most `limit` (no copies).
    pub fn expired_count(&self, now_ms: u64, limit: usize) -> usize {
        self.expires
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .take(limit)
            .count()
    }

    /// Deletes up to `limit` expired keys; returns how many. Bounded so that a mass expiry is
    /// spread over many cycles instead of stalling clients.
    pub fn expire_cycle(&mut self, now_ms: u64, limit: usize) -> usize {
        let keys = self.expired_keys(now_ms, limit);
        for key in &keys {
            self.delete_expired(key);
        }
        self.expired += keys.len() as u64;
        if self.log_expired {
            self.expired_log
                .extend(keys.iter().map(|k| k.as_slice().into()));
        }
        keys.len()
    }

    /// Forgets the keys created so far without notifying them (a snapshot's keys are loaded,
    /// not created by a command).
    pub(crate) fn forget_new_keys(&mut self) {
        self.new_log.clear();
    }

    /// Deletes every key; statistics and watches stay. Every key that was there is deleted at
    /// one new version, as [`Db::delete`] does; a WATCH of a key that was not there holds, as
    /// in Redis (past `DELETED_MAX` keys, every WATCH of a missing key breaks: see `watch`).
    pub fn clear(&mut self) {
        let mut versions = std::mem::take(&mut self.versions);
        let version = versions.next();
        versions.deleted_all(self.iter().map(|(key, _)| key), version);
        let (hits, misses, expired) = (self.hits.get(), self.misses.get(), self.expired);
        let blocked_keys = std::mem::take(&mut self.blocked_keys);
        let (log_expired, log_new, log_miss) = (self.log_expired, self.log_new, self.log_miss);
        *self = Db::new(self.hasher.clone());
        (self.log_expired, self.log_new, self.log_miss) = (log_expired, log_new, log_miss);
        self.blocked_keys = blocked_keys;
        self.hits.set(hits);
        self.misses.set(misses);
        self.expired = expired;
        self.versions = versions;
    }

    /// Every stored entry, expired or not, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], EntryRef<'_>)> {
        self.tables
            .iter()
            .flat_map(move |t| t.iter().map(move |b| (key_of(b), self.view(b))))
    }

    fn next_occupied(&self, from: usize) -> Option<usize> {
        let mut word = from / 64;
        if word >= SLOT_WORDS {
            return None;
        }
        let mut bits = self.occupied[word] & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            if word == SLOT_WORDS {
                return None;
            }
            bits = self.occupied[word];
        }
    }

    /// Visits whole slots from `cursor` until at least `count` keys were visited; returns the
    /// cursor to continue from (0 when the scan is complete).
    pub fn scan<'a>(
        &'a self,
        cursor: ScanCursor,
        count: usize,
        mut visit: impl FnMut(&'a [u8], EntryRef<'a>),
    ) -> ScanCursor {
        let mut slot = match usize::try_from(cursor) {
            Ok(s) if s < SEGMENT_COUNT => s,
            _ => return 0,
        };
        let mut visited = 0;
        while visited < count {
            let Some(next) = self.next_occupied(slot) else {
                return 0;
            };
            for blob in self.tables[next].iter() {
                visit(key_of(blob), self.view(blob));
                visited += 1;
            }
            slot = next + 1;
        }
        match self.next_occupied(slot) {
            Some(next) => next as u64,
            None => 0,
        }
    }

    /// A key picked with `seed`; None if the database is empty. Expired keys are skipped.
    pub fn random_key(&self, seed: u64, now_ms: u64) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let mut rng = crate::exec::Rng::new(seed);
        // A few tries to avoid expired keys, then give up like Redis does.
        for _ in 0..100 {
            let start = (rng.next() % SEGMENT_COUNT as u64) as usize;
            let slot = self
                .next_occupied(start)
                .or_else(|| self.next_occupied(0))?;
            let table = &self.tables[slot];
            let pick = (rng.next() % table.len() as u64) as usize;
            let blob = table.iter().nth(pick)?;
            if !self.view(blob).is_expired(now_ms) {
                return Some(key_of(blob));
            }
        }
        None
    }
}

/// The numbered databases of one node (or, later, of one group).
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Db>,
    /// Enabled notification classes (`notify-keyspace-events`); 0 records nothing.
    notify_classes: u32,
    /// Events recorded by commands (and expiry) for the server to publish.
    pub events: Vec<crate::notify::Event>,
    /// Set by a blocking command that found nothing (see `block`).
    would_block: bool,
    /// The Lua state and script cache (`cmd::scripting`), made on first use; not replicated.
    pub(crate) scripts: Option<Box<crate::cmd::scripting::Scripts>>,
    /// Delivers a script's PUBLISH (`set_publisher`), while `publish_live` says the entry being
    /// applied is fresh enough to deliver.
    pub(crate) publisher: Option<Publisher>,
    pub(crate) publish_live: bool,
    /// FUNCTION's libraries (replicated, in snapshots; `cmd::functions`).
    pub(crate) libraries: crate::cmd::functions::Libraries,
}

/// Delivers a message published by a script to this node's subscribers: (shard channel?,
/// channel, message) → how many received it.
pub struct Publisher(pub Box<PublishFn>);

pub type PublishFn = dyn Fn(bool, &[u8], &[u8]) -> usize + Send;

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Publisher")
    }
}

impl Keyspace {
    /// `hash_seed` keys the hash function, so iteration order is the same on every replica
    /// given the same seed, and unpredictable to clients that do not know it.
    pub fn new(databases: usize, hash_seed: u64) -> Self {
        assert!(databases > 0);
        let hasher = FixedState::with_seed(hash_seed);
        Keyspace {
            dbs: (0..databases).map(|_| Db::new(hasher.clone())).collect(),
            notify_classes: 0,
            events: Vec::new(),
            would_block: false,
            scripts: None,
            publisher: None,
            publish_live: false,
            libraries: Default::default(),
        }
    }

    /// How scripts' PUBLISH reaches this node's subscribers.
    pub fn set_publisher(&mut self, publisher: Publisher) {
        self.publisher = Some(publisher);
    }

    /// Whether a script's PUBLISH is delivered: the server says so for each entry it applies
    /// (not for old entries a node catches up on, as for PUBLISH itself).
    pub fn set_publish_live(&mut self, live: bool) {
        self.publish_live = live;
    }

    /// Publishes for a script: the receivers on this node, 0 if nothing is delivered.
    pub fn publish(&self, shard: bool, channel: &[u8], message: &[u8]) -> usize {
        match &self.publisher {
            Some(Publisher(deliver)) if self.publish_live => deliver(shard, channel, message),
            _ => 0,
        }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    pub fn db(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn db_mut(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    /// SWAPDB: the data trades places; watches stay with their database index, and a watched
    /// key counts as changed if either database holds it, as in Redis. A database swapped
    /// with itself changes nothing.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.dbs.swap(a, b);
        let [x, y] = self.dbs.get_disjoint_mut([a, b]).expect("two databases");
        // What belongs to the database index goes back, as the watches do: its blocked clients
        // (the data that moved in may serve them) and its WATCH versions.
        std::mem::swap(&mut x.blocked_keys, &mut y.blocked_keys);
        std::mem::swap(&mut x.versions, &mut y.versions);
        // One version past both clocks, so the stamps that moved in read as versions at or
        // below the clock of the database they are in now.
        let version = x.versions.clock.max(y.versions.clock) + 1;
        x.versions.clock = version;
        y.versions.clock = version;
        // Every key either database holds counts as changed in both: the keys that left one
        // are remembered there as deleted at `version`, the keys it holds now get `version`.
        // Past DELETED_MAX keys that is every key of both (without a walk over them).
        if x.len() + y.len() > DELETED_MAX {
            x.versions.floor = version;
            y.versions.floor = version;
        } else {
            x.versions
                .deleted_all(y.iter().map(|(key, _)| key), version);
            y.versions
                .deleted_all(x.iter().map(|(key, _)| key), version);
            let stamp = version as u32;
            for db in [&mut *x, &mut *y] {
                db.tables
                    .iter_mut()
                    .flat_map(|t| t.iter_mut())
                    .for_each(|blob| write_u32(blob, STAMP_AT, stamp));
            }
        }
        for db in [x, y] {
            db.ready.extend(db.blocked_keys.keys().cloned());
        }
    }

    pub fn flush_all(&mut self) {
        self.dbs.iter_mut().for_each(Db::clear);
    }

    /// (keyspace hits, keyspace misses, expired keys) over every database.
    pub fn stats(&self) -> (u64, u64, u64) {
        self.dbs.iter().fold((0, 0, 0), |(h, m, e), db| {
            (h + db.hits.get(), m + db.misses.get(), e + db.expired)
        })
    }

    pub fn reset_stats(&mut self) {
        for db in &mut self.dbs {
            db.hits.set(0);
            db.misses.set(0);
            db.expired = 0;
        }
    }

    pub fn keys(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }

    /// Active expiry over every database, at most `limit` keys in all.
    pub fn expire_cycle(&mut self, now_ms: u64, limit: usize) -> usize {
        let mut done = 0;
        for db in &mut self.dbs {
            done += db.expire_cycle(now_ms, limit - done);
            if done == limit {
                break;
            }
        }
        self.collect_events();
        done
    }

    /// Called by a blocking command that found nothing to take: the server blocks the client
    /// instead of sending a reply.
    pub fn block(&mut self) {
        self.would_block = true;
    }

    /// Whether the command just run asked to block (and clears the flag).
    pub fn take_would_block(&mut self) -> bool {
        std::mem::take(&mut self.would_block)
    }

    /// One more client blocks on `key` in database `db`.
    pub fn block_on(&mut self, db: usize, key: &[u8]) {
        *self.dbs[db].blocked_keys.entry(key.into()).or_insert(0) += 1;
    }

    /// One client stops blocking on `key`.
    pub fn unblock_on(&mut self, db: usize, key: &[u8]) {
        let blocked = &mut self.dbs[db].blocked_keys;
        if let Some(count) = blocked.get_mut(key) {
            *count -= 1;
            if *count == 0 {
                blocked.remove(key);
            }
        }
    }

    /// Whether any key changed while clients were blocked on it.
    pub fn has_ready(&self) -> bool {
        self.dbs.iter().any(|db| !db.ready.is_empty())
    }

    /// Keys that changed while clients were blocked on them, as (database, key).
    pub fn take_ready(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut ready = Vec::new();
        for (index, db) in self.dbs.iter_mut().enumerate() {
            ready.extend(db.ready.drain(..).map(|k| (index, k.into_vec())));
        }
        ready
    }

    pub fn notify_classes(&self) -> u32 {
        self.notify_classes
    }

    /// Sets `notify-keyspace-events`.
    pub fn set_notify_classes(&mut self, classes: u32) {
        use crate::notify::{EXPIRED, KEY_MISS, KEYEVENT, KEYSPACE, NEW};
        self.notify_classes = classes;
        let on = |class: u32| classes & class != 0 && classes & (KEYSPACE | KEYEVENT) != 0;
        for db in &mut self.dbs {
            (db.log_expired, db.log_new, db.log_miss) = (on(EXPIRED), on(NEW), on(KEY_MISS));
            db.new_log.clear();
            db.miss_log.get_mut().clear();
        }
    }

    /// Turns the keys `db`'s reads missed and the keys its writes created since the last call
    /// into `keymiss` and `new` events, in that order (a command reads before it writes), and
    /// before the command's own event: Redis publishes both as the lookup and the addition
    /// happen.
    fn collect_new(&mut self, db: usize) {
        let missed = std::mem::take(self.dbs[db].miss_log.get_mut());
        for key in missed {
            self.events.push(crate::notify::Event {
                db,
                name: "keymiss",
                key: key.into(),
            });
        }
        let created = std::mem::take(&mut self.dbs[db].new_log);
        for key in created {
            self.events.push(crate::notify::Event {
                db,
                name: "new",
                key: key.into(),
            });
        }
    }

    /// Records an event if its class is enabled.
    pub fn notify(&mut self, db: usize, class: u32, name: &'static str, key: &[u8]) {
        use crate::notify::{Event, KEYEVENT, KEYSPACE};
        if self.notify_classes & (KEYSPACE | KEYEVENT) == 0 {
            return;
        }
        self.collect_new(db);
        if self.notify_classes & class != 0 {
            self.events.push(Event {
                db,
                name,
                key: key.to_vec(),
            });
        }
    }

    /// Turns keys deleted by expiry into `expired` events, and the keys created and missed by
    /// the last command into `new` and `keymiss` events.
    pub fn collect_events(&mut self) {
        for index in 0..self.dbs.len() {
            self.collect_new(index);
        }
        for (index, db) in self.dbs.iter_mut().enumerate() {
            for key in db.expired_log.drain(..) {
                self.events.push(crate::notify::Event {
                    db: index,
                    name: "expired",
                    key: key.into(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn entry(v: &[u8], at: u64) -> Entry {
        Entry::new(Value::string(v), at, 0)
    }

    #[test]
    fn an_object_is_four_words() {
        // Every collection key pays for one: a packed hash is about 150 bytes of data, so
        // 16 more bytes here would be a tenth more memory for small hashes.
        assert_eq!(std::mem::size_of::<Object>(), 32);
    }

    /// A WATCH of `key` in `db` taken now, as a client's connection takes it.
    fn watch(ks: &Keyspace, db: usize, key: &str) -> (usize, String, u64, bool) {
        let d = ks.db(db);
        (db, key.into(), d.watch(), d.contains(key.as_bytes(), 0))
    }

    fn broken(ks: &Keyspace, (db, key, version, was_live): &(usize, String, u64, bool)) -> bool {
        ks.db(*db)
            .watch_broken(key.as_bytes(), *version, *was_live, 0)
    }

    #[test]
    fn a_watch_breaks_on_a_change_to_its_key_and_on_nothing_else() {
        let mut ks = Keyspace::new(1, 0);
        let db = ks.db_mut(0);
        for i in 0..10_000 {
            db.insert(format!("k{i}").as_bytes(), entry(b"v", 0));
        }
        let on_k0 = watch(&ks, 0, "k0");
        let on_missing = watch(&ks, 0, "missing");
        let on_k1 = watch(&ks, 0, "k1");
        // Every other key is written and half of them deleted: none of these watches breaks
        // (with 4096 shared version buckets, each broke nine times in ten).
        let db = ks.db_mut(0);
        for i in 2..10_000 {
            db.insert(format!("k{i}").as_bytes(), entry(b"w", 0));
            if i % 2 == 0 {
                db.delete(format!("k{i}").as_bytes());
            }
        }
        assert!(!broken(&ks, &on_k0));
        assert!(!broken(&ks, &on_missing));
        assert!(!broken(&ks, &on_k1));
        // A write to the key, a deletion of it, or a key created and deleted again breaks.
        let db = ks.db_mut(0);
        db.insert(b"k0", entry(b"x", 0));
        db.delete(b"k1");
        db.insert(b"missing", entry(b"x", 0));
        db.delete(b"missing");
        assert!(broken(&ks, &on_k0));
        assert!(broken(&ks, &on_k1));
        assert!(broken(&ks, &on_missing));
    }

    #[test]
    fn a_watched_key_that_had_expired_holds_when_its_deletion_comes() {
        let mut ks = Keyspace::new(1, 0);
        ks.db_mut(0).insert(b"old", entry(b"v", 0));
        ks.db_mut(0).set_expire(b"old", 50);
        // Watched at 100 ms: there but expired, so not live.
        let db = ks.db(0);
        let on_old = (0, "old".to_string(), db.watch(), db.contains(b"old", 100));
        assert!(!on_old.3);
        assert_eq!(ks.db_mut(0).expire_cycle(100, 10), 1);
        assert!(
            !broken(&ks, &on_old),
            "its deletion changes nothing a client saw"
        );
        // Written after the WATCH, then expired and deleted: that write breaks it.
        let on_old = watch(&ks, 0, "old");
        let db = ks.db_mut(0);
        db.insert(b"old", entry(b"v", 0));
        db.set_expire(b"old", 150);
        db.expire_cycle(200, 10);
        assert!(broken(&ks, &on_old));
    }

    #[test]
    fn flushdb_breaks_the_watches_of_the_keys_it_held_only() {
        let mut ks = Keyspace::new(1, 0);
        ks.db_mut(0).insert(b"there", entry(b"v", 0));
        let watches = [
            watch(&ks, 0, "there"),
            watch(&ks, 0, "missing"),
            watch(&ks, 0, "made"),
        ];
        ks.db_mut(0).insert(b"made", entry(b"v", 0));
        ks.db_mut(0).clear();
        let got: Vec<bool> = watches.iter().map(|w| broken(&ks, w)).collect();
        assert_eq!(got, [true, false, true]);
    }

    #[test]
    fn swapdb_breaks_the_watches_of_the_keys_either_database_holds() {
        let mut ks = Keyspace::new(3, 0);
        ks.db_mut(0).insert(b"a", entry(b"1", 0));
        ks.db_mut(1).insert(b"b", entry(b"2", 0));
        let taken: Vec<_> = [(0, "a"), (0, "b"), (0, "c"), (1, "a"), (1, "c"), (1, "b")]
            .iter()
            .map(|&(db, key)| watch(&ks, db, key))
            .collect();
        ks.swap(0, 0);
        ks.swap(0, 2);
        ks.swap(2, 0);
        // a went to database 2 and back, b never moved: watchers of c anywhere saw nothing.
        let got: Vec<bool> = taken.iter().map(|w| broken(&ks, w)).collect();
        assert_eq!(got, [true, false, false, false, false, false]);
        let taken: Vec<_> = [(0, "a"), (0, "b"), (0, "c"), (1, "a"), (1, "b"), (2, "a")]
            .iter()
            .map(|&(db, key)| watch(&ks, db, key))
            .collect();
        ks.swap(0, 1);
        let got: Vec<bool> = taken.iter().map(|w| broken(&ks, w)).collect();
        // a left 0 for 1 and b came in: both change in both; c nowhere, 2 not swapped.
        assert_eq!(got, [true, true, false, true, true, false]);
        // Past DELETED_MAX keys every watch of both databases breaks, even of a missing key.
        let on_c = watch(&ks, 0, "c");
        let on_2 = watch(&ks, 2, "c");
        for i in 0..=DELETED_MAX {
            ks.db_mut(2)
                .insert(format!("k{i}").as_bytes(), entry(b"v", 0));
        }
        ks.swap(0, 2);
        assert!(broken(&ks, &on_c));
        assert!(broken(&ks, &on_2));
    }

    #[test]
    fn prefetching_changes_nothing_a_lookup_sees() {
        let mut ks = Keyspace::new(1, 3);
        let keys: Vec<Vec<u8>> = (0..200).map(|i| format!("key:{i}").into_bytes()).collect();
        let db = ks.db_mut(0);
        // An empty database has no tables yet: nothing to warm, nothing to break.
        db.prefetch(keys.iter().map(|k| &k[..]));
        for key in keys.iter().step_by(2) {
            db.insert(key, entry(key, 0));
        }
        // More keys than a round, present and absent, repeated, and the empty key.
        let asked = keys.iter().chain(&keys).map(|k| &k[..]).chain([&b""[..]]);
        db.prefetch(asked);
        assert_eq!((db.hits.get(), db.misses.get()), (0, 0));
        assert_eq!(db.len(), 100);
        for (i, key) in keys.iter().enumerate() {
            let found = db.get(key, 0).map(|e| e.value.to_owned());
            assert_eq!(found, (i % 2 == 0).then(|| Value::string(key)), "{i}");
        }
    }

    #[test]
    fn entries_round_trip_through_their_encoding() {
        let mut ks = Keyspace::new(1, 3);
        let db = ks.db_mut(0);
        let long = vec![b'x'; INLINE_STRING_BYTES_MAX + 1];
        let key300 = vec![b'k'; 300];
        for (key, value, at) in [
            (&b"a"[..], Value::Int(-7), 0),
            (b"b", Value::Str(b"short".to_vec()), 99),
            (b"c", Value::Str(long.clone()), 5),
            (&key300[..], Value::Str(Vec::new()), 0),
        ] {
            assert!(!db.insert(key, Entry::new(value.clone(), at, 1000)));
            let got = db.peek(key).unwrap();
            assert_eq!(got.value.to_owned(), value);
            assert_eq!(got.expire_at_ms, at);
            assert_eq!(got.changed_s, 1);
        }
        assert!(
            db.insert(b"c", entry(b"1", 0)),
            "replacing a long string frees its object"
        );
        assert_eq!(db.objects.free, Some(0));
        db.string_mut(b"a", 2000).unwrap().extend_from_slice(b"9");
        let a = db.peek(b"a").unwrap();
        assert_eq!(a.value, ValueRef::Str(b"-79"));
        assert!(a.raw);
        assert_eq!(a.encoding(), "raw");
        assert_eq!(db.objects.free, None, "the freed index was reused");
        assert_eq!(db.remove(b"a").unwrap().value, Value::Str(b"-79".to_vec()));
        // Same-shape overwrites happen in place and read back like any other.
        for (value, at) in [
            (Value::Int(5), 0),
            (Value::Str(b"shorT".to_vec()), 77),
            (Value::Str(long.clone()), 6),
        ] {
            let key = match value {
                Value::Int(_) => &b"i"[..],
                Value::Str(ref s) if s.len() > INLINE_STRING_BYTES_MAX => b"c2",
                _ => b"b",
            };
            let next_at = if at == 0 { 0 } else { at + 1 };
            db.insert(key, Entry::new(value.clone(), at, 0));
            assert!(db.insert(key, Entry::new(value.clone(), next_at, 3000)));
            let got = db.peek(key).unwrap();
            assert_eq!(
                (got.value.to_owned(), got.expire_at_ms, got.changed_s),
                (value, next_at, 3)
            );
        }
        assert_eq!(db.expired_keys(u64::MAX, 10).len(), db.volatile_len());
        assert_eq!(db.len(), 5);
        // Collections live in the slab, change in place, and move out whole.
        let list: crate::types::List = [b"x"].into_iter().collect();
        db.insert(b"l", Entry::new(Value::List(Box::new(list)), 0, 0));
        let Some(ValueMut::List(l)) = db.value_mut(b"l", 9000) else {
            panic!("a list")
        };
        l.push_back(b"y");
        let got = db.peek(b"l").unwrap();
        assert_eq!(
            (got.value.type_name(), got.changed_s, got.encoding()),
            ("list", 9, "listpack")
        );
        let Value::List(taken) = db.remove(b"l").unwrap().value else {
            panic!("a list")
        };
        assert_eq!(taken.len(), 2);
    }

    #[test]
    fn expiry_index_follows_inserts_removes_and_changes() {
        let mut ks = Keyspace::new(1, 7);
        let db = ks.db_mut(0);
        db.insert(b"a", entry(b"1", 100));
        db.insert(b"b", entry(b"1", 50));
        db.insert(b"c", entry(b"1", 0));
        assert_eq!(db.volatile_len(), 2);
        db.insert(b"a", entry(b"2", 0));
        assert_eq!(
            db.volatile_len(),
            1,
            "overwriting without TTL drops the old expiry"
        );
        assert!(db.set_expire(b"c", 10));
        assert_eq!(db.expired_keys(60, 10), vec![b"c".to_vec(), b"b".to_vec()]);
        assert!(db.get(b"b", 60).is_none());
        assert!(
            db.peek(b"b").is_some(),
            "a read hides an expired key but does not delete it"
        );
        assert_eq!(db.expire_cycle(60, 1), 1);
        assert_eq!(db.expire_cycle(60, 10), 1);
        assert_eq!(db.len(), 1);
        assert_eq!(db.volatile_len(), 0);
        assert!(!db.set_expire(b"zz", 5));
    }

    #[test]
    fn scan_returns_every_key_despite_inserts_and_deletes_between_calls() {
        let mut ks = Keyspace::new(1, 1);
        let db = ks.db_mut(0);
        for i in 0..2000 {
            db.insert(format!("k{i}").as_bytes(), entry(b"v", 0));
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = db.scan(cursor, 10, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn between calls: add new keys and delete some that were never there at the
            // start, forcing the maps to grow and shrink.
            for j in 0..20 {
                db.insert(format!("new{round}-{j}").as_bytes(), entry(b"v", 0));
            }
            for j in 0..10 {
                db.delete(format!("new{}-{j}", round / 2).as_bytes());
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..2000 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }

    #[test]
    fn a_small_database_scans_in_one_call() {
        let mut ks = Keyspace::new(1, 1);
        for k in [&b"a"[..], b"b", b"c"] {
            ks.db_mut(0).insert(k, entry(b"v", 0));
        }
        let mut n = 0;
        assert_eq!(ks.db(0).scan(0, 10, |_, _| n += 1), 0);
        assert_eq!(n, 3);
    }

    #[test]
    fn random_key_is_deterministic_for_a_seed() {
        let mut ks = Keyspace::new(1, 1);
        assert!(ks.db(0).random_key(1, 0).is_none());
        for i in 0..100 {
            ks.db_mut(0)
                .insert(format!("k{i}").as_bytes(), entry(b"v", 0));
        }
        let a = ks.db(0).random_key(5, 0).unwrap().to_vec();
        assert_eq!(ks.db(0).random_key(5, 0).unwrap(), &a[..]);
    }
}
