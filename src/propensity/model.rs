//! The serialisable propensity model: churn (calibrated GBDT), expected purchases (Poisson
//! GBDT), the repurchase curve (calibrated GBDT with the horizon as a feature) and the
//! BG/NBD and Gamma-Gamma parameters at the cutoff, with cheap per-row scoring for the server.

use super::calibrate::Calibrator;
use super::config::{CountBase, PropensityConfig};
use super::error::{PropensityError, Result};
use super::explain::{Factor, describe};
use super::heldout::HeldOut;
use super::table::{
    EXPECTED_PURCHASES_FEATURE, FeatureTable, Population, fit_bgnbd_at, model_layout,
    snapshot_table,
};
use crate::clv::{BgNbdParams, GammaGammaParams};
use crate::features::{col, training_snapshots};
use crate::gbdt::{Booster, Dataset, DenseInput, Params};
use crate::ingest::{CustomerIdx, EventStore};
use crate::progress::{Stage, Unit};
use crate::rng::derive_seed;
use crate::time::DAY;
use serde::{Deserialize, Serialize};

/// Name of the extra column of the repurchase-curve model.
pub const CURVE_DAYS_FEATURE: &str = "curve_days";

/// Everything needed to score a customer from a feature row at the training cutoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropensityModel {
    /// The config it was trained with.
    pub config: PropensityConfig,
    /// Training cutoff (seconds): features of served rows are computed here.
    pub cutoff: i64,
    /// Churn and expected-purchases horizon (days).
    pub horizon_days: u32,
    /// Column names of a feature row.
    pub feature_names: Vec<String>,
    /// P(no purchase in the horizon), before calibration.
    pub churn: Booster,
    /// Calibration of the churn probability (fitted out of fold).
    pub churn_calibrator: Calibrator,
    /// Expected purchases in the horizon (Poisson), or its multiplier of `count_offset`.
    pub count: Booster,
    /// The count model's baseline, when it has one (`count_base = "bgnbd"`).
    pub count_offset: Option<CountOffset>,
    /// P(purchase within d days) with d as the last column, before calibration.
    pub curve: Booster,
    /// Calibration of the curve probabilities (fitted out of fold).
    pub curve_calibrator: Calibrator,
    /// Horizons of the curve, increasing.
    pub curve_days: Vec<u32>,
    /// BG/NBD fitted at the cutoff (days), if anyone had history.
    pub bgnbd: Option<BgNbdParams>,
    /// Gamma-Gamma spend model fitted at the cutoff, if enough repeat buyers.
    pub gamma_gamma: Option<GammaGammaParams>,
}

/// Where the count model's baseline expectation is read from a feature row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountOffset {
    /// Column holding the baseline expected purchases (BG/NBD over the horizon).
    pub column: usize,
    /// Baseline used when the column is missing: the training rows' mean baseline.
    pub fallback: f64,
}

/// Smallest baseline expectation: keeps the multiplier's label `y / e` finite.
const MIN_OFFSET: f64 = 1e-3;

impl CountOffset {
    /// Baseline expected purchases of one row (`fallback` when missing).
    pub fn of(&self, row: &[f32]) -> f64 {
        match row.get(self.column).map(|v| *v as f64) {
            Some(v) if v.is_finite() => v.max(MIN_OFFSET),
            _ => self.fallback,
        }
    }
}

/// Training tables of one fit.
#[derive(Debug, Clone)]
pub struct TrainingTables {
    /// Churn / count rows: label window = horizon.
    pub main: FeatureTable,
    /// Curve rows before expansion: label window = the longest curve horizon that still ends
    /// by the label limit.
    pub curve: FeatureTable,
}

/// Builds the time-split training tables for a model at `cutoff`: snapshots `cutoff − H`,
/// `cutoff − 2H`, … for churn and count, and every `curve_step_days` for the curve, every
/// label window ending at or before `cutoff`.
pub fn time_split_tables(
    store: &EventStore,
    cutoff: i64,
    horizon_days: u32,
    config: &PropensityConfig,
    keep: &(dyn Fn(CustomerIdx) -> bool + Sync),
) -> Result<TrainingTables> {
    let caps = RowCaps {
        main: MAX_TRAIN_ROWS,
        curve: MAX_CURVE_ROWS,
    };
    time_split_tables_capped(store, cutoff, horizon_days, config, keep, caps)
}

