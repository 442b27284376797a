//! Operating errors a command replies with. The wire text of each is written once, here.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    Overflow,
    NoSuchKey,
    DbIndexOutOfRange,
    SameObject,
    StringTooLong,
    WrongArity(&'static str),
    InvalidExpire(&'static str),
    /// Any other error, its full text with the code first (`ERR ...`, `BUSYKEY ...`).
    Other(String),
}

impl Error {
    pub fn msg(text: impl Into<String>) -> Self {
        Error::Other(text.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            Error::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            Error::NotFloat => f.write_str("ERR value is not a valid float"),
            Error::Syntax => f.write_str("ERR syntax error"),
            Error::Overflow => f.write_str("ERR increment or decrement would overflow"),
            Error::NoSuchKey => f.write_str("ERR no such key"),
            Error::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            Error::SameObject => f.write_str("ERR source and destination objects are the same"),
            Error::StringTooLong => {
                f.write_str("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
            }
            Error::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            Error::InvalidExpire(name) => write!(f, "ERR invalid expire time in '{name}' command"),
            Error::Other(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Error {}
