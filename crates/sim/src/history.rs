//! What clients saw: a history of operations, each with the interval in which it ran and what it
//! returned, for the checkers to judge.
//!
//! Time is in logical ticks of the simulated clock. Operation `a` precedes `b` in real time only if
//! `a` completed at a tick strictly before `b` was invoked; operations whose intervals share a tick
//! are concurrent. An operation whose outcome is unknown (the request timed out, or the connection
//! dropped) has no completion: it may have taken effect at any point after its invoke, or never, and
//! what it would have returned says nothing. Operations that failed for certain (an error reply sent
//! before anything was applied) are left out of the history: they had no effect.
//!
//! Two families of operations are recorded, one model each:
//! - a register per key (Redis strings): `GET`, `SET`, `INCR`, `DEL`;
//! - a list per key that is only appended to and read whole, the shape of Jepsen's Elle
//!   list-append workload: `RPUSH key element` and `LRANGE key 0 -1`.

use std::fmt;

/// A Redis key.
pub type Key = Vec<u8>;

/// The client (simulated connection) that issued an operation. Only reports use it: what
/// linearizability constrains is real-time order, which the ticks already carry.
pub type ProcessId = u32;

/// The position of an operation in its history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub usize);

/// A Redis string value, or a list element.
///
/// Redis keeps the result of `INCR` as a decimal string, and `INCR` accepts a string only in the
/// canonical decimal form of an `i64` (no sign `+`, no leading zeros, no `-0`). Those strings are
/// held here as the integer, so `Value::from(6)` equals `Value::from("6")`, a `GET` after an `INCR`
/// compares equal to the `INCR`'s result, and any other bytes stay bytes (`"06"` is not 6).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Value(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Int(i64),
    Bytes(Box<[u8]>),
}

impl Value {
    /// The value of a Redis string holding `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Value {
        match parse_canonical_i64(bytes) {
            Some(int) => Value(Repr::Int(int)),
            None => Value(Repr::Bytes(bytes.into())),
        }
    }

    /// The bytes Redis holds for this value.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.0 {
            Repr::Int(int) => int.to_string().into_bytes(),
            Repr::Bytes(bytes) => bytes.to_vec(),
        }
    }

    /// The integer `INCR` would read from this value, if it would read one.
    pub fn as_int(&self) -> Option<i64> {
        match self.0 {
            Repr::Int(int) => Some(int),
            Repr::Bytes(_) => None,
        }
    }
}

/// Parses `bytes` as an `i64` only when they are that integer's canonical decimal form, the only
/// form `INCR` accepts. Round-tripping through the formatter is the whole grammar in one line.
fn parse_canonical_i64(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let int: i64 = text.parse().ok()?;
    (int.to_string() == text).then_some(int)
}

impl From<i64> for Value {
    fn from(int: i64) -> Value {
        Value(Repr::Int(int))
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        Value::from_bytes(bytes)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::from_bytes(text.as_bytes())
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Int(int) => write!(f, "{int}"),
            Repr::Bytes(bytes) => write!(f, "\"{}\"", bytes.escape_ascii()),
        }
    }
}

/// A command on a Redis string key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// `GET key`
    Get,
    /// `SET key value`
    Set(Value),
    /// `INCR key`
    Incr,
    /// `DEL key`
    Del,
}

/// What a command on a Redis string key returned. An output of another command's kind (`Incr(_)`
/// for a `Get`) is an impossible observation, not a programmer error: the checker reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// The value read, `None` for a missing key.
    Get(Option<Value>),
    /// `+OK`.
    Set,
    /// The value after the increment.
    Incr(i64),
    /// The number of keys deleted, 0 or 1.
    Del(u64),
}

/// A command on a list key that is only appended to and read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListInput {
    /// `RPUSH key element`. Checking is sharpest when every element is appended once.
    Append(Value),
    /// `LRANGE key 0 -1`
    Read,
}

/// What a command on a list key returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListOutput {
    /// The length of the list after the append.
    Append(u64),
    /// The whole list, empty for a missing key.
    Read(Vec<Value>),
}

/// One operation: who ran it, on which key, when, and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op<I, O> {
    pub process: ProcessId,
    pub key: Key,
    pub invoke_tick: u64,
    pub input: I,
    pub outcome: Outcome<O>,
}

/// How an operation ended, as far as its client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<O> {
    /// A reply arrived at `tick`.
    Returned { tick: u64, output: O },
    /// No reply (timeout, dropped connection, or still in flight when the run ended): the operation
    /// may take effect at any tick after its invoke, or never.
    Unknown,
}

impl<I, O> Op<I, O> {
    /// The tick of the reply, `None` when the outcome is unknown.
    pub fn complete_tick(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Returned { tick, .. } => Some(tick),
            Outcome::Unknown => None,
        }
    }

    /// The reply, `None` when the outcome is unknown.
    pub fn output(&self) -> Option<&O> {
        match &self.outcome {
            Outcome::Returned { output, .. } => Some(output),
            Outcome::Unknown => None,
        }
    }
}

