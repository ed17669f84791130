//! Typed failures of writing and reading bundles; each refusal has its own variant so
//! callers (the server's reload, `inspect`) can tell the user what to do.

use std::path::PathBuf;

use super::manifest::SectionKind;

/// Why one section of a bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionFault {
    /// The section's byte range lies outside the data area of the file.
    OutOfBounds {
        /// Start offset recorded in the section table.
        offset: u64,
        /// Length in bytes recorded in the section table.
        len: u64,
    },
    /// The section does not start on a 64-byte boundary.
    Misaligned {
        /// Start offset recorded in the section table.
        offset: u64,
    },
    /// The length disagrees with `product(shape) * element size`.
    LengthMismatch {
        /// Length implied by shape and element type.
        expected: u64,
        /// Length recorded in the section table.
        found: u64,
    },
    /// The bytes do not match the recorded CRC-32.
    Checksum {
        /// CRC-32 recorded in the section table.
        expected: u32,
        /// CRC-32 of the bytes on disk.
        found: u32,
    },
    /// Two sections share a name.
    Duplicate,
}

impl std::fmt::Display for SectionFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SectionFault::OutOfBounds { offset, len } => {
                write!(f, "bytes {offset}..{offset}+{len} lie outside the file")
            }
            SectionFault::Misaligned { offset } => {
                write!(f, "offset {offset} is not 64-byte aligned")
            }
            SectionFault::LengthMismatch { expected, found } => {
                write!(f, "length {found} bytes, shape implies {expected}")
            }
            SectionFault::Checksum { expected, found } => {
                write!(f, "crc32 {found:08x}, expected {expected:08x}")
            }
            SectionFault::Duplicate => write!(f, "the name appears twice in the section table"),
        }
    }
}

/// Errors from writing, opening or reading a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The file could not be read, written, synced or renamed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`opening`, `writing`, …).
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is shorter than a bundle can be, or its footer is missing.
    #[error(
        "{}: truncated bundle ({len_bytes} bytes, no complete footer); hint: the copy or the training run was interrupted, copy it again or retrain",
        path.display()
    )]
    Truncated {
        /// The bundle file.
        path: PathBuf,
        /// Its length.
        len_bytes: u64,
    },
    /// The path is a directory or another non-file (mapping one fails with an obscure OS
    /// error such as "No such device").
    #[error(
        "{}: is {kind}, not a bundle file; hint: pass the .bundle file written by `propensity-train train --out` (e.g. models/default.bundle)",
        path.display()
    )]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead (`a directory`, `not a regular file`).
        kind: &'static str,
    },
    /// The file does not start with the bundle magic bytes.
    #[error(
        "{}: not a propensity bundle (wrong magic bytes); hint: pass a file written by `propensity-train train --out`",
        path.display()
    )]
    NotABundle {
        /// The file.
        path: PathBuf,
    },
    /// The bundle was written in a format version this build cannot read.
    #[error(
        "{}: bundle format version {found} is not supported by this build (reads {oldest}..={newest}); hint: retrain with this version of propensity-train",
        path.display()
    )]
    Incompatible {
        /// The bundle file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Oldest version this build reads.
        oldest: u32,
        /// Newest version this build reads.
        newest: u32,
    },
    /// A structural part of the file (header, footer, manifest, whole-file checksum) is
    /// damaged.
    #[error(
        "{}: corrupted bundle: {what}; hint: the file was damaged after it was written, copy it again or retrain",
        path.display()
    )]
    Corrupt {
        /// The bundle file.
        path: PathBuf,
        /// Which check failed.
        what: &'static str,
    },
    /// The section table could not be decoded although its checksum matched.
    #[error("{}: corrupted bundle: section table does not decode: {source}", path.display())]
    Manifest {
        /// The bundle file.
        path: PathBuf,
        /// postcard's error.
        #[source]
        source: postcard::Error,
    },
    /// One section is damaged or inconsistent with the section table.
    #[error(
        "{}: corrupted bundle: section {section:?}: {fault}; hint: copy the file again or retrain",
        path.display()
    )]
    Section {
        /// The bundle file.
        path: PathBuf,
        /// The section's name.
        section: String,
        /// What is wrong with it.
        fault: SectionFault,
    },
    /// Sections decode but contradict each other (e.g. a table length mismatch).
    #[error("inconsistent bundle: {what}; hint: retrain with this version of propensity-train")]
    Inconsistent {
        /// What disagrees.
        what: String,
    },
    /// A section the caller asked for is not in the bundle.
    #[error("bundle has no section {name:?}; hint: retrain with this version of propensity-train")]
    MissingSection {
        /// The requested name.
        name: String,
    },
    /// A section exists but holds a different kind of data than asked for.
    #[error("section {name:?} holds {found:?}, not {expected:?}")]
    WrongKind {
        /// The section's name.
        name: String,
        /// The kind asked for.
        expected: SectionKind,
        /// The kind stored.
        found: SectionKind,
    },
    /// A struct section could not be decoded into the requested type.
    #[error("section {name:?} does not decode: {source}")]
    Decode {
        /// The section's name.
        name: String,
        /// postcard's error.
        #[source]
        source: postcard::Error,
    },
    /// A value could not be encoded while building a bundle.
    #[error("section {name:?} does not encode: {source}")]
    Encode {
        /// The section's name.
        name: String,
        /// postcard's error.
        #[source]
        source: postcard::Error,
    },
    /// A section name was used twice, or is reserved, while building a bundle.
    #[error("section name {name:?} is already used or reserved")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// An array's shape does not match its length while building a bundle.
    #[error("section {name:?}: {len} elements do not fill shape {shape:?}")]
    Shape {
        /// The section's name.
        name: String,
        /// Number of elements given.
        len: usize,
        /// Shape given.
        shape: Vec<u64>,
    },
    /// `write_atomic` was called before `metadata` was set.
    #[error("bundle has no metadata; call BundleWriter::metadata before writing")]
    NoMetadata,
}

impl From<crate::fsutil::IoError> for BundleError {
    fn from(e: crate::fsutil::IoError) -> Self {
        BundleError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        }
    }
}
