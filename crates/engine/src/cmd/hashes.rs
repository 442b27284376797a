//! Hashes.
//!
//! HSET key field value [field value ...] · HSETNX key field value · HMSET (HSET replying OK) ·
//! HGET key field · HMGET key field... · HGETALL key · HDEL key field... · HEXISTS key field ·
//! HLEN key · HKEYS key · HVALS key · HINCRBY key field increment ·
//! HINCRBYFLOAT key field increment · HSTRLEN key field ·
//! HRANDFIELD key [count [WITHVALUES]] · HSCAN key cursor [MATCH pattern] [COUNT count]
//!
//! Field values are stored as given (no integer encoding): HINCRBY and HINCRBYFLOAT parse and
//! format on every call, as Redis does for a listpack. HRANDFIELD picks with `ex.seed` only.

use super::sets::{
    RANDOM_REPLY_BYTES_MAX, arg_random_count, parse_scan_options, reply_scan, write_repeated_picks,
};
use super::strings::add_floats;
use crate::db::Db;
use crate::error::Error;
use crate::exec::arg_scan_cursor;
use crate::exec::{Exec, Rng, arg_i64, eq};
use crate::longdouble;
use crate::notify;
use crate::types::Hash;
use crate::value::{Entry, Value, ValueMut, ValueRef, parse_canonical_i64};
use resp::ReplyWriter;

/// The live hash under `key`: None if there is none, WRONGTYPE if another type is there.
fn hash_ref<'a>(db: &'a Db, key: &[u8], now_ms: u64) -> Result<Option<&'a Hash>, Error> {
    match db.get(key, now_ms).map(|e| e.value) {
        None => Ok(None),
        Some(ValueRef::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(Error::WrongType),
    }
}

/// The hash under `key` as a write sees it, once `live_hash` has deleted an expired key: a
/// write's lookup counts no keyspace hit or miss (Redis's do not either).
fn hash_for_write<'a>(db: &'a Db, key: &[u8]) -> Option<&'a Hash> {
    match db.peek(key).map(|e| e.value) {
        Some(ValueRef::Hash(h)) => Some(h),
        _ => None,
    }
}

/// For a write: deletes `key` if it has expired, then checks its type. True if a hash is there.
fn live_hash(ex: &mut Exec, key: &[u8]) -> Result<bool, Error> {
    let now = ex.now_ms;
    match ex.db_mut().get_live(key, now).map(|e| e.value) {
        None => Ok(false),
        Some(ValueRef::Hash(_)) => Ok(true),
        Some(_) => Err(Error::WrongType),
    }
}

/// The hash under a key `live_hash` found, to change in place. Only called when the hash is
/// about to change: it counts as a write (WATCH, OBJECT IDLETIME).
fn hash_mut<'a>(ex: &'a mut Exec, key: &[u8]) -> &'a mut Hash {
    let now = ex.now_ms;
    match ex.db_mut().value_mut(key, now) {
        Some(ValueMut::Hash(h)) => h,
        _ => unreachable!("live_hash found a hash under the key"),
    }
}

/// Sets `field` to `value`, creating the hash if `exists` is false.
fn put(ex: &mut Exec, key: &[u8], exists: bool, field: &[u8], value: &[u8]) {
    if exists {
        hash_mut(ex, key).insert(field, value);
    } else {
        let mut hash = Hash::new();
        hash.insert(field, value);
        let now = ex.now_ms;
        ex.db_mut()
            .insert(key, Entry::new(Value::Hash(Box::new(hash)), 0, now));
    }
}

/// Sets every field-value pair of `pairs`; returns how many fields were new.
fn set_fields(ex: &mut Exec, key: &[u8], pairs: &[&[u8]]) -> Result<usize, Error> {
    let insert_all = |hash: &mut Hash| {
        let pairs = pairs.chunks_exact(2);
        pairs.filter(|p| hash.insert(p[0], p[1])).count()
    };
    let added = if live_hash(ex, key)? {
        insert_all(hash_mut(ex, key))
    } else {
        let mut hash = Hash::new();
        let added = insert_all(&mut hash);
        let now = ex.now_ms;
        ex.db_mut()
            .insert(key, Entry::new(Value::Hash(Box::new(hash)), 0, now));
        added
    };
    // Even when every value was already there, as Redis does.
    ex.notify(notify::HASH, "hset", key);
    Ok(added)
}

