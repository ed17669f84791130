//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the form of Fader & Hardie's
//! "A note on deriving the Pareto/NBD model and related expressions" (2005).
//!
//! While active a customer buys at Poisson rate `lambda ~ Gamma(r, alpha)`; the lifetime
//! is exponential with rate `mu ~ Gamma(s, beta)`. The likelihood of `(x, t_x, T)` is
//! `G(r+x) alpha^r beta^s / G(r) * [ (alpha+T)^-(r+x) (beta+T)^-s + s I ]` with
//! `I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau` (death at tau).

use super::mle::{self, FitOptions, FitReport};
use super::special::{hyp2f1, ln_gamma, log_add_exp, log_sub_exp};
use super::{CustomerSummary, Error, PurchaseModel};
use serde::{Deserialize, Serialize};

/// Pareto/NBD model: entry point for fitting.
pub struct ParetoNbd;

/// Fitted Pareto/NBD population parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdParams {
    /// Shape of the purchase-rate gamma distribution.
    pub r: f64,
    /// Rate of the purchase-rate gamma distribution (per the summaries' time unit).
    pub alpha: f64,
    /// Shape of the dropout-rate gamma distribution.
    pub s: f64,
    /// Rate of the dropout-rate gamma distribution.
    pub beta: f64,
}

/// A Pareto/NBD fit: parameters plus how the fit went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdFit {
    /// Maximum-likelihood (or penalised) parameters.
    pub params: ParetoNbdParams,
    /// Convergence, penalty and log-likelihood of the fit.
    pub report: FitReport,
}

/// Repeat counts up to this size get `ln G(r+x)` from a per-evaluation table.
const TABLE_MAX_X: usize = 10_000;

impl ParetoNbd {
    /// Fits Pareto/NBD by maximum likelihood on the customers' summaries.
    pub fn fit(summaries: &[CustomerSummary], opts: &FitOptions) -> Result<ParetoNbdFit, Error> {
        let max_x = summaries.iter().map(|s| s.x as usize).max().unwrap_or(0);
        let params = |[r, alpha, s, beta]: [f64; 4]| ParetoNbdParams { r, alpha, s, beta };
        let log_lik = |&th: &[f64; 4], unique: &[(CustomerSummary, f64)], n: usize| {
            let p = params(th);
            let shared = p.r * p.alpha.ln() + p.s * p.beta.ln() - ln_gamma(p.r);
            // ln G(r+x) for the small integer counts most customers have, once per evaluation.
            let table: Vec<f64> = (0..=max_x.min(TABLE_MAX_X))
                .map(|x| ln_gamma(p.r + x as f64))
                .collect();
            let ln_gamma_rx = |x: f64| {
                table
                    .get(x as usize)
                    .copied()
                    .unwrap_or_else(|| ln_gamma(p.r + x))
            };
            shared * n as f64
                + mle::ordered_sum(unique, |(c, w)| w * (ln_gamma_rx(c.x) + p.log_bracket(c)))
        };
        let (theta, report) =
            mle::fit_purchase_model("Pareto/NBD", summaries, opts, prior(summaries), log_lik)?;
        Ok(ParetoNbdFit {
            params: params(theta),
            report,
        })
    }
}

/// Weak prior and start in log space: r = 1 and alpha matching the population's repeat
/// rate; s = 1 and beta = mean age (a mean lifetime of the order of the observed ages).
fn prior(summaries: &[CustomerSummary]) -> Vec<f64> {
    let repeats: f64 = summaries.iter().map(|s| s.x).sum();
    let age: f64 = summaries.iter().map(|s| s.t).sum();
    let scale = if age > 0.0 {
        age / repeats.max(1.0)
    } else {
        1.0
    };
    let mean_age = age / summaries.len() as f64;
    let beta = if mean_age > 0.0 { mean_age } else { 1.0 };
    vec![0.0, scale.ln(), 0.0, beta.ln()]
}

impl ParetoNbdParams {
    /// Log-likelihood of one customer's summary under these parameters.
    pub fn log_likelihood(&self, c: &CustomerSummary) -> f64 {
        ln_gamma(self.r + c.x) - ln_gamma(self.r)
            + self.r * self.alpha.ln()
            + self.s * self.beta.ln()
            + self.log_bracket(c)
    }

