//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
//!
//! While active, a customer buys at Poisson rate `lambda ~ Gamma(r, alpha)` (shape `r`,
//! rate `alpha`); after each repeat purchase they drop out with probability
//! `p ~ Beta(a, b)`. The likelihood of `(x, t_x, T)` is
//! `L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
//!    + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))`.

use super::mle::{self, FitOptions, FitReport};
use super::special::{hyp2f1, ln_beta, ln_gamma, log_add_exp};
use super::{CustomerSummary, Error, PurchaseModel};
use serde::{Deserialize, Serialize};

/// BG/NBD model: entry point for fitting.
pub struct BgNbd;

/// Fitted BG/NBD population parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate gamma distribution.
    pub r: f64,
    /// Rate (inverse scale, in the summaries' time unit) of the purchase-rate gamma.
    pub alpha: f64,
    /// First shape of the dropout-probability beta distribution.
    pub a: f64,
    /// Second shape of the dropout-probability beta distribution.
    pub b: f64,
}

/// A BG/NBD fit: parameters plus how the fit went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// Maximum-likelihood (or penalised) parameters.
    pub params: BgNbdParams,
    /// Convergence, penalty and log-likelihood of the fit.
    pub report: FitReport,
}

/// Repeat counts up to this size get their gamma/beta terms from a per-evaluation table.
const TABLE_MAX_X: usize = 10_000;

impl BgNbd {
    /// Fits BG/NBD by maximum likelihood on the customers' summaries (monetary is ignored).
    pub fn fit(summaries: &[CustomerSummary], opts: &FitOptions) -> Result<BgNbdFit, Error> {
        let max_x = summaries.iter().map(|s| s.x as usize).max().unwrap_or(0);
        let params = |[r, alpha, a, b]: [f64; 4]| BgNbdParams { r, alpha, a, b };
        let (theta, report) = mle::fit_purchase_model(
            "BG/NBD",
            summaries,
            opts,
            prior(summaries),
            |&th, unique, _| {
                let p = params(th);
                let terms = Terms::new(&p, max_x.min(TABLE_MAX_X));
                mle::ordered_sum(unique, |(s, w)| w * terms.log_lik(&p, s))
            },
        )?;
        Ok(BgNbdFit {
            params: params(theta),
            report,
        })
    }
}

/// Weak prior and start in log space: r = 1, alpha set so the mean purchase rate matches
/// the population's (repeats per unit of age), a = 1, b = 2 (mean dropout 1/3).
fn prior(summaries: &[CustomerSummary]) -> Vec<f64> {
    let repeats: f64 = summaries.iter().map(|s| s.x).sum();
    let age: f64 = summaries.iter().map(|s| s.t).sum();
    let scale = if age > 0.0 {
        age / repeats.max(1.0)
    } else {
        1.0
    };
    vec![0.0, scale.ln(), 0.0, 2f64.ln()]
}

/// Per-`x` parts of the log-likelihood, tabulated once per parameter vector because the
/// repeat count is a small integer shared by many customers.
struct Terms {
    /// `ln G(r+x) - ln G(r)`, `ln B(a, b+x) - ln B(a, b)`, `ln B(a+1, b+x-1) - ln B(a, b)`.
    table: Vec<[f64; 3]>,
}

impl Terms {
    fn new(p: &BgNbdParams, max_x: usize) -> Self {
        let table = (0..=max_x).map(|x| x_terms(p, x as f64)).collect();
        Terms { table }
    }

    fn get(&self, p: &BgNbdParams, x: f64) -> [f64; 3] {
        match self.table.get(x as usize) {
            Some(t) => *t,
            None => x_terms(p, x),
        }
    }

    fn log_lik(&self, p: &BgNbdParams, s: &CustomerSummary) -> f64 {
        let [g, b_alive, b_dead] = self.get(p, s.x);
        let rx = p.r + s.x;
        let alive = b_alive - rx * (p.alpha + s.t).ln();
        let both = if s.x > 0.0 {
            log_add_exp(alive, b_dead - rx * (p.alpha + s.t_x).ln())
        } else {
            alive
        };
        g + p.r * p.alpha.ln() + both
    }
}

fn x_terms(p: &BgNbdParams, x: f64) -> [f64; 3] {
    let base = ln_beta(p.a, p.b);
    let dead = if x > 0.0 {
        ln_beta(p.a + 1.0, p.b + x - 1.0) - base
    } else {
        f64::NEG_INFINITY
    };
    [
        ln_gamma(p.r + x) - ln_gamma(p.r),
        ln_beta(p.a, p.b + x) - base,
        dead,
    ]
}

/// Half-width of the interval around a = 1 where the expectation is interpolated.
const A_NEAR_ONE: f64 = 1e-4;

impl BgNbdParams {
    /// Log-likelihood of one customer's summary under these parameters.
    pub fn log_likelihood(&self, s: &CustomerSummary) -> f64 {
        Terms { table: Vec::new() }.log_lik(self, s)
    }

