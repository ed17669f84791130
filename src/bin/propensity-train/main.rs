//! `propensity-train`: the offline trainer and data-science command line.
//!
//! Each subcommand lives in its own file next to this one, exposing `Args` (clap) and
//! `run(Args) -> anyhow::Result<()>`; library errors are typed, `anyhow` only adds context here.

mod erase;
mod evaluate;
mod features;
mod gbdt;
mod input;
mod inspect;
mod report;
mod stats;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod synth;
mod train;

/// Offline trainer: read event logs, train, evaluate and inspect models.
#[derive(Parser)]
#[command(name = "propensity-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load an event log and report what was read (rows, customers, items, baskets, skips).
    Stats(stats::Args),
    /// Write a synthetic event log with known ground truth.
    Synth(synth::Args),
    /// Train every model on an event log and write one model bundle.
    Train(train::Args),
    /// Tabular mode: train a GBDT on any CSV feature table, or predict with one.
    Gbdt(gbdt::Args),
    /// Show a bundle's metadata, metrics, feature importance and sections.
    Inspect(inspect::Args),
    /// Train before a cutoff and measure churn, repurchase and next purchase at it.
    Evaluate(evaluate::Args),
    /// Write the exact training/evaluation feature table with labels as CSV.
    Features(features::Args),
    /// Rewrite an event log without some customers (right to be forgotten).
    Erase(erase::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result: anyhow::Result<()> = match cli.command {
        Command::Stats(args) => stats::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Train(args) => train::run(args),
        Command::Gbdt(args) => gbdt::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Features(args) => features::run(args),
        Command::Erase(args) => erase::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", propensity::errors::describe(e.as_ref()));
            // 2 like the server and ripgrep; clap's own usage errors are 2 as well.
            ExitCode::from(2)
        }
    }
}
