//! The boosting loop (LightGBM `gbdt.cpp`): gradients, bagging, feature sampling, one tree per
//! round, score updates, validation metrics and early stopping.

use super::booster::Booster;
use super::dataset::Dataset;
use super::error::GbdtError;
use super::grower::TreeGrower;
use super::objective::{Objective, ObjectiveKind};
use super::params::Params;
use super::tree::Tree;
use crate::eval::metrics;
use crate::rng::Rng;
use rayon::prelude::*;

/// Rows per parallel chunk of elementwise work (gradients, score updates).
const ROW_CHUNK: usize = 1 << 14;
/// RNG stream keys, so bagging and feature sampling never share draws.
const BAG_STREAM: u64 = 0xBA6;
const FEATURE_STREAM: u64 = 0xFEA7;

/// What one boosting round reports to the caller (progress bars, logs).
#[derive(Clone, Debug)]
pub struct IterationReport {
    /// Zero-based round.
    pub iteration: usize,
    /// Validation metrics `(name, value)`; the first drives early stopping. Empty without a
    /// validation set.
    pub metrics: Vec<(&'static str, f64)>,
    /// Round with the best first metric so far.
    pub best_iteration: usize,
}

/// A local rayon pool of `threads` threads (0 = one per core).
pub(crate) fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, GbdtError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|source| GbdtError::ThreadPool { threads, source })
}

fn check_labels(obj: &dyn Objective, ds: &Dataset) -> Result<(), GbdtError> {
    for (row, &value) in ds.labels().iter().enumerate() {
        if let Err(reason) = obj.check_label(value) {
            return Err(GbdtError::BadLabel {
                row,
                value,
                objective: obj.name(),
                reason,
            });
        }
    }
    Ok(())
}

/// Trains a booster; `on_iteration` sees every round's report.
pub(crate) fn train(
    params: &Params,
    train: &Dataset,
    valid: Option<&Dataset>,
    on_iteration: &mut (dyn FnMut(&IterationReport) + Send),
) -> Result<Booster, GbdtError> {
    params.validate()?;
    if train.n_rows() == 0 {
        return Err(GbdtError::Empty);
    }
    let objective = params.objective.build(params.poisson_max_delta_step);
    check_labels(objective.as_ref(), train)?;
    if objective.needs_queries() && train.queries().is_none() {
        return Err(GbdtError::BadParam {
            name: "objective",
            value: objective.name().to_string(),
            reason: "a ranking loss needs query groups (Dataset::with_queries; \
                     `gbdt train --query COLUMN`)",
        });
    }
    if let Some(v) = valid {
        check_labels(objective.as_ref(), v)?;
        if v.features() != train.features() {
            return Err(GbdtError::FeatureMismatch {
                found: v.feature_names().map(str::to_owned).collect(),
                expected: train.feature_names().map(str::to_owned).collect(),
            });
        }
    }
    let pool = thread_pool(params.threads)?;
    Ok(pool.install(|| boost(params, objective.as_ref(), train, valid, on_iteration)))
}

