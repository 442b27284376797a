//! LEB128 varints in slices: seven bits a byte, lowest group first, high bit set on every byte
//! but the last. Packed list entries, thin entry pointers and keyspace entries write their
//! lengths this way (DUMP payloads too, appending to a `Vec`: `cmd::dump::put_varint`).

/// The bytes a varint of `n` takes.
pub(crate) fn len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Writes `n` into `out`, which holds exactly `len(n)` bytes.
pub(crate) fn write(out: &mut [u8], mut n: usize) {
    debug_assert_eq!(out.len(), len(n));
    let last = out.len() - 1;
    for (i, byte) in out.iter_mut().enumerate() {
        let more = if i < last { 0x80 } else { 0 };
        *byte = (n & 0x7f) as u8 | more;
        n >>= 7;
    }
}

/// Reads the varint at the start of `bytes`: its value and its length.
pub(crate) fn read(bytes: &[u8]) -> (usize, usize) {
    let (mut n, mut shift) = (0usize, 0);
    for (i, &byte) in bytes.iter().enumerate() {
        n |= usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    panic!("a varint runs past the end of its bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_every_length_class() {
        for n in [
            0,
            1,
            127,
            128,
            16383,
            16384,
            (1 << 21) - 1,
            1 << 21,
            u32::MAX as usize,
        ] {
            let mut out = vec![0; len(n)];
            write(&mut out, n);
            out.push(0xff);
            assert_eq!(read(&out), (n, len(n)), "{n}");
        }
        assert_eq!((len(0), len(127), len(128)), (1, 1, 2));
    }
}
