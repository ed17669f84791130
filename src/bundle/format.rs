//! Fixed-size header and footer, and the format version constants.
//!
//! The footer layout never changes between format versions, so a reader can always find
//! the version and refuse a bundle it does not understand with a useful message
//! (tantivy's footer discipline).

/// First and last eight bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"PRPNSTY\0";

/// Format version this build writes. postcard is not self-describing: any change to a
/// manifest or metadata struct, even an added field, must bump it.
///
/// 2: `i64` array sections; the recommender's large arrays moved out of its struct section.
pub const FORMAT_VERSION: u32 = 2;

/// Oldest format version this build still reads.
pub const OLDEST_SUPPORTED_FORMAT_VERSION: u32 = 1;

/// Alignment of every section's start offset, in bytes: a cache line, and a multiple of
/// every element size we cast to, so arrays load without copying.
pub const SECTION_ALIGN: usize = 64;

/// `magic[8] | format_version u32 | flags u32`.
pub(crate) const HEADER_LEN: usize = 16;

/// `manifest_offset u64 | manifest_len u64 | manifest_crc u32 | format_version u32 |
/// file_crc u32 | magic[8]`.
pub(crate) const FOOTER_LEN: usize = 36;

/// Bytes at the end of the file not covered by the whole-file checksum (the checksum
/// itself and the trailing magic, which is compared exactly).
pub(crate) const FOOTER_UNCHECKED_LEN: usize = 12;

/// The decoded fixed-size header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub magic: [u8; 8],
    pub format_version: u32,
    pub flags: u32,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&self.magic);
        out[8..12].copy_from_slice(&self.format_version.to_le_bytes());
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        Header {
            magic: bytes[..8].try_into().expect("slice of length 8"),
            format_version: u32::from_le_bytes(bytes[8..12].try_into().expect("length 4")),
            flags: u32::from_le_bytes(bytes[12..16].try_into().expect("length 4")),
        }
    }
}

/// The decoded fixed-size footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub manifest_offset: u64,
    pub manifest_len: u64,
    pub manifest_crc: u32,
    pub format_version: u32,
    pub file_crc: u32,
    pub magic: [u8; 8],
}

impl Footer {
    /// The part of the footer covered by the whole-file checksum.
    pub fn encode_checked(&self) -> [u8; FOOTER_LEN - FOOTER_UNCHECKED_LEN] {
        let mut out = [0u8; FOOTER_LEN - FOOTER_UNCHECKED_LEN];
        out[..8].copy_from_slice(&self.manifest_offset.to_le_bytes());
        out[8..16].copy_from_slice(&self.manifest_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.manifest_crc.to_le_bytes());
        out[20..24].copy_from_slice(&self.format_version.to_le_bytes());
        out
    }

    /// The trailing part: the whole-file checksum, then the magic.
    pub fn encode_unchecked(&self) -> [u8; FOOTER_UNCHECKED_LEN] {
        let mut out = [0u8; FOOTER_UNCHECKED_LEN];
        out[..4].copy_from_slice(&self.file_crc.to_le_bytes());
        out[4..].copy_from_slice(&self.magic);
        out
    }

    pub fn decode(b: &[u8; FOOTER_LEN]) -> Footer {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("length 8"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("length 4"));
        Footer {
            manifest_offset: u64_at(0),
            manifest_len: u64_at(8),
            manifest_crc: u32_at(16),
            format_version: u32_at(20),
            file_crc: u32_at(24),
            magic: b[28..36].try_into().expect("length 8"),
        }
    }
}

/// Rounds `offset` up to the next multiple of [`SECTION_ALIGN`].
pub(crate) fn align_up(offset: u64) -> u64 {
    let a = SECTION_ALIGN as u64;
    offset.div_ceil(a) * a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_footer_round_trip() {
        let h = Header {
            magic: MAGIC,
            format_version: 7,
            flags: 0xdead_beef,
        };
        assert_eq!(Header::decode(&h.encode()), h);
        let f = Footer {
            manifest_offset: 1 << 40,
            manifest_len: 12345,
            manifest_crc: 1,
            format_version: 3,
            file_crc: 0x0102_0304,
            magic: MAGIC,
        };
        let mut bytes = [0u8; FOOTER_LEN];
        bytes[..24].copy_from_slice(&f.encode_checked());
        bytes[24..].copy_from_slice(&f.encode_unchecked());
        assert_eq!(Footer::decode(&bytes), f);
    }

    #[test]
    fn align_up_rounds_to_sixty_four() {
        assert_eq!(align_up(0), 0);
        assert_eq!(align_up(1), 64);
        assert_eq!(align_up(64), 64);
        assert_eq!(align_up(65), 128);
    }
}
