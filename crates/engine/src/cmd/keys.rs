//! Keys, expiry and databases.
//!
//! DEL · UNLINK · EXISTS · TOUCH · TYPE · RENAME · RENAMENX · COPY src dst [DB db] [REPLACE] ·
//! MOVE · KEYS · SCAN cursor [MATCH p] [COUNT n] [TYPE t] · RANDOMKEY · OBJECT ·
//! EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key t [NX | XX | GT | LT] · TTL · PTTL · EXPIRETIME ·
//! PEXPIRETIME · PERSIST · DUMP · RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s]
//! [FREQ f] · DBSIZE · FLUSHDB · FLUSHALL · SWAPDB

use crate::db::Db;
use crate::error::Error;
use crate::exec::{Exec, arg_db, arg_i64, eq};
use crate::glob::glob_match;
use crate::notify;
use crate::value::{Entry, ValueRef};

pub(crate) fn del(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let now = ex.now_ms;
    let mut removed = 0;
    for key in &args[1..] {
        if ex.db_mut().delete_live(key, now) {
            removed += 1;
            ex.notify(notify::GENERIC, "del", key);
        }
    }
    ex.out.int(removed);
    Ok(())
}

pub(crate) fn exists(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let count = args[1..]
        .iter()
        .filter(|k| db.get(k, now).is_some())
        .count();
    ex.out.int(count as i64);
    Ok(())
}

pub(crate) fn type_(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let name = ex
        .db()
        .get(args[1], ex.now_ms)
        .map_or("none", |e| e.value.type_name());
    ex.out.simple(name);
    Ok(())
}

/// Takes the live entry under `key` out of `db`, if there is one.
fn take_live(db: &mut Db, key: &[u8], now_ms: u64) -> Option<Entry> {
    db.get_live(key, now_ms)?;
    db.remove(key)
}

fn rename_generic(ex: &mut Exec, args: &[&[u8]], nx: bool) -> Result<(), Error> {
    let (source, target) = (args[1], args[2]);
    let now = ex.now_ms;
    if ex.db_mut().get_live(source, now).is_none() {
        return Err(Error::NoSuchKey);
    }
    if source == target {
        if nx {
            ex.out.int(0)
        } else {
            ex.out.ok()
        }
        return Ok(());
    }
    if nx && ex.db_mut().get_live(target, now).is_some() {
        ex.out.int(0);
        return Ok(());
    }
    let db = ex.db_mut();
    let entry = db.remove(source).expect("the source was just found");
    db.insert(target, entry);
    ex.notify(notify::GENERIC, "rename_from", source);
    ex.notify(notify::GENERIC, "rename_to", target);
    if nx {
        ex.out.int(1)
    } else {
        ex.out.ok()
    }
    Ok(())
}

pub(crate) fn rename(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    rename_generic(ex, args, false)
}

pub(crate) fn renamenx(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    rename_generic(ex, args, true)
}

pub(crate) fn copy(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (source, target) = (args[1], args[2]);
    let mut target_db = ex.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq(args[i], "replace") {
            replace = true;
        } else if eq(args[i], "db") && i + 1 < args.len() {
            let index = arg_i64(args[i + 1])?;
            target_db = usize::try_from(index)
                .ok()
                .filter(|&d| d < ex.ks.databases())
                .ok_or(Error::DbIndexOutOfRange)?;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if source == target && target_db == ex.db {
        return Err(Error::SameObject);
    }
    let now = ex.now_ms;
    let Some(entry) = ex
        .db()
        .get(source, now)
        .map(|e| (e.value.to_owned(), e.expire_at_ms))
    else {
        ex.out.int(0);
        return Ok(());
    };
    let target_index = target_db;
    let target_db = ex.ks.db_mut(target_db);
    if target_db.get_live(target, now).is_some() {
        if !replace {
            ex.out.int(0);
            return Ok(());
        }
        target_db.delete(target);
    }
    target_db.insert(target, Entry::new(entry.0, entry.1, now));
    ex.ks
        .notify(target_index, notify::GENERIC, "copy_to", target);
    ex.out.int(1);
    Ok(())
}

pub(crate) fn move_(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let key = args[1];
    let index = arg_i64(args[2])?;
    let target = usize::try_from(index)
        .ok()
        .filter(|&d| d < ex.ks.databases())
        .ok_or(Error::DbIndexOutOfRange)?;
    if target == ex.db {
        return Err(Error::SameObject);
    }
    let now = ex.now_ms;
    if ex.db_mut().get_live(key, now).is_none() || ex.ks.db_mut(target).get_live(key, now).is_some()
    {
        ex.out.int(0);
        return Ok(());
    }
    let entry = take_live(ex.db_mut(), key, now).expect("the key was just found");
    ex.ks.db_mut(target).insert(key, entry);
    ex.notify(notify::GENERIC, "move_from", key);
    ex.ks.notify(target, notify::GENERIC, "move_to", key);
    ex.out.int(1);
    Ok(())
}

pub(crate) fn keys(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let pattern = args[1];
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let all = pattern == b"*";
    let found: Vec<&[u8]> = db
        .iter()
        .filter(|(k, e)| !e.is_expired(now) && (all || glob_match(pattern, k)))
        .map(|(k, _)| k)
        .collect();
    ex.out.array(found.len());
    for key in found {
        ex.out.bulk(key);
    }
    Ok(())
}

pub(crate) fn scan(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let cursor = crate::exec::arg_scan_cursor(args[1])?;
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(&value) = args.get(i + 1) else {
            return Err(Error::Syntax);
        };
        if eq(args[i], "count") {
            let n = arg_i64(value)?;
            if n < 1 {
                return Err(Error::Syntax);
            }
            count = n as usize;
        } else if eq(args[i], "match") {
            pattern = Some(value).filter(|p| *p != b"*");
        } else if eq(args[i], "type") {
            type_name = Some(value);
        } else {
            return Err(Error::Syntax);
        }
        i += 2;
    }
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let mut found: Vec<&[u8]> = Vec::new();
    let next = db.scan(cursor, count, |k, e| {
        let wanted = !e.is_expired(now)
            && pattern.is_none_or(|p| glob_match(p, k))
            && type_name.is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
        if wanted {
            found.push(k);
        }
    });
    ex.out.array(2);
    ex.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ex.out.array(found.len());
    for key in found {
        ex.out.bulk(key);
    }
    Ok(())
}

