//! On-disk layout of journal segments: the header, record frames, and the scan that checks
//! them and finds where valid data ends.
//!
//! ```text
//! segment  = header frame*
//! header   = magic b"PRPJRNL\0" | version u32 | kind u32 | covers_upto u64      (24 bytes, LE)
//! frame    = len u32 | crc u32 | seq u64 | payload[len]                           (LE)
//! crc      = crc32(seq as 8 LE bytes ‖ payload)
//! ```
//! A log segment (`kind` 0) named `N.seg` holds the consecutive seqs `N, N+1, …`. An erasures
//! segment (`kind` 1, written by compaction) holds strictly increasing seqs ≥ its name and
//! ≤ `covers_upto`, the last seq of the log segments it replaced.
//!
//! Version 2 added erasures stored as a keyed hash and redacted events (see
//! [`super::Record`]); version 1 segments are read as before and never appended to.

use super::{Damage, JournalError};
use std::path::Path;

/// First bytes of every segment.
pub const MAGIC: [u8; 8] = *b"PRPJRNL\0";
/// Format version written by this build.
pub const VERSION: u32 = 2;
/// Oldest format version this build reads.
pub const OLDEST_VERSION: u32 = 1;
/// Header size in bytes.
pub const HEADER_BYTES: usize = 24;
/// Frame header size in bytes (len, crc, seq).
pub const FRAME_HEADER_BYTES: usize = 16;
/// Largest payload accepted when reading; a larger length field is damage, not a record.
pub const MAX_PAYLOAD_BYTES: usize = 16 << 20;

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// Appended records, consecutive seqs from the file name on.
    Log,
    /// Erase records kept by compaction, seqs increasing, all ≤ `covers_upto`.
    Erasures {
        /// Last seq of the log segments this file replaced.
        covers_upto: u64,
    },
}

/// Encodes a segment header.
pub fn header(kind: SegmentKind) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let (code, covers) = match kind {
        SegmentKind::Log => (0u32, 0u64),
        SegmentKind::Erasures { covers_upto } => (1, covers_upto),
    };
    h[12..16].copy_from_slice(&code.to_le_bytes());
    h[16..24].copy_from_slice(&covers.to_le_bytes());
    h
}

/// Decodes a segment header (`bytes` holds at least [`HEADER_BYTES`]).
pub fn parse_header(bytes: &[u8], path: &Path) -> Result<SegmentKind, JournalError> {
    parse_header_version(bytes, path).map(|(kind, _)| kind)
}

/// [`parse_header`] with the segment's format version.
pub fn parse_header_version(bytes: &[u8], path: &Path) -> Result<(SegmentKind, u32), JournalError> {
    let bad = |damage| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        damage,
    };
    if bytes.len() < HEADER_BYTES {
        return Err(bad(Damage::ShortHeader));
    }
    if bytes[..8] != MAGIC {
        return Err(bad(Damage::BadMagic));
    }
    let version = u32_at(bytes, 8);
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(JournalError::Version {
            path: path.to_path_buf(),
            found: version,
            supported: VERSION,
        });
    }
    match u32_at(bytes, 12) {
        0 => Ok((SegmentKind::Log, version)),
        1 => Ok((
            SegmentKind::Erasures {
                covers_upto: u64_at(bytes, 16),
            },
            version,
        )),
        other => Err(bad(Damage::UnknownKind(other))),
    }
}

/// Appends one frame for `payload` at `seq` to `out`.
pub fn push_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// A frame that checks out: its seq, payload and where it starts.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Byte offset of the frame in the segment.
    pub offset: usize,
    /// Sequence number.
    pub seq: u64,
    /// The postcard-encoded record.
    pub payload: &'a [u8],
}

/// Reads the frame at `at`, or says why there is none.
fn frame_at(bytes: &[u8], at: usize) -> Result<Frame<'_>, Damage> {
    let rest = bytes.len() - at;
    if rest < FRAME_HEADER_BYTES {
        return Err(Damage::Truncated);
    }
    let len = u32_at(bytes, at) as usize;
    if len == 0 || len > MAX_PAYLOAD_BYTES {
        return Err(Damage::BadLength(len as u64));
    }
    if rest < FRAME_HEADER_BYTES + len {
        return Err(Damage::Truncated);
    }
    let seq = u64_at(bytes, at + 8);
    let payload = &bytes[at + FRAME_HEADER_BYTES..at + FRAME_HEADER_BYTES + len];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(payload);
    if crc.finalize() != u32_at(bytes, at + 4) {
        return Err(Damage::Checksum);
    }
    Ok(Frame {
        offset: at,
        seq,
        payload,
    })
}

/// Where a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanEnd {
    /// Bytes of valid data (header plus whole frames).
    pub valid_bytes: usize,
    /// Last seq seen (`None` if no frame).
    pub last_seq: Option<u64>,
    /// Why the scan stopped before the end, if it did.
    pub damage: Option<Damage>,
}

/// Walks the frames after the header, calling `on_frame` for each valid one, and stops at
/// the first damaged frame or at the end. Seqs must follow the segment's rule: consecutive
/// from `first_seq` for a log, increasing and within `first_seq..=covers_upto` for erasures.
/// An out-of-rule seq is damage like a bad checksum.
pub fn scan<'a, E>(
    bytes: &'a [u8],
    kind: SegmentKind,
    first_seq: u64,
    mut on_frame: impl FnMut(Frame<'a>) -> Result<(), E>,
) -> Result<ScanEnd, E> {
    let mut at = HEADER_BYTES;
    let mut last: Option<u64> = None;
    while at < bytes.len() {
        let frame = match frame_at(bytes, at) {
            Ok(f) => f,
            Err(damage) => {
                return Ok(ScanEnd {
                    valid_bytes: at,
                    last_seq: last,
                    damage: Some(damage),
                });
            }
        };
        let in_rule = match kind {
            SegmentKind::Log => frame.seq == last.map_or(first_seq, |s| s + 1),
            SegmentKind::Erasures { covers_upto } => {
                frame.seq >= first_seq
                    && frame.seq <= covers_upto
                    && last.is_none_or(|s| frame.seq > s)
            }
        };
        if !in_rule {
            return Ok(ScanEnd {
                valid_bytes: at,
                last_seq: last,
                damage: Some(Damage::SeqOutOfOrder {
                    expected: last.map_or(first_seq, |s| s + 1),
                    found: frame.seq,
                }),
            });
        }
        on_frame(frame)?;
        last = Some(frame.seq);
        at += FRAME_HEADER_BYTES + frame.payload.len();
    }
    Ok(ScanEnd {
        valid_bytes: at.min(bytes.len()),
        last_seq: last,
        damage: None,
    })
}

/// Whether a valid frame with a plausible seq starts anywhere after `from` (exclusive).
///
/// This separates a torn tail (garbage to the end of the file: only the write in flight at a
/// crash, never acknowledged) from damage in the middle (valid, acknowledged records follow
/// it, which must not be dropped). The seq is checked before the CRC, so the walk over a
/// large tail costs one 8-byte compare per offset.
pub fn valid_frame_after(bytes: &[u8], from: usize, after_seq: u64) -> Option<usize> {
    let max_more = (bytes.len().saturating_sub(from) / (FRAME_HEADER_BYTES + 1)) as u64 + 1;
    let end = bytes.len().checked_sub(FRAME_HEADER_BYTES)?;
    (from + 1..=end).find(|&at| {
        let seq = u64_at(bytes, at + 8);
        seq > after_seq && seq <= after_seq.saturating_add(max_more) && frame_at(bytes, at).is_ok()
    })
}
