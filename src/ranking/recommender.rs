//! The served recommender: a snapshot of every source at `T` plus the GBDT ranker, trained
//! one horizon earlier, answering requests without the event store.

use super::features::{CustomerView, Scratch, gather};
use super::forest::Forest;
use super::live::RankedRow;
use super::snapshot::ITEM_MASK;
use super::{
    FEATURE_NAMES, LiveHistory, N_FEATURES, NONE, RankingError, RecommendConfig, Snapshot,
};
use crate::gbdt::{Booster, Dataset, DenseInput};
use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::progress::{Stage, Unit};
use crate::rng::Rng;
use crate::time::DAY;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Largest `k` a request may ask for: the library caps a larger one, the HTTP API refuses
/// it.
pub const MAX_K: usize = 100;

/// Why an item is recommended, as the API reports it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = RecommendationSource)]
pub enum Source {
    /// The customer bought it before.
    BuyAgain,
    /// Co-purchase neighbours, ALS or similar customers (user-kNN).
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
    /// The customer's live history: when set it replaces the snapshot's (candidates,
    /// features and `exclude_purchased`), also for a customer the bundle does not know.
    pub live: Option<&'a LiveHistory>,
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
            live: None,
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
    /// `ranker` compiled for batch scoring, built on first use (None: not compilable).
    #[serde(skip)]
    forest: OnceLock<Option<Forest>>,
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

/// The training customers of the snapshot at `from`: purchases before it and in
/// `[from, to)` (with those items), sampled down to `max_train_customers`.
fn training_customers(
    store: &EventStore,
    from: i64,
    to: i64,
    cfg: &RecommendConfig,
    snapshot_index: u64,
) -> Vec<(u32, Vec<u32>)> {
    let mut customers: Vec<(u32, Vec<u32>)> = (0..store.n_customers() as u32)
        .into_par_iter()
        .filter(|&c| {
            store
                .events_before(CustomerIdx(c), from)
                .any(|e| store.kind[e] == EventKind::Purchase)
        })
        .filter_map(|c| {
            let truth = purchased_between(store, c, from, to);
            (!truth.is_empty()).then_some((c, truth))
        })
        .collect();
    if customers.len() > cfg.max_train_customers {
        Rng::derived(cfg.seed, &[snapshot_index]).shuffle(&mut customers);
        customers.truncate(cfg.max_train_customers);
        customers.sort_unstable_by_key(|x| x.0);
    }
    customers
}

/// Appends labelled candidate rows of one training snapshot for its `customers` (with
/// their purchased items after the snapshot).
fn append_training_rows(
    snap: &Snapshot,
    customers: &[(u32, Vec<u32>)],
    cfg: &RecommendConfig,
    snapshot_index: u64,
    columns: &mut [Vec<f64>],
    labels: &mut Vec<f64>,
    queries: &mut Vec<usize>,
) {
    let rows: Vec<(Vec<f32>, Vec<f64>)> = customers
        .par_iter()
        .map_init(Scratch::new, |s, (c, truth)| {
            gather(snap, cfg, &snap.customer_view(*c), &[], s);
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
        if !y.is_empty() {
            queries.push(y.len());
        }
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
        // Rows per (snapshot, customer): the ranking loss ranks within each.
        let mut queries = Vec::new();
        let data_start = store.time_range().map_or(i64::MIN, |(first, _)| first);
        let min_history = cfg.min_history_days as i64 * DAY;
        let stage = Stage::start(
            "ranker snapshots",
            cfg.training_snapshots as u64,
            Unit::Items("snapshots"),
        );
        for s in 1..=cfg.training_snapshots as i64 {
            let from = t - s * h;
            if s > 1 && from.saturating_sub(data_start) < min_history {
                break;
            }
            let customers = training_customers(store, from, from + h, cfg, s as u64);
            let mut wanted = vec![false; store.n_customers()];
            for (c, _) in &customers {
                wanted[*c as usize] = true;
            }
            let started = std::time::Instant::now();
            let snap = Snapshot::build_for(store, from, cfg, Some(&wanted))?;
            tracing::debug!(
                snapshot = s,
                customers = customers.len(),
                seconds = started.elapsed().as_secs_f64(),
                "ranker training snapshot built"
            );
            append_training_rows(
                &snap,
                &customers,
                cfg,
                s as u64,
                &mut columns,
                &mut labels,
                &mut queries,
            );
            stage.inc(1);
        }
        stage.finish();
        if !labels.iter().any(|&y| y > 0.0) {
            return Err(RankingError::NoPositives {
                from: t - cfg.training_snapshots as i64 * h,
                to: t,
            });
        }
        for (col, name) in columns.iter_mut().zip(FEATURE_NAMES) {
            if cfg.ignore_features.iter().any(|f| f == name) {
                col.fill(f64::NAN);
            }
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
        )?
        .with_queries(&queries)?;
        drop(columns);
        let stage = Stage::start(
            "ranker",
            cfg.ranker.num_iterations as u64,
            Unit::Items("rounds"),
        );
        let ranker = Booster::train_with_callback(&cfg.ranker, &data, None, &mut |_| stage.inc(1))?;
        stage.finish();
        let started = std::time::Instant::now();
        let snapshot = Snapshot::build(store, t, cfg)?;
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "serving snapshot built"
        );
        let mut rec = Recommender::new(cfg.clone(), snapshot, ranker);
        rec.build_cache();
        Ok(rec)
    }

    /// Assembles a recommender from its parts (the ranker is compiled on first use).
    pub fn new(config: RecommendConfig, snapshot: Snapshot, ranker: Booster) -> Recommender {
        Recommender {
            config,
            snapshot,
            ranker,
            forest: OnceLock::new(),
        }
    }

    /// The compiled ranker, when its layout allows batch scoring.
    fn forest(&self) -> Option<&Forest> {
        self.forest
            .get_or_init(|| Forest::compile(&self.ranker).filter(|f| f.n_features() == N_FEATURES))
            .as_ref()
    }

    /// Top items for `customer` (None or unknown without a live history ⇒ popularity; the
    /// caller marks cold start, see [`Recommender::has_history`]) into `out`, using this
    /// thread's scratch buffers.
    ///
    /// A known customer without cart or live history is answered from the ranked cache
    /// when its row holds the answer; the result is the same as
    /// [`Recommender::recommend_uncached`] either way.
    pub fn recommend(
        &self,
        customer: Option<u32>,
        req: &RecommendRequest<'_>,
        out: &mut Vec<Recommendation>,
    ) {
        if self.answer_from_cache(customer, req, out) {
            return;
        }
        with_scratch(|s| self.rank(customer, req, s, out));
    }

    /// [`Recommender::recommend`] through every stage (candidates, features, ranker) even
    /// when the ranked cache could answer: what the latency bench measures.
    pub fn recommend_uncached(
        &self,
        customer: Option<u32>,
        req: &RecommendRequest<'_>,
        out: &mut Vec<Recommendation>,
    ) {
        with_scratch(|s| self.rank(customer, req, s, out));
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
        if !self.answer_from_cache(customer, req, out) {
            self.rank(customer, req, s, out);
        }
    }

    /// Whether `item` may be returned for `req` (`purchased`: in the customer's history).
    fn allowed(&self, req: &RecommendRequest<'_>, item: u32, purchased: bool) -> bool {
        let snap = &self.snapshot;
        let i = item as usize;
        snap.item_available.get(i).copied().unwrap_or(false)
            && req
                .available
                .is_none_or(|m| m.get(i).copied().unwrap_or(false))
            && !(req.exclude_purchased && purchased)
            && req
                .category
                .is_none_or(|c| snap.item_category.get(i) == Some(&c))
            && !req.exclude.contains(&item)
            && !req.cart.contains(&item)
    }

    /// Answers from the customer's ranked cache row when the request allows it and the
    /// row holds `k` allowed items (or is the customer's whole ranked list); `out` then
    /// equals what [`Recommender::rank`] gives, because filters only remove items from the
    /// same ranked list and the row is its unfiltered prefix.
    fn answer_from_cache(
        &self,
        customer: Option<u32>,
        req: &RecommendRequest<'_>,
        out: &mut Vec<Recommendation>,
    ) -> bool {
        out.clear();
        let k = req.k.min(MAX_K);
        if !req.cart.is_empty() || k == 0 {
            return false;
        }
        let (items, scores) = match req.live {
            // An empty live history is a cold start: the popularity path is cheap already.
            Some(live) if live.is_empty() || self.config.cached_top == 0 => return false,
            Some(live) => {
                let row = live.ranked_row(customer, || self.live_ranked_row(customer, live));
                match row {
                    Some(r) => (&r.items[..], &r.scores[..]),
                    None => return false,
                }
            }
            None => {
                let Some(c) = customer.filter(|&c| self.is_known(c)) else {
                    return false;
                };
                self.snapshot.top(c)
            }
        };
        if items.is_empty() {
            return false;
        }
        for (&packed, &score) in items.iter().zip(scores) {
            let (item, source) = unpack(packed);
            if self.allowed(req, item, source == Source::BuyAgain) {
                push_capped(
                    &self.snapshot,
                    out,
                    req.max_per_category,
                    Recommendation {
                        item,
                        score,
                        source,
                    },
                );
                if out.len() == k {
                    return true;
                }
            }
        }
        // A row shorter than the cache length is the customer's whole ranked list.
        if items.len() < self.config.cached_top.min(MAX_K) {
            return true;
        }
        out.clear();
        false
    }

    /// The unfiltered ranked list of a live history, as [`Recommender::build_cache`] makes
    /// the bundle's rows: what a live customer's memo holds.
    fn live_ranked_row(&self, customer: Option<u32>, live: &LiveHistory) -> RankedRow {
        let req = RecommendRequest {
            k: self.config.cached_top.min(MAX_K),
            live: Some(live),
            ..RecommendRequest::default()
        };
        let mut out = Vec::with_capacity(req.k);
        with_scratch(|s| self.rank(customer, &req, s, &mut out));
        RankedRow {
            customer,
            items: out.iter().map(|r| pack(r.item, r.source)).collect(),
            scores: out.iter().map(|r| r.score).collect(),
        }
    }

    /// Every stage: candidates from all sources, feature rows, ranker scores, filters.
    fn rank(
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
        let view = match req.live {
            Some(live) => (!live.is_empty()).then(|| live.view(snap, known)),
            None => known.map(|c| snap.customer_view(c)),
        };
        if view.is_none() && req.cart.is_empty() {
            let list: &[u32] = match req.category {
                Some(c) => snap.category_items(c),
                None => &snap.popular,
            };
            for &item in list {
                if self.allowed(req, item, false) {
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
        let view = view.unwrap_or_else(|| CustomerView::empty(snap.t));
        gather(snap, &self.config, &view, req.cart, s);
        s.scored.clear();
        s.selected.clear();
        for (idx, c) in s.cands.iter().enumerate() {
            if self.allowed(req, c.item, c.hist != NONE) {
                s.selected.push(idx as u32);
            }
        }
        self.score_selected(s);
        let cands = &s.cands;
        let order = |a: &(f32, u32), b: &(f32, u32)| {
            b.0.total_cmp(&a.0)
                .then(cands[a.1 as usize].item.cmp(&cands[b.1 as usize].item))
        };
        // Without a per-category cap the first k are the answer: select them, sort only them.
        if req.max_per_category.is_none() && s.scored.len() > k {
            s.scored.select_nth_unstable_by(k - 1, order);
            s.scored.truncate(k);
        }
        s.scored.sort_unstable_by(order);
        for &(score, idx) in &s.scored {
            let c = &cands[idx as usize];
            let source = if c.hist != NONE {
                Source::BuyAgain
            } else if c.cop_rank != NONE || c.als_rank != NONE || c.knn_rank != NONE {
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

    /// Fills the snapshot's ranked cache: each known customer's first
    /// [`RecommendConfig::cached_top`] items for an unfiltered request, in parallel.
    fn build_cache(&mut self) {
        let n = self.config.cached_top.min(MAX_K);
        let snap = &self.snapshot;
        let req = RecommendRequest {
            k: n,
            ..RecommendRequest::default()
        };
        let stage = Stage::start(
            "ranked cache",
            snap.n_customers() as u64,
            Unit::Items("customers"),
        );
        let rows: Vec<(Vec<u32>, Vec<f32>)> = (0..snap.n_customers() as u32)
            .into_par_iter()
            .map_init(
                || (Scratch::new(), Vec::new()),
                |(s, out), c| {
                    stage.inc(1);
                    if n == 0 || !self.is_known(c) {
                        return (Vec::new(), Vec::new());
                    }
                    self.rank(Some(c), &req, s, out);
                    (
                        out.iter().map(|r| pack(r.item, r.source)).collect(),
                        out.iter().map(|r| r.score).collect(),
                    )
                },
            )
            .collect();
        stage.finish();
        let (mut ptr, mut items, mut scores) = (vec![0u32], Vec::new(), Vec::new());
        for (i, sc) in rows {
            items.extend_from_slice(&i);
            scores.extend_from_slice(&sc);
            ptr.push(items.len() as u32);
        }
        self.snapshot.top_ptr = ptr;
        self.snapshot.top_item = items;
        self.snapshot.top_score = scores;
    }

    /// Scores the candidates listed in `s.selected` into `s.scored` as (score, candidate).
    fn score_selected(&self, s: &mut Scratch) {
        let row = |idx: u32| &s.feats[idx as usize * N_FEATURES..(idx as usize + 1) * N_FEATURES];
        match self.forest() {
            Some(forest) => {
                let rows: &[f32] = if s.selected.len() * N_FEATURES == s.feats.len() {
                    &s.feats
                } else {
                    s.picked.clear();
                    for &idx in &s.selected {
                        s.picked.extend_from_slice(row(idx));
                    }
                    &s.picked
                };
                forest.score(rows, &mut s.raw);
                s.scored
                    .extend(s.raw.iter().zip(&s.selected).map(|(&r, &i)| (r as f32, i)));
            }
            None => {
                for &idx in &s.selected {
                    let score = self
                        .ranker
                        .predict_row(row(idx))
                        .unwrap_or(f64::NEG_INFINITY) as f32;
                    s.scored.push((score, idx));
                }
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

/// Runs `f` with this thread's scratch buffers (a fresh one on a re-entrant call).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::new()),
    })
}

/// Ranked-cache entry: the item in the low 30 bits, the source code above them.
fn pack(item: u32, source: Source) -> u32 {
    let code = match source {
        Source::BuyAgain => 0,
        Source::Collaborative => 1,
        Source::Popular => 2,
    };
    (item & ITEM_MASK) | code << 30
}

/// Inverse of [`pack`] (an unknown code, refused by `Snapshot::validate`, reads as popular).
fn unpack(packed: u32) -> (u32, Source) {
    let source = match packed >> 30 {
        0 => Source::BuyAgain,
        1 => Source::Collaborative,
        _ => Source::Popular,
    };
    (packed & ITEM_MASK, source)
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
