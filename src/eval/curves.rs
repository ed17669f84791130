//! Curves and tables behind the evaluation charts: ROC points, calibration bins and the
//! decile lift / cumulative gain table. Labels > 0.5 are positives, as in [`super::metrics`].
//!
//! Ties between scores are never broken by row order: a group of tied rows straddling a
//! decile boundary is split proportionally (fractional rows and positives), so the figures do
//! not depend on how the caller happened to order its rows.

use serde::Serialize;

/// One point of a ROC curve: the rates reached when every row scoring at least `threshold`
/// is called positive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RocPoint {
    /// False-positive rate.
    pub fpr: f64,
    /// True-positive rate.
    pub tpr: f64,
    /// Score threshold (`+inf` for the starting point).
    pub threshold: f64,
}

/// Rows and positives of each distinct score, highest score first.
fn tie_groups(scores: &[f64], labels: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = scores.len().min(labels.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups: Vec<(f64, f64, f64)> = Vec::new();
    for r in order {
        let pos = f64::from(labels[r] > 0.5);
        match groups.last_mut() {
            Some(g) if g.0 == scores[r] => {
                g.1 += 1.0;
                g.2 += pos;
            }
            _ => groups.push((scores[r], 1.0, pos)),
        }
    }
    groups
}

/// ROC curve from `(0, 0)` to `(1, 1)`, one point per distinct score (ties move both rates
/// at once, the diagonal segment whose area is the tie half of [`super::metrics::auc`]).
/// Empty when either class is missing.
pub fn roc_points(scores: &[f64], labels: &[f64]) -> Vec<RocPoint> {
    let groups = tie_groups(scores, labels);
    let pos: f64 = groups.iter().map(|g| g.2).sum();
    let neg: f64 = groups.iter().map(|g| g.1 - g.2).sum();
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let mut points = vec![RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    }];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (score, n, p) in groups {
        tp += p;
        fp += n - p;
        points.push(RocPoint {
            fpr: fp / neg,
            tpr: tp / pos,
            threshold: score,
        });
    }
    points
}

/// Area under a ROC curve by the trapezoid rule (equals [`super::metrics::auc`] on the
/// curve of [`roc_points`]).
pub fn roc_area(points: &[RocPoint]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
        .sum()
}

/// At most about `max_points` points of `points`, keeping the ends and every point at least
/// `1 / max_points` (in fpr + tpr) from the last kept one; the chart looks the same and the
/// HTML stays small.
pub fn thin_roc(points: &[RocPoint], max_points: usize) -> Vec<RocPoint> {
    let step = 2.0 / max_points.max(2) as f64;
    let mut out: Vec<RocPoint> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(q) => i + 1 == points.len() || (p.fpr - q.fpr) + (p.tpr - q.tpr) >= step,
        };
        if keep {
            out.push(*p);
        }
    }
    out
}

/// One bin of a calibration (reliability) curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// Lower edge of the predicted probability (inclusive).
    pub lo: f64,
    /// Upper edge (exclusive, inclusive for the last bin).
    pub hi: f64,
    /// Rows in the bin.
    pub n: usize,
    /// Mean predicted probability (NaN when empty).
    pub mean_predicted: f64,
    /// Share of positives (NaN when empty).
    pub observed: f64,
}

/// `n_bins` equal-width bins of predicted probability over [0, 1] (probabilities outside
/// are clamped; NaN predictions are left out), empty bins included.
pub fn calibration_bins(probs: &[f64], labels: &[f64], n_bins: usize) -> Vec<CalibrationBin> {
    let n_bins = n_bins.max(1);
    let mut sums = vec![(0usize, 0.0, 0.0); n_bins];
    for (&p, &y) in probs.iter().zip(labels) {
        if p.is_nan() {
            continue;
        }
        let p = p.clamp(0.0, 1.0);
        let b = ((p * n_bins as f64) as usize).min(n_bins - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += f64::from(y > 0.5);
    }
    sums.iter()
        .enumerate()
        .map(|(b, &(n, sp, sy))| CalibrationBin {
            lo: b as f64 / n_bins as f64,
            hi: (b + 1) as f64 / n_bins as f64,
            n,
            mean_predicted: if n > 0 { sp / n as f64 } else { f64::NAN },
            observed: if n > 0 { sy / n as f64 } else { f64::NAN },
        })
        .collect()
}

/// One row of a lift / cumulative gain table: the rows ranked `(k-1)/G .. k/G` by score,
/// highest first.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DecileRow {
    /// Group number, 1 = highest scores.
    pub decile: usize,
    /// Rows in the group (fractional when ties straddle a boundary).
    pub rows: f64,
    /// Positives in the group.
    pub positives: f64,
    /// Share of positives in the group.
    pub rate: f64,
    /// `rate / base rate`.
    pub lift: f64,
    /// Share of all positives in groups `1..=decile` (the cumulative gain).
    pub cum_gain: f64,
    /// Share of positives in groups `1..=decile` divided by the base rate.
    pub cum_lift: f64,
}

