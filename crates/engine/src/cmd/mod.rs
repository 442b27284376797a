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
use crate::value::EntryRef;

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