/// Most training rows of each table (see [`MAX_TRAIN_ROWS`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowCaps {
    /// Churn/count rows.
    pub main: usize,
    /// Curve rows after expansion over the horizons.
    pub curve: usize,
}

/// [`time_split_tables`] with explicit row caps.
pub(crate) fn time_split_tables_capped(
    store: &EventStore,
    cutoff: i64,
    horizon_days: u32,
    config: &PropensityConfig,
    keep: &(dyn Fn(CustomerIdx) -> bool + Sync),
    caps: RowCaps,
) -> Result<TrainingTables> {
    let start = store.time_range().map_or(cutoff, |r| r.0);
    let pop = Population::Active(config.active_days);
    let snaps = match config.snapshot_step_days {
        0 => training_snapshots(
            start,
            cutoff,
            horizon_days,
            config.min_history_days,
            config.max_snapshots,
        ),
        step => stepped_snapshots(start, cutoff, horizon_days, step, config),
    };
    let mut populations: Vec<(i64, Vec<CustomerIdx>)> = snaps
        .iter()
        .map(|&t| {
            (
                t,
                pop.at(store, t).into_iter().filter(|&c| keep(c)).collect(),
            )
        })
        .collect();
    let main_rows: usize = populations.iter().map(|(_, c)| c.len()).sum();
    let share = sample_share(caps.main, main_rows);
    if share < 1.0 {
        tracing::info!(
            rows = main_rows,
            share,
            cap = caps.main,
            "churn/count training rows above the cap: sampling customers"
        );
    }
    let mut main = FeatureTable::default();
    let stage = Stage::start(
        "propensity snapshots",
        populations.len() as u64,
        Unit::Items("snapshots"),
    );
    for (t, customers) in &mut populations {
        stage.inc(1);
        customers.retain(|&c| customer_sampled(config.seed, c, share));
        let bg = fit_bgnbd_at(store, *t)?;
        main.extend(snapshot_table(
            store,
            customers,
            *t,
            bg.as_ref(),
            horizon_days,
            horizon_days,
        ));
    }
    let curve = curve_table(
        store,
        cutoff,
        horizon_days,
        config,
        pop,
        keep,
        start,
        caps.curve,
    )?;
    stage.finish();
    Ok(TrainingTables { main, curve })
}

/// Most churn/count training rows (customer × snapshot). Past it, a share of the customers
/// is kept with all their rows, so fold assignment and snapshots stay whole. Bounds the
/// memory and time of a large store's fit (the models are small: a few hundred 4-leaf
/// trees); the public data sets stay far below it.
pub const MAX_TRAIN_ROWS: usize = 1_000_000;

/// Most repurchase-curve training rows after expansion over the horizons (see
/// [`MAX_TRAIN_ROWS`]); the curve only shapes what the churn model anchors.
pub const MAX_CURVE_ROWS: usize = 1_000_000;

/// Share of customers to keep so about `cap` of `rows` remain (1 when all fit).
pub(crate) fn sample_share(cap: usize, rows: usize) -> f64 {
    if rows <= cap {
        1.0
    } else {
        cap as f64 / rows as f64
    }
}

/// Whether customer `c` is in a `share` sample: a stable hash, so a customer is in or out
/// at every snapshot, whatever the thread count.
pub(crate) fn customer_sampled(seed: u64, c: CustomerIdx, share: f64) -> bool {
    share >= 1.0
        || ((derive_seed(&[seed, 0x5A3B, c.0 as u64]) >> 11) as f64) < share * (1u64 << 53) as f64
}

