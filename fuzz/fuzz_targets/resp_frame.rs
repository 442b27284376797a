//! The frame decoder on arbitrary bytes: no panic, and whatever it decodes re-encodes (RESP3)
//! to bytes that decode to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use resp::{Frame, Protocol, ReplyWriter, decode_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((frame, used))) = decode_frame(data) {
        assert!(used <= data.len());
        if contains_nan(&frame) {
            return;
        }
        let mut w = ReplyWriter::new(Protocol::Resp3);
        frame.write(&mut w);
        let (again, _) = decode_frame(&w.buf).unwrap().unwrap();
        assert_eq!(again, frame);
    }
});

fn contains_nan(frame: &Frame) -> bool {
    match frame {
        Frame::Double(d) => d.is_nan(),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => items.iter().any(contains_nan),
        Frame::Map(pairs) => pairs.iter().any(|(k, v)| contains_nan(k) || contains_nan(v)),
        _ => false,
    }
}
