//! Whole replies as values: decoding every RESP2/RESP3 type, and encoding through
//! [`ReplyWriter`]. Used by clients, tests and the fuzzer; the server's hot path writes replies
//! directly and never builds a `Frame`.

use std::fmt;

use crate::request::parse_int;
use crate::{BULK_BYTES_MAX, ReplyWriter};

/// Nesting deeper than this is refused rather than risking the stack.
pub const FRAME_DEPTH_MAX: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    Bulk(Vec<u8>),
    /// RESP3 `_`, and RESP2's null bulk (`$-1`) and null array (`*-1`).
    Null,
    Array(Vec<Frame>),
    Map(Vec<(Frame, Frame)>),
    Set(Vec<Frame>),
    Push(Vec<Frame>),
    Double(f64),
    Boolean(bool),
    BigNumber(Vec<u8>),
    Verbatim {
        format: [u8; 3],
        text: Vec<u8>,
    },
    BulkError(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    UnknownType(u8),
    BadLength,
    BadInteger,
    BadDouble,
    BadBoolean,
    BadVerbatim,
    TooDeep,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for FrameError {}

/// Decodes one frame from the start of `buf`: `Ok(None)` if it is incomplete, otherwise the frame
/// and the bytes it used.
pub fn decode_frame(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
    let mut at = 0;
    match decode(buf, &mut at, 0)? {
        Some(frame) => Ok(Some((frame, at))),
        None => Ok(None),
    }
}

fn line<'a>(buf: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*at..];
    let pos = rest.windows(2).position(|w| w == b"\r\n")?;
    *at += pos + 2;
    Some(&rest[..pos])
}

fn length(text: &[u8]) -> Result<Option<usize>, FrameError> {
    let n = parse_int(text).ok_or(FrameError::BadLength)?;
    match n {
        -1 => Ok(None),
        n if n < 0 || n as u64 > BULK_BYTES_MAX as u64 => Err(FrameError::BadLength),
        n => Ok(Some(n as usize)),
    }
}

fn blob(buf: &[u8], at: &mut usize, len: usize) -> Option<Vec<u8>> {
    if buf.len() < *at + len + 2 {
        return None;
    }
    let data = buf[*at..*at + len].to_vec();
    *at += len + 2;
    Some(data)
}

fn decode(buf: &[u8], at: &mut usize, depth: usize) -> Result<Option<Frame>, FrameError> {
    if depth > FRAME_DEPTH_MAX {
        return Err(FrameError::TooDeep);
    }
    let Some(&kind) = buf.get(*at) else {
        return Ok(None);
    };
    let start = *at;
    *at += 1;
    let Some(text) = line(buf, at) else {
        *at = start;
        return Ok(None);
    };
    let frame = match kind {
        b'+' => Frame::Simple(text.to_vec()),
        b'-' => Frame::Error(text.to_vec()),
        b':' => Frame::Integer(parse_int(text).ok_or(FrameError::BadInteger)?),
        b'(' => Frame::BigNumber(text.to_vec()),
        b'_' => Frame::Null,
        b'#' => match text {
            b"t" => Frame::Boolean(true),
            b"f" => Frame::Boolean(false),
            _ => return Err(FrameError::BadBoolean),
        },
        b',' => {
            let text = std::str::from_utf8(text).map_err(|_| FrameError::BadDouble)?;
            Frame::Double(text.parse().map_err(|_| FrameError::BadDouble)?)
        }
        b'$' | b'!' | b'=' => {
            let Some(len) = length(text)? else {
                return Ok(Some(Frame::Null));
            };
            let Some(data) = blob(buf, at, len) else {
                *at = start;
                return Ok(None);
            };
            match kind {
                b'$' => Frame::Bulk(data),
                b'!' => Frame::BulkError(data),
                _ => {
                    if data.len() < 4 || data[3] != b':' {
                        return Err(FrameError::BadVerbatim);
                    }
                    Frame::Verbatim {
                        format: [data[0], data[1], data[2]],
                        text: data[4..].to_vec(),
                    }
                }
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let Some(len) = length(text)? else {
                return Ok(Some(Frame::Null));
            };
            let count = if kind == b'%' { len * 2 } else { len };
            // Grow as elements arrive: a claimed length is not a reason to allocate.
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                match decode(buf, at, depth + 1)? {
                    Some(item) => items.push(item),
                    None => {
                        *at = start;
                        return Ok(None);
                    }
                }
            }
            match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                b'>' => Frame::Push(items),
                _ => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
            }
        }
        other => return Err(FrameError::UnknownType(other)),
    };
    Ok(Some(frame))
}

