//! Everything the sources know at one time `T`, built from purchases strictly before `T`
//! and kept as flat arrays so it can be stored as raw bundle sections. `build.rs` builds
//! it, one named step per source; this file reads it.

use super::NONE;
use super::features::CustomerView;
use crate::ingest::{CustomerIdx, EventKind, EventStore};
use crate::time::DAY;

mod build;

/// Point-in-time summaries of customers and items (see the module doc of `ranking`).
///
/// The large per-customer and per-item arrays are skipped by serde: the model bundle
/// stores them as raw sections (see [`Snapshot::large_arrays`]) so they load with a copy
/// instead of per-element decoding.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The snapshot time: every array reflects purchases strictly before it.
    pub t: i64,
    /// CSR offsets over customers into the `hist_*` arrays (`n_customers + 1`).
    #[serde(skip)]
    pub hist_ptr: Vec<u32>,
    /// Item of each (customer, item) history entry; rows sorted by item.
    #[serde(skip)]
    pub hist_item: Vec<u32>,
    /// Distinct baskets holding the item.
    #[serde(skip)]
    pub hist_baskets: Vec<u32>,
    /// Purchase lines of the item.
    #[serde(skip)]
    pub hist_lines: Vec<u32>,
    /// First purchase time.
    #[serde(skip)]
    pub hist_first: Vec<i64>,
    /// Last purchase time.
    #[serde(skip)]
    pub hist_last: Vec<i64>,
    /// Mean days between the baskets holding the item (NaN when bought in one basket).
    #[serde(skip)]
    pub hist_gap_days: Vec<f32>,
    /// Sum over those baskets of `0.5^(age / half_life)`.
    #[serde(skip)]
    pub hist_decayed: Vec<f32>,
    /// How many of the customer's latest `recent_baskets` baskets hold the item.
    #[serde(skip)]
    pub hist_recent: Vec<u32>,
    /// Baskets per customer.
    #[serde(skip)]
    pub cust_baskets: Vec<u32>,
    /// Purchase lines per customer.
    #[serde(skip)]
    pub cust_lines: Vec<u32>,
    /// Last purchase time per customer (`i64::MIN` when none).
    #[serde(skip)]
    pub cust_last_ts: Vec<i64>,
    /// CSR offsets over customers into `last_item`.
    #[serde(skip)]
    pub last_ptr: Vec<u32>,
    /// Distinct items of each customer's latest baskets.
    #[serde(skip)]
    pub last_item: Vec<u32>,
    /// Category of each item ([`NONE`] when unknown).
    pub item_category: Vec<u32>,
    /// Whether each item may be recommended (catalogue availability).
    pub item_available: Vec<bool>,
    /// Number of categories.
    pub n_categories: u32,
    /// Distinct buyers per item, all time.
    pub pop_all: Vec<f32>,
    /// Distinct buyers per item in the recent window.
    pub pop_recent: Vec<f32>,
    /// (lines in the recent window + 1) / (lines in the window before it + 1).
    pub trend: Vec<f32>,
    /// Share of an item's buyers who bought it in at least two baskets.
    pub repurchase: Vec<f32>,
    /// Items by recent popularity, best first (truncated).
    pub popular: Vec<u32>,
    /// Items by all-time distinct buyers, best first (truncated).
    pub popular_all: Vec<u32>,
    /// CSR offsets over categories into `category_popular`.
    pub category_ptr: Vec<u32>,
    /// Each category's items by recent popularity, best first (truncated).
    pub category_popular: Vec<u32>,
    /// Co-purchase CSR offsets over items.
    #[serde(skip)]
    pub nb_ptr: Vec<u32>,
    /// Co-purchase neighbour items, best first per item.
    #[serde(skip)]
    pub nb_item: Vec<u32>,
    /// Co-purchase neighbour scores.
    #[serde(skip)]
    pub nb_score: Vec<f32>,
    /// CSR offsets over customers into the user-kNN lists.
    #[serde(skip)]
    pub knn_ptr: Vec<u32>,
    /// Each customer's user-kNN items (own items included), best first.
    #[serde(skip)]
    pub knn_item: Vec<u32>,
    /// User-kNN scores, parallel to `knn_item`.
    #[serde(skip)]
    pub knn_score: Vec<f32>,
    /// ALS factor count (row stride of the factor matrices).
    pub factors: u32,
    /// ALS customer factors, row-major.
    #[serde(skip)]
    pub user_factors: Vec<f32>,
    /// ALS item factors, row-major.
    #[serde(skip)]
    pub item_factors: Vec<f32>,
    /// CSR offsets over customers into the precomputed ALS top-N.
    #[serde(skip)]
    pub als_ptr: Vec<u32>,
    /// Each customer's ALS top-N items outside their history, best first.
    #[serde(skip)]
    pub als_item: Vec<u32>,
    /// CSR offsets over customers into the ranked cache (empty when not computed).
    #[serde(skip)]
    pub top_ptr: Vec<u32>,
    /// Each customer's best items at `T` for an unfiltered request, best first, packed as
    /// `item | source << 30` (see `recommender::pack`).
    #[serde(skip)]
    pub top_item: Vec<u32>,
    /// Ranker scores of `top_item`.
    #[serde(skip)]
    pub top_score: Vec<f32>,
}

