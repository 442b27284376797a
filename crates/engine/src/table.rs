//! The command table: one entry per command, the data that drives parsing (arity), dispatch
//! (handler), routing (key positions) and the COMMAND command.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cmd::{
    bitmaps, blocking, functions, hashes, keys, lcs, lists, scripting, sets, sort, strings, zsets,
};
use crate::error::Error;
use crate::exec::Exec;

/// Command flags, with Redis's names (COMMAND INFO lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const PUBSUB: Flags = Flags(1 << 4);
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    pub const BLOCKING: Flags = Flags(1 << 6);
    pub const LOADING: Flags = Flags(1 << 7);
    pub const STALE: Flags = Flags(1 << 8);
    pub const FAST: Flags = Flags(1 << 9);
    pub const NO_AUTH: Flags = Flags(1 << 10);
    pub const ALLOW_BUSY: Flags = Flags(1 << 11);
    pub const NO_MULTI: Flags = Flags(1 << 12);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 13);
    /// Where the keys are depends on the arguments (a key count, a STORE option): the key
    /// columns do not say; [`CommandSpec::keys_in`] parses them.
    pub const MOVABLE_KEYS: Flags = Flags(1 << 14);
    /// May write (scripts): it goes through the log as a write does, though COMMAND does not
    /// call it one.
    pub const MAY_REPLICATE: Flags = Flags(1 << 15);

    const NAMES: [(Flags, &'static str); 16] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::BLOCKING, "blocking"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::ALLOW_BUSY, "allow_busy"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::MOVABLE_KEYS, "movablekeys"),
        (Flags::MAY_REPLICATE, "may_replicate"),
    ];

    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
    }
}

pub type EngineFn = fn(&mut Exec<'_>, &[&[u8]]) -> Result<(), Error>;

/// Commands about connections and the server process, which the server crate executes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    Auth,
    Client,
    Command,
    Config,
    Debug,
    Echo,
    Hello,
    Info,
    Lastsave,
    Ping,
    Quit,
    Reset,
    Select,
    Shutdown,
    Time,
    // Transactions.
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    // Pub/sub.
    Subscribe,
    Unsubscribe,
    Psubscribe,
    Punsubscribe,
    Ssubscribe,
    Sunsubscribe,
    Publish,
    Spublish,
    Pubsub,
    // Replication and cluster administration.
    Redraft,
    Cluster,
    Readonly,
    Readwrite,
}

#[derive(Clone, Copy, Debug)]
pub enum Handler {
    Engine(EngineFn),
    Server(ServerCommand),
}

#[derive(Debug)]
pub struct CommandSpec {
    /// Lower case, as COMMAND reports it.
    pub name: &'static str,
    /// Redis's convention: N means exactly N arguments (the name included), -N at least N.
    pub arity: i32,
    pub flags: Flags,
    /// Key positions (first, last, step) as COMMAND reports them; last -1 means the last argument.
    pub keys: (i32, i32, i32),
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub handler: Handler,
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The command's position in [`TABLE`], for per-command statistics.
    pub fn index(&'static self) -> usize {
        let offset = self as *const CommandSpec as usize - TABLE.as_ptr() as usize;
        offset / std::mem::size_of::<CommandSpec>()
    }

    /// Whether it goes through the log: a write, or a command that may write (EVAL).
    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE) || self.flags.contains(Flags::MAY_REPLICATE)
    }

    /// Positions of the keys in `args` (the command name is position 0), movable ones
    /// included, as COMMAND GETKEYS reports them. None when the arguments do not say where the
    /// keys are (a key count that is not a number, or more than the arguments there are).
    /// The position of the command's first key among `argc` arguments, if it has one there.
    pub fn first_key(&self, argc: usize) -> Option<usize> {
        usize::try_from(self.keys.0)
            .ok()
            .filter(|&i| i > 0 && i < argc)
    }

    pub fn keys_in(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        if !self.flags.contains(Flags::MOVABLE_KEYS) {
            return Some(self.key_positions(args.len()));
        }
        // The key count's position: the keys follow it.
        let counted_at = match self.name {
            "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => 1,
            "zunionstore" | "zinterstore" | "zdiffstore" | "blmpop" | "bzmpop" => 2,
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => 2,
            "sort" => {
                // The key, and the target of STORE (the last one given counts).
                let mut keys = vec![1];
                let mut i = 2;
                while i < args.len() {
                    let word = args[i].to_ascii_lowercase();
                    match word.as_slice() {
                        b"store" if i + 1 < args.len() => {
                            keys.truncate(1);
                            keys.push(i + 1);
                            i += 2;
                        }
                        b"by" | b"get" => i += 2,
                        b"limit" => i += 3,
                        _ => i += 1,
                    }
                }
                return Some(keys);
            }
            // SORT_RO has no STORE: its key is the first argument, whatever follows.
            _ => return Some(self.key_positions(args.len())),
        };
        let count: usize = std::str::from_utf8(args.get(counted_at)?)
            .ok()?
            .parse()
            .ok()?;
        let first = counted_at + 1;
        if count == 0 && self.group == "scripting" {
            return Some(Vec::new());
        }
        if count == 0 || first + count > args.len() {
            return None;
        }
        // A destination before the count (the STORE forms) is a key too.
        let mut keys: Vec<usize> = self.key_positions(args.len().min(counted_at));
        keys.extend(first..first + count);
        Some(keys)
    }

    /// Positions of the keys in `args` (the command name is position 0), from the key columns
    /// alone (see [`CommandSpec::keys_in`] for commands whose keys move).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let last = if last < 0 { argc as i32 + last } else { last };
        (first..=last.min(argc as i32 - 1))
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

const W: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY;
const WD: Flags = Flags::WRITE.with(Flags::DENYOOM);
const WDF: Flags = WD.with(Flags::FAST);
const RF: Flags = Flags::READONLY.with(Flags::FAST);
const WF: Flags = Flags::WRITE.with(Flags::FAST);
const WB: Flags = Flags::WRITE.with(Flags::BLOCKING);
const SCRIPT_FLAGS: Flags = Flags::NOSCRIPT.with(Flags::STALE).with(Flags::MOVABLE_KEYS);
const CONN: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST);

