//! The self-contained HTML evaluation report: one file, inline CSS and inline SVG charts, no
//! script and no external reference, so it can be mailed, archived and opened offline.
//!
//! [`HtmlReport`] holds only figures already measured (built by `propensity-train evaluate`
//! from its report and per-customer predictions); [`HtmlReport::render`] lays them out.
//! Every string from the data (paths, names, groups) is escaped.

pub mod svg;

use super::curves::{
    CalibrationBin, DayErrorBucket, DecileRow, HorizonCalibration, RocPoint, calibration_bins,
    decile_table, lift_at, roc_points, thin_roc,
};
use super::grouped::GroupRow;
use super::metrics::auc;
use std::fmt::Write;
use svg::{BarChart, Corner, LineChart, Point, Series, bar_chart, escape, line_chart, num};

/// Most points drawn per ROC curve.
const ROC_POINTS: usize = 200;

/// A plain table of pre-formatted cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// One scored churn model (the GBDT or a baseline) and its curves.
#[derive(Clone, Debug)]
pub struct ScoredModel {
    /// Model name.
    pub name: String,
    /// AUC over every row (the curve drawn is thinned).
    pub auc: f64,
    /// Lift in the riskiest 10 %.
    pub lift_10pct: f64,
    /// ROC curve, thinned for drawing.
    pub roc: Vec<RocPoint>,
    /// Decile lift / gain table.
    pub deciles: Vec<DecileRow>,
    /// Calibration bins, when the model gives probabilities.
    pub calibration: Option<Vec<CalibrationBin>>,
}

impl ScoredModel {
    /// Curves of `scores` (higher = more likely positive) against `labels`; `probs` adds a
    /// 10-bin calibration curve.
    pub fn new(name: &str, scores: &[f64], probs: Option<&[f64]>, labels: &[f64]) -> Self {
        ScoredModel {
            name: name.to_string(),
            auc: auc(scores, labels, None),
            lift_10pct: lift_at(scores, labels, 0.1),
            roc: thin_roc(&roc_points(scores, labels), ROC_POINTS),
            deciles: decile_table(scores, labels, 10),
            calibration: probs.map(|p| calibration_bins(p, labels, 10)),
        }
    }
}

/// Churn charts: the GBDT first, then the baselines.
#[derive(Clone, Debug)]
pub struct ChurnSection {
    /// Customers measured.
    pub n: usize,
    /// Share who churned.
    pub base_rate: f64,
    /// Models, the GBDT first.
    pub models: Vec<ScoredModel>,
}

/// Recommendation metrics overall and by customer group.
#[derive(Clone, Debug)]
pub struct RecommendSection {
    /// Overall metrics per method (the console table).
    pub overall: Table,
    /// Method names, the columns of the group rows.
    pub methods: Vec<String>,
    /// Metrics by RFM segment.
    pub by_segment: Vec<GroupRow>,
    /// Metrics by history length (baskets before the cutoff).
    pub by_history: Vec<GroupRow>,
}

/// Next-purchase error by horizon.
#[derive(Clone, Debug)]
pub struct NextPurchaseSection {
    /// Repurchase curve calibration per horizon inside the label window.
    pub horizons: Vec<HorizonCalibration>,
    /// MAE (days) of the predicted next-purchase day over customers who bought.
    pub mae_days: f64,
    /// MAE of the "last gap repeats" baseline, when run.
    pub baseline_mae_days: Option<f64>,
    /// Customers who bought in the horizon.
    pub n_purchasers: usize,
    /// Error by week of the actual next purchase.
    pub by_actual_day: Vec<DayErrorBucket>,
}