/// The snapshot's large arrays by name and element type (bundle raw sections).
pub struct LargeArrays<'a> {
    /// `u32` arrays.
    pub u32s: Vec<(&'static str, &'a [u32])>,
    /// `i64` arrays (timestamps).
    pub i64s: Vec<(&'static str, &'a [i64])>,
    /// `f32` arrays.
    pub f32s: Vec<(&'static str, &'a [f32])>,
}

/// [`LargeArrays`], writable, for loading.
pub struct LargeArraysMut<'a> {
    /// `u32` arrays.
    pub u32s: Vec<(&'static str, &'a mut Vec<u32>)>,
    /// `i64` arrays (timestamps).
    pub i64s: Vec<(&'static str, &'a mut Vec<i64>)>,
    /// `f32` arrays.
    pub f32s: Vec<(&'static str, &'a mut Vec<f32>)>,
}

/// One list of the serde-skipped fields, so writing and reading cannot disagree.
macro_rules! large_arrays {
    (u32: [$($u:ident),*], i64: [$($i:ident),*], f32: [$($f:ident),*]) => {
        impl Snapshot {
            /// The large arrays serde skips, by field name.
            pub fn large_arrays(&self) -> LargeArrays<'_> {
                LargeArrays {
                    u32s: vec![$((stringify!($u), &self.$u[..])),*],
                    i64s: vec![$((stringify!($i), &self.$i[..])),*],
                    f32s: vec![$((stringify!($f), &self.$f[..])),*],
                }
            }

            /// The large arrays serde skips, writable (fill them after decoding the rest,
            /// then call [`Snapshot::validate`]).
            pub fn large_arrays_mut(&mut self) -> LargeArraysMut<'_> {
                LargeArraysMut {
                    u32s: vec![$((stringify!($u), &mut self.$u)),*],
                    i64s: vec![$((stringify!($i), &mut self.$i)),*],
                    f32s: vec![$((stringify!($f), &mut self.$f)),*],
                }
            }
        }
    };
}

large_arrays!(
    u32: [hist_ptr, hist_item, hist_baskets, hist_lines, hist_recent, cust_baskets, cust_lines, last_ptr, last_item, nb_ptr, nb_item, knn_ptr, knn_item, als_ptr, als_item, top_ptr, top_item],
    i64: [hist_first, hist_last, cust_last_ts],
    f32: [hist_gap_days, hist_decayed, nb_score, knn_score, user_factors, item_factors, top_score]
);

/// Low bits of a packed ranked-cache entry holding the item.
pub(crate) const ITEM_MASK: u32 = (1 << 30) - 1;

/// One purchase line of a customer's history, for live recomputation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Dense item index (items unknown to the bundle are skipped).
    pub item: u32,
    /// Purchase time (seconds since the epoch).
    pub ts: i64,
    /// Basket id; a customer's lines of one basket are contiguous in time order.
    pub basket: u32,
}

/// One customer's history before `t`, grouped by item: the rows `Snapshot` stores in its
/// `hist_*` arrays, and what a live history holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CustomerHistory {
    pub item: Vec<u32>,
    pub baskets: Vec<u32>,
    pub lines: Vec<u32>,
    pub first: Vec<i64>,
    pub last: Vec<i64>,
    pub gap: Vec<f32>,
    pub decayed: Vec<f32>,
    pub recent: Vec<u32>,
    pub n_baskets: u32,
    pub n_lines: u32,
    pub last_ts: i64,
    pub last_items: Vec<u32>,
}

