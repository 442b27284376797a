//! Lists.
//!
//! LPUSH / RPUSH key element... · LPUSHX / RPUSHX key element... · LPOP / RPOP key [count] ·
//! LLEN key · LRANGE key start stop · LINDEX key index · LSET key index element ·
//! LINSERT key BEFORE | AFTER pivot element · LREM key count element · LTRIM key start stop ·
//! LPOS key element [RANK rank] [COUNT count] [MAXLEN len] ·
//! LMOVE source destination LEFT | RIGHT LEFT | RIGHT · RPOPLPUSH source destination ·
//! LMPOP numkeys key... LEFT | RIGHT [COUNT count]
//!
//! The blocking variants (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) are not here: waiting is
//! the server's business. Once a key they wait on has data, they can finish with [`pop_from`]
//! and [`move_element`], the same functions the non-blocking commands use.

use crate::db::Db;
use crate::error::Error;
use crate::exec::{Exec, arg_i64, eq};
use crate::notify;
use crate::types::{Bytes, List};
use crate::value::{Entry, Value, ValueMut, ValueRef};

/// An end of a list: LEFT is the head (index 0), RIGHT the tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Left,
    Right,
}

impl End {
    pub(crate) fn parse(arg: &[u8]) -> Result<End, Error> {
        if eq(arg, "left") {
            Ok(End::Left)
        } else if eq(arg, "right") {
            Ok(End::Right)
        } else {
            Err(Error::Syntax)
        }
    }
}

fn push(list: &mut List, end: End, element: &[u8]) {
    match end {
        End::Left => list.push_front(element),
        End::Right => list.push_back(element),
    }
}

fn pop(list: &mut List, end: End) -> Option<Bytes> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

/// The live list under `key` for a read: `Ok(None)` if there is none, WRONGTYPE if the value is
/// of another type.
fn list_ref<'a>(db: &'a Db, key: &[u8], now_ms: u64) -> Result<Option<&'a List>, Error> {
    match db.get(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::List(list)) => Ok(Some(list)),
        Some(_) => Err(Error::WrongType),
    }
}

/// Checks that `key` holds a list or nothing (deleting it if it has expired); true if it holds
/// a list.
fn is_live_list(db: &mut Db, key: &[u8], now_ms: u64) -> Result<bool, Error> {
    Ok(live_list_len(db, key, now_ms)?.is_some())
}

/// [`is_live_list`], with the list's length.
fn live_list_len(db: &mut Db, key: &[u8], now_ms: u64) -> Result<Option<usize>, Error> {
    match db.get_live(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::List(list)) => Ok(Some(list.len())),
        Some(_) => Err(Error::WrongType),
    }
}

/// The live list under `key`, to change in place (its TTL is kept). Changing it counts as a
/// write; the caller deletes the key if it leaves the list empty.
fn list_mut<'a>(db: &'a mut Db, key: &[u8], now_ms: u64) -> Result<Option<&'a mut List>, Error> {
    if !is_live_list(db, key, now_ms)? {
        return Ok(None);
    }
    match db.value_mut(key, now_ms) {
        Some(ValueMut::List(list)) => Ok(Some(list)),
        _ => unreachable!("the key was just found holding a list"),
    }
}

/// Where `element` first is in the list under `key` (a write's lookup: `peek`, no keyspace hit
/// counted), so that a write that would find nothing need not take the list for writing.
fn list_position(db: &Db, key: &[u8], element: &[u8]) -> Option<usize> {
    match db.peek(key).map(|e| e.value) {
        Some(ValueRef::List(l)) => l.iter().position(|e| e == element),
        _ => None,
    }
}

/// Deletes `key` if the list under it is now empty: Redis never keeps an empty list. (`peek`,
/// not `get`: a write's own lookups do not count as keyspace hits.)
fn delete_if_empty(db: &mut Db, key: &[u8]) -> bool {
    let empty = matches!(db.peek(key).map(|e| e.value), Some(ValueRef::List(l)) if l.is_empty());
    if empty {
        db.delete(key);
    }
    empty
}

/// The keyspace event of a push or pop at `end`.
fn event(end: End, push: bool) -> &'static str {
    match (end, push) {
        (End::Left, true) => "lpush",
        (End::Right, true) => "rpush",
        (End::Left, false) => "lpop",
        (End::Right, false) => "rpop",
    }
}

/// Resolves LRANGE/LTRIM's inclusive `start`..`stop` (negative counts from the tail) against a
/// list of `len` elements; None when the range selects nothing.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// Resolves an element index (negative counts from the tail); None when it is out of range.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let index = if index < 0 { index + len as i64 } else { index };
    usize::try_from(index).ok().filter(|&i| i < len)
}

