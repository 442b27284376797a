//! Sorted sets.
//!
//! ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...] ·
//! ZINCRBY key increment member · ZREM key member [member ...] · ZCARD key · ZSCORE key member ·
//! ZMSCORE key member [member ...] · ZRANK / ZREVRANK key member [WITHSCORE] ·
//! ZCOUNT key min max · ZLEXCOUNT key min max ·
//! ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES] ·
//! ZRANGESTORE dst src start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] ·
//! ZREVRANGE key start stop [WITHSCORES] ·
//! ZRANGEBYSCORE / ZREVRANGEBYSCORE key min|max max|min [WITHSCORES] [LIMIT offset count] ·
//! ZRANGEBYLEX / ZREVRANGEBYLEX key min|max max|min [LIMIT offset count] ·
//! ZREMRANGEBYRANK key start stop · ZREMRANGEBYSCORE / ZREMRANGEBYLEX key min max ·
//! ZPOPMIN / ZPOPMAX key [count] · ZMPOP numkeys key [key ...] MIN | MAX [COUNT count] ·
//! ZUNION / ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
//! [WITHSCORES] · ZDIFF numkeys key [key ...] [WITHSCORES] ·
//! ZUNIONSTORE / ZINTERSTORE / ZDIFFSTORE destination numkeys key [key ...] [options] ·
//! ZINTERCARD numkeys key [key ...] [LIMIT limit] · ZRANDMEMBER key [count [WITHSCORES]] ·
//! ZSCAN key cursor [MATCH pattern] [COUNT count]
//!
//! Arguments are checked in Redis's order: syntax and numbers first, then the key's type.
//! Scores are read the way Redis reads them, with C's `strtod` (see [`arg_score`] and
//! [`arg_score_bound`], which differ as Redis's two uses do). Two deliberate differences from
//! Redis 7.0, both about its big encoding: -0 is stored as 0 (Redis's compact encoding does the
//! same, its skiplist keeps -0), and lexicographic ranges over members with different scores are
//! computed the way the compact encoding computes them whatever the size (Redis's skiplist gives
//! answers that depend on its random levels; the result is documented as unspecified).

use std::collections::{HashMap, HashSet};

use resp::{ReplyWriter, format_double};

use crate::db::Db;
use crate::error::Error;
use crate::exec::{Exec, Rng, arg_i64, arg_scan_cursor, eq};
use crate::glob::glob_match;
use crate::notify;
use crate::types::{Bytes, Set, collection_hasher};
use crate::value::{Entry, Value, ValueMut, ValueRef};
use crate::zset::{LexBound, ZSet};

/// Redis keeps a sorted set in its compact encoding up to this many members...
const COMPACT_ENTRIES_MAX: usize = 128;
/// ... of at most this many bytes each; ZSCAN returns such a set whole, in order, in one call.
const COMPACT_MEMBER_BYTES_MAX: usize = 64;
/// Picks with repetition (a negative count) one ZRANDMEMBER may make. Redis has no limit and
/// streams the reply; a bounded reply here keeps a typo from exhausting memory.
const RANDOM_PICKS_MAX: u64 = 1 << 24;
/// Bytes the reply of one ZRANDMEMBER with a negative count may take, whatever the members' size.
const RANDOM_REPLY_BYTES_MAX: usize = crate::STRING_BYTES_MAX;

// --- lookups, events, replies ----------------------------------------------------------------

/// The live sorted set under `key`: `Ok(None)` if there is none, WRONGTYPE for another type.
fn read<'a>(db: &'a Db, key: &[u8], now_ms: u64) -> Result<Option<&'a ZSet>, Error> {
    match db.get(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Error::WrongType),
    }
}

/// As [`read`], for a command that may then write: an expired key is deleted first.
fn read_live<'a>(db: &'a mut Db, key: &[u8], now_ms: u64) -> Result<Option<&'a ZSet>, Error> {
    match db.get_live(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The sorted set under `key` to change in place; [`read_live`] must have found it. Only called
/// once a change is certain: it counts as a write (WATCH, the key's write time).
fn change<'a>(db: &'a mut Db, key: &[u8], now_ms: u64) -> &'a mut ZSet {
    match db.value_mut(key, now_ms) {
        Some(ValueMut::ZSet(z)) => z,
        _ => unreachable!("the key was just found holding a sorted set"),
    }
}

/// Deletes `key` after a command emptied its sorted set: Redis keeps no empty collection.
fn delete_emptied(ex: &mut Exec, key: &[u8]) {
    ex.db_mut().delete(key);
    ex.notify(notify::GENERIC, "del", key);
}

/// Replaces `key` with `result` (without a TTL), or deletes it if `result` is empty, as the
/// storing commands do; returns the size stored.
fn store(ex: &mut Exec, key: &[u8], result: ZSet, event: &'static str) -> usize {
    let (len, now) = (result.len(), ex.now_ms);
    if len == 0 {
        if ex
            .db_mut()
            .delete(key)
            .is_some_and(|at| at == 0 || at > now)
        {
            ex.notify(notify::GENERIC, "del", key);
        }
    } else {
        ex.db_mut()
            .insert(key, Entry::new(Value::ZSet(Box::new(result)), 0, now));
        ex.notify(notify::ZSET, event, key);
    }
    len
}

/// Elements as ZRANGE replies with them: members alone, or with their scores, as
/// [member, score] pairs in RESP3 and flat in RESP2.
fn reply_elements<'a>(
    out: &mut ReplyWriter,
    elements: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
    withscores: bool,
) {
    let n = elements.len();
    match (withscores, out.is_resp3()) {
        (false, _) => out.array(n),
        (true, true) => out.array(n),
        (true, false) => out.array(2 * n),
    }
    for (member, score) in elements {
        if withscores && out.is_resp3() {
            out.array(2);
        }
        out.bulk(member);
        if withscores {
            out.double(score);
        }
    }
}

fn owned(elements: &[(Bytes, f64)]) -> impl ExactSizeIterator<Item = (&[u8], f64)> {
    elements.iter().map(|(m, s)| (&m[..], *s))
}

