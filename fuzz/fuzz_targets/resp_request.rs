//! The request parser on arbitrary bytes, fed in two pieces: it must never panic, never report
//! more bytes consumed than it was given, and parse the same commands whichever way the bytes
//! are split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::{Limits, RequestParser};

fn commands(pieces: &[&[u8]]) -> (Vec<Vec<Vec<u8>>>, bool) {
    let limits = Limits { bulk_bytes_max: 1 << 16, multibulk_args_max: 1 << 16 };
    let mut parser = RequestParser::new(limits);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&buf) {
                Ok(Some(n)) => {
                    assert!(n <= buf.len());
                    out.push(parser.args(&buf[..n]).iter().map(|a| a.to_vec()).collect());
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let whole = commands(&[data]);
    let cut = data.first().map_or(0, |&b| b as usize % (data.len() + 1));
    let split = commands(&[&data[..cut], &data[cut..]]);
    if !whole.1 && !split.1 {
        assert_eq!(whole.0, split.0);
    }
});
