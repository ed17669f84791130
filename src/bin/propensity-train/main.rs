//! `propensity-train`: the offline trainer and data-science command line.
//!
//! Each subcommand lives in its own file next to this one, exposing `Args` (clap) and
//! `run(Args) -> anyhow::Result<()>`; library errors are typed, `anyhow` only adds context here.

mod config;
mod erase;
mod evaluate;
mod features;
mod gbdt;
mod input;
mod inspect;
mod protocol;
mod report;
mod stats;

use clap::{Parser, Subcommand};
use indicatif::{MultiProgress, ProgressDrawTarget};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

mod synth;
mod train;

/// Offline trainer: read event logs, train, evaluate and inspect models.
#[derive(Parser)]
#[command(name = "propensity-train", version, about)]
struct Cli {
    /// No progress bars (they are drawn only when stderr is a terminal anyway); log lines
    /// and results are still printed.
    #[arg(long, short, global = true)]
    quiet: bool,
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
    /// Print the training config with every default, commented (`--defaults`).
    Config(config::Args),
}

/// Log lines go to stderr; while bars are drawn, each line is written above them.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match propensity::progress::bars() {
            Some(bars) => bars.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.quiet && std::io::stderr().is_terminal() {
        propensity::progress::draw_on(
            MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        );
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(|| LogWriter)
        .init();
    let result: anyhow::Result<()> = match cli.command {
        Command::Stats(args) => stats::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Train(args) => train::run(args),
        Command::Gbdt(args) => gbdt::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Features(args) => features::run(args),
        Command::Erase(args) => erase::run(args),
        Command::Config(args) => config::run(args),
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