// --- numbers -------------------------------------------------------------------------------

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// What glibc's `strtod` makes of a whole text, None unless it reads all of it: the value, and
/// whether it is out of range (overflowed to infinity or underflowed to zero: `ERANGE`).
/// Accepted: decimal numbers (`1`, `-1.5`, `.5`, `5.`, `1e5`), hexadecimal ones (`0x1.8p3`),
/// `inf` / `infinity` and `nan` / `nan(chars)` in any case, each with an optional sign.
fn strtod(text: &[u8]) -> Option<(f64, bool)> {
    let (negative, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let signed = |v: f64| if negative { -v } else { v };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some((signed(f64::INFINITY), false));
    }
    if is_nan_text(body) {
        return Some((f64::NAN, false));
    }
    if body.len() > 2 && body[0] == b'0' && body[1] | 0x20 == b'x' {
        return parse_hex(&body[2..]).map(|(v, range)| (signed(v), range));
    }
    let mut i = 0;
    let (mut digits, mut nonzero) = (0, false);
    let mut mantissa_digits = |i: &mut usize| {
        while *i < body.len() && body[*i].is_ascii_digit() {
            nonzero |= body[*i] != b'0';
            digits += 1;
            *i += 1;
        }
    };
    mantissa_digits(&mut i);
    if body.get(i) == Some(&b'.') {
        i += 1;
        mantissa_digits(&mut i);
    }
    if digits == 0 {
        return None;
    }
    if body.get(i).is_some_and(|&c| c | 0x20 == b'e') {
        i += 1;
        if matches!(body.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent_at = i;
        while i < body.len() && body[i].is_ascii_digit() {
            i += 1;
        }
        if i == exponent_at {
            return None;
        }
    }
    if i != body.len() {
        return None;
    }
    // The text is now plain decimal syntax, which Rust parses with correct rounding, as glibc.
    let value: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    let out_of_range = value.is_infinite() || (value == 0.0 && nonzero);
    Some((signed(value), out_of_range))
}

fn is_nan_text(text: &[u8]) -> bool {
    if text.len() < 3 || !text[..3].eq_ignore_ascii_case(b"nan") {
        return false;
    }
    match &text[3..] {
        [] => true,
        [b'(', inner @ .., b')'] => inner
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_'),
        _ => false,
    }
}

/// The digits of a hexadecimal float after `0x`: hex digits with an optional point, then an
/// optional binary exponent (`p` and decimal digits), correctly rounded.
fn parse_hex(text: &[u8]) -> Option<(f64, bool)> {
    let (mut mantissa, mut sticky, mut exponent) = (0u64, false, 0i64);
    let (mut seen, mut point) = (false, false);
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c == b'.' && !point {
            point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            seen = true;
            if mantissa >> 60 == 0 {
                mantissa = mantissa << 4 | u64::from(d);
                if point {
                    exponent -= 4;
                }
            } else {
                // No room left: the digit only matters for rounding, and its place.
                sticky |= d != 0;
                if !point {
                    exponent += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if i < text.len() {
        if text[i] | 0x20 != b'p' {
            return None;
        }
        let mut rest = &text[i + 1..];
        let negative = rest.first() == Some(&b'-');
        if matches!(rest.first(), Some(b'+' | b'-')) {
            rest = &rest[1..];
        }
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let value = rest.iter().fold(0i64, |v, &c| {
            (v * 10 + i64::from(c - b'0')).min(1_000_000_000)
        });
        exponent += if negative { -value } else { value };
    }
    if mantissa == 0 {
        return Some((0.0, false));
    }
    Some(compose(mantissa, sticky, exponent))
}

/// `mantissa * 2^exponent` (plus a little more if `sticky`) rounded to the nearest double, ties
/// to even; and whether that overflowed or underflowed to zero.
fn compose(mantissa: u64, sticky: bool, exponent: i64) -> (f64, bool) {
    let bits = 64 - i64::from(mantissa.leading_zeros());
    let top = exponent + bits - 1;
    // Significant bits the result can keep: 53, fewer for a subnormal result.
    let keep = if top >= -1022 { 53 } else { top + 1075 };
    if keep < 0 {
        return (0.0, true);
    }
    if keep == 0 {
        // Between 2^-1075 and 2^-1074: rounds up unless it is exactly the tie.
        let tie = mantissa.is_power_of_two() && !sticky;
        return if tie {
            (0.0, true)
        } else {
            (f64::from_bits(1), false)
        };
    }
    let drop = bits - keep;
    let (mut m, mut e) = (mantissa, exponent);
    if drop > 0 {
        let half = (mantissa >> (drop - 1)) & 1 == 1;
        let below = sticky || mantissa & ((1u64 << (drop - 1)) - 1) != 0;
        m = mantissa >> drop;
        if half && (below || m & 1 == 1) {
            m += 1;
        }
        e = exponent + drop;
    }
    if m == 1 << 53 {
        m >>= 1;
        e += 1;
    }
    let m_bits = 64 - i64::from(m.leading_zeros());
    let t = e + m_bits - 1;
    if t > 1023 {
        return (f64::INFINITY, true);
    }
    if t >= -1022 {
        let fraction = (m << (53 - m_bits)) & ((1 << 52) - 1);
        return (f64::from_bits(((t + 1023) as u64) << 52 | fraction), false);
    }
    (f64::from_bits(m << (e + 1074)), false)
}

/// A score or weight as ZADD, ZINCRBY and WEIGHTS read it: all of the argument is a number
/// (no leading space, which `strtod` would skip), neither out of range nor NaN.
fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.first().is_none_or(|&c| is_c_space(c)) {
        return None;
    }
    match strtod(arg) {
        Some((v, false)) if !v.is_nan() => Some(v),
        _ => None,
    }
}

fn arg_score(arg: &[u8]) -> Result<f64, Error> {
    parse_score(arg).ok_or(Error::NotFloat)
}

/// One end of a score range, `(` first for an exclusive one, the rest read as ZRANGEBYSCORE
/// reads it: `strtod` up to the first NUL byte, so leading spaces, an empty text (0) and
/// out-of-range values (infinity, 0) are all accepted; NaN is not.
fn arg_score_bound(arg: &[u8]) -> Result<(f64, bool), Error> {
    let (exclusive, text) = match arg {
        [b'(', rest @ ..] => (true, rest),
        _ => (false, arg),
    };
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let start = text
        .iter()
        .position(|&c| !is_c_space(c))
        .unwrap_or(text.len());
    let value = match (text.is_empty(), strtod(&text[start..])) {
        (true, _) => 0.0,
        (false, Some((v, _))) if !v.is_nan() => v,
        _ => return Err(Error::msg("ERR min or max is not a float")),
    };
    Ok((value, exclusive))
}

/// A score range: ZCOUNT's, ZRANGEBYSCORE's.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    min_exclusive: bool,
    max: f64,
    max_exclusive: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, Error> {
        let (min, min_exclusive) = arg_score_bound(min)?;
        let (max, max_exclusive) = arg_score_bound(max)?;
        Ok(ScoreRange {
            min,
            min_exclusive,
            max,
            max_exclusive,
        })
    }

    /// The ranks `lo..hi` of the elements in range.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = match self.min_exclusive {
            true => z.count_at_most(self.min),
            false => z.count_below(self.min),
        };
        let hi = match self.max_exclusive {
            true => z.count_below(self.max),
            false => z.count_at_most(self.max),
        };
        (lo, hi.max(lo))
    }
}

fn arg_lex(arg: &[u8]) -> Result<LexBound<'_>, Error> {
    match arg {
        b"-" => Ok(LexBound::Min),
        b"+" => Ok(LexBound::Max),
        [b'[', rest @ ..] => Ok(LexBound::Inclusive(rest)),
        [b'(', rest @ ..] => Ok(LexBound::Exclusive(rest)),
        _ => Err(Error::msg("ERR min or max not valid string range item")),
    }
}

/// ZRANGE's start and stop (inclusive, negative counting from the end) as ranks `lo..hi`.
fn rank_span(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return (0, 0);
    }
    (start as usize, stop.min(len - 1) as usize + 1)
}

/// A uniform pick in `0..n`.
fn below(rng: &mut Rng, n: usize) -> usize {
    ((u128::from(rng.next()) * n as u128) >> 64) as usize
}

// --- ZADD, ZINCRBY, ZREM --------------------------------------------------------------------

#[derive(Clone, Copy, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What one score-member pair of ZADD does to a member whose score is `current`: `Ok(None)` if
/// the flags skip it, else the member's new score.
fn decide(current: Option<f64>, score: f64, flags: AddFlags) -> Result<Option<f64>, Error> {
    let Some(current) = current else {
        return Ok((!flags.xx).then_some(score));
    };
    if flags.nx {
        return Ok(None);
    }
    let new = if flags.incr { current + score } else { score };
    if new.is_nan() {
        return Err(Error::msg("ERR resulting score is not a number (NaN)"));
    }
    if (flags.lt && new >= current) || (flags.gt && new <= current) {
        return Ok(None);
    }
    Ok(Some(new))
}

pub(crate) fn zadd(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let flag = match args[i].to_ascii_lowercase().as_slice() {
            b"nx" => &mut flags.nx,
            b"xx" => &mut flags.xx,
            b"gt" => &mut flags.gt,
            b"lt" => &mut flags.lt,
            b"ch" => &mut flags.ch,
            b"incr" => &mut flags.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let elements = &args[i..];
    if elements.is_empty() || !elements.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(Error::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Error::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && elements.len() > 2 {
        return Err(Error::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = elements
        .chunks_exact(2)
        .map(|p| Ok((arg_score(p[0])?, p[1])))
        .collect::<Result<Vec<_>, Error>>()?;
    add(ex, args[1], &pairs, flags)
}

pub(crate) fn zincrby(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let increment = arg_score(args[2])?;
    let flags = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add(ex, args[1], &[(increment, args[3])], flags)
}

/// Applies ZADD's pairs in order and replies: the count added (or changed, with CH), or with
/// INCR the new score (null if the flags skipped it).
fn add(ex: &mut Exec, key: &[u8], pairs: &[(f64, &[u8])], flags: AddFlags) -> Result<(), Error> {
    let now = ex.now_ms;
    let db = ex.ks.db_mut(ex.db);
    // A first pass decides without writing: a ZADD that changes nothing is no write (it must
    // not disturb a WATCH). If no pair changes the set as it is, none does in sequence either.
    let exists = match read_live(db, key, now)? {
        Some(z) => {
            let (mut changes, mut incr_reply) = (false, None);
            for &(score, member) in pairs {
                let current = z.score(member);
                incr_reply = decide(current, score, flags)?;
                changes |= incr_reply.is_some_and(|new| current != Some(new));
            }
            if !changes {
                match incr_reply {
                    Some(score) if flags.incr => ex.out.double(score),
                    None if flags.incr => ex.out.null(),
                    _ => ex.out.int(0),
                }
                return Ok(());
            }
            true
        }
        None => false,
    };
    let mut fresh = ZSet::default();
    let z = if exists {
        change(ex.ks.db_mut(ex.db), key, now)
    } else {
        &mut fresh
    };
    let (mut added, mut updated, mut incr_reply) = (0, 0, None);
    for &(score, member) in pairs {
        let current = z.score(member);
        let Some(new) = decide(current, score, flags)? else {
            continue;
        };
        incr_reply = Some(new);
        if current.is_none() {
            z.insert(member, new);
            added += 1;
        } else if current != Some(new) {
            z.insert(member, new);
            updated += 1;
        }
    }
    if !exists && !fresh.is_empty() {
        ex.db_mut()
            .insert(key, Entry::new(Value::ZSet(Box::new(fresh)), 0, now));
    }
    if added + updated > 0 {
        ex.notify(notify::ZSET, if flags.incr { "zincr" } else { "zadd" }, key);
    }
    match (flags.incr, incr_reply) {
        (true, Some(score)) => ex.out.double(score),
        (true, None) => ex.out.null(),
        (false, _) if flags.ch => ex.out.int(added + updated),
        (false, _) => ex.out.int(added),
    }
    Ok(())
}

pub(crate) fn zrem(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, members, now) = (args[1], &args[2..], ex.now_ms);
    let db = ex.ks.db_mut(ex.db);
    let Some(z) = read_live(db, key, now)? else {
        ex.out.int(0);
        return Ok(());
    };
    if !members.iter().any(|m| z.score(m).is_some()) {
        ex.out.int(0);
        return Ok(());
    }
    let z = change(db, key, now);
    let removed = members.iter().filter(|m| z.remove(m)).count();
    let emptied = z.is_empty();
    ex.out.int(removed as i64);
    ex.notify(notify::ZSET, "zrem", key);
    if emptied {
        delete_emptied(ex, key);
    }
    Ok(())
}

// --- reads of single members -----------------------------------------------------------------

pub(crate) fn zcard(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    ex.out.int(z.map_or(0, |z| z.len() as i64));
    Ok(())
}

pub(crate) fn zscore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    match z.and_then(|z| z.score(args[2])) {
        Some(score) => ex.out.double(score),
        None => ex.out.null(),
    }
    Ok(())
}

pub(crate) fn zmscore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    let members = &args[2..];
    ex.out.array(members.len());
    for member in members {
        match z.and_then(|z| z.score(member)) {
            Some(score) => ex.out.double(score),
            None => ex.out.null(),
        }
    }
    Ok(())
}

pub(crate) fn zrank(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    rank_generic(ex, args, false, "zrank")
}

pub(crate) fn zrevrank(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    rank_generic(ex, args, true, "zrevrank")
}

/// ZRANK and ZREVRANK; WITHSCORE is Redis 7.2's.
fn rank_generic(
    ex: &mut Exec,
    args: &[&[u8]],
    reverse: bool,
    name: &'static str,
) -> Result<(), Error> {
    if args.len() > 4 {
        return Err(Error::WrongArity(name));
    }
    let withscore = match args.get(3) {
        None => false,
        Some(arg) if eq(arg, "withscore") => true,
        Some(_) => return Err(Error::Syntax),
    };
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    let found = z.and_then(|z| {
        let rank = z.rank(args[2])?;
        let rank = if reverse { z.len() - 1 - rank } else { rank };
        Some((rank, z.score(args[2])?))
    });
    match (found, withscore) {
        (None, false) => ex.out.null(),
        (None, true) => ex.out.null_array(),
        (Some((rank, _)), false) => ex.out.int(rank as i64),
        (Some((rank, score)), true) => {
            ex.out.array(2);
            ex.out.int(rank as i64);
            ex.out.double(score);
        }
    }
    Ok(())
}

pub(crate) fn zcount(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let range = ScoreRange::parse(args[2], args[3])?;
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    let (lo, hi) = z.map_or((0, 0), |z| range.ranks(z));
    ex.out.int((hi - lo) as i64);
    Ok(())
}

pub(crate) fn zlexcount(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (min, max) = (arg_lex(args[2])?, arg_lex(args[3])?);
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    let (lo, hi) = z.map_or((0, 0), |z| z.lex_ranks(min, max, false));
    ex.out.int((hi - lo) as i64);
    Ok(())
}

// --- ranges ------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// What a range command selects, parsed before the key is looked at.
#[derive(Clone, Copy, Debug)]
enum Span<'a> {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexBound<'a>, LexBound<'a>),
}

