//! Integration tests, one binary for every area (faster linking); helpers live beside.

mod cli;
mod gbdt;
mod journal;
mod parquet_input;
mod report;

/// Runs `propensity-train` with `args` and returns what it did.
fn trainer(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_propensity-train"))
        .args(args)
        .output()
        .expect("run propensity-train")
}
