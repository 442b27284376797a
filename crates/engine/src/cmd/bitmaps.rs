//! Bitmaps: a string read as an array of bits, the most significant bit of the first byte first.
//!
//! SETBIT key offset value · GETBIT key offset · BITCOUNT key [start end [BYTE | BIT]] ·
//! BITPOS key bit [start [end [BYTE | BIT]]] · BITOP AND | OR | XOR | NOT destkey key [key ...] ·
//! BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
//! [OVERFLOW WRAP | SAT | FAIL] ... · BITFIELD_RO key [GET type offset] ...
//!
//! A missing key reads as an empty string, and bits past the end of a string read as 0. Writes
//! grow the string with zero bytes, up to [`BITS_MAX`] addressable bits.
//!
//! BITCOUNT and BITPOS follow Redis 7.0 in looking the key up before parsing the range: a missing
//! key answers 0 (BITPOS: -1 or 0) even when the range arguments are malformed, and WRONGTYPE wins
//! over a malformed range. (Redis 8 parses first; we match the 7.0 server the compatibility suite
//! runs against.)

use super::{string_entry, string_entry_mut};
use crate::STRING_BYTES_MAX;
use crate::db::Db;
use crate::error::Error;
use crate::exec::{Exec, arg_i64, eq};
use crate::notify;
use crate::value::{Entry, Value};

/// Bit offsets SETBIT, GETBIT and BITFIELD accept are below this: a string of
/// [`STRING_BYTES_MAX`] bytes, so the largest offset is 2^32 - 1.
const BITS_MAX: u64 = STRING_BYTES_MAX as u64 * 8;
const _: () = assert!(BITS_MAX == 1 << 32);

fn bad_offset() -> Error {
    Error::msg("ERR bit offset is not an integer or out of range")
}

/// A bit offset argument of SETBIT and GETBIT.
fn arg_bit_offset(arg: &[u8]) -> Result<u64, Error> {
    match arg_i64(arg) {
        Ok(n) if n >= 0 && (n as u64) < BITS_MAX => Ok(n as u64),
        _ => Err(bad_offset()),
    }
}

/// The string under `key` for a write, created empty if missing, at least `len_min` bytes long
/// (grown with zero bytes). Keeps the key's TTL.
fn bytes_for_write<'a>(
    db: &'a mut Db,
    key: &[u8],
    now_ms: u64,
    len_min: usize,
) -> Result<&'a mut Vec<u8>, Error> {
    if string_entry_mut(db, key, now_ms)?.is_none() {
        db.insert(key, Entry::new(Value::Str(Vec::new()), 0, now_ms));
    }
    let bytes = db
        .string_mut(key, now_ms)
        .expect("the key was just found or created");
    if bytes.len() < len_min {
        bytes.resize(len_min, 0);
    }
    Ok(bytes)
}

/// `f` of the bytes of the live string under `key`; None if there is none (missing, expired or
/// another type: the write path that follows creates it or says WRONGTYPE). `peek`: a write's
/// own lookup counts no keyspace hit.
fn peek_string<R>(db: &Db, key: &[u8], now_ms: u64, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    db.peek(key)
        .filter(|entry| !entry.is_expired(now_ms))
        .and_then(|entry| entry.value.with_bytes(f))
}

fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = bytes.get((offset / 8) as usize).copied().unwrap_or(0);
    byte & (0x80 >> (offset % 8)) != 0
}

pub(crate) fn setbit(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let offset = arg_bit_offset(args[2])?;
    let on = match args[3] {
        b"0" => false,
        b"1" => true,
        _ => return Err(Error::msg("ERR bit is not an integer or out of range")),
    };
    let (now, len_min) = (ex.now_ms, (offset / 8) as usize + 1);
    // A bit that already is as asked, in a string that need not grow, is not a write: no WATCH
    // of the key breaks and no event is sent, as in Redis.
    let unchanged = peek_string(ex.ks.db(ex.db), args[1], now, |s| {
        s.len() >= len_min && bit_at(s, offset) == on
    });
    if unchanged == Some(true) {
        ex.out.int(i64::from(on));
        return Ok(());
    }
    let bytes = bytes_for_write(ex.ks.db_mut(ex.db), args[1], now, len_min)?;
    let was_on = bit_at(bytes, offset);
    let byte = &mut bytes[(offset / 8) as usize];
    let mask = 0x80 >> (offset % 8);
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
    ex.out.int(i64::from(was_on));
    ex.notify(notify::STRING, "setbit", args[1]);
    Ok(())
}

pub(crate) fn getbit(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let offset = arg_bit_offset(args[2])?;
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let on = match string_entry(db, args[1], now)? {
        Some(entry) => entry
            .value
            .with_bytes(|s| bit_at(s, offset))
            .expect("a string entry"),
        None => false,
    };
    ex.out.int(i64::from(on));
    Ok(())
}

/// Whether a range counts bytes (the default) or bits.
fn arg_unit_is_bit(arg: &[u8]) -> Result<bool, Error> {
    if eq(arg, "byte") {
        Ok(false)
    } else if eq(arg, "bit") {
        Ok(true)
    } else {
        Err(Error::Syntax)
    }
}

/// Resolves an inclusive range over `len` units the way GETRANGE does (negative indexes count
/// from the end, both ends clamped into the string); `None` if it selects nothing.
fn resolve_range(start: i64, end: i64, len: i64) -> Option<(u64, u64)> {
    // Cannot overflow: `len` is about 2^32 at most, and adding it to a negative index only
    // moves that toward 0.
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let end = if end < 0 { (end + len).max(0) } else { end };
    let end = end.min(len - 1);
    if len == 0 || start > end {
        None
    } else {
        Some((start as u64, end as u64))
    }
}

/// A resolved range in bits, inclusive, within the string.
fn bit_range(start: i64, end: i64, is_bit: bool, bytes_len: usize) -> Option<(u64, u64)> {
    if is_bit {
        resolve_range(start, end, bytes_len as i64 * 8)
    } else {
        resolve_range(start, end, bytes_len as i64).map(|(s, e)| (s * 8, e * 8 + 7))
    }
}

/// Set bits in `bytes`, eight bytes at a time.
fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut count: u64 = 0;
    for chunk in chunks.by_ref() {
        count += u64::from(u64::from_ne_bytes(chunk.try_into().expect("8 bytes")).count_ones());
    }
    count
        + chunks
            .remainder()
            .iter()
            .map(|b| u64::from(b.count_ones()))
            .sum::<u64>()
}

/// Set bits from bit `first` to bit `last`, both included and within `bytes`.
fn count_bits(bytes: &[u8], first: u64, last: u64) -> u64 {
    assert!(first <= last);
    assert!(last / 8 < bytes.len() as u64);
    let (lo, hi) = ((first / 8) as usize, (last / 8) as usize);
    let before_first = bytes[lo] & !(0xff >> (first % 8));
    let after_last = bytes[hi] & !(0xff << (7 - last % 8));
    popcount(&bytes[lo..=hi])
        - u64::from(before_first.count_ones())
        - u64::from(after_last.count_ones())
}

