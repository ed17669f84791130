//! The columnar event store every later stage reads: dense ids, one column per field,
//! events grouped by customer in time order, baskets contiguous.

use super::error::IngestError;
use super::event::{Event, EventKind, RawEvent};
use super::intern::{CustomerIdx, Interner, ItemIdx};
use crate::time::DAY;
use rayon::prelude::*;
use std::ops::Range;

/// `item_category` / attribute code meaning "none".
pub const MISSING: u32 = u32::MAX;

/// One categorical customer attribute (e.g. Ta-Feng's `age_group`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeColumn {
    /// Attribute name (column name in the customers file).
    pub name: String,
    /// Distinct values.
    pub values: Interner,
    /// Value code per customer ([`MISSING`] = unknown).
    pub codes: Vec<u32>,
}

impl AttributeColumn {
    /// The value of this attribute for customer `c`, if known.
    pub fn value(&self, c: CustomerIdx) -> Option<&str> {
        match self.codes.get(c.index()) {
            Some(&code) if code != MISSING => self.values.name(code),
            _ => None,
        }
    }
}

/// Oddities found while building, none of them fatal.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BuildNotes {
    /// Items whose event rows carry more than one category (the first seen is kept).
    pub category_conflicts: u64,
    /// (customer, attribute) pairs with more than one value on event rows (first kept).
    pub attribute_conflicts: u64,
    /// Orders split into several baskets because their lines interleave in time with another
    /// order of the same customer.
    pub split_orders: u64,
}

/// The event log in columns. Invariants (checked by tests, relied on by every reader):
///
/// * Customer and item ids are dense, in **first-seen order** of the events file; ids only
///   in the items/customers files come after.
/// * Events are sorted by (customer, timestamp, basket key, file order), so
///   `customer_events(c)` is a contiguous range and timestamps are non-decreasing in it.
/// * A basket is a run of one customer's events with one order key (its `order_id`, or the
///   calendar day when absent). Basket ids are dense and increase along the event order, so
///   each basket is the contiguous range `basket_events(b)`.
/// * `price` is the unit price, NaN when unknown (so `==` on stores with missing prices is
///   false, as for any NaN).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventStore {
    /// Customer id strings.
    pub customers: Interner,
    /// Item id strings.
    pub items: Interner,
    /// Customer of each event.
    pub customer: Vec<CustomerIdx>,
    /// Item of each event.
    pub item: Vec<ItemIdx>,
    /// Seconds since the epoch (UTC) of each event.
    pub ts: Vec<i64>,
    /// Kind of each event.
    pub kind: Vec<EventKind>,
    /// Units of each event.
    pub quantity: Vec<f32>,
    /// Unit price of each event; NaN when unknown.
    pub price: Vec<f32>,
    /// Basket of each event.
    pub basket: Vec<u32>,
    /// CSR offsets: customer `c`'s events are `customer_start[c]..customer_start[c + 1]`.
    pub customer_start: Vec<u32>,
    /// CSR offsets: basket `b`'s events are `basket_start[b]..basket_start[b + 1]`.
    pub basket_start: Vec<u32>,
    /// Category names.
    pub categories: Interner,
    /// Category of each item ([`MISSING`] = none).
    pub item_category: Vec<u32>,
    /// Display name of each item (empty = none), from the items file.
    pub item_name: Vec<String>,
    /// Catalogue unit price of each item (NaN = none), from the items file.
    pub item_price: Vec<f32>,
    /// Whether each item can be recommended (default true), from the items file.
    pub item_available: Vec<bool>,
    /// Categorical customer attributes.
    pub customer_attrs: Vec<AttributeColumn>,
}

