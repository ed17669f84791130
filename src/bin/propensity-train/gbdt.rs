//! `propensity-train gbdt train|predict`: tabular mode for any feature table in CSV.
//!
//! Prints its own stage timings on a `timing name=seconds ...` line so benchmarks can read
//! them (benches/gbdt_speed.py).

use anyhow::{Context, bail};
use clap::{Args as ClapArgs, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use propensity::documented::Flags;
use propensity::gbdt::table::{Table, read_table};
use propensity::gbdt::{
    Booster, Dataset, DenseInput, ImportanceKind, IterationReport, Params, decode_model_file,
    encode_model_file,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Train a GBDT on a CSV feature table, or predict with one.
#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: GbdtCommand,
}

#[derive(Subcommand)]
enum GbdtCommand {
    /// Train on a CSV table (header row; empty or NaN cells are missing) and write a .gbdt model.
    Train(Box<TrainArgs>),
    /// Predict every row of a CSV table with a .gbdt model.
    Predict(PredictArgs),
}

/// `gbdt train` flags; parameter flags carry LightGBM's names and default to its values.
#[derive(ClapArgs)]
struct TrainArgs {
    /// Training table (CSV with a header row).
    #[arg(long)]
    train: PathBuf,
    /// Label column.
    #[arg(long)]
    label: String,
    /// Validation table: per-round metrics and early stopping.
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Categorical columns (comma-separated); their cells are read as category names.
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// Sample-weight column.
    #[arg(long)]
    weight: Option<String>,
    /// Query-id column for `--objective lambdarank`: consecutive rows with the same id are
    /// one query (e.g. one customer's candidates); left out of the features.
    #[arg(long)]
    query: Option<String>,
    /// Columns to leave out of the features (comma-separated), e.g. ids.
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// GBDT parameters: one flag per field of `Params`, named after LightGBM's.
    #[command(flatten)]
    params: Flags<Params>,
    /// Output model file.
    #[arg(long)]
    out: PathBuf,
}

/// `gbdt predict` flags.
#[derive(ClapArgs)]
struct PredictArgs {
    /// Model written by `gbdt train`.
    #[arg(long)]
    model: PathBuf,
    /// Table to score; must hold every feature column of the model (others are ignored).
    #[arg(long)]
    data: PathBuf,
    /// Also write one SHAP column per feature (`shap_<feature>`).
    #[arg(long)]
    shap: bool,
    /// Write raw scores (log-odds / log-rate) instead of probabilities / rates.
    #[arg(long)]
    raw_score: bool,
    /// Threads; 0 uses every core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output CSV.
    #[arg(long)]
    out: PathBuf,
}

/// What a .gbdt file holds: the booster plus what tabular mode needs to read new tables.
/// Part of the model file format: changing it bumps `gbdt::FORMAT_VERSION`.
#[derive(Serialize, Deserialize)]
struct TabularModel {
    booster: Booster,
    label: String,
    /// Category names of each categorical feature; a category's code is its index.
    categories: Vec<(String, Vec<String>)>,
}

/// Runs `gbdt train` or `gbdt predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        GbdtCommand::Train(a) => train(*a),
        GbdtCommand::Predict(a) => predict(a),
    }
}

impl TrainArgs {
    /// LightGBM defaults overridden by the flags given.
    fn params(&self) -> anyhow::Result<Params> {
        self.params
            .value()
            .map_err(|e| anyhow::anyhow!("GBDT parameters: {e}"))
    }
}

/// Label, optional weights and feature columns split out of a table.
struct Split {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
    labels: Vec<f64>,
    weights: Option<Vec<f64>>,
    /// Rows per query, in row order (`--query`).
    queries: Option<Vec<usize>>,
}

impl Split {
    fn input<'a>(&'a self, categorical: &'a [String]) -> DenseInput<'a> {
        DenseInput {
            columns: &self.columns,
            feature_names: &self.names,
            categorical,
            labels: &self.labels,
            weights: self.weights.as_deref(),
        }
    }
}

fn take_column(table: &mut Table, path: &Path, name: &str, what: &str) -> anyhow::Result<Vec<f64>> {
    let i = table.index(name).with_context(|| {
        format!(
            "{}: no {what} column {name:?} in the header",
            path.display()
        )
    })?;
    let col = std::mem::take(&mut table.columns[i]);
    if let Some(row) = col.iter().position(|v| v.is_nan()) {
        bail!(
            "{}: line {}: {what} column {name:?} is missing",
            path.display(),
            row + 2
        );
    }
    Ok(col)
}

