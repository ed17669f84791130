//! The one maximum-likelihood driver all CLV models share: Nelder–Mead on log-parameters,
//! a penalised refit when the plain fit fails, and deterministic parallel likelihood sums.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Settings for every CLV fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FitOptions {
    /// Most objective evaluations per Nelder–Mead run (each fit may run a few).
    pub max_evaluations: usize,
    /// Convergence tolerance on log-parameters and on the objective per customer.
    pub tolerance: f64,
    /// Strength of the L2 penalty on log-parameters used by the fallback fit
    /// (`penalty / 2 * sum (theta - theta_prior)^2`; 0.25 is a prior s.d. of 2 in log space).
    pub penalty: f64,
    /// Skip the plain maximum-likelihood fit and always fit with the penalty.
    pub always_penalise: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_evaluations: 20_000,
            tolerance: 1e-10,
            penalty: 0.25,
            always_penalise: false,
        }
    }
}

/// How a fit went: read it before trusting the parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The optimiser met its tolerance before its evaluation budget ran out.
    pub converged: bool,
    /// The parameters come from the penalised fallback, not plain maximum likelihood.
    pub penalised: bool,
    /// Objective evaluations used over all runs.
    pub evaluations: usize,
    /// Log-likelihood of the data at the returned parameters (without the penalty).
    pub log_likelihood: f64,
    /// Number of customers the likelihood was summed over.
    pub n_customers: usize,
}

/// Customers per parallel chunk. Fixed, so chunk boundaries (and therefore the floating
/// point sum) never depend on the thread count.
const CHUNK: usize = 2048;

/// Sums `f` over `items` in parallel with a result independent of the thread count: fixed
/// chunks, each summed in order, then the chunk sums added in order.
pub(crate) fn ordered_sum<T: Sync>(items: &[T], f: impl Fn(&T) -> f64 + Sync) -> f64 {
    let partial: Vec<f64> = items
        .par_chunks(CHUNK)
        .map(|chunk| chunk.iter().map(&f).sum::<f64>())
        .collect();
    partial.iter().sum()
}

