//! `propensity-train train`: fit every model on an event log and write one bundle.

use crate::input::EventsArgs;
use anyhow::{Context, bail};
use propensity::bundle::BundleWriter;
use propensity::config::TrainConfig;
use propensity::journal::read_journal;
use propensity::models::TrainedModels;
use propensity::time::{format_rfc3339, parse_timestamp};
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
    /// A server's event journal directory (`propensity-serve --journal`): its events are
    /// trained on with the file's, every erased customer is left out of both, and the bundle
    /// records the journal seq it includes (the server replays only later records).
    /// Read-only: safe while the server appends.
    #[arg(long)]
    journal: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let total = Instant::now();
    let t = Instant::now();
    let mut journal = match &args.journal {
        Some(dir) => {
            Some(read_journal(dir).with_context(|| format!("reading journal {}", dir.display()))?)
        }
        None => None,
    };
    let (store, report) = match &mut journal {
        // The events move into the load; the journal keeps its counts for the report.
        Some(j) => args
            .input
            .load_with(j.erased.clone(), std::mem::take(&mut j.events))?,
        None => args.input.load()?,
    };
    let load_s = t.elapsed().as_secs_f64();
    if let (Some(dir), Some(j)) = (&args.journal, &journal) {
        println!(
            "journal     {}: {} events applied, up to seq {}",
            dir.display(),
            report.extra_events,
            j.last_seq
        );
        println!(
            "erased      {} customers: {} rows of the events file, {} of the customers file \
             and {} journal events left out",
            j.erased.len(),
            report.events.excluded,
            report.customers.as_ref().map_or(0, |c| c.excluded),
            j.erased_events + report.extra_excluded
        );
        if j.incomplete_tail_bytes > 0 {
            eprintln!(
                "note: the newest journal segment ends in {} bytes of an unfinished write \
                 (not acknowledged yet); they are not included",
                j.incomplete_tail_bytes
            );
        }
    }
    let Some((last, observed_until)) = propensity::features::observed_until(&store) else {
        bail!("{}: no events to train on", args.input.events.display());
    };
    let cutoff = match &args.cutoff {
        Some(s) => parse_timestamp(s)
            .with_context(|| format!("--cutoff {s:?}: expected RFC 3339 or YYYY-MM-DD"))?,
        None => observed_until,
    };
    // Past it, the training snapshots' label windows would run into days the log does not
    // have, and the models would learn that everyone stopped buying (e.g. a stale export).
    anyhow::ensure!(
        cutoff <= observed_until,
        "--cutoff {} is after the log's last day, {}: the training label windows would count \
         the missing days as customers not buying; leave --cutoff out (it defaults to {}) or \
         check that the log is complete",
        format_rfc3339(cutoff),
        propensity::time::format_date(last),
        format_rfc3339(observed_until)
    );
    let train_config = match &args.config {
        Some(path) => TrainConfig::load(path)?,
        None => TrainConfig::default(),
    };
    let t = Instant::now();
    let (models, stages) = TrainedModels::fit(&store, cutoff, &train_config)?;
    let fit_s = t.elapsed().as_secs_f64();
    // The effective config, defaults filled in: what `inspect` shows and a retrain can reuse.
    let config = format!(
        "# cutoff = \"{}\"\n{}",
        format_rfc3339(cutoff),
        train_config.to_toml()
    );
    let created = propensity::time::now_secs();
    let mut meta = models.metadata(&store, &config, created);
    meta.metrics.insert("train.seconds".to_string(), fit_s);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let t = Instant::now();
    let mut writer = BundleWriter::new();
    writer.metadata(meta);
    models.put_sections(&mut writer)?;
    if let Some(j) = &journal {
        writer.journal_seq(j.last_seq)?;
    }
    let written = writer
        .write_atomic(&args.out)
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
    if stages.stages.len() > 1 {
        println!(
            "  (propensity models and recommender are fitted side by side: their times overlap)"
        );
    }
    println!(
        "seconds     load {load_s:.2}, fit {fit_s:.2}, write {write_s:.2}, total {:.2}",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}
