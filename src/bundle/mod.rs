//! The model bundle: one versioned, checksummed file holding everything a trained model
//! needs at serving time.
//!
//! Layout (see `format.rs` for the byte-level details):
//!
//! ```text
//! [header: magic b"PRPNSTY\0", format_version u32, flags u32]
//! [section]*  each at a 64-byte-aligned offset: postcard structs or raw LE f32/u32/i64 arrays
//! [manifest]  postcard: the section table {name, kind, offset, len, shape, crc32}
//! [footer]    manifest offset/len/crc, format_version, whole-file crc32, magic (fixed size)
//! ```
//!
//! [`BundleWriter`] builds and writes a bundle atomically; [`Bundle::open`] memory-maps one
//! and verifies every checksum before handing out zero-copy array views. Every bundle has a
//! [`Metadata`] section describing where the model came from and how well it did.

mod error;
mod format;
mod manifest;
mod read;
mod section;
mod summary;
mod write;

pub use error::{BundleError, SectionFault};
pub use format::{FORMAT_VERSION, MAGIC, OLDEST_SUPPORTED_FORMAT_VERSION, SECTION_ALIGN};
pub use manifest::{DataRange, FeatureImportance, Metadata, SectionEntry, SectionKind};
pub use read::Bundle;
pub use summary::{BundleSummary, SummaryRange, SummarySection};
pub use write::BundleWriter;

/// Name of the section every bundle carries its [`Metadata`] in.
pub const METADATA_SECTION: &str = "metadata";

/// Name of the optional section holding the event-journal position a bundle includes.
///
/// A section of its own rather than a [`Metadata`] field: postcard is not self-describing,
/// so a new field would make every older bundle undecodable, while a missing section
/// simply means "trained without a journal".
pub const JOURNAL_SECTION: &str = "journal";

/// The journal position a bundle was trained up to (the [`JOURNAL_SECTION`] section).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalMark {
    /// Highest journal seq whose record the training read; the server replays only later
    /// records and may compact up to it.
    pub seq: u64,
}

#[cfg(test)]
mod tests;
