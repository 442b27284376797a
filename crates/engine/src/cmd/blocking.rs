//! Blocking list commands.
//!
//! BLPOP key [key ...] timeout · BRPOP key [key ...] timeout · BRPOPLPUSH source destination
//! timeout · BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout · BLMPOP timeout numkeys
//! key [key ...] LEFT|RIGHT [COUNT count] · BZPOPMIN key [key ...] timeout · BZPOPMAX key
//! [key ...] timeout · BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
//!
//! Each one first does what its non-blocking twin does. When every key is empty it calls
//! `Keyspace::block` and writes nothing: the server parks the client and runs the same command
//! again, in blocking order, when a write makes one of its keys non-empty. The timeout is the
//! server's business; here it is only validated.

use super::lists::{End, move_element, parse_mpop, pop_from};
use super::zsets;
use crate::error::Error;
use crate::exec::{Exec, eq};
use crate::value::ValueRef;

/// Parses a blocking timeout: seconds, not negative; None (0) waits forever. The server uses it
/// for the deadline, the commands here to validate before anything happens.
///
/// As Redis reads it: a float as `strtold` takes it (hexadecimal too), rounded up to whole
/// milliseconds, which must fit in 64 bits. Redis converts without checking, and an infinite or
/// too large value becomes the most negative integer, so it answers "timeout is negative" for
/// `inf` or `1e16`: that text is kept. (Rounded up: -0.0005 is 0, which waits forever.)
pub fn blocking_timeout(arg: &[u8]) -> Result<Option<std::time::Duration>, Error> {
    let seconds = crate::longdouble::parse(arg)
        .ok_or_else(|| Error::msg("ERR timeout is not a float or out of range"))?
        .to_f64();
    let ms = (seconds * 1000.0).ceil();
    // 2^63 ms: past it (and for infinities) Redis's conversion wraps to i64::MIN.
    if !(0.0..2f64.powi(63)).contains(&ms) {
        return Err(Error::msg("ERR timeout is negative"));
    }
    // (Capped at about 31 years, so that a deadline computed from it cannot overflow.)
    let ms = (ms as u64).min(1_000_000_000_000);
    Ok((ms > 0).then(|| std::time::Duration::from_millis(ms)))
}

fn check_timeout(arg: &[u8]) -> Result<(), Error> {
    blocking_timeout(arg).map(|_| ())
}

fn end(arg: &[u8]) -> Result<End, Error> {
    if eq(arg, "left") {
        Ok(End::Left)
    } else if eq(arg, "right") {
        Ok(End::Right)
    } else {
        Err(Error::Syntax)
    }
}

fn bpop(ex: &mut Exec, args: &[&[u8]], from: End) -> Result<(), Error> {
    let last = args.len() - 1;
    check_timeout(args[last])?;
    for &key in &args[1..last] {
        if let Some(popped) = pop_from(ex, key, from, 1)? {
            ex.out.array(2);
            ex.out.bulk(key);
            ex.out.bulk(&popped[0]);
            return Ok(());
        }
    }
    ex.ks.block();
    Ok(())
}

pub(crate) fn blpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bpop(ex, args, End::Left)
}

pub(crate) fn brpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bpop(ex, args, End::Right)
}

fn bmove(ex: &mut Exec, args: &[&[u8]], from: End, to: End, timeout: &[u8]) -> Result<(), Error> {
    check_timeout(timeout)?;
    match move_element(ex, args[1], args[2], from, to)? {
        Some(element) => ex.out.bulk(&element),
        None => ex.ks.block(),
    }
    Ok(())
}

pub(crate) fn brpoplpush(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bmove(ex, args, End::Right, End::Left, args[3])
}

pub(crate) fn blmove(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (from, to) = (end(args[3])?, end(args[4])?);
    bmove(ex, args, from, to, args[5])
}

pub(crate) fn blmpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    // Redis checks the rest of the command before the timeout.
    let mpop = parse_mpop(&args[2..])?;
    check_timeout(args[1])?;
    for &key in mpop.keys {
        if let Some(popped) = pop_from(ex, key, mpop.end, mpop.count)? {
            ex.out.array(2);
            ex.out.bulk(key);
            ex.out.array(popped.len());
            popped.iter().for_each(|e| ex.out.bulk(e));
            return Ok(());
        }
    }
    ex.ks.block();
    Ok(())
}

/// Whether `key` holds a live sorted set (WRONGTYPE if it holds something else).
fn live_zset(ex: &mut Exec, key: &[u8]) -> Result<bool, Error> {
    let now = ex.now_ms;
    match ex.db_mut().get_live(key, now).map(|e| e.value) {
        None => Ok(false),
        Some(ValueRef::ZSet(_)) => Ok(true),
        Some(_) => Err(Error::WrongType),
    }
}

fn bzpop(ex: &mut Exec, args: &[&[u8]], max: bool) -> Result<(), Error> {
    let last = args.len() - 1;
    check_timeout(args[last])?;
    for &key in &args[1..last] {
        if live_zset(ex, key)? {
            let popped = zsets::pop(ex, key, max, 1);
            ex.out.array(3);
            ex.out.bulk(key);
            ex.out.bulk(&popped[0].0);
            ex.out.double(popped[0].1);
            return Ok(());
        }
    }
    ex.ks.block();
    Ok(())
}

pub(crate) fn bzpopmin(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bzpop(ex, args, false)
}

pub(crate) fn bzpopmax(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bzpop(ex, args, true)
}

