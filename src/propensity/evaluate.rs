//! The `evaluate` protocols (DESIGN.md): train before the cutoff (time split) or on half the
//! customers (customers split), measure at the cutoff against simple baselines, and report
//! the metrics as JSON and as a table.

use super::calibrate::Calibrator;
use super::config::{CalibrationKind, PropensityConfig};
use super::error::{PropensityError, Result};
use super::forecast::PurchaseForecast;
use super::model::{
    MAX_TRAIN_ROWS, PropensityModel, TrainingTables, customer_sampled, poisson_median,
    sample_share, time_split_tables,
};
use super::table::{FeatureTable, Population, fit_bgnbd_at, snapshot_table, summary_days};
use crate::clv::{CustomerSummary, FitOptions, ParetoNbd, PurchaseModel};
use crate::eval::curves::{DecileRow, decile_table, lift_at};
use crate::eval::metrics::{auc, brier, logloss, mae, rmse};
use crate::features::{OrderSummary, col};
use crate::ingest::{CustomerIdx, EventStore};
use crate::time::{DAY, format_date};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How training and evaluation data are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Train on snapshots before the cutoff, measure at the cutoff.
    Time,
    /// Train on half the customers at the cutoff, measure on the other half.
    Customers,
    /// The customers split inside the training half only (a quarter trains, a quarter is
    /// measured), so settings can be chosen without ever reading the half `customers`
    /// reports on.
    Tuning,
}

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Evaluation snapshot (seconds).
    pub cutoff: i64,
    /// Label window length (days).
    pub horizon_days: u32,
    /// Train/measure separation.
    pub split: Split,
    /// Training config.
    pub config: PropensityConfig,
    /// Also fit and measure the baselines (Pareto/NBD is slow on large logs).
    pub baselines: bool,
}

/// Binary metrics of one model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BinaryMetrics {
    /// Area under the ROC curve.
    pub auc: f64,
    /// Mean log loss.
    pub logloss: f64,
    /// Brier score.
    pub brier: f64,
    /// Share of positives.
    pub base_rate: f64,
    /// Rows measured.
    pub n: usize,
    /// Share of positives among the 10 % highest scores divided by the base rate.
    #[serde(rename = "lift@10pct")]
    pub lift_10pct: f64,
    /// Lift and cumulative gain by decile of score, highest scores first.
    pub deciles: Vec<DecileRow>,
}

impl BinaryMetrics {
    fn of(scores: &[f64], probs: &[f64], labels: &[f64]) -> Self {
        let n = labels.len();
        BinaryMetrics {
            auc: auc(scores, labels, None),
            logloss: logloss(probs, labels, None),
            brier: brier(probs, labels, None),
            base_rate: labels.iter().sum::<f64>() / n.max(1) as f64,
            n,
            lift_10pct: lift_at(scores, labels, 0.1),
            deciles: decile_table(scores, labels, 10),
        }
    }

    fn as_map(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("auc".into(), self.auc),
            ("logloss".into(), self.logloss),
            ("brier".into(), self.brier),
            ("lift@10pct".into(), self.lift_10pct),
        ])
    }
}

/// Next-purchase metrics: timing of the next order and number of orders in the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NextPurchaseMetrics {
    /// Mean absolute error (days) of the predicted next-purchase day, over customers who
    /// bought in the horizon (median of the curve given a purchase in the horizon).
    pub mae_days: f64,
    /// Customers `mae_days` is measured on.
    pub n_purchasers: usize,
    /// Mean absolute error of the expected number of orders.
    pub transactions_mae: f64,
    /// Root mean squared error of the expected number of orders.
    pub transactions_rmse: f64,
    /// Sum of expected orders.
    pub total_predicted: f64,
    /// Sum of actual orders.
    pub total_actual: f64,
    /// The same counts as a median-type point forecast (the Poisson median of the expected
    /// purchases, [`PropensityModel::median_purchases`]): lower absolute error, biased total.
    /// The fields above measure the mean, which the service returns as `expected_purchases`.
    pub median_forecast: PointForecast,
    /// The counts as the service's point forecast (`predicted_purchases`): the same quantile
    /// of every customer's hurdle count, its level fitted (without labels) so the evaluated
    /// customers' forecasts add up to their expected total ([`PurchaseForecast`]).
    pub point_forecast: PointForecast,
    /// Quantile level of `point_forecast`.
    pub point_forecast_level: f64,
}

