//! Sets.
//!
//! SADD key member... · SREM key member... · SMEMBERS key · SISMEMBER key member ·
//! SMISMEMBER key member... · SCARD key · SPOP key [count] · SRANDMEMBER key [count] ·
//! SMOVE source destination member · SINTER key... · SINTERCARD numkeys key... [LIMIT limit] ·
//! SUNION key... · SDIFF key... · SINTERSTORE destination key... · SUNIONSTORE destination key... ·
//! SDIFFSTORE destination key... · SSCAN key cursor [MATCH pattern] [COUNT count]
//!
//! Also the pieces HSCAN and HRANDFIELD share with SSCAN and SRANDMEMBER: cursor and option
//! parsing, the count of a random pick, and the limit on a reply that repeats elements.
//!
//! Random picks (SPOP, SRANDMEMBER) come from `ex.seed` only, so a command gives the same reply
//! and leaves the same set on every replica that applies it to the same history.

use std::collections::HashSet;

use crate::db::Db;
use crate::error::Error;
use crate::exec::{Exec, Rng, arg_i64, arg_scan_cursor, eq};
use crate::glob::glob_match;
use crate::notify;
use crate::types::{Set, collection_hasher};
use crate::value::{Entry, EntryRef, Value, ValueMut, ValueRef};
use resp::ReplyWriter;

/// The largest reply SRANDMEMBER and HRANDFIELD build for a negative count, which repeats
/// elements, so its size is not bounded by the collection's. Redis has no such limit: it writes
/// as many elements as asked into the client's output buffer (a count of -2^62 exhausts its
/// memory). 512 MiB is the size of the largest string value; the smallest element reply
/// (`$0\r\n\r\n`, 6 bytes) puts the largest count that can fit near 89 million.
pub(crate) const RANDOM_REPLY_BYTES_MAX: usize = 512 << 20;

pub(crate) fn reply_too_large() -> Error {
    Error::msg(format!(
        "ERR Insufficient memory, the reply would exceed {RANDOM_REPLY_BYTES_MAX} bytes (a negative count repeats elements)"
    ))
}

/// The count argument of SRANDMEMBER and HRANDFIELD: an integer in ±(2^63 - 1).
pub(crate) fn arg_random_count(arg: &[u8]) -> Result<i64, Error> {
    match arg_i64(arg)? {
        i64::MIN => Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        n => Ok(n),
    }
}

/// The options of HSCAN and SSCAN.
pub(crate) struct ScanOptions<'a> {
    pub count: usize,
    /// None for no pattern (or `*`, which matches everything).
    pub pattern: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, element))
    }
}

pub(crate) fn parse_scan_options<'a>(args: &[&'a [u8]]) -> Result<ScanOptions<'a>, Error> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
    };
    for pair in args.chunks(2) {
        let [name, value] = pair else {
            return Err(Error::Syntax);
        };
        if eq(name, "count") {
            let n = arg_i64(value)?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if eq(name, "match") {
            o.pattern = Some(*value).filter(|p| *p != b"*");
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(o)
}

/// Writes a SCAN reply: the next cursor, then the elements found.
pub(crate) fn reply_scan(out: &mut ReplyWriter, cursor: u64, found: &[&[u8]]) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    out.array(found.len());
    for element in found {
        out.bulk(element);
    }
}

/// The live set under `key`: None if there is none, WRONGTYPE if another type is there.
fn set_ref<'a>(db: &'a Db, key: &[u8], now_ms: u64) -> Result<Option<&'a Set>, Error> {
    match db.get(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The set under `key` as a write sees it, once `live_set` or `get_live` has deleted an expired
/// key: a write's lookup counts no keyspace hit or miss (Redis's do not either).
fn set_for_write<'a>(db: &'a Db, key: &[u8]) -> Result<Option<&'a Set>, Error> {
    match db.peek(key).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::Set(s)) => Ok(Some(s)),
        Some(_) => Err(Error::WrongType),
    }
}

/// For a write: deletes `key` if it has expired, then checks its type. True if a set is there.
fn live_set(ex: &mut Exec, key: &[u8]) -> Result<bool, Error> {
    let now = ex.now_ms;
    match ex.db_mut().get_live(key, now).map(|e| e.value) {
        None => Ok(false),
        Some(ValueRef::Set(_)) => Ok(true),
        Some(_) => Err(Error::WrongType),
    }
}

/// The set under a key `live_set` found, to change in place. Only called when the set is
/// about to change: it counts as a write (WATCH, OBJECT IDLETIME).
fn set_mut<'a>(ex: &'a mut Exec, key: &[u8]) -> &'a mut Set {
    let now = ex.now_ms;
    match ex.db_mut().value_mut(key, now) {
        Some(ValueMut::Set(s)) => s,
        _ => unreachable!("live_set found a set under the key"),
    }
}

/// Stores a new set under `key`, replacing whatever was there (and its TTL).
fn store(ex: &mut Exec, key: &[u8], set: Set) {
    let now = ex.now_ms;
    ex.db_mut()
        .insert(key, Entry::new(Value::Set(Box::new(set)), 0, now));
}

pub(crate) fn sadd(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, members) = (args[1], &args[2..]);
    let now = ex.now_ms;
    // Whether the set is there, and whether anything is new to it, in one lookup: a set that
    // gains nothing is not written (WATCH keeps it).
    let new_member = match ex.db_mut().get_live(key, now).map(|e| e.value) {
        None => None,
        Some(ValueRef::Set(set)) => Some(members.iter().any(|m| !set.contains(m))),
        Some(_) => return Err(Error::WrongType),
    };
    let added = match new_member {
        None => {
            let mut set = Set::new();
            let added = members.iter().filter(|m| set.insert(m)).count();
            store(ex, key, set);
            added
        }
        Some(true) => {
            let set = set_mut(ex, key);
            members.iter().filter(|m| set.insert(m)).count()
        }
        Some(false) => 0,
    };
    if added > 0 {
        ex.notify(notify::SET, "sadd", key);
    }
    ex.out.int(added as i64);
    Ok(())
}

