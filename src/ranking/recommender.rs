//! The served recommender: a snapshot of every source at `T` plus the GBDT ranker, trained
//! one horizon earlier, answering requests without the event store.

use super::features::{Scratch, gather};
use super::{FEATURE_NAMES, N_FEATURES, NONE, RankingError, RecommendConfig, Snapshot};
use crate::gbdt::{Booster, Dataset, DenseInput};
use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::rng::Rng;
use crate::time::DAY;
use rayon::prelude::*;
use std::cell::RefCell;

/// Largest `k` a request may ask for.
pub const MAX_K: usize = 100;

/// Why an item is recommended, as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The customer bought it before.
    BuyAgain,
    /// Co-purchase neighbours or ALS.
    Collaborative,
    /// Popular overall or in the customer's favourite category.
    Popular,
}

/// One ranked item.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Recommendation {
    /// Dense item index.
    pub item: u32,
    /// Ranker score (higher is better; popularity count on the cold-start path).
    pub score: f32,
    /// Where the item came from.
    pub source: Source,
}

/// What a caller asks for; [`Default`] is "top 10, nothing filtered".
#[derive(Clone, Copy, Debug)]
pub struct RecommendRequest<'a> {
    /// How many items (capped at [`MAX_K`]).
    pub k: usize,
    /// Drop items the customer already bought.
    pub exclude_purchased: bool,
    /// Items never to return.
    pub exclude: &'a [u32],
    /// Only items of this category index.
    pub category: Option<u32>,
    /// Items in the customer's cart: seeds co-purchase candidates and are never returned.
    pub cart: &'a [u32],
    /// Per-item availability at request time (`false` or out of range = unavailable).
    pub available: Option<&'a [bool]>,
    /// Most items per category in the answer.
    pub max_per_category: Option<usize>,
}

impl Default for RecommendRequest<'_> {
    fn default() -> Self {
        RecommendRequest {
            k: 10,
            exclude_purchased: false,
            exclude: &[],
            category: None,
            cart: &[],
            available: None,
            max_per_category: None,
        }
    }
}

/// Sources at `T` and the ranker; serde-serializable for the model bundle.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Recommender {
    /// Configuration it was fitted with (candidate counts are reused when serving).
    pub config: RecommendConfig,
    /// Every source's state at `T`.
    pub snapshot: Snapshot,
    /// GBDT over [`FEATURE_NAMES`].
    pub ranker: Booster,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Distinct items customer `c` bought in `[from, to)`, sorted.
pub(crate) fn purchased_between(store: &EventStore, c: u32, from: i64, to: i64) -> Vec<u32> {
    let r = store.customer_events(CustomerIdx(c));
    let ts = &store.ts[r.clone()];
    let a = r.start + ts.partition_point(|&x| x < from);
    let b = r.start + ts.partition_point(|&x| x < to);
    let mut items: Vec<u32> = (a..b)
        .filter(|&e| store.kind[e] == EventKind::Purchase)
        .map(|e| store.item[e].0)
        .collect();
    items.sort_unstable();
    items.dedup();
    items
}

/// Customers with purchases before the snapshot and in `[snap.t, to)`, with that truth.
pub(crate) fn customers_with_truth(
    store: &EventStore,
    snap: &Snapshot,
    to: i64,
) -> Vec<(u32, Vec<u32>)> {
    (0..snap.n_customers() as u32)
        .into_par_iter()
        .filter(|&c| snap.cust_lines[c as usize] > 0)
        .filter_map(|c| {
            let truth = purchased_between(store, c, snap.t, to);
            (!truth.is_empty()).then_some((c, truth))
        })
        .collect()
}

/// Appends labelled candidate rows of one training snapshot (labels from `[snap.t, to)`).
fn append_training_rows(
    store: &EventStore,
    snap: &Snapshot,
    to: i64,
    cfg: &RecommendConfig,
    snapshot_index: u64,
    columns: &mut [Vec<f64>],
    labels: &mut Vec<f64>,
) {
    let mut customers = customers_with_truth(store, snap, to);
    if customers.len() > cfg.max_train_customers {
        Rng::derived(cfg.seed, &[snapshot_index]).shuffle(&mut customers);
        customers.truncate(cfg.max_train_customers);
        customers.sort_unstable_by_key(|x| x.0);
    }
    let rows: Vec<(Vec<f32>, Vec<f64>)> = customers
        .par_iter()
        .map_init(Scratch::new, |s, (c, truth)| {
            gather(snap, cfg, Some(*c), &[], s);
            let mut rng = Rng::derived(cfg.seed, &[snapshot_index, *c as u64]);
            let mut feats = Vec::new();
            let mut y = Vec::new();
            for (k, cand) in s.cands.iter().enumerate() {
                let positive = truth.binary_search(&cand.item).is_ok();
                if positive || rng.bernoulli(cfg.negative_rate) {
                    feats.extend_from_slice(&s.feats[k * N_FEATURES..(k + 1) * N_FEATURES]);
                    y.push(positive as u8 as f64);
                }
            }
            (feats, y)
        })
        .collect();
    for (feats, y) in rows {
        for row in feats.chunks_exact(N_FEATURES) {
            for (col, &v) in columns.iter_mut().zip(row) {
                col.push(v as f64);
            }
        }
        labels.extend_from_slice(&y);
    }
}