impl EventStore {
    /// Builds a store from owned events (tests, small logs). Panics only past 2^32 events.
    pub fn from_events(events: &[RawEvent]) -> EventStore {
        let mut b = StoreBuilder::new();
        for e in events {
            b.push(&e.as_event());
        }
        b.finish_unchecked().0
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Number of customers (including any without events).
    pub fn n_customers(&self) -> usize {
        self.customers.len()
    }

    /// Number of items (including catalogue items without events).
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Number of baskets.
    pub fn n_baskets(&self) -> usize {
        self.basket_start.len().saturating_sub(1)
    }

    /// Event range of customer `c` (empty for an out-of-range index).
    pub fn customer_events(&self, c: CustomerIdx) -> Range<usize> {
        match (
            self.customer_start.get(c.index()),
            self.customer_start.get(c.index() + 1),
        ) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// Event range of basket `b` (empty for an out-of-range index).
    pub fn basket_events(&self, b: u32) -> Range<usize> {
        match (
            self.basket_start.get(b as usize),
            self.basket_start.get(b as usize + 1),
        ) {
            (Some(&s), Some(&e)) => s as usize..e as usize,
            _ => 0..0,
        }
    }

    /// Customer `c`'s events strictly before `t` (a prefix of [`Self::customer_events`]);
    /// the point-in-time cut every feature uses.
    pub fn events_before(&self, c: CustomerIdx, t: i64) -> Range<usize> {
        let r = self.customer_events(c);
        let n = self.ts[r.clone()].partition_point(|&x| x < t);
        r.start..r.start + n
    }

    /// Baskets of customer `c`, as a range of basket ids.
    pub fn customer_baskets(&self, c: CustomerIdx) -> Range<u32> {
        let r = self.customer_events(c);
        if r.is_empty() {
            return 0..0;
        }
        self.basket[r.start]..self.basket[r.end - 1] + 1
    }

    /// Earliest and latest event time, or `None` for an empty store.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let min = self.ts.par_iter().copied().min()?;
        let max = self.ts.par_iter().copied().max()?;
        Some((min, max))
    }

    /// Customer index of an external id.
    pub fn customer_idx(&self, id: &str) -> Option<CustomerIdx> {
        self.customers.get(id).map(CustomerIdx)
    }

    /// Item index of an external id.
    pub fn item_idx(&self, id: &str) -> Option<ItemIdx> {
        self.items.get(id).map(ItemIdx)
    }

    /// The attribute column called `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeColumn> {
        self.customer_attrs.iter().find(|a| a.name == name)
    }

    /// Category name of item `i`, if it has one.
    pub fn category_of(&self, i: ItemIdx) -> Option<&str> {
        match self.item_category.get(i.index()) {
            Some(&c) if c != MISSING => self.categories.name(c),
            _ => None,
        }
    }
}

/// Accumulates events (in any order) and side-file metadata, then sorts into a store.
#[derive(Default)]
pub struct StoreBuilder {
    customers: Interner,
    items: Interner,
    categories: Interner,
    orders: Interner,
    customer: Vec<u32>,
    item: Vec<u32>,
    ts: Vec<i64>,
    kind: Vec<EventKind>,
    quantity: Vec<f32>,
    price: Vec<f32>,
    /// Order key per event: `ORDER_FLAG | order index`, or the biased calendar day.
    order_key: Vec<u64>,
    item_category: Vec<u32>,
    item_name: Vec<String>,
    item_price: Vec<f32>,
    item_available: Vec<bool>,
    attrs: Vec<AttributeColumn>,
    /// Items and (attribute, customer) pairs seen with conflicting values; sets, so the
    /// counts do not depend on how a file was split for parallel parsing.
    conflicted_items: hashbrown::HashSet<u32>,
    conflicted_attrs: hashbrown::HashSet<(u32, u32)>,
    /// Whether any event carried an `order_id` (else the sort key fits in a `u128`).
    any_order: bool,
}

const ORDER_FLAG: u64 = 1 << 63;
/// Shifts day numbers (negative before 1970) into unsigned keys below `ORDER_FLAG`.
const DAY_BIAS: i64 = 1 << 40;