/// Errors of one point forecast of the number of orders in the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointForecast {
    /// Mean absolute error.
    pub transactions_mae: f64,
    /// Root mean squared error.
    pub transactions_rmse: f64,
    /// Sum of the forecasts.
    pub total_predicted: f64,
}

impl PointForecast {
    fn of(predicted: &[f64], actual: &[f64]) -> Self {
        PointForecast {
            transactions_mae: mae(predicted, actual, None),
            transactions_rmse: rmse(predicted, actual, None),
            total_predicted: predicted.iter().sum(),
        }
    }

    fn as_map(&self) -> BaselineMetrics {
        BTreeMap::from([
            ("transactions_mae".into(), self.transactions_mae),
            ("transactions_rmse".into(), self.transactions_rmse),
            ("total_predicted".into(), self.total_predicted),
        ])
    }
}

/// Where the numbers come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Protocol {
    /// Evaluation snapshot (YYYY-MM-DD).
    pub cutoff: String,
    /// Label window length (days).
    pub horizon_days: u32,
    /// Train/measure separation.
    pub split: Split,
    /// Training rows of the churn and count models.
    pub train_rows: usize,
    /// Training rows of the repurchase curve model (after expansion over horizons).
    pub curve_train_rows: usize,
    /// Training snapshots (YYYY-MM-DD), newest first.
    pub train_snapshots: Vec<String>,
}

/// Metrics of a baseline, by metric name.
pub type BaselineMetrics = BTreeMap<String, f64>;

/// The `evaluate` report. Sections other modules measure (e.g. `recommend`) go in `extra`,
/// which is written at the top level of the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    /// Protocol details.
    pub protocol: Protocol,
    /// Calibrated GBDT churn: P(no purchase in `[cutoff, cutoff + H)`).
    pub churn: BinaryMetrics,
    /// P(any purchase in the horizon) = 1 − churn.
    pub repurchase: BinaryMetrics,
    /// Next-purchase timing and counts.
    pub next_purchase: NextPurchaseMetrics,
    /// Baselines per section (`churn`, `repurchase`, `next_purchase`), then per model.
    pub baselines: BTreeMap<String, BTreeMap<String, BaselineMetrics>>,
    /// Seconds spent building training tables and fitting every model.
    pub train_seconds: f64,
    /// Further top-level sections added by other evaluations.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Per-customer predictions and outcomes behind an [`EvalReport`], for charts (ROC,
/// calibration, lift, next-purchase error by horizon). Rows follow the evaluated customers.
#[derive(Clone, Debug, Default)]
pub struct EvalDetail {
    /// Evaluated customers.
    pub customers: Vec<CustomerIdx>,
    /// Order history of each customer before the cutoff.
    pub summaries: Vec<OrderSummary>,
    /// 1 when the customer did not buy in the horizon.
    pub churned: Vec<f64>,
    /// Calibrated GBDT churn probability.
    pub p_churn: Vec<f64>,
    /// Baseline churn scores by baseline name (higher = more likely to churn; the same
    /// scores the report's AUCs are computed from, e.g. days since the last order).
    pub baseline_churn_scores: BTreeMap<String, Vec<f64>>,
    /// Baseline churn probabilities by baseline name (for calibration).
    pub baseline_churn_probs: BTreeMap<String, Vec<f64>>,
    /// Repurchase curve horizons (days) inside the label window.
    pub curve_days: Vec<u32>,
    /// P(purchase within d days) per customer, one value per entry of `curve_days`.
    pub p_within: Vec<Vec<f64>>,
    /// Days from the cutoff to the first order in the horizon (`None`: no order).
    pub days_to_next: Vec<Option<f64>>,
    /// Predicted day of the next order given one in the horizon (the curve's conditional
    /// median), the figure `next_purchase.mae_days` measures.
    pub predicted_days: Vec<f64>,
}

/// True for the customers the customers split trains on: a stable hash of the external id,
/// so the split does not depend on load order.
pub fn in_training_half(store: &EventStore, c: CustomerIdx) -> bool {
    customer_side(store, c, Split::Customers) == Some(true)
}