fn reply_elements(ex: &mut Exec, elements: &[Bytes]) {
    ex.out.array(elements.len());
    for element in elements {
        ex.out.bulk(element);
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes

fn push_generic(
    ex: &mut Exec,
    args: &[&[u8]],
    end: End,
    only_if_exists: bool,
) -> Result<(), Error> {
    let (key, elements, now) = (args[1], &args[2..], ex.now_ms);
    let db = ex.db_mut();
    let len = match list_mut(db, key, now)? {
        Some(list) => {
            elements.iter().for_each(|e| push(list, end, e));
            list.len()
        }
        None if only_if_exists => 0,
        None => {
            let mut list = List::new();
            elements.iter().for_each(|e| push(&mut list, end, e));
            let len = list.len();
            db.insert(key, Entry::new(Value::List(Box::new(list)), 0, now));
            len
        }
    };
    if len > 0 {
        ex.notify(notify::LIST, event(end, true), key);
    }
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn lpush(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    push_generic(ex, args, End::Left, false)
}

pub(crate) fn rpush(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    push_generic(ex, args, End::Right, false)
}

pub(crate) fn lpushx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    push_generic(ex, args, End::Left, true)
}

pub(crate) fn rpushx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    push_generic(ex, args, End::Right, true)
}

// ---------------------------------------------------------------------------------------------
// Pops and moves

/// Pops up to `count` elements from `end` of the list under `key`, deleting the key if that
/// empties it. `Ok(None)` if there is no such key; WRONGTYPE if it is not a list. The result
/// holds at most the list's length, whatever `count` is.
///
/// LPOP, RPOP and LMPOP use it, and so can their blocking variants once the key has data.
pub(crate) fn pop_from(
    ex: &mut Exec,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, Error> {
    let now = ex.now_ms;
    let db = ex.db_mut();
    if count == 0 {
        // Pops nothing: not a write, a WATCH of the key holds, as in Redis.
        return Ok(is_live_list(db, key, now)?.then(Vec::new));
    }
    let Some(list) = list_mut(db, key, now)? else {
        return Ok(None);
    };
    let popped: Vec<Bytes> = match end {
        End::Left => list.pop_front_n(count),
        End::Right => list.pop_back_n(count),
    };
    let deleted = delete_if_empty(db, key);
    if !popped.is_empty() {
        ex.notify(notify::LIST, event(end, false), key);
    }
    if deleted {
        ex.notify(notify::GENERIC, "del", key);
    }
    Ok(Some(popped))
}

/// Moves one element from the `from` end of the list under `source` to the `to` end of the
/// list under `target` (creating it), and returns it. `Ok(None)` if there is no `source`; an
/// error (and no change) if either key holds something other than a list.
///
/// LMOVE and RPOPLPUSH use it, and so can BLMOVE and BRPOPLPUSH once `source` has data.
pub(crate) fn move_element(
    ex: &mut Exec,
    source: &[u8],
    target: &[u8],
    from: End,
    to: End,
) -> Result<Option<Bytes>, Error> {
    let now = ex.now_ms;
    let db = ex.db_mut();
    // Both keys are checked before anything changes, so an error leaves both lists as they are.
    if !is_live_list(db, source, now)? {
        return Ok(None);
    }
    is_live_list(db, target, now)?;
    let list = list_mut(db, source, now)?.expect("source was just found");
    let element = pop(list, from).expect("a stored list is never empty");
    // Events in Redis's order: the push, then the pop (and the source's deletion).
    if source == target {
        push(list, to, &element);
        ex.notify(notify::LIST, event(to, true), target);
        ex.notify(notify::LIST, event(from, false), source);
        return Ok(Some(element));
    }
    let deleted = delete_if_empty(db, source);
    match list_mut(db, target, now)? {
        Some(list) => push(list, to, &element),
        None => {
            let list = List::from_iter([&element]);
            db.insert(target, Entry::new(Value::List(Box::new(list)), 0, now));
        }
    }
    ex.notify(notify::LIST, event(to, true), target);
    ex.notify(notify::LIST, event(from, false), source);
    if deleted {
        ex.notify(notify::GENERIC, "del", source);
    }
    Ok(Some(element))
}

fn pop_generic(ex: &mut Exec, args: &[&[u8]], end: End) -> Result<(), Error> {
    let count = match args {
        [_, _] => None,
        [_, _, count] => Some(parse_pop_count(count)?),
        _ => {
            return Err(Error::WrongArity(if end == End::Left {
                "lpop"
            } else {
                "rpop"
            }));
        }
    };
    let popped = pop_from(ex, args[1], end, count.unwrap_or(1))?;
    match (popped, count) {
        (None, None) => ex.out.null(),
        (None, Some(_)) => ex.out.null_array(),
        (Some(elements), None) => ex.out.bulk(&elements[0]),
        (Some(elements), Some(_)) => reply_elements(ex, &elements),
    }
    Ok(())
}

/// LPOP and RPOP's count: a non-negative integer, with a message of its own.
fn parse_pop_count(arg: &[u8]) -> Result<usize, Error> {
    arg_i64(arg)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))
}

pub(crate) fn lpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    pop_generic(ex, args, End::Left)
}

pub(crate) fn rpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    pop_generic(ex, args, End::Right)
}

fn reply_moved(ex: &mut Exec, moved: Option<Bytes>) {
    match moved {
        Some(element) => ex.out.bulk(&element),
        None => ex.out.null(),
    }
}

pub(crate) fn lmove(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (from, to) = (End::parse(args[3])?, End::parse(args[4])?);
    let moved = move_element(ex, args[1], args[2], from, to)?;
    reply_moved(ex, moved);
    Ok(())
}

pub(crate) fn rpoplpush(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let moved = move_element(ex, args[1], args[2], End::Right, End::Left)?;
    reply_moved(ex, moved);
    Ok(())
}

