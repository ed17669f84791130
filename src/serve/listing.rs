//! Customer lists and segment aggregates for CRM work (`GET /v1/customers`,
//! `GET /v1/segments`): every modelled customer's churn probability, scored once per loaded
//! bundle, and one pre-sorted order per sort key, so a page of the riskiest valuable
//! customers is a filtered walk down a ready permutation instead of a sort.
//!
//! Which customers appear is decided by the caller's `listed` predicate (the serving
//! state's `is_listed`), never here, so a customer hidden from answers is hidden from
//! lists, counts and histograms alike.
//!
//! Customers with events since the bundle ([`LiveRow`]) are listed with their recomputed
//! values: their bundle rows are skipped and the (few) live rows, sorted per request, are
//! merged into the walk, so a customer who just bought leaves the top of the risk list at
//! once and a new buyer appears in it.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clv::rfm::Segment;
use crate::ingest::CustomerIdx;
use crate::live::{LiveCustomer, Propensities};
use crate::models::CustomerBase;
use crate::propensity::PropensityModel;
use crate::time::DAY;

/// What a customer list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Churn probability × 365-day value: what is lost if the customer goes.
    ValueAtRisk,
    /// Churn probability.
    Churn,
    /// Expected spend over the value horizon.
    Value,
    /// Days since the last purchase.
    Recency,
    /// Orders before the cutoff.
    Orders,
}

impl SortKey {
    /// Every key, in the order of [`CustomerListing`]'s permutations.
    pub const ALL: [SortKey; 5] = [
        SortKey::ValueAtRisk,
        SortKey::Churn,
        SortKey::Value,
        SortKey::Recency,
        SortKey::Orders,
    ];

    fn slot(self) -> usize {
        match self {
            SortKey::ValueAtRisk => 0,
            SortKey::Churn => 1,
            SortKey::Value => 2,
            SortKey::Recency => 3,
            SortKey::Orders => 4,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Largest first.
    Desc,
    /// Smallest first.
    Asc,
}

/// Which listed customers a list keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ListFilter {
    /// Only this RFM segment.
    pub segment: Option<Segment>,
    /// Only customers whose churn probability is at least this.
    pub min_churn: Option<f32>,
}

/// A customer with live events as lists show them: their recomputed values at their own
/// `as_of`, not the bundle's.
#[derive(Debug, Clone)]
pub struct LiveRow {
    /// External customer id.
    pub id: String,
    /// Their modelled bundle row, whose values this row replaces (`None`: new customer).
    pub bundle_row: Option<usize>,
    /// RFM segment against the bundle's population.
    pub segment: Segment,
    /// Calibrated churn probability.
    pub churn: f32,
    /// Expected spend over the value horizon.
    pub value: f32,
    /// Days between the last purchase and their `as_of`.
    pub recency_days: f32,
    /// Orders before their `as_of`.
    pub orders: u32,
    /// Spend before their `as_of`.
    pub spend: f64,
    /// Last order time (seconds).
    pub last_purchase: i64,
}

impl LiveRow {
    /// The list row of live customer `id`, or `None` while they have no purchase (lists
    /// hold buyers only, as the bundle's modelled rows do).
    pub fn of(
        id: &str,
        c: &LiveCustomer,
        p: &Propensities,
        base: &CustomerBase,
    ) -> Option<LiveRow> {
        let last = p.summary.last?;
        if p.summary.orders == 0 {
            return None;
        }
        Some(LiveRow {
            id: id.to_string(),
            bundle_row: c.bundle_idx.and_then(|i| base.row(CustomerIdx(i))),
            segment: p.scores.segment,
            churn: p.churn as f32,
            value: p.scores.value,
            recency_days: ((c.state.as_of - last) as f64 / DAY as f64) as f32,
            orders: p.summary.orders,
            spend: p.summary.spend,
            last_purchase: last,
        })
    }

    /// Churn probability × value.
    pub fn value_at_risk(&self) -> f32 {
        self.churn * self.value
    }

    fn key(&self, key: SortKey) -> f32 {
        match key {
            SortKey::ValueAtRisk => self.value_at_risk(),
            SortKey::Churn => self.churn,
            SortKey::Value => self.value,
            SortKey::Recency => self.recency_days,
            SortKey::Orders => self.orders as f32,
        }
    }

