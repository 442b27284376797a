//! The collection types a key can hold besides strings.
//!
//! Iteration order must be the same on every replica, so hashed collections use a fixed-seed
//! hasher: HGETALL, SMEMBERS and their SCANs list the same order on a leader and its followers.

use foldhash::fast::FixedState;

/// An element, field or member.
pub type Bytes = Box<[u8]>;
/// Hashes and sets are packed while small (see `compact`), then hash tables that keep their
/// elements in hash order, which gives HSCAN and SSCAN a cursor that survives resizes (see
/// `robin`).
pub use crate::compact::{
    HASH_PACK_ENTRIES_MAX, Hash, INTSET_ENTRIES_MAX, PACK_ELEMENT_BYTES_MAX, PACK_ENTRIES_MAX, Set,
};
/// Lists are packed in nodes (see `list`).
pub use crate::list::List;
pub use crate::zset::ZSet;

/// The seed of collection hashes unless `set_collection_seed` chose one (tests, tools).
const COLLECTION_SEED_DEFAULT: u64 = 0x5eed_c011_ec71_0a5e;
static COLLECTION_SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Keys the hash of every hashed collection with `seed`, so clients cannot pick members that
/// all collide (the server passes a random seed at startup; the replicas of one group will have
/// to share theirs). Call once, before any collection exists; later calls are refused (false),
/// since changing the hash would reorder existing tables.
pub fn set_collection_seed(seed: u64) -> bool {
    COLLECTION_SEED.set(seed).is_ok()
}

/// The hasher of every hashed collection: one seed for the process, so orders are
/// deterministic given that seed.
pub fn collection_hasher() -> FixedState {
    FixedState::with_seed(*COLLECTION_SEED.get().unwrap_or(&COLLECTION_SEED_DEFAULT))
}

pub fn new_hash() -> Hash {
    Hash::new()
}

pub fn new_set() -> Set {
    Set::new()
}