pub(crate) fn srem(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, members) = (args[1], &args[2..]);
    if !live_set(ex, key)? {
        ex.out.int(0);
        return Ok(());
    }
    let set = set_for_write(ex.db(), key)?.expect("live_set found it");
    let mut removed = 0;
    if members.iter().any(|m| set.contains(m)) {
        let set = set_mut(ex, key);
        removed = members.iter().filter(|m| set.remove(m)).count();
        let emptied = set.is_empty();
        ex.notify(notify::SET, "srem", key);
        if emptied {
            ex.db_mut().delete(key);
            ex.notify(notify::GENERIC, "del", key);
        }
    }
    ex.out.int(removed as i64);
    Ok(())
}

pub(crate) fn smembers(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    match set_ref(db, args[1], now)? {
        Some(set) => {
            ex.out.set(set.len());
            set.iter().for_each(|m| ex.out.bulk(m));
        }
        None => ex.out.set(0),
    }
    Ok(())
}

pub(crate) fn sismember(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let set = set_ref(ex.db(), args[1], ex.now_ms)?;
    let found = set.is_some_and(|s| s.contains(args[2]));
    ex.out.int(i64::from(found));
    Ok(())
}

pub(crate) fn smismember(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let set = set_ref(db, args[1], now)?;
    let members = &args[2..];
    ex.out.array(members.len());
    for member in members {
        ex.out
            .int(i64::from(set.is_some_and(|s| s.contains(member))));
    }
    Ok(())
}

pub(crate) fn scard(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let len = set_ref(ex.db(), args[1], ex.now_ms)?.map_or(0, Set::len);
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn spop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let count = match args.len() {
        2 => None,
        3 => {
            let positive = || Error::msg("ERR value is out of range, must be positive");
            let n = arg_i64(args[2]).map_err(|_| positive())?;
            Some(usize::try_from(n).map_err(|_| positive())?)
        }
        _ => return Err(Error::Syntax),
    };
    let key = args[1];
    if !live_set(ex, key)? {
        match count {
            Some(_) => ex.out.set(0),
            None => ex.out.null(),
        }
        return Ok(());
    }
    let Some(count) = count else {
        let mut rng = Rng::new(ex.seed);
        let set = set_mut(ex, key);
        let slot = set
            .random_slot(&mut rng)
            .expect("a stored set is never empty");
        let member = set.take_slot(slot);
        let emptied = set.is_empty();
        ex.notify(notify::SET, "spop", key);
        if emptied {
            ex.db_mut().delete(key);
            ex.notify(notify::GENERIC, "del", key);
        }
        ex.out.bulk(&member);
        return Ok(());
    };
    if count == 0 {
        ex.out.set(0);
        return Ok(());
    }
    let len = set_for_write(ex.db(), key)?.map_or(0, Set::len);
    if count >= len {
        let Some(Entry {
            value: Value::Set(set),
            ..
        }) = ex.db_mut().remove(key)
        else {
            unreachable!("live_set found a set under the key");
        };
        ex.notify(notify::SET, "spop", key);
        ex.notify(notify::GENERIC, "del", key);
        ex.out.set(set.len());
        set.iter().for_each(|m| ex.out.bulk(m));
        return Ok(());
    }
    let mut rng = Rng::new(ex.seed);
    let set = set_mut(ex, key);
    let popped: Vec<_> = (0..count)
        .map(|_| {
            let slot = set
                .random_slot(&mut rng)
                .expect("fewer popped than there are");
            set.take_slot(slot)
        })
        .collect();
    ex.notify(notify::SET, "spop", key);
    ex.out.set(popped.len());
    popped.iter().for_each(|m| ex.out.bulk(m));
    Ok(())
}

pub(crate) fn srandmember(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let count = match args.len() {
        2 => None,
        3 => Some(arg_random_count(args[2])?),
        _ => return Err(Error::Syntax),
    };
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let set = set_ref(db, args[1], now)?;
    let mut rng = Rng::new(ex.seed);
    let Some(count) = count else {
        match set.and_then(|s| s.random_slot(&mut rng).map(|i| s.slot(i))) {
            Some(member) => ex.out.bulk(member),
            None => ex.out.null(),
        }
        return Ok(());
    };
    let Some(set) = set.filter(|_| count != 0) else {
        ex.out.array(0);
        return Ok(());
    };
    if count > 0 {
        let slots = set.random_distinct_slots(count as usize, &mut rng);
        ex.out.array(slots.len());
        slots.iter().for_each(|&i| ex.out.bulk(set.slot(i)));
        return Ok(());
    }
    // A negative count picks with repetition: the reply grows with the count, not the set.
    let picks = count.unsigned_abs();
    // A packed set is indexed once, not walked for every pick.
    let packed = set.packed_members();
    write_repeated_picks(
        ex.out,
        picks,
        picks,
        RANDOM_REPLY_BYTES_MAX,
        |out| match &packed {
            Some(all) => out.bulk(all[(rng.next() % all.len() as u64) as usize]),
            None => {
                let slot = set
                    .random_slot(&mut rng)
                    .expect("a stored set is never empty");
                out.bulk(set.slot(slot));
            }
        },
    )
}

