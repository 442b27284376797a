//! Sorted sets: members with scores, ordered by (score, member).
//!
//! A first representation: a map from member to score plus an ordered index. Rank queries
//! walk the index; an order-statistic structure (O(log n) rank) replaces this with the sorted
//! set commands.

use std::collections::BTreeSet;

use crate::types::{Bytes, collection_hasher};

/// A score with a total order (scores are never NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.partial_cmp(&other.0).expect("scores are never NaN")
    }
}

#[derive(Clone, Debug)]
pub struct ZSet {
    scores: std::collections::HashMap<Bytes, f64, foldhash::fast::FixedState>,
    order: BTreeSet<(Score, Bytes)>,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            scores: std::collections::HashMap::with_hasher(collection_hasher()),
            order: BTreeSet::new(),
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.order == other.order
    }
}

impl ZSet {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds or updates a member; true if it was new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        assert!(!score.is_nan(), "a NaN score reached the sorted set");
        match self.scores.insert(member.into(), score) {
            Some(old) => {
                self.order.remove(&(Score(old), member.into()));
                self.order.insert((Score(score), member.into()));
                false
            }
            None => {
                self.order.insert((Score(score), member.into()));
                true
            }
        }
    }

    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(old) => {
                self.order.remove(&(Score(old), member.into()));
                true
            }
            None => false,
        }
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order.iter().map(|(s, m)| (&m[..], s.0))
    }
}
