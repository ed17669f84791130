//! Buy-again statistics: for one customer and snapshot time `t`, what each item they bought
//! before `t` says about buying it again.
//!
//! Purchases on the same calendar day (UTC) count as one occasion for gaps, so a basket with
//! three packs of milk is not a 0-day cycle. The usual gap of an item is the mean gap between
//! its distinct purchase days, `(last_day − first_day) / (distinct_days − 1)`.
//!
//! - `score = Σ_purchases 0.5^(age_days / half_life_days)`: frequency with recency decay.
//! - `cycle_due = days since last purchase / usual gap`: near 1 when the item is due again,
//!   above 1 when overdue; absent with fewer than two distinct days.

use super::Error;
use super::topk::{Scored, best_first};
use crate::time::DAY;

/// Buy-again parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuyAgainParams {
    /// Half-life of a purchase's weight in the score, in days.
    pub half_life_days: f64,
}

impl Default for BuyAgainParams {
    fn default() -> Self {
        BuyAgainParams {
            half_life_days: 30.0,
        }
    }
}

/// What one customer's history says about one item at the snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct BuyAgainStats {
    /// Dense item index.
    pub item: u32,
    /// Purchase events (lines) of the item before the snapshot.
    pub count: u32,
    /// Distinct calendar days (UTC) with a purchase of the item.
    pub distinct_days: u32,
    /// First purchase time (seconds since the epoch).
    pub first_ts: i64,
    /// Last purchase time (seconds since the epoch).
    pub last_ts: i64,
    /// Mean gap between distinct purchase days; `None` with a single day.
    pub mean_gap_days: Option<f64>,
    /// Days from the last purchase to the snapshot.
    pub days_since_last: f64,
    /// Recency-decayed purchase frequency.
    pub score: f64,
    /// `days_since_last / mean_gap_days`; `None` with a single day.
    pub cycle_due: Option<f64>,
}

/// Statistics of every item in one customer's `purchases` (`(item, ts)`, sorted by time)
/// strictly before `t`, ordered by item index.
pub fn buy_again_stats(
    purchases: &[(u32, i64)],
    t: i64,
    params: &BuyAgainParams,
) -> Result<Vec<BuyAgainStats>, Error> {
    if !(params.half_life_days.is_finite() && params.half_life_days > 0.0) {
        return Err(Error::BadParam {
            name: "half_life_days",
            value: params.half_life_days,
            reason: "must be finite and > 0",
        });
    }
    for (index, w) in purchases.windows(2).enumerate() {
        if w[1].1 < w[0].1 {
            return Err(Error::UnsortedTime {
                index: index + 1,
                ts: w[1].1,
                previous: w[0].1,
            });
        }
    }
    let before = purchases.partition_point(|&(_, ts)| ts < t);
    // Group by item keeping time order inside each group (stable sort).
    let mut by_item: Vec<(u32, i64)> = purchases[..before].to_vec();
    by_item.sort_by_key(|&(item, _)| item);
    let mut out = Vec::new();
    for group in by_item.chunk_by(|a, b| a.0 == b.0) {
        let (item, first_ts) = group[0];
        let last_ts = group[group.len() - 1].1;
        let mut distinct_days = 0u32;
        let mut previous_day = None;
        let mut score = 0f64;
        for &(_, ts) in group {
            let day = ts.div_euclid(DAY);
            if previous_day != Some(day) {
                distinct_days += 1;
                previous_day = Some(day);
            }
            score += 0.5f64.powf((t - ts) as f64 / DAY as f64 / params.half_life_days);
        }
        let span_days = (last_ts.div_euclid(DAY) - first_ts.div_euclid(DAY)) as f64;
        let mean_gap_days = (distinct_days > 1).then(|| span_days / (distinct_days - 1) as f64);
        let days_since_last = (t - last_ts) as f64 / DAY as f64;
        out.push(BuyAgainStats {
            item,
            count: group.len() as u32,
            distinct_days,
            first_ts,
            last_ts,
            mean_gap_days,
            days_since_last,
            score,
            cycle_due: mean_gap_days.map(|g| days_since_last / g),
        });
    }
    Ok(out)
}

/// The `k` items with the highest buy-again score.
pub fn top_buy_again(stats: &[BuyAgainStats], k: usize) -> Vec<Scored> {
    let mut all: Vec<Scored> = stats
        .iter()
        .map(|s| Scored {
            item: s.item,
            score: s.score as f32,
        })
        .collect();
    all.sort_by(best_first);
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_made_history() {
        let d = |day: i64, hour: i64| day * DAY + hour * 3600;
        let t = d(100, 0);
        let history = [
            (7, d(60, 9)),
            (3, d(70, 10)),
            (7, d(70, 11)),
            (7, d(70, 18)), // same day again: a line, not an occasion
            (7, d(80, 9)),
            (3, d(99, 12)),
            (7, d(100, 0)), // at the snapshot: excluded
            (5, d(101, 0)), // after: excluded
        ];
        let s = buy_again_stats(
            &history,
            t,
            &BuyAgainParams {
                half_life_days: 10.0,
            },
        )
        .unwrap();
        assert_eq!(s.iter().map(|x| x.item).collect::<Vec<_>>(), vec![3, 7]);
        let seven = &s[1];
        assert_eq!((seven.count, seven.distinct_days), (4, 3));
        assert_eq!((seven.first_ts, seven.last_ts), (d(60, 9), d(80, 9)));
        assert_eq!(seven.mean_gap_days, Some(10.0));
        let since = 20.0 - 9.0 / 24.0;
        assert!((seven.days_since_last - since).abs() < 1e-9);
        assert!((seven.cycle_due.unwrap() - since / 10.0).abs() < 1e-9);
        let want_score: f64 = [d(60, 9), d(70, 11), d(70, 18), d(80, 9)]
            .iter()
            .map(|&ts| 0.5f64.powf((t - ts) as f64 / DAY as f64 / 10.0))
            .sum();
        assert!((seven.score - want_score).abs() < 1e-12);
        let three = &s[0];
        assert_eq!(
            (three.count, three.distinct_days, three.mean_gap_days),
            (2, 2, Some(29.0))
        );
        // Item 3 was bought yesterday: recency beats item 7's older, more frequent purchases.
        assert_eq!(top_buy_again(&s, 1)[0].item, 3);
    }

    #[test]
    fn single_day_has_no_gap_and_unsorted_input_is_an_error() {
        let s = buy_again_stats(&[(1, 5 * DAY)], 6 * DAY, &BuyAgainParams::default()).unwrap();
        assert_eq!((s[0].mean_gap_days, s[0].cycle_due), (None, None));
        assert!(matches!(
            buy_again_stats(&[(1, 5), (2, 3)], 10, &BuyAgainParams::default()),
            Err(Error::UnsortedTime {
                index: 1,
                ts: 3,
                previous: 5
            })
        ));
    }
}
