//! Next-basket evaluation of the ranker and of every source alone, on one horizon.

use super::features::{Scratch, gather};
use super::recommender::customers_with_truth;
use super::{
    RankingError, RecommendConfig, RecommendRequest, Recommendation, Recommender, Snapshot,
};
use crate::cf::topk::TopK;
use crate::eval::ranking::{RankingAccumulator, RankingMetrics, ranking_metrics_at_k};
use crate::ingest::EventStore;
use crate::time::DAY;
use rayon::prelude::*;
use std::fmt;

/// Metrics of one ranking method.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReportRow {
    /// Method name (`ranker`, `popularity`, …).
    pub name: String,
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

/// The ranker and each source alone, over the same customers.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RecommendReport {
    /// Customers with a purchase before the cutoff and a non-empty truth set.
    pub n_users: usize,
    /// Share of truth items found anywhere in the ranker's candidate set (its recall ceiling).
    pub candidate_recall: f64,
    /// Mean number of candidates the ranker scores per customer.
    pub mean_candidates: f64,
    /// One row per method; the first is the ranker.
    pub rows: Vec<ReportRow>,
}

impl fmt::Display for RecommendReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>9} {:>9} {:>9} {:>9}",
            "method", "recall@10", "ndcg@10", "recall@20", "hit@10"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:<16} {:>9.4} {:>9.4} {:>9.4} {:>9.4}",
                r.name, r.recall_10, r.ndcg_10, r.recall_20, r.hit_10
            )?;
        }
        write!(
            f,
            "n_users = {}, candidate recall = {:.4}, candidates per customer = {:.1}",
            self.n_users, self.candidate_recall, self.mean_candidates
        )
    }
}

/// Methods in report order.
pub const METHODS: [&str; 7] = [
    "ranker",
    "popularity",
    "top_frequency",
    "buy_again",
    "copurchase",
    "als",
    "user_knn",
];
const K: usize = 20;

/// Per-method accumulators at 10 and at 20, plus candidate recall.
#[derive(Clone, Copy, Default)]
struct Acc {
    at10: [RankingAccumulator; METHODS.len()],
    at20: [RankingAccumulator; METHODS.len()],
    cand_recall: f64,
    candidates: f64,
}

/// Fits a [`Recommender`] at `cutoff` and scores it and each source on the distinct items
/// customers buy in `[cutoff, cutoff + horizon_days)`.
pub fn evaluate_recommend(
    store: &EventStore,
    cutoff: i64,
    horizon_days: u32,
    cfg: &RecommendConfig,
) -> Result<RecommendReport, RankingError> {
    crate::features::check_observed(store, cutoff, horizon_days)?;
    let rec = Recommender::fit(store, cutoff, cfg)?;
    Ok(evaluate_fitted(store, &rec, horizon_days))
}

/// Scores an already fitted recommender (its snapshot time is the cutoff).
pub fn evaluate_fitted(
    store: &EventStore,
    rec: &Recommender,
    horizon_days: u32,
) -> RecommendReport {
    evaluate_fitted_detailed(store, rec, horizon_days).0
}

/// The top-`K` list of method `name` for customer `c` (`ranked`: the ranker's answer).
fn method_list(
    snap: &Snapshot,
    c: u32,
    name: &str,
    ranked: &[Recommendation],
    list: &mut Vec<u32>,
) {
    list.clear();
    match name {
        "ranker" => list.extend(ranked.iter().map(|r| r.item)),
        "popularity" => list.extend(snap.popular_all.iter().take(K)),
        "top_frequency" => top_frequency(snap, c, list),
        "buy_again" => buy_again(snap, c, list),
        "copurchase" => copurchase(snap, c, list),
        "user_knn" => {
            list.extend(snap.knn(c).0.iter().take(K));
            fill_popular(snap, list);
        }
        _ => als(snap, c, list),
    }
}

/// One evaluated customer's metrics for every method of [`METHODS`], so reports can break
/// the averages down by customer group.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerRanking {
    /// Customer (dense index of the store).
    pub customer: u32,
    /// Baskets before the cutoff.
    pub baskets: u32,
    /// Metrics at 10, per method.
    pub at10: [RankingMetrics; METHODS.len()],
    /// Metrics at 20, per method.
    pub at20: [RankingMetrics; METHODS.len()],
}

