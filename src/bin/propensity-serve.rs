//! `propensity-serve`: the HTTP service (see `propensity::serve` for routes and config).

use std::process::ExitCode;

use clap::Parser;
use propensity::serve::{ServeArgs, ServeConfig};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = ServeArgs::parse();
    let result = ServeConfig::load(&args)
        .map_err(anyhow::Error::from)
        .and_then(|config| propensity::serve::run(config).map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
