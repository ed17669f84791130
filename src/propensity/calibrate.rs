//! Probability calibration fitted on out-of-fold predictions: isotonic (pool adjacent
//! violators) or Platt scaling. Both maps are monotone non-decreasing into [0, 1], so a
//! calibrated curve that was monotone in the horizon stays monotone.

use super::config::CalibrationKind;
use serde::{Deserialize, Serialize};

/// A fitted map from a raw probability to a calibrated one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Calibrator {
    /// Raw probabilities are used as they are.
    Identity,
    /// Piecewise-linear through the isotonic block means: `(x, y)` knots, x increasing.
    Isotonic {
        /// Block centres (mean raw probability), strictly increasing.
        x: Vec<f64>,
        /// Calibrated probability at each knot, non-decreasing.
        y: Vec<f64>,
    },
    /// `sigmoid(a * logit(p) + b)`.
    Platt {
        /// Slope on the log-odds (kept >= 0 so the map stays monotone).
        a: f64,
        /// Intercept.
        b: f64,
    },
}

/// Probabilities are clamped this far from 0 and 1 so log-loss stays finite.
const EPS: f64 = 1e-6;

fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibrator {
    /// Fits the chosen calibrator on raw probabilities and 0/1 labels.
    pub fn fit(kind: CalibrationKind, raw: &[f64], labels: &[f64]) -> Calibrator {
        if raw.is_empty() || raw.len() != labels.len() {
            return Calibrator::Identity;
        }
        match kind {
            CalibrationKind::None => Calibrator::Identity,
            CalibrationKind::Isotonic => isotonic(raw, labels),
            CalibrationKind::Platt => platt(raw, labels),
        }
    }

    /// Calibrated probability of a raw one, in `[EPS, 1 - EPS]`.
    pub fn apply(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.5 } else { p };
        let out = match self {
            Calibrator::Identity => p,
            Calibrator::Platt { a, b } => sigmoid(a * logit(p) + b),
            Calibrator::Isotonic { x, y } => interpolate(x, y, p),
        };
        out.clamp(EPS, 1.0 - EPS)
    }
}

fn interpolate(x: &[f64], y: &[f64], p: f64) -> f64 {
    let (Some(&x0), Some(&xn)) = (x.first(), x.last()) else {
        return p;
    };
    if p <= x0 {
        return y[0];
    }
    if p >= xn {
        return y[y.len() - 1];
    }
    // First knot strictly above p; p lies in [x[i-1], x[i]).
    let i = x.partition_point(|&v| v <= p);
    let (xa, xb, ya, yb) = (x[i - 1], x[i], y[i - 1], y[i]);
    ya + (yb - ya) * (p - xa) / (xb - xa)
}

/// Pool adjacent violators on points sorted by raw probability; ties are pooled first so
/// the fit does not depend on their order.
fn isotonic(raw: &[f64], labels: &[f64]) -> Calibrator {
    let mut idx: Vec<usize> = (0..raw.len()).collect();
    idx.sort_by(|&a, &b| raw[a].total_cmp(&raw[b]).then(a.cmp(&b)));
    // Blocks of (sum x, sum y, count).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for &i in &idx {
        let (x, y) = (raw[i], labels[i]);
        match blocks.last_mut() {
            Some(b) if b.0 / b.2 == x => {
                b.0 += x;
                b.1 += y;
                b.2 += 1.0;
            }
            _ => blocks.push((x, y, 1.0)),
        }
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (prev, last) = (blocks[n - 2], blocks[n - 1]);
            if prev.1 / prev.2 < last.1 / last.2 {
                break;
            }
            blocks[n - 2] = (prev.0 + last.0, prev.1 + last.1, prev.2 + last.2);
            blocks.pop();
        }
    }
    // Small end blocks are often pure (all 0 or all 1); a 0 or 1 would cost unbounded log
    // loss on the next such row, so each block mean is shrunk towards the overall rate by
    // one pseudo-row, then the running maximum restores monotonicity.
    let rate = labels.iter().sum::<f64>() / labels.len() as f64;
    let x = blocks.iter().map(|b| b.0 / b.2).collect();
    let mut top = 0.0f64;
    let y = blocks
        .iter()
        .map(|b| {
            top = top.max((b.1 + rate) / (b.2 + 1.0));
            top
        })
        .collect();
    Calibrator::Isotonic { x, y }
}

/// Logistic regression of the label on logit(raw) by Newton's method (two parameters).
fn platt(raw: &[f64], labels: &[f64]) -> Calibrator {
    let z: Vec<f64> = raw.iter().map(|&p| logit(p)).collect();
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (zi, yi) in z.iter().zip(labels) {
            let p = sigmoid(a * zi + b);
            let w = (p * (1.0 - p)).max(1e-12);
            ga += (p - yi) * zi;
            gb += p - yi;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        // Tiny ridge keeps the 2×2 system solvable when every raw value is the same.
        haa += 1e-9;
        hbb += 1e-9;
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-18 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    Calibrator::Platt { a: a.max(0.0), b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Labels drawn with P(y=1) = p^2: raw p is monotone but miscalibrated.
    fn skewed(n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(3);
        let raw: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let y = raw
            .iter()
            .map(|&p| f64::from(rng.bernoulli(p * p)))
            .collect();
        (raw, y)
    }

    #[test]
    fn isotonic_is_monotone_in_unit_interval_and_recovers_the_true_curve() {
        let (raw, y) = skewed(20_000);
        let c = Calibrator::fit(CalibrationKind::Isotonic, &raw, &y);
        let mut prev = 0.0;
        for k in 0..=100 {
            let p = k as f64 / 100.0;
            let q = c.apply(p);
            assert!((0.0..=1.0).contains(&q));
            assert!(q >= prev - 1e-12, "not monotone at {p}: {q} < {prev}");
            prev = q;
        }
        assert!((c.apply(0.5) - 0.25).abs() < 0.05, "{}", c.apply(0.5));
        assert!((c.apply(0.9) - 0.81).abs() < 0.05, "{}", c.apply(0.9));
    }

    #[test]
    fn platt_is_monotone_and_improves_logloss() {
        let (raw, y) = skewed(20_000);
        let c = Calibrator::fit(CalibrationKind::Platt, &raw, &y);
        let cal: Vec<f64> = raw.iter().map(|&p| c.apply(p)).collect();
        let before = crate::eval::metrics::logloss(&raw, &y, None);
        let after = crate::eval::metrics::logloss(&cal, &y, None);
        assert!(after < before - 0.01, "{after} vs {before}");
        for w in [0.1, 0.3, 0.6, 0.9].windows(2) {
            assert!(c.apply(w[0]) < c.apply(w[1]));
        }
    }

    #[test]
    fn isotonic_pools_violators_into_their_mean() {
        let c = Calibrator::fit(
            CalibrationKind::Isotonic,
            &[0.1, 0.2, 0.3, 0.4],
            &[0.0, 1.0, 0.0, 1.0],
        );
        // 0.2 and 0.3 pool to 0.5; each block is shrunk by one pseudo-row at the rate 0.5.
        let Calibrator::Isotonic { y, .. } = &c else {
            panic!("isotonic expected")
        };
        assert_eq!(y, &vec![0.25, 0.5, 0.75]);
        assert!((c.apply(0.25) - 0.5).abs() < 1e-12);
        assert_eq!(
            Calibrator::fit(CalibrationKind::None, &[0.3], &[1.0]).apply(0.3),
            0.3
        );
    }
}
