//! Training parameters, declared once, with LightGBM's names and defaults.

use super::error::GbdtError;
use super::objective::ObjectiveKind;
use serde::{Deserialize, Serialize};

crate::documented! {
    /// All knobs of a training run; field names follow LightGBM's parameters.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct Params {
        /// Loss to minimise: binary, regression, poisson or lambdarank (lambdarank needs
        /// query groups, e.g. `gbdt train --query COLUMN`).
        pub objective: ObjectiveKind,
        /// Boosting rounds (trees).
        pub num_iterations: usize,
        /// Shrinkage applied to every leaf value.
        pub learning_rate: f64,
        /// Maximum leaves per tree (leaf-wise growth stops there).
        pub num_leaves: usize,
        /// Maximum tree depth; unset is unlimited (LightGBM's -1).
        pub max_depth: Option<usize>,
        /// Minimum rows in a leaf.
        pub min_data_in_leaf: usize,
        /// Minimum sum of hessians in a leaf.
        pub min_sum_hessian_in_leaf: f64,
        /// L2 penalty on leaf values.
        pub lambda_l2: f64,
        /// Minimum gain for a split to be made.
        pub min_gain_to_split: f64,
        /// Maximum bins per feature, the missing-value bin included (2..=255).
        pub max_bin: usize,
        /// Rows sampled to find bin boundaries.
        pub bin_construct_sample_cnt: usize,
        /// Fraction of rows used per bagging round (1.0 = no bagging).
        pub bagging_fraction: f64,
        /// Re-draw the bag every this many rounds (0 = no bagging).
        pub bagging_freq: usize,
        /// Fraction of features considered per tree.
        pub feature_fraction: f64,
        /// Stop when the validation metric has not improved for this many rounds (0 = never).
        pub early_stopping_rounds: usize,
        /// Seed of every random draw (bagging, feature sampling, bin sampling).
        pub seed: u64,
        /// Threads of the local pool (0 = one per core).
        pub threads: usize,
        /// Smoothing added to hessians when ordering categories by gradient statistics.
        pub cat_smooth: f64,
        /// Extra L2 penalty for categorical splits.
        pub cat_l2: f64,
        /// Maximum categories on the left side of a categorical split.
        pub max_cat_threshold: usize,
        /// Minimum rows per side of a categorical split.
        pub min_data_per_group: usize,
        /// Categorical features with at most this many categories use one-vs-rest splits.
        pub max_cat_to_onehot: usize,
        /// Poisson only: added to the log-mean in the hessian to damp the first steps.
        pub poisson_max_delta_step: f64,
    }
}

impl Default for Params {
    fn default() -> Self {
        Self {
            objective: ObjectiveKind::Binary,
            num_iterations: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            min_data_in_leaf: 20,
            min_sum_hessian_in_leaf: 1e-3,
            lambda_l2: 0.0,
            min_gain_to_split: 0.0,
            max_bin: 255,
            bin_construct_sample_cnt: 200_000,
            bagging_fraction: 1.0,
            bagging_freq: 0,
            feature_fraction: 1.0,
            early_stopping_rounds: 0,
            seed: 0,
            threads: 0,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            max_cat_threshold: 32,
            min_data_per_group: 100,
            max_cat_to_onehot: 4,
            poisson_max_delta_step: 0.7,
        }
    }
}

/// `x >= 0`, false for NaN (so NaN parameters are refused).
fn non_negative(x: f64) -> bool {
    x >= 0.0
}

fn bad(name: &'static str, value: impl ToString, reason: &'static str) -> GbdtError {
    GbdtError::BadParam {
        name,
        value: value.to_string(),
        reason,
    }
}

