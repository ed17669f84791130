//! Next-best products: two-stage retrieval and ranking.
//!
//! A [`Snapshot`] summarises the event log strictly before a time `T` (per-customer purchase
//! histories, last baskets, item statistics, co-purchase neighbours, ALS factors and each
//! customer's precomputed ALS top-N and user-kNN list). Candidates for a customer come from every source
//! (`features::gather`), each candidate gets a fixed feature row, and a GBDT ranker scores
//! them. The ranker is trained exactly like it is evaluated, one horizon earlier: sources fit
//! on events before `T − H`, labels are the items bought in `[T − H, T)`.
//!
//! [`Recommender`] holds the snapshot at `T` plus the ranker and answers requests without the
//! event store, so the server can embed it in the model bundle. [`evaluate_recommend`] scores
//! the ranker and every source alone on the following horizon.

mod config;
mod error;
mod eval;
mod features;
mod forest;
mod live;
mod recommender;
mod snapshot;
#[cfg(test)]
mod tests;

pub use config::RecommendConfig;
pub use error::RankingError;
pub use eval::{
    CustomerRanking, METHODS, RecommendReport, ReportRow, evaluate_fitted,
    evaluate_fitted_detailed, evaluate_recommend,
};
pub use features::{FEATURE_NAMES, N_FEATURES, Scratch};
pub use live::LiveHistory;
pub use recommender::{MAX_K, RecommendRequest, Recommendation, Recommender, Source};
pub use snapshot::{HistoryEvent, Snapshot};

/// Index value meaning "none" in the snapshot's u32 arrays (category, ranks).
pub const NONE: u32 = u32::MAX;