pub(crate) fn hset(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    if args.len().is_multiple_of(2) {
        let added = set_fields(ex, args[1], &args[2..])?;
        ex.out.int(added as i64);
        Ok(())
    } else {
        Err(Error::WrongArity("hset"))
    }
}

pub(crate) fn hmset(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    if args.len().is_multiple_of(2) {
        set_fields(ex, args[1], &args[2..])?;
        ex.out.ok();
        Ok(())
    } else {
        Err(Error::WrongArity("hmset"))
    }
}

pub(crate) fn hsetnx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, field, value) = (args[1], args[2], args[3]);
    let exists = live_hash(ex, key)?;
    if hash_for_write(ex.db(), key).is_some_and(|h| h.contains_key(field)) {
        ex.out.int(0);
        return Ok(());
    }
    put(ex, key, exists, field, value);
    ex.notify(notify::HASH, "hset", key);
    ex.out.int(1);
    Ok(())
}

pub(crate) fn hget(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    match hash_ref(db, args[1], now)?.and_then(|h| h.get(args[2])) {
        Some(value) => ex.out.bulk(value),
        None => ex.out.null(),
    }
    Ok(())
}

pub(crate) fn hmget(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let hash = hash_ref(db, args[1], now)?;
    let fields = &args[2..];
    ex.out.array(fields.len());
    for field in fields {
        match hash.and_then(|h| h.get(field)) {
            Some(value) => ex.out.bulk(value),
            None => ex.out.null(),
        }
    }
    Ok(())
}

pub(crate) fn hgetall(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let Some(hash) = hash_ref(db, args[1], now)? else {
        ex.out.map(0);
        return Ok(());
    };
    ex.out.map(hash.len());
    for (field, value) in hash {
        ex.out.bulk(field);
        ex.out.bulk(value);
    }
    Ok(())
}

pub(crate) fn hkeys(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let hash = hash_ref(db, args[1], now)?;
    ex.out.array(hash.map_or(0, Hash::len));
    hash.iter()
        .flat_map(|h| h.keys())
        .for_each(|f| ex.out.bulk(f));
    Ok(())
}

pub(crate) fn hvals(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let hash = hash_ref(db, args[1], now)?;
    ex.out.array(hash.map_or(0, Hash::len));
    hash.iter()
        .flat_map(|h| h.iter())
        .for_each(|(_, v)| ex.out.bulk(v));
    Ok(())
}

pub(crate) fn hdel(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, fields) = (args[1], &args[2..]);
    if !live_hash(ex, key)? {
        ex.out.int(0);
        return Ok(());
    }
    let hash = hash_for_write(ex.db(), key).expect("live_hash found it");
    let mut removed = 0;
    if fields.iter().any(|f| hash.contains_key(f)) {
        let hash = hash_mut(ex, key);
        removed = fields.iter().filter(|f| hash.remove(f)).count();
        let emptied = hash.is_empty();
        ex.notify(notify::HASH, "hdel", key);
        if emptied {
            ex.db_mut().delete(key);
            ex.notify(notify::GENERIC, "del", key);
        }
    }
    ex.out.int(removed as i64);
    Ok(())
}

pub(crate) fn hexists(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let found = hash_ref(ex.db(), args[1], ex.now_ms)?.is_some_and(|h| h.contains_key(args[2]));
    ex.out.int(i64::from(found));
    Ok(())
}

pub(crate) fn hlen(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let len = hash_ref(ex.db(), args[1], ex.now_ms)?.map_or(0, Hash::len);
    ex.out.int(len as i64);
    Ok(())
}

pub(crate) fn hstrlen(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let hash = hash_ref(ex.db(), args[1], ex.now_ms)?;
    let len = hash.and_then(|h| h.get(args[2])).map_or(0, |v| v.len());
    ex.out.int(len as i64);
    Ok(())
}

