//! The longest common subsequence of two strings.
//!
//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]
//!
//! The classic dynamic program over a table of `len1 * len2` cells: O(len1 * len2) time. Missing
//! keys read as empty strings. Which subsequence is returned, and the matches IDX lists, follow
//! from walking the table back from the end of both strings, preferring to drop a byte of the
//! second string when the two choices tie — as Redis does, so replies are identical.

use std::borrow::Cow;

use super::string_entry;
use crate::error::Error;
use crate::exec::{Exec, arg_i64, eq};
use crate::value::ValueRef;

/// The largest table LCS builds, in cells (the product of the two lengths); a larger one is
/// refused. Redis has no such limit: it allocates 4 bytes a cell and runs as long as it takes. We
/// keep one bit a cell (the direction of the walk back) plus two lines of lengths along the
/// shorter string, so the cap bounds the transient memory to 128 MiB, which a 24 GiB machine
/// affords even with several at once. Time is the tighter bound: about 3 ns a cell in an optimised
/// build on the development machine, so some 3 s at the cap, during which the keyspace serves no
/// one else. Two 32 KiB strings fit, as does any string against one of a few bytes.
const LCS_CELLS_MAX: u64 = 1 << 30;

#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    match_len_min: u64,
    with_match_len: bool,
}

fn parse_options(args: &[&[u8]]) -> Result<Options, Error> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        if eq(arg, "len") {
            o.len = true;
        } else if eq(arg, "idx") {
            o.idx = true;
        } else if eq(arg, "withmatchlen") {
            o.with_match_len = true;
        } else if eq(arg, "minmatchlen") && i + 1 < args.len() {
            // A negative minimum means no minimum.
            o.match_len_min = arg_i64(args[i + 1])?.max(0) as u64;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if o.len && o.idx {
        return Err(Error::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// A string value's bytes, borrowed unless the value is kept as a number.
fn value_bytes<'a>(value: &ValueRef<'a>) -> Cow<'a, [u8]> {
    match *value {
        ValueRef::Str(s) => Cow::Borrowed(s),
        ValueRef::Int(_) => Cow::Owned(value.to_bytes().expect("a string value")),
        _ => unreachable!("LCS reads strings only"),
    }
}

/// For each cell of the table where the two bytes differ, whether the walk back drops a byte of
/// the first string (the cell above holds a strictly longer subsequence than the cell to the
/// left). One bit a cell.
struct Steps {
    bits: Vec<u64>,
    width: usize,
}

impl Steps {
    fn new(len1: usize, len2: usize) -> Self {
        let cells = len1 * len2;
        Steps {
            bits: vec![0; cells.div_ceil(64)],
            width: len2,
        }
    }

    /// Cell (i, j) for 1 <= i <= len1 and 1 <= j <= len2: the prefixes of i and j bytes.
    fn index(&self, i: usize, j: usize) -> usize {
        (i - 1) * self.width + (j - 1)
    }

    fn set_up(&mut self, i: usize, j: usize) {
        let n = self.index(i, j);
        self.bits[n / 64] |= 1 << (n % 64);
    }

    fn up(&self, i: usize, j: usize) -> bool {
        let n = self.index(i, j);
        self.bits[n / 64] & (1 << (n % 64)) != 0
    }
}

/// Fills the table and returns the length of the longest common subsequence of `a` and `b`,
/// recording the walk-back direction of every cell in `steps` when given.
///
/// Only two lines of lengths are kept, laid along the shorter string, so the memory besides
/// `steps` is O(min(len1, len2)).
fn fill(a: &[u8], b: &[u8], mut steps: Option<&mut Steps>) -> u32 {
    // Lengths are at most min(len1, len2) <= 2^15 under LCS_CELLS_MAX: u32 is ample.
    let by_rows = b.len() <= a.len();
    let (outer, inner) = if by_rows { (a, b) } else { (b, a) };
    let mut prev = vec![0u32; inner.len() + 1];
    let mut cur = vec![0u32; inner.len() + 1];
    for (o, &x) in outer.iter().enumerate() {
        for (n, &y) in inner.iter().enumerate() {
            let k = n + 1;
            if x == y {
                cur[k] = prev[k - 1] + 1;
                continue;
            }
            // By rows, `prev[k]` drops a byte of `a` and `cur[k - 1]` a byte of `b`; by columns
            // the other way round.
            let (drop_a, drop_b) = if by_rows {
                (prev[k], cur[k - 1])
            } else {
                (cur[k - 1], prev[k])
            };
            cur[k] = drop_a.max(drop_b);
            if drop_a > drop_b
                && let Some(steps) = steps.as_deref_mut()
            {
                let (i, j) = if by_rows { (o + 1, k) } else { (k, o + 1) };
                steps.set_up(i, j);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[inner.len()]
}

/// A run of bytes matched in both strings: inclusive byte ranges in the first and the second.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

impl Match {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// Walks the table back from the end of both strings: the common subsequence (reversed) and the
/// runs of contiguous matches, last first, as Redis lists them.
fn walk_back(a: &[u8], b: &[u8], steps: &Steps, len: usize) -> (Vec<u8>, Vec<Match>) {
    let mut reversed = Vec::with_capacity(len);
    let mut matches: Vec<Match> = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            reversed.push(a[i - 1]);
            match matches.last_mut() {
                // The run continues when this match sits just before the last one in both.
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 = i - 1;
                    m.b.0 = j - 1;
                }
                _ => matches.push(Match {
                    a: (i - 1, i - 1),
                    b: (j - 1, j - 1),
                }),
            }
            i -= 1;
            j -= 1;
        } else if steps.up(i, j) {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    (reversed, matches)
}

pub(crate) fn lcs(ex: &mut Exec, args: &[&[u8]]) -> Result<(), Error> {
    let (db, now) = (ex.ks.db(ex.db), ex.now_ms);
    // Redis checks the types before the options, with its own wording.
    let not_strings = |_| Error::msg("ERR The specified keys must contain string values");
    let a = string_entry(db, args[1], now).map_err(not_strings)?;
    let b = string_entry(db, args[2], now).map_err(not_strings)?;
    let o = parse_options(&args[3..])?;
    let a = a.map_or(Cow::Borrowed(&[][..]), |e| value_bytes(&e.value));
    let b = b.map_or(Cow::Borrowed(&[][..]), |e| value_bytes(&e.value));
    if a.len() as u64 * b.len() as u64 > LCS_CELLS_MAX {
        return Err(Error::msg(format!(
            "ERR Insufficient memory, the LCS table would exceed {LCS_CELLS_MAX} cells (the product of the two lengths)"
        )));
    }
    if o.len {
        ex.out.int(i64::from(fill(&a, &b, None)));
        return Ok(());
    }
    let mut steps = Steps::new(a.len(), b.len());
    let len = fill(&a, &b, Some(&mut steps));
    let (mut subsequence, matches) = walk_back(&a, &b, &steps, len as usize);
    drop(steps);
    if !o.idx {
        subsequence.reverse();
        ex.out.bulk(&subsequence);
        return Ok(());
    }
    let shown = |m: &&Match| m.len() as u64 >= o.match_len_min;
    ex.out.map(2);
    ex.out.bulk(b"matches");
    ex.out.array(matches.iter().filter(shown).count());
    for m in matches.iter().filter(shown) {
        ex.out.array(if o.with_match_len { 3 } else { 2 });
        for (start, end) in [m.a, m.b] {
            ex.out.array(2);
            ex.out.int(start as i64);
            ex.out.int(end as i64);
        }
        if o.with_match_len {
            ex.out.int(m.len() as i64);
        }
    }
    ex.out.bulk(b"len");
    ex.out.int(i64::from(len));
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use resp::{Protocol, ReplyWriter};

    use super::*;
    use crate::{Keyspace, lookup};

    /// One client's view of a fresh keyspace: each `check` runs a command through the table and
    /// pins the exact bytes of its reply, as redis-server 7.0.15 answers it.
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

        #[track_caller]
        fn check(&mut self, line: &str, want: &[u8]) {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let mut out = ReplyWriter::new(self.proto);
            let mut ex = Exec {
                ks: &mut self.ks,
                db: 0,
                now_ms: 1_000,
                seed: 0,
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

    const MATCHES_OHMYTEXT: &str = "*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n";

    #[test]
    fn lcs_replies_with_the_subsequence_its_length_or_its_matches() {
        let mut s = Session::new();
        s.check("mset key1 ohmytext key2 mynewtext", b"+OK\r\n");
        s.check("lcs key1 key2", b"$6\r\nmytext\r\n");
        s.check("lcs key1 key2 LEN", b":6\r\n");
        let idx = format!("*4\r\n$7\r\nmatches\r\n{MATCHES_OHMYTEXT}$3\r\nlen\r\n:6\r\n");
        s.check("lcs key1 key2 idx", idx.as_bytes());
        // A negative minimum is no minimum.
        s.check("lcs key1 key2 minmatchlen -5 idx", idx.as_bytes());
        s.check(
            "lcs key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN",
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
        );
        s.check(
            "lcs key1 key2 idx withmatchlen",
            b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n",
        );
        // The total length counts every match, shown or not.
        s.check(
            "lcs key1 key2 idx minmatchlen 9223372036854775807",
            b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:6\r\n",
        );
        // Options that do not apply are ignored, and repeated ones are harmless.
        s.check("lcs key1 key2 withmatchlen", b"$6\r\nmytext\r\n");
        s.check("lcs key1 key2 minmatchlen 3", b"$6\r\nmytext\r\n");
        s.check("lcs key1 key2 len withmatchlen", b":6\r\n");
        s.check("lcs key1 key2 len len", b":6\r\n");
        s.check(
            "lcs key1 key2 idx idx minmatchlen 2 minmatchlen 3",
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n",
        );
    }

    #[test]
    fn lcs_idx_is_a_map_in_resp3() {
        let mut s = Session::new();
        s.proto = Protocol::Resp3;
        s.check("mset key1 ohmytext key2 mynewtext", b"+OK\r\n");
        let idx = format!("%2\r\n$7\r\nmatches\r\n{MATCHES_OHMYTEXT}$3\r\nlen\r\n:6\r\n");
        s.check("lcs key1 key2 idx", idx.as_bytes());
        s.check(
            "lcs nokey nokey2 idx",
            b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
        );
    }

    #[test]
    fn lcs_reads_missing_keys_and_numbers_as_strings() {
        let mut s = Session::new();
        s.check("set key1 ohmytext", b"+OK\r\n");
        s.check("lcs key1 nokey", b"$0\r\n\r\n");
        s.check("lcs nokey key1 len", b":0\r\n");
        s.check(
            "lcs nokey nokey2 idx",
            b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
        );
        s.check("set e ", b"+OK\r\n");
        s.check(
            "lcs e key1 idx withmatchlen",
            b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
        );
        s.check("mset n1 12345 n2 2345", b"+OK\r\n");
        s.check(
            "lcs n1 n2 idx withmatchlen",
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:1\r\n:4\r\n*2\r\n:0\r\n:3\r\n:4\r\n$3\r\nlen\r\n:4\r\n",
        );
        s.check(
            "lcs key1 key1 idx withmatchlen",
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:7\r\n*2\r\n:0\r\n:7\r\n:8\r\n$3\r\nlen\r\n:8\r\n",
        );
    }

    #[test]
    fn lcs_breaks_ties_as_redis_does() {
        let mut s = Session::new();
        s.check("mset x abcabc y acbacb", b"+OK\r\n");
        s.check("lcs x y", b"$4\r\nacbc\r\n");
        s.check("lcs y x", b"$4\r\nabcb\r\n");
        let single = |a: usize, b: usize| {
            format!("*3\r\n*2\r\n:{a}\r\n:{a}\r\n*2\r\n:{b}\r\n:{b}\r\n:1\r\n")
        };
        let matches = [single(5, 4), single(4, 2), single(2, 1), single(0, 0)].concat();
        let want = format!("*4\r\n$7\r\nmatches\r\n*4\r\n{matches}$3\r\nlen\r\n:4\r\n");
        s.check("lcs x y idx withmatchlen", want.as_bytes());
        s.check("mset x aaaa y aa", b"+OK\r\n");
        s.check(
            "lcs x y idx withmatchlen",
            b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:2\r\n",
        );
    }

    #[test]
    fn lcs_checks_its_options_after_the_keys() {
        let mut s = Session::new();
        s.check("mset key1 a key2 b", b"+OK\r\n");
        let both = b"-ERR If you want both the length and indexes, please just use IDX.\r\n";
        s.check("lcs key1 key2 len idx", both);
        s.check("lcs key1 key2 idx len", both);
        // Every option is parsed before LEN and IDX are found to conflict.
        s.check("lcs key1 key2 len idx bogus", b"-ERR syntax error\r\n");
        s.check(
            "lcs key1 key2 len idx minmatchlen abc",
            b"-ERR value is not an integer or out of range\r\n",
        );
        s.check("lcs key1 key2 bogus", b"-ERR syntax error\r\n");
        s.check("lcs key1 key2 minmatchlen", b"-ERR syntax error\r\n");
        s.check(
            "lcs key1 key2 minmatchlen 1.5",
            b"-ERR value is not an integer or out of range\r\n",
        );
        s.check(
            "lcs key1",
            b"-ERR wrong number of arguments for 'lcs' command\r\n",
        );
    }

    #[test]
    fn lcs_refuses_a_table_past_the_limit() {
        let mut s = Session::new();
        // (2^15 + 1) * 2^15 cells: just past LCS_CELLS_MAX. Refused before any table is built.
        let long = "a".repeat(1 << 15);
        s.check(&format!("mset x {long}b y {long}"), b"+OK\r\n");
        let refused = format!(
            "-ERR Insufficient memory, the LCS table would exceed {LCS_CELLS_MAX} cells (the product of the two lengths)\r\n"
        );
        for options in ["", " len", " idx"] {
            s.check(&format!("lcs x y{options}"), refused.as_bytes());
        }
        // Option errors come first.
        s.check("lcs x y bogus", b"-ERR syntax error\r\n");
        // A long string against a short one is cheap, and allowed.
        s.check("set z ab", b"+OK\r\n");
        s.check("lcs x z len", b":2\r\n");
    }

    /// The textbook algorithm over the whole table of lengths, walked back preferring to drop a
    /// byte of `b` on ties: the reference for `fill` (two lines, either orientation, one bit a
    /// cell) and `walk_back`.
    fn reference(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut table = vec![vec![0u32; b.len() + 1]; a.len() + 1];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                table[i][j] = if a[i - 1] == b[j - 1] {
                    table[i - 1][j - 1] + 1
                } else {
                    table[i - 1][j].max(table[i][j - 1])
                };
            }
        }
        let (mut i, mut j, mut out) = (a.len(), b.len(), Vec::new());
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                out.push(a[i - 1]);
                i -= 1;
                j -= 1;
            } else if table[i - 1][j] > table[i][j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
        }
        out.reverse();
        out
    }

    fn short_text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c')], 0..40)
    }

    proptest! {
        #[test]
        fn lcs_matches_the_textbook_walk(a in short_text(), b in short_text()) {
            let want = reference(&a, &b);
            prop_assert_eq!(fill(&a, &b, None) as usize, want.len());
            let mut steps = Steps::new(a.len(), b.len());
            let len = fill(&a, &b, Some(&mut steps));
            let (mut got, matches) = walk_back(&a, &b, &steps, len as usize);
            got.reverse();
            prop_assert_eq!(&got, &want);
            // The matches cover the subsequence exactly, last first, each the same bytes in both.
            prop_assert_eq!(matches.iter().map(Match::len).sum::<usize>(), want.len());
            for pair in matches.windows(2) {
                prop_assert!(pair[1].a.1 < pair[0].a.0 && pair[1].b.1 < pair[0].b.0);
            }
            for m in &matches {
                prop_assert_eq!(m.a.1 - m.a.0, m.b.1 - m.b.0);
                prop_assert_eq!(&a[m.a.0..=m.a.1], &b[m.b.0..=m.b.1]);
            }
        }
    }
}
