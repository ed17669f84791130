//! Building a snapshot from an event store, one named step per source: customer histories,
//! item popularity and trend, popularity lists, co-purchase neighbours, user-kNN, ALS.

use super::{CustomerHistory, Snapshot, purchase_lines, summarise_history};
use crate::cf::Interactions;
use crate::cf::als;
use crate::cf::copurchase::CoPurchase;
use crate::cf::topk::TopK;
use crate::cf::user_knn::user_knn_rows;
use crate::ingest::{EventKind, EventStore};
use crate::ranking::{NONE, RankingError, RecommendConfig};
use crate::time::DAY;
use rayon::prelude::*;

/// Length of the popularity lists kept (overall and per category).
const POPULAR_KEPT: usize = 200;
const CATEGORY_KEPT: usize = 50;

/// Purchase baskets before `t` as CSR item lists, and each item's purchase lines in the
/// recent popularity window and in the window before it.
struct Baskets {
    ptr: Vec<u32>,
    items: Vec<u32>,
    recent_lines: Vec<f32>,
    previous_lines: Vec<f32>,
}

impl Snapshot {
    /// Builds every source from the purchases in `store` strictly before `t`.
    pub fn build(
        store: &EventStore,
        t: i64,
        cfg: &RecommendConfig,
    ) -> Result<Snapshot, RankingError> {
        Self::build_for(store, t, cfg, None)
    }

    /// [`Snapshot::build`] with the per-customer user-kNN and ALS candidate lists computed
    /// only for the customers marked in `lists_for` (`None`: everyone). Every other part,
    /// and so every feature of a marked customer, is the same as in a full build; training
    /// snapshots use it, as they rank only their sampled customers (user-kNN was most of
    /// their cost).
    pub fn build_for(
        store: &EventStore,
        t: i64,
        cfg: &RecommendConfig,
        lists_for: Option<&[bool]>,
    ) -> Result<Snapshot, RankingError> {
        let histories = histories(store, t, cfg);
        let mut s = Snapshot::empty(store, t, &histories);
        let window = cfg.popularity_window_days as i64 * DAY;
        s.add_histories(&histories, window);
        drop(histories);
        let baskets = baskets_before(store, t, window);
        s.add_trend(&baskets);
        s.add_popular_lists();
        timed("copurchase", || s.add_copurchase(&baskets, cfg))?;
        drop(baskets);
        timed("user_knn", || s.add_user_knn(cfg, lists_for))?;
        s.add_als(cfg, lists_for)?;
        Ok(s)
    }

    /// A snapshot with no source filled in yet, its arrays sized for `histories`.
    fn empty(store: &EventStore, t: i64, histories: &[CustomerHistory]) -> Snapshot {
        let n_customers = store.n_customers();
        let n_items = store.n_items();
        let total: usize = histories.iter().map(|h| h.item.len()).sum();
        let mut s = Snapshot {
            t,
            hist_ptr: Vec::with_capacity(n_customers + 1),
            hist_item: Vec::with_capacity(total),
            hist_baskets: Vec::with_capacity(total),
            hist_lines: Vec::with_capacity(total),
            hist_first: Vec::with_capacity(total),
            hist_last: Vec::with_capacity(total),
            hist_gap_days: Vec::with_capacity(total),
            hist_decayed: Vec::with_capacity(total),
            hist_recent: Vec::with_capacity(total),
            cust_baskets: Vec::with_capacity(n_customers),
            cust_lines: Vec::with_capacity(n_customers),
            cust_last_ts: Vec::with_capacity(n_customers),
            last_ptr: Vec::with_capacity(n_customers + 1),
            last_item: Vec::new(),
            item_category: store.item_category.clone(),
            item_available: store.item_available.clone(),
            n_categories: store.categories.len() as u32,
            pop_all: vec![0.0; n_items],
            pop_recent: vec![0.0; n_items],
            trend: vec![1.0; n_items],
            repurchase: vec![0.0; n_items],
            popular: Vec::new(),
            popular_all: Vec::new(),
            category_ptr: Vec::new(),
            category_popular: Vec::new(),
            nb_ptr: Vec::new(),
            nb_item: Vec::new(),
            nb_score: Vec::new(),
            knn_ptr: Vec::new(),
            knn_item: Vec::new(),
            knn_score: Vec::new(),
            factors: 0,
            user_factors: Vec::new(),
            item_factors: Vec::new(),
            als_ptr: Vec::new(),
            als_item: Vec::new(),
            top_ptr: Vec::new(),
            top_item: Vec::new(),
            top_score: Vec::new(),
        };
        s.item_category.resize(n_items, NONE);
        s.item_available.resize(n_items, true);
        s
    }

