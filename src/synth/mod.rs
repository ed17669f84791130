//! Synthetic event logs with planted, known structure.
//!
//! Every model in the crate is tested against logs whose truth is known, and the server's demo
//! bundle is trained on one. [`generate`] builds a [`Synthetic`] log in memory (tests never need
//! the disk); [`write_csv`] writes it in the data-contract CSV plus three companion files.
//!
//! # The generative model (what tests may rely on)
//!
//! **Catalog.** `items` items are dealt round-robin over `groups` taste groups after a seeded
//! shuffle, so groups differ in size by at most one. Item popularity is Zipf-like: a seeded
//! permutation gives every item a rank `k` (0 = most popular) and weight `1 / (k + 1)^s` with
//! `s = zipf_exponent`. Each group has one category; an item's listed category is its group's
//! with probability [`CATEGORY_FIDELITY`], else a random other one ("categories follow the
//! groups loosely"). A fraction `unavailable_fraction` of items is discontinued at a uniform
//! time in the second half of the window: nobody buys, views or carts it after that, and
//! `available` is false.
//!
//! **Complementary pairs.** Within each group, items are shuffled and paired off until
//! `pair_fraction` of the group's items belong to a pair; an item is in at most one pair.
//! Whenever a basket line picks one member, the partner joins the basket with probability
//! `pair_prob` (either direction).
//!
//! **Customers (BG/NBD).** Customer `c` draws everything from `Rng::derived(seed, &[c])`:
//! a taste group (uniform), a trip rate `λ ~ Gamma(shape = rate_r, rate = rate_alpha)` per day
//! and a dropout probability `p ~ Beta(dropout_a, dropout_b)`. The first trip happens at a
//! uniform time in the first `join_span` of the window (customers join over time). Trips then
//! follow a Poisson process of rate `λ`; after every *repeat* trip the customer drops out for
//! good with probability `p` (exactly the BG/NBD story, so its parameters are recoverable).
//! A dropped-out customer emits no event of any kind after `dropout_time`, which is the time
//! of their last purchase. Trip times are mapped onto opening hours (08:00–21:00 UTC) by
//! stretching each day's fraction, which keeps the daily trip counts of the process.
//!
//! **Baskets.** A trip buys `1 + Poisson(basket_mean - 1)` picked lines; each pick comes from
//! the customer's group with probability `taste_strength`, else from the whole catalog, always
//! weighted by popularity. Lines are unique per basket; quantities are `1 + Poisson(0.25)`
//! (staples `1 + Poisson(0.5)`, pair partners 1).
//! A line is on promotion (price × 0.8) with probability `promo_prob`.
//!
//! **Staples.** A customer has `min(Poisson(staples_mean), 3)` distinct staples from their
//! group, each with a cycle `cycle_days = U(1.5, 3) / λ`. A staple becomes due
//! `(cycle_days - 1/λ) × U(0.8, 1.2)` days after it was bought and rides on the first trip
//! after that; since the wait for a Poisson trip averages `1/λ`, staple purchases recur every
//! `cycle_days` on average. Staples are never picked, paired or browsed otherwise, so every
//! purchase of a customer's staple is one beat of its cycle.
//!
//! **Views, carts, returns.** Each purchased line is preceded by a cart (probability
//! `cart_prob`, 1–20 minutes before) and by a view (probability `view_prob`, up to two hours
//! before the cart or purchase). Each trip also views `Poisson(browse_views)` items it does
//! not necessarily buy, and between trips the customer has browse-only sessions (1–3 views)
//! at rate `browse_rate × λ`. A line is returned with probability `return_prob` 1–30 days
//! later (same order, quantity and price).
//!
//! **Output.** Events are sorted by timestamp (stable, so ties keep a customer's view → cart
//! → purchase order) and lie in `[start, start + days)`. Purchases carry an order id
//! (`1..`, one per trip, numbered customer by customer); returns carry their purchase's order;
//! views and carts carry [`NO_ORDER`]. Customers are simulated in parallel with rayon, each
//! from its own stream, and then sorted, so the thread count never changes the output.

mod catalog;
mod customer;
mod store;
mod write;

#[cfg(test)]
mod tests;

use rayon::prelude::*;

