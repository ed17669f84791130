//! `propensity-train synth`: write a synthetic log with known ground truth.

use anyhow::Context;
use propensity::synth::{self, SynthConfig, SynthEventKind};
use std::path::PathBuf;
use std::time::Instant;

/// Generate a synthetic event log with planted structure, plus its truth, items and pairs.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of customers.
    #[arg(long, default_value_t = SynthConfig::default().customers)]
    customers: u32,
    /// Number of items in the catalog.
    #[arg(long, default_value_t = SynthConfig::default().items)]
    items: u32,
    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Number of taste groups (item categories follow them loosely).
    #[arg(long, default_value_t = SynthConfig::default().groups)]
    groups: u32,
    /// First day of the log (YYYY-MM-DD or RFC 3339).
    #[arg(long, default_value = "2024-01-01")]
    start: String,
    /// Length of the log in days.
    #[arg(long, default_value_t = SynthConfig::default().days)]
    days: u32,
    /// Event file; F.truth.csv, F.items.csv and F.pairs.csv are written beside it.
    #[arg(long)]
    out: PathBuf,
}

/// Validates the arguments, generates and writes the files.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = propensity::time::parse_timestamp(&args.start)
        .with_context(|| format!("--start {:?} is not RFC 3339 or YYYY-MM-DD", args.start))?;
    let cfg = SynthConfig {
        customers: args.customers,
        items: args.items,
        seed: args.seed,
        groups: args.groups,
        start,
        days: args.days,
        ..SynthConfig::default()
    };
    cfg.validate()?;

    let began = Instant::now();
    let log = synth::generate(&cfg);
    let generated = began.elapsed();
    let paths = synth::write_csv(&log, &args.out)?;
    let count = |k| log.events.iter().filter(|e| e.kind == k).count();
    let churned = log.truth.iter().filter(|t| t.dropped_out()).count();
    tracing::info!(
        events = log.events.len(),
        purchases = count(SynthEventKind::Purchase),
        views = count(SynthEventKind::View),
        carts = count(SynthEventKind::Cart),
        returns = count(SynthEventKind::Return),
        customers = log.truth.len(),
        dropped_out = churned,
        pairs = log.pairs.len(),
        generate_ms = generated.as_millis() as u64,
        total_ms = began.elapsed().as_millis() as u64,
        "wrote {}, {}, {}, {}",
        paths.events.display(),
        paths.truth.display(),
        paths.items.display(),
        paths.pairs.display()
    );
    Ok(())
}
