//! DUMP payloads: Redraft's own format, not Redis's RDB encoding.
//!
//! `kind (1 byte) · body · format version (u16 LE) · CRC-64/XZ of everything before (u64 LE)`.
//! The version lets a newer Redraft read older payloads and refuse newer ones; the checksum
//! refuses payloads damaged in transit. Kinds: 0 string (body: the bytes); 1 list, 2 hash,
//! 3 set (body: a varint count, then each element as varint length and bytes, a hash's field
//! before its value); 4 sorted set (each member, then its score as f64 LE bits); 5 packed hash,
//! 6 packed set of integers, 7 packed set (bodies as 2 and 3, in the pack's order), 8 packed
//! sorted set (body as 4); 9 list in nodes (a varint count of nodes, then for each a varint count
//! and its elements as in 1). Kinds 2 and 3 are hash tables, 4 a skiplist, 9 records where each
//! list node ends: a copy keeps the representation of the original (see `compact`, `list`), so a
//! replica restored from a snapshot holds what the replica that wrote it held. Kinds 5–9 were
//! added without a version change: an older Redraft refuses them as bad data. Kind 1 is still
//! read (as one list packed from the head).

use crate::error::Error;
use crate::types::{Bytes, Hash, List, Set, ZSet};
use crate::value::{Value, ValueRef};

const FORMAT_VERSION: u16 = 1;
const KIND_STRING: u8 = 0;
const KIND_LIST: u8 = 1;
const KIND_HASH: u8 = 2;
const KIND_SET: u8 = 3;
const KIND_ZSET: u8 = 4;
const KIND_HASH_PACKED: u8 = 5;
const KIND_SET_INTS: u8 = 6;
const KIND_SET_PACKED: u8 = 7;
const KIND_ZSET_PACKED: u8 = 8;
const KIND_LIST_NODES: u8 = 9;
/// Slice-by-16 tables (same checksum as the bytewise default): every value in a snapshot is in
/// this format.
const CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_XZ);
const TRAILER_BYTES: usize = 2 + 8;

pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub(crate) fn serialize(value: ValueRef) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        ValueRef::Str(_) | ValueRef::Int(_) => {
            out.push(KIND_STRING);
            value.with_bytes(|b| out.extend_from_slice(b));
        }
        ValueRef::List(l) => {
            out.push(KIND_LIST_NODES);
            put_varint(&mut out, l.node_lens().count() as u64);
            let mut elements = l.iter();
            for len in l.node_lens() {
                put_varint(&mut out, len as u64);
                elements
                    .by_ref()
                    .take(len)
                    .for_each(|e| put_bytes(&mut out, e));
            }
        }
        ValueRef::Hash(h) => {
            out.push(if h.is_packed() {
                KIND_HASH_PACKED
            } else {
                KIND_HASH
            });
            put_varint(&mut out, h.len() as u64);
            for (field, value) in h {
                put_bytes(&mut out, field);
                put_bytes(&mut out, value);
            }
        }
        ValueRef::Set(s) => {
            out.push(match s {
                Set::Pack { ints: true, .. } => KIND_SET_INTS,
                Set::Pack { ints: false, .. } => KIND_SET_PACKED,
                Set::Table(_) => KIND_SET,
            });
            put_varint(&mut out, s.len() as u64);
            s.iter().for_each(|m| put_bytes(&mut out, m));
        }
        ValueRef::ZSet(z) => {
            out.push(if z.is_packed() {
                KIND_ZSET_PACKED
            } else {
                KIND_ZSET
            });
            put_varint(&mut out, z.len() as u64);
            for (member, score) in z.iter() {
                put_bytes(&mut out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a body; every length is checked against the bytes actually there, so a payload that
/// lies about its counts is refused without allocating for them.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    fn bytes(&mut self) -> Option<Bytes> {
        self.slice().map(Into::into)
    }

    fn slice(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }

    fn count(&mut self) -> Option<u64> {
        let n = self.varint()?;
        // Each element takes at least one byte.
        (n <= self.0.len() as u64).then_some(n)
    }
}

fn body(kind: u8, mut r: Reader) -> Option<Value> {
    let value = match kind {
        KIND_STRING => return Some(Value::string(r.0)),
        KIND_LIST => {
            let mut list = List::new();
            for _ in 0..r.count()? {
                list.push_back(r.slice()?);
            }
            Value::List(Box::new(list))
        }
        KIND_LIST_NODES => {
            let mut nodes = Vec::new();
            for _ in 0..r.count()? {
                let elements = (0..r.count()?)
                    .map(|_| r.slice())
                    .collect::<Option<Vec<_>>>()?;
                // A node of no element would be a corrupt payload: a list never holds one.
                if elements.is_empty() {
                    return None;
                }
                nodes.push(elements);
            }
            Value::List(Box::new(List::from_nodes(nodes)))
        }
        KIND_HASH => {
            let mut hash = Hash::table();
            for _ in 0..r.count()? {
                let field = r.slice()?;
                hash.insert(field, r.slice()?);
            }
            Value::Hash(Box::new(hash))
        }
        KIND_HASH_PACKED => {
            let count = r.count()?;
            let mut pairs = Vec::with_capacity(count as usize);
            for _ in 0..count {
                pairs.push((r.slice()?, r.slice()?));
            }
            Value::Hash(Box::new(Hash::packed_from(pairs)?))
        }
        KIND_SET => {
            let mut set = Set::table();
            for _ in 0..r.count()? {
                set.insert(r.slice()?);
            }
            Value::Set(Box::new(set))
        }
        KIND_SET_INTS | KIND_SET_PACKED => {
            let count = r.count()?;
            let mut members = Vec::with_capacity(count as usize);
            for _ in 0..count {
                members.push(r.slice()?);
            }
            Value::Set(Box::new(Set::packed_from(kind == KIND_SET_INTS, members)?))
        }
        KIND_ZSET => {
            let mut zset = ZSet::skiplist();
            for _ in 0..r.count()? {
                let member = r.bytes()?;
                let score = f64::from_le_bytes(r.take(8)?.try_into().ok()?);
                if score.is_nan() {
                    return None;
                }
                zset.insert(&member, score);
            }
            Value::ZSet(Box::new(zset))
        }
        KIND_ZSET_PACKED => {
            let count = r.count()?;
            let mut elements = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let member = r.slice()?;
                elements.push((member, f64::from_le_bytes(r.take(8)?.try_into().ok()?)));
            }
            Value::ZSet(Box::new(ZSet::packed_from(elements)?))
        }
        _ => return None,
    };
    r.0.is_empty().then_some(value)
}