/// Which side a customer is on under `split` (`Time` has no sides): `Some(true)` trains,
/// `Some(false)` is measured, `None` is left out (the measured half under `Tuning`).
fn customer_side(store: &EventStore, c: CustomerIdx, split: Split) -> Option<bool> {
    let id = store.customers.name(c.0).unwrap_or_default();
    let h = crc32fast::hash(id.as_bytes());
    match split {
        Split::Time | Split::Customers => Some(h.is_multiple_of(2)),
        // The second hash bit splits the training half again.
        Split::Tuning => h.is_multiple_of(2).then_some(h & 2 == 0),
    }
}

/// The rows a protocol trains on and the rows it measures.
#[derive(Debug, Clone)]
pub struct ProtocolTables {
    /// Training tables (churn/count and curve).
    pub train: TrainingTables,
    /// Rows measured at the cutoff, labels over `[cutoff, cutoff + H)`.
    pub eval: FeatureTable,
}

/// The config a protocol trains with: `opts.config` with the evaluated horizon as the churn
/// horizon and as one more curve horizon (so the next-purchase day is measured over the
/// whole label window).
pub fn protocol_config(opts: &EvalOptions) -> Result<PropensityConfig> {
    let mut config = opts.config.clone();
    config.curve_days.push(opts.horizon_days);
    config.horizon_days = opts.horizon_days;
    config.validate()?;
    Ok(config)
}

/// Builds the training and evaluation tables of the protocol of `opts` (the exact rows
/// `evaluate` uses; the `features` command writes them).
pub fn protocol_tables(
    store: &EventStore,
    opts: &EvalOptions,
    config: &PropensityConfig,
) -> Result<ProtocolTables> {
    let (cutoff, h) = (opts.cutoff, opts.horizon_days);
    crate::features::check_observed(store, cutoff, h)?;
    let bg = fit_bgnbd_at(store, cutoff)?;
    let (train, eval_customers) = match opts.split {
        Split::Time => {
            let tables = time_split_tables(store, cutoff, h, config, &|_| true)?;
            let eval = Population::Active(config.active_days).at(store, cutoff);
            (tables, eval)
        }
        Split::Customers | Split::Tuning => {
            let split = opts.split;
            let trains = |c: CustomerIdx| customer_side(store, c, split) == Some(true);
            let pop = Population::History.at(store, cutoff);
            let (train, eval): (Vec<CustomerIdx>, Vec<CustomerIdx>) = pop
                .into_iter()
                .filter(|&c| customer_side(store, c, split).is_some())
                .partition(|&c| trains(c));
            // Earlier snapshots of the training half add rows; their label windows end
            // before cutoff + H and never touch a measured customer.
            let start = store.time_range().map_or(cutoff, |r| r.0);
            let step = match config.snapshot_step_days {
                0 => h,
                s => s,
            } as i64
                * DAY;
            let mut halves = vec![(cutoff, train)];
            let mut t = cutoff - step;
            while t - config.min_history_days as i64 * DAY >= start
                && halves.len() < config.max_snapshots
            {
                let half: Vec<CustomerIdx> = Population::History
                    .at(store, t)
                    .into_iter()
                    .filter(|&c| trains(c))
                    .collect();
                halves.push((t, half));
                t -= step;
            }
            // A large store's training half is sampled by whole customers like the time
            // split's tables; the measured half never is.
            let rows = halves.iter().map(|(_, h)| h.len()).sum();
            let share = sample_share(MAX_TRAIN_ROWS, rows);
            for (_, half) in &mut halves {
                half.retain(|&c| customer_sampled(config.seed, c, share));
            }
            let mut halves = halves.into_iter();
            let (_, train) = halves.next().expect("the cutoff's half comes first");
            let curve = snapshot_table(store, &train, cutoff, bg.as_ref(), h, h);
            let mut main = curve.clone();
            for (t, half) in halves {
                let bg_t = fit_bgnbd_at(store, t)?;
                main.extend(snapshot_table(store, &half, t, bg_t.as_ref(), h, h));
            }
            (TrainingTables { main, curve }, eval)
        }
    };
    if eval_customers.is_empty() {
        return Err(PropensityError::Empty {
            what: "customers to evaluate",
            hint: "nobody in the evaluated population at the cutoff".into(),
        });
    }
    let eval = snapshot_table(store, &eval_customers, cutoff, bg.as_ref(), h, h);
    Ok(ProtocolTables { train, eval })
}

