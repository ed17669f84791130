//! propensity: recommendation and propensity scoring for retailers.
//!
//! The trainer (`propensity-train`) turns an event log into one versioned model bundle;
//! the server (`propensity-serve`) loads it and answers storefront and CRM questions.
//! Modules mirror that pipeline: `ingest` reads logs into a columnar store, `synth` makes
//! logs with known structure, and the model, bundle and serving modules build on them;
//! `clv` holds the customer-lifetime-value models (BG/NBD, Pareto/NBD, Gamma-Gamma) and RFM;
//! `live` keeps what the server learns from events between retrains.

pub mod bundle;
pub mod cf;
pub mod clv;
pub mod erasure;
pub mod errors;
pub mod eval;
pub mod features;
pub mod gbdt;
pub mod ingest;
pub mod journal;
pub mod live;
pub mod propensity;
pub mod ranking;
pub mod rng;
pub mod scoring;
pub mod serve;
pub mod synth;
pub mod time;
