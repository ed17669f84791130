//! `propensity-train train`: fit every model on an event log and write one bundle.

use crate::input::EventsArgs;
use anyhow::{Context, bail};
use propensity::propensity::PropensityConfig;
use propensity::scoring::{TrainConfig, TrainedModels};
use propensity::time::{DAY, format_rfc3339, parse_timestamp};
use std::path::PathBuf;
use std::time::Instant;

/// Train all models on an event log and write a versioned model bundle.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: EventsArgs,
    /// Training cutoff (RFC 3339 or YYYY-MM-DD); models use only events before it.
    /// Default: midnight after the last event, so the whole log is used.
    #[arg(long)]
    cutoff: Option<String>,
    /// Training config (TOML, see training/default.toml); built-in defaults when left out.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output bundle path.
    #[arg(long, default_value = "models/default.bundle")]
    out: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let total = Instant::now();
    let t = Instant::now();
    let (store, _) = args.input.load()?;
    let load_s = t.elapsed().as_secs_f64();
    let Some((_, last)) = store.time_range() else {
        bail!("{}: no events to train on", args.input.events.display());
    };
    let cutoff = match &args.cutoff {
        Some(s) => parse_timestamp(s)
            .with_context(|| format!("--cutoff {s:?}: expected RFC 3339 or YYYY-MM-DD"))?,
        None => (last.div_euclid(DAY) + 1) * DAY,
    };
    let (propensity, config_text) = match &args.config {
        Some(path) => (
            PropensityConfig::load(path)?,
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => (PropensityConfig::default(), String::new()),
    };
    let train_config = TrainConfig {
        propensity,
        ..TrainConfig::default()
    };
    let t = Instant::now();
    let (models, stages) = TrainedModels::fit(&store, cutoff, &train_config)?;
    let fit_s = t.elapsed().as_secs_f64();
    let config = format!("# cutoff = \"{}\"\n{config_text}", format_rfc3339(cutoff));
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut meta = models.metadata(&store, &config, created);
    meta.metrics.insert("train.seconds".to_string(), fit_s);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let t = Instant::now();
    let written = models
        .write_bundle(meta, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let write_s = t.elapsed().as_secs_f64();
    println!("bundle      {}", args.out.display());
    println!("version     {}", written.model_version);
    println!("cutoff      {}", format_rfc3339(cutoff));
    println!(
        "customers   {} modelled of {}",
        models.base.rows(),
        store.n_customers()
    );
    for (stage, secs) in &stages.stages {
        println!("  {stage:<18} {secs:.2} s");
    }
    println!(
        "seconds     load {load_s:.2}, fit {fit_s:.2}, write {write_s:.2}, total {:.2}",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}
