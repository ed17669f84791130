//! The evaluation protocol's flags, shared by `evaluate` and `features` so both read the
//! same snapshot, window, split and training config.

use anyhow::Context;
use propensity::config::TrainConfig;
use propensity::propensity::Split;
use propensity::time::parse_timestamp;
use std::path::PathBuf;

/// Snapshot, label window, split and training config of one evaluation.
#[derive(clap::Args, Debug)]
pub struct ProtocolArgs {
    /// Evaluation snapshot (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub cutoff: String,
    /// Label window length in days.
    #[arg(long)]
    pub horizon_days: u32,
    /// Train on earlier snapshots (time) or on half the customers (customers).
    #[arg(long, value_enum, default_value = "time")]
    pub split: Split,
    /// Training config (TOML, see `propensity-train config --defaults`); built-in defaults
    /// when left out.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl ProtocolArgs {
    /// The cutoff in seconds and the training config, checked.
    pub fn resolve(&self) -> anyhow::Result<(i64, TrainConfig)> {
        let cutoff = parse_timestamp(&self.cutoff)
            .with_context(|| format!("--cutoff {:?} is not a date", self.cutoff))?;
        anyhow::ensure!(self.horizon_days > 0, "--horizon-days must be at least 1");
        let config = match &self.config {
            Some(p) => TrainConfig::load(p)?,
            None => TrainConfig::default(),
        };
        Ok((cutoff, config))
    }
}