    fn matches(&self, filter: &ListFilter) -> bool {
        filter.segment.is_none_or(|s| s == self.segment)
            && filter.min_churn.is_none_or(|m| self.churn >= m)
    }
}

/// One entry of a list page: a bundle row, or an index into the request's live rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Modelled bundle row (no live events).
    Bundle(usize),
    /// Index into the live rows the page was built with.
    Live(usize),
}

/// NaN sorts as the smallest value, as in the pre-sorted permutations.
fn sort_value(v: f32) -> f32 {
    if v.is_nan() { f32::NEG_INFINITY } else { v }
}

/// Churn scores of every modelled customer and their rows sorted by each [`SortKey`].
#[derive(Debug, Clone)]
pub struct CustomerListing {
    churn: Vec<f32>,
    value_at_risk: Vec<f32>,
    recency_days: Vec<f32>,
    /// Rows in ascending key order (ties by row), one permutation per key.
    ascending: [Vec<u32>; 5],
}

/// Number of equal-width bins of the churn histogram over [0, 1].
pub const CHURN_BINS: usize = 10;

impl CustomerListing {
    /// Scores every row of `base` with `model` (in parallel) and sorts the rows by each key.
    pub fn build(base: &CustomerBase, model: &PropensityModel) -> CustomerListing {
        let n = base.rows();
        let churn: Vec<f32> = (0..n)
            .into_par_iter()
            .map(|r| model.churn(base.feature_row(r)) as f32)
            .collect();
        let value_at_risk: Vec<f32> = churn
            .iter()
            .zip(&base.scores)
            .map(|(&c, s)| c * s.value)
            .collect();
        let recency_days: Vec<f32> = base
            .first_last
            .iter()
            .map(|&(_, last)| ((base.cutoff - last) as f64 / DAY as f64) as f32)
            .collect();
        let orders: Vec<f32> = base.orders.iter().map(|&o| o as f32).collect();
        let value: Vec<f32> = base.scores.iter().map(|s| s.value).collect();
        let keys: [&[f32]; 5] = [&value_at_risk, &churn, &value, &recency_days, &orders];
        let ascending = keys.map(sorted_rows);
        CustomerListing {
            churn,
            value_at_risk,
            recency_days,
            ascending,
        }
    }

    /// Churn probability of row `r` (NaN if the model could not score it).
    pub fn churn(&self, r: usize) -> f32 {
        self.churn.get(r).copied().unwrap_or(f32::NAN)
    }

    /// Churn probability × value of row `r`.
    pub fn value_at_risk(&self, r: usize) -> f32 {
        self.value_at_risk.get(r).copied().unwrap_or(f32::NAN)
    }

    /// Days between row `r`'s last purchase and the cutoff.
    pub fn recency_days(&self, r: usize) -> f32 {
        self.recency_days.get(r).copied().unwrap_or(f32::NAN)
    }

    fn key(&self, base: &CustomerBase, key: SortKey, r: usize) -> f32 {
        match key {
            SortKey::ValueAtRisk => self.value_at_risk(r),
            SortKey::Churn => self.churn(r),
            SortKey::Value => base.scores.get(r).map_or(f32::NAN, |s| s.value),
            SortKey::Recency => self.recency_days(r),
            SortKey::Orders => base.orders.get(r).map_or(f32::NAN, |&o| o as f32),
        }
    }