/// LMPOP's arguments after the command name.
pub(crate) struct MpopArgs<'a> {
    pub(crate) keys: &'a [&'a [u8]],
    pub(crate) end: End,
    pub(crate) count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT count]` (LMPOP's arguments, and BLMPOP's after its
/// timeout), checking them in Redis's order.
pub(crate) fn parse_mpop<'a>(args: &'a [&'a [u8]]) -> Result<MpopArgs<'a>, Error> {
    let numkeys = arg_i64(args[0])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?;
    // The keys and the end must all be there.
    let numkeys = usize::try_from(numkeys)
        .ok()
        .filter(|&n| n < args.len() - 1)
        .ok_or(Error::Syntax)?;
    let (keys, rest) = args[1..].split_at(numkeys);
    let end = End::parse(rest[0])?;
    let mut count = None;
    let mut options = &rest[1..];
    while !options.is_empty() {
        match options {
            [word, value, ..] if eq(word, "count") && count.is_none() => {
                let n = arg_i64(value)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Error::msg("ERR count should be greater than 0"))?;
                count = Some(n as usize);
                options = &options[2..];
            }
            _ => return Err(Error::Syntax),
        }
    }
    let count = count.unwrap_or(1);
    Ok(MpopArgs { keys, end, count })
}

pub(crate) fn lmpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let MpopArgs { keys, end, count } = parse_mpop(&args[1..])?;
    for &key in keys {
        if let Some(elements) = pop_from(ex, key, end, count)? {
            ex.out.array(2);
            ex.out.bulk(key);
            reply_elements(ex, &elements);
            return Ok(());
        }
    }
    ex.out.null_array();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads

pub(crate) fn llen(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let len = list_ref(ex.db(), args[1], ex.now_ms)?.map_or(0, |l| l.len());
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn lrange(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (start, stop) = (arg_i64(args[2])?, arg_i64(args[3])?);
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let list = list_ref(db, args[1], now)?;
    let Some((list, (first, last))) =
        list.and_then(|l| Some((l, clamp_range(start, stop, l.len())?)))
    else {
        ex.out.array(0);
        return Ok(());
    };
    ex.out.array(last - first + 1);
    for element in list.range(first..=last) {
        ex.out.bulk(element);
    }
    Ok(())
}

pub(crate) fn lindex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let Some(list) = list_ref(db, args[1], now)? else {
        ex.out.null();
        return Ok(());
    };
    match resolve_index(arg_i64(args[2])?, list.len()) {
        Some(i) => ex.out.bulk(list.get(i).expect("the index is in range")),
        None => ex.out.null(),
    }
    Ok(())
}

/// LPOS's options.
struct PosOptions {
    rank: i64,
    /// None: reply with one position (or nil) instead of an array.
    count: Option<usize>,
    /// How many elements to compare at most; 0 means all.
    maxlen: usize,
}

fn parse_pos_options(args: &[&[u8]]) -> Result<PosOptions, Error> {
    let mut o = PosOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let non_negative = |arg: &[u8], message: &str| {
        arg_i64(arg)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| Error::msg(message))
    };
    for pair in args.chunks(2) {
        let [option, value] = pair else {
            return Err(Error::Syntax);
        };
        if eq(option, "rank") {
            o.rank = arg_i64(value)?;
            if o.rank == 0 {
                return Err(Error::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq(option, "count") {
            o.count = Some(non_negative(value, "ERR COUNT can't be negative")?);
        } else if eq(option, "maxlen") {
            o.maxlen = non_negative(value, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(o)
}

/// The positions (from the head) of `element` in `list` that LPOS reports: matches are counted
/// from the head for a positive rank, from the tail for a negative one; the first |rank| - 1 are
/// skipped, then up to `count` (0: all) are taken, among the first `maxlen` (0: all) elements
/// looked at.
fn positions(list: &List, element: &[u8], o: &PosOptions) -> Vec<usize> {
    let (skip, limit) = if o.rank == i64::MIN {
        // Redis 7.0.15 takes RANK -2^63 as -1 and then ignores COUNT (its arithmetic
        // overflows); reproduced so that replies match.
        (0, usize::MAX)
    } else {
        let skip = usize::try_from(o.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let limit = match o.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        (skip, limit)
    };
    let scan = if o.maxlen == 0 { list.len() } else { o.maxlen };
    let take = |looked_at: &mut dyn Iterator<Item = (usize, &[u8])>| -> Vec<usize> {
        looked_at
            .take(scan)
            .filter(|(_, e)| *e == element)
            .skip(skip)
            .take(limit)
            .map(|(i, _)| i)
            .collect()
    };
    if o.rank > 0 {
        take(&mut list.iter().enumerate())
    } else {
        take(&mut list.iter().enumerate().rev())
    }
}

pub(crate) fn lpos(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let options = parse_pos_options(&args[3..])?;
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let found =
        list_ref(db, args[1], now)?.map_or_else(Vec::new, |l| positions(l, args[2], &options));
    if options.count.is_some() {
        ex.out.array(found.len());
        found.iter().for_each(|&i| ex.out.int(i as i64));
    } else {
        match found.first() {
            Some(&i) => ex.out.int(i as i64),
            None => ex.out.null(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Changes in place

pub(crate) fn lset(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, now) = (args[1], ex.now_ms);
    let db = ex.db_mut();
    let len = live_list_len(db, key, now)?.ok_or(Error::NoSuchKey)?;
    // An index out of range is not a write: a WATCH of the key holds, as in Redis.
    let index = resolve_index(arg_i64(args[2])?, len)
        .ok_or_else(|| Error::msg("ERR index out of range"))?;
    let list = list_mut(db, key, now)?.expect("the key was just found holding a list");
    list.set(index, args[3]);
    ex.notify(notify::LIST, "lset", key);
    ex.out.ok();
    Ok(())
}

pub(crate) fn linsert(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let after = if eq(args[2], "after") {
        true
    } else if eq(args[2], "before") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let (key, pivot, now) = (args[1], args[3], ex.now_ms);
    let db = ex.db_mut();
    // A pivot that is not there is not a write: a WATCH of the key holds, as in Redis.
    let reply = if !is_live_list(db, key, now)? {
        0
    } else if let Some(at) = list_position(db, key, pivot) {
        let list = list_mut(db, key, now)?.expect("the key was just found holding a list");
        list.insert(at + usize::from(after), args[4]);
        list.len() as i64
    } else {
        -1
    };
    if reply > 0 {
        ex.notify(notify::LIST, "linsert", key);
    }
    ex.out.int(reply);
    Ok(())
}

pub(crate) fn lrem(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, count, element, now) = (args[1], arg_i64(args[2])?, args[3], ex.now_ms);
    let db = ex.db_mut();
    // Nothing to remove is not a write: a WATCH of the key holds, as in Redis.
    if !is_live_list(db, key, now)? || list_position(db, key, element).is_none() {
        ex.out.int(0);
        return Ok(());
    }
    let list = list_mut(db, key, now)?.expect("the key was just found holding a list");
    let removed = remove_matches(list, element, count);
    let deleted = delete_if_empty(db, key);
    if removed > 0 {
        ex.notify(notify::LIST, "lrem", key);
    }
    if deleted {
        ex.notify(notify::GENERIC, "del", key);
    }
    ex.out.int(removed as i64);
    Ok(())
}

/// Removes the first `count` elements equal to `element` from the head (a negative `count`:
/// from the tail; 0: all of them) in one pass; returns how many it removed.
fn remove_matches(list: &mut List, element: &[u8], count: i64) -> usize {
    let limit = match usize::try_from(count.unsigned_abs()) {
        Ok(0) | Err(_) => usize::MAX,
        Ok(n) => n,
    };
    let is_match = |(_, e): &(usize, &[u8])| *e == element;
    // The index of the last match to remove, counting from the chosen end.
    let bound = if count < 0 {
        list.iter()
            .enumerate()
            .rev()
            .filter(is_match)
            .take(limit)
            .last()
    } else {
        list.iter().enumerate().filter(is_match).take(limit).last()
    };
    let Some((bound, _)) = bound else {
        return 0;
    };
    let before = list.len();
    let mut index = 0;
    list.retain(|e| {
        let in_reach = if count < 0 {
            index >= bound
        } else {
            index <= bound
        };
        index += 1;
        !(in_reach && e == element)
    });
    before - list.len()
}

pub(crate) fn ltrim(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (start, stop) = (arg_i64(args[2])?, arg_i64(args[3])?);
    let (key, now) = (args[1], ex.now_ms);
    let db = ex.db_mut();
    if let Some(list) = list_mut(db, key, now)? {
        match clamp_range(start, stop, list.len()) {
            Some((first, last)) => {
                list.drop_back(list.len() - 1 - last);
                list.drop_front(first);
            }
            None => list.clear(),
        }
        let deleted = delete_if_empty(db, key);
        ex.notify(notify::LIST, "ltrim", key);
        if deleted {
            ex.notify(notify::GENERIC, "del", key);
        }
    }
    ex.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use resp::{Protocol, ReplyWriter};

    use super::*;
    use crate::{Keyspace, lookup};

    /// One client's view of a fresh keyspace: each `check` runs a command through the table
    /// (arity included) and pins the exact bytes of its reply, as redis-server 7.0.15 answers.
    struct Session {
        ks: Keyspace,
        proto: Protocol,
        now_ms: u64,
    }

    impl Session {
        fn new() -> Self {
            Session {
                ks: Keyspace::new(16, 0),
                proto: Protocol::Resp2,
                now_ms: 1_000,
            }
        }

        fn resp3() -> Self {
            Session {
                proto: Protocol::Resp3,
                ..Session::new()
            }
        }

        /// Runs a command given as space-separated words.
        #[track_caller]
        fn check(&mut self, line: &str, want: &[u8]) {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let mut out = ReplyWriter::new(self.proto);
            let mut ex = Exec {
                ks: &mut self.ks,
                db: 0,
                now_ms: self.now_ms,
                seed: 1,
                out: &mut out,
            };
            ex.run(lookup(args[0]).expect("a known command"), &args);
            assert_eq!(
                out.buf.escape_ascii().to_string(),
                want.escape_ascii().to_string(),
                "{line}"
            );
        }
    }

    const WRONGTYPE: &[u8] =
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const NOT_INTEGER: &[u8] = b"-ERR value is not an integer or out of range\r\n";
    const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
    const ABC: &[u8] = b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";

    #[test]
    fn pushes_add_at_either_end_and_create_the_list() {
        let mut s = Session::new();
        s.check("lpush l a b c", b":3\r\n");
        s.check("rpush l d e", b":5\r\n");
        s.check(
            "lrange l 0 -1",
            b"*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n",
        );
        s.check("lpushx l x y", b":7\r\n");
        s.check("rpushx l z", b":8\r\n");
        s.check("lrange l 0 1", b"*2\r\n$1\r\ny\r\n$1\r\nx\r\n");
        s.check("lindex l -1", b"$1\r\nz\r\n");
        // The X forms never create a list.
        s.check("lpushx none a", b":0\r\n");
        s.check("rpushx none a b", b":0\r\n");
        s.check("exists none", b":0\r\n");
        s.check("type l", b"+list\r\n");
        s.check("set s 1", b"+OK\r\n");
        for cmd in ["lpush", "rpush", "lpushx", "rpushx"] {
            s.check(&format!("{cmd} s a"), WRONGTYPE);
        }
        s.check(
            "lpush",
            b"-ERR wrong number of arguments for 'lpush' command\r\n",
        );
        s.check(
            "rpush l",
            b"-ERR wrong number of arguments for 'rpush' command\r\n",
        );
    }

    #[test]
    fn a_created_list_has_no_ttl_and_a_changed_one_keeps_its_ttl() {
        let mut s = Session::new();
        s.check("set k v px 100", b"+OK\r\n");
        s.now_ms = 2_000;
        s.check("rpush k a", b":1\r\n");
        s.check("pttl k", b":-1\r\n");
        s.check("pexpire k 5000", b":1\r\n");
        s.check("rpush k b", b":2\r\n");
        s.check("lpop k", b"$1\r\na\r\n");
        s.check("lset k 0 c", b"+OK\r\n");
        s.check("pttl k", b":5000\r\n");
        s.now_ms = 7_000;
        s.check("llen k", b":0\r\n");
        s.check("lpushx k a", b":0\r\n");
    }

    #[test]
    fn pops_reply_nil_or_a_null_array_for_a_missing_key() {
        let mut s = Session::new();
        s.check("lpop none", b"$-1\r\n");
        s.check("lpop none 0", b"*-1\r\n");
        s.check("rpop none 2", b"*-1\r\n");
        s.check("rpush l a b c", b":3\r\n");
        s.check("lpop l 0", b"*0\r\n");
        s.check("lpop l 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        s.check("rpush l d e", b":3\r\n");
        s.check("rpop l", b"$1\r\ne\r\n");
        // More than the list holds pops it all, and the emptied list is gone.
        s.check(
            "rpop l 9223372036854775807",
            b"*2\r\n$1\r\nd\r\n$1\r\nc\r\n",
        );
        s.check("exists l", b":0\r\n");
        let mut s = Session::resp3();
        s.check("lpop none", b"_\r\n");
        s.check("lpop none 2", b"_\r\n");
        s.check("rpush l a", b":1\r\n");
        s.check("rpop l 5", b"*1\r\n$1\r\na\r\n");
    }

    #[test]
    fn pop_counts_are_checked_before_the_key() {
        let mut s = Session::new();
        let must_be_positive = b"-ERR value is out of range, must be positive\r\n";
        s.check("set s x", b"+OK\r\n");
        s.check("lpop none -1", must_be_positive);
        s.check("lpop none abc", must_be_positive);
        s.check("rpop s -1", must_be_positive);
        s.check("lpop l 9223372036854775808", must_be_positive);
        s.check("lpop s", WRONGTYPE);
        s.check("lpop s 0", WRONGTYPE);
        s.check(
            "lpop l 1 2",
            b"-ERR wrong number of arguments for 'lpop' command\r\n",
        );
        s.check(
            "rpop l 1 2",
            b"-ERR wrong number of arguments for 'rpop' command\r\n",
        );
    }

    #[test]
    fn llen_and_lrange_clamp_any_range() {
        let mut s = Session::new();
        s.check("llen none", b":0\r\n");
        s.check("lrange none 0 -1", b"*0\r\n");
        s.check("rpush l a b c", b":3\r\n");
        s.check("llen l", b":3\r\n");
        s.check("lrange l 0 -1", ABC);
        s.check("lrange l -100 100", ABC);
        s.check("lrange l 0 10000000000", ABC);
        s.check("lrange l -9223372036854775808 9223372036854775807", ABC);
        s.check("lrange l -2 -1", b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
        s.check("lrange l 1 1", b"*1\r\n$1\r\nb\r\n");
        s.check("lrange l 2 1", b"*0\r\n");
        s.check("lrange l 3 10", b"*0\r\n");
        s.check("lrange l -5 -4", b"*0\r\n");
        s.check("lrange l a 1", NOT_INTEGER);
        s.check("lrange none 0 b", NOT_INTEGER);
        s.check("lrange l 0 -0", NOT_INTEGER);
        s.check("set s x", b"+OK\r\n");
        s.check("llen s", WRONGTYPE);
        s.check("lrange s 0 1", WRONGTYPE);
        s.check("lrange s x 1", NOT_INTEGER);
    }

    #[test]
    fn lindex_and_lset_address_single_elements() {
        let mut s = Session::new();
        let out_of_range = b"-ERR index out of range\r\n";
        s.check("rpush l a b c", b":3\r\n");
        s.check("lindex l 0", b"$1\r\na\r\n");
        s.check("lindex l -1", b"$1\r\nc\r\n");
        s.check("lindex l 3", b"$-1\r\n");
        s.check("lindex l -4", b"$-1\r\n");
        s.check("lindex l -9223372036854775808", b"$-1\r\n");
        s.check("lindex l x", NOT_INTEGER);
        // A missing key is nil whatever the index.
        s.check("lindex none x", b"$-1\r\n");
        s.check("lset l 0 A", b"+OK\r\n");
        s.check("lset l -1 C", b"+OK\r\n");
        s.check("lrange l 0 -1", b"*3\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nC\r\n");
        s.check("lset l 3 x", out_of_range);
        s.check("lset l -4 x", out_of_range);
        s.check("lset l -9223372036854775808 x", out_of_range);
        s.check("lset l x x", NOT_INTEGER);
        s.check("lset none 0 x", b"-ERR no such key\r\n");
        s.check("lset none x x", b"-ERR no such key\r\n");
        s.check("set s x", b"+OK\r\n");
        s.check("lindex s x", WRONGTYPE);
        s.check("lset s x x", WRONGTYPE);
    }

    #[test]
    fn linsert_finds_the_first_pivot() {
        let mut s = Session::new();
        s.check("rpush l a b c b", b":4\r\n");
        s.check("linsert l before b X", b":5\r\n");
        s.check("linsert l AFTER b Y", b":6\r\n");
        s.check(
            "lrange l 0 -1",
            b"*6\r\n$1\r\na\r\n$1\r\nX\r\n$1\r\nb\r\n$1\r\nY\r\n$1\r\nc\r\n$1\r\nb\r\n",
        );
        s.check(
            "linsert l after b",
            b"-ERR wrong number of arguments for 'linsert' command\r\n",
        );
        s.check("linsert l before zz X", b":-1\r\n");
        s.check("linsert none before b X", b":0\r\n");
        s.check("exists none", b":0\r\n");
        s.check("set s x", b"+OK\r\n");
        s.check("linsert s before b X", WRONGTYPE);
        // The position word is checked first.
        s.check("linsert s middle b X", SYNTAX);
        s.check("linsert none middle b X", SYNTAX);
    }

    #[test]
    fn lrem_removes_from_either_end() {
        let mut s = Session::new();
        s.check("rpush l b a b c b b", b":6\r\n");
        s.check("lrem l 2 b", b":2\r\n");
        s.check(
            "lrange l 0 -1",
            b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nb\r\n",
        );
        s.check("rpush l b c", b":6\r\n");
        s.check("lrem l -2 b", b":2\r\n");
        s.check(
            "lrange l 0 -1",
            b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nc\r\n",
        );
        s.check("lrem l 0 c", b":2\r\n");
        s.check("lrem l 0 zz", b":0\r\n");
        s.check("lrem l -9223372036854775808 a", b":1\r\n");
        s.check("lrem l 1 b", b":1\r\n");
        s.check("exists l", b":0\r\n");
        s.check("lrem none 1 b", b":0\r\n");
        s.check("lrem none x b", NOT_INTEGER);
        s.check("set s x", b"+OK\r\n");
        s.check("lrem s 1 b", WRONGTYPE);
        s.check("lrem s x b", NOT_INTEGER);
    }

    #[test]
    fn ltrim_keeps_a_range_and_deletes_an_emptied_list() {
        let mut s = Session::new();
        s.check("rpush l a b c d e", b":5\r\n");
        s.check("ltrim l 1 -2", b"+OK\r\n");
        s.check("lrange l 0 -1", b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n");
        s.check("ltrim l -100 100", b"+OK\r\n");
        s.check("llen l", b":3\r\n");
        s.check("ltrim l -1 -1", b"+OK\r\n");
        s.check("lrange l 0 -1", b"*1\r\n$1\r\nd\r\n");
        s.check("ltrim l 5 1", b"+OK\r\n");
        s.check("exists l", b":0\r\n");
        s.check("rpush l a b c", b":3\r\n");
        s.check("ltrim l 0 -9223372036854775808", b"+OK\r\n");
        s.check("exists l", b":0\r\n");
        s.check("rpush l a b c", b":3\r\n");
        s.check(
            "ltrim l -9223372036854775808 9223372036854775807",
            b"+OK\r\n",
        );
        s.check("llen l", b":3\r\n");
        s.check("ltrim none 0 1", b"+OK\r\n");
        s.check("ltrim none x 1", NOT_INTEGER);
        s.check("set s x", b"+OK\r\n");
        s.check("ltrim s 0 1", WRONGTYPE);
        s.check("ltrim s x 1", NOT_INTEGER);
    }

    #[test]
    fn lpos_ranks_counts_and_bounds_the_search() {
        let mut s = Session::new();
        s.check("rpush l a b c 1 2 3 c c", b":8\r\n");
        s.check("lpos l c", b":2\r\n");
        s.check("lpos l c rank 2", b":6\r\n");
        s.check("lpos l c rank -1", b":7\r\n");
        s.check("lpos l c rank -3", b":2\r\n");
        s.check("lpos l c rank -4", b"$-1\r\n");
        s.check("lpos l c rank 9223372036854775807", b"$-1\r\n");
        s.check("lpos l c count 0", b"*3\r\n:2\r\n:6\r\n:7\r\n");
        s.check("lpos l c count 2", b"*2\r\n:2\r\n:6\r\n");
        s.check("lpos l c count 2 rank -1", b"*2\r\n:7\r\n:6\r\n");
        s.check("lpos l c count 0 rank 2", b"*2\r\n:6\r\n:7\r\n");
        s.check("lpos l c count 0 maxlen 3", b"*1\r\n:2\r\n");
        s.check("lpos l c count 0 rank -2 maxlen 2", b"*1\r\n:6\r\n");
        s.check("lpos l c count 0 rank -2 maxlen 1", b"*0\r\n");
        s.check("lpos l c count 5 rank 3 maxlen 7", b"*0\r\n");
        s.check("lpos l c count 5 rank 3 maxlen 8", b"*1\r\n:7\r\n");
        s.check("lpos l c maxlen 0", b":2\r\n");
        s.check("lpos l c RANK 1 rank 2", b":6\r\n");
        s.check("lpos l c count 1 count 0", b"*3\r\n:2\r\n:6\r\n:7\r\n");
        s.check(
            "lpos l c count 9223372036854775807",
            b"*3\r\n:2\r\n:6\r\n:7\r\n",
        );
        s.check("lpos l zz", b"$-1\r\n");
        s.check("lpos l zz count 1", b"*0\r\n");
        s.check("lpos none zz", b"$-1\r\n");
        s.check("lpos none zz count 1", b"*0\r\n");
        // Redis 7.0.15's arithmetic on the lowest rank: from the tail, and COUNT ignored.
        s.check("lpos l c rank -9223372036854775808", b":7\r\n");
        s.check(
            "lpos l c count 2 rank -9223372036854775808",
            b"*3\r\n:7\r\n:6\r\n:2\r\n",
        );
    }

    #[test]
    fn lpos_checks_its_options_in_order_before_the_key() {
        let mut s = Session::new();
        let rank_zero: &[u8] = b"-ERR RANK can't be zero: use 1 to start from the first match, \
            2 from the second ... or use negative to start from the end of the list\r\n";
        let count_negative: &[u8] = b"-ERR COUNT can't be negative\r\n";
        let maxlen_negative: &[u8] = b"-ERR MAXLEN can't be negative\r\n";
        s.check("rpush l a", b":1\r\n");
        s.check("set s x", b"+OK\r\n");
        s.check("lpos l a rank 0", rank_zero);
        s.check("lpos s a rank 0", rank_zero);
        s.check("lpos l a rank x", NOT_INTEGER);
        s.check("lpos l a count -1", count_negative);
        s.check("lpos l a count x", count_negative);
        s.check("lpos l a maxlen -1", maxlen_negative);
        s.check("lpos l a maxlen x", maxlen_negative);
        s.check("lpos l a bogus", SYNTAX);
        s.check("lpos l a rank", SYNTAX);
        s.check("lpos l a count 1 maxlen", SYNTAX);
        s.check("lpos s a bogus", SYNTAX);
        s.check("lpos l a rank 0 bogus", rank_zero);
        s.check("lpos l a bogus rank 0", SYNTAX);
        s.check("lpos l a count -1 rank 0", count_negative);
        s.check("lpos l a rank 1 rank 0", rank_zero);
        s.check("lpos s a", WRONGTYPE);
        s.check("lpos s a count 1", WRONGTYPE);
    }

    #[test]
    fn lmove_and_rpoplpush_move_one_element() {
        let mut s = Session::new();
        s.check("rpush l a b c", b":3\r\n");
        s.check("lmove l d left right", b"$1\r\na\r\n");
        s.check("lmove l d RIGHT LEFT", b"$1\r\nc\r\n");
        s.check("lrange d 0 -1", b"*2\r\n$1\r\nc\r\n$1\r\na\r\n");
        s.check("rpoplpush l d", b"$1\r\nb\r\n");
        s.check("exists l", b":0\r\n");
        s.check("lrange d 0 -1", b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n");
        // On one key, a move rotates the list.
        s.check("lmove d d left right", b"$1\r\nb\r\n");
        s.check("lrange d 0 -1", b"*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n");
        s.check("rpoplpush d d", b"$1\r\nb\r\n");
        s.check("lmove d d right right", b"$1\r\na\r\n");
        s.check("lrange d 0 -1", b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n");
        s.check("lmove none d left left", b"$-1\r\n");
        s.check("rpoplpush none d", b"$-1\r\n");
        s.check("lmove d d up left", SYNTAX);
        s.check("lmove d d left down", SYNTAX);
    }

    #[test]
    fn moves_check_both_types_before_changing_anything() {
        let mut s = Session::new();
        s.check("rpush l a", b":1\r\n");
        s.check("set s x", b"+OK\r\n");
        s.check("lmove l s left left", WRONGTYPE);
        s.check("rpoplpush l s", WRONGTYPE);
        s.check("lmove s l left left", WRONGTYPE);
        s.check("lrange l 0 -1", b"*1\r\n$1\r\na\r\n");
        // A missing source is nil even when the destination is of the wrong type.
        s.check("lmove none s left left", b"$-1\r\n");
        s.check("lmove none s up left", SYNTAX);
        s.check("lmove s l up left", SYNTAX);
        // The source's emptied list is deleted; the destination keeps its TTL.
        s.check("rpush d z", b":1\r\n");
        s.check("pexpire d 5000", b":1\r\n");
        s.check("lmove l d left right", b"$1\r\na\r\n");
        s.check("exists l", b":0\r\n");
        s.check("pttl d", b":5000\r\n");
        s.check("lmove d n left right", b"$1\r\nz\r\n");
        s.check("pttl n", b":-1\r\n");
    }

    #[test]
    fn lmpop_pops_from_the_first_non_empty_list() {
        let mut s = Session::new();
        s.check("rpush l a b c", b":3\r\n");
        s.check("rpush m x y", b":2\r\n");
        s.check("set s 1", b"+OK\r\n");
        s.check("lmpop 2 none l left", b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n");
        s.check(
            "lmpop 2 none l right COUNT 5",
            b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
        );
        s.check("exists l", b":0\r\n");
        s.check("lmpop 1 l left", b"*-1\r\n");
        s.check("lmpop 2 none l left count 2", b"*-1\r\n");
        // A wrong type is an error only when the keys before it are empty.
        s.check("lmpop 3 none s m left", WRONGTYPE);
        s.check("lmpop 2 m s left", b"*2\r\n$1\r\nm\r\n*1\r\n$1\r\nx\r\n");
        s.check(
            "lmpop 1 m left count 9223372036854775807",
            b"*2\r\n$1\r\nm\r\n*1\r\n$1\r\ny\r\n",
        );
        let mut s = Session::resp3();
        s.check("lmpop 1 none left", b"_\r\n");
        s.check("rpush l a", b":1\r\n");
        s.check("lmpop 1 l left", b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n");
    }

    #[test]
    fn lmpop_checks_its_arguments_in_order() {
        let mut s = Session::new();
        let numkeys: &[u8] = b"-ERR numkeys should be greater than 0\r\n";
        let count: &[u8] = b"-ERR count should be greater than 0\r\n";
        s.check("rpush l a b", b":2\r\n");
        s.check("lmpop 0 l left", numkeys);
        s.check("lmpop -1 l left", numkeys);
        s.check("lmpop x l left", numkeys);
        s.check("lmpop 0 l up count 0", numkeys);
        s.check("lmpop 5 l left", SYNTAX);
        s.check("lmpop 2 l left", SYNTAX);
        s.check("lmpop 9223372036854775807 l left", SYNTAX);
        s.check("lmpop 1 l up", SYNTAX);
        s.check("lmpop 1 l up count 0", SYNTAX);
        s.check("lmpop 1 l left count 0", count);
        s.check("lmpop 1 l left count -1", count);
        s.check("lmpop 1 l left count x", count);
        s.check("lmpop 1 l left count 9223372036854775808", count);
        s.check("lmpop 1 l left count", SYNTAX);
        s.check("lmpop 1 l left bogus", SYNTAX);
        s.check("lmpop 1 l left bogus count 0", SYNTAX);
        s.check("lmpop 1 l left count 1 bogus", SYNTAX);
        s.check("lmpop 1 l left count 1 count 2", SYNTAX);
        s.check("lmpop 1 l left count 0 count 1", count);
        s.check("lmpop 1 l left count x bogus", count);
        s.check(
            "lmpop 1 l",
            b"-ERR wrong number of arguments for 'lmpop' command\r\n",
        );
        s.check("llen l", b":2\r\n");
    }

    #[test]
    fn set_replaces_a_list_unless_get_needs_the_old_string() {
        let mut s = Session::new();
        s.check("rpush l a", b":1\r\n");
        s.check("pexpire l 100000", b":1\r\n");
        s.check("set l x keepttl", b"+OK\r\n");
        s.check("pttl l", b":100000\r\n");
        s.check("type l", b"+string\r\n");
        s.check("rpush l a", WRONGTYPE);
        s.check("del l", b":1\r\n");
        s.check("rpush l a", b":1\r\n");
        s.check("set l x nx", b"$-1\r\n");
        s.check("set l x xx", b"+OK\r\n");
        s.check("get l", b"$1\r\nx\r\n");
        s.check("rpush m a", b":1\r\n");
        s.check("set m x get", WRONGTYPE);
        s.check("set m x nx get", WRONGTYPE);
        s.check("getset m x", WRONGTYPE);
        s.check("type m", b"+list\r\n");
    }

    #[test]
    fn a_long_string_replaces_a_list() {
        let mut s = Session::new();
        let long = "x".repeat(600);
        s.check("rpush l a", b":1\r\n");
        s.check(&format!("set l {long}"), b"+OK\r\n");
        s.check("strlen l", b":600\r\n");
        s.check("rpush l a", WRONGTYPE);
        s.check("del l", b":1\r\n");
        s.check("rpush l a", b":1\r\n");
        s.check(&format!("mset l {long}"), b"+OK\r\n");
        s.check("strlen l", b":600\r\n");
    }

    #[test]
    fn only_reads_count_as_keyspace_hits_and_misses() {
        let mut s = Session::new();
        s.check("rpush l a b c", b":3\r\n");
        s.check("lpop l", b"$1\r\na\r\n");
        s.check("lmove l d left left", b"$1\r\nb\r\n");
        s.check("lrem l 0 c", b":1\r\n");
        assert_eq!(s.ks.stats(), (0, 0, 0));
        s.check("lrange d 0 -1", b"*1\r\n$1\r\nb\r\n");
        s.check("lrange none 0 -1", b"*0\r\n");
        s.check("lpos d b", b":0\r\n");
        assert_eq!(s.ks.stats(), (2, 1, 0));
    }

    #[test]
    fn pop_from_returns_elements_for_blocking_callers() {
        let mut ks = Keyspace::new(16, 0);
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ex = Exec {
            ks: &mut ks,
            db: 0,
            now_ms: 1_000,
            seed: 1,
            out: &mut out,
        };
        ex.run(lookup(b"rpush").unwrap(), &[b"rpush", b"k", b"a", b"b"]);
        assert_eq!(pop_from(&mut ex, b"none", End::Left, 1), Ok(None));
        let popped = pop_from(&mut ex, b"k", End::Right, usize::MAX)
            .unwrap()
            .unwrap();
        assert_eq!(popped, [Bytes::from(&b"b"[..]), Bytes::from(&b"a"[..])]);
        assert!(ex.db().get(b"k", 1_000).is_none());
        assert_eq!(
            move_element(&mut ex, b"k", b"t", End::Left, End::Left),
            Ok(None)
        );
    }
}
