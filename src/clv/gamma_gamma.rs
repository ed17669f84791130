//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013,
//! "The Gamma-Gamma model of monetary value") and customer value over a horizon.
//!
//! Each transaction's value is `Gamma(p, nu)` (shape, rate) around a customer-specific
//! `nu ~ Gamma(q, gamma)`. For a customer with `x` repeat transactions of mean `m_x`:
//! `f(m_x) = G(px+q) / (G(px) G(q)) * gamma^q m_x^(px-1) x^(px) / (gamma + x m_x)^(px+q)`
//! and `E[M | m_x, x] = p (gamma + x m_x) / (px + q - 1)`, a weighted average of the
//! population mean `p gamma / (q-1)` and the customer's own mean.

use super::mle::{self, FitOptions, FitReport};
use super::special::ln_gamma;
use super::summary::validate_all;
use super::{CustomerSummary, Error, PurchaseModel};
use serde::{Deserialize, Serialize};

/// Gamma-Gamma model: entry point for fitting.
pub struct GammaGamma;

/// Fitted Gamma-Gamma population parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of the per-transaction spend distribution.
    pub p: f64,
    /// Shape of the gamma prior on each customer's spend rate.
    pub q: f64,
    /// Rate of the gamma prior on each customer's spend rate.
    pub gamma: f64,
    /// Plain mean of the fitted customers' mean spend, used as the population mean when
    /// `q <= 1` (where the model's own mean is infinite).
    pub observed_mean: f64,
}

/// A Gamma-Gamma fit: parameters plus how the fit went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    /// Maximum-likelihood (or penalised) parameters.
    pub params: GammaGammaParams,
    /// Convergence, penalty and log-likelihood (over repeat buyers with positive spend).
    pub report: FitReport,
}

/// How to add up value over a horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClvOptions {
    horizon: f64,
    period: f64,
    discount_rate: f64,
}

/// Most discounting periods a horizon may be split into.
const MAX_PERIODS: f64 = 100_000.0;

impl ClvOptions {
    /// Value over `horizon`, discounted at `discount_rate` per `period` (all in the
    /// summaries' time unit; a rate of 0 means no discounting).
    pub fn new(horizon: f64, period: f64, discount_rate: f64) -> Result<Self, Error> {
        let bad = |name, value, reason| {
            Err(Error::InvalidOption {
                name,
                value,
                reason,
            })
        };
        if !horizon.is_finite() || horizon < 0.0 {
            return bad("horizon", horizon, "must be finite and >= 0");
        }
        if !period.is_finite() || period <= 0.0 || horizon / period > MAX_PERIODS {
            return bad(
                "period",
                period,
                "must be > 0 and split the horizon into at most 100000 periods",
            );
        }
        if !discount_rate.is_finite() || discount_rate <= -1.0 {
            return bad("discount_rate", discount_rate, "must be finite and > -1");
        }
        Ok(ClvOptions {
            horizon,
            period,
            discount_rate,
        })
    }
}

impl GammaGamma {
    /// Fits Gamma-Gamma on the customers with at least one repeat purchase and positive
    /// mean spend (the others carry no information about spend per transaction).
    pub fn fit(summaries: &[CustomerSummary], opts: &FitOptions) -> Result<GammaGammaFit, Error> {
        validate_all(summaries)?;
        let buyers: Vec<CustomerSummary> = summaries
            .iter()
            .filter(|s| s.x > 0.0 && s.monetary > 0.0)
            .copied()
            .collect();
        if buyers.is_empty() {
            return Err(Error::NoCustomers {
                model: "Gamma-Gamma",
                detail: " with a repeat purchase and positive spend",
            });
        }
        let observed_mean = buyers.iter().map(|s| s.monetary).sum::<f64>() / buyers.len() as f64;
        // Prior p = 1, q = 2, gamma so the model mean p gamma / (q-1) is the observed mean.
        let prior = vec![0.0, 2f64.ln(), observed_mean.ln()];
        let unique = mle::collapse(&buyers, |s| [s.x.to_bits(), s.monetary.to_bits()]);
        let log_lik = |th: &[f64]| {
            let params = GammaGammaParams {
                p: th[0].exp(),
                q: th[1].exp(),
                gamma: th[2].exp(),
                observed_mean,
            };
            let shared = params.q * params.gamma.ln() - ln_gamma(params.q);
            shared * buyers.len() as f64
                + mle::ordered_sum(&unique, |(s, w)| {
                    w * params.log_likelihood_without_shared(s)
                })
        };
        let (theta, report) = mle::maximise(log_lik, &prior, &prior, buyers.len(), opts);
        let params = GammaGammaParams {
            p: theta[0].exp(),
            q: theta[1].exp(),
            gamma: theta[2].exp(),
            observed_mean,
        };
        Ok(GammaGammaFit { params, report })
    }
}