/// Like [`evaluate_fitted`], and also every customer's own metrics (in customer order).
pub fn evaluate_fitted_detailed(
    store: &EventStore,
    rec: &Recommender,
    horizon_days: u32,
) -> (RecommendReport, Vec<CustomerRanking>) {
    let snap = &rec.snapshot;
    let users = customers_with_truth(store, snap, snap.t + horizon_days as i64 * DAY);
    let scored: Vec<(f64, usize, CustomerRanking)> = users
        .par_iter()
        .map_init(
            || (Scratch::new(), Vec::new(), Vec::new()),
            |(s, out, list), (c, truth)| {
                let c = *c;
                let req = RecommendRequest {
                    k: K,
                    ..RecommendRequest::default()
                };
                rec.recommend_with(Some(c), &req, s, out);
                gather(snap, &rec.config, &snap.customer_view(c), &[], s);
                let found = s
                    .cands
                    .iter()
                    .filter(|x| truth.binary_search(&x.item).is_ok())
                    .count();
                let mut row = CustomerRanking {
                    customer: c,
                    baskets: snap.cust_baskets[c as usize],
                    at10: Default::default(),
                    at20: Default::default(),
                };
                for (m, name) in METHODS.iter().enumerate() {
                    method_list(snap, c, name, out, list);
                    row.at10[m] = ranking_metrics_at_k(list, truth, 10);
                    row.at20[m] = ranking_metrics_at_k(list, truth, 20);
                }
                (found as f64 / truth.len() as f64, s.cands.len(), row)
            },
        )
        .collect();
    // Sums in customer order: the same figures whatever the thread count.
    let mut acc = Acc::default();
    for (cand, n_cands, row) in &scored {
        acc.cand_recall += cand;
        acc.candidates += *n_cands as f64;
        for m in 0..METHODS.len() {
            acc.at10[m].add(row.at10[m]);
            acc.at20[m].add(row.at20[m]);
        }
    }
    let n = scored.len();
    let report = RecommendReport {
        n_users: n,
        candidate_recall: if n == 0 {
            0.0
        } else {
            acc.cand_recall / n as f64
        },
        mean_candidates: if n == 0 {
            0.0
        } else {
            acc.candidates / n as f64
        },
        rows: METHODS
            .iter()
            .enumerate()
            .map(|(m, name)| {
                let (a, b) = (acc.at10[m].mean(), acc.at20[m].mean());
                ReportRow {
                    name: name.to_string(),
                    recall_10: a.recall,
                    ndcg_10: a.ndcg,
                    recall_20: b.recall,
                    hit_10: a.hit,
                }
            })
            .collect(),
    };
    (report, scored.into_iter().map(|x| x.2).collect())
}

/// Own items by purchase lines, ties by recency then popularity, filled with popular items.
fn top_frequency(snap: &Snapshot, c: u32, list: &mut Vec<u32>) {
    let mut h: Vec<usize> = snap.history(c).collect();
    h.sort_by(|&a, &b| {
        snap.hist_lines[b]
            .cmp(&snap.hist_lines[a])
            .then(snap.hist_last[b].cmp(&snap.hist_last[a]))
            .then(
                snap.pop_all[snap.hist_item[b] as usize]
                    .total_cmp(&snap.pop_all[snap.hist_item[a] as usize]),
            )
    });
    list.extend(h.iter().take(K).map(|&x| snap.hist_item[x]));
    fill_popular(snap, list);
}

/// Own items by recency-decayed basket count, filled with popular items.
fn buy_again(snap: &Snapshot, c: u32, list: &mut Vec<u32>) {
    let mut h: Vec<usize> = snap.history(c).collect();
    h.sort_by(|&a, &b| {
        snap.hist_decayed[b]
            .total_cmp(&snap.hist_decayed[a])
            .then(a.cmp(&b))
    });
    list.extend(h.iter().take(K).map(|&x| snap.hist_item[x]));
    fill_popular(snap, list);
}

fn fill_popular(snap: &Snapshot, list: &mut Vec<u32>) {
    for &i in &snap.popular_all {
        if list.len() >= K {
            break;
        }
        if !list.contains(&i) {
            list.push(i);
        }
    }
}

/// Summed co-purchase scores of the latest baskets' neighbours.
fn copurchase(snap: &Snapshot, c: u32, list: &mut Vec<u32>) {
    let mut pairs: Vec<(u32, f32)> = Vec::new();
    for &seed in snap.last_items(c) {
        let (items, scores) = snap.neighbours(seed);
        pairs.extend(items.iter().copied().zip(scores.iter().copied()));
    }
    pairs.sort_by_key(|p| p.0);
    let mut top = TopK::new(K);
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        let mut sum = 0.0;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            sum += pairs[j].1;
            j += 1;
        }
        top.push(pairs[i].0, sum);
        i = j;
    }
    list.extend(top.into_sorted().iter().map(|s| s.item));
}

/// ALS dot product over every item (own history included).
fn als(snap: &Snapshot, c: u32, list: &mut Vec<u32>) {
    let mut top = TopK::new(K);
    for i in 0..snap.n_items() as u32 {
        let s = snap.als_dot(c, i);
        if s.is_finite() {
            top.push(i, s);
        }
    }
    list.extend(top.into_sorted().iter().map(|s| s.item));
}
