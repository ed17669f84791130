//! Candidate generation and the ranker's feature rows, shared by training and serving so
//! both see exactly the same numbers.

use super::{NONE, RecommendConfig, Snapshot};
use crate::time::DAY;

/// Number of ranker features per (customer, item) candidate.
pub const N_FEATURES: usize = 31;

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
    "decayed_rel",
    "customer_repeat_ratio",
    "recent_baskets",
    "customer_overdue",
    "knn_score",
    "knn_rank",
    "knn_rel",
];

/// One customer's history rows and profile as candidate generation reads them, whether they
/// come from the snapshot or from a live history (row `i` of every slice is one item).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CustomerView<'a> {
    /// Time the customer's day counts and decay are measured from.
    pub t: i64,
    pub item: &'a [u32],
    pub baskets: &'a [u32],
    pub lines: &'a [u32],
    pub first: &'a [i64],
    pub last: &'a [i64],
    pub gap: &'a [f32],
    pub decayed: &'a [f32],
    /// How many of the latest `recent_baskets` baskets hold the item.
    pub recent: &'a [u32],
    pub n_baskets: u32,
    pub n_lines: u32,
    /// `i64::MIN` when the customer has no purchase.
    pub last_ts: i64,
    /// Distinct items of the latest baskets, sorted.
    pub last_items: &'a [u32],
    /// Precomputed ALS candidates, best first.
    pub als_items: &'a [u32],
    /// User-kNN items, best first, and their scores.
    pub knn_items: &'a [u32],
    pub knn_scores: &'a [f32],
    /// The customer's ALS factors, when the snapshot has them.
    pub factors: Option<&'a [f32]>,
}

impl CustomerView<'_> {
    /// A customer with no history at time `t` (cart-only requests).
    pub fn empty(t: i64) -> CustomerView<'static> {
        CustomerView {
            t,
            item: &[],
            baskets: &[],
            lines: &[],
            first: &[],
            last: &[],
            gap: &[],
            decayed: &[],
            recent: &[],
            n_baskets: 0,
            n_lines: 0,
            last_ts: i64::MIN,
            last_items: &[],
            als_items: &[],
            knn_items: &[],
            knn_scores: &[],
            factors: None,
        }
    }
}

/// One candidate and where it came from (ranks are [`NONE`] when a source did not offer it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub item: u32,
    /// Row of the customer's history ([`CustomerView`]), or [`NONE`].
    pub hist: u32,
    pub hist_rank: u32,
    pub cop_rank: u32,
    pub als_rank: u32,
    pub pop_rank: u32,
    pub cat_rank: u32,
    pub knn_rank: u32,
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
    /// Candidates that pass the request's filters, in candidate order.
    pub(crate) selected: Vec<u32>,
    /// Feature rows of `selected` when some candidates were filtered out.
    pub(crate) picked: Vec<f32>,
    /// Raw ranker scores of the selected rows.
    pub(crate) raw: Vec<f64>,
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
                knn_rank: NONE,
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