    /// Rows in the requested order; unscorable (NaN) keys sort as the smallest.
    pub fn ordered(&self, key: SortKey, order: SortOrder) -> Box<dyn Iterator<Item = usize> + '_> {
        let rows = self.ascending[key.slot()].iter().map(|&r| r as usize);
        match order {
            SortOrder::Asc => Box::new(rows),
            SortOrder::Desc => Box::new(rows.rev()),
        }
    }

    /// Whether row `r` passes `filter` (listing is the caller's decision).
    pub fn matches(&self, base: &CustomerBase, r: usize, filter: &ListFilter) -> bool {
        if let Some(seg) = filter.segment
            && base.scores.get(r).map(|s| s.segment) != Some(seg)
        {
            return false;
        }
        match filter.min_churn {
            // NaN fails every comparison, so an unscored customer never passes a threshold.
            Some(min) => self.churn(r) >= min,
            None => true,
        }
    }

    /// One page of the customers passing `filter` — bundle rows `listed` admits and have no
    /// live row, and the `live` rows with their own values — in the requested order (ties:
    /// bundle rows by row, then live rows by id; NaN smallest) from `offset`, at most `limit`
    /// of them, and how many pass in total.
    pub fn page(
        &self,
        base: &CustomerBase,
        sort: (SortKey, SortOrder),
        filter: &ListFilter,
        listed: impl Fn(usize) -> bool,
        live: &[LiveRow],
        (offset, limit): (usize, usize),
    ) -> (usize, Vec<Listed>) {
        let (key, order) = sort;
        let replaced = replaced_rows(base, live);
        let mut live_order: Vec<usize> = (0..live.len())
            .filter(|&i| live[i].matches(filter))
            .collect();
        live_order.sort_by(|&a, &b| {
            sort_value(live[a].key(key))
                .total_cmp(&sort_value(live[b].key(key)))
                .then_with(|| live[a].id.cmp(&live[b].id))
        });
        if order == SortOrder::Desc {
            live_order.reverse();
        }
        let bundle = self
            .ordered(key, order)
            .filter(|&r| listed(r) && !replaced[r] && self.matches(base, r, filter));
        let mut bundle = bundle.peekable();
        let mut live_iter = live_order.into_iter().peekable();
        let mut total = 0;
        let mut rows = Vec::with_capacity(limit.min(1024));
        loop {
            let next = match (bundle.peek(), live_iter.peek()) {
                (None, None) => break,
                (Some(&r), None) => Listed::Bundle(r),
                (None, Some(&l)) => Listed::Live(l),
                (Some(&r), Some(&l)) => {
                    let kb = sort_value(self.key(base, key, r));
                    let kl = sort_value(live[l].key(key));
                    // Equal keys: bundle rows first ascending, so last descending.
                    let bundle_first = match order {
                        SortOrder::Asc => kb.total_cmp(&kl).is_le(),
                        SortOrder::Desc => kb.total_cmp(&kl).is_gt(),
                    };
                    if bundle_first {
                        Listed::Bundle(r)
                    } else {
                        Listed::Live(l)
                    }
                }
            };
            match next {
                Listed::Bundle(_) => bundle.next(),
                Listed::Live(_) => live_iter.next(),
            };
            if total >= offset && rows.len() < limit {
                rows.push(next);
            }
            total += 1;
        }
        (total, rows)
    }

    /// Segment sizes and values and the churn histogram over the bundle rows `listed`
    /// admits (with the values of their live row when they have one) and new live buyers.
    pub fn summary(
        &self,
        base: &CustomerBase,
        listed: impl Fn(usize) -> bool,
        live: &[LiveRow],
    ) -> Summary {
        let mut by_segment: Vec<SegmentSummary> = Vec::new();
        let mut histogram = [0usize; CHURN_BINS];
        let mut customers = 0;
        let mut add = |segment: Segment, value: f32, churn: f32, value_at_risk: f32| {
            customers += 1;
            let slot = match by_segment.iter().position(|x| x.segment == segment) {
                Some(i) => i,
                None => {
                    by_segment.push(SegmentSummary::empty(segment));
                    by_segment.len() - 1
                }
            };
            by_segment[slot].add(value, churn, value_at_risk);
            if churn.is_finite() {
                // Clamped so p = 1.0 falls in the last bin.
                let bin =
                    ((churn.clamp(0.0, 1.0) * CHURN_BINS as f32) as usize).min(CHURN_BINS - 1);
                histogram[bin] += 1;
            }
        };
        let replaced = replaced_rows(base, live);
        for (r, s) in base.scores.iter().enumerate() {
            if listed(r) && !replaced.get(r).copied().unwrap_or(false) {
                add(s.segment, s.value, self.churn(r), self.value_at_risk(r));
            }
        }
        for l in live {
            add(l.segment, l.value, l.churn, l.value_at_risk());
        }
        for s in &mut by_segment {
            s.finish();
        }
        by_segment.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.name.cmp(b.name)));
        Summary {
            customers,
            segments: by_segment,
            churn_histogram: histogram
                .iter()
                .enumerate()
                .map(|(i, &n)| HistogramBin {
                    from: i as f32 / CHURN_BINS as f32,
                    to: (i + 1) as f32 / CHURN_BINS as f32,
                    customers: n,
                })
                .collect(),
        }
    }
}

