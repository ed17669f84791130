//! propensity: recommendation and propensity scoring for retailers.
//!
//! The trainer (`propensity-train`) turns a store's event log into one versioned model
//! bundle; the server (`propensity-serve`) maps it and answers storefront and CRM questions.
//! The modules below are listed in the order data flows through them:
//!
//! ```text
//! ingest ─▶ features ─▶ { gbdt, cf, clv } ─▶ { propensity, ranking } ─▶ models / bundle ─▶ live ─▶ serve
//!                         ▲ config (the training config), progress (stage bars)
//! beside: synth (logs with known truth), demo (a bundle trained on synth), eval (metrics,
//!         reports), journal (durable events), fsutil (atomic file replacement)
//! ```
//!
//! - [`ingest`] reads CSV, JSON Lines, Parquet and the public data sets into the columnar
//!   [`ingest::EventStore`] (dense ids, events sorted by customer then time).
//! - [`features`] computes point-in-time customer features and labels: nothing at or after a
//!   snapshot's time is read.
//! - [`gbdt`] (histogram gradient boosting, domain-free), [`cf`] (ALS, co-purchase, user-kNN,
//!   popularity) and [`clv`] (BG/NBD, Pareto/NBD, Gamma-Gamma, RFM) are the model families.
//! - [`propensity`] trains churn, the repurchase curve and purchase counts;
//!   [`ranking`] turns candidate sources into next-best products with a GBDT ranker.
//! - [`models`] holds the trained model set and writes/reads it through [`bundle`], the
//!   checksummed, memory-mapped file format.
//! - [`live`] overlays events received since the bundle; [`journal`] makes them durable;
//!   [`erasure`] keeps the keyed record of erased customers the journal and ingest honour.
//! - [`serve`] is the HTTP service over all of it.
//!
//! [`config`] is the training config both model families read (`[propensity]`,
//! `[recommend]`); [`documented`] lets one struct declaration serve code, config file and
//! CLI help; [`progress`] reports long stages; [`synth`] makes logs with planted structure
//! for tests, and [`demo`] trains the bundle a fresh checkout serves from it (the model
//! layer itself never reads synthetic data); [`eval`] holds the metrics and the evaluation
//! report; [`fsutil`] replaces files atomically, for every writer another process may be
//! reading behind.

#![warn(missing_docs)]

pub mod ingest;

pub mod features;

pub mod cf;
pub mod clv;
pub mod gbdt;

pub mod propensity;
pub mod ranking;

pub mod bundle;
pub mod models;

pub mod erasure;
pub mod journal;
pub mod live;

pub mod serve;

pub mod config;
pub mod demo;
pub mod documented;
pub mod errors;
pub mod eval;
pub mod fsutil;
pub mod progress;
pub mod rng;
pub mod synth;
pub mod time;
