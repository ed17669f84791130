//! One customer's life: BG/NBD trips, baskets, staples, browsing and returns.

use super::catalog::Catalog;
use super::{
    CustomerTruth, MAX_STAPLES, NO_ORDER, Staple, SynthConfig, SynthEvent, SynthEventKind,
};
use crate::rng::Rng;
use crate::time::DAY;

/// Shops open at 08:00 UTC and trips spread over the next 13 hours.
const OPEN_SECS: f64 = 8.0 * 3600.0;
const OPEN_HOURS_SECS: f64 = 13.0 * 3600.0;
/// Floor on λ: a Gamma draw can underflow to 0, which would make the next gap infinite.
const MIN_RATE: f64 = 1e-9;
/// Draws before giving up on finding an item still on sale.
const PICK_TRIES: usize = 8;
/// Mean extra units per line beyond the first.
const EXTRA_UNITS: f64 = 0.25;
const PROMO_FACTOR: f32 = 0.8;

/// What the simulation of one customer produced; order ids are local (`1..=trips`).
pub(super) struct CustomerLog {
    pub(super) truth: CustomerTruth,
    pub(super) events: Vec<SynthEvent>,
}

/// A staple with its next due time, in days since the window start.
struct StapleState {
    item: u32,
    cycle_days: f64,
    due_gap_days: f64,
    next_due: f64,
}

/// Simulates customer `c` from its own stream, so the result does not depend on other
/// customers or on which thread runs it.
pub(super) fn simulate(cfg: &SynthConfig, catalog: &Catalog, c: u32) -> CustomerLog {
    let mut sim = Simulation {
        cfg,
        catalog,
        rng: Rng::derived(cfg.seed, &[u64::from(c)]),
        customer: c,
        group: 0,
        staple_items: Vec::new(),
        events: Vec::new(),
    };
    let rng = &mut sim.rng;
    sim.group = rng.below(u64::from(cfg.groups)) as u32;
    let rate = rng.gamma(cfg.rate_r, 1.0 / cfg.rate_alpha).max(MIN_RATE);
    let dropout_prob = rng.beta(cfg.dropout_a, cfg.dropout_b);
    let join = rng.uniform() * f64::from(cfg.days) * cfg.join_span;
    let mean_gap = 1.0 / rate;

    let n_staples = (rng.poisson(cfg.staples_mean) as usize).min(MAX_STAPLES);
    let mut staples: Vec<StapleState> = Vec::with_capacity(n_staples);
    // A small group may not hold enough distinct items; a few tries is plenty otherwise.
    for _ in 0..n_staples * 4 {
        if staples.len() == n_staples {
            break;
        }
        let Some(item) = sim.catalog.by_group[sim.group as usize].sample(&mut sim.rng) else {
            break;
        };
        if staples.iter().any(|s| s.item == item) {
            continue;
        }
        let cycle_days = mean_gap * (1.5 + 1.5 * sim.rng.uniform());
        let due_gap_days = cycle_days - mean_gap;
        staples.push(StapleState {
            item,
            cycle_days,
            due_gap_days,
            next_due: join + sim.rng.uniform() * due_gap_days,
        });
    }

    sim.staple_items = staples.iter().map(|s| s.item).collect();

    let days = f64::from(cfg.days);
    let mut t = join;
    let mut trips = 0u32;
    let mut first_purchase = None;
    let mut dropout_time = None;
    while t < days {
        let ts = sim.timestamp(t);
        if sim.trip(ts, t, u64::from(trips) + 1, &mut staples) {
            trips += 1;
            first_purchase.get_or_insert(ts);
            // BG/NBD: only repeat transactions can be followed by a dropout.
            if trips > 1 && sim.rng.bernoulli(dropout_prob) {
                dropout_time = Some(ts);
                break;
            }
        }
        let gap = sim.rng.exponential(rate);
        sim.browse_sessions(t, gap, cfg.browse_rate * rate);
        t += gap;
    }

    // One place enforces the window and the dropout promise for every kind of event.
    let (start, end) = (cfg.start, cfg.end());
    let last = dropout_time.unwrap_or(i64::MAX);
    let mut events = sim.events;
    events.retain(|e| e.ts >= start && e.ts < end && e.ts <= last);
    events.sort_by_key(|e| (e.ts, e.kind));
    CustomerLog {
        truth: CustomerTruth {
            customer: c,
            group: sim.group,
            rate_per_day: rate,
            dropout_prob,
            first_purchase,
            trips,
            dropout_time,
            staples: staples
                .into_iter()
                .map(|s| Staple {
                    item: s.item,
                    cycle_days: s.cycle_days,
                })
                .collect(),
        },
        events,
    }
}

struct Simulation<'a> {
    cfg: &'a SynthConfig,
    catalog: &'a Catalog,
    rng: Rng,
    customer: u32,
    group: u32,
    /// Bought only on their cycle, never picked, so their rhythm stays visible in the log.
    staple_items: Vec<u32>,
    events: Vec<SynthEvent>,
}

