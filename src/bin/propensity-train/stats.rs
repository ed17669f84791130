//! `propensity-train stats`: load an event log and report what was read.

use anyhow::Context;
use propensity::ingest::{Format, LoadOptions, Stats, load_events};
use std::path::PathBuf;

/// Load an event log and print rows, customers, items, baskets, time range and skips.
#[derive(clap::Args)]
pub struct Args {
    /// Events file (CSV with header, JSON Lines, or a data set as shipped).
    #[arg(long)]
    events: PathBuf,
    /// Events format; guessed from the extension (.csv, .jsonl, .ndjson) when left out.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Items file: item_id, category, name, price, available.
    #[arg(long)]
    items: Option<PathBuf>,
    /// Customers file: customer_id and categorical attribute columns.
    #[arg(long)]
    customers: Option<PathBuf>,
    /// Count and skip malformed rows (reported at the end) instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = LoadOptions {
        format: args.format,
        skip_bad_rows: args.skip_bad_rows,
        items: args.items,
        customers: args.customers,
    };
    let started = std::time::Instant::now();
    let (store, report) = load_events(&args.events, &opts)
        .with_context(|| format!("loading events from {}", args.events.display()))?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        events = store.len(),
        "loaded"
    );
    let stats = Stats::new(&store, &report);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        let format = report.format.map_or("?", Format::as_str);
        println!("file        {} ({format})", args.events.display());
        print!("{stats}");
    }
    Ok(())
}