fn split_table(mut table: Table, path: &Path, a: &TrainArgs) -> anyhow::Result<Split> {
    let labels = take_column(&mut table, path, &a.label, "label")?;
    let weights = a
        .weight
        .as_deref()
        .map(|w| take_column(&mut table, path, w, "weight"))
        .transpose()?;
    let queries = a
        .query
        .as_deref()
        .map(|q| {
            let ids = take_column(&mut table, path, q, "query")?;
            query_sizes(&ids, path, q)
        })
        .transpose()?;
    for name in &a.ignore {
        if table.index(name).is_none() {
            bail!(
                "{}: --ignore column {name:?} is not in the header",
                path.display()
            );
        }
    }
    let skip = |n: &String| {
        *n == a.label
            || Some(n) == a.weight.as_ref()
            || Some(n) == a.query.as_ref()
            || a.ignore.contains(n)
    };
    let (names, columns) = table
        .names
        .into_iter()
        .zip(table.columns)
        .filter(|(n, _)| !skip(n))
        .unzip();
    Ok(Split {
        names,
        columns,
        labels,
        weights,
        queries,
    })
}

/// Sizes of the runs of equal ids; an id that comes back after another one is an error
/// naming its line (a query's rows must be consecutive).
fn query_sizes(ids: &[f64], path: &Path, name: &str) -> anyhow::Result<Vec<usize>> {
    let mut sizes: Vec<usize> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (row, &id) in ids.iter().enumerate() {
        if row > 0 && id.to_bits() == ids[row - 1].to_bits() {
            if let Some(last) = sizes.last_mut() {
                *last += 1;
            }
            continue;
        }
        if !seen.insert(id.to_bits()) {
            bail!(
                "{}: line {}: query {name:?} = {id} appears again after other queries; \
                 hint: sort the table by {name:?}",
                path.display(),
                row + 2
            );
        }
        sizes.push(1);
    }
    Ok(sizes)
}

