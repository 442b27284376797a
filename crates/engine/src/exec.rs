//! The inputs and output of one command's execution, and argument parsing helpers.

use rand_core::{RngCore, SeedableRng};
use resp::ReplyWriter;

use crate::db::{Db, Keyspace};
use crate::error::Error;
use crate::table::{CommandSpec, Handler};

/// Everything a command may use. `now_ms` and `seed` come from outside (the leader's clock and
/// random source) so that the same command gives the same effect on every replica.
pub struct Exec<'a> {
    pub ks: &'a mut Keyspace,
    /// The selected database; a command may change it (none does yet).
    pub db: usize,
    pub now_ms: u64,
    pub seed: u64,
    pub out: &'a mut ReplyWriter,
}

impl Exec<'_> {
    pub fn db(&self) -> &Db {
        self.ks.db(self.db)
    }

    pub fn db_mut(&mut self) -> &mut Db {
        self.ks.db_mut(self.db)
    }

    /// Runs a keyspace command: checks its arity, then calls its handler. An error becomes the
    /// reply, with nothing written before it.
    pub fn run(&mut self, spec: &CommandSpec, args: &[&[u8]]) {
        if !spec.arity_ok(args.len()) {
            self.out.error(&Error::WrongArity(spec.name).to_string());
            return;
        }
        let Handler::Engine(handler) = spec.handler else {
            panic!("{} is a server command; the server runs it", spec.name);
        };
        let mark = self.out.len();
        if let Err(e) = handler(self, args) {
            self.out.truncate(mark);
            self.out.error(&e.to_string());
        }
        if self.ks.notify_classes() != 0 {
            self.ks.collect_events();
        }
    }

    /// Records a keyspace notification for `key` in the selected database (see `notify`).
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let db = self.db;
        self.ks.notify(db, class, event, key);
    }
}

/// The deterministic generator behind random choices (RANDOMKEY, and later SPOP and friends).
pub(crate) struct Rng(rand_pcg::Pcg64Mcg);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(rand_pcg::Pcg64Mcg::seed_from_u64(seed))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// Parses an integer argument as Redis does (no spaces, no '+', within i64).
pub fn arg_i64(arg: &[u8]) -> Result<i64, Error> {
    let text = std::str::from_utf8(arg).map_err(|_| Error::NotInteger)?;
    if text.is_empty()
        || text.starts_with('+')
        || (text.len() > 1 && text.starts_with('0'))
        || text.starts_with("-0")
    {
        return Err(Error::NotInteger);
    }
    text.parse().map_err(|_| Error::NotInteger)
}

/// A SCAN cursor, read as Redis reads it (C's `strtoul`): an optional sign and decimal digits,
/// a negative number wrapping around, and the empty string meaning 0.
pub(crate) fn arg_scan_cursor(arg: &[u8]) -> Result<u64, Error> {
    let invalid = || Error::msg("ERR invalid cursor");
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut n: u64 = 0;
    for d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative { n.wrapping_neg() } else { n })
}

pub(crate) fn eq(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A database index argument of SELECT, MOVE, COPY and SWAPDB.
pub(crate) fn arg_db(ks: &Keyspace, arg: &[u8], invalid: Error) -> Result<usize, Error> {
    let index = arg_i64(arg).map_err(|_| invalid)?;
    usize::try_from(index)
        .ok()
        .filter(|&i| i < ks.databases())
        .ok_or(Error::DbIndexOutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_arguments_are_strict() {
        assert_eq!(arg_i64(b"-12"), Ok(-12));
        assert_eq!(arg_i64(b"0"), Ok(0));
        for bad in [
            &b""[..],
            b"1.0",
            b" 1",
            b"+1",
            b"01",
            b"-0",
            b"99999999999999999999",
            b"1a",
        ] {
            assert_eq!(arg_i64(bad), Err(Error::NotInteger), "{bad:?}");
        }
    }
}
