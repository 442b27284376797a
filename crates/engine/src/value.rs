//! Values and the entry that holds one in a database.

use std::cell::Cell;

/// A stored value. Strings that are canonical 64-bit integers are kept as numbers (Redis's
/// `int` encoding): no allocation, and INCR does no parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(Vec<u8>),
    Int(i64),
}

impl Value {
    /// Stores `bytes` as a string value, as a number when it reads back identically.
    pub fn string(bytes: &[u8]) -> Value {
        match parse_canonical_i64(bytes) {
            Some(n) => Value::Int(n),
            None => Value::Str(bytes.to_vec()),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) | Value::Int(_) => "string",
        }
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::Str(_) | Value::Int(_))
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
        }
    }

    /// Calls `f` with the string's bytes; `None` for a value that is not a string.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match self {
            Value::Str(s) => Some(f(s)),
            Value::Int(n) => Some(f(itoa::Buffer::new().format(*n).as_bytes())),
        }
    }

    /// The string's bytes, copied; `None` for a value that is not a string.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The string as mutable bytes, converting a number to its text first.
    pub fn bytes_mut(&mut self) -> Option<&mut Vec<u8>> {
        if let Value::Int(n) = self {
            *self = Value::Str(itoa::Buffer::new().format(*n).as_bytes().to_vec());
        }
        match self {
            Value::Str(s) => Some(s),
            Value::Int(_) => None,
        }
    }

    pub fn string_len(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.len()),
            Value::Int(n) => Some(itoa::Buffer::new().format(*n).len()),
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

/// A value with its metadata.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means the key does not expire.
    pub expire_at_ms: u64,
    /// Seconds (Unix time, truncated) of the last access, for OBJECT IDLETIME. A `Cell` because
    /// reads record it through a shared reference; it is per replica, outside replicated state.
    pub access_s: Cell<u32>,
}

impl Entry {
    pub fn new(value: Value, expire_at_ms: u64, now_ms: u64) -> Self {
        Entry {
            value,
            expire_at_ms,
            access_s: Cell::new((now_ms / 1000) as u32),
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms != 0 && self.expire_at_ms <= now_ms
    }

    pub fn touch(&self, now_ms: u64) {
        self.access_s.set((now_ms / 1000) as u32);
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

    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }
}