/// Runs the protocol of `opts` on `store`.
pub fn evaluate(store: &EventStore, opts: &EvalOptions) -> Result<EvalReport> {
    evaluate_detailed(store, opts).map(|(report, _)| report)
}

/// Runs the protocol of `opts` on `store` and keeps the per-customer predictions.
pub fn evaluate_detailed(
    store: &EventStore,
    opts: &EvalOptions,
) -> Result<(EvalReport, EvalDetail)> {
    let cutoff = opts.cutoff;
    let h = opts.horizon_days;
    let config = protocol_config(opts)?;
    let started = std::time::Instant::now();
    let ProtocolTables {
        train: tables,
        eval,
    } = protocol_tables(store, opts, &config)?;
    let model = PropensityModel::fit_tables(store, &tables, cutoff, h, &config)?;
    let train_seconds = started.elapsed().as_secs_f64();
    let mut snaps: Vec<i64> = tables.main.snapshots.clone();
    snaps.dedup();
    let curve_train_rows = super::model::expand_curve(
        if tables.curve.is_empty() {
            &tables.main
        } else {
            &tables.curve
        },
        &config.curve_horizons(None),
    )
    .1
    .len();
    let protocol = Protocol {
        cutoff: format_date(cutoff),
        horizon_days: h,
        split: opts.split,
        train_rows: tables.main.len(),
        curve_train_rows,
        train_snapshots: snaps.iter().map(|&t| format_date(t)).collect(),
    };
    tracing::info!(train_seconds, "models fitted");
    measure(
        store,
        &model,
        &tables.main,
        &eval,
        protocol,
        train_seconds,
        opts.baselines,
    )
}

/// One evaluated customer's model outputs.
struct Scored {
    churn: f64,
    expected: f64,
    median_days: f64,
    curve: Vec<(u32, f64)>,
}

/// What the evaluated customers did in the label window, one entry per row.
struct Outcomes {
    /// 1 when the customer made no purchase in the horizon.
    churned: Vec<f64>,
    /// 1 when they did.
    bought: Vec<f64>,
    /// Orders in the horizon.
    orders: Vec<f64>,
    /// Rows of the customers who bought, and their actual days to the next purchase.
    purchasers: Vec<usize>,
    actual_days: Vec<f64>,
}

impl Outcomes {
    fn of(eval: &FeatureTable) -> Outcomes {
        let churned: Vec<f64> = eval.labels.iter().map(|l| f64::from(l.churned())).collect();
        let bought: Vec<f64> = churned.iter().map(|c| 1.0 - c).collect();
        let purchasers: Vec<usize> = (0..eval.len()).filter(|&r| bought[r] > 0.0).collect();
        let actual_days = purchasers
            .iter()
            .map(|&r| eval.labels[r].days_to_next.unwrap_or(0.0))
            .collect();
        Outcomes {
            orders: eval.labels.iter().map(|l| l.orders as f64).collect(),
            churned,
            bought,
            purchasers,
            actual_days,
        }
    }
}

/// Baseline metrics by task (`churn`, `repurchase`, `next_purchase`) and baseline name.
type Baselines = BTreeMap<String, BTreeMap<String, BaselineMetrics>>;

/// The model's and (with `with_baselines`) every baseline's metrics on the evaluation rows.
fn measure(
    store: &EventStore,
    model: &PropensityModel,
    train: &FeatureTable,
    eval: &FeatureTable,
    protocol: Protocol,
    train_seconds: f64,
    with_baselines: bool,
) -> Result<(EvalReport, EvalDetail)> {
    let h = protocol.horizon_days;
    let outcomes = Outcomes::of(eval);
    let scored = score_rows(model, eval, h);
    let (churn, repurchase, next_purchase, mut detail) =
        model_metrics(model, eval, &scored, &outcomes, h);
    let mut baselines = Baselines::new();
    if with_baselines {
        recency_baseline(train, eval, &outcomes, &mut baselines, &mut detail);
        count_model_baselines(
            store,
            model,
            eval,
            h,
            &outcomes,
            &mut baselines,
            &mut detail,
        )?;
        last_gap_baseline(eval, h, &outcomes, &mut baselines);
    }
    let report = EvalReport {
        protocol,
        churn,
        repurchase,
        next_purchase,
        baselines,
        train_seconds,
        extra: serde_json::Map::new(),
    };
    Ok((report, detail))
}

