//! The trained model set in a bundle: which section holds what, writing every model into
//! a [`BundleWriter`] and decoding them back, refusing a bundle whose parts disagree.

use super::{CustomerBase, EventHistory, TrainedModels};
use crate::bundle::{Bundle, BundleError, BundleWriter, DataRange, FeatureImportance, Metadata};
use crate::gbdt::ImportanceKind;
use crate::ingest::EventStore;
use crate::propensity::PropensityModel;
use crate::ranking::Recommender;
use std::collections::BTreeMap;
use std::path::Path;

/// Section holding the customer base (without its feature matrix).
pub const CUSTOMER_BASE: &str = "customer_base";
/// Raw section holding the customer feature rows.
pub const CUSTOMER_FEATURES: &str = "customer_features";
/// Section holding the churn / repurchase / next-purchase models.
pub const PROPENSITY: &str = "propensity";
/// Section holding the recommender (sources at the cutoff and the ranker); its snapshot's
/// large arrays are raw sections named `recommender.FIELD`.
pub const RECOMMENDER: &str = "recommender";
/// Optional section holding the purchase forecast's level (bundles from before it lack it).
const FORECAST_SECTION: &str = "propensity.forecast";

impl TrainedModels {
    /// Feature importance of the churn model, for the bundle metadata.
    pub fn churn_importance(&self) -> Vec<FeatureImportance> {
        let gains = self
            .propensity
            .churn
            .feature_importance(ImportanceKind::Gain);
        self.propensity
            .feature_names
            .iter()
            .zip(gains)
            .map(|(name, importance)| FeatureImportance {
                name: name.clone(),
                importance,
            })
            .collect()
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
        m.features = self.churn_importance();
        m.metrics.extend(self.held_out_metrics.clone());
        m
    }

    /// Serialises the models into a bundle writer (sections only; metadata is the caller's).
    pub fn put_sections<'a>(&'a self, w: &mut BundleWriter<'a>) -> Result<(), BundleError> {
        let b = &self.base;
        w.put_struct(CUSTOMER_BASE, b)?;
        w.put_array_f32(CUSTOMER_FEATURES, &b.features, &[b.rows(), b.layout.len()])?;
        w.put_struct(PROPENSITY, &self.propensity)?;
        w.put_struct(RECOMMENDER, &self.recommender)?;
        w.put_struct(RECOMMENDER_LAYOUT_SECTION, &RECOMMENDER_LAYOUT)?;
        let arrays = self.recommender.snapshot.large_arrays();
        for (name, v) in arrays.u32s {
            w.put_array_u32(&recommender_section(name), v, &[v.len()])?;
        }
        for (name, v) in arrays.i64s {
            w.put_array_i64(&recommender_section(name), v, &[v.len()])?;
        }
        for (name, v) in arrays.f32s {
            w.put_array_f32(&recommender_section(name), v, &[v.len()])?;
        }
        if let Some(h) = &self.history {
            h.put_sections(w)?;
        }
        if let Some(f) = &self.forecast {
            w.put_struct(FORECAST_SECTION, f)?;
        }
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
        let propensity: PropensityModel = bundle.get_struct(PROPENSITY)?;
        if propensity.feature_names != base.layout.names {
            return Err(BundleError::Inconsistent {
                what: "the propensity model's features differ from the stored customer rows"
                    .to_string(),
            });
        }
        let recommender = recommender_from_bundle(bundle)?;
        let history =
            EventHistory::from_bundle(bundle, base.customer_ids.len(), base.item_ids.len())?;
        let forecast = if bundle.section_names().any(|n| n == FORECAST_SECTION) {
            Some(bundle.get_struct(FORECAST_SECTION)?)
        } else {
            None
        };
        Ok(TrainedModels {
            base,
            propensity,
            recommender,
            held_out_metrics: BTreeMap::new(),
            history,
            forecast,
        })
    }
}

/// Section holding the recommender's layout version; bundles without it have layout 1.
const RECOMMENDER_LAYOUT_SECTION: &str = "recommender.layout";

/// Version of the recommender's stored layout (snapshot arrays and ranker features). Bump it
/// when either changes, so an older bundle is refused with a retrain hint instead of a
/// decoding error. 2: user-kNN lists, recent-basket counts and 31 ranker features.
pub const RECOMMENDER_LAYOUT: u32 = 2;

/// Refuses a recommender whose stored layout (`None`: written before the layout was
/// recorded, i.e. layout 1) is not the one this build reads.
fn check_recommender_layout(stored: Option<u32>) -> Result<(), BundleError> {
    let layout = stored.unwrap_or(1);
    if layout == RECOMMENDER_LAYOUT {
        return Ok(());
    }
    Err(BundleError::Inconsistent {
        what: format!(
            "the recommender has layout {layout}, this build reads layout {RECOMMENDER_LAYOUT}"
        ),
    })
}

/// Name of the raw section holding the recommender snapshot's array `field`.
fn recommender_section(field: &str) -> String {
    format!("{RECOMMENDER}.{field}")
}

/// Decodes the recommender: its struct section, then each large array copied from its raw
/// section (no per-element decoding), then a consistency check of the whole snapshot.
fn recommender_from_bundle(bundle: &Bundle) -> Result<Recommender, BundleError> {
    let stored: Option<u32> = if bundle
        .section_names()
        .any(|n| n == RECOMMENDER_LAYOUT_SECTION)
    {
        Some(bundle.get_struct(RECOMMENDER_LAYOUT_SECTION)?)
    } else {
        None
    };
    check_recommender_layout(stored)?;
    let mut rec: Recommender = bundle.get_struct(RECOMMENDER)?;
    let arrays = rec.snapshot.large_arrays_mut();
    for (name, v) in arrays.u32s {
        *v = bundle.array_u32(&recommender_section(name))?.to_vec();
    }
    for (name, v) in arrays.i64s {
        *v = bundle.array_i64(&recommender_section(name))?.to_vec();
    }
    for (name, v) in arrays.f32s {
        *v = bundle.array_f32(&recommender_section(name))?.to_vec();
    }
    rec.snapshot
        .validate()
        .and_then(|()| rec.ranker.validate())
        .map_err(|what| BundleError::Inconsistent {
            what: format!("recommender: {what}"),
        })?;
    Ok(rec)
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn bundles_of_another_recommender_layout_are_refused_with_a_retrain_hint() {
        assert!(check_recommender_layout(Some(RECOMMENDER_LAYOUT)).is_ok());
        for stored in [None, Some(RECOMMENDER_LAYOUT + 1)] {
            let e = check_recommender_layout(stored).expect_err("refused");
            let text = e.to_string();
            assert!(text.contains("layout"), "{text}");
            assert!(text.contains("retrain"), "{text}");
        }
    }
}
