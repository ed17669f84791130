//! Per-customer purchase summaries, the only input the CLV models read.

use super::Error;
use serde::{Deserialize, Serialize};

/// One customer's history in the `(x, t_x, T)` form of Fader, Hardie and Lee.
///
/// Times share one unit (days, weeks…) and are measured from the first purchase, which is
/// not counted in `x`. Fields are public so callers can build summaries from their own
/// tables; the fits validate them ([`CustomerSummary::validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// Number of repeat purchases (purchases after the first), a whole number.
    pub x: f64,
    /// Time of the last purchase since the first (0 when `x == 0`).
    pub t_x: f64,
    /// Age: time from the first purchase to the end of the observation window.
    pub t: f64,
    /// Mean value of the repeat purchases (0 when `x == 0`).
    pub monetary: f64,
}

/// One purchase (transaction) of a customer: its time and value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Purchase {
    /// Time in the caller's unit (e.g. days since an epoch).
    pub time: f64,
    /// Transaction value (spend).
    pub value: f64,
}

impl CustomerSummary {
    /// Summarises one customer's purchases up to `end` (inclusive).
    ///
    /// Purchases at exactly the same time are one transaction with their values summed, so
    /// callers that want day-level transactions (as in the BG/NBD literature) pass times
    /// rounded to days. Every purchase must be finite, no later than `end`, with a
    /// non-negative value.
    pub fn from_purchases(purchases: &[Purchase], end: f64) -> Result<Self, Error> {
        if purchases.is_empty() {
            return Err(Error::NoPurchases);
        }
        for (index, p) in purchases.iter().enumerate() {
            if !p.time.is_finite() || p.time > end {
                return Err(Error::InvalidPurchase {
                    index,
                    field: "time",
                    value: p.time,
                    reason: "must be finite and no later than the end of the window",
                });
            }
            if !p.value.is_finite() || p.value < 0.0 {
                return Err(Error::InvalidPurchase {
                    index,
                    field: "value",
                    value: p.value,
                    reason: "must be finite and non-negative",
                });
            }
        }
        let mut sorted = purchases.to_vec();
        sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
        // Merge equal times into transactions: (time, summed value).
        let mut transactions: Vec<(f64, f64)> = Vec::with_capacity(sorted.len());
        for p in sorted {
            match transactions.last_mut() {
                Some(last) if last.0 == p.time => last.1 += p.value,
                _ => transactions.push((p.time, p.value)),
            }
        }
        let first = transactions[0].0;
        let last = transactions[transactions.len() - 1].0;
        let repeats = &transactions[1..];
        let monetary = if repeats.is_empty() {
            0.0
        } else {
            repeats.iter().map(|t| t.1).sum::<f64>() / repeats.len() as f64
        };
        Ok(CustomerSummary {
            x: repeats.len() as f64,
            t_x: last - first,
            t: end - first,
            monetary,
        })
    }

    /// Checks the summary is usable; `index` names it in the error.
    pub fn validate(&self, index: usize) -> Result<(), Error> {
        let bad = |field, value, reason| Error::InvalidSummary {
            index,
            field,
            value,
            reason,
        };
        if !self.x.is_finite() || self.x < 0.0 || self.x.fract() != 0.0 {
            return Err(bad("x", self.x, "must be a whole number >= 0"));
        }
        if !self.t.is_finite() || self.t < 0.0 {
            return Err(bad("t", self.t, "must be finite and >= 0"));
        }
        if !self.t_x.is_finite() || self.t_x < 0.0 || self.t_x > self.t {
            return Err(bad("t_x", self.t_x, "must lie in [0, t]"));
        }
        if self.x == 0.0 && self.t_x != 0.0 {
            return Err(bad("t_x", self.t_x, "must be 0 when x is 0"));
        }
        if !self.monetary.is_finite() || self.monetary < 0.0 {
            return Err(bad("monetary", self.monetary, "must be finite and >= 0"));
        }
        Ok(())
    }
}

/// Validates every summary, naming the first bad one.
pub(crate) fn validate_all(summaries: &[CustomerSummary]) -> Result<(), Error> {
    summaries
        .iter()
        .enumerate()
        .try_for_each(|(i, s)| s.validate(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(time: f64, value: f64) -> Purchase {
        Purchase { time, value }
    }

    #[test]
    fn summary_counts_repeat_transactions_and_merges_equal_times() {
        let s = CustomerSummary::from_purchases(
            &[p(10.0, 5.0), p(3.0, 1.0), p(10.0, 7.0), p(6.0, 4.0)],
            20.0,
        )
        .unwrap();
        // Transactions at 3, 6 and 10 (two purchases merged): two repeats worth 4 and 12.
        assert_eq!(
            s,
            CustomerSummary {
                x: 2.0,
                t_x: 7.0,
                t: 17.0,
                monetary: 8.0
            }
        );
        let one = CustomerSummary::from_purchases(&[p(4.0, 9.0)], 4.0).unwrap();
        assert_eq!((one.x, one.t_x, one.t, one.monetary), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn bad_purchases_and_summaries_are_named() {
        let e = CustomerSummary::from_purchases(&[p(1.0, 1.0), p(30.0, 1.0)], 20.0).unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidPurchase {
                index: 1,
                field: "time",
                ..
            }
        ));
        let e = CustomerSummary::from_purchases(&[p(1.0, f64::NAN)], 20.0).unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidPurchase {
                index: 0,
                field: "value",
                ..
            }
        ));
        let s = CustomerSummary {
            x: 2.0,
            t_x: 5.0,
            t: 4.0,
            monetary: 1.0,
        };
        assert!(matches!(
            s.validate(3),
            Err(Error::InvalidSummary {
                index: 3,
                field: "t_x",
                ..
            })
        ));
        let s = CustomerSummary {
            x: 1.5,
            t_x: 1.0,
            t: 4.0,
            monetary: 1.0,
        };
        assert!(matches!(
            s.validate(0),
            Err(Error::InvalidSummary { field: "x", .. })
        ));
        let s = CustomerSummary {
            x: 0.0,
            t_x: 1.0,
            t: 4.0,
            monetary: 0.0,
        };
        assert!(s.validate(0).is_err());
        let msg = CustomerSummary {
            x: 1.0,
            t_x: 1.0,
            t: f64::NAN,
            monetary: 0.0,
        }
        .validate(7)
        .unwrap_err()
        .to_string();
        assert!(msg.contains("summary 7") && msg.contains("\"t\""), "{msg}");
    }
}
