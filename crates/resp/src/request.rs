//! Client requests: `*<n>\r\n$<len>\r\n<bytes>\r\n...` (multibulk) or a line of words (inline).
//!
//! The parser is incremental: it remembers how far it got in a partial frame, so a large frame
//! arriving over many reads is scanned once, and it never allocates in proportion to a length the
//! client claims. Arguments are returned as ranges into the caller's buffer (no copies) except for
//! inline commands, whose quoting may need unescaping into the parser's own storage.

use std::fmt;
use std::ops::Range;

use smallvec::SmallVec;

use crate::{BULK_BYTES_MAX, INLINE_BYTES_MAX, MULTIBULK_ARGS_MAX};

/// The limits a parser enforces. They are Redis's settings of the same names.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub bulk_bytes_max: usize,
    /// The largest `*<n>` accepted.
    pub multibulk_args_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_bytes_max: BULK_BYTES_MAX,
            multibulk_args_max: MULTIBULK_ARGS_MAX,
        }
    }
}

/// A request the server cannot parse. The connection replies with the text and closes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    ExpectedDollar(u8),
    TooBigMultibulkCount,
    TooBigBulkCount,
    TooBigInline,
    UnbalancedQuotes,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ERR Protocol error: ")?;
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::ExpectedDollar(got) => {
                write!(f, "expected '$', got '{}'", char::from(*got))
            }
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Parses one command at a time from the start of a buffer.
///
/// Contract: call [`RequestParser::parse`] with a buffer that starts where the current frame
/// starts. On `Ok(None)` keep those bytes, append more, and call again with the same start. On
/// `Ok(Some(n))` the command is the first `n` bytes; read it with [`RequestParser::args`] before
/// the next call.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: Limits,
    /// Argument ranges of the current frame, relative to its start (or to `inline` when
    /// `is_inline`).
    ranges: Vec<Range<usize>>,
    /// Arguments the current multibulk frame still expects; zero outside a multibulk frame.
    args_expected: usize,
    /// Where the next unparsed header starts, relative to the frame start.
    scan: usize,
    is_inline: bool,
    inline: Vec<u8>,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            ..RequestParser::default()
        }
    }

    /// The same parser with new limits (after CONFIG SET); a frame in progress keeps its state.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether a multibulk frame is partly parsed.
    pub fn in_multibulk(&self) -> bool {
        self.args_expected > 0
    }

    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.args_expected == 0 {
            self.ranges.clear();
            self.scan = 0;
            self.is_inline = false;
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return self.parse_inline(buf);
            }
            let (count, line_end) = match quick_header(buf) {
                Some(header) => header,
                None => {
                    let Some(line_end) = find_crlf(buf, 0) else {
                        if buf.len() > INLINE_BYTES_MAX {
                            return Err(ProtocolError::TooBigMultibulkCount);
                        }
                        return Ok(None);
                    };
                    let count = parse_int(&buf[1..line_end])
                        .ok_or(ProtocolError::InvalidMultibulkLength)?;
                    (count, line_end)
                }
            };
            if count > self.limits.multibulk_args_max as i64 {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            self.scan = line_end + 2;
            if count <= 0 {
                return Ok(Some(self.scan));
            }
            self.args_expected = count as usize;
            // Never trust a claimed length with an allocation: grow as arguments arrive.
            self.ranges.reserve(self.args_expected.min(64));
        }
        while self.args_expected > 0 {
            let rest = &buf[self.scan..];
            if rest.is_empty() {
                return Ok(None);
            }
            if rest[0] != b'$' {
                return Err(ProtocolError::ExpectedDollar(rest[0]));
            }
            let (len, line_end) = match quick_header(rest) {
                Some(header) => header,
                None => {
                    let Some(line_end) = find_crlf(rest, 0) else {
                        if rest.len() > INLINE_BYTES_MAX {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(None);
                    };
                    let len =
                        parse_int(&rest[1..line_end]).ok_or(ProtocolError::InvalidBulkLength)?;
                    (len, line_end)
                }
            };
            if len < 0 || len as u64 > self.limits.bulk_bytes_max as u64 {
                return Err(ProtocolError::InvalidBulkLength);
            }
            let len = len as usize;
            let start = self.scan + line_end + 2;
            // The payload is followed by CRLF, which (like Redis) we skip without checking.
            if buf.len() < start + len + 2 {
                return Ok(None);
            }
            self.ranges.push(start..start + len);
            self.scan = start + len + 2;
            self.args_expected -= 1;
        }
        Ok(Some(self.scan))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(newline) = memchr::memchr(b'\n', buf) else {
            if buf.len() > INLINE_BYTES_MAX {
                return Err(ProtocolError::TooBigInline);
            }
            return Ok(None);
        };
        let mut line = &buf[..newline];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        self.inline.clear();
        split_args(line, &mut self.inline, &mut self.ranges)?;
        self.is_inline = true;
        Ok(Some(newline + 1))
    }

    /// The number of arguments of the command just parsed.
    pub fn arg_count(&self) -> usize {
        self.ranges.len()
    }

    /// The arguments of the command just parsed; `frame` is the buffer given to `parse`. Up to
    /// eight live on the stack: most commands allocate nothing here.
    pub fn args<'a>(&'a self, frame: &'a [u8]) -> SmallVec<[&'a [u8]; 8]> {
        let source = if self.is_inline {
            &self.inline[..]
        } else {
            frame
        };
        self.ranges.iter().map(|r| &source[r.clone()]).collect()
    }
}

