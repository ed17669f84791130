use super::*;
use crate::cf::Interactions;
use crate::cf::topk::{Scored, best_first};
use crate::rng::Rng;

/// `groups` taste groups: user u belongs to group u % groups and buys each item of its
/// group's block with probability `density`, never outside it.
fn planted(n_users: usize, n_items: usize, groups: usize, density: f64, seed: u64) -> Interactions {
    let mut rng = Rng::new(seed);
    let mut triples = Vec::new();
    for u in 0..n_users {
        let g = u % groups;
        for i in 0..n_items {
            if i * groups / n_items == g && rng.bernoulli(density) {
                triples.push((u as u32, i as u32, 1.0 + rng.below(3) as f32));
            }
        }
    }
    Interactions::from_triples(n_users, n_items, &triples).unwrap()
}

fn params(solver: Solver) -> AlsParams {
    AlsParams {
        factors: 8,
        iterations: 6,
        alpha: 5.0,
        regularization: 0.1,
        solver,
        seed: 3,
        ..AlsParams::default()
    }
}

#[test]
fn loss_decreases_every_sweep_for_both_solvers() {
    let m = planted(60, 40, 3, 0.4, 1);
    for solver in [Solver::ConjugateGradient, Solver::Cholesky] {
        let p = params(solver);
        let mut als = AlsFit::new(&m, &p).unwrap();
        let mut last = als.loss();
        for sweep in 0..p.iterations {
            als.sweep();
            let l = als.loss();
            assert!(
                l < last,
                "{solver:?} sweep {sweep}: loss {l} did not drop below {last}"
            );
            last = l;
        }
        assert!((calculate_loss(&m, als.model(), &p) - last).abs() < 1e-6 * last);
    }
}

#[test]
fn cg_reaches_nearly_the_exact_solvers_loss() {
    let m = planted(80, 50, 4, 0.3, 2);
    let p = AlsParams {
        iterations: 15,
        ..params(Solver::Cholesky)
    };
    let exact = calculate_loss(&m, &fit(&m, &p).unwrap(), &p);
    let cg_p = AlsParams {
        solver: Solver::ConjugateGradient,
        ..p.clone()
    };
    let cg = calculate_loss(&m, &fit(&m, &cg_p).unwrap(), &cg_p);
    let start = calculate_loss(&m, AlsFit::new(&m, &p).unwrap().model(), &p);
    assert!(
        cg < 0.5 * start,
        "cg did not fit at all: {cg} vs start {start}"
    );
    assert!(
        (cg - exact).abs() < 0.02 * exact,
        "cg loss {cg} vs exact {exact}"
    );
}

#[test]
fn users_top_items_stay_in_their_taste_group() {
    let groups = 4;
    let (n_users, n_items) = (120, 80);
    let m = planted(n_users, n_items, groups, 0.5, 7);
    let p = AlsParams {
        factors: 6,
        iterations: 10,
        alpha: 10.0,
        ..params(Solver::ConjugateGradient)
    };
    let model = fit(&m, &p).unwrap();
    for u in 0..n_users {
        let (bought, _) = m.row(u);
        let top = model.recommend(model.user(u).unwrap(), 5, bought).unwrap();
        assert_eq!(top.len(), 5);
        for s in &top {
            assert_eq!(
                s.item as usize * groups / n_items,
                u % groups,
                "user {u} got item {} outside its group",
                s.item
            );
            assert!(
                !bought.contains(&s.item),
                "user {u}: excluded item {} returned",
                s.item
            );
        }
    }
}