/// Collapses customers with the same `key` into one representative and a count, sorted by
/// key. Day-level data repeats summaries a lot (every one-time buyer of the same day is one
/// `(0, 0, T)`), so likelihoods get cheaper, and the fit no longer depends on input order.
pub(crate) fn collapse<T: Copy, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<(T, f64)> {
    let mut keyed: Vec<(K, T)> = items.iter().map(|t| (key(t), *t)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(K, T, f64)> = Vec::new();
    for (k, t) in keyed {
        match out.last_mut() {
            Some(last) if last.0 == k => last.2 += 1.0,
            _ => out.push((k, t, 1.0)),
        }
    }
    out.into_iter().map(|(_, t, w)| (t, w)).collect()
}

/// The scaffold the purchase-process models (BG/NBD, Pareto/NBD) share: refuse an empty or
/// invalid sample, collapse identical `(x, t_x, T)` summaries into weighted ones (the
/// likelihood is a sum over customers), maximise `log_lik(params, unique, n)` over
/// log-parameters from the model's `start`, and return the parameters (exponentiated) with
/// the fit's report. `n` is the number of customers (for terms every customer shares).
pub(crate) fn fit_purchase_model(
    model: &'static str,
    summaries: &[super::CustomerSummary],
    opts: &FitOptions,
    start: Vec<f64>,
    log_lik: impl Fn(&[f64; 4], &[(super::CustomerSummary, f64)], usize) -> f64,
) -> Result<([f64; 4], FitReport), super::Error> {
    if summaries.is_empty() {
        return Err(super::Error::NoCustomers { model, detail: "" });
    }
    super::summary::validate_all(summaries)?;
    let unique = collapse(summaries, |s| {
        [s.x.to_bits(), s.t_x.to_bits(), s.t.to_bits()]
    });
    let exp4 = |th: &[f64]| [th[0].exp(), th[1].exp(), th[2].exp(), th[3].exp()];
    let objective = |th: &[f64]| log_lik(&exp4(th), &unique, summaries.len());
    let (theta, report) = maximise(objective, &start, &start, summaries.len(), opts);
    Ok((exp4(&theta), report))
}

/// Log-parameters beyond this magnitude (a factor of e^15) mean the fit ran to a boundary.
const LOG_PARAM_BOUND: f64 = 15.0;

/// Maximises a log-likelihood over log-parameters; falls back to a penalised fit when the
/// plain one does not converge or degenerates. Returns the log-parameters and the report.
///
/// `log_lik` must return the total log-likelihood (NaN/inf are treated as "infeasible").
pub(crate) fn maximise(
    log_lik: impl Fn(&[f64]) -> f64,
    start: &[f64],
    prior: &[f64],
    n_customers: usize,
    opts: &FitOptions,
) -> (Vec<f64>, FitReport) {
    // Scale the tolerance on the objective with the data size so it means "per customer".
    let ftol = opts.tolerance * (n_customers.max(1) as f64);
    let mut evaluations = 0;
    if !opts.always_penalise {
        let neg = |th: &[f64]| -log_lik(th);
        let run = minimise(&neg, start, ftol, opts.tolerance, opts.max_evaluations);
        evaluations += run.evaluations;
        let inside = run.x.iter().all(|v| v.abs() < LOG_PARAM_BOUND);
        if run.converged && inside && run.f.is_finite() {
            let report = FitReport {
                converged: true,
                penalised: false,
                evaluations,
                log_likelihood: -run.f,
                n_customers,
            };
            return (run.x, report);
        }
        tracing::debug!(
            converged = run.converged,
            inside,
            "clv fit: plain maximum likelihood failed, refitting with penalty"
        );
    }
    let penalty = opts.penalty.max(1e-6);
    let penalised = |th: &[f64]| {
        let l2: f64 = th.iter().zip(prior).map(|(t, p)| (t - p) * (t - p)).sum();
        -log_lik(th) + 0.5 * penalty * l2
    };
    let run = minimise(
        &penalised,
        prior,
        ftol,
        opts.tolerance,
        opts.max_evaluations,
    );
    evaluations += run.evaluations;
    let report = FitReport {
        converged: run.converged,
        penalised: true,
        evaluations,
        log_likelihood: log_lik(&run.x),
        n_customers,
    };
    (run.x, report)
}

/// Result of one minimisation.
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub evaluations: usize,
    pub converged: bool,
}

/// Nelder–Mead with restarts: after the simplex collapses, a fresh simplex is built around
/// the best point; convergence is declared only when a restart finds no better point, which
/// guards against the method's known premature collapse on curved valleys.
pub(crate) fn minimise(
    f: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    ftol: f64,
    xtol: f64,
    max_evaluations: usize,
) -> Minimum {
    let mut x = start.to_vec();
    let mut fx = finite_or_inf(f(&x));
    let mut evaluations = 1;
    let mut step = 0.5;
    for _ in 0..20 {
        let run = nelder_mead(
            f,
            &x,
            step,
            ftol,
            xtol,
            max_evaluations.saturating_sub(evaluations),
        );
        evaluations += run.evaluations;
        let improved = run.f < fx - ftol;
        let moved = run
            .x
            .iter()
            .zip(&x)
            .any(|(a, b)| (a - b).abs() > 10.0 * xtol);
        if run.f <= fx {
            x = run.x;
            fx = run.f;
        }
        if !run.converged {
            return Minimum {
                x,
                f: fx,
                evaluations,
                converged: false,
            };
        }
        if !improved && !moved {
            return Minimum {
                x,
                f: fx,
                evaluations,
                converged: fx.is_finite(),
            };
        }
        step = 0.1;
    }
    Minimum {
        x,
        f: fx,
        evaluations,
        converged: false,
    }
}

