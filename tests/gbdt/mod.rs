//! `propensity-train gbdt train|predict` end to end on CSV files with missing values and a
//! categorical column.

use crate::trainer;
use propensity::rng::Rng;
use std::fmt::Write as _;
use std::path::Path;

const COLORS: [&str; 8] = [
    "red", "green", "blue", "cyan", "magenta", "yellow", "black", "white",
];
const EFFECT: [f64; 8] = [1.5, -1.0, 0.5, -1.5, 1.0, 0.0, -0.5, 2.0];

/// id, x1 (20% empty, missing rows lean positive), x2 (5% NaN), color, w, y.
fn write_table(path: &Path, seed: u64, n: usize) {
    let mut rng = Rng::new(seed);
    let mut s = String::from("id,x1,x2,color,w,y\n");
    for i in 0..n {
        let x1 = rng.uniform();
        let x2 = rng.normal();
        let c = rng.below(8) as usize;
        let missing = rng.bernoulli(0.2);
        let mut z = 2.0 * x1 - 1.0 + EFFECT[c] + if x2 > 0.5 { 0.8 } else { 0.0 };
        if missing {
            z += 1.0;
        }
        let y = u8::from(rng.bernoulli(1.0 / (1.0 + (-2.0 * z).exp())));
        let x1 = if missing {
            String::new()
        } else {
            x1.to_string()
        };
        let x2 = if rng.bernoulli(0.05) {
            "NaN".to_string()
        } else {
            x2.to_string()
        };
        let w = 1.0 + rng.uniform();
        writeln!(s, "{i},{x1},{x2},{},{w},{y}", COLORS[c]).expect("write to string");
    }
    std::fs::write(path, s).expect("write table");
}

/// The last column of a table written by this file's generators (the label), as numbers.
fn last_column(path: &str) -> Vec<f64> {
    std::fs::read_to_string(path)
        .expect("table")
        .lines()
        .skip(1)
        .map(|l| {
            l.rsplit(',')
                .next()
                .and_then(|y| y.parse().ok())
                .expect("numeric label")
        })
        .collect()
}

fn auc(scores: &[f64], labels: &[f64]) -> f64 {
    propensity::eval::metrics::auc(scores, labels, None)
}