/// Customer `c`'s purchase lines before `t`, in time order.
fn purchase_lines(store: &EventStore, c: u32, t: i64) -> Vec<HistoryEvent> {
    store
        .events_before(CustomerIdx(c), t)
        .filter(|&e| store.kind[e] == EventKind::Purchase)
        .map(|e| HistoryEvent {
            item: store.item[e].0,
            ts: store.ts[e],
            basket: store.basket[e],
        })
        .collect()
}

/// Summarises one customer's purchase `lines` (time order, baskets contiguous, all before
/// `t`) by item: the single definition of a history row, shared by [`Snapshot::build`] and
/// live histories. `recent_baskets` is the window of [`CustomerHistory::recent`].
pub(crate) fn summarise_history(
    lines: Vec<HistoryEvent>,
    t: i64,
    half_life: f64,
    last_baskets: usize,
    recent_baskets: usize,
) -> CustomerHistory {
    let mut h = CustomerHistory {
        last_ts: i64::MIN,
        ..Default::default()
    };
    if lines.is_empty() {
        return h;
    }
    h.n_lines = lines.len() as u32;
    h.last_ts = lines.iter().map(|l| l.ts).max().unwrap_or(i64::MIN);
    // Latest baskets: walk back over distinct basket ids.
    let mut seen_baskets = 0usize;
    let mut prev_basket = NONE;
    for l in lines.iter().rev() {
        if l.basket != prev_basket {
            seen_baskets += 1;
            prev_basket = l.basket;
            if seen_baskets > last_baskets {
                break;
            }
        }
        h.last_items.push(l.item);
    }
    h.last_items.sort_unstable();
    h.last_items.dedup();
    // Each line's basket ordinal in time order (0 = the customer's first basket).
    let mut ordinal = 0u32;
    let mut prev_basket = NONE;
    let mut lines: Vec<(HistoryEvent, u32)> = lines
        .into_iter()
        .enumerate()
        .map(|(k, l)| {
            if k > 0 && l.basket != prev_basket {
                ordinal += 1;
            }
            prev_basket = l.basket;
            (l, ordinal)
        })
        .collect();
    h.n_baskets = ordinal + 1;
    let recent_from = h.n_baskets.saturating_sub(recent_baskets as u32);
    lines.sort_by_key(|(l, o)| (l.item, *o, l.ts));
    let mut i = 0;
    while i < lines.len() {
        let item = lines[i].0.item;
        let mut j = i;
        let mut baskets = 0u32;
        let mut recent = 0u32;
        let mut decayed = 0.0f64;
        let mut prev = NONE;
        while j < lines.len() && lines[j].0.item == item {
            let (l, o) = lines[j];
            if o != prev {
                baskets += 1;
                prev = o;
                recent += (o >= recent_from) as u32;
                let age_days = (t - l.ts) as f64 / DAY as f64;
                decayed += 0.5f64.powf(age_days / half_life);
            }
            j += 1;
        }
        let first = lines[i..j].iter().map(|l| l.0.ts).min().unwrap_or(t);
        let last = lines[i..j].iter().map(|l| l.0.ts).max().unwrap_or(t);
        h.recent.push(recent);

        h.item.push(item);
        h.baskets.push(baskets);
        h.lines.push((j - i) as u32);
        h.first.push(first);
        h.last.push(last);
        h.gap.push(if baskets > 1 {
            ((last - first) as f64 / DAY as f64 / (baskets - 1) as f64) as f32
        } else {
            f32::NAN
        });
        h.decayed.push(decayed as f32);
        i = j;
    }
    h
}

