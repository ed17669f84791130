//! Evaluation: metrics shared by every model (one implementation each) and the `evaluate`
//! protocols.

pub mod metrics;
pub mod ranking;
