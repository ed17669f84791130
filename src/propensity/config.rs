//! Training configuration (`training/*.toml`): horizons, windows, populations and the GBDT
//! parameters of each model. Unknown keys are errors, so a typo never trains silently with
//! a default.

use super::error::{PropensityError, Result};
use crate::gbdt::{ObjectiveKind, Params};
use serde::{Deserialize, Serialize};

/// How raw GBDT probabilities are mapped to calibrated ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationKind {
    /// Pool-adjacent-violators isotonic regression on out-of-fold predictions.
    Isotonic,
    /// Platt scaling (logistic regression on the log-odds) on out-of-fold predictions.
    Platt,
    /// Use the GBDT probability as it is.
    None,
}

/// What the expected-purchases GBDT starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountBase {
    /// The GBDT predicts the count itself (Poisson from the mean).
    None,
    /// The GBDT predicts a multiplier of the BG/NBD expected purchases (a Poisson model
    /// with `log E_bgnbd` as offset): it only learns where the rhythm model is wrong.
    Bgnbd,
}

crate::documented! {
    /// Everything `fit` and `evaluate` need besides the data, cutoff and horizon.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct PropensityConfig {
        /// Churn / expected-purchases horizon in days when the command line gives none.
        pub horizon_days: u32,
        /// Horizons (days) of the repurchase curve P(purchase within d days).
        pub curve_days: Vec<u32>,
        /// A customer is in a snapshot's population after a purchase in this many days before it.
        pub active_days: u32,
        /// Most training snapshots (T−H, T−2H, …) per model.
        pub max_snapshots: usize,
        /// A snapshot needs at least this many days of data before it.
        pub min_history_days: u32,
        /// Spacing (days) of the churn/count training snapshots (`cutoff − H`, then back by this
        /// step); 0 means the horizon itself (`T − H`, `T − 2H`, …). A shorter step overlaps
        /// label windows but gives short histories more snapshots.
        pub snapshot_step_days: u32,
        /// Spacing (days) of the repurchase-curve snapshots, finer than H so long curve
        /// horizons still find label windows that end before the cutoff.
        pub curve_step_days: u32,
        /// Calibration of the churn and repurchase probabilities.
        pub calibration: CalibrationKind,
        /// Baseline the expected-purchases model corrects.
        pub count_base: CountBase,

        /// Folds of the out-of-fold predictions the calibrators are fitted on.
        pub folds: usize,
        /// Seed of every random draw (fold assignment, GBDT bagging).
        pub seed: u64,
        /// GBDT parameters of the churn model (binary objective).
        pub churn: Params,
        /// GBDT parameters of the expected-purchases model (Poisson objective).
        pub count: Params,
        /// GBDT parameters of the repurchase-curve model (binary, horizon as a feature).
        pub curve: Params,
    }
}

fn gbdt(objective: ObjectiveKind, iterations: usize) -> Params {
    Params {
        objective,
        num_iterations: iterations,
        learning_rate: 0.03,
        num_leaves: 4,
        min_data_in_leaf: 300,
        lambda_l2: 10.0,
        feature_fraction: 0.8,
        bagging_fraction: 0.8,
        bagging_freq: 1,
        ..Params::default()
    }
}

impl Default for PropensityConfig {
    fn default() -> Self {
        PropensityConfig {
            horizon_days: 28,
            curve_days: vec![7, 14, 30, 60, 90],
            active_days: 90,
            max_snapshots: 6,
            min_history_days: 28,
            snapshot_step_days: 0,
            curve_step_days: 28,
            calibration: CalibrationKind::Isotonic,
            count_base: CountBase::None,
            folds: 2,
            seed: 7,
            churn: gbdt(ObjectiveKind::Binary, 300),
            count: gbdt(ObjectiveKind::Poisson, 300),
            curve: Params {
                learning_rate: 0.1,
                num_leaves: 15,
                min_data_in_leaf: 200,
                lambda_l2: 1.0,
                ..gbdt(ObjectiveKind::Binary, 100)
            },
        }
    }
}

impl PropensityConfig {
    /// Parses and checks the keys of a `[propensity]` table given as TOML text (files are
    /// read whole by [`crate::config::TrainConfig`]).
    pub fn parse(text: &str) -> Result<Self> {
        let cfg: PropensityConfig =
            toml::from_str(text).map_err(|e| PropensityError::ConfigParse {
                path: "<text>".into(),
                message: e.to_string(),
            })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every range.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, value: String, reason| {
            Err(PropensityError::ConfigValue {
                field,
                value,
                reason,
            })
        };
        if self.horizon_days == 0 {
            return bad("horizon_days", "0".into(), "must be >= 1");
        }
        if self.curve_days.is_empty() || self.curve_days.contains(&0) {
            return bad(
                "curve_days",
                format!("{:?}", self.curve_days),
                "must list at least one horizon, each >= 1",
            );
        }
        if self.active_days == 0 {
            return bad("active_days", "0".into(), "must be >= 1");
        }
        if self.max_snapshots == 0 {
            return bad("max_snapshots", "0".into(), "must be >= 1");
        }
        if self.curve_step_days == 0 {
            return bad("curve_step_days", "0".into(), "must be >= 1");
        }
        if self.folds < 2 {
            return bad("folds", self.folds.to_string(), "must be >= 2");
        }
        for (field, p, want) in [
            ("churn.objective", &self.churn, ObjectiveKind::Binary),
            ("count.objective", &self.count, ObjectiveKind::Poisson),
            ("curve.objective", &self.curve, ObjectiveKind::Binary),
        ] {
            if p.objective != want {
                return bad(field, format!("{:?}", p.objective), "is fixed by the model");
            }
            p.validate().map_err(|source| PropensityError::Gbdt {
                model: field,
                source,
            })?;
        }
        Ok(())
    }

    /// The curve horizons sorted and deduplicated, with `extra` added (e.g. the evaluated H).
    pub fn curve_horizons(&self, extra: Option<u32>) -> Vec<u32> {
        let mut d = self.curve_days.clone();
        d.extend(extra);
        d.sort_unstable();
        d.dedup();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let e = PropensityConfig::parse("active_dayz = 30\n").unwrap_err();
        assert!(e.to_string().contains("active_dayz"), "{e}");
        let e = PropensityConfig::parse("[churn]\nnum_leavs = 3\n").unwrap_err();
        assert!(e.to_string().contains("num_leavs"), "{e}");
    }

    #[test]
    fn partial_configs_keep_defaults_and_bad_values_are_refused() {
        let c = PropensityConfig::parse("active_days = 30\n[churn]\nnum_leaves = 7\n").unwrap();
        assert_eq!(c.active_days, 30);
        assert_eq!(c.churn.num_leaves, 7);
        assert_eq!(c.churn.objective, ObjectiveKind::Binary);
        assert_eq!(c.curve_days, PropensityConfig::default().curve_days);
        let e = PropensityConfig::parse("curve_days = []\n").unwrap_err();
        assert!(e.to_string().contains("curve_days"), "{e}");
        let e = PropensityConfig::parse("[count]\nobjective = \"binary\"\n").unwrap_err();
        assert!(e.to_string().contains("count.objective"), "{e}");
    }
}
