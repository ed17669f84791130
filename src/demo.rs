//! The demo model: a bundle trained on the built-in synthetic generator, so a fresh
//! checkout serves real answers with no data of its own (`cargo run --release`).

use crate::bundle::Metadata;
use crate::ingest::EventStore;
use crate::models::{TrainConfig, TrainError, TrainedModels};
use crate::synth::{SynthConfig, generate, to_store};
use crate::time::DAY;
use std::path::Path;

/// Size of the demo store: big enough to exercise every model, small enough to build in seconds.
pub fn demo_config() -> SynthConfig {
    SynthConfig {
        customers: 5_000,
        items: 600,
        seed: 42,
        ..SynthConfig::default()
    }
}

/// Generates the demo log as a store.
pub fn demo_store(cfg: &SynthConfig) -> EventStore {
    to_store(&generate(cfg))
}

/// Trains models on `store` with the cutoff at midnight after its last event.
pub fn train_on_whole_log(store: &EventStore) -> Result<(TrainedModels, i64), TrainError> {
    let last = store.time_range().map_or(0, |(_, l)| l);
    let cutoff = (last.div_euclid(DAY) + 1) * DAY;
    let (models, _) = TrainedModels::fit(store, cutoff, &TrainConfig::default())?;
    Ok((models, cutoff))
}

/// Builds the demo models and writes them as a bundle at `path`.
pub fn write_demo_bundle(path: &Path, cfg: &SynthConfig) -> Result<Metadata, TrainError> {
    let store = demo_store(cfg);
    let started = std::time::Instant::now();
    let (models, cutoff) = train_on_whole_log(&store)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let config = format!(
        "# demo model: synthetic data (customers = {}, items = {}, seed = {})\ncutoff = \"{}\"\n",
        cfg.customers,
        cfg.items,
        cfg.seed,
        crate::time::format_rfc3339(cutoff)
    );
    let created = crate::time::now_secs();
    let mut meta = models.metadata(&store, &config, created);
    meta.metrics
        .insert("train.seconds".to_string(), train_seconds);
    meta.model_version = format!("demo-{}", crate::time::format_date(created));
    Ok(models.write_bundle(meta, path)?)
}
