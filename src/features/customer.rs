//! Point-in-time customer features: everything a churn or repurchase model knows about a
//! customer at snapshot time `T`, computed only from events with timestamp `< T`.

use crate::ingest::{CustomerIdx, EventKind, EventStore, ItemIdx};
use crate::time::DAY;
use rayon::prelude::*;

/// Windows (days) over which order counts and spend are counted.
pub const WINDOWS: [u32; 5] = [7, 14, 30, 60, 90];

/// Names of the behavioural features, in column order (attributes follow, see [`FeatureLayout`]).
pub const BEHAVIOUR_FEATURES: &[&str] = &[
    "recency_days",
    "tenure_days",
    "orders_total",
    "spend_total",
    "orders_7d",
    "orders_14d",
    "orders_30d",
    "orders_60d",
    "orders_90d",
    "spend_7d",
    "spend_14d",
    "spend_30d",
    "spend_60d",
    "spend_90d",
    "orders_trend_30d",
    "spend_trend_30d",
    "avg_basket_lines",
    "avg_basket_value",
    "distinct_items",
    "distinct_categories",
    "gap_mean_days",
    "gap_std_days",
    "gap_last_days",
    "recency_over_gap",
    "orders_per_30d",
    "views_total",
    "views_30d",
    "carts_total",
    "carts_30d",
    "returns_total",
    "return_rate",
    "days_since_view",
    "days_since_cart",
];

/// Column positions of the features most often read by name (explanations, baselines).
pub mod col {
    /// Days since the last order.
    pub const RECENCY: usize = 0;
    /// Days since the first order.
    pub const TENURE: usize = 1;
    /// Orders before the snapshot.
    pub const ORDERS_TOTAL: usize = 2;
    /// Spend before the snapshot.
    pub const SPEND_TOTAL: usize = 3;
    /// Orders in the last 30 days.
    pub const ORDERS_30D: usize = 6;
    /// Orders in the last 90 days.
    pub const ORDERS_90D: usize = 8;
    /// Orders in the last 30 days minus the 30 days before.
    pub const ORDERS_TREND: usize = 14;
    /// Mean days between orders.
    pub const GAP_MEAN: usize = 20;
    /// Days between the last two orders.
    pub const GAP_LAST: usize = 22;
    /// Recency divided by the mean gap.
    pub const RECENCY_OVER_GAP: usize = 23;
}

/// Which columns a feature row has: the behavioural block, then one categorical column per
/// customer attribute of the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureLayout {
    /// Column names.
    pub names: Vec<String>,
    /// Whether each column is categorical (attribute codes).
    pub categorical: Vec<bool>,
}