    /// Stores every customer's history rows and counts each item's buyers (all time, in
    /// the recent `window`, and buying it in two baskets or more: the repurchase rate).
    fn add_histories(&mut self, histories: &[CustomerHistory], window: i64) {
        let t = self.t;
        let mut repeaters = vec![0.0f32; self.pop_all.len()];
        self.hist_ptr.push(0);
        self.last_ptr.push(0);
        for h in histories {
            for (k, &item) in h.item.iter().enumerate() {
                self.pop_all[item as usize] += 1.0;
                if h.last[k] >= t - window {
                    self.pop_recent[item as usize] += 1.0;
                }
                if h.baskets[k] >= 2 {
                    repeaters[item as usize] += 1.0;
                }
            }
            self.hist_item.extend_from_slice(&h.item);
            self.hist_baskets.extend_from_slice(&h.baskets);
            self.hist_lines.extend_from_slice(&h.lines);
            self.hist_first.extend_from_slice(&h.first);
            self.hist_last.extend_from_slice(&h.last);
            self.hist_gap_days.extend_from_slice(&h.gap);
            self.hist_decayed.extend_from_slice(&h.decayed);
            self.hist_recent.extend_from_slice(&h.recent);
            self.hist_ptr.push(self.hist_item.len() as u32);
            self.cust_baskets.push(h.n_baskets);
            self.cust_lines.push(h.n_lines);
            self.cust_last_ts.push(h.last_ts);
            self.last_item.extend_from_slice(&h.last_items);
            self.last_ptr.push(self.last_item.len() as u32);
        }
        for ((r, &rep), &buyers) in self
            .repurchase
            .iter_mut()
            .zip(&repeaters)
            .zip(&self.pop_all)
        {
            if buyers > 0.0 {
                *r = rep / buyers;
            }
        }
    }

    /// Trend: purchase lines in the recent window over the window before it (add-one).
    fn add_trend(&mut self, baskets: &Baskets) {
        for ((tr, &recent), &previous) in self
            .trend
            .iter_mut()
            .zip(&baskets.recent_lines)
            .zip(&baskets.previous_lines)
        {
            *tr = (recent + 1.0) / (previous + 1.0);
        }
    }

    /// The popular lists: recent and all-time, and per category from one pass over the
    /// items ranked by recent popularity.
    fn add_popular_lists(&mut self) {
        let n_items = self.pop_all.len();
        self.popular = ranked(&self.pop_recent, POPULAR_KEPT, |_| true);
        self.popular_all = ranked(&self.pop_all, POPULAR_KEPT, |_| true);
        let by_recent = ranked(&self.pop_recent, n_items, |_| true);
        let mut per_cat: Vec<Vec<u32>> = vec![Vec::new(); self.n_categories as usize];
        for &i in &by_recent {
            let c = self.item_category[i as usize];
            if let Some(list) = per_cat.get_mut(c as usize)
                && list.len() < CATEGORY_KEPT
            {
                list.push(i);
            }
        }
        self.category_ptr.push(0);
        for list in per_cat {
            self.category_popular.extend_from_slice(&list);
            self.category_ptr.push(self.category_popular.len() as u32);
        }
    }

    /// Item neighbours from baskets bought together.
    fn add_copurchase(
        &mut self,
        baskets: &Baskets,
        cfg: &RecommendConfig,
    ) -> Result<(), RankingError> {
        let co = CoPurchase::build(
            self.pop_all.len(),
            &baskets.ptr,
            &baskets.items,
            &cfg.copurchase,
        )
        .map_err(|error| RankingError::Source {
            source_name: "copurchase",
            error,
        })?;
        self.nb_ptr = co.neighbour_ptr().to_vec();
        self.nb_item = co.neighbour_item().to_vec();
        self.nb_score = co.neighbour_score().to_vec();
        Ok(())
    }

    /// Each marked customer's user-kNN candidates, from time-decayed histories.
    fn add_user_knn(
        &mut self,
        cfg: &RecommendConfig,
        lists_for: Option<&[bool]>,
    ) -> Result<(), RankingError> {
        let decayed = Interactions::from_csr(
            self.cust_baskets.len(),
            self.pop_all.len(),
            self.hist_ptr.clone(),
            self.hist_item.clone(),
            self.hist_decayed.clone(),
        )
        .and_then(|x| user_knn_rows(&x, &cfg.knn, lists_for))
        .map_err(|error| RankingError::Source {
            source_name: "user_knn",
            error,
        })?;
        self.knn_ptr = decayed.ptr().to_vec();
        self.knn_item = decayed.items().to_vec();
        self.knn_score = decayed.scores().to_vec();
        Ok(())
    }