#[derive(Clone, Copy, Debug)]
struct RangeQuery<'a> {
    span: Span<'a>,
    reverse: bool,
    withscores: bool,
    /// LIMIT's offset and count (a negative count: no limit).
    limit: Option<(i64, i64)>,
}

impl RangeQuery<'_> {
    /// The ranks `lo..hi` selected in `z` (walked from `hi` down with `reverse`).
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let (lo, hi) = match self.span {
            Span::Rank(start, stop) if self.reverse => {
                let (a, b) = rank_span(start, stop, z.len());
                (z.len() - b, z.len() - a)
            }
            Span::Rank(start, stop) => return rank_span(start, stop, z.len()),
            Span::Score(range) => range.ranks(z),
            Span::Lex(min, max) => z.lex_ranks(min, max, self.reverse),
        };
        let Some((offset, count)) = self.limit else {
            return (lo, hi);
        };
        let available = (hi - lo) as u64;
        if offset < 0 || offset as u64 >= available {
            return (lo, lo);
        }
        let offset = offset as usize;
        let taken = match u64::try_from(count) {
            Ok(count) => count.min(available - offset as u64) as usize,
            Err(_) => available as usize - offset,
        };
        if self.reverse {
            (hi - offset - taken, hi - offset)
        } else {
            (lo + offset, lo + offset + taken)
        }
    }

    /// Calls `f` with the selected elements in reply order.
    fn walk<R>(
        &self,
        z: &ZSet,
        f: impl FnOnce(&mut dyn ExactSizeIterator<Item = (&[u8], f64)>) -> R,
    ) -> R {
        let (lo, hi) = self.ranks(z);
        if self.reverse {
            f(&mut z.range(lo, hi).rev())
        } else {
            f(&mut z.range(lo, hi))
        }
    }
}

/// Parses `start stop [options]` of ZRANGE and its legacy forms, whose kind (`by`) and
/// direction are fixed by the command (then BYSCORE, BYLEX and REV are syntax errors).
fn parse_range<'a>(
    args: &[&'a [u8]],
    by: Option<By>,
    reverse: Option<bool>,
    store: bool,
) -> Result<RangeQuery<'a>, Error> {
    let (mut by_opt, mut reverse_opt) = (by, reverse);
    let (mut withscores, mut limit) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let arg = args[i];
        if !store && eq(arg, "withscores") {
            withscores = true;
        } else if eq(arg, "limit") && args.len() - i > 2 {
            limit = Some((arg_i64(args[i + 1])?, arg_i64(args[i + 2])?));
            i += 2;
        } else if reverse_opt.is_none() && eq(arg, "rev") {
            reverse_opt = Some(true);
        } else if by_opt.is_none() && eq(arg, "bylex") {
            by_opt = Some(By::Lex);
        } else if by_opt.is_none() && eq(arg, "byscore") {
            by_opt = Some(By::Score);
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let by = by_opt.unwrap_or(By::Rank);
    let reverse = reverse_opt.unwrap_or(false);
    // Redis only refuses a LIMIT whose count is not -1 on a rank range (and then ignores it).
    if by == By::Rank && limit.is_some_and(|(_, count)| count != -1) {
        return Err(Error::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if by == By::Lex && withscores {
        return Err(Error::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are written max first.
    let (min, max) = match (by, reverse) {
        (By::Rank, _) | (_, false) => (args[0], args[1]),
        (_, true) => (args[1], args[0]),
    };
    let span = match by {
        By::Rank => {
            limit = None;
            Span::Rank(arg_i64(min)?, arg_i64(max)?)
        }
        By::Score => Span::Score(ScoreRange::parse(min, max)?),
        By::Lex => Span::Lex(arg_lex(min)?, arg_lex(max)?),
    };
    Ok(RangeQuery {
        span,
        reverse,
        withscores,
        limit,
    })
}

fn range_generic(
    ex: &mut Exec,
    args: &[&[u8]],
    by: Option<By>,
    reverse: Option<bool>,
) -> Result<(), Error> {
    let query = parse_range(&args[2..], by, reverse, false)?;
    let Some(z) = read(ex.ks.db(ex.db), args[1], ex.now_ms)? else {
        ex.out.array(0);
        return Ok(());
    };
    let out = &mut *ex.out;
    query.walk(z, |elements| {
        reply_elements(out, elements, query.withscores)
    });
    Ok(())
}

pub(crate) fn zrange(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, None, None)
}

pub(crate) fn zrevrange(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, Some(By::Rank), Some(true))
}

pub(crate) fn zrangebyscore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, Some(By::Score), Some(false))
}

pub(crate) fn zrevrangebyscore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, Some(By::Score), Some(true))
}

pub(crate) fn zrangebylex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, Some(By::Lex), Some(false))
}

pub(crate) fn zrevrangebylex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    range_generic(ex, args, Some(By::Lex), Some(true))
}

pub(crate) fn zrangestore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (target, source) = (args[1], args[2]);
    let query = parse_range(&args[3..], None, None, true)?;
    let mut result = ZSet::default();
    if let Some(z) = read(ex.ks.db(ex.db), source, ex.now_ms)? {
        query.walk(z, |elements| {
            elements.for_each(|(m, s)| {
                result.insert(m, s);
            })
        });
    }
    let stored = store(ex, target, result, "zrangestore");
    ex.out.int(stored as i64);
    Ok(())
}

/// ZREMRANGEBY*: removes the ranks `span` selects; replies with how many.
fn remove_span(ex: &mut Exec, key: &[u8], span: Span, event: &'static str) -> Result<(), Error> {
    let now = ex.now_ms;
    let db = ex.ks.db_mut(ex.db);
    let query = RangeQuery {
        span,
        reverse: false,
        withscores: false,
        limit: None,
    };
    let (lo, hi) = match read_live(db, key, now)? {
        Some(z) => query.ranks(z),
        None => (0, 0),
    };
    if lo == hi {
        ex.out.int(0);
        return Ok(());
    }
    let z = change(db, key, now);
    z.remove_range(lo, hi, |_, _| {});
    let emptied = z.is_empty();
    ex.out.int((hi - lo) as i64);
    ex.notify(notify::ZSET, event, key);
    if emptied {
        delete_emptied(ex, key);
    }
    Ok(())
}

pub(crate) fn zremrangebyrank(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let span = Span::Rank(arg_i64(args[2])?, arg_i64(args[3])?);
    remove_span(ex, args[1], span, "zremrangebyrank")
}

pub(crate) fn zremrangebyscore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let span = Span::Score(ScoreRange::parse(args[2], args[3])?);
    remove_span(ex, args[1], span, "zremrangebyscore")
}

pub(crate) fn zremrangebylex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let span = Span::Lex(arg_lex(args[2])?, arg_lex(args[3])?);
    remove_span(ex, args[1], span, "zremrangebylex")
}

// --- pops ----------------------------------------------------------------------------------

