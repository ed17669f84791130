//! What can go wrong with a journal, naming the file and byte offset.

use std::path::{Path, PathBuf};

/// How a frame or header is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The file is shorter than a segment header.
    ShortHeader,
    /// The file does not start with the journal magic.
    BadMagic,
    /// The header names a segment kind this build does not know.
    UnknownKind(u32),
    /// The file ends inside a frame.
    Truncated,
    /// A frame length of zero or beyond the largest record.
    BadLength(u64),
    /// The CRC does not match the frame's seq and payload.
    Checksum,
    /// A valid frame whose seq breaks the segment's order.
    SeqOutOfOrder {
        /// Seq the position calls for.
        expected: u64,
        /// Seq found.
        found: u64,
    },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::ShortHeader => write!(f, "file is shorter than the segment header"),
            Damage::BadMagic => write!(f, "not a journal segment (bad magic)"),
            Damage::UnknownKind(k) => write!(f, "unknown segment kind {k}"),
            Damage::Truncated => write!(f, "file ends inside a record"),
            Damage::BadLength(n) => write!(f, "impossible record length {n}"),
            Damage::Checksum => write!(f, "record checksum mismatch"),
            Damage::SeqOutOfOrder { expected, found } => {
                write!(f, "record seq {found} where {expected} was expected")
            }
        }
    }
}

/// Journal errors; each names the file (and byte offset) involved.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// File or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Acknowledged data is damaged.
    #[error(
        "{} at byte {offset}: {damage}; hint: this is not a torn write from a crash (valid data \
         follows or it is not the newest segment), so restore the file from a backup",
        path.display()
    )]
    Corrupt {
        /// Segment file.
        path: PathBuf,
        /// Byte offset of the damaged header or frame.
        offset: u64,
        /// What is wrong.
        damage: Damage,
    },
    /// A segment of another format version.
    #[error(
        "{}: journal format version {found}, this build reads versions up to {supported}",
        path.display()
    )]
    Version {
        /// Segment file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// A frame that checks out but does not decode as a [`Record`].
    #[error("{} at byte {offset}, seq {seq}: record does not decode: {source}", path.display())]
    Decode {
        /// Segment file.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// Seq of the frame.
        seq: u64,
        /// The decoder's error.
        #[source]
        source: postcard::Error,
    },
    /// Seqs jump between two segments: a segment file is missing.
    #[error("{}: starts at seq {found} but the segment before it ends at {}; a segment file is missing", path.display(), expected - 1)]
    Gap {
        /// The segment after the gap.
        path: PathBuf,
        /// Seq it should start at.
        expected: u64,
        /// Seq it starts at.
        found: u64,
    },
    /// A journaled event breaks the data contract (checked by [`read_for_training`]).
    #[error("{}, seq {seq}: journaled event field {field:?} {problem}", path.display())]
    BadEvent {
        /// Segment file.
        path: PathBuf,
        /// Seq of the record.
        seq: u64,
        /// Offending field.
        field: &'static str,
        /// What is wrong.
        problem: crate::ingest::Problem,
    },
    /// A record too large to frame.
    #[error("record of {bytes} bytes is larger than the journal's limit of {limit}")]
    RecordTooLarge {
        /// Encoded size.
        bytes: usize,
        /// [`format::MAX_PAYLOAD_BYTES`].
        limit: usize,
    },
    /// Encoding a record failed.
    #[error("encoding a journal record: {0}")]
    Encode(#[source] postcard::Error),
    /// The erasure key file is damaged.
    #[error(
        "{}: not a journal erasure key; hint: restore it from a backup (without it the journal's erasures match nobody)",
        path.display()
    )]
    BadKey {
        /// The key file.
        path: PathBuf,
    },
    /// Segments hold hashed erasures but the key file is gone.
    #[error(
        "{}: ERASURE_KEY is missing but the segments may hold erasures made with it; hint: restore it from a backup, or erased customers would come back",
        dir.display()
    )]
    MissingKey {
        /// Journal directory.
        dir: PathBuf,
    },
    /// Another process has the journal open for writing.
    #[error("{}: journal is in use by another process (LOCK is held)", dir.display())]
    Locked {
        /// Journal directory.
        dir: PathBuf,
    },
    /// An earlier write or fsync failed, so what is on disk is unknown.
    #[error(
        "{}: an earlier write or fsync failed; reopen the journal (restart) to recover",
        dir.display()
    )]
    Poisoned {
        /// Journal directory.
        dir: PathBuf,
    },
}

pub(super) fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io { op, path, source }
}

impl From<crate::fsutil::IoError> for JournalError {
    fn from(e: crate::fsutil::IoError) -> Self {
        JournalError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        }
    }
}