impl Simulation<'_> {
    /// Maps `t` days since the start onto opening hours of the same day.
    fn timestamp(&self, t: f64) -> i64 {
        let day = t.floor();
        let secs = OPEN_SECS + (t - day) * OPEN_HOURS_SECS;
        self.cfg.start + day as i64 * DAY + secs as i64
    }

    /// A popularity-weighted item, from the taste group with probability `taste_strength`,
    /// still on sale at `ts` and not one of the customer's staples.
    fn pick(&mut self, ts: i64) -> Option<u32> {
        for _ in 0..PICK_TRIES {
            let sampler = if self.rng.bernoulli(self.cfg.taste_strength) {
                &self.catalog.by_group[self.group as usize]
            } else {
                &self.catalog.global
            };
            match sampler.sample(&mut self.rng) {
                Some(item)
                    if self.catalog.on_sale(item, ts) && !self.staple_items.contains(&item) =>
                {
                    return Some(item);
                }
                Some(_) => continue,
                None => return None,
            }
        }
        None
    }

    fn push(
        &mut self,
        item: u32,
        ts: i64,
        kind: SynthEventKind,
        quantity: u32,
        price: f32,
        order: u64,
    ) {
        self.events.push(SynthEvent {
            customer: self.customer,
            item,
            ts,
            kind,
            quantity,
            price,
            order,
        });
    }

    fn list_price(&self, item: u32) -> f32 {
        self.catalog
            .items
            .get(item as usize)
            .map_or(0.0, |i| i.price)
    }

    /// One shopping trip at `ts` (`t` days); returns false if nothing could be bought.
    fn trip(&mut self, ts: i64, t: f64, order: u64, staples: &mut [StapleState]) -> bool {
        let mut basket: Vec<(u32, u32)> = Vec::new();
        let add = |basket: &mut Vec<(u32, u32)>, item: u32, quantity: u32| {
            if !basket.iter().any(|&(i, _)| i == item) {
                basket.push((item, quantity));
            }
        };
        let picks = 1 + self.rng.poisson(self.cfg.basket_mean - 1.0);
        for _ in 0..picks {
            let Some(item) = self.pick(ts) else { continue };
            add(&mut basket, item, 1 + self.rng.poisson(EXTRA_UNITS) as u32);
            if let Some(Some(partner)) = self.catalog.partner.get(item as usize).copied()
                && self.catalog.on_sale(partner, ts)
                && !self.staple_items.contains(&partner)
                && self.rng.bernoulli(self.cfg.pair_prob)
            {
                add(&mut basket, partner, 1);
            }
        }
        for s in staples.iter_mut() {
            if t >= s.next_due && self.catalog.on_sale(s.item, ts) {
                add(
                    &mut basket,
                    s.item,
                    1 + self.rng.poisson(2.0 * EXTRA_UNITS) as u32,
                );
                s.next_due = t + s.due_gap_days * (0.8 + 0.4 * self.rng.uniform());
            }
        }
        if basket.is_empty() {
            return false;
        }

        for (item, quantity) in basket {
            let list = self.list_price(item);
            let price = if self.rng.bernoulli(self.cfg.promo_prob) {
                ((list * PROMO_FACTOR * 100.0).round() / 100.0).max(0.01)
            } else {
                list
            };
            self.push(item, ts, SynthEventKind::Purchase, quantity, price, order);
            let mut before = ts;
            if self.rng.bernoulli(self.cfg.cart_prob) {
                before = ts - 60 - self.rng.below(19 * 60) as i64;
                self.push(item, before, SynthEventKind::Cart, quantity, list, NO_ORDER);
            }
            if self.rng.bernoulli(self.cfg.view_prob) {
                let view = before - 30 - self.rng.below(2 * 3600) as i64;
                self.push(item, view, SynthEventKind::View, 1, list, NO_ORDER);
            }
            if self.rng.bernoulli(self.cfg.return_prob) {
                let back = ts + DAY + self.rng.below(29 * DAY as u64) as i64;
                self.push(item, back, SynthEventKind::Return, quantity, price, order);
            }
        }
        let extra_views = self.rng.poisson(self.cfg.browse_views);
        for _ in 0..extra_views {
            let view = ts - 30 - self.rng.below(3600) as i64;
            if let Some(item) = self.pick(view) {
                let list = self.list_price(item);
                self.push(item, view, SynthEventKind::View, 1, list, NO_ORDER);
            }
        }
        true
    }

    /// Browse-only sessions (1–3 views) in the `gap_days` after day `t`, at `rate` per day.
    fn browse_sessions(&mut self, t: f64, gap_days: f64, rate: f64) {
        let days_left = (f64::from(self.cfg.days) - t).max(0.0);
        let sessions = self.rng.poisson(rate * gap_days.min(days_left));
        for _ in 0..sessions {
            let offset = self.rng.uniform() * gap_days.min(days_left);
            let at = self.timestamp(t + offset);
            let views = 1 + self.rng.below(3);
            for k in 0..views {
                let view = at + 45 * k as i64;
                if let Some(item) = self.pick(view) {
                    let list = self.list_price(item);
                    self.push(item, view, SynthEventKind::View, 1, list, NO_ORDER);
                }
            }
        }
    }
}