pub use catalog::{CATEGORY_FIDELITY, category_name};
pub use store::to_store;
pub use write::{SynthError, SynthPaths, customer_id, item_id, write_csv};

/// Order id of events that belong to no order (views and carts).
pub const NO_ORDER: u64 = 0;

/// Most staples one customer can have.
pub const MAX_STAPLES: usize = 3;

/// Parameters of the generator; see the module docs for what each one plants.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// Number of customers.
    pub customers: u32,
    /// Number of items in the catalog (at least 1).
    pub items: u32,
    /// Seed of every random stream.
    pub seed: u64,
    /// Start of the window, seconds since the epoch (UTC).
    pub start: i64,
    /// Length of the window in days.
    pub days: u32,
    /// Number of taste groups (1..=items); group `g` is sold as category `category_name(g)`.
    pub groups: u32,
    /// Fraction of the window over which first purchases are spread, in (0, 1].
    pub join_span: f64,
    /// BG/NBD `r`: shape of the Gamma distribution of trip rates.
    pub rate_r: f64,
    /// BG/NBD `α`: rate of the Gamma distribution of trip rates, in days (mean rate `r/α`).
    pub rate_alpha: f64,
    /// BG/NBD `a`: first shape of the Beta distribution of dropout probabilities.
    pub dropout_a: f64,
    /// BG/NBD `b`: second shape of the Beta distribution of dropout probabilities.
    pub dropout_b: f64,
    /// Zipf exponent of item popularity (0 = uniform).
    pub zipf_exponent: f64,
    /// Probability that a basket line comes from the customer's taste group.
    pub taste_strength: f64,
    /// Mean number of picked (non-staple, non-partner) lines per basket, at least 1.
    pub basket_mean: f64,
    /// Fraction of each group's items that belong to a complementary pair.
    pub pair_fraction: f64,
    /// Probability that buying one member of a pair adds the other to the basket.
    pub pair_prob: f64,
    /// Mean number of staples per customer (capped at [`MAX_STAPLES`]).
    pub staples_mean: f64,
    /// Probability that a purchased line was viewed first.
    pub view_prob: f64,
    /// Probability that a purchased line was put in the cart first.
    pub cart_prob: f64,
    /// Mean number of extra items viewed on each trip.
    pub browse_views: f64,
    /// Browse-only sessions between trips, as a multiple of the customer's trip rate.
    pub browse_rate: f64,
    /// Probability that a purchased line is returned.
    pub return_prob: f64,
    /// Probability that a purchased line is on promotion (20 % off).
    pub promo_prob: f64,
    /// Fraction of items discontinued during the second half of the window.
    pub unavailable_fraction: f64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            customers: 1_000,
            items: 200,
            seed: 42,
            // 2024-01-01T00:00:00Z
            start: 19_723 * crate::time::DAY,
            days: 365,
            groups: 8,
            join_span: 0.75,
            rate_r: 0.9,
            rate_alpha: 20.0,
            dropout_a: 1.0,
            dropout_b: 8.0,
            zipf_exponent: 1.0,
            taste_strength: 0.8,
            basket_mean: 2.5,
            pair_fraction: 0.3,
            pair_prob: 0.5,
            staples_mean: 1.0,
            view_prob: 0.7,
            cart_prob: 0.5,
            browse_views: 1.0,
            browse_rate: 0.5,
            return_prob: 0.03,
            promo_prob: 0.1,
            unavailable_fraction: 0.04,
        }
    }
}

/// Latest window end the generator accepts: 9999-12-31, so timestamps keep four-digit years.
const LAST_SECOND: i64 = 253_402_300_799;

impl SynthConfig {
    /// Checks every field, returning the first invalid one.
    pub fn validate(&self) -> Result<(), SynthError> {
        let mut first = None;
        self.clone().repair(&mut |field, value, reason| {
            if first.is_none() {
                first = Some(SynthError::InvalidConfig {
                    field,
                    value,
                    reason,
                });
            }
        });
        first.map_or(Ok(()), Err)
    }

    /// A copy in which every field [`validate`](Self::validate) would reject is replaced by
    /// its default (`groups` is clamped to `1..=items` instead).
    pub fn sanitized(&self) -> SynthConfig {
        let mut cfg = self.clone();
        cfg.repair(&mut |_, _, _| {});
        cfg
    }

