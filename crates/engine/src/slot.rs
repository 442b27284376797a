//! Hash slots, as Redis Cluster defines them: CRC16 (XMODEM) of the key, or of the part between
//! the first `{` and the next `}` when that part is not empty, modulo 16384.

pub const SLOT_COUNT: usize = 16384;
const _: () = assert!(SLOT_COUNT == 1 << 14);

/// Slice-by-16 tables: the slot is computed on every key lookup, and byte-at-a-time CRC was
/// the largest single cost of an INCR in a profile (perf, redis-benchmark -P 16).
const CRC16: crc::Crc<u16, crc::Table<16>> =
    crc::Crc::<u16, crc::Table<16>>::new(&crc::CRC_16_XMODEM);

pub fn slot_of(key: &[u8]) -> u16 {
    let hashed = match memchr_open(key) {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    CRC16.checksum(hashed) & (SLOT_COUNT as u16 - 1)
}

fn memchr_open(key: &[u8]) -> Option<usize> {
    key.iter().position(|&b| b == b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(slot_of(b"123456789"), 0x31C3 & 16383);
        assert_eq!(slot_of(b"foo"), 12182);
        assert_eq!(slot_of(b"{user1000}.following"), slot_of(b"user1000"));
        assert_eq!(slot_of(b"foo{}{bar}"), slot_of(b"foo{}{bar}"));
        assert_ne!(
            slot_of(b"foo{}{bar}"),
            slot_of(b"bar"),
            "an empty tag hashes the whole key"
        );
        assert_eq!(slot_of(b"foo{{bar}}zap"), slot_of(b"{bar"));
    }
}
