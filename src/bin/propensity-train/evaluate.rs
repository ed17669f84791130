//! `propensity-train evaluate`: train before the cutoff (or on half the customers), measure
//! churn, repurchase and next purchase at the cutoff next to baselines.

use anyhow::Context;
use propensity::ingest::{Format, LoadOptions, load_events};
use propensity::propensity::{EvalOptions, PropensityConfig, Split, evaluate};
use propensity::time::parse_timestamp;
use std::path::PathBuf;

/// Evaluate the propensity models at a cutoff and print/write the report.
#[derive(clap::Args)]
pub struct Args {
    /// Events file.
    #[arg(long)]
    events: PathBuf,
    /// Events format; guessed from the extension when left out.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Evaluation snapshot (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    cutoff: String,
    /// Label window length in days.
    #[arg(long)]
    horizon_days: u32,
    /// Train on earlier snapshots (time) or on half the customers (customers).
    #[arg(long, value_enum, default_value = "time")]
    split: Split,
    /// Write the report as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Training config (TOML); built-in defaults when left out.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Skip the baselines (recency, BG/NBD, Pareto/NBD, last gap): faster, for tuning.
    #[arg(long)]
    no_baselines: bool,
    /// Count and skip malformed rows instead of stopping at the first.
    #[arg(long)]
    skip_bad_rows: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cutoff = parse_timestamp(&args.cutoff)
        .with_context(|| format!("--cutoff {:?} is not a date", args.cutoff))?;
    anyhow::ensure!(args.horizon_days > 0, "--horizon-days must be at least 1");
    let config = match &args.config {
        Some(p) => PropensityConfig::load(p)?,
        None => PropensityConfig::default(),
    };
    let opts = LoadOptions {
        format: args.format,
        skip_bad_rows: args.skip_bad_rows,
        ..Default::default()
    };
    let (store, _) = load_events(&args.events, &opts)
        .with_context(|| format!("loading events from {}", args.events.display()))?;
    let report = evaluate(
        &store,
        &EvalOptions {
            cutoff,
            horizon_days: args.horizon_days,
            split: args.split,
            config,
            baselines: !args.no_baselines,
        },
    )?;
    print!("{report}");
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing report {}", path.display()))?;
    }
    Ok(())
}
