//! The online overlay: what the server learned since its bundle was trained.
//!
//! Events received by `POST /v1/events` (and replayed from the journal at start and on
//! reload) are kept per customer; each change recomputes that customer's recommender view
//! at their own `as_of` (the bundle cutoff, or one second after their newest event when
//! later). Their feature row, churn, repurchase curve, expected purchases, RFM and value —
//! with the bundle's model parameters — are computed by the first read that needs them and
//! kept until the next change: ingest pays no GBDT walk per event. Erasures hide a
//! customer from every answer at once.
//!
//! Concurrency: customers live in [`SHARDS`] maps behind `RwLock`s holding `Arc`'d state.
//! A writer computes the new state without any lock, then swaps the `Arc` in under a short
//! write lock (retrying if another writer changed that customer meanwhile); a reader takes
//! a read lock only to clone one `Arc`. Reads never wait for a recomputation.

pub mod customer;
pub mod parse;
pub mod rfm;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;

pub use customer::{LayoutError, Propensities, Recomputed};
use customer::{check_layout, merged_history, propensities, recompute, value_options};
use rfm::Population;

use crate::clv::ClvOptions;
use crate::erasure::{CustomerHash, ErasureKey};
use crate::ingest::{ItemIdx, RawEvent};
use crate::models::{EventColumns, TrainedModels};
use crate::time::DAY;

/// Number of lock shards; a power of two well above the worker count keeps two writers
/// (or a writer and a reader) from meeting on one lock.
pub const SHARDS: usize = 64;

/// Customers per apply from which the recomputation fans out to rayon (replays).
const PARALLEL_GROUPS: usize = 2048;

/// Basket ids of live orders start here, above any basket id a store of `u32` events
/// gives its baskets in practice, so a live order never joins a bundle one by accident.
const LIVE_BASKETS: u32 = 0x8000_0000;

/// What identifies a live order: its `order_id`, or the customer's calendar day (the data
/// contract's default).
#[derive(Debug, Clone, PartialEq, Eq)]
enum OrderKey {
    Id(String),
    Day(i64),
}

/// One customer with events since the bundle.
#[derive(Debug, Clone)]
pub struct LiveCustomer {
    /// The customer's bundle index, when they have bundle history (`None` for customers
    /// the bundle does not know).
    pub bundle_idx: Option<u32>,
    /// Events received since the bundle, in time order.
    pub events: EventColumns,
    orders: Vec<(OrderKey, u32)>,
    /// Everything answered about them.
    pub state: Recomputed,
}

impl LiveCustomer {
    /// Number of events received since the bundle.
    pub fn n_events(&self) -> usize {
        self.events.len()
    }

    /// Their scores at `state.as_of`, computed on the first call. `overlay` and `models`
    /// must be the ones this customer was applied with (the serving state keeps them
    /// together).
    pub fn propensities(&self, overlay: &Overlay, models: &TrainedModels) -> &Propensities {
        self.state.propensities.get_or_init(|| {
            let history = merged_history(models, self.bundle_idx, &self.events);
            propensities(
                models,
                &overlay.population,
                overlay.clv.as_ref(),
                self.bundle_idx,
                &history,
                self.state.as_of,
            )
        })
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Live(Arc<LiveCustomer>),
    Erased,
}

/// What the overlay knows about one customer id.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Nothing: answer from the bundle.
    Untouched,
    /// Erased: answer as if the customer never existed.
    Erased,
    /// Recomputed from live events.
    Live(Arc<LiveCustomer>),
}

/// One change, in journal order.
#[derive(Debug, Clone)]
pub enum Change {
    /// An accepted event.
    Event(RawEvent),
    /// Forget a customer.
    Erase(String),
}