impl StoreBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder with room for about `events` events (saves regrowing columns).
    pub fn with_capacity(events: usize) -> Self {
        StoreBuilder {
            customer: Vec::with_capacity(events),
            item: Vec::with_capacity(events),
            ts: Vec::with_capacity(events),
            kind: Vec::with_capacity(events),
            quantity: Vec::with_capacity(events),
            price: Vec::with_capacity(events),
            order_key: Vec::with_capacity(events),
            ..Self::default()
        }
    }

    /// Number of events pushed.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// True when no event was pushed.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Interns a customer, growing attribute columns to match.
    pub fn customer(&mut self, id: &str) -> CustomerIdx {
        // Logs are usually grouped by transaction: the previous row's customer is a
        // string compare away, cheaper than a hash probe.
        if let Some(&last) = self.customer.last()
            && self.customers.is(last, id)
        {
            return CustomerIdx(last);
        }
        let before = self.customers.len();
        let c = self.customers.intern(id);
        if self.customers.len() > before {
            for a in &mut self.attrs {
                a.codes.push(MISSING);
            }
        }
        CustomerIdx(c)
    }

    /// Interns an item, growing per-item metadata to match.
    pub fn item(&mut self, id: &str) -> ItemIdx {
        let before = self.items.len();
        let i = self.items.intern(id);
        if self.items.len() > before {
            self.item_category.push(MISSING);
            self.item_name.push(String::new());
            self.item_price.push(f32::NAN);
            self.item_available.push(true);
        }
        ItemIdx(i)
    }

    /// Sets (or, with `overwrite`, replaces) an item's category; a different category for
    /// an item that has one is counted as a conflict.
    pub fn set_category(&mut self, i: ItemIdx, category: &str, overwrite: bool) {
        let current = self.item_category[i.index()];
        if current != MISSING && self.categories.is(current, category) {
            return;
        }
        let code = self.categories.intern(category);
        let slot = &mut self.item_category[i.index()];
        if *slot == MISSING || overwrite {
            *slot = code;
        } else if *slot != code {
            self.conflicted_items.insert(i.0);
        }
    }

    /// Sets catalogue metadata of an item (items file).
    pub fn set_item_meta(&mut self, i: ItemIdx, name: Option<&str>, price: f32, available: bool) {
        if let Some(n) = name {
            self.item_name[i.index()] = n.to_string();
        }
        self.item_price[i.index()] = price;
        self.item_available[i.index()] = available;
    }

    /// Sets attribute `name` of customer `c`; `None` (missing) never replaces a value.
    /// With `overwrite` a new value replaces an old one, else a differing value is a conflict.
    pub fn set_attribute(
        &mut self,
        c: CustomerIdx,
        name: &str,
        value: Option<&str>,
        overwrite: bool,
    ) {
        let col = match self.attrs.iter().position(|a| a.name == name) {
            Some(k) => k,
            None => {
                self.attrs.push(AttributeColumn {
                    name: name.to_string(),
                    values: Interner::new(),
                    codes: vec![MISSING; self.customers.len()],
                });
                self.attrs.len() - 1
            }
        };
        let Some(value) = value else { return };
        let a = &mut self.attrs[col];
        let current = a.codes[c.index()];
        if current != MISSING && a.values.is(current, value) {
            return;
        }
        let code = a.values.intern(value);
        let slot = &mut a.codes[c.index()];
        if *slot == MISSING || overwrite {
            *slot = code;
        } else if *slot != code {
            self.conflicted_attrs.insert((col as u32, c.0));
        }
    }

    /// Adds one event.
    pub fn push(&mut self, e: &Event<'_>) {
        let c = self.customer(e.customer_id);
        let i = self.item(e.item_id);
        if let Some(cat) = e.category {
            self.set_category(i, cat, false);
        }
        for &(name, value) in e.customer_attrs {
            self.set_attribute(c, name, value, false);
        }
        let key = match e.order_id {
            Some(o) => {
                self.any_order = true;
                ORDER_FLAG | u64::from(self.orders.intern(o))
            }
            None => (e.timestamp.div_euclid(DAY) + DAY_BIAS) as u64,
        };
        self.customer.push(c.0);
        self.item.push(i.0);
        self.ts.push(e.timestamp);
        self.kind.push(e.kind);
        self.quantity.push(e.quantity);
        self.price.push(e.price);
        self.order_key.push(key);
    }

    /// Appends the events of `later`, a builder fed the rows that follow this one's in the
    /// file, as if they had been pushed here: ids new to `self` are added in `later`'s
    /// first-seen order, which is the whole file's first-seen order. Only event data is
    /// merged (side files are read into the merged builder afterwards).
    pub fn append(&mut self, later: StoreBuilder) {
        let cmap: Vec<u32> = later.customers.iter().map(|n| self.customer(n).0).collect();
        let imap: Vec<u32> = later.items.iter().map(|n| self.item(n).0).collect();
        let catmap: Vec<u32> = later
            .categories
            .iter()
            .map(|n| self.categories.intern(n))
            .collect();
        let omap: Vec<u32> = later.orders.iter().map(|n| self.orders.intern(n)).collect();
        for &i in &later.conflicted_items {
            self.conflicted_items.insert(imap[i as usize]);
        }
        for (i, &cat) in later.item_category.iter().enumerate() {
            if cat == MISSING {
                continue;
            }
            let (gi, gcat) = (imap[i], catmap[cat as usize]);
            let slot = &mut self.item_category[gi as usize];
            if *slot == MISSING {
                *slot = gcat;
            } else if *slot != gcat {
                self.conflicted_items.insert(gi);
            }
        }
        let mut colmap = Vec::with_capacity(later.attrs.len());
        for a in later.attrs {
            let col = match self.attrs.iter().position(|x| x.name == a.name) {
                Some(k) => k,
                None => {
                    self.attrs.push(AttributeColumn {
                        name: a.name.clone(),
                        values: Interner::new(),
                        codes: vec![MISSING; self.customers.len()],
                    });
                    self.attrs.len() - 1
                }
            };
            colmap.push(col as u32);
            let target = &mut self.attrs[col];
            let vmap: Vec<u32> = a.values.iter().map(|v| target.values.intern(v)).collect();
            for (c, &code) in a.codes.iter().enumerate() {
                if code == MISSING {
                    continue;
                }
                let (gc, gv) = (cmap[c], vmap[code as usize]);
                let slot = &mut target.codes[gc as usize];
                if *slot == MISSING {
                    *slot = gv;
                } else if *slot != gv {
                    self.conflicted_attrs.insert((col as u32, gc));
                }
            }
        }
        for &(col, c) in &later.conflicted_attrs {
            self.conflicted_attrs
                .insert((colmap[col as usize], cmap[c as usize]));
        }
        self.customer
            .extend(later.customer.iter().map(|&c| cmap[c as usize]));
        self.item
            .extend(later.item.iter().map(|&i| imap[i as usize]));
        self.ts.extend_from_slice(&later.ts);
        self.kind.extend_from_slice(&later.kind);
        self.quantity.extend_from_slice(&later.quantity);
        self.price.extend_from_slice(&later.price);
        self.order_key.extend(later.order_key.iter().map(|&k| {
            if k & ORDER_FLAG != 0 {
                ORDER_FLAG | u64::from(omap[(k & !ORDER_FLAG) as usize])
            } else {
                k
            }
        }));
        self.any_order |= later.any_order;
    }

    /// Sorts and assembles the store; refuses more events than `u32` offsets address.
    pub fn finish(self, path: &std::path::Path) -> Result<(EventStore, BuildNotes), IngestError> {
        if self.ts.len() >= u32::MAX as usize {
            return Err(IngestError::TooManyEvents {
                path: path.to_path_buf(),
            });
        }
        Ok(self.finish_unchecked())
    }

    pub(crate) fn finish_unchecked(self) -> (EventStore, BuildNotes) {
        let n = self.ts.len();
        // Sort a compact key array, then gather each column once (cache-friendly, parallel).
        // The file index last makes the order total, so equal keys keep file order.
        let perm: Vec<u32> = if self.any_order {
            let mut keys: Vec<(u32, i64, u64, u32)> = (0..n)
                .into_par_iter()
                .map(|k| (self.customer[k], self.ts[k], self.order_key[k], k as u32))
                .collect();
            keys.par_sort_unstable();
            keys.par_iter().map(|k| k.3).collect()
        } else {
            // Day keys follow from timestamps, so (customer, time, index) packs in 128 bits;
            // flipping the sign bit makes i64 order match u64 order.
            let mut keys: Vec<u128> = (0..n)
                .into_par_iter()
                .map(|k| {
                    (u128::from(self.customer[k]) << 96)
                        | (u128::from((self.ts[k] as u64) ^ (1 << 63)) << 32)
                        | k as u128
                })
                .collect();
            keys.par_sort_unstable();
            keys.par_iter().map(|&k| k as u32).collect()
        };
        fn gather<T: Copy + Send + Sync>(col: &[T], perm: &[u32]) -> Vec<T> {
            perm.par_iter().map(|&k| col[k as usize]).collect()
        }
        let customer: Vec<CustomerIdx> = perm
            .par_iter()
            .map(|&k| CustomerIdx(self.customer[k as usize]))
            .collect();
        let item: Vec<ItemIdx> = perm
            .par_iter()
            .map(|&k| ItemIdx(self.item[k as usize]))
            .collect();
        let ts = gather(&self.ts, &perm);
        let kind = gather(&self.kind, &perm);
        let quantity = gather(&self.quantity, &perm);
        let price = gather(&self.price, &perm);
        let order_key = gather(&self.order_key, &perm);

        let mut notes = BuildNotes {
            category_conflicts: self.conflicted_items.len() as u64,
            attribute_conflicts: self.conflicted_attrs.len() as u64,
            split_orders: 0,
        };
        let mut basket = Vec::with_capacity(n);
        let mut basket_start = Vec::new();
        let mut seen_orders = hashbrown::HashSet::new();
        for k in 0..n {
            let new = k == 0 || customer[k] != customer[k - 1] || order_key[k] != order_key[k - 1];
            if new {
                // A key seen before for this customer means its order was interleaved.
                if order_key[k] & ORDER_FLAG != 0
                    && !seen_orders.insert((customer[k], order_key[k]))
                {
                    notes.split_orders += 1;
                }
                basket_start.push(k as u32);
            }
            basket.push(basket_start.len() as u32 - 1);
        }
        basket_start.push(n as u32);

        let mut customer_start = vec![0u32; self.customers.len() + 1];
        for c in &customer {
            customer_start[c.index() + 1] += 1;
        }
        for c in 0..self.customers.len() {
            customer_start[c + 1] += customer_start[c];
        }
        let store = EventStore {
            customers: self.customers,
            items: self.items,
            customer,
            item,
            ts,
            kind,
            quantity,
            price,
            basket,
            customer_start,
            basket_start,
            categories: self.categories,
            item_category: self.item_category,
            item_name: self.item_name,
            item_price: self.item_price,
            item_available: self.item_available,
            customer_attrs: self.attrs,
        };
        (store, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    fn t(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    fn ev(c: &str, i: &str, ts: &str, order: Option<&str>) -> RawEvent {
        RawEvent {
            order_id: order.map(str::to_string),
            ..RawEvent::purchase(c, i, t(ts))
        }
    }

    #[test]
    fn events_are_grouped_by_customer_in_time_order_with_day_baskets() {
        let s = EventStore::from_events(&[
            ev("bob", "x", "2020-01-02T10:00:00Z", None),
            ev("ann", "y", "2020-01-03T09:00:00Z", None),
            ev("bob", "y", "2020-01-01T12:00:00Z", None),
            ev("bob", "z", "2020-01-02T08:00:00Z", None),
            ev("ann", "x", "2020-01-01T00:00:00Z", None),
        ]);
        // First-seen ids: bob=0, ann=1; x=0, y=1, z=2.
        assert_eq!(s.customers.iter().collect::<Vec<_>>(), ["bob", "ann"]);
        assert_eq!(s.customer_start, [0, 3, 5]);
        let bob = s.customer_idx("bob").unwrap();
        let items: Vec<&str> = s
            .customer_events(bob)
            .map(|k| s.items.name(s.item[k].0).unwrap())
            .collect();
        assert_eq!(items, ["y", "z", "x"]);
        // bob: Jan 1 basket, Jan 2 basket (two events); ann: two days.
        assert_eq!(s.basket, [0, 1, 1, 2, 3]);
        assert_eq!(s.basket_start, [0, 1, 3, 4, 5]);
        assert_eq!(s.basket_events(1), 1..3);
        assert_eq!(s.customer_baskets(bob), 0..2);
        assert_eq!(s.customer_baskets(CustomerIdx(1)), 2..4);
        assert_eq!(s.events_before(bob, t("2020-01-02T09:00:00Z")), 0..2);
        assert_eq!(s.events_before(bob, t("2020-01-01T12:00:00Z")), 0..0);
        assert_eq!(
            s.time_range(),
            Some((t("2020-01-01"), t("2020-01-03T09:00:00Z")))
        );
        assert_eq!(s.customer_events(CustomerIdx(9)), 0..0);
    }

    #[test]
    fn explicit_orders_make_baskets_and_interleaving_is_counted() {
        let mut b = StoreBuilder::new();
        for e in [
            ev("c", "a", "2020-01-01T10:00:00Z", Some("o1")),
            ev("c", "b", "2020-01-01T10:00:00Z", Some("o2")),
            ev("c", "d", "2020-01-01T10:00:00Z", Some("o1")),
            ev("c", "e", "2020-01-01T11:00:00Z", Some("o2")),
            ev("c", "f", "2020-01-01T12:00:00Z", Some("o1")),
        ] {
            b.push(&e.as_event());
        }
        let (s, notes) = b.finish(std::path::Path::new("mem")).unwrap();
        // 10:00 {o1: a,d} {o2: b}, 11:00 {o2: e} continues o2, 12:00 o1 again: split.
        let items: Vec<&str> = (0..s.len())
            .map(|k| s.items.name(s.item[k].0).unwrap())
            .collect();
        assert_eq!(items, ["a", "d", "b", "e", "f"]);
        assert_eq!(s.basket, [0, 0, 1, 1, 2]);
        assert_eq!(notes.split_orders, 1);
    }

    #[test]
    fn first_category_and_attribute_win_and_conflicts_are_counted() {
        let mut b = StoreBuilder::new();
        let attrs = [("age", Some("30-34"))];
        let attrs2 = [("age", Some("40-44"))];
        let missing = [("age", None)];
        let base = Event {
            customer_id: "c1",
            item_id: "i1",
            timestamp: 0,
            kind: EventKind::Purchase,
            quantity: 1.0,
            price: f32::NAN,
            order_id: None,
            category: Some("dairy"),
            customer_attrs: &missing,
        };
        b.push(&base);
        b.push(&Event {
            customer_attrs: &attrs,
            ..base
        });
        b.push(&Event {
            category: Some("bakery"),
            customer_attrs: &attrs2,
            ..base
        });
        b.push(&Event {
            customer_id: "c2",
            ..base
        });
        let (s, notes) = b.finish(std::path::Path::new("mem")).unwrap();
        assert_eq!(s.category_of(ItemIdx(0)), Some("dairy"));
        let age = s.attribute("age").unwrap();
        assert_eq!(age.value(CustomerIdx(0)), Some("30-34"));
        assert_eq!(age.value(CustomerIdx(1)), None);
        assert_eq!(notes.category_conflicts, 1);
        assert_eq!(notes.attribute_conflicts, 1);
    }

    #[test]
    fn appending_split_builders_equals_pushing_everything_into_one() {
        let cats = ["a", "b", "c"];
        let ages = [("age", Some("young")), ("age", Some("old")), ("age", None)];
        let events: Vec<RawEvent> = (0..300u32)
            .map(|k| RawEvent {
                customer_id: format!("c{}", (k * 7) % 23),
                item_id: format!("i{}", (k * 11) % 17),
                timestamp: i64::from(k % 40) * 3_600 * 5,
                order_id: (k % 3 == 0).then(|| format!("o{}", k % 29)),
                category: Some(cats[(k as usize / 50 + k as usize) % 3].to_string()),
                price: k as f32,
                ..RawEvent::purchase("", "", 0)
            })
            .collect();
        let push = |b: &mut StoreBuilder, e: &RawEvent, k: usize| {
            let attrs = [ages[k % 3]];
            b.push(&Event {
                customer_attrs: &attrs,
                ..e.as_event()
            });
        };
        let mut whole = StoreBuilder::new();
        for (k, e) in events.iter().enumerate() {
            push(&mut whole, e, k);
        }
        let (expected, expected_notes) = whole.finish(std::path::Path::new("mem")).unwrap();
        for split in [1, 100, 299] {
            let (mut head, mut tail) = (StoreBuilder::new(), StoreBuilder::new());
            for (k, e) in events.iter().enumerate() {
                push(if k < split { &mut head } else { &mut tail }, e, k);
            }
            head.append(tail);
            let (got, notes) = head.finish(std::path::Path::new("mem")).unwrap();
            // Debug text compares NaN prices as equal, which `==` would not.
            assert!(
                format!("{got:?}") == format!("{expected:?}"),
                "split at {split}: stores differ"
            );
            assert_eq!(notes, expected_notes, "split at {split}");
        }
        assert!(expected_notes.category_conflicts > 0 && expected_notes.attribute_conflicts > 0);
    }
}