impl Snapshot {
    /// Checks that every array agrees with the others (lengths, CSR offsets, item and
    /// category references), so a decoded snapshot can be indexed without panicking.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.n_customers();
        let n_items = self.n_items();
        let len_is = |what: &str, len: usize, want: usize| {
            if len == want {
                Ok(())
            } else {
                Err(format!("{what} has {len} entries, expected {want}"))
            }
        };
        let csr = |what: &str, ptr: &[u32], rows: usize, values: usize| {
            len_is(what, ptr.len(), rows + 1)?;
            if ptr.first() != Some(&0)
                || ptr.windows(2).any(|w| w[0] > w[1])
                || ptr.last().map(|&x| x as usize) != Some(values)
            {
                return Err(format!("{what} offsets are not a CSR over {values} values"));
            }
            Ok(())
        };
        let items_ok =
            |what: &str, items: &[u32]| match items.iter().find(|&&i| i as usize >= n_items) {
                Some(i) => Err(format!("{what} refers to item {i} of {n_items}")),
                None => Ok(()),
            };
        if self.hist_ptr.is_empty() {
            return Err("hist_ptr is empty".to_string());
        }
        let h = self.hist_item.len();
        csr("hist_ptr", &self.hist_ptr, n, h)?;
        len_is("hist_baskets", self.hist_baskets.len(), h)?;
        len_is("hist_lines", self.hist_lines.len(), h)?;
        len_is("hist_first", self.hist_first.len(), h)?;
        len_is("hist_last", self.hist_last.len(), h)?;
        len_is("hist_gap_days", self.hist_gap_days.len(), h)?;
        len_is("hist_decayed", self.hist_decayed.len(), h)?;
        len_is("hist_recent", self.hist_recent.len(), h)?;
        len_is("cust_baskets", self.cust_baskets.len(), n)?;
        len_is("cust_lines", self.cust_lines.len(), n)?;
        len_is("cust_last_ts", self.cust_last_ts.len(), n)?;
        csr("last_ptr", &self.last_ptr, n, self.last_item.len())?;
        csr("als_ptr", &self.als_ptr, n, self.als_item.len())?;
        csr("knn_ptr", &self.knn_ptr, n, self.knn_item.len())?;
        len_is("knn_score", self.knn_score.len(), self.knn_item.len())?;
        len_is("pop_recent", self.pop_recent.len(), n_items)?;
        len_is("trend", self.trend.len(), n_items)?;
        len_is("repurchase", self.repurchase.len(), n_items)?;
        len_is("item_category", self.item_category.len(), n_items)?;
        len_is("item_available", self.item_available.len(), n_items)?;
        csr("nb_ptr", &self.nb_ptr, n_items, self.nb_item.len())?;
        len_is("nb_score", self.nb_score.len(), self.nb_item.len())?;
        csr(
            "category_ptr",
            &self.category_ptr,
            self.n_categories as usize,
            self.category_popular.len(),
        )?;
        if let Some(c) = self
            .item_category
            .iter()
            .find(|&&c| c != NONE && c >= self.n_categories)
        {
            return Err(format!(
                "item_category refers to category {c} of {}",
                self.n_categories
            ));
        }
        let k = self.factors as usize;
        len_is("user_factors", self.user_factors.len(), n * k)?;
        len_is("item_factors", self.item_factors.len(), n_items * k)?;
        items_ok("hist_item", &self.hist_item)?;
        items_ok("last_item", &self.last_item)?;
        items_ok("als_item", &self.als_item)?;
        items_ok("knn_item", &self.knn_item)?;
        items_ok("nb_item", &self.nb_item)?;
        items_ok("popular", &self.popular)?;
        items_ok("popular_all", &self.popular_all)?;
        items_ok("category_popular", &self.category_popular)?;
        if !self.top_ptr.is_empty() {
            csr("top_ptr", &self.top_ptr, n, self.top_item.len())?;
            len_is("top_score", self.top_score.len(), self.top_item.len())?;
            if n_items >= 1 << 30 {
                return Err(format!(
                    "{n_items} items cannot be packed in the ranked cache"
                ));
            }
            let unpacked: Vec<u32> = self.top_item.iter().map(|&x| x & ITEM_MASK).collect();
            items_ok("top_item", &unpacked)?;
            if self.top_item.iter().any(|&x| x >> 30 > 2) {
                return Err("top_item has an unknown source code".to_string());
            }
        }
        Ok(())
    }

    /// Customer `c`'s ranked cache row (packed items and scores; empty when absent).
    pub(crate) fn top(&self, c: u32) -> (&[u32], &[f32]) {
        let r = csr_range(&self.top_ptr, c as usize);
        match (self.top_item.get(r.clone()), self.top_score.get(r)) {
            (Some(i), Some(s)) => (i, s),
            _ => (&[], &[]),
        }
    }

    /// Number of customers covered.
    pub fn n_customers(&self) -> usize {
        self.hist_ptr.len().saturating_sub(1)
    }

    /// Number of items covered.
    pub fn n_items(&self) -> usize {
        self.pop_all.len()
    }

    /// Range of customer `c`'s history entries (empty when out of range).
    pub fn history(&self, c: u32) -> std::ops::Range<usize> {
        csr_range(&self.hist_ptr, c as usize)
    }

    /// Customer `c`'s latest-basket items.
    pub fn last_items(&self, c: u32) -> &[u32] {
        &self.last_item[csr_range(&self.last_ptr, c as usize)]
    }

    /// Customer `c`'s precomputed ALS candidates.
    pub fn als_items(&self, c: u32) -> &[u32] {
        &self.als_item[csr_range(&self.als_ptr, c as usize)]
    }

    /// Customer `c`'s user-kNN items and scores, best first.
    pub fn knn(&self, c: u32) -> (&[u32], &[f32]) {
        let r = csr_range(&self.knn_ptr, c as usize);
        (&self.knn_item[r.clone()], &self.knn_score[r])
    }

    /// Co-purchase neighbours of `item`, best first.
    pub fn neighbours(&self, item: u32) -> (&[u32], &[f32]) {
        let r = csr_range(&self.nb_ptr, item as usize);
        (&self.nb_item[r.clone()], &self.nb_score[r])
    }

    /// Category `c`'s popular items.
    pub fn category_items(&self, c: u32) -> &[u32] {
        &self.category_popular[csr_range(&self.category_ptr, c as usize)]
    }

    /// Dot product of customer `c`'s and `item`'s ALS factors (NaN when either is missing).
    pub fn als_dot(&self, c: u32, item: u32) -> f32 {
        self.user_factor_row(c)
            .map_or(f32::NAN, |u| self.item_dot(u, item))
    }

    /// Customer `c`'s ALS factor row, if the snapshot has one.
    pub fn user_factor_row(&self, c: u32) -> Option<&[f32]> {
        let k = self.factors as usize;
        let u = c as usize * k;
        self.user_factors.get(u..u + k).filter(|_| k > 0)
    }

    /// Dot product of a customer factor row `u` with `item`'s factors (NaN when missing).
    pub fn item_dot(&self, u: &[f32], item: u32) -> f32 {
        let k = self.factors as usize;
        let i = item as usize * k;
        match self.item_factors.get(i..i + k) {
            Some(b) if k > 0 && u.len() == k => u.iter().zip(b).map(|(x, y)| x * y).sum(),
            _ => f32::NAN,
        }
    }

    /// Customer `c`'s history rows and profile as the ranker reads them (empty when out of
    /// range).
    pub(crate) fn customer_view(&self, c: u32) -> CustomerView<'_> {
        let r = self.history(c);
        let ci = c as usize;
        if ci >= self.n_customers() {
            return CustomerView::empty(self.t);
        }
        CustomerView {
            t: self.t,
            item: &self.hist_item[r.clone()],
            baskets: &self.hist_baskets[r.clone()],
            lines: &self.hist_lines[r.clone()],
            first: &self.hist_first[r.clone()],
            last: &self.hist_last[r.clone()],
            gap: &self.hist_gap_days[r.clone()],
            decayed: &self.hist_decayed[r.clone()],
            recent: &self.hist_recent[r],
            n_baskets: self.cust_baskets.get(ci).copied().unwrap_or(0),
            n_lines: self.cust_lines.get(ci).copied().unwrap_or(0),
            last_ts: self.cust_last_ts.get(ci).copied().unwrap_or(i64::MIN),
            last_items: self.last_items(c),
            als_items: self.als_items(c),
            knn_items: self.knn(c).0,
            knn_scores: self.knn(c).1,
            factors: self.user_factor_row(c),
        }
    }
}

/// `ptr[i]..ptr[i + 1]`, or empty when `i` is out of range.
fn csr_range(ptr: &[u32], i: usize) -> std::ops::Range<usize> {
    match (ptr.get(i), ptr.get(i + 1)) {
        (Some(&a), Some(&b)) if a <= b => a as usize..b as usize,
        _ => 0..0,
    }
}