/// Positives among the `k` highest-scoring rows of `groups` (ties split proportionally).
fn positives_in_top(groups: &[(f64, f64, f64)], k: f64) -> f64 {
    let (mut taken, mut found) = (0.0, 0.0);
    for &(_, n, p) in groups {
        if taken >= k {
            break;
        }
        let part = (k - taken).min(n);
        found += p * part / n;
        taken += part;
    }
    found
}

/// Lift / cumulative gain table over `n_groups` equal groups of rows ranked by score
/// (deciles for 10). Empty without rows or without positives.
pub fn decile_table(scores: &[f64], labels: &[f64], n_groups: usize) -> Vec<DecileRow> {
    let groups = tie_groups(scores, labels);
    let n: f64 = groups.iter().map(|g| g.1).sum();
    let pos: f64 = groups.iter().map(|g| g.2).sum();
    if n == 0.0 || pos == 0.0 || n_groups == 0 {
        return Vec::new();
    }
    let base = pos / n;
    let g = n_groups as f64;
    let mut prev = 0.0;
    (1..=n_groups)
        .map(|k| {
            let upto = n * k as f64 / g;
            let cum = positives_in_top(&groups, upto);
            let rows = n / g;
            let positives = cum - prev;
            prev = cum;
            DecileRow {
                decile: k,
                rows,
                positives,
                rate: positives / rows,
                lift: positives / rows / base,
                cum_gain: cum / pos,
                cum_lift: cum / upto / base,
            }
        })
        .collect()
}

/// Lift in the top `fraction` of rows by score: the share of positives there divided by the
/// base rate (1 = no better than random; `1 / base rate` is the best possible when the
/// positives outnumber the top rows). NaN without rows, positives or a positive fraction.
pub fn lift_at(scores: &[f64], labels: &[f64], fraction: f64) -> f64 {
    let groups = tie_groups(scores, labels);
    let n: f64 = groups.iter().map(|g| g.1).sum();
    let pos: f64 = groups.iter().map(|g| g.2).sum();
    let k = n * fraction.clamp(0.0, 1.0);
    if pos == 0.0 || k <= 0.0 {
        return f64::NAN;
    }
    positives_in_top(&groups, k) / k / (pos / n)
}

/// Calibration of a repurchase curve at one horizon `d`: predicted P(purchase within d
/// days) against the share who did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HorizonCalibration {
    /// Horizon (days).
    pub days: u32,
    /// Customers measured.
    pub n: usize,
    /// Mean predicted probability.
    pub mean_predicted: f64,
    /// Share with an order within `days` days.
    pub observed: f64,
    /// Brier score of the predictions.
    pub brier: f64,
}

/// One [`HorizonCalibration`] per entry of `days`: `p_within[r][j]` is customer `r`'s
/// predicted P(order within `days[j]` days), `days_to_next[r]` the day of their first order
/// (`None`: none in the window, which must cover every horizon).
pub fn horizon_calibration(
    days: &[u32],
    p_within: &[Vec<f64>],
    days_to_next: &[Option<f64>],
) -> Vec<HorizonCalibration> {
    days.iter()
        .enumerate()
        .map(|(j, &d)| {
            let (mut p, mut y) = (Vec::new(), Vec::new());
            for (row, next) in p_within.iter().zip(days_to_next) {
                if let Some(&v) = row.get(j) {
                    p.push(v);
                    y.push(f64::from(next.is_some_and(|t| t < d as f64)));
                }
            }
            let n = p.len();
            HorizonCalibration {
                days: d,
                n,
                mean_predicted: p.iter().sum::<f64>() / n.max(1) as f64,
                observed: y.iter().sum::<f64>() / n.max(1) as f64,
                brier: super::metrics::brier(&p, &y, None),
            }
        })
        .collect()
}