/// The current value of `field` for HINCRBY and HINCRBYFLOAT (None if the field or the hash
/// is missing), after the type check and the lazy expiry of a write.
fn current_value(
    ex: &mut Exec,
    key: &[u8],
    field: &[u8],
) -> Result<(bool, Option<Vec<u8>>), Error> {
    let exists = live_hash(ex, key)?;
    let value = hash_for_write(ex.db(), key)
        .and_then(|h| h.get(field))
        .map(|v| v.to_vec());
    Ok((exists, value))
}

pub(crate) fn hincrby(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, field) = (args[1], args[2]);
    let delta = arg_i64(args[3])?;
    let (exists, current) = current_value(ex, key, field)?;
    let current = match current {
        Some(v) => {
            parse_canonical_i64(&v).ok_or_else(|| Error::msg("ERR hash value is not an integer"))?
        }
        None => 0,
    };
    let next = current.checked_add(delta).ok_or(Error::Overflow)?;
    put(
        ex,
        key,
        exists,
        field,
        itoa::Buffer::new().format(next).as_bytes(),
    );
    ex.notify(notify::HASH, "hincrby", key);
    ex.out.int(next);
    Ok(())
}

pub(crate) fn hincrbyfloat(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, field, increment) = (args[1], args[2], args[3]);
    // Redis checks the increment before it looks at the key.
    let parsed = longdouble::parse(increment).ok_or(Error::NotFloat)?;
    if !parsed.is_finite() {
        return Err(Error::msg("ERR value is NaN or Infinity"));
    }
    let (exists, current) = current_value(ex, key, field)?;
    let current = current.unwrap_or_else(|| b"0".to_vec());
    if longdouble::parse(&current).is_none() {
        return Err(Error::msg("ERR hash value is not a float"));
    }
    let sum = add_floats(&current, increment)?;
    put(ex, key, exists, field, sum.as_bytes());
    ex.notify(notify::HASH, "hincrbyfloat", key);
    ex.out.bulk(sum.as_bytes());
    Ok(())
}

/// Writes one HRANDFIELD pick: the field, or the field and its value (a pair in RESP3).
fn write_pick(out: &mut ReplyWriter, field: &[u8], value: &[u8], with_values: bool) {
    if with_values && out.is_resp3() {
        out.array(2);
    }
    out.bulk(field);
    if with_values {
        out.bulk(value);
    }
}

pub(crate) fn hrandfield(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let count = match args.get(2) {
        Some(arg) => Some(arg_random_count(arg)?),
        None => None,
    };
    let with_values = match args.get(3) {
        None => false,
        Some(arg) if args.len() == 4 && eq(arg, "withvalues") => true,
        Some(_) => return Err(Error::Syntax),
    };
    // With values the reply has twice the elements: Redis bounds the count by half the range.
    if with_values && count.is_some_and(|n| n.unsigned_abs() > (i64::MAX / 2) as u64) {
        return Err(Error::msg("ERR value is out of range"));
    }
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let hash = hash_ref(db, args[1], now)?;
    let mut rng = Rng::new(ex.seed);
    let Some(count) = count else {
        match hash.and_then(|h| h.random_slot(&mut rng).map(|i| h.slot(i).0)) {
            Some(field) => ex.out.bulk(field),
            None => ex.out.null(),
        }
        return Ok(());
    };
    let Some(hash) = hash.filter(|_| count != 0) else {
        ex.out.array(0);
        return Ok(());
    };
    // RESP2 flattens the pairs; RESP3 nests them.
    let per_pick = if with_values && !ex.out.is_resp3() {
        2
    } else {
        1
    };
    if count > 0 {
        let slots = hash.random_distinct_slots(count as usize, &mut rng);
        ex.out.array(slots.len() * per_pick);
        for slot in slots {
            let (field, value) = hash.slot(slot);
            write_pick(ex.out, field, value, with_values);
        }
        return Ok(());
    }
    // A negative count picks with repetition: the reply grows with the count, not the hash.
    let picks = count.unsigned_abs();
    let elements = picks * per_pick as u64;
    // A packed hash is indexed once, not walked for every pick.
    let packed = hash.packed_entries();
    write_repeated_picks(ex.out, picks, elements, RANDOM_REPLY_BYTES_MAX, |out| {
        let (field, value) = match &packed {
            Some(all) => all[(rng.next() % all.len() as u64) as usize],
            None => hash.slot(
                hash.random_slot(&mut rng)
                    .expect("a stored hash is never empty"),
            ),
        };
        write_pick(out, field, value, with_values);
    })
}