fn train(a: TrainArgs) -> anyhow::Result<()> {
    let params = a.params()?;
    params.validate()?;
    for c in &a.categorical {
        if *c == a.label || Some(c) == a.weight.as_ref() {
            bail!("--categorical {c:?} is the label or weight column");
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(params.threads)
        .build()?;
    let t_start = Instant::now();
    let table = pool.install(|| read_table(&a.train, &a.categorical, &HashMap::new()))?;
    let categories: Vec<(String, Vec<String>)> = table
        .names
        .iter()
        .zip(&table.vocab)
        .filter_map(|(n, v)| Some((n.clone(), v.clone()?)))
        .collect();
    let train = split_table(table, &a.train, &a)?;
    let valid = match &a.valid {
        Some(path) => {
            let vocab: HashMap<String, Vec<String>> = categories.iter().cloned().collect();
            let table = pool.install(|| read_table(path, &a.categorical, &vocab))?;
            Some((path, split_table(table, path, &a)?))
        }
        None => None,
    };
    let parse_s = t_start.elapsed().as_secs_f64();
    eprintln!(
        "read {}: {} rows, {} features in {parse_s:.2} s",
        a.train.display(),
        train.labels.len(),
        train.names.len()
    );

    let t_bin = Instant::now();
    let mut train_ds = Dataset::from_dense(train.input(&a.categorical), &params)
        .context("binning the training table")?;
    if let Some(sizes) = &train.queries {
        train_ds = train_ds.with_queries(sizes)?;
    }
    let valid_ds = match &valid {
        Some((path, v)) => Some(
            Dataset::from_dense_like(v.input(&a.categorical), &train_ds)
                .with_context(|| format!("binning {} like the training table", path.display()))?,
        ),
        None => None,
    };
    drop(valid);
    let binning_s = t_bin.elapsed().as_secs_f64();

    let t_train = Instant::now();
    // Drawn with the other stages' bars (terminal, no --quiet), else per-round lines.
    let bar = match propensity::progress::bars() {
        Some(bars) => bars.add(ProgressBar::new(params.num_iterations as u64)),
        None => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rounds {msg} [{elapsed}<{eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut on_iteration = |r: &IterationReport| {
        bar.inc(1);
        if !r.metrics.is_empty() {
            let line = r
                .metrics
                .iter()
                .map(|(n, v)| format!("{n}={v:.6}"))
                .collect::<Vec<_>>()
                .join(" ");
            let line = format!("[{}] valid {line}", r.iteration + 1);
            bar.set_message(line.clone());
            if bar.is_hidden() {
                eprintln!("{line}");
            } else {
                bar.println(line);
            }
        }
    };
    let booster =
        Booster::train_with_callback(&params, &train_ds, valid_ds.as_ref(), &mut on_iteration)?;
    bar.finish_and_clear();
    let training_s = t_train.elapsed().as_secs_f64();
    if let Some(best) = booster.best_iteration() {
        eprintln!(
            "early stopping: kept {} rounds (best iteration {})",
            best + 1,
            best + 1
        );
    }
    let gain = booster.feature_importance(ImportanceKind::Gain);
    let mut top: Vec<(usize, f64)> = gain.iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let names = booster.feature_names();
    let top: Vec<String> = top
        .iter()
        .take(5)
        .map(|&(f, g)| format!("{}={g:.1}", names[f]))
        .collect();
    eprintln!(
        "{} trees; top features by gain: {}",
        booster.trees().len(),
        top.join(", ")
    );

    let model = TabularModel {
        booster,
        label: a.label.clone(),
        categories,
    };
    let bytes = encode_model_file(&model)?;
    propensity::fsutil::atomic_write(&a.out, &bytes)?;
    eprintln!("wrote {} ({} bytes)", a.out.display(), bytes.len());
    eprintln!(
        "timing csv_parse_s={parse_s:.3} binning_s={binning_s:.3} training_s={training_s:.3} total_s={:.3}",
        t_start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    let model: TabularModel =
        decode_model_file(&bytes).with_context(|| format!("loading {}", a.model.display()))?;
    model
        .booster
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: inconsistent model: {e}", a.model.display()))?;
    let booster = &model.booster;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()?;
    let t_parse = Instant::now();
    let categorical: Vec<String> = model.categories.iter().map(|(n, _)| n.clone()).collect();
    let vocab: HashMap<String, Vec<String>> = model.categories.iter().cloned().collect();
    let mut table = pool.install(|| read_table(&a.data, &categorical, &vocab))?;
    let mut columns = Vec::with_capacity(booster.n_features());
    for name in booster.feature_names() {
        let i = table.index(name).with_context(|| {
            format!(
                "{}: no column {name:?}, a feature of the model",
                a.data.display()
            )
        })?;
        columns.push(std::mem::take(&mut table.columns[i]));
    }
    let parse_s = t_parse.elapsed().as_secs_f64();
    let n_rows = columns.first().map_or(0, Vec::len);

    let t_pred = Instant::now();
    let mut preds = pool.install(|| booster.predict_columns(&columns))?;
    if !a.raw_score {
        preds.iter_mut().for_each(|p| *p = booster.transform(*p));
    }
    let predict_s = t_pred.elapsed().as_secs_f64();

    let n_features = booster.n_features();
    let shap = if a.shap {
        let mut phi = vec![0.0; n_rows * n_features];
        pool.install(|| {
            phi.par_chunks_mut(n_features.max(1))
                .enumerate()
                .try_for_each(|(r, out)| {
                    let row: Vec<f64> = columns.iter().map(|c| c[r]).collect();
                    booster.shap_row(&row, out)
                })
        })?;
        eprintln!(
            "SHAP expected value (raw score): {}",
            booster.expected_value()
        );
        Some(phi)
    } else {
        None
    };

    let t_write = Instant::now();
    let file =
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut header = String::from("prediction");
    if shap.is_some() {
        for name in booster.feature_names() {
            header.push_str(",shap_");
            header.push_str(name);
        }
    }
    let write_err = || format!("writing {}", a.out.display());
    writeln!(w, "{header}").with_context(write_err)?;
    for (r, p) in preds.iter().enumerate() {
        write!(w, "{p}").with_context(write_err)?;
        if let Some(phi) = &shap {
            for v in &phi[r * n_features..(r + 1) * n_features] {
                write!(w, ",{v}").with_context(write_err)?;
            }
        }
        writeln!(w).with_context(write_err)?;
    }
    w.flush().with_context(write_err)?;
    eprintln!("wrote {} predictions to {}", n_rows, a.out.display());
    eprintln!(
        "timing csv_parse_s={parse_s:.3} predict_s={predict_s:.4} write_s={:.3} rows_per_s={:.0}",
        t_write.elapsed().as_secs_f64(),
        n_rows as f64 / predict_s.max(1e-9)
    );
    Ok(())
}