impl GammaGammaParams {
    /// Log-density of a repeat buyer's mean spend (`x >= 1`, `monetary > 0`).
    pub fn log_likelihood(&self, s: &CustomerSummary) -> f64 {
        self.q * self.gamma.ln() - ln_gamma(self.q) + self.log_likelihood_without_shared(s)
    }

    fn log_likelihood_without_shared(&self, s: &CustomerSummary) -> f64 {
        let px = self.p * s.x;
        ln_gamma(px + self.q) - ln_gamma(px) + (px - 1.0) * s.monetary.ln() + px * s.x.ln()
            - (px + self.q) * (self.gamma + s.x * s.monetary).ln()
    }

    /// Population mean spend per transaction, `p gamma / (q-1)`, or the observed mean
    /// when `q <= 1`.
    pub fn population_spend(&self) -> f64 {
        if self.q > 1.0 {
            self.p * self.gamma / (self.q - 1.0)
        } else {
            self.observed_mean
        }
    }

    /// Expected spend per future transaction given the customer's repeat purchases;
    /// the population mean for customers without any.
    pub fn expected_spend(&self, s: &CustomerSummary) -> f64 {
        if s.x <= 0.0 {
            return self.population_spend();
        }
        let denom = self.p * s.x + self.q - 1.0;
        if denom <= 0.0 {
            // Posterior mean undefined (tiny p and q < 1): fall back to the customer's own.
            return s.monetary;
        }
        self.p * (self.gamma + s.x * s.monetary) / denom
    }

