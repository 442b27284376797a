//! SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC]
//! [ALPHA] [STORE destination] · SORT_RO (the same without STORE)
//!
//! Patterns: the first `*` is replaced by the element; `key->field` reads a hash field; `#` in
//! GET is the element itself; `BY nosort` (any BY pattern without `*`) keeps the input order.

use std::cmp::Ordering;

use crate::error::Error;
use crate::exec::{Exec, arg_i64, eq};
use crate::notify;
use crate::types::List;
use crate::value::{Entry, Value, ValueRef};

struct SortOptions<'a> {
    by: Option<&'a [u8]>,
    limit: Option<(i64, i64)>,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a [u8]>,
}

fn parse<'a>(args: &[&'a [u8]], read_only: bool) -> Result<SortOptions<'a>, Error> {
    let mut o = SortOptions {
        by: None,
        limit: None,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        let arg = args[i];
        if eq(arg, "asc") {
            o.desc = false;
        } else if eq(arg, "desc") {
            o.desc = true;
        } else if eq(arg, "alpha") {
            o.alpha = true;
        } else if eq(arg, "limit") && more >= 2 {
            o.limit = Some((arg_i64(args[i + 1])?, arg_i64(args[i + 2])?));
            i += 2;
        } else if eq(arg, "store") && more >= 1 && !read_only {
            o.store = Some(args[i + 1]);
            i += 1;
        } else if eq(arg, "by") && more >= 1 {
            o.by = Some(args[i + 1]);
            i += 1;
        } else if eq(arg, "get") && more >= 1 {
            o.gets.push(args[i + 1]);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// Reads what a BY or GET pattern points at for `element`: a string value, or a hash field.
fn lookup(ex: &Exec, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    // `key->field`: the arrow must come after the star.
    let arrow = pattern
        .windows(2)
        .rposition(|w| w == b"->")
        .filter(|&a| a > star && a + 2 < pattern.len());
    let key_pattern = arrow.map_or(pattern, |a| &pattern[..a]);
    let mut key = key_pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&key_pattern[star + 1..]);
    let entry = ex.db().get(&key, ex.now_ms)?;
    match (arrow, entry.value) {
        (None, value) => value.to_bytes(),
        (Some(a), ValueRef::Hash(h)) => h.get(&pattern[a + 2..]).map(|v| v.to_vec()),
        (Some(_), _) => None,
    }
}

fn elements(value: ValueRef) -> Result<Vec<Vec<u8>>, Error> {
    Ok(match value {
        ValueRef::List(l) => l.iter().map(|e| e.to_vec()).collect(),
        ValueRef::Set(s) => s.iter().map(<[u8]>::to_vec).collect(),
        ValueRef::ZSet(z) => z.iter().map(|(m, _)| m.to_vec()).collect(),
        _ => return Err(Error::WrongType),
    })
}

fn score(text: Option<&[u8]>) -> Result<f64, Error> {
    let Some(text) = text else {
        return Ok(0.0);
    };
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.trim_start().parse::<f64>().ok())
        .filter(|s| !s.is_nan())
        .ok_or_else(|| Error::msg("ERR One or more scores can't be converted into double"))
}

/// A string as Redis's ALPHA compares it: as a C string (strcoll), which ends at its first NUL
/// byte, so "a\0b" sorts equal to "a".
fn c_str(s: &[u8]) -> &[u8] {
    s.split(|&b| b == 0).next().unwrap_or(s)
}

