//! `propensity-train features`: write the exact training and evaluation feature table
//! (with labels) that `evaluate` uses, for `gbdt train` or any other learner.

use crate::input::EventsArgs;
use anyhow::Context;
use propensity::propensity::evaluate::{protocol_config, protocol_tables};
use propensity::propensity::export::write_csv;
use propensity::propensity::{EvalOptions, PropensityConfig, Split};
use propensity::time::parse_timestamp;
use std::path::PathBuf;

/// Write the feature table with labels: training snapshots (set "train") and the cutoff
/// snapshot (set "eval").
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: EventsArgs,
    /// Evaluation snapshot (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    cutoff: String,
    /// Label window length in days.
    #[arg(long)]
    horizon_days: u32,
    /// Training rows from earlier snapshots (time) or from half the customers (customers).
    #[arg(long, value_enum, default_value = "time")]
    split: Split,
    /// Training config (TOML); built-in defaults when left out.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
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
    let (store, _) = args.input.load()?;
    let eval_opts = EvalOptions {
        cutoff,
        horizon_days: args.horizon_days,
        split: args.split,
        config,
        baselines: false,
    };
    let config = protocol_config(&eval_opts)?;
    let tables = protocol_tables(&store, &eval_opts, &config)?;
    write_csv(
        &store,
        &[("train", &tables.train.main), ("eval", &tables.eval)],
        &args.out,
    )?;
    eprintln!(
        "wrote {} training and {} evaluation rows to {}",
        tables.train.main.len(),
        tables.eval.len(),
        args.out.display()
    );
    Ok(())
}
