//! `propensity-train stats`: load an event log and report what was read.

use crate::input::EventsArgs;
use propensity::ingest::{Format, Stats};

/// Load an event log and print rows, customers, items, baskets, time range and skips.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: EventsArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (store, report) = args.input.load()?;
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
        println!("file        {} ({format})", args.input.events.display());
        print!("{stats}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::path::PathBuf;

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
        assert_eq!(a.input.events, PathBuf::from("e.csv"));
        assert_eq!(
            (a.input.format, a.input.skip_bad_rows, a.json),
            (None, false, false)
        );
        assert!(a.input.items.is_none() && a.input.customers.is_none());

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
        assert_eq!(a.input.format, Some(Format::Tafeng));
        assert_eq!(a.input.items, Some(PathBuf::from("i.csv")));
        assert_eq!(a.input.customers, Some(PathBuf::from("c.csv")));
        assert!(a.input.skip_bad_rows && a.json);
    }

    #[test]
    fn events_is_required_and_formats_are_checked() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--events", "e", "--format", "xlsx"]).is_err());
        for f in ["csv", "jsonl", "parquet", "tafeng", "cdnow"] {
            assert!(parse(&["--events", "e", "--format", f]).is_ok(), "{f}");
        }
    }
}
