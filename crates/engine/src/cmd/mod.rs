//! Command implementations, one module per family, each headed by the syntax it implements.

pub(crate) mod bitmaps;
pub(crate) mod blocking;
pub(crate) mod dump;
pub(crate) mod functions;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lcs;
pub(crate) mod lists;
pub mod scripting;
pub(crate) mod sets;
pub(crate) mod sort;
pub(crate) mod strings;
pub(crate) mod zsets;

use crate::db::Db;
use crate::error::Error;
use crate::exec::Exec;
use crate::value::EntryRef;

/// A container command's HELP reply (OBJECT, SCRIPT, FUNCTION): one status line each.
pub(crate) fn help(ex: &mut Exec, lines: &[&str]) {
    ex.out.array(lines.len());
    for line in lines {
        ex.out.simple(line);
    }
}

/// Redis's reply to a subcommand the container command does not have.
pub(crate) fn unknown_subcommand(container: &str, sub: &[u8]) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// Redis's wrong-arity reply for a subcommand, named `container|subcommand` in lower case.
pub(crate) fn sub_arity(container: &str, sub: &[u8]) -> Error {
    Error::msg(format!(
        "ERR wrong number of arguments for '{}|{}' command",
        container.to_ascii_lowercase(),
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    ))
}

/// The optional ASYNC|SYNC of SCRIPT FLUSH and FUNCTION FLUSH (both flush at once).
pub(crate) fn flush_mode(args: &[&[u8]], container: &str, other: &str) -> Result<(), Error> {
    match args {
        [_, _] => Ok(()),
        [_, _, mode]
            if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") =>
        {
            Ok(())
        }
        [_, _, _] => Err(Error::msg(other.to_string())),
        _ => Err(sub_arity(container, args[1])),
    }
}

/// The live string entry under `key`: `Ok(None)` if there is none, WRONGTYPE if the value is
/// of another type.
pub(crate) fn string_entry<'a>(
    db: &'a Db,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<EntryRef<'a>>, Error> {
    match db.get(key, now_ms) {
        Some(e) if !e.value.is_string() => Err(Error::WrongType),
        other => Ok(other),
    }
}

/// The live string entry under `key`, for changing it.
pub(crate) fn string_entry_mut<'a>(
    db: &'a mut Db,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<EntryRef<'a>>, Error> {
    match db.get_live(key, now_ms) {
        Some(e) if !e.value.is_string() => Err(Error::WrongType),
        other => Ok(other),
    }
}