    /// Customer value over the horizon: expected spend times the expected purchases in each
    /// period, each period discounted by `(1 + rate)^k`.
    pub fn clv(&self, model: &dyn PurchaseModel, s: &CustomerSummary, opts: &ClvOptions) -> f64 {
        let spend = self.expected_spend(s);
        let periods = (opts.horizon / opts.period).ceil() as usize;
        let mut value = 0.0;
        let mut before = 0.0;
        for k in 1..=periods {
            let end = (k as f64 * opts.period).min(opts.horizon);
            let upto = model.expected_purchases(s, end);
            value += (upto - before) / (1.0 + opts.discount_rate).powi(k as i32);
            before = upto;
        }
        spend * value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::{BgNbdParams, testdata};

    fn buyer(x: f64, monetary: f64) -> CustomerSummary {
        CustomerSummary {
            x,
            t_x: 1.0,
            t: 2.0,
            monetary,
        }
    }

    #[test]
    fn cdnow_sample_matches_published_estimates() {
        let data = testdata::cdnow_sample_calibration();
        let fit = GammaGamma::fit(&data, &FitOptions::default()).unwrap();
        assert_eq!(fit.report.n_customers, 946);
        assert!(
            fit.report.converged && !fit.report.penalised,
            "{:?}",
            fit.report
        );
        let p = fit.params;
        // Fader & Hardie (2013): p = 6.25, q = 3.74, gamma = 15.44.
        for (name, got, want) in [
            ("p", p.p, 6.25),
            ("q", p.q, 3.74),
            ("gamma", p.gamma, 15.44),
        ] {
            assert!(
                (got - want).abs() < 0.005 + 1e-9,
                "{name}: {got} vs published {want}"
            );
        }
    }

    #[test]
    fn recovers_simulated_parameters() {
        let data = testdata::simulate_gamma_gamma(4.0, 3.0, 20.0, 20_000, 31);
        let fit = GammaGamma::fit(&data, &FitOptions::default()).unwrap();
        assert!(fit.report.converged && !fit.report.penalised);
        let p = fit.params;
        // p is weakly identified from mean spends alone: over seeds 0..6 its estimate
        // spreads by about 5 %, so the bounds are about 2.5 standard deviations.
        for (name, got, want, tol) in [
            ("p", p.p, 4.0, 0.12),
            ("q", p.q, 3.0, 0.06),
            ("gamma", p.gamma, 20.0, 0.15),
        ] {
            assert!(
                (got / want - 1.0).abs() < tol,
                "{name}: {got} vs true {want}"
            );
        }
        // The population mean spend p gamma / (q-1) = 40 is pinned much more tightly.
        assert!(
            (p.population_spend() / 40.0 - 1.0).abs() < 0.02,
            "{}",
            p.population_spend()
        );
    }

    #[test]
    fn expected_spend_shrinks_toward_the_population() {
        let p = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
            observed_mean: 0.0,
        };
        let pop = p.population_spend();
        assert!((pop - 6.25 * 15.44 / 2.74).abs() < 1e-12);
        assert_eq!(p.expected_spend(&buyer(0.0, 0.0)), pop);
        // A big spender's estimate lies between the population and their own mean, and
        // moves toward their own mean as evidence accumulates.
        let one = p.expected_spend(&buyer(1.0, 200.0));
        let ten = p.expected_spend(&buyer(10.0, 200.0));
        assert!(pop < one && one < ten && ten < 200.0, "{pop} {one} {ten}");
        // Weighted-average form of the same formula.
        let (x, m) = (3.0, 50.0);
        let w = (p.q - 1.0) / (p.p * x + p.q - 1.0);
        let want = w * pop + (1.0 - w) * m;
        assert!((p.expected_spend(&buyer(x, m)) - want).abs() < 1e-9);
    }

    #[test]
    fn clv_sums_discounted_periods() {
        let gg = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
            observed_mean: 0.0,
        };
        let bg = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let s = CustomerSummary {
            x: 2.0,
            t_x: 30.43,
            t: 38.86,
            monetary: 40.0,
        };
        let flat = gg.clv(&bg, &s, &ClvOptions::new(52.0, 4.0, 0.0).unwrap());
        let want = gg.expected_spend(&s) * bg.expected_purchases(&s, 52.0);
        assert!((flat - want).abs() < 1e-9 * want);
        // Discounting lowers the value, period by period.
        let disc = gg.clv(&bg, &s, &ClvOptions::new(52.0, 4.0, 0.01).unwrap());
        let mut manual = 0.0;
        for k in 1..=13 {
            let inc = bg.expected_purchases(&s, 4.0 * k as f64)
                - bg.expected_purchases(&s, 4.0 * (k - 1) as f64);
            manual += inc / 1.01f64.powi(k);
        }
        assert!(disc < flat);
        assert!((disc - manual * gg.expected_spend(&s)).abs() < 1e-9 * disc);
        assert!(ClvOptions::new(52.0, 0.0, 0.0).is_err());
        assert!(ClvOptions::new(52.0, 1.0, -1.0).is_err());
    }

    #[test]
    fn no_repeat_buyers_is_an_error() {
        let none = [CustomerSummary {
            x: 0.0,
            t_x: 0.0,
            t: 3.0,
            monetary: 0.0,
        }];
        assert!(matches!(
            GammaGamma::fit(&none, &FitOptions::default()),
            Err(Error::NoCustomers { .. })
        ));
    }

    #[test]
    fn tiny_store_gets_finite_spend() {
        let data = testdata::simulate_gamma_gamma(4.0, 3.0, 20.0, 30, 2);
        let fit = GammaGamma::fit(&data, &FitOptions::default()).unwrap();
        for s in &data {
            let e = fit.params.expected_spend(s);
            assert!(e.is_finite() && e > 0.0);
        }
    }
}
