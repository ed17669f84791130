//! The only home of the crate's metrics. Every function takes optional per-row weights
//! (`None` = all 1) and returns NaN when the metric is undefined (no rows, one class).

/// Weighted mean of `f(i)` over rows `0..n`.
fn weighted_mean(n: usize, weights: Option<&[f64]>, f: impl Fn(usize) -> f64) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..n {
        let w = weights.map_or(1.0, |w| w[i]);
        num += w * f(i);
        den += w;
    }
    if den > 0.0 { num / den } else { f64::NAN }
}

/// Area under the ROC curve: P(score of a positive > score of a negative), ties counting
/// one half (the Mann–Whitney statistic with average ranks). Labels > 0.5 are positives.
pub fn auc(scores: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    order.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut neg_below, mut area, mut pos_total) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        let (mut pos, mut neg) = (0.0, 0.0);
        while j < order.len() && scores[order[j]] == scores[order[i]] {
            let r = order[j];
            let w = weights.map_or(1.0, |w| w[r]);
            if labels[r] > 0.5 {
                pos += w
            } else {
                neg += w
            }
            j += 1;
        }
        area += pos * (neg_below + 0.5 * neg);
        neg_below += neg;
        pos_total += pos;
        i = j;
    }
    let denom = pos_total * neg_below;
    if denom > 0.0 { area / denom } else { f64::NAN }
}

/// Mean binary log loss `-[y ln p + (1-y) ln(1-p)]`, with `p` clamped to [1e-15, 1-1e-15].
pub fn logloss(probs: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    weighted_mean(probs.len().min(labels.len()), weights, |i| {
        let p = probs[i].clamp(1e-15, 1.0 - 1e-15);
        -(labels[i] * p.ln() + (1.0 - labels[i]) * (1.0 - p).ln())
    })
}

/// Mean squared error of probabilities, `(p - y)^2`.
pub fn brier(probs: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    weighted_mean(probs.len().min(labels.len()), weights, |i| {
        (probs[i] - labels[i]).powi(2)
    })
}

/// Root mean squared error.
pub fn rmse(preds: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    weighted_mean(preds.len().min(labels.len()), weights, |i| {
        (preds[i] - labels[i]).powi(2)
    })
    .sqrt()
}

/// Mean absolute error.
pub fn mae(preds: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    weighted_mean(preds.len().min(labels.len()), weights, |i| {
        (preds[i] - labels[i]).abs()
    })
}

/// Mean Poisson negative log-likelihood without the `ln y!` constant: `λ - y ln λ`
/// (LightGBM's `poisson` metric), for predicted rates `λ`.
pub fn poisson_nll(rates: &[f64], labels: &[f64], weights: Option<&[f64]>) -> f64 {
    weighted_mean(rates.len().min(labels.len()), weights, |i| {
        let r = rates[i].max(1e-15);
        r - labels[i] * r.ln()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// O(P·N) definition of AUC, the oracle for the sort-based one.
    fn auc_pairs(s: &[f64], y: &[f64], w: &[f64]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if y[i] > 0.5 && y[j] <= 0.5 {
                    let ww = w[i] * w[j];
                    den += ww;
                    num += ww
                        * if s[i] > s[j] {
                            1.0
                        } else if s[i] == s[j] {
                            0.5
                        } else {
                            0.0
                        };
                }
            }
        }
        num / den
    }

    #[test]
    fn auc_handles_ties_and_weights_like_the_pairwise_definition() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.1, 0.9];
        let y = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let w = [1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 0.25];
        assert!((auc(&s, &y, None) - auc_pairs(&s, &y, &[1.0; 8])).abs() < 1e-12);
        assert!((auc(&s, &y, Some(&w)) - auc_pairs(&s, &y, &w)).abs() < 1e-12);
        assert_eq!(auc(&[0.5, 0.5], &[0.0, 1.0], None), 0.5);
        assert_eq!(auc(&[0.2, 0.7], &[0.0, 1.0], None), 1.0);
        assert!(auc(&[0.2, 0.7], &[1.0, 1.0], None).is_nan());
    }

    #[test]
    fn pointwise_metrics_known_values() {
        let p = [0.8, 0.3];
        let y = [1.0, 0.0];
        let want = -(0.8f64.ln() + 0.7f64.ln()) / 2.0;
        assert!((logloss(&p, &y, None) - want).abs() < 1e-12);
        assert!((brier(&p, &y, None) - (0.04 + 0.09) / 2.0).abs() < 1e-12);
        assert!((rmse(&[1.0, 3.0], &[2.0, 5.0], None) - (2.5f64).sqrt()).abs() < 1e-12);
        assert!((mae(&[1.0, 3.0], &[2.0, 5.0], Some(&[3.0, 1.0])) - 1.25).abs() < 1e-12);
        assert!((poisson_nll(&[2.0], &[3.0], None) - (2.0 - 3.0 * 2f64.ln())).abs() < 1e-12);
        assert!(rmse(&[], &[], None).is_nan());
    }
}
