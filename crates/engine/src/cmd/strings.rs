//! Strings.
//!
//! GET key · SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms | KEEPTTL] ·
//! SETNX · SETEX · PSETEX · GETSET · GETDEL · GETEX key [EX | PX | EXAT | PXAT | PERSIST] ·
//! MGET · MSET · MSETNX · APPEND · STRLEN · GETRANGE · SETRANGE · INCR · DECR · INCRBY · DECRBY ·
//! INCRBYFLOAT

use super::{string_entry, string_entry_mut};
use crate::STRING_BYTES_MAX;
use crate::error::Error;
use crate::exec::{Exec, arg_i64, eq};
use crate::longdouble;
use crate::notify;
use crate::value::{Entry, Value, ValueRef, parse_canonical_i64};

/// How an expiry argument is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    RelativeSeconds,
    RelativeMs,
    AbsoluteSeconds,
    AbsoluteMs,
}

/// Turns an expiry argument into absolute Unix milliseconds, with Redis's checks: a positive
/// integer whose absolute time fits in an i64.
fn expire_at(
    arg: &[u8],
    unit: ExpireUnit,
    now_ms: u64,
    command: &'static str,
) -> Result<u64, Error> {
    let n = arg_i64(arg)?;
    let invalid = Error::InvalidExpire(command);
    let seconds = matches!(
        unit,
        ExpireUnit::RelativeSeconds | ExpireUnit::AbsoluteSeconds
    );
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid);
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = match unit {
        ExpireUnit::RelativeSeconds | ExpireUnit::RelativeMs => {
            ms.checked_add(now_ms as i64).ok_or(invalid)?
        }
        ExpireUnit::AbsoluteSeconds | ExpireUnit::AbsoluteMs => ms,
    };
    Ok(at as u64)
}

