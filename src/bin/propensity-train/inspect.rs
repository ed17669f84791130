//! `propensity-train inspect`: what is inside a bundle (metadata, metrics, features,
//! sections), after full verification.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use propensity::bundle::{Bundle, BundleSummary};

/// Show a bundle's metadata, data range, config, metrics, feature importance and sections.
#[derive(clap::Args)]
pub struct Args {
    /// The bundle file to inspect.
    pub bundle: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Opens (and so verifies) the bundle, then prints its summary.
pub fn run(args: Args) -> anyhow::Result<()> {
    let bundle = Bundle::open(&args.bundle)
        .with_context(|| format!("inspecting {}", args.bundle.display()))?;
    let summary = BundleSummary::of(&bundle);
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&summary).context("rendering JSON")?;
        s.push('\n');
        s
    } else {
        render_text(&args.bundle.display().to_string(), &summary)
    };
    print!("{out}");
    Ok(())
}

fn render_text(path: &str, s: &BundleSummary) -> String {
    let mut o = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        o,
        "bundle      {path} ({} bytes, format v{})",
        s.len_bytes, s.format_version
    );
    let _ = writeln!(
        o,
        "model       {} (written by propensity {})",
        s.model_version, s.trainer_version
    );
    let _ = writeln!(o, "created     {}", s.created_at);
    match &s.data_range {
        Some(r) => {
            let _ = writeln!(o, "data        {} .. {}", r.first_event_at, r.last_event_at);
        }
        None => {
            let _ = writeln!(o, "data        (no range recorded)");
        }
    }
    let _ = writeln!(
        o,
        "counts      {} events, {} customers, {} items",
        s.events, s.customers, s.items
    );
    if let Some(seq) = s.journal_seq {
        let _ = writeln!(o, "journal     includes records up to seq {seq}");
    }

    let _ = writeln!(o, "\nmetrics");
    if s.metrics.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    let w = s.metrics.keys().map(|k| k.len()).max().unwrap_or(0);
    for (k, v) in &s.metrics {
        let _ = writeln!(o, "  {k:<w$}  {v:.4}");
    }

    let _ = writeln!(o, "\nfeature importance");
    if s.feature_importance.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    let w = s
        .feature_importance
        .iter()
        .map(|f| f.name.len())
        .max()
        .unwrap_or(0);
    for f in &s.feature_importance {
        let _ = writeln!(o, "  {:<w$}  {:.4}", f.name, f.importance);
    }

    let _ = writeln!(o, "\nconfig");
    if s.config.trim().is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    for line in s.config.lines() {
        let _ = writeln!(o, "  {line}");
    }

    let _ = writeln!(o, "\nsections");
    let w = s
        .sections
        .iter()
        .map(|x| x.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        o,
        "  {:<w$}  {:<6}  {:>12}  {:>12}  {:<8}  shape",
        "name", "kind", "offset", "bytes", "crc32"
    );
    for x in &s.sections {
        let shape: Vec<String> = x.shape.iter().map(u64::to_string).collect();
        let _ = writeln!(
            o,
            "  {:<w$}  {:<6}  {:>12}  {:>12}  {:<8}  [{}]",
            x.name,
            x.kind,
            x.offset,
            x.len_bytes,
            x.crc32,
            shape.join(", ")
        );
    }
    o
}