impl Recommender {
    /// Trains the ranker on snapshots `T − H`, `T − 2H`, … (labels: the following `H` days),
    /// then refits every source on events strictly before `t`.
    pub fn fit(
        store: &EventStore,
        t: i64,
        cfg: &RecommendConfig,
    ) -> Result<Recommender, RankingError> {
        cfg.validate()?;
        let h = cfg.horizon_days as i64 * DAY;
        let mut columns: Vec<Vec<f64>> = vec![Vec::new(); N_FEATURES];
        let mut labels = Vec::new();
        for s in 1..=cfg.training_snapshots as i64 {
            let from = t - s * h;
            let snap = Snapshot::build(store, from, cfg)?;
            append_training_rows(
                store,
                &snap,
                from + h,
                cfg,
                s as u64,
                &mut columns,
                &mut labels,
            );
        }
        if !labels.iter().any(|&y| y > 0.0) {
            return Err(RankingError::NoPositives {
                from: t - cfg.training_snapshots as i64 * h,
                to: t,
            });
        }
        let names: Vec<String> = FEATURE_NAMES.iter().map(|s| s.to_string()).collect();
        let data = Dataset::from_dense(
            DenseInput {
                columns: &columns,
                feature_names: &names,
                categorical: &[],
                labels: &labels,
                weights: None,
            },
            &cfg.ranker,
        )?;
        drop(columns);
        let ranker = Booster::train(&cfg.ranker, &data, None)?;
        let snapshot = Snapshot::build(store, t, cfg)?;
        Ok(Recommender {
            config: cfg.clone(),
            snapshot,
            ranker,
        })
    }

    /// Top items for `customer` (None or unknown ⇒ popularity; the caller marks cold start)
    /// into `out`, using this thread's scratch buffers.
    pub fn recommend(
        &self,
        customer: Option<u32>,
        req: &RecommendRequest<'_>,
        out: &mut Vec<Recommendation>,
    ) {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.recommend_with(customer, req, &mut s, out),
            // Re-entrant call on this thread: fall back to a fresh scratch.
            Err(_) => self.recommend_with(customer, req, &mut Scratch::new(), out),
        })
    }

    /// True when `customer` has purchases in the snapshot (otherwise answers are cold-start).
    pub fn is_known(&self, customer: u32) -> bool {
        self.snapshot
            .cust_lines
            .get(customer as usize)
            .is_some_and(|&n| n > 0)
    }

    /// [`Recommender::recommend`] with caller-owned scratch.
    pub fn recommend_with(
        &self,
        customer: Option<u32>,
        req: &RecommendRequest<'_>,
        s: &mut Scratch,
        out: &mut Vec<Recommendation>,
    ) {
        out.clear();
        let k = req.k.min(MAX_K);
        if k == 0 {
            return;
        }
        let snap = &self.snapshot;
        let known = customer.filter(|&c| self.is_known(c));
        let allowed = |item: u32, purchased: bool| {
            let i = item as usize;
            snap.item_available.get(i).copied().unwrap_or(false)
                && req
                    .available
                    .is_none_or(|m| m.get(i).copied().unwrap_or(false))
                && !(req.exclude_purchased && purchased)
                && req.category.is_none_or(|c| snap.item_category[i] == c)
                && !req.exclude.contains(&item)
                && !req.cart.contains(&item)
        };
        if known.is_none() && req.cart.is_empty() {
            let list: &[u32] = match req.category {
                Some(c) => snap.category_items(c),
                None => &snap.popular,
            };
            for &item in list {
                if allowed(item, false) {
                    push_capped(
                        snap,
                        out,
                        req.max_per_category,
                        Recommendation {
                            item,
                            score: snap.pop_recent[item as usize],
                            source: Source::Popular,
                        },
                    );
                    if out.len() == k {
                        break;
                    }
                }
            }
            return;
        }
        gather(snap, &self.config, known, req.cart, s);
        s.scored.clear();
        for (idx, c) in s.cands.iter().enumerate() {
            if allowed(c.item, c.hist != NONE) {
                let row = &s.feats[idx * N_FEATURES..(idx + 1) * N_FEATURES];
                let score = self.ranker.predict_row(row).unwrap_or(f64::NEG_INFINITY) as f32;
                s.scored.push((score, idx as u32));
            }
        }
        let cands = &s.cands;
        s.scored.sort_unstable_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(cands[a.1 as usize].item.cmp(&cands[b.1 as usize].item))
        });
        for &(score, idx) in &s.scored {
            let c = &cands[idx as usize];
            let source = if c.hist != NONE {
                Source::BuyAgain
            } else if c.cop_rank != NONE || c.als_rank != NONE {
                Source::Collaborative
            } else {
                Source::Popular
            };
            push_capped(
                snap,
                out,
                req.max_per_category,
                Recommendation {
                    item: c.item,
                    score,
                    source,
                },
            );
            if out.len() == k {
                break;
            }
        }
    }

    /// Up to `k` items most often bought with `item` (co-purchase neighbours), best first.
    pub fn similar(&self, item: u32, k: usize) -> Vec<Recommendation> {
        let (items, scores) = self.snapshot.neighbours(item);
        items
            .iter()
            .zip(scores)
            .filter(|(i, _)| {
                self.snapshot
                    .item_available
                    .get(**i as usize)
                    .copied()
                    .unwrap_or(false)
            })
            .take(k.min(MAX_K))
            .map(|(&item, &score)| Recommendation {
                item,
                score,
                source: Source::Collaborative,
            })
            .collect()
    }
}

/// Pushes `r` unless its category already has `cap` items in `out`.
fn push_capped(
    snap: &Snapshot,
    out: &mut Vec<Recommendation>,
    cap: Option<usize>,
    r: Recommendation,
) {
    if let Some(cap) = cap {
        let cat = snap.item_category[r.item as usize];
        if out
            .iter()
            .filter(|o| snap.item_category[o.item as usize] == cat)
            .count()
            >= cap
        {
            return;
        }
    }
    out.push(r);
}