pub(crate) fn bitcount(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let Some(entry) = string_entry(db, args[1], now)? else {
        ex.out.int(0);
        return Ok(());
    };
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let start = arg_i64(args[2])?;
            let end = arg_i64(args[3])?;
            // Redis answers 0 to a range whose negative ends are reversed, before it clamps them
            // (clamped, both would select the first unit) and before it reads the unit word.
            if start < 0 && end < 0 && start > end {
                ex.out.int(0);
                return Ok(());
            }
            let is_bit = match args.get(4) {
                Some(unit) => arg_unit_is_bit(unit)?,
                None => false,
            };
            Some((start, end, is_bit))
        }
        _ => return Err(Error::Syntax),
    };
    let count = entry
        .value
        .with_bytes(|s| match range {
            None => popcount(s),
            Some((start, end, is_bit)) => match bit_range(start, end, is_bit, s.len()) {
                Some((first, last)) => count_bits(s, first, last),
                None => 0,
            },
        })
        .expect("a string entry");
    ex.out.int(count as i64);
    Ok(())
}

/// The first bit equal to `bit` anywhere in `bytes`, scanning eight bytes at a time.
fn scan_for(bytes: &[u8], bit: bool) -> Option<u64> {
    let skip_word = if bit { 0 } else { u64::MAX };
    let mut chunks = bytes.chunks_exact(8);
    for (n, chunk) in chunks.by_ref().enumerate() {
        // Big-endian, so leading zeros count from the first bit of the first byte.
        let word = u64::from_be_bytes(chunk.try_into().expect("8 bytes")) ^ skip_word;
        if word != 0 {
            return Some(n as u64 * 64 + u64::from(word.leading_zeros()));
        }
    }
    let rest = chunks.remainder();
    let base = (bytes.len() - rest.len()) as u64;
    let skip_byte = skip_word as u8;
    rest.iter()
        .position(|&b| b != skip_byte)
        .map(|i| (base + i as u64) * 8 + u64::from((rest[i] ^ skip_byte).leading_zeros()))
}

/// The first bit equal to `bit` from bit `first` to bit `last`, both included and within `bytes`.
fn find_bit(bytes: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    assert!(first <= last);
    assert!(last / 8 < bytes.len() as u64);
    let (lo, hi) = ((first / 8) as usize, (last / 8) as usize);
    let flip = if bit { 0 } else { 0xff };
    let in_range = |i: usize| -> u8 {
        let mut mask = 0xff;
        if i == lo {
            mask &= 0xff >> (first % 8);
        }
        if i == hi {
            mask &= 0xff << (7 - last % 8);
        }
        (bytes[i] ^ flip) & mask
    };
    let at = |i: usize, hits: u8| i as u64 * 8 + u64::from(hits.leading_zeros());
    let hits = in_range(lo);
    if hits != 0 {
        return Some(at(lo, hits));
    }
    if hi == lo {
        return None;
    }
    if let Some(p) = scan_for(&bytes[lo + 1..hi], bit) {
        return Some((lo as u64 + 1) * 8 + p);
    }
    let hits = in_range(hi);
    (hits != 0).then(|| at(hi, hits))
}

