//! The Redis serialisation protocol, RESP2 and RESP3, as bytes in and bytes out. No I/O.
//!
//! - [`RequestParser`] turns the bytes a client sends (multibulk or inline) into the arguments of
//!   one command at a time, incrementally and within [`Limits`], without copying payloads.
//! - [`ReplyWriter`] encodes replies straight into an output buffer for the connection's
//!   [`Protocol`]; RESP3-only types are downgraded for RESP2 clients the way Redis does.
//! - [`Frame`] is a whole decoded reply, for clients, tests and the fuzzer.

mod frame;
mod request;
mod writer;

pub use frame::{Frame, FrameError, decode_frame};
pub use request::{Limits, ProtocolError, RequestParser};
pub use writer::{Protocol, ReplyWriter, format_double};

/// Redis's default `proto-max-bulk-len`: the longest bulk string a client may send.
pub const BULK_BYTES_MAX: usize = 512 << 20;
/// The longest multibulk header Redis accepts (1024 * 1024 * 1024).
pub const MULTIBULK_ARGS_MAX: usize = 1 << 30;
/// An inline command (or any header line) may not be longer than this without a newline.
pub const INLINE_BYTES_MAX: usize = 64 << 10;
