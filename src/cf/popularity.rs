//! Popularity: how many distinct customers bought each item in a recent window, overall and
//! per category, for cold start and for filling short candidate lists.
//!
//! Only events with `end − window ≤ ts < end` count (point-in-time: nothing at or after the
//! snapshot `end` leaks in). A customer counts once per item; with a half-life, that customer's
//! weight is `0.5^((end − last purchase) / half_life)`, so recent demand outranks old demand.

use super::Error;
use super::topk::{Scored, TopK};
use crate::time::DAY;
use rayon::prelude::*;

/// Popularity parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopularityParams {
    /// Length of the window before the snapshot, in days.
    pub window_days: u32,
    /// Half-life of a buyer's weight in days; `None` counts every buyer as 1.
    pub half_life_days: Option<f64>,
}

impl Default for PopularityParams {
    fn default() -> Self {
        PopularityParams {
            window_days: 28,
            half_life_days: None,
        }
    }
}

/// Purchase events as parallel columns: `customers[e]` bought `items[e]` at `timestamps[e]`.
#[derive(Clone, Copy, Debug)]
pub struct Purchases<'a> {
    /// Dense customer index of each event.
    pub customers: &'a [u32],
    /// Dense item index of each event.
    pub items: &'a [u32],
    /// Time of each event, seconds since the epoch.
    pub timestamps: &'a [i64],
}

/// Item popularity at one snapshot, with the items ranked overall and within each category.
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    scores: Vec<f32>,
    ranked: Vec<u32>,
    category_ptr: Vec<u32>,
    category_ranked: Vec<u32>,
}

impl Popularity {
    /// Counts distinct buyers per item from purchase events (any order) before `end_ts`.
    ///
    /// `item_category` gives each item's dense category index (one entry per item), or is
    /// empty when there are no categories.
    pub fn build(
        n_items: usize,
        purchases: Purchases<'_>,
        end_ts: i64,
        item_category: &[u32],
        params: &PopularityParams,
    ) -> Result<Self, Error> {
        let Purchases {
            customers,
            items,
            timestamps,
        } = purchases;
        for (name, len) in [("items", items.len()), ("timestamps", timestamps.len())] {
            if len != customers.len() {
                return Err(Error::LengthMismatch {
                    left: "customers",
                    left_len: customers.len(),
                    right: name,
                    right_len: len,
                });
            }
        }
        if let Some(h) = params.half_life_days
            && !(h.is_finite() && h > 0.0)
        {
            return Err(Error::BadParam {
                name: "half_life_days",
                value: h,
                reason: "must be finite and > 0",
            });
        }
        if !item_category.is_empty() && item_category.len() != n_items {
            return Err(Error::LengthMismatch {
                left: "item_category",
                left_len: item_category.len(),
                right: "items",
                right_len: n_items,
            });
        }
        let n_categories = item_category.iter().max().map_or(0, |&c| c as usize + 1);
        let start_ts = end_ts.saturating_sub(params.window_days as i64 * DAY);
        let mut recent: Vec<(u32, u32, i64)> = Vec::new();
        for e in 0..customers.len() {
            let ts = timestamps[e];
            if ts >= start_ts && ts < end_ts {
                if items[e] as usize >= n_items {
                    return Err(Error::ItemOutOfRange {
                        row: e,
                        item: items[e],
                        n_items,
                    });
                }
                recent.push((items[e], customers[e], ts));
            }
        }
        // Sorting by (item, customer, ts) puts each customer's last purchase of an item last.
        recent.par_sort_unstable();
        let mut scores = vec![0f32; n_items];
        let mut i = 0;
        while i < recent.len() {
            let (item, customer, _) = recent[i];
            while i + 1 < recent.len() && recent[i + 1].0 == item && recent[i + 1].1 == customer {
                i += 1;
            }
            let last_ts = recent[i].2;
            scores[item as usize] += match params.half_life_days {
                None => 1.0,
                Some(h) => 0.5f64.powf((end_ts - last_ts) as f64 / DAY as f64 / h) as f32,
            };
            i += 1;
        }
        let mut ranked: Vec<u32> = (0..n_items as u32)
            .filter(|&i| scores[i as usize] > 0.0)
            .collect();
        ranked.sort_by(|&a, &b| {
            scores[b as usize]
                .total_cmp(&scores[a as usize])
                .then(a.cmp(&b))
        });
        // Categories: a stable counting sort of the ranked list keeps each category's ranking.
        let mut category_ptr = vec![0u32; n_categories + 1];
        let mut category_ranked = vec![0u32; if n_categories > 0 { ranked.len() } else { 0 }];
        if n_categories > 0 {
            for &i in &ranked {
                category_ptr[item_category[i as usize] as usize + 1] += 1;
            }
            for c in 0..n_categories {
                category_ptr[c + 1] += category_ptr[c];
            }
            let mut next = category_ptr.clone();
            for &i in &ranked {
                let c = item_category[i as usize] as usize;
                category_ranked[next[c] as usize] = i;
                next[c] += 1;
            }
        }
        Ok(Popularity {
            scores,
            ranked,
            category_ptr,
            category_ranked,
        })
    }