    /// `(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]`,
    /// the expected purchases of a customer known to be alive at T.
    ///
    /// Euler's transformation rewrites the bracket as
    /// `1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)`, whose 2F1 stays bounded as `z -> 1`
    /// (the original grows like `(1-z)^(a-1-r-x)` and overflows for heavy buyers).
    fn expected_if_alive(&self, s: &CustomerSummary, horizon: f64) -> f64 {
        let at = |a: f64| -> Option<f64> {
            let c = a + self.b + s.x - 1.0;
            let one_minus_z = (self.alpha + s.t) / (self.alpha + s.t + horizon);
            let z = horizon / (self.alpha + s.t + horizon);
            let f = hyp2f1(a + self.b - 1.0 - self.r, a - 1.0, c, z)?;
            let bracket = -((a - 1.0) * one_minus_z.ln() + f.ln()).exp_m1();
            let v = c / (a - 1.0) * bracket;
            (v.is_finite() && f > 0.0).then_some(v)
        };
        // a = 1 is a removable singularity (0/0); interpolate across it.
        let value = if (self.a - 1.0).abs() < A_NEAR_ONE {
            at(1.0 - A_NEAR_ONE)
                .zip(at(1.0 + A_NEAR_ONE))
                .map(|(lo, hi)| {
                    let w = (self.a - (1.0 - A_NEAR_ONE)) / (2.0 * A_NEAR_ONE);
                    lo + w * (hi - lo)
                })
        } else {
            at(self.a)
        };
        // The 2F1 only fails for degenerate parameters (z rounding to 1); the purchase
        // count without dropout, E[lambda] * t, is then a finite upper bound.
        value.unwrap_or((self.r + s.x) / (self.alpha + s.t) * horizon)
    }
}

impl PurchaseModel for BgNbdParams {
    /// `1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))`: 1 for every x = 0.
    fn p_alive(&self, s: &CustomerSummary) -> f64 {
        if s.x <= 0.0 {
            return 1.0;
        }
        let log_odds_dead = self.a.ln() - (self.b + s.x - 1.0).ln()
            + (self.r + s.x) * ((self.alpha + s.t).ln() - (self.alpha + s.t_x).ln());
        1.0 / (1.0 + log_odds_dead.exp())
    }

    fn expected_purchases(&self, s: &CustomerSummary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        self.p_alive(s) * self.expected_if_alive(s, horizon)
    }

