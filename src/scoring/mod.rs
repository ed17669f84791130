//! Trained models as one unit: fitting them from an event store, writing them to a bundle,
//! and decoding them back for the server.

pub mod customers;
pub mod demo;

pub use customers::{CustomerBase, CustomerBaseError, CustomerScores, clv_summary};

use crate::bundle::{Bundle, BundleError, BundleWriter, DataRange, Metadata};
use crate::ingest::EventStore;
use std::path::Path;

/// Section holding the customer base (without its feature matrix).
pub const CUSTOMER_BASE: &str = "customer_base";
/// Raw section holding the customer feature rows.
pub const CUSTOMER_FEATURES: &str = "customer_features";

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The customer base could not be built.
    #[error(transparent)]
    Customers(#[from] CustomerBaseError),
    /// Writing the bundle failed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// Everything a bundle holds, decoded.
#[derive(Debug, Clone)]
pub struct TrainedModels {
    /// Customers, items and their scores at the cutoff.
    pub base: CustomerBase,
}

impl TrainedModels {
    /// Fits every model on events strictly before `cutoff`.
    pub fn fit(store: &EventStore, cutoff: i64) -> Result<TrainedModels, TrainError> {
        let base = CustomerBase::fit(store, cutoff)?;
        Ok(TrainedModels { base })
    }

    /// Metadata describing these models and the data they came from.
    pub fn metadata(&self, store: &EventStore, config: &str, created_at: i64) -> Metadata {
        let mut m = Metadata::new(created_at);
        m.data_range = store.time_range().map(|(first, last)| DataRange {
            first_event_at: first,
            last_event_at: last,
        });
        m.events = store.len() as u64;
        m.customers = store.n_customers() as u64;
        m.items = store.n_items() as u64;
        m.config = config.to_string();
        m
    }

    /// Serialises the models into a bundle writer (sections only; metadata is the caller's).
    pub fn put_sections<'a>(&'a self, w: &mut BundleWriter<'a>) -> Result<(), BundleError> {
        let b = &self.base;
        w.put_struct(CUSTOMER_BASE, b)?;
        w.put_array_f32(CUSTOMER_FEATURES, &b.features, &[b.rows(), b.layout.len()])?;
        Ok(())
    }

    /// Writes a bundle file atomically.
    pub fn write_bundle(&self, metadata: Metadata, path: &Path) -> Result<Metadata, BundleError> {
        let mut w = BundleWriter::new();
        w.metadata(metadata);
        self.put_sections(&mut w)?;
        w.write_atomic(path)
    }

    /// Encodes a bundle in memory (demo bundles, tests).
    pub fn to_bundle_bytes(&self, metadata: Metadata) -> Result<Vec<u8>, BundleError> {
        let mut w = BundleWriter::new();
        w.metadata(metadata);
        self.put_sections(&mut w)?;
        w.to_bytes()
    }

    /// Decodes the models of an opened bundle; a missing or inconsistent section refuses it.
    pub fn from_bundle(bundle: &Bundle) -> Result<TrainedModels, BundleError> {
        let mut base: CustomerBase = bundle.get_struct(CUSTOMER_BASE)?;
        let features = bundle.array_f32(CUSTOMER_FEATURES)?;
        if features.len() != base.rows() * base.layout.len()
            || base.row_of.len() != base.customer_ids.len()
            || base.scores.len() != base.rows()
        {
            return Err(BundleError::Inconsistent {
                what: format!(
                    "customer tables disagree: {} feature values for {} rows × {} columns, {} scores",
                    features.len(),
                    base.rows(),
                    base.layout.len(),
                    base.scores.len()
                ),
            });
        }
        base.features = features.to_vec();
        Ok(TrainedModels { base })
    }
}
