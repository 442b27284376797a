//! The command table: one entry per command, the data that drives parsing (arity), dispatch
//! (handler), routing (key positions) and the COMMAND command.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::cmd::{bitmaps, keys, lcs, strings};
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

    const NAMES: [(Flags, &'static str); 14] = [
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

    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// Positions of the keys in `args` (the command name is position 0).
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
    type Index = HashMap<&'static str, &'static CommandSpec, foldhash::fast::FixedState>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|c| (c.name, c)).collect());
    let mut lower = [0u8; 32];
    let name_lower = lower.get_mut(..name.len())?;
    name_lower.copy_from_slice(name);
    name_lower.make_ascii_lowercase();
    index.get(std::str::from_utf8(name_lower).ok()?).copied()
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
    }

    #[test]
    fn key_positions_follow_the_spec() {
        assert_eq!(lookup(b"mset").unwrap().key_positions(5), vec![1, 3]);
        assert_eq!(lookup(b"del").unwrap().key_positions(4), vec![1, 2, 3]);
        assert_eq!(lookup(b"bitop").unwrap().key_positions(5), vec![2, 3, 4]);
        assert!(lookup(b"ping").unwrap().key_positions(1).is_empty());
    }
}
