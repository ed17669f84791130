//! Byte storage of an opened bundle and zero-copy views of its raw arrays: the only
//! `unsafe` code in the crate lives here.

use std::fs::File;

use memmap2::{Mmap, MmapMut};

// Arrays are stored little-endian and viewed in place; a big-endian target would need a
// decoding path that does not exist.
const _: () = assert!(
    cfg!(target_endian = "little"),
    "bundle arrays are viewed in place and require a little-endian target"
);

/// Maps `file` read-only.
///
/// # Safety (why this is sound in practice)
/// A memory map is only sound while no one modifies the file underneath it. Bundles are
/// never modified in place: `BundleWriter::write_atomic` writes a temporary file and
/// renames it over the old name, which leaves existing maps pointing at the old inode.
/// Writing into a bundle with other tools while a server maps it is unsupported.
pub(crate) fn map_file(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: see the function's doc comment; the file is opened read-only and bundle
    // files are replaced by rename, never rewritten in place.
    unsafe { Mmap::map(file) }
}

/// Copies `bytes` into a fresh page-aligned anonymous map, so in-memory bundles get the
/// same alignment guarantees as files.
pub(crate) fn map_copy(bytes: &[u8]) -> std::io::Result<Mmap> {
    let mut map = MmapMut::map_anon(bytes.len().max(1))?;
    map[..bytes.len()].copy_from_slice(bytes);
    map.make_read_only()
}

/// Element types that may be viewed in place: every bit pattern is a valid value and
/// there is no padding.
pub(crate) trait Plain: Copy + sealed::Sealed {}
impl Plain for f32 {}
impl Plain for u32 {}
impl Plain for i64 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u32 {}
    impl Sealed for i64 {}
}

/// Views `bytes` as a slice of `T` without copying, or `None` when the start is not
/// aligned for `T` or the length is not a whole number of elements.
pub(crate) fn cast_slice<T: Plain>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size)
        || bytes.as_ptr().align_offset(std::mem::align_of::<T>()) != 0
    {
        return None;
    }
    // SAFETY: the pointer is aligned for T and the length is a whole number of T (both
    // checked above); `Plain` types accept every bit pattern; the returned slice borrows
    // `bytes`, so it cannot outlive the storage; the target is little-endian (asserted at
    // compile time), matching the on-disk byte order.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_refuses_misaligned_and_partial() {
        let map = map_copy(&[0u8; 16]).expect("anonymous map");
        assert!(cast_slice::<f32>(&map[1..9]).is_none(), "misaligned start");
        assert!(cast_slice::<u32>(&map[0..6]).is_none(), "partial element");
        assert_eq!(cast_slice::<u32>(&map[0..8]), Some(&[0u32, 0][..]));
    }

    #[test]
    fn cast_reads_little_endian_values() {
        let mut bytes = Vec::new();
        for v in [1.5f32, -2.25, 1e-3] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let map = map_copy(&bytes).expect("anonymous map");
        assert_eq!(
            cast_slice::<f32>(&map[..]),
            Some(&[1.5f32, -2.25, 1e-3][..])
        );
    }
}