impl<I: fmt::Debug, O: fmt::Debug> fmt::Display for Op<I, O> {
    /// One line: `p1 "k" [3, 5] Incr -> Incr(2)`, or `p1 "k" [3, ?] Incr -> ?` when unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.key.escape_ascii();
        write!(f, "p{} \"{key}\" [{}, ", self.process, self.invoke_tick)?;
        match &self.outcome {
            Outcome::Returned { tick, output } => {
                write!(f, "{tick}] {:?} -> {output:?}", self.input)
            }
            Outcome::Unknown => write!(f, "?] {:?} -> ?", self.input),
        }
    }
}

/// Operations in the order they were invoked (the checkers do not rely on that order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<I, O> {
    ops: Vec<Op<I, O>>,
}

/// A history of commands on Redis string keys.
pub type RegisterHistory = History<RegisterInput, RegisterOutput>;

/// A history of appends to and reads of list keys.
pub type ListHistory = History<ListInput, ListOutput>;

impl<I, O> History<I, O> {
    pub fn new() -> Self {
        History { ops: Vec::new() }
    }

    /// Records that `process` sent `input` on `key` at `tick`. Until `complete` is called for it,
    /// the operation's outcome is unknown.
    pub fn invoke(&mut self, process: ProcessId, key: &[u8], tick: u64, input: I) -> OpId {
        self.ops.push(Op {
            process,
            key: key.to_vec(),
            invoke_tick: tick,
            input,
            outcome: Outcome::Unknown,
        });
        OpId(self.ops.len() - 1)
    }

    /// Records the reply to operation `id`, which arrived at `tick`.
    pub fn complete(&mut self, id: OpId, tick: u64, output: O) {
        let op = &mut self.ops[id.0];
        assert!(
            matches!(op.outcome, Outcome::Unknown),
            "op {id:?} completed twice"
        );
        assert!(tick >= op.invoke_tick, "op {id:?} completed before invoked");
        op.outcome = Outcome::Returned { tick, output };
    }

    /// Records a whole operation at once.
    pub fn push(&mut self, op: Op<I, O>) -> OpId {
        if let Some(tick) = op.complete_tick() {
            assert!(tick >= op.invoke_tick, "op completed before invoked");
        }
        self.ops.push(op);
        OpId(self.ops.len() - 1)
    }

    pub fn ops(&self) -> &[Op<I, O>] {
        &self.ops
    }

    pub fn op(&self, id: OpId) -> &Op<I, O> {
        &self.ops[id.0]
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimal_strings_are_integers() {
        assert_eq!(Value::from("6"), Value::from(6));
        assert_eq!(Value::from("-12"), Value::from(-12));
        assert_eq!(Value::from("0"), Value::from(0));
        assert_eq!(Value::from("9223372036854775807"), Value::from(i64::MAX));
        assert_eq!(Value::from("6").as_int(), Some(6));
        assert_eq!(Value::from(-12).to_bytes(), b"-12");
    }

    #[test]
    fn other_strings_are_bytes() {
        for text in [
            "06",
            "+6",
            "-0",
            " 6",
            "6 ",
            "",
            "x",
            "9223372036854775808",
            "1e3",
        ] {
            assert_eq!(Value::from(text).as_int(), None, "{text:?}");
        }
        assert_ne!(Value::from("06"), Value::from(6));
        assert_eq!(Value::from(&b"\xff"[..]).to_bytes(), b"\xff");
        assert_eq!(Value::from("06").to_bytes(), b"06");
    }

    #[test]
    fn an_op_is_unknown_until_completed() {
        let mut history = RegisterHistory::new();
        let id = history.invoke(1, b"k", 3, RegisterInput::Incr);
        assert_eq!(history.op(id).complete_tick(), None);
        assert_eq!(history.op(id).to_string(), "p1 \"k\" [3, ?] Incr -> ?");
        history.complete(id, 5, RegisterOutput::Incr(2));
        assert_eq!(history.op(id).complete_tick(), Some(5));
        assert_eq!(
            history.op(id).to_string(),
            "p1 \"k\" [3, 5] Incr -> Incr(2)"
        );
    }

    #[test]
    #[should_panic(expected = "completed twice")]
    fn completing_twice_is_a_programmer_error() {
        let mut history = RegisterHistory::new();
        let id = history.invoke(1, b"k", 3, RegisterInput::Del);
        history.complete(id, 4, RegisterOutput::Del(0));
        history.complete(id, 5, RegisterOutput::Del(0));
    }

    #[test]
    #[should_panic(expected = "completed before invoked")]
    fn completing_before_invoking_is_a_programmer_error() {
        let mut history = RegisterHistory::new();
        let id = history.invoke(1, b"k", 3, RegisterInput::Del);
        history.complete(id, 2, RegisterOutput::Del(0));
    }
}
