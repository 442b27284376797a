//! The collection types a key can hold besides strings.
//!
//! Iteration order must be the same on every replica, so hashed collections use a fixed-seed
//! hasher: HGETALL, SMEMBERS and their SCANs list the same order on a leader and its followers.

use std::collections::{HashMap, HashSet, VecDeque};

use foldhash::fast::FixedState;

/// An element, field or member.
pub type Bytes = Box<[u8]>;
pub type List = VecDeque<Bytes>;
pub type Hash = HashMap<Bytes, Bytes, FixedState>;
pub type Set = HashSet<Bytes, FixedState>;
pub use crate::zset::ZSet;

/// The hasher of every hashed collection (fixed, so the order is deterministic).
pub fn collection_hasher() -> FixedState {
    FixedState::with_seed(0x5eed_c011_ec71_0a5e)
}

pub fn new_hash() -> Hash {
    Hash::with_hasher(collection_hasher())
}

pub fn new_set() -> Set {
    Set::with_hasher(collection_hasher())
}
