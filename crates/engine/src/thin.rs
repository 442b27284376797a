//! [`ThinBytes`]: an owned byte slice behind an 8-byte pointer, its length stored in front of
//! the bytes as a varint.
//!
//! Every key of a database is one such allocation in a per-segment hash table, so the table's
//! bucket is the pointer. A `Box<[u8]>` is 16 bytes (pointer and length), which with hashbrown's
//! control byte and a segment's load (1M keys over 16,384 segments is 61 keys in 128 buckets)
//! came to 36 bytes a key for the table alone; thin, 19. The length costs one byte in front of a
//! blob shorter than 128 bytes, two below 16 KiB, and is read on every access (a byte or two
//! already in the cache line the access goes on to read).
//!
//! Written by hand: the crates that offer thin boxed slices carry their length in a `usize`
//! header (16 bytes for `thin-vec`'s length and capacity) or are unmaintained, and a header
//! of that size would cost what the thin pointer saves.

use std::alloc::{Layout, dealloc, handle_alloc_error};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::varint;

/// An owned `[u8]` behind one pointer (see the module doc). The allocation always holds at
/// least the one-byte length, so it is never zero-sized.
pub(crate) struct ThinBytes(NonNull<u8>);

// SAFETY: `ThinBytes` owns its allocation exclusively, as a `Box<[u8]>` does, and has no
// interior mutability.
unsafe impl Send for ThinBytes {}
// SAFETY: as above: shared references only read.
unsafe impl Sync for ThinBytes {}

impl ThinBytes {
    pub(crate) fn new(bytes: &[u8]) -> ThinBytes {
        let mut thin = ThinBytes::zeroed(bytes.len());
        thin.copy_from_slice(bytes);
        thin
    }

    /// `len` zero bytes, to fill in place (one allocation, no intermediate buffer).
    pub(crate) fn zeroed(len: usize) -> ThinBytes {
        let header = varint::len(len);
        let layout = Self::layout(header + len);
        // SAFETY: the layout's size is at least one (the header).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = NonNull::new(ptr) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the allocation's first `header` bytes, initialised (zeroed) and not yet shared.
        varint::write(
            unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), header) },
            len,
        );
        ThinBytes(ptr)
    }

    /// Where the bytes live (their length header first), without reading them.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 1).expect("a byte slice's layout")
    }

    /// The slice's length and the header's.
    fn header(&self) -> (usize, usize) {
        let (mut len, mut shift, mut at) = (0usize, 0, 0);
        loop {
            // SAFETY: the header was written by `zeroed` and ends at a byte without the high bit,
            // so every byte read here is inside it.
            let byte = unsafe { self.0.add(at).read() };
            len |= usize::from(byte & 0x7f) << shift;
            at += 1;
            shift += 7;
            if byte & 0x80 == 0 {
                return (len, at);
            }
        }
    }
}

impl Deref for ThinBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let (len, header) = self.header();
        // SAFETY: `zeroed` initialised `len` bytes after the header, and `self` owns them.
        unsafe { std::slice::from_raw_parts(self.0.add(header).as_ptr(), len) }
    }
}

impl DerefMut for ThinBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        let (len, header) = self.header();
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive. The header is
        // outside the returned slice, so it cannot be changed through it.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(header).as_ptr(), len) }
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let (len, header) = self.header();
        // SAFETY: allocated by `zeroed` with this layout (the header gives back the size).
        unsafe { dealloc(self.0.as_ptr(), Self::layout(header + len)) }
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        ThinBytes::new(self)
    }
}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_any_length_behind_one_pointer() {
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
        for len in [0, 1, 127, 128, 129, 16383, 16384, 1 << 20] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut thin = ThinBytes::new(&bytes);
            assert_eq!(&*thin, &bytes[..]);
            assert_eq!(thin.header().1, varint::len(len));
            if len > 0 {
                thin[len - 1] ^= 0xff;
                thin[0] = 42;
                assert_eq!(thin[0], 42);
                assert_eq!(
                    thin.len(),
                    len,
                    "writing through it leaves the length alone"
                );
            }
            let copy = thin.clone();
            assert_eq!(&*copy, &*thin);
            drop(thin);
            assert_eq!(copy.len(), len);
        }
    }
}