    /// A BG/NBD customer can only drop out right after a purchase, so one alive at T makes
    /// no purchase in `(T, T+t]` exactly when the Poisson clock does not tick:
    /// `P(X(t) = 0 | alive) = E[exp(-lambda t)] = ((alpha+T)/(alpha+T+t))^(r+x)`
    /// (the y = 0 case of Fader & Hardie's conditional PMF).
    fn p_any_purchase(&self, s: &CustomerSummary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let none_if_alive = -(self.r + s.x) * (horizon / (self.alpha + s.t)).ln_1p();
        self.p_alive(s) * -none_if_alive.exp_m1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::testdata;

    const PUBLISHED: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    fn s(x: f64, t_x: f64, t: f64) -> CustomerSummary {
        CustomerSummary {
            x,
            t_x,
            t,
            monetary: 0.0,
        }
    }

    #[test]
    fn cdnow_sample_matches_published_estimates() {
        let data = testdata::cdnow_sample_calibration();
        assert_eq!(data.len(), 2357);
        let fit = BgNbd::fit(&data, &FitOptions::default()).unwrap();
        let p = fit.params;
        assert!(
            fit.report.converged && !fit.report.penalised,
            "{:?}",
            fit.report
        );
        for (name, got, want) in [
            ("r", p.r, PUBLISHED.r),
            ("alpha", p.alpha, PUBLISHED.alpha),
            ("a", p.a, PUBLISHED.a),
            ("b", p.b, PUBLISHED.b),
        ] {
            assert!(
                (got - want).abs() < 0.0005 + 1e-9,
                "{name}: {got} vs published {want}"
            );
        }
        // Published log-likelihood: -9582.4.
        assert!(
            (fit.report.log_likelihood + 9582.4).abs() < 0.05,
            "{:?}",
            fit.report
        );
    }

    #[test]
    fn published_conditional_expectation_example() {
        // FHL 2005, section 4: x = 2, t_x = 30.43, T = 38.86 weeks expects 1.226
        // purchases in the next 39 weeks.
        let e = PUBLISHED.expected_purchases(&s(2.0, 30.43, 38.86), 39.0);
        assert!((e - 1.226).abs() < 0.002, "{e}");
    }

    #[test]
    fn expectation_matches_a_direct_integral_over_dropout_probability() {
        // Alive at T: E[X(t)] = E_p[(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p] with
        // p ~ Beta(a, b+x); integrate with the midpoint rule after p = u^(1/a) (removes
        // the p^(a-1) singularity). Covers a < 1, a > 1, a near 1, and z close to 1.
        for &(r, alpha, a, b) in &[
            (0.243, 4.414, 0.793, 2.426),
            (1.3, 2.0, 2.5, 4.0),
            (0.5, 1.0, 1.00003, 3.0),
        ] {
            let p = BgNbdParams { r, alpha, a, b };
            for &(x, t_x, t, h) in &[
                (0.0, 0.0, 0.5, 200.0),
                (3.0, 10.0, 20.0, 15.0),
                (12.0, 30.0, 31.0, 52.0),
            ] {
                let sm = s(x, t_x, t);
                let got = p.expected_purchases(&sm, h) / p.p_alive(&sm);
                let n = 200_000;
                let mut acc = 0.0;
                for i in 0..n {
                    let u = (i as f64 + 0.5) / n as f64;
                    let q = u.powf(1.0 / a);
                    // Density of Beta(a, b+x) divided by the density of p = u^(1/a).
                    let w = (b + x - 1.0) * (1.0 - q).ln() - ln_beta(a, b + x) - a.ln();
                    let inner = -(-(r + x) * (q * h / (alpha + t)).ln_1p()).exp_m1() / q;
                    acc += inner * w.exp();
                }
                let want = acc / n as f64;
                assert!(
                    (got - want).abs() < 2e-4 * want,
                    "{p:?} {sm:?} h={h}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn scores_behave() {
        let p = PUBLISHED;
        assert_eq!(p.p_alive(&s(0.0, 0.0, 30.0)), 1.0);
        // Recent buyers are more likely alive than lapsed ones with the same count.
        assert!(p.p_alive(&s(3.0, 35.0, 38.0)) > p.p_alive(&s(3.0, 5.0, 38.0)));
        let c = s(2.0, 20.0, 38.0);
        let mut last_e = 0.0;
        let mut last_p = 0.0;
        for h in [0.5, 1.0, 5.0, 20.0, 52.0, 200.0, 1e4] {
            let e = p.expected_purchases(&c, h);
            let q = p.p_any_purchase(&c, h);
            assert!(e > last_e && q > last_p && q <= 1.0, "h={h}: e={e} q={q}");
            assert!(q <= p.p_alive(&c));
            last_e = e;
            last_p = q;
        }
        assert_eq!(p.expected_purchases(&c, 0.0), 0.0);
        // P(any) cannot exceed the expected count (Markov's inequality).
        assert!(p.p_any_purchase(&c, 10.0) <= p.expected_purchases(&c, 10.0));
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.7,
            b: 2.5,
        };
        let data = testdata::simulate_bgnbd(&truth, 20_000, 11);
        let fit = BgNbd::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.report.converged && !fit.report.penalised);
        let p = fit.params;
        for (name, got, want, tol) in [
            ("r", p.r, truth.r, 0.08),
            ("alpha", p.alpha, truth.alpha, 0.12),
            ("a", p.a, truth.a, 0.15),
            ("b", p.b, truth.b, 0.2),
        ] {
            assert!(
                (got / want - 1.0).abs() < tol,
                "{name}: {got} vs true {want}"
            );
        }
    }

    #[test]
    fn fit_is_identical_at_any_thread_count() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.7,
            b: 2.5,
        };
        let data = testdata::simulate_bgnbd(&truth, 9_000, 3);
        let fit_with = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| BgNbd::fit(&data, &FitOptions::default()).unwrap())
        };
        let (one, four) = (fit_with(1), fit_with(4));
        // Nor on the order customers come in.
        let mut reversed = data.clone();
        reversed.reverse();
        assert_eq!(BgNbd::fit(&reversed, &FitOptions::default()).unwrap(), one);
        assert_eq!(one.params.r.to_bits(), four.params.r.to_bits());
        assert_eq!(
            one.report.log_likelihood.to_bits(),
            four.report.log_likelihood.to_bits()
        );
        assert_eq!(one, four);
    }

    #[test]
    fn tiny_store_still_gets_finite_scores() {
        let truth = BgNbdParams {
            r: 0.5,
            alpha: 6.0,
            a: 0.7,
            b: 2.5,
        };
        let data = testdata::simulate_bgnbd(&truth, 100, 5);
        let fit = BgNbd::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.report.log_likelihood.is_finite());
        for c in &data {
            let e = fit.params.expected_purchases(c, 26.0);
            let q = fit.params.p_any_purchase(c, 26.0);
            assert!(
                e.is_finite() && e >= 0.0 && (0.0..=1.0).contains(&q),
                "{c:?}: {e} {q}"
            );
        }
        // A store where nobody came back has no maximum; the penalised fit still scores.
        let none: Vec<_> = (0..100)
            .map(|i| s(0.0, 0.0, 1.0 + i as f64 / 10.0))
            .collect();
        let fit = BgNbd::fit(&none, &FitOptions::default()).unwrap();
        assert!(fit.report.penalised, "{:?}", fit.report);
        let e = fit.params.expected_purchases(&none[0], 26.0);
        assert!(e.is_finite() && e >= 0.0);
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        assert!(matches!(
            BgNbd::fit(&[], &FitOptions::default()),
            Err(Error::NoCustomers { .. })
        ));
        let bad = [s(1.0, 2.0, 3.0), s(1.0, f64::NAN, 3.0)];
        assert!(matches!(
            BgNbd::fit(&bad, &FitOptions::default()),
            Err(Error::InvalidSummary {
                index: 1,
                field: "t_x",
                ..
            })
        ));
    }
}