// One argument per column of the table: the rows below read as data.
#[allow(clippy::too_many_arguments)]
const fn engine(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: EngineFn,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since,
        handler: Handler::Engine(handler),
    }
}

const fn server(
    name: &'static str,
    arity: i32,
    flags: Flags,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    command: ServerCommand,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys: (0, 0, 0),
        group,
        summary,
        since,
        handler: Handler::Server(command),
    }
}

/// A server command that names keys (WATCH, shard channels), so COMMAND GETKEYS and routing see
/// them.
#[allow(clippy::too_many_arguments)]
const fn engine_keys_server(
    name: &'static str,
    arity: i32,
    flags: Flags,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    command: ServerCommand,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        group,
        summary,
        since,
        handler: Handler::Server(command),
    }
}

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);
const KEY12: (i32, i32, i32) = (1, 2, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const PAIRS: (i32, i32, i32) = (1, -1, 2);

pub static TABLE: &[CommandSpec] = &[
    // Strings.
    engine(
        "get",
        2,
        RF,
        KEY1,
        "string",
        "1.0.0",
        "Returns the string value of a key.",
        strings::get,
    ),
    engine(
        "set",
        -3,
        WD,
        KEY1,
        "string",
        "1.0.0",
        "Sets the string value of a key, optionally with a condition and an expiry.",
        strings::set,
    ),
    engine(
        "setnx",
        3,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Sets a key's value only if it does not exist.",
        strings::setnx,
    ),
    engine(
        "setex",
        4,
        WD,
        KEY1,
        "string",
        "2.0.0",
        "Sets a key's value and its expiry in seconds.",
        strings::setex,
    ),
    engine(
        "psetex",
        4,
        WD,
        KEY1,
        "string",
        "2.6.0",
        "Sets a key's value and its expiry in milliseconds.",
        strings::psetex,
    ),
    engine(
        "getset",
        3,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Sets a key's value and returns the previous one.",
        strings::getset,
    ),
    engine(
        "getdel",
        2,
        WF,
        KEY1,
        "string",
        "6.2.0",
        "Returns a key's value and deletes the key.",
        strings::getdel,
    ),
    engine(
        "getex",
        -2,
        WF,
        KEY1,
        "string",
        "6.2.0",
        "Returns a key's value and sets or clears its expiry.",
        strings::getex,
    ),
    engine(
        "mget",
        -2,
        RF,
        ALL_KEYS,
        "string",
        "1.0.0",
        "Returns the values of several keys.",
        strings::mget,
    ),
    engine(
        "mset",
        -3,
        WD,
        PAIRS,
        "string",
        "1.0.1",
        "Sets several keys at once.",
        strings::mset,
    ),
    engine(
        "msetnx",
        -3,
        WD,
        PAIRS,
        "string",
        "1.0.1",
        "Sets several keys only if none of them exists.",
        strings::msetnx,
    ),
    engine(
        "append",
        3,
        WDF,
        KEY1,
        "string",
        "2.0.0",
        "Appends to a key's string value.",
        strings::append,
    ),
    engine(
        "strlen",
        2,
        RF,
        KEY1,
        "string",
        "2.2.0",
        "Returns the length of a string value.",
        strings::strlen,
    ),
    engine(
        "getrange",
        4,
        R,
        KEY1,
        "string",
        "2.4.0",
        "Returns a substring of a string value.",
        strings::getrange,
    ),
    engine(
        "substr",
        4,
        R,
        KEY1,
        "string",
        "1.0.0",
        "Returns a substring of a string value.",
        strings::getrange,
    ),
    engine(
        "setrange",
        4,
        WD,
        KEY1,
        "string",
        "2.2.0",
        "Overwrites part of a string value from an offset.",
        strings::setrange,
    ),
    engine(
        "incr",
        2,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Increments an integer value by one.",
        strings::incr,
    ),
    engine(
        "decr",
        2,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Decrements an integer value by one.",
        strings::decr,
    ),
    engine(
        "incrby",
        3,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Increments an integer value by an amount.",
        strings::incrby,
    ),
    engine(
        "decrby",
        3,
        WDF,
        KEY1,
        "string",
        "1.0.0",
        "Decrements an integer value by an amount.",
        strings::decrby,
    ),
    engine(
        "incrbyfloat",
        3,
        WDF,
        KEY1,
        "string",
        "2.6.0",
        "Increments a floating point value by an amount.",
        strings::incrbyfloat,
    ),
    engine(
        "lcs",
        -3,
        R,
        KEY12,
        "string",
        "7.0.0",
        "Finds the longest common subsequence of two strings.",
        lcs::lcs,
    ),
    // Bitmaps.
    engine(
        "setbit",
        4,
        WD,
        KEY1,
        "bitmap",
        "2.2.0",
        "Sets or clears the bit at an offset.",
        bitmaps::setbit,
    ),
    engine(
        "getbit",
        3,
        RF,
        KEY1,
        "bitmap",
        "2.2.0",
        "Returns the bit at an offset.",
        bitmaps::getbit,
    ),
    engine(
        "bitcount",
        -2,
        R,
        KEY1,
        "bitmap",
        "2.6.0",
        "Counts the set bits, optionally in a range.",
        bitmaps::bitcount,
    ),
    engine(
        "bitpos",
        -3,
        R,
        KEY1,
        "bitmap",
        "2.8.7",
        "Finds the first set or clear bit.",
        bitmaps::bitpos,
    ),
    engine(
        "bitop",
        -4,
        WD,
        (2, -1, 1),
        "bitmap",
        "2.6.0",
        "Combines strings bitwise into a destination.",
        bitmaps::bitop,
    ),
    engine(
        "bitfield",
        -2,
        WD,
        KEY1,
        "bitmap",
        "3.2.0",
        "Reads, writes and increments integer fields of a string.",
        bitmaps::bitfield,
    ),
    engine(
        "bitfield_ro",
        -2,
        RF,
        KEY1,
        "bitmap",
        "6.0.0",
        "Reads integer fields of a string.",
        bitmaps::bitfield_ro,
    ),
    // Lists.
    engine(
        "lpush",
        -3,
        WDF,
        KEY1,
        "list",
        "1.0.0",
        "Adds elements to the head of a list, creating it if needed.",
        lists::lpush,
    ),
    engine(
        "rpush",
        -3,
        WDF,
        KEY1,
        "list",
        "1.0.0",
        "Adds elements to the tail of a list, creating it if needed.",
        lists::rpush,
    ),
    engine(
        "lpushx",
        -3,
        WDF,
        KEY1,
        "list",
        "2.2.0",
        "Adds elements to the head of a list that exists.",
        lists::lpushx,
    ),
    engine(
        "rpushx",
        -3,
        WDF,
        KEY1,
        "list",
        "2.2.0",
        "Adds elements to the tail of a list that exists.",
        lists::rpushx,
    ),
    engine(
        "lpop",
        -2,
        WF,
        KEY1,
        "list",
        "1.0.0",
        "Removes and returns one or more elements from the head of a list.",
        lists::lpop,
    ),
    engine(
        "rpop",
        -2,
        WF,
        KEY1,
        "list",
        "1.0.0",
        "Removes and returns one or more elements from the tail of a list.",
        lists::rpop,
    ),
    engine(
        "llen",
        2,
        RF,
        KEY1,
        "list",
        "1.0.0",
        "Returns the number of elements in a list.",
        lists::llen,
    ),
    engine(
        "lrange",
        4,
        R,
        KEY1,
        "list",
        "1.0.0",
        "Returns the elements of a list between two indexes.",
        lists::lrange,
    ),
    engine(
        "lindex",
        3,
        R,
        KEY1,
        "list",
        "1.0.0",
        "Returns the element of a list at an index.",
        lists::lindex,
    ),
    engine(
        "lset",
        4,
        WD,
        KEY1,
        "list",
        "1.0.0",
        "Replaces the element of a list at an index.",
        lists::lset,
    ),
    engine(
        "linsert",
        5,
        WD,
        KEY1,
        "list",
        "2.2.0",
        "Inserts an element before or after the first occurrence of another.",
        lists::linsert,
    ),
    engine(
        "lrem",
        4,
        W,
        KEY1,
        "list",
        "1.0.0",
        "Removes occurrences of an element from a list.",
        lists::lrem,
    ),
    engine(
        "ltrim",
        4,
        W,
        KEY1,
        "list",
        "1.0.0",
        "Keeps only the elements of a list between two indexes.",
        lists::ltrim,
    ),
    engine(
        "lpos",
        -3,
        R,
        KEY1,
        "list",
        "6.0.6",
        "Finds the positions of an element in a list.",
        lists::lpos,
    ),
    engine(
        "lmove",
        5,
        WD,
        KEY12,
        "list",
        "6.2.0",
        "Moves an element from one end of a list to an end of another.",
        lists::lmove,
    ),
    engine(
        "rpoplpush",
        3,
        WD,
        KEY12,
        "list",
        "1.2.0",
        "Moves the tail element of a list to the head of another.",
        lists::rpoplpush,
    ),
    // The keys follow numkeys: like Redis, COMMAND reports no fixed key positions.
    engine(
        "lmpop",
        -4,
        W.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "list",
        "7.0.0",
        "Pops elements from the first non-empty list of several.",
        lists::lmpop,
    ),
    // Hashes.
    engine(
        "hset",
        -4,
        WDF,
        KEY1,
        "hash",
        "2.0.0",
        "Sets fields of a hash, creating it if needed.",
        hashes::hset,
    ),
    engine(
        "hsetnx",
        4,
        WDF,
        KEY1,
        "hash",
        "2.0.0",
        "Sets a field of a hash only if the field does not exist.",
        hashes::hsetnx,
    ),
    engine(
        "hget",
        3,
        RF,
        KEY1,
        "hash",
        "2.0.0",
        "Returns the value of a field of a hash.",
        hashes::hget,
    ),
    engine(
        "hmset",
        -4,
        WDF,
        KEY1,
        "hash",
        "2.0.0",
        "Sets fields of a hash (replies OK; HSET counts new fields).",
        hashes::hmset,
    ),
    engine(
        "hmget",
        -3,
        RF,
        KEY1,
        "hash",
        "2.0.0",
        "Returns the values of several fields of a hash.",
        hashes::hmget,
    ),
    engine(
        "hgetall",
        2,
        R,
        KEY1,
        "hash",
        "2.0.0",
        "Returns every field and value of a hash.",
        hashes::hgetall,
    ),
    engine(
        "hdel",
        -3,
        WF,
        KEY1,
        "hash",
        "2.0.0",
        "Removes fields from a hash, deleting it when emptied.",
        hashes::hdel,
    ),
    engine(
        "hexists",
        3,
        RF,
        KEY1,
        "hash",
        "2.0.0",
        "Tells whether a field exists in a hash.",
        hashes::hexists,
    ),
    engine(
        "hlen",
        2,
        RF,
        KEY1,
        "hash",
        "2.0.0",
        "Returns the number of fields of a hash.",
        hashes::hlen,
    ),
    engine(
        "hkeys",
        2,
        R,
        KEY1,
        "hash",
        "2.0.0",
        "Returns every field name of a hash.",
        hashes::hkeys,
    ),
    engine(
        "hvals",
        2,
        R,
        KEY1,
        "hash",
        "2.0.0",
        "Returns every value of a hash.",
        hashes::hvals,
    ),
    engine(
        "hincrby",
        4,
        WDF,
        KEY1,
        "hash",
        "2.0.0",
        "Adds an integer to the integer value of a field.",
        hashes::hincrby,
    ),
    engine(
        "hincrbyfloat",
        4,
        WDF,
        KEY1,
        "hash",
        "2.6.0",
        "Adds a number to the floating-point value of a field.",
        hashes::hincrbyfloat,
    ),
    engine(
        "hstrlen",
        3,
        RF,
        KEY1,
        "hash",
        "3.2.0",
        "Returns the length of the value of a field.",
        hashes::hstrlen,
    ),
    engine(
        "hrandfield",
        -2,
        R,
        KEY1,
        "hash",
        "6.2.0",
        "Returns random fields of a hash, optionally with their values.",
        hashes::hrandfield,
    ),
    engine(
        "hscan",
        -3,
        R,
        KEY1,
        "hash",
        "2.8.0",
        "Iterates over the fields and values of a hash with a cursor.",
        hashes::hscan,
    ),
    // Sets.
    engine(
        "sadd",
        -3,
        WDF,
        KEY1,
        "set",
        "1.0.0",
        "Adds members to a set, creating it if needed.",
        sets::sadd,
    ),
    engine(
        "srem",
        -3,
        WF,
        KEY1,
        "set",
        "1.0.0",
        "Removes members from a set, deleting it when emptied.",
        sets::srem,
    ),
    engine(
        "smembers",
        2,
        R,
        KEY1,
        "set",
        "1.0.0",
        "Returns every member of a set.",
        sets::smembers,
    ),
    engine(
        "sismember",
        3,
        RF,
        KEY1,
        "set",
        "1.0.0",
        "Tells whether a value is a member of a set.",
        sets::sismember,
    ),
    engine(
        "smismember",
        -3,
        RF,
        KEY1,
        "set",
        "6.2.0",
        "Tells, for each of several values, whether it is a member of a set.",
        sets::smismember,
    ),
    engine(
        "scard",
        2,
        RF,
        KEY1,
        "set",
        "1.0.0",
        "Returns the number of members of a set.",
        sets::scard,
    ),
    engine(
        "spop",
        -2,
        WF,
        KEY1,
        "set",
        "1.0.0",
        "Removes and returns random members of a set.",
        sets::spop,
    ),
    engine(
        "srandmember",
        -2,
        R,
        KEY1,
        "set",
        "1.0.0",
        "Returns random members of a set, distinct or with repetition.",
        sets::srandmember,
    ),
    engine(
        "smove",
        4,
        WF,
        KEY12,
        "set",
        "1.0.0",
        "Moves a member from one set to another.",
        sets::smove,
    ),
    engine(
        "sinter",
        -2,
        R,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Returns the members common to several sets.",
        sets::sinter,
    ),
    // The keys follow numkeys: like Redis, COMMAND reports no fixed key positions.
    engine(
        "sintercard",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "set",
        "7.0.0",
        "Counts the members common to several sets, up to a limit.",
        sets::sintercard,
    ),
    engine(
        "sunion",
        -2,
        R,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Returns the members of any of several sets.",
        sets::sunion,
    ),
    engine(
        "sdiff",
        -2,
        R,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Returns the members of a set that are in none of several others.",
        sets::sdiff,
    ),
    engine(
        "sinterstore",
        -3,
        WD,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Stores the members common to several sets in a key.",
        sets::sinterstore,
    ),
    engine(
        "sunionstore",
        -3,
        WD,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Stores the members of any of several sets in a key.",
        sets::sunionstore,
    ),
    engine(
        "sdiffstore",
        -3,
        WD,
        ALL_KEYS,
        "set",
        "1.0.0",
        "Stores the difference of several sets in a key.",
        sets::sdiffstore,
    ),
    engine(
        "sscan",
        -3,
        R,
        KEY1,
        "set",
        "2.8.0",
        "Iterates over the members of a set with a cursor.",
        sets::sscan,
    ),
    // Sorted sets. ZMPOP, ZUNION, ZINTER, ZDIFF and ZINTERCARD take their keys after numkeys,
    // and the STORE forms after the destination: like Redis, COMMAND reports no fixed positions
    // for those (the destination only, for the STORE forms).
    engine(
        "zadd",
        -4,
        WDF,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Adds members with scores to a sorted set, or changes their scores.",
        zsets::zadd,
    ),
    engine(
        "zincrby",
        4,
        WDF,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Adds to the score of a member of a sorted set.",
        zsets::zincrby,
    ),
    engine(
        "zrem",
        -3,
        WF,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Removes members from a sorted set.",
        zsets::zrem,
    ),
    engine(
        "zcard",
        2,
        RF,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Returns the number of members of a sorted set.",
        zsets::zcard,
    ),
    engine(
        "zscore",
        3,
        RF,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Returns the score of a member of a sorted set.",
        zsets::zscore,
    ),
    engine(
        "zmscore",
        -3,
        RF,
        KEY1,
        "sorted_set",
        "6.2.0",
        "Returns the scores of several members of a sorted set.",
        zsets::zmscore,
    ),
    engine(
        "zrank",
        -3,
        RF,
        KEY1,
        "sorted_set",
        "2.0.0",
        "Returns a member's position in a sorted set, lowest score first (WITHSCORE: and its score).",
        zsets::zrank,
    ),
    engine(
        "zrevrank",
        -3,
        RF,
        KEY1,
        "sorted_set",
        "2.0.0",
        "Returns a member's position in a sorted set, highest score first (WITHSCORE: and its score).",
        zsets::zrevrank,
    ),
    engine(
        "zcount",
        4,
        RF,
        KEY1,
        "sorted_set",
        "2.0.0",
        "Counts the members of a sorted set within a score range.",
        zsets::zcount,
    ),
    engine(
        "zlexcount",
        4,
        RF,
        KEY1,
        "sorted_set",
        "2.8.9",
        "Counts the members of a sorted set within a lexicographic range.",
        zsets::zlexcount,
    ),
    engine(
        "zrange",
        -4,
        R,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Returns members of a sorted set by position, score or lexicographic range.",
        zsets::zrange,
    ),
    engine(
        "zrangestore",
        -5,
        WD,
        KEY12,
        "sorted_set",
        "6.2.0",
        "Stores a range of a sorted set (as ZRANGE selects it) in a key.",
        zsets::zrangestore,
    ),
    engine(
        "zrevrange",
        -4,
        R,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Returns members of a sorted set by position, highest score first.",
        zsets::zrevrange,
    ),
    engine(
        "zrangebyscore",
        -4,
        R,
        KEY1,
        "sorted_set",
        "1.0.5",
        "Returns members of a sorted set within a score range.",
        zsets::zrangebyscore,
    ),
    engine(
        "zrevrangebyscore",
        -4,
        R,
        KEY1,
        "sorted_set",
        "2.2.0",
        "Returns members of a sorted set within a score range, highest first.",
        zsets::zrevrangebyscore,
    ),
    engine(
        "zrangebylex",
        -4,
        R,
        KEY1,
        "sorted_set",
        "2.8.9",
        "Returns members of a sorted set within a lexicographic range.",
        zsets::zrangebylex,
    ),
    engine(
        "zrevrangebylex",
        -4,
        R,
        KEY1,
        "sorted_set",
        "2.8.9",
        "Returns members of a sorted set within a lexicographic range, last first.",
        zsets::zrevrangebylex,
    ),
    engine(
        "zremrangebyrank",
        4,
        W,
        KEY1,
        "sorted_set",
        "2.0.0",
        "Removes the members of a sorted set within a range of positions.",
        zsets::zremrangebyrank,
    ),
    engine(
        "zremrangebyscore",
        4,
        W,
        KEY1,
        "sorted_set",
        "1.2.0",
        "Removes the members of a sorted set within a score range.",
        zsets::zremrangebyscore,
    ),
    engine(
        "zremrangebylex",
        4,
        W,
        KEY1,
        "sorted_set",
        "2.8.9",
        "Removes the members of a sorted set within a lexicographic range.",
        zsets::zremrangebylex,
    ),
    engine(
        "zpopmin",
        -2,
        WF,
        KEY1,
        "sorted_set",
        "5.0.0",
        "Removes and returns the members with the lowest scores.",
        zsets::zpopmin,
    ),
    engine(
        "zpopmax",
        -2,
        WF,
        KEY1,
        "sorted_set",
        "5.0.0",
        "Removes and returns the members with the highest scores.",
        zsets::zpopmax,
    ),
    engine(
        "zmpop",
        -4,
        W.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "7.0.0",
        "Removes and returns members from the first non-empty sorted set of several.",
        zsets::zmpop,
    ),
    engine(
        "zunion",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "6.2.0",
        "Returns the union of sorted sets (and sets), scores combined.",
        zsets::zunion,
    ),
    engine(
        "zinter",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "6.2.0",
        "Returns the intersection of sorted sets (and sets), scores combined.",
        zsets::zinter,
    ),
    engine(
        "zdiff",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "6.2.0",
        "Returns the members of a sorted set that are in none of the others.",
        zsets::zdiff,
    ),
    engine(
        "zunionstore",
        -4,
        WD.with(Flags::MOVABLE_KEYS),
        KEY1,
        "sorted_set",
        "2.0.0",
        "Stores the union of sorted sets (and sets) in a key.",
        zsets::zunionstore,
    ),
    engine(
        "zinterstore",
        -4,
        WD.with(Flags::MOVABLE_KEYS),
        KEY1,
        "sorted_set",
        "2.0.0",
        "Stores the intersection of sorted sets (and sets) in a key.",
        zsets::zinterstore,
    ),
    engine(
        "zdiffstore",
        -4,
        WD.with(Flags::MOVABLE_KEYS),
        KEY1,
        "sorted_set",
        "6.2.0",
        "Stores the difference of sorted sets (and sets) in a key.",
        zsets::zdiffstore,
    ),
    engine(
        "zintercard",
        -3,
        R.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "7.0.0",
        "Counts the members common to sorted sets (and sets), up to a limit.",
        zsets::zintercard,
    ),
    engine(
        "zrandmember",
        -2,
        R,
        KEY1,
        "sorted_set",
        "6.2.0",
        "Returns random members of a sorted set.",
        zsets::zrandmember,
    ),
    engine(
        "zscan",
        -3,
        R,
        KEY1,
        "sorted_set",
        "2.8.0",
        "Iterates over the members and scores of a sorted set with a cursor.",
        zsets::zscan,
    ),
    // Keys.
    engine(
        "del",
        -2,
        W,
        ALL_KEYS,
        "generic",
        "1.0.0",
        "Deletes keys.",
        keys::del,
    ),
    engine(
        "unlink",
        -2,
        WF,
        ALL_KEYS,
        "generic",
        "4.0.0",
        "Deletes keys (memory reclaimed at once here too).",
        keys::del,
    ),
    engine(
        "exists",
        -2,
        RF,
        ALL_KEYS,
        "generic",
        "1.0.0",
        "Counts how many of the keys exist.",
        keys::exists,
    ),
    engine(
        "touch",
        -2,
        RF,
        ALL_KEYS,
        "generic",
        "3.2.1",
        "Updates the last access time of keys; counts those that exist.",
        keys::exists,
    ),
    engine(
        "type",
        2,
        RF,
        KEY1,
        "generic",
        "1.0.0",
        "Returns the type of a key's value.",
        keys::type_,
    ),
    engine(
        "rename",
        3,
        W,
        KEY12,
        "generic",
        "1.0.0",
        "Renames a key, replacing the destination.",
        keys::rename,
    ),
    engine(
        "renamenx",
        3,
        WF,
        KEY12,
        "generic",
        "1.0.0",
        "Renames a key if the new name is free.",
        keys::renamenx,
    ),
    engine(
        "copy",
        -3,
        WD,
        KEY12,
        "generic",
        "6.2.0",
        "Copies a key's value to another key.",
        keys::copy,
    ),
    engine(
        "move",
        3,
        WF,
        KEY1,
        "generic",
        "1.0.0",
        "Moves a key to another database.",
        keys::move_,
    ),
    engine(
        "keys",
        2,
        R,
        NO_KEYS,
        "generic",
        "1.0.0",
        "Returns every key matching a pattern.",
        keys::keys,
    ),
    engine(
        "scan",
        -2,
        R,
        NO_KEYS,
        "generic",
        "2.8.0",
        "Iterates over keys with a cursor.",
        keys::scan,
    ),
    engine(
        "randomkey",
        1,
        R,
        NO_KEYS,
        "generic",
        "1.0.0",
        "Returns a random key.",
        keys::randomkey,
    ),
    engine(
        "object",
        -2,
        R,
        (2, 2, 1),
        "generic",
        "2.2.3",
        "Inspects a key's internal encoding, idle time and more.",
        keys::object,
    ),
    engine(
        "expire",
        -3,
        WF,
        KEY1,
        "generic",
        "1.0.0",
        "Sets a key's time to live in seconds.",
        keys::expire,
    ),
    engine(
        "pexpire",
        -3,
        WF,
        KEY1,
        "generic",
        "2.6.0",
        "Sets a key's time to live in milliseconds.",
        keys::pexpire,
    ),
    engine(
        "expireat",
        -3,
        WF,
        KEY1,
        "generic",
        "1.2.0",
        "Sets a key's expiry as a Unix time in seconds.",
        keys::expireat,
    ),
    engine(
        "pexpireat",
        -3,
        WF,
        KEY1,
        "generic",
        "2.6.0",
        "Sets a key's expiry as a Unix time in milliseconds.",
        keys::pexpireat,
    ),
    engine(
        "ttl",
        2,
        RF,
        KEY1,
        "generic",
        "1.0.0",
        "Returns a key's time to live in seconds.",
        keys::ttl,
    ),
    engine(
        "pttl",
        2,
        RF,
        KEY1,
        "generic",
        "2.6.0",
        "Returns a key's time to live in milliseconds.",
        keys::pttl,
    ),
    engine(
        "expiretime",
        2,
        RF,
        KEY1,
        "generic",
        "7.0.0",
        "Returns a key's expiry as a Unix time in seconds.",
        keys::expiretime,
    ),
    engine(
        "pexpiretime",
        2,
        RF,
        KEY1,
        "generic",
        "7.0.0",
        "Returns a key's expiry as a Unix time in milliseconds.",
        keys::pexpiretime,
    ),
    engine(
        "persist",
        2,
        WF,
        KEY1,
        "generic",
        "2.2.0",
        "Removes a key's expiry.",
        keys::persist,
    ),
    engine(
        "dump",
        2,
        R,
        KEY1,
        "generic",
        "2.6.0",
        "Serialises a key's value (Redraft's own versioned, checksummed format).",
        keys::dump,
    ),
    engine(
        "restore",
        -4,
        WD,
        KEY1,
        "generic",
        "2.6.0",
        "Creates a key from a DUMP payload.",
        keys::restore,
    ),
    engine(
        "dbsize",
        1,
        RF,
        NO_KEYS,
        "server",
        "1.0.0",
        "Returns the number of keys in the database.",
        keys::dbsize,
    ),
    engine(
        "flushdb",
        -1,
        W,
        NO_KEYS,
        "server",
        "1.0.0",
        "Deletes every key of the database.",
        keys::flushdb,
    ),
    engine(
        "flushall",
        -1,
        W,
        NO_KEYS,
        "server",
        "1.0.0",
        "Deletes every key of every database.",
        keys::flushall,
    ),
    engine(
        "swapdb",
        3,
        WF,
        NO_KEYS,
        "server",
        "4.0.0",
        "Swaps two databases.",
        keys::swapdb,
    ),
    // Connections and the server.
    server(
        "ping",
        -1,
        Flags::FAST.with(Flags::STALE),
        "connection",
        "1.0.0",
        "Returns PONG, or the argument.",
        ServerCommand::Ping,
    ),
    server(
        "echo",
        2,
        Flags::FAST.with(Flags::LOADING).with(Flags::STALE),
        "connection",
        "1.0.0",
        "Returns the argument.",
        ServerCommand::Echo,
    ),
    server(
        "hello",
        -1,
        CONN.with(Flags::NO_AUTH),
        "connection",
        "6.0.0",
        "Handshakes: protocol version, name, and server facts.",
        ServerCommand::Hello,
    ),
    server(
        "auth",
        -2,
        CONN.with(Flags::NO_AUTH),
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        ServerCommand::Auth,
    ),
    server(
        "select",
        2,
        CONN,
        "connection",
        "1.0.0",
        "Changes the selected database.",
        ServerCommand::Select,
    ),
    server(
        "quit",
        -1,
        Flags::NOSCRIPT
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::NO_AUTH),
        "connection",
        "1.0.0",
        "Closes the connection.",
        ServerCommand::Quit,
    ),
    server(
        "readonly",
        1,
        CONN,
        "cluster",
        "3.0.0",
        "Lets this connection read from a follower (stale reads allowed).",
        ServerCommand::Readonly,
    ),
    server(
        "readwrite",
        1,
        CONN,
        "cluster",
        "3.0.0",
        "Ends READONLY: reads go to the leader again.",
        ServerCommand::Readwrite,
    ),
    server(
        "reset",
        1,
        CONN.with(Flags::NO_AUTH),
        "connection",
        "6.2.0",
        "Resets the connection's state.",
        ServerCommand::Reset,
    ),
    server(
        "client",
        -2,
        CONN,
        "connection",
        "2.4.0",
        "Inspects and controls client connections.",
        ServerCommand::Client,
    ),
    server(
        "info",
        -1,
        Flags::LOADING.with(Flags::STALE),
        "server",
        "1.0.0",
        "Returns information and statistics about the server.",
        ServerCommand::Info,
    ),
    server(
        "config",
        -2,
        Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE),
        "server",
        "2.0.0",
        "Reads and changes settings.",
        ServerCommand::Config,
    ),
    server(
        "command",
        -1,
        Flags::LOADING.with(Flags::STALE),
        "server",
        "2.8.13",
        "Describes the commands.",
        ServerCommand::Command,
    ),
    server(
        "time",
        1,
        Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        "server",
        "2.6.0",
        "Returns the server time.",
        ServerCommand::Time,
    ),
    server(
        "lastsave",
        1,
        Flags::LOADING.with(Flags::STALE).with(Flags::FAST),
        "server",
        "1.0.0",
        "Returns the Unix time of the last save.",
        ServerCommand::Lastsave,
    ),
    server(
        "redraft",
        -2,
        Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE),
        "server",
        "7.2.0",
        "Replication: the Raft group's status, bootstrap, membership and leadership.",
        ServerCommand::Redraft,
    ),
    server(
        "cluster",
        -2,
        Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE),
        "cluster",
        "3.0.0",
        "Redis Cluster's view of the group: its slots, nodes and state.",
        ServerCommand::Cluster,
    ),
    server(
        "debug",
        -2,
        Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE),
        "server",
        "1.0.0",
        "Debugging helpers.",
        ServerCommand::Debug,
    ),
    server(
        "shutdown",
        -1,
        Flags::ADMIN
            .with(Flags::NOSCRIPT)
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::NO_MULTI),
        "server",
        "1.0.0",
        "Stops the server.",
        ServerCommand::Shutdown,
    ),
    engine(
        "sort",
        -2,
        WD.with(Flags::MOVABLE_KEYS),
        KEY1,
        "generic",
        "1.0.0",
        "Sorts the elements of a list, set or sorted set.",
        sort::sort,
    ),
    engine(
        "sort_ro",
        -2,
        R.with(Flags::MOVABLE_KEYS),
        KEY1,
        "generic",
        "7.0.0",
        "Sorts the elements of a list, set or sorted set (read-only).",
        sort::sort_ro,
    ),
    // Blocking lists: the server parks the client when the engine says so.
    engine(
        "blpop",
        -3,
        WB,
        (1, -2, 1),
        "list",
        "2.0.0",
        "Pops the first element of the first non-empty list, waiting for one.",
        blocking::blpop,
    ),
    engine(
        "brpop",
        -3,
        WB,
        (1, -2, 1),
        "list",
        "2.0.0",
        "Pops the last element of the first non-empty list, waiting for one.",
        blocking::brpop,
    ),
    engine(
        "brpoplpush",
        4,
        WB.with(Flags::DENYOOM),
        KEY12,
        "list",
        "2.2.0",
        "Moves the last element of a list to the head of another, waiting for one.",
        blocking::brpoplpush,
    ),
    engine(
        "blmove",
        6,
        WB.with(Flags::DENYOOM),
        KEY12,
        "list",
        "6.2.0",
        "Moves an element between lists, waiting for one.",
        blocking::blmove,
    ),
    engine(
        "blmpop",
        -5,
        WB.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "list",
        "7.0.0",
        "Pops elements from the first non-empty list, waiting for one.",
        blocking::blmpop,
    ),
    engine(
        "bzpopmin",
        -3,
        WB.with(Flags::FAST),
        (1, -2, 1),
        "sorted_set",
        "5.0.0",
        "Pops the lowest-scored member of the first non-empty sorted set, waiting for one.",
        blocking::bzpopmin,
    ),
    engine(
        "bzpopmax",
        -3,
        WB.with(Flags::FAST),
        (1, -2, 1),
        "sorted_set",
        "5.0.0",
        "Pops the highest-scored member of the first non-empty sorted set, waiting for one.",
        blocking::bzpopmax,
    ),
    engine(
        "bzmpop",
        -5,
        WB.with(Flags::MOVABLE_KEYS),
        NO_KEYS,
        "sorted_set",
        "7.0.0",
        "Pops members from the first non-empty sorted set, waiting for one.",
        blocking::bzmpop,
    ),
    // Scripting. A script goes through the log (may_replicate) unless it is read-only.
    engine(
        "eval",
        -3,
        SCRIPT_FLAGS.with(Flags::MAY_REPLICATE),
        NO_KEYS,
        "scripting",
        "2.6.0",
        "Executes a server-side Lua script.",
        scripting::eval,
    ),
    engine(
        "evalsha",
        -3,
        SCRIPT_FLAGS.with(Flags::MAY_REPLICATE),
        NO_KEYS,
        "scripting",
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
        scripting::evalsha,
    ),
    engine(
        "eval_ro",
        -3,
        SCRIPT_FLAGS.with(Flags::READONLY),
        NO_KEYS,
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script.",
        scripting::eval_ro,
    ),
    engine(
        "evalsha_ro",
        -3,
        SCRIPT_FLAGS.with(Flags::READONLY),
        NO_KEYS,
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        scripting::evalsha_ro,
    ),
    engine(
        "script",
        -2,
        Flags::NOSCRIPT.with(Flags::MAY_REPLICATE),
        NO_KEYS,
        "scripting",
        "2.6.0",
        "A container for Lua scripts management commands.",
        scripting::script,
    ),
    engine(
        "fcall",
        -3,
        SCRIPT_FLAGS.with(Flags::MAY_REPLICATE),
        NO_KEYS,
        "scripting",
        "7.0.0",
        "Invokes a function.",
        functions::fcall,
    ),
    engine(
        "fcall_ro",
        -3,
        SCRIPT_FLAGS.with(Flags::READONLY),
        NO_KEYS,
        "scripting",
        "7.0.0",
        "Invokes a read-only function.",
        functions::fcall_ro,
    ),
    engine(
        "function",
        -2,
        Flags::NOSCRIPT.with(Flags::MAY_REPLICATE),
        NO_KEYS,
        "scripting",
        "7.0.0",
        "A container for function commands.",
        functions::function,
    ),
    // Transactions: queued and executed by the server, each command through this table.
    server(
        "multi",
        1,
        CONN.with(Flags::ALLOW_BUSY),
        "transactions",
        "1.2.0",
        "Starts a transaction.",
        ServerCommand::Multi,
    ),
    server(
        "exec",
        1,
        Flags::NOSCRIPT
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::SKIP_SLOWLOG),
        "transactions",
        "1.2.0",
        "Executes the queued commands atomically.",
        ServerCommand::Exec,
    ),
    server(
        "discard",
        1,
        CONN.with(Flags::ALLOW_BUSY),
        "transactions",
        "2.0.0",
        "Discards the queued commands.",
        ServerCommand::Discard,
    ),
    engine_keys_server(
        "watch",
        -2,
        CONN.with(Flags::ALLOW_BUSY),
        ALL_KEYS,
        "transactions",
        "2.2.0",
        "Makes the next EXEC conditional on keys not changing.",
        ServerCommand::Watch,
    ),
    server(
        "unwatch",
        1,
        CONN.with(Flags::ALLOW_BUSY),
        "transactions",
        "2.2.0",
        "Forgets the watched keys.",
        ServerCommand::Unwatch,
    ),
    // Pub/sub.
    server(
        "subscribe",
        -2,
        Flags::PUBSUB.with(CONN),
        "pubsub",
        "2.0.0",
        "Listens for messages on channels.",
        ServerCommand::Subscribe,
    ),
    server(
        "unsubscribe",
        -1,
        Flags::PUBSUB.with(CONN),
        "pubsub",
        "2.0.0",
        "Stops listening on channels.",
        ServerCommand::Unsubscribe,
    ),
    server(
        "psubscribe",
        -2,
        Flags::PUBSUB.with(CONN),
        "pubsub",
        "2.0.0",
        "Listens for messages on channels matching patterns.",
        ServerCommand::Psubscribe,
    ),
    server(
        "punsubscribe",
        -1,
        Flags::PUBSUB.with(CONN),
        "pubsub",
        "2.0.0",
        "Stops listening on patterns.",
        ServerCommand::Punsubscribe,
    ),
    engine_keys_server(
        "ssubscribe",
        -2,
        Flags::PUBSUB.with(CONN),
        ALL_KEYS,
        "pubsub",
        "7.0.0",
        "Listens for messages on shard channels.",
        ServerCommand::Ssubscribe,
    ),
    engine_keys_server(
        "sunsubscribe",
        -1,
        Flags::PUBSUB.with(CONN),
        ALL_KEYS,
        "pubsub",
        "7.0.0",
        "Stops listening on shard channels.",
        ServerCommand::Sunsubscribe,
    ),
    server(
        "publish",
        3,
        Flags::PUBSUB
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::FAST),
        "pubsub",
        "2.0.0",
        "Posts a message to a channel.",
        ServerCommand::Publish,
    ),
    engine_keys_server(
        "spublish",
        3,
        Flags::PUBSUB
            .with(Flags::LOADING)
            .with(Flags::STALE)
            .with(Flags::FAST),
        KEY1,
        "pubsub",
        "7.0.0",
        "Posts a message to a shard channel.",
        ServerCommand::Spublish,
    ),
    server(
        "pubsub",
        -2,
        Flags::PUBSUB.with(Flags::LOADING).with(Flags::STALE),
        "pubsub",
        "2.8.0",
        "Inspects the pub/sub state.",
        ServerCommand::Pubsub,
    ),
];