pub(crate) fn deserialize(payload: &[u8]) -> Result<Value, Error> {
    let wrong = || Error::msg("ERR DUMP payload version or checksum are wrong");
    if payload.len() < 1 + TRAILER_BYTES {
        return Err(wrong());
    }
    let (body_bytes, crc) = payload.split_at(payload.len() - 8);
    if CRC64.checksum(body_bytes).to_le_bytes() != crc {
        return Err(wrong());
    }
    let (body_bytes, version) = body_bytes.split_at(body_bytes.len() - 2);
    if u16::from_le_bytes([version[0], version[1]]) > FORMAT_VERSION {
        return Err(wrong());
    }
    body(body_bytes[0], Reader(&body_bytes[1..])).ok_or_else(|| Error::msg("ERR Bad data format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Value> {
        let mut hash = Hash::new();
        hash.insert(b"f", b"v");
        let mut big_hash = Hash::new();
        big_hash.insert(b"f", &[b'v'; 65]);
        let mut set = Set::new();
        set.insert(b"m");
        let mut ints = Set::new();
        ints.insert(b"3");
        ints.insert(b"-1");
        let mut big_set = Set::new();
        (0..600).for_each(|i| {
            big_set.insert(i.to_string().as_bytes());
        });
        let mut zset = ZSet::default();
        zset.insert(b"a", 1.5);
        zset.insert(b"b", f64::NEG_INFINITY);
        let mut big_zset = ZSet::default();
        (0..200).for_each(|i| {
            big_zset.insert(i.to_string().as_bytes(), f64::from(i % 7));
        });
        vec![
            Value::Int(-5),
            Value::Str(b"hello\0world".to_vec()),
            Value::Str(Vec::new()),
            Value::List(Box::new([&b"x"[..], &b""[..]].into_iter().collect())),
            Value::Hash(Box::new(hash)),
            Value::Hash(Box::new(big_hash)),
            Value::Set(Box::new(set)),
            Value::Set(Box::new(ints)),
            Value::Set(Box::new(big_set)),
            Value::ZSet(Box::new(zset)),
            Value::ZSet(Box::new(big_zset)),
        ]
    }

    #[test]
    fn round_trip_and_damage_is_refused() {
        for value in samples() {
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

    #[test]
    fn lying_counts_are_bad_data_not_allocations() {
        let mut out = vec![KIND_LIST];
        put_varint(&mut out, u64::MAX >> 1);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(deserialize(&out), Err(Error::msg("ERR Bad data format")));
    }
}
