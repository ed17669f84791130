//! The event-log arguments every data command shares, and loading them with the skip
//! report printed, so no command drops malformed rows without saying so.

use anyhow::Context;
use propensity::erasure::ErasedSet;
use propensity::ingest::{EventStore, Format, LoadOptions, LoadReport, RawEvent, load_events};
use std::path::PathBuf;

/// Where the events (and optional side files) come from.
#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Events file (CSV with header, JSON Lines, Parquet, or a data set as shipped).
    #[arg(long)]
    pub events: PathBuf,
    /// Events format; guessed from the extension (.csv, .jsonl, .ndjson, .parquet) when
    /// left out. Parquet has the CSV's column names; ids may be strings or integers,
    /// timestamps strings, TIMESTAMP, DATE or INT96, quantity and price any number type.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Items file: item_id, category, name, price, available (CSV, or Parquet when named
    /// *.parquet).
    #[arg(long)]
    pub items: Option<PathBuf>,
    /// Customers file: customer_id and categorical attribute columns (CSV, or Parquet when
    /// named *.parquet).
    #[arg(long)]
    pub customers: Option<PathBuf>,
    /// Count and skip malformed rows (reported at the end) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
}

impl EventsArgs {
    /// Loads the store; skipped rows are summarised on stderr with their first examples.
    pub fn load(&self) -> anyhow::Result<(EventStore, LoadReport)> {
        self.load_with(ErasedSet::default(), Vec::new())
    }

    /// Like [`EventsArgs::load`], leaving out `exclude_customers` everywhere and adding
    /// `extra_events` (already validated) after the file's.
    pub fn load_with(
        &self,
        exclude_customers: ErasedSet,
        extra_events: Vec<RawEvent>,
    ) -> anyhow::Result<(EventStore, LoadReport)> {
        let opts = LoadOptions {
            format: self.format,
            skip_bad_rows: self.skip_bad_rows,
            items: self.items.clone(),
            customers: self.customers.clone(),
            exclude_customers,
            extra_events,
        };
        let (store, report) = load_events(&self.events, &opts)
            .with_context(|| format!("loading events from {}", self.events.display()))?;
        let skipped = &report.events.skipped;
        if skipped.total > 0 {
            eprintln!(
                "warning: skipped {} malformed rows of {}:",
                skipped.total,
                self.events.display()
            );
            for e in &skipped.examples {
                eprintln!("  {e}");
            }
        }
        Ok((store, report))
    }
}
