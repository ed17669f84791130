//! A serializable description of a bundle, shared by `propensity-train inspect --json` and
//! the server's `GET /v1/model`, so both always show the same fields.

use std::collections::BTreeMap;

use serde::Serialize;

use super::manifest::FeatureImportance;
use super::read::Bundle;
use crate::time::format_rfc3339;

/// Everything worth knowing about a bundle, with times as RFC 3339 strings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleSummary {
    /// Identifies the model in every server answer.
    pub model_version: String,
    /// Bundle format version.
    pub format_version: u32,
    /// propensity version that wrote it.
    pub trainer_version: String,
    /// Creation time.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// First and last event time of the training data (`null` for an empty log).
    #[schema(required = true)]
    pub data_range: Option<SummaryRange>,
    /// Number of events read.
    pub events: u64,
    /// Number of distinct customers.
    pub customers: u64,
    /// Number of distinct items.
    pub items: u64,
    /// Training configuration text.
    pub config: String,
    /// Evaluation metrics by name (a metric that could not be computed is `null`).
    #[schema(value_type = BTreeMap<String, Option<f64>>)]
    pub metrics: BTreeMap<String, f64>,
    /// Features, most important first.
    pub feature_importance: Vec<FeatureImportance>,
    /// File size.
    pub len_bytes: u64,
    /// Event-journal seq the models include (absent when trained without a journal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journal_seq: Option<u64>,
    /// The section table.
    pub sections: Vec<SummarySection>,
}

/// Training data time range as RFC 3339 strings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummaryRange {
    /// Earliest event.
    #[schema(format = DateTime)]
    pub first_event_at: String,
    /// Latest event.
    #[schema(format = DateTime)]
    pub last_event_at: String,
}

/// One row of the section table.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SummarySection {
    /// Section name.
    pub name: String,
    /// `struct`, `f32`, `u32` or `i64`.
    pub kind: &'static str,
    /// Offset in the file.
    pub offset: u64,
    /// Length in bytes.
    pub len_bytes: u64,
    /// Array shape.
    pub shape: Vec<u64>,
    /// CRC-32 as 8 hex digits.
    pub crc32: String,
}

impl BundleSummary {
    /// Describes an opened bundle.
    pub fn of(bundle: &Bundle) -> BundleSummary {
        let m = bundle.metadata();
        let mut feature_importance = m.features.clone();
        // Stable sort keeps feature order among equal importances.
        feature_importance.sort_by(|a, b| b.importance.total_cmp(&a.importance));
        BundleSummary {
            model_version: m.model_version.clone(),
            format_version: bundle.format_version(),
            trainer_version: m.trainer_version.clone(),
            created_at: format_rfc3339(m.created_at),
            data_range: m.data_range.map(|r| SummaryRange {
                first_event_at: format_rfc3339(r.first_event_at),
                last_event_at: format_rfc3339(r.last_event_at),
            }),
            events: m.events,
            customers: m.customers,
            items: m.items,
            config: m.config.clone(),
            metrics: m.metrics.clone(),
            feature_importance,
            len_bytes: bundle.len_bytes(),
            // The section passed its CRC when the bundle opened; a mark that does not decode
            // is reported as absent here and refused by the server's own read.
            journal_seq: bundle.journal_seq().ok().flatten(),
            sections: bundle
                .sections()
                .iter()
                .map(|s| SummarySection {
                    name: s.name.clone(),
                    kind: s.kind.as_str(),
                    offset: s.offset,
                    len_bytes: s.len,
                    shape: s.shape.clone(),
                    crc32: format!("{:08x}", s.crc32),
                })
                .collect(),
        }
    }
}