pub(crate) fn bitpos(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let bit = match arg_i64(args[2])? {
        0 => false,
        1 => true,
        _ => return Err(Error::msg("ERR The bit argument must be 1 or 0.")),
    };
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    let Some(entry) = string_entry(db, args[1], now)? else {
        // A missing key is an empty string followed, as every string, by endless zero bits.
        ex.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    if args.len() > 6 {
        return Err(Error::Syntax);
    }
    // Redis checks the unit word before it parses `end`.
    let start = match args.get(3) {
        Some(arg) => arg_i64(arg)?,
        None => 0,
    };
    let is_bit = match args.get(5) {
        Some(unit) => arg_unit_is_bit(unit)?,
        None => false,
    };
    let end = match args.get(4) {
        Some(arg) => Some(arg_i64(arg)?),
        None => None,
    };
    let pos = entry
        .value
        .with_bytes(|s| {
            let Some((first, last)) = bit_range(start, end.unwrap_or(-1), is_bit, s.len()) else {
                return -1;
            };
            match find_bit(s, first, last, bit) {
                Some(p) => p as i64,
                // Without an explicit end the string is read as followed by zero bits, so the
                // first clear bit of an all-ones string is the one just past its end.
                None if !bit && end.is_none() => (last + 1) as i64,
                None => -1,
            }
        })
        .expect("a string entry");
    ex.out.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Combines `source` into `acc`, which is as long as the longest source and starts zeroed;
/// `first` says whether `source` is the first operand. Bytes past the end of `source` count as
/// zero.
fn combine(op: BitOp, acc: &mut [u8], source: &[u8], first: bool) {
    let (head, tail) = acc.split_at_mut(source.len().min(acc.len()));
    match op {
        BitOp::And if first => head.copy_from_slice(&source[..head.len()]),
        BitOp::And => {
            head.iter_mut().zip(source).for_each(|(a, s)| *a &= s);
            tail.fill(0);
        }
        BitOp::Or => head.iter_mut().zip(source).for_each(|(a, s)| *a |= s),
        BitOp::Xor => head.iter_mut().zip(source).for_each(|(a, s)| *a ^= s),
        BitOp::Not => head.iter_mut().zip(source).for_each(|(a, s)| *a = !s),
    }
}

pub(crate) fn bitop(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let op = if eq(args[1], "and") {
        BitOp::And
    } else if eq(args[1], "or") {
        BitOp::Or
    } else if eq(args[1], "xor") {
        BitOp::Xor
    } else if eq(args[1], "not") {
        BitOp::Not
    } else {
        return Err(Error::Syntax);
    };
    let (target, sources) = (args[2], &args[3..]);
    if op == BitOp::Not && sources.len() != 1 {
        return Err(Error::msg(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    // Two passes over the sources, so that the result is allocated once and no source is copied:
    // the first checks types and finds the longest, the second combines.
    let mut len = 0;
    for key in sources {
        if let Some(entry) = string_entry(db, key, now)? {
            len = len.max(entry.value.string_len().expect("a string entry"));
        }
    }
    let mut result = vec![0u8; len];
    for (i, key) in sources.iter().enumerate() {
        match string_entry(db, key, now)? {
            Some(entry) => entry
                .value
                .with_bytes(|s| combine(op, &mut result, s, i == 0))
                .expect("a string entry"),
            None => combine(op, &mut result, &[], i == 0),
        }
    }
    if result.is_empty() {
        if ex.db_mut().delete(target).is_some() {
            ex.notify(notify::GENERIC, "del", target);
        }
    } else {
        ex.db_mut()
            .insert(target, Entry::new(Value::Str(result), 0, now));
        ex.notify(notify::STRING, "set", target);
    }
    ex.out.int(len as i64);
    Ok(())
}

/// What SET and INCRBY do with a result that does not fit the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// An integer field of a BITFIELD: its type and where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    signed: bool,
    /// 1..=64 when signed, 1..=63 when not (a reply cannot carry a u64).
    bits: u32,
    /// The bit the field starts at, below [`BITS_MAX`].
    offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldOp {
    Get(Field),
    Set(Field, i64, Overflow),
    IncrBy(Field, i64, Overflow),
}

fn bad_type() -> Error {
    Error::msg(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    )
}

fn arg_field(kind: &[u8], offset: &[u8]) -> Result<Field, Error> {
    let (signed, width) = match kind.split_first() {
        Some((b'i', width)) => (true, width),
        Some((b'u', width)) => (false, width),
        _ => return Err(bad_type()),
    };
    let bits_max = if signed { 64 } else { 63 };
    let bits = match arg_i64(width) {
        Ok(n) if (1..=bits_max).contains(&n) => n as u32,
        _ => return Err(bad_type()),
    };
    // `#n` addresses the n-th field of this width.
    let (index, scale) = match offset.strip_prefix(b"#") {
        Some(index) => (index, u64::from(bits)),
        None => (offset, 1),
    };
    let offset = match arg_i64(index) {
        Ok(n) if n >= 0 => (n as u64).checked_mul(scale).filter(|&o| o < BITS_MAX),
        _ => None,
    };
    let offset = offset.ok_or_else(bad_offset)?;
    Ok(Field {
        signed,
        bits,
        offset,
    })
}

/// Parses BITFIELD's subcommands; all are checked before any runs.
fn parse_field_ops(args: &[&[u8]], read_only: bool) -> Result<Vec<FieldOp>, Error> {
    let mut ops = Vec::with_capacity(args.len() / 3);
    let mut overflow = Overflow::Wrap;
    let mut i = 0;
    while i < args.len() {
        let (word, rest) = (args[i], &args[i + 1..]);
        if eq(word, "get") && rest.len() >= 2 {
            ops.push(FieldOp::Get(arg_field(rest[0], rest[1])?));
            i += 3;
        } else if (eq(word, "set") || eq(word, "incrby")) && rest.len() >= 3 {
            let field = arg_field(rest[0], rest[1])?;
            let value = arg_i64(rest[2])?;
            ops.push(if eq(word, "set") {
                FieldOp::Set(field, value, overflow)
            } else {
                FieldOp::IncrBy(field, value, overflow)
            });
            i += 4;
        } else if eq(word, "overflow") && !rest.is_empty() {
            overflow = if eq(rest[0], "wrap") {
                Overflow::Wrap
            } else if eq(rest[0], "sat") {
                Overflow::Sat
            } else if eq(rest[0], "fail") {
                Overflow::Fail
            } else {
                return Err(Error::msg("ERR Invalid OVERFLOW type specified"));
            };
            i += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    // Redis parses every subcommand before it refuses writes, so a malformed one reports first.
    if read_only && ops.iter().any(|op| !matches!(op, FieldOp::Get(_))) {
        return Err(Error::msg(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    Ok(ops)
}

fn field_mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// The 72 bits (9 bytes) starting at the byte that holds bit `offset`; enough for any field.
/// Bytes past the end of the string read as zero.
fn window(bytes: &[u8], offset: u64) -> u128 {
    let first = (offset / 8) as usize;
    (0..9).fold(0u128, |w, i| {
        w << 8 | u128::from(bytes.get(first + i).copied().unwrap_or(0))
    })
}

/// The field's value, sign-extended when the field is signed.
fn read_field(bytes: &[u8], field: Field) -> i64 {
    let shift = 72 - field.offset % 8 - u64::from(field.bits);
    let raw = (window(bytes, field.offset) >> shift) as u64 & field_mask(field.bits);
    if field.signed {
        let unused = 64 - field.bits;
        ((raw << unused) as i64) >> unused
    } else {
        raw as i64
    }
}

/// Stores the low `bits` bits of `value` into the field, which lies within `bytes`.
fn write_field(bytes: &mut [u8], field: Field, value: i64) {
    assert!((field.offset + u64::from(field.bits) - 1) / 8 < bytes.len() as u64);
    let shift = 72 - field.offset % 8 - u64::from(field.bits);
    let mask = u128::from(field_mask(field.bits)) << shift;
    let mut w = window(bytes, field.offset);
    w = (w & !mask) | ((u128::from(value as u64) << shift) & mask);
    let first = (field.offset / 8) as usize;
    for (i, byte) in bytes.iter_mut().skip(first).take(9).enumerate() {
        *byte = (w >> (64 - 8 * i)) as u8;
    }
}

/// The value a field stores for the exact result `value`, by the overflow policy; `None` when it
/// does not fit and the policy is FAIL.
///
/// Deliberately unlike Redis 7.0 in one corner: there, `OVERFLOW SAT SET iN` (N < 64) with a value
/// so negative that `max - value` overflows an i64 (near -2^63) stores the field's maximum, an
/// artefact of signed overflow in C. We store the minimum, as the documentation describes SAT.
fn fit(field: Field, value: i128, overflow: Overflow) -> Option<i64> {
    let (min, max) = if field.signed {
        (
            -(1i128 << (field.bits - 1)),
            (1i128 << (field.bits - 1)) - 1,
        )
    } else {
        (0, (1i128 << field.bits) - 1)
    };
    if (min..=max).contains(&value) {
        return Some(value as i64);
    }
    match overflow {
        Overflow::Fail => None,
        Overflow::Sat => Some(value.clamp(min, max) as i64),
        // Two's complement truncation to the field's width.
        Overflow::Wrap => {
            let low = value as u64 & field_mask(field.bits);
            if field.signed {
                let unused = 64 - field.bits;
                Some(((low << unused) as i64) >> unused)
            } else {
                Some(low as i64)
            }
        }
    }
}

/// Runs one write subcommand; its reply is `None` (nil) when FAIL refused to write.
fn apply_write(bytes: &mut [u8], op: FieldOp) -> Option<i64> {
    let (field, stored, reply_old) = match op {
        FieldOp::Get(_) => unreachable!("GET is not a write"),
        FieldOp::Set(field, value, overflow) => {
            // An unsigned field takes the argument's bits as an unsigned number, so a negative
            // value overflows (SAT stores the maximum), as in Redis.
            let exact = if field.signed {
                i128::from(value)
            } else {
                i128::from(value as u64)
            };
            (field, fit(field, exact, overflow)?, true)
        }
        FieldOp::IncrBy(field, increment, overflow) => {
            let exact = i128::from(read_field(bytes, field)) + i128::from(increment);
            (field, fit(field, exact, overflow)?, false)
        }
    };
    let old = read_field(bytes, field);
    write_field(bytes, field, stored);
    Some(if reply_old { old } else { stored })
}

fn bitfield_generic(ex: &mut Exec, args: &[&[u8]], read_only: bool) -> Result<(), Error> {
    let ops = parse_field_ops(&args[2..], read_only)?;
    let key = args[1];
    let now = ex.now_ms;
    let write_end_bytes = ops
        .iter()
        .filter_map(|op| match op {
            FieldOp::Get(_) => None,
            FieldOp::Set(f, ..) | FieldOp::IncrBy(f, ..) => {
                Some((f.offset + u64::from(f.bits) - 1) / 8 + 1)
            }
        })
        .max();
    let Some(len_min) = write_end_bytes else {
        // Only GETs: a read, which creates nothing.
        let Some(entry) = string_entry(ex.ks.db(ex.db), key, now)? else {
            ex.out.array(ops.len());
            ops.iter().for_each(|_| ex.out.int(0));
            return Ok(());
        };
        let out = &mut *ex.out;
        out.array(ops.len());
        entry.value.with_bytes(|s| {
            for op in &ops {
                let FieldOp::Get(field) = op else {
                    unreachable!("only GETs")
                };
                out.int(read_field(s, *field));
            }
        });
        return Ok(());
    };
    // Redis checks only where a field starts, so a write that starts in the last 8 bytes can
    // take its string up to 8 bytes past the limit. We refuse it instead: no string is ever
    // longer than STRING_BYTES_MAX, so any string can be sent back as one bulk argument.
    if len_min > STRING_BYTES_MAX as u64 {
        return Err(bad_offset());
    }
    // The string grows once, to cover the furthest write, even if FAIL then refuses every write
    // (as Redis does). What counts as a change, as in Redis: a write that FAIL did not refuse,
    // and that grew the string or stored another value than the field held. Without one, no
    // WATCH of the key breaks and no event is sent, even if the string grew.
    let db = ex.ks.db_mut(ex.db);
    let stamp = db.watch_stamp(key);
    // An expired string is deleted first (a change for a client that saw it live), so the key
    // made in its place keeps its new version even if nothing is written.
    let was_expired = db.peek(key).is_some_and(|e| e.is_expired(now));
    let grows = peek_string(db, key, now, |s| (s.len() as u64) < len_min).unwrap_or(true);
    let bytes = match grows {
        true => bytes_for_write(db, key, now, len_min as usize)?,
        false => db.string_mut_untouched(key).expect("a live string"),
    };
    let mut changed = false;
    ex.out.array(ops.len());
    for op in ops {
        let reply = match op {
            FieldOp::Get(field) => Some(read_field(bytes, field)),
            FieldOp::Set(field, ..) | FieldOp::IncrBy(field, ..) => {
                let before = read_field(bytes, field);
                let reply = apply_write(bytes, op);
                changed |= reply.is_some() && (grows || read_field(bytes, field) != before);
                reply
            }
        };
        match reply {
            Some(n) => ex.out.int(n),
            None => ex.out.null(),
        }
    }
    let db = ex.ks.db_mut(ex.db);
    if !changed {
        if grows && !was_expired {
            db.untouch(key, stamp);
        }
        return Ok(());
    }
    if !grows {
        db.touch(key, now);
    }
    ex.notify(notify::STRING, "setbit", key);
    Ok(())
}

pub(crate) fn bitfield(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bitfield_generic(ex, args, false)
}

pub(crate) fn bitfield_ro(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    bitfield_generic(ex, args, true)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use resp::{Protocol, ReplyWriter};

    use super::*;
    use crate::{Keyspace, lookup};

    /// One client's view of a fresh keyspace: each `check` runs a command through the table (arity
    /// included) and pins the exact bytes of its reply, as redis-server 7.0.15 answers it.
    struct Session {
        ks: Keyspace,
        proto: Protocol,
    }

    impl Session {
        fn new() -> Self {
            Session {
                ks: Keyspace::new(16, 0),
                proto: Protocol::Resp2,
            }
        }

        fn call(&mut self, args: &[&[u8]]) -> Vec<u8> {
            let mut out = ReplyWriter::new(self.proto);
            let mut ex = Exec {
                ks: &mut self.ks,
                db: 0,
                now_ms: 1_000,
                seed: 0,
                out: &mut out,
            };
            ex.run(lookup(args[0]).expect("a known command"), args);
            out.buf
        }

        /// Runs a command given as space-separated words.
        #[track_caller]
        fn check(&mut self, line: &str, want: &[u8]) {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            self.check_args(&args, want);
        }

        #[track_caller]
        fn check_args(&mut self, args: &[&[u8]], want: &[u8]) {
            let got = self.call(args);
            assert_eq!(
                got.escape_ascii().to_string(),
                want.escape_ascii().to_string(),
                "{:?}",
                args.iter()
                    .map(|a| a.escape_ascii().to_string())
                    .collect::<Vec<_>>()
            );
        }
    }

    const OFFSET_ERROR: &[u8] = b"-ERR bit offset is not an integer or out of range\r\n";
    const BIT_ERROR: &[u8] = b"-ERR bit is not an integer or out of range\r\n";
    const NOT_INTEGER: &[u8] = b"-ERR value is not an integer or out of range\r\n";
    const SYNTAX: &[u8] = b"-ERR syntax error\r\n";
    const TYPE_ERROR: &[u8] =
        b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";

    #[test]
    fn setbit_grows_the_string_and_replies_with_the_old_bit() {
        let mut s = Session::new();
        s.check("setbit b 7 1", b":0\r\n");
        s.check("setbit b 7 1", b":1\r\n");
        s.check("get b", b"$1\r\n\x01\r\n");
        s.check("setbit b 100 1", b":0\r\n");
        s.check("strlen b", b":13\r\n");
        s.check("setbit b 7 0", b":1\r\n");
        s.check("getbit b 100", b":1\r\n");
        // Clearing a bit of a missing key still creates it.
        s.check("setbit m 3 0", b":0\r\n");
        s.check("get m", b"$1\r\n\x00\r\n");
        // A string kept as a number is changed as its text: '5' is 0x35.
        s.check("set n 5", b"+OK\r\n");
        s.check("setbit n 7 0", b":1\r\n");
        s.check("get n", b"$1\r\n4\r\n");
    }

    #[test]
    fn setbit_keeps_the_ttl() {
        let mut s = Session::new();
        s.check("set t v px 5000", b"+OK\r\n");
        s.check("setbit t 0 1", b":0\r\n");
        s.check("pttl t", b":5000\r\n");
    }

    #[test]
    fn setbit_and_getbit_check_their_arguments() {
        let mut s = Session::new();
        for offset in [
            "-1",
            "4294967296",
            "abc",
            "00",
            "+1",
            "-0",
            "99999999999999999999",
        ] {
            s.check(&format!("setbit k {offset} 1"), OFFSET_ERROR);
            s.check(&format!("getbit k {offset}"), OFFSET_ERROR);
        }
        for bit in ["2", "-1", "abc", "01", ""] {
            s.check(&format!("setbit k 0 {bit}"), BIT_ERROR);
        }
        // The offset is checked first.
        s.check("setbit k -1 2", OFFSET_ERROR);
        s.check("exists k", b":0\r\n");
        // The last addressable bit (a 512 MB string) reads without allocating.
        s.check("getbit k 4294967295", b":0\r\n");
        s.check("getbit nokey 5", b":0\r\n");
        s.check("setbit k 4294967296 1", OFFSET_ERROR);
        s.check(
            "setbit k",
            b"-ERR wrong number of arguments for 'setbit' command\r\n",
        );
    }

    #[test]
    fn bitcount_counts_bytes_or_bits_in_a_range() {
        let mut s = Session::new();
        s.check("set s foobar", b"+OK\r\n");
        s.check("bitcount s", b":26\r\n");
        s.check("bitcount s 0 0", b":4\r\n");
        s.check("bitcount s 1 1", b":6\r\n");
        s.check("bitcount s -2 -1", b":7\r\n");
        s.check("bitcount s 1 1 BYTE", b":6\r\n");
        s.check("bitcount s 5 30 bit", b":17\r\n");
        s.check("bitcount s -8 -1 BiT", b":4\r\n");
        s.check("bitcount s -1000 -1 bit", b":26\r\n");
        s.check("bitcount s 0 100", b":26\r\n");
        s.check("bitcount s 3 1", b":0\r\n");
        s.check("bitcount s 2 -5", b":0\r\n");
        // Clamped to the first byte...
        s.check("bitcount s -100 -50", b":4\r\n");
        // ...unless both ends are negative and reversed.
        s.check("bitcount s -100 -200", b":0\r\n");
        s.check("bitcount s -100 -200 bit", b":0\r\n");
        s.check("bitcount s 9223372036854775807 -1", b":0\r\n");
        s.check("bitcount s -9223372036854775808 -1", b":26\r\n");
        s.check("bitcount s -9223372036854775808 -1 bit", b":26\r\n");
        s.check("set i 12345", b"+OK\r\n");
        s.check("bitcount i", b":17\r\n");
        s.check("set e ", b"+OK\r\n");
        s.check("bitcount e 0 -1", b":0\r\n");
        s.check("bitcount e -1 0 bit", b":0\r\n");
        s.check("bitcount nokey", b":0\r\n");
    }

    #[test]
    fn bitcount_checks_its_range_only_for_an_existing_key() {
        let mut s = Session::new();
        s.check("set s foobar", b"+OK\r\n");
        s.check("bitcount s 0", SYNTAX);
        s.check("bitcount s 0 -1 foo", SYNTAX);
        s.check("bitcount s 0 -1 bit x", SYNTAX);
        s.check("bitcount s a 0 bit x", SYNTAX);
        s.check("bitcount s a b", NOT_INTEGER);
        s.check("bitcount s 0 b foo", NOT_INTEGER);
        // Redis 7.0 replies to reversed negative ends before it reads the unit word.
        s.check("bitcount s -52 -71 foo", b":0\r\n");
        // Redis 7.0 looks the key up first (Redis 8 parses first).
        s.check("bitcount nokey 0", b":0\r\n");
        s.check("bitcount nokey a b", b":0\r\n");
        s.check("bitcount nokey 0 -1 foo", b":0\r\n");
    }

    #[test]
    fn bitpos_finds_the_first_set_or_clear_bit() {
        let mut s = Session::new();
        s.check_args(&[b"set", b"k", b"\xff\xf0\x00"], b"+OK\r\n");
        s.check("bitpos k 0", b":12\r\n");
        s.check("bitpos k 1", b":0\r\n");
        s.check("bitpos k 1 2", b":-1\r\n");
        s.check("bitpos k 0 2", b":16\r\n");
        s.check_args(&[b"set", b"k", b"\x00\xff\xf0"], b"+OK\r\n");
        s.check("bitpos k 1 0", b":8\r\n");
        s.check("bitpos k 1 2", b":16\r\n");
        s.check("bitpos k 1 2 -1 byte", b":16\r\n");
        s.check("bitpos k 1 7 15 BIT", b":8\r\n");
        s.check("bitpos k 0 8 -1 bit", b":20\r\n");
        s.check("bitpos k 1 7 -3 bit", b":8\r\n");
        s.check("bitpos k 1 -17 -1 bit", b":8\r\n");
        s.check("bitpos k 0 -4 -1 bit", b":20\r\n");
        s.check("bitpos k 1 -9223372036854775808 -1 bit", b":8\r\n");
        s.check("bitpos k 0 0 9223372036854775807 bit", b":0\r\n");
        s.check_args(&[b"set", b"z", b"\x00\x00"], b"+OK\r\n");
        s.check("bitpos z 1", b":-1\r\n");
        s.check("bitpos z 0 5 10", b":-1\r\n");
        // Unlike BITCOUNT, reversed negative ends are clamped to the first byte.
        s.check("bitpos z 0 -100 -200", b":0\r\n");
    }

    #[test]
    fn bitpos_for_a_clear_bit_past_the_end() {
        let mut s = Session::new();
        s.check_args(&[b"set", b"ones", b"\xff\xff"], b"+OK\r\n");
        // Without an explicit end, the string is followed by zero bits...
        s.check("bitpos ones 0", b":16\r\n");
        s.check("bitpos ones 0 0", b":16\r\n");
        s.check("bitpos ones 0 1", b":16\r\n");
        s.check("bitpos ones 0 -100", b":16\r\n");
        // ...but not with one, nor when the range is empty.
        s.check("bitpos ones 0 0 -1", b":-1\r\n");
        s.check("bitpos ones 0 0 100", b":-1\r\n");
        s.check("bitpos ones 0 0 -1 bit", b":-1\r\n");
        s.check("bitpos ones 0 5", b":-1\r\n");
        // A missing key is an empty string followed by zero bits; an empty string has no range.
        s.check("bitpos missing 0", b":0\r\n");
        s.check("bitpos missing 1", b":-1\r\n");
        s.check("bitpos missing 0 5 10", b":0\r\n");
        s.check("set e ", b"+OK\r\n");
        s.check("bitpos e 0", b":-1\r\n");
        s.check("bitpos e 1", b":-1\r\n");
    }

    #[test]
    fn bitpos_checks_its_arguments() {
        let mut s = Session::new();
        s.check("set k foobar", b"+OK\r\n");
        let bit_error = b"-ERR The bit argument must be 1 or 0.\r\n";
        s.check("bitpos k 2", bit_error);
        s.check("bitpos k -1", bit_error);
        s.check("bitpos missing 2", bit_error);
        s.check("bitpos k abc", NOT_INTEGER);
        s.check("bitpos k 01", NOT_INTEGER);
        s.check("bitpos k 1 a", NOT_INTEGER);
        s.check("bitpos k 1 0 a", NOT_INTEGER);
        s.check("bitpos k 1 0 -1 foo", SYNTAX);
        // The unit word is checked before the end.
        s.check("bitpos k 1 0 b foo", SYNTAX);
        s.check("bitpos k 1 a b foo", NOT_INTEGER);
        s.check("bitpos k 1 a 0 bit x", SYNTAX);
        // BIT needs an end: here "bit" is read as the end.
        s.check("bitpos k 0 3 bit", NOT_INTEGER);
        // Redis 7.0 looks the key up before it parses the range.
        s.check("bitpos missing 0 a", b":0\r\n");
    }

    #[test]
    fn bitop_combines_sources_as_long_as_the_longest() {
        let mut s = Session::new();
        s.check("mset a foobar b abcdef", b"+OK\r\n");
        s.check("bitop AND dand a b", b":6\r\n");
        s.check("get dand", b"$6\r\n`bc`ab\r\n");
        s.check("bitop or dor a b", b":6\r\n");
        s.check("get dor", b"$6\r\ngoofev\r\n");
        s.check("bitop xor dxor a b", b":6\r\n");
        s.check("get dxor", b"$6\r\n\x07\r\x0c\x06\x04\x14\r\n");
        s.check("bitop xor d a a a", b":6\r\n");
        s.check("get d", b"$6\r\nfoobar\r\n");
        s.check("bitop NoT dnot b", b":6\r\n");
        s.check("get dnot", b"$6\r\n\x9e\x9d\x9c\x9b\x9a\x99\r\n");
        // A number is combined as its text.
        s.check("set n 123", b"+OK\r\n");
        s.check("bitop not d n", b":3\r\n");
        s.check("get d", b"$3\r\n\xce\xcd\xcc\r\n");
        // The shorter source is zero-padded; a missing one is empty.
        s.check_args(&[b"mset", b"s", b"\xff", b"l", b"\xff\x0f\xff"], b"+OK\r\n");
        s.check("bitop and d s l", b":3\r\n");
        s.check("get d", b"$3\r\n\xff\x00\x00\r\n");
        s.check("bitop or d s l nokey", b":3\r\n");
        s.check("get d", b"$3\r\n\xff\x0f\xff\r\n");
        s.check("bitop and d nokey a", b":6\r\n");
        s.check("get d", b"$6\r\n\x00\x00\x00\x00\x00\x00\r\n");
        // The destination is replaced, TTL and all, and may be a source.
        s.check("set t v px 5000", b"+OK\r\n");
        s.check("bitop or t a", b":6\r\n");
        s.check("pttl t", b":-1\r\n");
        s.check("bitop and a a b", b":6\r\n");
        s.check("get a", b"$6\r\n`bc`ab\r\n");
    }

    #[test]
    fn bitop_with_an_empty_result_deletes_the_destination() {
        let mut s = Session::new();
        s.check("set dst x", b"+OK\r\n");
        s.check("bitop or dst nokey1 nokey2", b":0\r\n");
        s.check("exists dst", b":0\r\n");
        s.check("bitop not dst nokey", b":0\r\n");
        s.check("exists dst", b":0\r\n");
        s.check("set e ", b"+OK\r\n");
        s.check("bitop or dst e", b":0\r\n");
        s.check("exists dst", b":0\r\n");
    }

    #[test]
    fn bitop_checks_its_arguments() {
        let mut s = Session::new();
        s.check("set a x", b"+OK\r\n");
        s.check("bitop nand d a b", SYNTAX);
        s.check("bitop foo d a", SYNTAX);
        let not_error = b"-ERR BITOP NOT must be called with a single source key.\r\n";
        s.check("bitop not d a a", not_error);
        s.check("bitop not d nokey1 nokey2", not_error);
        s.check(
            "bitop and d",
            b"-ERR wrong number of arguments for 'bitop' command\r\n",
        );
        s.check("exists d", b":0\r\n");
    }

    #[test]
    fn bitfield_gets_sets_and_increments() {
        let mut s = Session::new();
        s.check(
            "bitfield bf set u8 0 255 get u8 0 incrby u8 0 10 get i4 0 set i8 #1 -1 get u8 8",
            b"*6\r\n:0\r\n:255\r\n:9\r\n:0\r\n:0\r\n:255\r\n",
        );
        s.check("get bf", b"$2\r\n\t\xff\r\n");
        s.check(
            "bitfield a set u8 0 255 get i8 0 get i4 0 get u3 1 get i63 0 get i64 0 get u63 1",
            b"*7\r\n:0\r\n:-1\r\n:-1\r\n:7\r\n:-36028797018963968\r\n:-72057594037927936\r\n:9151314442816847872\r\n",
        );
        s.check(
            "bitfield a set i16 3 -2 get u16 3 get u24 0",
            b"*3\r\n:-2048\r\n:65534\r\n:16777152\r\n",
        );
        s.check("get a", b"$3\r\n\xff\xff\xc0\r\n");
        s.check(
            "bitfield k2 GeT u8 0 SeT u8 0 65 InCrBy u8 0 1 OvErFlOw SaT",
            b"*3\r\n:0\r\n:0\r\n:66\r\n",
        );
        s.check("bitfield k2 get u8 #1 set u4 #3 15", b"*2\r\n:0\r\n:0\r\n");
        s.check("get k2", b"$2\r\nB\x0f\r\n");
        // A number is changed as its text; '1' is 0x31 and '2' is 0x32.
        s.check("set n 12", b"+OK\r\n");
        s.check("bitfield n get u8 0 set u8 8 0", b"*2\r\n:49\r\n:50\r\n");
        s.check("get n", b"$2\r\n1\x00\r\n");
    }

    #[test]
    fn bitfield_overflow_applies_to_the_subcommands_after_it() {
        let mut s = Session::new();
        s.check(
            "bitfield c incrby u2 100 1 overflow sat incrby u2 100 5 overflow wrap incrby i5 0 100",
            b"*3\r\n:1\r\n:3\r\n:4\r\n",
        );
        s.check(
            "bitfield d overflow fail incrby u2 0 3 incrby u2 0 1 get u2 0",
            b"*3\r\n:3\r\n$-1\r\n:3\r\n",
        );
        s.check("bitfield d set i8 0 200", b"*1\r\n:-64\r\n");
        s.check("bitfield d get i8 0", b"*1\r\n:-56\r\n");
        s.check(
            "bitfield x overflow fail incrby u8 100 300 overflow wrap incrby u8 100 300 overflow sat incrby u8 100 300 incrby u8 100 -1000",
            b"*4\r\n$-1\r\n:44\r\n:255\r\n:0\r\n",
        );
        s.check(
            "bitfield x overflow fail set i8 0 1 overflow wrap set i8 0 2 overflow fail set i8 0 -200 get i8 0",
            b"*4\r\n:0\r\n:1\r\n$-1\r\n:2\r\n",
        );
    }

    #[test]
    fn bitfield_set_of_an_unsigned_field_reads_the_value_as_unsigned() {
        let mut s = Session::new();
        // -1 is 2^64 - 1 to an unsigned field: it overflows upward.
        s.check(
            "bitfield a overflow sat set u8 0 -1 get u8 0",
            b"*2\r\n:0\r\n:255\r\n",
        );
        s.check(
            "bitfield a overflow wrap set u8 0 -1 get u8 0",
            b"*2\r\n:255\r\n:255\r\n",
        );
        s.check(
            "bitfield a overflow fail set u8 0 -1 get u8 0",
            b"*2\r\n$-1\r\n:255\r\n",
        );
        s.check(
            "bitfield a overflow wrap set u8 0 -9223372036854775808 get u8 0",
            b"*2\r\n:255\r\n:0\r\n",
        );
        s.check(
            "bitfield a overflow wrap set u8 0 300 get u8 0",
            b"*2\r\n:0\r\n:44\r\n",
        );
        s.check(
            "bitfield a overflow sat set u8 0 300 get u8 0",
            b"*2\r\n:44\r\n:255\r\n",
        );
        s.check(
            "bitfield b overflow wrap set u63 0 -1 get u63 0",
            b"*2\r\n:0\r\n:9223372036854775807\r\n",
        );
    }

    #[test]
    fn bitfield_overflow_at_the_widest_fields() {
        let mut s = Session::new();
        s.check(
            "bitfield a overflow sat set u63 0 9223372036854775807 incrby u63 0 1",
            b"*2\r\n:0\r\n:9223372036854775807\r\n",
        );
        s.check(
            "bitfield a overflow wrap incrby u63 0 1 incrby u63 0 -1",
            b"*2\r\n:0\r\n:9223372036854775807\r\n",
        );
        s.check(
            "bitfield a overflow sat set u63 0 5 incrby u63 0 -9223372036854775808",
            b"*2\r\n:9223372036854775807\r\n:0\r\n",
        );
        s.check(
            "bitfield a overflow wrap set u63 0 5 incrby u63 0 -9223372036854775808",
            b"*2\r\n:0\r\n:5\r\n",
        );
        s.check(
            "bitfield c overflow wrap set i64 0 9223372036854775807 incrby i64 0 1",
            b"*2\r\n:0\r\n:-9223372036854775808\r\n",
        );
        s.check(
            "bitfield c overflow sat incrby i64 0 -1",
            b"*1\r\n:-9223372036854775808\r\n",
        );
        s.check("bitfield c overflow fail incrby i64 0 -1", b"*1\r\n$-1\r\n");
        s.check(
            "bitfield d overflow wrap set i8 0 100 incrby i8 0 9223372036854775807",
            b"*2\r\n:0\r\n:99\r\n",
        );
        s.check(
            "bitfield d overflow sat set i8 0 -100 incrby i8 0 -9223372036854775808",
            b"*2\r\n:99\r\n:-128\r\n",
        );
        s.check(
            "bitfield e overflow sat set i1 0 -1 get i1 0 incrby i1 0 1 incrby i1 0 1 set i1 0 1",
            b"*5\r\n:0\r\n:-1\r\n:0\r\n:0\r\n:0\r\n",
        );
        s.check(
            "bitfield f overflow wrap set u1 0 1 incrby u1 0 1 incrby u1 0 3 set u1 0 2 set u1 0 -1",
            b"*5\r\n:0\r\n:0\r\n:1\r\n:1\r\n:0\r\n",
        );
    }

    #[test]
    fn bitfield_sat_set_of_a_huge_negative_value_stores_the_minimum() {
        // Redis 7.0 stores 127 here (signed overflow in its check); see `fit`.
        let mut s = Session::new();
        s.check(
            "bitfield a overflow sat set i8 0 -9223372036854775808 get i8 0",
            b"*2\r\n:0\r\n:-128\r\n",
        );
        s.check(
            "bitfield a overflow sat set i8 0 -300 get i8 0",
            b"*2\r\n:-128\r\n:-128\r\n",
        );
    }

    #[test]
    fn bitfield_writes_create_and_grow_the_key_even_when_they_fail() {
        let mut s = Session::new();
        s.check("bitfield k overflow fail set u8 100 300", b"*1\r\n$-1\r\n");
        s.check("strlen k", b":14\r\n");
        // The string grows to the furthest write, not to the furthest read.
        s.check("bitfield z get u8 1000 set u8 0 1", b"*2\r\n:0\r\n:0\r\n");
        s.check("strlen z", b":1\r\n");
        // Reads alone create nothing.
        s.check("bitfield nokey get i8 0 get u4 100", b"*2\r\n:0\r\n:0\r\n");
        s.check("bitfield nokey", b"*0\r\n");
        s.check("exists nokey", b":0\r\n");
        s.check("set t v px 5000", b"+OK\r\n");
        s.check("bitfield t set u8 0 65", b"*1\r\n:118\r\n");
        s.check("pttl t", b":5000\r\n");
        s.check("get t", b"$1\r\nA\r\n");
    }

    #[test]
    fn bitfield_checks_types_and_offsets() {
        let mut s = Session::new();
        for kind in [
            "u64", "i65", "i0", "u0", "x8", "i", "I8", "U8", "i08", "i+8", "i-8",
        ] {
            s.check(&format!("bitfield k get {kind} 0"), TYPE_ERROR);
        }
        s.check(
            "bitfield k get u63 0 get i64 0 get i8 #0",
            b"*3\r\n:0\r\n:0\r\n:0\r\n",
        );
        for offset in [
            "-1",
            "#-1",
            "#",
            "##1",
            "abc",
            "01",
            "+1",
            "#01",
            "#+1",
            "4294967296",
        ] {
            s.check(&format!("bitfield k get i8 {offset}"), OFFSET_ERROR);
        }
        // A field starts below 2^32 bits, `#` offsets multiplied out; a read may run past.
        s.check("bitfield k get i8 4294967295", b"*1\r\n:0\r\n");
        // A write may not grow the string past 512 MB (Redis lets it, by up to 8 bytes).
        s.check("bitfield k set i8 4294967289 1", OFFSET_ERROR);
        s.check("bitfield k get u8 0 incrby i64 4294967233 1", OFFSET_ERROR);
        s.check(
            "bitfield_ro k get i8 0 set i8 4294967289 1",
            b"-ERR BITFIELD_RO only supports the GET subcommand\r\n",
        );
        s.check("exists k", b":0\r\n");
        s.check("bitfield k get i8 #536870911", b"*1\r\n:0\r\n");
        s.check("bitfield k get i8 #536870912", OFFSET_ERROR);
        s.check("bitfield k get i64 #67108863", b"*1\r\n:0\r\n");
        s.check("bitfield k get i64 #67108864", OFFSET_ERROR);
        // Redis overflows the multiplication here and reads bit 0; we refuse.
        s.check("bitfield k get i64 #2305843009213693952", OFFSET_ERROR);
        for value in ["abc", "1.5", "01", "+1"] {
            s.check(&format!("bitfield k set i8 0 {value}"), NOT_INTEGER);
            s.check(&format!("bitfield k incrby i8 0 {value}"), NOT_INTEGER);
        }
    }

    #[test]
    fn bitfield_parses_every_subcommand_before_running_any() {
        let mut s = Session::new();
        s.check("bitfield k get i8", SYNTAX);
        s.check("bitfield k set i8 0", SYNTAX);
        s.check("bitfield k incrby i8 0", SYNTAX);
        s.check("bitfield k overflow", SYNTAX);
        s.check("bitfield k foo", SYNTAX);
        s.check("bitfield k set i8 0 1 foo", SYNTAX);
        s.check("bitfield k set u64 0 1 foo", TYPE_ERROR);
        s.check("bitfield k foo get u64 0", SYNTAX);
        s.check(
            "bitfield k set i8 0 1 overflow bad",
            b"-ERR Invalid OVERFLOW type specified\r\n",
        );
        s.check("bitfield k set i8 0 1 get i8 -1", OFFSET_ERROR);
        s.check("exists k", b":0\r\n");
        s.check("bitfield k overflow sat", b"*0\r\n");
    }

    #[test]
    fn bitfield_ro_only_reads() {
        let mut s = Session::new();
        s.check("set k A", b"+OK\r\n");
        s.check(
            "bitfield_ro k get u8 0 get u4 4 overflow wrap",
            b"*2\r\n:65\r\n:1\r\n",
        );
        s.check("bitfield_ro nokey get i8 0", b"*1\r\n:0\r\n");
        s.check("bitfield_ro nokey", b"*0\r\n");
        let ro_error = b"-ERR BITFIELD_RO only supports the GET subcommand\r\n";
        s.check("bitfield_ro k set i8 0 1", ro_error);
        s.check("bitfield_ro k incrby i8 0 1", ro_error);
        s.check("bitfield_ro k get i8 0 set i8 0 1", ro_error);
        // The whole command is parsed before writes are refused.
        s.check("bitfield_ro k incrby i8 0 1 get u64 0", TYPE_ERROR);
        s.check("bitfield_ro k set i8 0 abc", NOT_INTEGER);
        s.check("bitfield_ro k set i8 0", SYNTAX);
        s.check(
            "bitfield_ro k overflow bad",
            b"-ERR Invalid OVERFLOW type specified\r\n",
        );
        s.check("get k", b"$1\r\nA\r\n");
    }

    #[test]
    fn bitfield_fail_is_a_resp3_null() {
        let mut s = Session::new();
        s.proto = Protocol::Resp3;
        s.check(
            "bitfield k overflow fail set u8 0 300 get u8 0",
            b"*2\r\n_\r\n:0\r\n",
        );
    }

    /// Bit `i` of `bytes`, or 0 past the end: the reference the fast paths are checked against.
    #[test]
    fn a_bitfield_that_changes_nothing_breaks_only_the_watches_a_deletion_broke() {
        let mut s = Session::new();
        let no_op = "BITFIELD k OVERFLOW FAIL INCRBY u2 0 5";
        // Missing at WATCH, made by a BITFIELD whose every write failed: no change (Redis).
        let taken = s.ks.db(0).watch();
        s.check(no_op, b"*1\r\n$-1\r\n");
        assert!(!s.ks.db(0).watch_broken(b"k", taken, false, 1_000));
        // Live at WATCH, deleted, then made again the same way: the deletion was a change.
        let taken = s.ks.db(0).watch();
        s.check("DEL k", b":1\r\n");
        s.check(no_op, b"*1\r\n$-1\r\n");
        assert!(s.ks.db(0).watch_broken(b"k", taken, true, 1_000));
        // Live at WATCH, expired, then made again: the expiry was a change too.
        s.check("SET k x PX 500", b"+OK\r\n");
        let taken = s.ks.db(0).watch();
        // At 2 s, past k's time.
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ex = Exec {
            ks: &mut s.ks,
            db: 0,
            now_ms: 2_000,
            seed: 0,
            out: &mut out,
        };
        let args: Vec<&[u8]> = no_op.split(' ').map(str::as_bytes).collect();
        ex.run(lookup(args[0]).expect("BITFIELD"), &args);
        assert_eq!(out.buf, b"*1\r\n$-1\r\n");
        assert!(s.ks.db(0).watch_broken(b"k", taken, true, 2_000));
    }

    fn naive_bit(bytes: &[u8], i: u64) -> bool {
        bit_at(bytes, i)
    }

    proptest! {
        #[test]
        fn count_bits_matches_a_bit_by_bit_count(
            bytes in proptest::collection::vec(any::<u8>(), 1..80),
            a in 0u64..640,
            b in 0u64..640,
        ) {
            let bits = bytes.len() as u64 * 8;
            let (first, last) = ((a % bits).min(b % bits), (a % bits).max(b % bits));
            let want = (first..=last).filter(|&i| naive_bit(&bytes, i)).count() as u64;
            prop_assert_eq!(count_bits(&bytes, first, last), want);
        }

        #[test]
        fn find_bit_matches_a_bit_by_bit_search(
            bytes in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()], 1..80),
            a in 0u64..640,
            b in 0u64..640,
            bit: bool,
        ) {
            let bits = bytes.len() as u64 * 8;
            let (first, last) = ((a % bits).min(b % bits), (a % bits).max(b % bits));
            let want = (first..=last).find(|&i| naive_bit(&bytes, i) == bit);
            prop_assert_eq!(find_bit(&bytes, first, last, bit), want);
        }

        #[test]
        fn fields_read_back_what_was_written_and_touch_nothing_else(
            bytes in proptest::collection::vec(any::<u8>(), 18..24),
            offset in 0u64..80,
            bits in 1u32..=64,
            value: i64,
        ) {
            let field = Field { signed: true, bits, offset };
            let mut after = bytes.clone();
            write_field(&mut after, field, value);
            let unused = 64 - bits;
            prop_assert_eq!(read_field(&after, field), (value << unused) >> unused);
            for i in 0..bytes.len() as u64 * 8 {
                let inside = (offset..offset + u64::from(bits)).contains(&i);
                if inside {
                    let from_msb = bits - 1 - (i - offset) as u32;
                    prop_assert_eq!(naive_bit(&after, i), (value >> from_msb) & 1 == 1);
                } else {
                    prop_assert_eq!(naive_bit(&after, i), naive_bit(&bytes, i));
                }
            }
        }
    }
}