/// Error of a predicted day against the actual one, for the customers whose actual day
/// falls in `[from_days, to_days)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DayErrorBucket {
    /// Start of the actual-day bucket (days, inclusive).
    pub from_days: f64,
    /// End of the bucket (days, exclusive).
    pub to_days: f64,
    /// Customers in the bucket.
    pub n: usize,
    /// Mean absolute error (days).
    pub mae_days: f64,
    /// Mean predicted day.
    pub mean_predicted: f64,
    /// Mean actual day.
    pub mean_actual: f64,
}

/// Errors of `predicted` against `actual` days grouped by actual day into buckets of
/// `bucket_days` up to `max_days` (the last bucket is shorter when it does not divide).
pub fn day_error_buckets(
    predicted: &[f64],
    actual: &[f64],
    bucket_days: f64,
    max_days: f64,
) -> Vec<DayErrorBucket> {
    if !(bucket_days > 0.0 && max_days > 0.0) {
        return Vec::new();
    }
    let n_buckets = (max_days / bucket_days).ceil() as usize;
    let mut sums = vec![(0usize, 0.0, 0.0, 0.0); n_buckets];
    for (&p, &a) in predicted.iter().zip(actual) {
        if !(p.is_finite() && a.is_finite()) || a < 0.0 || a >= max_days {
            continue;
        }
        let b = ((a / bucket_days) as usize).min(n_buckets - 1);
        sums[b].0 += 1;
        sums[b].1 += (p - a).abs();
        sums[b].2 += p;
        sums[b].3 += a;
    }
    sums.iter()
        .enumerate()
        .map(|(b, &(n, e, p, a))| {
            let m = |v: f64| if n > 0 { v / n as f64 } else { f64::NAN };
            DayErrorBucket {
                from_days: b as f64 * bucket_days,
                to_days: ((b + 1) as f64 * bucket_days).min(max_days),
                n,
                mae_days: m(e),
                mean_predicted: m(p),
                mean_actual: m(a),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::metrics::auc;
    use crate::rng::Rng;

    #[test]
    fn perfect_ranking_has_lift_one_over_base_rate_at_ten_percent() {
        // 100 rows, 20 positives scored highest: the top 10 are all positives.
        let labels: Vec<f64> = (0..100).map(|i| f64::from(i < 20)).collect();
        let scores: Vec<f64> = (0..100).map(|i| 100.0 - i as f64).collect();
        assert!((lift_at(&scores, &labels, 0.1) - 5.0).abs() < 1e-12);
        let t = decile_table(&scores, &labels, 10);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0].positives, 10.0);
        assert_eq!(t[1].positives, 10.0);
        assert_eq!(t[2].positives, 0.0);
        assert!((t[0].cum_gain - 0.5).abs() < 1e-12);
        assert!((t[1].cum_gain - 1.0).abs() < 1e-12);
        assert!((t[9].cum_gain - 1.0).abs() < 1e-12);
        assert!((t[0].lift - 5.0).abs() < 1e-12);
        assert!((t[1].cum_lift - 5.0).abs() < 1e-12);
        assert!((t[9].cum_lift - 1.0).abs() < 1e-12);
        // Reversed scores catch nobody in the top decile.
        let rev: Vec<f64> = scores.iter().map(|s| -s).collect();
        assert_eq!(lift_at(&rev, &labels, 0.1), 0.0);
    }

    #[test]
    fn tied_scores_split_across_deciles_proportionally() {
        // Every score tied: each decile holds a tenth of the positives, lift exactly 1.
        let labels: Vec<f64> = (0..50).map(|i| f64::from(i % 5 == 0)).collect();
        let scores = vec![0.3; 50];
        assert!((lift_at(&scores, &labels, 0.1) - 1.0).abs() < 1e-12);
        for row in decile_table(&scores, &labels, 10) {
            assert!((row.positives - 1.0).abs() < 1e-12, "{row:?}");
            assert!((row.lift - 1.0).abs() < 1e-12);
        }
        // Hand-computed: scores 3,2,2,1 with labels 1,1,0,0; the top half takes the 3 and
        // half of the tied 2s, i.e. 1 + 0.5 positives of 2 rows.
        let t = decile_table(&[3.0, 2.0, 2.0, 1.0], &[1.0, 1.0, 0.0, 0.0], 2);
        assert!((t[0].positives - 1.5).abs() < 1e-12);
        assert!((t[0].rate - 0.75).abs() < 1e-12);
        assert!((t[0].lift - 1.5).abs() < 1e-12);
        assert!((t[1].positives - 0.5).abs() < 1e-12);
    }

    #[test]
    fn undefined_inputs_give_empty_tables_and_nan() {
        assert!(decile_table(&[], &[], 10).is_empty());
        assert!(decile_table(&[0.1, 0.2], &[0.0, 0.0], 10).is_empty());
        assert!(lift_at(&[0.1, 0.2], &[0.0, 0.0], 0.1).is_nan());
        assert!(roc_points(&[0.1, 0.2], &[1.0, 1.0]).is_empty());
    }

    #[test]
    fn roc_area_equals_auc_and_ends_at_one() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.1, 0.9];
        let y = [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let pts = roc_points(&s, &y);
        assert_eq!(pts.len(), 6); // the start plus 5 distinct scores
        assert_eq!((pts[0].fpr, pts[0].tpr), (0.0, 0.0));
        let last = pts[pts.len() - 1];
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        assert!((roc_area(&pts) - auc(&s, &y, None)).abs() < 1e-12);
        // Hand-computed second point: score 0.9 is one positive of 5.
        assert_eq!((pts[1].fpr, pts[1].tpr, pts[1].threshold), (0.0, 0.2, 0.9));
    }

    #[test]
    fn roc_of_a_random_score_stays_near_the_diagonal() {
        let mut rng = Rng::new(11);
        let n = 20_000;
        let labels: Vec<f64> = (0..n).map(|_| f64::from(rng.bernoulli(0.3))).collect();
        let scores: Vec<f64> = (0..n).map(|_| rng.uniform()).collect();
        let pts = roc_points(&scores, &labels);
        let worst = pts
            .iter()
            .map(|p| (p.tpr - p.fpr).abs())
            .fold(0.0, f64::max);
        assert!(worst < 0.03, "max distance from the diagonal {worst}");
        assert!((lift_at(&scores, &labels, 0.1) - 1.0).abs() < 0.1);
        let thin = thin_roc(&pts, 100);
        assert!(thin.len() <= 202 && thin.len() >= 50, "{}", thin.len());
        assert_eq!(thin.last(), pts.last());
        assert!((roc_area(&thin) - roc_area(&pts)).abs() < 0.01);
    }

    #[test]
    fn calibration_bins_count_and_average_by_bin() {
        let p = [0.05, 0.15, 0.12, 0.95, 1.0, f64::NAN];
        let y = [0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let b = calibration_bins(&p, &y, 10);
        assert_eq!(b.len(), 10);
        assert_eq!((b[0].n, b[0].observed), (1, 0.0));
        assert_eq!(b[1].n, 2);
        assert!((b[1].mean_predicted - 0.135).abs() < 1e-12);
        assert_eq!(b[1].observed, 0.5);
        assert_eq!(b[9].n, 2); // 1.0 falls into the last bin
        assert!(b[5].mean_predicted.is_nan());
        assert_eq!(b.iter().map(|b| b.n).sum::<usize>(), 5);
    }

    #[test]
    fn horizon_calibration_counts_orders_strictly_inside_the_horizon() {
        // Two horizons, three customers: first order on day 3, on day 7, never.
        let p = vec![vec![0.5, 0.9], vec![0.2, 0.6], vec![0.1, 0.2]];
        let next = [Some(3.0), Some(7.0), None];
        let h = horizon_calibration(&[7, 14], &p, &next);
        assert_eq!((h[0].days, h[0].n), (7, 3));
        assert!((h[0].observed - 1.0 / 3.0).abs() < 1e-12); // day 7 is not within 7 days
        assert!((h[1].observed - 2.0 / 3.0).abs() < 1e-12);
        assert!((h[0].mean_predicted - 0.8 / 3.0).abs() < 1e-12);
        let want = (0.25 + 0.04 + 0.01) / 3.0;
        assert!((h[0].brier - want).abs() < 1e-12);
    }

    #[test]
    fn day_errors_group_by_actual_day() {
        let b = day_error_buckets(&[2.0, 10.0, 20.0, 5.0], &[1.0, 4.0, 27.5, 40.0], 7.0, 28.0);
        assert_eq!(b.len(), 4);
        assert_eq!((b[0].n, b[0].mae_days), (2, 3.5)); // |2-1|, |10-4|
        assert_eq!(b[0].mean_actual, 2.5);
        assert_eq!(b[1].n, 0);
        assert!(b[1].mae_days.is_nan());
        assert_eq!((b[3].n, b[3].mae_days), (1, 7.5)); // 40 is past the window: left out
        assert_eq!(b[3].to_days, 28.0);
    }
}