/// Which bundle rows a live row replaces (indexed by row).
fn replaced_rows(base: &CustomerBase, live: &[LiveRow]) -> Vec<bool> {
    let mut replaced = vec![false; base.rows()];
    for l in live {
        if let Some(slot) = l.bundle_row.and_then(|r| replaced.get_mut(r)) {
            *slot = true;
        }
    }
    replaced
}

/// Rows sorted by `key` ascending, NaN first, ties by row (so the order is deterministic).
fn sorted_rows(key: &[f32]) -> Vec<u32> {
    let mut rows: Vec<u32> = (0..key.len() as u32).collect();
    let k = |r: u32| {
        let v = key[r as usize];
        if v.is_nan() { f32::NEG_INFINITY } else { v }
    };
    rows.par_sort_unstable_by(|&a, &b| k(a).total_cmp(&k(b)).then(a.cmp(&b)));
    rows
}

/// Aggregates over the listed customers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Listed customers.
    pub customers: usize,
    /// One entry per segment that has customers, largest first.
    pub segments: Vec<SegmentSummary>,
    /// Customers per churn-probability bin, [from, to) (the last bin includes 1).
    pub churn_histogram: Vec<HistogramBin>,
}

/// Size and value of one RFM segment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SegmentSummary {
    /// Machine name, as accepted by `segment=`.
    pub segment: Segment,
    /// Display name.
    pub name: &'static str,
    /// Customers in it.
    pub customers: usize,
    /// Sum of their 365-day values (customers without a value estimate count as 0).
    pub value: f64,
    /// Sum of churn × value.
    pub value_at_risk: f64,
    /// Mean churn probability of the scored customers (`null` if none).
    #[schema(required = true)]
    pub mean_churn: Option<f64>,
    #[serde(skip)]
    churn_sum: f64,
    #[serde(skip)]
    churn_n: usize,
}

impl SegmentSummary {
    fn empty(segment: Segment) -> SegmentSummary {
        SegmentSummary {
            segment,
            name: segment.name(),
            customers: 0,
            value: 0.0,
            value_at_risk: 0.0,
            mean_churn: None,
            churn_sum: 0.0,
            churn_n: 0,
        }
    }

    fn add(&mut self, value: f32, churn: f32, value_at_risk: f32) {
        self.customers += 1;
        if value.is_finite() {
            self.value += value as f64;
        }
        if value_at_risk.is_finite() {
            self.value_at_risk += value_at_risk as f64;
        }
        if churn.is_finite() {
            self.churn_sum += churn as f64;
            self.churn_n += 1;
        }
    }

    fn finish(&mut self) {
        self.mean_churn = (self.churn_n > 0).then(|| self.churn_sum / self.churn_n as f64);
    }
}

/// Customers whose churn probability falls in [from, to).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistogramBin {
    /// Lower edge.
    pub from: f32,
    /// Upper edge.
    pub to: f32,
    /// Customers in the bin.
    pub customers: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_rows_puts_nan_first_and_breaks_ties_by_row() {
        let key = [2.0, f32::NAN, 1.0, 2.0, 0.5];
        assert_eq!(sorted_rows(&key), vec![1, 4, 2, 0, 3]);
    }

    #[test]
    fn sort_key_slots_are_distinct() {
        let mut slots: Vec<usize> = SortKey::ALL.iter().map(|k| k.slot()).collect();
        slots.sort_unstable();
        assert_eq!(slots, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn segment_summary_skips_missing_values_and_averages_scored_churn() {
        let mut s = SegmentSummary::empty(Segment::AtRisk);
        s.add(10.0, 0.5, 5.0);
        s.add(f32::NAN, f32::NAN, f32::NAN);
        s.add(30.0, 0.25, 7.5);
        s.finish();
        assert_eq!(s.customers, 3);
        assert_eq!(s.value, 40.0);
        assert_eq!(s.value_at_risk, 12.5);
        assert_eq!(s.mean_churn, Some(0.375));
    }
}
