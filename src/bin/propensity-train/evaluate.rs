//! `propensity-train evaluate`: train before the cutoff (or on half the customers), measure
//! churn, repurchase and next purchase at the cutoff next to baselines.

use crate::input::EventsArgs;
use crate::protocol::ProtocolArgs;
use anyhow::Context;
use propensity::config::TrainConfig;
use propensity::propensity::{EvalOptions, Split, evaluate_detailed};
use propensity::ranking::{
    RecommendReport, Recommender, evaluate_fitted, evaluate_fitted_detailed,
};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Evaluate the propensity models at a cutoff and print/write the report.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: EventsArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Write the report as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Skip the baselines (recency, BG/NBD, Pareto/NBD, last gap): faster, for tuning.
    #[arg(long)]
    no_baselines: bool,
    /// Skip the recommendation evaluation (it runs with --split time on logs with items).
    #[arg(long)]
    no_recommend: bool,
    /// Also write a self-contained HTML report (inline SVG charts: ROC, calibration, lift,
    /// recommendations by segment and history, next-purchase error) here.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (
        cutoff,
        TrainConfig {
            propensity: config,
            recommend,
        },
    ) = args.protocol.resolve()?;
    let (store, _) = args.input.load()?;
    let seed = config.seed;
    let (mut report, detail) = evaluate_detailed(
        &store,
        &EvalOptions {
            cutoff,
            horizon_days: args.protocol.horizon_days,
            split: args.protocol.split,
            config,
            baselines: !args.no_baselines,
        },
    )?;
    print!("{report}");
    let mut recommend_run = None;
    if !args.no_recommend && args.protocol.split == Split::Time && store.n_items() > 1 {
        let started = std::time::Instant::now();
        let fitted = Recommender::fit(&store, cutoff, &recommend)?;
        // Per-customer metrics only when the HTML report breaks them down.
        let rec = if args.html.is_some() {
            let (rec, customers) =
                evaluate_fitted_detailed(&store, &fitted, args.protocol.horizon_days);
            recommend_run = Some((rec.clone(), customers));
            rec
        } else {
            evaluate_fitted(&store, &fitted, args.protocol.horizon_days)
        };
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "\nrecommend (truth: distinct items bought in the horizon; n_users {})",
            rec.n_users
        );
        println!("{rec}");
        report
            .extra
            .insert("recommend".to_string(), recommend_json(&rec, seconds));
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing report {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        let html = crate::report::build(
            &store,
            cutoff,
            protocol_rows(&args, seed, &report),
            &report,
            &detail,
            recommend_run.as_ref(),
        )?
        .render();
        std::fs::write(path, html)
            .with_context(|| format!("writing HTML report {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// What the report was measured on, enough to run it again.
fn protocol_rows(
    args: &Args,
    seed: u64,
    report: &propensity::propensity::EvalReport,
) -> Vec<(String, String)> {
    let p = &report.protocol;
    let path = |p: &Option<PathBuf>| p.as_ref().map_or("-".into(), |p| p.display().to_string());
    vec![
        ("events".into(), args.input.events.display().to_string()),
        (
            "format".into(),
            args.input
                .format
                .map_or("guessed from the extension".into(), |f| {
                    format!("{f:?}").to_lowercase()
                }),
        ),
        ("items".into(), path(&args.input.items)),
        ("customers".into(), path(&args.input.customers)),
        ("cutoff".into(), p.cutoff.clone()),
        ("horizon".into(), format!("{} days", p.horizon_days)),
        ("split".into(), format!("{:?}", p.split).to_lowercase()),
        (
            "config".into(),
            args.protocol
                .config
                .as_ref()
                .map_or("built-in defaults".into(), |c| c.display().to_string()),
        ),
        ("seed".into(), seed.to_string()),
        ("baselines".into(), (!args.no_baselines).to_string()),
        (
            "training rows".into(),
            format!("{} (curve {})", p.train_rows, p.curve_train_rows),
        ),
        ("training snapshots".into(), p.train_snapshots.join(", ")),
        (
            "train seconds".into(),
            format!("{:.1}", report.train_seconds),
        ),
        (
            "command".into(),
            std::env::args().collect::<Vec<_>>().join(" "),
        ),
        ("propensity".into(), env!("CARGO_PKG_VERSION").into()),
    ]
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
        m.insert("mean_candidates".into(), json!(rec.mean_candidates));
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