#[derive(Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses SET's (or, with `is_set` false, GETEX's) options the way Redis does: conflicting
/// options are syntax errors, a repeated expiry of the same kind takes the last value.
fn parse_set_options<'a>(args: &[&'a [u8]], is_set: bool) -> Result<SetOptions<'a>, Error> {
    let mut o = SetOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        let next = args.get(i + 1).copied();
        let kind = |o: &SetOptions| o.expire.map(|(k, _)| k);
        let other_expiry = |o: &SetOptions, unit| kind(o).is_some_and(|k| k != unit);
        if is_set && eq(arg, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && eq(arg, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && eq(arg, "get") {
            o.get = true;
        } else if is_set && eq(arg, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !is_set && eq(arg, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let (Some(unit), Some(value)) = (expire_unit(arg), next) {
            if o.keepttl || o.persist || other_expiry(&o, unit) {
                return Err(Error::Syntax);
            }
            o.expire = Some((unit, value));
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn expire_unit(arg: &[u8]) -> Option<ExpireUnit> {
    if eq(arg, "ex") {
        Some(ExpireUnit::RelativeSeconds)
    } else if eq(arg, "px") {
        Some(ExpireUnit::RelativeMs)
    } else if eq(arg, "exat") {
        Some(ExpireUnit::AbsoluteSeconds)
    } else if eq(arg, "pxat") {
        Some(ExpireUnit::AbsoluteMs)
    } else {
        None
    }
}

/// Writes the string value of an entry as a bulk reply.
fn reply_value(ex: &mut Exec, value: &Value) {
    match value {
        Value::Int(n) => ex.out.bulk_int(*n),
        Value::Str(s) => ex.out.bulk(s),
        _ => unreachable!("only string values are replied with as bulk"),
    }
}

pub(crate) fn get(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    match string_entry(db, args[1], now)?.map(|e| e.value) {
        Some(ValueRef::Int(n)) => ex.out.bulk_int(n),
        Some(ValueRef::Str(s)) => ex.out.bulk(s),
        Some(_) => unreachable!("string_entry returns strings only"),
        None => ex.out.null(),
    }
    Ok(())
}

/// Stores a string, replacing whatever was there; `expire_at_ms` 0 means no expiry. With an
/// expiry in the past the key expires at once.
fn store(ex: &mut Exec, key: &[u8], value: &[u8], expire_at_ms: u64) {
    store_keeping(ex, key, value, expire_at_ms, false);
}

/// [`store`]; `kept` says the expiry is the key's own (SET KEEPTTL), not set now: no `expire`
/// event, as in Redis.
fn store_keeping(ex: &mut Exec, key: &[u8], value: &[u8], expire_at_ms: u64, kept: bool) {
    let now = ex.now_ms;
    ex.notify(notify::STRING, "set", key);
    ex.db_mut()
        .insert(key, Entry::new(Value::string(value), expire_at_ms, now));
    if expire_at_ms != 0 && !kept {
        ex.notify(notify::GENERIC, "expire", key);
    }
    if expire_at_ms != 0 && expire_at_ms <= now {
        // Gone at once, by expiry (an `expired` event, counted in expired_keys), as Redis's
        // next lookup or expiry cycle would.
        ex.db_mut().get_live(key, now);
    }
}

pub(crate) fn set(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, value) = (args[1], args[2]);
    let o = parse_set_options(&args[3..], true)?;
    let now = ex.now_ms;
    let mut at = match o.expire {
        Some((unit, arg)) => expire_at(arg, unit, now, "set")?,
        None => 0,
    };
    // The old value is copied only when GET asks for it. Without GET, SET replaces a value of
    // any type; with GET, the old value must be a string.
    let old = if o.get {
        string_entry(ex.db(), key, now)?.map(|e| (Some(e.value.to_owned()), e.expire_at_ms))
    } else {
        // A write's lookup, as Redis's: it expires the key if due and counts no hit or miss.
        ex.db_mut()
            .get_live(key, now)
            .map(|e| (None, e.expire_at_ms))
    };
    if o.get {
        match &old {
            Some((Some(v), _)) => reply_value(ex, v),
            _ => ex.out.null(),
        }
    }
    if (o.nx && old.is_some()) || (o.xx && old.is_none()) {
        if !o.get {
            ex.out.null();
        }
        return Ok(());
    }
    if o.keepttl {
        at = old.as_ref().map_or(0, |(_, at)| *at);
    }
    store_keeping(ex, key, value, at, o.keepttl);
    if !o.get {
        ex.out.ok();
    }
    Ok(())
}

pub(crate) fn setnx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    if ex.db().contains(args[1], ex.now_ms) {
        ex.out.int(0);
    } else {
        store(ex, args[1], args[2], 0);
        ex.out.int(1);
    }
    Ok(())
}

fn setex_generic(
    ex: &mut Exec,
    args: &[&[u8]],
    unit: ExpireUnit,
    command: &'static str,
) -> Result<(), Error> {
    let at = expire_at(args[2], unit, ex.now_ms, command)?;
    store(ex, args[1], args[3], at);
    ex.out.ok();
    Ok(())
}

pub(crate) fn setex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setex_generic(ex, args, ExpireUnit::RelativeSeconds, "setex")
}

pub(crate) fn psetex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    setex_generic(ex, args, ExpireUnit::RelativeMs, "psetex")
}

pub(crate) fn getset(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let old = string_entry(ex.db(), args[1], ex.now_ms)?.map(|e| e.value.to_owned());
    match &old {
        Some(v) => reply_value(ex, v),
        None => ex.out.null(),
    }
    store(ex, args[1], args[2], 0);
    Ok(())
}

pub(crate) fn getdel(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let now = ex.now_ms;
    if string_entry_mut(ex.db_mut(), args[1], now)?.is_none() {
        ex.out.null();
        return Ok(());
    }
    let old = ex.db_mut().remove(args[1]).expect("the key was just found");
    reply_value(ex, &old.value);
    ex.notify(notify::GENERIC, "del", args[1]);
    Ok(())
}

pub(crate) fn getex(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let o = parse_set_options(&args[2..], false)?;
    let (key, now) = (args[1], ex.now_ms);
    // Redis looks the key up before it validates the expiry: a missing key replies nil even
    // with an out-of-range time.
    let Some(entry) = string_entry_mut(ex.db_mut(), key, now)? else {
        ex.out.null();
        return Ok(());
    };
    let value = entry.value.to_owned();
    let at = match o.expire {
        Some((unit, arg)) => Some(expire_at(arg, unit, now, "getex")?),
        None => None,
    };
    reply_value(ex, &value);
    match at {
        Some(at) if at <= now => {
            ex.db_mut().delete(key);
            ex.notify(notify::GENERIC, "del", key);
        }
        Some(at) => {
            ex.db_mut().set_expire(key, at);
            ex.notify(notify::GENERIC, "expire", key);
        }
        None if o.persist && ex.db().peek(key).is_some_and(|e| e.expire_at_ms != 0) => {
            ex.db_mut().set_expire(key, 0);
            ex.notify(notify::GENERIC, "persist", key);
        }
        None => {}
    }
    Ok(())
}

pub(crate) fn mget(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let keys = &args[1..];
    ex.out.array(keys.len());
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    for key in keys {
        match db.get(key, now).map(|e| e.value) {
            Some(ValueRef::Int(n)) => ex.out.bulk_int(n),
            Some(ValueRef::Str(s)) => ex.out.bulk(s),
            _ => ex.out.null(),
        }
    }
    Ok(())
}

pub(crate) fn mset(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    if args.len().is_multiple_of(2) {
        return Err(Error::WrongArity("mset"));
    }
    for pair in args[1..].chunks_exact(2) {
        store(ex, pair[0], pair[1], 0);
    }
    ex.out.ok();
    Ok(())
}

pub(crate) fn msetnx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    if args.len().is_multiple_of(2) {
        return Err(Error::WrongArity("msetnx"));
    }
    let now = ex.now_ms;
    if args[1..]
        .chunks_exact(2)
        .any(|p| ex.db().contains(p[0], now))
    {
        ex.out.int(0);
        return Ok(());
    }
    for pair in args[1..].chunks_exact(2) {
        store(ex, pair[0], pair[1], 0);
    }
    ex.out.int(1);
    Ok(())
}