    /// ALS factors fitted on basket counts, and each marked customer's ALS candidates
    /// (their best items not yet bought).
    fn add_als(
        &mut self,
        cfg: &RecommendConfig,
        lists_for: Option<&[bool]>,
    ) -> Result<(), RankingError> {
        let n_customers = self.cust_baskets.len();
        let wanted = |c: usize| lists_for.is_none_or(|w| w.get(c).copied().unwrap_or(false));
        let als_error = |error| RankingError::Source {
            source_name: "als",
            error,
        };
        let model = timed("als", || {
            let values: Vec<f32> = self.hist_baskets.iter().map(|&b| b as f32).collect();
            let interactions = Interactions::from_csr(
                n_customers,
                self.pop_all.len(),
                self.hist_ptr.clone(),
                self.hist_item.clone(),
                values,
            )
            .map_err(als_error)?;
            als::fit(&interactions, &cfg.als).map_err(als_error)
        })?;
        self.factors = model.factors() as u32;
        let n_als = cfg.als_candidates;
        let sorted_items = model.norm_sorted();
        let lists: Vec<Vec<u32>> = (0..n_customers)
            .into_par_iter()
            .map(|c| {
                let own = &self.hist_item[self.hist_ptr[c] as usize..self.hist_ptr[c + 1] as usize];
                match model.user(c) {
                    Some(u) if !own.is_empty() && n_als > 0 && wanted(c) => sorted_items
                        .recommend(u, n_als, own)
                        .map(|v| v.into_iter().map(|x| x.item).collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                }
            })
            .collect();
        self.als_ptr.push(0);
        for l in lists {
            self.als_item.extend_from_slice(&l);
            self.als_ptr.push(self.als_item.len() as u32);
        }
        self.user_factors = model.user_factors().to_vec();
        self.item_factors = model.item_factors().to_vec();
        Ok(())
    }
}

/// Every customer's history before `t`, grouped by item.
fn histories(store: &EventStore, t: i64, cfg: &RecommendConfig) -> Vec<CustomerHistory> {
    (0..store.n_customers() as u32)
        .into_par_iter()
        .map(|c| {
            summarise_history(
                purchase_lines(store, c, t),
                t,
                cfg.half_life_days,
                cfg.last_baskets,
                cfg.recent_baskets,
            )
        })
        .collect()
}

/// One pass over the store's purchases before `t`: baskets in store order, and each
/// item's lines in the recent `window` and the one before it.
fn baskets_before(store: &EventStore, t: i64, window: i64) -> Baskets {
    let n_items = store.n_items();
    let mut b = Baskets {
        ptr: vec![0],
        items: Vec::new(),
        recent_lines: vec![0.0f32; n_items],
        previous_lines: vec![0.0f32; n_items],
    };
    let mut current_basket = NONE;
    for e in 0..store.len() {
        let ts = store.ts[e];
        if ts >= t || store.kind[e] != EventKind::Purchase {
            continue;
        }
        let item = store.item[e].0;
        if ts >= t - window {
            b.recent_lines[item as usize] += 1.0;
        } else if ts >= t - 2 * window {
            b.previous_lines[item as usize] += 1.0;
        }
        if store.basket[e] != current_basket && !b.items.is_empty() {
            b.ptr.push(b.items.len() as u32);
        }
        current_basket = store.basket[e];
        b.items.push(item);
    }
    if !b.items.is_empty() {
        b.ptr.push(b.items.len() as u32);
    }
    b
}

/// Runs one build step and logs its time at debug level.
fn timed<T>(name: &str, step: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let out = step();
    tracing::debug!(
        stage = name,
        seconds = started.elapsed().as_secs_f64(),
        "snapshot stage"
    );
    out
}

/// Items ranked by `score` descending, ties by lower index, keeping at most `keep`.
pub(super) fn ranked(scores: &[f32], keep: usize, mut filter: impl FnMut(u32) -> bool) -> Vec<u32> {
    let mut top = TopK::new(keep);
    for (i, &s) in scores.iter().enumerate() {
        if s > 0.0 && filter(i as u32) {
            top.push(i as u32, s);
        }
    }
    top.into_sorted().into_iter().map(|s| s.item).collect()
}
