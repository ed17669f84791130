//! RFM scores of a recomputed customer against the bundle's population at its cutoff.
//!
//! Training scores every customer by quintile within the population (`clv::rfm`); a
//! customer recomputed online is placed in the same population's distribution, so a
//! score moves when the customer does, never because other customers were re-ranked.

use crate::clv::rfm::{RfmScore, Segment};
use crate::models::CustomerBase;
use crate::time::DAY;

/// The population's recency (negated, so higher is better), frequency and monetary
/// values at the cutoff, each sorted.
#[derive(Debug, Clone, Default)]
pub struct Population {
    neg_recency: Vec<f64>,
    frequency: Vec<f64>,
    monetary: Vec<f64>,
}

impl Population {
    /// The modelled customers of `base`, as `clv::rfm` saw them at the cutoff.
    pub fn of(base: &CustomerBase) -> Population {
        let sorted = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v
        };
        Population {
            neg_recency: sorted(
                base.first_last
                    .iter()
                    .map(|&(_, last)| -((base.cutoff - last) as f64 / DAY as f64))
                    .collect(),
            ),
            frequency: sorted(base.orders.iter().map(|&o| o as f64).collect()),
            monetary: sorted(
                base.spend
                    .iter()
                    .map(|&s| if s.is_finite() { s } else { 0.0 })
                    .collect(),
            ),
        }
    }

    /// Scores one customer: `1 + floor(5 × share of the population strictly below)`, the
    /// rule `clv::rfm` applies within the population; 1 everywhere for an empty population.
    pub fn score(&self, recency_days: f64, orders: f64, spend: f64) -> RfmScore {
        fn quintile(sorted: &[f64], v: f64) -> u8 {
            if sorted.is_empty() || !v.is_finite() {
                return 1;
            }
            let below = sorted.partition_point(|&x| x < v);
            (1 + 5 * below / sorted.len()).min(5) as u8
        }
        let r = quintile(&self.neg_recency, -recency_days);
        let f = quintile(&self.frequency, orders);
        let m = quintile(&self.monetary, if spend.is_finite() { spend } else { 0.0 });
        RfmScore {
            recency: r,
            frequency: f,
            monetary: m,
            segment: Segment::from_scores(r, (f + m).div_ceil(2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_above_everyone_scores_five_and_below_everyone_one() {
        let p = Population {
            neg_recency: vec![-30.0, -20.0, -10.0, -5.0, -1.0],
            frequency: vec![1.0, 1.0, 2.0, 3.0, 8.0],
            monetary: vec![5.0, 10.0, 20.0, 40.0, 80.0],
        };
        let top = p.score(0.5, 9.0, 100.0);
        assert_eq!((top.recency, top.frequency, top.monetary), (5, 5, 5));
        let low = p.score(100.0, 1.0, 1.0);
        assert_eq!((low.recency, low.frequency, low.monetary), (1, 1, 1));
        // Ties share the score of the first equal value, as in clv::rfm.
        assert_eq!(p.score(10.0, 2.0, 20.0).frequency, 3);
        assert_eq!(Population::default().score(1.0, 1.0, 1.0).recency, 1);
    }
}
