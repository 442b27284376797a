//! WATCH versions: replicated state from which EXEC decides, the same way on every replica,
//! whether a watched key changed.
//!
//! Each database counts its changes (`clock`). Every change to a key stamps the key's entry with
//! the clock's next value (its low 32 bits, read back as the latest value at or below the clock
//! with those bits: never older than the truth). WATCH remembers the clock; EXEC finds the
//! key changed if its version is newer, or if it was live at WATCH and is not now (deleted or
//! expired). A deleted key's version is remembered here by a 64-bit hash of its name, so that a
//! key that was missing at WATCH, then created and deleted again, still counts as changed, as
//! in Redis. A deletion by a command is a change with a version of its own (a key BITFIELD then
//! creates without changing it takes that version, so a client that saw the key live before the
//! deletion still sees a change). A deletion because the key's time came keeps the version of
//! the key's last write: a client that WATCHed the key already expired saw it missing, and for
//! it nothing changed, as in Redis.
//!
//! Only the latest [`DELETED_MAX`] deletions are kept; an older one is folded into
//! `forgotten`, which then stands for every missing key. So an EXEC can fail that Redis would
//! run only when a key it watched was missing and more than `DELETED_MAX` deletions happened in
//! that database since the WATCH (a FLUSHDB of more keys counts as that too), or on a SWAPDB of
//! databases too big to stamp key by key (`floor`), or when a key that had expired by its WATCH
//! is deleted by a command rather than by expiry; it never runs one that Redis would fail.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

use foldhash::fast::FixedState;

/// Deleted keys whose versions are remembered, per database (at most 16 bytes twice each).
pub(crate) const DELETED_MAX: usize = 1 << 15;

