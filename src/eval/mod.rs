//! Evaluation: metrics shared by every model and the `evaluate` protocols.

pub mod ranking;