    /// The single list of field rules: fixes each invalid field and reports it.
    fn repair(&mut self, report: &mut dyn FnMut(&'static str, String, &'static str)) {
        let d = SynthConfig::default();
        if self.items == 0 {
            report("items", "0".into(), "must be at least 1");
            self.items = d.items;
        }
        if self.groups == 0 || self.groups > self.items {
            report(
                "groups",
                self.groups.to_string(),
                "must be between 1 and the number of items",
            );
            self.groups = self.groups.clamp(1, self.items);
        }
        if self.days == 0 || self.days > 100_000 {
            report(
                "days",
                self.days.to_string(),
                "must be between 1 and 100000",
            );
            self.days = d.days;
        }
        let first_second = -62_135_596_800; // 0001-01-01
        let end = self
            .start
            .saturating_add(i64::from(self.days) * crate::time::DAY);
        if self.start < first_second || end > LAST_SECOND {
            report(
                "start",
                self.start.to_string(),
                "window must lie within years 0001..=9999",
            );
            self.start = d.start;
        }
        let positive: [(&'static str, &mut f64, f64); 4] = [
            ("rate_r", &mut self.rate_r, d.rate_r),
            ("rate_alpha", &mut self.rate_alpha, d.rate_alpha),
            ("dropout_a", &mut self.dropout_a, d.dropout_a),
            ("dropout_b", &mut self.dropout_b, d.dropout_b),
        ];
        for (field, v, default) in positive {
            if !(v.is_finite() && *v > 0.0) {
                report(field, v.to_string(), "must be a finite number > 0");
                *v = default;
            }
        }
        if !(self.basket_mean.is_finite() && self.basket_mean >= 1.0) {
            report(
                "basket_mean",
                self.basket_mean.to_string(),
                "must be a finite number >= 1",
            );
            self.basket_mean = d.basket_mean;
        }
        let non_negative: [(&'static str, &mut f64, f64); 4] = [
            ("zipf_exponent", &mut self.zipf_exponent, d.zipf_exponent),
            ("staples_mean", &mut self.staples_mean, d.staples_mean),
            ("browse_views", &mut self.browse_views, d.browse_views),
            ("browse_rate", &mut self.browse_rate, d.browse_rate),
        ];
        for (field, v, default) in non_negative {
            if !(v.is_finite() && *v >= 0.0) {
                report(field, v.to_string(), "must be a finite number >= 0");
                *v = default;
            }
        }
        if !(self.join_span > 0.0 && self.join_span <= 1.0) {
            report("join_span", self.join_span.to_string(), "must be in (0, 1]");
            self.join_span = d.join_span;
        }
        let probabilities: [(&'static str, &mut f64, f64); 8] = [
            ("taste_strength", &mut self.taste_strength, d.taste_strength),
            ("pair_fraction", &mut self.pair_fraction, d.pair_fraction),
            ("pair_prob", &mut self.pair_prob, d.pair_prob),
            ("view_prob", &mut self.view_prob, d.view_prob),
            ("cart_prob", &mut self.cart_prob, d.cart_prob),
            ("return_prob", &mut self.return_prob, d.return_prob),
            ("promo_prob", &mut self.promo_prob, d.promo_prob),
            (
                "unavailable_fraction",
                &mut self.unavailable_fraction,
                d.unavailable_fraction,
            ),
        ];
        for (field, v, default) in probabilities {
            if !(0.0..=1.0).contains(v) {
                report(field, v.to_string(), "must be in [0, 1]");
                *v = default;
            }
        }
    }

    /// End of the window (exclusive), seconds since the epoch.
    pub fn end(&self) -> i64 {
        // Saturating: this is public and may be asked of a config that was never validated.
        self.start
            .saturating_add(i64::from(self.days) * crate::time::DAY)
    }
}

/// What happened in one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SynthEventKind {
    /// The customer looked at the item.
    View,
    /// The customer put the item in the cart.
    Cart,
    /// The customer bought the item.
    Purchase,
    /// The customer returned an item bought earlier.
    Return,
}

impl SynthEventKind {
    /// The data-contract spelling (`view`, `cart`, `purchase`, `return`).
    pub fn as_str(self) -> &'static str {
        match self {
            SynthEventKind::View => "view",
            SynthEventKind::Cart => "cart",
            SynthEventKind::Purchase => "purchase",
            SynthEventKind::Return => "return",
        }
    }
}

/// One event of the log, with dense customer and item indices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthEvent {
    /// Customer index (`c000123` in files).
    pub customer: u32,
    /// Item index (`i00042` in files).
    pub item: u32,
    /// Seconds since the epoch (UTC).
    pub ts: i64,
    /// What happened.
    pub kind: SynthEventKind,
    /// Units (at least 1).
    pub quantity: u32,
    /// Unit price paid (or listed, for views and carts), rounded to cents.
    pub price: f32,
    /// Order id, or [`NO_ORDER`] for views and carts.
    pub order: u64,
}

