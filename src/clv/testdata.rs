//! Test inputs shared by the CLV model tests: the CDNOW 1/10 sample (shipped under
//! `tests/data/`, see its README there) and simulators that draw customers from known
//! parameters (with `crate::rng`, so every run is identical).

use super::bgnbd::BgNbdParams;
use super::pareto_nbd::ParetoNbdParams;
use super::summary::{CustomerSummary, Purchase};
use crate::rng::Rng;
use crate::time::{DAY, parse_yyyymmdd};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The crate's committed test fixtures (`tests/data/`).
fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Raw CDNOW sample rows as `(customer id, day number, dollar value)`.
fn cdnow_sample_rows() -> Vec<(String, i64, f64)> {
    let path = fixture_dir().join("CDNOW_sample.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the committed fixture {} ({e})", path.display()));
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let f: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                f.len(),
                5,
                "{}:{}: expected 5 columns",
                path.display(),
                i + 1
            );
            let day = parse_yyyymmdd(f[2])
                .unwrap_or_else(|| panic!("{}:{}: bad date {}", path.display(), i + 1, f[2]))
                / DAY;
            let value: f64 = f[4]
                .parse()
                .unwrap_or_else(|_| panic!("{}:{}: bad value {}", path.display(), i + 1, f[4]));
            (f[0].to_string(), day, value)
        })
        .collect()
}

/// CDNOW sample calibration summaries as in Fader, Hardie & Lee: weeks, calibration period
/// 1997-01-01..=1997-09-30, same-day purchases merged, T from first purchase to the end.
pub fn cdnow_sample_calibration() -> Vec<CustomerSummary> {
    let end_day = crate::time::days_from_civil(1997, 9, 30);
    let mut by_customer: BTreeMap<String, Vec<Purchase>> = BTreeMap::new();
    for (id, day, value) in cdnow_sample_rows() {
        let entry = by_customer.entry(id).or_default();
        if day <= end_day {
            entry.push(Purchase {
                time: day as f64 / 7.0,
                value,
            });
        }
    }
    by_customer
        .values()
        .filter(|p| !p.is_empty())
        .map(|p| {
            CustomerSummary::from_purchases(p, end_day as f64 / 7.0)
                .expect("calibration purchases are valid")
        })
        .collect()
}

/// Customers drawn from BG/NBD with ages spread uniformly over [20, 52].
pub fn simulate_bgnbd(p: &BgNbdParams, n: usize, seed: u64) -> Vec<CustomerSummary> {
    let mut rng = Rng::derived(seed, &[1]);
    (0..n)
        .map(|_| {
            let t = 20.0 + 32.0 * rng.uniform();
            let lambda = rng.gamma(p.r, 1.0 / p.alpha);
            let drop = rng.beta(p.a, p.b);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            loop {
                now += rng.exponential(lambda);
                if now > t {
                    break;
                }
                x += 1.0;
                t_x = now;
                if rng.bernoulli(drop) {
                    break;
                }
            }
            CustomerSummary {
                x,
                t_x,
                t,
                monetary: 0.0,
            }
        })
        .collect()
}

/// Customers drawn from Pareto/NBD with ages spread uniformly over [20, 52].
pub fn simulate_pareto_nbd(p: &ParetoNbdParams, n: usize, seed: u64) -> Vec<CustomerSummary> {
    let mut rng = Rng::derived(seed, &[2]);
    (0..n)
        .map(|_| {
            let t = 20.0 + 32.0 * rng.uniform();
            let lambda = rng.gamma(p.r, 1.0 / p.alpha);
            let mu = rng.gamma(p.s, 1.0 / p.beta);
            let end = rng.exponential(mu).min(t);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            loop {
                now += rng.exponential(lambda);
                if now > end {
                    break;
                }
                x += 1.0;
                t_x = now;
            }
            CustomerSummary {
                x,
                t_x,
                t,
                monetary: 0.0,
            }
        })
        .collect()
}

/// Repeat buyers (1 + Poisson(2) repeats) whose spend per transaction is
/// Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer.
pub fn simulate_gamma_gamma(
    p: f64,
    q: f64,
    gamma: f64,
    n: usize,
    seed: u64,
) -> Vec<CustomerSummary> {
    let mut rng = Rng::derived(seed, &[3]);
    (0..n)
        .map(|_| {
            let nu = rng.gamma(q, 1.0 / gamma);
            let x = 1 + rng.poisson(2.0);
            let total: f64 = (0..x).map(|_| rng.gamma(p, 1.0 / nu)).sum();
            let x = x as f64;
            CustomerSummary {
                x,
                t_x: x,
                t: 2.0 * x,
                monetary: total / x,
            }
        })
        .collect()
}
