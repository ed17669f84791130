//! Evaluation: metrics shared by every model (one implementation each).

pub mod metrics;