fn sort_generic(ex: &mut Exec, args: &[&[u8]], read_only: bool) -> Result<(), Error> {
    let o = parse(args, read_only)?;
    let items = match ex.db().get(args[1], ex.now_ms) {
        Some(entry) => elements(entry.value)?,
        None => Vec::new(),
    };
    // BY without a `*` (conventionally `BY nosort`) skips sorting.
    let sort = o.by.is_none_or(|p| p.contains(&b'*'));
    let mut keyed: Vec<(Vec<u8>, Option<Vec<u8>>)> = items
        .into_iter()
        .map(|e| {
            let weight = match o.by {
                Some(pattern) if sort => lookup(ex, pattern, &e),
                _ => None,
            };
            (e, weight)
        })
        .collect();
    if sort {
        // Stable sorts, DESC by reversing the comparison: elements that compare equal keep
        // their input order either way, as Redis's (merge-sorting) qsort keeps them.
        let order = |ordering: Ordering| match o.desc {
            true => ordering.reverse(),
            false => ordering,
        };
        if o.alpha {
            // ALPHA BY compares the weights alone (a missing one first); equal weights keep
            // the input order. With STORE Redis compares bytes, not C strings (the stored
            // result must not depend on a replica's locale), and so does this.
            let text: fn(&[u8]) -> &[u8] = match o.store {
                Some(_) => |s| s,
                None => c_str,
            };
            match o.by {
                Some(_) => keyed
                    .sort_by(|a, b| order(a.1.as_deref().map(text).cmp(&b.1.as_deref().map(text)))),
                None => keyed.sort_by(|a, b| order(text(&a.0).cmp(text(&b.0)))),
            }
        } else {
            let mut scored = Vec::with_capacity(keyed.len());
            for (element, weight) in keyed {
                let s = match o.by {
                    Some(_) => score(weight.as_deref())?,
                    None => score(Some(&element))?,
                };
                scored.push((s, element));
            }
            // Equal scores fall back to comparing the elements, so the order is total.
            scored.sort_by(|a, b| {
                order(
                    a.0.partial_cmp(&b.0)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| a.1.cmp(&b.1)),
                )
            });
            keyed = scored.into_iter().map(|(_, e)| (e, None)).collect();
        }
    } else if o.desc {
        // BY nosort DESC: a list or sorted set from its other end, as Redis walks it.
        keyed.reverse();
    }
    let len = keyed.len() as i64;
    let (start, count) = match o.limit {
        Some((offset, count)) => {
            let start = offset.clamp(0, len);
            let count = if count < 0 {
                len - start
            } else {
                count.min(len - start)
            };
            (start as usize, count as usize)
        }
        None => (0, len as usize),
    };
    let chosen = &keyed[start..start + count];
    // Each element gives one reply per GET pattern, or itself without GET.
    let mut results: Vec<Option<Vec<u8>>> = Vec::new();
    for (element, _) in chosen {
        if o.gets.is_empty() {
            results.push(Some(element.clone()));
        } else {
            for pattern in &o.gets {
                results.push(lookup(ex, pattern, element));
            }
        }
    }
    match o.store {
        Some(target) => {
            let stored = results.len();
            if stored == 0 {
                if ex.db_mut().delete(target).is_some() {
                    ex.notify(notify::GENERIC, "del", target);
                }
            } else {
                let list: List = results.into_iter().map(|r| r.unwrap_or_default()).collect();
                let now = ex.now_ms;
                ex.db_mut()
                    .insert(target, Entry::new(Value::List(Box::new(list)), 0, now));
                ex.notify(notify::LIST, "sortstore", target);
            }
            ex.out.int(stored as i64);
        }
        None => {
            ex.out.array(results.len());
            for r in &results {
                match r {
                    Some(v) => ex.out.bulk(v),
                    None => ex.out.null(),
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn sort(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    sort_generic(ex, args, false)
}

pub(crate) fn sort_ro(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    sort_generic(ex, args, true)
}

#[cfg(test)]
mod tests {
    use resp::{Protocol, ReplyWriter};

    use crate::{Exec, Keyspace, lookup};

    fn run(ks: &mut Keyspace, args: &[&[u8]]) -> Vec<u8> {
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ex = Exec {
            ks,
            db: 0,
            now_ms: 1_000,
            seed: 1,
            out: &mut out,
        };
        ex.run(lookup(args[0]).unwrap(), args);
        out.buf
    }

    #[test]
    fn numbers_strings_patterns_and_store() {
        let mut ks = Keyspace::new(1, 0);
        run(&mut ks, &[b"RPUSH", b"l", b"3", b"10", b"1", b"2"]);
        assert_eq!(
            run(&mut ks, &[b"SORT", b"l"]),
            b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n"
        );
        assert_eq!(
            run(
                &mut ks,
                &[b"SORT", b"l", b"ALPHA", b"DESC", b"LIMIT", b"0", b"2"]
            ),
            b"*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
        );
        run(&mut ks, &[b"SET", b"w_1", b"30"]);
        run(&mut ks, &[b"SET", b"w_2", b"20"]);
        run(&mut ks, &[b"SET", b"w_3", b"10"]);
        run(&mut ks, &[b"SET", b"name_3", b"three"]);
        assert_eq!(
            run(&mut ks, &[b"SORT", b"l", b"BY", b"w_*", b"GET", b"#", b"GET", b"name_*"]),
            b"*8\r\n$2\r\n10\r\n$-1\r\n$1\r\n3\r\n$5\r\nthree\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n$-1\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"SORT", b"l", b"BY", b"nosort"]),
            b"*4\r\n$1\r\n3\r\n$2\r\n10\r\n$1\r\n1\r\n$1\r\n2\r\n"
        );
        assert_eq!(run(&mut ks, &[b"SORT", b"l", b"STORE", b"dst"]), b":4\r\n");
        assert_eq!(
            run(&mut ks, &[b"LRANGE", b"dst", b"0", b"0"]),
            b"*1\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"SORT_RO", b"l", b"STORE", b"dst"]),
            b"-ERR syntax error\r\n"
        );
        run(&mut ks, &[b"RPUSH", b"bad", b"a"]);
        assert_eq!(
            run(&mut ks, &[b"SORT", b"bad"]),
            b"-ERR One or more scores can't be converted into double\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"SORT", b"w_1"]),
            b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        );
        assert_eq!(run(&mut ks, &[b"SORT", b"missing"]), b"*0\r\n");
    }

    #[test]
    fn equal_weights_keep_the_input_order_alpha_and_numeric_break_ties_by_element() {
        let mut ks = Keyspace::new(1, 0);
        run(&mut ks, &[b"RPUSH", b"l", b"c", b"a", b"b", b"a", b"d"]);
        run(
            &mut ks,
            &[b"MSET", b"w_a", b"1", b"w_b", b"1", b"w_c", b"1"],
        );
        let sorted = |ks: &mut Keyspace, args: &[&[u8]]| {
            let reply = run(ks, args);
            String::from_utf8(reply)
                .unwrap()
                .split("\r\n")
                .filter(|line| !line.starts_with(['*', '$']) && !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // ALPHA BY: the missing weight first, then c a b a as pushed, also under DESC.
        assert_eq!(
            sorted(&mut ks, &[b"SORT", b"l", b"BY", b"w_*", b"ALPHA"]),
            "d c a b a"
        );
        assert_eq!(
            sorted(&mut ks, &[b"SORT", b"l", b"BY", b"w_*", b"ALPHA", b"DESC"]),
            "c a b a d"
        );
        // Numeric BY: a missing weight is 0, equal weights compare the elements.
        assert_eq!(
            sorted(&mut ks, &[b"SORT", b"l", b"BY", b"w_*"]),
            "d a a b c"
        );
        assert_eq!(
            sorted(&mut ks, &[b"SORT", b"l", b"BY", b"w_*", b"DESC"]),
            "c b a a d"
        );
        assert_eq!(
            sorted(
                &mut ks,
                &[
                    b"SORT", b"l", b"BY", b"w_*", b"ALPHA", b"DESC", b"LIMIT", b"1", b"3"
                ]
            ),
            "a b a"
        );
        // BY nosort DESC walks the list from its tail.
        assert_eq!(
            sorted(&mut ks, &[b"SORT", b"l", b"BY", b"nosort", b"DESC"]),
            "d a b a c"
        );
        // ALPHA compares C strings: "\0x" is "" (so its input order stays), "b\0z" is "b".
        run(&mut ks, &[b"RPUSH", b"bin", b"\0x", b"b\0z", b"", b"a"]);
        assert_eq!(
            run(&mut ks, &[b"SORT", b"bin", b"ALPHA"]),
            b"*4\r\n$2\r\n\0x\r\n$0\r\n\r\n$1\r\na\r\n$3\r\nb\0z\r\n"
        );
        // With STORE it compares bytes, as Redis does: "" before "\0x", "b" before "b\0z".
        assert_eq!(
            run(&mut ks, &[b"SORT", b"bin", b"ALPHA", b"STORE", b"bin2"]),
            b":4\r\n"
        );
        assert_eq!(
            run(&mut ks, &[b"LRANGE", b"bin2", b"0", b"-1"]),
            b"*4\r\n$0\r\n\r\n$2\r\n\0x\r\n$1\r\na\r\n$3\r\nb\0z\r\n"
        );
    }
}