/// Why events were not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// The bundle cannot recompute customers.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// The overlay of one loaded bundle.
pub struct Overlay {
    shards: Box<[RwLock<HashMap<String, Entry>>]>,
    erased_bundle: Box<[AtomicU64]>,
    new_items: RwLock<HashMap<String, u32>>,
    n_bundle_items: u32,
    events: AtomicU64,
    live: AtomicU64,
    erasures: AtomicU64,
    population: Population,
    clv: Option<ClvOptions>,
    usable: Result<(), LayoutError>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Erasures replayed from the journal, which holds only the ids' keyed hashes: any id
    /// hashing into the set is erased, including ids this overlay has not seen yet.
    hashed: RwLock<Option<(ErasureKey, HashSet<CustomerHash>)>>,
    /// Whether `hashed` holds anything (skips its lock on every lookup when not).
    any_hashed: AtomicBool,
}

/// One customer's part of a group of changes: erased, or their events.
#[derive(Default)]
struct Group {
    erase: bool,
    events: Vec<RawEvent>,
}

fn lock_read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A writer that panicked left a whole map behind (every update is one insert), so
    // the data is still consistent.
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn lock_write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl Overlay {
    /// An empty overlay for `models`.
    pub fn new(models: &TrainedModels) -> Overlay {
        let n = models.base.customer_ids.len();
        Overlay {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            erased_bundle: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            new_items: RwLock::new(HashMap::new()),
            n_bundle_items: models.base.item_ids.len() as u32,
            events: AtomicU64::new(0),
            live: AtomicU64::new(0),
            erasures: AtomicU64::new(0),
            population: Population::of(&models.base),
            clv: value_options(),
            usable: check_layout(models),
            hasher: hashbrown::DefaultHashBuilder::default(),
            hashed: RwLock::new(None),
            any_hashed: AtomicBool::new(false),
        }
    }

    /// Whether `id` matches an erasure known by its hash only.
    fn hash_erased(&self, id: &str) -> bool {
        self.any_hashed.load(Ordering::Acquire)
            && lock_read(&self.hashed)
                .as_ref()
                .is_some_and(|(key, set)| set.contains(&key.hash(id)))
    }

    /// Applies erasures known by their keyed hash (under `key`): every bundle or live
    /// customer whose id matches is erased now, and ids that match later (a new event) are
    /// treated as erased.
    pub fn forget_hashed(&self, models: &TrainedModels, key: ErasureKey, hashes: &[CustomerHash]) {
        if hashes.is_empty() {
            return;
        }
        let added: Vec<CustomerHash> = {
            let mut guard = lock_write(&self.hashed);
            let (k, set) = guard.get_or_insert_with(|| (key, HashSet::new()));
            if *k != key {
                // One journal, one key; a different key would make every hash miss.
                *k = key;
                set.clear();
            }
            hashes.iter().copied().filter(|h| set.insert(*h)).collect()
        };
        self.any_hashed.store(true, Ordering::Release);
        if added.is_empty() {
            return;
        }
        let added: HashSet<CustomerHash> = added.into_iter().collect();
        self.erasures
            .fetch_add(added.len() as u64, Ordering::Relaxed);
        let ids = &models.base.customer_ids;
        let matched: Vec<u32> = ids
            .par_iter()
            .enumerate()
            .filter(|(_, id)| added.contains(&key.hash(id)))
            .map(|(i, _)| i as u32)
            .collect();
        for i in matched {
            self.mark_erased(&ids[i as usize], Some(i));
        }
        let live: Vec<String> = self
            .live_entries()
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| added.contains(&key.hash(id)))
            .collect();
        for id in live {
            self.mark_erased(&id, None);
        }
    }

    /// Whether events can be applied (the bundle has a history and the standard layout).
    pub fn accepts_events(&self) -> Result<(), LayoutError> {
        self.usable.clone()
    }

    /// Events held (received since the bundle, minus those of erased customers).
    pub fn events_total(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Customers with live state.
    pub fn live_customers(&self) -> u64 {
        self.live.load(Ordering::Relaxed)
    }

    /// Erasures applied to this overlay.
    pub fn erasures(&self) -> u64 {
        self.erasures.load(Ordering::Relaxed)
    }

    fn shard(&self, id: &str) -> &RwLock<HashMap<String, Entry>> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(id);
        &self.shards[(h as usize) % SHARDS]
    }

    /// What the overlay knows about `id`.
    pub fn lookup(&self, id: &str) -> Lookup {
        match lock_read(self.shard(id)).get(id) {
            None if self.hash_erased(id) => Lookup::Erased,
            None => Lookup::Untouched,
            Some(Entry::Erased) => Lookup::Erased,
            Some(Entry::Live(c)) => Lookup::Live(c.clone()),
        }
    }

    /// Every customer with live state, with their id (a consistent copy per shard; lists
    /// and aggregates merge it over the bundle's rows).
    pub fn live_entries(&self) -> Vec<(String, Arc<LiveCustomer>)> {
        let mut out = Vec::with_capacity(self.live_customers() as usize);
        for shard in self.shards.iter() {
            out.extend(lock_read(shard).iter().filter_map(|(id, e)| match e {
                Entry::Live(c) => Some((id.clone(), c.clone())),
                Entry::Erased => None,
            }));
        }
        out
    }

    /// Whether bundle customer `idx` was erased (list endpoints skip such rows).
    pub fn is_erased(&self, idx: u32) -> bool {
        let i = idx as usize;
        self.erased_bundle
            .get(i / 64)
            .is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (i % 64)) != 0)
    }

    fn item_of(&self, id: &str, index: &dyn Fn(&str) -> Option<u32>) -> ItemIdx {
        if let Some(i) = index(id) {
            return ItemIdx(i);
        }
        if let Some(&i) = lock_read(&self.new_items).get(id) {
            return ItemIdx(i);
        }
        let mut w = lock_write(&self.new_items);
        let next = self.n_bundle_items.saturating_add(w.len() as u32);
        ItemIdx(*w.entry(id.to_string()).or_insert(next))
    }

    /// Applies changes in order. `customer_index` and `item_index` map external ids to the
    /// bundle's dense indices. Customers are recomputed once each, in parallel.
    pub fn apply(
        &self,
        models: &TrainedModels,
        customer_index: &(dyn Fn(&str) -> Option<u32> + Sync),
        item_index: &(dyn Fn(&str) -> Option<u32> + Sync),
        changes: Vec<Change>,
    ) -> Result<(), ApplyError> {
        if changes.iter().any(|c| matches!(c, Change::Event(_))) {
            self.usable.clone()?;
        }
        let mut groups: HashMap<String, Group> = HashMap::new();
        for c in changes {
            match c {
                Change::Event(e) => {
                    let g = groups.entry(e.customer_id.clone()).or_default();
                    // An erasure excludes the customer's events before and after it.
                    if !g.erase {
                        g.events.push(e);
                    }
                }
                Change::Erase(id) => {
                    let g = groups.entry(id).or_default();
                    g.erase = true;
                    g.events.clear();
                }
            }
        }
        let groups: Vec<(String, Group)> = groups.into_iter().collect();
        let work =
            |(id, g): &(String, Group)| self.apply_one(models, customer_index, item_index, id, g);
        // A request's batch (hundreds of customers at most) is applied on the request's
        // blocking thread: fanning it out to rayon wakes workers that spin and yield,
        // taking CPU from the threads serving reads. A replay touches many customers.
        if groups.len() >= PARALLEL_GROUPS {
            groups.par_iter().for_each(work);
        } else {
            groups.iter().for_each(work);
        }
        Ok(())
    }

    fn apply_one(
        &self,
        models: &TrainedModels,
        customer_index: &(dyn Fn(&str) -> Option<u32> + Sync),
        item_index: &(dyn Fn(&str) -> Option<u32> + Sync),
        id: &str,
        g: &Group,
    ) {
        let bundle_idx = customer_index(id);
        if g.erase {
            self.erase(id, bundle_idx);
            return;
        }
        if g.events.is_empty() {
            return;
        }
        let items: Vec<ItemIdx> = g
            .events
            .iter()
            .map(|e| self.item_of(&e.item_id, item_index))
            .collect();
        let shard = self.shard(id);
        loop {
            let before = lock_read(shard).get(id).cloned();
            let (mut next, previous_events) = match &before {
                Some(Entry::Live(c)) => ((**c).clone(), c.n_events()),
                // The journal's rule: an erasure excludes events before and after it.
                Some(Entry::Erased) => return,
                None if self.hash_erased(id) => return,
                None => (LiveCustomer::empty(models, bundle_idx), 0),
            };
            for (e, &item) in g.events.iter().zip(&items) {
                next.insert(e, item);
            }
            let newest = next.events.ts.last().copied().unwrap_or(i64::MIN);
            let as_of = models.base.cutoff.max(newest.saturating_add(1));
            next.state = recompute(models, next.bundle_idx, &next.events, as_of);
            if let Some(Entry::Live(c)) = &before {
                next.state.recommender.inherit_ranking(&c.state.recommender);
            }
            let added = (next.n_events() - previous_events) as u64;
            let mut map = lock_write(shard);
            let unchanged = match (map.get(id), &before) {
                (None, None) => true,
                (Some(Entry::Live(a)), Some(Entry::Live(b))) => Arc::ptr_eq(a, b),
                _ => false,
            };
            if !unchanged {
                // Another writer changed this customer while we computed: redo on theirs.
                continue;
            }
            if !matches!(before, Some(Entry::Live(_))) {
                self.live.fetch_add(1, Ordering::Relaxed);
            }
            map.insert(id.to_string(), Entry::Live(Arc::new(next)));
            self.events.fetch_add(added, Ordering::Relaxed);
            return;
        }
    }

    fn erase(&self, id: &str, bundle_idx: Option<u32>) {
        self.mark_erased(id, bundle_idx);
        self.erasures.fetch_add(1, Ordering::Relaxed);
    }

    /// Hides `id` (and bundle row `bundle_idx`) from every answer, dropping its live state.
    fn mark_erased(&self, id: &str, bundle_idx: Option<u32>) {
        if let Some(i) = bundle_idx.map(|i| i as usize)
            && let Some(w) = self.erased_bundle.get(i / 64)
        {
            w.fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
        let old = lock_write(self.shard(id)).insert(id.to_string(), Entry::Erased);
        if let Some(Entry::Live(c)) = old {
            self.live.fetch_sub(1, Ordering::Relaxed);
            self.events
                .fetch_sub(c.n_events() as u64, Ordering::Relaxed);
        }
    }
}

