//! What a load read: the summary `propensity-train stats` prints.

use super::event::EventKind;
use super::store::{BuildNotes, EventStore};
use super::{LoadReport, read::SkipReport};
use std::fmt;

/// Event counts per [`EventKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// Purchases.
    pub purchase: u64,
    /// Views.
    pub view: u64,
    /// Add-to-carts.
    pub cart: u64,
    /// Returns.
    #[serde(rename = "return")]
    pub returns: u64,
}

impl KindCounts {
    /// Counts the kinds of a column of events.
    pub fn count(kinds: &[EventKind]) -> KindCounts {
        let mut n = [0u64; 4];
        for &k in kinds {
            n[k as usize] += 1;
        }
        KindCounts {
            purchase: n[EventKind::Purchase as usize],
            view: n[EventKind::View as usize],
            cart: n[EventKind::Cart as usize],
            returns: n[EventKind::Return as usize],
        }
    }
}

/// Summary of a loaded store and its load report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Events kept.
    pub rows: u64,
    /// Customers with at least one event.
    pub customers: u64,
    /// Customers including those only in the customers file.
    pub customers_total: u64,
    /// Items with at least one event.
    pub items: u64,
    /// Items including those only in the items file.
    pub items_total: u64,
    /// Baskets.
    pub baskets: u64,
    /// Earliest event (RFC 3339), if any.
    pub first_event: Option<String>,
    /// Latest event (RFC 3339), if any.
    pub last_event: Option<String>,
    /// Calendar days from the first to the last event, inclusive.
    pub days: u64,
    /// Events per kind.
    pub events_by_kind: KindCounts,
    /// Distinct item categories.
    pub categories: u64,
    /// Customer attribute names.
    pub customer_attributes: Vec<String>,
    /// Event rows skipped (with `--skip-bad-rows`), with causes and first examples.
    pub skipped: SkipReport,
    /// Rows skipped in the items and customers files.
    pub side_files_skipped: u64,
    /// Non-fatal oddities.
    pub notes: BuildNotes,
}

impl Stats {
    /// Summarises a store and the report of the load that built it.
    pub fn new(store: &EventStore, report: &LoadReport) -> Stats {
        let mut item_seen = vec![false; store.n_items()];
        for i in &store.item {
            item_seen[i.index()] = true;
        }
        let customers = store
            .customer_start
            .windows(2)
            .filter(|w| w[1] > w[0])
            .count();
        let range = store.time_range();
        let days = range.map_or(0, |(a, b)| {
            (b.div_euclid(crate::time::DAY) - a.div_euclid(crate::time::DAY) + 1) as u64
        });
        Stats {
            rows: store.len() as u64,
            customers: customers as u64,
            customers_total: store.n_customers() as u64,
            items: item_seen.iter().filter(|&&s| s).count() as u64,
            items_total: store.n_items() as u64,
            baskets: store.n_baskets() as u64,
            first_event: range.map(|r| crate::time::format_rfc3339(r.0)),
            last_event: range.map(|r| crate::time::format_rfc3339(r.1)),
            days,
            events_by_kind: KindCounts::count(&store.kind),
            categories: store.categories.len() as u64,
            customer_attributes: store
                .customer_attrs
                .iter()
                .map(|a| a.name.clone())
                .collect(),
            skipped: report.events.skipped.clone(),
            side_files_skipped: report.items.as_ref().map_or(0, |r| r.skipped.total)
                + report.customers.as_ref().map_or(0, |r| r.skipped.total),
            notes: report.notes.clone(),
        }
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = |v: u64| thousands(v);
        writeln!(f, "rows        {}", n(self.rows))?;
        write!(f, "customers   {}", n(self.customers))?;
        if self.customers_total != self.customers {
            write!(f, " ({} with the customers file)", n(self.customers_total))?;
        }
        writeln!(f)?;
        write!(f, "items       {}", n(self.items))?;
        if self.items_total != self.items {
            write!(f, " ({} with the items file)", n(self.items_total))?;
        }
        writeln!(f)?;
        writeln!(f, "baskets     {}", n(self.baskets))?;
        match (&self.first_event, &self.last_event) {
            (Some(a), Some(b)) => writeln!(f, "time range  {a} .. {b} ({} days)", n(self.days))?,
            _ => writeln!(f, "time range  (no events)")?,
        }
        let k = self.events_by_kind;
        writeln!(
            f,
            "events      purchase {}, view {}, cart {}, return {}",
            n(k.purchase),
            n(k.view),
            n(k.cart),
            n(k.returns)
        )?;
        writeln!(f, "categories  {}", n(self.categories))?;
        if !self.customer_attributes.is_empty() {
            writeln!(f, "attributes  {}", self.customer_attributes.join(", "))?;
        }
        write!(f, "skipped     {}", n(self.skipped.total))?;
        if !self.skipped.by_problem.is_empty() {
            let why: Vec<String> = self
                .skipped
                .by_problem
                .iter()
                .map(|(k, v)| format!("{k} {}", n(*v)))
                .collect();
            write!(f, " ({})", why.join(", "))?;
        }
        writeln!(f)?;
        for e in &self.skipped.examples {
            writeln!(f, "  e.g. {e}")?;
        }
        if self.side_files_skipped > 0 {
            writeln!(
                f,
                "skipped in items/customers files: {}",
                n(self.side_files_skipped)
            )?;
        }
        let notes = &self.notes;
        if notes.category_conflicts > 0 {
            writeln!(
                f,
                "note: {} items carry more than one category (the first seen is kept)",
                n(notes.category_conflicts)
            )?;
        }
        if notes.attribute_conflicts > 0 {
            writeln!(
                f,
                "note: {} customer attributes take more than one value (the first seen is kept)",
                n(notes.attribute_conflicts)
            )?;
        }
        if notes.split_orders > 0 {
            writeln!(
                f,
                "note: {} orders interleave in time with another order and were split",
                n(notes.split_orders)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(817_741), "817,741");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