/// Everything the HTML report shows.
#[derive(Clone, Debug, Default)]
pub struct HtmlReport {
    /// Page title.
    pub title: String,
    /// Protocol rows `(name, value)`: data file, cutoff, horizon, split, config, seed, ….
    pub protocol: Vec<(String, String)>,
    /// The headline table the console prints.
    pub headline: Table,
    /// Churn charts.
    pub churn: Option<ChurnSection>,
    /// Recommendation breakdowns.
    pub recommend: Option<RecommendSection>,
    /// Next-purchase error.
    pub next_purchase: Option<NextPurchaseSection>,
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 12px}\
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px}\
table{border-collapse:collapse;margin:8px 0 16px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}\
th:first-child,td.l{text-align:left}th{background:#f4f4f4}\
.charts{display:flex;flex-wrap:wrap;gap:12px}svg.chart{border:1px solid #ddd;background:#fff}\
svg .title{font-size:14px;font-weight:600;text-anchor:middle}svg .tick,svg .legend{font-size:11px}\
svg .label{font-size:12px}svg .grid{stroke:#eee}svg .axis{stroke:#444}\
svg .diagonal{stroke:#888;stroke-dasharray:4 4}svg .series{stroke-width:2}.note{color:#555}";

fn table(out: &mut String, t: &Table) {
    out.push_str("<table><thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            // Figures right-aligned so decimals line up; words left-aligned.
            let numeric = c == "-" || c.trim_end_matches('%').parse::<f64>().is_ok();
            let class = if numeric { "" } else { " class=\"l\"" };
            let _ = write!(out, "<td{class}>{}</td>", escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", 100.0 * v)
    } else {
        "-".into()
    }
}

impl HtmlReport {
    /// The whole document.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body><h1>{t}</h1>",
            t = escape(&self.title)
        );
        out.push_str("<h2>Protocol</h2>");
        table(
            &mut out,
            &Table {
                headers: vec!["setting".into(), "value".into()],
                rows: self
                    .protocol
                    .iter()
                    .map(|(k, v)| vec![k.clone(), v.clone()])
                    .collect(),
            },
        );
        out.push_str("<h2>Headline metrics</h2>");
        table(&mut out, &self.headline);
        if let Some(c) = &self.churn {
            churn_section(&mut out, c);
        }
        if let Some(r) = &self.recommend {
            recommend_section(&mut out, r);
        }
        if let Some(n) = &self.next_purchase {
            next_purchase_section(&mut out, n);
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn churn_section(out: &mut String, c: &ChurnSection) {
    out.push_str("<h2>Churn</h2>");
    if let Some(g) = c.models.first() {
        let caught = g.deciles.first().map_or(f64::NAN, |d| d.cum_gain);
        let _ = write!(
            out,
            "<p id=\"churn-summary\">{n} customers, base rate {b}. {m}: AUC <span id=\"churn-auc\">{a}</span>, \
             lift@10pct <span id=\"churn-lift\">{l}</span>: the riskiest 10% hold {c} of all churners.</p>",
            n = c.n,
            b = pct(c.base_rate),
            m = escape(&g.name),
            a = num(g.auc),
            l = num(g.lift_10pct),
            c = pct(caught),
        );
    }
    out.push_str("<div class=\"charts\">");
    let roc = LineChart {
        title: "ROC curve".into(),
        x_label: "false-positive rate".into(),
        y_label: "true-positive rate".into(),
        x_max: 1.0,
        y_max: 1.0,
        diagonal: Some("random (AUC 0.5)".into()),
        series: c
            .models
            .iter()
            .map(|m| Series {
                name: format!("{} (AUC {})", m.name, num(m.auc)),
                points: m
                    .roc
                    .iter()
                    .map(|p| Point {
                        x: p.fpr,
                        y: p.tpr,
                        tip: format!(
                            "{}: score ≥ {} → FPR {}, TPR {}",
                            m.name,
                            num(p.threshold),
                            num(p.fpr),
                            num(p.tpr)
                        ),
                    })
                    .collect(),
                markers: false,
            })
            .collect(),
        legend: Corner::BottomRight,
    };
    out.push_str(&line_chart(&roc));
    let calibrated: Vec<&ScoredModel> = c
        .models
        .iter()
        .filter(|m| m.calibration.is_some())
        .collect();
    let cal = LineChart {
        title: "Calibration (10 bins of predicted P(churn))".into(),
        x_label: "mean predicted probability".into(),
        y_label: "observed churn rate".into(),
        x_max: 1.0,
        y_max: 1.0,
        diagonal: Some("perfect calibration".into()),
        series: calibrated
            .iter()
            .map(|m| Series {
                name: m.name.clone(),
                points: m
                    .calibration
                    .iter()
                    .flatten()
                    .filter(|b| b.n > 0)
                    .map(|b| Point {
                        x: b.mean_predicted,
                        y: b.observed,
                        tip: format!(
                            "{}: bin {}–{}, n {}, predicted {}, observed {}",
                            m.name,
                            num(b.lo),
                            num(b.hi),
                            b.n,
                            num(b.mean_predicted),
                            num(b.observed)
                        ),
                    })
                    .collect(),
                markers: true,
            })
            .collect(),
        legend: Corner::TopLeft,
    };
    out.push_str(&line_chart(&cal));
    if let Some(g) = c.models.first() {
        let lift = BarChart {
            title: format!("Lift by decile of risk ({})", g.name),
            x_label: "decile (1 = riskiest 10%)".into(),
            y_label: "churn rate ÷ base rate".into(),
            categories: g.deciles.iter().map(|d| d.decile.to_string()).collect(),
            series: vec![(
                "lift".to_string(),
                g.deciles.iter().map(|d| d.lift).collect(),
            )],
            reference: Some((1.0, "random (lift 1)".into())),
        };
        out.push_str(&lift_chart_marker(bar_chart(&lift)));
    }
    let gain = LineChart {
        title: "Cumulative gain: share of churners caught".into(),
        x_label: "share of customers contacted, riskiest first".into(),
        y_label: "share of churners caught".into(),
        x_max: 1.0,
        y_max: 1.0,
        diagonal: Some("random".into()),
        series: c
            .models
            .iter()
            .map(|m| Series {
                name: m.name.clone(),
                points: std::iter::once(Point {
                    x: 0.0,
                    y: 0.0,
                    tip: format!("{}: nobody contacted", m.name),
                })
                .chain(m.deciles.iter().map(|d| Point {
                    x: d.decile as f64 / 10.0,
                    y: d.cum_gain,
                    tip: format!(
                        "{}: riskiest {}% catch {} of churners (lift {})",
                        m.name,
                        d.decile * 10,
                        pct(d.cum_gain),
                        num(d.cum_lift)
                    ),
                }))
                .collect(),
                markers: true,
            })
            .collect(),
        legend: Corner::BottomRight,
    };
    out.push_str(&line_chart(&gain));
    out.push_str("</div>");
    let models: Vec<&ScoredModel> = c.models.iter().collect();
    out.push_str("<h3>Models</h3>");
    table(
        out,
        &Table {
            headers: vec!["model".into(), "auc".into(), "lift@10pct".into()],
            rows: models
                .iter()
                .map(|m| vec![m.name.clone(), num(m.auc), num(m.lift_10pct)])
                .collect(),
        },
    );
    if let Some(g) = c.models.first() {
        let _ = write!(out, "<h3>Deciles ({})</h3>", escape(&g.name));
        table(
            out,
            &Table {
                headers: [
                    "decile",
                    "customers",
                    "churners",
                    "churn rate",
                    "lift",
                    "cum. gain",
                    "cum. lift",
                ]
                .map(String::from)
                .to_vec(),
                rows: g
                    .deciles
                    .iter()
                    .map(|d| {
                        vec![
                            d.decile.to_string(),
                            format!("{:.1}", d.rows),
                            format!("{:.1}", d.positives),
                            pct(d.rate),
                            num(d.lift),
                            pct(d.cum_gain),
                            num(d.cum_lift),
                        ]
                    })
                    .collect(),
            },
        );
        if let Some(bins) = &g.calibration {
            let _ = write!(out, "<h3>Calibration bins ({})</h3>", escape(&g.name));
            table(
                out,
                &Table {
                    headers: ["predicted", "customers", "mean predicted", "observed"]
                        .map(String::from)
                        .to_vec(),
                    rows: bins
                        .iter()
                        .map(|b| {
                            vec![
                                format!("{:.1}–{:.1}", b.lo, b.hi),
                                b.n.to_string(),
                                num(b.mean_predicted),
                                num(b.observed),
                            ]
                        })
                        .collect(),
                },
            );
        }
    }
}

/// Tags the decile lift chart so tests and readers can find it.
fn lift_chart_marker(svg: String) -> String {
    svg.replacen(
        "<svg class=\"chart\"",
        "<svg class=\"chart\" id=\"lift-deciles\"",
        1,
    )
}

fn group_table(out: &mut String, title: &str, first: &str, methods: &[String], rows: &[GroupRow]) {
    let _ = write!(out, "<h3>{}</h3>", escape(title));
    let mut headers = vec![first.to_string(), "customers".into(), "method".into()];
    headers.extend(["recall@10", "ndcg@10", "recall@20", "hit@10"].map(String::from));
    let mut t = Table {
        headers,
        rows: Vec::new(),
    };
    for r in rows {
        for (m, name) in r.methods.iter().zip(methods) {
            t.rows.push(vec![
                r.group.clone(),
                r.n_users.to_string(),
                name.clone(),
                num(m.recall_10),
                num(m.ndcg_10),
                num(m.recall_20),
                num(m.hit_10),
            ]);
        }
    }
    table(out, &t);
}

/// Bar chart of NDCG@10 per group for the ranker and the strongest simple sources.
fn group_chart(title: &str, x_label: &str, methods: &[String], rows: &[GroupRow]) -> String {
    let shown: Vec<usize> = methods
        .iter()
        .enumerate()
        .filter(|(_, m)| matches!(m.as_str(), "ranker" | "buy_again" | "popularity"))
        .map(|(i, _)| i)
        .collect();
    bar_chart(&BarChart {
        title: title.into(),
        x_label: x_label.into(),
        y_label: "NDCG@10".into(),
        categories: rows
            .iter()
            .map(|r| format!("{} ({})", r.group, r.n_users))
            .collect(),
        series: shown
            .iter()
            .map(|&i| {
                (
                    methods[i].clone(),
                    rows.iter().map(|r| r.methods[i].ndcg_10).collect(),
                )
            })
            .collect(),
        reference: None,
    })
}

fn recommend_section(out: &mut String, r: &RecommendSection) {
    out.push_str("<h2>Recommendations</h2><p class=\"note\">Truth: distinct items each customer buys in the horizon; customers with history before the cutoff.</p>");
    table(out, &r.overall);
    out.push_str("<div class=\"charts\">");
    out.push_str(&group_chart(
        "NDCG@10 by RFM segment",
        "segment (customers)",
        &r.methods,
        &r.by_segment,
    ));
    out.push_str(&group_chart(
        "NDCG@10 by history length",
        "baskets before the cutoff (customers)",
        &r.methods,
        &r.by_history,
    ));
    out.push_str("</div>");
    group_table(out, "By RFM segment", "segment", &r.methods, &r.by_segment);
    group_table(
        out,
        "By history length (baskets before the cutoff)",
        "baskets",
        &r.methods,
        &r.by_history,
    );
}

fn next_purchase_section(out: &mut String, n: &NextPurchaseSection) {
    out.push_str("<h2>Next purchase</h2>");
    let _ = write!(
        out,
        "<p>{} customers bought in the horizon; MAE of the predicted next-purchase day {} days",
        n.n_purchasers,
        num(n.mae_days)
    );
    if let Some(b) = n.baseline_mae_days {
        let _ = write!(out, " (last gap repeats: {} days)", num(b));
    }
    out.push_str(".</p><div class=\"charts\">");
    let h_max = n.horizons.iter().map(|h| h.days).max().unwrap_or(1) as f64;
    let point = |h: &HorizonCalibration, v: f64, what: &str| Point {
        x: h.days as f64,
        y: v,
        tip: format!(
            "within {} days: {what} {} (n {}, Brier {})",
            h.days,
            num(v),
            h.n,
            num(h.brier)
        ),
    };
    out.push_str(&line_chart(&LineChart {
        title: "Repurchase curve: P(order within d days)".into(),
        x_label: "d (days after the cutoff)".into(),
        y_label: "probability".into(),
        x_max: h_max,
        y_max: 1.0,
        diagonal: None,
        series: vec![
            Series {
                name: "mean predicted".into(),
                points: n
                    .horizons
                    .iter()
                    .map(|h| point(h, h.mean_predicted, "predicted"))
                    .collect(),
                markers: true,
            },
            Series {
                name: "observed".into(),
                points: n
                    .horizons
                    .iter()
                    .map(|h| point(h, h.observed, "observed"))
                    .collect(),
                markers: true,
            },
        ],
        legend: Corner::TopLeft,
    }));
    let used: Vec<&DayErrorBucket> = n.by_actual_day.iter().filter(|b| b.n > 0).collect();
    out.push_str(&bar_chart(&BarChart {
        title: "Next-purchase day error by actual day".into(),
        x_label: "actual day of the next order".into(),
        y_label: "mean absolute error (days)".into(),
        categories: used
            .iter()
            .map(|b| format!("{}–{} ({})", num(b.from_days), num(b.to_days), b.n))
            .collect(),
        series: vec![("MAE".to_string(), used.iter().map(|b| b.mae_days).collect())],
        reference: Some((n.mae_days, format!("overall MAE {}", num(n.mae_days)))),
    }));
    out.push_str("</div>");
    table(
        out,
        &Table {
            headers: [
                "within d days",
                "customers",
                "mean predicted",
                "observed",
                "Brier",
            ]
            .map(String::from)
            .to_vec(),
            rows: n
                .horizons
                .iter()
                .map(|h| {
                    vec![
                        h.days.to_string(),
                        h.n.to_string(),
                        num(h.mean_predicted),
                        num(h.observed),
                        num(h.brier),
                    ]
                })
                .collect(),
        },
    );
    table(
        out,
        &Table {
            headers: [
                "actual day",
                "customers",
                "mean actual",
                "mean predicted",
                "MAE",
            ]
            .map(String::from)
            .to_vec(),
            rows: n
                .by_actual_day
                .iter()
                .map(|b| {
                    vec![
                        format!("{}–{}", num(b.from_days), num(b.to_days)),
                        b.n.to_string(),
                        num(b.mean_actual),
                        num(b.mean_predicted),
                        num(b.mae_days),
                    ]
                })
                .collect(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::grouped::GroupMetrics;

    fn small() -> HtmlReport {
        let labels: Vec<f64> = (0..40).map(|i| f64::from(i % 4 == 0)).collect();
        let scores: Vec<f64> = (0..40).map(|i| ((i * 7) % 40) as f64 / 40.0).collect();
        HtmlReport {
            title: "t".into(),
            protocol: vec![("data".into(), "/tmp/<script>alert(1)</script>.csv".into())],
            headline: Table {
                headers: vec!["a".into()],
                rows: vec![vec!["1".into()]],
            },
            churn: Some(ChurnSection {
                n: 40,
                base_rate: 0.25,
                models: vec![ScoredModel::new("gbdt", &scores, Some(&scores), &labels)],
            }),
            recommend: Some(RecommendSection {
                overall: Table::default(),
                methods: vec!["ranker".into()],
                by_segment: vec![GroupRow {
                    group: "<script>x</script>".into(),
                    n_users: 3,
                    methods: vec![GroupMetrics {
                        recall_10: 0.5,
                        ndcg_10: 0.25,
                        recall_20: 0.75,
                        hit_10: 1.0,
                    }],
                }],
                by_history: Vec::new(),
            }),
            next_purchase: None,
        }
    }

    #[test]
    fn user_strings_are_escaped_everywhere() {
        let html = small().render();
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("/tmp/&lt;script&gt;alert(1)&lt;/script&gt;.csv"));
    }

    #[test]
    fn lift_chart_has_ten_bars_and_the_summary_quotes_the_model() {
        let r = small();
        let html = r.render();
        let start = html.find("id=\"lift-deciles\"").unwrap_or(0);
        let chart = &html[start..start + html[start..].find("</svg>").unwrap_or(0)];
        assert_eq!(chart.matches("<rect class=\"bar\"").count(), 10);
        let g = &r
            .churn
            .as_ref()
            .map(|c| c.models[0].clone())
            .into_iter()
            .next();
        let g = g.as_ref().map(|g| (num(g.auc), num(g.lift_10pct)));
        let (a, l) = g.unwrap_or_default();
        assert!(html.contains(&format!("<span id=\"churn-auc\">{a}</span>")));
        assert!(html.contains(&format!("<span id=\"churn-lift\">{l}</span>")));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}