/// The usual header line, `*` or `$` then a plain non-negative decimal then CRLF, read in one
/// pass: the count or length and where its CR is. `None` for anything else (a sign, a leading
/// zero, a stray byte, more than 18 digits, a line not yet complete), which the general path
/// (`find_crlf` + `parse_int`) then parses or refuses with its error. A request is mostly such
/// lines, and scanning them for CRLF first cost a few percent of a pipelined write.
#[inline]
fn quick_header(line: &[u8]) -> Option<(i64, usize)> {
    let digits = line.get(1..)?;
    let mut value: i64 = 0;
    for (i, &b) in digits.iter().enumerate().take(19) {
        match b {
            // At most 18 digits: always within i64.
            b'0'..=b'9' if i < 18 => {
                if i == 1 && digits[0] == b'0' {
                    return None;
                }
                value = value * 10 + i64::from(b - b'0');
            }
            b'\r' if i > 0 && digits.get(i + 1) == Some(&b'\n') => return Some((value, i + 1)),
            _ => return None,
        }
    }
    None
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let cr = memchr::memchr(b'\r', &buf[at..])? + at;
        if buf.get(cr + 1) == Some(&b'\n') {
            return Some(cr);
        }
        if cr + 1 >= buf.len() {
            return None;
        }
        at = cr + 1;
    }
}

/// Parses a signed decimal the way Redis's `string2ll` does: no spaces, no plus sign, no leading
/// zeros, and within i64.
pub(crate) fn parse_int(digits: &[u8]) -> Option<i64> {
    let (negative, body) = match digits.first()? {
        b'-' => (true, &digits[1..]),
        _ => (false, digits),
    };
    if body.is_empty() || body.len() > 19 || (body[0] == b'0' && body.len() > 1) {
        return None;
    }
    if negative && body == b"0" {
        return None;
    }
    let mut value: i64 = 0;
    for &d in body {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        value = if negative {
            value.checked_mul(10)?.checked_sub(digit)?
        } else {
            value.checked_mul(10)?.checked_add(digit)?
        };
    }
    Some(value)
}

