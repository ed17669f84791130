//! Segment files: naming and listing them, creating one, reading its frames, repairing a
//! torn tail, and the directory's leftovers (replaced segments, temporary files).

use super::error::io;
use super::format::{self, *};
use super::{JournalError, Record};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One segment file.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) first_seq: u64,
    pub(super) path: PathBuf,
    pub(super) kind: SegmentKind,
    /// Format version of its header.
    pub(super) version: u32,
}

/// The path of the segment starting at `first_seq`.
pub(super) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.seg"))
}

/// Segment files of `dir` in seq order, with their headers read. A last segment shorter
/// than a header (a crash while creating it) is returned with `None` as its kind.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<(Segment, u64)>, JournalError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("reading directory", dir))? {
        let entry = entry.map_err(io("reading directory", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".seg") else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(first_seq) = stem.parse::<u64>() else {
            continue;
        };
        found.push((first_seq, entry.path()));
    }
    found.sort_unstable_by_key(|s| s.0);
    let mut out = Vec::with_capacity(found.len());
    for (first_seq, path) in found {
        let mut head = [0u8; HEADER_BYTES];
        let mut file = File::open(&path).map_err(io("opening", &path))?;
        let len = file
            .metadata()
            .map_err(io("reading metadata of", &path))?
            .len();
        let n = read_up_to(&mut file, &mut head).map_err(io("reading", &path))?;
        let (kind, version) = if n < HEADER_BYTES {
            // Only a segment being created can be this short; the caller decides.
            (SegmentKind::Log, format::VERSION)
        } else {
            format::parse_header_version(&head, &path)?
        };
        out.push((
            Segment {
                first_seq,
                path,
                kind,
                version,
            },
            len,
        ));
    }
    Ok(out)
}

pub(super) fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Indices of log segments made redundant by a later-finished compaction: every seq they
/// can hold (up to the next segment's first seq) is ≤ an erasures segment's `covers_upto`.
pub(super) fn leftovers(segments: &[(Segment, u64)]) -> Vec<usize> {
    let mut covered = 0u64;
    let mut out = Vec::new();
    for (k, (s, _)) in segments.iter().enumerate() {
        match s.kind {
            SegmentKind::Erasures { covers_upto } => covered = covered.max(covers_upto),
            SegmentKind::Log => {
                if let Some((next, _)) = segments.get(k + 1)
                    && next.first_seq.saturating_sub(1) <= covered
                {
                    out.push(k);
                }
            }
        }
    }
    out
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    Ok(crate::fsutil::sync_dir(dir)?)
}

/// Creates a log segment at `first_seq` with its header on disk, and the directory entry.
pub(super) fn create_segment(dir: &Path, first_seq: u64) -> Result<(Segment, File), JournalError> {
    let path = segment_path(dir, first_seq);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io("creating", &path))?;
    file.write_all(&format::header(SegmentKind::Log))
        .and_then(|()| file.sync_all())
        .map_err(io("writing", &path))?;
    sync_dir(dir)?;
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io("opening", &path))?;
    Ok((
        Segment {
            first_seq,
            path,
            kind: SegmentKind::Log,
            version: format::VERSION,
        },
        file,
    ))
}

/// Seq the segment after `seg` must start at.
pub(super) fn next_expected(seg: &Segment, last_seq: Option<u64>) -> u64 {
    match seg.kind {
        SegmentKind::Log => last_seq.map_or(seg.first_seq, |s| s + 1),
        SegmentKind::Erasures { covers_upto } => covers_upto + 1,
    }
}

pub(super) fn decode(
    payload: &[u8],
    path: &Path,
    offset: usize,
    seq: u64,
) -> Result<Record, JournalError> {
    postcard::from_bytes(payload).map_err(|source| JournalError::Decode {
        path: path.to_path_buf(),
        offset: offset as u64,
        seq,
        source,
    })
}

/// Checks a segment's header and its place after the previous segment (`expected` = the
/// seq the previous one says comes next), then scans its frames.
pub(super) fn read_segment<'a>(
    seg: &Segment,
    bytes: &'a [u8],
    expected: Option<u64>,
    mut on_frame: impl FnMut(u64, usize, &'a [u8]) -> Result<(), JournalError>,
) -> Result<format::ScanEnd, JournalError> {
    let kind = format::parse_header(bytes, &seg.path)?;
    if let (Some(expected), SegmentKind::Log) = (expected, kind)
        && seg.first_seq != expected
    {
        return Err(JournalError::Gap {
            path: seg.path.clone(),
            expected,
            found: seg.first_seq,
        });
    }
    format::scan(bytes, kind, seg.first_seq, |fr| {
        on_frame(fr.seq, fr.offset, fr.payload)
    })
}

/// Scans the last segment at open and cuts a torn tail. Returns the valid length, the last
/// seq and the bytes cut.
pub(super) fn repair_tail(seg: &Segment) -> Result<(u64, Option<u64>, u64), JournalError> {
    let bytes = std::fs::read(&seg.path).map_err(io("reading", &seg.path))?;
    let end = read_segment(seg, &bytes, None, |_, _, _| Ok(()))?;
    let Some(damage) = end.damage else {
        return Ok((bytes.len() as u64, end.last_seq, 0));
    };
    let after = end.last_seq.unwrap_or(seg.first_seq.saturating_sub(1));
    if seg.kind != SegmentKind::Log
        || format::valid_frame_after(&bytes, end.valid_bytes, after).is_some()
    {
        return Err(JournalError::Corrupt {
            path: seg.path.clone(),
            offset: end.valid_bytes as u64,
            damage,
        });
    }
    let cut = (bytes.len() - end.valid_bytes) as u64;
    tracing::warn!(
        path = %seg.path.display(),
        offset = end.valid_bytes,
        bytes = cut,
        %damage,
        "journal: truncating a torn write left by a crash (never acknowledged)"
    );
    let file = OpenOptions::new()
        .write(true)
        .open(&seg.path)
        .map_err(io("opening", &seg.path))?;
    file.set_len(end.valid_bytes as u64)
        .and_then(|()| file.sync_all())
        .map_err(io("truncating", &seg.path))?;
    Ok((end.valid_bytes as u64, end.last_seq, cut))
}

/// Removes the temporary files an interrupted compaction, redaction or key creation left
/// behind (and `*.seg.tmp`, the name older versions gave them).
pub(super) fn remove_temp_files(dir: &Path) -> Result<(), JournalError> {
    for entry in std::fs::read_dir(dir).map_err(io("reading directory", dir))? {
        let entry = entry.map_err(io("reading directory", dir))?;
        let name = entry.file_name();
        if crate::fsutil::is_temp_name(&name)
            || name.to_str().is_some_and(|n| n.ends_with(".seg.tmp"))
        {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io("removing", &path))?;
        }
    }
    Ok(())
}
