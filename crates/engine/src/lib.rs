//! The keyspace: databases, values, expiry, and the command table with every command that reads
//! or writes keys.
//!
//! No I/O, no clock, no randomness: the time (`now_ms`) and a random seed are inputs of every
//! command (see [`Exec`]), so two replicas that execute the same commands with the same inputs
//! reach byte-identical state. That is the property the Raft layer builds on.
//!
//! Reads never change state (an expired key is hidden, not deleted, by a read); only commands
//! flagged `WRITE` do, so they are the only commands that need to go through the log.
//! Connection-level commands (HELLO, SELECT, CLIENT, INFO, ...) are described in the same table
//! but executed by the server, which owns connections.

mod cmd;
mod compact;
mod db;
mod error;
mod exec;
mod glob;
mod list;
mod longdouble;
pub mod notify;
mod robin;
mod slot;
mod snapshot;
mod table;
mod thin;
pub mod types;
mod value;
mod varint;
mod watch;
mod zset;

pub use cmd::blocking::blocking_timeout;
pub use db::{Db, Keyspace, Publisher, ScanCursor};
pub use error::Error;
pub use exec::{Exec, arg_i64};
pub use glob::glob_match;
pub use slot::{SLOT_COUNT, slot_of};
pub use table::{CommandSpec, Flags, Handler, LookupCache, ServerCommand, TABLE, lookup};
pub use value::{Entry, EntryRef, Value, ValueMut, ValueRef};

/// A value in DUMP's format (for digests that must cover collections too).
pub fn serialize_value(value: ValueRef) -> Vec<u8> {
    cmd::dump::serialize(value)
}

/// Redis's `proto-max-bulk-len` also caps strings built up by APPEND, SETRANGE and SETBIT.
pub const STRING_BYTES_MAX: usize = 512 << 20;
/// Databases a keyspace has unless configured otherwise (`databases`).
pub const DATABASES_DEFAULT: usize = 16;