/// Writes the reply of a negative count: an array of `elements` (the header's count), written
/// by `picks` calls of `write_pick`. Refused if it could not fit in `bytes_max` (an element
/// takes at least 6 bytes, an empty bulk string), or as soon as it outgrows it.
pub(crate) fn write_repeated_picks(
    out: &mut ReplyWriter,
    picks: u64,
    elements: u64,
    bytes_max: usize,
    mut write_pick: impl FnMut(&mut ReplyWriter),
) -> Result<(), Error> {
    const ELEMENT_BYTES_MIN: u64 = 6;
    if elements > bytes_max as u64 / ELEMENT_BYTES_MIN {
        return Err(reply_too_large());
    }
    let start = out.len();
    out.array(elements as usize);
    for _ in 0..picks {
        write_pick(out);
        if out.len() - start > bytes_max {
            return Err(reply_too_large());
        }
    }
    Ok(())
}

pub(crate) fn smove(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (source, target, member) = (args[1], args[2], args[3]);
    let now = ex.now_ms;
    // Redis looks both keys up (deleting them if expired) before it checks either.
    fn is_set(entry: Option<EntryRef>) -> Option<bool> {
        entry.map(|e| matches!(e.value, ValueRef::Set(_)))
    }
    let source_is_set = is_set(ex.db_mut().get_live(source, now));
    let target_is_set = is_set(ex.db_mut().get_live(target, now));
    match source_is_set {
        None => {
            ex.out.int(0);
            return Ok(());
        }
        Some(false) => return Err(Error::WrongType),
        Some(true) => {}
    }
    if target_is_set == Some(false) {
        return Err(Error::WrongType);
    }
    let present = set_for_write(ex.db(), source)?.is_some_and(|s| s.contains(member));
    if !present || source == target {
        ex.out.int(i64::from(present));
        return Ok(());
    }
    let set = set_mut(ex, source);
    set.remove(member);
    let emptied = set.is_empty();
    ex.notify(notify::SET, "srem", source);
    if emptied {
        ex.db_mut().delete(source);
        ex.notify(notify::GENERIC, "del", source);
    }
    let added = if target_is_set.is_some() {
        let set = set_for_write(ex.db(), target)?.expect("checked above");
        !set.contains(member) && set_mut(ex, target).insert(member)
    } else {
        let mut set = Set::new();
        set.insert(member);
        store(ex, target, set);
        true
    };
    if added {
        ex.notify(notify::SET, "sadd", target);
    }
    ex.out.int(1);
    Ok(())
}

/// The sets under `keys` (None for a missing key), after checking that every key holds a set.
fn sets_of<'a>(db: &'a Db, keys: &[&[u8]], now_ms: u64) -> Result<Vec<Option<&'a Set>>, Error> {
    keys.iter().map(|k| set_ref(db, k, now_ms)).collect()
}

/// The members of every set (none if a set is missing), up to `limit` of them (0: no limit).
fn intersection<'a>(sets: &[Option<&'a Set>], limit: usize) -> Vec<&'a [u8]> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    // Walk the smallest set, probing the others from the next smallest up.
    sets.sort_by_key(|s| s.len());
    let (smallest, others) = sets.split_first().expect("at least one key");
    let common = smallest
        .iter()
        .filter(|m| others.iter().all(|s| s.contains(m)));
    if limit == 0 {
        common.collect()
    } else {
        common.take(limit).collect()
    }
}

/// Every member of any set, each once, in the order first met.
fn union<'a>(sets: &[Option<&'a Set>]) -> Vec<&'a [u8]> {
    let mut seen: HashSet<&[u8], _> = HashSet::with_hasher(collection_hasher());
    let mut members = Vec::new();
    for member in sets.iter().flatten().flat_map(|s| s.iter()) {
        if seen.insert(member) {
            members.push(member);
        }
    }
    members
}

/// The members of the first set in none of the others.
fn difference<'a>(sets: &[Option<&'a Set>]) -> Vec<&'a [u8]> {
    let Some(Some(first)) = sets.first() else {
        return Vec::new();
    };
    let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
    first
        .iter()
        .filter(|m| others.iter().all(|s| !s.contains(m)))
        .collect()
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

impl SetOp {
    fn store_event(self) -> &'static str {
        match self {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        }
    }

    fn apply<'a>(self, sets: &[Option<&'a Set>]) -> Vec<&'a [u8]> {
        match self {
            SetOp::Inter => intersection(sets, 0),
            SetOp::Union => union(sets),
            SetOp::Diff => difference(sets),
        }
    }
}

fn set_op(ex: &mut Exec, keys: &[&[u8]], op: SetOp) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let members = op.apply(&sets_of(db, keys, now)?);
    ex.out.set(members.len());
    members.iter().for_each(|m| ex.out.bulk(m));
    Ok(())
}

/// The STORE variants: the result replaces `destination` whatever it held (its TTL too); an
/// empty result deletes it.
fn set_op_store(ex: &mut Exec, args: &[&[u8]], op: SetOp) -> Result<(), Error> {
    let (target, keys, now) = (args[1], &args[2..], ex.now_ms);
    // Expired sources are deleted (a write may), then read as reads are: Redis counts these
    // lookups in keyspace_hits and keyspace_misses.
    for key in keys {
        ex.db_mut().get_live(key, now);
    }
    let sets = sets_of(ex.db(), keys, now)?;
    let mut result = Set::new();
    for member in op.apply(&sets) {
        result.insert(member);
    }
    let len = result.len();
    if len > 0 {
        store(ex, target, result);
        ex.notify(notify::SET, op.store_event(), target);
    } else if ex
        .db_mut()
        .delete(target)
        .is_some_and(|at| at == 0 || at > now)
    {
        ex.notify(notify::GENERIC, "del", target);
    }
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn sinter(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op(ex, &args[1..], SetOp::Inter)
}

pub(crate) fn sunion(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op(ex, &args[1..], SetOp::Union)
}

pub(crate) fn sdiff(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op(ex, &args[1..], SetOp::Diff)
}

pub(crate) fn sinterstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op_store(ex, args, SetOp::Inter)
}