/// Snapshots `cutoff − H`, then back by `step` days, newest first, each with at least
/// `min_history_days` of data before it: every label window still ends by the cutoff.
fn stepped_snapshots(
    start: i64,
    cutoff: i64,
    horizon_days: u32,
    step: u32,
    config: &PropensityConfig,
) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = cutoff - horizon_days as i64 * DAY;
    while t - config.min_history_days as i64 * DAY >= start && out.len() < config.max_snapshots {
        out.push(t);
        t -= step as i64 * DAY;
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn curve_table(
    store: &EventStore,
    limit: i64,
    horizon_days: u32,
    config: &PropensityConfig,
    pop: Population,
    keep: &(dyn Fn(CustomerIdx) -> bool + Sync),
    start: i64,
    cap: usize,
) -> Result<FeatureTable> {
    let days = config.curve_horizons(None);
    let shortest = days[0] as i64;
    let longest = days[days.len() - 1] as i64;
    let step = config.curve_step_days as i64 * DAY;
    let mut snapshots = Vec::new();
    let mut t = limit - shortest * DAY;
    while t - config.min_history_days as i64 * DAY >= start
        && snapshots.len() < config.max_snapshots * 2
    {
        let window = ((limit - t) / DAY).min(longest) as u32;
        let customers: Vec<CustomerIdx> =
            pop.at(store, t).into_iter().filter(|&c| keep(c)).collect();
        snapshots.push((t, window, customers));
        t -= step;
    }
    let expanded: usize = snapshots
        .iter()
        .map(|(_, window, customers)| {
            customers.len() * days.iter().filter(|&&d| d <= *window).count()
        })
        .sum();
    let share = sample_share(cap, expanded);
    if share < 1.0 {
        tracing::info!(
            rows = expanded,
            share,
            cap,
            "curve training rows above the cap: sampling customers"
        );
    }
    let mut table = FeatureTable::default();
    for (t, window, mut customers) in snapshots {
        customers.retain(|&c| customer_sampled(config.seed, c, share));
        let bg = fit_bgnbd_at(store, t)?;
        table.extend(snapshot_table(
            store,
            &customers,
            t,
            bg.as_ref(),
            horizon_days,
            window,
        ));
    }
    Ok(table)
}

/// Curve training rows: each table row once per curve horizon its label window covers,
/// with the horizon as an extra column and "bought within d days" as the label.
pub fn expand_curve(table: &FeatureTable, days: &[u32]) -> (Vec<Vec<f64>>, Vec<f64>, Vec<usize>) {
    let mut pairs: Vec<(usize, u32)> = Vec::new();
    for r in 0..table.len() {
        for &d in days.iter().filter(|&&d| d <= table.label_days[r]) {
            pairs.push((r, d));
        }
    }
    let rows: Vec<usize> = pairs.iter().map(|p| p.0).collect();
    let mut columns = table.columns(Some(&rows));
    columns.push(pairs.iter().map(|p| p.1 as f64).collect());
    let labels = pairs
        .iter()
        .map(|&(r, d)| {
            let bought = table.labels[r].days_to_next.is_some_and(|x| x < d as f64);
            f64::from(bought)
        })
        .collect();
    (columns, labels, rows)
}

/// The count model's baseline column under `config`, with the training rows' mean
/// baseline as the fallback for rows without one.
fn count_offset(
    config: &PropensityConfig,
    main: &FeatureTable,
    names: &[String],
) -> Option<CountOffset> {
    let column = match config.count_base {
        CountBase::None => return None,
        CountBase::Bgnbd => names.iter().position(|n| n == EXPECTED_PURCHASES_FEATURE)?,
    };
    let known: Vec<f64> = (0..main.len())
        .map(|r| main.row(r)[column] as f64)
        .filter(|v| v.is_finite())
        .collect();
    let fallback = if known.is_empty() {
        1.0
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    }
    .max(MIN_OFFSET);
    Some(CountOffset { column, fallback })
}

/// Fold of a customer for out-of-fold predictions: all of a customer's rows share one.
fn fold_of(seed: u64, c: CustomerIdx, folds: usize) -> usize {
    (derive_seed(&[seed, 0xF01D, c.0 as u64]) % folds as u64) as usize
}

/// Out-of-fold churn predictions calibrated out of fold as well: each fold's raw
/// predictions go through a calibrator fitted on the other folds' (the served calibrator
/// saw every row, so applying it here would flatter the calibration curve).
fn held_out_churn(
    oof: &[f64],
    labels: &[f64],
    recency_days: Option<&[f64]>,
    customers: &[CustomerIdx],
    config: &PropensityConfig,
) -> HeldOut {
    let rows: Vec<usize> = (0..labels.len()).filter(|&r| !oof[r].is_nan()).collect();
    let fold: Vec<usize> = rows
        .iter()
        .map(|&r| fold_of(config.seed, customers[r], config.folds))
        .collect();
    let mut predicted = vec![f64::NAN; rows.len()];
    for k in 0..config.folds {
        let (fit_p, fit_y): (Vec<f64>, Vec<f64>) = rows
            .iter()
            .zip(&fold)
            .filter(|(_, f)| **f != k)
            .map(|(&r, _)| (oof[r], labels[r]))
            .unzip();
        if fit_p.is_empty() {
            continue;
        }
        let cal = Calibrator::fit(config.calibration, &fit_p, &fit_y);
        for (i, &r) in rows.iter().enumerate() {
            if fold[i] == k {
                predicted[i] = cal.apply(oof[r]);
            }
        }
    }
    HeldOut {
        predicted,
        labels: rows.iter().map(|&r| labels[r]).collect(),
        recency_days: rows
            .iter()
            .map(|&r| recency_days.map_or(f64::NAN, |d| d[r]))
            .collect(),
    }
}

fn subset(columns: &[Vec<f64>], rows: &[usize]) -> Vec<Vec<f64>> {
    columns
        .iter()
        .map(|c| rows.iter().map(|&r| c[r]).collect())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn train_one(
    model: &'static str,
    params: &Params,
    columns: &[Vec<f64>],
    names: &[String],
    categorical: &[String],
    labels: &[f64],
    weights: Option<&[f64]>,
    stage: &Stage,
) -> Result<Booster> {
    let err = |source| PropensityError::Gbdt { model, source };
    let ds = Dataset::from_dense(
        DenseInput {
            columns,
            feature_names: names,
            categorical,
            labels,
            weights,
        },
        params,
    )
    .map_err(err)?;
    Booster::train_with_callback(params, &ds, None, &mut |_| stage.inc(1)).map_err(err)
}

/// Trains a binary model on all rows and a calibrator on out-of-fold predictions; also
/// returns those raw out-of-fold predictions (NaN for rows no fold predicted).
#[allow(clippy::too_many_arguments)]
fn train_calibrated(
    model: &'static str,
    params: &Params,
    config: &PropensityConfig,
    columns: &[Vec<f64>],
    names: &[String],
    categorical: &[String],
    labels: &[f64],
    weights: Option<&[f64]>,
    row_customers: &[CustomerIdx],
) -> Result<(Booster, Calibrator, Vec<f64>)> {
    // Rounds over the out-of-fold models and the final one (early stopping may end sooner).
    let stage = Stage::start(
        format!("{model} model"),
        ((config.folds + 1) * params.num_iterations) as u64,
        Unit::Items("rounds"),
    );
    let folds: Vec<usize> = row_customers
        .iter()
        .map(|&c| fold_of(config.seed, c, config.folds))
        .collect();
    let mut oof = vec![f64::NAN; labels.len()];
    for k in 0..config.folds {
        let (train, test): (Vec<usize>, Vec<usize>) =
            (0..labels.len()).partition(|&r| folds[r] != k);
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let y: Vec<f64> = train.iter().map(|&r| labels[r]).collect();
        let w: Option<Vec<f64>> = weights.map(|w| train.iter().map(|&r| w[r]).collect());
        let b = train_one(
            model,
            params,
            &subset(columns, &train),
            names,
            categorical,
            &y,
            w.as_deref(),
            &stage,
        )?;
        let raw = b
            .predict_columns(&subset(columns, &test))
            .map_err(|source| PropensityError::Gbdt { model, source })?;
        for (&r, s) in test.iter().zip(raw) {
            oof[r] = b.transform(s);
        }
    }
    let (p, y): (Vec<f64>, Vec<f64>) = oof
        .iter()
        .zip(labels)
        .filter(|(p, _)| !p.is_nan())
        .map(|(p, y)| (*p, *y))
        .unzip();
    let calibrator = Calibrator::fit(config.calibration, &p, &y);
    let booster = train_one(
        model,
        params,
        columns,
        names,
        categorical,
        labels,
        weights,
        &stage,
    )?;
    stage.finish();
    Ok((booster, calibrator, oof))
}

impl PropensityModel {
    /// Fits every model for serving at `cutoff` on snapshots before it (time split).
    pub fn fit(store: &EventStore, cutoff: i64, config: &PropensityConfig) -> Result<Self> {
        config.validate()?;
        let h = config.horizon_days;
        let tables = time_split_tables(store, cutoff, h, config, &|_| true)?;
        Self::fit_tables(store, &tables, cutoff, h, config)
    }

    /// [`PropensityModel::fit`], also returning the churn model's out-of-fold predictions.
    pub fn fit_with_held_out(
        store: &EventStore,
        cutoff: i64,
        config: &PropensityConfig,
    ) -> Result<(Self, HeldOut)> {
        config.validate()?;
        let h = config.horizon_days;
        let tables = time_split_tables(store, cutoff, h, config, &|_| true)?;
        Self::fit_tables_with_held_out(store, &tables, cutoff, h, config)
    }

    /// Fits every model on prepared training tables; the BG/NBD and Gamma-Gamma parameters
    /// are fitted at `cutoff` on data before it.
    pub fn fit_tables(
        store: &EventStore,
        tables: &TrainingTables,
        cutoff: i64,
        horizon_days: u32,
        config: &PropensityConfig,
    ) -> Result<Self> {
        Self::fit_tables_with_held_out(store, tables, cutoff, horizon_days, config).map(|(m, _)| m)
    }

    /// [`PropensityModel::fit_tables`], also returning the churn model's out-of-fold
    /// predictions (the rows its calibrator was fitted on).
    pub fn fit_tables_with_held_out(
        store: &EventStore,
        tables: &TrainingTables,
        cutoff: i64,
        horizon_days: u32,
        config: &PropensityConfig,
    ) -> Result<(Self, HeldOut)> {
        let main = &tables.main;
        if main.is_empty() {
            return Err(PropensityError::Empty {
                what: "training rows",
                hint: "no snapshot with a full label window before the cutoff has an active \
                       customer; move the cutoff later, shorten the horizon or lower \
                       min_history_days"
                    .into(),
            });
        }
        let started = std::time::Instant::now();
        let (names, categorical) = model_layout(store);
        let seeded = |p: &Params| Params {
            seed: config.seed,
            ..p.clone()
        };
        let columns = main.columns(None);
        let churned: Vec<f64> = main.labels.iter().map(|l| f64::from(l.churned())).collect();
        let (churn, churn_calibrator, churn_oof) = train_calibrated(
            "churn",
            &seeded(&config.churn),
            config,
            &columns,
            &names,
            &categorical,
            &churned,
            None,
            &main.customers,
        )?;
        let held_out = held_out_churn(
            &churn_oof,
            &churned,
            columns.get(col::RECENCY).map(Vec::as_slice),
            &main.customers,
            config,
        );
        let orders: Vec<f64> = main.labels.iter().map(|l| l.orders as f64).collect();
        let count_offset = count_offset(config, main, &names);
        let (count_labels, count_weights) = match &count_offset {
            // Poisson with offset log e: the deviance of y against e·m equals e times the
            // deviance of y/e against m, so the multiplier m learns from labels y/e weighted
            // by e.
            Some(off) => {
                let e: Vec<f64> = (0..main.len()).map(|r| off.of(main.row(r))).collect();
                let y = orders.iter().zip(&e).map(|(y, e)| y / e).collect();
                (y, Some(e))
            }
            None => (orders, None),
        };
        let stage = Stage::start(
            "count model",
            config.count.num_iterations as u64,
            Unit::Items("rounds"),
        );
        let count = train_one(
            "count",
            &seeded(&config.count),
            &columns,
            &names,
            &categorical,
            &count_labels,
            count_weights.as_deref(),
            &stage,
        )?;
        stage.finish();
        drop(columns);
        tracing::info!(
            rows = main.len(),
            seconds = started.elapsed().as_secs_f64(),
            "churn and count models trained"
        );
        let curve_days = config.curve_horizons(None);
        let curve_source = if tables.curve.is_empty() {
            main
        } else {
            &tables.curve
        };
        let (curve_columns, curve_labels, curve_rows) = expand_curve(curve_source, &curve_days);
        if curve_labels.is_empty() {
            return Err(PropensityError::Empty {
                what: "repurchase-curve rows",
                hint: "no snapshot has a label window as long as the shortest curve horizon".into(),
            });
        }
        let mut curve_names = names.clone();
        curve_names.push(CURVE_DAYS_FEATURE.into());
        let row_customers: Vec<CustomerIdx> = curve_rows
            .iter()
            .map(|&r| curve_source.customers[r])
            .collect();
        let (curve, curve_calibrator, _) = train_calibrated(
            "curve",
            &seeded(&config.curve),
            config,
            &curve_columns,
            &curve_names,
            &categorical,
            &curve_labels,
            None,
            &row_customers,
        )?;
        tracing::info!(
            rows = curve_labels.len(),
            seconds = started.elapsed().as_secs_f64(),
            "curve model trained"
        );
        let bgnbd = fit_bgnbd_at(store, cutoff)?;
        let gamma_gamma = super::value::fit_gamma_gamma_at(store, cutoff)?;
        let model = PropensityModel {
            config: config.clone(),
            cutoff,
            horizon_days,
            feature_names: names,
            churn,
            churn_calibrator,
            count,
            count_offset,
            curve,
            curve_calibrator,
            curve_days,
            bgnbd,
            gamma_gamma,
        };
        Ok((model, held_out))
    }

    /// Calibrated P(no purchase in `[cutoff, cutoff + H)`) of one feature row.
    pub fn churn(&self, row: &[f32]) -> f64 {
        match self.churn.predict_proba_row(row) {
            Ok(p) => self.churn_calibrator.apply(p),
            Err(_) => f64::NAN,
        }
    }

    /// The `k` features that move this customer's churn log-odds most, with readable text.
    pub fn explain(&self, row: &[f32], k: usize) -> Vec<Factor> {
        let mut shap = vec![0.0; self.churn.n_features()];
        if self.churn.shap_row(row, &mut shap).is_err() {
            return Vec::new();
        }
        let mut order: Vec<usize> = (0..shap.len()).filter(|&f| shap[f] != 0.0).collect();
        order.sort_by(|&a, &b| shap[b].abs().total_cmp(&shap[a].abs()).then(a.cmp(&b)));
        order
            .into_iter()
            .take(k)
            .map(|f| Factor {
                feature: self.feature_names[f].clone(),
                value: row[f] as f64,
                impact: shap[f],
                text: describe(&self.feature_names, row, f),
            })
            .collect()
    }

    /// Calibrated P(purchase within d days) for each curve horizon d, non-decreasing in d,
    /// and equal to `1 − churn` at the churn horizon (see [`anchor_curve`]).
    pub fn repurchase_curve(&self, row: &[f32]) -> Vec<(u32, f64)> {
        self.repurchase_curve_given(row, self.churn(row))
    }

    /// [`PropensityModel::repurchase_curve`] for a caller that already has the row's
    /// calibrated churn (one churn walk per answer instead of one per figure).
    pub fn repurchase_curve_given(&self, row: &[f32], churn: f64) -> Vec<(u32, f64)> {
        let mut x: Vec<f32> = Vec::with_capacity(row.len() + 1);
        x.extend_from_slice(row);
        x.push(0.0);
        let last = row.len();
        let mut best = 0.0f64;
        let mut curve: Vec<(u32, f64)> = self
            .curve_days
            .iter()
            .map(|&d| {
                x[last] = d as f32;
                let p = self
                    .curve
                    .predict_proba_row(&x)
                    .map_or(f64::NAN, |p| self.curve_calibrator.apply(p));
                // A purchase within d days is one within any longer horizon too: the running
                // maximum keeps the curve a distribution function.
                best = best.max(if p.is_nan() { 0.0 } else { p });
                (d, best)
            })
            .collect();
        anchor_curve(&mut curve, self.horizon_days, churn);
        curve
    }

    /// Days after the cutoff at which the curve reaches `level` (linear between horizons,
    /// starting from 0 at day 0); `None` when it never does.
    pub fn days_to_level(curve: &[(u32, f64)], level: f64) -> Option<f64> {
        let (mut d0, mut p0) = (0.0, 0.0);
        for &(d, p) in curve {
            if p >= level {
                let d = d as f64;
                return Some(if p > p0 {
                    d0 + (d - d0) * (level - p0) / (p - p0)
                } else {
                    d
                });
            }
            (d0, p0) = (d as f64, p);
        }
        None
    }

    /// Median days to the next purchase given one within `within` days (a curve horizon):
    /// where `curve` (this model's, e.g. from [`PropensityModel::repurchase_curve_given`])
    /// reaches half its value at `within`.
    pub fn conditional_median_on(curve: &[(u32, f64)], within: u32) -> f64 {
        let inside = curve.partition_point(|&(d, _)| d <= within);
        let curve = &curve[..inside];
        let top = curve.last().map_or(0.0, |c| c.1);
        if top <= 0.0 {
            return within as f64 / 2.0;
        }
        Self::days_to_level(curve, top / 2.0).unwrap_or(within as f64 / 2.0)
    }

    /// Predicted next-purchase time (seconds) read on a curve of this model (see
    /// [`PropensityModel::repurchase_curve_given`]): its median, `None` when the curve
    /// stays below one half over its longest horizon.
    pub fn next_purchase_on(&self, curve: &[(u32, f64)]) -> Option<i64> {
        let days = Self::days_to_level(curve, 0.5)?;
        Some(self.cutoff + (days * DAY as f64).round() as i64)
    }

    /// Expected number of purchases in `[cutoff, cutoff + H)`.
    pub fn expected_purchases(&self, row: &[f32]) -> f64 {
        let m = self.count.predict_proba_row(row).unwrap_or(f64::NAN);
        match &self.count_offset {
            Some(off) => m * off.of(row),
            None => m,
        }
    }

    /// Most likely-to-be-close number of purchases in `[cutoff, cutoff + H)`: the median of a
    /// Poisson count with [`PropensityModel::expected_purchases`] as its mean. It minimises
    /// the absolute error where the mean minimises the squared error and sums to the total.
    pub fn median_purchases(&self, row: &[f32]) -> f64 {
        poisson_median(self.expected_purchases(row))
    }
}

/// Median of a Poisson distribution with mean `mu`: the smallest `k` with P(X ≤ k) ≥ 1/2
/// (NaN for a NaN or negative mean).
pub fn poisson_median(mu: f64) -> f64 {
    if mu.is_nan() || mu < 0.0 {
        return f64::NAN;
    }
    // Past this mean e^-mu underflows the running sum; the median is then within one of
    // mu + 1/3 - 0.02/mu (Choi 1994), which is exact to the integer at these sizes.
    if mu > 500.0 {
        return (mu + 1.0 / 3.0 - 0.02 / mu).floor();
    }
    let mut term = (-mu).exp();
    let mut cdf = term;
    let mut k = 0u32;
    while cdf < 0.5 {
        k += 1;
        term *= mu / k as f64;
        cdf += term;
    }
    k as f64
}

/// Survival probabilities are kept inside this band so logarithms stay finite.
const SURVIVAL_FLOOR: f64 = 1e-6;

/// Makes a repurchase curve agree with the churn model: rescales it in proportional-hazard
/// form, `S'(d) = S(d)^λ` with `S = 1 − P(within d)`, so that `S'(horizon) = churn`.
///
/// The churn model and the curve model are trained separately; without this a customer
/// could read "churn 47%" next to "37% chance of buying within 30 days" on one page. The
/// churn model is the better one at its horizon (more rows, its own calibration), so the
/// curve keeps its shape and moves to it. `S(horizon)` is read between the bracketing
/// horizons with a log-survival straight line (a constant hazard before the first and after
/// the last). A NaN churn leaves the curve as it is.
pub fn anchor_curve(curve: &mut [(u32, f64)], horizon_days: u32, churn: f64) {
    if curve.is_empty() || !churn.is_finite() || horizon_days == 0 {
        return;
    }
    let log_s = |p: f64| (1.0 - p).clamp(SURVIVAL_FLOOR, 1.0 - SURVIVAL_FLOOR).ln();
    let h = horizon_days as f64;
    let at = curve.partition_point(|&(d, _)| d < horizon_days);
    let log_s_h = if at < curve.len() && curve[at].0 == horizon_days {
        log_s(curve[at].1)
    } else if at == 0 {
        log_s(curve[0].1) * h / curve[0].0.max(1) as f64
    } else if at == curve.len() {
        let (d, p) = curve[at - 1];
        log_s(p) * h / d.max(1) as f64
    } else {
        let ((d0, p0), (d1, p1)) = (curve[at - 1], curve[at]);
        let w = (h - d0 as f64) / (d1 - d0) as f64;
        log_s(p0) + w * (log_s(p1) - log_s(p0))
    };
    let target = churn.clamp(SURVIVAL_FLOOR, 1.0 - SURVIVAL_FLOOR).ln();
    let lambda = target / log_s_h;
    for (_, p) in curve.iter_mut() {
        *p = 1.0 - (lambda * log_s(*p)).exp();
    }
}

#[cfg(test)]
mod median_tests {
    use super::{anchor_curve, poisson_median};

    fn at(curve: &[(u32, f64)], d: u32) -> f64 {
        curve.iter().find(|c| c.0 == d).unwrap().1
    }

    #[test]
    fn an_anchored_curve_meets_one_minus_churn_at_the_horizon_and_stays_a_distribution() {
        let base = vec![(7, 0.2), (14, 0.35), (28, 0.5), (60, 0.7), (90, 0.8)];
        for churn in [0.05, 0.3, 0.5, 0.8, 0.99] {
            let mut c = base.clone();
            anchor_curve(&mut c, 28, churn);
            assert!((at(&c, 28) - (1.0 - churn)).abs() < 1e-9, "{churn}: {c:?}");
            for w in c.windows(2) {
                assert!(w[0].1 <= w[1].1, "monotone: {c:?}");
            }
            assert!(c.iter().all(|&(_, p)| (0.0..=1.0).contains(&p)), "{c:?}");
            // Proportional hazards: the order of the horizons' survival is kept, and a lower
            // churn than the curve said lifts every point, a higher one lowers every point.
            for (a, b) in c.iter().zip(&base) {
                if churn < 0.5 {
                    assert!(a.1 > b.1);
                } else if churn > 0.5 {
                    assert!(a.1 < b.1);
                }
            }
        }
        // Already consistent: unchanged.
        let mut c = base.clone();
        anchor_curve(&mut c, 28, 0.5);
        for (a, b) in c.iter().zip(&base) {
            assert!((a.1 - b.1).abs() < 1e-9);
        }
    }

    #[test]
    fn a_horizon_between_curve_points_is_read_on_the_log_survival_line() {
        // S(14) = 0.8, S(30) = 0.4: log-linear at 28 gives S = 0.8 * 0.5^(14/16).
        let base = vec![(14, 0.2), (30, 0.6)];
        let s28 = 0.8 * 0.5f64.powf(14.0 / 16.0);
        let mut c = base.clone();
        anchor_curve(&mut c, 28, s28);
        assert!(
            (c[0].1 - 0.2).abs() < 1e-9 && (c[1].1 - 0.6).abs() < 1e-9,
            "{c:?}"
        );
        // Horizon beyond the last point: constant hazard from the last one.
        let mut c = base.clone();
        anchor_curve(&mut c, 60, 0.4f64.powf(2.0));
        assert!((c[1].1 - 0.6).abs() < 1e-9, "{c:?}");
        // Before the first point: constant hazard from day 0.
        let mut c = base.clone();
        anchor_curve(&mut c, 7, 0.8f64.powf(0.5));
        assert!((c[0].1 - 0.2).abs() < 1e-9, "{c:?}");
        // A curve at zero still moves to the churn model, and NaN churn leaves it alone.
        let mut c = vec![(7, 0.0), (30, 0.0)];
        anchor_curve(&mut c, 30, 0.4);
        assert!((c[1].1 - 0.6).abs() < 1e-6 && c[0].1 > 0.0, "{c:?}");
        let mut c = base.clone();
        anchor_curve(&mut c, 28, f64::NAN);
        assert_eq!(c, base);
    }

    #[test]
    fn poisson_median_matches_the_distribution() {
        // P(X = 0) = e^-mu >= 1/2 exactly when mu <= ln 2.
        assert_eq!(poisson_median(0.0), 0.0);
        assert_eq!(poisson_median(0.69), 0.0);
        assert_eq!(poisson_median(0.70), 1.0);
        // Known values: median of Poisson(1) is 1, Poisson(2.5) is 2, Poisson(10) is 10.
        assert_eq!(poisson_median(1.0), 1.0);
        assert_eq!(poisson_median(2.5), 2.0);
        assert_eq!(poisson_median(10.0), 10.0);
        // Both branches agree where they meet.
        assert_eq!(poisson_median(499.9), (499.9f64 + 1.0 / 3.0).floor());
        assert_eq!(poisson_median(800.2), 800.0);
        assert!(poisson_median(f64::NAN).is_nan());
        assert!(poisson_median(-1.0).is_nan());
    }
}