/// Finds a command by name, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    // foldhash, not std's SipHash: this runs for every command, and the names are ours.
    type Index = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::FixedState>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|c| (c.name.as_bytes(), c)).collect());
    let mut lower = [0u8; 32];
    let name_lower = lower.get_mut(..name.len())?;
    name_lower.copy_from_slice(name);
    name_lower.make_ascii_lowercase();
    index.get(&*name_lower).copied()
}

/// [`lookup`] that remembers the last command it found: a pipeline, and a log entry's batch,
/// mostly repeat one command, and comparing its name costs less than hashing it again.
#[derive(Default)]
pub struct LookupCache {
    last: Option<&'static CommandSpec>,
}

impl LookupCache {
    pub fn get(&mut self, name: &[u8]) -> Option<&'static CommandSpec> {
        if let Some(spec) = self.last
            && spec.name.as_bytes().eq_ignore_ascii_case(name)
        {
            return Some(spec);
        }
        let spec = lookup(name)?;
        self.last = Some(spec);
        Some(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_lower_case() {
        let mut names: Vec<_> = TABLE.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| !b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn lookup_ignores_case_and_rejects_unknown_names() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert!(lookup(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn the_lookup_cache_answers_as_lookup_does() {
        let mut cache = LookupCache::default();
        for name in [
            &b"SET"[..],
            b"set",
            b"SeT",
            b"get",
            b"GET",
            b"setex",
            b"se",
            b"nosuch",
            b"set",
            b"",
        ] {
            assert_eq!(
                cache.get(name).map(|c| c.name),
                lookup(name).map(|c| c.name),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn key_positions_follow_the_spec() {
        assert_eq!(lookup(b"mset").unwrap().key_positions(5), vec![1, 3]);
        assert_eq!(lookup(b"del").unwrap().key_positions(4), vec![1, 2, 3]);
        assert_eq!(lookup(b"bitop").unwrap().key_positions(5), vec![2, 3, 4]);
        assert!(lookup(b"ping").unwrap().key_positions(1).is_empty());
    }

    #[test]
    fn movable_keys_are_found_in_the_arguments() {
        fn keys(line: &str) -> Option<Vec<String>> {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let spec = lookup(args[0]).expect("a command");
            assert!(spec.flags.names().any(|n| n == "movablekeys"), "{line}");
            let positions = spec.keys_in(&args)?;
            Some(
                positions
                    .iter()
                    .map(|&i| String::from_utf8_lossy(args[i]).into())
                    .collect(),
            )
        }
        fn some(v: &[&str]) -> Option<Vec<String>> {
            Some(v.iter().map(|s| s.to_string()).collect())
        }
        assert_eq!(
            keys("zunionstore d 2 a b weights 1 2"),
            some(&["d", "a", "b"])
        );
        assert_eq!(keys("zinterstore d 1 a"), some(&["d", "a"]));
        assert_eq!(keys("zdiffstore d 2 a b"), some(&["d", "a", "b"]));
        assert_eq!(keys("zunion 2 a b withscores"), some(&["a", "b"]));
        assert_eq!(keys("zintercard 2 a b limit 3"), some(&["a", "b"]));
        assert_eq!(keys("sintercard 3 a b c"), some(&["a", "b", "c"]));
        assert_eq!(keys("lmpop 2 a b left count 2"), some(&["a", "b"]));
        assert_eq!(keys("blmpop 0.5 2 a b left"), some(&["a", "b"]));
        assert_eq!(keys("zmpop 1 a min"), some(&["a"]));
        assert_eq!(keys("bzmpop 0 1 a max"), some(&["a"]));
        assert_eq!(
            keys("sort k by w_* limit 0 5 get # store dst"),
            some(&["k", "dst"])
        );
        assert_eq!(keys("sort k alpha desc"), some(&["k"]));
        assert_eq!(keys("sort_ro k by w_* get #"), some(&["k"]));
        // A count the arguments cannot hold, or none at all.
        assert_eq!(keys("zunion 3 a b"), None);
        assert_eq!(keys("lmpop 0 a left"), None);
        assert_eq!(keys("zinterstore d x a"), None);
        assert!(
            !lookup(b"get")
                .unwrap()
                .flags
                .names()
                .any(|n| n == "movablekeys")
        );
    }
}
