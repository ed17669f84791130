//! Ranking metrics broken down by customer group (RFM segment, history length), so a
//! recommender that only works for heavy buyers shows it.

use super::ranking::{RankingAccumulator, RankingMetrics};
use serde::Serialize;

/// History-length bucket of a customer with `baskets` baskets before the cutoff:
/// `0`, `1`, `2–3`, `4–9` or `10+`.
pub fn history_bucket(baskets: u32) -> &'static str {
    match baskets {
        0 => "0",
        1 => "1",
        2..=3 => "2–3",
        4..=9 => "4–9",
        _ => "10+",
    }
}

/// The buckets of [`history_bucket`], shortest history first.
pub const HISTORY_BUCKETS: [&str; 5] = ["0", "1", "2–3", "4–9", "10+"];

/// Mean metrics of one method over one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupMetrics {
    /// Recall at 10.
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    /// NDCG at 10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// Recall at 20.
    #[serde(rename = "recall@20")]
    pub recall_20: f64,
    /// Hit rate at 10.
    #[serde(rename = "hit@10")]
    pub hit_10: f64,
}

/// One group's customer count and each method's metrics (in the order of
/// [`GroupedRanking::methods`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupRow {
    /// Group name.
    pub group: String,
    /// Customers in the group.
    pub n_users: usize,
    /// Metrics per method.
    pub methods: Vec<GroupMetrics>,
}

/// Accumulates per-customer ranking metrics at 10 and 20 into fixed, ordered groups.
#[derive(Clone, Debug)]
pub struct GroupedRanking {
    /// Method names (columns).
    pub methods: Vec<String>,
    groups: Vec<String>,
    // [group][method] -> (at 10, at 20)
    acc: Vec<Vec<(RankingAccumulator, RankingAccumulator)>>,
}

impl GroupedRanking {
    /// Empty accumulator over `groups` (rows, in display order) and `methods` (columns).
    pub fn new(groups: &[&str], methods: &[&str]) -> Self {
        GroupedRanking {
            methods: methods.iter().map(|m| m.to_string()).collect(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            acc: vec![vec![Default::default(); methods.len()]; groups.len()],
        }
    }

    /// Adds one customer of group `group` (an index into the groups) with each method's
    /// metrics at 10 and at 20; out-of-range groups or extra methods are ignored.
    pub fn add(&mut self, group: usize, per_method: &[(RankingMetrics, RankingMetrics)]) {
        let Some(row) = self.acc.get_mut(group) else {
            return;
        };
        for (cell, (at10, at20)) in row.iter_mut().zip(per_method) {
            cell.0.add(*at10);
            cell.1.add(*at20);
        }
    }

    /// Groups with at least one customer, in the order given to [`GroupedRanking::new`].
    pub fn rows(&self) -> Vec<GroupRow> {
        self.groups
            .iter()
            .zip(&self.acc)
            .filter_map(|(name, cells)| {
                let n_users = cells.first().map_or(0, |c| c.0.count());
                (n_users > 0).then(|| GroupRow {
                    group: name.clone(),
                    n_users,
                    methods: cells
                        .iter()
                        .map(|(a, b)| {
                            let (a, b) = (a.mean(), b.mean());
                            GroupMetrics {
                                recall_10: a.recall,
                                ndcg_10: a.ndcg,
                                recall_20: b.recall,
                                hit_10: a.hit,
                            }
                        })
                        .collect(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::ranking::ranking_metrics_at_k;

    #[test]
    fn buckets_cover_every_history_length() {
        let got: Vec<&str> = [0, 1, 2, 3, 4, 9, 10, 500]
            .iter()
            .map(|&b| history_bucket(b))
            .collect();
        assert_eq!(got, ["0", "1", "2–3", "2–3", "4–9", "4–9", "10+", "10+"]);
        for b in 0..20 {
            assert!(HISTORY_BUCKETS.contains(&history_bucket(b)));
        }
    }

    #[test]
    fn groups_average_their_own_customers_only() {
        let mut g = GroupedRanking::new(&["a", "empty", "b"], &["m1", "m2"]);
        let hit = ranking_metrics_at_k(&[1], &[1], 10);
        let miss = ranking_metrics_at_k(&[2], &[1], 10);
        g.add(0, &[(hit, hit), (miss, hit)]);
        g.add(0, &[(miss, miss), (miss, hit)]);
        g.add(2, &[(hit, hit), (hit, hit)]);
        g.add(7, &[(hit, hit), (hit, hit)]); // unknown group: ignored
        let rows = g.rows();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].group.as_str(), rows[0].n_users), ("a", 2));
        assert_eq!(rows[0].methods[0].recall_10, 0.5);
        assert_eq!(rows[0].methods[1].recall_10, 0.0);
        assert_eq!(rows[0].methods[1].recall_20, 1.0);
        assert_eq!((rows[1].group.as_str(), rows[1].n_users), ("b", 1));
        assert_eq!(rows[1].methods[0].ndcg_10, 1.0);
    }
}