#[test]
fn same_seed_gives_identical_factors_at_one_and_two_threads() {
    let m = planted(300, 200, 5, 0.1, 4);
    let p = AlsParams {
        factors: 24,
        iterations: 3,
        ..params(Solver::ConjugateGradient)
    };
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| fit(&m, &p).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(
        one.user_factors()
            .iter()
            .zip(two.user_factors())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert_eq!(one, two);
    let other_seed = fit(
        &m,
        &AlsParams {
            seed: 4,
            ..p.clone()
        },
    )
    .unwrap();
    assert_ne!(one, other_seed);
}

#[test]
fn recommend_matches_brute_force_and_skips_excluded() {
    let mut rng = Rng::new(11);
    let k = 13;
    let items: Vec<f32> = (0..103 * k).map(|_| rng.normal() as f32).collect();
    let model = AlsModel::from_parts(k, vec![0.0; k], items).unwrap();
    let x: Vec<f32> = (0..k).map(|_| rng.normal() as f32).collect();
    let mut all: Vec<Scored> = (0..103)
        .map(|i| Scored {
            item: i,
            // f64 oracle: the scan may use fused multiply-add, so compare to tolerance.
            score: model
                .item(i as usize)
                .unwrap()
                .iter()
                .zip(&x)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum::<f64>() as f32,
        })
        .collect();
    all.sort_by(best_first);
    let exclude = [all[0].item, all[3].item, 9999];
    let got = model.recommend(&x, 10, &exclude).unwrap();
    let want: Vec<Scored> = all
        .into_iter()
        .filter(|s| !exclude.contains(&s.item))
        .take(10)
        .collect();
    assert_eq!(
        got.iter().map(|s| s.item).collect::<Vec<_>>(),
        want.iter().map(|s| s.item).collect::<Vec<_>>()
    );
    for (g, w) in got.iter().zip(&want) {
        assert!((g.score - w.score).abs() < 1e-5, "{g:?} vs {w:?}");
    }
    assert!(matches!(
        model.recommend(&x[..3], 10, &[]),
        Err(Error::FactorLength {
            found: 3,
            expected: 13
        })
    ));
    assert!(matches!(
        AlsModel::from_parts(k, vec![0.0; k + 1], vec![]),
        Err(Error::MatrixShape { len: 14, .. })
    ));
}

#[test]
fn norm_sorted_scan_gives_recommends_items_and_scores() {
    let m = planted(60, 900, 3, 0.03, 8);
    let p = AlsParams {
        factors: 24,
        iterations: 3,
        ..params(Solver::ConjugateGradient)
    };
    let model = fit(&m, &p).unwrap();
    let sorted = model.norm_sorted();
    for u in 0..60 {
        let x = model.user(u).unwrap();
        for k in [1, 10, 40] {
            let own = m.row(u).0;
            let want = model.recommend(x, k, own).unwrap();
            assert_eq!(
                sorted.recommend(x, k, own).unwrap(),
                want,
                "customer {u} k {k}"
            );
        }
    }
    // Ties at the k-th score are broken by item index, as the full scan does.
    let tied = AlsModel::from_parts(2, vec![1.0, 0.0], [[1.0, 0.0]; 9].concat()).unwrap();
    let got = tied.norm_sorted().recommend(&[1.0, 0.0], 3, &[1]).unwrap();
    assert_eq!(got.iter().map(|s| s.item).collect::<Vec<_>>(), [0, 2, 3]);
    assert!(matches!(
        sorted.recommend(&[1.0], 3, &[]),
        Err(Error::FactorLength { found: 1, .. })
    ));
}

#[test]
fn recommend_all_equals_one_customer_at_a_time() {
    let m = planted(75, 1100, 3, 0.02, 5);
    let p = AlsParams {
        factors: 20,
        iterations: 2,
        ..params(Solver::ConjugateGradient)
    };
    let model = fit(&m, &p).unwrap();
    let all = model.recommend_all(7, Some(&m)).unwrap();
    assert_eq!(all.n_rows(), 75);
    for u in 0..75 {
        let one = model
            .recommend(model.user(u).unwrap(), 7, m.row(u).0)
            .unwrap();
        let (items, scores) = all.row(u);
        assert_eq!(
            items,
            one.iter().map(|s| s.item).collect::<Vec<_>>(),
            "customer {u}"
        );
        assert_eq!(
            scores,
            one.iter().map(|s| s.score).collect::<Vec<_>>(),
            "customer {u}"
        );
    }
    let wrong = Interactions::from_triples(3, 1100, &[]).unwrap();
    assert!(matches!(
        model.recommend_all(7, Some(&wrong)),
        Err(Error::LengthMismatch { .. })
    ));
}

#[test]
fn log_confidence_and_validation() {
    let p = AlsParams {
        alpha: 2.0,
        confidence: Confidence::Log { epsilon: 0.5 },
        ..AlsParams::default()
    };
    assert!((p.confidence_of(1.0) - (1.0 + 2.0 * 3f32.ln())).abs() < 1e-6);
    assert_eq!(
        AlsParams {
            alpha: 2.0,
            ..AlsParams::default()
        }
        .confidence_of(3.0),
        7.0
    );
    for bad in [
        AlsParams {
            factors: 0,
            ..AlsParams::default()
        },
        AlsParams {
            cg_steps: 0,
            ..AlsParams::default()
        },
        AlsParams {
            regularization: 0.0,
            ..AlsParams::default()
        },
        AlsParams {
            alpha: f32::NAN,
            ..AlsParams::default()
        },
        AlsParams {
            confidence: Confidence::Log { epsilon: 0.0 },
            ..AlsParams::default()
        },
    ] {
        assert!(
            matches!(bad.validate(), Err(Error::BadParam { .. })),
            "{bad:?}"
        );
    }
    assert!(
        AlsParams {
            cg_steps: 0,
            solver: Solver::Cholesky,
            ..AlsParams::default()
        }
        .validate()
        .is_ok()
    );
}