/// One churn walk and one (anchored) curve per customer: they feed the churn, median-days
/// and curve metrics alike.
fn score_rows(model: &PropensityModel, eval: &FeatureTable, h: u32) -> Vec<Scored> {
    (0..eval.len())
        .into_par_iter()
        .map(|r| {
            let row = eval.row(r);
            let churn = model.churn(row);
            let curve = model.repurchase_curve_given(row, churn);
            Scored {
                churn,
                expected: model.expected_purchases(row),
                median_days: PropensityModel::conditional_median_on(&curve, h),
                curve,
            }
        })
        .collect()
}

/// The model's churn, repurchase and next-purchase metrics, and the per-customer detail
/// the report's charts read.
fn model_metrics(
    model: &PropensityModel,
    eval: &FeatureTable,
    scored: &[Scored],
    outcomes: &Outcomes,
    h: u32,
) -> (
    BinaryMetrics,
    BinaryMetrics,
    NextPurchaseMetrics,
    EvalDetail,
) {
    let Outcomes {
        churned,
        bought,
        orders,
        purchasers,
        actual_days,
    } = outcomes;
    let p_churn: Vec<f64> = scored.iter().map(|s| s.churn).collect();
    let p_buy: Vec<f64> = p_churn.iter().map(|p| 1.0 - p).collect();
    let expected: Vec<f64> = scored.iter().map(|s| s.expected).collect();
    let medians: Vec<f64> = expected.iter().map(|&e| poisson_median(e)).collect();
    let count_scores: Vec<(f64, f64)> = expected
        .iter()
        .copied()
        .zip(p_churn.iter().copied())
        .collect();
    let forecast = PurchaseForecast::fit(&count_scores);
    let points: Vec<f64> = count_scores
        .iter()
        .map(|&(m, p)| forecast.purchases(m, p))
        .collect();
    let churn = BinaryMetrics::of(&p_churn, &p_churn, churned);
    let curve_days: Vec<u32> = model
        .curve_days
        .iter()
        .copied()
        .filter(|&d| d <= h)
        .collect();
    let p_within: Vec<Vec<f64>> = scored
        .iter()
        .map(|s| {
            s.curve
                .iter()
                .filter(|&&(d, _)| d <= h)
                .map(|&(_, p)| p)
                .collect()
        })
        .collect();
    let detail = EvalDetail {
        customers: eval.customers.clone(),
        summaries: eval.summaries.clone(),
        churned: churned.clone(),
        p_churn: p_churn.clone(),
        curve_days,
        p_within,
        days_to_next: eval.labels.iter().map(|l| l.days_to_next).collect(),
        predicted_days: scored.iter().map(|s| s.median_days).collect(),
        ..EvalDetail::default()
    };
    let repurchase = BinaryMetrics::of(&p_buy, &p_buy, bought);
    // Timing, over customers who did buy: the model's median day.
    let model_days: Vec<f64> = purchasers.iter().map(|&r| scored[r].median_days).collect();
    let next_purchase = NextPurchaseMetrics {
        mae_days: mae(&model_days, actual_days, None),
        n_purchasers: purchasers.len(),
        transactions_mae: mae(&expected, orders, None),
        transactions_rmse: rmse(&expected, orders, None),
        total_predicted: expected.iter().sum(),
        total_actual: orders.iter().sum(),
        median_forecast: PointForecast::of(&medians, orders),
        point_forecast: PointForecast::of(&points, orders),
        point_forecast_level: forecast.level,
    };
    (churn, repurchase, next_purchase, detail)
}

