//! `propensity-train evaluate`: train before the cutoff (or on half the customers), measure
//! churn, repurchase and next purchase at the cutoff next to baselines.

use crate::input::EventsArgs;
use anyhow::Context;
use propensity::propensity::{EvalOptions, PropensityConfig, Split, evaluate};
use propensity::ranking::{RecommendConfig, RecommendReport, evaluate_recommend};
use propensity::time::parse_timestamp;
use serde_json::{Value, json};
use std::path::PathBuf;

/// Evaluate the propensity models at a cutoff and print/write the report.
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
    /// Skip the recommendation evaluation (it runs with --split time on logs with items).
    #[arg(long)]
    no_recommend: bool,
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
    let mut report = evaluate(
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
    if !args.no_recommend && args.split == Split::Time && store.n_items() > 1 {
        let started = std::time::Instant::now();
        let rec = evaluate_recommend(
            &store,
            cutoff,
            args.horizon_days,
            &RecommendConfig::default(),
        )?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "\nrecommend (truth: distinct items bought in the horizon; n_users {})",
            rec.n_users
        );
        print!("{rec}");
        report
            .extra
            .insert("recommend".to_string(), recommend_json(&rec, seconds));
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing report {}", path.display()))?;
    }
    Ok(())
}

/// The DESIGN.md `recommend` section: the final ranker's metrics at the top, every single
/// source beside them so the value of each stage is visible.
fn recommend_json(rec: &RecommendReport, seconds: f64) -> Value {
    let row = |r: &propensity::ranking::ReportRow| {
        json!({
            "recall@10": r.recall_10,
            "ndcg@10": r.ndcg_10,
            "recall@20": r.recall_20,
            "hit@10": r.hit_10,
        })
    };
    let mut out = rec.rows.first().map_or_else(|| json!({}), row);
    if let Value::Object(m) = &mut out {
        m.insert("n_users".into(), json!(rec.n_users));
        m.insert("candidate_recall".into(), json!(rec.candidate_recall));
        m.insert("train_seconds".into(), json!(seconds));
        let sources: serde_json::Map<String, Value> = rec
            .rows
            .iter()
            .skip(1)
            .map(|r| (r.name.clone(), row(r)))
            .collect();
        m.insert("sources".into(), Value::Object(sources));
    }
    out
}