fn boost(
    params: &Params,
    objective: &dyn Objective,
    train: &Dataset,
    valid: Option<&Dataset>,
    on_iteration: &mut (dyn FnMut(&IterationReport) + Send),
) -> Booster {
    let n = train.n_rows();
    let n_features = train.n_features();
    let base_score = objective.init_score(train.labels(), train.weights());
    let mut scores = vec![base_score; n];
    let mut valid_scores = valid.map(|v| vec![base_score; v.n_rows()]);
    let mut gh = vec![[0.0f64; 2]; n];
    let mut grower = TreeGrower::new(train, params);
    let mut trees: Vec<Tree> = Vec::with_capacity(params.num_iterations);
    let mut bag: Option<Vec<u32>> = None;
    let mut in_bag: Vec<bool> = Vec::new();
    let mut best: Option<(usize, f64)> = None;
    let mut stopped_early = false;

    for it in 0..params.num_iterations {
        match train.queries().filter(|_| objective.needs_queries()) {
            Some(bounds) => query_gradients(objective, train, bounds, &scores, &mut gh),
            None => gh
                .par_chunks_mut(ROW_CHUNK)
                .zip(train.labels().par_chunks(ROW_CHUNK))
                .zip(scores.par_chunks(ROW_CHUNK))
                .for_each(|((out, y), s)| objective.gradients(y, s, out)),
        }
        if let Some(w) = train.weights() {
            gh.par_chunks_mut(ROW_CHUNK)
                .zip(w.par_chunks(ROW_CHUNK))
                .for_each(|(out, w)| {
                    for (o, &w) in out.iter_mut().zip(w) {
                        o[0] *= w;
                        o[1] *= w;
                    }
                });
        }
        if params.bagging() && it % params.bagging_freq == 0 {
            let mut rng = Rng::derived(params.seed, &[BAG_STREAM, it as u64]);
            in_bag = (0..n)
                .map(|_| rng.uniform() < params.bagging_fraction)
                .collect();
            bag = Some((0..n as u32).filter(|&r| in_bag[r as usize]).collect());
        }
        let used = sample_features(params, n_features, it);
        let tree = grower.grow(&gh, bag.as_deref(), &used);
        if tree.n_leaves() == 1 && !params.bagging() && params.feature_fraction >= 1.0 {
            // Nothing left to split on: every further round would be the same empty tree.
            break;
        }
        update_train_scores(
            train,
            &tree,
            &grower,
            bag.is_some().then_some(&in_bag[..]),
            &mut scores,
        );
        if let (Some(v), Some(vs)) = (valid, valid_scores.as_mut()) {
            add_tree_binned(v, &tree, vs);
        }
        trees.push(tree);

        let metrics = match (valid, &valid_scores) {
            (Some(v), Some(vs)) => valid_metrics(params.objective, v, vs),
            _ => Vec::new(),
        };
        if let Some(&(_, m)) = metrics.first()
            && best.is_none_or(|(_, b)| m < b)
        {
            best = Some((it, m));
        }
        let best_iteration = best.map_or(it, |b| b.0);
        on_iteration(&IterationReport {
            iteration: it,
            metrics,
            best_iteration,
        });
        if params.early_stopping_rounds > 0
            && best.is_some()
            && it - best_iteration >= params.early_stopping_rounds
        {
            stopped_early = true;
            break;
        }
    }
    let best_iteration = if stopped_early {
        best.map(|(it, _)| it)
    } else {
        None
    };
    if let Some(b) = best_iteration {
        trees.truncate(b + 1);
    }
    Booster::from_parts(
        params,
        base_score,
        train.features().to_vec(),
        trees,
        best_iteration,
    )
}

/// The per-tree feature mask: all features, or a seeded `feature_fraction` of them.
fn sample_features(params: &Params, n_features: usize, it: usize) -> Vec<bool> {
    if params.feature_fraction >= 1.0 {
        return vec![true; n_features];
    }
    let k = ((params.feature_fraction * n_features as f64).round() as usize)
        .clamp(1, n_features.max(1));
    let mut idx: Vec<usize> = (0..n_features).collect();
    Rng::derived(params.seed, &[FEATURE_STREAM, it as u64]).shuffle(&mut idx);
    let mut used = vec![false; n_features];
    for &f in &idx[..k.min(n_features)] {
        used[f] = true;
    }
    used
}

