//! RFM scoring: recency, frequency and monetary quintile scores (1–5) and named segments.
//!
//! # Scores
//! Each measure is scored over the whole population by its rank: a customer's score is
//! `1 + floor(5 * (customers strictly worse) / n)`, so ties always share a score (whatever
//! the input order) and the top value scores 5 once `n >= 5`. For recency, lower is better
//! (a recent buyer scores 5); for frequency and monetary, higher is better.
//!
//! # Segments
//! The segment comes from the recency score `R` and the rounded-up mean of the frequency and
//! monetary scores, `FM = ceil((F + M) / 2)`, through this grid:
//!
//! | R \ FM | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | **5** | New | Potential loyalist | Potential loyalist | Champions | Champions |
//! | **4** | Promising | Potential loyalist | Loyal | Loyal | Champions |
//! | **3** | Needs attention | Needs attention | Needs attention | Loyal | Loyal |
//! | **2** | Hibernating | Hibernating | At risk | At risk | Can't lose |
//! | **1** | Lost | Lost | At risk | Can't lose | Can't lose |
//!
//! It follows the usual R×FM reading: recent and valuable are Champions; recent with little
//! history are New or Promising; valuable but long gone are At risk or Can't lose; neither
//! recent nor valuable are Hibernating or Lost.

use super::Error;
use serde::{Deserialize, Serialize};

/// One customer's raw RFM measures at a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfmInput {
    /// Time since the last purchase (any unit; lower is better).
    pub recency: f64,
    /// Number of purchases (or baskets).
    pub frequency: f64,
    /// Spend (total or mean per purchase, as long as it is the same for everyone).
    pub monetary: f64,
}

/// Named RFM segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Recent, frequent, high spend.
    Champions,
    /// Buys regularly with good spend.
    Loyal,
    /// Recent with some history: could become loyal.
    PotentialLoyalist,
    /// Very recent first-time or low-value buyer.
    New,
    /// Fairly recent, little history yet.
    Promising,
    /// Middling recency, frequency and spend.
    NeedsAttention,
    /// Valuable in the past, not seen for a while.
    AtRisk,
    /// Among the most valuable, but long gone.
    CantLose,
    /// Long gone, little value.
    Hibernating,
    /// Longest gone, least value.
    Lost,
}

impl Segment {
    /// Display name, e.g. "Can't lose".
    pub fn name(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::Loyal => "Loyal",
            Segment::PotentialLoyalist => "Potential loyalist",
            Segment::New => "New",
            Segment::Promising => "Promising",
            Segment::NeedsAttention => "Needs attention",
            Segment::AtRisk => "At risk",
            Segment::CantLose => "Can't lose",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }

    /// Segment for a recency score and a combined frequency/monetary score (both 1–5;
    /// values outside are clamped).
    pub fn from_scores(r: u8, fm: u8) -> Segment {
        use Segment::*;
        const GRID: [[Segment; 5]; 5] = [
            // R = 1
            [Lost, Lost, AtRisk, CantLose, CantLose],
            // R = 2
            [Hibernating, Hibernating, AtRisk, AtRisk, CantLose],
            // R = 3
            [NeedsAttention, NeedsAttention, NeedsAttention, Loyal, Loyal],
            // R = 4
            [Promising, PotentialLoyalist, Loyal, Loyal, Champions],
            // R = 5
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
        ];
        let r = r.clamp(1, 5) as usize - 1;
        let fm = fm.clamp(1, 5) as usize - 1;
        GRID[r][fm]
    }
}

/// RFM scores and segment of one customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RfmScore {
    /// Recency score, 5 = most recent.
    pub recency: u8,
    /// Frequency score, 5 = most frequent.
    pub frequency: u8,
    /// Monetary score, 5 = highest spend.
    pub monetary: u8,
    /// Segment from the R×FM grid.
    pub segment: Segment,
}

/// Scores every customer against the population given (same order as the input).
pub fn rfm_scores(inputs: &[RfmInput]) -> Result<Vec<RfmScore>, Error> {
    for (index, c) in inputs.iter().enumerate() {
        for (field, value) in [
            ("recency", c.recency),
            ("frequency", c.frequency),
            ("monetary", c.monetary),
        ] {
            if !value.is_finite() {
                return Err(Error::InvalidRfm {
                    index,
                    field,
                    value,
                });
            }
        }
    }
    // Recency is negated so that "higher is better" holds for all three.
    let r = quintiles(&inputs.iter().map(|c| -c.recency).collect::<Vec<_>>());
    let f = quintiles(&inputs.iter().map(|c| c.frequency).collect::<Vec<_>>());
    let m = quintiles(&inputs.iter().map(|c| c.monetary).collect::<Vec<_>>());
    Ok((0..inputs.len())
        .map(|i| {
            let fm = (f[i] + m[i]).div_ceil(2);
            RfmScore {
                recency: r[i],
                frequency: f[i],
                monetary: m[i],
                segment: Segment::from_scores(r[i], fm),
            }
        })
        .collect())
}

