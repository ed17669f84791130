//! `propensity-train features`: write the exact training and evaluation feature table
//! (with labels) that `evaluate` uses, for `gbdt train` or any other learner.

use crate::input::EventsArgs;
use crate::protocol::ProtocolArgs;
use propensity::propensity::EvalOptions;
use propensity::propensity::evaluate::{protocol_config, protocol_tables};
use propensity::propensity::export::write_csv;
use std::path::PathBuf;

/// Write the feature table with labels: training snapshots (set "train") and the cutoff
/// snapshot (set "eval").
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: EventsArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (cutoff, config) = args.protocol.resolve()?;
    let config = config.propensity;
    let (store, _) = args.input.load()?;
    let eval_opts = EvalOptions {
        cutoff,
        horizon_days: args.protocol.horizon_days,
        split: args.protocol.split,
        config,
        baselines: false,
    };
    let config = protocol_config(&eval_opts)?;
    let tables = protocol_tables(&store, &eval_opts, &config)?;
    write_csv(
        &store,
        &[("train", &tables.train.main), ("eval", &tables.eval)],
        &args.out,
    )?;
    eprintln!(
        "wrote {} training and {} evaluation rows to {}",
        tables.train.main.len(),
        tables.eval.len(),
        args.out.display()
    );
    Ok(())
}