fn check_length(total: u64) -> Result<(), Error> {
    if total > STRING_BYTES_MAX as u64 {
        Err(Error::StringTooLong)
    } else {
        Ok(())
    }
}

pub(crate) fn append(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, tail) = (args[1], args[2]);
    let now = ex.now_ms;
    match string_entry_mut(ex.db_mut(), key, now)? {
        Some(entry) => {
            let len = entry.value.string_len().expect("a string entry");
            check_length(len as u64 + tail.len() as u64)?;
            let bytes = ex.db_mut().string_mut(key, now).expect("a string entry");
            bytes.extend_from_slice(tail);
            let len = bytes.len();
            ex.out.int(len as i64);
        }
        None => {
            ex.db_mut()
                .insert(key, Entry::new(Value::Str(tail.to_vec()), 0, now));
            ex.out.int(tail.len() as i64);
        }
    }
    ex.notify(notify::STRING, "append", key);
    Ok(())
}

pub(crate) fn strlen(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let len =
        string_entry(ex.db(), args[1], ex.now_ms)?.map_or(0, |e| e.value.string_len().unwrap_or(0));
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn getrange(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let mut start = arg_i64(args[2])?;
    let mut end = arg_i64(args[3])?;
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let Some(entry) = string_entry(db, args[1], now)? else {
        ex.out.bulk(b"");
        return Ok(());
    };
    let out = &mut *ex.out;
    entry.value.with_bytes(|s| {
        let len = s.len() as i64;
        if start < 0 && end < 0 && start > end {
            out.bulk(b"");
            return;
        }
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        end = end.max(0);
        if end >= len {
            end = len - 1;
        }
        if start > end || len == 0 {
            out.bulk(b"");
        } else {
            out.bulk(&s[start as usize..=end as usize]);
        }
    });
    Ok(())
}

pub(crate) fn setrange(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, value) = (args[1], args[3]);
    let offset = arg_i64(args[2])?;
    if offset < 0 {
        return Err(Error::msg("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let now = ex.now_ms;
    let Some(entry) = string_entry_mut(ex.db_mut(), key, now)? else {
        if value.is_empty() {
            ex.out.int(0);
            return Ok(());
        }
        check_length(offset + value.len() as u64)?;
        let mut bytes = vec![0u8; offset as usize];
        bytes.extend_from_slice(value);
        let len = bytes.len();
        ex.db_mut()
            .insert(key, Entry::new(Value::Str(bytes), 0, now));
        ex.out.int(len as i64);
        ex.notify(notify::STRING, "setrange", key);
        return Ok(());
    };
    let len = entry.value.string_len().expect("a string entry");
    if value.is_empty() {
        ex.out.int(len as i64);
        return Ok(());
    }
    check_length(offset + value.len() as u64)?;
    let bytes = ex.db_mut().string_mut(key, now).expect("a string entry");
    let end = offset as usize + value.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset as usize..end].copy_from_slice(value);
    let len = bytes.len();
    ex.out.int(len as i64);
    ex.notify(notify::STRING, "setrange", key);
    Ok(())
}

/// Adds `delta` to the integer under `key`, keeping its TTL.
fn incr_by(ex: &mut Exec, key: &[u8], delta: i64) -> Result<(), Error> {
    let now = ex.now_ms;
    let db = ex.db_mut();
    let (current, at) = match string_entry_mut(db, key, now)? {
        Some(entry) => {
            let n = match entry.value {
                ValueRef::Int(n) => n,
                ValueRef::Str(s) => parse_canonical_i64(s).ok_or(Error::NotInteger)?,
                _ => unreachable!("string_entry_mut returns strings only"),
            };
            (n, entry.expire_at_ms)
        }
        None => (0, 0),
    };
    let next = current.checked_add(delta).ok_or(Error::Overflow)?;
    db.insert(key, Entry::new(Value::Int(next), at, now));
    ex.out.int(next);
    ex.notify(notify::STRING, "incrby", key);
    Ok(())
}

pub(crate) fn incr(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    incr_by(ex, args[1], 1)
}

pub(crate) fn decr(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    incr_by(ex, args[1], -1)
}

pub(crate) fn incrby(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let delta = arg_i64(args[2])?;
    incr_by(ex, args[1], delta)
}

pub(crate) fn decrby(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let delta = arg_i64(args[2])?;
    if delta == i64::MIN {
        return Err(Error::msg("ERR decrement would overflow"));
    }
    incr_by(ex, args[1], -delta)
}

pub(crate) fn incrbyfloat(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let key = args[1];
    let now = ex.now_ms;
    // A write's lookup: no hit or miss counted (and no keymiss event), as in Redis.
    let current = string_entry_mut(ex.db_mut(), key, now)?
        .map(|e| e.value.to_bytes().expect("a string entry"));
    let current = current.unwrap_or_else(|| b"0".to_vec());
    let result = add_floats(&current, args[2])?;
    // Kept as text even when it reads as an integer: Redis stores INCRBYFLOAT's result as a
    // string (OBJECT ENCODING embstr, never int).
    let value = || Value::Str(result.as_bytes().to_vec());
    if !ex.db_mut().set_value(key, value(), now) {
        ex.db_mut().insert(key, Entry::new(value(), 0, now));
    }
    ex.out.bulk(result.as_bytes());
    ex.notify(notify::STRING, "incrbyfloat", key);
    Ok(())
}

/// Adds two float arguments for INCRBYFLOAT and formats the sum exactly as Redis does: both
/// parsed with `strtold`, added in x87 long double, printed with `%.17Lf` without trailing zeros
/// (see [`longdouble`]).
pub(crate) fn add_floats(current: &[u8], increment: &[u8]) -> Result<String, Error> {
    let value = longdouble::parse(current).ok_or(Error::NotFloat)?;
    let incr = longdouble::parse(increment).ok_or(Error::NotFloat)?;
    let sum = longdouble::add(value, incr);
    if !sum.is_finite() {
        return Err(Error::msg("ERR increment would produce NaN or Infinity"));
    }
    Ok(longdouble::format_human(sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_sums_format_like_redis() {
        let add = |a: &str, b: &str| add_floats(a.as_bytes(), b.as_bytes()).unwrap();
        assert_eq!(add("10.5", "0.1"), "10.6");
        assert_eq!(add("0.1", "0.2"), "0.3");
        assert_eq!(add("3.0e3", "200"), "3200");
        assert_eq!(add("0", "123456.789"), "123456.78900000000000148");
        assert_eq!(add("5", "-5"), "0");
        assert_eq!(add("1", "1e-20"), "1");
        assert_eq!(
            add_floats(b"1", b"inf"),
            Err(Error::msg("ERR increment would produce NaN or Infinity"))
        );
        assert_eq!(add_floats(b"abc", b"1"), Err(Error::NotFloat));
        assert_eq!(add_floats(b"1", b"abc"), Err(Error::NotFloat));
        assert_eq!(add_floats(b"1", b"nan"), Err(Error::NotFloat));
    }

    #[test]
    fn float_sums_match_redis_tables() {
        use crate::longdouble::tests::{ADVERSARIAL, CURATED, RANDOM};
        for table in [CURATED, RANDOM, ADVERSARIAL] {
            for &(stored, increment, expected) in table {
                let reply = add_floats(stored.as_bytes(), increment.as_bytes())
                    .unwrap_or_else(|e| e.to_string());
                assert_eq!(reply, expected, "{stored:?} + {increment:?}");
            }
        }
    }

    #[test]
    fn incrbyfloat_keeps_its_result_as_text_as_redis_does() {
        let mut s = crate::cmd::sets::tests::Session::new();
        s.check("INCRBYFLOAT f -1", b"$2\r\n-1\r\n");
        // Not int, though it reads as one.
        s.check("OBJECT ENCODING f", b"$6\r\nembstr\r\n");
        s.check("INCR f", b":0\r\n");
        s.check("OBJECT ENCODING f", b"$3\r\nint\r\n");
    }
}