impl Params {
    /// Checks every range (LightGBM's `check =` lines); call before training.
    pub fn validate(&self) -> Result<(), GbdtError> {
        if self.num_iterations == 0 {
            return Err(bad("num_iterations", self.num_iterations, "must be >= 1"));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(bad("learning_rate", self.learning_rate, "must be > 0"));
        }
        if !(2..=131_072).contains(&self.num_leaves) {
            return Err(bad("num_leaves", self.num_leaves, "must be in 2..=131072"));
        }
        if self.max_depth == Some(0) {
            return Err(bad("max_depth", 0, "must be >= 1 (or unlimited)"));
        }
        if !non_negative(self.min_sum_hessian_in_leaf) {
            return Err(bad(
                "min_sum_hessian_in_leaf",
                self.min_sum_hessian_in_leaf,
                "must be >= 0",
            ));
        }
        if !(self.lambda_l2 >= 0.0 && self.lambda_l2.is_finite()) {
            return Err(bad("lambda_l2", self.lambda_l2, "must be >= 0"));
        }
        if !non_negative(self.min_gain_to_split) {
            return Err(bad(
                "min_gain_to_split",
                self.min_gain_to_split,
                "must be >= 0",
            ));
        }
        if !(2..=255).contains(&self.max_bin) {
            return Err(bad(
                "max_bin",
                self.max_bin,
                "must be in 2..=255 (u8 bin codes)",
            ));
        }
        if self.bin_construct_sample_cnt == 0 {
            return Err(bad("bin_construct_sample_cnt", 0, "must be >= 1"));
        }
        if !(self.bagging_fraction > 0.0 && self.bagging_fraction <= 1.0) {
            return Err(bad(
                "bagging_fraction",
                self.bagging_fraction,
                "must be in (0, 1]",
            ));
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return Err(bad(
                "feature_fraction",
                self.feature_fraction,
                "must be in (0, 1]",
            ));
        }
        if !non_negative(self.cat_smooth) {
            return Err(bad("cat_smooth", self.cat_smooth, "must be >= 0"));
        }
        if !non_negative(self.cat_l2) {
            return Err(bad("cat_l2", self.cat_l2, "must be >= 0"));
        }
        if self.max_cat_threshold == 0 {
            return Err(bad("max_cat_threshold", 0, "must be >= 1"));
        }
        if !non_negative(self.poisson_max_delta_step) {
            return Err(bad(
                "poisson_max_delta_step",
                self.poisson_max_delta_step,
                "must be >= 0",
            ));
        }
        Ok(())
    }

    /// Whether this round draws a fresh bag of rows.
    pub(crate) fn bagging(&self) -> bool {
        self.bagging_freq > 0 && self.bagging_fraction < 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_lightgbm_and_valid() {
        let p = Params::default();
        assert_eq!(p.num_leaves, 31);
        assert_eq!(p.learning_rate, 0.1);
        assert_eq!(p.min_data_in_leaf, 20);
        assert_eq!(p.min_sum_hessian_in_leaf, 1e-3);
        assert_eq!(p.max_bin, 255);
        assert_eq!(p.lambda_l2, 0.0);
        p.validate().expect("defaults validate");
    }

    #[test]
    fn out_of_range_values_are_named() {
        let cases: Vec<(Params, &str)> = vec![
            (
                Params {
                    num_leaves: 1,
                    ..Params::default()
                },
                "num_leaves",
            ),
            (
                Params {
                    learning_rate: 0.0,
                    ..Params::default()
                },
                "learning_rate",
            ),
            (
                Params {
                    max_bin: 256,
                    ..Params::default()
                },
                "max_bin",
            ),
            (
                Params {
                    bagging_fraction: 0.0,
                    ..Params::default()
                },
                "bagging_fraction",
            ),
            (
                Params {
                    feature_fraction: 1.5,
                    ..Params::default()
                },
                "feature_fraction",
            ),
            (
                Params {
                    lambda_l2: f64::NAN,
                    ..Params::default()
                },
                "lambda_l2",
            ),
            (
                Params {
                    max_depth: Some(0),
                    ..Params::default()
                },
                "max_depth",
            ),
            (
                Params {
                    num_iterations: 0,
                    ..Params::default()
                },
                "num_iterations",
            ),
        ];
        for (p, name) in cases {
            match p.validate() {
                Err(GbdtError::BadParam { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: expected BadParam, got {other:?}"),
            }
        }
    }
}