/// Recency only: days since the last order, mapped to a probability by isotonic regression
/// on the training rows.
fn recency_baseline(
    train: &FeatureTable,
    eval: &FeatureTable,
    outcomes: &Outcomes,
    baselines: &mut Baselines,
    detail: &mut EvalDetail,
) {
    let recency = |t: &FeatureTable, r: usize| {
        let v = t.row(r)[col::RECENCY] as f64;
        if v.is_nan() { 1e9 } else { v }
    };
    let train_rec: Vec<f64> = (0..train.len()).map(|r| recency(train, r)).collect();
    let train_churn: Vec<f64> = train
        .labels
        .iter()
        .map(|l| f64::from(l.churned()))
        .collect();
    let rec_cal = Calibrator::fit(CalibrationKind::Isotonic, &train_rec, &train_churn);
    let eval_rec: Vec<f64> = (0..eval.len()).map(|r| recency(eval, r)).collect();
    let rec_p: Vec<f64> = eval_rec.iter().map(|&x| rec_cal.apply(x)).collect();
    baselines.entry("churn".into()).or_default().insert(
        "recency_only".into(),
        BinaryMetrics::of(&eval_rec, &rec_p, &outcomes.churned).as_map(),
    );
    detail
        .baseline_churn_scores
        .insert("recency_only".into(), eval_rec);
    detail
        .baseline_churn_probs
        .insert("recency_only".into(), rec_p);
}

/// BG/NBD (the model's own fit) and Pareto/NBD, fitted at the cutoff on every customer's
/// history before it, for repurchase, churn (no purchase) and purchase counts.
fn count_model_baselines(
    store: &EventStore,
    model: &PropensityModel,
    eval: &FeatureTable,
    h: u32,
    outcomes: &Outcomes,
    baselines: &mut Baselines,
    detail: &mut EvalDetail,
) -> Result<()> {
    let cutoff = model.cutoff;
    let summaries: Vec<Option<CustomerSummary>> = eval
        .summaries
        .iter()
        .map(|s| summary_days(s, cutoff))
        .collect();
    let history: Vec<CustomerSummary> = {
        let all = Population::History.at(store, cutoff);
        let rows = crate::features::compute(store, &all, cutoff);
        rows.summaries
            .iter()
            .filter_map(|s| summary_days(s, cutoff))
            .collect()
    };
    let pareto = if history.is_empty() {
        None
    } else {
        Some(
            ParetoNbd::fit(&history, &FitOptions::default())
                .map_err(|source| PropensityError::Clv {
                    model: "Pareto/NBD",
                    source,
                })?
                .params,
        )
    };
    let count_models: [(&str, Option<&dyn PurchaseModel>); 2] = [
        (
            "bgnbd",
            model.bgnbd.as_ref().map(|p| p as &dyn PurchaseModel),
        ),
        (
            "pareto_nbd",
            pareto.as_ref().map(|p| p as &dyn PurchaseModel),
        ),
    ];
    for (name, m) in count_models {
        let Some(m) = m else { continue };
        let hd = h as f64;
        let p_any: Vec<f64> = summaries
            .iter()
            .map(|s| s.as_ref().map_or(0.0, |s| m.p_any_purchase(s, hd)))
            .collect();
        let exp: Vec<f64> = summaries
            .iter()
            .map(|s| s.as_ref().map_or(0.0, |s| m.expected_purchases(s, hd)))
            .collect();
        baselines.entry("repurchase".into()).or_default().insert(
            name.into(),
            BinaryMetrics::of(&p_any, &p_any, &outcomes.bought).as_map(),
        );
        // Churn = no purchase: the same model read the other way round, so churn charts
        // and lift@10pct can set it beside the GBDT.
        let p_gone: Vec<f64> = p_any.iter().map(|p| 1.0 - p).collect();
        baselines.entry("churn".into()).or_default().insert(
            name.into(),
            BinaryMetrics::of(&p_gone, &p_gone, &outcomes.churned).as_map(),
        );
        detail
            .baseline_churn_scores
            .insert(name.into(), p_gone.clone());
        detail.baseline_churn_probs.insert(name.into(), p_gone);
        baselines.entry("next_purchase".into()).or_default().insert(
            name.into(),
            PointForecast::of(&exp, &outcomes.orders).as_map(),
        );
    }
    Ok(())
}

