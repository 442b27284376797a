//! The collection types a key can hold besides strings.
//!
//! Iteration order must be the same on every replica, so hashed collections use a fixed-seed
//! hasher: HGETALL, SMEMBERS and their SCANs list the same order on a leader and its followers.

use std::collections::VecDeque;

use foldhash::fast::FixedState;

/// An element, field or member.
pub type Bytes = Box<[u8]>;
pub type List = VecDeque<Bytes>;
/// Hashes and sets keep their elements in hash order, which gives HSCAN and SSCAN a cursor that
/// survives resizes (see `robin`).
pub type Hash = crate::robin::RobinMap<Bytes>;
pub type Set = crate::robin::RobinSet;
pub use crate::zset::ZSet;

/// The hasher of every hashed collection (fixed, so the order is deterministic).
pub fn collection_hasher() -> FixedState {
    FixedState::with_seed(0x5eed_c011_ec71_0a5e)
}

pub fn new_hash() -> Hash {
    Hash::new()
}

pub fn new_set() -> Set {
    Set::new()
}
