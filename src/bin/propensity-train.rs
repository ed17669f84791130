//! `propensity-train`: the offline trainer and data-science command line.

use clap::{Parser, Subcommand};

/// Offline trainer: read event logs, train, evaluate and inspect models.
#[derive(Parser)]
#[command(name = "propensity-train", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {}
}
