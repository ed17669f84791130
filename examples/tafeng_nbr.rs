//! TF-NBR: next-basket recommendation on Ta-Feng, the ranker against every source alone.
//!
//! `cargo run --release --example tafeng_nbr -- /work/data/ta_feng.csv 2001-02-01`
//! Tune on an earlier cutoff (e.g. 2001-01-04), never on February.

use anyhow::Context;
use clap::Parser;
use propensity::ingest::{Format, LoadOptions, load_events};
use propensity::ranking::{RecommendConfig, evaluate_recommend};
use std::time::Instant;

/// Evaluate next-best-product recommendations on a Ta-Feng file.
#[derive(Parser)]
struct Args {
    /// Ta-Feng CSV.
    path: std::path::PathBuf,
    /// Cutoff date (YYYY-MM-DD): sources see events before it, truth is the next horizon.
    cutoff: String,
    /// Horizon in days.
    #[arg(long, default_value_t = 28)]
    horizon: u32,
    /// Optional training config (TOML); its `[recommend]` table is used (unknown keys are
    /// refused).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cutoff = propensity::time::parse_timestamp(&args.cutoff)
        .with_context(|| format!("cutoff {:?}", args.cutoff))?;
    let cfg: RecommendConfig = match &args.config {
        Some(p) => propensity::config::TrainConfig::load(p)?.recommend,
        None => RecommendConfig {
            horizon_days: args.horizon,
            ..RecommendConfig::default()
        },
    };
    let started = Instant::now();
    let opts = LoadOptions {
        format: Some(Format::Tafeng),
        ..LoadOptions::default()
    };
    let (store, _) = load_events(&args.path, &opts)
        .with_context(|| format!("loading {}", args.path.display()))?;
    eprintln!("loaded {} events in {:.1?}", store.len(), started.elapsed());
    let report = evaluate_recommend(&store, cutoff, args.horizon, &cfg)?;
    println!("{report}");
    eprintln!("total {:.1?}", started.elapsed());
    Ok(())
}
