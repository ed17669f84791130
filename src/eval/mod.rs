//! Evaluation: metrics shared by every model (one implementation each) and the `evaluate`
//! protocols.

pub mod curves;
pub mod grouped;
pub mod metrics;
pub mod ranking;
pub mod report;
