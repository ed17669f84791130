//! Fitting the propensity model: the time-split training tables, the curve table, out-of-fold
//! calibration and the count model's offset.

use crate::features::{col, training_snapshots};
use crate::gbdt::{Booster, Dataset, DenseInput, Params};
use crate::ingest::{CustomerIdx, EventStore};
use crate::progress::{Stage, Unit};
use crate::propensity::calibrate::Calibrator;
use crate::propensity::config::{CountBase, PropensityConfig};
use crate::propensity::error::{PropensityError, Result};
use crate::propensity::heldout::HeldOut;
use crate::propensity::table::{
    EXPECTED_PURCHASES_FEATURE, FeatureTable, Population, fit_bgnbd_at, model_layout,
    snapshot_table,
};
use crate::rng::derive_seed;
use crate::time::DAY;

use super::{CURVE_DAYS_FEATURE, CountOffset, MIN_OFFSET, PropensityModel};

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
        let gamma_gamma = crate::propensity::value::fit_gamma_gamma_at(store, cutoff)?;
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
}