/// Fills `scratch.cands` with every source's candidates for customer `cv` and `cart`, and
/// `scratch.feats` with one [`N_FEATURES`] row per candidate.
pub(crate) fn gather(
    snap: &Snapshot,
    cfg: &RecommendConfig,
    cv: &CustomerView<'_>,
    cart: &[u32],
    s: &mut Scratch,
) {
    s.fit(snap.n_items(), snap.n_categories as usize);
    s.cands.clear();
    s.feats.clear();
    let last = cv.last_items;

    // Own history, best by recency-decayed basket count; also the category profile.
    s.order.clear();
    s.order.extend(0..cv.item.len() as u32);
    s.order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        cv.decayed[b]
            .total_cmp(&cv.decayed[a])
            .then(cv.last[b].cmp(&cv.last[a]))
            .then(a.cmp(&b))
    });
    let mut order = std::mem::take(&mut s.order);
    for (rank, &h) in order.iter().enumerate() {
        let h = h as usize;
        let cat = snap
            .item_category
            .get(cv.item[h] as usize)
            .copied()
            .unwrap_or(NONE);
        if let Some(n) = s.cat_lines.get_mut(cat as usize) {
            if *n == 0 {
                s.cat_touched.push(cat);
            }
            *n += cv.lines[h];
        }
        if rank < cfg.history_cap
            && let Some(c) = s.add(cv.item[h])
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
    for (rank, &j) in cv.als_items.iter().enumerate() {
        if let Some(cand) = s.add(j) {
            cand.als_rank = rank as u32;
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

    // User-kNN: its first items are candidates, the rest only score existing candidates.
    for (rank, &j) in cv.knn_items.iter().enumerate() {
        if rank < cfg.knn_candidates {
            if let Some(c) = s.add(j) {
                c.knn_rank = rank as u32;
            }
        } else if let Some(&slot) = s.slot.get(j as usize)
            && slot != 0
        {
            s.cands[slot as usize - 1].knn_rank = rank as u32;
        }
    }

    // History entries of candidates that came from other sources (past the cap).
    for &h in &order {
        let item = cv.item[h as usize] as usize;
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

    fill_features(snap, cv, s);

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

/// Customer-level aggregates of the history rows that the relative features divide by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Profile {
    /// Largest decayed count of any item (NaN without history).
    pub max_decayed: f32,
    /// Share of (basket, item) pairs whose item was in an earlier basket too.
    pub repeat_ratio: f32,
    /// Days since the last purchase over the mean days between baskets (NaN below 2
    /// baskets).
    pub overdue: f32,
}

impl Profile {
    /// Aggregates `cv`'s rows (one pass; no allocation).
    pub fn of(cv: &CustomerView<'_>) -> Profile {
        let mut max_decayed = f32::NAN;
        let mut pairs = 0u64;
        let mut first = i64::MAX;
        for h in 0..cv.item.len() {
            max_decayed = if max_decayed.is_nan() {
                cv.decayed[h]
            } else {
                max_decayed.max(cv.decayed[h])
            };
            pairs += cv.baskets[h] as u64;
            first = first.min(cv.first[h]);
        }
        let distinct = cv.item.len() as u64;
        let day = DAY as f32;
        let overdue = if first == i64::MAX || cv.last_ts == i64::MIN || cv.n_baskets < 2 {
            f32::NAN
        } else {
            let gap_days = (cv.last_ts - first) as f32 / day / (cv.n_baskets as f32 - 1.0);
            (cv.t - cv.last_ts) as f32 / day / gap_days.max(1.0)
        };
        Profile {
            max_decayed,
            repeat_ratio: if pairs == 0 {
                f32::NAN
            } else {
                (pairs - distinct) as f32 / pairs as f32
            },
            overdue,
        }
    }
}

fn fill_features(snap: &Snapshot, cv: &CustomerView<'_>, s: &mut Scratch) {
    let profile = Profile::of(cv);
    let t = cv.t;
    let days = |ts: i64| (t - ts) as f32 / DAY as f32;
    let (baskets, lines, last_ts, distinct) = (
        cv.n_baskets as f32,
        cv.n_lines as f32,
        cv.last_ts,
        cv.item.len() as f32,
    );
    let last = cv.last_items;
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
            let since_last = days(cv.last[h]);
            let gap = cv.gap[h];
            row[1] = cv.baskets[h] as f32;
            row[2] = cv.lines[h] as f32;
            row[3] = cv.baskets[h] as f32 / baskets.max(1.0);
            row[4] = since_last;
            row[5] = days(cv.first[h]);
            row[6] = gap;
            row[7] = since_last / gap.max(1.0);
            row[8] = cv.decayed[h];
            row[24] = cv.decayed[h] / profile.max_decayed;
            row[26] = cv.recent[h] as f32;
        } else {
            row[1] = 0.0;
            row[2] = 0.0;
            row[3] = 0.0;
            row[8] = 0.0;
            row[24] = 0.0;
            row[26] = 0.0;
        }
        row[0] = rank_or_nan(c.hist_rank);
        row[9] = s.acc[i];
        row[10] = rank_or_nan(c.cop_rank);
        row[11] = cv.factors.map_or(f32::NAN, |u| snap.item_dot(u, c.item));
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
        row[25] = profile.repeat_ratio;
        row[27] = profile.overdue;
        if let Some(&best) = cv.knn_scores.first() {
            let score = cv
                .knn_scores
                .get(c.knn_rank as usize)
                .copied()
                .unwrap_or(0.0);
            row[28] = score;
            row[29] = rank_or_nan(c.knn_rank);
            row[30] = score / best.max(f32::MIN_POSITIVE);
        }
        s.feats.extend_from_slice(&row);
    }
}