#[test]
fn train_then_predict_with_missing_values_and_a_categorical_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    write_table(Path::new(&p("train.csv")), 1, 4000);
    write_table(Path::new(&p("valid.csv")), 2, 2000);
    let out = trainer(&[
        "gbdt",
        "train",
        "--train",
        &p("train.csv"),
        "--valid",
        &p("valid.csv"),
        "--label",
        "y",
        "--categorical",
        "color",
        "--weight",
        "w",
        "--ignore",
        "id",
        "--num-iterations",
        "60",
        "--early-stopping-rounds",
        "10",
        "--min-data-per-group",
        "20",
        "--threads",
        "2",
        "--out",
        &p("m.gbdt"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "train failed: {stderr}");
    assert!(
        stderr.contains("valid binary_logloss="),
        "per-round metrics: {stderr}"
    );
    assert!(stderr.contains("timing csv_parse_s="), "timings: {stderr}");

    let out = trainer(&[
        "gbdt",
        "predict",
        "--model",
        &p("m.gbdt"),
        "--data",
        &p("valid.csv"),
        "--shap",
        "--out",
        &p("pred.csv"),
    ]);
    assert!(
        out.status.success(),
        "predict failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pred = std::fs::read_to_string(p("pred.csv")).expect("predictions");
    let mut lines = pred.lines();
    assert_eq!(lines.next(), Some("prediction,shap_x1,shap_x2,shap_color"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().expect("numeric output"))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 2000);
    assert!(rows.iter().all(|r| (0.0..=1.0).contains(&r[0])));
    let labels = last_column(&p("valid.csv"));
    let scores: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    assert!(
        auc(&scores, &labels) > 0.85,
        "validation AUC {}",
        auc(&scores, &labels)
    );
    // The categorical column carries the strongest signal, so it dominates the SHAP values.
    let mean_abs = |j: usize| rows.iter().map(|r| r[j].abs()).sum::<f64>() / rows.len() as f64;
    assert!(
        mean_abs(3) > mean_abs(2),
        "color {} vs x2 {}",
        mean_abs(3),
        mean_abs(2)
    );
}

#[test]
fn bad_cells_and_corrupted_models_are_refused_with_their_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    write_table(Path::new(&p("train.csv")), 3, 500);
    let mut text = std::fs::read_to_string(p("train.csv")).expect("table");
    text.push_str("500,0.5,abc,red,1,0\n");
    std::fs::write(p("bad.csv"), text).expect("write");
    let out = trainer(&[
        "gbdt",
        "train",
        "--train",
        &p("bad.csv"),
        "--label",
        "y",
        "--categorical",
        "color",
        "--out",
        &p("m.gbdt"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 502") && stderr.contains("\"x2\"") && stderr.contains("abc"),
        "{stderr}"
    );

    let out = trainer(&[
        "gbdt",
        "train",
        "--train",
        &p("train.csv"),
        "--label",
        "y",
        "--categorical",
        "color",
        "--num-iterations",
        "5",
        "--out",
        &p("m.gbdt"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut model = std::fs::read(p("m.gbdt")).expect("model");
    let mid = model.len() / 2;
    model[mid] ^= 0x10;
    std::fs::write(p("bad.gbdt"), &model).expect("write");
    let out = trainer(&[
        "gbdt",
        "predict",
        "--model",
        &p("bad.gbdt"),
        "--data",
        &p("train.csv"),
        "--out",
        &p("x.csv"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
}

/// q, x0, x1, y: queries of 10 rows whose relevant row (y = 1) has the largest `x0`.
fn write_ranking_table(path: &Path, seed: u64, queries: usize) {
    let mut rng = Rng::new(seed);
    let mut s = String::from("q,x0,x1,y\n");
    for q in 0..queries {
        let x0: Vec<f64> = (0..10).map(|_| rng.uniform()).collect();
        let best = (0..10)
            .max_by(|&a, &b| x0[a].total_cmp(&x0[b]))
            .unwrap_or(0);
        for (r, x) in x0.iter().enumerate() {
            writeln!(s, "{q},{x},{},{}", rng.uniform(), u8::from(r == best)).expect("write");
        }
    }
    std::fs::write(path, s).expect("write table");
}

#[test]
fn lambdarank_trains_on_query_groups_and_ranks_each_querys_best_row_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    write_ranking_table(Path::new(&p("train.csv")), 5, 300);
    write_ranking_table(Path::new(&p("test.csv")), 6, 100);
    let train = |table: &str, query: Option<&str>| {
        let mut args = vec![
            "gbdt".to_string(),
            "train".into(),
            "--train".into(),
            p(table),
            "--label".into(),
            "y".into(),
            "--objective".into(),
            "lambdarank".into(),
            "--num-iterations".into(),
            "30".into(),
            "--num-leaves".into(),
            "7".into(),
            "--min-data-in-leaf".into(),
            "10".into(),
            "--out".into(),
            p("m.gbdt"),
        ];
        if let Some(q) = query {
            args.extend(["--query".to_string(), q.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        trainer(&args)
    };
    let out = train("train.csv", Some("q"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = trainer(&[
        "gbdt",
        "predict",
        "--model",
        &p("m.gbdt"),
        "--data",
        &p("test.csv"),
        "--out",
        &p("pred.csv"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scores: Vec<f64> = std::fs::read_to_string(p("pred.csv"))
        .expect("predictions")
        .lines()
        .skip(1)
        .map(|l| l.parse().expect("score"))
        .collect();
    let labels = last_column(&p("test.csv"));
    let firsts = (0..100)
        .filter(|q| {
            let top = (q * 10..q * 10 + 10)
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(0);
            labels[top] == 1.0
        })
        .count();
    assert!(firsts >= 75, "best row first in {firsts} of 100 queries");

    // Without --query, and with a query split in two, the run stops with the reason.
    let out = train("train.csv", None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--query"),
        "{stderr}"
    );
    let mut text = std::fs::read_to_string(p("train.csv")).expect("table");
    text.push_str("0,0.5,0.5,0\n");
    std::fs::write(p("split.csv"), text).expect("write");
    let out = train("split.csv", Some("q"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("line 3002") && stderr.contains("\"q\""),
        "{stderr}"
    );
}
