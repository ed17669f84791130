//! The trained model: trees, base score and the feature metadata needed to use it.

use super::binning::FeatureInfo;
use super::dataset::Dataset;
use super::error::GbdtError;
use super::forest::Forest;
use super::objective::ObjectiveKind;
use super::params::Params;
use super::train::{self, IterationReport};
use super::tree::Tree;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Version of the serialized [`Booster`]; any change to a serialized struct bumps it
/// (postcard is not self-describing).
pub const FORMAT_VERSION: u32 = 1;

/// A trained gradient-boosted ensemble.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    format_version: u32,
    objective: ObjectiveKind,
    base_score: f64,
    features: Vec<FeatureInfo>,
    trees: Vec<Tree>,
    best_iteration: Option<usize>,
    params: Params,
    /// Batch prediction's layout of `trees`, built on first use: it is derived data, so the
    /// serialized form (and every bundle written before it existed) is unchanged.
    #[serde(skip)]
    forest: ForestCache,
}

/// A lazily built [`Forest`]; never part of a model's identity.
#[derive(Clone, Default)]
struct ForestCache(OnceLock<Forest>);

impl PartialEq for ForestCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ForestCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForestCache")
    }
}

impl Booster {
    /// Trains on `train`, watching `valid` for metrics and early stopping.
    pub fn train(
        params: &Params,
        train: &Dataset,
        valid: Option<&Dataset>,
    ) -> Result<Self, GbdtError> {
        train::train(params, train, valid, &mut |_| {})
    }

    /// [`Booster::train`], calling `on_iteration` after every round (progress, logging).
    pub fn train_with_callback(
        params: &Params,
        train: &Dataset,
        valid: Option<&Dataset>,
        on_iteration: &mut (dyn FnMut(&IterationReport) + Send),
    ) -> Result<Self, GbdtError> {
        train::train(params, train, valid, on_iteration)
    }

    pub(crate) fn from_parts(
        params: &Params,
        base_score: f64,
        features: Vec<FeatureInfo>,
        trees: Vec<Tree>,
        best_iteration: Option<usize>,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            objective: params.objective,
            base_score,
            features,
            trees,
            best_iteration,
            // The thread count never changes the model, so it is not part of it: models
            // trained with different pools serialize to the same bytes.
            params: Params {
                threads: 0,
                ..params.clone()
            },
            forest: ForestCache::default(),
        }
    }

    /// Feature names in input column order.
    pub fn feature_names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// Feature names with their bin mappers.
    pub fn features(&self) -> &[FeatureInfo] {
        &self.features
    }

    /// Number of input features a row must have.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The trees, in boosting order.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The objective trained for.
    pub fn objective(&self) -> ObjectiveKind {
        self.objective
    }

    /// Constant raw score every prediction starts from.
    pub fn base_score(&self) -> f64 {
        self.base_score
    }

    /// Round kept by early stopping, if it stopped early.
    pub fn best_iteration(&self) -> Option<usize> {
        self.best_iteration
    }

    /// Parameters the model was trained with.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The flat layout batch prediction walks, built on first use.
    pub(crate) fn forest(&self) -> &Forest {
        self.forest
            .0
            .get_or_init(|| Forest::new(&self.features, &self.trees))
    }

    /// Format version this model was written with.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    /// Checks the internal consistency of a deserialized model (version, tree references),
    /// so a bad file is refused at load time instead of misbehaving at predict time.
    pub fn validate(&self) -> Result<(), String> {
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "model format version {} (supported: {FORMAT_VERSION})",
                self.format_version
            ));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(self.features.len())
                .map_err(|e| format!("tree {i}: {e}"))?;
        }
        Ok(())
    }
}
