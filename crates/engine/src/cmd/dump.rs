//! DUMP payloads: Redraft's own format, not Redis's RDB encoding.
//!
//! `kind (1 byte) · body · format version (u16 LE) · CRC-64/XZ of everything before (u64 LE)`.
//! The version lets a newer Redraft read older payloads and refuse newer ones; the checksum
//! refuses payloads damaged in transit. Kinds: 0 = string.

use crate::error::Error;
use crate::value::{Value, ValueRef};

const FORMAT_VERSION: u16 = 1;
const KIND_STRING: u8 = 0;
const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
const TRAILER_BYTES: usize = 2 + 8;

pub(crate) fn serialize(value: ValueRef) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        ValueRef::Str(_) | ValueRef::Int(_) => {
            out.push(KIND_STRING);
            value.with_bytes(|b| out.extend_from_slice(b));
        }
    }
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

pub(crate) fn deserialize(payload: &[u8]) -> Result<Value, Error> {
    let wrong = || Error::msg("ERR DUMP payload version or checksum are wrong");
    if payload.len() < 1 + TRAILER_BYTES {
        return Err(wrong());
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    if CRC64.checksum(body).to_le_bytes() != crc {
        return Err(wrong());
    }
    let (body, version) = body.split_at(body.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > FORMAT_VERSION {
        return Err(wrong());
    }
    match body[0] {
        KIND_STRING => Ok(Value::string(&body[1..])),
        _ => Err(Error::msg("ERR Bad data format")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_refused() {
        for value in [
            Value::Int(-5),
            Value::Str(b"hello\0world".to_vec()),
            Value::Str(Vec::new()),
        ] {
            let payload = serialize(value.as_ref());
            assert_eq!(deserialize(&payload), Ok(value));
            for at in 0..payload.len() {
                let mut damaged = payload.clone();
                damaged[at] ^= 0x40;
                assert!(
                    deserialize(&damaged).is_err(),
                    "a flipped byte at {at} went unnoticed"
                );
            }
        }
        assert!(deserialize(b"").is_err());
    }
}
