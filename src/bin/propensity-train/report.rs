//! `evaluate --html`: turns the evaluation just run (its report and per-customer
//! predictions) into the figures of [`HtmlReport`]. Nothing here measures anything new: every
//! number comes from the run's predictions and labels.

use propensity::clv::rfm::Segment;
use propensity::eval::curves::{day_error_buckets, horizon_calibration};
use propensity::eval::grouped::{GroupedRanking, HISTORY_BUCKETS, history_bucket};
use propensity::eval::report::svg::num;
use propensity::eval::report::{
    ChurnSection, HtmlReport, NextPurchaseSection, RecommendSection, ScoredModel, Table,
};
use propensity::features;
use propensity::ingest::EventStore;
use propensity::propensity::evaluate::TABLE_COLUMNS;
use propensity::propensity::{EvalDetail, EvalReport, Population, customer_values};
use propensity::ranking::{CustomerRanking, METHODS, RecommendReport};

/// RFM segments in the order the report lists them, best customers first.
const SEGMENTS: [Segment; 10] = [
    Segment::Champions,
    Segment::Loyal,
    Segment::PotentialLoyalist,
    Segment::New,
    Segment::Promising,
    Segment::NeedsAttention,
    Segment::AtRisk,
    Segment::CantLose,
    Segment::Hibernating,
    Segment::Lost,
];

/// Recommendation results for the report: the summary and every customer's metrics.
pub type RecommendRun = (RecommendReport, Vec<CustomerRanking>);

/// Builds the report of one `evaluate` run at `cutoff`; `protocol` rows come first.
pub fn build(
    store: &EventStore,
    cutoff: i64,
    protocol: Vec<(String, String)>,
    report: &EvalReport,
    detail: &EvalDetail,
    recommend: Option<&RecommendRun>,
) -> anyhow::Result<HtmlReport> {
    Ok(HtmlReport {
        title: format!(
            "propensity evaluation: cutoff {}, horizon {} days",
            report.protocol.cutoff, report.protocol.horizon_days
        ),
        protocol,
        headline: headline(report),
        churn: Some(churn(report, detail)),
        recommend: recommend
            .map(|r| recommend_section(store, cutoff, report.protocol.horizon_days, r))
            .transpose()?,
        next_purchase: Some(next_purchase(report, detail)),
    })
}

fn headline(report: &EvalReport) -> Table {
    let mut headers = vec!["section".to_string(), "model".to_string()];
    headers.extend(TABLE_COLUMNS.iter().map(|c| c.1.to_string()));
    Table {
        headers,
        rows: report
            .table_rows()
            .into_iter()
            .map(|(section, model, m)| {
                let mut row = vec![section, model];
                row.extend(
                    TABLE_COLUMNS
                        .iter()
                        .map(|(k, _)| m.get(*k).map_or_else(|| "-".to_string(), |v| num(*v))),
                );
                row
            })
            .collect(),
    }
}

fn churn(report: &EvalReport, d: &EvalDetail) -> ChurnSection {
    let mut models = vec![ScoredModel::new(
        "gbdt_calibrated",
        &d.p_churn,
        Some(&d.p_churn),
        &d.churned,
    )];
    for (name, scores) in &d.baseline_churn_scores {
        let probs = d.baseline_churn_probs.get(name).map(Vec::as_slice);
        models.push(ScoredModel::new(name, scores, probs, &d.churned));
    }
    ChurnSection {
        n: report.churn.n,
        base_rate: report.churn.base_rate,
        models,
    }
}

fn next_purchase(report: &EvalReport, d: &EvalDetail) -> NextPurchaseSection {
    let (mut predicted, mut actual) = (Vec::new(), Vec::new());
    for (p, a) in d.predicted_days.iter().zip(&d.days_to_next) {
        if let Some(a) = a {
            predicted.push(*p);
            actual.push(*a);
        }
    }
    let h = report.protocol.horizon_days as f64;
    NextPurchaseSection {
        horizons: horizon_calibration(&d.curve_days, &d.p_within, &d.days_to_next),
        mae_days: report.next_purchase.mae_days,
        baseline_mae_days: report
            .baselines
            .get("next_purchase")
            .and_then(|b| b.get("last_gap_repeats"))
            .and_then(|m| m.get("mae_days"))
            .copied(),
        n_purchasers: report.next_purchase.n_purchasers,
        by_actual_day: day_error_buckets(&predicted, &actual, 7.0, h),
    }
}

fn recommend_section(
    store: &EventStore,
    cutoff: i64,
    horizon_days: u32,
    (summary, customers): &RecommendRun,
) -> anyhow::Result<RecommendSection> {
    // Segments over every customer with history before the cutoff (the population the
    // recommendations are measured on), as the bundle scores them.
    let history = Population::History.at(store, cutoff);
    let rows = features::compute(store, &history, cutoff);
    let values = customer_values(&rows.summaries, cutoff, None, None, horizon_days)?;
    let mut segment_of: Vec<Option<usize>> = vec![None; store.n_customers()];
    for (c, v) in rows.customers.iter().zip(&values) {
        if let Some(slot) = segment_of.get_mut(c.0 as usize) {
            *slot = SEGMENTS.iter().position(|s| *s == v.rfm.segment);
        }
    }
    let segment_names: Vec<&str> = SEGMENTS.iter().map(|s| s.name()).collect();
    let mut by_segment = GroupedRanking::new(&segment_names, &METHODS);
    let mut by_history = GroupedRanking::new(&HISTORY_BUCKETS, &METHODS);
    let mut pairs = Vec::with_capacity(METHODS.len());
    for c in customers {
        pairs.clear();
        pairs.extend(c.at10.iter().copied().zip(c.at20.iter().copied()));
        if let Some(Some(s)) = segment_of.get(c.customer as usize) {
            by_segment.add(*s, &pairs);
        }
        let bucket = history_bucket(c.baskets);
        if let Some(b) = HISTORY_BUCKETS.iter().position(|x| *x == bucket) {
            by_history.add(b, &pairs);
        }
    }
    let overall = Table {
        headers: ["method", "recall@10", "ndcg@10", "recall@20", "hit@10"]
            .map(String::from)
            .to_vec(),
        rows: summary
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    num(r.recall_10),
                    num(r.ndcg_10),
                    num(r.recall_20),
                    num(r.hit_10),
                ]
            })
            .chain(std::iter::once(vec![
                format!(
                    "n_users {}, candidate recall {}",
                    summary.n_users,
                    num(summary.candidate_recall)
                ),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]))
            .collect(),
    };
    Ok(RecommendSection {
        overall,
        methods: METHODS.iter().map(|m| m.to_string()).collect(),
        by_segment: by_segment.rows(),
        by_history: by_history.rows(),
    })
}
