//! Databases: keys split by hash slot, an index of expiry times, and the keyspace of numbered
//! databases.
//!
//! Each database keeps one hash map per hash slot (allocated with the first key). That gives
//! SCAN a cursor with Redis's guarantee (a slot index: every key present for the whole scan is
//! returned, however the maps grow or shrink in between), and gives slot migration its unit.

use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};

use foldhash::fast::FixedState;

use crate::slot::{SLOT_COUNT, slot_of};
use crate::value::Entry;

type Key = Box<[u8]>;
type Map = HashMap<Key, Entry, FixedState>;

const SLOT_WORDS: usize = SLOT_COUNT / 64;

/// A SCAN cursor: the next slot to visit. 0 starts a scan, and is returned when it ends.
pub type ScanCursor = u64;

#[derive(Debug)]
pub struct Db {
    /// One map per slot once the first key arrives; empty before, so unused databases cost
    /// nothing.
    maps: Vec<Map>,
    /// Which slots have keys, so scans and random picks skip empty ones in a few word reads.
    occupied: [u64; SLOT_WORDS],
    len: usize,
    /// (expiry ms, key) of every key with a TTL, earliest first, for active expiry.
    expires: BTreeSet<(u64, Key)>,
    hasher: FixedState,
    /// Lookups that found a live key, and that did not (INFO stats); `Cell`s because reads
    /// count through a shared reference.
    hits: Cell<u64>,
    misses: Cell<u64>,
    /// Keys deleted because their time came, lazily or actively.
    expired: u64,
}

impl Db {
    fn new(hasher: FixedState) -> Self {
        Db {
            maps: Vec::new(),
            occupied: [0; SLOT_WORDS],
            len: 0,
            expires: BTreeSet::new(),
            hasher,
            hits: Cell::new(0),
            misses: Cell::new(0),
            expired: 0,
        }
    }

    /// Keys stored, including expired keys not yet reclaimed (as Redis's DBSIZE).
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

    fn map(&self, key: &[u8]) -> Option<&Map> {
        self.maps.get(usize::from(slot_of(key)))
    }

    /// The entry under `key` whether or not it has expired. For write paths that then decide.
    pub fn peek(&self, key: &[u8]) -> Option<&Entry> {
        self.map(key)?.get(key)
    }

    /// The live entry under `key`, recording the access. An expired entry is hidden, not
    /// deleted: reads never change state.
    pub fn get(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        match self.peek(key) {
            Some(entry) if !entry.is_expired(now_ms) => {
                self.hits.set(self.hits.get() + 1);
                entry.touch(now_ms);
                Some(entry)
            }
            _ => {
                self.misses.set(self.misses.get() + 1);
                None
            }
        }
    }

