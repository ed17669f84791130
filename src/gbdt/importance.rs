//! Feature importance: how often, and with how much gain, each feature is split on.

use super::booster::Booster;
use serde::{Deserialize, Serialize};

/// Which importance to report (LightGBM `importance_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportanceKind {
    /// Number of splits on the feature.
    Split,
    /// Total gain of the splits on the feature.
    Gain,
}

impl Booster {
    /// Importance per feature, in feature order.
    pub fn feature_importance(&self, kind: ImportanceKind) -> Vec<f64> {
        let mut out = vec![0.0; self.n_features()];
        for t in self.trees() {
            for (n, &g) in t.nodes().iter().zip(t.node_gains()) {
                if let Some(o) = out.get_mut(n.feature as usize) {
                    *o += match kind {
                        ImportanceKind::Split => 1.0,
                        ImportanceKind::Gain => g,
                    };
                }
            }
        }
        out
    }
}