/// `1 + floor(5 * #{values strictly below} / n)` for each value: ties share a score.
fn quintiles(values: &[f64]) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut scores = vec![0u8; n];
    let mut below = 0;
    while below < n {
        let v = values[order[below]];
        let mut end = below;
        while end < n && values[order[end]] == v {
            end += 1;
        }
        let score = (1 + 5 * below / n) as u8;
        for &i in &order[below..end] {
            scores[i] = score;
        }
        below = end;
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(recency: f64, frequency: f64, monetary: f64) -> RfmInput {
        RfmInput {
            recency,
            frequency,
            monetary,
        }
    }

    #[test]
    fn quintiles_of_ten_distinct_values() {
        let v: Vec<f64> = (0..10).map(|i| (9 - i) as f64).collect();
        assert_eq!(quintiles(&v), vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn ties_share_a_score_whatever_the_order() {
        let v = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 9.0];
        let s = quintiles(&v);
        assert_eq!(s, vec![1, 1, 1, 1, 1, 1, 4, 4, 4, 5]);
        let mut rev = v;
        rev.reverse();
        let mut s_rev = quintiles(&rev);
        s_rev.reverse();
        assert_eq!(s, s_rev);
        assert_eq!(quintiles(&[]), Vec::<u8>::new());
        assert_eq!(quintiles(&[7.0]), vec![1]);
    }

    #[test]
    fn hand_made_population_gets_expected_scores_and_segments() {
        // Ten customers; recency in days (lower = better).
        let inputs = [
            c(1.0, 20.0, 900.0),   // 0: most recent, most frequent, top spend
            c(2.0, 1.0, 10.0),     // 1: very recent, one cheap purchase
            c(30.0, 15.0, 700.0),  // 2
            c(40.0, 2.0, 20.0),    // 3
            c(90.0, 5.0, 100.0),   // 4
            c(100.0, 6.0, 120.0),  // 5
            c(200.0, 12.0, 600.0), // 6: valuable, fading
            c(250.0, 3.0, 30.0),   // 7
            c(300.0, 18.0, 800.0), // 8: valuable, long gone
            c(400.0, 1.0, 5.0),    // 9: long gone, least value
        ];
        let got = rfm_scores(&inputs).unwrap();
        let want: [(u8, u8, u8, Segment); 10] = [
            (5, 5, 5, Segment::Champions),
            (5, 1, 1, Segment::New),
            (4, 4, 4, Segment::Loyal),
            (4, 2, 2, Segment::PotentialLoyalist),
            (3, 3, 3, Segment::NeedsAttention),
            (3, 3, 3, Segment::NeedsAttention),
            (2, 4, 4, Segment::AtRisk),
            (2, 2, 2, Segment::Hibernating),
            (1, 5, 5, Segment::CantLose),
            (1, 1, 1, Segment::Lost),
        ];
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(
                (g.recency, g.frequency, g.monetary, g.segment),
                w,
                "customer {i}"
            );
        }
    }

    #[test]
    fn grid_corners_and_rounding() {
        assert_eq!(Segment::from_scores(5, 5), Segment::Champions);
        assert_eq!(Segment::from_scores(4, 1), Segment::Promising);
        assert_eq!(Segment::from_scores(1, 5), Segment::CantLose);
        // FM rounds up: F = 4, M = 3 gives FM = 4, so R = 3 is Loyal.
        let fm = 7u8.div_ceil(2);
        assert_eq!(Segment::from_scores(3, fm), Segment::Loyal);
        assert_eq!(Segment::CantLose.name(), "Can't lose");
    }

    #[test]
    fn non_finite_input_is_named() {
        let e = rfm_scores(&[c(1.0, 1.0, 1.0), c(1.0, f64::NAN, 1.0)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidRfm {
                    index: 1,
                    field: "frequency",
                    ..
                }
            ),
            "{e}"
        );
    }
}