fn finite_or_inf(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// One Nelder–Mead run (reflection 1, expansion 2, contraction 1/2, shrink 1/2).
fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    start: &[f64],
    step: f64,
    ftol: f64,
    xtol: f64,
    budget: usize,
) -> Minimum {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    let mut evaluations = 0;
    let eval = |p: &[f64], evaluations: &mut usize| {
        *evaluations += 1;
        finite_or_inf(f(p))
    };
    let f0 = eval(start, &mut evaluations);
    simplex.push((start.to_vec(), f0));
    for i in 0..n {
        let mut p = start.to_vec();
        p[i] += step;
        let fp = eval(&p, &mut evaluations);
        simplex.push((p, fp));
    }
    loop {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = simplex[0].1;
        let worst = simplex[n].1;
        let spread_f = (worst - best).abs();
        let spread_x = simplex[1..]
            .iter()
            .flat_map(|(p, _)| p.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0f64, f64::max);
        if best.is_finite() && spread_f <= ftol && spread_x <= xtol {
            let (x, f) = simplex.swap_remove(0);
            return Minimum {
                x,
                f,
                evaluations,
                converged: true,
            };
        }
        if evaluations >= budget {
            let (x, f) = simplex.swap_remove(0);
            return Minimum {
                x,
                f,
                evaluations,
                converged: false,
            };
        }
        let mut centroid = vec![0.0; n];
        for (p, _) in &simplex[..n] {
            for (c, v) in centroid.iter_mut().zip(p) {
                *c += v / n as f64;
            }
        }
        let towards = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = towards(-1.0);
        let fr = eval(&reflected, &mut evaluations);
        if fr < simplex[0].1 {
            let expanded = towards(-2.0);
            let fe = eval(&expanded, &mut evaluations);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
            continue;
        }
        if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
            continue;
        }
        // Contract outside when the reflection beat the worst point, inside otherwise.
        let (contracted, fc) = if fr < simplex[n].1 {
            let c = towards(-0.5);
            let fc = eval(&c, &mut evaluations);
            (c, fc)
        } else {
            let c = towards(0.5);
            let fc = eval(&c, &mut evaluations);
            (c, fc)
        };
        if fc < fr.min(simplex[n].1) {
            simplex[n] = (contracted, fc);
            continue;
        }
        let best_point = simplex[0].0.clone();
        for (p, fp) in simplex.iter_mut().skip(1) {
            for (v, b) in p.iter_mut().zip(&best_point) {
                *v = b + 0.5 * (*v - b);
            }
            *fp = eval(p, &mut evaluations);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_the_rosenbrock_minimum() {
        let rosen = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let m = minimise(&rosen, &[-1.2, 1.0], 1e-14, 1e-9, 10_000);
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            m.x
        );
    }

    #[test]
    fn a_likelihood_without_maximum_falls_back_to_the_penalised_fit() {
        // Increasing without bound in theta[0]: plain ML runs off; the penalty holds it near
        // the prior, where the penalised optimum is theta = prior + 1/penalty.
        let opts = FitOptions {
            max_evaluations: 2_000,
            ..FitOptions::default()
        };
        let (theta, report) = maximise(
            |th: &[f64]| th[0] - th[1] * th[1],
            &[0.0, 1.0],
            &[1.0, 0.0],
            10,
            &opts,
        );
        assert!(report.penalised && report.converged);
        assert!(
            (theta[0] - (1.0 + 1.0 / opts.penalty)).abs() < 1e-4,
            "{theta:?}"
        );
        assert!(theta[1].abs() < 1e-4);
    }

    #[test]
    fn a_well_posed_likelihood_is_not_penalised() {
        let (theta, report) = maximise(
            |th: &[f64]| -(th[0] - 2.0).powi(2) - (th[1] + 1.0).powi(2),
            &[0.0, 0.0],
            &[0.0, 0.0],
            1,
            &FitOptions::default(),
        );
        assert!(report.converged && !report.penalised);
        assert!((theta[0] - 2.0).abs() < 1e-6 && (theta[1] + 1.0).abs() < 1e-6);
        assert!(report.log_likelihood.abs() < 1e-10);
    }

    #[test]
    fn collapse_counts_equal_keys_in_key_order() {
        let got = collapse(&[3, 1, 3, 2, 3, 1], |v| *v);
        assert_eq!(got, vec![(1, 2.0), (2, 1.0), (3, 3.0)]);
    }

    #[test]
    fn ordered_sum_does_not_depend_on_the_thread_count() {
        let xs: Vec<f64> = (0..100_000).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let a = one.install(|| ordered_sum(&xs, |v| v.sqrt()));
        let b = four.install(|| ordered_sum(&xs, |v| v.sqrt()));
        assert_eq!(a.to_bits(), b.to_bits());
        let direct: f64 = xs.iter().map(|v| v.sqrt()).sum();
        assert!((a - direct).abs() < 1e-9);
    }
}