    /// `ln[(alpha+T)^-(r+x) (beta+T)^-s + s I]`: alive-at-T term plus died-in-(t_x, T].
    fn log_bracket(&self, c: &CustomerSummary) -> f64 {
        log_add_exp(
            self.log_alive_term(c),
            self.s.ln() + self.log_death_integral(c),
        )
    }

    fn log_alive_term(&self, c: &CustomerSummary) -> f64 {
        -(self.r + c.x) * (self.alpha + c.t).ln() - self.s * (self.beta + c.t).ln()
    }

    /// `ln I`, with `I = (F(t_x) - F(T)) / (r+s+x)` and `F` the antiderivative built from
    /// the binomial expansion of the factor with the smaller rate. Euler's transformation
    /// turns Fader & Hardie's `2F1(r+s+x, ·; r+s+x+1; z)` into `2F1(1, ·; r+s+x+1; z)`,
    /// which stays bounded as `z -> 1` (when one rate is far smaller than the other).
    fn log_death_integral(&self, c: &CustomerSummary) -> f64 {
        if c.t_x >= c.t {
            return f64::NEG_INFINITY;
        }
        let rx = self.r + c.x;
        let big_a = rx + self.s;
        let ln_f = |t: f64| -> f64 {
            let (la, lb) = ((self.alpha + t).ln(), (self.beta + t).ln());
            if self.alpha >= self.beta {
                let z = (self.alpha - self.beta) / (self.alpha + t);
                -self.s * lb - rx * la + ln_hyp(1.0, rx, big_a + 1.0, z)
            } else {
                let z = (self.beta - self.alpha) / (self.beta + t);
                -(self.s + 1.0) * lb + (1.0 - rx) * la + ln_hyp(1.0, self.s + 1.0, big_a + 1.0, z)
            }
        };
        log_sub_exp(ln_f(c.t_x), ln_f(c.t)) - big_a.ln()
    }
}

/// `ln 2F1`, NaN when it cannot be evaluated (the optimiser treats NaN as infeasible).
fn ln_hyp(a: f64, b: f64, c: f64, z: f64) -> f64 {
    hyp2f1(a, b, c, z).map_or(f64::NAN, f64::ln)
}

/// `E[lambda / (lambda + mu)]` for independent `lambda ~ Gamma(r, alpha)` and
/// `mu ~ Gamma(s, beta)` (shape, rate).
///
/// With `B = G1/(G1+G2) ~ Beta(r, s)` and `rho = alpha/beta`,
/// `lambda/(lambda+mu) = B / (rho (1 - (1 - 1/rho) B))`, and `E[B/(1 - zB)] =
/// r/(r+s) 2F1(1, r+1; r+s+1; z)`. The argument is kept in [0, 1) by expanding around
/// whichever rate is larger (using `mu/(lambda+mu)` when `beta > alpha`).
fn share_of_purchase(r: f64, alpha: f64, s: f64, beta: f64) -> Option<f64> {
    if alpha >= beta {
        let z = (alpha - beta) / alpha;
        Some(beta / alpha * r / (r + s) * hyp2f1(1.0, r + 1.0, r + s + 1.0, z)?)
    } else {
        let z = (beta - alpha) / beta;
        Some(1.0 - alpha / beta * s / (r + s) * hyp2f1(1.0, s + 1.0, r + s + 1.0, z)?)
    }
}

impl PurchaseModel for ParetoNbdParams {
    /// `1 / (1 + s I (alpha+T)^(r+x) (beta+T)^s)`.
    fn p_alive(&self, c: &CustomerSummary) -> f64 {
        let log_odds_dead = self.s.ln() + self.log_death_integral(c) - self.log_alive_term(c);
        if log_odds_dead.is_nan() {
            // Only for degenerate parameters; an uninformative answer beats a NaN score.
            return 0.5;
        }
        1.0 / (1.0 + log_odds_dead.exp())
    }

    /// `P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]`,
    /// evaluated with `expm1`/`ln_1p` so `s -> 1` (where it tends to a logarithm) is smooth.
    fn expected_purchases(&self, c: &CustomerSummary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let rate = (self.r + c.x) / (self.alpha + c.t);
        let log_growth = (horizon / (self.beta + c.t)).ln_1p();
        let k = self.s - 1.0;
        let factor = if k == 0.0 {
            log_growth
        } else {
            -(-k * log_growth).exp_m1() / k
        };
        self.p_alive(c) * rate * (self.beta + c.t) * factor
    }