impl FeatureLayout {
    /// The layout for a store: behavioural features plus `attr_<name>` per attribute.
    pub fn for_store(store: &EventStore) -> FeatureLayout {
        let mut names: Vec<String> = BEHAVIOUR_FEATURES.iter().map(|s| s.to_string()).collect();
        let mut categorical = vec![false; names.len()];
        for a in &store.customer_attrs {
            names.push(format!("attr_{}", a.name));
            categorical.push(true);
        }
        FeatureLayout { names, categorical }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The order history of one customer before `T`, summarised for the count models
/// (BG/NBD and friends), in days.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OrderSummary {
    /// Orders before `T`.
    pub orders: u32,
    /// First order time (seconds), if any.
    pub first: Option<i64>,
    /// Last order time (seconds), if any.
    pub last: Option<i64>,
    /// Total spend.
    pub spend: f64,
}

/// Reusable per-thread buffers, so computing a row does not allocate.
#[derive(Default)]
pub struct Scratch {
    orders: Vec<(i64, f64, u32)>,
    items: Vec<u32>,
    cats: Vec<u32>,
}

/// Fills `out` (length = layout length) with customer `c`'s features at snapshot `t` and
/// returns the order summary. Reads only events with timestamp `< t`.
pub fn customer_row(
    store: &EventStore,
    c: CustomerIdx,
    t: i64,
    out: &mut [f32],
    scratch: &mut Scratch,
) -> OrderSummary {
    let r = store.events_before(c, t);
    let events = CustomerEvents {
        ts: &store.ts[r.clone()],
        kind: &store.kind[r.clone()],
        quantity: &store.quantity[r.clone()],
        price: &store.price[r.clone()],
        basket: &store.basket[r.clone()],
        item: &store.item[r],
    };
    let summary = behaviour_row(&events, &store.item_category, t, out, scratch);
    let nan = f32::NAN;
    for (k, a) in store.customer_attrs.iter().enumerate() {
        let code = a.codes.get(c.index()).copied().unwrap_or(u32::MAX);
        out[BEHAVIOUR_FEATURES.len() + k] = if code == u32::MAX { nan } else { code as f32 };
    }
    summary
}

/// One customer's events in time order as column slices: a store's range, or the server's
/// bundle history merged with events received since. Lines of one basket are adjacent.
#[derive(Clone, Copy, Debug)]
pub struct CustomerEvents<'a> {
    /// Timestamps (seconds), non-decreasing.
    pub ts: &'a [i64],
    /// What happened.
    pub kind: &'a [EventKind],
    /// Units.
    pub quantity: &'a [f32],
    /// Unit price; NaN when unknown.
    pub price: &'a [f32],
    /// Basket id; only equality between neighbours matters.
    pub basket: &'a [u32],
    /// Item.
    pub item: &'a [ItemIdx],
}

