//! `propensity-train config --defaults`: the training config with every default, commented.

/// Print the training config file format.
#[derive(clap::Args)]
pub struct Args {
    /// Print every key with its default value and its meaning (the file `train`,
    /// `evaluate` and `features` read with `--config`).
    #[arg(long)]
    defaults: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.defaults,
        "say what to print: `propensity-train config --defaults`"
    );
    print!("{}", propensity::config::TrainConfig::defaults_toml());
    Ok(())
}