impl Frame {
    /// Encodes the frame for the writer's protocol.
    pub fn write(&self, w: &mut ReplyWriter) {
        match self {
            Frame::Simple(s) => {
                w.buf.push(b'+');
                w.buf.extend_from_slice(s);
                w.buf.extend_from_slice(b"\r\n");
            }
            Frame::Error(s) => {
                w.buf.push(b'-');
                w.buf.extend_from_slice(s);
                w.buf.extend_from_slice(b"\r\n");
            }
            Frame::Integer(n) => w.int(*n),
            Frame::Bulk(b) => w.bulk(b),
            Frame::Null => w.null(),
            Frame::Array(items) => {
                w.array(items.len());
                items.iter().for_each(|i| i.write(w));
            }
            Frame::Set(items) => {
                w.set(items.len());
                items.iter().for_each(|i| i.write(w));
            }
            Frame::Push(items) => {
                w.push(items.len());
                items.iter().for_each(|i| i.write(w));
            }
            Frame::Map(pairs) => {
                w.map(pairs.len());
                for (k, v) in pairs {
                    k.write(w);
                    v.write(w);
                }
            }
            Frame::Double(d) => w.double(*d),
            Frame::Boolean(b) => w.boolean(*b),
            Frame::BigNumber(n) => w.big_number(n),
            Frame::Verbatim { format, text } => {
                if w.is_resp3() {
                    let mut data = format.to_vec();
                    data.push(b':');
                    data.extend_from_slice(text);
                    w.buf.push(b'=');
                    w.buf.extend_from_slice(data.len().to_string().as_bytes());
                    w.buf.extend_from_slice(b"\r\n");
                    w.buf.extend_from_slice(&data);
                    w.buf.extend_from_slice(b"\r\n");
                } else {
                    w.bulk(text);
                }
            }
            Frame::BulkError(e) => {
                if w.is_resp3() {
                    w.buf.push(b'!');
                    w.buf.extend_from_slice(e.len().to_string().as_bytes());
                    w.buf.extend_from_slice(b"\r\n");
                    w.buf.extend_from_slice(e);
                    w.buf.extend_from_slice(b"\r\n");
                } else {
                    w.buf.push(b'-');
                    w.buf.extend_from_slice(e);
                    w.buf.extend_from_slice(b"\r\n");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Protocol;
    use proptest::prelude::*;

    fn line_text() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
            0..16,
        )
    }

    fn frame() -> impl Strategy<Value = Frame> {
        let leaf = prop_oneof![
            line_text().prop_map(Frame::Simple),
            line_text().prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            proptest::collection::vec(any::<u8>(), 0..32).prop_map(Frame::Bulk),
            Just(Frame::Null),
            any::<f64>()
                .prop_filter("finite", |d| d.is_finite())
                .prop_map(Frame::Double),
            any::<bool>().prop_map(Frame::Boolean),
            "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..32).prop_map(|text| Frame::Verbatim {
                format: *b"txt",
                text
            }),
            proptest::collection::vec(any::<u8>(), 0..32).prop_map(Frame::BulkError),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Array),
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Set),
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Frame::Push),
                proptest::collection::vec((inner.clone(), inner), 0..4).prop_map(Frame::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn resp3_encode_then_decode_is_identity(f in frame()) {
            let mut w = ReplyWriter::new(Protocol::Resp3);
            f.write(&mut w);
            let (decoded, used) = decode_frame(&w.buf).unwrap().unwrap();
            prop_assert_eq!(used, w.buf.len());
            prop_assert_eq!(decoded, f);
        }

        #[test]
        fn every_prefix_is_incomplete_not_an_error(f in frame()) {
            let mut w = ReplyWriter::new(Protocol::Resp3);
            f.write(&mut w);
            for cut in 0..w.buf.len() {
                prop_assert_eq!(decode_frame(&w.buf[..cut]), Ok(None));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_frame(&bytes);
        }
    }

    #[test]
    fn big_numbers_keep_their_bytes() {
        // Found by the resp_frame fuzzer: non-UTF-8 digits used to be re-encoded lossily.
        let input = b"*3\r\n#t\r\n_\r\n(12\xe7\x03\x00\x00\x00\x00\x00\x001234567890\r\n";
        let (frame, used) = decode_frame(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        let mut w = ReplyWriter::new(Protocol::Resp3);
        frame.write(&mut w);
        assert_eq!(w.buf, input);
    }

    #[test]
    fn resp2_nulls_decode_as_null() {
        assert_eq!(decode_frame(b"$-1\r\n"), Ok(Some((Frame::Null, 5))));
        assert_eq!(decode_frame(b"*-1\r\n"), Ok(Some((Frame::Null, 5))));
        assert_eq!(decode_frame(b"?x\r\n"), Err(FrameError::UnknownType(b'?')));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = b"*1\r\n".repeat(FRAME_DEPTH_MAX + 2);
        assert_eq!(decode_frame(&deep), Err(FrameError::TooDeep));
    }
}