/// Fills the behavioural block (`out[..BEHAVIOUR_FEATURES.len()]`, attribute columns are
/// left alone) from `events` at snapshot `t` and returns the order summary. Events at or
/// after `t` are ignored, so callers may pass a customer's whole history.
pub fn behaviour_row(
    events: &CustomerEvents<'_>,
    item_category: &[u32],
    t: i64,
    out: &mut [f32],
    scratch: &mut Scratch,
) -> OrderSummary {
    let range = 0..events.ts.partition_point(|&x| x < t);
    scratch.orders.clear();
    scratch.items.clear();
    scratch.cats.clear();
    let (mut views, mut views30, mut carts, mut carts30, mut returns) =
        (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut purchase_lines = 0u32;
    let (mut last_view, mut last_cart) = (None::<i64>, None::<i64>);
    let mut current_basket = u32::MAX;
    let t30 = t - 30 * DAY;
    for e in range {
        let ts = events.ts[e];
        debug_assert!(ts < t, "the range stops before the snapshot");
        match events.kind[e] {
            EventKind::Purchase => {
                let q = events.quantity[e] as f64;
                let p = events.price[e] as f64;
                let value = if p.is_finite() { q * p } else { 0.0 };
                if events.basket[e] != current_basket {
                    current_basket = events.basket[e];
                    scratch.orders.push((ts, value, 1));
                } else if let Some(o) = scratch.orders.last_mut() {
                    o.1 += value;
                    o.2 += 1;
                }
                purchase_lines += 1;
                let item = events.item[e];
                scratch.items.push(item.0);
                let cat = item_category.get(item.index()).copied().unwrap_or(u32::MAX);
                if cat != u32::MAX {
                    scratch.cats.push(cat);
                }
            }
            EventKind::View => {
                views += 1;
                views30 += (ts >= t30) as u32;
                last_view = Some(ts);
            }
            EventKind::Cart => {
                carts += 1;
                carts30 += (ts >= t30) as u32;
                last_cart = Some(ts);
            }
            EventKind::Return => returns += 1,
        }
    }
    let days = |secs: i64| secs as f64 / DAY as f64;
    let orders = &scratch.orders;
    let n = orders.len();
    let nan = f32::NAN;
    out[..BEHAVIOUR_FEATURES.len()].fill(nan);
    let first = orders.first().map(|o| o.0);
    let last = orders.last().map(|o| o.0);
    let spend_total: f64 = orders.iter().map(|o| o.1).sum();
    let recency = last.map(|l| days(t - l));
    out[0] = recency.map_or(nan, |r| r as f32);
    out[1] = first.map_or(nan, |f| days(t - f) as f32);
    out[2] = n as f32;
    out[3] = spend_total as f32;
    for (k, w) in WINDOWS.iter().enumerate() {
        let since = t - *w as i64 * DAY;
        let (cnt, spend) = orders
            .iter()
            .rev()
            .take_while(|o| o.0 >= since)
            .fold((0u32, 0.0f64), |(c, s), o| (c + 1, s + o.1));
        out[4 + k] = cnt as f32;
        out[9 + k] = spend as f32;
    }
    let t60 = t - 60 * DAY;
    let (prev_n, prev_s) = orders
        .iter()
        .filter(|o| o.0 >= t60 && o.0 < t30)
        .fold((0u32, 0.0f64), |(c, s), o| (c + 1, s + o.1));
    out[14] = out[6] - prev_n as f32;
    out[15] = out[11] - prev_s as f32;
    if n > 0 {
        out[16] = purchase_lines as f32 / n as f32;
        out[17] = (spend_total / n as f64) as f32;
    } else {
        out[16] = 0.0;
        out[17] = 0.0;
    }
    scratch.items.sort_unstable();
    scratch.items.dedup();
    scratch.cats.sort_unstable();
    scratch.cats.dedup();
    out[18] = scratch.items.len() as f32;
    out[19] = scratch.cats.len() as f32;
    if n >= 2 {
        let gaps = orders.windows(2).map(|w| days(w[1].0 - w[0].0));
        let m = (n - 1) as f64;
        let mean = gaps.clone().sum::<f64>() / m;
        let var = gaps.map(|g| (g - mean) * (g - mean)).sum::<f64>() / m;
        out[20] = mean as f32;
        out[21] = var.sqrt() as f32;
        out[22] = days(orders[n - 1].0 - orders[n - 2].0) as f32;
        if let Some(r) = recency {
            out[23] = (r / mean.max(1.0)) as f32;
        }
    }
    if let Some(f) = first {
        out[24] = (n as f64 / days(t - f).max(1.0) * 30.0) as f32;
    } else {
        out[24] = 0.0;
    }
    out[25] = views as f32;
    out[26] = views30 as f32;
    out[27] = carts as f32;
    out[28] = carts30 as f32;
    out[29] = returns as f32;
    out[30] = if purchase_lines > 0 {
        returns as f32 / purchase_lines as f32
    } else {
        0.0
    };
    out[31] = last_view.map_or(nan, |v| days(t - v) as f32);
    out[32] = last_cart.map_or(nan, |v| days(t - v) as f32);
    OrderSummary {
        orders: n as u32,
        first,
        last,
        spend: spend_total,
    }
}

/// Feature rows for many customers at one snapshot, row-major.
#[derive(Debug, Clone)]
pub struct FeatureRows {
    /// Columns.
    pub layout: FeatureLayout,
    /// Customer of each row.
    pub customers: Vec<CustomerIdx>,
    /// Row-major values, `customers.len() × layout.len()`.
    pub values: Vec<f32>,
    /// Order summary of each row.
    pub summaries: Vec<OrderSummary>,
}

impl FeatureRows {
    /// Feature values of row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        let w = self.layout.len();
        &self.values[r * w..(r + 1) * w]
    }
}

/// Computes features at snapshot `t` for `customers`, in parallel; rows keep the input order.
pub fn compute(store: &EventStore, customers: &[CustomerIdx], t: i64) -> FeatureRows {
    let layout = FeatureLayout::for_store(store);
    let w = layout.len();
    let mut values = vec![0f32; customers.len() * w];
    let mut summaries = vec![OrderSummary::default(); customers.len()];
    values
        .par_chunks_mut(w.max(1))
        .zip(summaries.par_iter_mut())
        .zip(customers.par_iter())
        .for_each_init(Scratch::default, |scratch, ((row, summary), &c)| {
            *summary = customer_row(store, c, t, row, scratch);
        });
    FeatureRows {
        layout,
        customers: customers.to_vec(),
        values,
        summaries,
    }
}
