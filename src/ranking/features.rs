//! Candidate generation and the ranker's feature rows, shared by training and serving so
//! both see exactly the same numbers.

use super::{NONE, RecommendConfig, Snapshot};
use crate::time::DAY;

/// Number of ranker features per (customer, item) candidate.
pub const N_FEATURES: usize = 24;

/// Ranker feature names, in row order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "hist_rank",
    "hist_baskets",
    "hist_lines",
    "hist_basket_share",
    "days_since_last",
    "days_since_first",
    "gap_days",
    "overdue_ratio",
    "decayed_count",
    "copurchase_score",
    "copurchase_rank",
    "als_dot",
    "als_rank",
    "pop_recent",
    "pop_all",
    "trend",
    "repurchase_rate",
    "pop_rank",
    "category_pop_rank",
    "category_affinity",
    "customer_baskets",
    "customer_days_since_last",
    "customer_distinct_items",
    "in_last_baskets",
];

/// One candidate and where it came from (ranks are [`NONE`] when a source did not offer it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub item: u32,
    /// Index into the snapshot's `hist_*` arrays, or [`NONE`].
    pub hist: u32,
    pub hist_rank: u32,
    pub cop_rank: u32,
    pub als_rank: u32,
    pub pop_rank: u32,
    pub cat_rank: u32,
}

/// Reusable buffers for one thread's candidate generation; sized on first use, so calls
/// after the first allocate nothing.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Item → candidate index + 1 (0 = not a candidate); reset after every call.
    slot: Vec<u32>,
    /// Co-purchase score accumulated per item; reset through `touched`.
    acc: Vec<f32>,
    touched: Vec<u32>,
    cat_lines: Vec<u32>,
    cat_touched: Vec<u32>,
    order: Vec<u32>,
    pub(crate) cands: Vec<Candidate>,
    pub(crate) feats: Vec<f32>,
    pub(crate) scored: Vec<(f32, u32)>,
}

impl Scratch {
    /// Empty scratch; grows to the snapshot's size on first use.
    pub fn new() -> Scratch {
        Scratch::default()
    }

    fn fit(&mut self, n_items: usize, n_categories: usize) {
        if self.slot.len() < n_items {
            self.slot.resize(n_items, 0);
            self.acc.resize(n_items, 0.0);
        }
        if self.cat_lines.len() < n_categories {
            self.cat_lines.resize(n_categories, 0);
        }
    }

    fn add(&mut self, item: u32) -> Option<&mut Candidate> {
        let slot = self.slot.get_mut(item as usize)?;
        if *slot == 0 {
            self.cands.push(Candidate {
                item,
                hist: NONE,
                hist_rank: NONE,
                cop_rank: NONE,
                als_rank: NONE,
                pop_rank: NONE,
                cat_rank: NONE,
            });
            *slot = self.cands.len() as u32;
        }
        let index = *slot as usize - 1;
        self.cands.get_mut(index)
    }
}

fn rank_or_nan(r: u32) -> f32 {
    if r == NONE { f32::NAN } else { r as f32 }
}

