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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("stats").chain(argv.iter().copied()))
            .map(|w| w.args)
    }

    #[test]
    fn flags_parse_with_defaults() {
        let a = parse(&["--events", "e.csv"]).unwrap();
        assert_eq!(a.events, PathBuf::from("e.csv"));
        assert_eq!((a.format, a.skip_bad_rows, a.json), (None, false, false));
        assert!(a.items.is_none() && a.customers.is_none());

        let a = parse(&[
            "--events",
            "t.csv",
            "--format",
            "tafeng",
            "--items",
            "i.csv",
            "--customers",
            "c.csv",
            "--skip-bad-rows",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.format, Some(Format::Tafeng));
        assert_eq!(a.items, Some(PathBuf::from("i.csv")));
        assert_eq!(a.customers, Some(PathBuf::from("c.csv")));
        assert!(a.skip_bad_rows && a.json);
    }

    #[test]
    fn events_is_required_and_formats_are_checked() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--events", "e", "--format", "xlsx"]).is_err());
        for f in ["csv", "jsonl", "tafeng", "cdnow"] {
            assert!(parse(&["--events", "e", "--format", f]).is_ok(), "{f}");
        }
    }
}