    /// Alive at T with rates `(lambda, mu)`, a purchase comes before death and before
    /// `T + t` with probability `lambda/(lambda+mu) (1 - exp(-(lambda+mu) t))`. Averaging
    /// over the posterior gammas, the exponential factor just shifts both rates by `t`.
    fn p_any_purchase(&self, c: &CustomerSummary, horizon: f64) -> f64 {
        if horizon <= 0.0 {
            return 0.0;
        }
        let (rx, a_t, b_t) = (self.r + c.x, self.alpha + c.t, self.beta + c.t);
        let now = share_of_purchase(rx, a_t, self.s, b_t);
        let later = share_of_purchase(rx, a_t + horizon, self.s, b_t + horizon);
        let discount = (-rx * (horizon / a_t).ln_1p() - self.s * (horizon / b_t).ln_1p()).exp();
        match now.zip(later) {
            Some((now, later)) => (self.p_alive(c) * (now - discount * later)).clamp(0.0, 1.0),
            // Degenerate parameters only: bound by the expected count.
            None => self.expected_purchases(c, horizon).min(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::testdata;

    fn s(x: f64, t_x: f64, t: f64) -> CustomerSummary {
        CustomerSummary {
            x,
            t_x,
            t,
            monetary: 0.0,
        }
    }

    /// Reference for the likelihood integral: midpoint rule in `u = ln(min(alpha, beta) + tau)`,
    /// which smooths the near-singular factor when one rate is tiny.
    fn integral_reference(p: &ParetoNbdParams, c: &CustomerSummary) -> f64 {
        let n = 400_000;
        let shift = p.alpha.min(p.beta);
        let (lo, hi) = ((shift + c.t_x).ln(), (shift + c.t).ln());
        let h = (hi - lo) / n as f64;
        (0..n)
            .map(|i| {
                let tau = (lo + (i as f64 + 0.5) * h).exp() - shift;
                let dtau = (tau + shift) * h;
                (p.alpha + tau).powf(-(p.r + c.x)) * (p.beta + tau).powf(-(p.s + 1.0)) * dtau
            })
            .sum()
    }

    #[test]
    fn death_integral_matches_quadrature_on_both_branches_and_near_z_one() {
        for p in [
            ParetoNbdParams {
                r: 0.55,
                alpha: 10.58,
                s: 0.61,
                beta: 11.67,
            },
            ParetoNbdParams {
                r: 0.55,
                alpha: 11.67,
                s: 0.61,
                beta: 10.58,
            },
            ParetoNbdParams {
                r: 2.0,
                alpha: 50.0,
                s: 0.3,
                beta: 0.02,
            },
            ParetoNbdParams {
                r: 0.3,
                alpha: 0.01,
                s: 1.7,
                beta: 40.0,
            },
        ] {
            for c in [s(0.0, 0.0, 39.0), s(4.0, 12.0, 30.0), s(20.0, 1.0, 2.0)] {
                let got = p.log_death_integral(&c).exp();
                let want = integral_reference(&p, &c);
                assert!(
                    (got - want).abs() < 1e-7 * want,
                    "{p:?} {c:?}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn p_any_purchase_matches_simulation_of_the_posterior() {
        // Monte Carlo over the posterior (alive at T): lambda ~ Gamma(r+x, alpha+T),
        // mu ~ Gamma(s, beta+T); purchase iff Exp(lambda) < min(Exp(mu), t).
        let p = ParetoNbdParams {
            r: 0.55,
            alpha: 10.58,
            s: 0.61,
            beta: 11.67,
        };
        let c = s(3.0, 20.0, 35.0);
        let h = 30.0;
        let mut rng = crate::rng::Rng::new(9);
        let n = 400_000;
        let mut hits = 0;
        let mut purchases = 0u64;
        for _ in 0..n {
            let lambda = rng.gamma(p.r + c.x, 1.0 / (p.alpha + c.t));
            let mu = rng.gamma(p.s, 1.0 / (p.beta + c.t));
            let active = rng.exponential(mu).min(h);
            if rng.exponential(lambda) < active {
                hits += 1;
            }
            purchases += rng.poisson(lambda * active);
        }
        let mc = hits as f64 / n as f64;
        let got = p.p_any_purchase(&c, h) / p.p_alive(&c);
        let mc_mean = purchases as f64 / n as f64;
        let mean = p.expected_purchases(&c, h) / p.p_alive(&c);
        assert!(
            (mean - mc_mean).abs() < 0.01 * mean,
            "{mean} vs simulated {mc_mean}"
        );
        assert!((got - mc).abs() < 0.003, "{got} vs simulated {mc}");
    }

    #[test]
    fn scores_behave() {
        let p = ParetoNbdParams {
            r: 0.55,
            alpha: 10.58,
            s: 0.61,
            beta: 11.67,
        };
        let c = s(2.0, 20.0, 38.0);
        assert!(p.p_alive(&s(3.0, 37.0, 38.0)) > p.p_alive(&s(3.0, 5.0, 38.0)));
        // Unlike BG/NBD, a customer with no repeat purchase is not certainly alive.
        assert!(p.p_alive(&s(0.0, 0.0, 38.0)) < 0.9);
        assert_eq!(p.p_alive(&s(2.0, 38.0, 38.0)), 1.0);
        let (mut last_e, mut last_q) = (0.0, 0.0);
        for h in [0.5, 1.0, 5.0, 20.0, 52.0, 200.0, 1e4] {
            let e = p.expected_purchases(&c, h);
            let q = p.p_any_purchase(&c, h);
            assert!(
                e > last_e && q > last_q && q <= p.p_alive(&c),
                "h={h}: e={e} q={q}"
            );
            (last_e, last_q) = (e, q);
        }
        // s = 1 is the logarithmic limit; the expectation is continuous through it.
        let near = |s_: f64| ParetoNbdParams { s: s_, ..p }.expected_purchases(&c, 39.0);
        assert!((near(1.0) - near(1.0 + 1e-9)).abs() < 1e-7);
        assert!((near(1.0) - near(1.0 - 1e-9)).abs() < 1e-7);
    }

    #[test]
    fn cdnow_sample_matches_published_estimates() {
        let data = testdata::cdnow_sample_calibration();
        let fit = ParetoNbd::fit(&data, &FitOptions::default()).unwrap();
        let p = fit.params;
        assert!(
            fit.report.converged && !fit.report.penalised,
            "{:?}",
            fit.report
        );
        // Fader & Hardie (2005 note): r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67,
        // LL = -9595.0 on this sample.
        for (name, got, want) in [
            ("r", p.r, 0.55),
            ("alpha", p.alpha, 10.58),
            ("s", p.s, 0.61),
            ("beta", p.beta, 11.67),
        ] {
            assert!(
                (got - want).abs() < 0.005 + 1e-9,
                "{name}: {got} vs published {want}"
            );
        }
        assert!(
            (fit.report.log_likelihood + 9595.0).abs() < 0.05,
            "{:?}",
            fit.report
        );
    }

    #[test]
    fn recovers_simulated_parameters() {
        let truth = ParetoNbdParams {
            r: 0.8,
            alpha: 8.0,
            s: 0.6,
            beta: 12.0,
        };
        let data = testdata::simulate_pareto_nbd(&truth, 20_000, 21);
        let fit = ParetoNbd::fit(&data, &FitOptions::default()).unwrap();
        assert!(
            fit.report.converged && !fit.report.penalised,
            "{:?}",
            fit.report
        );
        let p = fit.params;
        for (name, got, want, tol) in [
            ("r", p.r, truth.r, 0.08),
            ("alpha", p.alpha, truth.alpha, 0.12),
            ("s", p.s, truth.s, 0.2),
            ("beta", p.beta, truth.beta, 0.35),
        ] {
            assert!(
                (got / want - 1.0).abs() < tol,
                "{name}: {got} vs true {want}"
            );
        }
    }

    #[test]
    fn tiny_store_still_gets_finite_scores() {
        let truth = ParetoNbdParams {
            r: 0.8,
            alpha: 8.0,
            s: 0.6,
            beta: 12.0,
        };
        let data = testdata::simulate_pareto_nbd(&truth, 100, 4);
        let fit = ParetoNbd::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.report.log_likelihood.is_finite());
        for c in &data {
            let e = fit.params.expected_purchases(c, 26.0);
            let q = fit.params.p_any_purchase(c, 26.0);
            let a = fit.params.p_alive(c);
            assert!(e.is_finite() && e >= 0.0, "{c:?}: {e}");
            assert!(
                (0.0..=1.0).contains(&q) && (0.0..=1.0).contains(&a),
                "{c:?}: {q} {a}"
            );
        }
    }
}