/// Splits an inline command into words the way redis-cli and Redis's inline parser do: spaces
/// separate words, "double quotes" understand \n \r \t \b \a \\ \" and \xHH, 'single quotes'
/// understand only \'. A closing quote must be followed by a space or the end of the line.
fn split_args(
    line: &[u8],
    storage: &mut Vec<u8>,
    ranges: &mut Vec<Range<usize>>,
) -> Result<(), ProtocolError> {
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Ok(());
        }
        let start = storage.len();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                let Some(&c) = line.get(i) else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                let escaped_hex = (c == b'\\' && i + 3 < line.len() && line[i + 1] == b'x')
                    .then(|| hex(line[i + 2]).zip(hex(line[i + 3])))
                    .flatten();
                if let Some((h, l)) = escaped_hex {
                    storage.push(h * 16 + l);
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < line.len() {
                    storage.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                    i += 2;
                } else if c == b'"' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    storage.push(c);
                    i += 1;
                }
            } else if in_single {
                let Some(&c) = line.get(i) else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    storage.push(b'\'');
                    i += 2;
                } else if c == b'\'' {
                    if i + 1 < line.len() && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                } else {
                    storage.push(c);
                    i += 1;
                }
            } else {
                match line.get(i) {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(&c) => storage.push(c),
                }
                i += 1;
            }
        }
        ranges.push(start..storage.len());
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::default();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(n) = parser.parse(&input[at..])? {
            out.push(
                parser
                    .args(&input[at..])
                    .iter()
                    .map(|a| a.to_vec())
                    .collect(),
            );
            at += n;
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_pipelines() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(
            cmds,
            vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]
        );
    }

    #[test]
    fn byte_at_a_time_gives_the_same_commands() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\nPING\r\n";
        let mut parser = RequestParser::default();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in input.iter() {
            buf.push(b);
            if let Some(n) = parser.parse(&buf).unwrap() {
                got.push(
                    parser
                        .args(&buf)
                        .iter()
                        .map(|a| a.to_vec())
                        .collect::<Vec<_>>(),
                );
                buf.drain(..n);
            }
        }
        assert!(buf.is_empty());
        assert_eq!(
            got[0],
            vec![b"SET".to_vec(), b"k".to_vec(), b"va\r\nl".to_vec()]
        );
        assert_eq!(got[1], vec![b"PING".to_vec()]);
    }

    #[test]
    fn inline_commands_and_quotes() {
        let cmds = parse_all(b"set k \"a b\\x41\\n\" 'it\\'s'\r\nPING\n\r\n").unwrap();
        assert_eq!(
            cmds[0],
            vec![
                b"set".to_vec(),
                b"k".to_vec(),
                b"a bA\n".to_vec(),
                b"it's".to_vec()
            ]
        );
        assert_eq!(cmds[1], vec![b"PING".to_vec()]);
        assert!(cmds[2].is_empty(), "a blank line is an empty command");
        assert_eq!(
            parse_all(b"get \"k\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(b"get \"k\"x\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn malformed_frames_are_errors_with_redis_text() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*2000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n:1\r\n"),
            Err(ProtocolError::ExpectedDollar(b':'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$600000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b':').to_string(),
            "ERR Protocol error: expected '$', got ':'"
        );
        assert_eq!(
            parse_all(&vec![b'a'; INLINE_BYTES_MAX + 1]),
            Err(ProtocolError::TooBigInline)
        );
    }

    #[test]
    fn a_huge_claimed_count_allocates_nothing_up_front() {
        let mut parser = RequestParser::default();
        assert_eq!(parser.parse(b"*1000000000\r\n$1\r\n").unwrap(), None);
        assert!(parser.ranges.capacity() <= 64);
    }

    #[test]
    fn empty_and_negative_multibulk_are_skipped() {
        assert_eq!(
            parse_all(b"*0\r\n*-1\r\n").unwrap(),
            vec![Vec::<Vec<u8>>::new(); 2]
        );
    }

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_int(b"123"), Some(123));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_int(b"012"), None);
        assert_eq!(parse_int(b"+1"), None);
        assert_eq!(parse_int(b"-0"), None);
        assert_eq!(parse_int(b""), None);
    }

    /// What the general path makes of a header line: the value and its CR, if it parses.
    fn general_header(line: &[u8]) -> Option<(i64, usize)> {
        let end = find_crlf(line, 0)?;
        Some((parse_int(&line[1..end])?, end))
    }

    #[test]
    fn quick_headers_read_what_the_general_path_reads() {
        for line in [
            &b"*3\r\n"[..],
            b"$0\r\n",
            b"$10\r\nx",
            b"$05\r\n",
            b"$-1\r\n",
            b"$+1\r\n",
            b"$\r\n",
            b"$1\r",
            b"$1",
            b"$12\rx\r\n",
            b"$999999999999999999\r\n",
            b"$9999999999999999999\r\n",
        ] {
            if let Some(quick) = quick_header(line) {
                assert_eq!(Some(quick), general_header(line), "{line:?}");
            }
        }
        assert_eq!(quick_header(b"$10\r\n"), Some((10, 3)));
        assert_eq!(quick_header(b"$05\r\n"), None);
    }

    proptest::proptest! {
        #[test]
        fn quick_headers_agree_with_the_general_path(
            line in proptest::collection::vec(
                proptest::sample::select(b"$*0123456789-+\r\nx".to_vec()), 0..24)
        ) {
            if let Some(quick) = quick_header(&line) {
                proptest::prop_assert_eq!(Some(quick), general_header(&line));
            }
        }
    }
}