/// Pops up to `count` elements, lowest first (highest first with `max`), from the sorted set
/// under `key`, which must be live; deletes the key if that empties it and records the events.
/// ZPOPMIN, ZPOPMAX and ZMPOP, and later their blocking forms, pop through here.
pub(crate) fn pop(ex: &mut Exec, key: &[u8], max: bool, count: usize) -> Vec<(Bytes, f64)> {
    let now = ex.now_ms;
    let z = change(ex.ks.db_mut(ex.db), key, now);
    let n = count.min(z.len());
    let (lo, hi) = if max { (z.len() - n, z.len()) } else { (0, n) };
    let mut popped = Vec::with_capacity(n);
    z.remove_range(lo, hi, |m, s| popped.push((m, s)));
    if max {
        popped.reverse();
    }
    let emptied = z.is_empty();
    ex.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    if emptied {
        delete_emptied(ex, key);
    }
    popped
}

fn pop_generic(ex: &mut Exec, args: &[&[u8]], max: bool) -> Result<(), Error> {
    let count = match args.len() {
        2 => None,
        3 => Some(
            arg_i64(args[2])
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))?,
        ),
        _ => return Err(Error::Syntax),
    };
    let (key, now) = (args[1], ex.now_ms);
    let live = read_live(ex.ks.db_mut(ex.db), key, now)?.is_some();
    if !live || count == Some(0) {
        ex.out.array(0);
        return Ok(());
    }
    let popped = pop(ex, key, max, count.unwrap_or(1));
    match count {
        // Without a count: one flat [member, score] pair, in RESP3 too.
        None => {
            ex.out.array(2);
            ex.out.bulk(&popped[0].0);
            ex.out.double(popped[0].1);
        }
        Some(_) => reply_elements(ex.out, owned(&popped), true),
    }
    Ok(())
}

pub(crate) fn zpopmin(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    pop_generic(ex, args, false)
}

pub(crate) fn zpopmax(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    pop_generic(ex, args, true)
}

/// ZMPOP's arguments after `numkeys` has been checked: the keys, which end, and how many.
pub(crate) struct MpopArgs<'a, 'b> {
    pub keys: &'b [&'a [u8]],
    pub max: bool,
    pub count: usize,
}

/// Parses `numkeys key [key ...] MIN | MAX [COUNT count]` (ZMPOP's, and BZMPOP's after its
/// timeout).
pub(crate) fn parse_mpop<'a, 'b>(args: &'b [&'a [u8]]) -> Result<MpopArgs<'a, 'b>, Error> {
    let numkeys = arg_i64(args[0])
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?;
    if numkeys as u64 >= args.len() as u64 - 1 {
        return Err(Error::Syntax);
    }
    let numkeys = numkeys as usize;
    let (keys, rest) = (&args[1..=numkeys], &args[numkeys + 1..]);
    let max = match rest[0] {
        w if eq(w, "min") => false,
        w if eq(w, "max") => true,
        _ => return Err(Error::Syntax),
    };
    // Options are read in order, so a bad count is reported before a repeated COUNT.
    let mut count = None;
    let mut i = 1;
    while i < rest.len() {
        if count.is_none() && eq(rest[i], "count") && i + 1 < rest.len() {
            let n = arg_i64(rest[i + 1])
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::msg("ERR count should be greater than 0"))?;
            count = Some(n as usize);
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok(MpopArgs {
        keys,
        max,
        count: count.unwrap_or(1),
    })
}

pub(crate) fn zmpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let mpop = parse_mpop(&args[1..])?;
    let now = ex.now_ms;
    for &key in mpop.keys {
        if read_live(ex.ks.db_mut(ex.db), key, now)?.is_none() {
            continue;
        }
        let popped = pop(ex, key, mpop.max, mpop.count);
        reply_mpop(ex.out, key, &popped);
        return Ok(());
    }
    ex.out.null_array();
    Ok(())
}

/// `[key, [[member, score], ...]]`, nested in RESP2 too.
pub(crate) fn reply_mpop(out: &mut ReplyWriter, key: &[u8], popped: &[(Bytes, f64)]) {
    out.array(2);
    out.bulk(key);
    out.array(popped.len());
    for (member, score) in popped {
        out.array(2);
        out.bulk(member);
        out.double(*score);
    }
}

// --- ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD ---------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `acc`; a NaN `value` (possible in an intersection) never wins MIN or
    /// MAX, and a NaN sum is 0.
    fn apply(self, acc: f64, value: f64) -> f64 {
        match self {
            // inf + -inf is NaN: Redis makes it 0.
            Aggregate::Sum => Some(acc + value).filter(|s| !s.is_nan()).unwrap_or(0.0),
            Aggregate::Min => {
                if value < acc {
                    value
                } else {
                    acc
                }
            }
            Aggregate::Max => {
                if value > acc {
                    value
                } else {
                    acc
                }
            }
        }
    }
}

/// An input of the set operations: a sorted set, or a set whose members all score 1.
#[derive(Clone, Copy)]
enum Input<'a> {
    Missing,
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl<'a> Input<'a> {
    fn len(&self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Sorted(z) => z.len(),
            Input::Plain(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Sorted(z) => z.score(member),
            Input::Plain(s) => s.contains(member).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&'a [u8], f64)) {
        match *self {
            Input::Missing => {}
            Input::Sorted(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Input::Plain(s) => s.iter().for_each(|m| f(m, 1.0)),
        }
    }
}

/// Some of a command's arguments.
type Args<'b, 'a> = &'b [&'a [u8]];

/// Splits `numkeys key [key ...] rest...` into the keys and the rest.
fn split_keys<'a, 'b>(
    args: Args<'b, 'a>,
    command: &str,
) -> Result<(Args<'b, 'a>, Args<'b, 'a>), Error> {
    let n = arg_i64(args[0])?;
    if n < 1 {
        return Err(Error::msg(format!(
            "ERR at least 1 input key is needed for '{command}' command"
        )));
    }
    if n as u64 > args.len() as u64 - 1 {
        return Err(Error::Syntax);
    }
    Ok((&args[1..=n as usize], &args[n as usize + 1..]))
}

fn read_inputs<'a>(db: &'a Db, keys: &[&[u8]], now_ms: u64) -> Result<Vec<Input<'a>>, Error> {
    keys.iter()
        .map(|key| match db.get(key, now_ms).map(|e| e.value) {
            None => Ok(Input::Missing),
            Some(ValueRef::ZSet(z)) => Ok(Input::Sorted(z)),
            Some(ValueRef::Set(s)) => Ok(Input::Plain(s)),
            Some(_) => Err(Error::WrongType),
        })
        .collect()
}

/// A weighted score: NaN (inf * 0) counts as 0, as in Redis.
fn weighted(score: f64, weight: f64) -> f64 {
    Some(score * weight).filter(|s| !s.is_nan()).unwrap_or(0.0)
}

/// Computes a set operation. Union and intersection fold the inputs smallest first (a stable
/// sort by size, as Redis does), which decides how floating-point sums round.
fn combine(inputs: &[Input], weights: &[f64], op: SetOp, aggregate: Aggregate) -> ZSet {
    let mut result = ZSet::default();
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| inputs[i].len());
    }
    match op {
        SetOp::Union => {
            let mut acc: HashMap<&[u8], f64, _> = HashMap::with_hasher(collection_hasher());
            for &i in &order {
                inputs[i].for_each(|member, score| {
                    let value = weighted(score, weights[i]);
                    acc.entry(member)
                        .and_modify(|a| *a = aggregate.apply(*a, value))
                        .or_insert(value);
                });
            }
            for (member, score) in acc {
                result.insert(member, score);
            }
        }
        SetOp::Inter => {
            let (first, others) = order.split_first().expect("at least one input key");
            if inputs[*first].len() == 0 {
                return result;
            }
            inputs[*first].for_each(|member, score| {
                let mut value = weighted(score, weights[*first]);
                for &j in others {
                    let Some(other) = inputs[j].score(member) else {
                        return;
                    };
                    // Redis turns only the first weighted score's NaN into 0 here: a NaN from
                    // a later input (inf * 0) makes a sum NaN, hence 0, and loses to MIN / MAX.
                    value = aggregate.apply(value, other * weights[j]);
                }
                result.insert(member, value);
            });
        }
        SetOp::Diff => inputs[0].for_each(|member, score| {
            if !inputs[1..]
                .iter()
                .any(|other| other.score(member).is_some())
            {
                result.insert(member, score);
            }
        }),
    }
    result
}

/// ZUNION, ZINTER, ZDIFF (`target` None) and their STORE forms.
fn setop_generic(
    ex: &mut Exec,
    target: Option<&[u8]>,
    args: &[&[u8]],
    op: SetOp,
    command: &'static str,
) -> Result<(), Error> {
    let (keys, options) = split_keys(args, command)?;
    let db = ex.ks.db(ex.db);
    let inputs = read_inputs(db, keys, ex.now_ms)?;
    let mut weights = vec![1.0; keys.len()];
    let (mut aggregate, mut withscores) = (Aggregate::Sum, false);
    let mut i = 0;
    while i < options.len() {
        let left = options.len() - i;
        if op != SetOp::Diff && left > keys.len() && eq(options[i], "weights") {
            for (weight, arg) in weights.iter_mut().zip(&options[i + 1..]) {
                *weight = parse_score(arg)
                    .ok_or_else(|| Error::msg("ERR weight value is not a float"))?;
            }
            i += 1 + keys.len();
        } else if op != SetOp::Diff && left >= 2 && eq(options[i], "aggregate") {
            aggregate = match options[i + 1] {
                a if eq(a, "sum") => Aggregate::Sum,
                a if eq(a, "min") => Aggregate::Min,
                a if eq(a, "max") => Aggregate::Max,
                _ => return Err(Error::Syntax),
            };
            i += 2;
        } else if target.is_none() && eq(options[i], "withscores") {
            withscores = true;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    let result = combine(&inputs, &weights, op, aggregate);
    match target {
        Some(target) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let stored = store(ex, target, result, event);
            ex.out.int(stored as i64);
        }
        None => reply_elements(ex.out, result.iter(), withscores),
    }
    Ok(())
}

pub(crate) fn zunion(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, None, &args[1..], SetOp::Union, "zunion")
}