pub(crate) fn randomkey(ex: &mut Exec, _args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    match db.random_key(ex.seed, now) {
        Some(key) => ex.out.bulk(key),
        None => ex.out.null(),
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

pub(crate) fn object(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let sub = String::from_utf8_lossy(args[1]).to_ascii_lowercase();
    if sub == "help" && args.len() == 2 {
        super::help(ex, OBJECT_HELP);
        return Ok(());
    }
    let known = ["encoding", "freq", "idletime", "refcount"].contains(&sub.as_str());
    if !known {
        return Err(super::unknown_subcommand("OBJECT", args[1]));
    }
    if args.len() != 3 {
        return Err(super::sub_arity("OBJECT", args[1]));
    }
    let now = ex.now_ms;
    let Some(entry) = ex.ks.db(ex.db).peek(args[2]).filter(|e| !e.is_expired(now)) else {
        ex.out.null();
        return Ok(());
    };
    match sub.as_str() {
        "encoding" => {
            let encoding = entry.encoding();
            ex.out.bulk(encoding.as_bytes());
        }
        "idletime" => {
            let idle = (now / 1000).saturating_sub(u64::from(entry.changed_s));
            ex.out.int(idle as i64);
        }
        "refcount" => {
            // Redis shares the objects of small integers; report what it reports for them.
            let shared = matches!(entry.value, ValueRef::Int(n) if (0..10_000).contains(&n));
            ex.out.int(if shared { i64::from(i32::MAX) } else { 1 });
        }
        _ => {
            return Err(Error::msg(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum ExpireBase {
    RelativeSeconds,
    RelativeMs,
    AbsoluteSeconds,
    AbsoluteMs,
}

fn expire_generic(
    ex: &mut Exec,
    args: &[&[u8]],
    base: ExpireBase,
    command: &'static str,
) -> Result<(), Error> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if eq(opt, "nx") {
            nx = true;
        } else if eq(opt, "xx") {
            xx = true;
        } else if eq(opt, "gt") {
            gt = true;
        } else if eq(opt, "lt") {
            lt = true;
        } else {
            return Err(Error::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Error::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = arg_i64(args[2])?;
    let invalid = Error::InvalidExpire(command);
    if matches!(
        base,
        ExpireBase::RelativeSeconds | ExpireBase::AbsoluteSeconds
    ) {
        when = when.checked_mul(1000).ok_or(invalid.clone())?;
    }
    if matches!(base, ExpireBase::RelativeSeconds | ExpireBase::RelativeMs) {
        when = when.checked_add(ex.now_ms as i64).ok_or(invalid)?;
    }
    let (key, now) = (args[1], ex.now_ms);
    let Some(entry) = ex.db_mut().get_live(key, now) else {
        ex.out.int(0);
        return Ok(());
    };
    let current = entry.expire_at_ms;
    let rejected = (nx && current != 0)
        || (xx && current == 0)
        || (gt && (current == 0 || when <= current as i64))
        || (lt && current != 0 && when >= current as i64);
    if rejected {
        ex.out.int(0);
        return Ok(());
    }
    if when <= now as i64 {
        ex.db_mut().delete(key);
        ex.notify(notify::GENERIC, "del", key);
    } else {
        ex.db_mut().set_expire(key, when as u64);
        ex.notify(notify::GENERIC, "expire", key);
    }
    ex.out.int(1);
    Ok(())
}

pub(crate) fn expire(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    expire_generic(ex, args, ExpireBase::RelativeSeconds, "expire")
}

pub(crate) fn pexpire(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    expire_generic(ex, args, ExpireBase::RelativeMs, "pexpire")
}

pub(crate) fn expireat(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    expire_generic(ex, args, ExpireBase::AbsoluteSeconds, "expireat")
}

pub(crate) fn pexpireat(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    expire_generic(ex, args, ExpireBase::AbsoluteMs, "pexpireat")
}

/// The expiry of a live key: None if missing, Some(0) if it does not expire.
fn expiry_of(ex: &Exec, key: &[u8]) -> Option<u64> {
    ex.db().get(key, ex.now_ms).map(|e| e.expire_at_ms)
}

fn ttl_generic(ex: &mut Exec, key: &[u8], reply: impl Fn(u64, u64) -> i64) -> Result<(), Error> {
    let reply = match expiry_of(ex, key) {
        None => -2,
        Some(0) => -1,
        Some(at) => reply(at, ex.now_ms),
    };
    ex.out.int(reply);
    Ok(())
}

pub(crate) fn ttl(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    ttl_generic(ex, args[1], |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}

pub(crate) fn pttl(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    ttl_generic(ex, args[1], |at, now| at.saturating_sub(now) as i64)
}

pub(crate) fn expiretime(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    ttl_generic(ex, args[1], |at, _| (at / 1000) as i64)
}

pub(crate) fn pexpiretime(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    ttl_generic(ex, args[1], |at, _| at as i64)
}

pub(crate) fn persist(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (key, now) = (args[1], ex.now_ms);
    let had_ttl = ex
        .db_mut()
        .get_live(key, now)
        .is_some_and(|e| e.expire_at_ms != 0);
    if had_ttl {
        ex.db_mut().set_expire(key, 0);
        ex.notify(notify::GENERIC, "persist", key);
    }
    ex.out.int(i64::from(had_ttl));
    Ok(())
}

pub(crate) fn dump(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    match ex.db().get(args[1], ex.now_ms) {
        Some(entry) => {
            let payload = crate::cmd::dump::serialize(entry.value);
            ex.out.bulk(&payload);
        }
        None => ex.out.null(),
    }
    Ok(())
}

pub(crate) fn restore(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let key = args[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle_s, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut i = 4;
    while i < args.len() {
        let more = i + 1 < args.len();
        if eq(args[i], "replace") {
            replace = true;
        } else if eq(args[i], "absttl") {
            absttl = true;
        } else if eq(args[i], "idletime") && more && freq.is_none() {
            let idle = arg_i64(args[i + 1])?;
            if idle < 0 {
                return Err(Error::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle_s = Some(idle);
            i += 1;
        } else if eq(args[i], "freq") && more && idle_s.is_none() {
            let f = arg_i64(args[i + 1])?;
            if !(0..=255).contains(&f) {
                return Err(Error::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(f);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let now = ex.now_ms;
    if !replace && ex.db_mut().get_live(key, now).is_some() {
        return Err(Error::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = arg_i64(args[2])?;
    if ttl < 0 {
        return Err(Error::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let value = crate::cmd::dump::deserialize(args[3])?;
    if replace {
        ex.db_mut().remove(key);
    }
    let at = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => (t as u64).saturating_add(now),
    };
    if at != 0 && at <= now {
        ex.out.ok();
        return Ok(());
    }
    let mut entry = Entry::new(value, at, now);
    if let Some(idle) = idle_s {
        entry.changed_ms = now.saturating_sub((idle as u64).saturating_mul(1000));
    }
    ex.db_mut().insert(key, entry);
    ex.notify(notify::GENERIC, "restore", key);
    ex.out.ok();
    Ok(())
}

pub(crate) fn dbsize(ex: &mut Exec, _args: &[&[u8]]) -> Result<(), Error> {
    let len = ex.db().live_len(ex.now_ms);
    ex.out.int(len as i64);
    Ok(())
}

/// FLUSHDB and FLUSHALL take an optional ASYNC or SYNC. Memory is reclaimed at once either way.
fn flush_mode(args: &[&[u8]]) -> Result<(), Error> {
    match args {
        [_] => Ok(()),
        [_, mode] if eq(mode, "async") || eq(mode, "sync") => Ok(()),
        _ => Err(Error::Syntax),
    }
}

pub(crate) fn flushdb(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    flush_mode(args)?;
    ex.db_mut().clear();
    ex.out.ok();
    Ok(())
}

pub(crate) fn flushall(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    flush_mode(args)?;
    ex.ks.flush_all();
    ex.out.ok();
    Ok(())
}

pub(crate) fn swapdb(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let a = arg_db(ex.ks, args[1], Error::msg("ERR invalid first DB index"))?;
    let b = arg_db(ex.ks, args[2], Error::msg("ERR invalid second DB index"))?;
    ex.ks.swap(a, b);
    ex.out.ok();
    Ok(())
}