impl LiveCustomer {
    fn empty(models: &TrainedModels, bundle_idx: Option<u32>) -> LiveCustomer {
        LiveCustomer {
            bundle_idx,
            events: EventColumns::default(),
            orders: Vec::new(),
            state: Recomputed {
                as_of: 0,
                purchases: Vec::new(),
                recommender: models.recommender.live_history(&[], 0),
                propensities: std::sync::OnceLock::new(),
            },
        }
    }

    /// Inserts one event at its place in time (after events with the same time and basket).
    fn insert(&mut self, e: &RawEvent, item: ItemIdx) {
        let key = match &e.order_id {
            Some(o) => OrderKey::Id(o.clone()),
            None => OrderKey::Day(e.timestamp.div_euclid(DAY)),
        };
        let basket = match self.orders.iter().find(|(k, _)| *k == key) {
            Some(&(_, b)) => b,
            None => {
                let b = LIVE_BASKETS.saturating_add(self.orders.len() as u32);
                self.orders.push((key, b));
                b
            }
        };
        let ev = &mut self.events;
        let at = (0..ev.len())
            .rev()
            .find(|&k| (ev.ts[k], ev.basket[k]) <= (e.timestamp, basket))
            .map_or(0, |k| k + 1);
        ev.ts.insert(at, e.timestamp);
        ev.kind.insert(at, e.kind);
        ev.quantity.insert(at, e.quantity);
        ev.price.insert(at, e.price);
        ev.basket.insert(at, basket);
        ev.item.insert(at, item);
    }
}

#[cfg(test)]
mod tests;