/// Adds the new tree to the training scores: in-bag rows by their leaf in the partition,
/// out-of-bag rows by walking the tree on their bin codes.
fn update_train_scores(
    train: &Dataset,
    tree: &Tree,
    grower: &TreeGrower<'_>,
    in_bag: Option<&[bool]>,
    scores: &mut [f64],
) {
    let part = grower.partition();
    for (leaf, &v) in tree.leaf_values().iter().enumerate() {
        for &r in part.rows(leaf) {
            scores[r as usize] += v;
        }
    }
    if let Some(in_bag) = in_bag {
        let missing: Vec<u8> = train
            .features()
            .iter()
            .map(|f| f.mapper.missing_bin())
            .collect();
        scores
            .par_chunks_mut(ROW_CHUNK)
            .enumerate()
            .for_each(|(c, s)| {
                for (i, s) in s.iter_mut().enumerate() {
                    let r = c * ROW_CHUNK + i;
                    if !in_bag[r] {
                        let leaf = tree.leaf_of_bins(|f| train.column(f)[r], |f| missing[f]);
                        *s += tree.leaf_values()[leaf];
                    }
                }
            });
    }
}

/// Adds `tree`'s output to the scores of every row of a binned dataset.
fn add_tree_binned(ds: &Dataset, tree: &Tree, scores: &mut [f64]) {
    let missing: Vec<u8> = ds
        .features()
        .iter()
        .map(|f| f.mapper.missing_bin())
        .collect();
    scores
        .par_chunks_mut(ROW_CHUNK)
        .enumerate()
        .for_each(|(c, s)| {
            for (i, s) in s.iter_mut().enumerate() {
                let r = c * ROW_CHUNK + i;
                let leaf = tree.leaf_of_bins(|f| ds.column(f)[r], |f| missing[f]);
                *s += tree.leaf_values()[leaf];
            }
        });
}

/// Gradients of a ranking loss, one query at a time (queries in parallel; each query's
/// rows are written by one task, so the result does not depend on the thread count).
fn query_gradients(
    objective: &dyn Objective,
    train: &Dataset,
    bounds: &[usize],
    scores: &[f64],
    gh: &mut [[f64; 2]],
) {
    let mut parts: Vec<(&mut [[f64; 2]], usize)> = Vec::with_capacity(bounds.len());
    let mut rest = gh;
    for q in bounds.windows(2) {
        let (head, tail) = rest.split_at_mut(q[1] - q[0]);
        parts.push((head, q[0]));
        rest = tail;
    }
    let labels = train.labels();
    parts.into_par_iter().for_each(|(out, start)| {
        let end = start + out.len();
        objective.gradients(&labels[start..end], &scores[start..end], out);
    });
}