pub(crate) fn bzmpop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    // Redis checks the rest of the command before the timeout.
    let mpop = zsets::parse_mpop(&args[2..])?;
    check_timeout(args[1])?;
    for &key in mpop.keys {
        if live_zset(ex, key)? {
            let popped = zsets::pop(ex, key, mpop.max, mpop.count);
            zsets::reply_mpop(ex.out, key, &popped);
            return Ok(());
        }
    }
    ex.ks.block();
    Ok(())
}

#[cfg(test)]
mod tests {
    use resp::{Protocol, ReplyWriter};

    use crate::{Exec, Keyspace, lookup};

    fn run(ks: &mut Keyspace, args: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ex = Exec {
            ks,
            db: 0,
            now_ms: 1_000,
            seed: 1,
            out: &mut out,
        };
        ex.run(lookup(args[0]).unwrap(), args);
        let blocked = ks.take_would_block();
        (out.buf, blocked)
    }

    #[test]
    fn data_is_served_at_once_and_empty_keys_block() {
        let mut ks = Keyspace::new(1, 0);
        assert_eq!(
            run(&mut ks, &[b"BLPOP", b"a", b"b", b"0"]),
            (Vec::new(), true)
        );
        run(&mut ks, &[b"RPUSH", b"b", b"x", b"y"]);
        assert_eq!(
            run(&mut ks, &[b"BLPOP", b"a", b"b", b"0"]),
            (b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n".to_vec(), false)
        );
        assert_eq!(
            run(&mut ks, &[b"BRPOPLPUSH", b"b", b"c", b"0.5"]),
            (b"$1\r\ny\r\n".to_vec(), false)
        );
        assert_eq!(
            run(&mut ks, &[b"BLMOVE", b"b", b"c", b"LEFT", b"RIGHT", b"1"]),
            (Vec::new(), true)
        );
        assert_eq!(
            run(
                &mut ks,
                &[b"BLMPOP", b"0", b"2", b"b", b"c", b"LEFT", b"COUNT", b"5"]
            ),
            (b"*2\r\n$1\r\nc\r\n*1\r\n$1\r\ny\r\n".to_vec(), false)
        );
    }

    #[test]
    fn sorted_sets_pop_or_block() {
        let mut ks = Keyspace::new(1, 0);
        assert_eq!(run(&mut ks, &[b"BZPOPMAX", b"z", b"0"]), (Vec::new(), true));
        run(
            &mut ks,
            &[b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"],
        );
        assert_eq!(
            run(&mut ks, &[b"BZPOPMAX", b"y", b"z", b"0"]),
            (b"*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n".to_vec(), false)
        );
        assert_eq!(
            run(
                &mut ks,
                &[b"BZMPOP", b"0", b"1", b"z", b"MIN", b"COUNT", b"5"]
            ),
            (
                b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
                    .to_vec(),
                false
            )
        );
        assert_eq!(
            run(&mut ks, &[b"BZPOPMIN", b"z", b"0.5"]),
            (Vec::new(), true)
        );
    }

    #[test]
    fn arguments_are_checked_before_anything_blocks() {
        let mut ks = Keyspace::new(1, 0);
        run(&mut ks, &[b"SET", b"s", b"v"]);
        assert_eq!(
            run(&mut ks, &[b"BLPOP", b"a", b"x"]).0,
            b"-ERR timeout is not a float or out of range\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"BLPOP", b"a", b"-1"]).0,
            b"-ERR timeout is negative\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"BLPOP", b"s", b"0"]).0,
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
        // Redis's reading: strtold's hexadecimal is a timeout, and one too large for 64-bit
        // milliseconds (infinity too) is "negative".
        for timeout in ["0x10", "1e15", "-1e-400", "-0.0005"] {
            assert_eq!(
                run(&mut ks, &[b"BLPOP", b"s", timeout.as_bytes()]).0,
                b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
                "{timeout}"
            );
        }
        for timeout in [
            "inf",
            "-inf",
            "1e400",
            "1e16",
            "9223372036854776",
            "-0.0015",
        ] {
            assert_eq!(
                run(&mut ks, &[b"BLPOP", b"a", timeout.as_bytes()]).0,
                b"-ERR timeout is negative\r\n",
                "{timeout}"
            );
        }
        for timeout in ["nan", "", " 1", "1e5000", "0x"] {
            assert_eq!(
                run(&mut ks, &[b"BLPOP", b"a", timeout.as_bytes()]).0,
                b"-ERR timeout is not a float or out of range\r\n",
                "{timeout}"
            );
        }
        assert_eq!(
            super::blocking_timeout(b"0.0005").map_err(|e| e.to_string()),
            Ok(Some(std::time::Duration::from_millis(1))),
            "rounded up to a millisecond"
        );
        // BLMPOP and BZMPOP check the rest of the command before the timeout.
        assert_eq!(
            run(
                &mut ks,
                &[b"BLMPOP", b"x", b"1", b"a", b"LEFT", b"COUNT", b"0"]
            )
            .0,
            b"-ERR count should be greater than 0\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"BZMPOP", b"-1", b"1", b"a", b"MIN", b"COUNT"]).0,
            b"-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"BLMOVE", b"a", b"b", b"UP", b"LEFT", b"0"]).0,
            b"-ERR syntax error\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"BLMPOP", b"0", b"0", b"a", b"LEFT"]).0,
            b"-ERR numkeys should be greater than 0\r\n"
        );
    }
}