/// "The last gap repeats": the next purchase comes one last inter-purchase gap after the
/// last one, over the customers who bought.
fn last_gap_baseline(eval: &FeatureTable, h: u32, outcomes: &Outcomes, baselines: &mut Baselines) {
    let last_gap_days: Vec<f64> = outcomes
        .purchasers
        .iter()
        .map(|&r| {
            let row = eval.row(r);
            let (gap, rec) = (row[col::GAP_LAST] as f64, row[col::RECENCY] as f64);
            if gap.is_nan() || rec.is_nan() {
                h as f64 / 2.0
            } else {
                (gap - rec).clamp(0.0, h as f64)
            }
        })
        .collect();
    baselines.entry("next_purchase".into()).or_default().insert(
        "last_gap_repeats".into(),
        BTreeMap::from([(
            "mae_days".into(),
            mae(&last_gap_days, &outcomes.actual_days, None),
        )]),
    );
}

fn cell(v: Option<&f64>) -> String {
    match v {
        // A leading space keeps columns apart when a total needs more than ten characters.
        Some(v) if v.is_finite() => format!(" {v:>10.4}"),
        _ => format!(" {:>10}", "-"),
    }
}

/// Columns of the headline table: metric key in [`BaselineMetrics`] and short header.
pub const TABLE_COLUMNS: [(&str, &str); 8] = [
    ("auc", "auc"),
    ("logloss", "logloss"),
    ("brier", "brier"),
    ("lift@10pct", "lift@10"),
    ("mae_days", "mae_days"),
    ("transactions_mae", "tx_mae"),
    ("transactions_rmse", "tx_rmse"),
    ("total_predicted", "total"),
];

impl EvalReport {
    /// Rows of the headline table, `(section, model, metrics)`: each model section followed
    /// by its baselines (the console table and the HTML report show the same rows).
    pub fn table_rows(&self) -> Vec<(String, String, BaselineMetrics)> {
        let mut rows = vec![(
            "churn".into(),
            "gbdt_calibrated".into(),
            self.churn.as_map(),
        )];
        for section in ["churn", "repurchase", "next_purchase"] {
            if section == "repurchase" {
                rows.push((section.into(), "1-churn".into(), self.repurchase.as_map()));
            }
            if section == "next_purchase" {
                let n = &self.next_purchase;
                rows.push((
                    section.into(),
                    "gbdt_poisson".into(),
                    BTreeMap::from([
                        ("mae_days".into(), n.mae_days),
                        ("transactions_mae".into(), n.transactions_mae),
                        ("transactions_rmse".into(), n.transactions_rmse),
                        ("total_predicted".into(), n.total_predicted),
                    ]),
                ));
                rows.push((
                    section.into(),
                    "gbdt_median".into(),
                    n.median_forecast.as_map(),
                ));
                rows.push((
                    section.into(),
                    "gbdt_forecast".into(),
                    n.point_forecast.as_map(),
                ));
            }
            for (model, m) in self.baselines.get(section).into_iter().flatten() {
                rows.push((section.into(), model.clone(), m.clone()));
            }
        }
        rows
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.protocol;
        writeln!(
            f,
            "cutoff {}  horizon {} days  split {:?}  train rows {} (curve {})  snapshots {}",
            p.cutoff,
            p.horizon_days,
            p.split,
            p.train_rows,
            p.curve_train_rows,
            p.train_snapshots.join(",")
        )?;
        write!(f, "{:<14}{:<18}", "section", "model")?;
        for (_, header) in TABLE_COLUMNS {
            write!(f, "{header:>11}")?;
        }
        writeln!(f)?;
        for (section, model, m) in self.table_rows() {
            write!(f, "{section:<14}{model:<18}")?;
            for (key, _) in TABLE_COLUMNS {
                write!(f, "{}", cell(m.get(key)))?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "churn n {} base rate {:.4} lift@10pct {:.4}; purchasers {}; actual orders {}; train {:.2} s",
            self.churn.n,
            self.churn.base_rate,
            self.churn.lift_10pct,
            self.next_purchase.n_purchasers,
            self.next_purchase.total_actual,
            self.train_seconds
        )
    }
}
