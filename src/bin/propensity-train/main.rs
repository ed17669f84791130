//! `propensity-train`: the offline trainer and data-science command line.
//!
//! Each subcommand lives in its own file next to this one, exposing `Args` (clap) and
//! `run(Args) -> anyhow::Result<()>`; library errors are typed, `anyhow` only adds context here.

mod gbdt;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Offline trainer: read event logs, train, evaluate and inspect models.
#[derive(Parser)]
#[command(name = "propensity-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tabular mode: train a GBDT on any CSV feature table, or predict with one.
    Gbdt(gbdt::Args),
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
        Command::Gbdt(args) => gbdt::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