/// Fills `scratch.cands` with every source's candidates for `customer` (None = unknown) and
/// `cart`, and `scratch.feats` with one [`N_FEATURES`] row per candidate.
pub(crate) fn gather(
    snap: &Snapshot,
    cfg: &RecommendConfig,
    customer: Option<u32>,
    cart: &[u32],
    s: &mut Scratch,
) {
    s.fit(snap.n_items(), snap.n_categories as usize);
    s.cands.clear();
    s.feats.clear();
    let customer = customer.filter(|&c| (c as usize) < snap.n_customers());
    let hist = customer.map(|c| snap.history(c)).unwrap_or(0..0);
    let last: &[u32] = customer.map(|c| snap.last_items(c)).unwrap_or(&[]);

    // Own history, best by recency-decayed basket count; also the category profile.
    s.order.clear();
    s.order.extend(hist.clone().map(|h| h as u32));
    s.order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        snap.hist_decayed[b]
            .total_cmp(&snap.hist_decayed[a])
            .then(snap.hist_last[b].cmp(&snap.hist_last[a]))
            .then(a.cmp(&b))
    });
    let mut order = std::mem::take(&mut s.order);
    for (rank, &h) in order.iter().enumerate() {
        let h = h as usize;
        let cat = snap
            .item_category
            .get(snap.hist_item[h] as usize)
            .copied()
            .unwrap_or(NONE);
        if let Some(n) = s.cat_lines.get_mut(cat as usize) {
            if *n == 0 {
                s.cat_touched.push(cat);
            }
            *n += snap.hist_lines[h];
        }
        if rank < cfg.history_cap
            && let Some(c) = s.add(snap.hist_item[h])
        {
            c.hist = h as u32;
            c.hist_rank = rank as u32;
        }
    }
    let top_category = s
        .cat_touched
        .iter()
        .copied()
        .max_by(|&a, &b| {
            s.cat_lines[a as usize]
                .cmp(&s.cat_lines[b as usize])
                .then(b.cmp(&a))
        })
        .unwrap_or(NONE);

    // Co-purchase neighbours of the latest baskets and the cart.
    for &seed in last.iter().chain(cart) {
        let (items, scores) = snap.neighbours(seed);
        for (&j, &sc) in items.iter().zip(scores) {
            if let Some(a) = s.acc.get_mut(j as usize) {
                if *a == 0.0 {
                    s.touched.push(j);
                }
                *a += sc;
            }
        }
    }
    let n_cop = cfg.copurchase_candidates.min(s.touched.len());
    let mut touched = std::mem::take(&mut s.touched);
    let by_score = |a: &u32, b: &u32| {
        s.acc[*b as usize]
            .total_cmp(&s.acc[*a as usize])
            .then(a.cmp(b))
    };
    if n_cop > 0 && n_cop < touched.len() {
        touched.select_nth_unstable_by(n_cop - 1, by_score);
    }
    touched[..n_cop].sort_by(by_score);
    for (rank, &j) in touched[..n_cop].iter().enumerate() {
        if let Some(c) = s.add(j) {
            c.cop_rank = rank as u32;
        }
    }
    if let Some(c) = customer {
        for (rank, &j) in snap.als_items(c).iter().enumerate() {
            if let Some(cand) = s.add(j) {
                cand.als_rank = rank as u32;
            }
        }
    }
    for (rank, &j) in snap.popular.iter().take(cfg.popular_candidates).enumerate() {
        if let Some(c) = s.add(j) {
            c.pop_rank = rank as u32;
        }
    }
    if top_category != NONE {
        for (rank, &j) in snap
            .category_items(top_category)
            .iter()
            .take(cfg.category_candidates)
            .enumerate()
        {
            if let Some(c) = s.add(j) {
                c.cat_rank = rank as u32;
            }
        }
    }

    // History entries of candidates that came from other sources (past the cap).
    for &h in &order {
        let item = snap.hist_item[h as usize] as usize;
        if let Some(&slot) = s.slot.get(item)
            && slot != 0
        {
            let c = &mut s.cands[slot as usize - 1];
            if c.hist == NONE {
                c.hist = h;
            }
        }
    }
    order.clear();
    s.order = order;

    fill_features(snap, customer, last, s);

    for &j in &touched {
        s.acc[j as usize] = 0.0;
    }
    touched.clear();
    s.touched = touched;
    for &c in &s.cat_touched {
        s.cat_lines[c as usize] = 0;
    }
    s.cat_touched.clear();
    for c in &s.cands {
        s.slot[c.item as usize] = 0;
    }
}

fn fill_features(snap: &Snapshot, customer: Option<u32>, last: &[u32], s: &mut Scratch) {
    let t = snap.t;
    let days = |ts: i64| (t - ts) as f32 / DAY as f32;
    let (baskets, lines, last_ts, distinct) = match customer {
        Some(c) => {
            let c = c as usize;
            (
                snap.cust_baskets[c] as f32,
                snap.cust_lines[c] as f32,
                snap.cust_last_ts[c],
                snap.history(c as u32).len() as f32,
            )
        }
        None => (0.0, 0.0, i64::MIN, 0.0),
    };
    let cust_recency = if last_ts == i64::MIN {
        f32::NAN
    } else {
        days(last_ts)
    };
    s.feats.reserve(s.cands.len() * N_FEATURES);
    for c in &s.cands {
        let i = c.item as usize;
        let mut row = [f32::NAN; N_FEATURES];
        if c.hist != NONE {
            let h = c.hist as usize;
            let since_last = days(snap.hist_last[h]);
            let gap = snap.hist_gap_days[h];
            row[1] = snap.hist_baskets[h] as f32;
            row[2] = snap.hist_lines[h] as f32;
            row[3] = snap.hist_baskets[h] as f32 / baskets.max(1.0);
            row[4] = since_last;
            row[5] = days(snap.hist_first[h]);
            row[6] = gap;
            row[7] = since_last / gap.max(1.0);
            row[8] = snap.hist_decayed[h];
        } else {
            row[1] = 0.0;
            row[2] = 0.0;
            row[3] = 0.0;
            row[8] = 0.0;
        }
        row[0] = rank_or_nan(c.hist_rank);
        row[9] = s.acc[i];
        row[10] = rank_or_nan(c.cop_rank);
        row[11] = customer
            .map(|cu| snap.als_dot(cu, c.item))
            .unwrap_or(f32::NAN);
        row[12] = rank_or_nan(c.als_rank);
        row[13] = snap.pop_recent[i];
        row[14] = snap.pop_all[i];
        row[15] = snap.trend[i];
        row[16] = snap.repurchase[i];
        row[17] = rank_or_nan(c.pop_rank);
        row[18] = rank_or_nan(c.cat_rank);
        let cat = snap.item_category[i];
        row[19] = s
            .cat_lines
            .get(cat as usize)
            .map_or(0.0, |&n| n as f32 / lines.max(1.0));
        row[20] = baskets;
        row[21] = cust_recency;
        row[22] = distinct;
        row[23] = last.binary_search(&c.item).is_ok() as u8 as f32;
        s.feats.extend_from_slice(&row);
    }
}