    pub fn contains(&self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key).is_some_and(|e| !e.is_expired(now_ms))
    }

    /// The live entry under `key` for a write. An expired entry is deleted first, so the write
    /// sees no key. Change the expiry only through [`Db::set_expire`].
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let slot = usize::from(slot_of(key));
        let expired = self.maps.get(slot)?.get(key)?.is_expired(now_ms);
        if expired {
            self.remove(key);
            self.expired += 1;
            return None;
        }
        let entry = self.maps[slot].get_mut(key)?;
        entry.touch(now_ms);
        Some(entry)
    }

    /// Stores `entry` under `key`, replacing any entry there; returns the old one.
    pub fn insert(&mut self, key: &[u8], entry: Entry) -> Option<Entry> {
        if self.maps.is_empty() {
            self.maps = (0..SLOT_COUNT)
                .map(|_| Map::with_hasher(self.hasher.clone()))
                .collect();
        }
        let slot = usize::from(slot_of(key));
        if entry.expire_at_ms != 0 {
            self.expires.insert((entry.expire_at_ms, key.into()));
        }
        let map = &mut self.maps[slot];
        let old = match map.get_mut(key) {
            Some(existing) => Some(std::mem::replace(existing, entry)),
            None => {
                map.insert(key.into(), entry);
                self.len += 1;
                self.occupied[slot / 64] |= 1 << (slot % 64);
                None
            }
        };
        if let Some(old) = old.as_ref().filter(|o| o.expire_at_ms != 0) {
            let new_at = self.peek(key).map_or(0, |e| e.expire_at_ms);
            if new_at != old.expire_at_ms {
                self.expires.remove(&(old.expire_at_ms, key.into()));
            }
        }
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let slot = usize::from(slot_of(key));
        let map = self.maps.get_mut(slot)?;
        let old = map.remove(key)?;
        if map.is_empty() {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            // Give back the memory of a slot that emptied (after a big delete or a migration).
            map.shrink_to_fit();
        }
        self.len -= 1;
        if old.expire_at_ms != 0 {
            self.expires.remove(&(old.expire_at_ms, key.into()));
        }
        Some(old)
    }

    /// Sets (or with 0 clears) the expiry of an existing key; false if there is no such key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: u64) -> bool {
        let slot = usize::from(slot_of(key));
        let Some(entry) = self.maps.get_mut(slot).and_then(|m| m.get_mut(key)) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expire_at_ms, at_ms);
        if old != at_ms {
            if old != 0 {
                self.expires.remove(&(old, key.into()));
            }
            if at_ms != 0 {
                self.expires.insert((at_ms, key.into()));
            }
        }
        true
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

    /// Deletes up to `limit` expired keys; returns how many. Bounded so that a mass expiry is
    /// spread over many cycles instead of stalling clients.
    pub fn expire_cycle(&mut self, now_ms: u64, limit: usize) -> usize {
        let keys = self.expired_keys(now_ms, limit);
        for key in &keys {
            self.remove(key);
        }
        self.expired += keys.len() as u64;
        keys.len()
    }

    /// Deletes every key; statistics stay.
    pub fn clear(&mut self) {
        let (hits, misses, expired) = (self.hits.get(), self.misses.get(), self.expired);
        *self = Db::new(self.hasher.clone());
        self.hits.set(hits);
        self.misses.set(misses);
        self.expired = expired;
    }

    /// Every stored entry, expired or not, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.maps
            .iter()
            .flat_map(|m| m.iter().map(|(k, e)| (&k[..], e)))
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
        mut visit: impl FnMut(&'a [u8], &'a Entry),
    ) -> ScanCursor {
        let mut slot = match usize::try_from(cursor) {
            Ok(s) if s < SLOT_COUNT => s,
            _ => return 0,
        };
        let mut visited = 0;
        while visited < count {
            let Some(next) = self.next_occupied(slot) else {
                return 0;
            };
            for (k, e) in &self.maps[next] {
                visit(k, e);
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
            let start = (rng.next() % SLOT_COUNT as u64) as usize;
            let slot = self
                .next_occupied(start)
                .or_else(|| self.next_occupied(0))?;
            let map = &self.maps[slot];
            let pick = (rng.next() % map.len() as u64) as usize;
            let (key, entry) = map.iter().nth(pick)?;
            if !entry.is_expired(now_ms) {
                return Some(key);
            }
        }
        None
    }
}

/// The numbered databases of one node (or, later, of one group).
#[derive(Debug)]
pub struct Keyspace {
    dbs: Vec<Db>,
}

impl Keyspace {
    /// `hash_seed` keys the hash function, so iteration order is the same on every replica
    /// given the same seed, and unpredictable to clients that do not know it.
    pub fn new(databases: usize, hash_seed: u64) -> Self {
        assert!(databases > 0);
        let hasher = FixedState::with_seed(hash_seed);
        Keyspace {
            dbs: (0..databases).map(|_| Db::new(hasher.clone())).collect(),
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

    pub fn swap(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
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
        done
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
                db.remove(format!("new{}-{j}", round / 2).as_bytes());
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
