<<<<<<< HEAD
//! Evaluation: metrics shared by every model and the `evaluate` protocols.

pub mod ranking;
=======
//! Evaluation: metrics shared by every model (one implementation each).

pub mod metrics;
>>>>>>> gbdt
