//! The section table and the metadata every bundle carries.
//!
//! Both are postcard-encoded, which is not self-describing: changing any field here means
//! bumping `FORMAT_VERSION` and freezing a new fixture under `tests/data/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a section holds, which decides how its bytes may be viewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectionKind {
    /// A postcard-encoded structure.
    Struct,
    /// Raw little-endian `f32` values.
    F32,
    /// Raw little-endian `u32` values.
    U32,
    /// Raw little-endian `i64` values (timestamps).
    I64,
}

impl SectionKind {
    /// Size of one element in bytes; structs count bytes.
    pub fn element_bytes(self) -> u64 {
        match self {
            SectionKind::Struct => 1,
            SectionKind::F32 | SectionKind::U32 => 4,
            SectionKind::I64 => 8,
        }
    }

    /// Short lower-case name for tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Struct => "struct",
            SectionKind::F32 => "f32",
            SectionKind::U32 => "u32",
            SectionKind::I64 => "i64",
        }
    }
}

/// One row of the section table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionEntry {
    /// Unique name, e.g. `als.item_factors`.
    pub name: String,
    /// What the bytes hold.
    pub kind: SectionKind,
    /// Start offset in the file, a multiple of 64.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// Array dimensions (row-major); `[len]` for structs.
    pub shape: Vec<u64>,
    /// CRC-32 of the section's bytes.
    pub crc32: u32,
}

/// The section table, stored after the last section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub sections: Vec<SectionEntry>,
}

/// First and last event time of the training data (seconds since the epoch, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataRange {
    /// Timestamp of the earliest event used.
    pub first_event_at: i64,
    /// Timestamp of the latest event used.
    pub last_event_at: i64,
}

/// One feature's name and its importance in the trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureImportance {
    /// Feature name, as in the `features` table.
    pub name: String,
    /// Importance (total split gain unless the model says otherwise).
    pub importance: f64,
}

/// Where a model came from and how well it did: the section every bundle has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Format version of the file it was read from (set by the writer).
    pub format_version: u32,
    /// Identifies this model in every server answer; by default the creation time and a
    /// short checksum of the sections, filled in by the writer when left empty.
    pub model_version: String,
    /// Version of propensity that wrote the bundle.
    pub trainer_version: String,
    /// When the bundle was built (seconds since the epoch, UTC).
    pub created_at: i64,
    /// Time span of the events the model was trained on, if any.
    pub data_range: Option<DataRange>,
    /// Number of events read.
    pub events: u64,
    /// Number of distinct customers.
    pub customers: u64,
    /// Number of distinct items.
    pub items: u64,
    /// The training configuration, as the TOML (or JSON) text it was given in.
    pub config: String,
    /// Evaluation metrics, flat dotted names such as `churn.auc` or `recommend.ndcg@10`.
    pub metrics: BTreeMap<String, f64>,
    /// Feature names with their importance, in feature order.
    pub features: Vec<FeatureImportance>,
}

impl Metadata {
    /// Empty metadata for a bundle created at `created_at`; the writer fills in the
    /// format version, trainer version and (when left empty) the model version.
    pub fn new(created_at: i64) -> Metadata {
        Metadata {
            format_version: super::FORMAT_VERSION,
            model_version: String::new(),
            trainer_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            data_range: None,
            events: 0,
            customers: 0,
            items: 0,
            config: String::new(),
            metrics: BTreeMap::new(),
            features: Vec::new(),
        }
    }
}