pub(crate) fn sunionstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op_store(ex, args, SetOp::Union)
}

pub(crate) fn sdiffstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    set_op_store(ex, args, SetOp::Diff)
}

pub(crate) fn sintercard(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let numkeys = arg_i64(args[1])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?;
    let rest = &args[2..];
    if numkeys as u64 > rest.len() as u64 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, options) = rest.split_at(numkeys as usize);
    let mut limit = 0;
    for pair in options.chunks(2) {
        match pair {
            [name, value] if eq(name, "limit") => {
                limit = arg_i64(value)
                    .ok()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| Error::msg("ERR LIMIT can't be negative"))?;
            }
            _ => return Err(Error::Syntax),
        }
    }
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let common = intersection(&sets_of(db, keys, now)?, limit);
    ex.out.int(common.len() as i64);
    Ok(())
}

pub(crate) fn sscan(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let cursor = arg_scan_cursor(args[2])?;
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    // Redis looks the key up before it parses the options: a missing key replies an empty scan
    // whatever follows.
    let Some(entry) = db.get(args[1], now) else {
        reply_scan(ex.out, 0, &[]);
        return Ok(());
    };
    let ValueRef::Set(set) = entry.value else {
        return Err(Error::WrongType);
    };
    let o = parse_scan_options(&args[3..])?;
    let mut found = Vec::new();
    // A packed set (an intset or listpack, for Redis) is returned whole, whatever the cursor
    // and COUNT.
    let next = set.scan(cursor, o.count, |m| {
        if o.matches(m) {
            found.push(m)
        }
    });
    reply_scan(ex.out, next, &found);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Keyspace;
    use resp::{Frame, Protocol, ReplyWriter, decode_frame};

    pub(crate) struct Session {
        pub ks: Keyspace,
        pub proto: Protocol,
        pub seed: u64,
        pub now_ms: u64,
    }

    impl Session {
        pub fn new() -> Self {
            Session {
                ks: Keyspace::new(16, 0),
                proto: Protocol::Resp2,
                seed: 1,
                now_ms: 1_000,
            }
        }

        pub fn call_args(&mut self, args: &[&[u8]]) -> Vec<u8> {
            let mut out = ReplyWriter::new(self.proto);
            let mut ex = Exec {
                ks: &mut self.ks,
                db: 0,
                now_ms: self.now_ms,
                seed: self.seed,
                out: &mut out,
            };
            let spec = crate::lookup(args[0]).expect("a known command");
            ex.run(spec, args);
            out.buf
        }

        pub fn call(&mut self, line: &str) -> Vec<u8> {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            self.call_args(&args)
        }

        #[track_caller]
        pub fn check(&mut self, line: &str, want: &[u8]) {
            let got = self.call(line);
            assert_eq!(
                got.escape_ascii().to_string(),
                want.escape_ascii().to_string(),
                "{line}"
            );
        }

        /// Like `check`, with arguments that may hold spaces or be empty.
        #[track_caller]
        pub fn check_args(&mut self, args: &[&str], want: &[u8]) {
            let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let got = self.call_args(&bytes);
            assert_eq!(
                got.escape_ascii().to_string(),
                want.escape_ascii().to_string(),
                "{args:?}"
            );
        }

        /// Like `check`, for a reply whose elements come in no particular order (SMEMBERS,
        /// HGETALL...): the same type and the same elements, in any order.
        #[track_caller]
        pub fn check_unordered(&mut self, line: &str, want: &[u8]) {
            let got = self.call(line);
            assert_eq!(
                sorted(&got),
                sorted(want),
                "{line}: got {}",
                got.escape_ascii()
            );
        }

        /// Like `check` in RESP3.
        #[track_caller]
        pub fn check3(&mut self, line: &str, want: &[u8]) {
            self.proto = Protocol::Resp3;
            self.check(line, want);
            self.proto = Protocol::Resp2;
        }
    }

    /// A reply decoded, with the elements of its outer aggregate sorted.
    fn sorted(reply: &[u8]) -> Frame {
        let (frame, used) = decode_frame(reply).unwrap().expect("a whole reply");
        assert_eq!(used, reply.len(), "one reply");
        let key = |f: &Frame| format!("{f:?}");
        match frame {
            Frame::Array(mut v) => {
                v.sort_by_key(key);
                Frame::Array(v)
            }
            Frame::Set(mut v) => {
                v.sort_by_key(key);
                Frame::Set(v)
            }
            Frame::Map(mut v) => {
                v.sort_by_key(|(k, _)| key(k));
                Frame::Map(v)
            }
            other => other,
        }
    }

    const WRONGTYPE: &[u8] =
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
    const NOT_INTEGER: &[u8] = b"-ERR value is not an integer or out of range\r\n";

    impl Session {
        /// Runs `lines` with every keyspace notification enabled; returns the events, each as
        /// `name key`.
        pub fn events(&mut self, lines: &[&str]) -> Vec<String> {
            self.ks
                .set_notify_classes(crate::notify::parse("KEA").expect("valid classes"));
            self.ks.events.clear();
            for line in lines {
                self.call(line);
            }
            let events = self.ks.events.drain(..);
            events
                .map(|e| format!("{} {}", e.name, String::from_utf8_lossy(&e.key)))
                .collect()
        }
    }

    #[test]
    fn new_and_keymiss_events_are_what_redis_publishes() {
        // redis-server 7.0.15, notify-keyspace-events Enm, the same commands in order.
        let mut s = Session::new();
        s.ks.set_notify_classes(crate::notify::parse("Enm").expect("valid classes"));
        s.ks.events.clear();
        for line in [
            "set a 1",
            "set a 2",
            "get nokey",
            "get a",
            "hset h f v",
            "hset h g v",
            "lpush l x",
            "rpush l y",
            "sadd s m",
            "zadd z 1 m",
            "incr n",
            "mget a b c",
            "rename a a2",
            "hget nohash f",
            "exists zz",
            "copy h h2",
            "setnx q 1",
            "append ap x",
            "sunionstore su s nos",
            "lmove l l2 left right",
            "del a2",
            "type missing",
            "strlen nostr",
            "getdel q",
            "incrbyfloat f 1.5",
        ] {
            s.call(line);
        }
        let got: Vec<String> =
            s.ks.events
                .drain(..)
                .map(|e| format!("{} {}", e.name, String::from_utf8_lossy(&e.key)))
                .collect();
        let want = [
            "new a",
            "keymiss nokey",
            "new h",
            "new l",
            "new s",
            "new z",
            "new n",
            "keymiss b",
            "keymiss c",
            "new a2",
            "keymiss nohash",
            "keymiss zz",
            "new h2",
            "new q",
            "new ap",
            "keymiss nos",
            "new su",
            "new l2",
            "keymiss missing",
            "keymiss nostr",
            "new f",
        ];
        assert_eq!(got, want);
        // A snapshot's keys are loaded, not created: no `new` for them.
        let mut bytes = Vec::new();
        s.ks.write_snapshot(&mut bytes);
        s.ks.read_snapshot(&bytes).expect("a snapshot");
        s.call("get a2");
        let got: Vec<_> = s.ks.events.drain(..).map(|e| e.name).collect();
        assert_eq!(got, ["keymiss"]);
    }

    #[test]
    fn writes_notify_what_redis_notifies() {
        // The events redis-server 7.0.15 publishes for the same commands.
        let mut s = Session::new();
        let events = s.events(&[
            "sadd s a",
            "sadd s a",
            "srem s zz",
            "srem s a",
            "sadd s a b c",
            "spop s",
            "spop s 0",
            "spop s 5",
            "sadd s a b",
            "sadd t z",
            "smove s t a",
            "smove s t zz",
            "smove s t b",
            "smove t t z",
            "sadd s q",
            "smove s u q",
            "sadd s z",
            "smove s t z",
            "sinterstore d t u",
            "sunionstore d t u",
            "sdiffstore d t u",
            "sdiffstore d t t",
            "sdiffstore d t t",
            "sinterstore d t t",
            "set str x",
            "sinterstore str u nokey",
        ]);
        let want = [
            "sadd s",
            "srem s",
            "del s",
            "sadd s",
            "spop s",
            "spop s",
            "del s",
            "sadd s",
            "sadd t",
            "srem s",
            "sadd t",
            "srem s",
            "del s",
            "sadd t",
            "sadd s",
            "srem s",
            "del s",
            "sadd u",
            "sadd s",
            "srem s",
            "del s",
            "sunionstore d",
            "sdiffstore d",
            "del d",
            "sinterstore d",
            "set str",
            "del str",
        ];
        assert_eq!(events, want);
    }

    #[test]
    fn only_reads_count_keyspace_hits_and_misses() {
        // As redis-server 7.0.15 counts them (INFO stats after each command).
        let mut s = Session::new();
        s.check("sadd s a", b":1\r\n");
        for (line, hits, misses) in [
            ("sadd s b", 0, 0),
            ("srem s zz", 0, 0),
            ("spop s 0", 0, 0),
            ("smove s t zz", 0, 0),
            ("srandmember s", 1, 0),
            ("sinterstore d s t", 1, 1),
            ("sinter s nokey", 1, 1),
            ("sintercard 2 s nokey", 1, 1),
            ("smembers nokey", 0, 1),
            ("sscan s 0", 1, 0),
        ] {
            s.ks.reset_stats();
            s.call(line);
            let (h, m, _) = s.ks.stats();
            assert_eq!((h, m), (hits, misses), "{line}");
        }
    }

    #[test]
    fn members_are_added_counted_and_removed() {
        let mut s = Session::new();
        s.check("sadd s a b a c", b":3\r\n");
        s.check("sadd s a d", b":1\r\n");
        s.check("sadd s a", b":0\r\n");
        s.check("scard s", b":4\r\n");
        s.check("scard nokey", b":0\r\n");
        s.check("sismember s a", b":1\r\n");
        s.check("sismember s z", b":0\r\n");
        s.check("sismember nokey z", b":0\r\n");
        s.check("smismember s a z d", b"*3\r\n:1\r\n:0\r\n:1\r\n");
        s.check("smismember nokey a", b"*1\r\n:0\r\n");
        s.check_unordered(
            "smembers s",
            b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
        );
        s.check("smembers nokey", b"*0\r\n");
        s.check3("smembers nokey", b"~0\r\n");
        s.check("srem s a z a", b":1\r\n");
        s.check("srem s z", b":0\r\n");
        s.check("srem nokey z", b":0\r\n");
        s.check("srem s b c d", b":3\r\n");
        s.check("exists s", b":0\r\n");
        s.check(
            "srem s",
            b"-ERR wrong number of arguments for 'srem' command\r\n",
        );
        s.check(
            "smismember s",
            b"-ERR wrong number of arguments for 'smismember' command\r\n",
        );
    }

    #[test]
    fn the_members_reply_is_a_set_in_resp3() {
        let mut s = Session::new();
        s.check("sadd s x", b":1\r\n");
        s.check3("smembers s", b"~1\r\n$1\r\nx\r\n");
        s.check3("sinter s s", b"~1\r\n$1\r\nx\r\n");
        s.check3("sunion s nokey", b"~1\r\n$1\r\nx\r\n");
        s.check3("sdiff s nokey", b"~1\r\n$1\r\nx\r\n");
        s.check3("spop nokey 3", b"~0\r\n");
        s.check3("srandmember s 3", b"*1\r\n$1\r\nx\r\n");
        s.check3("srandmember nokey", b"_\r\n");
        s.check3("spop s 1", b"~1\r\n$1\r\nx\r\n");
    }

    #[test]
    fn every_command_refuses_another_type() {
        let mut s = Session::new();
        s.check("set str x", b"+OK\r\n");
        s.check("sadd s a", b":1\r\n");
        for line in [
            "sadd str a",
            "srem str a",
            "smembers str",
            "sismember str a",
            "smismember str a",
            "scard str",
            "spop str",
            "spop str 1",
            "srandmember str",
            "srandmember str -1",
            "smove str s a",
            "smove s str a",
            "sinter s str",
            "sinter nokey str",
            "sunion str nokey",
            "sdiff nokey str",
            "sdiff s str",
            "sinterstore d nokey str",
            "sunionstore d s str",
            "sdiffstore d nokey str",
            "sintercard 2 nokey str",
            "sscan str 0",
            "sscan str 0 bogus",
        ] {
            s.check(line, WRONGTYPE);
        }
        // A missing source is checked before the destination's type.
        s.check("smove nokey str a", b":0\r\n");
        s.check("exists d", b":0\r\n");
    }

    #[test]
    fn spop_and_srandmember_parse_their_count_first() {
        let mut s = Session::new();
        s.check("set str x", b"+OK\r\n");
        let positive = b"-ERR value is out of range, must be positive\r\n";
        for line in [
            "spop nokey -1",
            "spop nokey x",
            "spop str x",
            "spop nokey -0",
            "spop nokey 1.5",
            "spop nokey 9223372036854775808",
        ] {
            s.check(line, positive);
        }
        s.check("spop nokey 1 2", SYNTAX);
        s.check("srandmember nokey 1 2", SYNTAX);
        s.check("srandmember str x", NOT_INTEGER);
        s.check("srandmember nokey -0", NOT_INTEGER);
        s.check(
            "srandmember nokey -9223372036854775808",
            b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        );
        s.check("srandmember nokey -9223372036854775807", b"*0\r\n");
        s.check("srandmember nokey", b"$-1\r\n");
        s.check("spop nokey", b"$-1\r\n");
        s.check("spop nokey 0", b"*0\r\n");
    }

    #[test]
    fn spop_removes_what_it_returns() {
        let mut s = Session::new();
        s.check("sadd s a b c d e", b":5\r\n");
        s.check("spop s 0", b"*0\r\n");
        let popped = s.call("spop s 2");
        let (Frame::Array(popped), _) = decode_frame(&popped).unwrap().unwrap() else {
            panic!("an array");
        };
        assert_eq!(popped.len(), 2);
        s.check("scard s", b":3\r\n");
        for member in &popped {
            let Frame::Bulk(m) = member else { panic!() };
            let line = format!("sismember s {}", String::from_utf8_lossy(m));
            s.check(&line, b":0\r\n");
        }
        let one = s.call("spop s");
        assert!(one.starts_with(b"$1\r\n"));
        s.check("scard s", b":2\r\n");
        let rest = s.call("smembers s");
        s.check("spop s 9223372036854775807", &rest);
        s.check("exists s", b":0\r\n");
        s.check("sadd s last", b":1\r\n");
        s.check("spop s", b"$4\r\nlast\r\n");
        s.check("exists s", b":0\r\n");
    }

    #[test]
    fn random_picks_depend_on_the_seed_only() {
        let build = |seed| {
            let mut s = Session::new();
            s.seed = seed;
            let members: Vec<String> = (0..300).map(|n| format!("m{n}")).collect();
            s.check(&format!("sadd s {}", members.join(" ")), b":300\r\n");
            let replies = [
                s.call("srandmember s"),
                s.call("srandmember s 5"),
                s.call("srandmember s -5"),
                s.call("spop s 7"),
                s.call("spop s"),
                s.call("smembers s"),
            ];
            replies.concat()
        };
        assert_eq!(build(42), build(42));
        assert_ne!(build(42), build(43));
    }

    #[test]
    fn srandmember_counts() {
        let mut s = Session::new();
        s.check("sadd s a b c", b":3\r\n");
        s.check("srandmember s 0", b"*0\r\n");
        s.check("srandmember nokey 3", b"*0\r\n");
        s.check_unordered(
            "srandmember s 9223372036854775807",
            b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        );
        let two = s.call("srandmember s 2");
        let (Frame::Array(two), _) = decode_frame(&two).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1], "a positive count picks distinct members");
        let many = s.call("srandmember s -1000");
        let (Frame::Array(many), _) = decode_frame(&many).unwrap().unwrap() else {
            panic!()
        };
        assert_eq!(many.len(), 1000);
        for m in ["a", "b", "c"] {
            let n = many.iter().filter(|f| **f == Frame::Bulk(m.into())).count();
            assert!(n > 250, "{m} picked {n} times of 1000");
        }
        // Distinct picks from a large set, both ways of sampling.
        let members: Vec<String> = (0..1000).map(|n| n.to_string()).collect();
        s.check(&format!("sadd big {}", members.join(" ")), b":1000\r\n");
        for count in [10, 400, 900] {
            let reply = s.call(&format!("srandmember big {count}"));
            let (Frame::Array(picked), _) = decode_frame(&reply).unwrap().unwrap() else {
                panic!()
            };
            let distinct: std::collections::BTreeSet<_> =
                picked.iter().map(|f| format!("{f:?}")).collect();
            assert_eq!(distinct.len(), count);
        }
    }

    #[test]
    fn a_huge_negative_count_is_refused_not_allocated() {
        let mut s = Session::new();
        s.check("sadd s a", b":1\r\n");
        let refused = format!("-{}\r\n", reply_too_large());
        s.check("srandmember s -1000000000000", refused.as_bytes());
        s.check("srandmember s -9223372036854775807", refused.as_bytes());
        s.check("srandmember s -89478486", refused.as_bytes());
        let big = "x".repeat(1 << 20);
        s.check(&format!("sadd b {big}"), b":1\r\n");
        assert_eq!(s.call("srandmember b -10").len(), 10 * ((1 << 20) + 12) + 5);
    }

    #[test]
    fn repeated_picks_stop_at_the_byte_limit() {
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let pick = |out: &mut ReplyWriter| out.bulk(b"0123456789");
        // 17 bytes an element: 5 fit in 100 bytes with the header, 6 do not.
        assert_eq!(write_repeated_picks(&mut out, 5, 5, 100, pick), Ok(()));
        assert_eq!(out.len(), 4 + 5 * 17);
        let mut out = ReplyWriter::new(Protocol::Resp2);
        assert_eq!(
            write_repeated_picks(&mut out, 6, 6, 100, pick),
            Err(reply_too_large())
        );
        // Refused before writing when even empty elements could not fit.
        let mut out = ReplyWriter::new(Protocol::Resp2);
        assert_eq!(
            write_repeated_picks(&mut out, 17, 17, 100, pick),
            Err(reply_too_large())
        );
        assert!(out.is_empty());
    }

    #[test]
    fn smove_moves_one_member() {
        let mut s = Session::new();
        s.check("sadd a x y", b":2\r\n");
        s.check("sadd b y z", b":2\r\n");
        s.check("pexpire b 100000", b":1\r\n");
        s.check("smove a b x", b":1\r\n");
        s.check("smove a b x", b":0\r\n");
        s.check("smove a b nope", b":0\r\n");
        s.check("smove nokey b x", b":0\r\n");
        s.check("pttl b", b":100000\r\n");
        s.check_unordered("smembers b", b"*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n");
        // The last member moving deletes the source; a new destination is created.
        s.check("smove a b y", b":1\r\n");
        s.check("exists a", b":0\r\n");
        s.check("smove b c z", b":1\r\n");
        s.check("smembers c", b"*1\r\n$1\r\nz\r\n");
        s.check("pttl c", b":-1\r\n");
        // Same source and destination: only whether the member is there.
        s.check("smove b b x", b":1\r\n");
        s.check("smove b b nope", b":0\r\n");
        s.check("scard b", b":2\r\n");
    }

    #[test]
    fn set_algebra() {
        let mut s = Session::new();
        s.check("sadd a 1 2 3 4", b":4\r\n");
        s.check("sadd b 3 4 5", b":3\r\n");
        s.check("sadd c 4 5 6", b":3\r\n");
        s.check("sinter a b c", b"*1\r\n$1\r\n4\r\n");
        s.check_unordered("sinter a b", b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
        s.check("sinter a b nokey", b"*0\r\n");
        s.check("sinter nokey", b"*0\r\n");
        s.check_unordered(
            "sunion a c nokey",
            b"*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n",
        );
        s.check_unordered("sdiff a b", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
        s.check("sdiff a b c a", b"*0\r\n");
        s.check("sdiff nokey a", b"*0\r\n");
        s.check_unordered(
            "sdiff a nokey c",
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
        );
        s.check("sintercard 3 a b c", b":1\r\n");
        s.check("sintercard 2 a b", b":2\r\n");
        s.check("sintercard 2 a b limit 1", b":1\r\n");
        s.check("sintercard 2 a b LIMIT 0", b":2\r\n");
        s.check("sintercard 1 a limit 1 limit 3", b":3\r\n");
        s.check("sintercard 2 a nokey", b":0\r\n");
    }

    #[test]
    fn sintercard_checks_its_arguments_in_redis_order() {
        let mut s = Session::new();
        s.check("set str x", b"+OK\r\n");
        let numkeys = b"-ERR numkeys should be greater than 0\r\n";
        s.check("sintercard 0 a", numkeys);
        s.check("sintercard -1 a", numkeys);
        s.check("sintercard x a", numkeys);
        s.check("sintercard 01 a", numkeys);
        let too_many = b"-ERR Number of keys can't be greater than number of args\r\n";
        s.check("sintercard 2 a", too_many);
        s.check("sintercard 9223372036854775807 a", too_many);
        s.check("sintercard 1 a b", SYNTAX);
        s.check("sintercard 1 a limit", SYNTAX);
        s.check("sintercard 1 str foo", SYNTAX);
        let limit = b"-ERR LIMIT can't be negative\r\n";
        s.check("sintercard 1 a limit -1", limit);
        s.check("sintercard 1 str limit x", limit);
        s.check("sintercard 1 a limit 9223372036854775808", limit);
        s.check("sintercard 1 str limit 1", WRONGTYPE);
    }

    #[test]
    fn store_variants_replace_the_destination() {
        let mut s = Session::new();
        s.check("sadd a 1 2 3", b":3\r\n");
        s.check("sadd b 2 3 4", b":3\r\n");
        s.check("set d x", b"+OK\r\n");
        s.check("pexpire d 100000", b":1\r\n");
        s.check("sinterstore d a b", b":2\r\n");
        s.check("type d", b"+set\r\n");
        s.check("pttl d", b":-1\r\n");
        s.check_unordered("smembers d", b"*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
        s.check("sunionstore d a b", b":4\r\n");
        s.check("sdiffstore d a b", b":1\r\n");
        s.check("smembers d", b"*1\r\n$1\r\n1\r\n");
        // An empty result deletes the destination, whatever it held.
        s.check("set d x", b"+OK\r\n");
        s.check("sinterstore d a nokey", b":0\r\n");
        s.check("exists d", b":0\r\n");
        s.check("sdiffstore d nokey a", b":0\r\n");
        // The destination may be a source.
        s.check("sunionstore a a b", b":4\r\n");
        s.check("sinterstore a a b", b":3\r\n");
        s.check(
            "sunionstore d",
            b"-ERR wrong number of arguments for 'sunionstore' command\r\n",
        );
    }

    #[test]
    fn an_expired_set_is_no_set() {
        let mut s = Session::new();
        s.check("sadd s a", b":1\r\n");
        s.check("pexpire s 10", b":1\r\n");
        s.now_ms += 10;
        s.check("scard s", b":0\r\n");
        s.check("smembers s", b"*0\r\n");
        s.check("sadd s b", b":1\r\n");
        s.check("pttl s", b":-1\r\n");
        s.check("smembers s", b"*1\r\n$1\r\nb\r\n");
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(arg_scan_cursor(b"0"), Ok(0));
        assert_eq!(arg_scan_cursor(b""), Ok(0));
        assert_eq!(arg_scan_cursor(b"+7"), Ok(7));
        assert_eq!(arg_scan_cursor(b"007"), Ok(7));
        assert_eq!(arg_scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(arg_scan_cursor(b"-0"), Ok(0));
        assert_eq!(arg_scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        let invalid = Err(Error::msg("ERR invalid cursor"));
        for bad in [
            &b"18446744073709551616"[..],
            b"x",
            b" 1",
            b"1 ",
            b"-",
            b"+",
            b"0x10",
            b"1.0",
        ] {
            assert_eq!(arg_scan_cursor(bad), invalid, "{}", bad.escape_ascii());
        }
    }

    /// The cursor and the elements (sorted) of a SCAN reply.
    pub(crate) fn scan_reply(reply: &[u8]) -> (String, Vec<Vec<u8>>) {
        let (frame, _) = decode_frame(reply).unwrap().expect("a whole reply");
        let Frame::Array(parts) = frame else {
            panic!("not a scan reply: {}", reply.escape_ascii())
        };
        let [Frame::Bulk(cursor), Frame::Array(found)] = &parts[..] else {
            panic!("not a scan reply: {}", reply.escape_ascii())
        };
        let mut found: Vec<Vec<u8>> = found
            .iter()
            .map(|f| match f {
                Frame::Bulk(b) => b.clone(),
                other => panic!("not a bulk string: {other:?}"),
            })
            .collect();
        found.sort();
        (String::from_utf8(cursor.clone()).unwrap(), found)
    }

    #[test]
    fn sscan_of_an_intset_returns_everything() {
        let mut s = Session::new();
        s.check("sadd s 1 2 3", b":3\r\n");
        s.check("object encoding s", b"$6\r\nintset\r\n");
        let all_in_order = s.call("sscan s 0");
        let all = (
            "0".to_string(),
            vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()],
        );
        assert_eq!(scan_reply(&all_in_order), all);
        s.check("sscan s 0 count 1", &all_in_order);
        s.check("sscan s 7", &all_in_order);
        s.check("sscan s 0 match 2", b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n");
        s.check("sscan s 0 COUNT 1 MATCH * COUNT 5", &all_in_order);
        s.check("sscan nokey 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
        // A missing key replies before its options are read; a bad cursor is refused first.
        s.check("sscan nokey 0 count x", b"*2\r\n$1\r\n0\r\n*0\r\n");
        s.check("sscan nokey x", b"-ERR invalid cursor\r\n");
        s.check("sscan s 0 count 0", SYNTAX);
        s.check("sscan s 0 count -1", SYNTAX);
        s.check("sscan s 0 count x", NOT_INTEGER);
        s.check("sscan s 0 count", SYNTAX);
        s.check("sscan s 0 match", SYNTAX);
        s.check("sscan s 0 type string", SYNTAX);
        s.check(
            "sscan s",
            b"-ERR wrong number of arguments for 'sscan' command\r\n",
        );
    }

    #[test]
    fn sscan_of_a_large_set_pages_with_a_cursor() {
        let mut s = Session::new();
        s.check("sadd s a", b":1\r\n");
        // Not integers: a listpack while small (as in Redis 7.2; 7.0 used a hashtable)...
        s.check("object encoding s", b"$8\r\nlistpack\r\n");
        s.check("sscan s 0 count 1", b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
        let members: Vec<String> = (0..1000).map(|n| format!("m{n}")).collect();
        s.call(&format!("sadd s {}", members.join(" ")));
        // ...and a hashtable past 128 members, scanned with a cursor.
        s.check("object encoding s", b"$9\r\nhashtable\r\n");
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let (next, found) = scan_reply(&s.call(&format!("sscan s {cursor} count 20")));
            assert!(found.len() <= 21, "COUNT bounds the work of a call");
            for f in found {
                assert!(seen.insert(f), "returned twice");
            }
            // Changes between calls never hide a member present throughout.
            s.call(&format!("sadd s new{calls} new{calls}b"));
            s.call(&format!("srem s new{calls}b"));
            calls += 1;
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 40);
        for m in &members {
            assert!(seen.contains(m.as_bytes()), "{m} was missed");
        }
    }
}