pub(crate) fn hscan(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let cursor = arg_scan_cursor(args[2])?;
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    // Redis looks the key up before it parses the options: a missing key replies an empty scan
    // whatever follows.
    let Some(entry) = db.get(args[1], now) else {
        reply_scan(ex.out, 0, &[]);
        return Ok(());
    };
    let ValueRef::Hash(hash) = entry.value else {
        return Err(Error::WrongType);
    };
    let o = parse_scan_options(&args[3..])?;
    let mut found: Vec<&[u8]> = Vec::new();
    // A packed hash (a listpack, for Redis) is returned whole, whatever the cursor and COUNT.
    let next = hash.scan(cursor, o.count, |field, value| {
        if o.matches(field) {
            found.push(field);
            found.push(value);
        }
    });
    reply_scan(ex.out, next, &found);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cmd::sets::tests::{Session, scan_reply};
    use resp::{Frame, decode_frame};

    const WRONGTYPE: &[u8] =
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
    const NOT_INTEGER: &[u8] = b"-ERR value is not an integer or out of range\r\n";

    #[test]
    fn writes_notify_what_redis_notifies() {
        // The events redis-server 7.0.15 publishes for the same commands.
        let mut s = Session::new();
        let events = s.events(&[
            "hset h a 1",
            "hset h a 1",
            "hmset h b 2",
            "hsetnx h a 1",
            "hsetnx h c 1",
            "hdel h zz",
            "hdel h a b",
            "hdel h c",
            "hincrby h x 1",
            "hincrbyfloat h y 1.5",
            "hincrby h x y",
            "hdel h x y",
        ]);
        let want = [
            "hset h",
            "hset h",
            "hset h",
            "hset h",
            "hdel h",
            "hdel h",
            "del h",
            "hincrby h",
            "hincrbyfloat h",
            "hdel h",
            "del h",
        ];
        assert_eq!(events, want);
    }

    #[test]
    fn only_reads_count_keyspace_hits_and_misses() {
        // As redis-server 7.0.15 counts them (INFO stats after each command).
        let mut s = Session::new();
        s.check("hset h a 1", b":1\r\n");
        for (line, hits, misses) in [
            ("hset h a 2", 0, 0),
            ("hsetnx h a 1", 0, 0),
            ("hdel h zz", 0, 0),
            ("hincrby h n 1", 0, 0),
            ("hincrbyfloat h n 1", 0, 0),
            ("hget h a", 1, 0),
            ("hget nokey a", 0, 1),
            ("hscan h 0", 1, 0),
            ("hrandfield h", 1, 0),
        ] {
            s.ks.reset_stats();
            s.call(line);
            let (h, m, _) = s.ks.stats();
            assert_eq!((h, m), (hits, misses), "{line}");
        }
    }

    #[test]
    fn fields_are_set_read_and_deleted() {
        let mut s = Session::new();
        s.check("hset h a 1 b 2 a 3", b":2\r\n");
        s.check("hset h a 4", b":0\r\n");
        s.check("hget h a", b"$1\r\n4\r\n");
        s.check("hget h zz", b"$-1\r\n");
        s.check("hget nokey a", b"$-1\r\n");
        s.check("hmget h a zz b", b"*3\r\n$1\r\n4\r\n$-1\r\n$1\r\n2\r\n");
        s.check("hmget nokey a b", b"*2\r\n$-1\r\n$-1\r\n");
        s.check("hmset h c 5 d 6", b"+OK\r\n");
        s.check("hlen h", b":4\r\n");
        s.check("hlen nokey", b":0\r\n");
        s.check("hexists h c", b":1\r\n");
        s.check("hexists h zz", b":0\r\n");
        s.check("hexists nokey zz", b":0\r\n");
        s.check("hstrlen h a", b":1\r\n");
        s.check("hstrlen h zz", b":0\r\n");
        s.check("hstrlen nokey zz", b":0\r\n");
        s.check("hsetnx h a 9", b":0\r\n");
        s.check("hsetnx h e 9", b":1\r\n");
        s.check("hsetnx new f v", b":1\r\n");
        s.check("hget new f", b"$1\r\nv\r\n");
        s.check("hdel h a zz a", b":1\r\n");
        s.check("hdel h zz", b":0\r\n");
        s.check("hdel nokey a", b":0\r\n");
        s.check("hdel h b c d e", b":4\r\n");
        s.check("exists h", b":0\r\n");
        for (line, name) in [
            ("hset h f", "hset"),
            ("hset h f v f2", "hset"),
            ("hmset h f", "hmset"),
            ("hmset h f v f2", "hmset"),
            ("hsetnx h f", "hsetnx"),
            ("hdel h", "hdel"),
            ("hstrlen h", "hstrlen"),
        ] {
            let want = format!("-ERR wrong number of arguments for '{name}' command\r\n");
            s.check(line, want.as_bytes());
        }
        s.check("exists h", b":0\r\n");
    }

    #[test]
    fn whole_hash_replies_are_a_map_and_two_arrays() {
        let mut s = Session::new();
        s.check("hset h a 1 b 2", b":2\r\n");
        s.check_unordered(
            "hgetall h",
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
        );
        s.check_unordered("hkeys h", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        s.check_unordered("hvals h", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
        s.check("hdel h b", b":1\r\n");
        s.check3("hgetall h", b"%1\r\n$1\r\na\r\n$1\r\n1\r\n");
        s.check3("hkeys h", b"*1\r\n$1\r\na\r\n");
        s.check3("hvals h", b"*1\r\n$1\r\n1\r\n");
        s.check3("hmget h a b", b"*2\r\n$1\r\n1\r\n_\r\n");
        s.check3("hgetall nokey", b"%0\r\n");
        s.check("hgetall nokey", b"*0\r\n");
        s.check("hkeys nokey", b"*0\r\n");
        s.check("hvals nokey", b"*0\r\n");
    }

    #[test]
    fn every_command_refuses_another_type() {
        let mut s = Session::new();
        s.check("set str x", b"+OK\r\n");
        for line in [
            "hset str a 1",
            "hsetnx str a 1",
            "hmset str a 1",
            "hget str a",
            "hmget str a",
            "hgetall str",
            "hdel str a",
            "hexists str a",
            "hlen str",
            "hkeys str",
            "hvals str",
            "hincrby str a 1",
            "hincrbyfloat str a 1",
            "hstrlen str a",
            "hrandfield str",
            "hrandfield str 1",
            "hscan str 0",
            "hscan str 0 count 0",
        ] {
            s.check(line, WRONGTYPE);
        }
        s.check("hscan str x", b"-ERR invalid cursor\r\n");
        s.check(
            "hincrbyfloat str a x",
            b"-ERR value is not a valid float\r\n",
        );
        s.check(
            "hincrbyfloat str a inf",
            b"-ERR value is NaN or Infinity\r\n",
        );
        s.check("hincrby str a x", NOT_INTEGER);
        s.check("hrandfield str x", NOT_INTEGER);
    }

    #[test]
    fn a_change_keeps_the_ttl_and_a_new_hash_has_none() {
        let mut s = Session::new();
        s.check("hset h a 1", b":1\r\n");
        s.check("pexpire h 5000", b":1\r\n");
        s.check("hset h b 2", b":1\r\n");
        s.check("hincrby h a 1", b":2\r\n");
        s.check("hdel h b", b":1\r\n");
        s.check("pttl h", b":5000\r\n");
        s.now_ms += 5000;
        s.check("hget h a", b"$-1\r\n");
        s.check("hincrby h a 1", b":1\r\n");
        s.check("pttl h", b":-1\r\n");
    }

    #[test]
    fn hincrby_checks_the_increment_the_value_and_the_range() {
        let mut s = Session::new();
        s.check("hincrby h a 5", b":5\r\n");
        s.check("hincrby h a -7", b":-2\r\n");
        s.check("hget h a", b"$2\r\n-2\r\n");
        s.check("hincrby h a x", NOT_INTEGER);
        s.check("hincrby nokey a x", NOT_INTEGER);
        s.check(
            "hincrby h a 9223372036854775807",
            b":9223372036854775805\r\n",
        );
        let overflow = b"-ERR increment or decrement would overflow\r\n";
        s.check("hincrby h a 3", overflow);
        s.check("hset h m -9223372036854775807", b":1\r\n");
        s.check("hincrby h m -1", b":-9223372036854775808\r\n");
        s.check("hincrby h m -1", overflow);
        let not_integer = b"-ERR hash value is not an integer\r\n";
        for value in ["abc", "1.5", "007", "+1", "-0", "", "9223372036854775808"] {
            s.check_args(&["hmset", "h", "v", value], b"+OK\r\n");
            s.check("hincrby h v 1", not_integer);
        }
        s.check_args(&["hset", "h", "sp", " 1"], b":1\r\n");
        s.check("hincrby h sp 1", not_integer);
    }

    #[test]
    fn hincrbyfloat_adds_in_long_double_like_incrbyfloat() {
        let mut s = Session::new();
        s.check("hset h f 1.5 s abc hex 0x10 inf inf nan nan", b":5\r\n");
        s.check("hincrbyfloat h f 0.1", b"$3\r\n1.6\r\n");
        s.check("hget h f", b"$3\r\n1.6\r\n");
        s.check("hincrbyfloat h new 1e5", b"$6\r\n100000\r\n");
        s.check("hincrbyfloat h hex 1", b"$2\r\n17\r\n");
        s.check("hincrbyfloat h zero -0.0", b"$1\r\n0\r\n");
        s.check(
            "hincrbyfloat h f 123456.789",
            b"$23\r\n123458.3890000000000029\r\n",
        );
        let not_float = b"-ERR hash value is not a float\r\n";
        s.check("hincrbyfloat h s 1", not_float);
        s.check("hincrbyfloat h nan 1", not_float);
        s.check(
            "hincrbyfloat h inf 1",
            b"-ERR increment would produce NaN or Infinity\r\n",
        );
        s.check("hset h huge 1e4932", b":1\r\n");
        s.check(
            "hincrbyfloat h huge 1.1e4932",
            b"-ERR increment would produce NaN or Infinity\r\n",
        );
        let invalid = b"-ERR value is not a valid float\r\n";
        s.check("hincrbyfloat h f x", invalid);
        s.check("hincrbyfloat h f nan", invalid);
        s.check("hincrbyfloat h f ", invalid);
        s.check_args(&["hincrbyfloat", "h", "f", "1 "], invalid);
        let not_finite = b"-ERR value is NaN or Infinity\r\n";
        s.check("hincrbyfloat h f inf", not_finite);
        s.check("hincrbyfloat h f -inf", not_finite);
        s.check_args(&["hset", "h", "sp", " 1"], b":1\r\n");
        s.check("hincrbyfloat h sp 1", not_float);
        s.check("hget h f", b"$23\r\n123458.3890000000000029\r\n");
    }

    #[test]
    fn hrandfield_parses_its_arguments_in_redis_order() {
        let mut s = Session::new();
        s.check("hset h a 1", b":1\r\n");
        s.check("hrandfield h x", NOT_INTEGER);
        s.check("hrandfield h x withvalues", NOT_INTEGER);
        s.check("hrandfield h x y z", NOT_INTEGER);
        s.check("hrandfield h -0", NOT_INTEGER);
        s.check("hrandfield h 1 x", SYNTAX);
        s.check("hrandfield h 1 withvalues x", SYNTAX);
        s.check("hrandfield nokey 1 foo", SYNTAX);
        s.check(
            "hrandfield h -9223372036854775808",
            b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n",
        );
        let range = b"-ERR value is out of range\r\n";
        s.check("hrandfield h -4611686018427387904 withvalues", range);
        s.check("hrandfield nokey -4611686018427387904 withvalues", range);
        s.check("hrandfield h 4611686018427387904 withvalues", range);
        s.check("hrandfield nokey -9223372036854775807", b"*0\r\n");
        s.check("hrandfield nokey", b"$-1\r\n");
        s.check("hrandfield nokey 2 withvalues", b"*0\r\n");
        s.check("hrandfield h 0", b"*0\r\n");
        s.check("hrandfield h 0 withvalues", b"*0\r\n");
        s.check("hrandfield h", b"$1\r\na\r\n");
        s.check("hrandfield h 5", b"*1\r\n$1\r\na\r\n");
        s.check("hrandfield h 5 WITHVALUES", b"*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        s.check(
            "hrandfield h 4611686018427387903 withvalues",
            b"*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        s.check(
            "hrandfield h -2 withvalues",
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        s.check3(
            "hrandfield h -2 withvalues",
            b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        s.check3(
            "hrandfield h 1 withvalues",
            b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        s.check3("hrandfield h -2", b"*2\r\n$1\r\na\r\n$1\r\na\r\n");
        s.check3("hrandfield nokey", b"_\r\n");
        let refused = format!("-{}\r\n", super::super::sets::reply_too_large());
        s.check("hrandfield h -1000000000000", refused.as_bytes());
        s.check("hrandfield h -1000000000000 withvalues", refused.as_bytes());
    }

    #[test]
    fn hrandfield_picks_distinct_fields_for_a_positive_count() {
        let mut s = Session::new();
        let pairs: Vec<String> = (0..200).map(|n| format!("f{n} v{n}")).collect();
        s.check(&format!("hset h {}", pairs.join(" ")), b":200\r\n");
        for count in [3, 150, 250] {
            let reply = s.call(&format!("hrandfield h {count} withvalues"));
            let (Frame::Array(flat), _) = decode_frame(&reply).unwrap().unwrap() else {
                panic!()
            };
            assert_eq!(flat.len(), 2 * count.min(200));
            let mut fields = std::collections::BTreeSet::new();
            for pair in flat.chunks(2) {
                let [Frame::Bulk(f), Frame::Bulk(v)] = pair else {
                    panic!()
                };
                assert_eq!(f[1..], v[1..], "a field comes with its own value");
                assert!(fields.insert(f.clone()), "picked twice");
            }
        }
    }

    #[test]
    fn hscan_returns_a_listpack_whole_and_pages_a_hashtable() {
        let mut s = Session::new();
        s.check("hset h a 1 b 2 c 3", b":3\r\n");
        s.check("object encoding h", b"$8\r\nlistpack\r\n");
        let whole = s.call("hscan h 0");
        let (cursor, found) = scan_reply(&whole);
        assert_eq!(cursor, "0");
        assert_eq!(found.len(), 6);
        s.check("hscan h 0 count 1", &whole);
        s.check("hscan h 5", &whole);
        s.check("hscan h -1", &whole);
        s.check(
            "hscan h 0 match a*",
            b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        s.check("hscan nokey 0", b"*2\r\n$1\r\n0\r\n*0\r\n");
        s.check("hscan nokey 0 bogus", b"*2\r\n$1\r\n0\r\n*0\r\n");
        s.check("hscan h 0 count 0", SYNTAX);
        s.check("hscan h 0 count x", NOT_INTEGER);
        s.check("hscan h 0 novalues", SYNTAX);
        s.check("hscan h 0 match", SYNTAX);
        s.check("hscan h 18446744073709551616", b"-ERR invalid cursor\r\n");
        // A long value makes it a hashtable: COUNT now bounds each call.
        let long = "v".repeat(65);
        s.check(&format!("hset h long {long}"), b":1\r\n");
        s.check("object encoding h", b"$9\r\nhashtable\r\n");
        let pairs: Vec<String> = (0..500).map(|n| format!("f{n} {n}")).collect();
        s.check(&format!("hset h {}", pairs.join(" ")), b":500\r\n");
        let mut fields = std::collections::BTreeMap::new();
        let mut cursor = "0".to_string();
        loop {
            let reply = s.call(&format!("hscan h {cursor} count 10 match f*"));
            let (next, _) = scan_reply(&reply);
            let (Frame::Array(parts), _) = decode_frame(&reply).unwrap().unwrap() else {
                panic!()
            };
            let Frame::Array(flat) = &parts[1] else {
                panic!()
            };
            assert!(flat.len() <= 2 * 11);
            for pair in flat.chunks(2) {
                let [Frame::Bulk(f), Frame::Bulk(v)] = pair else {
                    panic!()
                };
                assert!(
                    fields.insert(f.clone(), v.clone()).is_none(),
                    "returned twice"
                );
            }
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(fields.len(), 500, "MATCH leaves out the long field only");
        assert_eq!(fields[&b"f42"[..]], b"42");
    }
}
