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
    /// Event file F.csv; F.truth.csv, F.items.csv and F.pairs.csv are written beside it.
    #[arg(long)]
    out: PathBuf,
}

/// Validates the arguments, generates and writes the files.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = config(&args)?;
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

/// The generator config the flags ask for, validated.
fn config(args: &Args) -> anyhow::Result<SynthConfig> {
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
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> anyhow::Result<SynthConfig> {
        let cli = Cli::try_parse_from(["synth"].iter().chain(flags))?;
        config(&cli.args)
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let cfg = parse(&["--out", "x.csv"]).expect("valid");
        assert_eq!(cfg, SynthConfig::default());
    }

    #[test]
    fn flags_reach_the_config() {
        let cfg = parse(&[
            "--out",
            "x.csv",
            "--customers",
            "7",
            "--items",
            "30",
            "--seed",
            "9",
            "--groups",
            "3",
            "--start",
            "2001-02-03",
            "--days",
            "10",
        ])
        .expect("valid");
        assert_eq!((cfg.customers, cfg.items, cfg.seed), (7, 30, 9));
        assert_eq!((cfg.groups, cfg.days), (3, 10));
        assert_eq!(
            Some(cfg.start),
            propensity::time::parse_timestamp("2001-02-03")
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_flag_named() {
        let err = parse(&["--out", "x.csv", "--start", "2/3/2001"]).expect_err("bad date");
        assert!(format!("{err:#}").contains("--start"), "{err:#}");
        let err = parse(&["--out", "x.csv", "--items", "4", "--groups", "5"]).expect_err("groups");
        assert!(format!("{err:#}").contains("groups"), "{err:#}");
        assert!(parse(&["--customers", "5"]).is_err(), "--out is required");
    }
}
