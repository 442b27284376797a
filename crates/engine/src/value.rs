//! Values as commands see them (`Value` owned, `ValueRef` borrowed, `ValueMut` to change a
//! collection in place), and `Entry`, a value with its expiry. How entries are laid out in
//! memory is `db.rs`'s business.

use crate::types::{Hash, List, Set, ZSet};

/// An owned value: what commands insert, and what DUMP, COPY and MOVE carry.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    /// A string that is a canonical 64-bit integer (Redis's `int` encoding): stored as a number,
    /// so INCR does no parsing and the value costs no allocation.
    Int(i64),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
}

/// A borrowed view of a stored value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Int(i64),
    List(&'a List),
    Hash(&'a Hash),
    Set(&'a Set),
    ZSet(&'a ZSet),
}

/// A stored collection, to change in place. An emptied collection must be deleted by the
/// command that emptied it (Redis never keeps an empty collection).
#[derive(Debug)]
pub enum ValueMut<'a> {
    List(&'a mut List),
    Hash(&'a mut Hash),
    Set(&'a mut Set),
    ZSet(&'a mut ZSet),
    /// A string: change it with `Db::string_mut` instead.
    String,
}

impl Value {
    /// Stores `bytes` as a string value, as a number when it reads back identically.
    pub fn string(bytes: &[u8]) -> Value {
        match parse_canonical_i64(bytes) {
            Some(n) => Value::Int(n),
            None => Value::Str(bytes.to_vec()),
        }
    }

    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Str(s) => ValueRef::Str(s),
            Value::Int(n) => ValueRef::Int(*n),
            Value::List(l) => ValueRef::List(l),
            Value::Hash(h) => ValueRef::Hash(h),
            Value::Set(s) => ValueRef::Set(s),
            Value::ZSet(z) => ValueRef::ZSet(z),
        }
    }

    /// The string as mutable bytes, converting a number to its text first.
    pub fn bytes_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Value::Int(n) = self {
            *self = Value::Str(itoa::Buffer::new().format(*n).as_bytes().to_vec());
        }
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'a> ValueRef<'a> {
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) | ValueRef::Int(_) => "string",
            ValueRef::List(_) => "list",
            ValueRef::Hash(_) => "hash",
            ValueRef::Set(_) => "set",
            ValueRef::ZSet(_) => "zset",
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, ValueRef::Str(_) | ValueRef::Int(_))
    }

    /// Calls `f` with the string's bytes; `None` for a value that is not a string.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match self {
            ValueRef::Str(s) => Some(f(s)),
            ValueRef::Int(n) => Some(f(itoa::Buffer::new().format(*n).as_bytes())),
            _ => None,
        }
    }

    /// The string's bytes, copied; `None` for a value that is not a string.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        self.with_bytes(|b| b.to_vec())
    }

    pub fn string_len(&self) -> Option<usize> {
        match self {
            ValueRef::Str(s) => Some(s.len()),
            ValueRef::Int(n) => Some(itoa::Buffer::new().format(*n).len()),
            _ => None,
        }
    }

    pub fn to_owned(&self) -> Value {
        match self {
            ValueRef::Str(s) => Value::Str(s.to_vec()),
            ValueRef::Int(n) => Value::Int(*n),
            ValueRef::List(l) => Value::List(Box::new((*l).clone())),
            ValueRef::Hash(h) => Value::Hash(Box::new((*h).clone())),
            ValueRef::Set(s) => Value::Set(Box::new((*s).clone())),
            ValueRef::ZSet(z) => Value::ZSet(Box::new((*z).clone())),
        }
    }
}

/// Parses an integer only if formatting it again gives the same bytes (so storing it as a
/// number loses nothing).
pub fn parse_canonical_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let n: i64 = text.parse().ok()?;
    (itoa::Buffer::new().format(n).as_bytes() == bytes).then_some(n)
}

/// An owned value with its expiry, as inserted into or removed from a database.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means the key does not expire.
    pub expire_at_ms: u64,
    /// When the value was last written (Unix ms), for OBJECT IDLETIME.
    pub changed_ms: u64,
}

impl Entry {
    pub fn new(value: Value, expire_at_ms: u64, now_ms: u64) -> Self {
        Entry {
            value,
            expire_at_ms,
            changed_ms: now_ms,
        }
    }
}

/// A stored entry, borrowed from its database.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub value: ValueRef<'a>,
    pub expire_at_ms: u64,
    /// Unix seconds (truncated to 32 bits) of the last write.
    pub changed_s: u32,
    /// The low 32 bits of the key's WATCH version (see `Db::version`).
    pub stamp: u32,
    /// True for a string that was changed in place (APPEND, SETRANGE, SETBIT...): Redis calls
    /// those `raw` whatever their length.
    pub raw: bool,
}

impl EntryRef<'_> {
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    /// Redis's OBJECT ENCODING name: collections report their representation (see `compact`,
    /// `list`, `zset`): a packed hash, sorted set or one-node list is a `listpack`, a packed set
    /// an `intset` or a `listpack` (as in Redis 7.2; 7.0 kept small sets of strings in a hash
    /// table and every list in a quicklist).
    pub fn encoding(&self) -> &'static str {
        match self.value {
            ValueRef::Int(_) => "int",
            ValueRef::Str(s) if s.len() <= 44 && !self.raw => "embstr",
            ValueRef::Str(_) => "raw",
            ValueRef::List(l) => l.encoding(),
            ValueRef::Hash(h) if h.is_packed() => "listpack",
            ValueRef::Hash(_) => "hashtable",
            ValueRef::Set(s) => s.encoding(),
            ValueRef::ZSet(z) if z.is_packed() => "listpack",
            ValueRef::ZSet(_) => "skiplist",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_integers_are_numbers() {
        assert_eq!(Value::string(b"42"), Value::Int(42));
        assert_eq!(Value::string(b"-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(Value::string(b"042"), Value::Str(b"042".to_vec()));
        assert_eq!(Value::string(b"+1"), Value::Str(b"+1".to_vec()));
        assert_eq!(Value::string(b" 1"), Value::Str(b" 1".to_vec()));
        assert_eq!(Value::string(b"-0"), Value::Str(b"-0".to_vec()));
        assert_eq!(Value::string(b""), Value::Str(Vec::new()));
    }
}
