//! Reply encoding for one connection's protocol version.

/// The protocol a connection speaks, chosen with `HELLO 2|3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// Writes replies into an output buffer. RESP3-only types are written as Redis writes them to
/// a RESP2 client: maps as flat arrays, sets and pushes as arrays, doubles and big numbers as
/// bulk strings, booleans as integers.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    pub buf: Vec<u8>,
    pub proto: Protocol,
}

impl ReplyWriter {
    pub fn new(proto: Protocol) -> Self {
        ReplyWriter {
            buf: Vec::with_capacity(256),
            proto,
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `len`; used to take back a partial reply.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    pub fn simple(&mut self, text: &str) {
        self.line(b'+', text.as_bytes());
    }

    /// An error reply. `text` starts with its code, e.g. `ERR ...` or `WRONGTYPE ...`; line breaks
    /// in it would corrupt the stream, so they are replaced with spaces as Redis does.
    pub fn error(&mut self, text: &str) {
        self.buf.push(b'-');
        self.buf.extend(
            text.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, value: i64) {
        self.header(b':', value);
    }

    pub fn bulk(&mut self, value: &[u8]) {
        self.header(b'$', value.len() as i64);
        self.buf.extend_from_slice(value);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string, as GET does for a value stored as a number.
    pub fn bulk_int(&mut self, value: i64) {
        let mut digits = itoa::Buffer::new();
        self.bulk(digits.format(value).as_bytes());
    }

    /// The absent value of a bulk reply (GET of a missing key).
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// The absent value of an array reply (BLPOP timing out, EXEC after a failed WATCH).
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as i64);
    }

    /// A map of `len` pairs; the caller writes 2 * `len` replies after it.
    pub fn map(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', 2 * len as i64),
            Protocol::Resp3 => self.header(b'%', len as i64),
        }
    }

    pub fn set(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'~', len as i64),
        }
    }

    pub fn push(&mut self, len: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', len as i64),
            Protocol::Resp3 => self.header(b'>', len as i64),
        }
    }

    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        match self.proto {
            Protocol::Resp2 => self.bulk(text.as_bytes()),
            Protocol::Resp3 => self.line(b',', text.as_bytes()),
        }
    }

    pub fn boolean(&mut self, value: bool) {
        match self.proto {
            Protocol::Resp2 => self.int(i64::from(value)),
            Protocol::Resp3 => {
                self.buf
                    .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" })
            }
        }
    }

    /// A big number; its digits are written as given (a decoded frame may hold any bytes).
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => self.line(b'(', digits),
        }
    }

    /// Verbatim text (`INFO`, `CLIENT LIST`): a `txt` verbatim string in RESP3, bulk in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.header(b'=', text.len() as i64 + 4);
                self.buf.extend_from_slice(b"txt:");
                self.buf.extend_from_slice(text);
                self.buf.extend_from_slice(b"\r\n");
            }
        }
    }

    fn line(&mut self, prefix: u8, body: &[u8]) {
        self.buf.push(prefix);
        self.buf.extend_from_slice(body);
        self.buf.extend_from_slice(b"\r\n");
    }

    fn header(&mut self, prefix: u8, value: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.push(prefix);
        self.buf.extend_from_slice(digits.format(value).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }
}

/// Formats a double the way Redis (7.2 and later) replies with one: the shortest text that reads
/// back as the same value, `%g` style (exponent outside 1e-5..1e17), and `inf`, `-inf`, `nan`.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exponent = value.abs().log10().floor() as i32;
    if (-5..17).contains(&exponent) {
        return format!("{value}");
    }
    // Rust's `{:e}` is shortest round-trip too: "1.5e21" becomes "1.5e+21".
    let text = format!("{value:e}");
    let (mantissa, exp) = text.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_types_downgrade_for_resp2() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.boolean(true);
        w.null();
        w.null_array();
        assert_eq!(w.buf, b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n:1\r\n$-1\r\n*-1\r\n");
        let mut w = ReplyWriter::new(Protocol::Resp3);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.boolean(true);
        w.null();
        w.null_array();
        assert_eq!(w.buf, b"%1\r\n$1\r\na\r\n,1.5\r\n#t\r\n_\r\n_\r\n");
    }

    #[test]
    fn errors_cannot_break_the_stream() {
        let mut w = ReplyWriter::default();
        w.error("ERR bad\r\nthing");
        assert_eq!(w.buf, b"-ERR bad  thing\r\n");
    }

    #[test]
    fn doubles_are_shortest_and_g_style() {
        assert_eq!(format_double(1.1), "1.1");
        assert_eq!(format_double(100.0), "100");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1.5e21), "1.5e+21");
        assert_eq!(format_double(1e-7), "1e-07");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        for v in [0.1, 1e300, 123456.789, 5e-324, f64::MAX, 1e16, 1e17] {
            assert_eq!(format_double(v).parse::<f64>().unwrap(), v);
        }
    }
}