/// A staple: an item one customer rebuys on its own cycle.
#[derive(Clone, Debug, PartialEq)]
pub struct Staple {
    /// Item index.
    pub item: u32,
    /// Mean days between two purchases of it.
    pub cycle_days: f64,
}

/// The planted truth about one customer.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerTruth {
    /// Customer index.
    pub customer: u32,
    /// Taste group.
    pub group: u32,
    /// Trip rate λ, trips per day while alive.
    pub rate_per_day: f64,
    /// Probability of dropping out after each repeat trip.
    pub dropout_prob: f64,
    /// Time of the first trip, or `None` if it would fall after the window.
    pub first_purchase: Option<i64>,
    /// Trips (orders) in the window.
    pub trips: u32,
    /// Time of dropping out (the last purchase), if it happened in the window.
    pub dropout_time: Option<i64>,
    /// The customer's staples.
    pub staples: Vec<Staple>,
}

impl CustomerTruth {
    /// Whether the customer dropped out within the window (a churner).
    pub fn dropped_out(&self) -> bool {
        self.dropout_time.is_some()
    }
}

/// One catalog item with its planted group.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemInfo {
    /// Item index.
    pub item: u32,
    /// True taste group.
    pub group: u32,
    /// Listed category (follows the group with probability [`CATEGORY_FIDELITY`]).
    pub category: String,
    /// Display name.
    pub name: String,
    /// List price.
    pub price: f32,
    /// Popularity rank (0 = most popular).
    pub popularity_rank: u32,
    /// Time the item was discontinued, if it was.
    pub discontinued_at: Option<i64>,
}

impl ItemInfo {
    /// Whether the item can still be sold at the end of the window.
    pub fn available(&self) -> bool {
        self.discontinued_at.is_none()
    }
}

/// A generated log with its planted truth.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Synthetic {
    /// Events sorted by timestamp.
    pub events: Vec<SynthEvent>,
    /// Truth per customer, indexed by customer.
    pub truth: Vec<CustomerTruth>,
    /// Catalog, indexed by item.
    pub items: Vec<ItemInfo>,
    /// Planted complementary pairs `(a, b)` with `a < b`.
    pub pairs: Vec<(u32, u32)>,
}

/// Generates a log. Never panics: fields [`SynthConfig::validate`] would reject are replaced
/// as [`SynthConfig::sanitized`] says.
pub fn generate(cfg: &SynthConfig) -> Synthetic {
    let cfg = cfg.sanitized();
    let catalog = catalog::Catalog::build(&cfg);
    let logs: Vec<customer::CustomerLog> = (0..cfg.customers)
        .into_par_iter()
        .map(|c| customer::simulate(&cfg, &catalog, c))
        .collect();

    let total = logs.iter().map(|l| l.events.len()).sum();
    let mut events = Vec::with_capacity(total);
    let mut truth = Vec::with_capacity(logs.len());
    // Orders are numbered customer by customer after the fact, so each simulation stays
    // independent of the others (and of the thread that ran it).
    let mut order_base = 0u64;
    for log in logs {
        events.extend(log.events.into_iter().map(|mut e| {
            if e.order != NO_ORDER {
                e.order += order_base;
            }
            e
        }));
        order_base += u64::from(log.truth.trips);
        truth.push(log.truth);
    }
    // Stable: equal timestamps keep the customer-major, view → cart → purchase order.
    events.par_sort_by_key(|e| e.ts);
    Synthetic {
        events,
        truth,
        items: catalog.items,
        pairs: catalog.pairs,
    }
}
