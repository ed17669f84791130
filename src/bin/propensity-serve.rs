//! `propensity-serve`: the HTTP service (see `propensity::serve` for routes and config).

use std::process::ExitCode;

use clap::Parser;
use propensity::demo::{demo_config, write_demo_bundle};
use propensity::serve::{ServeArgs, ServeConfig};

/// With no bundle configured and none at the default path, builds the demo bundle from the
/// synthetic generator and serves that, so a fresh checkout answers at once.
fn with_demo_fallback(mut config: ServeConfig) -> anyhow::Result<ServeConfig> {
    let default = ServeConfig::default().bundle;
    if config.bundle != default || config.bundle.exists() {
        return Ok(config);
    }
    let demo = default.with_file_name("demo.bundle");
    let started = std::time::Instant::now();
    let dir = demo.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let meta = write_demo_bundle(&demo, &demo_config())?;
    tracing::warn!(
        bundle = %demo.display(),
        model_version = %meta.model_version,
        seconds = started.elapsed().as_secs_f64(),
        "no bundle at {}: serving a DEMO model trained on synthetic data; train one with \
         `propensity-train train --events F --out {}`",
        default.display(),
        default.display()
    );
    config.bundle = demo;
    Ok(config)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = ServeArgs::parse();
    if args.print_openapi {
        print!("{}", propensity::serve::routes::openapi::document());
        return ExitCode::SUCCESS;
    }
    let result = ServeConfig::load(&args)
        .map_err(anyhow::Error::from)
        .and_then(with_demo_fallback)
        .and_then(|config| propensity::serve::run(config).map_err(anyhow::Error::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", propensity::errors::describe(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