pub(crate) fn zinter(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, None, &args[1..], SetOp::Inter, "zinter")
}

pub(crate) fn zdiff(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, None, &args[1..], SetOp::Diff, "zdiff")
}

pub(crate) fn zunionstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, Some(args[1]), &args[2..], SetOp::Union, "zunionstore")
}

pub(crate) fn zinterstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, Some(args[1]), &args[2..], SetOp::Inter, "zinterstore")
}

pub(crate) fn zdiffstore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setop_generic(ex, Some(args[1]), &args[2..], SetOp::Diff, "zdiffstore")
}

pub(crate) fn zintercard(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (keys, options) = split_keys(&args[1..], "zintercard")?;
    let inputs = read_inputs(ex.ks.db(ex.db), keys, ex.now_ms)?;
    let mut limit = 0;
    let mut i = 0;
    while i < options.len() {
        if options.len() - i >= 2 && eq(options[i], "limit") {
            limit = arg_i64(options[i + 1])
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Error::msg("ERR LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let mut order: Vec<&Input> = inputs.iter().collect();
    order.sort_by_key(|input| input.len());
    let mut count = 0;
    if let Some((first, others)) = order.split_first() {
        // A bounded walk: stop as soon as the limit is reached.
        let mut elements: Box<dyn Iterator<Item = &[u8]>> = match first {
            Input::Missing => Box::new(std::iter::empty()),
            Input::Sorted(z) => Box::new(z.iter().map(|(m, _)| m)),
            Input::Plain(s) => Box::new(s.iter().map(AsRef::as_ref)),
        };
        while limit == 0 || count < limit {
            let Some(member) = elements.next() else {
                break;
            };
            if others.iter().all(|o| o.score(member).is_some()) {
                count += 1;
            }
        }
    }
    ex.out.int(count as i64);
    Ok(())
}

// --- ZRANDMEMBER, ZSCAN ----------------------------------------------------------------------

pub(crate) fn zrandmember(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let mut rng = Rng::new(ex.seed);
    if args.len() == 2 {
        let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
        match z.filter(|z| !z.is_empty()) {
            Some(z) => {
                let (member, _) = z.get_by_rank(below(&mut rng, z.len())).expect("in range");
                ex.out.bulk(member);
            }
            None => ex.out.null(),
        }
        return Ok(());
    }
    let count = arg_i64(args[2])?;
    if count == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.get(3) {
        None => false,
        Some(arg) if args.len() == 4 && eq(arg, "withscores") => true,
        Some(_) => return Err(Error::Syntax),
    };
    // Redis's bound, so that twice the count (members and scores) fits in a long.
    if withscores && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(Error::msg("ERR value is out of range"));
    }
    let Some(z) = read(ex.ks.db(ex.db), args[1], ex.now_ms)? else {
        ex.out.array(0);
        return Ok(());
    };
    let out = &mut *ex.out;
    if count >= 0 {
        distinct_picks(out, z, count as u64, withscores, &mut rng);
        return Ok(());
    }
    let picks = count.unsigned_abs();
    if picks > RANDOM_PICKS_MAX {
        return Err(random_reply_too_big());
    }
    let mark = out.len();
    let picks = picks as usize;
    out.array(if withscores && !out.is_resp3() {
        2 * picks
    } else {
        picks
    });
    for _ in 0..picks {
        let pick = z.get_by_rank(below(&mut rng, z.len())).expect("in range");
        reply_elements_tail(out, pick, withscores);
        if out.len() - mark > RANDOM_REPLY_BYTES_MAX {
            return Err(random_reply_too_big());
        }
    }
    Ok(())
}

fn random_reply_too_big() -> Error {
    Error::msg(format!(
        "ERR ZRANDMEMBER with a negative count is limited to {RANDOM_PICKS_MAX} picks and \
         {RANDOM_REPLY_BYTES_MAX} bytes of reply"
    ))
}

/// One element of a [`reply_elements`] array, its header already written.
fn reply_elements_tail(out: &mut ReplyWriter, (member, score): (&[u8], f64), withscores: bool) {
    if withscores && out.is_resp3() {
        out.array(2);
    }
    out.bulk(member);
    if withscores {
        out.double(score);
    }
}

/// ZRANDMEMBER with a positive count: that many distinct members (all of them if the count is
/// not below the size, highest first as Redis lists a compact set then).
fn distinct_picks(out: &mut ReplyWriter, z: &ZSet, count: u64, withscores: bool, rng: &mut Rng) {
    let len = z.len();
    if count >= len as u64 {
        reply_elements(out, z.iter().rev(), withscores);
        return;
    }
    let count = count as usize;
    let ranks: Vec<usize> = if count * 3 > len {
        // Many picks: the start of a shuffle of every rank.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + below(rng, len - i);
            ranks.swap(i, j);
        }
        ranks.truncate(count);
        ranks
    } else {
        // Few picks: draw until enough are distinct.
        let mut seen = HashSet::with_capacity(count);
        let mut ranks = Vec::with_capacity(count);
        while ranks.len() < count {
            let rank = below(rng, len);
            if seen.insert(rank) {
                ranks.push(rank);
            }
        }
        ranks
    };
    let picks = ranks
        .iter()
        .map(|&r| z.get_by_rank(r).expect("in range"))
        .collect::<Vec<_>>();
    reply_elements(out, picks.into_iter(), withscores);
}

pub(crate) fn zscan(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let cursor = arg_scan_cursor(args[2])?;
    let z = read(ex.ks.db(ex.db), args[1], ex.now_ms)?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    if z.is_some() {
        let mut i = 3;
        while i < args.len() {
            let Some(&value) = args.get(i + 1) else {
                return Err(Error::Syntax);
            };
            if eq(args[i], "count") {
                count = usize::try_from(arg_i64(value)?)
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or(Error::Syntax)?;
            } else if eq(args[i], "match") {
                pattern = Some(value).filter(|p| *p != b"*");
            } else {
                return Err(Error::Syntax);
            }
            i += 2;
        }
    }
    let mut found: Vec<(&[u8], f64)> = Vec::new();
    let next = match z {
        None => 0,
        // Redis returns a set in its compact encoding whole, in order, whatever the cursor.
        Some(z)
            if z.len() <= COMPACT_ENTRIES_MAX
                && z.iter().all(|(m, _)| m.len() <= COMPACT_MEMBER_BYTES_MAX) =>
        {
            found.extend(z.iter());
            0
        }
        Some(z) => z.scan(cursor, count, |m, s| found.push((m, s))),
    };
    found.retain(|(m, _)| pattern.is_none_or(|p| glob_match(p, m)));
    ex.out.array(2);
    ex.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ex.out.array(2 * found.len());
    for (member, score) in found {
        ex.out.bulk(member);
        ex.out.bulk(format_double(score).as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Keyspace;
    use resp::Protocol;

    /// Expected replies were taken from redis-server 7.0.15, except where a comment says why
    /// not (WITHSCORE is Redis 7.2's; doubles print the shortest way, as Redis 7.2 does).
    struct Session {
        ks: Keyspace,
        proto: Protocol,
        seed: u64,
        now_ms: u64,
    }

    impl Session {
        fn new() -> Self {
            Session {
                ks: Keyspace::new(16, 0),
                proto: Protocol::Resp2,
                seed: 1,
                now_ms: 1_000,
            }
        }

        fn call_args(&mut self, args: &[&[u8]]) -> String {
            let mut out = ReplyWriter::new(self.proto);
            let mut ex = Exec {
                ks: &mut self.ks,
                db: 0,
                now_ms: self.now_ms,
                seed: self.seed,
                out: &mut out,
            };
            ex.run(crate::lookup(args[0]).expect("a known command"), args);
            String::from_utf8(out.buf).expect("UTF-8 replies in these tests")
        }

        /// Runs `> command` lines, each followed by the lines of its RESP reply. Arguments are
        /// split at spaces; `""` is an empty argument and `"a b"` one with a space.
        #[track_caller]
        fn transcript(&mut self, text: &str) {
            let mut lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .peekable();
            while let Some(line) = lines.next() {
                let command = line.strip_prefix("> ").expect("a command line");
                let mut want = String::new();
                while let Some(reply) = lines.next_if(|l| !l.starts_with("> ")) {
                    want.push_str(reply);
                    want.push_str("\r\n");
                }
                let args = split(command);
                let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                let got = self.call_args(&args);
                assert_eq!(got, want, "> {command}");
            }
        }
    }

    fn split(command: &str) -> Vec<String> {
        let mut args = Vec::new();
        let mut rest = command;
        while !rest.is_empty() {
            if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted.find('"').expect("a closing quote");
                args.push(quoted[..end].to_string());
                rest = quoted[end + 1..].trim_start();
            } else {
                let end = rest.find(' ').unwrap_or(rest.len());
                args.push(rest[..end].to_string());
                rest = rest[end..].trim_start();
            }
        }
        args
    }

    #[test]
    fn zadd_options_and_their_conflicts() {
        Session::new().transcript(
            "
            > ZADD z nx xx 1 a
            -ERR XX and NX options at the same time are not compatible
            > ZADD z gt lt 1 a
            -ERR GT, LT, and/or NX options at the same time are not compatible
            > ZADD z nx lt 1 a
            -ERR GT, LT, and/or NX options at the same time are not compatible
            > ZADD z xx gt 1 a
            :0
            > ZADD z incr 1 a 2 b
            -ERR INCR option supports a single increment-element pair
            > ZADD z 1 a 2
            -ERR syntax error
            > ZADD z incr 1
            -ERR syntax error
            > ZADD z ch
            -ERR wrong number of arguments for 'zadd' command
            > ZADD z 1 a x b
            -ERR value is not a valid float
            > EXISTS z
            :0
            > ZADD z ch 1 a
            :1
            > ZADD z NX CH 1 a 2 b
            :1
            > ZADD z xx ch 5 a 6 c
            :1
            > ZADD z gt ch 4 a 7 b
            :1
            > ZADD z gt ch 8 a 9 d
            :2
            > ZRANGE z 0 -1 WITHSCORES
            *6
            $1
            b
            $1
            7
            $1
            a
            $1
            8
            $1
            d
            $1
            9
            > ZADD z lt ch 1 a 10 b
            :1
            > ZADD z gt incr -1 a
            $-1
            > ZADD z lt incr -1 a
            $1
            0
            > ZADD z xx incr 1 nope
            $-1
            > ZADD z nx incr 1 a
            $-1
            > ZADD z incr incr 1 a
            $1
            1
            > ZADD z 1 a 2 a 3 a
            :0
            > ZSCORE z a
            $1
            3
            > ZADD z ch 4 a 4 a
            :1
            > ZADD newkey xx 1 a
            :0
            > EXISTS newkey
            :0
            > SET s v
            +OK
            > ZADD s x a
            -ERR value is not a valid float
            > ZADD s 1 a
            -WRONGTYPE Operation against a key holding the wrong kind of value
            ",
        );
    }

    #[test]
    fn scores_are_read_like_strtod_and_nan_is_refused() {
        Session::new().transcript(
            r#"
            > ZADD z 0x10 hex +inf up -INFINITY down 1e3 big .5 half -0 zero
            :6
            > ZRANGE z 0 -1 WITHSCORES
            *12
            $4
            down
            $4
            -inf
            $4
            zero
            $1
            0
            $4
            half
            $3
            0.5
            $3
            hex
            $2
            16
            $3
            big
            $4
            1000
            $2
            up
            $3
            inf
            > ZADD z " 1" a
            -ERR value is not a valid float
            > ZADD z "1 " a
            -ERR value is not a valid float
            > ZADD z 1e400 a
            -ERR value is not a valid float
            > ZADD z 1e-400 a
            -ERR value is not a valid float
            > ZADD z nan a
            -ERR value is not a valid float
            > ZADD z "" a
            -ERR value is not a valid float
            > ZINCRBY z -inf up
            -ERR resulting score is not a number (NaN)
            > ZADD z incr -inf up
            -ERR resulting score is not a number (NaN)
            > ZINCRBY z x up
            -ERR value is not a valid float
            > ZINCRBY new 2.5 m
            $3
            2.5
            > ZRANGEBYSCORE z "" 5
            *2
            $4
            zero
            $4
            half
            > ZRANGEBYSCORE z " 0.5" 5
            *1
            $4
            half
            > ZRANGEBYSCORE z "(" 5
            *1
            $4
            half
            > ZRANGEBYSCORE z "1 " 5
            -ERR min or max is not a float
            > ZRANGEBYSCORE z nan 5
            -ERR min or max is not a float
            > ZRANGEBYSCORE z 1e400 +inf
            *1
            $2
            up
            > ZCOUNT z -inf (1e400
            :5
            "#,
        );
        assert_eq!(parse_score(b"1e-310"), Some(1e-310));
        assert_eq!(parse_score(b"0x1.8p1"), Some(3.0));
        assert_eq!(parse_score(b"-0x.8"), Some(-0.5));
        assert_eq!(parse_score(b"0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_score(b"0x1.8p-1075"), Some(f64::from_bits(1)));
        assert_eq!(parse_score(b"0x1p-1075"), None, "underflows to 0");
        assert_eq!(parse_score(b"0x1p1024"), None, "overflows");
        assert_eq!(parse_score(b"0x1.fffffffffffffp1023"), Some(f64::MAX));
        assert_eq!(
            parse_score(b"0x1.fffffffffffff8p1023"),
            None,
            "rounds up to inf"
        );
        assert_eq!(
            parse_score(b"0x10000000000000001"),
            Some(18446744073709551616.0)
        );
        assert_eq!(parse_score(b"0x"), None);
        assert_eq!(parse_score(b"0x1p"), None);
        assert_eq!(parse_score(b"nan(123)"), None);
        assert_eq!(parse_score(b"1\0"), None);
        assert_eq!(arg_score_bound(b"1\0junk"), Ok((1.0, false)));
        assert_eq!(arg_score_bound(b"(-1e999"), Ok((f64::NEG_INFINITY, true)));
        assert!(arg_score_bound(b"  ").is_err());
    }

    #[test]
    fn zrange_options_follow_redis() {
        let mut s = Session::new();
        s.transcript(
            "
            > ZADD z 1 a 2 b 3 c 4 d 5 e
            :5
            > ZRANGE z 0 -1 limit 0 1
            -ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX
            > ZRANGE z 0 -1 byscore bylex
            -ERR syntax error
            > ZRANGE z 0 -1 rev rev
            -ERR syntax error
            > ZRANGE z (1 5 byscore limit 1 2
            *2
            $1
            c
            $1
            d
            > ZRANGE z 5 (1 byscore rev limit 1 2
            *2
            $1
            d
            $1
            c
            > ZRANGE z [a [c bylex withscores
            -ERR syntax error, WITHSCORES not supported in combination with BYLEX
            > ZRANGE z - + bylex limit 1 -1
            *4
            $1
            b
            $1
            c
            $1
            d
            $1
            e
            > ZRANGE z - + bylex limit -1 2
            *0
            > ZRANGE z 0 1 limit 1
            -ERR syntax error
            > ZRANGE z 0 1 limit x 1
            -ERR value is not an integer or out of range
            > ZRANGE z 0 x byscore
            -ERR min or max is not a float
            > ZRANGE z a b bylex
            -ERR min or max not valid string range item
            > ZRANGE nokey x 1 foo
            -ERR syntax error
            > ZRANGE z 0 -1 limit 5 -1
            *5
            $1
            a
            $1
            b
            $1
            c
            $1
            d
            $1
            e
            > ZREVRANGE z 0 1 WITHSCORES
            *4
            $1
            e
            $1
            5
            $1
            d
            $1
            4
            > ZREVRANGE z 0 1 rev
            -ERR syntax error
            > ZRANGEBYSCORE z 1 3 rev
            -ERR syntax error
            > ZRANGEBYSCORE z 1 3 limit 1 1 withscores
            *2
            $1
            b
            $1
            2
            > ZREVRANGEBYSCORE z 3 1
            *3
            $1
            c
            $1
            b
            $1
            a
            > ZREVRANGEBYSCORE z 1 3
            *0
            > ZRANGEBYLEX z - + withscores
            -ERR syntax error, WITHSCORES not supported in combination with BYLEX
            > ZREVRANGEBYLEX z + - limit 0 2
            *2
            $1
            e
            $1
            d
            > ZRANGE z -100 100
            *5
            $1
            a
            $1
            b
            $1
            c
            $1
            d
            $1
            e
            > ZRANGE z -1 -2
            *0
            > ZRANGE z -9223372036854775808 -9223372036854775808
            *0
            > ZRANGE z 9223372036854775807 9223372036854775807
            *0
            > ZRANGE z 1 1 byscore
            *1
            $1
            a
            > ZRANGE z (1 (1 byscore
            *0
            > SET s v
            +OK
            > ZRANGE s 0 1
            -WRONGTYPE Operation against a key holding the wrong kind of value
            > ZRANGE s x 1
            -ERR value is not an integer or out of range
            ",
        );
    }

    #[test]
    fn zrangestore_replaces_the_target_without_its_ttl() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b
            :2
            > SET t v
            +OK
            > EXPIRE t 1000
            :1
            > ZRANGESTORE t z 0 -1 withscores
            -ERR syntax error
            > ZRANGESTORE t z 0 -1 rev
            :2
            > TTL t
            :-1
            > ZRANGESTORE t z (1 +inf byscore
            :1
            > ZRANGE t 0 -1 WITHSCORES
            *2
            $1
            b
            $1
            2
            > ZRANGESTORE t nokey 0 -1
            :0
            > EXISTS t
            :0
            > ZRANGESTORE z z 1 1
            :1
            > ZRANGE z 0 -1
            *1
            $1
            b
            ",
        );
    }

    #[test]
    fn resp3_replies_pair_members_with_double_scores() {
        let mut s = Session::new();
        s.proto = Protocol::Resp3;
        s.transcript(
            "
            > ZADD z 1 a 2.5 b -inf c
            :3
            > ZSCORE z b
            ,2.5
            > ZSCORE z nope
            _
            > ZMSCORE z a nope
            *2
            ,1
            _
            > ZRANGE z 0 -1 WITHSCORES
            *3
            *2
            $1
            c
            ,-inf
            *2
            $1
            a
            ,1
            *2
            $1
            b
            ,2.5
            > ZRANGE z 0 0
            *1
            $1
            c
            > ZINCRBY z 1 a
            ,2
            > ZADD z nx incr 1 a
            _
            > ZPOPMIN z
            *2
            $1
            c
            ,-inf
            > ZPOPMIN z 1
            *1
            *2
            $1
            a
            ,2
            > ZMPOP 1 z max
            *2
            $1
            z
            *1
            *2
            $1
            b
            ,2.5
            > ZMPOP 1 z max
            _
            > ZPOPMIN z
            *0
            > ZRANK z a WITHSCORE
            _
            ",
        );
    }

    #[test]
    fn pops_remove_from_either_end_and_delete_an_emptied_key() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b 3 c
            :3
            > ZPOPMIN z 0
            *0
            > ZPOPMIN z -1
            -ERR value is out of range, must be positive
            > ZPOPMIN z x
            -ERR value is out of range, must be positive
            > ZPOPMAX z 1 2
            -ERR syntax error
            > ZPOPMAX z
            *2
            $1
            c
            $1
            3
            > ZPOPMIN z 100
            *4
            $1
            a
            $1
            1
            $1
            b
            $1
            2
            > EXISTS z
            :0
            > ZPOPMIN nokey
            *0
            > ZPOPMIN nokey -1
            -ERR value is out of range, must be positive
            > SET s v
            +OK
            > ZPOPMIN s 0
            -WRONGTYPE Operation against a key holding the wrong kind of value
            ",
        );
    }

    #[test]
    fn zmpop_takes_the_first_non_empty_key() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b 3 c 4 d 5 e
            :5
            > SET s v
            +OK
            > ZMPOP 1 z
            -ERR wrong number of arguments for 'zmpop' command
            > ZMPOP 1 z foo
            -ERR syntax error
            > ZMPOP 1 z min count
            -ERR syntax error
            > ZMPOP 1 z min count 0
            -ERR count should be greater than 0
            > ZMPOP 1 z min count x
            -ERR count should be greater than 0
            > ZMPOP 0 z min
            -ERR numkeys should be greater than 0
            > ZMPOP x z min
            -ERR numkeys should be greater than 0
            > ZMPOP 2 z min
            -ERR syntax error
            > ZMPOP 1000000000000 z min
            -ERR syntax error
            > ZMPOP 1 z min count 1 count 2
            -ERR syntax error
            > ZMPOP 1 z min count 0 count 1
            -ERR count should be greater than 0
            > ZMPOP 1 z min count 1 count
            -ERR syntax error
            > ZMPOP 2 s z foo
            -ERR syntax error
            > ZMPOP 2 nokey s max
            -WRONGTYPE Operation against a key holding the wrong kind of value
            > ZMPOP 2 nokey z max count 2
            *2
            $1
            z
            *2
            *2
            $1
            e
            $1
            5
            *2
            $1
            d
            $1
            4
            > ZMPOP 2 z s MIN
            *2
            $1
            z
            *1
            *2
            $1
            a
            $1
            1
            > ZMPOP 1 z min count 1000000000000
            *2
            $1
            z
            *2
            *2
            $1
            b
            $1
            2
            *2
            $1
            c
            $1
            3
            > ZMPOP 2 nokey z min
            *-1
            > EXISTS z
            :0
            ",
        );
    }

    #[test]
    fn ranks_counts_and_removals_by_range() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b 3 c 4 d 5 e
            :5
            > ZRANK z c
            :2
            > ZREVRANK z c
            :2
            > ZRANK z nope
            $-1
            > ZRANK nokey a
            $-1
            > ZRANK z a b c
            -ERR wrong number of arguments for 'zrank' command
            > ZRANK z a withscores
            -ERR syntax error
            > ZCOUNT z 2 4
            :3
            > ZCOUNT z (2 (4
            :1
            > ZCOUNT z 4 2
            :0
            > ZCOUNT nokey x 4
            -ERR min or max is not a float
            > ZLEXCOUNT z - +
            :5
            > ZLEXCOUNT z [b (d
            :2
            > ZLEXCOUNT z b d
            -ERR min or max not valid string range item
            > ZLEXCOUNT z + -
            :0
            > ZREMRANGEBYRANK z x 1
            -ERR value is not an integer or out of range
            > ZREMRANGEBYRANK nokey 0 1
            :0
            > ZREMRANGEBYSCORE nokey x 1
            -ERR min or max is not a float
            > ZREMRANGEBYSCORE z (1 2
            :1
            > ZREMRANGEBYLEX z [c [c
            :1
            > ZRANGE z 0 -1
            *3
            $1
            a
            $1
            d
            $1
            e
            > ZREMRANGEBYRANK z -1 -1
            :1
            > ZREMRANGEBYRANK z 5 10
            :0
            > ZREMRANGEBYRANK z 0 -1
            :2
            > EXISTS z
            :0
            ",
        );
        // WITHSCORE is Redis 7.2's (7.0 refuses the extra argument).
        Session::new().transcript(
            "
            > ZADD z 1 a 2.5 b
            :2
            > ZRANK z b WITHSCORE
            *2
            :1
            $3
            2.5
            > ZREVRANK z b withscore
            *2
            :0
            $3
            2.5
            > ZRANK z nope WITHSCORE
            *-1
            > ZRANK nokey a WITHSCORE
            *-1
            ",
        );
    }

    #[test]
    fn zrem_counts_distinct_members_and_keeps_the_ttl() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b
            :2
            > EXPIRE z 1000
            :1
            > ZREM z a a a
            :1
            > TTL z
            :1000
            > ZADD z 3 c
            :1
            > TTL z
            :1000
            > ZREM z b c
            :2
            > EXISTS z
            :0
            > ZREM nokey a
            :0
            > ZCARD nokey
            :0
            ",
        );
    }

    #[test]
    fn set_operations_weigh_aggregate_and_take_plain_sets() {
        Session::new().transcript(
            "
            > ZADD a inf x -inf y 1 z
            :3
            > ZADD b -inf x inf y 2 z
            :3
            > ZUNION 2 a b WITHSCORES
            *6
            $1
            x
            $1
            0
            $1
            y
            $1
            0
            $1
            z
            $1
            3
            > ZUNION 2 a b WEIGHTS 0 1 WITHSCORES
            *6
            $1
            x
            $4
            -inf
            $1
            z
            $1
            2
            $1
            y
            $3
            inf
            > ZINTER 2 a b AGGREGATE min WITHSCORES
            *6
            $1
            x
            $4
            -inf
            $1
            y
            $4
            -inf
            $1
            z
            $1
            1
            > ZINTER 2 a a WEIGHTS -inf 0 WITHSCORES
            *6
            $1
            z
            $4
            -inf
            $1
            x
            $1
            0
            $1
            y
            $1
            0
            > ZINTER 2 a a WEIGHTS -inf 0 AGGREGATE max WITHSCORES
            *6
            $1
            x
            $4
            -inf
            $1
            z
            $1
            0
            $1
            y
            $3
            inf
            > SADD s x q
            :2
            > ZUNION 2 a s WEIGHTS 1 2 WITHSCORES
            *8
            $1
            y
            $4
            -inf
            $1
            z
            $1
            1
            $1
            q
            $1
            2
            $1
            x
            $3
            inf
            > ZINTER 2 a s WITHSCORES
            *2
            $1
            x
            $3
            inf
            > ZDIFF 2 a s WITHSCORES
            *4
            $1
            y
            $4
            -inf
            $1
            z
            $1
            1
            > ZUNION 0 a
            -ERR at least 1 input key is needed for 'zunion' command
            > ZUNIONSTORE d 0 a
            -ERR at least 1 input key is needed for 'zunionstore' command
            > ZUNION x a
            -ERR value is not an integer or out of range
            > ZUNION 3 a b
            -ERR syntax error
            > ZUNION 1000000000000 a
            -ERR syntax error
            > ZUNION 2 a b weights 1
            -ERR syntax error
            > ZUNION 2 a b weights 1 x
            -ERR weight value is not a float
            > ZUNION 2 a b aggregate foo
            -ERR syntax error
            > ZUNIONSTORE d 2 a b withscores
            -ERR syntax error
            > ZDIFF 2 a b weights 1 2
            -ERR syntax error
            > ZUNION 2 a b weights 1 2 weights 3 4 withscores withscores
            *6
            $1
            x
            $1
            0
            $1
            y
            $1
            0
            $1
            z
            $2
            11
            > SET str v
            +OK
            > ZUNION 2 a str weights 1 x
            -WRONGTYPE Operation against a key holding the wrong kind of value
            > ZUNIONSTORE d 2 a nokey
            :3
            > ZINTERSTORE d 2 a nokey
            :0
            > EXISTS d
            :0
            > EXPIRE str 1000
            :1
            > ZDIFFSTORE str 2 a s
            :2
            > TTL str
            :-1
            > ZUNIONSTORE a 2 a b
            :3
            > ZRANGE a 0 -1 WITHSCORES
            *6
            $1
            x
            $1
            0
            $1
            y
            $1
            0
            $1
            z
            $1
            3
            ",
        );
    }

    #[test]
    fn sums_fold_the_smallest_inputs_first() {
        // Redis 7.0 prints these 0.59999999999999998 and 0.60000000000000009 (%.17g).
        let mut s = Session::new();
        s.transcript(
            "
            > ZADD a 0.1 x 1 a1 2 a2
            :3
            > ZADD b 0.2 x
            :1
            > ZADD c 0.3 x 1 c1
            :2
            > ZADD d 0.1 x
            :1
            > ZADD e 0.2 x
            :1
            > ZADD f 0.3 x
            :1
            > ZINTER 3 a b c WITHSCORES
            *2
            $1
            x
            $3
            0.6
            > ZUNION 3 d e f WITHSCORES
            *2
            $1
            x
            $18
            0.6000000000000001
            > ZUNION 3 f e d WITHSCORES
            *2
            $1
            x
            $3
            0.6
            > ZUNION 3 d f e WITHSCORES
            *2
            $1
            x
            $18
            0.6000000000000001
            ",
        );
    }

    #[test]
    fn zintercard_counts_up_to_its_limit() {
        Session::new().transcript(
            "
            > ZADD z 1 a 2 b 3 c 4 d 5 e
            :5
            > ZADD y 1 a 7 c 9 x
            :3
            > SADD set a b q
            :3
            > SET s v
            +OK
            > ZINTERCARD 2 z y
            :2
            > ZINTERCARD 2 z y limit 1
            :1
            > ZINTERCARD 2 z y limit 0
            :2
            > ZINTERCARD 2 z set
            :2
            > ZINTERCARD 2 z z limit -1
            -ERR LIMIT can't be negative
            > ZINTERCARD 2 z s limit x
            -WRONGTYPE Operation against a key holding the wrong kind of value
            > ZINTERCARD 0 z
            -ERR at least 1 input key is needed for 'zintercard' command
            > ZINTERCARD 3 z y
            -ERR syntax error
            > ZINTERCARD 1 z limit
            -ERR syntax error
            > ZINTERCARD 2 z nokey
            :0
            ",
        );
    }

    #[test]
    fn zrandmember_picks_within_limits() {
        let mut s = Session::new();
        s.transcript(
            "
            > ZADD z 1 a 2 b 3 c 4 d 5 e
            :5
            > ZRANDMEMBER nokey
            $-1
            > ZRANDMEMBER nokey -2 WITHSCORES
            *0
            > ZRANDMEMBER z x
            -ERR value is not an integer or out of range
            > ZRANDMEMBER z 0 withscores
            *0
            > ZRANDMEMBER z 1 foo
            -ERR syntax error
            > ZRANDMEMBER z 1 withscores withscores
            -ERR syntax error
            > ZRANDMEMBER z -9223372036854775808
            -ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807
            > ZRANDMEMBER nokey -4611686018427387904 withscores
            -ERR value is out of range
            > ZRANDMEMBER z 9223372036854775807
            *5
            $1
            e
            $1
            d
            $1
            c
            $1
            b
            $1
            a
            > ZRANDMEMBER z -16777217
            -ERR ZRANDMEMBER with a negative count is limited to 16777216 picks and 536870912 bytes of reply
            ",
        );
        let members = ["a", "b", "c", "d", "e"];
        for seed in 0..50 {
            s.seed = seed;
            let one = s.call_args(&[b"ZRANDMEMBER", b"z"]);
            assert!(
                members.iter().any(|m| one == format!("$1\r\n{m}\r\n")),
                "{one}"
            );
            for count in [2, 4] {
                let reply = s.call_args(&[b"ZRANDMEMBER", b"z", count.to_string().as_bytes()]);
                let picked: Vec<&str> = reply.split("\r\n").skip(2).step_by(2).collect();
                let mut distinct = picked.clone();
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), count, "{reply}");
                assert!(picked.iter().all(|p| members.contains(p)));
            }
            let reply = s.call_args(&[b"ZRANDMEMBER", b"z", b"-7", b"WITHSCORES"]);
            assert!(reply.starts_with("*14\r\n"), "{reply}");
        }
    }

    #[test]
    fn zscan_returns_a_compact_set_whole_and_walks_a_big_one() {
        let mut s = Session::new();
        s.transcript(
            "
            > ZADD z 1 a 2 b 3 c
            :3
            > ZSCAN z 0 COUNT 1
            *2
            $1
            0
            *6
            $1
            a
            $1
            1
            $1
            b
            $1
            2
            $1
            c
            $1
            3
            > ZSCAN z 7 MATCH b*
            *2
            $1
            0
            *2
            $1
            b
            $1
            2
            > ZSCAN z 0 count 0
            -ERR syntax error
            > ZSCAN z 0 count x
            -ERR value is not an integer or out of range
            > ZSCAN z x
            -ERR invalid cursor
            > ZSCAN z \" 1\"
            -ERR invalid cursor
            > ZSCAN z 18446744073709551616
            -ERR invalid cursor
            > ZSCAN z -
            -ERR invalid cursor
            > ZSCAN nokey \"\"
            *2
            $1
            0
            *0
            > ZSCAN z -1
            *2
            $1
            0
            *6
            $1
            a
            $1
            1
            $1
            b
            $1
            2
            $1
            c
            $1
            3
            > ZSCAN nokey 0 foo
            *2
            $1
            0
            *0
            > SET s v
            +OK
            > ZSCAN s 0 foo
            -WRONGTYPE Operation against a key holding the wrong kind of value
            ",
        );
        for i in 0..300 {
            let member = format!("m{i}");
            s.call_args(&[b"ZADD", b"big", i.to_string().as_bytes(), member.as_bytes()]);
        }
        let mut seen = Vec::new();
        let mut cursor = "0".to_string();
        for _ in 0..1_000 {
            let reply = s.call_args(&[b"ZSCAN", b"big", cursor.as_bytes(), b"COUNT", b"20"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            cursor = lines[2].to_string();
            seen.extend(lines[4..].iter().skip(1).step_by(4).map(|m| m.to_string()));
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(cursor, "0");
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 300);
    }

    #[test]
    fn lex_ranges_over_mixed_scores_scan_like_the_compact_encoding() {
        // Members out of byte order: b(1) a(2) c(3). Replies from redis-server 7.0.15.
        Session::new().transcript(
            "
            > ZADD z 1 b 2 a 3 c
            :3
            > ZRANGEBYLEX z [a [b
            *2
            $1
            b
            $1
            a
            > ZREVRANGEBYLEX z [b [a
            *2
            $1
            a
            $1
            b
            > ZLEXCOUNT z (a +
            :3
            > ZRANGEBYLEX z [c +
            *1
            $1
            c
            > ZREMRANGEBYLEX z - [b
            :2
            > ZRANGE z 0 -1
            *1
            $1
            c
            ",
        );
    }

    #[test]
    fn writes_record_redis_keyspace_events() {
        let mut s = Session::new();
        s.ks.set_notify_classes(notify::parse("KEA").unwrap());
        for line in [
            "ZADD z 1 a 2 b 3 c 4 d",
            "ZADD z 1 a",
            "ZADD z incr 1 a",
            "ZINCRBY z 1 a",
            "ZREM z nope",
            "ZREM z a",
            "ZREMRANGEBYSCORE z 2 2",
            "ZREMRANGEBYRANK z 0 0",
            "ZADD z 0 a 0 b",
            "ZREMRANGEBYLEX z [a [a",
            "ZPOPMIN z",
            "ZPOPMAX z",
            "ZADD z 1 a 2 b",
            "ZMPOP 1 z min",
            "ZRANGESTORE d z 0 -1",
            "ZRANGESTORE d nokey 0 -1",
            "ZUNIONSTORE d 1 z",
            "ZINTERSTORE d 2 z nokey",
            "ZDIFFSTORE d 1 z",
            "ZPOPMIN z 5",
            "ZADD z xx 1 a",
        ] {
            let args = split(line);
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            s.call_args(&args);
        }
        let events: Vec<String> =
            s.ks.events
                .iter()
                .map(|e| format!("{} {}", e.name, String::from_utf8_lossy(&e.key)))
                .collect();
        // As redis-server 7.0.15 publishes them on __keyevent@0__:*.
        assert_eq!(
            events,
            [
                "zadd z",
                "zincr z",
                "zincr z",
                "zrem z",
                "zremrangebyscore z",
                "zremrangebyrank z",
                "zadd z",
                "zremrangebylex z",
                "zpopmin z",
                "zpopmax z",
                "del z",
                "zadd z",
                "zpopmin z",
                "zrangestore d",
                "del d",
                "zunionstore d",
                "del d",
                "zdiffstore d",
                "zpopmin z",
                "del z",
            ]
        );
    }

    #[test]
    fn writes_that_change_nothing_do_not_touch_a_watched_key() {
        let mut s = Session::new();
        s.call_args(&[b"ZADD", b"z", b"1", b"a"]);
        let version = s.ks.db(0).watch();
        for args in [
            &[&b"ZADD"[..], b"z", b"1", b"a"][..],
            &[b"ZADD", b"z", b"XX", b"2", b"b"],
            &[b"ZADD", b"z", b"GT", b"0", b"a"],
            &[b"ZINCRBY", b"z", b"0", b"a"],
            &[b"ZREM", b"z", b"b"],
            &[b"ZREMRANGEBYSCORE", b"z", b"5", b"6"],
            &[b"ZPOPMIN", b"z", b"0"],
        ] {
            s.call_args(args);
            assert_eq!(s.ks.db(0).version(b"z"), version, "{args:?}");
        }
        s.call_args(&[b"ZADD", b"z", b"2", b"a"]);
        assert!(s.ks.db(0).version(b"z") > version);
    }
}