/// A key's name hashed the same way in every process (the keyspace's own hash is keyed by a
/// per-cluster seed and not part of this state).
fn name_hash(key: &[u8]) -> u64 {
    FixedState::with_seed(0x5741_5443_4845_5321).hash_one(key)
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Versions {
    /// The last version given out.
    pub(crate) clock: u64,
    /// Every key's version is at least this.
    pub(crate) floor: u64,
    /// Versions of deleted keys by name hash, and the order they were deleted in.
    deleted: HashMap<u64, u64, FixedState>,
    order: VecDeque<(u64, u64)>,
    /// The newest version folded out of `deleted`: any missing key may have had it.
    pub(crate) forgotten: u64,
}

impl Versions {
    /// The next version, for a change.
    pub(crate) fn next(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The version an entry's stamp stands for: the latest one at or below the clock with
    /// those low bits (so a key unchanged for 2^32 changes may look newer, never older).
    pub(crate) fn full(&self, stamp: u32) -> u64 {
        let candidate = (self.clock & !u64::from(u32::MAX)) | u64::from(stamp);
        let version = match candidate <= self.clock {
            true => candidate,
            false => candidate.checked_sub(1 << 32).unwrap_or(self.clock),
        };
        version.max(self.floor)
    }

    /// The version of a key that is not stored.
    pub(crate) fn missing(&self, key: &[u8]) -> u64 {
        match self.deleted.get(&name_hash(key)) {
            Some(&version) => version.max(self.forgotten),
            None => self.forgotten,
        }
        .max(self.floor)
    }

    /// Remembers that `key`, last changed at `version`, was deleted.
    pub(crate) fn deleted(&mut self, key: &[u8], version: u64) {
        self.remember(name_hash(key), version);
    }

    fn remember(&mut self, hash: u64, version: u64) {
        if version <= self.forgotten {
            return;
        }
        if self.order.len() == DELETED_MAX {
            let (old_hash, old_version) = self.order.pop_front().expect("a full queue");
            if self.deleted.get(&old_hash) == Some(&old_version) {
                self.deleted.remove(&old_hash);
            }
            self.forgotten = self.forgotten.max(old_version);
        }
        // A hash two names share keeps the newer version: never older than either's.
        let kept = self.deleted.entry(hash).or_insert(version);
        *kept = (*kept).max(version);
        self.order.push_back((hash, *kept));
    }

    /// Remembers many keys deleted at once (FLUSHDB, SWAPDB) at `version`, in an order that
    /// does not depend on the order they come in (a table's iteration order depends on its
    /// history, which replicas need not share). More than [`DELETED_MAX`] are not remembered one
    /// by one: `version` is folded into `forgotten`, so every missing key counts as changed.
    pub(crate) fn deleted_all<'a>(&mut self, keys: impl Iterator<Item = &'a [u8]>, version: u64) {
        let mut hashes = Vec::new();
        for key in keys {
            if hashes.len() == DELETED_MAX {
                self.forgotten = self.forgotten.max(version);
                return;
            }
            hashes.push(name_hash(key));
        }
        hashes.sort_unstable();
        for hash in hashes {
            self.remember(hash, version);
        }
    }

    /// The remembered deletions, oldest first, for snapshots.
    pub(crate) fn deletions(&self) -> impl ExactSizeIterator<Item = (u64, u64)> + '_ {
        self.order.iter().copied()
    }

    /// State read back from a snapshot: the deletions oldest first, as [`Versions::deletions`]
    /// gave them.
    pub(crate) fn restore(
        clock: u64,
        floor: u64,
        forgotten: u64,
        deletions: impl IntoIterator<Item = (u64, u64)>,
    ) -> Versions {
        let mut versions = Versions {
            clock,
            floor,
            forgotten,
            ..Versions::default()
        };
        // As they were, not through `remember` (which would drop those `forgotten` has since
        // passed, and leave a replica that restored with a shorter queue than one that did
        // not). The map holds each hash's latest record (the newest version it was given).
        for (hash, version) in deletions.into_iter().take(DELETED_MAX) {
            versions.deleted.insert(hash, version);
            versions.order.push_back((hash, version));
        }
        versions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_reads_back_as_its_version_and_never_older_after_the_clock_wraps_its_bits() {
        let mut v = Versions::default();
        for _ in 0..10 {
            v.next();
        }
        assert_eq!(v.full(7), 7);
        assert_eq!(v.full(10), 10);
        v.clock = (5 << 32) + 3;
        assert_eq!(v.full(3), (5 << 32) + 3);
        assert_eq!(v.full(2), (5 << 32) + 2);
        // Bits above the clock's are from the previous round.
        assert_eq!(v.full(9), (4 << 32) + 9);
        // A version 2^32 changes old reads as the newer one: later, never earlier.
        assert!(v.full(((4u64 << 32) + 9) as u32) >= (4 << 32) + 9);
        v.floor = (5 << 32) + 1;
        assert_eq!(v.full(9), (5 << 32) + 1);
    }

    #[test]
    fn a_deleted_key_keeps_its_version_until_too_many_deletions_follow() {
        let mut v = Versions {
            clock: 1_000_000,
            ..Versions::default()
        };
        v.deleted(b"gone", 500);
        assert_eq!(v.missing(b"gone"), 500);
        assert_eq!(v.missing(b"never"), 0);
        for i in 0..DELETED_MAX as u64 - 1 {
            v.deleted(format!("k{i}").as_bytes(), 600 + i);
        }
        assert_eq!(v.missing(b"gone"), 500, "still remembered");
        assert_eq!(v.missing(b"never"), 0);
        v.deleted(b"one more", 900_000);
        assert_eq!(v.forgotten, 500, "the oldest is folded in");
        assert_eq!(v.missing(b"never"), 500);
        assert_eq!(v.missing(b"one more"), 900_000);
        let restored = Versions::restore(v.clock, v.floor, v.forgotten, v.deletions());
        assert_eq!(restored, v);
        // `forgotten` passes records still queued when a FLUSHDB of many keys folds them in.
        v.clock = 2_000_000;
        let many: Vec<Vec<u8>> = (0..=DELETED_MAX)
            .map(|i| format!("m{i}").into_bytes())
            .collect();
        v.deleted_all(many.iter().map(Vec::as_slice), 1_500_000);
        assert_eq!(v.forgotten, 1_500_000);
        assert_eq!(v.missing(b"never"), 1_500_000);
        let restored = Versions::restore(v.clock, v.floor, v.forgotten, v.deletions());
        assert_eq!(restored, v);
    }

    #[test]
    fn a_name_deleted_again_keeps_its_newest_version_when_its_first_deletion_is_folded() {
        let mut v = Versions::default();
        v.deleted(b"k", 10);
        v.deleted(b"k", 20);
        for i in 0..DELETED_MAX as u64 - 1 {
            v.deleted(format!("x{i}").as_bytes(), 30 + i);
        }
        // The (k, 10) record left the queue; the map still holds k's newer deletion.
        assert_eq!(v.forgotten, 10);
        assert_eq!(v.missing(b"k"), 20);
    }
}