    /// Popularity score of every item (distinct buyers, decayed if configured).
    pub fn scores(&self) -> &[f32] {
        &self.scores
    }

    /// Most popular `k` items not in `exclude`.
    pub fn top(&self, k: usize, exclude: &[u32]) -> Vec<Scored> {
        self.take(&self.ranked, k, exclude)
    }

    /// Most popular `k` items of one category not in `exclude` (empty for an unknown category).
    pub fn top_in_category(&self, category: u32, k: usize, exclude: &[u32]) -> Vec<Scored> {
        let c = category as usize;
        if c + 1 >= self.category_ptr.len() {
            return Vec::new();
        }
        let list =
            &self.category_ranked[self.category_ptr[c] as usize..self.category_ptr[c + 1] as usize];
        self.take(list, k, exclude)
    }

    fn take(&self, list: &[u32], k: usize, exclude: &[u32]) -> Vec<Scored> {
        let mut top = TopK::new(k);
        for &item in list.iter().filter(|i| !exclude.contains(i)).take(k) {
            top.push(item, self.scores[item as usize]);
        }
        top.into_sorted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_000 * DAY;

    #[test]
    fn counts_distinct_buyers_inside_the_window_only() {
        // (customer, item, ts)
        let events = [
            (1, 0, T - DAY),
            (1, 0, T - 2 * DAY), // same buyer again: still 1
            (2, 0, T - 3 * DAY),
            (3, 1, T - DAY),
            (4, 1, T),            // at the snapshot: leak, must not count
            (5, 1, T + 5 * DAY),  // after: must not count
            (6, 2, T - 40 * DAY), // before the 28-day window
            (7, 2, T - 28 * DAY), // exactly at the window start: counts
        ];
        let (c, i, t): (Vec<u32>, Vec<u32>, Vec<i64>) =
            events.iter().fold((vec![], vec![], vec![]), |mut acc, e| {
                acc.0.push(e.0);
                acc.1.push(e.1);
                acc.2.push(e.2);
                acc
            });
        let ev = Purchases {
            customers: &c,
            items: &i,
            timestamps: &t,
        };
        let p = Popularity::build(4, ev, T, &[0, 1, 0, 1], &PopularityParams::default()).unwrap();
        assert_eq!(p.scores(), &[2.0, 1.0, 1.0, 0.0]);
        assert_eq!(
            p.top(10, &[]),
            vec![
                Scored {
                    item: 0,
                    score: 2.0
                },
                Scored {
                    item: 1,
                    score: 1.0
                },
                Scored {
                    item: 2,
                    score: 1.0
                }
            ]
        );
        assert_eq!(
            p.top(1, &[0]),
            vec![Scored {
                item: 1,
                score: 1.0
            }]
        );
        assert_eq!(
            p.top_in_category(0, 5, &[])
                .iter()
                .map(|s| s.item)
                .collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert_eq!(
            p.top_in_category(1, 5, &[])
                .iter()
                .map(|s| s.item)
                .collect::<Vec<_>>(),
            vec![1]
        );
        assert!(p.top_in_category(9, 5, &[]).is_empty());
    }

    #[test]
    fn half_life_weights_each_buyer_by_their_last_purchase() {
        let ev = Purchases {
            customers: &[1, 1, 2],
            items: &[0, 0, 1],
            timestamps: &[T - 10 * DAY, T - 5 * DAY, T - 10 * DAY],
        };
        let p = Popularity::build(
            2,
            ev,
            T,
            &[],
            &PopularityParams {
                window_days: 30,
                half_life_days: Some(5.0),
            },
        )
        .unwrap();
        assert!(
            (p.scores()[0] - 0.5).abs() < 1e-6 && (p.scores()[1] - 0.25).abs() < 1e-6,
            "{:?}",
            p.scores()
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let d = PopularityParams::default();
        let ev = |customers, items, timestamps| Purchases {
            customers,
            items,
            timestamps,
        };
        assert!(matches!(
            Popularity::build(2, ev(&[1], &[5], &[T - 1]), T, &[], &d),
            Err(Error::ItemOutOfRange { .. })
        ));
        assert!(matches!(
            Popularity::build(2, ev(&[1, 2], &[0], &[T - 1]), T, &[], &d),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            Popularity::build(2, ev(&[], &[], &[]), T, &[0], &d),
            Err(Error::LengthMismatch { .. })
        ));
    }
}