/// Validation metrics for an objective; the first one is minimised by early stopping.
fn valid_metrics(objective: ObjectiveKind, ds: &Dataset, raw: &[f64]) -> Vec<(&'static str, f64)> {
    let y = ds.labels();
    let w = ds.weights();
    match objective {
        ObjectiveKind::Binary => {
            let p: Vec<f64> = raw.iter().map(|&s| objective.transform(s)).collect();
            vec![
                ("binary_logloss", metrics::logloss(&p, y, w)),
                ("auc", metrics::auc(raw, y, w)),
            ]
        }
        ObjectiveKind::Regression => vec![("rmse", metrics::rmse(raw, y, w))],
        // NDCG needs the validation queries; ranking runs train for a fixed round count.
        ObjectiveKind::LambdaRank => Vec::new(),
        ObjectiveKind::Poisson => {
            let rate: Vec<f64> = raw.iter().map(|&s| s.exp()).collect();
            vec![
                ("poisson", metrics::poisson_nll(&rate, y, w)),
                ("rmse", metrics::rmse(&rate, y, w)),
            ]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbdt::{DenseInput, ImportanceKind, decode_model_file, encode_model_file};

    /// Columns, names and labels for a test problem.
    struct Data {
        cols: Vec<Vec<f64>>,
        names: Vec<String>,
        labels: Vec<f64>,
        weights: Option<Vec<f64>>,
        categorical: Vec<String>,
    }

    impl Data {
        fn new(cols: Vec<Vec<f64>>, labels: Vec<f64>) -> Self {
            let names = (0..cols.len()).map(|i| format!("x{i}")).collect();
            Self {
                cols,
                names,
                labels,
                weights: None,
                categorical: Vec::new(),
            }
        }

        fn input(&self) -> DenseInput<'_> {
            DenseInput {
                columns: &self.cols,
                feature_names: &self.names,
                categorical: &self.categorical,
                labels: &self.labels,
                weights: self.weights.as_deref(),
            }
        }

        fn dataset(&self, p: &Params) -> Dataset {
            Dataset::from_dense(self.input(), p).expect("valid dataset")
        }

        fn row(&self, r: usize) -> Vec<f64> {
            self.cols.iter().map(|c| c[r]).collect()
        }
    }

    fn uniform_cols(seed: u64, n: usize, k: usize) -> Vec<Vec<f64>> {
        let mut rng = Rng::new(seed);
        (0..k)
            .map(|_| (0..n).map(|_| rng.uniform()).collect())
            .collect()
    }

    fn accuracy(b: &Booster, d: &Data) -> f64 {
        let hits = (0..d.labels.len())
            .filter(|&r| {
                let p = b.predict_proba_row(&d.row(r)).expect("row length");
                (p > 0.5) == (d.labels[r] > 0.5)
            })
            .count();
        hits as f64 / d.labels.len() as f64
    }

    /// Queries of 10 rows; the relevant row of each is the one with the largest `x0`
    /// (`x1` is noise). Returns the data and the query sizes.
    fn ranking_problem(seed: u64, queries: usize) -> (Data, Vec<usize>) {
        let cols = uniform_cols(seed, queries * 10, 2);
        let labels = (0..queries * 10)
            .map(|r| {
                let q = r / 10 * 10;
                let best = (q..q + 10)
                    .max_by(|&a, &b| cols[0][a].total_cmp(&cols[0][b]))
                    .unwrap_or(q);
                f64::from(r == best)
            })
            .collect();
        (Data::new(cols, labels), vec![10; queries])
    }

    #[test]
    fn lambdarank_ranks_each_querys_relevant_row_first_whatever_the_threads() {
        let (d, sizes) = ranking_problem(11, 400);
        let fit = |threads| {
            let p = Params {
                objective: ObjectiveKind::LambdaRank,
                num_iterations: 30,
                num_leaves: 7,
                min_data_in_leaf: 10,
                threads,
                ..Params::default()
            };
            let ds = d
                .dataset(&p)
                .with_queries(&sizes)
                .expect("sizes cover the rows");
            train(&p, &ds, None, &mut |_| {}).expect("trains")
        };
        let b = fit(1);
        assert_eq!(b, fit(2), "the model depends on the thread count");
        let (v, _) = ranking_problem(12, 200);
        let firsts = (0..200)
            .filter(|q| {
                let top = (q * 10..q * 10 + 10)
                    .max_by(|&a, &b_| {
                        let s = |r: usize| b.predict_proba_row(&v.row(r)).expect("row");
                        s(a).total_cmp(&s(b_))
                    })
                    .unwrap_or(0);
                v.labels[top] == 1.0
            })
            .count();
        assert!(
            firsts >= 150,
            "relevant row first in {firsts} of 200 queries"
        );

        // Without queries the loss cannot be computed: a clear error, not a silent fallback.
        let p = Params {
            objective: ObjectiveKind::LambdaRank,
            ..Params::default()
        };
        let err = train(&p, &d.dataset(&p), None, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("query groups"), "{err}");
        assert!(d.dataset(&p).with_queries(&[10; 3]).is_err());
    }

    #[test]
    fn a_tree_recovers_a_planted_split() {
        let cols = uniform_cols(1, 4000, 3);
        let labels = cols[1].iter().map(|&x| f64::from(x > 0.6)).collect();
        let d = Data::new(cols, labels);
        let p = Params {
            num_iterations: 1,
            num_leaves: 2,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        let root = b.trees()[0].nodes()[0];
        assert_eq!(root.feature, 1);
        assert!(
            (root.threshold - 0.6).abs() < 0.01,
            "threshold {}",
            root.threshold
        );
        let gain = b.feature_importance(ImportanceKind::Gain);
        assert!(
            gain[1] > 0.0 && gain[0] == 0.0 && gain[2] == 0.0,
            "{gain:?}"
        );
    }

    #[test]
    fn xor_needs_depth_two() {
        let cols = uniform_cols(2, 4000, 2);
        let labels = (0..4000)
            .map(|r| f64::from((cols[0][r] > 0.5) != (cols[1][r] > 0.5)))
            .collect();
        let d = Data::new(cols, labels);
        let depth = |max_depth| Params {
            num_iterations: 30,
            max_depth: Some(max_depth),
            num_leaves: 4,
            ..Params::default()
        };
        let deep = Booster::train(&depth(2), &d.dataset(&depth(2)), None).expect("trains");
        let stumps = Booster::train(&depth(1), &d.dataset(&depth(1)), None).expect("trains");
        assert!(deep.trees().iter().all(|t| t.n_leaves() <= 4));
        assert!(
            accuracy(&deep, &d) > 0.97,
            "depth 2: {}",
            accuracy(&deep, &d)
        );
        assert!(
            accuracy(&stumps, &d) < 0.65,
            "stumps cannot learn XOR: {}",
            accuracy(&stumps, &d)
        );
    }

    #[test]
    fn missing_values_follow_the_learned_direction() {
        for nan_label in [0.0, 1.0] {
            let mut cols = uniform_cols(3, 4000, 2);
            let mut labels = Vec::new();
            for (r, x) in cols[0].iter_mut().enumerate() {
                if r % 4 == 0 {
                    *x = f64::NAN;
                    labels.push(nan_label);
                } else {
                    labels.push(f64::from(*x > 0.5));
                }
            }
            let d = Data::new(cols, labels);
            let p = Params {
                num_iterations: 20,
                ..Params::default()
            };
            let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
            let p_nan = b.predict_proba_row(&[f64::NAN, 0.5]).expect("row");
            let p_nan_f32 = b.predict_proba_row(&[f32::NAN, 0.5]).expect("row");
            assert_eq!(p_nan, p_nan_f32);
            if nan_label == 1.0 {
                assert!(p_nan > 0.9, "missing rows are positives: {p_nan}");
            } else {
                assert!(p_nan < 0.1, "missing rows are negatives: {p_nan}");
            }
            assert!(b.predict_proba_row(&[0.9, 0.5]).expect("row") > 0.9);
            assert!(b.predict_proba_row(&[0.1, 0.5]).expect("row") < 0.1);
        }
    }

    /// 30 categories, half with positive rate 0.85 and half 0.15, in a random order.
    fn categorical_problem(seed: u64, n: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = Rng::new(99);
        let mut high: Vec<bool> = (0..30).map(|c| c % 2 == 0).collect();
        rng.shuffle(&mut high);
        let mut rng = Rng::new(seed);
        let cat: Vec<f64> = (0..n).map(|_| rng.below(30) as f64).collect();
        let labels = cat
            .iter()
            .map(|&c| f64::from(rng.bernoulli(if high[c as usize] { 0.85 } else { 0.15 })))
            .collect();
        (cat, labels)
    }

    #[test]
    fn categorical_split_beats_one_hot() {
        let (cat, labels) = categorical_problem(4, 9000);
        let (vcat, vlabels) = categorical_problem(5, 4000);
        let p = Params {
            num_iterations: 3,
            num_leaves: 3,
            ..Params::default()
        };
        let mut d = Data::new(vec![cat], labels);
        d.categorical = vec!["x0".into()];
        let mut v = Data::new(vec![vcat], vlabels);
        v.categorical = d.categorical.clone();
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        let raw: Vec<f64> = (0..v.labels.len())
            .map(|r| b.predict_row(&v.row(r)).expect("row"))
            .collect();
        let auc_cat = metrics::auc(&raw, &v.labels, None);

        let one_hot = |col: &[f64]| {
            (0..30)
                .map(|k| col.iter().map(|&c| f64::from(c == k as f64)).collect())
                .collect()
        };
        let dh = Data::new(one_hot(&d.cols[0]), d.labels.clone());
        let vh = Data::new(one_hot(&v.cols[0]), v.labels.clone());
        let bh = Booster::train(&p, &dh.dataset(&p), None).expect("trains");
        let raw_h: Vec<f64> = (0..vh.labels.len())
            .map(|r| bh.predict_row(&vh.row(r)).expect("row"))
            .collect();
        let auc_hot = metrics::auc(&raw_h, &vh.labels, None);
        assert!(auc_cat > 0.82, "categorical AUC {auc_cat}");
        assert!(
            auc_cat > auc_hot + 0.05,
            "categorical {auc_cat} vs one-hot {auc_hot}"
        );
    }

    #[test]
    fn early_stopping_stops_and_keeps_the_best_round() {
        let cols = uniform_cols(6, 3000, 4);
        let mut rng = Rng::new(60);
        let labels = (0..3000)
            .map(|r| f64::from(rng.bernoulli(if cols[0][r] > 0.5 { 0.7 } else { 0.3 })))
            .collect();
        let d = Data::new(cols, labels);
        let vcols = uniform_cols(7, 2000, 4);
        let vlabels = (0..2000)
            .map(|r| f64::from(rng.bernoulli(if vcols[0][r] > 0.5 { 0.7 } else { 0.3 })))
            .collect();
        let v = Data::new(vcols, vlabels);
        let p = Params {
            num_iterations: 500,
            num_leaves: 63,
            min_data_in_leaf: 2,
            early_stopping_rounds: 10,
            learning_rate: 0.3,
            ..Params::default()
        };
        let ds = d.dataset(&p);
        let vs = Dataset::from_dense_like(v.input(), &ds).expect("same features");
        let mut reports = Vec::new();
        let b = Booster::train_with_callback(&p, &ds, Some(&vs), &mut |r| reports.push(r.clone()))
            .expect("trains");
        let best = b.best_iteration().expect("stopped early");
        assert!(reports.len() < 500, "ran {} rounds", reports.len());
        assert_eq!(reports.len(), best + 11);
        assert_eq!(b.trees().len(), best + 1);
        let loss = |r: &IterationReport| r.metrics[0].1;
        assert!(reports.iter().all(|r| loss(r) >= loss(&reports[best])));
        assert_eq!(reports[0].metrics[0].0, "binary_logloss");
    }

    #[test]
    fn poisson_recovers_planted_rates() {
        let cols = uniform_cols(8, 20_000, 2);
        let mut rng = Rng::new(80);
        let labels = cols[0]
            .iter()
            .map(|&x| rng.poisson(if x > 0.5 { 4.0 } else { 1.5 }) as f64)
            .collect();
        let d = Data::new(cols, labels);
        let p = Params {
            objective: ObjectiveKind::Poisson,
            num_iterations: 100,
            num_leaves: 4,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        let low = b.predict_proba_row(&[0.2, 0.5]).expect("row");
        let high = b.predict_proba_row(&[0.8, 0.5]).expect("row");
        assert!((low - 1.5).abs() < 0.1, "low rate {low}");
        assert!((high - 4.0).abs() < 0.2, "high rate {high}");
    }

    #[test]
    fn regression_fits_a_step_and_rejects_bad_labels() {
        let cols = uniform_cols(9, 2000, 1);
        let labels: Vec<f64> = cols[0]
            .iter()
            .map(|&x| if x > 0.3 { 5.0 } else { -1.0 })
            .collect();
        let d = Data::new(cols, labels);
        let p = Params {
            objective: ObjectiveKind::Regression,
            num_iterations: 50,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        assert!((b.predict_row(&[0.9]).expect("row") - 5.0).abs() < 0.05);
        assert!((b.predict_row(&[0.1]).expect("row") + 1.0).abs() < 0.05);
        let bin = Params::default();
        match Booster::train(&bin, &d.dataset(&bin), None) {
            Err(GbdtError::BadLabel { row: 0, .. }) => {}
            other => panic!("expected BadLabel, got {other:?}"),
        }
        assert!(matches!(
            b.predict_row(&[0.1, 0.2]),
            Err(GbdtError::RowLength {
                found: 2,
                expected: 1
            })
        ));
    }

    #[test]
    fn weight_two_equals_a_duplicated_row() {
        let mut rng = Rng::new(10);
        let x: Vec<f64> = (0..500).map(|_| rng.below(50) as f64).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|&v| f64::from(rng.bernoulli(if v > 20.0 { 0.8 } else { 0.3 })))
            .collect();
        let w: Vec<f64> = (0..500)
            .map(|r| if r % 3 == 0 { 2.0 } else { 1.0 })
            .collect();
        let mut weighted = Data::new(vec![x.clone()], y.clone());
        weighted.weights = Some(w.clone());
        let (mut dx, mut dy) = (Vec::new(), Vec::new());
        for r in 0..500 {
            for _ in 0..w[r] as usize {
                dx.push(x[r]);
                dy.push(y[r]);
            }
        }
        let dup = Data::new(vec![dx], dy);
        let p = Params {
            num_iterations: 10,
            num_leaves: 4,
            min_data_in_leaf: 1,
            min_sum_hessian_in_leaf: 0.0,
            ..Params::default()
        };
        let a = Booster::train(&p, &weighted.dataset(&p), None).expect("trains");
        let b = Booster::train(&p, &dup.dataset(&p), None).expect("trains");
        for v in 0..50 {
            let (pa, pb) = (
                a.predict_row(&[v as f64]).expect("row"),
                b.predict_row(&[v as f64]).expect("row"),
            );
            assert!((pa - pb).abs() < 1e-9, "x={v}: {pa} vs {pb}");
        }
        let unweighted =
            Booster::train(&p, &Data::new(vec![x], y).dataset(&p), None).expect("trains");
        assert!((0..50).any(|v| {
            (unweighted.predict_row(&[v as f64]).expect("row")
                - a.predict_row(&[v as f64]).expect("row"))
            .abs()
                > 1e-3
        }));
    }

    /// A mixed problem: numeric, missing and categorical features with interactions.
    fn mixed_data(seed: u64, n: usize) -> Data {
        let mut cols = uniform_cols(seed, n, 5);
        let mut rng = Rng::new(seed + 1);
        for (r, x) in cols[2].iter_mut().enumerate() {
            if r % 7 == 0 {
                *x = f64::NAN;
            }
        }
        for x in cols[4].iter_mut() {
            *x = rng.below(12) as f64;
        }
        let labels = (0..n)
            .map(|r| {
                let z = 2.0 * cols[0][r] - cols[1][r] * cols[3][r]
                    + if cols[2][r].is_nan() { 1.0 } else { cols[2][r] }
                    + if (cols[4][r] as u64).is_multiple_of(3) {
                        1.0
                    } else {
                        -0.5
                    };
                f64::from(rng.bernoulli(1.0 / (1.0 + (-(z - 1.0) * 3.0).exp())))
            })
            .collect();
        let mut d = Data::new(cols, labels);
        d.categorical = vec!["x4".into()];
        d
    }

    #[test]
    fn treeshap_has_local_accuracy() {
        let d = mixed_data(11, 3000);
        let p = Params {
            num_iterations: 30,
            num_leaves: 15,
            min_data_per_group: 10,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        assert!(
            b.trees()
                .iter()
                .any(|t| t.nodes().iter().any(|n| n.cat_set != u32::MAX)),
            "a categorical split exists"
        );
        let mut phi = vec![0.0; 5];
        for r in 0..200 {
            let row = d.row(r);
            b.shap_row(&row, &mut phi).expect("row length");
            let total = phi.iter().sum::<f64>() + b.expected_value();
            let raw = b.predict_row(&row).expect("row length");
            assert!(
                (total - raw).abs() < 1e-6,
                "row {r}: shap {total} vs raw {raw}"
            );
        }
        // A feature the model never splits on gets zero attribution.
        let unused = b
            .feature_importance(ImportanceKind::Split)
            .iter()
            .position(|&s| s == 0.0);
        if let Some(f) = unused {
            b.shap_row(&d.row(0), &mut phi).expect("row length");
            assert_eq!(phi[f], 0.0);
        }
    }

    #[test]
    fn same_seed_same_bytes_whatever_the_thread_count() {
        let d = mixed_data(12, 100_000);
        let v = mixed_data(13, 5_000);
        let model = |threads| {
            let p = Params {
                num_iterations: 8,
                num_leaves: 31,
                bagging_fraction: 0.7,
                bagging_freq: 2,
                feature_fraction: 0.8,
                seed: 42,
                threads,
                bin_construct_sample_cnt: 50_000,
                ..Params::default()
            };
            let ds = d.dataset(&p);
            let vs = Dataset::from_dense_like(v.input(), &ds).expect("same features");
            let b = Booster::train(&p, &ds, Some(&vs)).expect("trains");
            encode_model_file(&b).expect("encodes")
        };
        let one = model(1);
        assert_eq!(one, model(2), "1-thread and 2-thread models differ");
        assert_eq!(one, model(3));
    }

    #[test]
    fn saved_model_predicts_the_same() {
        let d = mixed_data(14, 2000);
        let p = Params {
            num_iterations: 20,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        let bytes = encode_model_file(&b).expect("encodes");
        let back: Booster = decode_model_file(&bytes).expect("decodes");
        back.validate().expect("consistent");
        let rows: Vec<Vec<f64>> = (0..203).map(|r| d.row(r)).collect();
        assert_eq!(
            b.predict(&rows).expect("rows"),
            back.predict(&rows).expect("rows")
        );
        let single: Vec<f64> = rows
            .iter()
            .map(|r| b.predict_row(r).expect("row"))
            .collect();
        assert_eq!(single, b.predict(&rows).expect("rows"));
        assert_eq!(
            single,
            b.predict_columns(&d.cols).expect("cols")[..203].to_vec()
        );
    }

    /// Batch prediction walks bin codes, the single-row path raw thresholds: they must agree
    /// on every value, above all the awkward ones (thresholds exactly and one ulp either side,
    /// ±inf, NaN, unseen and negative categories).
    #[test]
    fn batch_and_single_row_agree_on_edge_values() {
        let d = mixed_data(15, 3000);
        let p = Params {
            num_iterations: 15,
            ..Params::default()
        };
        let b = Booster::train(&p, &d.dataset(&p), None).expect("trains");
        let mut probes: Vec<Vec<f64>> = vec![Vec::new(); 5];
        for t in b.trees() {
            for n in t.nodes() {
                let th = n.threshold;
                if th.is_finite() {
                    let f = n.feature as usize;
                    probes[f].extend([th, th.next_down(), th.next_up()]);
                }
            }
        }
        for (f, p) in probes.iter_mut().enumerate() {
            p.extend([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, 0.0]);
            if f == 4 {
                p.extend([12.0, 99.0, 3.5, 1e300]);
            }
        }
        let mut rng = Rng::new(16);
        let rows: Vec<Vec<f64>> = (0..2000)
            .map(|_| {
                probes
                    .iter()
                    .map(|p| p[rng.below(p.len() as u64) as usize])
                    .collect()
            })
            .collect();
        let single: Vec<f64> = rows
            .iter()
            .map(|r| b.predict_row(r).expect("row"))
            .collect();
        assert_eq!(single, b.predict(&rows).expect("rows"));
        let f32_rows: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| v as f32).collect())
            .collect();
        let single32: Vec<f64> = f32_rows
            .iter()
            .map(|r| b.predict_row(r).expect("row"))
            .collect();
        assert_eq!(single32, b.predict(&f32_rows).expect("rows"));
    }
}
